"""Residual gated graph convolution (ResGatedGraphConv)."""

from __future__ import annotations

from sparsegraph.creation import zeros
from sparsegraph.gnn.inputs import (
    check_edge_rows,
    check_in_channels,
    edge_tensor,
    require_x_dst,
    split_features,
)
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear, Parameter, Sigmoid, init


class ResGatedGraphConv(MessagePassing):
    r"""Residual gated graph convolution of Bresson & Laurent, "Residual Gated Graph
    ConvNets" (2017): ``out_i = W_1 x_i + Σ_{j -> i} η_ij ⊙ W_2 x_j + b`` with the gate
    ``η_ij = act(W_3 x_i + W_4 x_j)`` (PyG's ``lin_skip``, ``lin_value``, ``lin_key``,
    ``lin_query``; the key reads the target, query and value the source).

    With ``edge_dim`` (PyG >= 2.3) key, query and value read ``[x, e_ji]``:
    ``lin_key([x_i, e_ji])``, ``lin_query([x_j, e_ji])``, ``lin_value([x_j, e_ji])``. Their
    node parts are computed once per node and only the edge parts per edge (the same sums
    as PyG's per-edge Linear over the concatenation). The gated messages are ``(E, F_out)``,
    as in PyG; the adjacency's values are not read (PyG's message takes no weight).

    Args:
        in_channels: ``F_in``, or ``(F_src, F_dst)`` for bipartite inputs (no lazy ``-1``).
        out_channels: ``F_out``.
        act: the gate function. (default: ``Sigmoid()``)
        edge_dim: edge feature width ``D``, or None for no edge features. (default: None)
        root_weight: add ``lin_skip(x_i)``. (default: True)
        bias: learn an additive bias. (default: True)

    ``forward(x, edge_index, edge_attr=None)`` as PyG's: ``edge_attr`` ``(E, D)`` one row per
    edge in the order of ``edge_index``'s edges (its columns, a SparseTensor's stored
    entries, a Graph's ``edge_attr`` order; a Graph's own ``edge_attr`` when not given).

    Shapes:
        x: ``(N, F_in)`` or ``((N_src, F_src), (N_dst, F_dst))``; edge_index: ``(2, E)`` or
        an ``(N_dst, N_src)`` SparseTensor / Graph; out: ``(N_dst, F_out)``.
    """

    def __init__(self, in_channels, out_channels: int, act=Sigmoid(),  # noqa: B008 (PyG's)
                 edge_dim: int | None = None, root_weight: bool = True, bias: bool = True):
        super().__init__(aggr="sum")
        in_channels = check_channels("ResGatedGraphConv", "in_channels", in_channels,
                                     pair=True)
        out_channels = check_channels("ResGatedGraphConv", "out_channels", out_channels)
        if not callable(act):
            raise TypeError(f"ResGatedGraphConv: expected `act` to be callable, e.g. "
                            f"Sigmoid() (got {type(act).__name__})")
        if edge_dim is not None:
            edge_dim = check_channels("ResGatedGraphConv", "edge_dim", edge_dim)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.act, self.edge_dim, self.root_weight = act, edge_dim, root_weight
        src_in, dst_in = (in_channels if isinstance(in_channels, tuple)
                          else (in_channels, in_channels))
        self.src_in, self.dst_in = src_in, dst_in
        d = edge_dim or 0
        self.lin_key = Linear(dst_in + d, out_channels)
        self.lin_query = Linear(src_in + d, out_channels)
        self.lin_value = Linear(src_in + d, out_channels)
        self.lin_skip = Linear(dst_in, out_channels, bias=False) if root_weight else None
        self.bias = Parameter(zeros(out_channels)) if bias else None

    def reset_parameters(self) -> None:
        for lin in (self.lin_key, self.lin_query, self.lin_value, self.lin_skip):
            if lin is not None:
                lin.reset_parameters()
        if self.bias is not None:
            init.zeros_(self.bias)

    @staticmethod
    def _split(lin: Linear, width: int, x, e):
        """``lin([x, e])`` as its node part ``x W[:, :width]^T + b`` (per node) and its edge
        part ``e W[:, width:]^T`` (per edge; None without edge features)."""
        if e is None:
            return lin(x), None
        w = lin.weight
        node = x @ w[:, :width].t()
        if lin.bias is not None:
            node = node + lin.bias
        return node, e @ w[:, width:].t()

    def forward(self, x, edge_index, edge_attr=None):
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_in_channels("ResGatedGraphConv", "x_src" if is_pair else "x", x_src, self.src_in,
                          self.lin_query.weight)
        require_x_dst("ResGatedGraphConv", x_dst, "the gate's key")
        check_in_channels("ResGatedGraphConv", "x_dst", x_dst, self.dst_in,
                          self.lin_key.weight)
        e = self._edge_attr(edge_attr, edge_index, x_src)
        k, ek = self._split(self.lin_key, self.dst_in, x_dst, e)
        q, eq = self._split(self.lin_query, self.src_in, x_src, e)
        v, ev = self._split(self.lin_value, self.src_in, x_src, e)
        extra = {} if e is None else {"edge_gate": ek + eq, "edge_value": ev}
        out = self.propagate(edge_index, (x_src, x_dst) if is_pair else x_src,
                             k=k, q=q, v=v, **extra)
        if self.lin_skip is not None:
            out = out + self.lin_skip(x_dst)
        return out if self.bias is None else out + self.bias

    def _edge_attr(self, edge_attr, edge_index, x_src):
        """``edge_attr`` as an ``(E, edge_dim)`` Tensor in ``x``'s dtype (None without
        ``edge_dim``); ValueError when given without ``edge_dim`` or missing with it."""
        if edge_attr is None and self.edge_dim is not None and isinstance(edge_index, Graph):
            edge_attr = edge_index.edge_attr
        if (edge_attr is None) != (self.edge_dim is None):
            raise ValueError(
                f"ResGatedGraphConv: expected `edge_attr` (E, {self.edge_dim}): the layer was "
                f"built with edge_dim={self.edge_dim} (got None)" if edge_attr is None else
                "ResGatedGraphConv: got `edge_attr` but the layer was built with "
                "edge_dim=None")
        if edge_attr is None:
            return None
        e = edge_tensor(edge_attr, x_src.device, op="ResGatedGraphConv", name="edge_attr")
        check_edge_rows("ResGatedGraphConv", "edge_attr", e, edge_index)
        if e.dtype.kind != "f":
            raise TypeError(f"ResGatedGraphConv: expected floating `edge_attr` (got dtype "
                            f"{e.dtype}); convert with edge_attr.float()")
        if e.ndim == 1:
            e = e.reshape((e.shape[0], 1))
        if e.ndim != 2 or e.shape[1] != self.edge_dim:
            raise ValueError(f"ResGatedGraphConv: expected `edge_attr` of shape (E, "
                             f"{self.edge_dim}), edge_dim features per edge (got shape "
                             f"{tuple(e.shape)})")
        return e if e.dtype == x_src.dtype else e.to(x_src.dtype)

    def message(self, k_i, q_j, v_j, edge_gate=None, edge_value=None):
        if edge_gate is None:
            return self.act(k_i + q_j) * v_j
        return self.act(k_i + q_j + edge_gate) * (v_j + edge_value)

    def __repr__(self) -> str:
        return f"ResGatedGraphConv({self.in_channels}, {self.out_channels})"
