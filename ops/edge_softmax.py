"""Edge softmax: softmax over each row's stored entries (each target's in-edges), and the fused
attention aggregation ``softmax(scores) @ x`` that never builds an E x F tensor."""

from __future__ import annotations

from sparsegraph.autograd.function import Function
from sparsegraph.kernels import dispatch
from sparsegraph.ops._util import check_operands, check_tensor
from sparsegraph.ops.sparse_conversion import in_own_order
from sparsegraph.ops.sparse_products import _contiguous
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor

__all__ = ["sparse_softmax", "sparse_log_softmax", "edge_softmax_spmm", "edge_sum"]


class RowSoftmax(Function):
    """(Log-)softmax of the values within each CSR row; per head for ``(nnz, H)`` values."""

    @staticmethod
    def forward(ctx, a, log):
        op = "csr_log_softmax" if log else "csr_softmax"
        ctx.indptr, ctx.op = a.structure.indptr, op
        return ctx.save_output(dispatch(op, ctx.device, "csr")(ctx.indptr,
                                                               _contiguous(a.values.array)))

    @staticmethod
    def backward(ctx, g):
        return dispatch(ctx.op + "_backward", ctx.device, "csr")(
            ctx.indptr, ctx.saved_output, _contiguous(g.array)), None


class SoftmaxSpMM(Function):
    """``out = softmax_rows(scores) @ x`` in one pass; backward: dx = alpha^T @ g,
    d_alpha = SDDMM(g, x), d_scores = softmax backward — all at the stored entries, so no
    E x F array exists in either direction (only E x H ones)."""

    @staticmethod
    def forward(ctx, a, x):
        s = a.structure
        out, alpha = dispatch("csr_softmax_spmm", ctx.device, "csr")(
            s.indptr, s.indices, _contiguous(a.values.array), _contiguous(x.array))
        ctx.save_for_backward(x)
        ctx.s, ctx.alpha = s, alpha
        return out

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s, g = ctx.s, _contiguous(g.array)
        ga = gx = None
        if ctx.needs_input_grad[0]:
            d_alpha = dispatch("sddmm", ctx.device, "csr")(s.indptr, s.indices, g,
                                                           _contiguous(x.array))
            ga = dispatch("csr_softmax_backward", ctx.device, "csr")(s.indptr, ctx.alpha,
                                                                     d_alpha)
        if ctx.needs_input_grad[1]:
            # alpha is new on every call: a plain gather, not the cached transposed values
            t, perm = s.transpose()
            gx = dispatch("spmm", ctx.device, "csr")(t.indptr, t.indices, ctx.alpha[perm], g,
                                                     t.shape[0])
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
    ``(nnz, ...)`` in adj's own entry order (lined up with ``adj.values``, as `sddmm` and
    `sparse_softmax`), so ``adj.with_values(edge_sum(adj, ...))`` scores every edge. A CSR
    ``adj`` is the fast path; a COO one is computed in CSR order and permuted back.

    Raises:
        TypeError: non-sparse ``adj`` or non-Tensor terms.
        ValueError: 0-d terms, row counts that do not match ``adj``, devices, or terms of
            different trailing shapes or dtypes.
    """
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"edge_sum: expected a SparseTensor (got {type(adj).__name__})")
    check_tensor("edge_sum", "src_term", src_term)
    check_tensor("edge_sum", "dst_term", dst_term)
    for name, t in (("src_term", src_term), ("dst_term", dst_term)):
        if t.ndim < 1:
            raise ValueError(f"edge_sum: expected `{name}` with at least 1 dim, one row per "
                             f"node (got a 0-d tensor)")
    csr = adj if adj.layout == "csr" else adj.to_csr()
    if src_term.shape[0] != adj.shape[1] or dst_term.shape[0] != adj.shape[0]:
        raise ValueError(f"edge_sum: expected `src_term` with {adj.shape[1]} rows and "
                         f"`dst_term` with {adj.shape[0]} rows for `adj` of shape "
                         f"{adj.shape[:2]} (got {src_term.shape[0]} and {dst_term.shape[0]})")
    for name, t in (("src_term", src_term), ("dst_term", dst_term)):
        if t.device != adj.device:
            raise ValueError(f"edge_sum: `adj` is on {adj.device} but `{name}` is on {t.device}; "
                             "use .to()")
    if src_term.shape[1:] != dst_term.shape[1:] or src_term.dtype != dst_term.dtype:
        raise ValueError(f"edge_sum: expected terms of one trailing shape and dtype (got "
                         f"{src_term.shape}/{src_term.dtype} and {dst_term.shape}/"
                         f"{dst_term.dtype})")
    out = EdgeSum.apply(csr.structure, src_term, dst_term)
    return out if csr is adj else in_own_order(adj, out).values


def _check(op, a):
    if not isinstance(a, SparseTensor):
        raise TypeError(f"{op}: expected a SparseTensor (got {type(a).__name__})")
    if a.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating values (got {a.dtype})")
    if a.values.ndim > 2:
        raise NotImplementedError(f"{op}: expected values (nnz,) or (nnz, H) (got shape "
                                  f"{a.values.shape})")
    return a if a.layout == "csr" else a.to_csr()


def _row_softmax(op: str, a: SparseTensor, log: bool) -> SparseTensor:
    return in_own_order(a, RowSoftmax.apply(_check(op, a), log))


def sparse_softmax(a: SparseTensor) -> SparseTensor:
    """Softmax over each row's stored entries (each target's in-edges), per head for hybrid
    ``(nnz, H)`` values; implicit zeros are absent (not ``exp(0)``) and empty rows stay empty.

    Args:
        a: sparse ``(N, M)`` scores.

    Returns:
        A SparseTensor with a's structure (layout and entry order) whose nonempty rows sum
        to 1.

    Raises:
        TypeError: non-sparse ``a`` or non-floating values.

    Example:
        >>> a = sg.sparse_coo([[0, 0, 1], [0, 1, 1]], [0.0, 0.0, 5.0], (2, 2))
        >>> sparse_softmax(a).values.tolist()
        [0.5, 0.5, 1.0]
    """
    return _row_softmax("sparse_softmax", a, False)


def sparse_log_softmax(a: SparseTensor) -> SparseTensor:
    """Log of `sparse_softmax`, computed stably (``v - max - log(sum(exp(v - max)))``)."""
    return _row_softmax("sparse_log_softmax", a, True)


def edge_softmax_spmm(scores: SparseTensor, x: Tensor) -> Tensor:
    """``sparse_softmax(scores) @ x`` fused (attention aggregation), memory O(E·H + N·H·F).

    Args:
        scores: sparse ``(N, M)`` with values ``(nnz,)`` or ``(nnz, H)``.
        x: ``(M, F)`` for ``(nnz,)`` scores, ``(M, H, F)`` for ``(nnz, H)``; scores' dtype.

    Returns:
        ``(N, F)`` or ``(N, H, F)``; rows without stored entries are 0.

    Raises:
        TypeError: non-sparse ``scores``, non-Tensor ``x``, mixed dtypes.
        ValueError: shape, head or device mismatch.
    """
    scores = _check("edge_softmax_spmm", scores)
    if not isinstance(x, Tensor):
        raise TypeError(f"edge_softmax_spmm: expected `x` to be a Tensor (got "
                        f"{type(x).__name__})")
    want = 3 if scores.values.ndim == 2 else 2
    if x.ndim != want:
        raise ValueError(f"edge_softmax_spmm: expected `x` with {want} dims for values of shape "
                         f"{scores.values.shape} (got shape {x.shape})")
    if x.shape[0] != scores.shape[1]:
        raise ValueError(f"edge_softmax_spmm: expected `x` with {scores.shape[1]} rows to match "
                         f"`scores` of shape {scores.shape[:2]} (got {x.shape[0]})")
    if want == 3 and x.shape[1] != scores.values.shape[1]:
        raise ValueError(f"edge_softmax_spmm: expected `x` with {scores.values.shape[1]} heads "
                         f"to match the values of shape {scores.values.shape} (got {x.shape})")
    check_operands("edge_softmax_spmm", "scores", scores.values, x=x)
    return SoftmaxSpMM.apply(scores, x)
