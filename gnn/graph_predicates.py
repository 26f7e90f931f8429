"""Questions about an ``edge_index`` in PyG's functional form: `is_undirected`,
`contains_self_loops` and `contains_isolated_nodes` (``torch_geometric.utils``). Each reads the
indices on the host and returns a Python bool."""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.gnn.edge_args import edge_index_array, edge_values, node_count
from sparsegraph.tensor import host_values

__all__ = ["contains_isolated_nodes", "contains_self_loops", "is_undirected"]


def is_undirected(edge_index, edge_attr=None, num_nodes: int | None = None) -> bool:
    """PyG's ``is_undirected``: whether every edge ``(u, v)`` has its reverse ``(v, u)``,
    with equal ``edge_attr`` rows when given.

    As PyG, the edges are sorted by ``(row, col)`` and by ``(col, row)`` and the two lists
    compared entry by entry, so a repeated edge needs as many reverses (a multigraph
    counts), and repeated edges pair with their reverses in their order in ``edge_index``
    (the sorts are stable).

    Args:
        edge_index: ``(2, E)`` integer Tensor or array.
        edge_attr: ``(E, ...)`` Tensor of edge weights or features, or a list of them
            (each compared). (default: None)
        num_nodes: the number of nodes, checked against the ids (default: ``max + 1``).
    """
    op = "is_undirected"
    ei, _ = edge_index_array(op, edge_index)
    node_count(op, ei, num_nodes)
    row, col = ei[0].astype(np.int64), ei[1].astype(np.int64)
    attrs = [] if edge_attr is None else (
        list(edge_attr) if isinstance(edge_attr, list | tuple) else [edge_attr])
    arrays = []
    for i, a in enumerate(attrs):
        name = "edge_attr" if len(attrs) == 1 else f"edge_attr[{i}]"
        a = edge_values(op, name, a, row.size)
        arrays.append(np.asarray(backend.to_device(
            host_values(a, f"{op}: `{name}` compared on the host"), "cpu")))
    n = max(int(ei.max()) + 1 if ei.size else 1, 1)
    if n <= 3037000499:  # n * n fits in int64: one stable sort of keys (lexsort is slower)
        by_row = np.argsort(row * n + col, kind="stable")
        by_col = by_row[np.argsort((col * n + row)[by_row], kind="stable")]
    else:
        by_row = np.lexsort((col, row))
        by_col = by_row[np.lexsort((row[by_row], col[by_row]))]  # ties keep by_row order
    if not (np.array_equal(row[by_row], col[by_col])
            and np.array_equal(col[by_row], row[by_col])):
        return False
    return all(np.array_equal(a[by_row], a[by_col]) for a in arrays)


def contains_self_loops(edge_index) -> bool:
    """PyG's ``contains_self_loops``: whether some edge is ``(i, i)``."""
    ei, _ = edge_index_array("contains_self_loops", edge_index)
    return bool((ei[0] == ei[1]).any())


def contains_isolated_nodes(edge_index, num_nodes: int | None = None) -> bool:
    """PyG's ``contains_isolated_nodes``: whether some node of ``range(num_nodes)`` is an
    end of no edge; self loops are left out first, so a node whose only edges are loops is
    isolated (as in PyG). ``num_nodes`` defaults to ``max + 1`` of ``edge_index``."""
    op = "contains_isolated_nodes"
    ei, _ = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    ends = ei[:, ei[0] != ei[1]].reshape(-1)
    seen = np.zeros(n, bool)
    seen[ends] = True
    return bool(n and not seen.all())
