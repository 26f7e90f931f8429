"""PyG's functional edge_index utils (gnn/graph_predicates.py, edge_index_utils.py,
edge_conversion.py) against loop-by-loop references of PyG's documented semantics and
PyG's own examples; edge values' gradients through every editing function (float64)."""

from collections import Counter

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
from sparsegraph.gnn import (
    add_remaining_self_loops,
    bipartite_subgraph,
    contains_isolated_nodes,
    contains_self_loops,
    from_scipy_sparse_matrix,
    get_laplacian,
    is_undirected,
    remove_isolated_nodes,
    sort_edge_index,
    subgraph,
    to_edge_index,
    to_scipy_sparse_matrix,
    unbatch,
    unbatch_edge_index,
)
from sparsegraph.testing import gradcheck

PYG = [[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]]  # the path 0-1-2-3 of PyG's examples


def graphs(seed=0, count=10):
    """``(edge_index, n)``: random multigraphs with loops, duplicates, isolated nodes."""
    rng = np.random.default_rng(seed)
    for t in range(count):
        n = int(rng.integers(1, 7))
        e = 0 if t % 5 == 0 else int(rng.integers(1, 12))
        ei = rng.integers(0, n, (2, e)).astype([np.int32, np.int64][t % 2])
        if e > 2:
            ei[:, -1] = ei[:, 0]  # a duplicate
            ei[1, 1] = ei[0, 1]  # a self loop
        yield ei, n + int(rng.integers(0, 3))


def weights(e, trailing=(), seed=0):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal((e,) + trailing), dtype="float64", requires_grad=True)


# ---- predicates ---------------------------------------------------------------------------
def test_predicates_against_reference():
    for ei, n in graphs():
        pairs = list(zip(ei[0].tolist(), ei[1].tolist(), strict=True))
        assert is_undirected(ei, num_nodes=n) == (Counter(pairs) == Counter(
            (v, u) for u, v in pairs))
        assert contains_self_loops(sg.tensor(ei)) == any(u == v for u, v in pairs)
        ends = {x for u, v in pairs if u != v for x in (u, v)}
        assert contains_isolated_nodes(ei, n) == (len(ends) < n)
    g = nx.gnp_random_graph(9, 0.4, seed=3)
    ei = np.array(list(g.to_directed().edges())).T
    assert is_undirected(ei) and not is_undirected(ei[:, 1:])


def test_is_undirected_compares_edge_attr():
    ei = sg.tensor(PYG)
    assert is_undirected(ei, sg.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 3.0]))
    assert not is_undirected(ei, sg.tensor([1.0, 1.0, 2.0, 5.0, 3.0, 3.0]))
    assert is_undirected(ei, [sg.tensor([[1, 1]] * 6), sg.tensor([0, 0, 1, 1, 2, 2])])
    assert not is_undirected(sg.tensor([[0, 1], [1, 2]]))
    assert not contains_isolated_nodes(PYG) and contains_isolated_nodes(PYG, num_nodes=5)
    assert contains_isolated_nodes([[0, 1, 2], [1, 0, 2]])  # 2 has only a loop


# ---- sort_edge_index ----------------------------------------------------------------------
def test_sort_edge_index_pyg_example_and_forms():
    ei = sg.tensor([[2, 1, 1, 0], [1, 2, 0, 1]])
    assert sort_edge_index(ei).tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    out, attr = sort_edge_index(ei, sg.tensor([[1], [2], [3], [4]]))
    assert out.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]] and attr.tolist() == [[4], [3], [2], [1]]
    out, none = sort_edge_index(ei, None)
    assert none is None
    _, (a, b) = sort_edge_index(ei, [sg.tensor([1, 2, 3, 4]), sg.tensor([5, 6, 7, 8])])
    assert a.tolist() == [4, 3, 2, 1] and b.tolist() == [8, 7, 6, 5]
    out = sort_edge_index(ei, sort_by_row=False)
    assert out.tolist() == [[1, 0, 2, 1], [0, 1, 1, 2]]


def test_sort_edge_index_stable_keeps_dtype_and_grad():
    for ei, n in graphs(1):
        w = weights(ei.shape[1])
        out, attr = sort_edge_index(ei, w, n)
        perm = sorted(range(ei.shape[1]), key=lambda e: (ei[0, e], ei[1, e]))
        assert out.dtype == ei.dtype and out.numpy().tolist() == ei[:, perm].tolist()
        np.testing.assert_array_equal(attr.detach().numpy(), w.detach().numpy()[perm])
        if ei.shape[1]:
            assert gradcheck(lambda w, ei=ei: sort_edge_index(ei, w)[1], [w])


# ---- subgraph / bipartite_subgraph ----------------------------------------------------------
def test_subgraph_pyg_example():
    ei = sg.tensor([[0, 1, 1, 2, 2, 3, 3, 4, 4, 5], [1, 0, 2, 1, 3, 2, 4, 3, 5, 4]])
    attr = sg.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    out, a = subgraph(sg.tensor([3, 4, 5]), ei, attr)
    assert out.tolist() == [[3, 4, 4, 5], [4, 3, 5, 4]] and a.tolist() == [7, 8, 9, 10]
    out, a, mask = subgraph([3, 4, 5], ei, attr, return_edge_mask=True)
    assert mask.tolist() == [False] * 6 + [True] * 4
    mask6 = sg.tensor([False, False, False, True, True, True])
    out, _ = subgraph(mask6, ei, relabel_nodes=True)
    assert out.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]


def test_subgraph_against_reference_and_grad():
    rng = np.random.default_rng(2)
    for ei, n in graphs(2):
        subset = rng.permutation(n)[: int(rng.integers(0, n + 1))]
        w = weights(ei.shape[1], (2,))
        out, a, mask = subgraph(subset, ei, w, relabel_nodes=True, num_nodes=n,
                                return_edge_mask=True)
        keep = [e for e in range(ei.shape[1]) if ei[0, e] in subset and ei[1, e] in subset]
        pos = {int(v): i for i, v in enumerate(subset)}  # in subset's order, as PyG
        assert out.dtype == ei.dtype
        assert out.numpy().tolist() == [[pos[ei[k, e]] for e in keep] for k in (0, 1)]
        assert np.flatnonzero(mask.numpy()).tolist() == keep
        np.testing.assert_array_equal(a.detach().numpy(), w.detach().numpy()[keep])
        if keep:
            assert gradcheck(lambda w, ei=ei, s=subset: subgraph(s, ei, w)[1], [w])


def test_bipartite_subgraph_pyg_example():
    ei = sg.tensor([[0, 5, 2, 3, 3, 4, 4, 3, 5, 5, 6], [0, 0, 3, 2, 0, 0, 2, 1, 2, 3, 1]])
    attr = sg.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    subset = (sg.tensor([2, 3, 5]), sg.tensor([2, 3]))
    out, a = bipartite_subgraph(subset, ei, attr)
    assert out.tolist() == [[2, 3, 5, 5], [3, 2, 2, 3]] and a.tolist() == [3, 4, 9, 10]
    out, a, mask = bipartite_subgraph(subset, ei, attr, return_edge_mask=True)
    assert mask.numpy().nonzero()[0].tolist() == [2, 3, 8, 9]
    out, _ = bipartite_subgraph(subset, ei, attr, relabel_nodes=True)
    assert out.tolist() == [[0, 1, 2, 2], [1, 0, 0, 1]]
    w = weights(11)
    assert gradcheck(lambda w: bipartite_subgraph(subset, ei, w, size=(7, 4))[1], [w])


# ---- remove_isolated_nodes ----------------------------------------------------------------
def test_remove_isolated_nodes_against_reference_and_grad():
    for ei, n in graphs(3):
        w = weights(ei.shape[1])
        out, a, mask = remove_isolated_nodes(ei, w, n)
        kept = sorted({x for u, v in ei.T.tolist() if u != v for x in (u, v)})
        assert np.flatnonzero(mask.numpy()).tolist() == kept and mask.shape == (n,)
        new = {v: i for i, v in enumerate(kept)}
        plain = [e for e in range(ei.shape[1]) if ei[0, e] != ei[1, e]]
        last = {int(ei[0, e]): e for e in range(ei.shape[1]) if ei[0, e] == ei[1, e]}
        loops = [last[v] for v in kept if v in last]
        order = plain + loops
        assert out.numpy().tolist() == [[new[ei[k, e]] for e in order] for k in (0, 1)]
        np.testing.assert_array_equal(a.detach().numpy(), w.detach().numpy()[order])
        if order:
            assert gradcheck(lambda w, ei=ei: remove_isolated_nodes(ei, w)[1], [w])
    out, a, mask = remove_isolated_nodes(sg.tensor([[0, 1, 0], [1, 0, 0]]), num_nodes=3)
    assert out.tolist() == [[0, 1, 0], [1, 0, 0]] and a is None
    assert mask.tolist() == [True, True, False]


# ---- add_remaining_self_loops ----------------------------------------------------------------
@pytest.mark.parametrize("fill", [None, 2.5, "mean", "add", "max", "min"])
def test_add_remaining_self_loops_against_reference(fill):
    reduce = {"mean": np.mean, "add": np.sum, "max": np.max, "min": np.min}
    for ei, n in graphs(4):
        w = weights(ei.shape[1], (2,))
        out, a = add_remaining_self_loops(ei, w, fill, n)
        wn = w.detach().numpy()
        plain = [e for e in range(ei.shape[1]) if ei[0, e] != ei[1, e]]
        loops = np.arange(n)
        assert out.dtype == ei.dtype
        assert out.numpy().tolist() == [ei[0, plain].tolist() + loops.tolist(),
                                        ei[1, plain].tolist() + loops.tolist()]
        expect = [wn[e] for e in plain]
        for v in range(n):
            mine = [e for e in range(ei.shape[1]) if ei[0, e] == ei[1, e] == v]
            into = [wn[e] for e in range(ei.shape[1]) if ei[1, e] == v]
            if mine:
                expect.append(wn[mine[-1]])
            elif fill is None:
                expect.append(np.ones(2))
            elif isinstance(fill, float):
                expect.append(np.full(2, fill))
            else:
                expect.append(reduce[fill](into, axis=0) if into else np.zeros(2))
        np.testing.assert_allclose(a.detach().numpy(), np.array(expect).reshape(-1, 2))
        if ei.shape[1]:
            assert gradcheck(lambda w, ei=ei: add_remaining_self_loops(ei, w, fill)[1], [w])


def test_add_remaining_self_loops_tensor_fill_and_no_attr():
    ei = sg.tensor([[0, 1, 1], [1, 1, 0]], dtype="int32")
    out, a = add_remaining_self_loops(ei)
    assert a is None and out.dtype == np.int32
    assert out.tolist() == [[0, 1, 0, 1], [1, 0, 0, 1]]
    fill = sg.tensor([7.0, 8.0], dtype="float64", requires_grad=True)
    w = weights(3, (2,))
    _, a = add_remaining_self_loops(ei, w, fill)
    np.testing.assert_allclose(a.detach().numpy()[2], [7.0, 8.0])  # node 0: no loop
    np.testing.assert_allclose(a.detach().numpy()[3], w.detach().numpy()[1])  # node 1's loop
    assert gradcheck(lambda w, f: add_remaining_self_loops(ei, w, f)[1], [w, fill])


# ---- get_laplacian ------------------------------------------------------------------------
def _dense(ei, w, n):
    a = np.zeros((n, n))
    np.add.at(a, (ei[0], ei[1]), w)
    return a


@pytest.mark.parametrize("norm", [None, "sym", "rw"])
def test_get_laplacian_matches_dense_formula(norm):
    rng = np.random.default_rng(5)
    for ei, n in graphs(5):
        w = sg.tensor(rng.uniform(0.5, 2.0, ei.shape[1]), dtype="float64", requires_grad=True)
        out, lw = get_laplacian(ei, w, norm, num_nodes=n)
        a = _dense(ei, w.detach().numpy(), n)
        np.fill_diagonal(a, 0)
        d = a.sum(axis=1)  # out-degree: PyG's scatter over row
        inv = np.where(d > 0, 1 / np.where(d > 0, d, 1), 0)
        ref = (np.diag(d) - a if norm is None else
               np.eye(n) - np.sqrt(inv)[:, None] * a * np.sqrt(inv)[None, :] if norm == "sym"
               else np.eye(n) - inv[:, None] * a)
        np.testing.assert_allclose(_dense(out.numpy(), lw.detach().numpy(), n), ref,
                                   atol=1e-12)
        off = int((ei[0] != ei[1]).sum())
        assert out.numpy()[:, off:].tolist() == [list(range(n))] * 2
        if off:
            assert gradcheck(lambda w, ei=ei: get_laplacian(ei, w, norm)[1], [w])
    _, lw = get_laplacian(sg.tensor(PYG), dtype="float64")
    assert lw.dtype == np.float64


# ---- conversions --------------------------------------------------------------------------
def test_to_edge_index_reads_the_stored_entries():
    adj = sg.sparse_coo(sg.tensor(PYG), sg.ones(6))
    ei, v = to_edge_index(adj)
    assert ei.tolist() == PYG and v.tolist() == [1.0] * 6 and ei.dtype == np.int64
    adj = sg.from_edge_index([[0, 0, 2], [1, 2, 1]], 3, sg.tensor([1.0, 2.0, 3.0]))
    ei, v = to_edge_index(adj)  # target-major: row 0 holds the targets
    pairs = {(int(c), int(r)): float(x) for r, c, x in zip(*ei.numpy(), v.numpy(),
                                                          strict=True)}
    assert pairs == {(0, 1): 1.0, (0, 2): 2.0, (2, 1): 3.0}
    w = sg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    assert gradcheck(lambda w: to_edge_index(sg.sparse_coo([[0, 1], [1, 0]], w))[1], [w])


def test_scipy_round_trip():
    for ei, n in graphs(6):
        w = np.arange(1, ei.shape[1] + 1, dtype=np.float64)
        m = to_scipy_sparse_matrix(sg.tensor(ei), sg.tensor(w), n)
        assert sp.issparse(m) and m.shape == (n, n)
        np.testing.assert_allclose(m.toarray(), _dense(ei, w, n))
        back, bw = from_scipy_sparse_matrix(m)
        assert back.dtype == np.int64 and bw.dtype == np.float64
        np.testing.assert_allclose(_dense(back.numpy(), bw.numpy(), n), _dense(ei, w, n))
    assert to_scipy_sparse_matrix(PYG).dtype == np.float32
    ei, w = from_scipy_sparse_matrix(nx.to_scipy_sparse_array(nx.path_graph(4)))
    assert ei.tolist() == PYG and w.tolist() == [1] * 6


def test_unbatch_and_unbatch_edge_index():
    src = sg.tensor(np.arange(14.0).reshape(7, 2), dtype="float64", requires_grad=True)
    batch = sg.tensor([0, 0, 0, 1, 1, 2, 2])
    parts = unbatch(src, batch)
    assert [p.shape for p in parts] == [(3, 2), (2, 2), (2, 2)]
    assert parts[1].tolist() == [[6.0, 7.0], [8.0, 9.0]]
    assert [p.shape for p in unbatch(src, batch, batch_size=4)][-1] == (0, 2)
    assert [p.shape for p in unbatch(src.t(), batch, dim=1)] == [(2, 3), (2, 2), (2, 2)]
    assert gradcheck(lambda s: unbatch(s, batch)[1] * 2, [src])
    # PyG's example
    ei = sg.tensor([[0, 1, 1, 2, 2, 3, 4, 5, 5, 6], [1, 0, 2, 1, 3, 2, 5, 4, 6, 5]],
                   dtype="int32")
    out = unbatch_edge_index(ei, sg.tensor([0, 0, 0, 0, 1, 1, 1]))
    assert [o.tolist() for o in out] == [[[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]],
                                         [[0, 1, 1, 2], [1, 0, 2, 1]]]
    assert out[0].dtype == np.int32


# ---- errors -------------------------------------------------------------------------------
def test_errors_name_function_and_argument():
    with pytest.raises(ValueError, match=r"sort_edge_index: expected `edge_index` of shape"):
        sort_edge_index(sg.tensor([0, 1]))
    with pytest.raises(TypeError, match=r"subgraph: expected `edge_index` with an integer"):
        subgraph([0], sg.tensor([[0.0], [1.0]]))
    with pytest.raises(ValueError, match=r"subgraph: expected `subset` ids below 4, the "
                                         r"number of nodes \(got 4\)"):
        subgraph([4], PYG, num_nodes=4)
    with pytest.raises(ValueError, match=r"is_undirected: expected `edge_index` node ids "
                                         r"below num_nodes=3"):
        is_undirected(PYG, num_nodes=3)
    with pytest.raises(ValueError, match=r"remove_isolated_nodes: expected `edge_attr` with 6 "
                                         r"rows"):
        remove_isolated_nodes(PYG, sg.ones(5))
    with pytest.raises(ValueError, match=r"get_laplacian: expected `normalization`"):
        get_laplacian(PYG, normalization="left")
    with pytest.raises(ValueError, match=r"add_remaining_self_loops: expected `fill_value` "
                                         r"'sum'"):
        add_remaining_self_loops(PYG, sg.ones(6), "median")
    with pytest.raises(TypeError, match=r"to_edge_index: expected `adj` to be a SparseTensor"):
        to_edge_index(np.eye(2))
    with pytest.raises(TypeError, match=r"from_scipy_sparse_matrix: expected a scipy"):
        from_scipy_sparse_matrix(np.eye(2))
    with pytest.raises(ValueError, match=r"unbatch: expected `batch` sorted"):
        unbatch(sg.ones(3), sg.tensor([1, 0, 1]))
    with pytest.raises(ValueError, match=r"unbatch_edge_index: expected every edge inside one "
                                         r"graph"):
        unbatch_edge_index([[0], [2]], sg.tensor([0, 0, 1]))
    with pytest.raises(TypeError, match=r"bipartite_subgraph: expected `subset` to be a pair"):
        bipartite_subgraph(([0], [1], [2]), PYG)
    with pytest.raises(ValueError, match=r"is_undirected: expected non-negative node ids"):
        is_undirected([[0, -1], [1, 0]])
