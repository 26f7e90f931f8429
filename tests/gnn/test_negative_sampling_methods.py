"""negative_sampling: PyG's ``method="sparse" | "dense"`` (argument order and defaults), the
uniformity of the rejection path on its own, and its sort-based steps (no hash-based
``np.unique``, no binary search of unsorted queries: 13 s at N = 1e6, E = 5e6 before)."""

import inspect

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import link, negative_sampling


def _keys(pairs, n):
    return set((pairs[0].astype(np.int64) * n + pairs[1]).tolist())


def test_signature_follows_pygs_order_and_defaults():
    params = list(inspect.signature(negative_sampling).parameters.values())
    assert [p.name for p in params[:5]] == ["edge_index", "num_nodes", "num_neg_samples",
                                            "method", "force_undirected"]
    assert (params[3].default, params[4].default) == ("sparse", False)
    ei = np.array([[0, 1, 2], [1, 2, 3]])
    # PyG's positional call: negative_sampling(ei, N, K, "sparse", True)
    neg = negative_sampling(ei, 6, 6, "sparse", True, generator=sg.Generator(0))
    assert neg.shape == (2, 6) and _keys(neg, 6) == _keys(neg[::-1], 6)


@pytest.mark.parametrize("method", ["sparse", "dense"])
@pytest.mark.parametrize("kwargs", [dict(), dict(force_undirected=True)])
def test_both_methods_give_distinct_non_edges(method, kwargs):
    rng = np.random.default_rng(4)
    n, ei = 60, rng.integers(0, 60, (2, 500))
    neg = negative_sampling(ei, n, 300, method=method, generator=sg.Generator(1), **kwargs)
    assert neg.shape == (2, 300) and not np.any(neg[0] == neg[1])
    assert len(_keys(neg, n)) == 300 and not _keys(neg, n) & (_keys(ei, n) | (
        _keys(ei[::-1], n) if kwargs else set()))
    again = negative_sampling(ei, n, 300, method=method, generator=sg.Generator(1), **kwargs)
    np.testing.assert_array_equal(neg, again)  # reproducible for a seed


def test_bad_method_and_a_dense_population_too_large_are_named():
    ei = np.array([[0], [1]])
    for bad in ("auto", "Sparse", None, True):
        with pytest.raises(ValueError, match=r"`method` to be 'sparse' or 'dense'.*got"):
            negative_sampling(ei, 4, 1, method=bad)
    with pytest.raises(ValueError, match=r"method='dense' lists every node pair, at most "
                                         r"67108864.*10000 x 10000.*method='sparse'"):
        negative_sampling(ei, 10_000, 1, method="dense")
    assert negative_sampling(ei, 10_000, 5, method="sparse").shape == (2, 5)


@pytest.mark.parametrize("method, k", [("sparse", 5), ("sparse", 18), ("dense", 5)])
def test_each_path_draws_every_non_edge_equally_often(method, k, monkeypatch):
    # "sparse" with no listing allowed: rejection sampling alone, over several batches when
    # most of the non-edges are wanted (k = 18 of 20)
    if method == "sparse":
        monkeypatch.setattr(link, "_LIST_LIMIT", 0)
    n = 6
    pairs = [(s, d) for s in range(n) for d in range(n) if s != d]  # 30 ordered pairs
    ei = np.array([pairs[i] for i in np.random.default_rng(0).permutation(30)[:10]]).T
    gen, draws, counts = sg.Generator(5), 3000, {}
    for _ in range(draws):
        neg = negative_sampling(ei, n, k, method=method, generator=gen)
        assert neg.shape == (2, k) and len(_keys(neg, n)) == k
        for key in _keys(neg, n):
            counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 20 and not set(counts) & _keys(ei, n)
    expected = draws * k / 20
    observed = np.array(list(counts.values()))
    # k of 20 without replacement: each count is hypergeometric, variance below binomial's
    assert np.all(np.abs(observed - expected) < 5 * np.sqrt(expected)), observed


def test_the_rejection_path_sorts_instead_of_hashing(monkeypatch):
    """The speed of N = 1e6, E = 5e6 comes from sorted steps: numpy's hash-based np.unique is
    not used, and every binary search gets its queries in ascending order."""
    calls = {"unique": 0, "searches": 0}
    real_search = np.searchsorted

    def no_unique(*args, **kwargs):
        calls["unique"] += 1
        raise AssertionError("np.unique (hash-based in numpy 2) on the sampling path")

    def sorted_search(a, v, *args, **kwargs):
        calls["searches"] += 1
        v = np.asarray(v)
        assert v.size < 2 or bool(np.all(v[1:] >= v[:-1])), "unsorted binary-search queries"
        return real_search(a, v, *args, **kwargs)

    monkeypatch.setattr(np, "unique", no_unique)
    monkeypatch.setattr(np, "searchsorted", sorted_search)
    rng = np.random.default_rng(0)
    n = 100_000
    ei = rng.integers(0, n, (2, 200_000))
    for kwargs in (dict(), dict(force_undirected=True)):
        neg = negative_sampling(ei, n, generator=sg.Generator(0), **kwargs)
        assert neg.shape[1] == 200_000
    dense = rng.integers(0, 64, (2, 2000))
    negative_sampling(dense, 64, method="dense")
    assert calls["searches"] >= 3 and calls["unique"] == 0
    monkeypatch.undo()
    keys = neg[0] * n + neg[1]
    assert np.unique(keys).size == keys.size and not np.isin(keys, ei[0] * n + ei[1]).any()
