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
    keep = ops.dropout_mask((50, 20), 0.4, generator=sg.Generator(2))  # same generator state
    assert keep.dtype == np.bool_
    # the mask is recomputed from its key in backward: nothing of x's size is kept for it
    assert not [v for v in vars(y.grad_fn.ctx).values() if isinstance(v, np.ndarray)]
    g = np.random.default_rng(3).standard_normal((50, 20))
    y.backward(sg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * keep / 0.6, rtol=1e-12)
    np.testing.assert_array_equal(y.detach().numpy() == 0, ~keep)


@pytest.mark.parametrize("shape", [(0,), (1,), (7, 0), (3, 5), (1001, 3), (4, 3, 2)])
@pytest.mark.parametrize("p", [1e-9, 0.25, 0.5, 0.999])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numba_kernels_match_the_generic_ones(shape, p, dtype):
    from sparsegraph.ops.counter_rng import keep_threshold

    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    key, threshold, scale = 0xDEADBEEF12345678, keep_threshold(p), 1 / (1 - p)
    masks = {k.name: k.fn(key, threshold, shape, "cpu")
             for k in sg.kernels.kernels("dropout_mask")}
    outs = {k.name: k.fn(x, key, threshold, scale) for k in sg.kernels.kernels("dropout")}
    assert set(masks) == set(outs) == {"generic", "numba"}
    np.testing.assert_array_equal(masks["numba"], masks["generic"])
    np.testing.assert_array_equal(outs["numba"], outs["generic"])  # bit for bit
    assert outs["numba"].dtype == x.dtype and outs["numba"].shape == x.shape
    np.testing.assert_array_equal(outs["generic"], x * masks["generic"] * x.dtype.type(scale))


def test_masks_are_independent_across_elements_and_calls():
    gen = sg.Generator(11)
    a, b = (ops.dropout_mask((400_000,), 0.5, generator=gen) for _ in range(2))
    assert (a != b).any()
    for u, v in [(a[:-1], a[1:]), (a, b)]:  # neighbours in one mask, and two masks
        both = (u & v).mean()
        assert abs(both - 0.25) < 0.004  # P(keep, keep) = (1 - p)^2 for independent bits


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


def test_float16_dropout_runs_and_matches_the_generic_kernel():
    x = sg.tensor(np.linspace(-1, 1, 64), dtype="float16", requires_grad=True)
    y = ops.dropout(x, 0.5, generator=sg.Generator(3))
    with sg.kernels.use("generic"):
        ref = ops.dropout(x.detach(), 0.5, generator=sg.Generator(3))
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y.detach().numpy(), ref.numpy())
    y.sum().backward()
    assert x.grad.dtype == np.float16
    np.testing.assert_array_equal(x.grad.numpy() != 0, ref.numpy() != 0)
