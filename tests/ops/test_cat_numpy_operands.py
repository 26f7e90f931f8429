"""cat / stack take numpy arrays beside Tensors, as the binary ops take numpy operands (PyG's
link_pred.py: cat([train_data.edge_label_index, negative_sampling(edge_index, ...)])."""

import numpy as np
import pytest

import sparsegraph as sg


def test_cat_and_stack_with_numpy_arrays_beside_tensors():
    t = sg.tensor([[0, 1], [1, 2]])
    a = np.array([[3], [4]], np.int32)
    got = sg.cat([t, a], dim=-1)
    assert isinstance(got, sg.Tensor) and got.dtype == np.int64  # promoted as torch.cat
    np.testing.assert_array_equal(got.numpy(), np.concatenate([t.numpy(), a], axis=-1))
    s = sg.stack([sg.zeros(2), np.ones(2, np.float32)])
    np.testing.assert_array_equal(s.numpy(), [[0, 0], [1, 1]])


def test_the_tensor_keeps_its_gradient_and_arrays_alone_are_refused():
    x = sg.randn(2, 3, dtype=sg.float64, requires_grad=True)
    sg.cat([x, np.ones((1, 3))]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"cat: expected `tensors\[0\]` to be a Tensor"):
        sg.cat([np.ones(2), np.ones(2)])
