"""Principal Neighbourhood Aggregation (PyG's ``PNAConv`` and ``DegreeScalerAggregation``):
several aggregators of the neighbours' messages, each scaled by functions of the in-degree
normalised by the training set's average degree."""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend, nn
from sparsegraph.creation import get_default_dtype, tensor
from sparsegraph.gnn.aggr import Aggregation, MultiAggregation, aggregation_resolver
from sparsegraph.gnn.inputs import check_in_channels
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_int, reset_submodules
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear, Module, ModuleList, Parameter, Sequential
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, wrap

__all__ = ["DegreeScalerAggregation", "PNAConv"]

SCALERS = ("identity", "amplification", "attenuation", "linear", "inverse_linear")

# PyG's activation_resolver names (lower case, "_" ignored) -> sparsegraph.nn modules
_ACTS = {"relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU,
         "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "silu": nn.SiLU, "swish": nn.SiLU,
         "softplus": nn.Softplus}


def activation_resolver(op: str, act, act_kwargs) -> Module:
    """PyG's ``activation_resolver``: a Module as is, or a name built with ``act_kwargs``."""
    if isinstance(act, Module):
        return act
    if isinstance(act, str) and act.lower().replace("_", "") in _ACTS:
        return _ACTS[act.lower().replace("_", "")](**(act_kwargs or {}))
    raise ValueError(f"{op}: expected `act` to be a Module or one of {sorted(_ACTS)} (got "
                     f"{act!r})")


def _host(op: str, name: str, value) -> np.ndarray:
    arr = value.array if isinstance(value, Tensor) else value
    return np.asarray(arr if isinstance(arr, np.ndarray | list | tuple)
                      else backend.to_device(arr, "cpu"))


class DegreeScalerAggregation(Aggregation):
    r"""One or more aggregators whose output is multiplied by one or more degree scalers
    (Corso et al., "Principal Neighbourhood Aggregation for Graph Nets", NeurIPS 2020),
    PyG's ``DegreeScalerAggregation``. With ``d`` a target's in-degree (its number of
    messages), ``δ_log = mean(log(d + 1))`` and ``δ_lin = mean(d)`` over the histogram
    ``deg``, the scalers are ``identity`` (1), ``amplification`` (``log(d + 1) / δ_log``),
    ``attenuation`` (``δ_log / log(max(d, 1) + 1)``), ``linear`` (``d / δ_lin``) and
    ``inverse_linear`` (``δ_lin / max(d, 1)``); the scaled outputs are concatenated on the
    feature axis, scaler-major.

    Args:
        aggr: an aggregation name, an Aggregation, or a list of them (a `MultiAggregation`,
            outputs concatenated).
        scaler: a scaler name or a list of them.
        deg: ``(D_max + 1,)`` histogram of the training set's in-degrees (``deg[k]``: how
            many nodes have in-degree k), e.g. from `PNAConv.get_degree_histogram`.
        train_norm: learn ``avg_deg_lin`` / ``avg_deg_log`` (Parameters, else buffers).
            (default: False)
        aggr_kwargs: keywords for the aggregation(s) built from names (a list of dicts for a
            list). (default: None)

    Unlike PyG's, which needs ``index``, it also takes a CSR ``ptr`` (the degrees are then
    ``diff(ptr)``).
    """

    def __init__(self, aggr, scaler, deg, train_norm: bool = False, aggr_kwargs=None):
        super().__init__()
        op = "DegreeScalerAggregation"
        if isinstance(aggr, str | Aggregation):
            self.aggr = aggregation_resolver(aggr, **(aggr_kwargs or {}))
        elif isinstance(aggr, list | tuple):
            self.aggr = MultiAggregation(list(aggr), aggr_kwargs)
        else:
            raise ValueError(f"{op}: expected `aggr` to be a name, an Aggregation or a list "
                             f"of them (got {type(aggr).__name__})")
        scalers = [scaler] if isinstance(scaler, str) else scaler
        if not isinstance(scalers, list | tuple) or not scalers or any(
                s not in SCALERS for s in scalers):
            raise ValueError(f"{op}: expected `scaler` to be one of {SCALERS} or a non-empty "
                             f"list of them (got {scaler!r})")
        self.scaler = list(scalers)
        d = _host(op, "deg", deg)
        if d.ndim != 1 or d.dtype.kind not in "iuf" or d.size == 0 or (d < 0).any() or (
                not np.isfinite(d).all() or d.sum() <= 0):
            raise ValueError(f"{op}: expected `deg` to be a 1-D histogram of in-degrees, "
                             f"counts >= 0 of which at least one is positive (got dtype "
                             f"{d.dtype}, shape {d.shape})")
        d, bins = d.astype(np.float64), np.arange(d.size, dtype=np.float64)
        total = float(d.sum())
        self.init_avg_deg_lin = float((bins * d).sum()) / total
        self.init_avg_deg_log = float((np.log(bins + 1) * d).sum()) / total
        if self.init_avg_deg_lin == 0 and set(self.scaler) - {"identity"}:  # PyG: inf / NaN
            raise ValueError(f"{op}: expected `deg` with a node of in-degree >= 1 for the "
                             f"scalers {self.scaler}, which divide by the mean degree or its "
                             f"log (got only degree 0: {d.astype(np.int64).tolist()})")
        dtype = get_default_dtype()
        lin, log = tensor([self.init_avg_deg_lin], dtype=dtype), tensor(
            [self.init_avg_deg_log], dtype=dtype)
        if train_norm:
            self.avg_deg_lin, self.avg_deg_log = Parameter(lin), Parameter(log)
        else:
            self.register_buffer("avg_deg_lin", lin)
            self.register_buffer("avg_deg_log", log)

    def reset_parameters(self) -> None:
        """``avg_deg_lin`` / ``avg_deg_log`` back to the histogram's averages."""
        self.aggr.reset_parameters()
        self.avg_deg_lin.array[...] = self.init_avg_deg_lin
        self.avg_deg_log.array[...] = self.init_avg_deg_log

    def __call__(self, x, index=None, ptr=None, dim_size=None, dim=-2, **kwargs):
        if index is None and ptr is None:  # PyG: "Aggregation requires 'index'"
            raise ValueError("DegreeScalerAggregation: expected `index` or `ptr` (the degrees "
                             "scale each group by its size)")
        return super().__call__(x, index, ptr, dim_size, dim, **kwargs)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        out = self.aggr(x, index, ptr, dim_size, dim)
        xp = backend.xp_of(x.array)
        if ptr is not None:
            counts = xp.diff(ptr.array)
        else:
            counts = xp.bincount(index.array, minlength=dim_size)[:dim_size]
        shape = [1] * out.ndim
        shape[dim % out.ndim] = -1
        deg = wrap(counts.astype(out.dtype).reshape(shape))
        clamped = deg.clamp(min=1)
        lin, log = self.avg_deg_lin.to(out.dtype), self.avg_deg_log.to(out.dtype)
        factors = {"identity": None, "amplification": (deg + 1).log() / log,
                   "attenuation": log / (clamped + 1).log(), "linear": deg / lin,
                   "inverse_linear": lin / clamped}
        outs = [out if factors[s] is None else out * factors[s] for s in self.scaler]
        return ops.cat(outs, dim=-1) if len(outs) > 1 else outs[0]

    def __repr__(self) -> str:
        return f"DegreeScalerAggregation({self.aggr}, scaler={self.scaler})"


class PNAConv(MessagePassing):
    r"""The Principal Neighbourhood Aggregation convolution of Corso et al., "Principal
    Neighbourhood Aggregation for Graph Nets" (NeurIPS 2020), PyG's ``PNAConv``:

    .. math::
        \mathbf{x}_i^{\prime} = \gamma_{\mathbf{\Theta}} \left(\mathbf{x}_i,
        \underset{j \in \mathcal{N}(i)}{\bigoplus} h_{\mathbf{\Theta}} \left(\mathbf{x}_i,
        \mathbf{x}_j [, \mathbf{e}_{ji}] \right) \right)

    with :math:`\bigoplus` every aggregator under every scaler (`DegreeScalerAggregation`),
    and per tower the MLPs ``pre_nns[t]`` (:math:`h`, on ``[x_i, x_j, edge_encoder(e_ji)]``)
    and ``post_nns[t]`` (:math:`\gamma`, on ``[x_i, aggregates]``); the towers' outputs are
    concatenated and mixed by ``lin``.

    Args:
        in_channels: ``F_in`` (PyG's lazy ``-1`` is not supported).
        out_channels: ``F_out``, a multiple of ``towers``.
        aggregators: names among ``"sum"``, ``"mean"``, ``"min"``, ``"max"``, ``"var"``,
            ``"std"``.
        scalers: names among ``"identity"``, ``"amplification"``, ``"attenuation"``,
            ``"linear"``, ``"inverse_linear"``.
        deg: histogram of the training set's in-degrees (`get_degree_histogram`).
        edge_dim: edge feature size; edge features go through ``edge_encoder``. (default:
            None)
        towers: number of towers. (default: 1)
        pre_layers: Linear layers of each ``pre_nns`` MLP. (default: 1)
        post_layers: Linear layers of each ``post_nns`` MLP. (default: 1)
        divide_input: split the input features among the towers (``in_channels`` a
            multiple of ``towers``) instead of giving every tower all of them. (default: False)
        act: the activation between an MLP's layers: a name (``"relu"``, ...) or a Module.
            (default: "relu")
        act_kwargs: keywords for an activation built from a name. (default: None)
        train_norm: learn the degree normalisers. (default: False)
        **kwargs: for `MessagePassing` (``flow``).

    ``forward(x, edge_index, edge_attr=None)``: ``x`` ``(N, F_in)``; ``edge_index`` a
    ``(2, E)`` edge_index, SparseTensor or Graph; ``edge_attr`` ``(E, edge_dim)`` in its
    edge order (with ``edge_dim`` and no ``edge_attr``, a SparseTensor's ``(E, edge_dim)``
    values or a Graph's ``edge_attr`` are read, as PyG reads an ``adj_t``'s values). Returns
    ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, aggregators, scalers, deg,
                 edge_dim: int | None = None, towers: int = 1, pre_layers: int = 1,
                 post_layers: int = 1, divide_input: bool = False, act="relu",
                 act_kwargs=None, train_norm: bool = False, **kwargs):
        op = "PNAConv"
        for name, value in (("aggregators", aggregators), ("scalers", scalers)):
            if not isinstance(value, list | tuple) or not value:
                raise ValueError(f"{op}: expected `{name}` to be a non-empty list of names "
                                 f"(got {value!r})")
        super().__init__(aggr=DegreeScalerAggregation(list(aggregators), list(scalers), deg,
                                                      train_norm), node_dim=0, **kwargs)
        in_channels = check_channels(op, "in_channels", in_channels)
        out_channels = check_channels(op, "out_channels", out_channels)
        check_int(op, "towers", towers, 1)
        check_int(op, "pre_layers", pre_layers, 1)
        check_int(op, "post_layers", post_layers, 1)
        if edge_dim is not None:
            edge_dim = check_channels(op, "edge_dim", edge_dim)
        if divide_input and in_channels % towers:
            raise ValueError(f"{op}: expected `in_channels` a multiple of `towers`={towers} "
                             f"with divide_input=True (got {in_channels})")
        if out_channels % towers:
            raise ValueError(f"{op}: expected `out_channels` a multiple of `towers`={towers} "
                             f"(got {out_channels})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.edge_dim, self.towers, self.divide_input = edge_dim, int(towers), bool(divide_input)
        self.F_in = in_channels // towers if divide_input else in_channels
        self.F_out = out_channels // towers
        if edge_dim is not None:
            self.edge_encoder = Linear(edge_dim, self.F_in)
        self.pre_nns, self.post_nns = ModuleList(), ModuleList()
        n_aggr = len(aggregators) * len(scalers) + 1
        for _ in range(towers):
            self.pre_nns.append(self._mlp((3 if edge_dim else 2) * self.F_in, self.F_in,
                                          pre_layers, act, act_kwargs))
            self.post_nns.append(self._mlp(n_aggr * self.F_in, self.F_out, post_layers, act,
                                           act_kwargs))
        self.lin = Linear(out_channels, out_channels)

    @staticmethod
    def _mlp(first_in: int, width: int, layers: int, act, act_kwargs) -> Sequential:
        modules = [Linear(first_in, width)]
        for _ in range(layers - 1):
            modules += [activation_resolver("PNAConv", act, act_kwargs), Linear(width, width)]
        return Sequential(*modules)

    def reset_parameters(self) -> None:
        """Redraw every Linear (PyG's ``reset``) and reset the degree normalisers."""
        self.aggr_module.reset_parameters()
        if self.edge_dim is not None:
            self.edge_encoder.reset_parameters()
        for mlp in (*self.pre_nns, *self.post_nns):
            reset_submodules(mlp)
        self.lin.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None) -> Tensor:
        op = "PNAConv"
        if isinstance(x, SparseTensor):
            x = x.to_dense()
        check_in_channels(op, "x", x, self.in_channels)
        if x.ndim != 2:
            raise ValueError(f"{op}: expected `x` of shape (N, {self.in_channels}) (got shape "
                             f"{tuple(x.shape)})")
        if edge_attr is None and self.edge_dim is not None:
            edge_attr = _stored_edge_attr(edge_index)
            if edge_attr is None:
                raise ValueError(f"{op}: expected `edge_attr` of shape (E, {self.edge_dim}): "
                                 f"the layer was built with edge_dim={self.edge_dim}")
        if edge_attr is not None:
            if self.edge_dim is None:
                raise ValueError(f"{op}: got `edge_attr` but the layer was built without "
                                 f"`edge_dim`; pass edge_dim={edge_attr.shape[-1]}")
            if edge_attr.ndim != 2 or edge_attr.shape[1] != self.edge_dim:
                raise ValueError(f"{op}: expected `edge_attr` of shape (E, {self.edge_dim}) "
                                 f"(got shape {tuple(edge_attr.shape)})")
        if self.divide_input:
            x = x.reshape(-1, self.towers, self.F_in)
        else:
            x = x.reshape(-1, 1, self.F_in).repeat(1, self.towers, 1)
        kw = {} if edge_attr is None else {"edge_attr": edge_attr}
        out = self.propagate(edge_index, x=x, **kw)
        out = ops.cat([x, out], dim=-1)
        out = ops.cat([mlp(out[:, i]) for i, mlp in enumerate(self.post_nns)], dim=1)
        return self.lin(out)

    def message(self, x_i: Tensor, x_j: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """``pre_nns[t]([x_i, x_j, edge_encoder(e_ji)])`` per tower: ``(E, towers, F_in)``."""
        if edge_attr is not None:
            e = self.edge_encoder(edge_attr).reshape(-1, 1, self.F_in)
            h = ops.cat([x_i, x_j, e.repeat(1, self.towers, 1)], dim=-1)
        else:
            h = ops.cat([x_i, x_j], dim=-1)
        return ops.stack([mlp(h[:, i]) for i, mlp in enumerate(self.pre_nns)], dim=1)

    @staticmethod
    def get_degree_histogram(loader) -> Tensor:
        """PyG's: the histogram of the in-degrees of every graph ``loader`` yields (a loader,
        a dataset or a list of graphs with ``edge_index`` and ``num_nodes``): entry k counts
        the nodes of in-degree k. Returns an int64 Tensor for ``PNAConv(deg=...)``."""
        hist = np.zeros(1, np.int64)
        for data in loader:
            ei = _host("PNAConv.get_degree_histogram", "edge_index", data.edge_index)
            n = int(data.num_nodes)
            if ei.ndim != 2 or ei.shape[0] != 2:
                raise ValueError(f"PNAConv.get_degree_histogram: expected `edge_index` of "
                                 f"shape (2, E) (got shape {ei.shape})")
            counts = np.bincount(np.bincount(ei[1].astype(np.int64), minlength=n)[:n]
                                 if n else np.zeros(0, np.int64))
            if counts.size > hist.size:
                counts[:hist.size] += hist
                hist = counts
            else:
                hist[:counts.size] += counts
        return tensor(hist, dtype="int64")

    def __repr__(self) -> str:
        return (f"PNAConv({self.in_channels}, {self.out_channels}, towers={self.towers}, "
                f"edge_dim={self.edge_dim})")


def _stored_edge_attr(edge_index):
    """A Graph's ``edge_attr``, or a SparseTensor's 2-D values (PyG's ``adj_t`` values)."""
    if isinstance(edge_index, Graph):
        return getattr(edge_index, "edge_attr", None)
    if isinstance(edge_index, SparseTensor) and edge_index.values.ndim == 2:
        return edge_index.values
    return None

