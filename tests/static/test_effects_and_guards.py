"""Second audit of static graphs: what a compiled step writes (optimizer steps, scheduler steps,
``.data =``), what it may not create (fresh leaves), and what it must notice between calls
(index arrays changed in place, hooks on inputs, rebound globals, mode switches, a bounded
cache); plus the `sparsegraph graph` errors and the listing of returned values."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.static import CaptureError
from sparsegraph.static.compile import MAX_VARIANTS

# compiles a forward only, on purpose: its detached outputs are what the test reads
FORWARD_ONLY = pytest.mark.filterwarnings("ignore:static.compile.*detached:UserWarning")


def vec(*values):
    return sg.tensor(list(values), dtype=sg.float64)


def assert_same(got, want):
    if isinstance(want, list | tuple):
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    else:
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10)


# ---- item 1: common subexpressions across an in-place update -----------------------------------
def _two_steps():
    w = sg.nn.Parameter(vec(1.0, 2.0))
    opt = sg.optim.SGD([w], lr=0.1)

    def step(x):
        losses = []
        for _ in range(2):  # the second forward reads w after the first update
            opt.zero_grad()
            loss = ((x * w) ** 2).sum()
            loss.backward()
            opt.step()
            losses.append(loss)
        losses.append((x * w).sum())  # and the loss after the last update
        return losses
    return w, step


@pytest.mark.parametrize("passes", [None, ["cse"]])
def test_reads_after_an_optimizer_step_are_not_merged_with_reads_before_it(passes):
    w1, eager = _two_steps()
    w2, step = _two_steps()
    compiled = static.compile(step, passes=passes)
    x = vec(1.0, 1.0)
    for _ in range(3):
        assert_same(compiled(x), eager(x))
        assert_same(w2, w1)


def test_batchnorm_evaluated_after_the_update_matches_eager():
    rng = np.random.default_rng(0)
    x = sg.tensor(rng.standard_normal((16, 5)), dtype=sg.float32)
    y = sg.tensor(rng.integers(0, 3, 16))

    def make():
        sg.manual_seed(0)
        m = sg.nn.Sequential(sg.nn.Linear(5, 8), sg.nn.BatchNorm1d(8), sg.nn.Linear(8, 3))
        opt = sg.optim.SGD(m.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = ops.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            with sg.no_grad():  # train accuracy after the update: BatchNorm updates again
                out = m(x)
            return loss, ops.cross_entropy(out, y)
        return m, step

    m1, eager = make()
    m2, step = make()
    compiled = static.compile(step)
    for _ in range(3):
        for got, want in zip(compiled(x, y), eager(x, y), strict=True):
            np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(m2[1].running_mean.numpy(), m1[1].running_mean.numpy(),
                               rtol=1e-6)


# ---- item 2: scheduler steps and other state changed inside the step ---------------------------
@pytest.mark.parametrize("scheduler", [
    lambda opt: sg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
    lambda opt: sg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3),
])
def test_a_scheduler_step_inside_the_step_is_replayed(scheduler):
    def make():
        w = sg.nn.Parameter(vec(1.0, 2.0))
        opt = sg.optim.SGD([w], lr=1.0)
        sched = scheduler(opt)

        def step(x):
            opt.zero_grad()
            loss = (x * w).sum()
            loss.backward()
            opt.step()
            sched.step()
            return loss
        return w, opt, step

    w1, o1, eager = make()
    w2, o2, step = make()
    compiled = static.compile(step)
    x = vec(1.0, 1.0)
    for _ in range(5):
        assert_same(compiled(x), eager(x))
        assert o2.param_groups[0]["lr"] == o1.param_groups[0]["lr"]
        assert_same(w2, w1)
    assert compiled.traces == 1


def test_load_state_dict_inside_the_step_is_refused():
    student, teacher = sg.nn.Linear(2, 1), sg.nn.Linear(2, 1)
    teacher.requires_grad_(False)

    def step(x):
        loss = ((student(x) - teacher(x)) ** 2).sum()
        teacher.load_state_dict(student.state_dict())  # raw array writes: not recorded
        return loss

    with pytest.raises(CaptureError, match=r"changed in place during the trace.*"
                                           r"load_state_dict"):
        static.compile(step)(sg.tensor([[1.0, 2.0]]))


def test_optimizer_load_state_dict_inside_the_step_is_refused():
    w = sg.nn.Parameter(vec(1.0, 2.0))
    opt = sg.optim.Adam([w], lr=0.1)
    saved = opt.state_dict()

    def step(x):
        opt.zero_grad()
        (x * w).sum().backward()
        opt.step()
        opt.load_state_dict(saved)  # options and state the replay would not restore
        return w

    with pytest.raises(CaptureError, match=r"Adam.load_state_dict\(\) cannot be captured; "
                                           r"load the state before"):
        static.compile(step)(vec(1.0, 1.0))


# ---- item 3: w.data = ... -------------------------------------------------------------------
def test_assigning_data_in_the_step_is_replayed():
    def make():
        w = sg.nn.Parameter(vec(1.0, 2.0))

        def step(x):
            w.grad = None
            loss = (x * w).sum()
            loss.backward()
            w.data = w.data - 0.1 * w.grad  # the classic manual SGD update
            return loss
        return w, step

    w1, eager = make()
    w2, step = make()
    compiled = static.compile(step)
    for v in ([1.0, 1.0], [2.0, -1.0], [1.0, 3.0], [1.0, 1.0]):
        assert_same(compiled(vec(*v)), eager(vec(*v)))
        assert_same(w2, w1)
    assert compiled.traces == 1
    assert "set_data(" in str(compiled.graph)


# ---- item 4: leaves made inside the step ---------------------------------------------------------
@pytest.mark.parametrize("make_leaf", [
    lambda x: sg.zeros(2, dtype=sg.float64, requires_grad=True),
    lambda x: x.detach().clone().requires_grad_(True),
])
def test_a_leaf_made_inside_the_step_is_refused(make_leaf):
    def f(x):
        d = make_leaf(x)
        ((x + d) ** 2).sum().backward()
        return d.grad

    with pytest.raises(CaptureError, match=r"(leaf made inside|makes a new leaf).* bind one "
                                           r"leaf for good"):
        static.compile(f)(vec(1.0, 2.0))


def test_a_leaf_passed_as_an_argument_gets_each_calls_gradient():
    def f(z):
        (z * z).sum().backward()
        return z.grad

    compiled = static.compile(f)
    for v in ([1.0, 2.0], [10.0, 20.0], [-3.0, 5.0]):
        z = vec(*v).requires_grad_(True)
        np.testing.assert_allclose(compiled(z).numpy(), 2 * np.array(v))


# ---- item 5: constant row indices changed in place ------------------------------------------
@pytest.mark.parametrize("kind", ["tensor", "numpy", "mask"])
def test_a_row_index_changed_in_place_retraces(kind):
    from sparsegraph.datasets import KarateClub
    from sparsegraph.gnn import GCNConv

    g = KarateClub()[0]
    if kind == "mask":
        rows = np.zeros(g.x.shape[0], dtype=bool)
        rows[:8] = True
        index = sg.tensor(rows)
    else:
        index = np.arange(8) if kind == "numpy" else sg.tensor(np.arange(8))

    def make():
        sg.manual_seed(0)
        conv = GCNConv(g.x.shape[1], 4)
        opt = sg.optim.SGD(conv.parameters(), lr=0.5)

        def step(x):
            opt.zero_grad()
            loss = ops.cross_entropy(conv(x, g.adj)[index], g.y[index])
            loss.backward()
            opt.step()
            return loss
        return step

    eager, compiled = make(), static.compile(make())
    for k in range(4):
        if k == 2:  # new training rows, written in place
            if kind == "mask":
                index.copy_(sg.tensor(np.roll(rows, 20)))
            elif kind == "numpy":
                index[:] = np.arange(20, 28)
            else:
                index.copy_(sg.tensor(np.arange(20, 28)))
        want = eager(g.x).detach().numpy()
        np.testing.assert_allclose(compiled(g.x).numpy(), want, rtol=1e-5)
    assert compiled.traces == 2


# ---- item 6: a gradient hook on an input ----------------------------------------------------
def test_a_hook_on_an_input_retraces_and_is_refused():
    w = sg.nn.Parameter(vec(1.0, 2.0))

    def f(x):
        (x * w).sum().backward()
        return x.grad

    compiled = static.compile(f)
    compiled(vec(1.0, 1.0).requires_grad_(True))
    x = vec(1.0, 1.0).requires_grad_(True)
    x.register_hook(lambda g: g * 100)
    with pytest.raises(CaptureError, match="gradient hook"):
        compiled(x)


# ---- item 7: globals and closure variables rebound ------------------------------------------
W = sg.nn.Parameter(sg.ones(3, 2, dtype=sg.float64))
A = sg.sparse_csr(np.array([0, 1, 2, 3]), np.array([0, 1, 2]), vec(1.0, 1.0, 1.0), shape=(3, 3))


def _global_step(x):
    return ops.spmm(A, x @ W).sum()


@FORWARD_ONLY
def test_a_rebound_global_adjacency_retraces():
    global A
    compiled = static.compile(_global_step)
    x = sg.ones(3, 3, dtype=sg.float64)
    assert_same(compiled(x), _global_step(x))
    saved = A
    try:
        A = sg.sparse_csr(np.array([0, 2, 3, 3]), np.array([0, 2, 1]), vec(5.0, 1.0, 1.0),
                          shape=(3, 3))
        assert_same(compiled(x), _global_step(x))
        assert compiled.traces == 2
    finally:
        A = saved
    assert_same(compiled(x), _global_step(x))
    assert compiled.traces == 2  # the first variant again


def test_a_rebound_closure_tensor_retraces():
    scale = vec(1.0, 2.0)

    def step(x):
        return (x * scale).sum()

    compiled = static.compile(step)
    x = vec(1.0, 1.0)
    assert compiled(x).item() == 3.0
    scale = vec(5.0, 5.0)  # noqa: F841  (read by step through its closure cell)
    assert compiled(x).item() == 10.0


# ---- item 8: mode switches inside the step; a bounded cache ---------------------------------
def test_a_step_that_switches_modes_itself_does_not_retrace_every_call():
    rng = np.random.default_rng(0)
    x = sg.tensor(rng.standard_normal((16, 5)), dtype=sg.float32)
    y = sg.tensor(rng.integers(0, 3, 16))

    def make():
        sg.manual_seed(0)
        m = sg.nn.Sequential(sg.nn.Linear(5, 3), sg.nn.Dropout(0.5))
        opt = sg.optim.SGD(m.parameters(), lr=0.1)

        def step(x, y):
            m.train()
            opt.zero_grad()
            loss = ops.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            m.eval()  # left in eval for validation
            return loss
        return m, step

    m1, eager = make()
    m2, step = make()
    compiled = static.compile(step)
    def same(k):  # each with the same dropout draws
        sg.manual_seed(k)
        got = compiled(x, y)
        sg.manual_seed(k)
        np.testing.assert_allclose(got.numpy(), eager(x, y).detach().numpy(), rtol=1e-6)
        assert not m2.training and not m2[1].training

    for k in range(10):
        same(k)
    assert compiled.traces <= 2
    m2.train()  # the caller switched it back: the step still starts from its own train()
    m1.train()
    same(10)
    assert compiled.traces <= 2


def test_the_variant_cache_is_bounded():
    compiled = static.compile(lambda x, s: x * s)
    x = vec(1.0, 2.0)
    for k in range(3 * MAX_VARIANTS):
        np.testing.assert_allclose(compiled(x, float(k)).numpy(), [k, 2 * k])
    assert compiled.traces == 3 * MAX_VARIANTS
    assert len(compiled.executors) == MAX_VARIANTS
    traces = compiled.traces
    compiled(x, float(3 * MAX_VARIANTS - 1))  # the most recent one is kept
    assert compiled.traces == traces


# ---- item 9: `sparsegraph graph` errors -----------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["--dataset", "nosuch"], r"^sparsegraph graph: unknown dataset 'nosuch'"),
    (["--out", "/nonexistent/dir/x.dot"], r"^sparsegraph graph: --out: the folder .* does not "
                                          r"exist$"),
])
def test_graph_command_errors_are_one_line(argv, message, tmp_path, capsys):
    import re

    from sparsegraph.cli import main

    args = ["graph", "--model", "sage", "--out", str(tmp_path / "g.dot")] + argv
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err


# ---- item 10: the listing of what is returned -----------------------------------------------
def test_the_listing_shows_dict_keys_and_a_returned_grad():
    w = sg.nn.Parameter(vec(1.0, 2.0))

    def step(x):
        w.grad = None
        loss = (x * w).sum()
        loss.backward()
        return {"loss": loss, "grad": w.grad, "w": w}

    compiled = static.compile(step, passes=[])
    compiled(vec(3.0, 4.0))
    text = str(compiled.graph)
    p = next(v for v in compiled.graph.values() if v.kind == "param").label()
    assert "return {'loss': %" in text and f"'grad': {p}.grad, 'w': {p}}}" in text
    assert f"set_grad({p}, None)" in text
    assert ".grad [2]" in compiled.graph.to_dot()
