"""Reductions: sum, mean, prod, var/std/var_mean, any/all, logsumexp (the extrema: ops/extrema.py).

``dim`` is an int, a tuple of ints or None (all dims); negative dims count from the end. On a 0-d
tensor, ``dim`` 0 or -1 reduces nothing (as in PyTorch). Floating dtypes are kept; integer and
bool tensors sum (and multiply) to int64. Backward broadcasts the gradient back over the reduced
dims; the kernels take ``dims`` already normalised (None or a sorted tuple).
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.backend import as_dtype, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import (
    QUIET_FP,
    check_bool,
    check_floating_input,
    expand_reduced,
    numpy_args,
    reduce_dims,
)
from sparsegraph.tensor import Tensor

__all__ = ["sum", "mean", "prod", "var", "std", "var_mean", "any", "all", "logsumexp"]

def _count(shape: tuple, dims) -> int:
    """How many input elements feed each output element."""
    return math.prod(shape) if dims is None else math.prod(shape[d] for d in dims)


def _kept_shape(shape: tuple, dims) -> tuple:
    """The output shape with ``keepdim=True``."""
    if dims is None:
        return (1,) * len(shape)
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _out_shape(shape: tuple, dims, keepdim: bool) -> tuple:
    if keepdim:
        return _kept_shape(shape, dims)
    return () if dims is None else tuple(n for i, n in enumerate(shape) if i not in dims)


# ---- kernels ---------------------------------------------------------------------------------
@register("sum", "cpu", "cuda")
def _sum_kernel(x, dims, keepdim):
    # NOTE: integer and bool sums accumulate in int64 (torch's rule) without a copy of x
    return x.sum(axis=dims, keepdims=keepdim, dtype=None if x.dtype.kind in "fc" else np.int64)


@register("mean", "cpu", "cuda")
def _mean_kernel(x, dims, keepdim):
    if x.size == 0:  # numpy warns "Mean of empty slice"; torch returns nan silently
        with np.errstate(**QUIET_FP):
            return x.sum(axis=dims, keepdims=keepdim) / x.dtype.type(0)
    return x.mean(axis=dims, keepdims=keepdim)


@register("reduce_backward", "cpu", "cuda")
def _reduce_backward_kernel(g, shape, dims, keepdim, scale):
    """Gradient of sum (scale None) or mean (scale 1/n): ``g`` broadcast over the reduced dims.

    The result is a read-only broadcast view: no input-sized allocation until a consumer needs
    one.
    """
    g = expand_reduced(g, len(shape), dims, keepdim)
    if scale is not None:
        g = g * g.dtype.type(scale)
    return xp_of(g).broadcast_to(g, shape)


@register("prod", "cpu", "cuda")
def _prod_kernel(x, dims, keepdim):
    return x.prod(axis=dims, keepdims=keepdim, dtype=None if x.dtype.kind in "fc" else np.int64)


@register("prod_backward", "cpu", "cuda")
def _prod_backward_kernel(x, g, dims, keepdim):
    """d prod / d x_i = product of the other elements, by exclusive cumulative products from
    both ends (exact with zeros in the slice, unlike ``prod / x``)."""
    xp = xp_of(x)
    if x.size == 0:
        return xp.zeros(x.shape, dtype=g.dtype)
    g = expand_reduced(g, x.ndim, dims, keepdim)
    red = tuple(range(x.ndim)) if dims is None else dims
    rest = tuple(d for d in range(x.ndim) if d not in red)
    perm = rest + red
    xt = x.transpose(perm)
    lead = xt.shape[:len(rest)]
    flat = xt.reshape(lead + (math.prod(xt.shape[len(rest):]),))
    one = xp.ones(lead + (1,), dtype=x.dtype)
    left = xp.cumprod(xp.concatenate([one, flat[..., :-1]], axis=-1), axis=-1)
    right = xp.cumprod(xp.concatenate([one, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    inverse = tuple(sorted(range(x.ndim), key=perm.__getitem__))
    others = (left * right).reshape(xt.shape).transpose(inverse)
    return g * others


def _acc_dtype(x):
    """The accumulation dtype of var / std: float64 for float16 / float32 (PyTorch's CPU kernel
    accumulates them in double), else ``x``'s own."""
    return np.float64 if x.dtype.itemsize < 8 else x.dtype


def _centered(x, dims):
    """``(c, shift, delta)``: ``c = x - shift`` in ``x``'s dtype and ``delta = mean(c)`` in the
    accumulation dtype, reduced dims kept; the mean is ``shift + delta``.

    ``shift`` is the mean accumulated in float64 and rounded to ``x``'s dtype, so ``c`` needs
    no float64 copy of ``x``. Its rounding (half an ulp of the mean, which can be as large as
    the spread) is ``delta``, which the callers correct for: for float16 / float32 it is known
    without another pass (the float64 mean minus the shift), for float64 it is measured.
    """
    acc = _acc_dtype(x)
    mean = x.mean(axis=dims, keepdims=True, dtype=acc)
    shift = mean.astype(x.dtype, copy=False)
    c = x - shift
    delta = c.mean(axis=dims, keepdims=True) if acc == x.dtype else mean - shift
    return c, shift, delta


def _moments(x, dims, correction):
    """``(var, mean)`` over ``dims`` (kept), in the accumulation dtype.

    The corrected two-pass algorithm (Chan, Golub & LeVeque, 1983): ``(sum(c^2) - n delta^2)
    / (n - correction)`` is exact for any shift, so the float32 rounding of the mean does not
    bias the variance (it added ``delta^2`` to every squared deviation).
    """
    n = _count(x.shape, dims)
    c, shift, delta = _centered(x, dims)
    c *= c
    squares = c.sum(axis=dims, keepdims=True, dtype=delta.dtype) - n * (delta * delta)
    # NOTE: torch clamps the divisor at 0 (n <= correction gives inf / nan)
    var = xp_of(x).maximum(squares, 0) / builtins.max(n - correction, 0)
    return var, shift + delta


def _reduced(a, x, dims, keepdim):
    """A kept-dims statistic of ``x`` in ``x``'s dtype and the output shape."""
    return a.astype(x.dtype, copy=False).reshape(_out_shape(x.shape, dims, keepdim))


def _empty_moments(x, dims, keepdim):
    return xp_of(x).full(_out_shape(x.shape, dims, keepdim), np.nan, dtype=x.dtype)


# NOTE: inf or nan inputs give nan (inf - inf), a huge spread inf, n <= correction inf / nan:
# torch's values, without numpy's warnings (QUIET_FP)


@register("var", "cpu", "cuda")
def _var_kernel(x, dims, keepdim, correction):
    if x.size == 0:  # numpy warns on the empty mean; the result is nan
        return _empty_moments(x, dims, keepdim)
    with np.errstate(**QUIET_FP):
        return _reduced(_moments(x, dims, correction)[0], x, dims, keepdim)


@register("std", "cpu", "cuda")
def _std_kernel(x, dims, keepdim, correction):
    if x.size == 0:
        return _empty_moments(x, dims, keepdim)
    with np.errstate(**QUIET_FP):  # the root taken before rounding to x's dtype, as torch's
        return _reduced(xp_of(x).sqrt(_moments(x, dims, correction)[0]), x, dims, keepdim)


@register("var_mean", "cpu", "cuda")
def _var_mean_kernel(x, dims, keepdim, correction):
    if x.size == 0:
        return _empty_moments(x, dims, keepdim), _empty_moments(x, dims, keepdim)
    with np.errstate(**QUIET_FP):
        var, mean = _moments(x, dims, correction)
        return _reduced(var, x, dims, keepdim), _reduced(mean, x, dims, keepdim)


@register("var_backward", "cpu", "cuda")
def _var_backward_kernel(x, g, dims, keepdim, correction, g_mean=None):
    """d var / dx = 2 (x - mean) / (n - correction) times ``g``; plus ``g_mean / n`` (the
    gradient of the mean, for `var_mean`) when given. ``g`` None (only `var_mean`'s mean
    reached the loss): the mean's gradient alone, as `Mean`'s (a broadcast view)."""
    n = _count(x.shape, dims)
    if g is None:
        return _reduce_backward_kernel(g_mean, x.shape, dims, keepdim, 1.0 / n if n else 0.0)
    if x.size == 0:
        return xp_of(x).zeros(x.shape, dtype=x.dtype)
    with np.errstate(**QUIET_FP):
        grad, _, delta = _centered(x, dims)
        grad -= delta.astype(x.dtype, copy=False)  # deviations from the mean itself
        scale = x.dtype.type(2) / x.dtype.type(builtins.max(n - correction, 0))
        grad *= expand_reduced(g, x.ndim, dims, keepdim) * scale  # in place: no third E x F
    if g_mean is not None:
        grad += expand_reduced(g_mean, x.ndim, dims, keepdim) * x.dtype.type(1 / n)
    return grad


@register("std_backward", "cpu", "cuda")
def _std_backward_kernel(x, out, g, dims, keepdim, correction):
    """``var_backward`` of ``g / (2 std)``, that 0 where std is 0: PyTorch's ``std_backward``
    (``masked_fill_(result == 0, 0)``), so a constant slice has a zero gradient, not nan."""
    with np.errstate(**QUIET_FP):
        g = xp_of(g).where(out == 0, 0, g / (2 * out)).astype(g.dtype, copy=False)
    return _var_backward_kernel(x, g, dims, keepdim, correction)


register("any", "cpu", "cuda")(lambda x, dims, keepdim: x.any(axis=dims, keepdims=keepdim))
register("all", "cpu", "cuda")(lambda x, dims, keepdim: x.all(axis=dims, keepdims=keepdim))


@register("logsumexp", "cpu", "cuda")
def _logsumexp_kernel(x, dims):
    """``log(sum(exp(x)))`` with the reduced dims kept; the max is subtracted first."""
    xp = xp_of(x)
    if x.size == 0:  # an empty sum is 0, its log -inf (max() of nothing would raise)
        return xp.full(_kept_shape(x.shape, dims), -np.inf, dtype=x.dtype)
    m = x.max(axis=dims, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or some +inf / nan) slices: no shift
    with np.errstate(**QUIET_FP):  # log(0) = -inf for all -inf slices
        out = xp.log(xp.exp(x - m).sum(axis=dims, keepdims=True))
    out += m
    return out


@register("logsumexp_backward", "cpu", "cuda")
def _logsumexp_backward_kernel(x, out, g):
    """``g * softmax(x)``; ``out`` and ``g`` have the reduced dims kept."""
    with np.errstate(**QUIET_FP):  # all -inf slices: nan, as torch
        return g * xp_of(x).exp(x - out)


# ---- Functions -------------------------------------------------------------------------------
class Sum(Function):
    """Sum over ``dims``; backward broadcasts ``g`` back (a view, no copy)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        return dispatch("sum", ctx.device)(x.array, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        return dispatch("reduce_backward", ctx.device)(
            g.array, ctx.shape, ctx.dims, ctx.keepdim, None), None, None


class Mean(Function):
    """Mean over ``dims``; the gradient is ``g / n`` broadcast back."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        return dispatch("mean", ctx.device)(x.array, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        n = _count(ctx.shape, ctx.dims)
        return dispatch("reduce_backward", ctx.device)(
            g.array, ctx.shape, ctx.dims, ctx.keepdim, 1.0 / n if n else 0.0), None, None


class Prod(Function):
    """Product over ``dims``; the gradient of each element is the product of the others."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim = dims, keepdim
        return dispatch("prod", ctx.device)(x.array, dims, keepdim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return dispatch("prod_backward", ctx.device)(
            x.array, g.array, ctx.dims, ctx.keepdim), None, None


class Var(Function):
    """Variance with ``correction`` (1 = Bessel's, unbiased)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, correction):
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim, ctx.correction = dims, keepdim, correction
        return dispatch("var", ctx.device)(x.array, dims, keepdim, correction)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return dispatch("var_backward", ctx.device)(
            x.array, g.array, ctx.dims, ctx.keepdim, ctx.correction), None, None, None


class Std(Function):
    """Standard deviation; its gradient is 0 where it is 0 (PyTorch's rule)."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, correction):
        out = dispatch("std", ctx.device)(x.array, dims, keepdim, correction)
        if not ctx.needs_input_grad[0]:
            return out
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim, ctx.correction = dims, keepdim, correction
        return ctx.save_output(out)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return dispatch("std_backward", ctx.device)(
            x.array, ctx.saved_output, g.array, ctx.dims, ctx.keepdim,
            ctx.correction), None, None, None


class VarMean(Function):
    """``(var, mean)`` from one set of statistics; either output may reach the loss."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, correction):
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim, ctx.correction = dims, keepdim, correction
        return dispatch("var_mean", ctx.device)(x.array, dims, keepdim, correction)

    @staticmethod
    def backward(ctx, g_var, g_mean):
        (x,) = ctx.saved_tensors
        return dispatch("var_backward", ctx.device)(
            x.array, None if g_var is None else g_var.array, ctx.dims, ctx.keepdim,
            ctx.correction, None if g_mean is None else g_mean.array), None, None, None


class LogSumExp(Function):
    """``log(sum(exp(x)))`` over ``dims``; the gradient is ``g * softmax(x)``."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        out = dispatch("logsumexp", ctx.device)(x.array, dims)
        out = out if keepdim else out.reshape(_out_shape(x.shape, dims, False))
        if not ctx.needs_input_grad[0]:
            return out
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim = dims, keepdim
        return ctx.save_output(out)  # version-checked: changing it in place then raises

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        out = expand_reduced(ctx.saved_output, x.ndim, ctx.dims, ctx.keepdim)
        g = expand_reduced(g.array, x.ndim, ctx.dims, ctx.keepdim)
        return dispatch("logsumexp_backward", ctx.device)(x.array, out, g), None, None


# ---- public functions --------------------------------------------------------------------------
def _device(t: Tensor) -> str:
    return "cpu" if t.device == "cpu" else "cuda"


def _check(op: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected `input` to be a Tensor (got {type(input).__name__})")


def _in_dtype(fn, op: str, input, dim, keepdim, dtype) -> Tensor:
    """``fn`` of ``input`` cast to ``dtype`` first, the result in ``dtype`` too (torch's
    ``dtype=``: integers then do not widen to int64); differentiable through the casts."""
    _check(op, input)
    from sparsegraph.ops.convert import to

    out = fn(to(input, dtype), dim, keepdim)
    return out if out.dtype == as_dtype(dtype) else to(out, dtype)


@numpy_args
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum of the elements over ``dim``.

    Args:
        input: any tensor; integer and bool tensors sum to int64.
        dim: an int, a tuple of ints, or None for every dim. (default: None)
        keepdim: keep the reduced dims with size 1. (default: False)
        dtype: cast ``input`` to this dtype first (e.g. accumulate float32 in float64).
            (default: None)

    Returns:
        The sums; a 0-d tensor when every dim is reduced. An empty reduction gives 0.

    Raises:
        ValueError: if a dim is out of range or repeated.
    """
    if dtype is not None:
        return _in_dtype(sum, "sum", input, dim, keepdim, dtype)
    return Sum.apply(input, reduce_dims("sum", input, dim), keepdim)


@numpy_args
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean over ``dim`` (all dims if None); floating tensors only. An empty mean is nan.

    ``dtype`` casts ``input`` first (so an integer tensor has a mean with ``dtype=sg.float32``).

    Raises:
        TypeError: for a non-floating tensor (as torch).
        ValueError: if a dim is out of range or repeated.
    """
    if dtype is not None:
        return _in_dtype(mean, "mean", input, dim, keepdim, dtype)
    dims = reduce_dims("mean", input, dim)
    check_floating_input("mean", input)
    return Mean.apply(input, dims, keepdim)


@numpy_args
def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of the elements over ``dim`` (an int, a tuple or None); integers give int64.

    The gradient is exact when the slice contains zeros. ``dtype`` casts ``input`` first.
    """
    if dtype is not None:
        return _in_dtype(prod, "prod", input, dim, keepdim, dtype)
    return Prod.apply(input, reduce_dims("prod", input, dim), keepdim)


def _correction(op: str, unbiased: bool, correction):
    if correction is None:
        return 1 if unbiased else 0
    if isinstance(correction, bool) or not isinstance(correction, int | float | np.number):
        raise TypeError(f"{op}: expected `correction` to be a number (got {correction!r})")
    return correction


def _var(op: str, input, dim, unbiased, keepdim, correction, cls=Var):
    if isinstance(dim, bool):  # torch's overload var(input, unbiased): a bool is not a dim
        dim, unbiased = None, dim
    check_bool(op, "unbiased", unbiased, hint="; the positional order is (dim, unbiased, "
               "keepdim), as torch's")
    check_bool(op, "keepdim", keepdim)
    dims = reduce_dims(op, input, dim)
    check_floating_input(op, input)
    return cls.apply(input, dims, bool(keepdim), _correction(op, unbiased, correction))


@numpy_args
def var(input: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, *,
        correction: int | float | None = None) -> Tensor:
    """Variance over ``dim``: ``sum((x - mean)^2) / (n - correction)``.

    The positional order is torch's, ``var(input, dim, unbiased, keepdim)``; ``var(input,
    False)`` (a bool first) is torch's ``var(input, unbiased)``. float16 / float32 inputs
    accumulate in float64 (as torch's CPU kernel) and the shift by the mean is corrected
    exactly, so a mean large against the spread (timestamps, coordinates) costs no accuracy.

    Args:
        input: a floating tensor.
        dim: an int, a tuple of ints, or None for every dim. (default: None)
        unbiased: Bessel's correction (``correction=1``) or none (``0``). (default: True)
        keepdim: keep the reduced dims with size 1. (default: False)
        correction: overrides ``unbiased`` when given (torch 2's keyword).

    Returns:
        The variances in ``input``'s dtype; nan (or inf) where ``n <= correction``, as in
        torch, without warnings.

    Raises:
        TypeError: for a non-floating tensor, or ``unbiased`` / ``keepdim`` not a bool.
        ValueError: if a dim is out of range or repeated.
    """
    return _var("var", input, dim, unbiased, keepdim, correction)


@numpy_args
def std(input: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, *,
        correction: int | float | None = None) -> Tensor:
    """Standard deviation, ``sqrt(var(...))``; same arguments and accuracy as `var`.

    Its gradient is ``var``'s times ``1 / (2 std)``, and 0 where std is 0 (a constant slice),
    as torch's ``std_backward``: not the nan of ``0 / 0``.
    """
    return _var("std", input, dim, unbiased, keepdim, correction, Std)


@numpy_args
def var_mean(input: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False, *,
             correction: int | float | None = None) -> tuple[Tensor, Tensor]:
    """``(var(input, ...), mean(input, dim, keepdim))`` from one set of statistics, as torch's
    ``var_mean``; same arguments and accuracy as `var` (the mean too accumulates float32 in
    float64). Both are differentiable.
    """
    return _var("var_mean", input, dim, unbiased, keepdim, correction, VarMean)


class AnyAll(Function):
    """any / all: a bool output, no gradient; a Function so that static capture records it."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, op):
        return dispatch(op, ctx.device)(x.array, dims, keepdim)


@numpy_args
def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether any element over ``dim`` is nonzero (a bool tensor; no gradient)."""
    return AnyAll.apply(input, reduce_dims("any", input, dim), keepdim, "any")


@numpy_args
def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Whether every element over ``dim`` is nonzero (a bool tensor; no gradient)."""
    return AnyAll.apply(input, reduce_dims("all", input, dim), keepdim, "all")


@numpy_args
def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed stably (the max is subtracted first).

    Args:
        input: a tensor; integer and bool ones are promoted to the default float dtype
            first, as torch's.
        dim: an int, a tuple of ints, or None for every dim.
        keepdim: keep the reduced dims with size 1. (default: False)

    Returns:
        The reduced tensor; ``-inf`` for empty or all ``-inf`` slices.
    """
    dims = reduce_dims("logsumexp", input, dim)
    if input.dtype.kind in "biu":
        input = input.to(backend.DEFAULT_FLOAT)
    check_floating_input("logsumexp", input)
    return LogSumExp.apply(input, dims, keepdim)
