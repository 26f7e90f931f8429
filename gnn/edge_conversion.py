"""Conversions in PyG's functional form (``torch_geometric.utils``): `to_edge_index` (from a
SparseTensor), `to_scipy_sparse_matrix` / `from_scipy_sparse_matrix`, and `unbatch` /
`unbatch_edge_index` (a mini-batch back into its graphs)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import as_array
from sparsegraph.gnn.edge_args import (
    check_sorted_batch,
    count,
    edge_index_array,
    edge_values,
    host_array,
    node_count,
    out,
)
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, host_values, wrap

__all__ = ["from_scipy_sparse_matrix", "to_edge_index", "to_scipy_sparse_matrix", "unbatch",
           "unbatch_edge_index"]


def to_edge_index(adj: SparseTensor):
    """PyG's ``to_edge_index``: ``(edge_index, values)`` of a SparseTensor's stored entries,
    ``edge_index[:, e] = (row, col)`` of entry ``e`` (int64, in storage order: row-major for
    CSR) and ``values`` the differentiable ``(nnz, ...)`` Tensor itself.

    The rows and columns are the matrix's own, as PyG reads ``adj.indices()``: for
    sparsegraph's target-major adjacency (`sparsegraph.from_edge_index`, ``Graph.adj``, PyG's
    ``adj_t``) row 0 holds the targets; ``to_edge_index(adj.t())`` or ``.flip(0)`` gives
    PyG's source-major ``edge_index``.
    """
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"to_edge_index: expected `adj` to be a SparseTensor (got "
                        f"{type(adj).__name__})")
    s = adj.structure
    xp = backend.xp_of(s.rows())
    ei = xp.stack([s.rows(), s.cols()]).astype(np.int64)
    return wrap(ei), adj.values


def to_scipy_sparse_matrix(edge_index, edge_attr=None, num_nodes: int | None = None):
    """PyG's ``to_scipy_sparse_matrix``: the ``(N, N)`` ``scipy.sparse.coo_matrix`` with
    entry ``(row, col)`` = the edge's value (default ones, float32), duplicates kept as
    scipy's COO keeps them (summed by ``tocsr()``). ``edge_attr`` holds one value per edge
    (any shape of ``E`` elements, as PyG's ``view(-1)``); it is read, not differentiated."""
    op = "to_scipy_sparse_matrix"
    ei, _ = edge_index_array(op, edge_index)
    n = node_count(op, ei, num_nodes)
    if edge_attr is None:
        data = np.ones(ei.shape[1], np.float32)
    else:
        a = edge_attr if isinstance(edge_attr, Tensor) else edge_values(
            op, "edge_attr", edge_attr, ei.shape[1])
        data = np.asarray(backend.to_device(host_values(a, f"{op}: `edge_attr`"), "cpu"))
        data = data.reshape(-1)
        if data.size != ei.shape[1]:
            raise ValueError(f"{op}: expected `edge_attr` with one value per edge "
                             f"({ei.shape[1]}) (got shape {tuple(a.shape)})")
    return sp.coo_matrix((data, (ei[0], ei[1])), shape=(n, n))


def from_scipy_sparse_matrix(A):
    """PyG's ``from_scipy_sparse_matrix``: ``(edge_index, edge_weight)`` of any scipy sparse
    matrix, from its COO form (``edge_index`` int64 ``(row, col)``, ``edge_weight`` the
    stored values in their dtype, float64 for scipy's default)."""
    if not sp.issparse(A):
        raise TypeError(f"from_scipy_sparse_matrix: expected a scipy.sparse matrix or array "
                        f"(got {type(A).__name__})")
    coo = A.tocoo()
    ei = np.stack([coo.row, coo.col]).astype(np.int64)
    return out(ei, "cpu"), wrap(as_array(np.array(coo.data)))


def _graph_sizes(op: str, batch, batch_size):
    """``(batch, sizes)``: a sorted batch vector and its ``(B,)`` node counts."""
    b, _ = host_array(op, "batch", batch)
    if b.ndim != 1:
        raise ValueError(f"{op}: expected a 1-D `batch` (got shape {b.shape})")
    b = b.astype(np.int64)
    if b.size and int(b.min()) < 0:
        raise ValueError(f"{op}: expected non-negative graph ids in `batch` (got "
                         f"{int(b.min())})")
    check_sorted_batch(op, b)
    size = count(op, "batch_size", batch_size, 0)
    top = int(b[-1]) + 1 if b.size else 0
    if size is not None and top > size:
        raise ValueError(f"{op}: expected `batch` values below batch_size={size} (got "
                         f"{top - 1})")
    return b, np.bincount(b, minlength=top if size is None else size)


def unbatch(src: Tensor, batch, dim: int = 0, batch_size: int | None = None) -> list:
    """PyG's ``unbatch``: ``src`` split along ``dim`` into one Tensor per graph of the sorted
    ``batch`` vector (``batch_size`` of them, default ``max + 1``; an empty graph gives an
    empty Tensor). The parts are views, differentiable in ``src``."""
    op = "unbatch"
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}: expected `src` to be a Tensor (got {type(src).__name__})")
    if src.ndim == 0:
        raise ValueError(f"{op}: expected `src` with at least 1 dim (got a 0-d tensor)")
    if isinstance(dim, bool) or not isinstance(dim, int) or not -src.ndim <= dim < src.ndim:
        raise ValueError(f"{op}: expected `dim` in [{-src.ndim}, {src.ndim - 1}] (got "
                         f"{dim!r})")
    b, sizes = _graph_sizes(op, batch, batch_size)
    if b.size != src.shape[dim]:
        raise ValueError(f"{op}: expected `batch` with one entry per element of `src` along "
                         f"dim {dim} ({src.shape[dim]}) (got {b.size})")
    return list(ops.split(src, [int(s) for s in sizes], dim))


def unbatch_edge_index(edge_index, batch, batch_size: int | None = None) -> list:
    """PyG's ``unbatch_edge_index``: the ``edge_index`` of a batch split into one per graph,
    each renumbered from 0 (its node ids minus the graph's first). As PyG requires, the
    edges come grouped by graph, in graph order; the index dtype is kept."""
    op = "unbatch_edge_index"
    ei, device = edge_index_array(op, edge_index)
    b, sizes = _graph_sizes(op, batch, batch_size)
    node_count(op, ei, b.size, "len(batch)")
    ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    src_graph, dst_graph = b[ei[0]], b[ei[1]]
    across = np.flatnonzero(src_graph != dst_graph)
    if across.size:
        e = int(across[0])
        raise ValueError(f"{op}: expected every edge inside one graph (got edge {e}, "
                         f"{int(ei[0, e])} -> {int(ei[1, e])}, from graph "
                         f"{int(src_graph[e])} to graph {int(dst_graph[e])})")
    down = np.flatnonzero(src_graph[1:] < src_graph[:-1])
    if down.size:
        raise ValueError(f"{op}: expected the edges grouped by graph, in graph order (edge "
                         f"{int(down[0]) + 1} of graph {int(src_graph[down[0] + 1])} follows "
                         f"one of graph {int(src_graph[down[0]])})")
    local = (ei - ptr[src_graph]).astype(ei.dtype)
    bounds = np.searchsorted(src_graph, np.arange(sizes.size + 1))
    return [out(local[:, bounds[g]:bounds[g + 1]], device) for g in range(sizes.size)]
