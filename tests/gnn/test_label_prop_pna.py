"""LabelPropagation, CorrectAndSmooth and PNAConv against numpy transcriptions of PyG's forward
passes (float64, a random directed graph with a repeated edge, self loops and an isolated
node), across edge_index / SparseTensor / Graph inputs; gradient checks, PyG's state_dict keys
and named errors; label propagation and C&S on Cora, a PNA model on MUTAG."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn
from sparsegraph.gnn.label_prop import CorrectAndSmooth, LabelPropagation
from sparsegraph.gnn.pna import DegreeScalerAggregation, PNAConv
from sparsegraph.testing import gradcheck
from tests.conv_cases import random_edges
from tests.pyg_reference import pyg_scatter

N, C = 9, 3

EI = random_edges(linked=8, draws=24, loops=(2, 5))
E = EI.shape[1]


def arr(t):
    return t.detach().numpy()


def rand(*shape, seed=0, grad=False):
    t = sg.tensor(np.random.default_rng(seed).standard_normal(shape))
    return t.requires_grad_(True) if grad else t


# ---- numpy references (PyG's code, transcribed) ------------------------------------------------
def sym_norm_dense(ei, w, n):
    """PyG's gcn_norm(add_self_loops=False) as a dense (N_dst, N_src) matrix: deg = scatter(w,
    col), weight = deg^-1/2[row] * w * deg^-1/2[col]."""
    deg = pyg_scatter(w, ei[1], n, "sum")
    with np.errstate(divide="ignore"):
        dis = deg ** -0.5
    dis[np.isinf(dis)] = 0
    a = np.zeros((n, n))
    np.add.at(a, (ei[1], ei[0]), dis[ei[0]] * w * dis[ei[1]])
    return a


def raw_dense(ei, w, n):
    a = np.zeros((n, n))
    np.add.at(a, (ei[1], ei[0]), w)
    return a


def label_prop_np(y, a, num_layers, alpha, mask=None, post_step=None):
    out = y.copy()
    if mask is not None:
        out = np.zeros_like(y)
        out[mask] = y[mask]
    res = (1 - alpha) * out
    for _ in range(num_layers):
        out = alpha * (a @ out) + res
        out = np.clip(out, 0, 1) if post_step is None else post_step(out)
    return out


def correct_np(y_soft, y_true, mask, a, layers, alpha, autoscale, scale):
    numel = int(mask.sum()) if mask.dtype == bool else mask.size
    error = np.zeros_like(y_soft)
    error[mask] = y_true - y_soft[mask]
    if autoscale:
        smoothed = label_prop_np(error, a, layers, alpha, post_step=lambda x: np.clip(x, -1, 1))
        sigma = np.abs(error[mask]).sum() / numel
        with np.errstate(divide="ignore", invalid="ignore"):
            s = sigma / np.abs(smoothed).sum(1, keepdims=True)
        s[np.isinf(s) | (s > 1000)] = 1.0
        return y_soft + s * smoothed

    def fix(x):
        x[mask] = error[mask]
        return x
    return y_soft + scale * label_prop_np(error, a, layers, alpha, post_step=fix)


def lin_np(lin, x):
    return x @ arr(lin.weight).T + arr(lin.bias)


def mlp_np(seq, x):
    for m in seq:
        x = lin_np(m, x) if isinstance(m, nn.Linear) else np.maximum(x, 0)
    return x


def pna_np(conv, x, ei, aggregators, scalers, hist, e=None):
    """PyG's PNAConv.forward / message / DegreeScalerAggregation.forward in numpy."""
    n, t, f = x.shape[0], conv.towers, conv.F_in
    xt = x.reshape(n, t, f) if conv.divide_input else np.repeat(x[:, None, :], t, 1)
    h = [xt[ei[1]], xt[ei[0]]]
    if e is not None:
        h.append(np.repeat(lin_np(conv.edge_encoder, e)[:, None, :], t, 1))
    h = np.concatenate(h, -1)
    msg = np.stack([mlp_np(conv.pre_nns[i], h[:, i]) for i in range(t)], 1)
    aggs = []
    for a in aggregators:
        if a in ("var", "std"):
            mean = pyg_scatter(msg, ei[1], n, "mean")
            var = pyg_scatter(msg * msg, ei[1], n, "mean") - mean * mean
            if a == "std":
                var = np.sqrt(np.maximum(var, 1e-5))
                var[var <= np.sqrt(1e-5)] = 0.0
            aggs.append(var)
        else:
            aggs.append(pyg_scatter(msg, ei[1], n, a))
    out = np.concatenate(aggs, -1)
    bins = np.arange(hist.size)
    # PyG keeps them in float32 buffers (torch.empty(1).fill_), and so does the layer here
    lin_avg = float(np.float32((bins * hist).sum() / hist.sum()))
    log_avg = float(np.float32((np.log(bins + 1) * hist).sum() / hist.sum()))
    d = np.bincount(ei[1], minlength=n).astype(float).reshape(n, 1, 1)
    factor = {"identity": 1.0, "amplification": np.log(d + 1) / log_avg,
              "attenuation": log_avg / np.log(np.maximum(d, 1) + 1), "linear": d / lin_avg,
              "inverse_linear": lin_avg / np.maximum(d, 1)}
    out = np.concatenate([out * factor[s] for s in scalers], -1)
    out = np.concatenate([xt, out], -1)
    out = np.concatenate([mlp_np(conv.post_nns[i], out[:, i]) for i in range(t)], 1)
    return lin_np(conv.lin, out)


# ---- LabelPropagation --------------------------------------------------------------------------
def y_scores(seed=3):
    return np.random.default_rng(seed).uniform(0, 1, (N, C))


MASK = np.array([1, 0, 1, 0, 0, 1, 0, 1, 0], bool)


@pytest.mark.parametrize("mask", [None, MASK, np.flatnonzero(MASK)])
def test_label_propagation_matches_pyg_on_every_input_form(mask):
    y = y_scores()
    want = label_prop_np(y, sym_norm_dense(EI, np.ones(E), N), 4, 0.7, mask)
    lp = LabelPropagation(4, 0.7)
    m = None if mask is None else sg.tensor(mask)
    coo = sg.sparse_coo(EI[::-1].copy(), None, (N, N), dtype="float64")  # values all 1
    for name, adj in [("edge_index", EI), ("sparse", coo),
                      ("graph", sg.Graph(edge_index=EI, num_nodes=N))]:
        got = lp(sg.tensor(y), adj, mask=m)
        assert got.dtype == np.float64
        np.testing.assert_allclose(arr(got), want, atol=1e-12, err_msg=name)


def test_label_propagation_weights_class_ids_and_post_step():
    y = y_scores()
    w = np.random.default_rng(1).uniform(0.1, 1.0, E)
    lp = LabelPropagation(3, 0.9)
    # PyG: an edge_weight is taken as is, unnormalised (edge_index and SparseTensor alike)
    want = label_prop_np(y, raw_dense(EI, w, N), 3, 0.9, MASK)
    np.testing.assert_allclose(arr(lp(sg.tensor(y), EI, MASK, sg.tensor(w))), want, atol=1e-12)
    valued = sg.sparse_coo(EI[::-1].copy(), w, (N, N), dtype="float64")
    np.testing.assert_allclose(arr(lp(sg.tensor(y), valued, MASK)), want, atol=1e-12)
    # a gcn_norm-ed SparseTensor (PyG's valued adj_t) is used as it is, not normalised again
    a_hat = sg.ops.gcn_norm(sg.from_edge_index(EI, N, dtype="float64"), add_self_loops=False)
    np.testing.assert_allclose(arr(lp(sg.tensor(y), a_hat, MASK)),
                               label_prop_np(y, sym_norm_dense(EI, np.ones(E), N), 3, 0.9,
                                             MASK), atol=1e-12)
    # integer class ids: float32 one-hot rows of max(y) + 1 classes, as F.one_hot
    labels = np.array([0, 2, 1, 1, 0, 2, 2, 0, 1])
    got = lp(sg.tensor(labels), EI, MASK)
    assert got.dtype == np.float32 and got.shape == (N, 3)
    np.testing.assert_allclose(arr(got), label_prop_np(np.eye(3)[labels], sym_norm_dense(
        EI, np.ones(E), N), 3, 0.9, MASK), rtol=1e-5, atol=1e-6)
    # post_step replaces the clamp; the result has no gradient (PyG's no_grad)
    yt = sg.tensor(y * 4 - 2).requires_grad_(True)
    got = lp(yt, EI, post_step=lambda x: x.clamp_(-1.0, 1.0))
    assert not got.requires_grad
    np.testing.assert_allclose(arr(got), label_prop_np(
        y * 4 - 2, sym_norm_dense(EI, np.ones(E), N), 3, 0.9,
        post_step=lambda x: np.clip(x, -1, 1)), atol=1e-12)
    assert repr(lp) == "LabelPropagation(num_layers=3, alpha=0.9)"
    assert list(lp.state_dict()) == []


@pytest.mark.parametrize("make, kind, message", [
    (lambda: LabelPropagation(-1, 0.5), ValueError, "LabelPropagation: expected `num_layers`"),
    (lambda: LabelPropagation(2, "a"), TypeError, "LabelPropagation: expected `alpha`"),
    (lambda: LabelPropagation(2, 0.5)(sg.tensor(y_scores()), EI, mask=np.ones(4, bool)),
     ValueError, "bool `mask` of shape (9,)"),
    (lambda: LabelPropagation(2, 0.5)(sg.tensor(y_scores()), EI, mask=np.array([0, 9])),
     ValueError, "`mask` node indices in [0, 9) (got 9)"),
    (lambda: LabelPropagation(2, 0.5)(sg.tensor(y_scores()), EI, mask=np.array([0.5])),
     TypeError, "expected `mask` to be a bool mask or a 1-D index"),
    (lambda: LabelPropagation(2, 0.5)(sg.tensor(np.ones((N, 2, 2))), EI), ValueError,
     "expected `y` of shape (N, C)"),
    (lambda: LabelPropagation(2, 0.5)(y_scores(), EI), TypeError, "expected `y` to be a Tensor"),
    (lambda: LabelPropagation(2, 0.5)(sg.tensor(y_scores()), EI, post_step=3), TypeError,
     "`post_step` to be callable"),
    (lambda: LabelPropagation(2, 0.5)(sg.tensor(y_scores()), EI, post_step=lambda x: None),
     TypeError, "`post_step` to return a Tensor (got NoneType)"),
    (lambda: LabelPropagation(2, 0.5)(sg.tensor(y_scores()[:5]), sg.from_edge_index(EI, N)),
     ValueError, "LabelPropagation"),
])
def test_label_propagation_errors(make, kind, message):
    with pytest.raises(kind) as err:
        make()
    assert message in str(err.value)


# ---- CorrectAndSmooth --------------------------------------------------------------------------
@pytest.mark.parametrize("autoscale", [True, False])
@pytest.mark.parametrize("mask", [MASK, np.flatnonzero(MASK)])
def test_correct_and_smooth_match_pyg(autoscale, mask):
    rng = np.random.default_rng(5)
    z = rng.dirichlet(np.ones(C), N)  # soft predictions
    labels = rng.integers(0, C, int(MASK.sum()))
    y_true = np.eye(C)[labels]
    a = sym_norm_dense(EI, np.ones(E), N)
    cs = CorrectAndSmooth(3, 0.8, 4, 0.6, autoscale=autoscale, scale=2.5)
    fixed = correct_np(z, y_true, mask, a, 3, 0.8, autoscale, 2.5)
    got = cs.correct(sg.tensor(z), sg.tensor(labels), sg.tensor(mask), EI)
    np.testing.assert_allclose(arr(got), fixed, atol=1e-12)
    assert not np.allclose(fixed, z)  # the correction did something
    smoothed_in = fixed.copy()
    smoothed_in[mask] = y_true
    want = label_prop_np(smoothed_in, a, 4, 0.6)
    got = cs.smooth(sg.tensor(fixed), sg.tensor(y_true), mask, EI)
    np.testing.assert_allclose(arr(got), want, atol=1e-12)
    # forward = smooth(correct(...)), with the same arguments (y_true as rows here)
    np.testing.assert_allclose(arr(cs(sg.tensor(z), sg.tensor(y_true), mask, EI)), want,
                               atol=1e-12)
    assert "correct: num_layers=3, alpha=0.8" in repr(cs)
    assert list(cs.state_dict()) == []


def test_correct_autoscale_zero_residual_keeps_predictions():
    """A base model exact on the training nodes: PyG's 0 / 0 scale would give NaN rows; the
    scale is 1 there, so the predictions come back unchanged."""
    z = np.eye(C)[np.arange(N) % C]
    cs = CorrectAndSmooth(2, 0.5, 2, 0.5)
    got = cs.correct(sg.tensor(z), sg.tensor(np.arange(N)[MASK] % C), MASK, EI)
    np.testing.assert_array_equal(arr(got), z)


@pytest.mark.parametrize("call, kind, message", [
    (lambda cs: cs.correct(sg.tensor(y_scores()), sg.tensor(np.zeros(3, np.int64)), MASK, EI),
     ValueError, "CorrectAndSmooth.correct: expected `y_true` with 4 rows"),
    (lambda cs: cs.smooth(sg.tensor(y_scores()), sg.tensor(np.zeros((4, 5))), MASK, EI),
     ValueError, "CorrectAndSmooth.smooth: expected `y_true` class ids (4,) or rows (4, 3)"),
    (lambda cs: cs.correct(sg.tensor(np.zeros(N, np.int64)), sg.tensor(np.zeros(4)), MASK, EI),
     ValueError, "expected float `y_soft` of shape (N, C)"),
    (lambda cs: cs.smooth(sg.tensor(y_scores()), np.zeros(4), MASK, EI), TypeError,
     "expected `y_true` to be a Tensor"),
])
def test_correct_and_smooth_errors(call, kind, message):
    with pytest.raises(kind) as err:
        call(CorrectAndSmooth(2, 0.5, 2, 0.5))
    assert message in str(err.value)


# ---- PNAConv -----------------------------------------------------------------------------------
AGGRS = ["mean", "min", "max", "std", "var", "sum"]
SCALERS = ["identity", "amplification", "attenuation", "linear", "inverse_linear"]
HIST = np.array([1, 4, 3, 1])


def make_pna(**kw):
    sg.manual_seed(0)
    args = dict(aggregators=AGGRS, scalers=SCALERS, deg=sg.tensor(HIST))
    args.update(kw)
    return PNAConv(**args).to("float64")


@pytest.mark.parametrize("kw", [
    dict(in_channels=4, out_channels=6),
    dict(in_channels=4, out_channels=6, towers=2, divide_input=True, edge_dim=3, pre_layers=2,
         post_layers=3),
    dict(in_channels=4, out_channels=4, towers=2, edge_dim=2, aggregators=["max", "std"],
         scalers=["attenuation"]),
])
def test_pna_matches_pyg(kw):
    conv = make_pna(**kw)
    x = rand(N, 4)
    e = np.random.default_rng(1).standard_normal((E, kw["edge_dim"])) if "edge_dim" in kw \
        else None
    want = pna_np(conv, arr(x), EI, kw.get("aggregators", AGGRS), kw.get("scalers", SCALERS),
                  HIST, e)
    got = conv(x, EI, None if e is None else sg.tensor(e))
    assert got.shape == (N, kw["out_channels"])
    np.testing.assert_allclose(arr(got), want, atol=1e-10)
    # a SparseTensor / Graph: its edges sorted by target, edge_attr in that order (a COO
    # SparseTensor's (E, D) values are read as edge_attr, as PyG reads an adj_t's values)
    order = np.lexsort((EI[0], EI[1]))
    g = sg.Graph(edge_index=EI[:, order], num_nodes=N,
                 **({} if e is None else {"edge_attr": sg.tensor(e[order])}))
    np.testing.assert_allclose(arr(conv(x, g)), want, atol=1e-10)
    sp = sg.sparse_coo(EI[::-1].copy(), e, (N, N), dtype="float64")
    np.testing.assert_allclose(arr(conv(x, sp)), want, atol=1e-10)


@pytest.mark.parametrize("train_norm", [False, True])
def test_pna_gradcheck_inputs_and_parameters(train_norm):
    conv = make_pna(in_channels=3, out_channels=4, towers=2, edge_dim=2, pre_layers=2,
                    post_layers=2, train_norm=train_norm,
                    aggregators=["mean", "max", "std", "sum"])
    x, e = rand(N, 3, grad=True), rand(E, 2, seed=1, grad=True)
    params = [p for p in conv.parameters() if p.requires_grad]
    assert any(p is conv.aggr_module.avg_deg_log for p in params) == train_norm
    assert gradcheck(lambda *ts: conv(ts[0], EI, ts[1]), [x, e, *params])


def test_pna_state_dict_repr_and_degree_histogram():
    conv = PNAConv(4, 6, AGGRS, SCALERS, sg.tensor(HIST), edge_dim=3, towers=2, pre_layers=2)
    assert list(conv.state_dict()) == [
        "aggr_module.avg_deg_lin", "aggr_module.avg_deg_log", "edge_encoder.weight",
        "edge_encoder.bias", "pre_nns.0.0.weight", "pre_nns.0.0.bias", "pre_nns.0.2.weight",
        "pre_nns.0.2.bias", "pre_nns.1.0.weight", "pre_nns.1.0.bias", "pre_nns.1.2.weight",
        "pre_nns.1.2.bias", "post_nns.0.0.weight", "post_nns.0.0.bias", "post_nns.1.0.weight",
        "post_nns.1.0.bias", "lin.weight", "lin.bias"]
    assert tuple(conv.post_nns[0][0].weight.shape) == (3, (6 * 5 + 1) * 4)
    assert tuple(conv.pre_nns[1][0].weight.shape) == (4, 3 * 4)
    assert isinstance(conv.pre_nns[0][1], nn.ReLU)
    assert repr(conv) == "PNAConv(4, 6, towers=2, edge_dim=3)"
    np.testing.assert_allclose(arr(conv.aggr_module.avg_deg_lin), [(4 + 6 + 3) / 9], rtol=1e-6)
    # act by name with keywords, or as a Module
    leaky = PNAConv(2, 2, ["sum"], ["identity"], HIST, post_layers=2, act="leaky_relu",
                    act_kwargs={"negative_slope": 0.2})
    assert isinstance(leaky.post_nns[0][1], nn.LeakyReLU)
    assert leaky.post_nns[0][1].negative_slope == 0.2
    # PyG's get_degree_histogram: in-degrees of every graph, counted together
    g1 = sg.Graph(edge_index=np.array([[0, 1, 2], [1, 2, 1]]), num_nodes=4)  # in: 0 2 1 0
    g2 = sg.Graph(edge_index=EI, num_nodes=N)
    want = np.bincount(np.concatenate([[0, 2, 1, 0], np.bincount(EI[1], minlength=N)]))
    got = PNAConv.get_degree_histogram([g1, g2])
    assert got.dtype == np.int64
    np.testing.assert_array_equal(arr(got), want)
    np.testing.assert_array_equal(arr(PNAConv.get_degree_histogram([g2, g1])), want)


def test_degree_scaler_aggregation_by_ptr_equals_by_index():
    aggr = DegreeScalerAggregation(["mean", "max"], SCALERS, HIST).to("float64")
    idx = np.sort(EI[1])
    x = rand(E, 3)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(idx, minlength=N))])
    by_index = aggr(x, sg.tensor(idx), dim_size=N, dim=0)
    np.testing.assert_allclose(arr(aggr(x, ptr=sg.tensor(ptr), dim=0)), arr(by_index),
                               atol=1e-12)
    assert by_index.shape == (N, 3 * 2 * 5)


@pytest.mark.parametrize("make, kind, message", [
    (lambda: PNAConv(4, 5, AGGRS, SCALERS, HIST, towers=2), ValueError,
     "PNAConv: expected `out_channels` a multiple of `towers`=2 (got 5)"),
    (lambda: PNAConv(3, 4, AGGRS, SCALERS, HIST, towers=2, divide_input=True), ValueError,
     "expected `in_channels` a multiple of `towers`=2"),
    (lambda: PNAConv(4, 4, AGGRS, ["cubic"], HIST), ValueError,
     "DegreeScalerAggregation: expected `scaler` to be one of"),
    (lambda: PNAConv(4, 4, ["median2"], SCALERS, HIST), ValueError, "aggregation_resolver"),
    (lambda: PNAConv(4, 4, [], SCALERS, HIST), ValueError, "PNAConv: expected `aggregators`"),
    (lambda: PNAConv(4, 4, AGGRS, SCALERS, np.zeros(3)), ValueError,
     "DegreeScalerAggregation: expected `deg` to be a 1-D histogram"),
    (lambda: PNAConv(4, 4, AGGRS, SCALERS, HIST, pre_layers=0), ValueError,
     "PNAConv: expected `pre_layers` to be an int >= 1"),
    (lambda: PNAConv(4, 4, AGGRS, SCALERS, HIST, pre_layers=2, act="nope"), ValueError,
     "PNAConv: expected `act`"),
    (lambda: PNAConv(4, 4, AGGRS, SCALERS, HIST)(rand(N, 4), EI, rand(E, 2)), ValueError,
     "built without `edge_dim`; pass edge_dim=2"),
    (lambda: PNAConv(4, 4, AGGRS, SCALERS, HIST, edge_dim=2)(rand(N, 4), EI), ValueError,
     "PNAConv: expected `edge_attr` of shape (E, 2)"),
    (lambda: PNAConv(4, 4, AGGRS, SCALERS, HIST, edge_dim=2)(rand(N, 4), EI, rand(E, 3)),
     ValueError, f"expected `edge_attr` of shape (E, 2) (got shape ({E}, 3))"),
    (lambda: PNAConv(4, 4, AGGRS, SCALERS, HIST)(rand(N, 5), EI), ValueError, "PNAConv"),
])
def test_pna_errors(make, kind, message):
    with pytest.raises(kind) as err:
        make()
    assert message in str(err.value)


# ---- real data ---------------------------------------------------------------------------------
def test_label_propagation_on_cora(data_root):
    """Train labels only (140 nodes): about 70 % test accuracy (Zhu & Ghahramani's LP on the
    Planetoid split), the numpy reference's prediction on every node."""
    from sparsegraph.datasets import Planetoid

    g = Planetoid("cora", root=data_root, download=False)[0]
    y, test = g.y.numpy(), g.test_mask.numpy()
    out = LabelPropagation(num_layers=10, alpha=0.9)(g.y, g.edge_index, mask=g.train_mask)
    acc = float((arr(out).argmax(1)[test] == y[test]).mean())
    assert 0.65 <= acc <= 0.76, acc
    ei = np.asarray(g.edge_index)
    want = label_prop_np(np.eye(7)[y], sym_norm_dense(ei, np.ones(ei.shape[1]), g.num_nodes),
                         10, 0.9, g.train_mask.numpy())
    np.testing.assert_allclose(arr(out), want, atol=1e-5)


def test_correct_and_smooth_improves_an_mlp_on_cora(data_root):
    from sparsegraph.datasets import Planetoid

    sg.manual_seed(0)
    g = Planetoid("cora", root=data_root, download=False, normalize_features=True)[0]
    x, y, test = g.x.to_dense(), g.y, g.test_mask.numpy()
    train = np.flatnonzero(g.train_mask.numpy())
    mlp = nn.Sequential(nn.Linear(x.shape[1], 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 7))
    opt = sg.optim.Adam(mlp.parameters(), lr=0.01, weight_decay=5e-4)
    for _ in range(100):
        loss = sg.ops.cross_entropy(mlp(x)[train], y[train])
        opt.zero_grad()
        loss.backward()
        opt.step()
    mlp.eval()
    with sg.no_grad():
        y_soft = mlp(x).softmax(dim=-1)

    def acc(p):
        return float((arr(p).argmax(1)[test] == y.numpy()[test]).mean())

    cs = CorrectAndSmooth(50, 1.0, 50, 0.8, autoscale=False, scale=20.0)  # PyG's example
    corrected = cs.correct(y_soft, y[train], train, g.edge_index)
    final = cs.smooth(corrected, y[train], train, g.edge_index)
    assert acc(final) >= acc(y_soft) + 0.1, (acc(y_soft), acc(corrected), acc(final))
    auto = CorrectAndSmooth(50, 0.8, 50, 0.8)(y_soft, y[train], g.train_mask, g.edge_index)
    assert acc(auto) >= acc(y_soft) + 0.1, (acc(y_soft), acc(auto))


def test_pna_model_trains_on_mutag(data_root):
    from sparsegraph.datasets import GraphLoader, TUDataset
    from sparsegraph.gnn import global_add_pool

    sg.manual_seed(0)
    ds = TUDataset("MUTAG", root=data_root, download=False)
    graphs = [ds[i] for i in range(len(ds))]
    deg = PNAConv.get_degree_histogram(graphs)
    assert int(arr(deg).sum()) == sum(g.num_nodes for g in graphs)
    hidden = 16
    convs = [PNAConv(c, hidden, ["mean", "min", "max", "std"],
                     ["identity", "amplification", "attenuation"], deg, edge_dim=4, towers=2)
             for c in (ds.num_features, hidden)]
    head = nn.Linear(hidden, 2)
    opt = sg.optim.Adam([p for m in (*convs, head) for p in m.parameters()], lr=0.005)

    def forward(b):
        h = b.x
        for conv in convs:
            h = conv(h, b.edge_index, b.edge_attr).relu()
        return head(global_add_pool(h, b.batch))

    def accuracy():
        b = next(iter(GraphLoader(graphs, batch_size=len(graphs))))
        with sg.no_grad():
            return float((arr(forward(b)).argmax(1) == b.y.numpy()).mean())

    losses = []
    for epoch in range(8):
        total = 0.0
        for b in GraphLoader(graphs, batch_size=32, shuffle=True, seed=epoch):
            loss = sg.ops.cross_entropy(forward(b), b.y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.item())
        losses.append(total)
    assert losses[-1] < 0.8 * losses[0], losses
    assert accuracy() >= 0.75


def test_on_emulated_cuda_the_results_match_the_cpu(emulated_cuda):
    """Masks, histograms and degrees computed on the device's array module (CuPy emulated on
    numpy): LabelPropagation, C&S and PNAConv give the CPU's results on "cuda"."""
    y = sg.tensor(y_scores())
    lp = LabelPropagation(3, 0.8)
    want = arr(lp(y, EI, mask=MASK))
    got = lp(y.to("cuda"), EI, mask=sg.tensor(MASK).to("cuda"))
    assert got.device.type == "cuda"
    np.testing.assert_allclose(arr(got.cpu()), want, atol=1e-12)
    cs = CorrectAndSmooth(2, 0.8, 2, 0.5)
    labels = sg.tensor(np.arange(4) % C)
    want = arr(cs(y, labels, MASK, EI))
    got = cs(y.to("cuda"), labels.to("cuda"), sg.tensor(MASK).to("cuda"), EI)
    np.testing.assert_allclose(arr(got.cpu()), want, atol=1e-12)
    conv = make_pna(in_channels=4, out_channels=4, towers=2, edge_dim=2)
    x, e = rand(N, 4), rand(E, 2, seed=1)
    want = arr(conv(x, EI, e))
    conv = conv.to("cuda")
    got = conv(x.to("cuda"), EI, e.to("cuda"))
    assert got.device.type == "cuda"
    np.testing.assert_allclose(arr(got.cpu()), want, atol=1e-10)
