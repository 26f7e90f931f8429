"""Graphs on disk: round trip, memory mapping, atomic replacement, and training from a memmap
that matches the in-memory run exactly."""

import json
import mmap

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
from sparsegraph.datasets import load_on_disk, ondisk, save_on_disk, synthetic
from sparsegraph.gnn import NeighborLoader, models, train_minibatch
from sparsegraph.graph import Graph
from sparsegraph.testing import random_graph


def small_graph():
    return synthetic.to_graph(synthetic.generate(500, 4000, 8, 3, seed=1, noise=2.0))


def is_memory_mapped(array) -> bool:
    """True when ``array``'s memory belongs to a file mapping (an np.memmap or a view of one)."""
    while array is not None:
        if isinstance(array, np.memmap | mmap.mmap):
            return True
        array = getattr(array, "base", None)
    return False


def test_round_trip_memory_mapped(tmp_path):
    g = small_graph()
    save_on_disk(g, tmp_path / "g")
    h = load_on_disk(tmp_path / "g")
    assert h.num_nodes == g.num_nodes and h.num_edges == g.num_edges
    for name in ("indptr", "indices"):
        np.testing.assert_array_equal(getattr(h.adj.structure, name),
                                      getattr(g.adj.structure, name))
    assert is_memory_mapped(h.adj.structure.indices)
    for name in ("x", "y", "train_mask", "val_mask", "test_mask"):
        a = getattr(h, name).array
        assert is_memory_mapped(a), name
        np.testing.assert_array_equal(a, getattr(g, name).numpy())
    assert h.x.dtype == np.float32
    assert not (tmp_path / "g" / "values.npy").exists()  # unit weights are not stored
    ram = load_on_disk(tmp_path / "g", mmap=False)
    assert not is_memory_mapped(ram.x.array)
    np.testing.assert_array_equal(ram.x.numpy(), g.x.numpy())


def test_weights_and_sparse_features_survive(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    x[x < 0.5] = 0
    ei = random_graph(40, 100, seed=2)
    w = rng.random(100).astype(np.float32)
    g = Graph(x=sg.tensor(x).to_sparse(), edge_index=ei, edge_weight=w)
    save_on_disk(g, tmp_path / "g", chunk_rows=7)  # several feature chunks
    h = load_on_disk(tmp_path / "g")
    np.testing.assert_array_equal(h.x.numpy(), x)  # stored densified
    np.testing.assert_array_equal(h.adj.values.numpy(), g.adj.values.numpy())
    assert h.y is None and h.train_mask is None


def test_save_replaces_atomically_and_leaves_no_temp_files(tmp_path, monkeypatch):
    a, b = small_graph(), synthetic.to_graph(synthetic.generate(50, 200, 8, 3, seed=2))
    save_on_disk(a, tmp_path / "g")
    save_on_disk(b, tmp_path / "g")
    assert load_on_disk(tmp_path / "g").num_nodes == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(ondisk, "_write_features", fail)
    with pytest.raises(OSError, match="disk full"):
        save_on_disk(a, tmp_path / "g")
    assert load_on_disk(tmp_path / "g").num_nodes == 50  # the old graph is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no meta.json in .*save_on_disk"):
        load_on_disk(tmp_path / "nothing")
    save_on_disk(small_graph(), tmp_path / "g")
    np.save(tmp_path / "g" / "indptr.npy", np.array([0, 5, 3]))
    with pytest.raises(ValueError, match="says 500 nodes but indptr.npy has 3 entries"):
        load_on_disk(tmp_path / "g")
    meta = json.loads((tmp_path / "g" / "meta.json").read_text())
    (tmp_path / "g" / "meta.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(ValueError, match="format version 99"):
        load_on_disk(tmp_path / "g")
    with pytest.raises(TypeError, match="expected a Graph"):
        save_on_disk(small_graph().adj, tmp_path / "h")


def test_synthetic_preset_folders_load(tmp_path):
    folder = synthetic.save(synthetic.generate(60, 300, 4, 2, seed=0), tmp_path / "s")
    g = load_on_disk(folder)
    assert g.num_nodes == 60 and g.num_edges == 300 and is_memory_mapped(g.x.array)


def test_loader_reads_batches_from_the_memmap(tmp_path):
    save_on_disk(small_graph(), tmp_path / "g")
    g = load_on_disk(tmp_path / "g")
    batch = next(iter(NeighborLoader(g, [5, 5], 32, seed=0)))
    assert not is_memory_mapped(batch.x.array)  # gathered rows: an in-memory copy
    np.testing.assert_array_equal(batch.x.numpy(), np.asarray(g.x.array)[batch.n_id])


def test_training_from_disk_matches_training_in_memory(tmp_path):
    g = small_graph()
    save_on_disk(g, tmp_path / "g")
    on_disk = load_on_disk(tmp_path / "g")
    runs = []
    for graph in (g, on_disk):
        model = models.GraphSAGE(8, 16, 2, 3)
        res = train_minibatch(model, graph, [5, 3], batch_size=8, epochs=2, seed=4)
        runs.append((res, [p.detach().numpy() for p in model.parameters()]))
    (mem, p_mem), (disk, p_disk) = runs
    assert len(mem["batch_losses"]) > 10
    assert mem["batch_losses"] == disk["batch_losses"]
    assert mem["test_acc"] == disk["test_acc"]
    for a, b in zip(p_mem, p_disk, strict=True):
        np.testing.assert_array_equal(a, b)


def test_edge_features_survive_in_edge_order(tmp_path):
    ei = np.array([[0, 2, 1, 1], [1, 1, 0, 2]])  # not in CSR order
    attr = np.random.default_rng(0).random((4, 3)).astype(np.float32)
    kind = np.array([7, 8, 9, 10])
    g = Graph(x=np.ones((3, 2)), edge_index=ei, edge_attr=attr, edge_kind=kind)
    back = load_on_disk(save_on_disk(g, tmp_path / "g"))
    np.testing.assert_array_equal(np.asarray(back.edge_index), np.asarray(g.edge_index))
    np.testing.assert_array_equal(back.edge_attr.numpy(), g.edge_attr.numpy())
    np.testing.assert_array_equal(back.edge_kind.numpy(), g.edge_kind.numpy())
    # and each row still belongs to its edge: edge (2 -> 1) had attr row 1 and kind 8
    pos = {(int(s), int(d)): k for k, (s, d) in enumerate(np.asarray(back.edge_index).T)}
    np.testing.assert_array_equal(back.edge_attr.numpy()[pos[(2, 1)]], attr[1])
    assert int(back.edge_kind.numpy()[pos[(2, 1)]]) == 8


def test_written_files_and_folders_get_the_modes_of_plain_files(tmp_path):
    import os
    import stat

    from sparsegraph.datasets import root
    from sparsegraph.datasets.download import write_atomic

    want_file, want_dir = 0o666 & ~root._UMASK, 0o777 & ~root._UMASK
    write_atomic(tmp_path / "results.json", b"{}")  # bench results, train --json
    assert stat.S_IMODE(os.stat(tmp_path / "results.json").st_mode) == want_file
    g = Graph(x=np.ones((3, 2), np.float32), edge_index=[[0, 1], [1, 2]])
    folder = save_on_disk(g, tmp_path / "g")
    assert stat.S_IMODE(os.stat(folder).st_mode) == want_dir  # mkdtemp's 0700 would hide it
    synthetic.save({"a": np.zeros(2)}, tmp_path / "s")
    assert stat.S_IMODE(os.stat(tmp_path / "s").st_mode) == want_dir


def test_save_refuses_a_folder_or_file_it_did_not_write(tmp_path):
    g = Graph(edge_index=np.array([[0, 1], [1, 0]]), num_nodes=2)
    project = tmp_path / "project"
    project.mkdir()
    (project / "thesis.tex").write_text("years of work")
    notes = tmp_path / "notes.txt"
    notes.write_text("important")
    cases = [(lambda f: save_on_disk(g, f), "save_on_disk"),
             (lambda f: synthetic.save({"a": np.zeros(2)}, f), "synthetic.save")]
    for save, op in cases:
        for folder in (project, notes):
            with pytest.raises(ValueError, match=rf"{op}: .*{folder.name} exists and is not a "
                                                 r"saved graph .*remove it or choose another"):
                save(folder)
    assert (project / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in project.iterdir()) == ["thesis.tex"]
    assert notes.read_text() == "important"
    # a saved folder the user added a file to is not replaced either
    save_on_disk(g, tmp_path / "g")
    (tmp_path / "g" / "README").write_text("mine")
    with pytest.raises(ValueError, match="not a saved graph"):
        save_on_disk(g, tmp_path / "g")
    assert (tmp_path / "g" / "README").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g", "notes.txt", "project"]


def test_save_replaces_empty_folders_and_earlier_saves_of_either_kind(tmp_path):
    g = Graph(x=np.ones((3, 2), np.float32), edge_index=[[0, 1], [1, 2]])
    (tmp_path / "empty").mkdir()
    assert load_on_disk(save_on_disk(g, tmp_path / "empty")).num_nodes == 3
    folder = synthetic.save(synthetic.generate(20, 40, 2, 2, seed=0), tmp_path / "s")
    assert load_on_disk(save_on_disk(g, folder)).num_nodes == 3  # a preset folder is a graph
    synthetic.save({"a": np.arange(3)}, folder)  # and back
    assert synthetic.load_arrays(folder)["a"].tolist() == [0, 1, 2]
    legacy = tmp_path / "legacy"  # synthetic.save before meta.json had a format marker
    legacy.mkdir()
    np.save(legacy / "a.npy", np.zeros(2))
    (legacy / "meta.json").write_text(json.dumps({"arrays": ["a"]}))
    synthetic.save({"b": np.ones(2)}, legacy)
    assert sorted(p.name for p in legacy.iterdir()) == ["b.npy", "meta.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "legacy", "s"]


def test_float64_features_come_back_float64_memory_mapped_and_train_the_same(tmp_path):
    rng = np.random.default_rng(0)
    n = 50
    train = np.zeros(n, bool)
    train[:30] = True
    ei = np.unique(rng.integers(0, n, (2, 200)), axis=1)
    g = Graph(x=sg.tensor(rng.standard_normal((n, 4))),  # a float64 Tensor stays float64
              edge_index=ei, num_nodes=n, y=rng.integers(0, 3, n), train_mask=train,
              val_mask=~train, edge_w=sg.tensor(rng.random(ei.shape[1])))
    assert g.x.dtype == np.float64
    h = load_on_disk(save_on_disk(g, tmp_path / "g"))
    assert h.x.dtype == np.float64 and is_memory_mapped(h.x.array)
    assert h.edge_w.dtype == np.float64
    np.testing.assert_array_equal(h.x.numpy(), g.x.numpy())
    runs = []
    for graph in (g, h):
        sg.manual_seed(0)
        model = models.GraphSAGE(4, 8, 2, 3).double()
        runs.append(train_minibatch(model, graph, [3, 2], batch_size=8, epochs=1, seed=0))
    assert runs[0]["batch_losses"] == runs[1]["batch_losses"]
    # a Graph built from a float64 numpy array still gets the float32 default
    assert Graph(x=np.ones((2, 2))).x.dtype == np.float32


def test_tensor_attributes_come_back_as_tensors_on_the_map(tmp_path):
    one = Graph.from_scipy(sp.eye(3, format="csr", dtype=np.float32))
    g = Graph.batch([one, one])
    g.node_score = sg.tensor(np.arange(6, dtype=np.float64))  # float64 stays float64
    g.graph_size = sg.tensor(np.array([3, 3], dtype=np.int32))
    g.node_year = np.arange(6, dtype=np.int16)  # a numpy array stays a numpy array
    assert isinstance(g.ptr, sg.Tensor)
    h = load_on_disk(save_on_disk(g, tmp_path / "b"))
    for name in ("batch", "ptr", "node_score", "graph_size"):
        before, after = getattr(g, name), getattr(h, name)
        assert isinstance(after, sg.Tensor), name
        assert after.dtype == before.dtype, name
        assert is_memory_mapped(after.array), name
        np.testing.assert_array_equal(after.numpy(), before.numpy())
    assert type(h.node_year) is np.memmap and h.node_year.dtype == np.int16
    assert [k.num_nodes for k in h.unbatch()] == [3, 3]


def test_a_save_without_the_tensor_record_loads_as_before(tmp_path):
    g = Graph.batch([Graph(x=np.ones((2, 1), np.float32), edge_index=np.array([[0], [1]]))] * 2)
    folder = save_on_disk(g, tmp_path / "old")
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["tensors"] == ["batch", "ptr"]
    del meta["tensors"]  # as written before the record existed
    (folder / "meta.json").write_text(json.dumps(meta))
    h = load_on_disk(folder)
    assert isinstance(h.batch, sg.Tensor) and type(h.ptr) is np.memmap
    (folder / "meta.json").write_text(json.dumps({**meta, "tensors": "ptr"}))
    with pytest.raises(ValueError, match=r'list of attribute names under "tensors"'):
        load_on_disk(folder)
