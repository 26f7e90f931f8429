"""Learning-rate schedulers: `StepLR`, `CosineAnnealingLR`, `ReduceLROnPlateau`.

They follow ``torch.optim.lr_scheduler``: construction records each group's ``initial_lr`` and
sets epoch 0; each ``step()`` advances one epoch and updates the groups' ``"lr"`` with PyTorch's
chainable (recursive) formulas, which equal the closed forms when nothing else changes the lr:

- StepLR: ``base_lr * gamma ** (epoch // step_size)``;
- CosineAnnealingLR: ``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.
"""

from __future__ import annotations

import math

from sparsegraph.tensor import TRACE

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "ReduceLROnPlateau"]


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` (the new lr of every group)."""

    def __init__(self, optimizer, last_epoch: int = -1):
        self.optimizer = optimizer
        name = type(self).__name__
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{name}: param_groups[{i}] has no 'initial_lr'; it is needed "
                                   "to resume with last_epoch != -1")
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and set every group's lr."""
        if TRACE.tracer is not None and self._step_count:  # not the constructor's own step
            TRACE.tracer.record_effect("step", self)  # a compiled step replays it every call
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Every attribute but the optimizer (plain numbers and lists: `sg.save` stores it)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer: the optimizer whose groups' lr is set.
        step_size: epochs between decays (> 0).
        gamma: multiplicative factor. (default: 0.1)
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if isinstance(step_size, bool) or not step_size > 0 or int(step_size) != step_size:
            raise ValueError(f"StepLR: expected an int step_size > 0 (got {step_size!r})")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class CosineAnnealingLR(LRScheduler):
    """Loshchilov & Hutter, "SGDR" (2017), without restarts: the lr follows a cosine from
    ``base_lr`` (epoch 0) to ``eta_min`` (epoch ``T_max``) and back up, with period ``2 T_max``.

    Args:
        optimizer: the optimizer whose groups' lr is set.
        T_max: half period in epochs (> 0).
        eta_min: the minimum lr. (default: 0)
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: expected T_max > 0 (got {T_max!r})")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups, t, T, eta = self.optimizer.param_groups, self.last_epoch, self.T_max, self.eta_min
        if t == 0:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and t > 0:  # resumed: the closed form
            return [eta + (base - eta) * (1 + math.cos(t * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:  # leaving the minimum: the ratio below would be 0 / 0
            return [group["lr"] + (base - eta) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups, strict=True)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (group["lr"] - eta) + eta for group in groups]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` once the metric has not improved for ``patience`` epochs.

    Improvement is ``metric < best * (1 - threshold)`` (mode "min", threshold_mode "rel"),
    ``metric < best - threshold`` ("min", "abs"), and mirrored for mode "max". After a
    reduction, ``cooldown`` epochs pass before bad epochs are counted again; the lr never goes
    below ``min_lr`` and changes smaller than ``eps`` are skipped.

    Args:
        optimizer: the optimizer whose groups' lr is set.
        mode: "min" (e.g. a loss) or "max" (e.g. an accuracy). (default: "min")
        factor: multiplicative factor in [0, 1). (default: 0.1)
        patience: bad epochs tolerated before a reduction. (default: 10)
        threshold: minimum change that counts as improvement. (default: 1e-4)
        threshold_mode: "rel" or "abs". (default: "rel")
        cooldown: epochs to wait after a reduction. (default: 0)
        min_lr: lower bound, one number or one per group. (default: 0)
        eps: minimal applied change. (default: 1e-8)
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0.0, eps: float = 1e-8):
        name, n = "ReduceLROnPlateau", len(optimizer.param_groups)
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: expected mode 'min' or 'max' (got {mode!r})")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: expected threshold_mode 'rel' or 'abs' "
                             f"(got {threshold_mode!r})")
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"{name}: expected factor in [0, 1) (got {factor})")
        if isinstance(min_lr, list | tuple):
            if len(min_lr) != n:
                raise ValueError(f"{name}: expected {n} min_lr values, one per group "
                                 f"(got {len(min_lr)})")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * n
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, value: float, best: float) -> bool:
        if self.threshold_mode == "rel":
            ref = best * (1 - self.threshold if self.mode == "min" else 1 + self.threshold)
        else:
            ref = best - self.threshold if self.mode == "min" else best + self.threshold
        return value < ref if self.mode == "min" else value > ref

    def step(self, metrics) -> None:
        """Record one epoch's metric (a number or a one-element tensor)."""
        current = float(metrics)  # a traced tensor's value: refused by a static trace
        if TRACE.tracer is not None:
            TRACE.tracer.record_effect("step", self, metrics=metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                old = group["lr"]
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
