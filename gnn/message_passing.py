"""`MessagePassing`: message / aggregate / update, with a fused spmm path.

``propagate(adj, x)`` computes, for every target node i,
``update(aggregate({message(x_i, x_j, w_ji, ...) for every edge j -> i}))``; the hooks'
parameters are matched by name, as in PyG. When neither ``message`` nor ``aggregate`` is
overridden and the aggregation is sum or mean, the layer takes the fused path: one spmm over
the adjacency, never an E x F message tensor, whatever the adjacency's form. A subclass's own
``message_and_aggregate`` runs, as in PyG, when the adjacency comes as a SparseTensor (or a
Graph); with an edge_index, ``message`` and ``aggregate`` run. Otherwise it
gathers the rows ``message`` asks for, calls it and reduces each target's in-edges with the
segment kernels (scatter ones for messages in an edge_index's unsorted order). Whatever
the path, the result is a dense Tensor.
"""

from __future__ import annotations

import functools
import inspect
import math

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.gnn.edge_call import (
    FILLABLE,
    EdgeCall,
    flipped,
    node_counts,
    requested_node_tensors,
)
from sparsegraph.gnn.inputs import (
    check_node_tensor,
    check_size,
    csr_and_caller_order,
    split_features,
)
from sparsegraph.gnn.message_aggr import AGGRS, combine, reduce_by, resolve_aggr
from sparsegraph.graph import Graph
from sparsegraph.nn import Module
from sparsegraph.sparse import SparseTensor
from sparsegraph.sparse_checks import as_index_array
from sparsegraph.tensor import Tensor, wrap

FLOWS = ("source_to_target", "target_to_source")


class MessagePassing(Module):
    """Base class of message-passing layers (PyG's ``MessagePassing``).

    Args:
        aggr: ``"sum"`` (alias ``"add"``), ``"mean"``, ``"max"``, ``"min"``, ``"mul"`` (PyG's
            MulAggregation: the product of a target's messages, 1 for a target without
            in-edges, as PyG's ``scatter(reduce="mul")``), any other name PyG's
            ``aggregation_resolver`` takes (``"softmax"``, ``"powermean"``, ``"std"``,
            ``"var"``, ...; sparsegraph.gnn.aggr), an `Aggregation` instance (e.g.
            ``SoftmaxAggregation(learn=True)``, ``MultiAggregation([...], mode="proj")``), or
            a list mixing names and instances (PyG's ``MultiAggregation``: results
            concatenated on the feature axis; sum and mean share one pass), or None when the
            subclass aggregates itself (it overrides ``message_and_aggregate`` or
            ``aggregate``). Sum and mean, as names or as plain `SumAggregation` /
            `MeanAggregation` instances, keep the fused spmm path; other aggregations reduce
            the messages as PyG's ``aggr_module(inputs, index, ptr=ptr, dim_size=dim_size,
            dim=0)``.
        aggr_kwargs: keywords for the aggregation built from a name (PyG's), e.g.
            ``dict(learn=True)`` for ``"softmax"``; for a list, `MultiAggregation`'s
            (``aggrs_kwargs``, ``mode``, ``mode_kwargs``); ignored for an instance (as PyG).
            (default: None)
        flow: ``"source_to_target"`` (edge ``edge_index[:, k]`` carries a message from
            ``edge_index[0, k]`` to ``edge_index[1, k]``) or ``"target_to_source"`` (the
            reverse; an edge_index only, as in PyG). (default: "source_to_target")
        node_dim: the axis of the messages (and node features) that runs over edges (nodes).
            sparsegraph always aggregates along axis 0, so it must name axis 0: ``0`` (what
            PyG's layers with ``(E, H, F)`` messages pass), or a negative axis that is axis 0
            of the messages it gets, such as PyG's default ``-2`` for 2-D ``(E, F)`` messages
            (checked at each ``propagate``). (default: 0)

    Attributes (PyG's): ``aggr`` is the aggregation as text (a name as given, an instance's
    ``str``, a list of them for a list), ``aggr_module`` the resolved `Aggregation` (a
    submodule, so learnable aggregations' parameters such as ``aggr_module.t`` are in
    ``parameters()`` and the state_dict; None for ``aggr=None``).

    Subclasses implement ``forward`` and call ``propagate``; they may override ``message`` (per
    edge), ``aggregate``, ``update`` and ``message_and_aggregate`` (a fused replacement for the
    first two), and ``edge_update``, which ``edge_updater`` calls to compute per-edge values
    (e.g. attention coefficients) without aggregating them. As in PyG, an overridden
    ``message_and_aggregate`` runs when ``propagate`` gets a SparseTensor (PyG's ``adj_t``) or a
    Graph, and ``message`` / ``aggregate`` run for an edge_index, so a layer with both hooks
    (``message(x_j, norm)`` for an edge_index, ``message_and_aggregate(adj_t, x)`` for a
    SparseTensor) gets each input its own way. Two exceptions: a layer with ``aggr=None`` that
    has no ``aggregate`` of its own uses ``message_and_aggregate`` for an edge_index too
    (nothing else can aggregate), and a ``propagate`` keyword that ``message_and_aggregate``
    reads but none of ``message`` / ``aggregate`` / ``update`` does is refused with an
    edge_index (PyG would drop it silently): pass ``sg.from_edge_index(edge_index, num_nodes)``
    instead.

    ``message``'s parameters are filled by name (PyG's convention), per edge in the order of
    the edges as given (edge_index columns, or a SparseTensor's stored entries):

    - ``x_j``: source features ``(E, ...)``, ``x_i``: target features ``(E, ...)`` (from
      ``x_dst`` when ``x`` is a pair ``(x_src, x_dst)``); ``NAME_j`` / ``NAME_i`` the same for
      any node tensor (or pair) passed to ``propagate`` as the keyword ``NAME``;
    - ``edge_weight``: ``(E,)`` (``propagate``'s, else ``adj``'s values, 1 for an edge_index);
    - ``index`` / ``edge_index_i``: the target of every edge, ``edge_index_j`` its source
      (int Tensors ``(E,)``), ``edge_index``: ``(2, E)`` as given; ``ptr``: the CSR row
      pointer when the edges are sorted by target (a CSR adjacency), else None;
      ``size_i`` / ``size_j``: the numbers of target / source nodes; ``size``: both, in
      ``edge_index``'s row order; ``adj_t``: the CSR adjacency (None for an edge_index);
    - any other keyword passed to ``propagate``, unchanged (per-edge ones in the caller's
      order, as the edges are).

    ``aggregate`` may be overridden with PyG's signature ``aggregate(inputs, index, ptr=None,
    dim_size=None)`` (its parameters after ``inputs`` filled by name as ``message``'s, and
    like them in the caller's edge order, also with the default ``message``: ``inputs``,
    ``index`` and a per-edge keyword such as PyG's ``norm`` pair up whatever E is), or as
    ``aggregate(messages, adj)`` (detected by the parameter name ``adj``), which gets the
    messages in ``adj``'s CSR order (grouped by target: ``adj.structure.indptr``).
    ``message_and_aggregate(adj, x, ...)`` gets the ``(N_dst, N_src)`` CSR adjacency (values:
    the edge weights) and ``x`` as passed (a pair ordered ``(x_src, x_dst)``), further
    parameters by name in adj's order (sorted by target): ``index``, ``edge_weight``, and a
    per-edge keyword, reordered when it is named ``edge_*`` or has E rows where E is no node
    count; a keyword of E rows when E equals a node count could be per node, and is refused
    with a ValueError (name it ``edge_*``) unless the caller's edges are already sorted by
    target. ``update(aggr_out, ...)`` gets the aggregate first; its other parameters are
    filled by name from ``x`` (as given to ``propagate``), ``x_dst`` and ``propagate``'s
    keywords.
    """

    def __init__(self, aggr="sum", *, aggr_kwargs: dict | None = None,
                 flow: str = "source_to_target", node_dim: int = 0):
        super().__init__()
        name = type(self).__name__
        if flow not in FLOWS:
            raise ValueError(f"{name}: expected `flow` in {FLOWS} (got {flow!r})")
        if isinstance(node_dim, bool) or not isinstance(node_dim, int | np.integer):
            raise TypeError(f"{name}: expected an int `node_dim` (got {node_dim!r})")
        if node_dim > 0:
            raise ValueError(f"{name}: expected `node_dim` 0, or a negative axis that is "
                             f"axis 0 of the messages (e.g. PyG's default -2 for (E, F) "
                             f"messages): sparsegraph aggregates along axis 0 (got {node_dim})")
        if aggr is None:
            cls = type(self)
            if (cls.message_and_aggregate is MessagePassing.message_and_aggregate
                    and cls.aggregate is MessagePassing.aggregate):
                raise ValueError(f"{name}: `aggr=None` leaves the aggregation to the layer "
                                 f"(PyG): override message_and_aggregate or aggregate, or "
                                 f"pass `aggr` in {AGGRS} or a list of them")
            text, module, aggrs = None, None, []
        else:
            text, module, aggrs = resolve_aggr(name, aggr, aggr_kwargs)
        # what the paths reduce one by one: names of AGGRS, or Aggregation modules
        self.aggrs = aggrs
        self.aggr = text
        self.aggr_module = module
        self.flow = flow
        self.node_dim = int(node_dim)

    # ---- the hooks ---------------------------------------------------------------------------
    def message(self, x_j: Tensor, edge_weight: Tensor | None = None) -> Tensor:
        """Per-edge message ``(E, ...)``: the source features scaled by the edge weight."""
        if edge_weight is None:
            return x_j
        w = edge_weight.reshape(edge_weight.shape + (1,) * (x_j.ndim - edge_weight.ndim))
        return x_j * w

    def aggregate(self, inputs: Tensor, index=None, ptr=None, dim_size: int | None = None):
        """Reduce each target's in-edge messages by ``aggr`` (PyG's signature).

        Args:
            inputs: ``(E, ...)`` messages.
            index: ``(E,)`` target of every message; or the CSR adjacency (the older
                ``aggregate(messages, adj)`` form: messages in its CSR order).
            ptr: CSR row pointer when the messages are sorted by target (the fast path).
            dim_size: number of targets.
        """
        if isinstance(index, SparseTensor):
            return self._aggregate_csr(inputs, index)
        if not self.aggrs:
            raise ValueError(f"{type(self).__name__}: `aggr=None`: the layer must aggregate "
                             "itself (override aggregate or message_and_aggregate)")
        return combine(self.aggr_module,
                       [reduce_by(inputs, a, ptr, index, dim_size) for a in self.aggrs])

    def update(self, aggr_out: Tensor) -> Tensor:
        """Per-target output from the aggregate ``(N_dst, ...)``; its other parameters are
        filled by name (PyG's convention): ``x`` (as passed to ``propagate``), ``x_dst`` (the
        target features) or a keyword passed to ``propagate``, unchanged."""
        return aggr_out

    def message_and_aggregate(self, adj: SparseTensor, x) -> Tensor:
        """The fused path: one spmm per distinct aggregation (mean = sum / in-degree); sparse
        CSR features stay sparse in the product, whose ``(N_dst, F)`` result is dense. Dense
        features ``(N, ...)`` of another rank (``(N, H, F)`` heads, ``(N,)``) are summed as
        ``(N, prod(...))`` columns under one weight per edge, as the default ``message``
        would give them; hybrid ``(E, H)`` weights weigh ``(N, H, F)`` features per head."""
        x = x[0] if isinstance(x, tuple | list) else x
        if x.ndim == 2 or adj.values.ndim > 1:  # hybrid (E, H) weights take (N, H, F)
            total = ops.spmm(adj, x)
            if isinstance(total, SparseTensor):  # spgemm with sparse features
                total = total.to_dense()
        else:  # one weight per edge: (N, ...) features as (N, prod(...)) columns
            rest = tuple(x.shape[1:])
            total = ops.spmm(adj, x.reshape((x.shape[0], math.prod(rest))))
            total = total.reshape((total.shape[0],) + rest)
        if len(self.aggrs) == 1:
            return total if self.aggrs[0] == "sum" else total * self._inv_degree(adj, total)
        return combine(self.aggr_module, [
            total if a == "sum" else total * self._inv_degree(adj, total) for a in self.aggrs])

    # ---- the driver --------------------------------------------------------------------------
    def _aggregate_csr(self, messages: Tensor, adj: SparseTensor) -> Tensor:
        """``aggregate`` over messages in ``adj``'s CSR order (contiguous per target)."""
        indptr = adj.structure.indptr
        return self._reduce(messages, adj, lambda a: reduce_by(messages, a, ptr=indptr))

    def _reduce(self, messages: Tensor, adj: SparseTensor, reduce) -> Tensor:
        """Every entry of ``aggrs`` by ``reduce(entry)`` (sum and mean share one sum; mean
        divides by ``adj``'s in-degrees), joined as ``aggr_module`` joins them."""
        outs, total = [], None
        for a in self.aggrs:
            if isinstance(a, str) and a in ("sum", "mean"):
                if total is None:
                    total = reduce("sum")
                outs.append(total if a == "sum" else total * self._inv_degree(adj, total))
            else:
                outs.append(reduce(a))
        return combine(self.aggr_module, outs)

    def _inv_degree(self, adj: SparseTensor, like: Tensor) -> Tensor:
        """``1 / max(in-degree, 1)`` shaped to broadcast over ``like``; cached per structure."""
        s = adj.structure

        def build():
            deg = s.degree(1)  # numpy or cupy, like the structure
            xp = backend.xp_of(deg)
            return (1.0 / xp.maximum(deg, 1)).astype(like.dtype)

        inv = s._cached(("inv_degree", like.dtype.str), build)
        return wrap(inv.reshape((-1,) + (1,) * (like.ndim - 1)))

    def uses_fused_path(self, adj=None) -> bool:
        """Whether ``propagate(adj, ...)`` runs ``message_and_aggregate`` instead of
        ``message`` + ``aggregate``: always when it computes the same thing (neither hook
        overridden, sum / mean only, as names or plain `SumAggregation` / `MeanAggregation`
        instances; other aggregation modules reduce the messages); for the subclass's own
        ``message_and_aggregate``, when ``adj`` is a SparseTensor or a Graph (PyG's rule;
        ``adj=None`` asks about such an input), or when the layer has no other aggregation
        (``aggr=None``, no ``aggregate``)."""
        cls = type(self)
        if cls.message_and_aggregate is not MessagePassing.message_and_aggregate:
            return (adj is None or _is_sparse(adj) or not self.aggrs
                    and cls.aggregate is MessagePassing.aggregate)
        return (cls.message is MessagePassing.message
                and cls.aggregate is MessagePassing.aggregate
                and all(isinstance(a, str) and a in ("sum", "mean") for a in self.aggrs))

    def propagate(self, adj, x=None, edge_weight: Tensor | None = None, size=None,
                  **kwargs) -> Tensor:
        """Aggregate messages along the edges of ``adj`` into its target nodes.

        Args:
            adj: ``(N_dst, N_src)`` adjacency (SparseTensor, Graph or edge_index).
            x: source features ``(N_src, ...)`` or a pair ``(x_src, x_dst)``; dense or sparse
                CSR (densified where ``message`` needs gathered rows). Optional: node
                features may come under any keyword (``propagate(edge_index, h=h)`` with
                ``message(h_j)``).
            edge_weight: per-edge weights ``(E,)`` overriding ``adj``'s values, in the order
                of ``adj``'s edges (edge_index columns, or a SparseTensor's stored entries).
            size: ``(N_src, N_dst)`` (PyG): the node counts when the features do not give
                them, e.g. a bipartite edge_index propagated from ``x_src`` alone; indices
                out of range are refused.
            **kwargs: for the hooks, matched by name (see the class docstring).

        Returns:
            ``(N_dst, ...)`` dense aggregated features after ``update``.
        """
        op, cls = type(self).__name__, type(self)
        if size is not None:
            check_size(op, size)
        given_x = x  # update sees it as the caller passed it (flipped() swaps a pair x)
        adj_given = _is_sparse(adj)
        fused = self.uses_fused_path(adj)
        if not fused and cls.message_and_aggregate is not MessagePassing.message_and_aggregate:
            _refuse_unread_keywords(op, cls, kwargs)
        flip = self.flow == "target_to_source"
        if flip:
            adj, x, size, kwargs = flipped(op, adj, x, size, kwargs)
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_node_tensor(op, "x", x_src)
        if x_dst is not x_src:
            check_node_tensor(op, "x_dst" if is_pair else "x", x_dst)
        wanted = {} if fused else requested_node_tensors(_parameters(cls, "message"), kwargs)
        n_src, n_dst, whence, dtype = node_counts(op, adj, x, size, kwargs, wanted, flip)
        adj, perm, caller = csr_and_caller_order(
            adj, n_src, n_dst, op=op, dtype=dtype, x_is_pair=is_pair, counts_from=whence,
            edge_rows=(1, 0) if flip else (0, 1),
            device=next((t.device for t in (x_src, x_dst) if t is not None), None))
        # a PyG-style aggregate gets inputs, index and keywords in the caller's order
        in_csr_order = fused or (cls.message is MessagePassing.message
                                 and _aggregate_style(cls) != "pyg")
        call = EdgeCall(op, adj, perm, caller, x_src, x_dst, kwargs, edge_weight, dtype,
                        in_csr_order, flip, adj_given=adj_given)
        if fused:
            _check_node_dim(op, self.node_dim, x_src, "node features `x`")
            out = self._fused(call, x, x_src, is_pair)
        else:
            args, kw = _fill(op, cls, "message", call.value, kwargs)
            messages = self.message(*args, **kw)
            _check_node_dim(op, self.node_dim, messages, "messages")
            out = self._aggregate_messages(op, cls, call, messages, kwargs)
        if isinstance(out, SparseTensor):  # an override's sparse product: dense, as PyG's
            out = out.to_dense()
        if cls.update is MessagePassing.update:
            return out
        return self.update(out, **self._update_arguments(given_x, x_dst, kwargs))

    def _fused(self, call: EdgeCall, x, x_src, is_pair: bool):
        op, cls = type(self).__name__, type(self)
        adj = call.weighted_csr()
        if cls.message_and_aggregate is MessagePassing.message_and_aggregate:
            if x_src is None:
                raise ValueError(f"{op}: expected source features `x` to propagate (got "
                                 f"None); only a `message` that does not read x_j can do "
                                 f"without")
            return self.message_and_aggregate(adj, x_src)
        x = (x_src, call.x_dst) if is_pair else x_src
        args, kw = _fill(op, cls, "message_and_aggregate", call.value, call.kwargs, skip=1,
                         known={"x": x})
        return self.message_and_aggregate(adj, *args, **kw)

    def _aggregate_messages(self, op: str, cls, call: EdgeCall, messages, kwargs):
        style = _aggregate_style(cls)
        if style == "pyg":
            args, kw = _fill(op, cls, "aggregate", call.value, kwargs, skip=1)
            return self.aggregate(messages, *args, **kw)
        if style == "adj":
            return self.aggregate(call.to_csr_order(messages), call.adj)
        if call.sorted_by_target():
            return self._aggregate_csr(messages, call.csr)
        # messages in the caller's order: reduce them by target as they are (no E x F
        # permutation into CSR order)
        index, n_dst = call.targets(), call.csr.shape[0]
        return self._reduce(messages, call.csr,
                            lambda a: reduce_by(messages, a, None, index, n_dst))

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

    def edge_update(self, *args, **kwargs):
        """Per-edge values for `edge_updater` (PyG's hook): override it. Its parameters are
        filled by name as ``message``'s (``alpha_j`` / ``alpha_i`` for a node tensor or pair
        ``alpha`` passed to ``edge_updater``, ``index``, ``ptr``, ``size_i``, ``edge_attr``,
        ...); it returns per-edge values in the caller's edge order, e.g. GAT's
        ``softmax(leaky_relu(alpha_j + alpha_i), index, ptr, size_i)``."""
        raise NotImplementedError(f"{type(self).__name__}: edge_updater calls edge_update, "
                                  f"which the layer does not override")

    def edge_updater(self, edge_index, size=None, **kwargs):
        """Per-edge values from ``edge_update`` (PyG >= 2.1): ``propagate`` without the
        aggregation, e.g. GAT's attention coefficients, ``alpha = self.edge_updater(
        edge_index, alpha=(a_src, a_dst))`` with ``edge_update(alpha_j, alpha_i, index, ptr,
        size_i)``. The flow, the inputs and the filled parameters are ``propagate``'s.

        Args:
            edge_index: ``(2, E)`` edge_index, or an ``(N_dst, N_src)`` SparseTensor or Graph
                (``flow="target_to_source"`` takes an edge_index only, as ``propagate``).
            size: ``(N_src, N_dst)``: the node counts when the node tensors do not give them
                (PyG documents it; PyG's own code ignores it); without any count and without
                a SparseTensor, ``max(edge_index) + 1`` nodes (PyG's ``maybe_num_nodes``).
            **kwargs: for ``edge_update``, by name: a node tensor or pair ``(src, dst)``
                ``NAME`` is read as ``NAME_j`` / ``NAME_i`` (a None in the pair gives None, as
                in PyG), per-edge tensors (``edge_attr``) in the caller's edge order, anything
                else unchanged; ``x`` and ``edge_weight`` as ``propagate``'s.

        Returns:
            what ``edge_update`` returns, per edge in the caller's order (edge_index columns,
            or a SparseTensor's stored entries), which ``index`` (targets), ``edge_index_j``
            (sources) and per-edge keywords follow; ``ptr`` is the CSR row pointer when that
            order is sorted by target (a CSR SparseTensor), else None.
        """
        op, cls = type(self).__name__, type(self)
        if cls.edge_update is MessagePassing.edge_update:
            raise NotImplementedError(f"{op}: edge_updater calls edge_update, which the "
                                      f"layer does not override (PyG's hook computing "
                                      f"per-edge values from NAME_i / NAME_j and keywords)")
        size = check_size(op, size)
        adj, x, flip = edge_index, kwargs.get("x"), self.flow == "target_to_source"
        if flip:
            adj, x, size, kwargs = flipped(op, adj, x, size, kwargs)
        wanted = requested_node_tensors(_parameters(cls, "edge_update"), kwargs)
        if size is None and x is None and not wanted and not _is_sparse(adj):
            size = _maybe_num_nodes(op, adj)
        n_src, n_dst, whence, dtype = node_counts(op, adj, x, size, kwargs, wanted, flip)
        x_src, x_dst = split_features(x)
        nodes = [x_src, x_dst] + [t for b in wanted for t in split_features(kwargs[b])]
        adj, perm, caller = csr_and_caller_order(
            adj, n_src, n_dst, op=op, dtype=dtype, x_is_pair=isinstance(x, tuple | list),
            counts_from=whence, edge_rows=(1, 0) if flip else (0, 1),
            device=next((t.device for t in nodes if isinstance(t, Tensor)), None))
        call = EdgeCall(op, adj, perm, caller, x_src, x_dst, kwargs, kwargs.get("edge_weight"),
                        dtype, False, flip, adj_given=_is_sparse(edge_index), hook="edge_update")
        args, kw = _fill(op, cls, "edge_update", call.value, kwargs)
        return self.edge_update(*args, **kw)

    def extra_repr(self) -> str:
        return ""



def _is_sparse(adj) -> bool:
    """Whether ``adj`` is PyG's sparse input (a SparseTensor, or a Graph holding one), for
    which an overridden ``message_and_aggregate`` runs."""
    return isinstance(adj.adj if isinstance(adj, Graph) else adj, SparseTensor)


def _maybe_num_nodes(op: str, edge_index) -> tuple:
    """``(n, n)`` with ``n = max(edge_index) + 1`` (PyG's ``maybe_num_nodes``)."""
    ei = edge_index.array if isinstance(edge_index, Tensor) else edge_index if hasattr(
        edge_index, "dtype") else as_index_array(op, "edge_index", edge_index)
    n = int(ei.max()) + 1 if ei.size else 0
    return n, n


def _check_node_dim(op: str, node_dim: int, t, what: str) -> None:
    """ValueError unless ``node_dim`` names axis 0 of ``t`` (messages or dense features)."""
    if node_dim == 0 or not isinstance(t, Tensor) or t.ndim + node_dim == 0:
        return
    raise ValueError(f"{op}: `node_dim={node_dim}` is axis {t.ndim + node_dim} of the {what} "
                     f"of shape {tuple(t.shape)}, not axis 0, along which sparsegraph "
                     f"aggregates; pass node_dim=0 (as PyG's layers with (E, H, F) messages "
                     f"do)")


def _refuse_unread_keywords(op: str, cls, kwargs: dict) -> None:
    """With an edge_index, ``message`` / ``aggregate`` / ``update`` run instead of the
    overridden ``message_and_aggregate``: a keyword only that hook reads would be dropped."""
    fused = {p.name for p in _parameters(cls, "message_and_aggregate")[1:]}
    hooks = ["message", "update"] + (["aggregate"] if _aggregate_style(cls) == "pyg" else [])
    params = [p for hook in hooks for p in _parameters(cls, hook)]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    read = {p.name for p in params}
    for name in kwargs:
        if name in fused and not read & {name, name + "_i", name + "_j"}:
            raise ValueError(f"{op}: `message_and_aggregate` reads `{name}`, which message, "
                             f"aggregate and update do not; as in PyG it runs only for a "
                             f"SparseTensor (or Graph) adjacency, and an edge_index takes "
                             f"message and aggregate: pass sg.from_edge_index(edge_index, "
                             f"num_nodes) instead, or read `{name}` in message")


def _fill(op: str, cls, hook: str, value, kwargs: dict, skip: int = 0, known=None):
    """A hook's arguments by parameter name: ``(positional, keyword)``; the first ``skip``
    parameters are passed by the caller."""
    known = known or {}
    args, kw, var_keyword = [], {}, False
    for p in _parameters(cls, hook)[skip:]:
        if p.kind is p.VAR_KEYWORD:
            var_keyword = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            continue
        v = known[p.name] if p.name in known else value(p.name)
        if v is EdgeCall.MISSING and p.default is not p.empty:
            v = p.default  # explicit, so that later positional-only ones keep their places
        if v is EdgeCall.MISSING:
            raise TypeError(f"{op}.{hook}: cannot fill parameter `{p.name}`: expected "
                            f"{', '.join(FILLABLE)}, a keyword passed to propagate, or NAME_i "
                            f"/ NAME_j for a node tensor NAME passed to propagate (got keywords "
                            f"{sorted(kwargs)})")
        if p.kind is p.POSITIONAL_ONLY:
            args.append(v)
        else:
            kw[p.name] = v
    if var_keyword:
        for name in kwargs.keys() - kw.keys():
            kw[name] = value(name)
    return args, kw


@functools.cache
def _parameters(cls, hook: str) -> tuple:
    """The parameters of ``cls``'s hook without ``self`` (inspected once per class)."""
    params = tuple(inspect.signature(getattr(cls, hook)).parameters.values())
    is_static = isinstance(inspect.getattr_static(cls, hook), staticmethod)
    return params if is_static else params[1:]


@functools.cache
def _aggregate_style(cls) -> str:
    """``"base"`` (not overridden), ``"adj"`` (``aggregate(messages, adj)``, messages in CSR
    order) or ``"pyg"`` (``aggregate(inputs, index, ...)``, parameters filled by name)."""
    if cls.aggregate is MessagePassing.aggregate:
        return "base"
    params = _parameters(cls, "aggregate")
    return "adj" if len(params) >= 2 and params[1].name == "adj" else "pyg"
