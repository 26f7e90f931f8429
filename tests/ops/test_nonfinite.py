"""ops/nonfinite.py: isnan / isinf / isfinite against numpy for floating, integer and bool
tensors, the Tensor methods, and static capture."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite"])
def test_matches_numpy_for_every_dtype(name):
    f = np.array([[1.0, np.nan], [np.inf, -np.inf]], dtype=np.float32)
    for a in (f, f.astype(np.float64), np.array([1, -2]), np.array([True, False])):
        out = getattr(ops, name)(sg.tensor(a))
        assert out.dtype == np.bool_ and out.grad_fn is None
        np.testing.assert_array_equal(out.numpy(), getattr(np, name)(a))
        np.testing.assert_array_equal(getattr(sg.tensor(a), name)().numpy(), out.numpy())


def test_no_gradient_through_a_float_input():
    x = sg.tensor([1.0, np.nan], requires_grad=True)
    assert not ops.isnan(x).requires_grad
    assert ops.where(ops.isnan(x), 0.0, x).sum().item() == 1.0


def test_rejects_non_tensors():
    with pytest.raises(TypeError, match=r"isnan: expected `input` to be a Tensor \(got list\)"):
        ops.isnan([1.0])


def test_static_trace_records_the_test():
    graph = static.trace(lambda x: ops.where(ops.isfinite(x), x, 0.0).sum(), sg.ones(3))
    assert graph.count(op="Classify") == 1
    assert graph(sg.tensor([1.0, np.inf, 2.0])).item() == 3.0
