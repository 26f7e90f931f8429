"""Graph convolution (GCN) and its simplified relative (SGC)."""

from __future__ import annotations

import contextlib

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.inputs import as_adjacency, check_in_channels, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_int, computed_once
from sparsegraph.nn import Linear, Parameter, init


class GCNConv(MessagePassing):
    r"""Graph convolution of Kipf & Welling, "Semi-Supervised Classification with Graph
    Convolutional Networks" (ICLR 2017): ``out = D^-1/2 (A + I) D^-1/2 · x W + b``.

    Args:
        in_channels: input feature size ``F_in`` (PyG's lazy ``-1`` is not supported).
        out_channels: output feature size ``F_out``.
        improved: use ``A + 2I`` (self loops of weight 2). (default: False)
        cached: cache the normalised adjacency (transductive use only). (default: False)
        add_self_loops: add ``I`` before normalising. (default: True)
        normalize: apply the symmetric normalisation. (default: True)
        bias: learn an additive bias. (default: True)

    ``forward(x, edge_index, edge_weight=None)`` as PyG's: ``edge_index`` a ``(2, E)``
    edge_index or a SparseTensor / Graph; ``edge_weight`` (``(E,)``, optional) gives the
    weighted adjacency ``A_w`` in place of its values, one weight per edge in the order of its
    edges: the columns of an edge_index (any order, as in PyG), or the stored
    entries of a SparseTensor.

    Shapes:
        x: ``(N, F_in)`` dense or sparse CSR; edge_index: ``(N, N)`` target-major SparseTensor or
        ``(2, E)`` edge_index; edge_weight: ``(E,)``; out: ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 cached: bool = False, add_self_loops: bool = True, normalize: bool = True,
                 bias: bool = True):
        super().__init__(aggr="sum")
        # checked here so the error names GCNConv, not the Linear inside it
        in_channels = check_channels("GCNConv", "in_channels", in_channels)
        out_channels = check_channels("GCNConv", "out_channels", out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self.lin = Linear(in_channels, out_channels, bias=False)
        self.bias = Parameter(zeros(out_channels)) if bias else None
        self._cached_adj = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.xavier_uniform_(self.lin.weight)  # Glorot, as in the paper and PyG
        if self.bias is not None:
            init.zeros_(self.bias)
        self._cached_adj = None

    def normalized_adjacency(self, adj, num_nodes: int, dtype=None, device=None):
        if self.cached and self._cached_adj is not None:
            return self._cached_adj
        with computed_once() if self.cached else contextlib.nullcontext():
            adj = as_adjacency(adj, num_nodes, op="GCNConv", dtype=dtype, device=device)
            if self.normalize:
                adj = ops.gcn_norm(adj, add_self_loops=self.add_self_loops,
                                   improved=self.improved)
        if self.cached:
            self._cached_adj = adj
        return adj

    def forward(self, x, edge_index, edge_weight=None):
        adj = edge_index
        check_in_channels("GCNConv", "x", x, self.in_channels, self.lin.weight)
        if edge_weight is not None:
            adj = weighted_adjacency(adj, x.shape[0], edge_weight, op="GCNConv", dtype=x.dtype,
                                     device=x.device)
        norm = self.normalized_adjacency(adj, x.shape[0], x.dtype, x.device)
        out = self.propagate(norm, self.lin(x))  # fused: one spmm
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return f"GCNConv({self.in_channels}, {self.out_channels})"


class SGConv(MessagePassing):
    r"""Simplified graph convolution of Wu et al., "Simplifying Graph Convolutional Networks"
    (ICML 2019): ``out = (D^-1/2 (A + I) D^-1/2)^K x W + b``.

    Args:
        in_channels, out_channels: feature sizes (positive ints; no lazy ``-1``).
        K: number of propagation hops. (default: 1)
        cached: cache ``Â^K x`` (transductive use only; x must not change). (default: False)
        add_self_loops: add ``I`` before normalising. (default: True)
        bias: learn an additive bias. (default: True)

    ``forward(x, edge_index, edge_weight=None)`` as PyG's: ``edge_weight`` (``(E,)``) gives
    the weighted adjacency in place of the adjacency's values, one weight per edge in the
    order of its edges, as GCNConv's (with ``cached=True`` only the first call's weights are used).

    Shapes:
        x: ``(N, F_in)`` dense or sparse CSR; edge_index: ``(N, N)``; out: ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int = 1, cached: bool = False,
                 add_self_loops: bool = True, bias: bool = True):
        super().__init__(aggr="sum")
        check_int("SGConv", "K", K, 0)  # at construction, not as range()'s error at forward
        in_channels = check_channels("SGConv", "in_channels", in_channels)
        out_channels = check_channels("SGConv", "out_channels", out_channels)
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.cached, self.add_self_loops = cached, add_self_loops
        self.lin = Linear(in_channels, out_channels, bias=bias)
        self._cached_x = None

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self._cached_x = None

    def forward(self, x, edge_index, edge_weight=None):
        adj = edge_index
        check_in_channels("SGConv", "x", x, self.in_channels, self.lin.weight)
        h = self._cached_x
        if h is None:
            with computed_once() if self.cached else contextlib.nullcontext():
                norm = ops.gcn_norm(weighted_adjacency(adj, x.shape[0], edge_weight,
                                                       op="SGConv", dtype=x.dtype,
                                                       device=x.device),
                                    add_self_loops=self.add_self_loops)
                h = x
                for _ in range(self.K):
                    h = self.propagate(norm, h)
                if self.cached:
                    self._cached_x = h.detach() if hasattr(h, "detach") else h
        return self.lin(h)

    def __repr__(self) -> str:
        return f"SGConv({self.in_channels}, {self.out_channels}, K={self.K})"
