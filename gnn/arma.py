"""ARMA: parallel stacks of recursive graph filters with skip connections."""

from __future__ import annotations

import math

import sparsegraph.ops as ops
from sparsegraph.creation import empty
from sparsegraph.gnn.inputs import check_in_channels, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_int
from sparsegraph.nn import Parameter, ReLU, init


def glorot_(p) -> None:
    """PyG's ``glorot``: uniform in ``±sqrt(6 / (size(-2) + size(-1)))`` whatever the rank
    (torch's xavier would fold leading dims into the fans)."""
    if p is not None:
        a = math.sqrt(6.0 / (p.shape[-2] + p.shape[-1]))
        init.uniform_(p, -a, a)


class ARMAConv(MessagePassing):
    r"""The ARMA graph convolution of Bianchi et al., "Graph Neural Networks with Convolutional
    ARMA Filters" (TPAMI 2021): ``out = 1/K Σ_k X_k^(T)`` with
    ``X_k^(t+1) = act(L̂ X_k^(t) W_k^(t) + X V_k^(t) + b_k^(t))``, ``L̂ = D^-1/2 A D^-1/2``
    (no self loops added, as PyG's ``gcn_norm(add_self_loops=False)``).

    Args:
        in_channels, out_channels: feature sizes (positive ints; no lazy ``-1``).
        num_stacks: parallel stacks ``K``. (default: 1)
        num_layers: layers ``T`` per stack. (default: 1)
        shared_weights: the layers of a stack share ``W`` (after the first) and ``V``, ``b``.
            (default: False)
        act: activation ``σ`` (a callable or None). (default: ReLU())
        dropout: dropout probability of the skip connection ``X V``. (default: 0.0)
        bias: learn ``b``. (default: True)

    Parameters as PyG's: ``init_weight`` ``(K, F_in, F_out)``, ``weight``
    ``(max(1, T' - 1), K, F_out, F_out)``, ``root_weight`` ``(T', K, F_in, F_out)``, ``bias``
    ``(T', K, 1, F_out)``, with ``T' = 1`` when shared, else ``T``.

    ``forward(x, edge_index, edge_weight=None)``: ``edge_weight`` ``(E,)`` in the order of the
    edges replaces the adjacency's values.

    Shapes:
        x: ``(N, F_in)``; edge_index: ``(2, E)`` or ``(N, N)``; out: ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_stacks: int = 1,
                 num_layers: int = 1, shared_weights: bool = False, act=ReLU(),  # noqa: B008
                 dropout: float = 0.0, bias: bool = True):
        super().__init__(aggr="add")
        in_channels = check_channels("ARMAConv", "in_channels", in_channels)
        out_channels = check_channels("ARMAConv", "out_channels", out_channels)
        check_int("ARMAConv", "num_stacks", num_stacks, 1)
        check_int("ARMAConv", "num_layers", num_layers, 1)
        if act is not None and not callable(act):
            raise TypeError(f"ARMAConv: expected `act` to be callable or None (got "
                            f"{type(act).__name__})")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"ARMAConv: expected `dropout` in [0, 1] (got {dropout})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_stacks, self.num_layers = num_stacks, num_layers
        self.act, self.shared_weights, self.dropout = act, bool(shared_weights), float(dropout)
        K, F_in, F_out = num_stacks, in_channels, out_channels
        T = 1 if self.shared_weights else num_layers
        self.weight = Parameter(empty(max(1, T - 1), K, F_out, F_out))
        self.init_weight = Parameter(empty(K, F_in, F_out))
        self.root_weight = Parameter(empty(T, K, F_in, F_out))
        self.bias = Parameter(empty(T, K, 1, F_out)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot_(self.weight)
        glorot_(self.init_weight)
        glorot_(self.root_weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x, edge_index, edge_weight=None):
        check_in_channels("ARMAConv", "x", x, self.in_channels, self.init_weight)
        n, K, F_out = x.shape[0], self.num_stacks, self.out_channels
        adj = ops.gcn_norm(weighted_adjacency(edge_index, n, edge_weight, op="ARMAConv",
                                              dtype=x.dtype, device=x.device),
                           add_self_loops=False)
        out = None
        for t in range(self.num_layers):
            if t == 0:
                out = ops.einsum("nf,kfo->nko", x, self.init_weight)
            else:
                out = ops.einsum("nko,kop->nkp", out,
                                 self.weight[0 if self.shared_weights else t - 1])
            # one spmm for all K stacks: (N, K * F_out) columns
            out = self.propagate(adj, out.reshape((n, K * F_out))).reshape((n, K, F_out))
            root = ops.dropout(x, self.dropout, self.training) if self.dropout else x
            out = out + ops.einsum("nf,kfo->nko", root,
                                   self.root_weight[0 if self.shared_weights else t])
            if self.bias is not None:
                out = out + self.bias[0 if self.shared_weights else t].reshape((K, F_out))
            if self.act is not None:
                out = self.act(out)
        return out.mean(dim=1)

    def __repr__(self) -> str:
        return (f"ARMAConv({self.in_channels}, {self.out_channels}, "
                f"num_stacks={self.num_stacks}, num_layers={self.num_layers})")
