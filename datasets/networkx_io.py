"""Conversion between `Graph` and networkx graphs, keeping node and edge attributes."""

from __future__ import annotations

import networkx as nx
import numpy as np

from sparsegraph.graph import Graph
from sparsegraph.graph import _as_tensor as as_tensor
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor


def _stack(values, what: str, key: str):
    try:
        return np.asarray(values)
    except ValueError:
        raise ValueError(f"from_networkx: {what} attribute {key!r} has values of different "
                         "shapes") from None


def _grouped(attrs: dict, key, what: str, rows: int) -> np.ndarray:
    """``attrs[key]`` as numeric columns for x / edge_attr (removed from ``attrs``)."""
    if key not in attrs:
        raise ValueError(f"from_networkx: expected {what} attribute {key!r} (from "
                         f"group_{what}_attrs) on every {what} (found on all: "
                         f"{sorted(map(str, attrs))})")
    values = attrs.pop(key)
    if values.dtype.kind not in "biuf":
        raise ValueError(f"from_networkx: expected numeric values for {what} attribute "
                         f"{key!r} (got {values.dtype})")
    return values.reshape(rows, -1)


def _same_keys(key_sets: list, what: str) -> set:
    """The attribute names every node (or edge) has; one on some but not all is refused, as
    in PyG (dropping it silently would lose, e.g., the weight of an edge)."""
    if not key_sets:
        return set()
    common = set.intersection(*key_sets)
    partial = set().union(*key_sets) - common
    if partial:
        key = min(partial, key=str)
        have = sum(key in s for s in key_sets)
        raise ValueError(f"from_networkx: Not all {what}s contain the same attributes: {key!r} "
                         f"is on {have} of {len(key_sets)} {what}s; set it on every {what} or "
                         "on none")
    return common


def _numeric_array(value):
    """``value`` as a numeric array, or None (a string, an object, a ragged list)."""
    if not isinstance(value, int | float | list | tuple | np.ndarray | np.generic):
        return None
    try:
        array = np.asarray(value)
    except ValueError:  # ragged
        return None
    return array if array.dtype.kind in "biuf" else None


def _graph_value(value):
    """A graph-level attribute for networkx: nested lists for arrays and Tensors."""
    if isinstance(value, SparseTensor):
        return value.detach().to_dense().numpy().tolist()
    if isinstance(value, Tensor):
        return np.asarray(value.detach().numpy()).tolist()
    return value.tolist() if isinstance(value, np.ndarray | np.generic) else value


def _attr_rows(graph: Graph, key: str, what: str, rows: int):
    """``graph.<key>`` as something indexable by row (sparse rows stay sparse until read)."""
    value = getattr(graph, key, None)
    if value is None:
        raise ValueError(f"to_networkx: graph has no {what} attribute {key!r} (it has: "
                         f"{', '.join(graph.keys())})")
    if isinstance(value, SparseTensor):
        csr = value.detach().to_scipy().tocsr()
        value = [csr[i].toarray()[0] for i in range(csr.shape[0])]
    elif isinstance(value, Tensor):
        value = np.asarray(value.array)
    value = value if isinstance(value, list) else np.asarray(value)
    if len(value) != rows:
        hint = "; a graph-level one (e.g. a graph label y) goes in graph_attrs" if (
            what == "node") else ""
        raise ValueError(f"to_networkx: expected {what} attribute {key!r} with {rows} rows, "
                         f"one per {what} (got {len(value)}){hint}")
    return value


# names Graph reads as per-node or per-edge fields (or that are its own attributes): a
# `G.graph` entry under such a name would skip Graph's validation, so it is renamed
_SPECIAL = {"x", "y", "batch", "ptr", "pos", "num_nodes", "adj", "edge_index", "edge_weight",
            "edge_attr"}


def _special(name: str) -> bool:
    """Whether Graph treats ``name`` specially (a ``G.graph`` key ``y`` is still read as a
    graph label by the caller, when no node attribute takes that name)."""
    return (name in _SPECIAL or name.endswith("_mask") or name.startswith(("edge_", "_"))
            or hasattr(Graph, name))


def _group_arg(names, what: str, every: list):
    """``group_<what>_attrs``: a list of names, ``"all"`` (PyG's: ``every`` attribute, in the
    order of the first node's / edge's attribute dict), or None; another str is refused
    rather than read as a list of its characters."""
    if isinstance(names, str) and names == "all":
        return every
    if isinstance(names, str | bytes):
        raise TypeError(f"from_networkx: expected `group_{what}_attrs` to be a list of "
                        f"{what} attribute names or \"all\" (got the str {names!r}; for one "
                        f"attribute pass [{names!r}])")
    return names


def from_networkx(G: nx.Graph, group_node_attrs=None, group_edge_attrs=None) -> Graph:
    """A Graph from a networkx graph; nodes are numbered in ``G.nodes`` order.

    Every node attribute becomes a per-node attribute: a Tensor when numeric, validated like
    Graph's own (``y`` as labels, ``*_mask`` as boolean masks), else a numpy array; ``x`` if
    listed in ``group_node_attrs``, which concatenates them as columns (``"all"``: every node
    attribute, in the order of the first node's attribute dict, as PyG; likewise
    ``group_edge_attrs="all"``; any other str is a TypeError: pass a list). A numeric ``weight``
    edge attribute becomes the adjacency's values; other numeric edge attributes become
    per-edge Tensors ``edge_<name>`` in the graph's (CSR) edge order, kept in line by
    subgraph and batching, or ``edge_attr`` for those in ``group_edge_attrs``. An undirected
    G gives both directions of each edge (attributes duplicated). A ``MultiGraph`` /
    ``MultiDiGraph`` keeps each parallel edge as an edge of its own with its own attributes,
    in ``G.edges`` order (edge keys are dropped), as PyG. As in PyG, an attribute on
    some nodes (or edges) but not all is a ValueError naming it, ``weight`` included, and
    each ``G.graph`` entry becomes a graph attribute (``y`` a graph label, other numeric
    values Tensors, anything else as given), renamed ``graph_<name>`` when a node or edge
    attribute already has its name or Graph treats the name specially (``x``, ``*_mask``,
    ``batch``, ``ptr``, ``pos``, ``edge_*``, ``num_nodes``, its own attributes ...), so a
    graph-level value never bypasses Graph's checks on those fields (``graph_<name>_value``
    for a ``*_mask`` name, as ``graph_<name>`` would still be read as a node mask).
    """
    if not isinstance(G, nx.Graph):
        raise TypeError(f"from_networkx: expected a networkx graph (got {type(G).__name__})")
    nodes = list(G.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    edges = list(G.edges(data=True))  # a multigraph: one (u, v, data) per parallel edge
    src = np.array([index[u] for u, _, _ in edges], dtype=np.int64)
    dst = np.array([index[v] for _, v, _ in edges], dtype=np.int64)
    edge_data = [d for _, _, d in edges]
    if not G.is_directed():  # both directions; a self loop is one edge either way
        rev = src != dst
        src, dst = np.concatenate([src, dst[rev]]), np.concatenate([dst, src[rev]])
        edge_data = edge_data + [d for d, r in zip(edge_data, rev.tolist(), strict=True) if r]
    node_keys = _same_keys([set(G.nodes[v]) for v in nodes], "node")
    edge_keys = _same_keys([set(d) for _, _, d in edges], "edge")
    node_attrs = {k: _stack([G.nodes[v][k] for v in nodes], "node", k) for k in node_keys}
    edge_attrs = {k: _stack([d[k] for d in edge_data], "edge", k) for k in edge_keys}
    extra = {}
    group_node_attrs = _group_arg(group_node_attrs, "node",
                                  list(G.nodes[nodes[0]]) if nodes else [])
    group_edge_attrs = _group_arg(group_edge_attrs, "edge", list(edge_data[0]) if edges else [])
    if group_node_attrs:
        cols = [_grouped(node_attrs, k, "node", len(nodes)) for k in group_node_attrs]
        extra["x"] = np.concatenate(cols, axis=1).astype(np.float32)
    numeric_edges = {k: v for k, v in edge_attrs.items() if v.dtype.kind in "biuf"}
    edge_attr = None
    if group_edge_attrs:
        cols = [_grouped(edge_attrs, k, "edge", len(edge_data)) for k in group_edge_attrs]
        edge_attr = np.concatenate(cols, axis=1).astype(np.float32)
    weight = numeric_edges.pop("weight", None)  # the adjacency's values (also when grouped)
    edge_attrs.pop("weight", None)
    # per-edge arrays not grouped into edge_attr: `edge_<name>` Tensors, which Graph reorders
    # with the edges and keeps in line through its transforms
    extra.update({f"edge_{k}": v for k, v in numeric_edges.items() if k in edge_attrs})
    # numeric node attributes become Tensors checked by Graph (y as labels, masks as boolean
    # masks); others (strings, objects) stay numpy arrays
    reserved = {"edge_index", "adj", "edge_weight", "edge_attr", "num_nodes"}
    late = {}
    for k, v in node_attrs.items():
        if k in extra or k in reserved or k.startswith("edge_"):
            continue
        if v.dtype.kind in "biuf":
            extra[k] = v if k in ("x", "y") or k.endswith("_mask") else as_tensor(v)
        else:
            late[k] = v
    taken = {*node_attrs, *extra, *late, *reserved}
    for k, v in G.graph.items():
        if k in ("node_default", "edge_default"):  # networkx 1.x bookkeeping, not data
            continue
        name = f"graph_{k}" if str(k) in taken or _special(str(k)) else str(k)
        if name != str(k) and _special(name):  # graph_<name>_mask would be a node mask
            name += "_value"
        if k == "y" and "y" not in taken:
            extra["y"] = v  # validated as a graph label by Graph
        else:
            array = _numeric_array(v)
            late[name] = v if array is None else as_tensor(array)
    try:
        g = Graph(edge_index=np.stack([src, dst]), num_nodes=len(nodes), edge_attr=edge_attr,
                  edge_weight=None if weight is None else weight.astype(np.float32), **extra)
        for k, v in late.items():  # checked as the constructor's (a non-numeric *_mask)
            setattr(g, k, v)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"from_networkx: {str(exc).removeprefix('Graph: ')}") from None
    return g


def _nx_edge_name(key: str) -> str:
    """The networkx name of a per-edge field: `from_networkx` reads ``w`` into ``edge_w`` and
    ``weight`` into the adjacency (``edge_weight``), so the prefix goes for a round trip."""
    return key[len("edge_"):] if key.startswith("edge_") and key != "edge_attr" else key


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"to_networkx: expected `{name}` to be True or False (got "
                        f"{type(value).__name__} {value!r})")
    return bool(value)


def to_networkx(graph: Graph, node_attrs=(), edge_attrs=(),
                to_undirected: bool | str = False, graph_attrs=(), to_multi: bool = False,
                remove_self_loops: bool = False):
    """A networkx DiGraph (or Graph) of ``graph``; named node / edge / graph attributes are
    copied (graph attributes into ``G.graph``, e.g. ``graph_attrs=["y"]`` for the label of
    a TU graph, which `from_networkx` reads back as ``y``). ``None`` for a list of names is
    none, as PyG's defaults (PyG's positional order differs: it takes ``graph_attrs`` before
    ``to_undirected``; pass them by name).

    Edge attributes are written under the names `from_networkx` reads back: ``edge_<name>``
    as ``<name>``, ``edge_weight`` (the adjacency's values) as ``weight``, ``edge_attr`` as
    itself; so ``from_networkx(to_networkx(g, edge_attrs=[...]))`` keeps names and weights.

    ``to_undirected`` (as PyG's): False gives a DiGraph; True a Graph of both directions
    merged (the later edge's attributes win); ``'upper'`` / ``'lower'`` a Graph of only the
    edges ``u < v`` / ``u > v`` (and their attributes), self loops kept.

    ``to_multi`` (PyG's): a MultiDiGraph (MultiGraph when undirected) with one networkx edge
    per stored edge, parallel edges and their attributes kept, in the graph's (CSR) edge
    order; with ``to_undirected=True`` each stored direction is an edge of its own, so an
    edge stored both ways appears twice (``'upper'`` / ``'lower'`` keep one direction).
    ``remove_self_loops`` (PyG's): leave out the edges ``u -> u`` (the nodes stay).
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"to_networkx: expected `graph` as a Graph (got "
                        f"{type(graph).__name__})")
    if not (isinstance(to_undirected, bool | np.bool_) or isinstance(to_undirected, str)
            and to_undirected in ("upper", "lower")):
        raise ValueError(f"to_networkx: expected `to_undirected` as True, False, 'upper' or "
                         f"'lower' (got {to_undirected!r})")
    to_multi, remove_self_loops = (_flag("to_multi", to_multi),
                                   _flag("remove_self_loops", remove_self_loops))
    node_attrs, edge_attrs, graph_attrs = (() if a is None else a
                                           for a in (node_attrs, edge_attrs, graph_attrs))
    names = [_nx_edge_name(k) for k in edge_attrs]
    if len(set(names)) < len(names):
        raise ValueError(f"to_networkx: expected `edge_attrs` with distinct networkx names "
                         f"(got {list(edge_attrs)}, written as {names})")
    if to_undirected:
        G = nx.MultiGraph() if to_multi else nx.Graph()
    else:
        G = nx.MultiDiGraph() if to_multi else nx.DiGraph()
    for k in graph_attrs:
        value = getattr(graph, k, None) if k in graph.keys() else None
        if value is None:
            raise ValueError(f"to_networkx: graph has no attribute {k!r} (it has: "
                             f"{', '.join(graph.keys())})")
        G.graph[k] = _graph_value(value)
    G.add_nodes_from(range(graph.num_nodes))
    for k in node_attrs:
        values = _attr_rows(graph, k, "node", graph.num_nodes)
        for i in range(graph.num_nodes):
            G.nodes[i][k] = values[i].tolist()
    ei = np.asarray(graph.edge_index)
    per_edge = {_nx_edge_name(k): _attr_rows(graph, k, "edge", graph.num_edges)
                for k in edge_attrs}
    for e, (u, v) in enumerate(ei.T.tolist()):
        # PyG: 'upper' keeps the edges u < v, 'lower' u > v (self loops kept); True both
        if to_undirected == "upper" and u > v or to_undirected == "lower" and u < v:
            continue
        if remove_self_loops and u == v:
            continue
        G.add_edge(u, v, **{k: vals[e].tolist() for k, vals in per_edge.items()})
    return G
