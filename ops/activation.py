"""Activations: relu, leaky_relu, elu, gelu, sigmoid, tanh, softplus (Functions with kernels),
and silu, selu, hardtanh, relu6 (composites).

Each row of the table is ``(forward(xp, x, p), gradient(xp, x, y, g, p), saves)`` where ``p`` is
the op's parameter and ``saves`` says whether backward reads the input ``"x"`` or the output
``"y"`` (only that one is kept alive).
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor
from sparsegraph.tensor import Tensor

__all__ = ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softplus", "silu", "selu",
           "hardtanh", "relu6"]


def _erf(xp, x):
    if xp is np:
        from scipy.special import erf
    else:  # pragma: no cover - needs a GPU
        from cupyx.scipy.special import erf
    return erf(x)


def _sigmoid(xp, x):
    # two branches so exp never overflows: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) otherwise
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _gelu(xp, x, approximate):
    if approximate == "tanh":
        c = x.dtype.type(math.sqrt(2 / math.pi))
        return 0.5 * x * (1 + xp.tanh(c * (x + 0.044715 * x * x * x)))
    return (0.5 * x * (1 + _erf(xp, x / x.dtype.type(math.sqrt(2))))).astype(x.dtype, copy=False)


def _gelu_grad(xp, x, y, g, approximate):
    if approximate == "tanh":
        c = x.dtype.type(math.sqrt(2 / math.pi))
        inner = c * (x + 0.044715 * x * x * x)
        t = xp.tanh(inner)
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))
    cdf = 0.5 * (1 + _erf(xp, x / x.dtype.type(math.sqrt(2))))
    pdf = xp.exp(-0.5 * x * x) / x.dtype.type(math.sqrt(2 * math.pi))
    return (g * (cdf + x * pdf)).astype(x.dtype, copy=False)


def _softplus(xp, x, p):
    beta, threshold = p
    bx = beta * x
    # log1p(exp(bx)) / beta, linear above the threshold as PyTorch does
    soft = xp.log1p(xp.exp(-xp.abs(bx))) + xp.maximum(bx, 0)
    return xp.where(bx > threshold, x, soft / beta).astype(x.dtype, copy=False)


def _softplus_grad(xp, x, y, g, p):
    beta, threshold = p
    bx = beta * x
    return g * xp.where(bx > threshold, 1, _sigmoid(xp, bx)).astype(x.dtype, copy=False)


TABLE = {
    "relu": (lambda xp, x, p: xp.maximum(x, 0), lambda xp, x, y, g, p: g * (y > 0), "y"),
    "leaky_relu": (lambda xp, x, p: xp.where(x >= 0, x, x * x.dtype.type(p)),
                   lambda xp, x, y, g, p: g * xp.where(x >= 0, 1, p).astype(g.dtype), "x"),
    "elu": (lambda xp, x, p: xp.where(x > 0, x, x.dtype.type(p) * xp.expm1(xp.minimum(x, 0))),
            lambda xp, x, y, g, p: g * xp.where(x > 0, 1, y + p).astype(g.dtype), "x+y"),
    "gelu": (lambda xp, x, p: _gelu(xp, x, p), _gelu_grad, "x"),
    "sigmoid": (lambda xp, x, p: _sigmoid(xp, x), lambda xp, x, y, g, p: g * y * (1 - y), "y"),
    "tanh": (lambda xp, x, p: xp.tanh(x), lambda xp, x, y, g, p: g * (1 - y * y), "y"),
    "softplus": (_softplus, _softplus_grad, "x"),
}


def _make(name, fwd, grad, saves):
    register(name, "cpu", "cuda")(lambda x, p: fwd(xp_of(x), x, p))
    register(name + "_backward", "cpu", "cuda")(lambda x, y, g, p: grad(xp_of(g), x, y, g, p))

    def forward(ctx, x, p):
        y = dispatch(name, ctx.device)(x.array, p)
        ctx.p = p
        if "x" in saves:
            ctx.save_for_backward(x)
        ctx.y = y if "y" in saves else None
        return y

    def backward(ctx, g):
        x = ctx.saved_tensors[0].array if "x" in saves else None
        return dispatch(name + "_backward", ctx.device)(x, ctx.y, g.array, ctx.p), None

    cls_name = "".join(part.capitalize() for part in name.split("_"))
    return type(cls_name, (Function,), {"forward": staticmethod(forward),
                                        "backward": staticmethod(backward),
                                        "__doc__": f"Elementwise ``{name}``."})


FUNCTIONS = {name: _make(name, *row) for name, row in TABLE.items()}


def _apply(name, input, p=None):
    check_tensor(name, "input", input)
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating tensor (got {input.dtype})")
    return FUNCTIONS[name].apply(input, p)


def relu(input: Tensor) -> Tensor:
    """``max(x, 0)``."""
    return _apply("relu", input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` if ``x >= 0`` else ``negative_slope * x``."""
    return _apply("leaky_relu", input, float(negative_slope))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return _apply("elu", input, float(alpha))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (exact, via erf) or its tanh approximation (``approximate="tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: expected approximate 'none' or 'tanh' (got {approximate!r})")
    return _apply("gelu", input, approximate)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``, stable for large ``|x|``."""
    return _apply("sigmoid", input)


def tanh(input: Tensor) -> Tensor:
    return _apply("tanh", input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``; linear where ``beta x > threshold``."""
    return _apply("softplus", input, (float(beta), float(threshold)))


def silu(input: Tensor) -> Tensor:
    """``x * sigmoid(x)`` (a composite)."""
    return input * sigmoid(input)


def selu(input: Tensor) -> Tensor:
    """Scaled ELU of Klambauer et al. (a composite)."""
    return elu(input, 1.6732632423543772) * 1.0507009873554805


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    from sparsegraph.ops.elementwise import clamp

    return clamp(input, min_val, max_val)


def relu6(input: Tensor) -> Tensor:
    return hardtanh(input, 0.0, 6.0)
