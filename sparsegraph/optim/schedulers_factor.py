"""Schedulers that scale the lr by a factor: `LambdaLR`, `MultiplicativeLR`, `ExponentialLR`,
`MultiStepLR`, `ConstantLR`, `LinearLR` (``torch.optim.lr_scheduler``'s formulas).

Closed forms at epoch ``t`` (each also steps by torch's chainable rule, which equals it when
nothing else writes the lr):

- LambdaLR: ``base_lr * lr_lambda(t)``; MultiplicativeLR: ``lr_{t-1} * lr_lambda(t)`` (t > 0);
- ExponentialLR: ``base_lr * gamma ** t``;
- MultiStepLR: ``base_lr * gamma ** (number of milestones <= t)``;
- ConstantLR: ``base_lr * factor`` for ``t < total_iters``, then ``base_lr``;
- LinearLR: ``base_lr * (start + (end - start) * min(t, total_iters) / total_iters)``.
"""

from __future__ import annotations

import types
from bisect import bisect_right
from collections import Counter

from sparsegraph.optim.scheduler_base import (
    LRScheduler,
    check_number,
    check_optimizer,
    one_per_group,
)

__all__ = ["LambdaLR", "MultiplicativeLR", "ExponentialLR", "MultiStepLR", "ConstantLR",
           "LinearLR"]


class _LambdaState(LRScheduler):
    """``state_dict`` as torch's LambdaLR: functions and lambdas cannot be pickled, so the state
    holds None for them; a callable object's ``__dict__`` is saved and restored."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        name = type(self).__name__
        check_optimizer(name, optimizer)
        lambdas = one_per_group(name, "lr_lambda", optimizer, lr_lambda)
        for i, fn in enumerate(lambdas):
            if not callable(fn):
                where = f"lr_lambda[{i}]" if isinstance(lr_lambda, list | tuple) else "lr_lambda"
                raise TypeError(f"{name}: expected a function of the epoch as {where} (got "
                                f"{type(fn).__name__} {fn!r:.40})")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def state_dict(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(state)
        for fn, attrs in zip(self.lr_lambdas, saved, strict=False):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_LambdaState):
    """Set each group's lr to ``base_lr * lr_lambda(epoch)``.

    A group added with ``add_param_group`` after construction has neither a lambda nor a base
    lr: it keeps its own lr (as PyTorch; build the scheduler afterwards to schedule it).

    Args:
        optimizer: the optimizer whose groups' lr is set.
        lr_lambda: a function of the epoch (an int) giving the factor, or one per group.
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs,
                                                               strict=False)]


class MultiplicativeLR(_LambdaState):
    """Multiply each group's lr by ``lr_lambda(epoch)`` at every epoch after the first.

    A group added with ``add_param_group`` after construction has no lambda: it keeps its own
    lr (as PyTorch).

    Args: as `LambdaLR`.
    """

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch > 0:
            # one lambda per group at construction: a group added later keeps its lr (torch)
            return [group["lr"] * fn(self.last_epoch)
                    for fn, group in zip(self.lr_lambdas, groups, strict=False)]
        return [group["lr"] for group in groups]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch.

    Args:
        optimizer: the optimizer whose groups' lr is set.
        gamma: multiplicative factor.
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        check_number("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        return lrs if self.last_epoch == 0 else [lr * self.gamma for lr in lrs]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each milestone epoch (a milestone listed twice decays
    twice, as torch's ``Counter``).

    Args:
        optimizer: the optimizer whose groups' lr is set.
        milestones: epochs (ints) at which to decay.
        gamma: multiplicative factor. (default: 0.1)
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        if not isinstance(milestones, list | tuple | range):
            raise TypeError(f"MultiStepLR: expected a list of ints as milestones (got "
                            f"{type(milestones).__name__})")
        for i, m in enumerate(milestones):
            check_number("MultiStepLR", f"milestones[{i}]", m, integer=True, at_least=0)
        check_number("MultiStepLR", "gamma", gamma)
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch not in self.milestones:
            return lrs
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in lrs]

    def _get_closed_form_lr(self) -> list[float]:
        marks = sorted(Counter(self.milestones).elements())
        return [base * self.gamma ** bisect_right(marks, self.last_epoch)
                for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter({int(k): v for k, v in self.milestones.items()})  # sg.load


class ConstantLR(LRScheduler):
    """Scale the lr by ``factor`` until epoch ``total_iters``, then restore it.

    Args:
        optimizer: the optimizer whose groups' lr is set.
        factor: the factor, in [0, 1]. (default: 1/3)
        total_iters: epochs at the reduced lr (>= 1). (default: 5)
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        check_number("ConstantLR", "factor", factor, at_least=0, at_most=1)
        check_number("ConstantLR", "total_iters", total_iters, integer=True, at_least=1)
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return [lr * self.factor for lr in lrs]
        if self.last_epoch != self.total_iters:
            return lrs
        if self.factor == 0:  # torch divides by the factor here (ZeroDivisionError)
            return self._get_closed_form_lr()
        return [lr * (1.0 / self.factor) for lr in lrs]

    def _get_closed_form_lr(self) -> list[float]:
        f = self.factor
        return [base * (f + (self.last_epoch >= self.total_iters) * (1 - f))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the lr by a factor going linearly from ``start_factor`` (epoch 0) to
    ``end_factor`` (epoch ``total_iters`` and after).

    Args:
        optimizer: the optimizer whose groups' lr is set.
        start_factor: in (0, 1]. (default: 1/3)
        end_factor: in [0, 1]. (default: 1)
        total_iters: epochs of the ramp (>= 1). (default: 5)
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        check_number("LinearLR", "start_factor", start_factor, above=0, at_most=1)
        check_number("LinearLR", "end_factor", end_factor, at_least=0, at_most=1)
        check_number("LinearLR", "total_iters", total_iters, integer=True, at_least=1)
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        s, e, t = self.start_factor, self.end_factor, self.last_epoch
        if t == 0:
            return [lr * s for lr in lrs]
        if t > self.total_iters:
            return lrs
        scale = 1.0 + (e - s) / (self.total_iters * s + (t - 1) * (e - s))
        return [lr * scale for lr in lrs]

    def _get_closed_form_lr(self) -> list[float]:
        s, e = self.start_factor, self.end_factor
        frac = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * (s + (e - s) * frac) for base in self.base_lrs]
