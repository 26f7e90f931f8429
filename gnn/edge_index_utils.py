"""Editing an ``edge_index`` in PyG's functional form (``torch_geometric.utils``):
`sort_edge_index`, `subgraph`, `bipartite_subgraph`, `remove_isolated_nodes`,
`add_remaining_self_loops` and `get_laplacian`.

``edge_index`` is a ``(2, E)`` integer Tensor, array or nested list (row 0 source, row 1
target). The index work runs on the host with numpy; the results are Tensors on the input's
device, in the caller's index dtype when it is int32 or int64 (int64 otherwise). Edge values
(``edge_attr``, ``edge_weight``) stay Tensors: they are gathered, concatenated and scaled with
`sparsegraph.ops`, so their gradient flows through every function here.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.creation import full, get_default_dtype, ones
from sparsegraph.gnn.edge_args import (
    MISSING,
    count,
    edge_index_array,
    edge_values,
    flag,
    host_array,
    node_count,
    out,
    take,
)
from sparsegraph.tensor import Tensor

__all__ = ["add_remaining_self_loops", "bipartite_subgraph", "get_laplacian",
           "remove_isolated_nodes", "sort_edge_index", "subgraph"]

_FILL_REDUCES = {"sum": "sum", "add": "sum", "mean": "mean", "max": "max", "min": "min"}


def sort_edge_index(edge_index, edge_attr=MISSING, num_nodes: int | None = None,
                    sort_by_row: bool = True):
    """PyG's ``sort_edge_index``: the edges sorted by ``(row, col)`` (by ``(col, row)`` with
    ``sort_by_row=False``); the sort is stable, so repeated edges keep their order.

    Returns, as PyG: ``edge_index`` alone when ``edge_attr`` is not passed; else
    ``(edge_index, edge_attr)`` with ``edge_attr`` (a Tensor ``(E, ...)``, a list of them, or
    None) permuted alike, differentiably.
    """
    op = "sort_edge_index"
    ei, device = edge_index_array(op, edge_index)
    node_count(op, ei, num_nodes)
    flag(op, "sort_by_row", sort_by_row)
    first, second = (ei[0], ei[1]) if sort_by_row else (ei[1], ei[0])
    perm = np.lexsort((second, first))
    result = out(ei[:, perm], device)
    if isinstance(edge_attr, str) and edge_attr == MISSING:
        return result
    if isinstance(edge_attr, list | tuple):
        return result, [take(edge_values(op, f"edge_attr[{i}]", a, perm.size), perm)
                        for i, a in enumerate(edge_attr)]
    return result, take(edge_values(op, "edge_attr", edge_attr, perm.size), perm)


def _node_mask(op: str, name: str, subset, n_default: int, n_given):
    """``(mask, subset_ids, n)`` of a node subset given as ids or as a bool mask (whose length
    is the node count, as PyG's ``subset.size(0)``)."""
    s, _ = host_array(op, name, subset, "biu")
    if s.dtype == bool:
        if s.ndim != 1:
            raise ValueError(f"{op}: expected a 1-D bool mask `{name}` (got shape {s.shape})")
        return s, np.flatnonzero(s), s.size
    s = s.reshape(-1).astype(np.int64)
    if s.size and int(s.min()) < 0:
        raise ValueError(f"{op}: expected non-negative node ids in `{name}` (got "
                         f"{int(s.min())})")
    n = n_default if n_given is None else n_given
    if n_given is None and s.size:
        n = max(n, int(s.max()) + 1)
    elif s.size and int(s.max()) >= n:
        raise ValueError(f"{op}: expected `{name}` ids below {n}, the number of nodes (got "
                         f"{int(s.max())})")
    mask = np.zeros(n, bool)
    mask[s] = True
    return mask, s, n


def _relabel(ids, subset, n: int):
    """Each id's position in ``subset`` (PyG's ``map_index``: in ``subset``'s order)."""
    mapping = np.full(n, -1, np.int64)
    mapping[subset] = np.arange(subset.size)
    return mapping[ids]


def subgraph(subset, edge_index, edge_attr=None, relabel_nodes: bool = False,
             num_nodes: int | None = None, *, return_edge_mask: bool = False):
    """PyG's ``subgraph``: the edges whose two ends are in ``subset``.

    Args:
        subset: the nodes kept, as ids (a Tensor, array or list) or a bool mask over the
            nodes (its length is then the node count).
        edge_index: ``(2, E)`` edges.
        edge_attr: ``(E, ...)`` edge values, gathered differentiably. (default: None)
        relabel_nodes: renumber each kept node to its position in ``subset`` (in the
            order of the ids given; ascending for a mask). (default: False)
        num_nodes: the node count (default: ``max + 1`` of ``edge_index`` and ``subset``).
        return_edge_mask: also return the ``(E,)`` bool mask of the kept edges.

    Returns:
        ``(edge_index, edge_attr)`` or ``(edge_index, edge_attr, edge_mask)``.
    """
    op = "subgraph"
    ei, device = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    mask, ids, n = _node_mask(op, "subset", subset, n, count(op, "num_nodes", num_nodes))
    if ei.size and int(ei.max()) >= n:
        raise ValueError(f"{op}: expected `edge_index` node ids below {n}, the length of the "
                         f"mask `subset` (got {int(ei.max())})")
    values = edge_values(op, "edge_attr", edge_attr, ei.shape[1])
    edge_mask = mask[ei[0]] & mask[ei[1]]
    kept = ei[:, edge_mask]
    if flag(op, "relabel_nodes", relabel_nodes):
        kept = _relabel(kept, ids, n).astype(ei.dtype)
    result = (out(kept, device), take(values, np.flatnonzero(edge_mask)))
    if flag(op, "return_edge_mask", return_edge_mask):
        return result + (out(edge_mask, device),)
    return result


def bipartite_subgraph(subset, edge_index, edge_attr=None, relabel_nodes: bool = False,
                       size=None, return_edge_mask: bool = False):
    """PyG's ``bipartite_subgraph``: the edges of a bipartite graph whose source is in
    ``subset[0]`` and whose target is in ``subset[1]``.

    Args:
        subset: ``(src_subset, dst_subset)``, each ids or a bool mask over its node set.
        edge_index: ``(2, E)`` edges, row 0 into the source set, row 1 into the target set.
        edge_attr: ``(E, ...)`` edge values, gathered differentiably. (default: None)
        relabel_nodes: renumber sources and targets to their positions in their subsets.
        size: ``(N_src, N_dst)`` (default: ``max + 1`` of each row and subset).
        return_edge_mask: also return the ``(E,)`` bool mask of the kept edges.

    Returns:
        ``(edge_index, edge_attr)`` or ``(edge_index, edge_attr, edge_mask)``.
    """
    op = "bipartite_subgraph"
    if not isinstance(subset, list | tuple) or len(subset) != 2:
        raise TypeError(f"{op}: expected `subset` to be a pair (src_subset, dst_subset) (got "
                        f"{type(subset).__name__})")
    if size is not None and (not isinstance(size, list | tuple) or len(size) != 2):
        raise TypeError(f"{op}: expected `size` to be a pair (N_src, N_dst) (got {size!r})")
    ei, device = edge_index_array(op, edge_index)
    size = (None, None) if size is None else size
    masks, ids, counts = [], [], []
    for k, what in enumerate(("source", "target")):
        n = node_count(op, ei[k], size[k], f"size[{k}]")
        m, s, n = _node_mask(op, f"subset[{k}]", subset[k], n,
                             count(op, f"size[{k}]", size[k]))
        if ei.size and int(ei[k].max()) >= n:
            raise ValueError(f"{op}: expected {what} ids below {n}, the length of the mask "
                             f"`subset[{k}]` (got {int(ei[k].max())})")
        masks.append(m), ids.append(s), counts.append(n)
    values = edge_values(op, "edge_attr", edge_attr, ei.shape[1])
    edge_mask = masks[0][ei[0]] & masks[1][ei[1]]
    kept = ei[:, edge_mask]
    if flag(op, "relabel_nodes", relabel_nodes):
        kept = np.stack([_relabel(kept[k], ids[k], counts[k]) for k in (0, 1)]).astype(
            ei.dtype)
    result = (out(kept, device), take(values, np.flatnonzero(edge_mask)))
    if flag(op, "return_edge_mask", return_edge_mask):
        return result + (out(edge_mask, device),)
    return result


def _last_loop(ei, n: int):
    """Per node, the position of its last self loop in ``ei`` (-1 without one)."""
    loops = np.flatnonzero(ei[0] == ei[1])
    last = np.full(n, -1, np.int64)
    np.maximum.at(last, ei[0, loops], loops)
    return last


def remove_isolated_nodes(edge_index, edge_attr=None, num_nodes: int | None = None):
    """PyG's ``remove_isolated_nodes``: drop the nodes that are an end of no edge (self
    loops aside: a node with only loops is isolated and goes, with its loops) and renumber
    the rest in order.

    As PyG, the result lists the non-loop edges (relabelled, in their order), then one self
    loop per kept node that had any (its last one, with that loop's ``edge_attr``), by node.

    Returns:
        ``(edge_index, edge_attr, mask)``: the relabelled edges, their ``(E', ...)`` values
        (None without ``edge_attr``; gathered differentiably), and the ``(N,)`` bool mask of
        the kept nodes.
    """
    op = "remove_isolated_nodes"
    ei, device = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    values = edge_values(op, "edge_attr", edge_attr, ei.shape[1])
    plain = np.flatnonzero(ei[0] != ei[1])
    mask = np.zeros(n, bool)
    mask[ei[:, plain].reshape(-1)] = True
    last = _last_loop(ei, n)
    loops = last[mask & (last >= 0)]
    assoc = np.full(n, -1, np.int64)
    assoc[mask] = np.arange(int(mask.sum()))
    keep = np.concatenate([plain, loops])
    new = assoc[ei[:, keep]].astype(ei.dtype)
    return out(new, device), take(values, keep), out(mask, device)


def _loop_values(op: str, values: Tensor, fill_value, ei, n: int) -> Tensor:
    """The ``(N, ...)`` values of new self loops, PyG's ``compute_loop_attr``."""
    shape = (n,) + tuple(values.shape[1:])
    if fill_value is None:
        return full(shape, 1, dtype=values.dtype, device=values.device)
    if isinstance(fill_value, str):
        if fill_value not in _FILL_REDUCES:
            raise ValueError(f"{op}: expected `fill_value` 'sum', 'add', 'mean', 'max' or "
                             f"'min' (got {fill_value!r})")
        col = np.asarray(ei[1], np.int64)
        return ops.scatter(values, col, n, _FILL_REDUCES[fill_value]).to(values.dtype)
    if isinstance(fill_value, Tensor):
        f = fill_value.to(values.dtype)
        if f.ndim != values.ndim:
            f = f.reshape((1,) + tuple(f.shape))
        try:
            return ops.expand(f, shape)
        except ValueError:
            raise ValueError(f"{op}: expected a Tensor `fill_value` that broadcasts to {shape}"
                             f" (got shape {tuple(fill_value.shape)})") from None
    if isinstance(fill_value, bool) or not isinstance(fill_value, Real):
        raise TypeError(f"{op}: expected `fill_value` to be None, a number, a Tensor or a "
                        f"reduce name (got {type(fill_value).__name__})")
    return full(shape, fill_value, dtype=values.dtype, device=values.device)


def add_remaining_self_loops(edge_index, edge_attr=None, fill_value=None,
                             num_nodes: int | None = None):
    """PyG's ``add_remaining_self_loops``: one self loop per node, keeping existing ones.

    The result lists the non-loop edges in their order, then the loops ``(i, i)`` for
    ``i = 0 .. N-1``. A node that had loops keeps the value of its last one; the others get
    ``fill_value``: None (1), a number, a Tensor broadcast to ``(N, ...)``, or ``"sum"`` /
    ``"add"``, ``"mean"``, ``"max"``, ``"min"``: that reduce of the node's incoming edge
    values (0 without in-edges), as PyG. The values are differentiable (a Tensor
    ``fill_value`` too); without ``edge_attr``, ``fill_value`` is unused.

    Returns:
        ``(edge_index, edge_attr)`` (``edge_attr`` None when not given).
    """
    op = "add_remaining_self_loops"
    ei, device = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    values = edge_values(op, "edge_attr", edge_attr, ei.shape[1])
    plain = np.flatnonzero(ei[0] != ei[1])
    loop_ids = np.arange(n, dtype=ei.dtype)
    new = np.concatenate([ei[:, plain], np.stack([loop_ids, loop_ids])], axis=1)
    if values is None:
        return out(new, device), None
    loop_values = _loop_values(op, values, fill_value, ei, n)
    last = _last_loop(ei, n)
    source = np.where(last >= 0, last, ei.shape[1] + np.arange(n))
    both = ops.cat([values, loop_values.to(values.dtype)])
    return out(new, device), take(both, np.concatenate([plain, source]))


def get_laplacian(edge_index, edge_weight=None, normalization: str | None = None,
                  dtype=None, num_nodes: int | None = None):
    """PyG's ``get_laplacian``: the graph Laplacian as ``(edge_index, edge_weight)``.

    Self loops are removed first; ``d_i`` is the weighted out-degree (the sum of the weights
    of the edges with source ``i``). ``normalization``: None, ``L = D - A`` (the weights
    negated, then ``d_i`` on the diagonal); ``"sym"``, ``L = I - D^-1/2 A D^-1/2``;
    ``"rw"``, ``L = I - D^-1 A`` (``1/d`` is 0 where ``d = 0``). As PyG, the result lists
    the off-diagonal edges in their order, then one diagonal entry per node ``0 .. N-1``.

    Args:
        edge_index: ``(2, E)`` edges.
        edge_weight: ``(E,)`` weights (default ones of ``dtype``); differentiable.
        normalization: None, ``"sym"`` or ``"rw"``.
        dtype: the weights' dtype without ``edge_weight`` (default: the default float).
        num_nodes: the node count (default: ``max + 1``).
    """
    op = "get_laplacian"
    if normalization not in (None, "sym", "rw"):
        raise ValueError(f"get_laplacian: expected `normalization` None, 'sym' or 'rw' (got "
                         f"{normalization!r})")
    ei, device = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    w = edge_values(op, "edge_weight", edge_weight, ei.shape[1])
    if w is not None and w.ndim != 1:
        raise ValueError(f"{op}: expected a 1-D `edge_weight` (got shape {tuple(w.shape)})")
    keep = np.flatnonzero(ei[0] != ei[1])
    ei = ei[:, keep]
    row, col = ei[0].astype(np.int64), ei[1].astype(np.int64)
    w = (ones(keep.size, dtype=dtype or get_default_dtype(), device=device) if w is None
         else take(w, keep))
    deg = ops.scatter(w, row, n, "sum")
    loop_ids = np.arange(n, dtype=ei.dtype)
    new = out(np.concatenate([ei, np.stack([loop_ids, loop_ids])], axis=1), device)
    if normalization is None:
        return new, ops.cat([-w, deg])
    zero = deg == 0
    safe = ops.where(zero, 1.0, deg)
    if normalization == "sym":
        dis = ops.where(zero, 0.0, ops.rsqrt(safe))
        w = ops.gather_rows(dis, row) * w * ops.gather_rows(dis, col)
    else:
        w = ops.gather_rows(ops.where(zero, 0.0, ops.reciprocal(safe)), row) * w
    return new, ops.cat([-w, ones(n, dtype=w.dtype, device=device)])
