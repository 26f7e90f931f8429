"""Raw-array CSR kernels (sparsegraph.ops.sparse_kernels): every registered kernel of every op
against a dense numpy reference, plus structure helpers, determinism and memory bounds."""

import tracemalloc

import numba
import numpy as np
import pytest

import sparsegraph.ops.sparse_kernels  # noqa: F401  (registers the kernels)
from sparsegraph.kernels import dispatch, kernels
from sparsegraph.ops.sparse_kernels import generic, structure

INDEX = [pytest.param(np.int32, id="i32"), pytest.param(np.int64, id="i64")]
FLOAT = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]
HEADS = [pytest.param(None, id="scalar"), pytest.param(2, id="H2")]
# name: (n_rows, n_cols, row of every entry); columns are drawn at random, with repeats
CASES = {
    "random": (7, 5, [0, 0, 0, 1, 2, 2, 4, 5, 5, 5, 5, 6]),
    "empty_rows": (7, 4, [1, 1, 2, 4, 4, 4]),
    "nnz0": (4, 3, []),
    "single_row": (1, 4, [0, 0, 0, 0, 0]),
    "zero_rows": (0, 3, []),
    "dup_cols": (3, 2, [0, 0, 0, 2, 2, 2]),
}


def ops_kernels(op):
    return [pytest.param(k.fn, id=k.name) for k in kernels(op, "cpu", "csr")]


def make_csr(case, idx, seed=0):
    """(indptr, indices, n_rows, n_cols) with int ``idx`` arrays; ``dup_cols`` repeats columns."""
    n_rows, n_cols, rows = CASES[case]
    rng = np.random.default_rng(seed)
    rows = np.asarray(rows, dtype=np.int64)
    cols = rng.integers(0, n_cols, rows.size) if case != "dup_cols" else np.zeros(rows.size)
    indptr = np.zeros(n_rows + 1, dtype=idx)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, cols.astype(idx), n_rows, n_cols


def dense(indptr, indices, values, n_cols):
    """(N, M) or (N, M, H) dense matrix; duplicates add up."""
    rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    out = np.zeros((indptr.size - 1, n_cols) + values.shape[1:])
    np.add.at(out, (rows, indices), values)
    return out


def randn(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def assert_close(actual, expected, dtype):
    assert actual.dtype == dtype, f"dtype {actual.dtype} != {np.dtype(dtype)}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    tol = 2e-5 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def row_softmax_ref(indptr, values, log=False):
    v = values.astype(np.float64)
    out = np.empty_like(v)
    for i in range(indptr.size - 1):
        seg = v[indptr[i] : indptr[i + 1]]
        if seg.size:
            z = np.exp(seg - seg.max(axis=0))
            out[indptr[i] : indptr[i + 1]] = np.log(z / z.sum(0)) if log else z / z.sum(0)
    return out


@pytest.mark.parametrize("heads", HEADS)
@pytest.mark.parametrize("f", [3, 0], ids=["F3", "F0"])
@pytest.mark.parametrize("dtype", FLOAT)
@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("spmm", ops_kernels("spmm"))
def test_spmm_matches_dense(spmm, case, idx, dtype, f, heads):
    indptr, indices, n, m = make_csr(case, idx)
    rng = np.random.default_rng(1)
    hshape = () if heads is None else (heads,)
    values = randn(rng, (indices.size,) + hshape, dtype)
    x = randn(rng, (m,) + hshape + (f,), dtype)
    a = dense(indptr, indices, values, m)
    expected = np.einsum("nm...,m...f->n...f", a, x)
    assert_close(spmm(indptr, indices, values, x, n), expected, dtype)


@pytest.mark.parametrize("heads", HEADS)
@pytest.mark.parametrize("f", [3, 0], ids=["F3", "F0"])
@pytest.mark.parametrize("dtype", FLOAT)
@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("sddmm", ops_kernels("sddmm"))
def test_sddmm_matches_dense(sddmm, case, idx, dtype, f, heads):
    indptr, indices, n, m = make_csr(case, idx)
    rng = np.random.default_rng(2)
    hshape = () if heads is None else (heads,)
    x, y = randn(rng, (n,) + hshape + (f,), dtype), randn(rng, (m,) + hshape + (f,), dtype)
    rows = np.repeat(np.arange(n), np.diff(indptr))
    full = np.einsum("n...f,m...f->nm...", x.astype(np.float64), y)
    assert_close(sddmm(indptr, indices, x, y), full[rows, indices], dtype)


@pytest.mark.parametrize("heads", HEADS)
@pytest.mark.parametrize("dtype", FLOAT)
@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("name", ["generic", "numba"])
def test_csr_softmax_and_backward(name, log, case, idx, dtype, heads):
    op = "csr_log_softmax" if log else "csr_softmax"
    with_kernel = {k.name: k.fn for k in kernels(op, "cpu", "csr")}
    backward = {k.name: k.fn for k in kernels(op + "_backward", "cpu", "csr")}
    if name not in with_kernel:
        pytest.skip(f"no {name} kernel")
    indptr, indices, _, _ = make_csr(case, idx)
    rng = np.random.default_rng(3)
    hshape = () if heads is None else (heads,)
    scores = randn(rng, (indices.size,) + hshape, dtype) * 3
    out = with_kernel[name](indptr, scores)
    assert_close(out, row_softmax_ref(indptr, scores, log).astype(dtype), dtype)
    # backward against the explicit Jacobian of each row, per head
    g = randn(rng, scores.shape, dtype)
    expected = np.zeros(scores.shape)
    p, g64 = row_softmax_ref(indptr, scores), g.astype(np.float64)
    for i in range(indptr.size - 1):
        s = slice(indptr[i], indptr[i + 1])
        for h in np.ndindex(scores.shape[1:]):
            ph, gh = p[s][(...,) + h], g64[s][(...,) + h]
            jac = np.eye(ph.size) - ph[None, :] if log else np.diag(ph) - np.outer(ph, ph)
            expected[s][(...,) + h] = jac.T @ gh
    assert_close(backward[name](indptr, out, g), expected, dtype)


@pytest.mark.parametrize("heads", HEADS)
@pytest.mark.parametrize("dtype", FLOAT)
@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fused", ops_kernels("csr_softmax_spmm"))
def test_csr_softmax_spmm_matches_composition(fused, case, idx, dtype, heads):
    indptr, indices, n, m = make_csr(case, idx)
    rng = np.random.default_rng(4)
    hshape = () if heads is None else (heads,)
    scores = randn(rng, (indices.size,) + hshape, dtype)
    x = randn(rng, (m,) + hshape + (4,), dtype)
    alpha_ref = row_softmax_ref(indptr, scores)
    out_ref = np.einsum("nm...,m...f->n...f", dense(indptr, indices, alpha_ref, m), x)
    out, alpha = fused(indptr, indices, scores, x)
    assert_close(alpha, alpha_ref, dtype)
    assert_close(out, out_ref, dtype)


def segment_ref(indptr, src, reduce):
    """Per-segment numpy reduction; arg = first position of the extremum (-1 when empty)."""
    n_seg = indptr.size - 1
    out = np.zeros((n_seg,) + src.shape[1:], dtype=src.dtype)
    arg = np.full(out.shape, -1, dtype=np.int64)
    for s in range(n_seg):
        lo, hi = indptr[s], indptr[s + 1]
        if lo == hi:
            continue
        seg = src[lo:hi]
        if reduce in ("sum", "mean"):
            out[s] = seg.sum(0) if reduce == "sum" else seg.sum(0) / (hi - lo)
        else:
            pos = seg.argmax(0) if reduce == "max" else seg.argmin(0)  # first on ties
            arg[s] = pos + lo
            out[s] = np.take_along_axis(seg, pos[None], 0)[0]
    return out, (arg if reduce in ("max", "min") else None)


def check_reduction(got, expected, dtype):
    (out, arg), (out_ref, arg_ref) = got, expected
    assert_close(out, out_ref, dtype)
    if arg_ref is None:
        assert arg is None
    else:
        assert arg.dtype == np.int64
        np.testing.assert_array_equal(arg, arg_ref)


SRC_SHAPES = [
    pytest.param((), id="E"),
    pytest.param((3,), id="Ex3"),
    pytest.param((2, 2), id="Ex2x2"),
]
REDUCE = ["sum", "mean", "max", "min"]


@pytest.mark.parametrize("shape", SRC_SHAPES)
@pytest.mark.parametrize("dtype", FLOAT)
@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("reduce", REDUCE)
@pytest.mark.parametrize("segment_reduce", ops_kernels("segment_reduce"))
def test_segment_reduce_matches_reference(segment_reduce, reduce, case, idx, dtype, shape):
    indptr, indices, _, _ = make_csr(case, idx)
    # small integers force ties, so the tie rule is tested too
    src = np.random.default_rng(5).integers(-2, 3, (indices.size,) + shape).astype(dtype)
    got = segment_reduce(indptr, src, reduce)
    check_reduction(got, segment_ref(indptr, src, reduce), dtype)


@pytest.mark.parametrize("shape", SRC_SHAPES)
@pytest.mark.parametrize("dtype", FLOAT)
@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize(
    "size", [(0, 0), (0, 3), (12, 5), (30, 1)], ids=lambda s: f"E{s[0]}S{s[1]}"
)
@pytest.mark.parametrize("reduce", REDUCE)
@pytest.mark.parametrize("scatter_reduce", ops_kernels("scatter_reduce"))
def test_scatter_reduce_matches_reference(scatter_reduce, reduce, size, idx, dtype, shape):
    n_src, dim_size = size
    rng = np.random.default_rng(6)
    index = rng.integers(0, max(dim_size - 1, 1), n_src).astype(idx)  # the last output is empty
    src = rng.integers(-2, 3, (n_src,) + shape).astype(dtype)
    perm = np.argsort(index, kind="stable")
    indptr = np.zeros(dim_size + 1, dtype=np.int64)
    np.cumsum(np.bincount(index, minlength=dim_size), out=indptr[1:])
    out_ref, arg_ref = segment_ref(indptr, src[perm], reduce)
    if arg_ref is not None and n_src:  # ties: the smallest position in the unsorted src
        arg_ref = np.where(arg_ref >= 0, perm[np.maximum(arg_ref, 0)], -1)
    check_reduction(scatter_reduce(index, src, dim_size, reduce), (out_ref, arg_ref), dtype)


@pytest.mark.parametrize("reduce", ["max", "min"])
@pytest.mark.parametrize("segment_reduce", ops_kernels("segment_reduce"))
def test_segment_extrema_propagate_the_first_nan(segment_reduce, reduce):
    src = np.array([1.0, np.nan, 5.0, np.nan, 2.0, 3.0])
    out, arg = segment_reduce(np.array([0, 4, 6]), src, reduce)
    assert np.isnan(out[0]) and out[1] == (3.0 if reduce == "max" else 2.0)
    np.testing.assert_array_equal(arg, [1, 5 if reduce == "max" else 4])


def test_reduceat_fallback_for_cupy_matches_numpy():
    """The ``ufunc.at`` path used where cupy lacks maximum.reduceat (run here on numpy)."""

    class FakeXp:  # numpy under another identity, so `reduceat` takes its cupy branch
        def __getattr__(self, name):
            return getattr(np, name)

    src = np.random.default_rng(7).standard_normal((9, 2))
    starts, _, seg = generic.segments(np, np.array([0, 3, 3, 7, 9]), 9)
    for name in ("maximum", "minimum"):
        np.testing.assert_array_equal(
            generic.reduceat(FakeXp(), name, src, starts, seg),
            getattr(np, name).reduceat(src, starts, axis=0),
        )


@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("csr_transpose", ops_kernels("csr_transpose"))
def test_csr_transpose_permutes_values(csr_transpose, case, idx):
    indptr, indices, n, m = make_csr(case, idx)
    values = np.random.default_rng(8).standard_normal(indices.size)
    t_indptr, t_indices, perm = csr_transpose(indptr, indices, m)
    assert t_indptr.dtype == perm.dtype == idx and t_indices.dtype == idx
    np.testing.assert_array_equal(
        dense(t_indptr, t_indices, values[perm], n), dense(indptr, indices, values, m).T
    )
    for j in range(m):  # stable: transposed rows list their entries in original order
        assert np.all(np.diff(perm[t_indptr[j] : t_indptr[j + 1]]) > 0)


@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize("coo_to_csr", ops_kernels("coo_to_csr"))
def test_coo_to_csr_sorts_by_row_then_col_stably(coo_to_csr, idx):
    row = np.array([2, 0, 2, 1, 0, 2, 0], dtype=idx)
    col = np.array([1, 3, 0, 2, 3, 1, 0], dtype=idx)
    indptr, indices, perm = coo_to_csr(row, col, 4)
    np.testing.assert_array_equal(indptr, [0, 3, 4, 7, 7])
    np.testing.assert_array_equal(indices, [0, 3, 3, 2, 0, 1, 1])
    np.testing.assert_array_equal(perm, [6, 1, 4, 3, 2, 0, 5])  # duplicates keep input order
    assert indptr.dtype == perm.dtype == idx and indices.dtype == idx
    empty = coo_to_csr(row[:0], col[:0], 3)
    np.testing.assert_array_equal(empty[0], [0, 0, 0, 0])
    assert empty[1].size == empty[2].size == 0


def test_coalesce_and_row_ids():
    row = np.array([1, 0, 1, 1, 0], dtype=np.int32)
    col = np.array([2, 1, 2, 0, 1], dtype=np.int32)
    u_row, u_col, inverse = structure.coalesce(row, col, 2, 3)
    np.testing.assert_array_equal(u_row, [0, 1, 1])
    np.testing.assert_array_equal(u_col, [1, 0, 2])
    np.testing.assert_array_equal(inverse, [2, 0, 2, 1, 0])
    assert u_row.dtype == np.int32 and inverse.dtype == np.int64
    values = np.arange(5.0)
    summed, _ = dispatch("scatter_reduce", "cpu", "csr")(inverse, values, 3, "sum")
    np.testing.assert_array_equal(summed, [5.0, 3.0, 2.0])
    ids = structure.csr_row_ids(np.array([0, 2, 2, 3], dtype=np.int32), 3)
    np.testing.assert_array_equal(ids, [0, 0, 2])
    assert ids.dtype == np.int32


def random_structure(n, nnz, seed):
    rng = np.random.default_rng(seed)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rng.integers(0, n, nnz), minlength=n), out=indptr[1:])
    return indptr, rng.integers(0, n, nnz).astype(np.int32), rng


def numba_kernel(op):
    return {k.name: k.fn for k in kernels(op, "cpu", "csr")}["numba"]


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def test_numba_kernels_do_not_depend_on_thread_count(monkeypatch):
    from sparsegraph.ops.sparse_kernels import numba_util

    monkeypatch.setattr(numba_util, "SERIAL_BELOW", 0)  # use the thread team at any size
    n, nnz = 3000, 60000
    indptr, indices, rng = random_structure(n, nnz, 9)
    values, x = randn(rng, nnz, np.float32), randn(rng, (n, 16), np.float32)
    calls = {
        "spmm": (indptr, indices, values, x, n),
        "sddmm": (indptr, indices, x, x),
        "csr_softmax_spmm": (indptr, indices, values, x),
        "segment_reduce": (indptr, x[indices], "max"),
    }
    saved = numba.get_num_threads()
    try:
        for op, args in calls.items():
            numba.set_num_threads(1)
            one = as_tuple(numba_kernel(op)(*args))
            numba.set_num_threads(saved)
            for a, b in zip(as_tuple(numba_kernel(op)(*args)), one, strict=True):
                np.testing.assert_array_equal(a, b, err_msg=op)
    finally:
        numba.set_num_threads(saved)


@pytest.mark.parametrize("chunks", [1, 3], ids=["one_chunk", "three_chunks"])
def test_counting_sorts_match_the_stable_argsort(monkeypatch, chunks):
    """The per-chunk histograms (used above 1M entries) give the same stable order."""
    from sparsegraph.ops.sparse_kernels import numba_kernels

    monkeypatch.setattr(numba_kernels, "sort_chunks", lambda nnz, n_keys: chunks)
    n, nnz = 40, 500
    indptr, indices, rng = random_structure(n, nnz, 11)
    generic_of = {
        op: {k.name: k.fn for k in kernels(op, "cpu", "csr")}["generic"]
        for op in ("csr_transpose", "coo_to_csr", "scatter_reduce")
    }
    for got, want in zip(
        numba_kernel("csr_transpose")(indptr, indices, n),
        generic_of["csr_transpose"](indptr, indices, n),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)
    row = rng.integers(0, n, nnz).astype(np.int32)
    row[::3] = 7  # one long row (merge sort path) with many duplicate columns
    for got, want in zip(
        numba_kernel("coo_to_csr")(row, indices, n),
        generic_of["coo_to_csr"](row, indices, n),
        strict=True,
    ):
        np.testing.assert_array_equal(got, want)
    src = rng.integers(-2, 3, (nnz, 2)).astype(np.float64)
    for reduce in ("sum", "max"):
        got = numba_kernel("scatter_reduce")(row, src, n + 2, reduce)
        want = generic_of["scatter_reduce"](row, src, n + 2, reduce)
        np.testing.assert_array_equal(got[0], want[0])
        if reduce == "max":
            np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("name", ["generic", "numba"])
@pytest.mark.parametrize("op", ["spmm", "sddmm"])
def test_spmm_sddmm_never_allocate_edges_by_features(op, name):
    n, nnz, f = 500, 200_000, 64
    rng = np.random.default_rng(10)
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rng.integers(0, n, nnz), minlength=n), out=indptr[1:])
    indices = rng.integers(0, n, nnz).astype(np.int32)
    values, x = randn(rng, nnz, np.float32), randn(rng, (n, f), np.float32)
    fn = {k.name: k.fn for k in kernels(op, "cpu", "csr")}[name]
    args = (indptr, indices, values, x, n) if op == "spmm" else (indptr, indices, x, x)
    fn(*args)  # compile / warm up outside the traced region
    tracemalloc.start()
    try:
        fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    edge_by_feature = nnz * f * 4
    assert peak < edge_by_feature / 4, f"peak {peak} bytes vs E x F = {edge_by_feature}"


def test_small_inputs_run_on_one_thread_and_give_the_same_result(monkeypatch):
    from sparsegraph.ops.sparse_kernels import numba_util

    seen = []
    real = numba.set_num_threads
    monkeypatch.setattr(numba, "set_num_threads", lambda n: (seen.append(n), real(n)))
    indptr, indices, rng = random_structure(50, 200, 3)
    values, x = randn(rng, 200, np.float32), randn(rng, (50, 4), np.float32)
    small = numba_kernel("spmm")(indptr, indices, values, x, 50)
    if numba.get_num_threads() > 1:
        assert seen[:1] == [1]  # switched to one thread, then restored
    monkeypatch.setattr(numba_util, "SERIAL_BELOW", 0)
    np.testing.assert_array_equal(numba_kernel("spmm")(indptr, indices, values, x, 50), small)


@pytest.mark.parametrize("dtype", FLOAT)
@pytest.mark.parametrize("idx", INDEX)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("need", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("spmm_backward", ops_kernels("spmm_backward"))
def test_spmm_backward_matches_dense(spmm_backward, need, case, idx, dtype):
    """Both gradients of out = A @ x from the transposed structure, against dense algebra."""
    indptr, indices, n, m = make_csr(case, idx)
    rng = np.random.default_rng(3)
    values, x, g = randn(rng, indices.size, dtype), randn(rng, (m, 5), dtype), randn(
        rng, (n, 5), dtype)
    transpose = {k.name: k.fn for k in kernels("csr_transpose", "cpu", "csr")}["generic"]
    t_indptr, t_indices, perm = transpose(indptr, indices, m)
    kept = values.copy()
    gv, gx = spmm_backward(t_indptr, t_indices, perm, values, g, x, *need)
    np.testing.assert_array_equal(values, kept)  # the fused kernel writes dv over a copy
    rows = np.repeat(np.arange(n), np.diff(indptr))
    if need[0]:
        assert_close(gv, np.einsum("ef,ef->e", g[rows].astype(np.float64),
                                   x[indices].astype(np.float64)), dtype)
    else:
        assert gv is None
    if need[1]:
        assert_close(gx, dense(indptr, indices, values, m).T @ g.astype(np.float64), dtype)
    else:
        assert gx is None


@pytest.mark.parametrize("shape", [(0,), (7,), (1000,), (9, 3)])
@pytest.mark.parametrize("take", ops_kernels("take"))
def test_take_gathers_values_in_a_new_entry_order(take, shape):
    rng = np.random.default_rng(4)
    a = randn(rng, shape, np.float32)
    perm = rng.permutation(shape[0]).astype(np.int32)
    np.testing.assert_array_equal(take(a, perm), a[perm])
