"""transform= / pre_transform= on Planetoid, TUDataset, NpzGraph and KarateClub: PyG's
semantics (transform on every access, pre_transform once), the cache left raw, errors."""

import numpy as np
import pytest

import sparsegraph.transforms as T
from sparsegraph import Graph
from sparsegraph.datasets import KarateClub, NpzGraph, Planetoid, TUDataset


class Counting:
    """A transform that counts its calls and adds a marker attribute."""

    def __init__(self):
        self.calls = 0

    def __call__(self, g):
        self.calls += 1
        g.marker = self.calls
        return g


def test_karate_transform_runs_on_every_access_on_a_copy():
    t = Counting()
    ds = KarateClub(transform=t)
    a, b = ds[0], ds[0]
    assert (a.marker, b.marker) == (1, 2) and t.calls == 2
    assert "marker" not in ds.graph  # the stored graph is untouched
    assert ds.transform is t and ds.pre_transform is None


def test_karate_pre_transform_runs_once_and_feature_counts_follow_the_transform():
    pre = Counting()
    ds = KarateClub(pre_transform=pre, transform=T.Constant(cat=True))
    ds[0], ds[0]
    assert pre.calls == 1 and ds.graph.marker == 1
    assert ds.num_features == 35 and ds[0].x.shape == (34, 35)
    assert ds.graph.x.shape == (34, 34)


@pytest.mark.dataset
def test_planetoid_normalize_features_transform_and_link_split(data_root, tmp_path):
    ds = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path,
                   transform=T.NormalizeFeatures())
    sums = np.asarray(ds[0].x.to_scipy().sum(1)).ravel()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)
    raw = np.asarray(ds.graph.x.to_scipy().sum(1)).ravel()
    assert raw.max() > 1  # stored features stay raw
    split = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path,
                      transform=T.RandomLinkSplit(is_undirected=True, seed=0))
    train, val, test = split[0]  # PyG's idiom: the transform returns three graphs
    assert val.label_index.shape[0] == 2 and split.num_features == 1433


@pytest.mark.dataset
def test_pre_transform_is_not_cached(data_root, tmp_path):
    pre = T.RandomNodeSplit(num_val=100, num_test=100, seed=0)
    ds = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path,
                   pre_transform=pre)
    assert ds[0].val_mask.numpy().sum() == 100
    again = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)  # cached
    assert again[0].val_mask.numpy().sum() == 500  # the public split, not the pre_transform's


@pytest.mark.dataset
def test_tu_transform_on_index_iteration_and_subsets(data_root, tmp_path):
    ds = TUDataset("MUTAG", root=data_root, download=False, cache_dir=tmp_path,
                   transform=T.OneHotDegree(4, cat=False))
    assert ds.num_features == 5 and ds[0].x.shape[1] == 5
    for g in list(ds)[:3]:
        deg = np.bincount(np.asarray(g.edge_index[0]), minlength=g.num_nodes)
        np.testing.assert_array_equal(g.x.numpy().argmax(1), deg)
    sub = ds[:10]
    assert sub[3].x.shape[1] == 5 and ds.graphs[0].x.shape[1] == 7  # stored: raw
    pre = Counting()
    counted = TUDataset("MUTAG", root=data_root, download=False, cache_dir=tmp_path,
                        pre_transform=pre)
    assert pre.calls == len(counted) == 188 and counted[187].marker == 188


@pytest.mark.dataset
def test_npz_graph_transform(data_root, tmp_path):
    ds = NpzGraph("cora_ml", root=data_root, download=False, cache_dir=tmp_path,
                  transform=T.Compose([T.LargestConnectedComponents(),
                                       T.RandomNodeSplit(seed=0)]))
    g = ds[0]
    assert g.num_nodes < ds.graph.num_nodes and g.val_mask.numpy().sum() == 500


@pytest.mark.parametrize("arg", ["transform", "pre_transform"])
def test_non_callable_transforms_are_type_errors_naming_the_argument(arg, tmp_path):
    with pytest.raises(TypeError, match=f"KarateClub: expected `{arg}` to be callable"):
        KarateClub(**{arg: "NormalizeFeatures"})
    with pytest.raises(TypeError, match=f"Planetoid: expected `{arg}` to be callable"):
        Planetoid("cora", root=tmp_path, download=False, **{arg: 1})  # before any file


def test_pre_transform_must_return_a_graph():
    with pytest.raises(TypeError, match="KarateClub: expected `pre_transform` to return a "
                                        "Graph"):
        KarateClub(pre_transform=lambda g: (g, g))
    assert isinstance(KarateClub(pre_transform=lambda g: g)[0], Graph)


def test_tu_pre_filter_keeps_the_graphs_it_accepts_before_pre_transform(data_root):
    seen = []

    def tag(g):
        seen.append(g.num_nodes)
        return g

    full = TUDataset("MUTAG", data_root)
    big = [i for i in range(len(full)) if full[i].num_nodes > 17]
    ds = TUDataset("MUTAG", data_root, pre_filter=lambda g: g.num_nodes > 17, pre_transform=tag)
    assert len(ds) == len(big) and sorted(seen) == sorted(full[i].num_nodes for i in big)
    assert [int(ds[j].y) for j in range(len(ds))] == [int(full[i].y) for i in big]
    with pytest.raises(TypeError, match="expected `pre_filter` to return True or False"):
        TUDataset("MUTAG", data_root, pre_filter=lambda g: "yes")
    with pytest.raises(TypeError, match="expected `pre_filter` to be callable"):
        TUDataset("MUTAG", data_root, pre_filter=True)
