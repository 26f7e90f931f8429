"""`Graph`: one graph (or a batch of graphs) with its adjacency, features, labels and masks.

The adjacency is a target-major CSR SparseTensor (row = destination, column = source), so
aggregation is ``adj @ x``. An ``edge_index`` (2 x E, row 0 = source, row 1 = target, PyG's
convention) is accepted at construction and converted once; edges are kept in the CSR order
(sorted by target, then source) and ``edge_attr`` rows follow them. scipy, networkx and PyG
store an adjacency matrix the other way round (``A[source, target]``): `Graph.from_scipy` /
`Graph.to_scipy` convert, while ``Graph(adj=sg.from_scipy(A))`` would reverse every edge.
"""

from __future__ import annotations

import warnings

import numpy as np

from sparsegraph import backend
from sparsegraph.graph_access import GraphAccess
from sparsegraph.graph_fields import (
    CORE_FIELDS,
    _as_tensor,
    _check_edge_weight,
    _check_x,
    _host,
    check_adj,
    check_num_nodes,
    checked_field,
)
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.sparse_checks import as_index_array
from sparsegraph.tensor import Tensor, host_values, wrap


def _edge_index_array(edge_index):
    ei = host_values(edge_index, "Graph: the adjacency built from `edge_index`")
    if not hasattr(ei, "dtype"):  # a list: `[[], []]` is no edges (int64)
        ei = as_index_array("Graph", "edge_index", ei)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"Graph: expected `edge_index` of shape (2, E) (got {ei.shape})")
    if ei.dtype.kind not in "iu":
        raise TypeError(f"Graph: expected an integer `edge_index` (got {ei.dtype})")
    return ei


def _on(t, device: str):
    """Tensor / SparseTensor ``t`` moved to ``device`` (host results of the structure code
    return to a cuda graph's device; nothing happens on the host)."""
    return t if t is None or device == "cpu" or t.device == device else t.to(device)


class _Batch:
    """``Graph.batch(graphs)`` batches graphs; ``g.batch`` is the node -> graph vector.

    A non-data descriptor: on the class it returns the batching function; on an instance the
    ``batch`` entry of the instance dict wins, and without one the answer is ``None`` (a plain,
    unbatched graph).
    """

    def __get__(self, obj, cls=None):
        if obj is None:
            return cls.batch_graphs
        return obj.__dict__.get("batch")


class _BatchSize:
    """PyG's ``Batch.batch_size``: the number of graphs (`Graph.num_graphs`). A non-data
    descriptor: an attribute of that name set on the graph is read instead."""

    def __get__(self, obj, cls=None):
        return self if obj is None else obj.num_graphs


class Graph(GraphAccess):
    """A graph: ``num_nodes``, ``adj`` and any node / edge / graph attributes.

    ``adj`` is target-major: ``adj[i, j]`` is the edge ``j -> i`` (aggregation is
    ``adj @ x``), the transpose of the ``A[source, target]`` matrix of scipy, networkx
    (``to_scipy_sparse_array``) and PyG (``to_scipy_sparse_matrix``); build from such a
    matrix with `Graph.from_scipy` and export with `Graph.to_scipy`.

    dtypes: ``g.edge_index`` is int32 (the project's default index type; int64 only when
    the node or edge count passes 2**31 - 1), whatever integer dtype was given, where PyG's
    is int64: cast it with ``.astype(np.int64)`` before arithmetic that can pass 2**31
    (``row * num_nodes + col`` wraps around silently in int32).
    numpy float64 ``x``, ``y``, ``edge_weight``, ``edge_attr`` and ``edge_<name>`` (and
    float64 scipy features) become the default float type (float32 unless
    `sparsegraph.set_default_dtype` changed it), as do the unit edge weights; a float64 Tensor
    (``sg.tensor(a)``) keeps float64, e.g. for regression targets that need it.

    PyG's ``Data`` access by name works too: ``g["x"]``, ``g["x"] = v``, ``"x" in g``,
    ``del g["x"]``, ``g.keys()`` and ``for key, value in g``, which name the edges
    ``edge_index`` (and ``edge_weight`` when weighted), as PyG stores them; ``g("train_mask",
    "val_mask")`` yields those pairs and ``g.clone()`` copies the Tensors, as PyG's. An
    attribute set later (``g.x = v``, ``g["edge_type"] = v``) is checked and converted as the
    constructor's argument of that name: an ``edge_<name>`` with one row per edge, in
    ``g.edge_index``'s order, is then a per-edge field like one given here. PyG's
    ``g.num_nodes = N`` for trailing isolated nodes pads ``adj`` (see `__setattr__`).

    Args:
        x: node features, dense ``(N, F)`` or sparse CSR ``(N, F)``.
        edge_index: ``(2, E)`` integer array, row 0 = source, row 1 = target (an empty
            ``[[], []]`` is no edges).
        adj: a square SparseTensor adjacency (target-major) instead of ``edge_index``.
        edge_weight: ``(E,)`` values for the adjacency (default: ones).
        edge_attr: ``(E, D)`` edge features, in ``edge_index`` order (with ``adj``: in the
            order of its stored entries).
        y: integer class labels (-1 = unlabelled) or float targets (regression,
            multi-label): ``(N, ...)`` per node, or ``(1, ...)`` for a graph label.
        num_nodes: node count (default: from ``x``, else ``adj``, else the largest index).
        **extra: any other attributes (kept as given; ``*_mask`` and ``batch`` become
            Tensors, and every ``*_mask`` is checked like ``train_mask``). An
            ``edge_<name>`` one is per edge, like ``edge_attr``: a Tensor with one row per
            edge, reordered with the edges and kept in line by subgraph, batching, self loops
            and to_undirected (node pairs that are not the edges, such as PyG's
            ``edge_label_index``, go under another name, e.g. ``label_index``). A
            ``*_index`` or ``face`` integer array holds node ids: `Graph.batch` shifts it by
            each graph's node offset, as PyG's ``Batch``.

    Raises:
        ValueError / TypeError: indices outside ``num_nodes``, a ragged ``edge_index``,
        feature or mask rows that do not match ``num_nodes`` (masks: ``(N,)``, or ``(S, N)``
        for S splits), per-edge rows (``edge_attr``, ``edge_weight``, ``edge_<name>``) that do
        not match the edges, non-numeric ``x`` or ``edge_weight``, NaN edge weights, labels of
        the wrong length, non-numeric, NaN or < -1 labels, non-boolean masks, a ``batch``
        that is not one integer graph id per node.
    """

    def __init__(self, x=None, edge_index=None, adj=None, edge_weight=None, edge_attr=None,
                 y=None, num_nodes=None, **extra):
        x = None if x is None else _check_x(x)  # numeric, one row per node: before its rows count
        edge_weight = None if edge_weight is None else _check_edge_weight(edge_weight)
        from_x = num_nodes is None and x is not None
        if num_nodes is not None:
            num_nodes = check_num_nodes(num_nodes)
        else:
            if x is not None:
                num_nodes = x.shape[0]
            elif adj is not None:
                num_nodes = adj.shape[0]
            elif edge_index is not None:
                ei = _host(_edge_index_array(edge_index))
                num_nodes = int(ei.max()) + 1 if ei.size else 0
            else:
                num_nodes = 0
        self.__dict__["num_nodes"] = int(num_nodes)  # set first: `adj` is checked against it
        if adj is not None and edge_index is not None:
            raise ValueError("Graph: pass either `edge_index` or `adj`, not both")
        from_adj = adj is not None
        if adj is None:
            ei = (_edge_index_array(edge_index) if edge_index is not None
                  else np.zeros((2, 0), np.int64))
            # the structure is built on the host; the adjacency goes to edge_index's device
            device, ei = backend.device_of(ei), _host(ei)
            if ei.size and (int(ei.min()) < 0 or int(ei.max()) >= self.num_nodes):
                bad = int(ei.min()) if int(ei.min()) < 0 else int(ei.max())
                if from_x and bad > 0:
                    raise ValueError(f"Graph: expected `x` with at least {bad + 1} rows: "
                                     f"`edge_index` refers to node {bad} (got {self.num_nodes} "
                                     "rows; num_nodes is taken from x unless passed)")
                raise ValueError(f"Graph: expected `edge_index` entries in [0, "
                                 f"{self.num_nodes}) for num_nodes={self.num_nodes} (got {bad})")
            adj, perm = self._adj_from_edges(ei, edge_weight, device)
        else:
            check_adj(adj, self.num_nodes)
            perm = adj.structure.to_csr()[1] if adj.layout != "csr" else None
            adj = adj.to_csr() if adj.layout != "csr" else adj
            if edge_weight is not None:  # the given weights replace adj's values
                w = _as_tensor(edge_weight)
                if w.shape != (adj.nnz,):
                    raise ValueError(f"Graph: expected `edge_weight` of shape ({adj.nnz},), "
                                     f"one per stored entry of `adj` (got {w.shape})")
                adj = adj.with_values(_on(w if perm is None else w[perm], adj.device))
        self.__dict__["adj"] = adj
        # whether the values are real weights, not the implicit ones of an unweighted graph:
        # to_undirected merges real weights but keeps an unweighted graph unweighted (PyG).
        # None (a given adj): judged from its values when needed, not read here (a memmap)
        self._weighted = True if edge_weight is not None else None if from_adj else False
        # every attribute goes through `checked_field`, as a later `g.key = value` does; the
        # keys are placed first so that keys() keeps this order whatever is checked first
        given = {"edge_attr": edge_attr, "x": x, "y": y, **extra}
        self.__dict__.update(dict.fromkeys([*given, *CORE_FIELDS]))
        for key in ("batch", "ptr"):  # a batch's graph count comes before its labels' check
            if key in given:
                setattr(self, key, given.pop(key))
        for key, value in given.items():
            if key.startswith("edge_"):  # per edge: checked, then into the CSR order
                value = checked_field(self, key, value)
                self.__dict__[key] = value if value is None or perm is None else value[perm]
            else:
                setattr(self, key, value)

    def _adj_from_edges(self, ei, edge_weight, device: str = "cpu"):
        """CSR adjacency on ``device`` plus the permutation from edge_index order to CSR
        order, both computed from the host array ``ei``."""
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
            values = wrap(np.ones(ei.shape[1], backend.DEFAULT_FLOAT))
        # sorted by (target, source): the CSR arrays follow directly, no second sort
        dst, src = ei[1][perm], ei[0][perm]
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(dst, minlength=n), out=indptr[1:])
        structure = Structure.csr(indptr, src, (n, n), op="Graph", validate=False)
        identity = bool(np.all(perm[1:] > perm[:-1])) if perm.size else True
        adj = SparseTensor(structure.to(device), _on(values, device))
        return adj, (None if identity else perm)

    # ---- validation ---------------------------------------------------------------------------
    def validate(self, raise_on_error: bool = True) -> bool:
        """Check every attribute against the graph by the rule the constructor and each
        assignment apply (`sparsegraph.graph_fields.checked_field`), as PyG's
        ``Data.validate``: True when all hold; otherwise raises their ValueError / TypeError,
        or, with ``raise_on_error=False``, warns with it and returns False."""
        if not isinstance(raise_on_error, bool | np.bool_):
            raise TypeError(f"Graph.validate: expected a bool `raise_on_error` (got "
                            f"{type(raise_on_error).__name__} {raise_on_error!r})")
        try:
            for key, value in list(vars(self).items()):
                checked_field(self, key, value)
        except (ValueError, TypeError) as exc:
            if raise_on_error:
                raise
            warnings.warn(str(exc), UserWarning, stacklevel=2)
            return False
        return True

    # ---- scipy / networkx / PyG adjacency matrices ----------------------------------------------
    @classmethod
    def from_scipy(cls, A, **attrs) -> Graph:
        """A Graph from a scipy.sparse adjacency matrix in scipy / networkx / PyG's convention:
        ``A[i, j]`` is the edge ``i -> j``, of weight ``A[i, j]`` (every stored entry is an
        edge, explicit zeros too, as in PyG's ``from_scipy_sparse_matrix``). Weights that are
        all 1 give an unweighted graph. ``attrs`` (x, y, masks, ...) go to `Graph`.

        Example: ``Graph.from_scipy(nx.to_scipy_sparse_array(G))`` has the edges of ``G``.
        """
        import scipy.sparse as sp

        if not sp.issparse(A):
            raise TypeError(f"Graph.from_scipy: expected a scipy.sparse matrix or array (got "
                            f"{type(A).__name__})")
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"Graph.from_scipy: expected a square adjacency matrix (got shape "
                             f"{A.shape})")
        for key in ("edge_index", "adj", "edge_weight"):
            if key in attrs:
                raise TypeError(f"Graph.from_scipy: `{key}` comes from the matrix; pass the "
                                "matrix with the weights as its values instead")
        n = attrs.pop("num_nodes", A.shape[0])
        if n != A.shape[0]:
            raise ValueError(f"Graph.from_scipy: expected num_nodes={A.shape[0]}, the size of "
                             f"the matrix (got {n!r})")
        coo = A.tocoo()
        w = np.asarray(coo.data)
        weight = None if not w.size or bool((w == 1).all()) else w
        return cls(edge_index=np.stack([coo.row, coo.col]).astype(np.int64),
                   edge_weight=weight, num_nodes=A.shape[0], **attrs)

    def to_scipy(self):
        """The adjacency as a scipy.sparse CSR matrix in scipy / networkx / PyG's convention,
        ``A[source, target]`` = the edge weight (the transpose of the target-major ``adj``)."""
        return self.adj.to_scipy().T.tocsr()

    # ---- views and counts ---------------------------------------------------------------------
    @property
    def edge_index(self):
        """``(2, E)`` array (row 0 = source, row 1 = target) in CSR order; int32 unless the
        node or edge count needs int64 (cast before ``row * num_nodes + col`` arithmetic)."""
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
    def num_node_features(self) -> int:
        """Columns of ``x`` (1 for a 1-D ``x``, 0 without one): PyG's name for num_features."""
        return self.num_features

    @property
    def num_edge_features(self) -> int:
        """Columns of ``edge_attr`` (1 for a 1-D one, 0 without one), as PyG's property."""
        a = self.edge_attr
        return 0 if a is None else (a.shape[-1] if len(a.shape) > 1 else 1)

    @property
    def num_graphs(self) -> int:
        """1 for a plain graph; for a batch, the graphs it holds (``ptr`` counts empty ones)."""
        if self.batch is None:
            return 1
        ptr = self.__dict__.get("ptr")
        if ptr is not None:
            return int(ptr.shape[0]) - 1
        b = np.asarray(self.batch.detach() if isinstance(self.batch, Tensor) else self.batch)
        return int(b.max()) + 1 if b.size else 0

    def __setattr__(self, key: str, value) -> None:
        """``g.key = value``, checked and converted as the constructor's argument ``key``
        (`sparsegraph.graph_fields.checked_field`): an ``edge_<name>`` (and ``edge_attr``)
        needs one row per edge, in the order of ``g.edge_index``, and then follows the edges
        through batching, subgraphs, self loops, to_undirected and save_on_disk; ``x``,
        ``y``, ``batch`` and ``*_mask`` need their rows per node; numpy float64 becomes
        float32. Other attributes are kept as given.

        ``g.num_nodes = N`` (PyG's idiom for a graph whose last nodes are isolated) pads
        ``adj`` with isolated nodes up to ``N`` (or drops isolated trailing ones down to it);
        it is refused while a per-node attribute (``x``, node labels, masks, ``batch``) has
        the old row count. ``g.adj = A`` takes a square SparseTensor of shape
        ``(num_nodes, num_nodes)``, as the constructor's ``adj`` (a COO one is stored as CSR;
        per-edge attributes need ``A.nnz`` rows and are read in A's stored order).

        Raises:
            ValueError / TypeError: what the constructor raises for that attribute, naming
                it; TypeError for ``edge_index`` (a view of ``adj``; ``g.edge_weight = w``
                sets its values, (E,) in ``g.edge_index``'s order, as PyG's);
                ValueError for a ``num_nodes`` below one more than the largest node id of
                the edges or of a ``*_index`` attribute, or that per-node attributes
                contradict.
        """
        if key == "edge_weight" and "adj" in self.__dict__:
            from sparsegraph.graph_ops import assigned_weights

            self.__dict__.update(assigned_weights(self, value))
            return
        if key == "edge_index":
            self._data_key(key)
        if key in ("num_nodes", "adj") and "adj" in self.__dict__:
            from sparsegraph.graph_ops import assigned_structure

            self.__dict__.update(assigned_structure(self, key, value))
            return
        object.__setattr__(self, key, checked_field(self, key, value))

    def clone(self, *keys: str) -> Graph:
        """A new Graph whose Tensors (and numpy arrays) are copies, as PyG's
        ``data.clone()``: changing one in place leaves this graph as it was. Only ``keys``
        are copied when given (``edge_index`` / ``edge_weight`` name ``adj``, whose values
        are copied; its immutable structure is shared); the others are shared. Copies are
        differentiable, as `Tensor.clone`."""
        names = {"adj" if k in ("edge_index", "edge_weight") else k for k in keys}
        changes = {}
        for key, value in vars(self).items():
            if names and key not in names:
                continue
            if isinstance(value, Tensor):
                changes[key] = value.clone()
            elif isinstance(value, SparseTensor):
                changes[key] = SparseTensor(value.structure, value.values.clone())
            elif isinstance(value, np.ndarray):
                changes[key] = value.copy()
        return self._replace(**changes)

    def _host_structure(self) -> Structure:
        """The adjacency's structure on the host (itself, with its caches, on the host)."""
        return self.adj.structure.to("cpu")

    def is_undirected(self) -> bool:
        """Whether every edge ``j -> i`` has its reverse ``i -> j`` with the same edge weight
        and the same ``edge_attr`` row: PyG's ``is_undirected(edge_index, edge_attr)``, plus
        the weights, since ``adj`` is the operator (``adj`` symmetric). Repeated edges pair
        with their reverses in storage order, as in PyG; ``edge_<name>`` fields are not
        compared."""
        a = self._host_structure()
        t, perm = a.transpose()  # the reversed edges; entry j of t is entry perm[j] of a
        n = max(self.num_nodes, 1)
        ka = a.rows().astype(np.int64) * n + a.cols()
        kt = t.rows().astype(np.int64) * n + t.cols()
        order_a, order_t = np.argsort(ka, kind="stable"), np.argsort(kt, kind="stable")
        if not np.array_equal(ka[order_a], kt[order_t]):
            return False
        reverse = _host(perm)[order_t]  # edge order_a[k]'s reverse is entry reverse[k] of a
        for field in (self.adj.values, self.edge_attr):
            f = None if field is None else _host(field)
            if f is not None and not np.array_equal(f[order_a], f[reverse]):
                return False
        return True

    def is_directed(self) -> bool:
        """``not is_undirected()`` (PyG's name)."""
        return not self.is_undirected()

    def has_isolated_nodes(self) -> bool:
        s = self._host_structure()
        touched = np.zeros(self.num_nodes, bool)
        rows, cols = s.rows(), s.cols()
        off = rows != cols
        touched[rows[off]] = True
        touched[cols[off]] = True
        return bool((~touched).any())

    def has_self_loops(self) -> bool:
        s = self._host_structure()
        return bool((s.rows() == s.cols()).any())

    def __repr__(self) -> str:
        parts = [f"num_nodes={self.num_nodes}", f"num_edges={self.num_edges}"]
        for key, value in vars(self).items():
            if key in ("num_nodes", "adj") or key.startswith("_") or value is None:
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

    def _edge_fields(self) -> dict:
        """The per-edge attributes (``edge_attr`` and every ``edge_<name>`` that is set), one
        row per edge (Tensors, as `checked_field` makes them; an array written into
        ``__dict__`` directly counts too, so that no transform leaves it stale)."""
        return {k: v for k, v in vars(self).items() if k.startswith("edge_") and v is not None}

    def _with_edges(self, ei, weight=None, **fields) -> Graph:
        """New edges from the host index array ``ei`` with their ``weight`` and per-edge
        ``fields`` (every one of `_edge_fields`, in ``ei``'s order); all stay on this graph's
        devices. Pass the library's own weights as Tensors: they keep their dtype and
        gradient, where a numpy float64 array would be narrowed as user input is."""
        missing = self._edge_fields().keys() - fields.keys()
        assert not missing, f"per-edge fields left stale: {sorted(missing)}"
        adj, perm = self._adj_from_edges(ei, weight, self.adj.structure.device)
        for key, value in fields.items():
            old = getattr(self, key, None)
            value = value[perm] if value is not None and perm is not None else value
            fields[key] = _on(value, old.device) if isinstance(old, Tensor) else value
        return self._replace(adj=adj, **fields)

    def to_undirected(self, reduce: str = "sum") -> Graph:
        """Add every reverse edge; copies of an edge are merged by ``reduce``.

        ``reduce`` ("sum", "mean", "max", "min"; default "sum", as `sg.to_undirected` and
        PyG) merges the edge weights and ``edge_attr`` rows of an edge stored both ways (and of
        self loops, which the reversal duplicates): with "sum" such weights double, with
        "mean" / "max" / "min" they stay. "mean" of integer values gives float32. As in PyG,
        only attributes that exist are merged: a graph built without ``edge_weight`` stays
        unweighted (every weight 1), so an undirected one comes back unchanged.
        """
        from sparsegraph.graph_ops import undirected_edges

        return undirected_edges(self, reduce)

    def remove_self_loops(self) -> Graph:
        s = self._host_structure()
        return self._edge_subset(s.rows() != s.cols())

    def add_self_loops(self, fill_value=1.0) -> Graph:
        """One self loop per node, as PyG's add_remaining_self_loops: repeated loops become one
        (the last stored loop's weight and edge fields), nodes without a loop get ``fill_value``
        in the weights and in every per-edge field (``edge_attr``, ``edge_<name>``).

        Args:
            fill_value: a number (None: 1); ``'add'``/``'sum'``/``'mean'``/``'max'``/``'min'``:
                that reduce of each per-edge field, and of given weights, over the node's
                incoming edges (0 without any), while an unweighted graph's loops weigh 1 and
                it stays unweighted (PyG fills the named attribute only); or a Tensor, taken
                by each field it fits (the weights: ``()``, ``(1,)`` or ``(N,)``; an
                ``(E, D)`` field: ``()``, ``(D,)``, ``(1, D)`` or ``(N, D)``; a 0-d Tensor
                fills every field as a number does), the others getting 1. (default: 1.0)

        Raises:
            ValueError: a Tensor that fits no field; a fill that an integer or bool field
                cannot hold exactly (0.5 for int64 weights), naming the field.
        """
        from sparsegraph.graph_ops import with_self_loops

        return with_self_loops(self, fill_value)

    def _edge_subset(self, keep) -> Graph:
        s = self._host_structure()
        ei = np.stack([s.cols(), s.rows()])[:, keep]
        idx = np.flatnonzero(keep)
        # a gather of the kept weights, where they are: their dtype and gradient stay
        return self._with_edges(ei, self.adj.values[idx],
                                **{k: v[idx] for k, v in self._edge_fields().items()})

    def subgraph(self, nodes) -> Graph:
        """The induced subgraph on ``nodes`` (index array or boolean mask), relabelled 0..k-1."""
        from sparsegraph.graph_ops import induced_subgraph

        return induced_subgraph(self, nodes)

    def to(self, device, *attrs: str, non_blocking: bool = False) -> Graph:
        """This graph with its Tensor / SparseTensor attributes on ``device`` (one already
        there is shared): all of them, or only those named in ``attrs``, as PyG's
        ``Data.to(device, *args)`` (what ``ToDevice(device, attrs)`` calls); ``edge_index``
        and ``edge_weight`` name the adjacency, which moves whole. ``non_blocking`` (a bool)
        is accepted and has no effect: each copy is complete when ``to`` returns (as
        `Tensor.to`).

        Raises:
            TypeError: a non-bool ``non_blocking`` or an attribute name that is not a str.
            ValueError: an attribute name that is not set on this graph.
        """
        if not isinstance(non_blocking, bool):
            raise TypeError(f"Graph.to: expected a bool for non_blocking (got "
                            f"{type(non_blocking).__name__} {non_blocking!r})")
        device = backend.normalize_device(device)
        names = self._attr_names("Graph.to", attrs) if attrs else None
        changes = {}
        for key, value in vars(self).items():
            if isinstance(value, Tensor | SparseTensor) and (names is None or key in names):
                changes[key] = value.to(device)
        return self._replace(**changes)

    def _attr_names(self, op: str, attrs: tuple) -> set[str]:
        """The attributes ``attrs`` names (``edge_index`` / ``edge_weight``: ``adj``)."""
        bad = [a for a in attrs if not isinstance(a, str)]
        if bad:
            raise TypeError(f"{op}: expected attribute names as str after the device (got "
                            f"{type(bad[0]).__name__} {bad[0]!r})")
        names = {"adj" if a in ("edge_index", "edge_weight") else a for a in attrs}
        unset = sorted(n for n in names if getattr(self, n, None) is None or n.startswith("_"))
        if unset:
            raise ValueError(f"{op}: expected names of attributes set on the graph, among "
                             f"{self.keys()} (got {unset})")
        return names

    def cuda(self, device=None, *attrs: str, non_blocking: bool = False) -> Graph:
        """`to` ``"cuda"`` (or ``"cuda:<device>"``), PyG's ``Data.cuda(device, *args)``."""
        if isinstance(device, int) and not isinstance(device, bool):  # PyG's cuda(0)
            device = f"cuda:{device}"
        return self.to("cuda" if device is None else device, *attrs, non_blocking=non_blocking)

    def cpu(self, *attrs: str) -> Graph:
        """`to` ``"cpu"``, PyG's ``Data.cpu(*args)``."""
        return self.to("cpu", *attrs)

    # ---- batching -----------------------------------------------------------------------------
    @staticmethod
    def batch_graphs(graphs) -> Graph:
        """One block-diagonal graph holding ``graphs``, with a ``batch`` vector (node -> graph).

        Also reachable as ``Graph.batch(graphs)``; on an instance, ``g.batch`` is the vector
        (``None`` for a graph that is not a batch). As PyG's ``Batch``, every array attribute
        (Tensor, SparseTensor or numpy) is concatenated on axis 0 whatever the node counts:
        node rows, a graph label ``(1,)`` / ``(1, C)`` (``(B,)`` / ``(B, C)``), a per-graph
        ``(16,)`` descriptor (``(16 * B,)``); a 0-d value gives one row per graph; 2-D
        ``*_mask`` split masks ``(S, N)`` are joined on their node axis. `unbatch` gives each
        graph exactly its own part back (0-d again for a 0-d one). A Tensor that requires
        grad stays connected (x, the edge weights, edge_attr: ``torch.cat``'s gradient). An
        attribute that is not an array (a name, an id) becomes the list of the graphs'
        values, and `unbatch` hands each graph its own. Fields of different dtypes are promoted
        as ``torch.cat`` does (int64 with float32 gives float32); a field of other widths, or
        dense on one graph and sparse on another, or set on some graphs only, is a ValueError
        naming it and the graphs. Integer ``*_index`` and ``face`` attributes (not the
        per-edge ``edge_*`` ones; PyG's rule: any key containing ``index``, such as
        ``index_map``) are node ids, as PyG's ``Batch`` takes them: each graph's are shifted
        by its node offset and concatenated on the last axis (a 0-d one as one id), and
        `unbatch` shifts them back. An integer key containing ``batch`` (``sub_batch``) is
        shifted by the max + 1 of the graphs before (``[0, 0, 1]`` twice gives
        ``[0, 0, 1, 2, 2, 3]``), as PyG's ``__inc__``.
        """
        from sparsegraph.graph_batch import batch_graphs

        return batch_graphs(graph_list("Graph.batch", graphs))

    batch = _Batch()
    batch_size = _BatchSize()

    def unbatch(self) -> list[Graph]:
        """Split a batched graph back into its graphs (each with its own rows, graph-level
        values and non-array attributes, as PyG's ``Batch.to_data_list``)."""
        from sparsegraph.graph_batch import unbatch

        return unbatch(self)


def graph_list(op: str, graphs) -> list[Graph]:
    """``graphs`` (a list, tuple, dataset or other iterable of Graphs) as a list, each checked,
    for ``op``, a function taking several graphs. One Graph is refused by name: it iterates
    as ``(key, value)`` pairs, as PyG's ``Data``, so it would fail later on a tuple.

    Raises:
        TypeError: one Graph, something that is not iterable (or a str), or an element that
            is not a Graph (naming its position).
    """
    if isinstance(graphs, Graph):
        raise TypeError(f"{op}: expected `graphs` to be a list or dataset of Graphs (got one "
                        "Graph; pass [g])")
    try:
        if isinstance(graphs, str | bytes):
            raise TypeError
        graphs = list(graphs)
    except TypeError:
        raise TypeError(f"{op}: expected `graphs` to be a list or dataset of Graphs (got "
                        f"{type(graphs).__name__})") from None
    for i, g in enumerate(graphs):
        if not isinstance(g, Graph):
            raise TypeError(f"{op}: expected `graphs` to hold Graphs (got {type(g).__name__} "
                            f"at position {i})")
    return graphs
