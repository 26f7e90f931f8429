"""scipy.sparse CSR kernels (CPU only): spmm through scipy's compiled csr_matvecs."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sparsegraph.kernels import register


def _csr(indptr, indices, data, shape):
    # build without scipy's constructor checks: the kernel contract says input is validated,
    # and the checks (plus index dtype coercion) cost a pass over the structure per call
    a = sp.csr_matrix(shape, dtype=data.dtype)
    a.data, a.indices, a.indptr = data, indices, indptr
    return a


@register("spmm", "cpu", name="scipy", priority=10, fmt="csr")
def spmm(indptr, indices, values, x, n_rows: int):
    """``scipy.sparse.csr_matrix @ x``; hybrid values run one product per head.

    Args / Returns: as the generic `spmm` ((E,) values with x (M, F); (E, H) with (M, H, F)).
    """
    m = x.shape[0]
    dtype = np.result_type(values.dtype, x.dtype)
    if indptr.dtype != indices.dtype:  # scipy's kernels want one index dtype
        indptr = indptr.astype(np.int64)
        indices = indices.astype(np.int64)
    if values.ndim == 1:
        a = _csr(indptr, indices, values.astype(dtype, copy=False), (n_rows, m))
        flat = x.reshape(m, int(np.prod(x.shape[1:]))) if x.ndim != 2 else x
        return np.asarray(a @ flat.astype(dtype, copy=False)).reshape((n_rows,) + x.shape[1:])
    out = np.empty((n_rows,) + x.shape[1:], dtype=dtype)
    for h in range(values.shape[1]):
        a = _csr(indptr, indices, np.ascontiguousarray(values[:, h], dtype=dtype), (n_rows, m))
        out[:, h] = a @ x[:, h].astype(dtype, copy=False)
    return out
