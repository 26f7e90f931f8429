"""GNN-FiLM: relation-wise messages modulated by the target's features."""

from __future__ import annotations

import copy

import numpy as np

from sparsegraph.gnn.inputs import check_in_channels, split_features
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.rgcn import relation_adjacencies, typed_edges
from sparsegraph.gnn.utils import check_channels, check_int, reset_submodules
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear, Module, ModuleList, ReLU
from sparsegraph.sparse import SparseTensor


def _reset(module) -> None:
    """PyG's ``reset``: the module's own reset_parameters, else its children's."""
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
    elif isinstance(module, Module):
        reset_submodules(module)


class FiLMConv(MessagePassing):
    r"""The FiLM layer of Brockschmidt, "GNN-FiLM: Graph Neural Networks with Feature-wise
    Linear Modulation" (ICML 2020): ``out_i = act(γ_i ⊙ W_skip x_i + β_i) +
    Σ_r aggr_{j ∈ N_r(i)} act(γ_{r,i} ⊙ W_r x_j + β_{r,i})``, ``(β_{r,i}, γ_{r,i}) =
    g_r(x_i)`` (a Linear by default; the skip term's ``g`` has no bias).

    Args:
        in_channels: ``F_in``, or ``(F_src, F_dst)``.
        out_channels: ``F_out``.
        num_relations: the number of relations ``R`` (with 1, ``edge_type`` is not read).
            (default: 1)
        nn: ``g``, mapping ``(N, F_dst)`` to ``(N, 2 * F_out)`` (``β`` first, then ``γ``);
            deep-copied per relation and for the skip term. (default: None, a Linear)
        act: activation (a callable or None). (default: ReLU())
        aggr: the aggregation over a relation's messages. (default: "mean")

    State_dict keys as PyG's: ``lins.{r}.weight``, ``films.{r}.*``, ``lin_skip.weight``,
    ``film_skip.*``. ``forward(x, edge_index, edge_type=None)``: ``edge_type`` ``(E,)`` ints
    in ``[0, R)`` in the order of the edges (a SparseTensor's values, a Graph's
    ``edge_type`` serve when None). The messages are ``(E_r, F_out)`` per relation, as in
    PyG (the activation acts per edge); edge weights are not read.

    Shapes:
        x: ``(N, F_in)`` or a pair; out: ``(N_dst, F_out)``.
    """

    def __init__(self, in_channels, out_channels: int, num_relations: int = 1, nn=None,
                 act=ReLU(), aggr: str = "mean"):  # noqa: B008 (PyG's)
        super().__init__(aggr=aggr)
        op = "FiLMConv"
        in_channels = check_channels(op, "in_channels", in_channels, pair=True)
        out_channels = check_channels(op, "out_channels", out_channels)
        check_int(op, "num_relations", num_relations, 1)
        if nn is not None and not callable(nn):
            raise TypeError(f"{op}: expected `nn` to be a callable Module or None (got "
                            f"{type(nn).__name__})")
        if act is not None and not callable(act):
            raise TypeError(f"{op}: expected `act` to be callable or None (got "
                            f"{type(act).__name__})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.act = num_relations, act
        f_src, f_dst = in_channels if isinstance(in_channels, tuple) else (in_channels,) * 2
        self.f_src, self.f_dst = f_src, f_dst
        self.lins = ModuleList([Linear(f_src, out_channels, bias=False)
                                for _ in range(num_relations)])
        self.films = ModuleList([Linear(f_dst, 2 * out_channels) if nn is None
                                 else copy.deepcopy(nn) for _ in range(num_relations)])
        self.lin_skip = Linear(f_dst, out_channels, bias=False)
        self.film_skip = (Linear(f_dst, 2 * out_channels, bias=False) if nn is None
                          else copy.deepcopy(nn))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin, film in zip(self.lins, self.films, strict=True):
            lin.reset_parameters()
            _reset(film)
        self.lin_skip.reset_parameters()
        _reset(self.film_skip)

    def _film(self, g, x_dst):
        bg = g(x_dst)
        if bg.ndim != 2 or bg.shape[-1] != 2 * self.out_channels:
            raise ValueError(f"FiLMConv: expected `nn` to map x_dst to (N, "
                             f"{2 * self.out_channels}), 2 * out_channels (got shape "
                             f"{tuple(bg.shape)})")
        return bg.split(self.out_channels, dim=-1)

    def forward(self, x, edge_index, edge_type=None):
        op = "FiLMConv"
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x) if is_pair else (x, x)
        check_in_channels(op, "x_src" if is_pair else "x", x_src, self.f_src,
                          self.lin_skip.weight)
        check_in_channels(op, "x_dst" if is_pair else "x", x_dst, self.f_dst,
                          self.lin_skip.weight)
        beta, gamma = self._film(self.film_skip, x_dst)
        out = gamma * self.lin_skip(x_dst) + beta
        if self.act is not None:
            out = self.act(out)
        n_src, n_dst = x_src.shape[0], x_dst.shape[0]
        if self.num_relations == 1:  # PyG reads no edge types then
            ei, et = _single_relation(op, edge_index)
        else:
            ei, et = typed_edges(op, edge_index, edge_type, self.num_relations)
        adjs = relation_adjacencies(op, ei, et, self.num_relations, n_src, n_dst,
                                    dtype=x_src.dtype, device=x_src.device,
                                    x_is_pair=is_pair or n_src != n_dst)
        for lin, film, adj in zip(self.lins, self.films, adjs, strict=True):
            if adj is None:
                continue
            beta, gamma = self._film(film, x_dst)
            out = out + self.propagate(adj, lin(x_src), beta=beta, gamma=gamma,
                                       size=(n_src, n_dst))
        return out

    def message(self, x_j, beta_i, gamma_i):
        out = gamma_i * x_j + beta_i
        return out if self.act is None else self.act(out)

    def __repr__(self) -> str:
        return (f"FiLMConv({self.in_channels}, {self.out_channels}, "
                f"num_relations={self.num_relations})")


def _single_relation(op: str, edge_index):
    """All edges in relation 0 (``num_relations=1``: any edge types are ignored)."""
    if isinstance(edge_index, Graph):
        edge_index = edge_index.edge_index
    if isinstance(edge_index, SparseTensor):
        n = edge_index.nnz
    else:
        shape = edge_index.shape if hasattr(edge_index, "shape") else np.shape(edge_index)
        n = shape[1] if len(shape) == 2 else 0
    return typed_edges(op, edge_index, np.zeros(n, np.int64), 1)
