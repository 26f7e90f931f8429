"""Degree and propagation features: `LocalDegreeProfile`, `TargetIndegree`, `SIGN` (PyG's),
plus `append_columns`, PyG's ``add_node_attr`` concatenation of new node columns to ``x``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sparsegraph import backend
from sparsegraph.ops import cat, gather_rows, segment
from sparsegraph.ops.graph_norm import inv_degree
from sparsegraph.sparse import SparseTensor, from_scipy
from sparsegraph.tensor import Tensor
from sparsegraph.transforms.base import BaseTransform, check_bool, check_int, on_graph


def append_columns(data, cols: Tensor):
    """``data.x`` with the float columns ``cols`` ``(N, k)`` appended, or ``cols`` as ``x``
    when the graph has none (PyG's ``torch.cat([x, cols], -1)``: a 1-D ``x`` becomes one
    column, an integer ``x`` is promoted to ``cols``' float dtype, a CSR ``x`` stays CSR)."""
    x = data.x
    if x is None:
        data.x = cols
    elif isinstance(x, SparseTensor):
        dtype = x.dtype if x.dtype.kind == "f" else cols.dtype
        a = sp.hstack([x.to_scipy().astype(dtype),
                       sp.csr_matrix(np.asarray(cols.detach().to("cpu").numpy(), dtype))])
        out = from_scipy(a.tocsr())
        data.x = out if x.device == "cpu" else out.to(x.device)
    else:
        x = x.reshape((-1, 1)) if len(x.shape) == 1 else x
        x = x if x.dtype.kind == "f" else x.to(cols.dtype)
        data.x = cat([x, cols if cols.dtype == x.dtype else cols.to(x.dtype)], dim=1)
    return data


class LocalDegreeProfile(BaseTransform):
    """The Local Degree Profile of Cai & Wang, "A Simple yet Effective Baseline for
    Non-attribute Graph Classification" (2018), appended to ``x`` (PyG's
    ``LocalDegreeProfile``): five columns ``deg(i), min, max, mean, std of {deg(j)}`` over
    the edges ``i -> j``, ``deg`` the out-degree (row 0 of ``edge_index``; a repeated edge
    counts each time, as PyG's ``degree``).

    As PyG's fused aggregation: the standard deviation is the population one,
    ``sqrt(max(var, 1e-5))`` (so ``sqrt(1e-5)`` for a node of out-degree 0 or of equal
    neighbour degrees), and a node without out-edges gets 0 for min, max and mean. The
    columns are float32 (the default float), appended in ``x``'s float dtype; a graph
    without ``x`` gets them as ``x``.
    """

    def forward(self, data):
        n = data.num_nodes
        s = data.adj.structure.to("cpu")
        t, _ = s.transpose()  # source-major: row i lists the targets j of the edges i -> j
        counts = np.diff(np.asarray(t.indptr, np.int64))
        deg = counts.astype(np.float64)
        neigh = deg[np.asarray(t.indices, np.int64)]
        src = np.repeat(np.arange(n), counts)
        num = np.maximum(counts, 1)
        mean = np.bincount(src, neigh, minlength=n) / num
        var = np.bincount(src, neigh * neigh, minlength=n) / num - mean * mean
        low, high = np.zeros(n), np.zeros(n)
        has = counts > 0
        starts = np.asarray(t.indptr[:-1], np.int64)[has]
        if starts.size:
            low[has] = np.minimum.reduceat(neigh, starts)
            high[has] = np.maximum.reduceat(neigh, starts)
        cols = np.stack([deg, low, high, mean, np.sqrt(np.maximum(var, 1e-5))], axis=1)
        return append_columns(data, on_graph(cols.astype(backend.DEFAULT_FLOAT), data))


class TargetIndegree(BaseTransform):
    """The in-degree of each edge's target as an edge feature (PyG's ``TargetIndegree``):
    ``deg(j)`` for the edge ``i -> j`` (the edge count into ``j``, weights not counted),
    divided by the largest in-degree (``norm``; or by ``max_value`` when given).

    Args:
        norm: normalise to ``[0, 1]``. (default: True)
        max_value: the divisor instead of the largest in-degree. (default: None)
        cat: append the column to ``edge_attr`` (a 1-D one becomes one column; the column
            takes its dtype) rather than replace it. (default: True)
    """

    def __init__(self, norm: bool = True, max_value: float | None = None, cat: bool = True):
        self.norm = check_bool("TargetIndegree", "norm", norm)
        if max_value is not None and (isinstance(max_value, bool)
                                      or not isinstance(max_value, int | float | np.number)):
            raise TypeError(f"TargetIndegree: expected `max_value` to be a number or None (got "
                            f"{type(max_value).__name__} {max_value!r})")
        self.max = max_value
        self.cat = check_bool("TargetIndegree", "cat", cat)

    def forward(self, data):
        s = data.adj.structure.to("cpu")
        deg = np.diff(np.asarray(s.indptr, np.int64)).astype(np.float32)  # rows are targets
        if self.norm:
            top = deg.max(initial=0.0) if self.max is None else np.float32(self.max)
            with np.errstate(divide="ignore", invalid="ignore"):
                deg = deg / top
        col = deg[s.rows()].reshape(-1, 1)
        pseudo = data.edge_attr
        if pseudo is not None and self.cat:
            pseudo = pseudo.reshape((-1, 1)) if len(pseudo.shape) == 1 else pseudo
            data.edge_attr = cat([pseudo, on_graph(col.astype(pseudo.dtype), data)], dim=1)
        else:
            data.edge_attr = on_graph(col.astype(backend.DEFAULT_FLOAT), data)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(norm={self.norm}, max_value={self.max})"


class SIGN(BaseTransform):
    """The scalable inception graph network precomputation of Frasca et al., "SIGN: Scalable
    Inception Graph Neural Networks" (2020) (PyG's ``SIGN``): ``x1 .. xK`` with
    ``x_k = A_hat @ x_{k-1}``, ``A_hat = D^-1/2 A D^-1/2`` on the graph as it is (no self
    loops added), ``D`` the weighted in-degree (a node of degree 0 gets 0). ``A`` is the
    target-major ``g.adj`` (PyG's ``adj_t``), so ``x_k[i]`` sums over the edges ``j -> i``.
    Differentiable w.r.t. ``x`` and the weights. A CSR ``x`` is made dense; an integer one
    float; ``x`` and the weights meet in the wider float dtype of the two.

    Args:
        K: the number of hops, an int >= 1.

    Raises:
        ValueError: a graph without ``x``.
    """

    def __init__(self, K: int):
        self.K = check_int("SIGN", "K", K, low=1)

    def forward(self, data):
        x = data.x
        if x is None:
            raise ValueError("SIGN: expected a graph with node features `x` (got x=None)")
        x = x.to_dense() if isinstance(x, SparseTensor) else x
        x = x if x.dtype.kind == "f" else x.to(backend.DEFAULT_FLOAT)
        st, w = data.adj.structure, data.adj.values
        dtype = np.result_type(x.dtype, w.dtype) if w.dtype.kind == "f" else x.dtype
        x, w = (t if t.dtype == dtype else t.to(dtype) for t in (x, w))
        dinv = inv_degree(segment(w, st.indptr, "sum"), -0.5)
        adj = SparseTensor(st, gather_rows(dinv, st.rows()) * w * gather_rows(dinv, st.indices))
        for k in range(1, self.K + 1):
            x = adj @ x
            setattr(data, f"x{k}", x)
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(K={self.K})"
