"""Neighbour sampling for mini-batch training on large graphs (GraphSAGE's sampler).

`NeighborSampler` turns a set of seed nodes into per-layer bipartite blocks, and
`NeighborLoader` iterates over batches of seed nodes, gathering their features and labels
(from memory-mapped arrays too: ``x[n_id]`` on a memmap reads only those rows).

Conventions (PyG's ``num_neighbors``, DGL's blocks):

- ``num_neighbors[h]`` is the fan-out of hop ``h + 1`` from the seeds: ``[15, 10, 5]`` samples
  up to 15 in-neighbours of every seed, then up to 10 of every node reached so far, then 5.
  ``-1`` takes every in-neighbour. Sampling is uniform without replacement; a node with at most
  ``k`` in-neighbours keeps all of them.
- ``blocks`` are ordered outermost first, the order a model consumes them:
  ``blocks[0]`` is ``(N_1, N_0)`` with ``N_0 = len(n_id)`` and ``blocks[-1]`` is
  ``(batch_size, N_{L-1})``. Each block is a target-major CSR SparseTensor in LOCAL ids, and
  its target nodes are the first rows of its source nodes, so ``x_dst = x_src[:N_dst]``.
- ``n_id`` holds the global ids of every node the batch needs, the seeds first.

Samples are deterministic for a seed: the random numbers of node ``v`` at hop ``h`` in epoch
``e`` are a hash of ``(seed, e, h, v)`` (see `sampling_kernels`), whatever the thread count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.gnn import sampling_kernels
from sparsegraph.graph import Graph
from sparsegraph.kernels import dispatch
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor, wrap


@dataclass
class SampledBlocks:
    """One mini-batch: the nodes it needs and one bipartite block per layer.

    Attributes:
        n_id: ``(N_0,)`` int64 global ids, the ``batch_size`` seed nodes first.
        batch_size: number of seed nodes (the rows of the model's output).
        blocks: per layer, outermost first: ``(N_{l+1}, N_l)`` SparseTensors (local ids,
            row = target; values: the graph's edge weights ``graph.adj.values[e_id]``, for
            weight-aware layers such as GCNConv and GraphConv; SAGEConv and GINConv ignore
            them, as PyG's do, on blocks and on the full graph alike).
        e_id: per block, ``(E_l,)`` int64 positions of its edges among the entries of the
            adjacency given to the sampler, in its own storage order (CSR or COO, sorted or
            not): ``adj.values[e_id]`` are their weights (``graph.adj`` for a `Graph`).
        x: ``(N_0, F)`` features of ``n_id`` (loader only; dense Tensor or sparse CSR).
        y: ``(batch_size,)`` labels of the seeds (loader only).
        edge_attr: per block, the ``(E_l, D)`` rows ``graph.edge_attr[e_id[l]]`` of its edges,
            in the block's edge order (loader only, when the graph has ``edge_attr``; PyG's
            batch carries the sampled edges' ``edge_attr`` likewise).

    ``num_sampled_nodes`` and ``num_sampled_edges`` are per-hop lists with PyG's meaning (what
    its ``trim_to_layer`` reads), hop order from the seeds outwards, the reverse of ``blocks``:
    ``num_sampled_nodes[0]`` is ``batch_size`` and ``num_sampled_nodes[h]`` the nodes first
    reached at hop ``h`` (they sum to ``len(n_id)``); ``num_sampled_edges[h]`` is the number of
    edges sampled at hop ``h + 1``, i.e. ``blocks[-1 - h].nnz``. Unlike PyG's sampler, hop
    ``h + 1`` samples in-neighbours of every node reached so far, not only of hop ``h``'s new
    ones (each block is a whole layer's operator), so no ``trim_to_layer`` step is needed.
    """

    n_id: np.ndarray
    batch_size: int
    blocks: list = field(default_factory=list)
    e_id: list = field(default_factory=list)
    x: object = None
    y: object = None
    edge_attr: list | None = None

    def to(self, device) -> SampledBlocks:
        """The batch with its blocks, features, labels and edge features on ``device``
        (``n_id`` and ``e_id`` stay host arrays); itself when everything is there already."""
        device = backend.normalize_device(device)
        parts = [*self.blocks, self.x, self.y, *(self.edge_attr or ())]
        if all(p is None or p.device == device for p in parts):
            return self
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return SampledBlocks(self.n_id, self.batch_size, [move(b) for b in self.blocks],
                             self.e_id, move(self.x), move(self.y),
                             None if self.edge_attr is None else [move(a) for a in
                                                                  self.edge_attr])

    @property
    def edge_index(self) -> Tensor:
        """``(2, E)`` (source, target) local ids into ``n_id`` of the sampled subgraph, PyG's
        ``batch.edge_index``: each node first reached at hop ``h`` (seeds: hop 0) keeps the
        in-edges hop ``h + 1`` sampled for it (``blocks[-1 - h]``), as PyG's sampler gives
        each hop's new nodes their own fan-out; nodes of the last hop have none. A
        full-graph model run on ``(batch.x, batch.edge_index)`` gives the seeds' outputs in
        its first ``batch_size`` rows (equal to the blocks' forward for aggregations that
        do not weigh by degree, e.g. SAGEConv's mean, with every neighbour sampled).
        Hop ``h``'s part holds only its new targets' edges: fewer than
        ``num_sampled_edges[h]``, which counts the block's, earlier nodes' again included."""
        sources, targets = [], []
        for block, s, start, begin in self._new_edges():
            counts = np.diff(s.indptr[start:])
            targets.append(np.repeat(np.arange(start, block.shape[0], dtype=s.indices.dtype),
                                     counts))
            sources.append(s.indices[begin:])
        if not sources:
            return wrap(np.zeros((2, 0), np.int64))
        return wrap(np.stack([np.concatenate(sources), np.concatenate(targets)]))

    @property
    def edge_weight(self) -> Tensor:
        """``(E,)`` the weights of `edge_index`'s edges (the graph's edge weights, ones for an
        unweighted graph), in its order, on the blocks' device."""
        parts = [block.values[begin:] for block, _, _, begin in self._new_edges()]
        return ops.cat(parts) if parts else wrap(np.zeros(0, np.float32))

    def _new_edges(self):
        """Per hop from the seeds out: ``(block, its host structure, the first row the hop
        adds, that row's first entry)``; the hop's new targets' edges are the block's entries
        from there on (CSR rows in order)."""
        first = np.cumsum(self.num_sampled_nodes)  # first[h]: nodes reached up to hop h
        for hop, block in enumerate(self.blocks[::-1]):
            s = block.structure.to("cpu")
            start = 0 if hop == 0 else int(first[hop - 1])
            yield block, s, start, int(s.indptr[start])

    @property
    def num_nodes(self) -> int:
        """``len(n_id)``: the nodes of the batch's subgraph (PyG's ``batch.num_nodes``)."""
        return int(self.n_id.shape[0])

    @property
    def num_sampled_nodes(self) -> list[int]:
        """Seeds, then the nodes each hop adds (PyG's per-hop list)."""
        return [self.batch_size] + [b.shape[1] - b.shape[0] for b in self.blocks[::-1]]

    @property
    def num_sampled_edges(self) -> list[int]:
        """Edges each hop's block holds, from the seeds outwards: every node reached so far
        gets its in-edges sampled again, so these add up to more than `edge_index`'s edges
        (PyG's list counts only each hop's new targets' edges)."""
        return [b.nnz for b in self.blocks[::-1]]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{b.shape[0]}x{b.shape[1]}:{b.nnz}" for b in self.blocks)
        return (f"SampledBlocks(batch_size={self.batch_size}, n_id={self.n_id.shape[0]}, "
                f"blocks=[{shapes}])")


def _csr_arrays(adj_or_graph, op: str):
    adj = adj_or_graph.adj if isinstance(adj_or_graph, Graph) else adj_or_graph
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"{op}: expected a Graph or a square SparseTensor adjacency "
                        f"(got {type(adj_or_graph).__name__})")
    if adj.shape[0] != adj.shape[1]:
        raise ValueError(f"{op}: expected a square adjacency (got shape {adj.shape[:2]})")
    s = adj.structure.to("cpu")
    values = backend.to_device(adj.values.detach().array, "cpu")
    perm = None  # CSR position -> position among adj's own entries (None: the same)
    if s.layout != "csr":
        s, perm = s.to_csr()
        perm = None if perm is None else np.asarray(perm, np.int64)
    return s.indptr, s.indices, adj.shape[0], values, perm


def check_num_neighbors(num_neighbors, op: str = "NeighborSampler") -> list[int]:
    """Validate fan-outs: a non-empty list of ints >= 0, or -1 for every neighbour."""
    if isinstance(num_neighbors, int | np.integer) and not isinstance(num_neighbors, bool):
        raise TypeError(f"{op}: expected `num_neighbors` as a list with one fan-out per layer, "
                        f"e.g. [15, 10] (got the int {num_neighbors})")
    try:
        fanouts = list(num_neighbors)
    except TypeError:
        raise TypeError(f"{op}: expected `num_neighbors` as a list of ints (got "
                        f"{type(num_neighbors).__name__})") from None
    if not fanouts:
        raise ValueError(f"{op}: expected at least one fan-out in `num_neighbors` (got [])")
    for k in fanouts:
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise TypeError(f"{op}: expected integer fan-outs in `num_neighbors` (got {k!r})")
        if k < -1:
            raise ValueError(f"{op}: expected fan-outs >= 0, or -1 for all neighbours, in "
                             f"`num_neighbors` (got {int(k)})")
    # past any degree a fan-out means "all"; kept inside int64 for the kernels
    return [min(int(k), _ALL) for k in fanouts]


_ALL = 2**62


def check_seed(seed, op: str) -> int:
    """An int seed in [0, 2^64), or one drawn from sparsegraph's global generator (None)."""
    if seed is None:
        return int(rng_of(None).integers(0, 2**63))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"{op}: expected an int `seed` or None (got {type(seed).__name__})")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"{op}: expected `seed` in [0, 2**64) (got {int(seed)})")
    return int(seed)


def check_nodes(nodes, num_nodes: int, op: str, name: str) -> np.ndarray:
    """Node ids (1-D ints in range) or a boolean mask of length ``num_nodes`` -> int64 ids."""
    a = nodes.array if isinstance(nodes, Tensor) else nodes
    a = np.asarray(backend.to_device(a, "cpu"))  # sampling runs on the host
    if a.dtype == np.bool_:
        if a.shape != (num_nodes,):
            raise ValueError(f"{op}: expected a boolean `{name}` mask of shape ({num_nodes},) "
                             f"(got shape {a.shape})")
        return np.flatnonzero(a).astype(np.int64)
    if a.size == 0 and a.dtype.kind == "f":
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer node ids or a boolean mask for `{name}` "
                        f"(got dtype {a.dtype})")
    if a.ndim != 1:
        raise ValueError(f"{op}: expected 1-D `{name}` (got shape {a.shape})")
    if a.size and (int(a.min()) < 0 or int(a.max()) >= num_nodes):
        bad = int(a.min()) if int(a.min()) < 0 else int(a.max())
        raise ValueError(f"{op}: expected `{name}` in [0, {num_nodes}) (got {bad})")
    return a.astype(np.int64, copy=False)


class NeighborSampler:
    """Uniform neighbour sampling without replacement, layer by layer (Hamilton et al.,
    "Inductive Representation Learning on Large Graphs", NeurIPS 2017).

    Args:
        adj_or_graph: a `Graph` or an ``(N, N)`` target-major SparseTensor (row ``v`` lists the
            in-neighbours of ``v``); memory-mapped index arrays are read in place.
        num_neighbors: fan-out per hop from the seeds, e.g. ``[15, 10, 5]``; ``-1`` = all.
        seed: the sampling seed (default: drawn from `sparsegraph.manual_seed`'s generator).

    ``sample(seeds, epoch)`` is not thread-safe: it reuses one ``(N,)`` scratch array (global
    -> local ids) across batches, reset after each, so relabelling costs O(sampled edges).
    The kernel is op ``"sample_neighbors"`` ("numba", or "generic" numpy reference).
    """

    def __init__(self, adj_or_graph, num_neighbors=(15, 10, 5), seed=None):
        # the edge weights travel with the sampled edges, so that a model trained on blocks
        # sees the operator of its full-graph forward and `inference`
        # sampling walks a CSR; `_perm` maps its positions back to the given adjacency's
        # entries, so that e_id (and the block values) index `adj.values` whatever its layout
        self.indptr, self.indices, self.num_nodes, self.values, self._perm = _csr_arrays(
            adj_or_graph, "NeighborSampler")
        self.num_neighbors = check_num_neighbors(num_neighbors)
        self.seed = check_seed(seed, "NeighborSampler")
        self._local = np.full(self.num_nodes, -1,
                              np.int32 if self.num_nodes < 2**31 else np.int64)

    def sample(self, seeds, epoch: int = 0) -> SampledBlocks:
        """Blocks for ``seeds`` (distinct node ids or a boolean mask) in epoch ``epoch``."""
        seeds = check_nodes(seeds, self.num_nodes, "NeighborSampler.sample", "seeds")
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer):
            raise TypeError(f"NeighborSampler.sample: expected an int `epoch` (got "
                            f"{type(epoch).__name__} {epoch!r})")
        if epoch < 0:
            raise ValueError(f"NeighborSampler.sample: expected an int `epoch` >= 0 "
                             f"(got {epoch!r})")
        return self._sample(seeds, int(epoch))

    def _sample(self, seeds: np.ndarray, epoch: int) -> SampledBlocks:
        kernel = dispatch("sample_neighbors", "cpu", "csr")
        local, n_seeds = self._local, seeds.shape[0]
        nodes = seeds
        local[seeds] = np.arange(n_seeds)
        try:
            if n_seeds and not bool((local[seeds] == np.arange(n_seeds)).all()):
                raise ValueError("NeighborSampler: expected distinct seed nodes (got repeats)")
            blocks, e_ids = [], []
            for hop, k in enumerate(self.num_neighbors):
                stream = sampling_kernels.stream_key(self.seed, epoch, hop)
                rowptr, col, e_id, new = kernel(self.indptr, self.indices, nodes, k, stream,
                                                local)
                if self._perm is not None:
                    e_id = self._perm[e_id]
                n_dst = nodes.shape[0]
                nodes = np.concatenate([nodes, new])
                s = Structure.csr(rowptr, col, (n_dst, nodes.shape[0]), op="NeighborSampler",
                                  validate=False)
                blocks.append(SparseTensor(s, wrap(np.take(self.values, e_id, axis=0))))
                e_ids.append(e_id)
        finally:
            local[nodes] = -1
        return SampledBlocks(nodes, n_seeds, blocks[::-1], e_ids[::-1])

    def __repr__(self) -> str:
        return (f"NeighborSampler(num_nodes={self.num_nodes}, "
                f"num_neighbors={self.num_neighbors}, seed={self.seed})")


def _take(a, index: np.ndarray):
    """``a[index]`` (rows) on ``a``'s device; ``index`` is a host array."""
    device = backend.device_of(a)
    if device == "cpu":
        return np.take(a, index, axis=0)
    return backend.xp_of(a).take(a, backend.to_device(index, device), axis=0)


def gather_rows(x, index: np.ndarray):
    """Rows ``index`` (host ids) of node features: a dense Tensor (memmaps read only those
    rows), a numpy array, or a CSR SparseTensor (a vectorised row gather), on the features'
    device (a sparse gather's positions are computed on the host). No gradient (input data)."""
    if isinstance(x, SparseTensor):
        s = x.structure.to_csr()[0] if x.layout != "csr" else x.structure
        s_host = s.to("cpu")
        start = s_host.indptr[index].astype(np.int64)
        cnt = s_host.indptr[index + 1] - start
        indptr = np.zeros(index.shape[0] + 1, np.int64)
        np.cumsum(cnt, out=indptr[1:])
        pos = np.repeat(start - indptr[:-1], cnt) + np.arange(int(indptr[-1]))
        vals = x.values.array if x.layout == "csr" else x.to_csr().values.array
        out = Structure.csr(indptr, s_host.indices[pos], (index.shape[0], x.shape[1]),
                            validate=False)
        return SparseTensor(out.to(s.device), wrap(_take(vals, pos)))
    a = (x.array if isinstance(x, Tensor) else x if backend.device_of(x) != "cpu"
         else np.asarray(x))
    return wrap(_take(a, index))


def gather_fields(g: Graph, batch: SampledBlocks) -> None:
    """Put ``x`` of every sampled node, ``y`` of the seeds and ``edge_attr`` per block (by
    ``e_id``, which indexes the graph's CSR edges as edge_attr does) on ``batch``. Node labels
    only: a graph-level y (a TU graph's class) has no row per seed, as PyG's loaders leave
    such an attribute out of the nodes' gather."""
    if g.x is not None:
        batch.x = gather_rows(g.x, batch.n_id)
    if g.y is not None and g.y.shape[:1] == (g.num_nodes,):
        batch.y = wrap(_take(g.y.array, batch.n_id[:batch.batch_size]))
    if g.edge_attr is not None:
        batch.edge_attr = [wrap(_take(g.edge_attr.array, e)) for e in batch.e_id]


def _check_pyg_options(replace, directed, disjoint, subgraph_type, transform,
                       filter_per_worker, num_workers, op: str = "NeighborLoader") -> None:
    """PyG NeighborLoader's options: the values this sampler implements, others named."""
    for name, value, ours in (("replace", replace, False), ("directed", directed, True),
                              ("disjoint", disjoint, False),
                              ("subgraph_type", subgraph_type, "directional")):
        is_flag = isinstance(value, bool | np.bool_)
        if is_flag != isinstance(ours, bool) or (bool(value) if is_flag else value) != ours:
            raise ValueError(f"{op}: {name}={value!r} is not supported: the sampler "
                             f"draws in-neighbours without replacement, one directed block per "
                             f"hop ({name}={ours!r})")
    if transform is not None and not callable(transform):
        raise TypeError(f"{op}: expected a callable `transform` or None (got "
                        f"{type(transform).__name__})")
    if filter_per_worker is not None and not isinstance(filter_per_worker, bool | np.bool_):
        raise TypeError(f"{op}: expected `filter_per_worker` True, False or None "
                        f"(got {filter_per_worker!r})")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int | np.integer) or (
            num_workers < 0):
        raise ValueError(f"{op}: expected an int num_workers >= 0 (got "
                         f"{num_workers!r})")


class NeighborLoader:
    """Mini-batches of seed nodes with their sampled blocks, features and labels, and the
    sampled edges' ``edge_attr`` rows when the graph has them (PyG's ``NeighborLoader``).

    Args:
        graph: a `Graph` (its ``x`` and ``y`` may be memory-mapped, see
            `load_on_disk` in the datasets package).
        num_neighbors: fan-out per hop from the seeds, e.g. ``[15, 10, 5]``; ``-1`` = all.
        batch_size: seed nodes per batch (> 0). (default: 1, as PyG's)
        shuffle: a fresh permutation of ``input_nodes`` every epoch. (default: False)
        input_nodes: seed node ids or a boolean mask (default: every node).
        seed: drives shuffling and sampling (default: drawn from the global generator).
        drop_last: drop the last incomplete batch. (default: False)
        num_workers, pin_memory, persistent_workers: torch DataLoader's, accepted for PyG code
            (``num_workers`` an int >= 0): batches are sampled in this process, with numba's
            threads.
        replace, directed, disjoint, subgraph_type: PyG's sampling options, taken at the
            values this sampler has (False, True, False, "directional"); others are refused
            by name. transform: PyG's: a callable run on each batch.
            filter_per_worker: accepted (one process).

    Each ``iter(loader)`` is one epoch: epoch ``e`` uses its own permutation and sampling
    stream, so two loaders with the same seed yield the same batches. ``loader.timings`` holds
    the seconds the last epoch spent sampling and gathering features. Sampling runs on the
    host (blocks are host SparseTensors); ``x`` and ``y`` are gathered on their own device;
    ``batch.to(device)`` moves a batch (`train_minibatch` moves each to the model's).
    """

    def __init__(self, graph, num_neighbors, batch_size: int = 1, shuffle: bool = False,
                 input_nodes=None, seed=None, drop_last: bool = False, *, replace: bool = False,
                 directed: bool = True, disjoint: bool = False,
                 subgraph_type: str = "directional", transform=None, filter_per_worker=None,
                 num_workers: int = 0, pin_memory: bool = False,
                 persistent_workers: bool = False):
        if not isinstance(graph, Graph):
            raise TypeError(f"NeighborLoader: expected a Graph (got {type(graph).__name__})")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise TypeError(f"NeighborLoader: expected an int `batch_size` (got "
                            f"{type(batch_size).__name__})")
        if batch_size <= 0:
            raise ValueError(f"NeighborLoader: expected `batch_size` > 0 (got {batch_size})")
        _check_pyg_options(replace, directed, disjoint, subgraph_type, transform,
                           filter_per_worker, num_workers)
        self.transform = transform
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last),
                           ("pin_memory", pin_memory),
                           ("persistent_workers", persistent_workers)):
            if not isinstance(flag, bool | np.bool_):
                raise TypeError(f"NeighborLoader: expected a bool `{name}` (got "
                                f"{type(flag).__name__} {flag!r})")
        self.graph = graph
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.sampler = NeighborSampler(graph, check_num_neighbors(num_neighbors,
                                                                  "NeighborLoader"),
                                       check_seed(seed, "NeighborLoader"))
        n = graph.num_nodes
        self.input_nodes = (np.arange(n, dtype=np.int64) if input_nodes is None else
                            check_nodes(input_nodes, n, "NeighborLoader", "input_nodes"))
        if np.unique(self.input_nodes).shape[0] != self.input_nodes.shape[0]:
            raise ValueError("NeighborLoader: expected distinct `input_nodes` (got repeats)")
        self.epoch = 0
        self.timings = {"sample_s": 0.0, "gather_s": 0.0}

    @property
    def seed(self) -> int:
        return self.sampler.seed

    def __len__(self) -> int:
        n, b = self.input_nodes.shape[0], self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        nodes = self.input_nodes
        if self.shuffle:
            nodes = nodes[np.random.default_rng([self.seed, epoch]).permutation(nodes.shape[0])]
        timings = {"sample_s": 0.0, "gather_s": 0.0}
        self.timings = timings
        for i in range(len(self)):
            t0 = time.perf_counter()
            batch = self.sampler._sample(nodes[i * self.batch_size:(i + 1) * self.batch_size],
                                         epoch)
            t1 = time.perf_counter()
            gather_fields(self.graph, batch)
            timings["sample_s"] += t1 - t0
            timings["gather_s"] += time.perf_counter() - t1
            yield batch if self.transform is None else self.transform(batch)

    def __repr__(self) -> str:
        return (f"NeighborLoader(num_nodes={self.graph.num_nodes}, "
                f"input_nodes={self.input_nodes.shape[0]}, batch_size={self.batch_size}, "
                f"num_neighbors={self.sampler.num_neighbors}, shuffle={self.shuffle})")
