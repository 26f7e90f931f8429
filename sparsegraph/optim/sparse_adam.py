"""SparseAdam: the lazy Adam of ``torch.optim.SparseAdam``, for embedding tables whose rows are
touched a few at a time (node2vec, word2vec).

Only the rows that have a gradient this step are updated: their two moments and their values.
The other rows keep their parameters and moments as they are (their moments do not decay).
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph import backend
from sparsegraph.optim.adam import check_betas_eps
from sparsegraph.optim.optimizer import Optimizer

__all__ = ["SparseAdam"]


def touched_rows(g):
    """The rows (first-axis slices) of ``g`` holding a nonzero (or NaN) entry: ``...`` when
    that is every row (or ``g`` is 0-d and nonzero), else their sorted indices, possibly
    empty."""
    xp = backend.xp_of(g)
    if g.ndim == 0:
        return ... if bool(g != 0) else xp.zeros(0, dtype=np.int64)
    n = g.shape[0]
    rows = xp.flatnonzero((g != 0).reshape(n, -1).any(axis=1))
    return ... if rows.shape[0] == n and n else rows


class SparseAdam(Optimizer):
    """The lazy variant of Adam (Kingma & Ba, 2015) of ``torch.optim.SparseAdam``: only the
    moments of the rows in the gradient are updated, and only those rows move.

    For the rows ``r`` with a gradient at step ``t`` (``t`` counts this optimizer's steps that
    found a gradient on the parameter, once per ``step()`` for the whole parameter, as torch's
    ``state["step"]``)::

        m[r] = m[r] + (1 - b1) (g[r] - m[r])
        v[r] = v[r] + (1 - b2) (g[r]^2 - v[r])
        p[r] -= lr sqrt(1 - b2^t) / (1 - b1^t) * m[r] / (sqrt(v[r]) + eps)

    (torch's formula: ``eps`` is added to the uncorrected ``sqrt(v)``, unlike `Adam`). Rows not
    in the gradient keep ``p``, ``m`` and ``v`` unchanged.

    The rows in the gradient: sparsegraph's gradients are dense, so a row (a slice along the
    first axis) is in the gradient when any of its entries is nonzero (or NaN). For an
    ``Embedding(sparse=True)`` weight those are the rows the lookups gathered, as in torch's
    sparse gradient, except a gathered row whose gradient is exactly zero (it is skipped here,
    where torch would still decay its moments and move it by its momentum); ``padding_idx``
    rows are absent in both. torch refuses dense gradients ("SparseAdam does not support
    dense gradients"); here every gradient is accepted, with that same row rule (so a 1-D
    parameter is updated element by element).

    Args:
        params: parameters or parameter groups.
        lr: learning rate, > 0. (default: 1e-3)
        betas: ``(b1, b2)``, each in [0, 1). (default: (0.9, 0.999))
        eps: added to the denominator, > 0. (default: 1e-8)
        maximize: ascend instead of descend. (default: False)

    State (per parameter, as torch's): ``step`` (an int), ``exp_avg`` and ``exp_avg_sq``
    (the parameter's shape).

    Raises:
        ValueError: lr <= 0, eps <= 0 or betas outside [0, 1) (torch's conditions).
        TypeError: options that are not numbers, betas not a pair, a non-bool maximize.

    Example::

        model = Node2Vec(edge_index, 128, walk_length=20, context_size=10, sparse=True)
        opt = sg.optim.SparseAdam(list(model.parameters()), lr=0.01)
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False):
        betas = tuple(betas) if isinstance(betas, list | tuple) else betas  # checked below
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    def _check(self, group: dict) -> None:
        name = type(self).__name__
        for key in ("lr", "eps"):  # torch's conditions: strictly positive
            self._check_number(group, key)
            if not group[key] > 0:
                raise ValueError(f"{name}: expected {key} > 0 (got {group[key]})")
        super()._check(group)
        check_betas_eps(self, group)
        if not isinstance(group["maximize"], bool | np.bool_):
            raise TypeError(f"{name}: expected a bool for maximize (got "
                            f"{type(group['maximize']).__name__} {group['maximize']!r})")

    def _update(self, p, g, state, group):
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = backend.xp_of(p).zeros_like(p)
            state["exp_avg_sq"] = backend.xp_of(p).zeros_like(p)
        state["step"] = t = state["step"] + 1  # counted even when no row has a gradient
        rows = touched_rows(g)
        if rows is not ... and rows.shape[0] == 0:
            return
        m, v = state["exp_avg"], state["exp_avg_sq"]
        gr = -g[rows] if group["maximize"] else g[rows]
        m_old, v_old = m[rows], v[rows]  # views for `...`, copies for indices
        m_new = (gr - m_old) * (1 - b1)
        m_new += m_old
        v_new = (gr * gr - v_old) * (1 - b2)
        v_new += v_old
        m[rows], v[rows] = m_new, v_new
        denom = backend.xp_of(v_new).sqrt(v_new)
        denom += eps
        step = m_new / denom
        step *= lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        p[rows] -= step
