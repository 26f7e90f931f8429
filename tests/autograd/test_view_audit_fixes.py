"""Views and in-place writes: fixes from the autograd audit (custom Function view outputs,
leaf views, detach_ on views, deepcopy of non-leaves, flip's copy)."""

import copy

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn

D = "float64"


class Tail(sg.autograd.Function):
    """Returns a view of its input, made inside forward."""

    @staticmethod
    def forward(ctx, a):
        return a[1:]

    @staticmethod
    def backward(ctx, g):
        out = sg.zeros(3, dtype=D)
        out[1:] = g
        return out


class Ident(sg.autograd.Function):
    """Returns its input as is, with a custom gradient (x3)."""

    @staticmethod
    def forward(ctx, a):
        return a

    @staticmethod
    def backward(ctx, g):
        return g * 3


def _x():
    return sg.tensor([1.0, 2.0, 3.0], dtype=D, requires_grad=True)


# ---- F1: outputs of custom Functions that alias an input ------------------------------------
def test_custom_view_output_refuses_use_after_base_changed_in_place():
    x = _x()
    y = x * 1
    t = Tail.apply(y)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="Output 0 of TailBackward is a view and its base or "
                                           "another view of its base has been modified inplace"):
        t.sum().backward()
    assert x.grad is None


def test_custom_input_returned_as_is_refuses_use_after_base_changed_in_place():
    x = _x()
    y = x * 1
    t = Ident.apply(y)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="Output 0 of IdentBackward is a view.*cloning the "
                                           "output of the custom Function"):
        (t * 1).sum().backward()


def test_custom_view_output_refuses_change_through_another_view_of_base():
    x = _x()
    y = x * 1
    t = Tail.apply(y)
    y[:1].mul_(2)  # changes y (CopySlices) and so t's memory version
    with pytest.raises(RuntimeError, match="Output 0 of TailBackward"):
        t * 1


def test_custom_view_output_refuses_in_place_on_itself():
    x = _x()
    t = Tail.apply(x * 1)
    with pytest.raises(RuntimeError, match="mul_: Output 0 of TailBackward is a view "
                                            "and is being modified inplace"):
        t.mul_(2)
    np.testing.assert_array_equal(t.detach().numpy(), [2.0, 3.0])


def test_view_of_custom_view_output_inherits_the_refusal():
    x = _x()
    y = x * 1
    u = Tail.apply(y)[:1]
    y.mul_(2)
    with pytest.raises(RuntimeError, match="Output 0 of TailBackward"):
        u.sum().backward()


def test_custom_view_outputs_without_in_place_and_cloned_outputs_keep_working():
    x = _x()
    Tail.apply(x * 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])
    x = _x()
    y = x * 1
    t = Ident.apply(y).clone()  # the fix torch suggests
    y.mul_(2)
    t.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])
    t.mul_(2)  # a clone is no view: writing it is fine


def test_custom_function_with_mark_dirty_is_not_refused():
    class Double(sg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            a.mul_(2)
            ctx.mark_dirty(a)
            return a

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = _x()
    y = x * 1
    out = Double.apply(y)
    assert out is y
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 16.0, 24.0])


def test_builtin_views_still_follow_in_place_changes_of_base():
    x = _x()
    y = x * 1
    v = y[1:]
    y.mul_(2)
    (v * v).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 16.0, 24.0])


# ---- F9: an in-place op on a view that is itself a requires-grad leaf -----------------------
def test_in_place_on_a_view_that_is_a_leaf_requiring_grad_raises():
    a = sg.zeros(4, dtype=D)
    w = a[1:]
    w.requires_grad_()
    with pytest.raises(RuntimeError, match="a leaf tensor that requires grad is used in an "
                                           "in-place operation"):
        w.mul_(2)
    np.testing.assert_array_equal(a.numpy(), np.zeros(4))
    with sg.no_grad():
        w.add_(1)  # the update wrapped in no_grad, as the message says
    np.testing.assert_array_equal(a.numpy(), [0.0, 1.0, 1.0, 1.0])


# ---- F4: detach_ on a view -------------------------------------------------------------------
def test_detach_in_place_on_a_view_raises_and_on_a_non_view_works():
    x = _x()
    y = x * 2
    v = y[1:]
    with pytest.raises(RuntimeError, match="can't detach views in-place.*detach\\(\\)"):
        v.detach_()
    assert v.requires_grad and v.grad_fn is not None
    z = x * 2
    assert z.detach_() is z and not z.requires_grad and z.grad_fn is None


# ---- F5: deepcopy --------------------------------------------------------------------------
def test_deepcopy_of_a_non_leaf_raises():
    x = _x()
    with pytest.raises(RuntimeError, match="deepcopy: only tensors created explicitly by the "
                                           "user \\(graph leaves\\)"):
        copy.deepcopy(x * 2)


def test_deepcopy_of_leaves_copies_values_grad_and_class():
    x = _x()
    x.grad = sg.ones(3, dtype=D)
    c = copy.deepcopy(x)
    assert type(c) is sg.Tensor and c.requires_grad and c.is_leaf and c.dtype == np.float64
    assert not np.shares_memory(c.array, x.array)
    assert c.grad is not x.grad and not np.shares_memory(c.grad.array, x.grad.array)
    np.testing.assert_array_equal(c.grad.numpy(), [1.0, 1.0, 1.0])
    (c * c).sum().backward()  # the copy is a leaf of its own
    np.testing.assert_array_equal(c.grad.numpy(), [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
    p = nn.Parameter(sg.ones(2, dtype=D))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q.grad is None
    both = copy.deepcopy([p, p])  # one tensor twice: one copy
    assert both[0] is both[1]


def test_deepcopy_of_a_module_and_its_state_dict():
    lin = nn.Linear(3, 2)
    twin = copy.deepcopy(lin)
    assert isinstance(twin.weight, nn.Parameter) and twin.weight is not lin.weight
    np.testing.assert_array_equal(twin.weight.detach().numpy(), lin.weight.detach().numpy())
    best = copy.deepcopy(lin.state_dict())
    with sg.no_grad():
        lin.weight.mul_(0)
    assert np.abs(best["weight"].numpy()).sum() > 0


# ---- F6: flip copies ------------------------------------------------------------------------
def test_flip_returns_a_copy_and_keeps_its_gradient():
    x = sg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=D)
    for f in (x.flip(0), sg.flip(x, (0, 1))):
        assert not np.shares_memory(f.array, x.array)
        f[0, 0] = 9.0
    np.testing.assert_array_equal(x.numpy(), [[1.0, 2.0], [3.0, 4.0]])
    w = sg.tensor([1.0, 2.0, 3.0], dtype=D, requires_grad=True)
    (sg.flip(w, 0) * sg.tensor([1.0, 2.0, 3.0], dtype=D)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 2.0, 1.0])
