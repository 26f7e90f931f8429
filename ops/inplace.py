"""In-place updates: `add_`, `mul_`, `fill_`, `copy_`.

Each bumps the tensor's version counter, so a backward that saved the old values raises. When
the graph is recorded, the tensor's history is rebased onto the update (`Function.apply_inplace`).
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import arr, shape_of, unbroadcast
from sparsegraph.tensor import Tensor

__all__ = ["add_", "mul_", "fill_", "copy_"]


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


@register("fill_", "cpu", "cuda")
def _fill_kernel(x, value):
    x[...] = value
    return x


class AddInplace(Function):
    @staticmethod
    def forward(ctx, x, other, alpha):
        ctx.alpha, ctx.other_shape = alpha, shape_of(other)
        return dispatch("add_", ctx.device)(x.array, arr(other), alpha)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        go = unbroadcast(g.array * ctx.alpha, ctx.other_shape) if need[1] else None
        return (g if need[0] else None), go, None


class MulInplace(Function):
    @staticmethod
    def forward(ctx, x, other):
        ctx.old = x.array.copy() if ctx.needs_input_grad[1] else None
        ctx.other = arr(other)
        ctx.other_shape = shape_of(other)
        return dispatch("mul_", ctx.device)(x.array, ctx.other)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gx = g.array * ctx.other if need[0] else None
        go = unbroadcast(g.array * ctx.old, ctx.other_shape) if need[1] else None
        return gx, go


class Fill(Function):
    @staticmethod
    def forward(ctx, x, value):
        return dispatch("fill_", ctx.device)(x.array, arr(value))

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        return None, (g.array.sum().reshape(()) if need[1] else None)


class Copy(Function):
    @staticmethod
    def forward(ctx, x, src):
        ctx.src_shape, ctx.src_device = src.shape, src.device
        # a copy may cross devices (as torch's copy_); the gradient goes back to src's device
        x.array[...] = backend.to_device(src.array, x.device)
        return x.array

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        return None, (backend.to_device(unbroadcast(g.array, ctx.src_shape), ctx.src_device)
                      if need[1] else None)


def _check(op, x, other=None, *, cross_device=False):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor (got {type(x).__name__})")
    if isinstance(other, Tensor) and not cross_device and other.device != x.device:
        raise ValueError(f"{op}: `other` is on {other.device} but the tensor is on {x.device}; "
                         "move it with .to()")
    if isinstance(other, Tensor):
        try:
            if np.broadcast_shapes(x.shape, other.shape) != x.shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"{op}: `other` of shape {other.shape} cannot be broadcast to the "
                             f"tensor's shape {x.shape}") from None


def add_(input: Tensor, other, alpha=1) -> Tensor:
    """``input += alpha * other`` in place."""
    _check("add_", input, other)
    return AddInplace.apply_inplace(input, other, alpha)


def mul_(input: Tensor, other) -> Tensor:
    """``input *= other`` in place."""
    _check("mul_", input, other)
    return MulInplace.apply_inplace(input, other)


def fill_(input: Tensor, value) -> Tensor:
    """Set every element to ``value`` in place."""
    _check("fill_", input)
    return Fill.apply_inplace(input, value)


def copy_(input: Tensor, src: Tensor) -> Tensor:
    """Copy ``src`` (broadcast to ``input``'s shape) into ``input`` in place."""
    if not isinstance(src, Tensor):
        from sparsegraph.creation import tensor

        src = tensor(src, dtype=input.dtype)
    _check("copy_", input, src, cross_device=True)
    return Copy.apply_inplace(input, src)
