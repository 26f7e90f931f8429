"""Row selection of a sparse matrix: ``x[i]``, ``x[lo:hi]``, ``x[ids]``, ``x[mask]``.

What PyG code does to a node-feature matrix (``x[data.train_mask]``, ``x[:batch_size]``),
on Planetoid's CSR features. The result is a CSR SparseTensor of the chosen rows, in the
order asked (repeats allowed); its values are the chosen stored values, gathered with their
gradient, so a selection of features that require grad stays differentiable. The structure
is computed on the host from the CSR row pointer (a COO tensor is read through its cached CSR
form; a device tensor's row pointer is copied to the host once and kept with its structure) and
never densified.

The row ids (or mask) are read on the host to build that structure, so they go through
`sparsegraph.tensor.host_values`: in a compiled step, ids passed as an argument are guarded
(other ids trace again) and ids computed in the step (``x[y == 1]``) are refused.
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.row_ids import row_ids
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import host_values

OP = "SparseTensor[]"
# the remedy a static trace names when the ids were computed in the step
_HINT = ("Pass the row ids or mask as an argument of the compiled function (other values trace "
         "it again), or select the rows outside it")


def select_rows(x: SparseTensor, key) -> SparseTensor:
    """The rows of ``x`` that ``key`` names, as a CSR SparseTensor.

    Args:
        x: ``(N, M, *dense)`` SparseTensor (CSR, or COO: read as CSR).
        key: an int (one row: a ``(1, M)`` result, as scipy's ``csr_matrix`` gives; torch's
            1-D sparse row has no form here), a slice (any step), a 1-D integer array, list or
            Tensor (negative ids count from the end, repeats allowed), or a boolean mask of
            length N; also ``(rows, :)`` / ``(rows, ...)``.

    Returns:
        ``(K, M, *dense)`` CSR SparseTensor, K the number of rows chosen.

    Raises:
        TypeError: a key of another kind (a float, a bool, a column selection).
        IndexError: a row id outside ``[-N, N)``, or a mask of another length.
    """
    key = _rows_part(key)
    n = x.shape[0]
    csr = x if x.layout == "csr" else x.to_csr()  # differentiable: values follow the sort
    if isinstance(key, slice):
        start, stop, step = key.indices(n)
        if step == 1:
            return _contiguous(csr, start, max(start, stop))
        return _gathered(csr, np.arange(start, stop, step, dtype=np.int64))
    return _gathered(csr, _row_ids(key, n))


def _rows_part(key):
    """``key`` without a trailing ``:`` / ``...`` over the columns; TypeError for anything
    that selects columns."""
    if isinstance(key, tuple):
        rest = key[1:]
        if len(key) > 2 or any(k is not Ellipsis and not (isinstance(k, slice)
                                                          and k == slice(None)) for k in rest):
            raise TypeError(f"{OP}: expected a row selection, x[rows] or x[rows, :] (got "
                            f"{key!r}); columns of a sparse tensor are not indexed: use "
                            "x.to_dense()[...]")
        key = key[0] if key else slice(None)
    if key is Ellipsis:
        return slice(None)
    return key


def _row_ids(key, n: int) -> np.ndarray:
    """Row ids in ``[0, n)`` (int64, host) for an int, an integer array or a mask."""
    if isinstance(key, bool | np.bool_ | float | str | None):
        raise TypeError(f"{OP}: expected an int, a slice, integer row ids or a boolean mask "
                        f"(got {type(key).__name__} {key!r})")
    if isinstance(key, int | np.integer):
        key = np.array([int(key)], np.int64)
    else:
        # read on the host to build the result's structure: a static trace guards the ids
        key = host_values(key, "SparseTensor row indexing x[rows]", _HINT)
    return row_ids(OP, "the rows", key, n)


def _contiguous(x: SparseTensor, lo: int, hi: int) -> SparseTensor:
    """Rows ``lo:hi`` of CSR ``x``: views of its index arrays, its values sliced."""
    s = x.structure
    a, b = int(s.indptr[lo]), int(s.indptr[hi])
    # derived from a valid structure: a run of its rows, re-based
    rows = Structure.csr(s.indptr[lo:hi + 1] - s.indptr[lo], s.indices[a:b],
                         (hi - lo, s.shape[1]), validate=False)
    return SparseTensor(rows, x.values[a:b])


def _gathered(x: SparseTensor, ids: np.ndarray) -> SparseTensor:
    """Rows ``ids`` of CSR ``x``: one vectorised gather of their stored entries. The positions
    are computed on the host from the row pointer (copied there once per structure: it is
    immutable); the column indices and values are gathered where they are, so a device
    tensor's ``indices`` never cross."""
    from sparsegraph.ops import gather_rows

    s = x.structure
    indptr = s._cached(("host", "indptr"), lambda: backend.to_device(s.indptr, "cpu").astype(
        np.int64, copy=False))
    start = indptr[ids]
    counts = indptr[ids + 1] - start
    out_ptr = np.zeros(ids.size + 1, np.int64)
    np.cumsum(counts, out=out_ptr[1:])
    # position in x of every stored entry of the result, row after row
    pos = backend.to_device(np.repeat(start - out_ptr[:-1], counts)
                            + np.arange(int(out_ptr[-1])), s.device)
    rows = Structure.csr(backend.to_device(out_ptr, s.device), s.indices[pos],
                         (ids.size, s.shape[1]), validate=False)
    return SparseTensor(rows, gather_rows(x.values, pos))
