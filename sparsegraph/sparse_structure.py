"""The sparsity pattern of a sparse tensor: `Structure`, immutable, shared and never
differentiated, with every derived form (COO row ids of a CSR, the CSR of a COO and its value
permutation, the transposed CSR and its permutation, their inverses, degrees) built at most once
and cached on it. `sparsegraph.sparse.SparseTensor` pairs one with a values Tensor.
"""

from __future__ import annotations

import weakref

from sparsegraph import backend
from sparsegraph.sparse_checks import (
    as_structure_arrays,
    check_range,
    check_shape,
    index_array,
    index_dtype,
)
from sparsegraph.tensor import _ops

__all__ = ["Structure", "inverse_permutation"]


def inverse_permutation(perm):
    """``inv`` with ``inv[perm[e]] = e`` (numpy or CuPy, ``perm``'s dtype): one O(E) scatter,
    where ``argsort(perm)`` sorts (14x slower on 2.3 M entries) and returns int64."""
    xp = backend.xp_of(perm)
    inv = xp.empty_like(perm)
    inv[perm] = xp.arange(perm.shape[0], dtype=perm.dtype)
    return inv


class Structure:
    """The sparsity pattern of a 2-D sparse tensor; immutable and shared.

    Use the constructors :meth:`csr` and :meth:`coo` (which validate) rather than ``__init__``.
    """

    __slots__ = ("shape", "layout", "indptr", "indices", "row", "col", "device", "_cache",
                 "__weakref__")

    def __init__(self, shape, layout, *, indptr=None, indices=None, row=None, col=None):
        self.shape = shape
        self.layout = layout
        self.indptr, self.indices, self.row, self.col = as_structure_arrays(
            (indptr, indices, row, col))
        self.device = backend.device_of(indices if layout == "csr" else row)
        self._cache: dict = {}

    @classmethod
    def csr(cls, indptr, indices, shape, *, op: str = "sparse_csr", validate: bool = True):
        n, m = check_shape(op, shape)
        indptr = index_array(op, "indptr", indptr)
        indices = index_array(op, "indices", indices)
        if validate:
            if indptr.size != n + 1:
                raise ValueError(f"{op}: expected `indptr` of length {n + 1} for {n} rows "
                                 f"(got {indptr.size})")
            if int(indptr[0]) != 0 or int(indptr[-1]) != indices.size:
                raise ValueError(f"{op}: expected `indptr` to start at 0 and end at nnz="
                                 f"{indices.size} (got {int(indptr[0])} and {int(indptr[-1])})")
            # NOTE: not diff(indptr) < 0, which wraps around for unsigned dtypes
            if indptr.size > 1 and bool((indptr[1:] < indptr[:-1]).any()):
                raise ValueError(f"{op}: expected `indptr` to be non-decreasing")
            check_range(op, "indices", indices, m)
        dt = index_dtype(n, m, indices.size)
        # NOTE: validated input is the caller's: copied, so changing it later cannot change
        # the (immutable, trusted) structure behind the kernels' backs
        return cls((n, m), "csr", indptr=indptr.astype(dt, copy=validate),
                   indices=indices.astype(dt, copy=validate))

    @classmethod
    def coo(cls, row, col, shape, *, op: str = "sparse_coo", validate: bool = True):
        n, m = check_shape(op, shape)
        row = index_array(op, "row", row)
        col = index_array(op, "col", col)
        if validate:
            if row.size != col.size:
                raise ValueError(f"{op}: expected `row` and `col` of equal length (got "
                                 f"{row.size} and {col.size})")
            check_range(op, "row indices", row, n)
            check_range(op, "column indices", col, m)
        dt = index_dtype(n, m, row.size)
        return cls((n, m), "coo", row=row.astype(dt, copy=validate),
                   col=col.astype(dt, copy=validate))

    # ---- derived forms (each built once) -----------------------------------------------------
    @property
    def nnz(self) -> int:
        return int((self.indices if self.layout == "csr" else self.row).size)

    def _cached(self, key, build):
        value = self._cache.get(key)
        if value is None:
            value = self._cache[key] = as_structure_arrays(build())
        return value

    def _cached_with(self, op: str, other: Structure, build):
        """`_cached` for a form built from this structure and ``other`` (a union, a product
        pattern), held only while ``other`` lives: a loop pairing one adjacency with a new
        structure each step must not keep every partner alive."""
        per_other = self._cache.setdefault(("with", op), weakref.WeakKeyDictionary())
        value = per_other.get(other)
        if value is None:
            value = per_other[other] = as_structure_arrays(build())
        return value

    def rows(self):
        """Row index of every stored entry (COO rows)."""
        if self.layout == "coo":
            return self.row
        def build():
            from sparsegraph.ops.sparse_kernels.structure import csr_row_ids

            return csr_row_ids(self.indptr, self.nnz).astype(self.indices.dtype, copy=False)

        return self._cached("rows", build)

    def cols(self):
        return self.indices if self.layout == "csr" else self.col

    def to_csr(self) -> tuple[Structure, object]:
        """``(csr_structure, perm)`` with CSR values ``values[perm]`` (perm None: same order)."""
        if self.layout == "csr":
            return self, None

        def build():
            indptr, indices, perm = _kernel("coo_to_csr", self.device)(self.row, self.col,
                                                                       self.shape[0])
            s = Structure.csr(indptr, indices, self.shape, validate=False)
            s._cache["rows"] = as_structure_arrays(self.row[perm])
            return s, perm

        return self._cached("csr", build)

    def from_csr_order(self):
        """``inv`` such that values computed in the order of `to_csr`'s structure, taken at
        ``inv``, follow this structure's own entry order (None when they already do)."""
        csr, perm = self.to_csr()
        if perm is None:
            return None

        return self._cached("from_csr_order", lambda: inverse_permutation(perm))

    def to_coo(self) -> Structure:
        if self.layout == "coo":
            return self
        return self._cached("coo", lambda: Structure.coo(self.rows(), self.indices, self.shape,
                                                         validate=False))

    def transpose(self) -> tuple[Structure, object]:
        """``(csr_of_transpose, perm)``: the transposed values are ``values[perm]``."""

        def build():
            csr, perm0 = self.to_csr()
            if perm0 is None and csr is not self:  # a COO in CSR order (a coalesced one)
                return csr.transpose()  # shares the CSR's transpose and its cache
            t_indptr, t_indices, perm = _kernel("csr_transpose", self.device)(
                csr.indptr, csr.indices, self.shape[1])
            t = Structure.csr(t_indptr, t_indices, self.shape[::-1], validate=False)
            t._cache["transpose"] = as_structure_arrays((csr, inverse_permutation(perm)))
            return t, (perm if perm0 is None else perm0[perm])

        return self._cached("transpose", build)

    def from_transposed_order(self):
        """``inv`` such that values computed in the order of `transpose`'s structure, taken at
        ``inv``, follow this structure's own entry order: the inverse of its ``perm``.

        Undoing ``values[perm]`` as a gather rather than a scatter through ``perm``: two threads
        scattering 4-byte values to random slots keep taking each other's cache lines (2.8x
        slower than this gather on 2.3 M entries, benchmarks/RESULTS.md)."""
        t, perm = self.transpose()
        if self.to_csr()[1] is None:  # in CSR order: the transpose's own way back has it
            return t.transpose()[1]
        return self._cached("from_transposed_order", lambda: inverse_permutation(perm))

    def degree(self, dim: int = 1):
        """Stored entries per row (``dim=1``: out of each row) or per column (``dim=0``)."""
        if dim not in (0, 1):
            raise ValueError(f"degree: expected `dim` 0 or 1 (got {dim!r})")

        def build():
            xp = backend.xp_of(self.cols())
            if dim == 1 and self.layout == "csr":
                return xp.diff(self.indptr)
            idx = self.rows() if dim == 1 else self.cols()
            return xp.bincount(idx, minlength=self.shape[1 - dim]).astype(idx.dtype)

        return self._cached(("degree", dim), build)

    def to(self, device: str) -> Structure:
        device = backend.normalize_device(device)
        if device == self.device:
            return self
        move = lambda a: None if a is None else backend.to_device(a, device)
        return Structure(self.shape, self.layout, indptr=move(self.indptr),
                         indices=move(self.indices), row=move(self.row), col=move(self.col))

    def __repr__(self) -> str:
        return f"Structure(layout={self.layout}, shape={self.shape}, nnz={self.nnz})"


def _kernel(op: str, device: str):
    """Structure transforms are kernels too (numba where it helps); the op library holds them.
    Dispatched on the structure's device: numba kernels cannot read cupy arrays."""
    _ops()
    from sparsegraph.kernels import dispatch

    return dispatch(op, backend.device_type(device), "csr")
