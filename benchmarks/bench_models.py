"""Full-batch epoch time (forward + backward + Adam, dropout included) and peak RSS of GNN
models on real and synthetic graphs. Each (model, dataset) runs in a fresh process so its
peak RSS is its own.

Run:  python benchmarks/bench_models.py --root ../shared/data \
          --models gcn gat --datasets cora citeseer synthetic:pubmed synthetic:arxiv
      python benchmarks/bench_models.py --models gcn3x256 --datasets synthetic:arxiv
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def build(model: str, g, num_classes: int):
    from sparsegraph.gnn import models

    if model == "gcn":
        return models.GCN(g.num_features, 16, num_classes)
    if model == "gcn3x256":  # the arxiv-scale configuration: 3 layers x 256 hidden
        return models.GCN(g.num_features, 256, num_classes, num_layers=3)
    if model == "gat":
        return models.GAT(g.num_features, 8, num_classes, heads=8)
    if model == "sage":
        return models.GraphSAGE(g.num_features, 64, num_classes)
    raise ValueError(f"unknown model {model!r}")


def one(model: str, dataset: str, root, epochs: int) -> dict:
    import sparsegraph as sg
    from sparsegraph.datasets import load_for_training

    _, g, _ = load_for_training(dataset, root=root, download=False)
    y = np.asarray(g.y.array)
    train = np.flatnonzero(np.asarray(g.train_mask.array).reshape(-1, g.num_nodes)[0])
    sg.manual_seed(0)
    net = build(model, g, int(y.max()) + 1)
    opt = sg.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)
    target = sg.tensor(y[train])
    times = []
    for _ in range(epochs + 2):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = sg.ops.cross_entropy(net(g.x, g.adj)[train], target)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return {"model": model, "dataset": dataset, "epoch_ms_median": 1e3 * float(
        np.median(times[2:])), "epoch_ms_min": 1e3 * float(np.min(times[2:])),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "nodes": g.num_nodes, "edges": g.num_edges}


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
