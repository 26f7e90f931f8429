"""Gather / scatter / segment ops (sparsegraph.ops.gather_scatter) against dense numpy
references, float64 gradient checks, validation, fuzzing and kernel parity through the ops."""

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.kernels import kernels
from sparsegraph.ops import gather_scatter
from sparsegraph.testing import assert_close, gradcheck

REDUCES = ["sum", "mean", "max", "min"]
INDEX = [pytest.param(np.int32, id="i32"), pytest.param(np.int64, id="i64")]
TAILS = [pytest.param((), id="1d"), pytest.param((4,), id="2d"), pytest.param((3, 2), id="3d")]
# name: (dim_size, index of every source row); "holes" leaves outputs 1, 4 and 6 empty
CASES = {
    "holes": (7, [5, 0, 3, 0, 2, 5, 5, 3, 0]),
    "single": (1, [0, 0, 0, 0]),
    "e0": (3, []),
    "e0_s0": (0, []),
}


# ---- dense references (loops, test-only) -----------------------------------------------------
def ref_scatter(src, index, n, reduce):
    """``(out, arg)``; arg = first source position of the extremum, -1 for empty outputs."""
    out = np.zeros((n,) + src.shape[1:], dtype=src.dtype)
    arg = np.full(out.shape, -1, dtype=np.int64)
    for s in range(n):
        rows = np.flatnonzero(index == s)
        if rows.size == 0:
            continue
        part = src[rows]
        if reduce == "sum":
            out[s] = part.sum(0)
        elif reduce == "mean":
            out[s] = part.sum(0) / rows.size if src.dtype.kind == "f" else part.sum(0) // rows.size
        else:
            pick = part.argmax(0) if reduce == "max" else part.argmin(0)
            out[s] = np.take_along_axis(part, pick[None], 0)[0]
            arg[s] = rows[pick]
    return out, arg


def ref_grad(g, index, arg, shape, reduce):
    """Gradient w.r.t. src of ``<g, scatter(src)>``."""
    if reduce in ("sum", "mean"):
        count = np.bincount(index, minlength=g.shape[0]).reshape((-1,) + (1,) * (g.ndim - 1))
        return g[index] / (count[index] if reduce == "mean" else 1)
    out = np.zeros(shape)
    for s, k in np.ndindex(g.shape[0], int(np.prod(shape[1:]))):
        a = arg.reshape(g.shape[0], -1)[s, k]
        if a >= 0:
            out.reshape(shape[0], -1)[a, k] = g.reshape(g.shape[0], -1)[s, k]
    return out


def ref_softmax(src, index, n):
    out = np.zeros_like(src)
    for s in range(n):
        rows = np.flatnonzero(index == s)
        if rows.size:
            e = np.exp(src[rows] - src[rows].max(0))
            out[rows] = e / e.sum(0)
    return out


def make(case, tail, idx_dtype, seed=0, dtype=np.float64):
    n, index = CASES[case]
    index = np.asarray(index, dtype=idx_dtype)
    # distinct values (a permutation): no ties, so max/min gradients are well defined
    rng = np.random.default_rng(seed)
    size = index.size * int(np.prod(tail))
    src = (rng.permutation(size) + rng.random(size)).reshape((index.size,) + tail).astype(dtype)
    return src, index, n


def indptr_of(index, n):
    return np.concatenate([[0], np.cumsum(np.bincount(index, minlength=n))]).astype(index.dtype)


# ---- forward against the references ----------------------------------------------------------
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("tail", TAILS)
@pytest.mark.parametrize("idx_dtype", INDEX)
@pytest.mark.parametrize("case", list(CASES))
def test_scatter_and_segment_match_reference(case, idx_dtype, tail, reduce):
    src, index, n = make(case, tail, idx_dtype)
    expected, arg = ref_scatter(src, index, n, reduce)
    g = np.random.default_rng(9).standard_normal(expected.shape)
    grad = ref_grad(g, index, arg, src.shape, reduce)
    order = np.argsort(index, kind="stable")
    x, xs = sg.tensor(src, requires_grad=True), sg.tensor(src[order], requires_grad=True)
    for got, leaf, want in ((ops.scatter(x, index, n, reduce), x, grad),
                            (ops.segment(xs, indptr_of(index, n), reduce), xs, grad[order])):
        assert_close(got, expected)
        got.backward(sg.tensor(g))
        assert_close(leaf.grad, want)


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_integer_src_and_default_dim_size(reduce):
    src = np.array([[5, 1], [2, 8], [7, 3]], dtype=np.int64)
    index = np.array([2, 0, 2])
    out = ops.scatter(sg.tensor(src), index, reduce=reduce)  # dim_size = max + 1 = 3
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), ref_scatter(src, index, 3, reduce)[0])


@pytest.mark.parametrize("fn", [ops.scatter_add, ops.scatter_mean], ids=["add", "mean"])
def test_scatter_conveniences(fn):
    src, index, n = make("holes", (4,), np.int64)
    reduce = "sum" if fn is ops.scatter_add else "mean"
    assert_close(fn(sg.tensor(src), index, n), ref_scatter(src, index, n, reduce)[0])


@pytest.mark.parametrize("which", ["max", "min"])
def test_scatter_max_min_return_arg_like_torch_scatter(which):
    src = np.array([[1.0, 9.0], [4.0, 9.0], [4.0, 2.0], [0.5, 3.0]])  # ties in both columns
    index = np.array([0, 0, 0, 2])
    fn = ops.scatter_max if which == "max" else ops.scatter_min
    out, arg = fn(sg.tensor(src), index, 4)
    ref_out, ref_arg = ref_scatter(src, index, 4, which)
    assert_close(out, ref_out)
    # ties: the first position; empty outputs: src.shape[0] (out of range, as torch_scatter)
    np.testing.assert_array_equal(arg.numpy(), np.where(ref_arg < 0, 4, ref_arg))
    assert arg.dtype == np.int64 and not arg.requires_grad


def test_scatter_along_dim1_matches_moved_axis():
    src, index, n = make("holes", (4,), np.int64)
    moved = np.ascontiguousarray(np.moveaxis(src.reshape(-1, 2, 2), 0, 1))  # (2, E, 2)
    for reduce in REDUCES:
        got = ops.scatter(sg.tensor(moved), index, n, reduce, dim=1)
        ref = np.moveaxis(ref_scatter(src.reshape(-1, 2, 2), index, n, reduce)[0], 0, 1)
        assert_close(got, ref)
    values, arg = ops.scatter_max(sg.tensor(moved), index, n, dim=-2)
    ref_arg = np.moveaxis(ref_scatter(src.reshape(-1, 2, 2), index, n, "max")[1], 0, 1)
    np.testing.assert_array_equal(arg.numpy(), np.where(ref_arg < 0, index.size, ref_arg))


@pytest.mark.parametrize("tail", TAILS)
def test_gather_rows_forward_and_scatter_add_backward(tail):
    rng = np.random.default_rng(1)
    src = rng.standard_normal((5,) + tail)
    index = np.array([4, 0, 4, 4, 2, 0], dtype=np.int32)
    x = sg.tensor(src, requires_grad=True)
    out = ops.gather_rows(x, index)
    assert_close(out, src[index])
    g = rng.standard_normal(out.shape)
    out.backward(sg.tensor(g))
    expected = np.zeros_like(src)
    np.add.at(expected, index, g)  # repeated indices accumulate; row 1, 3 get nothing
    assert_close(x.grad, expected)


def test_gather_rows_backward_is_deterministic():
    rng = np.random.default_rng(2)
    x = sg.tensor(rng.standard_normal((50, 8)).astype(np.float32), requires_grad=True)
    index = rng.integers(0, 50, 5000)
    g = sg.tensor(rng.standard_normal((5000, 8)).astype(np.float32))
    grads = []
    for _ in range(2):
        x.grad = None
        ops.gather_rows(x, index).backward(g)
        grads.append(x.grad.numpy().copy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_gather_rows_e0_and_tensor_index():
    x = sg.randn(3, 2, dtype="float64", requires_grad=True)
    out = ops.gather_rows(x, sg.tensor(np.zeros(0, dtype=np.int64)))
    assert out.shape == (0, 2)
    assert ops.gather_rows(x, sg.tensor([2, 0])).shape == (2, 2)


# ---- gradients -------------------------------------------------------------------------------
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("tail", TAILS)
def test_scatter_and_segment_gradcheck(tail, reduce):
    src, index, n = make("holes", tail, np.int64, seed=3)
    x = sg.tensor(src, requires_grad=True)
    gradcheck(lambda t: ops.scatter(t, index, n, reduce), [x])
    order = np.argsort(index, kind="stable")
    xs = sg.tensor(src[order], requires_grad=True)
    gradcheck(lambda t: ops.segment(t, indptr_of(index, n), reduce), [xs])


def test_gradcheck_gather_rows_dim1_scatter_and_scatter_max():
    src, index, n = make("holes", (4,), np.int64, seed=4)
    x = sg.tensor(src, requires_grad=True)
    gradcheck(lambda t: ops.gather_rows(t, index[::-1].copy()), [x])
    xt = sg.tensor(np.ascontiguousarray(src.T), requires_grad=True)
    gradcheck(lambda t: ops.scatter(t, index, n, "max", dim=1), [xt])
    gradcheck(lambda t: ops.scatter(t, index, n, "mean", dim=1), [xt])
    gradcheck(lambda t: ops.scatter_max(t, index, n)[0], [x])
    gradcheck(lambda t: ops.scatter_min(t, index, n)[0], [x])


def test_max_gradient_goes_to_first_tie_only():
    x = sg.tensor([3.0, 3.0, 1.0], dtype="float64", requires_grad=True)
    ops.scatter(x, [0, 0, 0], 1, "max").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0])


# ---- segment softmax -------------------------------------------------------------------------
@pytest.mark.parametrize("heads", [pytest.param((), id="E"), pytest.param((3,), id="EH")])
@pytest.mark.parametrize("case", list(CASES))
def test_segment_softmax_matches_masked_softmax(case, heads):
    src, index, n = make(case, heads, np.int64, seed=5)
    src = src * 100  # large scores: the segment max must be subtracted
    expected = ref_softmax(src, index, n)
    got = ops.segment_softmax(sg.tensor(src), index, num_segments=n)
    assert_close(got, expected)
    order = np.argsort(index, kind="stable")
    by_ptr = ops.segment_softmax(sg.tensor(src[order]), indptr=indptr_of(index, n))
    assert_close(by_ptr, expected[order])
    sums = ref_scatter(got.numpy(), index, n, "sum")[0]
    nonempty = np.bincount(index, minlength=n) > 0
    assert_close(sums[nonempty], np.ones_like(sums[nonempty]))


def test_segment_softmax_dense_masked_reference_and_dtype():
    rng = np.random.default_rng(6)
    index = np.array([2, 0, 2, 2, 0])
    src = rng.standard_normal(5).astype(np.float32)
    mask = index[None, :] == np.arange(3)[:, None]  # (S, E)
    dense = np.where(mask, src[None, :], -np.inf)
    with np.errstate(invalid="ignore"):
        probs = np.exp(dense - dense.max(1, keepdims=True))
        probs = probs / probs.sum(1, keepdims=True)
    expected = probs[index, np.arange(5)]
    got = ops.segment_softmax(sg.tensor(src), index)
    assert got.dtype == np.float32
    assert_close(got, expected)


@pytest.mark.parametrize("heads", [pytest.param((), id="E"), pytest.param((2,), id="EH")])
def test_segment_softmax_gradcheck(heads):
    src, index, n = make("holes", heads, np.int64, seed=7)
    x = sg.tensor(src / 10, requires_grad=True)
    gradcheck(lambda t: ops.segment_softmax(t, index, num_segments=n), [x])
    order = np.argsort(index, kind="stable")
    xs = sg.tensor(src[order] / 10, requires_grad=True)
    gradcheck(lambda t: ops.segment_softmax(t, indptr=indptr_of(index, n)), [xs])


# ---- kernel parity through the ops -----------------------------------------------------------
def run_all(src, index, n):
    """Every op forward and backward on one input; returns a list of arrays to compare."""
    order = np.argsort(index, kind="stable")
    ptr = indptr_of(index, n)
    cases = [(src, lambda t, r=r: ops.scatter(t, index, n, r)) for r in REDUCES]
    cases += [(src[order], lambda t, r=r: ops.segment(t, ptr, r)) for r in REDUCES]
    cases += [(src, lambda t: ops.segment_softmax(t, index, num_segments=n)),
              (src[order], lambda t: ops.segment_softmax(t, indptr=ptr)),
              (src, lambda t: ops.gather_rows(t, index[::-1] % max(src.shape[0], 1)))]
    results = []
    for data, fn in cases:
        x = sg.tensor(data, requires_grad=True)
        out = fn(x)
        weights = np.arange(int(np.prod(out.shape)), dtype=np.float64).reshape(out.shape) % 3
        out.backward(sg.tensor(weights))
        results += [out.detach().numpy(), x.grad.numpy()]
    return results


PARITY_OPS = ["segment_reduce", "scatter_reduce", "csr_softmax", "csr_softmax_backward",
              "coo_to_csr"]


@pytest.mark.parametrize("op", PARITY_OPS)
@pytest.mark.parametrize("case", list(CASES))
def test_every_kernel_matches_through_the_ops(op, case):
    src, index, n = make(case, (4,), np.int64, seed=8)
    reference = run_all(src, index, n)
    names = [k.name for k in kernels(op, "cpu", "csr")]
    assert "generic" in names
    for name in names:
        with sg.kernels.use(**{op: name}):
            for got, ref in zip(run_all(src, index, n), reference, strict=True):
                assert_close(got, ref, msg=f"{op}={name}")


# ---- validation ------------------------------------------------------------------------------
def test_error_messages():
    x = sg.randn(12, 4)
    with pytest.raises(ValueError, match=r"scatter: expected `index` with 12 entries to match "
                                         r"`src` of shape \(12, 4\) \(got 10\)"):
        ops.scatter(x, np.zeros(10, dtype=np.int64))
    with pytest.raises(ValueError, match=r"scatter: expected `index` values in \[0, 3\) \(got 7\)"):
        ops.scatter(x, np.r_[np.zeros(11, dtype=np.int64), 7], 3)
    with pytest.raises(ValueError, match=r"gather_rows: .* in \[0, 12\) \(got -1\)"):
        ops.gather_rows(x, [0, -1])
    with pytest.raises(TypeError, match=r"scatter: expected `index` with an integer dtype"):
        ops.scatter(x, np.zeros(12))
    with pytest.raises(ValueError, match=r"scatter: expected `index` to be 1-D"):
        ops.scatter(x, np.zeros((12, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"scatter: expected `reduce` in"):
        ops.scatter(x, np.zeros(12, dtype=np.int64), reduce="prod")
    with pytest.raises(ValueError, match=r"scatter: expected a non-negative `dim_size`"):
        ops.scatter(x, np.zeros(12, dtype=np.int64), -1)
    with pytest.raises(TypeError, match=r"scatter: expected `dim_size` to be an int"):
        ops.scatter(x, np.zeros(12, dtype=np.int64), 2.0)
    with pytest.raises(ValueError, match=r"scatter: expected `dim` in \[-2, 1\] \(got 2\)"):
        ops.scatter(x, np.zeros(12, dtype=np.int64), dim=2)
    with pytest.raises(TypeError, match=r"scatter: expected `src` to be a Tensor"):
        ops.scatter(np.zeros(12), np.zeros(12, dtype=np.int64))
    with pytest.raises(TypeError, match=r"scatter: expected `src` with a numeric"):
        ops.scatter(sg.tensor([True, False]), [0, 0])


def test_indptr_and_softmax_errors():
    x = sg.randn(5, 2)
    with pytest.raises(ValueError, match=r"segment: expected `indptr` to start at 0 and end at "
                                         r"5, .* \(got 0 and 4\)"):
        ops.segment(x, [0, 2, 4])
    with pytest.raises(ValueError, match=r"segment: expected a non-decreasing `indptr`"):
        ops.segment(x, [0, 3, 2, 5])
    with pytest.raises(ValueError, match=r"segment: expected `indptr` with at least one entry"):
        ops.segment(x, np.zeros(0, dtype=np.int64))
    with pytest.raises(TypeError, match=r"segment_softmax: expected `src` with a floating"):
        ops.segment_softmax(sg.tensor([1, 2]), [0, 0])
    with pytest.raises(ValueError, match=r"segment_softmax: expected `index` or `indptr`"):
        ops.segment_softmax(x)
    with pytest.raises(ValueError, match=r"segment_softmax: expected `num_segments` to equal"):
        ops.segment_softmax(x, indptr=[0, 5], num_segments=2)


@given(
    index=st.one_of(
        hnp.arrays(st.sampled_from([np.int8, np.int32, np.int64]), st.integers(0, 8),
                   elements=st.integers(-3, 9)),
        hnp.arrays(np.uint16, st.integers(0, 8), elements=st.integers(0, 9)),
        hnp.arrays(st.sampled_from([np.int64, np.float64, np.bool_]),
                   hnp.array_shapes(min_dims=0, max_dims=2, max_side=6)),
        st.lists(st.one_of(st.integers(-2, 2**70), st.floats(), st.text(max_size=2)),
                 max_size=7),
    ),
    dim_size=st.one_of(st.none(), st.integers(-2, 10)),
    reduce=st.sampled_from(REDUCES + ["prod"]),
    n_rows=st.integers(0, 7),
)
def test_fuzz_malformed_index_raises_only_value_or_type_errors(index, dim_size, reduce, n_rows):
    x = sg.tensor(np.arange(n_rows * 2, dtype=np.float64).reshape(n_rows, 2))
    calls = [
        lambda: ops.scatter(x, index, dim_size, reduce),
        lambda: ops.segment(x, index, reduce),
        lambda: ops.segment_softmax(x, index, num_segments=dim_size),
        lambda: ops.segment_softmax(x, indptr=index),
        lambda: ops.gather_rows(x, index),
    ]
    for call in calls:
        try:
            call()
        except (ValueError, TypeError):
            pass


def test_docstring_examples_run():
    result = doctest.testmod(gather_scatter, extraglobs={"sg": sg})
    assert result.attempted >= 4 and result.failed == 0


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_float16_sources_run_on_the_generic_kernels(reduce):
    """numba compiles no float16 arithmetic: the numba kernels hand such calls to the generic
    ones, so float16 gives float32's answers to float16 precision."""
    x32 = sg.tensor(np.round(np.random.default_rng(0).standard_normal((9, 3)), 2), "float32")
    index = sg.tensor([0, 2, 2, 1, 0, 2, 1, 1, 0])
    for fn in (lambda x: ops.scatter(x, index, 3, reduce=reduce),
               lambda x: ops.segment(x, np.array([0, 4, 9]), reduce),
               lambda x: ops.segment_softmax(x, index, num_segments=3)):
        x16 = x32.to("float16").detach().requires_grad_()
        out = fn(x16)
        out.sum().backward()
        assert out.dtype == np.float16 and x16.grad.dtype == np.float16
        np.testing.assert_allclose(out.detach().numpy(), fn(x32).numpy(), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int64"])
def test_integer_mean_keeps_the_source_dtype(dtype):
    """The floor of the mean, in the source's dtype (torch_scatter's rule), for every kernel."""
    src = sg.tensor(np.array([1, 4, 2, 7, 3], dtype))
    for name in [k.name for k in kernels("scatter_reduce", "cpu", "csr")]:
        with sg.kernels.use(name):
            out = ops.scatter(src, [0, 0, 0, 1, 0], 3, "mean")
            seg = ops.segment(src, np.array([0, 2, 5]), "mean")
        assert out.dtype == np.dtype(dtype) and seg.dtype == np.dtype(dtype), name
        np.testing.assert_array_equal(out.numpy(), [2, 7, 0])
        np.testing.assert_array_equal(seg.numpy(), [2, 4])
