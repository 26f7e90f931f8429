"""Sparse tensors agree with their dense form where it is easy to drift: duplicate entries under
nonlinear maps and bool values, shapes whose row-major keys overflow int64, integer sums, cached
forms that must not outlive (or leak) their operands, and the operators numpy users try."""

import gc

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close

WIDE = (2**24, 2**41)  # rows x cols > 2^63: the plain key row * cols + col wraps


# ---- shapes whose (row, col) keys overflow int64 ------------------------------------------
def test_coalesce_and_csr_keep_distinct_entries_of_a_very_wide_matrix():
    a = sg.sparse_coo([[2**23, 0, 2**23], [7, 7, 7]], [1.0, 2.0, 4.0], WIDE)
    c = a.coalesce()
    assert c.row.tolist() == [0, 2**23] and c.col.tolist() == [7, 7]
    assert c.values.tolist() == [2.0, 5.0]
    csr = a.to_csr()
    assert csr.row.tolist() == [0, 2**23, 2**23] and csr.values.tolist() == [2.0, 1.0, 4.0]


def test_sparse_add_of_very_wide_matrices_keeps_distinct_entries():
    a = sg.sparse_coo([[0, 2**23], [7, 7]], [1.0, 2.0], WIDE)
    b = sg.sparse_coo([[2**23], [2**40]], [5.0], WIDE)
    out = a + b
    assert list(zip(out.row.tolist(), out.col.tolist(), out.values.tolist(), strict=True)) == [
        (0, 7, 1.0), (2**23, 7, 2.0), (2**23, 2**40, 5.0)]


@pytest.mark.parametrize("kernel", ["generic", "scipy"])
def test_spgemm_into_a_very_wide_product(kernel):
    left = sg.sparse_coo([[0, 2**23], [0, 1]], [1.0, 2.0], (2**24, 2))
    right = sg.sparse_coo([[0, 1, 1], [0, 0, 2**40]], [10.0, 100.0, 3.0], (2, 2**41))
    with sg.kernels.use(kernel):
        out = (left @ right).to_coo()
    assert list(zip(out.row.tolist(), out.col.tolist(), out.values.tolist(), strict=True)) == [
        (0, 0, 10.0), (2**23, 0, 200.0), (2**23, 2**40, 6.0)]


def test_spgemm_with_many_columns_does_not_use_scipys_dense_workspace(monkeypatch):
    from sparsegraph.ops import sparse_products

    def refuse(*args):
        raise AssertionError("scipy's product keeps (n_cols,) work arrays: 2^31 columns")

    monkeypatch.setattr(sparse_products, "_scipy_product", refuse)
    a = sg.sparse_coo([[0, 2, 1], [2**31 + 4, 3, 5]], [1.0, 2.0, 3.0], (3, 2**31 + 5))
    b = sg.sparse_coo([[0, 1, 2], [0, 2, 1]], [1.0, 10.0, 100.0], (3, 3))
    with sg.kernels.use("scipy"):
        out = (b @ a).to_coo()
    assert list(zip(out.row.tolist(), out.col.tolist(), out.values.tolist(), strict=True)) == [
        (0, 2**31 + 4, 1.0), (1, 3, 20.0), (2, 5, 300.0)]


# ---- duplicates and bool values agree with to_dense ---------------------------------------
def _dup():
    return sg.sparse_coo([[0, 0, 1], [0, 0, 1]], [2.0, -3.0, 0.5], (2, 2))


@pytest.mark.parametrize("name, fn, dense", [
    ("relu", ops.sparse_relu, lambda d: np.maximum(d, 0)),
    ("exp", ops.sparse_exp, lambda d: np.where(np.eye(2) > 0, np.exp(d), 0)),
    ("abs", abs, np.abs),
    ("pow", lambda a: a ** 3, lambda d: d ** 3),
    ("apply", lambda a: ops.sparse_apply(a, ops.tanh), np.tanh),
])
def test_nonlinear_maps_see_the_summed_duplicates(name, fn, dense):
    a = _dup()
    assert_close(fn(a).to_dense(), dense(a.to_dense().numpy()))


def test_nonlinear_map_gradient_reaches_every_duplicate():
    values = sg.tensor([2.0, -3.0, 0.5], dtype="float64", requires_grad=True)
    a = sg.sparse_coo([[0, 0, 1], [0, 0, 1]], values, (2, 2))
    (a ** 2).to_dense().sum().backward()
    # d/dv of (v0 + v1)^2 + v2^2
    assert_close(values.grad, np.array([-2.0, -2.0, 1.0]))


def test_bool_duplicates_count_once_as_in_to_dense():
    b = sg.sparse_coo([[0, 0, 1], [0, 0, 0]], [True, True, True], (2, 2))
    dense = b.to_dense().numpy()
    assert b.sum().item() == dense.sum() == 2
    assert b.sum(0).tolist() == dense.sum(0).tolist() and b.sum(1).tolist() == [1, 1]
    assert (b * 2).to_dense().tolist() == (dense * 2).tolist()
    mask = sg.tensor([[True], [True]])
    assert (b * mask).to_dense().sum().item() == (dense * mask.numpy()).sum() == 2


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint16", "bool", "float32"])
def test_sums_take_the_dense_sums_dtype(dtype):
    dense = sg.tensor(np.array([[1, 0], [1, 1]]).astype(dtype))
    a = dense.to_sparse()
    for dim in (None, 0, 1):  # integers and bools sum to int64, as the dense sum (torch)
        assert a.sum(dim).dtype == dense.sum(dim).dtype
        assert a.sum(dim).tolist() == dense.sum(dim).tolist()


def test_adding_two_tensors_on_one_structure_is_coalesced_csr():
    d = sg.sparse_coo([[0, 0], [0, 0]], [1.0, 2.0], (1, 1))
    out = d + d
    assert out.layout == "csr" and out.nnz == 1 and out.values.tolist() == [6.0]


@pytest.mark.parametrize("kernel", ["generic", "numba"])
def test_bool_products_or_their_terms_on_every_kernel(kernel):
    a = sg.sparse_coo([[0, 1, 1], [1, 0, 1]], [True, True, True], (2, 2))
    x = sg.tensor([[True, False], [False, False]])
    with sg.kernels.use(kernel):
        assert (a @ x).tolist() == (a.to_dense().numpy() @ x.numpy()).tolist()
        assert (x @ a).tolist() == (x.numpy() @ a.to_dense().numpy()).tolist()


# ---- cached forms --------------------------------------------------------------------------
def test_union_and_product_patterns_do_not_keep_the_other_operand_alive():
    rng = np.random.default_rng(0)
    a = sg.sparse_coo(rng.integers(0, 50, (2, 200)), None, (50, 50)).to_csr()
    for _ in range(5):
        b = sg.sparse_coo(rng.integers(0, 50, (2, 200)), None, (50, 50)).to_csr()
        _ = a + b, a @ b
    assert len(a.structure._cache[("with", "union")]) >= 1  # the last b is still alive
    del b, _
    gc.collect()
    assert len(a.structure._cache[("with", "union")]) == 0
    assert len(a.structure._cache[("with", "spgemm")]) == 0


def test_a_pattern_is_still_built_once_per_live_pair():
    a = sg.sparse_coo([[0, 1], [1, 0]], None, (2, 2))
    b = sg.sparse_coo([[1], [1]], None, (2, 2))
    assert (a + b).structure is (a + b).structure
    assert (a @ b).structure is (a @ b).structure


# ---- the values contract and the operators -------------------------------------------------
def test_float16_is_refused_by_every_way_in():
    with pytest.raises(TypeError, match=r"to_sparse: float16 values are not supported"):
        sg.tensor([[0.0, 1.0]], dtype="float16").to_sparse()
    with pytest.raises(TypeError, match=r"to: float16 values are not supported"):
        _dup().to("float16")


def test_operator_errors_name_what_was_expected():
    a = _dup()
    with pytest.raises(TypeError, match=r"sparse / other: expected a number or a dense Tensor "
                                        r"divisor \(got str\)"):
        a / "a"
    with pytest.raises(ValueError, match=r"sparse_coo: expected `indices` to be a rectangular "
                                         r"array of integers \(got a ragged list"):
        sg.sparse_coo([[0, 1], [0]], [1.0, 2.0], (2, 2))
    with pytest.raises(TypeError, match=r"sparse \*\* exponent: expected a positive number"):
        a ** 0
    with pytest.raises(TypeError, match=r"np.asarray\(SparseTensor\): .* a.to_dense\(\)"):
        np.asarray(a)
