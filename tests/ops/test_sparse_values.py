"""Ops on stored values against dense references: products with scalars and broadcast dense
tensors, unions, mapped dense ops, dropout, sums and degrees (values and gradients)."""

import doctest

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.ops import sparse_values
from sparsegraph.testing import assert_close, gradcheck, random_sparse

LAYOUTS = [dict(layout="csr"), dict(layout="coo", duplicates=True)]
LAYOUT_IDS = ["csr", "coo_duplicates"]


def dense_of(a):
    return a.to_dense().detach().numpy()


def at_entries(a, d):
    s = a.structure
    return d[s.rows(), s.cols()]


@pytest.mark.parametrize("scalar", [2.0, 3, np.float64(0.5), np.int64(-2)])
def test_scalar_products_keep_the_values_dtype(scalar):
    a = random_sparse(4, 5, 0.5, dtype="float32", seed=1)
    for out in (ops.sparse_mul(a, scalar), a * scalar, scalar * a):
        assert out.structure is a.structure and out.dtype == np.float32
        assert_close(out.to_dense(), dense_of(a) * float(scalar))
    assert_close((a / 4).to_dense(), dense_of(a) / 4)
    assert_close((-a).to_dense(), -dense_of(a))


@pytest.mark.parametrize("spec", LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize("other_shape", [(4, 1), (5,), (4, 5), (1, 5), ()],
                         ids=["column", "row_vector", "full", "row", "scalar"])
def test_dense_operand_is_sampled_at_the_stored_entries(spec, other_shape):
    a = random_sparse(4, 5, 0.5, seed=2, **spec)
    w = sg.randn(*other_shape, dtype="float64", requires_grad=True)
    out = ops.sparse_mul(a, w)
    assert out.structure is a.structure
    d, wn = dense_of(a), w.detach().numpy()
    assert_close(out.to_dense(), d * wn)
    g = np.random.default_rng(3).standard_normal(out.nnz)
    out.values.backward(sg.tensor(g))
    assert_close(a.values.grad, at_entries(a, np.broadcast_to(wn, d.shape)) * g)
    # d(out)/d(w): the upstream gradient times a's values, summed down to w's shape
    full = np.zeros(d.shape)
    s = a.structure
    np.add.at(full, (s.rows(), s.cols()), g * a.values.detach().numpy())
    assert_close(w.grad, _unbroadcast(full, wn.shape))
    gradcheck(lambda t, u: ops.sparse_mul(t, u).values, [a, w])


def _unbroadcast(g, shape):
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    axes = tuple(i for i, (n, k) in enumerate(zip(shape, g.shape, strict=True)) if n == 1 != k)
    return g.sum(axis=axes, keepdims=True)


def test_dense_operand_on_hybrid_values():
    a = random_sparse(4, 5, 0.5, heads=3, seed=4)
    for shape in [(3,), (4, 1, 3), (1, 5, 1)]:
        w = sg.randn(*shape, dtype="float64", requires_grad=True)
        assert_close(ops.sparse_mul(a, w).to_dense(), dense_of(a) * w.detach().numpy())
        gradcheck(lambda t, u: ops.sparse_mul(t, u).values, [a, w])


def test_sparse_mul_errors():
    a = random_sparse(4, 5, 0.5, dtype="float32", seed=5)
    with pytest.raises(TypeError, match="sparse_mul: expected a number or dense Tensor"):
        ops.sparse_mul(a, a)
    with pytest.raises(ValueError, match=r"sparse_mul: expected `other` broadcastable to "
                                         r"\(4, 5\) \(got shape \(3, 5\)\)"):
        ops.sparse_mul(a, sg.randn(3, 5))
    with pytest.raises(ValueError, match="at most 2 dims"):
        ops.sparse_mul(a, sg.randn(1, 4, 5))
    with pytest.raises(TypeError, match="expected a number or Tensor"):
        ops.sparse_mul(a, "2")


@pytest.mark.parametrize("spec", LAYOUTS, ids=LAYOUT_IDS)
@pytest.mark.parametrize("heads", [None, 2])
def test_sparse_add_is_the_union_of_patterns(spec, heads):
    a = random_sparse(5, 6, 0.4, heads=heads, seed=6, **spec)
    b = random_sparse(5, 6, 0.4, heads=heads, seed=7)
    out = a + b
    da, db = dense_of(a), dense_of(b)
    assert out.layout == "csr"
    assert_close(out.to_dense(), da + db)
    stored = (da != 0).reshape(5, 6, -1).any(-1) | (db != 0).reshape(5, 6, -1).any(-1)
    assert out.nnz == np.count_nonzero(stored)
    g = np.random.default_rng(8).standard_normal(out.values.shape)
    out.values.backward(sg.tensor(g))
    gd = sg.SparseTensor(out.structure, sg.tensor(g)).to_dense().numpy()
    assert_close(a.values.grad, at_entries(a, gd))
    assert_close(b.values.grad, at_entries(b, gd))
    gradcheck(lambda p, q: (p + q).values, [a, b])
    gradcheck(lambda p, q: (p - q).values, [a, b])
    assert_close((a - b).to_dense(), da - db)


def test_sparse_add_caches_the_union_and_shortcuts_shared_structures():
    a = random_sparse(5, 6, 0.4, seed=9)
    b = random_sparse(5, 6, 0.4, seed=10)
    assert (a + b).structure is (a + b.with_values(b.values * 2)).structure
    same = a + a.with_values(a.values * 3)
    assert same.structure is a.structure
    assert_close(same.to_dense(), 4 * dense_of(a))
    empty = random_sparse(5, 6, 0.0)
    assert_close((a + empty).to_dense(), dense_of(a))


def test_sparse_add_with_dense_and_errors():
    a = random_sparse(3, 4, 0.5, dtype="float32", seed=11)
    x = sg.randn(3, 4)
    out = a + x
    assert isinstance(out, sg.Tensor)
    assert_close(out, dense_of(a) + x.numpy())
    with pytest.raises(TypeError, match="would densify"):
        a + 1.0
    with pytest.raises(TypeError, match="would densify"):
        a - 1.0
    with pytest.raises(ValueError, match=r"sparse_add: expected operands of one shape"):
        a + random_sparse(3, 5, 0.5, dtype="float32")
    with pytest.raises(TypeError, match=r"sparse - other: expected a SparseTensor or dense "
                                        r"Tensor `other` \(got NoneType\)"):
        a - None


@pytest.mark.parametrize("name, ref", [
    ("relu", lambda v: np.maximum(v, 0)), ("tanh", np.tanh), ("sigmoid",
                                                             lambda v: 1 / (1 + np.exp(-v))),
    ("abs", np.abs), ("square", np.square)])
def test_sparse_apply_maps_dense_ops_over_the_values(name, ref):
    a = random_sparse(4, 5, 0.5, seed=12, heads=2)
    out = ops.sparse_apply(a, getattr(ops, name))
    assert out.structure is a.structure
    assert_close(out.values, ref(a.values.detach().numpy()))
    gradcheck(lambda t: ops.sparse_apply(t, getattr(ops, name)).values, [a])


def test_named_value_ops_and_apply_errors():
    a = random_sparse(4, 5, 0.5, seed=13)
    v = a.values.detach().numpy()
    assert_close(ops.sparse_relu(a).values, np.maximum(v, 0))
    assert_close(ops.sparse_exp(a).values, np.exp(v))
    assert not dense_of(ops.sparse_exp(a))[dense_of(a) == 0].any()  # a masked exp
    with pytest.raises(ValueError, match=r"sparse_apply: expected `fn` to return a Tensor"):
        ops.sparse_apply(a, lambda t: t.sum())
    with pytest.raises(TypeError, match="sparse_apply: expected a SparseTensor"):
        ops.sparse_apply(sg.randn(3), ops.relu)


def test_sparse_dropout_on_stored_values():
    a = random_sparse(200, 100, 0.05, dtype="float32", seed=14)
    out = ops.sparse_dropout(a, 0.4, True, generator=sg.Generator(0))
    assert out.structure is a.structure
    v, o = a.values.detach().numpy(), out.values.detach().numpy()
    kept = o != 0
    assert 0.5 < kept.mean() < 0.7
    assert_close(o[kept], v[kept] / 0.6)
    out.values.sum().backward()
    assert_close(a.values.grad, kept / 0.6)
    again = ops.sparse_dropout(a, 0.4, True, generator=sg.Generator(0))
    np.testing.assert_array_equal(again.values.detach().numpy(), o)
    assert ops.sparse_dropout(a, 0.4, training=False) is a
    assert ops.sparse_dropout(a, 0.0) is a
    assert ops.sparse_dropout(a, 1.0).values.detach().numpy().any() == 0
    with pytest.raises(ValueError, match=r"dropout: expected `p` in \[0, 1\]"):
        ops.sparse_dropout(a, 1.5, training=False)


@pytest.mark.parametrize("spec", LAYOUTS + [dict(layout="csr", empty_rows=True)],
                         ids=LAYOUT_IDS + ["empty_rows"])
@pytest.mark.parametrize("heads", [None, 2])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, -2])
def test_sparse_sum_matches_the_dense_sum(spec, heads, dim):
    a = random_sparse(5, 4, 0.5, heads=heads, seed=15, **spec)
    if heads and dim in (-1, -2):
        dim = {-1: -2, -2: -3}[dim]  # the sparse dims of a (N, M, H) tensor
    out = ops.sparse_sum(a, dim)
    d = dense_of(a)
    assert_close(out, d.sum() if dim is None else d.sum(dim))
    assert_close(a.sum(dim), out)
    gradcheck(lambda t: ops.sparse_sum(t, dim), [a])


def test_sparse_sum_of_an_empty_matrix_and_bad_dims():
    a = random_sparse(3, 2, 0.0)
    assert ops.sparse_sum(a).item() == 0.0
    assert_close(ops.sparse_sum(a, 0), np.zeros(2))
    hybrid = random_sparse(3, 2, 0.5, heads=2)
    for bad in (2, -4, 1.0, "rows"):
        with pytest.raises(ValueError, match=r"sparse_sum: expected `dim` None, 0 or 1"):
            ops.sparse_sum(hybrid, bad)


@pytest.mark.parametrize("spec", LAYOUTS, ids=LAYOUT_IDS)
def test_degree_counts_stored_entries(spec):
    a = random_sparse(6, 5, 0.5, seed=16, **spec)
    s = a.structure
    rows_, cols_ = np.bincount(s.rows(), minlength=6), np.bincount(s.cols(), minlength=5)
    np.testing.assert_array_equal(ops.degree(a).numpy(), rows_)
    np.testing.assert_array_equal(ops.degree(a, 0).numpy(), cols_)
    np.testing.assert_array_equal(ops.degree(a, -1).numpy(), rows_)
    assert ops.degree(a).dtype == np.float32
    assert ops.degree(a, 1, dtype="int64").dtype == np.int64
    assert not ops.degree(a).requires_grad
    with pytest.raises(ValueError, match="degree: expected `dim`"):
        ops.degree(a, 2)


def test_docstring_examples():
    assert doctest.testmod(sparse_values, extraglobs={"sg": sg}).failed == 0


def test_bool_values_sum_to_counts_and_or_together_when_merged():
    a = sg.sparse_coo([[0, 1, 1, 1], [1, 0, 0, 1]], np.array([True, True, False, True]), (2, 2))
    dense = np.zeros((2, 2), np.int64)
    np.add.at(dense, (a.row, a.col), a.values.numpy())
    np.testing.assert_array_equal(ops.sparse_sum(a, 1).numpy(), dense.sum(1))
    np.testing.assert_array_equal(ops.sparse_sum(a, 0).numpy(), dense.sum(0))
    merged = a.coalesce()  # (1, 0) holds True and False: True, as scipy's bool sum
    assert merged.dtype == np.bool_
    np.testing.assert_array_equal(merged.to_dense().numpy(), dense > 0)
    union = ops.sparse_add(a, a.T)
    np.testing.assert_array_equal(union.to_dense().numpy(), (dense + dense.T) > 0)


def test_coalesce_sorts_the_columns_of_a_csr_without_duplicates():
    a = sg.sparse_csr([0, 2, 3], [1, 0, 1], sg.tensor([1.0, 2.0, 3.0], requires_grad=True),
                      (2, 2))
    c = a.coalesce()
    np.testing.assert_array_equal(c.col, [0, 1, 1])
    assert_close(c.values, [2.0, 1.0, 3.0])
    c.values.backward(sg.tensor([10.0, 20.0, 30.0]))
    assert_close(a.values.grad, [20.0, 10.0, 30.0])
    s = sg.sparse_csr([0, 2, 3], [0, 1, 1], [1.0, 2.0, 3.0], (2, 2))
    assert s.coalesce() is s  # sorted and unique: nothing to do


def test_sparse_value_ops_name_themselves_in_errors():
    a = random_sparse(4, 4, 0.5, seed=1)
    with pytest.raises(ValueError, match=r"sparse_dropout: expected `p` in \[0, 1\]"):
        ops.sparse_dropout(a, 1.1)
    with pytest.raises(ValueError, match=r"degree: expected `dim` 0 or 1 "):
        ops.degree(a, 2)
    with pytest.raises(TypeError, match=r"sparse / sparse: .*a\.with_values"):
        a / a


# ---- dtype promotion: the rule of dense * dense (sparsegraph.backend.result_type) -----------
PROMOTIONS = [("float32", "int64"), ("float32", "float64"), ("float64", "float32"),
              ("int64", "float32"), ("int32", "int64"), ("bool", "float32"), ("int64", "bool"),
              ("bool", "bool")]


def _dense_operand(dtype, shape, seed):
    v = np.random.default_rng(seed).integers(-3, 4, shape)
    return sg.tensor(v.astype(dtype) if dtype != "bool" else v > 0)


@pytest.mark.parametrize("values_dtype, other_dtype", PROMOTIONS)
@pytest.mark.parametrize("other_shape", [(4, 5), (5,), ()], ids=["full", "row", "scalar"])
def test_sparse_times_dense_promotes_as_dense_times_dense(values_dtype, other_dtype,
                                                          other_shape):
    a = random_sparse(4, 5, 0.5, seed=12, layout="coo")
    a = a.with_values(_dense_operand(values_dtype, (a.nnz,), 13))
    d = _dense_operand(other_dtype, other_shape, 14)
    expected = a.to_dense() * d  # the dense rule
    for out in (a * d, d * a, ops.sparse_mul(a, d)):
        assert out.dtype == expected.dtype and out.structure is a.structure
        np.testing.assert_array_equal(out.to_dense().numpy(), expected.numpy())


@pytest.mark.parametrize("values_dtype, other_dtype", PROMOTIONS)
def test_sparse_plus_sparse_promotes_as_dense_plus_dense(values_dtype, other_dtype):
    a = random_sparse(4, 5, 0.5, seed=15, layout="coo", duplicates=values_dtype != "bool")
    b = random_sparse(4, 5, 0.5, seed=16)
    a = a.with_values(_dense_operand(values_dtype, (a.nnz,), 17))
    b = b.with_values(_dense_operand(other_dtype, (b.nnz,), 18))
    expected = a.to_dense() + b.to_dense()
    out = a + b
    assert out.dtype == expected.dtype
    np.testing.assert_array_equal(out.to_dense().numpy(), expected.numpy())
    if values_dtype != "bool" and other_dtype != "bool":
        diff = a - b
        assert diff.dtype == expected.dtype
        np.testing.assert_array_equal(diff.to_dense().numpy(),
                                      (a.to_dense() - b.to_dense()).numpy())


def test_promoted_products_and_sums_carry_gradients():
    a = random_sparse(4, 5, 0.5, seed=19, layout="coo", duplicates=True, dtype="float64",
                      requires_grad=True)
    ints = _dense_operand("int64", (4, 5), 20)
    out = a * ints
    assert out.dtype == np.float64
    gradcheck(lambda t: (t * ints).values, [a])
    gradcheck(lambda t: (ints * t).values, [a])
    counts = a.with_values(_dense_operand("int64", (a.nnz,), 21))
    w = sg.randn(4, 5, dtype="float64", requires_grad=True)
    gradcheck(lambda u: (counts * u).values, [w])  # int values, float64 dense operand
    b = random_sparse(4, 5, 0.4, seed=22, dtype="float32")
    assert (a + b).dtype == np.float64
    gradcheck(lambda t: (t + b).values, [a])
    gradcheck(lambda t: (b - t).values, [a])


def test_sparse_apply_refuses_a_non_callable_by_name():
    a = random_sparse(3, 3, 0.5, seed=23)
    for fn in (3, "relu", None):
        with pytest.raises(TypeError, match=r"sparse_apply: expected a callable `fn` .* \(got "):
            ops.sparse_apply(a, fn)
