"""Graphs on disk: CSR structure and node arrays as .npy files, loaded memory-mapped.

A graph bigger than RAM trains from such a folder: `load_on_disk` maps every array
(``np.load(mmap_mode="r")``), so only the pages a computation touches are read, and a
`NeighborLoader` gathers each batch's feature rows ``x[n_id]`` from the map. The folder holds
one ``NAME.npy`` per array plus ``meta.json``; the layout is the one
`sparsegraph.datasets.synthetic.save` writes, so synthetic preset caches load here too.

Arrays: ``indptr`` (N + 1,), ``indices`` (E,) — the target-major CSR (row = target);
``values`` (E,) edge weights, only when not all ones; ``x`` (N, F) in its own dtype and shape
(sparse features are stored densified as float32, written in row chunks); every other array
attribute of the graph under its own name (``y``, the masks, ``batch`` / ``ptr`` of a batched
graph, extra node or graph attributes); the per-edge ``edge_attr`` (E, D) and ``edge_<name>``
arrays, in the CSR's edge order. An attribute that is not a numeric, boolean or string array
(e.g. a Python object) is refused by name rather than dropped.

``meta.json`` lists the arrays (``"arrays"``) and, under ``"tensors"``, the attributes that were
Tensors in the saved graph; those come back as Tensors wrapping the map (no copy), the others
as the arrays they were. A folder saved before ``"tensors"`` was recorded (and a
`synthetic.save` folder) has no such list: its attributes load as they did then (``y``,
``batch``, the masks and ``edge_*`` as Tensors, the rest as arrays).

``"weighted"`` records whether the edge values are given weights (all-ones weights stay
weights: ``values.npy`` is then written too), and for a batch ``"graph_keys"`` names its
per-graph attributes (a graph label ``y``: one row per graph, not per node) and
``"weighted_graphs"`` which of its graphs had weights, so `Graph.unbatch`, ``subgraph`` and
``to_undirected`` of the loaded batch act as on the saved one. A folder without them loads
as before (weighted when some value is not 1; a batch's attributes judged by their length).
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from sparsegraph.datasets import store
from sparsegraph.datasets.root import folder_arg
from sparsegraph.graph import Graph
from sparsegraph.graph_ops import is_weighted
from sparsegraph.serialization import CORRUPT_DATA, load_npy
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor, wrap

FORMAT = store.ONDISK
VERSION = 1
NODE_ARRAYS = ("y", "train_mask", "val_mask", "test_mask")
CHUNK_ROWS = 1 << 16  # feature rows densified / copied per step: bounded memory
CHECK_CHUNK = 1 << 24  # index entries checked per step: a memmap is read in bounded pieces
STRUCTURE = ("indptr", "indices", "values", "x")  # not passed to Graph as attributes


def _array(value) -> np.ndarray:
    return np.asarray(value.detach().numpy() if isinstance(value, Tensor) else value)


def check_csr(indptr, indices, n: int, where: str, op: str = "load_on_disk") -> None:
    """Refuse a CSR that would make kernels read out of bounds (silent garbage or a segfault):
    integer 1-D arrays, ``indptr`` of N + 1 entries from 0 to len(indices) and non-decreasing,
    ``0 <= indices < N``. Vectorised, in chunks, so a memory-mapped file stays O(chunk)."""
    for name, a in (("indptr", indptr), ("indices", indices)):
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise ValueError(f"{op}: expected a 1-D integer array in {where}/{name}.npy (got "
                             f"{a.dtype} of shape {a.shape})")
    if indptr.shape[0] != n + 1 or int(indptr[0]) != 0 or int(indptr[-1]) != indices.shape[0]:
        raise ValueError(f"{op}: expected {where}/indptr.npy to hold {n + 1} entries running "
                         f"from 0 to len(indices)={indices.shape[0]} (got {indptr.shape[0]} "
                         f"entries, {int(indptr[0])} to {int(indptr[-1])})")
    for lo in range(0, indptr.shape[0] - 1, CHECK_CHUNK):
        d = np.diff(np.asarray(indptr[lo:lo + CHECK_CHUNK + 1]))
        if d.size and d.min() < 0:
            at = lo + int(np.argmax(d < 0))
            raise ValueError(f"{op}: expected a non-decreasing {where}/indptr.npy (entry "
                             f"{at + 1} = {int(indptr[at + 1])} < entry {at} = "
                             f"{int(indptr[at])})")
    for lo in range(0, indices.shape[0], CHECK_CHUNK):
        c = np.asarray(indices[lo:lo + CHECK_CHUNK])
        if c.size and (int(c.min()) < 0 or int(c.max()) >= n):
            bad = int(c.min()) if int(c.min()) < 0 else int(c.max())
            raise ValueError(f"{op}: expected {where}/indices.npy entries in [0, {n}) for "
                             f"{n} nodes (got {bad})")


def _write_features(x, path: pathlib.Path, chunk_rows: int) -> None:
    """``x`` -> ``path`` in row chunks (sparse rows densified to float32 one chunk at a time;
    a dense x keeps its dtype and shape)."""
    if isinstance(x, SparseTensor):
        n, f = x.shape[0], x.shape[1]
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, f))
        sx = x.detach().to_scipy().tocsr()
        for lo in range(0, n, chunk_rows):
            out[lo:lo + chunk_rows] = sx[lo:lo + chunk_rows].toarray()
    else:
        a = _array(x)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=a.dtype, shape=a.shape)
        for lo in range(0, a.shape[0], chunk_rows):
            out[lo:lo + chunk_rows] = a[lo:lo + chunk_rows]
    out.flush()
    del out


def _attributes(graph: Graph) -> tuple[dict, list[str]]:
    """Every attribute to store beside the structure and x, as arrays, and the names of those
    that are Tensors (they load back as Tensors); an attribute .npy cannot hold without
    pickling is refused by name (never dropped silently)."""
    out, tensors = {}, []
    for key in graph.keys():
        if key in ("edge_index", "edge_weight", "x"):  # the adjacency's, stored apart
            continue
        value = getattr(graph, key)
        a = _array(value) if isinstance(value, Tensor | np.ndarray | int | float | bool | str
                                        | np.generic) else None  # (a str: from G.graph)
        if a is None or a.dtype.kind not in "biufcUS":
            raise TypeError(f"save_on_disk: cannot store attribute `{key}` of type "
                            f"{type(value).__name__} (expected a numeric, boolean or string "
                            "array); remove it or convert it to an array first")
        out[key] = a
        if isinstance(value, Tensor):
            tensors.append(key)
    return out, tensors


def _batch_record(graph: Graph, attributes: dict) -> dict:
    """A batch's bookkeeping that its arrays do not show: which attributes hold one row per
    graph (``_graph_keys``) and which graphs had given weights (``_weighted_graphs``)."""
    record = {}
    keys = graph.__dict__.get("_graph_keys")
    if keys is not None:
        record["graph_keys"] = sorted(k for k in keys if k in attributes)
    flags = graph.__dict__.get("_weighted_graphs")
    if flags is not None:
        record["weighted_graphs"] = [bool(f) for f in flags]
    index_ptr = graph.__dict__.get("_index_ptr")
    if index_ptr:  # where each graph's node ids lie in a batched `*_index`, for unbatch
        record["index_ptr"] = {k: [int(c) for c in v] for k, v in index_ptr.items()
                               if k in attributes}
    cuts = graph.__dict__.get("_graph_cuts")
    if cuts:  # where each graph's rows of a graph-level attribute lie, and which were 0-d
        record["graph_cuts"] = {k: [[int(c) for c in v[0]], [bool(z) for z in v[1]]]
                                for k, v in cuts.items() if k in attributes}
    incs = graph.__dict__.get("_batch_inc")
    if incs:  # the shift of each graph's ids in a batched `*batch*` attribute
        record["batch_inc"] = {k: [int(i) for i in v] for k, v in incs.items()
                               if k in attributes}
    return record


def save_on_disk(graph, folder, *, chunk_rows: int = CHUNK_ROWS) -> pathlib.Path:
    """Write ``graph`` as memory-mappable .npy files in ``folder`` (replaced atomically).

    Everything goes to a temporary folder beside ``folder`` first, which is then renamed into
    place, so a reader never sees half a graph. ``folder`` may be new, empty, or an earlier
    save (by `save_on_disk` or `synthetic.save`: its meta.json says so), which is renamed
    aside and removed only after the new one is in place. Anything else there (a folder of
    other files, a regular file) is refused and left untouched.

    Args:
        graph: a `Graph` (any arrays, in memory or memory-mapped; a batch keeps batch / ptr).
        folder: destination directory (str or os.PathLike; ``~`` is expanded).
        chunk_rows: feature rows written per step, an int >= 1 (memory stays
            O(chunk_rows x F)).

    Returns:
        The folder path.

    Raises:
        TypeError: not a Graph, a bad ``folder`` / ``chunk_rows``, or an attribute that
            cannot be stored as an array (named).
        ValueError: ``folder`` exists and is not a saved graph (named; nothing is written).
        NotADirectoryError: a folder above ``folder`` is a file.
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"save_on_disk: expected a Graph (got {type(graph).__name__})")
    folder_arg("save_on_disk", "folder", folder)  # a bad folder type before the others
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int | np.integer):
        raise TypeError(f"save_on_disk: expected an int `chunk_rows` >= 1 (got "
                        f"{type(chunk_rows).__name__} {chunk_rows!r})")
    if chunk_rows < 1:
        raise ValueError(f"save_on_disk: expected `chunk_rows` >= 1 (got {chunk_rows})")
    attributes, tensors = _attributes(graph)  # refuse before anything is written
    with store.writing("save_on_disk", folder) as (tmp, folder):
        s = graph.adj.structure
        s = s.to_csr()[0] if s.layout != "csr" else s
        arrays = {"indptr": np.asarray(s.indptr), "indices": np.asarray(s.indices)}
        values = graph.adj.to_csr().values.detach().numpy()
        weighted = is_weighted(graph)
        if weighted or values.ndim != 1 or not bool((values == 1).all()):
            arrays["values"] = values  # given weights, all ones too (and their dtype)
        arrays.update(attributes)  # edge fields are already in the CSR order of `indices`
        for name, a in arrays.items():
            np.save(tmp / f"{name}.npy", a)
        names = list(arrays)
        if graph.x is not None:
            _write_features(graph.x, tmp / "x.npy", chunk_rows)
            names.append("x")
        meta = {"format": FORMAT, "version": VERSION, "num_nodes": graph.num_nodes,
                "num_edges": graph.num_edges, "arrays": sorted(names),
                "tensors": sorted(tensors), "weighted": bool(weighted)}
        meta.update(_batch_record(graph, attributes))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    return folder


def _read_meta(folder: pathlib.Path) -> dict:
    """meta.json as a dict with a list of array names; anything else names the file."""
    path = folder / "meta.json"
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"load_on_disk: {path} is not valid JSON ({exc}); expected the "
                         "meta.json written by save_on_disk") from None
    arrays = meta.get("arrays") if isinstance(meta, dict) else None
    if not isinstance(arrays, list) or not all(isinstance(a, str) and a.isidentifier()
                                               for a in arrays):
        raise ValueError(f"load_on_disk: expected {path} to be an object with a list of array "
                         f"names under \"arrays\" (got {str(meta)[:80]})")
    version = meta.get("version", VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"load_on_disk: expected an integer \"version\" in {path} (got "
                         f"{version!r})")
    tensors = meta.get("tensors", [])
    if not isinstance(tensors, list) or not all(isinstance(t, str) for t in tensors):
        raise ValueError(f"load_on_disk: expected a list of attribute names under \"tensors\" "
                         f"in {path} (got {str(tensors)[:80]})")
    for key, kind, ok in (("graph_keys", "a list of attribute names", lambda v: isinstance(
            v, list) and all(isinstance(k, str) and k in arrays for k in v)),
            ("weighted_graphs", "a list of true / false", lambda v: isinstance(v, list) and all(
                isinstance(f, bool) for f in v)),
            ("weighted", "true or false", lambda v: isinstance(v, bool)),
            ("index_ptr", "an object of attribute names to lists of ints", lambda v: isinstance(
                v, dict) and all(k in arrays and isinstance(c, list) and all(
                    isinstance(i, int) and not isinstance(i, bool) for i in c)
                    for k, c in v.items()))):
        if key in meta and not ok(meta[key]):
            raise ValueError(f"load_on_disk: expected {kind} under \"{key}\" in {path} (got "
                             f"{str(meta[key])[:80]}; the names must be listed arrays)")
    if version > VERSION:
        raise ValueError(f"load_on_disk: {folder} has format version {version}; this "
                         f"sparsegraph reads up to version {VERSION}")
    return meta


def _load_array(path: pathlib.Path, mmap: bool) -> np.ndarray:
    try:
        return load_npy(path, mmap_mode="r" if mmap else None)  # shape checked vs file size
    except FileNotFoundError:
        raise ValueError(f"load_on_disk: meta.json lists {path.name} but {path} is "
                         "missing") from None
    except CORRUPT_DATA as exc:
        raise ValueError(f"load_on_disk: {path} is not a readable .npy array, it is corrupt "
                         f"or truncated ({exc})") from None


def _as_stored(key: str, a: np.ndarray, tensors: set):
    """An attribute that was a Tensor when saved (``tensors``), or one Graph would turn into a
    Tensor, wrapped as one in its stored dtype (no copy: a view of the map); a stored str as a
    str; other attributes as stored."""
    if (key in tensors or key in ("y", "batch") or key.endswith("_mask")
            or key.startswith("edge_")):
        return wrap(np.asarray(a))
    return str(a[()]) if a.ndim == 0 and a.dtype.kind in "US" else a  # a str, e.g. a name


def load_on_disk(folder, mmap: bool = True) -> Graph:
    """The `Graph` stored in ``folder`` by `save_on_disk` (or `synthetic.save`).

    Every array comes back in its stored dtype (a float64 ``x`` stays float64 and
    memory-mapped: it is not converted to Graph's float32 default for new data), so a model
    trains on it exactly as on the graph that was saved. An attribute that was a Tensor when
    saved (a batch's ``ptr``, an extra node or graph array) is a Tensor wrapping the map; one
    that was a numpy array or a Python value comes back as the array. (Folders written before
    meta.json recorded the Tensors load as before: only ``y``, ``batch``, the masks and the
    ``edge_*`` fields are Tensors there.)

    Args:
        folder: the directory (str or os.PathLike; ``~`` is expanded).
        mmap: memory-map the arrays (read-only; pages load on first touch) instead of reading
            them into memory. (default: True)

    Raises:
        FileNotFoundError: no ``meta.json`` in ``folder`` (says what the folder should hold).
        ValueError: corrupt meta.json or .npy files, or arrays that do not form a graph
            (indptr not non-decreasing from 0 to len(indices), indices outside [0, N),
            lengths of x / y / values); the message names the file.
    """
    folder = folder_arg("load_on_disk", "folder", folder)
    if not isinstance(mmap, bool):
        raise TypeError(f"load_on_disk: expected a bool `mmap` (got {type(mmap).__name__} "
                        f"{mmap!r})")
    if not (folder / "meta.json").is_file():
        raise FileNotFoundError(f"load_on_disk: no meta.json in {folder}; expected a folder "
                                "written by sparsegraph.datasets.save_on_disk")
    meta = _read_meta(folder)
    names = set(meta["arrays"])
    missing = {"indptr", "indices"} - names
    if missing:
        raise ValueError(f"load_on_disk: expected arrays indptr and indices in {folder} "
                         f"(missing {sorted(missing)})")
    arrays = {n: _load_array(folder / f"{n}.npy", mmap) for n in names}
    indptr, indices = arrays["indptr"], arrays["indices"]
    n = indptr.shape[0] - 1 if indptr.ndim == 1 else -1
    if meta.get("num_nodes", n) != n:
        raise ValueError(f"load_on_disk: {folder}/meta.json says {meta['num_nodes']} nodes but "
                         f"indptr.npy has {indptr.shape[0]} entries")
    check_csr(indptr, indices, max(n, 0), str(folder))
    s = Structure.csr(indptr, indices, (n, n), op="load_on_disk", validate=False)
    values = arrays.get("values")
    if values is not None and values.shape != (indices.shape[0],):
        raise ValueError(f"load_on_disk: expected {indices.shape[0]} edge values in "
                         f"{folder}/values.npy (got shape {values.shape})")
    adj = SparseTensor(s, wrap(np.ones(s.nnz, np.float32) if values is None else values))
    # Tensors already, so Graph keeps them as stored: its float32 default for new float64
    # data would copy a float64 x into memory and change the dtype the model trains in
    tensors = set(meta.get("tensors", []))
    extra = {k: _as_stored(k, arrays[k], tensors) for k in names if k not in STRUCTURE}
    x = arrays.get("x")
    try:
        g = Graph(x=None if x is None else wrap(np.asarray(x)), adj=adj, **extra)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"load_on_disk: the arrays in {folder} do not form a graph "
                         f"({exc})") from None
    _restore_record(g, meta, folder)
    return g


def _restore_record(g: Graph, meta: dict, folder: pathlib.Path) -> None:
    """The weighted flags and a batch's per-graph attributes, as `save_on_disk` recorded them
    (a folder without the record keeps Graph's defaults: weighted when a value is not 1)."""
    if "weighted" in meta:
        g._weighted = meta["weighted"]
    if "graph_keys" in meta:
        g._graph_keys = tuple(meta["graph_keys"])
    flags = meta.get("weighted_graphs")
    if flags is not None:
        if g.batch is None or len(flags) != g.num_graphs:
            raise ValueError(f"load_on_disk: {folder}/meta.json lists {len(flags)} "
                             f"\"weighted_graphs\" for a graph of {g.num_graphs} graph(s)")
        g._weighted_graphs = tuple(flags)
    index_ptr = meta.get("index_ptr")
    if index_ptr is not None:
        for key, cuts in index_ptr.items():
            value = getattr(g, key, None)
            if (g.batch is None or len(cuts) != g.num_graphs + 1 or value is None
                    or not getattr(value, "shape", ()) or cuts[-1] != value.shape[-1]):
                raise ValueError(f"load_on_disk: {folder}/meta.json's \"index_ptr\" of "
                                 f"`{key}` does not fit the batch ({len(cuts)} offsets for "
                                 f"{g.num_graphs} graph(s))")
        g._index_ptr = {k: tuple(v) for k, v in index_ptr.items()}
    cuts, incs = meta.get("graph_cuts"), meta.get("batch_inc")
    for name, record, size in (("graph_cuts", cuts, lambda v: len(v[0]) - 1),
                               ("batch_inc", incs, len)):
        for key, value in (record or {}).items():
            if g.batch is None or getattr(g, key, None) is None or size(value) != g.num_graphs:
                raise ValueError(f"load_on_disk: {folder}/meta.json's \"{name}\" of `{key}` "
                                 f"does not fit the batch of {g.num_graphs} graph(s)")
    if cuts is not None:
        g._graph_cuts = {k: (tuple(v[0]), tuple(v[1])) for k, v in cuts.items()}
    if incs is not None:
        g._batch_inc = {k: tuple(v) for k, v in incs.items()}
