"""Audit fixes: the normalisation layers' dtype rule (as `Linear` / torch's CPU kernels) and
`Module.to` converting each parameter's ``.grad`` with it (as torch's ``Module._apply``)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn


def _np(t):
    return t.detach().numpy()


# ---- 1. normalisation layers refuse an input of another dtype than their parameters ---------
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_refuses_float64_input_with_float32_params(training):
    bn = nn.BatchNorm1d(3).train(training)
    x = sg.randn(6, 3, dtype="float64")
    with pytest.raises(TypeError, match=r"BatchNorm1d: expected `input` of dtype float32 like "
                                        r"the layer's parameters \(got float64\); convert with "
                                        r"x\.float\(\) or the layer with \.double\(\)"):
        bn(x)
    # nothing was updated from the float64 batch before the refusal
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3, np.float32))
    assert bn.running_mean.dtype == np.float32 and int(bn.num_batches_tracked.item()) == 0


def test_batchnorm_without_affine_checks_the_running_stats():
    bn = nn.BatchNorm1d(3, affine=False)
    with pytest.raises(TypeError, match=r"BatchNorm1d: .*like the layer's running stats "
                                        r"\(got float64\)"):
        bn(sg.randn(6, 3, dtype="float64"))
    with pytest.raises(TypeError, match="running stats"):
        bn.eval()(sg.randn(6, 3, dtype="float64"))


def test_batchnorm_without_params_or_stats_takes_any_float():
    # nothing to mismatch (torch's batch_norm with weight=None and no running stats as well)
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    x = sg.randn(6, 3, dtype="float64")
    y = bn(x)
    assert y.dtype == np.float64
    a = x.numpy()
    np.testing.assert_allclose(_np(y), (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5), rtol=1e-10)


def test_layernorm_refuses_float64_input_with_float32_params():
    with pytest.raises(TypeError, match=r"LayerNorm: expected `input` of dtype float32 like "
                                        r"the layer's parameters \(got float64\); convert with "
                                        r"x\.float\(\) or the layer with \.double\(\)"):
        nn.LayerNorm(4)(sg.randn(2, 4, dtype="float64"))
    # the bias-free layer still has a weight to mismatch
    with pytest.raises(TypeError, match="LayerNorm: expected `input` of dtype float32"):
        nn.LayerNorm(4, bias=False)(sg.randn(2, 4, dtype="float64"))


def test_layernorm_without_affine_takes_any_float():
    x = sg.randn(2, 4, dtype="float64")
    y = nn.LayerNorm(4, elementwise_affine=False)(x)
    assert y.dtype == np.float64
    a = x.numpy()
    want = (a - a.mean(-1, keepdims=True)) / np.sqrt(a.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(_np(y), want, rtol=1e-10)


def test_float32_input_refused_by_a_half_layer():
    with pytest.raises(TypeError, match=r"expected `input` of dtype float16 .*\(got float32\); "
                                        r"convert with x\.half\(\) or the layer with \.float\(\)"):
        nn.LayerNorm(4).half()(sg.randn(2, 4))
    with pytest.raises(TypeError, match=r"BatchNorm1d: expected `input` of dtype float16"):
        nn.BatchNorm1d(3).half()(sg.randn(6, 3))


def test_converted_layers_accept_their_dtype():
    x = sg.randn(6, 3, dtype="float64")
    bn, ln = nn.BatchNorm1d(3).double(), nn.LayerNorm(3).double()
    assert bn(x).dtype == np.float64 and ln(x).dtype == np.float64
    assert bn.running_mean.dtype == np.float64
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.numpy().mean(0), rtol=1e-12)


def test_half_input_with_float32_params_still_works():
    # torch's one mixed case (half input, float32 parameters): kept as before the fix, the
    # output and the running stats staying float32
    a = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float16)
    bn, ln = nn.BatchNorm1d(3), nn.LayerNorm(3)
    y = bn(sg.tensor(a))
    assert y.dtype == np.float32 and bn.running_mean.dtype == np.float32
    a64 = a.astype(np.float64)
    np.testing.assert_allclose(_np(y), (a64 - a64.mean(0)) / np.sqrt(a64.var(0) + 1e-5),
                               rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * a64.mean(0), rtol=1e-3, atol=1e-6)
    assert bn.eval()(sg.tensor(a)).dtype == np.float32
    assert ln(sg.tensor(a)).dtype == np.float32


# ---- 2. Module.to converts .grad with its parameter ------------------------------------------
def test_double_converts_grads_and_the_optimizer_still_steps():
    sg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model[2].bias.requires_grad_(False)  # gets no grad: must stay None
    opt = sg.optim.SGD(model.parameters(), lr=0.5)
    params = list(model.parameters())
    model(sg.randn(5, 3)).sum().backward()
    grads = {id(p): p.grad for p in params}
    before = {id(p): (_np(p).astype(np.float64), None if p.grad is None else
                      p.grad.numpy().astype(np.float64)) for p in params}

    model.double()

    assert list(model.parameters()) == params  # the same Parameter objects (identity)
    assert all(a is b for a, b in zip(opt.param_groups[0]["params"], params, strict=True))
    for p in params:
        assert p.dtype == np.float64
        w, g = before[id(p)]
        if g is None:
            assert p.grad is None
            continue
        assert p.grad is grads[id(p)]  # converted in place, as torch's `param.grad.data = ...`
        assert p.grad.dtype == np.float64 and p.grad.device == p.device
        np.testing.assert_array_equal(p.grad.numpy(), g)
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype

    opt.step()
    for p in params:
        w, g = before[id(p)]
        want = w if g is None else w - 0.5 * g
        np.testing.assert_allclose(_np(p), want, rtol=1e-6, atol=1e-7)
        assert p.dtype == np.float64


def test_float_and_half_convert_grads_too():
    lin = nn.Linear(3, 2, dtype="float64")
    lin(sg.randn(4, 3, dtype="float64")).sum().backward()
    g = lin.weight.grad.numpy().copy()
    lin.float()
    assert lin.weight.grad.dtype == np.float32
    np.testing.assert_allclose(lin.weight.grad.numpy(), g, rtol=1e-6)
    lin.half()
    assert lin.weight.grad.dtype == np.float16 and lin.bias.grad.dtype == np.float16
    np.testing.assert_allclose(lin.weight.grad.numpy(), g, rtol=1e-3)
    lin.to("float16")  # no change: grad left as is
    assert lin.weight.grad.dtype == np.float16
