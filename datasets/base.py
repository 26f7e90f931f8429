"""`Dataset`: raw files under the data root, parsed once into a pickle-free .npz cache."""

from __future__ import annotations

import copy
import errno
import hashlib
import os
import pathlib
import tempfile
import tokenize
import zipfile

import numpy as np

from sparsegraph.creation import rng_of
from sparsegraph.datasets.download import base_url, fetch, missing_error, sha256_of
from sparsegraph.datasets.root import (
    DatasetUnavailable,
    as_created,
    check_bool,
    check_folder_path,
    check_int,
    data_root,
    folder_arg,
)
from sparsegraph.datasets.root import cache_dir as default_cache_dir
from sparsegraph.graph import Graph
from sparsegraph.serialization import CORRUPT_DATA, read_npz
from sparsegraph.tensor import wrap

PARSE_VERSION = "1"  # bump when a parser's output changes: old caches are then ignored


NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)  # a read-only or foreign data root
BAD_DATA = (ValueError, TypeError, KeyError, IndexError, AttributeError, EOFError,
            zipfile.BadZipFile, tokenize.TokenError, SyntaxError)  # what malformed files make
# parsers and Graph raise (numpy's .npy header parser: TokenError / SyntaxError); OSError is
# not among them: an unreadable raw file is reported as it is


class _PygCallOrder(type):
    """PyG's call ``Planetoid(root, name="Cora")``: the path given positionally with ``name``
    as a keyword. Here ``name`` comes first, so Python itself would refuse the call ("got
    multiple values for argument 'name'"); the lone positional argument is taken as the
    ``root`` it is."""

    def __call__(cls, *args, **kwargs):
        if len(args) == 1 and "name" in kwargs and "root" not in kwargs:
            kwargs["root"], args = args[0], ()
        return super().__call__(*args, **kwargs)


class Dataset(metaclass=_PygCallOrder):
    """Base class: subclasses set ``folder``, ``files`` (name -> sha256 or None), ``base_url``
    and implement ``parse() -> dict of numpy arrays`` and ``_build() -> graph(s)`` (from
    ``self._arrays``; its result is ``self._data``).

    Raw files with a known sha256 are verified before parsing. The parsed arrays are cached in
    ``cache_dir`` (default: the user cache, never beside the raw files, which may be read-only
    or shared) under a key made of the raw files' hashes, written atomically, and only after
    they built valid graphs; a corrupt or invalid cache is ignored and rebuilt, invalid raw
    files are a ValueError naming them.

    ``force_reload=True`` (PyG's) parses the raw files again, replacing the cache.

    ``transform`` / ``pre_transform`` / ``pre_filter`` (callables such as
    `sparsegraph.transforms`' or None, PyG's arguments; ``pre_filter(g)`` True keeps a graph of
    a multi-graph dataset, before ``pre_transform``): ``pre_transform`` runs once on each graph
    after they are built (from
    the raw files or the cache, which never holds its result), ``transform`` on every access
    (``ds[i]``, iteration); a non-callable one is a TypeError naming it.
    """

    folder = ""
    base_url = ""
    files: dict = {}

    def __init__(self, root=None, *, download: bool = True, cache_dir=None, transform=None,
                 pre_transform=None, pre_filter=None, force_reload: bool = False):
        op = type(self).__name__
        check_bool(op, "download", download)
        check_bool(op, "force_reload", force_reload)
        self.force_reload = force_reload
        set_transforms(self, transform, pre_transform, pre_filter)  # before any file is read
        self.root = data_root(root, op)
        self.raw_dir = self.root / self.folder
        self.cache_dir = (folder_arg(op, "cache_dir", cache_dir) if cache_dir is not None
                          else default_cache_dir() / "processed")
        # a file where a folder belongs would fail later with a bare NotADirectoryError
        check_folder_path(op, "root" if root is not None or not os.environ.get(
            "SPARSEGRAPH_DATA") else "$SPARSEGRAPH_DATA", self.root, self.raw_dir)
        missing = [name for name in self.files if not (self.raw_dir / name).is_file()]
        if missing:
            if not download:
                raise missing_error(self.raw_dir, missing, self.download_url(missing[0]))
            new_dirs = [d for d in (self.raw_dir, *self.raw_dir.parents) if not d.exists()]
            try:
                self.download(missing)
            except BaseException as exc:
                for d in new_dirs:  # deepest first: remove the folders this attempt made
                    if d.is_dir() and not any(d.iterdir()):
                        d.rmdir()
                if isinstance(exc, OSError) and exc.errno in NOT_WRITABLE:
                    raise DatasetUnavailable(
                        f"{op}: cannot write the downloaded files to {self.raw_dir} "
                        f"({exc.strerror}); make it writable, point `root` or SPARSEGRAPH_DATA "
                        f"at a writable folder, or put {', '.join(missing)} there "
                        "yourself") from None
                raise
        self._data = pre_transformed(self, self._load_or_parse())

    @property
    def processed_dir(self):
        """PyG's ``processed_dir``: where this dataset's parsed files are kept (its
        ``cache_dir``), e.g. a GraphSAINT sampler's ``save_dir``."""
        return self.cache_dir

    def download_url(self, name: str) -> str:
        return base_url(self.base_url, self.folder) + name

    def download(self, missing: list) -> None:
        """Fetch each missing raw file (checksum-verified, written atomically)."""
        for name in missing:
            fetch(self.download_url(name), self.raw_dir / name, self.files[name])

    # ---- caching ----------------------------------------------------------------------------
    def _cache_path(self) -> pathlib.Path:
        """The cache file for these raw files; verifies their known checksums on the way."""
        h = hashlib.sha256(f"{type(self).__name__}:{self.cache_tag()}:{PARSE_VERSION}".encode())
        for name in self.cache_files():
            got, want = sha256_of(self.raw_dir / name), self.files.get(name)
            if want is not None and got != want:
                raise ValueError(f"{type(self).__name__}: checksum mismatch for "
                                 f"{self.raw_dir / name}: expected sha256 {want}, got {got}; "
                                 "the file is corrupt or not the published one (delete it to "
                                 "download it again)")
            h.update(f"{name}={got};".encode())  # the name too: a renamed file reads differently
        return self.cache_dir / f"{type(self).__name__.lower()}-{h.hexdigest()[:16]}.npz"

    def cache_files(self) -> list[str]:
        """Every raw file `parse` reads (sorted): all of them key the cache, so a file added
        or edited later invalidates it. Subclasses that read optional files add them."""
        return sorted(self.files)

    def cache_tag(self) -> str:
        return ""

    def _where(self) -> str:
        names = sorted(self.files)
        if len(names) == 1:
            return str(self.raw_dir / names[0])
        return f"{self.raw_dir} ({', '.join(names)})"

    def _load_or_parse(self):
        path = self._cache_path()
        if path.is_file() and not self.force_reload:  # PyG's force_reload: parse the raw files
            try:
                with open(path, "rb") as f:  # each array's shape checked vs its stored size
                    self._arrays = read_npz(f)
                return self._build()
            except (*CORRUPT_DATA, *BAD_DATA):
                pass  # corrupt or invalid cache (garbage, a missing key, bad arrays): rebuild
        name = type(self).__name__
        try:
            self._arrays = arrays = self.parse()
            data = self._build()
        except BAD_DATA as exc:
            if str(exc).startswith(f"{name}:") and str(self.raw_dir) in str(exc):
                raise  # already names the dataset and the file
            raise ValueError(f"{name}: {self._where()} could not be read as the "
                             f"{getattr(self, 'name', '')!r} dataset "
                             f"({type(exc).__name__}: {exc}); replace the file, or delete "
                             "it to download it again") from None
        self._write_cache(path, arrays)
        return data

    def _write_cache(self, path: pathlib.Path, arrays: dict) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
            try:
                as_created(tmp)  # mkstemp's 0600 would make a shared cache_dir re-parse
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, **arrays)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError:
            pass  # a read-only cache dir only costs a re-parse next time

    def parse(self) -> dict:
        raise NotImplementedError

    def _build(self):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ---- transform= / pre_transform= (PyG's dataset arguments) -------------------------------------
def set_transforms(dataset, transform, pre_transform, pre_filter=None) -> None:
    """Check and keep a dataset's ``transform``, ``pre_transform`` and ``pre_filter``
    (callables or None)."""
    for name, value in (("transform", transform), ("pre_transform", pre_transform),
                        ("pre_filter", pre_filter)):
        if value is not None and not callable(value):
            raise TypeError(f"{type(dataset).__name__}: expected `{name}` to be callable, e.g. "
                            f"sparsegraph.transforms.NormalizeFeatures(), or None (got "
                            f"{type(value).__name__} {value!r})")
    dataset.transform, dataset.pre_transform = transform, pre_transform
    dataset.pre_filter = pre_filter


def pre_transformed(dataset, data):
    """``data`` (a Graph or a list of them) through ``dataset.pre_transform``, once, after
    the graphs are built: the parsed arrays in the cache never hold its result, so the cache
    stays valid whatever the pre_transform (PyG stores the pre-transformed data instead and
    warns when the argument changes)."""
    keep = getattr(dataset, "pre_filter", None)
    if keep is not None and isinstance(data, list):  # PyG: the filter first, then pre_transform
        data = [g for g in data if _kept(dataset, keep, g)]
    pre = dataset.pre_transform
    if pre is None:
        return data
    graphs = [pre(g) for g in (data if isinstance(data, list) else [data])]
    for i, g in enumerate(graphs):
        if not isinstance(g, Graph):
            raise TypeError(f"{type(dataset).__name__}: expected `pre_transform` to return a "
                            f"Graph, the dataset's stored data (got {type(g).__name__} for "
                            f"graph {i})")
    return graphs if isinstance(data, list) else graphs[0]


def _kept(dataset, keep, g) -> bool:
    verdict = keep(g)
    if not isinstance(verdict, bool | np.bool_) and not (
            hasattr(verdict, "shape") and verdict.shape == () and verdict.dtype == np.bool_):
        raise TypeError(f"{type(dataset).__name__}: expected `pre_filter` to return True or "
                        f"False for a graph (got {type(verdict).__name__} {verdict!r})")
    return bool(verdict)


def transformed(dataset, graph):
    """What indexing the dataset returns for its stored ``graph``: a shallow copy (PyG's
    ``InMemoryDataset.get``), through ``dataset.transform`` on every access when set."""
    g = copy.copy(graph)
    transform = getattr(dataset, "transform", None)
    return g if transform is None else transform(g)


def first_graph(dataset, graph) -> Graph:
    """``graph`` as the dataset hands it out, for the counts PyG reads from ``dataset[0]``
    (``num_features`` after a transform that adds features); a transform giving several
    graphs (`RandomLinkSplit`) counts by the first, as PyG."""
    if getattr(dataset, "transform", None) is None:
        return graph
    g = transformed(dataset, graph)
    return g[0] if isinstance(g, tuple | list) else g


class SingleGraph:
    """Mixin for datasets holding one graph in ``self.graph``: ``ds[0]``, ``len(ds) == 1``.

    ``ds[0]`` is a shallow copy of the graph (PyG's ``InMemoryDataset.get``): its arrays are
    the dataset's, but reassigning an attribute (``g.train_mask = m``) changes the copy only.
    With a ``transform``, ``ds[0]`` is the transform of that copy, made on every access, and
    ``num_features`` (and the other feature counts) are those of the transformed graph.
    """

    graph = None
    transform = None
    pre_transform = None

    @property
    def num_classes(self) -> int:
        return int(self.graph.y.array.max()) + 1

    @property
    def num_features(self) -> int:
        return first_graph(self, self.graph).num_features

    @property
    def num_node_features(self) -> int:
        """PyG's name for `num_features`: the columns of the graph's ``x``."""
        return first_graph(self, self.graph).num_node_features

    @property
    def num_edge_features(self) -> int:
        """Columns of the graph's ``edge_attr`` (0 without one), as PyG's property."""
        return first_graph(self, self.graph).num_edge_features

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int):
        if isinstance(i, bool | np.bool_) or not isinstance(i, int | np.integer):
            raise TypeError(f"{type(self).__name__}: expected an int index, 0 or -1 for its one "
                            f"graph (got {type(i).__name__} {i!r})")
        if i not in (0, -1):
            raise IndexError(f"{type(self).__name__}: index {i} out of range for a dataset of "
                             "one graph")
        return transformed(self, self.graph)


def shuffled(dataset, op: str, return_perm: bool, seed, generator):
    """PyG's ``dataset.shuffle(return_perm)`` for a dataset with ``index_select``: the order
    from ``seed`` (an int >= 0: the same order every time), else ``generator`` (a
    `sparsegraph.Generator`), else sparsegraph's global generator (`sparsegraph.manual_seed`),
    as PyG draws from torch's; ``perm`` the int64 positions taken, a Tensor as PyG's."""
    check_bool(op, "return_perm", return_perm)
    if seed is not None:
        if generator is not None:
            raise TypeError(f"{op}: expected `seed` or `generator`, not both")
        check_int(op, "seed", seed)
        if seed < 0:
            raise ValueError(f"{op}: expected `seed` >= 0 (got {seed})")
        rng = np.random.default_rng(int(seed))
    else:
        try:
            rng = rng_of(generator)
        except TypeError as exc:
            raise TypeError(f"{op}: {exc}") from None
    perm = rng.permutation(len(dataset)).astype(np.int64)
    out = dataset.index_select(perm)
    return (out, wrap(perm)) if return_perm else out  # an int64 Tensor, as torch.randperm
