"""Edge-set transforms: `ToSparseTensor`, `RemoveIsolatedNodes`, `RemoveDuplicatedEdges`,
`AddRemainingSelfLoops`, `VirtualNode` (PyG's), vectorised over the CSR index arrays.

Every per-edge field (the weights, ``edge_attr``, each ``edge_<name>``) follows the edges
through these, where PyG updates the attributes it is told about and leaves the others stale.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sparsegraph import backend
from sparsegraph.graph_ops import _node_axis
from sparsegraph.ops import cat, segment
from sparsegraph.sparse import SparseTensor, from_scipy
from sparsegraph.tensor import Tensor, wrap
from sparsegraph.transforms.base import BaseTransform, check_bool, check_str
from sparsegraph.transforms.structure import AddSelfLoops

LAYOUTS = (None, "csr", "coo")
DUPLICATE_REDUCES = ("add", "sum", "mean", "min", "max", "mul")


class ToSparseTensor(BaseTransform):
    """PyG's ``ToSparseTensor``: the adjacency as ``data.adj_t``, the transposed
    (target-major) sparse matrix, ``adj_t[i, j]`` the edge ``j -> i``, so ``adj_t @ x``
    aggregates, in PyG's order (sorted by target, then source).

    A Graph already holds exactly that matrix as ``g.adj``, and its ``edge_index`` /
    ``edge_weight`` are views of it, so they cannot be removed: ``adj_t`` is a SparseTensor
    sharing ``g.adj``'s structure, with the values of ``attr`` (the weights; or a per-edge
    field such as ``edge_attr``, ``(E, D)`` values; ones when ``attr`` is None or not set, as
    PyG's value-less matrix). With ``remove_edge_index`` the ``attr`` field is deleted, as
    PyG deletes it (the weights stay: they are ``g.adj``'s values).

    ``adj_t`` is kept as given by `Graph.batch` / `Graph.subgraph`, which treat it as rows
    of nodes: apply the transform after batching or to each graph you use on its own.

    Args:
        attr: the name of the attribute whose values ``adj_t`` holds. (default: "edge_weight")
        remove_edge_index: delete ``attr`` (a per-edge field). (default: True)
        fill_cache: build the structure's row ids and its transpose now. (default: True)
        layout: None or ``"csr"`` (a CSR SparseTensor, PyG's default), or ``"coo"``.

    Raises:
        ValueError: an ``attr`` that is set but is not a per-edge field (one row per edge).
    """

    def __init__(self, attr: str | None = "edge_weight", remove_edge_index: bool = True,
                 fill_cache: bool = True, layout=None):
        if attr is not None and not isinstance(attr, str):
            raise TypeError(f"ToSparseTensor: expected `attr` to be an attribute name or None "
                            f"(got {type(attr).__name__} {attr!r})")
        self.attr = attr
        self.remove_edge_index = check_bool("ToSparseTensor", "remove_edge_index",
                                            remove_edge_index)
        self.fill_cache = check_bool("ToSparseTensor", "fill_cache", fill_cache)
        if layout not in LAYOUTS:
            raise ValueError(f"ToSparseTensor: expected `layout` in {LAYOUTS} (got {layout!r})")
        self.layout = layout

    def forward(self, data):
        adj, attr = data.adj, self.attr
        if attr is None or attr not in data:
            values = wrap(np.ones(adj.nnz, backend.DEFAULT_FLOAT))
            values = values if adj.device == "cpu" else values.to(adj.device)
        elif attr == "edge_weight":
            values = adj.values
        else:
            values = getattr(data, attr)
            if not attr.startswith("edge_") or getattr(values, "shape", (None,))[0] != adj.nnz:
                raise ValueError(f"ToSparseTensor: expected `attr` to name the edge weights or "
                                 f"a per-edge field with one row per edge ({adj.nnz}) (got "
                                 f"{attr!r})")
            if self.remove_edge_index:
                delattr(data, attr)
        adj_t = SparseTensor(adj.structure, values)
        if self.fill_cache:
            adj.structure.rows()
            adj.structure.transpose()
        data.adj_t = adj_t.to_coo() if self.layout == "coo" else adj_t
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(attr={self.attr}, layout={self.layout})"


class RemoveIsolatedNodes(BaseTransform):
    """Drop the nodes that no edge touches (PyG's ``RemoveIsolatedNodes``); a node whose only
    edge is a self loop is kept, as in PyG. The others are relabelled ``0..k-1`` in their
    order, with their rows of every node attribute (`Graph.subgraph`)."""

    def forward(self, data):
        s = data.adj.structure.to("cpu")
        used = np.zeros(data.num_nodes, bool)
        used[s.rows()] = True
        used[s.cols()] = True
        return data if used.all() else data.subgraph(used)


def _reduced(value: Tensor, indptr: np.ndarray, reduce: str) -> Tensor:
    """``value`` (E, ...) reduced over consecutive groups ``indptr`` (differentiable, but
    ``"mul"``, taken on the host)."""
    if reduce == "mul":
        v = np.asarray(value.detach().numpy()) if isinstance(value, Tensor) else value
        out = wrap(np.multiply.reduceat(v, indptr[:-1], axis=0)) if v.shape[0] else wrap(v)
        return out if value.device == "cpu" else out.to(value.device)
    return segment(value, indptr, "sum" if reduce == "add" else reduce)


class RemoveDuplicatedEdges(BaseTransform):
    """Merge repeated edges into one (PyG's ``RemoveDuplicatedEdges``: ``coalesce``). The
    attributes named in ``key`` that the graph has are merged by ``reduce``: ``"edge_weight"``
    (given weights; an unweighted graph stays unweighted), ``"edge_attr"``, any
    ``edge_<name>``. Every other per-edge field, which PyG would leave one row per old edge,
    keeps the first copy's row. Differentiable w.r.t. the merged values (but ``"mul"``).

    Args:
        key: an attribute name or a list of them. (default: ``["edge_attr", "edge_weight"]``)
        reduce: ``"add"`` (``"sum"``), ``"mean"``, ``"min"``, ``"max"`` or ``"mul"``.
    """

    def __init__(self, key=("edge_attr", "edge_weight"), reduce: str = "add"):
        keys = [key] if isinstance(key, str) else key
        if not isinstance(keys, list | tuple) or not all(isinstance(k, str) for k in keys):
            raise TypeError(f"RemoveDuplicatedEdges: expected `key` to be an attribute name or "
                            f"a list of them (got {key!r})")
        self.keys = list(keys)
        self.reduce = check_str("RemoveDuplicatedEdges", "reduce", reduce, DUPLICATE_REDUCES)

    def forward(self, data):
        s = data.adj.structure.to("cpu")
        rows, cols = s.rows(), s.cols()  # CSR order: the copies of an edge are neighbours
        new = np.ones(rows.size, bool)
        new[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        if new.all():
            return data
        first = np.flatnonzero(new)
        indptr = np.append(first, rows.size)

        def merged(name, value):
            return (_reduced(value, indptr, self.reduce)
                    if name in self.keys and name in data else value[first])

        weight = merged("edge_weight", data.adj.values)
        fields = {k: merged(k, v) for k, v in data._edge_fields().items()}
        return data._with_edges(np.stack([cols[first], rows[first]]), weight, **fields)


class AddRemainingSelfLoops(AddSelfLoops):
    """PyG's ``AddRemainingSelfLoops``: a self loop for every node that has none; a node's
    own loop is kept (one of them, with its weight and fields), as PyG's
    ``add_remaining_self_loops``. The attribute ``attr`` gets ``fill_value`` on the new
    loops; the other per-edge fields, which PyG would leave one row short, get 1 (an
    integer ``edge_type`` too, whatever ``fill_value``).

    Args:
        attr: ``"edge_weight"`` or a per-edge field. (default: "edge_weight")
        fill_value: a number, a Tensor, or ``"add"`` / ``"mean"`` / ``"min"`` / ``"max"``:
            that reduce of the node's incoming edges' values. (default: 1.0)
    """

    def __init__(self, attr: str = "edge_weight", fill_value=1.0):
        super().__init__(attr=attr, fill_value=fill_value)


def _padded(key: str, value, axis: int, first_batch=None):
    """``value`` with one more entry on its node ``axis``: 0 / False, or (``batch``) the
    first node's graph id, as PyG's ``VirtualNode``."""
    if isinstance(value, SparseTensor):  # a CSR x: an empty row
        a = sp.vstack([value.to_scipy(), sp.csr_matrix((1, value.shape[1]),
                                                       dtype=value.dtype)]).tocsr()
        out = from_scipy(a)
        return out if value.device == "cpu" else out.to(value.device)
    shape = list(value.shape)
    shape[axis] = 1
    fill = first_batch if key == "batch" else 0
    if isinstance(value, np.ndarray):
        return np.concatenate([value, np.full(shape, fill, value.dtype)], axis=axis)
    extra = wrap(np.full(shape, fill, value.dtype))
    return cat([value, extra if value.device == "cpu" else extra.to(value.device)], dim=axis)


class VirtualNode(BaseTransform):
    """Append a virtual node joined to every node both ways (PyG's ``VirtualNode``, Gilmer
    et al., ICML 2017, "Neural Message Passing for Quantum Chemistry").

    As PyG: node ``N`` is new, with the edges ``i -> N`` and ``N -> i`` for every node
    ``i`` (no loop at ``N``); node attributes get a zero row (masks False; ``batch`` the
    first node's graph); the weights 1 on the new edges, every other per-edge field zeros;
    ``edge_type`` (zeros when the graph has none, int64) gets ``m + 1`` on the edges into
    ``N`` and ``m + 2`` on those out of it, ``m`` its largest value (0 without edges).
    """

    def forward(self, data):
        n = data.num_nodes
        s = data.adj.structure.to("cpu")
        ids = np.arange(n, dtype=np.int64)
        hub = np.full(n, n, np.int64)
        ei = np.concatenate([np.stack([s.cols(), s.rows()]).astype(np.int64),
                             np.stack([ids, hub]), np.stack([hub, ids])], axis=1)
        fields = data._edge_fields()
        edge_type = fields.pop("edge_type", None)
        et = (np.asarray(edge_type.detach().numpy() if isinstance(edge_type, Tensor)
                         else edge_type) if edge_type is not None
              else np.zeros(s.nnz, np.int64))
        top = int(et.max()) if et.size else 0
        et = np.concatenate([et, np.full(n, top + 1, et.dtype), np.full(n, top + 2, et.dtype)])

        def grown(value, fill):
            extra = wrap(np.full((2 * n,) + tuple(value.shape[1:]), fill, value.dtype))
            return cat([value, extra if value.device == "cpu" else extra.to(value.device)])

        weight = grown(data.adj.values, 1)
        fields = {k: grown(v if isinstance(v, Tensor) else wrap(np.asarray(v)), 0)
                  for k, v in fields.items()}
        nodes = {}
        for key, value in list(vars(data).items()):
            axis = _node_axis(data, key, value)
            if axis is not None:
                first = None
                if key == "batch":
                    first = int(np.asarray(value.detach().numpy() if isinstance(value, Tensor)
                                           else value)[0]) if n else 0
                nodes[key] = _padded(key, value, axis, first)
                delattr(data, key)
        data.num_nodes = n + 1  # pads adj with the new node
        out = data._with_edges(ei, weight, edge_type=wrap(et), **fields)
        for key in sorted(nodes, key=lambda k: k != "batch"):  # a batch before its labels
            setattr(out, key, nodes[key])
        return out
