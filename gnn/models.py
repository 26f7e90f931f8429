"""Ready-made models with the papers' default hyper-parameters.

Node classification models take ``(x, adj)`` and return logits ``(N, C)``; `GIN` takes
``(x, adj, batch)`` and returns graph logits ``(G, C)``. ``x`` may be dense or sparse CSR (Cora's
bag-of-words features stay sparse: the first layer's ``x @ W`` runs as spmm and input dropout
acts on the stored values).
"""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.gnn.appnp import APPNP as APPNPProp
from sparsegraph.gnn.gat import GATConv
from sparsegraph.gnn.gcn import GCNConv, SGConv
from sparsegraph.gnn.gin import GINConv
from sparsegraph.gnn.pool import global_add_pool, global_mean_pool
from sparsegraph.gnn.sage import SAGEConv
from sparsegraph.nn import BatchNorm1d, Linear, Module, ModuleList, ReLU, Sequential
from sparsegraph.sparse import SparseTensor


def feature_dropout(x, p: float, training: bool):
    """Dropout on dense features, or on the stored values of sparse features."""
    if p == 0.0 or not training:
        return x
    if isinstance(x, SparseTensor):
        return ops.sparse_dropout(x, p, training)
    return ops.dropout(x, p, training)


class MLP(Module):
    """A multi-layer perceptron baseline that ignores the graph: Linear-ReLU-Dropout blocks."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 num_layers: int = 2, dropout: float = 0.5):
        super().__init__()
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.lins = ModuleList([Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.dropout = dropout

    def forward(self, x, adj=None):
        for i, lin in enumerate(self.lins):
            x = lin(feature_dropout(x, self.dropout, self.training))
            if i < len(self.lins) - 1:
                x = ops.relu(x)
        return x


class GCN(Module):
    """Kipf & Welling (ICLR 2017): GCNConv-ReLU-Dropout stack (paper: 2 layers x 16, p=0.5)."""

    def __init__(self, in_channels: int, hidden_channels: int = 16, out_channels: int = 2,
                 num_layers: int = 2, dropout: float = 0.5):
        super().__init__()
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = ModuleList([GCNConv(a, b) for a, b in zip(sizes[:-1], sizes[1:],
                                                                 strict=True)])
        self.dropout = dropout

    def forward(self, x, adj):
        for i, conv in enumerate(self.convs):
            x = conv(feature_dropout(x, self.dropout, self.training), adj)
            if i < len(self.convs) - 1:
                x = ops.relu(x)
        return x


class GAT(Module):
    """Veličković et al. (ICLR 2018): 8 heads x 8 hidden, ELU, 1 output head, p=0.6."""

    def __init__(self, in_channels: int, hidden_channels: int = 8, out_channels: int = 2,
                 heads: int = 8, out_heads: int = 1, dropout: float = 0.6):
        super().__init__()
        self.conv1 = GATConv(in_channels, hidden_channels, heads=heads, dropout=dropout)
        self.conv2 = GATConv(hidden_channels * heads, out_channels, heads=out_heads,
                             concat=False, dropout=dropout)
        self.dropout = dropout

    def forward(self, x, adj):
        x = feature_dropout(x, self.dropout, self.training)
        x = ops.elu(self.conv1(x, adj))
        x = feature_dropout(x, self.dropout, self.training)
        return self.conv2(x, adj)


class GraphSAGE(Module):
    """Hamilton et al. (NeurIPS 2017): SAGEConv-ReLU-Dropout stack with mean aggregation.

    ``forward(x, adjs)`` also accepts a list of per-layer bipartite blocks (mini-batches from
    neighbour sampling): layer l then maps the first ``adjs[l].shape[1]`` rows to
    ``adjs[l].shape[0]`` target rows.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, out_channels: int = 2,
                 num_layers: int = 2, dropout: float = 0.5, aggr="mean"):
        super().__init__()
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = ModuleList([SAGEConv(a, b, aggr=aggr)
                                 for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.dropout = dropout

    def forward(self, x, adj):
        blocks = adj if isinstance(adj, list | tuple) else [adj] * len(self.convs)
        for i, (conv, block) in enumerate(zip(self.convs, blocks, strict=True)):
            x = feature_dropout(x, self.dropout, self.training)
            if isinstance(block, SparseTensor) and block.shape[0] != block.shape[1]:
                x = conv((x, x[: block.shape[0]]), block)
            else:
                x = conv(x, block)
            if i < len(self.convs) - 1:
                x = ops.relu(x)
        return x


class SGC(Module):
    """Wu et al. (ICML 2019): logistic regression on ``Â^K x`` (K=2), propagation cached."""

    def __init__(self, in_channels: int, out_channels: int = 2, K: int = 2):
        super().__init__()
        self.conv = SGConv(in_channels, out_channels, K=K, cached=True)

    def forward(self, x, adj):
        if isinstance(x, SparseTensor):
            x = x.to_dense()
        return self.conv(x, adj)


class APPNP(Module):
    """Gasteiger et al. (ICLR 2019): a 2-layer MLP (64 hidden, p=0.5) then K=10 steps of
    personalised-PageRank propagation with alpha=0.1."""

    def __init__(self, in_channels: int, hidden_channels: int = 64, out_channels: int = 2,
                 K: int = 10, alpha: float = 0.1, dropout: float = 0.5):
        super().__init__()
        self.mlp = MLP(in_channels, hidden_channels, out_channels, num_layers=2,
                       dropout=dropout)
        self.prop = APPNPProp(K, alpha)

    def forward(self, x, adj):
        return self.prop(self.mlp(x), adj)


class GIN(Module):
    """Xu et al. (ICLR 2019) for graph classification: GINConv layers with 2-layer MLPs and
    batch norm, sum readout of every layer's output, then a linear classifier per layer
    (the paper's readout over all depths)."""

    def __init__(self, in_channels: int, hidden_channels: int = 32, out_channels: int = 2,
                 num_layers: int = 5, dropout: float = 0.5, readout: str = "sum",
                 train_eps: bool = False):
        super().__init__()
        if readout not in ("sum", "mean"):
            raise ValueError(f"GIN: expected readout 'sum' or 'mean' (got {readout!r})")
        if num_layers < 1:
            raise ValueError(f"GIN: expected num_layers >= 1 (got {num_layers})")
        # the paper counts the input as layer 1: num_layers - 1 convolutions, num_layers readouts
        self.convs = ModuleList()
        for a in ([in_channels] + [hidden_channels] * num_layers)[: num_layers - 1]:
            mlp = Sequential(Linear(a, hidden_channels), BatchNorm1d(hidden_channels), ReLU(),
                             Linear(hidden_channels, hidden_channels), BatchNorm1d(
                                 hidden_channels), ReLU())
            self.convs.append(GINConv(mlp, train_eps=train_eps))
        self.heads = ModuleList([Linear(a, out_channels) for a in
                                 [in_channels] + [hidden_channels] * (num_layers - 1)])
        self.dropout, self.readout = dropout, readout

    def forward(self, x, adj, batch=None):
        pool = global_add_pool if self.readout == "sum" else global_mean_pool
        hs = [x]
        for conv in self.convs:
            hs.append(conv(hs[-1], adj))
        out = None
        for h, head in zip(hs, self.heads, strict=True):
            term = ops.dropout(head(pool(h, batch)), self.dropout, self.training)
            out = term if out is None else out + term
        return out
