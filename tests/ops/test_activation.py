"""ops/activation.py: numpy / scipy reference values and derivatives in float32 and float64,
float64 gradchecks, torch's gradient conventions at 0, stability for large |x|, what backward
keeps alive, error messages, and a hypothesis property over the derivatives."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import erf

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
C = np.sqrt(2 / np.pi)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(C * (x + 0.044715 * x ** 3)))


def _gelu_tanh_grad(x):
    t = np.tanh(C * (x + 0.044715 * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * C * (1 + 3 * 0.044715 * x ** 2)


# name: (call, reference value f(x), reference derivative f'(x)); derivatives use torch's
# conventions at the kinks (x > 0 picks the right-hand piece)
ACTIVATIONS = {
    "relu": (ops.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "leaky_relu": (ops.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x),
                   lambda x: np.where(x > 0, 1, 0.01)),
    "leaky_relu(0.2)": (lambda t: ops.leaky_relu(t, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
                        lambda x: np.where(x > 0, 1, 0.2)),
    "leaky_relu(-0.5)": (lambda t: ops.leaky_relu(t, -0.5),
                         lambda x: np.where(x > 0, x, -0.5 * x),
                         lambda x: np.where(x > 0, 1, -0.5)),
    "elu": (ops.elu, lambda x: np.where(x > 0, x, np.expm1(x)),
            lambda x: np.where(x > 0, 1, np.exp(x))),
    "elu(0.5)": (lambda t: ops.elu(t, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
                 lambda x: np.where(x > 0, 1, 0.5 * np.exp(x))),
    "elu(-0.3)": (lambda t: ops.elu(t, -0.3), lambda x: np.where(x > 0, x, -0.3 * np.expm1(x)),
                  lambda x: np.where(x > 0, 1, -0.3 * np.exp(x))),
    "gelu": (ops.gelu, lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))),
             lambda x: 0.5 * (1 + erf(x / np.sqrt(2))) + x * np.exp(-x * x / 2) / np.sqrt(
                 2 * np.pi)),
    "gelu(tanh)": (lambda t: ops.gelu(t, approximate="tanh"), _gelu_tanh, _gelu_tanh_grad),
    "sigmoid": (ops.sigmoid, _sig, lambda x: _sig(x) * (1 - _sig(x))),
    "tanh": (ops.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "softplus": (ops.softplus, lambda x: np.where(x > 20, x, np.log1p(np.exp(x))),
                 lambda x: np.where(x > 20, 1, _sig(x))),  # linear above the threshold 20
    "softplus(2, 1)": (lambda t: ops.softplus(t, beta=2, threshold=1),
                       lambda x: np.where(2 * x > 1, x, np.log1p(np.exp(2 * x)) / 2),
                       lambda x: np.where(2 * x > 1, 1, _sig(2 * x))),
    "silu": (ops.silu, lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * (1 - _sig(x)))),
    "selu": (ops.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
             lambda x: SELU_SCALE * np.where(x > 0, 1, SELU_ALPHA * np.exp(x))),
    "hardtanh": (ops.hardtanh, lambda x: np.clip(x, -1, 1),
                 lambda x: ((x >= -1) & (x <= 1)) * 1.0),
    "hardtanh(-0.5, 2)": (lambda t: ops.hardtanh(t, -0.5, 2.0), lambda x: np.clip(x, -0.5, 2),
                          lambda x: ((x >= -0.5) & (x <= 2)) * 1.0),
    "relu6": (ops.relu6, lambda x: np.clip(x, 0, 6), lambda x: ((x >= 0) & (x <= 6)) * 1.0),
}
NAMES = sorted(ACTIVATIONS)


def leaf(shape, seed=0, dtype="float64", scale=2.0):
    a = scale * np.random.default_rng(seed).standard_normal(shape)
    return sg.tensor(a, dtype=dtype, requires_grad=dtype == "float64")


def npy(t):
    return t.detach().numpy()


@pytest.mark.parametrize("shape", [(4, 5), (), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradcheck_float64(name, shape):
    fn, ref, _ = ACTIVATIONS[name]
    x = leaf(shape, seed=1, scale=3.0)  # some entries beyond 6 and the softplus threshold
    out = fn(x)
    assert out.shape == shape and out.dtype == np.float64
    assert_close(out, ref(npy(x)))
    gradcheck(fn, [x])


@pytest.mark.parametrize("name", NAMES)
def test_values_float32_and_dtype(name):
    fn, ref, _ = ACTIVATIONS[name]
    x = leaf((6, 7), seed=2, dtype="float32", scale=3.0).requires_grad_()
    out = fn(x)
    assert out.dtype == np.float32
    assert_close(out, ref(x.detach().numpy().astype(np.float64)), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("name", NAMES)
def test_derivative_at_kinks_follows_torch(name):
    fn, _, dref = ACTIVATIONS[name]
    points = np.array([0.0, -1.0, 1.0, 6.0, -0.5, 2.0])
    x = sg.tensor(points, dtype="float64", requires_grad=True)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), dref(points), rtol=1e-12)


def test_tensor_methods_delegate():
    x = leaf((3, 4), seed=3)
    assert_close(x.relu(), np.maximum(npy(x), 0))
    assert_close(x.sigmoid(), _sig(npy(x)))
    assert_close(x.tanh(), np.tanh(npy(x)))


# ---- numerical stability -----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_inputs_are_stable_and_warning_free(dtype):
    x = sg.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype, requires_grad=True)
    s = ops.sigmoid(x).detach().numpy()
    assert s[0] == 0 and s[-1] == 1 and s[2] == 0.5 and np.isfinite(s).all()
    sp = ops.softplus(x).detach().numpy()
    assert sp[-1] == 1000 and sp[0] == 0 and sp[2] == pytest.approx(np.log(2))
    assert ops.softplus(x, beta=0.01).detach().numpy()[-1] == pytest.approx(
        np.log1p(np.exp(10.0)) / 0.01)  # beta * x = 10 < threshold: not the linear branch
    np.testing.assert_array_equal(ops.tanh(x).detach().numpy()[[0, -1]], [-1, 1])
    assert ops.elu(x, 0.7).detach().numpy()[0] == pytest.approx(-0.7)
    g = ops.gelu(x).detach().numpy()
    assert g[0] == 0 and g[-1] == 1000
    for fn in (ops.sigmoid, ops.softplus, ops.tanh, ops.elu, ops.gelu, ops.silu, ops.selu,
               lambda t: ops.gelu(t, "tanh")):
        x.grad = None
        fn(x).sum().backward()
        assert np.isfinite(x.grad.numpy()).all()


def test_nan_propagates():
    x = sg.tensor([np.nan, 1.0])
    for fn in (ops.relu, ops.leaky_relu, ops.elu, ops.sigmoid, ops.tanh, ops.gelu,
               ops.softplus):
        out = fn(x).numpy()
        assert np.isnan(out[0]) and np.isfinite(out[1])


# ---- what backward keeps -----------------------------------------------------------------------
def _kept(out):
    """Arrays the node holds for backward: saved tensors plus array attributes of ctx."""
    ctx = out.grad_fn.ctx
    saved = [t.array for t in ctx._saved]
    return saved + [v for k, v in vars(ctx).items() if isinstance(v, np.ndarray)]


@pytest.mark.parametrize("call, keeps", [
    (ops.relu, "mask"), (ops.sigmoid, "y"), (ops.tanh, "y"), (ops.leaky_relu, "mask"),
    (lambda t: ops.leaky_relu(t, -0.1), "x"), (ops.elu, "y"), (lambda t: ops.elu(t, -1.0), "x"),
    (ops.gelu, "x"), (ops.softplus, "x"),
], ids=["relu", "sigmoid", "tanh", "leaky_relu", "leaky_relu-neg", "elu", "elu-neg", "gelu",
        "softplus"])
def test_backward_keeps_one_array(call, keeps):
    x = leaf((4, 3), seed=4)
    out = call(x)
    kept = _kept(out)
    assert len(kept) == 1, "backward must keep one array: the input, the output or its sign"
    if keeps == "mask":  # piecewise linear: a bool mask, a quarter of the output's bytes
        assert kept[0].dtype == np.bool_
        np.testing.assert_array_equal(kept[0], out.array > 0)
    else:
        assert kept[0] is (out.array if keeps == "y" else x.array)


# ---- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh",
                                  "softplus", "hardtanh"])
def test_type_errors(name):
    fn = getattr(ops, name)
    with pytest.raises(TypeError, match=rf"{name}: expected `input` to be a Tensor \(got list\)"):
        fn([1.0, -1.0])
    if name in ("relu", "sigmoid", "tanh"):  # PyTorch takes ints there (test_promotion.py)
        return
    with pytest.raises(TypeError, match=rf"{name}: expected a floating tensor \(got int64\)"):
        fn(sg.tensor([1, -1]))


def test_value_errors():
    with pytest.raises(ValueError, match=r"gelu: expected `approximate` 'none' or 'tanh' "
                                         r"\(got 'erf'\)"):
        ops.gelu(sg.randn(2), approximate="erf")
    with pytest.raises(ValueError, match=r"hardtanh: expected min_val <= max_val \(got 2 > 1\)"):
        ops.hardtanh(sg.randn(2), 2, 1)


# ---- properties --------------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
                  elements=st.floats(-30, 30, allow_nan=False, allow_subnormal=False)),
       st.sampled_from(NAMES), st.integers(0, 2 ** 16))
def test_backward_is_the_derivative_times_the_cotangent(x_np, name, seed):
    fn, ref, dref = ACTIVATIONS[name]
    x = sg.tensor(x_np, requires_grad=True)
    out = fn(x)
    np.testing.assert_allclose(npy(out), ref(x_np), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(seed).standard_normal(x_np.shape)
    out.backward(sg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * dref(x_np), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "silu", "gelu", "tanh", "elu", "relu",
                                  "leaky_relu"])
def test_float16_values_and_gradients_stay_float16(name):
    x = sg.tensor([-1.5, -0.25, 0.5, 2.0], dtype="float16", requires_grad=True)
    y = getattr(ops, name)(x)
    y.sum().backward()
    assert y.dtype == np.float16 and x.grad.dtype == np.float16
    ref = sg.tensor([-1.5, -0.25, 0.5, 2.0], dtype="float32", requires_grad=True)
    getattr(ops, name)(ref).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), rtol=2e-3, atol=1e-3)
