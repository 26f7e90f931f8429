"""numpy scalars (np.True_, np.int8(2), ...) are numbers wherever Python's are, as in PyTorch."""

import numpy as np
import pytest

import sparsegraph as sg

NP_BOOLS = [np.True_, np.False_]


@pytest.mark.parametrize("flag", NP_BOOLS)
@pytest.mark.parametrize("op", ["__mul__", "__rmul__", "__add__", "__radd__", "__rsub__"])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_numpy_bool_operands_act_as_python_bools(flag, op, dtype):
    t = sg.tensor([1, 2, 3], dtype=dtype)
    got, want = getattr(t, op)(flag), getattr(t, op)(bool(flag))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("flag", NP_BOOLS)
def test_numpy_bools_in_bitwise_where_masked_fill_and_in_place(flag):
    b = sg.tensor([True, False])
    for got, want in [(b & flag, b & bool(flag)), (b | flag, b | bool(flag)),
                      (b ^ flag, b ^ bool(flag)),
                      (sg.where(b, flag, not flag), sg.where(b, bool(flag), not flag)),
                      (b.masked_fill(b, flag), b.masked_fill(b, bool(flag)))]:
        assert got.dtype == want.dtype == np.bool_
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    t = sg.tensor([1.0, 2.0])
    t.add_(flag)
    np.testing.assert_array_equal(t.numpy(), [1.0 + bool(flag), 2.0 + bool(flag)])


def test_a_numpy_bool_operand_keeps_the_gradient_of_the_tensor():
    x = sg.tensor([1.0, -2.0], dtype="float64", requires_grad=True)
    (x * np.True_).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("fill, dtype", [(np.True_, np.bool_), (np.int8(3), np.int64),
                                         (np.uint16(3), np.int64), (np.float64(0.5), np.float32)])
def test_full_infers_the_dtype_of_numpy_scalars_as_of_python_numbers(fill, dtype):
    t = sg.full((2,), fill)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.full(2, fill).astype(dtype))
