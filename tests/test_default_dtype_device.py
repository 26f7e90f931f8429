"""sg.set_default_dtype (torch.set_default_dtype) and Tensor.device as a torch.device-like
`Device` string (.type / .index, equal to the plain names)."""

import pickle

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn


def test_float64_default_reaches_every_default_float(float64_default):
    assert sg.get_default_dtype() == np.float64
    made = {
        "python float": sg.tensor(2.5), "float list": sg.tensor([1.0, 2]),
        "nested list": sg.tensor([[1, 2.0], [3, 4]]), "zeros": sg.zeros(2), "ones": sg.ones(2),
        "empty": sg.empty(2), "full": sg.full((2,), 1.5), "randn": sg.randn(2), "rand": sg.rand(2),
        "linspace": sg.linspace(0, 1, 3), "eye": sg.eye(2), "float arange": sg.arange(0, 1, 0.5),
        "int / int": sg.tensor([1, 2]) / sg.tensor([2, 2]), "int * float": sg.tensor([1, 2]) * 2.5,
        "sqrt of int": sg.sqrt(sg.tensor([4])), "Linear weight": nn.Linear(2, 3).weight,
        "softmax of ints' float": sg.softmax(sg.tensor([1, 2]) / 1, 0),
    }
    assert {k: str(t.dtype) for k, t in made.items()} == {k: "float64" for k in made}
    # what is not a default: explicit dtypes, numpy float32 data, .float(), ints
    assert sg.tensor(np.ones(2, np.float32)).dtype == np.float32
    assert sg.tensor([1, 2]).float().dtype == np.float32
    assert sg.zeros(2, dtype=sg.float32).dtype == np.float32
    assert sg.tensor([1, 2]).dtype == np.int64
    # a float32 tensor times a Python float stays float32 (weak scalar), as in PyTorch
    assert (sg.ones(2, dtype=sg.float32) * 2.5).dtype == np.float32


def test_default_back_to_float32_undoes_everything():
    sg.set_default_dtype("float64")
    assert (sg.tensor([3]) / 2).dtype == np.float64  # fills the cast cache for int / scalar
    sg.set_default_dtype("float32")
    assert (sg.tensor([3]) / 2).dtype == np.float32
    assert sg.tensor([0.5]).dtype == np.float32 and nn.Linear(1, 1).bias.dtype == np.float32


@pytest.mark.parametrize("bad", [sg.int64, sg.float16, "complex64", None, 3])
def test_set_default_dtype_refuses_non_float32_64(bad):
    with pytest.raises(TypeError, match=r"set_default_dtype: expected `d` float32 or float64"):
        sg.set_default_dtype(bad)
    assert sg.get_default_dtype() == np.float32


def test_training_a_model_in_float64_default_passes_gradcheck(float64_default):
    lin = nn.Linear(3, 2)
    x = sg.randn(4, 3, requires_grad=True)
    assert sg.testing.gradcheck(lambda x: lin(x).tanh().sum(), (x,))


def test_compiled_step_traces_again_when_the_default_changes():
    from sparsegraph.static import compile as sg_compile

    step = sg_compile(lambda x: x + sg.zeros(3))
    x = sg.ones(3, dtype=sg.float32)
    assert step(x).dtype == np.float32
    sg.set_default_dtype(sg.float64)
    try:
        # eager: float32 + float64 zeros is float64; a replay of the first trace gave float32
        assert step(x).dtype == np.float64 and step.traces == 2
    finally:
        sg.set_default_dtype(sg.float32)
    assert step(x).dtype == np.float32 and step.traces == 2  # the first variant again


def test_device_answers_as_torch_device_and_as_its_name():
    x = sg.ones(2)
    assert x.device == "cpu" and x.device.type == "cpu" and x.device.index is None
    assert str(x.device) == "cpu" and f"{x.device}" == "cpu" and {"cpu": 1}[x.device] == 1
    assert not x.is_cuda and x.get_device() == -1
    assert sg.device("cpu") == x.device and sg.zeros(1, device=x.device).device == "cpu"
    d = sg.device("cuda", 1)
    assert d == "cuda:1" and d.type == "cuda" and d.index == 1
    assert sg.device("cuda") == "cuda" and sg.device("cuda").index is None  # torch's
    assert sg.device("cuda:0").index == 0 and sg.device("cpu", 0) == "cpu"
    assert sg.device("cuda:2") == sg.device("cuda", 2)
    assert pickle.loads(pickle.dumps(d)) == "cuda:1"
    assert sg.SparseTensor.__name__ and sg.sparse_coo(np.array([[0], [1]]), np.ones(1),
                                                       (2, 2)).device.type == "cpu"


@pytest.mark.parametrize("args", [("gpu",), ("gpu", 0), ("cuda", -1), ("cuda", 1.0),
                                  ("cuda", True), ("cuda:x",)])
def test_device_refuses_what_torch_device_refuses(args):
    with pytest.raises(ValueError, match="device: expected"):
        sg.device(*args)
