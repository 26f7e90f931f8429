"""`ToDense` (PyG's ``T.ToDense``): a graph as padded dense arrays, and `DenseGraph`, the
attribute container it returns (PyG's ``Data`` with ``adj`` / ``mask`` and no edges).

A `sparsegraph.Graph` is built around its sparse adjacency (``g.adj`` is a CSR SparseTensor),
so the dense form is a container of its own: ``x`` ``(N, F)``, ``adj`` ``(N, N)`` (plus
``edge_attr``'s trailing dims), ``mask`` ``(N,)`` bool and the graph's other attributes, with
PyG's ``Data`` access by name. `sparsegraph.datasets.DenseDataLoader` stacks them into
batches ``(B, N, ...)`` for the dense layers (`sparsegraph.gnn.DenseSAGEConv`,
`sparsegraph.gnn.dense_diff_pool`, ...).
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import zeros
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor
from sparsegraph.transforms.base import BaseTransform, check_bool, check_int, on_graph

__all__ = ["DenseGraph", "ToDense"]

# PyG's ``Data`` answers None for these when unset (``data.edge_index is None`` after ToDense)
_STANDARD = ("x", "y", "pos", "adj", "mask", "edge_index", "edge_attr", "edge_weight",
             "batch", "ptr", "face", "norm", "time")


class DenseGraph:
    """A densified graph, or a batch of them: PyG's ``Data`` as `ToDense` leaves it.

    Attributes are set by keyword (``DenseGraph(x=x, adj=adj, mask=mask, y=y)``) and read
    as attributes or by name, as on PyG's ``Data``: ``g.x``, ``g["adj"]``, ``g["y"] = v``,
    ``"mask" in g``, ``del g["y"]``, ``g.keys()``, ``for key, value in g``, ``g("x", "y")``.
    An unset standard name (``x``, ``y``, ``pos``, ``adj``, ``mask``, ``edge_index``,
    ``edge_attr``, ``edge_weight``, ``batch``, ...) reads as None, as in PyG. Values are kept
    as given (no per-node checks: the node count is the padded one).

    Shapes, from `ToDense`: ``x`` ``(N, F)``, ``adj`` ``(N, N, *)``, ``mask`` ``(N,)``; from
    `sparsegraph.datasets.DenseDataLoader`: each with a leading batch dim ``B``.
    """

    def __init__(self, **attrs):
        for key, value in attrs.items():
            self[key] = value

    def __getattr__(self, name: str):  # only for names not set
        if name in _STANDARD:
            return None
        raise AttributeError(f"'DenseGraph' object has no attribute {name!r}")

    # ---- PyG's Data access by name -----------------------------------------------------------
    def keys(self) -> list[str]:
        """The names of the attributes that are set (not None), in the order they were set."""
        return [k for k, v in vars(self).items() if v is not None and not k.startswith("_")]

    def _key(self, key) -> str:
        if not isinstance(key, str) or key.startswith("_") or hasattr(type(self), key):
            raise TypeError(f"DenseGraph: expected a data attribute name as key (got {key!r}, "
                            f"{'not a str' if not isinstance(key, str) else 'a reserved name'})")
        return key

    def __setattr__(self, key: str, value) -> None:
        object.__setattr__(self, self._key(key), value)

    def __getitem__(self, key: str):
        self._key(key)
        value = vars(self).get(key)
        if value is None:
            raise KeyError(f"DenseGraph: no attribute {key!r} (it has: {', '.join(self.keys())})")
        return value

    def __setitem__(self, key: str, value) -> None:
        setattr(self, key, value)

    def __delitem__(self, key: str) -> None:
        vars(self).pop(self._key(key), None)  # an unset one is no error, as in PyG

    def __delattr__(self, key: str) -> None:
        del self[key]

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and key in self.keys()

    def __iter__(self):
        return ((k, vars(self)[k]) for k in self.keys())

    def __call__(self, *keys: str):
        """``(key, value)`` pairs for ``keys`` that are set (every one without arguments)."""
        for key in keys:
            self._key(key)
        return ((k, vars(self)[k]) for k in (keys or self.keys()) if k in self)

    # ---- counts ------------------------------------------------------------------------------
    @property
    def num_nodes(self) -> int | None:
        """The padded node count ``N`` (the real ones: ``mask.sum()``), from ``mask`` or
        ``x``'s node dim (``-2``)."""
        if self.mask is not None:
            return int(self.mask.shape[-1])
        return None if self.x is None or len(self.x.shape) < 2 else int(self.x.shape[-2])

    @property
    def num_features(self) -> int:
        """Columns of ``x`` (0 without one), as PyG's ``num_node_features``."""
        return 0 if self.x is None or not len(self.x.shape) else int(self.x.shape[-1])

    @property
    def num_node_features(self) -> int:
        return self.num_features

    @property
    def num_edge_features(self) -> int:
        """Columns of ``edge_attr``: 0 after `ToDense`, which moves it into ``adj`` (PyG's)."""
        a = self.edge_attr
        return 0 if a is None else (int(a.shape[-1]) if len(a.shape) > 1 else 1)

    # ---- devices and copies -------------------------------------------------------------------
    def to(self, device, *attrs: str, non_blocking: bool = False) -> DenseGraph:
        """A new DenseGraph with its Tensor / SparseTensor attributes (all, or those named in
        ``attrs``) on ``device``, as PyG's ``Data.to(device, *args)``; ``non_blocking`` is
        accepted (each copy is complete on return)."""
        check_bool("DenseGraph.to", "non_blocking", non_blocking)
        device = backend.normalize_device(device)
        for a in attrs:
            if self._key(a) not in self:
                raise ValueError(f"DenseGraph.to: expected names of attributes set on the "
                                 f"graph, among {self.keys()} (got {a!r})")
        return self._map(lambda v: v.to(device), attrs)

    def cpu(self, *attrs: str) -> DenseGraph:
        return self.to("cpu", *attrs)

    def cuda(self, device=None, *attrs: str, non_blocking: bool = False) -> DenseGraph:
        if isinstance(device, int) and not isinstance(device, bool):
            device = f"cuda:{device}"
        return self.to("cuda" if device is None else device, *attrs, non_blocking=non_blocking)

    def clone(self) -> DenseGraph:
        """A copy whose Tensors (and numpy arrays) are copies, as PyG's ``data.clone()``."""
        out = self._map(lambda v: v.clone() if isinstance(v, Tensor) else
                        SparseTensor(v.structure, v.values.clone()))
        for k, v in vars(out).items():
            if isinstance(v, np.ndarray):
                vars(out)[k] = v.copy()
        return out

    def _map(self, fn, attrs=()) -> DenseGraph:
        out = DenseGraph.__new__(DenseGraph)
        for k, v in vars(self).items():
            hit = isinstance(v, Tensor | SparseTensor) and (not attrs or k in attrs)
            vars(out)[k] = fn(v) if hit else v
        return out

    def __repr__(self) -> str:
        parts = []
        for key, value in self:
            shape = getattr(value, "shape", None)
            parts.append(f"{key}={list(shape)}" if shape is not None else f"{key}={value!r}")
        return f"DenseGraph({', '.join(parts)})"


def _padded(value, n: int):
    """``value`` (Tensor or numpy array, ``(n0, ...)``) with zero rows up to ``n`` (the
    Tensor differentiable in ``value``, as PyG's ``torch.cat``)."""
    extra = n - value.shape[0]
    if extra == 0:
        return value
    shape = (extra, *value.shape[1:])
    if isinstance(value, np.ndarray):
        return np.concatenate([value, np.zeros(shape, value.dtype)])
    return ops.cat([value, zeros(shape, dtype=value.dtype, device=value.device)])


class ToDense(BaseTransform):
    """A graph as dense, zero-padded arrays (PyG's ``ToDense``): a `DenseGraph` with

    - ``adj`` ``(N, N, *)``: ``adj[i, j]`` the sum of the values of the edges ``i -> j``
      (PyG's source-major orientation, as `sparsegraph.gnn.to_dense_adj`; the transpose of
      the target-major ``Graph.adj``). The values are ``edge_attr`` when set (its trailing
      dims become ``adj``'s, as in PyG), else the graph's edge weights (ones for an
      unweighted graph, as PyG's ``torch.ones``). PyG reads ``edge_attr`` only and leaves an
      ``edge_weight`` attribute behind; here the weights are the adjacency's own values, so
      they are used (and dropped when ``edge_attr`` is set, which wins as in PyG).
    - ``mask`` ``(N,)`` bool: True for the graph's own nodes, False for the padding.
    - ``x``, ``pos`` and a node-level ``y`` (one row per node) padded with zero rows; a
      graph-level ``y`` (``(1, ...)``) is kept as is. PyG takes any ``y`` with as many rows
      as nodes for node-level, so a one-node graph's label gets padded; here a one-node
      graph's ``y`` stays as it is (graph classification is what ToDense batches are for).
      A CSR ``x`` becomes dense.
    - every other attribute as it was (``edge_index`` / ``edge_attr`` gone, as in PyG).

    Differentiable in ``x``, ``pos``, ``y``, the edge weights and ``edge_attr``.

    Args:
        num_nodes: ``N``, the padded node count (an int >= 1), the same for every graph so
            that `sparsegraph.datasets.DenseDataLoader` can stack them; None (default): each
            graph's own node count (no padding).

    Raises:
        TypeError: a ``num_nodes`` that is not an int; calling it with anything but a Graph.
        ValueError: ``num_nodes`` < 1; a graph with more nodes than ``num_nodes`` (PyG
            asserts), naming both counts.

    Example:
        >>> ds = TUDataset("PROTEINS", transform=T.ToDense(150),
        ...                pre_filter=lambda g: g.num_nodes <= 150)
        >>> ds[0]
        DenseGraph(x=[150, 3], y=[1], adj=[150, 150], mask=[150])
    """

    def __init__(self, num_nodes: int | None = None):
        self.num_nodes = None if num_nodes is None else check_int("ToDense", "num_nodes",
                                                                   num_nodes, low=1)

    def forward(self, data) -> DenseGraph:
        n0 = data.num_nodes
        n = n0 if self.num_nodes is None else self.num_nodes
        if n0 > n:
            raise ValueError(f"ToDense: expected graphs of at most num_nodes={n} nodes (got a "
                             f"graph of {n0} nodes); raise num_nodes, or leave the larger "
                             f"graphs out, e.g. pre_filter=lambda g: g.num_nodes <= {n}")
        s = data._host_structure()  # target-major CSR: rows are targets, cols sources
        flat = s.cols().astype(np.int64) * n + s.rows()
        values = data.edge_attr if data.edge_attr is not None else data.adj.values
        adj = ops.scatter_add(values, flat, dim_size=n * n).reshape((n, n, *values.shape[1:]))
        mask = np.zeros(n, bool)
        mask[:n0] = True
        out = {}
        for key, value in vars(data).items():
            if (key in ("num_nodes", "adj", "edge_attr") or key.startswith("_")
                    or value is None):
                continue
            if key == "x" and isinstance(value, SparseTensor):
                value = value.to_dense()
            rows = getattr(value, "shape", ())[:1] == (n0,)
            if key in ("x", "pos") or key == "y" and rows and n0 != 1:
                value = _padded(value, n) if rows else value
            out[key] = value
        return DenseGraph(**out, adj=adj, mask=on_graph(mask, data))

    def __repr__(self) -> str:
        args = "" if self.num_nodes is None else f"num_nodes={self.num_nodes}"
        return f"{type(self).__name__}({args})"
