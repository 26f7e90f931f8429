"""`Dropout` (Srivastava et al., 2014) as a module: active in training mode only."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.nn._checks import check_bool, check_number
from sparsegraph.nn.module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Srivastava et al., "Dropout" (2014): zero each element with probability ``p`` and scale
    the rest by ``1 / (1 - p)`` in training; the identity in ``eval()`` mode.

    Args:
        p: probability of zeroing an element. (default: 0.5)
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.
            (default: False)

    Shapes:
        any input; output of the same shape.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        check_number("Dropout", "p", p)
        check_bool("Dropout", "inplace", inplace)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: expected p in [0, 1] (got {p})")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return ops.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
