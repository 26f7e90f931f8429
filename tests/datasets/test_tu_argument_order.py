"""TUDataset called in PyG's argument order, TUDataset(root, name): read as that order when the
root is a known TU name and the name is not, or when the name is a path and the root is not
(it was a garbled FileNotFoundError from a download into MUTAG/TU/<root>); nothing on disk
decides it. Every TU name, and a root given as a plain folder name, keeps working."""

import pathlib

import pytest

from sparsegraph.datasets import TUDataset


def _write_toy(root: pathlib.Path, name: str = "TOY") -> None:
    folder = root / "TU" / name
    folder.mkdir(parents=True)
    (folder / f"{name}_A.txt").write_text("1, 2\n2, 1\n3, 4\n4, 3\n")
    (folder / f"{name}_graph_indicator.txt").write_text("1\n1\n2\n2\n")
    (folder / f"{name}_graph_labels.txt").write_text("5\n-1\n")


@pytest.mark.parametrize("root_type", [str, pathlib.Path])
def test_pygs_order_with_a_known_name_loads_it(data_root, tmp_path, root_type):
    # PyG's call TUDataset(root, name): the root is no TU name, the name is one
    ds = TUDataset(root_type(data_root), "mutag", download=False, cache_dir=tmp_path / "c")
    ours = TUDataset("MUTAG", root=data_root, download=False, cache_dir=tmp_path / "c")
    assert ds.name == "MUTAG" and len(ds) == len(ours) == 188
    assert [g.num_nodes for g in ds] == [g.num_nodes for g in ours]


def test_pygs_order_with_a_plain_relative_root_reads_that_folder(data_root, tmp_path,
                                                                   monkeypatch):
    # PyG's most common call, TUDataset("data", "MUTAG"), with "data" a plain folder name
    monkeypatch.chdir(data_root.parent)
    ds = TUDataset(data_root.name, "MUTAG", download=False, cache_dir=tmp_path / "c")
    assert len(ds) == 188 and ds.root.resolve() == data_root.resolve()


def test_pygs_order_with_any_tu_name_and_a_path_root_loads_it(tmp_path):
    _write_toy(tmp_path)
    ds = TUDataset(str(tmp_path), "TOY", download=False, cache_dir=tmp_path / "c")
    assert ds.name == "TOY" and len(ds) == 2
    assert [int(g.y) for g in ds] == [int(g.y) for g in TUDataset(
        "TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")]


def test_two_known_names_are_a_name_and_a_root_folder(tmp_path, monkeypatch):
    from sparsegraph.datasets import DatasetUnavailable

    monkeypatch.chdir(tmp_path)  # a root folder that happens to be called as a TU name
    with pytest.raises(DatasetUnavailable, match=r"missing MUTAG_A.txt.* in PROTEINS/TU/MUTAG"):
        TUDataset("MUTAG", "PROTEINS", download=False, cache_dir=tmp_path / "c")


def test_a_path_as_the_name_is_refused_naming_the_order(tmp_path):
    with pytest.raises(ValueError, match=r"^TUDataset: expected a TU dataset name such as "
                       r"'MUTAG' as `name`, the first argument \(got the path .*\); "
                       r"sparsegraph's order is TUDataset\(name, root\)"):
        TUDataset(str(tmp_path / "data"), "./other", download=False)  # two paths
    with pytest.raises(ValueError, match="got the path"):
        TUDataset("./data", download=False)


def test_tu_names_in_sparsegraphs_order_still_load(tmp_path, monkeypatch):
    _write_toy(tmp_path)
    assert len(TUDataset("TOY", str(tmp_path), download=False, cache_dir=tmp_path / "c")) == 2
    _write_toy(tmp_path, "REDDIT-BINARY_x")  # TU names carry '-' and '_', never a separator
    ds = TUDataset("REDDIT-BINARY_x", root=tmp_path, download=False, cache_dir=tmp_path / "c")
    assert len(ds) == 2
    monkeypatch.chdir(tmp_path)  # a root that is a plain folder name
    (tmp_path / "data").mkdir()
    _write_toy(tmp_path / "data")
    assert len(TUDataset("TOY", "data", download=False, cache_dir=tmp_path / "c")) == 2
