"""Fixes from the core property-based audit: in-place writes into empty tensors, max()/min()
ties, sign's zero gradient, bool arithmetic dtypes, retain_grad across in-place ops, einsum
diagonals, and dtype inference of numpy scalars inside lists. PyTorch's behaviour is the
reference throughout."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck


def central_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x of a scalar function by central differences, in float64."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        g[i] = (f(up) - f(down)) / (2 * eps)
    return g


# ---- 1. in-place writes into a tensor with a zero-size dim are no-ops ---------------------------
EMPTY_SHAPES = [(3, 0), (0, 4), (2, 0, 3), (0, 1, 5), (0,)]
WRITES = {
    "setitem-all": lambda t: t.__setitem__(slice(None), 1.0),
    "setitem-ellipsis": lambda t: t.__setitem__(Ellipsis, 1.0),
    "setitem-mask": lambda t: t.__setitem__(t > 0, 1.0),
    "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(2.0),
    "masked_fill_": lambda t: t.masked_fill_(t > 0, 0.0),
    "add_": lambda t: t.add_(1.0),
    "mul_": lambda t: t.mul_(3.0),
    "copy_": lambda t: t.copy_(sg.ones(*t.shape)),
}


@pytest.mark.parametrize("shape", EMPTY_SHAPES, ids=str)
@pytest.mark.parametrize("write", list(WRITES), ids=str)
def test_inplace_write_into_an_empty_tensor_is_a_no_op(shape, write):
    t = sg.zeros(*shape)
    out = WRITES[write](t)
    assert t.shape == shape and t.numpy().size == 0
    assert out is None or out is t


def test_masked_write_into_an_empty_batch_keeps_its_gradient():
    x = sg.zeros(0, 4, dtype="float64", requires_grad=True)
    y = x.clone()
    y[y > 0] = 1.0
    (y * 2).sum().backward()
    assert x.grad.shape == (0, 4) and x.grad.dtype == np.float64


def test_expanded_views_with_elements_still_refuse_in_place_writes():
    with pytest.raises(RuntimeError, match="share memory"):
        sg.ones(1, 3).expand(2, 3).add_(1.0)


# ---- 2. max() / min() without dim share the gradient among ties --------------------------------
@pytest.mark.parametrize("op, values, expected", [
    ("max", [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
    ("min", [2.0, 1.0, 1.0, 5.0], [0.0, 0.5, 0.5, 0.0]),
    ("max", [[4.0, 4.0], [4.0, 4.0]], [[0.25, 0.25], [0.25, 0.25]]),
    ("max", [1.0, np.nan, np.nan], [0.0, 0.5, 0.5]),  # nan is the max: the nans share
    ("min", [7.0], [1.0]),
])
def test_max_min_without_dim_split_the_gradient_evenly_among_ties(op, values, expected):
    x = sg.tensor(values, dtype="float64", requires_grad=True)
    getattr(x, op)().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    a = sg.tensor(values, dtype="float64", requires_grad=True)
    getattr(a, "a" + op)().backward()  # amax / amin agree (without nan)
    if not np.isnan(values).any():
        np.testing.assert_array_equal(a.grad.numpy(), x.grad.numpy())


def test_max_min_without_dim_match_central_differences_away_from_ties():
    rng = np.random.default_rng(0)
    x = sg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: t.max() * 3.0, [x])
    assert gradcheck(lambda t: t.min() * 3.0, [x])


def test_max_min_with_dim_still_route_the_gradient_to_the_returned_index():
    x = sg.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 0.0]], dtype="float64", requires_grad=True)
    values, indices = x.max(dim=1)
    values.sum().backward()
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    y = sg.tensor([[1.0, 0.0, 0.0]], dtype="float64", requires_grad=True)
    y.min(dim=1).values.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 1, 0]])


def test_max_without_dim_raises_if_its_input_changed_in_place_before_backward():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    m = y.max()
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="in-place"):
        m.backward()


# ---- 3. sign gives a zero gradient, not None ----------------------------------------------------
def test_sign_gives_its_input_a_zero_gradient():
    w = sg.tensor([1.0, -2.0, 0.0], dtype="float64", requires_grad=True)
    y = sg.sign(w)
    assert y.requires_grad and y.grad_fn is not None
    y.sum().backward()
    assert w.grad is not None and w.grad.dtype == np.float64
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0, 0.0])


def test_weight_decay_applies_to_a_parameter_used_only_through_sign():
    w = sg.nn.Parameter(sg.tensor([1.0, -2.0]))
    opt = sg.optim.SGD([w], lr=0.5, weight_decay=0.1)
    sg.sign(w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [1.0 - 0.05, -2.0 + 0.1], rtol=1e-6)


def test_the_gradient_through_sign_alone_is_the_zero_central_differences_give():
    # the only path from x to the output goes through sign: autograd.grad answers (zeros,
    # as PyTorch) where a None gradient made it refuse x as "not used"
    x0 = np.array([0.7, -1.3, 2.0])
    c = np.array([1.0, 2.0, 3.0])
    x = sg.tensor(x0, requires_grad=True)
    (g,) = sg.autograd.grad((sg.sign(x) * sg.tensor(c)).sum(), [x])
    expected = central_grad(lambda a: float((np.sign(a) * c).sum()), x0)
    np.testing.assert_array_equal(g.numpy(), expected)
    assert g.dtype == x.dtype


def test_only_sign_records_the_input_shapes_its_zero_gradient_needs(monkeypatch):
    # a comparison never runs backward: `x > 0` on a tensor that requires grad must not pay
    # for the metadata (one shape per input) that sign's backward reads
    import sparsegraph.ops.elementwise as elementwise

    calls = []
    real = elementwise.shape_of
    monkeypatch.setattr(elementwise, "shape_of", lambda a: calls.append(1) or real(a))
    x = sg.tensor([1.0, -2.0], requires_grad=True)
    b = sg.tensor([True, False])
    for out in (x > 0, x == x, sg.logical_not(x > 0), sg.logical_and(x > 0, b)):
        assert not out.requires_grad
    assert calls == []
    sg.sign(x).sum().backward()
    assert calls and x.grad.numpy().tolist() == [0.0, 0.0]


def test_comparison_logical_and_bitwise_outputs_take_no_part_in_autograd():
    x = sg.tensor([1.0, -2.0], requires_grad=True)
    b = sg.tensor([True, False])
    for out in (x > 0, x == x, sg.logical_not(x > 0), sg.logical_and(x > 0, b),
                sg.bitwise_and(b, b), sg.bitwise_not(b)):
        assert not out.requires_grad and out.grad_fn is None


# ---- 4. bool arithmetic: PyTorch's dtypes, never numpy's int8 ----------------------------------
B = sg.tensor([True, True])  # no False: integer division by zero is tested on its own
T = TypeError
OPS = {
    "add": sg.add, "sub": sg.sub, "mul": sg.mul, "div": sg.div, "pow": sg.pow,
    "maximum": sg.maximum, "minimum": sg.minimum, "floor_divide": sg.floor_divide,
    "remainder": sg.remainder, "fmod": sg.fmod,
    "div_floor": lambda a, b: sg.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda a, b: sg.div(a, b, rounding_mode="trunc"),
}
OTHERS = {  # name: (the other operand, placed second then first)
    "bool-tensor": sg.tensor([True, True]), "True": True, "2": 2, "2.5": 2.5,
    "int32-tensor": sg.tensor([1, 2], dtype="int32"),
}
F32, I64, I32, BOOL = "float32", "int64", "int32", "bool"
# PyTorch's result for (bool_tensor OP other, other OP bool_tensor); T: no bool kernel there
# (PyTorch's RuntimeError "not implemented for 'Bool'" and the bool-subtraction error)
EXPECTED = {
    "add":          {"bool-tensor": (BOOL, BOOL), "True": (BOOL, BOOL), "2": (I64, I64),
                     "2.5": (F32, F32), "int32-tensor": (I32, I32)},
    "sub":          {"bool-tensor": (T, T), "True": (T, T), "2": (I64, I64), "2.5": (F32, F32),
                     "int32-tensor": (I32, I32)},
    "mul":          {"bool-tensor": (BOOL, BOOL), "True": (BOOL, BOOL), "2": (I64, I64),
                     "2.5": (F32, F32), "int32-tensor": (I32, I32)},
    "div":          {"bool-tensor": (F32, F32), "True": (F32, F32), "2": (F32, F32),
                     "2.5": (F32, F32), "int32-tensor": (F32, F32)},
    # x ** True is x (a bool copy) in PyTorch, True ** x has no bool kernel
    "pow":          {"bool-tensor": (T, T), "True": (BOOL, T), "2": (I64, I64),
                     "2.5": (F32, F32), "int32-tensor": (I32, I32)},
    "maximum":      {"bool-tensor": (BOOL, BOOL), "True": (BOOL, BOOL), "2": (I64, I64),
                     "2.5": (F32, F32), "int32-tensor": (I32, I32)},
    "minimum":      {"bool-tensor": (BOOL, BOOL), "True": (BOOL, BOOL), "2": (I64, I64),
                     "2.5": (F32, F32), "int32-tensor": (I32, I32)},
}
for _name in ("floor_divide", "remainder", "fmod", "div_floor", "div_trunc"):
    EXPECTED[_name] = {"bool-tensor": (T, T), "True": (T, T), "2": (I64, I64),
                       "2.5": (F32, F32), "int32-tensor": (I32, I32)}


NUMPY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "pow": np.power,
         "maximum": np.maximum, "minimum": np.minimum, "floor_divide": np.floor_divide,
         "remainder": np.remainder, "fmod": np.fmod, "div_floor": np.floor_divide,
         "div_trunc": lambda a, b: np.trunc(a / b).astype(np.result_type(a, b))}


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("other", list(OTHERS))
def test_bool_operands_give_pytorchs_dtype(op, other):
    for args, want in zip(((B, OTHERS[other]), (OTHERS[other], B)), EXPECTED[op][other],
                          strict=True):
        if want is T:
            with pytest.raises(TypeError, match=op.split("_")[0]):
                OPS[op](*args)
            continue
        out = OPS[op](*args)
        assert out.dtype == np.dtype(want), (op, other, args)
        if op == "div" or want == BOOL and op == "pow":
            continue  # true division is float32 throughout; x ** True is x (below)
        # the values: PyTorch computes in the result dtype, so numpy on operands cast to it
        a, b = (np.asarray(v.numpy() if isinstance(v, sg.Tensor) else v).astype(want)
                for v in args)
        np.testing.assert_allclose(out.numpy(), np.broadcast_to(NUMPY[op](a, b), out.shape),
                                   rtol=1e-6)


def test_bool_power_of_an_int_is_int64():
    out = sg.tensor([True, False]) ** 2
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), [1, 0])
    assert (sg.tensor([True, False]) ** False).numpy().tolist() == [True, True]
    assert (sg.tensor([True, False]) ** True).numpy().tolist() == [True, False]
    assert (sg.tensor([True, False]) % 2).dtype == np.int64


def test_two_bool_operands_without_a_bool_kernel_are_refused_by_name():
    with pytest.raises(TypeError, match=r"remainder: not implemented for two bool operands"):
        sg.tensor([True]) % True
    with pytest.raises(TypeError, match=r"floor_divide: .*\.long\(\) or \.float\(\)"):
        sg.tensor([True]) // sg.tensor([True])


def test_integer_division_of_bool_operands_by_zero_raises():
    with pytest.raises(ZeroDivisionError):
        2 // sg.tensor([True, False])


# ---- 5. retain_grad follows the tensor through in-place ops (PyTorch >= 2.0) --------------------
def test_retain_grad_then_in_place_gives_the_new_versions_gradient():
    a = sg.tensor([1.0, 1.0], dtype="float64", requires_grad=True)
    y = a * 2
    y.retain_grad()
    y.mul_(3)
    (y * sg.tensor([1.0, 2.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(a.grad.numpy(), [6.0, 12.0])


def test_hooks_keep_seeing_the_old_version_while_retain_grad_moves():
    a = sg.tensor([1.0, 1.0], dtype="float64", requires_grad=True)
    y = a * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    y.retain_grad()
    y.mul_(3).add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])  # d(sum)/d(old y)
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    y.retain_grad()  # still a no-op: the hook is not registered twice
    a.grad = y.grad = None
    z = a * 2
    z.retain_grad()
    z.mul_(3)
    z.retain_grad()
    z.sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [1.0, 1.0])


def test_retain_grad_on_a_base_written_through_a_view_follows_it():
    a = sg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    y = a * 1
    y.retain_grad()
    y[:2].mul_(5)
    w = sg.tensor([1.0, 2.0, 3.0], dtype="float64")
    (y * w).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(a.grad.numpy(), [5.0, 10.0, 3.0])


def test_retain_grad_on_a_view_follows_it_when_its_base_changes():
    a = sg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    y = a * 1
    v = y[1:]
    v.retain_grad()
    y.mul_(2)
    (v * sg.tensor([3.0, 4.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 6.0, 8.0])


# ---- 6. einsum with an index repeated within one operand ---------------------------------------
DIAGONALS = [
    ("ii->", [(3, 3)]), ("ii->i", [(3, 3)]), ("ii", [(4, 4)]), ("iij->j", [(2, 2, 4)]),
    ("bii->bi", [(2, 3, 3)]), ("iji->j", [(3, 2, 3)]), ("iii->i", [(2, 2, 2)]),
    ("...ii->...i", [(2, 3, 3)]), ("ii,i->i", [(3, 3), (3,)]), ("iij,jk->ik", [(2, 2, 3), (3, 4)]),
    ("ii,jj->ij", [(2, 2), (3, 3)]), ("bii,bi->b", [(2, 3, 3), (2, 3)]),
]


@pytest.mark.parametrize("spec, shapes", DIAGONALS, ids=[s for s, _ in DIAGONALS])
def test_einsum_diagonals_match_numpy_and_central_differences(spec, shapes):
    rng = np.random.default_rng(1)
    xs = [sg.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    out = sg.einsum(spec, *xs)
    np.testing.assert_allclose(out.detach().numpy(),
                               np.einsum(spec, *(x.detach().numpy() for x in xs)), rtol=1e-12)
    assert gradcheck(lambda *a: sg.einsum(spec, *a), xs)


def test_einsum_diagonal_gradient_is_written_back_onto_the_diagonal():
    x0 = np.arange(9.0).reshape(3, 3)
    x = sg.tensor(x0, requires_grad=True)
    w = np.array([1.0, 2.0, 3.0])
    (sg.einsum("ii->i", x) * sg.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.diag(w))
    expected = central_grad(lambda a: float((np.einsum("ii->i", a) * w).sum()), x0)
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-8)
    t = sg.tensor(x0, requires_grad=True)
    sg.einsum("ii->", t).backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.eye(3))


def test_einsum_diagonal_of_unequal_sizes_is_refused_by_name():
    with pytest.raises(ValueError, match=r"einsum: index 'i' repeats within operands\[0\] of "
                                         r"shape \(3, 1\) with sizes 3 and 1"):
        sg.einsum("ii->i", sg.ones(3, 1))


# ---- 7. numpy scalars inside lists keep their dtype (PyTorch's inference) -----------------------
@pytest.mark.parametrize("data, dtype", [
    ([np.float64(2.0)], "float64"),
    ([[1.0], [np.float64(2.0)]], "float64"),
    ((1.0, np.float64(3.0)), "float64"),
    ([np.float64(1.0), 2], "float64"),
    ([np.array([1.0, 2.0]), [3.0, 4.0]], "float64"),  # a float64 array element
    ([np.float32(1.0), np.float64(2.0)], "float64"),
    ([1.0, 2.0], "float32"),  # Python floats: the default float
    ([[1.0, 2.0], [3, 4]], "float32"),
    ([np.float32(1.0), 2], "float32"),  # float32 with an int64 stays float32 (not numpy's f8)
    ([np.int64(1), 2.5], "float32"),
    ([np.float16(1.0), 2], "float16"),
    ([], "float32"),
    ([np.int32(1), np.int32(2)], "int32"),
    ([np.int64(2), 3], "int64"),
    ([True, 1.5], "float32"),
])
def test_dtype_inference_of_lists_follows_pytorch(data, dtype):
    t = sg.tensor(data)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=dtype))


@pytest.mark.parametrize("data, dtype", [
    ([np.float16(1.0), np.int16(2)], "float16"),  # numpy: float32; PyTorch promotes to Half
    ([[np.float16(1.0)], [np.int16(2)]], "float16"),
    ([np.ones(2, np.float16), np.ones(2, np.int16)], "float16"),
    ([[1.0, 2.0], (3.0, 4.0)], "float32"),  # lists and tuples alike
    ([[[1.0, 2.0]], [[3.0, np.float64(4.0)]]], "float64"),  # found on the innermost level
    ([[np.ones(2)], [np.ones(2)]], "float64"),  # arrays below a list level
    ([[np.ones(2, np.float32)], [[5.0, 6.0]]], "float32"),
    ([[], []], "float32"),
    ([[[], []]], "float32"),
    ([[True, False], [False, True]], "bool"),
    ([[1, 2], [3, 4]], "int64"),
])
def test_nested_lists_convert_level_by_level_to_numpys_values_and_pytorchs_dtype(data, dtype):
    t = sg.tensor(data)
    want = np.asarray(data)
    assert t.dtype == np.dtype(dtype) and t.shape == want.shape
    np.testing.assert_array_equal(t.numpy(), want.astype(dtype))


def test_ragged_and_mixed_lists_are_refused_with_numpys_message():
    for data in ([[1.0, 2.0], [3.0]], [[1.0, [2.0]], [3.0, 4.0]], [[1.0, 2.0], 3.0]):
        with pytest.raises(TypeError, match=r"^tensor: cannot convert list to a tensor: .*"
                                            r"inhomogeneous shape"):
            sg.tensor(data)


def _profiled_events(fn) -> int:
    """Python-level calls (and C calls made from Python) that ``fn()`` runs."""
    import sys

    events = [0]

    def count(frame, event, arg):
        events[0] += 1

    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return events[0]


@pytest.mark.parametrize("make", [
    lambda n: [[float(i), float(i + 1)] for i in range(n)],  # numpy says float64: walked
    lambda n: [[[float(i)], [0.5]] for i in range(n)],
    lambda n: [[i, i + 1] for i in range(n)],
])
def test_a_nested_lists_dtype_costs_no_python_work_per_element(make):
    # the walk over the elements' types is C-level (map / set / chain.from_iterable), level
    # by level: the Python-level work does not grow with the list (it did, per inner list)
    small, large = make(100), make(3000)
    assert _profiled_events(lambda: sg.tensor(small)) == _profiled_events(
        lambda: sg.tensor(large))

    assert sg.tensor([np.float64(2.0)], dtype="float32").dtype == np.float32
    assert sg.tensor(np.float64(2.0)).dtype == np.float64
