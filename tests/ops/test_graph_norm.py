"""Graph normalisation (sparsegraph.ops.graph_norm) against dense numpy references, gradients
w.r.t. edge weights, output format, and structure caching."""

import doctest

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.ops import graph_norm
from sparsegraph.testing import assert_close, gradcheck

N = 7
LAYOUTS = ["csr", "coo", "csr_unsorted"]


def dense_graph(seed=0, n=N, loops=(2, 5), isolated=(4,)):
    """A weighted (n, n) target-major adjacency: random edges, self loops at ``loops`` (with
    weights != 1), no edges at all at ``isolated``."""
    rng = np.random.default_rng(seed)
    a = (rng.random((n, n)) < 0.35) * rng.uniform(0.5, 2.0, (n, n))
    np.fill_diagonal(a, 0.0)
    for i in loops:
        a[i, i] = 3.0 + i
    for i in isolated:
        a[i, :] = a[:, i] = 0.0
    return a


def to_sparse(a, layout, dtype="float64", requires_grad=False):
    """``a`` as a SparseTensor; "csr_unsorted" reverses the column order inside every row."""
    m = sp.csr_matrix(a)
    if layout == "coo":
        coo = m.tocoo()
        perm = np.random.default_rng(1).permutation(coo.nnz)  # storage order is arbitrary
        t = sg.sparse_coo(np.stack([coo.row[perm], coo.col[perm]]), coo.data[perm], a.shape,
                          dtype=dtype)
    else:
        indices, data = m.indices.copy(), m.data.copy()
        if layout == "csr_unsorted":
            for i in range(a.shape[0]):
                lo, hi = m.indptr[i], m.indptr[i + 1]
                indices[lo:hi], data[lo:hi] = indices[lo:hi][::-1], data[lo:hi][::-1]
        t = sg.sparse_csr(m.indptr, indices, data, a.shape, dtype=dtype)
    return t.requires_grad_(requires_grad)


def with_loops(a, fill):
    out = a.copy()
    missing = np.diag(a) == 0
    out[np.arange(len(a))[missing], np.arange(len(a))[missing]] = fill
    return out


def ref_gcn(a, add_loops=True, improved=False):
    a_hat = with_loops(a, 2.0 if improved else 1.0) if add_loops else a
    deg = a_hat.sum(1)  # rows are targets: in-degree
    dinv = np.zeros_like(deg)
    dinv[deg > 0] = deg[deg > 0] ** -0.5
    return dinv[:, None] * a_hat * dinv[None, :]


def assert_sorted_csr(t, shape):
    assert t.layout == "csr" and t.shape[:2] == shape
    s = t.structure
    assert s.indices.dtype == np.int32 and s.indptr.dtype == np.int32
    for i in range(shape[0]):
        cols = s.indices[s.indptr[i]:s.indptr[i + 1]]
        assert np.all(np.diff(cols) >= 0), f"row {i} columns not sorted: {cols}"


# ---- forward against dense references --------------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("add_loops", [True, False], ids=["loops", "no_loops"])
@pytest.mark.parametrize("improved", [False, True], ids=["plain", "improved"])
def test_gcn_norm_matches_dense(layout, add_loops, improved):
    a = dense_graph()
    out = ops.gcn_norm(to_sparse(a, layout), add_self_loops=add_loops, improved=improved)
    assert_sorted_csr(out, a.shape)
    got = out.to_dense().numpy()
    assert np.isfinite(got).all()
    assert_close(got, ref_gcn(a, add_loops, improved))
    assert_close(got[4], np.zeros(N) if not add_loops else ref_gcn(a, True, improved)[4])


def test_gcn_norm_float32_isolated_nodes_give_zero_without_warnings():
    a = np.zeros((4, 4))
    a[1, 0] = a[0, 1] = 1.0  # nodes 2 and 3 are isolated
    out = ops.gcn_norm(to_sparse(a, "csr", "float32"), add_self_loops=False)
    assert out.dtype == np.float32
    assert_close(out.to_dense(), ref_gcn(a, add_loops=False).astype(np.float32))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fill", [1.0, 0.5])
def test_add_self_loops_keeps_existing_loops(layout, fill):
    a = dense_graph()
    out = ops.add_self_loops(to_sparse(a, layout), fill)
    assert_sorted_csr(out, a.shape)
    assert_close(out.to_dense(), with_loops(a, fill))
    assert out.nnz == np.count_nonzero(a) + N - 2  # nodes 2 and 5 had a loop already


@pytest.mark.parametrize("layout", LAYOUTS)
def test_remove_self_loops(layout):
    a = dense_graph()
    out = ops.remove_self_loops(to_sparse(a, layout))
    assert_sorted_csr(out, a.shape)
    assert_close(out.to_dense(), a - np.diag(np.diag(a)))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_row_normalize_rectangular_and_empty_rows(layout):
    a = dense_graph()[:, :5]
    out = ops.row_normalize(to_sparse(a, layout))
    assert_sorted_csr(out, a.shape)
    sums = a.sum(1, keepdims=True)
    assert_close(out.to_dense(), np.divide(a, sums, out=np.zeros_like(a), where=sums != 0))


def ref_undirected(a, reduce):
    stored = a != 0
    both = np.stack([np.where(stored, a, np.nan), np.where(stored.T, a.T, np.nan)])
    with np.errstate(all="ignore"):
        fn = {"sum": np.nansum, "mean": np.nanmean, "max": np.nanmax, "min": np.nanmin}[reduce]
        out = fn(both, axis=0) if reduce == "sum" else np.where(
            np.isnan(both).all(0), 0.0, fn(np.where(np.isnan(both).all(0), 0.0, both), axis=0))
    return np.nan_to_num(out)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_to_undirected_matches_dense_and_is_symmetric(layout, reduce):
    a = dense_graph()
    out = ops.to_undirected(to_sparse(a, layout), reduce)
    assert_sorted_csr(out, a.shape)
    got = out.to_dense().numpy()
    assert_close(got, got.T)
    assert_close(got, ref_undirected(a, reduce))
    assert out.nnz == np.count_nonzero((a != 0) | (a.T != 0))


def test_to_undirected_of_symmetric_graph():
    a = dense_graph()
    sym = np.maximum(a, a.T)
    for reduce, factor in (("sum", 2.0), ("mean", 1.0), ("max", 1.0)):
        assert_close(ops.to_undirected(to_sparse(sym, "csr"), reduce).to_dense(), factor * sym)


# ---- gradients w.r.t. edge weights -----------------------------------------------------------
@pytest.mark.parametrize("layout", ["csr", "coo"])
@pytest.mark.parametrize("fn", [
    pytest.param(lambda t: ops.gcn_norm(t), id="gcn_norm"),
    pytest.param(lambda t: ops.gcn_norm(t, add_self_loops=False), id="gcn_norm_no_loops"),
    pytest.param(lambda t: ops.gcn_norm(t, improved=True), id="gcn_norm_improved"),
    pytest.param(lambda t: ops.row_normalize(t), id="row_normalize"),
    pytest.param(lambda t: ops.add_self_loops(t, 2.0), id="add_self_loops"),
    pytest.param(lambda t: ops.remove_self_loops(t), id="remove_self_loops"),
    pytest.param(lambda t: ops.to_undirected(t, "mean"), id="to_undirected_mean"),
    pytest.param(lambda t: ops.to_undirected(t, "max"), id="to_undirected_max"),
])
def test_gradcheck_wrt_edge_weights(fn, layout):
    adj = to_sparse(dense_graph(seed=2), layout, requires_grad=True)
    gradcheck(lambda t: fn(t).values, [adj])


def test_gcn_norm_gradient_through_spmm_and_hybrid_weights():
    a = dense_graph(seed=3)
    adj = to_sparse(a, "csr", requires_grad=True)
    x = sg.randn(N, 3, dtype="float64", requires_grad=True)
    gradcheck(lambda t, h: ops.spmm(ops.gcn_norm(t), h), [adj, x])
    heads = adj.with_values(sg.tensor(np.random.default_rng(4).uniform(0.5, 2, (adj.nnz, 2)),
                                      requires_grad=True))
    out = ops.gcn_norm(heads)
    for h in range(2):
        single = adj.with_values(sg.tensor(heads.values.detach().numpy()[:, h].copy()))
        assert_close(out.values.detach().numpy()[:, h], ops.gcn_norm(single).values)
    gradcheck(lambda t: ops.gcn_norm(t).values, [heads])


# ---- caching ---------------------------------------------------------------------------------
STRUCTURE_KERNELS = {"coo_to_csr", "csr_transpose"}


def count_structure_work(fn, monkeypatch):
    """``(result, n)``: n = structure kernels dispatched or coalesce calls made by ``fn()``."""
    calls = []
    real = graph_norm.coalesce_kernel
    monkeypatch.setattr(graph_norm, "coalesce_kernel",
                        lambda *a: calls.append("coalesce") or real(*a))
    with sg.kernels.listen(lambda op, *_: calls.append(op) if op in STRUCTURE_KERNELS else None):
        out = fn()
    return out, len(calls)


@pytest.mark.parametrize("fn", [
    pytest.param(lambda t: ops.gcn_norm(t), id="gcn_norm"),
    pytest.param(lambda t: ops.gcn_norm(t, add_self_loops=False), id="gcn_norm_no_loops"),
    pytest.param(lambda t: ops.row_normalize(t), id="row_normalize"),
    pytest.param(lambda t: ops.add_self_loops(t), id="add_self_loops"),
    pytest.param(lambda t: ops.remove_self_loops(t), id="remove_self_loops"),
    pytest.param(lambda t: ops.to_undirected(t), id="to_undirected"),
])
@pytest.mark.parametrize("layout", ["coo", "csr_unsorted"])
def test_structure_is_built_once(fn, layout, monkeypatch):
    a = dense_graph(seed=5)
    adj = to_sparse(a, layout, requires_grad=True)  # values need grad: only structure cached
    first, n_first = count_structure_work(lambda: fn(adj), monkeypatch)
    assert n_first > 0
    weights = sg.tensor(np.random.default_rng(6).uniform(0.5, 2, adj.nnz), requires_grad=True)
    second, n_second = count_structure_work(lambda: fn(adj.with_values(weights)), monkeypatch)
    assert n_second == 0
    assert second.structure is first.structure
    assert second.values.requires_grad


def test_constant_values_cache_the_whole_result_until_changed():
    adj = to_sparse(dense_graph(seed=7), "csr", "float32")
    first = ops.gcn_norm(adj)
    second = ops.gcn_norm(adj)  # the cached arrays, in a result of its own
    assert second is not first and second.values is not first.values
    assert second.structure is first.structure and second.values.array is first.values.array
    assert ops.gcn_norm(adj.with_values(adj.values)).values.array is first.values.array
    assert ops.gcn_norm(adj, improved=True).values.array is not first.values.array
    adj.values.mul_(2.0)  # an in-place change bumps the version: recomputed
    again = ops.gcn_norm(adj)
    assert again.values.array is not first.values.array and again.structure is first.structure
    assert_close(again.to_dense(), ref_gcn(2 * dense_graph(seed=7)).astype(np.float32))


@pytest.mark.parametrize("norm", ["gcn_norm", "row_normalize"])
def test_a_cached_result_cannot_be_changed_under_later_callers(norm):
    adj = to_sparse(dense_graph(seed=3), "csr", "float32")
    first = getattr(ops, norm)(adj)
    expected = first.to_dense().numpy().copy()
    with pytest.raises((RuntimeError, ValueError), match=r"read-only"):
        first.values.mul_(2.0)  # would have changed every later call's result
    mine = first.values.clone()  # the way to a writable copy
    mine.mul_(0.0)
    assert_close(getattr(ops, norm)(adj).to_dense(), expected)


# ---- validation ------------------------------------------------------------------------------
def test_errors():
    sq = to_sparse(dense_graph(), "csr")
    rect = to_sparse(dense_graph()[:, :5], "csr")
    with pytest.raises(ValueError, match=r"gcn_norm: expected a square adjacency \(got shape "
                                         r"\(7, 5\)\)"):
        ops.gcn_norm(rect)
    with pytest.raises(TypeError, match=r"add_self_loops: expected `adj` to be a SparseTensor"):
        ops.add_self_loops(sg.randn(3, 3))
    ints = sq.with_values(sg.tensor(np.ones(sq.nnz, dtype=np.int64)))
    with pytest.raises(TypeError, match=r"gcn_norm: expected floating edge weights"):
        ops.gcn_norm(ints)
    with pytest.raises(ValueError, match=r"to_undirected: expected `reduce` in"):
        ops.to_undirected(sq, "prod")


@pytest.mark.parametrize("call, error, message", [
    (lambda a: ops.gcn_norm(a, sg.ones(2)), TypeError,
     r"gcn_norm: expected `add_self_loops` to be a bool \(got Tensor\)"),
    (lambda a: ops.gcn_norm(a, improved="yes"), TypeError,
     r"gcn_norm: expected `improved` to be a bool \(got 'yes'\)"),
    (lambda a: ops.to_undirected(a, np.array(["sum", "max"])), TypeError,
     r"to_undirected: expected `reduce` to be a str in \('sum', 'mean', 'max', 'min'\) "
     r"\(got ndarray\)"),
    (lambda a: ops.to_undirected(a, None), TypeError,
     r"to_undirected: expected `reduce` to be a str"),
    (lambda a: ops.add_self_loops(a, "prod"), ValueError,
     r"add_self_loops: expected `fill_value` in \('add', 'sum', 'mean', 'max', 'min'\) "
     r"\(got 'prod'\)"),
    (lambda a: ops.add_self_loops(a, [1.0]), TypeError,
     r"add_self_loops: expected `fill_value` to be a number, a Tensor, None or one of"),
    (lambda a: ops.add_self_loops(a, True), TypeError, r"add_self_loops: expected `fill_value`"),
    (lambda a: ops.add_self_loops(a, sg.ones(3)), ValueError,
     r"add_self_loops: expected a Tensor `fill_value` of shape \(\) or \(1, ...\) for every "
     r"node, or \(7, ...\) per node, to match values of shape \(\d+,\) \(got \(3,\)\)"),
    (lambda a: ops.add_self_loops(a, sg.ones(7, 2)), ValueError,
     r"add_self_loops: expected a Tensor `fill_value`"),
    (lambda a: ops.add_self_loops(a.with_values(sg.tensor(np.ones(a.nnz, np.int64))), 0.5),
     ValueError, r"add_self_loops: expected a `fill_value` that int64 values can hold exactly "
                 r"\(got 0.5\)"),
    (lambda a: ops.add_self_loops(a.with_values(sg.tensor(np.ones(a.nnz, np.uint8))),
                                  float("inf")),
     ValueError, r"add_self_loops: expected a `fill_value` that uint8 values can hold exactly"),
    (lambda a: ops.add_self_loops(a.with_values(sg.tensor(np.ones(a.nnz, np.int32))), 2**70),
     ValueError, r"add_self_loops: expected a `fill_value` that int32 values can hold exactly"),
])
def test_option_errors_name_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call(to_sparse(dense_graph(), "csr"))


def test_docstring_examples_run():
    result = doctest.testmod(graph_norm, extraglobs={"sg": sg})
    assert result.attempted >= 3 and result.failed == 0


def test_inv_degree_is_the_power_with_zero_for_nonpositive_and_nan_kept():
    deg = np.array([4.0, 0.0, -2.0, np.nan, 0.25])
    with np.errstate(divide="ignore", invalid="ignore"):  # the reference's own 0 ** -0.5 etc.
        for power in (-0.5, -1):
            want = np.where(deg <= 0, 0.0, deg ** power)
            got = graph_norm.inv_degree(sg.tensor(deg, dtype=sg.float64), power).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-15)  # nan where deg is nan
    with pytest.raises(ValueError, match=r"inv_degree: expected `power` -0.5 or -1 \(got 2\)"):
        graph_norm.inv_degree(sg.tensor(deg), 2)
