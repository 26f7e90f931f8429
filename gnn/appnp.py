"""Personalised-PageRank propagation (APPNP)."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.gnn.inputs import check_features, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_int, check_probability
from sparsegraph.sparse import SparseTensor


class APPNP(MessagePassing):
    r"""Approximate personalised propagation of Gasteiger et al., "Predict then Propagate:
    Graph Neural Networks meet Personalized PageRank" (ICLR 2019):
    ``h^0 = x``, ``h^{k+1} = (1 - alpha) Â h^k + alpha x`` for K steps, with
    ``Â = D^-1/2 (A + I) D^-1/2``.

    Args:
        K: number of propagation steps.
        alpha: teleport probability.
        dropout: dropout on the normalised edge weights at every step in training. (default: 0)
        cached: cache the normalised adjacency. (default: False)
        add_self_loops: add ``I`` before normalising. (default: True)
        normalize: apply the symmetric normalisation. (default: True)

    ``forward(x, adj, edge_weight=None)``: ``edge_weight`` (``(E,)``) gives the weighted
    adjacency in place of ``adj``'s values, one weight per edge in the order of ``adj``'s
    edges (with ``cached=True`` only the first call's weights are used), as in PyG.

    Shapes:
        x: ``(N, F)`` dense or sparse CSR; adj: ``(N, N)``; out: ``(N, F)`` dense.
    """

    def __init__(self, K: int, alpha: float, dropout: float = 0.0, cached: bool = False,
                 add_self_loops: bool = True, normalize: bool = True):
        super().__init__(aggr="sum")
        # checked here, not at the first forward (range()'s or dropout's bare errors)
        check_int("APPNP", "K", K, 0)
        check_probability("APPNP", "alpha", alpha)
        check_probability("APPNP", "dropout", dropout)
        self.K, self.alpha, self.dropout = K, alpha, dropout
        self.cached, self.add_self_loops, self.normalize = cached, add_self_loops, normalize
        self._cached_adj = None

    def reset_parameters(self) -> None:
        self._cached_adj = None

    def forward(self, x, edge_index, edge_weight=None):
        adj = edge_index
        check_features("APPNP", "x", x)  # else gcn_norm blames the edge weights' dtype
        norm = self._cached_adj
        if norm is None:
            norm = weighted_adjacency(adj, x.shape[0], edge_weight, op="APPNP", dtype=x.dtype,
                                      device=x.device)
            if self.normalize:
                norm = ops.gcn_norm(norm, add_self_loops=self.add_self_loops)
            if self.cached:
                self._cached_adj = norm
        # dense from the first step on (Â x of sparse features is nearly dense); K = 0 too
        h = x.to_dense() if isinstance(x, SparseTensor) and self.K == 0 else x
        teleport = x * self.alpha if self.K else None
        for _ in range(self.K):
            step = norm
            if self.dropout > 0.0 and self.training:
                step = norm.with_values(ops.dropout(norm.values, self.dropout, True))
            h = self.propagate(step, h) * (1 - self.alpha) + teleport
        return h

    def __repr__(self) -> str:
        return f"APPNP(K={self.K}, alpha={self.alpha})"
