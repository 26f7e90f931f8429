"""Graph normalisation on target-major adjacencies: self loops, GCN's symmetric normalisation,
row normalisation, undirected closure.

Structure-only work (where the loops go, the new index arrays, permutations) is cached on the
input structure. When the adjacency's values are constant (no grad), the whole normalised
adjacency is cached too, so a GCN layer normalises once per graph, not once per call.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import xp_of
from sparsegraph.creation import full
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.ops.elementwise import where
from sparsegraph.ops.index import getitem
from sparsegraph.ops.gather_scatter import gather_rows, segment
from sparsegraph.ops.shape import cat

__all__ = ["add_self_loops", "remove_self_loops", "gcn_norm", "row_normalize",
           "to_undirected"]


def _square(op, adj):
    if not isinstance(adj, SparseTensor) or adj.shape[0] != adj.shape[1]:
        raise TypeError(f"{op}: expected a square SparseTensor adjacency (got "
                        f"{type(adj).__name__} {getattr(adj, 'shape', '')})")
    return adj if adj.layout == "csr" else adj.to_csr()


def _cached_result(adj, key, build):
    """Cache ``build()`` on the structure while adj's values are the same constant array."""
    if adj.requires_grad:
        return build()
    hit = adj.structure._cache.get(key)
    if hit is not None and hit[0] is adj.values.array:
        return hit[1]
    out = build()
    adj.structure._cache[key] = (adj.values.array, out)
    return out


def self_loop_plan(structure: Structure):
    """``(csr_with_loops, perm, n_loops)``: new values = ``cat([old, loops])[perm]``.

    Nodes that already have a self loop keep theirs (PyG's add_remaining_self_loops).
    """

    def build():
        rows, cols = structure.rows(), structure.cols()
        xp = xp_of(rows)
        has = xp.zeros(structure.shape[0], bool)
        has[rows[rows == cols]] = True
        loops = xp.flatnonzero(~has).astype(rows.dtype)
        coo = Structure.coo(xp.concatenate([rows, loops]), xp.concatenate([cols, loops]),
                            structure.shape, validate=False)
        csr, perm = coo.to_csr()
        return csr, perm, int(loops.size)

    return structure._cached("self_loop_plan", build)


def add_self_loops(adj: SparseTensor, fill_value: float = 1.0) -> SparseTensor:
    """Add ``(i, i)`` with value ``fill_value`` for every node without a self loop."""
    adj = _square("add_self_loops", adj)
    csr, perm, n_loops = self_loop_plan(adj.structure)
    v = adj.values
    loops = full((n_loops,) + v.shape[1:], fill_value, dtype=v.dtype, device=v.device)
    return SparseTensor(csr, getitem(cat([v, loops]), perm))


def remove_self_loops(adj: SparseTensor) -> SparseTensor:
    adj = _square("remove_self_loops", adj)
    s = adj.structure

    def build():
        keep = xp_of(s.indices).flatnonzero(s.rows() != s.cols())
        xp = xp_of(keep)
        kept_rows = s.rows()[keep]
        indptr = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(
            xp.bincount(kept_rows, minlength=s.shape[0]))])
        return Structure.csr(indptr, s.indices[keep], s.shape, validate=False), keep

    out_s, keep = s._cached("no_self_loops", build)
    if out_s.nnz == s.nnz:
        return adj
    return SparseTensor(out_s, getitem(adj.values, keep))


def _inv_sqrt(deg):
    # deg^-1/2 with isolated nodes (deg 0) mapped to 0, not inf
    safe = where(deg > 0, deg, 1.0)
    return where(deg > 0, safe ** -0.5, 0.0)


def gcn_norm(adj: SparseTensor, add_self_loops: bool = True,
             improved: bool = False) -> SparseTensor:
    """``D^-1/2 (A + I) D^-1/2`` (Kipf & Welling), D = weighted in-degree (row sums).

    Args:
        adj: square target-major adjacency; its values are edge weights.
        add_self_loops: add remaining self loops first (weight 1, or 2 with ``improved``).
    """
    adj = _square("gcn_norm", adj)
    if adj.values.ndim != 1:
        raise NotImplementedError("gcn_norm: hybrid edge weights are not supported")

    def build():
        a = globals()["add_self_loops"](adj, 2.0 if improved else 1.0) if add_self_loops else adj
        s = a.structure
        dinv = _inv_sqrt(segment(a.values, s.indptr, "sum"))
        values = gather_rows(dinv, s.rows()) * a.values * gather_rows(dinv, s.indices)
        return SparseTensor(s, values)

    return _cached_result(adj, ("gcn_norm", add_self_loops, improved), build)


def row_normalize(adj: SparseTensor) -> SparseTensor:
    """``D^-1 A``: each row's values divided by their sum (mean aggregation weights)."""
    adj = _square("row_normalize", adj) if adj.shape[0] == adj.shape[1] else adj

    def build():
        s = adj.structure
        deg = segment(adj.values, s.indptr, "sum")
        inv = where(deg != 0, 1.0 / where(deg != 0, deg, 1.0), 0.0)
        return adj.with_values(adj.values * gather_rows(inv, s.rows()))

    return _cached_result(adj, ("row_normalize",), build)


def to_undirected(adj: SparseTensor, reduce: str = "sum") -> SparseTensor:
    """``A ∪ A^T``: every edge in both directions; entries present both ways are merged by
    ``reduce`` ("sum" adds them, "mean" averages the two)."""
    from sparsegraph.ops.sparse_values import sparse_add

    adj = _square("to_undirected", adj)
    if reduce not in ("sum", "mean"):
        raise ValueError(f"to_undirected: expected reduce 'sum' or 'mean' (got {reduce!r})")
    out = sparse_add(adj, adj.T)
    if reduce == "mean":
        ones = adj.with_values(full((adj.nnz,), 1.0, dtype=adj.dtype, device=adj.device))
        count = sparse_add(ones, ones.T)
        out = out.with_values(out.values / count.values)
    return out
