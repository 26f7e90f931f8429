"""RMSprop (Hinton's lecture 6e; Graves, 2013, for the centered form) and Adagrad (Duchi et
al., 2011), with the update rules of ``torch.optim.RMSprop`` / ``torch.optim.Adagrad``."""

from __future__ import annotations

import numpy as np

from sparsegraph.optim.optimizer import Optimizer

__all__ = ["RMSprop", "Adagrad"]


class RMSprop(Optimizer):
    """RMSprop as ``torch.optim.RMSprop``.

    With ``g`` the gradient (negated with ``maximize``) plus ``weight_decay * p``:
    ``v = alpha v + (1 - alpha) g^2``; centered: ``a = alpha a + (1 - alpha) g`` and
    ``v~ = v - a^2``, else ``v~ = v``; with momentum ``b = momentum b + g / (sqrt(v~) + eps)``
    and ``p -= lr b``, else ``p -= lr g / (sqrt(v~) + eps)``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate. (default: 1e-2)
        alpha: smoothing constant of the squared-gradient average. (default: 0.99)
        eps: added to the denominator. (default: 1e-8)
        weight_decay: L2 penalty added to the gradient. (default: 0)
        momentum: momentum factor. (default: 0)
        centered: normalise by the estimated variance of the gradient. (default: False)
        maximize: ascend instead of descend. (default: False)
        capturable, foreach, differentiable: torch's implementation switches, accepted
            for torch code and stored in the groups; there is one implementation here, so
            they change nothing. capturable=True / differentiable=True raise
            NotImplementedError. (default: False, None, False)
        (As torch's signature, every argument of RMSprop can be given by position.)

    Raises:
        ValueError: a negative lr, alpha, eps, weight_decay or momentum.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      maximize=maximize, capturable=capturable,
                                      foreach=foreach, differentiable=differentiable))

    def _check(self, group: dict) -> None:
        super()._check(group)
        for key in ("alpha", "eps", "momentum"):
            self._check_number(group, key)
            if not group[key] >= 0:
                raise ValueError(f"RMSprop: expected {key} >= 0 (got {group[key]})")

    def _update(self, p, g, state, group):
        lr, alpha, eps, mu = group["lr"], group["alpha"], group["eps"], group["momentum"]
        g = self._decayed(p, g, group["weight_decay"], group["maximize"])
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            if mu > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        v, tmp = state["square_avg"], self._work(p)
        v *= alpha
        np.multiply(g, 1 - alpha, out=tmp)
        tmp *= g
        v += tmp
        if group["centered"]:
            a = state.get("grad_avg")
            if a is None:  # centered switched on after the first step
                a = state["grad_avg"] = np.zeros_like(p)
            np.subtract(g, a, out=tmp)  # a += (1 - alpha) (g - a): torch's lerp
            tmp *= 1 - alpha
            a += tmp
            np.multiply(a, a, out=tmp)
            np.subtract(v, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(v, out=tmp)
        tmp += eps
        np.divide(g, tmp, out=tmp)
        if mu > 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(p)
            buf *= mu
            buf += tmp
            np.multiply(buf, lr, out=tmp)
        else:
            tmp *= lr
        p -= tmp


class Adagrad(Optimizer):
    """Adagrad as ``torch.optim.Adagrad``.

    At step ``t``, with ``g`` the gradient (negated with ``maximize``) plus
    ``weight_decay * p``: ``s += g^2`` (``s`` starts at ``initial_accumulator_value``);
    ``p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)``. As torch, the state of every
    parameter is created at construction (``step`` 0 and ``sum``).

    Args:
        params: parameters or parameter groups.
        lr: learning rate. (default: 1e-2)
        lr_decay: learning-rate decay. (default: 0)
        weight_decay: L2 penalty added to the gradient. (default: 0)
        initial_accumulator_value: the start of the sum of squared gradients. (default: 0)
        eps: added to the denominator. (default: 1e-10)
        maximize: ascend instead of descend. (default: False)
        foreach, differentiable, fused: torch's implementation switches, accepted
            for torch code and stored in the groups; there is one implementation here, so
            they change nothing. differentiable=True / fused=True raise
            NotImplementedError. (default: None, False, None)
        (``foreach`` is the 7th positional argument, as in torch.)

    Raises:
        ValueError: a negative lr, lr_decay, weight_decay, initial_accumulator_value or eps.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p.array, self.state[p], group)

    def _check(self, group: dict) -> None:
        super()._check(group)
        for key in ("lr_decay", "initial_accumulator_value", "eps"):
            self._check_number(group, key)
            if not group[key] >= 0:
                raise ValueError(f"Adagrad: expected {key} >= 0 (got {group[key]})")

    @staticmethod
    def _init_state(p, state: dict, group: dict) -> None:
        state["step"] = 0
        state["sum"] = np.full_like(p, group["initial_accumulator_value"])

    def _update(self, p, g, state, group):
        if not state:  # a group added with add_param_group
            self._init_state(p, state, group)
        g = self._decayed(p, g, group["weight_decay"], group["maximize"])
        state["step"] = t = state["step"] + 1
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        s, tmp = state["sum"], self._work(p)
        np.multiply(g, g, out=tmp)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= clr
        p -= tmp
