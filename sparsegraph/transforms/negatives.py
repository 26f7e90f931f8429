"""Node pairs that are not edges, for `RandomLinkSplit`'s negative labels.

`sparsegraph.gnn.negative_sampling` does this for models, but gnn sits above the transforms
(a transform takes a Graph, which gnn's layers consume), so this layer has its own small
sampler: uniform without replacement, vectorised (pair keys ``u * N + v`` in sorted arrays).
Small populations (at most ``_LIST_LIMIT`` pairs: about 2900 nodes undirected, 2000
directed) are listed and drawn from; larger ones are drawn by rejection, batch by batch.
"""

from __future__ import annotations

import numpy as np

_LIST_LIMIT = 1 << 22  # 4M pairs: a 32 MB listing


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.isin(keys, sorted_keys)`` for sorted, unique ``sorted_keys`` (binary search)."""
    if not sorted_keys.size:
        return np.zeros(keys.shape, bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[at] == keys


def _listed(rng, n: int, positives, count: int, undirected: bool) -> np.ndarray:
    if undirected:
        u, v = np.triu_indices(n, 1)
        keys = u.astype(np.int64) * n + v
    else:
        keys = np.arange(n * n, dtype=np.int64)
        keys = keys[keys // n != keys % n]
    keys = keys[~_contains(positives, keys)]
    return rng.choice(keys, count, replace=False)


def _drawn(rng, n: int, positives, count: int, undirected: bool, free: int,
           population: int) -> np.ndarray:
    """Rejection: uniform candidates, their repeats, the edges and the pairs already taken
    dropped, the first occurrences kept in drawing order (a uniform sequence without
    replacement), until ``count``."""
    taken = np.zeros(0, np.int64)
    while taken.size < count:
        m = int((count - taken.size) * 1.2 * population / (free - taken.size)) + 64
        u = rng.integers(0, n, m, dtype=np.int64)
        v = rng.integers(0, n - 1, m, dtype=np.int64)
        v += v >= u  # uniform over the other n - 1 nodes: no self loops
        if undirected:
            u, v = np.minimum(u, v), np.maximum(u, v)
        keys = u * n + v
        keys = keys[~_contains(positives, keys)]
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]  # distinct, in the order drawn
        keys = keys[~_contains(np.sort(taken), keys)]
        taken = np.concatenate([taken, keys[:count - taken.size]])
    return taken


def non_edges(rng: np.random.Generator, edge_index: np.ndarray, n: int, count: int,
              undirected: bool) -> np.ndarray:
    """``(2, K)`` int64 pairs ``(u, v)``, ``u != v``, that are not in ``edge_index``, drawn
    uniformly without replacement; ``K = count``, or every such pair when there are fewer
    (as PyG's ``negative_sampling``). ``undirected``: unordered pairs that are an edge in
    neither direction, each once, as ``u < v``."""
    src, dst = edge_index[0].astype(np.int64), edge_index[1].astype(np.int64)
    if undirected:
        src, dst = np.minimum(src, dst), np.maximum(src, dst)
    loop = src == dst
    positives = np.unique(src[~loop] * n + dst[~loop])
    population = n * (n - 1) // 2 if undirected else n * (n - 1)
    free = population - positives.size
    count = min(count, free)
    if count <= 0:
        return np.zeros((2, 0), np.int64)
    if population <= _LIST_LIMIT:
        keys = _listed(rng, n, positives, count, undirected)
    else:
        keys = _drawn(rng, n, positives, count, undirected, free, population)
    return np.stack(np.divmod(keys, n))
