"""`sparsegraph bench`: the benchmark suite, each writing results.json and a Markdown table.

- ``sparse-vs-dense``: ``A @ X`` and a GCN layer, sparse kernels against dense matmul, over a
  sweep of sizes and densities; crossover, cost-model fit, plots (`bench_sparse_dense`).
- ``spmm``: the registered CSR spmm kernels, forward and backward, against the bytes an spmm
  must move and the device's copy bandwidth.
- ``models``: GCN / GAT / GraphSAGE full-batch epoch time and peak RSS (on a GPU also the
  peak of cupy's memory pool) per dataset, each (model, dataset) in a fresh process so the
  peaks are its own (`bench_models`).

This module holds what they share (device checks and synchronisation, machine description,
outputs) and the spmm benchmark.

Each runs on ``--device cpu`` or ``cuda[:N]`` through the same code: kernels are asynchronous
on a GPU, so every timed call ends with `synchronize` (a no-op on the CPU) before the clock is
read, and the arrays, model and graph are moved with the framework's ``.to(device)``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import time
from functools import partial

import numpy as np

import sparsegraph as sg
from sparsegraph.cli.common import FOLDER_PATH, SEED, folder_problem, progress


# ---- shared helpers -------------------------------------------------------------------------
def check_device(device: str) -> str | None:
    """None when ``device`` can be benchmarked; else the message to print: a malformed name,
    cuda without a usable GPU (with `cuda_status`'s reason), or a GPU index this machine
    lacks."""
    try:
        dev = sg.backend.normalize_device(device)
    except ValueError as exc:
        return str(exc)
    if dev == "cpu":
        return None
    status = sg.backend.cuda_status()
    if not status.startswith("usable"):
        return f"--device {device} needs a usable GPU: {status}"
    index = _cuda_index(dev)
    if index > 0:  # cuda:0 exists whenever cuda is usable
        count = sg.backend.cupy_module().cuda.runtime.getDeviceCount()
        if index >= count:
            return (f"--device {device}: expected a GPU index below {count} (this machine has "
                    f"{count} CUDA device(s): cuda:0 to cuda:{count - 1})")
    return None


def _cuda_index(dev: str) -> int:
    return int(dev.split(":")[1])


def synchronize(device: str = "cpu") -> None:
    """Wait until the work queued on ``device`` is done (kernel launches return at once on a
    GPU); a no-op on the CPU. Timers read the clock only after it."""
    dev = sg.backend.normalize_device(device)
    if dev != "cpu":
        sg.backend.cupy_module().cuda.Device(_cuda_index(dev)).synchronize()


def on_device(device: str):
    """A context making ``cuda:N`` the current GPU (kernels and cupy's memory pool follow it);
    nothing on the CPU."""
    dev = sg.backend.normalize_device(device)
    if dev == "cpu":
        return contextlib.nullcontext()
    return sg.backend.cupy_module().cuda.Device(_cuda_index(dev))


def gpu_pool_bytes(device: str) -> int | None:
    """Bytes held by cupy's default memory pool on ``device`` (None on the CPU). The pool
    keeps freed blocks for reuse, so after a run this is its high-water mark."""
    dev = sg.backend.normalize_device(device)
    if dev == "cpu":
        return None
    cp = sg.backend.cupy_module()
    with cp.cuda.Device(_cuda_index(dev)):
        return int(cp.get_default_memory_pool().total_bytes())


def machine(device: str = "cpu") -> dict:
    """The processor and library versions; for a GPU device also its name, memory and cupy."""
    import numba
    import scipy

    out = {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
           "python": platform.python_version(), "numpy": np.__version__,
           "scipy": scipy.__version__, "numba": numba.__version__,
           "numba_threads": numba.get_num_threads()}
    dev = sg.backend.normalize_device(device)
    return out if dev == "cpu" else {**out, **gpu_info(dev)}


def gpu_info(device: str) -> dict:
    """Name, memory, cupy and CUDA runtime versions of the GPU ``device``."""
    dev = sg.backend.normalize_device(device)
    cp = sg.backend.cupy_module()
    props = cp.cuda.runtime.getDeviceProperties(_cuda_index(dev))
    name = props["name"]
    return {"device": dev, "gpu": name.decode() if isinstance(name, bytes) else str(name),
            "gpu_memory_gb": props["totalGlobalMem"] / 2**30, "cupy": cp.__version__,
            "cuda_runtime": cp.cuda.runtime.runtimeGetVersion()}


def device_label(device: str) -> str:
    """``cpu``, or e.g. ``cuda:0 (NVIDIA H200)``, for the reports."""
    dev = sg.backend.normalize_device(device)
    return dev if dev == "cpu" else f"{dev} ({gpu_info(dev)['gpu']})"


def command_line() -> str:
    return " ".join(["sparsegraph", *sys.argv[1:]]) if sys.argv else "sparsegraph bench"


def write_outputs(out: str, result: dict, markdown: str,
                  command: str) -> tuple[str, str] | None:
    """results.json and results.md in ``out``, each written to a temp name and renamed; None
    after one line on stderr (``command``: who says it) when they cannot be written (the
    folder was checked before the run: it changed meanwhile)."""
    import pathlib

    from sparsegraph.datasets.download import write_atomic

    folder = pathlib.Path(out)
    try:
        for name, text in (("results.json", json.dumps(result, indent=2)),
                           ("results.md", markdown)):
            write_atomic(folder / name, text.encode())
    except OSError as exc:
        print(f"{command}: --out: cannot write {folder / name}: {exc.strerror or exc}",
              file=sys.stderr)
        return None
    return str(folder / "results.json"), str(folder / "results.md")


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
def best_ms(fn, repeat: int, device: str = "cpu") -> float:
    """Best of ``repeat`` timed calls, in ms, after one warm-up (numba compiles or loads, cupy
    compiles); each call is timed up to the end of its work on ``device`` (`synchronize`)."""
    fn()
    synchronize(device)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def best_ms_alternating(fns: dict, repeat: int, device: str = "cpu") -> dict:
    """``{name: best ms}`` of ``fns`` (``{name: fn}``) called in turn, one call of each per
    round, ``repeat`` rounds after one warm-up call each. A change in a shared machine's load
    then falls on all of them alike, so ratios between them (backward / forward) are measured
    in one window rather than in two runs minutes apart."""
    for fn in fns.values():
        fn()
        synchronize(device)
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - t0)
    return {name: min(t) * 1e3 for name, t in times.items()}


def copy_bandwidth(gigabytes: float, repeat: int = 5, device: str = "cpu") -> float:
    """Bytes read + written per second by ``copyto`` (numpy's or cupy's) on two arrays of
    ``gigabytes`` each on ``device``."""
    dev = sg.backend.normalize_device(device)
    xp = sg.backend.array_module(dev)
    with on_device(dev):
        src = xp.ones(max(int(gigabytes * 2**30) // 4, 1024), dtype=np.float32)
        dst = xp.empty_like(src)
        ms = best_ms(lambda: xp.copyto(dst, src), repeat, dev)
    return 2 * src.nbytes / (ms / 1e3)


def random_csr(n: int, nnz: int, index_dtype, value_dtype, seed: int):
    """A uniform random (n, n) CSR structure: rows and columns drawn independently."""
    rng = np.random.default_rng(seed)
    indptr = np.zeros(n + 1, dtype=index_dtype)
    np.cumsum(np.bincount(rng.integers(0, n, nnz), minlength=n), out=indptr[1:])
    indices = rng.integers(0, n, nnz).astype(index_dtype)
    values = rng.random(nnz, dtype=np.float64).astype(value_dtype)
    return indptr, indices, values


def spmm_kernels(device: str = "cpu") -> dict[str, dict]:
    """``{family: {kernel name: fn}}`` of the CSR kernels registered for ``device``'s type,
    best first: spmm, sddmm, csr_transpose, the fused spmm_backward (which takes the values in
    A's order) and the gather of values into transposed order (take) for the separate A^T @ G."""
    import sparsegraph.ops.sparse_kernels  # noqa: F401  (registers the kernels)

    kind = sg.backend.device_type(sg.backend.normalize_device(device))
    return {op: {k.name: k.fn for k in sg.kernels.kernels(op, kind, "csr")}
            for op in ("spmm", "sddmm", "csr_transpose", "spmm_backward", "take")}


def spmm_rows(n: int, nnz: int, features: list[int], names: list[str] | None = None, *,
              dtype="float32", index_dtype="int32", repeat: int = 5, copy_gb: float = 1.0,
              seed: int = 0, device: str = "cpu", bar=None) -> dict:
    """Time spmm kernels ``names`` (default: all registered for ``device``) forward and
    backward on a random ``(n, n)`` CSR matrix with ``nnz`` entries, on ``device``.

    Returns ``copy_bandwidth_gb_s`` (measured on ``device``), ``csr_transpose_ms`` per kernel
    of ``names`` that has one, and one row per (F, kernel): the passes' best ms, timed in
    turn (`best_ms_alternating`)."""
    dev = sg.backend.normalize_device(device)
    vdt, idt = np.dtype(dtype), np.dtype(index_dtype)
    ks = spmm_kernels(dev)
    spmm, sddmm, transpose, fused, take = (ks[k] for k in ("spmm", "sddmm", "csr_transpose",
                                                            "spmm_backward", "take"))
    names = names or list(spmm)
    move = partial(sg.backend.to_device, device=dev)
    with on_device(dev):
        indptr, indices, values = map(move, random_csr(n, nnz, idt, vdt, seed))
        copy_bw = copy_bandwidth(copy_gb, device=dev)
        # the transposes of the kernels asked for (the generic one takes 25 s at products
        # size); the products run on the best one's
        t_ms = {name: best_ms(partial(fn, indptr, indices, n), repeat, dev)
                for name, fn in transpose.items() if name in names}
        t_indptr, t_indices, perm = next(iter(transpose.values()))(indptr, indices, n)
        rows = []
        rng = np.random.default_rng(seed + 1)
        for f in features:
            x = move(rng.standard_normal((n, f)).astype(vdt))
            g = move(rng.standard_normal((n, f)).astype(vdt))
            # where the allocator put them decides whether a gathered row costs one cache line
            # or two (numba_util.line_aligned); reported, since it moves F = 16 by ~30 %
            offsets = tuple(int(a.ctypes.data % 64) if isinstance(a, np.ndarray) else None
                            for a in (x, g))
            # what an spmm must move: index + value per entry, a gathered row each, the output
            floor = nnz * (idt.itemsize + vdt.itemsize) + (nnz + n) * f * vdt.itemsize
            for name in names:
                sd_name = name if name in sddmm else next(iter(sddmm))  # the best otherwise
                # learned edge weights change every step: SpMM's backward gathers them into
                # the transposed order per call, with the family's own gather
                gather = take.get(name, next(iter(take.values())))
                passes = {
                    "forward_ms": partial(spmm[name], indptr, indices, values, x, n),
                    "grad_x_ms": partial(grad_x, spmm[name], (t_indptr, t_indices, perm),
                                         partial(gather, values), g),
                    "grad_values_ms": partial(sddmm[sd_name], indptr, indices, g, x)}
                if name in fused:  # both gradients in one pass over A^T: SpMM's backward
                    passes["backward_fused_ms"] = partial(
                        fused[name], t_indptr, t_indices, perm, values, g, x, True, True)
                with sg.kernels.use(name):  # a composite kernel dispatches the same family
                    ms = best_ms_alternating(passes, repeat, dev)
                fwd, gx, gv = ms["forward_ms"], ms["grad_x_ms"], ms["grad_values_ms"]
                rows.append({"features": f, "kernel": name, "sddmm_kernel": sd_name, **ms,
                             "x_g_line_offsets": offsets,
                             "backward_ms": gx + gv, "bwd_over_fwd": (gx + gv) / fwd,
                             "backward_fused_ms": ms.get("backward_fused_ms"),
                             "floor_bytes": floor, "forward_gb_s": floor / fwd / 1e6,
                             "forward_copy_fraction": floor / (fwd / 1e3) / copy_bw})
                if bar is not None:
                    bar.update(1)
    return {"copy_bandwidth_gb_s": copy_bw / 1e9, "csr_transpose_ms": t_ms, "rows": rows}


def grad_x(spmm, transposed, gathered_values, g):
    """``A.T @ g`` from the cached transposed structure; ``gathered_values(perm)`` puts the
    values into its order, per call."""
    t_indptr, t_indices, perm = transposed
    return spmm(t_indptr, t_indices, gathered_values(perm), g, t_indptr.shape[0] - 1)


def cmd_spmm(args: argparse.Namespace) -> int:
    """Forward (A @ X) and backward (A.T @ G + SDDMM) of every CSR spmm kernel."""
    error = (check_device(args.device)
             or too_small(args, nodes=1, edges=0, features=1, repeat=1)
             or folder_problem("--out", args.out, writable=True))
    if not error and args.edges > args.nodes ** 2:
        error = (f"expected --edges <= --nodes^2 = {args.nodes ** 2} (got {args.edges}): a "
                 f"{args.nodes} x {args.nodes} matrix has no room for more entries")
    if not error and not 0 < args.copy_gb < float("inf"):  # nan, inf: no array of that size
        error = f"expected a finite --copy-gb > 0 (got {args.copy_gb})"
    if error:
        print(f"sparsegraph bench spmm: {error}", file=sys.stderr)
        return 2
    dev = sg.backend.normalize_device(args.device)
    registered = list(spmm_kernels(dev)["spmm"])
    names = args.kernels or registered
    unknown = [k for k in names if k not in registered]
    if unknown:
        print(f"sparsegraph bench spmm: --kernels: unknown kernel(s) {unknown} for device "
              f"{dev} (registered: {registered})", file=sys.stderr)
        return 2
    vdt, idt = np.dtype(args.dtype), np.dtype(args.index_dtype)
    n, nnz = args.nodes, args.edges
    # a `with`: the bar is cleared when Ctrl-C ends the run, before "interrupted"
    with progress(len(args.features) * len(names), f"spmm on {dev}", args.quiet) as bar:
        timing = spmm_rows(n, nnz, args.features, names, dtype=vdt, index_dtype=idt,
                           repeat=args.repeat, copy_gb=args.copy_gb, seed=args.seed,
                           device=dev, bar=bar)
    rows, t_ms = timing["rows"], timing["csr_transpose_ms"]
    copy_gb_s = timing["copy_bandwidth_gb_s"]
    result = {"benchmark": "spmm", "command": command_line(), "machine": machine(dev),
              "config": {"nodes": n, "edges": nnz, "dtype": vdt.name, "index_dtype": idt.name,
                         "repeat": args.repeat, "seed": args.seed, "device": dev},
              **timing}
    md = (f"`{result['command']}`\n\nDevice {device_label(dev)}: N = {n}, nnz = {nnz}, "
          f"{vdt.name} values, {idt.name} indices; {dev} copy bandwidth "
          f"{copy_gb_s:.1f} GB/s (read + write; the % column is the forward's share of "
          f"it); best of {args.repeat} rounds, the passes timed in turn. csr_transpose "
          "(built once per structure): "
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
    paths = write_outputs(args.out, result, md, "sparsegraph bench spmm")
    print(md, end="")  # the results, even when they could not be written
    if paths is None:
        return 2
    print(f"wrote {paths[0]} and {paths[1]}")
    return 0


# ---- the parser -----------------------------------------------------------------------------
def add_bench_parser(sub) -> None:
    from sparsegraph.cli.bench_models import add_models_parser
    from sparsegraph.cli.bench_sparse_dense import add_sparse_dense_parser

    bench = sub.add_parser("bench", help="benchmarks: sparse-vs-dense, spmm, models")
    kinds = bench.add_subparsers(dest="benchmark", required=True)
    add_sparse_dense_parser(kinds)

    p = kinds.add_parser("spmm", help="CSR spmm kernels, forward and backward")
    p.add_argument("--nodes", type=int, default=169_343, help="N (default: ogbn-arxiv's)")
    p.add_argument("--edges", type=int, default=2_315_598, help="nnz (default: ogbn-arxiv's)")
    p.add_argument("--features", type=int, nargs="+", default=[16, 64, 128, 256],
                   help="columns F of X (default: %(default)s)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="value dtype (default: %(default)s)")
    p.add_argument("--index-dtype", default="int32", choices=["int32", "int64"],
                   help="CSR index dtype (default: %(default)s)")
    p.add_argument("--kernels", nargs="*", help="spmm kernel names (default: all registered)")
    p.add_argument("--repeat", type=int, default=5,
                   help="timed runs; the best is reported (default: %(default)s)")
    p.add_argument("--copy-gb", type=float, default=1.0,
                   help="array size of the copy test, GB (default: %(default)s)")
    common_options(p, "bench-spmm", seed="seed of the random matrix A and of X")
    p.set_defaults(func=cmd_spmm)
    add_models_parser(kinds)


def common_options(p, out: str, seed: str) -> None:
    """--out, --device, --seed (``seed``: what it seeds) and --quiet, shared by the spmm and
    models benchmarks."""
    p.add_argument("--out", type=FOLDER_PATH, default=out,
                   help="output folder (default: %(default)s)")
    p.add_argument("--device", default="cpu",
                   help="cpu, cuda or cuda:N: where the kernels run and are timed (cuda needs "
                        "CuPy and a GPU) (default: %(default)s)")
    p.add_argument("--seed", type=SEED, default=0, help=f"{seed} (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
