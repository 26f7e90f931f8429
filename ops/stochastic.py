"""Dropout: zero each element with probability p and scale the rest by 1 / (1 - p)."""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import to_device
from sparsegraph.creation import rng_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor
from sparsegraph.tensor import Tensor

__all__ = ["dropout", "dropout_mask"]


def dropout_mask(shape, p: float, generator=None, device: str = "cpu"):
    """A bool keep-mask (True with probability 1 - p), drawn from the seeded generator."""
    keep = rng_of(generator).random(shape, dtype=np.float32) >= np.float32(p)
    return to_device(keep, device)


@register("dropout", "cpu", "cuda")
def _dropout_kernel(x, keep, scale):
    out = x * keep
    out *= x.dtype.type(scale)
    return out


class Dropout(Function):
    random = True  # the mask is drawn inside forward, so a static graph redraws it per run

    @staticmethod
    def forward(ctx, x, p, generator):
        keep, scale = dropout_mask(x.shape, p, generator, x.device), 1.0 / (1.0 - p)
        if ctx.needs_input_grad[0]:  # a bool mask: 1 byte per element, not a float copy
            ctx.keep, ctx.scale = keep, scale
        return dispatch("dropout", ctx.device)(x.array, keep, scale)

    @staticmethod
    def backward(ctx, g):
        return dispatch("dropout", ctx.device)(g.array, ctx.keep, ctx.scale), None, None


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by
    ``1 / (1 - p)`` (so the expectation is unchanged); ``input`` itself when ``training`` is
    False or ``p == 0``, zeros when ``p == 1``.

    Args:
        input: any floating tensor.
        p: probability of zeroing an element, in [0, 1]. (default: 0.5)
        training: apply dropout (else return ``input``). (default: True)
        generator: a `sparsegraph.Generator`; the same seed gives the same mask.
            (default: the global generator, see `sparsegraph.manual_seed`)

    Raises:
        ValueError: for ``p`` outside [0, 1].
        TypeError: for a non-floating input.
    """
    check_tensor("dropout", "input", input)
    if isinstance(p, bool) or not isinstance(p, int | float | np.floating | np.integer) or (
            not 0.0 <= p <= 1.0):
        raise ValueError(f"dropout: expected `p` in [0, 1] (got {p!r})")
    if input.dtype.kind != "f":
        raise TypeError(f"dropout: expected a floating tensor (got {input.dtype}); use .float()")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, float(p), generator)
