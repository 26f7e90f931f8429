r"""Dense learned pooling, PyG's ``dense_diff_pool`` (DiffPool) and ``dense_mincut_pool``
(MinCutPool): a soft assignment ``S = softmax(s)`` of ``N`` nodes to ``C`` clusters coarsens a
padded batch ``(x, adj)`` to ``(S^T X, S^T A S)`` plus two auxiliary losses."""

from __future__ import annotations

import math
from numbers import Real

import sparsegraph.ops as ops
from sparsegraph.creation import eye
from sparsegraph.gnn.dense_conv import as_batched, dense_adjacency, dense_mask
from sparsegraph.tensor import Tensor

__all__ = ["dense_diff_pool", "dense_mincut_pool"]

EPS = 1e-15  # PyG's


def _pool_inputs(op: str, x, adj, s, mask):
    """``x``, ``adj``, ``s`` promoted to 3 dims and checked against each other, and the
    ``(B, N, 1)`` mask of ``x`` (or None). As PyG's matmuls, the batch sizes broadcast: each is
    1 or the largest (a 2-D ``s`` is shared by a batch of ``x``, an ``adj`` by a batch of one)."""
    x = as_batched(op, "x", x, "F")
    adj = dense_adjacency(op, adj, x)
    s = as_batched(op, "s", s, "C")
    b, n = x.shape[:2]
    if s.shape[1] != n:
        raise ValueError(f"{op}: expected `s` of shape ({s.shape[0]}, {n}, C), one row per node "
                         f"of `x` (got shape {tuple(s.shape)})")
    b_xa = max(b, adj.shape[0])
    if s.shape[0] not in (1, b_xa):
        raise ValueError(f"{op}: expected `s` with batch size 1 or {b_xa}, that of "
                         f"{'`x`' if b > 1 else '`adj`'} (got shape {tuple(s.shape)})")
    if s.dtype != x.dtype:
        raise TypeError(f"{op}: expected `s` of dtype {x.dtype} like `x` (got {s.dtype}); "
                        f"convert with s.to({str(x.dtype)!r})")
    return x, adj, s, dense_mask(op, mask, b, n, x)  # PyG's mask.view(B_x, N, 1)


def _temperature(op: str, temp, like: Tensor):
    """``temp`` (a positive number or a one-element Tensor, as ``s / temp`` takes it) and its
    value; a Tensor comes on ``like``'s device, in its dtype (the gradient reaches it)."""
    if isinstance(temp, Tensor):
        if temp.dtype.kind not in "fiu":
            raise TypeError(f"{op}: expected `temp` to be a positive number or a real Tensor "
                            f"(got a Tensor of dtype {temp.dtype})")
        if temp.numel() != 1 or temp.ndim > 3:
            raise ValueError(f"{op}: expected `temp` to be a positive number or a one-element "
                             f"Tensor (got a Tensor of shape {tuple(temp.shape)})")
        value, temp = float(temp.item()), temp.to(like.device, like.dtype)
    elif isinstance(temp, bool) or not isinstance(temp, Real):
        raise TypeError(f"{op}: expected `temp` to be a positive number (got "
                        f"{type(temp).__name__} {temp!r})")
    else:
        value = temp
    if not 0 < value < math.inf:
        raise ValueError(f"{op}: expected `temp` to be a positive number (got {temp!r})")
    return temp, value


def _coarsen(x: Tensor, adj: Tensor, s: Tensor, mask):
    """``(S, S^T X, S^T A S)`` with the padding rows of ``x`` and ``S`` zeroed."""
    if mask is not None:
        x, s = x * mask, s * mask
    st = s.transpose(1, 2)
    return s, ops.matmul(st, x), ops.matmul(ops.matmul(st, adj), s)


def dense_diff_pool(x, adj, s, mask=None, normalize: bool = True):
    r"""The differentiable pooling of Ying et al., "Hierarchical Graph Representation Learning
    with Differentiable Pooling" (NeurIPS 2018), PyG's ``dense_diff_pool``:
    ``X' = softmax(S)^T X``, ``A' = softmax(S)^T A softmax(S)``, the link prediction loss
    ``||A - softmax(S) softmax(S)^T||_F`` (over the whole batch, divided by ``adj.numel()``
    with ``normalize``) and the entropy regularisation ``mean_{b,n} H(softmax(S)_{bn})``.

    Args:
        x: ``(B, N, F)`` node features (``(N, F)``: a batch of one).
        adj: ``(B, N, N)`` adjacency.
        s: ``(B, N, C)`` assignment scores of ``C`` clusters; the softmax over ``C`` is
            applied here. As PyG's matmuls, the batch sizes of ``x``, ``adj`` and ``s``
            broadcast (each 1 or ``B``; a 2-D ``s`` is shared by the batch).
        mask: ``(B, N)`` bool, the real nodes (as `to_dense_batch` gives it); the rows of the
            others are zeroed in ``x`` and ``softmax(S)``; its batch is that of ``x``, as
            PyG's ``mask.view(B, N, 1)``. (default: None)
        normalize: divide the link loss by ``adj.numel()``. (default: True)

    Returns:
        ``(out, out_adj, link_loss, ent_loss)``: ``(B, C, F)``, ``(B, C, C)`` and two 0-d
        Tensors. As PyG's, the means run over every ``(b, n)``, padding included.
    """
    op = "dense_diff_pool"
    x, adj, s, mask = _pool_inputs(op, x, adj, s, mask)
    s, out, out_adj = _coarsen(x, adj, ops.softmax(s, dim=-1), mask)
    link_loss = ops.norm(adj - ops.matmul(s, s.transpose(1, 2)))
    if normalize:
        link_loss = link_loss / math.prod(adj.shape)
    ent_loss = (-s * ops.log(s + EPS)).sum(dim=-1).mean()
    return out, out_adj, link_loss, ent_loss


def dense_mincut_pool(x, adj, s, mask=None, temp: float = 1.0):
    r"""The MinCut pooling of Bianchi et al., "Spectral Clustering with Graph Neural Networks
    for Graph Pooling" (ICML 2020), PyG's ``dense_mincut_pool``: with ``S = softmax(s / temp)``,
    ``X' = S^T X`` and ``A' = S^T A S`` with its diagonal zeroed and symmetrically normalised
    (``A'_ij / (sqrt(d_i) + 1e-15) / (sqrt(d_j) + 1e-15)``, ``d`` its row sums), the MinCut
    loss ``-mean_b Tr(S^T A S) / Tr(S^T D S)`` (``D`` the degree matrix of ``A``) and the
    orthogonality loss ``mean_b ||S^T S / ||S^T S||_F - I_C / sqrt(C)||_F``.

    Args:
        x: ``(B, N, F)`` node features (``(N, F)``: a batch of one).
        adj: ``(B, N, N)`` adjacency.
        s: ``(B, N, C)`` assignment scores of ``C`` clusters; the softmax over ``C`` is
            applied here. As PyG's matmuls, the batch sizes of ``x``, ``adj`` and ``s``
            broadcast (each 1 or ``B``; a 2-D ``s`` is shared by the batch).
        mask: ``(B, N)`` bool, the real nodes; the rows of the others are zeroed in ``x`` and
            ``S``. (default: None)
        temp: the softmax temperature, a positive number or a one-element Tensor.
            (default: 1.0)

    Returns:
        ``(out, out_adj, mincut_loss, ortho_loss)``: ``(B, C, F)``, ``(B, C, C)`` and two 0-d
        Tensors.
    """
    op = "dense_mincut_pool"
    x, adj, s, mask = _pool_inputs(op, x, adj, s, mask)
    temp, value = _temperature(op, temp, s)
    s, out, out_adj = _coarsen(x, adj, ops.softmax(s / temp if value != 1.0 else s, dim=-1),
                               mask)
    # MinCut loss: Tr(S^T D S) = sum_n d_n sum_c S_nc^2 (D diagonal: no (N, N) matrix made)
    num = ops.einsum("bii->b", out_adj)
    den = (adj.sum(dim=-1).unsqueeze(-1) * s * s).sum(dim=(1, 2))
    mincut_loss = (-(num / den)).mean()
    # orthogonality loss
    k = s.shape[-1]
    ss = ops.matmul(s.transpose(1, 2), s)
    target = eye(k, dtype=ss.dtype, device=ss.device) / math.sqrt(k)
    ortho_loss = ops.norm(ss / ops.norm(ss, dim=(-1, -2), keepdim=True) - target,
                          dim=(-1, -2)).mean()
    # the coarsened adjacency without self-loops, symmetrically normalised
    out_adj = out_adj * (1 - eye(k, dtype=out_adj.dtype, device=out_adj.device))
    d = (ops.sqrt(out_adj.sum(dim=-1)) + EPS).unsqueeze(1)  # (B, 1, C)
    out_adj = out_adj / d / d.transpose(1, 2)
    return out, out_adj, mincut_loss, ortho_loss
