"""Reductions: sum, mean, var/std, max/min (with arg-extremum), argmax/argmin, any/all, logsumexp.

``dim`` is an int, a tuple of ints or None (all dims); negative dims count from the end.
Backward broadcasts the gradient back over the reduced dims.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor, norm_dim, norm_dims
from sparsegraph.tensor import Tensor, wrap

__all__ = ["sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "any", "all",
           "logsumexp", "amax", "amin"]

MaxMin = namedtuple("MaxMin", ["values", "indices"])


def _expand(g, shape, dims, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input shape."""
    if dims is None:
        return g.reshape((1,) * len(shape)) if g.ndim else g
    if not keepdim:
        g = xp_of(g).expand_dims(g, dims)
    return g


@register("sum", "cpu", "cuda")
def _sum_kernel(x, dims, keepdim):
    return x.sum(axis=dims, keepdims=keepdim)


@register("mean", "cpu", "cuda")
def _mean_kernel(x, dims, keepdim):
    if x.size == 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            return x.sum(axis=dims, keepdims=keepdim) / 0
    return x.mean(axis=dims, keepdims=keepdim)


@register("var", "cpu", "cuda")
def _var_kernel(x, dims, keepdim, correction):
    with np.errstate(invalid="ignore", divide="ignore"):
        return x.var(axis=dims, keepdims=keepdim, ddof=correction)


class Sum(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        out = dispatch("sum", ctx.device)(x.array, dims, keepdim)
        return out if x.dtype.kind in "fc" else out.astype(np.int64)

    @staticmethod
    def backward(ctx, g):
        g = _expand(g.array, ctx.shape, ctx.dims, ctx.keepdim)
        return xp_of(g).broadcast_to(g, ctx.shape), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        count = x.array.size if dims is None else int(np.prod([x.shape[d] for d in dims]))
        ctx.scale = 1.0 / count if count else 0.0
        return dispatch("mean", ctx.device)(x.array, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        g = _expand(g.array, ctx.shape, ctx.dims, ctx.keepdim) * g.dtype.type(ctx.scale)
        return xp_of(g).broadcast_to(g, ctx.shape), None, None


class Var(Function):
    """Variance with ``correction`` (1 = unbiased); d var / dx = 2 (x - mean) / (n - c)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, correction):
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim, ctx.correction = dims, keepdim, correction
        return dispatch("var", ctx.device)(x.array, dims, keepdim, correction)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        x = x.array
        n = x.size if ctx.dims is None else int(np.prod([x.shape[d] for d in ctx.dims]))
        centered = x - x.mean(axis=ctx.dims, keepdims=True)
        g = _expand(g.array, x.shape, ctx.dims, ctx.keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            gx = g * centered * x.dtype.type(2.0 / (n - ctx.correction))
        return gx, None, None, None


def _extremum_kernel(argfn):
    def kernel(x, dim):
        """``(values with dim kept, first arg-extremum indices)`` along ``dim``."""
        xp = xp_of(x)
        idx = argfn(x, axis=dim)
        return xp.take_along_axis(x, xp.expand_dims(idx, dim), dim), idx

    return kernel


register("max_dim", "cpu", "cuda")(_extremum_kernel(lambda x, axis: x.argmax(axis=axis)))
register("min_dim", "cpu", "cuda")(_extremum_kernel(lambda x, axis: x.argmin(axis=axis)))


class MaxMinDim(Function):
    """Max or min along one dim; the gradient goes to the first arg-extremum."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, op):
        vals, idx = dispatch(op + "_dim", ctx.device)(x.array, dim)
        ctx.shape, ctx.dim, ctx.keepdim, ctx.idx = x.shape, dim, keepdim, idx
        return vals if keepdim else vals.squeeze(dim), idx.astype(np.int64)

    @staticmethod
    def backward(ctx, g, g_idx=None):
        xp = xp_of(g.array)
        gx = xp.zeros(ctx.shape, dtype=g.dtype)
        gv = g.array if ctx.keepdim else xp.expand_dims(g.array, ctx.dim)
        xp.put_along_axis(gx, xp.expand_dims(ctx.idx, ctx.dim), gv, ctx.dim)
        return gx, None, None, None


class MaxMinAll(Function):
    """Max or min over all elements; ties share nothing: the first arg-extremum gets it all."""

    @staticmethod
    def forward(ctx, x, op):
        flat = x.array.reshape(-1)
        if flat.size == 0:
            raise ValueError(f"{op}: expected a non-empty tensor (got shape {x.shape})")
        ctx.idx = int(flat.argmax() if op == "max" else flat.argmin())
        ctx.shape = x.shape
        return flat[ctx.idx].reshape(())

    @staticmethod
    def backward(ctx, g):
        gx = xp_of(g.array).zeros(int(np.prod(ctx.shape)), dtype=g.dtype)
        gx[ctx.idx] = g.array
        return gx.reshape(ctx.shape), None


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        xp = xp_of(x.array)
        m = x.array.max(axis=dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        out = xp.log(xp.exp(x.array - m).sum(axis=dims, keepdims=True)) + m
        ctx.save_for_backward(x)
        ctx.out, ctx.dims, ctx.keepdim = out, dims, keepdim
        return out if keepdim else out.squeeze(axis=dims)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        g = _expand(g.array, x.shape, ctx.dims, ctx.keepdim)
        return g * xp_of(g).exp(x.array - ctx.out), None, None


def _dims(op, input, dim):
    check_tensor(op, "input", input)
    return norm_dims(op, dim, input.ndim)


def sum(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims if None); integer tensors sum to int64."""
    return Sum.apply(input, _dims("sum", input, dim), keepdim)


def mean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (all dims if None); floating tensors only."""
    dims = _dims("mean", input, dim)
    if input.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating tensor (got {input.dtype}); use .float()")
    return Mean.apply(input, dims, keepdim)


def var(input: Tensor, dim=None, keepdim: bool = False, unbiased: bool = True, *,
        correction: int | None = None) -> Tensor:
    """Variance over ``dim`` with Bessel's correction by default (``correction=1``)."""
    dims = _dims("var", input, dim)
    c = (1 if unbiased else 0) if correction is None else int(correction)
    return Var.apply(input, dims, keepdim, c)


def std(input: Tensor, dim=None, keepdim: bool = False, unbiased: bool = True, *,
        correction: int | None = None) -> Tensor:
    """Standard deviation: ``sqrt(var)`` (a composite)."""
    from sparsegraph.ops.elementwise import sqrt

    return sqrt(var(input, dim, keepdim, unbiased, correction=correction))


def _extremum(op, input, dim, keepdim):
    check_tensor(op, "input", input)
    if dim is None:
        return MaxMinAll.apply(input, op)
    d = norm_dim(op, dim, input.ndim)
    if input.shape and input.shape[d] == 0:
        raise ValueError(f"{op}: expected a non-empty dim {d} (got shape {input.shape})")
    values, indices = MaxMinDim.apply(input, d, keepdim, op)
    return MaxMin(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Largest element; with ``dim``, a ``(values, indices)`` pair as in PyTorch."""
    return _extremum("max", input, dim, keepdim)


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Smallest element; with ``dim``, a ``(values, indices)`` pair as in PyTorch."""
    return _extremum("min", input, dim, keepdim)


def amax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    out = max(input, dim, keepdim)
    return out if dim is None else out.values


def amin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    out = min(input, dim, keepdim)
    return out if dim is None else out.values


def _arg(op, input, dim, keepdim):
    check_tensor(op, "input", input)
    fn = input.array.argmax if op == "argmax" else input.array.argmin
    if dim is None:
        return wrap(xp_of(input.array).asarray(fn()).astype(np.int64))
    d = norm_dim(op, dim, input.ndim)
    return wrap(fn(axis=d, keepdims=keepdim).astype(np.int64))


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (flattened when ``dim`` is None); no gradient."""
    return _arg("argmax", input, dim, keepdim)


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg("argmin", input, dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = _dims("any", input, dim)
    return wrap(xp_of(input.array).asarray(input.array.any(axis=dims, keepdims=keepdim)))


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    dims = _dims("all", input, dim)
    return wrap(xp_of(input.array).asarray(input.array.all(axis=dims, keepdims=keepdim)))


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed stably (the max is subtracted first)."""
    return LogSumExp.apply(input, _dims("logsumexp", input, dim), keepdim)
