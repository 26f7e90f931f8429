"""ops/elementwise.py: float64 gradient checks over broadcasting shapes, numpy reference values
in float32 and float64, Python scalars on either side, no-grad comparisons, error messages and
hypothesis properties of broadcasting."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck


def leaf(shape, seed, *, positive=False, dtype="float64"):
    a = np.random.default_rng(seed).standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return sg.tensor(a, dtype=dtype, requires_grad=dtype == "float64")


def npy(t):
    return t.detach().numpy()


# name: (op, numpy reference, operand `a` positive?, operand `b` positive?)
BINARY = {
    "add": (ops.add, np.add, False, False), "sub": (ops.sub, np.subtract, False, False),
    "mul": (ops.mul, np.multiply, False, False), "div": (ops.div, np.divide, False, True),
    "pow": (ops.pow, np.power, True, False), "maximum": (ops.maximum, np.maximum, False, False),
    "minimum": (ops.minimum, np.minimum, False, False),
}
SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (3, 1)), ((), (2, 3)), ((5,), ()),
          ((), ()), ((1, 4), (3, 1))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck_and_float64_values(name, shapes):
    fn, ref, pos_a, pos_b = BINARY[name]
    a, b = leaf(shapes[0], 1, positive=pos_a), leaf(shapes[1], 2, positive=pos_b)
    out = fn(a, b)
    assert out.shape == np.broadcast_shapes(*shapes) and out.dtype == np.float64
    assert_close(out, ref(npy(a), npy(b)))
    gradcheck(fn, [a, b])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_float32_values_and_dtype(name):
    fn, ref, pos_a, pos_b = BINARY[name]
    a = leaf((3, 4), 3, positive=pos_a, dtype="float32")
    b = leaf((4,), 4, positive=pos_b, dtype="float32")
    out = fn(a, b)
    assert out.dtype == np.float32
    assert_close(out, ref(a.numpy(), b.numpy()))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_mixed_precision_gradient_keeps_each_input_dtype(name):
    fn, _, pos_a, pos_b = BINARY[name]
    a = leaf((3, 1), 5, positive=pos_a, dtype="float32").requires_grad_()
    b = leaf((4,), 6, positive=pos_b)
    out = fn(a, b)
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.shape == (3, 1)
    assert b.grad.dtype == np.float64 and b.grad.shape == (4,)


# name: (op, numpy reference, domain) with domain "pos" (> 0.5) or "any"
UNARY = {
    "neg": (ops.neg, np.negative, "any"), "exp": (ops.exp, np.exp, "any"),
    "log": (ops.log, np.log, "pos"), "log1p": (ops.log1p, np.log1p, "pos"),
    "expm1": (ops.expm1, np.expm1, "any"), "sqrt": (ops.sqrt, np.sqrt, "pos"),
    "rsqrt": (ops.rsqrt, lambda x: 1 / np.sqrt(x), "pos"), "abs": (ops.abs, np.abs, "any"),
    "square": (ops.square, np.square, "any"),
    "reciprocal": (ops.reciprocal, np.reciprocal, "pos"),
    "sin": (ops.sin, np.sin, "any"), "cos": (ops.cos, np.cos, "any"),
}


@pytest.mark.parametrize("shape", [(4, 5), (), (2, 3, 1)], ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck_values_and_dtype(name, shape):
    fn, ref, domain = UNARY[name]
    x = leaf(shape, 7, positive=domain == "pos")
    assert_close(fn(x), ref(npy(x)))
    gradcheck(fn, [x])
    x32 = leaf(shape, 8, positive=domain == "pos", dtype="float32")
    out = fn(x32)
    assert out.dtype == np.float32 and out.shape == shape
    assert_close(out, ref(x32.numpy()))


def test_unary_rejects_non_tensors():
    with pytest.raises(TypeError, match=r"exp: expected a Tensor \(got list\)"):
        ops.exp([1.0, 2.0])


# ---- Python scalars and numpy arrays as operands ---------------------------------------------
@pytest.mark.parametrize("expr, ref", [
    (lambda t: 2 - t, lambda x: 2 - x), (lambda t: t - 2, lambda x: x - 2),
    (lambda t: 2 ** t, lambda x: 2.0 ** x), (lambda t: t ** 2, lambda x: x ** 2),
    (lambda t: 3 / t, lambda x: 3 / x), (lambda t: t / 3, lambda x: x / 3),
    (lambda t: 2.5 * t, lambda x: 2.5 * x), (lambda t: t + 1.5, lambda x: x + 1.5),
    (lambda t: ops.maximum(t, 0.2), lambda x: np.maximum(x, 0.2)),
    (lambda t: ops.minimum(0.2, t), lambda x: np.minimum(0.2, x)),
    (lambda t: -t, lambda x: -x), (lambda t: abs(t), np.abs),
], ids=["rsub", "sub", "rpow", "pow", "rdiv", "div", "rmul", "add", "maximum", "rminimum",
        "neg", "abs"])
def test_python_scalars_on_either_side(expr, ref):
    x = leaf((3, 2), 9, positive=True)
    assert_close(expr(x), ref(npy(x)))
    gradcheck(expr, [x])
    x32 = leaf((3, 2), 9, positive=True, dtype="float32")
    out = expr(x32)
    assert out.dtype == np.float32, "a Python number must not upcast a float32 tensor"
    assert_close(out, ref(x32.numpy()).astype(np.float32))


def test_reflected_operators_have_the_right_order_and_gradient():
    t = sg.tensor([1.0, 2.0], requires_grad=True)
    (2 - t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [-1.0, -1.0])
    t.grad = None
    (2 ** t).sum().backward()  # d 2^t / dt = 2^t log 2
    np.testing.assert_allclose(t.grad.numpy(), np.log(2) * np.array([2.0, 4.0]), rtol=1e-6)
    t.grad = None
    (3 / t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [-3.0, -0.75])


def test_numpy_array_operand_is_wrapped_and_gets_no_gradient():
    x = leaf((2, 3), 10)
    a = np.arange(3.0)
    assert_close(ops.mul(x, a), npy(x) * a)
    assert_close(ops.sub(a, x), a - npy(x))
    gradcheck(lambda t: ops.mul(t, a), [x])


def test_integer_and_bool_tensors_follow_pytorch_promotion():
    i = sg.tensor([1, 2, 3])
    assert (i + 1).dtype == np.int64 and (i * i).dtype == np.int64
    assert (i / 2).dtype == np.float32  # true division gives the default float
    # PyTorch's rule: an int tensor does not widen a float one (numpy would give float64)
    assert (i + sg.tensor([0.5, 0.5, 0.5])).dtype == np.float32
    np.testing.assert_array_equal((i - 1).numpy(), [0, 1, 2])


# ---- gradient conventions at non-differentiable points ---------------------------------------
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_share_the_gradient_on_ties(name):
    a = sg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    b = sg.tensor([1.0, 5.0, 0.0], dtype="float64", requires_grad=True)
    getattr(ops, name)(a, b).sum().backward()
    wins_a = [0.5, 0.0, 1.0] if name == "maximum" else [0.5, 1.0, 0.0]
    np.testing.assert_array_equal(a.grad.numpy(), wins_a)
    np.testing.assert_array_equal(b.grad.numpy(), 1 - np.array(wins_a))


def test_pow_exponent_gradient_at_zero_and_negative_base():
    a = sg.tensor([0.0, -2.0, 3.0], dtype="float64")
    b = sg.tensor([2.0, 2.0, 2.0], dtype="float64", requires_grad=True)
    ops.pow(a, b).sum().backward()  # warnings are errors: log(-2) must not warn
    g = b.grad.numpy()
    assert g[0] == 0.0 and np.isnan(g[1]) and g[2] == pytest.approx(9 * np.log(3))


def test_abs_gradient_is_zero_at_zero():
    x = sg.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    ops.abs(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])


# ---- clamp and where -------------------------------------------------------------------------
@pytest.mark.parametrize("lo, hi", [(-0.5, 0.7), (-0.5, None), (None, 0.7), (0.3, 0.3)])
def test_clamp_values_and_gradcheck(lo, hi):
    x = leaf((4, 5), 11)
    assert_close(ops.clamp(x, lo, hi), np.clip(npy(x), lo, hi))
    assert_close(x.clamp(min=lo, max=hi), np.clip(npy(x), lo, hi))
    gradcheck(lambda t: ops.clamp(t, lo, hi), [x])
    assert ops.clamp(leaf((3,), 1, dtype="float32"), lo, hi).dtype == np.float32


def test_clamp_gradient_passes_inside_and_on_the_bounds():
    x = sg.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    ops.clamp(x, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0])
    assert ops.clip is ops.clamp
    with pytest.raises(ValueError, match="clamp: expected at least one of `min` and `max`"):
        ops.clamp(x, None, None)


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)),
                                    ((3, 1), (1, 4), ()), ((2, 3, 4), (3, 4), (2, 1, 4))],
                         ids=str)
def test_where_broadcasts_and_routes_gradients(shapes):
    cs, sa, sb = shapes
    cond = sg.tensor(np.random.default_rng(12).random(cs) > 0.5)
    a, b = leaf(sa, 13), leaf(sb, 14)
    assert_close(ops.where(cond, a, b), np.where(cond.numpy(), npy(a), npy(b)))
    gradcheck(lambda s, t: ops.where(cond, s, t), [a, b])
    assert_close(a.where(cond, b), np.where(cond.numpy(), npy(a), npy(b)))


def test_where_with_scalar_branch_and_mixed_dtypes():
    cond = sg.tensor([True, False, True])
    a = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)  # float32
    b = sg.tensor([4.0, 5.0, 6.0], dtype="float64", requires_grad=True)
    out = ops.where(cond, a, b)
    assert out.dtype == np.float64
    out.sum().backward()  # regression: a float32 branch got a float64 gradient (engine error)
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.numpy(), [1, 0, 1])
    np.testing.assert_array_equal(b.grad.numpy(), [0, 1, 0])
    s = ops.where(cond, a, 0.0)
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s.detach().numpy(), [1.0, 0.0, 3.0])


def test_where_errors():
    a = sg.randn(2)
    with pytest.raises(TypeError, match="where: expected `condition` to be a bool Tensor"):
        ops.where(sg.tensor([1.0, 0.0]), a, a)
    with pytest.raises(ValueError, match=r"where: shapes \(3,\) \(condition\), \(2,\) and \(2,\) "
                                         "cannot be broadcast together"):
        ops.where(sg.tensor([True, False, True]), a, a)


# ---- comparisons and logical ops (no gradient) -----------------------------------------------
COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
           "gt": np.greater, "ge": np.greater_equal, "logical_and": np.logical_and,
           "logical_or": np.logical_or, "logical_xor": np.logical_xor}


@pytest.mark.parametrize("name", sorted(COMPARE))
def test_comparisons_match_numpy_and_carry_no_gradient(name):
    a = sg.tensor(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]), requires_grad=True)
    b = sg.tensor(np.array([1.0, 1.0, 0.0]))
    out = getattr(ops, name)(a, b)
    assert out.dtype == np.bool_ and not out.requires_grad and out.grad_fn is None
    np.testing.assert_array_equal(out.numpy(), COMPARE[name](npy(a), npy(b)))
    np.testing.assert_array_equal(getattr(ops, name)(a, 1.0).numpy(), COMPARE[name](npy(a), 1.0))
    np.testing.assert_array_equal(getattr(ops, name)(1.0, a).numpy(), COMPARE[name](1.0, npy(a)))


def test_comparison_operators_and_reflection():
    t = sg.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal((2 < t).numpy(), [False, False, True])
    np.testing.assert_array_equal((2 >= t).numpy(), [True, True, False])
    np.testing.assert_array_equal((t == 2).numpy(), [False, True, False])
    m = t > 1.5
    np.testing.assert_array_equal((~m).numpy(), [True, False, False])
    np.testing.assert_array_equal((m & (t < 3)).numpy(), [False, True, False])
    np.testing.assert_array_equal((m | (t < 1.5)).numpy(), [True, True, True])
    np.testing.assert_array_equal((m ^ (t < 2.5)).numpy(), [True, False, True])


def test_sign_and_logical_not():
    x = sg.tensor([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(ops.sign(x).numpy(), [-1.0, 0.0, 1.0])
    assert ops.sign(x).dtype == np.float32
    np.testing.assert_array_equal(ops.logical_not(sg.tensor([True, False])).numpy(),
                                  [False, True])


def test_aliases():
    # true_divide is div without `rounding_mode` (as PyTorch's), so a function of its own
    assert ops.divide is ops.div and ops.true_divide is ops.elementwise.true_divide
    assert ops.true_divide(sg.tensor([-7]), 2).tolist() == ops.div(sg.tensor([-7]), 2).tolist()
    assert ops.multiply is ops.mul and ops.subtract is ops.sub


# ---- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcast_error_names_the_op_and_shapes(name):
    with pytest.raises(ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be "
                                         "broadcast together"):
        getattr(ops, name)(sg.randn(2, 3), sg.randn(4))


def test_binary_broadcast_error_with_a_numpy_operand():
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(2,\) cannot be broadcast"):
        ops.mul(sg.randn(2, 3), np.ones(2))


def test_binary_type_errors():
    with pytest.raises(TypeError, match=r"add: expected `other` to be a Tensor or a number "
                                        r"\(got str\)"):
        sg.randn(2) + "a"
    with pytest.raises(TypeError, match=r"mul: expected `input` to be a Tensor or a number "
                                        r"\(got list\)"):
        ops.mul([1.0, 2.0], sg.randn(2))
    with pytest.raises(TypeError, match=r"sub: expected at least one Tensor \(got int and float\)"):
        ops.sub(1, 2.0)


@pytest.mark.gpu
@pytest.mark.skipif(not sg.cuda_available(), reason="needs CuPy and a GPU")
def test_mixed_devices_raise():
    with pytest.raises(ValueError, match="add: inputs are on different devices"):
        ops.add(sg.randn(2), sg.randn(2, device="cuda"))


# ---- properties --------------------------------------------------------------------------------
finite = st.floats(-5, 5, allow_nan=False, allow_subnormal=False, width=64)


@settings(max_examples=50, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from(["add", "sub", "mul", "div", "maximum", "minimum"]), st.data())
def test_broadcasting_values_and_gradients_match_numpy(shapes, name, data):
    sa, sb = shapes.input_shapes
    a_np = data.draw(hnp.arrays(np.float64, sa, elements=finite))
    b_np = data.draw(hnp.arrays(np.float64, sb, elements=finite))
    if name == "div":
        b_np = np.where(np.abs(b_np) < 0.5, 1.0, b_np)
    a, b = sg.tensor(a_np, requires_grad=True), sg.tensor(b_np, requires_grad=True)
    out = getattr(ops, name)(a, b)
    np.testing.assert_allclose(npy(out), BINARY[name][1](a_np, b_np), rtol=1e-12)
    g = np.arange(1.0, 1.0 + np.prod(out.shape)).reshape(out.shape)
    out.backward(sg.tensor(g))
    assert a.grad.shape == sa and b.grad.shape == sb
    # reference gradients: the elementwise derivative, broadcast, then summed back to each shape
    ab, bb = np.broadcast_arrays(a_np, b_np)
    da, db = {
        "add": lambda: (1.0, 1.0), "sub": lambda: (1.0, -1.0), "mul": lambda: (bb, ab),
        "div": lambda: (1 / bb, -ab / bb ** 2),
        "maximum": lambda: (np.where(ab == bb, 0.5, ab > bb), np.where(ab == bb, 0.5, ab < bb)),
        "minimum": lambda: (np.where(ab == bb, 0.5, ab < bb), np.where(ab == bb, 0.5, ab > bb)),
    }[name]()

    def sum_to(x, shape):
        x = x.sum(axis=tuple(range(x.ndim - len(shape))))
        return x.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)

    np.testing.assert_allclose(a.grad.numpy(), sum_to(g * da, sa), rtol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), sum_to(g * db, sb), rtol=1e-10)


# ---- bitwise operators, pow at 0, tensor clamp bounds, dtype messages -------------------------
def test_bitwise_operators_on_integers_and_logical_on_bools():
    i = sg.tensor([1, 2, 6])
    assert (~i).tolist() == [-2, -3, -7]
    assert (i & 3).tolist() == [1, 2, 2] and (3 & i).tolist() == [1, 2, 2]
    assert (i | 1).tolist() == [1, 3, 7] and (i ^ sg.tensor([1, 1, 1])).tolist() == [0, 3, 7]
    b = sg.tensor([True, False])
    assert (~b).tolist() == [False, True] and (~b).dtype == np.bool_
    assert (b & sg.tensor([True, True])).tolist() == [True, False]
    assert (b | False).tolist() == [True, False] and (b ^ True).tolist() == [False, True]
    with pytest.raises(TypeError, match=r"bitwise_and: expected `input` to be an integer or bool "
                                        r"Tensor or number \(got float32\)"):
        sg.tensor([1.0]) & 1


@pytest.mark.parametrize("exponent", [0, 0.0, "tensor"])
def test_pow_gradient_with_exponent_zero_is_zero_at_zero(exponent):
    x = sg.tensor([0.0, 2.0], dtype="float64", requires_grad=True)
    e = sg.tensor([0.0, 0.0], dtype="float64") if exponent == "tensor" else exponent
    ops.pow(x, e).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_clamp_tensor_bounds_get_gradients():
    x = leaf((3, 4), 0)
    lo = sg.tensor(np.linspace(-0.5, 0.2, 4), dtype="float64", requires_grad=True)
    hi = sg.tensor(np.linspace(0.5, 1.0, 4), dtype="float64", requires_grad=True)
    gradcheck(lambda a, b, c: ops.clamp(a, b, c), [x, lo, hi])
    gradcheck(lambda a, b: ops.clamp(a, min=b), [x, lo])
    gradcheck(lambda a, c: ops.clamp(a, max=c), [x, hi])


def test_clamp_bounds_keep_the_input_dtype_and_are_validated():
    x = sg.tensor([0.0, 5.0])
    assert ops.clamp(x, [1.0, 1.0]).dtype == np.float32
    assert ops.clamp(x, np.float64(1.0)).dtype == np.float32
    with pytest.raises(TypeError, match=r"clamp: expected `min` to be a number, a Tensor or None "
                                        r"\(got str 'a'\)"):
        ops.clamp(x, "a")
    with pytest.raises(ValueError, match=r"clamp: expected `max` broadcastable to the input's "
                                         r"shape \(2,\) \(got \(3,\)\)"):
        ops.clamp(x, None, sg.ones(3))


def test_clamp_inplace_on_a_non_leaf_is_differentiable():
    def fn(a, lo):
        y = a * 1
        y.clamp_(lo, 0.5)
        return y * y

    gradcheck(fn, [leaf((3, 4), 1), sg.tensor(-0.3, dtype="float64", requires_grad=True)])


@pytest.mark.parametrize("call, exc, match", [
    (lambda: sg.tensor([True]) - sg.tensor([False]), TypeError,
     r"sub: subtraction of two bool tensors is not supported; use the `\^` operator"),
    (lambda: -sg.tensor([True]), TypeError,
     r"neg: negation of a bool tensor is not supported; to invert a mask use the `~` operator"),
    (lambda: sg.tensor([1, 2]) ** -1, ValueError,
     r"pow: integers to negative integer powers are not allowed"),
], ids=["bool-sub", "bool-neg", "int-negative-power"])
def test_numpy_dtype_errors_name_the_op(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
