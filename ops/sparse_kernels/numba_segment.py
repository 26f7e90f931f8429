"""numba kernels over sorted segments: CSR row softmax / log-softmax (+ backward) and segment /
scatter reductions.

Same rules as `numba_kernels`: ``prange`` over blocks of whole segments, each output written by
one thread in a fixed order (deterministic, no atomics), accumulators in the input dtype.
``scatter_reduce`` sorts its index with the stable counting sort and reads ``src`` through the
permutation instead of copying it.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit, prange

from sparsegraph.kernels import register
from sparsegraph.ops.sparse_kernels import generic
from sparsegraph.ops.sparse_kernels.numba_kernels import counting_sort
from sparsegraph.ops.sparse_kernels.numba_util import (
    JIT,
    line_aligned,
    merge_tail,
    prefetch_distance,
    prefetch_row,
    row_blocks,
    row_max,
    serial_when_small,
)

_MODES = {"sum": 0, "mean": 0, "max": 1, "min": 2}


def _float16_to_generic(fn):
    """numba compiles no float16 arithmetic: such calls run the generic (numpy) kernel of the
    same name instead (as the CUDA kernels do for the dtypes they lack)."""
    fallback = getattr(generic, fn.__name__)

    @functools.wraps(fn)
    def call(*args):
        if any(getattr(a, "dtype", None) == np.float16 for a in args):
            return fallback(*args)
        return fn(*args)

    return call


@njit(parallel=True, **JIT)
def _softmax(indptr, values, out, bounds, log, zero):
    n_heads = values.shape[1]
    for b in prange(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            lo, hi = indptr[i], indptr[i + 1]
            for h in range(n_heads):
                if lo == hi:
                    continue
                m = row_max(values, lo, hi, h)
                s = zero
                for e in range(lo, hi):
                    shifted = values[e, h] - m
                    z = np.exp(shifted)
                    out[e, h] = shifted if log else z  # one exp per entry either way
                    s += z
                if log:
                    lse = np.log(s)
                    for e in range(lo, hi):
                        out[e, h] -= lse
                else:
                    for e in range(lo, hi):
                        out[e, h] /= s


@njit(parallel=True, **JIT)
def _softmax_backward(indptr, out, g, grad, bounds, log, zero):
    n_heads = out.shape[1]
    for b in prange(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            lo, hi = indptr[i], indptr[i + 1]
            for h in range(n_heads):
                s = zero
                for e in range(lo, hi):
                    s += g[e, h] if log else out[e, h] * g[e, h]
                for e in range(lo, hi):
                    if log:
                        grad[e, h] = g[e, h] - np.exp(out[e, h]) * s
                    else:
                        grad[e, h] = out[e, h] * (g[e, h] - s)


def _as_heads(a):
    """(E,) -> (E, 1) contiguous view; (E, H) stays."""
    return merge_tail(np.ascontiguousarray(a), 1)


def _softmax_call(indptr, values, log: bool):
    out = np.empty_like(values)
    if values.shape[0]:
        _softmax(
            indptr,
            _as_heads(values),
            merge_tail(out, 1),
            row_blocks(indptr),
            log,
            values.dtype.type(0),
        )
    return out


def _backward_call(indptr, out, g, log: bool):
    dtype = np.result_type(out.dtype, g.dtype)
    out, g = out.astype(dtype, copy=False), g.astype(dtype, copy=False)
    grad = np.empty(out.shape, dtype=dtype)
    if out.shape[0]:
        _softmax_backward(
            indptr,
            _as_heads(out),
            _as_heads(g),
            merge_tail(grad, 1),
            row_blocks(indptr),
            log,
            dtype.type(0),
        )
    return grad


@register("csr_softmax", "cpu", name="numba", priority=20, fmt="csr")
@_float16_to_generic
@serial_when_small
def csr_softmax(indptr, values):
    """Row softmax of (E,) or (E, H) values; as the generic `csr_softmax`."""
    return _softmax_call(indptr, values, False)


@register("csr_log_softmax", "cpu", name="numba", priority=20, fmt="csr")
@_float16_to_generic
@serial_when_small
def csr_log_softmax(indptr, values):
    """Row log-softmax of (E,) or (E, H) values; as the generic `csr_log_softmax`."""
    return _softmax_call(indptr, values, True)


@register("csr_softmax_backward", "cpu", name="numba", priority=20, fmt="csr")
@_float16_to_generic
@serial_when_small
def csr_softmax_backward(indptr, out, g):
    """``out * (g - rowsum(out * g))``; as the generic `csr_softmax_backward`."""
    return _backward_call(indptr, out, g, False)


@register("csr_log_softmax_backward", "cpu", name="numba", priority=20, fmt="csr")
@_float16_to_generic
@serial_when_small
def csr_log_softmax_backward(indptr, out, g):
    """``g - exp(out) * rowsum(g)``; as the generic `csr_log_softmax_backward`."""
    return _backward_call(indptr, out, g, True)


@njit(parallel=True, **JIT)
def _segment(indptr, src, perm, out, arg, bounds, mode, dist):
    """Reduce segment s of ``src`` (E, K) (read through ``perm`` unless None) into row s of
    ``out`` (S, K); mode 0 sums, 1 keeps the max, 2 the min (with ``arg``)."""
    k_dim = src.shape[1]
    nnz, row_bytes = indptr[indptr.shape[0] - 1], src.strides[0]
    for b in prange(bounds.shape[0] - 1):
        for s in range(bounds[b], bounds[b + 1]):
            lo, hi = indptr[s], indptr[s + 1]
            if lo == hi:
                continue  # out is 0 and arg is -1 already
            o, a = out[s], arg[s]
            for e in range(lo, hi):
                if perm is None:
                    p = e
                else:  # a random gather through the sort permutation: prefetch it
                    p = perm[e]
                    if e + dist < nnz:
                        prefetch_row(src, perm[e + dist], row_bytes)
                row = src[p]
                if mode == 0:
                    for k in range(k_dim):
                        o[k] += row[k]
                    continue
                for k in range(k_dim):
                    v = row[k]
                    best = o[k]
                    if e == lo:
                        better = True
                    elif mode == 1:
                        # NaN propagates: the first NaN replaces any number, then sticks
                        better = v > best or (v != v and best == best)
                    else:
                        better = v < best or (v != v and best == best)
                    if better:  # strict: on ties the earlier source position stays
                        o[k] = v
                        a[k] = p


def _reduce(indptr, src, perm, reduce: str):
    if reduce not in _MODES:
        raise ValueError(f"segment_reduce: expected reduce in {sorted(_MODES)} (got {reduce!r})")
    n_seg = indptr.shape[0] - 1
    src = np.ascontiguousarray(src)
    flat = merge_tail(src, 1) if perm is None else line_aligned(merge_tail(src, 1))  # gathered
    out = np.zeros((n_seg,) + src.shape[1:], dtype=src.dtype)
    mode = _MODES[reduce]
    arg = np.full(out.shape, -1, dtype=np.int64) if mode else None
    if src.shape[0] and flat.shape[1]:
        arg_flat = merge_tail(arg, 1) if mode else np.empty((n_seg, 0), dtype=np.int64)
        _segment(
            indptr,
            flat,
            perm,
            merge_tail(out, 1),
            arg_flat,
            row_blocks(indptr),
            mode,
            prefetch_distance(flat.strides[0]),
        )
    if reduce == "mean":
        count = np.maximum(np.diff(indptr), 1).reshape((-1,) + (1,) * (src.ndim - 1))
        # NOTE: integer sources take the floor of the mean, as the generic kernel does
        out = (out / count.astype(src.dtype) if src.dtype.kind == "f"
               else (out // count).astype(src.dtype))  # the source dtype, as torch_scatter
    return out, arg


@register("segment_reduce", "cpu", name="numba", priority=20, fmt="csr")
@_float16_to_generic
@serial_when_small
def segment_reduce(indptr, src, reduce: str):
    """Parallel reduction of sorted segments; as the generic `segment_reduce`."""
    return _reduce(indptr, src, None, reduce)


@register("scatter_reduce", "cpu", name="numba", priority=20, fmt="csr")
@_float16_to_generic
@serial_when_small
def scatter_reduce(index, src, dim_size: int, reduce: str):
    """Counting-sort ``index`` (stable) then reduce segments through the permutation; as the
    generic `scatter_reduce` (ties: smallest source position)."""
    indptr, perm = counting_sort(index, dim_size, np.int64)
    return _reduce(indptr, src, perm, reduce)
