"""Modules: registration, state dicts, modes, layers and their gradients."""

import math

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn
from sparsegraph.testing import gradcheck


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5))
        self.head = nn.Linear(8, 3)
        self.norm = nn.BatchNorm1d(8)
        self.scale = nn.Parameter(sg.ones(1))

    def forward(self, x):
        return self.head(self.norm(self.body(x))) * self.scale


def test_registration_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "head.weight", "head.bias",
                     "norm.weight", "norm.bias"]
    assert [n for n, _ in net.named_buffers()] == ["norm.running_mean", "norm.running_var"]
    assert len(list(net.children())) == 3 and len(list(net.modules())) == 7
    assert "(body): Sequential(" in repr(net)
    assert "(0): Linear(in_features=4, out_features=8, bias=True)" in repr(net)


def test_train_eval_and_state_dict_round_trip(tmp_path):
    sg.manual_seed(0)
    net = Net()
    x = sg.randn(16, 4)
    net.train()
    assert all(m.training for m in net.modules())
    net(x)  # updates running stats
    net.eval()
    assert not any(m.training for m in net.modules())
    out = net(x).detach().numpy()
    np.testing.assert_array_equal(out, net(x).detach().numpy())  # dropout off, running stats
    path = tmp_path / "net.npz"
    sg.save(net.state_dict(), path)
    sg.manual_seed(1)
    other = Net().eval()
    assert not np.allclose(other(x).detach().numpy(), out)
    other.load_state_dict(sg.load(path))
    np.testing.assert_allclose(other(x).detach().numpy(), out, rtol=1e-6)


def test_load_state_dict_checks_keys_and_shapes():
    net = Net()
    state = net.state_dict()
    del state["head.bias"]
    state["extra"] = sg.zeros(1)
    with pytest.raises(KeyError, match=r"missing keys \['head.bias'\]; unexpected keys "
                                       r"\['extra'\]"):
        net.load_state_dict(state)
    bad = net.state_dict()
    bad["head.weight"] = sg.zeros(2, 2)
    with pytest.raises(ValueError, match=r"shape mismatch for 'head.weight': expected \(3, 8\)"):
        net.load_state_dict(bad)


def test_linear_init_bounds_determinism_and_gradcheck():
    sg.manual_seed(3)
    a = nn.Linear(100, 50)
    sg.manual_seed(3)
    b = nn.Linear(100, 50)
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())
    bound = 1 / math.sqrt(100)
    assert np.abs(a.weight.detach().numpy()).max() <= bound
    assert np.abs(a.bias.detach().numpy()).max() <= bound
    lin = nn.Linear(4, 3).double()
    x = sg.randn(5, 4, dtype="float64", requires_grad=True)
    gradcheck(lambda t, *p: lin(t), [x, *lin.parameters()])


def test_layer_norm_and_batch_norm_match_formulas_and_gradcheck():
    x = sg.randn(6, 5, dtype="float64", requires_grad=True)
    ln = nn.LayerNorm(5).double()
    xn = x.detach().numpy()
    ref = (xn - xn.mean(1, keepdims=True)) / np.sqrt(xn.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln(x).detach().numpy(), ref, rtol=1e-6)
    gradcheck(lambda t, *p: ln(t), [x, *ln.parameters()])
    bn = nn.BatchNorm1d(5).double()
    ref = (xn - xn.mean(0)) / np.sqrt(xn.var(0) + 1e-5)
    np.testing.assert_allclose(bn(x).detach().numpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * xn.mean(0), rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * xn.var(0, ddof=1), rtol=1e-6)
    gradcheck(lambda t, *p: bn(t), [x, *bn.parameters()])
    bn.eval()
    gradcheck(lambda t, *p: bn(t), [x, *bn.parameters()])


def test_functional_alias_and_one_hot():
    import sparsegraph.nn.functional as F

    assert F.relu is sg.ops.relu and F.cross_entropy is sg.ops.cross_entropy
    np.testing.assert_array_equal(F.one_hot(sg.tensor([0, 2]), 3).numpy(),
                                  [[1, 0, 0], [0, 0, 1]])


def test_to_keeps_parameter_identity_and_casts():
    net = Net()
    w = net.head.weight
    net.to("float64")
    assert net.head.weight is w and w.dtype == np.float64
    assert net.norm.running_mean.dtype == np.float64
