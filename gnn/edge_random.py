"""Random edits and samples of an ``edge_index`` in PyG's functional form
(``torch_geometric.utils``): `dropout_node`, `add_random_edge`,
`structured_negative_sampling` (with `structured_negative_sampling_feasible`) and
`batched_negative_sampling`.

The draws come from ``generator`` (a `sparsegraph.Generator`; default: the global one that
`sparsegraph.manual_seed` seeds), so a seed makes them reproducible. Results are Tensors on
the input's device in the caller's index dtype (int32 / int64), except
`batched_negative_sampling`, which returns what `negative_sampling` does.
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.gnn.edge_args import (
    edge_index_array,
    flag,
    host_array,
    node_count,
    out,
    probability,
)
from sparsegraph.gnn.edge_index_utils import subgraph
from sparsegraph.gnn.link import _sample
from sparsegraph.tensor import TRACE, Tensor, wrap

__all__ = ["add_random_edge", "batched_negative_sampling", "dropout_node",
           "structured_negative_sampling", "structured_negative_sampling_feasible"]


def _untraced(op: str) -> None:
    if TRACE.tracer is not None:  # a new draw changes the number of edges on every call
        TRACE.tracer.unsupported(f"{op} (its edge count changes with every draw)",
                                 "draw outside the compiled step")


def dropout_node(edge_index, p: float = 0.5, num_nodes: int | None = None,
                 training: bool = True, relabel_nodes: bool = False, *, generator=None):
    """PyG's ``dropout_node``: drop each node with probability ``p`` and every edge at a
    dropped node.

    Returns:
        ``(edge_index, edge_mask, node_mask)``: the kept edges (renumbered to the kept
        nodes' positions with ``relabel_nodes``), the ``(E,)`` bool mask of the kept edges
        and the ``(N,)`` bool mask of the kept nodes. ``training=False`` or ``p=0`` keeps
        everything (``edge_index`` returned as given).
    """
    op = "dropout_node"
    p = probability(op, "p", p)
    ei, device = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    flag(op, "relabel_nodes", relabel_nodes)
    if not flag(op, "training", training) or p == 0.0:
        return (edge_index if isinstance(edge_index, Tensor) else out(ei, device),
                out(np.ones(ei.shape[1], bool), device), out(np.ones(n, bool), device))
    _untraced(op)
    node_mask = rng_of(generator).random(n) >= p  # kept with probability 1 - p
    kept, _, edge_mask = subgraph(node_mask, ei, relabel_nodes=relabel_nodes,
                                  return_edge_mask=True)
    place = lambda t: wrap(backend.to_device(t.array, device))
    return place(kept), place(edge_mask), out(node_mask, device)


def add_random_edge(edge_index, p: float = 0.5, force_undirected: bool = False,
                    num_nodes=None, training: bool = True, *, generator=None):
    """PyG's ``add_random_edge``: append ``round(E * p)`` uniformly drawn node pairs.

    As PyG, the pairs are drawn with replacement and not checked against the graph: an added
    edge may repeat an existing one or be a self loop. With ``force_undirected``, only the
    drawn pairs with ``row < col`` are kept and each is added in both directions.
    ``num_nodes`` is ``N`` or ``(N_src, N_dst)`` for a bipartite graph (default ``max + 1``
    of each row).

    Returns:
        ``(edge_index, added)``: the edges followed by the added ones, and the ``(2, K)``
        added edges alone (empty when ``training=False`` or ``p=0``).
    """
    op = "add_random_edge"
    p = probability(op, "p", p)
    ei, device = edge_index_array(op, edge_index)
    undirected = flag(op, "force_undirected", force_undirected)
    pair = isinstance(num_nodes, list | tuple)
    if pair and len(num_nodes) != 2:
        raise ValueError(f"{op}: expected `num_nodes` to be an int or a pair (N_src, N_dst) "
                         f"(got {num_nodes!r})")
    if undirected and pair:
        raise ValueError(f"{op}: `force_undirected` is not supported for a bipartite graph "
                         f"(got num_nodes={num_nodes!r})")
    sizes = tuple(num_nodes) if pair else (num_nodes, num_nodes)
    n_src, n_dst = (  # PyG's maybe_num_nodes: max + 1 of the whole edge_index by default
        node_count(op, ei if sizes[k] is None else ei[k], sizes[k],
                   f"num_nodes[{k}]" if pair else "num_nodes") for k in (0, 1))
    if not flag(op, "training", training) or p == 0.0:
        return out(ei, device), out(np.zeros((2, 0), ei.dtype), device)
    k = round(ei.shape[1] * p)
    if k and (n_src == 0 or n_dst == 0):
        raise ValueError(f"{op}: cannot add edges to a graph without nodes (num_nodes="
                         f"{num_nodes!r})")
    _untraced(op)
    rng = rng_of(generator)
    row = rng.integers(0, max(n_src, 1), k, dtype=np.int64)
    col = rng.integers(0, max(n_dst, 1), k, dtype=np.int64)
    if undirected:
        keep = row < col
        row, col = row[keep], col[keep]
        row, col = np.concatenate([row, col]), np.concatenate([col, row])
    added = np.stack([row, col]).astype(ei.dtype)
    return out(np.concatenate([ei, added], axis=1), device), out(added, device)


def _full_sources(ei, n: int, loops_allowed: bool):
    """The nodes whose out-neighbours (distinct, self aside unless ``loops_allowed``) are
    every candidate: ``N`` of them, or ``N - 1`` when loops are not drawn."""
    row, col = ei[0].astype(np.int64), ei[1].astype(np.int64)
    if not loops_allowed:
        row, col = row[row != col], col[row != col]
    keys = np.unique(row * max(n, 1) + col)
    deg = np.bincount(keys // max(n, 1), minlength=n)
    return np.flatnonzero(deg >= (n if loops_allowed else n - 1))


def structured_negative_sampling_feasible(edge_index, num_nodes: int | None = None,
                                          contains_neg_self_loops: bool = True) -> bool:
    """PyG's ``structured_negative_sampling_feasible``: whether no node is joined to every
    candidate node (all ``N`` nodes, or the ``N - 1`` others without self loops), so that a
    negative exists for every node."""
    op = "structured_negative_sampling_feasible"
    ei, _ = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    loops = flag(op, "contains_neg_self_loops", contains_neg_self_loops)
    return _full_sources(ei, n, loops).size == 0


def structured_negative_sampling(edge_index, num_nodes: int | None = None,
                                 contains_neg_self_loops: bool = True, *, generator=None):
    """PyG's ``structured_negative_sampling``: for every edge ``(i, j)`` a node ``k``
    drawn uniformly among those with ``(i, k)`` not an edge (and ``k != i`` unless
    ``contains_neg_self_loops``), by rejection as PyG.

    Returns:
        ``(i, j, k)``: three ``(E,)`` index Tensors.

    Raises:
        ValueError: an edge whose source is joined to every candidate node (PyG would loop
            forever): no negative exists for it.
    """
    op = "structured_negative_sampling"
    ei, device = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    loops = flag(op, "contains_neg_self_loops", contains_neg_self_loops)
    full = _full_sources(ei, n, loops)
    if full.size and np.isin(ei[0], full).any():
        raise ValueError(f"{op}: node {int(full[0])} is joined to every "
                         f"{'node' if loops else 'other node'}: no negative exists for its "
                         f"edges (check structured_negative_sampling_feasible)")
    _untraced(op)
    row, col = ei[0].astype(np.int64), ei[1].astype(np.int64)
    positives = row * n + col
    if not loops:
        positives = np.concatenate([positives, np.arange(n, dtype=np.int64) * (n + 1)])
    positives = np.unique(positives)
    rng = rng_of(generator)
    k = np.zeros(row.size, np.int64)
    rest = np.arange(row.size)
    while rest.size:  # rejection rounds: each keeps the draws that are no edge
        draw = rng.integers(0, n, rest.size, dtype=np.int64)
        k[rest] = draw
        rest = rest[np.isin(row[rest] * n + draw, positives)]
    return out(ei[0], device), out(ei[1], device), out(k.astype(ei.dtype), device)


def batched_negative_sampling(edge_index, batch, num_neg_samples: int | None = None,
                              method: str = "sparse", force_undirected: bool = False, *,
                              generator=None):
    """PyG's ``batched_negative_sampling``: `negative_sampling` within each graph of a batch.

    Args:
        edge_index: ``(2, E)`` edges of the batch, every edge inside one graph.
        batch: the ``(N,)`` graph id of every node, sorted; or ``(src_batch, dst_batch)``
            for bipartite graphs.
        num_neg_samples: negatives per graph (default: each graph's own edge count).
        method, force_undirected, generator: as `negative_sampling`.

    Returns:
        ``(2, K)`` int64 pairs, graph after graph, in global node ids: a Tensor for a Tensor
        ``edge_index`` (on its device), else a numpy array, as `negative_sampling`.
    """
    op = "batched_negative_sampling"
    _untraced(op)
    ei, device = edge_index_array(op, edge_index)
    ei = ei.astype(np.int64)
    pair = isinstance(batch, list | tuple)
    if pair and len(batch) != 2:
        raise ValueError(f"{op}: expected `batch` to be a Tensor or a pair (src_batch, "
                         f"dst_batch) (got {len(batch)} entries)")
    batches = [host_array(op, name, b)[0].astype(np.int64) for name, b in
               zip(("batch[0]", "batch[1]") if pair else ("batch",),
                   batch if pair else (batch,), strict=True)]
    for name, b in zip(("src", "dst"), batches * (1 if pair else 2), strict=True):
        if b.ndim != 1 or (b.size > 1 and (b[1:] < b[:-1]).any()):
            raise ValueError(f"{op}: expected a sorted 1-D {name} `batch` (got shape "
                             f"{b.shape})")
    src_b, dst_b = (batches[0], batches[-1])
    node_count(op, ei[0], src_b.size, "len(src batch)")
    node_count(op, ei[1], dst_b.size, "len(dst batch)")
    if not pair and (src_b[ei[0]] != src_b[ei[1]]).any():
        raise ValueError(f"{op}: expected every edge inside one graph of `batch`")
    graphs = int(max(src_b.max(initial=-1), dst_b.max(initial=-1))) + 1
    n_src, n_dst = (np.bincount(b, minlength=graphs) for b in (src_b, dst_b))
    ptr_src = np.concatenate([[0], np.cumsum(n_src)[:-1]])
    ptr_dst = np.concatenate([[0], np.cumsum(n_dst)[:-1]])
    edge_graph = src_b[ei[0]]
    order = np.argsort(edge_graph, kind="stable")
    bounds = np.searchsorted(edge_graph[order], np.arange(graphs + 1))
    parts = []
    for g in range(graphs):  # one draw per graph, as PyG
        local = ei[:, order[bounds[g]:bounds[g + 1]]] - np.array([[ptr_src[g]], [ptr_dst[g]]])
        size = (int(n_src[g]), int(n_dst[g])) if pair else int(n_src[g])
        neg = _sample(local, size, num_neg_samples, method, force_undirected,
                      generator=generator)
        parts.append(neg + np.array([[ptr_src[g]], [ptr_dst[g]]]))
    result = np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), np.int64)
    return out(result, device) if isinstance(edge_index, Tensor) else result
