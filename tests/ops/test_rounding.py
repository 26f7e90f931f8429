"""ops/rounding.py: `//`, `%`, floor_divide, remainder, fmod, div(rounding_mode=), floor, ceil,
round, trunc: numpy's (= PyTorch's) values for negative operands, dtypes, and gradients."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import gradcheck

A = [-7, -3, -1, 0, 1, 3, 7]
B = [2, -2, 3, -3, 5, 2, -2]


def _trunc_div(a, b):
    return np.trunc(np.asarray(a, np.float64) / np.asarray(b, np.float64))


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "float64"])
def test_rounding_divisions_and_remainders_match_numpy_for_negatives(dtype):
    a, b = sg.tensor(A, dtype=dtype), sg.tensor(B, dtype=dtype)
    na, nb = np.array(A, dtype), np.array(B, dtype)
    for got, want in [(a // b, np.floor_divide(na, nb)), (a % b, np.remainder(na, nb)),
                      (ops.floor_divide(a, b), np.floor_divide(na, nb)),
                      (ops.remainder(a, b), np.remainder(na, nb)),
                      (ops.fmod(a, b), np.fmod(na, nb)),
                      (ops.div(a, b, rounding_mode="floor"), np.floor_divide(na, nb)),
                      (ops.div(a, b, rounding_mode="trunc"), _trunc_div(na, nb).astype(dtype)),
                      (a.div(b, rounding_mode="trunc"), _trunc_div(na, nb).astype(dtype))]:
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got.numpy(), want)


def test_the_audits_examples_and_scalars_on_either_side():
    a = sg.tensor([-7, -3, 3, 7])
    assert (a // 2).tolist() == [-4, -2, 1, 3] and (a % 2).tolist() == [1, 1, 1, 1]
    assert ops.fmod(a, 2).tolist() == [-1, -1, 1, 1]
    assert (7 // sg.tensor([2, -2])).tolist() == [3, -4]
    assert (7 % sg.tensor([2, -2])).tolist() == [1, -1]
    assert (-7 // sg.tensor([2])).tolist() == [-4]
    # promotion as every elementwise op: int // float scalar is the default float
    q = a // 2.5
    assert q.dtype == np.float32 and q.tolist() == [-3.0, -2.0, 1.0, 2.0]


def test_trunc_division_of_large_int64_is_exact():
    a = sg.tensor([-(2**62) - 1, 2**62 + 1])
    assert ops.div(a, 3, rounding_mode="trunc").tolist() == [-((2**62 + 1) // 3),
                                                                 (2**62 + 1) // 3]


def test_integer_division_by_zero_raises_and_float_gives_inf():
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        sg.tensor([1, 2]) // 0
    with pytest.raises(ZeroDivisionError):
        ops.remainder(sg.tensor([1, 2]), sg.tensor([1, 0]))
    out = sg.tensor([1.0, -1.0]) // 0
    assert out.tolist() == [np.inf, -np.inf]


def test_div_rejects_an_unknown_rounding_mode():
    with pytest.raises(ValueError, match=r"div: expected `rounding_mode` to be None, 'trunc' or "
                                         r"'floor' \(got 'round'\)"):
        ops.div(sg.ones(2), 2, rounding_mode="round")


def test_div_without_rounding_mode_is_true_division():
    assert ops.div(sg.tensor([-7, 7]), 2).tolist() == [-3.5, 3.5]


# away from the jumps (a/b not near an integer) the derivatives exist
X = np.array([[-7.3, -2.6, 0.4], [1.7, 3.2, 6.9]])
Y = np.array([[2.1, -1.9, 0.7], [-2.3, 1.3, -0.9]])


@pytest.mark.parametrize("name", ["remainder", "fmod"])
def test_remainder_gradients_match_finite_differences(name):
    x = sg.tensor(X, dtype="float64", requires_grad=True)
    y = sg.tensor(Y, dtype="float64", requires_grad=True)
    assert gradcheck(lambda a, b: getattr(ops, name)(a, b), [x, y])
    getattr(ops, name)(x, y).sum().backward()
    quotient = np.floor(X / Y) if name == "remainder" else np.trunc(X / Y)
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(X))  # 1 wrt the dividend
    np.testing.assert_allclose(y.grad.numpy(), -quotient)


@pytest.mark.parametrize("fn", [lambda t: t // 1.3,
                                lambda t: ops.div(t, 1.3, rounding_mode="trunc"), ops.floor,
                                ops.ceil, ops.round, ops.trunc,
                                lambda t: t.round(1)],
                         ids=["floor_divide", "trunc_div", "floor", "ceil", "round", "trunc",
                              "round1"])
def test_rounding_ops_have_zero_gradient(fn):
    x = sg.tensor(X, dtype="float32", requires_grad=True)
    fn(x).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(X))


def test_floor_ceil_round_trunc_values_and_integer_inputs():
    v = np.array([-2.5, -1.5, -0.4, 0.5, 1.5, 2.5, 2.675])
    x = sg.tensor(v, dtype="float64")
    for name in ("floor", "ceil", "trunc"):
        np.testing.assert_array_equal(getattr(ops, name)(x).numpy(), getattr(np, name)(v))
        np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(np, name)(v))
    np.testing.assert_array_equal(ops.round(x).numpy(), [-2, -2, -0, 0, 2, 2, 3])  # half even
    np.testing.assert_array_equal(ops.round(x, decimals=2).numpy(), np.round(v, 2))
    i = sg.tensor([-3, 4])
    for name in ("floor", "ceil", "trunc", "round"):
        out = getattr(ops, name)(i)
        assert out.dtype == np.int64 and out.tolist() == [-3, 4]
    with pytest.raises(TypeError, match="round: expected an int `decimals` \\(got float 1.5\\)"):
        ops.round(x, 1.5)
