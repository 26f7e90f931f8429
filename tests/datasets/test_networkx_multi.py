"""networkx multigraphs both ways (PyG's from_networkx / to_networkx with ``to_multi`` and
``remove_self_loops``), the TU featureless ``x``, trainer error names and the documented tie
rule of max / min gradients."""

import networkx as nx
import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import Graph
from sparsegraph.datasets import KarateClub, TUDataset, from_networkx, to_networkx
from sparsegraph.gnn import global_max_pool, models
from sparsegraph.gnn.minibatch import evaluate, train_minibatch
from sparsegraph.gnn.train import node_classification_step, train_node_classifier
from sparsegraph.ops import scatter, segment


def pyg_edges(G, key):
    """PyG's from_networkx edge order and one attribute, put into Graph's CSR order (a stable
    sort by target, then source, which keeps parallel edges in PyG's relative order)."""
    H = G.to_directed() if not G.is_directed() else G
    index = {v: i for i, v in enumerate(G.nodes)}
    edges = list(H.edges(data=True))
    src = np.array([index[u] for u, _, _ in edges])
    dst = np.array([index[v] for _, v, _ in edges])
    vals = np.array([d[key] for _, _, d in edges], dtype=np.float64)
    perm = np.lexsort((src, dst))  # stable: by dst, then src
    return np.stack([src[perm], dst[perm]]), vals[perm]


def _multidigraph():
    M = nx.MultiDiGraph()
    M.add_nodes_from(["a", "b", "c"])
    M.add_edge("a", "b", w=1.0)
    M.add_edge("a", "b", w=2.0)
    M.add_edge("b", "a", w=3.0)
    M.add_edge("c", "c", w=4.0)
    M.add_edge("c", "c", w=5.0)
    M.add_edge("a", "b", w=6.0)
    return M


def test_from_networkx_multidigraph_keeps_parallel_edges_in_pyg_order():
    M = _multidigraph()
    g = from_networkx(M)
    ei, w = pyg_edges(M, "w")
    assert g.num_edges == M.number_of_edges() == 6
    np.testing.assert_array_equal(np.asarray(g.edge_index), ei)
    np.testing.assert_array_equal(g.edge_w.numpy(), w)
    # CSR order: b -> a, then the three a -> b and the two loops on c, each in key order
    np.testing.assert_array_equal(g.edge_w.numpy(), [3.0, 1.0, 2.0, 6.0, 4.0, 5.0])


def test_from_networkx_undirected_multigraph_both_directions_as_pyg():
    M = nx.MultiGraph()
    M.add_edge(0, 1, w=1.0)
    M.add_edge(1, 0, w=2.0)  # parallel to the first
    M.add_edge(1, 2, w=3.0)
    M.add_edge(2, 2, w=4.0)  # a self loop: once, as in PyG's to_directed()
    M.add_edge(2, 2, w=5.0)
    g = from_networkx(M)
    ei, w = pyg_edges(M, "w")
    assert g.num_edges == 2 * 3 + 2 == ei.shape[1]
    np.testing.assert_array_equal(np.asarray(g.edge_index), ei)
    np.testing.assert_array_equal(g.edge_w.numpy(), w)


def test_from_networkx_multigraph_grouped_attrs_and_weights():
    M = nx.MultiDiGraph()
    M.add_node(0, f=[1.0, 2.0], y=0)
    M.add_node(1, f=[3.0, 4.0], y=1)
    M.add_edge(0, 1, weight=2.0, a=1.0, b=10.0)
    M.add_edge(0, 1, weight=3.0, a=2.0, b=20.0)
    M.add_edge(1, 0, weight=5.0, a=3.0, b=30.0)
    g = from_networkx(M, group_node_attrs=["f"], group_edge_attrs=["a", "b"])
    np.testing.assert_array_equal(g.x.numpy(), [[1, 2], [3, 4]])
    # CSR order: target 0 (1 -> 0) first, then the two parallel 0 -> 1 edges in key order
    np.testing.assert_array_equal(np.asarray(g.edge_index), [[1, 0, 0], [0, 1, 1]])
    np.testing.assert_array_equal(g.edge_attr.numpy(), [[3, 30], [1, 10], [2, 20]])
    np.testing.assert_array_equal(g.edge_weight.numpy(), [5.0, 2.0, 3.0])
    # both parallel edges count in the adjacency: A[0, 1] = 2 + 3 (scipy sums duplicates)
    np.testing.assert_array_equal(g.to_scipy().toarray(), [[0, 5], [5, 0]])
    all_ = from_networkx(M, group_edge_attrs="all")
    np.testing.assert_array_equal(all_.edge_attr.numpy(), [[5, 3, 30], [2, 1, 10], [3, 2, 20]])


def test_from_networkx_multigraph_partial_edge_attribute_is_named():
    M = nx.MultiDiGraph()
    M.add_edge(0, 1, w=1.0)
    M.add_edge(0, 1)
    with pytest.raises(ValueError, match=r"from_networkx: Not all edges.*'w' is on 1 of 2"):
        from_networkx(M)


def _parallel_graph():
    # 0 -> 1 twice (weights 1, 2), 1 -> 0, a self loop on 2, and node 3 isolated
    return Graph(edge_index=np.array([[0, 0, 1, 2], [1, 1, 0, 2]]),
                 edge_weight=np.array([1.0, 2.0, 3.0, 4.0], np.float32), num_nodes=4)


def test_to_networkx_to_multi_keeps_parallel_edges_and_round_trips():
    g = _parallel_graph()
    G = to_networkx(g, edge_attrs=["edge_weight"], to_multi=True)
    assert type(G) is nx.MultiDiGraph
    assert sorted((u, v, d["weight"]) for u, v, d in G.edges(data=True)) == [
        (0, 1, 1.0), (0, 1, 2.0), (1, 0, 3.0), (2, 2, 4.0)]
    assert G.number_of_nodes() == 4
    back = from_networkx(G)
    np.testing.assert_array_equal(np.asarray(back.edge_index), np.asarray(g.edge_index))
    np.testing.assert_array_equal(back.edge_weight.numpy(), g.edge_weight.numpy())
    # the default (no to_multi) merges the parallel edges, as PyG's DiGraph
    assert type(to_networkx(g)) is nx.DiGraph and to_networkx(g).number_of_edges() == 3


def test_to_networkx_to_multi_undirected_as_pyg():
    g = _parallel_graph()
    G = to_networkx(g, to_undirected=True, to_multi=True)
    assert type(G) is nx.MultiGraph
    # PyG adds every stored edge to the MultiGraph: 0-1 three times, the loop once
    assert G.number_of_edges() == 4 and G.number_of_edges(0, 1) == 3
    up = to_networkx(g, to_undirected="upper", to_multi=True)
    assert type(up) is nx.MultiGraph and up.number_of_edges(0, 1) == 2
    assert up.number_of_edges() == 3
    low = to_networkx(g, to_undirected="lower", to_multi=True)
    assert low.number_of_edges(0, 1) == 1 and low.number_of_edges() == 2


def test_to_networkx_remove_self_loops():
    g = _parallel_graph()
    G = to_networkx(g, edge_attrs=["edge_weight"], remove_self_loops=True)
    assert sorted(G.edges(data="weight")) == [(0, 1, 2.0), (1, 0, 3.0)]
    assert G.number_of_nodes() == 4 and nx.number_of_selfloops(G) == 0
    M = to_networkx(g, edge_attrs=["edge_weight"], to_multi=True, remove_self_loops=True)
    assert sorted(M.edges(data="weight")) == [(0, 1, 1.0), (0, 1, 2.0), (1, 0, 3.0)]
    U = to_networkx(g, to_undirected=True, remove_self_loops=True)
    assert nx.number_of_selfloops(U) == 0 and sorted(U.edges()) == [(0, 1)]
    # positional, in PyG's place (after the project's to_undirected / graph_attrs)
    P = to_networkx(g, (), (), False, (), True, True)
    assert type(P) is nx.MultiDiGraph and P.number_of_edges() == 3


@pytest.mark.parametrize("key", ["to_multi", "remove_self_loops"])
def test_to_networkx_flags_are_checked(key):
    with pytest.raises(TypeError, match=rf"to_networkx: expected `{key}` to be True or False "
                                        r"\(got str 'yes'\)"):
        to_networkx(_parallel_graph(), **{key: "yes"})


def test_to_networkx_none_attr_lists_as_pyg():
    G = to_networkx(_parallel_graph(), node_attrs=None, edge_attrs=None, graph_attrs=None)
    assert G.number_of_edges() == 3 and G.graph == {}


def _toy_tu(tmp_path):
    d = tmp_path / "TU" / "TOY"
    d.mkdir(parents=True)
    files = {"A": ["1, 2", "2, 1", "4, 5", "5, 4"], "graph_indicator": ["1", "1", "1", "2", "2"],
             "graph_labels": ["-1", "1"]}
    for k, v in files.items():
        (d / f"TOY_{k}.txt").write_text("\n".join(v) + "\n")
    return TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")


def test_tu_without_node_features_gets_documented_ones(tmp_path):
    ds = _toy_tu(tmp_path)
    assert ds.num_node_labels == 0 and ds.num_node_attributes == 0
    assert ds.num_features == ds.num_node_features == ds.x.shape[1] == 1
    for g in ds:
        np.testing.assert_array_equal(g.x.numpy(), np.ones((g.num_nodes, 1), np.float32))
        assert g.num_features == g.num_node_features == 1
    sub = ds[[1]]
    assert sub.num_features == sub.num_node_features == 1
    doc = TUDataset.__doc__
    assert "ones((N, 1))" in doc and "x=None" in doc and "OneHotDegree" in doc


def _two_split_karate():
    g = KarateClub()[0]
    for name in ("train_mask", "val_mask", "test_mask"):
        m = getattr(g, name).numpy()
        setattr(g, name, np.stack([m, m]))
    return g


def test_trainers_name_themselves_in_split_errors():
    g = _two_split_karate()
    with pytest.raises(ValueError, match=r"^train_node_classifier: expected `split` in \[0, 2\)"
                                         r".*\(got 10\)"):
        train_node_classifier(models.GCN(34, 4, 2, 4), g, epochs=1, split=10)
    one = KarateClub()[0]
    with pytest.raises(ValueError, match=r"^train_node_classifier: `split`=3 needs masks"):
        train_node_classifier(models.GCN(34, 4, 2, 4), one, epochs=1, split=3)
    with pytest.raises(ValueError, match=r"^train_minibatch: expected `split` in \[0, 2\)"):
        train_minibatch(models.GraphSAGE(34, 8, 2, 4), g, [3, 3], epochs=1, split=10)
    with pytest.raises(ValueError, match=r"^evaluate: expected `split` in \[0, 2\)"):
        evaluate(models.GraphSAGE(34, 8, 2, 4), g, split=-1)
    del one.train_mask
    model = models.GCN(34, 4, 2, 4)
    with pytest.raises(ValueError, match=r"^node_classification_step: the graph has no "
                                         r"`train_mask`"):
        node_classification_step(model, one, sg.optim.Adam(model.parameters()))


def _grad(fn, values):
    x = sg.tensor(np.asarray(values, np.float64), requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


def first_arg_extremum_grad(values, groups, reduce):
    """The documented rule: each group's gradient (1) goes to its first extremal position."""
    values, groups = np.asarray(values), np.asarray(groups)
    out = np.zeros_like(values)
    for s in np.unique(groups):
        pos = np.flatnonzero(groups == s)
        best = values[pos].max() if reduce == "max" else values[pos].min()
        out[pos[values[pos] == best][0]] = 1.0
    return out


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_scatter_and_segment_ties_route_to_first_position(reduce):
    v, idx = [2.0, 7.0, 2.0, 7.0, 2.0, 7.0], [1, 0, 0, 1, 1, 0]  # ties in both groups
    want = first_arg_extremum_grad(v, idx, reduce)
    np.testing.assert_array_equal(_grad(lambda x: scatter(x, idx, 2, reduce), v), want)
    np.testing.assert_array_equal(
        _grad(lambda x: scatter(x, idx, 2, reduce, dim=1), [v]), [want])
    seg = [1.0, 1.0, 1.0, 2.0, 2.0]
    np.testing.assert_array_equal(_grad(lambda x: segment(x, [0, 3, 5], reduce), seg),
                                  first_arg_extremum_grad(seg, [0, 0, 0, 1, 1], reduce))
    doc = " ".join(scatter.__doc__.split())
    assert "on ties the source slice of the smallest position" in doc
    assert "first (smallest-position) row" in " ".join(segment.__doc__.split())


def test_global_max_pool_ties_route_to_first_node():
    col = [0.0, 3.0, 3.0, 3.0, 3.0]
    for batch in ([1, 0, 1, 0, 1], [0, 0, 0, 1, 1]):
        got = _grad(lambda x, b=batch: global_max_pool(x, sg.tensor(np.array(b))),
                    [[c] for c in col])
        np.testing.assert_array_equal(got[:, 0], first_arg_extremum_grad(col, batch, "max"))
    got = _grad(lambda x: global_max_pool(x), [[3.0], [3.0], [1.0]])
    np.testing.assert_array_equal(got[:, 0], [1.0, 0.0, 0.0])
    assert "first tied node" in " ".join(global_max_pool.__doc__.split())
