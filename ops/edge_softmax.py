"""Edge softmax: softmax over each row's stored entries (each target's in-edges), and the fused
attention aggregation ``softmax(scores) @ x`` that never builds an E x F tensor."""

from __future__ import annotations

from sparsegraph.autograd.function import Function
from sparsegraph.kernels import dispatch
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor
from sparsegraph.ops.sparse_products import _contiguous, transposed_values

__all__ = ["sparse_softmax", "sparse_log_softmax", "edge_softmax_spmm"]


class RowSoftmax(Function):
    """(Log-)softmax of the values within each CSR row; per head for ``(nnz, H)`` values."""

    @staticmethod
    def forward(ctx, a, log):
        op = "csr_log_softmax" if log else "csr_softmax"
        ctx.indptr, ctx.op = a.structure.indptr, op
        ctx.y = dispatch(op, ctx.device, "csr")(ctx.indptr, _contiguous(a.values.array))
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return dispatch(ctx.op + "_backward", ctx.device, "csr")(
            ctx.indptr, ctx.y, _contiguous(g.array)), None


class SoftmaxSpMM(Function):
    """``out = softmax_rows(scores) @ x`` in one pass; backward: dx = alpha^T @ g,
    d_alpha = SDDMM(g, x), d_scores = softmax backward — all at the stored entries."""

    @staticmethod
    def forward(ctx, a, x):
        s, xa = a.structure, _contiguous(x.array)
        out, alpha = dispatch("csr_softmax_spmm", ctx.device, "csr")(
            s.indptr, s.indices, _contiguous(a.values.array), xa)
        ctx.s, ctx.alpha, ctx.x = s, alpha, xa
        return out

    @staticmethod
    def backward(ctx, g):
        s, g = ctx.s, _contiguous(g.array)
        ga = gx = None
        if ctx.needs_input_grad[0]:
            d_alpha = dispatch("sddmm", ctx.device, "csr")(s.indptr, s.indices, g, ctx.x)
            ga = dispatch("csr_softmax_backward", ctx.device, "csr")(s.indptr, ctx.alpha,
                                                                     d_alpha)
        if ctx.needs_input_grad[1]:
            t, tv = transposed_values(s, ctx.alpha)
            gx = dispatch("spmm", ctx.device, "csr")(t.indptr, t.indices, tv, g, t.shape[0])
        return ga, gx


def _check(op, a):
    if not isinstance(a, SparseTensor):
        raise TypeError(f"{op}: expected a SparseTensor (got {type(a).__name__})")
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating values (got {a.dtype})")
    if a.values.ndim > 2:
        raise NotImplementedError(f"{op}: values with more than one dense dim")
    return a if a.layout == "csr" else a.to_csr()


def sparse_softmax(a: SparseTensor) -> SparseTensor:
    """Softmax over each row's stored entries; empty rows stay empty."""
    a = _check("sparse_softmax", a)
    return a.with_values(RowSoftmax.apply(a, False))


def sparse_log_softmax(a: SparseTensor) -> SparseTensor:
    a = _check("sparse_log_softmax", a)
    return a.with_values(RowSoftmax.apply(a, True))


def edge_softmax_spmm(scores: SparseTensor, x: Tensor) -> Tensor:
    """``sparse_softmax(scores) @ x`` fused: ``(nnz,)`` scores with ``x`` ``(M, F)``, or
    ``(nnz, H)`` with ``(M, H, F)``; memory O(E·H + N·H·F)."""
    scores = _check("edge_softmax_spmm", scores)
    if not isinstance(x, Tensor):
        raise TypeError(f"edge_softmax_spmm: expected `x` to be a Tensor (got "
                        f"{type(x).__name__})")
    if x.shape[0] != scores.shape[1]:
        raise ValueError(f"edge_softmax_spmm: expected `x` with {scores.shape[1]} rows to match "
                         f"`scores` of shape {scores.shape[:2]} (got {x.shape[0]})")
    want = 3 if scores.values.ndim == 2 else 2
    if x.ndim != want or (want == 3 and x.shape[1] != scores.values.shape[1]):
        raise ValueError(f"edge_softmax_spmm: expected `x` with {want} dims (and matching "
                         f"heads) for values of shape {scores.values.shape} (got {x.shape})")
    if x.dtype != scores.dtype:
        raise TypeError(f"edge_softmax_spmm: expected `x` of dtype {scores.dtype} (got "
                        f"{x.dtype})")
    return SoftmaxSpMM.apply(scores, x)
