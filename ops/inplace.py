"""In-place updates: `add_`, `mul_`, `div_`, `fill_`, `copy_`.

Each bumps the tensor's version counter, so a backward that saved the old values raises. When
the graph is recorded, the tensor's history is rebased onto the update (`Function.apply_inplace`).
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import QUIET_FP, arr, broadcasts_to, kept_array, shape_of, unbroadcast
from sparsegraph.ops.ternary import clamp_bounds, clamp_grads
from sparsegraph.tensor import Tensor

__all__ = ["add_", "mul_", "div_", "fill_", "copy_", "clamp_"]


@register("add_", "cpu", "cuda")
def _add_kernel(x, other, alpha):
    if alpha == 1:
        x += other
    else:
        x += alpha * other
    return x


@register("mul_", "cpu", "cuda")
def _mul_kernel(x, other):
    x *= other
    return x


@register("div_", "cpu", "cuda")
def _div_kernel(x, other):
    x /= other
    return x


@register("fill_", "cpu", "cuda")
def _fill_kernel(x, value):
    x[...] = value
    return x


class AddInplace(Function):
    op_name = "add_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, other, alpha):
        ctx.alpha, ctx.other_shape = alpha, shape_of(other)
        return dispatch("add_", ctx.device)(x.array, arr(other), alpha)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        go = unbroadcast(g.array * ctx.alpha, ctx.other_shape) if need[1] else None
        return (g if need[0] else None), go, None


def _save_operand(ctx, x: Tensor, other, keep: bool):
    """Keep ``other`` for backward when ``keep`` (a needed gradient reads it; else nothing is
    kept, so changing it in place later is no error, as in PyTorch): a Tensor through
    save_for_backward (so changing it in place before backward raises), or a private copy when
    it shares memory with ``x`` (the write would change it: ``y.mul_(y)``); a host array the
    caller may still write is copied (`kept_array`). Returns the array forward should use."""
    if not isinstance(other, Tensor):  # a number or an array
        ctx.other = kept_array(other) if keep else other
        return other
    o = other.array
    if not keep:
        return o
    if x.xp.may_share_memory(x.array, o):
        ctx.other = o = o.copy()
    else:
        ctx.other = None
        ctx.save_for_backward(other)
    return o


def _operand(ctx):
    return ctx.other if ctx.other is not None else ctx.saved_tensors[0].array


class MulInplace(Function):
    op_name = "mul_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, other):
        ctx.old = x.array.copy() if ctx.needs_input_grad[1] else None
        ctx.other_shape = shape_of(other)
        # d/dx reads other; d/dother reads x's old values
        o = _save_operand(ctx, x, other, ctx.needs_input_grad[0])
        return dispatch("mul_", ctx.device)(x.array, o)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gx = g.array * _operand(ctx) if need[0] else None
        go = unbroadcast(g.array * ctx.old, ctx.other_shape) if need[1] else None
        return gx, go


class DivInplace(Function):
    op_name = "div_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, other):
        ctx.old = x.array.copy() if ctx.needs_input_grad[1] else None
        ctx.other_shape = shape_of(other)
        o = _save_operand(ctx, x, other, any(ctx.needs_input_grad))  # both gradients read it
        with np.errstate(**QUIET_FP):  # x / 0 is inf or nan, as x / 0
            return dispatch("div_", ctx.device)(x.array, o)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        o = _operand(ctx)
        gx = g.array / o if need[0] else None
        go = unbroadcast(-g.array * ctx.old / (o * o), ctx.other_shape) if need[1] else None
        return gx, go


class ClampInplace(Function):
    op_name = "clamp_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, lo, hi):
        lo, hi = arr(lo), arr(hi)
        if any(ctx.needs_input_grad):  # masks from the values before they are overwritten
            ctx.masks = dispatch("clamp_masks", ctx.device)(x.array, lo, hi, ctx.needs_input_grad)
            ctx.shapes = x.shape, np.shape(lo), np.shape(hi)
            ctx.dtypes = x.dtype, getattr(lo, "dtype", None), getattr(hi, "dtype", None)
        x.array[...] = dispatch("clamp", ctx.device)(x.array, lo, hi)
        return x.array

    backward = staticmethod(clamp_grads)


class Fill(Function):
    op_name = "fill_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, value):
        return dispatch("fill_", ctx.device)(x.array, arr(value))

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        # the overwritten input's gradient is 0, not None: as torch, whatever made it still
        # gets a (zero) .grad, so optimizers apply weight decay / momentum to it
        return (_zeros_like(g.array) if need[0] else None,
                g.array.sum().reshape(()) if need[1] else None)


class Copy(Function):
    op_name = "copy_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, src):
        ctx.src_shape, ctx.src_device, ctx.src_dtype = src.shape, src.device, src.dtype
        # a copy may cross devices and dtypes (as torch's copy_); the gradient goes back to
        # src's device in src's dtype
        x.array[...] = backend.to_device(src.array, x.device)
        return x.array

    @staticmethod
    def backward(ctx, g):
        gx = _zeros_like(g.array) if ctx.needs_input_grad[0] else None  # overwritten: 0
        if not ctx.needs_input_grad[1]:
            return gx, None
        gs = unbroadcast(g.array, ctx.src_shape)
        if gs.dtype != ctx.src_dtype:
            gs = gs.astype(ctx.src_dtype)
        return gx, backend.to_device(gs, ctx.src_device)


def _zeros_like(a):
    return backend.xp_of(a).zeros_like(a)


def _check(op, x, other=None, *, cross_device=False, divide=False):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor (got {type(x).__name__})")
    if isinstance(other, Tensor) and not cross_device and other.device != x.device:
        raise ValueError(f"{op}: `other` is on {other.device} but the tensor is on {x.device}; "
                         "move it with .to()")
    if hasattr(other, "shape") and not broadcasts_to(other.shape, x.shape):
        raise ValueError(f"{op}: `other` of shape {other.shape} cannot be broadcast to the "
                         f"tensor's shape {x.shape}")
    if other is None or cross_device:
        return
    o = other.array if isinstance(other, Tensor) else other
    if not isinstance(o, bool | int | float | np.generic) and not hasattr(o, "dtype"):
        raise TypeError(f"{op}: expected `other` to be a Tensor or a number "
                        f"(got {type(other).__name__})")
    _check_cast(op, x, backend.result_type(x.array, o, floating=divide, op=op))


def _check_cast(op: str, x: Tensor, result) -> None:
    """PyTorch's in-place rule: the result dtype must cast to the tensor's within its kind."""
    if not np.can_cast(result, x.dtype, "same_kind"):
        raise TypeError(f"{op}: the result type {result} can't be cast to the tensor's dtype "
                        f"{x.dtype} in place; use the out-of-place op or convert with .to()")


def _as_operand(input: Tensor, other):
    """A raw array operand moved to input's device (host data moves, as in `copy_`); it stays an
    array, which the Function copies only if a gradient reads it (`_save_operand`)."""
    if isinstance(other, Tensor) or isinstance(other, np.generic) or not hasattr(other, "shape"):
        return other
    return backend.to_device(other, input.device)


def add_(input: Tensor, other, alpha=1) -> Tensor:
    """``input += alpha * other`` in place."""
    other = _as_operand(input, other)
    _check("add_", input, other)
    return AddInplace.apply_inplace(input, other, alpha)


def mul_(input: Tensor, other) -> Tensor:
    """``input *= other`` in place."""
    other = _as_operand(input, other)
    _check("mul_", input, other)
    return MulInplace.apply_inplace(input, other)


def div_(input: Tensor, other) -> Tensor:
    """``input /= other`` in place (a floating tensor; ``x / 0`` gives inf or nan)."""
    other = _as_operand(input, other)
    _check("div_", input, other, divide=True)
    return DivInplace.apply_inplace(input, other)


def clamp_(input: Tensor, min=None, max=None) -> Tensor:
    """Clip ``input`` to ``[min, max]`` in place (bounds as `clamp`'s)."""
    lo, hi = clamp_bounds("clamp_", input, min, max)
    bounds = [b for b in (lo, hi) if b is not None]
    # an int tensor clamped to 2.5 would be float: refused, as `add_(2.5)` is (and PyTorch)
    _check_cast("clamp_", input, backend.result_type(input, *bounds, op="clamp_"))
    lo, hi = (b.to(input.dtype) if isinstance(b, Tensor) and b.dtype != input.dtype else b
              for b in (lo, hi))
    return ClampInplace.apply_inplace(input, lo, hi)


def fill_(input: Tensor, value) -> Tensor:
    """Set every element to ``value`` in place."""
    _check("fill_", input)
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"fill_: expected `value` to be a number or a 0-d Tensor (got a "
                             f"Tensor of shape {value.shape})")
    elif isinstance(value, str | bytes) or not isinstance(value, int | float | np.number):
        raise TypeError(f"fill_: expected `value` to be a number or a 0-d Tensor (got "
                        f"{type(value).__name__} {value!r})")
    elif input.dtype.kind in "biu" and not np.isfinite(value):
        raise ValueError(f"fill_: `value` {value!r} cannot be converted to {input.dtype}")
    return Fill.apply_inplace(input, value)


def copy_(input: Tensor, src: Tensor) -> Tensor:
    """Copy ``src`` (broadcast to ``input``'s shape) into ``input`` in place."""
    if not isinstance(src, Tensor):
        from sparsegraph.creation import tensor

        src = tensor(src, dtype=input.dtype)
    _check("copy_", input, src, cross_device=True)
    return Copy.apply_inplace(input, src)
