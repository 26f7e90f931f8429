"""Learning-rate schedulers: StepLR, CosineAnnealingLR, ReduceLROnPlateau (PyTorch's formulas)."""

from __future__ import annotations

import math


class _Scheduler:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_epoch = 0
        self._last_lr = list(self.base_lrs)

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def _set(self, lrs) -> None:
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


class StepLR(_Scheduler):
    """``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        if step_size <= 0:
            raise ValueError(f"StepLR: expected step_size > 0 (got {step_size})")
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def step(self) -> None:
        self.last_epoch += 1
        factor = self.gamma ** (self.last_epoch // self.step_size)
        self._set([b * factor for b in self.base_lrs])


class CosineAnnealingLR(_Scheduler):
    """``lr = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2``."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: expected T_max > 0 (got {T_max})")
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def step(self) -> None:
        self.last_epoch += 1
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        self._set([self.eta_min + (b - self.eta_min) * c for b in self.base_lrs])


class ReduceLROnPlateau(_Scheduler):
    """Multiply the lr by ``factor`` after ``patience`` epochs without improvement."""

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8):
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: expected mode 'min' or 'max' (got {mode!r})")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: expected factor in (0, 1) (got {factor})")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: expected threshold_mode 'rel' or 'abs' "
                             f"(got {threshold_mode!r})")
        super().__init__(optimizer)
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0

    def _better(self, value: float) -> bool:
        if self.threshold_mode == "rel":
            scale = 1 - self.threshold if self.mode == "min" else 1 + self.threshold
            ref = self.best * scale
        else:
            ref = self.best - self.threshold if self.mode == "min" else self.best + self.threshold
        return value < ref if self.mode == "min" else value > ref

    def step(self, metric: float) -> None:
        self.last_epoch += 1
        value = float(metric)
        if self._better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            lrs = []
            for group in self.optimizer.param_groups:
                new = max(group["lr"] * self.factor, self.min_lr)
                lrs.append(new if group["lr"] - new > self.eps else group["lr"])
            self._set(lrs)
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        else:
            self._last_lr = [g["lr"] for g in self.optimizer.param_groups]
