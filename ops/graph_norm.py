"""Graph normalisation on target-major adjacencies (row = destination, column = source): self
loops, GCN's symmetric normalisation, row normalisation, the undirected closure.

Every function returns a CSR tensor whose columns are sorted within each row. The index work
(where the loops go, the new index arrays, the value permutation) depends only on the structure,
so it is built once and cached in the input structure's ``_cache``; a second call with the same
adjacency reuses the output structure itself (``out.structure is`` the first call's). The values
pass through ordinary differentiable ops, so gradients reach the input values (edge weights).

`gcn_norm` and `row_normalize` run in every forward of a layer; when the adjacency's values do
not require grad, their whole result is cached too (keyed on the values array and its version),
so an unweighted graph is normalised once, not once per call.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import xp_of
from sparsegraph.creation import full
from sparsegraph.ops.elementwise import reciprocal, rsqrt, where
from sparsegraph.ops.gather_scatter import gather_rows, scatter, segment
from sparsegraph.ops.shape import cat
from sparsegraph.ops.sparse_kernels.structure import coalesce as coalesce_kernel
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import wrap

__all__ = ["add_self_loops", "remove_self_loops", "gcn_norm", "row_normalize",
           "to_undirected"]

UNDIRECTED_REDUCES = ("sum", "mean", "max", "min")


# ---- structure plans (cached on the input structure) ----------------------------------------
def _sorted_csr(rows, cols, shape) -> tuple[Structure, object]:
    """CSR of COO entries sorted by (row, col), duplicates in input order, and the permutation
    (``new_values = values[perm]``)."""
    return Structure.coo(rows, cols, shape, validate=False).to_csr()


def sorted_plan(structure: Structure) -> tuple[Structure, object]:
    """``(csr, perm)``: ``structure`` as CSR with sorted columns; perm None when it already is."""

    def build():
        if structure.layout == "csr" and not _unsorted_rows(structure.indptr,
                                                            structure.indices):
            return structure, None
        return _sorted_csr(structure.rows(), structure.cols(), structure.shape)

    return structure._cached("sorted_csr", build)


def _unsorted_rows(indptr, indices) -> bool:
    """Whether some row's columns decrease (a decrease across a row boundary is fine)."""
    nnz = indices.shape[0]
    if nnz < 2:
        return False
    xp = xp_of(indices)
    starts = xp.zeros(nnz + 1, dtype=bool)
    starts[indptr] = True
    return bool(((indices[1:] < indices[:-1]) & ~starts[1:nnz]).any())


def self_loop_plan(structure: Structure) -> tuple[Structure, object, int]:
    """``(csr_with_loops, perm, n_loops)``: the new values are ``cat([values, loops])[perm]``.

    A loop ``(i, i)`` is added for every node without one; existing self loops stay as they are
    (PyG's ``add_remaining_self_loops``). Columns are sorted within rows.
    """

    def build():
        rows, cols = structure.rows(), structure.cols()
        xp = xp_of(rows)
        has = xp.zeros(structure.shape[0], dtype=bool)
        has[rows[rows == cols]] = True
        loops = xp.flatnonzero(~has).astype(rows.dtype)
        csr, perm = _sorted_csr(xp.concatenate([rows, loops]), xp.concatenate([cols, loops]),
                                structure.shape)
        return csr, perm, int(loops.shape[0])

    return structure._cached("self_loop_plan", build)


def _no_loop_plan(structure: Structure) -> tuple[Structure, object]:
    """``(csr_without_loops, keep)``: the new values are ``values[keep]``."""

    def build():
        rows, cols = structure.rows(), structure.cols()
        keep = xp_of(rows).flatnonzero(rows != cols)
        csr, perm = _sorted_csr(rows[keep], cols[keep], structure.shape)
        return csr, keep[perm]

    return structure._cached("no_self_loops", build)


def _undirected_plan(structure: Structure) -> tuple[Structure, object]:
    """``(csr_of_union, inverse)``: entry e of ``[A; A^T]`` lands at output ``inverse[e]``."""

    def build():
        rows, cols = structure.rows(), structure.cols()
        xp = xp_of(rows)
        n = structure.shape[0]
        u_row, u_col, inverse = coalesce_kernel(xp.concatenate([rows, cols]),
                                                xp.concatenate([cols, rows]), n, n)
        indptr = xp.zeros(n + 1, dtype=np.int64)
        xp.cumsum(xp.bincount(u_row, minlength=n), out=indptr[1:])
        return Structure.csr(indptr, u_col, structure.shape, validate=False), inverse

    return structure._cached("undirected", build)


# ---- validation and the values cache --------------------------------------------------------
def _adjacency(op: str, adj, *, square: bool = True) -> SparseTensor:
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"{op}: expected `adj` to be a SparseTensor (got {type(adj).__name__})")
    if square and adj.structure.shape[0] != adj.structure.shape[1]:
        raise ValueError(f"{op}: expected a square adjacency (got shape {adj.shape})")
    if adj.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating edge weights (got {adj.dtype}); convert "
                        "with adj.with_values(adj.values.float())")
    return adj


def _cached_result(adj: SparseTensor, key, build) -> SparseTensor:
    """``build()``, cached on the structure while adj's values are one unchanged constant Tensor
    (same Tensor, same array, same version: an in-place change through it invalidates).

    Every call gets its own SparseTensor and values Tensor; on the CPU they share one
    read-only array, so an in-place change of a result raises instead of changing what later
    calls return (``out.values.clone()`` gives a writable copy)."""
    v = adj.values
    if v.requires_grad:
        return build()
    hit = adj.structure._cache.get(key)
    if hit is not None and hit[0] is v and hit[1] is v.array and hit[2] == v._version[0]:
        out = hit[3]
    else:
        out = build()
        if isinstance(out.values.array, np.ndarray):  # cupy arrays have no read-only flag
            out.values.array.flags.writeable = False
        adj.structure._cache[key] = (v, v.array, v._version[0], out)
    return SparseTensor(out.structure, wrap(out.values.array))


# ---- public functions -----------------------------------------------------------------------
def add_self_loops(adj: SparseTensor, fill_value: float = 1.0) -> SparseTensor:
    """``A`` plus a self loop ``(i, i)`` of weight ``fill_value`` at every node that has none.

    Follows PyG's ``add_remaining_self_loops``: a node that already has a self loop keeps it
    (with its weight) and gets no second one.

    Args:
        adj: square ``(N, N)`` adjacency (CSR or COO) with values ``(E, ...)``.
        fill_value: weight of the added loops. (default: 1.0)

    Returns:
        CSR ``(N, N)`` with sorted columns; gradients reach ``adj``'s values.

    Example:
        >>> a = sg.from_edge_index([[0, 1], [1, 0]], 3)
        >>> add_self_loops(a).to_dense().tolist()[2]
        [0.0, 0.0, 1.0]
    """
    _adjacency("add_self_loops", adj)
    if isinstance(fill_value, bool) or not isinstance(fill_value, int | float | np.number):
        raise TypeError(f"add_self_loops: expected a number `fill_value` (got "
                        f"{type(fill_value).__name__})")
    csr, perm, n_loops = self_loop_plan(adj.structure)
    v = adj.values
    loops = full((n_loops,) + v.shape[1:], fill_value, dtype=v.dtype, device=v.device)
    return SparseTensor(csr, gather_rows(cat([v, loops]), perm))


def remove_self_loops(adj: SparseTensor) -> SparseTensor:
    """``A`` without its diagonal entries, as CSR with sorted columns.

    Args:
        adj: square ``(N, N)`` adjacency (CSR or COO).
    """
    _adjacency("remove_self_loops", adj)
    csr, keep = _no_loop_plan(adj.structure)
    return SparseTensor(csr, gather_rows(adj.values, keep))


def _sorted(adj: SparseTensor) -> SparseTensor:
    csr, perm = sorted_plan(adj.structure)
    return adj if perm is None else SparseTensor(csr, gather_rows(adj.values, perm))


def _inv_sqrt(deg):
    # deg^-1/2 with deg <= 0 (isolated nodes) mapped to 0, never inf: no division warnings
    pos = deg > 0
    return where(pos, rsqrt(where(pos, deg, 1.0)), 0.0)


def gcn_norm(adj: SparseTensor, add_self_loops: bool = True,
             improved: bool = False) -> SparseTensor:
    """``D^-1/2 (A + I) D^-1/2`` of Kipf & Welling (ICLR 2017), as PyG's ``gcn_norm``.

    ``D`` is the weighted in-degree of ``A + I``: the row sums, because rows are targets.
    Nodes of degree 0 (isolated, without self loop) get ``D^-1/2 = 0``, so their rows and
    columns are 0, not inf/NaN; non-positive degrees (negative weights) are treated alike.

    Args:
        adj: square ``(N, N)`` target-major adjacency; values ``(E,)`` or ``(E, H)`` weights.
        add_self_loops: add the remaining self loops first (existing loops keep their weight).
            (default: True)
        improved: self-loop weight 2 instead of 1 (``A + 2I``). (default: False)

    Returns:
        CSR ``(N, N)`` with sorted columns; differentiable w.r.t. ``adj``'s values.

    Example:
        >>> a = gcn_norm(sg.from_edge_index([[0], [1]], 2, dtype="float64"))
        >>> a.to_dense().numpy().round(4).tolist()
        [[1.0, 0.0], [0.7071, 0.5]]
    """
    _adjacency("gcn_norm", adj)

    def build():
        a = (globals()["add_self_loops"](adj, 2.0 if improved else 1.0) if add_self_loops
             else _sorted(adj))
        s = a.structure
        dinv = _inv_sqrt(segment(a.values, s.indptr, "sum"))
        values = gather_rows(dinv, s.rows()) * a.values * gather_rows(dinv, s.indices)
        return SparseTensor(s, values)

    return _cached_result(adj, ("gcn_norm", bool(add_self_loops), bool(improved)), build)


def row_normalize(adj: SparseTensor) -> SparseTensor:
    """``D^-1 A``: each row divided by its sum (mean-aggregation weights).

    Rows whose weights sum to 0 stay 0. ``adj`` may be rectangular.

    Args:
        adj: ``(N, M)`` adjacency (CSR or COO) with values ``(E,)`` or ``(E, H)``.

    Returns:
        CSR ``(N, M)`` with sorted columns; differentiable w.r.t. ``adj``'s values.
    """
    _adjacency("row_normalize", adj, square=False)

    def build():
        a = _sorted(adj)
        s = a.structure
        deg = segment(a.values, s.indptr, "sum")
        nonzero = deg != 0
        inv = where(nonzero, reciprocal(where(nonzero, deg, 1.0)), 0.0)
        return SparseTensor(s, a.values * gather_rows(inv, s.rows()))

    return _cached_result(adj, ("row_normalize",), build)


def to_undirected(adj: SparseTensor, reduce: str = "sum") -> SparseTensor:
    """The union of ``A`` and ``A^T``: every edge in both directions, duplicates merged.

    As PyG's ``to_undirected``: ``[A; A^T]`` is coalesced with ``reduce``, so an entry stored
    both ways (a reciprocated edge, a self loop, or a duplicate) is merged; with ``"sum"`` a
    symmetric ``A`` comes back doubled, with ``"mean"`` / ``"max"`` unchanged.

    Args:
        adj: square ``(N, N)`` adjacency (CSR or COO) with values ``(E, ...)``.
        reduce: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``. (default: ``"sum"``)

    Returns:
        Symmetric CSR ``(N, N)`` with sorted columns; differentiable w.r.t. the values.
    """
    _adjacency("to_undirected", adj)
    if reduce not in UNDIRECTED_REDUCES:
        raise ValueError(f"to_undirected: expected `reduce` in {UNDIRECTED_REDUCES} (got "
                         f"{reduce!r})")
    csr, inverse = _undirected_plan(adj.structure)
    v = adj.values
    return SparseTensor(csr, scatter(cat([v, v]), inverse, csr.nnz, reduce))
