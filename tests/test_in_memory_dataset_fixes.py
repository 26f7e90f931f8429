"""`InMemoryDataset` as PyG's: edits of the loaded storage reach the graphs, stored dtypes
round-trip (float64 weights) and promote as ``torch.cat``, file names given by plain methods,
``slices`` of the keys present only, and doctored processed files refused by name."""

import warnings

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import serialization
from sparsegraph.datasets import GraphLoader, InMemoryDataset
from sparsegraph.graph import Graph


class Loaded(InMemoryDataset):
    """A dataset that only loads a file `InMemoryDataset.save` wrote (``root=None``)."""

    def __init__(self, path):
        super().__init__(None)
        self.load(path)


class Collated(InMemoryDataset):
    """PyG's older form: ``self.data, self.slices = self.collate(graphs)``."""

    def __init__(self, graphs):
        super().__init__(None)
        self.data, self.slices = self.collate(graphs)


def chain(n: int, i: int, **attrs) -> Graph:
    return Graph(x=sg.tensor(np.full((n, 2), i, np.float32)),
                 edge_index=np.array([np.arange(n - 1), np.arange(1, n)]),
                 y=sg.tensor([i]), **attrs)


def graphs(k=3):
    return [chain(2 + i, i, pos=np.full((2 + i, 3), i, np.float64)) for i in range(k)]


def storage(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyG's warning on `data`
        return ds.data


# ---- 1. the loaded storage, edited, reaches ds[i], iteration and GraphLoader ---------------
@pytest.mark.parametrize("form", ["load", "collate", "copy"])
def test_an_edit_of_the_storage_reaches_the_graphs(tmp_path, form):
    path = tmp_path / "data.pt"
    InMemoryDataset.save(graphs(), path)
    ds = {"load": lambda: Loaded(path), "collate": lambda: Collated(graphs()),
          "copy": lambda: Loaded(path).copy()}[form]()
    storage(ds).y = storage(ds).y * 0 + 7  # PyG's idiom: edit the collated storage
    ds._data.x = ds._data.x + 1
    assert [g.y.tolist() for g in ds] == [[7], [7], [7]]
    assert ds[1].y.tolist() == [7] and ds.y.tolist() == [7, 7, 7]
    np.testing.assert_array_equal(ds[2].x.numpy(), np.full((4, 2), 3, np.float32))
    batch = next(iter(GraphLoader(ds, batch_size=3)))
    assert batch.y.tolist() == [7, 7, 7]
    np.testing.assert_array_equal(batch.x.numpy()[:, 0], [1, 1, 2, 2, 2, 3, 3, 3, 3])
    # numpy attributes come back numpy, their values the graph's own, on both paths
    assert type(ds[2].pos) is np.ndarray and ds[2].pos.dtype == np.float64
    np.testing.assert_array_equal(ds[2].pos, np.full((4, 3), 2.0))


def test_setting_data_again_drops_the_graphs_cut_before(tmp_path):
    path = tmp_path / "data.pt"
    InMemoryDataset.save(graphs(), path)
    ds = Loaded(path)
    assert ds[0].y.tolist() == [0]  # cut out now, then kept
    data = storage(ds)
    data.y = data.y + 10
    ds.data = data  # PyG's setter: the cut graphs are dropped
    assert [g.y.tolist() for g in ds] == [[10], [11], [12]]


# ---- 2. float64 round-trips ---------------------------------------------------------------
def test_float64_edge_weights_and_attributes_round_trip_as_float64(tmp_path):
    rng = np.random.default_rng(0)
    weights = [rng.random(n - 1) + 0.5 for n in (3, 4)]
    gs = [chain(n, i, edge_weight=sg.tensor(w), t=sg.tensor(rng.random(n)))
          for i, (n, w) in enumerate(zip((3, 4), weights, strict=True))]
    assert gs[0].edge_weight.dtype == sg.float64
    path = tmp_path / "ew.pt"
    InMemoryDataset.save(gs, path)
    ds = Loaded(path)
    for got, want, w in zip(ds, gs, weights, strict=True):
        assert got.edge_weight.dtype == sg.float64 and got.t.dtype == sg.float64
        np.testing.assert_array_equal(got.edge_weight.numpy(), w)  # exact: no float32 trip
        np.testing.assert_array_equal(got.t.numpy(), want.t.numpy())
    assert ds._data.edge_weight.dtype == Graph.batch(gs).edge_weight.dtype == sg.float64


# ---- 3. dtypes that differ between graphs promote as torch.cat / Graph.batch ----------------
def test_differing_dtypes_promote_as_graph_batch_does(tmp_path):
    gs = [Graph(x=sg.tensor(np.array([[1, 2], [3, 4]], np.int64)),
                edge_index=np.array([[0], [1]]), y=sg.tensor([1])),
          Graph(x=sg.tensor(np.array([[0.5, 1.5], [2.5, 3.5]], np.float32)),
                edge_index=np.array([[0], [1]]), y=sg.tensor([0.25], dtype=sg.float32))]
    want = Graph.batch(gs)
    assert want.x.dtype == sg.float32 and want.y.dtype == sg.float32  # int64 + float32
    path = tmp_path / "mixed.pt"
    InMemoryDataset.save(gs, path)
    for ds in (Loaded(path), Collated(gs)):
        for g, lo, hi in ((ds[0], 0, 2), (ds[1], 2, 4)):
            assert g.x.dtype == sg.float32 and g.y.dtype == sg.float32
            np.testing.assert_array_equal(g.x.numpy(), want.x.numpy()[lo:hi])
        assert ds.y.tolist() == [1.0, 0.25]
    record = serialization.load(path)
    assert record["arrays"]["x"]["data"].dtype == np.float32


# ---- 4. raw_file_names / processed_file_names as plain methods -------------------------------
def test_file_names_given_by_plain_methods_are_called(tmp_path):
    class Methods(InMemoryDataset):
        def __init__(self, root):
            super().__init__(root, log=False)
            self.load(self.processed_paths[0])

        def raw_file_names(self):  # no @property: PyG calls it
            return ["raw.txt"]

        def processed_file_names(self):
            return "data.pt"

        def download(self):
            (tmp_path / "raw" / "raw.txt").write_text("3")

        def process(self):
            with open(self.raw_paths[0]) as f:
                k = int(f.read())
            self.save(graphs(k), self.processed_paths[0])

    ds = Methods(tmp_path)
    assert ds.raw_paths == [str(tmp_path / "raw" / "raw.txt")]
    assert ds.processed_paths == [str(tmp_path / "processed" / "data.pt")]
    assert len(ds) == 3 and (tmp_path / "processed" / "data.pt").is_file()
    assert len(Methods(tmp_path)) == 3  # found, loaded, not processed again


# ---- 7. slices hold the keys present only ------------------------------------------------
def test_slices_hold_only_the_keys_the_graphs_have():
    _, slices = InMemoryDataset.collate(graphs())
    assert set(slices) == {"edge_index", "x", "y", "pos"}  # no edge_attr: no graph has one
    with_attr = [chain(3, i, edge_attr=sg.tensor(np.ones((2, 4), np.float32)))
                 for i in range(2)]
    _, slices = InMemoryDataset.collate(with_attr)
    assert set(slices) == {"edge_index", "edge_attr", "x", "y"}
    np.testing.assert_array_equal(slices["edge_attr"].numpy(), [0, 2, 4])


# ---- 8. doctored processed files ---------------------------------------------------------
def weighted_without_weights(rec):
    rec["weighted"] = np.array([True, False, False])


def ndim(value):
    def doctor(rec):
        rec["arrays"]["y"]["ndim"] = np.array([value, 1, 1])
    return doctor


def float_num_nodes(rec):
    rec["num_nodes"] = rec["num_nodes"].astype(np.float64)


def padded_size(rec):
    rec["arrays"]["x"]["ndim"] = np.array([1, 2, 2])  # graph 0: (2, 2) read as (2,)


@pytest.mark.parametrize("doctor, reason", [
    (weighted_without_weights, "graph 0 is marked weighted but there is no `edge_weight`"),
    (ndim(-1), r"attribute `y` has an `ndim` outside \[0, 1\] \(got -1\)"),
    (ndim(5), r"attribute `y` has an `ndim` outside \[0, 1\] \(got 5\)"),
    (float_num_nodes, "`num_nodes` is not a 1-D array of node counts >= 0"),
    (padded_size, "attribute `x` has sizes past its `ndim` that are not 1"),
])
def test_a_doctored_processed_file_is_refused_by_name(tmp_path, doctor, reason):
    path = tmp_path / "data.pt"
    InMemoryDataset.save(graphs(), path)
    assert len(Loaded(path)) == 3
    record = serialization.load(path)
    doctor(record)
    serialization.save(record, path)
    with pytest.raises(ValueError, match=rf"Loaded.load: .*data.pt is not a processed file "
                       rf"written by InMemoryDataset.save \({reason}\); delete it, or pass "
                       r"force_reload=True"):
        Loaded(path)
