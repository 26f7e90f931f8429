"""Extrema: max/min (values and the first arg-extremum), amax/amin, argmax/argmin.

``max`` / ``min`` route the gradient to the first arg-extremum (torch's rule); ``amax`` /
``amin`` share it evenly among tied extrema. ``dim`` follows `sparsegraph.ops.reduce`.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import expand_reduced, norm_dim, reduce_dims
from sparsegraph.ops.reduce import _check, _out_shape
from sparsegraph.tensor import Tensor

__all__ = ["max", "min", "amax", "amin", "argmax", "argmin"]

MaxMin = namedtuple("MaxMin", ["values", "indices"])
MaxMin.__doc__ = "``(values, indices)`` returned by `max` / `min` with a ``dim`` (as torch's)."


# ---- kernels ---------------------------------------------------------------------------------
def _extremum_kernel(arg):
    def kernel(x, dim):
        """``(values with dim kept, first arg-extremum indices)`` along ``dim``."""
        xp = xp_of(x)
        idx = getattr(x, arg)(axis=dim, keepdims=True)
        return xp.take_along_axis(x, idx, dim), idx

    return kernel


register("max_dim", "cpu", "cuda")(_extremum_kernel("argmax"))
register("min_dim", "cpu", "cuda")(_extremum_kernel("argmin"))


@register("take_along_backward", "cpu", "cuda")
def _take_along_backward_kernel(g, idx, shape, dim):
    """The gradient of ``take_along_axis(x, idx, dim)`` for distinct ``idx`` along ``dim``:
    ``g`` put back at the positions ``idx`` it was taken from, zeros elsewhere (max / min with
    a dim, sort, topk)."""
    xp = xp_of(g)
    gx = xp.zeros(shape, dtype=g.dtype)
    xp.put_along_axis(gx, idx, g, dim)
    return gx


def _arg_kernel(arg):
    def kernel(x, dim, keepdim):
        if dim is None:
            idx = getattr(x.reshape(-1), arg)()
            idx = xp_of(x).asarray(idx).reshape((1,) * x.ndim if keepdim else ())
        else:
            idx = getattr(x, arg)(axis=dim, keepdims=keepdim)
        return idx.astype(np.int64, copy=False)

    return kernel


register("argmax", "cpu", "cuda")(_arg_kernel("argmax"))
register("argmin", "cpu", "cuda")(_arg_kernel("argmin"))


@register("extremum_all_backward", "cpu", "cuda")
def _extremum_all_backward_kernel(g, idx, shape):
    gx = xp_of(g).zeros(math.prod(shape), dtype=g.dtype)
    gx[idx] = g
    return gx.reshape(shape)


register("amax", "cpu", "cuda")(lambda x, dims: x.max(axis=dims, keepdims=True))
register("amin", "cpu", "cuda")(lambda x, dims: x.min(axis=dims, keepdims=True))


@register("amax_backward", "cpu", "cuda")
def _amax_backward_kernel(x, y, g, dims, keepdim):
    """torch's rule for amax / amin: the gradient is shared evenly among tied extrema."""
    hit = x == y
    share = hit.sum(axis=dims, keepdims=True, dtype=g.dtype)
    with np.errstate(invalid="ignore", divide="ignore"):  # nan slices: no element equals y
        return expand_reduced(g, x.ndim, dims, keepdim) / share * hit


# ---- Functions -------------------------------------------------------------------------------
class MaxMinDim(Function):
    """Max or min along one dim; the gradient goes to the first arg-extremum (torch's rule)."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, op):
        vals, idx = dispatch(op + "_dim", ctx.device)(x.array, dim)
        ctx.shape, ctx.dim, ctx.keepdim, ctx.idx = x.shape, dim, keepdim, idx
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, g, g_indices=None):
        g = g.array if ctx.keepdim else xp_of(g.array).expand_dims(g.array, ctx.dim)
        return dispatch("take_along_backward", ctx.device)(
            g, ctx.idx, ctx.shape, ctx.dim), None, None, None


class MaxMinAll(Function):
    """Max or min over all elements; the first arg-extremum gets the whole gradient."""

    @staticmethod
    def forward(ctx, x, op):
        flat = x.array.reshape(-1)
        ctx.idx = dispatch("arg" + op, ctx.device)(flat, None, False)
        ctx.shape = x.shape
        return flat[ctx.idx].reshape(())

    @staticmethod
    def backward(ctx, g):
        return dispatch("extremum_all_backward", ctx.device)(g.array, ctx.idx, ctx.shape), None


class AMaxMin(Function):
    """amax / amin over ``dims``; tied extrema share the gradient evenly (torch's rule)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, op):
        y = dispatch(op, ctx.device)(x.array, dims)
        ctx.save_for_backward(x)
        ctx.y, ctx.dims, ctx.keepdim = y, dims, keepdim
        return y if keepdim else y.reshape(_out_shape(x.shape, dims, False))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return dispatch("amax_backward", ctx.device)(
            x.array, ctx.y, g.array, ctx.dims, ctx.keepdim), None, None, None


# ---- public functions --------------------------------------------------------------------------
def _dim(op: str, input, dim) -> int:
    """Validate a single ``dim`` (max / min / argmax / argmin take one int)."""
    if isinstance(dim, Tensor) and op in ("max", "min"):
        raise TypeError(f"{op}: expected `dim` to be an int or None (got a Tensor); for the "
                        f"elementwise {op} of two tensors use sg.{op}imum(a, b)")
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"{op}: expected `dim` to be an int or None (got {dim!r})")
    return norm_dim(op, dim, input.ndim)


def _extremum(op: str, input, dim, keepdim: bool):
    _check(op, input)
    if dim is None:
        if input.array.size == 0:
            raise ValueError(f"{op}: expected a non-empty tensor (got shape {input.shape}); "
                             "pass `dim` or check the input")
        return MaxMinAll.apply(input, op)
    d = _dim(op, input, dim)
    if input.ndim == 0:  # torch: the value itself and index 0
        values, indices = MaxMinDim.apply(input.reshape(1), 0, False, op)
        return MaxMin(values, indices)
    if input.shape[d] == 0:
        raise ValueError(f"{op}: expected a non-empty dim {d} (got shape {input.shape})")
    values, indices = MaxMinDim.apply(input, d, keepdim, op)
    return MaxMin(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Largest element; with an int ``dim``, a ``(values, indices)`` namedtuple as in torch.

    The gradient goes to the first occurrence of the extremum (ties get nothing).

    Raises:
        ValueError: on an empty tensor / dim, or a dim out of range.
        TypeError: if ``dim`` is not an int (use `amax` for several dims).
    """
    return _extremum("max", input, dim, keepdim)


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Smallest element; with an int ``dim``, a ``(values, indices)`` namedtuple as in torch."""
    return _extremum("min", input, dim, keepdim)


def _amax(op: str, input, dim, keepdim: bool) -> Tensor:
    dims = reduce_dims(op, input, dim)
    if input.array.size == 0 and (dims is None or builtins.any(input.shape[d] == 0
                                                            for d in dims)):
        raise ValueError(f"{op}: expected a non-empty reduction (got shape {input.shape} and "
                         f"dim={dim!r})")
    return AMaxMin.apply(input, dims, keepdim, op)


def amax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (an int, a tuple or None), values only; tied maxima share the
    gradient evenly (torch's amax)."""
    return _amax("amax", input, dim, keepdim)


def amin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (an int, a tuple or None), values only; ties share the gradient."""
    return _amax("amin", input, dim, keepdim)


class ArgExtremum(Function):
    """argmax / argmin: an int64 output, no gradient; a Function so that static capture
    records it."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, op):
        return dispatch(op, ctx.device)(x.array, dim, keepdim)


def _arg(op: str, input, dim, keepdim: bool) -> Tensor:
    _check(op, input)
    d = None if dim is None else _dim(op, input, dim)
    if d is not None and input.ndim == 0:
        d = None
    if input.array.size == 0 and (d is None or input.shape[d] == 0):
        raise ValueError(f"{op}: expected a non-empty tensor / dim (got shape {input.shape})")
    return ArgExtremum.apply(input, d, keepdim, op)


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the first largest element along ``dim``, or into the flattened
    tensor when ``dim`` is None; no gradient."""
    return _arg("argmax", input, dim, keepdim)


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the first smallest element; see `argmax`."""
    return _arg("argmin", input, dim, keepdim)
