"""node2vec's second-order random walks over a CSR graph (Grover & Leskovec, "node2vec: Scalable
Feature Learning for Networks", KDD 2016), as ``torch_cluster.random_walk`` draws them for
PyG's ``Node2Vec``.

A walk that arrived at ``v`` from ``t`` moves to an out-neighbour ``x`` of ``v`` with
probability proportional to (each stored edge ``v -> x`` counted, duplicates included):

- ``1 / p`` when ``x == t`` (return),
- ``1``     when the graph has an edge ``x -> t`` (``d(t, x) = 1``; the check of the reference
  implementation and torch_cluster),
- ``1 / q`` otherwise (``d(t, x) = 2``: moving outward).

The first step, which has no ``t``, is uniform over ``v``'s out-edges; ``p = q = 1`` is a
uniform walk. A node without out-edges keeps the walk where it is (the node repeats to the
end), as torch_cluster does.

Sampling is rejection sampling, as torch_cluster's (and KnightKing's, SOSP 2019): draw an
out-edge uniformly and accept it with probability ``alpha(x) / max(1 / p, 1, 1 / q)``. It needs
no per-edge alias tables (O(E) memory instead of O(sum of squared degrees)); the ``d(t, x) = 1``
test is a binary search in ``x``'s sorted row. Each candidate is accepted with exactly its own
``alpha / max``. Where every candidate's acceptance is tiny (``p = 1e-6, q = 1e6`` on a node whose
neighbours are all outward) a step could need ~1e12 draws, so after ``max(32, degree)``
rejections the step is drawn exactly instead: each neighbour's kind is found (``degree`` binary
searches), a kind is drawn by its total weight, then one neighbour of that kind uniformly. The
walk stays exact: rejection sampling's tries are independent, so the value a later try would
accept, given that the first ``k`` were rejected, follows the target distribution, as the exact
draw does. torch_cluster's chain of ``if``s also accepts a return, or a step to a neighbour
of ``t``, whenever its uniform number is below ``(1 / q) / max``: where ``1 / q`` exceeds ``1 / p``
or 1 (``q < p`` or ``q < 1``) its walk returns, or stays near ``t``, more often than the
paper's; elsewhere the two agree. Here the walk is always the paper's.

Randomness is counter-based (`sparsegraph.ops.counter_rng`): the ``c``-th number of walk ``i``
is ``mix(key_i + c * GOLDEN)`` with ``key_i`` a hash of ``(seed, i)``, so the walks depend on the
seed and the start nodes only, not on numba's thread count. The kernel runs the walks in
parallel (``prange``); everything around it is vectorised numpy.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from numba import njit, prange

from sparsegraph.ops.counter_rng import GOLDEN, S32, G, mix, mix_int
from sparsegraph.ops.sparse_kernels.numba_util import one_thread_if_small

__all__ = ["csr_of_edge_index", "random_walk"]

_UNIT = 2.0**-53  # 53 random bits -> a float64 in [0, 1)
_S11 = np.uint64(11)
# rejections a biased step makes before its exact draw: max(least, per_edge * degree); any
# bound keeps the walk exact (the module docstring), this one keeps the exact draw rare
_TRIES = (32, 1)


def csr_of_edge_index(ei: np.ndarray, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(rowptr, col)``, int64: the ``(2, E)`` ``ei`` sorted by source then target (PyG's
    ``sort_edge_index``, duplicates kept) as a source-major CSR: row ``v`` lists the
    out-neighbours of ``v``, ascending."""
    row, col = np.asarray(ei[0], np.int64), np.asarray(ei[1], np.int64)
    order = np.lexsort((col, row))
    rowptr = np.zeros(num_nodes + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=num_nodes), out=rowptr[1:])
    return rowptr, np.ascontiguousarray(col[order])


_mix_nb = njit(inline="always", cache=True)(mix)


@njit(inline="always", cache=True)
def _bits(key, c):
    return _mix_nb(key + np.uint64(c) * G)


@njit(inline="always", cache=True)
def _has_edge(rowptr, col, x, t):
    """Whether the sorted row ``x`` of the CSR holds ``t`` (binary search)."""
    lo, hi = rowptr[x], rowptr[x + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if col[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo < rowptr[x + 1] and col[lo] == t


@njit(inline="always", cache=True)
def _kind(rowptr, col, x, t):
    """0: a return to ``t``; 1: a neighbour of ``t`` (the graph has ``x -> t``); 2: farther."""
    if x == t:
        return 0
    return 1 if _has_edge(rowptr, col, x, t) else 2


@njit(cache=True)
def _exact_step(rowptr, col, lo, deg, t, par, key, c):
    """``(x, c)``: an out-neighbour of the row at ``lo`` drawn with the exact node2vec
    probabilities after arriving from ``t``. ``par``: ``(p, 1, q)``, the inverse weights of
    the three kinds; normalised by the smallest present one, so no weight over- or underflows
    to make the total 0 or inf."""
    n0 = n1 = n2 = 0
    for e in range(lo, lo + deg):
        k = _kind(rowptr, col, col[e], t)
        if k == 0:
            n0 += 1
        elif k == 1:
            n1 += 1
        else:
            n2 += 1
    counts = (n0, n1, n2)
    m = np.inf
    for k in range(3):
        if counts[k] > 0:
            m = min(m, par[k])
    total = 0.0
    for k in range(3):
        if counts[k] > 0:
            total += counts[k] * (m / par[k])
    c += 1
    u = np.float64(_bits(key, c) >> _S11) * _UNIT * total
    kind, cum = 0, 0.0
    for k in range(3):  # the last present kind if rounding leaves u past the sum
        if counts[k] > 0:
            kind = k
            cum += counts[k] * (m / par[k])
            if u < cum:
                break
    c += 1
    j = np.int64(((_bits(key, c) >> S32) * np.uint64(counts[kind])) >> S32)
    for e in range(lo, lo + deg):
        if _kind(rowptr, col, col[e], t) == kind:
            if j == 0:
                return col[e], c
            j -= 1
    return col[lo + deg - 1], c  # unreachable: the kind has counts[kind] members


@njit(parallel=True, cache=True)
def _walks(rowptr, col, start, walk_length, acc, par, biased, tries, stream, out):
    """Fill ``out`` ``(B, walk_length + 1)``. ``acc``: the acceptance probabilities of a
    return, a step to a neighbour of ``t`` and an outward step (``alpha / max alpha``);
    ``par``: ``(p, 1, q)``; ``tries``: ``(least, per edge)``: a step rejects at most
    ``max(least, per_edge * degree)`` candidates before drawing exactly (`_exact_step`)."""
    for i in prange(start.shape[0]):
        key = _mix_nb(stream ^ _mix_nb((np.uint64(i) + np.uint64(1)) * G))
        c = 0  # this walk's counter: its numbers do not depend on the thread running it
        t = np.int64(-1)
        v = np.int64(start[i])
        out[i, 0] = v
        for step in range(walk_length):
            lo = rowptr[v]
            deg = rowptr[v + 1] - lo
            x = v  # a sink keeps the walk where it is
            if deg == 1:
                x = col[lo]
            elif deg > 1 and (not biased or step == 0):
                c += 1
                x = col[lo + np.int64(((_bits(key, c) >> S32) * np.uint64(deg)) >> S32)]
            elif deg > 1:
                bound = max(tries[0], tries[1] * deg)
                accepted = False
                for _ in range(bound):
                    c += 1
                    x = col[lo + np.int64(((_bits(key, c) >> S32) * np.uint64(deg)) >> S32)]
                    c += 1
                    r = np.float64(_bits(key, c) >> _S11) * _UNIT
                    if r < acc[_kind(rowptr, col, x, t)]:
                        accepted = True
                        break
                if not accepted:
                    x, c = _exact_step(rowptr, col, lo, deg, t, par, key, c)
            t = v
            v = x
            out[i, step + 1] = x


def positive_number(op: str, name: str, value) -> float:
    """``value`` as a float, or a ValueError naming it unless it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < np.inf:
        raise ValueError(f"{op}: expected `{name}` to be a finite number > 0 (got {value!r})")
    return float(value)


def walk_stream(seed: int) -> int:
    """The 64-bit key of the walks drawn with ``seed``."""
    return mix_int(mix_int(seed + GOLDEN) ^ 0x6E6F64653276656)  # "node2vec"-ish tag


def random_walk(rowptr, col, start, walk_length: int, p: float = 1.0, q: float = 1.0,
                seed: int = 0) -> np.ndarray:
    """node2vec walks from each node of ``start`` (``torch_cluster.random_walk`` on a CSR).

    Args:
        rowptr: ``(N + 1,)`` int64 row pointers of a source-major CSR (row ``v``: the
            out-neighbours of ``v``, sorted ascending, as `csr_of_edge_index` makes them).
        col: ``(E,)`` int64 target of each edge.
        start: ``(B,)`` int64 start nodes in ``[0, N)``.
        walk_length: steps per walk (>= 0).
        p, q: node2vec's return and in-out parameters (> 0). (default: 1, a uniform walk)
        seed: an int in ``[0, 2**64)``; the same seed and ``start`` give the same walks.

    Returns:
        ``(B, walk_length + 1)`` int64 node ids, ``start`` in the first column.
    """
    op = "random_walk"
    p, q = positive_number(op, "p", p), positive_number(op, "q", q)
    if isinstance(walk_length, bool) or not isinstance(walk_length, int | np.integer) or (
            walk_length < 0):
        raise ValueError(f"{op}: expected `walk_length` to be an int >= 0 (got {walk_length!r})")
    rowptr = np.ascontiguousarray(rowptr, np.int64)
    col = np.ascontiguousarray(col, np.int64)
    start = np.ascontiguousarray(start, np.int64).reshape(-1)
    n = rowptr.shape[0] - 1
    if start.size and (int(start.min()) < 0 or int(start.max()) >= n):
        bad = int(start.min()) if int(start.min()) < 0 else int(start.max())
        raise ValueError(f"{op}: expected start nodes in [0, {n}) (got {bad})")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not (
            0 <= seed < 2**64):
        raise ValueError(f"{op}: expected `seed` to be an int in [0, 2**64) (got {seed!r})")
    par = np.array([p, 1.0, q])  # alpha = 1 / par; alpha / max alpha = min par / par
    out = np.empty((start.shape[0], int(walk_length) + 1), np.int64)
    with one_thread_if_small(out):
        _walks(rowptr, col, start, int(walk_length), par.min() / par, par,
               bool(p != 1.0 or q != 1.0), np.array(_TRIES, np.int64),
               np.uint64(walk_stream(int(seed))), out)
    return out
