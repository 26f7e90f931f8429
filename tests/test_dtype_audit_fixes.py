"""Dtype audit fixes: unsupported numpy operands, dtypes outside DTYPES, torch API gaps."""

import numpy as np
import pytest

import sparsegraph as sg

UNSUPPORTED = r"expected operands of a bool, integer or floating dtype \(got dtype {}"


# ---- 1. complex / object / datetime numpy operands: a TypeError, never a KeyError -----------
@pytest.mark.parametrize("other, name", [
    (np.ones(2, complex), "complex128"),
    (np.array([1, 2], dtype=object), "object"),
    (np.complex64(1), "complex64"),
    (np.array(["2020-01-01", "2020-01-02"], "M8[D]"), r"datetime64\[D\]"),
])
@pytest.mark.parametrize("op, fn", [
    ("add", lambda x, o: x + o), ("sub", lambda x, o: x - o), ("mul", lambda x, o: x * o),
    ("pow", lambda x, o: x ** o), ("maximum", sg.maximum), ("sub", lambda x, o: o - x),
])
def test_unsupported_numpy_operand_is_a_type_error_naming_op_and_dtype(op, fn, other, name):
    with pytest.raises(TypeError, match=f"^{op}: " + UNSUPPORTED.format(name)):
        fn(sg.randn(2), other)


@pytest.mark.parametrize("fn", [
    lambda x, o: sg.where(x > 0, x, o),
    lambda x, o: x.clone().mul_(o),
    lambda x, o: x.clone().add_(o),
])
def test_unsupported_numpy_operand_in_where_and_inplace_is_a_type_error(fn):
    with pytest.raises(TypeError, match=UNSUPPORTED.format("complex128")):
        fn(sg.randn(2), np.ones(2, complex))


def test_tensor_refuses_datetime_data():
    with pytest.raises(TypeError, match=r"tensor: expected data of a bool, integer or floating "
                                        r"dtype \(got dtype datetime64\[D\]"):
        sg.tensor(np.array(["2020-01-01"], "M8[D]"))


# ---- 2. numpy operands take the dtype sg.tensor gives them: no Tensor outside DTYPES ----------
@pytest.mark.parametrize("make, other, expected", [
    (lambda: sg.randn(2), np.ones(2, np.longdouble), "float32"),
    (lambda: sg.randn(2), np.array(1, np.longdouble), "float32"),
    (lambda: sg.randn(2), np.longdouble(1), "float32"),
    (lambda: sg.randn(2, dtype="float16"), np.ones(2, np.longdouble), "float32"),
    (lambda: sg.randn(2), np.ones(2, ">f8"), "float64"),
    (lambda: sg.tensor(np.ones(2, np.uint8)), np.ones(2, np.uint32), "int64"),
    (lambda: sg.tensor(np.ones(2, np.uint8)), np.ones(2, np.uint16), "int64"),
    (lambda: sg.tensor([1, 2]), np.ones(2, np.uint64), "int64"),
    (lambda: sg.tensor(np.ones(2, np.int8)), np.ones(2, np.int16), "int16"),
])
def test_numpy_operand_dtype_is_normalised_as_sg_tensor(make, other, expected):
    x = make()
    for out in (x + other, x - other, other + x, sg.maximum(x, other),
                sg.where(x > 0, x, other)):
        assert out.dtype == np.dtype(expected)
    assert (x + other).tolist() == (x + sg.tensor(other)).tolist()
    assert (x + sg.tensor(other)).dtype == np.dtype(expected)  # the same as a Tensor operand


def test_inplace_with_unsupported_width_numpy_operand_keeps_dtype():
    a = sg.tensor([1, 2])
    a.add_(np.ones(2, np.uint32))
    assert a.dtype == np.int64 and a.tolist() == [2, 3]
    x = sg.ones(2)
    x.mul_(np.full(2, 3, np.longdouble))
    assert x.dtype == np.float32 and x.tolist() == [3.0, 3.0]


def test_int16_is_a_supported_dtype():
    u = sg.tensor(np.ones(2, np.uint8)) + sg.tensor(np.full(2, -3, np.int8))
    assert u.dtype == np.int16 and u.tolist() == [-2, -2]  # PyTorch: uint8 + int8 is int16
    assert sg.zeros_like(u).dtype == np.int16 and sg.ones_like(u).dtype == np.int16
    assert sg.tensor(u).dtype == np.int16 and sg.tensor(np.ones(2, np.int16)).dtype == np.int16
    assert u.to("int16").dtype == np.int16 and sg.randn(2).to(sg.short).dtype == np.int16
    assert sg.int16 is sg.short and sg.int16 == np.int16
    assert "int16" in sg.__all__ and "short" in sg.__all__


def test_int16_round_trips_through_save_and_load(tmp_path):
    u = sg.tensor(np.array([1, -2], np.int16))
    sg.save({"u": u}, tmp_path / "u.sg")
    back = sg.load(tmp_path / "u.sg")["u"]
    assert back.dtype == np.int16 and back.tolist() == [1, -2]


def test_sg_tensor_still_maps_unsupported_widths():
    assert sg.tensor(np.ones(2, np.uint32)).dtype == np.int64
    assert sg.tensor(np.ones(2, np.longdouble)).dtype == np.float32


# ---- 3. torch API gaps -----------------------------------------------------------------------
def test_sparse_tensor_float_double_half():
    v = sg.tensor([1.0, 2.0], requires_grad=True)
    a = sg.sparse_coo([[0, 1], [1, 0]], v, (2, 2))
    d = a.double()
    assert isinstance(d, sg.SparseTensor) and d.dtype == np.float64
    assert d.to_dense().tolist() == [[0.0, 1.0], [2.0, 0.0]]
    f = d.float()
    assert f.dtype == np.float32 and f.layout == a.layout
    (f.values * sg.tensor([3.0, 5.0])).sum().backward()  # differentiable through the values
    assert v.grad.dtype == np.float32 and v.grad.tolist() == [3.0, 5.0]
    with pytest.raises(TypeError, match="half: float16 values are not supported"):
        a.half()


def test_is_floating_point_and_is_complex():
    assert sg.randn(2).is_floating_point() and sg.randn(2, dtype="float16").is_floating_point()
    assert not sg.tensor([1, 2]).is_floating_point()
    assert not sg.tensor([True]).is_floating_point()
    assert sg.randn(2).is_complex() is False


def test_get_default_dtype():
    assert sg.get_default_dtype() == np.float32 == sg.tensor(1.0).dtype
    assert "get_default_dtype" in sg.__all__


def test_to_copy_true_always_returns_a_new_tensor():
    x = sg.randn(3, requires_grad=True)
    for y in (x.to(copy=True), x.to("float32", copy=True), x.to("cpu", copy=True),
              x.to(x, copy=True)):
        assert y is not x and y.dtype == x.dtype
        assert not np.shares_memory(y.array, x.array)
        assert y.tolist() == x.tolist()
    y = x.to(copy=True)
    (2 * y).sum().backward()  # differentiable as to() is
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    z = x.to(dtype="float64", copy=True)
    assert z.dtype == np.float64 and z.grad_fn is not None
    assert x.to("float32", copy=False) is x
    with pytest.raises(TypeError, match="to: expected a bool for copy"):
        x.to(copy=1)


def test_sparse_to_copy_true_copies_values():
    a = sg.sparse_coo([[0], [1]], [1.0], (2, 2))
    b = a.to(copy=True)
    assert not np.shares_memory(b.values.array, a.values.array)


@pytest.mark.parametrize("call, op", [
    (lambda x: sg.where(x > 0, x, np.ones(2, complex)), "where"),
    (lambda x: x.mul_(np.ones(2, complex)), "mul_"),
    (lambda x: x.clamp_(np.ones(2, complex)), "clamp_"),
    (lambda x: sg.clamp(x, [0j, 1]), "clamp"),
])
def test_complex_operands_of_where_inplace_and_clamp_name_the_op(call, op):
    with pytest.raises(TypeError, match=rf"^{op}: expected operands of a bool, integer or "
                                        r"floating dtype \(got dtype complex128"):
        call(sg.randn(2))
