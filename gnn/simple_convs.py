"""Two small message-passing layers: LEConv (local extremum) and the parameter-free
SimpleConv."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.gnn.inputs import (
    as_adjacency,
    check_features,
    check_size,
    pair_features,
    split_features,
    weighted_adjacency,
)
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.nn_conv import check_width
from sparsegraph.gnn.pyg_edge_forms import add_self_loops
from sparsegraph.gnn.utils import check_channels, replace_self_loops_with
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear
from sparsegraph.sparse import SparseTensor

COMBINE_ROOTS = ("sum", "cat", "self_loop", None)


class LEConv(MessagePassing):
    r"""The local extremum convolution of Ranjan et al., "ASAP: Adaptive Structure Aware
    Pooling for Learning Hierarchical Graph Representations" (AAAI 2020):
    ``out_i = x_i Θ_3 + Σ_{j -> i} e_ji (x_j Θ_1 - x_i Θ_2)`` (PyG's ``LEConv``).

    Args:
        in_channels: ``F_in``, or ``(F_src, F_dst)`` for bipartite inputs.
        out_channels: ``F_out``.
        bias: biases in ``lin1`` (``Θ_1``) and ``lin3`` (``Θ_3``); ``lin2`` has none.
            (default: True)

    ``forward(x, edge_index, edge_weight=None)``: ``edge_weight`` ``(E,)`` in
    ``edge_index``'s edge order (else a SparseTensor's values, 1 for an edge_index).

    Shapes:
        x: ``(N, F_in)`` or ``((N_src, F_src), (N_dst, F_dst))``; out: ``(N_dst, F_out)``.
    """

    def __init__(self, in_channels, out_channels: int, bias: bool = True):
        super().__init__(aggr="add")
        op = type(self).__name__
        self.in_channels = check_channels(op, "in_channels", in_channels, pair=True)
        self.out_channels = check_channels(op, "out_channels", out_channels)
        pair = (self.in_channels if isinstance(self.in_channels, tuple)
                else (self.in_channels, self.in_channels))
        self.lin1 = Linear(pair[0], self.out_channels, bias=bias)
        self.lin2 = Linear(pair[1], self.out_channels, bias=False)
        self.lin3 = Linear(pair[1], self.out_channels, bias=bias)

    def reset_parameters(self) -> None:
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()
        self.lin3.reset_parameters()

    def forward(self, x, edge_index, edge_weight=None):
        op = type(self).__name__
        is_pair, x_src, x_dst = pair_features(op, x, "x_j Θ_1", "x_i Θ_2 and x_i Θ_3")
        check_width(op, "x_src" if is_pair else "x", x_src, self.lin1.in_features,
                    weight=self.lin1.weight)
        check_width(op, "x_dst" if is_pair else "x", x_dst, self.lin2.in_features)
        a, b = self.lin1(x_src), self.lin2(x_dst)
        # (a, b): a_j from the sources, b_i from the targets
        out = self.propagate(edge_index, (a, b), edge_weight=edge_weight)
        return out + self.lin3(x_dst)

    def message(self, x_j, x_i, edge_weight=None):
        out = x_j - x_i
        return out if edge_weight is None else out * edge_weight.reshape((-1, 1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"


class SimpleConv(MessagePassing):
    r"""A parameter-free propagation, ``out_i = aggr_{j -> i} e_ji · x_j`` (PyG's
    ``SimpleConv``), optionally combined with the node's own features.

    Args:
        aggr: the aggregation (PyG's names, a list, or an `Aggregation`). (default: "sum")
        combine_root: ``"sum"`` (add ``x_i``), ``"cat"`` (``[x_i, out_i]``), ``"self_loop"``
            (a self loop of weight 1 per node before propagating) or None. (default: None)

    ``forward(x, edge_index, edge_weight=None, size=None)``. With ``"self_loop"``, as in PyG,
    an edge_index gets a loop for every node appended (PyG's ``add_self_loops``: existing
    loops stay), and a SparseTensor or Graph its diagonal set to 1 (PyG's ``set_diag``:
    existing loops are replaced); not for bipartite inputs.

    Shapes:
        x: ``(N, F)`` or ``((N_src, F), (N_dst, F))``; out: ``(N_dst, F)`` (``2F`` for
        ``"cat"``).
    """

    def __init__(self, aggr="sum", combine_root: str | None = None):
        if combine_root not in COMBINE_ROOTS:
            raise ValueError(f"SimpleConv: expected `combine_root` in {list(COMBINE_ROOTS)} "
                             f"(got {combine_root!r})")
        super().__init__(aggr=aggr)
        self.combine_root = combine_root

    def forward(self, x, edge_index, edge_weight=None, size=None):
        op = type(self).__name__
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_features(op, "x_src" if is_pair else "x", x_src)
        if is_pair:
            check_features(op, "x_dst", x_dst)
        if size is not None:
            check_size(op, size)
        if self.combine_root == "self_loop":
            if is_pair or (size is not None and size[0] != size[1]):
                raise ValueError(f"{op}: cannot use combine_root='self_loop' for bipartite "
                                 f"message passing (got "
                                 f"{'a pair x' if is_pair else f'size={tuple(size)}'})")
            edge_index, edge_weight = self._with_self_loops(op, x_src, edge_index, edge_weight)
        out = self.propagate(edge_index, x, edge_weight=edge_weight, size=size)
        if x_dst is not None and self.combine_root == "sum":
            out = out + x_dst
        elif x_dst is not None and self.combine_root == "cat":
            out = ops.cat([x_dst, out], dim=-1)
        return out

    @staticmethod
    def _with_self_loops(op: str, x, edge_index, edge_weight):
        n = x.shape[0]
        if isinstance(edge_index, SparseTensor | Graph):  # PyG's set_diag: loops of weight 1
            adj = (weighted_adjacency(edge_index, n, edge_weight, op=op, dtype=x.dtype,
                                      device=x.device) if edge_weight is not None else
                   as_adjacency(edge_index, n, op=op, dtype=x.dtype, device=x.device))
            if adj.values.ndim != 1:
                raise ValueError(f"{op}: combine_root='self_loop' expected one weight per "
                                 f"edge (got values of shape {tuple(adj.values.shape)})")
            return replace_self_loops_with(adj)[0], None
        return add_self_loops(edge_index, edge_weight, num_nodes=n)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
