"""Softmax over each row's stored entries (per head), and the fused attention aggregation,
against masked dense references, through every kernel, with gradient checks and the memory rule
(the fused backward never builds an E x F array)."""

import doctest
import tracemalloc

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.ops import edge_softmax
from sparsegraph.testing import assert_close, gradcheck, random_sparse

CASES = {
    "plain": dict(n=6, m=5, density=0.5),
    "empty_rows": dict(n=6, m=5, density=0.6, empty_rows=True),
    "empty_matrix": dict(n=3, m=4, density=0.0),
    "single_row": dict(n=1, m=7, density=0.8),
    "coo_duplicates": dict(n=5, m=5, density=0.5, layout="coo", duplicates=True),
}


def kernel_names(*op_names):
    return sorted({k.name for op in op_names for k in sg.kernels.kernels(op, "cpu", "csr")})


def masked_softmax(a, log=False):
    """Row softmax of a CSR tensor's values by a Python loop over rows (the reference)."""
    s, v = a.structure, a.values.detach().numpy()
    out = np.empty_like(v)
    for r in range(a.shape[0]):
        lo, hi = s.indptr[r], s.indptr[r + 1]
        if hi > lo:
            z = v[lo:hi] - v[lo:hi].max(0)
            out[lo:hi] = z - np.log(np.exp(z).sum(0)) if log else np.exp(z) / np.exp(z).sum(0)
    return out


@pytest.mark.parametrize("kernel", kernel_names("csr_softmax", "csr_log_softmax"))
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("heads", [None, 3])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_sparse_softmax_matches_masked_dense_softmax(kernel, case, heads, log):
    a = random_sparse(**CASES[case], heads=heads, seed=1)
    fn = ops.sparse_log_softmax if log else ops.sparse_softmax
    with sg.kernels.use(kernel):
        out = fn(a)
        csr = a.to_csr()
        assert out.structure is a.structure  # a COO input keeps its layout and entry order
        assert_close(out.to_csr().values, masked_softmax(csr, log))
        if a.nnz:
            gradcheck(lambda t: fn(t).values, [a])


def test_softmax_gradient_matches_the_dense_softmax_gradient():
    a = random_sparse(5, 4, 0.6, seed=2)
    out = ops.sparse_softmax(a)
    g = np.random.default_rng(3).standard_normal(out.nnz)
    out.values.backward(sg.tensor(g))
    p, s = out.values.detach().numpy(), a.structure
    expected = np.empty_like(p)
    for r in range(a.shape[0]):
        lo, hi = s.indptr[r], s.indptr[r + 1]
        expected[lo:hi] = p[lo:hi] * (g[lo:hi] - (p[lo:hi] * g[lo:hi]).sum())
    assert_close(a.values.grad, expected)


def test_softmax_is_stable_and_rows_sum_to_one():
    a = sg.sparse_csr([0, 2, 3], [0, 1, 1], sg.tensor([1000.0, -1000.0, 1e4]), (2, 2))
    out = ops.sparse_softmax(a)
    assert_close(out.values, [1.0, 0.0, 1.0])
    assert_close(ops.sparse_log_softmax(a).values, [0.0, -2000.0, 0.0])
    b = random_sparse(8, 6, 0.5, dtype="float32", heads=2, seed=4, empty_rows=True)
    sums = ops.sparse_sum(ops.sparse_softmax(b), 1).detach().numpy()
    nonempty = np.diff(b.structure.indptr) > 0
    assert_close(sums[nonempty], np.ones((nonempty.sum(), 2), np.float32))
    assert_close(sums[~nonempty], np.zeros(((~nonempty).sum(), 2), np.float32))


@pytest.mark.parametrize("kernel", kernel_names("csr_softmax_spmm", "spmm", "sddmm"))
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("heads", [None, 2])
def test_fused_attention_matches_the_unfused_ops(kernel, case, heads):
    a = random_sparse(**CASES[case], heads=heads, seed=5)
    fshape = (3,) if heads is None else (heads, 3)
    x = sg.randn(a.shape[1], *fshape, dtype="float64", requires_grad=True)
    with sg.kernels.use(kernel):
        fused = ops.edge_softmax_spmm(a, x)
        g = sg.tensor(np.random.default_rng(6).standard_normal(fused.shape))
        fused.backward(g)
        ga, gx = a.values.grad.numpy(), x.grad.numpy()
        a.values.grad = x.grad = None
        unfused = ops.spmm(ops.sparse_softmax(a), x)
        unfused.backward(g)
        assert_close(fused, unfused)
        assert_close(ga, a.values.grad)
        assert_close(gx, x.grad)
        if a.nnz:
            gradcheck(ops.edge_softmax_spmm, [a, x])


def test_fused_attention_leaves_rows_without_edges_at_zero():
    a = random_sparse(6, 4, 0.7, heads=2, seed=7, empty_rows=True)
    out = ops.edge_softmax_spmm(a, sg.randn(4, 2, 5, dtype="float64"))
    empty = np.diff(a.structure.indptr) == 0
    assert empty.any() and not out.detach().numpy()[empty].any()


def test_validation_errors():
    a = random_sparse(4, 5, 0.5, dtype="float32", heads=2, seed=8)
    with pytest.raises(TypeError, match="sparse_softmax: expected a SparseTensor"):
        ops.sparse_softmax(sg.randn(3, 3))
    ints = sg.sparse_coo([[0], [0]], np.array([1], np.int64), (1, 1))
    with pytest.raises(TypeError, match=r"sparse_softmax: expected floating values \(got int64"):
        ops.sparse_softmax(ints)
    with pytest.raises(ValueError, match=r"edge_softmax_spmm: expected `x` with 5 rows to match "
                                         r"`scores` of shape \(4, 5\) \(got 6\)"):
        ops.edge_softmax_spmm(a, sg.randn(6, 2, 3))
    with pytest.raises(ValueError, match=r"edge_softmax_spmm: expected `x` with 2 heads"):
        ops.edge_softmax_spmm(a, sg.randn(5, 3, 3))
    with pytest.raises(ValueError, match=r"edge_softmax_spmm: expected `x` with 3 dims"):
        ops.edge_softmax_spmm(a, sg.randn(5, 3))
    with pytest.raises(TypeError, match=r"edge_softmax_spmm: .*`x` .* float32 \(got float64\)"):
        ops.edge_softmax_spmm(a, sg.randn(5, 2, 3, dtype="float64"))
    with pytest.raises(TypeError, match="edge_softmax_spmm: expected `x` to be a Tensor"):
        ops.edge_softmax_spmm(a, np.ones((5, 2, 3), np.float32))


def _peak(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kernel", kernel_names("csr_softmax_spmm"))
def test_fused_backward_never_allocates_an_edges_by_features_array(kernel):
    rng = np.random.default_rng(0)
    n, e, f = 2000, 200_000, 64
    a = sg.from_edge_index(np.stack([rng.integers(0, n, e), rng.integers(0, n, e)]), n)
    a = a.with_values(sg.tensor(rng.standard_normal(a.nnz).astype(np.float32),
                                requires_grad=True))
    x = sg.randn(n, f, requires_grad=True)
    e_by_f = a.nnz * f * 4
    with sg.kernels.use(kernel):
        out = ops.edge_softmax_spmm(a, x)
        g = sg.ones(*out.shape)
        out.backward(g, retain_graph=True)  # warm up: compiles, cached transpose
        peak = _peak(lambda: out.backward(g))
    assert peak < e_by_f / 4, f"fused backward peaked at {peak} bytes; E x F is {e_by_f}"


def test_docstring_examples():
    assert doctest.testmod(edge_softmax, extraglobs={"sg": sg}).failed == 0
