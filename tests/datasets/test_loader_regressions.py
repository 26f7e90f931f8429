"""Regressions from the datasets audit: indexing, splits, checksums of local files, corrupt
raw files and caches, networkx conversion, synthetic arguments, downloads that fail."""

import pickle
import shutil
import signal
import zipfile

import networkx as nx
import numpy as np
import pytest

from sparsegraph import Graph
from sparsegraph.datasets import (
    DatasetUnavailable,
    KarateClub,
    NpzGraph,
    Planetoid,
    TUDataset,
    from_networkx,
    synthetic,
    to_networkx,
)


def _write_tu(folder, **files):
    folder.mkdir(parents=True)
    base = {"A": "1, 2\n2, 1\n3, 4\n4, 3\n5, 6\n6, 5\n", "graph_indicator": "1\n1\n2\n2\n3\n3\n",
            "graph_labels": "0\n1\n0\n"}
    for kind, text in {**base, **files}.items():
        (folder / f"TOY_{kind}.txt").write_text(text)


def toy(tmp_path, **files):
    _write_tu(tmp_path / "TU" / "TOY", **files)
    return TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")


# ---- TU -------------------------------------------------------------------------------------
def test_tu_index_by_boolean_mask_and_integer_array(tmp_path):
    ds = toy(tmp_path)
    # a selection is a dataset of the stored graphs, in the order asked for (was: a list)
    picked = ds[np.array([False, True, True])]
    assert isinstance(picked, TUDataset) and picked.graphs == [ds.graphs[1], ds.graphs[2]]
    assert ds[np.array([2, 0])].graphs == [ds.graphs[2], ds.graphs[0]]
    assert ds[[1]].graphs == [ds.graphs[1]] and len(ds[[]]) == 0
    with pytest.raises(IndexError, match="boolean mask of length 3"):
        ds[np.array([True, False])]
    with pytest.raises(TypeError, match="1-D integer graph ids or a boolean mask"):
        ds[np.array([0.5, 1.0])]
    with pytest.raises(TypeError, match="got str"):
        ds["1"]


@pytest.mark.parametrize("kind, text, match", [
    ("node_labels", "1\n2\n3\n", r"TOY_node_labels.txt has 3 rows, expected 6"),
    ("node_labels", "", r"TOY_node_labels.txt has 0 rows, expected 6"),
    ("edge_labels", "1\n", r"TOY_edge_labels.txt has 1 rows, expected 6"),
])
def test_tu_optional_files_of_the_wrong_length(tmp_path, kind, text, match):
    with pytest.raises(ValueError, match=match):
        toy(tmp_path, **{kind: text})


def _zip_fetch(members):
    def fetch(url, dest, sha256, **kwargs):
        with zipfile.ZipFile(dest, "w") as z:
            for name, text in members.items():
                z.writestr(f"TOY/{name}", text)
    return fetch


def test_tu_zip_missing_a_member_installs_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("sparsegraph.datasets.tu.fetch", _zip_fetch(
        {"TOY_A.txt": "1, 2\n", "TOY_graph_labels.txt": "1\n"}))  # no graph_indicator
    (tmp_path / "root").mkdir()
    with pytest.raises(ValueError, match="has no TOY_graph_indicator.txt"):
        TUDataset("TOY", root=tmp_path / "root", cache_dir=tmp_path / "c")
    assert not (tmp_path / "root" / "TU").exists()


def test_tu_offline_error_names_the_dataset_folder_and_leaves_no_folders(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", "http://127.0.0.1:9")  # nothing listens there
    root = tmp_path / "root"
    with pytest.raises(DatasetUnavailable) as info:
        TUDataset("MUTAG", root=root, cache_dir=tmp_path / "c")
    assert f"put its .txt files in {root / 'TU' / 'MUTAG'}" in str(info.value)
    assert not root.exists()


# ---- local checksums, corrupt raw files, invalid caches -------------------------------------
@pytest.fixture
def texas(data_root, tmp_path):
    folder = tmp_path / "root" / "heterophilous"
    folder.mkdir(parents=True)
    shutil.copy(data_root / "heterophilous" / "texas.npz", folder)
    return folder / "texas.npz"


def load_texas(path, **kw):
    return NpzGraph("texas", root=path.parents[1], download=False,
                    cache_dir=path.parents[2] / "cache", **kw)[0]


@pytest.mark.dataset
def test_tampered_local_file_fails_its_checksum(texas):
    data = bytearray(texas.read_bytes())
    data[-10] ^= 0xFF
    texas.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"checksum mismatch for .*texas\.npz: expected sha256 "
                                         r"b164b99e\w+, got \w{64}"):
        load_texas(texas)


@pytest.fixture
def no_npz_checksum(monkeypatch):
    from sparsegraph.datasets.npz import SOURCES

    folder, name, _, url = SOURCES["texas"]
    monkeypatch.setitem(SOURCES, "texas", (folder, name, None, url))


@pytest.mark.dataset
def test_truncated_npz_names_the_file(texas, no_npz_checksum):
    texas.write_bytes(texas.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"texas\.npz is not a valid graph \.npz"):
        load_texas(texas)


@pytest.mark.dataset
def test_npz_with_too_few_labels_is_a_clear_error(texas, no_npz_checksum):
    arrays = dict(np.load(texas))
    arrays["node_labels"] = arrays["node_labels"][:10]
    np.savez(texas, **arrays)
    with pytest.raises(ValueError, match=r"texas\.npz could not be read.*expected `y` with 183"):
        load_texas(texas)
    assert not list((texas.parents[2] / "cache").glob("*.npz"))  # nothing bad was cached


@pytest.mark.dataset
@pytest.mark.parametrize("damage", ["short y", "missing y"])
def test_invalid_cache_is_rebuilt(texas, damage):
    good = load_texas(texas)
    (cache,) = (texas.parents[2] / "cache").glob("*.npz")
    arrays = dict(np.load(cache))
    if damage == "short y":
        arrays["y"] = arrays["y"][:5]
    else:
        del arrays["y"]
    np.savez(cache, **arrays)
    again = load_texas(texas)
    np.testing.assert_array_equal(again.y.numpy(), good.y.numpy())
    assert "y" in np.load(cache).files and np.load(cache)["y"].shape == (183,)


@pytest.mark.dataset
def test_heterophilous_refuses_undirected_false(texas):
    with pytest.raises(ValueError, match="undirected=False is not available for 'texas'"):
        load_texas(texas, undirected=False)


@pytest.mark.dataset
def test_subgraph_and_batch_of_heterophilous_split_masks(texas):
    g = load_texas(texas)
    assert g.subgraph(np.arange(50)).train_mask.shape == (10, 50)
    assert Graph.batch([g, g]).train_mask.shape == (10, 366)


@pytest.fixture
def cora(data_root, tmp_path, monkeypatch):
    shutil.copytree(data_root / "planetoid", tmp_path / "planetoid")
    monkeypatch.setattr("sparsegraph.datasets.planetoid.SHA256", {})
    return tmp_path / "planetoid"


def load_cora(folder):
    return Planetoid("cora", root=folder.parent, download=False,
                     cache_dir=folder.parent / "cache")


@pytest.mark.dataset
@pytest.mark.parametrize("suffix, content, match", [
    ("graph", pickle.dumps([1, 2, 3], protocol=2), r"ind\.cora\.graph is not a dict"),
    ("x", pickle.dumps([1, 2], protocol=2), r"ind\.cora\.x is not a sparse"),
    ("ty", "ind.cora.y", r"ind\.cora\.ty has 140 rows but ind\.cora\.tx has 1000"),
    ("test.index", b"2692\n99999\n", r"ind\.cora\.test\.index has 2 ids"),
])
def test_planetoid_wrong_contents_name_the_file(cora, suffix, content, match):
    if isinstance(content, str):  # another of the raw files, under the wrong name
        content = (cora / content).read_bytes()
    (cora / f"ind.cora.{suffix}").write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_cora(cora)


@pytest.mark.dataset
def test_planetoid_out_of_range_test_index(cora):
    ids = (cora / "ind.cora.test.index").read_text().split()
    (cora / "ind.cora.test.index").write_text("\n".join(ids[:-1] + ["99999"]) + "\n")
    with pytest.raises(ValueError, match=r"ind\.cora\.test\.index has ids outside \[1708, "):
        load_cora(cora)


@pytest.mark.dataset
def test_citeseer_full_split_leaves_unlabelled_nodes_out(data_root, tmp_path):
    g = Planetoid("citeseer", root=data_root, split="full", download=False,
                  cache_dir=tmp_path)[0]
    y = g.y.numpy()
    for mask in (g.train_mask, g.val_mask, g.test_mask):
        assert (y[mask.numpy()] >= 0).all()
    assert g.train_mask.numpy().sum() == 3327 - 15 - 500 - 1000


# ---- networkx -------------------------------------------------------------------------------
def nx_graph():
    G = nx.Graph()
    G.add_nodes_from([(i, {"feat": [float(i), 1.0]}) for i in range(4)])
    G.add_edge(0, 1, weight=2.0)
    G.add_edge(1, 2, weight=3.0)
    G.add_edge(3, 3, weight=4.0)
    return G


def test_from_networkx_adds_an_undirected_self_loop_once():
    g = from_networkx(nx_graph())
    assert g.num_edges == 5 == nx_graph().to_directed().number_of_edges()
    assert sorted(np.asarray(g.edge_weight).tolist()) == [2.0, 2.0, 3.0, 3.0, 4.0]


def test_from_networkx_grouped_attribute_errors_and_weight():
    g = from_networkx(nx_graph(), group_edge_attrs=["weight"])
    np.testing.assert_array_equal(g.edge_attr.numpy()[:, 0], np.asarray(g.edge_weight))
    with pytest.raises(ValueError, match="expected node attribute 'nope'"):
        from_networkx(nx_graph(), group_node_attrs=["nope"])
    with pytest.raises(ValueError, match="expected edge attribute 'w9'"):
        from_networkx(nx_graph(), group_edge_attrs=["w9"])


def test_to_networkx_sparse_features_and_unknown_attributes():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    g = Graph(x=x, edge_index=np.array([[0, 1], [1, 2]]))
    g_sparse = Graph(x=g.x.to_sparse(), adj=g.adj)
    H = to_networkx(g_sparse, node_attrs=["x"])
    assert H.nodes[3]["x"] == [6.0, 7.0]
    with pytest.raises(ValueError, match="graph has no node attribute 'nope'"):
        to_networkx(g, node_attrs=["nope"])


# ---- synthetic and karate -------------------------------------------------------------------
def test_impossible_edge_count_for_homophily_is_an_error_not_a_hang():
    def hung(*args):
        raise TimeoutError("synthetic.generate did not return")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        with pytest.raises(ValueError, match="do not fit with homophily=1.0"):
            synthetic.generate(20, 300, 2, 2, homophily=1.0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("kwargs, match", [
    (dict(num_edges=-2), r"expected `num_edges` >= 0 \(got -2\)"),
    (dict(num_nodes=10.0), r"expected an int `num_nodes` \(got 10.0\)"),
    (dict(homophily=2), r"expected `homophily` in \[0.0, 1.0\] \(got 2\)"),
    (dict(train_frac=1.5), r"expected `train_frac` in \(0.0, 1.0\) \(got 1.5\)"),
    (dict(train_frac=0.0), r"expected `train_frac` in \(0.0, 1.0\)"),
])
def test_generate_validates_its_arguments(kwargs, match):
    args = {"num_nodes": 10, "num_edges": 4, "num_features": 2, "num_classes": 2, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        synthetic.generate(**args)


def test_karate_docstring_matches_its_split():
    g = KarateClub()[0]
    assert g.val_mask.numpy().sum() == 9 and "9 validation nodes" in KarateClub.__doc__
