"""Whole-tensor and tolerance comparisons: `isclose` (elementwise, a bool Tensor), `allclose`
and `equal` (one Python bool). No gradient: the results are bools.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import promote
from sparsegraph.ops._util import (
    check_bool,
    check_device_of,
    check_tensor,
    computed_on_arrays,
    operand_array,
)
from sparsegraph.tensor import Tensor, wrap

__all__ = ["isclose", "allclose", "equal"]


def _tolerance(op: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{op}: expected a number `{name}` (got {type(value).__name__})")
    if not value >= 0:
        raise ValueError(f"{op}: expected `{name}` >= 0 (got {value!r})")
    return float(value)


def isclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise (broadcasting), a bool Tensor.

    Infinities are close only to themselves; NaNs are close to each other only with
    ``equal_nan``. Bool operands compare by equality.

    Raises:
        TypeError: for a non-number tolerance or a non-bool ``equal_nan``.
        ValueError: for a negative tolerance, shapes that do not broadcast, or operands on
            two devices.
    """
    check_tensor("isclose", "input", input)
    rtol, atol = _tolerance("isclose", "rtol", rtol), _tolerance("isclose", "atol", atol)
    equal_nan = check_bool("isclose", "equal_nan", equal_nan)
    computed_on_arrays("isclose", input, other)  # computed on the arrays, not recorded
    a, b = input.array, operand_array("isclose", "other", other, "input", input)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"isclose: `input` of shape {a.shape} and `other` of shape {b.shape} "
                         "do not broadcast") from None
    xp = input.xp
    if a.dtype == np.bool_ or b.dtype == np.bool_:  # no subtraction on bools
        return wrap(xp.broadcast_to(a == b, shape).copy())
    a, b = promote(a, b)
    return wrap(xp.asarray(xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def allclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether `isclose` holds for every element (a Python bool)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """Whether ``input`` and ``other`` have the same shape and the same values (a Python
    bool; NaN equals nothing). Values compare after type promotion, as torch's.

    Raises:
        TypeError: for an ``other`` that is not a Tensor.
        ValueError: for tensors on two devices.
    """
    check_tensor("equal", "input", input)
    check_tensor("equal", "other", other)
    check_device_of("equal", "other", other, "input", input)
    if input.shape != other.shape:
        return False
    computed_on_arrays("equal", input, other)  # a Python bool of the values
    return bool((input.array == other.array).all())
