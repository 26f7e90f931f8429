"""Time and peak memory of generating a synthetic preset (and saving it memory-mappable).

Run:  /usr/bin/time -v python benchmarks/bench_synthetic.py --preset products --out DIR
(`/usr/bin/time -v` reports "Maximum resident set size"; the script prints its own
ru_maxrss too.)
"""

from __future__ import annotations

import argparse
import resource
import time

from sparsegraph.datasets import synthetic


def main(argv=None) -> int:
    from sparsegraph.cli.common import FOLDER_PATH, SEED, folder_problem

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="products", choices=sorted(synthetic.PRESETS))
    p.add_argument("--out", type=FOLDER_PATH, required=True,
                   help="folder to write the .npy arrays into")
    p.add_argument("--seed", type=SEED, default=0)
    args = p.parse_args(argv)
    problem = folder_problem("--out", args.out, writable=True)
    if problem:  # said now, not after the generation
        p.error(problem)
    t0 = time.perf_counter()
    arrays = synthetic.generate(*synthetic.PRESETS[args.preset], seed=args.seed)
    t1 = time.perf_counter()
    synthetic.save(arrays, args.out)
    t2 = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    n, e, f, c = synthetic.PRESETS[args.preset]
    print(f"{args.preset}: {n} nodes, {int(arrays['indptr'][-1])} directed edges (want {e}), "
          f"{f} features, {c} classes; generate {t1 - t0:.1f} s, save {t2 - t1:.1f} s, "
          f"peak RSS {peak:.2f} GB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
