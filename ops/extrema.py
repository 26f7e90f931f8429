"""Extrema: max/min (values and the first arg-extremum), amax/amin, argmax/argmin.

``max`` / ``min`` with a ``dim`` route the gradient to the returned (first) arg-extremum;
``max()`` / ``min()`` over all elements, ``amax`` and ``amin`` share it evenly among tied
extrema (torch's rules: ``evenly_distribute_backward`` for the no-dim overload).
``dim`` follows `sparsegraph.ops.reduce`. The two selection Functions, `SelectDim` and
`SelectAll`, also serve `sparsegraph.ops.sorting` (median, sort, topk).
"""

from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import QUIET_FP, expand_reduced, norm_dim, numpy_args, reduce_dims
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
        idx = getattr(x, arg)(axis=dim, keepdims=True).astype(np.int64, copy=False)
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
def _extremum_all_backward_kernel(g, x, y):
    """torch's ``evenly_distribute_backward`` for max() / min() over all elements: the scalar
    gradient ``g`` shared evenly among the elements equal to the extremum ``y`` (among the
    nans when ``y`` is nan, as nan != nan)."""
    xp = xp_of(x)
    hit = (x == y) | (xp.isnan(x) & xp.isnan(y))
    return (hit * (g / hit.sum(dtype=g.dtype))).astype(g.dtype, copy=False)


register("amax", "cpu", "cuda")(lambda x, dims: x.max(axis=dims, keepdims=True))
register("amin", "cpu", "cuda")(lambda x, dims: x.min(axis=dims, keepdims=True))


@register("amax_backward", "cpu", "cuda")
def _amax_backward_kernel(x, y, g, dims, keepdim):
    """torch's rule for amax / amin: the gradient is shared evenly among tied extrema."""
    hit = x == y
    share = hit.sum(axis=dims, keepdims=True, dtype=g.dtype)
    with np.errstate(**QUIET_FP):  # nan slices: no element equals y
        return expand_reduced(g, x.ndim, dims, keepdim) / share * hit


# ---- Functions -------------------------------------------------------------------------------
# max / min / median / sort / topk: elements selected from the input, so the gradient goes back
# to where each was taken from. One Function per form; the kernel named by the caller selects.
class SelectDim(Function):
    """Elements selected along ``dim`` by the kernel ``kernel(x, dim, *args)``, which returns
    ``(values, int64 indices)`` with ``dim`` kept (``indices`` into ``dim``, distinct within a
    slice); the gradient goes to the selected positions (max / min / median with a dim, sort,
    topk). Backward reads the returned indices, version-checked: an in-place change to them
    raises, as in PyTorch, instead of moving the gradient."""

    @staticmethod
    def forward(ctx, x, kernel, dim, keepdim, args=()):
        values, idx = dispatch(kernel, ctx.device)(x.array, dim, *args)
        if not keepdim:
            values, idx = values.squeeze(dim), idx.squeeze(dim)
        if not ctx.needs_input_grad[0]:
            return values, idx
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        return values, ctx.save_output(idx)

    @staticmethod
    def backward(ctx, g, g_indices=None):
        none = (None,) * (len(ctx.needs_input_grad) - 1)  # kernel, dim, keepdim (and args)
        if g is None:
            return None, *none
        g, idx = g.array, ctx.saved_output
        if not ctx.keepdim:  # the selected dim back, for take_along_backward
            xp = xp_of(g)
            g, idx = xp.expand_dims(g, ctx.dim), xp.expand_dims(idx, ctx.dim)
        return dispatch("take_along_backward", ctx.device)(g, idx, ctx.shape, ctx.dim), *none


class SelectAll(Function):
    """One element selected from all of ``x`` by ``kernel(x.reshape(-1), 0)`` (a `SelectDim`
    kernel); elements tied with it share the gradient evenly (torch's rule for max() / min() /
    median() without a dim)."""

    @staticmethod
    def forward(ctx, x, kernel):
        y = dispatch(kernel, ctx.device)(x.array.reshape(-1), 0)[0].reshape(())
        if not ctx.needs_input_grad[0]:
            return y
        ctx.save_for_backward(x)  # both, as torch: an in-place change to either then raises
        return ctx.save_output(y)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return dispatch("extremum_all_backward", ctx.device)(
            g.array, x.array, ctx.saved_output), None


class MaxMinDim(SelectDim):
    """Max or min along one dim; the gradient goes to the first arg-extremum (torch's rule)."""


class MaxMinAll(SelectAll):
    """Max or min over all elements; tied extrema share the gradient evenly."""


class AMaxMin(Function):
    """amax / amin over ``dims``; tied extrema share the gradient evenly (torch's rule)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, op):
        y = dispatch(op, ctx.device)(x.array, dims)
        y = y if keepdim else y.reshape(_out_shape(x.shape, dims, False))
        if not ctx.needs_input_grad[0]:
            return y
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim = dims, keepdim
        return ctx.save_output(y)  # version-checked: changing it in place then raises

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        y = expand_reduced(ctx.saved_output, x.ndim, ctx.dims, ctx.keepdim)
        return dispatch("amax_backward", ctx.device)(
            x.array, y, g.array, ctx.dims, ctx.keepdim), None, None, None


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
        out = MaxMinAll.apply(input, op + "_dim")
        # keepdim without dim: only numpy's np.max(t, keepdims=True) asks (torch has no such
        # call); its shape, every dim kept at 1
        return out.reshape((1,) * input.ndim) if keepdim else out
    d = _dim(op, input, dim)
    if input.ndim == 0:  # torch: the value itself and index 0
        values, indices = MaxMinDim.apply(input.reshape(1), op + "_dim", 0, False)
        return MaxMin(values, indices)
    if input.shape[d] == 0:
        raise ValueError(f"{op}: expected a non-empty dim {d} (got shape {input.shape})")
    values, indices = MaxMinDim.apply(input, op + "_dim", d, keepdim)
    return MaxMin(values, indices)


@numpy_args
def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Largest element; with an int ``dim``, a ``(values, indices)`` namedtuple as in torch.

    Without ``dim`` tied maxima share the gradient evenly (as `amax`); with ``dim`` it goes to
    the returned index, the first occurrence (ties get nothing), as in torch.

    Raises:
        ValueError: on an empty tensor / dim, or a dim out of range.
        TypeError: if ``dim`` is not an int (use `amax` for several dims).
    """
    return _extremum("max", input, dim, keepdim)


@numpy_args
def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """Smallest element; with an int ``dim``, a ``(values, indices)`` namedtuple as in torch.
    Gradients at ties as `max`."""
    return _extremum("min", input, dim, keepdim)


def _amax(op: str, input, dim, keepdim: bool) -> Tensor:
    dims = reduce_dims(op, input, dim)
    if input.array.size == 0 and (dims is None or builtins.any(input.shape[d] == 0
                                                            for d in dims)):
        raise ValueError(f"{op}: expected a non-empty reduction (got shape {input.shape} and "
                         f"dim={dim!r})")
    return AMaxMin.apply(input, dims, keepdim, op)


@numpy_args
def amax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (an int, a tuple or None), values only; tied maxima share the
    gradient evenly (torch's amax)."""
    return _amax("amax", input, dim, keepdim)


@numpy_args
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


@numpy_args
def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the first largest element along ``dim``, or into the flattened
    tensor when ``dim`` is None; no gradient."""
    return _arg("argmax", input, dim, keepdim)


@numpy_args
def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index (int64) of the first smallest element; see `argmax`."""
    return _arg("argmin", input, dim, keepdim)
