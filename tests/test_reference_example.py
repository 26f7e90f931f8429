"""The reference texts' PyTorch autograd example, with `sg` in place of `torch` and nothing else
changed but the import; gradients are checked against an independent numpy computation."""

import numpy as np
import pytest

import sparsegraph as sg


def test_linear_regression_example_matches_numpy(capsys):
    torch = sg  # the only change to the example
    w = torch.tensor([[3.0, 1.0]], requires_grad=True)
    b = torch.tensor([[3.0]], requires_grad=True)
    X = torch.randn(10, 2)
    Y = torch.randn(10, 1)
    Y_hat = X @ w.t() + b
    loss = torch.mean(torch.pow(Y_hat - Y, 2))
    loss.backward(retain_graph=True)
    print(w.grad)
    print(b.grad)
    print(Y_hat.grad_fn)

    x, y, wn, bn = X.numpy(), Y.numpy(), np.array([[3.0, 1.0]]), 3.0
    residual = x @ wn.T + bn - y
    np.testing.assert_allclose(w.grad.numpy(), 2 * residual.T @ x / 10, rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), [[2 * residual.mean()]], rtol=1e-5)
    out = capsys.readouterr().out
    assert "tensor(" in out and "<AddBackward" in out

    loss.backward()  # retained once: gradients accumulate
    np.testing.assert_allclose(w.grad.numpy(), 4 * residual.T @ x / 10, rtol=1e-5)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_custom_relu_function_example():
    torch = sg

    class MyReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    x = torch.randn(5, 3, requires_grad=True)
    relu = MyReLU.apply
    y = relu(x)
    assert repr(y.grad_fn).startswith("<MyReLUBackward")
    (y * y).sum().backward()
    xn = x.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), np.maximum(xn, 0))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.maximum(xn, 0))
    assert sg.Function is sg.autograd.Function
