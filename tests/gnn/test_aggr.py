"""PyG's aggregations (torch_geometric.nn.aggr): values against numpy references of PyG's
formulas on a batch with an unsorted index and graphs without nodes, the ptr path, float64
gradchecks, PyG's state_dict keys and reprs, a Set2Set graph classifier on MUTAG, errors."""

import math

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph.gnn import (
    Aggregation,
    AttentionalAggregation,
    GlobalAttention,
    GraphConv,
    MaxAggregation,
    MeanAggregation,
    MinAggregation,
    MultiAggregation,
    PowerMeanAggregation,
    Set2Set,
    SoftmaxAggregation,
    SortAggregation,
    StdAggregation,
    SumAggregation,
    VarAggregation,
    global_sort_pool,
)
from sparsegraph.gnn.aggr import aggregation_resolver
from sparsegraph.nn import Linear, ReLU, Sequential
from sparsegraph.testing import gradcheck

INDEX = np.array([3, 0, 3, 1, 0, 3, 1, 3])  # unsorted; graphs 2 and 4 have no nodes
B = 5
N = len(INDEX)


def _x(seed=0, n=N, f=3, grad=False, positive=False):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 3.0, (n, f)) if positive else rng.standard_normal((n, f))
    return sg.tensor(a, dtype=sg.float64, requires_grad=grad)


def _np(t):
    return t.detach().numpy()


def _groups(index=INDEX, b=B):
    return [np.flatnonzero(index == g) for g in range(b)]


def ref(x, fn, index=INDEX, b=B, width=None):
    """``fn`` over every group's rows (loops allowed in a reference); 0 for empty groups."""
    width = x.shape[1] if width is None else width
    return np.stack([fn(x[m]) if m.size else np.zeros(width) for m in _groups(index, b)])


def ref_var(v):
    return (v * v).mean(0) - v.mean(0) ** 2


def ref_std(v):
    out = np.sqrt(np.maximum(ref_var(v), 1e-5))
    return np.where(out <= math.sqrt(1e-5), 0.0, out)


def ref_softmax(v, t=1.0):
    w = np.exp(t * v - (t * v).max(0))
    return (v * w / w.sum(0)).sum(0)


def ref_powermean(v, p):
    return np.clip(np.clip(v, 0, 100) ** p, 0, None).mean(0).clip(0, 100) ** (1 / p)


SIMPLE = [(SumAggregation, lambda v: v.sum(0)), (MeanAggregation, lambda v: v.mean(0)),
          (MaxAggregation, lambda v: v.max(0)), (MinAggregation, lambda v: v.min(0)),
          (VarAggregation, ref_var), (StdAggregation, ref_std)]


@pytest.mark.parametrize("cls, fn", SIMPLE, ids=[c.__name__ for c, _ in SIMPLE])
def test_simple_aggregations_match_numpy(cls, fn):
    x = _x()
    out = cls()(x, sg.tensor(INDEX), dim_size=B)
    assert out.shape == (B, 3)
    np.testing.assert_allclose(_np(out), ref(_np(x), fn), rtol=1e-12, atol=1e-12)
    # the ptr path over the same rows grouped by graph gives the same groups
    order = np.argsort(INDEX, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(INDEX, minlength=B))])
    by_ptr = cls()(x[sg.tensor(order)], ptr=sg.tensor(ptr))
    np.testing.assert_allclose(_np(by_ptr), _np(out), rtol=1e-12, atol=1e-12)


def test_default_dim_size_index_none_and_other_dim():
    x = _x()
    assert SumAggregation()(x, INDEX).shape == (4, 3)  # max(index) + 1
    np.testing.assert_allclose(_np(MeanAggregation()(x)), _np(x).mean(0, keepdims=True))
    assert SumAggregation()(x[:0]).shape == (0, 3)  # PyG: no index, no rows -> no groups
    # dim=1 of a (2, N, F) tensor, as PyG's scatter along dim
    x3 = sg.tensor(np.random.default_rng(1).standard_normal((2, len(INDEX), 3)))
    out = MaxAggregation()(x3, INDEX, dim_size=B, dim=1)
    expected = np.stack([ref(a, lambda v: v.max(0)) for a in _np(x3)])
    np.testing.assert_allclose(_np(out), expected)


def test_std_of_constant_group_is_zero_with_zero_gradient():
    x = sg.tensor([[2.0], [2.0], [1.0], [3.0]], dtype=sg.float64, requires_grad=True)
    out = StdAggregation()(x, [0, 0, 1, 1])
    np.testing.assert_allclose(_np(out)[:, 0], [0.0, 1.0])
    out.sum().backward()
    np.testing.assert_allclose(_np(x.grad)[:2, 0], [0.0, 0.0])
    assert np.isfinite(_np(x.grad)).all()


@pytest.mark.parametrize("t", [1.0, 0.5, 3.0])
def test_softmax_aggregation_matches_numpy(t):
    x = _x()
    out = SoftmaxAggregation(t=t)(x, INDEX, dim_size=B)
    np.testing.assert_allclose(_np(out), ref(_np(x), lambda v: ref_softmax(v, t)), rtol=1e-12)


def test_softmax_per_channel_t_and_semi_grad():
    x = _x()
    agg = SoftmaxAggregation(t=0.7, learn=True, channels=3).double()
    assert list(agg.state_dict()) == ["t"] and agg.t.shape == (3,)
    with sg.no_grad():
        agg.t.copy_(sg.tensor([0.5, 1.0, 2.0], dtype=sg.float64))
    out = agg(x, INDEX, dim_size=B)
    expected = np.stack([ref(_np(x)[:, [c]], lambda v, t=t: ref_softmax(v, t))[:, 0]
                         for c, t in enumerate([0.5, 1.0, 2.0])], axis=1)
    np.testing.assert_allclose(_np(out), expected, rtol=1e-12)
    agg.reset_parameters()
    np.testing.assert_array_equal(_np(agg.t), [0.7] * 3)
    # semi_grad: the weights carry no gradient, so d out / d x is the weights themselves
    xs = _x(grad=True)
    SoftmaxAggregation(semi_grad=True)(xs, INDEX).sum().backward()
    weights = np.concatenate([np.exp(v - v.max(0)) / np.exp(v - v.max(0)).sum(0)
                              for v in [_np(xs)[m] for m in _groups(INDEX, 4)] if v.size])
    order = np.concatenate([m for m in _groups(INDEX, 4) if m.size])
    np.testing.assert_allclose(_np(xs.grad)[order], weights, rtol=1e-12)


@pytest.mark.parametrize("p", [1.0, 2.0, 0.5])
def test_powermean_matches_numpy(p):
    x = _x()  # negative features are clamped to 0 (PyG), except for p == 1 (the mean)
    out = PowerMeanAggregation(p=p)(x, INDEX, dim_size=B)
    fn = (lambda v: v.mean(0)) if p == 1.0 else (lambda v: ref_powermean(v, p))
    np.testing.assert_allclose(_np(out), ref(_np(x), fn), rtol=1e-12)


def test_learned_p_and_t_gradcheck():
    x = _x(grad=True, positive=True)
    pm = PowerMeanAggregation(p=1.5, learn=True, channels=3).double()
    assert list(pm.state_dict()) == ["p"]
    assert gradcheck(lambda a, p: pm(a, INDEX, dim_size=B), [x, pm.p])
    sm = SoftmaxAggregation(t=0.8, learn=True).double()
    assert gradcheck(lambda a, t: sm(a, INDEX, dim_size=B), [x, sm.t])


@pytest.mark.parametrize("make", [SumAggregation, MeanAggregation, MaxAggregation,
                                  MinAggregation, VarAggregation, StdAggregation,
                                  lambda: SoftmaxAggregation(t=2.0),
                                  lambda: PowerMeanAggregation(p=2.0),
                                  lambda: MultiAggregation(["mean", "std", "max"])])
def test_gradcheck(make):
    x = _x(grad=True, positive=True)  # distinct values: max / min have a unique arg
    aggr = make()
    assert gradcheck(lambda a: aggr(a, INDEX, dim_size=B), [x])
    assert gradcheck(lambda a: aggr(a, ptr=[0, 3, 3, 8]), [x])


def _gate():
    return Sequential(Linear(3, 4), ReLU(), Linear(4, 1)).double()


def test_attentional_aggregation_matches_numpy_and_gradcheck():
    sg.manual_seed(0)
    gate, nn = _gate(), Linear(3, 5).double()
    agg = AttentionalAggregation(gate, nn)
    assert list(agg.state_dict()) == ["gate_nn.0.weight", "gate_nn.0.bias", "gate_nn.2.weight",
                                      "gate_nn.2.bias", "nn.weight", "nn.bias"]
    x = _x(grad=True)
    out = agg(x, INDEX, dim_size=B)
    p = {k: _np(v) for k, v in agg.state_dict().items()}
    xa = _np(x)
    score = np.maximum(xa @ p["gate_nn.0.weight"].T + p["gate_nn.0.bias"], 0)
    score = score @ p["gate_nn.2.weight"].T + p["gate_nn.2.bias"]
    h = xa @ p["nn.weight"].T + p["nn.bias"]
    expected = np.zeros((B, 5))
    for g, m in enumerate(_groups()):
        if m.size:
            w = np.exp(score[m] - score[m].max())
            expected[g] = (w / w.sum() * h[m]).sum(0)
    np.testing.assert_allclose(_np(out), expected, rtol=1e-12)
    assert gradcheck(lambda a: agg(a, INDEX, dim_size=B), [x])
    assert repr(agg).startswith("AttentionalAggregation(gate_nn=Sequential(")


def test_global_attention_is_the_old_call():
    sg.manual_seed(0)
    with pytest.warns(UserWarning, match="GlobalAttention' is deprecated"):
        old = GlobalAttention(_gate())
    new = AttentionalAggregation(old.gate_nn)
    x = _x()
    np.testing.assert_allclose(_np(old(x, sg.tensor(INDEX), size=B)),
                               _np(new(x, INDEX, dim_size=B)))


def ref_lstm_step(inp, h, c, p, layer):
    w_ih, w_hh = p[f"lstm.weight_ih_l{layer}"], p[f"lstm.weight_hh_l{layer}"]
    g = inp @ w_ih.T + p[f"lstm.bias_ih_l{layer}"] + h @ w_hh.T + p[f"lstm.bias_hh_l{layer}"]
    H = h.shape[1]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    i, f, gg, o = sig(g[:, :H]), sig(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), sig(g[:, 3 * H:])
    c = f * c + i * gg
    return o * np.tanh(c), c


def ref_set2set(agg, x, index, b):
    """PyG's Set2Set.forward in numpy (groups by a loop), from the module's own weights."""
    p = {k: _np(v) for k, v in agg.state_dict().items()}
    F, L = x.shape[1], agg.lstm.num_layers
    h, c = np.zeros((L, b, F)), np.zeros((L, b, F))
    q_star = np.zeros((b, 2 * F))
    for _ in range(agg.processing_steps):
        inp = q_star
        for layer in range(L):
            h[layer], c[layer] = ref_lstm_step(inp, h[layer], c[layer], p, layer)
            inp = h[layer]
        q = inp
        r = np.zeros((b, F))
        for g, m in enumerate(_groups(index, b)):
            if m.size:
                e = x[m] @ q[g]
                a = np.exp(e - e.max())
                r[g] = (a / a.sum())[:, None].T @ x[m]
        q_star = np.concatenate([q, r], axis=1)
    return q_star


@pytest.mark.parametrize("num_layers", [1, 2])
def test_set2set_matches_numpy_and_gradcheck(num_layers):
    sg.manual_seed(0)
    agg = Set2Set(3, processing_steps=3, num_layers=num_layers).double()
    keys = [f"lstm.{w}_l{i}" for i in range(num_layers)
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert list(agg.state_dict()) == keys
    assert agg.lstm.weight_ih_l0.shape == (12, 6) and repr(agg) == "Set2Set(3, 6)"
    x = _x(grad=True)
    out = agg(x, INDEX, dim_size=B)
    assert out.shape == (B, 6)
    np.testing.assert_allclose(_np(out), ref_set2set(agg, _np(x), INDEX, B), rtol=1e-10)
    order = np.argsort(INDEX, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(np.bincount(INDEX, minlength=B))])
    np.testing.assert_allclose(_np(agg(x[sg.tensor(order)], ptr=ptr)), _np(out), rtol=1e-12)
    params = list(agg.parameters())
    assert gradcheck(lambda a, *w: agg(a, INDEX, dim_size=B), [x, *params])


def ref_sort(x, index, b, k, limit=None):
    out = np.zeros((b, k, x.shape[1]))
    for g, m in enumerate(_groups(index, b)):
        m = m[:limit]
        ranked = m[np.argsort(-x[m, -1], kind="stable")][:k]
        out[g, :ranked.size] = x[ranked]
    return out.reshape(b, -1)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_sort_aggregation_matches_numpy(k):
    x = _x(grad=True)
    x_np = _np(x)
    out = SortAggregation(k)(x, INDEX, dim_size=B)
    assert out.shape == (B, k * 3)
    np.testing.assert_array_equal(_np(out), ref_sort(x_np, INDEX, B, k))
    np.testing.assert_array_equal(
        _np(SortAggregation(k)(x, INDEX, dim_size=B, max_num_elements=2)),
        ref_sort(x_np, INDEX, B, k, limit=2))
    assert gradcheck(lambda a: SortAggregation(k)(a, INDEX, dim_size=B), [x])
    with pytest.warns(UserWarning, match="global_sort_pool' is deprecated"):
        np.testing.assert_array_equal(_np(global_sort_pool(x, sg.tensor(INDEX), k)),
                                      ref_sort(x_np, INDEX, 4, k))


def test_sort_ties_keep_node_order():
    x = sg.tensor([[1.0, 5.0], [2.0, 5.0], [3.0, 7.0]])
    np.testing.assert_array_equal(_np(SortAggregation(3)(x)), [[3, 7, 1, 5, 2, 5]])


def test_multi_aggregation_modes_and_resolver():
    x = _x()
    multi = MultiAggregation(["sum", "Mean", "power_mean"], aggrs_kwargs=[{}, {}, {"p": 2.0}])
    assert isinstance(multi.aggrs[2], PowerMeanAggregation) and multi.aggrs[2].p == 2.0
    out = multi(x, INDEX, dim_size=B)
    parts = [ref(_np(x), lambda v: v.sum(0)), ref(_np(x), lambda v: v.mean(0)),
             ref(_np(x), lambda v: ref_powermean(v, 2.0))]
    np.testing.assert_allclose(_np(out), np.concatenate(parts, 1), rtol=1e-12)
    assert multi.get_out_channels(3) == 9
    assert repr(multi) == ("MultiAggregation([\n  SumAggregation(),\n  MeanAggregation(),\n"
                           "  PowerMeanAggregation(learn=False),\n], mode=cat)")
    for mode, fn in [("sum", lambda s: s.sum(0)), ("max", lambda s: s.max(0)),
                     ("std", lambda s: s.std(0, ddof=1))]:
        out = MultiAggregation(["sum", "mean"], mode=mode)(x, INDEX, dim_size=B)
        np.testing.assert_allclose(_np(out), fn(np.stack(parts[:2])), rtol=1e-12)
    proj = MultiAggregation(["sum", "max"], mode="proj",
                            mode_kwargs={"in_channels": 3, "out_channels": 4}).double()
    assert list(proj.state_dict()) == ["lin.weight", "lin.bias"]
    p = {k: _np(v) for k, v in proj.state_dict().items()}
    cat = np.concatenate([parts[0], ref(_np(x), lambda v: v.max(0))], 1)
    np.testing.assert_allclose(_np(proj(x, INDEX, dim_size=B)),
                               cat @ p["lin.weight"].T + p["lin.bias"], rtol=1e-12)
    assert isinstance(aggregation_resolver("add"), SumAggregation)
    assert isinstance(aggregation_resolver("SoftmaxAggregation", t=2.0), SoftmaxAggregation)


def test_set2set_trains_a_mutag_classifier(data_root):
    from sparsegraph.datasets import GraphLoader, TUDataset

    ds = TUDataset("MUTAG")
    graphs = [ds[i] for i in range(96)]
    sg.manual_seed(0)
    conv1, conv2 = GraphConv(7, 32), GraphConv(32, 32)
    readout, lin = Set2Set(32, processing_steps=3), Linear(64, 2)
    params = [p for m in (conv1, conv2, readout, lin) for p in m.parameters()]
    opt = sg.optim.Adam(params, lr=0.01)

    def epoch():
        total = 0.0
        for g in GraphLoader(graphs, batch_size=32):
            h = ops.relu(conv2(ops.relu(conv1(g.x, g.edge_index)), g.edge_index))
            loss = ops.cross_entropy(lin(readout(h, g.batch, dim_size=g.num_graphs)), g.y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.item())
        return total

    losses = [epoch() for _ in range(8)]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0]
    assert all(p.grad is not None for p in readout.parameters())


@pytest.mark.parametrize("call, error, message", [
    (lambda: SumAggregation()(np.zeros((3, 2))), TypeError, "SumAggregation: expected `x`"),
    (lambda: SumAggregation()(sg.zeros(3, 2), dim=2), ValueError, "`dim` an int in"),
    (lambda: SumAggregation()(sg.zeros(3, 2), [0, 1]), ValueError, "`index` with 3 entries"),
    (lambda: MeanAggregation()(sg.zeros(3, 2), [0, -1, 0]), ValueError, "ids >= 0"),
    (lambda: MaxAggregation()(sg.zeros(3, 2), [0, 4, 0], dim_size=2), ValueError,
     "needs `dim_size` >= 5"),
    (lambda: SumAggregation()(sg.zeros(3, 2), [0.0, 1.0, 0.0]), TypeError, "`index` with an"),
    (lambda: SumAggregation()(sg.zeros(3, 2), ptr=[0, 2]), ValueError, "from 0 to 3"),
    (lambda: SumAggregation()(sg.zeros(3, 2), ptr=[0, 2, 3], dim_size=3), ValueError,
     "len\\(ptr\\) - 1 = 2"),
    (lambda: SumAggregation()(sg.zeros(3, 2), dim_size=-1), ValueError, "`dim_size`"),
    (lambda: SoftmaxAggregation(learn=True, semi_grad=True), ValueError, "semi_grad"),
    (lambda: SoftmaxAggregation(channels=4), ValueError, "needs learn=True"),
    (lambda: PowerMeanAggregation(p="2"), TypeError, "`p` to be a number"),
    (lambda: SoftmaxAggregation(learn=True, channels=4)(sg.zeros(3, 2)), ValueError,
     "channels=4"),
    (lambda: Set2Set(0, 2), ValueError, "Set2Set: expected `in_channels`"),
    (lambda: Set2Set(3, -1), ValueError, "`processing_steps`"),
    (lambda: Set2Set(3, 2, bidirectional=True), ValueError, "bidirectional"),
    (lambda: Set2Set(3, 2)(sg.zeros(4, 2)), ValueError, "in_channels=3"),
    (lambda: Set2Set(3, 2)(sg.zeros(2, 4, 3)), ValueError, "2-D `x`"),
    (lambda: SortAggregation(0), ValueError, "SortAggregation: expected `k`"),
    (lambda: SortAggregation(2)(sg.zeros(3, 0)), ValueError, "one feature channel"),
    (lambda: AttentionalAggregation(lambda x: x), TypeError, "`gate_nn` to be a Module"),
    (lambda: AttentionalAggregation(Linear(2, 3))(sg.zeros(4, 2)), ValueError,
     "scores of shape \\(4, 1\\)"),
    (lambda: MultiAggregation([]), ValueError, "non-empty list"),
    (lambda: MultiAggregation(["sum"], aggrs_kwargs=[{}, {}]), ValueError, "one dict per"),
    (lambda: MultiAggregation(["sum", "median"]), ValueError, "aggregation_resolver"),
    (lambda: MultiAggregation(["sum", "max"], mode="bogus"), ValueError, "`mode`"),
    (lambda: MultiAggregation(["sum", "max"], mode="proj"), ValueError, "in_channels"),
    (lambda: MultiAggregation(["sum", "max"], mode="attn"), NotImplementedError, "attn"),
])
def test_errors_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_base_class_and_reprs():
    assert repr(SumAggregation()) == "SumAggregation()"
    assert repr(SortAggregation(4)) == "SortAggregation(k=4)"
    assert repr(SoftmaxAggregation(learn=True)) == "SoftmaxAggregation(learn=True)"
    assert list(StdAggregation().state_dict()) == []

    class Custom(Aggregation):  # a user aggregation gets PyG's completed arguments
        def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
            return self.reduce(x, index, ptr, dim_size, dim, reduce="sum") * 2

    x = _x()
    np.testing.assert_allclose(_np(Custom()(x, INDEX)), 2 * ref(_np(x), lambda v: v.sum(0),
                                                                b=4))
