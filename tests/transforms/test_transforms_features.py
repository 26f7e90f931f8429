"""NormalizeFeatures, OneHotDegree, Constant: values against numpy references (PyG's formulas),
the caller's graph untouched, gradients, errors."""

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
import sparsegraph.transforms as T
from sparsegraph import Graph
from sparsegraph.datasets import Planetoid, TUDataset
from sparsegraph.testing import gradcheck

EDGES = np.array([[0, 0, 1, 2, 3, 3, 3], [1, 2, 2, 0, 0, 1, 2]])


def pyg_normalize(x):
    """PyG's NormalizeFeatures: shift by the global minimum, divide by the row sum clamped at 1."""
    v = x - x.min()
    return v / np.maximum(v.sum(-1, keepdims=True), 1.0)


def test_normalize_features_dense_matches_pyg_formula_and_leaves_input():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5)).astype(np.float32) * 3
    g = Graph(x=x, edge_index=EDGES)
    out = T.NormalizeFeatures()(g)
    np.testing.assert_allclose(out.x.numpy(), pyg_normalize(x), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(g.x.numpy(), x)  # the caller's graph is unchanged
    assert out is not g and out.x.dtype == np.float32


def test_normalize_features_rows_sum_to_one_and_zero_rows_stay_zero():
    x = np.array([[1, 3, 0], [0, 0, 0], [2, 2, 4]], np.float32)
    out = T.NormalizeFeatures()(Graph(x=x, edge_index=[[0], [1]])).x.numpy()
    np.testing.assert_allclose(out.sum(1), [1, 0, 1], rtol=1e-6)
    np.testing.assert_allclose(out, x / np.maximum(x.sum(1, keepdims=True), 1), rtol=1e-6)


def test_normalize_features_integer_x_becomes_float_and_attrs_selects():
    g = Graph(x=np.array([[1, 1], [0, 2]], np.int64), edge_index=[[0], [1]],
              pos=sg.tensor([[0.0, 2.0], [1.0, 3.0]]))
    out = T.NormalizeFeatures(attrs=["pos"])(g)
    assert out.x.dtype == np.int64  # not named: untouched
    np.testing.assert_allclose(out.pos.numpy(), [[0.0, 1.0], [0.25, 0.75]])
    assert T.NormalizeFeatures()(g).x.dtype == np.float32


def test_normalize_features_gradcheck():
    x = sg.tensor(np.random.default_rng(1).normal(size=(4, 3)) * 2, dtype=sg.float64,
                  requires_grad=True)

    def run(x):
        return T.NormalizeFeatures()(Graph(x=x, edge_index=EDGES)).x

    gradcheck(run, [x])


def test_normalize_features_sparse_stays_csr_and_matches_dense():
    a = sp.random(6, 5, density=0.5, format="csr", random_state=3, dtype=np.float32) * 4
    g = Graph(x=sg.from_scipy(a), edge_index=[[0], [1]], num_nodes=6)
    out = T.NormalizeFeatures()(g).x
    assert isinstance(out, sg.SparseTensor) and out.nnz == a.nnz
    np.testing.assert_allclose(out.to_dense().numpy(), pyg_normalize(a.toarray()), rtol=1e-5)


def test_normalize_features_sparse_with_negative_values_is_refused():
    a = sp.csr_matrix(np.array([[0, -1.0], [2.0, 0]], np.float32))
    with pytest.raises(ValueError, match="NormalizeFeatures: a sparse `x` with negative"):
        T.NormalizeFeatures()(Graph(x=sg.from_scipy(a), edge_index=[[0], [1]]))


@pytest.mark.dataset
def test_normalize_features_on_cora_matches_planetoid_option(data_root, tmp_path):
    raw = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)[0]
    out = T.NormalizeFeatures()(raw).x
    sums = np.asarray(out.to_scipy().sum(1)).ravel()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)  # every Cora row has a word
    ref = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path,
                    normalize_features=True)[0].x
    np.testing.assert_allclose(out.to_scipy().toarray(), ref.to_scipy().toarray(), rtol=1e-6)


def test_one_hot_degree_counts_out_or_in_degree_and_concatenates():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    g = Graph(x=x, edge_index=EDGES)
    out = T.OneHotDegree(3)(g).x.numpy()
    np.testing.assert_array_equal(out[:, :2], x)
    np.testing.assert_array_equal(out[:, 2:], np.eye(4)[np.bincount(EDGES[0], minlength=4)])
    inn = T.OneHotDegree(4, in_degree=True, cat=False)(g).x.numpy()
    np.testing.assert_array_equal(inn, np.eye(5)[np.bincount(EDGES[1], minlength=4)])
    assert repr(T.OneHotDegree(3)) == "OneHotDegree(3)"


def test_one_hot_degree_too_small_max_degree_names_the_node():
    with pytest.raises(ValueError, match=r"max_degree=2 \(got node 3 of degree 3\)"):
        T.OneHotDegree(2)(Graph(edge_index=EDGES))
    with pytest.raises(TypeError, match="OneHotDegree: expected `max_degree` to be an int"):
        T.OneHotDegree(2.5)


def test_one_hot_degree_keeps_sparse_x_sparse():
    a = sp.random(4, 3, density=0.5, format="csr", random_state=0, dtype=np.float32)
    out = T.OneHotDegree(3)(Graph(x=sg.from_scipy(a), edge_index=EDGES)).x
    assert isinstance(out, sg.SparseTensor) and out.shape == (4, 7)
    np.testing.assert_array_equal(out.to_dense().numpy()[:, :3], a.toarray())


@pytest.mark.dataset
def test_one_hot_degree_on_mutag_matches_the_degrees(data_root, tmp_path):
    ds = TUDataset("MUTAG", root=data_root, download=False, cache_dir=tmp_path)
    for g in list(ds)[:5]:
        out = T.OneHotDegree(4, cat=False)(g).x.numpy()
        deg = np.bincount(np.asarray(g.edge_index[0]), minlength=g.num_nodes)
        np.testing.assert_array_equal(out.argmax(1), deg)
        assert (out.sum(1) == 1).all()


def test_constant_appends_or_replaces():
    g = Graph(x=np.ones((4, 2), np.float32), edge_index=EDGES)
    np.testing.assert_array_equal(T.Constant(0.5)(g).x.numpy()[:, 2], 0.5)
    assert T.Constant(0.5)(g).x.shape == (4, 3)
    assert T.Constant(2.0, cat=False)(g).x.numpy().tolist() == [[2.0]] * 4
    assert T.Constant()(Graph(edge_index=EDGES)).x.dtype == np.float32
    assert repr(T.Constant()) == "Constant(value=1.0)"
    with pytest.raises(TypeError, match="Constant: expected a number as `value`"):
        T.Constant("1")
