"""`sparsegraph bench models`: GCN / GAT / GraphSAGE full-batch epoch time and peak memory.

Each (model, dataset) runs in a fresh process (``--single``) so that its peak RSS, and on a GPU
the peak of cupy's memory pool, are its own. The model, graph and optimizer live on
``--device``; each epoch is timed to the end of its device work (`bench.synchronize`).
`epoch_times` and `build_model` serve benchmarks/ too.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

import sparsegraph as sg
from sparsegraph.cli.bench import (
    check_device,
    command_line,
    common_options,
    device_label,
    gpu_pool_bytes,
    machine,
    md_table,
    on_device,
    peak_rss_mb,
    synchronize,
    too_small,
    write_outputs,
)
from sparsegraph.cli.common import (
    FOLDER_PATH,
    dataset_message,
    fetch_hint,
    folder_problem,
    node_dataset_problem,
    progress,
    root_problem,
)

MODELS = ("gcn", "gat", "sage", "gcn3x256")
DATASETS = ("cora", "citeseer", "synthetic:pubmed", "synthetic:arxiv")


# ---- the benchmark --------------------------------------------------------------------------
def build_model(model: str, g, num_classes: int):
    """The benchmarked configurations (the papers' sizes and dropout; gcn3x256 is the
    arxiv-scale one)."""
    from sparsegraph.gnn import models

    if model == "gcn":
        return models.GCN(g.num_features, 16, 2, num_classes, dropout=0.5)
    if model == "gcn3x256":
        return models.GCN(g.num_features, 256, 3, num_classes, dropout=0.5)
    if model == "gat":
        return models.GAT(g.num_features, 8, 2, num_classes, dropout=0.6, heads=8)
    if model == "sage":
        return models.GraphSAGE(g.num_features, 64, 2, num_classes, dropout=0.5)
    raise ValueError(f"bench models: unknown model {model!r} (expected one of {MODELS})")


def epoch_times(model: str, dataset: str, root, epochs: int, device: str = "cpu",
                seed: int = 0) -> dict:
    """Full-batch epochs (forward + backward + Adam, the models' dropout) on one dataset, with
    the model, graph and optimizer on ``device``; each epoch is timed to the end of its work
    there (`synchronize`). ``seed`` seeds the initial weights and the dropout masks. Reports
    the process's peak RSS and, on a GPU, ``peak_gpu_mb``: what cupy's memory pool holds after
    the epochs (it keeps freed blocks: its high-water mark)."""
    from sparsegraph.datasets import load_for_training

    dev = sg.backend.normalize_device(device)
    task, g, _ = load_for_training(dataset, root=root, download=False)
    if task != "node":
        raise ValueError(f"bench models: {dataset} is not a node-classification dataset")
    from sparsegraph.gnn.train import node_classification_step

    sg.manual_seed(seed)
    net = build_model(model, g, int(np.asarray(g.y.array).max()) + 1)
    with on_device(dev):
        net.to(dev)
        g = g.to(dev)
        opt = sg.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)
        step = node_classification_step(net, g, opt)  # the first split's training nodes
        times = []
        for _ in range(epochs + 2):  # two warm-up epochs: numba / cupy compile, caches fill
            t0 = time.perf_counter()
            step()
            synchronize(dev)
            times.append(time.perf_counter() - t0)
        pool = gpu_pool_bytes(dev)
    return {"model": model, "dataset": dataset, "device": dev, "nodes": g.num_nodes,
            "edges": g.num_edges, "epoch_ms_median": 1e3 * float(np.median(times[2:])),
            "epoch_ms_min": 1e3 * float(np.min(times[2:])), "peak_rss_mb": peak_rss_mb(),
            "peak_gpu_mb": None if pool is None else pool / 2**20}


def _one_in_child(model: str, dataset: str, args) -> dict:
    cmd = [sys.executable, "-m", "sparsegraph", "bench", "models", "--single", model, dataset,
           "--epochs", str(args.epochs), "--device", args.device, "--seed", str(args.seed)]
    if args.root:
        cmd += ["--root", args.root]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"model": model, "dataset": dataset, "error": last}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cmd_models(args: argparse.Namespace) -> int:
    # each name refused now, not as a failed row after the others' epochs
    refused = [] if args.single else [p for p in map(node_dataset_problem, args.datasets) if p]
    if refused and not refused[0].startswith("unknown"):
        refused[0] += "; drop it from --datasets"
    error = (check_device(args.device) or too_small(args, epochs=1) or root_problem(args.root)
             or (refused[0] if refused else None)
             or (None if args.single else folder_problem("--out", args.out, writable=True)))
    if error:
        print(f"sparsegraph bench models: {error}", file=sys.stderr)
        return 2
    dev = sg.backend.normalize_device(args.device)
    if args.single:
        return _single(args, dev)
    rows = []
    # a `with`: the bar is cleared when Ctrl-C ends the run, before "interrupted"
    with progress(len(args.models) * len(args.datasets), f"models on {dev}",
                  args.quiet) as bar:
        for model in args.models:
            for dataset in args.datasets:
                bar.set_postfix_str(f"{model} on {dataset}")
                rows.append(_one_in_child(model, dataset, args))
                bar.update(1)
    gpu = dev != "cpu"
    result = {"benchmark": "models", "command": command_line(), "machine": machine(dev),
              "config": {"epochs": args.epochs, "device": dev, "seed": args.seed},
              "rows": rows}
    md = (f"`{result['command']}`\n\nDevice {device_label(dev)}. Full-batch epoch: forward + "
          f"backward + Adam, the models' dropout (seed {args.seed}); median of {args.epochs} "
          "epochs after 2 "
          "warm-up ones (min in brackets); peak RSS of a fresh process per row (interpreter "
          "and libraries included)"
          + ("; peak GPU: what cupy's memory pool held after the epochs" if gpu else "")
          + ".\n\n"
          + md_table(["model", "dataset", "nodes", "edges", "epoch", "peak RSS"]
                     + ["peak GPU"] * gpu,
                     [[r["model"], r["dataset"], r.get("nodes", ""), r.get("edges", ""),
                       f"{r['epoch_ms_median']:.1f} ms ({r['epoch_ms_min']:.1f})"
                       if "error" not in r else f"failed: {r['error']}",
                       f"{r['peak_rss_mb']:.0f} MB" if "error" not in r else ""]
                      + [_mb(r.get("peak_gpu_mb"))] * gpu for r in rows]))
    paths = write_outputs(args.out, result, md, "sparsegraph bench models")
    print(md, end="")  # the results, even when they could not be written
    if paths is None:
        return 2
    print(f"wrote {paths[0]} and {paths[1]}")
    return 1 if any("error" in r for r in rows) else 0


def _single(args, dev: str) -> int:
    """The child's side of `_one_in_child`: one row as a JSON line; or, for missing data, one
    line saying what to do (the parent shows the child's last line as the row's failure), in
    the command line's words: this command never downloads, `train` does."""
    from sparsegraph.datasets import DatasetUnavailable

    model, dataset = args.single
    try:
        row = epoch_times(model, dataset, args.root, args.epochs, dev, args.seed)
    except (DatasetUnavailable, NotADirectoryError) as exc:
        print(f"{type(exc).__name__}: "
              f"{dataset_message(exc, args.root, fetch_hint(dataset, args.root))}",
              file=sys.stderr)
        return 2
    print(json.dumps(row))
    return 0


def _mb(value) -> str:
    return "" if value is None else f"{value:.0f} MB"


# ---- the parser -----------------------------------------------------------------------------
def add_models_parser(kinds) -> None:
    p = kinds.add_parser("models", help="GNN epoch time and peak memory per dataset")
    p.add_argument("--models", nargs="+", default=["gcn", "gat", "sage"], choices=MODELS)
    p.add_argument("--datasets", nargs="+", default=list(DATASETS),
                   help="dataset names as for `sparsegraph train` (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=20, help="timed epochs (default: 20)")
    p.add_argument("--root", type=FOLDER_PATH, default=None,
                   help="data root (default: $SPARSEGRAPH_DATA)")
    p.add_argument("--single", nargs=2, metavar=("MODEL", "DATASET"), help=argparse.SUPPRESS)
    common_options(p, "bench-models", seed="seed of the initial weights and the dropout masks")
    p.set_defaults(func=cmd_models)
