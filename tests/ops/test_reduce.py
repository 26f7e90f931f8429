"""ops/reduce.py and ops/extrema.py: every dim / keepdim combination against numpy in value and
(float64 gradcheck) in gradient, dtype rules, empty and 0-d inputs, ties, stability, error
messages, and hypothesis properties of the gradients."""

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck


def leaf(shape, seed=0, dtype="float64"):
    a = np.random.default_rng(seed).standard_normal(shape)
    return sg.tensor(a, dtype=dtype, requires_grad=dtype == "float64")


def npy(t):
    return t.detach().numpy()


# name: numpy reference (x, axis, keepdims)
REFERENCE = {
    "sum": lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
    "mean": lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
    "prod": lambda x, axis, keepdims: x.prod(axis=axis, keepdims=keepdims),
    "var": lambda x, axis, keepdims: x.var(axis=axis, keepdims=keepdims, ddof=1),
    "std": lambda x, axis, keepdims: x.std(axis=axis, keepdims=keepdims, ddof=1),
    "amax": lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
    "amin": lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims),
    "logsumexp": lambda x, axis, keepdims: scipy.special.logsumexp(x, axis=axis,
                                                                    keepdims=keepdims),
}
DIMS = [None, 0, 1, 2, -1, -3, (0, 1), (0, 2), (1, 2), (2, -3), (0, 1, 2), [1]]


def _axis(dim):
    return tuple(dim) if isinstance(dim, list) else dim


@pytest.mark.parametrize("keepdim", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reduction_every_dim_matches_numpy_and_gradchecks(name, dim, keepdim):
    x = leaf((2, 3, 4), seed=1)
    fn = getattr(ops, name)
    out = fn(x, dim, keepdim=keepdim)  # var / std: the third positional is `unbiased`
    ref = REFERENCE[name](npy(x), _axis(dim), keepdim)
    assert out.shape == np.shape(ref) and out.dtype == np.float64
    assert_close(out, ref)
    gradcheck(lambda t: fn(t, dim, keepdim=keepdim), [x])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reduction_float32_values_and_dtype(name):
    x = leaf((5, 6), seed=2, dtype="float32")
    for dim in (None, 1, (0, 1)):
        out = getattr(ops, name)(x, dim)
        assert out.dtype == np.float32
        assert_close(out, REFERENCE[name](x.numpy().astype(np.float64), dim, False),
                     rtol=1e-5, atol=1e-5)


def test_tensor_methods_delegate():
    x = leaf((3, 4), seed=3)
    xn = npy(x)
    assert_close(x.sum(1), xn.sum(1))
    assert_close(x.sum(dim=0, keepdim=True), xn.sum(0, keepdims=True))
    assert_close(x.mean(), xn.mean())
    assert_close(x.var(0, unbiased=False), xn.var(0))
    assert_close(x.std(), xn.std(ddof=1))
    assert_close(x.max(), xn.max())
    assert_close(x.min(1).values, xn.min(1))
    np.testing.assert_array_equal(x.argmax(1).numpy(), xn.argmax(1))
    np.testing.assert_array_equal(x.argmin().numpy(), xn.argmin())
    assert bool(x.any()) and not bool((x > 10).all())


# ---- dtypes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "uint8"])
def test_integer_sum_and_prod_are_int64(dtype):
    a = np.array([[1, 0, 1], [1, 1, 1]]).astype(dtype)
    t = sg.tensor(a)
    for dim in (None, 0, 1):
        s = ops.sum(t, dim)
        assert s.dtype == np.int64
        np.testing.assert_array_equal(s.numpy(), a.astype(np.int64).sum(axis=dim))
        p = ops.prod(t, dim)
        assert p.dtype == np.int64
        np.testing.assert_array_equal(p.numpy(), a.astype(np.int64).prod(axis=dim))


@pytest.mark.parametrize("name", ["mean", "var", "std"])
def test_floating_only_reductions_reject_integers(name):
    with pytest.raises(TypeError, match=rf"{name}: expected a floating tensor \(got int64\)"):
        getattr(ops, name)(sg.tensor([1, 2, 3]), 0)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_logsumexp_promotes_integers_to_the_default_float_as_torch(dtype):
    a = np.array([[1, 0, 2], [0, 1, 1]]).astype(dtype)
    for dim in (0, 1, None):
        out = ops.logsumexp(sg.tensor(a), dim)
        assert out.dtype == np.float32
        assert_close(out, scipy.special.logsumexp(a.astype(np.float64), axis=dim), rtol=1e-6)
    assert sg.tensor(a).logsumexp(1, keepdim=True).shape == (2, 1)


# ---- var / std corrections ---------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, ddof", [({"unbiased": False}, 0), ({"unbiased": True}, 1),
                                          ({"correction": 0}, 0), ({"correction": 2}, 2),
                                          ({"unbiased": False, "correction": 1}, 1)],
                         ids=["biased", "unbiased", "corr0", "corr2", "correction-wins"])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_corrections(name, kwargs, ddof):
    x = leaf((4, 5), seed=4)
    fn = getattr(ops, name)
    assert_close(fn(x, 1, **kwargs), getattr(npy(x), name)(axis=1, ddof=ddof))
    gradcheck(lambda t: fn(t, (0, 1), keepdim=True, **kwargs), [x])


def test_var_with_too_few_elements_is_nan_without_warnings():
    x = sg.tensor([2.0], dtype="float64", requires_grad=True)
    v = ops.var(x)  # warnings are errors: numpy's "Degrees of freedom <= 0" must not escape
    assert np.isnan(v.item())
    v.backward()
    assert np.isnan(x.grad.numpy()).all()
    assert ops.var(x, unbiased=False).item() == 0.0
    assert np.isinf(ops.var(sg.tensor([1.0, 3.0]), correction=2).item())


def test_var_correction_must_be_a_number():
    with pytest.raises(TypeError, match="var: expected `correction` to be a number"):
        ops.var(sg.randn(3), correction="1")


# ---- empty and 0-d inputs -----------------------------------------------------------------------
def test_empty_reductions():
    e = sg.zeros(0, 3, requires_grad=True)
    np.testing.assert_array_equal(ops.sum(e, 0).detach().numpy(), np.zeros(3))
    assert ops.sum(e).item() == 0.0
    assert ops.sum(e, 1).shape == (0,)
    assert np.isnan(ops.mean(e).item())  # no "Mean of empty slice" warning
    assert np.isnan(ops.mean(e, 0).detach().numpy()).all()
    assert np.isnan(ops.var(e, 0).detach().numpy()).all() and ops.var(e, 0).shape == (3,)
    assert ops.prod(e, 0).detach().numpy().tolist() == [1.0, 1.0, 1.0]
    assert np.isneginf(ops.logsumexp(e, 0).detach().numpy()).all()
    assert ops.logsumexp(e, (0, 1), keepdim=True).shape == (1, 1)
    ops.sum(e, 0).sum().backward()
    assert e.grad.shape == (0, 3)
    e.grad = None
    ops.prod(e, 0).sum().backward()
    assert e.grad.shape == (0, 3)


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin", "argmax", "argmin"])
def test_extrema_of_empty_tensors_raise(name):
    with pytest.raises(ValueError, match=rf"{name}: expected a non-empty"):
        getattr(ops, name)(sg.zeros(0, 3))
    with pytest.raises(ValueError, match=rf"{name}: expected a non-empty"):
        getattr(ops, name)(sg.zeros(0, 3), 0)
    out = getattr(ops, name)(sg.zeros(0, 3), 1)  # a non-empty dim reduces fine
    assert (out[0] if isinstance(out, tuple) else out).shape == (0,)


@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "amax", "logsumexp"])
def test_zero_dim_tensor_reduces_to_itself(name, dim):
    x = sg.tensor(1.5, dtype="float64", requires_grad=True)
    for keepdim in (False, True):
        out = getattr(ops, name)(x, dim, keepdim)
        assert out.shape == () and out.item() == pytest.approx(1.5)
    gradcheck(lambda t: getattr(ops, name)(t, dim), [x])


def test_zero_dim_max_with_dim_returns_value_and_index():
    x = sg.tensor(3.0, dtype="float64", requires_grad=True)
    values, indices = ops.max(x, 0)
    assert values.item() == 3.0 and indices.item() == 0 and indices.dtype == np.int64
    values.backward()
    assert x.grad.item() == 1.0
    assert ops.argmax(x, 0).item() == 0 and ops.argmin(x).item() == 0


# ---- max / min with indices, amax / amin ---------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_dim(name, dim, keepdim):
    x = leaf((2, 3, 4), seed=5)
    out = getattr(ops, name)(x, dim, keepdim)
    assert type(out).__name__ == "MaxMin" and out._fields == ("values", "indices")
    values, indices = out
    assert values is out.values and indices is out.indices
    ref = getattr(np, name)(npy(x), axis=dim, keepdims=keepdim)
    assert_close(values, ref)
    assert indices.dtype == np.int64 and not indices.requires_grad
    np.testing.assert_array_equal(
        indices.numpy(), getattr(np, "arg" + name)(npy(x), axis=dim, keepdims=keepdim))
    gradcheck(lambda t: getattr(ops, name)(t, dim, keepdim).values, [x])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_over_everything(name):
    x = leaf((3, 4), seed=6)
    out = getattr(ops, name)(x)
    assert out.shape == () and out.item() == getattr(np, name)(npy(x))
    gradcheck(getattr(ops, name), [x])
    assert getattr(ops, name)(leaf((3,), dtype="float32")).dtype == np.float32


def test_max_min_ties_share_without_dim_and_go_to_the_first_with_dim():
    # torch: max() splits evenly (evenly_distribute_backward); max(dim) picks the index
    x = sg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    ops.max(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    values, indices = ops.max(x, 1)
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    ops.min(x, 0, keepdim=True).values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 0], [0, 1, 1]])


def test_amax_amin_share_the_gradient_among_ties():
    x = sg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    ops.amax(x, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    ops.amin(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 0, 0], [0, 0, 0]])


def test_max_min_take_one_int_dim():
    with pytest.raises(TypeError, match=r"max: expected `dim` to be an int or None \(got \(0, 1\)"):
        ops.max(sg.randn(2, 3), (0, 1))
    with pytest.raises(ValueError, match=r"min: expected `dim` in \[-2, 1\] \(got 2\)"):
        ops.min(sg.randn(2, 3), 2)


# ---- argmax / argmin, any / all ----------------------------------------------------------------
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, dim, keepdim):
    x = leaf((3, 4), seed=7)
    out = getattr(ops, name)(x, dim, keepdim)
    assert out.dtype == np.int64 and not out.requires_grad and out.grad_fn is None
    ref = getattr(np, name)(npy(x), axis=dim, keepdims=keepdim)
    if dim is None and keepdim:  # torch: every dim kept with size 1
        ref = ref.reshape(1, 1)
    assert out.shape == np.shape(ref)
    np.testing.assert_array_equal(out.numpy(), ref)


def test_argmax_picks_the_first_tie():
    x = sg.tensor([[0.0, 5.0, 5.0], [7.0, 7.0, 1.0]])
    assert ops.argmax(x).item() == 3 and ops.argmax(x[:1]).item() == 1
    np.testing.assert_array_equal(ops.argmax(x, 1).numpy(), [1, 0])
    np.testing.assert_array_equal(ops.argmin(x, 0).numpy(), [0, 0, 1])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("name", ["any", "all"])
def test_any_all(name, dim, keepdim):
    a = np.array([[True, False, True], [True, False, False]])
    for t, ref in ((sg.tensor(a), a), (sg.tensor(a.astype(np.float32)), a)):
        out = getattr(ops, name)(t, dim, keepdim)
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), getattr(np, name)(ref, axis=dim,
                                                                     keepdims=keepdim))


# ---- logsumexp and prod special values -----------------------------------------------------------
def test_logsumexp_is_stable_and_handles_infinities():
    big = sg.tensor([[1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4, -1e4]], dtype="float64")
    assert_close(ops.logsumexp(big, 1), scipy.special.logsumexp(big.numpy(), axis=1))
    f32 = sg.tensor([[100.0, 100.0]])  # exp(100) overflows float32
    assert_close(ops.logsumexp(f32, 1), [100 + np.log(2)], rtol=1e-6)
    ninf = sg.tensor([[-np.inf, -np.inf], [-np.inf, 0.0]], dtype="float64")
    out = ops.logsumexp(ninf, 1)  # no "divide by zero in log" warning
    assert np.isneginf(out.numpy()[0]) and out.numpy()[1] == 0.0
    assert ops.logsumexp(sg.tensor([np.inf, 1.0]), 0).item() == np.inf


def test_logsumexp_gradient_is_softmax():
    x = leaf((3, 5), seed=8)
    ops.logsumexp(x, 1).sum().backward()
    e = np.exp(npy(x))
    assert_close(x.grad, e / e.sum(1, keepdims=True))


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, -1.5], [0.0, 2.0, 0.0, 4.0],
                                    [1.5, -2.0, 0.5, 3.0]], ids=["one-zero", "two-zeros",
                                                                  "no-zero"])
def test_prod_gradient_is_exact_with_zeros(values):
    x = sg.tensor(values, dtype="float64", requires_grad=True)
    ops.prod(x).backward()
    v = np.array(values)
    expected = [np.prod(np.delete(v, i)) for i in range(v.size)]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    y = sg.tensor(np.array([values, values[::-1]]).T, dtype="float64", requires_grad=True)
    gradcheck(lambda t: ops.prod(t, 0), [y])


# ---- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "prod", "var", "std", "amax", "amin", "any",
                                  "all", "logsumexp"])
def test_dim_errors_name_the_op(name):
    x = sg.randn(2, 3)
    with pytest.raises(ValueError, match=rf"^{name}: expected `dim` in \[-2, 1\] \(got 5\)$"):
        getattr(ops, name)(x, 5)
    with pytest.raises(ValueError, match=rf"{name}: expected `dim` in \[-2, 1\] \(got -3\)"):
        getattr(ops, name)(x, (0, -3))
    with pytest.raises(ValueError, match=rf"{name}: `dim` lists a dimension twice"):
        getattr(ops, name)(x, (1, -1))
    with pytest.raises(TypeError, match=rf"{name}: expected `dim` to be an int, a tuple of ints "
                                        r"or None \(got 0.5\)"):
        getattr(ops, name)(x, 0.5)
    with pytest.raises(TypeError, match=rf"{name}: expected `input` to be a Tensor \(got list\)"):
        getattr(ops, name)([1.0, 2.0], 0)


def test_zero_dim_tensor_dim_range():
    with pytest.raises(ValueError, match=r"sum: expected `dim` in \[-1, 0\] \(got 1\)"):
        ops.sum(sg.tensor(1.0), 1)


# ---- properties --------------------------------------------------------------------------------
finite = st.floats(-10, 10, allow_nan=False, allow_subnormal=False, width=64)


@st.composite
def array_and_dims(draw, min_side=0):
    x = draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, min_side=min_side,
                                                     max_side=4), elements=finite))
    dims = draw(st.one_of(st.none(), st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1,
                                              max_size=x.ndim, unique_by=lambda d: d % x.ndim)))
    return x, None if dims is None else tuple(dims), draw(st.booleans())


@settings(max_examples=50, deadline=None)
@given(array_and_dims())
def test_sum_and_mean_match_numpy_and_their_gradients_are_ones_and_one_over_n(case):
    x_np, dims, keepdim = case
    x = sg.tensor(x_np, requires_grad=True)
    s = ops.sum(x, dims, keepdim)
    np.testing.assert_allclose(npy(s), x_np.sum(axis=dims, keepdims=keepdim), atol=1e-12)
    s.backward(sg.ones(s.shape, dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(x_np))
    n = x_np.size if dims is None else int(np.prod([x_np.shape[d] for d in dims]))
    if n == 0:
        return
    x.grad = None
    m = ops.mean(x, dims, keepdim)
    np.testing.assert_allclose(npy(m), x_np.mean(axis=dims, keepdims=keepdim), atol=1e-12)
    m.backward(sg.ones(m.shape, dtype="float64"))
    np.testing.assert_allclose(x.grad.numpy(), np.full_like(x_np, 1.0 / n))


@settings(max_examples=50, deadline=None)
@given(array_and_dims(min_side=1))
def test_var_amax_logsumexp_properties(case):
    x_np, dims, keepdim = case
    x = sg.tensor(x_np, requires_grad=True)
    n = x_np.size if dims is None else int(np.prod([x_np.shape[d] for d in dims]))
    v = ops.var(x, dims, False, keepdim)
    np.testing.assert_allclose(npy(v), x_np.var(axis=dims, keepdims=keepdim), atol=1e-9)
    v.backward(sg.ones(v.shape, dtype="float64"))
    # var is shift invariant, so its gradient sums to 0 over every reduced slice
    np.testing.assert_allclose(x.grad.numpy().sum(axis=dims), 0.0, atol=1e-9 * max(n, 1))
    x.grad = None
    a = ops.amax(x, dims, keepdim)
    np.testing.assert_array_equal(npy(a), x_np.max(axis=dims, keepdims=keepdim))
    a.backward(sg.ones(a.shape, dtype="float64"))
    # each slice's unit gradient is split among its maxima: it sums to 1 per slice
    np.testing.assert_allclose(x.grad.numpy().sum(axis=dims), 1.0)
    assert (x.grad.numpy()[x_np < x_np.max(axis=dims, keepdims=True)] == 0).all()
    x.grad = None
    lse = ops.logsumexp(x, dims, keepdim)
    np.testing.assert_allclose(npy(lse), scipy.special.logsumexp(x_np, axis=dims,
                                                                 keepdims=keepdim))
    lse.backward(sg.ones(lse.shape, dtype="float64"))
    np.testing.assert_allclose(x.grad.numpy().sum(axis=dims), 1.0)  # softmax sums to 1


def test_max_of_two_tensors_points_to_maximum():
    with pytest.raises(TypeError, match=r"max: .*use sg\.maximum\(a, b\)"):
        sg.max(sg.ones(2), sg.ones(2))
    with pytest.raises(TypeError, match=r"min: .*use sg\.minimum\(a, b\)"):
        sg.min(sg.ones(2), sg.ones(2))


# ---- PyTorch's positional order for var / std (audit core3 #1) -----------------------------------
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_take_dim_unbiased_keepdim_positionally(name):
    x = leaf((2, 3), seed=7)
    xn = npy(x)
    ref = getattr(xn, name)
    for form in (lambda *a, **k: getattr(ops, name)(x, *a, **k),
                 lambda *a, **k: getattr(x, name)(*a, **k)):
        assert_close(form(1, False), ref(axis=1, ddof=0))  # torch: biased, keepdim False
        assert_close(form(1, True), ref(axis=1, ddof=1))
        assert_close(form(1, False, True), ref(axis=1, ddof=0, keepdims=True))
        assert_close(form(False), ref(ddof=0))  # torch's var(input, unbiased)
        assert_close(form(True), ref(ddof=1))
        assert_close(form(1, keepdim=True), ref(axis=1, ddof=1, keepdims=True))
        assert_close(form(1, correction=0), ref(axis=1, ddof=0))
    gradcheck(lambda t: getattr(ops, name)(t, 1, False, True), [x])


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_refuse_non_bool_unbiased_or_keepdim(name):
    x = leaf((2, 3))
    with pytest.raises(TypeError, match=rf"{name}: expected `unbiased` to be a bool \(got 1\); "
                                        r"the positional order is \(dim, unbiased, keepdim\)"):
        getattr(ops, name)(x, 0, 1)
    with pytest.raises(TypeError, match=rf"{name}: expected `keepdim` to be a bool \(got 'no'\)"):
        getattr(x, name)(0, True, "no")


# ---- dtype= on sum / mean / prod (audit core3 #11) -----------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "prod"])
def test_reductions_cast_to_dtype_first(name):
    x = sg.tensor([[1.0, 2.0], [3.0, 4.5]], requires_grad=True)
    out = getattr(x, name)(dtype=sg.float64)
    assert out.dtype == np.float64
    assert out.item() == getattr(np, name)(x.detach().numpy().astype(np.float64))
    out.backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (2, 2)
    by_dim = getattr(ops, name)(x, 1, True, dtype="float64")
    assert by_dim.shape == (2, 1) and by_dim.dtype == np.float64


def test_mean_of_integers_with_a_floating_dtype():
    i = sg.tensor([1, 2, 4])
    assert i.mean(dtype=sg.float32).item() == pytest.approx(7 / 3)
    assert i.sum(dtype=sg.float32).dtype == np.float32
    assert ops.prod(i, dtype=sg.int32).dtype == np.int32  # torch: the result has `dtype` too
    assert ops.sum(sg.tensor([True, True]), dtype="int8").tolist() == 2
    with pytest.raises(TypeError, match=r"mean: expected a floating tensor"):
        i.mean()
