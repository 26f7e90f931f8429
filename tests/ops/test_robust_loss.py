"""Huber, smooth L1 and binary cross-entropy on probabilities against PyTorch's formulas in
numpy, in value (every reduction) and float64 gradient."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn, ops
from sparsegraph.testing import assert_close, gradcheck

RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 3)) * 2
Y = RNG.standard_normal((5, 3))


def huber_ref(x, y, delta):
    d = np.abs(x - y)
    return np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))


def reduce_ref(losses, reduction):
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("delta", [0.5, 1.0, 3.0])
def test_huber_and_smooth_l1_match_pytorchs_formulas(reduction, delta):
    x, y = sg.tensor(X, dtype="float64"), sg.tensor(Y, dtype="float64")
    assert_close(ops.huber_loss(x, y, reduction, delta), reduce_ref(huber_ref(X, Y, delta),
                                                                    reduction))
    assert_close(ops.smooth_l1_loss(x, y, reduction, beta=delta),
                 reduce_ref(huber_ref(X, Y, delta) / delta, reduction))
    assert_close(ops.smooth_l1_loss(x, y, reduction, beta=0.0),
                 reduce_ref(np.abs(X - Y), reduction))
    assert_close(nn.HuberLoss(reduction=reduction, delta=delta)(x, y),
                 ops.huber_loss(x, y, reduction, delta))


def test_gradients_pass_gradcheck():
    x = sg.tensor(X, dtype="float64", requires_grad=True)
    y = sg.tensor(Y, dtype="float64", requires_grad=True)
    assert gradcheck(lambda a, b: ops.huber_loss(a, b, "sum", 1.5), (x, y))
    assert gradcheck(lambda a, b: ops.smooth_l1_loss(a, b, "mean", 0.7), (x, y))
    p = sg.tensor(RNG.uniform(0.05, 0.95, (4, 2)), dtype="float64", requires_grad=True)
    t = sg.tensor(RNG.uniform(0, 1, (4, 2)), dtype="float64", requires_grad=True)
    assert gradcheck(lambda a, b: ops.binary_cross_entropy(a, b, reduction="sum"), (p, t))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_matches_the_formula_and_clamps_its_logs(reduction):
    p = np.array([0.0, 0.2, 0.9, 1.0])
    y = np.array([0.0, 1.0, 0.3, 0.0])
    w = np.array([1.0, 2.0, 0.5, 1.0])
    want = -w * (y * np.maximum(np.log(np.maximum(p, 1e-300)), -100)
                 + (1 - y) * np.maximum(np.log(np.maximum(1 - p, 1e-300)), -100))
    got = ops.binary_cross_entropy(sg.tensor(p, dtype="float64"), sg.tensor(y, dtype="float64"),
                                   weight=sg.tensor(w, dtype="float64"), reduction=reduction)
    assert_close(got, reduce_ref(want, reduction))
    logits = sg.tensor([[0.3, -1.2]])
    assert_close(nn.BCELoss()(ops.sigmoid(logits), sg.tensor([[1.0, 0.0]])),
                 nn.BCEWithLogitsLoss()(logits, sg.tensor([[1.0, 0.0]])), rtol=1e-5)


def test_bad_arguments_are_named():
    x = sg.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match=r"huber_loss: expected a finite number `delta` > 0"):
        ops.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match=r"smooth_l1_loss: expected a finite number `beta` >= 0"):
        ops.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(ValueError, match=r"binary_cross_entropy: expected `input` probabilities "
                                         r"in \[0, 1\]"):
        ops.binary_cross_entropy(sg.tensor([1.5]), sg.tensor([1.0]))
    with pytest.raises(TypeError, match=r"HuberLoss: expected delta to be a number"):
        nn.HuberLoss(delta="1")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_certain_probabilities_give_finite_losses_and_gradients(dtype):
    p = sg.tensor([0.0, 1.0, 0.5], dtype=dtype, requires_grad=True)
    loss = ops.binary_cross_entropy(p, sg.tensor([1.0, 0.0, 1.0], dtype=dtype), reduction="none")
    loss.sum().backward()
    assert_close(loss, np.array([100.0, 100.0, np.log(2.0)]), rtol=1e-6)
    assert np.isfinite(p.grad.numpy()).all()
    assert_close(p.grad[2], np.array(-2.0), rtol=1e-6)
