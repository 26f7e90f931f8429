"""torch.nn pieces a porting audit found missing: ParameterList / ParameterDict, Flatten /
Unflatten, CosineSimilarity / PairwiseDistance / KLDivLoss / EmbeddingBag and their functional
forms, F.layer_norm, init.orthogonal_ / trunc_normal_ / eye_ / dirac_, and the torch 2.6
gradient-clipping helpers. Values are checked against numpy / scipy, gradients by gradcheck."""

import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import nn
from sparsegraph.nn.embedding_bag import PerSampleWeightsError
from sparsegraph.nn.param_containers import ParameterKeyError
from sparsegraph.testing import gradcheck


def _np(t):
    return t.detach().numpy()


def _f64(*shape, seed=0, grad=True):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal(shape), dtype="float64", requires_grad=grad)


# ---- ParameterList ----------------------------------------------------------------------------
class _Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.plist = nn.ParameterList([sg.randn(2, 3), nn.Parameter(sg.zeros(3))])
        self.pdict = nn.ParameterDict(OrderedDict(scale=sg.ones(3), shift=sg.zeros(3)))

    def forward(self, x):
        return (x @ self.plist[0] + self.plist[1]) * self.pdict["scale"] + self.pdict["shift"]


def test_parameter_list_registers_its_entries_under_torchs_names():
    m = _Holder()
    m.plist.append(sg.ones(4))
    m.plist.extend([sg.ones(1)])
    assert [n for n, _ in m.named_parameters()] == [
        "plist.0", "plist.1", "plist.2", "plist.3", "pdict.scale", "pdict.shift"]
    assert list(m.state_dict()) == [n for n, _ in m.named_parameters()]
    assert [n for n, _ in m.plist.named_parameters()] == ["0", "1", "2", "3"]
    assert all(type(p) is nn.Parameter and p.requires_grad for p in m.plist)
    assert len(m.plist) == 4 and m.plist[-1].shape == (1,) and m.plist[2].shape == (4,)


def test_parameter_list_keeps_a_parameter_and_shares_a_tensors_memory():
    p, t = nn.Parameter(sg.zeros(2)), sg.zeros(2)
    pl = nn.ParameterList([p, t])
    assert pl[0] is p
    with sg.no_grad():
        pl[1].add_(1)
    assert t.tolist() == [1.0, 1.0]  # Parameter(tensor) shares memory, as torch
    new = sg.full((2,), 5.0)
    pl[1] = new
    assert type(pl[1]) is nn.Parameter and pl[1].tolist() == [5.0, 5.0]
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"]


def test_parameter_list_slicing_iteration_and_errors():
    pl = nn.ParameterList([sg.zeros(i + 1) for i in range(4)])
    sub = pl[1:3]
    assert type(sub) is nn.ParameterList and [p.shape for p in sub] == [(2,), (3,)]
    assert sub[0] is pl[1]
    assert [p.shape[0] for p in pl] == [1, 2, 3, 4]
    with pytest.raises(IndexError, match="ParameterList: index 4 is out of range"):
        pl[4]
    with pytest.raises(IndexError, match="index -5"):
        pl[-5] = sg.zeros(1)
    with pytest.raises(TypeError, match="ParameterList.extend: expected an iterable"):
        pl.extend(sg.zeros(3))
    with pytest.raises(RuntimeError, match="should not be called"):
        pl(sg.zeros(1))
    pl += [sg.zeros(9)]
    assert len(pl) == 5 and "(4): Parameter containing: [float32 of size 9]" in repr(pl)


def test_parameter_containers_train_and_follow_to_and_load_state_dict():
    sg.manual_seed(0)
    m = _Holder()
    opt = sg.optim.SGD(m.parameters(), lr=0.1)
    before = [_np(p).copy() for p in m.parameters()]
    m(sg.randn(5, 2)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    opt.step()
    assert all(not np.array_equal(b, _np(p)) for b, p in zip(before, m.parameters(), strict=True))
    params = list(m.parameters())
    m.to(sg.float64)
    assert [p.dtype for p in m.parameters()] == [np.float64] * 4
    assert all(a is b for a, b in zip(params, m.parameters(), strict=True))
    other = _Holder().double()
    other.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(_np(other.plist[0]), _np(m.plist[0]))
    np.testing.assert_array_equal(_np(other.pdict["scale"]), _np(m.pdict["scale"]))


# ---- ParameterDict ----------------------------------------------------------------------------
def test_parameter_dict_mapping_interface():
    pd = nn.ParameterDict()
    pd["w"] = sg.ones(2)
    pd.update([("b", sg.zeros(2)), ("a", nn.Parameter(sg.zeros(1)))])
    assert list(pd.keys()) == ["w", "b", "a"] and list(pd) == ["w", "b", "a"]
    assert len(pd) == 3 and "b" in pd and "zz" not in pd
    assert [k for k, _ in pd.items()] == ["w", "b", "a"]
    assert [v.shape for v in pd.values()] == [(2,), (2,), (1,)]
    assert type(pd["w"]) is nn.Parameter and pd["w"].requires_grad
    assert [n for n, _ in pd.named_parameters()] == ["w", "b", "a"]
    popped = pd.pop("b")
    assert popped.shape == (2,) and list(pd.keys()) == ["w", "a"]
    assert [n for n, _ in pd.named_parameters()] == ["w", "a"]
    assert pd.get("nope") is None and pd.get("w") is pd["w"]
    del pd["a"]
    assert list(pd.state_dict()) == ["w"]


def test_parameter_dict_update_order_follows_torch():
    # a plain dict is added in sorted key order (torch's update), an OrderedDict in its order
    assert list(nn.ParameterDict({"b": sg.ones(1), "a": sg.ones(1)}).keys()) == ["a", "b"]
    od = OrderedDict([("b", sg.ones(1)), ("a", sg.ones(1))])
    assert list(nn.ParameterDict(od).keys()) == ["b", "a"]


def test_parameter_dict_errors_name_the_key():
    pd = nn.ParameterDict({"w": sg.ones(1)})
    with pytest.raises(KeyError, match="no key 'zz'") as info:
        pd["zz"]
    assert isinstance(info.value, AttributeError) and isinstance(info.value, ParameterKeyError)
    with pytest.raises(TypeError, match="ParameterDict: expected a str key"):
        pd[0] = sg.ones(1)
    with pytest.raises(KeyError, match="without '.'"):
        pd["a.b"] = sg.ones(1)
    with pytest.raises(KeyError, match="'training' already exists"):
        pd["training"] = sg.ones(1)
    assert list(pd.keys()) == ["w"]  # the refused keys were not listed
    with pytest.raises(ValueError, match="element 0 to be a \\(key, value\\) pair"):
        pd.update([("a", sg.ones(1), 3)])
    with pytest.raises(TypeError, match="ParameterDict.update: expected a mapping"):
        pd.update(sg.ones(2))


# ---- Flatten / Unflatten ----------------------------------------------------------------------
def test_flatten_and_unflatten_match_numpy_reshapes():
    x = sg.arange(2 * 3 * 4 * 5, dtype="float32").reshape(2, 3, 4, 5)
    a = x.numpy()
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), a.reshape(2, 60))
    np.testing.assert_array_equal(nn.Flatten(0, 1)(x).numpy(), a.reshape(6, 4, 5))
    np.testing.assert_array_equal(nn.Flatten(-2)(x).numpy(), a.reshape(2, 3, 20))
    y = nn.Unflatten(1, (3, 20))(nn.Flatten()(x))
    np.testing.assert_array_equal(y.numpy(), a.reshape(2, 3, 20))
    assert nn.Unflatten(-1, [5, -1])(x).shape == (2, 3, 4, 5, 1)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    with pytest.raises(TypeError, match="Unflatten: expected `unflattened_size` to be a tuple"):
        nn.Unflatten(1, 6)
    with pytest.raises(TypeError, match="at position 1"):
        nn.Unflatten(1, (2, 3.0))
    with pytest.raises(TypeError, match="Flatten: expected an int start_dim"):
        nn.Flatten(1.0)


def test_identity_passes_its_input_through():
    x = sg.randn(3)
    assert nn.Identity(54, unused="x")(x) is x


# ---- cosine similarity / pairwise distance ----------------------------------------------------
def _cos_ref(a, b, dim, eps):
    a, b = np.broadcast_arrays(a, b)
    n1 = np.maximum(np.linalg.norm(a, axis=dim, keepdims=True), eps)
    n2 = np.maximum(np.linalg.norm(b, axis=dim, keepdims=True), eps)
    return ((a / n1) * (b / n2)).sum(dim)


@pytest.mark.parametrize("s1, s2, dim", [((4, 5), (4, 5), 1), ((4, 5), (1, 5), 1),
                                         ((4, 5), (4, 1), 1), ((3, 4, 5), (4, 5), 0),
                                         ((3, 4, 5), (5,), -1)])
def test_cosine_similarity_matches_torchs_formula_with_broadcasting(s1, s2, dim):
    x1, x2 = _f64(*s1, seed=1), _f64(*s2, seed=2)
    got = F.cosine_similarity(x1, x2, dim=dim)
    want = _cos_ref(_np(x1), _np(x2), dim, 1e-8)
    np.testing.assert_allclose(_np(got), want, rtol=1e-12)
    assert gradcheck(lambda a, b: F.cosine_similarity(a, b, dim), [x1, x2])
    np.testing.assert_allclose(_np(nn.CosineSimilarity(dim=dim)(x1, x2)), want, rtol=1e-12)


def test_cosine_similarity_clamps_each_norm_separately():
    # torch's current formula: x1.x2 / (max(|x1|, eps) max(|x2|, eps)), not max(|x1||x2|, eps)
    x1 = sg.tensor([[1e-3, 0.0]], dtype="float64")
    x2 = sg.tensor([[1e-3, 0.0]], dtype="float64")
    got = F.cosine_similarity(x1, x2, eps=1e-2).item()
    assert got == pytest.approx((1e-3 / 1e-2) ** 2)  # the old formula gives 1e-6 / 1e-2
    # torch clamps outside autograd: the gradient still flows through the norm (d/dx1 of
    # x1.x2 / (c1 c2) with c1 = max(|x1|, eps) held as |x1| for the gradient): [10 - 1, 0]
    x1.requires_grad_(True)
    F.cosine_similarity(x1, x2, eps=1e-2).sum().backward()
    np.testing.assert_allclose(_np(x1.grad), [[9.0, 0.0]], rtol=1e-9)
    zero = F.cosine_similarity(sg.zeros(2, 3), sg.randn(2, 3))
    assert _np(zero).tolist() == [0.0, 0.0]
    ints = F.cosine_similarity(sg.tensor([[1, 0]]), sg.tensor([[1.0, 1.0]]))
    assert ints.dtype == np.float32 and ints.item() == pytest.approx(math.sqrt(0.5))


def test_cosine_similarity_errors():
    with pytest.raises(TypeError, match="cosine_similarity: expected a floating common dtype"):
        F.cosine_similarity(sg.tensor([[1, 2]]), sg.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="cosine_similarity: expected `x1` of shape \\(2, 3\\)"):
        F.cosine_similarity(sg.randn(2, 3), sg.randn(2, 4))
    with pytest.raises(ValueError, match="cosine_similarity: expected `dim` in"):
        F.cosine_similarity(sg.randn(2, 3), sg.randn(2, 3), dim=2)
    with pytest.raises(TypeError, match="cosine_similarity: expected `x2` to be a Tensor"):
        F.cosine_similarity(sg.randn(2, 3), [[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, math.inf])
def test_pairwise_distance_adds_eps_to_the_difference(p):
    x1, x2 = _f64(4, 5, seed=3), _f64(4, 5, seed=4)
    diff = _np(x1) - _np(x2) + 1e-6
    want = np.abs(diff).max(-1) if p == math.inf else (np.abs(diff) ** p).sum(-1) ** (1 / p)
    np.testing.assert_allclose(_np(F.pairwise_distance(x1, x2, p)), want, rtol=1e-12)
    np.testing.assert_allclose(_np(nn.PairwiseDistance(p)(x1, x2)), want, rtol=1e-12)
    assert F.pairwise_distance(x1, x2, p, keepdim=True).shape == (4, 1)
    if p != math.inf:
        assert gradcheck(lambda a, b: F.pairwise_distance(a, b, p), [x1, x2])


def test_pairwise_distance_of_equal_inputs_is_not_zero_and_broadcasts():
    x = sg.randn(3, 4, dtype="float64")
    np.testing.assert_allclose(_np(F.pairwise_distance(x, x)), np.full(3, 2e-6), rtol=1e-9)
    assert F.pairwise_distance(sg.randn(3, 4), sg.randn(4)).shape == (3,)
    with pytest.raises(ValueError, match="pairwise_distance: expected `p` >= 0"):
        F.pairwise_distance(x, x, p=-1.0)


# ---- kl_div -----------------------------------------------------------------------------------
def _kl_inputs():
    rng = np.random.default_rng(5)
    logits = sg.tensor(rng.standard_normal((4, 5)), dtype="float64", requires_grad=True)
    target = rng.dirichlet(np.ones(5), 4)
    target[0, :2] = 0.0  # zero entries give zero loss (xlogy)
    return logits, target


def test_kl_div_values_for_every_reduction():
    logits, target = _kl_inputs()
    logp = F.log_softmax(logits, 1)
    lp = _np(logp)
    with np.errstate(divide="ignore", invalid="ignore"):
        pointwise = np.where(target > 0, target * (np.log(target) - lp), 0.0)
    t = sg.tensor(target)
    np.testing.assert_allclose(_np(F.kl_div(logp, t, reduction="none")), pointwise, rtol=1e-12)
    assert _np(F.kl_div(logp, t, reduction="none"))[0, :2].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(F.kl_div(logp, t, reduction="sum").item(), pointwise.sum())
    np.testing.assert_allclose(F.kl_div(logp, t, reduction="batchmean").item(),
                               pointwise.sum() / 4)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        mean = F.kl_div(logp, t)
    np.testing.assert_allclose(mean.item(), pointwise.mean())
    positive = np.abs(target) + 0.1
    want = positive * (np.log(positive) - lp)
    np.testing.assert_allclose(_np(F.kl_div(logp, sg.tensor(np.log(positive)), reduction="none",
                                            log_target=True)), want, rtol=1e-12)
    loss = nn.KLDivLoss(reduction="batchmean")(logp, t)
    np.testing.assert_allclose(loss.item(), pointwise.sum() / 4)


def test_kl_div_gradients_in_input_and_target():
    logits, _ = _kl_inputs()
    rng = np.random.default_rng(6)
    target = sg.tensor(rng.dirichlet(np.ones(5), 4), requires_grad=True)
    assert gradcheck(lambda x, t: F.kl_div(F.log_softmax(x, 1), t, reduction="batchmean"),
                     [logits, target])
    assert gradcheck(lambda x, t: F.kl_div(F.log_softmax(x, 1), t.log(), reduction="sum",
                                           log_target=True), [logits, target])
    # a zero target entry: the input's gradient there is 0 and finite
    _, t0 = _kl_inputs()
    logp = F.log_softmax(logits, 1)
    F.kl_div(logp, sg.tensor(t0), reduction="sum").backward()
    assert np.isfinite(_np(logits.grad)).all()


def test_kl_div_errors():
    x = sg.randn(2, 3)
    with pytest.raises(ValueError, match="kl_div: expected `reduction` in"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="KLDivLoss: expected reduction in"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(TypeError, match="kl_div: expected a floating `input`"):
        F.kl_div(sg.tensor([1, 2]), x)
    with pytest.raises(ValueError, match="kl_div: expected `target` of shape \\(4,\\)"):
        F.kl_div(x, sg.randn(4), reduction="sum")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.KLDivLoss(reduction="sum")(x, x.exp())  # no warning but for 'mean'


# ---- layer_norm -------------------------------------------------------------------------------
def test_functional_layer_norm_equals_the_layer_and_numpy():
    sg.manual_seed(1)
    ln = nn.LayerNorm((3, 4)).double()
    with sg.no_grad():
        ln.weight.add_(sg.randn(3, 4, dtype="float64"))
        ln.bias.add_(sg.randn(3, 4, dtype="float64"))
    x = _f64(2, 3, 4, seed=7)
    got = F.layer_norm(x, (3, 4), ln.weight, ln.bias, 1e-5)
    np.testing.assert_array_equal(_np(got), _np(ln(x)))
    a = _np(x)
    mu, var = a.mean((1, 2), keepdims=True), a.var((1, 2), keepdims=True)
    np.testing.assert_allclose(_np(got), (a - mu) / np.sqrt(var + 1e-5) * _np(ln.weight)
                               + _np(ln.bias), rtol=1e-12)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, [3, 4], w, b),
                     [x, _f64(3, 4, seed=8), _f64(3, 4, seed=9)])
    plain = F.layer_norm(x, 4)
    np.testing.assert_allclose(_np(plain).mean(-1), 0, atol=1e-12)
    with pytest.raises(ValueError, match="layer_norm: expected `weight` of shape \\(3, 4\\)"):
        F.layer_norm(x, (3, 4), sg.ones(4, dtype="float64"))
    with pytest.raises(ValueError, match="layer_norm: expected input ending in \\(5,\\)"):
        F.layer_norm(x, 5)


# ---- EmbeddingBag -----------------------------------------------------------------------------
def _bag_ref(w, bags, mode, psw=None, pad=None):
    out = []
    for b, bag in enumerate(bags):
        keep = [i for i, j in enumerate(bag) if j != pad]
        rows = w[[bag[i] for i in keep]]
        if psw is not None:
            rows = rows * np.asarray([psw[b][i] for i in keep])[:, None]
        if not len(keep):
            out.append(np.zeros(w.shape[1]))
        else:
            out.append({"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[mode])
    return np.stack(out)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_with_offsets_matches_numpy(mode):
    sg.manual_seed(2)
    bag = nn.EmbeddingBag(10, 3, mode=mode).double()
    w = _np(bag.weight)
    idx = [1, 2, 4, 5, 4, 3, 2, 9]
    got = bag(sg.tensor(idx), sg.tensor([0, 4, 4]))  # the middle bag is empty
    np.testing.assert_allclose(_np(got), _bag_ref(w, [idx[:4], [], idx[4:]], mode), rtol=1e-12)
    assert gradcheck(lambda w: F.embedding_bag(sg.tensor(idx), w, sg.tensor([0, 4, 4]),
                                               mode=mode), [_f64(10, 3, seed=10)])
    two_d = sg.tensor([[1, 2, 3], [4, 4, 0]])
    np.testing.assert_allclose(_np(bag(two_d)), _bag_ref(w, [[1, 2, 3], [4, 4, 0]], mode),
                               rtol=1e-12)
    last = bag(sg.tensor(idx), sg.tensor([0, 4, 8]))
    ref = _bag_ref(w, [idx[:4], idx[4:]], mode)
    assert last.shape == (3, 3)
    np.testing.assert_allclose(_np(last)[:2], ref, rtol=1e-12)
    inc = nn.EmbeddingBag(10, 3, mode=mode, include_last_offset=True).double()
    inc.weight.array[...] = w
    np.testing.assert_allclose(_np(inc(sg.tensor(idx), sg.tensor([0, 4, 8]))), ref, rtol=1e-12)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_leaves_padding_out_of_the_bags(mode):
    w = _f64(6, 2, seed=11)
    bags = [[0, 5, 5], [5, 5, 5], [2, 5, 3]]
    got = F.embedding_bag(sg.tensor(bags), w, mode=mode, padding_idx=5)
    np.testing.assert_allclose(_np(got), _bag_ref(_np(w), bags, mode, pad=5), rtol=1e-12)
    got.sum().backward()
    assert _np(w.grad)[5].tolist() == [0.0, 0.0]  # the padding row gets no gradient
    assert gradcheck(lambda w: F.embedding_bag(sg.tensor(bags), w, mode=mode, padding_idx=-1),
                     [w])


def test_embedding_bag_per_sample_weights():
    w = _f64(8, 3, seed=12)
    idx = sg.tensor([[1, 2, 7], [3, 3, 0]])
    psw = _f64(2, 3, seed=13)
    got = F.embedding_bag(idx, w, mode="sum", per_sample_weights=psw, padding_idx=0)
    want = _bag_ref(_np(w), idx.tolist(), "sum", _np(psw).tolist(), pad=0)
    np.testing.assert_allclose(_np(got), want, rtol=1e-12)
    assert gradcheck(lambda w, p: F.embedding_bag(idx, w, mode="sum", per_sample_weights=p,
                                                  padding_idx=0), [w, psw])
    flat = sg.tensor([1, 2, 7, 3, 3, 0])
    bag = nn.EmbeddingBag.from_pretrained(w.detach(), mode="sum")
    got1 = bag(flat, sg.tensor([0, 3]), per_sample_weights=psw.detach().reshape(-1))
    np.testing.assert_allclose(_np(got1), _bag_ref(_np(w), idx.tolist(), "sum",
                                                   _np(psw).tolist()), rtol=1e-12)
    with pytest.raises(PerSampleWeightsError, match="only supported for mode='sum'") as info:
        F.embedding_bag(idx, w, mode="mean", per_sample_weights=psw)
    assert isinstance(info.value, NotImplementedError) and isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="expected `per_sample_weights` of shape \\(2, 3\\)"):
        F.embedding_bag(idx, w, mode="sum", per_sample_weights=psw.reshape(-1))


def test_embedding_bag_errors():
    w = sg.randn(5, 2)
    with pytest.raises(ValueError, match="embedding_bag: expected `offsets` None for a 2-D"):
        F.embedding_bag(sg.tensor([[1, 2]]), w, sg.tensor([0]))
    with pytest.raises(ValueError, match="expected 1-D `offsets`"):
        F.embedding_bag(sg.tensor([1, 2]), w)
    with pytest.raises(ValueError, match="expected `offsets\\[0\\]` to be 0"):
        F.embedding_bag(sg.tensor([1, 2]), w, sg.tensor([1]))
    with pytest.raises(ValueError, match="non-decreasing `offsets`"):
        F.embedding_bag(sg.tensor([1, 2]), w, sg.tensor([0, 3]))
    with pytest.raises(ValueError, match="expected `mode` in"):
        nn.EmbeddingBag(5, 2, mode="min")
    with pytest.raises(ValueError, match="expected indices in \\[0, 5\\)"):
        F.embedding_bag(sg.tensor([[1, 5]]), w)
    with pytest.raises(TypeError, match="embedding_bag: expected integer `input`"):
        F.embedding_bag(sg.tensor([[1.0, 2.0]]), w)


# ---- init -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (5, 5), (4, 2, 3, 2)])
def test_orthogonal_init_is_orthogonal_with_torchs_sign_correction(shape):
    t = sg.empty(*shape, dtype="float64")
    nn.init.orthogonal_(t, gain=1.5, generator=sg.Generator(4))
    rows = shape[0]
    m = _np(t).reshape(rows, -1)
    small = min(m.shape)
    gram = m @ m.T if rows <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, 2.25 * np.eye(small), atol=1e-12)
    # the same draw, by hand: Q of the QR of a normal (rows, cols) matrix (transposed when
    # rows < cols) times sign(diag R), so Q^T A has a positive diagonal
    a = sg.Generator(4).rng.normal(0.0, 1.0, m.shape)
    a = a.T if rows < m.shape[1] else a
    q = m.T / 1.5 if rows < m.shape[1] else m / 1.5
    assert (np.diag(q.T @ a) > 0).all()
    np.testing.assert_allclose(q @ (q.T @ a), a, atol=1e-10)  # spans A's columns


def test_orthogonal_init_draws_from_the_default_generator_and_refuses_1d():
    a, b = sg.empty(4, 6), sg.empty(4, 6)
    sg.manual_seed(3)
    nn.init.orthogonal_(a)
    sg.manual_seed(3)
    nn.init.orthogonal_(b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="init.orthogonal_: expected a tensor with 2 or more"):
        nn.init.orthogonal_(sg.empty(4))


def test_trunc_normal_init_stays_in_bounds_with_the_truncated_mean():
    from scipy.stats import truncnorm

    t = sg.empty(200_000, dtype="float64")
    nn.init.trunc_normal_(t, mean=0.5, std=2.0, a=-1.0, b=1.5, generator=sg.Generator(0))
    a = t.numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    dist = truncnorm((-1.0 - 0.5) / 2.0, (1.5 - 0.5) / 2.0, loc=0.5, scale=2.0)
    assert abs(a.mean() - dist.mean()) < 5 * dist.std() / math.sqrt(a.size)
    assert abs(a.std() - dist.std()) < 0.01
    with pytest.warns(UserWarning, match="more than 2 std from \\[a, b\\]"):
        nn.init.trunc_normal_(sg.empty(3), mean=10.0)
    with pytest.raises(ValueError, match="init.trunc_normal_: expected a < b"):
        nn.init.trunc_normal_(sg.empty(3), a=1.0, b=0.0)


def test_eye_and_dirac_init():
    t = sg.randn(2, 3)
    assert nn.init.eye_(t) is t and t.tolist() == [[1, 0, 0], [0, 1, 0]]
    with pytest.raises(ValueError, match="init.eye_: expected a 2-D tensor"):
        nn.init.eye_(sg.empty(2, 2, 2))
    w = nn.init.dirac_(sg.randn(4, 2, 3), groups=2)
    want = np.zeros((4, 2, 3))
    want[0, 0, 1] = want[1, 1, 1] = want[2, 0, 1] = want[3, 1, 1] = 1
    np.testing.assert_array_equal(w.numpy(), want)
    with pytest.raises(ValueError, match="init.dirac_: expected dim 0 \\(4\\) divisible"):
        nn.init.dirac_(sg.empty(4, 2, 3), groups=3)
    with pytest.raises(ValueError, match="init.dirac_: expected a 3-, 4- or 5-D"):
        nn.init.dirac_(sg.empty(4, 2))


# ---- gradient clipping ------------------------------------------------------------------------
def _with_grads(*grads):
    ps = []
    for g in grads:
        p = nn.Parameter(sg.zeros(*np.shape(g), dtype="float64"))
        p.grad = sg.tensor(g, dtype="float64")
        ps.append(p)
    return ps


def test_clip_grad_norm_accepts_a_string_norm_type_and_foreach():
    ps = _with_grads([3.0, -4.0], [1.0])
    total = nn.utils.clip_grad_norm_(ps, 1.0, norm_type="inf", foreach=None)
    assert total.item() == 4.0
    np.testing.assert_allclose(ps[0].grad.numpy(), np.array([3.0, -4.0]) / (4.0 + 1e-6))
    ps = _with_grads([3.0, -4.0])
    assert nn.utils.clip_grad_norm_(ps, 10.0, "2", foreach=True).item() == pytest.approx(5.0)
    assert ps[0].grad.tolist() == [3.0, -4.0]
    with pytest.raises(ValueError, match="clip_grad_norm_: expected `norm_type` to be a number"):
        nn.utils.clip_grad_norm_(ps, 1.0, norm_type="two")
    with pytest.raises(TypeError, match="clip_grad_norm_: expected `foreach` to be None"):
        nn.utils.clip_grad_norm_(ps, 1.0, foreach="yes")


def test_get_total_norm_and_clip_grads_with_norm():
    rng = np.random.default_rng(8)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    flat = np.concatenate([g.ravel() for g in grads])
    ts = [sg.tensor(g) for g in grads]
    for p in (1.0, 2.0, 3.0):
        assert nn.utils.get_total_norm(ts, p).item() == pytest.approx(
            np.linalg.norm(flat, ord=p))
    assert nn.utils.get_total_norm(ts, "inf").item() == pytest.approx(np.abs(flat).max())
    assert nn.utils.get_total_norm(ts[0]).item() == pytest.approx(np.linalg.norm(grads[0]))
    assert nn.utils.get_total_norm([]).item() == 0.0
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.get_total_norm([sg.tensor([np.nan])], error_if_nonfinite=True)
    ps = _with_grads(*grads)
    total = nn.utils.get_total_norm([p.grad for p in ps])
    nn.utils.clip_grads_with_norm_(ps, 1.0, total)
    for p, g in zip(ps, grads, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), g / (np.linalg.norm(flat) + 1e-6))
    ps = _with_grads(*grads)
    nn.utils.clip_grads_with_norm_(ps, 1e9, 2.0)  # a number total: factor capped at 1
    np.testing.assert_array_equal(ps[1].grad.numpy(), grads[1])


def test_clip_grad_norm_warns_on_an_empty_generator():
    with pytest.warns(UserWarning, match="empty generator"):
        total = nn.utils.clip_grad_norm_((p for p in []), 1.0)
    assert total.item() == 0.0
