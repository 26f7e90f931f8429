"""ModuleDict from mappings and name checks, Sequential / ModuleList `+` and `pop`, half(),
in-place activations, layer argument checks, loss modules and sparsegraph.nn.utils."""

from collections import OrderedDict

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn

F = nn.functional


# ---- ModuleDict ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda d: nn.ModuleDict(d), lambda d: OrderedDict(d)],
                         ids=["ModuleDict", "OrderedDict"])
def test_module_dict_takes_another_mapping_in_the_constructor_and_update(make):
    enc, dec = nn.Linear(1, 1), nn.ReLU()
    src = make({"enc": enc, "dec": dec})
    built = nn.ModuleDict(src)
    assert list(built.keys()) == ["enc", "dec"] and built["enc"] is enc and built["dec"] is dec
    updated = nn.ModuleDict({"x": nn.Tanh()})
    updated.update(src)
    assert list(updated.keys()) == ["x", "enc", "dec"] and updated["enc"] is enc
    assert len(list(built.parameters())) == 2


def test_module_dict_update_refuses_what_is_not_pairs():
    with pytest.raises(TypeError, match=r"ModuleDict.update: expected a mapping or an iterable "
                                        r"of \(key, module\) pairs \(got str\)"):
        nn.ModuleDict().update("ab")
    with pytest.raises(TypeError, match=r"expected element 0 to be a \(key, module\) pair"):
        nn.ModuleDict([nn.ReLU()])


@pytest.mark.parametrize("key", ["forward", "parameters", "train"])
def test_module_dict_keys_that_shadow_module_attributes_raise(key):
    md = nn.ModuleDict()
    with pytest.raises(KeyError, match=f"attribute '{key}' already exists"):
        md[key] = nn.ReLU()
    assert key not in md and callable(getattr(md, key))


# ---- Sequential / ModuleList ------------------------------------------------------------------
def test_sequential_and_module_list_concatenate_with_plus():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a) + nn.Sequential(b, c)
    assert isinstance(s, nn.Sequential) and list(s) == [a, b, c]
    x = sg.tensor([-1.0, 2.0])
    np.testing.assert_allclose(s(x).numpy(), 1 / (1 + np.exp(-np.tanh(np.maximum([-1, 2], 0)))),
                               rtol=1e-6)
    ml = nn.ModuleList([a]) + nn.ModuleList([b])
    assert isinstance(ml, nn.ModuleList) and list(ml) == [a, b]
    assert list(nn.ModuleList([a]) + [c]) == [a, c]
    with pytest.raises(TypeError):
        nn.Sequential(a) + [b]


def test_sequential_pop_removes_returns_and_renumbers():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a, b, c)
    assert s.pop(1) is b and list(s) == [a, c] and list(s._modules) == ["0", "1"]
    assert s.pop() is c and list(s) == [a]
    with pytest.raises(IndexError):
        s.pop(5)


# ---- half ----------------------------------------------------------------------------------
def test_tensor_and_module_half_give_float16():
    x = sg.tensor([1.5, -2.25], requires_grad=True)
    h = x.half()
    assert h.dtype == np.float16 and h.tolist() == [1.5, -2.25]
    h.sum().backward()
    assert x.grad.dtype == np.float32
    lin = nn.Linear(2, 3)
    assert lin.half() is lin and lin.weight.dtype == np.float16 and lin.bias.dtype == np.float16


# ---- inplace activations -----------------------------------------------------------------------
@pytest.mark.parametrize("fn, module, ref, dref", [
    (F.relu, nn.ReLU, lambda v: np.maximum(v, 0), lambda v: (v > 0) * 1.0),
    (lambda t, inplace: F.leaky_relu(t, 0.1, inplace=inplace), lambda inplace: nn.LeakyReLU(
        0.1, inplace=inplace), lambda v: np.where(v > 0, v, 0.1 * v),
     lambda v: np.where(v > 0, 1.0, 0.1)),
    (F.elu, nn.ELU, lambda v: np.where(v > 0, v, np.expm1(v)), lambda v: np.where(
        v > 0, 1.0, np.exp(v))),
], ids=["relu", "leaky_relu", "elu"])
def test_inplace_activations_write_into_the_input_and_keep_gradients(fn, module, ref, dref):
    v = np.array([-1.5, -0.2, 0.3, 2.0])
    for call in (lambda t: fn(t, inplace=True), lambda t: module(inplace=True)(t)):
        x = sg.tensor(v, dtype="float64", requires_grad=True)
        y = x * 1.0
        out = call(y)
        assert out is y  # PyTorch returns the input itself
        np.testing.assert_allclose(y.detach().numpy(), ref(v))
        (out * sg.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64")).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), dref(v) * [1, 2, 3, 4])
    x = sg.tensor(v)
    assert fn(x, inplace=False) is not x and x.tolist() == pytest.approx(list(v))


def test_inplace_must_be_a_bool():
    with pytest.raises(TypeError, match="relu: expected a bool `inplace` \\(got int 1\\)"):
        F.relu(sg.ones(2), inplace=1)
    with pytest.raises(TypeError, match="ReLU: expected a bool inplace"):
        nn.ReLU("yes")


# ---- layer argument checks ---------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: nn.Linear("4", 2), "Linear: expected an int in_features (got str '4')"),
    (lambda: nn.Linear(None, 2), "Linear: expected an int in_features (got NoneType None)"),
    (lambda: nn.Linear(4, 2.0), "Linear: expected an int out_features (got float 2.0)"),
    (lambda: nn.Dropout("a"), "Dropout: expected p to be a number (got str 'a')"),
    (lambda: nn.LeakyReLU("a"), "LeakyReLU: expected negative_slope to be a number (got str"),
    (lambda: nn.ELU(None), "ELU: expected alpha to be a number (got NoneType None)"),
    (lambda: nn.LayerNorm("4"), "LayerNorm: expected an int or a sequence of ints"),
    (lambda: nn.BatchNorm1d(4.0), "BatchNorm1d: expected an int num_features (got float 4.0)"),
    (lambda: nn.BatchNorm1d(4, momentum="0.1"), "BatchNorm1d: expected momentum to be a "
                                                "number or None"),
])
def test_layer_constructors_name_a_wrongly_typed_argument(make, message):
    with pytest.raises(TypeError) as info:
        make()
    assert message in str(info.value)


def test_load_state_dict_names_a_wrong_container_or_value_type():
    with pytest.raises(TypeError, match=r"load_state_dict: Linear: expected a dict-like "
                                        r"state_dict \(got list\)"):
        nn.Linear(1, 1).load_state_dict([1, 2])
    lin = nn.Linear(2, 2)
    before = lin.bias.tolist()
    with pytest.raises(TypeError, match="load_state_dict: the value for 'weight' is a str, not "
                                        "a Tensor or array"):
        lin.load_state_dict({"weight": "x", "bias": sg.zeros(2)})
    assert lin.bias.tolist() == before  # nothing copied


# ---- loss modules ------------------------------------------------------------------------------
def test_loss_modules_match_their_functional_forms_with_options():
    rng = np.random.default_rng(0)
    x = sg.tensor(rng.standard_normal((5, 3)), dtype="float64", requires_grad=True)
    t = sg.tensor([0, 2, 1, 2, -100])
    w = sg.tensor([1.0, 2.0, 0.5], dtype="float64")
    y = sg.tensor(rng.uniform(size=(5, 3)), dtype="float64")
    pairs = [
        (nn.CrossEntropyLoss(w, reduction="sum", label_smoothing=0.1)(x, t),
         F.cross_entropy(x, t, w, reduction="sum", label_smoothing=0.1)),
        (nn.NLLLoss(ignore_index=2)(F.log_softmax(x, 1), t.clamp(min=0)),
         F.nll_loss(F.log_softmax(x, 1), t.clamp(min=0), ignore_index=2)),
        (nn.MSELoss(reduction="none")(x, y), F.mse_loss(x, y, reduction="none")),
        (nn.L1Loss()(x, y), F.l1_loss(x, y)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(x, y),
         F.binary_cross_entropy_with_logits(x, y, pos_weight=w)),
    ]
    for got, want in pairs:
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    # the numpy formula for one of them
    xv, yv = x.detach().numpy(), y.numpy()
    np.testing.assert_allclose(pairs[3][0].item(), np.abs(xv - yv).mean())
    pairs[0][0].backward()
    assert x.grad is not None and x.grad.shape == (5, 3)


def test_loss_modules_check_reduction_and_keep_weight_as_a_buffer():
    with pytest.raises(ValueError, match="MSELoss: expected reduction in"):
        nn.MSELoss(reduction="avg")
    loss = nn.CrossEntropyLoss(sg.ones(3))
    assert "weight" in loss.state_dict()
    assert loss.double().weight.dtype == np.float64
    assert repr(nn.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"


# ---- nn.utils ------------------------------------------------------------------------------
def _params_with_grads(grads):
    params = []
    for g in grads:
        p = nn.Parameter(sg.zeros(*np.shape(g), dtype="float64"))
        p.grad = sg.tensor(g, dtype="float64")
        params.append(p)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, np.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_pytorchs_formula(norm_type, max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = _params_with_grads(grads)
    flat = np.concatenate([g.ravel() for g in grads])
    total = np.abs(flat).max() if norm_type == np.inf else np.linalg.norm(flat, ord=norm_type)
    got = nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    assert got.item() == pytest.approx(total)
    coef = min(1.0, max_norm / (total + 1e-6))
    for p, g in zip(params, grads, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), g * coef)


def test_clip_grad_norm_skips_missing_grads_and_can_refuse_nonfinite():
    p, q = _params_with_grads([[3.0, 4.0]]) + [nn.Parameter(sg.ones(2))]
    assert nn.utils.clip_grad_norm_([p, q], 1.0).item() == pytest.approx(5.0)
    assert q.grad is None
    p.grad = sg.tensor([np.inf, 1.0], dtype="float64")
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)


def test_clip_grad_value_clips_elementwise():
    (p,) = _params_with_grads([[-3.0, 0.5, 2.0]])
    nn.utils.clip_grad_value_([p], 1.0)
    assert p.grad.tolist() == [-1.0, 0.5, 1.0]


def test_parameters_to_vector_and_back():
    lin = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(lin.parameters())
    np.testing.assert_array_equal(
        vec.detach().numpy(), np.concatenate([lin.weight.detach().numpy().ravel(),
                                              lin.bias.detach().numpy()]))
    new = sg.arange(8, dtype="float32")
    nn.utils.vector_to_parameters(new, lin.parameters())
    assert lin.weight.tolist() == [[0, 1, 2], [3, 4, 5]] and lin.bias.tolist() == [6, 7]
    with pytest.raises(ValueError, match="expected a 1-d `vec` of 8 elements"):
        nn.utils.vector_to_parameters(sg.ones(7), lin.parameters())
    (vec * vec).sum().backward()  # differentiable, as PyTorch's
    assert lin.bias.grad is not None


@pytest.mark.parametrize("clip", [
    lambda ps: nn.utils.clip_grad_norm_(ps, 0.5),
    lambda ps: nn.utils.clip_grad_norm_(ps, 0.5, norm_type=float("inf")),
    lambda ps: nn.utils.clip_grad_value_(ps, 0.05),
])
def test_a_compiled_step_replays_the_clipping_with_each_calls_gradients(clip):
    def run(compile_it):
        sg.manual_seed(0)
        lin = nn.Linear(3, 2)
        opt = sg.optim.SGD(lin.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = ((lin(x) - y) ** 2).sum()
            loss.backward()
            clip(list(lin.parameters()))
            opt.step()
            return loss

        fn = sg.static.compile(step) if compile_it else step
        rng = np.random.default_rng(1)
        return [fn(sg.tensor(rng.standard_normal((4, 3)).astype(np.float32)),
                   sg.tensor(rng.standard_normal((4, 2)).astype(np.float32))).item()
                for _ in range(4)]

    np.testing.assert_allclose(run(True), run(False), rtol=1e-6)
