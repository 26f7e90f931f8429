"""SampledBlocks.edge_index: PyG's batch.edge_index, so PyG's mini-batch loop runs as written:
``model(batch.x, batch.edge_index)[:batch.batch_size]``."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import NeighborLoader, NeighborSampler, SAGEConv
from sparsegraph.graph import Graph


def test_path_graph_edges_per_hop():
    # 0 <- 1 <- 2 <- 3 and 0 <- 4
    src, dst = np.array([1, 4, 2, 3]), np.array([0, 0, 1, 2])
    g = Graph(edge_index=np.stack([src, dst]), num_nodes=5)
    b = NeighborSampler(g, [-1, -1, -1], seed=0).sample([0])
    ei = b.edge_index.numpy()
    glob = {(int(b.n_id[s]), int(b.n_id[t])) for s, t in ei.T}
    assert glob == {(1, 0), (4, 0), (2, 1), (3, 2)}  # every edge once, none repeated
    assert ei.shape == (2, 4) and b.num_nodes == 5


@pytest.mark.parametrize("fanouts", [[5, 3, 2], [2], [0, 4]], ids=str)
def test_edges_are_graph_edges_and_each_hop_keeps_its_fan_out(fanouts):
    rng = np.random.default_rng(0)
    n = 300
    edge_index = rng.integers(0, n, (2, 3000))
    g = Graph(edge_index=edge_index, num_nodes=n)
    dense = np.zeros((n, n), bool)
    dense[edge_index[0], edge_index[1]] = True
    for b in NeighborLoader(g, fanouts, batch_size=16, seed=3):
        ei = b.edge_index.numpy()
        assert ei.shape[0] == 2 and ei.dtype.kind == "i"
        assert ((0 <= ei) & (ei < b.num_nodes)).all()
        assert dense[b.n_id[ei[0]], b.n_id[ei[1]]].all()  # (source, target) edges of g
        assert len({(s, t) for s, t in ei.T}) == ei.shape[1] or len(
            set(map(tuple, edge_index.T))) < edge_index.shape[1]  # repeats only if g has them
        deg = np.bincount(ei[1], minlength=b.num_nodes)
        bounds = np.cumsum([0, *b.num_sampled_nodes])
        for h, k in enumerate(fanouts):
            assert deg[bounds[h]:bounds[h + 1]].max(initial=0) <= k
        assert not deg[bounds[-2]:].any()  # the last hop's nodes get no edges


def test_a_full_graph_model_on_the_batch_matches_the_full_graph(tmp_path):
    rng = np.random.default_rng(1)
    n, f = 400, 8
    edge_index = rng.integers(0, n, (2, 2400))
    g = Graph(x=rng.standard_normal((n, f)).astype(np.float32), edge_index=edge_index,
              num_nodes=n)
    sg.manual_seed(0)
    c1, c2 = SAGEConv(f, 16), SAGEConv(16, 3)
    with sg.no_grad():
        full = c2(c1(g.x, g.adj).relu(), g.adj).numpy()
        for b in NeighborLoader(g, [-1, -1], batch_size=50, shuffle=True, seed=0):
            out = c2(c1(b.x, b.edge_index).relu(), b.edge_index)[:b.batch_size]
            np.testing.assert_allclose(out.numpy(), full[b.n_id[:b.batch_size]], rtol=1e-5,
                                       atol=1e-6)


def test_edge_weight_follows_edge_index_and_a_weighted_gcn_matches_the_full_graph():
    from sparsegraph.gnn import GCNConv

    rng = np.random.default_rng(2)
    n, f = 300, 6
    edge_index = np.unique(rng.integers(0, n, (2, 2000)), axis=1)
    w = rng.uniform(0.5, 2.0, edge_index.shape[1]).astype(np.float32)
    g = Graph(x=rng.standard_normal((n, f)).astype(np.float32), edge_index=edge_index,
              edge_weight=w, num_nodes=n)
    weight_of = {(int(s), int(t)): float(v) for s, t, v in zip(*edge_index, w, strict=True)}
    sg.manual_seed(0)
    conv = GCNConv(f, 4, normalize=False)  # no degree normalisation: exact on the batch
    with sg.no_grad():
        full = conv(g.x, g.adj).numpy()
        for b in NeighborLoader(g, [-1], batch_size=40, seed=0):
            ei, ew = b.edge_index.numpy(), b.edge_weight.numpy()
            assert ew.shape == (ei.shape[1],)
            assert [weight_of[int(b.n_id[s]), int(b.n_id[t])] for s, t in ei.T] == ew.tolist()
            out = conv(b.x, b.edge_index, b.edge_weight)[:b.batch_size]
            np.testing.assert_allclose(out.numpy(), full[b.n_id[:b.batch_size]], rtol=1e-5,
                                       atol=1e-5)


def test_worker_arguments_are_accepted_and_checked():
    g = Graph(edge_index=np.array([[0, 1, 2], [1, 2, 0]]), num_nodes=3)
    loader = NeighborLoader(g, [2], batch_size=2, num_workers=4, persistent_workers=True,
                            pin_memory=True)
    assert len(list(loader)) == 2
    with pytest.raises(ValueError, match="expected an int num_workers >= 0"):
        NeighborLoader(g, [2], batch_size=2, num_workers=-1)
    with pytest.raises(TypeError, match="expected a bool `pin_memory`"):
        NeighborLoader(g, [2], batch_size=2, pin_memory="yes")


def test_pygs_tutorial_call_and_its_batch():
    # PyG's "Scaling GNNs via Neighbor Sampling": 0 <- 1, 0 <- 2, 1 <- 3, 2 <- 4, ...
    edge_index = np.array([[1, 2, 3, 4, 5, 6], [0, 0, 1, 2, 3, 4]])
    g = Graph(x=np.arange(7, dtype=np.float32)[:, None], edge_index=edge_index, num_nodes=7)
    loader = NeighborLoader(g, input_nodes=sg.tensor([0, 1]), num_neighbors=[2, 1],
                            batch_size=1, replace=False, shuffle=False, directed=True,
                            filter_per_worker=None, transform=lambda b: b)
    b = next(iter(loader))
    assert b.batch_size == 1 and b.n_id.tolist() == [0, 1, 2, 3, 4]
    glob = {(int(b.n_id[s]), int(b.n_id[t])) for s, t in b.edge_index.numpy().T}
    assert glob == {(1, 0), (2, 0), (3, 1), (4, 2)}
    assert len(NeighborLoader(g, [1])) == 7  # batch_size defaults to 1, as PyG's


@pytest.mark.parametrize("kw", [{"replace": True}, {"disjoint": True}, {"directed": False},
                                {"subgraph_type": "induced"}])
def test_sampling_options_it_does_not_have_are_named(kw):
    g = Graph(edge_index=np.array([[0, 1], [1, 0]]), num_nodes=2)
    with pytest.raises(ValueError, match=rf"NeighborLoader: {next(iter(kw))}=.* is not "
                                         "supported"):
        NeighborLoader(g, [1], **kw)


def test_numpy_bools_for_the_sampling_flags():
    g = Graph(edge_index=np.array([[0, 1], [1, 0]]), num_nodes=2)
    assert len(NeighborLoader(g, [1], replace=np.False_, directed=np.True_,
                              filter_per_worker=np.False_)) == 2
