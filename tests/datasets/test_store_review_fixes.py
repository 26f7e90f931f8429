"""Review fixes: an install whose final rename fails keeps the earlier save (A1); G.graph
entries under names Graph treats specially are renamed, never set past its checks (A2); both
savers write through `store.writing` (C3); preset specs come from generate's dtype table (D4)."""

import errno
import os

import networkx as nx
import numpy as np
import pytest

from sparsegraph.datasets import from_networkx, load_on_disk, save_on_disk, store, synthetic
from sparsegraph.tensor import Tensor


def small_arrays(seed=1):
    return synthetic.generate(60, 200, 4, 3, seed=seed)


def failing_final_rename(monkeypatch, exc):
    """os.replace fails when a temp folder is renamed to the destination (the final step)."""
    real = os.replace

    def replace(src, dst):
        if os.path.basename(str(src)).startswith(".") and ".old." not in str(src):
            raise exc
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("exc", [PermissionError(errno.EACCES, "denied"),
                                 OSError(errno.ENOSPC, "no space"),
                                 OSError(errno.EXDEV, "cross-device")])
@pytest.mark.parametrize("saver", ["synthetic", "ondisk"])
def test_failed_final_rename_keeps_the_earlier_save(tmp_path, monkeypatch, exc, saver):
    folder = tmp_path / "save"
    first = small_arrays(1)
    if saver == "synthetic":
        synthetic.save(first, folder)
    else:
        save_on_disk(synthetic.to_graph(first), folder)
    before = sorted(p.name for p in folder.iterdir())
    failing_final_rename(monkeypatch, exc)
    with pytest.raises(type(exc)):
        if saver == "synthetic":
            synthetic.save(small_arrays(2), folder)
        else:
            save_on_disk(synthetic.to_graph(small_arrays(2)), folder)
    monkeypatch.undo()
    assert sorted(p.name for p in folder.iterdir()) == before
    if saver == "synthetic":
        back = synthetic.load_arrays(folder, mmap=False)
        for k, a in first.items():
            np.testing.assert_array_equal(back[k], a)
    else:
        np.testing.assert_array_equal(np.asarray(load_on_disk(folder).y), first["y"])
    assert [p.name for p in tmp_path.iterdir()] == ["save"]  # no temp or .old folder left


def test_a_concurrent_install_still_drops_the_stale_save(tmp_path, monkeypatch):
    """ENOTEMPTY on the final rename (another process's copy landed): the retry installs."""
    folder = tmp_path / "save"
    synthetic.save(small_arrays(1), folder)
    real, calls = os.replace, []

    def replace(src, dst):
        if ".old." not in str(src) and not calls:
            calls.append(src)
            raise OSError(errno.ENOTEMPTY, "not empty")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    synthetic.save(small_arrays(2), folder)
    monkeypatch.undo()
    np.testing.assert_array_equal(synthetic.load_arrays(folder)["y"], small_arrays(2)["y"])
    assert [p.name for p in tmp_path.iterdir()] == ["save"]


def test_writing_installs_only_on_a_clean_exit(tmp_path):
    folder = tmp_path / "w"
    with pytest.raises(RuntimeError), store.writing("op", folder) as (tmp, path):
        assert path == folder and tmp.parent == tmp_path
        (tmp / "meta.json").write_text("{}")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with store.writing("op", str(folder)) as (tmp, path):
        (tmp / "a.npy").write_bytes(b"")
    assert [p.name for p in folder.iterdir()] == ["a.npy"]


def test_both_savers_write_through_store_writing(tmp_path, monkeypatch):
    used = []
    real = store.writing

    def spy(op, folder, **kw):
        used.append(op)
        return real(op, folder, **kw)

    monkeypatch.setattr(store, "writing", spy)
    synthetic.save(small_arrays(), tmp_path / "a")
    save_on_disk(synthetic.to_graph(small_arrays()), tmp_path / "b")
    assert used == ["synthetic.save", "save_on_disk"]


@pytest.mark.parametrize("key,value", [("x", [1.0, 2.0]), ("train_mask", [1, 0]),
                                       ("val_mask", [1, 0]), ("batch", [0, 0]),
                                       ("ptr", [0, 4]), ("pos", [[0.0, 1.0]]),
                                       ("edge_w", [1.0]), ("num_edges", 3),
                                       ("edge_index", [[0], [1]])])
def test_graph_level_entries_never_take_a_field_name(key, value):
    G = nx.path_graph(4)
    G.graph[key] = value
    g = from_networkx(G)
    # a *_mask name would still be read as a node mask with the prefix: a suffix too
    name = f"graph_{key}_value" if key.endswith("_mask") else f"graph_{key}"
    assert isinstance(getattr(g, name), Tensor)
    if key in ("x", "train_mask", "val_mask", "batch", "ptr", "pos"):
        assert getattr(g, key, None) is None
    assert g.num_edges == 6 and g.edge_index.shape == (2, 6)


def test_graph_label_y_and_plain_names_are_kept():
    G = nx.path_graph(4)
    G.graph.update(y=[1], name="path", weight_sum=3.0)
    g = from_networkx(G)
    assert np.asarray(g.y).tolist() == [1]
    assert g.name == "path" and float(np.asarray(g.weight_sum)) == 3.0


def test_preset_spec_matches_what_generate_returns(monkeypatch):
    arrays = synthetic.generate(50, 120, 5, 3)
    monkeypatch.setitem(synthetic.PRESETS, "tiny", (50, 120, 5, 3))
    assert synthetic._preset_spec("tiny") == synthetic._spec(arrays)
    dtypes = synthetic.array_dtypes(50)
    assert {k: a.dtype for k, a in arrays.items()} == dtypes


def test_preset_spec_follows_the_dtype_table(monkeypatch):
    """A change to the one table moves both generate and the cache check (no drift)."""
    real = synthetic.array_dtypes
    monkeypatch.setattr(synthetic, "array_dtypes",
                        lambda n: {**real(n), "indices": np.dtype(np.int64)})
    monkeypatch.setitem(synthetic.PRESETS, "tiny", (50, 120, 5, 3))
    arrays = synthetic.generate(50, 120, 5, 3)
    assert arrays["indices"].dtype == np.int64
    assert synthetic._preset_spec("tiny") == synthetic._spec(arrays)
