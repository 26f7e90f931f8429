"""PyTorch's names for the neural-network ops (``import sparsegraph.nn.functional as F``).

Each name is the `sparsegraph.ops` function itself (no wrapper, no extra call); ``embedding``
is `sparsegraph.nn.embedding`'s (the op with PyTorch's padding_idx and max_norm, beside the
layer; ops has none), ``embedding_bag`` and ``layer_norm`` likewise their layers' own. Names
that the op library does not define are looked up in it lazily, so ``F.<op>`` works for any
op added later and a missing one fails only when used.
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as _ops
from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.nn.embedding import embedding  # the layer's op (padding_idx, max_norm)
from sparsegraph.nn.embedding_bag import embedding_bag
from sparsegraph.nn.normalization import layer_norm
from sparsegraph.tensor import Tensor, host_values

_REEXPORTED = (
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "tanh", "hardtanh",
    "softplus", "silu", "softmax", "log_softmax", "dropout", "linear", "normalize",
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy_with_logits",
    "binary_cross_entropy", "huber_loss", "smooth_l1_loss",
    "pad", "cosine_similarity", "pairwise_distance", "kl_div",
)
globals().update({name: getattr(_ops, name) for name in _REEXPORTED if hasattr(_ops, name)})

__all__ = [name for name in _REEXPORTED if name in globals()] + ["embedding", "embedding_bag",
                                                            "layer_norm", "one_hot", "prelu"]


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """torch's ``F.prelu``: ``x`` where ``x >= 0``, else ``weight * x``, with one learned slope
    (``weight`` of shape ``(1,)``) or one per channel (``(C,)``, channels on dim 1 of an
    ``(N, C, ...)`` input). Differentiable w.r.t. both."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"prelu: expected `input` and `weight` Tensors (got "
                        f"{type(input).__name__} and {type(weight).__name__})")
    if weight.ndim != 1 or (weight.shape[0] != 1 and (
            input.ndim < 2 or weight.shape[0] != input.shape[1])):
        channels = input.shape[1] if input.ndim >= 2 else 1
        raise ValueError(f"prelu: expected `weight` of shape (1,) or ({channels},), one slope "
                         f"per channel (dim 1) of `input` of shape {tuple(input.shape)} (got "
                         f"{tuple(weight.shape)})")
    if weight.shape[0] != 1 and input.ndim > 2:  # (C,) -> (C, 1, ..., 1) against (N, C, ...)
        weight = weight.reshape((weight.shape[0],) + (1,) * (input.ndim - 2))
    return _ops.where(input >= 0, input, weight * input)


def __getattr__(name: str):
    fn = getattr(_ops, name, None)
    if fn is None or name.startswith("_"):
        raise AttributeError(f"sparsegraph.nn.functional has no attribute {name!r} (and "
                             "sparsegraph.ops defines no such op)")
    globals()[name] = fn  # later lookups skip this function
    return fn


def __dir__():
    return sorted(set(globals()) | set(_ops.__all__))


class OneHot(Function):
    """`one_hot` as an op, so a static graph runs it, range check included, on every call."""

    @staticmethod
    def forward(ctx, tensor, num_classes: int):
        idx = tensor.array if isinstance(tensor, Tensor) else tensor
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
            raise ValueError(f"one_hot: expected class indices in [0, {num_classes}) (got "
                             f"values in [{int(idx.min())}, {int(idx.max())}])")
        xp = backend.xp_of(idx)
        return (idx[..., None] == xp.arange(num_classes)).astype(xp.int64)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """``(*)`` integer classes -> ``(*, C)`` int64 one-hot rows (no gradient).

    Args:
        tensor: integer class indices in ``[0, num_classes)``.
        num_classes: ``C``; -1 infers ``max + 1``. (default: -1)

    Raises:
        TypeError: for non-integer input.
        ValueError: for an index out of range, or an empty input with ``num_classes=-1``.
    """
    idx = tensor.array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices (got {idx.dtype})")
    if num_classes < 0:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer the number of classes of an empty tensor; "
                             "pass num_classes")
        # the output's shape comes from the values: a static trace guards them
        host_values(tensor, "one_hot: `num_classes` inferred as max + 1", "Pass `num_classes`")
        num_classes = int(idx.max()) + 1
    return OneHot.apply(tensor if isinstance(tensor, Tensor) else idx, num_classes)
