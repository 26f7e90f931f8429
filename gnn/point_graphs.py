"""Point-cloud graphs, PyG's ``knn``, ``knn_graph``, ``radius`` and ``radius_graph``
(torch_cluster's), on ``scipy.spatial.cKDTree``.

Every function returns an int64 ``(2, M)`` Tensor on the device of ``x``. Within a batch,
neighbours come only from the same graph (the graph id is an extra, widely scaled
coordinate of one tree: sparsegraph.transforms.point_graphs); ``batch`` need not be sorted.
Positions are read on the host (no gradient flows through the choice of neighbours).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.tensor import Tensor, wrap
from sparsegraph.transforms.base import check_bool, check_int
from sparsegraph.transforms.point_graphs import (
    check_radius,
    host_batch,
    host_points,
    knn_edges,
    knn_pairs,
    radius_edges,
    radius_pairs,
)


def _out(pairs, like) -> Tensor:
    t = wrap(np.stack(pairs).astype(np.int64))
    device = like.device if isinstance(like, Tensor) else "cpu"
    return t if device == "cpu" else t.to(device)


def _two(op: str, x, y, batch_x, batch_y):
    px, py = host_points(op, "x", x), host_points(op, "y", y)
    if px.shape[1] != py.shape[1]:
        raise ValueError(f"{op}: expected `y` with {px.shape[1]} columns to match `x` of shape "
                         f"{px.shape} (got {py.shape[1]})")
    return (px, py, host_batch(op, "batch_x", batch_x, px.shape[0]),
            host_batch(op, "batch_y", batch_y, py.shape[0]))


def knn(x, y, k: int, batch_x=None, batch_y=None, cosine: bool = False) -> Tensor:
    """For each point of ``y`` its ``k`` nearest points of ``x`` (PyG's ``knn``).

    Args:
        x: ``(N, D)`` points (``(N,)`` is ``(N, 1)``).
        y: ``(M, D)`` query points.
        k: neighbours per query point (fewer where its graph has fewer points).
        batch_x, batch_y: graph id per point of ``x`` / ``y`` (default: all in graph 0).
        cosine: cosine distance ``1 - cos`` instead of Euclidean, ranked as the Euclidean
            distance of the unit vectors (a zero vector, which has no direction, ranks as
            at cosine distance 0.5 from every point). (default: False)

    Returns:
        ``(2, M·k)`` int64: row 0 the index into ``y``, row 1 into ``x`` (torch_cluster's
        order), sorted by row 0, each point's neighbours nearest first (ties in any order).
    """
    k = check_int("knn", "k", k, low=1)
    cosine = check_bool("knn", "cosine", cosine)
    px, py, bx, by = _two("knn", x, y, batch_x, batch_y)
    return _out(knn_pairs(px, py, k, bx, by, cosine), x)


def knn_graph(x, k: int, batch=None, loop: bool = False, flow: str = "source_to_target",
              cosine: bool = False) -> Tensor:
    """The k-nearest-neighbour graph of the points ``x`` (PyG's ``knn_graph``).

    Args:
        x: ``(N, D)`` points; k: neighbours per point; batch: graph id per point.
        loop: count the point itself among its k neighbours (a self loop). With False it is
            excluded, and each point keeps exactly k others (where torch_cluster, which asks
            for k + 1 and drops the self loop, may keep k + 1 when a duplicate point ties
            with it). (default: False)
        flow: ``"source_to_target"``: edges neighbour -> point (``edge_index[1]`` is the
            point, ``edge_index[0]`` its neighbours); ``"target_to_source"`` the reverse.
        cosine: cosine distance. (default: False)

    Returns:
        ``(2, N·k)`` int64 edge_index, grouped by point, nearest neighbours first.
    """
    return _out(knn_edges("knn_graph", x, k, batch, loop, flow, cosine), x)


def radius(x, y, r: float, batch_x=None, batch_y=None, max_num_neighbors: int = 32) -> Tensor:
    """For each point of ``y`` the points of ``x`` closer than ``r`` (PyG's ``radius``).

    Args:
        x: ``(N, D)`` points; y: ``(M, D)`` query points.
        r: the distance: ``|x_j - y_i| < r`` (strict, as torch_cluster).
        batch_x, batch_y: graph id per point (default: one graph).
        max_num_neighbors: at most this many per query point; the nearest are kept
            (deterministic, where torch_cluster keeps whichever its search returns first).
            (default: 32)

    Returns:
        ``(2, M')`` int64: row 0 the index into ``y``, row 1 into ``x``, sorted by row 0,
        nearest first.
    """
    r = check_radius("radius", r)
    cap = check_int("radius", "max_num_neighbors", max_num_neighbors)
    px, py, bx, by = _two("radius", x, y, batch_x, batch_y)
    return _out(radius_pairs(px, py, r, bx, by, cap), x)


def radius_graph(x, r: float, batch=None, loop: bool = False, max_num_neighbors: int = 32,
                 flow: str = "source_to_target") -> Tensor:
    """The graph of the points ``x`` closer than ``r`` (PyG's ``radius_graph``).

    Args:
        x: ``(N, D)`` points; r: the (strict) distance; batch: graph id per point.
        loop: include self loops (they count towards ``max_num_neighbors``). With False
            each point has at most ``max_num_neighbors`` others, the nearest. (default:
            False)
        max_num_neighbors: neighbours per point at most. (default: 32)
        flow: ``"source_to_target"`` (neighbour -> point) or ``"target_to_source"``.

    Returns:
        ``(2, E)`` int64 edge_index, grouped by point, nearest first.
    """
    return _out(radius_edges("radius_graph", x, r, batch, loop, max_num_neighbors, flow), x)
