"""Reverse-mode autograd: `Function`, the engine, grad mode, and the functional `grad`."""

from sparsegraph.autograd.engine import backward, grad
from sparsegraph.autograd.function import AccumulateGrad, Context, Function, Node
from sparsegraph.autograd.grad_mode import (
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "AccumulateGrad", "Context", "Function", "Node", "backward", "enable_grad", "grad",
    "is_grad_enabled", "no_grad", "set_grad_enabled",
]
