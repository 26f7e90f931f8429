"""Activations: relu, leaky_relu, elu, gelu, sigmoid, tanh, softplus (Functions with kernels, as
GNNs run them in hot paths), and silu, selu, hardtanh, relu6 (composites).

Each row of the table is ``(forward(xp, x, p) -> y, gradient(xp, t, g, p) -> gx, saves)``: ``p``
is the op's parameter, and ``saves(p)`` says which one array backward reads as ``t``: the
input ``"x"``, the output ``"y"``, or ``"mask"``, the bool ``y > 0``; only that one is kept.
Ops that can recover their derivative from the output (sigmoid, tanh; elu with a non-negative
alpha) keep the output. Piecewise-linear ones (relu; leaky_relu with a non-negative slope) need
only its sign and keep a bool mask, a quarter of a float32 output: in GNN stacks the next op
is usually dropout, so the activation's output is not kept alive by anyone else.
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import QUIET_FP
from sparsegraph.ops.buffers import blockwise, reusable_grad
from sparsegraph.tensor import Tensor

__all__ = ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "softplus", "logsigmoid",
           "silu", "selu", "hardtanh", "relu6"]

_SPECIAL: dict = {}


def _special(xp, name: str):
    """``scipy.special.<name>`` for numpy arrays, ``cupyx.scipy.special.<name>`` for cupy."""
    fn = _SPECIAL.get((xp, name))
    if fn is None:
        if xp is np:
            import scipy.special as special
        else:  # pragma: no cover - needs a GPU
            import cupyx.scipy.special as special
        fn = _SPECIAL[xp, name] = getattr(special, name)
    return fn


_SQRT_2 = math.sqrt(2.0)
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_C = 0.044715


def _gelu(xp, x, approximate):
    f = x.dtype.type
    if approximate == "tanh":
        return f(0.5) * x * (1 + xp.tanh(f(_SQRT_2_PI) * (x + f(_GELU_C) * x * x * x)))
    return f(0.5) * x * (1 + _special(xp, "erf")(x * f(1 / _SQRT_2)))


def _gelu_grad(xp, x, g, approximate):
    f = x.dtype.type
    if approximate == "tanh":
        t = xp.tanh(f(_SQRT_2_PI) * (x + f(_GELU_C) * x * x * x))
        dt = (1 - t * t) * f(_SQRT_2_PI) * (1 + f(3 * _GELU_C) * x * x)
        return g * (f(0.5) * (1 + t) + f(0.5) * x * dt)
    cdf = f(0.5) * (1 + _special(xp, "erf")(x * f(1 / _SQRT_2)))
    pdf = xp.exp(f(-0.5) * x * x) * f(_INV_SQRT_2PI)
    return g * (cdf + x * pdf)


def _softplus(xp, x, p):
    beta, threshold = p
    bx = x * x.dtype.type(beta)
    # log(1 + e^bx) / beta via logaddexp (no overflow); linear above the threshold, as torch
    with np.errstate(**QUIET_FP):  # logaddexp warns on nan inputs; nan propagates
        soft = xp.logaddexp(0, bx)
    return xp.where(bx > threshold, x, soft / x.dtype.type(beta))


def _softplus_grad(xp, x, g, p):
    beta, threshold = p
    bx = x * x.dtype.type(beta)
    return xp.where(bx > threshold, g, g * _special(xp, "expit")(bx))


# NOTE: the piecewise ops select arithmetically, ``m * a + ~m * b`` with ``m = x > 0`` (exactly
# ``a`` or ``b``: the other term is 0), not with xp.where: numpy's where branches per element
# and a random sign pattern mispredicts half the time (Cora GAT's 2708 x 64 ELU output: 706 us
# for one where, 14-50 us for each arithmetic pass).
def _select(positive, a, b):
    """``a`` where ``positive`` else ``b`` (both finite where they are not selected; typed
    scalars or arrays, so the bool mask takes their dtype)."""
    return positive * a + ~positive * b


def _elu(xp, x, alpha):
    # max(x, 0) + alpha * expm1(min(x, 0)): one term is exactly 0 on each side
    return xp.maximum(x, 0) + x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0))


def _elu_grad(xp, t, g, alpha):
    if alpha >= 0:  # t is the output y: x > 0 iff y > 0, and alpha e^x = y + alpha below 0
        # min(t, 0) + alpha lies in [0, alpha]: finite, so the unselected term is exactly 0
        return g * _select(t > 0, t.dtype.type(1), xp.minimum(t, 0) + t.dtype.type(alpha))
    return xp.where(t > 0, g, g * (t.dtype.type(alpha) * xp.exp(t)))  # t is the input x


def _save_y(p) -> str:
    return "y"


def _save_mask(p) -> str:
    return "mask"


def _save_y_if_nonnegative(p) -> str:
    return "y" if p >= 0 else "x"


def _save_mask_if_nonnegative(p) -> str:
    return "mask" if p >= 0 else "x"


def _save_x(p) -> str:
    return "x"


TABLE = {
    # selected, not multiplied, as torch's threshold_backward: an inf gradient at x <= 0
    # (relu(x).sqrt()) gives 0, not inf * 0 = NaN
    "relu": (lambda xp, x, p: xp.maximum(x, 0),
             lambda xp, t, g, p: xp.where(t > 0, g, g.dtype.type(0)), _save_mask),
    # torch's rule: the gradient at 0 is the slope. With slope >= 0, sign(y) = sign(x).
    "leaky_relu": (lambda xp, x, p: xp.maximum(x, 0) + x.dtype.type(p) * xp.minimum(x, 0),
                   lambda xp, t, g, p: g * _select(t > 0, g.dtype.type(1), g.dtype.type(p)),
                   _save_mask_if_nonnegative),
    "elu": (_elu, _elu_grad, _save_y_if_nonnegative),
    "gelu": (_gelu, _gelu_grad, _save_x),
    "sigmoid": (lambda xp, x, p: _special(xp, "expit")(x),  # stable for any |x|
                lambda xp, y, g, p: g * (y * (1 - y)), _save_y),
    "tanh": (lambda xp, x, p: xp.tanh(x), lambda xp, y, g, p: g * (1 - y * y), _save_y),
    "softplus": (_softplus, _softplus_grad, _save_x),
}


def _make(name, fwd, grad, saves):
    # blockwise: the formulas' temporaries (up to four for elu) take a block's bytes, not N x F
    register(name, "cpu", "cuda")(
        lambda x, p: blockwise(lambda xb: fwd(xp_of(xb), xb, p), x))
    register(name + "_backward", "cpu", "cuda")(
        lambda t, g, p, out=None: blockwise(lambda tb, gb: grad(xp_of(gb), tb, gb, p), t, g,
                                            out=out))

    def forward(ctx, x, p):
        y = dispatch(name, ctx.device)(x.array, p)
        if y.dtype != x.dtype:  # scipy.special computes float16 in float32
            y = y.astype(x.dtype)
        if ctx.needs_input_grad[0]:
            ctx.p, ctx.saves = p, saves(p)
            if ctx.saves == "y":
                return ctx.save_output(y)
            if ctx.saves == "mask":
                ctx.mask = y > 0
            else:
                ctx.save_for_backward(x)
        return y

    def backward(ctx, g):
        if ctx.saves == "y":
            t = ctx.saved_output
        else:
            t = ctx.mask if ctx.saves == "mask" else ctx.saved_tensors[0].array
        g = g.array
        out = reusable_grad(ctx, g)  # before the call, whose pending arguments hold g too
        gx = dispatch(name + "_backward", ctx.device)(t, g, ctx.p, out=out)
        return (gx if gx.dtype == g.dtype else gx.astype(g.dtype)), None

    cls_name = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU", "gelu": "GELU"}.get(
        name, name.capitalize())
    return type(cls_name, (Function,), {"forward": staticmethod(forward),
                                        "backward": staticmethod(backward),
                                        "__doc__": f"Elementwise ``{name}``."})


FUNCTIONS = {name: _make(name, *row) for name, row in TABLE.items()}
ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, Softplus = FUNCTIONS.values()


def _check(op: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected `input` to be a Tensor (got {type(input).__name__})")
    if input.array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor (got {input.dtype}); use .float()")


def _result(op: str, input: Tensor, out: Tensor, inplace) -> Tensor:
    """``out``, or with ``inplace`` written into ``input`` (through `copy_`, so autograd
    records it and a saved ``input`` reports the change) and ``input`` returned."""
    if not isinstance(inplace, bool):
        raise TypeError(f"{op}: expected a bool `inplace` (got {type(inplace).__name__} "
                        f"{inplace!r})")
    return input.copy_(out) if inplace else out


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``; backward keeps only the bool mask ``x > 0``. Integer tensors keep
    their dtype (no gradient to record), as in PyTorch.

    Raises:
        TypeError: if ``input`` is not a numeric Tensor.
    """
    if isinstance(input, Tensor) and input.array.dtype.kind in "iu":
        from sparsegraph.ops.elementwise import maximum  # recorded, as any op, when traced

        return _result("relu", input, maximum(input, 0), inplace)
    _check("relu", input)
    return _result("relu", input, ReLU.apply(input, None), inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` if ``x > 0`` else ``negative_slope * x``.

    Args:
        input: a floating tensor.
        negative_slope: slope below 0. (default: 0.01)
    """
    _check("leaky_relu", input)
    slope = _number("leaky_relu", "negative_slope", negative_slope)
    return _result("leaky_relu", input, LeakyReLU.apply(input, slope), inplace)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)`` (Clevert et al.).

    Args:
        input: a floating tensor.
        alpha: the saturation value for negative inputs is ``-alpha``. (default: 1.0)
    """
    _check("elu", input)
    return _result("elu", input, ELU.apply(input, _number("elu", "alpha", alpha)), inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` with the normal CDF ``Phi`` (exact, via erf), or its tanh approximation.

    Args:
        input: a floating tensor.
        approximate: ``"none"`` or ``"tanh"``. (default: "none")

    Raises:
        ValueError: for another ``approximate``.
    """
    _check("gelu", input)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: expected `approximate` 'none' or 'tanh' (got {approximate!r})")
    return GELU.apply(input, approximate)


def _floating(op: str, input) -> Tensor:
    """``input``, or an integer / bool one as the default float (PyTorch: sigmoid of ints is
    float32, as exp or sqrt of ints)."""
    if isinstance(input, Tensor) and input.array.dtype.kind in "biu":
        input = input.to(backend.DEFAULT_FLOAT)
    _check(op, input)
    return input


def _number(op: str, name: str, value) -> float:
    """A real-number argument as a float (a string or a Tensor failed inside ``float()``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{op}: expected a number `{name}` (got {type(value).__name__} "
                        f"{value!r})")
    return float(value)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``, stable for large ``|x|``; backward keeps only the output.
    Integer inputs give float32."""
    return Sigmoid.apply(_floating("sigmoid", input), None)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent; backward keeps only the output. Integer inputs give float32."""
    return Tanh.apply(_floating("tanh", input), None)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, and ``x`` where ``beta x > threshold`` (as torch).

    Args:
        input: a floating tensor.
        beta: sharpness. (default: 1)
        threshold: above ``beta x > threshold`` the result is linear. (default: 20)
    """
    _check("softplus", input)
    return Softplus.apply(input, (_number("softplus", "beta", beta),
                                  _number("softplus", "threshold", threshold)))


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)`` (a composite), stable for large ``|x|``."""
    _check("logsigmoid", input)
    return -softplus(-input)


def silu(input: Tensor) -> Tensor:
    """``x * sigmoid(x)`` (a composite)."""
    return input * sigmoid(input)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor) -> Tensor:
    """``scale * elu(x, alpha)`` with the constants of Klambauer et al. (a composite)."""
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``x`` clipped to ``[min_val, max_val]`` (a composite of `clamp`).

    Raises:
        ValueError: if ``min_val > max_val``.
    """
    from sparsegraph.ops.ternary import clamp

    _check("hardtanh", input)
    _number("hardtanh", "min_val", min_val), _number("hardtanh", "max_val", max_val)
    if min_val > max_val:
        raise ValueError(f"hardtanh: expected min_val <= max_val (got {min_val} > {max_val})")
    return clamp(input, min_val, max_val)


def relu6(input: Tensor) -> Tensor:
    """``min(max(x, 0), 6)`` (a composite)."""
    return hardtanh(input, 0.0, 6.0)
