"""PyG >= 2.4's dataset arguments: force_reload= (parse the raw files again), TUDataset's
transform / pre_transform / pre_filter in PyG's positions, cleaned= named, and a misspelt name
in PyG's (root, name) order blamed on the name, not on the root."""

import pytest

from sparsegraph import transforms as T
from sparsegraph.datasets import Planetoid, TUDataset
from sparsegraph.datasets.planetoid import Planetoid as PlanetoidClass
from sparsegraph.datasets.tu import TUDataset as TUClass


@pytest.mark.parametrize("make, cls", [
    (lambda root, cache, **kw: Planetoid(root, "Cora", cache_dir=cache, **kw), PlanetoidClass),
    (lambda root, cache, **kw: TUDataset(root, "MUTAG", cache_dir=cache, **kw), TUClass),
])
def test_force_reload_parses_the_raw_files_again(data_root, tmp_path, monkeypatch, make, cls):
    calls = []
    parse = cls.parse
    monkeypatch.setattr(cls, "parse", lambda self: calls.append(1) or parse(self))
    first = make(data_root, tmp_path)
    make(data_root, tmp_path)  # from the cache
    assert len(calls) == 1
    again = make(data_root, tmp_path, force_reload=True)
    assert len(calls) == 2 and len(again) == len(first)
    with pytest.raises(TypeError, match=r"expected .*`force_reload`"):
        make(data_root, tmp_path, force_reload="yes")


def test_tudataset_takes_pygs_positional_transforms(data_root, tmp_path):
    keep_small = lambda g: g.num_nodes < 15  # noqa: E731
    ds = TUDataset(data_root, "MUTAG", T.Constant(), None, keep_small, cache_dir=tmp_path)
    assert 0 < len(ds) < 188 and all(g.num_nodes < 15 for g in ds)
    assert ds[0].x.shape[1] == 8  # MUTAG's 7 one-hot labels and the constant


def test_tudataset_names_cleaned(data_root):
    with pytest.raises(ValueError, match=r"^TUDataset: cleaned=True .* not available"):
        TUDataset(data_root, "MUTAG", cleaned=True)


def test_planetoid_in_pygs_order_blames_a_misspelt_name(data_root):
    with pytest.raises(ValueError, match=r"^Planetoid: unknown name 'Kora'"):
        Planetoid(str(data_root), "Kora")
    with pytest.raises(ValueError, match=r"^Planetoid: expected a dataset name as `name`.*"
                                         r"got the path"):
        Planetoid(str(data_root))


def test_tudataset_storage_is_pygs_collated_graph(data_root, tmp_path):
    ds = TUDataset(data_root, "MUTAG", cache_dir=tmp_path)
    storage = ds._data  # PyG's examples: int(dataset._data.x.size(0) / len(dataset))
    assert storage.num_nodes == sum(g.num_nodes for g in ds) == 3371
    assert storage.y.tolist() == [int(g.y) for g in ds]
    assert ds[:10]._data is storage  # a subset keeps the whole storage, as PyG's
    with pytest.warns(UserWarning, match="not recommended to directly access"):
        assert ds.data is storage
