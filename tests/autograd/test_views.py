"""In-place writes through views (CopySlices), aliased in-place operands, and leaf .grad memory."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

W = np.array([[1.0, 2.0], [3.0, 4.0]])


def leaf():
    return sg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64", requires_grad=True)


def weighted(y):
    return (y * sg.tensor(W)).sum()


# ---- writes through a view reach the base's gradient --------------------------------------------
@pytest.mark.parametrize("write, expected", [
    (lambda y: y[0].fill_(0.0), [[0, 0], [3, 4]]),
    (lambda y: y.T[0].fill_(0.0), [[0, 2], [0, 4]]),
    (lambda y: y.reshape(4).mul_(3.0), 3 * W),
    (lambda y: y[:, ::-1][0].mul_(2.0), [[2, 4], [3, 4]]),
    (lambda y: y[1][1:].add_(5.0), W),
    (lambda y: y[0].__setitem__(1, 0.0), [[1, 0], [3, 4]]),
], ids=["fill-row", "fill-transposed", "mul-reshaped", "mul-flipped", "add-view-of-view",
        "setitem-view"])
def test_inplace_write_through_a_view_reaches_the_base(write, expected):
    a = leaf()
    y = a * 1
    write(y)
    weighted(y).backward()
    np.testing.assert_allclose(a.grad.numpy(), expected)


def test_value_written_through_a_view_of_a_view_gets_its_gradient():
    a, v = leaf(), sg.tensor(5.0, dtype="float64", requires_grad=True)
    y = a * 2
    y[0][1] = v
    assert y.grad_fn.name() == "CopySlicesBackward"
    weighted(y).backward()
    np.testing.assert_allclose(a.grad.numpy(), [[2, 0], [6, 8]])
    assert v.grad.item() == 2.0


def test_view_into_a_tensor_without_grad_makes_the_base_require_grad():
    v = sg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    x = sg.zeros(2, 2, dtype="float64")
    x[1].copy_(v * v)
    assert x.requires_grad
    weighted(x).backward()
    np.testing.assert_allclose(v.grad.numpy(), [2 * 1 * 3, 2 * 2 * 4])


def test_other_views_see_a_write_through_the_base_or_another_view():
    a, v = leaf(), sg.tensor([7.0, 8.0], dtype="float64", requires_grad=True)
    y = a * 1
    row0, row1 = y[0], y[1]  # made before the writes
    y[0] = v
    row1.mul_(2.0)
    (row0 * row1).sum().backward()  # = v0 * 2 a10 + v1 * 2 a11
    np.testing.assert_allclose(a.grad.numpy(), [[0, 0], [14, 16]])
    np.testing.assert_allclose(v.grad.numpy(), [6, 8])


def test_write_through_a_view_gradchecks():
    def fn(a, b):
        y = a * 1
        y[:, 1:].mul_(b)
        y.T[0].add_(b.reshape(3) * 2)
        return y * y

    a = sg.randn(3, 3, dtype="float64", requires_grad=True)
    b = sg.randn(3, 1, dtype="float64", requires_grad=True)
    gradcheck(fn, (a, b))


def test_inplace_on_a_view_of_a_leaf_that_requires_grad_raises():
    a = leaf()
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        a[0].fill_(0.0)
    with sg.no_grad():
        a[0].fill_(0.0)  # fine: not recorded
    assert a.tolist()[0] == [0.0, 0.0]


def test_view_made_under_no_grad_cannot_be_written_in_grad_mode():
    y = leaf() * 1
    with sg.no_grad():
        row = y[0]
    with pytest.raises(RuntimeError, match="view made under no_grad"):
        row.fill_(0.0)


# ---- in-place operands: aliasing and version checks ---------------------------------------------
@pytest.mark.parametrize("op", ["mul_", "div_"])
def test_inplace_operand_aliasing_the_target(op):
    def fn(a):
        y = a * 1
        getattr(y, op)(y)
        z = a * 1
        getattr(z, op)(z[0])
        return y + z

    gradcheck(fn, (sg.tensor([1.5, 2.0], dtype="float64", requires_grad=True),))


def test_mul_inplace_by_itself_matches_square():
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    y = a * 1
    y.mul_(y)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 4.0])


@pytest.mark.parametrize("op", ["mul_", "div_"])
def test_inplace_operand_changed_before_backward_raises(op):
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    b = sg.tensor([3.0, 4.0])
    y = a * 1
    getattr(y, op)(b)
    b[0] = 100.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_div_inplace_by_zero_gives_inf_as_division():
    t = sg.tensor([1.0, -2.0])
    t.div_(0)
    assert t.tolist() == [np.inf, -np.inf]


@pytest.mark.parametrize("op, value", [("add_", 1.5), ("mul_", 2.5), ("div_", 2)])
def test_inplace_op_into_an_integer_tensor_rejects_a_float_result(op, value):
    with pytest.raises(TypeError, match=rf"{op}: the result type float32 can't be cast to the "
                                        r"tensor's dtype int64"):
        getattr(sg.tensor([1, 2]), op)(value)


# ---- augmented assignment is in place ----------------------------------------------------------
def test_augmented_assignment_updates_the_parameter_in_place():
    w = sg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    alias = w
    with sg.no_grad():
        w -= 0.5 * w.grad
        w += 1.0
        w *= 2.0
        w /= 4.0
    assert w is alias and w.requires_grad
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 0.5])


def test_augmented_assignment_on_a_leaf_in_grad_mode_raises():
    w = sg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1.0


# ---- leaf gradients own their memory -----------------------------------------------------------
def test_leaf_grads_are_not_shared_with_each_other_or_the_gradient_argument():
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    b = sg.tensor([1.0, 2.0], requires_grad=True)
    g = sg.tensor([1.0, 1.0])
    (a + b).backward(g)
    a.grad.mul_(5)
    assert b.grad.tolist() == [1.0, 1.0] and g.tolist() == [1.0, 1.0]


def test_broadcast_leaf_grads_are_writable():
    a = sg.tensor([[1.0, 2.0]], requires_grad=True)
    b = sg.tensor(3.0, requires_grad=True)
    (a + b).sum().backward()
    a.grad.zero_()
    b.grad.zero_()
    assert a.grad.tolist() == [[0.0, 0.0]] and b.grad.item() == 0.0


def test_assigned_grad_is_validated():
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"grad: expected a gradient of shape \(2,\)"):
        a.grad = sg.zeros(3)
    with pytest.raises(TypeError, match="grad: expected a gradient of dtype float32"):
        a.grad = sg.zeros(2, dtype="float64")
    with pytest.raises(TypeError, match="grad: expected a Tensor or None"):
        a.grad = [0.0, 0.0]
    a.grad = sg.ones(2)
    a.grad = None


def test_in_place_on_an_integer_indexed_element_reaches_the_base():
    """numpy copies for a full integer index; the op takes a 0-d view, as PyTorch does."""
    a = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = a * 1
    y[1].add_(10.0)
    np.testing.assert_allclose(y.detach().numpy(), [1.0, 12.0, 3.0])
    z = (a * 1).reshape(1, 3)
    z[0, 1].mul_(100.0)
    np.testing.assert_allclose(z.detach().numpy(), [[1.0, 200.0, 3.0]])
    (z * sg.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 200.0, 3.0])
    s = a.detach().clone()
    e = s[2]
    s.mul_(5.0)
    assert float(e) == 15.0
