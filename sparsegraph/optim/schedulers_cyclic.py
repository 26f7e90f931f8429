"""`OneCycleLR` (Smith & Topin, "Super-Convergence", 2017) and `CosineAnnealingWarmRestarts`
(Loshchilov & Hutter, "SGDR", 2017), with ``torch.optim.lr_scheduler``'s formulas."""

from __future__ import annotations

import math

from sparsegraph.optim.scheduler_base import (
    LRScheduler,
    check_number,
    check_optimizer,
    per_group,
    set_lrs,
)
from sparsegraph.tensor import TRACE

__all__ = ["OneCycleLR", "CosineAnnealingWarmRestarts"]


def _positive_int(who: str, key: str, value) -> None:
    check_number(who, key, value, integer=True, at_least=1)


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped once per batch: the lr anneals from
    ``initial_lr = max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then down to ``min_lr = initial_lr / final_div_factor``. With
    ``three_phase`` it comes back to ``initial_lr`` at ``2 * pct_start`` before the final
    descent. The momentum (SGD's ``momentum`` or Adam's ``betas[0]``) cycles inversely between
    ``max_momentum`` and ``base_momentum`` when ``cycle_momentum``.

    In a phase from step ``a`` to step ``b`` (phase ends at ``pct_start * total_steps - 1``,
    ``2 * pct_start * total_steps - 2`` and ``total_steps - 1``), ``pct = (t - a) / (b - a)``
    and the value is ``end + (start - end) / 2 * (1 + cos(pi * pct))`` ("cos") or
    ``start + (end - start) * pct`` ("linear"). A phase of length 0 (torch: ZeroDivisionError)
    takes ``pct = 1``. Stepping past ``total_steps`` raises ValueError, as torch; so does a
    step after ``add_param_group`` added a group without these bounds (torch: KeyError).

    Args:
        optimizer: the optimizer whose groups' lr (and momentum) is set.
        max_lr: the peak lr, one number or one per group.
        total_steps: the number of steps in the cycle; or give ``epochs`` and
            ``steps_per_epoch``. (default: None)
        epochs, steps_per_epoch: ``total_steps = epochs * steps_per_epoch``. (default: None)
        pct_start: fraction of the cycle spent increasing the lr, in [0, 1]. (default: 0.3)
        anneal_strategy: "cos" or "linear". (default: "cos")
        cycle_momentum: cycle the momentum too. (default: True)
        base_momentum, max_momentum: the momentum bounds, numbers or one per group.
            (default: 0.85, 0.95)
        div_factor: ``initial_lr = max_lr / div_factor``. (default: 25)
        final_div_factor: ``min_lr = initial_lr / final_div_factor``. (default: 1e4)
        three_phase: the three-phase schedule above. (default: False)
        last_epoch: the step to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        name = "OneCycleLR"
        check_optimizer(name, optimizer)
        if total_steps is not None:
            _positive_int(name, "total_steps", total_steps)
            self.total_steps = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _positive_int(name, "epochs", epochs)
            _positive_int(name, "steps_per_epoch", steps_per_epoch)
            self.total_steps = int(epochs) * int(steps_per_epoch)
        else:
            raise ValueError(f"{name}: expected total_steps, or epochs and steps_per_epoch "
                             f"(got total_steps={total_steps}, epochs={epochs}, "
                             f"steps_per_epoch={steps_per_epoch})")
        check_number(name, "pct_start", pct_start, at_least=0, at_most=1)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: expected anneal_strategy 'cos' or 'linear' (got "
                             f"{anneal_strategy!r})")
        check_number(name, "div_factor", div_factor, above=0)
        check_number(name, "final_div_factor", final_div_factor, above=0)
        n = self.total_steps
        phases = [(float(pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum",
                   "base_momentum")]
        if three_phase:
            phases += [(float(2 * pct_start * n) - 2, "max_lr", "initial_lr", "base_momentum",
                        "max_momentum"),
                       (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            phases += [(n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        keys = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")
        self._schedule_phases = [dict(zip(keys, phase, strict=True)) for phase in phases]
        self._anneal_func_type = anneal_strategy
        max_lrs = per_group(name, "max_lr", optimizer, max_lr, at_least=0)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group, top in zip(groups, max_lrs, strict=True):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            defaults = optimizer.defaults
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(f"{name}: cycle_momentum=True needs an optimizer with a "
                                 f"momentum or betas option (got {type(optimizer).__name__}); "
                                 "pass cycle_momentum=False")
            self.use_beta1 = "betas" in defaults
            tops = per_group(name, "max_momentum", optimizer, max_momentum, at_least=0)
            bases = per_group(name, "base_momentum", optimizer, base_momentum, at_least=0)
            if last_epoch == -1:
                for top, base, group in zip(tops, bases, groups, strict=True):
                    self._set_momentum(group, top)
                    group["max_momentum"], group["base_momentum"] = top, base
        super().__init__(optimizer, last_epoch)

    def _check_groups(self) -> None:
        """Every group holds the bounds construction wrote (``initial_lr``, ``max_lr``, ...):
        one added by ``add_param_group`` afterwards does not (PyTorch: a bare KeyError)."""
        need = ["initial_lr", "max_lr", "min_lr"]
        if self.cycle_momentum:
            need += ["max_momentum", "base_momentum"]
        groups = self.optimizer.param_groups
        for i, group in enumerate(groups):
            missing = [key for key in need if key not in group]
            if missing:
                raise ValueError(
                    f"OneCycleLR: the optimizer has {len(groups)} param groups but the "
                    f"scheduler was built for {len(self.base_lrs)}: param_groups[{i}] has no "
                    f"{', '.join(map(repr, missing))}; make the scheduler after "
                    "add_param_group (or give the group these keys)")

    def _set_momentum(self, group: dict, value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times; the schedule has "
                             f"total_steps={self.total_steps}")
        self._check_groups()
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if t <= end or i == last:
                    pct = (t - start) / (end - start) if end != start else 1.0
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]],
                                            pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct))
                    break
                start = end
        return lrs


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing with warm restarts: ``eta_min + (base_lr - eta_min) *
    (1 + cos(pi * T_cur / T_i)) / 2``, where ``T_cur`` counts the epochs since the last
    restart and the period ``T_i`` starts at ``T_0`` and is multiplied by ``T_mult`` at each
    restart. ``step(epoch)`` accepts a fractional epoch (e.g. ``epoch + i / iters``) and sets
    ``T_cur`` / ``T_i`` from it in closed form. A group added with ``add_param_group`` after
    construction has no base lr: it keeps its own lr (as PyTorch).

    Args:
        optimizer: the optimizer whose groups' lr is set.
        T_0: the first period, a positive int.
        T_mult: the period's growth factor, an int >= 1. (default: 1)
        eta_min: the minimum lr. (default: 0)
        last_epoch: the epoch to resume from; -1 starts fresh. (default: -1)
    """

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1):
        name = "CosineAnnealingWarmRestarts"
        _positive_int(name, "T_0", T_0)
        _positive_int(name, "T_mult", T_mult)
        check_number(name, "eta_min", eta_min)
        self.T_0 = self.T_i = int(T_0)
        self.T_mult, self.eta_min = int(T_mult), eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        eta, scale = self.eta_min, (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [eta + (base - eta) * scale for base in self.base_lrs]

    def step(self, epoch: int | float | None = None) -> None:
        """Advance one epoch, or go to ``epoch`` (an int or a fraction, >= 0)."""
        if TRACE.tracer is not None and self._step_count:
            kwargs = {} if epoch is None else {"epoch": epoch}
            TRACE.tracer.record_effect("step", self, **kwargs)
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur -= self.T_i
                self.T_i *= self.T_mult
        else:
            check_number("CosineAnnealingWarmRestarts.step", "epoch", epoch, at_least=0)
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    k = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**k - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**k
            else:
                self.T_i, self.T_cur = self.T_0, epoch
        self.last_epoch = math.floor(epoch)
        self._last_lr = set_lrs(self.optimizer, self.get_lr())  # added groups keep their lr
