"""`sparsegraph graph`: capture a model's training step and write its static graph (DOT or text).
"""

from __future__ import annotations

import argparse
import os
import sys

from sparsegraph.cli.train import DEFAULTS, build_model


def add_graph_parser(sub) -> None:
    p = sub.add_parser("graph", help="write the captured training step as a graph (DOT / text)")
    p.add_argument("--model", choices=[m for m in DEFAULTS if m != "gin"], default="gcn",
                   help="the model whose training step is captured (default: gcn)")
    p.add_argument("--dataset", default="karate",
                   help="a node-classification dataset (cora, citeseer, karate, synthetic:...) "
                        "(default: karate)")
    p.add_argument("--out", required=True, help="output file (.dot, or .txt for a listing)")
    p.add_argument("--format", choices=["dot", "txt"], default=None,
                   help="default: from the --out suffix (.txt -> txt, else dot)")
    p.add_argument("--passes", default=None,
                   help="comma-separated graph passes (default: all; 'none' for the raw capture)")
    p.add_argument("--dynamic", action="store_true",
                   help="write the eager (dynamic) autograd graph of the loss instead")
    p.add_argument("--root", default=None, help="dataset root (default: SPARSEGRAPH_DATA)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights and the dropout masks (default: "
                        "%(default)s)")
    p.set_defaults(func=cmd_graph)


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def cmd_graph(args: argparse.Namespace) -> int:
    import numpy as np

    import sparsegraph as sg
    import sparsegraph.ops as ops
    from sparsegraph import static
    from sparsegraph.datasets import DatasetUnavailable, load_for_training

    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):  # said before the capture, not as a traceback after it
        print(f"sparsegraph graph: --out: the folder {folder} does not exist", file=sys.stderr)
        return 2
    if os.path.isdir(args.out):
        print(f"sparsegraph graph: --out: {args.out} is a directory; give a file name",
              file=sys.stderr)
        return 2
    try:
        task, graph, _ = load_for_training(args.dataset, root=args.root, download=False)
    except (DatasetUnavailable, ValueError) as exc:  # ValueError: an unknown dataset name
        print(f"sparsegraph graph: {exc}", file=sys.stderr)
        return 2
    if task != "node":
        print(f"sparsegraph graph: {args.dataset} is not a node-classification dataset",
              file=sys.stderr)
        return 2
    sg.manual_seed(args.seed)
    cfg = dict(DEFAULTS[args.model], model=args.model)
    model = build_model(cfg, graph.num_features, int(np.asarray(graph.y.array).max()) + 1)
    optimizer = sg.optim.Adam(model.parameters(), lr=cfg["lr"],
                              weight_decay=cfg["weight_decay"])
    fmt = args.format or ("txt" if args.out.endswith(".txt") else "dot")
    if args.dynamic:
        mask = graph.train_mask[:, 0] if graph.train_mask.ndim == 2 else graph.train_mask
        loss = ops.cross_entropy(model(graph.x, graph.adj)[mask], graph.y[mask])
        g = static.dynamic_graph(loss)
        _write(args.out, g.to_dot() if fmt == "dot" else str(g) + "\n")
        print(f"wrote the dynamic graph of the {args.model} loss ({len(g.nodes)} nodes) to "
              f"{args.out}")
        return 0
    passes = None if args.passes is None else (
        [] if args.passes == "none" else [p for p in args.passes.split(",") if p])
    step = static.node_classification_step(model, graph, optimizer)
    try:
        g = static.optimize(static.trace(step), passes)
    except ValueError as exc:
        print(f"sparsegraph graph: {exc}", file=sys.stderr)
        return 2
    _write(args.out, g.to_dot() if fmt == "dot" else str(g) + "\n")
    print(f"wrote the {args.model} training step on {args.dataset} ({len(g.nodes)} nodes, "
          f"{g.count(kind='backward')} backward) to {args.out}")
    for note in g.notes:
        print(f"  {note}")
    print(f"  {static.memory_plan(g)}")
    return 0
