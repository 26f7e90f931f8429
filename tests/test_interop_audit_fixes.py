"""numpy interop as PyTorch has it: np.array / np.copy copy, np.asarray refuses a tensor that
requires grad, numpy subclasses become plain arrays, `in` / `== None`, empty reprs."""

import numpy as np
import pytest
import scipy.sparse

import sparsegraph as sg


def test_np_array_and_np_copy_copy_while_asarray_shares():
    t = sg.tensor([1.0, 2.0, 3.0])
    a, c = np.array(t), np.copy(t)
    a[0] = c[1] = 9.0
    assert t.tolist() == [1.0, 2.0, 3.0]  # both aliased the tensor before
    np.asarray(t)[2] = 7.0
    assert t.tolist() == [1.0, 2.0, 7.0]
    with pytest.raises(ValueError, match="without a copy"):
        np.array(t, dtype=np.float64, copy=False)


def test_numpy_refuses_a_tensor_that_requires_grad_and_the_gradient_stays_right():
    w = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()
    with pytest.raises(RuntimeError, match="requires grad"):
        np.array(w)
    y.backward()
    assert w.grad.tolist() == [2.0, 4.0, 6.0]
    assert np.asarray(w.detach()).tolist() == [1.0, 2.0, 3.0]
    assert "requires_grad=True" in repr(w)  # repr reads the values without numpy's protocol


def test_numpy_subclasses_become_plain_arrays():
    m = scipy.sparse.csr_matrix(np.array([[1.0, 2.0], [3.0, 4.0]])).todense()  # an np.matrix
    t = sg.tensor(m)
    assert (t * t).tolist() == [[1.0, 4.0], [9.0, 16.0]]  # elementwise, not a matrix product
    assert t[0].shape == (2,) and t.sum(1).tolist() == [3.0, 7.0]
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    assert float(sg.tensor(masked).sum()) == 6.0  # torch takes the data


def test_contains_and_comparison_with_non_operands():
    t = sg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert 2.0 in t and 5.0 not in t
    assert (t == None) is False and (t != None) is True  # noqa: E711
    assert t not in (None, "auto")


def test_empty_reprs_name_shape_and_dtype_as_torch():
    assert repr(sg.zeros(0, 3)) == "tensor([], size=(0, 3))"
    assert repr(sg.tensor([], dtype=sg.int64)) == "tensor([], dtype=int64)"
    assert repr(sg.zeros(0, dtype=sg.bool)) == "tensor([], dtype=bool)"
    assert repr(sg.zeros(0)) == "tensor([])"
    assert repr(sg.tensor([1, 2])) == "tensor([1, 2])"


def test_contains_refuses_what_it_cannot_look_for():
    t = sg.tensor([1.0, 2.0])
    for bad in (None, "a", [1.0]):
        with pytest.raises(TypeError, match="in: expected a Tensor or a number"):
            bad in t  # noqa: B015


def test_a_device_cuda_object_moves_tensors(emulated_cuda):
    d = sg.device("cuda")
    assert sg.zeros(2).to(d).device == "cuda:0"
    assert sg.tensor([1.0], device=d).device == "cuda:0"
