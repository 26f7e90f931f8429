"""Fixes from the audit of set_default_dtype / Device / compile containers / torch names."""

import collections

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.static import compile as sg_compile


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


def test_split_function_refuses_keyword_only_arguments_it_cannot_pass():
    class Affine(sg.autograd.Function):
        @staticmethod
        def forward(x, k, *, shift=0.0):
            return x * k + shift

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = sg.tensor([1.0, 2.0], requires_grad=True)
    assert Affine.apply(x, 3.0).tolist() == [3.0, 6.0]  # the default is forward's own
    with pytest.raises(TypeError, match=r"Affine.apply: .* keyword-only arguments \['shift'\]"):
        Affine.apply(x, 3.0, shift=1.0)  # was silently dropped: [3, 6] instead of [4, 7]


def test_numpy_ints_and_cuda_index_are_devices_as_torch(emulated_cuda):
    x = sg.tensor([0.7, 1.9])
    assert x.to(np.int64(0)).device == "cuda:0"  # was a silent cast to int64
    assert x.to(np.int64(0)).tolist() == pytest.approx([0.7, 1.9])
    assert x.cuda(0).device == "cuda:0" and x.cuda().device == "cuda:0"
    m = sg.nn.Linear(2, 1).cuda(0)
    assert m.weight.device == "cuda:0"


def test_from_numpy_of_a_read_only_array_warns_and_stays_trainable():
    b = np.ones(3, np.float32)
    b.flags.writeable = False
    with pytest.warns(UserWarning, match="from_numpy: the given NumPy array is not writable"):
        w = sg.from_numpy(b)
    w.requires_grad_()
    opt = sg.optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()  # numpy's "output array is read-only" before, after the state had moved
    assert w.tolist() == [0.0, 0.0, 0.0] and b.tolist() == [1.0, 1.0, 1.0]


def test_a_numpy_uint8_index_is_a_mask_as_a_uint8_tensor_is():
    x = sg.tensor([1.0, 2.0, 3.0])
    with pytest.warns(UserWarning, match="uint8 Tensor or array is a mask"):
        assert x[np.array([1, 0, 1], dtype=np.uint8)].tolist() == [1.0, 3.0]  # was [2, 1, 2]


def test_ravel_and_the_method_softmax_warning_points_at_the_caller():
    x = sg.ones(2, 3, requires_grad=True)
    y = x.t().ravel()
    assert y.shape == (6,) and sg.ravel(sg.tensor(5.0)).shape == (1,)
    y.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax") as rec:
        sg.ones(2, 3, 4).softmax()
    assert rec[0].filename == __file__


def test_planetoid_takes_pygs_argument_order(data_root):
    from sparsegraph.datasets import Planetoid

    g = Planetoid(str(data_root), "Cora")[0]  # PyG's examples' call, Planetoid(path, name)
    assert (g.num_nodes, g.num_edges) == (2708, 10556)
    with pytest.raises(ValueError, match=r"Planetoid: unknown name 'Corax'"):
        Planetoid("/data", "Corax")
