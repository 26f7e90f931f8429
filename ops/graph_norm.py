"""Graph normalisation on target-major adjacencies (row = destination, column = source): self
loops, GCN's symmetric normalisation, row normalisation, the undirected closure.

Every function returns a CSR tensor whose columns are sorted within each row. The index work
(where the loops go, the new index arrays, the value permutation) depends only on the structure,
so it is built once and cached in the input structure's ``_cache``; a second call with the same
adjacency reuses the output structure itself (``out.structure is`` the first call's). The values
pass through ordinary differentiable ops, so gradients reach the input values (edge weights).

`gcn_norm` and `row_normalize` run in every forward of a layer; when the adjacency's values do
not require grad, their whole result is cached too (keyed on the values array and its version),
so an unweighted graph is normalised once, not once per call. Every call shares the cached
values array (no copy); an in-place change of it, through any result or a Parameter made from
one, makes the next call rebuild (see `_cached_result`). On the CPU the array is also read-only:
``out.values.clone()`` gives a writable copy.
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.backend import xp_of
from sparsegraph.creation import full
from sparsegraph.ops._util import QUIET_FP, check_bool, check_choice, check_reduce
from sparsegraph.ops.elementwise import reciprocal, rsqrt
from sparsegraph.ops.gather_scatter import gather_rows, scatter, segment
from sparsegraph.ops.shape import cat, expand
from sparsegraph.ops.sparse_kernels.structure import coalesce as coalesce_kernel
from sparsegraph.ops.ternary import where
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor, wrap

__all__ = ["add_self_loops", "remove_self_loops", "gcn_norm", "row_normalize",
           "to_undirected"]

UNDIRECTED_REDUCES = ("sum", "mean", "max", "min")
# PyG's string fill values of add_remaining_self_loops ("add" is its name for "sum")
FILL_REDUCES = {"add": "sum", "sum": "sum", "mean": "mean", "max": "max", "min": "min"}


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


def self_loop_plan(structure: Structure) -> tuple[Structure, object, object]:
    """``(csr_with_loops, src, missing)``: exactly one self loop per node, columns sorted.

    PyG's ``add_remaining_self_loops``: every stored loop is removed and one loop per node is
    added back, carrying the weight of the node's last stored loop (in entry order) or, for the
    nodes in ``missing`` (ascending; those without a stored loop), a fill value. The new values
    are ``cat([values, fill])[src]``, ``fill`` holding one row per node of ``missing``.
    """

    def build():
        rows, cols = structure.rows(), structure.cols()
        xp = xp_of(rows)
        n, nnz = structure.shape[0], rows.shape[0]
        keep, loops = xp.flatnonzero(rows != cols), xp.flatnonzero(rows == cols)
        # the last stored loop of each node: the final one of its (stably sorted) group
        order = xp.argsort(rows[loops], kind="stable")
        nodes, entries = rows[loops][order], loops[order]
        last_of_node = xp.ones(nodes.shape[0], dtype=bool)
        last_of_node[:-1] = nodes[1:] != nodes[:-1]
        loop_src = xp.full(n, -1, dtype=np.int64)
        loop_src[nodes[last_of_node]] = entries[last_of_node]
        missing = xp.flatnonzero(loop_src < 0)
        loop_src[missing] = nnz + xp.arange(missing.shape[0])
        ids = xp.arange(n, dtype=rows.dtype)
        csr, perm = _sorted_csr(xp.concatenate([rows[keep], ids]),
                                xp.concatenate([cols[keep], ids]), structure.shape)
        return csr, xp.concatenate([keep.astype(np.int64), loop_src])[perm], missing

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
def _adjacency(op: str, adj, *, square: bool = True, floating: bool = True) -> SparseTensor:
    """``adj`` checked; ``floating=False`` for ops that only move or merge the values (any
    numeric or bool edge attribute then passes, as in PyG)."""
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"{op}: expected `adj` to be a SparseTensor (got {type(adj).__name__})")
    if square and adj.structure.shape[0] != adj.structure.shape[1]:
        raise ValueError(f"{op}: expected a square adjacency (got shape {adj.shape})")
    if floating and adj.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating edge weights (got {adj.dtype}); convert "
                        "with adj.with_values(adj.values.float())")
    return adj


def _cached_result(adj: SparseTensor, key, build) -> SparseTensor:
    """``build()``, cached on the structure while adj's values are one unchanged constant Tensor
    (same Tensor, same array, same version: an in-place change through it invalidates).

    Every call gets its own SparseTensor and values Tensor over the shared structure and one
    shared values array: nothing is copied. Every handed-out values Tensor carries the cache
    entry's own version counter, so an in-place change through any of them (or through a view,
    ``.data`` or a Parameter sharing its memory, e.g. an optimizer step) moves that counter and
    the next call rebuilds the entry instead of returning the changed values. Results handed
    out earlier alias the changed array, as torch aliases do. On the CPU the shared array is
    also read-only, so an in-place change raises there (``out.values.clone()`` gives a writable
    copy; a Parameter copies it); CuPy arrays cannot be made read-only."""
    v = adj.values
    if v.requires_grad:
        return build()
    hit = adj.structure._cache.get(key)
    if (hit is not None and hit[0] is v and hit[1] is v.array and hit[2] == v._version[0]
            and not hit[4][0]):
        out, version = hit[3], hit[4]
    else:
        out, version = build(), [0]
        adj.structure._cache[key] = (v, v.array, v._version[0], out, version)
    values = out.values.array
    # by the device, not isinstance(np.ndarray): the emulated CuPy's device arrays are numpy
    # arrays, and must take the branch real CuPy's take
    if out.values.device == "cpu":
        values.flags.writeable = False
    t = wrap(values)
    t._version = version  # shared by every result of this entry (see above)
    return SparseTensor(out.structure, t)


def _merge(values, index, size: int, reduce: str):
    """``scatter(values, index, size, reduce)`` for any values: integer and bool means are
    float32 (as PyG's scatter, and `Graph.to_undirected`); bool sum / max are logical or, min
    logical and (as scipy and numpy merge booleans)."""
    if reduce == "mean" and values.dtype.kind != "f":
        return scatter(values.to(backend.DEFAULT_FLOAT), index, size, "mean")
    if values.dtype == np.bool_:
        return scatter(values.to("int64"), index, size, reduce).to("bool")
    return scatter(values, index, size, reduce)


def _holds(dtype, value) -> bool:
    """Whether an integer / bool ``dtype`` holds ``value`` exactly: a number, or every entry of
    an array (not inf, NaN, 0.5, 2**70)."""
    return _inexact(dtype, value) is None


def _inexact(dtype, value):
    """The first entry of ``value`` (a number or an array) that ``dtype`` cannot hold exactly,
    as a Python scalar; None when it holds them all."""
    a = backend.to_device(value, "cpu") if hasattr(value, "dtype") else np.array(value)
    with np.errstate(**QUIET_FP):
        try:
            bad = np.asarray(a.astype(dtype) != a)
        except OverflowError:
            return value
    if not bad.any():
        return None
    first = np.asarray(a)[bad].ravel()[0]
    return first.item() if hasattr(first, "item") else first


def _loop_fill(adj: SparseTensor, fill_value, missing) -> Tensor:
    """One row of loop values per node of ``missing`` (see `add_self_loops`)."""
    v, n = adj.values, adj.shape[0]
    if fill_value is None:  # PyG: weight 1
        fill_value = 1.0
    if isinstance(fill_value, str):
        reduce = FILL_REDUCES[check_choice("add_self_loops", "fill_value", fill_value,
                                                FILL_REDUCES)]
        # the reduce of each node's in-edges (rows are targets); 0 where there are none
        return gather_rows(_merge(v, adj.structure.rows(), n, reduce), missing)
    if isinstance(fill_value, Tensor):
        f = _tensor_fill(v, n, fill_value)
        return gather_rows(f, missing if f.shape[0] == n else xp_of(missing).zeros_like(missing))
    if isinstance(fill_value, bool | np.bool_):
        if v.dtype != np.bool_:
            raise TypeError(f"add_self_loops: expected `fill_value` to be a number, a Tensor, "
                            f"None or one of {tuple(FILL_REDUCES)} for {v.dtype} values (got "
                            f"bool: True / False fill bool values only)")
        fill_value = bool(fill_value)  # np.bool_ is no number to `full`
    elif not isinstance(fill_value, int | float | np.number):
        raise TypeError(f"add_self_loops: expected `fill_value` to be a number, a Tensor, None "
                        f"or one of {tuple(FILL_REDUCES)} (got {type(fill_value).__name__})")
    if v.dtype.kind != "f" and not _holds(v.dtype, fill_value):
        raise ValueError(f"add_self_loops: expected a `fill_value` that {v.dtype} values can "
                         f"hold exactly (got {fill_value!r}); convert the values to float first")
    return full((missing.shape[0],) + v.shape[1:], fill_value, dtype=v.dtype, device=v.device)


def _tensor_fill(v: Tensor, n: int, fill_value: Tensor) -> Tensor:
    """A Tensor ``fill_value`` as ``(1, ...)`` (every loop) or ``(n, ...)`` (one per node)
    rows of ``v``'s trailing shape and dtype; a 0-d one broadcasts as a number does."""
    if fill_value.device != v.device:
        raise ValueError(f"add_self_loops: `adj` is on {v.device} but `fill_value` is on "
                         f"{fill_value.device}; use .to()")
    shape, trailing = tuple(fill_value.shape), tuple(v.shape[1:])
    if v.dtype.kind != "f":  # one rule for numbers and Tensors: no silent truncation
        bad = _inexact(v.dtype, fill_value.detach().array)
        if bad is not None:
            raise ValueError(f"add_self_loops: expected a Tensor `fill_value` that {v.dtype} "
                             f"values can hold exactly (got {fill_value.dtype} holding "
                             f"{bad!r}); convert the values to float first")
    f = fill_value.to(v.dtype)
    if shape == () or shape == trailing:
        f = f.reshape((1,) * (len(trailing) + 1 - len(shape)) + shape)
        return f if shape == trailing else expand(f, (1,) + trailing)
    if shape[1:] != trailing or shape[0] not in (1, n):
        every = f"() or {trailing}" if trailing else "()"
        raise ValueError(f"add_self_loops: expected a Tensor `fill_value` of shape {every} or "
                         f"(1, ...) for every node, or ({n}, ...) per node, to match values of "
                         f"shape {tuple(v.shape)} (got {shape})")
    return f


# ---- public functions -----------------------------------------------------------------------
def add_self_loops(adj: SparseTensor, fill_value=1.0) -> SparseTensor:
    """``A`` with exactly one self loop ``(i, i)`` per node: PyG's ``add_remaining_self_loops``.

    Every stored self loop is removed and one loop per node added back. A node that had loops
    keeps the weight of its last one (in adj's entry order; several loops are not summed); the
    others get ``fill_value``. Unlike PyG's ``add_self_loops`` nothing is appended to a node
    that already has a loop.

    Args:
        adj: square ``(N, N)`` adjacency (CSR or COO) with values ``(E, ...)``: float, integer
            or bool.
        fill_value: the weight of the new loops (default: 1.0): a number; ``True`` /
            ``False`` for bool values; None (1.0); a Tensor of the values' trailing shape (or
            ``(1, ...)``, or 0-d, broadcast as a number) for every new loop, or ``(N, ...)``
            with one row per node (it gets a gradient); or, as PyG, ``"sum"`` / ``"add"``,
            ``"mean"``, ``"max"`` or ``"min"``: that reduce of the node's incoming edge
            weights, 0 for a node without in-edges (an integer ``"mean"`` makes the result
            float32, as PyG's ``cat`` promotes). Integer and bool values keep their dtype, so
            a number or Tensor they cannot hold exactly (0.5 for int64) is refused, not
            truncated as PyG's ``new_full`` would.

    Returns:
        CSR ``(N, N)`` with sorted columns; gradients reach ``adj``'s values (and a Tensor
        ``fill_value``).

    Example:
        >>> a = sg.from_edge_index([[0, 1], [1, 0]], 3)
        >>> add_self_loops(a).to_dense().tolist()[2]
        [0.0, 0.0, 1.0]
    """
    _adjacency("add_self_loops", adj, floating=False)
    csr, src, missing = self_loop_plan(adj.structure)
    loops = _loop_fill(adj, fill_value, missing)
    v = adj.values if loops.dtype == adj.dtype else adj.values.to(loops.dtype)
    return SparseTensor(csr, gather_rows(cat([v, loops]), src))


def remove_self_loops(adj: SparseTensor) -> SparseTensor:
    """``A`` without its diagonal entries, as CSR with sorted columns.

    Args:
        adj: square ``(N, N)`` adjacency (CSR or COO); values of any dtype (edge weights,
            integer edge types, bool masks), as PyG's ``edge_attr``.
    """
    _adjacency("remove_self_loops", adj, floating=False)
    csr, keep = _no_loop_plan(adj.structure)
    return SparseTensor(csr, gather_rows(adj.values, keep))


def _sorted(adj: SparseTensor) -> SparseTensor:
    csr, perm = sorted_plan(adj.structure)
    return adj if perm is None else SparseTensor(csr, gather_rows(adj.values, perm))


def inv_degree(deg: Tensor, power: float) -> Tensor:
    """``deg ** power`` for ``power`` -0.5 (`gcn_norm`, ChebConv's "sym" Laplacian) or -1
    (ChebConv's "rw"), as PyTorch computes those powers (rsqrt, reciprocal), with 0 where
    ``deg <= 0`` (isolated nodes, negative weights): never inf, no division warning. Any shape.
    """
    if power not in (-0.5, -1):
        raise ValueError(f"inv_degree: expected `power` -0.5 or -1 (got {power!r})")
    # NOTE: `deg <= 0`, not `~(deg > 0)`: a nan degree (a nan edge weight) stays nan, as PyG's
    nonpositive = deg <= 0
    safe = where(nonpositive, 1.0, deg)
    return where(nonpositive, 0.0, rsqrt(safe) if power == -0.5 else reciprocal(safe))


def gcn_norm(adj: SparseTensor, add_self_loops: bool = True,
             improved: bool = False) -> SparseTensor:
    """``D^-1/2 (A + I) D^-1/2`` of Kipf & Welling (ICLR 2017), as PyG's ``gcn_norm``.

    ``D`` is the weighted in-degree of ``A + I``: the row sums, because rows are targets.
    Nodes of degree 0 (isolated, without self loop) get ``D^-1/2 = 0``, so their rows and
    columns are 0, not inf/NaN; non-positive degrees (negative weights) are treated alike. A
    NaN degree (a NaN edge weight) stays NaN, and so do that node's row and column, as PyG's.

    Args:
        adj: square ``(N, N)`` target-major adjacency; values ``(E,)`` or ``(E, H)`` weights.
        add_self_loops: add the remaining self loops first, as `add_self_loops`: one per node,
            an existing one keeping its weight (the last one's, if several). (default: True)
        improved: self-loop weight 2 instead of 1 (``A + 2I``). (default: False)

    Returns:
        CSR ``(N, N)`` with sorted columns; differentiable w.r.t. ``adj``'s values. When they
        do not require grad the result is cached. On the CPU every call's values share one
        read-only array: an in-place change raises; take ``out.values.clone()`` for a
        writable copy (``sg.Parameter(gcn_norm(adj).values)`` copies read-only memory
        itself). On a GPU the calls share the cached values too (CuPy arrays cannot be
        read-only); an in-place change of them (an optimizer step on a Parameter made from
        them) makes the next call rebuild, so it never reaches later results.

    Example:
        >>> a = gcn_norm(sg.from_edge_index([[0], [1]], 2, dtype="float64"))
        >>> a.to_dense().numpy().round(4).tolist()
        [[1.0, 0.0], [0.7071, 0.5]]
    """
    _adjacency("gcn_norm", adj)
    add_self_loops = check_bool("gcn_norm", "add_self_loops", add_self_loops)
    improved = check_bool("gcn_norm", "improved", improved)

    def build():
        a = (globals()["add_self_loops"](adj, 2.0 if improved else 1.0) if add_self_loops
             else _sorted(adj))
        s = a.structure
        dinv = inv_degree(segment(a.values, s.indptr, "sum"), -0.5)
        values = gather_rows(dinv, s.rows()) * a.values * gather_rows(dinv, s.indices)
        return SparseTensor(s, values)

    return _cached_result(adj, ("gcn_norm", add_self_loops, improved), build)


def row_normalize(adj: SparseTensor) -> SparseTensor:
    """``D^-1 A``: each row divided by its sum (mean-aggregation weights).

    Rows whose weights sum to 0 stay 0. ``adj`` may be rectangular.

    Args:
        adj: ``(N, M)`` adjacency (CSR or COO) with values ``(E,)`` or ``(E, H)``.

    Returns:
        CSR ``(N, M)`` with sorted columns; differentiable w.r.t. ``adj``'s values. Cached
        when they do not require grad, as `gcn_norm`: read-only values on the CPU
        (``out.values.clone()`` for a writable copy), rebuilt after an in-place change on a GPU.
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
        adj: square ``(N, N)`` adjacency (CSR or COO) with values ``(E, ...)`` of any dtype:
            integer and bool values merge as in `Graph.to_undirected` (their ``"mean"`` is
            float32 as in PyG; bool ``"sum"`` / ``"max"`` are or, ``"min"`` is and).
        reduce: ``"sum"`` (or PyG's ``"add"``), ``"mean"``, ``"max"`` or ``"min"``.
            (default: ``"sum"``)

    Returns:
        Symmetric CSR ``(N, N)`` with sorted columns; differentiable w.r.t. the values.
    """
    _adjacency("to_undirected", adj, floating=False)
    reduce = check_reduce("to_undirected", reduce, UNDIRECTED_REDUCES)
    csr, inverse = _undirected_plan(adj.structure)
    v = adj.values
    return SparseTensor(csr, _merge(cat([v, v]), inverse, csr.nnz, reduce))
