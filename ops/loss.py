"""Losses: cross_entropy (fused log-softmax + NLL), nll_loss, mse_loss, l1_loss,
binary_cross_entropy_with_logits. PyTorch's arguments and reductions."""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor
from sparsegraph.tensor import Tensor, wrap

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss",
           "binary_cross_entropy_with_logits"]

REDUCTIONS = ("mean", "sum", "none")


def _reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: expected `reduction` in {REDUCTIONS} (got {reduction!r})")


def _targets(op, input, target, ignore_index):
    check_tensor(op, "input", input)
    t = target.array if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices in `target` (got {t.dtype})")
    if input.ndim != 2:
        raise ValueError(f"{op}: expected `input` of shape (N, C) (got {input.shape})")
    if t.shape != (input.shape[0],):
        raise ValueError(f"{op}: expected `target` of shape ({input.shape[0]},) to match "
                         f"`input` of shape {input.shape} (got {t.shape})")
    c = input.shape[1]
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bool(bad.any()):
        raise ValueError(f"{op}: expected class indices in [0, {c}) or ignore_index="
                         f"{ignore_index} (got {int(t[bad][0])})")
    return t


@register("nll", "cpu", "cuda")
def _nll_kernel(logp, target, weight, ignore_index, reduction, smoothing):
    """Per-sample losses and their weights; returns (loss, sample_weights, denominator)."""
    xp = xp_of(logp)
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    w = (weight[safe] if weight is not None else xp.ones(target.shape, logp.dtype)) * valid
    picked = -xp.take_along_axis(logp, safe[:, None], 1)[:, 0]
    if smoothing:
        c = logp.shape[1]
        uniform = -(logp * (weight[None, :] if weight is not None else 1)).sum(1) / c
        picked = (1 - smoothing) * picked + smoothing * uniform
    losses = picked * w
    if reduction == "none":
        return losses.astype(logp.dtype), w, None
    total = losses.sum()
    if reduction == "sum":
        return total.astype(logp.dtype), w, None
    denom = w.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / denom).astype(logp.dtype), w, denom


class NLLLoss(Function):
    """Negative log-likelihood of class indices; ``fused`` inputs are logits (cross entropy)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, smoothing, fused):
        logp = dispatch("log_softmax", ctx.device)(x.array, 1) if fused else x.array
        loss, w, denom = dispatch("nll", ctx.device)(logp, target, weight, ignore_index,
                                                     reduction, smoothing)
        ctx.logp, ctx.target, ctx.w, ctx.denom = logp, target, w, denom
        ctx.reduction, ctx.smoothing, ctx.fused, ctx.weight = reduction, smoothing, fused, weight
        return loss

    @staticmethod
    def backward(ctx, g):
        xp = xp_of(ctx.logp)
        n, c = ctx.logp.shape
        coef = g.array if ctx.reduction == "none" else xp.broadcast_to(g.array, (n,))
        if ctx.reduction == "mean":
            coef = coef / ctx.denom
        coef = (coef * ctx.w).astype(ctx.logp.dtype)
        # d loss_i / d logp_i = -(1 - s) onehot - s * weight / C  (s = label smoothing)
        glogp = xp.zeros((n, c), dtype=ctx.logp.dtype)
        safe = xp.where(ctx.w != 0, ctx.target, 0)
        xp.put_along_axis(glogp, safe[:, None], -(1 - ctx.smoothing), 1)
        if ctx.smoothing:
            wrow = ctx.weight[None, :] if ctx.weight is not None else 1
            glogp = glogp - ctx.smoothing * wrow / c
            coef = coef / xp.where(ctx.w != 0, (ctx.weight[safe] if ctx.weight is not None
                                                 else 1), 1)
        glogp = glogp * coef[:, None]
        if ctx.fused:  # through log_softmax: g - softmax * sum(g)
            glogp = glogp - xp.exp(ctx.logp) * glogp.sum(1, keepdims=True)
        return glogp.astype(ctx.logp.dtype), None, None, None, None, None, None


def _weight(op, weight, input):
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (input.shape[1],):
        raise ValueError(f"{op}: expected `weight` of shape ({input.shape[1]},) "
                         f"(got {w.shape})")
    return w.astype(input.dtype)


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """NLL of log-probabilities ``input`` (N, C) at class indices ``target`` (N,).

    The mean divides by the summed weights of non-ignored targets (NaN when all are ignored),
    as in PyTorch.
    """
    _reduction("nll_loss", reduction)
    t = _targets("nll_loss", input, target, ignore_index)
    return NLLLoss.apply(input, t, _weight("nll_loss", weight, input), ignore_index, reduction,
                         0.0, False)


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C) and class indices ``target`` (N,).

    Fused: one Function whose backward is ``softmax - onehot`` (no separate log-softmax node).
    """
    _reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: expected `label_smoothing` in [0, 1] "
                         f"(got {label_smoothing})")
    t = _targets("cross_entropy", input, target, ignore_index)
    return NLLLoss.apply(input, t, _weight("cross_entropy", weight, input), ignore_index,
                         reduction, float(label_smoothing), True)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _pair(op, input, target):
    check_tensor(op, "input", input)
    if not isinstance(target, Tensor):
        target = wrap(np.asarray(target, dtype=input.dtype))
    if target.shape != input.shape:
        raise ValueError(f"{op}: expected `target` of shape {input.shape} (got {target.shape})")
    return target


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error (a composite)."""
    _reduction("mse_loss", reduction)
    diff = input - _pair("mse_loss", input, target)
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    _reduction("l1_loss", reduction)
    return _reduce((input - _pair("l1_loss", input, target)).abs(), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """``-[p y log σ(x) + (1 - y) log(1 - σ(x))]`` computed stably from logits (a composite)."""
    from sparsegraph.ops.activation import softplus

    _reduction("binary_cross_entropy_with_logits", reduction)
    target = _pair("binary_cross_entropy_with_logits", input, target)
    # log σ(x) = -softplus(-x);  log(1 - σ(x)) = -softplus(x)
    pos = softplus(-input) * target
    if pos_weight is not None:
        pos = pos * pos_weight
    loss = pos + softplus(input) * (1 - target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)
