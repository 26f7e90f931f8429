"""Edge-conditioned convolutions: NNConv (ECConv), whose weights an edge network computes from
the edge features, and CGConv, the crystal graph convolution's gated messages."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.inputs import (
    check_edge_rows,
    check_in_channels,
    check_size,
    edge_tensor,
    pair_features,
)
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_int, reset_submodules
from sparsegraph.graph import Graph
from sparsegraph.nn import BatchNorm1d, Linear, Parameter, init
from sparsegraph.sparse import SparseTensor


def layer_edge_attr(op: str, edge_attr, edge_index, x_src, width: int | None, *,
                    required: bool, why: str):
    """A layer's ``edge_attr`` ``(E, D)`` in the caller's edge order, in ``x_src``'s dtype.

    Without ``edge_attr``, a Graph's ``edge_attr`` and a SparseTensor's 2-D ``(E, D)``
    values are the edge features (PyG reads ``adj_t``'s values so). A 1-D one is one feature
    per edge. ``width``: the ``D`` the layer expects (None: any). ``required``: a ValueError
    when there are none (``why`` says what needs them); else None passes.
    """
    if edge_attr is None:
        if isinstance(edge_index, Graph):
            edge_attr = edge_index.edge_attr
        elif isinstance(edge_index, SparseTensor) and edge_index.values.ndim == 2:
            edge_attr = edge_index.values
    if edge_attr is None:
        if required:
            raise ValueError(f"{op}: expected `edge_attr` (E, D), one row of edge features per "
                             f"edge: {why} (got None)")
        return None
    e = edge_tensor(edge_attr, x_src.device, op=op, name="edge_attr")
    check_edge_rows(op, "edge_attr", e, edge_index)
    if e.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating `edge_attr` (got dtype {e.dtype}); convert "
                        f"with edge_attr.float()")
    if e.ndim == 1:
        e = e.reshape((e.shape[0], 1))
    if e.ndim != 2 or (width is not None and e.shape[1] != width):
        want = "D" if width is None else width
        raise ValueError(f"{op}: expected `edge_attr` of shape (E, {want}) (got shape "
                         f"{tuple(e.shape)})")
    return e if e.dtype == x_src.dtype else e.to(x_src.dtype)


def check_width(op: str, name: str, x, width: int, what: str = "`in_channels`",
                weight=None) -> None:
    """ValueError naming the layer unless ``x`` has ``width`` features; TypeError when its
    dtype is not that of the layer's ``weight`` (when given), as `check_in_channels`."""
    if x is not None and x.shape[1] != width:
        raise ValueError(f"{op}: expected `{name}` with {width} features, as {what} says "
                         f"(got shape {tuple(x.shape)})")
    if x is not None and weight is not None:
        check_in_channels(op, name, x, width, weight)


class NNConv(MessagePassing):
    r"""The edge-conditioned convolution of Gilmer et al., "Neural Message Passing for Quantum
    Chemistry" (ICML 2017) and Simonovsky & Komodakis, "Dynamic Edge-Conditioned Filters"
    (CVPR 2017): ``out_i = W x_i + aggr_{j -> i} x_j · h(e_ji) + b``, where the network
    ``h = nn`` maps each edge's features to an ``(F_in, F_out)`` weight matrix.

    Args:
        in_channels: ``F_in``, or a pair ``(F_src, F_dst)`` for bipartite inputs.
        out_channels: ``F_out``.
        nn: maps ``edge_attr`` ``(E, D)`` to ``(E, F_src * F_out)`` (e.g. a Sequential).
        aggr: the aggregation (PyG's names or an `Aggregation`). (default: "add")
        root_weight: add ``W x_i`` (``lin``, no bias). (default: True)
        bias: learn the additive bias ``b``. (default: True)

    ``forward(x, edge_index, edge_attr=None, size=None)`` as PyG's: ``edge_attr`` one row per
    edge in ``edge_index``'s edge order; without it a Graph's ``edge_attr`` or a
    SparseTensor's ``(E, D)`` values. The per-edge weights ``(E, F_src, F_out)`` are
    inherent to the layer (as in PyG); messages are one batched matmul.

    Shapes:
        x: ``(N, F_in)`` or ``((N_src, F_src), (N_dst, F_dst))``; edge_attr: ``(E, D)``;
        out: ``(N_dst, F_out)``.
    """

    def __init__(self, in_channels, out_channels: int, nn, aggr="add",
                 root_weight: bool = True, bias: bool = True):
        super().__init__(aggr=aggr)
        op = type(self).__name__
        if not callable(nn):
            raise TypeError(f"{op}: expected `nn` to be a callable module (got "
                            f"{type(nn).__name__})")
        self.in_channels = check_channels(op, "in_channels", in_channels, pair=True)
        self.out_channels = check_channels(op, "out_channels", out_channels)
        pair = (self.in_channels if isinstance(self.in_channels, tuple)
                else (self.in_channels, self.in_channels))
        self.in_channels_l = pair[0]
        self.nn = nn
        self.root_weight = bool(root_weight)
        # PyG's weight_initializer="uniform": U(-1/sqrt(fan_in), 1/sqrt(fan_in)), Linear's own
        self.lin = Linear(pair[1], self.out_channels, bias=False) if root_weight else None
        self.bias = Parameter(zeros(self.out_channels)) if bias else None

    def reset_parameters(self) -> None:
        if self.aggr_module is not None:
            self.aggr_module.reset_parameters()
        reset_submodules_of(self.nn)
        if self.lin is not None:
            self.lin.reset_parameters()
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x, edge_index, edge_attr=None, size=None):
        op = type(self).__name__
        is_pair, x_src, x_dst = pair_features(op, x, "the messages x_j · nn(e_ji)")
        check_width(op, "x_src" if is_pair else "x", x_src, self.in_channels_l,
                    weight=self.lin.weight if self.lin is not None else self.bias)
        if self.lin is not None:
            check_width(op, "x_dst" if is_pair else "x", x_dst, self.lin.in_features)
        if size is not None:
            check_size(op, size)
        e = layer_edge_attr(op, edge_attr, edge_index, x_src, None, required=True,
                            why="the edge network `nn` maps it to each edge's weights")
        out = self.propagate(edge_index, x, edge_attr=e, size=size)
        if x_dst is not None and self.lin is not None:
            out = out + self.lin(x_dst)
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_j, edge_attr):
        op = type(self).__name__
        weight = self.nn(edge_attr)
        f_in, f_out = self.in_channels_l, self.out_channels
        if weight.ndim != 2 or weight.shape[1] != f_in * f_out:
            raise ValueError(f"{op}: expected `nn` to map `edge_attr` to shape (E, "
                             f"{f_in * f_out}), in_channels * out_channels = {f_in} * {f_out} "
                             f"weights per edge (got shape {tuple(weight.shape)})")
        weight = weight.reshape((weight.shape[0], f_in, f_out))
        if weight.dtype != x_j.dtype:
            weight = weight.to(x_j.dtype)
        return ops.bmm(x_j.reshape((x_j.shape[0], 1, f_in)), weight).reshape(
            (x_j.shape[0], f_out))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"aggr={self.aggr}, nn={self.nn})")


ECConv = NNConv


def reset_submodules_of(nn) -> None:
    """PyG's ``reset(nn)``: ``nn.reset_parameters()`` when it has one, else its children's."""
    if hasattr(nn, "reset_parameters"):
        nn.reset_parameters()
    elif hasattr(nn, "children"):
        reset_submodules(nn)


class CGConv(MessagePassing):
    r"""The crystal graph convolution of Xie & Grossman, "Crystal Graph Convolutional Neural
    Networks" (Phys. Rev. Lett. 2018):
    ``out_i = x_i + aggr_{j -> i} sigmoid(z_ij W_f + b_f) ⊙ softplus(z_ij W_s + b_s)`` with
    ``z_ij = [x_i, x_j, e_ji]``.

    Args:
        channels: ``F``, or a pair ``(F_src, F_dst)`` for bipartite inputs (out: ``F_dst``).
        dim: the edge feature width ``D`` (0: no edge features). (default: 0)
        aggr: the aggregation (PyG's names or an `Aggregation`). (default: "add")
        batch_norm: a `BatchNorm1d` (``bn``) on the aggregate. (default: False)
        bias: biases in ``lin_f`` and ``lin_s``. (default: True)

    ``forward(x, edge_index, edge_attr=None)`` as PyG's (no ``size``): ``edge_attr`` ``(E,
    dim)`` in ``edge_index``'s edge order when ``dim`` > 0 (a Graph's ``edge_attr`` or a
    SparseTensor's ``(E, D)`` values when not given).

    Shapes:
        x: ``(N, F)`` or ``((N_src, F_src), (N_dst, F_dst))``; out: ``(N_dst, F_dst)``.
    """

    def __init__(self, channels, dim: int = 0, aggr="add", batch_norm: bool = False,
                 bias: bool = True):
        super().__init__(aggr=aggr)
        op = type(self).__name__
        self.channels = check_channels(op, "channels", channels, pair=True)
        check_int(op, "dim", dim, 0)
        self.dim = int(dim)
        self.batch_norm = bool(batch_norm)
        pair = (self.channels if isinstance(self.channels, tuple)
                else (self.channels, self.channels))
        self._pair = pair
        self.lin_f = Linear(sum(pair) + self.dim, pair[1], bias=bias)
        self.lin_s = Linear(sum(pair) + self.dim, pair[1], bias=bias)
        self.bn = BatchNorm1d(pair[1]) if batch_norm else None

    def reset_parameters(self) -> None:
        self.lin_f.reset_parameters()
        self.lin_s.reset_parameters()
        if self.bn is not None:
            self.bn.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None):
        op = type(self).__name__
        is_pair, x_src, x_dst = pair_features(op, x, "the messages' x_j",
                                              "the messages' x_i and the root term x_i")
        what = "`channels`"
        check_width(op, "x_src" if is_pair else "x", x_src, self._pair[0], what,
                    self.lin_f.weight)
        check_width(op, "x_dst" if is_pair else "x", x_dst, self._pair[1], what)
        e = None
        if self.dim:
            e = layer_edge_attr(op, edge_attr, edge_index, x_src, self.dim, required=True,
                                why=f"the layer was built with dim={self.dim}")
        elif edge_attr is not None:
            raise ValueError(f"{op}: got `edge_attr` but the layer was built with dim=0; "
                             f"pass dim=D for D edge features")
        out = self.propagate(edge_index, x, edge_attr=e)
        if self.bn is not None:
            out = self.bn(out)
        return out + x_dst

    def message(self, x_i, x_j, edge_attr):
        z = ops.cat([x_i, x_j] if edge_attr is None else [x_i, x_j, edge_attr], dim=-1)
        return ops.sigmoid(self.lin_f(z)) * ops.softplus(self.lin_s(z))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, dim={self.dim})"
