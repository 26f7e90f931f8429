"""Tests for non-finite values: `isnan`, `isinf`, `isfinite` (bool outputs, no gradient).

Integer and bool tensors hold no nan or inf (every element is finite), as in torch. Each is a
`Function` only so that static capture records it like any other op.
"""

from __future__ import annotations

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor
from sparsegraph.tensor import Tensor

__all__ = ["isnan", "isinf", "isfinite"]

for _name in __all__:
    register(_name, "cpu", "cuda")(
        lambda x, _fn=_name: getattr(xp_of(x), _fn)(x))


class Classify(Function):
    """``isnan`` / ``isinf`` / ``isfinite`` of each element (no gradient)."""

    @staticmethod
    def forward(ctx, x, op):
        return dispatch(op, ctx.device)(x.array)


def isnan(input: Tensor) -> Tensor:
    """Whether each element is nan (a bool tensor)."""
    return Classify.apply(check_tensor("isnan", "input", input), "isnan")


def isinf(input: Tensor) -> Tensor:
    """Whether each element is +inf or -inf (a bool tensor)."""
    return Classify.apply(check_tensor("isinf", "input", input), "isinf")


def isfinite(input: Tensor) -> Tensor:
    """Whether each element is neither nan nor inf (a bool tensor)."""
    return Classify.apply(check_tensor("isfinite", "input", input), "isfinite")
