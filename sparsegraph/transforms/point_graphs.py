"""Graphs from point positions: the cKDTree core of PyG's ``knn`` / ``radius`` (torch_cluster)
and the transforms `KNNGraph` and `RadiusGraph`, which build ``edge_index`` from ``pos``.

`sparsegraph.gnn`'s ``knn``, ``knn_graph``, ``radius``, ``radius_graph`` (and
``DynamicEdgeConv``) call the array functions here; the transforms sit below gnn and may not
import it.

Batches: one ``scipy.spatial.cKDTree`` holds every graph, the graph id an extra coordinate
scaled past any distance inside a graph (``(span + r + 1) · batch``). Two points of one graph
differ by exactly 0 there, so their distances are exact, and a point of another graph is
farther than any in-graph point: neighbours never cross graphs, with no loop over graphs or
points. ``batch`` need not be sorted.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from sparsegraph import backend
from sparsegraph.tensor import Tensor, host_values
from sparsegraph.transforms.base import (
    BaseTransform,
    check_bool,
    check_int,
    check_str,
)

FLOWS = ("source_to_target", "target_to_source")


# ---- argument checks ----------------------------------------------------------------------------
def host_points(op: str, name: str, x) -> np.ndarray:
    """``x`` (a Tensor or array, ``(N, D)``, or ``(N,)`` read as ``(N, 1)`` as torch_cluster)
    as a finite float64 host array."""
    if x is None:
        raise TypeError(f"{op}: expected `{name}` as an (N, D) Tensor of point positions "
                        f"(got None)")
    a = host_values(x.detach() if isinstance(x, Tensor) else x, f"{op}: the points `{name}`")
    a = np.asarray(backend.to_device(a, "cpu") if hasattr(a, "dtype") else a)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{op}: expected numeric `{name}` (got dtype {a.dtype})")
    a = a.reshape(-1, 1) if a.ndim == 1 else a
    if a.ndim != 2:
        raise ValueError(f"{op}: expected `{name}` of shape (N, D) (got shape {a.shape})")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{op}: expected finite `{name}` (got NaN or inf)")
    return a


def host_batch(op: str, name: str, batch, n: int) -> np.ndarray:
    """``batch`` as a host int64 array of ``n`` graph ids >= 0 (zeros for None)."""
    if batch is None:
        return np.zeros(n, np.int64)
    b = host_values(batch, f"{op}: the graphs of `{name}`")
    b = np.asarray(backend.to_device(b, "cpu") if hasattr(b, "dtype") else b)
    if b.shape != (n,):
        raise ValueError(f"{op}: expected `{name}` with {n} graph ids, one per point (got "
                         f"shape {b.shape})")
    if n and b.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer graph ids in `{name}` (got {b.dtype})")
    b = b.astype(np.int64)
    if n and b.min() < 0:
        raise ValueError(f"{op}: expected graph ids >= 0 in `{name}` (got {int(b.min())})")
    return b


def check_radius(op: str, r) -> float:
    if isinstance(r, bool) or not isinstance(r, int | float | np.integer | np.floating):
        raise TypeError(f"{op}: expected `r` to be a number (got {type(r).__name__} {r!r})")
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"{op}: expected a finite `r` >= 0 (got {r})")
    return float(r)


def _normalized(a: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero): Euclidean order there is cosine
    order, ``|a - b|^2 = 2 - 2 cos(a, b)``."""
    norm = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.where(norm > 0, norm, 1.0)


def _lifted(x, y, bx, by, reach: float):
    """x and y with the graph id as an extra coordinate, scaled past every in-graph distance
    plus ``reach`` (the radius): neighbours of another graph are always farther."""
    both = np.concatenate([x, y]) if x.size + y.size else np.zeros((0, x.shape[1]))
    span = float(np.ptp(both, axis=0).sum()) if both.shape[0] else 0.0
    scale = 2.0 * span + reach + 1.0
    return (np.column_stack([x, bx * scale]), np.column_stack([y, by * scale]))


# ---- the pairs ----------------------------------------------------------------------------------
def knn_pairs(x, y, k: int, bx, by, cosine: bool = False, exclude_self: bool = False):
    """For every y point its ``k`` nearest x points of the same graph (fewer where the graph
    has fewer), nearest first: ``(y_idx, x_idx)`` int64, sorted by y. ``exclude_self`` (x is
    y): the point itself is skipped, even where a duplicate of it ties with it."""
    if cosine:
        x, y = _normalized(x), _normalized(y)
    want = k + 1 if exclude_self else k
    want = min(want, x.shape[0])
    if want == 0 or y.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lx, ly = _lifted(x, y, bx, by, 0.0)
    _, idx = cKDTree(lx).query(ly, k=want)
    idx = idx.reshape(y.shape[0], want)
    rows = np.broadcast_to(np.arange(y.shape[0])[:, None], idx.shape)
    keep = by[rows] == bx[idx]  # a graph smaller than k: the rest are other graphs' points
    if exclude_self:
        keep &= idx != rows
        # the point did not come back (a duplicate tied with it): drop the (k+1)-th instead
        over = keep.sum(axis=1) > k
        last = want - 1 - np.argmax(keep[:, ::-1], axis=1)
        keep[np.flatnonzero(over), last[over]] = False
    return rows[keep].astype(np.int64), idx[keep].astype(np.int64)


def radius_pairs(x, y, r: float, bx, by, max_num_neighbors: int, exclude_self: bool = False):
    """For every y point the x points of its graph at distance ``< r`` (torch_cluster's strict
    bound), at most ``max_num_neighbors``, the nearest kept, nearest first: ``(y_idx,
    x_idx)`` int64, sorted by y. ``exclude_self``: the point itself is skipped."""
    if x.shape[0] == 0 or y.shape[0] == 0 or max_num_neighbors == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lx, ly = _lifted(x, y, bx, by, r)
    found = cKDTree(ly).sparse_distance_matrix(cKDTree(lx), r, output_type="ndarray")
    row, col, dist = found["i"], found["j"], found["v"]
    keep = dist < r
    if exclude_self:
        keep &= row != col
    row, col, dist = row[keep], col[keep], dist[keep]
    order = np.lexsort((col, dist, row))
    row, col = row[order], col[order]
    starts = np.searchsorted(row, row, side="left")  # first entry of each y point's run
    keep = np.arange(row.size) - starts < max_num_neighbors
    return row[keep].astype(np.int64), col[keep].astype(np.int64)


def graph_edges(op, pairs_of, pos, batch, loop: bool, flow: str) -> np.ndarray:
    """The ``(2, E)`` edge_index of ``pairs_of(x, y, bx, by, exclude_self)`` on ``pos`` (PyG's
    ``knn_graph`` / ``radius_graph``): neighbour -> centre for ``"source_to_target"``."""
    x = host_points(op, "x", pos)
    b = host_batch(op, "batch", batch, x.shape[0])
    centre, neighbour = pairs_of(x, x, b, b, not loop)
    first, second = (neighbour, centre) if flow == "source_to_target" else (centre, neighbour)
    return np.stack([first, second]).astype(np.int64)


def knn_edges(op, pos, k, batch=None, loop=False, flow="source_to_target", cosine=False):
    k = check_int(op, "k", k, low=1)
    loop, cosine = check_bool(op, "loop", loop), check_bool(op, "cosine", cosine)
    flow = check_str(op, "flow", flow, FLOWS)
    return graph_edges(op, lambda x, y, bx, by, ex: knn_pairs(x, y, k, bx, by, cosine, ex),
                       pos, batch, loop, flow)


def radius_edges(op, pos, r, batch=None, loop=False, max_num_neighbors=32,
                 flow="source_to_target"):
    r = check_radius(op, r)
    cap = check_int(op, "max_num_neighbors", max_num_neighbors)
    loop, flow = check_bool(op, "loop", loop), check_str(op, "flow", flow, FLOWS)
    return graph_edges(op, lambda x, y, bx, by, ex: radius_pairs(x, y, r, bx, by, cap, ex),
                       pos, batch, loop, flow)


# ---- the transforms -----------------------------------------------------------------------------
def _with_point_edges(op: str, data, edges: np.ndarray):
    """``data`` with ``edges`` as its (unweighted) edges; ``edge_attr`` and every other
    per-edge field dropped, as PyG sets ``data.edge_attr = None``."""
    return data._with_edges(edges, None, **dict.fromkeys(data._edge_fields()))


def _pos(op: str, data):
    pos = getattr(data, "pos", None)
    if pos is None:
        raise ValueError(f"{op}: expected the graph to have node positions `pos` (got none)")
    rows = getattr(pos, "shape", (None,))[0]
    if rows != data.num_nodes:
        raise ValueError(f"{op}: expected `pos` with one row per node ({data.num_nodes}) "
                         f"(got shape {tuple(getattr(pos, 'shape', ()))})")
    return pos


class KNNGraph(BaseTransform):
    """Edges from each node to its ``k`` nearest neighbours by ``pos`` (PyG's ``KNNGraph``),
    within each graph of a batch (``data.batch``). The edges replace the graph's; they are
    unweighted and ``edge_attr`` (every per-edge field) is dropped, as in PyG.

    Args:
        k: neighbours per node. (default: 6)
        loop: include the node itself (as one of its k). (default: False)
        force_undirected: add every reverse edge (`Graph.to_undirected`). (default: False)
        flow: ``"source_to_target"`` (edges neighbour -> node) or ``"target_to_source"``.
        cosine: cosine distance instead of Euclidean. (default: False)
    """

    def __init__(self, k: int = 6, loop: bool = False, force_undirected: bool = False,
                 flow: str = "source_to_target", cosine: bool = False):
        self.k = check_int("KNNGraph", "k", k, low=1)
        self.loop = check_bool("KNNGraph", "loop", loop)
        self.force_undirected = check_bool("KNNGraph", "force_undirected", force_undirected)
        self.flow = check_str("KNNGraph", "flow", flow, FLOWS)
        self.cosine = check_bool("KNNGraph", "cosine", cosine)

    def forward(self, data):
        edges = knn_edges("KNNGraph", _pos("KNNGraph", data), self.k, data.batch,
                          self.loop, self.flow, self.cosine)
        out = _with_point_edges("KNNGraph", data, edges)
        return out.to_undirected() if self.force_undirected else out

    def __repr__(self) -> str:
        return f"KNNGraph(k={self.k})"


class RadiusGraph(BaseTransform):
    """Edges between nodes closer than ``r`` by ``pos`` (PyG's ``RadiusGraph``), within each
    graph of a batch; at most ``max_num_neighbors`` per node (the nearest). The edges replace
    the graph's, unweighted; ``edge_attr`` (every per-edge field) is dropped, as in PyG.

    Args:
        r: the distance (strict: ``|p_i - p_j| < r``, as torch_cluster).
        loop: include self loops. (default: False)
        max_num_neighbors: neighbours per node at most. (default: 32)
        flow: ``"source_to_target"`` or ``"target_to_source"``.
    """

    def __init__(self, r: float, loop: bool = False, max_num_neighbors: int = 32,
                 flow: str = "source_to_target"):
        self.r = check_radius("RadiusGraph", r)
        self.loop = check_bool("RadiusGraph", "loop", loop)
        self.max_num_neighbors = check_int("RadiusGraph", "max_num_neighbors",
                                           max_num_neighbors)
        self.flow = check_str("RadiusGraph", "flow", flow, FLOWS)

    def forward(self, data):
        edges = radius_edges("RadiusGraph", _pos("RadiusGraph", data), self.r, data.batch,
                             self.loop, self.max_num_neighbors, self.flow)
        return _with_point_edges("RadiusGraph", data, edges)

    def __repr__(self) -> str:
        return f"RadiusGraph(r={self.r})"

