"""npz graph formats (statistics from ../shared/data/README.md) and networkx round trips."""

import networkx as nx
import numpy as np
import pytest

from sparsegraph.datasets import NpzGraph, from_networkx, to_networkx

STATS = {  # nodes, undirected edges, features, class counts (first 3), splits
    "cora": (2708, 5278, 1433, [298, 418, 818], None),
    "citeseer": (3312, 4536, 3703, [249, 596, 701], None),
    "cora_ml": (2995, 8158, 2879, [354, 402, 452], None),
    "actor": (7600, 26659, 932, [853, 1337, 1630], (3648, 2432, 1520)),
    "chameleon": (2277, 31371, 2325, [456, 460, 453], (1092, 729, 456)),
    "chameleon_filtered": (890, 8854, 2325, [242, 134, 209], (409, 287, 194)),
    "squirrel": (5201, 198353, 2089, [1042, 1040, 1039], (2496, 1664, 1041)),
    "squirrel_filtered": (2223, 46998, 2089, [756, 516, 397], (1053, 718, 452)),
    "cornell": (183, 277, 1703, [38, 16, 30], (87, 59, 37)),
    "texas": (183, 279, 1703, [33, 1, 18], (87, 59, 37)),
    "wisconsin": (251, 450, 1703, [10, 70, 118], (120, 80, 51)),
    "tolokers": (11758, 519000, 10, [9192, 2566], (5879, 2939, 2940)),
}


@pytest.mark.dataset
@pytest.mark.parametrize("name", sorted(STATS))
def test_statistics_match_the_data_readme(name, data_root, tmp_path):
    n, e, f, counts, split = STATS[name]
    g = NpzGraph(name, root=data_root, download=False, cache_dir=tmp_path)[0]
    assert (g.num_nodes, g.num_edges, g.num_features) == (n, 2 * e, f)
    assert np.bincount(g.y.numpy()).tolist()[:len(counts)] == counts
    assert g.is_undirected() and not g.has_self_loops()
    if split is not None:
        sizes = tuple(int(getattr(g, k).numpy()[0].sum()) for k in ("train_mask", "val_mask",
                                                                      "test_mask"))
        assert sizes == split and g.train_mask.shape == (10, n)


def test_unknown_name_and_corrupt_file(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown name 'pubmedx'.*cora_ml"):
        NpzGraph("pubmedx")
    folder = tmp_path / "ppnp"
    folder.mkdir()
    (folder / "cora_ml.npz").write_bytes(b"not a zip")
    monkeypatch.setitem(NpzGraph.__init__.__globals__["SOURCES"], "cora_ml",
                        ("ppnp", "cora_ml.npz", None, "http://127.0.0.1:9/"))
    with pytest.raises(ValueError, match="not a valid graph .npz"):
        NpzGraph("cora_ml", root=tmp_path, download=False, cache_dir=tmp_path / "c")


def test_networkx_round_trip_keeps_attributes():
    G = nx.DiGraph()
    G.add_nodes_from([(0, {"feat": [1.0, 2.0], "label": 1}), (1, {"feat": [3.0, 4.0],
                                                                 "label": 0}),
                      (2, {"feat": [5.0, 6.0], "label": 1})])
    G.add_edge(0, 1, weight=2.0, kind=1)
    G.add_edge(2, 1, weight=3.0, kind=0)
    g = from_networkx(G, group_node_attrs=["feat"])
    assert g.num_nodes == 3 and g.num_edges == 2
    assert g.x.tolist() == [[1, 2], [3, 4], [5, 6]] and g.label.tolist() == [1, 0, 1]
    dense = g.adj.to_dense().numpy()
    assert dense[1, 0] == 2.0 and dense[1, 2] == 3.0
    ei = np.asarray(g.edge_index)
    kinds = {(int(s), int(d)): int(k) for (s, d), k in zip(ei.T, g.edge_kind, strict=True)}
    assert kinds == {(0, 1): 1, (2, 1): 0}
    H = to_networkx(g, node_attrs=["label"], edge_attrs=["edge_kind"])
    assert sorted(H.edges) == [(0, 1), (2, 1)] and H.nodes[2]["label"] == 1
    assert H.edges[0, 1]["kind"] == 1  # the name from_networkx read, not edge_kind
    K = nx.karate_club_graph()
    k = from_networkx(K)
    assert k.num_edges == 2 * K.number_of_edges() and k.is_undirected()
    assert to_networkx(k, to_undirected=True).number_of_edges() == K.number_of_edges()


def _labelled_path():
    G = nx.path_graph(4)
    for i in G.nodes:
        G.nodes[i]["y"] = i % 2
        G.nodes[i]["train_mask"] = i < 2
        G.nodes[i]["score"] = 0.5 * i
    for u, v in G.edges:
        G.edges[u, v]["kind"] = 10 * u + v  # (0,1)=1, (1,2)=12, (2,3)=23: both directions
    return G


def _kinds(g):
    ei = np.asarray(g.edge_index)
    return {(int(s), int(d)): int(k) for (s, d), k in zip(ei.T, g.edge_kind.numpy(), strict=True)}


def test_from_networkx_node_attributes_are_validated_tensors():
    import sparsegraph as sg

    g = from_networkx(_labelled_path())
    assert all(isinstance(getattr(g, k), sg.Tensor) for k in ("y", "train_mask", "score"))
    assert g.y.numpy().tolist() == [0, 1, 0, 1] and g.train_mask.dtype == np.bool_
    np.testing.assert_allclose(g.score.numpy(), [0.0, 0.5, 1.0, 1.5])
    G = _labelled_path()
    G.nodes[3]["y"] = -5
    with pytest.raises(ValueError, match=r"from_networkx: expected class labels >= 0"):
        from_networkx(G)


def test_from_networkx_edge_attributes_follow_subgraph_batch_and_loops():
    import sparsegraph as sg

    g = from_networkx(_labelled_path())
    both = {(0, 1): 1, (1, 0): 1, (1, 2): 12, (2, 1): 12, (2, 3): 23, (3, 2): 23}
    assert _kinds(g) == both
    sub = g.subgraph(np.array([2, 1]))  # relabelled: 2 -> 0, 1 -> 1
    assert sub.edge_kind.shape == (2,) and _kinds(sub) == {(0, 1): 12, (1, 0): 12}
    b = sg.Graph.batch([g, sub])
    assert isinstance(b.edge_kind, sg.Tensor) and b.edge_kind.shape == (8,)
    assert _kinds(b.unbatch()[1]) == _kinds(sub)
    loops = g.add_self_loops(0.0)
    assert _kinds(loops) == {**both, **{(i, i): 0 for i in range(4)}}
    assert _kinds(loops.remove_self_loops()) == both


def test_to_networkx_from_networkx_round_trip_keeps_names_and_weights():
    G = nx.DiGraph()
    G.add_edge(0, 1, w=10.0, weight=0.5)
    G.add_edge(1, 2, w=20.0, weight=2.0)
    g = from_networkx(G)
    H = to_networkx(g, edge_attrs=["edge_w", "edge_weight"])
    assert H.edges[0, 1] == {"w": 10.0, "weight": 0.5}
    g2 = from_networkx(H)
    assert sorted(g2.keys()) == sorted(g.keys()) == ["edge_index", "edge_w", "edge_weight"]
    np.testing.assert_array_equal(g2.adj.to_dense().numpy(), g.adj.to_dense().numpy())
    np.testing.assert_array_equal(g2.edge_w.numpy(), g.edge_w.numpy())
    assert g2.adj.values.numpy().tolist() == [0.5, 2.0]
    with pytest.raises(ValueError, match=r"to_networkx: expected `edge_attrs` with distinct "
                                         r"networkx names .*written as \['w', 'w'\]"):
        to_networkx(g, edge_attrs=["edge_w", "edge_w"])


@pytest.mark.parametrize("build, what, key, counts", [
    (lambda G: (G.add_edge(0, 1, weight=5.0), G.add_edge(1, 2)), "edges", "weight", "1 of 2"),
    (lambda G: (G.add_edge(0, 1, kind=1), G.add_edge(1, 2)), "edges", "kind", "1 of 2"),
    (lambda G: (G.add_node(0, feat=1.0), G.add_node(1), G.add_edge(0, 1)), "nodes", "feat",
     "1 of 2"),
])
def test_from_networkx_refuses_an_attribute_on_only_some_nodes_or_edges(build, what, key,
                                                                        counts):
    G = nx.Graph()
    build(G)
    with pytest.raises(ValueError, match=rf"from_networkx: Not all {what} contain the same "
                                         rf"attributes: '{key}' is on {counts} {what}"):
        from_networkx(G)


def test_graph_attributes_round_trip_through_networkx():
    from sparsegraph.graph import Graph

    g = Graph(x=np.eye(3, dtype=np.float32), edge_index=[[0, 1, 1], [1, 0, 2]],
              edge_attr=np.arange(6, dtype=np.float32).reshape(3, 2), y=[1])  # a TU graph
    with pytest.raises(ValueError, match=r"with 3 rows, one per node \(got 1\); a graph-level "
                                         r"one .* goes in graph_attrs"):
        to_networkx(g, node_attrs=["y"])
    H = to_networkx(g, node_attrs=["x"], edge_attrs=["edge_attr"], graph_attrs=["y"])
    assert H.graph == {"y": [1]}
    back = from_networkx(H, group_node_attrs=["x"], group_edge_attrs=["edge_attr"])
    assert back.y.numpy().tolist() == [1]
    np.testing.assert_array_equal(back.x.numpy(), g.x.numpy())
    np.testing.assert_array_equal(back.edge_attr.numpy(), g.edge_attr.numpy())
    np.testing.assert_array_equal(np.asarray(back.edge_index), np.asarray(g.edge_index))
    with pytest.raises(ValueError, match=r"graph has no attribute 'label'"):
        to_networkx(g, graph_attrs=["label"])
    G = nx.path_graph(3)  # G.graph entries become attributes, as in PyG
    G.graph.update(name="path", y=2, feat=[1.0, 2.0])
    for i in G.nodes:
        G.nodes[i]["feat"] = float(i)  # a node attribute of the same name wins it
    k = from_networkx(G)
    assert k.name == "path" and k.y.numpy().tolist() == 2
    assert k.feat.numpy().tolist() == [0.0, 1.0, 2.0]
    assert k.graph_feat.numpy().tolist() == [1.0, 2.0]


def test_a_networkx_graph_name_survives_save_on_disk(tmp_path):
    from sparsegraph.datasets import load_on_disk, save_on_disk

    g = from_networkx(nx.karate_club_graph())
    assert g.name == "Zachary's Karate Club"
    assert load_on_disk(save_on_disk(g, tmp_path / "k")).name == "Zachary's Karate Club"
