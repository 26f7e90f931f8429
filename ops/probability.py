"""Dense softmax and log-softmax along one dim, stable (the max is subtracted first).

Both backward passes read only the saved output, so the input is not kept alive. The output's
version is checked in backward, as a saved tensor's is: changing it in place (``y[0] = 0``)
before backward raises instead of silently giving a wrong gradient.
"""

from __future__ import annotations

import warnings

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import as_dtype, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.numpy_compat import numpy_args
from sparsegraph.ops._util import QUIET_FP, check_tensor, norm_dim
from sparsegraph.ops.convert import to
from sparsegraph.tensor import Tensor

__all__ = ["softmax", "log_softmax"]


# NOTE: a fully masked slice (all -inf) gives nan (-inf - -inf), one holding +inf nan too, as
# in torch; numpy's RuntimeWarning for them is silenced (torch gives none)


@register("softmax", "cpu", "cuda")
def _softmax_kernel(x, dim):
    if not x.size:  # the max of an empty dim is undefined; the result is empty too
        return x.copy()
    with np.errstate(**QUIET_FP):
        e = xp_of(x).exp(x - x.max(axis=dim, keepdims=True))
        e /= e.sum(axis=dim, keepdims=True)
    return e


@register("softmax_backward", "cpu", "cuda")
def _softmax_backward_kernel(y, g, dim):
    with np.errstate(**QUIET_FP):
        gy = g * y
        gy -= y * gy.sum(axis=dim, keepdims=True)
    return gy


@register("log_softmax", "cpu", "cuda")
def _log_softmax_kernel(x, dim):
    if not x.size:
        return x.copy()
    xp = xp_of(x)
    with np.errstate(**QUIET_FP):
        z = x - x.max(axis=dim, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
    return z


@register("log_softmax_backward", "cpu", "cuda")
def _log_softmax_backward_kernel(y, g, dim):
    with np.errstate(**QUIET_FP):
        return g - xp_of(y).exp(y) * g.sum(axis=dim, keepdims=True)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return ctx.save_output(dispatch("softmax", ctx.device)(x.array, dim))

    @staticmethod
    def backward(ctx, g):
        return dispatch("softmax_backward", ctx.device)(ctx.saved_output, g.array,
                                                        ctx.dim), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return ctx.save_output(dispatch("log_softmax", ctx.device)(x.array, dim))

    @staticmethod
    def backward(ctx, g):
        return dispatch("log_softmax_backward", ctx.device)(ctx.saved_output, g.array,
                                                            ctx.dim), None


def implicit_dim(op: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's dim for a softmax called without one (``_get_softmax_dim``): 0 for 0-d, 1-d
    and 3-d input, else 1, with its deprecation UserWarning (``stacklevel`` counted from this
    function, as ``warnings.warn``'s: 2 points at its caller)."""
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _check(op, input, dim, dtype):
    """``input`` cast to ``dtype`` first (PyTorch's ``dtype=``: computed and returned in it,
    differentiable through the cast), and the normalised ``dim`` (None: `implicit_dim`)."""
    check_tensor(op, "input", input)
    if dtype is not None:
        dt = as_dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"{op}: expected a floating `dtype` (got {dt})")
        input = to(input, dt)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor (got {input.dtype}); use .float() "
                        "or pass dtype=")
    if dim is None:
        dim = implicit_dim(op, input.ndim, 5)  # the warning points at softmax's caller (past
        # numpy_args' wrapper)
    return input, norm_dim(op, dim, input.ndim)


@numpy_args
def softmax(input: Tensor, dim: int | None = None, *, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed stably (finite for any finite input).

    Args:
        input: floating tensor of any shape (any dtype with ``dtype``).
        dim: the dim that sums to one. None is PyTorch's deprecated implicit choice: dim 0
            for 0-d, 1-d and 3-d input, else dim 1, with its UserWarning. (default: None)
        dtype: cast ``input`` to this floating dtype first, as PyTorch's (e.g. float64 for
            float32 input, against overflow); the result has it. (default: None)

    Raises:
        TypeError: for a non-floating input or ``dtype``.
        ValueError: for ``dim`` out of range.
    """
    return Softmax.apply(*_check("softmax", input, dim, dtype))


@numpy_args
def log_softmax(input: Tensor, dim: int | None = None, *, dtype=None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, computed stably (finite for any finite input).

    Args:
        input: floating tensor of any shape (any dtype with ``dtype``).
        dim: the normalised dim. None is PyTorch's deprecated implicit choice: dim 0 for
            0-d, 1-d and 3-d input, else dim 1, with its UserWarning. (default: None)
        dtype: cast ``input`` to this floating dtype first, as PyTorch's. (default: None)

    Raises:
        TypeError: for a non-floating input or ``dtype``.
        ValueError: for ``dim`` out of range.
    """
    return LogSoftmax.apply(*_check("log_softmax", input, dim, dtype))
