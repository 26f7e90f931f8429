"""`JumpingKnowledge`: combine the outputs of a GNN's layers per node (Xu et al., ICML 2018,
"Representation Learning on Graphs with Jumping Knowledge Networks"), as PyG's
``torch_geometric.nn.JumpingKnowledge``."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.gnn.utils import check_channels, check_int
from sparsegraph.nn import LSTM, Linear, Module
from sparsegraph.tensor import Tensor

__all__ = ["JumpingKnowledge"]

MODES = ("cat", "max", "lstm")


class JumpingKnowledge(Module):
    r"""Jumping knowledge: each node's representations from the ``T`` layers combined by
    concatenation (``"cat"``), :math:`x_v^{(1)} \Vert \ldots \Vert x_v^{(T)}`; elementwise max
    (``"max"``), :math:`\max(x_v^{(1)}, \ldots, x_v^{(T)})`, whose gradient goes to the layer
    holding the maximum (the first on ties, as torch's ``max(dim)``); or an attention-weighted
    sum (``"lstm"``), :math:`\sum_t \alpha_v^{(t)} x_v^{(t)}`, with scores from a
    bidirectional LSTM over the layer sequence of each node (hidden size
    ``(num_layers * channels) // 2``), a ``Linear(2 * hidden, 1)`` per layer and a softmax
    over the layers (PyG's).

    Args:
        mode: ``"cat"``, ``"max"`` or ``"lstm"`` (any case, as PyG).
        channels: ``F``, the features of each layer's output; only for ``"lstm"``.
            (default: None)
        num_layers: ``T``, the layers to combine, which sizes the LSTM; only for ``"lstm"``.
            (default: None)

    Shapes:
        ``forward(xs)``: ``xs`` a list of ``T`` tensors ``(N, F)`` (for ``"cat"`` the widths
        may differ: ``(N, F_t)``); output ``(N, sum F_t)`` for ``"cat"``, else ``(N, F)``.

    Raises:
        ValueError: an unknown ``mode``; ``"lstm"`` without ``channels`` or ``num_layers``;
            in ``forward``, an empty ``xs`` or tensors of different row counts or widths (or
            of width other than ``channels`` for ``"lstm"``).

    Example::

        jk = JumpingKnowledge("lstm", channels=16, num_layers=3)
        out = jk([h1, h2, h3])  # (N, 16)
    """

    def __init__(self, mode: str, channels: int | None = None, num_layers: int | None = None):
        super().__init__()
        if not isinstance(mode, str) or mode.lower() not in MODES:
            raise ValueError(f"JumpingKnowledge: expected `mode` 'cat', 'max' or 'lstm' (got "
                             f"{mode!r})")
        self.mode = mode.lower()
        self.lstm = self.att = self.channels = self.num_layers = None
        if self.mode == "lstm":
            if channels is None or num_layers is None:
                raise ValueError(f"JumpingKnowledge: mode 'lstm' needs `channels` and "
                                 f"`num_layers` (got channels={channels!r}, "
                                 f"num_layers={num_layers!r})")
            self.channels = check_channels("JumpingKnowledge", "channels", channels)
            check_int("JumpingKnowledge", "num_layers", num_layers, 1)
            self.num_layers = int(num_layers)
            hidden = (self.num_layers * self.channels) // 2
            if hidden < 1:
                raise ValueError(f"JumpingKnowledge: expected (num_layers * channels) // 2 >= 1"
                                 f" for the LSTM's hidden size (got num_layers={num_layers}, "
                                 f"channels={channels})")
            self.lstm = LSTM(self.channels, hidden, bidirectional=True, batch_first=True)
            self.att = Linear(2 * hidden, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw the LSTM's and the attention's parameters (``"lstm"`` only)."""
        if self.lstm is not None:
            self.lstm.reset_parameters()
            self.att.reset_parameters()

    def _check(self, xs) -> list[Tensor]:
        if not isinstance(xs, list | tuple):
            raise TypeError(f"JumpingKnowledge: expected `xs` to be a list of layer outputs "
                            f"(got {type(xs).__name__})")
        if not xs:
            raise ValueError("JumpingKnowledge: expected a non-empty list `xs` of layer outputs "
                             "(got an empty list)")
        for i, x in enumerate(xs):
            if not isinstance(x, Tensor) or x.ndim != 2:
                what = (f"shape {tuple(x.shape)}" if isinstance(x, Tensor)
                        else type(x).__name__)
                raise ValueError(f"JumpingKnowledge: expected `xs[{i}]` to be a 2-D (N, F) "
                                 f"Tensor (got {what})")
        n, f = xs[0].shape
        for i, x in enumerate(xs):
            if x.shape[0] != n:
                raise ValueError(f"JumpingKnowledge: expected `xs[{i}]` with {n} rows as xs[0]"
                                 f" (got shape {tuple(x.shape)})")
            if self.mode != "cat" and x.shape[1] != f:
                raise ValueError(f"JumpingKnowledge: expected `xs[{i}]` with {f} features as "
                                 f"xs[0] for mode {self.mode!r} (got shape {tuple(x.shape)})")
        if self.mode == "lstm" and f != self.channels:
            raise ValueError(f"JumpingKnowledge: expected layer outputs with channels="
                             f"{self.channels} features (got shape {tuple(xs[0].shape)})")
        return list(xs)

    def forward(self, xs) -> Tensor:
        xs = self._check(xs)
        if self.mode == "cat":
            return ops.cat(xs, dim=-1)
        if self.mode == "max":
            return ops.max(ops.stack(xs, dim=-1), dim=-1)[0]
        x = ops.stack(xs, dim=1)  # (N, T, F): one sequence of T layers per node
        alpha, _ = self.lstm(x)  # (N, T, 2 * hidden)
        alpha = ops.softmax(self.att(alpha).squeeze(-1), dim=-1)  # (N, T)
        return (x * alpha.unsqueeze(-1)).sum(dim=1)

    def __repr__(self) -> str:
        if self.mode == "lstm":
            return (f"{type(self).__name__}({self.mode}, channels={self.channels}, "
                    f"layers={self.num_layers})")
        return f"{type(self).__name__}({self.mode})"
