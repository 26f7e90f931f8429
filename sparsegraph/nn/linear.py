"""`Linear` and `Identity`."""

from __future__ import annotations

import math

import sparsegraph.ops as ops
from sparsegraph.creation import empty
from sparsegraph.nn import init
from sparsegraph.nn._checks import check_bool, check_int
from sparsegraph.nn.module import Module
from sparsegraph.nn.parameter import Parameter

__all__ = ["Linear", "Identity"]


class Linear(Module):
    """An affine map ``y = x W^T + b`` with PyTorch's initialisation (He et al., 2015:
    Kaiming-uniform weight with ``a = sqrt(5)``, i.e. ``U(-1/sqrt(F_in), 1/sqrt(F_in))``, and the
    same bound for the bias).

    Args:
        in_features: ``F_in``.
        out_features: ``F_out``.
        bias: learn an additive bias. (default: True)
        device: parameter device. (default: "cpu")
        dtype: parameter dtype. (default: float32)

    Shapes:
        input ``(*, F_in)`` (dense) or a sparse CSR ``(N, F_in)``; output ``(*, F_out)``;
        ``weight`` ``(F_out, F_in)``; ``bias`` ``(F_out,)``.

    Example::

        lin = sg.nn.Linear(4, 2)
        y = lin(sg.randn(3, 4))  # (3, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        check_int("Linear", "in_features", in_features, None)
        check_int("Linear", "out_features", out_features, None)
        check_bool("Linear", "bias", bias)
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: expected non-negative sizes (got in_features="
                             f"{in_features}, out_features={out_features})")
        self.in_features, self.out_features = in_features, out_features
        kw = {"dtype": dtype, "device": device or "cpu"}
        self.weight = Parameter(empty(out_features, in_features, **kw))
        if bias:
            self.bias = Parameter(empty(out_features, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw the weight and bias from the default generator (seed with sg.manual_seed)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        # one matmul against the transposed view (no copy; BLAS reads it transposed) + one add
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input (a placeholder that accepts and ignores any constructor arguments)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
