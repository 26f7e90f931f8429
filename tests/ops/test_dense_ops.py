"""Every dense differentiable op: float64 gradient checks (with broadcasting), numpy reference
values, dtype preservation and error messages."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck


def r(*shape, positive=False, seed=0):
    rng = np.random.default_rng(seed + sum(shape))
    a = rng.standard_normal(shape)
    if positive:
        a = np.abs(a) + 0.5
    return sg.tensor(a, dtype="float64", requires_grad=True)


BINARY = {
    "add": (ops.add, np.add), "sub": (ops.sub, np.subtract), "mul": (ops.mul, np.multiply),
    "div": (ops.div, np.divide), "pow": (ops.pow, np.power),
    "maximum": (ops.maximum, np.maximum), "minimum": (ops.minimum, np.minimum),
}
SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((2, 3, 4), (3, 1)), ((), (2, 3)), ((5,), ())]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_gradcheck_and_values(name, shapes):
    fn, ref = BINARY[name]
    a = r(*shapes[0], positive=name == "pow", seed=1)
    b = r(*shapes[1], positive=name in ("div", "pow"), seed=2)
    out = fn(a, b)
    assert_close(out, ref(a.detach().numpy(), b.detach().numpy()))
    gradcheck(fn, [a, b])


UNARY = {
    "neg": (ops.neg, np.negative, False), "exp": (ops.exp, np.exp, False),
    "log": (ops.log, np.log, True), "log1p": (ops.log1p, np.log1p, True),
    "expm1": (ops.expm1, np.expm1, False), "sqrt": (ops.sqrt, np.sqrt, True),
    "rsqrt": (ops.rsqrt, lambda x: 1 / np.sqrt(x), True), "abs": (ops.abs, np.abs, False),
    "square": (ops.square, np.square, False), "reciprocal": (ops.reciprocal, np.reciprocal, True),
    "sin": (ops.sin, np.sin, False), "cos": (ops.cos, np.cos, False),
    "relu": (ops.relu, lambda x: np.maximum(x, 0), False),
    "sigmoid": (ops.sigmoid, lambda x: 1 / (1 + np.exp(-x)), False),
    "tanh": (ops.tanh, np.tanh, False),
    "leaky_relu": (lambda x: ops.leaky_relu(x, 0.1), lambda x: np.where(x >= 0, x, 0.1 * x),
                   False),
    "elu": (ops.elu, lambda x: np.where(x > 0, x, np.expm1(x)), False),
    "gelu": (ops.gelu, None, False), "gelu_tanh": (lambda x: ops.gelu(x, "tanh"), None, False),
    "softplus": (ops.softplus, lambda x: np.log1p(np.exp(x)), False),
    "silu": (ops.silu, lambda x: x / (1 + np.exp(-x)), False),
    "selu": (ops.selu, None, False),
    "clamp": (lambda x: ops.clamp(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), False),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_gradcheck_and_values(name):
    fn, ref, positive = UNARY[name]
    x = r(4, 5, positive=positive, seed=3)
    if ref is not None:
        assert_close(fn(x), ref(x.detach().numpy()))
    gradcheck(fn, [x])
    x32 = sg.randn(3, 2).abs() + 0.5 if positive else sg.randn(3, 2)
    assert fn(x32).dtype == np.float32


def test_gelu_matches_erf_definition():
    from scipy.special import erf

    x = np.linspace(-4, 4, 9)
    assert_close(ops.gelu(sg.tensor(x, dtype="float64")), 0.5 * x * (1 + erf(x / np.sqrt(2))))


def test_sigmoid_and_softplus_are_stable_for_large_inputs():
    x = sg.tensor([-1000.0, 0.0, 1000.0])
    s = ops.sigmoid(x).numpy()
    assert np.isfinite(s).all() and s[0] == 0 and s[2] == 1
    assert np.isfinite(ops.softplus(x).numpy()).all()


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "logsumexp"])
def test_reductions(name, dim, keepdim):
    if name == "logsumexp" and dim is None:
        dim = (0, 1, 2)
    x = r(2, 3, 4, seed=4)
    fn = getattr(ops, name)
    out = fn(x, dim, keepdim=keepdim)  # var / std: the third positional is `unbiased`
    xn = x.detach().numpy()
    axis = dim
    ref = {"sum": lambda: xn.sum(axis=axis, keepdims=keepdim),
           "mean": lambda: xn.mean(axis=axis, keepdims=keepdim),
           "var": lambda: xn.var(axis=axis, keepdims=keepdim, ddof=1),
           "std": lambda: xn.std(axis=axis, keepdims=keepdim, ddof=1),
           "logsumexp": lambda: np.log(np.exp(xn).sum(axis=axis, keepdims=keepdim))}[name]()
    assert_close(out, ref)
    gradcheck(lambda t: fn(t, dim, keepdim=keepdim), [x])


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_and_without_dim(name):
    x = r(3, 4, seed=5)
    xn = x.detach().numpy()
    assert_close(getattr(ops, name)(x), getattr(np, name)(xn))
    values, indices = getattr(ops, name)(x, 1)
    assert_close(values, getattr(np, name)(xn, axis=1))
    np.testing.assert_array_equal(indices.numpy(), getattr(np, "arg" + name)(xn, axis=1))
    gradcheck(lambda t: getattr(ops, name)(t, 0, True)[0], [x])
    gradcheck(lambda t: getattr(ops, name)(t), [x])


def test_max_gradient_is_shared_among_ties():
    x = sg.tensor([1.0, 3.0, 3.0], requires_grad=True)
    ops.max(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.5, 0.5])  # torch's max() rule


def test_integer_sum_is_int64_and_bool_reductions():
    assert ops.sum(sg.tensor([1, 2, 3], dtype="int32")).dtype == np.int64
    assert ops.any(sg.tensor([False, True])).item() and not ops.all(sg.tensor([False, True])).item()
    assert ops.argmax(sg.tensor([[1.0, 5.0], [7.0, 0.0]]), 1).tolist() == [1, 0]


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)),
                                    ((4,), (4,)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4),
                                                                         (5, 4, 2))], ids=str)
def test_matmul_gradcheck_and_values(shapes):
    a, b = r(*shapes[0], seed=6), r(*shapes[1], seed=7)
    assert_close(a @ b, a.detach().numpy() @ b.detach().numpy())
    gradcheck(ops.matmul, [a, b])


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"matmul: expected `other` with 7 rows to match `input` "
                                         r"of shape \(5, 7\) \(got 6\)"):
        ops.matmul(sg.randn(5, 7), sg.randn(6, 2))
    with pytest.raises(TypeError, match="same dtype"):
        ops.matmul(sg.randn(2, 2), sg.randn(2, 2, dtype="float64"))


@pytest.mark.parametrize("fn", [
    lambda t: t.reshape(6, 4), lambda t: t.reshape(-1), lambda t: t.transpose(0, 2),
    lambda t: t.permute(2, 0, 1), lambda t: t.flatten(1), lambda t: t.unsqueeze(1).squeeze(1),
    lambda t: t[:, :1].squeeze(), lambda t: t[:1].expand(3, 3, 4), lambda t: t.T,
    lambda t: ops.cat([t, t * 2], dim=1), lambda t: ops.stack([t, t], dim=-1),
    lambda t: ops.split(t, 2, dim=2)[1], lambda t: ops.split(t, [1, 2], dim=1)[1] * 3,
], ids=["reshape", "reshape-1", "transpose", "permute", "flatten", "unsqueeze", "squeeze",
        "expand", "T", "cat", "stack", "split", "split_sections"])
def test_shape_ops_gradcheck(fn):
    gradcheck(fn, [r(2, 3, 4, seed=8)])


def test_split_pieces_accumulate_gradients():
    x = r(4, 3, seed=9)
    a, b = ops.split(x, 2)
    (a.sum() + 2 * b.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.repeat([[1.0], [1.0], [2.0], [2.0]], 3, 1))


@pytest.mark.parametrize("key", [
    (slice(1, 3),), (1,), (Ellipsis, 0), (np.array([0, 2, 2, 1]),), (np.array([True, False,
                                                                               True, True]),),
    (slice(None), np.array([1, 1, 0])), (None, 2), (np.array([0, 3]), np.array([1, 2])),
], ids=["slice", "int", "ellipsis", "int-array-repeats", "mask", "mixed", "newaxis", "pairs"])
def test_getitem_gradcheck_and_values(key):
    x = r(4, 3, seed=10)
    assert_close(x[key], x.detach().numpy()[key])
    gradcheck(lambda t: t[key], [x])


def test_setitem_is_differentiable_for_target_and_value():
    def f(x, v):
        y = x * 1.0
        y[1:3] = v
        return y * y

    gradcheck(f, [r(4, 3, seed=11), r(2, 3, seed=12)])
    gradcheck(f, [r(4, 3, seed=11), r(3, seed=13)])  # broadcast value


def test_index_select_gather_masked_fill():
    x = r(4, 3, seed=14)
    idx = np.array([3, 0, 0])
    assert_close(ops.index_select(x, 0, idx), x.detach().numpy()[idx])
    gradcheck(lambda t: ops.index_select(t, 1, np.array([2, 2])), [x])
    gi = np.array([[0, 1, 1], [3, 2, 0]])
    assert_close(ops.gather(x, 0, gi), np.take_along_axis(x.detach().numpy(), gi, 0))
    gradcheck(lambda t: ops.gather(t, 0, gi), [x])
    mask = sg.tensor(np.array([[True, False, True]]))
    gradcheck(lambda t: ops.masked_fill(t, mask, 0.5), [x])
    with pytest.raises(ValueError, match=r"index_select: expected indices in \[0, 4\)"):
        ops.index_select(x, 0, np.array([7]))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim):
    x = r(3, 5, seed=15)
    xn = x.detach().numpy()
    e = np.exp(xn - xn.max(axis=dim, keepdims=True))
    assert_close(ops.softmax(x, dim), e / e.sum(axis=dim, keepdims=True))
    assert_close(ops.log_softmax(x, dim), np.log(e / e.sum(axis=dim, keepdims=True)))
    gradcheck(lambda t: ops.softmax(t, dim), [x])
    gradcheck(lambda t: ops.log_softmax(t, dim), [x])
    big = sg.tensor([[1e4, 0.0, -1e4]])
    assert np.isfinite(ops.log_softmax(big, -1).numpy()).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses(reduction):
    x = r(6, 4, seed=16)
    target = np.array([0, 3, 1, 1, -100, 2])
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    logp = np.log(np.exp(x.detach().numpy()) / np.exp(x.detach().numpy()).sum(1, keepdims=True))
    valid = target != -100
    per = np.where(valid, -logp[np.arange(6), np.where(valid, target, 0)] * weight[
        np.where(valid, target, 0)], 0)
    ref = {"mean": per.sum() / weight[target[valid]].sum(), "sum": per.sum(),
           "none": per}[reduction]
    ce = ops.cross_entropy(x, target, weight=weight, reduction=reduction)
    assert_close(ce, ref)
    assert_close(ops.nll_loss(ops.log_softmax(x, -1), target, weight=weight, reduction=reduction),
                 ref)
    gradcheck(lambda t: ops.cross_entropy(t, target, weight=weight, reduction=reduction), [x])
    gradcheck(lambda t: ops.cross_entropy(t, target, label_smoothing=0.2, reduction=reduction),
              [x])
    gradcheck(lambda t: ops.nll_loss(t, target, reduction=reduction), [x])
    y = r(6, 4, seed=17)
    gradcheck(lambda a, b: ops.mse_loss(a, b, reduction), [x, y])
    gradcheck(lambda a: ops.binary_cross_entropy_with_logits(
        a, sg.tensor((y.detach().numpy() > 0).astype(np.float64)), reduction=reduction), [x])


def test_loss_errors():
    x = sg.randn(3, 4)
    with pytest.raises(ValueError, match=r"expected class indices in \[0, 4\).*\(got 9\)"):
        ops.cross_entropy(x, np.array([0, 9, 1]))
    with pytest.raises(TypeError, match="integer class indices"):
        ops.cross_entropy(x, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        ops.cross_entropy(x, np.array([0, 1, 1]), reduction="avg")


def test_dropout_is_seeded_scaled_and_differentiable():
    x = sg.ones(20000)
    a = ops.dropout(x, 0.3, True, generator=sg.Generator(5)).numpy()
    b = ops.dropout(x, 0.3, True, generator=sg.Generator(5)).numpy()
    np.testing.assert_array_equal(a, b)
    assert abs((a == 0).mean() - 0.3) < 0.02 and abs(a.mean() - 1) < 0.03
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert ops.dropout(x, 0.3, training=False) is x
    gradcheck(lambda t: ops.dropout(t, 0.5, True, generator=sg.Generator(1)), [r(5, 4)])
    with pytest.raises(ValueError, match=r"`p` in \[0, 1\]"):
        ops.dropout(x, 1.5)


def test_where_and_comparisons():
    a, b = r(3, 4, seed=18), r(4, seed=19)
    cond = a > 0
    assert cond.dtype == np.bool_ and not cond.requires_grad
    gradcheck(lambda s, t: ops.where(cond, s, t), [a, b])
    assert (a >= a).all().item() and not (a != a).any().item()


def test_scalars_on_either_side_keep_float32():
    t = sg.tensor([1.0, 2.0])
    for out in (t * 2.5, 2.5 * t, t - 1, 1 - t, t / 3, 3 / t, t ** 2, 2 ** t):
        assert out.dtype == np.float32
    np.testing.assert_allclose((2 - t).numpy(), [1.0, 0.0])
    np.testing.assert_allclose((2 ** t).numpy(), [2.0, 4.0])


def test_broadcast_error_names_the_op():
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        sg.randn(2, 3) + sg.randn(4)
    with pytest.raises(TypeError, match="expected `other` to be a Tensor or a number"):
        sg.randn(2) + "a"
