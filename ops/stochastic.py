"""Dropout: zero each element with probability p and scale the rest by 1 / (1 - p); and
`multinomial`, torch's sampling of category indices from rows of weights.

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
from sparsegraph.ops._util import check_bool, check_float, check_int_arg, check_tensor
from sparsegraph.ops.buffers import reusable_grad
from sparsegraph.ops.counter_rng import keep_mask, keep_threshold
from sparsegraph.tensor import Tensor

try:  # registers the parallel numba kernels beside the generic ones
    from sparsegraph.ops.sparse_kernels import numba_dropout  # noqa: F401
except ImportError:  # numba missing: the generic kernels still run
    pass

__all__ = ["dropout", "dropout_mask", "draw_key", "multinomial"]


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


# ---- multinomial ---------------------------------------------------------------------------
def _draw_categories(w: np.ndarray, num_samples: int, replacement: bool, rng) -> np.ndarray:
    """``(rows, num_samples)`` int64 category indices drawn from the rows of weights ``w``
    (host float64, checked): with replacement by inverting each row's cumulative sum; without
    by the exponential race (the ``num_samples`` smallest ``Exp(1) / w``), whose order is that
    of drawing one category at a time and removing it."""
    if not w.shape[0]:  # no rows: nothing to draw
        return np.zeros((0, num_samples), np.int64)
    if replacement:
        cdf = np.cumsum(w, axis=1)
        cdf /= cdf[:, -1:]
        # one searchsorted over all rows: row r's cdf and draws shifted into [r, r + 1]
        rows = np.arange(w.shape[0])[:, None]
        u = rng.random((w.shape[0], num_samples)) + rows
        out = np.searchsorted((cdf + rows).ravel(), u.ravel(), side="right").reshape(u.shape)
        # a draw rounded up onto r + 1 lands past the row: its last category of positive weight
        last = w.shape[1] - 1 - np.argmax(w[:, ::-1] > 0, axis=1)
        return np.minimum(out - rows * w.shape[1], last[:, None]).astype(np.int64)
    with np.errstate(divide="ignore"):
        keys = rng.standard_exponential(w.shape) / w  # a zero weight: inf, never drawn
    first = np.argpartition(keys, num_samples - 1, axis=1)[:, :num_samples]
    order = np.argsort(np.take_along_axis(keys, first, 1), axis=1, kind="stable")
    return np.take_along_axis(first, order, 1).astype(np.int64)


class Multinomial(Function):
    random = True  # drawn inside forward, so a static graph draws again on every run

    @staticmethod
    def forward(ctx, input, num_samples, replacement, generator):
        w = to_device(input.array, "cpu").astype(np.float64).reshape(-1, input.shape[-1])
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("multinomial: expected `input` of finite non-negative weights (got "
                             "a nan, an inf or a negative entry)")
        nonzero = (w > 0).sum(axis=1)
        if (nonzero == 0).any():
            raise ValueError(f"multinomial: expected every row of `input` to have a positive "
                             f"sum (row {int(np.argmin(nonzero))} sums to 0)")
        if not replacement and (nonzero < num_samples).any():
            row = int(np.argmin(nonzero))
            raise ValueError(f"multinomial: cannot draw `num_samples`={num_samples} without "
                             f"replacement from row {row} of `input`, which has "
                             f"{int(nonzero[row])} nonzero weights")
        out = _draw_categories(w, num_samples, replacement, rng_of(generator))
        return to_device(out.reshape((*input.shape[:-1], num_samples)), input.device)

    @staticmethod
    def backward(ctx, g):  # pragma: no cover - an int64 output has no gradient
        return None, None, None, None


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """Draw ``num_samples`` category indices from each row of weights (torch.multinomial).

    The weights need not sum to 1; row ``i`` picks category ``j`` with probability
    ``input[i, j] / input[i].sum()``. Without replacement a category is drawn at most once per
    row (in draw order), and zero-weight categories never are.

    Args:
        input: a floating tensor of weights, ``(C,)`` or ``(N, C)``, non-negative and finite,
            every row with a positive sum.
        num_samples: the draws per row, at least 1 (at most ``C`` without replacement).
        replacement: draw with replacement. (default: False)
        generator: a `sparsegraph.Generator`. (default: the global one, see
            `sparsegraph.manual_seed`)

    Returns:
        int64 Tensor of shape ``(num_samples,)`` or ``(N, num_samples)`` on ``input``'s device.

    Raises:
        TypeError: ``input`` not a floating Tensor, ``num_samples`` not an int, ``replacement``
            not a bool, or ``generator`` not a Generator.
        ValueError: ``input`` not 1-D or 2-D, ``num_samples`` < 1, more samples than
            categories (or than nonzero weights in a row) without replacement, a negative /
            nan / inf weight, or a row summing to 0.
    """
    check_tensor("multinomial", "input", input)
    check_float("multinomial", "input", input)
    if input.ndim not in (1, 2):
        raise ValueError(f"multinomial: expected a 1-D or 2-D `input` (got shape {input.shape})")
    num_samples = check_int_arg("multinomial", "num_samples", num_samples)
    replacement = check_bool("multinomial", "replacement", replacement)
    if num_samples < 1:
        raise ValueError(f"multinomial: expected `num_samples` >= 1 (got {num_samples})")
    if not replacement and num_samples > input.shape[-1]:
        raise ValueError(f"multinomial: cannot draw `num_samples`={num_samples} without "
                         f"replacement from {input.shape[-1]} categories")
    if input.shape[-1] == 0:
        raise ValueError("multinomial: expected at least one category in `input` (got shape "
                         f"{input.shape})")
    rng_of(generator)  # a bad generator named before the draw
    return Multinomial.apply(input, num_samples, replacement, generator)
