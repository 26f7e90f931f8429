"""PyG's dataset names: ``num_node_features`` / ``num_edge_features`` on every dataset, and a
TUDataset indexed by any sequence of ints (``ds[range(5)]``), as PyG's ``Dataset``."""

import numpy as np
import pytest

from sparsegraph.datasets import KarateClub, NpzGraph, Planetoid, TUDataset


def test_karate_club_has_pygs_feature_counts():
    ds = KarateClub()
    assert ds.num_node_features == ds.num_features == ds[0].x.shape[1] == 34
    assert ds.num_edge_features == 0


@pytest.mark.dataset
def test_single_graph_datasets_have_pygs_feature_counts(data_root, tmp_path):
    for ds in (Planetoid("cora", root=data_root, download=False),
               NpzGraph("texas", root=data_root, download=False, cache_dir=tmp_path)):
        g = ds[0]
        assert ds.num_node_features == ds.num_features == g.num_node_features == g.x.shape[1]
        assert ds.num_edge_features == g.num_edge_features == 0


@pytest.mark.dataset
@pytest.mark.parametrize("name, node, edge", [("MUTAG", 7, 4), ("PROTEINS", 4, 0),
                                              ("ENZYMES", 21, 0)])
def test_tu_datasets_and_subsets_have_pygs_feature_counts(name, node, edge, data_root):
    ds = TUDataset(name, root=data_root, download=False)
    for d in (ds, ds[10:20], ds[[3, 1]], ds.shuffle(seed=0)):
        assert (d.num_node_features, d.num_edge_features) == (node, edge)
        assert d.num_node_features == d.num_features == d[0].x.shape[1]
        assert d.num_edge_features == (0 if d[0].edge_attr is None else d[0].edge_attr.shape[1])
    assert ds.num_edge_features == ds.num_edge_labels + ds.num_edge_attributes


@pytest.mark.dataset
@pytest.mark.parametrize("index", [range(5), range(10, 2, -3), (4, -1, 0), range(0)])
def test_tu_dataset_takes_any_sequence_of_ints(index, data_root):
    ds = TUDataset("MUTAG", root=data_root, download=False)
    sub = ds[index]
    ids = np.arange(len(ds))[list(index)]
    assert len(sub) == len(ids) and sub.num_classes == ds.num_classes
    for g, i in zip(sub, ids.tolist(), strict=True):
        np.testing.assert_array_equal(g.edge_index, ds[i].edge_index)
        assert g.y.numpy().tolist() == ds[i].y.numpy().tolist()
    with pytest.raises(TypeError, match=r"sequence of ints.*\(got str\)"):
        ds["abc"]
    with pytest.raises(IndexError,
                       match=r"TUDataset: expected graph ids in \[-188, 188\) \(got 188\)"):
        ds[range(186, 189)]


def test_tu_differences_from_pyg_are_as_documented(tmp_path):
    # TUDataset's docstring / README: self loops and repeated edges are kept, and a label
    # column is one-hot over the values that occur (PyG: loops removed, repeats merged,
    # max - min + 1 columns); this pins that text to the behaviour
    d = tmp_path / "TU" / "TOY"
    d.mkdir(parents=True)
    for name, text in (("A", "1, 2\n2, 1\n2, 2\n1, 2\n"), ("graph_indicator", "1\n1\n"),
                       ("graph_labels", "1\n"), ("node_labels", "0\n5\n"),
                       ("edge_labels", "1\n1\n3\n1\n")):
        (d / f"TOY_{name}.txt").write_text(text)
    ds = TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")
    g = ds[0]
    assert g.num_edges == 4 and g.has_self_loops()
    assert g.x.numpy().tolist() == [[1.0, 0.0], [0.0, 1.0]] and ds.num_node_labels == 2
    assert ds.num_edge_labels == ds.num_edge_features == 2
