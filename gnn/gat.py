"""Graph attention (GAT)."""

from __future__ import annotations

from numbers import Integral

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.inputs import (
    adjacency_and_edge_order,
    attention_edge_attr,
    check_in_channels,
    check_size,
    require_x_dst,
    split_features,
)
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import (
    attention_edge_order,
    check_channels,
    check_fill_value,
    check_float,
    check_probability,
    replace_self_loops_with,
)
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear, Parameter, init
from sparsegraph.ops.fused import gat_attention
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, wrap


class AttentionConv(MessagePassing):
    """What GATConv and GATv2Conv share: PyG's constructor arguments checked and kept, and
    the heads' output (concatenated or averaged, plus residual and bias)."""

    def _setup(self, in_channels, out_channels, heads, concat, negative_slope, dropout,
               add_self_loops, edge_dim, fill_value, residual):
        """Check and keep the arguments (errors name the layer, not a Linear inside it);
        sets ``src_in`` / ``dst_in`` and returns the checked ``in_channels``."""
        op = type(self).__name__
        if isinstance(heads, bool) or not isinstance(heads, Integral) or heads < 1:
            raise ValueError(f"{op}: expected `heads` to be an int >= 1 (got {heads!r})")
        check_probability(op, "dropout", dropout)
        check_float(op, "negative_slope", negative_slope)  # not at the first forward
        in_channels = check_channels(op, "in_channels", in_channels, pair=True)
        out_channels = check_channels(op, "out_channels", out_channels)
        if edge_dim is not None:
            edge_dim = check_channels(op, "edge_dim", edge_dim)
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        self.add_self_loops, self.edge_dim = add_self_loops, edge_dim
        fill_value, self.residual = check_fill_value(op, fill_value), residual
        if (edge_dim is not None and isinstance(fill_value, Tensor)
                and fill_value.shape not in ((), (1,), (edge_dim,))):
            raise ValueError(f"{op}: expected `fill_value` with edge_dim={edge_dim} values, "
                             f"one per edge feature (got a Tensor of shape "
                             f"{tuple(fill_value.shape)})")
        if isinstance(fill_value, Tensor):  # moved by .to(device), not saved (PyG's neither)
            self.register_buffer("fill_value", fill_value, persistent=False)
        else:
            self.fill_value = fill_value
        self.src_in, self.dst_in = (in_channels if isinstance(in_channels, tuple)
                                    else (in_channels, in_channels))
        return in_channels

    def _finish(self, out, res=None):
        """(N, H, F) per-head outputs -> concatenated or averaged heads, plus the residual
        and the bias."""
        H, F = self.heads, self.out_channels
        out = out.reshape((out.shape[0], H * F)) if self.concat else out.mean(dim=1)
        out = out if res is None else out + res
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"heads={self.heads})")


class GATConv(AttentionConv):
    r"""Graph attention of Veličković et al., "Graph Attention Networks" (ICLR 2018).

    ``alpha_ij = softmax_j(leaky_relu(a_src · W x_j + a_dst · W x_i [+ a_edge · W_e e_ij]))``
    over each target's in-edges, ``out_i = Σ_j alpha_ij W x_j`` per head; heads concatenated
    (or averaged). Scores are per-node terms gathered onto edges (E x H), the edge softmax runs
    over the CSR rows, and aggregation is one hybrid-value spmm: memory O(E·H + N·H·F), never
    O(E·H·F).

    Args:
        in_channels: ``F_in`` (or a pair for bipartite graphs; PyG's lazy ``-1`` is not
            supported).
        out_channels: ``F`` per head.
        heads: number of heads ``H``. (default: 1)
        concat: concatenate heads (else average them). (default: True)
        negative_slope: LeakyReLU slope. (default: 0.2)
        dropout: dropout probability in ``[0, 1]`` on the attention weights in training
            (1 drops them all). (default: 0.0)
        add_self_loops: replace the graph's self loops by one per node, as PyG does.
            (default: True)
        edge_dim: size of edge features to include in the scores. (default: None)
        fill_value: the added loops' ``edge_attr`` (PyG's): ``"mean"`` (node ``i``'s loop gets
            the mean of the features of the edges pointing to ``i``, 0 if none), ``"add"``,
            ``"max"`` or ``"min"`` (the same with that reduction), a number, or a Tensor of
            ``edge_dim`` values. (default: "mean")
        bias: learn an additive bias. (default: True)
        residual: add a skip connection ``W_res x_i`` (PyG >= 2.5). (default: False)

    ``forward(x, edge_index, edge_attr=None, size=None, return_attention_weights=None)``
    (PyG's; ``size`` ``(N_src, N_dst)``, when given, must match the node features); with
    ``return_attention_weights=True`` it returns, as PyG, ``(out, (edge_index, alpha))`` for
    an edge_index input (``edge_index`` ``(2, E')`` int64: the edges as given, self loops
    dropped and one loop per node appended when ``add_self_loops``; ``alpha`` ``(E', H)``
    in that order), and ``(out, adj_alpha)`` for a SparseTensor or Graph input
    (``adj_alpha``: the adjacency, loops included, with the attention weights as values).
    In training, ``alpha`` is after attention dropout.

    Shapes:
        x: ``(N, F_in)``; adj: ``(N, N)``; edge_attr: ``(E, edge_dim)``, one row per edge in
        the order of adj's edges (edge_index columns, or a SparseTensor's stored entries);
        out: ``(N, H·F)`` if concat else ``(N, F)``.
    """

    def __init__(self, in_channels, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 edge_dim: int | None = None, fill_value="mean", bias: bool = True,
                 residual: bool = False):
        super().__init__(aggr="sum")
        in_channels = self._setup(in_channels, out_channels, heads, concat, negative_slope,
                                  dropout, add_self_loops, edge_dim, fill_value, residual)
        src_in, dst_in = self.src_in, self.dst_in
        self.lin = Linear(src_in, heads * out_channels, bias=False)
        self.lin_dst = (Linear(dst_in, heads * out_channels, bias=False)
                        if isinstance(in_channels, tuple) else None)
        self.att_src = Parameter(zeros(1, heads, out_channels))
        self.att_dst = Parameter(zeros(1, heads, out_channels))
        if edge_dim is not None:
            self.lin_edge = Linear(edge_dim, heads * out_channels, bias=False)
            self.att_edge = Parameter(zeros(1, heads, out_channels))
        else:
            self.lin_edge = self.att_edge = None
        out_size = heads * out_channels if concat else out_channels
        self.res = Linear(dst_in, out_size, bias=False) if residual else None
        self.bias = Parameter(zeros(out_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.lin, self.lin_dst, self.lin_edge, self.res):
            if lin is not None:
                init.xavier_uniform_(lin.weight)
        for att in (self.att_src, self.att_dst, self.att_edge):
            if att is not None:
                init.xavier_uniform_(att)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x, edge_index, edge_attr=None, size=None,
                return_attention_weights: bool | None = None):
        adj = edge_index
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        _check_size(size, x_src, x_dst)
        return_attention_weights = bool(return_attention_weights)
        check_in_channels("GATConv", "x_src" if is_pair else "x", x_src, self.src_in,
                          self.lin.weight)
        require_x_dst("GATConv", x_dst, "the attention scores")
        check_in_channels("GATConv", "x_dst", x_dst, self.dst_in)
        H, F = self.heads, self.out_channels
        h_src = self.lin(x_src).reshape((x_src.shape[0], H, F))
        h_dst = h_src if self.lin_dst is None and x_dst is x_src else (
            (self.lin_dst or self.lin)(x_dst).reshape((x_dst.shape[0], H, F)))
        res = None if self.res is None else self.res(x_dst)
        edge_input = not isinstance(adj, SparseTensor | Graph)
        adj, perm = adjacency_and_edge_order(adj, x_src.shape[0], x_dst.shape[0], op="GATConv",
                                             dtype=x_src.dtype, x_is_pair=is_pair,
                                             device=x_src.device)
        edge_attr = attention_edge_attr("GATConv", edge_attr, self.edge_dim, adj, perm, x_src.dtype)
        given = adj
        if self.add_self_loops:
            # PyG: remove_self_loops, then add_self_loops(fill_value); on a bipartite
            # block loops i -> i for i < min(N_src, N_dst) (sampled targets come first)
            adj, edge_attr = replace_self_loops_with(adj, edge_attr, fill_value=self.fill_value)
        # per-head <h, att>: one pass, no (N, H, F) product temporary
        a_src = ops.einsum("nhf,ohf->nh", h_src, self.att_src)  # (N_src, H)
        a_dst = ops.einsum("nhf,ohf->nh", h_dst, self.att_dst)  # (N_dst, H)
        p = self.dropout if self.training else 0.0
        if edge_attr is None and not return_attention_weights and p < 1.0:
            # one fused op: scores, leaky_relu, edge softmax, dropout and aggregation, keeping
            # only alpha and the mask (E x H) for backward (p = 1 drops every weight: below)
            return self._finish(gat_attention(adj, a_src, a_dst, h_src, self.negative_slope, p),
                                res)
        score = ops.edge_sum(adj, a_src, a_dst)  # (E, H) without an unsorted scatter
        if edge_attr is not None:
            e = self.lin_edge(edge_attr).reshape((edge_attr.shape[0], H, F))
            score = score + ops.einsum("ehf,ohf->eh", e, self.att_edge)
        score = ops.leaky_relu(score, self.negative_slope)
        scored = adj.with_values(score)
        if p == 0.0 and not return_attention_weights:
            out = ops.edge_softmax_spmm(scored, h_src)  # fused: no E x H x F
        else:
            alpha = ops.sparse_softmax(scored)
            if p > 0.0:
                alpha = alpha.with_values(ops.dropout(alpha.values, p, True))
            out = ops.spmm(alpha, h_src)
        out = self._finish(out, res)
        if not return_attention_weights:
            return out
        if not edge_input:
            return out, alpha
        edge_index, order = attention_edge_order(given.structure, perm, self.add_self_loops)
        return out, (wrap(edge_index), ops.gather_rows(alpha.values, order))



def _check_size(size, x_src, x_dst) -> None:
    """PyG's ``size=(N_src, N_dst)``: the attention reads both ends' features, so the counts
    come from ``x``; a ``size`` that names others is an error, not a silent resize."""
    size = check_size("GATConv", size)
    if size is None:
        return
    rows = (x_src.shape[0], x_dst.shape[0])
    if any(s is not None and s != r for s, r in zip(size, rows, strict=True)):
        raise ValueError(f"GATConv: `size` {size} does not match the node features: "
                         f"{rows[0]} source and {rows[1]} target rows (pass x as a pair "
                         "(x_src, x_dst) for a bipartite graph)")
