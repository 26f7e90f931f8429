"""Basic layers: Linear, Identity, Dropout, containers, activation modules."""

from __future__ import annotations

import math
from collections import OrderedDict

import sparsegraph.ops as ops
from sparsegraph.creation import empty
from sparsegraph.nn import init
from sparsegraph.nn.module import Module, Parameter


class Linear(Module):
    """``y = x W^T + b`` with PyTorch's initialisation (Kaiming-uniform weight, a = sqrt(5)).

    Args:
        in_features: ``F_in``. out_features: ``F_out``. bias: learn ``b``. (default: True)

    Shapes:
        input ``(*, F_in)`` dense or a sparse CSR ``(N, F_in)``; output ``(*, F_out)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: expected non-negative sizes (got {in_features}, "
                             f"{out_features})")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(empty(out_features, in_features))
        self.bias = Parameter(empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return ops.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    def forward(self, x):
        return x


class Dropout(Module):
    """Zero elements with probability ``p`` in training (see `sparsegraph.ops.dropout`)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: expected p in [0, 1] (got {p})")
        self.p = p

    def forward(self, x):
        return ops.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied in order; indexable, ``len``, ``append``."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        items = list(self._modules.values())
        return Sequential(*items[i]) if isinstance(i, slice) else items[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, i):
        items = list(self._modules.values())
        return ModuleList(items[i]) if isinstance(i, slice) else items[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules whose parameters are registered."""

    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(name, m)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()


def _activation(name: str, fn, **defaults):
    def __init__(self, *args, **kwargs):
        Module.__init__(self)
        params = dict(defaults)
        params.update(zip(defaults, args, strict=False))
        params.update(kwargs)
        self.params = params

    def forward(self, x):
        return fn(x, **self.params)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.params.items())

    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                  "extra_repr": extra_repr,
                                  "__doc__": f"Module form of ``{fn.__name__}``."})


ReLU = _activation("ReLU", ops.relu)
LeakyReLU = _activation("LeakyReLU", ops.leaky_relu, negative_slope=0.01)
ELU = _activation("ELU", ops.elu, alpha=1.0)
GELU = _activation("GELU", ops.gelu, approximate="none")
Sigmoid = _activation("Sigmoid", ops.sigmoid)
Tanh = _activation("Tanh", ops.tanh)
Softplus = _activation("Softplus", ops.softplus, beta=1.0, threshold=20.0)
SiLU = _activation("SiLU", ops.silu)
Softmax = _activation("Softmax", ops.softmax, dim=-1)
LogSoftmax = _activation("LogSoftmax", ops.log_softmax, dim=-1)
