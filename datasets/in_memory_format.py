"""`InMemoryDataset`'s collated form and its processed file: a list of Graphs as one batch
plus ``slices`` (PyG's ``collate``), and as the pickle-free record `InMemoryDataset.save`
writes with `sparsegraph.save` (one ``.npz``, written atomically) and `InMemoryDataset.load`
reads back.

The record holds, as PyG's ``(data, slices)``, every attribute of all graphs concatenated
once (never one member per graph):

- ``num_nodes`` ``(G,)``; ``edge_index`` ``(2, E)`` of each graph's own node ids in its CSR
  order, cut by ``edge_slices`` ``(G + 1,)``; ``weighted`` ``(G,)`` and, when some graph has
  given weights, ``edge_weight`` ``(E,)``;
- ``arrays``: per array attribute (``x``, ``y``, ``edge_attr``, masks, any other), the graphs'
  values flattened and concatenated (``data``), each graph's ``shape`` (``(G, D)``, padded
  with 1 past its ``ndim``) and whether it was a Tensor or a numpy array;
- ``values``: per attribute that is not an array (a name, a count), the list of the graphs'
  values (numbers, strings, None and containers of them, as `sparsegraph.save` stores).

Rebuilding a graph goes through the `Graph` constructor, so a damaged file is refused with
the constructor's checks rather than loaded into a graph that is not one.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sparsegraph.graph import Graph
from sparsegraph.graph_batch import _common_dtype
from sparsegraph.graph_fields import CORE_FIELDS, _np, is_index_key
from sparsegraph.graph_ops import is_weighted
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, wrap

FORMAT = "sparsegraph.InMemoryDataset"
VERSION = 1
SKIP = ("num_nodes", "adj")  # the structure: stored as edge_index / edge_weight
SCALARS = (str, int, float, bool, np.generic, type(None))


def check_graphs(op: str, data_list) -> list[Graph]:
    """``data_list`` (a list, tuple or other iterable of Graphs) as a non-empty list of single
    (not batched) Graphs; a TypeError names the first item that is not one."""
    if isinstance(data_list, Graph):
        raise TypeError(f"{op}: expected `data_list` to be a list of Graphs (got one Graph; "
                        "pass [g])")
    if isinstance(data_list, str | bytes) or not isinstance(data_list, Iterable):
        raise TypeError(f"{op}: expected `data_list` to be a list of Graphs (got "
                        f"{type(data_list).__name__})")
    graphs = list(data_list)
    if not graphs:
        raise ValueError(f"{op}: expected `data_list` to hold at least one Graph (got an empty "
                         f"{type(data_list).__name__})")
    for i, g in enumerate(graphs):
        if not isinstance(g, Graph):
            raise TypeError(f"{op}: expected `data_list` to hold Graphs (got "
                            f"{type(g).__name__} at position {i})")
        if g.__dict__.get("ptr") is not None:
            raise TypeError(f"{op}: expected single graphs in `data_list` (got a batch of "
                            f"{g.num_graphs} graphs at position {i}; pass g.to_data_list())")
    return graphs


def collate(op: str, data_list) -> tuple[Graph, dict | None]:
    """PyG's ``InMemoryDataset.collate``: one graph comes back as it is with ``slices`` None;
    several as their `Graph.batch` and ``slices``, key -> ``(G + 1,)`` int64 Tensor of where
    each graph's rows (its columns for node ids, ``*_index``) start in the batched attribute
    (``edge_index`` and ``edge_*`` by edge; a value that is not an array by graph), for the
    keys the graphs hold (as PyG's: no ``edge_attr`` entry when no graph has one). The batch
    records the attributes that were numpy arrays on every graph (``_numpy_keys``): `numpy_parts`
    hands each graph its part as a numpy array again, as PyG keeps such values as they are."""
    graphs = check_graphs(op, data_list)
    if len(graphs) == 1:
        return graphs[0], None
    data = Graph.batch(graphs)
    counts = {"edge_index": [g.num_edges for g in graphs]}
    numpy_keys = []
    for key in _keys(graphs):
        values = [g.__dict__.get(key) for g in graphs]
        if all(v is None for v in values):
            continue
        if key.startswith("edge_"):
            counts[key] = counts["edge_index"]
        elif all(isinstance(v, Tensor | SparseTensor | np.ndarray) for v in values):
            axis = -1 if is_index_key(key) else 0
            counts[key] = [v.shape[axis] if len(v.shape) else 1 for v in values]
        else:
            counts[key] = [1] * len(graphs)
        if all(isinstance(v, np.ndarray) for v in values):
            numpy_keys.append(key)
    data.__dict__["_numpy_keys"] = tuple(numpy_keys)
    slices = {k: wrap(np.concatenate([[0], np.cumsum(c)]).astype(np.int64))
              for k, c in counts.items()}
    return data, slices


def numpy_parts(data: Graph, graphs: list[Graph]) -> list[Graph]:
    """``graphs`` (``data.unbatch()``) with the attributes `collate` found as numpy arrays on
    every graph made numpy arrays again (a Tensor assigned to ``data`` since included)."""
    for key in data.__dict__.get("_numpy_keys", ()):
        for g in graphs:
            if isinstance(g.__dict__.get(key), Tensor):
                g.__dict__[key] = _np(g.__dict__[key])
    return graphs


def _keys(graphs) -> list[str]:
    """Every attribute name of any graph, in first-seen order (structure and private ones
    aside)."""
    keys = dict.fromkeys(k for g in graphs for k in g.__dict__)
    return [k for k in keys if k not in SKIP and not k.startswith("_")]


def _flat(value) -> np.ndarray:
    return np.ascontiguousarray(_np(value)).reshape(-1)


def _concat(values) -> np.ndarray | None:
    """``values`` flattened and concatenated in the dtype `Graph.batch` gives them (PyTorch's
    promotion, as ``torch.cat``: int64 with float32 is float32, not numpy's float64)."""
    if not values:
        return None
    dtype = _common_dtype(values)
    return np.concatenate([_flat(v).astype(dtype, copy=False) for v in values])


def to_record(op: str, data_list) -> dict:
    """The record of ``data_list`` (module docstring). The graphs are collated first, so a
    list `Graph.batch` refuses (an attribute on some graphs only, of other widths) is refused
    here too, before anything is written, rather than found when the file is loaded."""
    graphs = check_graphs(op, data_list)
    Graph.batch(graphs)  # the consistency checks of collate: the file must load and batch
    num_edges = np.array([g.num_edges for g in graphs], np.int64)
    weighted = np.array([is_weighted(g) for g in graphs], bool)
    record = {
        "format": FORMAT, "version": VERSION,
        "num_nodes": np.array([g.num_nodes for g in graphs], np.int64),
        "edge_index": np.concatenate([_np(g.edge_index).astype(np.int64) for g in graphs],
                                     axis=1),
        "edge_slices": np.concatenate([[0], np.cumsum(num_edges)]).astype(np.int64),
        "weighted": weighted,
        "edge_weight": _concat([g.adj.values for g in graphs]) if weighted.any() else None,
        "arrays": {}, "values": {},
    }
    for key in _keys(graphs):
        values = [g.__dict__.get(key) for g in graphs]
        if all(v is None for v in values) and key in CORE_FIELDS:
            continue  # unset: the constructor's default
        for i, v in enumerate(values):
            if isinstance(v, SparseTensor):
                raise TypeError(f"{op}: cannot store the sparse attribute `{key}` of graph {i}; "
                                f"make it dense first (g.{key} = g.{key}.to_dense())")
        if all(isinstance(v, Tensor | np.ndarray) for v in values):
            record["arrays"][key] = _array_record(op, key, values)
        else:
            for i, v in enumerate(values):
                if not isinstance(v, SCALARS + (list, tuple, dict)):
                    raise TypeError(f"{op}: cannot store attribute `{key}` of graph {i}, a "
                                    f"{type(v).__name__}, without pickle (expected an array, a "
                                    "number, a str or None); convert it or delete it first")
            record["values"][key] = values
    return record


def _array_record(op: str, key: str, values) -> dict:
    for i, v in enumerate(values):
        if v.dtype.kind not in "biuf":
            raise TypeError(f"{op}: cannot store attribute `{key}` of graph {i}, an array of "
                            f"dtype {v.dtype} (expected a numeric or boolean array)")
    depth = max(len(v.shape) for v in values)
    shapes = np.ones((len(values), max(depth, 1)), np.int64)
    for i, v in enumerate(values):
        shapes[i, :len(v.shape)] = v.shape
    return {"data": _concat(values),
            "shape": shapes, "ndim": np.array([len(v.shape) for v in values], np.int64),
            "tensor": np.array([isinstance(v, Tensor) for v in values], bool)}


def _int_array(record: dict, key: str, shape: tuple) -> np.ndarray:
    a = record[key]
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "iu" or a.shape != shape:
        raise ValueError(f"`{key}` is not an integer array of shape {shape}")
    return a


def _structure(record: dict):
    """``num_nodes``, ``edge_slices``, ``edge_index``, ``weighted`` and ``edge_weight`` of
    ``record``, checked against each other (a ValueError names the first that is wrong)."""
    num_nodes = record["num_nodes"]
    if (not isinstance(num_nodes, np.ndarray) or num_nodes.ndim != 1
            or num_nodes.dtype.kind not in "iu" or num_nodes.min(initial=0) < 0):
        raise ValueError("`num_nodes` is not a 1-D array of node counts >= 0")
    n = num_nodes.shape[0]
    cuts = _int_array(record, "edge_slices", (n + 1,))
    edge_index = _int_array(record, "edge_index", (2, int(cuts[-1])))
    weighted, weights = record["weighted"], record["edge_weight"]
    if not isinstance(weighted, np.ndarray) or weighted.dtype != bool or weighted.shape != (n,):
        raise ValueError(f"`weighted` is not a boolean array of shape ({n},)")
    if weights is None and weighted.any():
        raise ValueError(f"graph {int(np.argmax(weighted))} is marked weighted but there is no "
                         "`edge_weight`")
    if weights is not None and (not isinstance(weights, np.ndarray)
                                or weights.dtype.kind not in "biuf"
                                or weights.shape != (edge_index.shape[1],)):
        raise ValueError("`edge_weight` does not hold one number per edge")
    return num_nodes, cuts, edge_index, weighted, weights


def from_record(record) -> list[Graph]:
    """The graphs of a record written by `to_record`. A record that is not one, or whose
    arrays do not form graphs, is a ValueError (the caller names the file)."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ValueError("it holds no InMemoryDataset record (written by another program?)")
    if not isinstance(record.get("version"), int) or record["version"] > VERSION:
        raise ValueError(f"its format version {record.get('version')!r} is newer than this "
                         f"sparsegraph reads ({VERSION})")
    num_nodes, cuts, edge_index, weighted, weights = _structure(record)
    n = num_nodes.shape[0]
    arrays = {key: _split(key, a, n) for key, a in record["arrays"].items()}
    values = record["values"]
    for key, v in values.items():
        if not isinstance(v, list) or len(v) != n:
            raise ValueError(f"attribute `{key}` does not hold one value per graph")
    graphs = []
    for i in range(n):
        e0, e1 = int(cuts[i]), int(cuts[i + 1])
        attrs = {key: parts[i] for key, parts in arrays.items()}
        attrs.update((key, v[i]) for key, v in values.items())
        # a Tensor keeps the stored dtype (float64 too); Graph makes numpy float64 float32
        graphs.append(Graph(edge_index=edge_index[:, e0:e1], num_nodes=int(num_nodes[i]),
                            edge_weight=wrap(weights[e0:e1]) if weighted[i] else None,
                            **attrs))
    return graphs


def _split(key: str, a: dict, n: int) -> list:
    """Each graph's value of the array attribute ``key`` from its record ``a``."""
    shapes, ndims, tensors, data = a["shape"], a["ndim"], a["tensor"], a["data"]
    arrays = (shapes, ndims, tensors, data)
    if (not all(isinstance(x, np.ndarray) for x in arrays) or shapes.ndim != 2
            or shapes.shape[0] != n or ndims.shape != (n,) or tensors.shape != (n,)
            or data.ndim != 1 or shapes.dtype.kind not in "iu" or ndims.dtype.kind not in "iu"
            or tensors.dtype != bool or shapes.min(initial=0) < 0):
        raise ValueError(f"attribute `{key}` does not hold one array per graph")
    depth = shapes.shape[1]
    if n and (ndims.min() < 0 or ndims.max() > depth):
        raise ValueError(f"attribute `{key}` has an `ndim` outside [0, {depth}] (got "
                         f"{ndims.min() if ndims.min() < 0 else ndims.max()})")
    if (shapes[np.arange(depth) >= ndims[:, None]] != 1).any():
        raise ValueError(f"attribute `{key}` has sizes past its `ndim` that are not 1")
    ends = np.cumsum(np.prod(shapes, axis=1))
    if (ends[-1] if n else 0) != data.shape[0]:
        raise ValueError(f"attribute `{key}` holds {data.shape[0]} values, its shapes "
                         f"{ends[-1] if n else 0}")
    starts = ends - np.prod(shapes, axis=1)
    out = []
    for i in range(n):
        part = data[starts[i]:ends[i]].reshape(tuple(shapes[i, :ndims[i]]))
        out.append(wrap(part) if tensors[i] else part)
    return out
