"""`sparsegraph graph`: capture a model's training step and write its static graph (DOT or text).
"""

from __future__ import annotations

import argparse
import difflib
import sys

from sparsegraph.cli.common import (
    FILE_PATH,
    FOLDER_PATH,
    SEED,
    dataset_message,
    fetch_hint,
    file_problem,
    no_split_message,
    raise_if_interrupted,
    root_problem,
    split_problem,
)
from sparsegraph.cli.train import DEFAULTS, build_model


def pass_names() -> tuple[str, ...]:
    """The graph passes ``--passes`` takes, in the order `static.optimize` runs the default
    ones (imported when asked for: ``sparsegraph info`` never needs the static package)."""
    from sparsegraph.static.passes import DEFAULT_PASSES, FORWARD_PASSES

    return (*DEFAULT_PASSES, *(n for n in FORWARD_PASSES if n not in DEFAULT_PASSES))


def parse_passes(text: str) -> list[str]:
    """``--passes``' argparse type: ``none`` -> ``[]`` (the raw capture), else the
    comma-separated names, each refused unless `pass_names` has it (argparse prints the
    message naming the flag and exits 2, before any data is read)."""
    if text.strip() == "none":
        return []
    names, known = [n.strip() for n in text.split(",") if n.strip()], pass_names()
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        close = difflib.get_close_matches(unknown[0], known, n=1) if unknown else []
        raise argparse.ArgumentTypeError(
            (f"unknown pass {unknown[0]!r}" if unknown else f"no pass named in {text!r}")
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; expected 'none' or a comma-separated list of: {', '.join(known)}")
    return names


parse_passes.__name__ = "passes"  # argparse names the type in its messages


class _GraphHelp(argparse.HelpFormatter):
    """Lists the pass names in ``--passes``' help only when help is printed (the list
    imports sparsegraph.static, which the other commands never need)."""

    def _get_help_string(self, action):
        if action.dest != "passes":
            return action.help
        return (f"comma-separated graph passes, run in this order by default: "
                f"{', '.join(pass_names())} ('none': the raw capture) (default: all)")


def add_graph_parser(sub) -> None:
    p = sub.add_parser("graph", help="write the captured training step as a graph (DOT / text)",
                       formatter_class=_GraphHelp)
    p.add_argument("--model", choices=[m for m in DEFAULTS if m != "gin"], default="gcn",
                   help="the model whose training step is captured (default: gcn)")
    p.add_argument("--dataset", default="karate",
                   help="a node-classification dataset (cora, citeseer, karate, synthetic:...) "
                        "(default: karate)")
    p.add_argument("--out", type=FILE_PATH, required=True,
                   help="output file (.dot, or .txt for a listing)")
    p.add_argument("--format", choices=["dot", "txt"], default=None,
                   help="default: from the --out suffix (.txt -> txt, else dot)")
    p.add_argument("--passes", type=parse_passes, default=None, help="(listed by _GraphHelp)")
    p.add_argument("--dynamic", action="store_true",
                   help="write the eager (dynamic) autograd graph of the loss instead")
    p.add_argument("--root", type=FOLDER_PATH, default=None,
                   help="dataset root (default: SPARSEGRAPH_DATA)")
    p.add_argument("--seed", type=SEED, default=0,
                   help="seed of the initial weights and the dropout masks (default: "
                        "%(default)s)")
    p.set_defaults(func=cmd_graph)


def _write(path: str, text: str) -> bool:
    """``text`` to ``path`` through a temp file and a rename (`write_atomic`: the temp file
    never stays, not even when Ctrl-C lands mid-write). Nothing is written after a Ctrl-C
    that numba's compiler swallowed (see common._Sigint). False after one line on stderr
    when it cannot be written (``--out`` was checked first: its folder changed meanwhile)."""
    import pathlib

    from sparsegraph.datasets.download import write_atomic

    raise_if_interrupted()
    try:
        write_atomic(pathlib.Path(path), text.encode())
    except OSError as exc:
        print(f"sparsegraph graph: --out: cannot write {path}: {exc.strerror or exc}",
              file=sys.stderr)
        return False
    return True


def cmd_graph(args: argparse.Namespace) -> int:
    import numpy as np

    import sparsegraph as sg
    from sparsegraph import static
    from sparsegraph.datasets import DatasetUnavailable, load_for_training

    problem = file_problem("--out", args.out) or root_problem(args.root)
    if problem is not None:
        print(f"sparsegraph graph: {problem}", file=sys.stderr)
        return 2
    problem = split_problem(args.dataset, "graph")  # `train`'s refusal, before any file is read
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    try:
        task, graph, _ = load_for_training(args.dataset, root=args.root, download=False)
    except (DatasetUnavailable, NotADirectoryError, ValueError) as exc:  # ValueError: a name
        message = dataset_message(exc, args.root, fetch_hint(args.dataset, args.root))
        print(f"sparsegraph graph: {message}", file=sys.stderr)
        return 2
    if task != "node":
        print(f"sparsegraph graph: {args.dataset} is not a node-classification dataset",
              file=sys.stderr)
        return 2
    if graph.train_mask is None:  # a name the registry does not know as split-less
        print(no_split_message(args.dataset, "graph"), file=sys.stderr)
        return 2
    sg.manual_seed(args.seed)
    cfg = dict(DEFAULTS[args.model], model=args.model)
    model = build_model(cfg, graph.num_features, int(np.asarray(graph.y.array).max()) + 1)
    optimizer = sg.optim.Adam(model.parameters(), lr=cfg["lr"],
                              weight_decay=cfg["weight_decay"])
    fmt = args.format or ("txt" if args.out.endswith(".txt") else "dot")
    # the step `train` runs: on datasets with several stored splits, (S, N) masks, both
    # graphs are of split 0's training nodes, the split `train`'s first run uses
    step = static.node_classification_step(model, graph, optimizer)
    if args.dynamic:
        g = static.dynamic_graph(step(), model)  # the README's eager_loss = step(); leaves named
        if not _write(args.out, g.to_dot() if fmt == "dot" else str(g) + "\n"):
            return 2
        print(f"wrote the dynamic graph of the {args.model} loss ({len(g.nodes)} nodes) to "
              f"{args.out}")
        return 0
    g = static.optimize(static.trace(step), args.passes)
    if not _write(args.out, g.to_dot() if fmt == "dot" else str(g) + "\n"):
        return 2
    print(f"wrote the {args.model} training step on {args.dataset} ({len(g.nodes)} nodes, "
          f"{g.count(kind='backward')} backward) to {args.out}")
    for note in g.notes:
        print(f"  {note}")
    print(f"  {static.memory_plan(g)}")
    return 0
