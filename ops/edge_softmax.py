"""Edge softmax: softmax over each row's stored entries (each target's in-edges), and the fused
attention aggregation ``softmax(scores) @ x`` that never builds an E x F tensor."""

from __future__ import annotations

from sparsegraph.autograd.function import Function
from sparsegraph.kernels import dispatch
from sparsegraph.ops.sparse_products import _contiguous, transposed_values
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor

__all__ = ["sparse_softmax", "sparse_log_softmax", "edge_softmax_spmm", "edge_sum"]


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


class EdgeSum(Function):
    """``src_term[col] + dst_term[row]`` per stored entry; the backward sums each entry's
    gradient into its endpoints as segment sums over the CSR rows (targets) and over the cached
    transposed order (sources) — no unsorted scatter."""

    @staticmethod
    def forward(ctx, s, src_term, dst_term):
        ctx.s, ctx.n_src, ctx.n_dst = s, src_term.shape[0], dst_term.shape[0]
        return src_term.array[s.indices] + dst_term.array[s.rows()]

    @staticmethod
    def backward(ctx, g):
        s, g = ctx.s, _contiguous(g.array)
        segment = dispatch("segment_reduce", ctx.device, "csr")
        g_src = g_dst = None
        if ctx.needs_input_grad[1]:
            t, perm = s.transpose()
            g_src = segment(t.indptr, g[perm], "sum")[0]
        if ctx.needs_input_grad[2]:
            g_dst = segment(s.indptr, g, "sum")[0]
        return None, g_src, g_dst


def edge_sum(adj: SparseTensor, src_term: Tensor, dst_term: Tensor) -> Tensor:
    """Per-edge ``src_term[source] + dst_term[target]`` for adj's stored entries.

    The attention-score primitive (GAT's ``a_src · Wx_j + a_dst · Wx_i``): ``src_term``
    ``(M, ...)`` per source node, ``dst_term`` ``(N, ...)`` per target node, result
    ``(nnz, ...)`` in adj's CSR order.
    """
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"edge_sum: expected a SparseTensor (got {type(adj).__name__})")
    adj = adj if adj.layout == "csr" else adj.to_csr()
    if src_term.shape[0] != adj.shape[1] or dst_term.shape[0] != adj.shape[0]:
        raise ValueError(f"edge_sum: expected `src_term` with {adj.shape[1]} rows and "
                         f"`dst_term` with {adj.shape[0]} rows for `adj` of shape "
                         f"{adj.shape[:2]} (got {src_term.shape[0]} and {dst_term.shape[0]})")
    if src_term.shape[1:] != dst_term.shape[1:] or src_term.dtype != dst_term.dtype:
        raise ValueError(f"edge_sum: expected terms of one trailing shape and dtype (got "
                         f"{src_term.shape}/{src_term.dtype} and {dst_term.shape}/"
                         f"{dst_term.dtype})")
    return EdgeSum.apply(adj.structure, src_term, dst_term)


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
