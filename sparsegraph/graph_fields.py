"""The rule for a `Graph`'s data attributes, one for the constructor and for later assignment.

``Graph(x=..., edge_type=...)``, ``g.x = ...`` and ``g["edge_type"] = ...`` all go through
`checked_field`, so a value is converted and checked the same way however it arrives: an
``edge_<name>`` (and ``edge_attr``) is per edge, a Tensor with one row per edge; ``x``, ``y``,
``batch`` and every ``*_mask`` are checked against the node count; anything else is kept as
given (a node-level ``pos`` cannot be told from a graph-level value by its shape).
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, host_values, wrap

# the fields every Graph has (None when unset): `del g.x` sets them back to None
CORE_FIELDS = ("x", "y", "edge_attr", "train_mask", "val_mask", "test_mask", "batch")


def _as_tensor(value):
    if value is None or isinstance(value, Tensor | SparseTensor):
        return value
    import scipy.sparse as sp

    if sp.issparse(value):
        from sparsegraph.sparse import from_scipy

        return from_scipy(value.astype(backend.DEFAULT_FLOAT) if value.dtype == np.float64
                          else value)
    array = value if backend.device_of(value) != "cpu" else np.asarray(value)
    if array.dtype == np.float64:  # the default float (float32 unless set_default_dtype)
        array = array.astype(backend.DEFAULT_FLOAT, copy=False)
    return wrap(array)


def _host(a):
    """``a`` (an array or a Tensor) as a host array: no copy when it is on the host already."""
    return np.asarray(a.detach()) if isinstance(a, Tensor) else backend.to_device(a, "cpu")


def _np(t):
    """A host array, or None for None (no copy of a host one; a cuda one is copied)."""
    return None if t is None else _host(t)


def _on(t, device: str):
    """``t`` moved to ``device`` (host results back to a cuda graph; a no-op on the host)."""
    return t if t is None or device == "cpu" or t.device == device else t.to(device)


def _device(value) -> str:
    return value.device if isinstance(value, Tensor | SparseTensor) else "cpu"


def is_index_key(key: str) -> bool:
    """PyG's rule (``Data.__inc__``) for node ids: a key containing ``index`` (``edge_index``
    and the per-edge ``edge_*`` fields aside) and ``face``; batched, they are shifted by each
    graph's node offset and concatenated on their last axis. A key containing ``batch`` is no
    node id (PyG tests for it first: it is shifted by its own max + 1)."""
    return (("index" in key or key == "face") and not key.startswith("edge_")
            and "batch" not in key)


def _numeric(value, key: str) -> None:
    if value is not None and np.dtype(value.dtype).kind not in "biuf":
        raise TypeError(f"Graph: expected numeric `{key}` (got dtype {value.dtype})")


def _check_edge_weight(w):
    """``edge_weight`` as a Tensor: numeric, no NaN (a NaN weight spreads to every output)."""
    w = _as_tensor(w)
    _numeric(w, "edge_weight")
    # read through host_values: a static trace guards an input's weights and names this check
    # when refusing weights computed in the compiled function (sg.ops' sparse functions take
    # those)
    if w.dtype.kind == "f" and bool(np.isnan(backend.to_device(host_values(
            w, "Graph: the NaN check of `edge_weight`",
            "build the SparseTensor with sg.ops functions (add_self_loops, to_undirected) "
            "inside the compiled function, or the Graph outside it"), "cpu")).any()):
        raise ValueError("Graph: expected `edge_weight` without NaN (got NaN weights)")
    return w


def _check_labels(y, n: int, num_graphs: int | None) -> None:
    """Labels: integer class ids (>= -1, -1 = unlabelled) or float targets (not NaN).

    Rows: ``num_nodes`` (node labels), 1 (a graph label) or, on a batch, one per graph.
    """
    if y.dtype.kind not in "biuf":
        raise TypeError(f"Graph: expected numeric labels `y` (got dtype {y.dtype})")
    a = np.asarray(y.detach() if isinstance(y, Tensor) else y)
    rows = a.shape[0] if a.ndim else 1
    allowed = {n, 1} | ({num_graphs} if num_graphs is not None else set())
    if rows not in allowed:
        raise ValueError(f"Graph: expected `y` with {n} rows (node labels), 1 row (a graph "
                         "label)" + (f" or {num_graphs} rows (one per graph)" if num_graphs
                                     else "") + f" (got shape {tuple(a.shape)})")
    if a.dtype.kind == "f":
        if bool(np.isnan(a).any()):
            raise ValueError("Graph: `y` contains NaN labels")
    if a.ndim <= 1 and a.size and a.dtype.kind in "iu" and a.min() < -1:
        raise ValueError(f"Graph: expected class labels >= 0 (or -1 for unlabelled) "
                         f"(got {a.min():g})")


def _per_edge(key: str, value, num_edges: int):
    value = _as_tensor(value)
    if not value.shape or value.shape[0] != num_edges:
        # PyG's link-prediction pairs (edge_label_index, (2, K)) are no per-edge field here
        hint = "" if key == "edge_attr" else (
            "; an `edge_<name>` attribute is per edge: store other values, such as node pairs "
            "that are not the edges, under a name without the `edge_` prefix (e.g. "
            "`label_index`, which Graph.batch shifts as node ids)")
        raise ValueError(f"Graph: expected `{key}` with {num_edges} rows, one per edge (got "
                         f"shape {tuple(value.shape)}){hint}")
    return value


def _check_x(x, n: int | None = None):
    """``x`` as a Tensor (or SparseTensor), numeric with one row per node (``n`` rows, when
    given: the constructor checks the type before it counts the nodes from ``x``)."""
    x = _as_tensor(x)
    _numeric(x, "x")
    if not x.shape:  # a scalar has no row per node
        raise ValueError(f"Graph: expected `x` with one row per node, shape (N, F) or (N,) "
                         f"(got shape {tuple(x.shape)})")
    if n is not None and x.shape[0] != n:
        raise ValueError(f"Graph: expected `x` with {n} rows for num_nodes={n} "
                         f"(got {x.shape[0]})")
    return x


def check_num_nodes(num_nodes) -> int:
    """``num_nodes`` as an int >= 0, or a TypeError / ValueError naming it."""
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int | np.integer):
        raise TypeError(f"Graph: expected `num_nodes` to be an int (got {num_nodes!r})")
    if num_nodes < 0:
        raise ValueError(f"Graph: expected `num_nodes` >= 0 (got {num_nodes})")
    return int(num_nodes)


def check_adj(adj, n: int):
    """``adj`` if it is a square SparseTensor of shape ``(n, n)`` (``n`` = num_nodes), else
    the constructor's TypeError / ValueError."""
    if not isinstance(adj, SparseTensor) or adj.shape[0] != adj.shape[1]:
        raise TypeError(f"Graph: expected `adj` to be a square SparseTensor "
                        f"(got {type(adj).__name__} {getattr(adj, 'shape', '')})")
    if adj.shape[0] != n:
        raise ValueError(f"Graph: expected `adj` of shape ({n}, {n}) for num_nodes={n} "
                         f"(got {adj.shape[:2]})")
    return adj


def _check_batch(batch, n: int):
    batch = _as_tensor(batch)
    _numeric(batch, "batch")
    if batch.dtype.kind not in "iu":
        raise TypeError(f"Graph: expected integer graph ids in `batch` (got dtype "
                        f"{batch.dtype})")
    if tuple(batch.shape) != (n,):
        raise ValueError(f"Graph: expected `batch` of shape ({n},), one graph id per node "
                         f"(got shape {tuple(batch.shape)})")
    return batch


def _check_mask(key: str, m, n: int):
    m = _as_tensor(m)
    if m.dtype != np.bool_:
        raise TypeError(f"Graph: expected `{key}` to be boolean (got {m.dtype})")
    if len(m.shape) not in (1, 2) or m.shape[-1] != n:
        raise ValueError(f"Graph: expected `{key}` of length {n}: shape ({n},), or (S, {n}) "
                         f"for S splits (got shape {tuple(m.shape)})")
    return m


def checked_field(g, key: str, value):
    """``value`` as graph ``g`` stores attribute ``key``, or a ValueError / TypeError naming it.

    ``num_nodes`` must be an int that ``adj``'s shape agrees with, and ``adj`` a square
    SparseTensor of that size (`Graph.__setattr__` pads or converts them first).
    ``g`` needs its ``num_nodes`` and ``adj`` (edge fields count its edges); ``y`` is checked
    against ``g.batch`` when set, so a batch's vector goes first. Edge fields come back in the
    order given: the constructor reorders them from ``edge_index`` order to the CSR order
    that ``g.edge_index`` reads, in which a later assignment is taken.
    """
    if key == "num_nodes":  # validate(): the count and the adjacency must agree
        n = check_num_nodes(value)
        if g.__dict__.get("adj") is not None:
            check_adj(g.adj, n)
        return n
    if value is None or key.startswith("_") or key == "ptr":
        return value
    n = g.num_nodes
    if key == "adj":
        return check_adj(value, n)
    if key.startswith("edge_"):  # edge_attr and every edge_<name> (an edge_*_mask too)
        return _per_edge(key, value, g.adj.nnz)
    if key == "x":
        return _check_x(value, n)
    if key == "y":
        y = _as_tensor(value)
        _check_labels(y, n, g.num_graphs if g.batch is not None else None)
        return y
    if key == "batch":
        return _check_batch(value, n)
    if key.endswith("_mask"):
        return _check_mask(key, value, n)
    return value
