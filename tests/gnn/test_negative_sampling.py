"""negative_sampling: PyG's uniform non-edge sampler for link prediction."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import GCNConv, negative_sampling


def _keys(pairs, n):
    return set((pairs[0].astype(np.int64) * n + pairs[1]).tolist())


@pytest.mark.parametrize("n, e, k", [(50, 200, 100), (30, 800, 40), (7, 30, 10), (400, 3000, 2500)])
def test_pairs_are_distinct_non_edges_without_loops(n, e, k):
    rng = np.random.default_rng(n)
    ei = rng.integers(0, n, (2, e))  # duplicates and self loops included
    neg = negative_sampling(ei, n, k, generator=sg.Generator(1))
    free = n * (n - 1) - len(_keys(ei[:, ei[0] != ei[1]], n))
    assert neg.shape == (2, min(k, free)) and neg.dtype == np.int64
    assert neg.min() >= 0 and neg.max() < n and not np.any(neg[0] == neg[1])
    assert len(_keys(neg, n)) == neg.shape[1]  # no pair twice
    assert not _keys(neg, n) & _keys(ei, n)


def test_defaults_follow_pyg_count_and_node_count():
    ei = np.array([[0, 1, 2, 3], [1, 2, 3, 0]])
    neg = negative_sampling(ei, generator=sg.Generator(0))  # K = E, N = 1 + max id
    assert neg.shape == (2, 4) and neg.max() <= 3
    assert negative_sampling(sg.tensor(ei), 4).shape == (2, 4)  # a Tensor edge_index
    assert negative_sampling(ei.tolist(), 4, 2).shape == (2, 2)  # a nested list


def test_a_near_complete_graph_gives_exactly_its_missing_pairs():
    n = 12
    src, dst = np.nonzero(~np.eye(n, dtype=bool))
    missing = [(0, 5), (3, 2), (11, 4)]
    keep = [(s, d) not in missing for s, d in zip(src, dst, strict=True)]
    ei = np.stack([src[keep], dst[keep]])
    neg = negative_sampling(ei, n, 100, generator=sg.Generator(0))  # asks for more than exist
    assert sorted(map(tuple, neg.T.tolist())) == sorted(missing)
    assert negative_sampling(np.stack([src, dst]), n, 5).shape == (2, 0)  # complete graph


@pytest.mark.parametrize("n, k", [(5, 1), (200, 3)])
def test_every_non_edge_is_equally_likely(n, k):
    """Both sampling paths (listing the few non-edges of a dense graph, and rejection sampling
    on a sparse one) draw uniformly: counts over many draws match the uniform expectation."""
    rng = np.random.default_rng(0)
    if n == 5:  # dense: 20 ordered pairs, 14 edges, 6 non-edges (listed)
        pairs = [(s, d) for s in range(n) for d in range(n) if s != d]
        ei = np.array([pairs[i] for i in rng.permutation(20)[:14]]).T
    else:  # sparse: rejection sampling over 39,800 pairs
        ei = rng.integers(0, n, (2, 400))
    gen, counts = sg.Generator(3), {}
    draws = 6000 if n == 5 else 300
    for _ in range(draws):
        for key in _keys(negative_sampling(ei, n, k, generator=gen), n):
            counts[key] = counts.get(key, 0) + 1
    assert not set(counts) & _keys(ei, n)
    if n == 5:
        free = 20 - len(_keys(ei, n))
        assert len(counts) == free
        observed = np.array(list(counts.values()))
        expected = draws * k / free
        assert np.all(np.abs(observed - expected) < 5 * np.sqrt(expected))
    else:  # 900 draws over ~39,400 non-edges: the first source ids are not favoured
        srcs = np.array([key // n for key in counts])
        assert abs(srcs.mean() - (n - 1) / 2) < 12


def test_force_undirected_returns_symmetric_pairs_absent_in_both_directions():
    rng = np.random.default_rng(5)
    n, ei = 40, rng.integers(0, 40, (2, 300))
    neg = negative_sampling(ei, n, 51, force_undirected=True, generator=sg.Generator(2))
    assert neg.shape == (2, 50)  # 2 * (51 // 2), as PyG
    assert _keys(neg, n) == _keys(neg[::-1], n)
    both = _keys(ei, n) | _keys(ei[::-1], n)
    assert not _keys(neg, n) & both and not np.any(neg[0] == neg[1])
    assert len(_keys(neg, n)) == 50


def test_bipartite_counts_allow_equal_ids():
    ei = np.array([[0, 1, 2], [0, 0, 1]])  # 3 sources, 2 targets: (i, i) is not a loop
    neg = negative_sampling(ei, (3, 2), 10, generator=sg.Generator(0))
    assert sorted(map(tuple, neg.T.tolist())) == [(0, 1), (1, 1), (2, 0)]


def test_the_generator_makes_samples_reproducible():
    ei = np.random.default_rng(0).integers(0, 100, (2, 500))
    a = negative_sampling(ei, 100, 50, generator=sg.Generator(7))
    b = negative_sampling(ei, 100, 50, generator=sg.Generator(7))
    c = negative_sampling(ei, 100, 50, generator=sg.Generator(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(edge_index=np.zeros((3, 2), int)), ValueError, r"`edge_index` of shape \(2, E\)"),
    (dict(edge_index=np.zeros((2, 2))), TypeError, "integer dtype"),
    (dict(edge_index=np.array([[0, -1], [1, 1]])), ValueError, "non-negative node ids"),
    (dict(edge_index=np.array([[0, 5], [1, 1]]), num_nodes=3), ValueError,
     r"source ids in \[0, 3\).*got 5"),
    (dict(edge_index=np.array([[0], [4]]), num_nodes=(2, 3)), ValueError,
     r"target ids in \[0, 3\).*got 4"),
    (dict(edge_index=np.array([[0], [1]]), num_nodes=2.0), ValueError, "`num_nodes`"),
    (dict(edge_index=np.array([[0], [1]]), num_nodes=2, num_neg_samples=-1), ValueError,
     "`num_neg_samples`.*got -1"),
    (dict(edge_index=np.array([[0], [1]]), num_nodes=(2, 2), force_undirected=True),
     ValueError, "one node set"),
    (dict(edge_index=np.array([[0], [1]]), force_undirected=1), TypeError,
     "`force_undirected`"),
    (dict(edge_index=[[0, 1], [1]]), ValueError, "ragged"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        negative_sampling(**kwargs)


@pytest.mark.dataset
def test_link_prediction_on_cora_learns_to_rank_held_out_edges(data_root):
    """A PyG-style GAE link-prediction loop: a GCN encoder, dot-product decoder, fresh
    negatives each epoch; held-out edges rank above sampled non-edges (AUC well over 0.5)."""
    from sparsegraph.datasets import Planetoid

    g = Planetoid("cora", root=data_root, download=False)[0]
    ei = g.edge_index.astype(np.int64)
    und = ei[:, ei[0] < ei[1]]
    perm = np.random.default_rng(0).permutation(und.shape[1])
    test_pos, train = und[:, perm[:500]], und[:, perm[500:]]
    train_ei = np.concatenate([train, train[::-1]], axis=1)
    test_neg = negative_sampling(ei, g.num_nodes, 500, generator=sg.Generator(1))
    sg.manual_seed(0)
    conv1, conv2 = GCNConv(g.num_features, 64), GCNConv(64, 32)
    opt = sg.optim.Adam([*conv1.parameters(), *conv2.parameters()], lr=0.01)
    x, gen = g.x, sg.Generator(2)

    def score(z, pairs):
        return (z[pairs[0]] * z[pairs[1]]).sum(-1)

    for _ in range(60):
        z = conv2(conv1(x, train_ei).relu(), train_ei)
        neg = negative_sampling(train_ei, g.num_nodes, train.shape[1], generator=gen)
        logits = sg.cat([score(z, train), score(z, neg)])
        target = sg.cat([sg.ones(train.shape[1]), sg.zeros(neg.shape[1])])
        loss = sg.ops.binary_cross_entropy_with_logits(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with sg.no_grad():
        z = conv2(conv1(x, train_ei).relu(), train_ei)
        pos, neg = score(z, test_pos).numpy(), score(z, test_neg).numpy()
    auc = (pos[:, None] > neg[None, :]).mean()
    assert auc > 0.8, auc


def test_the_listing_path_peaks_at_its_list_plus_one_chunk(monkeypatch):
    # a dense request takes the listing path: its memory is the list of non-edges (8 bytes
    # each) and one chunk of pairs' temporaries, not several arrays the size of N^2
    import tracemalloc

    from sparsegraph.gnn import link

    chunk = 1 << 14
    monkeypatch.setattr(link, "_LIST_CHUNK", chunk, raising=False)
    n, rng = 1024, np.random.default_rng(0)
    ei = rng.integers(0, n, (2, 4 * n))
    edges = np.unique(ei[0] * n + ei[1])
    free = n * n - n - np.count_nonzero(edges // n != edges % n)  # loops are never drawn
    want = free // 2 + 1  # more than half of the non-edges: listed, not drawn
    tracemalloc.start()
    try:
        neg = negative_sampling(ei, n, want, generator=sg.Generator(0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert neg.shape == (2, want)
    listed, result = 8 * free, 16 * want
    assert peak <= listed + result + 16 * 8 * chunk, (peak, listed, result)
