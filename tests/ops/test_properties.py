"""Property tests (hypothesis): broadcasting, reductions and indexing agree with numpy in value,
and gradients have the inputs' shapes and the expected sums."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sparsegraph as sg
from sparsegraph import ops

# no subnormals: algebraically equal formulas may underflow differently there
floats = st.floats(-10, 10, allow_nan=False, allow_subnormal=False, width=64)


@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
       st.sampled_from(["add", "sub", "mul", "maximum"]), st.data())
def test_binary_broadcasting_matches_numpy(shapes, name, data):
    a_np = data.draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=floats))
    b_np = data.draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=floats))
    a, b = sg.tensor(a_np, requires_grad=True), sg.tensor(b_np, requires_grad=True)
    out = getattr(ops, name)(a, b)
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "maximum": np.maximum}[name]
    np.testing.assert_allclose(out.detach().numpy(), ref(a_np, b_np))
    out.backward(sg.ones(out.shape, dtype="float64"))
    assert a.grad.shape == a_np.shape and b.grad.shape == b_np.shape
    if name == "add":  # each input element is used prod(out)/prod(in) times
        np.testing.assert_allclose(a.grad.numpy().sum(), out.numel())


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                  elements=floats), st.data(), st.booleans())
def test_reductions_match_numpy_and_gradients_sum(x_np, data, keepdim):
    dim = data.draw(st.one_of(st.none(), st.integers(-x_np.ndim, x_np.ndim - 1)))
    x = sg.tensor(x_np, requires_grad=True)
    s = ops.sum(x, dim, keepdim)
    np.testing.assert_allclose(s.detach().numpy(), x_np.sum(axis=dim, keepdims=keepdim))
    s.backward(sg.ones(s.shape, dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(x_np))
    x.grad = None
    m = ops.mean(x, dim, keepdim)
    np.testing.assert_allclose(m.detach().numpy(), x_np.mean(axis=dim, keepdims=keepdim))
    m.backward(sg.ones(m.shape, dtype="float64"))
    n = x_np.size if dim is None else x_np.shape[dim]
    np.testing.assert_allclose(x.grad.numpy(), np.full_like(x_np, 1.0 / n))


@st.composite
def array_and_key(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = draw(hnp.arrays(np.float64, shape, elements=floats))
    kind = draw(st.sampled_from(["basic", "int", "bool"]))
    if kind == "basic":
        key = draw(hnp.basic_indices(shape, allow_newaxis=True))
    elif kind == "int":
        key = draw(hnp.arrays(np.int64, draw(st.integers(0, 6)),
                              elements=st.integers(-shape[0], shape[0] - 1)))
    else:
        key = draw(hnp.arrays(np.bool_, shape[:1]))
    return x, key


@given(array_and_key())
def test_indexing_matches_numpy_and_grad_is_scatter_add(pair):
    x_np, key = pair
    x = sg.tensor(x_np, requires_grad=True)
    out = x[key]
    np.testing.assert_array_equal(out.detach().numpy(), x_np[key])
    g = np.arange(out.numel(), dtype=np.float64).reshape(out.shape) + 1
    out.backward(sg.tensor(g))
    expected = np.zeros_like(x_np)
    np.add.at(expected, key, g)
    np.testing.assert_allclose(x.grad.numpy(), expected)
