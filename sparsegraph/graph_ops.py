"""Structure transforms behind `Graph`'s methods: undirected, self loops, subgraphs, batching.

All vectorised over edges (numpy on the index arrays). The structure is computed on the host
(a cuda graph's index arrays are copied there, a host graph's are used in place); the results
go back to the devices the graph's fields were on. The edge weights and per-edge fields stay
Tensors throughout (gathered, merged and filled by the differentiable functional ops), so they
keep their dtype and a gradient reaches them, as PyG's transforms on torch tensors.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sparsegraph import backend
from sparsegraph.graph_fields import check_adj, check_num_nodes
from sparsegraph.ops._util import check_reduce
from sparsegraph.ops.graph_norm import FILL_REDUCES, _inexact, add_self_loops, to_undirected
from sparsegraph.ops.ternary import where
from sparsegraph.row_ids import row_ids
from sparsegraph.sparse import SparseTensor, Structure, from_scipy
from sparsegraph.tensor import Tensor, wrap

REDUCERS = ("sum", "mean", "max", "min")


def _np(t):
    """A host array (no copy of a host one; a cuda one is copied to the host)."""
    if t is None:
        return None
    return np.asarray(t.detach()) if isinstance(t, Tensor) else backend.to_device(t, "cpu")


def _host_tensor(t) -> Tensor:
    """``t`` as a host Tensor of its own dtype, still connected to autograd (a no-op for a host
    Tensor; a cuda one is copied differentiably); an array written into ``__dict__`` directly
    is wrapped. Not `_np`: a numpy float64 array would be narrowed to float32 as user input."""
    return t.to("cpu") if isinstance(t, Tensor) else wrap(_np(t))


def _keep_ones(plain, weight: Tensor) -> Tensor:
    """``weight`` with 1 where ``plain`` (the edges of an unweighted graph of a batch), in its
    dtype, differentiable w.r.t. the other entries."""
    return where(wrap(plain), wrap(np.ones((), weight.dtype)), weight)


def _on(t, device: str):
    """``t`` moved to ``device`` (host results back to a cuda graph; a no-op on the host)."""
    return t if t is None or device == "cpu" or t.device == device else t.to(device)


def _device(value) -> str:
    return value.device if isinstance(value, Tensor | SparseTensor) else "cpu"


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
    ids = row_ids("Graph.subgraph", "`nodes`", nodes.array if isinstance(nodes, Tensor) else nodes,
                  g.num_nodes, unit="node", negative=False, unique=True, error=ValueError)
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


def _kind(v) -> str:
    return "sparse" if isinstance(v, SparseTensor) else "dense"


def _check_parts(values, key, axis=0) -> None:
    """One kind (dense or sparse) and one shape apart from ``axis`` on every graph; else a
    ValueError naming the attribute and the first graph that differs from graph 0."""
    first, s0 = values[0], tuple(values[0].shape)
    for i, v in enumerate(values[1:], 1):
        if _kind(v) != _kind(first):
            raise ValueError(f"Graph.batch: expected `{key}` of one kind on every graph (graph "
                             f"0 has a {_kind(first)} `{key}`, graph {i} a {_kind(v)} one); "
                             "convert one first (Tensor.to_sparse() / SparseTensor.to_dense())")
        s = tuple(v.shape)
        if len(s) != len(s0) or s[:axis] + s[axis + 1:] != s0[:axis] + s0[axis + 1:]:
            raise ValueError(f"Graph.batch: expected `{key}` of the same shape on every graph "
                             f"apart from axis {axis} (graph 0 has shape {s0}, graph "
                             f"{i} has {s})")


def _common_dtype(values) -> np.dtype:
    """The dtype of the batched values: PyTorch's promotion (`backend.result_type`, so int
    with float32 stays float32, as torch.cat gives), numpy's for non-numeric arrays."""
    dtypes = {np.dtype(v.dtype) for v in values}
    if len(dtypes) == 1:
        return dtypes.pop()
    if all(d.kind in "biuf" for d in dtypes):
        return backend.result_type(*(np.zeros(1, d) for d in dtypes))
    return np.result_type(*dtypes)


def _cat(values, key, axis=0):
    if all(v is None for v in values):
        return None
    if any(v is None for v in values):
        have = next(i for i, v in enumerate(values) if v is not None)
        lack = next(i for i, v in enumerate(values) if v is None)
        raise ValueError(f"Graph.batch: expected `{key}` on every graph or on none (graph "
                         f"{have} has it, graph {lack} does not)")
    _check_parts(values, key, axis)
    dtype, device = _common_dtype(values), _device(values[0])
    if isinstance(values[0], SparseTensor):
        return _on(from_scipy(sp.vstack([v.to_scipy().astype(dtype, copy=False)
                                         for v in values]).tocsr()), device)
    if device != "cpu" and all(_device(v) == device for v in values):  # no trip to the host
        return wrap(values[0].xp.concatenate([v.detach().array.astype(dtype, copy=False)
                                              for v in values], axis=axis))
    return _on(wrap(np.concatenate([_np(v).astype(dtype, copy=False) for v in values],
                                   axis=axis)), device)


def is_index_key(key: str) -> bool:
    """PyG's rule (``Data.__inc__``) for node ids: ``*_index`` (``edge_index`` and the per-edge
    ``edge_*`` fields aside) and ``face`` values are shifted by each graph's node offset when
    batched and concatenated on their last axis."""
    return (key.endswith("_index") or key == "face") and not key.startswith("edge_")


def _node_ids_field(key, values) -> bool:
    return is_index_key(key) and all(isinstance(v, Tensor | np.ndarray) and v.dtype.kind in "iu"
                                     for v in values)


def _cat_index(values, key, offsets):
    """Node-id arrays of the graphs, each plus its graph's node offset, concatenated on the
    last axis (a 0-d one as one id); and the cumulative sizes along it, for `unbatch`."""
    arrays = [np.atleast_1d(_np(v)) for v in values]
    axis = arrays[0].ndim - 1
    _check_parts(arrays, key, axis)
    dtype = _common_dtype(arrays)
    if int(offsets[-1]) > np.iinfo(dtype).max:
        dtype = np.dtype(np.int64)
    out = np.concatenate([a.astype(dtype) + dtype.type(o)
                          for a, o in zip(arrays, offsets[:-1], strict=True)], axis=axis)
    sizes = np.cumsum([0] + [a.shape[axis] for a in arrays])
    return _on(wrap(out), _device(values[0])), tuple(int(c) for c in sizes)


def batch_graphs(graphs):
    """One block-diagonal graph; node fields concatenated, graph-level labels stacked, node
    ids (`is_index_key`) shifted by each graph's node offset."""
    from sparsegraph.graph import Graph

    if not graphs:
        raise ValueError("Graph.batch: expected at least one graph (got none)")
    structures = [g._host_structure() for g in graphs]
    for i, (g, s) in enumerate(zip(graphs, structures, strict=True)):
        # the block-diagonal CSR below is trusted: each block must be one graph's own
        if s.layout != "csr" or s.shape != (g.num_nodes, g.num_nodes):
            raise ValueError(f"Graph.batch: expected graph {i}'s `adj` of shape "
                             f"({g.num_nodes}, {g.num_nodes}) in CSR layout, as its num_nodes="
                             f"{g.num_nodes} (got {s.layout} {s.shape}); check it with "
                             "g.validate()")
    sizes = np.array([s.shape[0] for s in structures], np.int64)
    ptr = np.concatenate([[0], np.cumsum(sizes)])
    edge_counts = np.array([s.nnz for s in structures], np.int64)
    edge_ptr = np.concatenate([[0], np.cumsum(edge_counts)])
    indptr = np.concatenate([s.indptr[:-1].astype(np.int64) + e
                             for s, e in zip(structures, edge_ptr[:-1], strict=True)]
                            + [[edge_ptr[-1]]])
    indices = np.concatenate([s.indices.astype(np.int64) + o
                              for s, o in zip(structures, ptr[:-1], strict=True)])
    n, device = int(ptr[-1]), graphs[0].adj.structure.device
    structure = Structure.csr(indptr, indices, (n, n), validate=False).to(device)
    adj = SparseTensor(structure, _on(_cat([g.adj.values for g in graphs], "adj"), device))
    out = Graph.__new__(Graph)
    # per graph, so that unbatch and to_undirected keep an unweighted part unweighted
    weighted = tuple(is_weighted(g) for g in graphs)
    out.__dict__.update(num_nodes=n, adj=adj, _weighted=any(weighted), _weighted_graphs=weighted)
    # every key of any graph (one that some graphs lack is an error in `_cat`, not dropped)
    keys = dict.fromkeys(["edge_attr", *(k for g in graphs for k in g.__dict__)])
    edge_keys = [k for k in keys if k.startswith("edge_")]
    for key in edge_keys:  # per edge: concatenated (None on every graph: None)
        out.__dict__[key] = _cat([g.__dict__.get(key) for g in graphs], key)
    graph_keys, list_keys, index_ptr = [], [], {}
    for key in keys:
        if key in ("num_nodes", "adj", "batch", "ptr") or key.startswith("_") or key in edge_keys:
            continue
        values = [g.__dict__.get(key) for g in graphs]
        axes = {_node_axis(g, key, v) for g, v in zip(graphs, values, strict=True)
                if v is not None}
        tensors = [v for v in values if isinstance(v, Tensor | SparseTensor)]
        if _node_ids_field(key, values):
            out.__dict__[key], index_ptr[key] = _cat_index(values, key, ptr)
        elif len(axes) == 1 and None not in axes:
            out.__dict__[key] = _cat(values, key, axes.pop())
        elif tensors and len(tensors) < len(values):
            _cat(values, key)  # raises: some graphs have it, some do not
            raise ValueError(f"Graph.batch: expected `{key}` of the same kind on every graph")
        elif all(isinstance(v, Tensor) for v in values):
            graph_keys.append(key)
            rows = [_np(v).reshape((1,) + _np(v).shape[
                (1 if _np(v).ndim and _np(v).shape[0] == 1 else 0):]) for v in values]
            out.__dict__[key] = _on(_cat([wrap(r) for r in rows], key), values[0].device)
        elif all(v is None for v in values):
            out.__dict__[key] = None
        else:  # one value per graph (a name, an id): unbatch hands graph i its own
            list_keys.append(key)
            out.__dict__[key] = values
    out.batch = _on(wrap(np.repeat(np.arange(len(graphs), dtype=np.int64), sizes)), device)
    out.ptr = _on(wrap(ptr), device)
    out._graph_keys, out._list_keys = tuple(graph_keys), tuple(list_keys)
    out._index_ptr = index_ptr
    return out


def unbatch(g):
    """Split a batched graph (with ``ptr``) back into its graphs."""
    from sparsegraph.graph import Graph

    if getattr(g, "ptr", None) is None:
        raise ValueError("unbatch: expected a graph made by Graph.batch (it has no `ptr`; a "
                         "subgraph whose nodes are not grouped by graph has none)")
    ptr = _np(g.ptr)
    s, device = g._host_structure(), g.adj.structure.device
    indptr, indices = s.indptr, s.indices
    values = g.adj.values.detach().array  # sliced where it is
    graph_keys = getattr(g, "_graph_keys", ())
    list_keys = g.__dict__.get("_list_keys", ())
    index_ptr = g.__dict__.get("_index_ptr") or {}
    edge_keys = g._edge_fields().keys()
    flags = g.__dict__.get("_weighted_graphs")
    out = []
    for i in range(ptr.size - 1):
        lo, hi = int(ptr[i]), int(ptr[i + 1])
        e0, e1 = int(indptr[lo]), int(indptr[hi])
        sub = Structure.csr(indptr[lo:hi + 1] - e0, indices[e0:e1] - lo, (hi - lo, hi - lo),
                            validate=False)
        part = Graph.__new__(Graph)
        part.__dict__.update(num_nodes=hi - lo,
                             adj=SparseTensor(sub.to(device), wrap(values[e0:e1])),
                             edge_attr=None if g.edge_attr is None else g.edge_attr[e0:e1],
                             _weighted=is_weighted(g) if flags is None else flags[i])
        for key, value in vars(g).items():
            if key in ("num_nodes", "adj", "edge_attr", "batch", "ptr") or key.startswith("_"):
                continue
            if key in edge_keys:
                part.__dict__[key] = value[e0:e1]
            elif key in index_ptr:  # node ids: this graph's columns, less its node offset
                cols = _np(value)[..., index_ptr[key][i]:index_ptr[key][i + 1]]
                part.__dict__[key] = _on(wrap(cols - cols.dtype.type(lo)), _device(value))
            elif key in graph_keys:
                part.__dict__[key] = value[i:i + 1]
            elif key in list_keys and isinstance(value, list) and len(value) == ptr.size - 1:
                part.__dict__[key] = value[i]
            elif _is_node_field(g, key, value):
                part.__dict__[key] = _take_rows(value, np.arange(lo, hi),
                                                _node_axis(g, key, value))
            else:
                part.__dict__[key] = value
        part.batch = None
        out.append(part)
    return out
