"""Loss modules (PyTorch's ``nn.CrossEntropyLoss`` etc.): each holds its options and calls the
functional loss of `sparsegraph.ops`; ``weight`` / ``pos_weight`` are buffers, as PyTorch's,
so they follow ``Module.to`` and appear in ``state_dict``."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.nn._checks import check_int, check_number
from sparsegraph.nn.module import Module
from sparsegraph.tensor import Tensor

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCEWithLogitsLoss", "BCELoss",
           "HuberLoss", "SmoothL1Loss", "KLDivLoss"]

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    _reductions = REDUCTIONS

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in self._reductions:  # at construction, not at the first call
            raise ValueError(f"{type(self).__name__}: expected reduction in "
                             f"{self._reductions} (got {reduction!r})")
        self.reduction = reduction

    def _buffer(self, name: str, value) -> None:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor or None {name} (got "
                            f"{type(value).__name__})")
        self.register_buffer(name, value)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """`ops.cross_entropy` of logits ``(N, C)`` and class indices ``(N,)``."""

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self.ignore_index = check_int("CrossEntropyLoss", "ignore_index", ignore_index, None)
        self.label_smoothing = check_number("CrossEntropyLoss", "label_smoothing",
                                            label_smoothing)

    def forward(self, input, target):
        return ops.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                                 self.label_smoothing)


class NLLLoss(_Loss):
    """`ops.nll_loss` of log-probabilities ``(N, C)`` and class indices ``(N,)``."""

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = -100,
                 reduction: str = "mean"):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self.ignore_index = check_int("NLLLoss", "ignore_index", ignore_index, None)

    def forward(self, input, target):
        return ops.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """`ops.mse_loss`: ``(input - target)^2``, reduced."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return ops.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """`ops.l1_loss`: ``|input - target|``, reduced."""

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return ops.l1_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """`ops.binary_cross_entropy_with_logits`: sigmoid + binary cross-entropy, stable."""

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean",
                 pos_weight: Tensor | None = None):
        super().__init__(reduction)
        self._buffer("weight", weight)
        self._buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        return ops.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                    self.pos_weight)


class BCELoss(_Loss):
    """`ops.binary_cross_entropy` of probabilities in [0, 1] (after a sigmoid); prefer
    `BCEWithLogitsLoss` on logits."""

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean"):
        super().__init__(reduction)
        self._buffer("weight", weight)

    def forward(self, input, target):
        return ops.binary_cross_entropy(input, target, self.weight, self.reduction)


class HuberLoss(_Loss):
    """`ops.huber_loss`: squared error below ``delta``, linear above."""

    def __init__(self, *, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        self.delta = check_number("HuberLoss", "delta", delta)

    def forward(self, input, target):
        return ops.huber_loss(input, target, self.reduction, self.delta)


class SmoothL1Loss(_Loss):
    """`ops.smooth_l1_loss`: ``huber_loss(delta=beta) / beta``."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        self.beta = check_number("SmoothL1Loss", "beta", beta)

    def forward(self, input, target):
        return ops.smooth_l1_loss(input, target, self.reduction, self.beta)


class KLDivLoss(_Loss):
    """`ops.kl_div`: the KL divergence of ``target`` from the log-probabilities ``input``.

    ``reduction="batchmean"`` (the sum over the batch divided by ``input.shape[0]``) is the
    KL divergence's definition; the default ``"mean"`` averages over every element and warns
    on each call, as torch does.

    Args:
        reduction: ``"mean"``, ``"batchmean"``, ``"sum"`` or ``"none"``. (default: "mean")
        log_target: ``target`` holds log-probabilities. (default: False)
    """

    _reductions = ops.similarity.KL_REDUCTIONS

    def __init__(self, *, reduction: str = "mean", log_target: bool = False):
        super().__init__(reduction)
        if not isinstance(log_target, bool):
            raise TypeError(f"KLDivLoss: expected a bool log_target (got "
                            f"{type(log_target).__name__} {log_target!r})")
        self.log_target = log_target

    def forward(self, input, target):
        return ops.kl_div(input, target, self.reduction, self.log_target)
