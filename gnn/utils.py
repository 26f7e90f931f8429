"""Structure helpers shared by the layers: self loops that carry edge features along. PyG's
everyday ``torch_geometric.utils`` functions (`to_dense_adj`, `k_hop_subgraph`, ...) live in
gnn/pyg_utils.py and the edge_index modules (edge_index_utils, pyg_edge_forms, pyg_scatter,
edge_conversion, edge_random, graph_generators, graph_predicates, link) and are re-exported
here and from ``sparsegraph.gnn``."""

from __future__ import annotations

import contextlib
from numbers import Integral, Real

import sparsegraph.ops as ops
from sparsegraph.backend import xp_of
from sparsegraph.creation import full, tensor
from sparsegraph.gnn.edge_conversion import (  # noqa: F401  (re-exported: PyG's utils)
    from_scipy_sparse_matrix,
    to_edge_index,
    to_scipy_sparse_matrix,
    unbatch,
    unbatch_edge_index,
)
from sparsegraph.gnn.edge_index_utils import (  # noqa: F401
    add_remaining_self_loops,
    bipartite_subgraph,
    get_laplacian,
    remove_isolated_nodes,
    sort_edge_index,
    subgraph,
)
from sparsegraph.gnn.edge_random import (  # noqa: F401
    add_random_edge,
    batched_negative_sampling,
    dropout_node,
    structured_negative_sampling,
    structured_negative_sampling_feasible,
)
from sparsegraph.gnn.graph_generators import (  # noqa: F401
    barabasi_albert_graph,
    erdos_renyi_graph,
    grid,
    stochastic_blockmodel_graph,
)
from sparsegraph.gnn.graph_predicates import (  # noqa: F401
    contains_isolated_nodes,
    contains_self_loops,
    is_undirected,
)
from sparsegraph.gnn.link import negative_sampling  # noqa: F401
from sparsegraph.gnn.pyg_edge_forms import (  # noqa: F401
    add_self_loops,
    coalesce,
    remove_self_loops,
    to_undirected,
)
from sparsegraph.gnn.pyg_scatter import degree, one_hot, scatter, softmax  # noqa: F401
from sparsegraph.gnn.pyg_utils import (  # noqa: F401  (re-exported: PyG's utils)
    dense_to_sparse,
    dropout_edge,
    homophily,
    index_to_mask,
    k_hop_subgraph,
    mask_to_index,
    to_dense_adj,
    to_dense_batch,
)
from sparsegraph.ops.graph_norm import FILL_REDUCES
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import TRACE, Tensor


def _loop_plan(structure: Structure):
    """``(csr, keep, perm, kept_indptr)`` for "drop every self loop, add one per node".

    The new values are ``cat([values[keep], loops])[perm]``; ``kept_indptr`` groups the kept
    entries by target (they stay sorted by target). Built once per structure.
    """

    def build():
        rows, cols = structure.rows(), structure.cols()
        xp, n_dst = xp_of(rows), structure.shape[0]
        keep = xp.flatnonzero(rows != cols)
        # a bipartite block (PyG's GATConv) gets loops i -> i for i < min(N_dst, N_src)
        loops = xp.arange(min(structure.shape[:2]), dtype=rows.dtype)
        csr, perm = Structure.coo(xp.concatenate([rows[keep], loops]),
                                  xp.concatenate([cols[keep], loops]), structure.shape,
                                  validate=False).to_csr()
        kept_indptr = xp.zeros(n_dst + 1, dtype=xp.int64)
        xp.cumsum(xp.bincount(rows[keep], minlength=n_dst), out=kept_indptr[1:])
        return csr, keep, perm, kept_indptr

    return structure._cached("replace_self_loops_plan", build)


def replace_self_loops_with(adj: SparseTensor, edge_attr: Tensor | None = None,
                            fill_value: float | str | Tensor = "mean"):
    """Remove ``adj``'s self loops, then give every node one (differentiable in the values);
    a rectangular ``(N_dst, N_src)`` block gets loops for its first ``min(N_dst, N_src)``.

    PyG's GATConv does this with ``remove_self_loops`` then ``add_self_loops``: a node's
    existing loops (and their ``edge_attr`` rows) are dropped, so every node ends with exactly
    one loop of weight 1.

    Args:
        adj: square CSR adjacency with values ``(E, ...)``.
        edge_attr: optional ``(E, D)`` edge features in ``adj``'s order.
        fill_value: the loops' edge features (PyG's ``add_self_loops``): a number, a
            ``(D,)`` Tensor given to every loop, or a reduce ``"mean"``, ``"add"`` (alias
            ``"sum"``), ``"max"``, ``"min"``: the loop of node ``i`` gets that reduction of
            the features of the (non-loop) edges pointing to ``i``, 0 when there are none.

    Returns:
        ``(adj_with_loops, edge_attr_with_loops)`` (the second None without edge_attr).
    """
    csr, keep, perm, kept_indptr = _loop_plan(adj.structure)
    n, v = min(adj.shape[:2]), adj.values
    loops = full((n,) + v.shape[1:], 1.0, dtype=v.dtype, device=v.device)
    new_adj = SparseTensor(csr, ops.gather_rows(ops.cat([ops.gather_rows(v, keep), loops]),
                                                perm))
    if edge_attr is None:
        return new_adj, None
    kept = ops.gather_rows(edge_attr, keep)
    if isinstance(fill_value, str):
        reduce = FILL_REDUCES.get(fill_value, fill_value)  # "add" is PyG's "sum"
        fill = ops.segment(kept, kept_indptr, reduce)  # (N_dst, D); empty segments are 0
        fill = fill if fill.shape[0] == n else fill[:n]  # the targets that get a loop
    else:
        fill = full((n,) + edge_attr.shape[1:], 0.0 if isinstance(fill_value, Tensor) else
                    fill_value, dtype=edge_attr.dtype, device=edge_attr.device)
        if isinstance(fill_value, Tensor):  # one row for every loop (differentiable)
            fill = fill + fill_value.to(edge_attr.device, edge_attr.dtype)
    return new_adj, ops.gather_rows(ops.cat([kept, fill]), perm)


def check_fill_value(op: str, fill_value):
    """``fill_value`` of the self loops' edge features, checked at construction: a number,
    a reduce name in `FILL_REDUCES`, or an array / Tensor (returned as a Tensor)."""
    if isinstance(fill_value, str):
        if fill_value not in FILL_REDUCES:
            raise ValueError(f"{op}: expected `fill_value` a number, a Tensor or a reduce in "
                             f"{tuple(FILL_REDUCES)} (got {fill_value!r})")
        return fill_value
    if isinstance(fill_value, Real) and not isinstance(fill_value, bool):
        return float(fill_value)
    if isinstance(fill_value, Tensor) or hasattr(fill_value, "shape"):
        fill_value = fill_value if isinstance(fill_value, Tensor) else tensor(fill_value)
        if fill_value.dtype.kind in "biuf" and fill_value.ndim <= 1:
            return fill_value
    raise ValueError(f"{op}: expected `fill_value` a number, a Tensor of one value per edge "
                     f"feature or a reduce in {tuple(FILL_REDUCES)} (got {fill_value!r})")


def attention_edge_order(structure: Structure, perm, loops: bool):
    """PyG's edge order of GATConv's attention weights for an edge_index input.

    PyG returns ``(edge_index, alpha)`` with the edges as given (self loops dropped when it
    adds its own) followed by the loops ``i -> i``. Our attention values follow the CSR
    entries (after `replace_self_loops_with` when ``loops``).

    Args:
        structure: the CSR structure of the input edges (before the loops were replaced).
        perm: the caller's edge order -> that CSR (`adjacency_and_edge_order`'s), or None.
        loops: the loops were replaced (``add_self_loops=True``).

    Returns:
        ``(edge_index, order)``: the int64 ``(2, E')`` edge_index, and ``(E',)`` positions of
        its edges among the attention values.
    """
    xp = xp_of(structure.indptr)
    inv = xp.arange(structure.nnz) if perm is None else xp.empty_like(perm)
    if perm is not None:
        inv[perm] = xp.arange(perm.shape[0], dtype=perm.dtype)  # caller edge -> CSR entry
    src, dst = structure.cols()[inv].astype(xp.int64), structure.rows()[inv].astype(xp.int64)
    if not loops:
        return xp.stack([src, dst]), inv
    _, keep, perm1, _ = _loop_plan(structure)
    inv1 = xp.empty_like(perm1)
    inv1[perm1] = xp.arange(perm1.shape[0], dtype=perm1.dtype)  # kept + loops -> new CSR
    kept_pos = xp.cumsum(structure.rows() != structure.cols()) - 1  # CSR entry -> kept slot
    edges = xp.flatnonzero(src != dst)
    loop = xp.arange(min(structure.shape[:2]), dtype=xp.int64)
    order = xp.concatenate([inv1[kept_pos[inv[edges]]], inv1[keep.shape[0] + loop]])
    edge_index = xp.concatenate([xp.stack([src[edges], dst[edges]]), xp.stack([loop, loop])],
                                axis=1)
    return edge_index, order


def _is_int(value) -> bool:
    """An int (numpy's too), not a bool: ``True`` is an int to Python but never a meant count."""
    return not isinstance(value, bool) and isinstance(value, Integral)


def check_int(op: str, name: str, value, minimum: int) -> None:
    """ValueError naming the layer and argument unless ``value`` is an int (`_is_int`) >=
    ``minimum`` (a hyper-parameter: ``K``, ``heads``, ``epochs``)."""
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{op}: expected `{name}` to be an int >= {minimum} (got {value!r})")


def check_channels(op: str, name: str, value, pair: bool = False):
    """A feature size checked at construction, where the layer can name it (not as Linear's
    error about ``in_features``): a positive int, or with ``pair`` a pair ``(F_src, F_dst)``
    of them for bipartite inputs. TypeError for what is not an int (``4.0``, as
    `nn.Linear`'s own check for ``in_features``), ValueError for an int below 1 (or a pair
    of other than two).

    PyG's ``in_channels=-1`` (lazy sizing from the first input) is not supported; the error
    says so. Returns the size as an int (or a tuple of two ints), so numpy integers print
    as plain numbers in the layer's repr.
    """
    is_pair = pair and isinstance(value, tuple | list)
    items = tuple(value) if is_pair else (value,)
    ints = all(map(_is_int, items))
    if ints and len(items) == (2 if is_pair else 1) and min(items) >= 1:
        return (int(items[0]), int(items[1])) if is_pair else int(value)
    expected = "a positive int" + (" or a pair (F_src, F_dst) of them" if pair else "")
    lazy = name.startswith("in_") and ints and -1 in items
    hint = "; lazy sizing (-1) is not supported: pass the input feature count" if lazy else ""
    raise (ValueError if ints else TypeError)(
        f"{op}: expected `{name}` to be {expected} (got {value!r}{hint})")


def check_probability(op: str, name: str, value) -> None:
    """ValueError naming the layer / model unless ``value`` is a number in [0, 1]; checked at
    construction, not at the first training forward."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{op}: expected `{name}` in [0, 1] (got {value!r})")


def check_float(op: str, name: str, value) -> None:
    """TypeError naming the layer unless ``value`` is a real number (e.g. a slope)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{op}: expected `{name}` to be a number (got {value!r})")


def reset_submodules(module) -> None:
    """PyG's ``reset``: ``reset_parameters()`` on every child that has one (it resets its own
    children), recursing into the children that do not (e.g. a Sequential of Linears)."""
    for child in module.children():
        if hasattr(child, "reset_parameters"):
            child.reset_parameters()
        else:
            reset_submodules(child)


@contextlib.contextmanager
def computed_once():
    """For a layer's ``cached=True`` work (PyG's transductive cache): computed now, then
    read as a constant. Inside a static trace its ops are not recorded, so the compiled step
    reads the cached result as eager mode does instead of recomputing it every call."""
    tracer = TRACE.tracer
    if tracer is not None:
        tracer.depth += 1  # ops at depth > 0 are the eager work of a recorded call
    try:
        yield
    finally:
        if tracer is not None:
            tracer.depth -= 1

