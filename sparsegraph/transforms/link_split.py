"""`RandomLinkSplit`: train / validation / test edges for link prediction (PyG's)."""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.graph import Graph
from sparsegraph.ops import cat
from sparsegraph.transforms.base import (
    BaseTransform,
    check_bool,
    check_count,
    host_edge_index,
    on_graph,
    random_state,
)
from sparsegraph.transforms.negatives import non_edges

# names a label key may not take: Graph checks these against the nodes
_RESERVED = ("x", "y", "batch", "ptr", "adj", "num_nodes", "index", "weight", "attr")


class RandomLinkSplit(BaseTransform):
    """Split the edges into training, validation and test edges (PyG's ``RandomLinkSplit``):
    ``train_data, val_data, test_data = RandomLinkSplit(...)(g)``.

    Each graph keeps every node attribute; its edges (for message passing) are the training
    edges (``train_data``, ``val_data``) or the training and validation edges
    (``test_data``), with their weights and per-edge fields, so no split sees the edges it is
    tested on. The edges to predict are ``label_index`` ``(2, K)`` int64 with ``label``
    ``(K,)``: 1 for an edge (float, as PyG's), 0 for a negative, a node pair that is an edge
    of no split (drawn once for all splits, uniformly without replacement: each negative is in
    one split only).

    Names: a Graph keeps every ``edge_<name>`` attribute per edge, one row per edge, so
    PyG's ``edge_label`` / ``edge_label_index`` are stored without the ``edge_`` prefix:
    ``label`` / ``label_index`` for the default ``key="edge_label"``, which
    ``g.edge_label`` / ``g.edge_label_index`` read, as in PyG (with ``split_labels``: PyG's
    ``pos_edge_label``, ``pos_edge_label_index``, ``neg_edge_label``, ...). A
    per-edge ``edge_label`` field of the input graph holds integer classes, as PyG reads
    ``data[key]``: the labels become ``class + 1`` when negatives are added, and the field is
    dropped from the outputs.

    ``is_undirected``: the input holds each edge both ways; each undirected edge (taken once,
    as ``u <= v``) goes to one split, both directions of it into the message-passing edges
    (a self loop once, where PyG adds it twice), and a negative is a pair that is an edge in
    neither direction, drawn once as ``u < v`` (PyG may draw ``(u, v)`` for one split and
    ``(v, u)`` for another).

    Args:
        num_val / num_test: a count or a float fraction in [0, 1] (floored, as PyG) of the
            (undirected) edges. (default: 0.1 / 0.2)
        is_undirected: see above. (default: False)
        key: the label name, PyG's ``"edge_label"`` (stored as ``label``, see above).
        split_labels: positives and negatives under separate names. (default: False)
        add_negative_train_samples: negatives for ``train_data`` too. (default: True)
        neg_sampling_ratio: negatives per positive. (default: 1.0)
        disjoint_train_ratio: a count or fraction of the training edges used only as
            labels, not for message passing in ``train_data``. (default: 0.0)
        seed / generator: as `RandomNodeSplit` (an int seed: the same split every call).

    Raises:
        ValueError: no training edges left (PyG's "Insufficient number of edges for
            training", with the counts), a key Graph reserves, bad counts or ratios.
    """

    def __init__(self, num_val=0.1, num_test=0.2, is_undirected: bool = False,
                 key: str = "edge_label", split_labels: bool = False,
                 add_negative_train_samples: bool = True, neg_sampling_ratio: float = 1.0,
                 disjoint_train_ratio=0.0, *, seed=None, generator=None):
        op = "RandomLinkSplit"
        self.num_val, self.num_test = (check_count(op, "num_val", num_val),
                                       check_count(op, "num_test", num_test))
        self.is_undirected = check_bool(op, "is_undirected", is_undirected)
        self.split_labels = check_bool(op, "split_labels", split_labels)
        self.add_negative_train_samples = check_bool(op, "add_negative_train_samples",
                                                     add_negative_train_samples)
        if (isinstance(neg_sampling_ratio, bool) or not isinstance(
                neg_sampling_ratio, int | float | np.number) or not neg_sampling_ratio >= 0):
            raise ValueError(f"{op}: expected `neg_sampling_ratio` to be a number >= 0 (got "
                             f"{neg_sampling_ratio!r})")
        self.neg_sampling_ratio = float(neg_sampling_ratio)
        self.disjoint_train_ratio = check_count(op, "disjoint_train_ratio",
                                                disjoint_train_ratio)
        name = key.removeprefix("edge_") if isinstance(key, str) else None
        if not name or name in _RESERVED or name.endswith("_mask") or name.startswith("edge_"):
            raise ValueError(f"{op}: expected `key` to name the labels, e.g. 'edge_label' "
                             f"(stored as 'label'), not one Graph reserves (got {key!r})")
        self.key, self.name, self.seed, self.generator = key, name, seed, generator
        random_state(op, seed, generator)  # checked now, drawn from on each call

    def forward(self, data):
        ei, n = host_edge_index(data), data.num_nodes
        rng = random_state("RandomLinkSplit", self.seed, self.generator)
        if self.is_undirected:
            perm = np.flatnonzero(ei[0] <= ei[1])
            perm = perm[rng.permutation(perm.size)]
        else:
            perm = rng.permutation(ei.shape[1])
        frac = lambda v, total: int(v * total) if isinstance(v, float) else v  # noqa: E731
        n_val, n_test = frac(self.num_val, perm.size), frac(self.num_test, perm.size)
        n_train = perm.size - n_val - n_test
        n_disjoint = frac(self.disjoint_train_ratio, max(n_train, 0))
        if n_train - n_disjoint <= 0:
            raise ValueError(f"RandomLinkSplit: insufficient number of edges for training: "
                             f"{perm.size} edges{' (undirected)' if self.is_undirected else ''}"
                             f" less num_val={n_val}, num_test={n_test} and "
                             f"disjoint_train_ratio's {n_disjoint} leaves {n_train - n_disjoint}")
        train, val, test = perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:]
        out = [self._split(data, ei, train[n_disjoint:]), self._split(data, ei, train),
               self._split(data, ei, perm[:n_train + n_val])]
        ratio = self.neg_sampling_ratio
        supervised = train[:n_disjoint] if n_disjoint else train
        counts = [int(supervised.size * ratio) if self.add_negative_train_samples else 0,
                  int(n_val * ratio), int(n_test * ratio)]
        neg = non_edges(rng, ei, n, sum(counts), self.is_undirected)
        # PyG's order: validation negatives first, then test, then training
        val_neg, test_neg = neg[:, :counts[1]], neg[:, counts[1]:counts[1] + counts[2]]
        train_neg = neg[:, counts[1] + counts[2]:]
        for g, index, negatives in zip(out, (supervised, val, test),
                                       (train_neg, val_neg, test_neg), strict=True):
            self._label(data, g, ei[:, index], index, negatives)
        return tuple(out)

    def _split(self, data, ei: np.ndarray, index: np.ndarray) -> Graph:
        """``data`` with the edges ``index`` (undirected: and their reverses, which take the
        weight and per-edge fields of the edge they reverse, as in PyG)."""
        edges, take = ei[:, index], index
        if self.is_undirected:
            back = index[ei[0, index] != ei[1, index]]
            edges, take = np.concatenate([edges, ei[::-1, back]], axis=1), np.concatenate(
                [index, back])
        kept = {k: v for k, v in data if not k.startswith("edge_")}
        fields = {k: v[take] for k, v in data if k.startswith("edge_")
                  and k not in ("edge_index", "edge_weight", "edge_" + self.name)}
        weight = data.edge_weight[take] if "edge_weight" in data else None
        return Graph(edge_index=edges, edge_weight=weight, num_nodes=data.num_nodes,
                     **kept, **fields)

    def _label(self, data, out: Graph, pos: np.ndarray, index: np.ndarray,
               neg: np.ndarray) -> None:
        given = getattr(data, "edge_" + self.name, None)
        if given is not None:  # integer classes per edge: 0 is kept for the negatives
            label = given[index]
            if neg.shape[1]:
                if label.dtype.kind not in "iu":
                    raise TypeError(f"RandomLinkSplit: expected integer classes in "
                                    f"`edge_{self.name}` when negatives are added (got "
                                    f"{label.dtype})")
                label = label + 1
        else:
            label = on_graph(np.ones(pos.shape[1], backend.DEFAULT_FLOAT), out)
        neg_label = on_graph(np.zeros((neg.shape[1], *label.shape[1:]), label.dtype), out)
        pos_index, neg_index = on_graph(pos, out), on_graph(neg, out)
        if self.split_labels:
            setattr(out, f"pos_{self.key}", label)  # PyG's names: pos_edge_label, ...
            setattr(out, f"pos_{self.key}_index", pos_index)
            if neg.shape[1]:
                setattr(out, f"neg_{self.key}", neg_label)
                setattr(out, f"neg_{self.key}_index", neg_index)
        elif neg.shape[1]:
            setattr(out, self.name, cat([label, neg_label]))
            setattr(out, f"{self.name}_index", cat([pos_index, neg_index], dim=1))
        else:
            setattr(out, self.name, label)
            setattr(out, f"{self.name}_index", pos_index)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_val={self.num_val}, num_test={self.num_test})"

