"""`MessagePassing`: message / aggregate / update, with a fused spmm path.

``propagate(adj, x)`` computes, for every target node i,
``update(aggregate({message(x_i, x_j, w_ji, ...) for every edge j -> i}))``; ``message``'s
parameters are matched by name, as in PyG. When neither ``message`` nor ``aggregate`` is
overridden and the aggregation is sum or mean, the layer takes the fused path: one spmm over
the adjacency, never an E x F message tensor (PyG's ``message_and_aggregate``). Otherwise it
gathers the rows ``message`` asks for, calls it and reduces each target's in-edges with the
segment kernels (edges are stored sorted by target).
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import tensor
from sparsegraph.graph import Graph
from sparsegraph.nn import Module
from sparsegraph.sparse import SparseTensor, sparse_coo
from sparsegraph.tensor import Tensor, wrap

AGGRS = ("sum", "mean", "max", "min")


def as_adjacency(adj, num_src: int, num_dst: int | None = None, *,
                 op: str = "propagate", dtype=None, x_is_pair: bool = False) -> SparseTensor:
    """Accept a SparseTensor (target-major), a Graph or an edge_index; return CSR.

    Args:
        adj: ``(N_dst, N_src)`` SparseTensor, a `Graph`, or a ``(2, E)`` edge_index
            (row 0 = source, row 1 = target).
        num_src: number of source nodes (rows of the features being propagated).
        num_dst: number of target nodes (default: ``num_src``).
        dtype: cast constant edge weights to this dtype (the features'), e.g. float64.
        x_is_pair: the caller's features came as a pair ``(x_src, x_dst)`` (error wording).
    """
    return adjacency_and_edge_order(adj, num_src, num_dst, op=op, dtype=dtype,
                                    x_is_pair=x_is_pair)[0]


def adjacency_and_edge_order(adj, num_src: int, num_dst: int | None = None, *,
                             op: str = "propagate", dtype=None, x_is_pair: bool = False):
    """`as_adjacency`, plus how the caller's per-edge tensors map onto the CSR entries.

    Per-edge tensors (edge weights, edge features) follow the caller's edge order: the columns
    of an edge_index, or the stored entries of a SparseTensor (a COO one need not be sorted).
    The CSR result stores its entries sorted by target, so such a tensor ``t`` lines up with
    them as ``t[perm]`` (see `edges_in_csr_order`).

    Returns:
        ``(adj, perm)``: the ``(N_dst, N_src)`` CSR SparseTensor and the ``(E,)`` permutation
        from the caller's edge order to CSR order (None when they are the same).
    """
    num_dst = num_src if num_dst is None else num_dst
    perm = None
    if isinstance(adj, Graph):
        adj = adj.adj
    if isinstance(adj, SparseTensor):
        if adj.layout != "csr":
            perm = adj.structure.to_csr()[1]  # cached on the structure, as to_csr uses it
            adj = adj.to_csr()
    elif isinstance(adj, Tensor | np.ndarray | list | tuple) or hasattr(
            adj, "__cuda_array_interface__"):
        # an array stays where it is (a cupy edge_index builds a structure on the GPU)
        ei = adj.array if isinstance(adj, Tensor) else adj if hasattr(adj, "dtype") else (
            np.asarray(adj))
        if ei.ndim != 2 or ei.shape[0] != 2 or ei.dtype.kind not in "iu":
            raise ValueError(f"{op}: expected `adj` as a SparseTensor or an integer edge_index "
                             f"of shape (2, E) (got {ei.dtype} array of shape {ei.shape})")
        # bipartite (PyG): sources index x_src, targets x_dst; the pair gives the shape
        for row, n, what in ((0, num_src, "x_src" if x_is_pair else "x"),
                             (1, num_dst, "x_dst" if x_is_pair else "x")):
            if ei.size and (int(ei[row].max()) >= n or int(ei[row].min()) < 0):
                bad = int(ei[row].min()) if int(ei[row].min()) < 0 else int(ei[row].max())
                raise ValueError(f"{op}: expected `edge_index[{row}]` entries in [0, {n}) to "
                                 f"match `{what}` with {n} rows (got {bad})")
        # entry (target, source) per edge, in edge_index order; the sort into CSR is cached
        # on this structure together with its permutation
        coo = sparse_coo(ei[::-1], None, (num_dst, num_src), dtype=dtype)
        perm = coo.structure.to_csr()[1]
        adj = coo.to_csr()
    else:
        raise TypeError(f"{op}: expected `adj` as a SparseTensor, Graph or edge_index "
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
    return adj, perm


def edges_in_csr_order(values, perm, num_edges: int, *, op: str, name: str) -> Tensor:
    """A per-edge ``(E, ...)`` tensor in the caller's edge order -> the CSR entries' order.

    Args:
        values: ``(E, ...)`` Tensor (or array-like), one row per edge as the caller listed them.
        perm: the permutation from `adjacency_and_edge_order` (None: already in CSR order).
        num_edges: ``E``, the adjacency's stored entries.
        op, name: the layer and argument, for the error message.
    """
    if not isinstance(values, Tensor):
        values = tensor(values)
    if values.ndim < 1 or values.shape[0] != num_edges:
        raise ValueError(f"{op}: expected `{name}` with {num_edges} rows, one per edge "
                         f"(got shape {values.shape})")
    return values if perm is None else ops.gather_rows(values, perm)


def edge_weights_in_csr_order(edge_weight, perm, num_edges: int, *, op: str, dtype,
                              scalar: bool = True) -> Tensor:
    """`edges_in_csr_order` for edge weights: validated and cast to the features' dtype.

    The cast is differentiable, so weights that require grad keep it (the layers accept
    float64 weights with float32 features, as PyG's do after its implicit promotion).

    Args:
        scalar: one weight per edge, shape ``(E,)`` (GCN, GraphConv); else ``(E, ...)``.
    """
    if not isinstance(edge_weight, Tensor):
        edge_weight = tensor(edge_weight)
    if edge_weight.dtype.kind not in "biuf":
        raise TypeError(f"{op}: expected numeric `edge_weight` (got dtype {edge_weight.dtype})")
    if scalar and tuple(edge_weight.shape) != (num_edges,):
        raise ValueError(f"{op}: expected `edge_weight` of shape ({num_edges},), one weight per "
                         f"edge (got shape {tuple(edge_weight.shape)})")
    w = edges_in_csr_order(edge_weight, perm, num_edges, op=op, name="edge_weight")
    return w if dtype is None or w.dtype == dtype else w.to(dtype)


def check_features(op: str, name: str, x) -> None:
    """TypeError naming the layer when ``x``'s values are not floating (the layer's weights
    are); ValueError when ``x`` is not a 2-D ``(N, F)`` matrix (a 3-D one failed in spmm)."""
    if x is not None and x.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating `{name}` features (got dtype {x.dtype}); "
                        f"convert with {name}.float()")
    if x is not None and x.ndim != 2:
        raise ValueError(f"{op}: expected `{name}` of shape (num_nodes, num_features) (got "
                         f"shape {tuple(x.shape)})")


def check_in_channels(op: str, name: str, x, expected: int) -> None:
    """`check_features`, plus a ValueError naming the layer when ``x`` has not ``expected``
    features (last dim)."""
    check_features(op, name, x)
    if x is not None and x.shape[-1] != expected:
        raise ValueError(f"{op}: expected `{name}` with {expected} features, as `in_channels` "
                         f"says (got shape {tuple(x.shape)})")


def require_x_dst(op: str, x_dst, what: str) -> None:
    """ValueError naming the layer when a pair ``(x_src, None)`` reaches a layer whose
    output needs the target features (``what`` says for which term)."""
    if x_dst is None:
        raise ValueError(f"{op}: expected target features `x_dst` in the pair (x_src, x_dst) "
                         f"for {what} (got None)")


def split_features(x):
    """``x`` or ``(x_src, x_dst)`` (bipartite blocks from neighbour sampling) -> both parts."""
    if isinstance(x, tuple | list):
        if len(x) != 2:
            raise ValueError(f"expected `x` or a pair (x_src, x_dst) (got {len(x)} tensors)")
        return x[0], x[1]
    return x, x


class MessagePassing(Module):
    """Base class of message-passing layers.

    Args:
        aggr: ``"sum"`` (alias ``"add"``), ``"mean"``, ``"max"``, ``"min"``, or a list of them
            (results concatenated on the feature axis; sum and mean share one pass).

    Subclasses implement ``forward`` and call ``propagate``; they may override ``message``
    (per edge), ``aggregate``, ``update`` and ``message_and_aggregate`` (a fused replacement
    for the first two, used whenever it is overridden).

    ``message``'s parameters are filled by name (PyG's convention), each per edge in the
    adjacency's CSR order:

    - ``x_j``: source features ``(E, ...)``, ``x_i``: target features ``(E, ...)`` (from
      ``x_dst`` when ``x`` is a pair ``(x_src, x_dst)``);
    - ``edge_weight``: the edge weights ``(E,)`` (``propagate``'s, else ``adj``'s values);
    - ``name_j`` / ``name_i``: node tensor ``name`` (or pair) passed to ``propagate`` as a
      keyword, gathered at the sources / targets;
    - any other keyword passed to ``propagate``: unchanged, except per-edge tensors in the
      caller's edge order, which are reordered like ``edge_weight``: ``edge_*`` ones (edge_attr,
      edge_type, ...) and any tensor with E rows when E is no node count (PyG's ``norm``; a
      per-edge tensor whose E equals the number of nodes needs an ``edge_`` name).

    ``update(aggr_out, ...)`` gets the aggregate first; its other parameters are filled by
    name from ``x`` (as given to ``propagate``), ``x_dst`` and ``propagate``'s keywords.
    """

    def __init__(self, aggr="sum"):
        super().__init__()
        aggrs = [aggr] if isinstance(aggr, str) else list(aggr)
        aggrs = ["sum" if a == "add" else a for a in aggrs]
        for a in aggrs:
            if a not in AGGRS:
                raise ValueError(f"{type(self).__name__}: expected `aggr` in {AGGRS} "
                                 f"(got {a!r})")
        if not aggrs:
            raise ValueError(f"{type(self).__name__}: expected at least one aggregation")
        self.aggrs = aggrs
        self.aggr = aggr

    # ---- the three hooks -------------------------------------------------------------------
    def message(self, x_j: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Per-edge message ``(E, ...)``: the source features scaled by the edge weight."""
        if edge_weight is None:
            return x_j
        w = edge_weight.reshape(edge_weight.shape + (1,) * (x_j.ndim - edge_weight.ndim))
        return x_j * w

    def aggregate(self, messages: Tensor, adj: SparseTensor) -> Tensor:
        """Reduce each target's in-edge messages (edges are contiguous per target in CSR)."""
        indptr = adj.structure.indptr
        outs, total = [], None
        for a in self.aggrs:
            if a in ("sum", "mean"):
                if total is None:
                    total = ops.segment(messages, indptr, "sum")
                outs.append(total if a == "sum" else total * self._inv_degree(adj, total))
            else:
                outs.append(ops.segment(messages, indptr, a))
        return outs[0] if len(outs) == 1 else ops.cat(outs, dim=-1)

    def update(self, aggr_out: Tensor) -> Tensor:
        """Per-target output from the aggregate ``(N_dst, ...)``; its other parameters are
        filled by name (PyG's convention): ``x`` (as passed to ``propagate``), ``x_dst`` (the
        target features) or a keyword passed to ``propagate``, unchanged."""
        return aggr_out

    # ---- the driver --------------------------------------------------------------------------
    def _inv_degree(self, adj: SparseTensor, like: Tensor) -> Tensor:
        """``1 / max(in-degree, 1)`` shaped to broadcast over ``like``; cached per structure."""
        s = adj.structure

        def build():
            deg = s.degree(1)  # numpy or cupy, like the structure
            xp = backend.xp_of(deg)
            return (1.0 / xp.maximum(deg, 1)).astype(like.dtype)

        inv = s._cached(("inv_degree", like.dtype.str), build)
        return wrap(inv.reshape((-1,) + (1,) * (like.ndim - 1)))

    def uses_fused_path(self) -> bool:
        """One spmm instead of message + aggregate: taken when it computes the same thing
        (neither hook overridden, sum/mean only) or when the subclass supplies its own."""
        cls = type(self)
        if cls.message_and_aggregate is not MessagePassing.message_and_aggregate:
            return True
        return (cls.message is MessagePassing.message
                and cls.aggregate is MessagePassing.aggregate
                and set(self.aggrs) <= {"sum", "mean"})

    def propagate(self, adj, x, edge_weight: Tensor | None = None, **kwargs) -> Tensor:
        """Aggregate messages along the edges of ``adj`` into its target nodes.

        Args:
            adj: ``(N_dst, N_src)`` adjacency (SparseTensor, Graph or edge_index).
            x: source features ``(N_src, ...)`` or a pair ``(x_src, x_dst)``; dense or sparse
                CSR (densified where ``message`` needs gathered rows).
            edge_weight: per-edge weights ``(E,)`` overriding ``adj``'s values, in the order
                of ``adj``'s edges (edge_index columns, or a SparseTensor's stored entries).
            **kwargs: for ``message`` and ``update``, matched by name (see the class
                docstring).

        Returns:
            ``(N_dst, ...)`` aggregated features after ``update``.
        """
        op = type(self).__name__
        x_src, x_dst = split_features(x)
        n_src, n_dst = _node_counts(op, adj, x_src, x_dst)
        adj, perm = adjacency_and_edge_order(adj, n_src, n_dst, op=op,
                                             dtype=None if x_src is None else x_src.dtype,
                                             x_is_pair=isinstance(x, tuple | list))
        if edge_weight is not None:
            adj = adj.with_values(edge_weights_in_csr_order(
                edge_weight, perm, adj.nnz, op=op, scalar=False,
                dtype=None if x_src is None else x_src.dtype))
        if self.uses_fused_path():
            if x_src is None:
                raise ValueError(f"{op}: expected source features `x` to propagate (got None); "
                                 "only a `message` that does not read x_j can do without")
            out = self.message_and_aggregate(adj, x_src)
        else:
            args, kw = self._message_arguments(adj, perm, x_src, x_dst, kwargs)
            out = self.aggregate(self.message(*args, **kw), adj)
        if type(self).update is MessagePassing.update:
            return out
        return self.update(out, **self._update_arguments(x, x_dst, kwargs))

    def _update_arguments(self, x, x_dst, kwargs: dict) -> dict:
        """``update``'s parameters after the aggregate, by name (node-level, unchanged)."""
        op = type(self).__name__
        known = {"x": x, "x_dst": x_dst, **kwargs}
        out = {}
        for p in _parameters(type(self), "update")[1:]:
            if p.kind is p.VAR_KEYWORD:
                out.update({k: v for k, v in kwargs.items() if k not in out})
            elif p.kind is not p.VAR_POSITIONAL and p.name in known:
                out[p.name] = known[p.name]
            elif p.default is p.empty and p.kind is not p.VAR_POSITIONAL:
                raise TypeError(f"{op}.update: cannot fill parameter `{p.name}`: expected x, "
                                f"x_dst or a keyword passed to propagate (got keywords "
                                f"{sorted(kwargs)})")
        return out

    def _message_arguments(self, adj: SparseTensor, perm, x_src, x_dst, kwargs: dict):
        """``message``'s arguments by parameter name: ``(positional, keyword)``."""
        op = type(self).__name__
        sources = adj.structure.indices

        node_counts = {adj.shape[1], adj.shape[0]}

        def per_edge(v) -> bool:
            # E rows and no node count's: one row per edge (PyG's `norm` of GCN's message)
            return getattr(v, "ndim", 0) >= 1 and v.shape[0] == adj.nnz and (
                adj.nnz not in node_counts)

        def gathered(name: str, features, index):
            if features is None:
                raise ValueError(f"{op}.message: `{name}` needs node features to gather "
                                 f"(got None in the pair (x_src, x_dst))")
            if isinstance(features, SparseTensor):
                features = features.to_dense()  # rows of CSR features are gathered densely
            return ops.gather_rows(features, index)

        def value(name: str):
            if name == "x_j":
                return gathered(name, x_src, sources)
            if name == "x_i":
                return gathered(name, x_dst, adj.structure.rows())
            if name == "edge_weight":
                return adj.values
            if name in kwargs:
                v = kwargs[name]
                if hasattr(v, "shape") and (name.startswith("edge_") or per_edge(v)):
                    return edges_in_csr_order(v, perm, adj.nnz, op=op, name=name)
                return v
            base, suffix = name[:-2], name[-2:]
            if suffix in ("_i", "_j") and base in kwargs:
                src, dst = split_features(kwargs[base])
                if suffix == "_j":
                    return gathered(name, src, sources)
                return gathered(name, dst, adj.structure.rows())
            return _MISSING

        args, kw, var_keyword = [], {}, False
        for p in _parameters(type(self), "message"):
            if p.kind is p.VAR_KEYWORD:
                var_keyword = True
                continue
            if p.kind is p.VAR_POSITIONAL:
                continue
            v = value(p.name)
            if v is _MISSING and p.default is not p.empty:
                v = p.default  # explicit, so that later positional-only ones keep their places
            if v is _MISSING:
                raise TypeError(f"{op}.message: cannot fill parameter `{p.name}`: expected "
                                f"x_i, x_j, edge_weight, a keyword passed to propagate, or "
                                f"NAME_i / NAME_j for a node tensor NAME passed to propagate "
                                f"(got keywords {sorted(kwargs)})")
            if p.kind is p.POSITIONAL_ONLY:
                args.append(v)
            else:
                kw[p.name] = v
        if var_keyword:
            for name in kwargs.keys() - kw.keys():
                kw[name] = value(name)
        return args, kw

    def message_and_aggregate(self, adj: SparseTensor, x: Tensor) -> Tensor:
        """The fused path: one spmm per distinct aggregation (mean = sum / in-degree)."""
        total = ops.spmm(adj, x)
        outs = [total if a == "sum" else total * self._inv_degree(adj, total)
                for a in self.aggrs]
        return outs[0] if len(outs) == 1 else ops.cat(outs, dim=-1)

    def extra_repr(self) -> str:
        return ""


_MISSING = object()


def _node_counts(op: str, adj, x_src, x_dst) -> tuple[int, int | None]:
    """``(N_src, N_dst)`` from the features; where they are None (``x`` None, or the pair
    ``(x_src, None)`` of a bipartite layer that needs no target features, as PyG allows)
    from the shape of ``adj``. ``N_dst`` None: the same as ``N_src`` (an edge_index)."""
    graph_adj = adj.adj if isinstance(adj, Graph) else adj
    shape = graph_adj.shape[:2] if isinstance(graph_adj, SparseTensor) else None
    if x_src is not None:
        n_src = x_src.shape[0]
    elif shape is not None:
        n_src = shape[1]
    else:
        raise ValueError(f"{op}: without node features (`x` is None) expected `adj` as a "
                         f"SparseTensor or Graph, whose shape gives the node counts (got "
                         f"{type(adj).__name__})")
    n_dst = x_dst.shape[0] if x_dst is not None else None if shape is None else shape[0]
    return n_src, n_dst


@functools.cache
def _parameters(cls, hook: str) -> tuple:
    """The parameters of ``cls``'s hook ``message`` / ``update`` without ``self`` (inspected
    once per class)."""
    params = tuple(inspect.signature(getattr(cls, hook)).parameters.values())
    is_static = isinstance(inspect.getattr_static(cls, hook), staticmethod)
    return params if is_static else params[1:]
