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
from sparsegraph.ops._util import check_reduce, check_tensor, norm_dim
from sparsegraph.ops.shape import permute
from sparsegraph.ops.sparse_kernels.structure import csr_row_ids
from sparsegraph.sparse_checks import index_array
from sparsegraph.tensor import Tensor, wrap

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
class GatherRows(Function):
    """``src[index]`` along dim 0; backward scatter-adds (repeated rows accumulate)."""

    @staticmethod
    def forward(ctx, src, index):
        ctx.index, ctx.n = index, src.shape[0]
        return dispatch("gather_rows", ctx.device)(src.array, index)

    @staticmethod
    def backward(ctx, g):
        out, _ = dispatch("scatter_reduce", ctx.device, "csr")(ctx.index, g.array, ctx.n, "sum")
        return out, None


class Segment(Function):
    """Reduce rows grouped by ``indptr``: segment s is rows ``indptr[s]:indptr[s + 1]``."""

    @staticmethod
    def forward(ctx, src, indptr, reduce):
        out, arg = dispatch("segment_reduce", ctx.device, "csr")(indptr, src.array, reduce)
        ctx.indptr, ctx.reduce, ctx.arg, ctx.n = indptr, reduce, arg, src.shape[0]
        return out

    @staticmethod
    def backward(ctx, g):
        gx = dispatch("segment_backward", ctx.device)(g.array, ctx.indptr, ctx.arg, ctx.n,
                                                      ctx.reduce)
        return gx, None, None


class Scatter(Function):
    """Reduce rows into ``dim_size`` outputs by an unsorted ``index``; max/min also return
    the int64 arg-extremum (-1 for empty outputs)."""

    @staticmethod
    def forward(ctx, src, index, dim_size, reduce):
        out, arg = dispatch("scatter_reduce", ctx.device, "csr")(index, src.array, dim_size,
                                                                  reduce)
        ctx.index, ctx.reduce, ctx.arg, ctx.n = index, reduce, arg, src.shape[0]
        return out if arg is None else (out, arg)

    @staticmethod
    def backward(ctx, g, g_arg=None):
        gx = dispatch("scatter_backward", ctx.device)(g.array, ctx.index, ctx.arg, ctx.n,
                                                      ctx.reduce)
        return gx, None, None, None


class SegmentSoftmax(Function):
    """Softmax within rows grouped by ``indptr`` (each trailing column separately)."""

    @staticmethod
    def forward(ctx, src, indptr):
        ctx.indptr = indptr
        return ctx.save_output(dispatch("csr_softmax", ctx.device, "csr")(indptr, src.array))

    @staticmethod
    def backward(ctx, g):
        gx = dispatch("csr_softmax_backward", ctx.device, "csr")(ctx.indptr, ctx.saved_output,
                                                                 g.array)
        return gx, None


class ScatterSoftmax(Function):
    """Softmax within the groups of an unsorted ``index``: one stable sort, then the sorted
    kernel on the permuted rows."""

    @staticmethod
    def forward(ctx, src, index, num_segments):
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


def _index(op: str, index, src: Tensor, dim: int = 0):
    """A 1-D integral index with one entry per slice of ``src`` along ``dim``, on ``src``'s
    device."""
    idx = _signed(op, "index", index_array(op, "index", index))
    if idx.shape[0] != src.shape[dim]:
        along = "" if dim == 0 else f" along dim {dim}"
        raise ValueError(f"{op}: expected `index` with {src.shape[dim]} entries to match `src` "
                         f"of shape {src.shape}{along} (got {idx.shape[0]})")
    return _on_device(idx, src.device)


def _check_range(op: str, name: str, idx, bound: int) -> None:
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= bound:
            raise ValueError(f"{op}: expected `{name}` values in [0, {bound}) "
                             f"(got {lo if lo < 0 else hi})")


def _size(op: str, name: str, size, idx) -> int:
    """``size`` validated, or one past the largest index when it is None."""
    if size is None:
        return int(idx.max()) + 1 if idx.size else 0
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise TypeError(f"{op}: expected `{name}` to be an int (got {type(size).__name__})")
    if size < 0:
        raise ValueError(f"{op}: expected a non-negative `{name}` (got {size})")
    return int(size)


def _indptr(op: str, indptr, src: Tensor):
    """A CSR-style ``indptr``: 1-D, integral, starts at 0, non-decreasing, ends at E."""
    ip = _signed(op, "indptr", index_array(op, "indptr", indptr))
    n = src.shape[0]
    if ip.shape[0] < 1:
        raise ValueError(f"{op}: expected `indptr` with at least one entry (got an empty array)")
    first, last = int(ip[0]), int(ip[-1])
    if first != 0 or last != n:
        raise ValueError(f"{op}: expected `indptr` to start at 0 and end at {n}, the rows of "
                         f"`src` of shape {src.shape} (got {first} and {last})")
    if ip.shape[0] > 1 and bool((ip[1:] < ip[:-1]).any()):
        raise ValueError(f"{op}: expected a non-decreasing `indptr`")
    return _on_device(ip, src.device)


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
    idx = _on_device(_signed("gather_rows", "index", index_array("gather_rows", "index",
                                                                   index)), src.device)
    _check_range("gather_rows", "index", idx, src.shape[0])
    return GatherRows.apply(src, idx)


def _scatter(op: str, src, index, dim_size, reduce, dim):
    """``(out, arg)`` of a scatter along ``dim`` (arg None for sum/mean)."""
    _src(op, src)
    reduce = check_reduce(op, reduce, REDUCES)
    dim = norm_dim(op, dim, src.ndim)
    idx = _index(op, index, src, dim)  # checked against the caller's shape and dim
    if dim:  # move the scattered axis first, reduce, move it back
        order = (dim,) + tuple(d for d in range(src.ndim) if d != dim)
        back = tuple(int(i) for i in np.argsort(order))
        out, arg = _scatter(op, permute(src, order), idx, dim_size, reduce, 0)
        return permute(out, back), None if arg is None else permute(arg, back)
    size = _size(op, "dim_size", dim_size, idx)
    _check_range(op, "index", idx, size)
    row_bytes = src.dtype.itemsize * int(np.prod(src.shape[1:], dtype=np.int64))
    if size * row_bytes > np.iinfo(np.int64).max // 2:  # numpy: "array is too big"
        raise ValueError(f"{op}: {size} output rows of {row_bytes} bytes cannot be allocated; "
                         "pass a smaller `dim_size` or renumber `index` to consecutive ids")
    try:
        out = Scatter.apply(src, idx, size, reduce)
    except MemoryError:
        raise ValueError(f"{op}: {size} output rows do not fit in memory; pass a smaller "
                         "`dim_size` or renumber `index` to consecutive ids") from None
    return out if isinstance(out, tuple) else (out, None)


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
        ``src``'s shape with ``dim`` of size ``dim_size``; empty outputs are 0.

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


def _with_arg(op, src, index, dim_size, reduce, dim):
    out, arg = _scatter(op, src, index, dim_size, reduce, dim)
    # torch_scatter marks empty outputs with an out-of-range position (the source length), so
    # that using the arg as an index fails instead of silently picking the last row
    n, a = src.shape[norm_dim(op, dim, src.ndim)], arg.array
    return out, wrap(xp_of(a).where(a < 0, n, a))


def scatter_max(src: Tensor, index, dim_size: int | None = None, dim: int = 0):
    """``(values, argmax)`` as torch_scatter: ``argmax`` (int64) is the source position of each
    maximum (the first on ties) and ``src.shape[dim]`` for empty outputs."""
    return _with_arg("scatter_max", src, index, dim_size, "max", dim)


def scatter_min(src: Tensor, index, dim_size: int | None = None, dim: int = 0):
    """``(values, argmin)``; as `scatter_max`."""
    return _with_arg("scatter_min", src, index, dim_size, "min", dim)


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
        ``(S, ...)``; empty segments are 0.

    Example:
        >>> segment(sg.tensor([1.0, 2.0, 3.0]), [0, 2, 2, 3], "max").tolist()
        [2.0, 0.0, 3.0]
    """
    _src("segment", src)
    reduce = check_reduce("segment", reduce, REDUCES)
    return Segment.apply(src, _indptr("segment", indptr, src), reduce)


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
        ip = _indptr(op, indptr, src)
        if num_segments is not None and _size(op, "num_segments", num_segments, ip) != (
                ip.shape[0] - 1):
            raise ValueError(f"{op}: expected `num_segments` to equal len(indptr) - 1 = "
                             f"{ip.shape[0] - 1} (got {num_segments})")
        return SegmentSoftmax.apply(src, ip)
    if index is None:
        raise ValueError(f"{op}: expected `index` or `indptr` to define the segments")
    idx = _index(op, index, src)
    n = _size(op, "num_segments", num_segments, idx)
    _check_range(op, "index", idx, n)
    return ScatterSoftmax.apply(src, idx, n)
