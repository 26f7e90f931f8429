"""Structure helpers shared by the layers: self loops that carry edge features along."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.creation import full
from sparsegraph.ops.graph_norm import self_loop_plan
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor


def add_self_loops_with(adj: SparseTensor, edge_attr: Tensor | None = None,
                        fill_value: float | str = 1.0):
    """Add remaining self loops to ``adj`` and matching rows to ``edge_attr`` (differentiable).

    Args:
        adj: square CSR adjacency with values ``(E, ...)``.
        edge_attr: optional ``(E, D)`` edge features in ``adj``'s order.
        fill_value: the new loops' weight; for edge_attr a number or ``"mean"`` (the mean of
            all edge features, as PyG's GATConv fills them).

    Returns:
        ``(adj_with_loops, edge_attr_with_loops)`` (the second None without edge_attr).
    """
    csr, perm, n_loops = self_loop_plan(adj.structure)
    v = adj.values
    weight = 1.0 if isinstance(fill_value, str) else fill_value
    loops = full((n_loops,) + v.shape[1:], weight, dtype=v.dtype, device=v.device)
    new_adj = SparseTensor(csr, ops.getitem(ops.cat([v, loops]), perm))
    if edge_attr is None:
        return new_adj, None
    if isinstance(fill_value, str):
        fill = edge_attr.mean(dim=0, keepdim=True).expand((n_loops,) + edge_attr.shape[1:])
    else:
        fill = full((n_loops,) + edge_attr.shape[1:], fill_value, dtype=edge_attr.dtype,
                    device=edge_attr.device)
    return new_adj, ops.getitem(ops.cat([edge_attr, fill]), perm)
