"""Mini-batches of seed edges for link prediction (PyG's ``LinkNeighborLoader``).

Each batch takes ``batch_size`` edges of ``edge_label_index`` (the seed edges), adds
negative pairs when asked (``neg_sampling``), and samples the neighbourhoods of the union of
their endpoints with `NeighborSampler`, as PyG's loader does (Hamilton et al., "Inductive
Representation Learning on Large Graphs", NeurIPS 2017, for the sampling). The endpoints are
the batch's seed nodes: ``np.unique`` of them (sorted, as PyG's ``torch.unique``) are
``n_id[:batch_size]``, so a model run on ``(batch.x, batch.blocks)`` returns one row per
endpoint, and ``batch.edge_label_index`` holds the seed edges (then the negatives) in those
local ids: ``n_id[edge_label_index]`` are the global pairs.

Negatives (PyG's ``NegativeSampling``): ``"binary"`` adds ``ceil(amount * num_pos)`` node
pairs labelled 0 after the positives; ``"triplet"`` draws ``amount`` (an int) destination
nodes per seed edge (``src_index``, ``dst_pos_index``, ``dst_neg_index``). PyG draws them as
uniform random node pairs, edges included; here binary negatives are distinct non-edges of
the graph and of ``edge_label_index`` (no self loops; fewer when the graph has fewer), and a
triplet negative ``v`` of ``(u, w)`` is redrawn while ``u -> v`` is an edge or ``v == u``
(up to 16 times: a node joined to every other keeps a random one).
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from sparsegraph import backend
from sparsegraph.gnn import link
from sparsegraph.gnn.sampling import (
    NeighborSampler,
    SampledBlocks,
    _check_pyg_options,
    _take,
    check_num_neighbors,
    check_seed,
    gather_fields,
)
from sparsegraph.graph import Graph
from sparsegraph.tensor import Tensor, wrap

_OP = "LinkNeighborLoader"
_FIELDS = "NegativeSampling(mode, amount=1, weight=None)"
_WEIGHTS = ("weight", "src_weight", "dst_weight")  # PyG's (older, newer): not implemented
_TRIPLET_TRIES = 16


@dataclasses.dataclass(frozen=True)
class NegativeSampling:
    """PyG's ``torch_geometric.sampler.NegativeSampling``: ``mode`` ``"binary"`` (random
    negative edges, label 0) or ``"triplet"`` (random negative destinations per seed edge),
    ``amount`` negatives per positive (an int for ``"triplet"``). Weighted sampling
    (``src_weight`` / ``dst_weight``) is not implemented."""

    mode: str
    amount: float = 1

    def __post_init__(self):
        if self.mode not in ("binary", "triplet"):
            raise ValueError(f"{_OP}: expected `neg_sampling` mode 'binary' or 'triplet' (got "
                             f"{self.mode!r})")
        a = self.amount
        if isinstance(a, bool) or not isinstance(a, int | float | np.number) or not a > 0:
            raise ValueError(f"{_OP}: expected a positive `neg_sampling` amount (got {a!r})")
        if self.mode == "triplet" and a != math.ceil(a):
            raise ValueError(f"{_OP}: expected an integer `neg_sampling` amount for 'triplet' "
                             f"(one row of dst_neg_index per seed edge) (got {a!r})")

    @classmethod
    def cast(cls, value) -> NegativeSampling | None:
        """None, a NegativeSampling, a mode string, a dict (``mode``, ``amount``; PyG's
        weight keys only as None) or a ``(mode,)`` / ``(mode, amount[, None])`` tuple or list;
        TypeError for another key, no ``mode`` or another length."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, dict):
            keys = sorted(map(str, value))
            unknown = [k for k in value if k not in ("mode", "amount", *_WEIGHTS)]
            if unknown or "mode" not in value:
                what = (f"unknown key {', '.join(map(repr, unknown))}" if unknown
                        else "no 'mode' key")
                raise TypeError(f"{_OP}: expected a `neg_sampling` dict with PyG's "
                                f"{_FIELDS} fields: a 'mode' key and optionally 'amount' "
                                f"({what}; got keys {keys})")
            weighted = sorted(k for k in _WEIGHTS if value.get(k) is not None)
            if weighted:
                raise NotImplementedError(f"{_OP}: weighted negative sampling is not "
                                          f"implemented (got `neg_sampling` keys {weighted})")
            return cls(value["mode"], value.get("amount", 1))
        if isinstance(value, tuple | list):
            if not 1 <= len(value) <= 3:
                raise TypeError(f"{_OP}: expected a `neg_sampling` {type(value).__name__} "
                                f"(mode,), (mode, amount) or (mode, amount, None), PyG's "
                                f"{_FIELDS} fields (got {len(value)} items: {tuple(value)!r})")
            if len(value) == 3 and value[2] is not None:
                raise NotImplementedError(f"{_OP}: weighted negative sampling is not "
                                          f"implemented (got a `neg_sampling` weight)")
            return cls(*value[:2])
        if hasattr(value, "mode") and hasattr(value, "amount"):  # PyG's own, duck-typed
            return cls(str(getattr(value.mode, "value", value.mode)), value.amount)
        raise TypeError(f"{_OP}: expected `neg_sampling` as None, 'binary', 'triplet', a dict "
                        f"or a NegativeSampling (got {type(value).__name__})")


@dataclasses.dataclass
class LinkSampledBlocks(SampledBlocks):
    """A `SampledBlocks` batch (``n_id``, ``blocks``, ``x``, ``y`` of the seeds, ``edge_index``,
    ...) whose seeds are the endpoints of its seed edges, with PyG's link fields:

    Attributes:
        edge_label_index: ``(2, B')`` int64 Tensor of local ids (< ``batch_size``): the
            seed edges, then any binary negatives (None for triplet sampling).
        edge_label: ``(B', ...)`` Tensor: the given labels (binary sampling: 0 for the
            negatives), or ones for the seed edges when none were given.
        input_id: ``(B,)`` int64 Tensor: the positions of the seed edges among the loader's
            ``edge_label_index`` columns (PyG's ``input_id``).
        src_index, dst_pos_index, dst_neg_index: triplet sampling's ``(B,)``, ``(B,)`` and
            ``(B,)`` (``amount`` 1) or ``(B, amount)`` local ids.
    """

    edge_label_index: Tensor | None = None
    edge_label: Tensor | None = None
    input_id: Tensor | None = None
    src_index: Tensor | None = None
    dst_pos_index: Tensor | None = None
    dst_neg_index: Tensor | None = None

    _TENSORS = ("edge_label_index", "edge_label", "input_id", "src_index", "dst_pos_index",
                "dst_neg_index")

    def to(self, device) -> LinkSampledBlocks:
        moved = super().to(device)
        device = backend.normalize_device(device)
        fields = {k: getattr(self, k) for k in self._TENSORS}
        if moved is self and all(t is None or t.device == device for t in fields.values()):
            return self
        fields = {k: None if t is None else t.to(device) for k, t in fields.items()}
        return dataclasses.replace(self, blocks=moved.blocks, x=moved.x, y=moved.y,
                                   edge_attr=moved.edge_attr, **fields)

    def __repr__(self) -> str:
        edges = (self.input_id.shape[0] if self.input_id is not None else 0)
        return super().__repr__().replace("SampledBlocks(", f"LinkSampledBlocks(edges={edges}, ")


def _check_edges(edge_label_index, num_nodes: int) -> np.ndarray:
    a = edge_label_index.array if isinstance(edge_label_index, Tensor) else edge_label_index
    a = np.asarray(backend.to_device(a, "cpu") if hasattr(a, "dtype") else a)
    if a.ndim != 2 or a.shape[0] != 2:
        raise ValueError(f"{_OP}: expected `edge_label_index` of shape (2, E) (got shape "
                         f"{a.shape})")
    if a.size == 0 and a.dtype.kind == "f":
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{_OP}: expected integer node ids in `edge_label_index` (got dtype "
                        f"{a.dtype})")
    if a.size and (int(a.min()) < 0 or int(a.max()) >= num_nodes):
        bad = int(a.min()) if int(a.min()) < 0 else int(a.max())
        raise ValueError(f"{_OP}: expected `edge_label_index` entries in [0, {num_nodes}) "
                         f"for the graph's {num_nodes} nodes (got {bad})")
    return a.astype(np.int64)


class LinkNeighborLoader:
    """Mini-batches of seed edges with the sampled neighbourhoods of their endpoints (PyG's
    ``LinkNeighborLoader``; see the module docstring for the batch layout).

    Args:
        data: a `Graph` (its ``x`` / ``y`` may be memory-mapped).
        num_neighbors: fan-out per hop from the endpoints, e.g. ``[15, 10]``; ``-1`` = all.
        edge_label_index: ``(2, E)`` seed edges (default: every edge of ``data``, in
            ``data.edge_index`` order).
        edge_label: ``(E, ...)`` labels of the seed edges (default: none; binary negative
            sampling then labels the seed edges 1.0 and the negatives 0.0). With binary
            sampling, labels whose minimum is 0 are shifted by +1, as PyG does, so that 0
            means "negative".
        edge_label_time: temporal sampling is not implemented (refused unless None).
        replace, directed, disjoint, subgraph_type: PyG's; taken at the values the sampler has
            (False, True, False, "directional"), others refused by name.
        neg_sampling: None, ``"binary"``, ``"triplet"``, a dict / tuple / `NegativeSampling`.
        neg_sampling_ratio: PyG's older form: ``> 0`` means ``NegativeSampling("binary",
            ratio)``.
        transform: a callable run on each batch.
        batch_size: seed edges per batch. (default: 1, as PyG's)
        shuffle: a fresh permutation of the seed edges every epoch. (default: False)
        seed, drop_last, num_workers, pin_memory, persistent_workers, filter_per_worker: as
            `NeighborLoader` (``seed`` drives shuffling, sampling and negatives; default: drawn
            from `sparsegraph.manual_seed`'s generator).
    """

    def __init__(self, data, num_neighbors, edge_label_index=None, edge_label=None,
                 edge_label_time=None, replace: bool = False, directed: bool = True,
                 disjoint: bool = False, neg_sampling=None, neg_sampling_ratio=None,
                 transform=None, batch_size: int = 1, shuffle: bool = False, *, seed=None,
                 drop_last: bool = False, subgraph_type: str = "directional",
                 filter_per_worker=None, num_workers: int = 0, pin_memory: bool = False,
                 persistent_workers: bool = False):
        if not isinstance(data, Graph):
            raise TypeError(f"{_OP}: expected a Graph `data` (got {type(data).__name__})")
        if edge_label_time is not None:
            raise NotImplementedError(f"{_OP}: `edge_label_time` (temporal sampling) is not "
                                      f"implemented; pass edge_label_time=None")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise TypeError(f"{_OP}: expected an int `batch_size` (got "
                            f"{type(batch_size).__name__})")
        if batch_size <= 0:
            raise ValueError(f"{_OP}: expected `batch_size` > 0 (got {batch_size})")
        _check_pyg_options(replace, directed, disjoint, subgraph_type, transform,  # PyG's
                           filter_per_worker, num_workers, _OP)
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last),
                           ("pin_memory", pin_memory),
                           ("persistent_workers", persistent_workers)):
            if not isinstance(flag, bool | np.bool_):
                raise TypeError(f"{_OP}: expected a bool `{name}` (got {type(flag).__name__} "
                                f"{flag!r})")
        self.neg_sampling = _negative_config(neg_sampling, neg_sampling_ratio)
        self.data, self.transform = data, transform
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.sampler = NeighborSampler(data, check_num_neighbors(num_neighbors, _OP),
                                       check_seed(seed, _OP))
        n = data.num_nodes
        graph_edges = np.asarray(backend.to_device(data.edge_index, "cpu"), np.int64)
        self.edge_label_index = (graph_edges if edge_label_index is None
                                 else _check_edges(edge_label_index, n))
        self.edge_label = self._check_labels(edge_label)
        # sorted keys u * N + v of the pairs a negative may not be (loops are never drawn)
        keys = np.concatenate([graph_edges, self.edge_label_index], axis=1)
        keys = keys[:, keys[0] != keys[1]]
        self._positives = link._sorted_unique(keys[0] * n + keys[1])
        self.epoch = 0
        self.timings = {"sample_s": 0.0, "gather_s": 0.0}

    def _check_labels(self, edge_label):
        if edge_label is None:
            return None
        a = edge_label.array if isinstance(edge_label, Tensor) else edge_label
        if backend.device_of(a) == "cpu":
            a = np.asarray(a)
        e = self.edge_label_index.shape[1]
        if a.ndim == 0 or a.shape[0] != e:
            raise ValueError(f"{_OP}: expected `edge_label` with one row per seed edge of "
                             f"`edge_label_index` ({e}) (got shape {tuple(a.shape)})")
        if self.neg_sampling is not None and self.neg_sampling.mode == "triplet":
            raise ValueError(f"{_OP}: `edge_label` needs to be None for 'triplet' negative "
                             f"sampling (use the batch's src_index, dst_pos_index and "
                             f"dst_neg_index)")
        if self.neg_sampling is not None and e and float(a.min()) == 0:
            a = a + 1  # PyG: 0 now means "negative"
        return a

    @property
    def seed(self) -> int:
        return self.sampler.seed

    def __len__(self) -> int:
        n, b = self.edge_label_index.shape[1], self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        order = np.arange(self.edge_label_index.shape[1])
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(order.shape[0])
        rng = np.random.default_rng([self.seed, epoch, 1])  # the negatives' stream
        timings = {"sample_s": 0.0, "gather_s": 0.0}
        self.timings = timings
        for i in range(len(self)):
            t0 = time.perf_counter()
            batch = self._batch(order[i * self.batch_size:(i + 1) * self.batch_size], rng,
                                epoch)
            t1 = time.perf_counter()
            gather_fields(self.data, batch)
            timings["sample_s"] += t1 - t0
            timings["gather_s"] += time.perf_counter() - t1
            yield batch if self.transform is None else self.transform(batch)

    def _batch(self, input_id: np.ndarray, rng, epoch: int) -> LinkSampledBlocks:
        src, dst = self.edge_label_index[:, input_id]
        mode = None if self.neg_sampling is None else self.neg_sampling.mode
        num_pos = input_id.shape[0]
        if mode == "binary":
            neg = self._non_edges(rng, math.ceil(num_pos * self.neg_sampling.amount))
            src, dst = np.concatenate([src, neg[0]]), np.concatenate([dst, neg[1]])
        elif mode == "triplet":
            dst = np.concatenate([dst, self._triplet_negatives(rng, src)])
        seeds, inverse = np.unique(np.concatenate([src, dst]), return_inverse=True)
        out = self.sampler._sample(seeds, epoch)
        batch = LinkSampledBlocks(out.n_id, out.batch_size, out.blocks, out.e_id,
                                  input_id=wrap(input_id.astype(np.int64, copy=False)))
        inverse = inverse.reshape(-1).astype(np.int64)
        if mode == "triplet":
            batch.src_index = wrap(inverse[:num_pos])
            batch.dst_pos_index = wrap(inverse[num_pos:2 * num_pos])
            neg = inverse[2 * num_pos:].reshape(num_pos, -1)
            batch.dst_neg_index = wrap(neg[:, 0] if neg.shape[1] == 1 else neg)
            return batch
        batch.edge_label_index = wrap(inverse.reshape(2, -1))
        if mode == "binary" or self.edge_label is not None:
            label = (np.ones(num_pos, backend.DEFAULT_FLOAT) if self.edge_label is None
                     else _take(self.edge_label, input_id))
            if mode == "binary":
                xp = backend.xp_of(label)
                zeros = xp.zeros((src.shape[0] - num_pos, *label.shape[1:]), label.dtype)
                label = xp.concatenate([label, zeros])
            batch.edge_label = wrap(label)
        return batch

    def _non_edges(self, rng, want: int) -> np.ndarray:
        """``(2, K)`` distinct pairs ``u != v`` that are neither edges nor seed edges, uniform
        without replacement (`negative_sampling`'s draw, on keys sorted once)."""
        n, positives = self.data.num_nodes, self._positives
        population = n * (n - 1)
        free = population - positives.size
        want = min(want, free)
        if want <= 0:
            return np.zeros((2, 0), np.int64)
        if n * n <= link._LIST_LIMIT and (free * 4 < population or want * 2 > free):
            keys = link._choose_listed(rng, positives, n, n, False, False, want, free)
        else:
            keys = link._draw(rng, positives, n, n, False, False, want, free, population)
        return np.stack(np.divmod(keys, n))

    def _triplet_negatives(self, rng, src: np.ndarray) -> np.ndarray:
        """``amount`` destinations per source, source-major (PyG's layout), each redrawn
        while it is the source or an out-neighbour of it."""
        n, k = self.data.num_nodes, int(self.neg_sampling.amount)
        u = np.repeat(src, k)
        v = rng.integers(0, n, u.shape[0], dtype=np.int64)
        bad = np.arange(u.shape[0])
        for _ in range(_TRIPLET_TRIES):
            bad = bad[(v[bad] == u[bad]) | link._sorted_contains(self._positives,
                                                                  u[bad] * n + v[bad])]
            if not bad.size:
                break
            v[bad] = rng.integers(0, n, bad.shape[0], dtype=np.int64)
        return v

    def __repr__(self) -> str:
        return (f"{_OP}(num_nodes={self.data.num_nodes}, "
                f"edge_label_index={self.edge_label_index.shape[1]}, "
                f"batch_size={self.batch_size}, num_neighbors={self.sampler.num_neighbors}, "
                f"neg_sampling={self.neg_sampling}, shuffle={self.shuffle})")


def _negative_config(neg_sampling, ratio) -> NegativeSampling | None:
    """PyG's rule: a non-zero ``neg_sampling_ratio`` means binary sampling of that amount."""
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, int | float | np.number) or not (
                ratio >= 0):
            raise ValueError(f"{_OP}: expected `neg_sampling_ratio` >= 0 or None (got "
                             f"{ratio!r})")
        if ratio > 0:
            if neg_sampling is not None:
                raise ValueError(f"{_OP}: pass `neg_sampling` or `neg_sampling_ratio`, not both "
                                 f"(got {neg_sampling!r} and {ratio!r})")
            return NegativeSampling("binary", ratio)
    return NegativeSampling.cast(neg_sampling)
