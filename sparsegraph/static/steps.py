"""Ready-made training steps to capture: what `sparsegraph graph` and the benchmarks compile."""

from __future__ import annotations

import sparsegraph.ops as ops


def node_classification_step(model, graph, optimizer):
    """A full-batch step: ``zero_grad``, forward on the whole graph, cross-entropy on the
    training nodes, ``backward``, ``optimizer.step``; returns the loss.

    Args:
        model: a node-classification model called as ``model(graph.x, graph.adj)``.
        graph: a `sparsegraph.Graph` with ``x``, ``adj``, ``y`` and ``train_mask``.
        optimizer: over ``model.parameters()``.
    """
    x, adj = graph.x, graph.adj
    mask = graph.train_mask
    if mask.ndim == 2:  # several fixed splits: the first
        mask = mask[:, 0]
    target = graph.y[mask]

    def step():
        optimizer.zero_grad()
        out = model(x, adj)
        loss = ops.cross_entropy(out[mask], target)
        loss.backward()
        optimizer.step()
        return loss

    return step
