"""Activation functions as modules (``sg.nn.ReLU()``, ...), delegating to `sparsegraph.ops`.

``inplace=True`` on ReLU / LeakyReLU / ELU writes the result into the input (PyTorch's
meaning); the other modules accept ``inplace`` for compatibility and return new tensors.
"""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.creation import full
from sparsegraph.nn._checks import check_bool, check_int, check_number
from sparsegraph.nn.module import Module
from sparsegraph.nn.parameter import Parameter

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "GELU", "Sigmoid", "Tanh", "Softplus", "SiLU",
           "Softmax", "LogSoftmax"]


def _inplace(flag: bool, sep: str = "") -> str:
    return f"{sep}inplace=True" if flag else ""


class ReLU(Module):
    """``max(x, 0)``."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = check_bool("ReLU", "inplace", inplace)

    def forward(self, x):
        return ops.relu(x, inplace=self.inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class LeakyReLU(Module):
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise. (default slope: 0.01)"""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = check_number("LeakyReLU", "negative_slope", negative_slope)
        self.inplace = check_bool("LeakyReLU", "inplace", inplace)

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + _inplace(self.inplace, ", ")


class PReLU(Module):
    """He et al. (2015), torch's ``PReLU``: `LeakyReLU` with a learned slope ``weight``, one
    (``num_parameters=1``) or one per channel (dim 1 of the input), each starting at ``init``.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        check_int("PReLU", "num_parameters", num_parameters, minimum=1)
        self.num_parameters = int(num_parameters)
        self.init = check_number("PReLU", "init", init)
        self.weight = Parameter(full((self.num_parameters,), float(init)))

    def reset_parameters(self) -> None:
        self.weight.array[...] = self.init

    def forward(self, x):
        from sparsegraph.nn.functional import prelu

        return prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """Clevert et al. (2016): ``x`` for ``x > 0``, ``alpha (exp(x) - 1)`` otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = check_number("ELU", "alpha", alpha)
        self.inplace = check_bool("ELU", "inplace", inplace)

    def forward(self, x):
        return ops.elu(x, self.alpha, inplace=self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace(self.inplace, ", ")


class GELU(Module):
    """Hendrycks & Gimpel (2016): ``x Phi(x)``; ``approximate="tanh"`` for the tanh form."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: expected approximate 'none' or 'tanh' (got {approximate!r})")
        self.approximate = approximate

    def forward(self, x):
        return ops.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """``1 / (1 + exp(-x))``."""

    def forward(self, x):
        return ops.sigmoid(x)


class Tanh(Module):
    """``tanh(x)``."""

    def forward(self, x):
        return ops.tanh(x)


class SiLU(Module):
    """``x * sigmoid(x)`` (Elfwing et al., 2018; a.k.a. swish)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return ops.silu(x)

    def extra_repr(self) -> str:
        return _inplace(self.inplace)


class Softplus(Module):
    """``log(1 + exp(beta x)) / beta``; linear where ``beta x > threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = check_number("Softplus", "beta", beta)
        self.threshold = check_number("Softplus", "threshold", threshold)

    def forward(self, x):
        return ops.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """Softmax along ``dim``.

    Args:
        dim: the dimension; None is PyTorch's deprecated implicit choice (dim 0 for 0-d, 1-d
            and 3-d input, else dim 1), with its UserWarning at each call. (default: None)
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.softmax(x, self._dim(x, "softmax"))

    def _dim(self, x, op: str):
        # None: PyTorch's implicit dim, its warning pointing at the module's caller (past
        # implicit_dim, this method, forward and Module.__call__)
        ndim = getattr(x, "ndim", None)
        if self.dim is None and ndim is not None:
            return ops.probability.implicit_dim(op, ndim, 5)
        return self.dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """Log-softmax along ``dim`` (None: PyTorch's deprecated implicit choice, as `Softmax`),
    computed stably in one op."""

    def forward(self, x):
        return ops.log_softmax(x, self._dim(x, "log_softmax"))
