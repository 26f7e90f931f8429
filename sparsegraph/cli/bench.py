"""`sparsegraph bench`: the benchmark suite, each writing results.json and a Markdown table.

- ``sparse-vs-dense``: ``A @ X`` and a GCN layer, sparse kernels against dense matmul, over a
  sweep of sizes and densities; crossover, cost-model fit, plots (`bench_sparse_dense`).
- ``spmm``: the registered CSR spmm kernels, forward and backward, against the bytes an spmm
  must move and this machine's copy bandwidth.
- ``models``: GCN / GAT / GraphSAGE full-batch epoch time and peak RSS per dataset, each
  (model, dataset) in a fresh process so the peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from functools import partial

import numpy as np

import sparsegraph as sg

MODELS = ("gcn", "gat", "sage", "gcn3x256")
DATASETS = ("cora", "citeseer", "synthetic:pubmed", "synthetic:arxiv")


# ---- shared helpers -------------------------------------------------------------------------
def check_device(device: str) -> str | None:
    """None for the CPU; else the message to print. The benchmarks time CPU kernels only for
    now (no device synchronisation, no GPU memory accounting): cuda says so, and without a
    usable GPU says why first."""
    try:
        dev = sg.backend.normalize_device(device)
    except ValueError as exc:
        return str(exc)
    if dev == "cpu":
        return None
    status = sg.backend.cuda_status()
    if not status.startswith("usable"):
        return f"--device {device} needs a usable GPU: {status}"
    return (f"--device {device}: the benchmarks time CPU kernels only so far (GPU timing needs "
            "device synchronisation and GPU memory accounting); use --device cpu")


def machine() -> dict:
    import numba
    import scipy

    return {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "numba": numba.__version__,
            "numba_threads": numba.get_num_threads()}


def command_line() -> str:
    return " ".join(["sparsegraph", *sys.argv[1:]]) if sys.argv else "sparsegraph bench"


def write_outputs(out: str, result: dict, markdown: str) -> tuple[str, str]:
    """results.json and results.md in ``out``, each written to a temp name and renamed."""
    import pathlib

    from sparsegraph.datasets.download import write_atomic

    folder = pathlib.Path(out)
    write_atomic(folder / "results.json", json.dumps(result, indent=2).encode())
    write_atomic(folder / "results.md", markdown.encode())
    return str(folder / "results.json"), str(folder / "results.md")


def progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, file=sys.stderr, leave=False)


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, else KiB


def too_small(args, **minimum) -> str | None:
    """The message for the first option below its minimum (lists: any element), else None."""
    for name, low in minimum.items():
        value = getattr(args, name)
        if any(v < low for v in (value if isinstance(value, list) else [value])):
            return f"expected --{name.replace('_', '-')} >= {low} (got {value})"
    return None


def md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# ---- spmm kernels ---------------------------------------------------------------------------
def best_ms(fn, repeat: int) -> float:
    """Best of ``repeat`` timed calls, in ms, after one warm-up (numba compiles or loads)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def copy_bandwidth(gigabytes: float, repeat: int = 5) -> float:
    """Bytes read + written per second by np.copyto on two arrays of ``gigabytes`` each."""
    src = np.ones(max(int(gigabytes * 2**30) // 4, 1024), dtype=np.float32)
    dst = np.empty_like(src)
    ms = best_ms(lambda: np.copyto(dst, src), repeat)
    return 2 * src.nbytes / (ms / 1e3)


def random_csr(n: int, nnz: int, index_dtype, value_dtype, seed: int):
    """A uniform random (n, n) CSR structure: rows and columns drawn independently."""
    rng = np.random.default_rng(seed)
    indptr = np.zeros(n + 1, dtype=index_dtype)
    np.cumsum(np.bincount(rng.integers(0, n, nnz), minlength=n), out=indptr[1:])
    indices = rng.integers(0, n, nnz).astype(index_dtype)
    values = rng.random(nnz, dtype=np.float64).astype(value_dtype)
    return indptr, indices, values


def grad_x(spmm, transposed, values, g):
    """``A.T @ g`` from the cached transposed structure; the values are gathered per call."""
    t_indptr, t_indices, perm = transposed
    return spmm(t_indptr, t_indices, values[perm], g, t_indptr.shape[0] - 1)


def cmd_spmm(args: argparse.Namespace) -> int:
    """Forward (A @ X) and backward (A.T @ G + SDDMM) of every CSR spmm kernel."""
    error = check_device(args.device) or too_small(args, nodes=1, edges=0, features=1,
                                                   repeat=1, copy_gb=0)
    if error:
        print(f"sparsegraph bench spmm: {error}", file=sys.stderr)
        return 2
    import sparsegraph.ops.sparse_kernels  # noqa: F401  (registers the kernels)

    vdt, idt = np.dtype(args.dtype), np.dtype(args.index_dtype)
    n, nnz = args.nodes, args.edges
    indptr, indices, values = random_csr(n, nnz, idt, vdt, args.seed)
    spmm = {k.name: k.fn for k in sg.kernels.kernels("spmm", "cpu", "csr")}
    sddmm = {k.name: k.fn for k in sg.kernels.kernels("sddmm", "cpu", "csr")}
    transpose = {k.name: k.fn for k in sg.kernels.kernels("csr_transpose", "cpu", "csr")}
    fused = {k.name: k.fn for k in sg.kernels.kernels("spmm_backward", "cpu", "csr")}
    names = args.kernels or list(spmm)
    unknown = [k for k in names if k not in spmm]
    if unknown:
        print(f"sparsegraph bench spmm: unknown kernel(s) {unknown} (registered: {list(spmm)})",
              file=sys.stderr)
        return 2
    copy_bw = copy_bandwidth(args.copy_gb)
    t_ms = {name: best_ms(partial(fn, indptr, indices, n), args.repeat)
            for name, fn in transpose.items()}
    t_indptr, t_indices, perm = next(iter(transpose.values()))(indptr, indices, n)
    rows = []
    rng = np.random.default_rng(args.seed + 1)
    bar = progress(len(args.features) * len(names), "spmm", args.quiet)
    for f in args.features:
        x = rng.standard_normal((n, f)).astype(vdt)
        g = rng.standard_normal((n, f)).astype(vdt)
        # bytes an spmm must move: index + value per entry, one gathered row per entry, output
        floor = nnz * (idt.itemsize + vdt.itemsize) + (nnz + n) * f * vdt.itemsize
        for name in names:
            sd_name = name if name in sddmm else next(iter(sddmm))  # the best one otherwise
            fwd = best_ms(partial(spmm[name], indptr, indices, values, x, n), args.repeat)
            gx = best_ms(partial(grad_x, spmm[name], (t_indptr, t_indices, perm), values, g),
                         args.repeat)
            gv = best_ms(partial(sddmm[sd_name], indptr, indices, g, x), args.repeat)
            row = {"features": f, "kernel": name, "sddmm_kernel": sd_name, "forward_ms": fwd,
                   "grad_x_ms": gx, "grad_values_ms": gv, "backward_ms": gx + gv,
                   "bwd_over_fwd": (gx + gv) / fwd, "floor_bytes": floor,
                   "forward_gb_s": floor / fwd / 1e6,
                   "forward_copy_fraction": floor / (fwd / 1e3) / copy_bw,
                   "backward_fused_ms": None}
            if name in fused:  # both gradients in one pass over A^T: what SpMM's backward runs
                with sg.kernels.use(name):  # a composite kernel dispatches the same family
                    row["backward_fused_ms"] = best_ms(partial(
                        fused[name], t_indptr, t_indices, perm, values[perm], g, x, True, True),
                        args.repeat)
            rows.append(row)
            bar.update(1)
    bar.close()
    result = {"benchmark": "spmm", "command": command_line(), "machine": machine(),
              "config": {"nodes": n, "edges": nnz, "dtype": vdt.name, "index_dtype": idt.name,
                         "repeat": args.repeat, "seed": args.seed},
              "copy_bandwidth_gb_s": copy_bw / 1e9, "csr_transpose_ms": t_ms, "rows": rows}
    md = (f"`{result['command']}`\n\nN = {n}, nnz = {nnz}, {vdt.name} values, {idt.name} "
          f"indices; copy bandwidth {copy_bw / 1e9:.1f} GB/s (read + write); best of "
          f"{args.repeat}. csr_transpose (built once per structure): "
          + ", ".join(f"{k} {v:.1f} ms" for k, v in t_ms.items()) + "\n\n"
          + md_table(["F", "kernel", "forward ms", "% of copy bw", "grad_x ms",
                      "grad_values ms", "bwd / fwd", "fused bwd ms", "fused / fwd"],
                     [[r["features"], r["kernel"], f"{r['forward_ms']:.1f}",
                       f"{100 * r['forward_copy_fraction']:.0f} %", f"{r['grad_x_ms']:.1f}",
                       f"{r['grad_values_ms']:.1f}"
                       + ("" if r["sddmm_kernel"] == r["kernel"] else f" ({r['sddmm_kernel']})"),
                       f"{r['bwd_over_fwd']:.2f}",
                       "-" if r["backward_fused_ms"] is None else f"{r['backward_fused_ms']:.1f}",
                       "-" if r["backward_fused_ms"] is None
                       else f"{r['backward_fused_ms'] / r['forward_ms']:.2f}"] for r in rows]))
    paths = write_outputs(args.out, result, md)
    print(md, end="")
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


# ---- models ---------------------------------------------------------------------------------
def build_model(model: str, g, num_classes: int):
    """The benchmarked configurations (the papers' sizes; gcn3x256 is the arxiv-scale one)."""
    from sparsegraph.gnn import models

    if model == "gcn":
        return models.GCN(g.num_features, 16, num_classes)
    if model == "gcn3x256":
        return models.GCN(g.num_features, 256, num_classes, num_layers=3)
    if model == "gat":
        return models.GAT(g.num_features, 8, num_classes, heads=8)
    if model == "sage":
        return models.GraphSAGE(g.num_features, 64, num_classes)
    raise ValueError(f"bench models: unknown model {model!r} (expected one of {MODELS})")


def epoch_times(model: str, dataset: str, root, epochs: int) -> dict:
    """Full-batch epochs (forward + backward + Adam, the models' dropout) on one dataset."""
    from sparsegraph.datasets import load_for_training

    task, g, _ = load_for_training(dataset, root=root, download=False)
    if task != "node":
        raise ValueError(f"bench models: {dataset} is not a node-classification dataset")
    from sparsegraph.gnn.train import node_classification_step

    sg.manual_seed(0)
    net = build_model(model, g, int(np.asarray(g.y.array).max()) + 1)
    opt = sg.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)
    step = node_classification_step(net, g, opt)  # the first split's training nodes
    times = []
    for _ in range(epochs + 2):  # two warm-up epochs: numba compiles, structure caches fill
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"model": model, "dataset": dataset, "nodes": g.num_nodes, "edges": g.num_edges,
            "epoch_ms_median": 1e3 * float(np.median(times[2:])),
            "epoch_ms_min": 1e3 * float(np.min(times[2:])), "peak_rss_mb": peak_rss_mb()}


def _one_in_child(model: str, dataset: str, args) -> dict:
    cmd = [sys.executable, "-m", "sparsegraph", "bench", "models", "--single", model, dataset,
           "--epochs", str(args.epochs)]
    if args.root:
        cmd += ["--root", args.root]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"model": model, "dataset": dataset, "error": last}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cmd_models(args: argparse.Namespace) -> int:
    error = check_device(args.device) or too_small(args, epochs=1)
    if error:
        print(f"sparsegraph bench models: {error}", file=sys.stderr)
        return 2
    if args.single:
        print(json.dumps(epoch_times(*args.single, args.root, args.epochs)))
        return 0
    rows = []
    bar = progress(len(args.models) * len(args.datasets), "models", args.quiet)
    for model in args.models:
        for dataset in args.datasets:
            bar.set_postfix_str(f"{model} on {dataset}")
            rows.append(_one_in_child(model, dataset, args))
            bar.update(1)
    bar.close()
    result = {"benchmark": "models", "command": command_line(), "machine": machine(),
              "config": {"epochs": args.epochs, "device": args.device}, "rows": rows}
    md = (f"`{result['command']}`\n\nFull-batch epoch: forward + backward + Adam, the models' "
          f"dropout; median of {args.epochs} epochs after 2 warm-up ones (min in brackets); "
          "peak RSS of a fresh process per row (interpreter and libraries included).\n\n"
          + md_table(["model", "dataset", "nodes", "edges", "epoch", "peak RSS"],
                     [[r["model"], r["dataset"], r.get("nodes", ""), r.get("edges", ""),
                       f"{r['epoch_ms_median']:.1f} ms ({r['epoch_ms_min']:.1f})"
                       if "error" not in r else f"failed: {r['error']}",
                       f"{r['peak_rss_mb']:.0f} MB" if "error" not in r else ""]
                      for r in rows]))
    paths = write_outputs(args.out, result, md)
    print(md, end="")
    print(f"wrote {paths[0]} and {paths[1]}")
    return 1 if any("error" in r for r in rows) else 0


# ---- the parser -----------------------------------------------------------------------------
def add_bench_parser(sub) -> None:
    from sparsegraph.cli.bench_sparse_dense import add_sparse_dense_parser

    bench = sub.add_parser("bench", help="benchmarks: sparse-vs-dense, spmm, models")
    kinds = bench.add_subparsers(dest="benchmark", required=True)
    add_sparse_dense_parser(kinds)

    p = kinds.add_parser("spmm", help="CSR spmm kernels, forward and backward")
    p.add_argument("--nodes", type=int, default=169_343, help="N (default: ogbn-arxiv's)")
    p.add_argument("--edges", type=int, default=2_315_598, help="nnz (default: ogbn-arxiv's)")
    p.add_argument("--features", type=int, nargs="+", default=[16, 64, 128, 256])
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--index-dtype", default="int32", choices=["int32", "int64"])
    p.add_argument("--kernels", nargs="*", help="spmm kernel names (default: all registered)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs; the best is reported")
    p.add_argument("--copy-gb", type=float, default=1.0, help="array size of the copy test")
    _common(p, "bench-spmm")
    p.set_defaults(func=cmd_spmm)

    p = kinds.add_parser("models", help="GNN epoch time and peak RSS per dataset")
    p.add_argument("--models", nargs="+", default=["gcn", "gat", "sage"], choices=MODELS)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS),
                   help="dataset names as for `sparsegraph train` (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=20, help="timed epochs (default: 20)")
    p.add_argument("--root", default=None, help="data root (default: $SPARSEGRAPH_DATA)")
    p.add_argument("--single", nargs=2, metavar=("MODEL", "DATASET"), help=argparse.SUPPRESS)
    _common(p, "bench-models")
    p.set_defaults(func=cmd_models)


def _common(p, out: str) -> None:
    p.add_argument("--out", default=out, help="output folder (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu (cuda: not supported yet; says why)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
