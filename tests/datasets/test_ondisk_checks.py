"""load_on_disk / save_on_disk refuse what would corrupt results: out-of-range indices, a
non-monotone indptr, corrupt metadata and arrays; every attribute (and a batch) round-trips."""

import json
import shutil

import numpy as np
import pytest

from sparsegraph.datasets import load_on_disk, save_on_disk, synthetic
from sparsegraph.graph import Graph


def five(tmp_path):
    g = Graph(x=np.ones((5, 3), np.float32), edge_index=np.array([[0, 1, 2, 3, 4],
                                                                 [1, 2, 3, 0, 0]]), num_nodes=5)
    return save_on_disk(g, tmp_path / "g")


@pytest.mark.parametrize("indices, got", [([1, -2, 3, 0, 0], "-2"), ([1, 2, 3, 0, 99], "99"),
                                          ([1, 2, 3, 0, 10**10], str(10**10))])
def test_indices_outside_the_nodes_are_refused_naming_the_file(tmp_path, indices, got):
    p = five(tmp_path)
    np.save(p / "indices.npy", np.array(indices))
    with pytest.raises(ValueError, match=rf"indices\.npy entries in \[0, 5\) for 5 nodes "
                                         rf"\(got {got}\)"):
        load_on_disk(p)


def test_non_monotone_indptr_is_refused(tmp_path):
    p = five(tmp_path)
    np.save(p / "indptr.npy", np.array([0, 3, 1, 4, 4, 5]))
    with pytest.raises(ValueError, match=r"non-decreasing .*indptr\.npy \(entry 2 = 1 < entry "
                                         r"1 = 3\)"):
        load_on_disk(p)
    np.save(p / "indptr.npy", np.array([0.0, 1, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match=r"1-D integer array in .*indptr\.npy"):
        load_on_disk(p)


def test_synthetic_to_graph_checks_the_indices():
    arrays = synthetic.generate(20, 40, 2, 2, seed=0)
    arrays["indices"] = arrays["indices"].copy()
    arrays["indices"][3] = 20
    with pytest.raises(ValueError, match=r"synthetic.to_graph: expected .*indices\.npy entries "
                                         r"in \[0, 20\) .*got 20"):
        synthetic.to_graph(arrays)


def test_every_attribute_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    g = Graph(x=np.arange(5), edge_index=np.array([[0, 1, 2, 3], [1, 2, 3, 0]]),
              y=np.array([0, 1, 0, 1, 2]), num_nodes=5, pos=rng.random((5, 2)),
              node_year=np.arange(5), name=np.array("toy"))
    h = load_on_disk(save_on_disk(g, tmp_path / "g"))
    assert h.x.shape == (5,) and h.x.dtype == g.x.dtype  # a 1-D integer x stays so
    np.testing.assert_array_equal(h.pos, g.pos)
    np.testing.assert_array_equal(h.node_year, np.arange(5))
    assert str(h.name) == "toy"


def test_unstorable_attribute_is_refused_by_name(tmp_path):
    g = Graph(x=np.ones((2, 1), np.float32), edge_index=np.array([[0], [1]]), meta={"a": 1})
    with pytest.raises(TypeError, match="cannot store attribute `meta` of type dict"):
        save_on_disk(g, tmp_path / "g")
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_a_batch_round_trips(tmp_path):
    graphs = [Graph(x=np.ones((n, 2), np.float32), edge_index=np.array([[0], [1]]),
                    y=np.array([n % 2]), num_nodes=n) for n in (2, 3, 4)]
    b = Graph.batch(graphs)
    h = load_on_disk(save_on_disk(b, tmp_path / "b"))
    np.testing.assert_array_equal(np.asarray(h.batch.numpy()), b.batch.numpy())
    np.testing.assert_array_equal(np.asarray(h.ptr), np.asarray(
        b.ptr.numpy() if hasattr(b.ptr, "numpy") else b.ptr))
    assert h.num_graphs == 3 and [g.num_nodes for g in h.unbatch()] == [2, 3, 4]


@pytest.mark.parametrize("text, match", [
    ("{not json", r"meta\.json is not valid JSON"),
    ("[1, 2]", r"meta\.json to be an object with a list of array names"),
    ('{"version": 1}', r"meta\.json to be an object with a list of array names"),
    ('{"version": "2", "arrays": ["indptr", "indices"]}', r'integer "version" in .*meta\.json'),
])
def test_corrupt_metadata_names_the_file(tmp_path, text, match):
    p = five(tmp_path)
    (p / "meta.json").write_text(text)
    with pytest.raises(ValueError, match=match):
        load_on_disk(p)


@pytest.mark.parametrize("name, keep", [("x", 60), ("x", 140), ("indices", 130)])
def test_truncated_arrays_name_the_file(tmp_path, name, keep):
    p = five(tmp_path)
    data = (p / f"{name}.npy").read_bytes()
    (p / f"{name}.npy").write_bytes(data[:keep])
    with pytest.raises(ValueError, match=rf"{name}\.npy is not a readable \.npy array"):
        load_on_disk(p)
    shutil.rmtree(p)


def test_missing_listed_array_is_named(tmp_path):
    p = five(tmp_path)
    meta = json.loads((p / "meta.json").read_text())
    (p / "meta.json").write_text(json.dumps({**meta, "arrays": meta["arrays"] + ["pos"]}))
    with pytest.raises(ValueError, match=r"lists pos\.npy but .*pos\.npy is missing"):
        load_on_disk(p)


@pytest.mark.parametrize("call, error, match", [
    (lambda p: save_on_disk(Graph(num_nodes=1), 5), TypeError, r"save_on_disk: expected `folder`"),
    (lambda p: load_on_disk(5), TypeError, r"load_on_disk: expected `folder`"),
    (lambda p: save_on_disk(Graph(num_nodes=1), p, chunk_rows=0), ValueError,
     r"`chunk_rows` >= 1 \(got 0\)"),
    (lambda p: save_on_disk(Graph(num_nodes=1), p, chunk_rows=2.0), TypeError,
     r"int `chunk_rows` >= 1 \(got float"),
])
def test_argument_errors_are_named(tmp_path, call, error, match):
    with pytest.raises(error, match=match):
        call(tmp_path / "g")
