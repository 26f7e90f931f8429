"""TU datasets: statistics from ../shared/data/README.md, folds, loader, malformed files."""

import numpy as np
import pytest

from sparsegraph import Graph
from sparsegraph.datasets.tu import GraphLoader, TUDataset, stratified_kfold

STATS = {  # graphs, nodes, undirected edges, class counts, features
    "MUTAG": (188, 3371, 3721, [63, 125], 7),
    "PROTEINS": (1113, 43471, 81044, [663, 450], 4),
    "ENZYMES": (600, 19580, 37282, [100] * 6, 21),
}


@pytest.mark.dataset
@pytest.mark.parametrize("name", sorted(STATS))
def test_statistics_match_the_data_readme(name, data_root, tmp_path):
    n_graphs, n_nodes, n_edges, counts, n_feat = STATS[name]
    ds = TUDataset(name.lower(), root=data_root, download=False, cache_dir=tmp_path)
    assert len(ds) == n_graphs and ds.num_classes == len(counts)
    assert sum(g.num_nodes for g in ds) == n_nodes
    assert sum(g.num_edges for g in ds) == 2 * n_edges
    assert np.bincount([int(g.y.item()) for g in ds]).tolist() == counts
    assert ds.num_features == n_feat
    assert all(g.is_undirected() for g in ds[:20])
    if name == "MUTAG":
        assert ds[0].edge_attr.shape[1] == 4  # one-hot edge labels


def test_stratified_kfold_is_balanced_deterministic_and_partitions():
    labels = np.array([0] * 30 + [1] * 20 + [2] * 7)
    folds = stratified_kfold(labels, 5, seed=3)
    assert folds[0][1].tolist() == stratified_kfold(labels, 5, seed=3)[0][1].tolist()
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests.tolist()) == list(range(labels.size))
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0
        for c, total in ((0, 30), (1, 20), (2, 7)):
            assert abs((labels[test] == c).sum() - total / 5) <= 1
    with pytest.raises(ValueError, match="2 <= k"):
        stratified_kfold(labels, 1)


def test_stratified_kfold_refuses_one_hot_labels_by_name():
    onehot = np.eye(2)[[0, 1] * 5]  # 10 samples: folds must not index the 20 matrix cells
    with pytest.raises(ValueError, match=r"expected `labels` of shape \(N,\).*got shape "
                                         r"\(10, 2\)"):
        stratified_kfold(onehot, 5)
    with pytest.raises(TypeError, match="integer class ids as `labels`.*got dtype float64"):
        stratified_kfold(np.array([0.5, 1.5, 0.5, 1.5]), 2)


def test_stratified_kfold_reads_the_label_of_each_graph():
    ei = np.array([[0, 1], [1, 0]])
    labels = [0, 1, 0, 1, 1, 0]
    graphs = [Graph(edge_index=ei, y=np.array([c])) for c in labels]
    by_graph = stratified_kfold(graphs, 3, seed=1)
    by_label = stratified_kfold(np.array(labels), 3, seed=1)
    assert [t.tolist() for _, t in by_graph] == [t.tolist() for _, t in by_label]
    with pytest.raises(ValueError, match=r"one integer class label `y` \(graph 0 has none\)"):
        stratified_kfold([Graph(edge_index=ei)] * 4, 2)


@pytest.mark.dataset
def test_stratified_kfold_of_a_tu_dataset(data_root, tmp_path):
    ds = TUDataset("mutag", root=data_root, download=False, cache_dir=tmp_path)
    folds = stratified_kfold(ds, 10)
    y = np.array([int(g.y.item()) for g in ds])
    assert [t.tolist() for _, t in folds] == [t.tolist() for _, t in stratified_kfold(y, 10)]


def _write_tu(folder, a="1, 2\n2, 1\n", indicator="1\n1\n", labels="3\n"):
    folder.mkdir(parents=True)
    (folder / "TOY_A.txt").write_text(a)
    (folder / "TOY_graph_indicator.txt").write_text(indicator)
    (folder / "TOY_graph_labels.txt").write_text(labels)


def test_any_tu_name_loads_offline_and_batches(tmp_path):
    _write_tu(tmp_path / "TU" / "TOY", a="1, 2\n2, 1\n3, 4\n4, 3\n",
              indicator="1\n1\n2\n2\n", labels="5\n-1\n")
    ds = TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")
    assert len(ds) == 2 and [int(g.y.item()) for g in ds] == [1, 0]
    batches = list(GraphLoader(ds, batch_size=2))
    assert len(batches) == 1 and batches[0].num_nodes == 4 and batches[0].y.tolist() == [1, 0]


@pytest.mark.parametrize("a, indicator, labels, match", [
    ("1, 9\n", "1\n1\n", "1\n", "outside"),
    ("1, x\n", "1\n1\n", "1\n", "not numeric"),
    ("1, 2\n", "2\n1\n", "1\n1\n", "not sorted"),
    ("1, 2\n", "1\n1\n", "1\n2\n", "graph labels"),
])
def test_malformed_files_are_clear_errors(tmp_path, a, indicator, labels, match):
    _write_tu(tmp_path / "TU" / "TOY", a, indicator, labels)
    with pytest.raises(ValueError, match=match):
        TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")


def test_fold_count_and_batch_size_must_be_ints():
    from sparsegraph.datasets.tu import GraphLoader

    with pytest.raises(TypeError, match=r"stratified_kfold: expected an int `k` \(got float "
                                        r"2.0\)"):
        stratified_kfold(np.array([0, 1, 0, 1]), 2.0)
    with pytest.raises(TypeError, match=r"GraphLoader: expected an int `batch_size` \(got "
                                        r"float 2.5\)"):
        GraphLoader([], batch_size=2.5)


def _write_toy_with_tables(root):
    """Two graphs of two nodes; node labels in two columns, 2-D node attributes, edge labels
    and 1-D edge attributes."""
    folder = root / "TU" / "TOY"
    _write_tu(folder, a="1, 2\n2, 1\n3, 4\n4, 3\n", indicator="1\n1\n2\n2\n", labels="0\n1\n")
    (folder / "TOY_node_labels.txt").write_text("3, 0\n5, 1\n3, 1\n7, 0\n")
    (folder / "TOY_node_attributes.txt").write_text("0.5, 1.5\n2, 3\n4, 5\n6, 7\n")
    (folder / "TOY_edge_labels.txt").write_text("2\n2\n4\n4\n")
    (folder / "TOY_edge_attributes.txt").write_text("0.25\n0.25\n0.75\n0.75\n")


def test_use_node_attr_and_use_edge_attr_follow_pyg(tmp_path):
    _write_toy_with_tables(tmp_path)

    def load(**flags):
        ds = TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c", **flags)
        x = np.concatenate([g.x.numpy() for g in ds])
        return ds, x, np.concatenate([g.edge_attr.numpy() for g in ds])

    # each label column one-hot on its own values: column 0 {3, 5, 7}, column 1 {0, 1}
    labels = np.array([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [1, 0, 0, 0, 1], [0, 0, 1, 1, 0]])
    attrs = np.array([[0.5, 1.5], [2, 3], [4, 5], [6, 7]])
    e_labels, e_attrs = np.array([[1, 0], [1, 0], [0, 1], [0, 1]]), np.array([[.25], [.25],
                                                                               [.75], [.75]])
    ds, x, ea = load()
    np.testing.assert_array_equal(x, np.hstack([labels, attrs]))
    np.testing.assert_array_equal(ea, np.hstack([e_labels, e_attrs]))
    assert (ds.num_node_labels, ds.num_node_attributes) == (5, 2)
    assert (ds.num_edge_labels, ds.num_edge_attributes) == (2, 1)
    ds, x, ea = load(use_node_attr=False, use_edge_attr=False)  # PyG's defaults
    np.testing.assert_array_equal(x, labels)
    np.testing.assert_array_equal(ea, e_labels)
    assert ds.num_features == 5 and ds.num_node_attributes == 0 and ds.num_edge_attributes == 0
    ds, x, ea = load(use_node_attr=True, use_edge_attr=True)  # PyG: attributes first
    np.testing.assert_array_equal(x, np.hstack([attrs, labels]))
    np.testing.assert_array_equal(ea, np.hstack([e_attrs, e_labels]))
    with pytest.raises(TypeError, match=r"`use_node_attr` to be None, True or False \(got "
                                        r"str 'yes'\)"):
        load(use_node_attr="yes")


@pytest.mark.dataset
def test_enzymes_with_pyg_flags_has_pygs_feature_counts(data_root, tmp_path):
    """PyG: TUDataset('ENZYMES') has 3 features; with use_node_attr=True 21 (18 + 3)."""
    plain = TUDataset("ENZYMES", root=data_root, download=False, cache_dir=tmp_path)
    labels_only = TUDataset("ENZYMES", root=data_root, download=False, cache_dir=tmp_path,
                            use_node_attr=False)
    pyg = TUDataset("ENZYMES", root=data_root, download=False, cache_dir=tmp_path,
                    use_node_attr=True)
    assert (labels_only.num_features, pyg.num_features, plain.num_features) == (3, 21, 21)
    assert (pyg.num_node_labels, pyg.num_node_attributes) == (3, 18)
    np.testing.assert_array_equal(pyg[5].x.numpy()[:, :18], plain[5].x.numpy()[:, 3:])
    np.testing.assert_array_equal(labels_only[5].x.numpy(), plain[5].x.numpy()[:, :3])
