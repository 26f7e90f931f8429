"""CuPy kernels for device ``"cuda"``: cuSPARSE (through cupyx.scipy.sparse) for CSR @ dense and
spgemm, and CUDA C RawKernels (sources in ``cuda/*.cu``) for what cupyx lacks: sddmm, edge
(row) softmax and its gradient, the fused edge-softmax + spmm of GAT, and segment / scatter
reductions with arg-extremum.

Registered on import under the name ``"cupy"`` (priority 20, above ``"generic"``), with the
signatures of the numba kernels; importing this module never imports cupy. cupy is reached when
a kernel first runs, and each ``.cu`` file is compiled by NVRTC (``cupy.RawModule``) at its first
use, once per (value, indptr, indices) dtype combination.

Determinism: every RawKernel writes each output element from exactly one thread, which walks
its row or segment in stored order (no atomics). cuSPARSE's CSR SpMM is deterministic for the
non-transposed product; the transposed product ``A^T @ G`` of spmm's backward never asks it for
a transpose, it runs on the cached transposed structure (`Structure.transpose`).

Dtypes the RawKernels do not cover (float16, integer sums, unsigned indices) fall back to the
generic kernels, which are array-module code and run on cupy unchanged.
"""

from __future__ import annotations

import functools
import math
import pathlib

import numpy as np

from sparsegraph.backend import xp_of
from sparsegraph.kernels import register
from sparsegraph.ops.sparse_kernels import generic

CUDA_DIR = pathlib.Path(__file__).resolve().parent / "cuda"
SOURCES = ("spmm.cu", "sddmm.cu", "softmax.cu", "segment.cu")
PRIORITY = 20

_VALUE_FLAGS = {np.dtype(np.float32): (), np.dtype(np.float64): ("-DSG_DOUBLE",)}
_INDEX_FLAGS = {np.dtype(np.int32): False, np.dtype(np.int64): True}
_MODES = {"sum": 0, "mean": 0, "max": 1, "min": 2}
_i64 = np.int64  # every integer kernel argument is a `long long`


def flags(value_dtype, ptr_dtype, idx_dtype=np.int32) -> tuple[str, ...] | None:
    """The ``-D`` flags that compile the sources for these dtypes, or None (no variant)."""
    value = _VALUE_FLAGS.get(np.dtype(value_dtype))
    ptr, idx = _INDEX_FLAGS.get(np.dtype(ptr_dtype)), _INDEX_FLAGS.get(np.dtype(idx_dtype))
    if value is None or ptr is None or idx is None:
        return None
    return value + (("-DSG_PTR64",) if ptr else ()) + (("-DSG_IDX64",) if idx else ())


def source(name: str) -> str:
    """The CUDA C of ``cuda/<name>`` with the shared ``common.cuh`` in front."""
    return (CUDA_DIR / "common.cuh").read_text() + "\n" + (CUDA_DIR / name).read_text()


@functools.cache
def _module(name: str, options: tuple[str, ...]):
    from sparsegraph.backend import cupy_module

    return cupy_module().RawModule(code=source(name), options=options)


def get_kernel(name: str, function: str, options: tuple[str, ...]):
    """A callable ``kernel(grid, block, args)``. The CPU simulation in tests/test_gpu.py
    replaces this function to run the same sources compiled for the host."""
    return _module(name, options).get_function(function)


def _pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def launch(kernel, n_rows: int, width: int, args, *, lanes: int | None = None) -> None:
    """Run ``kernel`` on an ``n_rows`` x ``width`` grid of outputs, one thread each.

    Block = (bx, by) threads: bx columns of by rows (about 256 threads). With ``lanes`` the
    kernel strides its row's entries itself over bx = ``lanes`` threads (a warp per row).
    """
    if n_rows == 0 or width == 0:
        return
    bx = lanes or min(_pow2(width), 128)
    by = max(1, 256 // bx)
    grid = (math.ceil(n_rows / by), 1 if lanes else math.ceil(width / bx), 1)
    kernel(grid, (bx, by, 1), args)


def _as(xp, a, dtype):
    return xp.ascontiguousarray(a, dtype=dtype)


def _prod(shape) -> int:
    return int(math.prod(shape))


# ---- spmm -------------------------------------------------------------------------------------
@register("spmm", "cuda", name="cupy_rows", priority=PRIORITY - 5, fmt="csr")
def spmm_rows(indptr, indices, values, x, n_rows: int):
    """RawKernel CSR @ dense, one thread per output element: any values shape the generic
    kernel takes ((E,) with x (M, F...); hybrid (E, H) with x (M, H, F)).

    Args / Returns: as the generic `spmm`.
    """
    xp = xp_of(x)
    dtype = xp.result_type(values.dtype, x.dtype)
    options = flags(dtype, indptr.dtype, indices.dtype)
    if options is None:
        return generic.spmm(indptr, indices, values, x, n_rows)
    values, x = _as(xp, values, dtype), _as(xp, x, dtype)
    heads = 1 if values.ndim == 1 else values.shape[1]
    width = _prod(x.shape[1:])
    out = xp.empty((n_rows,) + x.shape[1:], dtype=dtype)
    if heads:
        launch(get_kernel("spmm.cu", "sg_spmm", options), n_rows, width,
               (indptr, indices, values, x, out, _i64(n_rows), _i64(heads),
                _i64(width // heads)))
    return out


@register("spmm", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def spmm(indptr, indices, values, x, n_rows: int):
    """``cupyx.scipy.sparse.csr_matrix @ x`` (cuSPARSE SpMM, non-transposed: deterministic);
    hybrid values and dtypes cuSPARSE lacks go to `spmm_rows`. cupyx checks the structure is
    canonical first (a structure with duplicate entries is summed into a new matrix; the
    caller's arrays are never changed).

    Args / Returns: as the generic `spmm`.
    """
    xp = xp_of(x)
    dtype = xp.result_type(values.dtype, x.dtype)
    m, width = x.shape[0], _prod(x.shape[1:])
    if values.ndim != 1 or dtype not in _VALUE_FLAGS:
        return spmm_rows(indptr, indices, values, x, n_rows)
    if indices.shape[0] == 0 or width == 0 or n_rows == 0:
        return xp.zeros((n_rows,) + x.shape[1:], dtype=dtype)
    import cupyx.scipy.sparse as csp

    a = csp.csr_matrix((values.astype(dtype, copy=False), indices, indptr), shape=(n_rows, m))
    out = a @ x.reshape(m, width).astype(dtype, copy=False)
    # cuSPARSE writes column-major; the framework's arrays are row-major
    return xp.ascontiguousarray(out).reshape((n_rows,) + x.shape[1:])


# ---- sddmm ------------------------------------------------------------------------------------
@register("sddmm", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def sddmm(indptr, indices, x, y):
    """``out[e] = <x[row(e)], y[col(e)]>``: a warp per row, its lanes taking the row's entries
    in turn.

    Args / Returns: as the generic `sddmm` (x (N, F), y (M, F) -> (E,); (N, H, F) -> (E, H)).
    """
    xp = xp_of(x)
    dtype = xp.result_type(x.dtype, y.dtype)
    options = flags(dtype, indptr.dtype, indices.dtype)
    if options is None:
        return generic.sddmm(indptr, indices, x, y)
    x, y = _as(xp, x, dtype), _as(xp, y, dtype)
    nnz = indices.shape[0]
    out = xp.empty((nnz,) + x.shape[1:-1], dtype=dtype)
    heads = 1 if x.ndim == 2 else _prod(x.shape[1:-1])
    if nnz and heads:
        launch(get_kernel("sddmm.cu", "sg_sddmm", options), indptr.shape[0] - 1, heads,
               (indptr, indices, x, y, out, _i64(indptr.shape[0] - 1), _i64(heads),
                _i64(x.shape[-1])), lanes=32)
    return out


# ---- edge (row) softmax -----------------------------------------------------------------------
def _heads(a) -> int:
    return 1 if a.ndim == 1 else _prod(a.shape[1:])


def _softmax(indptr, values, log: bool):
    options = flags(values.dtype, indptr.dtype)
    if options is None:
        return (generic.csr_log_softmax if log else generic.csr_softmax)(indptr, values)
    xp = xp_of(values)
    values = xp.ascontiguousarray(values)
    out = xp.empty_like(values)
    launch(get_kernel("softmax.cu", "sg_csr_softmax", options), indptr.shape[0] - 1,
           _heads(values), (indptr, values, out, _i64(indptr.shape[0] - 1),
                            _i64(_heads(values)), _i64(log)))
    return out


def _softmax_backward(indptr, out, g, log: bool):
    xp = xp_of(out)
    dtype = xp.result_type(out.dtype, g.dtype)
    options = flags(dtype, indptr.dtype)
    if options is None:
        fn = generic.csr_log_softmax_backward if log else generic.csr_softmax_backward
        return fn(indptr, out, g)
    out, g = _as(xp, out, dtype), _as(xp, g, dtype)
    grad = xp.empty_like(out)
    launch(get_kernel("softmax.cu", "sg_csr_softmax_backward", options), indptr.shape[0] - 1,
           _heads(out), (indptr, out, g, grad, _i64(indptr.shape[0] - 1), _i64(_heads(out)),
                         _i64(log)))
    return grad


@register("csr_softmax", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def csr_softmax(indptr, values):
    """Row softmax of (E,) or (E, H) values, one thread per (row, head); as the generic
    `csr_softmax`."""
    return _softmax(indptr, values, False)


@register("csr_log_softmax", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def csr_log_softmax(indptr, values):
    """Row log-softmax; as the generic `csr_log_softmax`."""
    return _softmax(indptr, values, True)


@register("csr_softmax_backward", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def csr_softmax_backward(indptr, out, g):
    """``out * (g - rowsum(out * g))``; as the generic `csr_softmax_backward`."""
    return _softmax_backward(indptr, out, g, False)


@register("csr_log_softmax_backward", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def csr_log_softmax_backward(indptr, out, g):
    """``g - exp(out) * rowsum(g)``; as the generic `csr_log_softmax_backward`."""
    return _softmax_backward(indptr, out, g, True)


@register("csr_softmax_spmm", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def csr_softmax_spmm(indptr, indices, scores, x):
    """Fused edge softmax + aggregation (GAT), one thread per output element; never builds
    E x F.

    Args / Returns: as the generic `csr_softmax_spmm` (``(out, alpha)``).
    """
    xp = xp_of(x)
    dtype = xp.result_type(scores.dtype, x.dtype)
    options = flags(dtype, indptr.dtype, indices.dtype)
    if options is None:
        return generic.csr_softmax_spmm(indptr, indices, scores, x)
    scores, x = _as(xp, scores, dtype), _as(xp, x, dtype)
    n_rows, heads, width = indptr.shape[0] - 1, _heads(scores), _prod(x.shape[1:])
    if heads == 0 or width == 0:  # no thread would store alpha
        return xp.zeros((n_rows,) + x.shape[1:], dtype=dtype), csr_softmax(indptr, scores)
    out = xp.empty((n_rows,) + x.shape[1:], dtype=dtype)
    alpha = xp.empty_like(scores)
    launch(get_kernel("spmm.cu", "sg_softmax_spmm", options), n_rows, width,
           (indptr, indices, scores, x, out, alpha, _i64(n_rows), _i64(heads),
            _i64(width // heads)))
    return out, alpha


# ---- segment / scatter reductions -------------------------------------------------------------
def _reduce(indptr, src, perm, reduce: str):
    """Reduce sorted segments of ``src`` (read through ``perm`` unless None)."""
    xp = xp_of(src)
    n_seg = indptr.shape[0] - 1
    src = xp.ascontiguousarray(src)
    width, mode = _prod(src.shape[1:]), _MODES[reduce]
    out = xp.empty((n_seg,) + src.shape[1:], dtype=src.dtype)
    arg = xp.empty(out.shape, dtype=np.int64) if mode else None
    dummy = xp.empty(1, dtype=np.int64)  # a pointer for the unused perm / arg
    launch(get_kernel("segment.cu", "sg_segment_reduce", flags(src.dtype, indptr.dtype)),
           n_seg, width, (indptr, src, dummy if perm is None else perm, out,
                          dummy if arg is None else arg, _i64(n_seg), _i64(width), _i64(mode),
                          _i64(perm is not None)))
    if reduce == "mean":
        count = xp.maximum(indptr[1:] - indptr[:-1], 1).astype(src.dtype)
        out /= count.reshape((-1,) + (1,) * (src.ndim - 1))
    return out, arg


def _check_reduce(op: str, reduce: str) -> None:
    if reduce not in _MODES:
        raise ValueError(f"{op}: expected reduce in {sorted(_MODES)} (got {reduce!r})")


@register("segment_reduce", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def segment_reduce(indptr, src, reduce: str):
    """Reduce sorted segments, one thread per (segment, column); as the generic
    `segment_reduce` (float32/float64 sources; others run the generic kernel)."""
    _check_reduce("segment_reduce", reduce)
    if flags(src.dtype, indptr.dtype) is None:
        return generic.segment_reduce(indptr, src, reduce)
    return _reduce(indptr, src, None, reduce)


@register("scatter_reduce", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def scatter_reduce(index, src, dim_size: int, reduce: str):
    """A stable sort of ``index``, then the segment kernel reads ``src`` through the sort
    permutation (no copy of ``src``, no atomics); as the generic `scatter_reduce` (ties: the
    smallest source position)."""
    _check_reduce("scatter_reduce", reduce)
    if flags(src.dtype, np.int64) is None:
        return generic.scatter_reduce(index, src, dim_size, reduce)
    xp = xp_of(src)
    indptr = xp.zeros(dim_size + 1, dtype=np.int64)
    if index.shape[0]:
        xp.cumsum(xp.bincount(index, minlength=dim_size), out=indptr[1:])
    perm = xp.argsort(index, kind="stable").astype(np.int64, copy=False)
    return _reduce(indptr, src, perm, reduce)


# ---- spgemm -----------------------------------------------------------------------------------
def _product(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values, n_cols: int):
    """cuSPARSE's A @ B in canonical form (rows sorted, no duplicates)."""
    import cupyx.scipy.sparse as csp

    n, k = a_indptr.shape[0] - 1, b_indptr.shape[0] - 1
    c = (csp.csr_matrix((a_values, a_indices, a_indptr), shape=(n, k))
         @ csp.csr_matrix((b_values, b_indices, b_indptr), shape=(k, n_cols)))
    c = c.tocsr()
    c.sum_duplicates()
    return c


def _spgemm_fallback(name: str):
    from sparsegraph.kernels import kernels

    return next(k.fn for k in kernels(name, "cuda", "csr") if k.name == "generic")


@register("spgemm_symbolic", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def spgemm_symbolic(a_indptr, a_indices, b_indptr, b_indices, n_cols: int):
    """The structural pattern of ``A @ B`` from cuSPARSE's product of all-ones matrices
    (positive sums never cancel)."""
    xp = xp_of(a_indices)
    if a_indices.shape[0] == 0 or b_indices.shape[0] == 0:
        return _spgemm_fallback("spgemm_symbolic")(a_indptr, a_indices, b_indptr, b_indices,
                                                   n_cols)
    c = _product(a_indptr, a_indices, xp.ones(a_indices.shape[0], np.float32), b_indptr,
                 b_indices, xp.ones(b_indices.shape[0], np.float32), n_cols)
    return c.indptr, c.indices


@register("spgemm", "cuda", name="cupy", priority=PRIORITY, fmt="csr")
def spgemm(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values, c_indptr, c_indices,
           n_cols: int):
    """Values of ``A @ B`` on the pattern from `spgemm_symbolic`, by cuSPARSE SpGEMM."""
    xp = xp_of(a_values)
    if a_values.dtype not in _VALUE_FLAGS or a_indices.shape[0] == 0 or b_indices.shape[0] == 0:
        return _spgemm_fallback("spgemm")(a_indptr, a_indices, a_values, b_indptr, b_indices,
                                          b_values, c_indptr, c_indices, n_cols)
    c = _product(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values, n_cols)
    if c.nnz == c_indices.shape[0]:  # cuSPARSE keeps structural zeros: the pattern itself
        return c.data.astype(a_values.dtype, copy=False)
    from sparsegraph.ops.sparse_kernels.structure import csr_row_ids

    def keys(indptr, indices):
        return csr_row_ids(indptr, indices.shape[0]).astype(np.int64) * max(n_cols, 1) + indices

    out = xp.zeros(c_indices.shape[0], dtype=a_values.dtype)
    out[xp.searchsorted(keys(c_indptr, c_indices), keys(c.indptr, c.indices))] = c.data
    return out
