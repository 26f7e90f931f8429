"""A compiled function follows the sparse-vs-dense setting in force at each call (spmm_mode,
memory budget, cost table), warns when only a forward was compiled, refuses a non-callable, and
shows its graph and plan readably (audit_large3 #4, audit_core3 #8, #9, #12)."""

import threading
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import static
from sparsegraph.ops import cost_model, spmm_mode

N = 200
# a fixed table under which a half-dense (N, N) product runs dense ("auto"), far from the tie
TABLE = {"device": "cpu", "dtype": "float64",
         "sparse": {"overhead": 1e-5, "per_nnz": 1e-7, "per_nnz_feature": 1e-8,
                    "per_row_feature": 0.0},
         "dense": {"overhead": 1e-5, "per_element": 1e-10, "per_nnz": 0.0, "per_mac": 1e-12,
                   "per_row_feature": 0.0}}


@pytest.fixture(autouse=True)
def _restore_settings():
    table, budget = cost_model.cost_table(), cost_model.set_memory_budget(None)
    cost_model.set_cost_table(TABLE)
    yield
    cost_model.set_cost_table(table)
    cost_model.set_memory_budget(budget)


def dense_enough():
    """A half-dense (N, N) matrix: `TABLE` runs ``A @ X`` dense under "auto"."""
    a = sp.random(N, N, density=0.5, random_state=0, format="csr", dtype=np.float64)
    return sg.from_scipy(a)


def products(cf) -> list[str]:
    return [n.op for n in cf.graph.nodes if n.op in ("MatMul", "SpMM")]


def make_step(a):
    """A whole training step with a sparse product: compiled without warnings."""
    w = sg.nn.Parameter(sg.tensor(np.ones((8, 8))))
    opt = sg.optim.SGD([w], lr=1e-3)

    def step(x):
        opt.zero_grad()
        loss = (a @ (x @ w)).sum()
        loss.backward()
        opt.step()
        return loss

    return step, w


def test_a_call_under_another_mode_traces_again_and_each_mode_is_kept():
    step, w = make_step(dense_enough())
    cf, x = static.compile(step), sg.tensor(np.ones((N, 8)))
    cf(x)
    cf(x)
    assert products(cf) == ["MatMul", "MatMul"] and cf.traces == 1  # auto: dense
    with spmm_mode("sparse"):
        cf(x)
        assert products(cf) == ["MatMul", "SpMM"] and cf.traces == 2
        cf(x)
        assert cf.traces == 2
    cf(x)  # back under auto: the first variant again, no new trace
    assert cf.traces == 2
    with spmm_mode("dense"):
        cf(x)
    assert cf.traces == 3


def test_compiled_under_a_mode_then_called_outside_follows_the_callers_mode():
    step, w = make_step(dense_enough())
    cf, x = static.compile(step), sg.tensor(np.ones((N, 8)))
    with spmm_mode("sparse"):
        cf(x)
        cf(x)
        assert products(cf) == ["MatMul", "SpMM"]
    before = w.detach().numpy().copy()
    eager_w = sg.nn.Parameter(sg.tensor(before))
    cf(x)
    assert products(cf) == ["MatMul", "MatMul"] and cf.traces == 2
    # same numbers either way: the eager update of the same step
    loss = (dense_enough() @ (x @ eager_w)).sum()
    loss.backward()
    np.testing.assert_allclose(w.detach().numpy(), before - 1e-3 * eager_w.grad.numpy(),
                               rtol=1e-12)


def test_the_memory_budget_and_the_cost_table_are_part_of_the_guard():
    step, _ = make_step(dense_enough())
    cf, x = static.compile(step), sg.tensor(np.ones((N, 8)))
    cf(x)
    assert products(cf) == ["MatMul", "MatMul"]
    cost_model.set_memory_budget(N * N * 8 - 1)  # the dense matrix no longer fits
    cf(x)
    assert products(cf) == ["MatMul", "SpMM"] and cf.traces == 2
    cost_model.set_memory_budget(None)
    cf(x)
    assert cf.traces == 2  # the first variant again
    table = cost_model.cost_table()
    cost_model.set_cost_table({**table, "min_speedup": 1e9})  # dense never fast enough
    cf(x)
    assert products(cf) == ["MatMul", "SpMM"] and cf.traces == 3
    cost_model.set_cost_table(table)  # an equal table: the first variant again
    cf(x)
    assert cf.traces == 3


def test_a_function_without_sparse_products_does_not_trace_again():
    w = sg.nn.Parameter(sg.tensor(np.ones(3)))
    opt = sg.optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        (x * w).sum().backward()
        opt.step()

    cf, x = static.compile(step), sg.ones(3, dtype=sg.float64)
    cf(x)
    with spmm_mode("dense"):
        cf(x)
    cost_model.set_memory_budget(0)
    cf(x)
    assert cf.traces == 1


def test_a_block_in_another_thread_does_not_change_this_threads_variant():
    step, _ = make_step(dense_enough())
    cf, x = static.compile(step), sg.tensor(np.ones((N, 8)))
    cf(x)
    inside, done = threading.Event(), threading.Event()

    def other():
        with spmm_mode("sparse"):
            inside.set()
            done.wait(10)

    th = threading.Thread(target=other)
    th.start()
    inside.wait(10)
    try:
        cf(x)  # this thread's mode is still auto
        assert cf.traces == 1 and products(cf) == ["MatMul", "MatMul"]
    finally:
        done.set()
        th.join()


# ---- audit_core3 #8: a compiled forward alone ----------------------------------------------------
def test_compiling_only_a_forward_warns_once_that_outputs_are_detached():
    model = sg.nn.Linear(4, 1)
    fwd = static.compile(lambda x: model(x))
    with pytest.warns(UserWarning, match=r"static\.compile: .*<lambda> returned a tensor that "
                                         r"requires grad and ran no \.backward\(\); the outputs "
                                         r"of a compiled function are detached.*Compile the "
                                         r"whole training step"):
        out = fwd(sg.ones(3, 4))
    assert not out.requires_grad  # semantics unchanged: detached
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fwd(sg.ones(3, 4))  # once
        fwd(sg.ones(5, 4))  # a new trace does not warn again
    assert fwd.traces == 2


def test_the_warning_points_at_the_callers_line():
    fwd = static.compile(lambda x: sg.nn.functional.linear(x, w))
    w = sg.nn.Parameter(sg.ones(2, 3))
    with pytest.warns(UserWarning) as record:
        fwd(sg.ones(1, 3))
    assert record[0].filename == __file__


@pytest.mark.parametrize("kind", ["step", "no_grad", "no_params", "argmax"])
def test_no_warning_when_nothing_would_be_lost(kind):
    model = sg.nn.Linear(4, 3)
    opt = sg.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss  # requires grad, but the step ran its backward

    def evaluate(x):
        with sg.no_grad():
            return model(x)

    fn = {"step": step, "no_grad": evaluate, "no_params": lambda x: F.relu(x) * 2,
          "argmax": lambda x: model(x).argmax(1)}[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cf = static.compile(fn)
        cf(sg.ones(2, 4))
        cf(sg.ones(2, 4))


# ---- audit_core3 #9: not a function ---------------------------------------------------------
@pytest.mark.parametrize("fn", [None, 3, "f"])
def test_compile_and_trace_refuse_a_non_callable_at_once(fn):
    with pytest.raises(TypeError, match=r"static\.compile: expected `fn` to be callable.*\(got "
                                        + type(fn).__name__):
        static.compile(fn)
    with pytest.raises(TypeError, match=r"static\.trace: expected `fn` to be callable.*\(got "
                                        + type(fn).__name__):
        static.trace(fn, sg.ones(2))


# ---- audit_core3 #12: the listing and the plan ---------------------------------------------------
def test_activations_are_listed_without_their_generic_parameter_slot():
    def fn(x):
        return (F.relu(x) + F.leaky_relu(x, 0.2) + F.elu(x) + sg.sigmoid(x) + sg.tanh(x)
                + F.softplus(x, beta=2.0) + F.gelu(x, approximate="tanh"))

    graph = static.trace(fn, sg.ones(3))
    text = str(graph)
    assert "p=" not in text and "None" not in text.split("return")[0]
    for line in ("= ReLU(input0)", "= LeakyReLU(input0, negative_slope=0.2)",
                 "= ELU(input0, alpha=1.0)", "= Sigmoid(input0)", "= Tanh(input0)",
                 "= Softplus(input0, beta=2.0, threshold=20.0)",
                 "= GELU(input0, approximate='tanh')"):
        assert line in text, line
    attrs = {d["op"]: d["attrs"] for _, d in graph.to_networkx().nodes(data=True)
             if d["kind"] == "forward"}
    assert attrs["ReLU"] == "" and attrs["LeakyReLU"] == "negative_slope=0.2"
    assert 'label="ReLU\\n' in graph.to_dot()


def test_plan_prints_small_sizes_readably_and_labels_its_reference():
    w = sg.nn.Parameter(sg.ones(4, 3))
    opt = sg.optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = F.relu(x @ w).sum()
        loss.backward()
        opt.step()
        return loss

    cf = static.compile(step)
    cf(sg.ones(10, 4))
    plan = cf.plan()
    text = str(plan)
    assert "0.0 MiB" not in text
    # the reference is eager mode's peak (estimated from the trace), not "nothing freed"
    assert plan.eager_peak_bytes is not None
    assert text.startswith(f"planned peak {plan.peak_bytes} bytes of intermediates vs "
                           f"{plan.eager_peak_bytes} bytes for eager mode (the traced ops in "
                           "eager order); liveness estimates")
    assert f"{plan.buffers} buffers ({plan.buffer_bytes} bytes) with reuse" in text


@pytest.mark.parametrize("nbytes, text", [(0, "0 bytes"), (1023, "1023 bytes"),
                                          (1536, "1.5 KiB"), (3 << 20, "3 MiB"),
                                          (int(2.25 * 2**30), "2.25 GiB")])
def test_plan_sizes_keep_three_significant_digits(nbytes, text):
    from sparsegraph.static.runtime import size_text

    assert size_text(nbytes) == text


# ---- review B4: the trace, not a read-that-increments counter, says a choice was made -------
def test_a_trace_records_whether_it_chose_sparse_or_dense_and_reading_has_no_effect():
    a, x = dense_enough(), sg.tensor(np.ones((N, 8)))
    assert static.trace(lambda x: a @ x, x).decided
    plain = static.trace(lambda x: (x * 2).sum(), x)
    cost_model.decide_spmm(4, 4, 2, 1)  # outside a trace: tells no graph
    cost_model.note_decision()
    assert not plain.decided and not plain.copy().decided
    assert not hasattr(cost_model, "consults")


def test_the_sparse_vs_dense_pass_marks_its_own_choices_only():
    a = dense_enough()
    graph = static.trace(lambda x: (x * 2).sum(), sg.tensor(np.ones((N, 8))))
    graph.decided = False
    from sparsegraph.static import passes

    x = sg.tensor(np.ones((N, 8)))
    with spmm_mode("sparse"):  # an SpMM node for the pass to decide on
        traced = static.trace(lambda x: a @ x, x)
    traced.decided = False  # as if the eager product had not been recorded: the pass decides
    assert passes.choose_dense(traced).decided
    custom = passes.choose_dense(traced, lambda *s: SimpleNamespace(dense=False, reason="no"))
    assert not custom.decided  # the caller's own rule does not follow the model's state
    assert not passes.choose_dense(graph).decided  # no product: nothing chosen


def test_a_compiled_step_without_sparse_products_ignores_the_mode():
    w = sg.nn.Parameter(sg.tensor(np.ones((8, 8))))

    def step(x):
        loss = (x @ w).sum()
        loss.backward()
        return loss

    cf, x = static.compile(step), sg.tensor(np.ones((N, 8)))
    cf(x)
    cost_model.decide_spmm(4, 4, 2, 1)
    with spmm_mode("dense"):
        cf(x)
    assert cf.traces == 1
