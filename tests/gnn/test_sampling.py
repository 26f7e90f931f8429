"""Neighbour sampling: kernel parity, structural validity, determinism, loader, validation."""

import numba
import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import NeighborLoader, NeighborSampler, SampledBlocks
from sparsegraph.gnn import sampling_kernels as sk
from sparsegraph.gnn.sampling import gather_rows
from sparsegraph.graph import Graph


def power_law_graph(n=600, seed=0, max_deg=80, isolated=20):
    """A directed graph with in-degrees from 0 to ``max_deg`` (hubs and leaves), no dupes."""
    rng = np.random.default_rng(seed)
    deg = np.minimum((rng.pareto(1.2, n) * 3).astype(np.int64), max_deg)
    deg[rng.choice(n, isolated, replace=False)] = 0
    dst = np.repeat(np.arange(n), deg)
    src = np.concatenate([rng.choice(n, d, replace=False) for d in deg])
    x = rng.standard_normal((n, 6)).astype(np.float32)
    return Graph(x=x, edge_index=np.stack([src, dst]), y=rng.integers(0, 3, n),
                 train_mask=rng.random(n) < 0.5)


G = power_law_graph()
INDPTR = np.asarray(G.adj.structure.indptr)
INDICES = np.asarray(G.adj.structure.indices)
DEG = np.diff(INDPTR)


def run_kernel(fn, nodes, k, stream, indptr=INDPTR, indices=INDICES):
    local = np.full(G.num_nodes, -1, np.int32)
    local[nodes] = np.arange(nodes.size)
    out = fn(indptr, indices, nodes, k, stream, local)
    # local ids handed out: the targets, then the new nodes in order
    ids = np.concatenate([nodes, out[3]])
    assert np.array_equal(local[ids], np.arange(ids.size))
    assert (np.delete(local, ids) == -1).all()
    return out


@pytest.mark.parametrize("k", [-1, 0, 1, 3, 15, 200], ids=lambda k: f"k={k}")
@pytest.mark.parametrize("idx", ["int32", "int64"])
def test_numba_kernel_matches_generic_exactly(k, idx):
    nodes = np.random.default_rng(1).choice(G.num_nodes, 250, replace=False).astype(np.int64)
    indptr, indices = INDPTR.astype(idx), INDICES.astype(idx)
    stream = sk.stream_key(7, 2, 1)
    ref = run_kernel(sk.sample_neighbors_generic, nodes, k, stream, indptr, indices)
    fast = run_kernel(sk.sample_neighbors_numba, nodes, k, stream, indptr, indices)
    for name, a, b in zip(("rowptr", "col", "e_id", "new_nodes"), ref, fast, strict=True):
        assert np.array_equal(a, b), name


def check_blocks(batch: SampledBlocks, seeds, fanouts):
    """Every structural promise of a sample, against the graph."""
    n_id = batch.n_id
    assert np.array_equal(n_id[:batch.batch_size], seeds) and batch.batch_size == len(seeds)
    assert np.unique(n_id).size == n_id.size
    assert len(batch.blocks) == len(fanouts) == len(batch.e_id)
    assert batch.blocks[0].shape[1] == n_id.size
    assert batch.blocks[-1].shape[0] == batch.batch_size
    for outer, inner in zip(batch.blocks[:-1], batch.blocks[1:], strict=True):
        assert inner.shape[1] == outer.shape[0]  # each layer's targets are the next's sources
    # blocks are outermost first; fan-outs are listed from the seeds outwards
    for block, e_id, k in zip(batch.blocks, batch.e_id, fanouts[::-1], strict=True):
        s = block.structure
        rows, cols = np.asarray(s.rows()), np.asarray(s.cols())
        dst, src = n_id[rows], n_id[cols]
        assert np.array_equal(INDICES[e_id], src)  # the sampled edge src -> dst exists
        assert ((INDPTR[dst] <= e_id) & (e_id < INDPTR[dst + 1])).all()
        want = DEG[n_id[:block.shape[0]]] if k < 0 else np.minimum(DEG[n_id[:block.shape[0]]], k)
        assert np.array_equal(np.diff(np.asarray(s.indptr)), want)  # min(k, deg) per node
        assert np.unique(e_id).size == e_id.size  # no neighbour twice (rows are distinct)
        assert block.values.dtype == np.float32 and (block.values.numpy() == 1).all()


@pytest.mark.parametrize("kernel", ["numba", "generic"])
@pytest.mark.parametrize("fanouts", [[15, 10, 5], [3], [-1, 2], [0, 4]], ids=str)
def test_samples_are_structurally_valid(kernel, fanouts):
    seeds = np.random.default_rng(2).choice(G.num_nodes, 40, replace=False)
    with sg.kernels.use(sample_neighbors=kernel):
        batch = NeighborSampler(G, fanouts, seed=3).sample(seeds)
    check_blocks(batch, seeds, fanouts)


def test_same_seed_same_sample_and_thread_count_does_not_matter():
    seeds = np.arange(0, 600, 7)

    def sample(seed, epoch=0):
        b = NeighborSampler(G.adj, [15, 10, 5], seed=seed).sample(seeds, epoch)
        return [b.n_id] + [np.asarray(a) for blk in b.blocks
                           for a in (blk.structure.indptr, blk.structure.indices)]

    first = sample(11)
    prev = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = sample(11)
    finally:
        numba.set_num_threads(prev)
    assert all(np.array_equal(a, b) for a, b in zip(first, single, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(first, sample(11), strict=True))
    for other in (sample(12), sample(11, epoch=1)):
        assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=False))


def test_a_nodes_sample_does_not_depend_on_its_batch():
    sampler = NeighborSampler(G, [4], seed=5)
    hub, others = int(np.argmax(DEG)), np.flatnonzero(DEG == 0)[:4]
    assert DEG[hub] > 4
    a = sampler.sample(np.array([hub, others[0], others[1]]))
    b = sampler.sample(np.array([others[2], others[3], hub]))
    assert np.array_equal(a.e_id[0], b.e_id[0]) and a.e_id[0].size == 4


def test_sampling_is_uniform_without_replacement():
    # node 0 has 20 in-neighbours; over many epochs each is picked with probability 5 / 20
    src = np.arange(1, 21)
    g = Graph(edge_index=np.stack([src, np.zeros(20, np.int64)]), num_nodes=21)
    sampler = NeighborSampler(g, [5], seed=0)
    trials = 4000
    counts = np.zeros(21)
    pairs = np.zeros((21, 21))
    for epoch in range(trials):
        picked = sampler.sample(np.array([0]), epoch).n_id[1:]
        assert picked.size == 5 and np.unique(picked).size == 5
        counts[picked] += 1
        pairs[np.ix_(picked, picked)] += 1
    freq = counts[1:] / trials
    std = np.sqrt(0.25 * 0.75 / trials)
    assert np.abs(freq - 0.25).max() < 5 * std
    # pairs too: P(i and j both picked) = C(18, 3) / C(20, 5) = 20 / 380
    off = pairs[1:, 1:][~np.eye(20, dtype=bool)] / trials
    p2 = 20 / 380
    assert np.abs(off - p2).max() < 5 * np.sqrt(p2 * (1 - p2) / trials)


def test_scratch_array_is_reset_after_errors():
    sampler = NeighborSampler(G, [3], seed=0)
    with pytest.raises(ValueError, match="distinct seed nodes"):
        sampler.sample(np.array([4, 5, 4]))
    assert (sampler._local == -1).all()
    check_blocks(sampler.sample(np.array([4, 5])), np.array([4, 5]), [3])
    assert (sampler._local == -1).all()


def test_seed_none_follows_the_global_generator():
    sg.manual_seed(3)
    a = NeighborSampler(G, [2]).seed
    sg.manual_seed(3)
    assert NeighborSampler(G, [2]).seed == a


# ---- loader ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_covers_input_nodes_once_per_epoch(shuffle, drop_last):
    mask = np.asarray(G.train_mask.array)
    loader = NeighborLoader(G, [5, 5], batch_size=32, shuffle=shuffle, input_nodes=mask,
                            seed=0, drop_last=drop_last)
    n_in = int(mask.sum())
    assert len(loader) == (n_in // 32 if drop_last else -(-n_in // 32))
    epochs = []
    for _ in range(2):
        seeds = []
        for batch in loader:
            seeds.append(batch.n_id[:batch.batch_size])
            np.testing.assert_array_equal(batch.x.numpy(), G.x.numpy()[batch.n_id])
            np.testing.assert_array_equal(batch.y.numpy(), G.y.numpy()[seeds[-1]])
            check_blocks(batch, seeds[-1], [5, 5])
        seeds = np.concatenate(seeds)
        assert seeds.size == (n_in // 32 * 32 if drop_last else n_in)
        assert np.unique(seeds).size == seeds.size and mask[seeds].all()
        epochs.append(seeds)
    if shuffle:
        assert not np.array_equal(epochs[0], epochs[1])
    else:
        assert np.array_equal(epochs[0], np.flatnonzero(mask)[:epochs[0].size])
    assert loader.timings["sample_s"] > 0


def test_two_loaders_with_one_seed_agree():
    def run():
        loader = NeighborLoader(G, [4, 3], 50, shuffle=True, seed=9)
        return [b.n_id for _ in range(2) for b in loader]

    a, b = run(), run()
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def test_loader_gathers_sparse_features_row_by_row():
    g = Graph(x=G.x.to_sparse(), adj=G.adj, y=G.y)
    batch = next(iter(NeighborLoader(g, [3], 16, seed=0)))
    assert isinstance(batch.x, sg.SparseTensor)
    np.testing.assert_array_equal(batch.x.to_dense().numpy(), G.x.numpy()[batch.n_id])
    idx = np.array([5, 0, 5, 599])
    np.testing.assert_array_equal(gather_rows(g.x, idx).to_dense().numpy(), G.x.numpy()[idx])


# ---- validation --------------------------------------------------------------------------------
@pytest.mark.parametrize("fanouts, err, match", [
    ([15, -2], ValueError, r"fan-outs >= 0, or -1 .* \(got -2\)"),
    ([], ValueError, "at least one fan-out"),
    (10, TypeError, "one fan-out per layer"),
    ([2.5], TypeError, r"integer fan-outs .* \(got 2.5\)"),
    (None, TypeError, "list of ints"),
], ids=["negative", "empty", "int", "float", "none"])
def test_bad_fanouts(fanouts, err, match):
    with pytest.raises(err, match=match):
        NeighborSampler(G, fanouts)
    with pytest.raises(err, match=match):
        NeighborLoader(G, fanouts, 8)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"batch_size": 0}, ValueError, r"`batch_size` > 0 \(got 0\)"),
    ({"batch_size": -3}, ValueError, r"`batch_size` > 0 \(got -3\)"),
    ({"batch_size": 2.0}, TypeError, "int `batch_size`"),
    ({"input_nodes": [0, 600]}, ValueError, r"`input_nodes` in \[0, 600\) \(got 600\)"),
    ({"input_nodes": [-1]}, ValueError, r"\(got -1\)"),
    ({"input_nodes": np.ones(599, bool)}, ValueError, r"mask of shape \(600,\) .* \(599,\)"),
    ({"input_nodes": [0.0, 1.0]}, TypeError, "integer node ids or a boolean mask"),
    ({"input_nodes": [[0, 1]]}, ValueError, "1-D `input_nodes`"),
    ({"input_nodes": [3, 3]}, ValueError, "distinct `input_nodes`"),
    ({"seed": -1}, ValueError, "`seed` in"),
    ({"seed": "a"}, TypeError, "int `seed`"),
], ids=lambda v: str(v) if isinstance(v, dict) else "")
def test_bad_loader_arguments(kwargs, err, match):
    args = {"batch_size": 8, **kwargs}
    with pytest.raises(err, match=match):
        NeighborLoader(G, [2], **args)


def test_bad_graph_and_seeds():
    with pytest.raises(TypeError, match="expected a Graph or a square SparseTensor"):
        NeighborSampler(np.zeros((2, 3), np.int64), [2])
    rect = sg.sparse_csr([0, 1, 1], [2], shape=(2, 3))
    with pytest.raises(ValueError, match=r"square adjacency \(got shape \(2, 3\)\)"):
        NeighborSampler(rect, [2])
    with pytest.raises(TypeError, match="expected a Graph"):
        NeighborLoader(G.adj, [2], 4)
    sampler = NeighborSampler(G, [2], seed=0)
    with pytest.raises(ValueError, match=r"`seeds` in \[0, 600\) \(got 700\)"):
        sampler.sample([700])
    with pytest.raises(ValueError, match="int `epoch` >= 0"):
        sampler.sample([1], epoch=-1)
