"""Module.register_parameter / register_buffer / add_module name rules (PyTorch's), and
`to(..., non_blocking=...)` on modules and tensors."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn


def _names(pairs):
    return [name for name, _ in pairs]


# (register call, the member it would clash with): every pair of different kinds
CLASHES = [
    ("register_buffer", "weight", lambda: sg.zeros(2, 2)),        # buffer over a parameter
    ("add_module", "bias", lambda: nn.ReLU()),                    # module over a parameter
    ("register_parameter", "running_mean", lambda: nn.Parameter(sg.zeros(2))),  # over a buffer
    ("add_module", "running_var", lambda: nn.ReLU()),             # module over a buffer
    ("register_parameter", "inner", lambda: nn.Parameter(sg.zeros(2))),  # over a module
    ("register_buffer", "inner", lambda: sg.zeros(2)),            # buffer over a module
]


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(sg.ones(2, 2))
        self.bias = nn.Parameter(sg.zeros(2))
        self.register_buffer("running_mean", sg.zeros(2))
        self.register_buffer("running_var", sg.ones(2))
        self.inner = nn.Linear(2, 2)


@pytest.mark.parametrize("method, name, make", CLASHES,
                         ids=[f"{m}-{n}" for m, n, _ in CLASHES])
def test_registering_over_a_member_of_another_kind_raises_and_changes_nothing(method, name,
                                                                             make):
    m = Holder()
    before = (_names(m.named_parameters()), _names(m.named_buffers()),
              _names(m.named_children()))
    with pytest.raises(KeyError, match=f"{method}: attribute '{name}' already exists"):
        getattr(m, method)(name, make())
    after = (_names(m.named_parameters()), _names(m.named_buffers()),
             _names(m.named_children()))
    assert after == before


def test_the_report_cases_keep_every_parameter_and_buffer():
    lin = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        lin.register_buffer("weight", sg.zeros(2, 2))
    assert _names(lin.named_parameters()) == ["weight", "bias"]
    bn = nn.BatchNorm1d(3)
    with pytest.raises(KeyError, match="attribute 'running_mean' already exists"):
        bn.register_parameter("running_mean", nn.Parameter(sg.zeros(3)))
    assert "running_mean" in _names(bn.named_buffers())


def test_same_kind_replacement_and_none_stay_allowed():
    m = Holder()
    new_weight, new_mean, new_inner = nn.Parameter(sg.zeros(2, 2)), sg.ones(2), nn.ReLU()
    m.register_parameter("weight", new_weight)
    m.register_buffer("running_mean", new_mean, persistent=False)
    m.add_module("inner", new_inner)
    assert m.weight is new_weight and m.running_mean is new_mean and m.inner is new_inner
    assert "running_mean" not in m.state_dict()
    m.register_parameter("bias", None)        # an absent optional parameter, as torch
    assert _names(m.named_parameters()) == ["weight"]
    # plain assignment may still change a member's kind (torch allows it too)
    m.running_var = nn.Parameter(sg.ones(2))
    assert "running_var" in _names(m.named_parameters())
    assert "running_var" not in _names(m.named_buffers())


@pytest.mark.parametrize("method, value", [
    ("register_buffer", lambda: sg.zeros(2)),
    ("register_parameter", lambda: nn.Parameter(sg.zeros(2))),
    ("add_module", lambda: nn.ReLU()),
], ids=["buffer", "parameter", "module"])
def test_registering_before_init_names_the_remedy(method, value):
    class Early(nn.Module):
        def __init__(self):
            getattr(self, method)("early", value())
            super().__init__()

    with pytest.raises(AttributeError, match=fr"{method}: cannot register 'early' before "
                                             r"Module.__init__\(\); call super\(\).__init__\(\)"):
        Early()


def test_module_to_accepts_non_blocking_and_checks_its_type():
    m = nn.Linear(3, 2)
    weight = m.weight
    assert m.to("float64", non_blocking=True) is m
    assert m.weight is weight and m.weight.dtype == np.float64
    m.to("cpu", non_blocking=False)
    with pytest.raises(TypeError, match="non_blocking .*got str 'yes'"):
        m.to("cpu", non_blocking="yes")


def test_tensor_to_accepts_non_blocking_and_checks_its_type():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("float64", non_blocking=True)
    assert y.dtype == np.float64 and np.array_equal(y.detach().numpy(), [1.0, 2.0])
    y.sum().backward()  # still differentiable
    assert np.array_equal(x.grad.numpy(), [1.0, 1.0])
    assert x.to("cpu", non_blocking=True) is x  # nothing to do: the tensor itself, as torch
    with pytest.raises(TypeError, match="non_blocking .*got int 1"):
        x.to("cpu", non_blocking=1)


def test_functional_to_takes_the_same_keywords():
    x = sg.tensor([1.0, 2.0])
    assert sg.ops.to(x, "float64", non_blocking=True).dtype == np.float64
    assert sg.ops.to(x, "cpu", copy=False) is x
    with pytest.raises(TypeError, match="copy=True is not supported"):
        sg.ops.to(x, "cpu", copy=True)
    with pytest.raises(TypeError, match="bool for copy .*got str"):
        sg.ops.to(x, "cpu", copy="no")
