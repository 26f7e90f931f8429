"""Graphs on disk: CSR structure and node arrays as .npy files, loaded memory-mapped.

A graph bigger than RAM trains from such a folder: `load_on_disk` maps every array
(``np.load(mmap_mode="r")``), so only the pages a computation touches are read, and a
`NeighborLoader` gathers each batch's feature rows ``x[n_id]`` from the map. The folder holds
one ``NAME.npy`` per array plus ``meta.json``; the layout is the one
`sparsegraph.datasets.synthetic.save` writes, so synthetic preset caches load here too.

Arrays: ``indptr`` (N + 1,), ``indices`` (E,) — the target-major CSR (row = target);
``values`` (E,) edge weights, only when not all ones; ``x`` (N, F) float32 (sparse features
are stored densified, written in row chunks); ``y`` and boolean ``train_mask`` / ``val_mask``
/ ``test_mask`` (``(N,)`` or ``(num_splits, N)``) when the graph has them; the per-edge
``edge_attr`` (E, D) and ``edge_<name>`` arrays, in the CSR's edge order, when it has them.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile

import numpy as np

from sparsegraph.graph import Graph
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor, wrap

FORMAT = "sparsegraph-ondisk"
VERSION = 1
NODE_ARRAYS = ("y", "train_mask", "val_mask", "test_mask")
CHUNK_ROWS = 1 << 16  # feature rows densified / copied per step: bounded memory


def _array(value) -> np.ndarray:
    return np.asarray(value.array if isinstance(value, Tensor) else value)


def _write_features(x, path: pathlib.Path, chunk_rows: int) -> None:
    """``x`` -> float32 ``path`` in row chunks (sparse rows densified one chunk at a time)."""
    n, f = x.shape[0], (x.shape[1] if len(x.shape) > 1 else 1)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, f))
    if isinstance(x, SparseTensor):
        sx = x.detach().to_scipy().tocsr()
        for lo in range(0, n, chunk_rows):
            out[lo:lo + chunk_rows] = sx[lo:lo + chunk_rows].toarray()
    else:
        a = _array(x).reshape(n, f)
        for lo in range(0, n, chunk_rows):
            out[lo:lo + chunk_rows] = a[lo:lo + chunk_rows]
    out.flush()
    del out


def save_on_disk(graph, folder, *, chunk_rows: int = CHUNK_ROWS) -> pathlib.Path:
    """Write ``graph`` as memory-mappable .npy files in ``folder`` (replaced atomically).

    Everything goes to a temporary folder beside ``folder`` first, which is then renamed into
    place, so a reader never sees half a graph (an existing ``folder`` is swapped out and
    removed only after the rename).

    Args:
        graph: a `Graph` (any arrays, in memory or memory-mapped).
        folder: destination directory.
        chunk_rows: feature rows written per step (memory stays O(chunk_rows x F)).

    Returns:
        The folder path.
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"save_on_disk: expected a Graph (got {type(graph).__name__})")
    folder = pathlib.Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    old = None
    try:
        s = graph.adj.structure
        s = s.to_csr()[0] if s.layout != "csr" else s
        arrays = {"indptr": np.asarray(s.indptr), "indices": np.asarray(s.indices)}
        values = graph.adj.to_csr().values.detach().numpy()
        if values.ndim != 1 or not bool((values == 1).all()):
            arrays["values"] = values
        for name, a in arrays.items():
            np.save(tmp / f"{name}.npy", a)
        names = list(arrays)
        if graph.x is not None:
            _write_features(graph.x, tmp / "x.npy", chunk_rows)
            names.append("x")
        edge_fields = graph._edge_fields()  # in the CSR order of `indices`
        for name in (*NODE_ARRAYS, *sorted(edge_fields)):
            value = getattr(graph, name, None)
            if value is not None:
                np.save(tmp / f"{name}.npy", _array(value))
                names.append(name)
        meta = {"format": FORMAT, "version": VERSION, "num_nodes": graph.num_nodes,
                "num_edges": graph.num_edges, "arrays": sorted(names)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if folder.exists():
            old = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, old / "graph")
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def load_on_disk(folder, mmap: bool = True) -> Graph:
    """The `Graph` stored in ``folder`` by `save_on_disk` (or `synthetic.save`).

    Args:
        folder: the directory.
        mmap: memory-map the arrays (read-only; pages load on first touch) instead of reading
            them into memory. (default: True)

    Raises:
        FileNotFoundError: no ``meta.json`` in ``folder`` (says what the folder should hold).
        ValueError: arrays that do not form a graph (lengths of indptr / indices / x / y).
    """
    folder = pathlib.Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"load_on_disk: no meta.json in {folder}; expected a folder "
                                "written by sparsegraph.datasets.save_on_disk")
    meta = json.loads(meta_path.read_text())
    if meta.get("version", VERSION) > VERSION:
        raise ValueError(f"load_on_disk: {folder} has format version {meta['version']}; this "
                         f"sparsegraph reads up to version {VERSION}")
    names = set(meta["arrays"])
    missing = {"indptr", "indices"} - names
    if missing:
        raise ValueError(f"load_on_disk: expected arrays indptr and indices in {folder} "
                         f"(missing {sorted(missing)})")
    arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r" if mmap else None,
                         allow_pickle=False) for n in names}
    indptr, indices = arrays["indptr"], arrays["indices"]
    n = indptr.shape[0] - 1
    # cheap O(1) checks only: a full index check would read the whole (maybe huge) file
    if n < 0 or int(indptr[0]) != 0 or int(indptr[-1]) != indices.shape[0]:
        raise ValueError(f"load_on_disk: expected indptr to run from 0 to len(indices)="
                         f"{indices.shape[0]} in {folder} (got {int(indptr[0]) if n >= 0 else None}"
                         f" to {int(indptr[-1]) if n >= 0 else None})")
    if meta.get("num_nodes", n) != n:
        raise ValueError(f"load_on_disk: meta.json says {meta['num_nodes']} nodes but indptr "
                         f"has {n + 1} entries in {folder}")
    s = Structure.csr(indptr, indices, (n, n), op="load_on_disk", validate=False)
    values = arrays.get("values")
    if values is not None and values.shape[0] != indices.shape[0]:
        raise ValueError(f"load_on_disk: expected {indices.shape[0]} edge values (got "
                         f"{values.shape[0]})")
    adj = SparseTensor(s, wrap(np.ones(s.nnz, np.float32) if values is None else values))
    extra = {k: arrays[k] for k in names if k in NODE_ARRAYS or k.startswith("edge_")}
    return Graph(x=arrays.get("x"), adj=adj, **extra)
