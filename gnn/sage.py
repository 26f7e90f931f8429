"""GraphSAGE convolution."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.gnn.aggr import MultiAggregation
from sparsegraph.gnn.edge_call import sized_adjacency
from sparsegraph.gnn.inputs import (
    check_in_channels,
    require_x_dst,
    split_features,
    unweighted_adjacency,
)
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels
from sparsegraph.nn import Linear


class SAGEConv(MessagePassing):
    r"""GraphSAGE of Hamilton et al., "Inductive Representation Learning on Large Graphs"
    (NeurIPS 2017): ``out_i = W_l · aggr_{j -> i} x_j + W_r · x_i``.

    Args:
        in_channels: ``F_in``, or ``(F_src, F_dst)`` for bipartite blocks (PyG's lazy ``-1``
            is not supported).
        out_channels: ``F_out``.
        aggr: ``"mean"``, ``"max"``, ``"sum"`` (or ``"min"``), any aggregation name or
            `Aggregation` instance `MessagePassing` takes (``"softmax"``,
            ``SoftmaxAggregation(learn=True)``, ...), or a list of them (their outputs
            concatenated, PyG's MultiAggregation; ``W_l`` takes its
            ``get_out_channels(F_src)`` features). (default: "mean")
        root_weight: add the transformed target features ``W_r x_i``. (default: True)
        normalize: L2-normalise the output rows. (default: False)
        project: apply ``relu(W_p x + b)`` to source features first. (default: False)
        bias: bias of ``W_l``. (default: True)
        aggr_kwargs: keywords for the aggregation built from ``aggr`` (PyG's
            ``MessagePassing`` keyword, e.g. ``dict(learn=True)`` for ``"softmax"``).
            (default: None)

    As PyG's (``adj_t.set_value(None)``), the aggregation ignores the adjacency's values: a
    weighted SparseTensor or Graph gives the same result as its edge_index (the mean is over
    the in-edges, each counted once per stored entry). For weighted neighbours use
    `GraphConv` or GCNConv.

    ``forward(x, edge_index, size=None)`` as PyG's: ``edge_index`` a ``(2, E)`` edge_index or
    an ``(N_dst, N_src)`` SparseTensor / Graph; ``size`` ``(N_src, N_dst)`` gives the node
    counts of a bipartite edge_index (checked against ``x``; with one ``x`` of ``N_src`` rows
    and ``N_dst != N_src`` targets the root weight has no target features: pass the pair
    ``(x, x[:N_dst])`` or ``root_weight=False``).

    Shapes:
        x: ``(N, F_in)`` or ``((N_src, F_src), (N_dst, F_dst))``, dense or sparse CSR;
        edge_index: ``(2, E)`` or ``(N_dst, N_src)``; out: ``(N_dst, F_out)`` dense.
    """

    def __init__(self, in_channels, out_channels: int, aggr="mean", normalize: bool = False,
                 root_weight: bool = True, project: bool = False, bias: bool = True, *,
                 aggr_kwargs: dict | None = None):
        super().__init__(aggr=aggr, aggr_kwargs=aggr_kwargs)
        # checked here so the error names SAGEConv, not the Linear inside it
        in_channels = check_channels("SAGEConv", "in_channels", in_channels, pair=True)
        out_channels = check_channels("SAGEConv", "out_channels", out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.root_weight, self.normalize, self.project = root_weight, normalize, project
        src_in, dst_in = (in_channels if isinstance(in_channels, tuple)
                          else (in_channels, in_channels))
        self.src_in, self.dst_in = src_in, dst_in
        self.proj = Linear(src_in, src_in, bias=True) if project else None
        # PyG's: a MultiAggregation (a list of aggregations) says how wide its output is
        aggr_out = (self.aggr_module.get_out_channels(src_in)
                    if isinstance(self.aggr_module, MultiAggregation) else src_in)
        self.lin_l = Linear(aggr_out, out_channels, bias=bias)
        self.lin_r = Linear(dst_in, out_channels, bias=False) if root_weight else None

    def reset_parameters(self) -> None:
        self.aggr_module.reset_parameters()  # a learned aggregation's t / p (PyG's)
        for lin in (self.proj, self.lin_l, self.lin_r):
            if lin is not None:
                lin.reset_parameters()

    def forward(self, x, edge_index, size=None):
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_in_channels("SAGEConv", "x_src" if is_pair else "x", x_src, self.src_in,
                          self.lin_l.weight)
        if self.lin_r is not None:
            require_x_dst("SAGEConv", x_dst, "the root weight (or pass root_weight=False)")
            check_in_channels("SAGEConv", "x_dst", x_dst, self.dst_in)
        adj = edge_index
        if size is not None:  # PyG's (N_src, N_dst): x_src alone propagates to N_dst targets
            adj = sized_adjacency("SAGEConv", adj, x, size, root=(
                "the root weight (or pass root_weight=False)" if self.lin_r is not None else None))
            x = (x_src, x_dst if is_pair else None)
        adj = unweighted_adjacency(adj, x, op="SAGEConv")  # checked against x as given
        if self.proj is not None:
            x_src = ops.relu(self.proj(x_src))
        out = self.lin_l(self.propagate(adj, (x_src, x_dst) if is_pair else x_src))
        if self.lin_r is not None:
            out = out + self.lin_r(x_dst)
        if self.normalize:
            out = ops.normalize(out, p=2.0, dim=-1)
        return out

    def __repr__(self) -> str:
        # PyG's: the aggregation unquoted (``aggr=mean``), a list as a list of names
        aggr = self.aggr if isinstance(self.aggr, str) else list(self.aggr)
        return f"SAGEConv({self.in_channels}, {self.out_channels}, aggr={aggr})"
