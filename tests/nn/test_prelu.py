"""torch's PReLU / F.prelu (PyG's DeepGraphInfomax example's encoder): a learned slope for the
negative part, one or one per channel (dim 1), differentiable w.r.t. input and slope."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import nn
from sparsegraph.testing import gradcheck

X = np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 0.0]])


def test_values_with_one_slope_and_one_per_channel():
    w = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(F.prelu(sg.tensor(X), sg.tensor([0.1])).numpy(),
                               np.where(X >= 0, X, 0.1 * X))
    np.testing.assert_allclose(F.prelu(sg.tensor(X), sg.tensor(w)).numpy(),
                               np.where(X >= 0, X, w * X))
    x3 = np.random.default_rng(0).standard_normal((2, 3, 4))  # channels on dim 1
    np.testing.assert_allclose(F.prelu(sg.tensor(x3), sg.tensor(w)).numpy(),
                               np.where(x3 >= 0, x3, w[None, :, None] * x3))


def test_module_starts_at_init_and_learns_the_slope():
    m = nn.PReLU(3, init=0.25)
    assert list(m.state_dict()) == ["weight"] and repr(m) == "PReLU(num_parameters=3)"
    np.testing.assert_array_equal(m.weight.detach().numpy(), [0.25] * 3)
    assert gradcheck(lambda x, w: F.prelu(x, w),
                     [sg.tensor(X + 0.1, requires_grad=True),
                      sg.tensor([0.1, 0.2, 0.3], dtype="float64", requires_grad=True)])


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"prelu: expected `weight` of shape \(1,\) or \(3,\)"):
        F.prelu(sg.tensor(X), sg.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"PReLU: expected num_parameters >= 1 \(got 0\)"):
        nn.PReLU(0)
