"""PyG's add_self_loops / remove_self_loops / coalesce / to_undirected (gnn/pyg_edge_forms.py)
and scatter / softmax / degree / one_hot (gnn/pyg_scatter.py) in functional form: PyG's
documented examples, numpy / scipy / networkx references on random multigraphs, float64
gradient checks in the edge values, errors by name, and the "Creating Message Passing
Networks" tutorial's GCNConv built from them."""

import doctest
from collections import defaultdict

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
import sparsegraph.gnn.utils as U
from sparsegraph import gnn
from sparsegraph.gnn import (
    MessagePassing,
    add_self_loops,
    coalesce,
    degree,
    is_undirected,
    one_hot,
    pyg_edge_forms,
    remove_self_loops,
    scatter,
    softmax,
    to_undirected,
)
from sparsegraph.gnn import pyg_scatter as pyg_scatter_module
from sparsegraph.nn import Linear, Parameter
from sparsegraph.testing import gradcheck
from tests.cupy_emulation import DeviceArray, host
from tests.pyg_reference import pyg_scatter

REDUCES = ("sum", "add", "mean", "max", "min")


def graphs(seed=0, count=12):
    """``(edge_index, n)``: random multigraphs with loops and duplicates, int32 and int64."""
    rng = np.random.default_rng(seed)
    for t in range(count):
        n = int(rng.integers(1, 7))
        e = 0 if t % 6 == 0 else int(rng.integers(1, 14))
        ei = rng.integers(0, n, (2, e)).astype([np.int32, np.int64][t % 2])
        if e > 2:
            ei[:, -1] = ei[:, 0]  # a duplicate
            ei[1, 1] = ei[0, 1]  # a self loop
        yield ei, n + int(rng.integers(0, 3))


def values(e, trailing=(), seed=0, grad=True):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal((e,) + trailing), dtype="float64", requires_grad=grad)


def test_exported_from_gnn_and_gnn_utils():
    for name in ("add_self_loops", "remove_self_loops", "coalesce", "to_undirected", "softmax",
                 "scatter", "one_hot", "degree", "negative_sampling"):
        assert getattr(U, name) is getattr(gnn, name), name
        assert name in gnn.__all__
    # the SparseTensor forms at the top level are left as they are
    assert sg.add_self_loops is not gnn.add_self_loops


@pytest.mark.parametrize("module", [pyg_edge_forms, pyg_scatter_module])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, extraglobs={"sg": sg})
    assert result.attempted >= 4 and result.failed == 0


# ---- add_self_loops -------------------------------------------------------------------------
def test_add_self_loops_pyg_examples():
    ei, w = sg.tensor([[0, 1, 0], [1, 0, 0]]), sg.tensor([0.5, 0.5, 0.5])
    loops = [[0, 1, 0, 0, 1], [1, 0, 0, 0, 1]]
    new, attr = add_self_loops(ei)
    assert new.tolist() == loops and attr is None
    for fill, want in ((None, [1.0, 1.0]), (2.0, [2.0, 2.0]), ("add", [1.0, 0.5])):
        new, attr = add_self_loops(ei, w, fill_value=fill)
        assert new.tolist() == loops
        np.testing.assert_allclose(attr.numpy(), [0.5, 0.5, 0.5] + want)


@pytest.mark.parametrize("fill", [None, 2.5, "vector"] + list(REDUCES))
def test_add_self_loops_against_pyg_reference(fill):
    for k, (ei, n) in enumerate(graphs()):
        attr = values(ei.shape[1], (3,), seed=k, grad=False)
        f = sg.tensor([1.0, -2.0, 3.0]) if fill == "vector" else fill
        new, got = add_self_loops(sg.tensor(ei), attr, f, num_nodes=n)
        loop = np.arange(n)
        assert new.dtype == ei.dtype
        np.testing.assert_array_equal(new.numpy(), np.concatenate([ei, [loop, loop]], axis=1))
        a = attr.numpy()
        if fill is None or isinstance(fill, float):
            want = np.full((n, 3), 1.0 if fill is None else fill)
        elif fill == "vector":
            want = np.tile([1.0, -2.0, 3.0], (n, 1))
        else:  # every in-edge, its own loops included, as PyG's compute_loop_attr
            want = pyg_scatter(a, ei[1].astype(np.int64), n, fill)
        np.testing.assert_allclose(got.numpy(), np.concatenate([a, want]), atol=1e-12)


def test_add_self_loops_bipartite_num_nodes_pair():
    ei = np.array([[0, 2, 1], [1, 0, 3]])
    w = sg.tensor([1.0, 2.0, 4.0])
    new, attr = add_self_loops(ei, w, "mean", num_nodes=(3, 5))
    assert new.tolist() == [[0, 2, 1, 0, 1, 2], [1, 0, 3, 0, 1, 2]]  # min(3, 5) loops
    assert attr.tolist() == [1.0, 2.0, 4.0, 2.0, 1.0, 0.0]  # target i's in-edges
    new, _ = add_self_loops(ei, num_nodes=[4, 4])
    assert new.shape == (2, 7)
    with pytest.raises(ValueError, match=r"add_self_loops: expected `edge_index` node ids "
                                         r"below num_nodes\[1\]=3 \(got 3\)"):
        add_self_loops(ei, num_nodes=(3, 3))
    with pytest.raises(ValueError, match="add_self_loops: expected `num_nodes` an int or a "
                                         "pair"):
        add_self_loops(ei, num_nodes=(3, 4, 5))


def test_add_self_loops_keeps_the_index_dtype_and_device(emulated_cuda):
    ei = sg.tensor(np.array([[0, 1], [1, 2]], np.int32)).to("cuda")
    w = sg.tensor([1.0, 2.0]).to("cuda")
    new, attr = add_self_loops(ei, w, fill_value=sg.tensor([7.0]))  # a host fill_value moves
    assert isinstance(new.array, DeviceArray) and new.dtype == np.int32
    assert isinstance(attr.array, DeviceArray)
    assert host(attr).tolist() == [1.0, 2.0, 7.0, 7.0, 7.0]
    new, _ = remove_self_loops([[0, 1], [0, 2]])
    assert new.device == "cpu" and new.dtype == np.int64


@pytest.mark.parametrize("fill", [None, 0.5, "mean", "max"])
def test_add_self_loops_gradient(fill):
    ei = np.array([[0, 1, 2, 2, 0], [1, 2, 0, 2, 1]])
    gradcheck(lambda a: add_self_loops(ei, a, fill)[1], [values(5, (2,))])
    f = values(2, seed=3)  # a Tensor fill_value is differentiable too
    gradcheck(lambda a, v: add_self_loops(ei, a, v)[1], [values(5, (2,)), f])


def test_add_self_loops_errors():
    with pytest.raises(ValueError, match=r"add_self_loops: expected `edge_attr` with 3 rows, "
                                         r"one per edge of `edge_index` \(got shape \(2,\)\)"):
        add_self_loops([[0, 1, 2], [1, 2, 0]], sg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="add_self_loops: expected `fill_value` 'sum', 'add', "
                                         "'mean', 'max' or 'min' \\(got 'mul'\\)"):
        add_self_loops([[0], [1]], sg.tensor([1.0]), "mul")
    with pytest.raises(ValueError, match=r"add_self_loops: expected `edge_index` node ids "
                                         r"below num_nodes=2 \(got 2\)"):
        add_self_loops([[0], [2]], num_nodes=2)
    with pytest.raises(ValueError, match=r"add_self_loops: expected `edge_index` of shape "
                                         r"\(2, E\) \(got \(3, 1\)\)"):
        add_self_loops([[0], [1], [2]])


# ---- remove_self_loops ----------------------------------------------------------------------
def test_remove_self_loops_pyg_example_and_reference():
    new, attr = remove_self_loops(sg.tensor([[0, 1, 0], [1, 0, 0]]),
                                  sg.tensor([[1, 2], [3, 4], [5, 6]]))
    assert new.tolist() == [[0, 1], [1, 0]] and attr.tolist() == [[1, 2], [3, 4]]
    for k, (ei, _) in enumerate(graphs()):
        a = values(ei.shape[1], seed=k)
        new, got = remove_self_loops(ei, a)
        keep = ei[0] != ei[1]
        assert new.dtype == ei.dtype
        np.testing.assert_array_equal(new.numpy(), ei[:, keep])
        np.testing.assert_array_equal(got.detach().numpy(), a.detach().numpy()[keep])
        assert not gnn.contains_self_loops(new)
        assert remove_self_loops(ei)[1] is None
    gradcheck(lambda a: remove_self_loops([[0, 1, 2], [1, 1, 0]], a)[1], [values(3, (2,))])


# ---- coalesce -------------------------------------------------------------------------------
def test_coalesce_pyg_examples():
    ei, a = sg.tensor([[1, 1, 2, 3], [3, 3, 1, 2]]), sg.tensor([1.0, 1.0, 1.0, 1.0])
    out = coalesce(ei)
    assert isinstance(out, sg.Tensor) and out.tolist() == [[1, 2, 3], [3, 1, 2]]
    assert coalesce(ei, sort_by_row=False).tolist() == [[2, 3, 1], [1, 2, 3]]
    out, attr = coalesce(ei, a)
    assert out.tolist() == [[1, 2, 3], [3, 1, 2]] and attr.tolist() == [2.0, 1.0, 1.0]
    assert coalesce(ei, a, reduce="mean")[1].tolist() == [1.0, 1.0, 1.0]


def test_coalesce_return_forms():
    ei = [[1, 0, 1], [0, 1, 0]]
    out, attr = coalesce(ei, None)  # passed as None: a pair, as PyG >= 2.3
    assert out.tolist() == [[0, 1], [1, 0]] and attr is None
    out, attrs = coalesce(ei, (sg.tensor([1.0, 2.0, 3.0]), sg.tensor([[1], [2], [3]])))
    assert isinstance(attrs, list)
    assert attrs[0].tolist() == [2.0, 4.0] and attrs[1].tolist() == [[2], [4]]
    out, attr = coalesce([[1, 0], [0, 1]], sg.tensor([5.0, 6.0]))  # no duplicates: sorted only
    assert out.tolist() == [[0, 1], [1, 0]] and attr.tolist() == [6.0, 5.0]


def _reference_coalesce(ei, a, reduce, sort_by_row=True):
    groups = defaultdict(list)
    for k, (u, v) in enumerate(zip(ei[0].tolist(), ei[1].tolist(), strict=True)):
        groups[(u, v) if sort_by_row else (v, u)].append(a[k])
    keys = sorted(groups)
    f = {"sum": np.sum, "add": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[reduce]
    pairs = [k if sort_by_row else k[::-1] for k in keys]
    merged = [f(np.stack(groups[k]), axis=0) for k in keys]
    return (np.array(pairs, np.int64).reshape(-1, 2).T,
            np.array(merged).reshape((len(keys),) + a.shape[1:]))


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("sort_by_row", [True, False])
def test_coalesce_against_reference(reduce, sort_by_row):
    for k, (ei, n) in enumerate(graphs()):
        a = values(ei.shape[1], (2,), seed=k, grad=False)
        out, got = coalesce(sg.tensor(ei), a, n, reduce, sort_by_row=sort_by_row)
        want_ei, want = _reference_coalesce(ei, a.numpy(), reduce, sort_by_row)
        assert out.dtype == ei.dtype
        np.testing.assert_array_equal(out.numpy(), want_ei)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-12)


def test_coalesce_sum_matches_scipy():
    rng = np.random.default_rng(5)
    ei = rng.integers(0, 30, (2, 400))
    w = rng.standard_normal(400)
    out, got = coalesce(ei, sg.tensor(w))
    m = sp.coo_matrix((w, (ei[0], ei[1])), shape=(30, 30)).tocsr()
    m.sum_duplicates()
    m.sort_indices()
    coo = m.tocoo()  # scipy keeps explicit zeros of merged duplicates: all pairs are listed
    np.testing.assert_array_equal(out.numpy(), np.stack([coo.row, coo.col]))
    np.testing.assert_allclose(got.numpy(), coo.data)


def test_coalesce_is_sorted_trusts_the_order_as_pyg():
    ei = [[0, 0, 1, 1], [1, 1, 0, 2]]
    out, attr = coalesce(ei, sg.tensor([1.0, 2.0, 3.0, 4.0]), is_sorted=True)
    assert out.tolist() == [[0, 1, 1], [1, 0, 2]] and attr.tolist() == [3.0, 3.0, 4.0]
    # an unsorted input with is_sorted=True: as PyG, only equal neighbours merge, and an
    # edge keyed below its previous one is merged into it (PyG's `idx[1:] > idx[:-1]`)
    out, attr = coalesce([[1, 0], [0, 1]], sg.tensor([1.0, 2.0]), is_sorted=True)
    assert out.tolist() == [[1], [0]] and attr.tolist() == [3.0]


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_coalesce_gradient(reduce):
    ei = np.array([[2, 0, 2, 1, 0, 2], [1, 1, 1, 0, 1, 2]])
    gradcheck(lambda a: coalesce(ei, a, reduce=reduce)[1], [values(6, (3,))])
    gradcheck(lambda a, b: tuple(coalesce(ei, [a, b], reduce=reduce)[1]),
              [values(6, seed=1), values(6, (2,), seed=2)])


def test_coalesce_errors():
    with pytest.raises(ValueError, match=r"coalesce: expected `reduce` one of \('sum', 'add', "
                                         r"'mean', 'max', 'min'\) \(got 'mul'; PyG's 'mul' and "
                                         r"'any' are not supported\)"):
        coalesce([[0], [1]], sg.tensor([1.0]), reduce="mul")
    with pytest.raises(TypeError, match=r"coalesce: expected `is_sorted` to be True or False "
                                        r"\(got int 1\)"):
        coalesce([[0], [1]], is_sorted=1)
    with pytest.raises(ValueError, match=r"coalesce: expected `edge_attr\[1\]` with 1 rows"):
        coalesce([[0], [1]], [sg.tensor([1.0]), sg.tensor([1.0, 2.0])])
    with pytest.raises(TypeError, match=r"coalesce: expected `edge_attr` to be a Tensor \(got "
                                        r"str\)"):
        coalesce([[0], [1]], "weight")
    with pytest.raises(ValueError, match=r"coalesce: expected non-negative node ids in "
                                         r"`edge_index` \(got -1\)"):
        coalesce([[0], [-1]])


# ---- to_undirected --------------------------------------------------------------------------
def test_to_undirected_pyg_examples():
    ei, w = sg.tensor([[0, 1, 1], [1, 0, 2]]), sg.tensor([1.0, 1.0, 1.0])
    out = to_undirected(ei)
    assert isinstance(out, sg.Tensor) and out.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    out, attr = to_undirected(ei, w)
    assert out.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]] and attr.tolist() == [2.0, 2.0, 1.0, 1.0]
    assert to_undirected(ei, w, reduce="mean")[1].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert to_undirected(ei, None)[1] is None


def test_to_undirected_int_second_argument_is_num_nodes():
    out = to_undirected(sg.tensor([[0], [1]]), 5)  # PyG's to_undirected(edge_index, N)
    assert out.tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match=r"to_undirected: expected `edge_index` node ids below "
                                         r"num_nodes=1 \(got 1\)"):
        to_undirected([[0], [1]], 1)
    with pytest.raises(TypeError, match="to_undirected: got the number of nodes twice"):
        to_undirected([[0], [1]], 3, num_nodes=3)


@pytest.mark.parametrize("reduce", REDUCES)
def test_to_undirected_against_reference(reduce):
    for k, (ei, n) in enumerate(graphs(seed=1)):
        a = np.round(values(ei.shape[1], seed=k, grad=False).numpy() * 8)  # exact sums
        out, got = to_undirected(ei, sg.tensor(a), num_nodes=n, reduce=reduce)
        both = np.concatenate([ei, ei[::-1]], axis=1)
        want_ei, want = _reference_coalesce(both, np.concatenate([a, a]), reduce)
        assert out.dtype == ei.dtype
        np.testing.assert_array_equal(out.numpy(), want_ei)
        np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
        assert is_undirected(out, got, num_nodes=n)


def test_to_undirected_matches_networkx_and_doubles_a_loop_with_add():
    g = nx.gnp_random_graph(12, 0.3, directed=True, seed=4)
    ei = np.array(list(g.edges())).T
    want = {(u, v) for u, v in g.to_undirected().edges() for u, v in ((u, v), (v, u))}
    out = to_undirected(ei)
    assert sorted(map(tuple, out.numpy().T.tolist())) == sorted(want)
    _, attr = to_undirected([[0, 0], [0, 1]], sg.tensor([3.0, 1.0]))
    assert attr.tolist() == [6.0, 1.0, 1.0]  # the loop (0, 0) met its own copy, as PyG


def test_to_undirected_gradient():
    ei = np.array([[0, 1, 2, 2, 1], [1, 0, 0, 2, 2]])
    for reduce in ("add", "mean", "max"):
        gradcheck(lambda a, r=reduce: to_undirected(ei, a, reduce=r)[1], [values(5, (2,))])


# ---- scatter --------------------------------------------------------------------------------
@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_pyg_argument_order(reduce):
    rng = np.random.default_rng(2)
    src = rng.standard_normal((4, 7, 3))
    index = rng.integers(0, 5, 7)
    got = scatter(sg.tensor(src), sg.tensor(index), 1, 6, reduce)  # dim third, then dim_size
    want = np.moveaxis(pyg_scatter(np.moveaxis(src, 1, 0), index, 6, reduce), 0, 1)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-12)
    got = scatter(sg.tensor(src[0]), index, reduce=reduce)  # dim 0, dim_size max + 1
    np.testing.assert_allclose(got.numpy(), pyg_scatter(src[0], index, index.max() + 1,
                                                        reduce), atol=1e-12)
    gradcheck(lambda s: scatter(s, index, dim=-2, reduce=reduce), [sg.tensor(
        src, dtype="float64", requires_grad=True)])


def test_scatter_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"scatter: expected `index` with 2 entries"):
        scatter(sg.ones((2, 3)), [0, 1, 0], 0)
    with pytest.raises(ValueError, match=r"scatter: expected `dim` in \[-2, 1\] \(got 2\)"):
        scatter(sg.ones((2, 3)), [0, 1, 0], 2)


# ---- softmax --------------------------------------------------------------------------------
def _segment_softmax(src, index, n):
    out = np.empty_like(src)
    for g in range(n):
        hit = index == g
        if hit.any():
            e = np.exp(src[hit] - src[hit].max(axis=0))
            out[hit] = e / e.sum(axis=0)
    return out


def test_softmax_pyg_examples():
    src, index = sg.tensor([1.0, 1.0, 1.0, 1.0]), sg.tensor([0, 0, 1, 2])
    ptr = sg.tensor([0, 2, 3, 4])
    assert softmax(src, index).tolist() == [0.5, 0.5, 1.0, 1.0]
    assert softmax(src, None, ptr).tolist() == [0.5, 0.5, 1.0, 1.0]
    x = np.random.default_rng(0).standard_normal((4, 4))
    got = softmax(sg.tensor(x), index, dim=-1).numpy()
    np.testing.assert_allclose(got, _segment_softmax(x.T, index.numpy(), 3).T, rtol=1e-6)
    np.testing.assert_allclose(got[:, 2:], 1.0)


@pytest.mark.parametrize("shape,dim", [((9,), 0), ((9, 3), 0), ((2, 9, 3), 1), ((2, 3, 9), -1)])
def test_softmax_against_reference(shape, dim):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 5
    index = np.array([3, 0, 3, 1, 0, 3, 1, 1, 3])
    want = np.moveaxis(_segment_softmax(np.moveaxis(x, dim, 0), index, 5), 0, dim)
    got = softmax(sg.tensor(x), sg.tensor(index), num_nodes=5, dim=dim)
    assert got.shape == x.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    order = np.argsort(index, kind="stable")  # ptr: the same entries sorted by group
    ptr = np.concatenate([[0], np.cumsum(np.bincount(index, minlength=5))])
    got = softmax(sg.tensor(np.take(x, order, axis=dim)), ptr=ptr, dim=dim)
    np.testing.assert_allclose(got.numpy(), np.take(want, order, axis=dim), rtol=1e-12)
    leaf = sg.tensor(x, dtype="float64", requires_grad=True)
    gradcheck(lambda s: softmax(s, index, dim=dim), [leaf])
    gradcheck(lambda s: softmax(s, ptr=ptr, dim=dim), [leaf])


def test_softmax_errors():
    with pytest.raises(ValueError, match="softmax: expected `index` or `ptr` to group the "
                                         "entries of `src` \\(got neither\\)"):
        softmax(sg.ones(3))
    with pytest.raises(ValueError, match=r"softmax: expected `dim` an int in \[-1, 0\] for "
                                         r"`src` of shape \(3,\) \(got 1\)"):
        softmax(sg.ones(3), [0, 0, 1], dim=1)
    with pytest.raises(TypeError, match=r"softmax: expected `src` to be a Tensor \(got list\)"):
        softmax([1.0, 2.0], [0, 0])
    with pytest.raises(TypeError, match=r"softmax: expected `src` of floating dtype with at "
                                        r"least 1 dim \(got int64 of shape \(2,\)\)"):
        softmax(sg.tensor([1, 2]), [0, 0])
    with pytest.raises(ValueError, match=r"softmax: expected `num_nodes` to be an int >= 0 "
                                         r"\(got -1\)"):
        softmax(sg.ones(3), [0, 0, 1], num_nodes=-1)


# ---- degree, one_hot ------------------------------------------------------------------------
def test_degree_against_bincount():
    rng = np.random.default_rng(3)
    for dtype in (np.int32, np.int64):
        index = rng.integers(0, 9, 50).astype(dtype)
        for given in (sg.tensor(index), index, index.tolist()):
            got = degree(given, 12)
            assert got.dtype == sg.get_default_dtype()
            np.testing.assert_array_equal(got.numpy(), np.bincount(index, minlength=12))
    assert degree(sg.tensor([0, 1, 0, 2, 0])).tolist() == [3.0, 1.0, 1.0]
    got = degree(index=sg.tensor([1, 1]), num_nodes=3, dtype="int64")
    assert got.tolist() == [0, 2, 0] and got.dtype == np.int64


def test_degree_errors():
    with pytest.raises(ValueError, match=r"degree: expected a 1-D `index` \(got shape "
                                         r"\(2, 2\)\)"):
        degree(sg.tensor([[0, 1], [1, 0]]))
    with pytest.raises(TypeError, match="degree: expected `index` with an integer dtype"):
        degree(sg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"degree: expected `num_nodes` to be an int >= 0 "
                                         r"\(got 2.0\)"):
        degree([0, 1], 2.0)


def test_one_hot_against_eye():
    index = np.array([2, 0, 4, 4, 1])
    got = one_hot(sg.tensor(index))
    assert got.dtype == sg.get_default_dtype() and got.shape == (5, 5)
    np.testing.assert_array_equal(got.numpy(), np.eye(5)[index])
    got = one_hot(index.astype(np.int32).tolist(), 7, dtype="int64")
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), np.eye(7, dtype=np.int64)[index])
    assert one_hot(sg.tensor(np.zeros(0, np.int64)), 3).shape == (0, 3)


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"one_hot: expected a 1-D `index` \(got shape "
                                         r"\(1, 2\)\)"):
        one_hot(sg.tensor([[0, 1]]))
    with pytest.raises(ValueError, match=r"one_hot: expected `index` values in \[0, 2\) \(got "
                                         r"values in \[0, 2\]\)"):
        one_hot([0, 2], 2)
    with pytest.raises(ValueError, match="one_hot: cannot infer `num_classes` from an empty "
                                         "`index`"):
        one_hot(sg.tensor(np.zeros(0, np.int64)))


# ---- the tutorial's GCNConv -----------------------------------------------------------------
class TutorialGCNConv(MessagePassing):
    """PyG's "Creating Message Passing Networks" GCNConv, line for line."""

    def __init__(self, in_channels, out_channels):
        super().__init__(aggr="add")
        self.lin = Linear(in_channels, out_channels, bias=False)
        self.bias = Parameter(sg.zeros(out_channels))

    def forward(self, x, edge_index):
        edge_index, _ = add_self_loops(edge_index, num_nodes=x.size(0))
        x = self.lin(x)
        row, col = edge_index
        deg = degree(col, x.size(0), dtype=x.dtype)
        deg_inv_sqrt = deg.pow(-0.5)
        deg_inv_sqrt[deg_inv_sqrt == float("inf")] = 0
        norm = deg_inv_sqrt[row] * deg_inv_sqrt[col]
        out = self.propagate(edge_index, x=x, norm=norm)
        return out + self.bias

    def message(self, x_j, norm):
        return norm.view(-1, 1) * x_j


def test_tutorial_gcn_equals_gcnconv():
    sg.manual_seed(0)
    g = nx.gnp_random_graph(15, 0.25, seed=2)  # no self loops: add_self_loops adds one each
    ei = sg.tensor(np.array(list(g.to_directed().edges())).T)
    x = sg.randn(15, 4, dtype="float64")
    mine, theirs = TutorialGCNConv(4, 3).to("float64"), gnn.GCNConv(4, 3).to("float64")
    with sg.no_grad():
        theirs.lin.weight.copy_(mine.lin.weight)
        mine.bias.copy_(sg.randn(3, dtype="float64"))
        theirs.bias.copy_(mine.bias)
    np.testing.assert_allclose(mine(x, ei).detach().numpy(), theirs(x, ei).detach().numpy(),
                               rtol=1e-12, atol=1e-12)
    gradcheck(lambda h: mine(h, ei), [x.detach().requires_grad_()])
