"""RandomLinkSplit: no edge in two splits, symmetric message passing, nested message-passing
edges, labels 1 / 0, negatives that are not edges, PyG's counts, errors."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.transforms as T
from sparsegraph import Graph
from sparsegraph.datasets import KarateClub, Planetoid


def pairs(ei, undirected):
    ei = np.asarray(ei).astype(np.int64)
    if undirected:
        ei = np.sort(ei, axis=0)
    return set(map(tuple, ei.T.tolist()))


def check_split(g, splits, undirected):
    all_edges = pairs(g.edge_index, False)
    positives, negatives = [], []
    for s in splits:
        label, index = s.label.numpy(), s.label_index.numpy()
        assert index.dtype == np.int64 and set(np.unique(label).tolist()) <= {0.0, 1.0}
        pos, neg = index[:, label == 1], index[:, label == 0]
        assert pairs(pos, False) <= all_edges  # positives are edges
        assert not pairs(neg, False) & all_edges  # negatives are not, either way round
        assert not pairs(neg[::-1], False) & all_edges or not undirected
        assert (neg[0] != neg[1]).all()
        positives.append(pairs(pos, undirected))
        negatives.append(pairs(neg, undirected))
        if undirected:
            assert s.is_undirected()  # message passing in both directions
    for i in range(3):
        for j in range(i + 1, 3):
            assert not positives[i] & positives[j] and not negatives[i] & negatives[j]
    train, val, test = splits
    mp = [pairs(s.edge_index, False) for s in splits]
    assert mp[0] == mp[1] and mp[1] <= mp[2]  # val's message passing is train's
    assert pairs(train.edge_index, undirected) == positives[0]
    assert pairs(test.edge_index, undirected) == positives[0] | positives[1]
    unseen = {e for p in positives[2] for e in ((p, p[::-1]) if undirected else (p,))}
    assert not mp[2] & unseen  # no split passes messages along the test edges
    return positives, negatives


@pytest.mark.dataset
def test_cora_undirected_split(data_root, tmp_path):
    g = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)[0]
    splits = T.RandomLinkSplit(num_val=0.05, num_test=0.1, is_undirected=True,
                               add_negative_train_samples=False, seed=0)(g)
    positives, negatives = check_split(g, splits, undirected=True)
    e = g.num_edges // 2  # 5278 undirected edges
    n_val, n_test = int(0.05 * e), int(0.1 * e)
    assert [len(p) for p in positives] == [e - n_val - n_test, n_val, n_test]
    assert [len(n) for n in negatives] == [0, n_val, n_test]
    assert splits[0].num_nodes == g.num_nodes and splits[0].x is not None
    assert splits[0].train_mask.numpy().sum() == 140  # node attributes kept


def test_directed_split_with_weights_and_edge_fields():
    g = KarateClub()[0]
    ei = np.asarray(g.edge_index)
    w = (ei[0] * 100 + ei[1]).astype(np.float32)
    g = Graph(x=g.x, edge_index=ei, edge_weight=w, edge_attr=w[:, None])
    splits = T.RandomLinkSplit(seed=2)(g)
    positives, negatives = check_split(g, splits, undirected=False)
    e = g.num_edges
    assert [len(p) for p in positives] == [e - int(0.1 * e) - int(0.2 * e), int(0.1 * e),
                                           int(0.2 * e)]
    assert [len(n) for n in negatives] == [len(p) for p in positives]
    for s in splits:  # each edge kept its own weight and edge_attr
        s_ei = np.asarray(s.edge_index)
        np.testing.assert_array_equal(s.edge_weight.numpy(), s_ei[0] * 100 + s_ei[1])
        np.testing.assert_array_equal(s.edge_attr.numpy()[:, 0], s.edge_weight.numpy())


def test_undirected_split_mirrors_the_forward_edge_values_and_keeps_loops_once():
    one_way = np.array([[0, 1, 2, 3, 4, 1, 3, 2, 0], [1, 2, 3, 0, 4, 4, 4, 4, 2]])
    ei = np.concatenate([one_way, one_way[::-1, one_way[0] != one_way[1]]], axis=1)
    g = Graph(edge_index=ei, edge_weight=np.minimum(ei[0], ei[1]) + 1.0)
    assert g.is_undirected()
    splits = T.RandomLinkSplit(num_val=1, num_test=2, is_undirected=True, seed=0)(g)
    positives, _ = check_split(g, splits, undirected=True)
    test_mp = np.asarray(splits[2].edge_index)
    seen_loops = [p for p in positives[0] | positives[1] if p[0] == p[1]]
    assert (test_mp[0] == test_mp[1]).sum() == len(seen_loops)  # (4, 4) once, if it is there
    assert test_mp.shape[1] == 2 * (len(positives[0]) + len(positives[1])) - len(seen_loops)
    np.testing.assert_array_equal(splits[2].edge_weight.numpy(), test_mp.min(0) + 1.0)


def test_seed_reproduces_and_global_generator_varies():
    g = KarateClub()[0]
    a = T.RandomLinkSplit(seed=4)(g)[1].label_index.numpy()
    b = T.RandomLinkSplit(seed=4)(g)[1].label_index.numpy()
    np.testing.assert_array_equal(a, b)
    sg.manual_seed(1)
    c = T.RandomLinkSplit()(g)[1].label_index.numpy()
    assert not np.array_equal(c, T.RandomLinkSplit()(g)[1].label_index.numpy())


def test_split_labels_names_and_neg_ratio():
    g = KarateClub()[0]
    train, val, test = T.RandomLinkSplit(split_labels=True, neg_sampling_ratio=2.0,
                                         is_undirected=True, seed=0)(g)
    # PyG's names
    assert val.pos_edge_label.numpy().tolist() == [1.0] * val.pos_edge_label_index.shape[1]
    assert val.neg_edge_label.shape == (2 * val.pos_edge_label.shape[0],)
    assert (val.neg_edge_label.numpy() == 0).all() and not hasattr(val, "label")
    assert not hasattr(val, "edge_label")


def test_disjoint_train_ratio_separates_supervision_from_message_passing():
    g = KarateClub()[0]
    train, val, _ = T.RandomLinkSplit(disjoint_train_ratio=0.3, is_undirected=True,
                                      seed=0)(g)
    sup = pairs(train.label_index.numpy()[:, train.label.numpy() == 1], True)
    assert len(sup) == int(0.3 * (78 - 7 - 15)) and not sup & pairs(train.edge_index, True)
    assert pairs(val.edge_index, True) == sup | pairs(train.edge_index, True)


def test_given_integer_edge_classes_are_shifted_and_dropped():
    g = KarateClub()[0]
    classes = np.arange(g.num_edges) % 3
    g = Graph(x=g.x, edge_index=g.edge_index, edge_label=classes)
    train, _, _ = T.RandomLinkSplit(seed=0)(g)
    label, index = train.label.numpy(), train.label_index.numpy()
    ei = np.asarray(g.edge_index)
    lookup = {p: c for p, c in zip(map(tuple, ei.T.tolist()), classes.tolist(), strict=True)}
    pos = label > 0
    assert [lookup[p] + 1 for p in map(tuple, index[:, pos].T.tolist())] == label[pos].tolist()
    assert "edge_label" not in train.keys()


def test_errors():
    g = Graph(edge_index=[[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="RandomLinkSplit: insufficient number of edges"):
        T.RandomLinkSplit(num_val=1, num_test=1)(g)
    with pytest.raises(ValueError, match="RandomLinkSplit: expected `key` to name the labels"):
        T.RandomLinkSplit(key="edge_y")
    with pytest.raises(ValueError, match="expected `num_test` as a fraction"):
        T.RandomLinkSplit(num_test=-0.5)
    with pytest.raises(TypeError, match="RandomLinkSplit: expected `is_undirected` to be"):
        T.RandomLinkSplit(is_undirected=1)
    with pytest.raises(ValueError, match="expected `neg_sampling_ratio` to be a number"):
        T.RandomLinkSplit(neg_sampling_ratio=-1)
    assert repr(T.RandomLinkSplit()) == "RandomLinkSplit(num_val=0.1, num_test=0.2)"


def test_negatives_large_graph_by_rejection_are_distinct_non_edges():
    from sparsegraph.transforms.negatives import non_edges

    rng = np.random.default_rng(0)
    n = 5000  # 25M ordered pairs: drawn by rejection, not listed
    ei = rng.integers(0, n, (2, 20000))
    neg = non_edges(rng, ei, n, 3000, undirected=False)
    keys = neg[0] * n + neg[1]
    assert neg.shape == (2, 3000) and np.unique(keys).size == 3000
    assert not np.isin(keys, ei[0] * n + ei[1]).any() and (neg[0] != neg[1]).all()
    full = non_edges(rng, np.array([[0, 1], [1, 2]]), 3, 100, undirected=True)
    assert full.T.tolist() == [[0, 2]]  # fewer exist than asked: all of them


def test_pyg_names_edge_label_and_edge_label_index_read_the_stored_labels():
    g = KarateClub()[0]
    train, val, test = T.RandomLinkSplit(num_val=0.1, num_test=0.1, is_undirected=True,
                                         add_negative_train_samples=False, seed=0)(g)
    for part in (train, val, test):
        assert part.edge_label_index is part.label_index and part.edge_label is part.label
        assert part.edge_label_index.shape == (2, part.edge_label.shape[0])
    with pytest.raises(AttributeError, match="no attribute 'edge_label_mask'"):
        train.edge_label_mask  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'edge_label'"):
        g.edge_label  # noqa: B018  (no labels stored)
