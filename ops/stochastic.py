"""Dropout: zero each element with probability p and scale the rest by 1 / (1 - p).

The mask comes from counter-based random bits (ops/counter_rng.py): one 64-bit key is drawn
from the seeded generator per call, and element ``i`` is kept when its number
``mix(key + (i + 1) * GOLDEN)`` clears `keep_threshold(p)`. So the mask is never stored: the
backward recomputes it from the key (0 bytes per element saved instead of a 1-byte bool mask),
and the numba kernel draws it in parallel, fused with the scaling (one pass over ``x``).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import array_module, device_type, normalize_device, to_device, xp_of
from sparsegraph.creation import rng_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor
from sparsegraph.ops.buffers import reusable_grad
from sparsegraph.ops.counter_rng import keep_mask, keep_threshold
from sparsegraph.tensor import Tensor

try:  # registers the parallel numba kernels beside the generic ones
    from sparsegraph.ops.sparse_kernels import numba_dropout  # noqa: F401
except ImportError:  # numba missing: the generic kernels still run
    pass

__all__ = ["dropout", "dropout_mask", "draw_key"]


def draw_key(generator=None) -> int:
    """A 64-bit stream key for one mask: one draw from the seeded generator."""
    return int(rng_of(generator).integers(0, 2**64, dtype=np.uint64))


def dropout_mask(shape, p: float, generator=None, device: str = "cpu"):
    """A bool keep-mask (True with probability 1 - p) from one key of the seeded generator;
    the same generator state gives the mask `dropout` applies."""
    _check_p("dropout_mask", p)
    device = normalize_device(device)
    return dispatch("dropout_mask", device_type(device))(draw_key(generator),
                                                         keep_threshold(p), tuple(shape), device)


def _check_p(op: str, p) -> None:
    """A drop probability in [0, 1] (1 drops everything)."""
    if isinstance(p, bool) or not isinstance(p, int | float | np.floating | np.integer) or (
            not 0.0 <= p <= 1.0):
        raise ValueError(f"{op}: expected `p` in [0, 1] (got {p!r})")


@register("dropout_mask", "cpu", "cuda")
def _dropout_mask_kernel(key, threshold, shape, device):
    return to_device(keep_mask(key, threshold, shape, array_module(device)), device)


@register("dropout", "cpu", "cuda")
def _dropout_kernel(x, key, threshold, scale, out=None):
    """``x * keep * scale`` with the mask of stream ``key`` (the same rounding as numba's), into
    ``out`` when given (it may be ``x``)."""
    out = xp_of(x).multiply(x, keep_mask(key, threshold, x.shape, xp_of(x)), out=out)
    out *= x.dtype.type(scale)
    return out


class Dropout(Function):
    random = True  # the key is drawn inside forward, so a static graph redraws it per run

    @staticmethod
    def forward(ctx, x, p, generator):
        ctx.key, ctx.threshold, ctx.scale = draw_key(generator), keep_threshold(p), 1 / (1 - p)
        return dispatch("dropout", ctx.device)(x.array, ctx.key, ctx.threshold, ctx.scale)

    @staticmethod
    def backward(ctx, g):  # the same mask, recomputed from the key
        g = g.array
        out = reusable_grad(ctx, g)  # before the call, whose pending arguments hold g too
        return dispatch("dropout", ctx.device)(g, ctx.key, ctx.threshold, ctx.scale,
                                               out=out), None, None


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by
    ``1 / (1 - p)`` (so the expectation is unchanged); ``input`` itself when ``training`` is
    False or ``p == 0``, zeros when ``p == 1``.

    Args:
        input: any floating tensor; a SparseTensor drops its stored values
            (`sparse_dropout`).
        p: probability of zeroing an element, in [0, 1]. (default: 0.5)
        training: apply dropout (else return ``input``). (default: True)
        generator: a `sparsegraph.Generator`; the same seed gives the same mask.
            (default: the global generator, see `sparsegraph.manual_seed`)

    Raises:
        ValueError: for ``p`` outside [0, 1].
        TypeError: for a non-floating input.
    """
    if getattr(input, "_sparse_operand", False):  # a SparseTensor (Cora's features): PyG's
        from sparsegraph.ops.sparse_values import sparse_dropout  # F.dropout(x) still works

        return sparse_dropout(input, p, training, generator)
    check_tensor("dropout", "input", input)
    _check_p("dropout", p)
    if input.dtype.kind != "f":
        raise TypeError(f"dropout: expected a floating tensor (got {input.dtype}); use .float()")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, float(p), generator)
