"""The random graph the layer tests share and the three adjacency forms a layer takes."""

import numpy as np

import sparsegraph as sg


def random_edges(linked: int = 7, draws: int = 20, loops=(1, 4), seed: int = 0) -> np.ndarray:
    """``(2, E)`` int64 directed edges on nodes ``0..linked-1`` (nodes past them isolated),
    with self loops at ``loops`` and one repeated edge, in shuffled order."""
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, linked, draws), rng.integers(0, linked, draws)
    keep = src != dst
    src = np.concatenate([src[keep], list(loops), [src[keep][0]]])
    dst = np.concatenate([dst[keep], list(loops), [dst[keep][0]]])
    order = rng.permutation(src.size)
    return np.stack([src[order], dst[order]]).astype(np.int64)


def adjacency_forms(ei: np.ndarray, n: int, values=None) -> list:
    """``(name, adjacency, per-edge values in that adjacency's edge order)`` for the three
    inputs a layer takes: the edge_index, a COO SparseTensor in the same (caller) order, and a
    Graph (whose edges and edge_attr are kept sorted by target)."""
    out = [("edge_index", ei, values),
           ("sparse", sg.sparse_coo(ei[::-1].copy(), None, (n, n), dtype="float64"), values)]
    if values is None:
        out.append(("graph", sg.Graph(edge_index=ei, num_nodes=n), None))
    else:
        g = sg.Graph(edge_index=ei, num_nodes=n, edge_attr=sg.tensor(values))  # float64
        out.append(("graph", g, g.edge_attr))
    return out


def arr(t) -> np.ndarray:
    return t.detach().numpy()


def lin_np(lin, x: np.ndarray) -> np.ndarray:
    """A Linear layer applied in numpy (the references' ``x W^T + b``)."""
    out = x @ arr(lin.weight).T
    return out if lin.bias is None else out + arr(lin.bias)


def fit_graphs(forward, opt, graphs: list, epochs: int) -> tuple[float, list, float]:
    """Train a graph classifier ``forward(batch) -> (B, C)`` logits with ``opt`` on
    ``graphs``, batches of 32 in a seeded order per epoch; ``(accuracy before, each epoch's
    summed loss, accuracy after)``, accuracies over all graphs in one batch."""
    from sparsegraph.datasets import GraphLoader

    def accuracy():
        g = next(iter(GraphLoader(graphs, batch_size=len(graphs))))
        with sg.no_grad():
            return float((forward(g).argmax(1).numpy() == g.y.numpy()).mean())

    before, losses = accuracy(), []
    for epoch in range(epochs):
        total = 0.0
        for g in GraphLoader(graphs, batch_size=32, shuffle=True, seed=epoch):
            loss = sg.ops.cross_entropy(forward(g), g.y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.item())
        losses.append(total)
    return before, losses, accuracy()
