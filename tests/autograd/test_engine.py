"""The autograd engine: graph recording, accumulation, freeing, hooks, grad mode, errors."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.autograd import Function


def test_leaves_accumulate_and_shared_subgraphs_sum():
    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x  # used twice below: its gradient must be the sum of both paths
    z = y * 2 + y
    z.backward(sg.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * x.detach().numpy())
    (x * 1).backward(sg.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy() + 1)


def test_grad_fn_and_leaf_flags():
    a = sg.tensor([1.0], requires_grad=True)
    b = a * 2
    assert a.is_leaf and not b.is_leaf
    assert b.requires_grad and b.grad_fn.name() == "MulBackward"
    assert "grad_fn=<MulBackward>" in repr(b)
    assert "requires_grad=True" in repr(a)
    c = sg.tensor([1.0]) * 2
    assert c.grad_fn is None and not c.requires_grad


def test_non_scalar_backward_needs_gradient():
    x = sg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="only for a scalar output"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"expected `gradient` of shape \(3,\)"):
        (x * 2).backward(sg.ones(4))


def test_backward_of_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (sg.ones(2) * 2).backward(sg.ones(2))


def test_second_backward_raises_unless_retained():
    x = sg.randn(4, requires_grad=True)
    y = (x * x).exp()
    y.backward(sg.ones(4), retain_graph=True)
    y.backward(sg.ones(4))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward(sg.ones(4))


def test_deep_chain_has_no_recursion_limit():
    x = sg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 0.0
    y.backward(sg.ones(1))
    assert x.grad.item() == 1.0


def test_no_grad_and_enable_grad():
    x = sg.randn(2, requires_grad=True)
    with sg.no_grad():
        y = x * 2
        with sg.enable_grad():
            z = x * 2
    assert y.grad_fn is None and not y.requires_grad
    assert z.requires_grad
    assert sg.is_grad_enabled()

    @sg.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad


def test_only_needed_gradients_are_computed():
    calls = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a.array * b.array

        @staticmethod
        def backward(ctx, g):
            calls.append(ctx.needs_input_grad)
            return (g if ctx.needs_input_grad[0] else None,
                    g if ctx.needs_input_grad[1] else None)

    a = sg.randn(2, requires_grad=True)
    b = sg.randn(2)
    Probe.apply(a, b).backward(sg.ones(2))
    assert calls == [(True, False)]
    assert b.grad is None


def test_engine_names_the_function_returning_a_bad_gradient():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a):
            return a.array * 2

        @staticmethod
        def backward(ctx, g):
            return g.array[:1]

    with pytest.raises(RuntimeError, match=r"BadBackward.*shape \(1,\).*input 0.*shape \(3,\)"):
        Bad.apply(sg.randn(3, requires_grad=True)).backward(sg.ones(3))

    class WrongDtype(Function):
        @staticmethod
        def forward(ctx, a):
            return a.array * 2

        @staticmethod
        def backward(ctx, g):
            return g.array.astype(ctx.dtype)

    # another float dtype is cast to the input's, as PyTorch's engine does; another kind is a bug
    x = sg.randn(3, requires_grad=True)
    y = WrongDtype.apply(x)
    y.grad_fn.ctx.dtype = np.float64
    y.backward(sg.ones(3))
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0, 1.0]
    y = WrongDtype.apply(sg.randn(3, requires_grad=True))
    y.grad_fn.ctx.dtype = np.int64
    with pytest.raises(RuntimeError, match="WrongDtypeBackward.*dtype int64"):
        y.backward(sg.ones(3))


def test_hooks_see_and_replace_gradients():
    x = sg.randn(3, requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy()) or g * 2)
    y = x * 3
    y.register_hook(lambda g: g + 1)
    y.backward(sg.ones(3))
    np.testing.assert_allclose(seen[0], np.full(3, 6.0))
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 12.0))
    handle.remove()
    x.grad = None
    (x * 3).backward(sg.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 3.0))


def test_retain_grad_on_intermediate():
    x = sg.randn(3, requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).backward(sg.ones(3))
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.detach().numpy())


@pytest.mark.parametrize("order", ["retain-first", "hook-first"])
def test_retain_grad_stores_the_gradient_after_the_tensors_hooks(order):
    """PyTorch 2: y.grad is what flows on to y's inputs, whatever the registration order."""
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    y = a * 1
    if order == "retain-first":
        y.retain_grad()
        y.register_hook(lambda g: g * 10)
    else:
        y.register_hook(lambda g: g * 10)
        y.retain_grad()
    y.register_hook(lambda g: g + 1)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [31.0, 31.0])
    np.testing.assert_array_equal(a.grad.numpy(), y.grad.numpy())


def test_retain_grad_twice_keeps_one_gradient():
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    y = a * 1
    y.retain_grad()
    y.retain_grad()
    (y * 3).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 3.0])


def test_functional_grad():
    x = sg.randn(3, requires_grad=True)
    w = sg.randn(3, requires_grad=True)
    y = x * w
    (gx, gw) = sg.autograd.grad(y, [x, w], grad_outputs=sg.ones(3), retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), w.detach().numpy())
    np.testing.assert_allclose(gw.numpy(), x.detach().numpy())
    assert x.grad is None and w.grad is None  # returned, not accumulated
    (gy,) = sg.autograd.grad(y * y, [y], grad_outputs=sg.ones(3))
    np.testing.assert_allclose(gy.numpy(), 2 * y.detach().numpy())
    unused = sg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        sg.autograd.grad(x * 2, [unused], grad_outputs=sg.ones(3))
    assert sg.autograd.grad(x * 2, [unused], grad_outputs=sg.ones(3), allow_unused=True) == (
        None,)
    with pytest.raises(RuntimeError, match="does not require grad"):
        sg.autograd.grad(x * 2, [sg.randn(2)], grad_outputs=sg.ones(3))


def test_inplace_change_of_saved_tensor_is_detected():
    a = sg.randn(3, requires_grad=True)
    b = sg.randn(3)
    y = a * b  # MulBackward saves b
    with sg.no_grad():
        b.add_(1.0)
    with pytest.raises(RuntimeError, match="MulBackward.*modified by an in-place operation"):
        y.backward(sg.ones(3))


def test_inplace_on_leaf_requiring_grad_raises():
    a = sg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        a.add_(1.0)
    with sg.no_grad():
        a.add_(1.0)  # allowed: how optimizers update parameters
    assert a._version[0] == 1


def test_inplace_on_non_leaf_is_differentiable():
    a = sg.randn(3, requires_grad=True)
    y = a * 2
    y.add_(a)  # y = 3a
    y.mul_(2.0)  # y = 6a
    y.backward(sg.ones(3))
    np.testing.assert_allclose(a.grad.numpy(), np.full(3, 6.0))


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError, match="floating-point"):
        sg.tensor([1, 2], requires_grad=True)


def test_detach_and_data_share_memory_but_not_graph():
    x = sg.randn(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d.array, y.array)
    assert not y.data.requires_grad


def test_numpy_of_grad_tensor_requires_detach():
    x = sg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().shape == (2,)


@pytest.mark.parametrize("op", [lambda t: t.exp(), lambda t: t.sqrt(), lambda t: t.sigmoid(),
                                lambda t: t.tanh(), lambda t: 1.0 / t, lambda t: t.softmax(-1)],
                         ids=["exp", "sqrt", "sigmoid", "tanh", "div", "softmax"])
def test_inplace_change_of_an_output_read_by_backward_is_detected(op):
    x = (sg.rand(4) + 0.5).requires_grad_()
    y = op(x)
    y[0] = 1.0
    with pytest.raises(RuntimeError, match="output of shape .* was modified by an in-place"):
        y.sum().backward()


def test_inplace_change_of_an_output_not_read_by_backward_is_fine():
    x = sg.randn(4, requires_grad=True)
    y = x * 2.0  # MulBackward reads its inputs, not its output
    y[0] = 5.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 2, 2, 2])
    x = sg.tensor([1.0, -1.0, 2.0], requires_grad=True)
    y = x.relu()  # ReLU keeps the sign of its output, not the output
    y[1] = 5.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 1])  # y[1] was overwritten
