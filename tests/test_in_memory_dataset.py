"""`InMemoryDataset`: PyG's "Creating Your Own Datasets" tutorial with only the imports (and
torch.save / torch.load) swapped, processing once, the processed file written atomically and
pickle-free, indexing, and graph-level training over a GraphLoader."""

import os
import pathlib
import zipfile

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import serialization
from sparsegraph.datasets import GraphLoader, InMemoryDataset, download_url
from sparsegraph.gnn import GINConv, global_add_pool
from sparsegraph.graph import Graph

SIZES = (3, 7, 4, 9, 5, 6)


def raw_arrays(sizes=SIZES, seed=0) -> dict:
    """The arrays of random graphs of ``sizes`` nodes, as one raw .npz would hold them."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, n in enumerate(sizes):
        e = 2 * n
        out[f"x{i}"] = rng.standard_normal((n, 3)).astype(np.float32)
        out[f"edge_index{i}"] = rng.integers(0, n, (2, e))
        out[f"edge_attr{i}"] = rng.standard_normal((e, 2)).astype(np.float32)
        out[f"y{i}"] = np.array([n % 3])
    return out


def reference(arrays, i) -> Graph:
    return Graph(x=arrays[f"x{i}"], edge_index=arrays[f"edge_index{i}"],
                 edge_attr=arrays[f"edge_attr{i}"], y=arrays[f"y{i}"])


@pytest.fixture
def source(tmp_path):
    """A raw file served at a file:// URL (download() fetches it with download_url)."""
    path = tmp_path / "served" / "graphs.npz"
    path.parent.mkdir()
    np.savez(path, **raw_arrays())
    return path


def tutorial_class(url: str):
    """PyG's tutorial MyOwnDataset, as written there but for the imports, the raw format and
    the call counters (``force_reload`` passed through for the tests)."""

    class MyOwnDataset(InMemoryDataset):
        downloads = processes = 0

        def __init__(self, root, transform=None, pre_transform=None, pre_filter=None,
                     force_reload=False):
            super().__init__(root, transform, pre_transform, pre_filter,
                             force_reload=force_reload)
            self.load(self.processed_paths[0])

        @property
        def raw_file_names(self):
            return ["graphs.npz"]

        @property
        def processed_file_names(self):
            return ["data.pt"]

        def download(self):
            type(self).downloads += 1
            download_url(url, self.raw_dir, log=False)

        def process(self):
            type(self).processes += 1
            with np.load(self.raw_paths[0]) as raw:
                data_list = [reference(raw, i) for i in range(len(SIZES))]

            if self.pre_filter is not None:
                data_list = [data for data in data_list if self.pre_filter(data)]

            if self.pre_transform is not None:
                data_list = [self.pre_transform(data) for data in data_list]

            self.save(data_list, self.processed_paths[0])

    return MyOwnDataset


@pytest.fixture
def MyOwnDataset(source):
    return tutorial_class(source.as_uri())


def assert_same_graph(got: Graph, want: Graph):
    assert got.num_nodes == want.num_nodes
    np.testing.assert_array_equal(got.edge_index, want.edge_index)
    for key in ("x", "edge_attr", "y"):
        np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
        assert got[key].dtype == want[key].dtype


# ---- the tutorial ---------------------------------------------------------------------------
def test_the_tutorial_dataset_downloads_processes_and_holds_the_graphs(MyOwnDataset, tmp_path):
    root = tmp_path / "root"
    ds = MyOwnDataset(str(root))
    assert (MyOwnDataset.downloads, MyOwnDataset.processes) == (1, 1)
    assert ds.raw_dir == str(root / "raw") and ds.processed_dir == str(root / "processed")
    assert ds.raw_paths == [str(root / "raw" / "graphs.npz")]
    assert ds.processed_paths == [str(root / "processed" / "data.pt")]
    assert len(ds) == len(SIZES) and repr(ds) == f"MyOwnDataset({len(SIZES)})"
    arrays = raw_arrays()
    for i in range(len(SIZES)):
        assert_same_graph(ds[i], reference(arrays, i))
    assert ds.num_classes == max(n % 3 for n in SIZES) + 1
    assert (ds.num_features, ds.num_node_features, ds.num_edge_features) == (3, 3, 2)
    # the processed file is an npz of arrays only: it opens with pickle refused
    with zipfile.ZipFile(ds.processed_paths[0]) as z:
        for name in z.namelist():
            with z.open(name) as f:
                np.lib.format.read_array(f, allow_pickle=False)


def test_a_second_construction_loads_without_downloading_or_processing(MyOwnDataset, tmp_path):
    first = MyOwnDataset(tmp_path / "root")
    second = MyOwnDataset(tmp_path / "root")
    assert (MyOwnDataset.downloads, MyOwnDataset.processes) == (1, 1)
    for a, b in zip(first, second, strict=True):
        assert_same_graph(a, b)


def test_force_reload_processes_again(MyOwnDataset, tmp_path):
    MyOwnDataset(tmp_path / "root")
    ds = MyOwnDataset(tmp_path / "root", force_reload=True)
    assert MyOwnDataset.processes == 2 and len(ds) == len(SIZES)


def test_processing_starts_again_when_the_processed_file_is_gone(MyOwnDataset, tmp_path):
    ds = MyOwnDataset(tmp_path / "root")
    os.remove(ds.processed_paths[0])
    MyOwnDataset(tmp_path / "root")
    assert (MyOwnDataset.downloads, MyOwnDataset.processes) == (1, 2)


def add_degree(g):
    g.deg = sg.tensor(np.bincount(np.asarray(g.edge_index[1]), minlength=g.num_nodes))
    return g


def big(g):
    return g.num_nodes > 4


def test_pre_transform_and_pre_filter_are_stored_once(MyOwnDataset, tmp_path):
    ds = MyOwnDataset(tmp_path / "root", pre_transform=add_degree, pre_filter=big)
    kept = [n for n in SIZES if n > 4]
    assert [g.num_nodes for g in ds] == kept
    for g in ds:
        np.testing.assert_array_equal(g.deg.numpy(), np.bincount(g.edge_index[1],
                                                                  minlength=g.num_nodes))
    again = MyOwnDataset(tmp_path / "root", pre_transform=add_degree, pre_filter=big)  # no warning
    assert MyOwnDataset.processes == 1 and len(again) == len(kept)


def test_another_pre_transform_warns_that_the_stored_data_was_made_with_the_old(
        MyOwnDataset, tmp_path):
    MyOwnDataset(tmp_path / "root", pre_transform=add_degree)
    with pytest.warns(UserWarning, match=r"MyOwnDataset: the `pre_transform` argument \(None\) "
                      r"differs .* \(<function add_degree>\); pass force_reload=True"):
        MyOwnDataset(tmp_path / "root")
    with pytest.warns(UserWarning, match=r"the `pre_filter` argument \(<function big>\) differs"):
        MyOwnDataset(tmp_path / "root", pre_transform=add_degree, pre_filter=big)
    MyOwnDataset(tmp_path / "root", pre_filter=big, force_reload=True)  # reprocessed: silent
    assert MyOwnDataset.processes == 2


def test_transform_runs_on_every_access_and_leaves_the_storage(MyOwnDataset, tmp_path):
    def double(g):
        g.x = g.x * 2
        g.extra = sg.ones(g.num_nodes, 1)
        return g

    ds = MyOwnDataset(tmp_path / "root", transform=double)
    plain = MyOwnDataset(tmp_path / "root")
    np.testing.assert_array_equal(ds[1].x.numpy(), 2 * plain[1].x.numpy())
    np.testing.assert_array_equal(ds._data.x.numpy(), plain._data.x.numpy())
    assert "extra" not in ds._graphs()[1]
    batch = next(iter(GraphLoader(ds, batch_size=len(SIZES))))
    np.testing.assert_array_equal(batch.x.numpy(), 2 * plain._data.x.numpy())


def test_the_exercise_dataset_of_a_given_list(tmp_path):
    """The tutorial's exercise: a str processed_file_names, no raw files, no download."""
    graphs = [reference(raw_arrays(), i) for i in range(3)]

    class MyDataset(InMemoryDataset):
        def __init__(self, root, data_list, transform=None):
            self.data_list = data_list
            super().__init__(root, transform)
            self.load(self.processed_paths[0])

        @property
        def processed_file_names(self):
            return "data.pt"

        def process(self):
            self.save(self.data_list, self.processed_paths[0])

    ds = MyDataset(tmp_path, graphs)
    assert ds.processed_paths == [str(tmp_path / "processed" / "data.pt")]
    assert not (tmp_path / "raw").exists()  # only made for a download
    for a, b in zip(ds, graphs, strict=True):
        assert_same_graph(a, b)


# ---- PyG < 2.4: collate and self.data, self.slices ---------------------------------------------
class InMemory(InMemoryDataset):
    """A dataset built in memory (``root=None``), PyG's older form."""

    def __init__(self, graphs, transform=None):
        super().__init__(None, transform)
        self.data, self.slices = self.collate(graphs)


def test_collate_gives_the_batch_and_slices_and_indexing_works():
    graphs = [reference(raw_arrays(), i) for i in range(4)]
    data, slices = InMemoryDataset.collate(graphs)
    assert data.num_graphs == 4
    counts = np.array([0, *np.cumsum([g.num_nodes for g in graphs])])
    np.testing.assert_array_equal(slices["x"].numpy(), counts)
    np.testing.assert_array_equal(slices["edge_index"].numpy(),
                                  np.concatenate([[0], np.cumsum([g.num_edges for g in graphs])]))
    np.testing.assert_array_equal(slices["y"].numpy(), np.arange(5))
    ds = InMemory(graphs)
    assert len(ds) == 4 and ds.len() == 4
    for a, b in zip(ds, graphs, strict=True):
        assert_same_graph(a, b)


def test_one_graph_collates_to_itself_and_prints_without_a_count():
    g = reference(raw_arrays(), 0)
    data, slices = InMemoryDataset.collate([g])
    assert data is g and slices is None
    ds = InMemory([g])
    assert len(ds) == 1 and repr(ds) == "InMemory()"
    assert ds[0] is not g
    assert_same_graph(ds[0], g)


def test_data_warns_as_pyg_and_private_data_does_not():
    ds = InMemory([reference(raw_arrays(), i) for i in range(3)])
    with pytest.warns(UserWarning, match="not recommended to directly access the internal"):
        assert ds.data is ds._data
    assert ds._data.num_graphs == 3


def test_stacked_attributes_follow_the_subset():
    graphs = [reference(raw_arrays(), i) for i in range(5)]
    ds = InMemory(graphs)
    np.testing.assert_array_equal(ds.y.numpy(), [g.y.numpy()[0] for g in graphs])
    np.testing.assert_array_equal(ds.x.numpy(), np.concatenate([g.x.numpy() for g in graphs]))
    np.testing.assert_array_equal(ds[[3, 1]].y.numpy(), [graphs[3].y.numpy()[0],
                                                         graphs[1].y.numpy()[0]])
    with pytest.raises(AttributeError, match="'InMemory' object has no attribute 'nothing'"):
        _ = ds.nothing


# ---- indexing -------------------------------------------------------------------------------
@pytest.fixture
def six():
    graphs = [reference(raw_arrays(), i) for i in range(len(SIZES))]
    return InMemory(graphs), graphs


@pytest.mark.parametrize("index, want", [
    (slice(1, 4), [1, 2, 3]), (slice(None, None, -2), [5, 3, 1]), ([4, 0, 4], [4, 0, 4]),
    ((2, -1), [2, 5]), (range(2, 5), [2, 3, 4]), (np.array([5, 2]), [5, 2]),
    (sg.tensor([1, 3]), [1, 3]), ([True, False, False, True, False, True], [0, 3, 5]),
    (np.array([False] * 5 + [True]), [5]), (sg.tensor([True] * 6), [0, 1, 2, 3, 4, 5]),
    ([], []),
])
def test_index_forms_give_the_subset(six, index, want):
    ds, graphs = six
    sub = ds[index]
    assert type(sub) is InMemory and len(sub) == len(want)
    for got, i in zip(sub, want, strict=True):
        assert_same_graph(got, graphs[i])
    assert sub._data is ds._data  # shares the storage, as PyG's index_select


@pytest.mark.parametrize("index", [2, -4, np.int64(2), np.array(2), sg.tensor(2)])
def test_integer_index_forms_give_one_graph(six, index):
    ds, graphs = six
    assert_same_graph(ds[index], graphs[int(index) % len(graphs)])


def test_subsets_of_subsets_and_their_counts(six):
    ds, graphs = six
    sub = ds[1:][::2]  # graphs 1, 3, 5
    assert [g.num_nodes for g in sub] == [graphs[i].num_nodes for i in (1, 3, 5)]
    assert sub[-1].num_nodes == graphs[5].num_nodes
    assert sub.num_classes == ds.num_classes  # of the whole storage, as PyG's
    assert repr(sub) == "InMemory(3)"


def test_bad_indices_are_refused_by_name(six):
    ds, _ = six
    with pytest.raises(IndexError, match=r"InMemory: expected a graph id in \[-6, 6\) \(got 6\)"):
        ds[6]
    with pytest.raises(IndexError, match="expected a graph id in"):
        ds[1:3][2]
    with pytest.raises(TypeError, match=r"InMemory: expected an int, slice, .* \(got float\)"):
        ds[1.5]
    with pytest.raises(IndexError, match="InMemory"):
        ds[[True, False]]  # a mask of another length
    with pytest.raises(IndexError, match="InMemory"):
        ds[[0, 9]]


def test_shuffle_permutes_and_returns_the_permutation(six):
    ds, graphs = six
    out, perm = ds.shuffle(return_perm=True, seed=3)
    assert sorted(perm.tolist()) == list(range(6)) and perm.dtype == np.int64
    assert [g.num_nodes for g in out] == [graphs[i].num_nodes for i in perm]
    again, perm2 = ds.shuffle(return_perm=True, seed=3)
    np.testing.assert_array_equal(perm, perm2)
    sg.manual_seed(1)
    a = ds.shuffle(return_perm=True)[1]
    sg.manual_seed(1)
    np.testing.assert_array_equal(a, ds.shuffle(return_perm=True)[1])
    with pytest.raises(ValueError, match=r"InMemory.shuffle: expected `seed` >= 0 \(got -1\)"):
        ds.shuffle(seed=-1)


def test_copy_has_its_own_storage(six):
    ds, graphs = six
    sub = ds[[4, 1]]
    c = sub.copy()
    assert c._indices is None and c._data is not ds._data and len(c) == 2
    assert c._data.num_graphs == 2
    for got, i in zip(c, (4, 1), strict=True):
        assert_same_graph(got, graphs[i])
    assert len(ds.copy([0])) == 1 and ds.copy([0])._data.num_graphs == 1


def test_num_classes_follows_pyg_for_float_and_multi_target_labels():
    rng = np.random.default_rng(1)
    multi = [Graph(x=rng.standard_normal((3, 2)), edge_index=[[0, 1], [1, 2]],
                   y=sg.tensor(rng.random((1, 4)))) for _ in range(3)]
    assert InMemory(multi).num_classes == 4
    regress = [Graph(x=rng.standard_normal((3, 2)), edge_index=[[0], [1]],
                     y=sg.tensor([float(v)])) for v in (0.5, 1.5, 2.5)]
    with pytest.warns(UserWarning, match="Found floating-point labels"):
        assert InMemory(regress).num_classes == 3


# ---- training -------------------------------------------------------------------------------
class GIN(sg.nn.Module):
    def __init__(self, in_channels, hidden=16):
        super().__init__()
        self.conv = GINConv(sg.nn.Sequential(sg.nn.Linear(in_channels, hidden), sg.nn.ReLU(),
                                             sg.nn.Linear(hidden, hidden)))
        self.out = sg.nn.Linear(hidden, 2)

    def forward(self, x, edge_index, batch):
        return self.out(global_add_pool(self.conv(x, edge_index).relu(), batch))


def one_hot_degree(g):
    """PyG's OneHotDegree(max_degree=2) as a pre_transform: x from the in-degrees."""
    g.x = np.eye(3, dtype=np.float32)[np.bincount(g.edge_index[1], minlength=g.num_nodes)]
    return g


def test_a_gin_graph_classifier_trains_over_a_graph_loader(tmp_path):
    """Paths (label 0) against cycles (label 1) of 4 to 9 nodes, featureless until the
    pre_transform gives each node its one-hot degree; trained in shuffled mini-batches."""
    graphs = []
    for n in range(4, 10):
        for label in (0, 1):
            src = np.arange(n - 1 + label)
            dst = (src + 1) % n
            ei = np.concatenate([np.stack([src, dst]), np.stack([dst, src])], axis=1)
            graphs.append(Graph(edge_index=ei, y=[label], num_nodes=n))

    class Shapes(InMemoryDataset):
        def __init__(self, root, pre_transform=None):
            super().__init__(root, pre_transform=pre_transform, log=False)
            self.load(self.processed_paths[0])

        @property
        def processed_file_names(self):
            return ["shapes.pt"]

        def process(self):
            data_list = graphs
            if self.pre_transform is not None:
                data_list = [self.pre_transform(data) for data in data_list]
            self.save(data_list, self.processed_paths[0])

    ds = Shapes(tmp_path, pre_transform=one_hot_degree)
    assert ds.num_features == 3 and ds.num_classes == 2
    loader = GraphLoader(ds, batch_size=4, shuffle=True, seed=0)
    whole = next(iter(GraphLoader(ds, batch_size=len(ds))))
    np.testing.assert_array_equal(whole.y.numpy(), [g.y.numpy()[0] for g in graphs])
    model = GIN(ds.num_features)
    opt = sg.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(40):
        total = 0.0
        for batch in loader:
            opt.zero_grad()
            loss = sg.nn.functional.cross_entropy(model(batch.x, batch.edge_index, batch.batch),
                                                  batch.y)
            loss.backward()
            opt.step()
            total += float(loss.item()) * batch.num_graphs
        losses.append(total / len(ds))
    with sg.no_grad():
        pred = model(whole.x, whole.edge_index, whole.batch).numpy().argmax(1)
    assert losses[-1] < 0.1 * losses[0]
    np.testing.assert_array_equal(pred, whole.y.numpy())


# ---- saving: atomic, pickle-free, checked -------------------------------------------------------
def failing_write(f, arrays):
    f.write(b"PK\x03\x04 half a file")
    raise RuntimeError("disk pulled out")


def test_a_crash_while_saving_leaves_no_processed_file(MyOwnDataset, tmp_path, monkeypatch):
    root = tmp_path / "root"
    monkeypatch.setattr(serialization, "_write", failing_write)
    with pytest.raises(RuntimeError, match="disk pulled out"):
        MyOwnDataset(root)
    assert os.listdir(root / "processed") == []  # neither data.pt nor a temp file
    monkeypatch.undo()
    ds = MyOwnDataset(root)  # processed again, from scratch
    assert MyOwnDataset.processes == 2 and len(ds) == len(SIZES)


def test_a_crash_while_reprocessing_keeps_the_old_processed_file(MyOwnDataset, tmp_path,
                                                                 monkeypatch):
    root = tmp_path / "root"
    before = pathlib.Path(MyOwnDataset(root).processed_paths[0]).read_bytes()
    monkeypatch.setattr(serialization, "_write", failing_write)
    with pytest.raises(RuntimeError, match="disk pulled out"):
        MyOwnDataset(root, force_reload=True)
    monkeypatch.undo()
    assert (root / "processed" / "data.pt").read_bytes() == before
    assert sorted(os.listdir(root / "processed")) == ["data.pt", "pre_filter.json",
                                                      "pre_transform.json"]


def test_saved_attributes_round_trip_with_their_types(tmp_path):
    rng = np.random.default_rng(2)
    graphs = []
    for i, n in enumerate((3, 5, 2)):
        weight = rng.random(4).astype(np.float32) + 2 if i != 1 else None  # graph 1 unweighted
        graphs.append(Graph(x=sg.tensor(rng.standard_normal((n, 2))),  # float64 Tensor
                            edge_index=rng.integers(0, n, (2, 4)), edge_weight=weight,
                            y=sg.tensor(rng.standard_normal(n).astype(np.float32)),
                            train_mask=rng.random(n) > 0.5, pos=rng.random((n, 3)),
                            name=f"graph{i}", size=np.int64(n), scale=sg.tensor(1.5 * i)))
    path = tmp_path / "g.npz"
    InMemoryDataset.save(graphs, path)
    ds = InMemory([graphs[0]])
    ds.load(path)
    for got, want in zip(ds, graphs, strict=True):
        np.testing.assert_array_equal(got.edge_index, want.edge_index)
        np.testing.assert_array_equal(got.edge_weight.numpy(), want.edge_weight.numpy())
        assert got._is_weighted() == want._is_weighted()
        for key in ("x", "y", "train_mask", "scale"):
            np.testing.assert_array_equal(got[key].numpy(), want[key].numpy())
            assert got[key].dtype == want[key].dtype and got[key].shape == want[key].shape
        assert type(got.pos) is np.ndarray and got.pos.dtype == np.float64
        np.testing.assert_array_equal(got.pos, want.pos)
        assert got.name == want.name and got.size == want.size
    assert ds[0].x.dtype == sg.float64


def test_save_refuses_what_it_cannot_store_and_writes_nothing(tmp_path):
    g = reference(raw_arrays(), 0)
    path = tmp_path / "data.pt"
    with pytest.raises(ValueError, match=r"InMemoryDataset.save: expected `data_list` to hold at "
                       r"least one Graph \(got an empty list\)"):
        InMemoryDataset.save([], path)
    with pytest.raises(TypeError, match=r"expected `data_list` to hold Graphs \(got str at "
                       r"position 1\)"):
        InMemoryDataset.save([g, "graph"], path)
    with pytest.raises(TypeError, match=r"expected `data_list` to be a list of Graphs \(got one "
                       r"Graph; pass \[g\]\)"):
        InMemoryDataset.save(g, path)
    odd = reference(raw_arrays(), 1)
    odd.note = object()
    with pytest.raises(TypeError, match=r"cannot store attribute `note` of graph 1, a object"):
        InMemoryDataset.save([reference(raw_arrays(), 0), odd], path)
    no_x = reference(raw_arrays(), 1)
    no_x.x = None
    with pytest.raises(ValueError, match="`x` on every graph or on none"):
        InMemoryDataset.save([g, no_x], path)
    with pytest.raises(TypeError, match=r"expected `path` to be a file path"):
        InMemoryDataset.save([g], 3)
    assert os.listdir(tmp_path) == []


def test_load_refuses_a_file_save_did_not_write(tmp_path):
    ds = InMemory([reference(raw_arrays(), 0)])
    other = tmp_path / "other.pt"
    sg.save({"weights": sg.ones(3)}, other)
    with pytest.raises(ValueError, match=r"InMemory.load: .*other.pt is not a processed file "
                       r"written by InMemoryDataset.save .*force_reload=True"):
        ds.load(other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk.pt is not a processed file"):
        ds.load(junk)


# ---- subclass errors ------------------------------------------------------------------------
def subclass(processed, save=True):
    class Broken(InMemoryDataset):
        @property
        def processed_file_names(self):
            return processed

        def process(self):
            if save:
                self.save([reference(raw_arrays(), 0)], self.processed_paths[0])

    return Broken


def test_empty_processed_file_names_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"Broken: expected `processed_file_names` to name at "
                       r"least one file"):
        subclass([])(tmp_path)


def test_an_empty_or_odd_file_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"Broken: expected `processed_file_names` to hold file "
                       r"names \(got an empty name in \[''\]\)"):
        subclass("")(tmp_path)
    with pytest.raises(TypeError, match=r"Broken: expected `processed_file_names` to be a file "
                       r"name or a list of them \(got int 3 in it\)"):
        subclass(["data.pt", 3])(tmp_path)


def test_a_process_that_never_saves_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Broken: process\(\) did not write .*data.pt; "
                       r"end it with self.save\(data_list, self.processed_paths\[0\]\)"):
        subclass(["data.pt"], save=False)(tmp_path)


def test_a_dataset_that_processes_needs_a_root():
    with pytest.raises(TypeError, match=r"Broken: expected `root`, the folder for raw/ and "
                       r"processed/ \(got None"):
        subclass(["data.pt"])()


def test_bad_constructor_arguments_are_named(tmp_path):
    cls = subclass(["data.pt"])
    with pytest.raises(TypeError, match=r"Broken: expected `transform` to be callable"):
        cls(tmp_path, transform=3)
    with pytest.raises(TypeError, match=r"Broken: expected `force_reload` to be True or False"):
        cls(tmp_path, force_reload="yes")
    with pytest.raises(TypeError, match=r"Broken: expected `root` to be a folder path"):
        cls(42)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="Broken: expected `root` to be a folder"):
        cls(tmp_path / "file")


def test_download_url_fetches_once_and_keeps_the_name(source, tmp_path, capsys):
    folder = tmp_path / "dl"
    path = download_url(source.as_uri(), folder)
    assert path == str(folder / "graphs.npz")
    assert pathlib.Path(path).read_bytes() == source.read_bytes()
    assert f"Downloading {source.as_uri()}" in capsys.readouterr().err
    source.write_bytes(b"changed")
    # an existing file is used as it is; the name is the URL's last part, less its query
    assert download_url("file:///nowhere/graphs.npz?version=2", folder) == path
    assert "Using existing file graphs.npz" in capsys.readouterr().err
    named = download_url(source.as_uri(), folder, log=False, filename="other.bin")
    assert pathlib.Path(named).read_bytes() == b"changed"
    with pytest.raises(ValueError, match=r"download_url: `url` 'file:///nowhere/' ends without "
                       "a file name; pass `filename`"):
        download_url("file:///nowhere/", folder)
