"""Fused numba kernels: ``spmm_bias_act`` and GAT attention (sparsegraph.ops.fused), and both
gradients of spmm in one pass (``spmm_backward``, used by sparsegraph.ops.sparse_products).
``spmm_bias_act`` is the CSR row loop of spmm with the bias, ReLU and dropout scaling applied to
each output row while it is in cache.

Deterministic like the other numba kernels: one thread writes each output row, summing its
entries in stored order, then the epilogue in the eager ops' order (add, max, mask, scale), so
results match the generic kernel bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sparsegraph.kernels import register
from sparsegraph.ops.counter_rng import S32, G
from sparsegraph.ops.sparse_kernels.numba_dropout import _mix
from sparsegraph.ops.sparse_kernels.numba_kernels import DOT_FASTMATH, _dot, _take, sddmm, spmm
from sparsegraph.ops.sparse_kernels.numba_util import (
    JIT,
    line_aligned,
    one_thread_if_small,
    parallel_copy,
    prefetch_distance,
    prefetch_row,
    row_blocks,
)


@njit(parallel=True, **JIT)
def _spmm_bias_act(indptr, indices, values, x, out, bias, has_bias, relu, key, threshold,
                   has_dropout, scale, bounds, dist):
    f_dim = x.shape[1]
    nnz, row_bytes = indices.shape[0], x.strides[0]
    zero = out.dtype.type(0)
    for b in prange(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            o = out[i]
            o[:] = 0
            for e in range(indptr[i], indptr[i + 1]):
                if e + dist < nnz:
                    prefetch_row(x, indices[e + dist], row_bytes)
                v = values[e]
                xj = x[indices[e]]
                for f in range(f_dim):
                    o[f] += v * xj[f]
            first = np.uint64(i) * np.uint64(f_dim) + np.uint64(1)  # counter of element (i, 0)
            for f in range(f_dim):
                y = o[f] + bias[f] if has_bias else o[f]
                if relu and y < zero:
                    y = zero
                if has_dropout:
                    kept = (_mix(key + (first + np.uint64(f)) * G) >> S32) >= threshold
                    y = (y if kept else zero) * scale
                o[f] = y


@register("spmm_bias_act", "cpu", name="numba", priority=20, fmt="csr")
def spmm_bias_act(indptr, indices, values, x, n_rows, bias, relu, key, threshold, scale):
    """As the generic kernel, for (E,) values and (M, F) features; other shapes go there. The
    dropout mask is drawn per output element in the epilogue (`_mix`, the counter stream of
    ops/counter_rng.py): bit for bit the generic kernel's mask, never stored."""
    dtype = np.result_type(values.dtype, x.dtype)
    if x.ndim != 2 or values.ndim != 1 or n_rows == 0 or x.shape[1] == 0:
        from sparsegraph.ops.fused import _spmm_bias_act_generic

        return _spmm_bias_act_generic(indptr, indices, values, x, n_rows, bias, relu, key,
                                      threshold, scale)
    values = np.ascontiguousarray(values, dtype=dtype)
    x = line_aligned(np.ascontiguousarray(x, dtype=dtype))  # its rows are gathered
    out = np.empty((n_rows, x.shape[1]), dtype=dtype)  # every row is zeroed by the kernel
    has_bias, has_dropout = bias is not None, key is not None
    bias = np.ascontiguousarray(bias, dtype=dtype) if has_bias else np.zeros(1, dtype)
    with one_thread_if_small(indptr, indices, values, x):  # the work of a plain spmm
        _spmm_bias_act(indptr, indices, values, x, out, bias, has_bias, bool(relu),
                       np.uint64(key if has_dropout else 0), np.uint64(threshold), has_dropout,
                       dtype.type(scale), row_blocks(indptr), prefetch_distance(x.strides[0]))
    return out


@njit(parallel=True, **JIT)
def _gat_scores(indptr, indices, a_src, a_dst, slope, alpha, positive, bounds):
    """Per target row: the leaky_relu scores minus their row max (per head), into ``alpha``.
    Entries outer, heads inner: each source's (H,) terms are read once, contiguously."""
    n_heads = a_src.shape[1]
    zero = alpha.dtype.type(0)
    for b in prange(bounds.shape[0] - 1):
        m = np.empty(n_heads, dtype=alpha.dtype)  # per-head row max, one per block
        for i in range(bounds[b], bounds[b + 1]):
            lo, hi = indptr[i], indptr[i + 1]
            m[:] = -np.inf
            di = a_dst[i]
            for e in range(lo, hi):
                sj, ae, pe = a_src[indices[e]], alpha[e], positive[e]
                for hd in range(n_heads):
                    s = sj[hd] + di[hd]
                    pe[hd] = s > zero
                    if not s > zero:
                        s = s * slope
                    ae[hd] = s
                    if s > m[hd] or s != s:  # NaN propagates, as in the softmax kernels
                        m[hd] = s
            for e in range(lo, hi):
                ae = alpha[e]
                for hd in range(n_heads):
                    ae[hd] -= m[hd]


@njit(parallel=True, **JIT)
def _gat_aggregate(indptr, indices, h, keep, has_keep, scale, out, alpha, bounds, dist):
    """Per target row: normalise the exponentiated scores into alpha, then aggregate
    ``out[i] = sum_e dropout(alpha[e]) h[col(e)]`` per head."""
    n_heads, f_dim = h.shape[1], h.shape[2]
    nnz, row_bytes = indices.shape[0], h.strides[0]
    zero = out.dtype.type(0)
    for b in prange(bounds.shape[0] - 1):
        total = np.empty(n_heads, dtype=alpha.dtype)  # per-head row sums, one per block
        for i in range(bounds[b], bounds[b + 1]):
            lo, hi = indptr[i], indptr[i + 1]
            total[:] = zero
            for e in range(lo, hi):
                ae = alpha[e]
                for hd in range(n_heads):
                    total[hd] += ae[hd]
            o = out[i]
            for e in range(lo, hi):
                if e + dist < nnz:
                    prefetch_row(h, indices[e + dist], row_bytes)
                hj, ae = h[indices[e]], alpha[e]
                for hd in range(n_heads):
                    ae[hd] /= total[hd]  # divide, as the softmax kernels do, for parity
                    w = ae[hd]
                    if has_keep:
                        w = (w if keep[e, hd] else zero) * scale
                    for f in range(f_dim):
                        o[hd, f] += w * hj[hd, f]


@register("gat_attention", "cpu", name="numba", priority=20, fmt="csr")
def gat_attention(indptr, indices, rows, a_src, a_dst, h, slope, keep, scale):
    """As the generic kernel: one thread per block of target rows; scores, exp and aggregation
    in three passes over (E, H) arrays (never E x H x F)."""
    dtype = np.result_type(a_src.dtype, a_dst.dtype, h.dtype)
    a_src = line_aligned(np.ascontiguousarray(a_src, dtype=dtype))  # rows gathered
    a_dst = np.ascontiguousarray(a_dst, dtype=dtype)
    h = line_aligned(np.ascontiguousarray(h, dtype=dtype))
    out = np.zeros((a_dst.shape[0],) + h.shape[1:], dtype=dtype)
    alpha = np.zeros((indices.shape[0], h.shape[1]), dtype=dtype)
    positive = np.zeros(alpha.shape, dtype=np.bool_)
    if indices.shape[0] == 0 or h.size == 0:
        return out, alpha, positive
    has_keep = keep is not None
    keep = keep if has_keep else np.ones((1, 1), np.bool_)
    bounds = row_blocks(indptr)
    with one_thread_if_small(indptr, indices, a_src, a_dst, h, alpha):
        _gat_scores(indptr, indices, a_src, a_dst, dtype.type(slope), alpha, positive, bounds)
        # NOTE: exp outside numba: numpy's vectorised exp is ~25x faster than a scalar libm
        # call per entry, which dominated this kernel
        np.exp(alpha, out=alpha)
        _gat_aggregate(indptr, indices, h, keep, has_keep, dtype.type(scale), out, alpha,
                       bounds, prefetch_distance(h.strides[0]))
    return out, alpha, positive


@njit(parallel=True, **JIT)
def _gat_scores_backward(indptr, indices, alpha, keep, has_keep, scale, positive, slope, g, h,
                         d, g_dst, bounds, dist):
    """Per target row: d = leaky'(score) * softmax'(alpha) * dropout'(sddmm(g, h)), into ``d``
    (E, H), and its row sums into ``g_dst``. ``d`` may be ``alpha`` itself: each entry's alpha
    is read before its d is written (the row's dropout'(sddmm) terms wait in a scratch row)."""
    n_heads = h.shape[1]
    nnz, row_bytes = indices.shape[0], h.strides[0]
    zero = d.dtype.type(0)
    for b in prange(bounds.shape[0] - 1):
        total = np.empty(n_heads, dtype=d.dtype)  # per-head sum of alpha * d, one per block
        longest = 0  # the block's longest row sizes its scratch
        for i in range(bounds[b], bounds[b + 1]):
            longest = max(longest, indptr[i + 1] - indptr[i])
        terms = np.empty((longest, n_heads), dtype=d.dtype)
        for i in range(bounds[b], bounds[b + 1]):
            lo, hi = indptr[i], indptr[i + 1]
            gi = g[i]
            total[:] = zero
            for e in range(lo, hi):
                if e + dist < nnz:
                    prefetch_row(h, indices[e + dist], row_bytes)
                hj = h[indices[e]]
                for hd in range(n_heads):
                    acc = _dot(gi[hd], hj[hd], zero)  # vectorised, as sddmm's
                    if has_keep:
                        acc = (acc if keep[e, hd] else zero) * scale
                    terms[e - lo, hd] = acc
                    total[hd] += alpha[e, hd] * acc
            row = g_dst[i]
            for e in range(lo, hi):
                for hd in range(n_heads):
                    v = alpha[e, hd] * (terms[e - lo, hd] - total[hd])
                    if not positive[e, hd]:
                        v = v * slope
                    d[e, hd] = v
                    row[hd] += v


@njit(parallel=True, **JIT)
def _gat_sources_backward(t_indptr, t_indices, perm, alpha, keep, has_keep, scale, d, g,
                          need_src, need_h, g_src, gh, bounds, dist):
    """Per source node (a row of the transposed structure): its score gradient (column sums of
    ``d``) and ``gh = (dropped-out alpha)^T @ g``, reading both through ``perm`` (prefetched
    with the rows of g: each is a random cache line)."""
    n_heads, f_dim = g.shape[1], g.shape[2]
    nnz, row_bytes = t_indices.shape[0], g.strides[0]
    alpha_bytes, d_bytes = alpha.strides[0], d.strides[0]
    zero = g.dtype.type(0)
    for b in prange(bounds.shape[0] - 1):
        for j in range(bounds[b], bounds[b + 1]):
            o = gh[j]
            for e in range(t_indptr[j], t_indptr[j + 1]):
                if e + dist < nnz:
                    ahead = perm[e + dist]
                    if need_h:
                        prefetch_row(g, t_indices[e + dist], row_bytes)
                        prefetch_row(alpha, ahead, alpha_bytes)
                    if need_src:
                        prefetch_row(d, ahead, d_bytes)
                src = perm[e]
                gi = g[t_indices[e]]
                for hd in range(n_heads):
                    if need_src:
                        g_src[j, hd] += d[src, hd]
                    if need_h:
                        w = alpha[src, hd]
                        if has_keep:
                            w = (w if keep[src, hd] else zero) * scale
                        for f in range(f_dim):
                            o[hd, f] += w * gi[hd, f]


IN_PLACE_MIN_BYTES = 1 << 24  # alpha (E, H) from 16 MiB: arxiv's first GAT layer (79 MB)


@register("gat_attention_backward", "cpu", name="numba", priority=20, fmt="csr")
def gat_attention_backward(s_indptr, s_indices, t_indptr, t_indices, perm, alpha, keep,
                           positive, scale, slope, g, h, need_scores, need_src, need_h,
                           alpha_reusable=False):
    """As the generic kernel, with one (E, H) temporary instead of several - none when
    ``alpha_reusable`` (nothing reads alpha afterwards): ``h``'s gradient is taken first, then
    the score gradients overwrite alpha."""
    dtype = alpha.dtype
    g = line_aligned(np.ascontiguousarray(g, dtype=dtype))  # rows gathered over A^T
    h = line_aligned(np.ascontiguousarray(h, dtype=dtype))  # rows gathered over A
    n_dst, n_src, n_heads = g.shape[0], h.shape[0], h.shape[1]
    has_keep = keep is not None
    keep = keep if has_keep else np.ones((1, 1), np.bool_)
    g_src = np.zeros((n_src, n_heads), dtype=dtype)
    gh = np.zeros(h.shape if need_h else (n_src, n_heads, 0), dtype=dtype)
    g_dst = np.zeros((n_dst, n_heads), dtype=dtype)
    # in place costs a second pass over A^T (~100-400 us on Cora): only where alpha's bytes
    # matter
    in_place = (alpha_reusable and need_scores and alpha.flags.c_contiguous
                and alpha.nbytes >= IN_PLACE_MIN_BYTES)
    g_ahead = prefetch_distance(g.strides[0])
    with one_thread_if_small(s_indptr, s_indices, alpha, g, h):
        if in_place and need_h and alpha.shape[0]:  # alpha's last reader goes first
            _gat_sources_backward(t_indptr, t_indices, perm, alpha, keep, has_keep,
                                  dtype.type(scale), alpha, g, False, True, g_src, gh,
                                  row_blocks(t_indptr), g_ahead)
        d = alpha if in_place else np.zeros(alpha.shape if need_scores else (0, n_heads),
                                             dtype=dtype)
        if need_scores and alpha.shape[0]:
            _gat_scores_backward(s_indptr, s_indices, alpha, keep, has_keep, dtype.type(scale),
                                 positive, dtype.type(slope), g, h, d, g_dst,
                                 row_blocks(s_indptr), prefetch_distance(h.strides[0]))
        src, gh_here = need_src and need_scores, need_h and not in_place
        if (src or gh_here) and alpha.shape[0]:
            _gat_sources_backward(t_indptr, t_indices, perm, alpha, keep, has_keep,
                                  dtype.type(scale), d, g, src, gh_here, g_src, gh,
                                  row_blocks(t_indptr), g_ahead)
    return (g_src if need_src else None, g_dst if need_scores else None,
            gh if need_h else None)


# Reassociation (see DOT_FASTMATH) lets LLVM vectorise the dot product's F-sum in the same
# loop as the dx update; each dx element stays one multiply-add in stored order, as in spmm.
# One loop without branches: testing the need flags per entry, or calling the dot product
# separately, cost 1.3-1.8x the forward's time where this runs at 1.0-1.1x.
@njit(parallel=True, cache=True, fastmath=DOT_FASTMATH)
def _spmm_backward(t_indptr, t_indices, perm, g, x, gx, gv, bounds, dist, zero):
    f_dim = g.shape[1]
    nnz, row_bytes, value_bytes = t_indices.shape[0], g.strides[0], gv.strides[0]
    for b in prange(bounds.shape[0] - 1):
        for j in range(bounds[b], bounds[b + 1]):
            xj, o = x[j], gx[j]
            o[:] = 0
            for e in range(t_indptr[j], t_indptr[j + 1]):
                if e + dist < nnz:
                    prefetch_row(g, t_indices[e + dist], row_bytes)
                    prefetch_row(gv, perm[e + dist], value_bytes)  # unprefetched: 1.7x slower
                p = perm[e]
                gi = g[t_indices[e]]  # gathered once, used by both gradients
                v = gv[p]  # the value, then its gradient, in the one cache line
                s = zero
                for f in range(f_dim):
                    gf = gi[f]
                    o[f] += v * gf
                    s += gf * xj[f]
                gv[p] = s


@register("spmm_backward", "cpu", name="numba", priority=20, fmt="csr")
def spmm_backward(t_indptr, t_indices, perm, values, g, x, need_values, need_x):
    """Both gradients of ``out = A @ x`` in ONE pass over the transposed structure: for source
    row j, each incoming entry (i, j) gathers ``g[i]`` once and uses it for ``dx[j] += v g[i]``
    and ``dv = <g[i], x[j]>`` (x[j] stays in cache), where the separate kernels gather the
    rows of g and of x in two passes.

    The values stay in A's order: the kernel runs on a copy of them and overwrites each value
    with its gradient at ``perm[e]``, so an entry touches one random cache line for both (read
    the value, write dv) where gathering the values into A^T's order first and scattering the
    gradients back touched two (arxiv size, F = 16: 14.1-15.1 against 19.0-20.5 ms for the
    whole backward; benchmarks/RESULTS.md). One gradient alone is the plain spmm or sddmm
    over A^T.

    Args / Returns: as the generic `spmm_backward` ((E,) values, 2-D g and x).
    """
    dtype = np.result_type(values.dtype, g.dtype, x.dtype)
    g = np.ascontiguousarray(g, dtype=dtype)
    x = np.ascontiguousarray(x, dtype=dtype)
    if not need_values:
        if not need_x:
            return None, None
        t_values = take(np.ascontiguousarray(values, dtype=dtype), perm)
        return None, spmm(t_indptr, t_indices, t_values, g, x.shape[0])
    if not need_x:
        gv = np.empty(values.shape, dtype=dtype)
        gv[perm] = sddmm(t_indptr, t_indices, x, g)
        return gv, None
    # a copy (converted, or by every thread): each value is overwritten by its gradient
    gv = values.astype(dtype) if values.dtype != dtype else parallel_copy(values)
    gx = np.empty(x.shape, dtype=dtype)  # every row is zeroed by the kernel
    g = line_aligned(g)  # its rows are gathered
    with one_thread_if_small(t_indptr, t_indices, gv, g):  # as the spmm it replaces
        _spmm_backward(t_indptr, t_indices, perm, g, x, gx, gv, row_blocks(t_indptr),
                       prefetch_distance(g.strides[0]), dtype.type(0))
    return gv, gx


@register("take", "cpu", name="numba", priority=20, fmt="csr")
def take(a, perm):
    """``a[perm]`` for entry values: a parallel gather for (E,) arrays (numpy's fancy indexing
    runs on one thread and dominates small-F sparse backward passes)."""
    if a.ndim != 1:
        return a[perm]
    with one_thread_if_small(a, perm):
        return _take(a, perm)
