"""Tensor API audit (torch parity): F.pad, zero_ / fill_ / copy_ give the overwritten input a
zero gradient, cumsum / cumprod accumulate floats in float64, sg.Tensor(16) is refused (torch's
legacy sizes constructor), size(dim) and integer division by zero name themselves."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph.testing import gradcheck

A = np.arange(12.0).reshape(3, 4)


@pytest.mark.parametrize("amounts, value", [((1, 2), None), ((1, 1, 0, 3), 9.0),
                                            ((-1, 1, 1, -1), 0.5), ((0, 0), None)])
def test_pad_matches_numpy_and_has_its_gradient(amounts, value):
    x = sg.tensor(A.copy(), requires_grad=True)
    out = F.pad(x, amounts, value=value)
    pairs = [(0, 0)] * (2 - len(amounts) // 2) + [amounts[i:i + 2] for i in
                                                  range(len(amounts) - 2, -1, -2)]
    crop = tuple(slice(max(-b, 0), A.shape[d] - max(-a, 0)) for d, (b, a) in enumerate(pairs))
    want = np.pad(A[crop], [(max(b, 0), max(a, 0)) for b, a in pairs],
                  constant_values=0 if value is None else value)
    np.testing.assert_array_equal(out.detach().numpy(), want)
    assert gradcheck(lambda v: F.pad(v, amounts, value=value), [x])


@pytest.mark.parametrize("call, message", [
    (lambda x: F.pad(x, (1,)), r"^pad: expected an even number of ints"),
    (lambda x: F.pad(x, (1, 1, 1, 1, 1, 1)), r"^pad: expected an even number of ints"),
    (lambda x: F.pad(x, (1, 1), mode="reflect"), r"^pad: only mode 'constant'"),
    (lambda x: F.pad(x, (-3, -2)), r"^pad: padding \(-3, -2\) of dim 1 \(size 4\)"),
])
def test_pad_refuses_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call(sg.tensor(A))


@pytest.mark.parametrize("write", [lambda b: b.zero_(), lambda b: b.fill_(3.0),
                                   lambda b: b.copy_(sg.ones(2))])
def test_an_overwritten_input_gets_a_zero_gradient(write):
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    write(b)
    (b * b).sum().backward()
    assert a.grad is not None and a.grad.tolist() == [0.0, 0.0]  # torch: zeros, not None


def test_cumsum_and_cumprod_accumulate_floats_in_float64():
    assert sg.ones(20_000_000).cumsum(0)[-1].item() == 20_000_000.0  # float32 stops at 2^24
    half = sg.full((3000,), 1.0, dtype=sg.float16).cumsum(0)
    assert half.dtype == np.float16 and half[-1].item() == 3000.0  # float16 stops at 2048
    assert sg.full((3000,), 1.0, dtype=sg.float32).cumsum(0).dtype == np.float32
    assert sg.tensor([1, 2, 3]).cumsum(0).dtype == np.int64
    x = sg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    assert gradcheck(lambda v: v.cumsum(0) * v.cumprod(0), [x])


@pytest.mark.parametrize("args", [(16,), (3, 4)])
def test_tensor_of_sizes_is_refused_with_the_torch_alternatives(args):
    with pytest.raises(TypeError, match=r"^Tensor: expected data .* not sizes .* "
                                        r"sparsegraph.empty\(...\)"):
        sg.Tensor(*args)
    assert sg.Tensor([1.0, 2.0]).tolist() == [1.0, 2.0] and sg.Tensor(2.5).item() == 2.5


def test_size_of_a_bad_dim_is_named():
    x = sg.ones(2, 3)
    assert x.size(-1) == 3
    with pytest.raises(ValueError, match=r"^size: expected `dim` in \[-2, 1\] \(got 5\)"):
        x.size(5)
    with pytest.raises(TypeError, match=r"^size: expected an int `dim`"):
        x.size("a")


@pytest.mark.parametrize("call, op", [(lambda x: x // 0, "floor_divide"),
                                      (lambda x: x % 0, "remainder"),
                                      (lambda x: sg.fmod(x, 0), "fmod"),
                                      (lambda x: sg.div(x, 0, rounding_mode="trunc"), "div")])
def test_integer_division_by_zero_names_the_op(call, op):
    with pytest.raises(ZeroDivisionError, match=rf"^{op}: integer division by zero"):
        call(sg.tensor([1, 2]))


def test_logsigmoid_is_stable_and_has_its_gradient():
    x = sg.tensor(np.array([-1000.0, -5.0, 0.0, 5.0, 1000.0]))
    want = -np.logaddexp(0.0, -x.numpy())  # log(sigmoid(x)), stable
    np.testing.assert_allclose(F.logsigmoid(x).numpy(), want, rtol=1e-12)
    assert gradcheck(F.logsigmoid, [sg.tensor(np.array([-3.0, 0.5, 4.0]), requires_grad=True)])
    with pytest.raises(TypeError, match=r"^logsigmoid: expected a floating tensor"):
        F.logsigmoid(sg.tensor([1, 2]))


def test_pad_with_no_amounts_returns_a_new_tensor():
    x = sg.tensor(np.array(1.0))
    out = F.pad(x, ())
    assert out is not x and out.item() == 1.0
