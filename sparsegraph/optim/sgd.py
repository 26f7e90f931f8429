"""Stochastic gradient descent with momentum, Nesterov and weight decay (PyTorch's rules)."""

from __future__ import annotations

import numpy as np

from sparsegraph.optim.optimizer import Optimizer


class SGD(Optimizer):
    """``v = mu v + (1 - dampening) (g + wd p)``; ``p -= lr (g + mu v if nesterov else v)``."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if momentum < 0:
            raise ValueError(f"SGD: expected momentum >= 0 (got {momentum})")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p, g, state, group):
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        mu = group["momentum"]
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        p -= (group["lr"] * g).astype(p.dtype, copy=False)
