"""`RandomNodeSplit`: random train / validation / test node masks (PyG's)."""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.tensor import Tensor
from sparsegraph.transforms.base import (
    BaseTransform,
    check_count,
    check_int,
    check_str,
    on_graph,
    random_state,
)

SPLITS = ("train_rest", "test_rest", "random")


def _size(count, total: int) -> int:
    return round(total * count) if isinstance(count, float) else count


def _labels(data, key):
    """The labels as a host array, or None without ``key`` (or without that attribute)."""
    y = None if key is None else getattr(data, key, None)
    if y is None:
        return None
    return np.asarray(backend.to_device(y.detach().array if isinstance(y, Tensor) else y,
                                        "cpu"))


class RandomNodeSplit(BaseTransform):
    """Random ``train_mask`` / ``val_mask`` / ``test_mask`` (PyG's ``RandomNodeSplit``).

    * ``"train_rest"``: ``num_val`` and ``num_test`` random nodes, the rest train.
    * ``"test_rest"``: ``num_train_per_class`` random nodes of each class train (all of a
      smaller class), ``num_val`` of the others validate, the rest test.
    * ``"random"``: as ``"test_rest"`` but ``num_test`` test nodes, the rest in no mask.

    Unlike PyG, nodes labelled -1 (sparsegraph's "unlabelled", e.g. CiteSeer's padded test
    ids; PyG has no such label) are in no mask, and a float ``num_val`` / ``num_test`` is a
    fraction of the labelled nodes; with every node labelled both are PyG's. A graph without
    the attribute ``key`` is returned unchanged, as in PyG.

    Args:
        split: ``"train_rest"``, ``"test_rest"`` or ``"random"``. (default: "train_rest")
        num_splits: how many splits; above 1 the masks are ``(num_splits, N)``, Graph's shape
            for several splits (PyG's are ``(N, num_splits)``). (default: 1)
        num_train_per_class: training nodes per class of the per-class splits. (default: 20)
        num_val / num_test: a count, or a float fraction in [0, 1] (rounded, as PyG).
            (default: 500 / 1000)
        key: the labels' attribute (``None``: every node, ``"train_rest"`` only).
        seed: an int: the same split on every call (a transform runs on every access of a
            dataset); else ``generator`` (a `sparsegraph.Generator`), else the global one
            (`sparsegraph.manual_seed`), as PyG draws from torch's.

    Raises:
        ValueError: more validation / test nodes asked for than the graph has to give, or
            per-class splits without 1-D integer class labels.
    """

    def __init__(self, split: str = "train_rest", num_splits: int = 1,
                 num_train_per_class: int = 20, num_val=500, num_test=1000, key="y", *,
                 seed=None, generator=None):
        op = "RandomNodeSplit"
        self.split = check_str(op, "split", split, SPLITS)
        self.num_splits = check_int(op, "num_splits", num_splits, low=1)
        self.num_train_per_class = check_int(op, "num_train_per_class", num_train_per_class)
        self.num_val = check_count(op, "num_val", num_val)
        self.num_test = check_count(op, "num_test", num_test)
        if key is not None and not isinstance(key, str):
            raise TypeError(f"{op}: expected `key` to be an attribute name or None (got "
                            f"{key!r})")
        if key is None and split != "train_rest":
            raise ValueError(f"{op}: split={split!r} draws training nodes per class: it needs "
                             "the labels' attribute as `key` (got None)")
        self.key, self.seed, self.generator = key, seed, generator
        random_state(op, seed, generator)  # checked now, drawn from on each call

    def forward(self, data):
        if self.key is not None and getattr(data, self.key, None) is None:
            return data
        y = _labels(data, self.key)
        integer = y is not None and y.ndim == 1 and y.dtype.kind in "iu"
        if self.split != "train_rest" and not integer:
            raise ValueError(f"RandomNodeSplit: split={self.split!r} expects 1-D integer class "
                             f"labels in `{self.key}` (got "
                             f"{'shape ' + str(y.shape) if y.ndim != 1 else y.dtype})")
        nodes = np.flatnonzero(y >= 0) if integer else np.arange(data.num_nodes)
        rng = random_state("RandomNodeSplit", self.seed, self.generator)
        masks = np.zeros((3, self.num_splits, data.num_nodes), bool)
        for s in range(self.num_splits):
            for m, ids in zip(masks, self._split(rng, nodes, y), strict=True):
                m[s, ids] = True
        for name, m in zip(("train_mask", "val_mask", "test_mask"), masks, strict=True):
            setattr(data, name, on_graph(m[0] if self.num_splits == 1 else m, data))
        return data

    def _split(self, rng, nodes: np.ndarray, y):
        n_val, n_test = _size(self.num_val, nodes.size), _size(self.num_test, nodes.size)
        if self.split == "train_rest":
            self._check(n_val + n_test, nodes.size, "labelled nodes", "num_val + num_test")
            perm = rng.permutation(nodes)
            return perm[n_val + n_test:], perm[:n_val], perm[n_val:n_val + n_test]
        # per class: a random order, then the first k of each class in it (stable by class)
        perm = rng.permutation(nodes)
        order = perm[np.argsort(y[perm], kind="stable")]
        classes = y[order]
        first = np.searchsorted(classes, classes)  # where each node's class starts
        train = order[np.arange(order.size) - first < self.num_train_per_class]
        rest = rng.permutation(np.setdiff1d(nodes, train))
        random = self.split == "random"
        self._check(n_val + (n_test if random else 0), rest.size,
                    "labelled nodes outside the training set",
                    "num_val + num_test" if random else "num_val")
        test = rest[n_val:] if self.split == "test_rest" else rest[n_val:n_val + n_test]
        return train, rest[:n_val], test

    def _check(self, want: int, have: int, what: str, names: str) -> None:
        if want > have:
            raise ValueError(f"RandomNodeSplit: expected {names} <= {have}, the "
                             f"{what} (got num_val={self.num_val}, num_test={self.num_test}, "
                             f"{want} nodes)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={self.split})"
