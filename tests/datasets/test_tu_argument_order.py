"""TUDataset called in PyG's argument order, TUDataset(root, name): refused up front with the two
orders spelled out (it was a garbled FileNotFoundError from a download into MUTAG/TU/<root>),
while every TU name, and a root given as a plain folder name, keeps working."""

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


def test_pyg_order_with_any_tu_name_whose_folder_exists_is_refused(tmp_path, monkeypatch):
    _write_toy(tmp_path)
    with pytest.raises(TypeError, match=r"call TUDataset\('TOY', root="):
        TUDataset(str(tmp_path), "TOY", download=False, cache_dir=tmp_path / "c")
    monkeypatch.chdir(tmp_path.parent)  # a relative root without a separator: "tmpdir"
    with pytest.raises(TypeError, match="look swapped"):
        TUDataset(tmp_path.name, "TOY", download=False, cache_dir=tmp_path / "c")


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
