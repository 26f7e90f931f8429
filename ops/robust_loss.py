"""Losses written as compositions of differentiable ops (no kernels of their own): PyTorch's
``huber_loss``, ``smooth_l1_loss`` and ``binary_cross_entropy`` on probabilities. Their
gradients are the ops' gradients; the inputs are checked as the other pointwise losses'."""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.ops._util import kept_array
from sparsegraph.ops.elementwise import abs as abs_
from sparsegraph.ops.elementwise import log, minimum
from sparsegraph.ops.loss import _as_operand, _elementwise_weight, _pair
from sparsegraph.ops.reduce import mean
from sparsegraph.ops.reduce import sum as sum_
from sparsegraph.ops.ternary import clamp, where
from sparsegraph.tensor import Tensor, wrap

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


def _clamped_log(p: Tensor) -> Tensor:
    """PyTorch's ``max(log p, -100)`` without taking log(0): -100 where ``p <= e^-100``, else
    the log of ``p`` kept at least the dtype's smallest normal number (so neither the value nor
    the gradient ``g / p`` overflows; the -100 branch has a zero gradient)."""
    tiny = float(np.finfo(p.dtype).tiny)
    return where(p > math.exp(-100.0), log(clamp(p, min=tiny)), -100.0)


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """``-(y log p + (1 - y) log(1 - p))`` of probabilities ``input`` in [0, 1] (PyTorch's: each
    log clamped at -100, so p = 0 or 1 gives a finite loss, and there a zero gradient);
    ``weight`` broadcasts to the elements. Prefer `binary_cross_entropy_with_logits` on
    logits (stabler).

    Raises:
        ValueError: mismatched shapes, an unknown reduction, ``input`` outside [0, 1].
    """
    target = _pair("binary_cross_entropy", input, target, reduction)
    p = input.array
    if p.size and bool(((p < 0) | (p > 1)).any()):
        raise ValueError("binary_cross_entropy: expected `input` probabilities in [0, 1] (got "
                         f"values in [{float(p.min())}, {float(p.max())}]); for logits use "
                         "binary_cross_entropy_with_logits")
    losses = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    w = _elementwise_weight("binary_cross_entropy", "weight", weight, input)
    if w is not None:  # a Tensor stays one (the product saves it); an array is copied
        w = (w.to(input.device, input.dtype) if isinstance(w, Tensor)
             else wrap(kept_array(_as_operand(w, input))))
    return _reduced(losses if w is None else losses * w, reduction)
