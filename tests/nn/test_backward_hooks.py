"""Module.register_full_backward_hook / register_full_backward_pre_hook, as PyTorch's."""

import numpy as np
import pytest

import sparsegraph as sg


def linear(seed=0):
    sg.manual_seed(seed)
    return sg.nn.Linear(3, 2).double()


def data(rows=4, requires_grad=True, seed=1):
    x = np.random.default_rng(seed).standard_normal((rows, 3))
    return sg.tensor(x, requires_grad=requires_grad)


def test_the_hook_sees_the_input_and_output_gradients():
    lin, x = linear(), data()
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((m, gi, go)))
    out = lin(x)
    g = np.arange(8.0).reshape(4, 2)
    out.backward(sg.tensor(g))
    ((m, grad_input, grad_output),) = seen
    assert m is lin and len(grad_input) == 1 and len(grad_output) == 1
    np.testing.assert_allclose(grad_output[0].numpy(), g)
    np.testing.assert_allclose(grad_input[0].numpy(), g @ lin.weight.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), grad_input[0].numpy())


def test_a_returned_grad_input_replaces_the_inputs_gradient_only():
    lin, x = linear(), data()
    ref_lin, ref_x = linear(), data()
    ref_lin(ref_x).sum().backward()
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
    lin(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * ref_x.grad.numpy())
    np.testing.assert_allclose(lin.weight.grad.numpy(), ref_lin.weight.grad.numpy())


def test_the_pre_hook_runs_first_and_its_grad_output_reaches_the_module():
    lin, x = linear(), data()
    order = []

    def pre(m, grad_output):
        order.append("pre")
        return (grad_output[0] * 0,)

    lin.register_full_backward_pre_hook(pre)
    lin.register_full_backward_hook(lambda m, gi, go: order.append(("hook", float(
        go[0].abs().sum()))))
    lin(x).sum().backward()
    assert order == ["pre", ("hook", 0.0)]  # the hook sees the replaced grad_output
    assert not x.grad.numpy().any() and not lin.weight.grad.numpy().any()


def test_non_tensor_arguments_and_unused_outputs_are_none():
    class Split(sg.nn.Module):
        def forward(self, x, scale, y):
            return x * scale, y * 2

    m, x, y = Split(), data(), data(requires_grad=False, seed=2)
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    a, b = m(x, 5.0, y)
    a.sum().backward()  # b unused
    ((grad_input, grad_output),) = seen
    assert len(grad_input) == 3 and grad_input[1] is None and grad_input[2] is None
    np.testing.assert_allclose(grad_input[0].numpy(), np.full((4, 3), 5.0))
    assert len(grad_output) == 2 and grad_output[1] is None
    np.testing.assert_allclose(grad_output[0].numpy(), np.ones((4, 3)))


def test_without_an_input_requiring_grad_the_hook_runs_with_nones_and_may_not_replace():
    lin, x = linear(), data(requires_grad=False)
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append(gi))
    lin(x).sum().backward()
    assert seen == [(None,)] and lin.weight.grad is not None
    lin2 = linear()
    lin2.register_full_backward_hook(lambda m, gi, go: (sg.ones(4, 3),))
    with pytest.raises(RuntimeError, match="no input of Linear requires a gradient"):
        lin2(x).sum().backward()


def test_a_wrong_number_of_gradients_is_named():
    lin, x = linear(), data()
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match=r"backward hook '<lambda>' returned 2 values; "
                                           r"expected None or a tuple of 1"):
        lin(x).sum().backward()


def test_removed_hooks_and_no_grad_calls_do_not_run_and_gradients_stay_exact():
    lin, x = linear(), data()
    calls = []
    handle = lin.register_full_backward_hook(lambda m, gi, go: calls.append(1))
    with sg.no_grad():
        lin(x)
    handle.remove()
    lin(x).sum().backward()
    assert calls == []
    with lin.register_full_backward_hook(lambda m, gi, go: None):  # the handle as a context
        assert sg.autograd.gradcheck(lambda inp: lin(inp), (data(),))
    assert not lin._backward_hooks


def test_hooks_on_a_child_of_a_sequential():
    net = sg.nn.Sequential(linear(), sg.nn.ReLU(), sg.nn.Linear(2, 1).double())
    grads = []
    net[2].register_full_backward_hook(lambda m, gi, go: grads.append(gi[0]))
    x = data()
    net(x).sum().backward()
    hidden = net[1](net[0](x)).detach().numpy()
    assert grads[0].shape == hidden.shape
    np.testing.assert_allclose(grads[0].numpy(),
                               np.ones((4, 1)) @ net[2].weight.detach().numpy())


def test_static_compile_refuses_a_backward_hook():
    lin = linear()
    lin.register_full_backward_hook(lambda m, gi, go: None)
    step = sg.static.compile(lambda x: lin(x).sum())
    with pytest.raises(sg.static.CaptureError, match="a backward hook on Linear"):
        step(data())


def test_a_sparse_argument_with_learned_values_gets_a_sparse_gradient():
    from sparsegraph.gnn import GCNConv

    sg.manual_seed(0)
    conv = GCNConv(2, 2).double()
    edge_index = np.array([[0, 1, 2], [1, 2, 0]])
    w = sg.nn.Parameter(sg.ones(3, dtype=sg.float64))
    adj = sg.from_edge_index(edge_index, 3, values=w)
    x = data(rows=3)[:, :2].detach().requires_grad_(True)
    seen = []
    conv.register_full_backward_hook(lambda m, gi, go: seen.append(gi))
    conv(x, adj).sum().backward()
    (grad_input,) = seen
    assert isinstance(grad_input[1], sg.SparseTensor)
    np.testing.assert_array_equal(grad_input[1].indices(), adj.indices())
    want = np.zeros((3, 3))
    want[edge_index[1], edge_index[0]] = w.grad.numpy()  # adj is target-major
    np.testing.assert_allclose(grad_input[1].to_dense().numpy(), want)
    # a replacement for the sparse argument's gradient reaches its values
    first = w.grad.numpy().copy()
    w.grad = None
    conv.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[1] * 2))
    conv(x, sg.from_edge_index(edge_index, 3, values=w)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * first)
