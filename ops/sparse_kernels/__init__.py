"""Raw-array CSR kernels, registered in `sparsegraph.kernels` under ``fmt="csr"``.

Importing this package registers, for device ``"cpu"``:

============================  =========================  =================================
op                            kernels (priority)         signature
============================  =========================  =================================
spmm                          generic 0, scipy 10,       (indptr, indices, values, x, n_rows)
                              numba 20                   -> out
sddmm                         generic, numba             (indptr, indices, x, y) -> (E[, H])
csr_softmax                   generic, numba             (indptr, values) -> alpha
csr_log_softmax               generic, numba             (indptr, values) -> log-probs
csr_softmax_backward          generic, numba             (indptr, out, g) -> grad
csr_log_softmax_backward      generic, numba             (indptr, out, g) -> grad
csr_softmax_spmm              generic, numba             (indptr, indices, scores, x)
                                                         -> (out, alpha)
segment_reduce                generic, numba             (indptr, src, reduce) -> (out, arg)
scatter_reduce                generic, numba             (index, src, dim_size, reduce)
                                                         -> (out, arg)
csr_transpose                 generic, numba             (indptr, indices, n_cols)
                                                         -> (t_indptr, t_indices, perm)
coo_to_csr                    generic, numba             (row, col, n_rows)
                                                         -> (indptr, indices, perm)
============================  =========================  =================================

``segment_softmax`` is ``csr_softmax``: a CSR row is a sorted segment. The transposed product
``A.T @ g`` is ``spmm`` on the structure from ``csr_transpose`` with values ``values[perm]``.
`structure.csr_row_ids` and `structure.coalesce` are plain generic functions. Kernels trust
their inputs (validated at the functional boundary). The numba kernels register only when numba
imports; they are deterministic (no atomics, one thread per output row) and compiled with
``fastmath=False``, except the F-sum inside the numba sddmm (see ``numba_kernels.DOT_FASTMATH``).

Two dense-side numba modules live here too, imported by the ops that own them: the fused
ops' kernels (``numba_fused``, by ops/fused.py) and dropout's counter-based masks
(``numba_dropout``, by ops/stochastic.py).

On device ``"cuda"`` the generic kernels are registered too (they are array-module code), and
`cupy_kernels` registers ``"cupy"`` ones beside them (cuSPARSE and RawKernels from ``cuda/*.cu``)
without importing cupy: that happens when a CUDA kernel first runs.
"""

if __name__ != "sparsegraph.ops.sparse_kernels":
    raise ImportError(
        f"import this package as sparsegraph.ops.sparse_kernels (it was imported as {__name__!r})"
    )

from sparsegraph.ops.sparse_kernels import generic, scipy_kernels, structure  # noqa: E402
from sparsegraph.ops.sparse_kernels import cupy_kernels  # noqa: E402,F401

try:
    import numba  # noqa: F401
except ImportError:  # pragma: no cover - numba is a hard dependency, but optional here
    HAVE_NUMBA = False
else:
    HAVE_NUMBA = True
    from sparsegraph.ops.sparse_kernels import numba_kernels, numba_segment  # noqa: F401

__all__ = ["generic", "scipy_kernels", "structure", "HAVE_NUMBA"]
