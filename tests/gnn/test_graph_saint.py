"""GraphSAINT samplers and RandomNodeLoader: induced subgraphs, what each sampler draws, PyG's
normalisation against a brute-force recount, determinism, save_dir, training, errors."""

import os

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import (
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    RandomNodeLoader,
    models,
)
from sparsegraph.gnn.graph_saint import GraphSAINTSampler
from sparsegraph.graph import Graph


def make_graph(n=60, m=240, seed=0):
    """A directed graph with duplicate edges, self loops, sinks and isolated nodes;
    ``x[:, 0]`` is the node id, ``edge_attr[:, 0]`` the edge's position in the given
    edge_index and ``edge_weight`` that position + 1 (all exact in float32)."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n - 5, m)  # the last 5 nodes have no out-edges
    dst = rng.integers(0, n - 2, m)  # ... and the last 2 are isolated
    src[:3], dst[:3] = src[3], dst[3]  # duplicates
    x = np.stack([np.arange(n), rng.standard_normal(n)], 1).astype(np.float32)
    pos = np.arange(m, dtype=np.float32)
    return Graph(x=x, edge_index=np.stack([src, dst]), y=rng.integers(0, 3, n),
                 train_mask=rng.random(n) < 0.5, edge_weight=pos + 1,
                 edge_attr=np.stack([pos, -pos], 1), num_nodes=n)


G = make_graph()
EI = np.asarray(G.edge_index).astype(np.int64)  # the order node_norm / edge_norm index
IN_POS = np.asarray(G.edge_attr.numpy()[:, 0]).astype(np.int64)  # CSR position -> given one
CSR_POS = np.argsort(IN_POS)  # given position -> CSR position
SRC_IN, DST_IN = EI[0][CSR_POS], EI[1][CSR_POS]  # the edges in the given order

SAMPLERS = [
    lambda g, **kw: GraphSAINTNodeSampler(g, 25, log=False, **kw),
    lambda g, **kw: GraphSAINTEdgeSampler(g, 15, log=False, **kw),
    lambda g, **kw: GraphSAINTRandomWalkSampler(g, 8, 3, log=False, **kw),
]
IDS = ["node", "edge", "walk"]


def check_induced(g, batch):
    """``batch`` is ``g``'s subgraph on ``batch.x[:, 0]`` (ascending): every edge among those
    nodes, once each, no other, with every attribute following."""
    nodes = batch.x.numpy()[:, 0].astype(np.int64)
    assert (np.diff(nodes) > 0).all()
    inside = np.isin(SRC_IN, nodes) & np.isin(DST_IN, nodes)
    want = sorted(zip(SRC_IN[inside], DST_IN[inside], np.flatnonzero(inside), strict=True))
    bei = np.asarray(batch.edge_index).astype(np.int64)
    pos = batch.edge_attr.numpy()[:, 0].astype(np.int64)
    got = sorted(zip(nodes[bei[0]], nodes[bei[1]], pos, strict=True))
    assert got == want
    assert np.array_equal(batch.edge_attr.numpy()[:, 1], -pos)
    assert np.array_equal(batch.edge_weight.numpy(), pos + 1)
    assert np.array_equal(batch.x.numpy(), g.x.numpy()[nodes])
    assert np.array_equal(batch.y.numpy(), g.y.numpy()[nodes])
    assert np.array_equal(batch.train_mask.numpy(), g.train_mask.numpy()[nodes])
    return nodes, CSR_POS[pos]


def tv(p, q):
    """Total variation distance between two distributions."""
    return 0.5 * np.abs(p - q).sum()


def recording(monkeypatch, cls):
    """Record every draw of ``cls._sample_nodes``."""
    draws = []
    original = cls._sample_nodes
    monkeypatch.setattr(cls, "_sample_nodes",
                        lambda self, rng: draws.append(original(self, rng)) or draws[-1])
    return draws


@pytest.mark.parametrize("make", SAMPLERS, ids=IDS)
def test_batches_are_induced_subgraphs_with_their_norms(make):
    sampler = make(G, num_steps=4, sample_coverage=3, seed=1)
    assert len(sampler) == 4
    batches = list(sampler)
    assert len(batches) == 4
    for batch in batches:
        nodes, e_id = check_induced(G, batch)
        assert batch.node_norm.dtype == sg.float32 and batch.edge_norm.dtype == sg.float32
        assert np.array_equal(batch.node_norm.numpy(), sampler.node_norm[nodes])
        assert np.array_equal(batch.edge_norm.numpy(), sampler.edge_norm[e_id])


@pytest.mark.parametrize("make", SAMPLERS, ids=IDS)
def test_no_norms_without_coverage(make):
    batch = next(iter(make(G, seed=0)))
    check_induced(G, batch)
    assert "node_norm" not in batch and "edge_norm" not in batch


def test_node_sampler_draws_batch_size_sources_of_edges(monkeypatch):
    draws = recording(monkeypatch, GraphSAINTNodeSampler)
    sampler = GraphSAINTNodeSampler(G, 25, num_steps=3, log=False, seed=0)
    batches = list(sampler)
    assert len(draws) == 3
    out_deg = np.bincount(EI[0], minlength=G.num_nodes)
    for d, batch in zip(draws, batches, strict=True):
        assert d.shape == (25,) and (out_deg[d] > 0).all()
        assert np.array_equal(batch.x.numpy()[:, 0], np.unique(d))
    # many draws: a node is drawn in proportion to its out-degree (PyG: source of a random edge)
    rng = np.random.default_rng(5)
    d = np.concatenate([GraphSAINTNodeSampler._sample_nodes(sampler, rng) for _ in range(400)])
    freq = np.bincount(d, minlength=G.num_nodes) / d.size
    uniform = (out_deg > 0) / (out_deg > 0).sum()  # the alternative: every source alike
    assert tv(freq, out_deg / out_deg.sum()) < 0.05 < 0.15 < tv(uniform, out_deg / out_deg.sum())


def test_edge_sampler_draws_both_ends_of_batch_size_edges(monkeypatch):
    draws = recording(monkeypatch, GraphSAINTEdgeSampler)
    sampler = GraphSAINTEdgeSampler(G, 15, num_steps=2, log=False, seed=0)
    batches = list(sampler)
    edges = set(zip(EI[0], EI[1], strict=True))
    for d, batch in zip(draws, batches, strict=True):
        assert d.shape == (30,)
        assert set(zip(d[:15], d[15:], strict=True)) <= edges
        assert np.array_equal(batch.x.numpy()[:, 0], np.unique(d))
    # the edge u -> w is drawn with probability proportional to 1/deg_in(u) + 1/deg_out(w)
    deg_in = np.maximum(np.bincount(EI[1], minlength=G.num_nodes), 1)
    deg_out = np.maximum(np.bincount(EI[0], minlength=G.num_nodes), 1)
    key = EI[0] * G.num_nodes + EI[1]

    def dist(p):  # per node pair: duplicate edges add up
        return np.bincount(key, p / p.sum(), minlength=G.num_nodes ** 2)

    want = dist(1 / deg_in[EI[0]] + 1 / deg_out[EI[1]])
    rng = np.random.default_rng(5)
    d = np.stack([GraphSAINTEdgeSampler._sample_nodes(sampler, rng) for _ in range(2000)])
    got = np.bincount((d[:, :15] * G.num_nodes + d[:, 15:]).ravel(),
                      minlength=G.num_nodes ** 2) / d[:, :15].size
    assert tv(got, want) < 0.06
    # the alternatives are far: uniform edges, and PyG's code as written (its degrees inverted
    # twice: deg_in(u) + deg_out(w))
    assert tv(dist(np.ones(key.size)), want) > 0.15
    assert tv(dist(1.0 * deg_in[EI[0]] + deg_out[EI[1]]), want) > 0.15


def test_random_walk_sampler_draws_roots_and_walks(monkeypatch):
    draws = recording(monkeypatch, GraphSAINTRandomWalkSampler)
    sampler = GraphSAINTRandomWalkSampler(G, 8, 3, num_steps=2, log=False, seed=0)
    batches = list(sampler)
    edges = set(zip(EI[0], EI[1], strict=True))
    out_deg = np.bincount(EI[0], minlength=G.num_nodes)
    for d, batch in zip(draws, batches, strict=True):
        assert d.shape == (8 * 4,)
        walks = d.reshape(8, 4)
        for a, b in zip(walks[:, :-1].ravel(), walks[:, 1:].ravel(), strict=True):
            assert (a, b) in edges or (out_deg[a] == 0 and a == b)
        assert np.array_equal(batch.x.numpy()[:, 0], np.unique(d))
    roots = np.concatenate([GraphSAINTRandomWalkSampler._sample_nodes(sampler, r)[::4]
                            for r in [np.random.default_rng(s) for s in range(300)]])
    assert np.bincount(roots, minlength=G.num_nodes).min() > 0  # roots: every node, sinks too


def brute_force_norm(draws, num_nodes, ei):
    """PyG's `_compute_norm` recounted from the raw draws, one edge at a time."""
    node_count = np.zeros(num_nodes)
    edge_count = np.zeros(ei.shape[1])
    for d in draws:
        nodes = set(np.unique(d).tolist())
        for v in nodes:
            node_count[v] += 1
        for e in range(ei.shape[1]):
            if ei[0, e] in nodes and ei[1, e] in nodes:
                edge_count[e] += 1
    edge_norm = np.empty(ei.shape[1])
    for e in range(ei.shape[1]):
        t, c = node_count[ei[0, e]], edge_count[e]
        edge_norm[e] = 0.1 if t == 0 and c == 0 else 1e4 if c == 0 else min(t / c, 1e4)
    node_count[node_count == 0] = 0.1
    return len(draws) / node_count / num_nodes, edge_norm


@pytest.mark.parametrize("cls, args", [(GraphSAINTNodeSampler, (10,)),
                                       (GraphSAINTEdgeSampler, (6,)),
                                       (GraphSAINTRandomWalkSampler, (4, 2))], ids=IDS)
def test_norm_is_pygs_formula_on_the_samples_drawn(monkeypatch, cls, args):
    draws = recording(monkeypatch, cls)
    sampler = cls(G, *args, num_steps=3, sample_coverage=4, log=False, seed=2)
    # whole epochs of num_steps samples until the nodes drawn reach N * sample_coverage
    assert len(draws) % 3 == 0
    sizes = np.cumsum([np.unique(d).size for d in draws])
    assert sizes[-1] >= G.num_nodes * 4 > sizes[-4]
    node_norm, edge_norm = brute_force_norm(draws, G.num_nodes, EI)
    np.testing.assert_allclose(sampler.node_norm, node_norm, rtol=1e-6)
    np.testing.assert_allclose(sampler.edge_norm, edge_norm, rtol=1e-6)
    assert sampler.node_norm.dtype == np.float32 == sampler.edge_norm.dtype


def test_norm_special_cases_are_pygs():
    # 5 one-node samples (coverage 1 of 5 nodes), drawn from the sources of 1003 edges: node 3
    # has no out-edges, so it is never drawn and the edges into it are never sampled: 0 -> 3,
    # whose source is drawn, is C_0 / 0 (clamped to 1e4); 4 -> 3, whose source (1 edge in
    # 1003) is not drawn either, is 0 / 0 (PyG's 0.1)
    ei = np.array([[0] * 500 + [1] * 500 + [2, 0, 4], [1] * 500 + [2] * 500 + [0, 3, 3]])
    g = Graph(edge_index=ei, num_nodes=5)
    s = GraphSAINTNodeSampler(g, 1, sample_coverage=1, log=False, seed=0)
    ei = np.asarray(g.edge_index)
    norm = dict(zip(zip(*ei.tolist(), strict=True), s.edge_norm.tolist(), strict=True))
    assert norm[(0, 3)] == pytest.approx(1e4) and norm[(4, 3)] == pytest.approx(0.1)
    # nodes never drawn count C = 0.1: num_samples / 0.1 / N
    assert s.node_norm[3] == s.node_norm[4] == pytest.approx(5 / 0.1 / 5)


@pytest.mark.parametrize("make", SAMPLERS, ids=IDS)
def test_deterministic_for_a_seed(make):
    a, b, c = (make(G, num_steps=2, sample_coverage=2, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.node_norm, b.node_norm)
    np.testing.assert_array_equal(a.edge_norm, b.edge_norm)
    ids = lambda s: [tuple(bt.x.numpy()[:, 0]) for bt in s]  # noqa: E731
    first, again = ids(a), ids(b)
    assert first == again
    assert ids(c) != first  # another seed
    assert ids(a) != first  # the next epoch


def test_seed_none_follows_manual_seed():
    sg.manual_seed(11)
    a = GraphSAINTNodeSampler(G, 25, log=False)
    sg.manual_seed(11)
    b = GraphSAINTNodeSampler(G, 25, log=False)
    assert a.seed == b.seed
    assert np.array_equal(next(iter(a)).x.numpy(), next(iter(b)).x.numpy())


def test_save_dir_saves_and_reloads_the_norm(tmp_path, monkeypatch):
    a = GraphSAINTRandomWalkSampler(G, 6, 2, sample_coverage=3, save_dir=tmp_path, log=False,
                                    seed=0)
    assert sorted(os.listdir(tmp_path)) == ["graphsaintrandomwalksampler_2_3.npz"]
    with np.load(tmp_path / "graphsaintrandomwalksampler_2_3.npz", allow_pickle=False) as f:
        np.testing.assert_array_equal(f["node_norm"], a.node_norm)
        np.testing.assert_array_equal(f["edge_norm"], a.edge_norm)

    def refuse(self):
        raise AssertionError("recomputed")

    monkeypatch.setattr(GraphSAINTSampler, "_compute_norm", refuse)
    b = GraphSAINTRandomWalkSampler(G, 6, 2, sample_coverage=3, save_dir=str(tmp_path),
                                    log=False, seed=5)  # loaded, as PyG's: the seed is not read
    np.testing.assert_array_equal(b.edge_norm, a.edge_norm)
    batch = next(iter(b))
    nodes, e_id = check_induced(G, batch)
    np.testing.assert_array_equal(batch.edge_norm.numpy(), a.edge_norm[e_id])
    with pytest.raises(ValueError, match=r"GraphSAINTRandomWalkSampler: expected the "
                                         r"normalisation saved in .* for 10 nodes"):
        GraphSAINTRandomWalkSampler(make_graph(10, 30), 6, 2, sample_coverage=3,
                                    save_dir=tmp_path, log=False)


def test_node_sampler_save_dir_name_and_log(tmp_path, capsys):
    GraphSAINTNodeSampler(G, 10, sample_coverage=1, save_dir=tmp_path / "new", seed=0)
    assert os.listdir(tmp_path / "new") == ["graphsaintnodesampler_1.npz"]
    assert "Compute GraphSAINT normalization" in capsys.readouterr().err


@pytest.mark.parametrize("shuffle", [False, True])
def test_random_node_loader_partitions_every_node_once(shuffle):
    loader = RandomNodeLoader(G, 7, shuffle=shuffle, seed=3)
    assert len(loader) == 7 and loader.batch_size == 9
    batches = list(loader)
    assert [b.num_nodes for b in batches] == [9] * 6 + [6]
    parts = [b.x.numpy()[:, 0].astype(np.int64) for b in batches]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(G.num_nodes))
    assert (not shuffle) == np.array_equal(np.concatenate(parts), np.arange(G.num_nodes))
    for b, part in zip(batches, parts, strict=True):
        order = np.argsort(part)  # induced: the edges among the part, attributes following
        check_induced(G, b.subgraph(order))
    if shuffle:
        again = [b.x.numpy()[:, 0] for b in RandomNodeLoader(G, 7, shuffle=True, seed=3)]
        assert all(np.array_equal(a, p) for a, p in zip(again, parts, strict=True))
        assert not np.array_equal(np.concatenate([b.x.numpy()[:, 0] for b in loader]),
                                  np.concatenate(parts))  # a fresh partition each epoch


def test_random_node_loader_len_is_pygs():
    assert len(RandomNodeLoader(make_graph(10, 20), 6)) == 5  # ceil(10 / ceil(10 / 6))
    assert len(RandomNodeLoader(G, 7, drop_last=True)) == 6
    assert [b.num_nodes for b in RandomNodeLoader(G, 7, drop_last=True)] == [9] * 6


@pytest.mark.dataset
def test_graph_saint_trains_gcn_on_cora(data_root):
    from sparsegraph.datasets import Planetoid
    from sparsegraph.nn import functional as F

    g = Planetoid("cora", root=data_root, download=False, normalize_features=True)[0]
    loader = GraphSAINTRandomWalkSampler(g, 300, 2, num_steps=5, sample_coverage=10,
                                         log=False, seed=0)
    sg.manual_seed(0)
    model = models.GCN(g.num_features, 64, 2, 7)
    opt = sg.optim.Adam(model.parameters(), lr=0.01)
    mask = g.train_mask.numpy()

    def full_loss():
        with sg.no_grad():
            return float(F.nll_loss(F.log_softmax(model(g.x, g), -1)[mask], g.y[mask]))

    before = full_loss()
    for _ in range(10):
        for batch in loader:
            opt.zero_grad()
            out = F.log_softmax(model(batch.x, batch), -1)
            loss = (F.nll_loss(out, batch.y, reduction="none") * batch.node_norm)[
                batch.train_mask].sum()
            loss.backward()
            opt.step()
            # and with the aggregator's norm as PyG's example passes it
            model(batch.x, batch.edge_index, batch.edge_norm * batch.edge_weight)
    assert full_loss() < 0.5 * before, (before, full_loss())


def test_errors_are_named():
    with pytest.raises(TypeError, match=r"GraphSAINTNodeSampler: expected a Graph as `data` "
                                        r"\(got ndarray\)"):
        GraphSAINTNodeSampler(EI, 10)
    with pytest.raises(ValueError, match=r"GraphSAINTEdgeSampler: expected `batch_size` >= 1 "
                                         r"\(got 0\)"):
        GraphSAINTEdgeSampler(G, 0)
    with pytest.raises(TypeError, match=r"GraphSAINTNodeSampler: expected an int `num_steps` "
                                        r"\(got float 1.5\)"):
        GraphSAINTNodeSampler(G, 10, num_steps=1.5)
    with pytest.raises(ValueError, match=r"GraphSAINTRandomWalkSampler: expected "
                                         r"`walk_length` >= 0 \(got -1\)"):
        GraphSAINTRandomWalkSampler(G, 10, -1)
    with pytest.raises(ValueError, match=r"GraphSAINTNodeSampler: expected `sample_coverage` "
                                         r">= 0 \(got -2\)"):
        GraphSAINTNodeSampler(G, 10, sample_coverage=-2)
    g = make_graph()
    g.node_norm = np.ones(g.num_nodes, np.float32)
    with pytest.raises(ValueError, match=r"GraphSAINTNodeSampler: expected `data` without a "
                                         r"`node_norm` attribute"):
        GraphSAINTNodeSampler(g, 10)
    with pytest.raises(TypeError, match=r"GraphSAINTNodeSampler: unexpected keyword "
                                        r"argument\(s\) walk_len"):
        GraphSAINTNodeSampler(G, 10, walk_len=3)
    with pytest.raises(ValueError, match=r"RandomNodeLoader: expected an int `num_workers` >= 0 "
                                         r"\(got -1\)"):
        RandomNodeLoader(G, 3, num_workers=-1)
    with pytest.raises(ValueError, match=r"RandomNodeLoader: expected `num_parts` >= 1 "
                                         r"\(got 0\)"):
        RandomNodeLoader(G, 0)
    with pytest.raises(TypeError, match=r"RandomNodeLoader: expected a bool `shuffle`"):
        RandomNodeLoader(G, 3, shuffle="yes")
    with pytest.raises(ValueError, match=r"GraphSAINTEdgeSampler: expected a graph with edges"):
        GraphSAINTEdgeSampler(Graph(num_nodes=4), 3)
    with pytest.raises(TypeError, match=r"GraphSAINTNodeSampler: expected an int `seed`"):
        GraphSAINTNodeSampler(G, 3, seed="a")
    with pytest.raises(TypeError, match=r"GraphSAINTNodeSampler: expected a bool `log`"):
        GraphSAINTNodeSampler(G, 3, log=None)
    # a walk needs no edges: a graph without any gives single-node walks
    batch = next(iter(GraphSAINTRandomWalkSampler(Graph(num_nodes=4), 3, 2, seed=0)))
    assert batch.num_edges == 0 and 1 <= batch.num_nodes <= 3


def test_a_bad_save_dir_or_cache_file_is_named(tmp_path):
    g = sg.Graph(edge_index=np.array([[0, 1, 2], [1, 2, 0]]), num_nodes=3)
    a_file = tmp_path / "afile"
    a_file.write_text("")
    with pytest.raises(ValueError, match=r"GraphSAINTNodeSampler: expected `save_dir` to be a "
                                         r"folder \(got the file"):
        GraphSAINTNodeSampler(g, 2, 1, 1, save_dir=a_file, log=False)
    (tmp_path / "graphsaintnodesampler_1.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"is not a normalisation this sampler saved"):
        GraphSAINTNodeSampler(g, 2, 1, 1, save_dir=tmp_path, log=False)
    np.savez(tmp_path / "graphsaintedgesampler_1.npz", a=np.ones(3))
    with pytest.raises(ValueError, match=r"is not a normalisation this sampler saved"):
        GraphSAINTEdgeSampler(g, 2, 1, 1, save_dir=tmp_path, log=False)
