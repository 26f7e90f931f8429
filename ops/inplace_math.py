"""torch's in-place math (``deg.pow_(-0.5)`` in PyG's ``gcn_norm``, ``x.sqrt_()``,
``w.clamp_min_(0)``, ``torch.exp_(t)``): each is its out-of-place op written back into the
tensor through `inplace._rewritten` - recorded, the version bumped, a view's base changed, and
the op's own gradient (``x.sqrt_()`` differentiates as ``sqrt``). The result must keep the
tensor's shape and fit its dtype (``int_tensor.sqrt_()`` is refused, as torch's).
"""

from __future__ import annotations

from sparsegraph.ops import elementwise, rounding, ternary
from sparsegraph.ops.inplace import _rewritten
from sparsegraph.tensor import Tensor

# torch's unary in-place methods over ops of the same name (``Tensor.<name>_()``)
UNARY = {name: getattr(elementwise, name) for name in (
    "sqrt", "rsqrt", "exp", "log", "log1p", "expm1", "abs", "neg", "reciprocal", "sign", "sin",
    "cos", "square")}
UNARY.update({name: getattr(rounding, name) for name in ("floor", "ceil", "trunc")})

__all__ = [f"{name}_" for name in UNARY] + ["round_", "clamp_min_", "clamp_max_"]


def _unary(name: str, fn):
    def inplace(input: Tensor) -> Tensor:
        return _rewritten(f"{name}_", fn, input)

    inplace.__name__ = inplace.__qualname__ = f"{name}_"
    inplace.__doc__ = f"``{name}(input)`` written into ``input`` (torch's ``{name}_``)."
    return inplace


globals().update({f"{name}_": _unary(name, fn) for name, fn in UNARY.items()})


def round_(input: Tensor, decimals: int = 0) -> Tensor:
    """``round(input, decimals)`` written into ``input`` (torch's ``round_``)."""
    return _rewritten("round_", lambda x: rounding.round(x, decimals=decimals), input)


def clamp_min_(input: Tensor, min) -> Tensor:
    """``clamp(input, min=min)`` written into ``input`` (torch's ``clamp_min_``)."""
    return _rewritten("clamp_min_", lambda x: ternary.clamp(x, min=min), input)


def clamp_max_(input: Tensor, max) -> Tensor:
    """``clamp(input, max=max)`` written into ``input`` (torch's ``clamp_max_``)."""
    return _rewritten("clamp_max_", lambda x: ternary.clamp(x, max=max), input)
