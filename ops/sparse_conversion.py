"""Conversions of sparse tensors, all differentiable through the values: to_dense, to_csr,
to_coo, coalesce, transpose, and dense -> sparse."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops.index import getitem
from sparsegraph.sparse import SparseTensor, Structure, check_values
from sparsegraph.sparse_checks import as_structure_arrays
from sparsegraph.tensor import Tensor

__all__ = ["sparse_to_dense", "sparse_to_csr", "sparse_to_coo", "coalesce",
           "sparse_transpose", "to_sparse"]


@register("sparse_to_dense", "cpu", "cuda")
def _to_dense_kernel(rows, cols, values, shape):
    xp = xp_of(values)
    out = xp.zeros(tuple(shape) + values.shape[1:], dtype=values.dtype)
    dispatch("index_add", "cpu" if xp is np else "cuda")(out, (rows, cols), values)
    return out


class ToDense(Function):
    """Scatter stored values into a dense array (duplicates add up)."""

    @staticmethod
    def forward(ctx, a):
        s = a.structure
        ctx.rc = (s.rows(), s.cols())
        return dispatch("sparse_to_dense", ctx.device)(*ctx.rc, a.values.array, s.shape)

    @staticmethod
    def backward(ctx, g):
        return g.array[ctx.rc]


class PermuteValues(Function):
    """``values[perm]`` for a permutation ``perm`` (a layout change: transpose, COO -> CSR).

    Its backward gathers through the inverse ``inv`` (cached on the structures), so both ways
    are the registered parallel ``take``: numpy's one-threaded fancy indexing took 10 ms on
    2.3 M values where ``take`` takes 2, and a scatter through ``perm`` from two threads 6.
    """

    @staticmethod
    def forward(ctx, values, perm, inv):
        ctx.inv = inv
        return dispatch("take", ctx.device, "csr")(values.array, perm)

    @staticmethod
    def backward(ctx, g):
        return dispatch("take", ctx.device, "csr")(g.array, ctx.inv), None, None


def _permuted(a: SparseTensor, structure: Structure, perm, inv) -> SparseTensor:
    return SparseTensor(structure, a.values if perm is None
                        else PermuteValues.apply(a.values, perm, inv))


def in_own_order(a: SparseTensor, csr_values: Tensor) -> SparseTensor:
    """``a``'s structure with values computed in the order of ``a.to_csr()``: how an op that
    runs on CSR answers a COO input, entry for entry with ``a.values``."""
    inv = a.structure.from_csr_order()
    return SparseTensor(a.structure, csr_values if inv is None
                        else PermuteValues.apply(csr_values, inv, a.structure.to_csr()[1]))


def _check(op: str, a) -> None:
    if not isinstance(a, SparseTensor):
        raise TypeError(f"{op}: expected a SparseTensor (got {type(a).__name__})")


def sparse_to_dense(a: SparseTensor) -> Tensor:
    """The dense ``(N, M, *dense_dims)`` tensor; duplicate entries add up (differentiable
    w.r.t. the values: the gradient is the dense gradient read at the stored entries).

    Example:
        >>> sg.sparse_coo([[0, 0], [1, 1]], [1.0, 2.0], (2, 2)).to_dense().tolist()
        [[0.0, 3.0], [0.0, 0.0]]
    """
    _check("to_dense", a)
    return ToDense.apply(a)


def sparse_to_csr(a: SparseTensor) -> SparseTensor:
    """CSR sorted by (row, col), duplicates kept; the structure and value permutation are
    built once and cached on the COO structure."""
    _check("to_csr", a)
    if a.layout == "csr":
        return a
    csr, perm = a.structure.to_csr()
    return _permuted(a, csr, perm, a.structure.from_csr_order())


def sparse_to_coo(a: SparseTensor) -> SparseTensor:
    """COO with the same entry order (no permutation needed; the rows are cached)."""
    _check("to_coo", a)
    if a.layout == "coo":
        return a
    return SparseTensor(a.structure.to_coo(), a.values)


def coalesce(a: SparseTensor) -> SparseTensor:
    """Sum duplicate entries and sort them by (row, col), keeping the layout: a COO input
    gives a COO tensor with unique entries in row-major order (``torch.Tensor.coalesce``, so
    ``r, c = a.coalesce().indices()``), a CSR input a CSR tensor with sorted columns.

    The merged structures are cached on ``a``'s (the COO result's CSR form is the cached CSR,
    with no permutation, so ``a.coalesce().to_csr()`` costs nothing); the values are summed
    by a differentiable scatter (bool values OR together, as in scipy.sparse). An already
    coalesced ``a`` is returned as it is.

    Example:
        >>> a = sg.sparse_coo([[1, 0, 1], [0, 1, 0]], [1.0, 2.0, 3.0], (2, 2))
        >>> c = coalesce(a)
        >>> c.layout, c.indices().tolist(), c.values.tolist()
        ('coo', [[0, 1], [1, 0]], [2.0, 4.0])
    """
    from sparsegraph.ops.gather_scatter import scatter

    _check("coalesce", a)
    plan = _coalesced_plan(a.structure)
    if plan.same:
        return a
    out_s = plan.coo if a.layout == "coo" else plan.csr
    if a.dtype == np.bool_:  # duplicates OR together, as in scipy.sparse
        return SparseTensor(out_s, scatter(a.values.to("int64"), plan.inverse, out_s.nnz,
                                           "sum").to("bool"))
    return SparseTensor(out_s, scatter(a.values, plan.inverse, out_s.nnz, "sum"))


def has_duplicates(a: SparseTensor) -> bool:
    """Whether two stored entries of ``a`` share a position (the merge plan is cached)."""
    return _coalesced_plan(a.structure).csr.nnz < a.nnz


class _Plan(NamedTuple):
    """How a structure coalesces: the merged entries as CSR and (for a COO structure) as COO,
    entry ``e`` going to ``inverse[e]`` (int64), and ``same`` when the structure is already
    coalesced in its own layout (unique, sorted by (row, col)), so nothing moves."""

    csr: Structure
    coo: Structure | None
    inverse: object
    same: bool


def _coalesced_plan(s: Structure) -> _Plan:
    """The `_Plan` of ``s``, built once and cached on ``s``."""
    from sparsegraph.ops.sparse_kernels.structure import coalesce as coalesce_kernel

    def build():
        urow, ucol, inverse = coalesce_kernel(s.rows(), s.cols(), s.shape[0], s.shape[1])
        xp = xp_of(urow)
        same = urow.shape[0] == s.nnz and bool((inverse == xp.arange(s.nnz)).all())
        if same and s.layout == "csr":
            return _Plan(s, None, inverse, True)
        indptr = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(
            xp.bincount(urow, minlength=s.shape[0]))])
        csr = Structure.csr(indptr, ucol, s.shape, validate=False)
        csr._cache["rows"] = as_structure_arrays(urow.astype(csr.indices.dtype, copy=False))
        csr._cache["coalesced"] = _Plan(csr, None, None, True)  # sorted and unique
        if s.layout == "csr":
            return _Plan(csr, None, inverse, False)
        coo = s if same else Structure.coo(csr.rows(), csr.indices, s.shape, validate=False)
        # the coalesced COO's CSR form is `csr` in the same entry order (no permutation), so
        # to_csr, T and the ops that run on CSR reuse it
        coo._cache.setdefault("csr", (csr, None))
        if not same:
            coo._cache["coalesced"] = _Plan(csr, None, None, True)
        return _Plan(csr, coo, inverse, same)

    return s._cached("coalesced", build)


def sparse_transpose(a: SparseTensor) -> SparseTensor:
    """``A^T`` as CSR; the transposed structure and its permutation are cached (``A.T.T``
    gets back A's CSR structure object)."""
    _check("transpose", a)
    t, perm = a.structure.transpose()
    return _permuted(a, t, perm, a.structure.from_transposed_order())


def to_sparse(input: Tensor, layout: str = "csr") -> SparseTensor:
    """The nonzero pattern of a 2-D dense tensor with its values (differentiable: the gradient
    reaches ``input`` at the nonzeros).

    Raises:
        TypeError: ``input`` is not a Tensor. ValueError: not 2-D, or an unknown layout.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"to_sparse: expected a Tensor (got {type(input).__name__})")
    if layout not in ("csr", "coo"):
        raise ValueError(f"to_sparse: expected layout 'csr' or 'coo' (got {layout!r})")
    if input.ndim != 2:
        raise ValueError(f"to_sparse: expected a 2-D Tensor (got shape {input.shape})")
    rows, cols = xp_of(input.array).nonzero(input.array)
    # the values contract of the constructors (no float16, complex, object values)
    values = check_values("to_sparse", getitem(input, (rows, cols)), rows.shape[0],
                          input.device)
    if layout == "coo":
        return SparseTensor(Structure.coo(rows, cols, input.shape, validate=False), values)
    xp = xp_of(rows)
    indptr = xp.concatenate([xp.zeros(1, np.int64),
                             xp.cumsum(xp.bincount(rows, minlength=input.shape[0]))])
    return SparseTensor(Structure.csr(indptr, cols, input.shape, validate=False), values)
