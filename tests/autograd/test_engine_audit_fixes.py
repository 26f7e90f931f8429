"""Audit fixes in the engine: grad() runs only the nodes leading to its inputs and applies their
hooks, autograd.backward's PyTorch signature, extra None gradients, gradcheck's gradients."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

D = "float64"


def _x(values=(1.0, 2.0, 3.0)):
    return sg.tensor(list(values), dtype=D, requires_grad=True)


# F2: grad() leaves the graph below its inputs alone


def test_grad_does_not_run_or_free_nodes_below_its_inputs():
    x = _x()
    h = x.exp()
    (gh,) = sg.autograd.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.numpy(), 2 * np.exp([1.0, 2.0, 3.0]))
    h.sum().backward()  # ExpBackward was neither run nor freed by grad()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0, 3.0]))


def test_grad_does_not_fire_hooks_below_its_inputs_nor_touch_grad():
    x = _x()
    fired = []
    x.register_hook(lambda g: fired.append("x"))
    y = x * 2
    y.register_hook(lambda g: fired.append("y"))
    h = y + 1
    sg.autograd.grad((h * 3).sum(), h)
    assert fired == [] and x.grad is None


def test_grad_runs_a_shared_subgraph_once_and_sums_paths():
    x = _x()
    w = _x((4.0, 5.0, 6.0))
    h = x * w
    out = (h * h).sum() + (h * x).sum()
    gh, gx = sg.autograd.grad(out, [h, x])
    xa, wa = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    np.testing.assert_allclose(gh.numpy(), 2 * xa * wa + xa)
    np.testing.assert_allclose(gx.numpy(), 2 * xa * wa * wa + 2 * xa * wa)
    assert w.grad is None and x.grad is None


def test_grad_with_an_output_unrelated_to_the_inputs():
    x, z = _x(), _x()
    (g,) = sg.autograd.grad([(x * 2).sum(), (z * 3).sum()], [x])
    np.testing.assert_allclose(g.numpy(), [2.0, 2.0, 2.0])
    (z * 3).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [3.0, 3.0, 3.0])


# F3: hooks on grad()'s inputs run, and the captured gradient is the hooked one


def test_grad_applies_a_leaf_inputs_hook():
    x = _x((1.0, 2.0))
    x.register_hook(lambda g: g * 10)
    (g,) = sg.autograd.grad((x * 1).sum(), x)
    np.testing.assert_allclose(g.numpy(), [10.0, 10.0])


def test_grad_applies_a_non_leaf_inputs_hook_also_when_it_runs_on():
    x = _x((1.0, 2.0))
    h = x * 2
    h.register_hook(lambda g: g * 10)
    (gh,) = sg.autograd.grad((h * 1).sum(), h, retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), [10.0, 10.0])
    gh, gx = sg.autograd.grad((h * 1).sum(), [h, x])  # h's node runs on down to x
    np.testing.assert_allclose(gh.numpy(), [10.0, 10.0])
    np.testing.assert_allclose(gx.numpy(), [20.0, 20.0])


# F7: sg.autograd.backward takes PyTorch's arguments


def test_backward_of_several_tensors_sums_their_gradients():
    x = _x((1.0, 2.0))
    sg.autograd.backward([(x * x).sum(), (3 * x).sum()])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 7.0])
    x.grad = None
    ones = sg.ones(2, dtype=D)
    sg.autograd.backward((x * 1, x * 2), grad_tensors=[ones, ones * 2])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_backward_keeps_the_single_tensor_api_and_the_gradient_alias():
    x = _x((1.0, 2.0))
    sg.autograd.backward((x * x).sum(), gradient=sg.tensor(2.0, dtype=D))
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    sg.autograd.backward(x * 1, sg.tensor([1.0, 3.0], dtype=D))
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 11.0])
    with pytest.raises(ValueError, match="expected 2 grad_tensors to match the outputs"):
        sg.autograd.backward([x * 1, x * 2], [sg.ones(2, dtype=D)])
    with pytest.raises(TypeError, match="not both"):
        sg.autograd.backward(x * 1, sg.ones(2, dtype=D), gradient=sg.ones(2, dtype=D))


def test_create_graph_false_is_accepted_and_true_is_refused():
    x = _x((1.0, 2.0))
    sg.autograd.backward((x * x).sum(), create_graph=False)
    (g,) = sg.autograd.grad((x * x).sum(), x, create_graph=False)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    with pytest.raises(NotImplementedError, match="backward: create_graph=True is not supp"):
        sg.autograd.backward((x * x).sum(), create_graph=True)
    with pytest.raises(NotImplementedError, match="grad: create_graph=True .*double backward"):
        sg.autograd.grad((x * x).sum(), x, create_graph=True)


def test_backward_inputs_accumulates_only_into_them():
    x, w = _x((1.0, 2.0)), _x((5.0, 6.0))
    fired = []
    x.register_hook(lambda g: fired.append("x"))
    h = x * w
    sg.autograd.backward(h.sum(), inputs=[w, h])
    assert x.grad is None and fired == []
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 2.0])
    np.testing.assert_allclose(h.grad.numpy(), [1.0, 1.0])
    (x * w).sum().backward()  # MulBackward below h... and w accumulates as usual
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="`inputs` was given but is empty"):
        sg.autograd.backward((x * w).sum(), inputs=[])


def test_backward_inputs_runs_the_leaf_hooks_once():
    w = _x((5.0, 6.0))
    w.register_hook(lambda g: g * 10)
    sg.autograd.backward((w * 1).sum(), inputs=w)
    np.testing.assert_allclose(w.grad.numpy(), [10.0, 10.0])


# F8: extra trailing None gradients are dropped


class _Scale(sg.autograd.Function):
    extra = (None,)

    @staticmethod
    def forward(ctx, x):
        return x * 3

    @staticmethod
    def backward(ctx, g):
        return (g * 3, *_Scale.extra)


def test_backward_returning_extra_trailing_nones_is_trimmed():
    x = _x((1.0, 2.0))
    _Scale.extra = (None, None)
    _Scale.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_backward_returning_an_extra_gradient_is_an_error():
    x = _x((1.0, 2.0))
    _Scale.extra = (None, sg.ones(2, dtype=D))
    try:
        with pytest.raises(RuntimeError,
                           match=r"_ScaleBackward: backward returned an incorrect number of "
                                 r"gradients \(expected 1, .* got 3\)"):
            _Scale.apply(x).sum().backward()
    finally:
        _Scale.extra = (None,)


# F10: gradcheck leaves .grad alone, takes non-leaf inputs and a lone Tensor


def test_gradcheck_keeps_the_users_grad():
    x = _x()
    x.grad = sg.tensor([7.0, 8.0, 9.0], dtype=D)
    assert gradcheck(lambda t: (t * t).sum(), [x])
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 8.0, 9.0])


def test_gradcheck_takes_a_non_leaf_input():
    x = _x()
    h = x * 1
    assert gradcheck(lambda t: t.exp(), [h])
    with pytest.raises(AssertionError, match="analytic"):
        gradcheck(lambda t: _Wrong.apply(t), [x * 1])


class _Wrong(sg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 3


def test_gradcheck_takes_a_lone_tensor():
    x = _x()
    assert gradcheck(lambda t: (t * t).sum(), x)
    with pytest.raises(AssertionError, match="analytic"):
        gradcheck(lambda t: _Wrong.apply(t), x)


# F11


def test_grad_with_empty_inputs_is_an_error():
    x = _x()
    with pytest.raises(RuntimeError, match="grad requires non-empty inputs"):
        sg.autograd.grad((x * 1).sum(), [])


def test_tensor_backward_takes_create_graph_false_and_inputs():
    x = sg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    w = sg.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
    (x * w).sum().backward(create_graph=False, inputs=[x])
    assert x.grad.tolist() == [3.0, 4.0] and w.grad is None
    with pytest.raises(NotImplementedError, match=r"create_graph=True is not supported"):
        (x * w).sum().backward(create_graph=True)
