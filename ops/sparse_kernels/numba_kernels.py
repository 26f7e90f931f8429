"""numba CSR kernels: spmm, sddmm, fused edge-softmax + spmm, and counting-sort structure ops.

Every parallel kernel runs ``prange`` over blocks of whole rows and writes each output row from
exactly one thread, in a fixed order: results do not depend on the thread count or schedule (no
atomics). Blocks hold about equal (entries + rows), so power-law rows do not serialise one
thread. Accumulators keep the input dtype (float32 stays float32).

Importing this module needs numba; the package imports it only when numba imports.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from sparsegraph.kernels import register
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
from sparsegraph.ops.sparse_kernels.structure import index_dtype

# below this many entries a single-chunk counting sort beats the per-thread histograms
_PARALLEL_SORT_MIN = 1 << 20


def sort_chunks(nnz: int, n_keys: int) -> int:
    """Chunks (one histogram of ``n_keys`` counts each) of a counting sort over ``nnz`` keys;
    at most ``nnz / n_keys`` so the histograms never outgrow the keys themselves."""
    if nnz < _PARALLEL_SORT_MIN:
        return 1
    return max(1, min(numba.get_num_threads(), nnz // max(n_keys, 1)))


@njit(parallel=True, **JIT)
def _spmm_2d(indptr, indices, values, x, out, bounds, dist):
    f_dim = x.shape[1]
    nnz, row_bytes = indices.shape[0], x.strides[0]
    for b in prange(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            o = out[i]
            o[:] = 0  # here, in cache, not by a separate memset pass over the whole output
            for e in range(indptr[i], indptr[i + 1]):
                if e + dist < nnz:
                    prefetch_row(x, indices[e + dist], row_bytes)
                v = values[e]
                xj = x[indices[e]]
                for f in range(f_dim):  # contiguous: LLVM vectorises it
                    o[f] += v * xj[f]


@njit(parallel=True, **JIT)
def _spmm_3d(indptr, indices, values, x, out, bounds, dist):
    n_heads, f_dim = x.shape[1], x.shape[2]
    nnz, row_bytes = indices.shape[0], x.strides[0]
    for b in prange(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            o = out[i]
            o[:] = 0
            for e in range(indptr[i], indptr[i + 1]):
                if e + dist < nnz:
                    prefetch_row(x, indices[e + dist], row_bytes)
                xj = x[indices[e]]
                for h in range(n_heads):
                    v = values[e, h]
                    for f in range(f_dim):
                        o[h, f] += v * xj[h, f]


def _common(values, x):
    dtype = np.result_type(values.dtype, x.dtype)
    return (np.ascontiguousarray(values, dtype=dtype), np.ascontiguousarray(x, dtype=dtype))


@register("spmm", "cpu", name="numba", priority=20, fmt="csr")
@serial_when_small
def spmm(indptr, indices, values, x, n_rows: int):
    """Parallel CSR @ dense: one thread per block of rows, F the contiguous inner loop.

    Args / Returns: as the generic `spmm` ((E,) values with x (M, F...); (E, H) with (M, H, F)).
    """
    values, x = _common(values, x)
    if indices.shape[0] == 0 or n_rows == 0 or x.size == 0:
        return np.zeros((n_rows,) + x.shape[1:], dtype=x.dtype)
    x = line_aligned(x)  # its rows are gathered
    out = np.empty((n_rows,) + x.shape[1:], dtype=x.dtype)  # every row is zeroed by the kernel
    bounds, dist = row_blocks(indptr), prefetch_distance(x.strides[0])
    if values.ndim == 1:
        _spmm_2d(indptr, indices, values, merge_tail(x, 1), merge_tail(out, 1), bounds, dist)
    else:
        _spmm_3d(indptr, indices, values, x, out, bounds, dist)
    return out


# NOTE: the one place that relaxes fastmath=False. Reassociating the F-sum of a dot product
# lets LLVM vectorise it (sddmm runs 1.5x faster and matches spmm's speed); without it the
# add chain stays scalar and fills the reorder buffer, so the gathers stop overlapping. The
# order is fixed by the compiled code: results are the same on every run and thread count,
# and may differ in the last bits between CPUs of different vector widths (as numpy's own
# SIMD sums do). Set to False for strictly sequential sums.
DOT_FASTMATH = {"reassoc"}


@njit(cache=True, fastmath=DOT_FASTMATH)  # not numba-inlined: the flag would be lost
def _dot(a, b, zero):
    s = zero
    for k in range(a.shape[0]):
        s += a[k] * b[k]
    return s


@njit(parallel=True, **JIT)
def _sddmm(indptr, indices, x, y, out, bounds, zero, dist):
    n_heads = x.shape[1]
    nnz, row_bytes = indices.shape[0], y.strides[0]
    for b in prange(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            xi = x[i]
            for e in range(indptr[i], indptr[i + 1]):
                if e + dist < nnz:
                    prefetch_row(y, indices[e + dist], row_bytes)
                yj = y[indices[e]]
                for h in range(n_heads):
                    out[e, h] = _dot(xi[h], yj[h], zero)


@register("sddmm", "cpu", name="numba", priority=20, fmt="csr")
@serial_when_small
def sddmm(indptr, indices, x, y):
    """Parallel sampled dense-dense product ``out[e] = <x[row(e)], y[col(e)]>``.

    Args / Returns: as the generic `sddmm` (x (N, F), y (M, F) -> (E,); (N, H, F) -> (E, H)).
    """
    x, y = _common(x, y)
    nnz = indices.shape[0]
    out = np.zeros((nnz,) + x.shape[1:-1], dtype=x.dtype)
    if nnz == 0:
        return out
    heads = 1 if x.ndim == 2 else x.shape[1]
    y = line_aligned(y)  # its rows are gathered
    x3, y3 = x.reshape(x.shape[0], heads, x.shape[-1]), y.reshape(y.shape[0], heads, y.shape[-1])
    _sddmm(
        indptr,
        indices,
        x3,
        y3,
        out.reshape(nnz, heads),
        row_blocks(indptr),
        x.dtype.type(0),
        prefetch_distance(y3.strides[0]),
    )
    return out


@njit(parallel=True, **JIT)
def _softmax_spmm(indptr, indices, scores, x, out, alpha, bounds, dist, zero):
    n_heads, f_dim = x.shape[1], x.shape[2]
    nnz, row_bytes = indices.shape[0], x.strides[0]
    for b in prange(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            lo, hi = indptr[i], indptr[i + 1]
            if lo == hi:
                continue
            for h in range(n_heads):
                m = row_max(scores, lo, hi, h)
                s = zero
                for e in range(lo, hi):
                    a = np.exp(scores[e, h] - m)
                    alpha[e, h] = a
                    s += a
                for e in range(lo, hi):
                    alpha[e, h] /= s  # divide, as the generic kernel does, for parity
            o = out[i]
            for e in range(lo, hi):
                if e + dist < nnz:
                    prefetch_row(x, indices[e + dist], row_bytes)
                xj = x[indices[e]]
                for h in range(n_heads):
                    a = alpha[e, h]
                    for f in range(f_dim):
                        o[h, f] += a * xj[h, f]


@register("csr_softmax_spmm", "cpu", name="numba", priority=20, fmt="csr")
@serial_when_small
def csr_softmax_spmm(indptr, indices, scores, x):
    """Fused edge softmax + aggregation, one pass over each row; never builds E x F.

    Args / Returns: as the generic `csr_softmax_spmm`.
    """
    scores, x = _common(scores, x)
    n_rows, nnz = indptr.shape[0] - 1, indices.shape[0]
    heads = 1 if scores.ndim == 1 else scores.shape[1]
    out = np.zeros((n_rows,) + x.shape[1:], dtype=x.dtype)
    alpha = np.empty_like(scores)
    if nnz == 0:
        return out, alpha
    f_dim = x.shape[-1]
    x3 = line_aligned(x).reshape(x.shape[0], heads, f_dim)  # its rows are gathered
    _softmax_spmm(
        indptr,
        indices,
        scores.reshape(nnz, heads),
        x3,
        out.reshape(n_rows, heads, f_dim),
        alpha.reshape(nnz, heads),
        row_blocks(indptr),
        prefetch_distance(x3.strides[0]),
        x.dtype.type(0),
    )
    return out, alpha


@njit(parallel=True, **JIT)
def _count(keys, bounds, counts):
    for c in prange(bounds.shape[0] - 1):
        for e in range(bounds[c], bounds[c + 1]):
            counts[c, keys[e]] += 1


@njit(**JIT)
def _offsets(counts, indptr):
    """Exclusive prefix over (key, chunk): chunk c's first slot for key k, in place."""
    n_chunks, n_keys = counts.shape
    total = 0
    for k in range(n_keys):
        indptr[k] = total
        for c in range(n_chunks):
            cnt = counts[c, k]
            counts[c, k] = total
            total += cnt
    indptr[n_keys] = total


@njit(parallel=True, **JIT)
def _place(keys, bounds, counts, perm):
    for c in prange(bounds.shape[0] - 1):
        for e in range(bounds[c], bounds[c + 1]):
            k = keys[e]
            perm[counts[c, k]] = e
            counts[c, k] += 1


def counting_sort(keys, n_keys: int, ptr_dtype):
    """Stable counting sort of ``keys`` (E,) in ``[0, n_keys)``: ``(indptr, perm)``.

    ``perm`` lists positions by key, equal keys in input order; ``indptr`` (n_keys + 1,) points
    into it. Parallel over contiguous chunks of ``keys`` with one histogram per chunk; chunk
    order fixes the result, so it is the same for any thread count.
    """
    nnz = keys.shape[0]
    n_chunks = sort_chunks(nnz, n_keys)
    bounds = np.linspace(0, nnz, n_chunks + 1).astype(np.int64)
    counts = np.zeros((n_chunks, n_keys), dtype=ptr_dtype)
    indptr = np.empty(n_keys + 1, dtype=ptr_dtype)
    perm = np.empty(nnz, dtype=ptr_dtype)
    if nnz:
        _count(keys, bounds, counts)
    _offsets(counts, indptr)
    if nnz:
        _place(keys, bounds, counts, perm)
    return indptr, perm


@njit(parallel=True, **JIT)
def _place_transposed(indptr, indices, rows, counts, perm, t_indices):
    for c in prange(rows.shape[0] - 1):
        for i in range(rows[c], rows[c + 1]):
            for e in range(indptr[i], indptr[i + 1]):
                k = indices[e]
                slot = counts[c, k]
                perm[slot] = e
                t_indices[slot] = i
                counts[c, k] = slot + 1


@register("csr_transpose", "cpu", name="numba", priority=20, fmt="csr")
@serial_when_small
def csr_transpose(indptr, indices, n_cols: int):
    """Counting-sort transpose, linear in E + N + M; chunks are row ranges so each entry's row
    is known where it is placed.

    Args / Returns: as the generic `csr_transpose`.
    """
    n_rows, nnz = indptr.shape[0] - 1, indices.shape[0]
    n_chunks = sort_chunks(nnz, n_cols)
    rows = np.searchsorted(indptr, np.linspace(0, nnz, n_chunks + 1)).astype(np.int64)
    rows[0], rows[-1] = 0, n_rows
    counts = np.zeros((n_chunks, n_cols), dtype=indptr.dtype)
    t_indptr = np.empty(n_cols + 1, dtype=indptr.dtype)
    perm = np.empty(nnz, dtype=indptr.dtype)
    t_indices = np.empty(nnz, dtype=index_dtype(indices, n_rows))
    if nnz:
        _count(indices, indptr[rows], counts)
    _offsets(counts, t_indptr)
    if nnz:
        _place_transposed(indptr, indices, rows, counts, perm, t_indices)
    return t_indptr, t_indices, perm


# rows up to this long are sorted by insertion (no allocation); longer ones by merge sort
_INSERTION_MAX = 32


@njit(parallel=True, **JIT)
def _take(a, perm):
    out = np.empty(perm.shape[0], dtype=a.dtype)
    for e in prange(perm.shape[0]):
        out[e] = a[perm[e]]
    return out


@njit(parallel=True, **JIT)
def _sort_rows(indptr, keys, perm):
    """Stable-sort each row's slice of ``keys`` in place, applying the same moves to ``perm``."""
    for i in prange(indptr.shape[0] - 1):
        lo, hi = indptr[i], indptr[i + 1]
        if hi - lo <= _INSERTION_MAX:
            for a in range(lo + 1, hi):
                k, p = keys[a], perm[a]
                b = a - 1
                while b >= lo and keys[b] > k:  # strict: equal keys keep their order
                    keys[b + 1], perm[b + 1] = keys[b], perm[b]
                    b -= 1
                keys[b + 1], perm[b + 1] = k, p
        else:
            order = np.argsort(keys[lo:hi], kind="mergesort")
            k_seg, p_seg = keys[lo:hi][order], perm[lo:hi][order]
            keys[lo:hi], perm[lo:hi] = k_seg, p_seg


@register("coo_to_csr", "cpu", name="numba", priority=20, fmt="csr")
@serial_when_small
def coo_to_csr(row, col, n_rows: int):
    """A stable counting sort by row, then a stable sort of every row by column (in parallel):
    linear in E + N for bounded degrees.

    Args / Returns: as the generic `coo_to_csr` (sorted by (row, col), duplicates stable).
    """
    nnz = row.shape[0]
    ptr_dtype = index_dtype(row, nnz)
    if nnz == 0:
        return np.zeros(n_rows + 1, dtype=ptr_dtype), col[:0].copy(), np.zeros(0, ptr_dtype)
    indptr, perm = counting_sort(row, n_rows, ptr_dtype)
    indices = _take(col, perm)
    _sort_rows(indptr, indices, perm)
    return indptr, indices, perm
