"""Time the CSR spmm kernels, forward (A @ X) and backward (A.T @ G + SDDMM), per kernel.

The bytes an spmm must move (DESIGN.md "Performance rules") are
``nnz * (index + value) + nnz * F * value`` (one gathered row per entry) ``+ N * F * value``
(the output); the script reports ms, GB/s against that floor and the fraction of this machine's
copy bandwidth (np.copyto on ~1 GB arrays, read + write bytes, best of 5).

The backward of ``out = A @ X`` w.r.t. X is ``A.T @ G``: spmm on the transposed structure,
built once (``csr_transpose``, timed separately) and reused every step; its values are
``values[perm]``, gathered per call because learned edge weights change each step. The
gradient w.r.t. the values is ``sddmm(A, G, X)``. Separate backward = gather + spmm(A.T) +
sddmm; ``bwd_fused`` is what SpMM's backward runs when both gradients are needed: one fused
pass over A.T that reads each value and writes its gradient in place, in A's order (on a copy
of the values), where the gathered rows of G serve both gradients.

The passes of one (F, kernel) are timed in turn, one call of each per round, best of
``--repeat`` rounds: the backward / forward ratios come from one window of the machine's load.
`sparsegraph bench spmm` runs the same measurement (`spmm_rows`) and writes JSON and Markdown.

Usage::

    python -m benchmarks.bench_spmm_kernels            # ogbn-arxiv sized random graph
    python benchmarks/bench_spmm_kernels.py --features 64 128 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sparsegraph.cli.bench import spmm_kernels, spmm_rows  # noqa: E402  (`bench spmm` too)
from sparsegraph.cli.common import POSITIVE_INT, SEED, checked  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nodes", type=POSITIVE_INT, default=169_343,
                   help="N (default: ogbn-arxiv)")
    p.add_argument("--edges", type=checked(int, lambda v: v >= 0, "an int >= 0"),
                   default=2_315_598, help="nnz, at most N^2 (default: ogbn-arxiv)")
    p.add_argument("--features", type=POSITIVE_INT, nargs="+", default=[16, 64, 128, 256])
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--index-dtype", default="int32", choices=["int32", "int64"])
    p.add_argument("--repeat", type=POSITIVE_INT, default=5,
                   help="timed rounds; the best is reported")
    p.add_argument("--kernels", nargs="*", help="spmm kernel names to run (default: all)")
    p.add_argument("--copy-gb", type=checked(float, lambda v: v > 0, "a number > 0"),
                   default=1.0, help="array size of the copy test")
    p.add_argument("--seed", type=SEED, default=0)
    args = p.parse_args(argv)
    if args.edges > args.nodes ** 2:
        p.error(f"argument --edges: expected at most --nodes^2 = {args.nodes ** 2} (got "
                f"{args.edges}): a {args.nodes} x {args.nodes} matrix has no room for more")
    registered = list(spmm_kernels()["spmm"])
    unknown = [k for k in args.kernels or [] if k not in registered]
    if unknown:
        p.error(f"argument --kernels: unknown kernel(s) {', '.join(map(repr, unknown))} "
                f"(registered: {', '.join(registered)})")

    import numba

    vdt, idt = np.dtype(args.dtype), np.dtype(args.index_dtype)
    n, nnz = args.nodes, args.edges
    out = spmm_rows(n, nnz, args.features, args.kernels, dtype=vdt, index_dtype=idt,
                    repeat=args.repeat, copy_gb=args.copy_gb, seed=args.seed)
    copy_bw = out["copy_bandwidth_gb_s"] * 1e9
    print(f"# {' '.join(sys.argv)}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"numba {numba.__version__} ({numba.get_num_threads()} threads), numpy {np.__version__}"
    )
    print(
        f"# N={n} nnz={nnz} {vdt.name} values, {idt.name} indices; "
        f"copy bandwidth {copy_bw / 1e9:.1f} GB/s (best of 5, 2 x {args.copy_gb:g} GB)"
    )
    for name, ms in out["csr_transpose_ms"].items():
        print(f"csr_transpose[{name}]: {ms:.1f} ms (built once per structure)")
    header = f"{'F':>4} {'kernel':<8} {'pass':<9} {'ms':>8} {'GB/s':>7} {'copy%':>6}"
    print(header)
    print("-" * len(header))
    for r in out["rows"]:
        f, name, floor, fwd = r["features"], r["kernel"], r["floor_bytes"], r["forward_ms"]
        # the fused pass reads t_indices, perm, the values, rows of g (gathered) and of x, and
        # writes dx and dv
        fused_floor = nnz * (2 * idt.itemsize + 2 * vdt.itemsize) + (nnz + 2 * n) * f * (
            vdt.itemsize)
        passes = [("forward", fwd, floor), ("grad_x", r["grad_x_ms"], floor),
                  ("grad_v" + ("" if r["sddmm_kernel"] == name else "*"),
                   r["grad_values_ms"], floor), ("backward", r["backward_ms"], 2 * floor)]
        if r["backward_fused_ms"] is not None:
            passes.append(("bwd_fused", r["backward_fused_ms"], fused_floor))
        for what, ms, nbytes in passes:
            bw = nbytes / (ms / 1e3)
            print(f"{f:>4} {name:<8} {what:<9} {ms:>8.1f} {bw / 1e9:>7.1f} "
                  f"{100 * bw / copy_bw:>5.0f}%")
        print(f"{f:>4} {name:<8} {'bwd/fwd':<9} {r['bwd_over_fwd']:>8.2f}")
        if r["backward_fused_ms"] is not None:
            print(f"{f:>4} {name:<8} {'fused/fwd':<9} {r['backward_fused_ms'] / fwd:>8.2f}")
        if None not in r["x_g_line_offsets"]:
            print(f"{f:>4} {name:<8} x / g start {' / '.join(map(str, r['x_g_line_offsets']))} "
                  "bytes past a cache line")
    if any(r["sddmm_kernel"] != r["kernel"] for r in out["rows"]):
        print("* grad_v uses the best registered sddmm (no sddmm of that kernel's name)")


if __name__ == "__main__":
    main()
