"""PyTorch's type promotion: a float tensor keeps its dtype beside ints and scalars, int -> float
ops give the default float32, numpy scalars are weak like Python ones; gradients come back in
each input's own dtype."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import backend, ops

F32, F64, I32, I64, B = "float32", "float64", "int32", "int64", "bool"


def t(dtype):
    return sg.tensor([1, 2, 4], dtype=dtype)


# (left, right, op, PyTorch's result dtype); a dtype name is a tensor, anything else a scalar
CASES = [
    (F32, I64, "mul", F32), (I64, F32, "add", F32), (F32, I32, "sub", F32),
    (F32, B, "mul", F32), (F64, I64, "add", F64),
    (F32, np.float64(0.5), "mul", F32), (F32, np.int64(3), "add", F32),
    (np.float64(2.0), F32, "sub", F32), (F32, 0.5, "mul", F32),
    (I64, 2.5, "mul", F32), (I64, np.float64(2.5), "mul", F32), (I32, 2.5, "add", F32),
    (B, 2.5, "mul", F32), (B, 2, "add", I64), (I32, 2, "mul", I32),
    (I64, 2, "div", F32), (I64, I64, "div", F32), (I32, I64, "div", F32), (F32, 2, "div", F32),
    (F64, 2, "div", F64), (2, I64, "div", F32),
    # within one category numpy's widening stays
    (F32, F64, "add", F64), (I32, I64, "add", I64), (F64, F32, "mul", F64),
    (I64, 2.5, "pow", F32), (F32, np.int64(2), "pow", F32), (I64, 2, "pow", I64),
    (F32, I64, "maximum", F32), (I64, F32, "minimum", F32), (I64, 0.5, "maximum", F32),
]


def _operand(x):
    return t(x) if isinstance(x, str) else x


@pytest.mark.parametrize("a, b, op, want", CASES)
def test_binary_ops_give_pytorchs_result_dtype(a, b, op, want):
    x, y = _operand(a), _operand(b)
    out = getattr(ops, op)(x, y)
    assert out.dtype == np.dtype(want)
    # values as numpy computes them in float64, rounded to the result dtype
    ref = getattr(np, {"div": "true_divide", "sub": "subtract", "mul": "multiply",
                       "pow": "power"}.get(op, op))(np.asarray(x, np.float64),
                                                    np.asarray(y, np.float64))
    np.testing.assert_allclose(out.numpy(), ref.astype(want), rtol=1e-6)


@pytest.mark.parametrize("a, b, op, want", CASES)
def test_result_type_is_the_single_rule_ops_follow(a, b, op, want):
    floating = op == "div"
    assert backend.result_type(_operand(a), _operand(b), floating=floating) == np.dtype(want)


def test_normalising_float32_features_by_integer_degrees_stays_float32():
    x, deg = sg.ones(3, 4), sg.tensor([1, 2, 4])
    h = x / deg[:, None]
    assert h.dtype == np.float32
    assert sg.nn.Linear(4, 2)(h).dtype == np.float32  # used to fail: float64 @ float32
    assert (x * np.sqrt(np.float64(2.0))).dtype == np.float32


@pytest.mark.parametrize("name", ["sqrt", "exp", "log", "log1p", "expm1", "rsqrt", "reciprocal",
                                  "sin", "cos"])
@pytest.mark.parametrize("dtype", [I32, I64, B])
def test_float_valued_unary_ops_of_ints_give_the_default_float(name, dtype):
    x = t(dtype)
    out = getattr(ops, name)(x)
    assert out.dtype == np.float32
    ref = {"rsqrt": lambda a: 1 / np.sqrt(a), "reciprocal": lambda a: 1 / a}.get(
        name, getattr(np, name, None))(x.numpy().astype(np.float64))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)


@pytest.mark.parametrize("name", ["abs", "neg", "square"])
def test_integer_valued_unary_ops_keep_the_int_dtype(name):
    assert getattr(ops, name)(t(I32)).dtype == np.int32


def test_where_and_clamp_promote_like_the_arithmetic():
    i, f = t(I64), sg.ones(3)
    assert ops.where(i > 1, i, 0.5).dtype == np.float32
    assert ops.where(i > 1, f, i).dtype == np.float32
    assert ops.where(i > 1, f, np.float64(0.0)).dtype == np.float32
    c = ops.clamp(i, min=2.5)
    assert c.dtype == np.float32 and c.tolist() == [2.5, 2.5, 4.0]
    assert ops.clamp(i, min=2).dtype == np.int64
    assert ops.clamp(f, min=np.float64(0.5)).dtype == np.float32


@pytest.mark.parametrize("op", ["add", "mul", "div", "maximum"])
def test_gradients_come_back_in_each_inputs_dtype(op):
    a = sg.tensor([1.5, -2.0, 3.0], dtype=F32, requires_grad=True)
    b = sg.tensor([0.5, 4.0, -1.0], dtype=F64, requires_grad=True)
    out = getattr(ops, op)(a, b)
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    # the float32 input's gradient against a float64 central difference
    eps = 1e-6
    av, bv = a.detach().numpy().astype(np.float64), b.detach().numpy()
    f = {"add": np.add, "mul": np.multiply, "div": np.divide, "maximum": np.maximum}[op]
    fd = [(f(av + eps * e, bv).sum() - f(av - eps * e, bv).sum()) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(a.grad.numpy(), fd, rtol=1e-5)


def test_gradient_through_division_by_int_degrees_is_float32_and_correct():
    x = sg.ones(3, requires_grad=True)
    deg = sg.tensor([1, 2, 4])
    (x / deg * np.float64(3.0)).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 1.5, 0.75])


def test_clamp_of_float32_with_a_float64_tensor_bound_promotes_and_grads_keep_dtypes():
    x = sg.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    lo = sg.tensor([0.0, 0.0, 0.0], dtype=F64, requires_grad=True)
    y = ops.clamp(x, min=lo)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and lo.grad.dtype == np.float64
    assert x.grad.tolist() == [0.0, 1.0, 1.0] and lo.grad.tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("bounds", [{"min": 2.5}, {"max": -2.5}, {"min": np.float64(0.5)},
                                    {"min": sg.tensor([0.5, 0.5, 0.5, 0.5])}])
def test_clamp_inplace_of_an_int_tensor_with_a_float_bound_raises_as_add_does(bounds):
    a = sg.tensor([-7, -3, 3, 7])
    with pytest.raises(TypeError, match=r"clamp_: the result type float\d+ can't be cast to the "
                                        r"tensor's dtype int64 in place"):
        a.clamp_(**bounds)
    assert a.tolist() == [-7, -3, 3, 7]  # untouched


def test_clamp_inplace_of_an_int_tensor_with_int_bounds_still_works():
    a = sg.tensor([-7, -3, 3, 7])
    assert a.clamp_(min=-4, max=np.int64(5)).tolist() == [-4, -3, 3, 5] and a.dtype == np.int64


# ---- 0-d tensors, einsum, in-place, cat, activations, scalars (a second audit) --------------
@pytest.mark.parametrize("a, b, want", [
    (F32, sg.tensor(0.5, dtype=F64), F32),  # a 0-d tensor sets no width beside dims
    (I32, sg.tensor(2), I32),
    (I32, sg.tensor(2.5, dtype=F64), F64),  # ... but lifts the category, with its own dtype
    (sg.tensor(2.5, dtype=F64), sg.tensor(1.0, dtype=F32), F64),  # 0-d with 0-d: widening
])
def test_zero_dim_tensors_rank_between_tensors_and_scalars(a, b, want):
    a = t(a) if isinstance(a, str) else a
    for op in ("add", "mul", "maximum"):
        assert getattr(ops, op)(a, b).dtype == np.dtype(want)


def test_scaling_by_a_detached_loss_keeps_float32_with_float32_gradients():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    s = sg.tensor(3.0, dtype=F64, requires_grad=True)
    y = x * s
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and s.grad.dtype == np.float64
    assert x.grad.tolist() == [3.0, 3.0] and s.grad.item() == 3.0


def test_einsum_promotes_and_returns_each_gradient_in_its_dtype():
    a = sg.tensor(np.arange(6.0).reshape(2, 3), dtype=F32, requires_grad=True)
    w = sg.tensor(np.ones((3, 2)), dtype=F64, requires_grad=True)
    i = sg.tensor(np.ones((3, 2), np.int64))
    assert ops.einsum("ij,jk->ik", a, i).dtype == np.float32
    y = ops.einsum("ij,jk->ik", a, w)
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and w.grad.dtype == np.float64
    np.testing.assert_allclose(w.grad.numpy(), np.arange(6.0).reshape(2, 3).sum(0)[:, None]
                               * np.ones((1, 2)))


@pytest.mark.parametrize("write", [
    lambda h: h.mul_(np.float64(0.5)), lambda h: h.div_(sg.tensor([1, 2, 4])),
    lambda h: h.mul_(np.int64(2)), lambda h: h.div_(sg.tensor([2.0, 2.0, 2.0], dtype=F64)),
])
def test_inplace_ops_with_wider_operands_give_float32_gradients(write):
    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    h = x * 1
    write(h)
    assert h.dtype == np.float32
    h.sum().backward()
    assert x.grad.dtype == np.float32


def test_a_wider_operand_that_requires_grad_gets_its_own_dtype_from_add_():
    h = sg.tensor([1.0, 2.0], requires_grad=True) * 1
    o = sg.tensor([1.0, 1.0], dtype=F64, requires_grad=True)
    h.add_(o)
    h.sum().backward()
    assert o.grad.dtype == np.float64 and o.grad.tolist() == [1.0, 1.0]


def test_numpy_scalar_operands_run_backward_in_float32():
    import tracemalloc

    x = sg.randn(1_000_000, requires_grad=True)
    y = (x * np.float64(2)) ** np.float64(2)
    tracemalloc.start()
    y.sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3.5 * 4e6  # float32 temporaries only: no float64 copy of x (8 MB each)


@pytest.mark.parametrize("dtypes, want", [((F32, F64), F64), ((F32, I64), F32),
                                          ((I32, I64), I64), ((B, I32), I32)])
def test_cat_and_stack_promote(dtypes, want):
    xs = [t(d) for d in dtypes]
    assert ops.cat(xs).dtype == np.dtype(want) and ops.stack(xs).dtype == np.dtype(want)
    assert ops.cat(xs).tolist() == np.concatenate([x.numpy() for x in xs]).tolist()


def test_cat_gives_each_input_its_gradient_dtype():
    a = sg.tensor([1.0], requires_grad=True)
    b = sg.tensor([2.0], dtype=F64, requires_grad=True)
    (ops.cat([a, b]) * 3).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_float_valued_activations_of_ints_give_float32_and_relu_keeps_ints():
    i = sg.tensor([-1, 0, 2])
    assert ops.sigmoid(i).dtype == np.float32 and i.tanh().dtype == np.float32
    np.testing.assert_allclose(ops.sigmoid(i).numpy(), 1 / (1 + np.exp([1.0, 0.0, -2.0])),
                               rtol=1e-6)
    r = ops.relu(i)
    assert r.dtype == np.int64 and r.tolist() == [0, 0, 2]


def test_numpy_scalars_keep_their_dtype_and_where_takes_two_scalars():
    assert sg.tensor(np.float64(1.5)).dtype == np.float64
    assert sg.tensor(1.5).dtype == np.float32
    c = sg.tensor([True, False])
    assert ops.where(c, 1.0, 0.0).dtype == np.float32
    assert ops.where(c, 1, 0).dtype == np.int64 and ops.where(c, 1, 0).tolist() == [1, 0]
