"""Full-batch epoch time (forward + backward + Adam, dropout included) and peak RSS of GNN
models on real and synthetic graphs. Each (model, dataset) runs in a fresh process so its
peak RSS is its own.

Run:  python benchmarks/bench_models.py --root ../shared/data \
          --models gcn gat --datasets cora citeseer synthetic:pubmed synthetic:arxiv
      python benchmarks/bench_models.py --models gcn3x256 --datasets synthetic:arxiv
(`sparsegraph bench models` runs the same measurement and writes JSON and a Markdown table.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def one(model: str, dataset: str, root, epochs: int) -> dict:
    from sparsegraph.cli.bench_models import epoch_times  # shared with `sparsegraph bench models`

    return epoch_times(model, dataset, root, epochs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["gcn", "gat"])
    p.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "synthetic:pubmed",
                                                     "synthetic:arxiv"])
    p.add_argument("--root", default=None)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--json", default=None)
    p.add_argument("--single", nargs=2, metavar=("MODEL", "DATASET"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.single:
        print(json.dumps(one(*args.single, args.root, args.epochs)))
        return 0
    rows = []
    for model in args.models:
        for dataset in args.datasets:
            cmd = [sys.executable, __file__, "--single", model, dataset, "--epochs",
                   str(args.epochs)] + (["--root", args.root] if args.root else [])
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{model:9s} {dataset:18s} epoch {row['epoch_ms_median']:8.1f} ms (min "
                  f"{row['epoch_ms_min']:.1f})  peak RSS {row['peak_rss_mb']:7.0f} MB", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
