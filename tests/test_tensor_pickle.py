"""pickle of tensors: leaves keep everything, computed tensors save as leaves (PyTorch)."""

import pickle

import numpy as np
import pytest

import sparsegraph as sg


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_a_computed_tensor_pickles_as_a_leaf_with_its_values(requires_grad):
    x = sg.randn(4, 3, requires_grad=requires_grad)
    y = (x * 2).relu().sum(0)
    z = roundtrip(y)
    np.testing.assert_array_equal(z.numpy() if not requires_grad else z.detach().numpy(),
                                  y.detach().numpy())
    assert z.requires_grad is requires_grad and z.grad_fn is None and z.is_leaf
    if requires_grad:  # a new leaf: backward through it fills its own .grad
        (z * 3).sum().backward()
        np.testing.assert_array_equal(z.grad.numpy(), np.full(3, 3, np.float32))
    assert y.grad_fn is not None or not requires_grad  # the original keeps its graph


def test_a_computed_view_pickles_as_an_independent_tensor():
    x = sg.randn(4, 3, requires_grad=True)
    v = (x * 1)[1:3]
    z = roundtrip(v)
    np.testing.assert_array_equal(z.detach().numpy(), v.detach().numpy())
    assert z.grad_fn is None and z._view is None


def test_leaves_keep_grad_class_and_tied_tensors_stay_one():
    w = sg.nn.Parameter(sg.randn(3, 2))
    (w * w).sum().backward()
    y = (w * 2).sum()
    w2, w3, y2 = roundtrip((w, w, y))
    assert type(w2) is sg.nn.Parameter and w2.requires_grad and w2 is w3
    np.testing.assert_array_equal(w2.grad.numpy(), w.grad.numpy())
    assert y2.grad_fn is None and float(y2) == pytest.approx(float(y))


def test_a_module_holding_a_computed_tensor_pickles():
    model = sg.nn.Linear(3, 2)
    x = sg.randn(4, 3)
    model.last_output = model(x)  # a cached activation, as users keep one
    loaded = roundtrip(model)
    np.testing.assert_allclose(loaded(x).detach().numpy(), model(x).detach().numpy())
    assert loaded.last_output.grad_fn is None and loaded.last_output.requires_grad
