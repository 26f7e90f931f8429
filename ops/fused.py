"""Fused ops the static-graph passes put in place of chains of eager ops.

``spmm_bias_act``: ``dropout(relu(A @ X + b))`` in one pass over the output — the product, the
bias, the activation and the dropout scaling happen while each output row is still in cache, in
one output buffer; and its backward needs only the output (``y > 0`` marks where the gradient
flows), where the eager chain keeps the product, the pre-activation and the mask.
Kernels: ``spmm_bias_act`` generic (the spmm kernel then in-place epilogue) and numba (the
epilogue fused into the row loop, ops/sparse_kernels/numba_fused.py).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_operands, check_probability, check_tensor
from sparsegraph.ops.buffers import last_backward, reusable_grad, row_slices, unshared
from sparsegraph.ops.counter_rng import keep_mask, keep_threshold
from sparsegraph.ops.sparse_products import _contiguous, spmm_grads
from sparsegraph.ops.stochastic import draw_key, dropout_mask
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor

try:  # registers the numba kernel beside the generic one
    from sparsegraph.ops.sparse_kernels import numba_fused  # noqa: F401
except ImportError:  # numba missing: the generic kernel still runs
    pass

__all__ = ["dropout_matmul", "gat_attention", "spmm_bias_act"]


def epilogue(out, bias, relu: bool, keep, scale: float):
    """In place: ``out = dropout(relu(out + bias))`` with the eager ops' rounding."""
    xp = xp_of(out)
    if bias is not None:
        out += bias
    if relu:
        xp.maximum(out, 0, out=out)
    if keep is not None:
        out *= keep
        out *= out.dtype.type(scale)
    return out


@register("spmm_bias_act", "cpu", "cuda", name="generic", fmt="csr")
def _spmm_bias_act_generic(indptr, indices, values, x, n_rows, bias, relu, key, threshold, scale):
    """(N, F) = dropout(relu(A @ x + bias)); dropout keeps the elements of counter stream
    ``key`` at or above ``threshold`` (ops/counter_rng.py), none when ``key`` is None."""
    xp = xp_of(x)
    out = dispatch("spmm", "cpu" if xp is np else "cuda", "csr")(
        indptr, indices, values, x, n_rows)
    keep = None if key is None else keep_mask(key, threshold, out.shape, xp)
    return epilogue(out, bias, relu, keep, scale)


def _relu_grad(g, y, out=None):
    """``g`` where ``y > 0``, else 0 (selected, as eager ReLU's backward: an inf gradient
    stays out), into ``out`` (new when None), blockwise: no (N, F) bool temporary."""
    xp = xp_of(g)
    out = xp.empty_like(g) if out is None else out
    zero = g.dtype.type(0)
    for rows in row_slices(g):
        out[rows] = xp.where(y[rows] > 0, g[rows], zero)
    return out


class SpMMBiasAct(Function):
    """``dropout(relu(a @ x + bias), p)``; any of bias / relu / dropout may be off."""

    random = True  # with p > 0 it draws a dropout mask

    @staticmethod
    def forward(ctx, a, x, bias, relu, p, generator):
        s, xa = a.structure, _contiguous(x.array)
        # the mask is drawn inside the kernel from one key (no (N, F) bool array) and, without
        # relu, recomputed from it in backward; with relu, y > 0 already says where it kept
        key = draw_key(generator) if p > 0.0 else None
        threshold, scale = keep_threshold(p), 1.0 / (1.0 - p)
        out = dispatch("spmm_bias_act", ctx.device, "csr")(
            s.indptr, s.indices, a.values.array, xa, s.shape[0],
            None if bias is None else bias.array, relu, key, threshold, scale)
        ctx.s, ctx.relu, ctx.scale, ctx.key, ctx.threshold = s, relu, scale, key, threshold
        # x is saved, not kept: the values' gradient reads it, and an in-place change to it
        # before backward then raises
        ctx.save_for_backward(a.values, x if ctx.needs_input_grad[0] else None)
        return ctx.save_output(out) if relu else out

    @staticmethod
    def backward(ctx, g):
        values, x = ctx.saved_tensors
        g = g.array
        if ctx.relu:  # mask (a product, as eager ReLU's backward), then scale in place
            y = ctx.saved_output
            dead_y = getattr(ctx, "output_reusable", False)  # the static runtime's word
            if reusable_grad(ctx, g) is not None:
                gz = _relu_grad(g, y, out=g)  # nobody reads g again: mask it where it is
                if dead_y:
                    ctx.release_output()  # nor y: its memory serves the products below
                    del y
            elif dead_y and y.dtype == g.dtype and unshared(y):
                gz = _relu_grad(g, y, out=y)  # the gradient takes the dead output's buffer
            else:
                gz = _relu_grad(g, y)
            if ctx.scale != 1.0:
                gz *= g.dtype.type(ctx.scale)
        elif ctx.key is not None:
            gz = dispatch("dropout", ctx.device)(g, ctx.key, ctx.threshold, ctx.scale)
        else:
            gz = g
        gz = _contiguous(gz)
        need_values, need_x, need_bias = ctx.needs_input_grad[:3]
        ga, gx = spmm_grads(ctx.device, ctx.s, values, gz,
                            _contiguous(x.array) if need_values else None, need_values, need_x)
        gb = gz.sum(axis=tuple(range(gz.ndim - 1))) if need_bias else None
        return ga, gx, gb, None, None, None


def spmm_bias_act(a: SparseTensor, x: Tensor, bias: Tensor | None = None, relu: bool = False,
                  p: float = 0.0, generator=None) -> Tensor:
    """``dropout(relu(a @ x + bias), p)`` fused (what the static spmm + bias + activation
    fusion runs).

    Args:
        a: ``(N, M)`` CSR SparseTensor with ``(E,)`` values.
        x: ``(M, F)`` dense features.
        bias: ``(F,)`` or None.
        relu: apply ReLU after the bias.
        p: dropout probability after the activation (0: none), drawn from ``generator``.

    Returns:
        ``(N, F)``.
    """
    op = "spmm_bias_act"
    if not isinstance(a, SparseTensor) or a.values.ndim != 1:
        what = (f"values of shape {a.values.shape}" if isinstance(a, SparseTensor)
                else type(a).__name__)
        raise TypeError(f"{op}: expected `a` to be a SparseTensor with (E,) values (got {what})")
    check_operands(op, "a", a.values, x=x, bias=bias)
    if x.ndim != 2 or x.shape[0] != a.shape[1]:
        raise ValueError(f"{op}: expected `x` of shape ({a.shape[1]}, F) to match `a` of shape "
                         f"{a.shape} (got {x.shape})")
    if bias is not None and tuple(bias.shape) != (x.shape[1],):
        raise ValueError(f"{op}: expected `bias` of shape ({x.shape[1]},) "
                         f"(got {tuple(bias.shape)})")
    p = check_probability(op, p)
    return SpMMBiasAct.apply(a.to_csr(), x, bias, bool(relu), p, generator)


# ---- dropout then a linear map, the dropped-out input recomputed in backward ---------------
class DropoutMatMul(Function):
    """``dropout(x, p) @ w`` that keeps ``x`` and the mask's key instead of the dropped-out
    ``x``: backward draws the same mask again. Where ``x`` is held anyway (the input features),
    this saves an (N, F) array for the whole step at the cost of one more dropout pass."""

    random = True

    @staticmethod
    def forward(ctx, x, w, p, generator):
        ctx.key, ctx.threshold, ctx.scale = draw_key(generator), keep_threshold(p), 1 / (1 - p)
        ctx.save_for_backward(x, w)
        return dispatch("matmul", ctx.device)(_dropped(ctx, x.array), w.array)

    @staticmethod
    def backward(ctx, g):
        x, w = (t.array for t in ctx.saved_tensors)
        g, shapes = g.array, (x.shape, w.shape)
        gx = gw = None
        matmul_backward = dispatch("matmul_backward", ctx.device)
        if ctx.needs_input_grad[1]:  # one (N, F) array at a time: the dropped-out x, then dx
            gw = matmul_backward(_dropped(ctx, x), w, g, (False, True), shapes)[1]
        if ctx.needs_input_grad[0]:
            gd = matmul_backward(x, w, g, (True, False), shapes)[0]
            gx = _dropped(ctx, gd, out=gd)  # dropout's backward: the same mask, in place
        return gx, gw, None, None


def _dropped(ctx, a, out=None):
    return dispatch("dropout", ctx.device)(a, ctx.key, ctx.threshold, ctx.scale, out=out)


def dropout_matmul(x: Tensor, w: Tensor, p: float, generator=None) -> Tensor:
    """``dropout(x, p) @ w`` with the dropped-out ``x`` recomputed in backward, not stored
    (what the static `recompute_dropout` pass runs); the same numbers as the two ops.

    Args:
        x: ``(N, F)``; w: ``(F, C)``; p: dropout probability in [0, 1), drawn from
            ``generator``.

    Returns:
        ``(N, C)``.
    """
    if not isinstance(x, Tensor) or not isinstance(w, Tensor) or x.ndim != 2 or w.ndim != 2:
        raise TypeError("dropout_matmul: expected 2-D Tensors `x` and `w` (got "
                        f"{getattr(x, 'shape', type(x).__name__)} and "
                        f"{getattr(w, 'shape', type(w).__name__)})")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"dropout_matmul: expected `w` with {x.shape[1]} rows to match `x` of "
                         f"shape {tuple(x.shape)} (got {w.shape[0]})")
    check_operands("dropout_matmul", "x", x, w=w)
    return DropoutMatMul.apply(x, w, check_probability("dropout_matmul", p), generator)


# ---- GAT attention: scores + leaky_relu + edge softmax + dropout + aggregation in one op -------
@register("gat_attention", "cpu", "cuda", name="generic", fmt="csr")
def _gat_attention_generic(indptr, indices, rows, a_src, a_dst, h, slope, keep, scale):
    """``out[i] = sum_e alpha_d[e] * h[col(e)]`` per head, with ``alpha`` the edge softmax of
    ``leaky_relu(a_src[col] + a_dst[row], slope)`` over each row and ``alpha_d`` its dropout.

    Args:
        indptr, indices, rows: CSR structure (E entries) and each entry's row.
        a_src: (M, H); a_dst: (N, H); h: (M, H, F); keep: (E, H) bool or None.

    Returns:
        ``(out (N, H, F), alpha (E, H), positive (E, H) bool)``: alpha before dropout and where
        the raw score was > 0 (what backward needs: leaky_relu's slope applies elsewhere).
    """
    xp = xp_of(h)
    device = "cpu" if xp is np else "cuda"
    score = a_src[indices] + a_dst[rows]
    positive = score > 0
    score = xp.where(positive, score, score * score.dtype.type(slope))
    alpha = dispatch("csr_softmax", device, "csr")(indptr, score)
    weights = alpha if keep is None else (alpha * keep) * alpha.dtype.type(scale)
    out = dispatch("spmm", device, "csr")(indptr, indices, weights, h, a_dst.shape[0])
    return out, alpha, positive


@register("gat_attention_backward", "cpu", "cuda", name="generic", fmt="csr")
def _gat_attention_backward_generic(s_indptr, s_indices, t_indptr, t_indices, perm, alpha, keep,
                                    positive, scale, slope, g, h, need_scores, need_src, need_h,
                                    alpha_reusable=False):
    """Gradients of `gat_attention` for ``a_src`` (M, H), ``a_dst`` (N, H) and ``h`` (M, H, F)
    (None where not needed) from ``g`` (N, H, F), through the spmm / sddmm / softmax kernels.

    ``t_indptr, t_indices, perm``: the transposed structure and its entry permutation.
    ``alpha_reusable``: nothing reads alpha afterwards, a kernel may overwrite it (this one
    does not).
    """
    # NOTE: E x H temporaries are freed (or reused in place) as soon as they are spent
    xp = xp_of(g)
    device = "cpu" if xp is np else "cuda"
    dtype = alpha.dtype.type
    g_src = g_dst = gh = None
    if need_h:  # dropped-out alpha, gathered into transposed order
        weights = alpha[perm]
        if keep is not None:
            weights *= keep[perm]
            weights *= dtype(scale)
        gh = dispatch("spmm", device, "csr")(t_indptr, t_indices, weights, g, h.shape[0])
        del weights
    if need_scores:
        d = dispatch("sddmm", device, "csr")(s_indptr, s_indices, g, h)
        if keep is not None:  # dropout's backward, in place: (d * keep) * scale
            d *= keep
            d *= dtype(scale)
        d = dispatch("csr_softmax_backward", device, "csr")(s_indptr, alpha, d)
        d[~positive] *= dtype(slope)  # leaky_relu's backward
        segment = dispatch("segment_reduce", device, "csr")
        g_dst = segment(s_indptr, d, "sum")[0]
        if need_src:
            g_src = segment(t_indptr, d[perm], "sum")[0]
    return g_src, g_dst, gh


class GATAttention(Function):
    """GAT's attention aggregation fused: only ``alpha`` (E, H) and the dropout mask are kept
    for backward, where the eager chain keeps the scores, the activated scores, alpha and the
    dropped-out alpha."""

    random = True

    @staticmethod
    def forward(ctx, s, a_src, a_dst, h, slope, p, generator, entries=None, full_nnz=0):
        """``entries`` (with ``full_nnz``): ``s`` holds these entries of a structure with
        ``full_nnz`` (static row pruning); the dropout mask is that structure's, at them."""
        keep = None
        if p > 0.0:
            n_mask = s.nnz if entries is None else full_nnz
            keep = dropout_mask((n_mask, a_src.shape[1]), p, generator, h.device)
            keep = keep if entries is None else keep[entries]
        scale = 1.0 / (1.0 - p)
        out, alpha, positive = dispatch("gat_attention", ctx.device, "csr")(
            s.indptr, s.indices, s.rows(), _contiguous(a_src.array), _contiguous(a_dst.array),
            _contiguous(h.array), slope, keep, scale)
        ctx.s, ctx.slope, ctx.keep, ctx.scale = s, slope, keep, scale
        ctx.alpha, ctx.positive = alpha, positive
        ctx.save_for_backward(h)
        return out

    @staticmethod
    def backward(ctx, g):
        (h,) = ctx.saved_tensors
        s, needs = ctx.s, ctx.needs_input_grad
        t, perm = s.transpose()
        g_src, g_dst, gh = dispatch("gat_attention_backward", ctx.device, "csr")(
            s.indptr, s.indices, t.indptr, t.indices, perm, ctx.alpha, ctx.keep, ctx.positive,
            ctx.scale, ctx.slope, _contiguous(g.array), _contiguous(h.array),
            needs[1] or needs[2], needs[1], needs[3], alpha_reusable=last_backward(ctx))
        return (None, g_src if needs[1] else None, g_dst if needs[2] else None, gh) + (None,) * 5


def gat_attention(adj: SparseTensor, a_src: Tensor, a_dst: Tensor, h: Tensor,
                  negative_slope: float = 0.2, p: float = 0.0, generator=None) -> Tensor:
    """GAT's attention aggregation in one op (what the static attention fusion runs):
    ``alpha = edge_softmax(leaky_relu(a_src[col] + a_dst[row]))``, dropout ``p`` on alpha, then
    ``out[i] = sum_j alpha_ij h[j]`` per head. Memory O(E x H + N x H x F), never E x H x F.

    Args:
        adj: ``(N, M)`` SparseTensor (its structure is used, not its values).
        a_src: ``(M, H)`` per-source score terms; a_dst: ``(N, H)`` per-target terms.
        h: ``(M, H, F)`` source features per head.

    Returns:
        ``(N, H, F)``.
    """
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"gat_attention: expected `adj` to be a SparseTensor "
                        f"(got {type(adj).__name__})")
    check_tensor("gat_attention", "h", h)
    check_operands("gat_attention", "h", h, a_src=a_src, a_dst=a_dst)
    if adj.device != h.device:
        raise ValueError(f"gat_attention: `adj` is on {adj.device} but `h` is on {h.device}; "
                         "use .to()")
    n, m = adj.shape[:2]
    if h.ndim != 3 or h.shape[0] != m or tuple(a_src.shape) != (m, h.shape[1]) or tuple(
            a_dst.shape) != (n, h.shape[1]):
        raise ValueError(f"gat_attention: expected `h` (M, H, F), `a_src` (M, H) and `a_dst` "
                         f"(N, H) for `adj` of shape {(n, m)} (got {tuple(h.shape)}, "
                         f"{tuple(a_src.shape)}, {tuple(a_dst.shape)})")
    p = check_probability("gat_attention", p)
    s = adj.structure if adj.layout == "csr" else adj.to_csr().structure
    return GATAttention.apply(s, a_src, a_dst, h, float(negative_slope), p, generator,
                              None, 0)
