"""PyG's everyday utils (gnn/pyg_utils.py) against loop-by-loop numpy references of PyG's
documented semantics, on small random graphs with empty edge sets, isolated nodes, duplicate
edges and self loops; and negative_sampling returning the type it is given."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import (
    dense_to_sparse,
    dropout_edge,
    homophily,
    index_to_mask,
    k_hop_subgraph,
    mask_to_index,
    negative_sampling,
    to_dense_adj,
    to_dense_batch,
    utils,
)
from sparsegraph.testing import gradcheck


def graphs(seed=0, count=12):
    """``(edge_index, n)``: random multigraphs (duplicates, loops), some edgeless, isolated
    nodes past the largest id."""
    rng = np.random.default_rng(seed)
    for t in range(count):
        n = int(rng.integers(1, 7))
        e = 0 if t % 4 == 0 else int(rng.integers(1, 12))
        ei = rng.integers(0, n, (2, e)).astype(rng.choice([np.int32, np.int64]))
        if e > 1:
            ei[:, -1] = ei[:, 0]  # a duplicate
            ei[1, 0] = ei[0, 0]  # a self loop
        yield ei, n + int(rng.integers(0, 3))


def batched(seed=0, count=10):
    """``(edge_index, batch)``: a sorted batch of graphs (some empty of edges), edges inside
    each graph."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        sizes = rng.integers(1, 5, int(rng.integers(1, 4)))
        batch = np.repeat(np.arange(sizes.size), sizes)
        start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        eis = [start[g] + rng.integers(0, s, (2, int(rng.integers(0, 6))))
               for g, s in enumerate(sizes)]
        yield np.concatenate(eis, axis=1).astype(np.int64), batch


def test_exported_from_gnn_and_gnn_utils():
    for f in (to_dense_adj, k_hop_subgraph, homophily, dropout_edge):
        assert getattr(utils, f.__name__) is f


# ---- index_to_mask / mask_to_index ----------------------------------------------------------
def test_index_to_mask_and_back():
    m = index_to_mask(sg.tensor([[3, 1], [1, 0]]), size=6)
    assert isinstance(m, sg.Tensor) and m.dtype == np.bool_
    assert m.tolist() == [True, True, False, True, False, False]
    assert index_to_mask(np.array([2, 4])).tolist() == [False, False, True, False, True]
    assert index_to_mask(np.zeros(0, np.int64)).shape == (0,)
    idx = mask_to_index(m)
    assert idx.dtype == np.int64 and idx.tolist() == [0, 1, 3]
    assert mask_to_index(np.zeros(3, bool)).tolist() == []


def test_index_to_mask_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"index_to_mask: expected `index` values in \[0, 3\)"):
        index_to_mask([1, 3], size=3)
    with pytest.raises(TypeError, match="index_to_mask: expected `index` with an integer"):
        index_to_mask(np.array([0.5]))
    with pytest.raises(ValueError, match="mask_to_index: expected `mask` to be 1-D"):
        mask_to_index(np.ones((2, 2), bool))


# ---- to_dense_adj -----------------------------------------------------------------------------
def dense_adj_reference(ei, batch, attr, max_num_nodes, batch_size):
    if batch is None:
        batch = np.zeros(int(ei.max()) + 1 if ei.size else 0, np.int64)
    b = int(batch.max()) + 1 if batch.size else 1
    b = b if batch_size is None else batch_size
    counts = np.bincount(batch, minlength=b)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n = int(counts.max()) if max_num_nodes is None else max_num_nodes
    out = np.zeros((b, n, n) + (attr.shape[1:] if attr is not None else ()))
    for k, (s, d) in enumerate(ei.T):
        g = batch[s]
        i, j = s - start[g], d - start[g]
        if i < n and j < n:
            out[g, i, j] += 1.0 if attr is None else attr[k]
    return out


def test_to_dense_adj_matches_pyg_on_single_graphs():
    for ei, n in graphs(1):
        got = to_dense_adj(sg.tensor(ei))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), dense_adj_reference(ei, None, None, None, None))
        got = to_dense_adj(ei, max_num_nodes=n)  # isolated nodes kept by max_num_nodes
        np.testing.assert_allclose(got.numpy(), dense_adj_reference(ei, None, None, n, None))
        if ei.size and ei.max() > 1:  # a smaller max_num_nodes drops the edges past it
            np.testing.assert_allclose(to_dense_adj(ei, max_num_nodes=2).numpy(),
                                       dense_adj_reference(ei, None, None, 2, None))
    assert to_dense_adj(np.zeros((2, 0), np.int64)).shape == (1, 0, 0)  # PyG's empty result


def test_to_dense_adj_is_source_major_sums_duplicates_and_batches():
    ei = np.array([[0, 0, 1, 3], [1, 1, 2, 4]])
    a = to_dense_adj(ei, batch=np.array([0, 0, 0, 1, 1]))
    assert a.shape == (2, 3, 3)
    assert a.numpy()[0, 0, 1] == 2 and a.numpy()[0, 1, 0] == 0  # A[src, dst], summed
    assert a.numpy()[1, 0, 1] == 1
    for ei, batch in batched(2):
        attr = np.random.default_rng(0).normal(size=(ei.shape[1], 2)).astype(np.float32)
        for kw in ({}, {"max_num_nodes": 2}, {"batch_size": int(batch.max()) + 3}):
            got = to_dense_adj(ei, sg.tensor(batch), sg.tensor(attr), **kw)
            want = dense_adj_reference(ei, batch, attr, kw.get("max_num_nodes"),
                                       kw.get("batch_size"))
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)


def test_to_dense_adj_is_differentiable_in_edge_attr():
    ei = np.array([[0, 0, 2, 1], [1, 1, 2, 0]])  # a duplicate and a self loop
    w = sg.randn(4, 3, dtype=sg.float64, requires_grad=True)
    weights = sg.tensor(np.arange(1.0, 28.0).reshape(1, 3, 3, 3))
    assert gradcheck(lambda w: (to_dense_adj(ei, edge_attr=w) * weights).sum(), (w,))


def test_to_dense_adj_errors_name_the_argument():
    with pytest.raises(ValueError, match="to_dense_adj: expected `edge_attr` with 2 rows"):
        to_dense_adj(np.array([[0, 1], [1, 0]]), edge_attr=sg.ones(3))
    with pytest.raises(ValueError, match="to_dense_adj: expected `edge_index` of shape"):
        to_dense_adj(np.array([0, 1]))
    with pytest.raises(ValueError, match="to_dense_adj: expected `batch` sorted"):
        to_dense_adj(np.array([[0], [1]]), batch=np.array([1, 0]))


# ---- dense_to_sparse -------------------------------------------------------------------------
def test_dense_to_sparse_matches_pyg():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 5)) * (rng.random((4, 5)) < 0.4)
    ei, attr = dense_to_sparse(sg.tensor(a))
    r, c = np.nonzero(a)
    assert ei.dtype == np.int64 and ei.tolist() == [r.tolist(), c.tolist()]
    np.testing.assert_allclose(attr.numpy(), a[r, c])
    b = rng.normal(size=(3, 4, 4)) * (rng.random((3, 4, 4)) < 0.4)
    b[1] = 0  # a graph without edges
    ei, attr = dense_to_sparse(sg.tensor(b))
    g, i, j = np.nonzero(b)
    assert ei.tolist() == [(g * 4 + i).tolist(), (g * 4 + j).tolist()]
    np.testing.assert_allclose(attr.numpy(), b[g, i, j])
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], bool)
    b = b * mask[:, :, None] * mask[:, None, :]
    ei, attr = dense_to_sparse(sg.tensor(b), sg.tensor(mask))
    start = np.concatenate([[0], np.cumsum(mask.sum(1))[:-1]])
    g, i, j = np.nonzero(b)
    assert ei.tolist() == [(start[g] + i).tolist(), (start[g] + j).tolist()]
    back = to_dense_adj(ei, np.repeat(np.arange(3), mask.sum(1)), attr, max_num_nodes=4)
    np.testing.assert_allclose(back.numpy(), b, rtol=1e-6)  # the round trip
    ei, attr = dense_to_sparse(sg.zeros(2, 3, 3))
    assert ei.shape == (2, 0) and attr.shape == (0,)


def test_dense_to_sparse_is_differentiable_and_checks_its_input():
    a = sg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=sg.float64, requires_grad=True)
    weights = sg.tensor([1.0, 5.0, 7.0, 11.0], dtype=sg.float64)
    assert gradcheck(lambda a: (dense_to_sparse(a)[1] * weights).sum(), (a,))
    b = sg.tensor([[[0.0, 2.0], [3.0, 0.0]]], requires_grad=True)  # zeros: no gradient
    (dense_to_sparse(b)[1] * sg.tensor([1.0, 5.0])).sum().backward()
    assert b.grad.tolist() == [[[0.0, 1.0], [5.0, 0.0]]]
    with pytest.raises(ValueError, match=r"dense_to_sparse: expected `adj` of 2 or 3 dims"):
        dense_to_sparse(sg.zeros(3))
    with pytest.raises(ValueError, match=r"dense_to_sparse: expected `mask` of shape"):
        dense_to_sparse(sg.zeros(2, 3, 3), np.ones((2, 2), bool))


# ---- to_dense_batch --------------------------------------------------------------------------
def dense_batch_reference(x, batch, fill, max_num_nodes, batch_size):
    b = int(batch.max()) + 1 if batch_size is None else batch_size
    counts = np.bincount(batch, minlength=b)
    n = int(counts.max()) if max_num_nodes is None else max_num_nodes
    out, mask = np.full((b, n) + x.shape[1:], fill, x.dtype), np.zeros((b, n), bool)
    seen = np.zeros(b, int)
    for k, g in enumerate(batch):
        if seen[g] < n:
            out[g, seen[g]], mask[g, seen[g]] = x[k], True
        seen[g] += 1
    return out, mask


def test_to_dense_batch_matches_pyg():
    rng = np.random.default_rng(4)
    for _, batch in batched(5):
        x = rng.normal(size=(batch.size, 3)).astype(np.float32)
        for kw in ({}, {"fill_value": -1.5, "max_num_nodes": 2},
                   {"batch_size": int(batch.max()) + 2, "max_num_nodes": 6}):
            out, mask = to_dense_batch(sg.tensor(x), sg.tensor(batch), **kw)
            want, want_mask = dense_batch_reference(x, batch, kw.get("fill_value", 0.0),
                                                    kw.get("max_num_nodes"),
                                                    kw.get("batch_size"))
            np.testing.assert_array_equal(out.numpy(), want)
            assert mask.dtype == np.bool_ and mask.tolist() == want_mask.tolist()
    out, mask = to_dense_batch(sg.ones(4, 2))  # no batch: one graph
    assert out.shape == (1, 4, 2) and mask.tolist() == [[True] * 4]
    out, mask = to_dense_batch(sg.ones(3), max_num_nodes=5)  # 1-D features
    assert out.tolist() == [[1, 1, 1, 0, 0]] and mask.tolist() == [[1, 1, 1, 0, 0]]


def test_to_dense_batch_is_differentiable_and_wants_a_sorted_batch():
    x = sg.randn(5, 2, dtype=sg.float64, requires_grad=True)
    batch = np.array([0, 0, 2, 2, 2])  # graph 1 empty
    weights = sg.tensor(np.arange(1.0, 19.0).reshape(3, 3, 2))
    assert gradcheck(lambda x: (to_dense_batch(x, batch, 7.0)[0] * weights).sum(), (x,))
    with pytest.raises(ValueError, match=r"to_dense_batch: expected `batch` sorted .*got 1 "
                                         r"then 0"):
        to_dense_batch(x, np.array([0, 1, 0, 1, 1]))
    with pytest.raises(ValueError, match="to_dense_batch: expected `batch` with one entry"):
        to_dense_batch(x, np.array([0, 0, 1]))
    with pytest.raises(ValueError, match="to_dense_batch: expected `batch` values below"):
        to_dense_batch(x, batch, batch_size=2)


# ---- dropout_edge ----------------------------------------------------------------------------
def test_dropout_edge_draws_from_the_seeded_generator():
    ei = sg.tensor(np.random.default_rng(0).integers(0, 50, (2, 4000)))
    sg.manual_seed(3)
    kept, mask = dropout_edge(ei, p=0.3)
    assert mask.dtype == np.bool_ and kept.dtype == np.int64
    np.testing.assert_array_equal(kept.numpy(), ei.numpy()[:, mask.numpy()])
    assert abs(mask.numpy().mean() - 0.7) < 0.03
    sg.manual_seed(3)
    np.testing.assert_array_equal(dropout_edge(ei, p=0.3)[1].numpy(), mask.numpy())
    same = dropout_edge(ei, 0.3, generator=sg.Generator(1))[1].numpy()
    np.testing.assert_array_equal(dropout_edge(ei, 0.3, generator=sg.Generator(1))[1].numpy(),
                                  same)
    full_ei, full_mask = dropout_edge(ei, p=0.9, training=False)
    assert full_ei.tolist() == ei.tolist() and bool(full_mask.numpy().all())
    assert dropout_edge(np.zeros((2, 0), np.int32))[0].shape == (2, 0)


def test_dropout_edge_force_undirected_returns_positions_as_pyg():
    ei = np.array([[0, 1, 1, 2, 3, 2], [1, 0, 2, 1, 3, 0]])
    kept, idx = dropout_edge(ei, p=0.5, force_undirected=True, generator=sg.Generator(5))
    idx = idx.numpy()
    assert idx.dtype == np.int64 and idx.size % 2 == 0
    half = idx[:idx.size // 2]
    np.testing.assert_array_equal(idx[idx.size // 2:], half)
    assert (ei[0, half] <= ei[1, half]).all()  # only src <= dst edges are drawn
    want = ei[:, half]
    np.testing.assert_array_equal(kept.numpy(), np.concatenate([want, want[::-1]], axis=1))
    with pytest.raises(ValueError, match=r"dropout_edge: expected `p` in \[0, 1\]"):
        dropout_edge(ei, p=1.5)


# ---- k_hop_subgraph --------------------------------------------------------------------------
def khop_reference(seeds, k, ei, n, flow, directed):
    row, col = (ei[0], ei[1]) if flow == "target_to_source" else (ei[1], ei[0])
    nodes, frontier, used = set(seeds), set(seeds), np.zeros(ei.shape[1], bool)
    for _ in range(k):
        step = np.array([r in frontier for r in row], bool)
        used |= step
        frontier = set(col[step].tolist())
        nodes |= frontier
    subset = np.array(sorted(nodes), np.int64)
    inside = np.array([r in nodes and c in nodes for r, c in zip(row, col, strict=True)], bool)
    mask = used if directed else inside.reshape(-1)
    return subset, mask


def test_k_hop_subgraph_matches_pyg():
    rng = np.random.default_rng(6)
    for ei, n in graphs(7, 16):
        seeds = sorted(set(rng.integers(0, n, 2).tolist()))
        for k in (0, 1, 2):
            for flow in ("source_to_target", "target_to_source"):
                for directed in (False, True):
                    subset, sub_ei, mapping, mask = k_hop_subgraph(
                        seeds, k, sg.tensor(ei), True, n, flow, directed)
                    want_subset, want_mask = khop_reference(seeds, k, ei, n, flow, directed)
                    assert subset.tolist() == want_subset.tolist()
                    assert mask.dtype == np.bool_ and mask.tolist() == want_mask.tolist()
                    assert subset.numpy()[mapping.numpy()].tolist() == seeds
                    relabel = {v: i for i, v in enumerate(want_subset.tolist())}
                    want_ei = [[relabel[v] for v in r] for r in ei[:, want_mask].tolist()]
                    assert sub_ei.dtype == np.int64 and sub_ei.tolist() == want_ei


def test_k_hop_subgraph_docstring_examples_and_flow():
    ei = np.array([[0, 1, 2, 3, 4, 5], [2, 2, 4, 4, 6, 6]])
    subset, sub, mapping, mask = k_hop_subgraph(6, 2, ei, relabel_nodes=True)
    assert subset.tolist() == [2, 3, 4, 5, 6] and sub.tolist() == [[0, 1, 2, 3], [2, 2, 4, 4]]
    assert mapping.tolist() == [4] and mask.tolist() == [False, False, True, True, True, True]
    ei = np.array([[1, 2, 4, 5], [0, 1, 5, 6]])
    subset, sub, mapping, mask = k_hop_subgraph([0, 6], 2, ei, relabel_nodes=True)
    assert subset.tolist() == [0, 1, 2, 4, 5, 6] and mapping.tolist() == [0, 5]
    assert sub.tolist() == [[1, 2, 3, 4], [0, 1, 4, 5]]
    # source_to_target follows edges INTO the seeds: node 0 has no in-edges here
    assert k_hop_subgraph(0, 2, np.array([[0], [1]]))[0].tolist() == [0]
    assert k_hop_subgraph(0, 2, np.array([[0], [1]]), flow="target_to_source")[0].tolist() \
        == [0, 1]
    subset, sub, _, mask = k_hop_subgraph(2, 3, np.zeros((2, 0), np.int64), num_nodes=4)
    assert subset.tolist() == [2] and sub.shape == (2, 0) and mask.shape == (0,)


def test_k_hop_subgraph_errors_name_the_argument():
    ei = np.array([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="k_hop_subgraph: expected `flow`"):
        k_hop_subgraph(0, 1, ei, flow="in")
    with pytest.raises(ValueError, match="k_hop_subgraph: expected `num_hops` to be an int"):
        k_hop_subgraph(0, -1, ei)
    with pytest.raises(ValueError, match="k_hop_subgraph: expected `node_idx` below"):
        k_hop_subgraph(5, 1, ei)


# ---- homophily -------------------------------------------------------------------------------
def test_homophily_docstring_example():
    ei, y = np.array([[0, 1, 2, 3], [1, 2, 0, 4]]), sg.tensor([0, 0, 0, 0, 1])
    assert homophily(ei, y, method="edge") == pytest.approx(0.75)
    assert homophily(ei, y, method="node") == pytest.approx(0.6)
    assert homophily(ei, y, method="edge_insensitive") == pytest.approx(0.2)


def test_homophily_matches_pyg_per_node_edge_and_graph():
    rng = np.random.default_rng(8)
    for ei, batch in batched(9):
        n = batch.size
        y = rng.integers(0, 3, n)
        same = [float(y[s] == y[d]) for s, d in ei.T]
        per_node = [np.mean([same[k] for k in range(len(same)) if ei[1, k] == v])
                    if (ei[1] == v).any() else 0.0 for v in range(n)]
        want_edge = np.mean(same) if same else np.nan
        np.testing.assert_allclose(homophily(ei, y), want_edge)
        assert homophily(ei, y, method="node") == pytest.approx(np.mean(per_node))
        graphs_ = int(batch.max()) + 1
        by_graph = [np.mean([same[k] for k in range(len(same)) if batch[ei[1, k]] == g])
                    if (batch[ei[1]] == g).any() else 0.0 for g in range(graphs_)]
        got = homophily(ei, sg.tensor(y[:, None]), sg.tensor(batch))  # (N, 1) labels
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), by_graph, rtol=1e-6)
        node_by_graph = [np.mean([per_node[v] for v in range(n) if batch[v] == g])
                         for g in range(graphs_)]
        np.testing.assert_allclose(homophily(ei, y, batch, "node").numpy(), node_by_graph,
                                   rtol=1e-6)


def test_homophily_edge_insensitive_per_graph():
    rng = np.random.default_rng(10)
    for ei, batch in batched(11):
        if batch.size < 2:
            continue
        y = rng.integers(0, 3, batch.size)
        y[:2] = [0, 1]  # at least two classes
        c, graphs_ = int(y.max()) + 1, int(batch.max()) + 1
        want = []
        for g in range(graphs_):
            total = 0.0
            for k in range(c):
                into = [int(y[s] == y[d]) for s, d in ei.T if batch[d] == g and y[d] == k]
                h = np.mean(into) if into else 0.0
                total += max(0.0, h - np.sum((batch == g) & (y == k)) / np.sum(batch == g))
            want.append(total / (c - 1))
        got = homophily(ei, y, batch if graphs_ > 1 else None, "edge_insensitive")
        np.testing.assert_allclose(got.numpy() if graphs_ > 1 else got,
                                   want if graphs_ > 1 else want[0], rtol=1e-6, atol=1e-7)


def test_homophily_errors_name_the_argument():
    ei = np.array([[0], [1]])
    with pytest.raises(ValueError, match="homophily: expected `method`"):
        homophily(ei, np.array([0, 1]), method="nodes")
    with pytest.raises(ValueError, match="homophily: expected `edge_index` node ids below 2"):
        homophily(np.array([[0], [2]]), np.array([0, 1]))
    with pytest.raises(ValueError, match="homophily: method='edge_insensitive' needs at least"):
        homophily(ei, np.array([0, 0]), method="edge_insensitive")


# ---- negative_sampling returns the type it is given ----------------------------------------
def test_negative_sampling_returns_a_tensor_for_a_tensor():
    pos = sg.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    neg = negative_sampling(pos, 5, generator=sg.Generator(0))
    assert isinstance(neg, sg.Tensor) and neg.dtype == np.int64 and neg.size(1) == 4
    assert sg.cat([pos, neg], dim=-1).shape == (2, 8)  # PyG's tutorial
    same = negative_sampling(pos.numpy(), 5, generator=sg.Generator(0))
    assert type(same) is np.ndarray
    np.testing.assert_array_equal(neg.numpy(), same)  # the same draw either way
    assert type(negative_sampling([[0, 1], [1, 2]], 4)) is np.ndarray


def test_dropout_edge_is_refused_inside_a_compiled_step():
    from sparsegraph.static import compile as sg_compile
    from sparsegraph.static.recorded import CaptureError

    ei = sg.tensor([[0, 1, 2], [1, 2, 0]])
    step = sg_compile(lambda x: x * dropout_edge(ei, 0.5)[1].sum())
    with pytest.raises(CaptureError, match="dropout_edge .* cannot be captured"):
        step(sg.ones(1))
