"""`InMemoryDataset`: PyG's base class for your own graph datasets that fit in memory.

PyG's "Creating Your Own Datasets" tutorial runs as written with the imports swapped
(``from sparsegraph.datasets import InMemoryDataset, download_url``): a subclass names its
``raw_file_names`` and ``processed_file_names``, may ``download()`` the raw files into
``raw_dir`` and ``process()``es them into a list of Graphs that it stores with
``self.save(data_list, self.processed_paths[0])``; its ``__init__`` calls
``self.load(self.processed_paths[0])``. Processing runs once: later constructions find the
processed file and only load it.

The code written for PyG < 2.4 stores ``torch.save(self.collate(data_list), path)`` and reads
``self.data, self.slices = torch.load(path)``; without torch those two lines become
``self.save(data_list, path)`` and ``self.load(path)``. ``self.data, self.slices =
self.collate(data_list)`` itself works (a dataset built in memory, with ``root=None``).

The processed file is one pickle-free ``.npz`` (`sparsegraph.save`, whatever its name says,
e.g. ``data.pt``), written to a temporary name and renamed into place: a crash while saving
leaves no half-written file, so the next construction processes again.
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import re
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from sparsegraph import serialization
from sparsegraph.datasets import in_memory_format as fmt
from sparsegraph.datasets.base import set_transforms, shuffled, transformed
from sparsegraph.datasets.download import fetch, write_atomic
from sparsegraph.datasets.root import check_bool, check_folder_path, folder_arg
from sparsegraph.graph import Graph
from sparsegraph.graph_fields import _np
from sparsegraph.row_ids import row_ids
from sparsegraph.tensor import Tensor

DATA_WARNING = (
    "It is not recommended to directly access the internal storage format `data` of an "
    "'InMemoryDataset'. If you are absolutely certain what you are doing, access the internal "
    "storage via `InMemoryDataset._data` instead to suppress this warning. Alternatively, you "
    "can access stacked individual attributes of every graph via `dataset.{attr_name}`.")


def _file_list(value) -> list:
    """PyG's ``to_list``: one name (a str) or a sequence of them."""
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


def _repr(obj) -> str:
    """How a ``pre_transform`` / ``pre_filter`` is recorded beside the processed files: its
    repr less memory addresses (``<function f at 0x7f..>`` -> ``<function f>``), so the same
    function is recognised in a new process."""
    return "None" if obj is None else re.sub(r" at 0x[0-9a-fA-F]+", "", str(obj))


class InMemoryDataset:
    """Base class for datasets of graphs held in memory, PyG's ``InMemoryDataset``.

    A subclass defines the properties ``raw_file_names`` and ``processed_file_names`` (a
    name or a list of names; a plain method is called, as PyG does) and the methods
    ``download()`` and ``process()`` it needs; the constructor calls ``download()`` when a
    raw file is missing (only if the subclass defines it) and ``process()`` when a processed
    file is missing or ``force_reload`` (only if the subclass defines it). ``process`` reads
    ``self.raw_paths``, applies ``self.pre_filter`` and ``self.pre_transform`` itself (as
    PyG's tutorial shows) and ends with ``self.save(data_list, self.processed_paths[0])``.
    The reprs of ``pre_transform`` and ``pre_filter`` are recorded beside the processed files;
    a later construction with other ones warns (UserWarning) that the stored data was made
    with the old ones, as PyG does.

    ``ds[i]`` (an int, numpy integer or 0-d Tensor) is a shallow copy of graph ``i``, through
    ``transform`` when set; ``ds[1:3]``, ``ds[[0, 2]]``, ``ds[mask]`` (bool, one per graph),
    an integer array or Tensor give a dataset of those graphs that shares this one's storage
    (`index_select`). ``dataset.x`` / ``dataset.y`` (any attribute name) are the graphs'
    values stacked, as PyG's.

    Args:
        root: the folder holding ``raw/`` and ``processed/`` (str or os.PathLike, ``~``
            expanded); None for a dataset built in memory, without ``download`` / ``process``.
        transform: a callable run on each graph at every access. (default: None)
        pre_transform: a callable for ``process`` to run on each graph before saving.
        pre_filter: a callable for ``process``: keep a graph when it returns True.
        log: print "Processing..." / "Done!" to stderr around ``process``. (default: True)
        force_reload: process again even when the processed files exist. (default: False)

    Attributes:
        root, raw_dir, processed_dir, raw_paths, processed_paths: as PyG's (str).
        slices: key -> ``(G + 1,)`` offsets of each graph in the collated ``_data`` (None for
            a dataset of one graph), as `collate` returns them.
    """

    def __init__(self, root=None, transform=None, pre_transform=None, pre_filter=None,
                 log: bool = True, force_reload: bool = False):
        op = type(self).__name__
        set_transforms(self, transform, pre_transform, pre_filter)
        check_bool(op, "log", log)
        check_bool(op, "force_reload", force_reload)
        self.log, self.force_reload = log, force_reload
        self._indices = None
        self._data, self.slices, self._data_list = None, None, None
        self.root = None
        if root is not None:
            path = folder_arg(op, "root", root)
            check_folder_path(op, "root", root, path)
            self.root = os.path.normpath(str(path))
        elif self.has_download or self.has_process:
            raise TypeError(f"{op}: expected `root`, the folder for raw/ and processed/ (got "
                            "None; only a dataset without download() and process() may omit it)")
        if self.has_download:
            self._download()
        if self.has_process:
            self._process()

    # ---- what a subclass defines --------------------------------------------------------------
    @property
    def raw_file_names(self):
        """The files in ``raw_dir`` whose presence skips ``download()`` (a name or a list)."""
        raise NotImplementedError(f"{type(self).__name__}: define the `raw_file_names` property "
                                  "(the files download() puts in raw_dir)")

    @property
    def processed_file_names(self):
        """The files in ``processed_dir`` whose presence skips ``process()``."""
        raise NotImplementedError(f"{type(self).__name__}: define the `processed_file_names` "
                                  "property (e.g. 'data.pt', the file process() saves)")

    def download(self) -> None:
        """Download the raw files into ``self.raw_dir``."""
        raise NotImplementedError

    def process(self) -> None:
        """Process the raw files and ``self.save(data_list, self.processed_paths[0])``."""
        raise NotImplementedError

    @property
    def has_download(self) -> bool:
        return type(self).download is not InMemoryDataset.download

    @property
    def has_process(self) -> bool:
        return type(self).process is not InMemoryDataset.process

    # ---- folders ------------------------------------------------------------------------------
    def _root(self) -> str:
        if self.root is None:
            raise ValueError(f"{type(self).__name__}: this dataset has no `root` folder")
        return self.root

    @property
    def raw_dir(self) -> str:
        return os.path.join(self._root(), "raw")

    @property
    def processed_dir(self) -> str:
        return os.path.join(self._root(), "processed")

    @property
    def raw_paths(self) -> list[str]:
        return [os.path.join(self.raw_dir, f) for f in self._names("raw_file_names")]

    @property
    def processed_paths(self) -> list[str]:
        return [os.path.join(self.processed_dir, f) for f in self._names("processed_file_names")]

    def _names(self, prop: str) -> list[str]:
        value = getattr(self, prop)
        if callable(value):  # PyG's: a plain method, not made a property, is called
            value = value()
        names = _file_list(value)
        for name in names:
            if not isinstance(name, str | os.PathLike):
                raise TypeError(f"{type(self).__name__}: expected `{prop}` to be a file name or "
                                f"a list of them (got {type(name).__name__} {name!r} in it)")
            if not os.fspath(name):
                raise ValueError(f"{type(self).__name__}: expected `{prop}` to hold file names "
                                 f"(got an empty name in {names!r})")
        return [os.fspath(n) for n in names]

    def _download(self) -> None:
        paths = self.raw_paths
        if paths and all(os.path.exists(p) for p in paths):
            return
        os.makedirs(self.raw_dir, exist_ok=True)
        self.download()

    def _process(self) -> None:
        op, paths = type(self).__name__, self.processed_paths
        if not paths:
            raise ValueError(f"{op}: expected `processed_file_names` to name at least one file, "
                             "the one process() saves with self.save(data_list, "
                             "self.processed_paths[0]) (got none)")
        if not self.force_reload and all(os.path.exists(p) for p in paths):
            for name in ("pre_transform", "pre_filter"):
                self._check_recorded(name)
            return
        if self.log:
            print("Processing...", file=sys.stderr)
        os.makedirs(self.processed_dir, exist_ok=True)
        self.process()
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise FileNotFoundError(f"{op}: process() did not write {', '.join(missing)}; end "
                                    "it with self.save(data_list, self.processed_paths[0]) "
                                    "(one processed file per name in processed_file_names)")
        for name in ("pre_transform", "pre_filter"):
            record = pathlib.Path(self.processed_dir) / f"{name}.json"
            write_atomic(record, json.dumps(_repr(getattr(self, name))).encode())
        if self.log:
            print("Done!", file=sys.stderr)

    def _check_recorded(self, name: str) -> None:
        """Warn when ``name`` (pre_transform / pre_filter) differs from the recorded one."""
        try:
            stored = json.loads((pathlib.Path(self.processed_dir) / f"{name}.json").read_text())
        except (OSError, ValueError):
            return  # not recorded (processed by other code): nothing to compare
        now = _repr(getattr(self, name))
        if stored != now:
            warnings.warn(f"{type(self).__name__}: the `{name}` argument ({now}) differs from "
                          f"the one the processed files in {self.processed_dir} were made with "
                          f"({stored}); pass force_reload=True to process the dataset again "
                          "with it", UserWarning, stacklevel=3)

    # ---- storage ------------------------------------------------------------------------------
    @staticmethod
    def collate(data_list) -> tuple[Graph, dict | None]:
        """PyG's ``collate``: ``(data, slices)`` of a list of Graphs; ``data`` is their
        `Graph.batch` and ``slices`` maps each attribute to the ``(G + 1,)`` int64 offsets of
        the graphs in it (one Graph: itself, and None)."""
        return fmt.collate("InMemoryDataset.collate", data_list)

    @classmethod
    def save(cls, data_list, path) -> None:
        """Write ``data_list`` (Graphs) to ``path`` as one pickle-free ``.npz`` (PyG's
        ``save``), atomically: a temporary file beside it, renamed into place when complete.
        Refused (nothing written): an empty list, an item that is not a Graph, graphs that do
        not collate (an attribute on some graphs only), an attribute pickle would need."""
        op = f"{cls.__name__}.save"
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"{op}: expected `path` to be a file path, a str or os.PathLike "
                            f"(got {type(path).__name__} {path!r})")
        serialization.save(fmt.to_record(op, data_list), os.path.expanduser(os.fspath(path)))

    def load(self, path, data_cls=Graph) -> None:
        """Read what `save` wrote to ``path`` into this dataset (PyG's ``load``)."""
        op = f"{type(self).__name__}.load"
        if not (isinstance(data_cls, type) and issubclass(data_cls, Graph)):
            raise TypeError(f"{op}: expected `data_cls` to be Graph (got {data_cls!r})")
        try:
            graphs = fmt.from_record(serialization.load(path))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ValueError(f"{op}: {path} is not a processed file written by "
                             f"InMemoryDataset.save ({exc}); delete it, or pass "
                             "force_reload=True, to process the dataset again") from None
        if not graphs:
            raise ValueError(f"{op}: {path} holds no graphs")
        # PyG's ``self.data = ...``: the graphs are cut out of the batch on first access, so
        # an edit of the storage before then (``self.data.y = ...``) reaches them
        self._data, self.slices = self.collate(graphs)
        self._data_list = None

    @property
    def data(self):
        """The collated storage, with PyG's warning; `_data` reads it without one."""
        warnings.warn(DATA_WARNING, UserWarning, stacklevel=2)
        return self._data

    @data.setter
    def data(self, value) -> None:
        self._data, self._data_list = value, None

    def _graphs(self) -> list[Graph]:
        """Every stored graph, in storage order: the collated batch split on first access (as
        PyG's ``get``), then kept until ``data`` is set again."""
        if self._data is None:
            return []
        if self.slices is None:
            return [self._data]
        if self._data_list is None:
            self._data_list = fmt.numpy_parts(self._data, self._data.unbatch())
        return self._data_list

    def __getattr__(self, key: str):
        """``dataset.x`` / ``dataset.y`` / any attribute the graphs hold: their values
        stacked (the batched attribute), of this dataset's graphs only, as PyG's."""
        data = self.__dict__.get("_data")
        if isinstance(data, Graph) and not key.startswith("_") and key in data:
            if self.__dict__.get("_indices") is None:
                return data[key]
            return Graph.batch([self.get(i) for i in self.indices()])[key]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{key}'")

    # ---- graphs by position -------------------------------------------------------------------
    def len(self) -> int:
        """The number of stored graphs (a subset's `__len__` counts its own)."""
        if self._data is None:
            return 0
        return 1 if self.slices is None else len(next(iter(self.slices.values()))) - 1

    def indices(self):
        return range(self.len()) if self._indices is None else self._indices

    def get(self, idx: int) -> Graph:
        """A shallow copy of stored graph ``idx`` (no transform), PyG's ``get``."""
        return copy.copy(self._graphs()[idx])

    def __len__(self) -> int:
        return len(self.indices())

    def __getitem__(self, idx):
        if isinstance(idx, Tensor | np.ndarray) and not idx.shape and idx.dtype.kind in "iu":
            idx = int(idx.item())
        if isinstance(idx, int | np.integer) and not isinstance(idx, bool | np.bool_):
            n = len(self)
            if not -n <= idx < n:  # an IndexError: iteration by __getitem__ stops on it
                raise IndexError(f"{type(self).__name__}: expected a graph id in [{-n}, {n}) "
                                 f"(got {idx})")
            return transformed(self, self._graphs()[self.indices()[int(idx)]])
        return self.index_select(idx)

    def __iter__(self):
        graphs = self._graphs()
        return (transformed(self, graphs[i]) for i in self.indices())

    def index_select(self, idx) -> InMemoryDataset:
        """The dataset of the graphs at ``idx``, in that order: a slice, integer ids (a list,
        tuple, range, array or Tensor; negative ones count from the end) or a boolean mask of
        length ``len(self)``. It shares this dataset's storage, as PyG's."""
        op, indices = type(self).__name__, self.indices()
        if isinstance(idx, slice):
            ids = np.arange(len(self))[idx]
        elif isinstance(idx, np.ndarray | Tensor | Sequence) and not isinstance(idx, str | bytes):
            ids = row_ids(op, "the index", idx.array if isinstance(idx, Tensor) else idx,
                          len(self), unit="graph")
        else:
            raise TypeError(f"{op}: expected an int, slice, sequence of ints, integer array or "
                            f"boolean mask as index (got {type(idx).__name__})")
        self._graphs()  # split once here, so every subset shares the split graphs
        dataset = copy.copy(self)
        dataset._indices = [indices[j] for j in ids.tolist()]
        return dataset

    def shuffle(self, return_perm: bool = False, *, seed=None, generator=None):
        """The dataset in a random order; with ``return_perm``, ``(dataset, perm)``, ``perm``
        the int64 positions taken. The order comes from ``seed`` (an int >= 0), else
        ``generator`` (a `sparsegraph.Generator`), else sparsegraph's global generator
        (`sparsegraph.manual_seed`), as PyG draws from torch's."""
        return shuffled(self, f"{type(self).__name__}.shuffle", return_perm, seed, generator)

    def copy(self, idx=None) -> InMemoryDataset:
        """A dataset with its own storage holding this one's graphs (those at ``idx`` when
        given), collated again, as PyG's ``copy``."""
        indices = self.indices() if idx is None else self.index_select(idx).indices()
        graphs = [self.get(i) for i in indices]
        dataset = copy.copy(self)
        dataset._indices, dataset._data_list = None, None
        dataset._data, dataset.slices = self.collate(graphs) if graphs else (None, None)
        return dataset

    # ---- dataset-level counts -----------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """PyG's rule over the labels ``y`` (of the whole storage, or of every transformed
        graph with a transform): one integer label per row -> max + 1; float labels -> the
        distinct values (with PyG's warning when more than 2); ``(N, C)`` targets -> C."""
        if self.transform is None:
            y = None if self._data is None else self._data.y
            y = None if y is None else _np(y)
        else:
            ys = [np.atleast_1d(_np(g.y)) for g in self if g.y is not None]
            y = np.concatenate(ys) if ys else None
        if y is None or y.size == 0:
            return 0
        if y.ndim <= 1 or y.size == y.shape[0]:
            if y.dtype.kind != "f":
                return int(y.max()) + 1
            classes = np.unique(y).size
            if classes > 2:
                warnings.warn("Found floating-point labels while calling `dataset.num_classes`."
                              " Returning the number of unique elements. Please make sure "
                              "that this is expected before proceeding.", UserWarning,
                              stacklevel=2)
            return classes
        return int(y.shape[-1])

    def _first(self):
        if len(self) == 0:
            return None
        g = self[0]
        return g[0] if isinstance(g, tuple | list) else g

    @property
    def num_node_features(self) -> int:
        """Columns of the first graph's ``x`` (through the transform), as PyG's."""
        g = self._first()
        return 0 if g is None else g.num_node_features

    @property
    def num_features(self) -> int:
        """PyG's alias of `num_node_features`."""
        return self.num_node_features

    @property
    def num_edge_features(self) -> int:
        """Columns of the first graph's ``edge_attr`` (0 without one), as PyG's."""
        g = self._first()
        return 0 if g is None else g.num_edge_features

    def __repr__(self) -> str:
        n = len(self)
        return f"{type(self).__name__}({n if n > 1 else ''})"


def download_url(url: str, folder, log: bool = True, filename: str | None = None) -> str:
    """Download ``url`` into ``folder`` (made when missing) and return the file's path, as
    PyG's ``download_url``: the name is the URL's last part (its query dropped) unless
    ``filename`` is given, and a file already there is used as it is. The transfer goes to a
    temporary file renamed into place when complete (a progress bar on stderr when ``log``).
    """
    check_bool("download_url", "log", log)
    if not isinstance(url, str):
        raise TypeError(f"download_url: expected `url` to be a str (got {type(url).__name__})")
    if filename is None:
        filename = url.rpartition("/")[2]
        filename = filename if filename.startswith("?") else filename.split("?")[0]
    if not filename:
        raise ValueError(f"download_url: `url` {url!r} ends without a file name; pass "
                         "`filename`")
    path = folder_arg("download_url", "folder", folder) / filename
    if path.exists():
        if log:
            print(f"Using existing file {filename}", file=sys.stderr)
        return str(path)
    if log:
        print(f"Downloading {url}", file=sys.stderr)
    fetch(url, path, None, progress=log)
    return str(path)
