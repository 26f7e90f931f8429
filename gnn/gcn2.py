"""GCNII: graph convolution with initial residual and identity mapping (GCN2Conv)."""

from __future__ import annotations

import contextlib
import math

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.inputs import check_in_channels, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_float, computed_once
from sparsegraph.nn import Parameter, init
from sparsegraph.sparse import SparseTensor


class GCN2Conv(MessagePassing):
    r"""GCNII of Chen et al., "Simple and Deep Graph Convolutional Networks" (ICML 2020):
    ``out = ((1 - α) P̂ x + α x_0) ((1 - β) I + β W)`` with ``P̂ = D^-1/2 (A + I) D^-1/2``
    (GCNConv's normalisation) and ``x_0`` the initial representation.

    Args:
        channels: input and output feature size ``F``.
        alpha: strength ``α`` of the initial residual connection.
        theta: with ``layer``, the identity-mapping strength ``β = log(θ / ℓ + 1)``;
            both None gives ``β = 1`` (PyG's). (default: None)
        layer: the layer ``ℓ`` (>= 1) this module runs in. (default: None)
        shared_weights: one ``W`` (``weight1``) for both terms; False learns ``weight2`` for
            the initial residual ("GCNII*"): ``(1 - α) P̂ x ((1 - β) I + β W_1) +
            α x_0 ((1 - β) I + β W_2)``. (default: True)
        cached: cache ``P̂`` (transductive use only). (default: False)
        add_self_loops: add ``I`` before normalising. (default: True)
        normalize: apply the normalisation (else the raw weights ``A``). (default: True)

    ``forward(x, x_0, edge_index, edge_weight=None)`` as PyG's: ``edge_weight`` ``(E,)``
    gives the weighted adjacency, one weight per edge in the order of its edges (as
    GCNConv's; with ``cached=True`` only the first call's graph is used). The propagation
    is one spmm.

    Shapes:
        x, x_0: ``(N, F)``; edge_index: ``(2, E)`` or an ``(N, N)`` SparseTensor / Graph;
        out: ``(N, F)``.
    """

    def __init__(self, channels: int, alpha: float, theta: float | None = None,
                 layer: int | None = None, shared_weights: bool = True, cached: bool = False,
                 add_self_loops: bool = True, normalize: bool = True):
        super().__init__(aggr="sum")
        channels = check_channels("GCN2Conv", "channels", channels)
        check_float("GCN2Conv", "alpha", alpha)
        self.channels, self.alpha, self.beta = channels, alpha, 1.0
        if theta is not None or layer is not None:
            if theta is None or layer is None:
                raise ValueError(f"GCN2Conv: expected both `theta` and `layer` (beta = "
                                 f"log(theta / layer + 1)) or neither (got theta={theta!r}, "
                                 f"layer={layer!r})")
            check_float("GCN2Conv", "theta", theta)
            check_float("GCN2Conv", "layer", layer)
            if layer <= 0 or theta / layer <= -1:
                raise ValueError(f"GCN2Conv: expected `layer` > 0 and theta / layer > -1 for "
                                 f"beta = log(theta / layer + 1) (got theta={theta!r}, "
                                 f"layer={layer!r})")
            self.beta = math.log(theta / layer + 1)
        self.cached, self.add_self_loops, self.normalize = cached, add_self_loops, normalize
        self.weight1 = Parameter(zeros((channels, channels)))
        self.weight2 = None if shared_weights else Parameter(zeros((channels, channels)))
        self._cached_adj = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for w in (self.weight1, self.weight2):
            if w is not None:
                init.xavier_uniform_(w)  # PyG's glorot
        self._cached_adj = None

    def propagation_matrix(self, edge_index, edge_weight, num_nodes: int, dtype, device):
        """``P̂`` as a target-major CSR SparseTensor (cached with ``cached=True``)."""
        if self.cached and self._cached_adj is not None:
            return self._cached_adj
        with computed_once() if self.cached else contextlib.nullcontext():
            adj = weighted_adjacency(edge_index, num_nodes, edge_weight, op="GCN2Conv",
                                     dtype=dtype, device=device)
            if self.normalize:
                adj = ops.gcn_norm(adj, add_self_loops=self.add_self_loops)
        if self.cached:
            self._cached_adj = adj
        return adj

    def forward(self, x, x_0, edge_index, edge_weight=None):
        check_in_channels("GCN2Conv", "x", x, self.channels, self.weight1)
        check_in_channels("GCN2Conv", "x_0", x_0, self.channels, self.weight1)
        if x_0.shape[0] < x.shape[0]:  # more rows are cut to x's, as PyG's x_0[:x.size(0)]
            raise ValueError(f"GCN2Conv: expected `x_0` with at least {x.shape[0]} rows, one "
                             f"per node of `x` (got shape {tuple(x_0.shape)})")
        adj = self.propagation_matrix(edge_index, edge_weight, x.shape[0], x.dtype, x.device)
        h = self.propagate(adj, x)  # fused: one spmm
        x_0 = x_0.to_dense() if isinstance(x_0, SparseTensor) else x_0
        if x_0.shape[0] > x.shape[0]:  # mini-batches: the targets come first (PyG)
            x_0 = x_0[:x.shape[0]]
        a, b = self.alpha, self.beta
        if self.weight2 is None:
            out = h * (1 - a) + x_0 * a
            return out * (1 - b) + (out @ self.weight1) * b
        out1, out2 = h * (1 - a), x_0 * a
        out1 = out1 * (1 - b) + (out1 @ self.weight1) * b
        out2 = out2 * (1 - b) + (out2 @ self.weight2) * b
        return out1 + out2

    def __repr__(self) -> str:
        return f"GCN2Conv({self.channels}, alpha={self.alpha}, beta={self.beta})"
