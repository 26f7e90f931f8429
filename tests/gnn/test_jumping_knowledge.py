"""JumpingKnowledge (Xu et al., 2018; PyG's): cat / max / lstm against numpy, float64
gradchecks, PyG's parameter names and repr, errors."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import JumpingKnowledge
from sparsegraph.testing import gradcheck


def _np(t):
    return t.detach().numpy()


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _xs(n=5, f=4, t=3, seed=0, dtype=sg.float64, grad=False):
    rng = np.random.default_rng(seed)
    return [sg.tensor(rng.standard_normal((n, f)), dtype=dtype, requires_grad=grad)
            for _ in range(t)]


def ref_lstm_direction(seq, w_ih, w_hh, b_ih, b_hh, reverse):
    """torch's LSTM equations over seq (N, T, F) (batch_first), one direction."""
    n, t_len, _ = seq.shape
    H = w_hh.shape[1]
    h, c = np.zeros((n, H)), np.zeros((n, H))
    out = np.zeros((n, t_len, H))
    for t in (reversed(range(t_len)) if reverse else range(t_len)):
        g = seq[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, gg, o = _sig(g[:, :H]), _sig(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), \
            _sig(g[:, 3 * H:])
        c = f * c + i * gg
        h = o * np.tanh(c)
        out[:, t] = h
    return out


def ref_jk_lstm(jk, xs):
    """PyG's JumpingKnowledge('lstm').forward in numpy, from the module's own weights."""
    p = {k: _np(v) for k, v in jk.state_dict().items()}
    x = np.stack([_np(t) for t in xs], axis=1)  # (N, T, F)
    outs = [ref_lstm_direction(x, p[f"lstm.weight_ih_l0{s}"], p[f"lstm.weight_hh_l0{s}"],
                               p[f"lstm.bias_ih_l0{s}"], p[f"lstm.bias_hh_l0{s}"], bool(s))
            for s in ("", "_reverse")]
    score = np.concatenate(outs, axis=2) @ p["att.weight"].T + p["att.bias"]  # (N, T, 1)
    alpha = np.exp(score[..., 0] - score[..., 0].max(1, keepdims=True))
    alpha /= alpha.sum(1, keepdims=True)
    return (x * alpha[..., None]).sum(1)


def test_cat_and_max_match_numpy():
    xs = _xs()
    arrays = [_np(x) for x in xs]
    np.testing.assert_array_equal(_np(JumpingKnowledge("cat")(xs)), np.concatenate(arrays, 1))
    np.testing.assert_array_equal(_np(JumpingKnowledge("MAX")(xs)), np.max(arrays, axis=0))
    # cat takes layers of different widths, as torch.cat does
    assert JumpingKnowledge("cat")([sg.randn(3, 2), sg.randn(3, 5)]).shape == (3, 7)


def test_max_gradient_goes_to_the_arg_max_layer():
    xs = _xs(grad=True)
    JumpingKnowledge("max")(xs).sum().backward()
    winner = np.argmax([_np(x) for x in xs], axis=0)
    for t, x in enumerate(xs):
        np.testing.assert_array_equal(x.grad.numpy(), (winner == t).astype(float))


def test_lstm_matches_numpy_reference_with_its_own_weights():
    sg.manual_seed(1)
    jk = JumpingKnowledge("lstm", channels=4, num_layers=3).double()
    assert jk.lstm.hidden_size == (3 * 4) // 2 and jk.att.weight.shape == (1, 12)
    assert [n for n, _ in jk.named_parameters()] == [
        f"lstm.{w}_l0{s}" for s in ("", "_reverse")
        for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")] + ["att.weight", "att.bias"]
    xs = _xs()
    out = jk(xs)
    assert out.shape == (5, 4)
    np.testing.assert_allclose(_np(out), ref_jk_lstm(jk, xs), rtol=1e-10, atol=1e-12)
    # the weights are a convex combination of the layers: out lies within their range
    stacked = np.stack([_np(x) for x in xs])
    assert np.all(_np(out) <= stacked.max(0) + 1e-12) and np.all(
        _np(out) >= stacked.min(0) - 1e-12)
    # reset_parameters redraws the LSTM and the attention
    before = _np(jk.att.weight).copy(), _np(jk.lstm.weight_hh_l0).copy()
    jk.reset_parameters()
    assert not np.array_equal(before[0], _np(jk.att.weight))
    assert not np.array_equal(before[1], _np(jk.lstm.weight_hh_l0))


@pytest.mark.parametrize("mode", ["cat", "max", "lstm"])
def test_gradcheck_float64(mode):
    sg.manual_seed(2)
    jk = JumpingKnowledge(mode, channels=3, num_layers=2).double()
    xs = _xs(n=4, f=3, t=2, seed=3, grad=True)
    gradcheck(lambda *args: jk(list(args[:2])), [*xs, *jk.parameters()], directions=3)


def test_repr_is_pygs():
    assert repr(JumpingKnowledge("cat")) == "JumpingKnowledge(cat)"
    assert repr(JumpingKnowledge("max")) == "JumpingKnowledge(max)"
    assert repr(JumpingKnowledge("lstm", 16, 3)) == "JumpingKnowledge(lstm, channels=16, layers=3)"


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"expected `mode` 'cat', 'max' or 'lstm' \(got 'sum'\)"):
        JumpingKnowledge("sum")
    with pytest.raises(ValueError, match=r"'lstm' needs `channels` and `num_layers` "
                                         r"\(got channels=None, num_layers=3\)"):
        JumpingKnowledge("lstm", num_layers=3)
    with pytest.raises(ValueError, match=r"got channels=16, num_layers=None"):
        JumpingKnowledge("lstm", channels=16)
    with pytest.raises(ValueError, match=r"JumpingKnowledge: expected `num_layers` to be an int"):
        JumpingKnowledge("lstm", channels=16, num_layers=0)


def test_forward_errors():
    with pytest.raises(ValueError, match=r"non-empty list `xs`"):
        JumpingKnowledge("max")([])
    with pytest.raises(ValueError, match=r"expected `xs\[1\]` with 5 rows as xs\[0\] "
                                         r"\(got shape \(4, 4\)\)"):
        JumpingKnowledge("cat")([sg.randn(5, 4), sg.randn(4, 4)])
    with pytest.raises(ValueError, match=r"expected `xs\[2\]` with 4 features as xs\[0\] for "
                                         r"mode 'max' \(got shape \(5, 3\)\)"):
        JumpingKnowledge("max")([sg.randn(5, 4), sg.randn(5, 4), sg.randn(5, 3)])
    with pytest.raises(ValueError, match=r"with channels=4 features \(got shape \(5, 3\)\)"):
        JumpingKnowledge("lstm", 4, 2)([sg.randn(5, 3), sg.randn(5, 3)])
    with pytest.raises(ValueError, match=r"`xs\[0\]` to be a 2-D \(N, F\) Tensor"):
        JumpingKnowledge("cat")([sg.randn(5)])
    with pytest.raises(TypeError, match=r"expected `xs` to be a list"):
        JumpingKnowledge("cat")(sg.randn(5, 4))
