"""TU Dortmund graph-classification datasets (MUTAG, PROTEINS, ENZYMES, and any TU name)."""

from __future__ import annotations

import copy
import hashlib
import pathlib
import warnings
from collections.abc import Sequence

import numpy as np

from sparsegraph.datasets.base import Dataset, first_graph, shuffled, transformed
from sparsegraph.datasets.download import base_url, clean_stale, fetch, write_atomic
from sparsegraph.datasets.in_memory import DATA_WARNING
from sparsegraph.datasets.root import check_bool, check_int, path_like
from sparsegraph.graph import Graph
from sparsegraph.row_ids import row_ids
from sparsegraph.tensor import Tensor, wrap

SHA256 = {
    "MUTAG": {
        "MUTAG_A.txt": "d9656ca7493f3445d737c711710bb36fd432dddd1c0ea32e1d4713c86ebd28e2",
        "MUTAG_edge_labels.txt":
            "4669ce755075ff86c3240709345745886400908fa637a49310459b9c267b3e56",
        "MUTAG_graph_indicator.txt":
            "7d520a4d6c7961c0cdeabe076d8fe27e795b6d373485c9a2b744987e560a2056",
        "MUTAG_graph_labels.txt":
            "a1518ea39ba3426bd42f57396b9c4baffe68e9adc718caeeab0119c6591a5f2c",
        "MUTAG_node_labels.txt":
            "678f429965490e84dd27713017538c995fc05d1621beac910848b600015ee863",
    },
    "PROTEINS": {
        "PROTEINS_A.txt": "4c4b33e272fc95cac6d27ed6d5d12b9a852c8610e91fff59f8f0dbdd5a20df67",
        "PROTEINS_graph_indicator.txt":
            "8d4ff1e852a5c28561e9bffb44cf9490bc552b13a3b6156dd12dc7f44e9afc4a",
        "PROTEINS_graph_labels.txt":
            "c0ef9810c440775252872318d0c8adc385588e14bc4c47a2c34aa96ee3c7cdcd",
        "PROTEINS_node_attributes.txt":
            "54eef829abb37e458a5fbf3a3c581e48e5810e220463c2cd951856b9ceb08f07",
        "PROTEINS_node_labels.txt":
            "f758e8ad3d6e3c026b50833d75f6f90735b94eb3345e4243707f495ca8afea8d",
    },
    "ENZYMES": {
        "ENZYMES_A.txt": "5553c84f8f562f3e199dfd27192174f485e85c44c1357661098668937a739cbf",
        "ENZYMES_graph_indicator.txt":
            "95ba0fa47eba6f02e6b754a215dc66d5b49de3f45f57a128514301a8d7ed5f46",
        "ENZYMES_graph_labels.txt":
            "04743e08967e61e65cdacbb90f8df6ee53742b3d2e7b84675b85ebac70506856",
        "ENZYMES_node_attributes.txt":
            "305a8fc3b12f79fb844ef3374d6a3c8ceeb4887dd4f86bbfe37932c4c5434e7b",
        "ENZYMES_node_labels.txt":
            "8263eb9b64efa231a5886343483ccfc0342f2407014763a8f738fd51c32ce770",
    },
}
OPTIONAL = ("node_labels", "node_attributes", "edge_labels", "edge_attributes",
            "graph_attributes")


def read_table(path, dtype, op: str = "TUDataset", columns: int | None = None) -> np.ndarray:
    """A comma/space separated numeric text file as a 1-D or 2-D array (vectorised parse).

    Every line must hold the same number of values (``columns`` when given); otherwise the
    error names the file and the first offending line (1-based, blank lines counted)."""
    text = path.read_bytes().replace(b",", b" ")
    numbered = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not numbered:
        return np.zeros((0,), dtype)
    counts = np.fromiter((len(ln.split()) for _, ln in numbered), np.int64, len(numbered))
    width = columns if columns is not None else int(counts[0])
    bad = np.flatnonzero(counts != width)
    if bad.size:
        line, got = numbered[bad[0]][0], int(counts[bad[0]])
        if columns is not None:
            raise ValueError(f"{op}: {path.name}: expected {columns} columns per line (got "
                             f"{got} on line {line})")
        raise ValueError(f"{op}: {path.name} has rows of different lengths ({width} values "
                         f"on the first line, {got} on line {line})")
    try:
        flat = np.array(b" ".join(ln for _, ln in numbered).split(), dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{op}: {path.name} is not numeric ({exc})") from None
    if np.isnan(flat).any():
        raise ValueError(f"{op}: {path.name} contains NaN")
    out = flat.reshape(len(numbered), width)
    if dtype is not np.float32 and not np.array_equal(out, np.round(out)):
        raise ValueError(f"{op}: expected integers in {path.name}")
    return (out[:, 0] if width == 1 else out).astype(dtype)


def _one_hot(labels, rows: int):
    """Each column of integer ``labels`` remapped to 0..K-1 (its sorted values) and one-hot
    encoded, the columns side by side: (rows, sum K) float32."""
    cols = labels.reshape(rows, -1)
    blocks = []
    for c in range(cols.shape[1]):
        codes = np.unique(cols[:, c], return_inverse=True)[1].reshape(-1)
        blocks.append(np.eye(codes.max() + 1 if codes.size else 0, dtype=np.float32)[codes])
    return np.concatenate(blocks, axis=1)


def _one_hot_width(labels, rows: int) -> int:
    if labels is None or rows == 0:
        return 0
    cols = labels.reshape(rows, -1)
    return sum(np.unique(cols[:, c]).size for c in range(cols.shape[1]))


def _width(attributes, rows: int) -> int:
    return 0 if attributes is None or rows == 0 else attributes.reshape(rows, -1).shape[1]


def _features(labels, attributes, rows: int, use_attr):
    """Node (or edge) features from the TU label and attribute tables: one-hot labels then
    attributes (``use_attr`` None), labels only (False) or attributes then labels (True, PyG's
    order); None when nothing is left."""
    blocks = [] if labels is None else [_one_hot(labels, rows)]
    if attributes is not None and use_attr is not False:
        attr = attributes.reshape(rows, -1).astype(np.float32)
        blocks = [attr, *blocks] if use_attr else [*blocks, attr]
    return np.concatenate(blocks, axis=1) if blocks else None


def _known(names, s) -> bool:
    """Whether ``s`` is one of the TU ``names`` (any case)."""
    return isinstance(s, str) and s.upper() in {n.upper() for n in names}


class TUDataset(Dataset):
    """A TU graph-classification dataset from Morris et al., "TUDataset: A collection of
    benchmark datasets for learning with graphs" (2020); a list of Graphs.

    Graph labels are remapped to 0..C-1 (sorted original values). Node features: one-hot
    node labels (each label column remapped to 0..K-1 and one-hot encoded), then the node
    attributes when present. PyG's defaults differ: it keeps only the labels unless
    ``use_node_attr=True`` and then puts the attributes first; pass ``use_node_attr=False`` or
    ``True`` for exactly that (the default, ``None``, keeps both in the order above, which the
    recorded GIN results use). Edge labels (one-hot) then edge attributes become ``edge_attr``;
    ``use_edge_attr`` is PyG's likewise (``False``: labels only; ``True``: attributes first).
    Graph attributes
    (``NAME_graph_attributes.txt``) become each graph's ``graph_attr``, a ``(1, D)`` float32
    Tensor (PyG reads them as ``y`` when a dataset has no graph labels; here the labels stay
    ``y``).

    A dataset whose nodes have no features (no ``NAME_node_labels.txt``, and no node
    attributes or ``use_node_attr=False`` leaving them out; e.g. IMDB-BINARY, COLLAB) gets
    ``x = ones((N, 1))`` float32 in every graph, a constant feature the trainers and models
    can run on, so ``num_features`` / ``num_node_features`` (and the width of ``ds.x``) are 1
    while ``num_node_labels`` and ``num_node_attributes`` are 0. PyG gives ``x=None``
    (``num_features`` 0), or ``(N, 0)`` when attributes are left out. Code that builds its own
    features, e.g. a one-hot degree as PyG's ``OneHotDegree``, should replace ``x`` with them
    (PyG's transforms with their default ``cat=True`` would keep this column of ones).

    Two more differences from PyG's ``read_tu_data``, on files that have what they concern
    (MUTAG, PROTEINS and ENZYMES have neither, so their graphs are PyG's): the edges are kept
    as the file lists them, self loops and repeated edges included, where PyG removes self
    loops and merges repeated edges (summing their ``edge_attr``); and each node or edge label
    column is one-hot over the values that occur (K distinct values: K columns), where PyG
    gives it ``max - min + 1`` columns, an all-zero one for each value in between that never
    occurs. ``g.remove_self_loops()`` drops the loops; the widths are those of
    ``num_node_labels`` / ``num_edge_labels``.

    ``ds[i]`` is a shallow copy of graph ``i`` (as PyG's; through ``transform`` when set);
    ``ds[:k]``, ``ds[ids]`` (a list, range or other sequence of ints, an array or a Tensor),
    ``ds[mask]``, `index_select` and `shuffle` give a dataset of those graphs that keeps
    ``num_classes`` / ``num_features`` and the transform.

    Stats (graphs / nodes / undirected edges / classes): MUTAG 188 / 3371 / 3721 / 2;
    PROTEINS 1113 / 43471 / 81044 / 2; ENZYMES 600 / 19580 / 37282 / 6.

    Args:
        name: the TU name ("MUTAG", "PROTEINS", "ENZYMES", any case; any other TU name is
            downloaded as ``NAME.zip`` too, or read from ``<root>/TU/NAME/``).
        root: data root. download: fetch missing files: the TU zip's members (for the three
            named above the checksummed files; for any other name the required ones and
            every optional ``NAME_{node,edge}_{labels,attributes}.txt`` and
            ``NAME_graph_attributes.txt`` the zip holds).
        pre_filter: PyG's: a callable keeping the graphs it returns True for (before
            ``pre_transform``).
        transform / pre_transform: PyG's: callables run on each graph at every access
            (``ds[i]``, iteration) / once per graph when loaded (see `Dataset`).
        use_node_attr / use_edge_attr: ``None`` (labels, then attributes), ``False`` (labels
            only) or ``True`` (attributes, then labels), as PyG's flags of those names.
    """

    names = tuple(SHA256)
    base_url = "https://www.chrsmrrs.com/graphkerneldatasets/"

    def __init__(self, name: str = "MUTAG", root=None, transform=None, pre_transform=None,
                 pre_filter=None, *, download: bool = True, cache_dir=None,
                 use_node_attr: bool | None = None, use_edge_attr: bool | None = None,
                 force_reload: bool = False, cleaned: bool = False):
        for arg, flag in (("use_node_attr", use_node_attr), ("use_edge_attr", use_edge_attr)):
            if flag is not None and not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"TUDataset: expected `{arg}` to be None, True or False (got "
                                f"{type(flag).__name__} {flag!r})")
        self.use_node_attr, self.use_edge_attr = use_node_attr, use_edge_attr
        check_bool("TUDataset", "cleaned", cleaned)
        if cleaned:
            raise ValueError("TUDataset: cleaned=True (PyG's variants with isomorphic graphs "
                             "removed) is not available: only the original TU files are read")
        # PyG's order, TUDataset(root, name), is read as such where it is the only reading in
        # which the call names a dataset: a known TU name as `root` while `name` is none, or a
        # path as `name` with a name as `root` (nothing on disk is looked at)
        order = ("sparsegraph's order is TUDataset(name, root), PyG's is TUDataset(root, name)")
        if (_known(self.names, root) and not _known(self.names, name)
                or path_like(name) and isinstance(root, str) and root and not path_like(root)):
            name, root = root, name
        if path_like(name):
            raise ValueError(f"TUDataset: expected a TU dataset name such as 'MUTAG' as `name`, "
                             f"the first argument (got the path {str(name)!r}); {order}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"TUDataset: expected a dataset name (got {name!r}; known: "
                             f"{', '.join(self.names)})")
        self.name = next((n for n in self.names if n.lower() == name.lower()), name)
        self.folder = f"TU/{self.name}"
        required = {f"{self.name}_{s}.txt": None for s in ("A", "graph_indicator",
                                                             "graph_labels")}
        self.files = SHA256.get(self.name, required)
        super().__init__(root, download=download, cache_dir=cache_dir, transform=transform,
                         pre_transform=pre_transform, pre_filter=pre_filter,
                         force_reload=force_reload)
        self.graphs = self._all_graphs

    def download_url(self, name: str) -> str:
        return base_url(self.base_url, "TU") + f"{self.name}.zip"

    def cache_files(self) -> list[str]:
        """The required files and every optional one present: `parse` reads them all."""
        present = [f"{self.name}_{kind}.txt" for kind in OPTIONAL
                   if (self.raw_dir / f"{self.name}_{kind}.txt").is_file()]
        return sorted({*self.files, *present})

    def download(self, missing: list) -> None:
        """TU publishes one zip per dataset: fetch it, verify every missing member, then
        install them (nothing is installed when one is absent or fails its checksum)."""
        import tempfile
        import zipfile
        import zlib

        # the temp folder sits beside the target, so a read-only root fails naming R/TU/...,
        # and a killed run's leftover is found (and removed) by the next download
        parent = self.raw_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        clean_stale(parent, f".{self.name}.download.*")
        url = self.download_url(missing[0])
        with tempfile.TemporaryDirectory(prefix=f".{self.name}.download.", dir=parent) as tmp:
            archive = pathlib.Path(tmp) / f"{self.name}.zip"
            fetch(url, archive, None, where=f"unzip it and put its .txt files in {self.raw_dir}",
                  shown=self.raw_dir)
            verified = {}
            try:
                with zipfile.ZipFile(archive) as z:
                    members = {pathlib.PurePosixPath(m).name: m for m in z.namelist()}
                    for name in missing:
                        if name not in members:
                            raise ValueError(f"TUDataset: {archive.name} has no {name}; "
                                             "nothing was written")
                        verified[name] = z.read(members[name])
                    for name in self._optional_members(members):
                        verified[name] = z.read(members[name])
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise ValueError(f"TUDataset: the {self.name} download from {url} is not a "
                                 f"valid zip archive ({type(exc).__name__}: {exc}); nothing "
                                 f"was written; try again later, or unzip a good copy into "
                                 f"{self.raw_dir}") from None
            for name, data in verified.items():
                want, got = self.files.get(name), hashlib.sha256(data).hexdigest()
                if want is not None and got != want:
                    raise ValueError(f"TUDataset: checksum mismatch for {name}: expected "
                                     f"sha256 {want}, got {got}; nothing was written")
        for name, data in verified.items():
            write_atomic(self.raw_dir / name, data)

    def _optional_members(self, members) -> list[str]:
        """The optional files (node / edge labels and attributes, graph attributes) of a TU
        name without recorded checksums that the zip holds and the folder lacks: parse reads
        them, so leaving them out would silently drop features (the three named datasets
        list all their files, checksummed, in ``self.files``)."""
        if self.name in SHA256:
            return []
        names = (f"{self.name}_{kind}.txt" for kind in OPTIONAL)
        return [n for n in names if n in members and not (self.raw_dir / n).is_file()]

    def parse(self) -> dict:
        d, p = self.raw_dir, f"{self.name}_"
        edges = read_table(d / f"{p}A.txt", np.int64, columns=2).reshape(-1, 2) - 1
        indicator = read_table(d / f"{p}graph_indicator.txt", np.int64).reshape(-1) - 1
        graph_labels = read_table(d / f"{p}graph_labels.txt", np.int64).reshape(-1)
        n = indicator.size
        if edges.size and (edges.min() < 0 or edges.max() >= n):
            raise ValueError(f"TUDataset: {p}A.txt refers to nodes outside 1..{n}")
        if np.any(np.diff(indicator) < 0):
            raise ValueError(f"TUDataset: {p}graph_indicator.txt is not sorted by graph")
        if indicator.size and indicator.max() + 1 != graph_labels.size:
            raise ValueError(f"TUDataset: {graph_labels.size} graph labels for "
                             f"{indicator.max() + 1} graphs")
        out = {"edges": edges, "indicator": indicator,
               "graph_y": np.unique(graph_labels, return_inverse=True)[1].astype(np.int64)}
        for kind in OPTIONAL:
            path = d / f"{p}{kind}.txt"
            if path.is_file():
                dtype = np.float32 if kind.endswith("attributes") else np.int64
                out[kind] = read_table(path, dtype)
                rows = out[kind].shape[0]
                want = {"node": n, "edge": len(edges), "graph": graph_labels.size}[
                    kind.split("_")[0]]
                if rows != want:
                    raise ValueError(f"TUDataset: {path} has {rows} rows, expected {want} (one "
                                     f"per {kind.split('_')[0]})")
        return out

    def _build(self) -> list[Graph]:
        a = self._arrays
        n, n_edges = a["indicator"].size, len(a["edges"])
        x = _features(a.get("node_labels"), a.get("node_attributes"), n, self.use_node_attr)
        x = np.ones((n, 1), np.float32) if x is None else x
        edge_attr = _features(a.get("edge_labels"), a.get("edge_attributes"), n_edges,
                              self.use_edge_attr)
        ptr = np.concatenate([[0], np.cumsum(np.bincount(a["indicator"]))])
        edges = a["edges"]
        edge_graph = a["indicator"][edges[:, 0]] if edges.size else np.zeros(0, np.int64)
        if edges.size and np.any(edge_graph != a["indicator"][edges[:, 1]]):
            raise ValueError(f"TUDataset: {self.name} has an edge joining two graphs")
        order = np.argsort(edge_graph, kind="stable")
        edges, edge_graph = edges[order], edge_graph[order]
        edge_attr = None if edge_attr is None else edge_attr[order]
        eptr = np.searchsorted(edge_graph, np.arange(ptr.size))
        graph_attr = a.get("graph_attributes")
        if graph_attr is not None:
            graph_attr = graph_attr.reshape(a["graph_y"].size, -1).astype(np.float32)
        graphs = []
        for g in range(ptr.size - 1):
            lo, hi, e0, e1 = ptr[g], ptr[g + 1], eptr[g], eptr[g + 1]
            extra = {} if graph_attr is None else {"graph_attr": wrap(graph_attr[g:g + 1])}
            graphs.append(Graph(x=x[lo:hi], edge_index=(edges[e0:e1] - lo).T,
                                edge_attr=None if edge_attr is None else edge_attr[e0:e1],
                                y=a["graph_y"][g:g + 1], num_nodes=int(hi - lo), **extra))
        return graphs

    @property
    def num_classes(self) -> int:
        return int(self._arrays["graph_y"].max()) + 1

    @property
    def y(self) -> Tensor:
        """The graph labels of this dataset's graphs, in its order: ``(G,)`` (PyG's
        ``dataset.y``, e.g. for a stratified split)."""
        return wrap(np.concatenate([np.asarray(g.y.array).reshape(-1) for g in self.graphs]
                                   or [np.zeros(0, np.int64)]))

    @property
    def x(self) -> Tensor:
        """Every graph's node features stacked, ``(N_total, F)``, in this dataset's order
        (PyG's ``dataset.x``)."""
        return wrap(np.concatenate([np.asarray(g.x.array) for g in self.graphs])
                    if self.graphs else np.zeros((0, self.num_features), np.float32))

    @property
    def num_node_labels(self) -> int:
        """Columns of the one-hot node labels in ``x`` (0 without node labels), as PyG's
        property; every ``use_node_attr`` keeps them (``True`` puts them after the
        attributes)."""
        return _one_hot_width(self._arrays.get("node_labels"), self._arrays["indicator"].size)

    @property
    def num_node_attributes(self) -> int:
        """Columns of the node attributes in ``x`` (0 when absent or left out)."""
        if self.use_node_attr is False:
            return 0
        return _width(self._arrays.get("node_attributes"), self._arrays["indicator"].size)

    @property
    def num_edge_labels(self) -> int:
        """Columns of the one-hot edge labels in ``edge_attr``."""
        return _one_hot_width(self._arrays.get("edge_labels"), len(self._arrays["edges"]))

    @property
    def num_edge_attributes(self) -> int:
        """Columns of the edge attributes in ``edge_attr`` (0 when absent or left out)."""
        if self.use_edge_attr is False:
            return 0
        return _width(self._arrays.get("edge_attributes"), len(self._arrays["edges"]))

    @property
    def num_features(self) -> int:
        """Node feature columns, of the whole dataset (a subset keeps them, as in PyG)."""
        graphs = self._all_graphs
        return first_graph(self, graphs[0]).num_features if graphs else 0

    @property
    def num_node_features(self) -> int:
        """PyG's name for `num_features`: the columns of ``x``."""
        return self.num_features

    @property
    def num_edge_features(self) -> int:
        """Columns of ``edge_attr`` (edge labels one-hot, then attributes; 0 without them), of
        the whole dataset, as PyG's property."""
        graphs = self._all_graphs
        return first_graph(self, graphs[0]).num_edge_features if graphs else 0

    @property
    def _data(self) -> Graph:
        """PyG's storage: every graph of the whole dataset (a subset's too, as in PyG) batched
        into one Graph, built on first use (``dataset._data.x.size(0)`` counts all nodes)."""
        batched = self.__dict__.get("_batched")
        if batched is None:
            batched = self.__dict__["_batched"] = Graph.batch(self._all_graphs)
        return batched

    @_data.setter
    def _data(self, graphs: list) -> None:  # where the base class puts the parsed graphs
        self.__dict__["_all_graphs"] = graphs
        self.__dict__.pop("_batched", None)

    @property
    def data(self) -> Graph:
        """`_data` with PyG's warning against reading the storage directly."""
        warnings.warn(DATA_WARNING, UserWarning, stacklevel=2)
        return self._data

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i):
        """For an int (or a 0-d integer array / Tensor), a shallow copy of that graph, as
        PyG's ``InMemoryDataset.get``: its arrays are the dataset's, but reassigning an
        attribute (``g.y = ...``) leaves the dataset as it was. For a slice, an integer array /
        list / Tensor or a boolean mask of length ``len(self)``, the dataset of those graphs
        (`index_select`)."""
        if isinstance(i, Tensor | np.ndarray) and not i.shape and i.dtype.kind in "iu":
            i = int(i.item())
        if isinstance(i, int | np.integer) and not isinstance(i, bool | np.bool_):
            n = len(self.graphs)
            if not -n <= i < n:  # an IndexError still: iteration by __getitem__ stops on it
                raise IndexError(f"TUDataset: expected a graph id in [{-n}, {n}) (got {i})")
            return transformed(self, self.graphs[i])
        return self.index_select(i)

    def __iter__(self):
        return (transformed(self, g) for g in self.graphs)

    def index_select(self, idx) -> TUDataset:
        """The dataset of the graphs at ``idx``, in that order: a slice, integer ids (a list,
        tuple, range or other sequence, an array or a Tensor; negative ones count from the
        end) or a boolean mask of length
        ``len(self)``. It shares this dataset's graphs and keeps its dataset-level counts
        (``num_classes``, ``num_features``, ``num_node_labels``, ...), as PyG's subsets do."""
        if isinstance(idx, slice):
            ids = np.arange(len(self))[idx]
        elif isinstance(idx, np.ndarray | Tensor | Sequence) and not isinstance(idx, str | bytes):
            # an array, a list, tuple, range, ...: PyG takes any
            ids = row_ids("TUDataset", "the index", idx.array if isinstance(idx, Tensor) else idx,
                          len(self), unit="graph")
        else:
            raise TypeError(f"TUDataset: expected an int, slice, sequence of ints, integer "
                            f"array or boolean mask as index (got {type(idx).__name__})")
        subset = copy.copy(self)
        subset.graphs = [self.graphs[j] for j in ids.tolist()]
        return subset

    def shuffle(self, return_perm: bool = False, *, seed=None, generator=None):
        """The dataset in a random order (PyG's ``dataset.shuffle()``); with ``return_perm``,
        ``(dataset, perm)``, ``perm`` the int64 positions taken.

        The order comes from ``seed`` (an int >= 0: the same order every time), else from
        ``generator`` (a `sparsegraph.Generator`), else from sparsegraph's global generator
        (`sparsegraph.manual_seed`), as PyG draws from torch's.
        """
        return shuffled(self, "TUDataset.shuffle", return_perm, seed, generator)

    def __repr__(self) -> str:
        return f"{self.name}({len(self)})"


def _graph_label(i: int, g) -> int:
    """The single integer class label of graph ``i`` of a dataset."""
    y = None if g.y is None else np.asarray(g.y.detach() if hasattr(g.y, "detach") else g.y)
    if y is None or y.size != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"stratified_kfold: expected every graph of `labels` to hold one "
                         f"integer class label `y` (graph {i} has "
                         f"{'none' if y is None else f'{y.dtype} of shape {y.shape}'})")
    return int(y.reshape(()))


def _fold_labels(labels) -> np.ndarray:
    """One integer class per sample: a 1-D array, or the ``y`` of each graph of a dataset."""
    if isinstance(labels, TUDataset):
        labels = labels.graphs
    if isinstance(labels, list | tuple) and labels and isinstance(labels[0], Graph):
        return np.array([_graph_label(i, g) for i, g in enumerate(labels)], np.int64)
    a = np.asarray(labels.detach() if hasattr(labels, "detach") else labels)
    if a.ndim != 1:  # one-hot (N, C) rows would be split cell by cell, not sample by sample
        raise ValueError(f"stratified_kfold: expected `labels` of shape (N,), one class id per "
                         f"sample (got shape {a.shape}; for one-hot labels pass "
                         f"labels.argmax(1))")
    if a.dtype.kind not in "biu":
        raise TypeError(f"stratified_kfold: expected integer class ids as `labels`, or a list "
                        f"of Graphs (got dtype {a.dtype})")
    return a


def stratified_kfold(labels, k: int = 10, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train_idx, test_idx) folds; each class is spread evenly over the folds.

    ``labels``: one integer class id per sample, shape ``(N,)``; or a TUDataset / list of
    Graphs, whose graph labels ``g.y`` are used. Deterministic for a seed: each class's
    members are shuffled, then dealt round-robin.
    """
    labels = _fold_labels(labels)
    check_int("stratified_kfold", "k", k)
    if labels.size < 2:
        raise ValueError(f"stratified_kfold: expected at least 2 samples to split into folds "
                         f"(got {labels.size})")
    if k < 2 or k > labels.size:
        raise ValueError(f"stratified_kfold: expected 2 <= k <= {labels.size}, the sample "
                         f"count (got {k})")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(labels.size, np.int64)
    offset = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold_of[members] = (np.arange(members.size) + offset) % k
        offset += members.size
    all_idx = np.arange(labels.size)
    return [(all_idx[fold_of != f], all_idx[fold_of == f]) for f in range(k)]


from sparsegraph.datasets.graph_loader import GraphLoader  # noqa: E402,F401  (its old home)
