"""torch's in-place math methods (PyG's gcn_norm: ``deg_inv_sqrt = deg.pow_(-0.5)``): each
writes its out-of-place op into the tensor, returns it, bumps its version, changes a view's base
and differentiates as the op does."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.ops import inplace_math

POSITIVE = np.array([[0.3, 1.7], [2.2, 0.9]])
UNARY = sorted(inplace_math.UNARY)


@pytest.mark.parametrize("name", UNARY)
def test_method_equals_the_op_and_writes_in_place(name):
    t = sg.tensor(POSITIVE.copy())
    want = getattr(ops, name)(sg.tensor(POSITIVE)).numpy()
    version = t._version[0]
    assert getattr(t, f"{name}_")() is t
    np.testing.assert_allclose(t.numpy(), want)
    assert t._version[0] > version


@pytest.mark.parametrize("name", ["sqrt", "exp", "log", "reciprocal", "square", "sin"])
def test_gradient_is_the_ops(name):
    x = sg.tensor(POSITIVE.copy(), requires_grad=True)
    y = x * 1
    getattr(y, f"{name}_")().sum().backward()
    x2 = sg.tensor(POSITIVE.copy(), requires_grad=True)
    getattr(ops, name)(x2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy())


def test_a_view_writes_its_base():
    base = sg.tensor(POSITIVE.copy())
    base[0].sqrt_()
    np.testing.assert_allclose(base.numpy()[0], np.sqrt(POSITIVE[0]))
    np.testing.assert_array_equal(base.numpy()[1], POSITIVE[1])


def test_gcn_norm_idiom_and_the_other_forms():
    deg = sg.tensor([4.0, 0.0, 1.0])
    dis = deg.pow_(-0.5)  # PyG's gcn_norm
    dis.masked_fill_(dis == float("inf"), 0)
    np.testing.assert_array_equal(deg.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(sg.tensor([-1.0, 2.0]).clamp_min_(0).numpy(), [0.0, 2.0])
    np.testing.assert_array_equal(sg.tensor([-1.0, 2.0]).clamp_max_(0).numpy(), [-1.0, 0.0])
    np.testing.assert_allclose(sg.tensor([1.26, -2.5]).round_(decimals=1).numpy(),
                               [1.3, -2.5], rtol=1e-6)
    np.testing.assert_array_equal(sg.tensor([7, 8]).floor_divide_(3).numpy(), [2, 2])
    np.testing.assert_array_equal(sg.sqrt_(sg.tensor([4.0])).numpy(), [2.0])  # torch.sqrt_


def test_a_result_the_dtype_cannot_hold_is_refused():
    with pytest.raises(TypeError, match=r"sqrt_: the result type float32 can't be cast to the "
                                        r"tensor's dtype int64 in place"):
        sg.tensor([1, 4]).sqrt_()
