"""TU cache keys, TU table checks, read-only roots, bool options and GraphLoader arguments."""

import errno
import pathlib
import shutil

import numpy as np
import pytest

from sparsegraph.datasets import (
    DatasetUnavailable,
    GraphLoader,
    NpzGraph,
    Planetoid,
    TUDataset,
    load_for_training,
)
from sparsegraph.graph import Graph


def toy(root, **files):
    d = root / "TU" / "TOY"
    d.mkdir(parents=True, exist_ok=True)
    base = {"A": "1, 2\n2, 1\n", "graph_indicator": "1\n1\n", "graph_labels": "0\n"}
    for kind, text in {**base, **files}.items():
        (d / f"TOY_{kind}.txt").write_text(text)
    return d


def x_of(ds):
    return np.asarray(ds[0].x.numpy())


def test_optional_tu_files_key_the_cache(tmp_path):
    d = toy(tmp_path)
    kw = dict(root=tmp_path, download=False, cache_dir=tmp_path / "c")
    assert x_of(TUDataset("TOY", **kw)).tolist() == [[1], [1]]
    (d / "TOY_node_labels.txt").write_text("0\n1\n")  # added after the first parse
    assert x_of(TUDataset("TOY", **kw)).tolist() == [[1, 0], [0, 1]]
    (d / "TOY_node_labels.txt").write_text("1\n0\n")  # edited
    assert x_of(TUDataset("TOY", **kw)).tolist() == [[0, 1], [1, 0]]
    (d / "TOY_node_attributes.txt").write_text("0.5, 7\n1.5, 8\n")
    assert x_of(TUDataset("TOY", **kw)).tolist() == [[0, 1, 0.5, 7], [1, 0, 1.5, 8]]


@pytest.mark.parametrize("text, got, line", [("1, 2, 3, 4\n2, 1, 4, 3\n", 4, 1),
                                             ("1\n2\n", 1, 1), ("1, 2\n\n2\n", 1, 3)])
def test_tu_edge_file_needs_two_columns(tmp_path, text, got, line):
    toy(tmp_path, A=text)
    with pytest.raises(ValueError, match=rf"TOY_A\.txt: expected 2 columns per line \(got "
                                         rf"{got} on line {line}\)"):
        TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")


def read_only(monkeypatch, top: pathlib.Path):
    """Refuse creating anything under ``top`` as a read-only mount would (root ignores
    chmod, so the error is injected)."""
    real_mkdir, real_mkstemp = pathlib.Path.mkdir, __import__("tempfile").mkstemp

    def mkdir(self, *a, **k):
        if str(self).startswith(str(top)) and not self.exists():
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *a, **k)

    def mkstemp(*a, dir=None, **k):
        if dir is not None and str(dir).startswith(str(top)):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real_mkstemp(*a, dir=dir, **k)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    monkeypatch.setattr("tempfile.mkstemp", mkstemp)


@pytest.mark.parametrize("make, folder", [
    (lambda r: TUDataset("MUTAG", root=r, cache_dir=r.parent / "c"), "TU/MUTAG"),
    (lambda r: Planetoid("cora", root=r, cache_dir=r.parent / "c"), "planetoid"),
])
def test_read_only_root_names_the_target_folder(tmp_path, monkeypatch, make, folder):
    root = tmp_path / "R"
    root.mkdir()
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", "http://127.0.0.1:9")  # never reached
    read_only(monkeypatch, root)
    with pytest.raises(DatasetUnavailable, match=rf"cannot write the downloaded files to "
                                                 rf"{root / folder} \(Read-only file system\)"):
        make(root)
    assert not any(root.iterdir())


@pytest.mark.parametrize("make, name", [
    (lambda r: NpzGraph("cora_ml", root=r, undirected="no"), "undirected"),
    (lambda r: Planetoid("cora", root=r, download="no"), "download"),
    (lambda r: Planetoid("cora", root=r, normalize_features="yes"), "normalize_features"),
    (lambda r: TUDataset("MUTAG", root=r, download=0), "download"),
    (lambda r: load_for_training("cora", r, download="no"), "download"),
])
def test_bool_options_must_be_bools(tmp_path, make, name):
    with pytest.raises(TypeError, match=rf"expected `{name}` to be True or False \(got "):
        make(tmp_path)
    assert not any(tmp_path.iterdir())  # refused before anything was fetched


def graphs(n=5):
    return [Graph(x=np.ones((2, 1), np.float32), edge_index=np.array([[0], [1]]),
                  y=np.array([i % 2])) for i in range(n)]


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((None, 2), {}, TypeError, r"`graphs` to be a list or dataset of Graphs \(got NoneType\)"),
    ((5, 2), {}, TypeError, r"`graphs` to be a list .*\(got int\)"),
    (("abc", 2), {}, TypeError, r"`graphs` to be a list .*\(got str\)"),
    (([1], 2), {}, TypeError, r"`graphs` to hold Graphs \(got int at position 0\)"),
    ((graphs(), 2), {"shuffle": "yes"}, TypeError, r"`shuffle` to be True or False"),
    ((graphs(), 2), {"seed": "x"}, TypeError, r"an int `seed`"),
    ((graphs(), 2), {"seed": -1}, ValueError, r"seed >= 0 \(got -1\)"),
    ((graphs(), 2), {"drop_last": 1}, TypeError, r"`drop_last` to be True or False"),
])
def test_graph_loader_arguments_are_checked_at_construction(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        GraphLoader(*args, **kwargs)


def test_graph_loader_drop_last():
    loader = GraphLoader(graphs(5), 2, drop_last=True)
    assert len(loader) == 2 and [b.num_graphs for b in loader] == [2, 2]
    assert [b.num_graphs for b in GraphLoader(graphs(5), 2)] == [2, 2, 1]
    assert list(GraphLoader(graphs(1), 2, drop_last=True)) == []


def test_graph_loader_epochs_follow_one_seeded_generator():
    ys = [[int(b.y.numpy()[0]) for b in loader] for loader in
          (GraphLoader(graphs(6), 1, shuffle=True, seed=3) for _ in range(2))]
    assert ys[0] == ys[1]  # same seed, same first epoch
    loader = GraphLoader([g for g in graphs(6)], 6, shuffle=True, seed=3)
    first, second = (np.asarray(next(iter(loader)).y.numpy()).tolist() for _ in range(2))
    assert sorted(first) == sorted(second)  # epochs draw new orders from the same generator
    # the seed lives on in that generator only: no `seed` attribute that nothing reads
    assert not hasattr(loader, "seed") and isinstance(loader.rng, np.random.Generator)


def test_leftover_temp_files_of_a_killed_download_are_removed(tmp_path, monkeypatch):
    import os
    import time

    folder = tmp_path / "R" / "planetoid"
    folder.mkdir(parents=True)
    old = folder / ".ind.cora.x.abc123.part"
    fresh = folder / ".ind.cora.x.def456.part"
    tu_old = tmp_path / "R" / "TU" / ".MUTAG.download.xyz"
    tu_old.mkdir(parents=True)
    for p in (old, fresh):
        p.write_bytes(b"half")
    stamp = time.time() - 3600
    os.utime(old, (stamp, stamp))
    os.utime(tu_old, (stamp, stamp))
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", "http://127.0.0.1:9")
    with pytest.raises(DatasetUnavailable):
        Planetoid("cora", root=tmp_path / "R", cache_dir=tmp_path / "c")
    with pytest.raises(DatasetUnavailable):
        TUDataset("MUTAG", root=tmp_path / "R", cache_dir=tmp_path / "c")
    assert not old.exists() and not tu_old.exists()
    assert fresh.exists()  # maybe another process's download in progress: kept
    shutil.rmtree(tmp_path / "R")


def test_unreadable_raw_file_says_to_delete_it(tmp_path):
    toy(tmp_path, graph_labels="zero\n")
    with pytest.raises(ValueError, match=r"TOY_graph_labels\.txt is not numeric .*delete it to "
                                         "download it again"):
        TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")


@pytest.mark.parametrize("download", [True, False])
def test_a_root_that_is_a_file_is_named(tmp_path, monkeypatch, download):
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", "http://127.0.0.1:9")  # never reached
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=rf"NpzGraph: expected `root` to be a folder, "
                                                 rf"but {afile} is a file"):
        NpzGraph("texas", root=afile, download=download, cache_dir=tmp_path / "c")
    toy(tmp_path / "r")
    (tmp_path / "r" / "TU" / "TOY2").write_text("")  # the dataset's own folder is a file
    with pytest.raises(NotADirectoryError, match=r"TUDataset: expected `root` to be a folder, "
                                                 r"but .*TOY2 is a file"):
        TUDataset("TOY2", root=tmp_path / "r", download=download, cache_dir=tmp_path / "c")
    assert afile.read_text() == "not a folder"


def test_processed_cache_files_get_the_mode_of_plain_files(tmp_path):
    import os
    import stat

    from sparsegraph.datasets import root

    toy(tmp_path)
    TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")
    (cache,) = (tmp_path / "c").iterdir()
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o666 & ~root._UMASK  # mkstemp: 0600


def test_tilde_is_expanded_in_every_root_and_folder(tmp_path, monkeypatch):
    from sparsegraph.datasets import (
        cache_dir,
        data_root,
        load_on_disk,
        save_on_disk,
        synthetic,
    )

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    toy(home / "data")
    ds = TUDataset("TOY", root="~/data", download=False, cache_dir="~/cache")
    assert ds.raw_dir == home / "data" / "TU" / "TOY" and len(ds) == 1
    assert list((home / "cache").iterdir())  # the parse was cached there
    assert data_root("~/d") == home / "d"
    monkeypatch.setenv("SPARSEGRAPH_DATA", "~/data")
    assert data_root() == home / "data" and len(TUDataset("TOY", download=False,
                                                          cache_dir="~/cache")) == 1
    monkeypatch.setenv("XDG_CACHE_HOME", "~/xdg")
    assert cache_dir() == home / "xdg" / "sparsegraph"
    g = Graph(x=np.ones((3, 2), np.float32), edge_index=[[0, 1], [1, 2]])
    assert save_on_disk(g, "~/g") == home / "g" and load_on_disk("~/g").num_nodes == 3
    monkeypatch.setitem(synthetic.PRESETS, "tiny", (40, 80, 2, 2))
    synthetic.load_synthetic("tiny", root="~/syn")
    assert (home / "syn" / "synthetic" / "tiny-seed0-v2" / "meta.json").is_file()
    assert synthetic.save({"a": np.zeros(1)}, "~/arrays") == home / "arrays"
    assert not (tmp_path / "~").exists()  # nothing went to a literal ./~ folder
