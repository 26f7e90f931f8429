"""The SparseTensor API: constructors (scipy formats, edge_index, dense), metadata, conversions
that keep the value permutation and stay differentiable, cached structures, the index-dtype
rule, operators, and fuzzed constructors that fail only with clear errors."""

import doctest

import numpy as np
import pytest
import scipy.sparse as scipy_sparse
from hypothesis import given
from hypothesis import strategies as st

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.ops import sparse_conversion
from sparsegraph.sparse import Structure
from sparsegraph.sparse_checks import INT32_MAX, index_dtype
from sparsegraph.testing import assert_close, gradcheck, random_sparse

SCIPY_FORMATS = ["csr", "csc", "coo", "lil", "dok", "bsr", "dia"]


def dense_of(a):
    return a.to_dense().detach().numpy()


@pytest.mark.parametrize("fmt", SCIPY_FORMATS)
@pytest.mark.parametrize("kind", ["matrix", "array"])
def test_from_scipy_every_format(fmt, kind):
    m = scipy_sparse.random(6, 5, density=0.4, random_state=0, format="csr")
    src = m.asformat(fmt) if kind == "matrix" else scipy_sparse.csr_array(m).asformat(fmt)
    a = sg.from_scipy(src)
    assert a.layout == ("coo" if fmt == "coo" else "csr")
    assert a.shape == (6, 5) and a.dtype == np.float64
    assert_close(a.to_dense(), m.toarray())
    assert sg.from_scipy(src, layout="coo").layout == "coo"
    assert sg.from_scipy(src, dtype="float32").dtype == np.float32


def test_from_scipy_copies_and_validates():
    m = scipy_sparse.random(4, 4, density=0.5, random_state=1, format="csr")
    a = sg.from_scipy(m)
    m.data[:] = 7.0
    assert not np.any(a.values.numpy() == 7.0)
    with pytest.raises(TypeError, match="from_scipy: expected a scipy.sparse matrix"):
        sg.from_scipy(np.eye(3))
    with pytest.raises(ValueError, match="from_scipy: expected layout"):
        sg.from_scipy(m, layout="csc")


def test_metadata_csr_and_coo():
    m = scipy_sparse.random(6, 5, density=0.4, random_state=2, format="csr")
    a = sg.from_scipy(m)
    assert (a.layout, a.shape, a.nnz, a.ndim, a.device) == ("csr", (6, 5), m.nnz, 2, "cpu")
    np.testing.assert_array_equal(a.indptr, m.indptr)
    np.testing.assert_array_equal(a.indices(), m.indices)
    np.testing.assert_array_equal(a.col, m.indices)
    np.testing.assert_array_equal(a.row, m.tocoo().row)
    np.testing.assert_array_equal(a.values.numpy(), m.data)
    assert a.to_scipy().format == "csr" and (a.to_scipy() != m).nnz == 0
    coo = a.to_coo()
    assert coo.layout == "coo" and coo.indices().shape == (2, m.nnz)
    np.testing.assert_array_equal(coo.indptr, m.indptr)  # the row pointer of its CSR form
    assert coo.to_scipy().format == "coo" and (coo.to_scipy().tocsr() != m).nnz == 0
    hybrid = random_sparse(3, 4, 0.5, heads=2)
    assert hybrid.shape == (3, 4, 2) and hybrid.ndim == 3
    with pytest.raises(ValueError, match="to_scipy: expected 1-D values"):
        hybrid.to_scipy()
    assert "layout=csr" in repr(a) and "requires_grad=True" in repr(hybrid)


def test_index_dtype_rule():
    assert index_dtype(10, 10, 10) == np.int32
    assert index_dtype(INT32_MAX, INT32_MAX, INT32_MAX) == np.int32
    for big in ((INT32_MAX + 1, 1, 1), (1, INT32_MAX + 1, 1), (1, 1, INT32_MAX + 1)):
        assert index_dtype(*big) == np.int64
    a = sg.sparse_coo(np.array([[0, 1], [1, 0]], np.int64), None, (2, 2))
    assert a.structure.row.dtype == np.int32 and a.to_csr().indptr.dtype == np.int32
    wide = Structure.csr(np.array([0, 1]), np.array([0]), (1, INT32_MAX + 1))
    assert wide.indices.dtype == np.int64 and wide.indptr.dtype == np.int64


def test_from_edge_index_is_target_major():
    ei = np.array([[0, 0, 2, 2], [1, 2, 1, 1]])  # source row, target row; (2 -> 1) twice
    w = sg.tensor([1.0, 2.0, 3.0, 4.0])
    adj = sg.from_edge_index(ei, 3, w)
    assert adj.layout == "csr" and adj.shape == (3, 3) and adj.nnz == 4
    d = adj.to_dense().numpy()
    assert d[1, 0] == 1.0 and d[2, 0] == 2.0 and d[1, 2] == 7.0 and d[0, 1] == 0.0
    x = sg.tensor([[1.0], [10.0], [100.0]])
    assert_close(adj @ x, d @ x.numpy())  # each target sums its sources
    assert sg.from_edge_index(ei).shape == (3, 3)
    assert sg.from_edge_index([[], []], 4).shape == (4, 4)
    with pytest.raises(ValueError, match=r"from_edge_index: expected `edge_index` node ids in "
                                         r"\[0, 2\) \(got 2\)"):
        sg.from_edge_index(ei, 2)
    with pytest.raises(TypeError, match="from_edge_index: expected `edge_index` with an integer"):
        sg.from_edge_index(ei.astype(float))
    with pytest.raises(ValueError, match=r"from_edge_index: expected `edge_index` of shape"):
        sg.from_edge_index(ei[0])


@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_dense_to_sparse(layout):
    d = np.array([[0.0, 2.0, 0.0], [3.0, 0.0, 4.0]])
    x = sg.tensor(d, dtype="float64", requires_grad=True)
    a = x.to_sparse(layout)
    assert a.layout == layout and a.nnz == 3
    assert_close(a.to_dense(), d)
    # the pattern is data-dependent, so check the gradient directly (finite differences would
    # move the zeros): the upstream gradient at the nonzeros, 0 elsewhere
    (a.values * sg.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [2, 0, 3]])
    with pytest.raises(ValueError, match="to_sparse: expected a 2-D Tensor"):
        sg.randn(3).to_sparse()
    with pytest.raises(TypeError, match="to_sparse: expected a Tensor"):
        ops.to_sparse(d)
    with pytest.raises(ValueError, match="to_sparse: expected layout"):
        x.to_sparse("csc")


def test_to_dense_sums_duplicates_and_is_differentiable():
    a = random_sparse(4, 5, 0.5, layout="coo", duplicates=True, seed=3)
    d = np.zeros((4, 5))
    np.add.at(d, (a.structure.row, a.structure.col), a.values.detach().numpy())
    assert_close(a.to_dense(), d)
    gradcheck(lambda t: t.to_dense(), [a])
    assert_close(random_sparse(0, 3, 0.5).to_dense(), np.zeros((0, 3)))


def test_to_csr_and_to_coo_keep_the_value_permutation():
    a = random_sparse(5, 4, 0.6, layout="coo", duplicates=True, seed=4)
    csr = a.to_csr()
    assert csr.layout == "csr" and csr.nnz == a.nnz
    assert a.to_csr().structure is csr.structure  # built once, cached on the COO structure
    assert_close(csr.to_dense(), dense_of(a))
    rows = csr.structure.rows()
    assert np.all(np.diff(rows) >= 0)
    csr.values.sum().backward()
    assert_close(a.values.grad, np.ones(a.nnz))
    a.values.grad = None
    back = csr.to_coo()
    assert back.layout == "coo" and back.values is csr.values
    assert csr.to_csr() is csr and a.to_coo() is a
    for conv in (lambda t: t.to_csr().values, lambda t: t.to_csr().to_coo().values):
        gradcheck(conv, [a])


def test_coalesce_sums_duplicates_and_is_differentiable():
    a = random_sparse(5, 5, 0.5, layout="coo", duplicates=True, seed=5)
    c = a.coalesce()
    assert c.layout == "coo" and c.nnz == np.count_nonzero(dense_of(a))  # torch keeps COO too
    assert_close(c.to_dense(), dense_of(a))
    r, col = c.indices()
    assert np.all(np.diff(r.astype(np.int64) * 5 + col) > 0)  # sorted and unique
    assert a.coalesce().structure is c.structure
    gradcheck(lambda t: t.coalesce().values, [a])
    unique = random_sparse(4, 4, 0.5, seed=6)
    assert unique.coalesce() is unique
    empty = random_sparse(3, 3, 0.0, layout="coo")
    assert empty.coalesce().nnz == 0


@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_transpose_is_differentiable_and_cached(layout):
    a = random_sparse(4, 6, 0.5, layout=layout, duplicates=layout == "coo", heads=None, seed=7)
    t = a.T
    assert t.layout == "csr" and t.shape == (6, 4)
    assert_close(t.to_dense(), dense_of(a).T)
    assert a.T.structure is t.structure and a.t().structure is t.structure
    assert t.T.structure is a.to_csr().structure  # transposing back reuses the original
    gradcheck(lambda s: s.T.values, [a])
    h = random_sparse(3, 5, 0.5, heads=2, seed=8)
    assert_close(h.T.to_dense(), dense_of(h).transpose(1, 0, 2))


@pytest.mark.parametrize("layout", ["csr", "coo", "coalesced coo"])
def test_from_transposed_order_inverts_the_transposes_permutation(layout):
    a = random_sparse(7, 5, 0.5, layout="csr" if layout == "csr" else "coo",
                      duplicates=layout != "csr", seed=9)
    s = (a.coalesce() if layout == "coalesced coo" else a).structure
    t, perm = s.transpose()
    inv = s.from_transposed_order()
    assert inv.dtype == perm.dtype and s.from_transposed_order() is inv  # built once
    np.testing.assert_array_equal(perm[inv], np.arange(s.nnz))
    np.testing.assert_array_equal(inv[perm], np.arange(s.nnz))


def test_with_values_grad_and_detach():
    adj = sg.from_edge_index(np.array([[0, 0, 2], [1, 2, 1]]), 3)
    assert adj.grad is None and not adj.requires_grad
    v = sg.ones(3, requires_grad=True)
    w = adj.with_values(v)
    assert w.structure is adj.structure and w.requires_grad
    (w @ sg.ones(3, 2)).sum().backward()
    assert isinstance(w.grad, sg.SparseTensor) and w.grad.structure is adj.structure
    assert_close(w.grad.values, np.full(3, 2.0))
    assert not w.detach().requires_grad and w.detach().structure is adj.structure
    assert adj.with_values(np.arange(3.0)).values.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match=r"with_values: expected `values` with 3 entries"):
        adj.with_values(sg.ones(4))
    adj.requires_grad_()
    assert adj.requires_grad


def test_operators():
    a = random_sparse(4, 3, 0.5, seed=9)
    b = random_sparse(4, 3, 0.5, seed=10)
    x = sg.randn(3, 2, dtype="float64")
    d, db = dense_of(a), dense_of(b)
    assert_close(a @ x, d @ x.numpy())
    assert_close((a @ b.T).to_dense(), d @ db.T)
    z = sg.randn(2, 4, dtype="float64")
    assert_close(z @ a, z.numpy() @ d)
    assert_close((a * 2).to_dense(), 2 * d)
    assert_close((a + b).to_dense(), d + db)
    assert_close((a - b).to_dense(), d - db)
    assert_close((a / 2).to_dense(), d / 2)
    assert_close(a.sum(), d.sum())
    assert_close(a.sum(0), d.sum(0))
    assert_close(a.numpy(), d)
    assert a.to("float32").dtype == np.float32


def test_constructor_errors_are_clear():
    with pytest.raises(ValueError, match=r"indptr` of length 3"):
        sg.sparse_csr([0, 1], [0], [1.0], (2, 2))
    with pytest.raises(ValueError, match="non-decreasing"):
        sg.sparse_csr([0, 2, 1, 3], [0, 1, 0], [1.0, 1.0, 1.0], (3, 2))
    with pytest.raises(ValueError, match="non-decreasing"):  # regression: uint8 diff wrapped
        sg.sparse_csr(np.array([0, 1, 0], np.uint8), np.array([], np.int32), None, (2, 1))
    with pytest.raises(ValueError, match="start at 0 and end at nnz"):
        sg.sparse_csr([1, 1], [0], [1.0], (1, 2))
    with pytest.raises(ValueError, match=r"`indices` in \[0, 2\) \(got 2\)"):
        sg.sparse_csr([0, 1], [2], [1.0], (1, 2))
    with pytest.raises(ValueError, match=r"`values` with 2 entries"):
        sg.sparse_coo([[0, 1], [1, 0]], [1.0, 2.0, 3.0], (2, 2))
    with pytest.raises(TypeError, match="integer dtype"):
        sg.sparse_coo(np.array([[0.0, np.nan], [1.0, 0.0]]), [1.0, 2.0], (2, 2))
    with pytest.raises(TypeError, match="integer dtype"):
        sg.sparse_csr([0, 1], np.array([np.inf]))
    with pytest.raises(ValueError, match=r"row indices` in \[0, 2\) \(got -1\)"):
        sg.sparse_coo([[0, -1], [1, 0]], [1.0, 2.0], (2, 2))
    with pytest.raises(ValueError, match=r"expected `shape` to be two non-negative ints"):
        sg.sparse_coo([[0], [0]], [1.0], (1, -1))
    with pytest.raises(ValueError, match=r"expected `indices` of shape \(2, nnz\)"):
        sg.sparse_coo([[0, 1, 2]], [1.0, 1.0, 1.0])


ints = st.one_of(st.integers(-3, 8), st.integers(-2**63, -4), st.integers(9, 40))
# bounded floats: a float array cast to int64 must not ask for a legitimately huge graph
elems = st.one_of(ints, st.floats(-5, 40), st.sampled_from([np.nan, np.inf, -np.inf]))
arrays = st.one_of(st.lists(st.integers(0, 6), max_size=7), st.lists(elems, max_size=7))
dtypes = st.sampled_from([None, np.int32, np.int64, np.uint8, np.float64, np.bool_])
shapes = st.one_of(st.none(), st.tuples(st.integers(-1, 6), st.integers(-1, 6)),
                   st.just((2.5, 3)), st.just((1, 2, 3)))


def _array(values, dtype):
    try:
        return np.array(values, dtype=dtype)
    except (ValueError, TypeError, OverflowError):
        return values  # the constructor gets the raw (malformed) list


def _check_accepted(a):
    """A tensor a constructor accepted is well formed and multiplies like its dense form."""
    n, m = a.shape[:2]
    assert a.structure.cols().size == a.nnz == a.values.shape[0]
    a = a.to("float64")
    x = sg.ones(m, *a.shape[2:], 2, dtype="float64")
    out = ops.spmm(a, x)
    assert out.shape == (n, *a.shape[2:], 2)
    assert_close(out, np.einsum("nm...,m...f->n...f", dense_of(a), x.numpy()))


@given(rows=arrays, cols=arrays, nv=st.integers(0, 8), shape=shapes, dtype=dtypes,
       values_kind=st.sampled_from(["ones", "none", "short", "2d"]))
def test_fuzzed_sparse_coo(rows, cols, nv, shape, dtype, values_kind):
    idx = _array([rows, cols], dtype) if len(rows) == len(cols) else [rows, cols]
    values = {"ones": np.ones(nv), "none": None, "short": np.ones(max(nv - 1, 0)),
              "2d": np.ones((nv, 2))}[values_kind]
    try:
        a = sg.sparse_coo(idx, values, shape)
    except (ValueError, TypeError):
        return
    _check_accepted(a)


@given(indptr=st.one_of(arrays, st.lists(st.integers(0, 3), max_size=6).map(
           lambda counts: [0, *np.cumsum(counts).tolist()])),
       indices=arrays, m=st.one_of(st.none(), st.integers(-1, 6)), d1=dtypes, d2=dtypes)
def test_fuzzed_sparse_csr(indptr, indices, m, d1, d2):
    shape = None if m is None else (max(len(indptr) - 1, 0), m)
    try:
        a = sg.sparse_csr(_array(indptr, d1), _array(indices, d2), np.ones(len(indices)), shape)
    except (ValueError, TypeError):
        return
    _check_accepted(a)


@given(src=arrays, dst=arrays, num_nodes=st.one_of(st.none(), st.integers(-1, 9)),
       dtype=dtypes)
def test_fuzzed_from_edge_index(src, dst, num_nodes, dtype):
    ei = _array([src, dst], dtype) if len(src) == len(dst) else [src, dst]
    try:
        a = sg.from_edge_index(ei, num_nodes)
    except (ValueError, TypeError):
        return
    assert a.layout == "csr" and a.shape[0] == a.shape[1]
    _check_accepted(a)


def test_docstring_examples():
    assert doctest.testmod(sparse_conversion, extraglobs={"sg": sg}).failed == 0


# ---- the caller's arrays, dtypes and messages (a new user's first tries) -------------------
def test_the_structure_owns_copies_of_the_callers_index_arrays():
    """Changing the caller's arrays afterwards changes nothing (the kernels trust the
    validated structure: a later out-of-range index would read out of bounds)."""
    m = scipy_sparse.csr_matrix(([1.0, 2.0], np.array([1, 0], np.int32),
                                 np.array([0, 2], np.int32)), shape=(1, 2))
    a = sg.from_scipy(m)
    m.sort_indices()  # scipy sorts its int32 arrays in place
    np.testing.assert_array_equal(a.to_dense().numpy(), [[2.0, 1.0]])
    indptr, indices = np.array([0, 1, 2], np.int32), np.array([0, 1], np.int32)
    b = sg.sparse_csr(indptr, indices, [1.0, 2.0], (2, 2))
    idx = np.array([[0, 1], [1, 0]], np.int32)
    c = sg.sparse_coo(idx, [1.0, 2.0], (2, 2))
    indices[1], idx[1, 0] = 50_000_000, 50_000_000
    np.testing.assert_array_equal(ops.spmm(b, sg.ones(2, 3)).numpy(), [[1.0] * 3, [2.0] * 3])
    np.testing.assert_array_equal(c.to_dense().numpy(), [[0.0, 1.0], [2.0, 0.0]])


def test_complex_object_and_float16_values_are_refused_by_name():
    idx = [[0, 1], [1, 0]]
    for make in (lambda: sg.sparse_coo(idx, np.array([1j, 2]), (2, 2)),
                 lambda: sg.from_scipy(scipy_sparse.csr_matrix(np.eye(2) * 1j))):
        with pytest.raises(TypeError, match=r"`values`: complex data is not supported"):
            make()
    with pytest.raises(TypeError, match="complex data is not supported"):
        sg.tensor(np.ones(2) * 1j)
    a = sg.sparse_coo(idx, [1.0, 2.0], (2, 2))
    with pytest.raises(TypeError, match=r"with_values: `values`: complex"):
        a.with_values(np.ones(2) * 1j)
    with pytest.raises(TypeError, match=r"with_values: `values`: expected numeric data"):
        a.with_values(np.array([1, None], object))
    with pytest.raises(TypeError, match=r"sparse_coo: float16 values are not supported"):
        sg.sparse_coo(idx, [1.0, 2.0], (2, 2), dtype=sg.float16)
    with pytest.raises(TypeError, match=r"with_values: float16 values are not supported"):
        a.with_values(sg.ones(2, dtype="float16"))


@pytest.mark.parametrize("call, message", [
    (lambda: sg.sparse_coo([[0, 1], [1, 0]], [1.0, 2.0], 4),
     r"sparse_coo: expected `shape` to be two non-negative ints \(got 4\)"),
    (lambda: sg.sparse_coo([[0, 1], [1, 0]], [1.0, 2.0], (True, True)),
     r"sparse_coo: expected `shape` to be two non-negative ints"),
    (lambda: sg.sparse_csr([], []), r"sparse_csr: expected `indptr` with N \+ 1 entries"),
    (lambda: sg.sparse_csr([0, 1], [0], [1.0], 3), r"sparse_csr: expected `shape`"),
    (lambda: sg.sparse_coo([[0.0, 1.0], [1.0, 0.0]], [1.0, 2.0], (2, 2)),
     r"sparse_coo: expected `indices` with an integer dtype \(got float64\)"),
    (lambda: sg.from_edge_index([[0, 1, 2], [1, 2, 0]], 3, values=[1.0, 2.0]),
     r"from_edge_index: expected `values` with 3 entries"),
    (lambda: sg.from_edge_index([[0, 1], [1, 0]], True), r"from_edge_index: expected `num_nodes`"),
    (lambda: sg.from_scipy(scipy_sparse.coo_array(np.ones(3))),
     r"from_scipy: expected a 2-D sparse matrix or array \(got shape \(3,\)\)"),
    (lambda: ops.degree(sg.sparse_coo([[0], [0]], None, (1, 1)), 1, dtype="foo"),
     r"dtype: expected one of"),
])
def test_constructor_errors_name_the_function_and_argument(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_empty_lists_make_an_empty_tensor():
    a = sg.sparse_coo([[], []], [], (3, 3))
    assert (a.nnz, a.shape, a.structure.row.dtype) == (0, (3, 3), np.int32)
    np.testing.assert_array_equal(a.to_dense().numpy(), np.zeros((3, 3)))


def test_coo_indptr_is_the_row_pointer_of_its_csr_form():
    a = sg.sparse_coo([[2, 0, 2, 1], [0, 1, 1, 0]], [1.0, 2.0, 3.0, 4.0], (4, 2))
    np.testing.assert_array_equal(a.indptr, [0, 1, 2, 4, 4])
    assert a.indptr is a.indptr  # cached with the CSR form


def test_dense_operands_on_the_left_defer_to_the_sparse_tensor():
    a = random_sparse(4, 3, 0.5, seed=8, layout="coo", duplicates=True)
    d = sg.randn(4, 3, dtype="float64", requires_grad=True)
    dense_a = a.to_dense().detach().numpy()
    left = d * a  # sampled at a's entries, as a * d
    assert isinstance(left, sg.SparseTensor) and left.structure is a.structure
    assert_close(left.to_dense(), (a * d).to_dense())
    assert_close(d + a, d.detach().numpy() + dense_a)
    assert_close(d - a, d.detach().numpy() - dense_a)
    assert_close(a - d, dense_a - d.detach().numpy())
    (d * a).values.sum().backward()
    assert d.grad is not None
    with pytest.raises(TypeError, match="sparse_add: .*adding a scalar would densify"):
        1 - a


def test_dividing_by_zero_gives_inf_as_numpy():
    a = sg.sparse_coo([[0, 1], [1, 0]], [1.0, -2.0], (2, 2))
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal((a / 0).values.numpy(), [np.inf, -np.inf])
    assert_close((a / 2).values, [0.5, -1.0])
    assert_close((a / sg.full((2, 2), 4.0)).values, [0.25, -0.5])


# ---- what leaves the tensor cannot change its (shared, trusted) structure ------------------
@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_to_scipy_shares_nothing_writable_with_the_tensor(layout):
    """scipy canonicalises in place (sum_duplicates, sort_indices, data *= k); none of it may
    reach the structure, its cached forms or the values."""
    adj = sg.from_edge_index([[0, 0, 2, 1], [1, 1, 1, 2]], 3)  # edge 0 -> 1 twice
    adj = adj if layout == "csr" else adj.to_coo()
    other = adj.with_values(sg.tensor([1.0, 2.0, 3.0, 4.0]))
    before, other_before = dense_of(adj), dense_of(other)
    values_before, rows_before = adj.values.numpy().copy(), adj.row.copy()
    m = adj.to_scipy()
    s = adj.structure
    mine = [s.indptr, s.indices] if layout == "csr" else [s.row, s.col]
    theirs = [m.indptr, m.indices] if layout == "csr" else [m.row, m.col]
    for a in mine + [adj.values.array]:
        for b in theirs + [m.data]:
            assert not np.shares_memory(a, b)
    m.sum_duplicates()
    m.data *= 10
    if layout == "csr":
        m.indices[:] = 1_000_000
        m.indptr[:] = 0
    else:
        m.row[:] = m.col[:] = 1_000_000
    np.testing.assert_array_equal(dense_of(adj), before)
    np.testing.assert_array_equal(dense_of(other), other_before)
    np.testing.assert_array_equal(adj.values.numpy(), values_before)
    np.testing.assert_array_equal(adj.row, rows_before)
    assert adj.indptr.tolist() == [0, 0, 3, 4] and adj.nnz == 4
    np.testing.assert_array_equal((adj @ sg.tensor([[1.0], [10.0], [100.0]])).numpy(),
                                  before @ [[1.0], [10.0], [100.0]])


@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_index_arrays_handed_out_are_read_only(layout):
    a = random_sparse(5, 4, 0.5, seed=3, layout=layout)
    arrays = {"indptr": a.indptr, "row": a.row, "col": a.col}
    if layout == "csr":  # a view of the structure's column indices
        arrays["indices()"] = a.indices()
    for name, arr in arrays.items():
        assert not arr.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 0
    s = a.structure
    assert np.shares_memory(a.col, s.cols()) and np.shares_memory(a.row, s.rows())
    assert s.cols().flags.writeable  # the structure's own arrays are untouched views' bases
    assert a.indptr is a.indptr and a.row is a.row  # made once
    np.testing.assert_array_equal(a.indptr, a.structure.to_csr()[0].indptr)
    writable = a.indices().copy()
    writable[...] = 0  # a copy is the caller's


def test_coo_indices_are_a_fresh_writable_copy():
    """A COO tensor's ``indices()`` stacks a new array each call: not frozen, and changing it
    leaves the tensor alone."""
    a = random_sparse(5, 4, 0.5, seed=3, layout="coo")
    rows, cols = a.row.copy(), a.col.copy()
    idx = a.indices()
    assert idx.flags.writeable and idx is not a.indices()
    idx[...] = 0
    np.testing.assert_array_equal(a.row, rows)
    np.testing.assert_array_equal(a.col, cols)


def test_index_values_and_dims_past_int64_are_refused_not_wrapped():
    big = np.array([[0], [2**63 + 5]], np.uint64)
    cases = [
        (lambda: sg.sparse_coo(big, [1.0], (1, 2**64 - 1)),
         r"sparse_coo: expected `shape` dims below 2\^63"),
        (lambda: sg.sparse_coo(big, [1.0], (1, 2**63 - 1)),
         r"sparse_coo: expected `column indices` in \[0, 9223372036854775807\) "
         r"\(got 9223372036854775813\)"),
        (lambda: sg.sparse_coo(big, [1.0]),
         r"sparse_coo: expected `indices` values below 2\^63 - 1.* \(got 9223372036854775813\)"),
        (lambda: sg.sparse_csr(np.array([0, 1], np.uint64), np.array([2**63], np.uint64), [1.0],
                               (1, 2**64 - 1)), r"sparse_csr: expected `shape` dims below 2\^63"),
        (lambda: sg.sparse_csr(np.array([0, 1], np.uint64), np.array([2**63], np.uint64),
                               [1.0]), r"sparse_csr: expected `indices` values below 2\^63 - 1"),
        (lambda: sg.from_edge_index(np.array([[2**64 - 1], [0]], np.uint64)),
         r"from_edge_index: expected `edge_index` values below 2\^63 - 1.* "
         r"\(got 18446744073709551615\)"),
        (lambda: sg.from_edge_index(np.array([[1], [0]], np.uint64), 2**63),
         r"from_edge_index: expected `num_nodes` to be a non-negative int below 2\^63"),
        (lambda: sg.sparse_coo([[0], [0]], [1.0], (2**63, 1)),
         r"sparse_coo: expected `shape` dims below 2\^63"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    # the largest addressable index still works, as int64
    a = sg.sparse_coo(np.array([[0], [2**63 - 2]], np.uint64), [1.0], (1, 2**63 - 1))
    assert a.col.tolist() == [2**63 - 2] and a.col.dtype == np.int64


def test_subtracting_a_non_tensor_names_the_operation():
    b = sg.sparse_coo([[0, 1], [1, 0]], [1.0, 2.0], (2, 2))
    for other in (None, "x", 1.0):
        with pytest.raises(TypeError, match=r"sparse - other: expected a SparseTensor or dense "
                                            r"Tensor `other` \(got "):
            b - other
    assert_close((b - b).to_dense(), np.zeros((2, 2)))
