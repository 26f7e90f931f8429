"""Planetoid: statistics equal to ../shared/data/README.md, safe unpickling, clear errors."""

import os
import pickle

import numpy as np
import pytest

from sparsegraph.datasets import DatasetUnavailable, Planetoid

STATS = {  # nodes, directed edges, features, feature nnz, classes, class counts, train size
    "cora": (2708, 10556, 1433, 49216, [351, 217, 418, 818, 426, 298, 180], 140),
    "citeseer": (3327, 9104, 3703, 105165, [249, 590, 668, 701, 596, 508], 120),
}


@pytest.mark.dataset
@pytest.mark.parametrize("name", sorted(STATS))
def test_statistics_match_the_data_readme(name, data_root, tmp_path):
    n, e, f, nnz, counts, n_train = STATS[name]
    ds = Planetoid(name.upper(), root=data_root, download=False, cache_dir=tmp_path)
    g = ds[0]
    assert (g.num_nodes, g.num_edges, g.num_features, g.x.nnz) == (n, e, f, nnz)
    y = g.y.numpy()
    assert np.bincount(y[y >= 0]).tolist() == counts
    assert ds.num_classes == len(counts) and len(ds) == 1
    assert g.train_mask.numpy().sum() == n_train and g.val_mask.numpy().sum() == 500
    assert g.test_mask.numpy().sum() == 1000
    assert g.is_undirected() and not g.has_self_loops()
    assert (y == -1).sum() == (15 if name == "citeseer" else 0)
    assert repr(ds) == {"cora": "Cora()", "citeseer": "CiteSeer()"}[name]
    again = Planetoid(name, root=data_root, download=False, cache_dir=tmp_path)[0]  # cached
    np.testing.assert_array_equal(again.edge_index, g.edge_index)
    assert list(tmp_path.iterdir())  # the processed cache went to cache_dir, not the raw dir


@pytest.mark.dataset
def test_normalized_features_sum_to_one(data_root, tmp_path):
    g = Planetoid("cora", root=data_root, download=False, normalize_features=True,
                  cache_dir=tmp_path)[0]
    sums = np.asarray(g.x.to_scipy().sum(1)).ravel()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown name 'coraa' \(expected one of \('cora', "):
        Planetoid("coraa")


def test_missing_files_without_download_name_url_and_folder(tmp_path):
    with pytest.raises(DatasetUnavailable, match=r"missing ind\.cora\.x.*planetoid.*"
                                                 r"github\.com/kimiyoung"):
        Planetoid("cora", root=tmp_path, download=False, cache_dir=tmp_path / "c")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned-marker",))


def test_malicious_pickle_is_refused_and_not_executed(tmp_path, monkeypatch):
    from sparsegraph.datasets.planetoid import SUFFIXES

    folder = tmp_path / "planetoid"
    folder.mkdir()
    for s in SUFFIXES:
        (folder / f"ind.cora.{s}").write_bytes(pickle.dumps(_Evil()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sparsegraph.datasets.planetoid.SHA256", {})
    with pytest.raises(pickle.UnpicklingError, match="refusing to load posix.system|refusing"):
        Planetoid("cora", root=tmp_path, download=False, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "pwned-marker").exists()
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_truncated_pickle_is_a_clear_error(tmp_path, monkeypatch):
    from sparsegraph.datasets.planetoid import SUFFIXES

    folder = tmp_path / "planetoid"
    folder.mkdir()
    for s in SUFFIXES:
        (folder / f"ind.cora.{s}").write_bytes(pickle.dumps(np.arange(10))[:20])
    monkeypatch.setattr("sparsegraph.datasets.planetoid.SHA256", {})
    with pytest.raises(ValueError, match="corrupt or truncated"):
        Planetoid("cora", root=tmp_path, download=False, cache_dir=tmp_path / "cache")


@pytest.mark.dataset
def test_corrupt_processed_cache_is_ignored_and_rebuilt(data_root, tmp_path):
    first = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)[0]
    (cache,) = tmp_path.iterdir()
    cache.write_bytes(b"garbage")
    again = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)[0]
    np.testing.assert_array_equal(np.asarray(again.edge_index), np.asarray(first.edge_index))
    assert cache.stat().st_size > 1000  # rewritten


def test_bad_root_cache_dir_and_index_are_named(data_root, tmp_path):
    with pytest.raises(TypeError, match=r"Planetoid: expected `root` to be a folder path, a str "
                                        r"or os.PathLike \(got int 5\)"):
        Planetoid("cora", root=5, download=False)
    with pytest.raises(TypeError, match=r"Planetoid: expected `cache_dir` to be a folder path.*"
                                        r"\(got list \[\]\)"):
        Planetoid("cora", root=data_root, download=False, cache_dir=[])
    ds = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)
    for bad in ("0", 0.0, True):
        with pytest.raises(TypeError, match=r"Planetoid: expected an int index, 0 or -1 for its "
                                            rf"one graph \(got {type(bad).__name__} "):
            ds[bad]
    assert ds[0].adj is ds[-1].adj and ds[np.int64(0)].num_nodes == 2708  # copies of one
    with pytest.raises(IndexError, match="index 1 out of range"):
        ds[1]
