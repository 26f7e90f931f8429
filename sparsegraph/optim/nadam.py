"""NAdam (Dozat, 2016) and RAdam (Liu et al., 2020) with the update rules of
``torch.optim.NAdam`` / ``torch.optim.RAdam``, including their ``decoupled_weight_decay``
(AdamW-style decay: ``p *= 1 - lr * weight_decay`` before the step)."""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.optim.adam import check_betas_eps, update_moments
from sparsegraph.optim.optimizer import Optimizer

__all__ = ["NAdam", "RAdam"]


class _Moments(Optimizer):
    """The shared part: options checks, weight decay and the two moment updates."""

    def _check(self, group: dict) -> None:
        super()._check(group)
        check_betas_eps(self, group)

    def _moments(self, p, g, state, group):
        """Apply the weight decay, update ``exp_avg`` / ``exp_avg_sq``; return ``(t, m, v)``."""
        lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
        if wd and group["decoupled_weight_decay"]:
            p *= 1 - lr * wd
            wd = 0.0
        g = self._decayed(p, g, wd, group["maximize"])
        if not state:
            state["step"] = 0
            self._init_extra(state)
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] = t = state["step"] + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]
        update_moments(m, v, g, b1, b2, self._work(p))
        return t, g, m, v

    def _init_extra(self, state: dict) -> None:
        pass


class NAdam(_Moments):
    """Adam with Nesterov momentum (Dozat, 2016), as ``torch.optim.NAdam``.

    At step ``t``: ``mu_t = b1 (1 - 0.5 * 0.96 ** (t * momentum_decay))``, ``P_t`` the product
    ``mu_1 ... mu_t``; ``m`` and ``v`` as Adam; ``p -= lr * (mu_{t+1} m / (1 - P_t mu_{t+1})
    + (1 - mu_t) g / (1 - P_t)) / (sqrt(v / (1 - b2^t)) + eps)``.

    Args:
        params: parameters or parameter groups.
        lr: learning rate. (default: 2e-3)
        betas: ``(b1, b2)``, each in [0, 1). (default: (0.9, 0.999))
        eps: added to the denominator. (default: 1e-8)
        weight_decay: L2 penalty (or decoupled decay, below). (default: 0)
        momentum_decay: ``psi`` above, >= 0. (default: 4e-3)
        decoupled_weight_decay: decay the weights as AdamW. (default: False)
        maximize: ascend instead of descend. (default: False)
        foreach, capturable, differentiable: torch's implementation switches, accepted
            for torch code and stored in the groups; there is one implementation here, so
            they change nothing. capturable=True / differentiable=True raise
            NotImplementedError. (default: None, False, False)

    Raises:
        ValueError: lr, eps, weight_decay or momentum_decay < 0, or betas outside [0, 1).
    """

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        betas = tuple(betas) if isinstance(betas, list | tuple) else betas
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable))

    def _check(self, group: dict) -> None:
        super()._check(group)
        self._check_number(group, "momentum_decay")
        if not group["momentum_decay"] >= 0:
            raise ValueError(f"NAdam: expected momentum_decay >= 0 (got "
                             f"{group['momentum_decay']})")

    def _init_extra(self, state: dict) -> None:
        state["mu_product"] = 1.0

    def _update(self, p, g, state, group):
        lr, (b1, b2), psi = group["lr"], group["betas"], group["momentum_decay"]
        t, g, m, v = self._moments(p, g, state, group)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] = prod = state["mu_product"] * mu
        denom = np.divide(v, 1 - b2**t, out=self._work(p))
        np.sqrt(denom, out=denom)
        denom += group["eps"]
        q = np.divide(g, denom, out=self._work(p, 2))
        q *= lr * (1.0 - mu) / (1.0 - prod)
        p -= q
        np.divide(m, denom, out=q)
        q *= lr * mu_next / (1.0 - prod * mu_next)
        p -= q


class RAdam(_Moments):
    """Rectified Adam (Liu et al., 2020), as ``torch.optim.RAdam``.

    With ``rho_inf = 2 / (1 - b2) - 1`` and ``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)``: when
    ``rho_t > 5``, ``p -= lr * m / (1 - b1^t) * r_t * sqrt(1 - b2^t) / (sqrt(v) + eps)`` with
    ``r_t = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))``;
    otherwise ``p -= lr * m / (1 - b1^t)`` (no adaptive term).

    Args:
        params: parameters or parameter groups.
        lr: learning rate. (default: 1e-3)
        betas: ``(b1, b2)``, each in [0, 1). (default: (0.9, 0.999))
        eps: added to the denominator. (default: 1e-8)
        weight_decay: L2 penalty (or decoupled decay, below). (default: 0)
        decoupled_weight_decay: decay the weights as AdamW. (default: False)
        maximize: ascend instead of descend. (default: False)
        foreach, capturable, differentiable: torch's implementation switches, accepted
            for torch code and stored in the groups; there is one implementation here, so
            they change nothing. capturable=True / differentiable=True raise
            NotImplementedError. (default: None, False, False)

    Raises:
        ValueError: lr, eps or weight_decay < 0, or betas outside [0, 1).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False):
        betas = tuple(betas) if isinstance(betas, list | tuple) else betas
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable))

    def _update(self, p, g, state, group):
        lr, (b1, b2) = group["lr"], group["betas"]
        t, _, m, v = self._moments(p, g, state, group)
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / bc2
        tmp = self._work(p)
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            np.sqrt(v, out=tmp)
            tmp += group["eps"]
            np.divide(m, tmp, out=tmp)
            tmp *= lr * rect * math.sqrt(bc2) / bc1
        else:
            np.multiply(m, lr / bc1, out=tmp)
        p -= tmp
