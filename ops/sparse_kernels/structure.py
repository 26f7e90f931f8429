"""CSR structure helpers on raw index arrays: row ids, transpose, COO -> CSR, coalescing.

These are generic kernels written against the array module ``xp`` of their inputs (numpy now,
cupy later). Structure transforms are built once per sparse structure and cached by the caller,
so the generic versions favour clarity; `numba_kernels` registers counting-sort versions of
``csr_transpose`` and ``coo_to_csr`` that stay linear in ``E`` at 100M entries.

Conventions: ``indptr`` (N + 1,), ``indices`` (E,), ``row``/``col`` (E,); index arrays are int32
or int64. A permutation returned here has ``indptr``'s dtype (it holds positions < E, which
``indptr`` can always represent).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import xp_of
from sparsegraph.kernels import register

_INT32_MAX = np.iinfo(np.int32).max


def index_dtype(like, bound: int) -> np.dtype:
    """``like``'s dtype when values up to ``bound`` fit in it, else int64."""
    dt = np.dtype(like.dtype)
    return dt if bound <= np.iinfo(dt).max else np.dtype(np.int64)


def csr_row_ids(indptr, nnz: int):
    """Row of every stored entry of a CSR structure.

    Args:
        indptr: (N + 1,) row pointers.
        nnz: number of stored entries ``E`` (``indptr[-1]``; passed so cupy needs no sync).

    Returns:
        (E,) row ids with ``indptr``'s dtype, or int64 when it cannot hold ``N - 1``.
    """
    xp = xp_of(indptr)
    n_rows = indptr.shape[0] - 1
    # row ids go up to N - 1, which an int8 / int16 indptr holding small offsets may not hold
    dt = index_dtype(indptr, n_rows)
    if xp is np:
        return np.repeat(np.arange(n_rows, dtype=dt), np.diff(indptr))
    # cupy.repeat wants host repeats; a binary search per entry works on either module
    pos = xp.arange(nnz, dtype=indptr.dtype)
    return (xp.searchsorted(indptr, pos, side="right") - 1).astype(dt, copy=False)


_INT64_MAX = np.iinfo(np.int64).max


def pair_key_space(cols, n_rows: int, n_cols: int):
    """``(m, table)`` for int64 keys ``row * m + c`` that order (row, col) pairs row-major.

    ``m = n_cols`` and no table while ``n_rows * n_cols`` fits in int64 (every real graph);
    past that (a (2^24, 2^41) matrix) the key would wrap and merge distinct entries, so ``c``
    is the column's rank among the sorted distinct ``cols`` and ``m`` their count (<= E).
    Every column later keyed in this space must be among ``cols``.
    """
    if n_rows * max(n_cols, 1) <= _INT64_MAX:
        return max(n_cols, 1), None
    table = xp_of(cols).unique(cols)
    m = max(int(table.shape[0]), 1)
    if n_rows * m > _INT64_MAX:
        raise ValueError(f"expected n_rows x (distinct columns) below 2^63 to key the entries "
                         f"(got {n_rows} x {m})")
    return m, table


def pair_keys(rows, cols, space):
    """int64 row-major keys of the pairs in a `pair_key_space`."""
    m, table = space
    c = cols if table is None else xp_of(cols).searchsorted(table, cols)
    return rows.astype(np.int64) * m + c


def key_pairs(keys, space):
    """``(rows, cols)`` of `pair_keys` (int64)."""
    m, table = space
    rows, c = keys // m, keys % m
    return rows, (c if table is None else table[c])


def _indptr_from_counts(xp, counts, dtype):
    indptr = xp.zeros(counts.shape[0] + 1, dtype=dtype)
    xp.cumsum(counts, out=indptr[1:])
    return indptr


@register("csr_transpose", "cpu", "cuda", name="generic", fmt="csr")
def csr_transpose(indptr, indices, n_cols: int):
    """Transpose a CSR structure: the CSR of ``A.T`` and the value permutation.

    Args:
        indptr: (N + 1,) row pointers of ``A`` (N, M).
        indices: (E,) column of every entry.
        n_cols: ``M``.

    Returns:
        ``(t_indptr, t_indices, perm)``: (M + 1,) pointers, (E,) row ids (columns of ``A.T``),
        and (E,) positions such that the values of ``A.T`` are ``values[perm]``. Entries of one
        transposed row keep their order in ``A`` (a stable sort), so their columns are sorted.
    """
    xp = xp_of(indices)
    nnz = indices.shape[0]
    n_rows = indptr.shape[0] - 1
    # NOTE: stable is load-bearing: it keeps every transposed row sorted by column
    perm = xp.argsort(indices, kind="stable").astype(indptr.dtype, copy=False)
    counts = xp.bincount(indices, minlength=n_cols)
    t_indptr = _indptr_from_counts(xp, counts, indptr.dtype)
    t_indices = csr_row_ids(indptr, nnz)[perm].astype(index_dtype(indices, n_rows), copy=False)
    return t_indptr, t_indices, perm


@register("coo_to_csr", "cpu", "cuda", name="generic", fmt="csr")
def coo_to_csr(row, col, n_rows: int):
    """Sort COO entries into CSR order, sorted by (row, col); duplicates keep their input order.

    Args:
        row: (E,) row ids in ``[0, N)``.
        col: (E,) column ids (``>= 0``).
        n_rows: ``N``.

    Returns:
        ``(indptr, indices, perm)``: (N + 1,) pointers, (E,) columns ``col[perm]``, and (E,)
        positions so that the CSR values are ``values[perm]``.
    """
    xp = xp_of(row)
    nnz = row.shape[0]
    ptr_dtype = index_dtype(row, nnz)
    if nnz == 0:
        return xp.zeros(n_rows + 1, dtype=ptr_dtype), col[:0].copy(), xp.zeros(0, dtype=ptr_dtype)
    # one stable sort on a combined key
    key = pair_keys(row, col, pair_key_space(col, n_rows, int(col.max()) + 1))
    perm = xp.argsort(key, kind="stable").astype(ptr_dtype, copy=False)
    indptr = _indptr_from_counts(xp, xp.bincount(row, minlength=n_rows), ptr_dtype)
    return indptr, col[perm], perm


def coalesce(row, col, n_rows: int, n_cols: int):
    """Merge duplicate (row, col) entries of a COO structure.

    Args:
        row: (E,) row ids in ``[0, N)``.
        col: (E,) column ids in ``[0, M)``.
        n_rows: ``N``.
        n_cols: ``M``.

    Returns:
        ``(u_row, u_col, inverse)``: the U unique entries sorted by (row, col), in the input
        dtypes, and (E,) int64 ``inverse`` with entry ``e`` stored at ``inverse[e]``. The
        coalesced values are ``scatter_reduce(inverse, values, U, "sum")``.
    """
    xp = xp_of(row)
    space = pair_key_space(col, n_rows, n_cols)
    ukey, inverse = xp.unique(pair_keys(row, col, space), return_inverse=True)
    u_row, u_col = key_pairs(ukey, space)
    return (u_row.astype(row.dtype), u_col.astype(col.dtype),
            inverse.reshape(-1).astype(np.int64, copy=False))
