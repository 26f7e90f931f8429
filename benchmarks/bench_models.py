"""Time full-batch GNN epochs and measure their peak RSS, on real and synthetic graphs.

Each epoch is forward + backward + Adam, dropout included. Each (model, dataset) runs in a
fresh process so its peak RSS is its own.

Run:  python benchmarks/bench_models.py --root ../shared/data \
          --models gcn gat --datasets cora citeseer synthetic:pubmed synthetic:arxiv
      python benchmarks/bench_models.py --models gcn3x256 --datasets synthetic:arxiv
(`sparsegraph bench models` runs the same measurement and writes JSON and a Markdown table.)
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys


def one(model: str, dataset: str, root, epochs: int) -> dict:
    from sparsegraph.cli.bench_models import epoch_times  # shared with `sparsegraph bench models`

    return epoch_times(model, dataset, root, epochs)


def parse(argv=None) -> argparse.Namespace:
    """The options, each bad value refused here (argparse's one line, status 2), before any
    child process runs: a model or dataset that cannot run, --epochs < 1, a --json whose
    folder cannot be written."""
    from sparsegraph.cli.bench_models import MODELS
    from sparsegraph.cli.common import (
        FILE_PATH,
        FOLDER_PATH,
        POSITIVE_INT,
        file_problem,
        node_dataset_problem,
        root_problem,
    )

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["gcn", "gat"], choices=MODELS)
    p.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "synthetic:pubmed",
                                                     "synthetic:arxiv"])
    p.add_argument("--root", type=FOLDER_PATH, default=None)
    p.add_argument("--epochs", type=POSITIVE_INT, default=20)
    p.add_argument("--json", type=FILE_PATH, default=None)
    p.add_argument("--single", nargs=2, metavar=("MODEL", "DATASET"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.single:
        problem = (next(filter(None, map(node_dataset_problem, args.datasets)), None)
                   or root_problem(args.root) or file_problem("--json", args.json))
        if problem:
            p.error(problem)
    return args


def main(argv=None) -> int:
    args = parse(argv)
    if args.single:
        from sparsegraph.datasets import DatasetUnavailable

        try:
            print(json.dumps(one(*args.single, args.root, args.epochs)))
        except (DatasetUnavailable, NotADirectoryError) as exc:  # files missing: say so
            from sparsegraph.cli.common import dataset_message, fetch_hint

            hint = fetch_hint(args.single[1], args.root)
            print(f"bench_models.py: {dataset_message(exc, args.root, hint)}", file=sys.stderr)
            return 2
        return 0
    rows = []
    for model in args.models:
        for dataset in args.datasets:
            cmd = [sys.executable, __file__, "--single", model, dataset, "--epochs",
                   str(args.epochs)] + (["--root", args.root] if args.root else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:  # the child's own message, not CalledProcessError's
                sys.stderr.write(out.stderr)
                print(f"bench_models.py: {model} on {dataset} failed (exit status "
                      f"{out.returncode})", file=sys.stderr)
                return out.returncode if out.returncode > 0 else 1
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{model:9s} {dataset:18s} epoch {row['epoch_ms_median']:8.1f} ms (min "
                  f"{row['epoch_ms_min']:.1f})  peak RSS {row['peak_rss_mb']:7.0f} MB", flush=True)
    if args.json:
        from sparsegraph.datasets.download import write_atomic

        write_atomic(pathlib.Path(args.json), json.dumps(rows, indent=2).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
