"""Similarities and divergences between tensors, as PyTorch's functional forms:
`cosine_similarity`, `pairwise_distance` and `kl_div`.

Each is a composition of differentiable ops (norm, division, log, where, reductions), so its
gradients are theirs, in both arguments.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from sparsegraph.backend import result_type
from sparsegraph.ops._util import check_tensor, norm_dim
from sparsegraph.ops.linalg import norm
from sparsegraph.ops.reduce import mean
from sparsegraph.ops.reduce import sum as sum_
from sparsegraph.ops.shape import expand
from sparsegraph.ops.ternary import clamp, where
from sparsegraph.tensor import Tensor, wrap

__all__ = ["cosine_similarity", "pairwise_distance", "kl_div"]

KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def _number(op: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{op}: expected `{name}` to be a number (got {type(value).__name__} "
                        f"{value!r})")
    return float(value)


def _broadcast(op: str, x1: Tensor, x2: Tensor) -> tuple:
    try:
        return tuple(np.broadcast_shapes(x1.shape, x2.shape))
    except ValueError:
        raise ValueError(f"{op}: expected `x1` of shape {x1.shape} and `x2` of shape "
                         f"{x2.shape} to broadcast to a common shape") from None


def _pair(op: str, x1, x2) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors on one device; an integer one takes the common floating dtype
    (torch: the common dtype must be floating)."""
    check_tensor(op, "x1", x1)
    check_tensor(op, "x2", x2)
    if x1.device != x2.device:
        raise ValueError(f"{op}: `x1` is on {x1.device} but `x2` is on {x2.device}; move one "
                         "with .to()")
    common = result_type(x1.array, x2.array, op=op)
    if common.kind != "f":
        raise TypeError(f"{op}: expected a floating common dtype of `x1` and `x2` (got "
                        f"{x1.dtype} and {x2.dtype}); convert them with .float()")
    return (x1 if x1.dtype.kind == "f" else x1.to(common),
            x2 if x2.dtype.kind == "f" else x2.to(common))


def _clamped_norm(x: Tensor, dim: int, eps: float) -> Tensor:
    """``max(||x||_2, eps)`` over ``dim`` (kept) with torch's gradient: the clamp is applied
    outside autograd, so the gradient is the norm's even where the clamp is active."""
    n = norm(x, 2, dim, keepdim=True)
    raw = n.detach()
    return n + (clamp(raw, min=eps) - raw)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine similarity along ``dim``, as ``torch.nn.functional.cosine_similarity``:

    ``x1 . x2 / (max(||x1||_2, eps) * max(||x2||_2, eps))``

    (PyTorch's current formula, documented since 1.12: each vector is divided by its own
    clamped norm, then the products are summed; it is never above 1 in magnitude. Older
    releases documented ``max(||x1|| * ||x2||, eps)``.) ``x1`` and ``x2`` broadcast to a common
    shape, in which ``dim`` is counted and which is expanded before the norms are taken, as
    torch does; the output drops ``dim``. As torch, the clamp to ``eps`` is outside autograd:
    the gradient flows through the norm even where ``||x|| < eps``.

    Args:
        x1, x2: floating tensors (an integer one takes the other's dtype).
        dim: the dim of the vectors. (default: 1)
        eps: the smallest norm divided by. (default: 1e-8)

    Raises:
        TypeError: a non-Tensor operand, two integer operands, a non-number ``eps``.
        ValueError: shapes that do not broadcast, ``dim`` out of range, different devices.
    """
    op = "cosine_similarity"
    x1, x2 = _pair(op, x1, x2)
    eps = _number(op, "eps", eps)
    shape = _broadcast(op, x1, x2)
    d = norm_dim(op, dim, len(shape))
    if not shape:  # two 0-d operands: torch reduces over nothing
        return (x1 / _clamped_norm(x1, None, eps)) * (x2 / _clamped_norm(x2, None, eps))
    x1 = x1 if x1.shape == shape else expand(x1, shape)
    x2 = x2 if x2.shape == shape else expand(x2, shape)
    return sum_((x1 / _clamped_norm(x1, d, eps)) * (x2 / _clamped_norm(x2, d, eps)), d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim of the broadcast shape, as
    ``torch.nn.functional.pairwise_distance`` (``eps`` is added to every difference, as torch
    does, so equal inputs give ``eps * D^(1/p)``, not 0).

    Args:
        x1, x2: tensors broadcasting to a common shape ``(*, D)`` (or 0-d).
        p: the norm's order: a number >= 0, ``inf`` or ``-inf``. (default: 2.0)
        eps: added to the differences. (default: 1e-6)
        keepdim: keep the reduced dim with size 1. (default: False)

    Raises:
        TypeError: a non-Tensor operand, two integer operands, non-number ``p`` / ``eps``.
        ValueError: shapes that do not broadcast, a negative finite ``p``, different devices.
    """
    op = "pairwise_distance"
    x1, x2 = _pair(op, x1, x2)
    p, eps = _number(op, "p", p), _number(op, "eps", eps)
    if p < 0 and p != -math.inf:
        raise ValueError(f"{op}: expected `p` >= 0, inf or -inf (got {p})")
    _broadcast(op, x1, x2)
    return norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def _xlogy_self(t: Tensor) -> Tensor:
    """``t * log(t)`` with 0 where ``t == 0`` (torch's ``xlogy(t, t)``); the log is taken of 1
    there, so neither value nor gradient is nan (a negative or nan ``t`` gives nan, as torch)."""
    zero = t == 0
    return where(zero, 0.0, t * where(zero, 1.0, t).log())


def kl_div(input: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """The pointwise Kullback-Leibler divergence of ``target`` from ``input`` (log-probabilities),
    as ``torch.nn.functional.kl_div``.

    Per element ``target * (log(target) - input)`` (0 where ``target == 0``, torch's
    ``xlogy``), or with ``log_target`` ``exp(target) * (target - input)``. ``input`` and
    ``target`` broadcast.

    Args:
        input: log-probabilities, floating.
        target: probabilities (or log-probabilities with ``log_target``); a Tensor is
            differentiable too, an array or number takes ``input``'s dtype.
        reduction: ``"mean"`` (the mean over every element; torch warns that it is not the
            KL divergence and so does this function), ``"batchmean"`` (the sum divided by
            ``input.shape[0]``: the KL divergence of a batch of distributions), ``"sum"`` or
            ``"none"``. (default: "mean")
        log_target: ``target`` holds log-probabilities. (default: False)

    Raises:
        TypeError: a non-Tensor or non-floating ``input``, a non-bool ``log_target``.
        ValueError: an unknown reduction, shapes that do not broadcast, different devices.
    """
    op = "kl_div"
    check_tensor(op, "input", input)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating `input` of log-probabilities (got "
                        f"{input.dtype})")
    if reduction not in KL_REDUCTIONS:
        raise ValueError(f"{op}: expected `reduction` in {KL_REDUCTIONS} (got {reduction!r})")
    if not isinstance(log_target, bool | np.bool_):
        raise TypeError(f"{op}: expected `log_target` to be a bool (got "
                        f"{type(log_target).__name__} {log_target!r})")
    if not isinstance(target, Tensor):
        target = wrap(input.xp.asarray(target, dtype=input.dtype))
    if target.device != input.device:
        raise ValueError(f"{op}: `target` is on {target.device} but `input` is on "
                         f"{input.device}; move one with .to()")
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{op}: expected `target` of shape {target.shape} to broadcast with "
                         f"`input` of shape {input.shape}") from None
    if target.dtype.kind != "f":
        target = target.to(input.dtype)
    if log_target:
        losses = target.exp() * (target - input)
    else:
        losses = _xlogy_self(target) - target * input
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size "
                      "and the support size; 'batchmean' divides only by the batch size, and "
                      "aligns with the KL divergence's definition", UserWarning, stacklevel=2)
        return mean(losses)
    if reduction == "none":
        return losses
    total = sum_(losses)
    return total / input.shape[0] if reduction == "batchmean" and input.ndim else total
