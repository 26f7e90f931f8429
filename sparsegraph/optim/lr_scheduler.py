"""Learning-rate schedulers, as ``torch.optim.lr_scheduler``.

This module holds `StepLR`, `CosineAnnealingLR`, `ReduceLROnPlateau` and the composites
`SequentialLR` and `ChainedScheduler`; it re-exports `LRScheduler` (scheduler_base), the
factor schedulers `LambdaLR`, `MultiplicativeLR`, `ExponentialLR`, `MultiStepLR`, `ConstantLR`,
`LinearLR` (schedulers_factor) and `OneCycleLR`, `CosineAnnealingWarmRestarts`
(schedulers_cyclic).

They follow ``torch.optim.lr_scheduler``: construction records each group's ``initial_lr`` and
sets epoch 0; each ``step()`` advances one epoch and updates the groups' ``"lr"`` with PyTorch's
chainable (recursive) formulas, which equal the closed forms when nothing else changes the lr:

- StepLR: ``base_lr * gamma ** (epoch // step_size)``;
- CosineAnnealingLR: ``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.
"""

from __future__ import annotations

import math
from bisect import bisect_right

from sparsegraph.optim.scheduler_base import LRScheduler, check_number, check_optimizer, untraced
from sparsegraph.optim.schedulers_cyclic import CosineAnnealingWarmRestarts, OneCycleLR
from sparsegraph.optim.schedulers_factor import (
    ConstantLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
)
from sparsegraph.tensor import TRACE

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ChainedScheduler",
           "ReduceLROnPlateau", "OneCycleLR", "CosineAnnealingWarmRestarts"]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer: the optimizer whose groups' lr is set.
        step_size: epochs between decays (> 0).
        gamma: multiplicative factor. (default: 0.1)
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        check_number("StepLR", "step_size", step_size)
        if not step_size > 0 or int(step_size) != step_size:
            raise ValueError(f"StepLR: expected an int step_size > 0 (got {step_size!r})")
        check_number("StepLR", "gamma", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return lrs
        return [lr * self.gamma for lr in lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


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
        check_number("CosineAnnealingLR", "T_max", T_max)
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: expected T_max > 0 (got {T_max!r})")
        check_number("CosineAnnealingLR", "eta_min", eta_min)
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

    def _get_closed_form_lr(self) -> list[float]:
        eta = self.eta_min
        return [eta + (base - eta) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


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
        check_optimizer(name, optimizer)
        n = len(optimizer.param_groups)
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: expected mode 'min' or 'max' (got {mode!r})")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: expected threshold_mode 'rel' or 'abs' "
                             f"(got {threshold_mode!r})")
        check_number(name, "factor", factor)
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"{name}: expected factor in [0, 1) (got {factor})")
        for key, value in (("threshold", threshold), ("eps", eps)):
            check_number(name, key, value)
        for key, value in (("patience", patience), ("cooldown", cooldown)):
            check_number(name, key, value, integer=True, at_least=0)
        if isinstance(min_lr, list | tuple):
            if len(min_lr) != n:
                raise ValueError(f"{name}: expected {n} min_lr values, one per group "
                                 f"(got {len(min_lr)})")
            for i, value in enumerate(min_lr):
                check_number(name, f"min_lr[{i}]", value)
            self.min_lrs, self.default_min_lr = list(min_lr), None
        else:
            check_number(name, "min_lr", min_lr)
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


def _check_schedulers(who: str, schedulers, optimizer) -> list:
    if isinstance(schedulers, LRScheduler) or not isinstance(schedulers, list | tuple):
        raise TypeError(f"{who}: expected a list of schedulers as schedulers (got "
                        f"{type(schedulers).__name__})")
    if not schedulers:
        raise ValueError(f"{who}: expected at least one scheduler in schedulers (got none)")
    for i, sched in enumerate(schedulers):
        if not isinstance(sched, LRScheduler):
            raise TypeError(f"{who}: expected an LRScheduler at schedulers[{i}] (got "
                            f"{type(sched).__name__})")
        if isinstance(sched, ReduceLROnPlateau):
            raise ValueError(f"{who}: does not support ReduceLROnPlateau (schedulers[{i}]), "
                             "which needs a metric at each step")
        if sched.optimizer is not optimizer:
            raise ValueError(f"{who}: schedulers[{i}] is bound to another optimizer than the "
                             "one given (or than schedulers[0]'s)")
    return list(schedulers)


class _Composite(LRScheduler):
    """State of a scheduler made of schedulers: its own attributes plus each one's
    ``state_dict()`` (torch's layout: ``state["_schedulers"]``)."""

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers")
        if len(inner) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state holds "
                             f"{len(inner)} schedulers, this one {len(self._schedulers)}")
        self.__dict__.update(state)
        for sched, saved in zip(self._schedulers, inner, strict=True):
            sched.load_state_dict(saved)

    def _record(self) -> None:
        if TRACE.tracer is not None:
            TRACE.tracer.record_effect("step", self)


class SequentialLR(_Composite):
    """Run ``schedulers[0]`` until epoch ``milestones[0]``, then ``schedulers[1]`` (restarted
    at its epoch 0, with its closed form where it has one) until ``milestones[1]``, and so on.

    As torch: construction resets every group's lr to its ``initial_lr``, undoes the initial
    step of every scheduler and redoes only the first one's. A group added with
    ``add_param_group`` afterwards is handled by each scheduler as on its own (see
    `LRScheduler`).

    Args:
        optimizer: the optimizer the schedulers are bound to.
        schedulers: list of schedulers (not ReduceLROnPlateau).
        milestones: increasing epochs, one fewer than the schedulers.
        last_epoch: as other schedulers. (default: -1)
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        name = "SequentialLR"
        check_optimizer(name, optimizer)
        self._schedulers = _check_schedulers(name, schedulers, optimizer)
        if not isinstance(milestones, list | tuple):
            raise TypeError(f"{name}: expected a list of ints as milestones (got "
                            f"{type(milestones).__name__})")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{name}: expected one milestone fewer than schedulers "
                             f"({len(schedulers) - 1}) (got {len(milestones)} milestones for "
                             f"{len(schedulers)} schedulers)")
        for i, m in enumerate(milestones):
            check_number(name, f"milestones[{i}]", m, integer=True, at_least=0)
        if list(milestones) != sorted(milestones):
            raise ValueError(f"{name}: expected increasing milestones (got {list(milestones)})")
        check_number(name, "last_epoch", last_epoch, integer=True, at_least=-1)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        groups = optimizer.param_groups
        for i, group in enumerate(groups):
            if "initial_lr" not in group:  # torch: a bare KeyError
                raise ValueError(f"{name}: the optimizer has {len(groups)} param groups but "
                                 f"the schedulers were built for fewer: param_groups[{i}] has "
                                 "no 'initial_lr'; make the schedulers after add_param_group")
        for group in groups:
            group["lr"] = group["initial_lr"]
        for sched in self._schedulers:
            sched.last_epoch -= 1
        with untraced():
            self._schedulers[0]._initial_step()
        self._last_lr = self._schedulers[0].get_last_lr()

    def step(self) -> None:
        self._record()
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        sched = self._schedulers[idx]
        with untraced():
            if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
                sched.step(0)
            else:
                sched.step()
        self._last_lr = sched.get_last_lr()


class ChainedScheduler(_Composite):
    """Step every scheduler of the list at each ``step()``: their factors multiply (each reads
    the lr the previous one wrote).

    Args:
        schedulers: list of schedulers bound to one optimizer (not ReduceLROnPlateau).
        optimizer: that optimizer; by default ``schedulers[0].optimizer``. (default: None)
    """

    def __init__(self, schedulers, optimizer=None):
        name = "ChainedScheduler"
        if optimizer is None:
            if isinstance(schedulers, list | tuple) and schedulers:
                optimizer = getattr(schedulers[0], "optimizer", None)
        else:
            check_optimizer(name, optimizer)
        self._schedulers = _check_schedulers(name, schedulers, optimizer)
        self.optimizer = optimizer
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self) -> None:
        self._record()
        with untraced():
            for sched in self._schedulers:
                sched.step()
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
