"""GAT attention with its per-head scores computed inside the op (what the static
`fold_attention_scores` pass runs in place of ``einsum`` + ``einsum`` + `GATAttention`).

GATConv computes ``a_src = <h, att_src>`` and ``a_dst = <h, att_dst>`` per node and head, then
the attention aggregation. As separate ops each score is a pass over ``h`` forward and an
(N, H, F) gradient backward, summed with the attention's own ``h`` gradient. Here both scores
come from one pass over ``h``, and backward adds both score terms into the attention's ``h``
gradient in one pass: ``gh += g_src att_src + g_dst att_dst``, with ``d att = sum_n g h``.
Kernels: ``head_scores`` / ``head_scores_backward`` generic (einsum) and numba
(ops/sparse_kernels/numba_gat_scores.py).
"""

from __future__ import annotations

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_operands, check_probability
from sparsegraph.ops.buffers import last_backward
from sparsegraph.ops.fused import GATAttention
from sparsegraph.ops.sparse_products import _contiguous
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, wrap

try:  # registers the numba kernels beside the generic ones
    from sparsegraph.ops.sparse_kernels import numba_gat_scores  # noqa: F401
except ImportError:  # numba missing: the generic kernels still run
    pass

__all__ = ["gat_feature_attention"]


@register("head_scores", "cpu", "cuda")
def _head_scores_generic(h, att_src, att_dst):
    """``(a_src, a_dst)``, each ``(N, H)``: ``<h[n, k], att[k]>`` for h (N, H, F), att (H, F)."""
    xp = xp_of(h)
    return xp.einsum("nhf,hf->nh", h, att_src), xp.einsum("nhf,hf->nh", h, att_dst)


@register("head_scores_backward", "cpu", "cuda")
def _head_scores_backward_generic(h, att_src, att_dst, g_src, g_dst, gh, needs):
    """``(gh + g_src att_src + g_dst att_dst, d att_src, d att_dst)`` (None where ``needs``,
    a (h, att_src, att_dst) triple, says no); ``gh`` may be None (zero) and is updated in
    place otherwise. Shapes: h, gh (N, H, F); att (H, F); g (N, H)."""
    xp = xp_of(h)
    if needs[0]:
        if gh is None:
            gh = xp.zeros(h.shape, dtype=h.dtype)
        gh += g_src[:, :, None] * att_src
        gh += g_dst[:, :, None] * att_dst
    d_src = xp.einsum("nh,nhf->hf", g_src, h) if needs[1] else None
    d_dst = xp.einsum("nh,nhf->hf", g_dst, h) if needs[2] else None
    return (gh if needs[0] else None), d_src, d_dst


class GATFeatureAttention(Function):
    """`GATAttention` whose score terms ``<h, att_src>``, ``<h, att_dst>`` are computed
    inside, from ``h`` (N, H, F) and the (1, H, F) attention vectors."""

    random = True

    @staticmethod
    def forward(ctx, s, h, att_src, att_dst, slope, p, generator, targets=None, entries=None,
                full_nnz=0):
        """``targets``: the rows of ``s`` are these nodes (static row pruning: ``s`` holds their
        ``entries`` of the full structure, which has ``full_nnz``); otherwise every node."""
        hs = _contiguous(h.array)
        a_src, a_dst = dispatch("head_scores", ctx.device)(hs, att_src.array[0],
                                                           att_dst.array[0])
        if targets is not None:
            a_dst = a_dst[targets]
        out = GATAttention.forward(ctx, s, wrap(a_src), wrap(a_dst), h, slope, p, generator,
                                   entries, full_nnz)
        ctx.targets = targets
        ctx.save_for_backward(h, att_src, att_dst)
        return out

    @staticmethod
    def backward(ctx, g):
        h, att_src, att_dst = (t.array for t in ctx.saved_tensors)
        s, needs = ctx.s, ctx.needs_input_grad[1:4]
        t, perm = s.transpose()
        scores = any(needs)  # the scores depend on h and both attention vectors
        g_src, g_dst, gh = dispatch("gat_attention_backward", ctx.device, "csr")(
            s.indptr, s.indices, t.indptr, t.indices, perm, ctx.alpha, ctx.keep, ctx.positive,
            ctx.scale, ctx.slope, _contiguous(g.array), _contiguous(h), scores, scores, needs[0],
            alpha_reusable=last_backward(ctx))
        if ctx.targets is not None and g_dst is not None:  # back onto every node (repeats add)
            full = xp_of(g_dst).zeros((h.shape[0],) + g_dst.shape[1:], dtype=g_dst.dtype)
            xp_of(full).add.at(full, ctx.targets, g_dst)
            g_dst = full
        gh, d_src, d_dst = dispatch("head_scores_backward", ctx.device)(
            h, att_src[0], att_dst[0], g_src, g_dst, gh, needs)
        return (None, gh, None if d_src is None else d_src[None],
                None if d_dst is None else d_dst[None]) + (None,) * 6


def gat_feature_attention(adj: SparseTensor, h: Tensor, att_src: Tensor, att_dst: Tensor,
                          negative_slope: float = 0.2, p: float = 0.0, generator=None) -> Tensor:
    """``gat_attention(adj, <h, att_src>, <h, att_dst>, h, negative_slope, p)`` in one op, for
    a square ``adj`` (the features of every node are both source and target).

    Args:
        adj: ``(N, N)`` SparseTensor (its structure is used, not its values).
        h: ``(N, H, F)`` features per head; att_src, att_dst: ``(1, H, F)``.

    Returns:
        ``(N, H, F)``, as `sparsegraph.ops.fused.gat_attention`.
    """
    if not isinstance(h, Tensor) or h.ndim != 3:
        raise TypeError(f"gat_feature_attention: expected `h` to be an (N, H, F) Tensor (got "
                        f"{getattr(h, 'shape', type(h).__name__)})")
    for name, att in (("att_src", att_src), ("att_dst", att_dst)):
        if not isinstance(att, Tensor) or tuple(att.shape) != (1,) + tuple(h.shape[1:]):
            raise ValueError(f"gat_feature_attention: expected `{name}` of shape "
                             f"(1, {h.shape[1]}, {h.shape[2]}) to match `h` (got "
                             f"{getattr(att, 'shape', type(att).__name__)})")
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"gat_feature_attention: expected `adj` to be a SparseTensor "
                        f"(got {type(adj).__name__})")
    check_operands("gat_feature_attention", "h", h, att_src=att_src, att_dst=att_dst)
    if adj.device != h.device:
        raise ValueError(f"gat_feature_attention: `adj` is on {adj.device} but `h` is on "
                         f"{h.device}; use .to()")
    if tuple(adj.shape[:2]) != (h.shape[0], h.shape[0]):
        raise ValueError(f"gat_feature_attention: expected a square `adj` of shape "
                         f"({h.shape[0]}, {h.shape[0]}) to match `h` (got {adj.shape})")
    p = check_probability("gat_feature_attention", p)
    s = adj.structure if adj.layout == "csr" else adj.to_csr().structure
    return GATFeatureAttention.apply(s, h, att_src, att_dst, float(negative_slope), p,
                                     generator, None, None, 0)
