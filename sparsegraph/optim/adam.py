"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), PyTorch's update rules."""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.optim.optimizer import Optimizer


class Adam(Optimizer):
    """Adam; ``weight_decay`` adds an L2 term to the gradient (torch.optim.Adam)."""

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False):
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"{type(self).__name__}: expected betas in [0, 1) (got {betas})")
        if eps < 0:
            raise ValueError(f"{type(self).__name__}: expected eps >= 0 (got {eps})")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd:
            if self.decoupled:
                p *= 1 - lr * wd
            else:
                g = g + wd * p
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        bias1, bias2 = 1 - b1**t, 1 - b2**t
        denom = np.sqrt(v)
        denom /= math.sqrt(bias2)
        denom += eps
        p -= ((lr / bias1) * m / denom).astype(p.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * wd`` before the Adam step."""

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
