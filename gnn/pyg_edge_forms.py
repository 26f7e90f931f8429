"""Self loops, duplicates and both directions of an ``edge_index`` in PyG's functional form
(``torch_geometric.utils``): `add_self_loops`, `remove_self_loops`, `coalesce` and
`to_undirected`.

These are the edge_index forms of the SparseTensor ops ``sg.add_self_loops`` /
``sg.ops.to_undirected``. As in gnn/edge_index_utils.py, the index work runs on the host with
numpy and the results are Tensors on the input's device in the caller's int32 / int64 index
dtype; the edge values stay Tensors, gathered, concatenated and merged with `sparsegraph.ops`,
so their gradient flows through every function here.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.gnn.edge_args import (
    MISSING,
    count,
    edge_index_array,
    edge_values,
    flag,
    node_count,
    out,
    take,
)
from sparsegraph.gnn.edge_index_utils import _loop_values
from sparsegraph.tensor import Tensor

__all__ = ["add_self_loops", "coalesce", "remove_self_loops", "to_undirected"]

# what ops.scatter merges with ("add" is PyG's name for "sum"); PyG's "mul" / "any" are not
_MERGES = ("sum", "add", "mean", "max", "min")


def _bipartite_size(op: str, ei, num_nodes) -> tuple[int, int]:
    """``(N_src, N_dst)`` of PyG's tuple ``num_nodes``, checked against each row of ``ei``."""
    if len(num_nodes) != 2:
        raise ValueError(f"{op}: expected `num_nodes` an int or a pair (N_src, N_dst) (got "
                         f"{num_nodes!r})")
    return (node_count(op, ei[0], num_nodes[0], "num_nodes[0]"),
            node_count(op, ei[1], num_nodes[1], "num_nodes[1]"))


def add_self_loops(edge_index, edge_attr=None, fill_value=None, num_nodes=None):
    """PyG's ``add_self_loops``: a self loop ``(i, i)`` for every node, appended after the
    edges as given (existing loops are kept: a node that had one then has two; see
    `add_remaining_self_loops` for one loop per node).

    Args:
        edge_index: ``(2, E)`` edges (a Tensor, array or nested list).
        edge_attr: ``(E, ...)`` edge weights or features (default: None).
        fill_value: the loops' ``edge_attr`` rows: None (1), a number, a Tensor broadcast to
            ``(N, ...)``, or ``"sum"`` / ``"add"``, ``"mean"``, ``"max"``, ``"min"``: that
            reduce of the values of the edges into the node (0 without any), as PyG's
            ``compute_loop_attr``. Unused without ``edge_attr``.
        num_nodes: ``N`` (default ``max + 1``), or a pair ``(N_src, N_dst)`` for a bipartite
            ``edge_index``: the loops are then ``i -> i`` for ``i < min(N_src, N_dst)``.

    Returns:
        ``(edge_index, edge_attr)`` with ``E + N`` edges (``edge_attr`` None when not given;
        else differentiable in it and in a Tensor ``fill_value``).

    Example:
        >>> add_self_loops(sg.tensor([[0, 1, 0], [1, 0, 0]]))[0].tolist()
        [[0, 1, 0, 0, 1], [1, 0, 0, 0, 1]]
    """
    op = "add_self_loops"
    ei, device = edge_index_array(op, edge_index)
    if isinstance(num_nodes, tuple | list):
        n_src, n_dst = _bipartite_size(op, ei, num_nodes)
        n = min(n_src, n_dst)
    else:
        n = n_dst = node_count(op, ei, num_nodes)
    values = edge_values(op, "edge_attr", edge_attr, ei.shape[1])
    loop = np.arange(n, dtype=ei.dtype)
    new = out(np.concatenate([ei, np.stack([loop, loop])], axis=1), device)
    if values is None:
        return new, None
    if isinstance(fill_value, Tensor) and fill_value.device != values.device:
        fill_value = fill_value.to(values.device)  # PyG: onto edge_attr's device
    # a reduce fills the loop of target i from the edges into i, for every target: kept to N
    loops = _loop_values(op, values, fill_value, ei, n_dst if isinstance(fill_value, str) else n)
    loops = loops if loops.shape[0] == n else loops[:n]
    return new, ops.cat([values, loops.to(values.dtype)])


def remove_self_loops(edge_index, edge_attr=None):
    """PyG's ``remove_self_loops``: the edges ``(i, j)``, ``i != j``, in their order.

    Returns:
        ``(edge_index, edge_attr)``: ``edge_attr``'s rows of the kept edges (gathered
        differentiably), None when not given.

    Example:
        >>> ei, attr = remove_self_loops([[0, 1, 0], [1, 0, 0]], sg.tensor([[1, 2], [3, 4],
        ...                                                                  [5, 6]]))
        >>> ei.tolist(), attr.tolist()
        ([[0, 1], [1, 0]], [[1, 2], [3, 4]])
    """
    op = "remove_self_loops"
    ei, device = edge_index_array(op, edge_index)
    values = edge_values(op, "edge_attr", edge_attr, ei.shape[1])
    keep = np.flatnonzero(ei[0] != ei[1])
    return out(ei[:, keep], device), take(values, keep)


def _check_reduce(op: str, reduce) -> str:
    if not isinstance(reduce, str) or reduce not in _MERGES:
        raise ValueError(f"{op}: expected `reduce` one of {_MERGES} (got {reduce!r}; PyG's "
                         "'mul' and 'any' are not supported)")
    return reduce


def _merged(op: str, ei, device, edge_attr, num_nodes, reduce: str, is_sorted: bool,
            sort_by_row: bool, rows=None, n_values: int | None = None):
    """PyG's ``coalesce`` of ``ei`` (host, already checked). ``rows``: the row of
    ``edge_attr`` (of ``n_values`` rows) of each edge of ``ei`` (default: edge ``k`` has
    row ``k``)."""
    n = node_count(op, ei, num_nodes)
    if n * n > np.iinfo(np.int64).max:
        raise ValueError(f"{op}: {n} nodes overflow the int64 keys of (row, col) pairs "
                         f"({n}^2 > 2^63 - 1)")
    first, second = (ei[0], ei[1]) if sort_by_row else (ei[1], ei[0])
    key = first.astype(np.int64) * n + second
    perm = np.arange(key.size) if is_sorted else np.argsort(key, kind="stable")
    key = key[perm]
    new = np.ones(key.size, bool)
    new[1:] = key[1:] > key[:-1]  # as PyG: with is_sorted, a key not above its previous merges
    result = out(ei[:, perm[new]], device)
    if isinstance(edge_attr, str) and edge_attr == MISSING:
        return result
    source, n_values = (perm, ei.shape[1]) if rows is None else (rows[perm], n_values)
    size = int(new.sum())
    group = np.cumsum(new) - 1

    def merge(name: str, value):
        value = take(edge_values(op, name, value, n_values), source)
        if value is None or new.all():
            return value
        return ops.scatter(value, group, size, reduce)

    if isinstance(edge_attr, list | tuple):
        return result, [merge(f"edge_attr[{i}]", a) for i, a in enumerate(edge_attr)]
    return result, merge("edge_attr", edge_attr)


def coalesce(edge_index, edge_attr=MISSING, num_nodes: int | None = None, reduce: str = "sum",
             is_sorted: bool = False, sort_by_row: bool = True):
    """PyG's ``coalesce``: the edges sorted by ``(row, col)`` (by ``(col, row)`` with
    ``sort_by_row=False``) with duplicates merged into one, their ``edge_attr`` rows reduced
    by ``reduce``.

    Args:
        edge_index: ``(2, E)`` edges.
        edge_attr: ``(E, ...)`` edge values, a list of them, or None; differentiable.
        num_nodes: ``N`` (default ``max + 1``).
        reduce: ``"sum"`` (alias ``"add"``), ``"mean"``, ``"max"`` or ``"min"``; with
            ``"max"`` / ``"min"`` the gradient goes to the first of tied duplicates.
        is_sorted: ``edge_index`` is already sorted (then, as PyG, only an edge equal to the
            one before it is merged).
        sort_by_row: sort row-wise (else column-wise).

    Returns:
        As PyG: ``edge_index`` alone when ``edge_attr`` is not passed, else
        ``(edge_index, edge_attr)`` (None stays None; a list gives a list).

    Example:
        >>> ei = sg.tensor([[1, 1, 2, 3], [3, 3, 1, 2]])
        >>> coalesce(ei).tolist()
        [[1, 2, 3], [3, 1, 2]]
        >>> coalesce(ei, sg.tensor([1.0, 1.0, 1.0, 1.0]))[1].tolist()
        [2.0, 1.0, 1.0]
    """
    op = "coalesce"
    ei, device = edge_index_array(op, edge_index)
    return _merged(op, ei, device, edge_attr, num_nodes, _check_reduce(op, reduce),
                   flag(op, "is_sorted", is_sorted), flag(op, "sort_by_row", sort_by_row))


def to_undirected(edge_index, edge_attr=MISSING, num_nodes: int | None = None,
                  reduce: str = "add"):
    """PyG's ``to_undirected``: every edge in both directions, coalesced (`coalesce`: sorted
    by ``(row, col)``, duplicates merged by ``reduce``). An edge given in both directions
    keeps one of each, its two ``edge_attr`` rows merged; as in PyG, a self loop meets its own
    copy, so ``reduce="add"`` doubles its value. ``to_undirected(edge_index, N)`` (an int
    second argument) is PyG's older form for ``num_nodes``.

    Args:
        edge_index: ``(2, E)`` edges.
        edge_attr: ``(E, ...)`` edge values, a list of them, or None; differentiable.
        num_nodes: ``N`` (default ``max + 1``).
        reduce: ``"add"`` (alias ``"sum"``), ``"mean"``, ``"max"`` or ``"min"``.

    Returns:
        As PyG: ``edge_index`` alone when ``edge_attr`` is not passed, else
        ``(edge_index, edge_attr)``.

    Example:
        >>> to_undirected(sg.tensor([[0, 1, 1], [1, 0, 2]])).tolist()
        [[0, 1, 1, 2], [1, 0, 2, 1]]
    """
    op = "to_undirected"
    if isinstance(edge_attr, Integral) and not isinstance(edge_attr, bool):
        if num_nodes is not None:
            raise TypeError(f"{op}: got the number of nodes twice, as the second argument and "
                            f"num_nodes= ({edge_attr} and {num_nodes})")
        num_nodes, edge_attr = count(op, "num_nodes", edge_attr), MISSING
    ei, device = edge_index_array(op, edge_index)
    reduce = _check_reduce(op, reduce)
    rows = np.tile(np.arange(ei.shape[1]), 2)  # the edge's own row for both directions
    return _merged(op, np.concatenate([ei, ei[::-1]], axis=1), device, edge_attr, num_nodes,
                   reduce, False, True, rows, ei.shape[1])
