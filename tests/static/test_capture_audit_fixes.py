"""Audit fixes in static capture and guards: a parameter's dtype / shape changed after
compiling, a tensor with autograd history made outside the step, ``x.grad = None`` on an
input."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import static
from sparsegraph.static import CaptureError


def test_parameter_dtype_change_traces_again_and_eager_refusal_happens():
    lin = sg.nn.Linear(4, 3)
    g = static.compile(lambda x: lin(x).sum())
    x32 = sg.ones((2, 4))
    with sg.no_grad():
        g(x32)
        g(x32)
        lin.double()  # the same Parameter objects, float64 arrays
        with pytest.raises(TypeError, match="matmul: expected operands of the same dtype"):
            g(x32)
        out = g(x32.double())
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), lin(x32.double()).detach().numpy().sum())


def test_parameter_shape_change_traces_again():
    w = sg.nn.Parameter(sg.ones(3))
    g = static.compile(lambda x: (x * w).sum(dim=0))
    x = sg.ones((2, 3))
    with sg.no_grad():
        g(x)
        g(x)
        assert g.traces == 1
        w.data = sg.tensor([[1.0], [3.0]])  # another shape: broadcasts over the rows
        out = g(x)
    assert g.traces == 2
    np.testing.assert_allclose(out.numpy(), [4.0, 4.0, 4.0])


def _outside_history_step():
    emb = sg.nn.Parameter(sg.ones(3))
    lin = sg.nn.Linear(3, 1)
    opt = sg.optim.SGD([emb, *lin.parameters()], lr=0.1)

    def step(x):
        (lin(x) ** 2).sum().backward()
        opt.step()

    return emb, lin, static.compile(step)


def test_argument_with_autograd_history_is_refused_under_grad():
    emb, _, f = _outside_history_step()
    with pytest.raises(CaptureError, match=r"argument 0 \(made by MulBackward.*cannot flow "
                                           r"out of a compiled step.*\.detach\(\)ed"):
        f(emb * 2)


def test_closure_tensor_with_autograd_history_is_refused_under_grad():
    emb = sg.nn.Parameter(sg.ones(3))
    h = emb * 2  # made outside, read through the closure

    def step(x):
        (x * h).sum().backward()

    f = static.compile(step)
    with pytest.raises(CaptureError, match="closure or global name.*cannot flow out"):
        f(sg.ones(3, requires_grad=True))


def test_tensor_with_autograd_history_accepted_when_detached_or_under_no_grad():
    emb, lin, f = _outside_history_step()
    f((emb * 2).detach())  # no gradient should reach emb: accepted
    assert emb.grad is None and lin.weight.grad is not None
    g = static.compile(lambda x: lin(x).sum())
    h = emb * 2  # an inference step: no gradient is lost
    with sg.no_grad():
        out1, out2 = g(h), g(h)
    np.testing.assert_allclose(out1.numpy(), out2.numpy())
    np.testing.assert_allclose(out1.numpy(), lin(h).detach().numpy().sum(), rtol=1e-6)


def test_input_grad_none_clears_the_current_input():
    def step(x):
        x.grad = None  # this call's input gradient
        (x * x).sum().backward()
        return x.grad

    c = static.compile(step)
    for k in range(3):
        b = sg.tensor(np.full(3, k + 1.0, np.float32), requires_grad=True)
        b.grad = sg.tensor(np.full(3, 100.0, np.float32))
        np.testing.assert_allclose(c(b).numpy(), np.full(3, 2.0 * (k + 1)))
        np.testing.assert_allclose(b.grad.numpy(), np.full(3, 2.0 * (k + 1)))
    assert c.traces == 1


def test_backward_from_an_argument_with_autograd_history_is_refused():
    w = sg.nn.Parameter(sg.ones(3))
    f = static.compile(lambda loss: loss.backward())
    with pytest.raises(CaptureError, match=r"backward reads argument 0 .*cannot flow out"):
        f((w * 2).sum())
