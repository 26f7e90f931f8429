"""Readout: pool node features into one vector per graph of a batch."""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, host_values


def graphs_needed(op: str, b) -> int:
    """The number of graphs a ``batch`` array of graph ids refers to (its max + 1, 0 when
    empty); TypeError for ids that are not integers, ValueError for a negative one."""
    if not b.size:
        return 0
    if b.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer graph ids in `batch` (got {b.dtype})")
    if int(b.min()) < 0:
        raise ValueError(f"{op}: expected graph ids >= 0 in `batch` (got {int(b.min())})")
    return int(b.max()) + 1


def _segments(x: Tensor, batch, size: int | None, op: str):
    """``batch`` as an index array on x's device, and the number of graphs."""
    b = host_values(batch, f"{op}: the graphs grouped by `batch`")  # the groups: guarded
    b = b if isinstance(batch, Tensor) else x.xp.asarray(b)
    if b.shape != (x.shape[0],):
        raise ValueError(f"{op}: expected `batch` with {x.shape[0]} entries to match `x` "
                         f"(got shape {b.shape})")
    needed = graphs_needed(op, b)
    if size is None:
        return b, needed
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
        raise ValueError(f"{op}: expected `size` to be an int >= 0 (got {size!r})")
    if size < needed:
        raise ValueError(f"{op}: `batch` holds graph ids up to {needed - 1}, which needs "
                         f"`size` >= {needed} (got size={size})")
    return b, int(size)


def _one_graph(reduce: str, x: Tensor, size, op: str) -> Tensor:
    """``batch=None``: every node in one graph, ``(1, F)`` as PyG's
    ``x.sum / mean / max(dim=0, keepdim=True)``, even for an empty ``x`` (not ``(0, F)``)."""
    if size is not None and (isinstance(size, bool) or not isinstance(size, int | np.integer)
                             or size != 1):
        # PyG ignores `size` here; more than one graph without a batch is a caller's mistake
        raise ValueError(f"{op}: with batch=None every node is in one graph, so `size` must "
                         f"be 1 or None (got size={size!r}); pass `batch` for more graphs")
    n = x.shape[0]
    if n == 0 and reduce == "max":
        raise ValueError(f"{op}: the max of an empty `x` (0 nodes, batch=None) is undefined, "
                         f"as torch's x.max(dim=0) in PyG; pass an empty `batch` and size=1 "
                         f"for a row of zeros (PyG's scatter of an empty graph)")
    out = ops.segment(x, x.xp.asarray([0, n], dtype=np.int64), reduce)
    if n == 0 and reduce == "mean":
        out = out + float("nan")  # torch's mean of nothing (PyG: x.mean(dim=0)); shape kept
    return out


def _pool(reduce: str, x, batch, size: int | None, op: str) -> Tensor:
    if isinstance(x, SparseTensor):
        # sparse CSR features (a first layer's input): pooled as the dense matrix they stand for
        x = x.to_dense()
    elif not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected `x` as a Tensor or SparseTensor "
                        f"(got {type(x).__name__})")
    if batch is None:
        return _one_graph(reduce, x, size, op)
    b, n = _segments(x, batch, size, op)
    if b.size and bool((b[1:] >= b[:-1]).all()):
        # batches from Graph.batch are sorted: a segment reduction over contiguous rows
        indptr = b.searchsorted(x.xp.arange(n + 1)).astype(np.int64)
        return ops.segment(x, indptr, reduce)
    return ops.scatter(x, b, n, reduce)


def global_add_pool(x: Tensor, batch=None, size: int | None = None) -> Tensor:
    """Sum of node features per graph: ``(N, F)`` with ``batch`` ``(N,)`` -> ``(G, F)``.

    ``x`` may be sparse CSR (densified); ``size`` (G) defaults to ``batch.max() + 1``, and
    graphs without nodes give 0 (PyG's scatter). ``batch=None`` means one graph: ``(1, F)``,
    zeros for an empty ``x`` (PyG's ``x.sum(dim=0, keepdim=True)``); ``size`` must then be
    None or 1.
    """
    return _pool("sum", x, batch, size, "global_add_pool")


def global_mean_pool(x: Tensor, batch=None, size: int | None = None) -> Tensor:
    """Mean of node features per graph, ``(N, F)`` -> ``(G, F)`` as `global_add_pool`;
    graphs without nodes give 0 (PyG's scatter). ``batch=None``: one graph, ``(1, F)``; NaN
    for an empty ``x``, as PyG's ``x.mean(dim=0, keepdim=True)``. Integer or bool features
    give a float32 mean, as PyG's scatter mean (a sum divided by the counts), not a floor."""
    if isinstance(x, Tensor) and x.dtype.kind in "iub":
        x = x.float()
    return _pool("mean", x, batch, size, "global_mean_pool")


def global_max_pool(x: Tensor, batch=None, size: int | None = None) -> Tensor:
    """Feature-wise max per graph, ``(N, F)`` -> ``(G, F)`` as `global_add_pool`; the
    gradient goes to the arg-max node, graphs without nodes give 0 (PyG's scatter). On ties
    the whole gradient of a feature goes to the first tied node (the smallest row of ``x``),
    as torch_scatter's max; torch's ``scatter_reduce(amax)`` would split it evenly.
    ``batch=None``: one graph, ``(1, F)``; an empty ``x`` is a ValueError (PyG's
    ``x.max(dim=0)`` raises too)."""
    return _pool("max", x, batch, size, "global_max_pool")
