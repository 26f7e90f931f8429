"""Personalised-PageRank propagation (APPNP) and Chebyshev spectral convolution."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.message_passing import MessagePassing, as_adjacency, check_in_channels
from sparsegraph.nn import Linear, ModuleList, Parameter


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

    Shapes:
        x: ``(N, F)``; adj: ``(N, N)``; out: ``(N, F)``.
    """

    def __init__(self, K: int, alpha: float, dropout: float = 0.0, cached: bool = False,
                 add_self_loops: bool = True, normalize: bool = True):
        super().__init__(aggr="sum")
        if K < 0 or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"APPNP: expected K >= 0 and alpha in [0, 1] (got K={K}, "
                             f"alpha={alpha})")
        if not 0.0 <= dropout <= 1.0:  # checked here, not at the first training forward
            raise ValueError(f"APPNP: expected `dropout` in [0, 1] (got {dropout!r})")
        self.K, self.alpha, self.dropout = K, alpha, dropout
        self.cached, self.add_self_loops, self.normalize = cached, add_self_loops, normalize
        self._cached_adj = None

    def reset_parameters(self) -> None:
        self._cached_adj = None

    def forward(self, x, adj):
        norm = self._cached_adj
        if norm is None:
            norm = as_adjacency(adj, x.shape[0], op="APPNP", dtype=x.dtype)
            if self.normalize:
                norm = ops.gcn_norm(norm, add_self_loops=self.add_self_loops)
            if self.cached:
                self._cached_adj = norm
        h = x
        for _ in range(self.K):
            step = norm
            if self.dropout > 0.0 and self.training:
                step = norm.with_values(ops.dropout(norm.values, self.dropout, True))
            h = self.propagate(step, h) * (1 - self.alpha) + x * self.alpha
        return h

    def __repr__(self) -> str:
        return f"APPNP(K={self.K}, alpha={self.alpha})"


class ChebConv(MessagePassing):
    r"""Chebyshev spectral convolution of Defferrard et al., "Convolutional Neural Networks on
    Graphs with Fast Localized Spectral Filtering" (NeurIPS 2016):
    ``out = Σ_{k<K} T_k(L̂) x W_k + b`` with ``L̂ = 2 L / λ_max - I`` and ``λ_max = 2``.

    Args:
        in_channels, out_channels: feature sizes.
        K: Chebyshev filter size (number of terms, >= 1).
        normalization: ``"sym"`` (``L = I - D^-1/2 A D^-1/2``) or ``"rw"``
            (``L = I - D^-1 A``). (default: "sym")
        bias: learn an additive bias. (default: True)

    Shapes:
        x: ``(N, F_in)``; adj: ``(N, N)``; out: ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, normalization="sym",
                 bias: bool = True):
        super().__init__(aggr="sum")
        if K < 1:
            raise ValueError(f"ChebConv: expected K >= 1 (got {K})")
        if normalization not in ("sym", "rw"):
            raise ValueError(f"ChebConv: expected normalization 'sym' or 'rw' "
                             f"(got {normalization!r})")
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.normalization = normalization
        self.lins = ModuleList([Linear(in_channels, out_channels, bias=False) for _ in range(K)])
        self.bias = Parameter(zeros(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()

    def scaled_laplacian(self, adj, num_nodes: int, dtype=None):
        """``L̂ = L - I = -D^-1/2 A D^-1/2`` (or ``-D^-1 A``) with λ_max = 2."""
        adj = ops.remove_self_loops(as_adjacency(adj, num_nodes, op="ChebConv", dtype=dtype))
        norm = (ops.gcn_norm(adj, add_self_loops=False) if self.normalization == "sym"
                else ops.row_normalize(adj))
        return norm.with_values(-norm.values)

    def forward(self, x, adj):
        check_in_channels("ChebConv", "x", x, self.in_channels)
        lap = self.scaled_laplacian(adj, x.shape[0], x.dtype)
        t_prev, out = x, self.lins[0](x)
        if self.K > 1:
            t_cur = self.propagate(lap, x)
            out = out + self.lins[1](t_cur)
            for lin in self.lins[2:]:
                t_next = self.propagate(lap, t_cur) * 2 - t_prev
                out = out + lin(t_next)
                t_prev, t_cur = t_cur, t_next
        if self.bias is not None:
            out = out + self.bias
        return out

    def __repr__(self) -> str:
        return f"ChebConv({self.in_channels}, {self.out_channels}, K={self.K})"
