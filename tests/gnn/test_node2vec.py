"""Node2Vec (PyG's) and its node2vec random walks: valid paths, exact second-order transition
probabilities, PyG's loss, the logistic-regression ``test`` and PyG's Cora example."""

import numba
import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import chi2

import sparsegraph as sg
from sparsegraph.gnn import Node2Vec
from sparsegraph.gnn import random_walk as random_walk_module
from sparsegraph.gnn.node2vec import logistic_regression
from sparsegraph.gnn.random_walk import csr_of_edge_index, random_walk
from sparsegraph.testing import assert_close, gradcheck

# 8 nodes, undirected (both directions stored), with triangles so all three node2vec cases occur
UNDIRECTED = [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (2, 4), (3, 5), (4, 5), (4, 6), (5, 6),
              (5, 7), (6, 7), (0, 7), (3, 4)]


def _both(pairs):
    a = np.array(pairs, dtype=np.int64).T
    return np.concatenate([a, a[::-1]], axis=1)


def _edge_set(ei):
    return set(zip(ei[0].tolist(), ei[1].tolist(), strict=True))


def _alpha(t, x, edges, p, q):
    """The paper's unnormalised weight of stepping to ``x`` after arriving from ``t``."""
    return 1 / p if x == t else 1.0 if (x, t) in edges else 1 / q


def _transition_chi2(walks, ei, p, q, min_expected=0.0):
    """(statistic, dof) of the observed second-order steps ``(t, v) -> x`` against the exact
    node2vec probabilities (each stored out-edge of ``v`` weighted by its alpha). Per ``(t, v)``
    the cells expecting fewer than ``min_expected`` steps are pooled, and the pool joins the
    largest cell if it is still below ``min_expected`` (pooling keeps the test valid)."""
    edges, n = _edge_set(ei), int(ei.max()) + 1
    tvx = np.stack([walks[:, :-2], walks[:, 1:-1], walks[:, 2:]], -1).reshape(-1, 3)
    keys, counts = np.unique(tvx[:, 0] * n * n + tvx[:, 1] * n + tvx[:, 2], return_counts=True)
    observed = dict(zip(keys.tolist(), counts.tolist(), strict=True))
    stat, dof = 0.0, 0
    for t, v in sorted(edges):
        outs = ei[1, ei[0] == v]
        w = np.array([_alpha(t, x, edges, p, q) for x in outs])
        obs = np.array([observed.get(t * n * n + v * n + x, 0) for x in outs], dtype=float)
        if obs.sum() == 0:
            continue
        expected = obs.sum() * w / w.sum()
        small = expected < min_expected
        if small.any():
            big = ~small
            if expected[small].sum() < min_expected:
                big[np.argmax(expected)] = False  # the pool joins the largest cell
            obs = np.append(obs[big], obs[~big].sum())
            expected = np.append(expected[big], expected[~big].sum())
        stat += float(((obs - expected) ** 2 / expected).sum())
        dof += obs.shape[0] - 1
    return stat, dof


# ---- random walks ---------------------------------------------------------------------------
@pytest.mark.parametrize("p, q", [(1.0, 1.0), (0.25, 4.0), (4.0, 0.25)])
def test_walks_are_paths_of_the_graph_from_the_asked_starts(p, q):
    rng = np.random.default_rng(3)
    ei = rng.integers(0, 30, (2, 120))  # directed, duplicates and self loops included
    ei = ei[:, ei[0] != 7]  # node 7 has no out-edges: a sink
    rowptr, col = csr_of_edge_index(ei, 30)
    start = np.concatenate([np.arange(30), np.array([7, 7, 3])])
    walks = random_walk(rowptr, col, start, 12, p, q, seed=5)
    assert walks.shape == (33, 13) and walks.dtype == np.int64
    np.testing.assert_array_equal(walks[:, 0], start)
    edges = _edge_set(ei)
    a, b = walks[:, :-1].ravel(), walks[:, 1:].ravel()
    sink = np.bincount(ei[0], minlength=30) == 0
    ok = np.array([(u, v) in edges for u, v in zip(a.tolist(), b.tolist(), strict=True)])
    assert np.all(ok | ((a == b) & sink[a]))  # each step an edge, or staying put at a sink
    assert np.all(walks[30:32] == 7)
    reached = np.flatnonzero((walks[:, :-1] == 7).any(axis=1))
    for i in reached:  # once at the sink, a walk stays there
        first = int(np.argmax(walks[i] == 7))
        assert np.all(walks[i, first:] == 7)


def test_walks_are_deterministic_for_a_seed_whatever_the_thread_count():
    ei = _both(UNDIRECTED)
    rowptr, col = csr_of_edge_index(ei, 8)
    start = np.tile(np.arange(8), 4000)  # large enough for the parallel kernel
    a = random_walk(rowptr, col, start, 20, 0.5, 2.0, seed=11)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = random_walk(rowptr, col, start, 20, 0.5, 2.0, seed=11)
    finally:
        numba.set_num_threads(threads)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, random_walk(rowptr, col, start, 20, 0.5, 2.0, seed=12))


def test_first_step_and_unbiased_walk_are_uniform():
    ei = _both(UNDIRECTED)
    rowptr, col = csr_of_edge_index(ei, 8)
    walks = random_walk(rowptr, col, np.full(40000, 2), 1, seed=0)  # neighbours 0, 1, 3, 4
    counts = np.bincount(walks[:, 1], minlength=8)[[0, 1, 3, 4]]
    assert counts.sum() == 40000
    assert chi2.sf(((counts - 10000.0) ** 2 / 10000.0).sum(), 3) > 1e-3
    walks = random_walk(rowptr, col, np.tile(np.arange(8), 3000), 8, seed=1)
    assert chi2.sf(*_transition_chi2(walks, ei, 1.0, 1.0)) > 1e-3


@pytest.mark.parametrize("p, q", [(0.25, 4.0), (4.0, 0.25), (1.0, 3.0), (2.0, 2.0)])
def test_biased_walks_follow_the_exact_node2vec_probabilities(p, q):
    ei = _both(UNDIRECTED)
    rowptr, col = csr_of_edge_index(ei, 8)
    walks = random_walk(rowptr, col, np.tile(np.arange(8), 4000), 8, p, q, seed=2)
    stat, dof = _transition_chi2(walks, ei, p, q)
    assert chi2.sf(stat, dof) > 1e-3, (stat, dof)
    if p != q:  # the check has power: the same walks are far from an unbiased walk's
        assert chi2.sf(*_transition_chi2(walks, ei, 1.0, 1.0)) < 1e-9


def test_distance_one_means_an_edge_back_to_the_previous_node():
    # t -> v first; from v: back to t (1/p), a (a -> t: 1), b (only t -> b: 1/q), c (1/q)
    t, v, a, b, c = range(5)
    ei = np.array([[t, t, v, v, v, v, a], [v, b, t, a, b, c, t]])
    rowptr, col = csr_of_edge_index(ei, 5)
    walks = random_walk(rowptr, col, np.zeros(60000, np.int64), 2, p=0.5, q=4.0, seed=4)
    nxt = walks[walks[:, 1] == v, 2]
    counts = np.bincount(nxt, minlength=5)[[t, a, b, c]]
    expected = nxt.shape[0] * np.array([2.0, 1.0, 0.25, 0.25]) / 3.5
    assert chi2.sf(((counts - expected) ** 2 / expected).sum(), 3) > 1e-3, counts


@pytest.mark.parametrize("tries", [(0, 0), (1, 0), (3, 0), (32, 1)])
@pytest.mark.parametrize("p, q", [(0.25, 4.0), (4.0, 0.25)])
def test_bounded_rejection_then_exact_draw_is_exact(monkeypatch, p, q, tries):
    # after k rejections a step is drawn exactly; the value a later try would accept is
    # independent of the k rejections, so every bound (0: always the exact draw) is exact
    ei = _both(UNDIRECTED)
    rowptr, col = csr_of_edge_index(ei, 8)
    start = np.tile(np.arange(8), 4000)
    default = random_walk(rowptr, col, start, 8, p, q, seed=2)
    monkeypatch.setattr(random_walk_module, "_TRIES", tries)
    walks = random_walk(rowptr, col, start, 8, p, q, seed=2)
    assert chi2.sf(*_transition_chi2(walks, ei, p, q)) > 1e-3
    assert chi2.sf(*_transition_chi2(walks, ei, 1.0, 1.0)) < 1e-9  # the check has power
    assert np.array_equal(walks, default) == (tries == (32, 1))  # the bound took effect


def test_walks_at_p_1e_3_q_1e3_follow_the_exact_probabilities():
    ei = _both(UNDIRECTED)  # weights 1000 (return), 1 (near), 1e-3 (outward)
    rowptr, col = csr_of_edge_index(ei, 8)
    walks = random_walk(rowptr, col, np.tile(np.arange(8), 4000), 8, 1e-3, 1e3, seed=3)
    assert chi2.sf(*_transition_chi2(walks, ei, 1e-3, 1e3, min_expected=5.0)) > 1e-3
    # power: near steps are ~1/1000 of returns, the outward ones ~1e-6; a wrong q is seen
    assert chi2.sf(*_transition_chi2(walks, ei, 1e-3, 1.0, min_expected=5.0)) < 1e-9
    assert chi2.sf(*_transition_chi2(walks, ei, 1e-2, 1e3, min_expected=5.0)) < 1e-9


def _first_biased_steps(ei, n, start, p, q, walks=20000):
    rowptr, col = csr_of_edge_index(np.array(ei), n)
    return random_walk(rowptr, col, np.full(walks, start), 2, p, q, seed=9)[:, 2]


@pytest.mark.parametrize("p, q", [(1e-6, 1e6), (1e7, 1e7), (1e-300, 1e300), (1e300, 1e300)])
def test_extreme_p_q_walks_finish_and_are_exact(p, q):
    # the audit's graph: from 1 (arrived from 0), 2 and 3 are both outward (no edge back to
    # 0), so every candidate's acceptance is 1 / (q * max alpha) <= 1e-12 (or 0 in float64)
    steps = _first_biased_steps([[0, 1, 1, 2, 3, 4], [1, 2, 3, 4, 4, 0]], 5, 0, p, q)
    counts = np.bincount(steps, minlength=5)
    assert counts[[0, 1, 4]].sum() == 0
    assert chi2.sf((counts[2] - counts[3]) ** 2 / 20000.0, 1) > 1e-3, counts  # uniform
    # a path graph: back (1 / p) or on (1 / q), both tiny against the absent near weight 1
    n = 50
    path = np.array([np.arange(n - 1), np.arange(1, n)])
    rowptr, col = csr_of_edge_index(np.concatenate([path, path[::-1]], 1), n)
    walks = random_walk(rowptr, col, np.tile(np.arange(n), 400), 10, p, q, seed=4)
    assert np.all(np.abs(np.diff(walks, axis=1)) == 1)
    inner = (walks[:, 1:-1] > 0) & (walks[:, 1:-1] < n - 1)
    back = (walks[:, 2:] == walks[:, :-2])[inner]
    share = 1 / p / (1 / p + 1 / q) if p >= 1 / q else 1.0
    assert abs(back.mean() - share) < 4 * np.sqrt(share * (1 - share) / back.size) + 1e-12


def test_extreme_mixture_of_return_and_outward_steps_is_exact():
    # t -> v; from v: t (return, 1 / p = 5e-7) or b, c (outward, 1 / q = 1e-6 each): exact
    # probabilities 0.2, 0.4, 0.4, though every candidate's acceptance is <= 1e-6
    t, v, b, c = range(4)
    ei = [[t, v, v, v, b, c], [v, t, b, c, v, v]]
    counts = np.bincount(_first_biased_steps(ei, 4, t, 2e6, 1e6), minlength=4)[[t, b, c]]
    expected = 20000 * np.array([0.2, 0.4, 0.4])
    assert chi2.sf(((counts - expected) ** 2 / expected).sum(), 2) > 1e-3, counts
    counts = np.bincount(_first_biased_steps(ei, 4, t, 1e-6, 1e6), minlength=4)
    assert counts[t] == 20000  # returns weigh 1e12 times an outward step


def test_random_walk_names_bad_arguments():
    rowptr, col = csr_of_edge_index(_both(UNDIRECTED), 8)
    with pytest.raises(ValueError, match=r"random_walk: expected `q` to be a finite number > 0 "
                                         r"\(got 0\)"):
        random_walk(rowptr, col, [0], 3, q=0)
    with pytest.raises(ValueError, match=r"random_walk: expected start nodes in \[0, 8\) "
                                         r"\(got 8\)"):
        random_walk(rowptr, col, [8], 3)
    with pytest.raises(ValueError, match=r"random_walk: expected `walk_length` to be an int"):
        random_walk(rowptr, col, [0], -1)


# ---- the model --------------------------------------------------------------------------------
def _model(**kwargs):
    args = dict(embedding_dim=6, walk_length=5, context_size=3, walks_per_node=2, p=0.5, q=2.0,
                num_negative_samples=3)
    return Node2Vec(_both(UNDIRECTED), **{**args, **kwargs})


def test_samples_are_pygs_windows_of_walks_from_the_batch():
    model = _model()
    batch = np.array([3, 0, 5])
    pos, neg = model.sample(batch.tolist())
    w = 5 + 1 - 3  # windows per walk of 5 nodes
    assert pos.shape == (3 * 2 * w, 3) and neg.shape == (3 * 2 * 3 * w, 3)
    assert pos.dtype == np.int64 and neg.dtype == np.int64
    pos, neg = pos.numpy().reshape(w, 6, 3), neg.numpy().reshape(w, 18, 3)
    np.testing.assert_array_equal(pos[0, :, 0], np.tile(batch, 2))  # window-major, as PyG's
    np.testing.assert_array_equal(neg[0, :, 0], np.tile(batch, 6))
    np.testing.assert_array_equal(pos[1:, :, :-1], pos[:-1, :, 1:])  # sliding windows
    np.testing.assert_array_equal(neg[1:, :, :-1], neg[:-1, :, 1:])
    edges = _edge_set(_both(UNDIRECTED))
    steps = np.concatenate([pos[0], pos[-1][:, 1:]], axis=1)  # the whole walks
    assert all((u, v) in edges for u, v in zip(steps[:, :-1].ravel().tolist(),
                                               steps[:, 1:].ravel().tolist(), strict=True))
    assert neg.min() >= 0 and neg.max() < 8
    sg.manual_seed(7)
    a = model.pos_sample(batch).numpy()
    sg.manual_seed(7)
    np.testing.assert_array_equal(a, model.pos_sample(sg.tensor(batch)).numpy())


def test_loss_matches_pygs_formula_in_numpy():
    model = _model(embedding_dim=5)
    pos, neg = model.sample(np.arange(8))
    z = model.embedding.weight.detach().numpy().astype(np.float64)

    def side(rw, sign):
        dots = np.einsum("bd,bld->bl", z[rw[:, 0]], z[rw[:, 1:]]).ravel()
        s = 1 / (1 + np.exp(-dots))
        return -np.mean(np.log((s if sign > 0 else 1 - s) + 1e-15))

    expected = side(pos.numpy(), 1) + side(neg.numpy(), -1)
    assert_close(model.loss(pos, neg), sg.tensor(np.float32(expected)), rtol=1e-5)


def test_loss_gradcheck(float64_default):
    model = _model(embedding_dim=4)
    pos, neg = model.sample(np.arange(8))
    assert model.embedding.weight.dtype == np.float64
    gradcheck(lambda w: model.loss(pos, neg), [model.embedding.weight])


def test_forward_state_dict_repr_and_sparse_flag():
    model = _model(sparse=True)
    assert model.forward() is model.embedding.weight
    assert_close(model(sg.tensor([2, 0])), model.embedding.weight.detach()[[2, 0]])
    assert list(model.state_dict()) == ["embedding.weight"]
    assert model.sparse is True and model.walk_length == 4  # PyG's: steps per walk
    assert repr(model) == "Node2Vec(8, 6)"
    assert Node2Vec(np.array([[0], [1]]), 3, 2, 2, num_nodes=5).embedding.weight.shape == (5, 3)


def test_loader_batches_every_node_once_per_epoch():
    model = _model()
    seen = []
    loader = model.loader(batch_size=3, shuffle=True, num_workers=0,
                          generator=sg.Generator(1))
    assert len(loader) == 3
    for pos, _ in loader:
        seen.extend(pos.numpy()[:pos.shape[0] // 6, 0].tolist())  # first window block
    assert sorted(seen) == list(range(8)) and seen != list(range(8))
    assert len(model.loader(batch_size=3, drop_last=True)) == 2
    with pytest.raises(TypeError, match=r"Node2Vec.loader: unexpected keyword argument "
                                        r"`batchsize`"):
        model.loader(batchsize=3)
    with pytest.raises(ValueError, match=r"Node2Vec.loader: expected `batch_size` to be an int "
                                         r">= 1 \(got 0\)"):
        model.loader(batch_size=0)


def test_node2vec_names_bad_arguments():
    ei = _both(UNDIRECTED)
    with pytest.raises(ValueError, match=r"Node2Vec: expected `context_size` <= "
                                         r"`walk_length`=3 \(got 4\)"):
        Node2Vec(ei, 4, walk_length=3, context_size=4)
    with pytest.raises(ValueError, match=r"Node2Vec: expected `p` to be a finite number > 0"):
        Node2Vec(ei, 4, 3, 2, p=-1.0)
    with pytest.raises(ValueError, match=r"Node2Vec: expected `edge_index` of shape \(2, E\)"):
        Node2Vec(ei.T, 4, 3, 2)
    model = _model()
    with pytest.raises(ValueError, match=r"Node2Vec.pos_sample: expected node ids in `batch` "
                                         r"in \[0, 8\) \(got 9\)"):
        model.pos_sample([1, 9])
    with pytest.raises(ValueError, match=r"Node2Vec.loss: expected `neg_rw` of shape \(B, L\) "
                                         r"with L >= 2"):
        model.loss(np.zeros((2, 3), np.int64), np.zeros((2, 1), np.int64))
    with pytest.raises(TypeError, match=r"Node2Vec.loss: expected `pos_rw` with an integer "
                                        r"dtype \(got float64\)"):
        model.loss(np.zeros((2, 3)), np.zeros((2, 3), np.int64))
    for pos, neg, name in ((np.zeros((0, 3)), np.zeros((2, 3)), "pos_rw"),
                           (np.zeros((2, 3)), np.zeros((0, 3)), "neg_rw")):
        with pytest.raises(ValueError, match=rf"Node2Vec.loss: expected `{name}` with at least "
                                             rf"one walk window \(B >= 1\) \(got shape "
                                             rf"\(0, 3\)\)"):
            model.loss(pos.astype(np.int64), neg.astype(np.int64))


# ---- the downstream logistic regression ----------------------------------------------------------
def test_test_is_perfect_on_separable_data():
    rng = np.random.default_rng(0)
    centres = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    y = rng.integers(0, 3, 300)
    z = centres[y] + rng.uniform(-1, 1, (300, 2))  # classes at least 6 apart
    model = _model()
    assert model.test(sg.tensor(z[:100]), sg.tensor(y[:100]), z[100:], y[100:]) == 1.0
    binary = y < 2
    assert model.test(z[binary][:60], y[binary][:60], z[binary][60:], y[binary][60:]) == 1.0


def test_binary_regression_is_sklearns_regularised_minimum_by_brute_force():
    # 1-D, overlapping classes: the fitted boundary -b / w depends on C's penalty on w only
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-1, 1.5, 40), rng.normal(1.5, 1.5, 30)])
    y = np.repeat([0, 1], [40, 30])
    grid_w, grid_b = np.meshgrid(np.linspace(0, 2, 201), np.linspace(-2, 2, 401))
    sign = np.where(y == 1, 1.0, -1.0)
    losses = np.logaddexp(0, -sign * (grid_w[..., None] * x + grid_b[..., None])).sum(-1)
    boundaries = []
    for c, penalty in ((1.0, "l2"), (0.05, "l2"), (1.0, None)):
        obj = c * losses + (0.5 * grid_w**2 if penalty else 0.0)
        i = np.unravel_index(np.argmin(obj), obj.shape)
        assert 0 < i[0] < 400 and 0 < i[1] < 200  # inside the grid
        boundary = -grid_b[i] / grid_w[i]
        test_x = boundary + np.array([-0.3, -0.1, -0.05, 0.05, 0.1, 0.3])
        pred = logistic_regression(x[:, None], y, test_x[:, None], C=c, penalty=penalty)
        np.testing.assert_array_equal(pred, (test_x > boundary).astype(int))
        boundaries.append(boundary)
    assert np.min(np.abs(np.diff(boundaries))) > 0.1  # C and the penalty move the boundary


def test_multinomial_regression_matches_an_independent_minimisation():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 90)
    x = np.array([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]])[y] + rng.normal(0, 0.9, (90, 2))
    labels = np.array([10, 20, 30])[y]  # any labels, returned as given

    def objective(w):  # sklearn's: C * sum of cross entropies + ||coef||^2 / 2, C = 1
        w = w.reshape(3, 3)
        s = x @ w[:, :2].T + w[:, 2]
        s = s - s.max(1, keepdims=True)
        ce = -(s[np.arange(90), y] - np.log(np.exp(s).sum(1)))
        return ce.sum() + 0.5 * (w[:, :2] ** 2).sum()

    w = minimize(objective, np.zeros(9), method="BFGS", options={"gtol": 1e-9}).x.reshape(3, 3)
    test_x = rng.normal(0, 1.2, (400, 2))
    ref = np.argmax(test_x @ w[:, :2].T + w[:, 2], axis=1)
    pred = logistic_regression(x, labels, test_x, tol=1e-10, max_iter=1000)
    np.testing.assert_array_equal(pred, np.array([10, 20, 30])[ref])
    model = _model()
    assert model.test(x, labels, test_x, np.array([10, 20, 30])[ref]) == pytest.approx(
        np.mean(pred == np.array([10, 20, 30])[ref]))


def test_test_names_unsupported_options():
    model, z, y = _model(), np.eye(4), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"Node2Vec.test: solver='liblinear' is not supported"):
        model.test(z, y, z, y, solver="liblinear")
    with pytest.raises(TypeError, match=r"Node2Vec.test: unsupported LogisticRegression option "
                                        r"`dual`"):
        model.test(z, y, z, y, dual=True)
    with pytest.raises(ValueError, match=r"Node2Vec.test: expected at least 2 classes"):
        model.test(z, np.zeros(4, int), z, y)
    with pytest.raises(ValueError, match=r"Node2Vec.test: expected `test_z` with 4 columns"):
        model.test(z, y, z[:, :3], y)
    with pytest.warns(UserWarning, match=r"lbfgs failed to converge in max_iter=1"):
        model.test(np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2, z, y,
                   max_iter=1)


def test_docstring_example_trains_on_a_small_graph():
    model = Node2Vec(_both(UNDIRECTED), 16, walk_length=6, context_size=3, walks_per_node=4,
                     num_negative_samples=1, p=1.0, q=1.0)
    opt = sg.optim.Adam(model.parameters(), lr=0.05)
    first = None
    for _ in range(30):
        for pos_rw, neg_rw in model.loader(batch_size=4, shuffle=True):
            opt.zero_grad()
            loss = model.loss(pos_rw, neg_rw)
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first


@pytest.mark.dataset
def test_pyg_example_on_cora(data_root):
    """PyG's examples/node2vec.py (embedding 128, walks of 20, context 10, 10 walks per node,
    p = q = 1), shortened to 3 epochs: dense Adam at lr 0.1 instead of PyG's SparseAdam at 0.01
    for 100 epochs, so it fits a test's time (~10 s; SparseAdam's own Node2Vec check is in
    tests/optim/test_sparse_adam.py)."""
    from sparsegraph.datasets import Planetoid

    data = Planetoid("cora", root=data_root, download=False)[0]
    model = Node2Vec(data.edge_index, embedding_dim=128, walk_length=20, context_size=10,
                     walks_per_node=10, num_negative_samples=1, p=1.0, q=1.0, sparse=True)
    opt = sg.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        for pos_rw, neg_rw in model.loader(batch_size=128, shuffle=True):
            opt.zero_grad()
            model.loss(pos_rw, neg_rw).backward()
            opt.step()
    z = model()
    acc = model.test(z[data.train_mask], data.y[data.train_mask], z[data.test_mask],
                     data.y[data.test_mask])
    assert acc > 0.6, acc  # chance (the largest class) is ~0.3


def test_sparse_flag_reaches_the_embedding_as_pygs():
    m = Node2Vec(np.array([[0, 1], [1, 0]]), 4, 3, 2, sparse=True)
    assert m.sparse is True and m.embedding.sparse is True  # PyG: Embedding(..., sparse=sparse)
