"""GENConv, the generalized graph convolution of DeeperGCN, with its MessageNorm and MLP."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.creation import ones
from sparsegraph.gnn.aggr import MultiAggregation
from sparsegraph.gnn.inputs import check_size, pair_features
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.nn_conv import check_width, layer_edge_attr
from sparsegraph.gnn.norm import BatchNorm, GraphNorm, InstanceNorm, LayerNorm
from sparsegraph.gnn.utils import check_channels, check_float, check_int
from sparsegraph.nn import Linear, Module, ModuleList, Parameter, init
from sparsegraph.tensor import Tensor

# PyG's normalization_resolver names (lower case, "_" and a "norm" suffix dropped)
NORMS = {"batch": BatchNorm, "layer": LayerNorm, "instance": InstanceNorm, "graph": GraphNorm}


class MessageNorm(Module):
    r"""Message normalization of Li et al., "DeeperGCN" (2020):
    ``x'_i = s · ||x_i||_2 · m_i / ||m_i||_2`` (PyG's ``MessageNorm``).

    Args:
        learn_scale: learn the scale ``s`` (a Parameter of one entry, 1 at first; without it
            the Parameter is kept but does not require grad, as PyG's). (default: False)

    ``forward(x, msg, p=2)``: ``x`` ``(N, F)`` node features, ``msg`` ``(N, F')`` aggregated
    messages; ``msg / max(||msg||_p, 1e-12) · ||x||_p · s`` per row.
    """

    def __init__(self, learn_scale: bool = False):
        super().__init__()
        self.scale = Parameter(ones(1), requires_grad=bool(learn_scale))

    def reset_parameters(self) -> None:
        init.ones_(self.scale)

    def forward(self, x: Tensor, msg: Tensor, p: float = 2.0) -> Tensor:
        if x.ndim != 2 or msg.ndim != 2 or x.shape[0] != msg.shape[0]:
            raise ValueError(f"MessageNorm: expected `x` (N, F) and `msg` (N, F') with the same "
                             f"rows (got shapes {tuple(x.shape)} and {tuple(msg.shape)})")
        msg_norm = ops.clamp(ops.norm(msg, p, dim=-1, keepdim=True), min=1e-12)
        return msg / msg_norm * ops.norm(x, p, dim=-1, keepdim=True) * self.scale

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learn_scale={self.scale.requires_grad})"


def _norm_layer(op: str, norm, channels: int):
    if norm is None:
        return None
    key = str(norm).lower().replace("_", "") if isinstance(norm, str) else None
    key = key[:-4] if key and key.endswith("norm") and key != "norm" else key
    if key not in NORMS:
        raise ValueError(f"{op}: expected `norm` in {sorted(NORMS)} or None (got {norm!r})")
    return NORMS[key](channels)


class GENMLP(Module):
    """PyG's ``MLP(channel_list, norm=norm, bias=bias)`` as GENConv builds it: Linear, norm,
    ReLU blocks and a plain last Linear (state_dict keys ``lins.i.*``, ``norms.i.*``)."""

    def __init__(self, channel_list, norm="batch", bias: bool = True):
        super().__init__()
        self.channel_list = list(channel_list)
        self.lins = ModuleList([Linear(a, b, bias=bias) for a, b in
                                zip(self.channel_list[:-1], self.channel_list[1:], strict=True)])
        self.norms = ModuleList([_norm_layer("GENConv", norm, c) or _Identity()
                                 for c in self.channel_list[1:-1]])

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()
        for norm in self.norms:
            norm.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        for lin, norm in zip(self.lins[:-1], self.norms, strict=True):
            x = ops.relu(norm(lin(x)))
        return self.lins[-1](x)

    def __repr__(self) -> str:
        return f"MLP({', '.join(map(str, self.channel_list))})"


class _Identity(Module):
    def reset_parameters(self) -> None:
        pass

    def forward(self, x):
        return x

    def __repr__(self) -> str:
        return "Identity()"


class GENConv(MessagePassing):
    r"""The GENeralized Graph Convolution of Li et al., "DeeperGCN: All You Need to Train
    Deeper GCNs" (2020): ``out_i = MLP(x_i + aggr_{j -> i}(ReLU(x_j + e_ji) + eps))``,
    with message normalization ``MessageNorm(x_i, aggr)`` in place of the aggregate when
    ``msg_norm``.

    Args:
        in_channels: ``F_in``, or ``(F_src, F_dst)``; a width other than ``out_channels`` is
            first mapped by ``lin_src`` / ``lin_dst``.
        out_channels: ``F_out``.
        aggr: ``"softmax"`` (temperature ``t``, learned with ``learn_t``),
            ``"softmax_sg"`` (its semi-gradient), ``"powermean"`` / ``"power"`` (``p``,
            ``learn_p``), or any aggregation MessagePassing takes (a list: ``lin_aggr_out``
            maps the concatenation back to ``F_out``). (default: "softmax")
        t, learn_t, p, learn_p: the softmax / power-mean aggregation's. (default: 1.0, False,
            1.0, False)
        msg_norm, learn_msg_scale: use `MessageNorm` (its scale learned). (default: False)
        norm: the MLP's normalization, ``"batch"``, ``"layer"``, ``"instance"``, ``"graph"``
            or None. (default: "batch")
        num_layers, expansion: the MLP's Linear layers and hidden width factor: channels
            ``[F_out, F_out * expansion, ..., F_out]``. (default: 2, 2)
        eps: added to every message. (default: 1e-7)
        bias: biases of every Linear. (default: False)
        edge_dim: ``D``; edge features of another width than ``F_out`` are mapped by
            ``lin_edge``. (default: None)
        aggr_kwargs: keywords for the aggregation built from ``aggr`` (PyG's ``**kwargs``),
            overriding those from ``t`` / ``p``. (default: None)

    ``forward(x, edge_index, edge_attr=None, size=None)``: ``edge_attr`` ``(E, D)`` optional,
    in ``edge_index``'s edge order (a Graph's ``edge_attr`` or a SparseTensor's ``(E, D)``
    values when not given).

    Shapes:
        x: ``(N, F_in)`` or ``((N_src, F_src), (N_dst, F_dst))``; out: ``(N_dst, F_out)``.
    """

    def __init__(self, in_channels, out_channels: int, aggr="softmax", t: float = 1.0,
                 learn_t: bool = False, p: float = 1.0, learn_p: bool = False,
                 msg_norm: bool = False, learn_msg_scale: bool = False, norm="batch",
                 num_layers: int = 2, expansion: int = 2, eps: float = 1e-7,
                 bias: bool = False, edge_dim: int | None = None, *,
                 aggr_kwargs: dict | None = None):
        op = type(self).__name__
        semi_grad = isinstance(aggr, str) and aggr == "softmax_sg"
        aggr = "softmax" if semi_grad else "powermean" if (
            isinstance(aggr, str) and aggr == "power") else aggr
        if aggr_kwargs is None and isinstance(aggr, str):
            if aggr == "softmax":
                aggr_kwargs = dict(t=t, learn=learn_t, semi_grad=semi_grad)
            elif aggr == "powermean":
                aggr_kwargs = dict(p=p, learn=learn_p)
        super().__init__(aggr=aggr, aggr_kwargs=aggr_kwargs)
        self.in_channels = check_channels(op, "in_channels", in_channels, pair=True)
        self.out_channels = out = check_channels(op, "out_channels", out_channels)
        check_int(op, "num_layers", num_layers, 1)
        check_int(op, "expansion", expansion, 1)
        check_float(op, "eps", eps)
        self.eps = float(eps)
        self.edge_dim = None if edge_dim is None else check_channels(op, "edge_dim", edge_dim)
        pair = (self.in_channels if isinstance(self.in_channels, tuple)
                else (self.in_channels, self.in_channels))
        self._pair = pair
        self.lin_src = Linear(pair[0], out, bias=bias) if pair[0] != out else None
        self.lin_edge = (Linear(self.edge_dim, out, bias=bias)
                         if self.edge_dim is not None and self.edge_dim != out else None)
        aggr_out = (self.aggr_module.get_out_channels(out)
                    if isinstance(self.aggr_module, MultiAggregation) else out)
        self.lin_aggr_out = Linear(aggr_out, out, bias=bias) if aggr_out != out else None
        self.lin_dst = Linear(pair[1], out, bias=bias) if pair[1] != out else None
        self.mlp = GENMLP([out] + [out * expansion] * (num_layers - 1) + [out], norm=norm,
                          bias=bias)
        self.msg_norm = MessageNorm(learn_msg_scale) if msg_norm else None

    def reset_parameters(self) -> None:
        if self.aggr_module is not None:
            self.aggr_module.reset_parameters()
        for m in (self.lin_src, self.lin_edge, self.lin_aggr_out, self.lin_dst, self.mlp,
                  self.msg_norm):
            if m is not None:
                m.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None, size=None):
        op = type(self).__name__
        is_pair, x_src, x_dst = pair_features(op, x, "the messages")
        check_width(op, "x_src" if is_pair else "x", x_src, self._pair[0],
                    weight=self.mlp.lins[0].weight)
        check_width(op, "x_dst" if is_pair else "x", x_dst, self._pair[1])
        if size is not None:
            check_size(op, size)
        h_src = self.lin_src(x_src) if self.lin_src is not None else x_src
        e = layer_edge_attr(op, edge_attr, edge_index, x_src, self.edge_dim, required=False,
                            why="")
        if e is not None:
            if self.lin_edge is not None:
                e = self.lin_edge(e)
            elif e.shape[1] != self.out_channels:
                raise ValueError(f"{op}: expected `edge_attr` with {h_src.shape[1]} features "
                                 f"to match the node features the messages add them to (got "
                                 f"shape {tuple(e.shape)}); pass edge_dim={e.shape[1]}")
        out = self.propagate(edge_index, (h_src, x_dst) if is_pair else h_src, edge_attr=e,
                             size=size)
        if self.lin_aggr_out is not None:
            out = self.lin_aggr_out(out)
        if self.msg_norm is not None:
            out = self.msg_norm(x_dst if x_dst is not None else x_src, out)
        if x_dst is not None:
            out = out + (self.lin_dst(x_dst) if self.lin_dst is not None else x_dst)
        return self.mlp(out)

    def message(self, x_j, edge_attr=None):
        msg = x_j if edge_attr is None else x_j + edge_attr
        return ops.relu(msg) + self.eps

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"aggr={self.aggr})")
