"""Fixes from the audit of set_default_dtype / Device / compile containers / torch names."""

import collections

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.static import compile as sg_compile


@pytest.fixture
def float64_default():
    sg.set_default_dtype(sg.float64)
    try:
        yield
    finally:
        sg.set_default_dtype(sg.float32)


def test_graph_follows_the_default_float(float64_default):
    ei = np.array([[0, 1, 1, 2], [1, 0, 2, 1]])
    g = sg.Graph(x=np.random.default_rng(0).random((3, 2)), edge_index=ei)
    assert g.x.dtype == np.float64 and g.adj.dtype == np.float64
    out = g.adj @ g.x  # a hand-written propagation: float32 unit weights refused it
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), g.adj.to_dense().numpy() @ g.x.numpy())


def test_graph_keeps_float32_by_default():
    ei = np.array([[0, 1], [1, 0]])
    g = sg.Graph(x=np.ones((2, 2)), edge_index=ei)
    assert g.x.dtype == np.float32 and g.adj.dtype == np.float32


def test_emulated_cuda_tensors_carry_device_objects(emulated_cuda):
    x = sg.ones(2, device="cuda")
    assert x.device.type == "cuda" and x.device.index == 0 and x.device == "cuda:0"
    assert x.is_cuda and x.get_device() == 0
    assert sg.ones(2).device.type == "cpu"


def test_compile_takes_dict_subclasses_with_other_constructors():
    f = sg_compile(lambda d: d["w"].sum() + d["missing"])
    d = collections.defaultdict(float, w=sg.ones(3))
    assert float(f(d)) == 3.0
    d2 = collections.defaultdict(float, w=sg.full((3,), 2.0))
    assert float(f(d2)) == 6.0 and f.traces == 1


def test_scatter_takes_a_bool_value_as_torch():
    m = sg.zeros(4, dtype=sg.bool)
    m.scatter_(0, sg.tensor([1, 3]), True)
    assert m.tolist() == [False, True, False, True]
    x = sg.zeros(3)
    x.scatter_(0, sg.tensor([2]), True)
    assert x.tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("call, name", [
    (lambda x: x.relu_(), "relu_"), (lambda x: x.sigmoid_(), "sigmoid_"),
    (lambda x: x.tanh_(), "tanh_"), (lambda x: x.lerp_(sg.zeros(3), 0.5), "lerp_"),
    (lambda x: x.scatter_(0, sg.tensor([0]), 1.0), "scatter_"),
    (lambda x: x.scatter_add_(0, sg.tensor([0]), sg.ones(1)), "scatter_add_")])
def test_in_place_methods_on_a_leaf_name_the_method(call, name):
    x = sg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"^{name}: a leaf tensor that requires grad"):
        call(x)


def test_to_an_int_is_a_cuda_device_as_torch(emulated_cuda):
    y = sg.ones(2).to(0)
    assert y.device == "cuda:0"
    assert sg.ones(2).to(0, sg.float64).dtype == np.float64
