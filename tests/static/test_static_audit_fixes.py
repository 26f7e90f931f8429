"""Eager-vs-compiled differential audit of static graphs (issue 6): in-place activations and
custom Functions whose backward returns None, ``.data =`` on a folded constant, reseeding
inside a compiled function, the memory plan's eager reference, and folded constants shared."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.static import passes
from sparsegraph.testing import random_graph

# compiles a forward only, on purpose: its detached outputs are what the test reads
FORWARD_ONLY = pytest.mark.filterwarnings("ignore:static.compile.*detached:UserWarning")


def same(got, want, rtol=1e-10):
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=rtol,
                               atol=1e-12)


# ---- finding 1: a None gradient is "no contribution", as in eager mode -------------------------
ACTIVATIONS = {
    "nn.ReLU(inplace=True)": lambda h: sg.nn.ReLU(inplace=True)(h),
    "ops.relu(inplace=True)": lambda h: ops.relu(h, inplace=True),
    "ops.leaky_relu(inplace=True)": lambda h: ops.leaky_relu(h, 0.1, inplace=True),
    "ops.elu(inplace=True)": lambda h: ops.elu(h, inplace=True),
}


def _mlp_step(act):
    """A fresh, identically seeded two-layer model with ``act`` between the layers, and its
    SGD training step (the activation's output is read again: h * h)."""
    sg.manual_seed(0)
    lin1, lin2 = sg.nn.Linear(4, 8).to("float64"), sg.nn.Linear(8, 2).to("float64")
    params = list(lin1.parameters()) + list(lin2.parameters())
    opt = sg.optim.SGD(params, lr=0.1, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        h = act(lin1(x))
        loss = ops.cross_entropy(lin2(h * h), y)
        loss.backward()
        opt.step()
        return loss

    return step, params


@pytest.mark.parametrize("passes_", [None, []], ids=["all passes", "no passes"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_in_place_activation_in_a_compiled_step_trains_as_eager(name, passes_):
    eager, eager_params = _mlp_step(ACTIVATIONS[name])
    step, params = _mlp_step(ACTIVATIONS[name])
    fast = static.compile(step, passes=passes_)
    rng = np.random.default_rng(1)
    x, y = sg.tensor(rng.standard_normal((6, 4))), sg.tensor([0, 1, 1, 0, 1, 0])
    for _ in range(4):  # the first call traces; the replays used to raise on add_grads(None, g)
        same(fast(x, y), eager(x, y))
    assert fast.traces == 1
    for p, q in zip(params, eager_params, strict=True):
        same(p, q)
        same(p.grad, q.grad)


class FirstIgnored(sg.autograd.Function):
    """``2 b``; its backward declares no gradient for ``a`` (None), which eager mode allows."""

    @staticmethod
    def forward(ctx, a, b):
        return a * 0 + b * 2

    @staticmethod
    def backward(ctx, g):
        return None, g * 2


def test_a_custom_backward_returning_none_adds_nothing_to_a_shared_input():
    w = sg.Parameter(sg.tensor([1.0, 2.0, 3.0], dtype=sg.float64))

    def step(x, twice):
        w.grad = None
        h = x * w
        out = FirstIgnored.apply(h, h * 3)  # h's gradient: add_grads(None, 6 x)
        if twice:
            out = out + h  # a third contribution to h
        out.sum().backward()
        return w.grad

    x = sg.tensor([1.0, 2.0, 0.5], dtype=sg.float64)
    for twice in (False, True):
        fast = static.compile(step)
        want = step(x, twice)
        for _ in range(3):
            same(fast(x, twice), want)


def test_a_node_reached_only_by_none_is_skipped_and_its_leaf_keeps_no_gradient():
    w = sg.Parameter(sg.tensor([1.0, 2.0, 3.0], dtype=sg.float64))
    v = sg.Parameter(sg.tensor([0.5, 0.5, 4.0], dtype=sg.float64))

    def step(x):
        w.grad = v.grad = None
        FirstIgnored.apply(x * w, x * v).sum().backward()  # x * w's backward gets only None
        return v.grad, w.grad

    x = sg.tensor([1.0, 2.0, 0.5], dtype=sg.float64)
    want_v, want_w = step(x)
    assert want_w is None  # eager: no gradient reached w
    fast = static.compile(step)
    for _ in range(3):
        got_v, got_w = fast(x)
        same(got_v, want_v)
        assert got_w is None and w.grad is None


# ---- finding 2: `.data =` on a constant a pass folded ------------------------------------------
@FORWARD_ONLY
def test_data_assignment_to_a_folded_constant_is_seen_by_the_next_call():
    scale = sg.tensor([1.0, 2.0, 3.0], dtype=sg.float64)
    fn = lambda x: x * ops.exp(scale)  # noqa: E731  (exp(scale) is folded once)
    fast = static.compile(fn)
    x = sg.ones(3, dtype=sg.float64)
    fast(x)
    fast(x)
    scale.data = sg.zeros(3, dtype=sg.float64)  # a new array; the version does not move
    same(fast(x), fn(x))
    assert fast.traces == 2
    same(fast(x), fn(x))
    assert fast.traces == 2  # the new graph is kept


@FORWARD_ONLY
def test_data_assignment_to_a_closure_adjacencys_values_refolds_gcn_norm():
    ei = random_graph(8, 20, seed=0)
    adj = sg.from_edge_index(ei, num_nodes=8, values=sg.ones(20, dtype=sg.float64))
    prop = lambda x: ops.spmm(ops.gcn_norm(adj), x)  # noqa: E731
    fast = static.compile(prop)
    x = sg.tensor(np.random.default_rng(2).standard_normal((8, 3)))
    fast(x)
    fast(x)
    adj.values.data = sg.tensor(np.random.default_rng(3).random(20))
    same(fast(x), prop(x))


def test_data_assignment_does_not_move_the_version_so_eager_backward_still_runs():
    """The guard compares the array, so `.data =` keeps PyTorch's behaviour in eager mode: a
    saved tensor given new data does not raise the modified-in-place error."""
    w = sg.Parameter(sg.tensor([1.0, 2.0], dtype=sg.float64))
    c = sg.tensor([3.0, 4.0], dtype=sg.float64)
    loss = (w * c).sum()  # Mul saves c
    before = c._version[0]
    c.data = sg.tensor([5.0, 6.0], dtype=sg.float64)
    assert c._version[0] == before
    loss.backward()
    assert w.grad is not None


# ---- finding 3: reseeding inside a compiled function -------------------------------------------
@FORWARD_ONLY
def test_manual_seed_inside_a_compiled_function_is_replayed_with_the_draws():
    def fn(x):
        sg.manual_seed(0)
        return ops.dropout(x, 0.5) + sg.rand(8, dtype=sg.float64)

    x = sg.ones(8, dtype=sg.float64)
    fast = static.compile(fn)
    for _ in range(3):
        got = fast(x)
        after_compiled = sg.rand(4, dtype=sg.float64)  # the global stream after the call
        want = fn(x)
        after_eager = sg.rand(4, dtype=sg.float64)
        same(got, want)
        same(after_compiled, after_eager)


@FORWARD_ONLY
def test_a_generator_made_or_reseeded_inside_a_compiled_function_draws_as_eager():
    outer = sg.Generator(5)

    def fn(x):
        g = sg.Generator(7)  # a fresh generator on every eager call
        outer.manual_seed(11)
        return sg.rand(3, dtype=sg.float64, generator=g) + ops.dropout(x, 0.5, generator=outer)

    x = sg.ones(3, dtype=sg.float64)
    want = fn(x)
    fast = static.compile(fn)
    for _ in range(3):
        same(fast(x), want)


def test_a_training_step_that_reseeds_its_dropout_trains_as_eager():
    def make():
        sg.manual_seed(1)
        lin = sg.nn.Linear(5, 3).to("float64")
        opt = sg.optim.Adam(lin.parameters(), lr=0.05)

        def step(x, y):
            opt.zero_grad()
            sg.manual_seed(42)  # the same dropout mask on every call
            loss = ops.cross_entropy(lin(ops.dropout(x, 0.5)), y)
            loss.backward()
            opt.step()
            return loss

        return step, list(lin.parameters())

    eager, eager_params = make()
    step, params = make()
    fast = static.compile(step)
    x = sg.tensor(np.random.default_rng(4).standard_normal((7, 5)))
    y = sg.tensor([0, 1, 2, 0, 1, 2, 0])
    for _ in range(4):
        same(fast(x, y), eager(x, y))
    for p, q in zip(params, eager_params, strict=True):
        same(p, q)


# ---- finding 4: the plan's reference is eager mode's peak --------------------------------------
def _sgd_step(body, n: int = 64):
    w = sg.Parameter(sg.tensor(np.linspace(0.1, 0.5, n), dtype=sg.float64))
    opt = sg.optim.SGD([w], lr=0.01)

    def step(x):
        opt.zero_grad()
        loss = body(x * w).sum()
        loss.backward()
        opt.step()
        return loss

    return step


def _plan(body, passes_=None):
    fast = static.compile(_sgd_step(body), passes=passes_)
    fast(sg.ones(64, dtype=sg.float64))
    return fast.plan()


def test_eager_peak_keeps_saved_tensors_until_their_backward():
    n = 64 * 8  # bytes of one (64,) float64 intermediate
    # Exp saves its output: three outputs wait for the backward together
    saved = _plan(lambda h: ops.exp(ops.exp(ops.exp(h))), [])
    # Add saves nothing: each sum dies at the next one
    unsaved = _plan(lambda h: ((h + 1.0) + 1.0) + 1.0, [])
    assert saved.eager_peak_bytes >= 4 * n  # x * w and three saved outputs
    assert unsaved.eager_peak_bytes <= 2 * n + 8
    assert saved.eager_peak_bytes <= saved.total_bytes


@pytest.mark.parametrize("body", [
    lambda h: ops.exp(ops.exp(ops.exp(h))),  # saved outputs wait for the backward
    lambda h: ops.tanh(ops.exp(h) * 2.0),
])
def test_the_eager_estimate_is_what_an_eager_step_allocates(body):
    # measured: the peak numpy allocation (tracemalloc) of the same step run eagerly, over
    # what was alive before it (the parameter, its grad and the input); arrays of 512 KiB,
    # so Python's own allocations are noise
    import tracemalloc

    from sparsegraph.static.runtime import size_text

    n = 1 << 16
    fast = static.compile(_sgd_step(body, n), passes=[])
    fast(sg.ones(n, dtype=sg.float64))
    plan = fast.plan()
    step, x = _sgd_step(body, n), sg.ones(n, dtype=sg.float64)
    step(x)  # the parameter's grad exists from here on, as it does between compiled calls
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        step(x)
        measured = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert 0.75 * plan.eager_peak_bytes <= measured <= 1.25 * plan.eager_peak_bytes, (
        measured, plan.eager_peak_bytes)
    assert measured < 0.75 * plan.total_bytes  # eager frees what it no longer needs
    assert f"vs {size_text(plan.eager_peak_bytes)} for eager mode" in str(plan)


def test_optimize_leaves_its_input_graph_alone_and_keeps_the_eager_estimate():
    graph = static.trace(lambda x: ops.exp(x).sum(), sg.ones(5, dtype=sg.float64))
    out = passes.optimize(graph, [])
    assert out is not graph and graph.eager_peak_bytes is None
    assert out.eager_peak_bytes == static.memory_plan(graph).peak_bytes
    again = passes.optimize(out, ["dce"])  # an optimised graph keeps the traced reference
    assert again.eager_peak_bytes == out.eager_peak_bytes


# ---- folded constants: one scaled copy per (adjacency, factor) ---------------------------------
def test_scale_folding_shares_one_constant_for_repeated_propagations():
    ei = random_graph(10, 30, seed=1)
    adj = sg.from_edge_index(ei, num_nodes=10, values=sg.ones(30, dtype=sg.float64))
    w = sg.Parameter(sg.tensor(np.random.default_rng(5).standard_normal((4, 3))))

    def fn(x):  # APPNP's K = 3 propagations with one factor
        h = x @ w
        z = h
        for _ in range(3):
            z = ops.spmm(adj, z) * 0.9 + h * 0.1
        return z.sum()

    x = sg.tensor(np.random.default_rng(6).standard_normal((10, 4)))
    graph = static.trace(fn, x)
    after = passes.fold_scale(graph)
    scaled = {id(v) for v in after.values() if v.name == "folded:scaled values"}
    assert after.count(op="SpMM") == 3 and len(scaled) == 1
    out, (grad,) = after.backward_graph(wrt=[w])(x)
    loss = fn(x)
    (want,) = sg.autograd.grad(loss, [w])
    same(out, loss)
    same(grad, want)
