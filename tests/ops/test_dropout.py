"""Dropout (ops/stochastic.py): seeded determinism, statistics, inverted scaling, the backward
mask, the identity and edge cases, errors."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import gradcheck


def test_same_seed_same_mask_other_seed_other_mask(device):
    x = sg.ones(1000, device=device)
    a = ops.dropout(x, 0.5, generator=sg.Generator(5)).numpy()
    b = ops.dropout(x, 0.5, generator=sg.Generator(5)).numpy()
    c = ops.dropout(x, 0.5, generator=sg.Generator(6)).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_manual_seed_drives_the_default_generator():
    x = sg.ones(500)
    sg.manual_seed(3)
    a = ops.dropout(x, 0.3).numpy()
    b = ops.dropout(x, 0.3).numpy()  # the stream advances
    sg.manual_seed(3)
    np.testing.assert_array_equal(ops.dropout(x, 0.3).numpy(), a)
    assert (a != b).any()


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_statistics_and_scaling(p):
    x = sg.ones(200_000)
    out = ops.dropout(x, p, generator=sg.Generator(0)).numpy()
    dropped = (out == 0).mean()
    assert abs(dropped - p) < 0.01
    assert abs(out.mean() - 1.0) < 0.03  # the expectation is preserved
    np.testing.assert_allclose(np.unique(out[out != 0]), [1 / (1 - p)], rtol=1e-6)
    assert out.dtype == np.float32


def test_backward_multiplies_by_the_same_scaled_mask():
    x = sg.tensor(np.random.default_rng(1).standard_normal((50, 20)), dtype="float64",
                  requires_grad=True)
    y = ops.dropout(x, 0.4, generator=sg.Generator(2))
    keep = y.grad_fn.ctx.keep
    assert keep.dtype == np.bool_  # one byte per element is kept, not a float copy
    g = np.random.default_rng(3).standard_normal((50, 20))
    y.backward(sg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * keep / 0.6, rtol=1e-12)
    np.testing.assert_array_equal(y.detach().numpy() == 0, ~keep)


@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 6), (7,)])
def test_gradcheck_with_a_fixed_generator(shape):
    x = sg.tensor(np.random.default_rng(4).standard_normal(shape), dtype="float64",
                  requires_grad=True)
    gradcheck(lambda t: ops.dropout(t, 0.5, True, generator=sg.Generator(1)), [x])


def test_identity_cases_and_p_one():
    x = sg.randn(10, requires_grad=True)
    assert ops.dropout(x, 0.5, training=False) is x
    assert ops.dropout(x, 0.0) is x
    z = ops.dropout(x, 1.0)
    np.testing.assert_array_equal(z.detach().numpy(), 0.0)
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)


def test_no_graph_without_grad():
    y = ops.dropout(sg.randn(4, 4), 0.5)
    assert y.grad_fn is None and not y.requires_grad


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.5", True])
def test_rejects_bad_p(p):
    with pytest.raises(ValueError, match=r"dropout: expected `p` in \[0, 1\]"):
        ops.dropout(sg.randn(3), p)


def test_rejects_integer_input():
    with pytest.raises(TypeError, match=r"dropout: expected a floating tensor \(got int64\)"):
        ops.dropout(sg.tensor([1, 2, 3]), 0.5)
