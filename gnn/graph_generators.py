"""Random and regular graphs as an ``edge_index``, PyG's ``torch_geometric.utils``
generators: `erdos_renyi_graph`, `stochastic_blockmodel_graph`, `barabasi_albert_graph` and
`grid`.

Each returns int64 Tensors, the edges sorted by ``(row, col)`` (coalesced) as PyG's, and
draws from ``generator`` (a `sparsegraph.Generator`; default the global one that
`sparsegraph.manual_seed` seeds). The independent-edge models do not draw a coin per node
pair: the number of edges of each block of pairs is drawn from its binomial law and that
many distinct pairs are chosen uniformly (the same distribution, in memory of the order of
the edges, not of ``N^2``).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.gnn.edge_args import count, flag, out, probability
from sparsegraph.tensor import TRACE, wrap

__all__ = ["barabasi_albert_graph", "erdos_renyi_graph", "grid",
           "stochastic_blockmodel_graph"]


def _traced(op: str) -> None:
    if TRACE.tracer is not None:
        TRACE.tracer.unsupported(f"{op} (a random graph: its edge count changes with every "
                                 "draw)", "build the graph outside the compiled step")


def _choose(rng, pairs: int, p: float):
    """Sorted distinct positions in ``[0, pairs)``, each present with probability ``p``
    independently: a binomial count, then a uniform subset of that size."""
    k = int(rng.binomial(pairs, p)) if pairs else 0
    return np.sort(rng.choice(pairs, k, replace=False)) if k else np.zeros(0, np.int64)


def _triangle_pairs(keys, n: int):
    """``(i, j)``, ``i < j < n``, of the row-major positions ``keys`` of the pairs above the
    diagonal of an ``n x n`` matrix."""
    starts = np.arange(n, dtype=np.int64)
    starts = starts * (2 * n - starts - 1) // 2  # position of (i, i + 1)
    i = np.searchsorted(starts, keys, side="right") - 1
    return i, keys - starts[i] + i + 1


def _off_diagonal_pairs(keys, n: int):
    """``(i, j)``, ``i != j``, of the row-major positions ``keys`` of the off-diagonal
    entries of an ``n x n`` matrix."""
    i, c = np.divmod(keys, max(n - 1, 1))
    return i, c + (c >= i)


def _block_pairs(rng, n_r: int, n_s: int, same: bool, directed: bool, p: float):
    """Local ``(i, j)`` edges drawn with probability ``p`` between two blocks of ``n_r`` and
    ``n_s`` nodes (``same``: one block, no self loops; undirected: ``i < j`` only)."""
    if not same:
        return np.divmod(_choose(rng, n_r * n_s, p), max(n_s, 1))
    if directed:
        return _off_diagonal_pairs(_choose(rng, n_r * (n_r - 1), p), n_r)
    return _triangle_pairs(_choose(rng, n_r * (n_r - 1) // 2, p), n_r)


def _finish(row, col, n: int, directed: bool):
    """The int64 ``(2, E)`` Tensor, both directions when undirected, coalesced."""
    if not directed:
        row, col = np.concatenate([row, col]), np.concatenate([col, row])
    keys = np.sort(row.astype(np.int64) * max(n, 1) + col)  # numpy 2's np.unique hashes: slow
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if keys.size else keys
    return out(np.stack(np.divmod(keys, max(n, 1))).astype(np.int64), "cpu")


def erdos_renyi_graph(num_nodes: int, edge_prob: float, directed: bool = False, *,
                      generator=None):
    """PyG's ``erdos_renyi_graph``: the ``G(N, p)`` random graph, each pair of distinct
    nodes an edge with probability ``edge_prob``; no self loops. Undirected (default): each
    unordered pair is drawn once and returned in both directions; ``directed``: each ordered
    pair independently.

    Returns:
        The ``(2, E)`` int64 edge_index, sorted by ``(row, col)``.
    """
    op = "erdos_renyi_graph"
    n = count(op, "num_nodes", num_nodes)
    p = probability(op, "edge_prob", edge_prob)
    directed = flag(op, "directed", directed)
    _traced(op)
    row, col = _block_pairs(rng_of(generator), n, n, True, directed, p)
    return _finish(row, col, n, directed)


def stochastic_blockmodel_graph(block_sizes, edge_probs, directed: bool = False, *,
                                generator=None):
    """PyG's ``stochastic_blockmodel_graph``: nodes in consecutive blocks of
    ``block_sizes``; a pair of distinct nodes of blocks ``r`` and ``s`` is an edge with
    probability ``edge_probs[r][s]`` (symmetric unless ``directed``); no self loops.

    Args:
        block_sizes: ``(B,)`` non-negative block sizes (list, array or Tensor).
        edge_probs: ``(B, B)`` probabilities in ``[0, 1]``.
        directed: draw each ordered pair (default: each unordered pair, returned both ways).

    Returns:
        The ``(2, E)`` int64 edge_index of ``sum(block_sizes)`` nodes, sorted by
        ``(row, col)``.
    """
    op = "stochastic_blockmodel_graph"
    sizes = np.asarray(backend.to_device(getattr(block_sizes, "array", block_sizes), "cpu"))
    probs = np.asarray(backend.to_device(getattr(edge_probs, "array", edge_probs), "cpu"))
    if sizes.ndim != 1 or sizes.dtype.kind not in "iu" or (sizes.size and sizes.min() < 0):
        raise ValueError(f"{op}: expected `block_sizes` to be a 1-D list of non-negative "
                         f"ints (got {sizes.tolist()!r})")
    if probs.shape != (sizes.size, sizes.size) or probs.dtype.kind not in "iuf":
        raise ValueError(f"{op}: expected `edge_probs` of shape ({sizes.size}, {sizes.size}),"
                         f" one per pair of blocks (got shape {probs.shape})")
    if probs.size and (np.isnan(probs).any() or probs.min() < 0 or probs.max() > 1):
        raise ValueError(f"{op}: expected `edge_probs` in [0, 1] (got values in "
                         f"[{probs.min()}, {probs.max()}])")
    directed = flag(op, "directed", directed)
    if not directed and not np.allclose(probs, probs.T):
        raise ValueError(f"{op}: expected a symmetric `edge_probs` for an undirected graph "
                         f"(pass directed=True otherwise)")
    _traced(op)
    rng, starts = rng_of(generator), np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    rows, cols = [], []
    for r in range(sizes.size):  # one draw per pair of blocks
        for s in range(sizes.size) if directed else range(r, sizes.size):
            i, j = _block_pairs(rng, int(sizes[r]), int(sizes[s]), r == s, directed,
                                float(probs[r, s]))
            rows.append(i + starts[r]), cols.append(j + starts[s])
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    return _finish(row, col, int(starts[-1]), directed)


def _resolve(value, ref):
    """Follow ``ref`` (-1: ``value`` is final; else the index of an earlier draw whose value
    this one copies) by pointer jumping: O(log chain) vectorised rounds."""
    while True:
        pending = np.flatnonzero(ref >= 0)
        if not pending.size:
            return value
        target = ref[pending]
        onward = ref[target]
        done = onward < 0
        value[pending[done]] = value[target[done]]
        ref[pending] = onward


def barabasi_albert_graph(num_nodes: int, num_edges: int, *, generator=None):
    """PyG's ``barabasi_albert_graph``: preferential attachment, each of the nodes
    ``num_edges .. N-1`` in turn joined to ``num_edges`` nodes drawn with probability
    proportional to their degree.

    As PyG: the start is the ``N`` edges ``i -> perm[i]`` of a random permutation; node ``i``
    draws its ``num_edges`` targets with replacement from the list of every edge end so far
    (its own ``num_edges`` new sources included); self loops are then dropped and the graph
    made undirected (coalesced, so repeated targets merge). The draws are made at once and
    resolved by pointer jumping (a draw landing on an earlier draw's end takes its value),
    the same process as PyG's node-by-node loop.

    Returns:
        The ``(2, E)`` int64 undirected edge_index, sorted by ``(row, col)``.
    """
    op = "barabasi_albert_graph"
    n = count(op, "num_nodes", num_nodes)
    m = count(op, "num_edges", num_edges)
    _traced(op)
    rng = rng_of(generator)
    perm = rng.permutation(n).astype(np.int64)
    steps = max(n - m, 0)
    # the pool of edge ends: [0, N) the first sources, [N, 2N) their targets, then per step
    # k (node m + k) its m sources and its m drawn targets; step k draws from the first
    # 2N + 2mk + m (everything before it, its own sources included)
    step = np.repeat(np.arange(steps, dtype=np.int64), m)
    pos = rng.integers(0, 2 * n + 2 * m * step + m) if step.size else step
    value, ref = np.empty(pos.size, np.int64), np.full(pos.size, -1, np.int64)
    first = pos < 2 * n
    value[first] = np.where(pos[first] < n, pos[first], perm[pos[first] - n] if n else 0)
    k, r = np.divmod(pos[~first] - 2 * n, max(2 * m, 1))
    value[~first] = np.where(r < m, m + k, -1)
    ref[~first] = np.where(r < m, -1, k * m + r - m)
    value = _resolve(value, ref)
    row = np.concatenate([np.arange(n, dtype=np.int64), m + step])
    col = np.concatenate([perm, value])
    keep = row != col
    return _finish(row[keep], col[keep], n, False)


def grid(height: int, width: int, dtype=None, device=None):
    """PyG's ``grid``: the ``height x width`` grid graph, each node joined to its (up to) 8
    neighbours and to itself, nodes numbered row by row.

    Returns:
        ``(edge_index, pos)``: the int64 ``(2, E)`` edges sorted by ``(row, col)`` (self
        loops included, as PyG), and the ``(H * W, 2)`` positions ``(x, y)`` with ``x`` the
        column and ``y = height - 1 - row`` (float32 unless ``dtype``).
    """
    op = "grid"
    for name, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, Integral) or v < 0:
            raise ValueError(f"{op}: expected `{name}` to be an int >= 0 (got {v!r})")
    h, w = int(height), int(width)
    device = backend.normalize_device("cpu" if device is None else device)
    r, c = np.divmod(np.arange(h * w, dtype=np.int64), max(w, 1))
    dr = np.repeat(np.arange(-1, 2), 3)  # the offsets in increasing order of dr * w + dc
    dc = np.tile(np.arange(-1, 2), 3)
    rr, cc = r[:, None] + dr, c[:, None] + dc
    valid = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    row = np.broadcast_to(np.arange(h * w)[:, None], valid.shape)[valid]
    edge_index = np.stack([row, (rr * w + cc)[valid]]).astype(np.int64)
    dt = backend.as_dtype("float32" if dtype is None else dtype)
    pos = np.stack([np.tile(np.arange(w), h), np.repeat(h - 1 - np.arange(h), w)], axis=1)
    return (wrap(backend.to_device(edge_index, device)),
            wrap(backend.to_device(pos.astype(dt), device)))
