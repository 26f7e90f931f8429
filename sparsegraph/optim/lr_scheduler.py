"""Learning-rate schedulers: `StepLR`, `CosineAnnealingLR`, `ReduceLROnPlateau`.

They follow ``torch.optim.lr_scheduler``: construction records each group's ``initial_lr`` and
sets epoch 0; each ``step()`` advances one epoch and updates the groups' ``"lr"`` with PyTorch's
chainable (recursive) formulas, which equal the closed forms when nothing else changes the lr:

- StepLR: ``base_lr * gamma ** (epoch // step_size)``;
- CosineAnnealingLR: ``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.optim.optimizer import Optimizer
from sparsegraph.tensor import TRACE

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "ReduceLROnPlateau"]


def _check_optimizer(who: str, optimizer) -> None:
    # PyTorch's message; a model passed by mistake would fail later at `.param_groups`
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who}: {type(optimizer).__name__} is not an Optimizer "
                        "(expected e.g. sg.optim.SGD(model.parameters(), lr=...))")


def _check_number(who: str, key: str, value, *, integer: bool = False,
                  at_least: float | None = None) -> None:
    """A real (``integer``: whole) number option, checked at construction: a str or a bool
    would only fail epochs later, inside ``step``."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{who}: expected {'an int' if integer else 'a number'} for {key} "
                        f"(got {type(value).__name__} {value!r})")
    if at_least is not None and not value >= at_least:
        raise ValueError(f"{who}: expected {key} >= {at_least} (got {value!r})")


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` (the new lr of every group)."""

    def __init__(self, optimizer, last_epoch: int = -1):
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        _check_number(name, "last_epoch", last_epoch, integer=True, at_least=-1)
        self.optimizer = optimizer
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
        _check_number("StepLR", "step_size", step_size)
        if not step_size > 0 or int(step_size) != step_size:
            raise ValueError(f"StepLR: expected an int step_size > 0 (got {step_size!r})")
        _check_number("StepLR", "gamma", gamma)
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

    A group added later with ``add_param_group`` follows PyTorch's recursive rule: each epoch
    scales its distance to ``eta_min`` by the same ratio as the others'. It has no base lr, so
    it does not climb back once it has reached ``eta_min``.

    Args:
        optimizer: the optimizer whose groups' lr is set.
        T_max: half period in epochs (> 0).
        eta_min: the minimum lr. (default: 0)
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        _check_number("CosineAnnealingLR", "T_max", T_max)
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: expected T_max > 0 (got {T_max!r})")
        _check_number("CosineAnnealingLR", "eta_min", eta_min)
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
            # a group added by add_param_group after construction has no base lr: PyTorch
            # leaves its lr unchanged at this step (and anneals it by the ratio elsewhere)
            added = [group["lr"] for group in groups[len(self.base_lrs):]]
            return [group["lr"] + (base - eta) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups[:len(self.base_lrs)],
                                           strict=True)] + added
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
        min_lr: lower bound, one number or one per group. A single number also bounds the
            groups added later with ``add_param_group``; a per-group list must then be
            extended by hand (``scheduler.min_lrs``), as in PyTorch. (default: 0)
        eps: minimal applied change. (default: 1e-8)
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0.0, eps: float = 1e-8):
        name = "ReduceLROnPlateau"
        _check_optimizer(name, optimizer)
        n = len(optimizer.param_groups)
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: expected mode 'min' or 'max' (got {mode!r})")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: expected threshold_mode 'rel' or 'abs' "
                             f"(got {threshold_mode!r})")
        _check_number(name, "factor", factor)
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"{name}: expected factor in [0, 1) (got {factor})")
        for key, value in (("threshold", threshold), ("eps", eps)):
            _check_number(name, key, value)
        for key, value in (("patience", patience), ("cooldown", cooldown)):
            _check_number(name, key, value, integer=True, at_least=0)
        if isinstance(min_lr, list | tuple):
            if len(min_lr) != n:
                raise ValueError(f"{name}: expected {n} min_lr values, one per group "
                                 f"(got {len(min_lr)})")
            for i, value in enumerate(min_lr):
                _check_number(name, f"min_lr[{i}]", value)
            self.min_lrs, self.default_min_lr = list(min_lr), None
        else:
            _check_number(name, "min_lr", min_lr)
            self.min_lrs, self.default_min_lr = [min_lr] * n, min_lr
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
            self._match_groups()
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                old = group["lr"]
                new = max(old * self.factor, min_lr)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _match_groups(self) -> None:
        """One ``min_lr`` per group, also for groups added since construction (PyTorch's
        ``_reduce_lr``): a single ``min_lr`` is spread over them; a per-group list cannot be."""
        n = len(self.optimizer.param_groups)
        if n == len(self.min_lrs):
            return
        if self.default_min_lr is None:
            raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {n} parameter groups but "
                               f"min_lr gave {len(self.min_lrs)} values, usually because "
                               "add_param_group was called after the scheduler was built; set "
                               f"scheduler.min_lrs to a list of {n} values")
        self.min_lrs = [self.default_min_lr] * n
