"""Negative edges for link prediction: node pairs that are not edges, drawn uniformly (PyG's
``torch_geometric.utils.negative_sampling``).

Pairs are handled as int64 keys ``src * N_dst + dst``. Candidates are drawn in batches sized
by the acceptance rate; each batch is sorted, its repeats, the positive keys and the pairs
already taken are dropped, and a random part of the rest is taken in a random order (a
uniform sample without replacement; every step sorts or searches sorted keys). When fewer
than a quarter of the population are non-edges, or more than half of the non-edges are asked
for (or ``method="dense"``), the non-edges are listed and chosen from directly (PyG's "dense"
method).
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.sparse_checks import INT64_MAX, as_index_array
from sparsegraph.tensor import TRACE, Tensor, host_values, wrap

# the listing path lists at most this many pairs, `_LIST_CHUNK` at a time: its peak is the
# list of non-edges (8 bytes each, at most 512 MB) plus one chunk's temporaries (32 MB each).
# Measured at the limit (8192 nodes, tracemalloc): 676 MB listing, 1.0 GB in all with the
# (2, K) int64 result for K = half the pairs (was 2.6 GB)
_LIST_LIMIT = 1 << 26
_LIST_CHUNK = 1 << 22


def negative_sampling(edge_index, num_nodes=None, num_neg_samples=None, method: str = "sparse",
                      force_undirected: bool = False, *, generator=None) -> np.ndarray | Tensor:
    """Sample node pairs that are not in ``edge_index``: the negatives of link prediction.

    Args:
        edge_index: ``(2, E)`` positive edges (row 0 source, row 1 target): numpy, a Tensor
            or a nested list of ints.
        num_nodes: ``N``, or ``(N_src, N_dst)`` for a bipartite graph (default: one more than
            the largest node id).
        num_neg_samples: ``K``, the number of pairs to return (default ``E``); fewer come back
            when the graph has fewer non-edges, as in PyG.
        method: PyG's memory / time trade-off; either way the sample is uniform, without
            replacement. ``"sparse"`` (default) draws candidates and rejects edges, in memory
            of the order of E + K, switching to the listing of ``"dense"`` where rejection
            would be slow (few non-edges, or most of them wanted) and the listing fits;
            ``"dense"`` always lists the non-edges and picks from them (8 bytes per pair of
            the population, for at most 2**26 pairs: N_src * N_dst beyond that is refused).
        force_undirected: draw unordered pairs ``{u, v}`` that are edges in neither direction
            and return each in both directions (``2 * (K // 2)`` columns), as PyG does.
        generator: a ``sparsegraph.Generator`` (default: the global one; see manual_seed).

    Returns:
        ``(2, K')`` int64 pairs, distinct, uniformly drawn without replacement; no self loops
        unless the graph is bipartite. The type PyG returns, that of ``edge_index``: a Tensor
        (on its device) for a Tensor, a numpy array for numpy or lists. Inside a function
        being traced (`sparsegraph.static.compile`), an int64 Tensor always, which the graph
        follows: it is recorded as a random draw, so every call of the compiled step draws new
        negatives from the generator, in order with the other draws, as eager calls do (index
        with it, or pass it to ops; numpy work on it is refused with a CaptureError).

    Raises:
        ValueError / TypeError: a bad argument, named; ``method="dense"`` on a population of
            more than 2**26 pairs.
    """
    args = (edge_index, num_nodes, num_neg_samples, method, force_undirected)
    pairs = _sample(*args, generator=generator)
    if TRACE.tracer is None or TRACE.tracer.depth:  # not traced, or inside a traced op
        # PyG returns the type it is given: a Tensor (on edge_index's device) for a Tensor
        return (wrap(backend.to_device(pairs, edge_index.device))
                if isinstance(edge_index, Tensor) else pairs)
    out = wrap(pairs)
    TRACE.tracer.record_draw(_sample_tensor, args, {"generator": generator}, out)
    return out


def _sample_tensor(*args, **kwargs) -> Tensor:
    """`negative_sampling` returning a Tensor: the random draw a static graph replays."""
    return wrap(_sample(*args, **kwargs))


_sample_tensor.__name__ = "negative_sampling"  # the node's name in a graph listing


def _sample(edge_index, num_nodes, num_neg_samples, method, force_undirected, *, generator):
    """`negative_sampling`'s work: the ``(2, K')`` numpy pairs."""
    op = "negative_sampling"
    if method not in ("sparse", "dense"):
        raise ValueError(f"{op}: expected `method` to be 'sparse' or 'dense', PyG's two (got "
                         f"{method!r})")
    src, dst = _edges(op, edge_index)
    n_src, n_dst, bipartite = _node_counts(op, num_nodes, src, dst)
    if method == "dense" and n_src * n_dst > _LIST_LIMIT:
        raise ValueError(f"{op}: method='dense' lists every node pair, at most {_LIST_LIMIT} "
                         f"(2**26) of them (got {n_src} x {n_dst}); use method='sparse'")
    if not isinstance(force_undirected, bool | np.bool_):
        raise TypeError(f"{op}: expected `force_undirected` to be True or False (got "
                        f"{type(force_undirected).__name__} {force_undirected!r})")
    if force_undirected and bipartite:
        raise ValueError(f"{op}: `force_undirected` needs one node set (got num_nodes="
                         f"{num_nodes!r})")
    if num_neg_samples is None:
        num_neg_samples = src.size
    if (isinstance(num_neg_samples, bool) or not isinstance(num_neg_samples, int | np.integer)
            or num_neg_samples < 0):
        raise ValueError(f"{op}: expected `num_neg_samples` to be a non-negative int (got "
                         f"{num_neg_samples!r})")
    rng = rng_of(generator)
    if n_src * n_dst == 0:
        return np.zeros((2, 0), np.int64)
    if force_undirected:  # a pair is taken as (smaller, larger) id
        src, dst = np.minimum(src, dst), np.maximum(src, dst)
        num_neg_samples //= 2
    keys = src * n_dst + dst
    positives = _sorted_unique(keys if bipartite else keys[src != dst])  # loops are never drawn
    population = n_src * n_dst - (0 if bipartite else n_src)
    if force_undirected:
        population //= 2
    free = population - positives.size
    want = min(int(num_neg_samples), free)
    if want == 0:
        return np.zeros((2, 0), np.int64)
    if method == "dense" or (n_src * n_dst <= _LIST_LIMIT
                             and (free * 4 < population or want * 2 > free)):
        keys = _choose_listed(rng, positives, n_src, n_dst, bipartite, force_undirected, want,
                              free)
    else:
        keys = _draw(rng, positives, n_src, n_dst, bipartite, force_undirected, want, free,
                     population)
    pairs = np.empty((2, keys.size), np.int64)  # written in place: no temporaries of K keys
    np.divmod(keys, n_dst, out=(pairs[0], pairs[1]))
    return np.concatenate([pairs, pairs[::-1]], axis=1) if force_undirected else pairs


def _edges(op: str, edge_index):
    ei = host_values(edge_index, f"{op}: `edge_index` (the edges not to draw)")
    ei = backend.to_device(ei, "cpu") if hasattr(ei, "dtype") else as_index_array(
        op, "edge_index", ei)  # `[[], []]`: no edges
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"{op}: expected `edge_index` of shape (2, E) (got {ei.shape})")
    if ei.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected `edge_index` with an integer dtype (got {ei.dtype})")
    if ei.size and int(ei.min()) < 0:
        raise ValueError(f"{op}: expected non-negative node ids in `edge_index` (got "
                         f"{int(ei.min())})")
    return ei[0].astype(np.int64, copy=False), ei[1].astype(np.int64, copy=False)  # read only


def _node_counts(op: str, num_nodes, src, dst):
    """(N_src, N_dst, bipartite) from ``num_nodes`` (an int, a pair, or None), range-checked."""
    if num_nodes is None:
        n = 1 + max(int(src.max()), int(dst.max())) if src.size else 0
        counts, bipartite = (n, n), False
    elif isinstance(num_nodes, tuple | list):
        counts, bipartite = tuple(num_nodes), True
    else:
        counts, bipartite = (num_nodes, num_nodes), False
    if len(counts) != 2 or any(isinstance(c, bool) or not isinstance(c, int | np.integer)
                               or c < 0 for c in counts):
        raise ValueError(f"{op}: expected `num_nodes` to be a non-negative int or a pair "
                         f"(N_src, N_dst) of them (got {num_nodes!r})")
    n_src, n_dst = int(counts[0]), int(counts[1])
    if n_src and n_dst > INT64_MAX // n_src:
        raise ValueError(f"{op}: expected N_src * N_dst below 2^63 (got {n_src} x {n_dst})")
    for ids, n, what in ((src, n_src, "source"), (dst, n_dst, "target")):
        if ids.size and int(ids.max()) >= n:
            raise ValueError(f"{op}: expected {what} ids in [0, {n}) for num_nodes="
                             f"{num_nodes!r} (got {int(ids.max())})")
    return n_src, n_dst, bipartite


def _draw(rng, positives, n_src, n_dst, bipartite, undirected, want, free, population):
    """Rejection sampling: batches of uniform candidates until ``want`` distinct non-edges
    (each batch sized by the chance that a candidate is a new one).

    Each batch is sorted, its repeats dropped, then the positives and the pairs taken earlier
    (binary searches of sorted queries), and a uniformly drawn part of the rest in a random
    order (a shuffle) is taken: the distinct new non-edges of i.i.d. uniform candidates are a
    uniform subset of the free pairs left, so the result is uniform without replacement. All
    steps sort or search in order: numpy's hash-based ``np.unique`` and binary searches of
    unsorted queries took 13 s at N = 1e6, E = K = 5e6 (2 shared cores), these 0.5 to 1.5 s.
    """
    taken, seen = np.zeros(0, np.int64), np.zeros(0, np.int64)  # drawing order; sorted
    while taken.size < want:
        batch = int((want - taken.size) * population / (free - taken.size) * 1.1) + 64
        keys = _sorted_unique(_candidates(rng, batch, n_src, n_dst, bipartite, undirected))
        keys = keys[~_sorted_contains(positives, keys)]
        if seen.size:
            keys = keys[~_sorted_contains(seen, keys)]
        rng.shuffle(keys)  # a uniform order: its first ones are a uniform part of the batch
        taken = np.concatenate([taken, keys[:want - taken.size]])
        if taken.size < want:
            seen = np.sort(taken)
    return taken


def _candidates(rng, count, n_src, n_dst, bipartite, undirected):
    """``count`` uniform pairs of the population as keys (no loops unless bipartite)."""
    src = rng.integers(0, n_src, count, dtype=np.int64)
    if bipartite:
        return src * n_dst + rng.integers(0, n_dst, count, dtype=np.int64)
    dst = rng.integers(0, n_dst - 1, count, dtype=np.int64)
    dst += dst >= src  # skip the diagonal: uniform over the N - 1 other nodes
    if undirected:  # each unordered pair is drawn from its two ordered ones: still uniform
        src, dst = np.minimum(src, dst), np.maximum(src, dst)
    return src * n_dst + dst


def _choose_listed(rng, positives, n_src, n_dst, bipartite, undirected, want, free):
    """Dense graphs (or most non-edges wanted): list the ``free`` non-edges of the population
    into one array, chunk by chunk of pairs (the temporaries of the self-loop and edge checks
    are a chunk's, not the population's), shuffle it in place and take ``want`` of them: the
    peak is the list (8 bytes per non-edge) plus one chunk's temporaries."""
    listed, filled, total = np.empty(free, np.int64), 0, n_src * n_dst
    for start in range(0, total, _LIST_CHUNK):
        keys = np.arange(start, min(start + _LIST_CHUNK, total), dtype=np.int64)
        if not bipartite:
            src, dst = keys // n_dst, keys % n_dst
            keys = keys[(src < dst) if undirected else (src != dst)]
        keys = keys[~_sorted_contains(positives, keys)]
        listed[filled:filled + keys.size] = keys
        filled += keys.size
    assert filled == free, (filled, free)
    rng.shuffle(listed)  # a uniform order: its first `want` are a uniform sample
    return listed[:want]


def _sorted_unique(keys):
    """``np.unique(keys)`` by sorting: numpy 2's ``np.unique`` hashes, far slower here (5e6
    int64 keys: 5 s against 0.1 to 0.3 s)."""
    keys = np.sort(keys)
    first = np.ones(keys.size, bool)
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return keys[first]


def _sorted_contains(sorted_keys, keys):
    """``np.isin(keys, sorted_keys)`` by binary search (sorted_keys sorted and unique). Sorted
    ``keys`` are searched in order, which is what makes it fast (unsorted queries of 5e6 keys
    miss the cache: 25x slower); callers pass them sorted."""
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), sorted_keys.size - 1)
    return sorted_keys[at] == keys
