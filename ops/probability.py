"""Dense softmax and log-softmax along one dim, stable (the max is subtracted first)."""

from __future__ import annotations

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor, norm_dim
from sparsegraph.tensor import Tensor

__all__ = ["softmax", "log_softmax"]


@register("softmax", "cpu", "cuda")
def _softmax_kernel(x, dim):
    e = xp_of(x).exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


@register("softmax_backward", "cpu", "cuda")
def _softmax_backward_kernel(y, g, dim):
    return y * (g - (g * y).sum(axis=dim, keepdims=True))


@register("log_softmax", "cpu", "cuda")
def _log_softmax_kernel(x, dim):
    z = x - x.max(axis=dim, keepdims=True)
    return z - xp_of(x).log(xp_of(x).exp(z).sum(axis=dim, keepdims=True))


@register("log_softmax_backward", "cpu", "cuda")
def _log_softmax_backward_kernel(y, g, dim):
    return g - xp_of(y).exp(y) * g.sum(axis=dim, keepdims=True)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        ctx.y = dispatch("softmax", ctx.device)(x.array, dim)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return dispatch("softmax_backward", ctx.device)(ctx.y, g.array, ctx.dim), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        ctx.y = dispatch("log_softmax", ctx.device)(x.array, dim)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return dispatch("log_softmax_backward", ctx.device)(ctx.y, g.array, ctx.dim), None


def _check(op, input, dim):
    check_tensor(op, "input", input)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor (got {input.dtype})")
    return norm_dim(op, dim, input.ndim)


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``."""
    return Softmax.apply(input, _check("softmax", input, dim))


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``."""
    return LogSoftmax.apply(input, _check("log_softmax", input, dim))
