"""Constant padding of the trailing dims: `pad` (PyTorch's ``F.pad`` in ``"constant"`` mode).

``pad`` lists (before, after) pairs from the last dim backwards, as torch's: ``(1, 2)`` pads the
last dim by 1 in front and 2 behind, ``(1, 1, 0, 3)`` also the dim before it. Negative amounts
crop. The gradient is the padded gradient's slice back at the input's place (zero where an
input element was cropped away).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.ops._util import check_tensor
from sparsegraph.tensor import Tensor

__all__ = ["pad"]


def _crop_and_widths(shape, pairs):
    """Per dim: the slice kept of the input (negative amounts crop) and numpy's pad widths."""
    keep, widths = [], []
    for size, (before, after) in zip(shape, pairs, strict=True):
        keep.append(slice(max(-before, 0), size - max(-after, 0)))
        widths.append((max(before, 0), max(after, 0)))
    return tuple(keep), widths


class Pad(Function):
    @staticmethod
    def forward(ctx, x, pairs, value):
        keep, widths = _crop_and_widths(x.shape, pairs)
        ctx.keep, ctx.widths, ctx.shape = keep, widths, x.shape
        xp = xp_of(x.array)
        return xp.pad(x.array[keep], widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        inner = tuple(slice(b, g.shape[d] - a) for d, (b, a) in enumerate(ctx.widths))
        kept = g.array[inner]
        if kept.shape == ctx.shape:
            return kept, None, None
        gx = xp_of(kept).zeros(ctx.shape, dtype=kept.dtype)
        gx[ctx.keep] = kept
        return gx, None, None


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """``input`` padded with ``value`` (default 0) by ``pad``'s (before, after) pairs, last dim
    first (PyTorch's ``F.pad``); negative amounts crop. Only ``mode="constant"``."""
    check_tensor("pad", "input", input)
    if mode != "constant":
        raise ValueError(f"pad: only mode 'constant' is supported (got {mode!r})")
    amounts = tuple(pad) if isinstance(pad, list | tuple) else None
    if amounts is None or len(amounts) % 2 or len(amounts) // 2 > input.ndim or any(
            isinstance(p, bool) or not isinstance(p, int | np.integer) for p in amounts):
        raise ValueError(f"pad: expected an even number of ints, at most 2 per dim of the input's "
                         f"{input.ndim} (got {pad!r})")
    n = len(amounts) // 2
    if n == 0:
        return input * 1  # nothing to pad: a new tensor, as torch's
    pairs = [(0, 0)] * (input.ndim - n) + [
        (int(amounts[2 * k]), int(amounts[2 * k + 1])) for k in reversed(range(n))]
    for d, (before, after) in enumerate(pairs):
        if input.shape[d] + before + after < 0:
            raise ValueError(f"pad: padding {(before, after)} of dim {d} (size "
                             f"{input.shape[d]}) leaves a negative size")
    value = 0 if value is None else value
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"pad: expected a number `value` (got {type(value).__name__})")
    return Pad.apply(input, tuple(pairs), value)
