"""Tolerance and whole-tensor comparisons (ops/comparison.py): isclose, allclose, equal; and
(for want of a file of their own) the Tensor methods this round added: new_empty, uniform_,
normal_, and the methods of the selection / counting / comparison ops."""

import numpy as np
import pytest

import sparsegraph as sg

A = np.array([1.0, 1.0 + 1e-7, 1.0 + 1e-3, np.inf, -np.inf, np.nan, 0.0])
B = np.array([1.0, 1.0, 1.0, np.inf, np.inf, np.nan, 1e-9])


@pytest.mark.parametrize("kwargs", [{}, {"equal_nan": True}, {"rtol": 1e-2},
                                    {"rtol": 0.0, "atol": 0.0}, {"atol": 1e-3}])
def test_isclose_matches_numpy(kwargs):
    out = sg.isclose(sg.tensor(A), sg.tensor(B), **kwargs)
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out.numpy(), np.isclose(A, B, **kwargs))
    assert sg.allclose(sg.tensor(A), sg.tensor(B), **kwargs) is bool(
        np.allclose(A, B, **kwargs))


def test_isclose_broadcasts_promotes_and_takes_numbers_and_bools():
    x = sg.tensor(np.array([[1.0], [2.0]]))
    out = x.isclose(sg.tensor(np.array([1.0, 2.0, 3.0], np.float32)))
    np.testing.assert_array_equal(out.numpy(), [[True, False, False], [False, True, False]])
    np.testing.assert_array_equal(sg.isclose(sg.tensor([1, 2]), 2).numpy(), [False, True])
    np.testing.assert_array_equal(sg.isclose(sg.tensor([True, False]),
                                             sg.tensor([True, True])).numpy(), [True, False])
    assert sg.ones(3).allclose(sg.ones(3) + 1e-9) is True
    assert sg.zeros(0).allclose(sg.zeros(0)) is True


def test_equal_needs_the_same_shape_and_values():
    a = sg.tensor(np.arange(6.0).reshape(2, 3))
    assert sg.equal(a, sg.tensor(np.arange(6.0).reshape(2, 3))) is True
    assert a.equal(sg.tensor(np.arange(6.0))) is False  # same values, another shape
    assert sg.equal(a, a + 1) is False
    assert sg.equal(sg.tensor([1, 2]), sg.tensor([1.0, 2.0])) is True  # promoted, as torch
    assert sg.equal(sg.tensor([np.nan]), sg.tensor([np.nan])) is False
    assert sg.equal(sg.zeros(0), sg.zeros(0)) is True


@pytest.mark.parametrize("call, error, match", [
    (lambda: sg.isclose(sg.ones(2), sg.ones(3)), ValueError,
     r"isclose: `input` of shape \(2,\) and `other` of shape \(3,\) do not broadcast"),
    (lambda: sg.isclose(sg.ones(2), sg.ones(2), rtol=-1.0), ValueError,
     r"isclose: expected `rtol` >= 0 \(got -1.0\)"),
    (lambda: sg.isclose(sg.ones(2), sg.ones(2), atol="x"), TypeError,
     r"isclose: expected a number `atol` \(got str\)"),
    (lambda: sg.isclose(sg.ones(2), None), TypeError,
     r"isclose: expected `other` to be a Tensor or a number \(got NoneType\)"),
    (lambda: sg.allclose(sg.ones(2), sg.ones(2), equal_nan=1), TypeError,
     r"isclose: expected `equal_nan` to be a bool"),
    (lambda: sg.equal(sg.ones(2), [1.0, 1.0]), TypeError,
     r"equal: expected `other` to be a Tensor \(got list\)"),
])
def test_errors_name_the_op_and_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---- Tensor methods -------------------------------------------------------------------------
def test_new_empty_takes_the_dtype_and_device_of_the_tensor():
    t = sg.ones(2, dtype="float64")
    e = t.new_empty(3, 4)
    assert e.shape == (3, 4) and e.dtype == np.float64 and e.device == t.device
    assert t.new_empty((2,), dtype="int32").dtype == np.int32
    assert t.new_empty(2, requires_grad=True).requires_grad


def test_uniform_and_normal_fill_in_place_from_the_generator():
    t = sg.zeros(2000, dtype="float64")
    assert t.uniform_(2.0, 3.0) is t
    a = t.numpy()
    assert a.min() >= 2.0 and a.max() < 3.0 and abs(a.mean() - 2.5) < 0.05
    version = t._version[0]  # an in-place write bumps the version counter
    assert t.normal_(5.0, 0.5) is t
    a = t.numpy()
    assert abs(a.mean() - 5.0) < 0.05 and abs(a.std() - 0.5) < 0.05
    assert t._version[0] > version
    g1, g2 = sg.Generator().manual_seed(3), sg.Generator().manual_seed(3)
    x, y = sg.zeros(5).uniform_(generator=g1), sg.zeros(5).uniform_(generator=g2)
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    with pytest.raises(ValueError, match=r"init.uniform_: expected a <= b"):
        sg.zeros(2).uniform_(1.0, 0.0)


@pytest.mark.parametrize("name", ["repeat_interleave", "masked_select", "tril", "triu",
                                  "diagonal", "diag", "unique", "bincount", "isclose",
                                  "allclose", "equal"])
def test_the_new_ops_have_tensor_methods(name):
    import inspect

    method, fn = getattr(sg.Tensor, name), getattr(sg.ops, name)
    assert (list(inspect.signature(method).parameters)[1:]
            == list(inspect.signature(fn).parameters)[1:])


def test_on_emulated_cuda(emulated_cuda):
    from tests.cupy_emulation import DeviceArray, host

    a, b = sg.tensor(A).to("cuda"), sg.tensor(B).to("cuda")
    out = sg.isclose(a, b, equal_nan=True)
    assert isinstance(out.array, DeviceArray)
    np.testing.assert_array_equal(host(out), np.isclose(A, B, equal_nan=True))
    assert sg.allclose(a, a + 1e-9, equal_nan=True) is True and sg.equal(a[:3], a[:3]) is True
    with pytest.raises(ValueError, match=r"isclose: `other` is on cpu but `input` is on cuda"):
        sg.isclose(a, sg.tensor(B))
    e = a.new_empty(2)
    assert e.device == a.device and isinstance(e.array, DeviceArray)
