"""MixHop (powers of the normalised adjacency, concatenated) and Cluster-GCN's layer."""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import zeros
from sparsegraph.gnn.inputs import as_adjacency, check_in_channels, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_float
from sparsegraph.nn import Identity, Linear, ModuleList, Parameter, init
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import wrap


def _check_powers(powers) -> list[int]:
    if powers is None:
        return [0, 1, 2]
    if (not isinstance(powers, list | tuple) or not powers or not all(
            isinstance(p, Integral) and not isinstance(p, bool) and p >= 0 for p in powers)):
        raise ValueError(f"MixHopConv: expected `powers` as a non-empty list of ints >= 0 "
                         f"(got {powers!r})")
    return [int(p) for p in powers]


class MixHopConv(MessagePassing):
    r"""The MixHop layer of Abu-El-Haija et al., "MixHop: Higher-Order Graph Convolutional
    Architectures via Sparsified Neighborhood Mixing" (ICML 2019):
    ``out = ||_{p in powers} Â^p x W_p + b``, ``Â = D^-1/2 (A + I) D^-1/2``.

    Args:
        in_channels, out_channels: feature sizes (positive ints; no lazy ``-1``).
        powers: the powers ``p`` of ``Â``, concatenated in this order. (default: [0, 1, 2])
        add_self_loops: add ``I`` before normalising. (default: True)
        bias: learn ``b`` of ``len(powers) * out_channels``. (default: True)

    As PyG's, ``lins`` holds one Linear (no bias) per power up to ``max(powers)``, an
    Identity for powers not listed, so state_dict keys are ``lins.{p}.weight`` and ``bias``.
    ``forward(x, edge_index, edge_weight=None)``: one spmm per hop.

    Shapes:
        x: ``(N, F_in)``; edge_index: ``(2, E)`` or ``(N, N)``; out:
        ``(N, len(powers) * F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, powers=None,
                 add_self_loops: bool = True, bias: bool = True):
        super().__init__(aggr="add")
        in_channels = check_channels("MixHopConv", "in_channels", in_channels)
        out_channels = check_channels("MixHopConv", "out_channels", out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.powers = _check_powers(powers)
        self.add_self_loops = add_self_loops
        self.lins = ModuleList([Linear(in_channels, out_channels, bias=False)
                                if p in self.powers else Identity()
                                for p in range(max(self.powers) + 1)])
        self.bias = Parameter(zeros(len(self.powers) * out_channels)) if bias else None

    def reset_parameters(self) -> None:
        for lin in self.lins:
            if hasattr(lin, "reset_parameters"):
                lin.reset_parameters()
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x, edge_index, edge_weight=None):
        weight = self.lins[self.powers[0]].weight
        check_in_channels("MixHopConv", "x", x, self.in_channels, weight)
        adj = ops.gcn_norm(weighted_adjacency(edge_index, x.shape[0], edge_weight,
                                              op="MixHopConv", dtype=x.dtype,
                                              device=x.device),
                           add_self_loops=self.add_self_loops)
        outs = [self.lins[0](x)]
        for lin in list(self.lins)[1:]:
            x = self.propagate(adj, x)
            outs.append(lin(x))
        out = ops.cat([outs[p] for p in self.powers], dim=-1)
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return f"MixHopConv({self.in_channels}, {self.out_channels}, powers={self.powers})"


def cluster_gcn_adjacency(adj: SparseTensor, diag_lambda: float, add_self_loops: bool,
                          dtype) -> SparseTensor:
    """``Â + λ diag(Â)``, ``Â = (D + I)^-1 (A + I)`` as PyG's ClusterGCNConv builds it from the
    structure of ``adj`` (its values are not read): with ``add_self_loops`` every self loop is
    replaced by one per node; each edge ``j -> i`` weighs ``1 / max(deg_in(i), 1)`` (counting
    duplicate edges), a self loop ``(1 + λ) / max(deg_in(i), 1)``."""
    s = adj.structure
    xp = backend.xp_of(s.indptr)
    rows, cols = s.rows(), s.indices
    n = adj.shape[0]
    if add_self_loops:
        keep = rows != cols
        loop = xp.arange(n, dtype=rows.dtype)
        ei = xp.stack([xp.concatenate([cols[keep], loop]), xp.concatenate([rows[keep], loop])])
        s = as_adjacency(ei, n, op="ClusterGCNConv").structure
        rows, cols = s.rows(), s.indices
    deg_inv = 1.0 / xp.maximum(xp.diff(s.indptr), 1).astype(dtype)
    w = deg_inv[rows]
    w = w + (rows == cols) * (diag_lambda * w)
    return SparseTensor(s, wrap(w.astype(dtype, copy=False)))


class ClusterGCNConv(MessagePassing):
    r"""The layer of Chiang et al., "Cluster-GCN: An Efficient Algorithm for Training Deep and
    Large Graph Convolutional Networks" (KDD 2019):
    ``out = (Â + λ diag(Â)) x W_out + x W_root + b``, ``Â = (D + I)^-1 (A + I)``.

    Args:
        in_channels, out_channels: feature sizes (positive ints).
        diag_lambda: diagonal enhancement ``λ``. (default: 0.0)
        add_self_loops: replace the self loops by one per node (PyG's remove + add).
            (default: True)
        bias: learn ``b`` (in ``lin_out``). (default: True)

    As PyG's: ``lin_out`` (with the bias) and ``lin_root`` (no bias) are Glorot-initialised
    Linears; edge weights come from the structure only (an edge_index's duplicate edges each
    count). ``forward(x, edge_index)``.

    Shapes:
        x: ``(N, F_in)``; edge_index: ``(2, E)`` or ``(N, N)``; out: ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, diag_lambda: float = 0.0,
                 add_self_loops: bool = True, bias: bool = True):
        super().__init__(aggr="add")
        in_channels = check_channels("ClusterGCNConv", "in_channels", in_channels)
        out_channels = check_channels("ClusterGCNConv", "out_channels", out_channels)
        check_float("ClusterGCNConv", "diag_lambda", diag_lambda)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.diag_lambda, self.add_self_loops = float(diag_lambda), add_self_loops
        self.lin_out = Linear(in_channels, out_channels, bias=bias)
        self.lin_root = Linear(in_channels, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.xavier_uniform_(self.lin_out.weight)  # PyG: weight_initializer='glorot'
        init.xavier_uniform_(self.lin_root.weight)
        if self.lin_out.bias is not None:  # PyG Linear's default bias init
            bound = 1.0 / math.sqrt(self.in_channels)
            init.uniform_(self.lin_out.bias, -bound, bound)

    def forward(self, x, edge_index):
        check_in_channels("ClusterGCNConv", "x", x, self.in_channels, self.lin_out.weight)
        adj = as_adjacency(edge_index, x.shape[0], op="ClusterGCNConv", device=x.device)
        adj = cluster_gcn_adjacency(adj, self.diag_lambda, self.add_self_loops,
                                    np.dtype(x.dtype))
        return self.lin_out(self.propagate(adj, x)) + self.lin_root(x)

    def __repr__(self) -> str:
        return (f"ClusterGCNConv({self.in_channels}, {self.out_channels}, "
                f"diag_lambda={self.diag_lambda})")
