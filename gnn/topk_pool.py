"""Top-k graph pooling: `TopKPooling` (Gao & Ji, "Graph U-Nets", ICML 2019; Cangea et al.,
"Towards Sparse Hierarchical Graph Classifiers", 2018) and `SAGPooling` (Lee et al.,
"Self-Attention Graph Pooling", ICML 2019), as PyG's.

Both score every node, keep the best-scoring nodes of each graph of a batch, gate the kept
features by their score (so the projection / GNN that scores them learns), and filter the
edges to the kept nodes (PyG's ``filter_adj``). The selection is index work on the host
(numpy, one sort for the whole batch); features, scores and ``edge_attr`` stay Tensors and
their gradient flows through `sparsegraph.ops`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import empty
from sparsegraph.gnn.edge_args import edge_index_array, edge_values, host_array, out, take
from sparsegraph.gnn.gin import GraphConv
from sparsegraph.gnn.inputs import check_features
from sparsegraph.gnn.pyg_scatter import softmax
from sparsegraph.gnn.utils import check_channels
from sparsegraph.nn import Module, Parameter, init
from sparsegraph.tensor import Tensor, wrap

__all__ = ["SAGPooling", "TopKPooling"]


# ---- selection (PyG's torch_geometric.nn.pool.select.topk) --------------------------------
def _topk(score, ratio, batch, min_score: float | None = None, tol: float = 1e-7):
    """The kept nodes (``perm``, int64 numpy) of every graph, as PyG's ``topk``.

    With ``min_score``: the nodes whose score is above ``min(max score of its graph - tol,
    min_score)`` (so no graph loses all its nodes), in node order. Else the
    ``k = ceil(ratio * N_g)`` (float ratio, computed in the score's dtype as PyG) or
    ``k = min(ratio, N_g)`` (int ratio) best nodes of every graph, graph by graph (ascending
    ids) and by descending score within a graph (ties: the smaller node id first).
    """
    s = np.asarray(score)
    b = np.asarray(batch, dtype=np.int64)
    graphs = int(b.max()) + 1 if b.size else 0
    if min_score is not None:
        top = np.full(graphs, -np.inf, dtype=s.dtype)
        np.maximum.at(top, b, s)
        threshold = np.minimum(top[b] - s.dtype.type(tol), s.dtype.type(min_score))
        return np.flatnonzero(s > threshold).astype(np.int64)
    counts = np.bincount(b, minlength=graphs)
    if isinstance(ratio, Integral):
        k = np.minimum(counts, int(ratio))
    else:  # PyG: (float(ratio) * num_nodes.to(x.dtype)).ceil()
        k = np.ceil(s.dtype.type(ratio) * counts.astype(s.dtype)).astype(np.int64)
    order = np.lexsort((-s, b))  # by graph, then descending score; stable on ties
    ptr = np.concatenate([[0], np.cumsum(counts)])
    ranked = b[order]
    rank = np.arange(s.size) - ptr[ranked]
    return order[rank < k[ranked]].astype(np.int64)


def _filter_adj(ei: np.ndarray, perm: np.ndarray, num_nodes: int):
    """PyG's ``filter_adj`` on the host: ``(kept edges relabelled to positions in perm,
    their column ids)``."""
    mapping = np.full(num_nodes, -1, dtype=np.int64)
    mapping[perm] = np.arange(perm.size)
    ends = mapping[ei]
    kept = np.flatnonzero((ends[0] >= 0) & (ends[1] >= 0))
    return ends[:, kept].astype(ei.dtype), kept


# ---- argument checks ----------------------------------------------------------------------
def _check_ratio(op: str, ratio, min_score):
    if min_score is not None:
        if isinstance(min_score, bool) or not isinstance(min_score, Real) or not math.isfinite(
                min_score):
            raise ValueError(f"{op}: expected `min_score` to be a finite float or None (got "
                             f"{min_score!r})")
        return ratio, float(min_score)
    if ratio is None:
        raise ValueError(f"{op}: at least one of `ratio` and `min_score` must be given (got "
                         "ratio=None, min_score=None)")
    if isinstance(ratio, Integral) and not isinstance(ratio, bool):
        if ratio < 1:
            raise ValueError(f"{op}: expected an int `ratio` (k nodes per graph) >= 1 (got "
                             f"{ratio!r})")
        return int(ratio), None
    if isinstance(ratio, bool) or not isinstance(ratio, Real) or not 0.0 < ratio <= 1.0:
        raise ValueError(f"{op}: expected `ratio` to be a float in (0, 1] (keep "
                         f"ceil(ratio * N) nodes per graph) or an int >= 1 (keep k) (got "
                         f"{ratio!r})")
    return float(ratio), None


def _activation(op: str, nonlinearity):
    """PyG's ``getattr(torch, nonlinearity)`` for a name, else the callable itself."""
    if isinstance(nonlinearity, str):
        fn = getattr(ops, nonlinearity, None)
        if not callable(fn):
            raise ValueError(f"{op}: expected `nonlinearity` to name an activation of "
                             f"sparsegraph.ops such as 'tanh' or 'sigmoid', or a callable (got "
                             f"{nonlinearity!r})")
        return fn
    if not callable(nonlinearity):
        raise TypeError(f"{op}: expected `nonlinearity` to be a str or a callable (got "
                        f"{type(nonlinearity).__name__})")
    return nonlinearity


def _batch(op: str, batch, n: int) -> np.ndarray:
    """The ``(N,)`` graph id of every node on the host (zeros for ``batch=None``)."""
    if batch is None:
        return np.zeros(n, dtype=np.int64)
    b, _ = host_array(op, "batch", batch)
    if b.shape != (n,):
        raise ValueError(f"{op}: expected `batch` of shape ({n},), one graph id per node of "
                         f"`x` (got shape {b.shape})")
    if b.size and int(b.min()) < 0:
        raise ValueError(f"{op}: expected graph ids >= 0 in `batch` (got {int(b.min())})")
    return b


class _TopKBase(Module):
    """Selection, gating and edge filtering shared by `TopKPooling` and `SAGPooling`."""

    def _setup(self, in_channels, ratio, min_score, multiplier, nonlinearity):
        op = type(self).__name__
        self.in_channels = check_channels(op, "in_channels", in_channels)
        self.ratio, self.min_score = _check_ratio(op, ratio, min_score)
        if isinstance(multiplier, bool) or not isinstance(multiplier, Real):
            raise ValueError(f"{op}: expected `multiplier` to be a float (got {multiplier!r})")
        self.multiplier = float(multiplier)
        self.nonlinearity = _activation(op, nonlinearity)

    def _check(self, x, edge_index, attn):
        op = type(self).__name__
        check_features(op, "x", x)
        ei, ei_device = edge_index_array(op, edge_index)
        n = x.shape[0]
        if ei.size and int(ei.max()) >= n:
            raise ValueError(f"{op}: expected `edge_index` node ids below {n}, the rows of `x` "
                             f"(got {int(ei.max())})")
        attn = x if attn is None else attn
        if not isinstance(attn, Tensor) or attn.ndim not in (1, 2) or attn.shape[0] != n:
            raise ValueError(f"{op}: expected `attn` as a Tensor of shape ({n},) or ({n}, F), "
                             f"one row per node of `x` (got "
                             f"{getattr(attn, 'shape', type(attn).__name__)})")
        return ei, ei_device, attn.reshape((n, 1)) if attn.ndim == 1 else attn

    def _select(self, x, ei, ei_device, edge_attr, batch, raw_score):
        """PyG's tail of forward: score, top-k, gate, filter edges."""
        op = type(self).__name__
        b = _batch(op, batch, x.shape[0])
        if self.min_score is None:
            score = self.nonlinearity(raw_score)
        else:
            score = softmax(raw_score, wrap(b), num_nodes=int(b.max()) + 1 if b.size else 0)
        perm = _topk(score.detach().numpy(), self.ratio, b, self.min_score)
        score_perm = ops.gather_rows(score, perm)
        x = ops.gather_rows(x, perm) * score_perm.reshape((perm.size, 1))
        x = x * self.multiplier if self.multiplier != 1 else x
        values = edge_values(op, "edge_attr", edge_attr, ei.shape[1])
        kept_ei, kept = _filter_adj(ei, perm, b.size)
        b_out = b[perm] if batch is not None else np.zeros(perm.size, dtype=np.int64)
        return (x, out(kept_ei, ei_device), take(values, kept),
                wrap(backend.to_device(b_out, x.device)),
                wrap(backend.to_device(perm, x.device)), score_perm)

    def __repr__(self) -> str:
        ratio = (f"ratio={self.ratio}" if self.min_score is None
                 else f"min_score={self.min_score}")
        return f"{self._head()}, {ratio}, multiplier={self.multiplier})"


class TopKPooling(_TopKBase):
    r"""The top-k pooling of Gao & Ji, "Graph U-Nets" (ICML 2019) and Cangea et al., "Towards
    Sparse Hierarchical Graph Classifiers" (2018), as PyG's:

    ``y = attn · p / ||p||``, ``idx = top_k(y)`` per graph, ``x' = (x ⊙ tanh(y))_idx``,
    ``A' = A_idx,idx``.

    Args:
        in_channels: the features ``F`` of ``attn`` (``x`` by default).
        ratio: a float in (0, 1]: keep ``ceil(ratio * N_g)`` nodes of every graph; an int
            ``k``: keep ``min(k, N_g)``. Ignored when ``min_score`` is given. (default: 0.5)
        min_score: keep the nodes whose softmax score (over their graph) is above
            ``min(min_score, max score of the graph - 1e-7)``; the score is then
            ``softmax(attn · p)`` (no norm, no ``nonlinearity``), as PyG. (default: None)
        multiplier: a factor on the pooled features. (default: 1.0)
        nonlinearity: the name of an activation of `sparsegraph.ops` or a callable.
            (default: "tanh")

    ``forward(x, edge_index, edge_attr=None, batch=None, attn=None)`` returns PyG's tuple
    ``(x, edge_index, edge_attr, batch, perm, score)``: pooled features ``(K, F)``, the edges
    between kept nodes renumbered to their rows in ``perm``, their ``edge_attr`` rows (or
    None), ``batch[perm]``, ``perm`` ``(K,)`` int64 (graph by graph, best score first; in
    node order with ``min_score``) and the kept scores ``(K,)``. The parameter ``weight``
    ``(1, in_channels)`` (PyG's ``p``) is initialised ``U(-1/sqrt(F), 1/sqrt(F))``.
    """

    def __init__(self, in_channels: int, ratio=0.5, min_score: float | None = None,
                 multiplier: float = 1.0, nonlinearity="tanh"):
        super().__init__()
        self._setup(in_channels, ratio, min_score, multiplier, nonlinearity)
        self.weight = Parameter(empty(1, self.in_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels)  # PyG's uniform(size, tensor)
        init.uniform_(self.weight, -bound, bound)

    def forward(self, x, edge_index, edge_attr=None, batch=None, attn=None):
        ei, ei_device, attn = self._check(x, edge_index, attn)
        if attn.shape[1] != self.in_channels:
            raise ValueError(f"TopKPooling: expected `attn` (x by default) with "
                             f"in_channels={self.in_channels} features (got "
                             f"{attn.shape[1]})")
        weight = self.weight
        if attn.dtype != weight.dtype:  # as the convs: no silent promotion of the parameters
            raise TypeError(f"TopKPooling: expected `attn` (x by default) of dtype "
                            f"{weight.dtype}, the layer's parameters' (got {attn.dtype}); "
                            "convert it, or the layer with .double()")
        raw = ops.sum(attn * weight, dim=-1)
        if self.min_score is None:
            raw = raw / ops.norm(weight, p=2, dim=-1)
        return self._select(x, ei, ei_device, edge_attr, batch, raw)

    def _head(self) -> str:
        return f"TopKPooling({self.in_channels}"


class SAGPooling(_TopKBase):
    r"""Self-attention graph pooling of Lee et al., "Self-Attention Graph Pooling" (ICML
    2019), as PyG's: ``y = GNN(attn, A)``, ``idx = top_k(y)`` per graph,
    ``x' = (x ⊙ tanh(y))_idx``, ``A' = A_idx,idx``.

    Args:
        in_channels: the features ``F`` of ``attn`` (``x`` by default).
        ratio, min_score, multiplier, nonlinearity: as `TopKPooling` (with ``min_score`` the
            score is the softmax of the GNN's output over each graph).
        GNN: the scoring layer class, built as ``GNN(in_channels, 1, **kwargs)`` and called
            as ``GNN(attn, edge_index)``. (default: `GraphConv`)
        **kwargs: more arguments of ``GNN``.

    ``forward(x, edge_index, edge_attr=None, batch=None, attn=None)`` returns the tuple of
    `TopKPooling`: ``(x, edge_index, edge_attr, batch, perm, score)``.
    """

    def __init__(self, in_channels: int, ratio=0.5, GNN=GraphConv,  # noqa: N803 (PyG's)
                 min_score: float | None = None, multiplier: float = 1.0,
                 nonlinearity="tanh", **kwargs):
        super().__init__()
        self._setup(in_channels, ratio, min_score, multiplier, nonlinearity)
        if not callable(GNN):
            raise TypeError(f"SAGPooling: expected `GNN` to be a layer class such as GraphConv "
                            f"(got {type(GNN).__name__})")
        self.gnn = GNN(self.in_channels, 1, **kwargs)

    def reset_parameters(self) -> None:
        self.gnn.reset_parameters()

    def forward(self, x, edge_index, edge_attr=None, batch=None, attn=None):
        ei, ei_device, attn = self._check(x, edge_index, attn)
        raw = self.gnn(attn, edge_index).reshape((x.shape[0],))
        return self._select(x, ei, ei_device, edge_attr, batch, raw)

    def _head(self) -> str:
        return f"SAGPooling({type(self.gnn).__name__}, {self.in_channels}"
