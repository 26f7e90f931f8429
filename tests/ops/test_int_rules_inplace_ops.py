"""Integer scalars and in-place operators, as PyTorch has them.

1. True division of an integer tensor by an int outside its dtype takes the int's true value
   (``i8 / 300`` is float32 ``i8 / 300.0``); trunc and floor division cast it to the tensor's
   dtype (300 wraps to 44 in int8), as ``//`` and PyTorch's integer kernels do.
2. A number written into an integer tensor (`full`, `full_like`, `new_full`, `fill_`,
   `masked_fill`, ``t[i] = v``, `index_fill`) is range-checked whether it is a Python or a
   numpy number: PyTorch's "value cannot be converted ... without overflow".
3. ``&= |= ^= //= %= **=`` write into the tensor (an alias and a view's base see it), as
   torch's in-place operators; ``**=`` / ``%=`` keep the gradient; the bitwise / logical
   methods exist with the functional forms' signatures.
"""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

I8 = [-100, 1, 100]


# ---- 1. division by an int outside the tensor's dtype -------------------------------------
@pytest.mark.parametrize("call", [
    lambda t, s: t / s, lambda t, s: t.div(s), lambda t, s: sg.true_divide(t, s),
    lambda t, s: sg.div(t, s), lambda t, s: sg.divide(t, s, rounding_mode=None)],
    ids=["op", "method", "true_divide", "div", "divide"])
@pytest.mark.parametrize("scalar", [300, np.int64(300), -40000, np.uint64(2**40)])
def test_true_division_by_an_out_of_range_int_uses_its_value(call, scalar):
    out = call(sg.tensor(I8, dtype=sg.int8), scalar)
    assert out.dtype == np.float32  # PyTorch: ints / int is the default float
    np.testing.assert_allclose(out.numpy(), np.float32(I8) / np.float32(int(scalar)),
                               rtol=1e-6)


def test_true_division_int16_and_uint8_and_reflected():
    out = sg.tensor([1000], dtype=sg.int16) / 40000
    np.testing.assert_allclose(out.numpy(), [0.025], rtol=1e-6)
    np.testing.assert_allclose((sg.tensor([5], dtype=sg.uint8) / -1).numpy(), [-5.0])
    r = 300 / sg.tensor(I8, dtype=sg.int8)
    assert r.dtype == np.float32
    np.testing.assert_allclose(r.numpy(), 300 / np.float32(I8), rtol=1e-6)


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_rounded_division_wraps_the_int_as_floor_division_does(mode):
    """PyTorch casts the scalar to int8 (300 -> 44) in its integer kernels: 'trunc' and
    'floor' both wrap, as ``//``, instead of 'trunc' raising while 'floor' wraps."""
    t = sg.tensor(I8, dtype=sg.int8)
    out = t.div(300, rounding_mode=mode)
    wrapped = np.int8(44)
    a = np.array(I8, np.int8)
    expected = np.trunc(a / wrapped) if mode == "trunc" else np.floor_divide(a, wrapped)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out.numpy(), expected.astype(np.int8))
    np.testing.assert_array_equal(out.numpy(), t.div(44, rounding_mode=mode).numpy())
    if mode == "floor":
        np.testing.assert_array_equal((t // 300).numpy(), out.numpy())


def test_pow_still_names_the_out_of_range_int():
    with pytest.raises(ValueError, match=r"pow: the integer 300 is out of range"):
        sg.tensor(I8, dtype=sg.int8) ** 300


# ---- 2. numbers written into integer tensors: one range check ------------------------------
def _i8():
    return sg.tensor([1, 2], dtype=sg.int8)


FILLS = {
    "full": (lambda v: sg.full((2,), v, dtype=sg.int8), "full", "fill_value"),
    "full_like": (lambda v: sg.full_like(_i8(), v), "full_like", "fill_value"),
    "new_full": (lambda v: _i8().new_full((2,), v), "full", "fill_value"),
    "fill_": (lambda v: _i8().fill_(v), "fill_", "value"),
    "masked_fill": (lambda v: _i8().masked_fill(sg.tensor([True, False]), v), "masked_fill",
                    "value"),
    "setitem": (lambda v: _i8().__setitem__(0, v), "setitem", "value"),
    "setitem_slice": (lambda v: _i8().__setitem__(slice(None), v), "setitem", "value"),
    "index_fill": (lambda v: _i8().index_fill(0, sg.tensor([0]), v), "index_fill", "value"),
    "index_fill_": (lambda v: _i8().index_fill_(0, sg.tensor([0]), v), "index_fill_",
                    "value"),
}


@pytest.mark.parametrize("value", [300, np.int64(300), np.int16(-129), np.uint8(200), 300.0,
                                   np.float32(-1e4), float("nan")],
                         ids=["int", "np.int64", "np.int16", "np.uint8", "float", "np.float32",
                              "nan"])
@pytest.mark.parametrize("what", list(FILLS))
def test_an_out_of_range_number_into_int8_is_refused(what, value):
    fn, op, name = FILLS[what]
    with pytest.raises(ValueError, match=rf"^{op}: `{name}` .* cannot be converted to int8"):
        fn(value)


@pytest.mark.parametrize("what", list(FILLS))
@pytest.mark.parametrize("value", [127, np.int64(-128), np.uint64(5), 2.9])
def test_an_in_range_number_is_written(what, value):
    fn = FILLS[what][0]
    t = _i8()
    out = fn(value) if what not in ("setitem", "setitem_slice", "fill_", "index_fill_") else t
    if out is t:  # the in-place forms write into t
        {"setitem": lambda: t.__setitem__(0, value),
         "setitem_slice": lambda: t.__setitem__(slice(None), value),
         "fill_": lambda: t.fill_(value),
         "index_fill_": lambda: t.index_fill_(0, sg.tensor([0]), value)}[what]()
    assert out.dtype == np.int8
    assert np.int8(int(value)) in out.numpy()  # truncated toward 0, as PyTorch's cast


def test_the_range_check_uses_the_dtype_range_for_wider_ints():
    assert sg.full((1,), np.int64(2**31 - 1), dtype=sg.int32).item() == 2**31 - 1
    with pytest.raises(ValueError, match=r"full: `fill_value` .*2147483648.* int32 without"):
        sg.full((1,), np.int64(2**31), dtype=sg.int32)
    with pytest.raises(ValueError, match=r"masked_fill: `value` .*-256.* uint8 without"):
        sg.tensor([1], dtype=sg.uint8).masked_fill(sg.tensor([True]), np.int64(-256))
    # float and bool tensors take any number, as before
    assert sg.full((1,), np.int64(300), dtype=sg.float32).item() == 300.0
    assert sg.full((1,), 300, dtype=sg.bool).item() is True


# ---- 3. in-place operators write into the tensor -------------------------------------------
@pytest.mark.parametrize("op, npop", [
    ("__iand__", np.bitwise_and), ("__ior__", np.bitwise_or), ("__ixor__", np.bitwise_xor)])
def test_bitwise_inplace_operators_change_an_alias(op, npop):
    m = sg.tensor([True, True, False, True])
    alias = m
    other = np.array([True, False, True, True])
    out = getattr(m, op)(sg.tensor(other))
    assert out is alias
    np.testing.assert_array_equal(alias.numpy(), npop(np.array([True, True, False, True]),
                                                      other))


def test_augmented_assignment_keeps_the_object_and_bumps_the_version():
    m = sg.tensor([True, True, False, True])
    alias, version = m, m._version[0]
    m &= sg.tensor([True, False, True, True])
    assert m is alias and m._version[0] == version + 1
    assert alias.tolist() == [True, False, False, True]
    i = sg.tensor([5, 6, 7])
    j = i
    i |= 8
    i ^= 1
    assert j.tolist() == [(5 | 8) ^ 1, (6 | 8) ^ 1, (7 | 8) ^ 1]


@pytest.mark.parametrize("op, npop, operand", [
    ("__ifloordiv__", np.floor_divide, 2), ("__imod__", np.remainder, 4),
    ("__ipow__", np.power, 2), ("__iand__", np.bitwise_and, 6), ("__ior__", np.bitwise_or, 1),
    ("__ixor__", np.bitwise_xor, 3)])
def test_inplace_operator_on_a_view_changes_the_base(op, npop, operand):
    a = sg.arange(-3, 6)
    v = a[:4]
    out = getattr(v, op)(operand)
    assert out is v
    expected = np.arange(-3, 6)
    expected[:4] = npop(expected[:4], operand)
    np.testing.assert_array_equal(a.numpy(), expected)


def test_floordiv_on_a_view_as_in_the_audit():
    a = sg.arange(6)
    v = a[:3]
    v //= 2
    assert a.tolist() == [0, 0, 1, 3, 4, 5]


def test_inplace_int_scalar_wraps_as_the_out_of_place_op():
    t = sg.tensor([100, -7], dtype=sg.int8)
    t //= 300  # 300 -> 44 in int8
    np.testing.assert_array_equal(t.numpy(), np.floor_divide(np.int8([100, -7]), np.int8(44)))
    t = sg.tensor([100, -7], dtype=sg.int8)
    t |= 257  # 257 -> 1
    assert t.tolist() == [101, -7]


@pytest.mark.parametrize("stmt, exc, match", [
    (lambda m: m.__iand__(sg.tensor([1, 2])), TypeError,
     r"bitwise_and_: the result type int64 can't be cast to the tensor's dtype bool"),
    (lambda m: m.__ior__(sg.tensor([True, False, True])), ValueError,
     r"bitwise_or_: `other` of shape \(3,\) cannot be broadcast to the tensor's shape \(2,\)"),
    (lambda m: sg.tensor([1, 2]).__ipow__(0.5), TypeError,
     r"pow_: the result type float32 can't be cast to the tensor's dtype int64"),
    (lambda m: sg.tensor([1.0, 2.0]).__iand__(1), TypeError,
     r"bitwise_and: expected `input` to be an integer or bool Tensor"),
])
def test_inplace_operators_refuse_what_pytorch_refuses(stmt, exc, match):
    m = sg.tensor([True, False])
    before = m.tolist()
    with pytest.raises(exc, match=match):
        stmt(m)
    assert m.tolist() == before


def test_ipow_on_a_leaf_that_requires_grad_is_refused():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"pow_: a leaf tensor that requires grad"):
        x **= 2


def test_ipow_gradient_matches_finite_differences():
    x = sg.tensor([0.5, 1.5, 2.0], dtype=sg.float64, requires_grad=True)
    w = sg.tensor([1.5, 2.0, 0.5], dtype=sg.float64, requires_grad=True)

    def f(x, w):
        y = x * 1
        alias = y
        y **= w
        return alias  # the write is in place: the alias holds x ** w

    np.testing.assert_allclose(f(x, w).detach().numpy(), x.detach().numpy() ** w.detach().numpy())
    assert gradcheck(f, [x, w])
    y = x * 1
    y **= 2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())


def test_ipow_through_a_view_gradient():
    x = sg.tensor([0.5, 1.5, 2.0], dtype=sg.float64, requires_grad=True)

    def f(x):
        y = x * 1
        v = y[:2]
        v **= 3
        return y * 2

    xs = x.detach().numpy()
    np.testing.assert_allclose(f(x).detach().numpy(), 2 * np.r_[xs[:2] ** 3, xs[2:]])
    assert gradcheck(f, [x])


def test_imod_gradient_matches_finite_differences():
    x = sg.tensor([0.5, 1.5, 2.0], dtype=sg.float64, requires_grad=True)
    w = sg.tensor([1.3, 2.0, 0.7], dtype=sg.float64, requires_grad=True)

    def f(x, w):
        y = x * 3
        alias = y
        y %= w
        return alias

    np.testing.assert_allclose(f(x, w).detach().numpy(),
                               np.remainder(3 * x.detach().numpy(), w.detach().numpy()))
    assert gradcheck(f, [x, w])


def test_inplace_op_after_a_saved_use_raises_at_backward():
    x = sg.tensor([1.5, 2.0], requires_grad=True)
    y = x * 1
    z = y * y  # saves y
    y **= 2
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in place"):
        z.sum().backward()


# ---- the bitwise / logical methods --------------------------------------------------------
@pytest.mark.parametrize("name, npfn", [
    ("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
    ("bitwise_xor", np.bitwise_xor), ("logical_and", np.logical_and),
    ("logical_or", np.logical_or), ("logical_xor", np.logical_xor)])
def test_binary_bitwise_and_logical_methods(name, npfn):
    a, b = np.array([0, 3, 5, -2]), np.array([1, 6, 0, 7])
    out = getattr(sg.tensor(a), name)(sg.tensor(b))
    np.testing.assert_array_equal(out.numpy(), npfn(a, b))
    assert out.dtype == npfn(a, b).dtype


def test_unary_bitwise_and_logical_methods_and_inplace_forms():
    a = np.array([0, 3, -2])
    np.testing.assert_array_equal(sg.tensor(a).bitwise_not().numpy(), np.invert(a))
    np.testing.assert_array_equal(sg.tensor(a).logical_not().numpy(), np.logical_not(a))
    t = sg.tensor(a)
    alias = t
    assert t.bitwise_not_() is alias
    np.testing.assert_array_equal(alias.numpy(), np.invert(a))
    for name, npfn in (("bitwise_and_", np.bitwise_and), ("bitwise_or_", np.bitwise_or),
                       ("bitwise_xor_", np.bitwise_xor)):
        t = sg.tensor(a)
        assert getattr(t, name)(6) is t
        np.testing.assert_array_equal(t.numpy(), npfn(a, 6))


def test_bitwise_functions_take_torchs_signatures():
    import inspect

    assert list(inspect.signature(sg.ops.bitwise_and).parameters) == ["input", "other"]
    assert list(inspect.signature(sg.ops.bitwise_not).parameters) == ["input"]
    assert list(inspect.signature(sg.Tensor.bitwise_xor).parameters) == ["self", "other"]


def test_fills_wrap_small_negative_ints_into_uint8_as_pytorch():
    m = sg.tensor([True, False])
    u8 = sg.zeros(2, dtype="uint8")
    assert sg.full((2,), -1, dtype="uint8").tolist() == [255, 255]
    assert sg.full((2,), np.int8(-1), dtype="uint8").tolist() == [255, 255]
    assert u8.clone().fill_(-255).tolist() == [1, 1]
    assert u8.masked_fill(m, -1).tolist() == [255, 0]
    t = u8.clone()
    t[0] = -2
    assert t.tolist() == [254, 0]
    with pytest.raises(ValueError, match="-256 cannot be converted to uint8"):
        sg.full((2,), -256, dtype="uint8")


@pytest.mark.parametrize("fill", [lambda v: sg.full((2,), v, dtype="bool"),
                                  lambda v: sg.zeros(2, dtype="bool").fill_(v),
                                  lambda v: sg.zeros(2, dtype="bool").masked_fill(
                                      sg.tensor([True, False]), v)])
def test_bool_refuses_nan_and_inf_everywhere(fill):
    for v in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="cannot be converted to bool"):
            fill(v)
    assert fill(2.0).dtype == np.bool_


def test_float16_refuses_finite_values_beyond_its_range_but_takes_inf():
    with pytest.raises(ValueError, match="masked_fill: `value` -1000000000.0 cannot be "
                                         "converted to float16"):
        sg.zeros(2, dtype="float16").masked_fill(sg.tensor([True, False]), -1e9)
    with pytest.raises(ValueError, match="full: `fill_value` 1000000.0 cannot be converted"):
        sg.full((2,), 1e6, dtype="float16")
    assert np.isinf(sg.full((2,), float("-inf"), dtype="float16").numpy()).all()


def test_bitwise_ops_take_numpy_integer_arrays():
    x = sg.tensor([1, 2, 3])
    a = np.array([3, 3, 3])
    assert (x & a).tolist() == [1, 2, 3] and x.bitwise_or(a).tolist() == [3, 3, 3]
    y = x.clone()
    y ^= a
    assert y.tolist() == [2, 1, 0]
