"""Neighbour-sampling kernels: one hop of uniform sampling without replacement, plus relabelling.

Registered in `sparsegraph.kernels` as op ``"sample_neighbors"`` (device ``"cpu"``, format
``"csr"``): a ``"generic"`` numpy kernel (the reference) and a ``"numba"`` kernel (priority 20,
parallel over the target nodes). Both compute exactly the same sample, so the parity test
compares them array for array.

Randomness is counter-based, not a shared generator: the ``s``-th random number of target node
``v`` is ``mix(node_key(stream, v) + (s + 1) * GOLDEN)``, where ``mix`` is the SplitMix64
finaliser and ``stream`` is derived from ``(seed, epoch, hop)``. A node's sample therefore
depends only on ``(seed, epoch, hop, v)``: not on the thread that draws it, the thread count,
the batch it is in, or its position in that batch.

The sample of ``k`` of ``deg`` in-neighbours is Floyd's algorithm (Bentley & Floyd, "A sample of
brilliance", CACM 1987): for ``j = deg - k .. deg - 1`` draw ``t`` uniform in ``[0, j]`` and
take ``t``, or ``j`` when ``t`` is already taken. It draws exactly ``k`` numbers whatever the
degree (hub nodes cost the same as leaves) and every ``k``-subset is equally likely (up to
the multiply-shift mapping of 32 random bits to ``[0, j]``: a bias below ``deg / 2^32``).
Picked positions are sorted, so each sampled row keeps the CSR order of the graph. The rows are
latency-bound (a random read of ``indptr``, then of ``indices``, per row), so the numba kernel
prefetches a few rows ahead.

Signature of both kernels::

    (indptr, indices, nodes, k, stream, local) -> (rowptr, col, e_id, new_nodes)

``indptr`` (N + 1,) / ``indices`` (E,): the graph's target-major CSR (row ``v`` lists the
in-neighbours of ``v``); ``nodes`` (N_dst,) int64: the targets of this hop, whose local ids
``local[nodes] == arange(N_dst)`` are already set; ``k``: fan-out (``-1`` = every neighbour);
``local`` (N,): scratch, ``-1`` for nodes without a local id. Returns ``rowptr`` (N_dst + 1,)
int64, ``col`` (E_s,) int64 local source ids, ``e_id`` (E_s,) int64 positions of the sampled
edges in ``indices``, and ``new_nodes`` (global ids of the sources seen for the first time, in
order of first appearance; ``local`` is updated to give them ids ``N_dst, N_dst + 1, ...``).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.kernels import register
from sparsegraph.ops.counter_rng import GOLDEN, MASK64, S32, G, mix, mix_int


def _below(r, n):
    """An integer in ``[0, n)`` from 64 random bits ``r``: the high 32 bits scaled by ``n``
    (Lemire's multiply-shift; a division would cost more than the rest of a draw). Needs
    ``n < 2**32`` (a node's degree); the bias is below ``n / 2**32``."""
    return ((r >> S32) * n) >> S32


def stream_key(seed: int, epoch: int, hop: int) -> int:
    """The 64-bit key of one hop of one epoch: a different random stream for each."""
    z = mix_int(seed + GOLDEN)
    z = mix_int(z ^ (epoch + 1) * GOLDEN)
    return mix_int(z ^ (hop + 1) * GOLDEN)


def _node_keys(stream: int, nodes) -> np.ndarray:
    v = nodes.astype(np.uint64)
    return mix(np.uint64(stream) ^ mix((v + np.uint64(1)) * G))


def _counts(indptr, nodes, k: int):
    start = np.asarray(indptr[nodes], dtype=np.int64)
    deg = np.asarray(indptr[nodes + 1], dtype=np.int64) - start
    cnt = deg if k < 0 else np.minimum(deg, k)
    rowptr = np.zeros(nodes.shape[0] + 1, np.int64)
    np.cumsum(cnt, out=rowptr[1:])
    return start, deg, cnt, rowptr


@register("sample_neighbors", "cpu", name="generic", fmt="csr")
def sample_neighbors_generic(indptr, indices, nodes, k: int, stream: int, local):
    """Vectorised numpy reference: Floyd's algorithm run for all partial rows at once."""
    start, deg, cnt, rowptr = _counts(indptr, nodes, k)
    total = int(rowptr[-1])
    # every row as if taken whole (right for deg <= k), then overwrite the sampled rows
    e_id = np.repeat(start - rowptr[:-1], cnt) + np.arange(total, dtype=np.int64)
    part = np.flatnonzero(deg > k) if k >= 0 else np.zeros(0, np.int64)
    if part.size and k > 0:
        d = deg[part].astype(np.uint64)
        keys = _node_keys(stream, nodes[part])
        sel = np.empty((part.size, k), np.uint64)
        for s in range(k):  # k steps, each vectorised over the rows
            j = d - np.uint64(k - s)
            t = _below(mix(keys + np.uint64(((s + 1) * GOLDEN) & MASK64)), j + np.uint64(1))
            taken = (sel[:, :s] == t[:, None]).any(axis=1)
            sel[:, s] = np.where(taken, j, t)
        sel.sort(axis=1)
        slots = rowptr[part][:, None] + np.arange(k)
        e_id[slots] = start[part][:, None] + sel.astype(np.int64)
    nbr = np.asarray(indices[e_id], dtype=np.int64)
    fresh = nbr[local[nbr] < 0]
    _, first = np.unique(fresh, return_index=True)
    new_nodes = fresh[np.sort(first)]  # first-appearance order, as the serial numba pass
    local[new_nodes] = np.arange(nodes.shape[0], nodes.shape[0] + new_nodes.shape[0])
    return rowptr, local[nbr].astype(np.int64), e_id, new_nodes


try:
    import numba
    from numba import njit, prange

    from sparsegraph.ops.sparse_kernels.numba_util import prefetch_row
except ImportError:  # pragma: no cover - numba is a hard dependency, but optional here
    numba = None

if numba is not None:
    _mix_nb = njit(inline="always", cache=True)(mix)
    _below_nb = njit(inline="always", cache=True)(_below)

    @njit(parallel=True, cache=True)
    def _sample_rows(indptr, indices, nodes, k, stream, rowptr, e_id, nbr):
        n = nodes.shape[0]
        for i in prange(n):
            # latency-bound: each row is a random read of indptr, then of indices; ask for
            # both a few rows ahead (the indptr entry of row i + 4 was requested at row i - 12)
            if i + 16 < n:
                prefetch_row(indptr, nodes[i + 16], 1)
            if i + 4 < n:
                prefetch_row(indices, indptr[nodes[i + 4]], 1)
            v = nodes[i]
            lo = np.int64(indptr[v])
            deg = np.int64(indptr[v + 1]) - lo
            o = rowptr[i]
            if k < 0 or deg <= k:
                for q in range(deg):
                    e_id[o + q] = lo + q
            else:
                key = _mix_nb(stream ^ _mix_nb((np.uint64(v) + np.uint64(1)) * G))
                for s in range(k):
                    j = deg - k + s
                    t = np.int64(_below_nb(_mix_nb(key + np.uint64(s + 1) * G),
                                           np.uint64(j + 1)))
                    for q in range(s):
                        if e_id[o + q] == t:
                            t = j  # j is new: every earlier pick is < j
                            break
                    e_id[o + s] = t
                for a in range(1, k):  # insertion sort: k is a small fan-out
                    t = e_id[o + a]
                    b = a - 1
                    while b >= 0 and e_id[o + b] > t:
                        e_id[o + b + 1] = e_id[o + b]
                        b -= 1
                    e_id[o + b + 1] = t
                for q in range(k):
                    e_id[o + q] += lo
            for q in range(rowptr[i + 1] - o):
                nbr[o + q] = indices[e_id[o + q]]

    @njit(cache=True)
    def _relabel(nbr, local, n_dst, col, new_nodes):
        # serial on purpose: ids are handed out in order of first appearance
        c = n_dst
        n = nbr.shape[0]
        for e in range(n):
            if e + 16 < n:
                prefetch_row(local, nbr[e + 16], 1)
            v = nbr[e]
            lid = local[v]
            if lid < 0:
                lid = c
                local[v] = c
                new_nodes[c - n_dst] = v
                c += 1
            col[e] = lid
        return c - n_dst

    @register("sample_neighbors", "cpu", name="numba", priority=20, fmt="csr")
    def sample_neighbors_numba(indptr, indices, nodes, k: int, stream: int, local):
        """numba kernel: rows sampled in parallel (each row written by one thread), then one
        serial relabelling pass over the sampled edges."""
        _, _, _, rowptr = _counts(indptr, nodes, k)
        total = int(rowptr[-1])
        e_id = np.empty(total, np.int64)
        nbr = np.empty(total, np.int64)
        _sample_rows(indptr, indices, nodes, k, np.uint64(stream), rowptr, e_id, nbr)
        col = np.empty(total, np.int64)
        new_nodes = np.empty(total, np.int64)
        n_new = _relabel(nbr, local, nodes.shape[0], col, new_nodes)
        return rowptr, col, e_id, new_nodes[:n_new].copy()
