"""Optimizers and schedulers against independent numpy implementations of their rules."""

import math

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn, optim
from sparsegraph.optim import lr_scheduler


def _quadratic_steps(make_opt, steps=5):
    """Minimise sum(A p - b)^2 and return the parameter trajectory plus the gradients used."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal(4)
    p = nn.Parameter(sg.tensor(rng.standard_normal(3), dtype="float64"))
    opt = make_opt([p])
    traj, grads = [p.detach().numpy().copy()], []
    for _ in range(steps):
        opt.zero_grad()
        r = sg.tensor(a) @ p - sg.tensor(b)
        (r * r).sum().backward()
        grads.append(p.grad.numpy().copy())
        opt.step()
        traj.append(p.detach().numpy().copy())
    return traj, grads


@pytest.mark.parametrize("momentum, nesterov, wd", [(0.0, False, 0.0), (0.9, False, 0.1),
                                                    (0.9, True, 0.0)])
def test_sgd_matches_reference(momentum, nesterov, wd):
    traj, grads = _quadratic_steps(lambda ps: optim.SGD(ps, lr=0.05, momentum=momentum,
                                                        nesterov=nesterov, weight_decay=wd))
    p, buf = traj[0].copy(), None
    for t, g in enumerate(grads):
        g = g + wd * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        p = p - 0.05 * g
        np.testing.assert_allclose(traj[t + 1], p, rtol=1e-12)


@pytest.mark.parametrize("cls, wd, amsgrad", [(optim.Adam, 0.0, False), (optim.Adam, 0.1, True),
                                              (optim.AdamW, 0.1, False)])
def test_adam_and_adamw_match_reference(cls, wd, amsgrad):
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    traj, grads = _quadratic_steps(lambda ps: cls(ps, lr=lr, weight_decay=wd, amsgrad=amsgrad))
    p = traj[0].copy()
    m, v, vmax = np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(grads, start=1):
        if cls is optim.AdamW:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        p = p - lr / (1 - b1**t) * m / (np.sqrt(vv) / math.sqrt(1 - b2**t) + eps)
        np.testing.assert_allclose(traj[t], p, rtol=1e-10)


def test_state_dict_round_trip_continues_identically(tmp_path):
    def run(split):
        sg.manual_seed(0)
        model = nn.Linear(3, 2).double()
        opt = optim.Adam(model.parameters(), lr=0.05)
        x = sg.randn(8, 3, dtype="float64")
        for step in range(6):
            if step == split:
                sg.save({"model": model.state_dict(), "opt": opt.state_dict()},
                        tmp_path / "ck.npz")
                ck = sg.load(tmp_path / "ck.npz")
                model = nn.Linear(3, 2).double()
                model.load_state_dict(ck["model"])
                opt = optim.Adam(model.parameters(), lr=0.05)
                opt.load_state_dict(ck["opt"])
            opt.zero_grad()
            (model(x) ** 2).mean().backward()
            opt.step()
        return model.weight.detach().numpy()

    np.testing.assert_allclose(run(split=3), run(split=-1), rtol=1e-12)


def test_mlp_learns_a_separable_problem():
    sg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR-like: needs the hidden layer
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = optim.Adam(model.parameters(), lr=0.02)
    xt, yt = sg.tensor(x), sg.tensor(y)
    for _ in range(300):
        opt.zero_grad()
        sg.ops.cross_entropy(model(xt), yt).backward()
        opt.step()
    acc = (model(xt).argmax(1).numpy() == y).mean()
    assert acc > 0.95


def test_step_after_graph_was_built_invalidates_it():
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = (model(sg.randn(4, 3)) ** 2).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_optimizer_validation():
    p = [nn.Parameter(sg.zeros(2))]
    with pytest.raises(ValueError, match="lr >= 0"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(p, betas=(1.0, 0.9))


def test_schedulers_follow_closed_forms():
    p = [nn.Parameter(sg.zeros(1))]
    opt = optim.SGD(p, lr=1.0)
    step = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    got = []
    for _ in range(7):
        step.step()
        got.append(step.get_last_lr()[0])
    assert got == [0.5 ** ((t + 1) // 3) for t in range(7)]
    opt = optim.SGD(p, lr=1.0)
    cos = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    for t in range(1, 11):
        cos.step()
        assert math.isclose(opt.param_groups[0]["lr"],
                            0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2)
    opt = optim.SGD(p, lr=1.0)
    plateau = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    lrs = []
    for metric in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]:
        plateau.step(metric)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
