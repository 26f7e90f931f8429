"""Learning-rate schedulers against PyTorch's closed-form formulas."""

import math

import pytest

import sparsegraph as sg
from sparsegraph import nn, optim
from sparsegraph.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR


def _opt(*lrs):
    return optim.SGD([{"params": [nn.Parameter(sg.zeros(1))], "lr": lr} for lr in lrs], lr=1.0)


def _run(sched, epochs, metrics=None):
    lrs = [sched.get_last_lr()]
    for e in range(epochs):
        sched.step() if metrics is None else sched.step(metrics[e])
        lrs.append(sched.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in sched.optimizer.param_groups]
    return lrs


def _close(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert all(math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)
                   for x, y in zip(a, b, strict=True)), (got, expected)


def test_step_lr():
    opt = _opt(1.0, 0.3)
    sched = StepLR(opt, step_size=3, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [1.0, 0.3]
    _close(_run(sched, 10), [[base * 0.5 ** (t // 3) for base in (1.0, 0.3)]
                             for t in range(11)])
    assert sched.last_epoch == 10


@pytest.mark.parametrize("eta_min", [0.0, 0.1])
def test_cosine_annealing_follows_the_closed_form_over_two_periods(eta_min):
    T = 7
    sched = CosineAnnealingLR(_opt(1.0, 0.5), T_max=T, eta_min=eta_min)
    expected = [[eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T)) / 2
                 for base in (1.0, 0.5)] for t in range(3 * T + 1)]
    _close(_run(sched, 3 * T), expected)


def test_scheduler_state_dict_round_trip_and_resume():
    opt = _opt(1.0)
    sched = CosineAnnealingLR(opt, T_max=10)
    _run(sched, 4)
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    opt2 = _opt(1.0)
    opt2.load_state_dict(opt.state_dict())
    sched2 = CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(state)
    for _ in range(3):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
    resumed = CosineAnnealingLR(opt2, T_max=10, last_epoch=6)  # closed form on resume
    assert math.isclose(resumed.get_last_lr()[0], (1 + math.cos(math.pi * 7 / 10)) / 2)
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(_opt(1.0), step_size=2, last_epoch=3)


def test_reduce_on_plateau_patience_cooldown_min_lr():
    opt = _opt(1.0, 0.02)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1, min_lr=[0.0, 0.01])
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5]
    lrs = [lr[0] for lr in _run(sched, len(metrics), metrics)[1:]]
    # epochs 3, 4, 5 bad -> reduce at 5; epoch 6 is cooldown (not counted); 7, 8, 9 bad ->
    # reduce at 9; epoch 10 improves (and is cooldown); 11, 12, 13 bad -> reduce at 13
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125]
    assert opt.param_groups[1]["lr"] == 0.01  # clipped at its own min_lr
    assert sched.best == 0.5


def test_reduce_on_plateau_modes_and_thresholds():
    # max mode, absolute threshold: +0.05 is not an improvement when threshold is 0.1
    opt = _opt(1.0)
    sched = ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=0, threshold=0.1,
                              threshold_mode="abs")
    lrs = [lr[0] for lr in _run(sched, 3, [1.0, 1.05, 1.2])[1:]]
    assert lrs == [1.0, 0.1, 0.1]
    # min mode, relative threshold 1e-4: 0.99995 is within 1e-4 of 1.0, so not better
    opt = _opt(1.0)
    sched = ReduceLROnPlateau(opt, patience=0)
    lrs = [lr[0] for lr in _run(sched, 3, [1.0, 0.99995, 0.9])[1:]]
    assert lrs == [1.0, 0.1, 0.1]
    sched.step(sg.tensor(0.1))  # a one-element tensor is accepted
    assert sched.best == pytest.approx(0.1)
    state = sched.state_dict()
    again = ReduceLROnPlateau(_opt(1.0), patience=0)
    again.load_state_dict(state)
    assert (again.best, again.num_bad_epochs, again.last_epoch) == (
        sched.best, sched.num_bad_epochs, sched.last_epoch)


def test_scheduler_state_survives_save_load(tmp_path):
    sched = ReduceLROnPlateau(_opt(1.0), mode="max")
    sg.save(sched.state_dict(), tmp_path / "s.npz")
    assert sg.load(tmp_path / "s.npz") == sched.state_dict()  # includes best = -inf


def test_validation():
    with pytest.raises(ValueError, match="step_size > 0"):
        StepLR(_opt(1.0), step_size=0)
    with pytest.raises(ValueError, match="T_max > 0"):
        CosineAnnealingLR(_opt(1.0), T_max=0)
    with pytest.raises(ValueError, match=r"factor in \[0, 1\)"):
        ReduceLROnPlateau(_opt(1.0), factor=1.5)
    with pytest.raises(ValueError, match="mode 'min' or 'max'"):
        ReduceLROnPlateau(_opt(1.0), mode="up")
    with pytest.raises(ValueError, match="2 min_lr values"):
        ReduceLROnPlateau(_opt(1.0, 1.0), min_lr=[0.1])
