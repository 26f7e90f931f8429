"""Generic CSR kernels written against the array module ``xp`` (numpy now, cupy later).

They are the reference the faster kernels are tested against, and the GPU path once cupy is
wired in, so they use only formulations numpy and cupy share: gathers, ``add.reduceat`` over
the starts of nonempty segments (cupy >= 12 has it), ``searchsorted`` and ``einsum``; never
``ufunc.at`` on the add path. Max/min reductions fall back to ``ufunc.at`` (exact: max is
order-independent) where ``reduceat`` is missing.

spmm and sddmm walk the edges in blocks so their temporaries stay O(block x F) instead of
E x F; segment reductions and softmax take E x F (or E x H) inputs and may use temporaries of
that size.

Shapes: a CSR structure (N, M) has ``indptr`` (N + 1,) and ``indices`` (E,), row = destination,
column = source. Values are (E,) or hybrid (E, H) (one value per head).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import xp_of
from sparsegraph.kernels import register
from sparsegraph.ops._util import QUIET_FP
from sparsegraph.ops.sparse_kernels.structure import csr_row_ids

# elements of one edge block's temporaries (4 MiB of float32): big enough to amortise the
# Python loop, small enough that E x F never exists at once
BLOCK_ELEMS = 1 << 20


def segments(xp, indptr, nnz: int):
    """Nonempty segments of ``indptr``: their starts (R,), mask (S,) and each entry's segment.

    Returns:
        ``(starts, nonempty, seg)``: starts of the R nonempty segments, the (S,) bool mask of
        nonempty segments, and the (E,) index in ``[0, R)`` of every entry's segment.
    """
    nonempty = indptr[1:] > indptr[:-1]
    starts = indptr[:-1][nonempty]
    compact = xp.concatenate([starts, xp.asarray([nnz], dtype=indptr.dtype)])
    return starts, nonempty, csr_row_ids(compact, nnz)


def reduceat(xp, name: str, src, starts, seg):
    """``xp.<name>.reduceat(src, starts, axis=0)``; ``.at`` where cupy lacks reduceat (max/min).

    ``starts`` must be strictly increasing (nonempty segments only): reduceat's rule for an
    empty segment returns an element, not the identity.
    """
    ufunc = getattr(xp, name)
    if xp is np or name == "add":
        return ufunc.reduceat(src, starts, axis=0)
    out = src[starts].copy()  # each segment's first element: a valid start for max/min
    ufunc.at(out, seg, src)
    return out


def _block_rows(xp, indptr, lo: int, hi: int):
    """Rows ``r0..r1`` touched by entries ``[lo, hi)`` and their entry pointers local to it."""
    r0 = int(xp.searchsorted(indptr, lo, side="right")) - 1
    r1 = int(xp.searchsorted(indptr, hi - 1, side="right")) - 1
    local = xp.clip(indptr[r0 : r1 + 2], lo, hi) - lo
    return r0, local


def _value_axes(values, x):
    """``values`` reshaped to broadcast against gathered rows of ``x``: (E, H) -> (E, H, 1)."""
    return values.reshape(values.shape + (1,) * (x.ndim - values.ndim))


@register("spmm", "cpu", "cuda", name="generic", fmt="csr")
def spmm(indptr, indices, values, x, n_rows: int):
    """Sparse-dense product ``out[i] = sum_e values[e] * x[indices[e]]`` over row ``i``'s entries.

    Args:
        indptr: (N + 1,) row pointers.
        indices: (E,) source column of every entry.
        values: (E,) or hybrid (E, H).
        x: (M, F) for (E,) values, (M, H, F) for hybrid values.
        n_rows: ``N``.

    Returns:
        (N, F) or (N, H, F) in the result dtype of ``values`` and ``x``.
    """
    xp = xp_of(x)
    dtype = xp.result_type(values.dtype, x.dtype)
    out = xp.zeros((n_rows,) + x.shape[1:], dtype=dtype)
    nnz = indices.shape[0]
    weights = _value_axes(values, x)
    block = max(1, BLOCK_ELEMS // max(1, int(np.prod(x.shape[1:]))))
    for lo in range(0, nnz, block):
        hi = min(lo + block, nnz)
        msg = x[indices[lo:hi]].astype(dtype, copy=False)
        msg *= weights[lo:hi]
        r0, local = _block_rows(xp, indptr, lo, hi)
        nonempty = local[1:] > local[:-1]
        # rows cut by a block edge get one partial sum per block; the row ids are unique within
        # a block, so a plain fancy-index += is exact (no ufunc.at)
        rows = out[r0 : r0 + nonempty.shape[0]]
        if dtype == np.bool_:  # a boolean product ORs its terms, as numpy's bool matmul
            rows[nonempty] |= xp.add.reduceat(msg.astype(np.int64), local[:-1][nonempty],
                                              axis=0) > 0
        else:
            rows[nonempty] += xp.add.reduceat(msg, local[:-1][nonempty], axis=0)
    return out


@register("sddmm", "cpu", "cuda", name="generic", fmt="csr")
def sddmm(indptr, indices, x, y):
    """Sampled dense-dense product: ``out[e] = <x[row(e)], y[col(e)]>`` at the stored entries.

    Args:
        indptr: (N + 1,) row pointers.
        indices: (E,) column of every entry.
        x: (N, F) or (N, H, F) (row side, e.g. the output gradient of spmm).
        y: (M, F) or (M, H, F) (column side).

    Returns:
        (E,) or (E, H), in the result dtype of ``x`` and ``y``.
    """
    xp = xp_of(x)
    dtype = xp.result_type(x.dtype, y.dtype)
    nnz = indices.shape[0]
    out = xp.zeros((nnz,) + x.shape[1:-1], dtype=dtype)
    block = max(1, BLOCK_ELEMS // max(1, int(np.prod(x.shape[1:]))))
    for lo in range(0, nnz, block):
        hi = min(lo + block, nnz)
        r0, local = _block_rows(xp, indptr, lo, hi)
        rows = csr_row_ids(local, hi - lo) + r0
        out[lo:hi] = xp.einsum("...f,...f->...", x[rows], y[indices[lo:hi]])
    return out


def _softmax_parts(indptr, values):
    xp = xp_of(values)
    starts, _, seg = segments(xp, indptr, values.shape[0])
    with np.errstate(**QUIET_FP):  # an all -inf row: -inf - -inf is nan, as torch
        shifted = values - reduceat(xp, "maximum", values, starts, seg)[seg]
    return xp, starts, seg, shifted


@register("csr_softmax", "cpu", "cuda", name="generic", fmt="csr")
def csr_softmax(indptr, values):
    """Softmax of the stored values within each row (each head separately).

    Also serves as ``segment_softmax``: rows of a CSR structure are sorted segments.

    Args:
        indptr: (N + 1,) row (segment) pointers.
        values: (E,) or (E, H) scores.

    Returns:
        Same shape and dtype as ``values``; each nonempty row sums to 1. A row whose scores are
        all ``-inf`` gives NaN (0 / 0), as in torch.
    """
    if values.shape[0] == 0:
        return values.copy()
    xp, starts, seg, ex = _softmax_parts(indptr, values)
    xp.exp(ex, out=ex)
    return ex / xp.add.reduceat(ex, starts, axis=0)[seg]


@register("csr_log_softmax", "cpu", "cuda", name="generic", fmt="csr")
def csr_log_softmax(indptr, values):
    """Log-softmax of the stored values within each row: ``v - max - log(sum(exp(v - max)))``.

    Args / Returns: as `csr_softmax`.
    """
    if values.shape[0] == 0:
        return values.copy()
    xp, starts, seg, shifted = _softmax_parts(indptr, values)
    lse = xp.log(xp.add.reduceat(xp.exp(shifted), starts, axis=0))
    return shifted - lse[seg]


@register("csr_softmax_backward", "cpu", "cuda", name="generic", fmt="csr")
def csr_softmax_backward(indptr, out, g):
    """Gradient of `csr_softmax`: ``out * (g - rowsum(out * g))``.

    Args:
        indptr: (N + 1,) row pointers.
        out: (E,) or (E, H) softmax output.
        g: gradient w.r.t. ``out``, same shape.

    Returns:
        Gradient w.r.t. the scores, same shape as ``out``.
    """
    if out.shape[0] == 0:
        return g.copy()
    xp = xp_of(out)
    starts, _, seg = segments(xp, indptr, out.shape[0])
    dot = xp.add.reduceat(out * g, starts, axis=0)
    return out * (g - dot[seg])


@register("csr_log_softmax_backward", "cpu", "cuda", name="generic", fmt="csr")
def csr_log_softmax_backward(indptr, out, g):
    """Gradient of `csr_log_softmax`: ``g - exp(out) * rowsum(g)`` (``out`` are log-probs).

    Args / Returns: as `csr_softmax_backward`.
    """
    if out.shape[0] == 0:
        return g.copy()
    xp = xp_of(out)
    starts, _, seg = segments(xp, indptr, out.shape[0])
    total = xp.add.reduceat(g, starts, axis=0)
    return g - xp.exp(out) * total[seg]


@register("csr_softmax_spmm", "cpu", "cuda", name="generic", fmt="csr")
def csr_softmax_spmm(indptr, indices, scores, x):
    """Edge softmax followed by aggregation (attention): ``alpha = softmax_row(scores)``,
    ``out = spmm(alpha, x)``; the generic version composes the two kernels.

    Args:
        indptr: (N + 1,) row pointers.
        indices: (E,) source column of every entry.
        scores: (E,) with x (M, F), or (E, H) with x (M, H, F).
        x: source features.

    Returns:
        ``(out, alpha)``: (N, F) or (N, H, F), and alpha shaped like ``scores``.
    """
    alpha = csr_softmax(indptr, scores)
    return spmm(indptr, indices, alpha, x, indptr.shape[0] - 1), alpha


def _reduce_segments(xp, indptr, src, reduce: str):
    n_seg = indptr.shape[0] - 1
    nnz = src.shape[0]
    out = xp.zeros((n_seg,) + src.shape[1:], dtype=src.dtype)
    starts, nonempty, seg = segments(xp, indptr, nnz)
    empty = starts.shape[0] == 0
    if reduce in ("sum", "mean"):
        if not empty:
            out[nonempty] = xp.add.reduceat(src, starts, axis=0)
        if reduce == "mean":
            count = xp.maximum(indptr[1:] - indptr[:-1], 1).reshape((-1,) + (1,) * (src.ndim - 1))
            # NOTE: integer sources take the floor of the mean (torch_scatter's rule)
            out = (out / count.astype(src.dtype) if src.dtype.kind == "f"
                   else (out // count).astype(src.dtype))  # the source dtype, as torch_scatter
        return out, None
    arg = xp.full(out.shape, -1, dtype=np.int64)
    if empty:
        return out, arg
    ext = reduceat(xp, "maximum" if reduce == "max" else "minimum", src, starts, seg)
    out[nonempty] = ext
    hit = src == ext[seg]
    if src.dtype.kind == "f":  # NaN propagates: the first NaN is the arg-extremum
        hit |= xp.isnan(src) & xp.isnan(ext[seg])
    pos = xp.arange(nnz, dtype=np.int64).reshape((-1,) + (1,) * (src.ndim - 1))
    # ties: the smallest position holding the extremum wins
    arg[nonempty] = reduceat(xp, "minimum", xp.where(hit, pos, nnz), starts, seg)
    return out, arg


@register("segment_reduce", "cpu", "cuda", name="generic", fmt="csr")
def segment_reduce(indptr, src, reduce: str):
    """Reduce sorted segments: segment ``s`` is ``src[indptr[s]:indptr[s + 1]]``.

    Args:
        indptr: (S + 1,) segment pointers.
        src: (E,) or (E, F, ...).
        reduce: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``.

    Returns:
        ``(out, arg)``: out (S, F, ...) in ``src``'s dtype, 0 for empty segments; for max/min,
        arg (S, F, ...) int64 is the position in ``src`` of the extremum (the smallest such
        position on ties, the first NaN if any), -1 for empty segments; None for sum/mean.
    """
    return _reduce_segments(xp_of(src), indptr, src, reduce)


@register("scatter_reduce", "cpu", "cuda", name="generic", fmt="csr")
def scatter_reduce(index, src, dim_size: int, reduce: str):
    """Reduce ``src`` rows into ``dim_size`` outputs by an unsorted ``index``.

    Args:
        index: (E,) output row of every source row, in ``[0, dim_size)``.
        src: (E,) or (E, F, ...).
        dim_size: number of outputs ``S``.
        reduce: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``.

    Returns:
        As `segment_reduce`, with ``arg`` indexing the unsorted ``src``; ties go to the smallest
        source position (a stable sort keeps each output's sources in input order).
    """
    xp = xp_of(src)
    perm = xp.argsort(index, kind="stable")
    indptr = xp.zeros(dim_size + 1, dtype=np.int64)
    xp.cumsum(xp.bincount(index, minlength=dim_size), out=indptr[1:])
    out, arg = _reduce_segments(xp, indptr, src[perm], reduce)
    if arg is not None and src.shape[0]:
        arg = xp.where(arg >= 0, perm[xp.maximum(arg, 0)], -1)
    return out, arg
