"""NeighborSampler's bookkeeping: ``e_id`` indexes the given adjacency's own entries (COO,
unsorted, CSR), and ``num_sampled_nodes`` / ``num_sampled_edges`` are PyG's per-hop lists."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import NeighborLoader, NeighborSampler
from sparsegraph.graph import Graph


def shuffled_coo(n=60, e=400, seed=0):
    """A COO adjacency (row = target) with distinct entries in random order, random weights."""
    rng = np.random.default_rng(seed)
    flat = rng.choice(n * n, e, replace=False)  # distinct (row, col) pairs, unsorted
    row, col = flat // n, flat % n
    w = rng.random(e).astype(np.float32) + 1
    return sg.sparse_coo(np.stack([row, col]), w, (n, n)), row, col, w


def test_e_id_indexes_a_coo_adjacency_as_stored():
    # the audit's example: e_id indexed a hidden CSR conversion, not A's entries
    a = sg.sparse_coo(np.array([[1, 0, 1, 1], [3, 1, 2, 2]]),
                      np.array([1., 2., 3., 4.], np.float32), (4, 4))
    b = NeighborSampler(a, [-1], seed=0).sample([1])
    assert sorted(b.e_id[0].tolist()) == [0, 2, 3]
    assert np.array_equal(a.values.numpy()[b.e_id[0]], b.blocks[0].values.numpy())


@pytest.mark.parametrize("kernel", ["numba", "generic"])
@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_e_id_gives_each_sampled_edge_and_its_weight(kernel, layout):
    a, row, col, w = shuffled_coo()
    if layout == "csr":  # CSR storage: e_id are its own positions
        a = a.to_csr()
        s = a.structure
        row, col, w = np.asarray(s.rows()), np.asarray(s.indices), a.values.numpy()
    seeds = np.array([3, 17, 42, 5])
    with sg.kernels.use(sample_neighbors=kernel):
        batch = NeighborSampler(a, [4, 3], seed=1).sample(seeds)
    for block, e_id in zip(batch.blocks, batch.e_id, strict=True):
        assert e_id.dtype == np.int64
        s = block.structure
        dst, src = batch.n_id[np.asarray(s.rows())], batch.n_id[np.asarray(s.cols())]
        assert np.array_equal(row[e_id], dst) and np.array_equal(col[e_id], src)
        assert np.array_equal(w[e_id], block.values.numpy())
        assert np.array_equal(a.values.numpy()[e_id], block.values.numpy())


def test_coo_and_csr_inputs_sample_the_same_edges():
    a, row, col, _ = shuffled_coo(seed=3)
    seeds = np.arange(0, 60, 6)
    bc = NeighborSampler(a, [-1, -1], seed=2).sample(seeds)
    br = NeighborSampler(a.to_csr(), [-1, -1], seed=2).sample(seeds)
    s = a.to_csr().structure
    crow, ccol = np.asarray(s.rows()), np.asarray(s.indices)
    for ec, er in zip(bc.e_id, br.e_id, strict=True):
        got = sorted(zip(row[ec], col[ec], strict=True))
        assert got == sorted(zip(crow[er], ccol[er], strict=True))


def path_sample():
    # 0 <- 1 <- 2 <- 3 and 0 <- 4: in-neighbours of 0 are {1, 4}, of 1 {2}, of 2 {3}
    src, dst = np.array([1, 4, 2, 3]), np.array([0, 0, 1, 2])
    g = Graph(edge_index=np.stack([src, dst]), num_nodes=5)
    return NeighborSampler(g, [-1, -1, -1], seed=0).sample([0])


def test_num_sampled_are_per_hop_lists_as_in_pyg():
    b = path_sample()
    # PyG's order: [seeds, new nodes at hop 1, hop 2, hop 3]; edges sampled at hops 1, 2, 3.
    # Every hop samples for all nodes reached so far (a block per layer): hop 2 resamples 0's
    # two in-edges and adds 2 -> 1, hop 3 adds 3 -> 2 (PyG, sampling the frontier only: 2, 1, 1)
    assert b.num_sampled_nodes == [1, 2, 1, 1]
    assert b.num_sampled_edges == [2, 3, 4]
    assert sum(b.num_sampled_nodes) == b.n_id.shape[0]


@pytest.mark.parametrize("fanouts", [[5, 3], [2], [0, 4, -1]], ids=str)
def test_num_sampled_match_the_blocks(fanouts):
    a, *_ = shuffled_coo(seed=4)
    loader = NeighborLoader(Graph(adj=a), fanouts, batch_size=7, seed=0)
    for b in loader:
        nodes, edges = b.num_sampled_nodes, b.num_sampled_edges
        assert len(nodes) == len(fanouts) + 1 and len(edges) == len(fanouts)
        assert nodes[0] == b.batch_size and sum(nodes) == b.n_id.shape[0]
        # hop h's block: targets are the nodes reached before it, sources add hop h's nodes
        for h, block in enumerate(b.blocks[::-1]):
            assert block.shape == (sum(nodes[:h + 1]), sum(nodes[:h + 2]))
            assert edges[h] == block.nnz == b.e_id[-1 - h].shape[0]
