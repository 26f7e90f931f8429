"""The `sparsegraph` command: `info`, `train` (and `graph`, `bench` as they land)."""

from __future__ import annotations

import argparse
import os
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


SIGPIPE_STATUS = 141  # 128 + SIGPIPE: what a shell reports for `git log | head -1`'s git
SIGINT_STATUS = 130  # 128 + SIGINT: what a shell reports for a command ended by Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """Run the command; ``sparsegraph info | head -1`` ends quietly with status 141, and
    Ctrl-C with one line (``sparsegraph train: interrupted``) and status 130.

    When the reader of stdout goes away, the rest of the output is discarded (stdout points
    at devnull, so Python's flush at exit does not fail again), as Python's docs on SIGPIPE
    recommend, and the status is the one a process killed by SIGPIPE gets, as git's is.
    Ctrl-C's KeyboardInterrupt surfaces wherever the main thread is (often just after a numba
    kernel returns): its traceback says nothing the user does not know. What a command writes
    goes through a temp file and a rename, so nothing half-written is left.
    """
    from sparsegraph.cli.common import interrupted, sigint_handling

    command = "sparsegraph"
    try:
        try:
            with sigint_handling():
                args = build_parser().parse_args(argv)  # inside: --help writes to stdout too
                command = " ".join(filter(None, ["sparsegraph", args.command,
                                                 getattr(args, "benchmark", None)]))
                try:
                    return args.func(args)
                except Exception:
                    if not interrupted():
                        raise
                    # what a swallowed Ctrl-C left half-done failed (numba's compilation)
                    raise KeyboardInterrupt from None
        finally:
            sys.stdout.flush()  # a broken pipe surfaces here, not in Python's flush at exit
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return SIGINT_STATUS
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):  # stdout without a file descriptor (replaced)
            pass
        return SIGPIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
