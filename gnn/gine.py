"""GINE: GIN whose messages carry edge features."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.gnn.edge_call import sized_adjacency
from sparsegraph.gnn.gin import init_nn_and_eps, reset_nn_and_eps
from sparsegraph.gnn.inputs import (
    check_edge_rows,
    check_features,
    check_size,
    edge_tensor,
    require_x_dst,
    split_features,
)
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear, Sequential
from sparsegraph.sparse import SparseTensor


def _nn_in_channels(nn) -> int:
    """The input width of GINE's ``nn`` (its first layer's, for a Sequential), as PyG infers
    it for ``lin``: ``in_features`` or ``in_channels``."""
    first = nn[0] if isinstance(nn, Sequential) and len(nn) else nn
    for name in ("in_features", "in_channels"):
        width = getattr(first, name, None)
        if isinstance(width, int) and not isinstance(width, bool):
            return width
    raise ValueError(f"GINEConv: could not infer the input channels of `nn` for edge_dim "
                     f"(its first layer {type(first).__name__} has no `in_features` or "
                     f"`in_channels`)")


class GINEConv(MessagePassing):
    r"""The GIN with edge features of Hu et al., "Strategies for Pre-training Graph Neural
    Networks" (ICLR 2020): ``out_i = nn((1 + eps) · x_i + Σ_{j -> i} ReLU(x_j + e_ji))``.

    Args:
        nn: the module applied after aggregation (usually an MLP).
        eps: initial ``eps``. (default: 0.0)
        train_eps: learn ``eps``. (default: False)
        edge_dim: the edge feature width ``D``; when given, ``e_ji = lin(edge_attr_ji)`` with
            ``lin = Linear(D, F_in)``, ``F_in`` read from ``nn`` (its first layer for a
            Sequential) as PyG does; when None, ``edge_attr`` must have ``x``'s width.
            (default: None)

    ``forward(x, edge_index, edge_attr=None, size=None)`` as PyG's: ``edge_attr`` ``(E, D)``
    one row per edge in the order of ``edge_index``'s edges (its columns, a SparseTensor's
    stored entries, a Graph's ``edge_attr`` order). Without ``edge_attr``, a SparseTensor's
    ``(E, D)`` values are the edge features (PyG reads ``adj_t``'s values so) and a Graph's
    ``edge_attr``. The messages are ``(E, F)``, as in PyG: each needs its own ``x_j + e_ji``.

    Shapes:
        x: ``(N, F_in)`` or ``((N_src, F_in), (N_dst, F_in))``; edge_index: ``(2, E)`` or
        ``(N_dst, N_src)``; edge_attr: ``(E, D)``; out: ``(N_dst, F_out)`` of ``nn``.
    """

    def __init__(self, nn, eps: float = 0.0, train_eps: bool = False,
                 edge_dim: int | None = None):
        super().__init__(aggr="sum")
        init_nn_and_eps(self, "GINEConv", nn, eps, train_eps)
        self.edge_dim = None if edge_dim is None else check_channels("GINEConv", "edge_dim",
                                                                     edge_dim)
        self.lin = (None if edge_dim is None else
                    Linear(self.edge_dim, _nn_in_channels(nn)))

    def reset_parameters(self) -> None:
        reset_nn_and_eps(self)
        if self.lin is not None:
            self.lin.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None, size=None):
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_features("GINEConv", "x_src" if is_pair else "x", x_src)
        if x_dst is not None or not is_pair:  # PyG: a pair (x_src, None) drops the root term
            require_x_dst("GINEConv", x_dst, "the (1 + eps) * x_i term")
            check_features("GINEConv", "x_dst", x_dst)
        if size is not None:
            check_size("GINEConv", size)
            if not is_pair and size[1] is not None and size[1] != x_src.shape[0]:
                sized_adjacency("GINEConv", edge_index, x, size,
                                root="the (1 + eps) * x_i term")
        e = self._edge_features(edge_attr, edge_index, x_src)
        out = self.propagate(edge_index, x, edge_attr=e, size=size)
        if x_dst is not None:
            out = out + (1 + self.eps.to(x_dst.dtype)) * x_dst
        return self.nn(out)

    def _edge_features(self, edge_attr, edge_index, x_src):
        """``e_ji`` ``(E, F_in)`` in the caller's edge order: ``lin(edge_attr)`` with
        ``edge_dim``, else ``edge_attr`` itself; checked against ``x``'s width."""
        if edge_attr is None:
            if isinstance(edge_index, Graph):
                edge_attr = edge_index.edge_attr
            elif isinstance(edge_index, SparseTensor) and edge_index.values.ndim == 2:
                edge_attr = edge_index.values
        if edge_attr is None:
            raise ValueError("GINEConv: expected `edge_attr` (E, D), one row of edge features "
                             "per edge: its messages are ReLU(x_j + e_ji) (got None); for "
                             "edges without features use GINConv")
        e = edge_tensor(edge_attr, x_src.device, op="GINEConv", name="edge_attr")
        check_edge_rows("GINEConv", "edge_attr", e, edge_index)
        if e.dtype.kind != "f":
            raise TypeError(f"GINEConv: expected floating `edge_attr` (got dtype {e.dtype}); "
                            f"convert with edge_attr.float()")
        if e.ndim == 1:  # one feature per edge
            e = e.reshape((e.shape[0], 1))
        width = x_src.shape[1]
        if e.ndim != 2:
            raise ValueError(f"GINEConv: expected `edge_attr` of shape (E, D) (got shape "
                             f"{tuple(e.shape)})")
        if self.lin is None:
            if e.shape[1] != width:
                raise ValueError(f"GINEConv: expected `edge_attr` with {width} features to "
                                 f"match `x` (got shape {tuple(e.shape)}); pass edge_dim="
                                 f"{e.shape[1]} to transform them with a Linear layer")
            return e if e.dtype == x_src.dtype else e.to(x_src.dtype)
        if e.shape[1] != self.edge_dim:
            raise ValueError(f"GINEConv: expected `edge_attr` with {self.edge_dim} features, "
                             f"as `edge_dim` says (got shape {tuple(e.shape)})")
        if self.lin.out_features != width:
            raise ValueError(f"GINEConv: expected `x` with {self.lin.out_features} features, "
                             f"the input width of `nn` (got shape {tuple(x_src.shape)})")
        e = e if e.dtype == self.lin.weight.dtype else e.to(self.lin.weight.dtype)
        e = self.lin(e)
        return e if e.dtype == x_src.dtype else e.to(x_src.dtype)

    def message(self, x_j, edge_attr):
        return ops.relu(x_j + edge_attr)

    def __repr__(self) -> str:
        return f"GINEConv(nn={self.nn})"
