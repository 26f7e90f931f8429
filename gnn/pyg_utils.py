"""Everyday ``torch_geometric.utils`` functions with PyG's signatures and semantics:
`index_to_mask`, `mask_to_index`, `to_dense_adj`, `dense_to_sparse`, `to_dense_batch`,
`dropout_edge`, `k_hop_subgraph` and `homophily`.

``edge_index`` is PyG's ``(2, E)`` integer array or Tensor (row 0 source, row 1 target); the
index work is done on the host with numpy (a read of the values, as the layers' CSR building)
and the results are Tensors on the input's device, int64 edge indices as PyG's. The dense
results are differentiable in the features they gather (``edge_attr``, ``x``, ``adj``).
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import full, get_default_dtype, rng_of
from sparsegraph.gnn.edge_args import check_sorted_batch, host_array
from sparsegraph.tensor import TRACE, Tensor, host_values, wrap

__all__ = ["dense_to_sparse", "dropout_edge", "homophily", "index_to_mask", "k_hop_subgraph",
           "mask_to_index", "to_dense_adj", "to_dense_batch"]


# ---- argument checks ----------------------------------------------------------------------
def _index(op: str, name: str, value, ndim: int = 1):
    """A non-negative int64 index of ``ndim`` dims, and its device."""
    array, device = host_array(op, name, value)
    if array.ndim != ndim:
        raise ValueError(f"{op}: expected `{name}` to be {ndim}-D (got shape {array.shape})")
    if array.size and int(array.min()) < 0:
        raise ValueError(f"{op}: expected non-negative values in `{name}` (got "
                         f"{int(array.min())})")
    return array.astype(np.int64, copy=False), device


def _edge_index(op: str, edge_index):
    """``(src, dst, device)``: int64 rows of a ``(2, E)`` edge_index."""
    ei, device = host_array(op, "edge_index", edge_index)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"{op}: expected `edge_index` of shape (2, E) (got {ei.shape})")
    ei, _ = _index(op, "edge_index", ei, 2)
    return ei[0], ei[1], device


def _count(op: str, name: str, value, minimum: int = 0):
    """An int >= ``minimum`` (None passes through)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{op}: expected `{name}` to be an int >= {minimum} (got {value!r})")
    return int(value)


def _batch(op: str, batch, n: int, batch_size, name: str = "nodes"):
    """``(batch, batch_size)``: a sorted batch vector with one entry per node (``n`` of them),
    its graph ids below ``batch_size`` (default ``max + 1``, 1 when there are no nodes)."""
    b, _ = _index(op, "batch", batch)
    if n is not None and b.shape[0] != n:
        raise ValueError(f"{op}: expected `batch` with one entry per node ({n} {name}) (got "
                         f"{b.shape[0]})")
    check_sorted_batch(op, b)
    size = _count(op, "batch_size", batch_size, 1)
    if size is None:
        size = int(b[-1]) + 1 if b.size else 1
    elif b.size and int(b[-1]) >= size:
        raise ValueError(f"{op}: expected `batch` values below batch_size={size} (got "
                         f"{int(b[-1])})")
    return b, size


def _out(array, device) -> Tensor:
    return wrap(backend.to_device(np.ascontiguousarray(array), device))


# ---- masks --------------------------------------------------------------------------------
def index_to_mask(index, size: int | None = None) -> Tensor:
    """PyG's ``index_to_mask``: a ``(size,)`` bool Tensor, True at ``index`` (any shape,
    flattened); ``size`` defaults to ``max(index) + 1`` (0 for an empty index).

    Raises:
        TypeError / ValueError: a non-integer index, negative or ``>= size`` values, a bad
            ``size``, named.
    """
    op = "index_to_mask"
    idx, device = host_array(op, "index", index)
    idx = idx.reshape(-1).astype(np.int64, copy=False)
    size = _count(op, "size", size)
    if size is None:
        size = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise ValueError(f"{op}: expected `index` values in [0, {size}) for size={size} "
                         f"(got {bad})")
    mask = np.zeros(size, bool)
    mask[idx] = True
    return _out(mask, device)


def mask_to_index(mask) -> Tensor:
    """PyG's ``mask_to_index``: the int64 positions of the nonzero (True) entries of a 1-D
    ``mask``."""
    m, device = host_array("mask_to_index", "mask", mask, "biuf")
    if m.ndim != 1:
        raise ValueError(f"mask_to_index: expected `mask` to be 1-D (got shape {m.shape})")
    return _out(np.flatnonzero(m).astype(np.int64), device)


# ---- dense <-> sparse ---------------------------------------------------------------------
def to_dense_adj(edge_index, batch=None, edge_attr: Tensor | None = None,
                 max_num_nodes: int | None = None, batch_size: int | None = None) -> Tensor:
    """PyG's ``to_dense_adj``: the batched dense adjacency ``A`` of shape ``(B, N, N)`` plus
    ``edge_attr``'s trailing dims, ``A[b, src, dst]`` the sum of the ``edge_attr`` rows (1
    without it) of the edges ``src -> dst`` of graph ``b`` (duplicates add up).

    The orientation is PyG's, source-major: ``A[b]`` is the transpose of sparsegraph's
    target-major ``Graph.adj`` (whose row ``i`` holds the edges into ``i``).

    Args:
        edge_index: ``(2, E)`` edges, node ids global over the batch.
        batch: ``(N_total,)`` sorted graph id of every node (default: one graph of
            ``max id + 1`` nodes).
        edge_attr: ``(E, ...)`` Tensor of edge weights or features; the result is
            differentiable in it. Default: ones of the default float dtype.
        max_num_nodes: ``N`` (default: the largest graph's node count); edges between nodes
            past it in their graph are dropped, as in PyG.
        batch_size: ``B`` (default ``max(batch) + 1``).
    """
    op = "to_dense_adj"
    src, dst, device = _edge_index(op, edge_index)
    n_total = int(max(src.max(), dst.max())) + 1 if src.size else 0
    if batch is None:
        b, size = np.zeros(n_total, np.int64), _count(op, "batch_size", batch_size, 1) or 1
    else:
        b, size = _batch(op, batch, None, batch_size)
        if n_total > b.shape[0]:
            raise ValueError(f"{op}: expected `edge_index` node ids below {b.shape[0]}, the "
                             f"length of `batch` (got {n_total - 1})")
    counts = np.bincount(b, minlength=size)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    g, i, j = b[src], src - start[b[src]], dst - start[b[dst]]
    n = _count(op, "max_num_nodes", max_num_nodes)
    n = int(counts.max()) if n is None else n
    keep = (i < n) & (j < n)
    if edge_attr is not None:
        if not isinstance(edge_attr, Tensor):
            raise TypeError(f"{op}: expected `edge_attr` to be a Tensor (got "
                            f"{type(edge_attr).__name__})")
        if edge_attr.ndim < 1 or edge_attr.shape[0] != src.size:
            raise ValueError(f"{op}: expected `edge_attr` with {src.size} rows, one per edge "
                             f"of `edge_index` (got shape {tuple(edge_attr.shape)})")
        values = edge_attr if keep.all() else ops.gather_rows(edge_attr, np.flatnonzero(keep))
    else:
        values = full((int(keep.sum()),), 1.0, dtype=get_default_dtype(), device=device)
    flat = ((g * n + i) * n + j)[keep]
    adj = ops.scatter_add(values, flat, dim_size=size * n * n)
    return adj.reshape((size, n, n) + tuple(values.shape[1:]))


def dense_to_sparse(adj: Tensor, mask=None):
    """PyG's ``dense_to_sparse``: ``(edge_index, edge_attr)`` of the nonzero entries of a
    ``(N, M)`` or batched ``(B, N, M)`` adjacency (``adj[src, dst]``, source-major as
    `to_dense_adj`), in row-major order; ``edge_attr`` is differentiable in ``adj``.

    A batch is offset as PyG: entry ``(b, i, j)`` becomes the edge ``b*N + i -> b*M + j``.
    With a ``(B, N)`` bool ``mask`` (square ``adj`` only), the rows of the nodes left out are
    dropped and graph ``b``'s ids start at the count of the nodes kept before it.
    """
    op = "dense_to_sparse"
    if not isinstance(adj, Tensor):
        raise TypeError(f"{op}: expected `adj` to be a Tensor (got {type(adj).__name__})")
    if adj.ndim not in (2, 3):
        raise ValueError(f"{op}: expected `adj` of 2 or 3 dims, (N, M) or (B, N, M) (got "
                         f"shape {tuple(adj.shape)})")
    if mask is not None and adj.ndim == 2:
        warnings.warn(f"{op}: `mask` is ignored for a 2-D `adj` (as in PyG)", stacklevel=2)
        mask = None
    a = np.asarray(backend.to_device(host_values(adj, f"{op}: `adj`'s nonzeros"), "cpu"))
    m_cols = a.shape[-1]
    rows = np.arange(a.size // m_cols if m_cols else 0)
    if mask is not None:
        mk, _ = host_array(op, "mask", mask, "b")
        if mk.ndim != 2 or mk.shape != a.shape[:2]:
            raise ValueError(f"{op}: expected `mask` of shape {a.shape[:2]}, (B, N) of `adj` "
                             f"(got {mk.shape})")
        if a.shape[1] != a.shape[2]:
            raise ValueError(f"{op}: `mask` needs a square adjacency (got `adj` of shape "
                             f"{a.shape})")
        rows = np.flatnonzero(mk.reshape(-1))
    flat = a.reshape(-1, m_cols)[rows] if m_cols else np.zeros((rows.size, 0), a.dtype)
    r, c = np.nonzero(flat)
    values = ops.gather_rows(adj.reshape(-1), rows[r] * m_cols + c)
    if adj.ndim == 3:
        if mask is None:
            offset = np.repeat(np.arange(a.shape[0], dtype=np.int64) * m_cols, a.shape[1])
        else:
            count = mk.sum(axis=1)
            offset = np.repeat(np.concatenate([[0], np.cumsum(count)[:-1]]), count)
        c = c + offset[r]
    return _out(np.stack([r, c]).astype(np.int64), adj.device), values


def to_dense_batch(x: Tensor, batch=None, fill_value: float = 0.0,
                   max_num_nodes: int | None = None, batch_size: int | None = None):
    """PyG's ``to_dense_batch``: the node features of a batch as a padded ``(B, N_max, ...)``
    Tensor (differentiable in ``x``; padding ``fill_value``) and the ``(B, N_max)`` bool mask
    of the real nodes.

    Args:
        x: ``(N_total, ...)`` node features.
        batch: ``(N_total,)`` graph id of every node, sorted (non-decreasing) as PyG requires
            (default: one graph).
        fill_value: the padding value.
        max_num_nodes: ``N_max`` (default: the largest graph's node count); the nodes past it
            in their graph are dropped, as in PyG.
        batch_size: ``B`` (default ``max(batch) + 1``).

    Raises:
        ValueError: an unsorted ``batch``, or one not of one entry per row of ``x``, named.
    """
    op = "to_dense_batch"
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected `x` to be a Tensor (got {type(x).__name__})")
    if x.ndim < 1:
        raise ValueError(f"{op}: expected `x` with at least 1 dim (got a 0-d tensor)")
    if isinstance(fill_value, bool) or not isinstance(fill_value, Real):
        raise TypeError(f"{op}: expected `fill_value` to be a number (got {fill_value!r})")
    n_max = _count(op, "max_num_nodes", max_num_nodes)
    if batch is None and n_max is None:
        return x.reshape((1,) + tuple(x.shape)), _out(np.ones((1, x.shape[0]), bool), x.device)
    if batch is None:
        b, size = np.zeros(x.shape[0], np.int64), _count(op, "batch_size", batch_size, 1) or 1
    else:
        b, size = _batch(op, batch, x.shape[0], batch_size, "rows of `x`")
    counts = np.bincount(b, minlength=size)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    n_max = int(counts.max()) if n_max is None else n_max
    pos = np.arange(b.size) - start[b]
    keep = np.flatnonzero(pos < n_max)
    slots = np.full(size * n_max, x.shape[0], np.int64)  # the padding row of `padded`
    slots[b[keep] * n_max + pos[keep]] = keep
    pad = full((1,) + tuple(x.shape[1:]), fill_value, dtype=x.dtype, device=x.device)
    out = ops.gather_rows(ops.cat([x, pad]), slots)
    return (out.reshape((size, n_max) + tuple(x.shape[1:])),
            _out((slots < x.shape[0]).reshape(size, n_max), x.device))


# ---- edges --------------------------------------------------------------------------------
def dropout_edge(edge_index, p: float = 0.5, force_undirected: bool = False,
                 training: bool = True, *, generator=None):
    """PyG's ``dropout_edge``: drop each edge with probability ``p``; returns
    ``(edge_index, edge_mask)``, the kept edges and the ``(E,)`` bool mask of them.

    With ``force_undirected``, only the edges ``src <= dst`` are drawn, the kept ones are
    returned in both directions, and ``edge_mask`` is (as in PyG) the int64 positions of the
    kept edges, twice. ``training=False`` or ``p=0`` keeps every edge. The draws come from
    ``generator`` (default: the global one, seeded by ``sparsegraph.manual_seed``).
    """
    op = "dropout_edge"
    if isinstance(p, bool) or not isinstance(p, Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: expected `p` in [0, 1] (got {p!r})")
    src, dst, device = _edge_index(op, edge_index)
    ei = np.stack([src, dst])
    if not training or p == 0.0:
        return _out(ei, device), _out(np.ones(src.size, bool), device)
    if TRACE.tracer is not None:  # a new draw keeps another number of edges on every call
        TRACE.tracer.unsupported("dropout_edge (its edge count changes with every draw)",
                                 "drop edges outside the compiled step, or use "
                                 "sg.ops.sparse_dropout on the adjacency's values")
    mask = rng_of(generator).random(src.size) >= p
    if force_undirected:
        mask &= src <= dst
    ei = ei[:, mask]
    if force_undirected:
        ei = np.concatenate([ei, ei[::-1]], axis=1)
        return _out(ei, device), _out(np.tile(np.flatnonzero(mask), 2).astype(np.int64), device)
    return _out(ei, device), _out(mask, device)


def k_hop_subgraph(node_idx, num_hops: int, edge_index, relabel_nodes: bool = False,
                   num_nodes: int | None = None, flow: str = "source_to_target",
                   directed: bool = False):
    """PyG's ``k_hop_subgraph``: the nodes within ``num_hops`` hops of ``node_idx`` and the
    edges among them.

    With ``flow="source_to_target"`` (message passing's direction) the hops follow edges
    into the seeds: a hop adds the sources of the edges whose target is in the set;
    ``"target_to_source"`` follows edges out of them. ``directed=True`` keeps only the edges
    used by the hops (from the set of the previous hop), not every edge among the nodes.

    Returns:
        ``(subset, edge_index, mapping, edge_mask)``: the sorted node ids, the kept edges
        (relabelled to positions in ``subset`` with ``relabel_nodes``), the positions of the
        seeds in ``subset``, and the ``(E,)`` bool mask of the kept edges.
    """
    op = "k_hop_subgraph"
    if flow not in ("source_to_target", "target_to_source"):
        raise ValueError(f"{op}: expected `flow` 'source_to_target' or 'target_to_source' "
                         f"(got {flow!r})")
    hops = _count(op, "num_hops", num_hops)
    src, dst, device = _edge_index(op, edge_index)
    n = _count(op, "num_nodes", num_nodes)
    if n is None:
        n = int(max(src.max(), dst.max())) + 1 if src.size else 0
    elif src.size and int(max(src.max(), dst.max())) >= n:
        raise ValueError(f"{op}: expected `edge_index` node ids below num_nodes={n} (got "
                         f"{int(max(src.max(), dst.max()))})")
    if isinstance(node_idx, Integral) and not isinstance(node_idx, bool):
        node_idx = [node_idx]
    seeds, _ = _index(op, "node_idx", node_idx)
    if seeds.size and int(seeds.max()) >= n:
        raise ValueError(f"{op}: expected `node_idx` below num_nodes={n} (got "
                         f"{int(seeds.max())}); pass num_nodes for nodes without edges")
    row, col = (src, dst) if flow == "target_to_source" else (dst, src)
    node_mask, used = np.zeros(n, bool), np.zeros(src.size, bool)
    subsets = [seeds]
    for _ in range(hops):
        node_mask[:] = False
        node_mask[subsets[-1]] = True
        step = node_mask[row]
        used |= step
        subsets.append(col[step])
    subset, inv = np.unique(np.concatenate(subsets), return_inverse=True)
    node_mask[:] = False
    node_mask[subset] = True
    edge_mask = used if directed else node_mask[row] & node_mask[col]
    ei = np.stack([src, dst])[:, edge_mask]
    if relabel_nodes:
        mapping = np.full(n, -1, np.int64)
        mapping[subset] = np.arange(subset.size)
        ei = mapping[ei]
    return (_out(subset.astype(np.int64), device), _out(ei, device),
            _out(inv.reshape(-1)[:seeds.size].astype(np.int64), device),
            _out(edge_mask, device))


def _mean_by(values, group, size: int):
    """Mean of ``values`` per ``group`` id in ``[0, size)``; 0 for an empty group (PyG's
    ``scatter(..., reduce='mean')``)."""
    sums = np.bincount(group, weights=values, minlength=size)
    return sums / np.maximum(np.bincount(group, minlength=size), 1)


def homophily(edge_index, y, batch=None, method: str = "edge"):
    """PyG's ``homophily``: how often an edge joins nodes of the same label.

    ``"edge"``: the fraction of edges whose ends share their label. ``"node"``: per node the
    fraction of its incoming edges from nodes of its label (0 without incoming edges),
    averaged over the nodes. ``"edge_insensitive"``: the class-insensitive edge homophily
    ``1/(C-1) sum_k max(0, h_k - |C_k| / N)``, with ``h_k`` the edge homophily of the edges
    into nodes of class ``k``.

    Returns:
        A float without ``batch`` (nan for "edge" with no edges), else a ``(B,)`` float32
        Tensor, one value per graph (the edges grouped by their target's graph).
    """
    op = "homophily"
    if method not in ("edge", "node", "edge_insensitive"):
        raise ValueError(f"{op}: expected `method` 'edge', 'node' or 'edge_insensitive' (got "
                         f"{method!r})")
    labels, _ = host_array(op, "y", y, "biuf")
    labels = labels.reshape(labels.shape[:-1]) if labels.ndim > 1 and labels.shape[-1] == 1 \
        else labels
    if labels.ndim != 1:
        raise ValueError(f"{op}: expected `y` with one label per node, (N,) or (N, 1) (got "
                         f"shape {labels.shape})")
    src, dst, device = _edge_index(op, edge_index)
    if src.size and int(max(src.max(), dst.max())) >= labels.size:
        raise ValueError(f"{op}: expected `edge_index` node ids below {labels.size}, the "
                         f"labels in `y` (got {int(max(src.max(), dst.max()))})")
    b = None
    if batch is not None:
        b, _ = _index(op, "batch", batch)
        if b.size != labels.size:
            raise ValueError(f"{op}: expected `batch` with one entry per label of `y` "
                             f"({labels.size}) (got {b.size})")
    same = (labels[src] == labels[dst]).astype(np.float64)
    if method == "edge":
        if b is None:
            return float(same.mean()) if same.size else float("nan")
        return _out(_mean_by(same, b[dst], int(b.max()) + 1 if b.size else 0).astype(
            np.float32), device)
    if method == "node":
        per_node = _mean_by(same, dst, labels.size)
        if b is None:
            return float(per_node.mean()) if per_node.size else float("nan")
        return _out(_mean_by(per_node, b, int(b.max()) + 1 if b.size else 0).astype(
            np.float32), device)
    if labels.dtype.kind not in "iu" or (labels.size and int(labels.min()) < 0):
        raise ValueError(f"{op}: method='edge_insensitive' expects `y` of class ids >= 0 "
                         f"(got dtype {labels.dtype})")
    classes = int(labels.max()) + 1 if labels.size else 0
    if classes < 2:
        raise ValueError(f"{op}: method='edge_insensitive' needs at least 2 classes in `y` "
                         f"(got {classes})")
    b = np.zeros(labels.size, np.int64) if b is None else b
    graphs = int(b.max()) + 1
    group = classes * b + labels.astype(np.int64)
    h = _mean_by(same, group[dst], graphs * classes).reshape(graphs, classes)
    counts = np.bincount(group, minlength=graphs * classes).reshape(graphs, classes)
    nodes = np.bincount(b, minlength=graphs).reshape(-1, 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # a graph without nodes: nan
        out = np.clip(h - counts / nodes, 0, None).sum(axis=1) / (classes - 1)
    return float(out[0]) if out.size == 1 else _out(out.astype(np.float32), device)
