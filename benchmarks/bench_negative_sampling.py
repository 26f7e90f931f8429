"""Time negative_sampling at scale against one argsort of the E edge keys, on a random graph.

One argsort of the keys is the sort-based steps' unit of work.

Run:  python benchmarks/bench_negative_sampling.py [--nodes 1000000] [--edges 5000000]
      [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import sparsegraph as sg
from sparsegraph.gnn import negative_sampling


def main(argv=None) -> None:
    from sparsegraph.cli.common import POSITIVE_INT, checked

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=checked(int, lambda v: v >= 2, "an int >= 2"),
                        default=1_000_000)
    parser.add_argument("--edges", type=POSITIVE_INT, default=5_000_000,
                        help="E, and K negatives drawn; at most N (N - 1) / 2, so that the "
                             "graph has K non-edges")
    parser.add_argument("--repeat", type=POSITIVE_INT, default=3)
    args = parser.parse_args(argv)
    n, e = args.nodes, args.edges
    if e > n * (n - 1) // 2:  # N (N - 1) pairs without self loops, at most E of them edges
        parser.error(f"argument --edges: expected at most N (N - 1) / 2 = {n * (n - 1) // 2} "
                     f"for --nodes {n} (got {e}): fewer than E non-edges would be left to "
                     "draw K = E negatives from")
    ei = np.random.default_rng(0).integers(0, n, (2, e))
    unit, took = [], []
    for r in range(args.repeat):  # alternating, so both see the same load
        t = time.perf_counter()
        np.argsort(ei[0] * n + ei[1])
        unit.append(time.perf_counter() - t)
        t = time.perf_counter()
        neg = negative_sampling(ei, n, generator=sg.Generator(r))
        took.append(time.perf_counter() - t)
    if neg.shape != (2, e):  # (the check above leaves at least E non-edges)
        raise SystemExit(f"bench_negative_sampling.py: drew {neg.shape[1]} negatives, expected "
                         f"{e}")
    print(f"N = {n:,}, E = K = {e:,}: negative_sampling {min(took):.2f} s (best of "
          f"{args.repeat}), one argsort of E keys {min(unit):.2f} s, ratio "
          f"{min(took) / min(unit):.1f}")


if __name__ == "__main__":
    main()
