"""TUDataset called in PyG's argument order, TUDataset(root, name): refused up front with the two
orders spelled out (it was a garbled FileNotFoundError from a download into MUTAG/TU/<root>)
when the root is a known TU name and the name is not, or when the name is a path; nothing on
disk decides it. Every TU name, and a root given as a plain folder name, keeps working."""

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
@pytest.mark.parametrize("tu_name", ["MUTAG", "proteins"])
def test_pyg_order_with_a_known_name_is_a_type_error_naming_both_orders(tmp_path, tu_name,
                                                                         root_type):
    with pytest.raises(TypeError, match=r"^TUDataset: the arguments look swapped: "
                       r"sparsegraph's order is TUDataset\(name, root\), PyG's is "
                       r"TUDataset\(root, name\)"):
        TUDataset(root_type(tmp_path), tu_name, download=False, cache_dir=tmp_path / "c")
    assert not (tmp_path / "TU").exists()  # nothing was downloaded or created


@pytest.mark.parametrize("download", [False, True])
def test_pyg_order_with_a_plain_relative_root_is_refused_before_anything_is_created(
        tmp_path, monkeypatch, download):
    # PyG's most common call, TUDataset("data", "MUTAG"): "data" is no path-like string and
    # no folder yet; it was read as an unknown TU name (a download of data.zip into MUTAG/)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", "http://127.0.0.1:9")  # never reached
    with pytest.raises(TypeError, match=r"look swapped: .*\(got name='data', root='mutag'\); "
                                        r"call TUDataset\('mutag', root='data'\)"):
        TUDataset("data", "mutag", download=download, cache_dir=tmp_path / "c")
    assert list(tmp_path.iterdir()) == []


def test_pyg_order_with_any_tu_name_and_a_path_root_is_refused_naming_both_orders(tmp_path):
    _write_toy(tmp_path)  # the folder exists: not what decides (nothing on disk is read)
    with pytest.raises(ValueError, match=r"got the path .*\); sparsegraph's order is "
                                         r"TUDataset\(name, root\), PyG's is "
                                         r"TUDataset\(root, name\)"):
        TUDataset(str(tmp_path), "TOY", download=False, cache_dir=tmp_path / "c")


def test_two_known_names_are_a_name_and_a_root_folder(tmp_path, monkeypatch):
    from sparsegraph.datasets import DatasetUnavailable

    monkeypatch.chdir(tmp_path)  # a root folder that happens to be called as a TU name
    with pytest.raises(DatasetUnavailable, match=r"missing MUTAG_A.txt.* in PROTEINS/TU/MUTAG"):
        TUDataset("MUTAG", "PROTEINS", download=False, cache_dir=tmp_path / "c")


def test_a_path_as_the_name_is_refused_naming_the_order(tmp_path):
    with pytest.raises(ValueError, match=r"^TUDataset: expected a TU dataset name such as "
                       r"'MUTAG' as `name`, the first argument \(got the path .*\); "
                       r"sparsegraph's order is TUDataset\(name, root\)"):
        TUDataset(str(tmp_path / "data"), "SOME-NEW-NAME", download=False)
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
