"""`LRScheduler`, the base of the learning-rate schedulers, and their argument checks.

As ``torch.optim.lr_scheduler.LRScheduler``: construction records each group's ``initial_lr``
and takes the first step (epoch 0); each ``step()`` advances one epoch and writes the groups'
``"lr"`` with the subclass's chainable ``get_lr()``; ``step(epoch)`` jumps to ``epoch`` with the
closed form ``_get_closed_form_lr()`` where the subclass has one (as torch, which deprecates it).
"""

from __future__ import annotations

import contextlib

import numpy as np

from sparsegraph.optim.optimizer import Optimizer
from sparsegraph.tensor import TRACE

__all__ = ["LRScheduler"]


def check_optimizer(who: str, optimizer) -> None:
    # PyTorch's message; a model passed by mistake would fail later at `.param_groups`
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who}: {type(optimizer).__name__} is not an Optimizer "
                        "(expected e.g. sg.optim.SGD(model.parameters(), lr=...))")


def check_number(who: str, key: str, value, *, integer: bool = False,
                 at_least: float | None = None, above: float | None = None,
                 at_most: float | None = None) -> None:
    """A real (``integer``: whole) number option, checked at construction: a str or a bool
    would only fail epochs later, inside ``step``."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{who}: expected {'an int' if integer else 'a number'} for {key} "
                        f"(got {type(value).__name__} {value!r})")
    if at_least is not None and not value >= at_least:
        raise ValueError(f"{who}: expected {key} >= {at_least} (got {value!r})")
    if above is not None and not value > above:
        raise ValueError(f"{who}: expected {key} > {above} (got {value!r})")
    if at_most is not None and not value <= at_most:
        raise ValueError(f"{who}: expected {key} <= {at_most} (got {value!r})")


def per_group(who: str, key: str, optimizer, value, **bounds) -> list:
    """One value per parameter group (torch's ``_format_param``): a list / tuple of that
    length, or one number for every group; each a number within ``bounds``."""
    values = one_per_group(who, key, optimizer, value)
    n = len(values)
    for i, v in enumerate(values):
        check_number(who, key if n == 1 or not isinstance(value, list | tuple)
                     else f"{key}[{i}]", v, **bounds)
    return values


def one_per_group(who: str, key: str, optimizer, value) -> list:
    """``value`` for each parameter group: a list / tuple of one per group, or one for all."""
    n = len(optimizer.param_groups)
    if not isinstance(value, list | tuple):
        return [value] * n
    if len(value) != n:
        raise ValueError(f"{who}: expected {key} to have one value per parameter group "
                         f"({n}) (got {len(value)} values)")
    return list(value)


def set_lrs(optimizer, values) -> list:
    """Write ``values`` into the groups' ``"lr"`` in order, as torch's (non-strict) ``zip``:
    values computed from ``base_lrs`` stop at the groups the scheduler was built with, so a
    group added later with ``add_param_group`` keeps its own lr. Returns every group's lr."""
    for group, lr in zip(optimizer.param_groups, values, strict=False):
        group["lr"] = lr
    return [group["lr"] for group in optimizer.param_groups]


@contextlib.contextmanager
def untraced():
    """Steps of the schedulers inside a composite one: the composite's own step is the effect a
    static trace records (and replays), not each inner step again."""
    tracer, TRACE.tracer = TRACE.tracer, None
    try:
        yield
    finally:
        TRACE.tracer = tracer


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` (the new lr of every group, from the current
    ones: the chainable form) and may define ``_get_closed_form_lr()`` (from ``base_lrs`` and
    ``last_epoch`` alone), used by ``step(epoch)``.

    Args:
        optimizer: the optimizer whose groups' lr is set.
        last_epoch: the epoch to resume from; -1 starts fresh. With another value every group
            must already hold an ``initial_lr`` (as a scheduler's construction leaves).
            (default: -1)

    Attributes:
        base_lrs: each group's ``initial_lr``.
        last_epoch: the epoch of the last ``step()`` (0 after construction).

    A group added with ``optimizer.add_param_group`` after the scheduler is built has no base
    lr. As in PyTorch, the chainable schedulers (`StepLR`, `ExponentialLR`, ...) scale it with
    the others, while the values computed from ``base_lrs`` (`LambdaLR`,
    `CosineAnnealingWarmRestarts`, the closed forms of ``step(epoch)``) cover only the groups
    the scheduler was built with: the added group keeps its own lr. Build the scheduler after
    ``add_param_group`` to schedule every group.
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        name = type(self).__name__
        check_optimizer(name, optimizer)
        check_number(name, "last_epoch", last_epoch, integer=True, at_least=-1)
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
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self.step()

    def get_lr(self) -> list[float]:
        raise NotImplementedError(f"{type(self).__name__}: subclasses must define get_lr")

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def step(self, epoch: int | float | None = None) -> None:
        """Advance one epoch (or, deprecated in torch, jump to ``epoch``) and set every
        group's lr."""
        if TRACE.tracer is not None and self._step_count:  # not the constructor's own step
            kwargs = {} if epoch is None else {"epoch": epoch}
            TRACE.tracer.record_effect("step", self, **kwargs)  # replayed on every call
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            check_number(f"{type(self).__name__}.step", "epoch", epoch)
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        self._last_lr = set_lrs(self.optimizer, values)

    def state_dict(self) -> dict:
        """Every attribute but the optimizer (plain numbers and lists: `sg.save` stores it)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)
