"""Layers (Linear, Dropout, containers, activations, LayerNorm, BatchNorm1d), init, functional."""

import math
from collections import OrderedDict

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import nn
from sparsegraph.nn import init
from sparsegraph.testing import gradcheck


def _np(t):
    return t.detach().numpy()


# ---- Linear --------------------------------------------------------------------------------
def test_linear_init_bounds_and_determinism():
    sg.manual_seed(3)
    a = nn.Linear(100, 50)
    sg.manual_seed(3)
    b = nn.Linear(100, 50)
    np.testing.assert_array_equal(_np(a.weight), _np(b.weight))
    np.testing.assert_array_equal(_np(a.bias), _np(b.bias))
    assert not np.array_equal(_np(nn.Linear(100, 50).weight), _np(a.weight))
    assert a.weight.shape == (50, 100) and a.bias.shape == (50,)
    bound = 1 / math.sqrt(100)  # kaiming_uniform(a=sqrt(5)) gives 1 / sqrt(fan_in)
    w = _np(a.weight)
    assert np.abs(w).max() <= bound and np.abs(_np(a.bias)).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # uniform, not a narrower law
    assert abs(w.mean()) < 0.05 * bound
    empty = nn.Linear(0, 3)
    assert empty(sg.zeros(2, 0)).shape == (2, 3)


def test_linear_forward_matches_numpy_and_keeps_weight_uncopied():
    lin = nn.Linear(4, 3)
    x = sg.randn(2, 5, 4)
    expected = _np(x) @ _np(lin.weight).T + _np(lin.bias)
    np.testing.assert_allclose(_np(lin(x)), expected, rtol=1e-5, atol=1e-6)
    assert np.shares_memory(lin.weight.T.array, lin.weight.array)  # the transpose is a view
    no_bias = nn.Linear(4, 3, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    np.testing.assert_allclose(_np(no_bias(x)), _np(x) @ _np(no_bias.weight).T, rtol=1e-5)
    assert repr(no_bias) == "Linear(in_features=4, out_features=3, bias=False)"
    assert nn.Linear(2, 2, dtype="float64").weight.dtype == np.float64


def test_linear_gradcheck_float64():
    lin = nn.Linear(4, 3).to("float64")
    x = sg.randn(5, 4, dtype="float64", requires_grad=True)
    gradcheck(lambda x, w, b: lin(x), [x, lin.weight, lin.bias])
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.bias.grad.numpy(), np.full(3, 5.0))
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.tile(_np(x).sum(0), (3, 1)))


def test_identity_and_dropout_modes():
    x = sg.ones(200, 50)
    assert nn.Identity(7, k=1)(x) is x
    drop = nn.Dropout(0.3)
    sg.manual_seed(0)
    out = _np(drop(x))
    kept = out != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    sg.manual_seed(0)
    np.testing.assert_array_equal(_np(drop(x)), out)  # seeded
    drop.eval()
    np.testing.assert_array_equal(_np(drop(x)), _np(x))
    assert repr(drop) == "Dropout(p=0.3, inplace=False)"
    with pytest.raises(ValueError, match=r"p in \[0, 1\]"):
        nn.Dropout(1.5)


# ---- containers ----------------------------------------------------------------------------
def test_sequential_indexing_and_editing():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    x = sg.randn(4, 2)
    np.testing.assert_array_equal(_np(seq(x)), _np(c(b(a(x)))))
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is c
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and seq[1] is a
    seq[0] = nn.Tanh()
    assert isinstance(seq[0], nn.Tanh)
    named = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert named.fc is a and named[1] is b
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_and_dict_register_parameters():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(list(layers.parameters())) == 6 and len(layers) == 3
    layers += [nn.Linear(2, 1)]
    layers.extend([nn.ReLU()])
    assert len(layers) == 5 and isinstance(layers[-1], nn.ReLU)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    with pytest.raises(NotImplementedError, match="forward"):
        layers(sg.ones(1))
    d = nn.ModuleDict({"enc": nn.Linear(2, 4), "dec": nn.Linear(4, 2)})
    d["act"] = nn.ReLU()
    assert list(d) == ["enc", "dec", "act"] and "enc" in d and len(d) == 3
    assert [n for n, _ in d.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight",
                                                     "dec.bias"]
    assert isinstance(d.pop("act"), nn.ReLU) and "act" not in d


# ---- activations ---------------------------------------------------------------------------
ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.ELU(), lambda x: np.where(x > 0, x, np.expm1(x))),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    (nn.Softplus(), lambda x: np.log1p(np.exp(x))),
    (nn.GELU(), lambda x: x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
]


@pytest.mark.parametrize("module, fn", ACTIVATIONS, ids=[type(m).__name__ for m, _ in ACTIVATIONS])
def test_activation_modules_match_formulas(module, fn):
    x = sg.randn(4, 5, dtype="float64")
    np.testing.assert_allclose(module(x).numpy(), fn(x.numpy()), rtol=1e-10, atol=1e-12)


def test_activation_reprs():
    assert [repr(m) for m in (nn.ReLU(), nn.LeakyReLU(0.2, inplace=True), nn.ELU(alpha=0.5),
                              nn.GELU("tanh"), nn.Softplus(), nn.Softmax(dim=-1),
                              nn.LogSoftmax())] == [
        "ReLU()", "LeakyReLU(negative_slope=0.2, inplace=True)", "ELU(alpha=0.5)",
        "GELU(approximate='tanh')", "Softplus(beta=1.0, threshold=20.0)", "Softmax(dim=-1)",
        "LogSoftmax(dim=None)"]
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


# ---- normalisation -------------------------------------------------------------------------
def test_layer_norm_matches_formula_and_gradchecks():
    ln = nn.LayerNorm((3, 4)).to("float64")
    init.normal_(ln.weight)
    init.normal_(ln.bias)
    x = sg.randn(2, 3, 4, dtype="float64", requires_grad=True)
    xn = _np(x)
    mu = xn.mean((1, 2), keepdims=True)
    var = xn.var((1, 2), keepdims=True)
    expected = (xn - mu) / np.sqrt(var + 1e-5) * _np(ln.weight) + _np(ln.bias)
    np.testing.assert_allclose(_np(ln(x)), expected, rtol=1e-10)
    gradcheck(lambda x, w, b: ln(x), [x, ln.weight, ln.bias])
    plain = nn.LayerNorm(4, elementwise_affine=False)
    assert list(plain.parameters()) == []
    assert repr(plain) == "LayerNorm((4,), eps=1e-05, elementwise_affine=False)"
    with pytest.raises(ValueError, match=r"expected input ending in \(4,\)"):
        plain(sg.randn(4, 3))


def test_batch_norm_training_updates_running_stats_and_eval_uses_them():
    bn = nn.BatchNorm1d(3, momentum=0.1).to("float64")
    init.normal_(bn.weight)
    init.normal_(bn.bias)
    w, b = _np(bn.weight), _np(bn.bias)
    rm, rv = np.zeros(3), np.ones(3)
    for _ in range(2):
        x = sg.randn(8, 3, dtype="float64") * 3 + 1
        xn = x.numpy()
        out = bn(x)
        expected = (xn - xn.mean(0)) / np.sqrt(xn.var(0) + 1e-5) * w + b  # biased variance
        np.testing.assert_allclose(_np(out), expected, rtol=1e-10)
        rm = 0.9 * rm + 0.1 * xn.mean(0)
        rv = 0.9 * rv + 0.1 * xn.var(0, ddof=1)  # unbiased in the running estimate
        np.testing.assert_allclose(bn.running_mean.numpy(), rm, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.numpy(), rv, rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 2
    bn.eval()
    x = sg.randn(5, 3, dtype="float64")
    np.testing.assert_allclose(_np(bn(x)), (x.numpy() - rm) / np.sqrt(rv + 1e-5) * w + b,
                               rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean.numpy(), rm)  # eval leaves them alone
    assert repr(bn) == ("BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, "
                        "track_running_stats=True)")


def test_batch_norm_variants():
    x = sg.randn(4, 2, 5, dtype="float64")  # (N, C, L): statistics over N and L
    bn = nn.BatchNorm1d(2, momentum=None).to("float64")
    out = _np(bn(x))
    xn = x.numpy()
    np.testing.assert_allclose(out, (xn - xn.mean((0, 2), keepdims=True))
                               / np.sqrt(xn.var((0, 2), keepdims=True) + 1e-5), rtol=1e-10)
    y = sg.randn(4, 2, 5, dtype="float64")
    bn(y)  # momentum None: the cumulative average of the two batches
    np.testing.assert_allclose(bn.running_mean.numpy(),
                               (xn.mean((0, 2)) + y.numpy().mean((0, 2))) / 2, rtol=1e-12)
    free = nn.BatchNorm1d(2, affine=False, track_running_stats=False).eval()
    assert list(free.parameters()) == [] and list(free.buffers()) == []
    z = sg.randn(6, 2)
    np.testing.assert_allclose(_np(free(z)), (z.numpy() - z.numpy().mean(0))
                               / np.sqrt(z.numpy().var(0) + 1e-5), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(2)(sg.randn(1, 2))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 2\)"):
        nn.BatchNorm1d(2)(sg.randn(3, 4))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm_gradcheck(training):
    bn = nn.BatchNorm1d(3).to("float64").train(training)
    init.normal_(bn.weight)
    x = sg.randn(6, 3, dtype="float64", requires_grad=True)
    gradcheck(lambda x, w, b: bn(x), [x, bn.weight, bn.bias])


# ---- init ----------------------------------------------------------------------------------
def test_calculate_gain_table():
    assert init.calculate_gain("linear") == init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("selu") == 0.75
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("fn, expected_std", [
    (lambda t, g: init.xavier_uniform_(t, gain=2.0, generator=g), 2.0 * math.sqrt(2 / 700)),
    (lambda t, g: init.xavier_normal_(t, generator=g), math.sqrt(2 / 700)),
    (lambda t, g: init.kaiming_normal_(t, nonlinearity="relu", generator=g), math.sqrt(2 / 500)),
    (lambda t, g: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", generator=g),
     math.sqrt(2 / 200)),
    (lambda t, g: init.kaiming_uniform_(t, a=math.sqrt(5), generator=g), math.sqrt(1 / 1500)),
    (lambda t, g: init.normal_(t, 0.0, 0.3, generator=g), 0.3),
    (lambda t, g: init.uniform_(t, -1.0, 1.0, generator=g), 1 / math.sqrt(3)),
], ids=["xavier_uniform", "xavier_normal", "kaiming_normal", "kaiming_normal_fan_out",
        "kaiming_uniform", "normal", "uniform"])
def test_init_distributions_and_generators(fn, expected_std):
    t = nn.Parameter(sg.zeros(200, 500))  # fan_in 500, fan_out 200
    version = t._version[0]
    assert fn(t, sg.Generator(1)) is t
    assert t._version[0] > version and t.grad_fn is None and t.requires_grad
    values = _np(t)
    assert abs(values.std() - expected_std) < 0.02 * expected_std
    assert abs(values.mean()) < 0.02 * expected_std
    u = nn.Parameter(sg.zeros(200, 500))
    fn(u, sg.Generator(1))
    np.testing.assert_array_equal(_np(u), values)  # same generator seed, same values


def test_init_uniform_bounds_constants_and_errors():
    t = sg.zeros(30, 40)
    a = math.sqrt(6 / 70)
    assert np.abs(init.xavier_uniform_(t).numpy()).max() <= a
    sg.manual_seed(5)
    first = init.normal_(sg.zeros(3)).numpy()
    sg.manual_seed(5)
    np.testing.assert_array_equal(init.normal_(sg.zeros(3)).numpy(), first)
    np.testing.assert_array_equal(init.constant_(sg.zeros(2, 2), 0.5).numpy(), 0.5)
    np.testing.assert_array_equal(init.ones_(sg.zeros(3)).numpy(), 1.0)
    np.testing.assert_array_equal(init.zeros_(sg.ones(3)).numpy(), 0.0)
    with pytest.raises(ValueError, match="at least 2 dims"):
        init.xavier_uniform_(sg.zeros(3))
    with pytest.raises(ValueError, match="fan_in' or 'fan_out"):
        init.kaiming_uniform_(sg.zeros(3, 3), mode="fan")


# ---- functional ----------------------------------------------------------------------------
def test_functional_reexports_and_helpers():
    assert F.relu is sg.ops.relu and F.cross_entropy is sg.ops.cross_entropy
    assert F.exp is sg.ops.exp  # any other op resolves lazily
    with pytest.raises(AttributeError, match="no such op"):
        F.not_an_op  # noqa: B018
    lin = nn.Linear(3, 2)
    x = sg.randn(4, 3)
    np.testing.assert_array_equal(_np(F.linear(x, lin.weight, lin.bias)), _np(lin(x)))
    np.testing.assert_array_equal(F.one_hot(sg.tensor([2, 0, 1]), 4).numpy(),
                                  np.eye(4, dtype=np.int64)[[2, 0, 1]])
    assert F.one_hot(sg.tensor([[1], [0]])).shape == (2, 1, 2)
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        F.one_hot(sg.tensor([2]), 2)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(sg.tensor([0.5]))
    v = sg.tensor([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(F.normalize(v).numpy(), [[0.6, 0.8], [0.0, 0.0]])
