"""Mini-batch node classification through a `NeighborLoader` (GraphSAGE's training recipe).

Training samples a block per layer for every batch of training nodes; evaluation runs the
model's layer-wise full-graph ``inference`` (every node sees its whole neighbourhood, as in
full-batch training, and no neighbourhood is expanded more than once per layer).
Deterministic for a seed: the seed drives initialisation, dropout, shuffling and sampling.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.backend import to_device
from sparsegraph.creation import manual_seed
from sparsegraph.gnn.sampling import NeighborLoader, check_num_neighbors
from sparsegraph.gnn.train import _mask, _snapshot, accuracy
from sparsegraph.gnn.utils import check_int
from sparsegraph.optim import Adam


def _model_device(model) -> str | None:
    """The device of the model's parameters (None: it has none)."""
    return next((p.device for p in model.parameters()), None)


def evaluate(model, graph, batch_size: int = 4096, split: int | None = None) -> dict:
    """Accuracy on the train / val / test masks from ``model.inference(x, adj, batch_size)``
    (features and adjacency moved to the model's device when they are elsewhere)."""
    x, adj, device = graph.x, graph.adj, _model_device(model)
    if device is not None:
        x, adj = x.to(device), adj.to(device) if adj.device != device else adj
    pred = to_device(model.inference(x, adj, batch_size).array.argmax(axis=1), "cpu")
    y = to_device(graph.y.array, "cpu")
    out = {}
    for k in ("train", "val", "test"):
        if getattr(graph, f"{k}_mask") is not None:
            idx = _mask(graph, f"{k}_mask", split, "evaluate")
            out[f"{k}_acc"] = accuracy(pred[idx], y[idx])
    return out


def train_minibatch(model, graph, num_neighbors=(25, 10), *, batch_size: int = 512,
                    epochs: int = 10, lr: float = 0.01, weight_decay: float = 0.0,
                    seed: int | None = None, split: int | None = None,
                    eval_every: int | None = 1, eval_batch_size: int = 4096,
                    max_batches: int | None = None,
                    on_batch: Callable[[int, int, float], None] | None = None) -> dict:
    """Train ``model`` on neighbour-sampled mini-batches of the training nodes with Adam.

    Args:
        model: ``model(x, blocks) -> (batch_size, C)`` logits with ``model.inference(x, adj,
            batch_size)`` for evaluation, marked ``takes_blocks = True`` (e.g.
            `sparsegraph.gnn.models.GraphSAGE`).
        graph: a `Graph` with ``x``, ``y`` and ``train_mask`` (``val_mask`` / ``test_mask``
            for evaluation); its arrays may be memory-mapped. It may live on another device
            than ``model``: batches are sampled on the host and moved to the device of the
            model's parameters (evaluation moves ``x`` and ``adj`` there).
        num_neighbors: fan-out per hop, one per model layer (GraphSAGE paper: 25, 10).
        batch_size: training nodes per batch.
        seed: seeds parameter initialisation, dropout, shuffling and sampling.
        split: which stored split to use when masks are 2-D ``(num_splits, N)``.
        eval_every: evaluate (layer-wise inference) every this many epochs and keep the
            parameters of the best validation accuracy; None: evaluate once at the end.
        max_batches: stop each epoch after this many batches (benchmarks on huge graphs).
        on_batch: called as ``on_batch(epoch, batch_index, loss)``.

    Returns:
        dict: ``losses`` (mean training loss per epoch), ``batch_losses``, ``train_acc`` /
        ``val_acc`` / ``test_acc`` of the returned model, ``best_epoch``, ``epoch_times_s``
        and their split into ``sample_s`` (sampling), ``gather_s`` (feature gathering) and
        ``compute_s`` (forward + backward + Adam), per epoch.
    """
    fanouts = check_num_neighbors(num_neighbors, "train_minibatch")
    check_int("train_minibatch", "epochs", epochs, 1)
    if max_batches is not None:
        check_int("train_minibatch", "max_batches", max_batches, 1)
    if not getattr(model, "takes_blocks", False):  # GCN / GAT / MLP would fail deep inside
        raise TypeError(f"train_minibatch: expected a model that takes a list of sampled "
                        f"blocks, as models.GraphSAGE (got {type(model).__name__}); train "
                        "full-graph models with train_node_classifier")
    convs = getattr(model, "convs", None)
    if convs is not None and len(convs) != len(fanouts):
        raise ValueError(f"train_minibatch: expected one fan-out per model layer "
                         f"({len(convs)}) (got num_neighbors={fanouts})")
    if graph.y is None or graph.x is None:
        raise ValueError("train_minibatch: the graph needs node features `x` and labels `y`")
    if seed is not None:
        manual_seed(seed)
        # same seed, same weights: re-initialise in a fixed order (every layer that can)
        layers = [model] if hasattr(model, "reset_parameters") else model.modules()
        for m in layers:
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    device = _model_device(model)  # batches are sampled on the host, moved to the model
    loader = NeighborLoader(graph, fanouts, batch_size, shuffle=True,
                            input_nodes=_mask(graph, "train_mask", split, "train_minibatch"),
                            seed=seed)
    opt = Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    hist = {k: [] for k in ("losses", "batch_losses", "epoch_times_s", "sample_s", "gather_s",
                            "compute_s")}
    best = {"val_acc": -1.0, "epoch": -1, "state": None}
    for epoch in range(epochs):
        model.train()
        t_epoch, compute, losses = time.perf_counter(), 0.0, []
        # islice, not a break: the loader must not sample (and time) a batch nobody trains
        for i, batch in enumerate(itertools.islice(loader, max_batches)):
            t0 = time.perf_counter()
            batch = batch if device is None else batch.to(device)
            opt.zero_grad()
            loss = ops.cross_entropy(model(batch.x, batch.blocks), batch.y)
            loss.backward()
            opt.step()
            compute += time.perf_counter() - t0
            losses.append(float(loss.item()))
            if on_batch is not None:
                on_batch(epoch, i, losses[-1])
        hist["epoch_times_s"].append(time.perf_counter() - t_epoch)
        hist["sample_s"].append(loader.timings["sample_s"])
        hist["gather_s"].append(loader.timings["gather_s"])
        hist["compute_s"].append(compute)
        hist["batch_losses"].extend(losses)
        hist["losses"].append(float(np.mean(losses)) if losses else float("nan"))
        if eval_every and (epoch + 1) % eval_every == 0 and graph.val_mask is not None:
            val = evaluate(model, graph, eval_batch_size, split)["val_acc"]
            if val > best["val_acc"]:
                best.update(val_acc=val, epoch=epoch, state=_snapshot(model))
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    return {**hist, **evaluate(model, graph, eval_batch_size, split),
            "best_epoch": best["epoch"] if best["state"] is not None else epochs - 1}
