"""Elementwise ops of three operands: `clamp` (input and two bounds), `where` (condition and
two branches) and `lerp` (two ends and a weight), with numpy broadcasting; gradients go where
each operand is the result."""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import promote, result_type, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import (
    arr,
    broadcasts_to,
    check_float,
    kept_array,
    same_device,
    shape_of,
    unbroadcast,
)
from sparsegraph.ops.elementwise import _as_tensor, _binary_args, _cast
from sparsegraph.ops.index import nonzero
from sparsegraph.tensor import Tensor, wrap

__all__ = ["clamp", "clip", "where", "lerp"]


@register("clamp", "cpu", "cuda")
def _clamp_kernel(x, lo, hi):
    return xp_of(x).clip(x, lo, hi)


@register("clamp_masks", "cpu", "cuda")
def _clamp_masks_kernel(x, lo, hi, needs):
    """Where the gradient goes, as ``min(max(x, lo), hi)``: to x inside [lo, hi] (bounds
    included), to ``lo`` where it lifts x (and does not exceed hi), to ``hi`` where it caps."""
    xp = xp_of(x)
    lifted = x if lo is None else xp.maximum(x, lo)
    keep_x = keep_lo = keep_hi = None
    if needs[0]:
        keep_x = xp.ones(x.shape, bool) if lo is None else x >= lo
        if hi is not None:
            keep_x = keep_x & (lifted <= hi)
    if needs[1]:
        keep_lo = x < lo if hi is None else (x < lo) & (lo <= hi)
    if needs[2]:
        keep_hi = lifted > hi
    return keep_x, keep_lo, keep_hi


def clamp_grads(ctx, g):
    """The gradients of `Clamp` / `ClampInplace` from the masks forward kept: selected, not
    multiplied, as torch's ``where`` (an inf or NaN gradient where x was clamped gives 0,
    e.g. through ``x.clamp(min=0).sqrt()`` at x < 0, where ``inf * 0`` would be NaN)."""
    g = g.array
    zero = g.dtype.type(0)
    return tuple(None if m is None else
                 _cast(unbroadcast(xp_of(g).where(m, g, zero), shape), dtype)
                 for m, shape, dtype in zip(ctx.masks, ctx.shapes, ctx.dtypes, strict=True))


class Clamp(Function):
    """``min(max(x, lo), hi)``; the gradient passes where x is inside [lo, hi] (bounds
    included); a Tensor bound gets the gradient where it is the result. The result has the
    PyTorch dtype of all three (an int tensor clamped to 2.5 is float32)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        # gradients go back in each input's own dtype
        dtypes = x.dtype, getattr(lo, "dtype", None), getattr(hi, "dtype", None)
        x, lo, hi = promote_all(x.array, arr(lo), arr(hi))
        if any(ctx.needs_input_grad):
            ctx.masks = dispatch("clamp_masks", ctx.device)(x, lo, hi, ctx.needs_input_grad)
            ctx.shapes, ctx.dtypes = (x.shape, np.shape(lo), np.shape(hi)), dtypes
        return dispatch("clamp", ctx.device)(x, lo, hi)

    backward = staticmethod(clamp_grads)


def promote_all(*operands):
    """Array operands cast to the PyTorch result dtype of all of them (scalars stay weak)."""
    dt = result_type(*(x for x in operands if x is not None))
    return tuple(x.astype(dt) if hasattr(x, "shape") and x.dtype != dt else x
                 for x in operands)


def _int_bound(op: str, name: str, b: int, dtype) -> int:
    """An int bound of an integer tensor, within its dtype: one past the range on its own
    side clips nothing (``u8.clamp(max=300)``) and becomes the range's end; one that every
    element would have to reach (``u8.clamp(min=300)``) cannot be stored, so it is named."""
    info = np.iinfo(dtype)
    if info.min <= b <= info.max:
        return b
    if (name == "max") == (b > info.max):
        return info.max if b > info.max else info.min
    raise ValueError(f"{op}: `{name}` {b} is out of range for the {dtype} tensor "
                     f"([{info.min}, {info.max}])")


def clamp_bounds(op: str, input: Tensor, min, max) -> tuple:
    """Validated bounds: numbers (numpy scalars become Python ones, so float32 stays float32),
    Tensors broadcastable to ``input``, or None."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected `input` to be a Tensor (got {type(input).__name__})")
    if min is None and max is None:
        raise ValueError(f"{op}: expected at least one of `min` and `max` (got neither)")
    out = []
    for name, b in (("min", min), ("max", max)):
        if isinstance(b, np.generic):
            b = b.item()
        elif isinstance(b, list | tuple | np.ndarray):
            result_type(np.asarray(b), op=op)  # complex bounds named, not cast with a warning
            b = wrap(input.xp.asarray(b, dtype=input.dtype))
        if isinstance(b, Tensor):
            same_device(op, input, b)
            if not broadcasts_to(b.shape, input.shape):
                raise ValueError(f"{op}: expected `{name}` broadcastable to the input's shape "
                                 f"{input.shape} (got {b.shape})")
        elif b is not None and (isinstance(b, str) or not isinstance(b, int | float)):
            raise TypeError(f"{op}: expected `{name}` to be a number, a Tensor or None (got "
                            f"{type(b).__name__} {b!r})")
        elif isinstance(b, int) and input.dtype.kind in "iu":
            b = _int_bound(op, name, b, input.dtype)
        out.append(b)
    return tuple(out)


def clamp(input: Tensor, min=None, max=None) -> Tensor:
    """Clip ``input`` to ``[min, max]``; each bound is a number, a Tensor broadcastable to
    ``input`` (differentiable) or None."""
    return Clamp.apply(input, *clamp_bounds("clamp", input, min, max))


clip = clamp


@register("where", "cpu", "cuda")
def _where_kernel(cond, a, b):
    return xp_of(cond).where(cond, a, b)


class Where(Function):
    """``cond ? a : b`` elementwise; gradients flow to the branch that was taken."""

    @staticmethod
    def forward(ctx, cond, a, b):
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(cond)  # an in-place change to it then raises in backward
            ctx.shapes = shape_of(a), shape_of(b)
            ctx.dtypes = getattr(a, "dtype", None), getattr(b, "dtype", None)
        return dispatch("where", ctx.device)(cond.array, *promote(arr(a), arr(b)))

    @staticmethod
    def backward(ctx, g):
        cond = ctx.saved_tensors[0].array
        g, zero = g.array, g.array.dtype.type(0)
        need = ctx.needs_input_grad
        ga = unbroadcast(xp_of(g).where(cond, g, zero), ctx.shapes[0]) if need[1] else None
        gb = unbroadcast(xp_of(g).where(cond, zero, g), ctx.shapes[1]) if need[2] else None
        # a float32 branch beside a float64 one gets a float32 gradient (the engine checks)
        return None, _cast(ga, ctx.dtypes[0]), _cast(gb, ctx.dtypes[1])


def _condition(condition) -> Tensor:
    """``condition`` as a Tensor: a numpy or device array is wrapped, as the branches are
    (copied if writeable, `kept_array`: backward reads it); anything else is a TypeError."""
    if isinstance(condition, Tensor):
        return condition
    if hasattr(condition, "dtype") and hasattr(condition, "shape"):
        return wrap(kept_array(condition))
    raise TypeError(f"where: expected `condition` to be a Tensor or an array (got "
                    f"{type(condition).__name__})")


def where(condition: Tensor, input=None, other=None):
    """Pick ``input`` where ``condition`` is true, else ``other`` (broadcasting).

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``, as in PyTorch: a
    tuple of int64 index tensors, one per dim (no gradient). ``condition`` is a bool Tensor
    or array (a numpy one, like a branch, is wrapped as a Tensor on the cpu).
    """
    condition = _condition(condition)
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        missing = "input" if input is None else "other"
        raise TypeError(f"where: expected both `input` and `other`, or neither (for the "
                        f"indices of `condition`); `{missing}` is missing")
    if condition.dtype != np.bool_:
        raise TypeError(f"where: expected `condition` to be a bool Tensor (got {condition.dtype})")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor) and all(
            isinstance(v, int | float | bool | np.number | np.bool_) for v in (input, other)):
        # two scalars: PyTorch 2 gives their promoted default dtype (float32 for 1.0, 0.0)
        input = wrap(condition.xp.asarray(input, dtype=result_type(input, other)))
    # numpy branches as Tensors: checked against the condition's device (no gradient reads them)
    input, other = map(_as_tensor, _binary_args("where", input, other))
    same_device("where", condition, input, other)
    try:
        np.broadcast_shapes(condition.shape, shape_of(input), shape_of(other))
    except ValueError:
        raise ValueError(f"where: shapes {condition.shape} (condition), {shape_of(input)} and "
                         f"{shape_of(other)} cannot be broadcast together") from None
    result_type(input, other, op="where")  # a complex / object branch named here
    return Where.apply(condition, input, other)


# ---- lerp ------------------------------------------------------------------------------------
@register("lerp", "cpu", "cuda")
def _lerp_kernel(x, end, w):
    """torch's formula: ``x + w (end - x)`` for ``|w| < 0.5``, else ``end - (end - x)(1 - w)``
    (exact at both ends: ``w = 1`` gives ``end``)."""
    xp = xp_of(x)
    diff = end - x
    return xp.where(xp.abs(w) < 0.5, x + w * diff, end - diff * (1 - w))


class Lerp(Function):
    """``input + weight * (end - input)``; ``weight`` a Tensor or a number."""

    @staticmethod
    def forward(ctx, x, end, w):
        need = ctx.needs_input_grad
        if any(need):
            # d/dinput and d/dend read the weight; d/dweight reads both ends
            ctx.save_for_backward(x if need[2] else None, end if need[2] else None,
                                  w if isinstance(w, Tensor) and (need[0] or need[1]) else None)
            ctx.w = None if isinstance(w, Tensor) else w
            ctx.shapes = x.shape, end.shape, shape_of(w)
        return dispatch("lerp", ctx.device)(x.array, end.array, arr(w))

    @staticmethod
    def backward(ctx, g):
        x, end, w = ctx.saved_tensors
        w = ctx.w if w is None else w.array
        g, need = g.array, ctx.needs_input_grad
        gx = unbroadcast(g * (1 - w), ctx.shapes[0]) if need[0] else None
        ge = unbroadcast(g * w, ctx.shapes[1]) if need[1] else None
        gw = unbroadcast(g * (end.array - x.array), ctx.shapes[2]) if need[2] else None
        return gx, ge, gw


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """Linear interpolation ``input + weight * (end - input)`` (torch.lerp), broadcasting all
    three; differentiable in ``input``, ``end`` and a Tensor ``weight``.

    Args:
        input: a floating tensor, the start points.
        end: the end points, ``input``'s dtype and device.
        weight: a number, or a Tensor of ``input``'s dtype and device.

    Raises:
        TypeError: ``input`` / ``end`` not Tensors or not floating, different dtypes, or
            ``weight`` neither a number nor a Tensor.
        ValueError: shapes that do not broadcast, or operands on different devices.
    """
    for name, t in (("input", input), ("end", end)):
        if not isinstance(t, Tensor):
            raise TypeError(f"lerp: expected `{name}` to be a Tensor (got {type(t).__name__})")
    check_float("lerp", "input", input)
    if isinstance(weight, np.generic):
        weight = weight.item()
    if isinstance(weight, bool) or not isinstance(weight, int | float | Tensor):
        raise TypeError(f"lerp: expected `weight` to be a number or a Tensor (got "
                        f"{type(weight).__name__})")
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != input.dtype:
            raise TypeError(f"lerp: expected `{name}` with the dtype of `input`, {input.dtype} "
                            f"(got {t.dtype}); convert it with .to()")
    same_device("lerp", input, end, weight)
    try:
        np.broadcast_shapes(input.shape, end.shape, shape_of(weight))
    except ValueError:
        raise ValueError(f"lerp: shapes {input.shape} (input), {end.shape} (end) and "
                         f"{shape_of(weight)} (weight) cannot be broadcast together") from None
    return Lerp.apply(input, end, weight if isinstance(weight, Tensor) else float(weight))
