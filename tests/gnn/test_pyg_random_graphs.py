"""PyG's random edge edits (gnn/edge_random.py) and graph generators
(gnn/graph_generators.py): the properties PyG documents (masks consistent with the edges,
negatives that are no edges, no self loops, symmetry), edge counts within a few standard
deviations of their expectation, determinism under a seed, an exact check of the vectorised
Barabasi-Albert process against PyG's node-by-node loop fed the same draws, and errors."""

import networkx as nx
import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import (
    add_random_edge,
    barabasi_albert_graph,
    batched_negative_sampling,
    dropout_node,
    erdos_renyi_graph,
    grid,
    is_undirected,
    stochastic_blockmodel_graph,
    structured_negative_sampling,
    structured_negative_sampling_feasible,
)

PYG = [[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]


def ring(n, dtype=np.int64):
    i = np.arange(n)
    return np.stack([np.concatenate([i, (i + 1) % n]),
                     np.concatenate([(i + 1) % n, i])]).astype(dtype)


# ---- dropout_node -------------------------------------------------------------------------
def test_dropout_node_masks_agree_and_rate():
    ei = sg.tensor(ring(2000), dtype="int32")
    out, edge_mask, node_mask = dropout_node(ei, p=0.3, generator=sg.Generator(1))
    nm, em, e = node_mask.numpy(), edge_mask.numpy(), ei.numpy()
    assert nm.shape == (2000,) and em.shape == (4000,)
    np.testing.assert_array_equal(em, nm[e[0]] & nm[e[1]])
    assert out.dtype == np.int32 and out.numpy().tolist() == e[:, em].tolist()
    assert abs(nm.mean() - 0.7) < 5 * np.sqrt(0.21 / 2000)
    again = dropout_node(ei, p=0.3, generator=sg.Generator(1))[2]
    assert again.tolist() == node_mask.tolist()
    rel, em2, nm2 = dropout_node(ei, p=0.3, relabel_nodes=True, generator=sg.Generator(1))
    new = np.cumsum(nm2.numpy()) - 1
    assert rel.numpy().tolist() == new[e[:, em2.numpy()]].tolist()


def test_dropout_node_noop_and_all():
    ei = sg.tensor(PYG)
    out, em, nm = dropout_node(ei, training=False)
    assert out.tolist() == PYG and em.tolist() == [True] * 6 and nm.tolist() == [True] * 4
    out, em, nm = dropout_node(ei, p=1.0)
    assert out.shape == (2, 0) and not nm.numpy().any()


# ---- add_random_edge ----------------------------------------------------------------------
def test_add_random_edge_counts_and_forms():
    ei = sg.tensor(PYG)
    out, added = add_random_edge(ei, p=0.5, generator=sg.Generator(3))
    assert added.shape == (2, 3) and out.numpy()[:, :6].tolist() == PYG
    assert out.numpy()[:, 6:].tolist() == added.tolist() and added.numpy().max() < 4
    _, und = add_random_edge(ring(50), p=1.0, force_undirected=True,
                             generator=sg.Generator(0))
    u = und.numpy()
    half = u.shape[1] // 2
    assert (u[0, :half] < u[1, :half]).all() and u[:, half:].tolist() == u[::-1, :half].tolist()
    assert is_undirected(und)
    ei_b = sg.tensor([[0, 1, 2, 3, 4, 5], [2, 3, 1, 4, 2, 1]])
    out, added = add_random_edge(ei_b, p=0.5, num_nodes=(6, 5), generator=sg.Generator(4))
    assert added.numpy()[0].max() < 6 and added.numpy()[1].max() < 5
    out, added = add_random_edge(ei, p=0.5, training=False)
    assert out.tolist() == PYG and added.shape == (2, 0)
    with pytest.raises(ValueError, match=r"add_random_edge: `force_undirected` is not "
                                         r"supported for a bipartite graph"):
        add_random_edge(ei_b, force_undirected=True, num_nodes=(6, 5))


# ---- structured / batched negative sampling -------------------------------------------------
@pytest.mark.parametrize("loops", [True, False])
def test_structured_negative_sampling_draws_non_edges(loops):
    rng = np.random.default_rng(0)
    ei = rng.integers(0, 12, (2, 60))
    i, j, k = structured_negative_sampling(sg.tensor(ei), 12, loops, generator=sg.Generator(2))
    assert i.tolist() == ei[0].tolist() and j.tolist() == ei[1].tolist()
    edges = set(map(tuple, ei.T.tolist()))
    assert not any((a, b) in edges for a, b in zip(i.tolist(), k.tolist(), strict=True))
    if not loops:
        assert (i.numpy() != k.numpy()).all()
    assert len(set(k.tolist())) > 3  # drawn, not one fixed node


def test_structured_negative_sampling_infeasible():
    star = np.array([[0, 0, 0], [1, 2, 0]])
    assert not structured_negative_sampling_feasible(star, 3)
    assert structured_negative_sampling_feasible(star, 4)
    assert structured_negative_sampling_feasible(star[:, :2], 3, True)
    assert not structured_negative_sampling_feasible(star[:, :2], 3, False)
    with pytest.raises(ValueError, match=r"structured_negative_sampling: node 0 is joined to "
                                         r"every node"):
        structured_negative_sampling(star, 3)


def test_batched_negative_sampling_stays_in_graphs():
    ei = np.concatenate([ring(5), ring(4) + 5, ring(6) + 9], axis=1)
    batch = np.repeat([0, 1, 2], [5, 4, 6])
    neg = batched_negative_sampling(sg.tensor(ei), sg.tensor(batch), generator=sg.Generator(5))
    assert isinstance(neg, sg.Tensor) and neg.dtype == np.int64
    n = neg.numpy()
    assert (batch[n[0]] == batch[n[1]]).all() and (n[0] != n[1]).all()
    assert not set(map(tuple, n.T.tolist())) & set(map(tuple, ei.T.tolist()))
    # each graph's edge count, or all its non-edges when fewer (ring(4): 12 - 8 pairs)
    assert np.bincount(batch[n[0]]).tolist() == [10, 4, 12]
    assert (np.diff(batch[n[0]]) >= 0).all()
    two = batched_negative_sampling(ei, batch, num_neg_samples=2, generator=sg.Generator(5))
    assert isinstance(two, np.ndarray) and two.shape == (2, 6)
    bi = np.array([[0, 1, 2, 3], [0, 1, 2, 3]])
    out = batched_negative_sampling(bi, (np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1])),
                                    generator=sg.Generator(1))
    assert sorted(map(tuple, out.T.tolist())) == [(0, 1), (1, 0), (2, 3), (3, 2)]


# ---- generators ---------------------------------------------------------------------------
def _simple(ei, n, directed=False):
    e = ei.numpy()
    assert ei.dtype == np.int64 and (e[0] != e[1]).all()
    keys = e[0] * n + e[1]
    assert (np.diff(keys) > 0).all()  # sorted by (row, col), no repeats
    if not directed:
        assert is_undirected(ei)
    return e


@pytest.mark.parametrize("directed", [False, True])
def test_erdos_renyi_statistics(directed):
    n, p = 400, 0.05
    e = _simple(erdos_renyi_graph(n, p, directed, generator=sg.Generator(0)), n, directed)
    pairs = n * (n - 1) if directed else n * (n - 1) // 2
    drawn = e.shape[1] if directed else e.shape[1] // 2
    assert abs(drawn - pairs * p) < 5 * np.sqrt(pairs * p * (1 - p))
    assert erdos_renyi_graph(5, 1.0).shape == (2, 20) and erdos_renyi_graph(5, 0.0).shape == (2, 0)
    sg.manual_seed(11)
    a = erdos_renyi_graph(50, 0.2, directed)
    sg.manual_seed(11)
    assert erdos_renyi_graph(50, 0.2, directed).tolist() == a.tolist()


def test_stochastic_blockmodel_statistics():
    sizes, probs = [150, 100], [[0.2, 0.02], [0.02, 0.3]]
    e = _simple(stochastic_blockmodel_graph(sizes, probs, generator=sg.Generator(0)), 250)
    block = np.repeat([0, 1], sizes)
    for r, s, pairs in ((0, 0, 150 * 149 // 2), (1, 1, 100 * 99 // 2), (0, 1, 150 * 100)):
        got = int(((block[e[0]] == r) & (block[e[1]] == s) & (e[0] < e[1])).sum()
                  + (r != s) * ((block[e[0]] == s) & (block[e[1]] == r) & (e[0] < e[1])).sum())
        p = probs[r][s]
        assert abs(got - pairs * p) < 5 * np.sqrt(pairs * p * (1 - p)), (r, s, got)
    d = _simple(stochastic_blockmodel_graph([3, 2], [[1, 0], [1, 1]], directed=True), 5, True)
    block = np.repeat([0, 1], [3, 2])
    assert not ((block[d[0]] == 0) & (block[d[1]] == 1)).any()
    assert d.shape[1] == 3 * 2 + 2 * 3 + 2 * 1
    with pytest.raises(ValueError, match=r"stochastic_blockmodel_graph: expected a symmetric "
                                         r"`edge_probs`"):
        stochastic_blockmodel_graph([2, 2], [[0.5, 0.1], [0.2, 0.5]])
    with pytest.raises(ValueError, match=r"expected `edge_probs` of shape \(2, 2\)"):
        stochastic_blockmodel_graph([2, 2], [0.5, 0.1])


def _pyg_barabasi_albert(n, m, seed):
    """PyG's loop, fed the draws the vectorised version makes: the permutation, then one
    uniform position per (step, slot) into the pool laid out as [sources, targets, then per
    step its m sources and m targets]."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    steps = max(n - m, 0)
    step = np.repeat(np.arange(steps), m)
    pos = rng.integers(0, 2 * n + 2 * m * step + m) if step.size else step
    pool = list(range(n)) + perm.tolist()
    row, col = list(range(n)), perm.tolist()
    for k in range(steps):
        i = m + k
        pool += [i] * m
        chosen = [pool[p] for p in pos[k * m:(k + 1) * m]]
        pool += chosen
        row += [i] * m
        col += chosen
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from((a, b) for a, b in zip(row, col, strict=True) if a != b)
    return g


@pytest.mark.parametrize("n, m", [(1, 1), (6, 2), (60, 3), (300, 5), (4, 6)])
def test_barabasi_albert_is_pygs_process(n, m):
    for seed in range(3):
        ei = barabasi_albert_graph(n, m, generator=sg.Generator(seed))
        e = _simple(ei, n)
        ref = _pyg_barabasi_albert(n, m, seed)
        assert sorted(map(tuple, e.T.tolist())) == sorted(
            (a, b) for u, v in ref.edges() for a, b in ((u, v), (v, u)))
    if n == 300:  # preferential attachment: hubs far above the mean degree
        deg = np.bincount(e[0], minlength=n)
        assert deg.max() > 2 * deg.mean()


def _pyg_grid(h, w):
    kernel = np.array([-w - 1, -1, w - 1, -w, 0, w, -w + 1, 1, w + 1])
    row = np.repeat(np.arange(h * w), 9).reshape(h, -1)
    col = (np.arange(h * w)[:, None] + kernel).reshape(h, -1)
    row, col = row[:, 3:row.shape[1] - 3].reshape(-1), col[:, 3:col.shape[1] - 3].reshape(-1)
    keep = (col >= 0) & (col < h * w)
    return sorted(set(zip(row[keep].tolist(), col[keep].tolist(), strict=True)))


@pytest.mark.parametrize("h, w", [(1, 1), (2, 3), (4, 1), (5, 4)])
def test_grid_matches_pyg(h, w):
    ei, pos = grid(h, w)
    assert ei.dtype == np.int64 and pos.dtype == np.float32 and pos.shape == (h * w, 2)
    assert list(map(tuple, ei.numpy().T.tolist())) == _pyg_grid(h, w)
    p = pos.numpy()
    assert p[:, 0].tolist() == [i % w for i in range(h * w)]
    assert p[:, 1].tolist() == [h - 1 - i // w for i in range(h * w)]
    assert grid(h, w, dtype="float64")[1].dtype == np.float64


def test_generator_errors():
    with pytest.raises(ValueError, match=r"erdos_renyi_graph: expected `edge_prob` to be a "
                                         r"probability in \[0, 1\] \(got 1.5\)"):
        erdos_renyi_graph(4, 1.5)
    with pytest.raises(ValueError, match=r"barabasi_albert_graph: expected `num_nodes` to be "
                                         r"an int >= 0"):
        barabasi_albert_graph(-1, 2)
    with pytest.raises(ValueError, match=r"grid: expected `width` to be an int >= 0"):
        grid(2, 2.5)
    with pytest.raises(ValueError, match=r"dropout_node: expected `p` to be a probability"):
        dropout_node(PYG, p=-0.1)
    with pytest.raises(TypeError, match=r"erdos_renyi_graph: expected `directed` to be True "
                                        r"or False"):
        erdos_renyi_graph(4, 0.5, directed="yes")
