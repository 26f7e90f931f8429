"""`InplaceMathMethods`: torch's in-place math methods on Tensor (``deg.pow_(-0.5)``,
``x.sqrt_()``, ``w.clamp_min_(0)``, ...), each a delegation to `sparsegraph.ops.inplace_math`
or `sparsegraph.ops.inplace` (imported lazily, as `sparsegraph.tensor_methods` does). Kept in
a module of its own: they are one concept, the unary ones generated from one table.
"""

from __future__ import annotations

from sparsegraph.tensor_shape_methods import _ops

__all__ = ["InplaceMathMethods"]

UNARY = ("sqrt_", "rsqrt_", "exp_", "log_", "log1p_", "expm1_", "abs_", "neg_", "reciprocal_",
         "sign_", "sin_", "cos_", "square_", "floor_", "ceil_", "trunc_")


class InplaceMathMethods:
    """Mixed into `sparsegraph.Tensor` (no state of its own)."""

    __slots__ = ()

    def round_(self, decimals: int = 0):
        return _ops().inplace_math.round_(self, decimals)

    def clamp_min_(self, min):
        return _ops().inplace_math.clamp_min_(self, min)

    def clamp_max_(self, max):
        return _ops().inplace_math.clamp_max_(self, max)

    # the binary ones ops.inplace has for the operators **= //= %=
    def pow_(self, exponent):
        return _ops().inplace.pow_(self, exponent)

    def floor_divide_(self, other):
        return _ops().inplace.floor_divide_(self, other)

    def remainder_(self, other):
        return _ops().inplace.remainder_(self, other)


def _unary(name: str):
    def method(self):
        return getattr(_ops().inplace_math, name)(self)

    method.__name__, method.__qualname__ = name, f"InplaceMathMethods.{name}"
    method.__doc__ = f"torch's ``Tensor.{name}``: ``{name[:-1]}`` written into this tensor."
    return method


for _name in UNARY:
    setattr(InplaceMathMethods, _name, _unary(_name))
