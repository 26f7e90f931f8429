"""Structure transforms behind `Graph`'s methods: undirected, self loops, subgraphs (batching
is `sparsegraph.graph_batch`).

All vectorised over edges (numpy on the index arrays). The structure is computed on the host
(a cuda graph's index arrays are copied there, a host graph's are used in place); the results
go back to the devices the graph's fields were on. The edge weights and per-edge fields stay
Tensors throughout (gathered, merged and filled by the differentiable functional ops), so they
keep their dtype and a gradient reaches them, as PyG's transforms on torch tensors.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.graph_fields import (
    _check_edge_weight,
    _device,
    _np,
    _on,
    check_adj,
    check_num_nodes,
    is_index_key,
)
from sparsegraph.ops._util import check_reduce
from sparsegraph.ops.graph_norm import FILL_REDUCES, _inexact, add_self_loops, to_undirected
from sparsegraph.ops.ternary import where
from sparsegraph.row_ids import row_ids
from sparsegraph.sparse import SparseTensor, Structure, from_scipy
from sparsegraph.tensor import Tensor, host_values, wrap

REDUCERS = ("sum", "mean", "max", "min")


def _host_tensor(t) -> Tensor:
    """``t`` as a host Tensor of its own dtype, still connected to autograd (a no-op for a host
    Tensor; a cuda one is copied differentiably); an array written into ``__dict__`` directly
    is wrapped. Not `_np`: a numpy float64 array would be narrowed to float32 as user input."""
    return t.to("cpu") if isinstance(t, Tensor) else wrap(_np(t))


def _keep_ones(plain, weight: Tensor) -> Tensor:
    """``weight`` with 1 where ``plain`` (the edges of an unweighted graph of a batch), in its
    dtype, differentiable w.r.t. the other entries."""
    return where(wrap(plain), wrap(np.ones((), weight.dtype)), weight)


def _host_edge_index(g) -> np.ndarray:
    s = g._host_structure()
    return np.stack([s.cols(), s.rows()])


def is_weighted(g) -> bool:
    """Whether ``g``'s adjacency values are given weights (else the implicit ones)."""
    weighted = g.__dict__.get("_weighted")
    if weighted is None:  # a graph assembled without the flag: judge by the values
        return g.num_edges > 0 and not bool((_np(g.adj.values) == 1).all())
    return weighted


def _graph_of_edges(g, rows) -> np.ndarray:
    """The graph (of a batch) each edge with target ``rows`` belongs to."""
    return _np(g.batch)[rows]


def _edge_weighted(g):
    """Per edge of a batch mixing weighted and unweighted graphs: whether its graph has real
    weights; None when every edge is alike (then `is_weighted` answers for all)."""
    flags = g.__dict__.get("_weighted_graphs")
    if flags is None or g.batch is None or len(set(flags)) < 2:
        return None
    return np.asarray(flags, bool)[_graph_of_edges(g, g._host_structure().rows())]


def undirected_edges(g, reduce: str = "mean"):
    """``g`` with every reverse edge added; parallel edges merged by ``reduce`` (PyG's
    ``"add"`` is ``"sum"``)."""
    reduce = check_reduce("to_undirected", reduce, REDUCERS)
    s = g._host_structure()

    def merged(t):  # one `ops.to_undirected` per field, all on the structure's cached plan
        return to_undirected(SparseTensor(s, _host_tensor(t)), reduce)

    values = g.adj.values
    out = merged(values)
    rows, cols = out.structure.rows(), out.structure.cols()
    if is_weighted(g):
        weight = out.values
        if _edge_weighted(g) is not None:  # an unweighted graph of the batch keeps its 1s
            plain = ~np.asarray(g.__dict__["_weighted_graphs"], bool)[_graph_of_edges(g, rows)]
            weight = _keep_ones(plain, weight)
    else:  # no weights to merge: the merged edges keep the implicit weight 1
        weight = wrap(np.ones((rows.size,) + tuple(values.shape[1:]), values.dtype))
    fields = {k: merged(v).values for k, v in g._edge_fields().items()}
    return g._with_edges(np.stack([cols, rows]), weight, **fields)


def _field_name(key: str) -> str:
    return "the edge weights" if key == "weight" else f"`{key}`"


def _check_fill(a: Tensor, fill_value, key: str) -> None:
    """An integer or boolean ``a`` must hold a number or Tensor ``fill_value`` exactly (numpy
    would silently truncate 0.5 to 0)."""
    if a.dtype.kind not in "biu" or isinstance(fill_value, str) or fill_value is None:
        return
    value = fill_value.array if isinstance(fill_value, Tensor) else fill_value
    bad = _inexact(a.dtype, value)
    if bad is not None:
        fix = "edge_weight=w" if key == "weight" else f"{key}={key}"
        raise ValueError(f"Graph.add_self_loops: expected a `fill_value` that "
                         f"{_field_name(key)} of dtype {a.dtype} can hold exactly (got "
                         f"{bad!r}); convert {_field_name(key)} to float first, e.g. "
                         f"Graph(..., {fix}.astype(np.float32))")


def _fits(fill: Tensor, a: Tensor, num_nodes: int) -> bool:
    """Whether a Tensor fill fits field ``a`` (E, ...): 0-d (broadcast), of ``a``'s trailing
    shape, or that with a leading 1 (every loop) or ``num_nodes`` (one row per node)."""
    shape, trailing = tuple(fill.shape), a.shape[1:]
    return shape in ((), trailing) or (shape[1:] == trailing and shape[0] in (1, num_nodes))


def _shapes_taken(a: Tensor, num_nodes: int) -> str:
    t = a.shape[1:]
    return f"(), {t}, {(1,) + t} or {(num_nodes,) + t}" if t else f"(), (1,) or ({num_nodes},)"


def with_self_loops(g, fill_value=1.0):
    """PyG's ``add_remaining_self_loops``: every stored self loop is removed and exactly one
    loop per node added back; a node that had loops keeps its last one's weight and edge
    fields (in edge order), the others get ``fill_value``.

    Each field is `sparsegraph.ops.add_self_loops` of its own: the weights and every per-edge
    field (``edge_attr``, ``edge_<name>``) get

    - a number (None: 1): that value;
    - ``"add"`` / ``"sum"`` / ``"mean"`` / ``"max"`` / ``"min"``: that reduce over the node's
      incoming edges (0 without any) of each per-edge field and of given weights; an
      unweighted graph's loops weigh 1 and it stays unweighted (PyG fills the named
      attribute only), as does an unweighted graph of a batch;
    - a Tensor: each field it fits takes it (the weights ``()``, ``(1,)`` or ``(N,)``; an
      ``(E, D)`` field ``()``, ``(D,)``, ``(1, D)`` or ``(N, D)``: a 0-d one fills every
      field as a number does); a field it does not fit gets 1, and a Tensor that fits no
      field at all is a ValueError naming them.

    Integer (or boolean) weights and fields keep their dtype, so a number or Tensor they
    cannot hold exactly (0.5 for int64 weights) raises ValueError instead of being truncated.
    """
    if (isinstance(fill_value, bool) or fill_value is not None
            and not isinstance(fill_value, int | float | np.number | str | Tensor)):
        raise TypeError(f"Graph.add_self_loops: expected `fill_value` to be a number, a "
                        f"Tensor, None or one of {tuple(FILL_REDUCES)}, the new loops' weight "
                        f"and edge_attr entries (got {fill_value!r})")
    if isinstance(fill_value, str) and fill_value not in FILL_REDUCES:
        raise ValueError(f"Graph.add_self_loops: expected `fill_value` in "
                         f"{tuple(FILL_REDUCES)} (got {fill_value!r})")
    if isinstance(fill_value, Tensor):  # the structure work runs on the host
        fill_value = fill_value.to("cpu")  # differentiable, as the functional op's fill
    s, n, weighted = g._host_structure(), g.num_nodes, is_weighted(g)
    arrays = {"weight": _host_tensor(g.adj.values),
              **{k: _host_tensor(v) for k, v in g._edge_fields().items()}}
    fills = {k: fill_value for k in arrays}
    if isinstance(fill_value, str) and not weighted:
        fills["weight"] = 1.0  # the implicit weights are no field to reduce
    if isinstance(fill_value, Tensor):
        fills = {k: fill_value if _fits(fill_value, a, n) else 1.0 for k, a in arrays.items()}
        if all(f is not fill_value for f in fills.values()):
            taken = "; ".join(f"{_field_name(k)} of shape {a.shape}: {_shapes_taken(a, n)}"
                              for k, a in arrays.items())
            raise ValueError(f"Graph.add_self_loops: expected a Tensor `fill_value` that fits "
                             f"the edge weights or a per-edge field ({taken}) (got shape "
                             f"{tuple(fill_value.shape)})")
    for key, a in arrays.items():
        _check_fill(a, fills[key], key)
    out = {key: add_self_loops(SparseTensor(s, a), fills[key]) for key, a in arrays.items()}
    loops = out["weight"]  # every field gets the same structure (one cached plan)
    rows, cols = loops.structure.rows(), loops.structure.cols()
    weight = loops.values
    at_loop = rows == cols
    flags = g.__dict__.get("_weighted_graphs")
    if isinstance(fill_value, str) and weighted and _edge_weighted(g) is not None:
        # a mixed batch: the unweighted graphs' loops weigh 1, not the reduce of their 1s
        plain = at_loop & ~np.asarray(flags, bool)[_graph_of_edges(g, rows)]
        weight = _keep_ones(plain, weight)
    res = g._with_edges(np.stack([cols, rows]), weight,
                        **{k: t.values for k, t in out.items() if k != "weight"})
    # loops that weigh != 1 make an unweighted graph (of a batch) weighted
    heavy = rows[at_loop][_np(weight)[at_loop] != 1]
    res._weighted = weighted or heavy.size > 0
    if flags is not None and g.batch is not None and heavy.size:
        flags = np.array(flags, bool)
        flags[_graph_of_edges(g, heavy)] = True
        res._weighted_graphs = tuple(flags.tolist())
    return res


def _node_axis(g, key, value):
    """The axis of ``value`` that runs over nodes (0; the last one of a 2-D ``*_mask``, e.g.
    the ``(num_splits, N)`` masks of the heterophilous datasets), or None: not node-level."""
    if (key in ("adj", "ptr") or key.startswith(("_", "edge_"))
            or key in getattr(g, "_graph_keys", ())
            or not isinstance(value, Tensor | SparseTensor | np.ndarray) or not value.shape):
        return None
    axis = len(value.shape) - 1 if key.endswith("_mask") and len(value.shape) == 2 else 0
    return axis if value.shape[axis] == g.num_nodes else None


def _is_node_field(g, key, value) -> bool:
    return _node_axis(g, key, value) is not None


def _take_rows(value, ids, axis=0):
    if isinstance(value, SparseTensor):
        return _on(from_scipy(value.to_scipy().tocsr()[ids]), value.device)
    if axis:
        return _on(wrap(np.take(_np(value), ids, axis=axis)), _device(value))
    return value[ids]


def _batch_ptr(batch, num_graphs):
    """``ptr`` of a node -> graph vector grouped by graph, else None (nodes interleaved)."""
    b = _np(batch)
    if b.size and np.any(np.diff(b) < 0):
        return None
    ptr = np.concatenate([[0], np.cumsum(np.bincount(b, minlength=num_graphs))])
    return _on(wrap(ptr), _device(batch))


def induced_subgraph(g, nodes):
    """Keep ``nodes`` (relabelled 0..k-1 in the given order) and the edges among them."""
    # the ids build the new structure: read through host_values, so a static trace guards them
    # (other ids trace again) or refuses ids computed inside the compiled step
    given = host_values(nodes, "Graph.subgraph: the node ids `nodes`") if isinstance(
        nodes, Tensor) else nodes
    ids = row_ids("Graph.subgraph", "`nodes`", given, g.num_nodes, unit="node",
                  negative=False, unique=True, error=ValueError)
    new_id = np.full(g.num_nodes, -1, np.int64)
    new_id[ids] = np.arange(ids.size)
    ei = _host_edge_index(g)
    keep = (new_id[ei[0]] >= 0) & (new_id[ei[1]] >= 0)
    sub_ei = new_id[ei[:, keep]]
    idx = np.flatnonzero(keep)
    fields = {k: v[idx] for k, v in g._edge_fields().items()}
    changes = {k: _take_rows(v, ids, _node_axis(g, k, v)) for k, v in vars(g).items()
               if _is_node_field(g, k, v)}
    if g.batch is not None and getattr(g, "ptr", None) is not None:
        changes["ptr"] = _batch_ptr(changes["batch"], g.num_graphs)
    out = g._replace(num_nodes=int(ids.size), **changes)
    # a gather of the kept weights: their dtype, device and gradient stay
    return out._with_edges(sub_ei, g.adj.values[idx], **fields)


def _needed_nodes(g) -> tuple[int, str]:
    """The fewest nodes ``g``'s edges and node-id attributes (`is_index_key`) allow, and
    what sets that bound."""
    s = g._host_structure()
    rows = np.flatnonzero(np.diff(s.indptr))
    need = max(int(rows[-1]) + 1 if rows.size else 0,
               int(s.indices.max()) + 1 if s.indices.size else 0)
    what = "the edges"
    for key, value in vars(g).items():
        if not (is_index_key(key) and isinstance(value, Tensor | np.ndarray)
                and value.dtype.kind in "iu"):
            continue
        ids = _np(value)
        if ids.size and int(ids.max()) + 1 > need:
            need, what = int(ids.max()) + 1, f"`{key}`"
    return need, what


def _resized_adjacency(g, num_nodes) -> SparseTensor:
    """``g.adj`` with isolated nodes added up to ``num_nodes``, or isolated trailing ones
    dropped down to it (the values, and their gradient, are shared)."""
    n, old = check_num_nodes(num_nodes), g.num_nodes
    if n == old:
        return g.adj
    need, what = _needed_nodes(g)
    if n < need:
        raise ValueError(f"Graph: expected `num_nodes` >= {need}, one more than the largest "
                         f"node id of {what} (got {n})")
    for key, value in vars(g).items():
        if _is_node_field(g, key, value):
            raise ValueError(f"Graph: cannot set `num_nodes` to {n}: `{key}` holds one row "
                             f"for each of the {old} nodes (shape {tuple(value.shape)}); "
                             f"delete it (del g.{key}), set num_nodes, then set it again with "
                             f"{n} rows, or build a new Graph(..., num_nodes={n})")
    s = g._host_structure()
    indptr = s.indptr.astype(np.int64)
    indptr = (np.concatenate([indptr, np.full(n - old, indptr[-1])]) if n > old
              else indptr[:n + 1])
    # derived from a valid structure: the same entries, rows added or dropped empty
    padded = Structure.csr(indptr, s.indices, (n, n), validate=False)
    return SparseTensor(padded.to(g.adj.structure.device), g.adj.values)


def assigned_weights(g, value) -> dict:
    """What ``g.edge_weight = value`` changes in ``g.__dict__`` (PyG's ``data.edge_weight =
    w``): ``(E,)`` weights, one per edge in ``g.edge_index``'s order, become the adjacency's
    values; None makes the graph unweighted (ones)."""
    adj = g.adj
    if value is None:
        ones = np.ones(adj.nnz, adj.values.dtype if adj.values.dtype.kind == "f" else "float32")
        return {"adj": adj.with_values(_on(wrap(ones), adj.device)), "_weighted": False,
                "_weighted_graphs": None}
    w = _check_edge_weight(value)
    if tuple(w.shape) != (adj.nnz,):
        raise ValueError(f"Graph: expected `edge_weight` of shape ({adj.nnz},), one weight per "
                         f"edge in the order of `edge_index` (got {tuple(w.shape)})")
    return {"adj": adj.with_values(_on(w, adj.device)), "_weighted": True,
            "_weighted_graphs": None}


def assigned_structure(g, key: str, value) -> dict:
    """What ``g.num_nodes = value`` or ``g.adj = value`` changes in ``g.__dict__``: a node
    count with its padded adjacency, or a checked CSR adjacency (`check_adj`) with the
    per-edge attributes in its order and the weighted flag left to its values."""
    if key == "num_nodes":
        return {"adj": _resized_adjacency(g, value), "num_nodes": check_num_nodes(value)}
    adj = check_adj(value, g.num_nodes)
    fields = g._edge_fields()
    for name, field in fields.items():
        if field.shape[0] != adj.nnz:
            raise ValueError(f"Graph: expected `adj` with {field.shape[0]} stored entries, one "
                             f"per row of `{name}` (got {adj.nnz}); delete `{name}` (del "
                             f"g.{name}) to change the edges, then set it again")
    perm = adj.structure.to_csr()[1] if adj.layout != "csr" else None
    changes = {"adj": adj if perm is None else adj.to_csr(), "_weighted": None}
    if g.__dict__.get("_weighted_graphs") is not None:  # a batch's per-graph flags are stale
        changes["_weighted_graphs"] = None
    if perm is not None:  # like the constructor's: in adj's stored order, then into CSR's
        changes.update({k: v[perm] for k, v in fields.items()})
    return changes
