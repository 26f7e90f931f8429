"""Fixes from the sparse fuzz audit (issue 3): the public SparseTensor constructor checks what the
kernels trust, gradcheck takes sparse outputs, layouts that do not depend on the data (coalesce
keeps COO, as torch), ``reduce="add"`` as PyG's synonym of "sum", and from_scipy's errors."""

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
from sparsegraph import kernels, ops
from sparsegraph.autograd.function import Function
from sparsegraph.sparse import SparseTensor
from sparsegraph.testing import assert_close, gradcheck, random_sparse
from tests.cupy_emulation import install


def _csr_with_five_entries():
    return sg.sparse_coo([[0, 1, 2, 2, 3], [1, 0, 3, 2, 0]], [1.0, 2.0, 3.0, 4.0, 5.0],
                         (4, 4)).to_csr()


def _dense(a):
    return a.to_dense().detach().numpy()


def _sorted_unique(a) -> bool:
    r, c = a.structure.rows().astype(np.int64), a.structure.cols().astype(np.int64)
    return bool(np.all(np.diff(r * a.shape[1] + c) > 0))


# ---- 1. SparseTensor(structure, values) checks its arguments --------------------------------
@pytest.mark.parametrize("kernel", ["generic", "scipy", "numba"])
def test_too_few_values_are_refused_before_any_kernel_reads_past_them(kernel):
    a = _csr_with_five_entries()
    with kernels.use(kernel), pytest.raises(
            ValueError, match=r"SparseTensor: expected `values` with 5 entries, one per stored "
                              r"index of `structure` \(got shape \(2,\)\)"):
        ops.spmm(SparseTensor(a.structure, sg.ones(2)), sg.ones(4, 3))


@pytest.mark.parametrize("values, error, message", [
    (sg.ones(6), ValueError, r"expected `values` with 5 entries.*\(got shape \(6,\)\)"),
    (sg.tensor(1.0), ValueError, r"expected `values` with 5 entries.*\(got shape \(\)\)"),
    (sg.ones(5, dtype="float16"), TypeError, "float16 values are not supported"),
    (np.ones(5, np.float32), TypeError, r"expected `values` to be a Tensor \(got ndarray\)"),
    ([1.0] * 5, TypeError, r"expected `values` to be a Tensor \(got list\)"),
], ids=["too_many", "0d", "float16", "ndarray", "list"])
def test_bad_values_are_named_errors(values, error, message):
    a = _csr_with_five_entries()
    with pytest.raises(error, match="SparseTensor: " + message):
        SparseTensor(a.structure, values)


def test_a_structure_that_is_not_one_is_refused():
    a = _csr_with_five_entries()
    with pytest.raises(TypeError, match=r"SparseTensor: expected `structure` to be a Structure "
                                        r"\(got SparseTensor\)"):
        SparseTensor(a, a.values)


def test_valid_parts_make_the_tensor_the_constructors_make():
    a = _csr_with_five_entries()
    x = sg.randn(4, 3)
    for values in (a.values * 2, sg.randn(5, 2), sg.ones(5, dtype="int32"),
                   sg.tensor(np.ones(5, bool))):
        b = SparseTensor(a.structure, values)
        assert b.structure is a.structure and b.values is values
    b = SparseTensor(a.structure, a.values * 2)
    assert_close(b @ x, (a @ x) * 2)
    assert_close(a.with_values(a.values * 2) @ x, b @ x)


def test_values_on_another_device_are_refused(monkeypatch):
    install(monkeypatch)
    a = _csr_with_five_entries()
    on_gpu = sg.ones(5).to("cuda")
    with pytest.raises(ValueError, match=r"SparseTensor: `values` is on cuda:0 but `structure` "
                                         r"is on cpu"):
        SparseTensor(a.structure, on_gpu)
    # the constructors name themselves, and follow an explicit device
    with pytest.raises(ValueError, match=r"sparse_coo: `values` is on cuda:0 but the indices "
                                         r"are on cpu"):
        sg.sparse_coo([[0, 1], [1, 0]], sg.ones(2).to("cuda"), (2, 2))
    b = sg.sparse_csr([0, 1, 2], [1, 0], sg.ones(2), (2, 2), device="cuda")
    assert b.device == b.structure.device == "cuda:0"


# ---- 2. gradcheck of functions returning sparse tensors --------------------------------------
SPARSE_OUTPUTS = {
    "softmax": lambda a: ops.sparse_softmax(a),
    "coalesce": lambda a: a.coalesce(),
    "transpose": lambda a: a.T,
    "relu": lambda a: ops.sparse_relu(a),
    "tuple": lambda a: (a.coalesce() * 3.0, a.to_dense()),
}


@pytest.mark.parametrize("name", SPARSE_OUTPUTS)
@pytest.mark.parametrize("heads", [None, 2])
def test_gradcheck_checks_a_sparse_output_through_its_values(name, heads):
    a = random_sparse(5, 5, 0.5, layout="coo", duplicates=True, heads=heads, seed=3)
    assert gradcheck(SPARSE_OUTPUTS[name], [a])


def test_gradcheck_of_a_sparse_product_of_two_sparse_inputs():
    a = random_sparse(5, 4, 0.5, layout="coo", duplicates=True, seed=5)
    b = random_sparse(4, 6, 0.5, seed=6)
    assert gradcheck(ops.spgemm, [a, b])


class _WrongDouble(Function):
    """``2 v`` with the gradient of ``v``: what gradcheck must catch."""

    @staticmethod
    def forward(ctx, v):
        return v.array * 2

    @staticmethod
    def backward(ctx, g):
        return g.array


def test_gradcheck_of_a_sparse_output_catches_a_wrong_gradient():
    a = random_sparse(4, 4, 0.5, seed=4)
    with pytest.raises(AssertionError, match="analytic .* != numeric"):
        gradcheck(lambda t: t.with_values(_WrongDouble.apply(t.values)), [a])


def test_gradcheck_refuses_a_sparse_output_whose_pattern_moves():
    x = sg.tensor([[1.0, 0.0], [0.0, 2.0]], dtype="float64", requires_grad=True)
    with pytest.raises(AssertionError, match="sparse output's pattern changed"):
        gradcheck(lambda t: t.to_sparse(), [x])


# ---- 3. layouts that do not depend on the data -----------------------------------------------
UNARY = {
    "relu": ops.sparse_relu,
    "abs": abs,
    "pow": lambda t: t ** 2,
    "exp": ops.sparse_exp,
    "apply": lambda t: ops.sparse_apply(t, lambda v: v * v.abs()),
}
DENSE_UNARY = {
    "relu": lambda d: np.maximum(d, 0), "abs": np.abs, "pow": np.square,
    "exp": lambda d: np.where(d != 0, np.exp(d), 0.0), "apply": lambda d: d * np.abs(d),
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("duplicates", [False, True], ids=["unique", "duplicates"])
def test_unary_ops_keep_the_input_layout(name, layout, duplicates):
    a = random_sparse(6, 5, 0.5, layout="coo", duplicates=duplicates, seed=7)
    if layout == "csr":
        a = a.to_csr()
    out = UNARY[name](a)
    assert out.layout == layout
    if layout == "coo":
        assert out.indices().shape == (2, out.nnz)
    if duplicates:  # merged first: coalesced, sorted row-major as torch's coalesce
        assert out.nnz < a.nnz and _sorted_unique(out)
    dense = _dense(a)  # duplicates summed, so the map sees to_dense's value
    stored = np.zeros(dense.shape, bool)
    stored[a.structure.rows(), a.structure.cols()] = True
    assert_close(_dense(out), np.where(stored, DENSE_UNARY[name](dense), 0.0))


@pytest.mark.parametrize("heads", [None, 3])
def test_coalesce_of_coo_is_sorted_unique_coo_as_torch(heads):
    values = np.arange(1.0, 6.0) if heads is None else np.arange(1.0, 16.0).reshape(5, heads)
    a = sg.sparse_coo([[2, 0, 2, 1, 0], [1, 3, 1, 0, 3]], values, (3, 4))
    c = a.coalesce()
    assert c.layout == "coo"
    r, col = c.indices()  # torch's idiom: the (2, nnz) sorted unique indices
    assert r.tolist() == [0, 1, 2] and col.tolist() == [3, 0, 1]
    assert_close(c.to_dense(), a.to_dense())
    assert c.coalesce() is c  # already coalesced
    rows, cols = np.nonzero(_dense(a).reshape(3, 4, -1).any(-1))
    assert (r.tolist(), col.tolist()) == (rows.tolist(), cols.tolist())


def test_coalesce_is_differentiable_and_keeps_csr_csr():
    a = random_sparse(5, 6, 0.5, layout="coo", duplicates=True, seed=11)
    gradcheck(lambda t: t.coalesce(), [a])
    csr = sg.sparse_csr([0, 3, 4], [2, 0, 2, 1], sg.tensor([1.0, 2.0, 3.0, 4.0]), (2, 3))
    c = csr.coalesce()
    assert c.layout == "csr" and c.col.tolist() == [0, 2, 1] and c.values.tolist() == [2.0, 4.0,
                                                                                        4.0]


def test_a_coalesced_coo_is_in_csr_order_so_its_csr_and_transpose_agree():
    a = random_sparse(6, 6, 0.5, layout="coo", duplicates=True, seed=12)
    c = a.coalesce()
    assert c.layout == "coo" and c.nnz < a.nnz
    as_csr = c.to_csr()
    # entry k of the COO is entry k of its CSR form: nothing is reordered
    assert (as_csr.row.tolist(), as_csr.col.tolist()) == (c.row.tolist(), c.col.tolist())
    assert as_csr.values.tolist() == c.values.tolist()
    again = a.coalesce()
    assert (again.row.tolist(), again.col.tolist(), again.values.tolist()) == (
        c.row.tolist(), c.col.tolist(), c.values.tolist())
    for t in (c.T, as_csr.T):
        assert_close(t.to_dense(), _dense(a).T)


@pytest.mark.parametrize("make", [
    lambda: sg.sparse_coo([[0], [0]], dtype="float16"),
    lambda: sg.sparse_csr([0, 1], [0], dtype="float16"),
    lambda: sg.from_edge_index([[0], [1]], 2, dtype="float16"),
])
def test_default_values_of_a_refused_dtype_name_the_constructor_called(make):
    with pytest.raises(TypeError, match=r"^(sparse_coo|sparse_csr|from_edge_index): float16 "
                                        r"values are not supported"):
        make()


def test_a_sorted_unique_coo_is_already_coalesced():
    a = sg.sparse_coo([[0, 0, 1], [0, 2, 1]], [1.0, 2.0, 3.0], (2, 3))
    assert a.coalesce() is a and ops.sparse_relu(a).structure is a.structure


def test_bool_duplicates_keep_coo_under_products():
    a = sg.sparse_coo([[0, 1, 1], [1, 0, 0]], np.array([True, True, False]), (2, 2))
    out = a * 2
    assert out.layout == "coo" and out.nnz == 2
    assert _dense(out).tolist() == [[0, 2], [2, 0]]


def test_sparse_add_stays_csr_for_coo_operands():
    a = random_sparse(4, 4, 0.5, layout="coo", duplicates=True, seed=13)
    b = random_sparse(4, 4, 0.5, layout="coo", seed=14)
    for out in (a + b, a + a):
        assert out.layout == "csr" and _sorted_unique(out)
    assert_close((a + b).to_dense(), _dense(a) + _dense(b))


# ---- 4. reduce="add" --------------------------------------------------------------------------
def test_scatter_and_segment_take_add_as_sum():
    src = sg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype="float64", requires_grad=True)
    index = [0, 2, 0]
    for reduce in ("add", np.str_("add")):
        assert_close(ops.scatter(src, index, 3, reduce=reduce), ops.scatter(src, index, 3))
        assert_close(ops.scatter(src, [0, 1], 2, reduce=reduce, dim=1),
                     ops.scatter(src, [0, 1], 2, reduce="sum", dim=1))
        assert_close(ops.segment(src, [0, 2, 3], reduce), ops.segment(src, [0, 2, 3], "sum"))
    gradcheck(lambda s: ops.scatter(s, index, 3, reduce="add"), [src])
    with pytest.raises(ValueError, match=r"scatter: expected `reduce` in \('sum', 'mean', "
                                         r"'max', 'min'\) \(got 'prod'\)"):
        ops.scatter(src, index, 3, reduce="prod")


# ---- 5. from_scipy names itself -----------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csr", "csc", "bsr", "dia", "lil", "dok", "coo"])
@pytest.mark.parametrize("layout", [None, "csr", "coo"])
@pytest.mark.parametrize("kind", [sp.eye, sp.eye_array], ids=["matrix", "array"])
def test_from_scipy_names_itself_for_complex_values(fmt, layout, kind):
    m = kind(3, format=fmt, dtype=np.complex128)
    with pytest.raises(TypeError, match=r"^from_scipy: `values`: complex data is not supported"):
        sg.from_scipy(m, layout=layout)


def test_from_scipy_names_itself_for_a_bad_values_dtype():
    with pytest.raises(TypeError, match=r"^from_scipy: float16 values are not supported"):
        sg.from_scipy(sp.eye(3, format="csr"), dtype="float16")


def test_to_undirected_takes_pygs_add_as_sum():
    """PyG's to_undirected defaults to reduce="add": the op and Graph.to_undirected take it."""
    ei = np.array([[0, 1, 1], [1, 0, 2]])
    w = np.array([1.0, 2.0, 5.0], np.float32)
    a = sg.from_edge_index(ei, 3, values=w)
    added = sg.ops.to_undirected(a, reduce="add").to_dense().numpy()
    np.testing.assert_array_equal(added, sg.ops.to_undirected(a, reduce="sum").to_dense().numpy())
    g = sg.Graph(edge_index=ei, edge_weight=w, num_nodes=3)
    np.testing.assert_array_equal(g.to_undirected("add").adj.to_dense().numpy(),
                                  g.to_undirected("sum").adj.to_dense().numpy())
