"""Structure helpers shared by the layers: self loops that carry edge features along."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.backend import xp_of
from sparsegraph.creation import full
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor


def _loop_plan(structure: Structure):
    """``(csr, keep, perm, kept_indptr)`` for "drop every self loop, add one per node".

    The new values are ``cat([values[keep], loops])[perm]``; ``kept_indptr`` groups the kept
    entries by target (they stay sorted by target). Built once per structure.
    """

    def build():
        rows, cols = structure.rows(), structure.cols()
        xp, n = xp_of(rows), structure.shape[0]
        keep = xp.flatnonzero(rows != cols)
        loops = xp.arange(n, dtype=rows.dtype)
        csr, perm = Structure.coo(xp.concatenate([rows[keep], loops]),
                                  xp.concatenate([cols[keep], loops]), structure.shape,
                                  validate=False).to_csr()
        kept_indptr = xp.zeros(n + 1, dtype=xp.int64)
        xp.cumsum(xp.bincount(rows[keep], minlength=n), out=kept_indptr[1:])
        return csr, keep, perm, kept_indptr

    return structure._cached("replace_self_loops_plan", build)


def replace_self_loops_with(adj: SparseTensor, edge_attr: Tensor | None = None,
                            fill_value: float | str = "mean"):
    """Remove ``adj``'s self loops, then give every node one (differentiable in the values).

    PyG's GATConv does this with ``remove_self_loops`` then ``add_self_loops``: a node's
    existing loops (and their ``edge_attr`` rows) are dropped, so every node ends with exactly
    one loop of weight 1.

    Args:
        adj: square CSR adjacency with values ``(E, ...)``.
        edge_attr: optional ``(E, D)`` edge features in ``adj``'s order.
        fill_value: the loops' edge features: a number, or ``"mean"``: the loop of node ``i``
            gets the mean of the features of the (non-loop) edges pointing to ``i``, 0 when
            there are none (PyG's ``add_self_loops(fill_value="mean")``).

    Returns:
        ``(adj_with_loops, edge_attr_with_loops)`` (the second None without edge_attr).
    """
    csr, keep, perm, kept_indptr = _loop_plan(adj.structure)
    n, v = adj.shape[0], adj.values
    loops = full((n,) + v.shape[1:], 1.0, dtype=v.dtype, device=v.device)
    new_adj = SparseTensor(csr, ops.gather_rows(ops.cat([ops.gather_rows(v, keep), loops]),
                                                perm))
    if edge_attr is None:
        return new_adj, None
    kept = ops.gather_rows(edge_attr, keep)
    if isinstance(fill_value, str):
        fill = ops.segment(kept, kept_indptr, "mean")  # (N, D); empty segments are 0
    else:
        fill = full((n,) + edge_attr.shape[1:], fill_value, dtype=edge_attr.dtype,
                    device=edge_attr.device)
    return new_adj, ops.gather_rows(ops.cat([kept, fill]), perm)
