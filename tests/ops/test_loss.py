"""Losses (ops/loss.py): numpy references (PyTorch's formulas for weights, ignore_index and label
smoothing), float64 gradient checks for every reduction, the fused cross entropy against
log_softmax + nll_loss, stability, dtype, errors."""

import warnings

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck

REDUCTIONS = ["mean", "sum", "none"]
TARGET = np.array([0, 3, 1, 1, -100, 2])
WEIGHT = np.array([1.0, 2.0, 0.5, 1.5])


def r(*shape, seed=0, scale=1.0, device="cpu"):
    rng = np.random.default_rng(seed)
    return sg.tensor(scale * rng.standard_normal(shape), dtype="float64", requires_grad=True,
                     device=device)


def log_softmax_np(a):
    m = a.max(axis=1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=1, keepdims=True))


def nll_reference(logp, target, weight=None, ignore_index=-100, reduction="mean",
                  smoothing=0.0):
    """PyTorch's nll_loss / cross_entropy label smoothing, written out per sample."""
    n, c = logp.shape
    weight = np.ones(c) if weight is None else weight
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    w = np.where(valid, weight[safe], 0.0)
    nll = np.where(valid, -logp[np.arange(n), safe] * weight[safe], 0.0)
    smooth = np.where(valid, -(logp * weight).sum(1), 0.0)
    per = (1 - smoothing) * nll + smoothing / c * smooth
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" else per.sum() / w.sum()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, WEIGHT], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_values_and_gradcheck(reduction, weight, smoothing):
    x = r(6, 4, seed=1, scale=2.0)
    ce = lambda t: ops.cross_entropy(t, TARGET, weight=weight, reduction=reduction,
                                     label_smoothing=smoothing)
    ref = nll_reference(log_softmax_np(x.detach().numpy()), TARGET, weight, -100, reduction,
                        smoothing)
    assert_close(ce(x), ref)
    gradcheck(ce, [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, WEIGHT], ids=["unweighted", "weighted"])
def test_nll_loss_values_and_gradcheck(reduction, weight):
    x = r(6, 4, seed=2)
    nll = lambda t: ops.nll_loss(t, TARGET, weight=weight, reduction=reduction)
    assert_close(nll(x), nll_reference(x.detach().numpy(), TARGET, weight, -100, reduction))
    gradcheck(nll, [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_equals_log_softmax_then_nll(reduction):
    x1, x2 = r(5, 3, seed=3), r(5, 3, seed=3)
    target = sg.tensor([2, 0, 1, 1, 2])
    a = ops.cross_entropy(x1, target, weight=WEIGHT[:3], reduction=reduction)
    b = ops.nll_loss(ops.log_softmax(x2, 1), target, weight=WEIGHT[:3], reduction=reduction)
    assert_close(a, b)
    a.backward(sg.ones(a.shape, dtype="float64"))
    b.backward(sg.ones(b.shape, dtype="float64"))
    assert_close(x1.grad, x2.grad)


def test_cross_entropy_backward_is_softmax_minus_onehot(device):
    x = r(3, 4, seed=4, device=device)
    target = np.array([1, 0, 3])
    ops.cross_entropy(x, target, reduction="sum").backward()
    p = np.exp(log_softmax_np(x.detach().numpy()))
    np.testing.assert_allclose(x.grad.numpy(), p - np.eye(4)[target], rtol=1e-12)


def test_ignore_index_inside_the_class_range():
    x = r(4, 3, seed=5)
    target = np.array([0, 1, 2, 1])
    out = ops.cross_entropy(x, target, ignore_index=1)
    assert_close(out, nll_reference(log_softmax_np(x.detach().numpy()), target, None, 1))
    gradcheck(lambda t: ops.cross_entropy(t, target, ignore_index=1, label_smoothing=0.1), [x])
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy()[[1, 3]], 0.0)


def test_all_ignored_mean_is_nan_with_zero_gradient_and_no_warning():
    x = r(3, 4, seed=6)
    target = np.full(3, -100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = ops.cross_entropy(x, target)
        loss.backward()
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(x.grad.numpy(), 0.0)
        assert np.isnan(ops.nll_loss(x, target, weight=WEIGHT).item())
        assert ops.cross_entropy(x, target, reduction="sum").item() == 0.0


def test_ignored_row_with_minus_infinity_does_not_poison_the_loss():
    logp = sg.tensor([[-np.inf, 0.0], [0.0, -np.inf]], dtype="float64", requires_grad=True)
    loss = ops.nll_loss(logp, np.array([-100, 0]))
    assert loss.item() == 0.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_dim_layouts(reduction):
    x = r(2, 3, 4, seed=7)  # (N, C, d)
    target = np.array([[0, 2, 1, 1], [2, -100, 0, 1]])
    flat = x.detach().numpy().transpose(0, 2, 1).reshape(-1, 3)
    ref = nll_reference(log_softmax_np(flat), target.reshape(-1), reduction=reduction)
    out = ops.cross_entropy(x, target, reduction=reduction)
    assert_close(out, ref.reshape(target.shape) if reduction == "none" else ref)
    gradcheck(lambda t: ops.cross_entropy(t, target, reduction=reduction), [x])
    v = r(5, seed=8)  # (C,) with a 0-d target
    out1 = ops.cross_entropy(v, np.array(3), reduction=reduction)
    assert out1.shape == ()
    assert_close(out1, -log_softmax_np(v.detach().numpy()[None])[0, 3])


def test_targets_as_tensors_lists_and_float32_inputs():
    x = sg.randn(4, 3)
    a = ops.cross_entropy(x, sg.tensor([0, 2, 1, 0], dtype="int32"))
    b = ops.cross_entropy(x, [0, 2, 1, 0])
    assert a.dtype == np.float32 and a.shape == ()
    assert_close(a, b)
    assert ops.nll_loss(x, [0, 2, 1, 0], weight=[1.0, 2.0, 3.0], reduction="none").dtype == (
        np.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_pointwise_losses(name, reduction):
    x, y = r(3, 4, seed=9), r(3, 4, seed=10)
    d = x.detach().numpy() - y.detach().numpy()
    per = d * d if name == "mse_loss" else np.abs(d)
    ref = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    fn = getattr(ops, name)
    assert_close(fn(x, y, reduction), ref)
    gradcheck(lambda a, b: fn(a, b, reduction=reduction), [x, y])
    assert fn(sg.randn(2), [0, 1]).dtype == np.float32


def bce_reference(x, y, weight=None, pos_weight=None):
    sig = 1 / (1 + np.exp(-x))
    pw = 1.0 if pos_weight is None else pos_weight
    per = -(pw * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    return per * (1.0 if weight is None else weight)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", [(None, None), (np.array([[1.0], [0.5], [2.0]]), None),
                                     (None, np.array([3.0, 0.5, 1.0, 2.0]))],
                         ids=["plain", "weight", "pos_weight"])
def test_binary_cross_entropy_with_logits(reduction, weights):
    weight, pos_weight = weights
    x = r(3, 4, seed=11)
    y = sg.tensor(np.random.default_rng(12).random((3, 4)), dtype="float64",
                  requires_grad=True)  # soft targets, differentiable
    per = bce_reference(x.detach().numpy(), y.detach().numpy(), weight, pos_weight)
    ref = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    fn = lambda a, b: ops.binary_cross_entropy_with_logits(a, b, weight, reduction, pos_weight)
    assert_close(fn(x, y), ref)
    gradcheck(fn, [x, y])


def test_binary_cross_entropy_with_logits_is_stable_for_huge_logits():
    x = sg.tensor([1e4, -1e4, 1e4, -1e4, 0.0], requires_grad=True)
    y = sg.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = ops.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [0, 0, 1e4, 1e4, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 1, -1, -0.5], atol=1e-7)
    assert loss.dtype == np.float32
    int_target = ops.binary_cross_entropy_with_logits(sg.randn(3), sg.tensor([0, 1, 1]))
    assert int_target.dtype == np.float32


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: ops.cross_entropy(x, np.array([0, 9, 1])), ValueError,
     r"cross_entropy: expected class indices in \[0, 4\) or ignore_index=-100 \(got 9\)"),
    (lambda x: ops.nll_loss(x, np.array([0, -1, 1])), ValueError,
     r"nll_loss: expected class indices in \[0, 4\) or ignore_index=-100 \(got -1\)"),
    (lambda x: ops.cross_entropy(x, np.array([0.0, 1.0, 1.0])), TypeError,
     r"cross_entropy: expected integer class indices in `target` \(got float64\)"),
    (lambda x: ops.nll_loss(x, sg.tensor([0.0, 1.0, 1.0])), TypeError,
     "nll_loss: expected integer class indices"),
    (lambda x: ops.cross_entropy(x, np.array([0, 1, 1]), reduction="avg"), ValueError,
     r"cross_entropy: expected `reduction` in \('mean', 'sum', 'none'\) \(got 'avg'\)"),
    (lambda x: ops.cross_entropy(x, np.array([0, 1])), ValueError,
     r"cross_entropy: expected `input` of shape \(N, C\).*\(got \(3, 4\) and \(2,\)\)"),
    (lambda x: ops.cross_entropy(x, np.array([0, 1, 1]), weight=np.ones(3)), ValueError,
     r"cross_entropy: expected `weight` of shape \(4,\) for 4 classes \(got \(3,\)\)"),
    (lambda x: ops.cross_entropy(x, np.array([0, 1, 1]), label_smoothing=1.5), ValueError,
     r"cross_entropy: expected `label_smoothing` in \[0, 1\]"),
    (lambda x: ops.cross_entropy(sg.tensor([[1, 2]]), np.array([0])), TypeError,
     r"cross_entropy: expected a floating `input` \(got int64\)"),
    (lambda x: ops.mse_loss(x, sg.zeros(4, 3)), ValueError,
     r"mse_loss: expected `target` of shape \(3, 4\) like `input` \(got \(4, 3\)\)"),
    (lambda x: ops.l1_loss(x, x, reduction="max"), ValueError, "l1_loss: expected `reduction`"),
    (lambda x: ops.binary_cross_entropy_with_logits(x, x.detach(), pos_weight=np.ones(3)),
     ValueError, r"expected `pos_weight` of shape \(3,\) to broadcast to `input` of shape"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(sg.randn(3, 4))


# ---- class-probability targets (PyTorch >= 1.10; audit core3 #11) -------------------------------
def soft_reference(logits, probs, weight=None, reduction="mean", smoothing=0.0):
    """PyTorch's cross entropy with class probabilities, class dim 1 (0 for a 1-D input)."""
    dim = 0 if logits.ndim == 1 else 1
    c = logits.shape[dim]
    m = logits.max(axis=dim, keepdims=True)
    logp = logits - m - np.log(np.exp(logits - m).sum(axis=dim, keepdims=True))
    y = probs * (1 - smoothing) + smoothing / c
    w = np.ones(c) if weight is None else weight
    per = -(logp * y * w.reshape((c,) + (1,) * (logits.ndim - dim - 1))).sum(axis=dim)
    if reduction == "none":
        return per
    return per.sum() if reduction == "sum" else per.mean()


def probs(*shape, seed=0, dim=1):
    p = np.random.default_rng(seed).uniform(0.1, 1.0, shape)
    return p / p.sum(axis=dim, keepdims=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, WEIGHT], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_with_probability_targets(reduction, weight, smoothing):
    x = r(6, 4, seed=3, scale=2.0)
    y = sg.tensor(probs(6, 4, seed=4), dtype="float64", requires_grad=True)
    ce = lambda a, b: ops.cross_entropy(a, b, weight=weight, reduction=reduction,
                                        label_smoothing=smoothing)
    out = ce(x, y)
    assert out.shape == ((6,) if reduction == "none" else ())
    assert_close(out, soft_reference(x.detach().numpy(), y.detach().numpy(), weight, reduction,
                                     smoothing))
    gradcheck(ce, [x, y])  # differentiable in the target too (distillation), as in torch


def test_probability_targets_of_one_hot_rows_equal_class_indices():
    x = r(6, 4, seed=5)
    target = np.array([0, 3, 1, 1, 2, 2])
    onehot = np.eye(4)[target]
    for kwargs in ({}, {"weight": WEIGHT, "reduction": "sum"}, {"label_smoothing": 0.1}):
        assert_close(ops.cross_entropy(x, onehot, **kwargs), ops.cross_entropy(x, target, **kwargs))


def test_probability_targets_k_dim_and_1d_inputs():
    x = r(2, 3, 4, 5, seed=6)
    y = probs(2, 3, 4, 5, seed=7)
    out = ops.cross_entropy(x, y, weight=WEIGHT[:3], reduction="none", label_smoothing=0.1)
    assert out.shape == (2, 4, 5)
    assert_close(out, soft_reference(x.detach().numpy(), y, WEIGHT[:3], "none", 0.1))
    v = r(4, seed=8)
    assert_close(ops.cross_entropy(v, probs(4, seed=9, dim=0)),
                 soft_reference(v.detach().numpy(), probs(4, seed=9, dim=0)))
    loss = sg.nn.CrossEntropyLoss(label_smoothing=0.2)(x, sg.tensor(y))
    assert_close(loss, soft_reference(x.detach().numpy(), y, None, "mean", 0.2))


def test_probability_targets_float32_and_errors():
    x = sg.randn(3, 4)
    y = sg.tensor(probs(3, 4, seed=1), dtype="float64")  # cast to the input's dtype
    assert ops.cross_entropy(x, y).dtype == np.float32
    with pytest.raises(TypeError, match=r"cross_entropy: expected floating class probabilities "
                                        r"in `target` of `input`'s shape \(3, 4\) \(got int64\)"):
        ops.cross_entropy(x, sg.zeros(3, 4, dtype="int64"))
    with pytest.raises(ValueError, match=r"`ignore_index` is not supported with class-probability"):
        ops.cross_entropy(x, y, ignore_index=0)
    with pytest.raises(ValueError, match=r"cross_entropy: expected `weight` of shape \(4,\)"):
        ops.cross_entropy(x, y, weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"cross_entropy: expected `reduction` in"):
        ops.cross_entropy(x, y, reduction="avg")
