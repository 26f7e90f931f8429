"""DGCNN's sort pooling (Zhang et al., "An End-to-End Deep Learning Architecture for Graph
Classification", AAAI 2018), PyG's `SortAggregation` and its older functional name
`global_sort_pool`.

The nodes of every graph are ranked by their last feature channel, largest first, the first
``k`` kept and graphs of fewer nodes padded with zero rows; the result is flattened to
``(B, k * F)`` for a 1-D convolution or an MLP. The ranking is index work on the host (one
numpy sort for the whole batch); the kept rows are gathered with `sparsegraph.ops`, so the
gradient flows to them.
"""

from __future__ import annotations

import warnings

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import zeros
from sparsegraph.gnn.aggr import Aggregation, _on
from sparsegraph.gnn.edge_args import count
from sparsegraph.gnn.utils import check_int
from sparsegraph.tensor import Tensor, host_values

__all__ = ["SortAggregation", "global_sort_pool"]


def _rank(b: np.ndarray, groups: int):
    """Position of every entry within its group, for entries already grouped by ``b``."""
    start = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=groups))[:-1]])
    return np.arange(b.size) - start[b].astype(np.int64)


class SortAggregation(Aggregation):
    r"""Sort pooling (DGCNN): in every graph the nodes sorted by their last feature channel
    in descending order; the first ``k`` rows form the output, zero rows fill graphs of fewer
    than ``k`` nodes (and graphs without nodes), flattened to ``(B, k * F)``.

    Nodes tied on the last channel keep their order in ``x`` (a stable sort; torch's sort
    leaves ties unspecified). ``index`` may be unsorted (PyG requires it sorted); the nodes
    of a graph are then taken in their order of appearance.

    Args:
        k: the number of nodes kept per graph, an int >= 1.

    Call:
        ``aggr(x, index=None, ptr=None, dim_size=None, dim=-2, max_num_elements=None)``:
        ``x`` ``(N, F)`` with ``F >= 1``; ``max_num_elements`` (PyG's): only the first that
        many nodes of every graph (in node order) take part in the ranking.

    Shapes:
        ``(N, F)`` -> ``(B, k * F)``.
    """

    def __init__(self, k: int):
        super().__init__()
        check_int(type(self).__name__, "k", k, 1)
        self.k = int(k)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2,
                max_num_elements: int | None = None):
        op = type(self).__name__
        self.assert_two_dimensional_input(x, dim)
        n, f = x.shape
        if f < 1:
            raise ValueError(f"{op}: expected `x` with at least one feature channel to sort "
                             f"by (got shape {tuple(x.shape)})")
        limit = count(op, "max_num_elements", max_num_elements)
        index = self.group_index(index, ptr, n)
        b = np.asarray(backend.to_device(host_values(index, f"{op}: `index` read on the host"),
                                         "cpu")).astype(np.int64)
        order = np.argsort(b, kind="stable")  # grouped, node order within a graph
        if limit is not None:
            order = order[_rank(b[order], dim_size) < limit]
        last = host_values(x, f"{op}: nodes ranked by the last channel of `x`")
        key = np.asarray(backend.to_device(last[:, -1], "cpu"))[order]
        ranked = order[np.lexsort((-key, b[order]))]  # by graph, then descending last channel
        rank = _rank(b[ranked], dim_size)
        kept = rank < self.k
        slots = np.full(dim_size * self.k, n, np.int64)  # row n: the zero padding row
        slots[b[ranked[kept]] * self.k + rank[kept]] = ranked[kept]
        padded = ops.cat([x, zeros((1, f), dtype=x.dtype, device=x.device)])
        return ops.gather_rows(padded, _on(slots, x)).reshape((dim_size, self.k * f))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


def global_sort_pool(x: Tensor, index=None, k: int | None = None, *, batch=None) -> Tensor:
    """PyG's deprecated functional sort pooling, ``SortAggregation(k)(x, index)``: ``(N, F)``
    -> ``(B, k * F)``; warns (UserWarning) as PyG. ``batch=`` is accepted for ``index``
    (PyG 1.x's name)."""
    warnings.warn("'global_sort_pool' is deprecated, use 'SortAggregation' instead",
                  UserWarning, stacklevel=2)
    if batch is not None:
        if index is not None:
            raise ValueError("global_sort_pool: pass the graph ids as `index` or `batch`, not "
                             "both")
        index = batch
    if k is None:
        raise TypeError("global_sort_pool: missing the number of nodes to keep, `k`")
    return SortAggregation(k)(x, index=index)
