"""RandomNodeSplit: disjoint masks of the sizes asked for, k per class, reproducible, PyG's
three splits, errors."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.transforms as T
from sparsegraph import Graph
from sparsegraph.datasets import KarateClub, Planetoid


def masks(g):
    return [m.numpy() for m in (g.train_mask, g.val_mask, g.test_mask)]


def graph(n=100, classes=4, seed=0):
    y = np.random.default_rng(seed).integers(0, classes, n)
    return Graph(x=np.ones((n, 2), np.float32), edge_index=[[0], [1]], y=y)


def test_train_rest_sizes_disjoint_and_covering():
    g = graph()
    tr, va, te = masks(T.RandomNodeSplit(num_val=20, num_test=0.3, seed=1)(g))
    assert (va.sum(), te.sum(), tr.sum()) == (20, 30, 50)
    assert not (tr & va).any() and not (tr & te).any() and not (va & te).any()
    assert (tr | va | te).all()
    assert g.train_mask is None  # the caller's graph is unchanged


@pytest.mark.parametrize("split", ["test_rest", "random"])
def test_per_class_splits_take_k_per_class(split):
    g = graph(classes=3)
    tr, va, te = masks(T.RandomNodeSplit(split, num_train_per_class=5, num_val=10,
                                         num_test=15, seed=0)(g))
    y = g.y.numpy()
    assert np.bincount(y[tr], minlength=3).tolist() == [5, 5, 5]
    assert va.sum() == 10 and te.sum() == (75 if split == "test_rest" else 15)
    assert not (tr & va).any() and not (tr & te).any() and not (va & te).any()


@pytest.mark.dataset
def test_train_per_class_on_cora_gives_exactly_twenty_per_class(data_root, tmp_path):
    g = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)[0]
    tr, va, te = masks(T.RandomNodeSplit("random", num_val=500, num_test=1000, seed=3)(g))
    assert np.bincount(g.y.numpy()[tr], minlength=7).tolist() == [20] * 7
    assert (tr.sum(), va.sum(), te.sum()) == (140, 500, 1000)
    assert not (tr & va).any() and not (tr & te).any() and not (va & te).any()
    assert not np.array_equal(tr, g.train_mask.numpy())  # a new split, not the public one


def test_seed_generator_and_global_seed_reproduce():
    g, t = graph(), T.RandomNodeSplit(num_val=10, num_test=10, seed=5)
    a, b = masks(t(g)), masks(t(g))
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    sg.manual_seed(7)
    c = masks(T.RandomNodeSplit(num_val=10, num_test=10)(g))
    d = masks(T.RandomNodeSplit(num_val=10, num_test=10)(g))
    sg.manual_seed(7)
    e = masks(T.RandomNodeSplit(num_val=10, num_test=10)(g))
    assert all(np.array_equal(p, q) for p, q in zip(c, e, strict=True))
    assert not np.array_equal(c[1], d[1])  # the global generator moved on
    gen = T.RandomNodeSplit(num_val=10, num_test=10, generator=sg.Generator(3))
    f = masks(gen(g))
    assert not np.array_equal(masks(gen(g))[1], f[1])
    assert np.array_equal(masks(T.RandomNodeSplit(num_val=10, num_test=10,
                                                  generator=sg.Generator(3))(g))[1], f[1])


def test_num_splits_gives_split_by_node_masks():
    g = graph()
    out = T.RandomNodeSplit(num_splits=3, num_val=10, num_test=20, seed=0)(g)
    tr, va, te = masks(out)
    assert tr.shape == va.shape == (3, 100)  # Graph's (S, N) split masks
    assert (va.sum(1) == 10).all() and (te.sum(1) == 20).all() and (tr | va | te).all()
    assert not np.array_equal(va[0], va[1])


def test_unlabelled_nodes_are_in_no_mask():
    g = graph()
    y = g.y.numpy().copy()
    y[:10] = -1
    g.y = y
    for split in ("train_rest", "test_rest"):
        tr, va, te = masks(T.RandomNodeSplit(split, num_val=10, num_test=10, seed=0)(g))
        assert not (tr | va | te)[:10].any() and (tr | va | te)[10:].all()


def test_missing_key_returns_the_graph_unchanged_and_key_none_splits_all():
    g = Graph(edge_index=[[0, 1], [1, 2]], num_nodes=10)
    assert T.RandomNodeSplit(num_val=2, num_test=2)(g).train_mask is None
    tr, va, te = masks(T.RandomNodeSplit(num_val=2, num_test=3, key=None, seed=0)(g))
    assert (tr.sum(), va.sum(), te.sum()) == (5, 2, 3)


def test_errors_name_the_argument():
    g = KarateClub()[0]
    with pytest.raises(ValueError, match=r"expected num_val \+ num_test <= 34"):
        T.RandomNodeSplit()(g)  # PyG's 500 / 1000 on 34 nodes
    with pytest.raises(ValueError, match="expected `split` in"):
        T.RandomNodeSplit("train_per_class")
    with pytest.raises(ValueError, match="expected `num_val` as a fraction in"):
        T.RandomNodeSplit(num_val=1.5)
    with pytest.raises(TypeError, match="RandomNodeSplit: expected `seed` to be an int"):
        T.RandomNodeSplit(seed="1")
    with pytest.raises(TypeError, match="RandomNodeSplit: expected `generator`"):
        T.RandomNodeSplit(generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="split='random' draws training nodes per class"):
        T.RandomNodeSplit("random", key=None)
    with pytest.raises(ValueError, match="expects 1-D integer class labels in `y`"):
        T.RandomNodeSplit("random", num_val=1, num_test=1)(
            Graph(edge_index=[[0], [1]], y=np.zeros(2, np.float32)))
    assert repr(T.RandomNodeSplit()) == "RandomNodeSplit(split=train_rest)"
