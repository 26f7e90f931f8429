"""Conversion between `Graph` and networkx graphs, keeping node and edge attributes."""

from __future__ import annotations

import networkx as nx
import numpy as np

from sparsegraph.graph import Graph
from sparsegraph.tensor import Tensor


def _stack(values, what: str, key: str):
    try:
        return np.asarray(values)
    except ValueError:
        raise ValueError(f"from_networkx: {what} attribute {key!r} has values of different "
                         "shapes") from None


def from_networkx(G: nx.Graph, group_node_attrs=None, group_edge_attrs=None) -> Graph:
    """A Graph from a networkx graph; nodes are numbered in ``G.nodes`` order.

    Every node attribute present on all nodes becomes a per-node array attribute (``x`` if
    listed in ``group_node_attrs``, which concatenates them as columns). A numeric ``weight``
    edge attribute becomes the adjacency's values; other numeric edge attributes present on all
    edges become per-edge arrays ``edge_<name>`` in the graph's (CSR) edge order, or
    ``edge_attr`` for those in ``group_edge_attrs``. An undirected G gives both directions of
    each edge (attributes duplicated).
    """
    if not isinstance(G, nx.Graph):
        raise TypeError(f"from_networkx: expected a networkx graph (got {type(G).__name__})")
    if G.is_multigraph():
        raise NotImplementedError("from_networkx: multigraphs are not supported")
    nodes = list(G.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    edges = list(G.edges(data=True))
    src = np.array([index[u] for u, _, _ in edges], dtype=np.int64)
    dst = np.array([index[v] for _, v, _ in edges], dtype=np.int64)
    edge_data = [d for _, _, d in edges]
    if not G.is_directed():
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        edge_data = edge_data + edge_data
    node_keys = set.intersection(*(set(G.nodes[v]) for v in nodes)) if nodes else set()
    edge_keys = set.intersection(*(set(d) for d in edge_data)) if edge_data else set()
    node_attrs = {k: _stack([G.nodes[v][k] for v in nodes], "node", k) for k in node_keys}
    edge_attrs = {k: _stack([d[k] for d in edge_data], "edge", k) for k in edge_keys}
    extra = {}
    if group_node_attrs:
        cols = [node_attrs.pop(k).reshape(len(nodes), -1) for k in group_node_attrs]
        extra["x"] = np.concatenate(cols, axis=1).astype(np.float32)
    numeric_edges = {k: v for k, v in edge_attrs.items() if v.dtype.kind in "biuf"}
    edge_attr = None
    if group_edge_attrs:
        cols = [edge_attrs.pop(k).reshape(len(edge_data), -1) for k in group_edge_attrs]
        edge_attr = np.concatenate(cols, axis=1).astype(np.float32)
    weight = numeric_edges.pop("weight", None)
    if weight is not None:
        edge_attrs.pop("weight")
    g = Graph(edge_index=np.stack([src, dst]), num_nodes=len(nodes), edge_attr=edge_attr,
              edge_weight=None if weight is None else weight.astype(np.float32), **extra)
    order = np.argsort(dst * max(len(nodes), 1) + src, kind="stable")
    for k, v in numeric_edges.items():
        if k in edge_attrs:  # not grouped into edge_attr: follow the edges into CSR order
            setattr(g, f"edge_{k}", v[order])
    for k, v in node_attrs.items():
        if not hasattr(g, k) or getattr(g, k) is None:
            setattr(g, k, v)
    return g


def to_networkx(graph: Graph, node_attrs=(), edge_attrs=(), to_undirected: bool = False):
    """A networkx DiGraph (or Graph) of ``graph``; named node / edge attributes are copied."""
    G = nx.Graph() if to_undirected else nx.DiGraph()
    G.add_nodes_from(range(graph.num_nodes))
    for k in node_attrs:
        values = getattr(graph, k)
        values = np.asarray(values.array if isinstance(values, Tensor) else values)
        for i in range(graph.num_nodes):
            G.nodes[i][k] = values[i].tolist()
    ei = np.asarray(graph.edge_index)
    per_edge = {}
    for k in edge_attrs:
        values = getattr(graph, k)
        per_edge[k] = np.asarray(values.array if isinstance(values, Tensor) else values)
    for e, (u, v) in enumerate(ei.T.tolist()):
        G.add_edge(u, v, **{k: vals[e].tolist() for k, vals in per_edge.items()})
    return G
