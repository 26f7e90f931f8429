"""PyTorch-familiar functional names (``import sparsegraph.nn.functional as F``)."""

from __future__ import annotations

import numpy as np

from sparsegraph.ops import (  # noqa: F401
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    elu,
    gelu,
    l1_loss,
    leaky_relu,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    normalize,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from sparsegraph.tensor import Tensor, wrap


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``(N,)`` integer classes -> ``(N, C)`` int64 one-hot rows (no gradient)."""
    idx = np.asarray(tensor.array if isinstance(tensor, Tensor) else tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer classes (got {idx.dtype})")
    c = int(idx.max()) + 1 if num_classes < 0 else num_classes
    if idx.size and (idx.min() < 0 or idx.max() >= c):
        raise ValueError(f"one_hot: expected classes in [0, {c}) (got {int(idx.max())})")
    out = np.zeros(idx.shape + (c,), np.int64)
    np.put_along_axis(out, idx[..., None], 1, -1)
    return wrap(out)
