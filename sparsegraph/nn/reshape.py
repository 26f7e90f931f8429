"""`Flatten` and `Unflatten`: the shape layers of ``torch.nn`` (views, no copy)."""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.nn._checks import check_int
from sparsegraph.nn.module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one, as ``torch.nn.Flatten`` (the batch dim 0
    is kept by default).

    Args:
        start_dim: the first dim merged. (default: 1)
        end_dim: the last dim merged. (default: -1)

    Shapes:
        input ``(*, S_start, ..., S_end, *)``; output ``(*, prod(S_start..S_end), *)``.

    Example::

        sg.nn.Flatten()(sg.zeros(32, 1, 5, 5)).shape  # (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = check_int("Flatten", "start_dim", start_dim, None)
        self.end_dim = check_int("Flatten", "end_dim", end_dim, None)

    def forward(self, input):
        return ops.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``, as ``torch.nn.Unflatten`` (the inverse of
    `Flatten`; one size may be -1).

    Args:
        dim: the dim split.
        unflattened_size: a tuple or list of ints whose product is the size of ``dim``.

    Raises:
        TypeError: a non-int ``dim``, or ``unflattened_size`` not a tuple / list of ints.

    Example::

        sg.nn.Unflatten(1, (2, 5))(sg.zeros(3, 10)).shape  # (3, 2, 5)
    """

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim = check_int("Unflatten", "dim", dim, None)
        if not isinstance(unflattened_size, list | tuple):
            raise TypeError(f"Unflatten: expected `unflattened_size` to be a tuple of ints "
                            f"(got {type(unflattened_size).__name__} {unflattened_size!r})")
        for i, s in enumerate(unflattened_size):
            if isinstance(s, bool) or not isinstance(s, int | np.integer):
                raise TypeError(f"Unflatten: expected `unflattened_size` to be a tuple of "
                                f"ints (got {type(s).__name__} {s!r} at position {i})")
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return ops.unflatten(input, self.dim, tuple(int(s) for s in self.unflattened_size))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
