"""Subgraph samplers for training a full-graph model on a large graph: GraphSAINT's node, edge
and random-walk samplers (Zeng et al., "GraphSAINT: Graph Sampling Based Inductive Learning
Method", ICLR 2020) and PyG's ``RandomNodeLoader``, as ``torch_geometric.loader`` has them.

Every batch is the subgraph `Graph.subgraph` induces on the sampled nodes: every edge between
them and no other, with ``x``, ``y``, the masks and every other per-node attribute gathered,
and ``edge_weight``, ``edge_attr`` and the other per-edge attributes following their edges.

GraphSAINT (``sample_coverage > 0``) adds PyG's normalisation, estimated before training from
``num_samples`` subgraphs drawn until the nodes drawn reach ``N * sample_coverage`` (whole
epochs of ``num_steps`` subgraphs): with ``C_v`` the subgraphs that hold node ``v`` and
``C_e`` those that hold edge ``e = (u -> w)``,

- ``node_norm[v] = num_samples / C_v / N`` (``C_v = 0`` counted as 0.1), the loss weight
  (``(nll(out, y, reduction='none') * batch.node_norm)[train_mask].sum()``),
- ``edge_norm[e] = clamp(C_u / C_e, 0, 1e4)`` (0.1 where ``C_u = C_e = 0``), the
  aggregator's weight (PyG's: ``C`` of the edge's source ``u``).

Each batch holds ``node_norm`` and ``edge_norm`` of its nodes and edges (float32).

Samples are deterministic for a seed: epoch ``e`` draws from ``numpy.random.default_rng(
[seed, 0, e])``, the normalisation from ``default_rng([seed, 1])``.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from sparsegraph import backend
from sparsegraph.gnn.random_walk import csr_of_edge_index, random_walk
from sparsegraph.gnn.sampling import check_seed
from sparsegraph.graph import Graph
from sparsegraph.serialization import CORRUPT_DATA
from sparsegraph.tensor import wrap

__all__ = ["GraphSAINTEdgeSampler", "GraphSAINTNodeSampler", "GraphSAINTRandomWalkSampler",
           "GraphSAINTSampler", "RandomNodeLoader"]

# torch DataLoader's options, accepted for PyG code (batches are made in this process);
# PyG's GraphSAINTSampler drops `dataset` and `collate_fn` (PyTorch Lightning passes them)
_LOADER_KWARGS = {"num_workers", "pin_memory", "persistent_workers", "shuffle", "drop_last",
                  "timeout", "prefetch_factor", "worker_init_fn", "multiprocessing_context",
                  "pin_memory_device", "dataset", "collate_fn"}


def _count(op: str, name: str, value, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{op}: expected an int `{name}` (got {type(value).__name__} "
                        f"{value!r})")
    if value < least:
        raise ValueError(f"{op}: expected `{name}` >= {least} (got {int(value)})")
    return int(value)


def _loader_kwargs(op: str, kwargs: dict) -> dict:
    unknown = sorted(kwargs.keys() - _LOADER_KWARGS)
    if unknown:
        raise TypeError(f"{op}: unexpected keyword argument(s) {', '.join(unknown)} (takes "
                        f"torch DataLoader's: {', '.join(sorted(_LOADER_KWARGS))}, and seed)")
    workers = kwargs.get("num_workers", 0)
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 0:
        raise ValueError(f"{op}: expected an int `num_workers` >= 0 (got {workers!r})")
    for name in ("shuffle", "drop_last", "pin_memory", "persistent_workers"):
        if name in kwargs and not isinstance(kwargs[name], bool | np.bool_):
            raise TypeError(f"{op}: expected a bool `{name}` (got {type(kwargs[name]).__name__}"
                            f" {kwargs[name]!r})")
    return kwargs


def _check_graph(op: str, data) -> Graph:
    if not isinstance(data, Graph):
        raise TypeError(f"{op}: expected a Graph as `data` (got {type(data).__name__})")
    return data


def induced_edges(indptr: np.ndarray, indices: np.ndarray, nodes: np.ndarray,
                  member: np.ndarray) -> np.ndarray:
    """Positions (int64, ascending) of the target-major CSR's edges whose target is one of
    ``nodes`` (distinct ids) and whose source is one too (``member``: an ``(N,)`` bool scratch
    array, set here and cleared again); O(in-degrees of ``nodes``), not O(E)."""
    start = indptr[nodes].astype(np.int64)
    cnt = indptr[nodes + 1].astype(np.int64) - start
    total = int(cnt.sum())
    offsets = np.cumsum(cnt) - cnt
    pos = np.repeat(start - offsets, cnt) + np.arange(total, dtype=np.int64)
    member[nodes] = True
    try:
        keep = member[indices[pos]]
    finally:
        member[nodes] = False
    return np.sort(pos[keep])


class GraphSAINTSampler:
    """The GraphSAINT sampler base class (PyG's ``torch_geometric.loader.GraphSAINTSampler``):
    each of the ``num_steps`` batches of an epoch is the subgraph induced on the nodes a
    subclass draws (`_sample_nodes`), with PyG's ``node_norm`` / ``edge_norm``.

    Args:
        data: the `Graph` (without ``node_norm`` / ``edge_norm`` attributes).
        batch_size: the approximate number of samples per batch (the subclass says of what).
        num_steps: batches per epoch (``len(loader)``). (default: 1)
        sample_coverage: how many samples per node the normalisation is estimated from
            (0: no ``node_norm`` / ``edge_norm``). (default: 0)
        save_dir: a folder to keep the normalisation in (``<classname>_<coverage>.npz``,
            pickle-free, written under a temporary name then renamed): loaded when there,
            computed and saved otherwise. (default: None)
        log: a progress bar while the normalisation is computed. (default: True)
        seed: the sampling seed (keyword; default: drawn from `sparsegraph.manual_seed`'s
            generator).
        **kwargs: torch DataLoader's options (``num_workers``, ``pin_memory``, ...), accepted
            for PyG code: batches are sampled in this process.

    Raises:
        TypeError: ``data`` not a Graph, non-int counts, unknown keyword arguments.
        ValueError: counts out of range, a graph that already has ``node_norm`` or
            ``edge_norm``, a saved normalisation for another graph's size.
    """

    _op = "GraphSAINTSampler"

    def __init__(self, data, batch_size: int, num_steps: int = 1, sample_coverage: int = 0,
                 save_dir=None, log: bool = True, *, seed=None, **kwargs):
        op = self._op
        self.data = _check_graph(op, data)
        self.batch_size = _count(op, "batch_size", batch_size, 1)
        self.num_steps = _count(op, "num_steps", num_steps, 1)
        self.sample_coverage = _count(op, "sample_coverage", sample_coverage, 0)
        for key in ("node_norm", "edge_norm"):
            if getattr(data, key, None) is not None:
                raise ValueError(f"{op}: expected `data` without a `{key}` attribute (the "
                                 f"sampler adds it to each batch)")
        if save_dir is not None and not isinstance(save_dir, str | os.PathLike):
            raise TypeError(f"{op}: expected a path `save_dir` or None (got "
                            f"{type(save_dir).__name__})")
        if save_dir is not None and os.path.exists(save_dir) and not os.path.isdir(save_dir):
            raise ValueError(f"{op}: expected `save_dir` to be a folder (got the file "
                             f"{os.fspath(save_dir)})")
        if not isinstance(log, bool | np.bool_):
            raise TypeError(f"{op}: expected a bool `log` (got {type(log).__name__} {log!r})")
        self.save_dir, self.log = save_dir, bool(log)
        self.kwargs = _loader_kwargs(op, kwargs)
        self.seed = check_seed(seed, op)
        self.N, self.E = data.num_nodes, data.num_edges
        s = data.adj.structure.to("cpu")  # target-major CSR: row = target, index = source
        self._indptr, self._src = np.asarray(s.indptr), np.asarray(s.indices)
        self._dst = np.asarray(s.rows())
        self._member = np.zeros(self.N, bool)
        self._check_sizes()
        self.epoch = 0
        self.node_norm = self.edge_norm = None
        if self.sample_coverage > 0:
            self.node_norm, self.edge_norm = self._norm()

    def _check_sizes(self) -> None:
        if self.E == 0:
            raise ValueError(f"{self._op}: expected a graph with edges to sample from (got "
                             f"{self.N} nodes and no edges)")

    @property
    def _filename(self) -> str:
        return f"{type(self).__name__.lower()}_{self.sample_coverage}.npz"

    def __len__(self) -> int:
        return self.num_steps

    def _sample_nodes(self, rng: np.random.Generator) -> np.ndarray:
        """The nodes one batch draws (repeats allowed), int64."""
        raise NotImplementedError

    def _sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(node_idx, e_id)``: one sample's distinct nodes, ascending, and the positions of
        the edges among them in ``data.edge_index``, in the induced subgraph's edge order."""
        nodes = np.unique(self._sample_nodes(rng))
        return nodes, induced_edges(self._indptr, self._src, nodes, self._member)

    def _batch(self, nodes: np.ndarray, e_id: np.ndarray) -> Graph:
        batch = self.data.subgraph(nodes)
        # the subgraph's edges are sorted by (target, source) in the new ids, which ascending
        # node ids keep in the old order; a stable sort puts e_id in that order (the identity
        # unless a given adjacency holds rows with unsorted sources)
        e_id = e_id[np.lexsort((self._src[e_id], self._dst[e_id]))]
        assert batch.num_edges == e_id.shape[0]
        if self.sample_coverage > 0:
            device = self.data.adj.device
            batch.node_norm = wrap(backend.to_device(self.node_norm[nodes], device))
            batch.edge_norm = wrap(backend.to_device(self.edge_norm[e_id], device))
        return batch

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        rng = np.random.default_rng([self.seed, 0, epoch])
        for _ in range(self.num_steps):
            yield self._batch(*self._sample(rng))

    def _norm_samples(self):
        """The samples the normalisation counts: whole epochs of ``num_steps`` until the
        nodes drawn reach ``N * sample_coverage``; yields ``(node_idx, e_id)``."""
        rng = np.random.default_rng([self.seed, 1])
        total, goal = 0, self.N * self.sample_coverage
        while total < goal:
            for _ in range(self.num_steps):
                nodes, e_id = self._sample(rng)
                total += nodes.shape[0]
                yield nodes, e_id

    def _compute_norm(self) -> tuple[np.ndarray, np.ndarray]:
        node_count = np.zeros(self.N, np.float32)
        edge_count = np.zeros(self.E, np.float32)
        num_samples = 0
        bar = None
        if self.log:
            from tqdm import tqdm

            bar = tqdm(total=self.N * self.sample_coverage,
                       desc="Compute GraphSAINT normalization")
        try:
            for nodes, e_id in self._norm_samples():
                node_count[nodes] += 1  # distinct ids: no repeated index in one update
                edge_count[e_id] += 1
                num_samples += 1
                if bar is not None:
                    bar.update(nodes.shape[0])
        finally:
            if bar is not None:
                bar.close()
        with np.errstate(divide="ignore", invalid="ignore"):
            edge_norm = np.clip(node_count[self._src] / edge_count, 0, 1e4)
        edge_norm[np.isnan(edge_norm)] = 0.1
        node_count[node_count == 0] = 0.1
        node_norm = (num_samples / node_count / self.N).astype(np.float32)
        return node_norm, edge_norm.astype(np.float32)

    def _norm(self) -> tuple[np.ndarray, np.ndarray]:
        if self.save_dir is None:
            return self._compute_norm()
        path = os.path.join(os.fspath(self.save_dir), self._filename)
        if os.path.exists(path):
            try:
                with np.load(path, allow_pickle=False) as f:
                    node_norm, edge_norm = f["node_norm"], f["edge_norm"]
            except (*CORRUPT_DATA, KeyError) as exc:  # garbage, another tool's file, no key
                raise ValueError(f"{self._op}: {path} in `save_dir` is not a normalisation "
                                 f"this sampler saved ({type(exc).__name__}: {exc}); remove "
                                 f"it or use another `save_dir`") from None
            if node_norm.shape != (self.N,) or edge_norm.shape != (self.E,):
                raise ValueError(f"{self._op}: expected the normalisation saved in {path} "
                                 f"for {self.N} nodes and {self.E} edges (got "
                                 f"{node_norm.shape[0]} and {edge_norm.shape[0]}): another "
                                 f"graph's; remove it or use another `save_dir`")
            return node_norm.astype(np.float32), edge_norm.astype(np.float32)
        node_norm, edge_norm = self._compute_norm()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, node_norm=node_norm, edge_norm=edge_norm)
            os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return node_norm, edge_norm

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_nodes={self.N}, batch_size={self.batch_size}, "
                f"num_steps={self.num_steps}, sample_coverage={self.sample_coverage})")


class GraphSAINTNodeSampler(GraphSAINTSampler):
    """GraphSAINT's node sampler (PyG's ``GraphSAINTNodeSampler``; arguments: see
    `GraphSAINTSampler`): ``batch_size`` draws, with replacement, of the source node of an
    edge drawn uniformly, so a node is drawn in proportion to its out-degree (the paper's
    degree-biased node sampler; a node without out-edges is never drawn); the batch holds
    the distinct nodes drawn."""

    _op = "GraphSAINTNodeSampler"

    def _sample_nodes(self, rng):
        return self._src[rng.integers(0, self.E, self.batch_size)].astype(np.int64)


class GraphSAINTEdgeSampler(GraphSAINTSampler):
    """GraphSAINT's edge sampler (PyG's ``GraphSAINTEdgeSampler``; arguments: see
    `GraphSAINTSampler`): ``batch_size`` edges drawn with replacement, edge ``u -> w`` with
    probability proportional to ``1 / deg_in(u) + 1 / deg_out(w)`` (degrees at least 1; on
    an undirected graph the paper's ``1 / deg(u) + 1 / deg(w)``); the batch holds the
    distinct endpoints of the ``2 * batch_size`` drawn."""

    _op = "GraphSAINTEdgeSampler"

    def _check_sizes(self) -> None:
        super()._check_sizes()
        deg_in = np.maximum(np.bincount(self._dst, minlength=self.N), 1)
        deg_out = np.maximum(np.bincount(self._src, minlength=self.N), 1)
        prob = 1.0 / deg_in[self._src] + 1.0 / deg_out[self._dst]
        self._cdf = np.cumsum(prob)

    def _sample_nodes(self, rng):
        u = rng.random(self.batch_size) * self._cdf[-1]
        e = np.minimum(np.searchsorted(self._cdf, u, side="right"), self.E - 1)
        return np.concatenate([self._src[e], self._dst[e]]).astype(np.int64)


class GraphSAINTRandomWalkSampler(GraphSAINTSampler):
    """GraphSAINT's random-walk sampler (PyG's ``GraphSAINTRandomWalkSampler``): ``batch_size``
    roots drawn uniformly with replacement, each starting a uniform walk of ``walk_length``
    steps along out-edges (`random_walk` with ``p = q = 1``; a node without out-edges keeps
    the walk where it is); the batch holds the distinct nodes of the
    ``batch_size * (walk_length + 1)`` visited.

    Args:
        walk_length: steps per walk (>= 0). Other arguments: see `GraphSAINTSampler`; the
            saved normalisation is ``<classname>_<walk_length>_<coverage>.npz``.
    """

    _op = "GraphSAINTRandomWalkSampler"

    def __init__(self, data, batch_size: int, walk_length: int, num_steps: int = 1,
                 sample_coverage: int = 0, save_dir=None, log: bool = True, *, seed=None,
                 **kwargs):
        self.walk_length = _count(self._op, "walk_length", walk_length, 0)
        super().__init__(data, batch_size, num_steps, sample_coverage, save_dir, log,
                         seed=seed, **kwargs)

    def _check_sizes(self) -> None:
        if self.N == 0:
            raise ValueError(f"{self._op}: expected a graph with nodes to start walks from "
                             "(got 0 nodes)")
        ei = np.stack([self._src, self._dst])
        self._rowptr, self._col = csr_of_edge_index(ei, self.N)  # source-major: out-edges

    @property
    def _filename(self) -> str:
        return f"{type(self).__name__.lower()}_{self.walk_length}_{self.sample_coverage}.npz"

    def _sample_nodes(self, rng):
        start = rng.integers(0, self.N, self.batch_size)
        walks = random_walk(self._rowptr, self._col, start, self.walk_length,
                            seed=int(rng.integers(0, 2**63)))
        return walks.reshape(-1)


class RandomNodeLoader:
    """PyG's ``RandomNodeLoader``: the nodes split into parts of ``ceil(N / num_parts)``
    (the last one smaller), each batch the subgraph induced on one part, nodes in the part's
    order.

    Args:
        data: the `Graph`.
        num_parts: the number of partitions (> 0); ``len(loader)`` is
            ``ceil(N / ceil(N / num_parts))``, which can be fewer.
        shuffle: a fresh random partition each epoch (torch DataLoader's keyword, as PyG's
            examples pass it; False: consecutive node ranges). (default: False)
        drop_last: drop the last, smaller part. (default: False)
        seed: drives shuffling (keyword; default: drawn from the global generator); epoch
            ``e`` permutes with ``numpy.random.default_rng([seed, e])``.
        **kwargs: torch DataLoader's other options (``num_workers``, ...), accepted.
    """

    def __init__(self, data, num_parts: int, *, seed=None, **kwargs):
        op = "RandomNodeLoader"
        self.data = _check_graph(op, data)
        self.num_parts = _count(op, "num_parts", num_parts, 1)
        self.kwargs = _loader_kwargs(op, kwargs)
        self.shuffle = bool(kwargs.get("shuffle", False))
        self.drop_last = bool(kwargs.get("drop_last", False))
        self.seed = check_seed(seed, op)
        self.num_nodes = data.num_nodes
        self.batch_size = max(-(-self.num_nodes // self.num_parts), 1)
        self.epoch = 0

    def __len__(self) -> int:
        n, b = self.num_nodes, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        nodes = np.arange(self.num_nodes, dtype=np.int64)
        if self.shuffle:
            nodes = np.random.default_rng([self.seed, epoch]).permutation(nodes)
        for i in range(len(self)):
            yield self.data.subgraph(nodes[i * self.batch_size:(i + 1) * self.batch_size])

    def __repr__(self) -> str:
        return (f"RandomNodeLoader(num_nodes={self.num_nodes}, num_parts={self.num_parts}, "
                f"shuffle={self.shuffle})")
