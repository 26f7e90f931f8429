"""What backward reads is version-checked or private (dense audit, findings 1 and 2).

An op's output that its backward reads (norm, logsumexp, amax / amin, median) and the index,
mask, target and weight tensors an op keeps for backward are saved: an in-place change before
backward raises, as in PyTorch, instead of giving a silently wrong gradient. A writeable numpy
index is copied (PyTorch converts it to a new tensor), so a later write to it changes nothing;
a read-only one (the library's cached structures) is kept as it is. References are numpy
transcriptions of the gradients, computed from the values as they were at forward.
"""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.testing import gradcheck

F = sg.nn.functional
CHANGED = "modified by an in-place operation"


def leaf(values, dtype=sg.float64):
    return sg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, requires_grad=True)


def rand(shape, seed=0):
    return leaf(np.random.default_rng(seed).standard_normal(shape))


# ---- finding 1: ops whose backward reads their own output ------------------------------------
READ_OUTPUT = {
    "norm": lambda x: ops.norm(x),
    "norm-dim": lambda x: ops.norm(x, dim=1),
    "norm-p3-keepdim": lambda x: ops.norm(x, p=3, dim=0, keepdim=True),
    "norm-inf": lambda x: ops.norm(x, p=float("inf"), dim=1),
    "logsumexp": lambda x: ops.logsumexp(x, 1),
    "logsumexp-keepdim": lambda x: ops.logsumexp(x, (0, 1), keepdim=True),
    "amax": lambda x: ops.amax(x, 1),
    "amax-all": lambda x: ops.amax(x),
    "amin-keepdim": lambda x: ops.amin(x, 0, keepdim=True),
    "median": lambda x: x.median(),
}


@pytest.mark.parametrize("fn", READ_OUTPUT.values(), ids=READ_OUTPUT.keys())
@pytest.mark.parametrize("change", [lambda y: y.mul_(2), lambda y: y.add_(1.0)],
                         ids=["mul_", "add_"])
def test_changing_an_output_backward_reads_raises(fn, change):
    x = rand((3, 4))
    y = fn(x)
    change(y)
    with pytest.raises(RuntimeError, match=CHANGED):
        y.sum().backward()


@pytest.mark.parametrize("fn", READ_OUTPUT.values(), ids=READ_OUTPUT.keys())
def test_ops_reading_their_output_keep_their_gradient(fn):
    # distinct magnitudes: no ties, so every op is differentiable at x
    x = leaf(np.random.default_rng(3).permutation(12).reshape(3, 4) * 0.37 + 0.5)
    assert gradcheck(fn, [x])


def test_changing_a_copy_of_the_output_is_no_error():
    x = leaf([3.0, 4.0])
    y = x.norm()
    z = y.clone()
    z.mul_(2)  # not what backward reads
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.6, 0.8])


# ---- finding 2: index / mask / target / weight tensors ---------------------------------------
def _x():
    return leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


SAVED_TENSOR = {  # (forward from x and the saved tensor t, a fresh t, an in-place change to t)
    "getitem-int": (lambda x, t: x[t], lambda: sg.tensor([1, 0]), lambda t: t.add_(1)),
    "getitem-tuple": (lambda x, t: x[0, t], lambda: sg.tensor([2, 0]), lambda t: t.zero_()),
    "getitem-mask": (lambda x, t: x[t], lambda: sg.tensor([True, False]),
                     lambda t: t.fill_(True)),
    "setitem": (lambda x, t: _written(x, t), lambda: sg.tensor([0, 2]), lambda t: t.fill_(1)),
    "index_select": (lambda x, t: ops.index_select(x, 1, t), lambda: sg.tensor([2, 2]),
                     lambda t: t.zero_()),
    "gather": (lambda x, t: ops.gather(x, 1, t), lambda: sg.tensor([[0, 2], [1, 1]]),
               lambda t: t.zero_()),
    "take_along_dim": (lambda x, t: ops.take_along_dim(x, t, 1), lambda: sg.tensor([[2], [0]]),
                       lambda t: t.fill_(1)),
    "masked_fill": (lambda x, t: ops.masked_fill(x, t, 0.0),
                    lambda: sg.tensor([True, False, True]), lambda t: t.fill_(False)),
    "where": (lambda x, t: ops.where(t, x, 0.0), lambda: sg.tensor([True, False, True]),
              lambda t: t.fill_(True)),
    "nll_loss-target": (lambda x, t: F.nll_loss(x, t), lambda: sg.tensor([2, 0]),
                        lambda t: t.zero_()),
    "cross_entropy-target": (lambda x, t: F.cross_entropy(x, t), lambda: sg.tensor([1, 0]),
                             lambda t: t.fill_(2)),
    "cross_entropy-weight": (lambda x, t: F.cross_entropy(x, sg.tensor([1, 0]), weight=t),
                             lambda: sg.tensor([1.0, 2.0, 3.0], dtype=sg.float64),
                             lambda t: t.mul_(5)),
    "bce-weight": (lambda x, t: F.binary_cross_entropy_with_logits(x, x.detach() * 0, weight=t),
                   lambda: sg.tensor([1.0, 2.0, 3.0], dtype=sg.float64), lambda t: t.fill_(5)),
    "bce-pos_weight": (lambda x, t: F.binary_cross_entropy_with_logits(
        x, sg.ones(2, 3, dtype=sg.float64), pos_weight=t),
        lambda: sg.tensor([1.0, 2.0, 3.0], dtype=sg.float64), lambda t: t.fill_(5)),
    # the divisor's gradient -floor(t / x) reads the dividend (no quotient is an integer here)
    "remainder-dividend": (lambda x, t: ops.remainder(t, x),
                           lambda: sg.tensor([7.5, 3.0, 8.0], dtype=sg.float64),
                           lambda t: t.add_(1)),
}


def _written(x, idx):
    y = x * 1
    y[0, idx] = 0.0
    return y


@pytest.mark.parametrize("fn, make, change", SAVED_TENSOR.values(), ids=SAVED_TENSOR.keys())
def test_changing_a_saved_index_or_target_in_place_raises(fn, make, change):
    x, t = _x(), make()
    y = fn(x, t)
    change(t)
    with pytest.raises(RuntimeError, match=CHANGED):
        y.sum().backward()


@pytest.mark.parametrize("fn, make, change", SAVED_TENSOR.values(), ids=SAVED_TENSOR.keys())
def test_the_saved_tensor_unchanged_gives_the_finite_difference_gradient(fn, make, change):
    t = make()
    assert gradcheck(lambda x: fn(x, t), [_x()])


def test_spmm_bias_act_saves_x_for_the_values_gradient():
    a = sg.sparse_csr(sg.tensor(np.array([0, 1, 3])), sg.tensor(np.array([1, 0, 1])),
                      leaf([1.0, 2.0, 3.0]), (2, 2))
    x = sg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    y = ops.fused.spmm_bias_act(a, x, relu=False)
    x.mul_(2)  # the values' gradient reads x
    with pytest.raises(RuntimeError, match=CHANGED):
        y.sum().backward()


# a host index array the caller may still change: copied, so the write changes nothing
def _index_grad(shape, key):
    """The gradient of ``x[key].sum()``: one per use of each element (repeats add)."""
    g = np.zeros(shape)
    np.add.at(g, key, 1.0)
    return g


def test_a_numpy_index_changed_after_forward_does_not_change_the_gradient():
    x = _x()
    idx = np.array([1, 1, 0])
    y = x[:, idx]
    want = _index_grad((2, 3), (slice(None), idx.copy()))
    idx[:] = 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_a_numpy_mask_changed_after_forward_does_not_change_the_gradient():
    x = _x()
    mask = np.array([True, False, True])
    y = ops.masked_fill(x, mask, 0.0)
    want = np.where(mask, 0.0, 1.0) * np.ones((2, 3))
    mask[:] = False
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), want)


@pytest.mark.parametrize("op", ["index_select", "gather", "setitem"])
def test_numpy_indices_of_the_other_ops_are_copied_too(op):
    x = _x()
    idx = np.array([[2, 2], [0, 1]]) if op == "gather" else np.array([2, 2])
    if op == "index_select":
        y, want = ops.index_select(x, 1, idx), _index_grad((2, 3), (slice(None), idx.copy()))
    elif op == "gather":
        y = ops.gather(x, 1, idx)
        want = _index_grad((2, 3), (np.array([[0, 0], [1, 1]]), idx.copy()))
    else:
        y = x * 1
        y[0, idx] = 0.0
        want = np.ones((2, 3))
        want[0, 2] = 0.0
    idx[...] = 0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_numpy_targets_and_weights_are_copied():
    x = leaf([[0.5, 1.0, -1.0], [2.0, 0.0, 1.0]])
    target, weight = np.array([2, 0]), np.array([1.0, 2.0, 3.0])
    loss = F.cross_entropy(x, target, weight=weight, reduction="sum")
    p = np.exp(x.detach().numpy()) / np.exp(x.detach().numpy()).sum(1, keepdims=True)
    onehot = np.eye(3)[target]
    want = weight[target][:, None] * (p - onehot)  # PyTorch's weighted CE gradient
    target[:], weight[:] = 1, 100.0
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_a_numpy_pos_weight_is_copied():
    x = leaf([1.0, -2.0])
    y, pw = np.array([1.0, 0.0]), np.array([3.0, 3.0])
    loss = F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="sum")
    s = 1 / (1 + np.exp(-x.detach().numpy()))
    want = pw * y * (s - 1) + (1 - y) * s  # PyTorch's formula: d/dx of the summed loss
    pw[:] = 50.0
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_a_read_only_index_is_kept_not_copied():
    """The library's cached index arrays are read-only: the hot path copies nothing."""
    idx = np.array([0, 2, 2])
    idx.flags.writeable = False
    x = _x()
    y = x[:, idx]
    assert y.grad_fn.ctx.key[1] is idx
    y = ops.index_select(x, 1, idx)
    assert y.grad_fn.ctx.index is idx


def test_an_index_tensor_is_saved_not_copied():
    idx = sg.tensor([0, 2, 2])
    y = ops.index_select(_x(), 1, idx)
    assert y.grad_fn.ctx.index is idx.array


def test_nothing_is_kept_when_no_gradient_is_needed():
    x, idx = sg.tensor([1.0, 2.0, 3.0]), sg.tensor([0, 1])
    y = x[idx]
    idx.fill_(2)  # no backward reads it
    np.testing.assert_array_equal(y.numpy(), [1.0, 2.0])


def test_a_compiled_step_follows_new_index_mask_and_target_inputs():
    """The static graph records the index arrays as given and saves the tensors anew on each
    call: the gradients follow each call's values."""
    w = leaf(np.random.default_rng(1).standard_normal((4, 3)))

    def step(idx, mask, y):
        w.grad = None
        loss = (F.cross_entropy(ops.index_select(w, 0, idx), y)
                + ops.masked_fill(w, mask, 0.0).sum() + w[idx].sum())
        loss.backward()
        return w.grad.clone()

    compiled = static.compile(step)
    rng = np.random.default_rng(2)
    for _ in range(3):
        args = (sg.tensor(rng.integers(0, 4, 5)), sg.tensor(rng.random((4, 3)) < 0.5),
                sg.tensor(rng.integers(0, 3, 5)))
        np.testing.assert_allclose(compiled(*args).numpy(), step(*args).numpy(), rtol=1e-12)
    assert compiled.traces == 1


def test_a_device_index_array_is_copied_on_emulated_cuda(emulated_cuda):
    """A CuPy array has no writeable flag: one the caller gives is copied (CuPy emulated)."""
    x = sg.tensor(np.array([1.0, 2.0, 3.0]), dtype=sg.float64, device="cuda",
                  requires_grad=True)
    idx = x.xp.asarray(np.array([0, 0, 1]))
    y = x[idx]
    idx[...] = 2
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.to("cpu").numpy(), [2.0, 1.0, 0.0])


# ---- the indices max / min / median with a dim, sort and topk return: backward reads them ------
RETURNED_INDICES = {
    "median-dim": lambda x: x.median(0),
    "median-keepdim": lambda x: x.median(1, keepdim=True),
    "median-0d": lambda x: x[1, 2].median(0),
    "max-dim": lambda x: x.max(1),
    "min-keepdim": lambda x: x.min(0, keepdim=True),
    "sort": lambda x: ops.sort(x, 1, descending=True),
    "sort-0d": lambda x: ops.sort(x[1, 2], 0),
    "topk": lambda x: ops.topk(x, 2, dim=0),
}


@pytest.mark.parametrize("fn", RETURNED_INDICES.values(), ids=RETURNED_INDICES.keys())
@pytest.mark.parametrize("change", [lambda i: i.zero_(), lambda i: i.fill_(1)],
                         ids=["zero_", "fill_"])
def test_changing_the_returned_indices_in_place_raises(fn, change):
    values, indices = fn(rand((3, 4)))
    change(indices)
    with pytest.raises(RuntimeError, match=CHANGED):
        values.sum().backward()


def test_changing_a_copy_of_the_returned_indices_keeps_the_gradient():
    x = leaf([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0], [7.0, 9.0, 8.0]])
    values, indices = x.median(1)
    indices.clone().zero_()
    values.sum().backward()
    a = x.detach().numpy()
    want = (a == np.sort(a, axis=1)[:, [1]]).astype(float)  # distinct rows: one middle each
    np.testing.assert_array_equal(x.grad.numpy(), want)


# ---- a numpy operand of the binary ops: copied when a gradient reads it ------------------------
NUMPY_OPERAND = {  # (f(x, w) for a numpy w, d sum(f) / dx in numpy from the values at forward)
    "mul": (lambda x, w: x * w, lambda x, w: w),
    "rmul": (lambda x, w: w * x, lambda x, w: w),
    "div": (lambda x, w: x / w, lambda x, w: 1 / w),
    "rdiv": (lambda x, w: w / x, lambda x, w: -w / x ** 2),
    "pow": (lambda x, w: x ** w, lambda x, w: w * x ** (w - 1)),
    "rpow": (lambda x, w: ops.pow(w, x), lambda x, w: w ** x * np.log(w)),
    # PyTorch's rule: tied operands share the gradient evenly
    "maximum": (lambda x, w: ops.maximum(x, w), lambda x, w: (x > w) + 0.5 * (x == w)),
    "minimum": (lambda x, w: ops.minimum(w, x), lambda x, w: (x < w) + 0.5 * (x == w)),
    # the divisor's gradient -floor(w / x) reads the dividend
    "remainder-dividend": (lambda x, w: ops.remainder(w, x), lambda x, w: -np.floor(w / x)),
}


@pytest.mark.parametrize("fn, grad", NUMPY_OPERAND.values(), ids=NUMPY_OPERAND.keys())
def test_a_numpy_operand_changed_after_forward_does_not_change_the_gradient(fn, grad):
    x0, w = np.array([1.5, 2.0, 3.0]), np.array([2.0, 0.5, 3.0])
    x = leaf(x0)
    y = fn(x, w)
    want = grad(x0, w.copy())
    w[...] = 7.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-13)


def test_a_read_only_numpy_operand_is_kept_not_copied():
    w = np.array([2.0, 0.5, 3.0])
    w.flags.writeable = False
    y = leaf([1.0, 2.0, 3.0]) * w
    assert y.grad_fn.ctx.saved_tensors[1] is w


def test_a_numpy_bce_weight_changed_after_forward_does_not_change_the_gradient():
    p0, t, w = np.array([0.2, 0.7, 0.9]), np.array([0.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])
    p = leaf(p0)
    loss = F.binary_cross_entropy(p, sg.tensor(t, dtype=sg.float64), weight=w, reduction="sum")
    want = w * (p0 - t) / (p0 * (1 - p0))  # PyTorch's gradient, weighted
    w[:] = 100.0
    loss.backward()
    np.testing.assert_allclose(p.grad.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("op, grad", [("mul_", lambda w: w), ("div_", lambda w: 1 / w)],
                         ids=["mul_", "div_"])
def test_a_numpy_operand_of_an_inplace_op_changed_after_it_keeps_the_gradient(op, grad):
    x, w = leaf([1.0, 2.0, 3.0]), np.array([2.0, 0.5, 4.0])
    y = x * 1
    getattr(y, op)(w)
    want = grad(w.copy())
    w[:] = 7.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-13)
