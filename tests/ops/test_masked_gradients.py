"""ReLU's and clamp's backward select the gradient (torch's where / threshold_backward) rather
than multiplying it by a mask: an inf gradient where the input was cut off (``relu(x).sqrt()``,
``x.clamp(min=0).sqrt()`` at x < 0) gives 0 there, not inf * 0 = NaN, so one such entry does
not poison a whole training step (PyG's PowerMeanAggregation clamps before a root)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn, ops
from sparsegraph.ops import fused

X = np.array([[-1.0, 2.0], [0.0, 0.5], [-3.0, 4.0]])
ROOT = 0.5 / np.sqrt(np.where(X > 0, X, 1.0))  # d/dx sqrt(x) where x > 0


@pytest.mark.parametrize("cut, at_zero", [
    (lambda x: ops.relu(x), 0.0),  # torch's threshold_backward: x > 0 only
    (lambda x: x.relu(), 0.0),
    (lambda x: x.clamp(min=0), np.inf),  # torch's clamp: the bound itself passes (sqrt'(0))
    (lambda x: ops.clamp(x, 0, 100), np.inf),
])
def test_a_cut_off_entry_gets_zero_not_nan(cut, at_zero):
    x = sg.tensor(X, requires_grad=True)
    cut(x).sqrt().sum().backward()
    want = np.where(X > 0, ROOT, np.where(X == 0, at_zero, 0.0))
    np.testing.assert_allclose(x.grad.numpy(), want)


def test_a_clamp_bound_tensor_gets_the_gradient_only_where_it_is_the_result():
    x = sg.tensor(X)
    lo = sg.tensor(np.zeros(2), requires_grad=True)
    x.clamp(min=lo).sqrt().sum().backward()  # lo is the result at x < 0 (column 0 only)
    np.testing.assert_array_equal(lo.grad.numpy(), [np.inf, 0.0])


def test_fused_spmm_relu_selects_the_gradient():
    a = sg.from_edge_index(np.array([[0, 1, 2], [1, 2, 0]]), 3)
    x = sg.tensor(X.astype(np.float32), requires_grad=True)
    out = fused.spmm_bias_act(a, x, None, relu=True)
    out.sqrt().sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_powermean_aggregation_gradient_is_finite():
    x = sg.tensor([[-1.0, 2.0], [-3.0, 0.5]], requires_grad=True)
    gnn.PowerMeanAggregation(p=2.0)(x, sg.tensor([0, 0])).sum().backward()
    grad = x.grad.numpy()
    assert np.isfinite(grad).all() and (grad[:, 0] == 0).all()
