"""Numba dropout kernels: the counter-based keep-mask (ops/counter_rng.py) drawn in parallel,
alone (``dropout_mask``) or fused with the scaling (``dropout``: one pass over ``x``, no mask
array). Bit-for-bit the generic kernels' results (tests/ops/test_dropout.py)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sparsegraph.kernels import register
from sparsegraph.ops.counter_rng import S32, G, keep_mask, mix
from sparsegraph.ops.sparse_kernels.numba_util import one_thread_if_small, serial_when_small

_mix = njit(inline="always", cache=True)(mix)


@njit(parallel=True, cache=True)
def _mask(key, threshold, keep):
    for i in prange(keep.shape[0]):
        keep[i] = (_mix(key + np.uint64(i + 1) * G) >> S32) >= threshold


@njit(parallel=True, cache=True)
def _scaled(x, key, threshold, scale, zero, out):
    for i in prange(x.shape[0]):
        kept = (_mix(key + np.uint64(i + 1) * G) >> S32) >= threshold
        out[i] = x[i] * scale if kept else zero


@register("dropout_mask", "cpu", name="numba", priority=20)
def dropout_mask(key, threshold, shape, device):
    keep = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=np.bool_)
    with one_thread_if_small(keep):
        _mask(np.uint64(key), threshold, keep)
    return keep.reshape(shape)


@register("dropout", "cpu", name="numba", priority=20)
@serial_when_small
def dropout(x, key, threshold, scale, out=None):
    """Into ``out`` when given (C-contiguous; it may be ``x``); the result owns its memory (no
    view), so a later op may take its buffer. Other float types than float32 / float64 (numba
    has no float16) take the generic computation."""
    if x.dtype != np.float32 and x.dtype != np.float64:
        out = np.multiply(x, keep_mask(key, threshold, x.shape, np), out=out)
        out *= x.dtype.type(scale)
        return out
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(x.shape, dtype=x.dtype) if out is None else out
    _scaled(flat, np.uint64(key), threshold, x.dtype.type(scale), x.dtype.type(0),
            out.reshape(-1))
    return out
