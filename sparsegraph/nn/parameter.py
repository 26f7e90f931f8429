"""`Parameter`: a Tensor that a `Module` registers as learnable state."""

from __future__ import annotations

import numpy as np

from sparsegraph.creation import as_array
from sparsegraph.tensor import Tensor, wrap


class Parameter(Tensor):
    """A Tensor that a `Module` registers automatically when assigned as an attribute.

    Like ``torch.nn.Parameter`` it shares memory (and the version counter) with ``data`` and
    requires grad by default. Read-only memory (e.g. the cached ``gcn_norm(adj).values`` on
    the CPU) is copied instead: optimizers update a parameter in place. On a GPU those cached
    values are shared, with their cache entry's version counter, so a step makes the next
    ``gcn_norm`` call rebuild instead of returning the stepped values.

    Args:
        data: a Tensor (shared, not copied), an array, or nested lists (Python floats become
            float32). (default: an empty float32 tensor)
        requires_grad: whether the parameter is learnable. (default: True)

    Raises:
        TypeError: ``requires_grad`` on non-floating data.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros(0, np.float32)
        array = data.array if isinstance(data, Tensor) else as_array(data)
        shared = getattr(array.flags, "writeable", True)  # CuPy arrays are always writable
        other = wrap(array if shared else array.copy())
        if isinstance(data, Tensor) and shared:
            other._version = data._version  # same memory, same counter (as torch)
        for slot in Tensor.__slots__[:-1]:  # every slot but __weakref__
            setattr(self, slot, getattr(other, slot))
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __hash__ = Tensor.__hash__
