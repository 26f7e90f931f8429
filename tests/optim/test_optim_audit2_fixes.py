"""Second optim audit: schedulers after ``optimizer.add_param_group`` (PyTorch's lenient zip, or
a named ValueError where PyTorch fails too), and torch's implementation switches ``foreach``,
``capturable``, ``differentiable``, ``fused`` on the optimizers."""

import inspect
import math

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn, optim
from sparsegraph.optim import lr_scheduler as L


def _param(n=2):
    return nn.Parameter(sg.ones(n))


def _opt(lr=1.0, **kw):
    return optim.SGD([_param()], lr=lr, **kw)


def _add(opt, lr=0.5):
    opt.add_param_group({"params": [_param()], "lr": lr})


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


# ---- schedulers that compute from base_lrs: the added group keeps its lr (torch's zip) ---------
def test_lambda_lr_after_add_param_group_schedules_the_built_groups_only():
    # torch: get_lr = [base * f(t) for f, base in zip(lr_lambdas, base_lrs)] (1 value), and
    # the groups are written by a non-strict zip: the added group keeps 0.5
    opt = _opt()
    sched = L.LambdaLR(opt, lambda e: 0.9 ** e)
    _add(opt)
    for t in range(1, 5):
        sched.step()
        np.testing.assert_allclose(_lrs(opt), [0.9 ** t, 0.5], rtol=1e-12)
        assert sched.get_last_lr() == _lrs(opt)


def test_multiplicative_lr_after_add_param_group():
    opt = _opt()
    sched = L.MultiplicativeLR(opt, lambda e: 0.8)
    _add(opt)
    for t in range(1, 4):
        sched.step()
        np.testing.assert_allclose(_lrs(opt), [0.8 ** t, 0.5], rtol=1e-12)


def test_cosine_warm_restarts_after_add_param_group():
    T0, eta = 3, 0.1
    opt = _opt()
    sched = L.CosineAnnealingWarmRestarts(opt, T0, eta_min=eta)
    _add(opt)
    for t in range(1, 8):
        sched.step()
        want = eta + (1.0 - eta) * (1 + math.cos(math.pi * (t % T0) / T0)) / 2
        np.testing.assert_allclose(_lrs(opt), [want, 0.5], rtol=1e-12)
    sched.step(4.5)  # a fractional epoch: closed form for the built group
    want = eta + (1.0 - eta) * (1 + math.cos(math.pi * 1.5 / T0)) / 2
    np.testing.assert_allclose(_lrs(opt), [want, 0.5], rtol=1e-12)


@pytest.mark.parametrize("make, closed", [
    (lambda o: L.StepLR(o, 2, gamma=0.5), lambda t: 0.5 ** (t // 2)),
    (lambda o: L.ExponentialLR(o, 0.9), lambda t: 0.9 ** t),
    (lambda o: L.MultiStepLR(o, [1, 3], gamma=0.5), lambda t: 0.5 ** ((t >= 1) + (t >= 3))),
], ids=["StepLR", "ExponentialLR", "MultiStepLR"])
def test_closed_form_step_epoch_after_add_param_group(make, closed):
    # step(epoch) uses the closed form, one value per base lr: the added group keeps its lr
    opt = _opt()
    sched = make(opt)
    _add(opt)
    sched.step(4)
    np.testing.assert_allclose(_lrs(opt), [closed(4), 0.5], rtol=1e-12)


@pytest.mark.parametrize("make, factor", [
    (lambda o: L.StepLR(o, 1, gamma=0.5), lambda t: 0.5 ** t),
    (lambda o: L.ExponentialLR(o, 0.9), lambda t: 0.9 ** t),
], ids=["StepLR", "ExponentialLR"])
def test_chainable_schedulers_still_scale_the_added_group(make, factor):
    opt = _opt()
    sched = make(opt)
    _add(opt)
    for t in range(1, 4):
        sched.step()
        np.testing.assert_allclose(_lrs(opt), [factor(t), 0.5 * factor(t)], rtol=1e-12)


def test_sequential_lr_after_add_param_group():
    # torch, by hand: ConstantLR until epoch 1, then LambdaLR(1.0) restarted with step(0)
    opt = _opt()
    sched = L.SequentialLR(opt, [L.ConstantLR(opt, factor=0.5), L.LambdaLR(opt, lambda e: 1.0)],
                           milestones=[2])
    _add(opt)
    want = [[0.5, 0.5], [1.0, 0.5], [1.0, 0.5]]
    for w in want:
        sched.step()
        np.testing.assert_allclose(_lrs(opt), w, rtol=1e-12)
    assert sched.get_last_lr() == [1.0, 0.5]


def test_chained_scheduler_after_add_param_group():
    # ExponentialLR scales both groups; LambdaLR(1.0) then resets only the built one to 1.0
    opt = _opt()
    sched = L.ChainedScheduler([L.ExponentialLR(opt, 0.9), L.LambdaLR(opt, lambda e: 1.0)])
    _add(opt)
    for t in range(1, 4):
        sched.step()
        np.testing.assert_allclose(_lrs(opt), [1.0, 0.5 * 0.9 ** t], rtol=1e-12)


# ---- where torch fails too: a named ValueError --------------------------------------------------
def test_one_cycle_after_add_param_group_is_a_named_valueerror():
    opt = _opt(momentum=0.9)
    sched = L.OneCycleLR(opt, 1.0, total_steps=10)
    _add(opt)
    before = [dict(g) for g in opt.param_groups]
    with pytest.raises(ValueError, match=r"OneCycleLR: the optimizer has 2 param groups but the "
                       r"scheduler was built for 1: param_groups\[1\] has no 'initial_lr'.*"
                       r"after add_param_group"):
        sched.step()
    # nothing was written before the error (the first group's lr and momentum included)
    assert [{k: v for k, v in g.items()} for g in opt.param_groups] == before


def test_one_cycle_accepts_an_added_group_that_carries_its_bounds():
    opt = _opt(momentum=0.9)
    sched = L.OneCycleLR(opt, 1.0, total_steps=10, cycle_momentum=False)
    opt.add_param_group({"params": [_param()], "lr": 0.5, "initial_lr": 0.04, "max_lr": 1.0,
                         "min_lr": 4e-6})
    sched.step()
    # step 1 of the rising phase (ends at step 2): both groups follow the same cosine
    want = 1.0 + (0.04 - 1.0) / 2 * (math.cos(math.pi * 1 / 2) + 1)
    np.testing.assert_allclose(_lrs(opt), [want, want], rtol=1e-12)


def test_sequential_lr_built_after_add_param_group_is_a_named_valueerror():
    opt = _opt()
    inner = [L.ConstantLR(opt), L.ExponentialLR(opt, 0.9)]
    _add(opt)
    with pytest.raises(ValueError, match=r"SequentialLR: .*param_groups\[1\] has no "
                       r"'initial_lr'.*after add_param_group"):
        L.SequentialLR(opt, inner, milestones=[1])


# ---- optimizers: torch's implementation switches ------------------------------------------------
# each optimizer's switches as torch's signature has them: name -> (kind, default)
POS, KW = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
TORCH_FLAGS = {
    optim.SGD: {"foreach": (KW, None), "differentiable": (KW, False), "fused": (KW, None)},
    optim.Adam: {"foreach": (KW, None), "capturable": (KW, False),
                 "differentiable": (KW, False), "fused": (KW, None)},
    optim.AdamW: {"foreach": (KW, None), "capturable": (KW, False),
                  "differentiable": (KW, False), "fused": (KW, None)},
    optim.RMSprop: {"capturable": (POS, False), "foreach": (POS, None),
                    "differentiable": (POS, False)},
    optim.Adagrad: {"foreach": (POS, None), "differentiable": (KW, False), "fused": (KW, None)},
    optim.NAdam: {"foreach": (KW, None), "capturable": (KW, False),
                  "differentiable": (KW, False)},
    optim.RAdam: {"foreach": (KW, None), "capturable": (KW, False),
                  "differentiable": (KW, False)},
}
CLASSES = list(TORCH_FLAGS)
IDS = [c.__name__ for c in CLASSES]


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_signature_has_torchs_switches(cls):
    params = inspect.signature(cls).parameters
    for name, (kind, default) in TORCH_FLAGS[cls].items():
        assert params[name].kind == kind and params[name].default is default, name
    for name in {"foreach", "capturable", "differentiable", "fused"} - TORCH_FLAGS[cls].keys():
        assert name not in params  # torch's signature lacks it too (TypeError, as torch)


def _run(opt, p, steps=3):
    for k in range(steps):
        p.grad = sg.tensor(np.array([0.3, -0.7], np.float32) * (k + 1))
        opt.step()
    return p.detach().numpy().copy()


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_switches_are_accepted_stored_and_change_nothing(cls):
    flags = {k: d for k, (_, d) in TORCH_FLAGS[cls].items()}
    ref = _param()
    want = _run(cls([ref], lr=0.1), ref)
    for foreach in (None, False, True):
        p = _param()
        opt = cls([p], lr=0.1, **{**flags, "foreach": foreach})
        group = opt.param_groups[0]
        assert {k: group[k] for k in flags} == {**flags, "foreach": foreach}  # torch's layout
        np.testing.assert_array_equal(_run(opt, p), want)
    assert not np.allclose(want, 1.0)  # the steps moved the parameter


def test_sgd_with_switches_matches_the_formula():
    p = _param()
    opt = optim.SGD([p], lr=0.1, momentum=0.5, foreach=True, differentiable=False, fused=False)
    g = np.array([0.3, -0.7])
    x, buf = np.ones(2), None
    for k in range(3):
        p.grad = sg.tensor((g * (k + 1)).astype(np.float32))
        opt.step()
        d = g * (k + 1)
        buf = d if buf is None else 0.5 * buf + d
        x = x - 0.1 * buf
    np.testing.assert_allclose(p.detach().numpy(), x, rtol=1e-6)


def test_rmsprop_and_adagrad_take_the_switches_by_position_as_torch():
    opt = optim.RMSprop([_param()], 0.01, 0.99, 1e-8, 0, 0, False, False, True, True, False)
    g = opt.param_groups[0]
    assert (g["capturable"], g["foreach"], g["maximize"], g["differentiable"]) == (
        False, True, True, False)
    opt = optim.Adagrad([_param()], 0.1, 0, 0, 0, 1e-10, False, maximize=True)
    assert opt.param_groups[0]["foreach"] is False and opt.param_groups[0]["maximize"] is True


UNSUPPORTED = [(cls, key) for cls in CLASSES for key in TORCH_FLAGS[cls] if key != "foreach"]


@pytest.mark.parametrize("cls, key", UNSUPPORTED,
                         ids=[f"{c.__name__}-{k}" for c, k in UNSUPPORTED])
def test_unsupported_switch_true_is_a_named_notimplementederror(cls, key):
    with pytest.raises(NotImplementedError, match=rf"{cls.__name__}: {key}=True is not "
                       "supported"):
        cls([_param()], lr=0.1, **{key: True})
    opt = cls([_param()], lr=0.1)
    with pytest.raises(NotImplementedError, match=rf"{cls.__name__}: {key}=True"):
        opt.add_param_group({"params": [_param()], key: True})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("cls, key, value, expected", [
    (optim.Adam, "foreach", "yes", "None or a bool"),
    (optim.SGD, "fused", 0, "None or a bool"),
    (optim.NAdam, "capturable", None, "a bool"),
    (optim.RMSprop, "differentiable", "False", "a bool"),
], ids=["foreach-str", "fused-int", "capturable-None", "differentiable-str"])
def test_switch_of_the_wrong_type_is_a_named_typeerror(cls, key, value, expected):
    with pytest.raises(TypeError, match=rf"{cls.__name__}: expected {expected} for {key} "
                       rf"\(got {type(value).__name__}"):
        cls([_param()], lr=0.1, **{key: value})


def test_numpy_bools_are_bools():
    opt = optim.Adam([_param()], lr=0.1, foreach=np.bool_(True), capturable=np.bool_(False))
    assert opt.param_groups[0]["foreach"]


def test_state_dict_without_the_switches_still_loads():
    """A state saved before the switches existed (no such keys) loads; they take the defaults."""
    p = _param()
    opt = optim.Adam([p], lr=0.1)
    _run(opt, p, steps=1)
    sd = opt.state_dict()
    for g in sd["param_groups"]:
        for key in ("foreach", "capturable", "differentiable", "fused"):
            del g[key]
    other = optim.Adam([_param()], lr=0.1, foreach=True)
    other.load_state_dict(sd)
    g = other.param_groups[0]
    assert (g["foreach"], g["capturable"], g["differentiable"], g["fused"]) == (
        None, False, False, None)
    assert other.state[other.param_groups[0]["params"][0]]["step"] == 1
    sd["param_groups"][0]["fused"] = True  # e.g. a GPU run's state: refused by name
    with pytest.raises(NotImplementedError, match="Adam: fused=True"):
        other.load_state_dict(sd)
