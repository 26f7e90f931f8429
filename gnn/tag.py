"""Topology adaptive graph convolution (TAGConv)."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.inputs import check_in_channels, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_int
from sparsegraph.nn import Linear, ModuleList, Parameter, init


class TAGConv(MessagePassing):
    r"""Topology adaptive graph convolution of Du et al., "Topology Adaptive Graph
    Convolutional Networks" (2017): ``out = Σ_{k=0..K} (D^-1/2 A D^-1/2)^k x W_k + b``.

    No self loops are added (as PyG's); ``D`` is the weighted in-degree (PyG's ``gcn_norm``
    with ``add_self_loops=False``: edge ``j -> i`` weighs ``deg_j^-1/2 w_ji deg_i^-1/2``,
    0 for a node of degree 0). Each hop is one spmm over the adjacency.

    Args:
        in_channels, out_channels: feature sizes (positive ints; no lazy ``-1``).
        K: number of hops (an int >= 0; ``K + 1`` weight matrices ``lins``). (default: 3)
        bias: learn an additive bias. (default: True)
        normalize: apply the symmetric normalisation (else the raw weights ``A``).
            (default: True)

    ``forward(x, edge_index, edge_weight=None)`` as PyG's: ``edge_weight`` ``(E,)`` replaces
    the adjacency's values, one weight per edge in the order of its edges (edge_index
    columns, or a SparseTensor's stored entries).

    Shapes:
        x: ``(N, F_in)`` dense or sparse CSR; edge_index: ``(2, E)`` or an ``(N, N)``
        SparseTensor / Graph; out: ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 3, bias: bool = True,
                 normalize: bool = True):
        super().__init__(aggr="sum")
        check_int("TAGConv", "K", K, 0)
        in_channels = check_channels("TAGConv", "in_channels", in_channels)
        out_channels = check_channels("TAGConv", "out_channels", out_channels)
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, int(K)
        self.normalize = normalize
        self.lins = ModuleList([Linear(in_channels, out_channels, bias=False)
                                for _ in range(self.K + 1)])
        self.bias = Parameter(zeros(out_channels)) if bias else None

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x, edge_index, edge_weight=None):
        check_in_channels("TAGConv", "x", x, self.in_channels, self.lins[0].weight)
        adj = weighted_adjacency(edge_index, x.shape[0], edge_weight, op="TAGConv",
                                 dtype=x.dtype, device=x.device)
        if self.normalize:
            adj = ops.gcn_norm(adj, add_self_loops=False)
        out, h = self.lins[0](x), x
        for lin in self.lins[1:]:
            h = self.propagate(adj, h)  # fused: one spmm per hop
            out = out + lin(h)
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return f"TAGConv({self.in_channels}, {self.out_channels}, K={self.K})"
