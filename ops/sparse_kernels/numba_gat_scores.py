"""Numba kernels of GAT's per-head scores (ops/gat_scores.py): both scores in one pass over
``h``, and in backward both score terms added into ``h``'s gradient in one pass, with the
attention vectors' gradients summed per fixed block of rows and then over blocks in order
(deterministic for any thread count)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sparsegraph.kernels import register
from sparsegraph.ops.sparse_kernels.numba_kernels import DOT_FASTMATH
from sparsegraph.ops.sparse_kernels.numba_util import one_thread_if_small

_ROWS_PER_BLOCK = 512  # fixed, so the attention vectors' gradients do not depend on threads


@njit(parallel=True, cache=True, fastmath=DOT_FASTMATH)  # reassociated F-sums, see the flag
def _scores(h, att_src, att_dst, a_src, a_dst):
    n_heads, f_dim = h.shape[1], h.shape[2]
    zero = h.dtype.type(0)
    for n in prange(h.shape[0]):
        for k in range(n_heads):
            s_src = zero
            s_dst = zero
            for f in range(f_dim):
                s_src += h[n, k, f] * att_src[k, f]
                s_dst += h[n, k, f] * att_dst[k, f]
            a_src[n, k] = s_src
            a_dst[n, k] = s_dst


@register("head_scores", "cpu", name="numba", priority=20)
def head_scores(h, att_src, att_dst):
    """As the generic kernel (h (N, H, F), att (H, F) -> two (N, H))."""
    dtype = np.result_type(h.dtype, att_src.dtype, att_dst.dtype)
    h = np.ascontiguousarray(h, dtype=dtype)
    a_src = np.empty(h.shape[:2], dtype=dtype)
    a_dst = np.empty(h.shape[:2], dtype=dtype)
    with one_thread_if_small(h):
        _scores(h, np.ascontiguousarray(att_src, dtype=dtype),
                np.ascontiguousarray(att_dst, dtype=dtype), a_src, a_dst)
    return a_src, a_dst


@njit(parallel=True, cache=True)
def _scores_backward(h, att_src, att_dst, g_src, g_dst, gh, need_h, need_att, part_src,
                     part_dst):
    n, n_heads, f_dim = h.shape
    for b in prange(part_src.shape[0]):
        for i in range(b * _ROWS_PER_BLOCK, min(n, (b + 1) * _ROWS_PER_BLOCK)):
            for k in range(n_heads):  # the flags tested per head, not per element
                gs, gd = g_src[i, k], g_dst[i, k]
                if need_h:
                    for f in range(f_dim):
                        gh[i, k, f] += gs * att_src[k, f] + gd * att_dst[k, f]
                if need_att:
                    for f in range(f_dim):
                        part_src[b, k, f] += gs * h[i, k, f]
                        part_dst[b, k, f] += gd * h[i, k, f]


@register("head_scores_backward", "cpu", name="numba", priority=20)
def head_scores_backward(h, att_src, att_dst, g_src, g_dst, gh, needs):
    """As the generic kernel."""
    dtype = h.dtype
    need_h, need_att = bool(needs[0]), bool(needs[1] or needs[2])
    if need_h and gh is None:
        gh = np.zeros(h.shape, dtype=dtype)
    n_blocks = -(-h.shape[0] // _ROWS_PER_BLOCK) if need_att else 0
    part_src = np.zeros((n_blocks,) + h.shape[1:], dtype=dtype)
    part_dst = np.zeros_like(part_src)
    with one_thread_if_small(h):
        _scores_backward(np.ascontiguousarray(h), np.ascontiguousarray(att_src, dtype=dtype),
                         np.ascontiguousarray(att_dst, dtype=dtype),
                         np.ascontiguousarray(g_src, dtype=dtype),
                         np.ascontiguousarray(g_dst, dtype=dtype),
                         gh if need_h else np.empty((0, 0, 0), dtype), need_h, need_att,
                         part_src, part_dst)
    return ((gh if need_h else None), part_src.sum(axis=0) if needs[1] else None,
            part_dst.sum(axis=0) if needs[2] else None)
