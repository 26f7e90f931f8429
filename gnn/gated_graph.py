"""Gated graph convolution (GatedGraphConv): message passing unrolled through a GRU cell."""

from __future__ import annotations

import math

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.inputs import check_features, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_int
from sparsegraph.nn import GRUCell, Parameter, init
from sparsegraph.sparse import SparseTensor


class GatedGraphConv(MessagePassing):
    r"""Gated graph convolution of Li et al., "Gated Graph Sequence Neural Networks"
    (ICLR 2016): ``h^(0) = x ‖ 0``, then ``L`` times ``m_i = aggr_{j -> i} w_ji h_j W_l``
    and ``h_i = GRU(m_i, h_i)``; the output is ``h^(L)``.

    Args:
        out_channels: the state width ``F`` (``x`` has at most ``F`` features; it is padded
            with zeros).
        num_layers: the number of steps ``L`` (an int >= 0; ``weight`` is ``(L, F, F)``).
        aggr: ``"add"``/``"sum"``, ``"mean"``, ``"max"`` (or ``"min"``, a list of them is
            refused: the GRU takes ``F`` features). (default: "add")
        bias: the GRU cell's biases (``rnn.bias_ih``, ``rnn.bias_hh``). (default: True)

    ``forward(x, edge_index, edge_weight=None)`` as PyG's: ``edge_weight`` ``(E,)`` scales
    each message (default: the adjacency's values, 1 for an edge_index), one weight per edge
    in the order of its edges. Sum and mean are one spmm per step.

    Shapes:
        x: ``(N, F_in)`` with ``F_in <= F``; edge_index: ``(2, E)`` or an ``(N, N)``
        SparseTensor / Graph; out: ``(N, F)``.
    """

    def __init__(self, out_channels: int, num_layers: int, aggr="add", bias: bool = True):
        super().__init__(aggr=aggr)
        if len(self.aggrs) != 1:
            raise ValueError(f"GatedGraphConv: expected one aggregation in `aggr` (the GRU "
                             f"takes {out_channels} features per node) (got {aggr!r})")
        out_channels = check_channels("GatedGraphConv", "out_channels", out_channels)
        check_int("GatedGraphConv", "num_layers", num_layers, 0)
        self.out_channels, self.num_layers = out_channels, int(num_layers)
        self.weight = Parameter(zeros((self.num_layers, out_channels, out_channels)))
        self.rnn = GRUCell(out_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.out_channels)  # PyG's uniform(size, weight)
        init.uniform_(self.weight, -bound, bound)
        self.rnn.reset_parameters()

    def forward(self, x, edge_index, edge_weight=None):
        check_features("GatedGraphConv", "x", x)
        n, f = x.shape
        if f > self.out_channels:
            raise ValueError(f"GatedGraphConv: expected `x` with at most out_channels="
                             f"{self.out_channels} features (got shape {tuple(x.shape)})")
        if x.dtype != self.weight.dtype:
            raise TypeError(f"GatedGraphConv: expected `x` of dtype {self.weight.dtype} like "
                            f"the layer's weights (got {x.dtype})")
        h = x.to_dense() if isinstance(x, SparseTensor) else x
        if f < self.out_channels:
            h = ops.cat([h, zeros((n, self.out_channels - f), dtype=h.dtype, device=h.device)],
                        dim=1)
        adj = weighted_adjacency(edge_index, n, edge_weight, op="GatedGraphConv",
                                 dtype=h.dtype, device=h.device)
        for i in range(self.num_layers):
            m = self.propagate(adj, h @ self.weight[i])
            h = self.rnn(m, h)
        return h

    def __repr__(self) -> str:
        return f"GatedGraphConv({self.out_channels}, num_layers={self.num_layers})"
