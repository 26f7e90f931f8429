"""Label propagation and Correct & Smooth (PyG's ``LabelPropagation`` and
``CorrectAndSmooth``): training labels spread over the symmetrically normalised adjacency,
``Y' = alpha D^-1/2 A D^-1/2 Y + (1 - alpha) Y``, one spmm per step."""

from __future__ import annotations

from numbers import Real

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.autograd import no_grad
from sparsegraph.creation import zeros_like
from sparsegraph.gnn.inputs import as_adjacency, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.pyg_scatter import one_hot
from sparsegraph.gnn.utils import check_int
from sparsegraph.graph import Graph
from sparsegraph.nn import Module
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, wrap

__all__ = ["CorrectAndSmooth", "LabelPropagation"]


def _check_alpha(op: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{op}: expected `{name}` to be a number (got {value!r})")
    return float(value)


def _is_labels(y: Tensor) -> bool:
    """PyG's test for class ids to one-hot: an integer tensor of one entry per row."""
    return y.dtype.kind in "iu" and y.ndim >= 1 and y.shape[0] == y.numel()


def mask_rows(op: str, mask, n: int, device: str):
    """PyG's ``mask``: a bool mask of ``n`` nodes or an index of nodes -> ``(rows, count)``,
    ``rows`` an int64 index Tensor on ``device`` (the nodes the mask selects)."""
    if isinstance(mask, Tensor):
        m = backend.to_device(mask.array, "cpu")
    elif isinstance(mask, np.ndarray | list | tuple):
        m = np.asarray(mask)
    else:  # a GPU array
        m = backend.to_device(mask, "cpu")
    if m.dtype == bool:
        if m.shape != (n,):
            raise ValueError(f"{op}: expected a bool `mask` of shape ({n},), one entry per node "
                             f"(got shape {m.shape})")
        rows = np.flatnonzero(m)
    elif m.dtype.kind in "iu" and m.ndim == 1:
        if m.size and (int(m.min()) < -n or int(m.max()) >= n):
            raise ValueError(f"{op}: expected `mask` node indices in [0, {n}) (got "
                             f"{int(m.min()) if int(m.min()) < -n else int(m.max())})")
        rows = np.where(m < 0, m + n, m).astype(np.int64)
    else:
        raise TypeError(f"{op}: expected `mask` to be a bool mask or a 1-D index of nodes "
                        f"(got dtype {m.dtype}, shape {m.shape})")
    return wrap(backend.to_device(rows.astype(np.int64), device)), int(rows.size)


def _propagation_matrix(op: str, edge_index, n: int, edge_weight, dtype, device):
    """The ``(N, N)`` matrix LabelPropagation multiplies by (see its docstring)."""
    labels = f"the {n} rows of the labels"  # the node count: y's (or y_soft's) rows
    if edge_weight is not None:
        adj = weighted_adjacency(edge_index, n, edge_weight, op=op, dtype=dtype, device=device,
                                 counts_from=(labels, labels))
        normalise = False
    else:
        adj = as_adjacency(edge_index, n, op=op, dtype=dtype, device=device,
                           counts_from=(labels, labels))
        normalise = not isinstance(edge_index, SparseTensor | Graph) or bool(
            (adj.values.array == 1).all())
    if adj.values.ndim != 1:
        raise ValueError(f"{op}: expected one weight per edge (got edge values of shape "
                         f"{tuple(adj.values.shape)})")
    if tuple(adj.shape) != (n, n):
        raise ValueError(f"{op}: expected a square adjacency over the {n} nodes of `y` (got "
                         f"shape {tuple(adj.shape)})")
    return ops.gcn_norm(adj, add_self_loops=False) if normalise else adj


class LabelPropagation(MessagePassing):
    r"""The label propagation operator of Zhu & Ghahramani, "Learning from Labeled and
    Unlabeled Data with Label Propagation" (CMU-CALD-02-107, 2002), PyG's
    ``LabelPropagation``: ``num_layers`` times

    .. math::
        \mathbf{Y}^{\prime} = \alpha \cdot \mathbf{D}^{-1/2} \mathbf{A}
        \mathbf{D}^{-1/2} \mathbf{Y} + (1 - \alpha) \mathbf{Y}^{(0)},

    each step followed by ``post_step`` (default: a clamp to ``[0, 1]``). Runs without a
    gradient, as PyG's (``@torch.no_grad``).

    Args:
        num_layers: the number of propagations (an int >= 0).
        alpha: the :math:`\alpha` coefficient.

    ``forward(y, edge_index, mask=None, edge_weight=None, post_step=None)``:

    - ``y``: ``(N, C)`` float labels / scores, or ``(N,)`` (or ``(N, 1)``) integer class ids,
      turned into float32 one-hot rows of ``max(y) + 1`` classes (PyG's ``F.one_hot``).
    - ``mask``: a bool mask ``(N,)`` or an index of the labelled nodes; the others start at 0
      (PyG's ``out[mask] = y[mask]``). (default: None, every node)
    - ``edge_index``: a ``(2, E)`` edge_index, an ``(N, N)`` SparseTensor or a Graph. As PyG:
      an edge_index is normalised, ``D^-1/2 A D^-1/2`` without self loops (D the in-degree);
      an ``edge_weight`` ``(E,)`` given is used as the propagation matrix's values as is,
      unnormalised. A SparseTensor (or a Graph) whose values are all 1 is PyG's ``adj_t``
      without values and is normalised; one with other values is PyG's valued ``adj_t``
      (e.g. a ``gcn_norm``-ed one) and is used as is.
    - ``post_step``: a callable ``Tensor -> Tensor`` run after every step, in place of the
      clamp (C&S's ``x.clamp_(-1, 1)``).

    Returns ``(N, C)`` in ``y``'s float dtype (float32 for class ids).
    """

    def __init__(self, num_layers: int, alpha: float):
        super().__init__(aggr="add")
        check_int("LabelPropagation", "num_layers", num_layers, 0)
        self.num_layers = int(num_layers)
        self.alpha = _check_alpha("LabelPropagation", "alpha", alpha)

    def forward(self, y, edge_index, mask=None, edge_weight=None, post_step=None) -> Tensor:
        op = "LabelPropagation"
        if not isinstance(y, Tensor):
            raise TypeError(f"{op}: expected `y` to be a Tensor (got {type(y).__name__})")
        if post_step is not None and not callable(post_step):
            raise TypeError(f"{op}: expected `post_step` to be callable or None (got "
                            f"{type(post_step).__name__})")
        with no_grad():
            if _is_labels(y):
                y = one_hot(y.reshape(-1), dtype="float32")
            elif y.dtype.kind in "biu":
                y = y.float()  # multi-label 0/1 rows
            if y.ndim != 2:
                raise ValueError(f"{op}: expected `y` of shape (N, C), or (N,) integer class "
                                 f"ids (got shape {tuple(y.shape)})")
            y = y.detach()
            n = y.shape[0]
            out = y
            if mask is not None:
                rows, _ = mask_rows(op, mask, n, y.device)
                out = zeros_like(y)
                out[rows] = ops.gather_rows(y, rows)
            adj = _propagation_matrix(op, edge_index, n, edge_weight, y.dtype, y.device)
            res = out * (1 - self.alpha)
            for _ in range(self.num_layers):
                out = self.propagate(adj, out) * self.alpha + res
                if post_step is None:
                    out = out.clamp_(0.0, 1.0)
                else:
                    out = post_step(out)
                    if not isinstance(out, Tensor):
                        raise TypeError(f"{op}: expected `post_step` to return a Tensor (got "
                                        f"{type(out).__name__})")
        return out

    def __repr__(self) -> str:
        return f"LabelPropagation(num_layers={self.num_layers}, alpha={self.alpha})"


class CorrectAndSmooth(Module):
    r"""Correct & Smooth of Huang et al., "Combining Label Propagation And Simple Models
    Out-performs Graph Neural Networks" (ICLR 2021), PyG's ``CorrectAndSmooth``: soft
    predictions ``Z`` of a base model are corrected by the propagated training residuals,

    .. math::
        \mathbf{E}^{(0)}_i = \mathbf{y}_i - \mathbf{z}_i \text{ (training nodes, else 0)},
        \quad \mathbf{E}^{(\ell)} = \alpha_1 \mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}
        \mathbf{E}^{(\ell-1)} + (1 - \alpha_1) \mathbf{E}^{(0)},
        \quad \hat{\mathbf{Z}} = \mathbf{Z} + \gamma \mathbf{E}^{(L_1)},

    then smoothed by label propagation from :math:`\hat{\mathbf{Z}}` with the training rows
    set to their labels (``num_smoothing_layers`` steps of ``smoothing_alpha``).

    Args:
        num_correction_layers: :math:`L_1`.
        correction_alpha: :math:`\alpha_1`.
        num_smoothing_layers: :math:`L_2`.
        smoothing_alpha: :math:`\alpha_2`.
        autoscale: choose :math:`\gamma` per node, as PyG: the error is clamped to
            ``[-1, 1]`` after every step and node i's row scaled by
            ``sigma / sum_c |E_ic|`` with ``sigma`` the mean absolute training error per
            node; an infinite scale or one above 1000 is 1 (a 0 / 0 one too, where PyG
            gives NaN). (default: True)
        scale: the fixed :math:`\gamma` with ``autoscale=False``; the training rows of the
            error are then reset to their initial residual after every step. (default: 1.0)

    ``correct(y_soft, y_true, mask, edge_index, edge_weight=None)`` and ``smooth(...)`` (same
    arguments) as PyG's; ``forward(y_soft, *args)`` runs both. ``y_soft``: ``(N, C)`` float;
    ``y_true``: the training nodes' labels, ``(N_train,)`` class ids (one-hot in ``y_soft``'s
    dtype) or ``(N_train, C)``; ``mask``: a bool mask ``(N,)`` or an index of the ``N_train``
    training nodes; the adjacency forms as `LabelPropagation`'s.
    """

    def __init__(self, num_correction_layers: int, correction_alpha: float,
                 num_smoothing_layers: int, smoothing_alpha: float, autoscale: bool = True,
                 scale: float = 1.0):
        super().__init__()
        self.autoscale = bool(autoscale)
        self.scale = _check_alpha("CorrectAndSmooth", "scale", scale)
        self.prop1 = LabelPropagation(num_correction_layers, correction_alpha)
        self.prop2 = LabelPropagation(num_smoothing_layers, smoothing_alpha)

    def forward(self, y_soft, *args) -> Tensor:
        """`correct`, then `smooth`, with the same arguments."""
        return self.smooth(self.correct(y_soft, *args), *args)

    def _inputs(self, method: str, y_soft, y_true, mask):
        op = f"CorrectAndSmooth.{method}"
        for name, t in (("y_soft", y_soft), ("y_true", y_true)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{op}: expected `{name}` to be a Tensor (got "
                                f"{type(t).__name__})")
        if y_soft.ndim != 2 or y_soft.dtype.kind != "f":
            raise ValueError(f"{op}: expected float `y_soft` of shape (N, C) (got "
                             f"{y_soft.dtype} of shape {tuple(y_soft.shape)})")
        rows, numel = mask_rows(op, mask, y_soft.shape[0], y_soft.device)
        if y_true.ndim == 0 or y_true.shape[0] != numel:
            raise ValueError(f"{op}: expected `y_true` with {numel} rows, one per node in "
                             f"`mask` (got shape {tuple(y_true.shape)})")
        if _is_labels(y_true):
            y_true = one_hot(y_true.reshape(-1), num_classes=y_soft.shape[-1],
                             dtype=y_soft.dtype)
        elif y_true.ndim != 2 or y_true.shape[1] != y_soft.shape[1]:
            raise ValueError(f"{op}: expected `y_true` class ids ({numel},) or rows "
                             f"({numel}, {y_soft.shape[1]}) as `y_soft`'s (got shape "
                             f"{tuple(y_true.shape)})")
        return y_true.to(y_soft.dtype), rows, numel

    def correct(self, y_soft, y_true, mask, edge_index, edge_weight=None) -> Tensor:
        """``Z + gamma E^(L1)``: the base predictions corrected by the propagated residuals
        of the training nodes."""
        y_true, rows, numel = self._inputs("correct", y_soft, y_true, mask)
        error = zeros_like(y_soft)
        error[rows] = y_true - ops.gather_rows(y_soft, rows)
        if self.autoscale:
            smoothed = self.prop1(error, edge_index, edge_weight=edge_weight,
                                  post_step=lambda x: x.clamp_(-1.0, 1.0))
            sigma = ops.gather_rows(error, rows).abs().sum() / numel
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = sigma / smoothed.abs().sum(dim=1, keepdim=True)
            bad = (~scale.isfinite()) | (scale > 1000)
            return y_soft + scale.masked_fill(bad, 1.0) * smoothed
        fixed = error.detach()[rows]

        def fix_input(x):
            x[rows] = fixed
            return x

        smoothed = self.prop1(error, edge_index, edge_weight=edge_weight, post_step=fix_input)
        return y_soft + self.scale * smoothed

    def smooth(self, y_soft, y_true, mask, edge_index, edge_weight=None) -> Tensor:
        """Label propagation from the corrected predictions, training rows set to their
        labels."""
        y_true, rows, _ = self._inputs("smooth", y_soft, y_true, mask)
        y_soft = y_soft.clone()
        y_soft[rows] = y_true
        return self.prop2(y_soft, edge_index, edge_weight=edge_weight)

    def __repr__(self) -> str:
        p1, p2 = self.prop1, self.prop2
        return (f"CorrectAndSmooth(\n  correct: num_layers={p1.num_layers}, alpha={p1.alpha}\n"
                f"  smooth:  num_layers={p2.num_layers}, alpha={p2.alpha}\n"
                f"  autoscale={self.autoscale}, scale={self.scale}\n)")
