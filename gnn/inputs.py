"""What layers accept: adjacencies (SparseTensor, Graph or edge_index) turned into target-major
CSR once, per-edge tensors lined up with its entries, and node features checked by name."""

from __future__ import annotations

from numbers import Integral

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import tensor
from sparsegraph.graph import Graph
from sparsegraph.sparse import SparseTensor, Structure, check_values
from sparsegraph.sparse_checks import as_index_array, index_dtype
from sparsegraph.tensor import Tensor, host_values, wrap


def as_adjacency(adj, num_src: int, num_dst: int | None = None, *,
                 op: str = "propagate", dtype=None, x_is_pair: bool = False,
                 device: str | None = None, counts_from=None) -> SparseTensor:
    """Accept a SparseTensor (target-major), a Graph or an edge_index; return CSR.

    Args:
        adj: ``(N_dst, N_src)`` SparseTensor, a `Graph`, or a ``(2, E)`` edge_index
            (row 0 = source, row 1 = target).
        num_src: number of source nodes (rows of the features being propagated).
        num_dst: number of target nodes (default: ``num_src``).
        dtype: cast constant edge weights to this dtype (the features'), e.g. float64.
        x_is_pair: the caller's features came as a pair ``(x_src, x_dst)`` (error wording).
        device: the features' device: a host edge_index (numpy, list) is moved there, an
            edge_index Tensor or GPU array elsewhere is refused (see `place_edge_index`);
            None leaves an edge_index where it is.
        counts_from: where the node counts came from, for the out-of-range message (see
            `csr_and_caller_order`; default: the features).
    """
    return adjacency_and_edge_order(adj, num_src, num_dst, op=op, dtype=dtype,
                                    x_is_pair=x_is_pair, device=device,
                                    counts_from=counts_from)[0]


def adjacency_and_edge_order(adj, num_src: int, num_dst: int | None = None, *,
                             op: str = "propagate", dtype=None, x_is_pair: bool = False,
                             device: str | None = None, counts_from=None):
    """`as_adjacency`, plus how the caller's per-edge tensors map onto the CSR entries.

    Per-edge tensors (edge weights, edge features) follow the caller's edge order: the columns
    of an edge_index, or the stored entries of a SparseTensor (a COO one need not be sorted).
    The CSR result stores its entries sorted by target, so such a tensor ``t`` lines up with
    them as ``t[perm]`` (see `edges_in_csr_order`).

    Returns:
        ``(adj, perm)``: the ``(N_dst, N_src)`` CSR SparseTensor and the ``(E,)`` permutation
        from the caller's edge order to CSR order (None when they are the same).
    """
    return csr_and_caller_order(adj, num_src, num_dst, op=op, dtype=dtype,
                                x_is_pair=x_is_pair, device=device,
                                counts_from=counts_from)[:2]


def csr_and_caller_order(adj, num_src: int, num_dst: int | None = None, *, op: str,
                         dtype=None, x_is_pair: bool = False, counts_from=None,
                         edge_rows=(0, 1), device: str | None = None):
    """`adjacency_and_edge_order`, plus the adjacency in the caller's own entry order.

    Args:
        device: the features' device, where an edge_index must be (`place_edge_index`).
        counts_from: ``(what_src, what_dst)``, where the node counts came from (e.g.
            ``"`size[0]` = 4"``), for the out-of-range message; default: the features.
        edge_rows: the caller's edge_index rows holding sources and targets (``(1, 0)``
            when a ``flow="target_to_source"`` edge_index was flipped before the call).

    Returns:
        ``(adj, perm, caller)``: ``caller`` is the SparseTensor whose stored entries follow
        the caller's edge order (the COO built from an edge_index, or the given tensor).
    """
    num_dst = num_src if num_dst is None else num_dst
    if (isinstance(adj, SparseTensor) and adj.layout == "csr"
            and adj.shape[:2] == (num_dst, num_src)):  # e.g. `unweighted_adjacency`'s: checked
        if dtype is not None and adj.dtype != dtype and not adj.requires_grad:
            adj = adj.with_values(adj.values.to(dtype))
        return adj, None, adj
    perm = None
    if isinstance(adj, Graph):
        adj = adj.adj
    if isinstance(adj, SparseTensor):
        caller = adj
        if adj.layout != "csr":
            perm = adj.structure.to_csr()[1]  # cached on the structure, as to_csr uses it
            adj = adj.to_csr()
    elif isinstance(adj, list | tuple) and any(isinstance(a, SparseTensor) for a in adj):
        # e.g. NeighborLoader's `batch.blocks`, given to a full-graph layer
        n = sum(isinstance(a, SparseTensor) for a in adj)
        got = (f"{n} SparseTensors" if n == len(adj) else
               f"{len(adj)} items, {n} of them SparseTensors")
        raise TypeError(f"{op}: expected `adj` / `edge_index` as one SparseTensor or a (2, E) "
                        f"edge_index (got a {type(adj).__name__} of {got}; sampled blocks go "
                        f"to a model that takes them, as models.GraphSAGE)")
    elif isinstance(adj, Tensor | np.ndarray | list | tuple) or hasattr(
            adj, "__cuda_array_interface__"):
        # an array stays where it is (a cupy edge_index builds a structure on the GPU)
        # its values build the CSR structure: a static trace guards them (`host_values`)
        # `[[], []]`: no edges, as Graph's
        ei = host_values(adj, f"{op}: the CSR adjacency built from `edge_index`") if hasattr(
            adj, "dtype") else as_index_array(op, "edge_index", adj)
        if ei.ndim != 2 or ei.shape[0] != 2 or ei.dtype.kind not in "iu":
            raise ValueError(f"{op}: expected `edge_index` as a SparseTensor or an integer "
                             f"edge_index of shape (2, E) (got {ei.dtype} array of shape "
                             f"{ei.shape})")
        # bipartite (PyG): sources index x_src, targets x_dst; the pair gives the shape
        if ei.size:  # two reductions for both rows, so the structure need not check again
            lows, highs = ei.min(axis=1).tolist(), ei.max(axis=1).tolist()
            for k, (row, n) in enumerate(zip(edge_rows, (num_src, num_dst), strict=True)):
                if highs[k] >= n or lows[k] < 0:
                    bad = lows[k] if lows[k] < 0 else highs[k]
                    what = counts_from[k] if counts_from else (
                        f"`{('x_src', 'x_dst')[k] if x_is_pair else 'x'}` with {n} rows")
                    raise ValueError(f"{op}: expected `edge_index[{row}]` entries in [0, {n}) "
                                     f"to match {what} (got {bad})")
        ei = place_edge_index(adj, ei, device, op=op, x_is_pair=x_is_pair)
        # entry (target, source) per edge, in edge_index order (own copies of the caller's
        # rows); the sort into CSR is cached on this structure together with its permutation
        dt = index_dtype(num_dst, num_src, ei.shape[1])
        s = Structure.coo(ei[1].astype(dt), ei[0].astype(dt), (num_dst, num_src), op=op,
                          validate=False)
        caller = SparseTensor(s, check_values(op, None, s.nnz, s.device, dtype))
        perm = caller.structure.to_csr()[1]
        adj = caller.to_csr()
    else:
        raise TypeError(f"{op}: expected `edge_index` as a SparseTensor, Graph or edge_index "
                        f"(got {type(adj).__name__})")
    n_rows, n_cols = adj.shape[:2]
    if n_cols != num_src:
        what = "`x_src` (the first of the pair (x_src, x_dst))" if x_is_pair else "`x`"
        raise ValueError(f"{op}: expected {what} with {n_cols} rows, one per source node of "
                         f"`adj` of shape {adj.shape[:2]} (got {num_src})")
    if n_rows != num_dst:
        if not x_is_pair:
            raise ValueError(f"{op}: `adj` of shape {adj.shape[:2]} maps {n_cols} source nodes "
                             f"to {n_rows} targets: pass the features as a pair (x_src, x_dst) "
                             f"with x_dst of {n_rows} rows (got one `x` of {num_src} rows)")
        raise ValueError(f"{op}: expected `x_dst` (the second of the pair (x_src, x_dst), the "
                         f"target features) with {n_rows} rows to match `adj` of shape "
                         f"{adj.shape[:2]} (got {num_dst})")
    if dtype is not None and adj.dtype != dtype and not adj.requires_grad:
        adj = adj.with_values(adj.values.to(dtype))
    return adj, perm, caller


def place_edge_index(given, ei, device: str | None, *, op: str, x_is_pair: bool = False):
    """The edge_index array ``ei`` (of the caller's ``given``) on the features' ``device``,
    by the rule of per-edge values (`edge_tensor`): host data (a numpy array, nested lists)
    is moved there, as the layers accept a numpy edge_index on the CPU and
    `negative_sampling` returns one for numpy input; a Tensor, or a GPU array, on another
    device is refused naming the layer, the argument and both devices (an op deep inside
    would name neither, or blame a per-edge input that is where it should be). ``device``
    None: left as it is.

    Raises:
        ValueError: ``given`` is a Tensor or a GPU array on another device than ``device``.
    """
    where = given.device if isinstance(given, Tensor) else backend.device_of(ei)
    if device is None or where == device:
        return ei
    if isinstance(given, Tensor) or where != "cpu":
        x = "x_src" if x_is_pair else "x"
        raise ValueError(f"{op}: expected `edge_index` on {device}, the device of `{x}` (got "
                         f"{where}); move it with .to({device!r})")
    return backend.to_device(ei, device)


def edge_tensor(values, device: str, *, op: str, name: str) -> Tensor:
    """A per-edge argument (``edge_weight``, ``edge_attr``, ...) as a Tensor on the adjacency's
    ``device``: the one device check of every layer's per-edge inputs.

    Host data (a numpy array, nested lists) is moved there, as a host mask or target is; a
    Tensor, or a GPU array, on another device is refused naming the layer and the argument
    (an op deep inside would name neither).

    Raises:
        ValueError: ``values`` is a Tensor or a GPU array on another device.
    """
    where = values.device if isinstance(values, Tensor) else backend.device_of(values)
    if where != device and (isinstance(values, Tensor) or where != "cpu"):
        # GPU values for a host adjacency: more likely the adjacency is misplaced
        fix = (f"move it with .to({device!r})" if device != "cpu" else
               f"move `adj` (an edge_index or graph) to {where} with the features, or "
               f"`{name}` with .to('cpu')")
        raise ValueError(f"{op}: expected `{name}` on {device}, the device of `adj` (got "
                         f"{where}); {fix}")
    return values if isinstance(values, Tensor) else tensor(values, device=device)


def attention_edge_attr(op: str, edge_attr, edge_dim: int | None, adj, perm, dtype):
    """An attention layer's ``edge_attr`` (GAT / GATv2 / Transformer): ``(E, edge_dim)`` rows
    (a 1-D one is one feature per edge, as PyG reshapes it) in the CSR entries' order, in
    ``dtype``; None passes. A ValueError naming ``op`` when the layer has no ``edge_dim`` or
    the width differs."""
    if edge_attr is None:
        return None
    if edge_dim is None:
        raise ValueError(f"{op}: got `edge_attr` but the layer was built with edge_dim=None")
    edge_attr = edge_tensor(edge_attr, adj.device, op=op, name="edge_attr")
    if edge_attr.ndim == 1:
        edge_attr = edge_attr.reshape((edge_attr.shape[0], 1))
    if edge_attr.ndim != 2 or edge_attr.shape[1] != edge_dim:
        raise ValueError(f"{op}: expected `edge_attr` of shape (E, {edge_dim}), edge_dim "
                         f"features per edge (got shape {tuple(edge_attr.shape)})")
    edge_attr = edges_in_csr_order(edge_attr, perm, adj.nnz, op=op, name="edge_attr",
                                   device=adj.device)
    return edge_attr if edge_attr.dtype == dtype else edge_attr.to(dtype)


def check_edge_rows(op: str, name: str, values: Tensor, edge_index) -> None:
    """ValueError unless ``values`` has one row per edge of ``edge_index`` (a Graph, a
    SparseTensor or a (2, E) edge list): checked before a layer transforms it, so the message
    shows the caller's shape."""
    if isinstance(edge_index, Graph):
        num_edges = edge_index.num_edges
    elif isinstance(edge_index, SparseTensor):
        num_edges = edge_index.nnz
    else:
        try:
            shape = np.shape(edge_index)
        except ValueError:  # ragged: the adjacency's own check names it
            shape = ()
        num_edges = shape[1] if len(shape) == 2 else None
    if num_edges is not None and (values.ndim < 1 or values.shape[0] != num_edges):
        raise ValueError(f"{op}: expected `{name}` with {num_edges} rows, one per edge "
                         f"(got shape {tuple(values.shape)})")


def edges_in_csr_order(values, perm, num_edges: int, *, op: str, name: str,
                       device: str) -> Tensor:
    """A per-edge ``(E, ...)`` tensor in the caller's edge order -> the CSR entries' order.

    Args:
        values: ``(E, ...)`` Tensor (or array-like), one row per edge as the caller listed them.
        perm: the permutation from `adjacency_and_edge_order` (None: already in CSR order).
        num_edges: ``E``, the adjacency's stored entries.
        op, name: the layer and argument, for the error message.
        device: the adjacency's device (see `edge_tensor`).
    """
    values = edge_tensor(values, device, op=op, name=name)
    if values.ndim < 1 or values.shape[0] != num_edges:
        raise ValueError(f"{op}: expected `{name}` with {num_edges} rows, one per edge "
                         f"(got shape {values.shape})")
    return values if perm is None else ops.gather_rows(values, perm)


def edge_weights_in_csr_order(edge_weight, perm, num_edges: int, *, op: str, dtype,
                              device: str, scalar: bool = True) -> Tensor:
    """`edges_in_csr_order` for edge weights: validated and cast to the features' dtype.

    The cast is differentiable, so weights that require grad keep it (the layers accept
    float64 weights with float32 features, as PyG's do after its implicit promotion).

    Args:
        device: the adjacency's device (see `edge_tensor`).
        scalar: one weight per edge, shape ``(E,)`` (GCN, GraphConv); else ``(E, ...)``.
    """
    edge_weight = edge_tensor(edge_weight, device, op=op, name="edge_weight")
    if edge_weight.dtype.kind not in "biuf":
        raise TypeError(f"{op}: expected numeric `edge_weight` (got dtype {edge_weight.dtype})")
    if scalar and tuple(edge_weight.shape) != (num_edges,):
        raise ValueError(f"{op}: expected `edge_weight` of shape ({num_edges},), one weight per "
                         f"edge (got shape {tuple(edge_weight.shape)})")
    w = edges_in_csr_order(edge_weight, perm, num_edges, op=op, name="edge_weight",
                           device=device)
    return w if dtype is None or w.dtype == dtype else w.to(dtype)


def weighted_adjacency(adj, num_nodes: int, edge_weight, *, op: str, dtype,
                       device: str | None = None, counts_from=None) -> SparseTensor:
    """The square CSR of ``adj`` whose values are ``edge_weight`` (``(E,)``, in the order of
    ``adj``'s edges) when given, else ``adj``'s own values (1 for an edge_index).

    Args:
        device: the features' device, for an edge_index (see `as_adjacency`)."""
    adj, perm = adjacency_and_edge_order(adj, num_nodes, op=op, dtype=dtype, device=device,
                                         counts_from=counts_from)
    if edge_weight is None:
        return adj
    return adj.with_values(edge_weights_in_csr_order(edge_weight, perm, adj.nnz, op=op,
                                                     dtype=dtype, device=adj.device))


def unweighted_adjacency(adj, x, *, op: str) -> SparseTensor:
    """PyG's ``adj_t.set_value(None)``: the ``(N_dst, N_src)`` CSR of ``adj`` with every
    stored entry 1, whatever its values (SAGEConv, GINConv aggregate neighbours unweighted).

    Args:
        x: the layer's features ``x`` or pair ``(x_src, x_dst)`` (``x_dst`` may be None: the
            target count then comes from a SparseTensor's shape).
    """
    is_pair = isinstance(x, tuple | list)
    x_src, x_dst = split_features(x)
    if x_src is None:
        raise ValueError(f"{op}: expected source features `x` to aggregate (got None)")
    graph_adj = adj.adj if isinstance(adj, Graph) else adj
    n_dst = (x_dst.shape[0] if x_dst is not None else graph_adj.shape[0]
             if isinstance(graph_adj, SparseTensor) else None)
    s = as_adjacency(adj, x_src.shape[0], n_dst, op=op, x_is_pair=is_pair,
                     device=x_src.device).structure
    dtype = np.dtype(x_src.dtype)

    def build():  # shared by every call on this structure: read-only on the CPU (CuPy
        ones = backend.xp_of(s.indptr).ones(s.nnz, dtype=dtype)  # has no such flag)
        if isinstance(ones, np.ndarray):
            ones.flags.writeable = False
        return ones

    return SparseTensor(s, wrap(s._cached(("unit_values", dtype.str), build)))


def is_feature_pair(x) -> bool:
    """``x`` is a pair ``(x_src, x_dst)``: a list / tuple of two Tensors (or SparseTensors,
    arrays; either may be None), not nested lists of numbers."""
    return isinstance(x, tuple | list) and len(x) == 2 and all(
        t is None or isinstance(t, Tensor | SparseTensor) or hasattr(t, "shape") for t in x)


def split_features(x):
    """``x`` or ``(x_src, x_dst)`` (bipartite blocks from neighbour sampling) -> both parts.

    A list / tuple that is no such pair (nested lists of numbers, three tensors) comes back
    whole as both parts, for the layer's `check_node_tensor` to refuse naming the layer."""
    if is_feature_pair(x):
        return x[0], x[1]
    return x, x


def check_node_tensor(op: str, name: str, x) -> None:
    """TypeError naming the layer unless ``x`` is None, a Tensor or a SparseTensor (a numpy
    array would otherwise fail deep inside an op that names neither the layer nor ``x``)."""
    if isinstance(x, tuple | list):  # the whole `x` as given, no pair (see `split_features`)
        kind, name = type(x).__name__, "x" if name == "x_src" else name  # x_src: the layer's
        pair = "(x_src, x_dst)" if name == "x" else "(source, target)"  # a propagate keyword
        if x and all(isinstance(t, Tensor | SparseTensor) for t in x):
            raise TypeError(f"{op}: expected `{name}` as a Tensor or a pair {pair} (got a "
                            f"{kind} of {len(x)} tensors)")
        raise TypeError(f"{op}: expected `{name}` as a Tensor or a pair {pair} of Tensors (got "
                        f"a {kind} of {len(x)} items); wrap an array with sparsegraph.tensor()")
    if x is not None and not isinstance(x, Tensor | SparseTensor):
        raise TypeError(f"{op}: expected `{name}` to be a Tensor or a sparse CSR SparseTensor "
                        f"(got {type(x).__name__}); wrap an array with sparsegraph.tensor()")


def pair_features(op: str, x, src_for: str, dst_for: str | None = None):
    """``(is_pair, x_src, x_dst)`` of a layer's ``x`` or ``(x_src, x_dst)``, each checked
    (`check_features`): the source features are required (``src_for``: what reads them), a
    pair's target features too when ``dst_for`` says what reads them."""
    is_pair = isinstance(x, tuple | list)
    x_src, x_dst = split_features(x)
    check_features(op, "x_src" if is_pair else "x", x_src)
    if x_src is None:
        raise ValueError(f"{op}: expected source features `x_src` in the pair (x_src, x_dst) "
                         f"for {src_for} (got None)")
    if is_pair:
        check_features(op, "x_dst", x_dst)
        if dst_for is not None:
            require_x_dst(op, x_dst, dst_for)
    return is_pair, x_src, x_dst


def check_features(op: str, name: str, x) -> None:
    """TypeError naming the layer when ``x`` is no Tensor / SparseTensor or its values are not
    floating (the layer's weights are); ValueError when ``x`` is not a 2-D ``(N, F)`` matrix
    (a 3-D one failed in spmm).

    ``x`` None is allowed for the parts of a pair (``name`` ``x_src`` / ``x_dst``: the layer
    says what it needs), not as the whole ``x`` (a Graph without node features has x None)."""
    if x is None and name == "x":
        raise TypeError(f"{op}: expected `x` as a Tensor of node features (got None)")
    check_node_tensor(op, name, x)
    if x is not None and x.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating `{name}` features (got dtype {x.dtype}); "
                        f"convert with {name}.float()")
    if x is not None and x.ndim != 2:
        raise ValueError(f"{op}: expected `{name}` of shape (num_nodes, num_features) (got "
                         f"shape {tuple(x.shape)})")


def check_in_channels(op: str, name: str, x, expected: int, weight=None) -> None:
    """`check_features`, plus a ValueError naming the layer when ``x`` has not ``expected``
    features (last dim), and a TypeError when ``x``'s dtype is not that of the layer's
    ``weight`` (when given; matmul would fail naming neither)."""
    check_features(op, name, x)
    if x is not None and x.shape[-1] != expected:
        raise ValueError(f"{op}: expected `{name}` with {expected} features, as `in_channels` "
                         f"says (got shape {tuple(x.shape)})")
    if x is not None and weight is not None and np.dtype(x.dtype) != np.dtype(weight.dtype):
        want = np.dtype(weight.dtype)
        conv = {"float32": ".float()", "float64": ".double()", "float16": ".half()"}
        to_x, to_layer = (conv.get(str(want), f".to({str(want)!r})"),
                          conv.get(str(np.dtype(x.dtype)), f".to({str(np.dtype(x.dtype))!r})"))
        raise TypeError(f"{op}: expected `{name}` of dtype {want} like the layer's weights "
                        f"(got {np.dtype(x.dtype)}); convert with {name}{to_x} or the layer "
                        f"with {to_layer}")


def require_x_dst(op: str, x_dst, what: str) -> None:
    """ValueError naming the layer when a pair ``(x_src, None)`` reaches a layer whose
    output needs the target features (``what`` says for which term)."""
    if x_dst is None:
        raise ValueError(f"{op}: expected target features `x_dst` in the pair (x_src, x_dst) "
                         f"for {what} (got None)")


def check_size(op: str, size) -> tuple | None:
    """PyG's ``size=(N_src, N_dst)`` of ``propagate``: two ints >= 0 (or None, unknown)."""
    if size is None:
        return None
    if not isinstance(size, tuple | list) or len(size) != 2 or not all(
            s is None or isinstance(s, Integral) and not isinstance(s, bool) and s >= 0
            for s in size):
        raise ValueError(f"{op}: expected `size` as (N_src, N_dst), two ints >= 0 or None "
                         f"(got {size!r})")
    return tuple(None if s is None else int(s) for s in size)
