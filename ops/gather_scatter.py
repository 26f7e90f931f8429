"""Gather / scatter / segment ops on dense tensors: the primitives of message passing.

``gather_rows(src, index)`` picks rows (PyG's ``x[edge_index[0]]``); ``scatter`` reduces rows
into ``dim_size`` outputs by an unsorted index; ``segment`` does the same for rows already
grouped by a CSR-style ``indptr`` (the fast path: edges of a CSR adjacency are grouped by
target). Max/min route the gradient to the arg-extremum (ties: the first position). Empty
outputs are 0.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch
from sparsegraph.tensor import Tensor, wrap
from sparsegraph.ops._util import check_tensor

__all__ = ["gather_rows", "scatter", "scatter_add", "scatter_mean", "scatter_max",
           "scatter_min", "segment", "segment_softmax"]

REDUCES = ("sum", "mean", "max", "min")


def _route_to_arg(g, arg, n_src):
    """Gradient of max/min: ``g[s, f]`` goes to row ``arg[s, f]`` of the source."""
    xp = xp_of(g)
    gsrc = xp.zeros((n_src,) + g.shape[1:], dtype=g.dtype)
    flat_g = g.reshape(g.shape[0], -1)
    flat_arg = arg.reshape(arg.shape[0], -1)
    cols = xp.broadcast_to(xp.arange(flat_g.shape[1]), flat_g.shape)
    ok = flat_arg >= 0
    gsrc.reshape(n_src, -1)[flat_arg[ok], cols[ok]] = flat_g[ok]
    return gsrc


def _counts(indptr):
    return xp_of(indptr).diff(indptr)


class GatherRows(Function):
    @staticmethod
    def forward(ctx, src, index):
        ctx.n, ctx.index = src.shape[0], index
        return src.array[index]

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
        g = g.array
        if ctx.reduce in ("max", "min"):
            return _route_to_arg(g, ctx.arg, ctx.n), None, None
        counts = _counts(ctx.indptr)
        if ctx.reduce == "mean":
            scale = (1.0 / xp_of(g).maximum(counts, 1)).astype(g.dtype)
            g = g * scale.reshape((-1,) + (1,) * (g.ndim - 1))
        return xp_of(g).repeat(g, counts, axis=0), None, None


class Scatter(Function):
    """Reduce rows into ``dim_size`` outputs by an unsorted ``index``."""

    @staticmethod
    def forward(ctx, src, index, dim_size, reduce):
        out, arg = dispatch("scatter_reduce", ctx.device, "csr")(index, src.array, dim_size,
                                                                  reduce)
        ctx.index, ctx.reduce, ctx.arg, ctx.n = index, reduce, arg, src.shape[0]
        if reduce == "mean":
            ctx.counts = xp_of(index).bincount(index, minlength=dim_size)
        return out

    @staticmethod
    def backward(ctx, g):
        g = g.array
        if ctx.reduce in ("max", "min"):
            return _route_to_arg(g, ctx.arg, ctx.n), None, None, None
        if ctx.reduce == "mean":
            scale = (1.0 / xp_of(g).maximum(ctx.counts, 1)).astype(g.dtype)
            g = g * scale.reshape((-1,) + (1,) * (g.ndim - 1))
        return g[ctx.index], None, None, None


class SegmentSoftmax(Function):
    """Softmax within segments of rows grouped by ``indptr`` (per column for 2-D src)."""

    @staticmethod
    def forward(ctx, src, indptr):
        ctx.indptr = indptr
        ctx.y = dispatch("csr_softmax", ctx.device, "csr")(indptr, src.array)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return dispatch("csr_softmax_backward", ctx.device, "csr")(ctx.indptr, ctx.y,
                                                                   g.array), None


def _index(op, index, n_rows, dim_size=None):
    idx = index.array if isinstance(index, Tensor) else index
    idx = idx if hasattr(idx, "dtype") else np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an integer `index` (got {idx.dtype})")
    if idx.ndim != 1 or idx.shape[0] != n_rows:
        raise ValueError(f"{op}: expected `index` with {n_rows} entries to match `src` "
                         f"(got shape {idx.shape})")
    if dim_size is not None and idx.size and (int(idx.min()) < 0 or int(idx.max()) >= dim_size):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise ValueError(f"{op}: expected `index` values in [0, {dim_size}) (got {bad})")
    return idx


def _indptr(op, indptr, n_rows):
    ip = indptr.array if isinstance(indptr, Tensor) else indptr
    ip = ip if hasattr(ip, "dtype") else np.asarray(ip)
    if ip.dtype.kind not in "iu" or ip.ndim != 1 or ip.size < 1:
        raise TypeError(f"{op}: expected a 1-D integer `indptr` (got {ip.dtype} of shape "
                        f"{ip.shape})")
    if int(ip[0]) != 0 or int(ip[-1]) != n_rows or (ip.size > 1 and bool(
            (xp_of(ip).diff(ip) < 0).any())):
        raise ValueError(f"{op}: expected a non-decreasing `indptr` from 0 to {n_rows} rows of "
                         f"`src` (got {int(ip[0])} .. {int(ip[-1])})")
    return ip


def _src(op, src):
    check_tensor(op, "src", src)
    if src.ndim < 1:
        raise ValueError(f"{op}: expected `src` with at least 1 dim (got a scalar)")
    return src


def gather_rows(src: Tensor, index) -> Tensor:
    """Rows of ``src`` ``(N, ...)`` at ``index`` ``(E,)`` -> ``(E, ...)``; backward scatter-adds."""
    _src("gather_rows", src)
    idx = index.array if isinstance(index, Tensor) else index
    idx = idx if hasattr(idx, "dtype") else np.asarray(idx)
    if idx.dtype.kind not in "iu" or idx.ndim != 1:
        raise TypeError(f"gather_rows: expected a 1-D integer `index` (got {idx.dtype} of shape "
                        f"{idx.shape})")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= src.shape[0]):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise ValueError(f"gather_rows: expected `index` values in [0, {src.shape[0]}) "
                         f"(got {bad})")
    return GatherRows.apply(src, idx)


def scatter(src: Tensor, index, dim_size: int | None = None, reduce: str = "sum",
            dim: int = 0) -> Tensor:
    """Reduce rows of ``src`` ``(E, ...)`` into ``(dim_size, ...)`` by ``index`` ``(E,)``.

    Args:
        reduce: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``; empty outputs are 0.
        dim_size: number of outputs (default: ``max(index) + 1``).
    """
    _src("scatter", src)
    if dim != 0:
        raise NotImplementedError("scatter: only dim=0 is supported; move the axis first")
    if reduce not in REDUCES:
        raise ValueError(f"scatter: expected `reduce` in {REDUCES} (got {reduce!r})")
    idx = _index("scatter", index, src.shape[0])
    if dim_size is None:
        dim_size = int(idx.max()) + 1 if idx.size else 0
    _index("scatter", idx, src.shape[0], dim_size)
    return Scatter.apply(src, idx, int(dim_size), reduce)


def scatter_add(src, index, dim_size=None):
    return scatter(src, index, dim_size, "sum")


def scatter_mean(src, index, dim_size=None):
    return scatter(src, index, dim_size, "mean")


def scatter_max(src, index, dim_size=None):
    return scatter(src, index, dim_size, "max")


def scatter_min(src, index, dim_size=None):
    return scatter(src, index, dim_size, "min")


def segment(src: Tensor, indptr, reduce: str = "sum") -> Tensor:
    """Reduce rows grouped by a CSR-style ``indptr`` (``S + 1`` offsets) -> ``(S, ...)``."""
    _src("segment", src)
    if reduce not in REDUCES:
        raise ValueError(f"segment: expected `reduce` in {REDUCES} (got {reduce!r})")
    return Segment.apply(src, _indptr("segment", indptr, src.shape[0]), reduce)


def segment_softmax(src: Tensor, index=None, indptr=None, num_segments: int | None = None):
    """Softmax of ``src`` ``(E,)`` or ``(E, H)`` within each segment (PyG's ``softmax``).

    Segments are given by ``indptr`` (rows grouped, fastest) or an unsorted ``index``.
    """
    _src("segment_softmax", src)
    if src.dtype.kind != "f":
        raise TypeError(f"segment_softmax: expected a floating `src` (got {src.dtype})")
    if indptr is not None:
        return SegmentSoftmax.apply(src, _indptr("segment_softmax", indptr, src.shape[0]))
    if index is None:
        raise ValueError("segment_softmax: expected `index` or `indptr`")
    idx = _index("segment_softmax", index, src.shape[0])
    n = num_segments if num_segments is not None else (int(idx.max()) + 1 if idx.size else 0)
    _index("segment_softmax", idx, src.shape[0], n)
    xp = xp_of(idx)
    order = xp.argsort(idx, kind="stable")
    ptr = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(xp.bincount(idx, minlength=n))])
    from sparsegraph.ops.index import getitem

    out = SegmentSoftmax.apply(getitem(src, order), ptr)
    return getitem(out, wrap(xp.argsort(order)))
