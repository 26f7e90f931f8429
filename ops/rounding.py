"""Rounding division and remainders (`floor_divide`, `remainder`, `fmod`, `div(rounding_mode=)`)
and rounding (`floor`, `ceil`, `round`, `trunc`), with PyTorch's (= numpy's) semantics.

For negative operands: ``-7 // 2 == -4`` and ``remainder(-7, 2) == 1`` (floor: the remainder
takes the divisor's sign); ``div(-7, 2, rounding_mode="trunc") == -3`` and ``fmod(-7, 2) == -1``
(trunc: the dividend's sign). Result dtypes follow `backend.promote`. Gradients as PyTorch's:
zero for the rounding ops and rounded quotients (piecewise constant), 1 for the dividend of a
remainder and ``-q`` for its divisor (``q`` the rounded quotient).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import promote, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import QUIET_FP, arr, kept_operand, shape_of, unbroadcast
from sparsegraph.ops.elementwise import binary_op
from sparsegraph.tensor import Tensor

__all__ = ["floor_divide", "remainder", "fmod", "floor", "ceil", "round", "trunc",
           "divide_rounded"]


def _integral(a, b) -> bool:
    """Whether promoted operands divide as integers (a scalar operand has no dtype)."""
    return (a if hasattr(a, "dtype") else b).dtype.kind in "biu"


def _check_int_zero(op: str, a, b) -> None:
    """Integer division by zero raises (PyTorch's ZeroDivisionError; numpy would give 0)."""
    if _integral(a, b) and (bool((b == 0).any()) if hasattr(b, "shape") else b == 0):
        raise ZeroDivisionError(f"{op}: integer division by zero")


def _trunc_div(xp, a, b):
    if _integral(a, b):
        # exact for int64 (a float quotient would round large values): floor, then one up
        # where the quotient is negative and inexact
        q = a // b
        return q + ((a - q * b != 0) & ((a < 0) != (b < 0)))
    return xp.trunc(a / b)


# name: forward(xp, a, b) on promoted operands; the quotient the divisor's gradient scales
# by (None: both gradients are zero)
BINARY = {
    "floor_divide": (lambda xp, a, b: xp.floor_divide(a, b), None),
    "trunc_divide": (_trunc_div, None),
    "remainder": (lambda xp, a, b: xp.remainder(a, b), lambda xp, a, b: xp.floor_divide(a, b)),
    "fmod": (lambda xp, a, b: xp.fmod(a, b), _trunc_div),
}


def _cast(g, dtype):
    return None if g is None or dtype is None else g.astype(dtype, copy=False)


def _register_binary(name, fwd, quotient):
    @register(name, "cpu", "cuda")
    def kernel(a, b):
        _check_int_zero("div" if name == "trunc_divide" else name, a, b)
        with np.errstate(**QUIET_FP):  # x / 0.0 is inf or nan
            return fwd(_xp(a, b), a, b)

    @register(name + "_quotient", "cpu", "cuda")
    def quotient_kernel(a, b):
        with np.errstate(**QUIET_FP):
            return quotient(_xp(a, b), a, b)

    def forward(ctx, a, b):
        ctx.shapes = shape_of(a), shape_of(b)
        ctx.dtypes = getattr(a, "dtype", None), getattr(b, "dtype", None)
        if quotient is not None and ctx.needs_input_grad[1]:
            # the quotient reads both: changing a Tensor then raises, an array is copied
            ctx.save_for_backward(kept_operand(a), kept_operand(b))
        return dispatch(name, ctx.device)(*promote(arr(a), arr(b)))

    def backward(ctx, g):
        need, g = ctx.needs_input_grad, g.array
        xp = xp_of(g)
        if quotient is None:  # piecewise constant: zero almost everywhere
            ga = xp.zeros(ctx.shapes[0], g.dtype) if need[0] else None
            gb = xp.zeros(ctx.shapes[1], g.dtype) if need[1] else None
        else:
            ga = unbroadcast(g, ctx.shapes[0]) if need[0] else None
            a, b = promote(*map(arr, ctx.saved_tensors)) if need[1] else (None, None)
            gb = (unbroadcast(-g * dispatch(name + "_quotient", ctx.device)(a, b),
                              ctx.shapes[1]) if need[1] else None)
        return _cast(ga, ctx.dtypes[0]), _cast(gb, ctx.dtypes[1])

    return type("".join(p.capitalize() for p in name.split("_")), (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__doc__": f"Elementwise ``{name}`` with broadcasting."})


def _xp(a, b):
    return xp_of(a if hasattr(a, "shape") else b)


FUNCTIONS = {name: _register_binary(name, *row) for name, row in BINARY.items()}


floor_divide = binary_op("floor_divide", FUNCTIONS["floor_divide"],
                         "``input // other`` rounded toward -inf (``-7 // 2 == -4``); zero "
                         "gradient.")
_trunc_divide = binary_op("div", FUNCTIONS["trunc_divide"],
                          "``input / other`` rounded toward 0.")
remainder = binary_op("remainder", FUNCTIONS["remainder"],
                      "``input - floor_divide(input, other) * other``: Python's ``%``, the sign "
                      "of the divisor (``remainder(-7, 2) == 1``).")
fmod = binary_op("fmod", FUNCTIONS["fmod"],
                 "C's ``fmod``: the remainder of the truncated division, the sign of the "
                 "dividend (``fmod(-7, 2) == -1``).")

ROUNDING_MODES = {"floor": floor_divide, "trunc": _trunc_divide}


def divide_rounded(input, other, rounding_mode: str):
    """`div` with ``rounding_mode`` "floor" or "trunc" (None is plain true division)."""
    fn = ROUNDING_MODES.get(rounding_mode) if isinstance(rounding_mode, str) else None
    if fn is None:
        raise ValueError(f"div: expected `rounding_mode` to be None, 'trunc' or 'floor' (got "
                         f"{rounding_mode!r})")
    return fn(input, other)


# ---- rounding: piecewise constant, zero gradient; an integer input is returned as a copy ------
UNARY = {"floor": "floor", "ceil": "ceil", "trunc": "trunc", "round": "round"}


def _register_unary(name):
    @register(name, "cpu", "cuda")
    def kernel(x, decimals=0):
        if x.dtype.kind in "biu":
            return x.copy()
        xp = xp_of(x)
        return xp.round(x, decimals) if name == "round" else getattr(xp, name)(x)

    def forward(ctx, x, decimals=0):
        ctx.shape = x.shape
        return dispatch(name, ctx.device)(x.array, decimals)

    def backward(ctx, g):
        return xp_of(g.array).zeros(ctx.shape, g.dtype), None

    return type(name.capitalize(), (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__doc__": f"Elementwise ``{name}`` (zero gradient)."})


_ROUNDERS = {name: _register_unary(name) for name in UNARY}


def _check_input(op: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected `input` to be a Tensor (got {type(input).__name__})")


def floor(input: Tensor) -> Tensor:
    """Round down to an integral value (an integer tensor is returned as a copy)."""
    _check_input("floor", input)
    return _ROUNDERS["floor"].apply(input, 0)


def ceil(input: Tensor) -> Tensor:
    """Round up to an integral value (an integer tensor is returned as a copy)."""
    _check_input("ceil", input)
    return _ROUNDERS["ceil"].apply(input, 0)


def trunc(input: Tensor) -> Tensor:
    """Round toward zero (an integer tensor is returned as a copy)."""
    _check_input("trunc", input)
    return _ROUNDERS["trunc"].apply(input, 0)


def round(input: Tensor, decimals: int = 0) -> Tensor:
    """Round half to even (numpy's and PyTorch's rule: ``round(2.5) == 2``), to ``decimals``
    decimal places."""
    _check_input("round", input)
    if isinstance(decimals, bool) or not isinstance(decimals, int | np.integer):
        raise TypeError(f"round: expected an int `decimals` (got {type(decimals).__name__} "
                        f"{decimals!r})")
    return _ROUNDERS["round"].apply(input, int(decimals))
