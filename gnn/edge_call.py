"""One ``propagate`` call's edges and tensors: PyG's ``_collect``, filling the hooks'
parameters by name (``x_j``, ``index``, ``ptr``, ``size_i``, ...).

Per-edge values follow one of two orders, and every hook sees one of them throughout:

- the caller's order (edge_index columns, or a SparseTensor's stored entries), as in PyG:
  a subclass's own ``message`` and a PyG-style ``aggregate(inputs, index, ...)`` (with the
  default message too) get ``x_j``, ``index``, ``edge_weight`` in it, and ``propagate``'s
  keywords as passed, so per-edge keywords (PyG's ``norm``) pair with their edges whatever E
  is; the built-in reduction scatters such messages by target as they are (no permutation),
  and only an ``aggregate(messages, adj)`` override gets them put in CSR order;
- the CSR order of the adjacency (sorted by target): the default ``message`` with the
  built-in reduction, and ``message_and_aggregate(adj, ...)``, whose ``adj``, ``index`` and
  ``edge_weight`` follow it. Its per-edge keywords are put in that order: those named
  ``edge_*``, and those of E rows where E is no node count; one of E rows where E equals a
  node count is ambiguous and refused (naming it) unless the two orders agree (the caller's
  edges sorted by target).
"""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.gnn.inputs import (
    check_node_tensor,
    check_size,
    csr_and_caller_order,
    edge_weights_in_csr_order,
    edges_in_csr_order,
    is_feature_pair,
    split_features,
)
from sparsegraph.graph import Graph
from sparsegraph.sparse import SparseTensor
from sparsegraph.sparse_checks import as_index_array
from sparsegraph.tensor import Tensor, wrap

_SUFFIXES = ("_i", "_j")
# the parameter names `EdgeCall._special` fills (besides x_i / x_j / edge_weight / NAME_i / NAME_j)
SPECIAL = ("index", "edge_index_i", "edge_index_j", "edge_index", "ptr", "size_i", "size_j",
           "size", "dim_size", "adj_t")
FILLABLE = ("x_i", "x_j", "edge_weight") + SPECIAL


class EdgeCall:
    """The adjacency of one call in CSR and caller order, with its node and edge tensors.

    Args:
        adj: ``(N_dst, N_src)`` CSR adjacency; perm: caller order -> CSR order (or None);
        caller: the adjacency in the caller's entry order.
        edge_weight: ``propagate``'s weights in the caller's order (None: ``adj``'s values).
        in_csr_order: per-edge values in CSR order (the default message, the fused path).
        flip: ``flow="target_to_source"`` (``edge_index`` and ``size`` given reversed).
        adj_given: the caller passed a SparseTensor or Graph (``adj_t`` is then the CSR
            adjacency, else None).
        hook: the hook being filled, ``"message"`` or ``"edge_update"`` (for which, as in
            PyG, ``NAME_i`` / ``NAME_j`` of a pair holding None is None).
    """

    MISSING = object()

    def __init__(self, op: str, adj: SparseTensor, perm, caller: SparseTensor, x_src, x_dst,
                 kwargs: dict, edge_weight, dtype, in_csr_order: bool, flip: bool,
                 adj_given: bool = False, hook: str = "message"):
        self.op, self.csr, self.perm, self.caller = op, adj, perm, caller
        self.hook = hook
        self.x_src, self.x_dst, self.kwargs, self.edge_weight = x_src, x_dst, kwargs, edge_weight
        self.dtype, self.in_csr_order, self.flip = dtype, in_csr_order, flip
        self.adj_given, self._weighted = adj_given, None

    @property
    def adj(self) -> SparseTensor:
        """The CSR adjacency whose values are the edge weights."""
        return self.weighted_csr()

    def weighted_csr(self) -> SparseTensor:
        if self._weighted is None:
            self._weighted = self.csr if self.edge_weight is None else self.csr.with_values(
                edge_weights_in_csr_order(self.edge_weight, self.perm, self.csr.nnz, op=self.op,
                                          scalar=False, dtype=self.dtype,
                                          device=self.csr.device))
        return self._weighted

    def edge_weights(self) -> Tensor:
        if self.in_csr_order or self.perm is None:  # the two orders agree without a perm
            return self.weighted_csr().values
        if self.edge_weight is not None:  # validated and cast, not reordered
            return edge_weights_in_csr_order(self.edge_weight, None, self.csr.nnz, op=self.op,
                                             scalar=False, dtype=self.dtype,
                                             device=self.csr.device)
        w = self.caller.values
        return w if self.dtype is None or w.dtype == self.dtype else w.to(self.dtype)

    def sources(self):
        s = self.csr.structure if self.in_csr_order else self.caller.structure
        return s.cols()

    def targets(self):
        s = self.csr.structure if self.in_csr_order else self.caller.structure
        return s.rows()

    def sorted_by_target(self) -> bool:
        return self.in_csr_order or self.perm is None

    def to_csr_order(self, per_edge: Tensor) -> Tensor:
        """Per-edge values of this call's order -> the CSR entries' order."""
        return per_edge if self.sorted_by_target() else ops.gather_rows(per_edge, self.perm)

    def _gather(self, name: str, features, index):
        if features is None:
            if self.hook == "edge_update":  # PyG's GATConv reads alpha_i: OptTensor
                return None
            raise ValueError(f"{self.op}.{self.hook}: `{name}` needs node features to gather "
                             f"(got None in the pair (x_src, x_dst))")
        if isinstance(features, SparseTensor):
            features = features.to_dense()  # rows of CSR features are gathered densely
        return ops.gather_rows(features, index)

    def _special(self, name: str):
        if name not in SPECIAL:
            return self.MISSING
        n_src, n_dst = self.csr.shape[1], self.csr.shape[0]
        if name in ("index", "edge_index_i"):
            return wrap(self.targets())
        if name == "edge_index_j":
            return wrap(self.sources())
        if name == "edge_index":
            src, dst = self.sources(), self.targets()
            rows = (dst, src) if self.flip else (src, dst)
            return wrap(backend.xp_of(src).stack(rows))
        if name == "ptr":
            return wrap(self.csr.structure.indptr) if self.sorted_by_target() else None
        if name in ("size_i", "dim_size"):
            return n_dst
        if name == "size_j":
            return n_src
        if name == "size":
            return (n_dst, n_src) if self.flip else (n_src, n_dst)
        if name == "adj_t":
            return self.weighted_csr() if self.adj_given else None
        raise AssertionError(f"SPECIAL lists {name!r}, which _special does not fill")

    def _keyword(self, name: str):
        """A keyword of ``propagate`` for a hook. Hooks that see the caller's edge order get
        it as passed (an ``edge_*`` one checked for its E rows); ``message_and_aggregate``,
        whose adjacency is sorted by target, gets a per-edge one (named ``edge_*``, or of E
        rows where E is no node count) in that CSR order, and one whose E rows could as well
        be one per node is refused while the two orders differ."""
        v = self.kwargs[name]
        if not hasattr(v, "shape"):
            return v
        nnz, edge_named = self.csr.nnz, name.startswith("edge_")
        rows = v.shape[0] if len(v.shape) else None
        if not edge_named and rows != nnz:
            return v
        reorder = self.in_csr_order and self.perm is not None
        if edge_named or nnz not in self.csr.shape[:2]:
            return edges_in_csr_order(v, self.perm if reorder else None, nnz, op=self.op,
                                      name=name, device=self.csr.device)
        if reorder and not self._csr_order_is_callers():  # per edge, or per node?
            raise ValueError(
                f"{self.op}.message_and_aggregate: cannot tell whether `{name}` of shape "
                f"{tuple(v.shape)} holds one row per edge or per node ({nnz} edges, "
                f"{self.csr.shape[1]} source and {self.csr.shape[0]} target nodes), and `adj` "
                f"lists the edges sorted by target, unlike the caller: name it `edge_{name}` "
                f"to have it put in adj's order, or pass the edges sorted by target (a CSR "
                f"SparseTensor)")
        return v

    def _csr_order_is_callers(self) -> bool:
        """Whether the caller's edges were sorted by target already (``perm`` the identity)."""
        xp = backend.xp_of(self.perm)
        return bool(xp.all(self.perm == xp.arange(self.perm.shape[0])))

    def value(self, name: str):
        """The value of a hook parameter called ``name`` (`MISSING` when unknown)."""
        if name == "x_j":
            return self._gather(name, self.x_src, self.sources())
        if name == "x_i":
            return self._gather(name, self.x_dst, self.targets())
        if name == "edge_weight":
            return self.edge_weights()
        v = self._special(name)
        if v is not self.MISSING:
            return v
        if name in self.kwargs:
            return self._keyword(name)
        base, suffix = name[:-2], name[-2:]
        if suffix in _SUFFIXES and base in self.kwargs:
            src, dst = split_features(self.kwargs[base])
            if self.flip and isinstance(self.kwargs[base], tuple | list):  # PyG: swapped
                src, dst = dst, src  # only here, where the pair is read by _i / _j
            if suffix == "_j":
                return self._gather(name, src, self.sources())
            return self._gather(name, dst, self.targets())
        return self.MISSING


def _is_node_pair(v) -> bool:
    return isinstance(v, tuple | list) and len(v) == 2 and all(
        t is None or isinstance(t, Tensor | SparseTensor) for t in v)


def flipped(op: str, adj, x, size, kwargs: dict):
    """``flow="target_to_source"`` as the default flow: the edge_index rows swapped, and so
    ``size`` and the pair ``x`` (PyG: ``x[0]`` is indexed by ``edge_index[0]``). The keywords
    are returned as given: a pair among them is swapped only where it is read as ``NAME_i`` /
    ``NAME_j`` (`EdgeCall.value`), so a hook reading it by its plain name gets it unchanged,
    as in PyG."""
    if isinstance(adj.adj if isinstance(adj, Graph) else adj, SparseTensor):
        raise ValueError(f"{op}: flow='target_to_source' takes an edge_index (got a "
                         f"{type(adj).__name__}, which is target-major); pass its transpose "
                         f"with the default flow, as PyG requires")
    ei = adj.array if isinstance(adj, Tensor) else adj if hasattr(adj, "dtype") else (
        as_index_array(op, "adj", adj))
    ei = ei[::-1] if ei.ndim == 2 else ei  # a wrong shape is refused by the conversion
    x = (x[1], x[0]) if _is_node_pair(x) else x
    return ei, x, None if size is None else (size[1], size[0]), kwargs


class _Words:
    """Words of an error message, formatted only when one is raised (``str`` / f-string)."""

    __slots__ = ("fmt", "args")

    def __init__(self, fmt: str, *args):
        self.fmt, self.args = fmt, args

    def __str__(self) -> str:
        return self.fmt.format(*self.args)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


_X_LABELS = ("`x_src`", "`x_dst`")


def requested_node_tensors(params, kwargs: dict) -> dict:
    """``{name: suffixes}`` of the node tensors ``message`` gathers (``x_j``, ``h_i``, ...)."""
    out: dict = {}
    for p in params:
        base, suffix = p.name[:-2], p.name[-2:]
        if suffix in _SUFFIXES and (base == "x" or base in kwargs):
            out.setdefault(base, set()).add(suffix)
    return out


def node_counts(op: str, adj, x, size, kwargs: dict, wanted: dict, flip: bool):
    """``(N_src, N_dst, (whence_src, whence_dst), dtype)`` of one call, PyG's ``_set_size``:
    from ``size``, then the node tensors (``x``, and those ``message`` gathers), then a
    SparseTensor's shape; disagreeing counts are refused by name. ``dtype``: the features'.
    ``whence`` is None when the counts are those of one ``x`` (and a SparseTensor's targets):
    `csr_and_caller_order`'s default wording.
    """
    if size is None and x is not None and not isinstance(x, tuple | list) and (
            not wanted or wanted.keys() == {"x"}):  # the common call, in short
        n = x.shape[0]
        graph_adj = adj.adj if isinstance(adj, Graph) else adj
        if isinstance(graph_adj, SparseTensor) and "_i" not in wanted.get("x", ()):
            return n, graph_adj.shape[0], None, x.dtype
        return n, n, None, x.dtype
    counts, whence, roles = [None, None], [None, None], ("source", "target")

    def note(k: int, n: int, name) -> None:
        if counts[k] is None:
            counts[k], whence[k] = n, _Words("{} with {} rows", name, n)
        elif counts[k] != n:
            raise ValueError(f"{op}: expected {name} with {counts[k]} rows, one per "
                             f"{roles[k]} node, to match {whence[k]} (got {n})")

    for k in (0, 1):
        if size is not None and size[k] is not None:
            counts[k], whence[k] = size[k], _Words("`size[{}]` = {}", 1 - k if flip else k,
                                                   size[k])
    dtype = None
    for name, v in [("x", x)] + [(b, kwargs[b]) for b in wanted if b != "x"]:
        suffixes = wanted.get(name, set()) | ({"_j"} if name == "x" else set())
        if isinstance(v, tuple | list):
            if not is_feature_pair(v):  # three tensors, nested numbers: named by the layer
                check_node_tensor(op, name, v)
            src, dst = split_features(v)
            if flip and name != "x":  # flipped() swapped x only; the keywords as given
                src, dst = dst, src
            labels = (_X_LABELS if name == "x" else
                      (_Words("`{}[{}]`", name, int(flip)), _Words("`{}[{}]`", name, 1 - flip)))
            for k, t in ((0, src), (1, dst)):
                if t is not None:
                    note(k, t.shape[0], labels[k])
                    dtype = t.dtype if dtype is None else dtype
        elif v is not None:
            for k, suffix in ((0, "_j"), (1, "_i")):
                if suffix in suffixes:
                    note(k, v.shape[0], _Words("`{}`", name))
            dtype = v.dtype if dtype is None else dtype
    graph_adj = adj.adj if isinstance(adj, Graph) else adj
    if isinstance(graph_adj, SparseTensor):
        shape = graph_adj.shape[:2]
        if size is not None and any(s is not None and s != n
                                    for s, n in zip(size, shape[::-1], strict=True)):
            raise ValueError(f"{op}: expected `size` (N_src, N_dst) to match `adj` of shape "
                             f"{shape} (N_dst, N_src) (got size={tuple(size)})")
        for k in (0, 1):
            if counts[k] is None:
                counts[k], whence[k] = shape[1 - k], _Words("`adj` of shape {}", shape)
    if counts[0] is None:
        raise ValueError(f"{op}: without node features (`x` is None) expected `edge_index` as a "
                         f"SparseTensor or Graph, whose shape gives the node counts, or "
                         f"`size` (got {type(adj).__name__})")
    if counts[1] is None:
        counts[1], whence[1] = counts[0], whence[0]
    return counts[0], counts[1], tuple(whence), dtype


def sized_adjacency(op: str, adj, x, size, root: str | None = None) -> SparseTensor:
    """The ``(N_dst, N_src)`` CSR adjacency of a layer's ``forward(x, edge_index, size)``:
    PyG's ``size=(N_src, N_dst)`` checked against ``x`` (a tensor, or a pair ``(x_src,
    x_dst)``) and ``adj`` as `propagate` checks it. ``root``: the term that reads the target
    features, for the ValueError when one ``x`` cannot hold them (``size`` naming fewer or
    more targets than ``x`` has rows; PyG fails there with a shape mismatch).
    """
    size = check_size(op, size)
    n_src, n_dst, whence, _ = node_counts(op, adj, x, size, {}, {}, False)
    is_pair = isinstance(x, tuple | list)
    if root is not None and not is_pair and n_dst != n_src:
        raise ValueError(f"{op}: `size` gives {n_dst} target nodes but `x` has {n_src} rows: "
                         f"{root} needs the target features, so pass x as a pair (x_src, "
                         f"x_dst) with x_dst of {n_dst} rows (e.g. (x, x[:{n_dst}]) for a "
                         f"sampled block)")
    x_src = split_features(x)[0]
    return csr_and_caller_order(adj, n_src, n_dst, op=op, x_is_pair=is_pair,
                                counts_from=whence, device=getattr(x_src, "device", None))[0]
