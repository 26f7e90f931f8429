"""Cumulative ops along one dim: `cumsum` and `cumprod` (torch's arguments and dtype rules).

Integer and bool tensors accumulate in int64, floats in float64 and come back in their own
dtype (torch's CPU rules); ``dtype=`` casts the input first.
The gradient of cumsum is the reversed cumulative sum of ``g``. The gradient of cumprod is
torch's: ``revcumsum(g * y) / x`` when the slice has no zero, and the exact products of the
other elements up to and at the first zero otherwise (0 after it), so zeros give no nan.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor, norm_dim, numpy_args
from sparsegraph.tensor import Tensor

__all__ = ["cumsum", "cumprod"]


def _acc_dtype(x):
    """torch's accumulation dtype (CPU ``acc_type``): float64 for floats (a float32 running sum
    of 2e7 ones stops at 2^24 = 16777216), int64 for integers and bools."""
    return np.float64 if x.dtype.kind == "f" else np.int64


def _accumulated(fn, x, dim):
    """``fn`` (cumsum / cumprod) along ``dim`` in the accumulation dtype; floats come back in
    their own dtype, integers stay int64 (torch's result dtype)."""
    out = fn(x, axis=dim, dtype=_acc_dtype(x))
    return out.astype(x.dtype, copy=False) if x.dtype.kind == "f" else out


def _revcumsum(xp, a, dim):
    """``sum_{i >= k} a_i`` at each ``k`` along ``dim`` (accumulated as `cumsum`)."""
    return xp.flip(_accumulated(xp.cumsum, xp.flip(a, dim), dim), dim)


# ---- kernels ---------------------------------------------------------------------------------
register("cumsum", "cpu", "cuda")(lambda x, dim: _accumulated(xp_of(x).cumsum, x, dim))
register("cumprod", "cpu", "cuda")(lambda x, dim: _accumulated(xp_of(x).cumprod, x, dim))
register("cumsum_backward", "cpu", "cuda")(lambda g, dim: _revcumsum(xp_of(g), g, dim))


@register("cumprod_backward", "cpu", "cuda")
def _cumprod_backward_kernel(x, y, g, dim):
    """d/dx_k of ``sum_i g_i y_i`` with ``y = cumprod(x)``, exact with zeros in ``x``.

    Before the first zero ``z`` of a slice: ``revcumsum(g * y)_k / x_k`` (``y_i = 0`` from
    ``z`` on); at ``z``: ``revcumsum(g * y')_z`` where ``y'`` is the cumprod with ``x_z = 1``;
    after ``z``: 0 (every product there holds ``x_z``).
    """
    xp = xp_of(x)
    zero = x == 0
    if not bool(zero.any()):
        return _revcumsum(xp, g * y, dim) / x
    n = x.shape[dim]
    pos = xp.arange(n).reshape(tuple(n if i == dim else 1 for i in range(x.ndim)))
    first = xp.where(zero.any(axis=dim, keepdims=True), zero.argmax(axis=dim, keepdims=True), n)
    before, at = pos < first, pos == first
    gx = xp.where(before, _revcumsum(xp, g * y, dim) / xp.where(before, x, 1), 0)
    y_at = xp.cumprod(xp.where(at, 1, x), axis=dim)  # the products without x_z
    return xp.where(at, _revcumsum(xp, g * y_at, dim), gx)


# ---- Functions -------------------------------------------------------------------------------
class CumSum(Function):
    """Cumulative sum along ``dim``; backward reads nothing saved."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return dispatch("cumsum", ctx.device)(x.array, dim)

    @staticmethod
    def backward(ctx, g):
        return dispatch("cumsum_backward", ctx.device)(g.array, ctx.dim), None


class CumProd(Function):
    """Cumulative product along ``dim``; backward reads the input and the output."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = dispatch("cumprod", ctx.device)(x.array, dim)
        if not ctx.needs_input_grad[0]:
            return y
        ctx.save_for_backward(x)
        return ctx.save_output(y)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return dispatch("cumprod_backward", ctx.device)(
            x.array, ctx.saved_output, g.array, ctx.dim), None


# ---- public functions --------------------------------------------------------------------------
def _cumulative(op: str, cls, input, dim, dtype) -> Tensor:
    check_tensor(op, "input", input)
    if dim is None:
        raise TypeError(f"{op}: expected `dim` to be an int (got None); flatten the input "
                        "first to accumulate over every element")
    d = norm_dim(op, dim, input.ndim)
    if dtype is not None:
        from sparsegraph.ops.convert import to

        input = to(input, dtype)
    if input.ndim == 0:  # torch: the value itself
        return cls.apply(input.reshape((1,)), 0).reshape(())
    return cls.apply(input, d)


@numpy_args
def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative sum along ``dim``: ``out[..., k, ...] = sum(input[..., :k+1, ...])``.

    Args:
        input: any tensor; integer and bool tensors accumulate in int64.
        dim: the dim to accumulate along.
        dtype: cast ``input`` to this dtype first. (default: None)

    Raises:
        TypeError: ``input`` not a Tensor or ``dim`` not an int.
        ValueError: ``dim`` out of range.
    """
    return _cumulative("cumsum", CumSum, input, dim, dtype)


@numpy_args
def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative product along ``dim``; its gradient is exact with zeros (torch's rule).

    Arguments and errors as `cumsum`.
    """
    return _cumulative("cumprod", CumProd, input, dim, dtype)
