"""RNN / LSTM / GRU and their cells against a numpy transcription of torch's documented
equations, torch's parameter names and init, shapes, dropout and errors; float64 gradchecks."""

import math

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn
from sparsegraph.testing import gradcheck


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---- numpy reference: torch.nn.LSTM / GRU / RNN docs, one time step ------------------------
def ref_step(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """x (N, F), h / c (N, H); biases may be None."""
    b_ih = 0.0 if b_ih is None else b_ih
    b_hh = 0.0 if b_hh is None else b_hh
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    H = h.shape[1]
    if mode == "LSTM":
        g = gi + gh
        i, f, gg, o = _sig(g[:, :H]), _sig(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), \
            _sig(g[:, 3 * H:])
        c = f * c + i * gg
        return o * np.tanh(c), c
    if mode == "GRU":
        r = _sig(gi[:, :H] + gh[:, :H])
        z = _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h, c
    pre = gi + gh
    return (np.tanh(pre) if mode == "RNN_TANH" else np.maximum(pre, 0)), c


def ref_rnn(mode, params, x, h0, c0, num_layers, bidirectional):
    """x (L, N, F) time-major; params: torch's names -> arrays; returns out, h_n, c_n."""
    D = 2 if bidirectional else 1
    h_n, c_n = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"l{layer}" + ("_reverse" if d else "")
            k = layer * D + d
            h, c = h0[k], c0[k] if c0 is not None else None
            ys = [None] * x.shape[0]
            order = range(x.shape[0]) if d == 0 else reversed(range(x.shape[0]))
            for t in order:
                h, c = ref_step(mode, x[t], h, c, params[f"weight_ih_{sfx}"],
                                params[f"weight_hh_{sfx}"], params.get(f"bias_ih_{sfx}"),
                                params.get(f"bias_hh_{sfx}"))
                ys[t] = h
            outs.append(np.stack(ys))
            h_n.append(h)
            c_n.append(c)
        x = np.concatenate(outs, axis=2)
    return x, np.stack(h_n), (np.stack(c_n) if c0 is not None else None)


def _np(t):
    return t.detach().numpy()


def _make(cls, *args, **kw):
    return cls(*args, **kw, dtype=sg.float64)


GATES = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}


# ---- parameters -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN], ids=lambda c: c.__name__)
def test_parameter_names_shapes_and_init_are_torchs(cls):
    sg.manual_seed(0)
    m = cls(3, 5, num_layers=2, bidirectional=True)
    names = [f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
             for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert [n for n, _ in m.named_parameters()] == names
    g = GATES[cls] * 5
    shapes = dict(m.named_parameters())
    assert shapes["weight_ih_l0"].shape == (g, 3) and shapes["weight_ih_l1"].shape == (g, 10)
    assert shapes["weight_hh_l1_reverse"].shape == (g, 5) and shapes["bias_ih_l0"].shape == (g,)
    values = np.concatenate([_np(p).ravel() for p in m.parameters()])
    bound = 1 / math.sqrt(5)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.1 * bound  # uniform over the bound
    assert m.all_weights[3][1] is m.weight_hh_l1_reverse
    assert [n for n, _ in cls(3, 5, bias=False).named_parameters()] == ["weight_ih_l0",
                                                                        "weight_hh_l0"]


def test_reprs_follow_torch():
    assert repr(nn.LSTM(3, 5)) == "LSTM(3, 5)"
    assert repr(nn.GRU(3, 5, 2, batch_first=True, dropout=0.5, bidirectional=True)) == (
        "GRU(3, 5, num_layers=2, batch_first=True, dropout=0.5, bidirectional=True)")
    assert repr(nn.RNNCell(3, 5, bias=False, nonlinearity="relu")) == (
        "RNNCell(3, 5, bias=False, nonlinearity=relu)")


# ---- values ---------------------------------------------------------------------------------
CASES = [(nn.LSTM, "LSTM", {}), (nn.GRU, "GRU", {}), (nn.RNN, "RNN_TANH", {}),
         (nn.RNN, "RNN_RELU", {"nonlinearity": "relu"})]


@pytest.mark.parametrize("cls, mode, extra", CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("num_layers, bidirectional, bias, batch_first",
                         [(1, False, True, False), (2, True, True, True),
                          (3, False, False, False), (2, True, False, False)],
                         ids=["1-layer", "2-bi-batch_first", "3-no-bias", "2-bi-no-bias"])
def test_sequence_layers_match_numpy_reference_from_loaded_arrays(
        cls, mode, extra, num_layers, bidirectional, bias, batch_first):
    rng = np.random.default_rng(1)
    L, N, F, H = 4, 3, 2, 5
    m = _make(cls, F, H, num_layers, bias=bias, batch_first=batch_first,
              bidirectional=bidirectional, **extra)
    # a torch state_dict exported as numpy arrays: names and shapes load as they are
    params = {k: rng.uniform(-0.6, 0.6, v.shape) for k, v in m.state_dict().items()}
    m.load_state_dict(params)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((L, N, F))
    h0 = rng.standard_normal((D * num_layers, N, H))
    c0 = rng.standard_normal((D * num_layers, N, H)) if mode == "LSTM" else None
    xin = sg.tensor(x.transpose(1, 0, 2) if batch_first else x)
    hx = (sg.tensor(h0), sg.tensor(c0)) if mode == "LSTM" else sg.tensor(h0)
    out, state = m(xin, hx)
    exp_out, exp_h, exp_c = ref_rnn(mode, params, x, h0, c0, num_layers, bidirectional)
    np.testing.assert_allclose(_np(out), exp_out.transpose(1, 0, 2) if batch_first else exp_out,
                               rtol=1e-10, atol=1e-12)
    h_n = state[0] if mode == "LSTM" else state
    np.testing.assert_allclose(_np(h_n), exp_h, rtol=1e-10, atol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(_np(state[1]), exp_c, rtol=1e-10, atol=1e-12)
    # the output's last step is the last layer's forward h_n (and step 0 its reverse one)
    seq = exp_out
    np.testing.assert_allclose(seq[-1, :, :H], exp_h[(num_layers - 1) * D])
    if bidirectional:
        np.testing.assert_allclose(seq[0, :, H:], exp_h[-1])


CELLS = [(nn.LSTMCell, "LSTM", {}), (nn.GRUCell, "GRU", {}), (nn.RNNCell, "RNN_TANH", {}),
         (nn.RNNCell, "RNN_RELU", {"nonlinearity": "relu"})]


@pytest.mark.parametrize("cls, mode, extra", CELLS, ids=[c[1] for c in CELLS])
def test_cells_match_numpy_reference(cls, mode, extra):
    rng = np.random.default_rng(2)
    cell = _make(cls, 3, 4, **extra)
    p = {k: _np(v) for k, v in cell.state_dict().items()}
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    exp_h, exp_c = ref_step(mode, x, h, c, p["weight_ih"], p["weight_hh"], p["bias_ih"],
                            p["bias_hh"])
    if mode == "LSTM":
        got_h, got_c = cell(sg.tensor(x), (sg.tensor(h), sg.tensor(c)))
        np.testing.assert_allclose(_np(got_c), exp_c, rtol=1e-12)
        # unbatched: 1-D input and states give 1-D results
        uh, uc = cell(sg.tensor(x[0]), (sg.tensor(h[0]), sg.tensor(c[0])))
        assert uh.shape == uc.shape == (4,)
        np.testing.assert_allclose(_np(uc), exp_c[0], rtol=1e-12)
    else:
        got_h = cell(sg.tensor(x), sg.tensor(h))
        uh = cell(sg.tensor(x[0]), sg.tensor(h[0]))
    np.testing.assert_allclose(_np(got_h), exp_h, rtol=1e-12)
    np.testing.assert_allclose(_np(uh), exp_h[0], rtol=1e-12)
    # hx=None is zeros
    zero_h, zero_c = ref_step(mode, x, 0 * h, 0 * c, p["weight_ih"], p["weight_hh"],
                              p["bias_ih"], p["bias_hh"])
    got = cell(sg.tensor(x))
    np.testing.assert_allclose(_np(got[0] if mode == "LSTM" else got), zero_h, rtol=1e-12)


# ---- gradients ------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, extra", [(nn.LSTMCell, {}), (nn.GRUCell, {}), (nn.RNNCell, {}),
                                        (nn.RNNCell, {"nonlinearity": "relu"})],
                         ids=["LSTMCell", "GRUCell", "RNNCell", "RNNCell-relu"])
def test_cells_gradcheck_float64(cls, extra):
    sg.manual_seed(3)
    cell = _make(cls, 3, 2, **extra)
    x = sg.randn(4, 3, dtype=sg.float64, requires_grad=True)
    h = sg.randn(4, 2, dtype=sg.float64, requires_grad=True)
    c = sg.randn(4, 2, dtype=sg.float64, requires_grad=True)
    if cls is nn.LSTMCell:
        gradcheck(lambda x, h, c, *_: cell(x, (h, c)), [x, h, c, *cell.parameters()])
    else:
        gradcheck(lambda x, h, *_: cell(x, h), [x, h, *cell.parameters()])


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU], ids=lambda c: c.__name__)
def test_two_layer_bidirectional_gradcheck_float64(cls):
    sg.manual_seed(4)
    m = _make(cls, 2, 2, num_layers=2, bidirectional=True)
    x = sg.randn(3, 2, 2, dtype=sg.float64, requires_grad=True)
    h = sg.randn(4, 2, 2, dtype=sg.float64, requires_grad=True)
    c = sg.randn(4, 2, 2, dtype=sg.float64, requires_grad=True)
    if cls is nn.LSTM:
        def fn(x, h, c, *_):
            out, (h_n, c_n) = m(x, (h, c))
            return out, h_n, c_n
        gradcheck(fn, [x, h, c, *m.parameters()], directions=3)
    else:
        gradcheck(lambda x, h, *_: m(x, h), [x, h, *m.parameters()], directions=3)


# ---- shapes and defaults --------------------------------------------------------------------
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN], ids=lambda c: c.__name__)
def test_shapes_batch_first_unbatched_and_zero_default_state(cls):
    sg.manual_seed(5)
    m = _make(cls, 3, 4, num_layers=2, bidirectional=True)
    x = sg.randn(6, 2, 3, dtype=sg.float64)
    out, state = m(x)
    h_n = state[0] if cls is nn.LSTM else state
    assert out.shape == (6, 2, 8) and h_n.shape == (4, 2, 4)
    zeros = sg.zeros(4, 2, 4, dtype=sg.float64)
    out0, _ = m(x, (zeros, zeros) if cls is nn.LSTM else zeros)
    np.testing.assert_array_equal(_np(out), _np(out0))  # h0 (and c0) default to zeros
    # unbatched (L, F): the batched result of a batch of one, without its batch dim
    one, st = m(x[:, :1])
    u, ust = m(x[:, 0])
    assert u.shape == (6, 8)
    np.testing.assert_allclose(_np(u), _np(one)[:, 0], rtol=1e-12)
    uh = ust[0] if cls is nn.LSTM else ust
    assert uh.shape == (4, 4)
    np.testing.assert_allclose(_np(uh), _np(st[0] if cls is nn.LSTM else st)[:, 0], rtol=1e-12)
    # batch_first: (N, L, F) in and out, the states stay (D * layers, N, H)
    bf = _make(cls, 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    bf.load_state_dict(m.state_dict())
    out_bf, st_bf = bf(x.transpose(0, 1))
    assert out_bf.shape == (2, 6, 8)
    np.testing.assert_allclose(_np(out_bf), _np(out).transpose(1, 0, 2), rtol=1e-12)
    np.testing.assert_allclose(_np(st_bf[0] if cls is nn.LSTM else st_bf), _np(h_n),
                               rtol=1e-12)
    one_layer, h1 = _make(cls, 3, 4)(x)
    assert one_layer.shape == (6, 2, 4)


def test_backward_reaches_every_parameter_and_input():
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = sg.randn(5, 2, 3, requires_grad=True)
    out, (h, c) = m(x)
    (out.sum() + h.sum() + c.sum()).backward()
    assert x.grad.shape == (5, 2, 3) and np.abs(x.grad.numpy()).sum() > 0
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in m.parameters())
    assert out.dtype == np.float32


# ---- dropout --------------------------------------------------------------------------------
def test_dropout_between_layers_in_training_only():
    sg.manual_seed(6)
    m = _make(nn.GRU, 3, 4, num_layers=2, dropout=0.5)
    plain = _make(nn.GRU, 3, 4, num_layers=2)
    plain.load_state_dict(m.state_dict())
    x = sg.randn(5, 2, 3, dtype=sg.float64)
    m.eval()
    np.testing.assert_array_equal(_np(m(x)[0]), _np(plain(x)[0]))
    m.train()
    a, b = _np(m(x)[0]), _np(m(x)[0])
    assert not np.allclose(a, _np(plain(x)[0])) and not np.allclose(a, b)
    # the first layer is never dropped: its final state equals the dropout-free one
    np.testing.assert_allclose(_np(m(x)[1])[0], _np(plain(x)[1])[0], rtol=1e-12)
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)


# ---- errors ---------------------------------------------------------------------------------
def test_input_and_state_errors_name_the_argument_and_expected_shape():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: expected `input` of size 3 .*\(got shape "
                                         r"\(5, 2, 7\)\)"):
        m(sg.randn(5, 2, 7))
    h, c = sg.zeros(2, 2, 4), sg.zeros(2, 2, 4)
    with pytest.raises(ValueError, match=r"LSTM: expected `hx\[0\]` of shape \(2, 2, 4\) "
                                         r"\(got \(1, 2, 4\)\)"):
        m(sg.randn(5, 2, 3), (sg.zeros(1, 2, 4), c))
    with pytest.raises(ValueError, match=r"`hx\[1\]` of shape \(2, 2, 4\) \(got \(2, 3, 4\)\)"):
        m(sg.randn(5, 2, 3), (h, sg.zeros(2, 3, 4)))
    with pytest.raises(ValueError, match=r"LSTM: expected `hx\[0\]` of shape \(2, 4\)"):
        m(sg.randn(5, 3), (h, c))  # unbatched input takes 2-D states
    with pytest.raises(TypeError, match=r"LSTM: expected `hx` to be a pair"):
        m(sg.randn(5, 2, 3), h)
    with pytest.raises(ValueError, match=r"GRU: expected `hx` of shape \(1, 2, 4\)"):
        nn.GRU(3, 4)(sg.randn(5, 2, 3), sg.zeros(2, 2, 4))
    with pytest.raises(ValueError, match=r"RNN: expected a 2-D \(unbatched\) or 3-D"):
        nn.RNN(3, 4)(sg.randn(1, 5, 2, 3))
    with pytest.raises(ValueError, match="sequence length > 0"):
        nn.RNN(3, 4)(sg.zeros(0, 2, 3))
    with pytest.raises(TypeError, match=r"GRU: expected `input` of dtype float32, the layer's "
                                        r"parameters' \(got int64\)"):
        nn.GRU(3, 4)(sg.tensor(np.ones((2, 3), np.int64)))
    # torch: "input must have the type torch.float32, got type torch.float64"
    with pytest.raises(TypeError, match=r"GRU: expected `input` of dtype float32.*\(got "
                                        r"float64\)"):
        nn.GRU(3, 4)(sg.randn(5, 2, 3, dtype=sg.float64))
    with pytest.raises(TypeError, match=r"LSTM: expected `hx\[1\]` of dtype float64.*\(got "
                                        r"float32\)"):
        x = sg.randn(5, 2, 3, dtype=sg.float64)
        nn.LSTM(3, 4).double()(x, (sg.zeros(1, 2, 4, dtype=sg.float64), sg.zeros(1, 2, 4)))
    with pytest.raises(TypeError, match=r"GRUCell: expected `hx` of dtype float32"):
        nn.GRUCell(3, 4)(sg.randn(2, 3), sg.zeros(2, 4, dtype=sg.float64))
    with pytest.raises(TypeError, match=r"GRU: expected `input` to be a Tensor"):
        nn.GRU(3, 4)(np.ones((2, 3)))


def test_cell_errors():
    with pytest.raises(ValueError, match=r"GRUCell: expected `input` of size 3 .*\(got shape "
                                         r"\(2, 5\)\)"):
        nn.GRUCell(3, 4)(sg.randn(2, 5))
    with pytest.raises(ValueError, match=r"LSTMCell: expected a 1-D \(unbatched\) or 2-D"):
        nn.LSTMCell(3, 4)(sg.randn(1, 2, 3))
    with pytest.raises(ValueError, match=r"RNNCell: expected `hx` of shape \(2, 4\) "
                                         r"\(got \(3, 4\)\)"):
        nn.RNNCell(3, 4)(sg.randn(2, 3), sg.zeros(3, 4))
    with pytest.raises(ValueError, match=r"LSTMCell: expected `hx\[1\]` of shape \(4,\)"):
        nn.LSTMCell(3, 4)(sg.randn(3), (sg.zeros(4), sg.zeros(2, 4)))


def test_constructor_errors():
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match=r"RNN: expected `nonlinearity` 'tanh' or 'relu' "
                                         r"\(got 'sigmoid'\)"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"RNNCell: expected `nonlinearity`"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"GRU: expected hidden_size >= 1 \(got 0\)"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match=r"LSTM: expected num_layers >= 1"):
        nn.LSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"GRU: expected `dropout` in \[0, 1\] \(got 1.5\)"):
        nn.GRU(3, 4, 2, dropout=1.5)
    with pytest.raises(TypeError, match=r"LSTM: expected a bool bidirectional"):
        nn.LSTM(3, 4, bidirectional="yes")
