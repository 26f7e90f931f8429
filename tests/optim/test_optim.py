"""Optimizers against independent numpy implementations of their update rules."""

import math

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn, optim

LR = 0.05


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 3)), rng.standard_normal(4), rng.standard_normal(3)


def _trajectory(make_opt, steps=6, dtype="float64"):
    """Minimise |A p - b|^2 with ``make_opt([p])``; return the parameters after each step and
    the gradients the optimizer saw."""
    a, b, p0 = _problem()
    p = nn.Parameter(sg.tensor(p0, dtype=dtype))
    opt = make_opt([p])
    traj, grads = [p0], []
    for _ in range(steps):
        opt.zero_grad()
        r = sg.tensor(a, dtype=dtype) @ p - sg.tensor(b, dtype=dtype)
        (r * r).sum().backward()
        grads.append(p.grad.numpy().astype(np.float64))
        opt.step()
        traj.append(p.detach().numpy().astype(np.float64))
    return traj, grads


def _sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False,
                   maximize=False):
    out, buf = [], None
    for g in grads:
        g = (-g if maximize else g) + wd * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return out


def _adam_reference(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, amsgrad=False,
                    decoupled=False, maximize=False):
    out = []
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1**t)
        v_hat = (vmax if amsgrad else v) / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


SGD_CASES = {
    "plain": {},
    "momentum": {"momentum": 0.9},
    "dampening": {"momentum": 0.9, "dampening": 0.5},
    "nesterov": {"momentum": 0.9, "nesterov": True},
    "weight_decay": {"momentum": 0.8, "wd": 0.1},
    "nesterov_wd_maximize": {"momentum": 0.5, "nesterov": True, "wd": 0.1, "maximize": True},
}


@pytest.mark.parametrize("case", SGD_CASES.values(), ids=SGD_CASES.keys())
def test_sgd_matches_reference(case):
    kw = {("weight_decay" if k == "wd" else k): v for k, v in case.items()}
    traj, grads = _trajectory(lambda ps: optim.SGD(ps, lr=LR, **kw))
    expected = _sgd_reference(traj[0], grads, LR, **case)
    np.testing.assert_allclose(traj[1:], expected, rtol=1e-12, atol=1e-14)


ADAM_CASES = {
    "adam": (optim.Adam, {}),
    "adam_l2": (optim.Adam, {"wd": 0.1}),
    "adam_amsgrad": (optim.Adam, {"amsgrad": True, "wd": 0.05}),
    "adam_betas_maximize": (optim.Adam, {"b1": 0.5, "b2": 0.9, "eps": 1e-3, "maximize": True}),
    "adamw": (optim.AdamW, {"wd": 0.1, "decoupled": True}),
    "adamw_amsgrad": (optim.AdamW, {"wd": 0.3, "decoupled": True, "amsgrad": True}),
}


@pytest.mark.parametrize("cls, case", ADAM_CASES.values(), ids=ADAM_CASES.keys())
def test_adam_and_adamw_match_reference(cls, case):
    kw = {"weight_decay": case.get("wd", 0.0), "amsgrad": case.get("amsgrad", False),
          "betas": (case.get("b1", 0.9), case.get("b2", 0.999)), "eps": case.get("eps", 1e-8),
          "maximize": case.get("maximize", False)}
    traj, grads = _trajectory(lambda ps: cls(ps, lr=LR, **kw))
    expected = _adam_reference(traj[0], grads, LR, **case)
    np.testing.assert_allclose(traj[1:], expected, rtol=1e-10, atol=1e-13)


def test_adam_float32_stays_float32_and_reuses_state_buffers():
    a, b, p0 = _problem()
    p = nn.Parameter(sg.tensor(p0, dtype="float32"))
    opt = optim.Adam([p], lr=LR)
    buffers = None
    for step in range(1, 4):
        opt.zero_grad()
        ((sg.tensor(a, dtype="float32") @ p - sg.tensor(b, dtype="float32")) ** 2).sum() \
            .backward()
        array = p.array
        opt.step()
        assert p.array is array and p.dtype == np.float32  # updated in place
        state = opt.state[p]
        ids = (id(state["exp_avg"]), id(state["exp_avg_sq"]))
        assert buffers in (None, ids)  # the moments are updated in place
        buffers = ids
        assert state["exp_avg"].dtype == np.float32 and state["step"] == step


def test_param_groups_have_their_own_options_and_grad_none_is_skipped():
    w = nn.Parameter(sg.ones(2, dtype="float64"))
    b = nn.Parameter(sg.ones(2, dtype="float64"))
    frozen = nn.Parameter(sg.ones(2, dtype="float64"))
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    opt.add_param_group({"params": [frozen], "lr": 1.0})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5, 1.0]
    assert opt.param_groups[0]["momentum"] == 0.0
    (w.sum() + 2 * b.sum()).backward()
    version = frozen._version[0]
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), 0.9)
    np.testing.assert_allclose(b.detach().numpy(), 0.0)
    np.testing.assert_array_equal(frozen.detach().numpy(), 1.0)  # grad None: untouched
    assert frozen not in opt.state and frozen._version[0] == version
    assert "momentum_buffer" in opt.state[b] and "momentum_buffer" not in opt.state[w]
    assert opt.step(closure=lambda: 42.0) == 42.0


def test_zero_grad():
    p = nn.Parameter(sg.ones(3))
    opt = optim.Adam([p])
    p.sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), 0.0)
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=0.05),
], ids=["sgd", "adam_amsgrad", "adamw"])
def test_state_dict_round_trip_continues_identically(tmp_path, make):
    def run(split):
        sg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
        model.scale = nn.Parameter(sg.tensor(1.5, dtype="float64"))  # a 0-d parameter too
        opt = make(model.parameters())
        x = sg.randn(8, 3, dtype="float64")
        for step in range(6):
            if step == split:
                sg.save({"model": model.state_dict(), "opt": opt.state_dict()},
                        tmp_path / "ck.npz")
                ck = sg.load(tmp_path / "ck.npz")
                model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
                model.scale = nn.Parameter(sg.tensor(0.0, dtype="float64"))
                model.load_state_dict(ck["model"])
                opt = make(model.parameters())
                opt.load_state_dict(ck["opt"])
            opt.zero_grad()
            ((model(x) * model.scale) ** 2).mean().backward()
            opt.step()
        return [p.detach().numpy() for p in model.parameters()]

    for resumed, straight in zip(run(split=3), run(split=-1), strict=True):
        np.testing.assert_array_equal(resumed, straight)


def test_state_dict_is_a_snapshot_and_load_checks_shapes():
    p = nn.Parameter(sg.ones(3))
    opt = optim.Adam([p], lr=0.1)
    p.sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["state"][0]["step"] == 1
    opt.step()
    assert sd["state"][0]["step"] == 1  # not aliased to the live state
    assert not np.array_equal(sd["state"][0]["exp_avg"].numpy(), opt.state[p]["exp_avg"])
    other = optim.Adam([nn.Parameter(sg.ones(4))])
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg'\] has shape \(3,\)"):
        other.load_state_dict(sd)
    two = optim.Adam([nn.Parameter(sg.ones(3)), nn.Parameter(sg.ones(3))])
    with pytest.raises(ValueError, match="do not match"):
        two.load_state_dict(sd)
    fresh = optim.Adam([q := nn.Parameter(sg.ones(3))], lr=1.0)
    fresh.load_state_dict(sd)
    assert fresh.param_groups[0]["lr"] == 0.1 and fresh.param_groups[0]["params"] == [q]
    assert fresh.state[q]["exp_avg"] is not sd["state"][0]["exp_avg"].array


def test_step_invalidates_graphs_that_saved_the_parameters():
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    # the input requires grad, so the matmul saves the weight (d/dinput reads it); with a
    # constant input only the input is saved and the step invalidates nothing, as in PyTorch
    loss = (model(sg.randn(4, 3, requires_grad=True)) ** 2).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
    # a fresh graph after the step is fine
    (model(sg.randn(4, 3)) ** 2).sum().backward()


def test_mlp_trained_with_adam_separates_xor_like_data():
    sg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # not linearly separable: needs the hidden layer
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = optim.Adam(model.parameters(), lr=0.02)
    xt, yt = sg.tensor(x), sg.tensor(y)
    for _ in range(300):
        opt.zero_grad()
        sg.nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    acc = (model(xt).argmax(1).numpy() == y).mean()
    assert acc > 0.95


def test_validation_errors():
    p = [nn.Parameter(sg.zeros(2))]
    with pytest.raises(ValueError, match=r"lr >= 0 \(got -1\)"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="momentum >= 0"):
        optim.SGD(p, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="Nesterov momentum requires momentum > 0"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires .* dampening = 0"):
        optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="weight_decay >= 0"):
        optim.AdamW(p, weight_decay=-0.1)
    with pytest.raises(ValueError, match=r"betas in \[0, 1\)"):
        optim.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError, match=r"betas in \[0, 1\)"):
        optim.Adam(p, betas=(0.9, -0.1))
    with pytest.raises(ValueError, match="eps >= 0"):
        optim.Adam(p, eps=-1e-8)
    with pytest.raises(ValueError, match="lr >= 0"):
        optim.Adam(p).add_param_group({"params": [nn.Parameter(sg.zeros(1))], "lr": -2})
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(nn.Parameter(sg.zeros(3, 2)), lr=0.1)  # would iterate over rows
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": p}, {"params": p}], lr=0.1)
    x = sg.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)
    with pytest.raises(TypeError, match="expected Tensors"):
        optim.SGD([np.zeros(2)], lr=0.1)


def test_repr_lists_groups():
    opt = optim.SGD([nn.Parameter(sg.zeros(1))], lr=0.1)
    assert repr(opt).splitlines()[:3] == ["SGD (", "Parameter Group 0", "    dampening: 0.0"]
    assert math.isclose(opt.defaults["lr"], 0.1)


# ---- argument and state checks (audit item 7) ---------------------------------------------------
def test_a_parameter_listed_twice_in_one_group_has_its_own_message():
    p = sg.nn.Parameter(sg.ones(2))
    with pytest.raises(ValueError, match=r"SGD: a parameter \(shape \(2,\)\) is listed twice in "
                                         "the same parameter group"):
        sg.optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="appears in more than one parameter group"):
        sg.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


@pytest.mark.parametrize("make, message", [
    (lambda p: sg.optim.SGD([p], lr="0.1"), "SGD: expected a number for lr (got str '0.1')"),
    (lambda p: sg.optim.SGD([p], lr=0.1, momentum=None),
     "SGD: expected a number for momentum (got NoneType None)"),
    (lambda p: sg.optim.SGD([p], lr=0.1, weight_decay="0"),
     "SGD: expected a number for weight_decay (got str '0')"),
    (lambda p: sg.optim.Adam([p], eps="1e-8"), "Adam: expected a number for eps (got str"),
    (lambda p: sg.optim.Adam([p], betas=0.9),
     "Adam: expected betas to be a pair of numbers (got float 0.9)"),
    (lambda p: sg.optim.AdamW([p], betas=("0.9", 0.99)),
     "AdamW: expected betas to be a pair of numbers (got tuple ('0.9', 0.99))"),
    (lambda p: sg.optim.SGD([{"params": [p], "lr": [0.1]}]), "SGD: expected a number for lr"),
])
def test_option_types_are_named(make, message):
    with pytest.raises(TypeError) as info:
        make(sg.nn.Parameter(sg.ones(2)))
    assert message in str(info.value)


def test_load_state_dict_from_another_optimizer_type_or_a_non_dict_is_named():
    p = sg.nn.Parameter(sg.ones(2))
    p.grad = sg.ones(2)
    adam = sg.optim.Adam([p])
    adam.step()
    sgd = sg.optim.SGD([sg.nn.Parameter(sg.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: the saved state is not from a "
                                         r"SGD \(its parameter groups lack the options "
                                         r"\['dampening', 'momentum', 'nesterov'\]"):
        sgd.load_state_dict(adam.state_dict())
    with pytest.raises(TypeError, match=r"SGD.load_state_dict: expected a dict with 'state' and "
                                        r"'param_groups', as state_dict\(\) returns \(got list\)"):
        sgd.load_state_dict([1])
    with pytest.raises(TypeError, match=r"\(got a dict with keys \['state'\]\)"):
        sgd.load_state_dict({"state": {}})
    # Adam's state loads into AdamW (the same options), and a scheduler's initial_lr is fine
    sched = sg.optim.lr_scheduler.StepLR(adam, 1)
    sched.step()
    sg.optim.AdamW([sg.nn.Parameter(sg.ones(2))]).load_state_dict(adam.state_dict())
