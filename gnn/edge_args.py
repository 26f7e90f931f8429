"""Argument handling shared by the functional ``torch_geometric.utils`` ports
(gnn/graph_predicates.py, edge_index_utils.py, edge_conversion.py, edge_random.py,
graph_generators.py): an ``edge_index`` read on the host with the caller's index dtype, a node
count checked against it, edge values kept as Tensors (their gradient flows through
`sparsegraph.ops.gather_rows`), and results placed back on the input's device."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.sparse import SparseTensor
from sparsegraph.sparse_checks import as_index_array
from sparsegraph.tensor import Tensor, host_values, wrap
from sparsegraph.transforms.base import check_bool as flag  # noqa: F401  (the layers' bool check)

# PyG's sentinel for "edge_attr not passed" (sort_edge_index returns edge_index alone then)
MISSING = "???"


def host_array(op: str, name: str, value, kinds: str = "iu"):
    """``(numpy array, device)`` of ``value`` (a Tensor, a numpy / cupy array or nested
    lists) read on the host; TypeError naming ``name`` for another type or dtype kind."""
    if isinstance(value, SparseTensor):  # PyG's functions also take torch_sparse adjacencies
        raise TypeError(f"{op}: expected `{name}` to be a Tensor or an array (got a "
                        "SparseTensor); pass its (2, E) edge_index, "
                        "sparsegraph.gnn.to_edge_index(adj), or use the SparseTensor "
                        "functions of sparsegraph.ops (add_self_loops, to_undirected, ...)")
    if isinstance(value, Tensor):
        device = value.device
    elif hasattr(value, "dtype") and hasattr(value, "shape"):
        device = backend.device_of(value)
    elif isinstance(value, list | tuple):
        device = backend.CPU
    else:
        raise TypeError(f"{op}: expected `{name}` to be a Tensor or an array (got "
                        f"{type(value).__name__})")
    array = host_values(value, f"{op}: `{name}` read on the host")
    array = (backend.to_device(array, "cpu") if hasattr(array, "dtype")
             else as_index_array(op, name, array))
    array = np.asarray(array)
    if array.dtype.kind not in kinds:
        what = {"iu": "an integer", "b": "a bool", "biu": "an integer or bool"}.get(
            kinds, "a numeric")
        raise TypeError(f"{op}: expected `{name}` with {what} dtype (got {array.dtype})")
    return array, device


def check_sorted_batch(op: str, b: np.ndarray) -> None:
    """A batch vector must be sorted (non-decreasing), as PyG requires; else a ValueError
    naming the first place it goes down."""
    down = np.flatnonzero(b[1:] < b[:-1])
    if down.size:
        i = int(down[0])
        raise ValueError(f"{op}: expected `batch` sorted (non-decreasing), as PyG requires "
                         f"(got {int(b[i])} then {int(b[i + 1])} at positions {i}, {i + 1})")


def index_dtype(array) -> np.dtype:
    """The caller's index dtype when it is int32 or int64, else int64 (PyG's long)."""
    return array.dtype if array.dtype in (np.int32, np.int64) else np.dtype(np.int64)


def edge_index_array(op: str, edge_index):
    """``(ei, device)``: a ``(2, E)`` non-negative integer edge_index on the host, in the
    caller's dtype when int32 / int64 (int64 otherwise)."""
    ei, device = host_array(op, "edge_index", edge_index)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"{op}: expected `edge_index` of shape (2, E) (got {ei.shape})")
    if ei.size and int(ei.min()) < 0:
        raise ValueError(f"{op}: expected non-negative node ids in `edge_index` (got "
                         f"{int(ei.min())})")
    return ei.astype(index_dtype(ei), copy=False), device


def count(op: str, name: str, value, minimum: int = 0):
    """An int >= ``minimum`` (None passes through)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{op}: expected `{name}` to be an int >= {minimum} (got {value!r})")
    return int(value)


def node_count(op: str, ei, num_nodes, name: str = "num_nodes") -> int:
    """``num_nodes`` checked against the ids of ``ei`` (any integer array), or PyG's
    ``maybe_num_nodes``: ``max + 1`` (0 without edges)."""
    n = count(op, name, num_nodes)
    top = int(ei.max()) if ei.size else -1
    if n is None:
        return top + 1
    if top >= n:
        raise ValueError(f"{op}: expected `edge_index` node ids below {name}={n} (got {top})")
    return n


def probability(op: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{op}: expected `{name}` to be a probability in [0, 1] (got "
                         f"{value!r})")
    return float(value)


def edge_values(op: str, name: str, value, num_edges: int):
    """``value`` as a Tensor with one row per edge (None passes through); a numpy array is
    wrapped, a Tensor kept with its gradient."""
    if value is None:
        return None
    if not isinstance(value, Tensor):
        if not (hasattr(value, "dtype") and hasattr(value, "shape")):
            raise TypeError(f"{op}: expected `{name}` to be a Tensor (got "
                            f"{type(value).__name__})")
        value = wrap(np.asarray(value) if isinstance(value, np.ndarray) else value)
    if value.ndim < 1 or value.shape[0] != num_edges:
        raise ValueError(f"{op}: expected `{name}` with {num_edges} rows, one per edge of "
                         f"`edge_index` (got shape {tuple(value.shape)})")
    return value


def take(values, index):
    """Rows ``index`` of an edge-value Tensor (None passes through), differentiably."""
    if values is None:
        return None
    return ops.gather_rows(values, np.asarray(index, dtype=np.int64))


def out(array, device) -> Tensor:
    """A host numpy result as a Tensor on ``device``."""
    return wrap(backend.to_device(np.ascontiguousarray(array), device))
