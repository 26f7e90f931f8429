"""`GraphLoader`: mini-batches of graphs as block-diagonal `Graph.batch` results (PyG's
``DataLoader``)."""

from __future__ import annotations

import copy

import numpy as np

from sparsegraph.creation import rng_of
from sparsegraph.datasets.root import check_bool, check_int
from sparsegraph.graph import Graph, graph_list
from sparsegraph.tensor import wrap


class GraphLoader:
    """Mini-batches of graphs as block-diagonal `Graph.batch` results (with ``batch`` / ``ptr``).

    Args:
        graphs: a list (or TUDataset, or any iterable) of Graphs, checked here; a
            TUDataset's are taken as the shallow copies it iterates over, so the loader
            never holds (or hands out) the dataset's own Graph objects.
        batch_size: graphs per batch, an int >= 1.
        shuffle: draw a new order every epoch. With a ``seed``, the orders come from one
            generator seeded once with it and advanced by each epoch, so a new loader with
            the same seed repeats the same sequence of epochs; without one, each epoch draws
            its order from sparsegraph's global generator (`sparsegraph.manual_seed`), as
            PyG's DataLoader draws from torch's.
        seed: an int >= 0, or None (default): the global generator.
        drop_last: skip the last batch when it holds fewer than ``batch_size`` graphs.
        follow_batch: PyG's: attribute names ``key`` whose rows get a ``{key}_batch`` vector
            (row -> graph), as ``batch`` is for the nodes (pairs of node sets: ``x_s``).
        exclude_keys: PyG's: attribute names left out of the batches.
        num_workers, pin_memory, persistent_workers: torch DataLoader's, accepted for PyG
            code (``num_workers`` an int >= 0): batches are made in this process, as with
            ``num_workers=0``.

    Attributes:
        dataset: ``graphs`` as given (a TUDataset, a list), as PyG's ``loader.dataset``
            (``len(loader.dataset)`` graphs); for a one-pass iterable, the list of its graphs.
        graphs: the list of Graphs the batches are made of (a dataset with a ``transform`` is
            indexed again for each batch instead, so the transform runs every epoch, as PyG's).
        rng: the numpy Generator seeded once with ``seed`` that every epoch's order advances
            (None without a seed: each epoch draws from the global generator).
    """

    def __init__(self, graphs, batch_size: int = 32, shuffle: bool = False, seed=None, *,
                 drop_last: bool = False, follow_batch=None, exclude_keys=None,
                 num_workers: int = 0, pin_memory: bool = False,
                 persistent_workers: bool = False):
        dataset = graphs
        graphs = graph_list("GraphLoader", graphs)  # any iterable: a TUDataset yields copies
        check_int("GraphLoader", "batch_size", batch_size)
        if batch_size < 1:
            raise ValueError(f"GraphLoader: expected batch_size >= 1 (got {batch_size})")
        check_bool("GraphLoader", "shuffle", shuffle)
        check_bool("GraphLoader", "drop_last", drop_last)
        if seed is not None:
            check_int("GraphLoader", "seed", seed)
            if seed < 0:
                raise ValueError(f"GraphLoader: expected seed >= 0 (got {seed})")
        self.graphs, self.batch_size, self.shuffle = graphs, batch_size, shuffle
        # what was passed when it can be read again (a dataset or list), as PyG keeps it
        self.dataset = (dataset if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")
                        else graphs)
        self.drop_last = drop_last
        self.follow_batch = _names("follow_batch", follow_batch)
        self.exclude_keys = _names("exclude_keys", exclude_keys)
        check_int("GraphLoader", "num_workers", num_workers)
        if num_workers < 0:
            raise ValueError(f"GraphLoader: expected num_workers >= 0 (got {num_workers})")
        check_bool("GraphLoader", "pin_memory", pin_memory)
        check_bool("GraphLoader", "persistent_workers", persistent_workers)
        # None: each epoch's order is drawn from the global generator when it starts
        self.rng = None if seed is None else np.random.default_rng(seed)

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.graphs) // self.batch_size
        return -(-len(self.graphs) // self.batch_size)

    def __iter__(self):
        rng = rng_of(None) if self.rng is None else self.rng
        order = rng.permutation(len(self.graphs)) if self.shuffle else np.arange(len(self.graphs))
        # a dataset's transform runs on every access (PyG's loader indexes the dataset), so
        # random transforms draw afresh each epoch
        source = self.dataset if getattr(self.dataset, "transform", None) else self.graphs
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._collate([source[int(i)] for i in order[start:start + self.batch_size]])

    def _collate(self, graphs: list) -> Graph:
        """`Graph.batch` of ``graphs`` without ``exclude_keys``, with ``follow_batch``'s
        ``{key}_batch`` vectors."""
        if self.exclude_keys:
            graphs = [copy.copy(g) for g in graphs]
            for g in graphs:
                for key in self.exclude_keys:
                    if key in g:
                        del g[key]
        batch = Graph.batch(graphs)
        for key in self.follow_batch:
            # PyG makes one for the keys the graphs hold (not an excluded or absent one)
            if key in self.exclude_keys or not all(key in g for g in graphs):
                continue
            rows = [g[key].shape[0] if getattr(g[key], "ndim", 0) else 1 for g in graphs]
            batch[f"{key}_batch"] = wrap(np.repeat(np.arange(len(graphs)), rows))
        return batch


def _names(name: str, keys) -> list[str]:
    """``follow_batch`` / ``exclude_keys``: a list (or tuple) of attribute names, or None."""
    keys = [] if keys is None else keys
    if isinstance(keys, str) or not isinstance(keys, list | tuple) or not all(
            isinstance(k, str) for k in keys):
        raise TypeError(f"GraphLoader: expected `{name}` to be a list of attribute names "
                        f"(got {keys!r})")
    return list(keys)
