"""`Graph`: one graph (or a batch of graphs) with its adjacency, features, labels and masks.

The adjacency is a target-major CSR SparseTensor (row = destination, column = source), so
aggregation is ``adj @ x``. An ``edge_index`` (2 x E, row 0 = source, row 1 = target, PyG's
convention) is accepted at construction and converted once; edges are kept in the CSR order
(sorted by target, then source) and ``edge_attr`` rows follow them.
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor, wrap

NODE_FIELDS = ("x", "y", "train_mask", "val_mask", "test_mask", "batch")


def _as_tensor(value):
    if value is None or isinstance(value, Tensor | SparseTensor):
        return value
    import scipy.sparse as sp

    if sp.issparse(value):
        from sparsegraph.sparse import from_scipy

        return from_scipy(value.astype(np.float32) if value.dtype == np.float64 else value)
    array = np.asarray(value)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    return wrap(array)


def _edge_index_array(edge_index):
    ei = edge_index.array if isinstance(edge_index, Tensor) else edge_index
    ei = ei if hasattr(ei, "dtype") else np.asarray(ei)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"Graph: expected `edge_index` of shape (2, E) (got {ei.shape})")
    if ei.dtype.kind not in "iu":
        raise TypeError(f"Graph: expected an integer `edge_index` (got {ei.dtype})")
    return ei


class Graph:
    """A graph: ``num_nodes``, ``adj`` and any node / edge / graph attributes.

    Args:
        x: node features, dense ``(N, F)`` or sparse CSR ``(N, F)``.
        edge_index: ``(2, E)`` integer array, row 0 = source, row 1 = target.
        adj: a square SparseTensor adjacency (target-major) instead of ``edge_index``.
        edge_weight: ``(E,)`` values for the adjacency (default: ones).
        edge_attr: ``(E, D)`` edge features, in ``edge_index`` order.
        y: node labels ``(N,)`` (integers, -1 = unlabelled) or graph labels.
        num_nodes: node count (default: from ``x``, else from the largest index).
        **extra: any other attributes (kept as given).

    Raises:
        ValueError / TypeError: indices outside ``num_nodes``, feature or mask rows that do not
        match ``num_nodes``, non-integral or NaN labels, non-boolean masks.
    """

    def __init__(self, x=None, edge_index=None, adj=None, edge_weight=None, edge_attr=None,
                 y=None, num_nodes=None, **extra):
        x = _as_tensor(x)
        if num_nodes is None:
            if x is not None:
                num_nodes = x.shape[0]
            elif adj is not None:
                num_nodes = adj.shape[0]
            elif edge_index is not None:
                ei = _edge_index_array(edge_index)
                num_nodes = int(ei.max()) + 1 if ei.size else 0
            else:
                num_nodes = 0
        self.num_nodes = int(num_nodes)
        if adj is not None and edge_index is not None:
            raise ValueError("Graph: pass either `edge_index` or `adj`, not both")
        if adj is None:
            ei = (_edge_index_array(edge_index) if edge_index is not None
                  else np.zeros((2, 0), np.int64))
            if ei.size and (int(ei.min()) < 0 or int(ei.max()) >= self.num_nodes):
                bad = int(ei.min()) if int(ei.min()) < 0 else int(ei.max())
                raise ValueError(f"Graph: expected `edge_index` entries in [0, "
                                 f"{self.num_nodes}) for num_nodes={self.num_nodes} (got {bad})")
            adj, perm = self._adj_from_edges(ei, edge_weight)
            if edge_attr is not None:
                edge_attr = _as_tensor(edge_attr)
                if edge_attr.shape[0] != ei.shape[1]:
                    raise ValueError(f"Graph: expected `edge_attr` with {ei.shape[1]} rows, one "
                                     f"per edge (got {edge_attr.shape[0]})")
                edge_attr = edge_attr[perm] if perm is not None else edge_attr
        else:
            if not isinstance(adj, SparseTensor) or adj.shape[0] != adj.shape[1]:
                raise TypeError(f"Graph: expected `adj` to be a square SparseTensor "
                                f"(got {type(adj).__name__} {getattr(adj, 'shape', '')})")
            if adj.shape[0] != self.num_nodes:
                raise ValueError(f"Graph: expected `adj` of shape ({self.num_nodes}, "
                                 f"{self.num_nodes}) for num_nodes={self.num_nodes} "
                                 f"(got {adj.shape[:2]})")
            adj = adj.to_csr() if adj.layout != "csr" else adj
            edge_attr = _as_tensor(edge_attr)
        self.adj = adj
        self.edge_attr = edge_attr
        self.x = x
        self.y = _as_tensor(y)
        for key, value in extra.items():
            setattr(self, key, _as_tensor(value) if key.endswith("_mask") or key == "batch"
                    else value)
        for key in ("train_mask", "val_mask", "test_mask"):
            if not hasattr(self, key):
                setattr(self, key, None)
        if not hasattr(self, "batch"):
            self.batch = None
        self.validate()

    def _adj_from_edges(self, ei, edge_weight):
        """CSR adjacency plus the permutation from edge_index order to CSR order."""
        n = self.num_nodes
        key = ei[1].astype(np.int64) * max(n, 1) + ei[0]
        perm = np.argsort(key, kind="stable")
        if edge_weight is not None:
            w = _as_tensor(edge_weight)
            if w.shape != (ei.shape[1],):
                raise ValueError(f"Graph: expected `edge_weight` of shape ({ei.shape[1]},) "
                                 f"(got {w.shape})")
            values = w[perm]
        else:
            values = wrap(np.ones(ei.shape[1], np.float32))
        # sorted by (target, source): the CSR arrays follow directly, no second sort
        dst, src = ei[1][perm], ei[0][perm]
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(dst, minlength=n), out=indptr[1:])
        structure = Structure.csr(indptr, src, (n, n), op="Graph", validate=False)
        identity = bool(np.all(perm[1:] > perm[:-1])) if perm.size else True
        return SparseTensor(structure, values), (None if identity else perm)

    # ---- validation ---------------------------------------------------------------------------
    def validate(self) -> None:
        n = self.num_nodes
        if self.x is not None and self.x.shape[0] != n:
            raise ValueError(f"Graph: expected `x` with {n} rows for num_nodes={n} "
                             f"(got {self.x.shape[0]})")
        y = self.y
        if y is not None and isinstance(y, Tensor):
            if y.dtype.kind == "f":
                if bool(np.isnan(np.asarray(y)).any()):
                    raise ValueError("Graph: `y` contains NaN labels")
            elif y.dtype.kind in "iu" and y.shape[:1] == (n,) and y.array.size:
                if int(y.array.min()) < -1:
                    raise ValueError(f"Graph: expected class labels >= 0 (or -1 for unlabelled) "
                                     f"(got {int(y.array.min())})")
        for key in ("train_mask", "val_mask", "test_mask"):
            m = getattr(self, key)
            if m is None:
                continue
            if m.dtype != np.bool_:
                raise TypeError(f"Graph: expected `{key}` to be boolean (got {m.dtype})")
            if m.shape[-1] != n:
                raise ValueError(f"Graph: expected `{key}` of length {n} (got shape {m.shape})")

    # ---- views and counts ---------------------------------------------------------------------
    @property
    def edge_index(self):
        """``(2, E)`` array (row 0 = source, row 1 = target) in CSR order."""
        s = self.adj.structure
        xp = backend.xp_of(s.indices)
        return xp.stack([s.cols(), s.rows()])

    @property
    def edge_weight(self) -> Tensor:
        return self.adj.values

    @property
    def num_edges(self) -> int:
        return self.adj.nnz

    @property
    def num_features(self) -> int:
        return 0 if self.x is None else (self.x.shape[1] if len(self.x.shape) > 1 else 1)

    @property
    def num_graphs(self) -> int:
        return 1 if self.batch is None else int(self.batch.array.max()) + 1 if (
            self.batch.array.size) else 0

    def keys(self) -> list[str]:
        return [k for k, v in vars(self).items() if v is not None and k != "num_nodes"]

    def is_undirected(self) -> bool:
        a = self.adj.structure
        t, _ = a.transpose()
        if a.nnz != t.nnz:
            return False
        ka = np.sort(np.asarray(a.rows()).astype(np.int64) * self.num_nodes + a.cols())
        kt = np.sort(np.asarray(t.rows()).astype(np.int64) * self.num_nodes + t.cols())
        return bool(np.array_equal(ka, kt))

    def has_isolated_nodes(self) -> bool:
        s = self.adj.structure
        touched = np.zeros(self.num_nodes, bool)
        rows, cols = np.asarray(s.rows()), np.asarray(s.cols())
        off = rows != cols
        touched[rows[off]] = True
        touched[cols[off]] = True
        return bool((~touched).any())

    def has_self_loops(self) -> bool:
        s = self.adj.structure
        return bool((np.asarray(s.rows()) == np.asarray(s.cols())).any())

    def __repr__(self) -> str:
        parts = [f"num_nodes={self.num_nodes}", f"num_edges={self.num_edges}"]
        for key, value in vars(self).items():
            if key in ("num_nodes", "adj") or value is None:
                continue
            shape = getattr(value, "shape", None)
            parts.append(f"{key}={list(shape)}" if shape is not None else f"{key}={value!r}")
        return f"Graph({', '.join(parts)})"

    # ---- transforms (return new graphs) -------------------------------------------------------
    def _replace(self, **changes) -> Graph:
        g = Graph.__new__(Graph)
        g.__dict__.update(self.__dict__)
        g.__dict__.update(changes)
        return g

    def _with_edges(self, ei, edge_attr=None, weight=None) -> Graph:
        adj, perm = self._adj_from_edges(ei, weight)
        if edge_attr is not None and perm is not None:
            edge_attr = edge_attr[perm]
        return self._replace(adj=adj, edge_attr=edge_attr)

    def to_undirected(self, reduce: str = "mean") -> Graph:
        """Add every reverse edge; parallel copies are merged (``edge_attr`` by ``reduce``)."""
        from sparsegraph.graph_ops import undirected_edges

        return undirected_edges(self, reduce)

    def remove_self_loops(self) -> Graph:
        s = self.adj.structure
        keep = np.asarray(s.rows()) != np.asarray(s.cols())
        return self._edge_subset(keep)

    def add_self_loops(self, fill_value: float = 1.0) -> Graph:
        """Add a self loop to every node that has none (PyG's add_remaining_self_loops)."""
        from sparsegraph.graph_ops import with_self_loops

        return with_self_loops(self, fill_value)

    def _edge_subset(self, keep) -> Graph:
        ei = np.asarray(self.edge_index)[:, keep]
        attr = None if self.edge_attr is None else self.edge_attr[np.flatnonzero(keep)]
        w = self.adj.values.detach().numpy()[keep]
        return self._with_edges(ei, attr, w)

    def subgraph(self, nodes) -> Graph:
        """The induced subgraph on ``nodes`` (index array or boolean mask), relabelled 0..k-1."""
        from sparsegraph.graph_ops import induced_subgraph

        return induced_subgraph(self, nodes)

    def to(self, device) -> Graph:
        device = backend.normalize_device(device)
        changes = {}
        for key, value in vars(self).items():
            if isinstance(value, Tensor | SparseTensor):
                changes[key] = value.to(device)
        return self._replace(**changes)

    # ---- batching -----------------------------------------------------------------------------
    @staticmethod
    def batch_graphs(graphs) -> Graph:
        """One block-diagonal graph holding ``graphs``, with a ``batch`` vector (node -> graph).

        Also reachable as ``Graph.batch(graphs)``; on an instance, ``g.batch`` is the vector.
        """
        from sparsegraph.graph_ops import batch_graphs

        return batch_graphs(list(graphs))

    # NOTE: instances always set `batch` (the node -> graph vector) in __dict__, which shadows
    # this class attribute; so `Graph.batch(graphs)` batches and `g.batch` reads the vector.
    batch = batch_graphs

    def unbatch(self) -> list[Graph]:
        """Split a batched graph back into its graphs."""
        from sparsegraph.graph_ops import unbatch

        return unbatch(self)
