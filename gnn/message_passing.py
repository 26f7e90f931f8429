"""`MessagePassing`: message / aggregate / update, with a fused spmm path.

``propagate(adj, x)`` computes, for every target node i,
``update(aggregate({message(x_j, w_ij) for every edge j -> i}))``. When the message is the
default (a source feature scaled by the edge weight) and the aggregation is sum or mean, the
layer takes the fused path: one spmm over the adjacency, never an E x F message tensor
(PyG's ``message_and_aggregate``). Otherwise it gathers source rows, calls ``message`` and
reduces each target's in-edges with the segment kernels (edges are stored sorted by target).
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.graph import Graph
from sparsegraph.nn import Module
from sparsegraph.sparse import SparseTensor, from_edge_index
from sparsegraph.tensor import Tensor, wrap

AGGRS = ("sum", "mean", "max", "min")


def as_adjacency(adj, num_src: int, num_dst: int | None = None, *,
                 op: str = "propagate", dtype=None) -> SparseTensor:
    """Accept a SparseTensor (target-major), a Graph or an edge_index; return CSR.

    Args:
        adj: ``(N_dst, N_src)`` SparseTensor, a `Graph`, or a ``(2, E)`` edge_index
            (row 0 = source, row 1 = target).
        num_src: number of source nodes (rows of the features being propagated).
        num_dst: number of target nodes (default: ``num_src``).
        dtype: cast constant edge weights to this dtype (the features'), e.g. float64.
    """
    num_dst = num_src if num_dst is None else num_dst
    if isinstance(adj, Graph):
        adj = adj.adj
    if isinstance(adj, SparseTensor):
        if adj.layout != "csr":
            adj = adj.to_csr()
    elif isinstance(adj, Tensor | np.ndarray | list | tuple):
        ei = adj.array if isinstance(adj, Tensor) else np.asarray(adj)
        if ei.ndim != 2 or ei.shape[0] != 2 or ei.dtype.kind not in "iu":
            raise ValueError(f"{op}: expected `adj` as a SparseTensor or an integer edge_index "
                             f"of shape (2, E) (got {ei.dtype} array of shape {ei.shape})")
        if num_src != num_dst:
            raise ValueError(f"{op}: a bipartite propagation needs a SparseTensor `adj` of "
                             f"shape ({num_dst}, {num_src})")
        if ei.size and int(ei.max()) >= num_src:
            raise ValueError(f"{op}: expected `edge_index` entries in [0, {num_src}) to match "
                             f"`x` with {num_src} rows (got {int(ei.max())})")
        adj = from_edge_index(ei, num_src)
    else:
        raise TypeError(f"{op}: expected `adj` as a SparseTensor, Graph or edge_index "
                        f"(got {type(adj).__name__})")
    if adj.shape[:2] != (num_dst, num_src):
        raise ValueError(f"{op}: expected `x` with {adj.shape[1]} rows to match `adj` of shape "
                         f"{adj.shape[:2]} (got {num_src})")
    if dtype is not None and adj.dtype != dtype and not adj.requires_grad:
        adj = adj.with_values(adj.values.to(dtype))
    return adj


def split_features(x):
    """``x`` or ``(x_src, x_dst)`` (bipartite blocks from neighbour sampling) -> both parts."""
    if isinstance(x, tuple | list):
        if len(x) != 2:
            raise ValueError(f"expected `x` or a pair (x_src, x_dst) (got {len(x)} tensors)")
        return x[0], x[1]
    return x, x


class MessagePassing(Module):
    """Base class of message-passing layers.

    Args:
        aggr: ``"sum"`` (alias ``"add"``), ``"mean"``, ``"max"``, ``"min"``, or a list of them
            (results concatenated on the feature axis; sum and mean share one pass).

    Subclasses implement ``forward`` and call ``propagate``; they may override ``message``
    (per edge, explicit path), ``aggregate`` and ``update``.
    """

    def __init__(self, aggr="sum"):
        super().__init__()
        aggrs = [aggr] if isinstance(aggr, str) else list(aggr)
        aggrs = ["sum" if a == "add" else a for a in aggrs]
        for a in aggrs:
            if a not in AGGRS:
                raise ValueError(f"{type(self).__name__}: expected `aggr` in {AGGRS} "
                                 f"(got {a!r})")
        if not aggrs:
            raise ValueError(f"{type(self).__name__}: expected at least one aggregation")
        self.aggrs = aggrs
        self.aggr = aggr

    # ---- the three hooks -------------------------------------------------------------------
    def message(self, x_src: Tensor, edge_weight: Tensor | None, **kwargs) -> Tensor:
        """Per-edge message (E, ...): the source features scaled by the edge weight."""
        if edge_weight is None:
            return x_src
        w = edge_weight.reshape(edge_weight.shape + (1,) * (x_src.ndim - edge_weight.ndim))
        return x_src * w

    def aggregate(self, messages: Tensor, adj: SparseTensor) -> Tensor:
        """Reduce each target's in-edge messages (edges are contiguous per target in CSR)."""
        indptr = adj.structure.indptr
        outs, total = [], None
        for a in self.aggrs:
            if a in ("sum", "mean"):
                if total is None:
                    total = ops.segment(messages, indptr, "sum")
                outs.append(total if a == "sum" else total * self._inv_degree(adj, total))
            else:
                outs.append(ops.segment(messages, indptr, a))
        return outs[0] if len(outs) == 1 else ops.cat(outs, dim=-1)

    def update(self, aggregated: Tensor, x_dst: Tensor | None = None) -> Tensor:
        return aggregated

    # ---- the driver --------------------------------------------------------------------------
    def _inv_degree(self, adj: SparseTensor, like: Tensor) -> Tensor:
        """``1 / max(in-degree, 1)`` shaped to broadcast over ``like``; cached per structure."""
        s = adj.structure

        def build():
            deg = s.degree(1)  # numpy or cupy, like the structure
            xp = backend.xp_of(deg)
            return (1.0 / xp.maximum(deg, 1)).astype(like.dtype)

        inv = s._cached(("inv_degree", like.dtype.str), build)
        return wrap(inv.reshape((-1,) + (1,) * (like.ndim - 1)))

    def uses_fused_path(self) -> bool:
        return (type(self).message is MessagePassing.message
                and set(self.aggrs) <= {"sum", "mean"})

    def propagate(self, adj, x, edge_weight: Tensor | None = None, **kwargs) -> Tensor:
        """Aggregate messages along the edges of ``adj`` into its target nodes.

        Args:
            adj: ``(N_dst, N_src)`` adjacency (SparseTensor, Graph or edge_index).
            x: source features ``(N_src, ...)`` or a pair ``(x_src, x_dst)``.
            edge_weight: per-edge weights ``(E,)`` in CSR order overriding ``adj``'s values.
            **kwargs: passed to ``message`` unchanged (per-edge tensors in CSR order).

        Returns:
            ``(N_dst, ...)`` aggregated features after ``update``.
        """
        x_src, x_dst = split_features(x)
        n_dst = x_dst.shape[0] if x_dst is not None else None
        adj = as_adjacency(adj, x_src.shape[0], n_dst, op=type(self).__name__, dtype=x_src.dtype)
        if edge_weight is not None:
            adj = adj.with_values(edge_weight)
        if self.uses_fused_path() and not kwargs:
            out = self.message_and_aggregate(adj, x_src)
        else:
            x_j = ops.gather_rows(x_src, adj.structure.indices)
            out = self.aggregate(self.message(x_j, adj.values, **kwargs), adj)
        return self.update(out, x_dst)

    def message_and_aggregate(self, adj: SparseTensor, x: Tensor) -> Tensor:
        """The fused path: one spmm per distinct aggregation (mean = sum / in-degree)."""
        total = ops.spmm(adj, x)
        outs = [total if a == "sum" else total * self._inv_degree(adj, total)
                for a in self.aggrs]
        return outs[0] if len(outs) == 1 else ops.cat(outs, dim=-1)

    def extra_repr(self) -> str:
        return ""
