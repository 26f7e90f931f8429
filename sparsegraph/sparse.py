"""Sparse tensors: an immutable `Structure` (the pattern) plus a differentiable `values` Tensor.

The structure (sparsegraph/sparse_structure.py) is shape + CSR (``indptr``, ``indices``) or COO
(``row``, ``col``) index arrays. It is never differentiated, is shared between tensors
(``A.with_values(v)`` reuses it), and builds each derived form at most once: COO row ids of a
CSR, the CSR of a COO (with the value permutation), the transposed CSR (with its permutation),
degrees. Gradients flow through
``values`` only, so the autograd engine sees dense arrays and the gradient of a sparse tensor is
a sparse tensor with the same structure.

Graph adjacencies are stored target-major: row = destination, column = source, so aggregation is
``adj @ x``.
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.numpy_compat import numpy_args
from sparsegraph.sparse_checks import (
    INT64_MAX,
    as_index_array,
    check_values,
    check_values_dtype,
    index_array,
    inferred_dim,
    read_only,
)
from sparsegraph.sparse_structure import Structure
from sparsegraph.tensor import Tensor, _ops, host_values


class SparseTensor:
    """A 2-D sparse matrix (optionally with dense trailing value dims, e.g. one value per head).

    Attributes:
        structure: the immutable :class:`Structure` (shape, index arrays, caches).
        values: the differentiable Tensor of stored values, shape ``(nnz, *dense_dims)``.
    """

    __slots__ = ("structure", "values")
    __array_priority__ = 1001
    _sparse_operand = True  # dense Tensor operators hand `dense * A` etc. over to us

    def __init__(self, structure: Structure, values: Tensor):
        """Pair a validated ``structure`` (e.g. ``A.structure``) with ``values``.

        Checks in O(1) what the kernels trust: ``values`` is a Tensor of shape
        ``(structure.nnz, *dense_dims)`` with a supported dtype on the structure's device.
        (``A.with_values(v)`` also converts array-likes; the constructors ``sparse_coo`` /
        ``sparse_csr`` / ``from_scipy`` build the structure.)

        Raises:
            TypeError: ``structure`` is not a Structure, ``values`` not a Tensor or of a dtype
                the sparse kernels do not support (complex, float16, object).
            ValueError: ``values`` without one row per stored entry, or on another device.
        """
        if not isinstance(structure, Structure):
            raise TypeError(f"SparseTensor: expected `structure` to be a Structure (got "
                            f"{type(structure).__name__}); build sparse tensors with "
                            "sg.sparse_coo, sg.sparse_csr or sg.from_scipy")
        if not isinstance(values, Tensor):
            raise TypeError(f"SparseTensor: expected `values` to be a Tensor (got "
                            f"{type(values).__name__}); A.with_values(v) also takes arrays")
        nnz = structure.nnz
        if values.ndim < 1 or values.shape[0] != nnz:
            # the kernels index values by stored entry: a short array would be read past its end
            raise ValueError(f"SparseTensor: expected `values` with {nnz} entries, one per "
                             f"stored index of `structure` (got shape {values.shape})")
        check_values_dtype("SparseTensor", values.dtype)
        if values.device != structure.device:
            raise ValueError(f"SparseTensor: `values` is on {values.device} but `structure` is "
                             f"on {structure.device}; move one with .to()")
        self.structure = structure
        self.values = values

    # ---- metadata -------------------------------------------------------------------------
    layout = property(lambda self: self.structure.layout)
    nnz = property(lambda self: self.structure.nnz)
    dtype = property(lambda self: self.values.dtype)
    device = property(lambda self: self.values.device)
    # the index arrays are views of the shared structure's: read-only on the CPU (``.copy()``
    # to edit one); on a GPU writable (CuPy has no read-only arrays) and never to be written
    indptr = property(lambda self: read_only(csr := self.structure.to_csr()[0], "indptr",
                                              csr.indptr),
                      doc="Row pointer (N + 1,); of the CSR form for a COO tensor (cached). "
                          "A view of the shared structure: read-only on the CPU, not to be "
                          "written on a GPU (CuPy has no read-only arrays).")
    row = property(lambda self: read_only(self.structure, "row", self.structure.rows()),
                   doc="Row of every stored entry: a view of the shared structure, "
                       "read-only on the CPU, not to be written on a GPU (CuPy has no "
                       "read-only arrays).")
    col = property(lambda self: read_only(self.structure, "col", self.structure.cols()),
                   doc="Column of every stored entry: a view of the shared structure, "
                       "read-only on the CPU, not to be written on a GPU (CuPy has no "
                       "read-only arrays).")

    @property
    def shape(self) -> tuple:
        return self.structure.shape + self.values.shape[1:]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None):
        """``shape``, or its entry ``dim`` (negative counts from the end), as torch's."""
        if dim is None:
            return self.shape
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
            raise TypeError(f"SparseTensor.size: expected an int `dim` (got {dim!r})")
        if not -self.ndim <= dim < self.ndim:
            raise IndexError(f"SparseTensor.size: expected `dim` in [{-self.ndim}, "
                             f"{self.ndim - 1}] (got {dim})")
        return self.shape[dim]

    def __getitem__(self, key) -> SparseTensor:
        """Rows: ``x[i]`` (a 1-row matrix), ``x[lo:hi]``, ``x[ids]``, ``x[mask]`` (and
        ``x[rows, :]``), as a CSR SparseTensor whose values keep their gradient; see
        `sparsegraph.sparse_rows.select_rows`."""
        from sparsegraph.sparse_rows import select_rows

        return select_rows(self, key)

    def indices(self):
        """Column indices of a CSR tensor; the 2 x nnz (row, col) array of a COO tensor.
        A CSR tensor's is a view of the shared structure: read-only on the CPU (``.copy()``
        gives a writable one), not to be written on a GPU (CuPy has no read-only arrays). A
        COO tensor's is a fresh copy, the caller's to change."""
        s = self.structure
        if self.layout == "csr":
            return read_only(s, "col", s.indices)
        return backend.xp_of(s.row).stack([s.row, s.col])

    @property
    def requires_grad(self) -> bool:
        return self.values.requires_grad

    def requires_grad_(self, flag: bool = True) -> SparseTensor:
        self.values.requires_grad_(flag)
        return self

    @property
    def grad(self) -> SparseTensor | None:
        """The gradient as a sparse tensor with this tensor's structure (or None)."""
        g = self.values.grad
        return None if g is None else SparseTensor(self.structure, g)

    def with_values(self, values) -> SparseTensor:
        """Same structure, new values (how edge weights or attention go onto a graph)."""
        if isinstance(values, Tensor) and values.device != self.structure.device:
            raise ValueError(f"with_values: `values` is on {values.device} but the structure "
                             f"is on {self.structure.device}")
        return SparseTensor(self.structure, check_values(
            "with_values", values, self.nnz, self.structure.device))

    def detach(self) -> SparseTensor:
        return SparseTensor(self.structure, self.values.detach())

    def to(self, *args, **kwargs) -> SparseTensor:
        values = self.values.to(*args, **kwargs)
        return SparseTensor(self.structure.to(values.device),
                            check_values("to", values, self.nnz, values.device))

    # torch's (and torch_sparse's) dtype shorthands: casts of the values, differentiable as `to`
    def _cast(self, op: str, dtype: str) -> SparseTensor:
        values = self.values.to(dtype)
        return SparseTensor(self.structure, check_values(op, values, self.nnz, values.device))

    def float(self) -> SparseTensor:
        return self._cast("float", "float32")

    def double(self) -> SparseTensor:
        return self._cast("double", "float64")

    def half(self) -> SparseTensor:
        """float16 values: refused while the sparse kernels have no float16 (a TypeError)."""
        return self._cast("half", "float16")

    def cpu(self) -> SparseTensor:
        return self.to("cpu")

    def cuda(self) -> SparseTensor:
        return self.to("cuda")

    def numpy(self):
        return self.to_dense().detach().numpy()

    def to_scipy(self):
        """A scipy.sparse csr_matrix / coo_matrix (1-D values only; no graph).

        Its index arrays and data are copies: scipy's in-place methods on it (sum_duplicates,
        sort_indices, ``m.data *= k``) never change this tensor or its shared structure."""
        import scipy.sparse as sp

        if self.values.ndim != 1:
            raise ValueError(f"to_scipy: expected 1-D values (got shape {self.values.shape})")
        s = self.structure.to(backend.normalize_device("cpu"))
        v = np.array(backend.to_device(self.values.array, "cpu"))  # copies (also from cupy)
        if self.layout == "csr":
            return sp.csr_matrix((v, s.indices.copy(), s.indptr.copy()), shape=s.shape)
        return sp.coo_matrix((v, (s.row.copy(), s.col.copy())), shape=s.shape)

    def __repr__(self) -> str:
        grad = (f", grad_fn=<{self.values.grad_fn.name()}>" if self.values.grad_fn is not None
                else ", requires_grad=True" if self.requires_grad else "")
        return (f"SparseTensor(layout={self.layout}, shape={self.shape}, nnz={self.nnz}, "
                f"dtype={self.dtype}{grad})")

    # ---- differentiable conversions and products (sparsegraph.ops) ---------------------------
    def to_dense(self) -> Tensor:
        return _ops().sparse_to_dense(self)

    def to_csr(self) -> SparseTensor:
        return _ops().sparse_to_csr(self)

    def to_coo(self) -> SparseTensor:
        return _ops().sparse_to_coo(self)

    def coalesce(self) -> SparseTensor:
        return _ops().coalesce(self)

    @property
    def T(self) -> SparseTensor:
        return _ops().sparse_transpose(self)

    def t(self) -> SparseTensor:
        return self.T

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __mul__(self, other):
        return _ops().sparse_mul(self, other)

    __rmul__ = __mul__

    def __add__(self, other):
        return _ops().sparse_add(self, other)

    __radd__ = __add__

    def __neg__(self):
        return self.with_values(-self.values)

    def __sub__(self, other):
        if not isinstance(other, SparseTensor | Tensor):  # before negating it
            raise TypeError(f"sparse - other: expected a SparseTensor or dense Tensor `other` "
                            f"(got {type(other).__name__}); subtracting a scalar would densify, "
                            "use a.to_dense() - value")
        return _ops().sparse_add(self, -other)

    def __rsub__(self, other):
        return _ops().sparse_add(-self, other)

    def __abs__(self):
        return _ops().sparse_apply(self, lambda v: v.abs())

    def __pow__(self, exponent):
        """Powers of the stored values: only positive exponents keep the zeros zero."""
        if not isinstance(exponent, int | float | np.number) or isinstance(exponent, bool) or (
                not exponent > 0):
            raise TypeError(f"sparse ** exponent: expected a positive number, which keeps "
                            f"implicit zeros zero (got {exponent!r}); for others use "
                            "a.to_dense() ** exponent")
        return _ops().sparse_apply(self, lambda v: v ** exponent)

    def __array__(self, dtype=None, copy=None):
        # without this numpy would wrap the object in a 0-d object array, silently
        raise TypeError("np.asarray(SparseTensor): a sparse tensor does not convert implicitly; "
                        "use a.to_dense().numpy() or a.to_scipy()")

    def __truediv__(self, other):
        if isinstance(other, SparseTensor):
            raise TypeError("sparse / sparse: the quotient is undefined wherever an entry is not "
                            "stored; divide the values, a.with_values(a.values / b.values), "
                            "when the structures match")
        if isinstance(other, int | float | np.number) and not isinstance(other, bool):
            return self.with_values(self.values / other)  # / 0 gives inf / nan, as numpy
        if not isinstance(other, Tensor):
            raise TypeError(f"sparse / other: expected a number or a dense Tensor divisor (got "
                            f"{type(other).__name__})")
        return _ops().sparse_mul(self, 1.0 / other)

    @numpy_args
    def sum(self, dim=None, keepdim: bool = False):
        """Sum of the stored values: all (``dim=None``), per row (``dim=1`` / ``-1`` for a
        matrix) or per column (``dim=0``), as a dense Tensor; ``keepdim`` keeps the summed
        axis with size 1, as torch's dense sum (``x / x.sum(-1, keepdim=True)``)."""
        if not isinstance(keepdim, bool | np.bool_):
            raise TypeError(f"SparseTensor.sum: expected a bool `keepdim` (got {keepdim!r})")
        out = _ops().sparse_sum(self, dim)
        if not keepdim:
            return out
        if dim is None:
            return out.reshape((1,) * self.ndim)
        axis = int(dim) % self.ndim  # a sparse axis, 0 or 1: sparse_sum checked it
        return out.reshape(out.shape[:axis] + (1,) + out.shape[axis:])


# ---- constructors ---------------------------------------------------------------------------
def sparse_coo(indices, values=None, shape=None, *, dtype=None, device=None) -> SparseTensor:
    """A COO sparse tensor from a 2 x nnz ``indices`` array (row 0: rows, row 1: columns).

    Args:
        indices: integer array-like of shape ``(2, nnz)``; duplicates are kept (see coalesce).
        values: ``(nnz, *dense_dims)`` values (default: float32 ones).
        shape: ``(N, M)``; default: one past the largest index in each row.
    """
    return _coo("sparse_coo", "indices", indices, values, shape, dtype, device)


def _coo(op: str, name: str, indices, values, shape, dtype, device) -> SparseTensor:
    """`sparse_coo` for ``op``, whose (2, nnz) index argument is called ``name``."""
    idx = host_values(indices, f"{op}: the sparse structure built from `{name}`")
    if not hasattr(idx, "dtype"):
        idx = as_index_array(op, name, idx)
    if idx.ndim != 2 or idx.shape[0] != 2:
        raise ValueError(f"{op}: expected `{name}` of shape (2, nnz) (got {idx.shape})")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected `{name}` with an integer dtype (got {idx.dtype})")
    if shape is None:
        shape = tuple(inferred_dim(op, name, int(idx[i].max())) if idx.shape[1] else 0
                      for i in range(2))
    return _placed(op, Structure.coo(idx[0], idx[1], shape, op=op), values, device, dtype)


def _placed(op: str, s: Structure, values, device, dtype) -> SparseTensor:
    """``s`` with checked ``values`` on ``device`` (default: the indices' device, which a
    values Tensor must share)."""
    if device is None:
        device = s.device
        if isinstance(values, Tensor) and values.device != device:
            raise ValueError(f"{op}: `values` is on {values.device} but the indices are on "
                             f"{device}; move one with .to() or pass `device`")
    else:
        device = backend.normalize_device(device)  # check_values moves a values Tensor there
    return SparseTensor(s.to(device), check_values(op, values, s.nnz, device, dtype))


def sparse_csr(indptr, indices, values=None, shape=None, *, dtype=None,
               device=None) -> SparseTensor:
    """A CSR sparse tensor; ``shape`` defaults to ``(len(indptr) - 1, max(indices) + 1)``."""
    return _csr("sparse_csr", indptr, indices, values, shape, dtype, device)


def _csr(op: str, indptr, indices, values, shape, dtype, device) -> SparseTensor:
    """`sparse_csr` reporting errors as ``op``."""
    for given, name in ((indptr, "indptr"), (indices, "indices")):
        host_values(given, f"{op}: the sparse structure built from `{name}`")
    if shape is None:
        # validated first: the max of a float array (inf, NaN) is no shape
        ip = index_array(op, "indptr", indptr)
        ind = index_array(op, "indices", indices)
        if ip.size == 0:
            raise ValueError(f"{op}: expected `indptr` with N + 1 entries for N rows, at "
                             "least one (got an empty array)")
        shape = (ip.size - 1, inferred_dim(op, "indices", int(ind.max())) if ind.size else 0)
    return _placed(op, Structure.csr(indptr, indices, shape, op=op), values, device, dtype)


def from_scipy(m, *, dtype=None, layout: str | None = None) -> SparseTensor:
    """Wrap any scipy.sparse matrix or array (CSR/CSC/COO/...); values are copied."""
    import scipy.sparse as sp

    if not sp.issparse(m):
        raise TypeError(f"from_scipy: expected a scipy.sparse matrix (got {type(m).__name__})")
    if m.ndim != 2:
        raise ValueError(f"from_scipy: expected a 2-D sparse matrix or array (got shape "
                         f"{m.shape})")
    if layout not in (None, "csr", "coo"):
        raise ValueError(f"from_scipy: expected layout 'csr' or 'coo' (got {layout!r})")
    if (layout or ("coo" if m.format == "coo" else "csr")) == "coo":
        m = m.tocoo()
        return _coo("from_scipy", "m", np.stack([m.row, m.col]), np.array(m.data), m.shape,
                    dtype, None)
    m = m.tocsr()
    return _csr("from_scipy", m.indptr, m.indices, np.array(m.data), m.shape, dtype, None)


def from_edge_index(edge_index, num_nodes: int | None = None, values=None, *,
                    dtype=None) -> SparseTensor:
    """The target-major CSR adjacency of a 2 x E ``edge_index`` (row 0: source, row 1: target).

    Entry ``(dst, src)`` holds the edge's value, so ``adj @ x`` sums source features into each
    target. Values (default ones) follow the edges through the sort into CSR order.
    """
    ei = host_values(edge_index, "from_edge_index: the CSR structure built from `edge_index`")
    ei = ei if hasattr(ei, "dtype") else as_index_array("from_edge_index", "edge_index", ei)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"from_edge_index: expected `edge_index` of shape (2, E) "
                         f"(got {ei.shape})")
    if ei.dtype.kind not in "iu":
        raise TypeError(f"from_edge_index: expected `edge_index` with an integer dtype "
                        f"(got {ei.dtype})")
    if num_nodes is None:
        num_nodes = inferred_dim("from_edge_index", "edge_index", int(ei.max())) if ei.size else 0
    if (not isinstance(num_nodes, int | np.integer) or isinstance(num_nodes, bool)
            or not 0 <= num_nodes <= INT64_MAX):
        raise ValueError(f"from_edge_index: expected `num_nodes` to be a non-negative int below "
                         f"2^63 (got {num_nodes!r})")
    if ei.size and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        bad = int(ei.min()) if int(ei.min()) < 0 else int(ei.max())
        raise ValueError(f"from_edge_index: expected `edge_index` node ids in [0, {num_nodes}) "
                         f"(got {bad})")
    coo = _coo("from_edge_index", "edge_index", ei[::-1], values, (num_nodes, num_nodes), dtype,
               None)
    return coo.to_csr()
