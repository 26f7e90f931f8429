"""`DenseDataLoader`: mini-batches of densified graphs (`sparsegraph.transforms.ToDense`),
every attribute stacked along a new batch dim (PyG's ``DenseDataLoader``)."""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.creation import rng_of
from sparsegraph.datasets.root import check_bool, check_int
from sparsegraph.graph import Graph
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, wrap
from sparsegraph.transforms.to_dense import DenseGraph

OP = "DenseDataLoader"
# torch DataLoader's arguments accepted for PyG code; batches are made in this process
_WORKER_ARGS = {"num_workers": 0, "pin_memory": False, "persistent_workers": False}
HINT = ("pad every graph to one node count with sparsegraph.transforms.ToDense(num_nodes) "
        "(ToDense() without num_nodes keeps each graph's own size)")


class DenseDataLoader:
    """Batches of `DenseGraph`s (what ``ToDense`` makes), PyG's ``DenseDataLoader``: each
    batch is a `DenseGraph` whose every attribute is the graphs' values stacked along a new
    dim 0, as torch's ``default_collate``: ``x`` ``(B, N, F)``, ``adj`` ``(B, N, N)``,
    ``mask`` ``(B, N)`` bool, a graph label ``y`` of shape ``(1,)`` as ``(B, 1)`` (PyG's
    examples read ``data.y.view(-1)``). Tensors stay differentiable (`sparsegraph.ops.stack`);
    numpy arrays and numbers become Tensors, strings and other values lists.

    The graphs must share their shapes: use ``ToDense(num_nodes)`` with one ``num_nodes``
    for all (e.g. ``TUDataset(..., transform=T.ToDense(max_nodes), pre_filter=...)``).

    Args:
        dataset: a dataset (TUDataset with a ``ToDense`` transform: indexed again for each
            batch, so the transform runs every epoch, as PyG's) or a list of DenseGraphs; any
            other iterable is read once into a list.
        batch_size: graphs per batch, an int >= 1. (default: 1, PyG's)
        shuffle: a new order every epoch, drawn from ``generator`` (a
            `sparsegraph.Generator`), else from one numpy generator seeded once with ``seed``
            (an int >= 0, as `sparsegraph.datasets.GraphLoader`'s), else from sparsegraph's
            global generator (`sparsegraph.manual_seed`), as PyG's from torch's.
        **kwargs: torch DataLoader's ``drop_last``, ``generator``, ``num_workers`` (an int
            >= 0), ``pin_memory``, ``persistent_workers`` (batches are made in this process),
            ``collate_fn`` (ignored, as PyG drops it), and ``seed``.

    Raises:
        TypeError: a keyword argument not among those, a non-int ``batch_size``, a dataset
            element that is not a DenseGraph (a plain Graph: the hint names ``ToDense``).
        ValueError: ``batch_size`` < 1; graphs of one batch with different attributes, or an
            attribute of different shapes (naming it, the graphs and ``ToDense(num_nodes)``).
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, **kwargs):
        unknown = sorted(set(kwargs) - {"drop_last", "generator", "seed", "collate_fn",
                                        *_WORKER_ARGS})
        if unknown:
            raise TypeError(f"{OP}: unexpected keyword argument {unknown[0]!r} (accepted: "
                            "drop_last, generator, seed, num_workers, pin_memory, "
                            "persistent_workers, collate_fn)")
        check_int(OP, "batch_size", batch_size)
        if batch_size < 1:
            raise ValueError(f"{OP}: expected batch_size >= 1 (got {batch_size})")
        check_bool(OP, "shuffle", shuffle)
        self.drop_last = kwargs.get("drop_last", False)
        check_bool(OP, "drop_last", self.drop_last)
        for name, default in _WORKER_ARGS.items():
            value = kwargs.get(name, default)
            (check_int if name == "num_workers" else check_bool)(OP, name, value)
            if name == "num_workers" and value < 0:
                raise ValueError(f"{OP}: expected num_workers >= 0 (got {value})")
        seed, self.generator = kwargs.get("seed"), kwargs.get("generator")
        if seed is not None:
            check_int(OP, "seed", seed)
            if seed < 0:
                raise ValueError(f"{OP}: expected seed >= 0 (got {seed})")
            if self.generator is not None:
                raise TypeError(f"{OP}: expected `seed` or `generator`, not both")
        try:
            rng_of(self.generator)
        except TypeError as exc:
            raise TypeError(f"{OP}: {exc}") from None
        if isinstance(dataset, Graph | DenseGraph | str | bytes) or not hasattr(
                dataset, "__iter__"):
            raise TypeError(f"{OP}: expected a dataset or list of DenseGraphs (got "
                            f"{type(dataset).__name__})")
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            dataset = list(dataset)  # a one-pass iterable
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        rng = self.rng if self.rng is not None else rng_of(self.generator)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            ids = [int(i) for i in order[start:start + self.batch_size]]
            yield collate([self.dataset[i] for i in ids], ids)


def collate(graphs: list, ids: list | None = None) -> DenseGraph:
    """PyG's ``DenseDataLoader`` collate: one `DenseGraph` whose attributes are those of
    ``graphs`` stacked along a new dim 0 (``ids``: the graphs' dataset positions, for the
    messages)."""
    ids = list(range(len(graphs))) if ids is None else ids
    for g, i in zip(graphs, ids, strict=True):
        if not isinstance(g, DenseGraph):
            hint = (" (a sparse Graph: densify it first, e.g. TUDataset(..., "
                    "transform=sparsegraph.transforms.ToDense(max_nodes)))"
                    if isinstance(g, Graph) else "")
            raise TypeError(f"{OP}: expected DenseGraphs, as sparsegraph.transforms.ToDense "
                            f"makes them (got {type(g).__name__} for graph {i}){hint}")
    keys = graphs[0].keys()
    for g, i in zip(graphs, ids, strict=True):
        if g.keys() != keys and set(g.keys()) != set(keys):
            raise ValueError(f"{OP}: expected the graphs of a batch to have the same "
                             f"attributes (graph {ids[0]} has {keys}, graph {i} has "
                             f"{g.keys()})")
    return DenseGraph(**{key: _stacked(key, [g[key] for g in graphs], ids) for key in keys})


def _stacked(key: str, values: list, ids: list):
    """torch's ``default_collate`` of one attribute: arrays stacked, numbers as a Tensor,
    anything else as a list."""
    first = values[0]
    if isinstance(first, Tensor | np.ndarray | SparseTensor):
        for v, i in zip(values, ids, strict=True):
            if isinstance(v, SparseTensor):
                raise TypeError(f"{OP}: cannot stack the sparse `{key}` of graph {i}; make "
                                f"it dense ({key}.to_dense())")
            if type(v) is not type(first):
                raise TypeError(f"{OP}: expected `{key}` of one kind in every graph of a "
                                f"batch (got {type(first).__name__} for graph {ids[0]} and "
                                f"{type(v).__name__} for graph {i})")
            if tuple(v.shape) != tuple(first.shape):
                raise ValueError(f"{OP}: expected `{key}` of one shape in every graph of a "
                                 f"batch to stack them (got {tuple(first.shape)} for graph "
                                 f"{ids[0]} and {tuple(v.shape)} for graph {i}); {HINT}")
        return ops.stack(values) if isinstance(first, Tensor) else wrap(np.stack(values))
    if all(isinstance(v, bool | np.bool_) for v in values):
        return wrap(np.asarray(values, np.bool_))
    if all(isinstance(v, int | np.integer) for v in values):
        return wrap(np.asarray(values, np.int64))
    if all(isinstance(v, int | float | np.number) for v in values):
        return wrap(np.asarray(values, np.float64))
    return list(values)
