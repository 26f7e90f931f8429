"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from sparsegraph.optim.optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with PyTorch's update rule (Sutskever et al., 2013, for the Nesterov form).

    With ``d = g + weight_decay * p``: the momentum buffer is ``b = d`` at the first step and
    ``b = momentum * b + (1 - dampening) * d`` after; the step direction is
    ``d + momentum * b`` (Nesterov) or ``b``; then ``p -= lr * direction``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate. (default: 1e-3)
        momentum: momentum factor. (default: 0)
        dampening: dampening of the momentum. (default: 0)
        weight_decay: L2 penalty added to the gradient. (default: 0)
        nesterov: Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
            (default: False)
        maximize: ascend instead of descend. (default: False)
        foreach, differentiable, fused: torch's implementation switches, accepted
            for torch code and stored in the groups; there is one implementation here, so
            they change nothing. differentiable=True / fused=True raise
            NotImplementedError. (default: None, False, None)

    Raises:
        ValueError: on a negative lr / momentum / weight_decay, or an invalid Nesterov setting.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _check(self, group: dict) -> None:
        super()._check(group)
        for key in ("momentum", "dampening"):
            self._check_number(group, key)
        if not group["momentum"] >= 0:
            raise ValueError(f"SGD: expected momentum >= 0 (got {group['momentum']})")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and dampening = 0 "
                             f"(got momentum={group['momentum']}, "
                             f"dampening={group['dampening']})")

    def _update(self, p, g, state, group):
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        g = self._decayed(p, g, wd, group["maximize"])
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mu
                if group["dampening"]:
                    buf += (1 - group["dampening"]) * g
                else:
                    buf += g
            if group["nesterov"]:
                step = np.multiply(buf, mu, out=self._work(p))
                step += g
            else:
                step = buf
        else:
            step = g
        tmp = np.multiply(step, lr, out=self._work(p))
        p -= tmp
