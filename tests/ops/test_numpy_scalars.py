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


@pytest.mark.parametrize("flag", NP_BOOLS)
def test_a_sparse_tensor_times_a_numpy_bool(flag):
    a = sg.from_edge_index(np.array([[0, 1], [1, 0]]), 2)
    for got, want in [(a * flag, a * bool(flag)), (flag * a, bool(flag) * a)]:
        np.testing.assert_array_equal(got.to_dense().numpy(), want.to_dense().numpy())
        assert got.dtype == want.dtype


INT_CASES = [  # (dtype, op, scalar, expected: the scalar cast to the dtype, as PyTorch does)
    ("uint8", "mul", -1, [255, 254]),
    ("uint8", "add", 300, [45, 46]),
    ("uint8", "rsub", 300, [43, 42]),  # 300 - x wraps as (300 mod 256) - x
    ("int8", "add", 200, [-55, -54]),
    ("int8", "add", np.int16(200), [-55, -54]),
    ("int32", "add", 2**40, [1, 2]),  # 2**40 is 0 mod 2**32
    ("uint8", "mul", np.int64(300), [44, 88]),
]


@pytest.mark.parametrize("dtype, op, scalar, want", INT_CASES)
def test_out_of_range_int_scalars_wrap_into_the_integer_tensors_dtype(dtype, op, scalar, want):
    t = sg.tensor([1, 2], dtype=dtype)
    got = {"mul": lambda: t * scalar, "add": lambda: t + scalar,
           "rsub": lambda: scalar - t}[op]()
    assert got.dtype == np.dtype(dtype)
    assert got.tolist() == want
    inplace = sg.tensor([1, 2], dtype=dtype)
    if op in ("mul", "add"):
        getattr(inplace, op + "_")(scalar)
        assert inplace.tolist() == want


def test_out_of_range_int_scalars_elsewhere_are_named():
    u8 = sg.tensor([1, 2], dtype="uint8")
    with pytest.raises(ValueError, match=r"pow: the integer 300 is out of range for the uint8 "
                                         r"tensor \(\[0, 255\]\)"):
        u8 ** 300
    with pytest.raises(ValueError, match="add: the integer 1180591620717411303424 is out of "
                                         "range"):
        sg.tensor([1], dtype="int32") + 2**70
    assert (u8 > 300).tolist() == [False, False]  # comparisons see the true value


def test_full_names_a_fill_value_out_of_the_dtypes_range():
    with pytest.raises(ValueError, match=r"full: `fill_value` 300 cannot be converted to uint8 "
                                         "without overflow"):
        sg.full((2,), 300, dtype="uint8")


def test_bitwise_ops_wrap_an_out_of_range_int_as_torch_casts_it():
    i8 = sg.tensor([1, -2, 100], dtype="int8")
    a = np.array([1, -2, 100], np.int8)
    assert (i8 & 300).tolist() == (a & np.int8(44)).tolist()  # 300 = 44 mod 256
    assert (i8 | 300).tolist() == (a | np.int8(44)).tolist()
    assert (i8 ^ -200).tolist() == (a ^ np.int8(56)).tolist()  # -200 = 56 mod 256


def test_clamp_bounds_beyond_an_integer_dtype():
    i8 = sg.tensor([1, -2, 100], dtype="int8")
    assert i8.clamp(max=300).tolist() == [1, -2, 100]  # clips nothing
    assert i8.clamp(min=-300, max=50).tolist() == [1, -2, 50]
    for kw in ({"min": 300}, {"max": -300}):
        with pytest.raises(ValueError, match=rf"clamp: `{next(iter(kw))}` -?300 is out of "
                                             r"range for the int8 tensor"):
            i8.clamp(**kw)
    with pytest.raises(ValueError, match="clamp_: `min` 300 is out of range"):
        i8.clone().clamp_(min=300)


def test_fill_and_tensor_refuse_python_ints_beyond_the_dtype():
    with pytest.raises(ValueError, match="fill_: `value` 300 cannot be converted to int8"):
        sg.zeros(2, dtype="int8").fill_(300)
    for data, dtype in (([1, 300], "int8"), ([-1], "uint8"), (2**40, "int32")):
        with pytest.raises(ValueError, match=r"tensor: value -?\d+ cannot be converted to "
                                             rf"{dtype} without overflow"):
            sg.tensor(data, dtype=dtype)
    # an array converts as .to() does: wrapped (PyTorch's from_numpy(a).to(int8))
    assert sg.tensor(np.array([300]), dtype="int8").tolist() == [44]
    assert sg.tensor([1, 127, -128], dtype="int8").tolist() == [1, 127, -128]
