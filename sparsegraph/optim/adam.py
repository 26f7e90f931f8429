"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019) with PyTorch's update rules."""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


def check_betas_eps(opt: Optimizer, group: dict) -> None:
    """``betas`` a pair of numbers in [0, 1) and ``eps >= 0`` (the Adam family's checks)."""
    name, betas = type(opt).__name__, group["betas"]
    opt._check_number(group, "eps")
    if not isinstance(betas, tuple | list) or len(betas) != 2 or any(
            isinstance(b, bool) or not isinstance(b, int | float | np.integer | np.floating)
            for b in betas):
        raise TypeError(f"{name}: expected betas to be a pair of numbers (got "
                        f"{type(betas).__name__} {betas!r})")
    if not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"{name}: expected betas in [0, 1) (got {betas})")
    if not group["eps"] >= 0:
        raise ValueError(f"{name}: expected eps >= 0 (got {group['eps']})")



def update_moments(m, v, g, b1: float, b2: float, tmp) -> None:
    """Adam's moments in place: ``m += (1 - b1) (g - m)`` (torch's lerp form) and
    ``v = b2 v + (1 - b2) g^2``; ``tmp`` is scratch of ``g``'s shape."""
    np.subtract(g, m, out=tmp)
    tmp *= 1 - b1
    m += tmp
    v *= b2
    np.multiply(g, 1 - b2, out=tmp)
    tmp *= g
    v += tmp

class Adam(Optimizer):
    """Kingma & Ba, "Adam" (2015), as ``torch.optim.Adam``.

    Per step ``t``: ``g += weight_decay * p`` (L2, coupled); ``m = b1 m + (1 - b1) g``;
    ``v = b2 v + (1 - b2) g^2`` (with ``amsgrad`` the running maximum of ``v`` is used below);
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate. (default: 1e-3)
        betas: ``(b1, b2)``, each in [0, 1). (default: (0.9, 0.999))
        eps: added to the denominator. (default: 1e-8)
        weight_decay: L2 penalty added to the gradient. (default: 0)
        amsgrad: Reddi et al. (2018)'s variant. (default: False)
        maximize: ascend instead of descend. (default: False)
        foreach, capturable, differentiable, fused: torch's implementation switches, accepted
            for torch code and stored in the groups; there is one implementation here, so
            they change nothing. capturable=True / differentiable=True / fused=True raise
            NotImplementedError. (default: None, False, False, None)

    Raises:
        ValueError: lr < 0, eps < 0, weight_decay < 0 or betas outside [0, 1).
    """

    decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        betas = tuple(betas) if isinstance(betas, list | tuple) else betas  # checked below
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused))

    def _check(self, group: dict) -> None:
        super()._check(group)
        check_betas_eps(self, group)

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if wd and self.decoupled:
            p *= 1 - lr * wd
            wd = 0.0
        g = self._decayed(p, g, wd, group["maximize"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] = t = state["step"] + 1
        m, v, tmp = state["exp_avg"], state["exp_avg_sq"], self._work(p)
        update_moments(m, v, g, b1, b2, tmp)
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - b2**t)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - b1**t)
        p -= tmp


class AdamW(Adam):
    """Loshchilov & Hutter, "Decoupled Weight Decay Regularization" (2019), as
    ``torch.optim.AdamW``: ``p *= 1 - lr * weight_decay`` before the Adam step (the decay
    never enters the moments).

    Args: as `Adam`, with ``weight_decay`` defaulting to 1e-2.
    """

    decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused)
