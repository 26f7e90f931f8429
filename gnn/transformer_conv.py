"""Graph transformer convolution (UniMP's TransformerConv)."""

from __future__ import annotations

import math
from numbers import Integral

import sparsegraph.ops as ops
from sparsegraph.gnn.inputs import (
    adjacency_and_edge_order,
    attention_edge_attr,
    check_in_channels,
    require_x_dst,
    split_features,
)
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import attention_edge_order, check_channels, check_probability
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import wrap


class TransformerConv(MessagePassing):
    r"""Graph transformer of Shi et al., "Masked Label Prediction: Unified Message Passing
    Model for Semi-Supervised Classification" (IJCAI 2021).

    ``alpha_ij = softmax_j((W_q x_i) · (W_k x_j [+ W_e e_ij]) / sqrt(F))`` over each target's
    in-edges, per head; ``out_i = W_r x_i + Σ_j alpha_ij (W_v x_j [+ W_e e_ij])`` with heads
    concatenated (or averaged) before the root term. With ``beta``, the root term is gated as
    PyG: ``b = sigmoid(lin_beta([m, r, m - r]))``, ``out = b r + (1 - b) m``. No self loops
    are added (as PyG). Without edge features the scores are one SDDMM (E x H) and the
    aggregation is fused with the edge softmax; with them, ``(E, H, F)`` edge terms exist, as
    in PyG.

    Args:
        in_channels: ``F_in`` (or a pair ``(F_src, F_dst)`` for bipartite graphs).
        out_channels: ``F`` per head.
        heads: number of heads ``H``. (default: 1)
        concat: concatenate heads (else average them). (default: True)
        beta: gate the root term with ``lin_beta`` (no effect without ``root_weight``).
            (default: False)
        dropout: dropout probability on the attention weights in training. (default: 0.0)
        edge_dim: size of edge features (added to keys and values). (default: None)
        bias: learn the bias of ``lin_skip`` (key, query and value always have one, as in
            PyG). (default: True)
        root_weight: add ``lin_skip(x_i)``. (default: True)

    ``forward(x, edge_index, edge_attr=None, return_attention_weights=None)`` (PyG's);
    with ``return_attention_weights=True`` it returns ``(out, (edge_index, alpha))`` for an
    edge_index input (``alpha`` ``(E, H)`` in the given edge order) and ``(out, adj_alpha)``
    for a SparseTensor or Graph input. In training, ``alpha`` is before dropout (as PyG's).

    Shapes:
        x: ``(N, F_in)`` or ``((N_src, F_src), (N_dst, F_dst))``; edge_index: ``(2, E)``, or
        an ``(N_dst, N_src)`` SparseTensor / Graph; edge_attr: ``(E, edge_dim)`` in the
        caller's edge order; out: ``(N_dst, H·F)`` if concat else ``(N_dst, F)``.
    """

    def __init__(self, in_channels, out_channels: int, heads: int = 1, concat: bool = True,
                 beta: bool = False, dropout: float = 0.0, edge_dim: int | None = None,
                 bias: bool = True, root_weight: bool = True):
        super().__init__(aggr="sum", node_dim=0)
        if isinstance(heads, bool) or not isinstance(heads, Integral) or heads < 1:
            raise ValueError(f"TransformerConv: expected `heads` to be an int >= 1 "
                             f"(got {heads!r})")
        check_probability("TransformerConv", "dropout", dropout)
        in_channels = check_channels("TransformerConv", "in_channels", in_channels, pair=True)
        out_channels = check_channels("TransformerConv", "out_channels", out_channels)
        if edge_dim is not None:
            edge_dim = check_channels("TransformerConv", "edge_dim", edge_dim)
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.dropout, self.edge_dim = concat, dropout, edge_dim
        self.root_weight, self.beta = root_weight, beta
        src_in, dst_in = (in_channels if isinstance(in_channels, tuple)
                          else (in_channels, in_channels))
        self.src_in, self.dst_in = src_in, dst_in
        self.lin_key = Linear(src_in, heads * out_channels)
        self.lin_query = Linear(dst_in, heads * out_channels)
        self.lin_value = Linear(src_in, heads * out_channels)
        self.lin_edge = (Linear(edge_dim, heads * out_channels, bias=False)
                         if edge_dim is not None else None)
        out_size = heads * out_channels if concat else out_channels
        # PyG builds lin_skip (and lin_beta) whatever root_weight says; only forward skips them
        self.lin_skip = Linear(dst_in, out_size, bias=bias)
        self.lin_beta = Linear(3 * out_size, 1, bias=False) if beta else None

    def reset_parameters(self) -> None:
        for lin in (self.lin_key, self.lin_query, self.lin_value, self.lin_edge,
                    self.lin_skip, self.lin_beta):
            if lin is not None:
                lin.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None, return_attention_weights: bool | None = None):
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_in_channels("TransformerConv", "x_src" if is_pair else "x", x_src, self.src_in,
                          self.lin_key.weight)
        require_x_dst("TransformerConv", x_dst, "the queries")
        check_in_channels("TransformerConv", "x_dst", x_dst, self.dst_in)
        H, F = self.heads, self.out_channels
        query = self.lin_query(x_dst).reshape((x_dst.shape[0], H, F))
        key = self.lin_key(x_src).reshape((x_src.shape[0], H, F))
        value = self.lin_value(x_src).reshape((x_src.shape[0], H, F))
        edge_input = not isinstance(edge_index, SparseTensor | Graph)
        adj, perm = adjacency_and_edge_order(edge_index, x_src.shape[0], x_dst.shape[0],
                                             op="TransformerConv", dtype=x_src.dtype,
                                             x_is_pair=is_pair, device=x_src.device)
        e = self._edge_terms(edge_attr, adj, perm, x_src.dtype)  # (E, H, F) or None
        score = ops.sddmm(adj, query, key).values  # (E, H): q_i · k_j, CSR order
        if e is not None:  # q_i · (k_j + e_ij): the edge part needs each edge's query
            q_edge = ops.gather_rows(query, adj.structure.rows())
            score = score + ops.einsum("ehf,ehf->eh", q_edge, e)
        scored = adj.with_values(score * (1.0 / math.sqrt(F)))
        p = self.dropout if self.training else 0.0
        return_attention_weights = bool(return_attention_weights)
        if p == 0.0 and e is None and not return_attention_weights:
            out = ops.edge_softmax_spmm(scored, value)  # fused: no E x H x F
            alpha = None
        else:
            alpha = ops.sparse_softmax(scored)
            weights = (alpha if p == 0.0 else
                       alpha.with_values(ops.dropout(alpha.values, p, True)))
            out = ops.spmm(weights, value)
            if e is not None:  # Σ_j alpha_ij e_ij, one segment sum over each target's edges
                out = out + ops.segment(weights.values.unsqueeze(-1) * e,
                                        adj.structure.indptr, "sum")
        out = self._finish(out, x_dst)
        if not return_attention_weights:
            return out
        if not edge_input:
            return out, alpha
        ei, order = attention_edge_order(adj.structure, perm, False)
        return out, (wrap(ei), ops.gather_rows(alpha.values, order))

    def _edge_terms(self, edge_attr, adj, perm, dtype):
        """``lin_edge(edge_attr)`` as ``(E, H, F)`` in the CSR entries' order (or None)."""
        if edge_attr is None:
            if self.lin_edge is not None:  # PyG asserts it: lin_edge would silently not train
                raise ValueError(f"TransformerConv: expected `edge_attr` (E, {self.edge_dim}): "
                                 f"the layer was built with edge_dim={self.edge_dim} (got None)")
            return None
        edge_attr = attention_edge_attr("TransformerConv", edge_attr, self.edge_dim, adj, perm,
                                        dtype)
        return self.lin_edge(edge_attr).reshape((edge_attr.shape[0], self.heads,
                                                 self.out_channels))

    def _finish(self, out, x_dst):
        """(N, H, F) aggregated messages -> heads concatenated or averaged, then the root
        term (gated by beta when asked)."""
        H, F = self.heads, self.out_channels
        out = out.reshape((out.shape[0], H * F)) if self.concat else out.mean(dim=1)
        if not self.root_weight:
            return out
        x_r = self.lin_skip(x_dst)
        if self.lin_beta is None:
            return out + x_r
        b = ops.sigmoid(self.lin_beta(ops.cat([out, x_r, out - x_r], dim=-1)))
        return b * x_r + (1.0 - b) * out

    def __repr__(self) -> str:
        return f"TransformerConv({self.in_channels}, {self.out_channels}, heads={self.heads})"
