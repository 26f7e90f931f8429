"""Sparse products against dense references (values, and gradients at the stored entries),
float64 gradient checks (hybrid values too), every kernel through the op, validation, a fuzzed
spmm, and the memory rule: backward never allocates an E x F array."""

import doctest
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.ops import sparse_products
from sparsegraph.sparse import Structure
from sparsegraph.tensor import wrap
from sparsegraph.testing import assert_close, gradcheck, random_sparse

CASES = {
    "plain": dict(n=5, m=7, density=0.4),
    "empty_rows": dict(n=6, m=4, density=0.6, empty_rows=True),
    "empty_matrix": dict(n=4, m=3, density=0.0),
    "zero_rows": dict(n=0, m=3, density=0.5),
    "single_row": dict(n=1, m=6, density=0.7),
    "coo_duplicates": dict(n=5, m=5, density=0.5, layout="coo", duplicates=True),
    "csr_duplicates": dict(n=5, m=4, density=0.5, duplicates=True),
    "int64_indices": dict(n=5, m=6, density=0.5, index_dtype="int64"),
    "dense": dict(n=4, m=3, density=1.0),
}


def dense_of(a):
    return a.to_dense().detach().numpy()


def at_entries(a, d):
    """Values of the dense ``d`` at a's stored entries (in a's order)."""
    s = a.structure
    return d[s.rows(), s.cols()]


def kernel_names(*op_names):
    return sorted({k.name for op in op_names for k in sg.kernels.kernels(op, "cpu", "csr")})


@pytest.mark.parametrize("case", sorted(CASES))
def test_spmm_matches_dense_in_value_and_gradient(case):
    a = random_sparse(**CASES[case], seed=1)
    x = sg.randn(a.shape[1], 3, dtype="float64", requires_grad=True)
    out = ops.spmm(a, x)
    d, xn = dense_of(a), x.detach().numpy()
    assert_close(out, d @ xn)
    g = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(sg.tensor(g))
    assert_close(x.grad, d.T @ g)
    assert_close(a.values.grad, at_entries(a, g @ xn.T))
    if a.nnz:
        gradcheck(ops.spmm, [a, x])


@pytest.mark.parametrize("kernel", kernel_names("spmm", "sddmm", "csr_transpose"))
def test_int64_structures_as_built_for_huge_graphs(kernel):
    # int64 index arrays are what a graph past 2^31 entries gets; build one directly
    a = random_sparse(6, 5, 0.5, seed=19)
    s = a.structure
    big = sg.SparseTensor(Structure(s.shape, "csr", indptr=s.indptr.astype(np.int64),
                                    indices=s.indices.astype(np.int64)), a.values)
    x = sg.randn(5, 3, dtype="float64", requires_grad=True)
    with sg.kernels.use(kernel):
        assert_close(ops.spmm(big, x), dense_of(a) @ x.detach().numpy())
        gradcheck(ops.spmm, [big, x])
        assert_close(big.T.to_dense(), dense_of(a).T)


def test_spmm_vector_and_zero_features():
    a = random_sparse(5, 4, 0.5, seed=3)
    v = sg.randn(4, dtype="float64", requires_grad=True)
    assert ops.spmm(a, v).shape == (5,)
    assert_close(ops.spmm(a, v), dense_of(a) @ v.detach().numpy())
    gradcheck(ops.spmm, [a, v])
    assert ops.spmm(a, sg.zeros(4, 0, dtype="float64")).shape == (5, 0)


@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_spmm_hybrid_values_per_head(layout):
    a = random_sparse(5, 6, 0.5, heads=2, seed=3, layout=layout, duplicates=layout == "coo")
    x = sg.randn(6, 2, 4, dtype="float64", requires_grad=True)
    out = ops.spmm(a, x)
    d, xn = dense_of(a), x.detach().numpy()  # d: (5, 6, 2)
    assert_close(out, np.einsum("nmh,mhf->nhf", d, xn))
    g = np.random.default_rng(4).standard_normal(out.shape)
    out.backward(sg.tensor(g))
    assert_close(x.grad, np.einsum("nmh,nhf->mhf", d, g))
    assert_close(a.values.grad, at_entries(a, np.einsum("nhf,mhf->nmh", g, xn)))
    gradcheck(ops.spmm, [a, x])


@pytest.mark.parametrize("kernel", kernel_names("spmm", "sddmm"))
@pytest.mark.parametrize("heads", [None, 3])
def test_every_kernel_through_spmm_and_sddmm(kernel, heads):
    a = random_sparse(30, 20, 0.2, heads=heads, seed=4, empty_rows=True)
    fshape = (5,) if heads is None else (heads, 5)
    x = sg.randn(20, *fshape, dtype="float64", requires_grad=True)
    y = sg.randn(30, *fshape, dtype="float64", requires_grad=True)
    with sg.kernels.use(kernel):
        out = ops.spmm(a, x)
        gradcheck(ops.spmm, [a, x])
        sampled = ops.sddmm(a, y, x)
        gradcheck(lambda p, q: ops.sddmm(a, p, q).values, [y, x])
    ref = np.einsum("nm...,m...f->n...f", dense_of(a), x.detach().numpy())
    assert_close(out, ref)
    assert_close(sampled.values, at_entries(
        a, np.einsum("n...f,m...f->nm...", y.detach().numpy(), x.detach().numpy())))


def test_spmm_without_grad_records_nothing():
    a = random_sparse(4, 4, 0.5, seed=5)
    x = sg.randn(4, 2, dtype="float64")
    with sg.no_grad():
        assert ops.spmm(a, x).grad_fn is None
    assert ops.spmm(a.detach(), x).grad_fn is None


def test_transposed_values_follow_in_place_updates():
    # regression: dX used a cached transposed copy of the values that went stale when an
    # optimizer updated learned edge weights in place
    a = random_sparse(6, 6, 0.5, seed=6)
    x = sg.randn(6, 2, dtype="float64", requires_grad=True)
    opt = sg.optim.SGD([a.values], lr=0.5)
    for _ in range(3):
        x.grad = None
        opt.zero_grad()
        ops.spmm(a, x).sum().backward()
        assert_close(x.grad, dense_of(a).T @ np.ones((6, 2)))
        opt.step()


@pytest.mark.parametrize("case", ["plain", "empty_matrix", "coo_duplicates", "single_row"])
def test_dense_at_sparse(case):
    a = random_sparse(**CASES[case], seed=7)
    x = sg.randn(3, a.shape[0], dtype="float64", requires_grad=True)
    out = x @ a
    assert_close(out, x.detach().numpy() @ dense_of(a))
    g = np.random.default_rng(8).standard_normal(out.shape)
    out.backward(sg.tensor(g))
    assert_close(x.grad, g @ dense_of(a).T)
    assert_close(a.values.grad, at_entries(a, x.detach().numpy().T @ g))
    if a.nnz:
        gradcheck(lambda t, s: t @ s, [x, a])
    v = sg.randn(a.shape[0], dtype="float64")
    assert_close(v @ a, v.numpy() @ dense_of(a))


def test_matmul_dispatches_every_combination():
    a = random_sparse(6, 4, 0.5, seed=9)
    b = random_sparse(4, 5, 0.5, seed=10)
    y = sg.randn(4, 2, dtype="float64")
    assert_close(a @ y, ops.spmm(a, y))
    assert_close(ops.matmul(a, y), ops.spmm(a, y))
    z = sg.randn(2, 6, dtype="float64")
    assert_close(z @ a, ops.matmul(z, a))
    assert_close(ops.sparse_matmul(z, a), z.numpy() @ dense_of(a))
    c = a @ b
    assert isinstance(c, sg.SparseTensor)
    assert_close(c.to_dense(), dense_of(a) @ dense_of(b))
    assert_close(ops.sparse_matmul(a, b).to_dense(), c.to_dense())
    assert_close(ops.spmm(a, b).to_dense(), c.to_dense())


@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_sddmm_matches_dense_and_gradchecks(layout):
    a = random_sparse(5, 6, 0.5, seed=11, layout=layout, duplicates=layout == "coo")
    x = sg.randn(5, 3, dtype="float64", requires_grad=True)
    y = sg.randn(6, 3, dtype="float64", requires_grad=True)
    out = ops.sddmm(a, x, y)
    csr = a.to_csr()
    assert out.structure is a.structure  # a's layout and entry order, duplicates included
    xn, yn = x.detach().numpy(), y.detach().numpy()
    assert_close(out.values, (xn @ yn.T)[a.row, a.col])
    g = np.random.default_rng(12).standard_normal(out.nnz)
    out.values.backward(sg.tensor(g))
    gd = np.zeros(a.shape)
    np.add.at(gd, (a.row, a.col), g)
    assert_close(x.grad, gd @ yn)
    assert_close(y.grad, gd.T @ xn)
    gradcheck(lambda p, q: ops.sddmm(a, p, q).values, [x, y])
    xh = sg.randn(5, 2, 3, dtype="float64", requires_grad=True)
    yh = sg.randn(6, 2, 3, dtype="float64", requires_grad=True)
    assert ops.sddmm(a, xh, yh).values.shape == (csr.nnz, 2)
    gradcheck(lambda p, q: ops.sddmm(a, p, q).values, [xh, yh])


def test_sddmm_on_an_empty_matrix():
    a = random_sparse(3, 4, 0.0)
    x = sg.randn(3, 2, dtype="float64", requires_grad=True)
    y = sg.randn(4, 2, dtype="float64", requires_grad=True)
    out = ops.sddmm(a, x, y)
    assert out.values.shape == (0,)
    out.values.sum().backward()
    assert_close(x.grad, np.zeros((3, 2)))


SPGEMM_CASES = {
    "plain": ((5, 4, 0.5), (4, 6, 0.5)),
    "empty_a": ((3, 4, 0.0), (4, 2, 0.5)),
    "empty_rows": ((6, 5, 0.6), (5, 3, 0.6)),
    "single": ((1, 1, 1.0), (1, 1, 1.0)),
    "no_cols": ((3, 2, 0.5), (2, 0, 0.5)),
}


@pytest.mark.parametrize("kernel", kernel_names("spgemm", "spgemm_symbolic"))
@pytest.mark.parametrize("case", sorted(SPGEMM_CASES))
def test_spgemm_matches_dense_with_gradients_at_stored_entries(case, kernel):
    (n, k, da), (_, m, db) = SPGEMM_CASES[case]
    a = random_sparse(n, k, da, seed=13, empty_rows=case == "empty_rows")
    b = random_sparse(k, m, db, seed=14, layout="coo", duplicates=True)
    with sg.kernels.use(kernel):
        c = ops.spgemm(a, b)
        assert_close(c.to_dense(), dense_of(a) @ dense_of(b))
        g = np.random.default_rng(15).standard_normal(c.nnz)
        c.values.backward(sg.tensor(g))
        gd = sg.sparse_csr(c.indptr, c.structure.indices, g, c.shape).to_dense().numpy()
        assert_close(a.values.grad, at_entries(a, gd @ dense_of(b).T))
        assert_close(b.values.grad, at_entries(b, dense_of(a).T @ gd))
        if c.nnz:
            gradcheck(lambda p, q: ops.spgemm(p, q).values, [a, b])


def test_spgemm_pattern_is_structural_and_cached():
    a = sg.sparse_csr([0, 2], [0, 1], sg.tensor([1.0, 1.0], dtype="float64"), (1, 2))
    b = sg.sparse_csr([0, 1, 2], [0, 0], sg.tensor([1.0, -1.0], dtype="float64"), (2, 1))
    for kernel in kernel_names("spgemm"):
        with sg.kernels.use(kernel):
            c = ops.spgemm(a, b.with_values(b.values.detach().requires_grad_()))
        assert c.nnz == 1 and c.values.tolist() == [0.0]  # cancelled, but still stored
    assert ops.spgemm(a, b).structure is ops.spgemm(a, b).structure
    assert ops.spgemm(a, b.with_values(b.values * 2)).structure is c.structure


def test_spgemm_float32_keeps_dtype():
    a = random_sparse(5, 5, 0.4, dtype="float32", seed=16)
    c = a @ a
    assert c.dtype == np.float32
    c.values.sum().backward()
    assert a.values.grad.dtype == np.float32


def test_validation_errors_name_the_argument():
    a = random_sparse(5, 7, 0.3, dtype="float32", seed=17)
    with pytest.raises(ValueError, match=r"spmm: expected `x` with 7 rows to match `a` of shape "
                                         r"\(5, 7\) \(got 6\)"):
        ops.spmm(a, sg.randn(6, 2))
    with pytest.raises(TypeError, match=r"spmm: .*`a` values and `x` .* \(got float32 and "
                                        r"float64\)"):
        ops.spmm(a, sg.randn(7, 2, dtype="float64"))
    with pytest.raises(TypeError, match="spmm: expected `a` to be a SparseTensor"):
        ops.spmm(sg.randn(5, 7), sg.randn(7, 2))
    with pytest.raises(TypeError, match="spmm: expected `x` to be a Tensor"):
        ops.spmm(a, np.ones((7, 2), np.float32))
    with pytest.raises(ValueError, match=r"spmm: expected `x` with 2 dims .* \(got shape"):
        ops.spmm(a, sg.randn(7, 2, 2))
    hybrid = random_sparse(5, 7, 0.3, dtype="float32", heads=2, seed=18)
    with pytest.raises(ValueError, match=r"spmm: expected `x` with 2 heads"):
        ops.spmm(hybrid, sg.randn(7, 3, 4))
    with pytest.raises(ValueError, match=r"spmm: expected `x` with 3 dims"):
        ops.spmm(hybrid, sg.randn(7, 4))
    elsewhere = wrap(np.ones((7, 2), np.float32))
    elsewhere.device = "cuda:1"  # validation only reads the device
    with pytest.raises(ValueError, match=r"spmm: `a` is on cpu but `x` is on cuda:1"):
        ops.spmm(a, elsewhere)
    with pytest.raises(ValueError, match=r"sddmm: expected `x` with 5 rows and `y` with 7"):
        ops.sddmm(a, sg.randn(4, 2), sg.randn(7, 2))
    with pytest.raises(TypeError, match=r"sddmm: expected `x` and `y` of the same dtype"):
        ops.sddmm(a, sg.randn(5, 2), sg.randn(7, 2, dtype="float64"))
    with pytest.raises(ValueError, match=r"spgemm: expected `b` with 7 rows"):
        ops.spgemm(a, random_sparse(6, 2, 0.5, dtype="float32"))
    with pytest.raises(TypeError, match=r"spgemm: expected `a` and `b` values of the same dtype"):
        ops.spgemm(a, random_sparse(7, 2, 0.5, dtype="float64"))
    with pytest.raises(NotImplementedError, match="spgemm: .*hybrid"):
        ops.spgemm(a, random_sparse(7, 2, 0.5, dtype="float32", heads=2))
    with pytest.raises(ValueError, match=r"matmul: expected `input` with 5 columns"):
        sg.randn(3, 4) @ a
    with pytest.raises(TypeError, match=r"matmul: expected `other` values and `input` of the "
                                        r"same dtype \(got float32 and float64\)"):
        sg.randn(3, 5, dtype="float64") @ a


@given(n=st.integers(0, 5), m=st.integers(0, 5), rows=st.integers(0, 6),
       xdims=st.lists(st.integers(0, 4), min_size=0, max_size=3), heads=st.sampled_from([0, 1, 2]),
       dtype=st.sampled_from(["float32", "float64"]), density=st.floats(0, 1),
       layout=st.sampled_from(["csr", "coo"]))
def test_fuzzed_spmm_only_raises_clear_errors(n, m, rows, xdims, heads, dtype, density, layout):
    a = random_sparse(n, m, density, heads=heads or None, layout=layout, requires_grad=False)
    x = sg.zeros(rows, *xdims, dtype=dtype) + 1
    try:
        out = ops.spmm(a, x)
    except (ValueError, TypeError):
        return
    ref = np.einsum("nm...,m...f->n...f" if heads else "nm,m...->n...", dense_of(a), x.numpy())
    assert out.shape == ref.shape
    assert_close(out, ref)


def _peak(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kernel", kernel_names("spmm", "sddmm"))
def test_spmm_backward_never_allocates_an_edges_by_features_array(kernel):
    rng = np.random.default_rng(0)
    n, e, f = 2000, 200_000, 64
    a = sg.from_edge_index(np.stack([rng.integers(0, n, e), rng.integers(0, n, e)]), n)
    a = a.with_values(sg.tensor(rng.random(a.nnz).astype(np.float32), requires_grad=True))
    x = sg.randn(n, f, requires_grad=True)
    e_by_f = a.nnz * f * 4
    with sg.kernels.use(kernel):
        out = ops.spmm(a, x)
        g = sg.ones(*out.shape)
        out.backward(g, retain_graph=True)  # warm up: compiles, cached transpose
        peak = _peak(lambda: out.backward(g))
    assert a.values.grad is not None and x.grad is not None
    assert peak < e_by_f / 4, f"backward peaked at {peak} bytes; E x F is {e_by_f}"


def test_spmm_with_constant_values_keeps_nothing_of_x():
    """GCN's normalised adjacency has constant values: dX = A^T G needs only A, so the layer's
    X W (N x F) must be freed once the forward is done, not held until backward."""
    import gc
    import weakref

    a = random_sparse(50, 40, density=0.2, seed=3, requires_grad=False)
    x = sg.randn(40, 8, dtype="float64", requires_grad=True)
    xw = x * 2.0
    ref = weakref.ref(xw)
    out = ops.spmm(a, xw)
    del xw
    gc.collect()
    assert ref() is None, "spmm kept its dense operand although only A is needed for backward"
    out.sum().backward()
    assert_close(x.grad, np.repeat(2.0 * a.to_dense().numpy().sum(axis=0)[:, None], 8, 1))


def test_docstring_examples():
    assert doctest.testmod(sparse_products, extraglobs={"sg": sg}).failed == 0


def test_matmul_with_more_duplicates_than_positions_runs_as_spmm():
    """An uncoalesced COO can store more entries than its N x M positions; ``@`` (whose cost
    model decides dense or sparse) gives what spmm gives."""
    a = sg.sparse_coo([[0, 0, 0], [0, 0, 0]], [1.0, 2.0, 3.0], (1, 1))
    assert_close(a @ sg.ones(1, 2), ops.spmm(a.to_csr(), sg.ones(1, 2)))
    assert_close(sg.ones(2, 1) @ a, np.full((2, 1), 6.0))


@pytest.mark.parametrize("fn", ["sddmm", "sparse_softmax", "sparse_log_softmax"])
def test_results_on_a_coo_input_line_up_with_its_values(fn):
    """Putting the result back on ``a`` (``a.with_values``) places every value on its own
    entry: the output keeps a's layout and entry order."""
    a = sg.sparse_coo([[1, 0, 1, 0], [0, 1, 2, 2]], [1.0, 2.0, 3.0, 4.0], (2, 3))
    x, y = sg.randn(2, 3, dtype="float32"), sg.randn(3, 3, dtype="float32")
    out = ops.sddmm(a, x, y) if fn == "sddmm" else getattr(ops, fn)(a)
    assert out.layout == "coo" and out.structure is a.structure
    reference = ops.sddmm(a.to_csr(), x, y) if fn == "sddmm" else getattr(ops, fn)(a.to_csr())
    assert_close(a.with_values(out.values).to_dense(), reference.to_dense())
