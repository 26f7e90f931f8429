"""numba kernel of the fused ``spmm_bias_act`` (sparsegraph.ops.fused): the CSR row loop of
spmm with the bias, ReLU and dropout scaling applied to each output row while it is in cache.

Deterministic like the other numba kernels: one thread writes each output row, summing its
entries in stored order, then the epilogue in the eager ops' order (add, max, mask, scale), so
results match the generic kernel bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sparsegraph.kernels import register
from sparsegraph.ops.sparse_kernels.numba_util import (
    JIT,
    prefetch_distance,
    prefetch_row,
    row_blocks,
    serial_when_small,
)


@njit(parallel=True, **JIT)
def _spmm_bias_act(indptr, indices, values, x, out, bias, has_bias, relu, keep, has_keep, scale,
                   bounds, dist):
    f_dim = x.shape[1]
    nnz, row_bytes = indices.shape[0], x.strides[0]
    zero = out.dtype.type(0)
    for b in prange(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            o = out[i]
            for e in range(indptr[i], indptr[i + 1]):
                if e + dist < nnz:
                    prefetch_row(x, indices[e + dist], row_bytes)
                v = values[e]
                xj = x[indices[e]]
                for f in range(f_dim):
                    o[f] += v * xj[f]
            for f in range(f_dim):
                y = o[f] + bias[f] if has_bias else o[f]
                if relu and y < zero:
                    y = zero
                if has_keep:
                    y = (y if keep[i, f] else zero) * scale
                o[f] = y


@register("spmm_bias_act", "cpu", name="numba", priority=20, fmt="csr")
def spmm_bias_act(indptr, indices, values, x, n_rows, bias, relu, keep, scale):
    """As the generic kernel, for (E,) values and (M, F) features; other shapes go there."""
    dtype = np.result_type(values.dtype, x.dtype)
    if x.ndim != 2 or values.ndim != 1 or n_rows == 0 or x.shape[1] == 0:
        from sparsegraph.ops.fused import _spmm_bias_act_generic

        return _spmm_bias_act_generic(indptr, indices, values, x, n_rows, bias, relu, keep,
                                      scale)
    values = np.ascontiguousarray(values, dtype=dtype)
    x = np.ascontiguousarray(x, dtype=dtype)
    out = np.zeros((n_rows, x.shape[1]), dtype=dtype)
    has_bias, has_keep = bias is not None, keep is not None
    bias = np.ascontiguousarray(bias, dtype=dtype) if has_bias else np.zeros(1, dtype)
    keep = keep if has_keep else np.ones((1, 1), np.bool_)
    _run(indptr, indices, values, x, out, bias, has_bias, bool(relu), keep, has_keep,
         dtype.type(scale), row_blocks(indptr), prefetch_distance(x.strides[0]))
    return out


@serial_when_small
def _run(indptr, indices, values, x, out, *rest):
    _spmm_bias_act(indptr, indices, values, x, out, *rest)
