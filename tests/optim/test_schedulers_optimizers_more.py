"""The schedulers and optimizers added for PyTorch ports: LambdaLR ... ChainedScheduler and
RMSprop, Adagrad, NAdam, RAdam, against hand-written torch formulas / pseudo-code (float64)."""

import math
from bisect import bisect_right

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn, optim
from sparsegraph.optim import lr_scheduler as L

BASES = (1.0, 0.3)


def _opt(*lrs, cls=optim.SGD, **kw):
    return cls([{"params": [nn.Parameter(sg.zeros(1))], "lr": lr} for lr in lrs], **kw)


def _run(sched, steps):
    lrs = [sched.get_last_lr()]
    for _ in range(steps):
        sched.step()
        lrs.append(sched.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in sched.optimizer.param_groups]
    return lrs


def _close(got, expected):
    np.testing.assert_allclose(np.array(got, float), np.array(expected, float),
                               rtol=1e-12, atol=1e-15)


def _expect(fn, steps=25, bases=BASES):
    return [[fn(t, i, b) for i, b in enumerate(bases)] for t in range(steps + 1)]


# ---- factor schedulers --------------------------------------------------------------------

def test_lambda_lr_per_group_lambdas():
    sched = L.LambdaLR(_opt(*BASES), [lambda t: 0.95**t, lambda t: 1 / (1 + t)])
    _close(_run(sched, 25), _expect(lambda t, i, b: b * (0.95**t if i == 0 else 1 / (1 + t))))
    assert sched.last_epoch == 25


def test_multiplicative_lr():
    sched = L.MultiplicativeLR(_opt(*BASES), lambda t: 0.9 + 0.001 * t)
    _close(_run(sched, 25), _expect(lambda t, i, b: b * math.prod(0.9 + 0.001 * k
                                                                   for k in range(1, t + 1))))


def test_exponential_and_multistep_lr():
    _close(_run(L.ExponentialLR(_opt(*BASES), gamma=0.9), 25),
           _expect(lambda t, i, b: b * 0.9**t))
    marks = [3, 7, 7, 15]  # 7 twice: two decays there, as torch's Counter
    _close(_run(L.MultiStepLR(_opt(*BASES), marks, gamma=0.5), 25),
           _expect(lambda t, i, b: b * 0.5 ** bisect_right(marks, t)))


@pytest.mark.parametrize("factor", [0.25, 1 / 3, 0.0])
def test_constant_lr(factor):
    _close(_run(L.ConstantLR(_opt(*BASES), factor=factor, total_iters=4), 25),
           _expect(lambda t, i, b: b * (factor if t < 4 else 1.0)))


@pytest.mark.parametrize("start, end", [(1 / 3, 1.0), (1.0, 0.1), (0.5, 0.0)])
def test_linear_lr(start, end):
    _close(_run(L.LinearLR(_opt(*BASES), start, end, total_iters=7), 25),
           _expect(lambda t, i, b: b * (start + (end - start) * min(t, 7) / 7)))


# ---- OneCycleLR ---------------------------------------------------------------------------

def _one_cycle_ref(t, n, top, pct, div, final, strategy, three, lo=0.85, hi=0.95):
    init, low = top / div, top / div / final
    ann = ((lambda a, b, p: b + (a - b) / 2 * (math.cos(math.pi * p) + 1)) if strategy == "cos"
           else (lambda a, b, p: a + (b - a) * p))
    e1 = pct * n - 1
    if three:
        phases = [(0, e1, init, top, hi, lo), (e1, 2 * pct * n - 2, top, init, lo, hi),
                  (2 * pct * n - 2, n - 1, init, low, hi, hi)]
    else:
        phases = [(0, e1, init, top, hi, lo), (e1, n - 1, top, low, lo, hi)]
    for k, (a, b, l0, l1, m0, m1) in enumerate(phases):
        if t <= b or k == len(phases) - 1:
            p = (t - a) / (b - a)
            return ann(l0, l1, p), ann(m0, m1, p)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("three", [False, True])
def test_one_cycle_lr_and_momentum(strategy, three):
    opt = _opt(*BASES, momentum=0.5)
    n = 30
    sched = L.OneCycleLR(opt, max_lr=[1.0, 0.2], total_steps=n, pct_start=0.25,
                         anneal_strategy=strategy, div_factor=10.0, final_div_factor=100.0,
                         three_phase=three)
    moms = [[g["momentum"] for g in opt.param_groups]]
    lrs = [sched.get_last_lr()]
    for _ in range(n - 1):
        sched.step()
        lrs.append(sched.get_last_lr())
        moms.append([g["momentum"] for g in opt.param_groups])
    refs = [[_one_cycle_ref(t, n, top, 0.25, 10.0, 100.0, strategy, three) for top in (1.0, 0.2)]
            for t in range(n)]
    _close(lrs, [[r[0] for r in row] for row in refs])
    _close(moms, [[r[1] for r in row] for row in refs])
    assert math.isclose(lrs[-1][0], 1.0 / 10 / 100)
    sched.step()  # step total_steps is allowed (torch), the next one is not
    with pytest.raises(ValueError, match="total_steps=30"):
        sched.step()


def test_one_cycle_cycles_adam_beta1_and_takes_epochs_times_steps():
    opt = _opt(0.1, cls=optim.Adam, betas=(0.9, 0.99))
    sched = L.OneCycleLR(opt, max_lr=0.5, epochs=4, steps_per_epoch=5)
    assert sched.total_steps == 20
    for t in range(1, 20):
        sched.step()
        lr, mom = _one_cycle_ref(t, 20, 0.5, 0.3, 25.0, 1e4, "cos", False)
        assert math.isclose(opt.param_groups[0]["lr"], lr, rel_tol=1e-12)
        b1, b2 = opt.param_groups[0]["betas"]
        assert math.isclose(b1, mom, rel_tol=1e-12) and b2 == 0.99
    with pytest.raises(ValueError, match="cycle_momentum"):
        L.OneCycleLR(_opt(0.1, cls=optim.Adagrad), max_lr=1.0, total_steps=5)
    L.OneCycleLR(_opt(0.1, cls=optim.Adagrad), max_lr=1.0, total_steps=5, cycle_momentum=False)


# ---- CosineAnnealingWarmRestarts ----------------------------------------------------------

def _sgdr(epoch, T0, mult, eta, base):
    T_i, T_cur = T0, epoch
    while T_cur >= T_i:
        T_cur -= T_i
        T_i *= mult
    return eta + (base - eta) * (1 + math.cos(math.pi * T_cur / T_i)) / 2


@pytest.mark.parametrize("mult", [1, 2, 3])
def test_cosine_warm_restarts(mult):
    sched = L.CosineAnnealingWarmRestarts(_opt(*BASES), T_0=3, T_mult=mult, eta_min=0.01)
    _close(_run(sched, 30), _expect(lambda t, i, b: _sgdr(t, 3, mult, 0.01, b), 30))


@pytest.mark.parametrize("mult", [1, 2])
def test_cosine_warm_restarts_fractional_epochs(mult):
    opt = _opt(*BASES)
    sched = L.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=mult, eta_min=0.05)
    for epoch in np.arange(0, 20, 0.25):
        sched.step(float(epoch))
        np.testing.assert_allclose(sched.get_last_lr(),
                                   [_sgdr(epoch, 4, mult, 0.05, b) for b in BASES], rtol=1e-9)
        assert sched.last_epoch == math.floor(epoch)
    with pytest.raises(ValueError, match="epoch"):
        sched.step(-1.0)


# ---- SequentialLR / ChainedScheduler ------------------------------------------------------

def test_sequential_lr_warmup_then_decay():
    opt = _opt(*BASES)
    s1 = L.ConstantLR(opt, factor=0.1, total_iters=2)
    s2 = L.ExponentialLR(opt, gamma=0.9)
    sched = L.SequentialLR(opt, [s1, s2], milestones=[2])
    # torch: the second scheduler restarts with its closed form at the milestone (step(0))
    _close(_run(sched, 25), _expect(lambda t, i, b: b * (0.1 if t < 2 else 0.9 ** (t - 2))))


def test_sequential_lr_linear_warmup_then_cosine():
    opt = _opt(*BASES)
    sched = L.SequentialLR(opt, [L.LinearLR(opt, 0.2, 1.0, total_iters=5),
                                 L.CosineAnnealingLR(opt, T_max=20, eta_min=0.0)], [5])
    _close(_run(sched, 25), _expect(
        lambda t, i, b: b * (0.2 + 0.8 * t / 5) if t < 5
        else b * (1 + math.cos(math.pi * (t - 5) / 20)) / 2))


def test_chained_scheduler_multiplies_factors():
    opt = _opt(*BASES)
    sched = L.ChainedScheduler([L.ConstantLR(opt, factor=0.1, total_iters=2),
                                L.ExponentialLR(opt, gamma=0.9)])
    assert sched.optimizer is opt
    _close(_run(sched, 25), _expect(lambda t, i, b: b * 0.9**t * (0.1 if t < 2 else 1.0)))


# ---- state_dict / resume ------------------------------------------------------------------

class Warm:
    """A callable object: its ``__dict__`` is saved by LambdaLR's state_dict (torch)."""

    def __init__(self, k):
        self.k = k

    def __call__(self, t):
        return min(1.0, (t + 1) / self.k)


SCHEDULERS = {
    "LambdaLR": lambda o: L.LambdaLR(o, [Warm(4), lambda t: 0.9**t]),
    "MultiplicativeLR": lambda o: L.MultiplicativeLR(o, lambda t: 0.95),
    "ExponentialLR": lambda o: L.ExponentialLR(o, 0.8),
    "MultiStepLR": lambda o: L.MultiStepLR(o, [2, 5, 5, 9], 0.5),
    "ConstantLR": lambda o: L.ConstantLR(o, 0.5, 6),
    "LinearLR": lambda o: L.LinearLR(o, 0.1, 0.9, 8),
    "OneCycleLR": lambda o: L.OneCycleLR(o, [1.0, 0.5], total_steps=20, three_phase=True),
    "CosineAnnealingWarmRestarts": lambda o: L.CosineAnnealingWarmRestarts(o, 3, 2, 0.01),
    "SequentialLR": lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.5, total_iters=3),
                                                 L.MultiStepLR(o, [4, 6])], [5]),
    "ChainedScheduler": lambda o: L.ChainedScheduler([L.ExponentialLR(o, 0.9),
                                                      L.MultiStepLR(o, [4, 6])]),
}


@pytest.mark.parametrize("name", SCHEDULERS)
def test_scheduler_resume_gives_identical_lrs(name, tmp_path):
    make = SCHEDULERS[name]
    opt = _opt(*BASES, momentum=0.9)
    sched = make(opt)
    full = _run(sched, 15)
    opt = _opt(*BASES, momentum=0.9)
    sched = make(opt)
    _run(sched, 7)
    sg.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ck.pt")
    ck = sg.load(tmp_path / "ck.pt")
    opt2 = _opt(*BASES, momentum=0.9)
    sched2 = make(opt2)
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    assert sched2.get_last_lr() == full[7]
    assert _run(sched2, 8)[1:] == full[8:]


def test_lambda_lr_state_dict_skips_functions_and_keeps_callable_objects():
    warm = Warm(4)
    sched = L.LambdaLR(_opt(*BASES), [warm, lambda t: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"k": 4}, None] and "optimizer" not in state
    warm.k = 10
    sched.load_state_dict(state)
    assert warm.k == 4 and state["lr_lambdas"] == [{"k": 4}, None]


# ---- argument checks ----------------------------------------------------------------------

@pytest.mark.parametrize("make, error, word", [
    (lambda o: L.LambdaLR(o, [lambda t: 1.0]), ValueError, "lr_lambda"),
    (lambda o: L.LambdaLR(o, 0.5), TypeError, "lr_lambda"),
    (lambda o: L.ExponentialLR(o, "0.9"), TypeError, "gamma"),
    (lambda o: L.MultiStepLR(o, 3), TypeError, "milestones"),
    (lambda o: L.MultiStepLR(o, [2.5]), TypeError, "milestones"),
    (lambda o: L.ConstantLR(o, factor=1.5), ValueError, "factor"),
    (lambda o: L.ConstantLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: L.LinearLR(o, start_factor=0), ValueError, "start_factor"),
    (lambda o: L.LinearLR(o, end_factor=2), ValueError, "end_factor"),
    (lambda o: L.OneCycleLR(o, 1.0), ValueError, "total_steps"),
    (lambda o: L.OneCycleLR(o, 1.0, total_steps=0), ValueError, "total_steps"),
    (lambda o: L.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=1.5), TypeError, "steps_per_epoch"),
    (lambda o: L.OneCycleLR(o, [1.0], total_steps=5), ValueError, "max_lr"),
    (lambda o: L.OneCycleLR(o, 1.0, total_steps=5, pct_start=1.2), ValueError, "pct_start"),
    (lambda o: L.OneCycleLR(o, 1.0, total_steps=5, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: L.OneCycleLR(o, 1.0, total_steps=5, div_factor=0), ValueError, "div_factor"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, 0), ValueError, "T_0"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, 2.5), TypeError, "T_0"),
    (lambda o: L.CosineAnnealingWarmRestarts(o, 2, T_mult=0), ValueError, "T_mult"),
    (lambda o: L.SequentialLR(o, [L.ExponentialLR(o, 0.9)], [2]), ValueError, "milestone"),
    (lambda o: L.SequentialLR(o, [], []), ValueError, "schedulers"),
    (lambda o: L.SequentialLR(o, [L.ReduceLROnPlateau(o), L.ExponentialLR(o, 0.9)], [2]),
     ValueError, "ReduceLROnPlateau"),
    (lambda o: L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.ExponentialLR(_opt(1.0), 0.9)]),
     ValueError, "optimizer"),
    (lambda o: L.ChainedScheduler([0.9]), TypeError, "schedulers"),
])
def test_scheduler_argument_checks(make, error, word):
    with pytest.raises(error, match=word):
        make(_opt(*BASES))


# ---- optimizers vs float64 numpy re-implementations of torch's pseudo-code ------------------

RNG = np.random.default_rng(0)
W0 = [RNG.standard_normal(5), RNG.standard_normal((2, 3))]
GRADS = [[RNG.standard_normal(w.shape) for w in W0] for _ in range(12)]


def _decay(w, g, wd, maximize):
    g = -g if maximize else g
    return g + wd * w if wd else g


def ref_rmsprop(w, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False, maximize=False):
    v, b, ga = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        g = _decay(w, g, weight_decay, maximize)
        v = alpha * v + (1 - alpha) * g * g
        vt = v
        if centered:
            ga = alpha * ga + (1 - alpha) * g
            vt = v - ga * ga
        if momentum > 0:
            b = momentum * b + g / (np.sqrt(vt) + eps)
            w = w - lr * b
        else:
            w = w - lr * g / (np.sqrt(vt) + eps)
    return w


def ref_adagrad(w, grads, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10, maximize=False):
    s = np.full_like(w, initial_accumulator_value)
    for t, g in enumerate(grads, 1):
        g = _decay(w, g, weight_decay, maximize)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        w = w - clr * g / (np.sqrt(s) + eps)
    return w


def _decay_or_decouple(w, g, lr, wd, decoupled, maximize):
    g = -g if maximize else g
    if wd and decoupled:
        return w * (1 - lr * wd), g
    return w, (g + wd * w if wd else g)


def ref_nadam(w, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m, v, prod = np.zeros_like(w), np.zeros_like(w), 1.0
    for t, g in enumerate(grads, 1):
        w, g = _decay_or_decouple(w, g, lr, weight_decay, decoupled_weight_decay, maximize)
        mu = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        prod *= mu
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = mu1 * m / (1 - prod * mu1) + (1 - mu) * g / (1 - prod)
        vhat = v / (1 - b2**t)
        w = w - lr * mhat / (np.sqrt(vhat) + eps)
    return w


def ref_radam(w, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
              decoupled_weight_decay=False, maximize=False):
    b1, b2 = betas
    m, v = np.zeros_like(w), np.zeros_like(w)
    rho_inf = 2 / (1 - b2) - 1
    for t, g in enumerate(grads, 1):
        w, g = _decay_or_decouple(w, g, lr, weight_decay, decoupled_weight_decay, maximize)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1**t)
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho > 5:
            lt = np.sqrt(1 - b2**t) / (np.sqrt(v) + eps)
            rt = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            w = w - lr * mhat * rt * lt
        else:
            w = w - lr * mhat
    return w


CASES = [
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, alpha=0.9, eps=1e-3, weight_decay=0.1)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, momentum=0.9, centered=True)),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, momentum=0.5, maximize=True)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                      initial_accumulator_value=0.5, eps=1e-6)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1, maximize=True)),
    (optim.NAdam, ref_nadam, dict(lr=0.01)),
    (optim.NAdam, ref_nadam, dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1,
                                  momentum_decay=0.1)),
    (optim.NAdam, ref_nadam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True,
                                  maximize=True)),
    (optim.RAdam, ref_radam, dict(lr=0.01)),  # rho_t <= 5 for the first steps, then > 5
    (optim.RAdam, ref_radam, dict(lr=0.01, betas=(0.8, 0.9), eps=1e-4, weight_decay=0.1)),
    (optim.RAdam, ref_radam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True,
                                  maximize=True)),
]


def _params():
    return [nn.Parameter(sg.tensor(w.copy(), dtype=sg.float64)) for w in W0]


def _steps(opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs, strict=True):
            p.grad = sg.tensor(g.copy(), dtype=sg.float64)
        opt.step()


@pytest.mark.parametrize("cls, ref, kw", CASES, ids=lambda c: getattr(c, "__name__", None))
def test_optimizer_matches_torch_pseudocode(cls, ref, kw):
    params = _params()
    opt = cls(params, **kw)
    _steps(opt, params, GRADS)
    for i, p in enumerate(params):
        np.testing.assert_allclose(p.detach().numpy(), ref(W0[i], [g[i] for g in GRADS], **kw),
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls, ref, kw", CASES, ids=lambda c: getattr(c, "__name__", None))
def test_optimizer_param_groups_and_resume(cls, ref, kw, tmp_path):
    other = dict(kw, lr=kw["lr"] * 3)
    other.pop("maximize", None)

    def make():
        params = _params()
        return params, cls([{"params": [params[0]]}, {"params": [params[1]], **other}], **kw)

    params, opt = make()
    _steps(opt, params, GRADS)
    np.testing.assert_allclose(params[0].detach().numpy(),
                               ref(W0[0], [g[0] for g in GRADS], **kw), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(params[1].detach().numpy(),
                               ref(W0[1], [g[1] for g in GRADS], **{**kw, **other}),
                               rtol=1e-10, atol=1e-12)
    part, opt1 = make()
    _steps(opt1, part, GRADS[:5])
    sg.save(opt1.state_dict(), tmp_path / "o.pt")
    resumed, opt2 = make()
    for p, q in zip(resumed, part, strict=True):
        p.data = q.detach().clone()
    opt2.load_state_dict(sg.load(tmp_path / "o.pt"))
    _steps(opt2, resumed, GRADS[5:])
    for p, q in zip(resumed, params, strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_adagrad_creates_state_at_construction():
    p = nn.Parameter(sg.zeros(3))
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    assert opt.state[p]["step"] == 0
    np.testing.assert_array_equal(opt.state[p]["sum"], np.full(3, 0.25, np.float32))


@pytest.mark.parametrize("make, word", [
    (lambda ps: optim.RMSprop(ps, alpha=-0.1), "alpha"),
    (lambda ps: optim.RMSprop(ps, momentum=-1), "momentum"),
    (lambda ps: optim.RMSprop(ps, eps=-1), "eps"),
    (lambda ps: optim.Adagrad(ps, lr_decay=-1), "lr_decay"),
    (lambda ps: optim.Adagrad(ps, initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda ps: optim.NAdam(ps, momentum_decay=-1), "momentum_decay"),
    (lambda ps: optim.NAdam(ps, betas=(1.0, 0.9)), "betas"),
    (lambda ps: optim.RAdam(ps, eps=-1e-8), "eps"),
    (lambda ps: optim.RAdam(ps, weight_decay=-0.1), "weight_decay"),
])
def test_optimizer_argument_checks(make, word):
    with pytest.raises(ValueError, match=word):
        make([nn.Parameter(sg.zeros(2))])
    with pytest.raises(TypeError, match="lr"):
        optim.RMSprop([nn.Parameter(sg.zeros(2))], lr="0.1")


def test_load_state_dict_refuses_another_optimizers_state():
    p = nn.Parameter(sg.zeros(2))
    with pytest.raises(ValueError, match="NAdam"):
        optim.NAdam([p]).load_state_dict(optim.RMSprop([p]).state_dict())


@pytest.mark.parametrize("make", [
    lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.5, total_iters=2), L.ExponentialLR(o, 0.5)],
                             [2]),
    lambda o: L.ChainedScheduler([L.ExponentialLR(o, 0.9), L.MultiStepLR(o, [2, 3])]),
    lambda o: L.OneCycleLR(o, 1.0, total_steps=10),
    lambda o: L.CosineAnnealingWarmRestarts(o, 2),
], ids=["SequentialLR", "ChainedScheduler", "OneCycleLR", "CosineAnnealingWarmRestarts"])
def test_scheduler_step_inside_a_compiled_step_is_replayed_once(make):
    from sparsegraph import static

    def build():
        w = nn.Parameter(sg.tensor([1.0, 2.0]))
        opt = optim.SGD([w], lr=1.0, momentum=0.5)
        sched = make(opt)

        def step(x):
            opt.zero_grad()
            loss = (x * w).sum()
            loss.backward()
            opt.step()
            sched.step()
            return loss
        return w, opt, step

    w1, o1, eager = build()
    w2, o2, step = build()
    compiled = static.compile(step)
    x = sg.tensor([1.0, 1.0])
    for _ in range(6):
        np.testing.assert_allclose(compiled(x).detach().numpy(), eager(x).detach().numpy())
        assert o2.param_groups[0]["lr"] == o1.param_groups[0]["lr"]
        np.testing.assert_array_equal(w2.detach().numpy(), w1.detach().numpy())
