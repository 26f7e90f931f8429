"""Gather / scatter / segment ops on dense tensors: the primitives of message passing.

``gather_rows(src, index)`` picks rows (PyG's ``x[edge_index[0]]``); ``scatter`` reduces rows
into ``dim_size`` outputs by an unsorted ``index`` (torch_scatter's ``scatter``); ``segment``
reduces rows already grouped by a CSR-style ``indptr`` (the fast path: the entries of a CSR
adjacency are grouped by target row); ``segment_softmax`` is PyG's ``softmax(src, index)``.

Conventions shared by every op here: empty outputs are 0; ``mean`` divides by the number of rows
reduced (integer sources take the floor, as torch_scatter); ``max`` / ``min`` send the gradient
to the arg-extremum, on ties the smallest source position (the kernels' rule). The reductions
run on the ``segment_reduce`` / ``scatter_reduce`` kernels (``fmt="csr"``) of
`sparsegraph.ops.sparse_kernels`; every backward is deterministic (no atomics).
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import (
    check_reduce,
    check_saved,
    check_tensor,
    kept_array,
    norm_dim,
    source_of,
)
from sparsegraph.ops.shape import permute
from sparsegraph.ops.sparse_kernels.structure import csr_row_ids
from sparsegraph.sparse_checks import index_array
from sparsegraph.tensor import Tensor, host_values

__all__ = ["gather_rows", "scatter", "scatter_add", "scatter_mean", "scatter_max",
           "scatter_min", "segment", "segment_softmax"]

REDUCES = ("sum", "mean", "max", "min")


# ---- generic kernels (dense; numpy now, cupy through the same code) ---------------------------
@register("gather_rows", "cpu", "cuda")
def _gather_rows_kernel(src, index):
    return xp_of(src).take(src, index, axis=0)


def _route_to_arg(g, arg, n_src: int):
    """Gradient of max/min: ``g[s, k]`` goes to source row ``arg[s, k]`` (column k)."""
    xp = xp_of(g)
    gsrc = xp.zeros((n_src,) + g.shape[1:], dtype=g.dtype)
    k = int(np.prod(g.shape[1:]))  # explicit: reshape(-1) is ambiguous for 0 rows
    flat_g, flat_arg = g.reshape(g.shape[0], k), arg.reshape(arg.shape[0], k)
    cols = xp.broadcast_to(xp.arange(k), flat_g.shape)
    hit = flat_arg >= 0
    # each source element is the extremum of at most one output: assignment is exact
    gsrc.reshape(n_src, k)[flat_arg[hit], cols[hit]] = flat_g[hit]
    return gsrc


def _scale_rows(g, count):
    """``g / count`` per row (``count`` >= 1), keeping ``g``'s dtype."""
    return g / count.astype(g.dtype).reshape((-1,) + (1,) * (g.ndim - 1))


@register("segment_backward", "cpu", "cuda")
def _segment_backward_kernel(g, indptr, arg, n_src: int, reduce: str):
    """Gradient of `segment_reduce` w.r.t. its (E, ...) source."""
    if reduce in ("max", "min"):
        return _route_to_arg(g, arg, n_src)
    xp = xp_of(g)
    if reduce == "mean":
        g = _scale_rows(g, xp.maximum(indptr[1:] - indptr[:-1], 1))
    return xp.take(g, csr_row_ids(indptr, n_src), axis=0)


@register("scatter_backward", "cpu", "cuda")
def _scatter_backward_kernel(g, index, arg, n_src: int, reduce: str):
    """Gradient of `scatter_reduce` w.r.t. its (E, ...) source."""
    if reduce in ("max", "min"):
        return _route_to_arg(g, arg, n_src)
    xp = xp_of(g)
    if reduce == "mean":
        g = _scale_rows(g, xp.maximum(xp.bincount(index, minlength=g.shape[0]), 1))
    return xp.take(g, index, axis=0)


# ---- Functions ------------------------------------------------------------------------------
# The range and indptr checks run inside the forwards: a static graph's replay runs them on
# each call's index too (the kernels do not check bounds). Backward reads the index kept by
# `kept_array`: ``source`` (the Tensor ``index`` came from) is saved, so an in-place change
# to it raises in backward, as in PyTorch; a caller's writeable array is copied.
class GatherRows(Function):
    """``src[index]`` along dim 0; backward scatter-adds (repeated rows accumulate)."""

    @staticmethod
    def forward(ctx, src, index, source=None):
        _check_range("gather_rows", "index", index, src.shape[0])
        if ctx.needs_input_grad[0]:
            ctx.index, ctx.n = kept_array(index, source), src.shape[0]
            ctx.save_for_backward(source)
        return dispatch("gather_rows", ctx.device)(src.array, index)

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        out, _ = dispatch("scatter_reduce", ctx.device, "csr")(ctx.index, g.array, ctx.n, "sum")
        return out, None, None


class Segment(Function):
    """Reduce rows grouped by ``indptr``: segment s is rows ``indptr[s]:indptr[s + 1]``."""

    @staticmethod
    def forward(ctx, src, indptr, reduce, source=None):
        _check_indptr("segment", indptr, src)
        out, arg = dispatch("segment_reduce", ctx.device, "csr")(indptr, src.array, reduce)
        if ctx.needs_input_grad[0]:
            ctx.indptr, ctx.reduce, ctx.arg = kept_array(indptr, source), reduce, arg
            ctx.n = src.shape[0]
            ctx.save_for_backward(source)
        return out

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        gx = dispatch("segment_backward", ctx.device)(g.array, ctx.indptr, ctx.arg, ctx.n,
                                                      ctx.reduce)
        return gx, None, None, None


class Scatter(Function):
    """Reduce rows into ``dim_size`` outputs by an unsorted ``index``; max/min also return
    the int64 arg-extremum, ``src.shape[0]`` for empty outputs (torch_scatter's: using it as
    an index fails instead of silently picking the last row). ``op`` names the caller."""

    @staticmethod
    def forward(ctx, src, index, dim_size, reduce, op="scatter", source=None):
        _check_range(op, "index", index, dim_size, _dim_size_hint(op, dim_size, src.ndim))
        out, arg = dispatch("scatter_reduce", ctx.device, "csr")(index, src.array, dim_size,
                                                                  reduce)
        if ctx.needs_input_grad[0]:
            ctx.index, ctx.reduce, ctx.arg = kept_array(index, source), reduce, arg
            ctx.n = src.shape[0]
            ctx.save_for_backward(source)
        if arg is None:
            return out
        return out, xp_of(arg).where(arg < 0, src.shape[0], arg)

    @staticmethod
    def backward(ctx, g, g_arg=None):
        check_saved(ctx)
        gx = dispatch("scatter_backward", ctx.device)(g.array, ctx.index, ctx.arg, ctx.n,
                                                      ctx.reduce)
        return gx, None, None, None, None, None


class SegmentSoftmax(Function):
    """Softmax within rows grouped by ``indptr`` (each trailing column separately)."""

    @staticmethod
    def forward(ctx, src, indptr, source=None):
        _check_indptr("segment_softmax", indptr, src)
        if ctx.needs_input_grad[0]:
            ctx.indptr = kept_array(indptr, source)
            ctx.save_for_backward(source)
        return ctx.save_output(dispatch("csr_softmax", ctx.device, "csr")(indptr, src.array))

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        gx = dispatch("csr_softmax_backward", ctx.device, "csr")(ctx.indptr, ctx.saved_output,
                                                                 g.array)
        return gx, None, None


class ScatterSoftmax(Function):
    """Softmax within the groups of an unsorted ``index``: one stable sort, then the sorted
    kernel on the permuted rows."""

    @staticmethod
    def forward(ctx, src, index, num_segments):
        _check_range("segment_softmax", "index", index, num_segments)
        xp = xp_of(index)
        if num_segments > 2 * index.shape[0] + 1:
            # far more segments than rows: renumber the used ones (the softmax of a group does
            # not depend on its id), so the counting sort's tables stay O(E)
            used, index = xp.unique(index, return_inverse=True)
            index, num_segments = index.reshape(-1), int(used.shape[0])
        # coo_to_csr with one column is a stable (counting) sort of the rows by index
        indptr, _, perm = dispatch("coo_to_csr", ctx.device, "csr")(
            index, xp.zeros_like(index), num_segments)
        ys = dispatch("csr_softmax", ctx.device, "csr")(indptr, src.array[perm])
        y = xp.empty_like(ys)
        y[perm] = ys
        ctx.indptr, ctx.perm, ctx.ys = indptr, perm, ys
        return y

    @staticmethod
    def backward(ctx, g):
        gs = dispatch("csr_softmax_backward", ctx.device, "csr")(ctx.indptr, ctx.ys,
                                                                 g.array[ctx.perm])
        gx = xp_of(gs).empty_like(gs)
        gx[ctx.perm] = gs
        return gx, None, None


# ---- validation -----------------------------------------------------------------------------
def _src(op: str, src, *, floating: bool = False, bool_ok: bool = False) -> Tensor:
    check_tensor(op, "src", src)
    if src.ndim < 1:
        raise ValueError(f"{op}: expected `src` with at least 1 dim (got a 0-d tensor)")
    kinds = "f" if floating else "iufb" if bool_ok else "iuf"
    if src.dtype.kind not in kinds:
        what = "a floating" if floating else "a numeric (int or float)"
        raise TypeError(f"{op}: expected `src` with {what} dtype (got {src.dtype})")
    return src


def _on_device(a, device: str):
    return a if backend.device_of(a) == device else backend.to_device(a, device)


def _signed(op: str, name: str, idx):
    """uint64 ids as int64 (what the kernels index with): refused past int64's range."""
    if idx.dtype != np.uint64:
        return idx
    if idx.size and int(idx.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"{op}: expected `{name}` values below 2^63 (got {int(idx.max())})")
    return idx.astype(np.int64)


def _converted(op: str, name: str, given, array, src: Tensor):
    """``(array on src's device, the Tensor backward saves for it or None)`` for ``array``
    (``given``'s, validated). A host index Tensor moves to a device ``src`` by a traced `to`,
    as ops/index.py moves one: a static graph follows its values on every call, also when it
    was computed in the compiled step. Any other converted copy (uint64 ids, a host array) is
    what an op then keeps: a static trace guards ``given``'s values."""
    if isinstance(given, Tensor) and array is given.array and given.device != src.device:
        from sparsegraph.ops.convert import to

        moved = to(given, src.device)
        return moved.array, moved
    on = _on_device(array, src.device)
    if on is not (given.array if isinstance(given, Tensor) else given):
        host_values(given, f"{op}: `{name}` converted to {on.dtype} on {src.device}")
    return on, source_of(given)


def _index(op: str, index, src: Tensor, dim: int = 0):
    """A 1-D integral index with one entry per slice of ``src`` along ``dim``, on ``src``'s
    device, and its source Tensor (`_converted`)."""
    idx = _signed(op, "index", index_array(op, "index", index))
    if idx.shape[0] != src.shape[dim]:
        along = "" if dim == 0 else f" along dim {dim}"
        raise ValueError(f"{op}: expected `index` with {src.shape[dim]} entries to match `src` "
                         f"of shape {src.shape}{along} (got {idx.shape[0]})")
    return _converted(op, "index", index, idx, src)


def _check_range(op: str, name: str, idx, bound: int, hint: str = "") -> None:
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= bound:
            raise ValueError(f"{op}: expected `{name}` values in [0, {bound}) "
                             f"(got {lo if lo < 0 else hi}){hint}")


def _dim_size_hint(op: str, dim_size, ndim: int) -> str:
    """For a ``dim_size`` that looks like a dim (PyG's ``scatter(src, index, dim)``)."""
    if isinstance(dim_size, int | np.integer) and dim_size < max(ndim, 1):
        return (f"; `dim_size` is {op}'s third argument (PyG's scatter takes `dim` there): "
                "pass `dim` by keyword")
    return ""


def _size(op: str, name: str, size, idx, index, ndim: int = 0) -> int:
    """``size`` validated, or one past the largest value of ``index`` (as array ``idx``) when
    it is None: a read of the values, which a static trace guards."""
    if size is None:
        host_values(index, f"{op}: `{name}` inferred as max(index) + 1",
                    f"Pass `{name}`, or compute `index` outside the compiled function and "
                    "pass it as an argument")
        return int(idx.max()) + 1 if idx.size else 0
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise TypeError(f"{op}: expected `{name}` to be an int (got {type(size).__name__})")
    if size < 0:
        hint = _dim_size_hint(op, size, ndim) if name == "dim_size" else ""
        raise ValueError(f"{op}: expected a non-negative `{name}` (got {size}){hint}")
    return int(size)


def _indptr(op: str, indptr, src: Tensor):
    """A CSR-style ``indptr``: 1-D, integral, at least one entry (its values: `_check_indptr`,
    in the op's forward), and its source Tensor (`_converted`)."""
    ip = _signed(op, "indptr", index_array(op, "indptr", indptr))
    if ip.shape[0] < 1:
        raise ValueError(f"{op}: expected `indptr` with at least one entry (got an empty array)")
    return _converted(op, "indptr", indptr, ip, src)


def _check_indptr(op: str, ip, src: Tensor) -> None:
    """``ip`` starts at 0, ends at E (``src``'s rows) and does not decrease."""
    n = src.shape[0]
    first, last = int(ip[0]), int(ip[-1])
    if first != 0 or last != n:
        raise ValueError(f"{op}: expected `indptr` to start at 0 and end at {n}, the rows of "
                         f"`src` of shape {src.shape} (got {first} and {last})")
    if ip.shape[0] > 1 and bool((ip[1:] < ip[:-1]).any()):
        raise ValueError(f"{op}: expected a non-decreasing `indptr`")


# ---- public functions -----------------------------------------------------------------------
def gather_rows(src: Tensor, index) -> Tensor:
    """Rows of ``src`` at ``index``: PyG's ``x[edge_index[0]]``.

    Args:
        src: ``(N, ...)`` tensor.
        index: ``(E,)`` integer array-like or Tensor, values in ``[0, N)``.

    Returns:
        ``(E, ...)``. The gradient scatter-adds into the ``N`` rows (repeats accumulate).

    Raises:
        TypeError: non-Tensor ``src`` or non-integral ``index``.
        ValueError: ``index`` not 1-D or out of range.

    Example:
        >>> x = sg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> gather_rows(x, [1, 1, 0]).tolist()
        [[3.0, 4.0], [3.0, 4.0], [1.0, 2.0]]
    """
    _src("gather_rows", src, bool_ok=True)
    idx = _signed("gather_rows", "index", index_array("gather_rows", "index", index))
    idx, source = _converted("gather_rows", "index", index, idx, src)
    return GatherRows.apply(src, idx, source)


def _scatter(op: str, src, index, dim_size, reduce, dim):
    """``(out, arg)`` of a scatter along ``dim`` (arg None for sum/mean)."""
    _src(op, src)
    reduce = check_reduce(op, reduce, REDUCES)
    dim = norm_dim(op, dim, src.ndim)
    idx, source = _index(op, index, src, dim)  # checked against the caller's shape and dim
    size = _size(op, "dim_size", dim_size, idx, index, src.ndim)
    order = (dim,) + tuple(d for d in range(src.ndim) if d != dim)
    row_bytes = src.dtype.itemsize * int(np.prod([src.shape[d] for d in order[1:]],
                                                 dtype=np.int64))
    if size * row_bytes > np.iinfo(np.int64).max // 2:  # numpy: "array is too big"
        raise ValueError(f"{op}: {size} output rows of {row_bytes} bytes cannot be allocated; "
                         "pass a smaller `dim_size` or renumber `index` to consecutive ids")
    try:  # the scattered axis moved first, reduced, moved back
        out = Scatter.apply(permute(src, order) if dim else src, idx, size, reduce, op,
                            source)
    except MemoryError:
        raise ValueError(f"{op}: {size} output rows do not fit in memory; pass a smaller "
                         "`dim_size` or renumber `index` to consecutive ids") from None
    out, arg = out if isinstance(out, tuple) else (out, None)
    if dim:
        back = tuple(int(i) for i in np.argsort(order))
        return permute(out, back), None if arg is None else permute(arg, back)
    return out, arg


def scatter(src: Tensor, index, dim_size: int | None = None, reduce: str = "sum",
            dim: int = 0) -> Tensor:
    """Reduce the slices of ``src`` along ``dim`` into ``dim_size`` outputs by ``index``.

    Args:
        src: ``(E, ...)`` numeric tensor (``E`` along ``dim``).
        index: ``(E,)`` output position of every slice, in ``[0, dim_size)``; need not be sorted.
        dim_size: number of outputs. (default: ``max(index) + 1``)
        reduce: ``"sum"`` (or its PyG synonym ``"add"``), ``"mean"``, ``"max"`` or ``"min"``.
            (default: ``"sum"``)
        dim: the axis to reduce. (default: 0)

    Returns:
        ``src``'s shape with ``dim`` of size ``dim_size``; empty outputs are 0. With ``"max"``
        / ``"min"`` the whole gradient of an output goes to one arg-extremum: on ties the
        source slice of the smallest position along ``dim`` (the first; torch_scatter's rule,
        while torch's ``scatter_reduce(amax)`` splits a tie's gradient evenly).

    Raises:
        TypeError / ValueError: bad ``src``, ``index``, ``dim_size``, ``reduce`` or ``dim``.

    Example:
        >>> scatter(sg.tensor([1.0, 2.0, 3.0]), [0, 2, 0], 4).tolist()
        [4.0, 0.0, 2.0, 0.0]
    """
    return _scatter("scatter", src, index, dim_size, reduce, dim)[0]


def scatter_add(src: Tensor, index, dim_size: int | None = None, dim: int = 0) -> Tensor:
    """``scatter(..., reduce="sum")``."""
    return _scatter("scatter_add", src, index, dim_size, "sum", dim)[0]


def scatter_mean(src: Tensor, index, dim_size: int | None = None, dim: int = 0) -> Tensor:
    """``scatter(..., reduce="mean")``."""
    return _scatter("scatter_mean", src, index, dim_size, "mean", dim)[0]


def scatter_max(src: Tensor, index, dim_size: int | None = None, dim: int = 0):
    """``(values, argmax)`` as torch_scatter: ``argmax`` (int64) is the source position of each
    maximum (the first on ties) and ``src.shape[dim]`` for empty outputs."""
    return _scatter("scatter_max", src, index, dim_size, "max", dim)


def scatter_min(src: Tensor, index, dim_size: int | None = None, dim: int = 0):
    """``(values, argmin)``; as `scatter_max`."""
    return _scatter("scatter_min", src, index, dim_size, "min", dim)


def segment(src: Tensor, indptr, reduce: str = "sum") -> Tensor:
    """Reduce rows grouped by a CSR-style ``indptr`` (torch_scatter's ``segment_csr``).

    The fastest reduction: segment ``s`` is ``src[indptr[s]:indptr[s + 1]]``, so no sort is
    needed. Per-target messages of a CSR adjacency use ``adj.indptr``.

    Args:
        src: ``(E, ...)`` numeric tensor.
        indptr: ``(S + 1,)`` non-decreasing offsets from 0 to ``E``.
        reduce: ``"sum"`` (or its PyG synonym ``"add"``), ``"mean"``, ``"max"`` or ``"min"``.
            (default: ``"sum"``)

    Returns:
        ``(S, ...)``; empty segments are 0. With ``"max"`` / ``"min"`` the whole gradient of a
        segment goes to one arg-extremum: on ties its first (smallest-position) row.

    Example:
        >>> segment(sg.tensor([1.0, 2.0, 3.0]), [0, 2, 2, 3], "max").tolist()
        [2.0, 0.0, 3.0]
    """
    _src("segment", src)
    reduce = check_reduce("segment", reduce, REDUCES)
    ip, source = _indptr("segment", indptr, src)
    return Segment.apply(src, ip, reduce, source)


def segment_softmax(src: Tensor, index=None, indptr=None,
                    num_segments: int | None = None) -> Tensor:
    """Softmax of ``src`` within each segment (PyG's ``softmax(src, index, ptr)``).

    Segments are given by ``indptr`` (rows already grouped: the fast path) or by an unsorted
    ``index``; with both, ``indptr`` is used. Numerically stable (the segment max is
    subtracted); each non-empty segment sums to 1 in every column.

    Args:
        src: ``(E,)`` or ``(E, H)`` floating scores (``H`` heads are independent).
        index: ``(E,)`` segment of every row, in ``[0, num_segments)``.
        indptr: ``(S + 1,)`` non-decreasing offsets from 0 to ``E``.
        num_segments: number of segments for ``index``. (default: ``max(index) + 1``)

    Returns:
        Same shape and dtype as ``src``. The gradient is ``y * (g - segsum(g * y))``.

    Example:
        >>> segment_softmax(sg.tensor([0.0, 0.0, 5.0]), index=[1, 1, 0]).tolist()
        [0.5, 0.5, 1.0]
    """
    op = "segment_softmax"
    _src(op, src, floating=True)
    if indptr is not None:
        ip, source = _indptr(op, indptr, src)
        if num_segments is not None and _size(op, "num_segments", num_segments, ip, indptr) != (
                ip.shape[0] - 1):
            raise ValueError(f"{op}: expected `num_segments` to equal len(indptr) - 1 = "
                             f"{ip.shape[0] - 1} (got {num_segments})")
        return SegmentSoftmax.apply(src, ip, source)
    if index is None:
        raise ValueError(f"{op}: expected `index` or `indptr` to define the segments")
    idx, _ = _index(op, index, src)
    return ScatterSoftmax.apply(src, idx, _size(op, "num_segments", num_segments, idx, index))
