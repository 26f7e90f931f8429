"""negative_sampling at scale: time against one argsort of the E edge keys (the sort-based
steps' unit of work), on a random graph.

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n, e = args.nodes, args.edges
    ei = np.random.default_rng(0).integers(0, n, (2, e))
    unit, took = [], []
    for r in range(args.repeat):  # alternating, so both see the same load
        t = time.perf_counter()
        np.argsort(ei[0] * n + ei[1])
        unit.append(time.perf_counter() - t)
        t = time.perf_counter()
        neg = negative_sampling(ei, n, generator=sg.Generator(r))
        took.append(time.perf_counter() - t)
    assert neg.shape == (2, e)
    print(f"N = {n:,}, E = K = {e:,}: negative_sampling {min(took):.2f} s (best of "
          f"{args.repeat}), one argsort of E keys {min(unit):.2f} s, ratio "
          f"{min(took) / min(unit):.1f}")


if __name__ == "__main__":
    main()
