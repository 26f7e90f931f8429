"""Synthetic planted-partition graphs: exact sizes, simple symmetric structure, determinism,
learnable labels, memory-mappable round trip."""

import numpy as np
import pytest

from sparsegraph.datasets import synthetic


def test_exact_counts_symmetric_simple_and_deterministic():
    a = synthetic.generate(500, 4000, 16, 4, seed=1)
    b = synthetic.generate(500, 4000, 16, 4, seed=1)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    g = synthetic.to_graph(a)
    assert g.num_nodes == 500 and g.num_edges == 4000 and g.num_features == 16
    assert g.is_undirected() and not g.has_self_loops()
    s = g.adj.structure
    keys = s.rows().astype(np.int64) * 500 + s.cols()
    assert np.unique(keys).size == keys.size  # no duplicate edges
    assert a["indices"].dtype == np.int32
    c = synthetic.generate(500, 4000, 16, 4, seed=2)
    assert not np.array_equal(a["indices"], c["indices"])


def test_labels_are_predictable_from_graph_and_features():
    a = synthetic.generate(2000, 20000, 8, 3, seed=0, homophily=0.8)
    s = synthetic.to_graph(a).adj.structure
    same = (a["y"][s.rows()] == a["y"][s.cols()]).mean()
    assert same > 0.7  # chance would be ~1/3
    means = np.stack([a["x"][a["y"] == c].mean(0) for c in range(3)])
    nearest = np.argmin(((a["x"][:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert (nearest == a["y"]).mean() > 0.6


def test_save_and_memory_mapped_load(tmp_path):
    a = synthetic.generate(100, 400, 4, 2, seed=0)
    synthetic.save(a, tmp_path / "g")
    b = synthetic.load_arrays(tmp_path / "g")
    assert isinstance(b["indices"], np.memmap)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert [p.name for p in tmp_path.iterdir()] == ["g"]  # no temp dirs left behind


def test_preset_sizes_and_bad_arguments(tmp_path):
    assert synthetic.PRESETS["products"] == (2_449_029, 123_718_280, 100, 47)
    pubmed = synthetic.load_synthetic("pubmed", root=tmp_path)
    assert pubmed["indptr"][-1] == 88_648 and pubmed["x"].shape == (19_717, 500)
    with pytest.raises(ValueError, match="unknown preset"):
        synthetic.load_synthetic("ogbn", root=tmp_path)
    with pytest.raises(ValueError, match="even"):
        synthetic.generate(10, 3, 2, 2)
    with pytest.raises(ValueError, match="do not fit"):
        synthetic.generate(3, 100, 2, 2)


def _same_class_fraction(a):
    dst = np.repeat(np.arange(a["indptr"].size - 1), np.diff(a["indptr"]))
    return (a["y"][dst] == a["y"][a["indices"]]).mean()


@pytest.mark.parametrize("n, classes, h", [(2000, 2, 0.0), (2000, 5, 0.0), (2000, 2, 0.5),
                                           (2000, 40, 0.7), (2000, 4, 1.0)])
def test_homophily_is_the_realised_same_class_edge_fraction(n, classes, h):
    a = synthetic.generate(n, 20000, 4, classes, homophily=h, seed=1)
    assert a["indptr"][-1] == 20000
    assert abs(_same_class_fraction(a) - h) <= 1e-3  # old sampler: h + (1 - h) / classes


@pytest.mark.parametrize("n, e, classes, kwargs", [
    (30, 30 * 29, 1, dict(power=0.0, homophily=1.0)),      # the complete graph
    (50, 50 * 49, 1, dict(power=200.0, homophily=1.0)),    # weights 50 ** -200 underflow
    (200, 39000, 2, dict(homophily=0.5)),                  # near-complete, default power
    (300, 20000, 3, dict(power=4.0)),                      # weight on few nodes: the tail
])
def test_dense_and_skewed_graphs_get_their_exact_edge_count(n, e, classes, kwargs):
    a = synthetic.generate(n, e, 2, classes, seed=0, **kwargs)
    g = synthetic.to_graph(a)
    s = g.adj.structure
    keys = s.rows().astype(np.int64) * n + s.cols()
    assert g.num_edges == e and np.unique(keys).size == e
    assert g.is_undirected() and not g.has_self_loops()
    assert abs(_same_class_fraction(a) - kwargs.get("homophily", 0.7)) < 1e-3


def test_edge_counts_the_classes_cannot_hold_fail_up_front():
    with pytest.raises(ValueError, match=r"870 edges do not fit with homophily=0.7: \d+ directed "
                                         r"edges must run inside a class"):
        synthetic.generate(30, 870, 2, 3, power=0.0)  # complete: the fraction is fixed
    with pytest.raises(ValueError, match=r"with homophily=0.5: \d+ directed edges must run "
                                         r"between classes.*allow at most 0"):
        synthetic.generate(20, 40, 2, 1, homophily=0.5)
    with pytest.raises(ValueError, match=r"could place only \d+ of \d+ same-class undirected "
                                         r"edges.*`power`=200.0"):
        synthetic.generate(10000, 4000, 2, 3, power=200.0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(homophily="0.5"), TypeError, r"expected `homophily` in \[0.0, 1.0\] \(got '0.5'\)"),
    (dict(homophily=True), TypeError, r"expected `homophily` in \[0.0, 1.0\] \(got True\)"),
    (dict(val_frac=None), TypeError, r"expected `val_frac` in \[0.0, 1.0\] \(got None\)"),
    (dict(train_frac="0.1"), TypeError, r"expected `train_frac` in \(0.0, 1.0\) \(got '0.1'\)"),
    (dict(power=float("inf")), ValueError, r"expected a finite number `power` >= 0 \(got inf\)"),
])
def test_non_numeric_fractions_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        synthetic.generate(50, 100, 2, 2, **kwargs)
