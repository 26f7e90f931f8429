"""Optimizer and scheduler fixes from the optim audit: groups without 'params', state as a
defaultdict, ReduceLROnPlateau after add_param_group, and scheduler argument checks."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn, optim
from sparsegraph.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR


def _param(n=2):
    return nn.Parameter(sg.ones(n))


# ---- a parameter group needs "params" ----------------------------------------------------------
@pytest.mark.parametrize("group", [{"param": [0], "lr": 0.1}, {}], ids=["typo", "empty"])
def test_a_group_without_params_raises_keyerror_params(group):
    m = nn.Linear(2, 1)
    if "param" in group:
        group["param"] = list(m.parameters())
    with pytest.raises(KeyError, match="'params'"):
        optim.SGD([group], lr=0.1)
    opt = optim.SGD(m.parameters(), lr=0.1)
    with pytest.raises(KeyError, match="'params'"):
        opt.add_param_group({"lr": 0.01})
    assert len(opt.param_groups) == 1


def test_params_none_is_a_typeerror_naming_params():
    with pytest.raises(TypeError, match="'params' .*got NoneType"):
        optim.SGD([{"params": None}], lr=0.1)


# ---- state is a defaultdict(dict) -------------------------------------------------------------
def test_state_of_a_parameter_not_yet_stepped_is_an_empty_dict():
    w, frozen = _param(), _param()
    opt = optim.Adam([w, frozen], lr=0.1)
    assert opt.state[w] == {}
    w.grad = sg.ones(2)
    opt.step()
    assert opt.state[w]["step"] == 1 and opt.state[frozen] == {}


class TorchStyleSGD(optim.Optimizer):
    """A custom optimizer written the PyTorch way: `state = self.state[p]` in `step`."""

    def __init__(self, params, lr):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if len(state) == 0:
                    state["count"] = 0
                state["count"] += 1
                p.array -= group["lr"] * p.grad.array
        return None


def test_a_torch_style_custom_step_runs():
    w = _param()
    opt = TorchStyleSGD([w], lr=0.5)
    for _ in range(2):
        w.grad = sg.ones(2)
        opt.step()
    assert opt.state[w]["count"] == 2
    np.testing.assert_allclose(w.detach().numpy(), 1.0 - 2 * 0.5)


def test_state_dict_round_trip_keeps_the_defaultdict_and_the_trajectory():
    def run(resume):
        w = nn.Parameter(sg.tensor([1.0, -2.0], dtype="float64"))
        v = nn.Parameter(sg.tensor([0.5], dtype="float64"))
        opt = optim.Adam([w, v], lr=0.1)
        assert opt.state[v] == {}  # a read before any step leaves an empty entry, as in torch
        for step in range(4):
            if resume and step == 2:
                fresh = optim.Adam([w, v], lr=0.1)
                fresh.load_state_dict(opt.state_dict())
                opt = fresh
                assert opt.state[v] == {}  # still a defaultdict after loading
            w.grad = sg.tensor([0.3, -0.1], dtype="float64") * (step + 1)
            opt.step()  # v never has a gradient
        return w.detach().numpy().copy(), v.detach().numpy().copy()

    (w1, v1), (w2, v2) = run(False), run(True)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(v1, [0.5])
    np.testing.assert_array_equal(v2, [0.5])
    # reference: Adam on w alone, in plain numpy
    p, m, s = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t in range(1, 5):
        g = np.array([0.3, -0.1]) * t
        m, s = 0.9 * m + 0.1 * g, 0.999 * s + 0.001 * g * g
        p = p - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(s / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(w1, p, rtol=1e-12)


# ---- ReduceLROnPlateau after add_param_group --------------------------------------------------
def _plateau_after_add(min_lr):
    opt = optim.SGD([_param()], lr=0.1)
    sched = ReduceLROnPlateau(opt, patience=0, factor=0.1, min_lr=min_lr)
    opt.add_param_group({"params": [_param()], "lr": 0.01})
    return opt, sched


def test_plateau_spreads_a_single_min_lr_over_added_groups():
    opt, sched = _plateau_after_add(0.005)
    sched.step(1.0)
    sched.step(1.0)  # one bad epoch > patience 0: reduce
    # PyTorch: new_lr = max(lr * factor, min_lr) for every group, the added one included
    expected = [max(0.1 * 0.1, 0.005), max(0.01 * 0.1, 0.005)]
    np.testing.assert_allclose(sched.get_last_lr(), expected, rtol=1e-12)
    assert sched.min_lrs == [0.005, 0.005]


def test_plateau_with_a_per_group_min_lr_names_the_added_group():
    opt, sched = _plateau_after_add([0.0])
    sched.step(1.0)
    with pytest.raises(RuntimeError, match=r"2 parameter groups but min_lr gave 1 .*"
                                           r"add_param_group.*scheduler.min_lrs"):
        sched.step(1.0)
    sched.min_lrs = [0.0, 0.002]  # the remedy the message names
    sched.step(1.0)
    np.testing.assert_allclose(sched.get_last_lr(), [0.1 * 0.1, max(0.01 * 0.1, 0.002)])


def test_plateau_state_with_a_per_group_min_lr_survives_save_load(tmp_path):
    sched = ReduceLROnPlateau(optim.SGD([_param()], lr=0.1), min_lr=[0.01])
    sg.save(sched.state_dict(), tmp_path / "s.npz")
    fresh = ReduceLROnPlateau(optim.SGD([_param()], lr=0.1), min_lr=[0.02])
    fresh.load_state_dict(sg.load(tmp_path / "s.npz"))
    assert fresh.min_lrs == [0.01] and fresh.default_min_lr is None


# ---- scheduler arguments -----------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda o: StepLR(o, step_size=10),
    lambda o: CosineAnnealingLR(o, T_max=10),
    lambda o: ReduceLROnPlateau(o),
], ids=["StepLR", "CosineAnnealingLR", "ReduceLROnPlateau"])
def test_schedulers_refuse_what_is_not_an_optimizer(make):
    with pytest.raises(TypeError, match="Linear is not an Optimizer"):
        make(nn.Linear(2, 2))


BAD_ARGUMENTS = {
    "StepLR-gamma-str": (lambda o: StepLR(o, 1, gamma="0.5"), TypeError, "gamma .*str '0.5'"),
    "StepLR-gamma-bool": (lambda o: StepLR(o, 1, gamma=True), TypeError, "gamma"),
    "StepLR-step_size-str": (lambda o: StepLR(o, "3"), TypeError, "step_size .*str"),
    "StepLR-last_epoch-str": (lambda o: StepLR(o, 3, last_epoch="0"), TypeError,
                              "an int for last_epoch"),
    "Cosine-T_max-str": (lambda o: CosineAnnealingLR(o, "10"), TypeError, "T_max .*str"),
    "Cosine-eta_min-None": (lambda o: CosineAnnealingLR(o, 10, eta_min=None), TypeError,
                            "eta_min .*NoneType"),
    "Plateau-patience-str": (lambda o: ReduceLROnPlateau(o, patience="2"), TypeError,
                             "an int for patience .*str '2'"),
    "Plateau-patience-float": (lambda o: ReduceLROnPlateau(o, patience=1.5), TypeError,
                               "an int for patience"),
    "Plateau-patience-negative": (lambda o: ReduceLROnPlateau(o, patience=-1), ValueError,
                                  "patience >= 0"),
    "Plateau-cooldown-str": (lambda o: ReduceLROnPlateau(o, cooldown="1"), TypeError,
                             "cooldown"),
    "Plateau-factor-str": (lambda o: ReduceLROnPlateau(o, factor="0.1"), TypeError, "factor"),
    "Plateau-threshold-str": (lambda o: ReduceLROnPlateau(o, threshold="1e-4"), TypeError,
                              "threshold"),
    "Plateau-eps-None": (lambda o: ReduceLROnPlateau(o, eps=None), TypeError, "eps"),
    "Plateau-min_lr-str": (lambda o: ReduceLROnPlateau(o, min_lr="0"), TypeError,
                           "a number for min_lr "),
    "Plateau-min_lr-list-str": (lambda o: ReduceLROnPlateau(o, min_lr=["0"]), TypeError,
                                r"min_lr\[0\]"),
}


@pytest.mark.parametrize("make, error, message", BAD_ARGUMENTS.values(),
                         ids=BAD_ARGUMENTS.keys())
def test_scheduler_arguments_are_checked_at_construction_by_name(make, error, message):
    opt = optim.SGD([_param()], lr=0.1)
    with pytest.raises(error, match=message):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1 and "initial_lr" not in opt.param_groups[0]


def test_valid_numpy_and_integral_arguments_still_work():
    opt = optim.SGD([_param()], lr=0.1)
    StepLR(opt, step_size=np.int64(2), gamma=np.float32(0.5))
    CosineAnnealingLR(optim.SGD([_param()], lr=0.1), T_max=4.0, eta_min=0)
    ReduceLROnPlateau(optim.SGD([_param()], lr=0.1), patience=np.int64(0), min_lr=[1e-4])


def test_cosine_annealing_keeps_running_after_add_param_group():
    """PyTorch's recursive CosineAnnealingLR (transcribed below): the added group has no base
    lr, so it keeps its lr at the step that leaves the minimum and follows the ratio elsewhere
    (this used to stop with a bare zip() error at that step)."""
    T, eta, added_at = 3, 0.01, 2
    opt = optim.SGD([_param()], lr=1.0)
    sched = CosineAnnealingLR(opt, T_max=T, eta_min=eta)
    got, lrs = [], [1.0]
    for t in range(1, 10):
        if t == added_at:
            opt.add_param_group({"params": [_param()], "lr": 0.5})
            lrs.append(0.5)
        sched.step()
        got.append(sched.get_last_lr())
        if (t - 1 - T) % (2 * T) == 0:
            lrs = [lrs[0] + (1.0 - eta) * (1 - np.cos(np.pi / T)) / 2] + lrs[1:]
        else:
            ratio = (1 + np.cos(np.pi * t / T)) / (1 + np.cos(np.pi * (t - 1) / T))
            lrs = [ratio * (lr - eta) + eta for lr in lrs]
        np.testing.assert_allclose(got[-1], lrs, rtol=1e-12, atol=1e-15)
    # the first group still equals the closed form
    closed = [eta + (1.0 - eta) * (1 + np.cos(np.pi * t / T)) / 2 for t in range(1, 10)]
    np.testing.assert_allclose([lr[0] for lr in got], closed, rtol=1e-12)
