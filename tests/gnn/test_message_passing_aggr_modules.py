"""``MessagePassing(aggr=..., aggr_kwargs=...)`` as PyG's: aggregation names resolved by
``aggregation_resolver``, `Aggregation` instances (learnable ones as the ``aggr_module``
submodule), lists mixing both (PyG's MultiAggregation), the fused spmm path kept for sum /
mean; every value against a numpy reference of PyG's formula, over an edge_index in the
caller's (unsorted) order, a CSR SparseTensor and a PyG-style ``aggregate`` override."""

import copy

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.gnn.message_aggr import MulAggregation
from sparsegraph.sparse import sparse_coo
from sparsegraph.testing import gradcheck

N_SRC, N_DST, F = 6, 4, 3
# sources -> targets in an order that is not the CSR one; target 3 has no in-edge; a duplicate
EI = np.array([[4, 0, 1, 3, 1, 2, 5, 0, 1], [2, 0, 2, 1, 0, 2, 1, 2, 2]])
WEIGHTS = np.array([0.5, 2.0, -1.0, 1.5, 3.0, 0.25, -2.0, 1.0, 0.75])


def feats(n, f=F, seed=0, grad=False):
    x = np.random.default_rng(seed).standard_normal((n, f))
    return sg.tensor(x, dtype=sg.float64, requires_grad=grad)


def arr(t):
    return t.detach().numpy()


def csr(ei=EI, n_src=N_SRC, n_dst=N_DST):
    return sparse_coo(ei[::-1].copy(), np.ones(ei.shape[1]), (n_dst, n_src)).to_csr()


# ---- numpy references of PyG's aggregations, per target over its messages -------------------
def per_target(messages, index, n, fn, empty=0.0):
    out = np.full((n,) + messages.shape[1:], empty)
    for i in range(n):
        rows = messages[index == i]
        if rows.size:
            out[i] = fn(rows)
    return out


def softmax_ref(m, t=1.0):
    w = np.exp(t * m - (t * m).max(axis=0))
    return (w / w.sum(axis=0) * m).sum(axis=0)


def var_ref(m):
    return (m * m).mean(axis=0) - m.mean(axis=0) ** 2


def std_ref(m):
    out = np.sqrt(np.maximum(var_ref(m), 1e-5))
    return np.where(out <= np.sqrt(1e-5), 0.0, out)


def powermean_ref(m, p):
    mean = (np.clip(m, 0, 100) ** p).mean(axis=0)
    return np.clip(mean, 0, 100) ** (1.0 / p)


REFS = {"sum": lambda m: m.sum(0), "mean": lambda m: m.mean(0), "max": lambda m: m.max(0),
        "min": lambda m: m.min(0), "mul": lambda m: m.prod(0), "softmax": softmax_ref,
        "var": var_ref, "std": std_ref}


def reference(messages, name, index=EI[1], n=N_DST, **kw):
    return per_target(messages, index, n, lambda m: REFS[name](m, **kw),
                      empty=1.0 if name == "mul" else 0.0)


# ---- layers --------------------------------------------------------------------------------
class Weighted(gnn.MessagePassing):
    """A message of its own: ``x_j * w - x_i`` (messages differ from the source features)."""

    def forward(self, x, adj, w):
        return self.propagate(adj, x=x, w=w)

    def message(self, x_i, x_j, w):
        return x_j * w.reshape((-1, 1)) - x_i


class WeightedPygAggregate(Weighted):
    """PyG's ``aggregate(inputs, index, ptr, dim_size)`` override calling the base one."""

    def aggregate(self, inputs, index, ptr=None, dim_size=None):
        return super().aggregate(inputs, index, ptr=ptr, dim_size=dim_size)


class Copy(gnn.MessagePassing):
    def forward(self, x, adj):
        return self.propagate(adj, x=x, size=(N_SRC, N_DST))


def weighted_messages(x, y=None):
    xn = arr(x)
    yn = xn if y is None else arr(y)
    return xn[EI[0]] * WEIGHTS[:, None] - yn[EI[1]]


def run_weighted(layer_cls, form, aggr, x, **kw):
    """``layer_cls(aggr)`` over the square graph (N_SRC nodes), as an edge_index or CSR."""
    adj = EI if form == "edge_index" else csr(n_dst=N_SRC)
    w = sg.tensor(WEIGHTS if form == "edge_index" else WEIGHTS[_csr_order()], dtype=sg.float64)
    return layer_cls(aggr, **kw)(x, adj, w)


def _csr_order():
    """The CSR (by target, stable) order of EI's edges: a SparseTensor's stored entries."""
    return np.lexsort((EI[0], EI[1]))


FORMS = ["edge_index", "csr"]
LAYERS = [Weighted, WeightedPygAggregate]


# ---- a learnable SoftmaxAggregation instance -------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("layer", LAYERS, ids=lambda c: c.__name__)
def test_softmax_aggregation_instance_matches_pyg_formula(layer, form):
    x = feats(N_SRC)
    conv = layer(gnn.SoftmaxAggregation(t=1.75, learn=True))
    conv = conv.to(sg.float64)
    adj = EI if form == "edge_index" else csr(n_dst=N_SRC)
    w = WEIGHTS if form == "edge_index" else WEIGHTS[_csr_order()]
    out = conv(x, adj, sg.tensor(w, dtype=sg.float64))
    want = reference(weighted_messages(x), "softmax", n=N_SRC, t=1.75)
    np.testing.assert_allclose(arr(out), want, rtol=1e-10, atol=1e-12)
    assert not conv.uses_fused_path(adj)


@pytest.mark.parametrize("form", FORMS)
def test_softmax_t_gets_a_gradient_and_passes_gradcheck(form):
    conv = Weighted(gnn.SoftmaxAggregation(t=0.75, learn=True)).to(sg.float64)
    t = conv.aggr_module.t
    assert t.dtype == np.float64 and any(p is t for p in conv.parameters())
    adj = EI if form == "edge_index" else csr(n_dst=N_SRC)
    w = sg.tensor(WEIGHTS if form == "edge_index" else WEIGHTS[_csr_order()], dtype=sg.float64)
    x = feats(N_SRC, seed=1, grad=True)
    conv(x, adj, w).sum().backward()
    assert t.grad is not None and abs(float(t.grad.numpy()[0])) > 1e-6
    # d/dt by central differences of the numpy reference
    m, eps = weighted_messages(x), 1e-6
    numeric = (reference(m, "softmax", n=N_SRC, t=0.75 + eps).sum()
               - reference(m, "softmax", n=N_SRC, t=0.75 - eps).sum()) / (2 * eps)
    np.testing.assert_allclose(t.grad.numpy()[0], numeric, rtol=1e-6)
    # x and t together (gradcheck shifts t in place, through the module)
    gradcheck(lambda x_, t_: conv(x_, adj, w), [feats(N_SRC, seed=2, grad=True), t])


def test_learned_parameters_are_in_the_state_dict_as_pyg_names_them():
    conv = gnn.MessagePassing(aggr=gnn.SoftmaxAggregation(learn=True))
    assert list(conv.state_dict()) == ["aggr_module.t"]
    named = dict(conv.named_parameters())
    assert named["aggr_module.t"] is conv.aggr_module.t
    by_name = gnn.MessagePassing(aggr="powermean", aggr_kwargs={"learn": True, "p": 2.0})
    assert isinstance(by_name.aggr_module, gnn.PowerMeanAggregation)
    assert list(by_name.state_dict()) == ["aggr_module.p"]
    np.testing.assert_array_equal(by_name.aggr_module.p.detach().numpy(), [2.0])
    multi = gnn.MessagePassing(aggr=["mean", gnn.SoftmaxAggregation(learn=True)])
    assert list(multi.state_dict()) == ["aggr_module.aggrs.1.t"]
    # load_state_dict round trip into a fresh layer
    with sg.no_grad():
        conv.aggr_module.t.fill_(3.0)
    other = gnn.MessagePassing(aggr=gnn.SoftmaxAggregation(learn=True))
    other.load_state_dict(conv.state_dict())
    np.testing.assert_array_equal(other.aggr_module.t.detach().numpy(), [3.0])


# ---- names resolved through aggregation_resolver ----------------------------------------------
@pytest.mark.parametrize("name", ["std", "var", "softmax", "Softmax_Aggregation"])
@pytest.mark.parametrize("form", FORMS)
def test_names_resolved_as_pyg_match_the_formula(name, form):
    x = feats(N_SRC, seed=3)
    out = run_weighted(Weighted, form, name, x)
    key = "softmax" if "oftmax" in name else name
    np.testing.assert_allclose(arr(out), reference(weighted_messages(x), key, n=N_SRC),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("form", FORMS)
def test_powermean_by_name_with_aggr_kwargs(form):
    x = sg.tensor(np.abs(arr(feats(N_SRC, seed=4))) + 0.1, dtype=sg.float64)
    conv = Copy(aggr="powermean", aggr_kwargs={"p": 3.0})
    assert conv.aggr == "powermean" and conv.aggr_module.p == 3.0
    adj = EI if form == "edge_index" else csr()
    want = per_target(arr(x)[EI[0]], EI[1], N_DST, lambda m: powermean_ref(m, 3.0))
    np.testing.assert_allclose(arr(conv(x, adj)), want, rtol=1e-10)


def test_softmax_by_name_with_a_temperature_and_gradcheck():
    conv = Copy(aggr="softmax", aggr_kwargs={"t": 2.5})
    x = feats(N_SRC, seed=5)
    want = per_target(arr(x)[EI[0]], EI[1], N_DST, lambda m: softmax_ref(m, 2.5))
    np.testing.assert_allclose(arr(conv(x, EI)), want, rtol=1e-10)
    gradcheck(lambda x_: conv(x_, EI), [feats(N_SRC, seed=6, grad=True)])
    gradcheck(lambda x_: conv(x_, csr()), [feats(N_SRC, seed=7, grad=True)])


def test_std_by_name_gradcheck_over_both_forms():
    conv = Copy(aggr="std")
    for adj in (EI, csr()):
        gradcheck(lambda x_, a=adj: conv(x_, a), [feats(N_SRC, seed=8, grad=True)])


# ---- lists mixing names and instances --------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_a_mixed_list_is_the_concatenation(form):
    x = feats(N_SRC, seed=9)
    out = run_weighted(Weighted, form, ["mean", "max", gnn.SumAggregation()], x)
    m = weighted_messages(x)
    want = np.concatenate([reference(m, a, n=N_SRC) for a in ("mean", "max", "sum")], axis=1)
    np.testing.assert_allclose(arr(out), want, rtol=1e-12)
    learned = run_weighted(WeightedPygAggregate, form,
                           ["min", gnn.SoftmaxAggregation(t=0.5), "var", "mul"], x)
    want = np.concatenate([reference(m, "min", n=N_SRC),
                           reference(m, "softmax", n=N_SRC, t=0.5),
                           reference(m, "var", n=N_SRC), reference(m, "mul", n=N_SRC)], axis=1)
    np.testing.assert_allclose(arr(learned), want, rtol=1e-10, atol=1e-12)


def test_a_list_builds_pyg_multiaggregation_with_aggr_kwargs():
    conv = gnn.MessagePassing(aggr=("mean", "softmax"),
                              aggr_kwargs={"aggrs_kwargs": [{}, {"t": 3.0}], "mode": "sum"})
    assert isinstance(conv.aggr_module, gnn.MultiAggregation)
    assert conv.aggr_module.mode == "sum" and conv.aggr_module.aggrs[1].t == 3.0
    x = feats(N_SRC, seed=10)
    m = arr(x)[EI[0]]
    want = (per_target(m, EI[1], N_DST, REFS["mean"])
            + per_target(m, EI[1], N_DST, lambda v: softmax_ref(v, 3.0)))
    np.testing.assert_allclose(arr(conv.propagate(EI, x, size=(N_SRC, N_DST))), want,
                               rtol=1e-10)


def test_proj_mode_keeps_the_fused_path_and_projects():
    conv = Copy(aggr=["sum", "mean"], aggr_kwargs={
        "mode": "proj", "mode_kwargs": {"in_channels": F, "out_channels": 2}}).to(sg.float64)
    assert conv.uses_fused_path(EI)
    x = feats(N_SRC, seed=11)
    m = arr(x)[EI[0]]
    cat = np.concatenate([per_target(m, EI[1], N_DST, REFS[a]) for a in ("sum", "mean")], 1)
    lin = conv.aggr_module.lin
    want = cat @ arr(lin.weight).T + arr(lin.bias)
    for adj in (EI, csr()):
        np.testing.assert_allclose(arr(conv(x, adj)), want, rtol=1e-10)


# ---- the fused spmm path for plain sum / mean -------------------------------------------------
@pytest.mark.parametrize("aggr", ["sum", "add", "mean", gnn.SumAggregation(),
                                  gnn.MeanAggregation(), ["sum", gnn.MeanAggregation()]],
                         ids=str)
def test_sum_and_mean_keep_the_fused_path(aggr, monkeypatch):
    conv = Copy(aggr=copy.deepcopy(aggr))
    assert conv.uses_fused_path(EI) and conv.uses_fused_path(csr())
    calls = []
    original = gnn.MessagePassing.message

    def spy(self, *args, **kwargs):  # message runs only off the fused path
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(gnn.MessagePassing, "message", spy)
    x = feats(N_SRC, seed=12)
    names = [str(a) for a in (aggr if isinstance(aggr, list) else [aggr])]
    want = np.concatenate([per_target(arr(x)[EI[0]], EI[1], N_DST, REFS[
        "mean" if "ean" in a else "sum"]) for a in names], axis=1)
    for adj in (EI, csr()):
        np.testing.assert_allclose(arr(conv(x, adj)), want, rtol=1e-12)
    assert calls == []


@pytest.mark.parametrize("aggr", ["softmax", gnn.MaxAggregation(), ["sum", "std"],
                                  gnn.SoftmaxAggregation(learn=True)], ids=str)
def test_other_aggregations_take_the_message_path(aggr):
    assert not Copy(aggr=aggr).uses_fused_path(EI)


def test_a_subclass_of_sum_aggregation_is_called_not_fused():
    class Doubled(gnn.SumAggregation):
        def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
            return 2 * super().forward(x, index, ptr, dim_size, dim)

    conv = Copy(aggr=Doubled())
    assert not conv.uses_fused_path(EI)
    x = feats(N_SRC, seed=13)
    want = 2 * per_target(arr(x)[EI[0]], EI[1], N_DST, REFS["sum"])
    for adj in (EI, csr()):
        np.testing.assert_allclose(arr(conv(x, adj)), want, rtol=1e-12)


# ---- PyG's attributes ------------------------------------------------------------------------
def test_aggr_attribute_is_pyg_text_and_aggr_module_the_resolved_module():
    soft = gnn.SoftmaxAggregation(learn=True)
    assert gnn.MessagePassing(aggr="add").aggr == "add"
    assert isinstance(gnn.MessagePassing(aggr="add").aggr_module, gnn.SumAggregation)
    conv = gnn.MessagePassing(aggr=soft)
    assert conv.aggr == str(soft) == "SoftmaxAggregation(learn=True)"
    assert conv.aggr_module is soft
    listed = gnn.MessagePassing(aggr=("mean", soft))
    assert listed.aggr == ["mean", "SoftmaxAggregation(learn=True)"]
    assert listed.aggr_module.aggrs[1] is soft
    assert isinstance(gnn.MessagePassing(aggr="mul").aggr_module, MulAggregation)


def test_mul_aggregation_module_equals_the_mul_name():
    x = feats(N_SRC, seed=14)
    want = per_target(arr(x)[EI[0]], EI[1], N_DST, REFS["mul"], empty=1.0)
    for adj in (EI, csr()):
        np.testing.assert_allclose(arr(Copy(aggr=MulAggregation())(x, adj)), want, rtol=1e-12)
    # called directly: any dim, by index or ptr
    v = feats(5, 2, seed=15)
    index = np.array([1, 0, 1, 1, 0])
    by_index = MulAggregation()(v.t(), index, dim=1, dim_size=3)
    np.testing.assert_allclose(arr(by_index).T, per_target(arr(v), index, 3, REFS["mul"], 1.0),
                               rtol=1e-12)
    order = np.argsort(index, kind="stable")
    by_ptr = MulAggregation()(v[order], ptr=np.array([0, 2, 5, 5]))
    np.testing.assert_allclose(arr(by_ptr), arr(by_index).T, rtol=1e-12)
    gradcheck(lambda v_: MulAggregation()(v_, index, dim_size=3), [feats(5, 2, 16, True)])


# ---- SAGEConv passes the aggregation through ---------------------------------------------------
def test_sageconv_with_a_softmax_aggregation():
    conv = gnn.SAGEConv(F, 2, aggr=gnn.SoftmaxAggregation(t=1.3)).to(sg.float64)
    x = feats(N_SRC, seed=17)
    agg = per_target(arr(x)[EI[0]], EI[1], N_SRC, lambda m: softmax_ref(m, 1.3))
    want = (agg @ arr(conv.lin_l.weight).T + arr(conv.lin_l.bias)
            + arr(x) @ arr(conv.lin_r.weight).T)
    for adj in (EI, csr(n_dst=N_SRC)):
        np.testing.assert_allclose(arr(conv(x, adj)), want, rtol=1e-10)
    assert repr(conv) == "SAGEConv(3, 2, aggr=SoftmaxAggregation(learn=False))"


def test_sageconv_list_widths_and_learned_aggr_kwargs():
    conv = gnn.SAGEConv(F, 2, aggr=["mean", gnn.SoftmaxAggregation(learn=True)])
    assert conv.lin_l.in_features == 2 * F
    assert "aggr_module.aggrs.1.t" in conv.state_dict()
    assert conv(feats(N_SRC).float(), EI).shape == (N_SRC, 2)
    learned = gnn.SAGEConv(F, 2, aggr="softmax", aggr_kwargs={"learn": True}).to(sg.float64)
    assert "aggr_module.t" in learned.state_dict()
    summed = gnn.SAGEConv(F, 2, aggr=["mean", "max"], aggr_kwargs={"mode": "sum"})
    assert summed.lin_l.in_features == F
    with sg.no_grad():
        learned.aggr_module.t.fill_(4.0)
    learned.reset_parameters()
    np.testing.assert_array_equal(learned.aggr_module.t.detach().numpy(), [1.0])
    gradcheck(lambda x_, t_: learned(x_, EI),
              [feats(N_SRC, seed=18, grad=True), learned.aggr_module.t])


# ---- bad input --------------------------------------------------------------------------------
def test_bad_aggregations_are_refused_with_the_argument_named():
    with pytest.raises(ValueError, match=r"MessagePassing: expected `aggr` in .*\(got "
                                         r"'median'\), or another aggregation name"):
        gnn.MessagePassing(aggr="median")
    with pytest.raises(ValueError, match=r"MessagePassing: expected `aggr` in .*\(got 3\)"):
        gnn.MessagePassing(aggr=["sum", 3])
    with pytest.raises(ValueError, match=r"MessagePassing: expected at least one aggregation"):
        gnn.MessagePassing(aggr=[])
    with pytest.raises(TypeError, match=r"MessagePassing: expected `aggr_kwargs` to be a dict "
                                        r"or None \(got list\)"):
        gnn.MessagePassing(aggr="softmax", aggr_kwargs=[1.0])
    with pytest.raises(TypeError, match=r"SAGEConv: `aggr_kwargs` \['temperature'\] do not "
                                        r"fit aggregation 'softmax'"):
        gnn.SAGEConv(F, 2, aggr="softmax", aggr_kwargs={"temperature": 2.0})
    with pytest.raises(ValueError, match=r"MessagePassing: expected `aggr_kwargs\['aggrs_kwargs'"
                                         r"\]` with one dict per aggregation in `aggr` \(2\)"):
        gnn.MessagePassing(aggr=["sum", "softmax"], aggr_kwargs={"aggrs_kwargs": [{}]})
    with pytest.raises(TypeError, match=r"MessagePassing: `aggr_kwargs` \['bogus'\] do not fit "
                                        r"MultiAggregation"):
        gnn.MessagePassing(aggr=["sum", "max"], aggr_kwargs={"bogus": 1})


def test_a_deep_copy_aggregates_with_its_own_learned_parameters():
    conv = Copy(aggr=["mean", gnn.SoftmaxAggregation(learn=True)]).to(sg.float64)
    twin = copy.deepcopy(conv)
    with sg.no_grad():
        twin.aggr_module.aggrs[1].t.fill_(2.0)
    x = feats(N_SRC, seed=19)
    m = arr(x)[EI[0]]
    for layer, t in ((conv, 1.0), (twin, 2.0)):
        want = np.concatenate([per_target(m, EI[1], N_DST, REFS["mean"]),
                               per_target(m, EI[1], N_DST, lambda v, t=t: softmax_ref(v, t))], 1)
        np.testing.assert_allclose(arr(layer(x, EI)), want, rtol=1e-10)
