"""The `sparsegraph` command: `info`, `train` (and `graph`, `bench` as they land)."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparsegraph", description="sparsegraph: sparse tensors and graph neural networks")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions, devices and registered kernels")
    from sparsegraph.cli.info import cmd_info

    info.set_defaults(func=cmd_info)
    from sparsegraph.cli.train import add_train_parser

    add_train_parser(sub)
    from sparsegraph.cli.graph import add_graph_parser

    add_graph_parser(sub)
    from sparsegraph.cli.bench import add_bench_parser

    add_bench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
