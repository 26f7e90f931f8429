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


TINY = (300, 1200, 4, 3)


def _tiny(monkeypatch):
    monkeypatch.setitem(synthetic.PRESETS, "tiny", TINY)


def _first_use(root, errors):
    """A process asking for a preset nobody has generated yet (as a benchmark job does)."""
    try:
        for _ in range(3):
            g = synthetic.to_graph(synthetic.load_synthetic("tiny", root=root))
            assert g.num_nodes == TINY[0] and g.num_edges == TINY[1]
    except Exception as exc:  # reported to the parent
        errors.put(f"{type(exc).__name__}: {exc}")


def _save_again(folder, errors):
    try:
        for i in range(30):
            synthetic.save({"a": np.arange(1000), "b": np.full(5000, i)}, folder)
    except Exception as exc:
        errors.put(f"{type(exc).__name__}: {exc}")


def _run_processes(target, args_list):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # inherits the monkeypatched preset table
    errors = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, errors)) for args in args_list]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert [p.exitcode for p in procs] == [0] * len(procs)
    return found


def test_concurrent_first_use_of_a_preset_and_concurrent_saves(tmp_path, monkeypatch):
    _tiny(monkeypatch)
    for round_ in range(4):
        root = tmp_path / f"r{round_}"
        assert _run_processes(_first_use, [(root,)] * 4) == []
        assert [p.name for p in (root / "synthetic").iterdir()] == ["tiny-seed0-v2"]
    folder = tmp_path / "s" / "x"
    assert _run_processes(_save_again, [(folder,)] * 4) == []  # was: Directory not empty
    assert synthetic.load_arrays(folder)["a"].tolist() == list(range(1000))
    assert [p.name for p in folder.parent.iterdir()] == ["x"]  # no temp folders left


@pytest.mark.parametrize("damage", ["truncate", "remove", "bad meta", "empty meta"])
def test_a_damaged_preset_cache_is_generated_again(tmp_path, monkeypatch, damage):
    _tiny(monkeypatch)
    fresh = synthetic.load_synthetic("tiny", root=tmp_path, mmap=False)
    folder = tmp_path / "synthetic" / "tiny-seed0-v2"
    x = folder / "x.npy"
    if damage == "truncate":
        x.write_bytes(x.read_bytes()[: x.stat().st_size // 2])
    elif damage == "remove":
        x.unlink()
    else:
        (folder / "meta.json").write_text("{bad" if damage == "bad meta" else "")
    again = synthetic.load_synthetic("tiny", root=tmp_path)
    for k in fresh:
        np.testing.assert_array_equal(again[k], fresh[k])
    assert [p.name for p in (tmp_path / "synthetic").iterdir()] == ["tiny-seed0-v2"]


def test_a_preset_cache_folder_holding_other_files_is_refused_by_name(tmp_path, monkeypatch):
    _tiny(monkeypatch)
    folder = tmp_path / "synthetic" / "tiny-seed0-v2"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"tiny-seed0-v2 exists and is not a saved graph.*"
                                         r"remove it or choose another folder"):
        synthetic.load_synthetic("tiny", root=tmp_path)
    assert (folder / "notes.txt").read_text() == "mine"


def test_a_save_moved_aside_goes_back_when_the_folder_frees_again(tmp_path, monkeypatch):
    """The interleaving behind a leftover `.x.old.*`: putting the earlier save back fails
    because another process's copy is there, which a third process then moves aside: the
    next attempt puts it back instead of leaving it in the temp folder for good."""
    import errno
    import os

    from sparsegraph.datasets import store

    folder, old = tmp_path / "x", tmp_path / ".x.old.1"
    (old / "saved").mkdir(parents=True)
    (old / "saved" / "meta.json").write_text("{}")
    real, calls = os.replace, []

    def taken_once(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            raise OSError(errno.ENOTEMPTY, "taken", str(dst))
        return real(src, dst)

    monkeypatch.setattr(store.os, "replace", taken_once)
    store._restore(old, folder)
    assert (folder / "meta.json").read_text() == "{}" and not old.exists()
