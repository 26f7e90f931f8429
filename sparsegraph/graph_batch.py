"""`Graph.batch` and `Graph.unbatch`: PyG's ``Batch.from_data_list`` / ``to_data_list`` rules.

PyG's ``__cat_dim__``: every array attribute is concatenated on axis 0 (a 0-d one as one row),
whatever the graphs' node counts, so the batched shape never depends on them; a 2-D ``*_mask``
(``(S, N)``, one row per split) on its node axis, the last. PyG's ``__inc__``: node ids
(`is_index_key`) are shifted by each graph's node offset and concatenated on their last axis;
an integer key containing ``batch`` by the max + 1 of the graphs before. What unbatch needs to
undo this (the cuts of every attribute that is not one row per node, which values were 0-d,
the shifts) is recorded on the batch. The Tensors are concatenated by the differentiable
`sparsegraph.ops.cat` when one of them requires grad (``torch.cat``), and unbatch slices them
(PyG's ``narrow``), so a gradient reaches the graphs' x, edge weights and edge_attr.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sparsegraph import backend
from sparsegraph.graph_fields import _device, _np, _on, is_index_key
from sparsegraph.ops.shape import cat
from sparsegraph.sparse import SparseTensor, Structure, from_scipy
from sparsegraph.tensor import TRACE, Tensor, wrap

ARRAYS = Tensor | SparseTensor | np.ndarray


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
    if TRACE.tracer is not None or any(isinstance(v, Tensor) and v.requires_grad
                                       for v in values):
        # torch.cat: recorded for backward (it promotes as torch.cat does, by differentiable
        # casts) and by a static trace; the untracked paths below skip the graph bookkeeping
        # GraphLoader pays per step
        return cat([_on(v if isinstance(v, Tensor) else wrap(_np(v)), device) for v in values],
                   axis)
    if device != "cpu" and all(_device(v) == device for v in values):  # no trip to the host
        return wrap(values[0].xp.concatenate([v.detach().array.astype(dtype, copy=False)
                                              for v in values], axis=axis))
    return _on(wrap(np.concatenate([_np(v).astype(dtype, copy=False) for v in values],
                                   axis=axis)), device)


def _int_arrays(values) -> bool:
    return all(isinstance(v, Tensor | np.ndarray) and v.dtype.kind in "iu" for v in values)


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


def _shifted_batch_ids(values):
    """PyG's ``__inc__`` for a key containing ``batch`` (``sub_batch``): each graph's ids plus
    the max + 1 of the graphs before it (an empty one adds nothing); and those shifts."""
    arrays = [_np(v) for v in values]
    incs = np.cumsum([0] + [int(a.max()) + 1 if a.size else 0 for a in arrays])[:-1]
    out = [_on(wrap(a + a.dtype.type(i)), _device(v))
           for a, i, v in zip(arrays, incs, values, strict=True)]
    return out, tuple(int(i) for i in incs)


def _cat_attr(graphs, key, values):
    """An array attribute batched by PyG's ``__cat_dim__`` (axis 0, a 0-d value as one row; a
    2-D ``*_mask`` of ``(S, N)`` split masks on its node axis); and, unless it holds one row per
    node on every graph, the cuts and 0-d flags that give each graph its own back."""
    counts = [g.num_nodes for g in graphs]
    split_masks = key.endswith("_mask") and all(
        len(v.shape) == 2 and v.shape[1] == n for v, n in zip(values, counts, strict=True))
    axis = 1 if split_masks else 0
    scalar = tuple(not v.shape for v in values)
    rows = [v.reshape((1,)) if s else v for v, s in zip(values, scalar, strict=True)]
    sizes = [int(v.shape[axis]) for v in rows]
    out = _cat(rows, key, axis)
    if (sizes == counts and not any(scalar)
            and not any(key in g.__dict__.get("_graph_keys", ()) for g in graphs)):
        return out, None  # per node: split by `ptr`
    return out, (tuple(int(c) for c in np.cumsum([0] + sizes)), scalar)


def batch_graphs(graphs):
    """One block-diagonal graph; every array attribute concatenated (module docstring)."""
    from sparsegraph.graph import Graph
    from sparsegraph.graph_ops import is_weighted

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
    list_keys, index_ptr, cuts, incs = [], {}, {}, {}
    for key in keys:
        if key in ("num_nodes", "adj", "batch", "ptr") or key.startswith("_") or key in edge_keys:
            continue
        values = [g.__dict__.get(key) for g in graphs]
        if is_index_key(key) and _int_arrays(values):
            out.__dict__[key], index_ptr[key] = _cat_index(values, key, ptr)
            continue
        if "batch" in key and _int_arrays(values):
            values, incs[key] = _shifted_batch_ids(values)
        if all(isinstance(v, ARRAYS) for v in values):
            out.__dict__[key], cut = _cat_attr(graphs, key, values)
            if cut is not None:
                cuts[key] = cut
        elif any(isinstance(v, ARRAYS) for v in values):
            _cat(values, key)  # raises: some graphs have it, some do not
            raise ValueError(f"Graph.batch: expected `{key}` of the same kind on every graph")
        elif all(v is None for v in values):
            out.__dict__[key] = None
        else:  # one value per graph (a name, an id): unbatch hands graph i its own
            list_keys.append(key)
            out.__dict__[key] = values
    out.batch = _on(wrap(np.repeat(np.arange(len(graphs), dtype=np.int64), sizes)), device)
    out.ptr = _on(wrap(ptr), device)
    out._graph_keys, out._list_keys = tuple(cuts), tuple(list_keys)
    out._index_ptr, out._graph_cuts, out._batch_inc = index_ptr, cuts, incs
    return out


def _graph_part(value, cut, i: int, num_graphs: int):
    """Graph ``i``'s own part of an attribute that is not per node: its cut as recorded at
    batch time (a 0-d value 0-d again); without the record (a batch saved to disk before it
    existed, or loaded), equal shares (one row per graph for graph labels)."""
    if cut is None:
        k = value.shape[0] // num_graphs if value.shape and num_graphs else 1
        return value[i * k:(i + 1) * k]
    bounds, scalar = cut
    part = value[bounds[i]:bounds[i + 1]]
    return part.reshape(()) if scalar[i] else part


def _less(value, inc: int):
    """``value`` (integer ids) less ``inc``: `batch_graphs`' shift of a ``*batch*`` key undone."""
    a = _np(value)
    return _on(wrap(a - a.dtype.type(inc)), _device(value))


def unbatch(g):
    """Split a batched graph (with ``ptr``) back into its graphs."""
    from sparsegraph.graph import Graph
    from sparsegraph.graph_ops import _node_axis, is_weighted

    if getattr(g, "ptr", None) is None:
        raise ValueError("unbatch: expected a graph made by Graph.batch (it has no `ptr`; a "
                         "subgraph whose nodes are not grouped by graph has none)")
    ptr = _np(g.ptr)
    num_graphs = ptr.size - 1
    s, device = g._host_structure(), g.adj.structure.device
    indptr, indices = s.indptr, s.indices
    values = g.adj.values  # sliced where it is, differentiably (PyG's narrow)
    graph_keys = getattr(g, "_graph_keys", ())
    list_keys = g.__dict__.get("_list_keys", ())
    index_ptr = g.__dict__.get("_index_ptr") or {}
    cuts = g.__dict__.get("_graph_cuts") or {}
    incs = g.__dict__.get("_batch_inc") or {}
    edge_keys = g._edge_fields().keys()
    flags = g.__dict__.get("_weighted_graphs")
    skip = ("num_nodes", "adj", "edge_attr", "batch", "ptr")
    axes = {k: _node_axis(g, k, v) for k, v in vars(g).items()
            if k not in skip and not k.startswith("_")}
    out = []
    for i in range(num_graphs):
        lo, hi = int(ptr[i]), int(ptr[i + 1])
        e0, e1 = int(indptr[lo]), int(indptr[hi])
        sub = Structure.csr(indptr[lo:hi + 1] - e0, indices[e0:e1] - lo, (hi - lo, hi - lo),
                            validate=False)
        part = Graph.__new__(Graph)
        part.__dict__.update(num_nodes=hi - lo,
                             adj=SparseTensor(sub.to(device), values[e0:e1]),
                             edge_attr=None if g.edge_attr is None else g.edge_attr[e0:e1],
                             _weighted=is_weighted(g) if flags is None else flags[i])
        for key, axis in axes.items():
            value = g.__dict__[key]
            if key in edge_keys:
                part.__dict__[key] = value[e0:e1]
            elif key in index_ptr:  # node ids: this graph's columns, less its node offset
                ids = _np(value)[..., index_ptr[key][i]:index_ptr[key][i + 1]]
                part.__dict__[key] = _on(wrap(ids - ids.dtype.type(lo)), _device(value))
            elif key in list_keys and isinstance(value, list) and len(value) == num_graphs:
                part.__dict__[key] = value[i]
            elif key in graph_keys:
                part.__dict__[key] = _graph_part(value, cuts.get(key), i, num_graphs)
            elif axis is not None:  # this graph's rows (its columns of (S, N) split masks)
                part.__dict__[key] = value[lo:hi] if axis == 0 else value[:, lo:hi]
            else:
                part.__dict__[key] = value
            if key in incs and part.__dict__[key] is not None:
                part.__dict__[key] = _less(part.__dict__[key], incs[key][i])
        part.batch = None
        out.append(part)
    return out
