"""PyTorch's ``huber_loss``, ``smooth_l1_loss`` and ``binary_cross_entropy`` on probabilities.

The first two are compositions of differentiable ops, so their gradients are the ops'. The
elementwise binary cross-entropy has a kernel pair of its own: its gradient is PyTorch's
clamped formula, which no composition of the clamped logs gives. The inputs are checked as the
other pointwise losses'.
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import QUIET_FP, operand_like
from sparsegraph.ops.elementwise import abs as abs_
from sparsegraph.ops.elementwise import minimum
from sparsegraph.ops.loss import _elementwise_weight, _pair
from sparsegraph.ops.reduce import mean
from sparsegraph.ops.reduce import sum as sum_
from sparsegraph.tensor import Tensor

__all__ = ["huber_loss", "smooth_l1_loss", "binary_cross_entropy"]


def _reduced(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return mean(losses) if reduction == "mean" else sum_(losses)


def _positive(op: str, name: str, value, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not (
            value >= 0 if allow_zero else value > 0) or not math.isfinite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{op}: expected a finite number `{name}` {bound} (got {value!r})")
    return float(value)


def _huber(input: Tensor, target: Tensor, delta: float) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``, with ``d = input -
    target``: the quadratic part is ``min(|d|, delta)``, the rest is linear."""
    a = abs_(input - target)
    q = minimum(a, delta)
    return 0.5 * q * q + delta * (a - q)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """PyTorch's Huber loss: squared error below ``delta``, absolute error (times ``delta``)
    above it; reduced (``"mean"``, ``"sum"`` or ``"none"``).

    Raises:
        ValueError: mismatched shapes, an unknown reduction, ``delta <= 0``.
    """
    target = _pair("huber_loss", input, target, reduction)
    return _reduced(_huber(input, target, _positive("huber_loss", "delta", delta)), reduction)


def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """PyTorch's smooth L1 loss: ``huber_loss(delta=beta) / beta`` (``beta = 0``: L1).

    Raises:
        ValueError: mismatched shapes, an unknown reduction, ``beta < 0``.
    """
    target = _pair("smooth_l1_loss", input, target, reduction)
    beta = _positive("smooth_l1_loss", "beta", beta, allow_zero=True)
    losses = abs_(input - target) if beta == 0 else _huber(input, target, beta) / beta
    return _reduced(losses, reduction)


# PyTorch's binary_cross_entropy_backward divides by max(p (1 - p), EPSILON), EPSILON = 1e-12
BCE_EPSILON = 1e-12


@register("bce_prob", "cpu", "cuda")
def _bce_prob_kernel(p, y):
    """``-(y log p + (1 - y) log(1 - p))`` elementwise, each log clamped at -100 (PyTorch's,
    so p = 0 or 1 gives a finite loss)."""
    xp = xp_of(p)
    with np.errstate(**QUIET_FP):  # log(0) = -inf, clamped
        log_p = xp.maximum(xp.log(p), -100)
        log_q = xp.maximum(xp.log1p(-p), -100)
    return -(y * log_p + (1 - y) * log_q)


@register("bce_prob_backward", "cpu", "cuda")
def _bce_prob_backward_kernel(g, p, y, need_p, need_y):
    """PyTorch's gradients: ``g (p - y) / max(p (1 - p), 1e-12)`` for ``p`` (finite at p = 0 or
    1, where a probability parameter then still moves) and ``-g logit(p)`` for ``y``."""
    xp = xp_of(p)
    gp = gy = None
    # +inf / -inf for y at p = 0 / 1 (and 0 / 0 for float16 p: EPSILON rounds to 0), as torch
    with np.errstate(**QUIET_FP):
        if need_p:
            gp = g * (p - y) / xp.maximum((1 - p) * p, p.dtype.type(BCE_EPSILON))
        if need_y:
            gy = g * (xp.log1p(-p) - xp.log(p))
    return gp, gy


class BinaryCrossEntropy(Function):
    """The unreduced loss of probabilities ``p`` against targets ``y`` (same shape)."""

    @staticmethod
    def forward(ctx, p, y):
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(p, y)
        return dispatch("bce_prob", ctx.device)(p.array, y.array)

    @staticmethod
    def backward(ctx, g):
        p, y = ctx.saved_tensors
        need = ctx.needs_input_grad
        return dispatch("bce_prob_backward", ctx.device)(g.array, p.array, y.array, need[0],
                                                          need[1])


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """``-(y log p + (1 - y) log(1 - p))`` of probabilities ``input`` in [0, 1], as PyTorch's:
    each log clamped at -100, so p = 0 or 1 gives a finite loss; the gradient
    ``(p - y) / max(p (1 - p), 1e-12)`` is bounded by 1e12 and nonzero at p = 0 or 1 (a
    probability there still moves). ``weight`` broadcasts to the elements. Prefer
    `binary_cross_entropy_with_logits` on logits (stabler).

    Raises:
        ValueError: mismatched shapes, an unknown reduction, ``input`` outside [0, 1].
    """
    target = _pair("binary_cross_entropy", input, target, reduction)
    p = input.array
    if p.size and bool(((p < 0) | (p > 1)).any()):
        raise ValueError("binary_cross_entropy: expected `input` probabilities in [0, 1] (got "
                         f"values in [{float(p.min())}, {float(p.max())}]); for logits use "
                         "binary_cross_entropy_with_logits")
    losses = BinaryCrossEntropy.apply(input, target)
    w = _elementwise_weight("binary_cross_entropy", "weight", weight, input)
    if w is not None:  # in input's dtype; the product keeps a Tensor or a copy of an array
        w = w.to(input.device, input.dtype) if isinstance(w, Tensor) else operand_like(w, input)
    return _reduced(losses if w is None else losses * w, reduction)
