"""Relational graph convolution (R-GCN), and the per-relation split of typed edges."""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import empty, zeros
from sparsegraph.gnn.arma import glorot_
from sparsegraph.gnn.inputs import as_adjacency, check_in_channels, split_features
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_int
from sparsegraph.graph import Graph
from sparsegraph.nn import Parameter, init
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, host_values


def _host(op: str, name: str, a) -> np.ndarray:
    arr = host_values(a, f"{op}: the per-relation adjacencies built from `{name}`")
    try:
        return np.asarray(backend.to_device(arr, "cpu") if hasattr(arr, "dtype") else arr)
    except ValueError:
        raise ValueError(f"{op}: expected `{name}` as an integer array (got a ragged "
                         f"{type(a).__name__})") from None


def typed_edges(op: str, edge_index, edge_type, num_relations: int):
    """``(2, E)`` edges and ``(E,)`` relation ids (host int64) in the caller's edge order.

    A SparseTensor's stored entries are its edges and, without ``edge_type``, its values
    their relations (PyG's ``adj_t.storage.value()``); a Graph gives ``edge_index`` and,
    without ``edge_type``, its ``edge_type`` attribute.

    Raises:
        ValueError: no relation ids, not one per edge, or one outside ``[0, num_relations)``.
        TypeError: relation ids that are not integers.
    """
    if isinstance(edge_index, Graph):
        if edge_type is None:
            edge_type = getattr(edge_index, "edge_type", None)
        edge_index = edge_index.edge_index
    if isinstance(edge_index, SparseTensor):
        s = edge_index.structure
        ei = np.stack([_host(op, "edge_index", s.cols()), _host(op, "edge_index", s.rows())])
        if edge_type is None:
            edge_type = edge_index.values
    elif isinstance(edge_index, Tensor | np.ndarray | list | tuple) or hasattr(
            edge_index, "__cuda_array_interface__"):
        ei = _host(op, "edge_index", edge_index)
        if ei.ndim != 2 or ei.shape[0] != 2 or ei.dtype.kind not in "iu":
            raise ValueError(f"{op}: expected `edge_index` as a SparseTensor or an integer "
                             f"edge_index of shape (2, E) (got {ei.dtype} array of shape "
                             f"{ei.shape})")
    else:
        raise TypeError(f"{op}: expected `edge_index` as a SparseTensor, Graph or edge_index "
                        f"(got {type(edge_index).__name__})")
    num_edges = ei.shape[1]
    if edge_type is None:
        raise ValueError(f"{op}: expected `edge_type` ({num_edges},), the relation of every "
                         f"edge (got None)")
    et = _host(op, "edge_type", edge_type)
    if et.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer `edge_type` (got dtype {et.dtype}); convert "
                        f"with edge_type.long()")
    if et.shape != (num_edges,):
        raise ValueError(f"{op}: expected `edge_type` of shape ({num_edges},), one relation "
                         f"per edge (got shape {et.shape})")
    if num_edges and (et.min() < 0 or et.max() >= num_relations):
        bad = et.min() if et.min() < 0 else et.max()
        raise ValueError(f"{op}: expected `edge_type` entries in [0, {num_relations}) to "
                         f"match num_relations={num_relations} (got {bad})")
    return ei.astype(np.int64, copy=False), et.astype(np.int64, copy=False)


def relation_adjacencies(op: str, ei: np.ndarray, et: np.ndarray, num_relations: int,
                         n_src: int, n_dst: int, *, dtype, device, x_is_pair: bool):
    """One unweighted ``(N_dst, N_src)`` CSR per relation (None for a relation without
    edges): the edges sorted by relation once, then sliced."""
    order = np.argsort(et, kind="stable")
    ends = np.cumsum(np.bincount(et, minlength=num_relations))
    adjs, start = [], 0
    for end in ends.tolist():
        sub = ei[:, order[start:end]]
        adjs.append(None if end == start else as_adjacency(
            sub, n_src, n_dst, op=op, dtype=dtype, device=device, x_is_pair=x_is_pair))
        start = end
    return adjs


def _is_index(x) -> bool:
    return x is not None and np.dtype(x.dtype).kind in "iu"


def _node_index(op: str, name: str, x, n: int) -> np.ndarray:
    """Featureless nodes (PyG): ``x`` a 1-D index into the ``n`` rows of the weights."""
    idx = _host(op, name, x)
    if idx.ndim != 1:
        raise ValueError(f"{op}: expected an index `{name}` of shape (num_nodes,) for "
                         f"featureless nodes (got shape {idx.shape})")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{op}: expected index `{name}` entries in [0, {n}) to match "
                         f"in_channels={n} (got {idx.min() if idx.min() < 0 else idx.max()})")
    return idx.astype(np.int64, copy=False)


class RGCNConv(MessagePassing):
    r"""The relational graph convolution of Schlichtkrull et al., "Modeling Relational Data
    with Graph Convolutional Networks" (ESWC 2018):
    ``out_i = Θ_root x_i + Σ_r aggr_{j ∈ N_r(i)} Θ_r x_j + b`` (mean by default).

    Args:
        in_channels: ``F_in``, or ``(F_src, F_dst)``; for featureless nodes the number of
            nodes (``x`` None or an index tensor selects rows of the weights).
        out_channels: ``F_out``.
        num_relations: the number of relations ``R``.
        num_bases: basis decomposition ``Θ_r = Σ_b comp[r, b] V_b``. (default: None)
        num_blocks: block-diagonal ``Θ_r`` of ``num_blocks`` blocks. (default: None)
        aggr: ``"mean"``, ``"add"``/``"sum"``, ``"max"``, ... per relation. (default: "mean")
        root_weight: add ``Θ_root x_i``. (default: True)
        is_sorted: PyG's hint that edges are sorted by type (accepted; not needed).
        bias: learn ``b``. (default: True)

    Parameters as PyG's: ``weight`` ``(R, F_in, F_out)`` (``(B, F_in, F_out)`` with bases,
    ``(R, nb, F_in / nb, F_out / nb)`` with blocks), ``comp`` ``(R, B)``, ``root``
    ``(F_dst, F_out)``, ``bias``.

    ``forward(x, edge_index, edge_type=None)`` as PyG's: ``edge_type`` ``(E,)`` ints in
    ``[0, R)`` in the order of the edges; a SparseTensor's values (a Graph's ``edge_type``)
    serve when it is None. Edge weights are not read. One spmm per relation with edges.

    Shapes:
        x: ``(N, F_in)``, ``(N,)`` indices, None, or a pair; out: ``(N_dst, F_out)``.
    """

    def __init__(self, in_channels, out_channels: int, num_relations: int,
                 num_bases: int | None = None, num_blocks: int | None = None,
                 aggr: str = "mean", root_weight: bool = True, is_sorted: bool = False,
                 bias: bool = True):
        super().__init__(aggr=aggr)
        op = "RGCNConv"
        if num_bases is not None and num_blocks is not None:
            raise ValueError(f"{op}: can not apply both basis-decomposition and "
                             f"block-diagonal-decomposition at the same time (got num_bases="
                             f"{num_bases}, num_blocks={num_blocks})")
        in_channels = check_channels(op, "in_channels", in_channels, pair=True)
        out_channels = check_channels(op, "out_channels", out_channels)
        check_int(op, "num_relations", num_relations, 1)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.num_bases, self.num_blocks = num_relations, num_bases, num_blocks
        self.is_sorted = is_sorted
        f_src, f_dst = in_channels if isinstance(in_channels, tuple) else (in_channels,) * 2
        self.in_channels_l = f_src
        if num_bases is not None:
            check_int(op, "num_bases", num_bases, 1)
            self.weight = Parameter(empty(num_bases, f_src, out_channels))
            self.comp = Parameter(empty(num_relations, num_bases))
        elif num_blocks is not None:
            check_int(op, "num_blocks", num_blocks, 1)
            if f_src % num_blocks or out_channels % num_blocks:
                raise ValueError(f"{op}: expected `num_blocks` to divide in_channels={f_src} "
                                 f"and out_channels={out_channels} (got {num_blocks})")
            self.weight = Parameter(empty(num_relations, num_blocks, f_src // num_blocks,
                                          out_channels // num_blocks))
            self.comp = None
        else:
            self.weight = Parameter(empty(num_relations, f_src, out_channels))
            self.comp = None
        self.root = Parameter(empty(f_dst, out_channels)) if root_weight else None
        self.bias = Parameter(empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot_(self.weight)
        glorot_(self.comp)
        glorot_(self.root)
        if self.bias is not None:
            init.zeros_(self.bias)

    def relation_weights(self):
        """``(R, F_in, F_out)`` (or the blocks) after the basis decomposition."""
        if self.num_bases is None:
            return self.weight
        w = self.comp @ self.weight.reshape((self.num_bases, -1))
        return w.reshape((self.num_relations, self.in_channels_l, self.out_channels))

    def forward(self, x, edge_index, edge_type=None):
        op = "RGCNConv"
        is_pair = isinstance(x, tuple | list)
        x_l, x_r = split_features(x) if is_pair else (x, x)
        if x_l is None:
            x_l = np.arange(self.in_channels_l)
        if x_r is None:
            x_r = x_l
        weight = self.relation_weights()
        index_l = _is_index(x_l)
        if index_l:
            x_l = _node_index(op, "x_src" if is_pair else "x", x_l, self.in_channels_l)
        else:
            check_in_channels(op, "x_src" if is_pair else "x", x_l, self.in_channels_l,
                              self.weight)
        if not _is_index(x_r) and self.root is not None:
            check_in_channels(op, "x_dst" if is_pair else "x", x_r, self.root.shape[0],
                              self.root)
        if self.num_blocks is not None and (index_l or _is_index(x_r)):
            raise ValueError(f"{op}: block-diagonal decomposition not supported for "
                             f"featureless (index) `x`: pass node features")
        n_src, n_dst = x_l.shape[0], x_r.shape[0]
        ei, et = typed_edges(op, edge_index, edge_type, self.num_relations)
        adjs = relation_adjacencies(op, ei, et, self.num_relations, n_src, n_dst,
                                    dtype=self.weight.dtype, device=self.weight.device,
                                    x_is_pair=is_pair or n_src != n_dst)
        out = zeros(n_dst, self.out_channels, dtype=self.weight.dtype,
                    device=self.weight.device)
        size = (n_src, n_dst)
        for r, adj in enumerate(adjs):
            if adj is None:  # no edges: PyG's empty aggregation adds 0
                continue
            if index_l:
                h = self.propagate(adj, ops.gather_rows(weight[r], x_l), size=size)
            elif self.num_blocks is not None:
                h = self.propagate(adj, x_l, size=size)
                nb, fi, fo = weight.shape[1:]
                h = ops.einsum("abc,bcd->abd", h.reshape((n_dst, nb, fi)), weight[r])
                h = h.reshape((n_dst, self.out_channels))
            else:
                h = self.propagate(adj, x_l, size=size) @ weight[r]
            out = out + h
        if self.root is not None:
            if _is_index(x_r):
                out = out + ops.gather_rows(self.root, _node_index(
                    op, "x_dst" if is_pair else "x", x_r, self.root.shape[0]))
            else:
                out = out + x_r @ self.root
        return out if self.bias is None else out + self.bias

    def __repr__(self) -> str:
        return (f"RGCNConv({self.in_channels}, {self.out_channels}, "
                f"num_relations={self.num_relations})")

