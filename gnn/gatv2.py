"""Dynamic graph attention (GATv2)."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.gat import AttentionConv
from sparsegraph.gnn.inputs import (
    adjacency_and_edge_order,
    attention_edge_attr,
    check_in_channels,
    require_x_dst,
    split_features,
)
from sparsegraph.gnn.utils import (
    attention_edge_order,
    replace_self_loops_with,
)
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear, Parameter, init
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import wrap


class GATv2Conv(AttentionConv):
    r"""GATv2 of Brody et al., "How Attentive are Graph Attention Networks?" (ICLR 2022).

    ``e_ij = a · leaky_relu(W_l x_j + W_r x_i [+ W_e e_ij])`` per head (the attention vector
    is applied after the nonlinearity: "dynamic" attention), ``alpha_ij = softmax_j(e_ij)``
    over each target's in-edges, ``out_i = Σ_j alpha_ij W_l x_j``; heads concatenated (or
    averaged), plus the residual and the bias. The scores need one ``(E, H, F)`` temporary,
    as in PyG; the aggregation is a hybrid-value spmm (fused with the edge softmax when there
    is no dropout and no attention output), never an E x H x F message tensor.

    Args:
        in_channels: ``F_in`` (or a pair ``(F_src, F_dst)`` for bipartite graphs; PyG's lazy
            ``-1`` is not supported).
        out_channels: ``F`` per head.
        heads: number of heads ``H``. (default: 1)
        concat: concatenate heads (else average them). (default: True)
        negative_slope: LeakyReLU slope. (default: 0.2)
        dropout: dropout probability on the attention weights in training. (default: 0.0)
        add_self_loops: replace the graph's self loops by one per node, as PyG does.
            (default: True)
        edge_dim: size of edge features to include in the scores. (default: None)
        fill_value: the added loops' ``edge_attr``: ``"mean"``, ``"add"``, ``"max"``,
            ``"min"``, a number or a Tensor of ``edge_dim`` values (as `GATConv`).
            (default: "mean")
        bias: learn biases in ``lin_l`` / ``lin_r`` and an output bias. (default: True)
        share_weights: ``W_r = W_l`` (one Linear, ``lin_r is lin_l``). (default: False)
        residual: add a skip connection ``W_res x_i``. (default: False)

    ``forward(x, edge_index, edge_attr=None, return_attention_weights=None)`` (PyG's);
    with ``return_attention_weights=True`` it returns ``(out, (edge_index, alpha))`` for an
    edge_index input (the edges as given, self loops dropped and one per node appended when
    ``add_self_loops``; ``alpha`` ``(E', H)`` in that order) and ``(out, adj_alpha)`` for a
    SparseTensor or Graph input. In training, ``alpha`` is after attention dropout.

    Shapes:
        x: ``(N, F_in)`` or ``((N_src, F_src), (N_dst, F_dst))``; edge_index: ``(2, E)``, or
        an ``(N_dst, N_src)`` SparseTensor / Graph; edge_attr: ``(E, edge_dim)`` in the
        caller's edge order; out: ``(N_dst, H·F)`` if concat else ``(N_dst, F)``.
    """

    def __init__(self, in_channels, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 edge_dim: int | None = None, fill_value="mean", bias: bool = True,
                 share_weights: bool = False, residual: bool = False):
        super().__init__(aggr="sum", node_dim=0)
        in_channels = self._setup(in_channels, out_channels, heads, concat, negative_slope,
                                  dropout, add_self_loops, edge_dim, fill_value, residual)
        src_in, dst_in = self.src_in, self.dst_in
        if share_weights and src_in != dst_in:
            raise ValueError(f"GATv2Conv: share_weights=True needs equal source and target "
                             f"`in_channels` (got {in_channels})")
        self.share_weights = share_weights
        self.lin_l = Linear(src_in, heads * out_channels, bias=bias)
        self.lin_r = self.lin_l if share_weights else Linear(dst_in, heads * out_channels,
                                                             bias=bias)
        self.att = Parameter(zeros(1, heads, out_channels))
        self.lin_edge = (Linear(edge_dim, heads * out_channels, bias=False)
                         if edge_dim is not None else None)
        out_size = heads * out_channels if concat else out_channels
        self.res = Linear(dst_in, out_size, bias=False) if residual else None
        self.bias = Parameter(zeros(out_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.lin_l, self.lin_r, self.lin_edge, self.res):
            if lin is not None:
                init.xavier_uniform_(lin.weight)
                if lin.bias is not None:
                    init.zeros_(lin.bias)
        init.xavier_uniform_(self.att)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x, edge_index, edge_attr=None, return_attention_weights: bool | None = None):
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_in_channels("GATv2Conv", "x_src" if is_pair else "x", x_src, self.src_in,
                          self.lin_l.weight)
        require_x_dst("GATv2Conv", x_dst, "the attention scores")
        check_in_channels("GATv2Conv", "x_dst", x_dst, self.dst_in)
        H, F = self.heads, self.out_channels
        x_l = self.lin_l(x_src).reshape((x_src.shape[0], H, F))
        x_r = x_l if self.share_weights and x_dst is x_src else (
            self.lin_r(x_dst).reshape((x_dst.shape[0], H, F)))
        res = None if self.res is None else self.res(x_dst)
        edge_input = not isinstance(edge_index, SparseTensor | Graph)
        adj, perm = adjacency_and_edge_order(edge_index, x_src.shape[0], x_dst.shape[0],
                                             op="GATv2Conv", dtype=x_src.dtype,
                                             x_is_pair=is_pair, device=x_src.device)
        edge_attr = attention_edge_attr("GATv2Conv", edge_attr, self.edge_dim, adj, perm,
                                        x_src.dtype)
        given = adj
        if self.add_self_loops:
            adj, edge_attr = replace_self_loops_with(adj, edge_attr, fill_value=self.fill_value)
        z = ops.edge_sum(adj, x_l, x_r)  # (E, H, F): W_l x_j + W_r x_i per edge, as PyG's
        if edge_attr is not None:
            z = z + self.lin_edge(edge_attr).reshape((edge_attr.shape[0], H, F))
        score = ops.einsum("ehf,ohf->eh", ops.leaky_relu(z, self.negative_slope), self.att)
        scored = adj.with_values(score)
        p = self.dropout if self.training else 0.0
        return_attention_weights = bool(return_attention_weights)
        if p == 0.0 and not return_attention_weights:
            return self._finish(ops.edge_softmax_spmm(scored, x_l), res)  # no E x H x F
        alpha = ops.sparse_softmax(scored)
        if p > 0.0:
            alpha = alpha.with_values(ops.dropout(alpha.values, p, True))
        out = self._finish(ops.spmm(alpha, x_l), res)
        if not return_attention_weights:
            return out
        if not edge_input:
            return out, alpha
        ei, order = attention_edge_order(given.structure, perm, self.add_self_loops)
        return out, (wrap(ei), ops.gather_rows(alpha.values, order))
