"""numpy functions on a Tensor behave as on a torch.Tensor: numpy's reductions call the method
(with numpy's ``axis`` / ``keepdims`` / ``out=None``, which PyTorch's argument parser takes as
aliases), and a ufunc's result comes back as a Tensor through ``__array_wrap__``."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

RNG = np.random.default_rng(0)
FLOAT = RNG.standard_normal((3, 4)).astype(np.float32)
INT = RNG.integers(-5, 6, size=(3, 4)).astype(np.int64)
# torch's mean / std / var are defined for floating tensors only (an int64 one raises)
FLOAT_ONLY = {np.mean, np.std, np.var}
REDUCTIONS = [np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.any, np.all,
              np.argmax, np.argmin, np.std, np.var]


def _check_same(result, expected):
    assert isinstance(result, sg.Tensor), type(result)
    expected = np.asarray(expected)
    assert result.dtype == expected.dtype and result.shape == expected.shape
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-6, atol=1e-6)


# ---- numpy's reductions call the method ---------------------------------------------------------
@pytest.mark.parametrize("values", [FLOAT, INT], ids=["float32", "int64"])
@pytest.mark.parametrize("fn", REDUCTIONS, ids=lambda f: f.__name__)
def test_numpy_reduction_of_a_tensor_equals_numpy_on_its_array(fn, values):
    if fn in FLOAT_ONLY and values.dtype.kind != "f":
        with pytest.raises(TypeError, match="floating"):
            fn(sg.tensor(values))
        return
    _check_same(fn(sg.tensor(values)), fn(values))


@pytest.mark.parametrize("fn", [np.sum, np.mean, np.prod, np.any, np.all, np.std, np.var],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", [0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_numpy_reduction_with_axis_and_keepdims(fn, axis, keepdims):
    _check_same(fn(sg.tensor(FLOAT), axis=axis, keepdims=keepdims),
                fn(FLOAT, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("fn", [np.argmax, np.argmin, np.cumsum, np.cumprod],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("values", [FLOAT, INT], ids=["float32", "int64"])
def test_numpy_single_axis_functions(fn, values):
    for axis in (0, 1, -1):
        _check_same(fn(sg.tensor(values), axis=axis), fn(values, axis=axis))


def test_numpy_std_and_var_use_numpys_ddof():
    # np.std passes ddof=0 (numpy's default), which the method takes as torch's correction
    x = sg.tensor(FLOAT)
    _check_same(np.std(x, ddof=1, axis=0), np.std(FLOAT, ddof=1, axis=0))
    _check_same(x.var(axis=1, ddof=0), np.var(FLOAT, axis=1))
    np.testing.assert_allclose(x.std(ddof=1).numpy(), x.std().numpy())  # torch's default: 1
    with pytest.raises(TypeError, match="`correction` and its numpy alias `ddof`"):
        x.var(correction=0, ddof=0)


@pytest.mark.parametrize("fn, arg", [(np.max, np.argmax), (np.amax, np.argmax),
                                     (np.min, np.argmin), (np.amin, np.argmin)])
def test_numpy_max_with_an_axis_is_torchs_values_and_indices(fn, arg):
    # np.max(t, axis=0) (np.amax is np.max) calls t.max(axis=0): torch's (values, indices), as
    # for a torch.Tensor; `sg.amax` / `t.amax(axis=...)` give the values alone
    for axis in (0, 1, -1):
        values, indices = fn(sg.tensor(FLOAT), axis=axis)
        _check_same(values, fn(FLOAT, axis=axis))
        _check_same(indices, arg(FLOAT, axis=axis))


def test_numpy_sum_keeps_the_graph():
    x = sg.tensor(FLOAT.astype(np.float64), requires_grad=True)
    y = np.sum(x * x)
    assert isinstance(y, sg.Tensor) and y.grad_fn is not None
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * FLOAT.astype(np.float64))
    assert gradcheck(lambda t: np.sum(t, axis=1, keepdims=True), [x])
    assert gradcheck(lambda t: np.mean(t, axis=0), [x])
    assert gradcheck(lambda t: np.std(t, axis=1), [x])
    assert gradcheck(lambda t: np.max(t, axis=0).values, [x])


# ---- axis / keepdims on the functions and methods -----------------------------------------------
ALIASED = ["sum", "mean", "prod", "amax", "amin", "any", "all", "std", "var", "logsumexp",
           "norm", "argmax", "argmin", "cumsum", "cumprod", "max", "min"]
SINGLE_DIM = {"argmax", "argmin", "cumsum", "cumprod", "max", "min"}
NO_KEEPDIM = {"cumsum", "cumprod"}


def _outputs(out):
    return [t.numpy() for t in out] if isinstance(out, tuple) else [out.numpy()]


@pytest.mark.parametrize("name", ALIASED)
@pytest.mark.parametrize("form", ["function", "method"])
def test_axis_and_keepdims_are_aliases_of_dim_and_keepdim(name, form):
    x = sg.tensor(FLOAT)
    call = getattr(sg, name) if form == "function" else getattr(x, name)
    args = (x,) if form == "function" else ()
    dims = (0, 1, -1) if name in SINGLE_DIM else (0, -1, (0, 1))
    for dim in dims:
        if name in NO_KEEPDIM:
            torch_kw, numpy_kw = {"dim": dim}, {"axis": dim}
        else:
            torch_kw, numpy_kw = {"dim": dim, "keepdim": True}, {"axis": dim, "keepdims": True}
        for a, b in zip(_outputs(call(*args, **numpy_kw)), _outputs(call(*args, **torch_kw)),
                        strict=True):
            np.testing.assert_array_equal(a, b)


def test_squeeze_and_unsqueeze_methods_take_axis_as_torchs():
    x = sg.ones(1, 3, 1)
    assert x.squeeze(axis=0).shape == (3, 1) and np.squeeze(x, axis=2).shape == (1, 3)
    assert x.unsqueeze(axis=-1).shape == (1, 3, 1, 1)


@pytest.mark.parametrize("call", [
    lambda x: sg.sum(x, dim=0, axis=1), lambda x: sg.sum(x, 0, axis=1),
    lambda x: x.sum(0, axis=0), lambda x: x.amax(dim=1, axis=1),
    lambda x: sg.cumsum(x, 0, axis=0), lambda x: x.max(dim=0, axis=0),
    lambda x: sg.norm(x, 2, 0, axis=0),
])
def test_dim_and_axis_together_is_a_type_error_naming_both(call):
    with pytest.raises(TypeError, match="both `dim` and its numpy alias `axis`"):
        call(sg.tensor(FLOAT))


def test_keepdim_and_keepdims_together_is_a_type_error_naming_both():
    with pytest.raises(TypeError, match="both `keepdim` and its numpy alias `keepdims`"):
        sg.mean(sg.tensor(FLOAT), 0, True, keepdims=True)


@pytest.mark.parametrize("call", [
    lambda x, out: np.sum(x, out=out), lambda x, out: np.mean(x, axis=0, out=out),
    lambda x, out: sg.amax(x, out=out), lambda x, out: x.std(out=out),
])
def test_an_out_array_is_refused_by_name(call):
    out = np.zeros((), np.float32)
    with pytest.raises(TypeError, match="`out` is not supported .*returns a new tensor"):
        call(sg.tensor(FLOAT), out)
    assert out == 0


def test_out_none_is_accepted_and_a_dtype_only_where_the_function_has_one():
    x = sg.tensor(INT)
    assert sg.sum(x, out=None).item() == INT.sum()
    _check_same(np.sum(x, dtype=np.float64), INT.sum(dtype=np.float64))
    with pytest.raises(TypeError, match=r"std: takes no `dtype` \(got 'float64'\)"):
        sg.std(sg.tensor(FLOAT), dtype="float64")


# ---- ufuncs: __array_wrap__ ----------------------------------------------------------------------
UFUNCS = [np.exp, np.abs, np.negative, np.square, np.sign, np.isfinite,
          lambda a: np.clip(a, -1, 1), lambda a: np.round(a), lambda a: np.maximum(a, 0),
          lambda a: np.greater(a, 0), lambda a: np.add(a, np.ones(4, np.float32))]


@pytest.mark.parametrize("values", [FLOAT, INT], ids=["float32", "int64"])
@pytest.mark.parametrize("fn", UFUNCS)
def test_a_ufunc_of_a_tensor_is_a_tensor_equal_to_numpys(fn, values):
    with np.errstate(over="ignore"):
        result, expected = fn(sg.tensor(values)), fn(values)
    _check_same(result, expected)
    assert result.device == "cpu" and result.grad_fn is None and not result.requires_grad


def test_a_ufunc_of_a_0d_tensor_is_a_0d_tensor():
    result = np.exp(sg.tensor(1.0))
    assert isinstance(result, sg.Tensor) and result.shape == () and result.dtype == np.float32
    np.testing.assert_allclose(result.item(), np.exp(np.float32(1.0)))


def test_a_ufunc_result_does_not_alias_the_input():
    x = sg.ones(1, 3)
    y = np.transpose(x)  # t.transpose(None) fails: numpy's fallback wraps a view of x's array
    assert isinstance(y, sg.Tensor) and y.shape == (3, 1)
    assert not np.shares_memory(y.array, x.array)


def test_a_ufunc_of_a_tensor_that_requires_grad_is_refused_as_torchs():
    x = sg.tensor(FLOAT, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.exp(x)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.abs(x)


def test_conversions_to_numpy_still_return_arrays():
    x = sg.tensor(FLOAT)
    for a in (np.asarray(x), np.array(x), x.numpy(), np.asarray(x, dtype=np.float64)):
        assert type(a) is np.ndarray
    np.testing.assert_array_equal(np.asarray(x), FLOAT)


# the other dim-taking functions a numpy user calls with axis= (PyTorch aliases them all)
DIM_FUNCTIONS = [
    ("cat", lambda t, **k: sg.cat([t, t * 2], **k)),
    ("stack", lambda t, **k: sg.stack([t, t * 2], **k)),
    ("squeeze", lambda t, **k: sg.squeeze(t.unsqueeze(1), **k)),
    ("unsqueeze", lambda t, **k: sg.unsqueeze(t, **k)),
    ("split", lambda t, **k: sg.split(t, 1, **k)[0]),
    ("chunk", lambda t, **k: sg.chunk(t, 2, **k)[0]),
    ("unbind", lambda t, **k: sg.unbind(t, **k)[0]),
    ("sort", lambda t, **k: sg.sort(t, **k).values),
    ("argsort", lambda t, **k: sg.argsort(t, **k)),
    ("topk", lambda t, **k: sg.topk(t, 2, **k).values),
    ("median", lambda t, **k: sg.median(t, **k).values),
    ("kthvalue", lambda t, **k: sg.kthvalue(t, 2, **k).values),
    ("softmax", lambda t, **k: sg.softmax(t, **k)),
    ("log_softmax", lambda t, **k: sg.log_softmax(t, **k)),
    ("index_select", lambda t, **k: sg.index_select(t, index=sg.tensor([1, 0]), **k)),
    ("gather", lambda t, **k: sg.gather(t, index=sg.tensor([[0, 1], [1, 0], [2, 2]]), **k)),
    ("method sort", lambda t, **k: t.sort(**k).values),
    ("method softmax", lambda t, **k: t.softmax(**k)),
    ("method split", lambda t, **k: t.split(1, **k)[0]),
    ("method unbind", lambda t, **k: t.unbind(**k)[0]),
]


@pytest.mark.parametrize("name, fn", DIM_FUNCTIONS, ids=[n for n, _ in DIM_FUNCTIONS])
def test_axis_is_dim_for_the_dim_taking_functions(name, fn):
    t = sg.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    np.testing.assert_array_equal(fn(t, axis=1).numpy(), fn(t, dim=1).numpy())
    with pytest.raises(TypeError, match="both `dim` and its numpy alias `axis`"):
        fn(t, dim=1, axis=1)


@pytest.mark.parametrize("reduce", [np.max, np.min, np.amax, np.amin])
def test_max_min_keepdims_without_axis_keep_every_dim(reduce):
    x = sg.tensor([[1.0, 2.0], [3.0, 4.0]])
    got = reduce(x, keepdims=True)
    assert isinstance(got, sg.Tensor) and got.shape == (1, 1)
    np.testing.assert_array_equal(got.numpy(), reduce(x.numpy(), keepdims=True))


def test_sparse_sum_takes_numpy_names():
    a = sg.from_edge_index(np.array([[0, 1, 1], [1, 0, 2]]), 3)
    dense = a.to_dense().numpy()
    np.testing.assert_array_equal(a.sum(axis=0).numpy(), dense.sum(0))
    np.testing.assert_array_equal(a.sum(-1, keepdims=True).numpy(), dense.sum(-1, keepdims=True))
    np.testing.assert_array_equal(np.sum(a, axis=1).numpy(), dense.sum(1))
