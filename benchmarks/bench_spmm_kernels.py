"""Time the CSR spmm kernels, forward (A @ X) and backward (A.T @ G + SDDMM), per kernel.

The bytes an spmm must move (DESIGN.md "Performance rules") are
``nnz * (index + value) + nnz * F * value`` (one gathered row per entry) ``+ N * F * value``
(the output); the script reports ms, GB/s against that floor and the fraction of this machine's
copy bandwidth (np.copyto on ~1 GB arrays, read + write bytes, best of 5).

The backward of ``out = A @ X`` w.r.t. X is ``A.T @ G``: spmm on the transposed structure,
built once (``csr_transpose``, timed separately) and reused every step; its values are
``values[perm]``, gathered per call because learned edge weights change each step. The
gradient w.r.t. the values is ``sddmm(A, G, X)``. Backward = gather + spmm(A.T) + sddmm.

`sparsegraph bench spmm` runs the same measurement and writes JSON and a Markdown table.

Usage::

    python -m benchmarks.bench_spmm_kernels            # ogbn-arxiv sized random graph
    python benchmarks/bench_spmm_kernels.py --features 64 128 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from functools import partial

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sparsegraph.ops.sparse_kernels  # noqa: E402,F401  (registers the kernels)
from sparsegraph.cli.bench import (  # noqa: E402  (shared with `sparsegraph bench spmm`)
    best_ms,
    copy_bandwidth,
    grad_x,
    random_csr,
)
from sparsegraph.kernels import kernels  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=int, default=169_343, help="N (default: ogbn-arxiv)")
    p.add_argument("--edges", type=int, default=2_315_598, help="nnz (default: ogbn-arxiv)")
    p.add_argument("--features", type=int, nargs="+", default=[16, 64, 128, 256])
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--index-dtype", default="int32", choices=["int32", "int64"])
    p.add_argument("--repeat", type=int, default=5, help="timed runs; the best is reported")
    p.add_argument("--kernels", nargs="*", help="spmm kernel names to run (default: all)")
    p.add_argument("--copy-gb", type=float, default=1.0, help="array size of the copy test")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    vdt, idt = np.dtype(args.dtype), np.dtype(args.index_dtype)
    n, nnz = args.nodes, args.edges
    indptr, indices, values = random_csr(n, nnz, idt, vdt, args.seed)
    spmm = {k.name: k.fn for k in kernels("spmm", "cpu", "csr")}
    sddmm = {k.name: k.fn for k in kernels("sddmm", "cpu", "csr")}
    transpose = {k.name: k.fn for k in kernels("csr_transpose", "cpu", "csr")}
    fused_backward = {k.name: k.fn for k in kernels("spmm_backward", "cpu", "csr")}
    names = args.kernels or list(spmm)

    import numba

    copy_bw = copy_bandwidth(args.copy_gb)
    print(f"# {' '.join(sys.argv)}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"numba {numba.__version__} ({numba.get_num_threads()} threads), numpy {np.__version__}"
    )
    print(
        f"# N={n} nnz={nnz} {vdt.name} values, {idt.name} indices; "
        f"copy bandwidth {copy_bw / 1e9:.1f} GB/s (best of 5, 2 x {args.copy_gb:g} GB)"
    )
    for name, fn in transpose.items():
        if args.kernels and name not in args.kernels:
            continue  # the generic transpose takes 25 s at products size
        ms = best_ms(partial(fn, indptr, indices, n), args.repeat)
        print(f"csr_transpose[{name}]: {ms:.1f} ms (built once per structure)")
    t_indptr, t_indices, perm = transpose[next(iter(transpose))](indptr, indices, n)  # best

    header = f"{'F':>4} {'kernel':<8} {'pass':<9} {'ms':>8} {'GB/s':>7} {'copy%':>6}"
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(args.seed + 1)
    for f in args.features:
        x = rng.standard_normal((n, f)).astype(vdt)
        g = rng.standard_normal((n, f)).astype(vdt)
        floor = nnz * (idt.itemsize + vdt.itemsize) + (nnz + n) * f * vdt.itemsize
        # sddmm reads index + both row sides and writes one value per entry: the same floor
        for name in names:
            sd_name = name if name in sddmm else next(iter(sddmm))  # best one otherwise
            fwd = best_ms(partial(spmm[name], indptr, indices, values, x, n), args.repeat)
            bwd_x = best_ms(
                partial(grad_x, spmm[name], (t_indptr, t_indices, perm), values, g), args.repeat
            )
            bwd_v = best_ms(partial(sddmm[sd_name], indptr, indices, g, x), args.repeat)
            rows = [
                ("forward", fwd, floor),
                ("grad_x", bwd_x, floor),
                (f"grad_v{'' if sd_name == name else '*'}", bwd_v, floor),
                ("backward", bwd_x + bwd_v, 2 * floor),
            ]
            for what, ms, nbytes in rows:
                bw = nbytes / (ms / 1e3)
                print(
                    f"{f:>4} {name:<8} {what:<9} {ms:>8.1f} {bw / 1e9:>7.1f} "
                    f"{100 * bw / copy_bw:>5.0f}%"
                )
            print(f"{f:>4} {name:<8} {'bwd/fwd':<9} {(bwd_x + bwd_v) / fwd:>8.2f}")
            if name in fused_backward:  # both gradients in one pass over A^T (what SpMM runs)
                # learned edge weights change every step: the values are gathered into the
                # transposed order per call, by the family's own gather ("take")
                take = dict((k.name, k.fn) for k in kernels("take", "cpu", "csr"))
                gather = take.get(name, take["generic"])
                fused = best_ms(lambda fn=fused_backward[name], g=g, x=x, gather=gather: fn(
                    t_indptr, t_indices, perm, gather(values, perm), g, x, True, True),
                    args.repeat)
                # reads: t_indices, values, rows of g (gathered), rows of x, perm; writes dx, dv
                fused_floor = nnz * (2 * idt.itemsize + 3 * vdt.itemsize) + (
                    nnz + 2 * n) * f * vdt.itemsize
                bw = fused_floor / (fused / 1e3)
                print(f"{f:>4} {name:<8} {'bwd_fused':<9} {fused:>8.1f} {bw / 1e9:>7.1f} "
                      f"{100 * bw / copy_bw:>5.0f}%")
                print(f"{f:>4} {name:<8} {'fused/fwd':<9} {fused / fwd:>8.2f}")
    if any(name not in sddmm for name in names):
        print(f"* grad_v uses the {next(iter(sddmm))!r} sddmm (no sddmm of that name)")


if __name__ == "__main__":
    main()
