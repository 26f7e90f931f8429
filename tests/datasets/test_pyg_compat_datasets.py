"""Datasets as a PyG user meets them: batches and all-ones weights through save_on_disk,
from_networkx's group_*_attrs="all", dataset[i] as a shallow copy, TUDataset subsets."""

import json

import networkx as nx
import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import Graph
from sparsegraph.datasets import (
    GraphLoader,
    KarateClub,
    Planetoid,
    TUDataset,
    from_networkx,
    load_on_disk,
    save_on_disk,
    stratified_kfold,
)


def _rows(g, key):
    return None if getattr(g, key) is None else getattr(g, key).numpy().tolist()


def _same_parts(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.num_nodes == b.num_nodes
        np.testing.assert_array_equal(a.edge_index, b.edge_index)
        np.testing.assert_array_equal(a.edge_weight.numpy(), b.edge_weight.numpy())
        for key in ("x", "y", "train_mask", "score"):
            assert _rows(a, key) == _rows(b, key), key


# ---- save_on_disk / load_on_disk of a batch ----------------------------------------------------
def test_a_loaded_batch_unbatches_and_subgraphs_as_the_saved_one(tmp_path):
    rng = np.random.default_rng(0)
    gs = []
    for i, n in enumerate([3, 4, 3]):
        gs.append(Graph(x=rng.standard_normal((n, 2)), edge_index=np.array([[0, 1], [n - 1, 0]]),
                        y=np.array([i]), train_mask=np.arange(n) % 2 == 0,
                        score=sg.tensor(np.array([[0.5 * i, 1.0]])),
                        edge_weight=None if i == 1 else np.array([2.0, 3.0])))
    b = Graph.batch(gs)
    h = load_on_disk(save_on_disk(b, tmp_path / "b"))
    _same_parts(h.unbatch(), b.unbatch())
    assert [p.y.numpy().tolist() for p in h.unbatch()] == [[0], [1], [2]]
    nodes = np.array([0, 2, 3, 4, 6, 7, 9])
    _same_parts(h.subgraph(nodes).unbatch(), b.subgraph(nodes).unbatch())
    # the unweighted graph stays unweighted: to_undirected merges the others' weights only
    for got, want in zip(h.to_undirected().unbatch(), b.to_undirected().unbatch(), strict=True):
        np.testing.assert_array_equal(got.edge_weight.numpy(), want.edge_weight.numpy())
    meta = json.loads((tmp_path / "b" / "meta.json").read_text())
    assert meta["graph_keys"] == ["score", "y"] and meta["weighted_graphs"] == [True, False, True]


def test_a_loaded_batch_with_as_many_graphs_as_nodes_keeps_graph_labels(tmp_path):
    b = Graph.batch([Graph(num_nodes=n, y=np.array([i])) for i, n in enumerate([2, 0])])
    h = load_on_disk(save_on_disk(b, tmp_path / "b"))
    assert [p.y.numpy().tolist() for p in h.unbatch()] == [[0], [1]]  # not [[0, 1], []]


def test_a_batch_saved_without_the_record_loads_as_before(tmp_path):
    gs = [Graph(num_nodes=n, edge_index=np.array([[0], [n - 1]]), y=np.array([i]))
          for i, n in enumerate([3, 4, 3])]
    folder = save_on_disk(Graph.batch(gs), tmp_path / "old")
    meta = json.loads((folder / "meta.json").read_text())
    for key in ("graph_keys", "weighted_graphs", "weighted"):
        del meta[key]  # as written before the record existed
    (folder / "meta.json").write_text(json.dumps(meta))
    h = load_on_disk(folder)
    assert h.num_graphs == 3 and h.y.numpy().tolist() == [0, 1, 2]
    assert "_graph_keys" not in vars(h) and h.__dict__["_weighted"] is None
    for key, bad in (("graph_keys", ["nope"]), ("weighted_graphs", [1, 0, 1]),
                     ("weighted", "yes")):
        (folder / "meta.json").write_text(json.dumps({**meta, key: bad}))
        with pytest.raises(ValueError, match=rf'load_on_disk: expected .* under "{key}"'):
            load_on_disk(folder)
    (folder / "meta.json").write_text(json.dumps({**meta, "weighted_graphs": [True]}))
    with pytest.raises(ValueError, match=r'lists 1 "weighted_graphs" for a graph of 3'):
        load_on_disk(folder)


# ---- explicit all-ones weights stay weights ------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_all_ones_edge_weights_stay_weighted_through_disk(tmp_path, dtype):
    ei = np.array([[0, 1], [1, 0]])
    g = Graph(edge_index=ei, edge_weight=np.ones(2, dtype))
    h = load_on_disk(save_on_disk(g, tmp_path / "g"))
    assert h.edge_weight.dtype == g.edge_weight.dtype
    np.testing.assert_array_equal(h.to_undirected().edge_weight.numpy(),
                                  g.to_undirected().edge_weight.numpy())  # summed: 2, 2
    plain = Graph(edge_index=ei)
    p = load_on_disk(save_on_disk(plain, tmp_path / "p"))
    assert not (tmp_path / "p" / "values.npy").exists()  # implicit ones are not stored
    assert p.to_undirected().edge_weight.numpy().tolist() == [1.0, 1.0]


# ---- from_networkx(group_*_attrs="all") ----------------------------------------------------------
def test_group_all_takes_every_attribute_in_the_first_dicts_order():
    G = nx.path_graph(3)
    for v in G:
        G.nodes[v]["b"] = 10.0 + v  # first in the dict: first column, as in PyG
        G.nodes[v]["a"] = [float(v), -1.0]
    for k, (u, v) in enumerate(G.edges):
        G.edges[u, v]["w2"] = float(k)
        G.edges[u, v]["w1"] = 5.0
    g = from_networkx(G, group_node_attrs="all", group_edge_attrs="all")
    assert g.x.numpy().tolist() == [[10 + v, v, -1] for v in range(3)]
    ref = from_networkx(G, group_node_attrs=["b", "a"], group_edge_attrs=["w2", "w1"])
    np.testing.assert_array_equal(g.edge_attr.numpy(), ref.edge_attr.numpy())
    assert "a" not in g and "b" not in g and "edge_w1" not in g  # grouped, as in PyG
    empty = from_networkx(nx.Graph(), group_node_attrs="all", group_edge_attrs="all")
    assert empty.num_nodes == 0 and empty.x is None and empty.edge_attr is None


def test_group_attrs_refuses_a_plain_str_and_names_non_numeric_ones():
    G = nx.path_graph(3)
    for v in G:
        G.nodes[v].update(ab=1.0, a=7.0, b=8.0)
    with pytest.raises(TypeError, match=r"from_networkx: expected `group_node_attrs` to be a "
                                        r"list of node attribute names or \"all\" \(got the "
                                        r"str 'ab'; for one attribute pass \['ab'\]\)"):
        from_networkx(G, group_node_attrs="ab")
    with pytest.raises(TypeError, match=r"`group_edge_attrs` .* \(got the str 'weight'"):
        from_networkx(G, group_edge_attrs="weight")
    G.nodes[0]["kind"] = "c"
    G.nodes[1]["kind"] = G.nodes[2]["kind"] = "o"
    with pytest.raises(ValueError, match=r"numeric values for node attribute 'kind'"):
        from_networkx(G, group_node_attrs="all")


# ---- dataset[i] is a shallow copy ----------------------------------------------------------------
def _write_toy(root):
    folder = root / "TU" / "TOY"
    folder.mkdir(parents=True)
    files = {"A": "1, 2\n2, 1\n3, 4\n4, 3\n5, 6\n6, 5\n7, 8\n8, 7\n",
             "graph_indicator": "1\n1\n2\n2\n3\n3\n4\n4\n", "graph_labels": "0\n1\n0\n0\n",
             "node_labels": "0\n1\n1\n0\n2\n2\n0\n1\n"}
    for kind, text in files.items():
        (folder / f"TOY_{kind}.txt").write_text(text)
    return TUDataset("TOY", root=root, download=False, cache_dir=root / "c")


def test_single_graph_datasets_hand_out_shallow_copies(data_root, tmp_path):
    for ds in (KarateClub(), Planetoid("cora", root=data_root, download=False,
                                       cache_dir=tmp_path)):
        g = ds[0]
        assert g.x is ds.graph.x and g.adj is ds.graph.adj  # no array copied
        g.train_mask, g.y = None, None
        assert ds[0].train_mask is not None and ds[-1].y is not None


def test_tu_graphs_and_loader_hand_out_shallow_copies(tmp_path):
    ds = _write_toy(tmp_path)
    g = ds[0]
    assert g.x is ds.graphs[0].x
    g.y = None
    assert ds[0].y is not None
    for h in ds:
        h.x = None
    assert all(h.x is not None for h in ds)
    loader = GraphLoader(ds, batch_size=2)
    assert not any(a is b for a, b in zip(loader.graphs, ds.graphs, strict=True))
    assert all(a.x is b.x for a, b in zip(loader.graphs, ds.graphs, strict=True))
    for batch in loader:
        for part in batch.unbatch():
            part.y = None
    assert all(h.y is not None for h in ds)


# ---- TUDataset subsets ---------------------------------------------------------------------------
def test_tu_selections_are_datasets_that_keep_the_counts(tmp_path):
    ds = _write_toy(tmp_path)
    assert (len(ds), ds.num_classes, ds.num_features) == (4, 2, 3)
    picks = {"slice": ds[:2], "list": ds[[2, 0]], "array": ds[np.array([3])],
             "tensor": ds[sg.tensor(np.array([1, 3]))], "negative": ds[[-1]],
             "mask": ds[np.array([True, False, True, False])],
             "bool tensor": ds[sg.tensor(np.array([False, False, True, True]))],
             "empty": ds[[]], "index_select": ds.index_select(np.array([0, 2]))}
    want = {"slice": [0, 1], "list": [2, 0], "array": [3], "tensor": [1, 3], "negative": [3],
            "mask": [0, 2], "bool tensor": [2, 3], "empty": [], "index_select": [0, 2]}
    for name, sub in picks.items():
        assert isinstance(sub, TUDataset), name
        assert sub.graphs == [ds.graphs[i] for i in want[name]], name
        assert (sub.num_classes, sub.num_features) == (2, 3), name  # the whole dataset's
    assert ds[[0, 2, 3]].num_classes == 2  # every graph of it is class 0
    assert ds[:3][1:].graphs == [ds.graphs[1], ds.graphs[2]]  # a subset of a subset
    assert isinstance(ds[sg.tensor(np.array(2))], Graph)  # a 0-d Tensor is an int
    assert len(ds) == 4 and repr(ds[:2]) == "TOY(2)"
    assert len(stratified_kfold(ds[[0, 1, 2, 3]], k=2)) == 2
    assert Graph.batch(ds[1:3]).num_graphs == 2
    with pytest.raises(IndexError, match=r"TUDataset: expected graph ids in \[-4, 4\) \(got 4\)"):
        ds[[0, 4]]
    with pytest.raises(TypeError, match=r"expected an int, slice, sequence of ints, integer "
                                        r"array or boolean mask as index \(got float\)"):
        ds[0.5]


def test_tu_shuffle(tmp_path):
    ds = _write_toy(tmp_path)
    a, perm = ds.shuffle(return_perm=True, seed=3)
    assert isinstance(a, TUDataset) and a.num_classes == 2
    assert sorted(perm.tolist()) == [0, 1, 2, 3] and isinstance(perm, sg.Tensor)
    assert perm.dtype == np.int64  # a Tensor, as torch.randperm
    assert a.graphs == [ds.graphs[i] for i in perm.tolist()]
    assert ds.shuffle(seed=3).graphs == a.graphs  # reproducible for a seed
    orders = {tuple(ds.shuffle(return_perm=True, seed=s)[1].tolist()) for s in range(20)}
    assert len(orders) > 1
    g1 = ds.shuffle(return_perm=True, generator=sg.Generator(5))[1]
    g2 = ds.shuffle(return_perm=True, generator=sg.Generator(5))[1]
    assert g1.tolist() == g2.tolist()
    sg.manual_seed(7)
    p1 = ds.shuffle(return_perm=True)[1]
    sg.manual_seed(7)
    assert ds.shuffle(return_perm=True)[1].tolist() == p1.tolist()  # the global generator
    with pytest.raises(TypeError, match=r"TUDataset.shuffle: expected `seed` or `generator`"):
        ds.shuffle(seed=1, generator=sg.Generator(1))
    with pytest.raises(TypeError, match=r"TUDataset.shuffle: expected `generator` to be a "
                                        r"sparsegraph.Generator"):
        ds.shuffle(generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"TUDataset.shuffle: expected `seed` >= 0"):
        ds.shuffle(seed=-1)
