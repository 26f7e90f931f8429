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
