"""`sparsegraph bench sparse-vs-dense`: the same ``A @ X`` / GCN layer run with sparse kernels
and with dense matmul, forward + backward, over a sweep of graph sizes and densities.

Both paths are the user-facing ones: ``A @ X`` under ``spmm_mode("sparse")`` (CSR spmm; its
backward runs spmm on the transposed structure, built once per graph) and under
``spmm_mode("dense")`` (``to_dense(A)`` then GEMM). The GCN layer is ``relu(A @ (X W) + b)``
with ``W`` ``(F, F)``. Timings are the best of at least ``--repeat`` runs (more for fast
steps, up to 40) after one warm-up, sparse and dense alternating so both see the same load.
Memory is the peak of numpy allocations during one forward + backward measured after a warm-up
call (tracemalloc), so the one-time caches a first call builds (the transposed values' gather,
the row indices `to_dense` scatters with) are never in it and every point is measured alike;
the sparse side adds, once, the transposed structure and values it caches. With
``--device cuda`` the operands live on the GPU, every timed step ends with a device
synchronisation, and memory is the growth of cupy's memory pool during the step (emptied of
cached blocks first); the fitted table is then a "cuda" one. Outputs: results.json (points,
crossovers, the fitted cost table that `sparsegraph.ops.load_cost_table` reads), results.md,
time_vs_density.png and memory_vs_density.png.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import tracemalloc

import numpy as np

import sparsegraph as sg
from sparsegraph.cli import bench_plots
from sparsegraph.cli.bench import (
    check_device,
    command_line,
    gpu_pool_bytes,
    machine,
    md_table,
    on_device,
    synchronize,
    too_small,
    write_outputs,
)
from sparsegraph.cli.common import FOLDER_PATH, SEED, folder_problem, progress

NODES = [50, 200, 1000, 3000, 6000, 50000]
DENSITIES = [1e-5, 1e-4, 1e-3, 1e-2, 0.03, 0.1, 0.2, 0.3, 0.5]
FEATURES = [16, 64]
OPS = ("spmm", "gcn")
PLOTS = ("time_vs_density.png", "memory_vs_density.png")


def _distinct(keys):
    """Sorted distinct keys (sort-based: numpy's hash-based unique is ~10x slower here)."""
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if keys.size else keys


def random_adjacency(n: int, density: float, dtype, rng) -> sg.SparseTensor:
    """A uniform random ``(n, n)`` CSR matrix with about ``density * n^2`` entries (at least
    one), values in [0, 1). Dense-ish draws go row block by row block: memory O(nnz)."""
    target = max(1, round(density * n * n))
    if density <= 0.05:  # distinct random keys; top-up rounds replace collisions
        keys = _distinct(rng.integers(0, n * n, target, dtype=np.int64))
        while keys.size < target:
            more = rng.integers(0, n * n, target - keys.size, dtype=np.int64)
            keys = _distinct(np.concatenate([keys, more]))
        rows, cols = np.divmod(keys, n)
    else:
        block = max(1, (1 << 23) // n)
        parts = [np.nonzero(rng.random((min(block, n - lo), n), dtype=np.float32) < density)
                 for lo in range(0, n, block)]
        rows = np.concatenate([r + lo for (r, _), lo in zip(parts, range(0, n, block),
                                                           strict=True)])
        cols = np.concatenate([c for _, c in parts])
    index = np.int32 if rows.size < 2**31 else np.int64
    indptr = np.zeros(n + 1, index)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    values = rng.random(rows.size, dtype=np.float32).astype(dtype)
    return sg.sparse_csr(indptr, cols.astype(np.int32), values, (n, n))


def _step(op: str, a, x, w, b, g):
    """One forward + backward of ``op`` (the spmm mode is set by the caller)."""
    out = a @ x if op == "spmm" else sg.ops.relu(a @ (x @ w) + b)
    out.backward(g)
    x.grad = None
    if w is not None:
        w.grad = b.grad = None


def _traced(fn, device: str = "cpu") -> tuple[float, int]:
    """(seconds, peak allocated bytes) of one call: on the CPU under tracemalloc (numpy
    reports to it); on a GPU, how much cupy's memory pool grew (its cached free blocks are
    released first, so the growth is the step's peak beyond what was live)."""
    if device != "cpu":
        synchronize(device)
        sg.backend.cupy_module().get_default_memory_pool().free_all_blocks()
        base = gpu_pool_bytes(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        return time.perf_counter() - t0, gpu_pool_bytes(device) - base
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(op: str, a, f: int, repeat: int, rng, dense: bool = True,
            device: str = "cpu") -> dict:
    """One forward + backward of ``op`` with ``X`` ``(N, f)``, sparse and (if ``dense``) dense.

    Each side runs once untraced (it builds the per-matrix caches: a first call on a matrix
    would otherwise count them, a repeat would not), then once traced for its memory; then the
    sides alternate, so that both see the same machine load (this VM is shared: a preempted
    thread costs a 4-20 ms tick). Every point runs at least ``repeat`` times; fast steps run
    more often (up to 40 times or ~0.3 s). Returns
    best and median seconds and peak allocated bytes per side. Everything runs on ``device``
    (``a`` is moved there if it is not), each step timed to the end of its work there.
    """
    dev = sg.backend.normalize_device(device)
    a = a if a.device == dev else a.to(dev)
    n, dtype = a.shape[0], a.dtype
    x = sg.tensor(rng.standard_normal((n, f)).astype(dtype), requires_grad=True, device=dev)
    g = sg.tensor(rng.standard_normal((n, f)).astype(dtype), device=dev)
    w = b = None
    if op == "gcn":
        w = sg.tensor((rng.standard_normal((f, f)) / math.sqrt(f)).astype(dtype),
                      requires_grad=True, device=dev)
        b = sg.tensor(np.zeros(f, dtype), requires_grad=True, device=dev)

    def step(mode):
        with sg.ops.spmm_mode(mode):
            _step(op, a, x, w, b, g)

    a.structure.transpose()  # built once per graph, outside the step (counted separately)
    sides = ["sparse", "dense"] if dense else ["sparse"]
    for m in sides:  # warm-up: caches built here, outside the measured call
        step(m)
    first = {m: _traced(lambda m=m: step(m), dev) for m in sides}
    each = sum(t for t, _ in first.values())
    runs = max(repeat, min(40, int(0.3 / max(each, 1e-6))))
    times = {m: [] for m in sides}
    for _ in range(runs):
        for m in sides:
            t0 = time.perf_counter()
            step(m)
            synchronize(dev)
            times[m].append(time.perf_counter() - t0)
    return {m: {"best_s": min(times[m]), "median_s": float(np.median(times[m])),
                "peak_alloc_bytes": int(first[m][1]), "runs": runs} for m in sides}


def crossover(points: list[dict]) -> float | None:
    """The density above which dense stays faster, interpolated in log-log between the last
    sparse-faster and the first dense-faster density; None if dense is never faster, 0.0 if it
    is faster at every measured density."""
    both = sorted((p["density"], p["dense_s"] / p["sparse_s"]) for p in points
                  if p.get("dense_s") and p.get("sparse_s") and p["density"] > 0)
    if not both or both[-1][1] >= 1:
        return None
    i = len(both) - 1
    while i > 0 and both[i - 1][1] < 1:
        i -= 1
    if i == 0:
        return 0.0
    (d0, r0), (d1, r1) = both[i - 1], both[i]
    t = math.log(r0) / (math.log(r0) - math.log(r1))  # where log(ratio) crosses 0
    return float(math.exp(math.log(d0) + t * (math.log(d1) - math.log(d0))))


def size_text(nbytes: int) -> str:
    """Bytes in the largest unit that keeps a non-zero integer part (never "0.00 GiB")."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{nbytes} bytes"


def sweep(args) -> tuple[list[dict], list[str]]:
    """Every (op, N, density, F) point on ``args.device``; and what was skipped, and why."""
    total = len(args.nodes) * len(args.density_sweep) * len(args.features) * len(args.ops)
    # a `with`: the bar is cleared when Ctrl-C ends the sweep, before "interrupted"
    with progress(total, f"sparse-vs-dense on {sg.backend.normalize_device(args.device)}",
                  args.quiet) as bar:
        return _sweep(args, bar)


def _sweep(args, bar) -> tuple[list[dict], list[str]]:
    dev = sg.backend.normalize_device(args.device)
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    points, skipped = [], []
    budget = int(args.dense_budget_mb * 2**20)
    for op in args.ops:  # one-time costs (numba compilation, first-call caches) go here
        measure(op, random_adjacency(20, 0.3, dtype, rng), 2, 1, rng, device=dev)
    for n in args.nodes:
        dense_bytes = n * n * dtype.itemsize
        if dense_bytes > budget:
            skipped.append(f"N={n}: dense skipped at every density: the {n} x {n} {dtype.name} "
                           f"matrix needs {size_text(dense_bytes)} > budget "
                           f"{size_text(budget)} (--dense-budget-mb)")
        for d in args.density_sweep:
            nnz = max(1, round(d * n * n))
            if nnz > args.max_nnz:
                skipped.append(f"N={n}, density {d:g}: skipped: {nnz} entries > --max-nnz "
                               f"{args.max_nnz}")
                bar.update(len(args.features) * len(args.ops))
                continue
            bar.set_postfix_str(f"N={n} density={d:g}")
            a = random_adjacency(n, d, dtype, rng).to(dev)
            if a.nnz == 0:  # e.g. N=1: the draw can come out empty (no density to plot)
                skipped.append(f"N={n}, density {d:g}: skipped: the random matrix drawn has "
                               "no entries")
                bar.update(len(args.features) * len(args.ops))
                continue
            for op in args.ops:
                for f in args.features:
                    res = measure(op, a, f, args.repeat, rng, dense=dense_bytes <= budget,
                                  device=dev)
                    s = res["sparse"]
                    p = {"op": op, "n_rows": n, "n_cols": n, "nnz": a.nnz,
                         "density": a.nnz / n**2, "features": f, "sparse_s": s["best_s"],
                         "sparse_median_s": s["median_s"],
                         "sparse_peak_alloc_bytes": s["peak_alloc_bytes"],
                         "sparse_memory_bytes": s["peak_alloc_bytes"] + _transposed_bytes(a),
                         "dense_s": None, "dense_median_s": None, "dense_peak_alloc_bytes": None,
                         "dense_memory_bytes": None, "dense_matrix_bytes": dense_bytes,
                         "runs": s["runs"]}
                    if "dense" in res:
                        dn = res["dense"]
                        p.update(dense_s=dn["best_s"], dense_median_s=dn["median_s"],
                                 dense_peak_alloc_bytes=dn["peak_alloc_bytes"],
                                 dense_memory_bytes=dn["peak_alloc_bytes"])
                    points.append(p)
                    bar.update(1)
            del a
    return points, skipped


def _transposed_bytes(a) -> int:
    """What the sparse path keeps beyond its input: the transposed structure, permutation and
    gathered values that backward uses (built once per graph, in `measure`'s warm-up, so the
    measured peak holds none of it)."""
    t, perm = a.structure.transpose()
    return int(t.indptr.nbytes + t.indices.nbytes + perm.nbytes + a.values.array.nbytes)


def crossovers(points: list[dict], table: dict | None) -> list[dict]:
    """Measured crossover per (op, N, F), beside the one the fitted cost model predicts."""
    from sparsegraph.ops.cost_model import crossover_density

    out = []
    for op, n, f in dict.fromkeys((p["op"], p["n_rows"], p["features"]) for p in points):
        mine = [p for p in points if (p["op"], p["n_rows"], p["features"]) == (op, n, f)]
        c = crossover(mine)
        note = ("dense not measured (does not fit the budget)"
                if not any(p["dense_s"] for p in mine) else
                "sparse faster at every measured density" if c is None else
                "dense faster at every measured density" if c == 0.0 else "")
        model = crossover_density(n, n, f, table=table) if table else None
        out.append({"op": op, "nodes": n, "features": f, "crossover_density": c,
                    "model_crossover_density": None if model is None or model > 1 else model,
                    "note": note})
    return out


def remove_plots(folder) -> list[str]:
    """Delete the plots a run writes from ``folder``; returns the paths that were there."""
    import pathlib

    removed = []
    for name in PLOTS:
        path = pathlib.Path(folder) / name
        if path.is_file():
            path.unlink()
            removed.append(str(path))
    return removed


def _fmt(v, unit=""):
    return "-" if v is None else f"{v:.3g}{unit}"


def _fmt_cross(c: dict, points: list[dict]) -> str:
    ds = [p["density"] for p in points if (p["op"], p["n_rows"], p["features"])
          == (c["op"], c["nodes"], c["features"]) and p["dense_s"]]
    if not ds:
        return "-"
    if c["crossover_density"] is None:
        return f"> {max(ds):.3g}"
    return f"< {min(ds):.3g}" if c["crossover_density"] == 0.0 else f"{c['crossover_density']:.3g}"


def markdown(result: dict) -> str:
    dev = result["config"].get("device", "cpu")
    rows = [[c["op"], c["nodes"], c["features"], _fmt_cross(c, result["points"]),
             _fmt(c["model_crossover_density"]), c["note"]] for c in result["crossovers"]]
    gpu = result["machine"].get("gpu")
    text = (f"`{result['command']}`\n\nDevice {dev}{f' ({gpu})' if gpu else ''}. Crossover "
            "density (dense faster above it), measured and as predicted by the fitted cost "
            "model:\n\n"
            + md_table(["op", "N", "F", "measured", "model", "note"], rows))
    pts = [[p["op"], p["n_rows"], p["features"], f"{p['density']:.3g}", p["nnz"],
            _fmt(p["sparse_s"] and p["sparse_s"] * 1e3, " ms"),
            _fmt(p["dense_s"] and p["dense_s"] * 1e3, " ms"),
            _fmt(p["sparse_memory_bytes"] / 2**20, " MB"),
            _fmt(p["dense_memory_bytes"] and p["dense_memory_bytes"] / 2**20, " MB")]
           for p in result["points"]]
    peak = ("growth of cupy's memory pool during the step" if dev != "cpu"
            else "peak numpy allocation during the step")
    text += ("\nForward + backward time (best of the repeats) and memory beyond the inputs "
             f"({peak}; sparse adds its cached transposed structure):\n\n"
             + md_table(["op", "N", "F", "density", "nnz", "sparse", "dense", "sparse memory",
                         "dense memory"], pts))
    if result["skipped"]:
        text += "\n" + "".join(f"- {s}\n" for s in result["skipped"])
    return text


def cmd_sparse_dense(args: argparse.Namespace) -> int:
    from sparsegraph.ops.cost_model import fit_cost_table, memory_budget

    if args.dense_budget_mb is None:
        try:
            args.dense_budget_mb = memory_budget() / 2**20
        except ValueError as exc:
            print(f"sparsegraph bench sparse-vs-dense: {exc}", file=sys.stderr)
            return 2
    error = check_device(args.device) or too_small(args, nodes=1, features=1, repeat=1,
                                                   max_nnz=1, dense_budget_mb=0)
    if not error and not math.isfinite(args.dense_budget_mb):  # int(inf MB) would overflow
        error = f"expected a finite --dense-budget-mb (got {args.dense_budget_mb})"
    if error:
        print(f"sparsegraph bench sparse-vs-dense: {error}", file=sys.stderr)
        return 2
    if any(not 0 < d <= 1 for d in args.density_sweep):
        error = f"expected --density-sweep values in (0, 1] (got {args.density_sweep})"
    elif all(max(1, round(d * n * n)) > args.max_nnz for n in args.nodes
             for d in args.density_sweep):
        error = (f"every point has more than --max-nnz {args.max_nnz} entries (nodes "
                 f"{args.nodes}, densities {args.density_sweep}): nothing would be measured")
    else:
        error = folder_problem("--out", args.out, writable=True)
    if error:
        print(f"sparsegraph bench sparse-vs-dense: {error}", file=sys.stderr)
        return 2
    if not args.no_plots:  # said now, not after a sweep of minutes
        try:
            bench_plots.pyplot()
        except ImportError:
            print(f"sparsegraph bench sparse-vs-dense: {bench_plots.NO_MATPLOTLIB}; nothing "
                  "was run",
                  file=sys.stderr)
            return 3
    dev = sg.backend.normalize_device(args.device)
    t0 = time.perf_counter()
    with on_device(dev):
        points, skipped = sweep(args)
    where = machine(dev)
    hardware = filter(None, [where["processor"], f"{where['cpus']} cpus", where.get("gpu")])
    try:  # the table is for this device type: the auto selection applies it there only
        # (fitted on the spmm points alone: a GCN layer's times hold its GEMM, bias and ReLU)
        table = fit_cost_table(points, source=f"{command_line()} ({', '.join(hardware)})",
                               device=sg.backend.device_type(dev),
                               dtype=np.dtype(args.dtype).name)
    except ValueError as exc:  # too few points on one side (e.g. dense never fits)
        table, skipped = None, skipped + [f"no cost table fitted: {exc}"]
    result = {"benchmark": "sparse-vs-dense", "command": command_line(), "machine": where,
              "config": {**{k: getattr(args, k) for k in ("nodes", "density_sweep", "features",
                                                          "ops", "repeat", "dtype", "max_nnz",
                                                          "dense_budget_mb", "seed")},
                         "device": dev},
              "points": points, "crossovers": crossovers(points, table), "skipped": skipped,
              "cost_table": table, "seconds": time.perf_counter() - t0}
    md = markdown(result)
    paths = write_outputs(args.out, result, md, "sparsegraph bench sparse-vs-dense")
    print(md, end="")  # the results, even when they could not be written
    if paths is None:
        return 2
    print(f"wrote {paths[0]} and {paths[1]} in {result['seconds']:.0f} s")
    # an earlier run's plots never stay beside these results
    stale, written, status = remove_plots(args.out), [], 0
    if not args.no_plots:
        try:
            written = bench_plots.plot(points, result["crossovers"], args.out)
        except ImportError:  # checked before the sweep; a part of matplotlib that fails now
            print(f"sparsegraph bench sparse-vs-dense: {bench_plots.NO_MATPLOTLIB}; the JSON "
                  "and Markdown results were written", file=sys.stderr)
            status = 3
    for path in written:
        print(f"wrote {path}")
    for path in stale:
        if path not in written:
            print(f"removed {path} (a plot of an earlier run)")
    return status


def add_sparse_dense_parser(kinds) -> None:
    p = kinds.add_parser("sparse-vs-dense", help="sparse kernels vs dense matmul: time and "
                         "memory over a density sweep; crossover and cost-model fit",
                         epilog="exit status: 0 done; 2 a bad option or device (nothing is "
                         "run); 3 plots wanted but matplotlib (the `plot` extra) is missing: "
                         "checked before the sweep, nothing is run")
    p.add_argument("--nodes", type=int, nargs="+", default=NODES,
                   help="graph sizes N (A is N x N) (default: %(default)s)")
    p.add_argument("--density-sweep", type=float, nargs="+", default=DENSITIES,
                   help="densities nnz / N^2 (default: %(default)s)")
    p.add_argument("--features", type=int, nargs="+", default=FEATURES,
                   help="columns F of X (default: %(default)s)")
    p.add_argument("--ops", nargs="+", default=list(OPS), choices=OPS,
                   help="A @ X alone, and/or a GCN layer relu(A @ (X W) + b) (default: "
                        "%(default)s)")
    p.add_argument("--repeat", type=int, default=3,
                   help="fewest timed runs per point (fast ones run more, up to 40); the best "
                        "is kept (default: %(default)s)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="value dtype of A and X (default: %(default)s)")
    p.add_argument("--max-nnz", type=int, default=32_000_000,
                   help="skip (and say so) points with more entries (default: %(default)s)")
    # the default is read when the bench runs, not here: a bad $SPARSEGRAPH_DENSE_BUDGET_MB
    # must not break `sparsegraph info` or `--help`
    p.add_argument("--dense-budget-mb", type=float, default=None,
                   help="largest dense N x N matrix to run (default: the cost model's memory "
                        "budget: $SPARSEGRAPH_DENSE_BUDGET_MB, else min(2 GiB, RAM / 8))")
    p.add_argument("--no-plots", action="store_true",
                   help="JSON and Markdown only (without it, the PNG plots need matplotlib, "
                        "the `plot` extra: pip install 'sparsegraph[plot]')")
    p.add_argument("--out", type=FOLDER_PATH, default="bench-sparse-vs-dense",
                   help="output folder (default: %(default)s)")
    p.add_argument("--device", default="cpu",
                   help="cpu, cuda or cuda:N: where both products run and are timed (cuda "
                        "needs CuPy and a GPU) (default: %(default)s)")
    p.add_argument("--seed", type=SEED, default=0,
                   help="seed of the random matrices A and X (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sparse_dense)
