"""Products scale on one machine: (a) full-batch GCN training, (c) SGC/SIGN precomputation.

The "products" synthetic preset has ogbn-products' sizes (2,449,029 nodes, 123,718,280 directed
edges, 100 features, 47 classes); it is generated once (~5 min, ~5.5 GB peak) and cached as
memory-mappable .npy files by `sparsegraph.datasets.synthetic.load_synthetic`.

(a) ``gcn``: the library's `GCN` (2 layers x 128 hidden, dropout 0.5, Adam), full batch:
    forward over all nodes, cross-entropy on the training nodes, backward, step. The first
    epoch also builds the normalised adjacency (self loops added: a re-sorted structure) and
    its transpose, both cached; it is reported apart from the steady-state epochs.
(c) ``propagate``: ``A_hat^k X`` for k = 1..K with ``A_hat = D^-1/2 (A + I) D^-1/2``, computed
    as ``D^-1/2 (A (D^-1/2 h) + D^-1/2 h)`` on the stored adjacency (no self-loop copy of the
    123.7 M-entry structure), chunked over feature columns so that memory stays at the
    adjacency plus a few ``N x chunk`` arrays. With ``--out`` every hop (SIGN's features
    ``[X, A_hat X, ..., A_hat^K X]``) is written to ``hop{k}.npy`` (column-major, one chunk of
    columns at a time, temp name then rename); SGC uses the last one.

Peak memory: run under ``/usr/bin/time -v`` ("Maximum resident set size"); the script prints
its own ru_maxrss too.

Run:  /usr/bin/time -v python benchmarks/bench_products.py gcn --epochs 3
      /usr/bin/time -v python benchmarks/bench_products.py propagate --hops 3 --chunk 25 \
          --out /tmp/products-sign
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sparsegraph as sg  # noqa: E402
from sparsegraph.datasets import synthetic  # noqa: E402


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def load(preset: str, root):
    t0 = time.perf_counter()
    arrays = synthetic.load_synthetic(preset, root)  # memory-mapped; generated once if missing
    return arrays, time.perf_counter() - t0


def run_gcn(args) -> dict:
    from sparsegraph.gnn.models import GCN
    from sparsegraph.gnn.train import node_classification_step

    arrays, load_s = load(args.preset, args.root)
    g = synthetic.to_graph(arrays)
    y = np.asarray(g.y.array)
    train = np.flatnonzero(np.asarray(g.train_mask.array))
    sg.manual_seed(args.seed)
    net = GCN(g.num_features, args.hidden, 2, int(y.max()) + 1, dropout=0.5)
    opt = sg.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)
    step = node_classification_step(net, g, opt, train)
    epochs = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        loss = step()
        epochs.append(time.perf_counter() - t0)
        print(f"epoch {epoch}: {epochs[-1]:.1f} s, loss {loss.item():.4f}, peak RSS so far "
              f"{peak_rss_gib():.2f} GiB", flush=True)
    return {"task": "gcn", "preset": args.preset, "nodes": g.num_nodes, "edges": g.num_edges,
            "hidden": args.hidden, "load_s": load_s, "epoch_s": epochs,
            "first_epoch_s": epochs[0],
            "steady_epoch_s_median": float(np.median(epochs[1:])) if len(epochs) > 1 else None,
            "peak_rss_gib": peak_rss_gib()}


def _out_file(folder: str, k: int, n: int, f: int):
    """A column-major hop{k}.npy under a temp name: (temp path, data offset)."""
    tmp = os.path.join(folder, f".hop{k}.npy.part")
    m = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, f),
                                  fortran_order=True)
    offset = m.offset
    del m
    return tmp, offset


def _write_columns(path: str, offset: int, n: int, lo: int, h: np.ndarray) -> None:
    """Columns lo.. of a column-major file, through a short-lived map (its pages leave RSS)."""
    m = np.memmap(path, dtype=np.float32, mode="r+", offset=offset + lo * n * 4,
                  shape=(h.shape[1], n))
    m[:] = h.T
    m.flush()
    del m


def run_propagate(args) -> dict:
    from sparsegraph.tensor import wrap

    arrays, load_s = load(args.preset, args.root)
    indptr = np.asarray(arrays["indptr"])
    n, f = indptr.shape[0] - 1, arrays["x"].shape[1]
    t0 = time.perf_counter()
    adj = synthetic.to_graph(arrays).adj  # unit weights, memory-mapped indices
    deg = np.diff(indptr).astype(np.float32) + 1.0  # + 1: the self loop of A + I
    dinv = (1.0 / np.sqrt(deg)).astype(np.float32)[:, None]
    setup_s = time.perf_counter() - t0
    outs = {}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        outs = {k: _out_file(args.out, k, n, f) for k in range(args.hops + 1)}
    checks = np.zeros(args.hops + 1)
    spmm_s, t_all = 0.0, time.perf_counter()
    with sg.no_grad():
        for lo in range(0, f, args.chunk):
            hi = min(lo + args.chunk, f)
            h = np.ascontiguousarray(arrays["x"][:, lo:hi], dtype=np.float32)
            for k in range(args.hops + 1):
                if k:
                    s = dinv * h  # D^-1/2 h
                    t1 = time.perf_counter()
                    ah = sg.ops.spmm(adj, wrap(s)).array
                    spmm_s += time.perf_counter() - t1
                    ah += s  # (A + I) D^-1/2 h
                    ah *= dinv
                    del s
                    h = ah
                checks[k] += float(np.square(h, dtype=np.float64).sum())
                if outs:
                    _write_columns(outs[k][0], outs[k][1], n, lo, h)
            print(f"columns {lo}-{hi}: {time.perf_counter() - t_all:.1f} s so far, peak RSS "
                  f"{peak_rss_gib():.2f} GiB", flush=True)
    for k, (tmp, _) in outs.items():
        os.replace(tmp, os.path.join(args.out, f"hop{k}.npy"))
    total = time.perf_counter() - t_all
    return {"task": "propagate", "preset": args.preset, "nodes": n, "edges": int(indptr[-1]),
            "features": f, "hops": args.hops, "chunk": args.chunk, "out": args.out,
            "load_s": load_s, "setup_s": setup_s, "propagate_s": total, "spmm_s": spmm_s,
            "frobenius_norm_per_hop": np.sqrt(checks).tolist(), "peak_rss_gib": peak_rss_gib()}


def main(argv=None) -> int:
    from sparsegraph.cli.common import FILE_PATH, FOLDER_PATH, file_problem, folder_problem

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("task", choices=["gcn", "propagate"])
    p.add_argument("--preset", default="products", choices=sorted(synthetic.PRESETS))
    p.add_argument("--root", type=FOLDER_PATH, default=None,
                   help="cache root (default: the user cache)")
    p.add_argument("--epochs", type=int, default=3, help="gcn: epochs (default: 3)")
    p.add_argument("--hidden", type=int, default=128, help="gcn: hidden size (default: 128)")
    p.add_argument("--hops", type=int, default=3, help="propagate: K (default: 3)")
    p.add_argument("--chunk", type=int, default=25, help="propagate: feature columns per "
                                                        "chunk (default: 25)")
    p.add_argument("--out", type=FOLDER_PATH, default=None,
                   help="propagate: folder for hop{k}.npy")
    p.add_argument("--json", type=FILE_PATH, default=None, help="also write the result here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.chunk < 1 or args.hops < 1 or args.epochs < 1:
        p.error("--chunk, --hops and --epochs must be >= 1")
    problem = ((folder_problem("--out", args.out, writable=True) if args.out else None)
               or file_problem("--json", args.json))
    if problem:  # said now, not after minutes of work
        p.error(problem)
    result = run_gcn(args) if args.task == "gcn" else run_propagate(args)
    result["command"] = " ".join(["python", "benchmarks/bench_products.py", *sys.argv[1:]])
    print(json.dumps(result, indent=2))
    if args.json:
        from sparsegraph.datasets.download import write_atomic

        write_atomic(__import__("pathlib").Path(args.json), json.dumps(result, indent=2).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
