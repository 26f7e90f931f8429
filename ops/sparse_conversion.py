"""Conversions of sparse tensors, all differentiable through the values: to_dense, to_csr,
to_coo, coalesce, transpose, and dense -> sparse."""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops.index import getitem
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor, wrap

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


def _permuted(a: SparseTensor, structure: Structure, perm) -> SparseTensor:
    values = a.values if perm is None else getitem(a.values, wrap(perm))
    return SparseTensor(structure, values)


def sparse_to_dense(a: SparseTensor) -> Tensor:
    """The dense ``(N, M, *dense_dims)`` tensor (differentiable w.r.t. the values)."""
    if not isinstance(a, SparseTensor):
        raise TypeError(f"to_dense: expected a SparseTensor (got {type(a).__name__})")
    return ToDense.apply(a)


def sparse_to_csr(a: SparseTensor) -> SparseTensor:
    """CSR sorted by (row, col); the value permutation is cached on the structure."""
    if a.layout == "csr":
        return a
    csr, perm = a.structure.to_csr()
    return _permuted(a, csr, perm)


def sparse_to_coo(a: SparseTensor) -> SparseTensor:
    """COO with the same entry order (no permutation needed)."""
    if a.layout == "coo":
        return a
    return SparseTensor(a.structure.to_coo(), a.values)


def coalesce(a: SparseTensor) -> SparseTensor:
    """Sum duplicate entries; the result is CSR with sorted, unique (row, col) entries."""
    from sparsegraph.ops.gather_scatter import scatter
    from sparsegraph.ops.sparse_kernels.structure import coalesce as coalesce_kernel

    s = a.structure

    def build():
        urow, ucol, inverse = coalesce_kernel(s.rows(), s.cols(), s.shape[0], s.shape[1])
        xp = xp_of(urow)
        indptr = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(
            xp.bincount(urow, minlength=s.shape[0]))])
        return Structure.csr(indptr, ucol, s.shape, validate=False), inverse

    out_s, inverse = s._cached("coalesced", build)
    if out_s.nnz == s.nnz and s.layout == "csr":
        return a  # already unique (and CSR rows are grouped)
    return SparseTensor(out_s, scatter(a.values, inverse, out_s.nnz, "sum"))


def sparse_transpose(a: SparseTensor) -> SparseTensor:
    """``A^T`` as CSR; the transposed structure and its permutation are cached."""
    t, perm = a.structure.transpose()
    return _permuted(a, t, perm)


def to_sparse(input: Tensor, layout: str = "csr") -> SparseTensor:
    """The non-zero pattern of a 2-D dense tensor with its values (differentiable)."""
    if layout not in ("csr", "coo"):
        raise ValueError(f"to_sparse: expected layout 'csr' or 'coo' (got {layout!r})")
    if not isinstance(input, Tensor) or input.ndim != 2:
        raise ValueError(f"to_sparse: expected a 2-D Tensor (got shape "
                         f"{getattr(input, 'shape', None)})")
    rows, cols = xp_of(input.array).nonzero(input.array)
    values = getitem(input, (rows, cols))
    if layout == "coo":
        return SparseTensor(Structure.coo(rows, cols, input.shape, validate=False), values)
    xp = xp_of(rows)
    indptr = xp.concatenate([xp.zeros(1, np.int64),
                             xp.cumsum(xp.bincount(rows, minlength=input.shape[0]))])
    return SparseTensor(Structure.csr(indptr, cols, input.shape, validate=False), values)
