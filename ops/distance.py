"""Pairwise distances: `cdist` (torch.cdist), the p-norm distance between every row of one set
of vectors and every row of another, batched.

Computed from the differences themselves, not from ``|x|^2 + |y|^2 - 2 x.y`` (torch's
``use_mm_for_euclid_dist`` shortcut, which loses digits when points are close), so memory is
``B * P * R * M`` elements. The gradient is torch's: 0 where a distance is 0 (no nan), 0 for
``p = 0``, and for ``p = inf`` it goes to every coordinate whose difference reaches the max.
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import QUIET_FP, check_float, check_tensor, same_device, unbroadcast
from sparsegraph.tensor import Tensor

__all__ = ["cdist"]


def _differences(x1, x2):
    """``(..., P, R, M)``: ``x1[..., p, :] - x2[..., r, :]`` (batch dims broadcast)."""
    return x1[..., :, None, :] - x2[..., None, :, :]


@register("cdist", "cpu", "cuda")
def _cdist_kernel(x1, x2, p):
    xp = xp_of(x1)
    diff = _differences(x1, x2)
    if p == 0:  # the count of differing coordinates
        return (diff != 0).sum(axis=-1, dtype=x1.dtype)
    a = xp.abs(diff)
    if p == math.inf:  # no coordinates (M = 0): distance 0, as every other p gives
        return a.max(axis=-1) if a.shape[-1] else a.sum(axis=-1)
    if p == 1:
        return a.sum(axis=-1)
    if p == 2:
        return xp.sqrt((a * a).sum(axis=-1))
    with np.errstate(**QUIET_FP):
        return (a ** p).sum(axis=-1) ** (1 / p)


@register("cdist_backward", "cpu", "cuda")
def _cdist_backward_kernel(x1, x2, d, g, p, needs, shapes):
    """Gradients of `cdist` for ``x1`` and ``x2`` (``d`` the distances, ``g`` their gradient)."""
    xp = xp_of(g)
    diff = _differences(x1, x2)
    g, d = g[..., None], d[..., None]  # against the coordinate axis
    with np.errstate(**QUIET_FP):
        if p == 0:
            w = xp.zeros_like(diff)
        elif p == 1:
            w = xp.sign(diff) * g
        elif p == 2:
            w = diff * g / d
        elif p == math.inf:
            w = xp.sign(diff) * (xp.abs(diff) == d) * g
        else:
            a = xp.abs(diff)
            w = xp.sign(diff) * a ** (p - 1) * g / d ** (p - 1)
            if p < 1:  # |diff|^(p - 1) is infinite at a zero difference: torch gives 0 there
                w = xp.where(diff == 0, 0, w)
        w = xp.where(d == 0, 0, w).astype(diff.dtype, copy=False)
    g1 = unbroadcast(w.sum(axis=-2), shapes[0]) if needs[0] else None
    g2 = unbroadcast(-w.sum(axis=-3), shapes[1]) if needs[1] else None
    return g1, g2


class Cdist(Function):
    """The ``p``-norm distances ``(..., P, R)`` between the rows of ``x1`` and of ``x2``."""

    @staticmethod
    def forward(ctx, x1, x2, p):
        d = dispatch("cdist", ctx.device)(x1.array, x2.array, p)
        if any(ctx.needs_input_grad):
            ctx.p, ctx.shapes = p, (x1.shape, x2.shape)
            ctx.save_for_backward(x1, x2)
            return ctx.save_output(d)
        return d

    @staticmethod
    def backward(ctx, g):
        x1, x2 = (t.array for t in ctx.saved_tensors)
        return *dispatch("cdist_backward", ctx.device)(
            x1, x2, ctx.saved_output, g.array, ctx.p, ctx.needs_input_grad, ctx.shapes), None


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` and each row of ``x2`` (torch.cdist):
    ``out[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p``.

    ``p = 0`` counts the coordinates that differ (no gradient: zeros, as torch), ``p = inf``
    takes the largest absolute difference. The gradient at a zero distance is 0, as torch's.

    Args:
        x1: a floating tensor of shape ``(B..., P, M)`` (at least 2 dims).
        x2: a tensor of shape ``(B..., R, M)``, ``x1``'s dtype and device; the batch dims
            broadcast.
        p: a non-negative number, or ``math.inf``. (default: 2.0)

    Returns:
        Tensor of shape ``(broadcast(B...), P, R)``.

    Raises:
        TypeError: an operand not a Tensor or not floating, different dtypes, ``p`` not a
            number.
        ValueError: an operand with fewer than 2 dims, different ``M``, batch dims that do not
            broadcast, ``p < 0`` or nan, or operands on different devices.
    """
    for name, t in (("x1", x1), ("x2", x2)):
        check_tensor("cdist", name, t)
        if t.ndim < 2:
            raise ValueError(f"cdist: expected `{name}` with at least 2 dims (got shape "
                             f"{t.shape})")
        check_float("cdist", name, t)
    if x1.dtype != x2.dtype:
        raise TypeError(f"cdist: expected `x2` with the dtype of `x1`, {x1.dtype} (got "
                        f"{x2.dtype}); convert one with .to()")
    same_device("cdist", x1, x2)
    if x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: expected `x2` with {x1.shape[-1]} columns like `x1` of shape "
                         f"{x1.shape} (got shape {x2.shape})")
    try:
        np.broadcast_shapes(x1.shape[:-2], x2.shape[:-2])
    except ValueError:
        raise ValueError(f"cdist: batch dims of `x1` {x1.shape} and `x2` {x2.shape} cannot be "
                         "broadcast together") from None
    if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating):
        raise TypeError(f"cdist: expected a number `p` (got {type(p).__name__} {p!r})")
    if not p >= 0:
        raise ValueError(f"cdist: expected a non-negative `p` (got {p!r})")
    return Cdist.apply(x1, x2, float(p))
