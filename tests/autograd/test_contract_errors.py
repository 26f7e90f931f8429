"""The Function contract's edges: forward returning an input, bad backward / hook results."""

import numpy as np
import pytest

import sparsegraph as sg


class Identity(sg.Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g


def test_forward_returning_its_input_leaves_the_leaf_alone():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and x.grad_fn is None
    assert y.grad_fn.name() == "IdentityBackward"
    (y * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_backward_returning_a_python_float_names_the_function():
    class Bad(sg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return 1.0

    x = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="BadBackward: backward returned a float for input 0"):
        Bad.apply(x).sum().backward()


@pytest.mark.parametrize("result, match", [
    (lambda g: sg.ones(3), r"expected it to return None or a gradient of shape \(2,\) and dtype "
                           r"float32 \(got Tensor of shape \(3,\)"),
    (lambda g: g.to("float64"), r"dtype float32 \(got Tensor of shape \(2,\) and dtype float64"),
], ids=["shape", "dtype"])
@pytest.mark.parametrize("leaf", [True, False], ids=["leaf", "non-leaf"])
def test_hook_returning_a_wrong_gradient_is_an_error(result, match, leaf):
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    t = x if leaf else x * 1
    t.register_hook(result)
    with pytest.raises(RuntimeError, match=match):
        (t * 2).sum().backward()
