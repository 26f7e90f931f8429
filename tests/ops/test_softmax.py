"""Dense softmax / log_softmax (ops/probability.py): numpy reference values, float64 gradient
checks over shapes and negative dims, stability for huge inputs, the saved-output version
check, errors."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck


def r(*shape, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return sg.tensor(scale * rng.standard_normal(shape), dtype="float64", requires_grad=True)


def ref_log_softmax(a, dim):
    # logsumexp through float128-free exact shift: log(sum(exp(a - m))) + m
    m = a.max(axis=dim, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=dim, keepdims=True))


CASES = [((5,), 0), ((5,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1),
         ((2, 3, 4), -3), ((2, 3, 4), -1), ((1, 1), 0)]


@pytest.mark.parametrize("shape, dim", CASES, ids=str)
def test_values_against_numpy(shape, dim):
    x = r(*shape, seed=len(shape) + dim, scale=3.0)
    ref = ref_log_softmax(x.detach().numpy(), dim)
    assert_close(ops.log_softmax(x, dim), ref)
    y = ops.softmax(x, dim)
    assert_close(y, np.exp(ref))
    assert_close(y.detach().numpy().sum(axis=dim), np.ones(np.delete(shape, dim % len(shape))))


@pytest.mark.parametrize("shape, dim", CASES, ids=str)
@pytest.mark.parametrize("fn", [ops.softmax, ops.log_softmax], ids=["softmax", "log_softmax"])
def test_gradcheck(fn, shape, dim):
    gradcheck(lambda t: fn(t, dim), [r(*shape, seed=7, scale=2.0)])


def test_backward_formulas_against_the_jacobian():
    x = r(4, seed=1)
    g = np.array([0.3, -1.0, 2.0, 0.5])
    y = ops.softmax(x, -1)
    y.backward(sg.tensor(g))
    yn = y.detach().numpy()
    jac = np.diag(yn) - np.outer(yn, yn)
    np.testing.assert_allclose(x.grad.numpy(), jac.T @ g, rtol=1e-12)
    x.grad = None
    ops.log_softmax(x, -1).backward(sg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g - yn * g.sum(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_inputs_stay_finite(dtype, device):
    x = sg.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [3e4, 3e4, 0.0]], dtype=dtype,
                  requires_grad=True, device=device)
    ls = ops.log_softmax(x, -1)
    s = ops.softmax(x, -1)
    assert np.isfinite(ls.detach().numpy()).all() and np.isfinite(s.detach().numpy()).all()
    np.testing.assert_allclose(ls.detach().numpy()[0], [0.0, -1e4, -2e4])
    np.testing.assert_allclose(s.detach().numpy(), [[1, 0, 0], [1 / 3] * 3, [0.5, 0.5, 0]],
                               rtol=1e-6)
    assert ls.dtype == s.dtype == np.dtype(dtype)
    (ls.sum() + s.sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_masked_minus_infinity_entries():
    x = sg.tensor([0.0, -np.inf, 1.0], dtype="float64", requires_grad=True)
    y = ops.softmax(x, 0)
    np.testing.assert_allclose(y.detach().numpy(), [1 / (1 + np.e), 0, np.e / (1 + np.e)])
    y.backward(sg.tensor([1.0, 2.0, 3.0], dtype="float64"))
    assert np.isfinite(x.grad.numpy()).all() and x.grad.numpy()[1] == 0


def test_tensor_methods_and_edge_shapes():
    x = r(2, 3)
    assert_close(x.softmax(0), ops.softmax(x, 0))
    assert_close(x.log_softmax(-1), ops.log_softmax(x, -1))
    assert ops.softmax(sg.tensor(5.0), 0).item() == 1.0
    assert ops.log_softmax(sg.zeros(0, 4), -1).shape == (0, 4)
    assert ops.softmax(sg.zeros(3, 0), dim=1).shape == (3, 0)


@pytest.mark.parametrize("fn, name", [(ops.softmax, "Softmax"),
                                      (ops.log_softmax, "LogSoftmax")])
def test_changing_the_output_in_place_breaks_backward_loudly(fn, name):
    x = r(3, seed=2)
    y = fn(x, 0)
    z = y + 1.0  # add saves nothing, so only y's own node can notice
    with sg.no_grad():
        y[0] = 0.0
    with pytest.raises(RuntimeError, match=rf"{name}Backward: its output .* was modified by an "
                                           "in-place operation"):
        z.sum().backward()


def test_errors():
    with pytest.raises(TypeError, match=r"softmax: expected a floating tensor \(got int64\)"):
        ops.softmax(sg.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"log_softmax: expected `dim` in \[-2, 1\] \(got 2\)"):
        ops.log_softmax(sg.zeros(2, 2), 2)
    with pytest.raises(TypeError, match="softmax: expected `input` to be a Tensor"):
        ops.softmax(np.zeros(3))
