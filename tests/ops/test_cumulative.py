"""ops/cumulative.py: cumsum / cumprod against numpy in value, float64 gradcheck, cumprod's exact
gradient with zeros (against the product of the other elements), dtype rules, 0-d inputs, the
Tensor methods, error messages, and static capture."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.testing import assert_close, gradcheck


def leaf(a):
    return sg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def npy(t):
    return t.detach().numpy()


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_values_match_numpy_and_gradcheck(name, dim):
    x = leaf(np.random.default_rng(1).uniform(0.5, 1.5, (3, 4, 5)))
    out = getattr(ops, name)(x, dim)
    assert_close(out, getattr(np, name)(npy(x), axis=dim))
    gradcheck(lambda t: getattr(ops, name)(t, dim), [x])


def _cumprod_grad_reference(x, g):
    """d/dx_k sum_i g_i prod_{j<=i} x_j, written out: sum_{i>=k} g_i prod_{j<=i, j!=k} x_j."""
    n = len(x)
    return np.array([sum(g[i] * np.prod([x[j] for j in range(i + 1) if j != k])
                         for i in range(k, n)) for k in range(n)])


@pytest.mark.parametrize("values", [
    [2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 3.0], [2.0, 3.0, 0.0], [1.5, 0.0, 2.0, 0.0, 3.0],
    [0.0, 0.0], [2.0, -3.0, 0.5], [0.0],
], ids=["middle", "first", "last", "two", "all", "none", "single"])
def test_cumprod_gradient_is_exact_with_zeros(values):
    x = leaf(values)
    g = np.arange(1.0, len(values) + 1)
    ops.cumprod(x, 0).backward(sg.tensor(g, dtype="float64"))
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), _cumprod_grad_reference(values, g), rtol=1e-12)


def test_cumprod_with_zeros_in_some_rows_of_a_matrix_gradchecks():
    x = leaf([[1.2, 0.0, 0.7, 1.1], [0.9, 1.3, 0.8, 1.4], [0.0, 1.1, 0.0, 0.6]])
    y = ops.cumprod(x, 1)
    g = np.random.default_rng(2).standard_normal((3, 4))
    y.backward(sg.tensor(g))
    ref = np.stack([_cumprod_grad_reference(r, gr) for r, gr in zip(npy(x), g, strict=True)])
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-12)
    gradcheck(lambda t: ops.cumprod(t, 0), [x])  # along dim 0 too (zeros in columns 0 and 1)


def test_cumsum_gradient_is_the_reversed_cumulative_sum():
    x = leaf([1.0, 2.0, 3.0])
    ops.cumsum(x, 0).backward(sg.tensor([1.0, 10.0, 100.0], dtype="float64"))
    assert x.grad.tolist() == [111.0, 110.0, 100.0]


def test_integer_and_bool_inputs_accumulate_in_int64_and_dtype_casts_first():
    i = sg.tensor([1, 2, 3], dtype="int32")
    assert ops.cumsum(i, 0).dtype == np.int64 and ops.cumprod(i, 0).tolist() == [1, 2, 6]
    assert ops.cumsum(sg.tensor([True, True, False]), 0).tolist() == [1, 2, 2]
    f = ops.cumsum(i, 0, dtype=sg.float64)
    assert f.dtype == np.float64 and f.tolist() == [1.0, 3.0, 6.0]
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x.cumsum(0, dtype=sg.float64)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 1.0]


def test_zero_dim_and_empty_inputs():
    x = sg.tensor(3.0, dtype="float64", requires_grad=True)
    y = ops.cumprod(x, 0)
    assert y.shape == () and y.item() == 3.0
    y.backward()
    assert x.grad.item() == 1.0
    assert ops.cumsum(x, -1).item() == 3.0
    e = sg.zeros(0, 3, requires_grad=True)
    ops.cumprod(e, 0).sum().backward()
    assert e.grad.shape == (0, 3)


def test_methods():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    assert_close(x.cumsum(1), np.cumsum(npy(x), axis=1))
    assert_close(x.cumprod(dim=0), np.cumprod(npy(x), axis=0))


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_argument_errors(name):
    fn = getattr(ops, name)
    with pytest.raises(TypeError, match=rf"{name}: expected `input` to be a Tensor"):
        fn([1.0, 2.0], 0)
    with pytest.raises(ValueError, match=rf"{name}: expected `dim` in \[-2, 1\] \(got 2\)"):
        fn(sg.ones(2, 3), 2)
    with pytest.raises(TypeError, match=rf"{name}: expected `dim` to be an int \(got None\)"):
        fn(sg.ones(2, 3), None)
    with pytest.raises(TypeError, match=rf"{name}: expected `dim` to be an int"):
        fn(sg.ones(2, 3), 1.0)


def test_static_trace_records_cumulative_ops():
    w = leaf([[0.5, 0.0, 2.0], [1.5, 1.0, 0.5]])

    def fn(x):
        return ops.cumprod(x * w, 1).sum() + ops.cumsum(x, 0).sum()

    graph = static.trace(fn, sg.ones(2, 3, dtype="float64"))
    assert graph.count(op="CumProd") == 1 and graph.count(op="CumSum") == 1
    x2 = sg.tensor(np.random.default_rng(3).standard_normal((2, 3)))
    assert_close(graph(x2), fn(x2), rtol=1e-13, atol=1e-13)
