"""What capture must never freeze: values computed from traced tensors (data-dependent ops,
indices, masks), the sparsity structure, gradient resets, train / eval mode; and the
compile-call boundary (literals, keyword tensors, outputs no op reads)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.static import CaptureError

# compiles a forward only, on purpose: its detached outputs are what the test reads
FORWARD_ONLY = pytest.mark.filterwarnings("ignore:static.compile.*detached:UserWarning")


def t(shape, seed, dtype="float32"):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal(shape).astype(dtype))


def csr(indices):
    return sg.sparse_csr([0, 1, 2, 3], indices, np.ones(3, np.float32), (3, 3))


# ---- data-dependent values ---------------------------------------------------------------------
def test_python_branch_on_all_raises_instead_of_freezing_the_branch():
    f = lambda a: a * 3 if bool((a > 0).all()) else a * 2  # noqa: E731
    with pytest.raises(CaptureError, match=r"bool\(\).*AnyAll"):
        static.compile(f)(sg.ones(3))


def test_argmax_accuracy_is_recomputed_on_every_call():
    acc = lambda z, y: (z.argmax(dim=1) == y).float().mean()  # noqa: E731
    compiled, y = static.compile(acc), sg.tensor(np.arange(3))
    for seed in range(3):
        z = t((3, 3), seed)
        assert float(compiled(z, y).item()) == float(acc(z, y).item())
    assert compiled.traces == 1


@pytest.mark.parametrize("fn", [
    lambda a: a.argmax(dim=1), lambda a: a.argmin(dim=0, keepdim=True), lambda a: a.argmax(),
    lambda a: (a > 0).any(dim=1), lambda a: (a > 0).all(dim=0), lambda a: (a > 0).any(),
], ids=["argmax", "argmin", "argmax-all", "any", "all", "any-all"])
def test_arg_and_bool_reductions_are_graph_nodes(fn):
    graph = static.trace(fn, t((4, 3), 0))
    for seed, shift in [(1, 0.0), (2, -5.0), (3, 5.0)]:  # shifts: all / none positive
        x = t((4, 3), seed) + shift
        np.testing.assert_array_equal(graph(x).numpy(), fn(x).numpy())


@pytest.mark.parametrize("fn, what", [
    (lambda a: a[a > 0], "boolean mask"),
    (lambda a: ops.nonzero(a > 0), r"nonzero\(\)"),
    (lambda a: sg.tensor(np.asarray(a) * 2), r"np.asarray\(\)"),
    (lambda a: a * int(a.argmax()), r"item\(\).*ArgExtremum"),
], ids=["mask", "nonzero", "asarray", "int-argmax"])
def test_data_dependent_values_raise_at_trace_time(fn, what):
    with pytest.raises(CaptureError, match=what):
        static.trace(fn, t((5,), 0))


def test_a_constant_mask_is_still_allowed():
    mask = sg.tensor(np.array([True, False, True, False, True]))
    graph = static.trace(lambda a: a[mask] * 2, t((5,), 0))
    x = t((5,), 1)
    np.testing.assert_allclose(graph(x).numpy(), x.numpy()[[0, 2, 4]] * 2)


@pytest.mark.parametrize("fn", [
    lambda a, i: a[i] * 2, lambda a, i: ops.index_select(a, 0, i) + 1,
    lambda a, i: ops.masked_fill(a, a > 0.5, 0.0) + i.sum(),
], ids=["getitem", "index_select", "masked_fill"])
def test_traced_indices_and_masks_follow_new_inputs(fn):
    a1, a2 = t((4, 3), 0), t((4, 3), 1)
    i1, i2 = sg.tensor(np.array([0, 2])), sg.tensor(np.array([3, 1]))
    graph = static.trace(fn, a1, i1)
    np.testing.assert_allclose(graph(a2, i2).numpy(), fn(a2, i2).numpy())


def test_a_view_of_a_traced_index_array_raises():
    with pytest.raises(CaptureError, match="view of the raw array"):
        static.trace(lambda a, i: a[i.array[:, 0]], t((4, 3), 0), sg.tensor(np.array([[0], [2]])))


# ---- sparsity structure -----------------------------------------------------------------------
def test_another_structure_with_the_same_nnz_retraces():
    prop = lambda adj, x: ops.spmm(adj, x)  # noqa: E731
    a1, a2, x = csr([1, 2, 0]), csr([2, 0, 1]), t((3, 2), 0)
    compiled = static.compile(prop)
    compiled(a1, x)
    np.testing.assert_allclose(compiled(a2, x).numpy(), prop(a2, x).numpy())
    np.testing.assert_allclose(compiled(a1, x).numpy(), prop(a1, x).numpy())
    assert compiled.traces == 2


def test_a_traced_graph_refuses_another_structure():
    prop = lambda adj, x: ops.spmm(adj, x)  # noqa: E731
    a1, x = csr([1, 2, 0]), t((3, 2), 0)
    graph = static.trace(prop, a1, x)
    with pytest.raises(ValueError, match="input 0 .* traced structure"):
        graph(csr([2, 0, 1]), x)
    with pytest.raises(ValueError, match="input 1 .* dense Tensor"):
        graph(a1, a1)
    np.testing.assert_allclose(graph(sg.SparseTensor(a1.structure, a1.values * 2), x).numpy(),
                               prop(a1, x).numpy() * 2)


# ---- gradient resets and train / eval mode ------------------------------------------------------
def _module_zero_grad(lin):
    lin.zero_grad()


def _assign_none(lin):
    lin.weight.grad = None
    lin.bias.grad = None


@pytest.mark.parametrize("reset", [_module_zero_grad, _assign_none], ids=["zero_grad", "None"])
def test_gradient_resets_in_a_compiled_step_are_replayed(reset):
    def grads(compiled):
        sg.manual_seed(0)
        lin = sg.nn.Linear(2, 2)

        def step(x):
            reset(lin)
            loss = (lin(x) ** 2).sum()
            loss.backward()
            return loss

        fn = static.compile(step) if compiled else step
        for seed in range(3):
            fn(t((3, 2), seed))
        return lin.weight.grad.numpy()

    np.testing.assert_allclose(grads(True), grads(False), rtol=1e-6)


@FORWARD_ONLY
def test_eval_mode_retraces_and_each_mode_is_kept():
    sg.manual_seed(0)
    model = sg.nn.Sequential(sg.nn.Linear(3, 8), sg.nn.Dropout(0.5))
    compiled, x = static.compile(lambda x: model(x)), t((4, 3), 0)
    compiled(x)
    model.eval()
    np.testing.assert_allclose(compiled(x).numpy(), model(x).detach().numpy())
    model.train()
    compiled(x)
    model.eval()
    compiled(x)
    assert compiled.traces == 2


def test_assigning_a_traced_value_to_grad_assigns_each_calls_value():
    w = sg.nn.Parameter(sg.randn(3))
    compiled = static.compile(lambda x: setattr(w, "grad", x * 2))
    for seed in range(3):
        x = t((3,), seed)
        compiled(x)
        np.testing.assert_array_equal(w.grad.numpy(), (x * 2).numpy())
    assert compiled.traces == 1


# ---- outputs no recorded op reads ---------------------------------------------------------------
def test_returning_a_parameter_gradient_gives_each_calls_gradient():
    def run(compiled):
        sg.manual_seed(0)
        w = sg.nn.Parameter(sg.randn(2, 2))

        def f(x):
            loss = (ops.tanh(x @ w) ** 2).sum()
            loss.backward()
            return loss, w.grad

        fn = static.compile(f) if compiled else f
        return [[r.detach().numpy().copy() for r in fn(t((3, 2), seed))] for seed in range(3)]

    for got, want in zip(run(True), run(False), strict=True):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_returning_a_parameter_or_an_argmax():
    model = sg.nn.Linear(3, 2)
    graph = static.trace(lambda x: (x * 2, model.bias, x.argmax(dim=1)), t((4, 3), 0))
    x = t((4, 3), 1)
    doubled, bias, arg = graph(x)
    np.testing.assert_allclose(doubled.numpy(), x.numpy() * 2)
    np.testing.assert_array_equal(bias.detach().numpy(), model.bias.detach().numpy())
    np.testing.assert_array_equal(arg.numpy(), x.numpy().argmax(1))


# ---- the compile-call boundary -------------------------------------------------------------------
def test_python_scalars_are_guarded_constants_and_tensors_may_be_keywords():
    compiled, x = static.compile(lambda a, s=1.0: a * s), t((3,), 0)
    np.testing.assert_allclose(compiled(x, 2.0).numpy(), x.numpy() * 2)
    np.testing.assert_allclose(compiled(x, 3.0).numpy(), x.numpy() * 3)
    np.testing.assert_allclose(compiled(x, 2.0).numpy(), x.numpy() * 2)
    assert compiled.traces == 2
    np.testing.assert_allclose(compiled(a=t((3,), 1), s=3.0).numpy(), t((3,), 1).numpy() * 3)
    np.testing.assert_allclose(compiled(a=t((3,), 2), s=3.0).numpy(), t((3,), 2).numpy() * 3)
    assert compiled.traces == 3


def test_a_tensor_passed_to_another_keyword_retraces():
    x = t((3,), 0)
    compiled = static.compile(lambda a, b=None, c=None: a * 2 if c is None else a * c)
    compiled(x, b=x)
    np.testing.assert_allclose(compiled(x, c=x).numpy(), x.numpy() ** 2)
    assert compiled.traces == 2


def test_other_arguments_are_rejected_at_the_call():
    with pytest.raises(TypeError, match=r"argument 1 .* \(got set\)"):
        static.compile(lambda a, s: a * s)(t((3,), 0), {1, 2})
    # a list of literals is an argument as a tuple is (torch.compile's); the op names it
    with pytest.raises(TypeError, match=r"mul: expected `other` .* \(got list\)"):
        static.compile(lambda a, s: a * s)(t((3,), 0), [1, 2])


def test_plan_before_the_first_call_says_so():
    with pytest.raises(RuntimeError, match="plan: nothing is compiled yet"):
        static.compile(lambda a: a * 2).plan()


def test_optimize_accepts_one_pass_name():
    graph = static.trace(lambda a: (a * 2, a + 1)[0], t((3,), 0))
    assert static.optimize(graph, "dce").count() == 1
    with pytest.raises(ValueError, match=r"unknown passes \['dcx'\]"):
        static.optimize(graph, "dcx")


@FORWARD_ONLY
def test_labels_passed_as_an_argument_follow_each_call():
    """cross_entropy's targets are an input of the graph: another call's labels (ignored rows
    included) give eager's loss, not the first call's."""
    rng = np.random.default_rng(0)
    w = sg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    x = sg.tensor(rng.standard_normal((6, 3)))

    def loss(x, y):
        return sg.ops.cross_entropy(x @ w, y, ignore_index=-1)

    compiled = static.compile(loss)
    for y in ([0, 1, 2, 3, 0, 1], [3, 3, 2, -1, 0, -1], [1, -1, -1, -1, -1, -1]):
        y = sg.tensor(np.array(y))
        np.testing.assert_allclose(float(compiled(x, y)), float(loss(x, y)), rtol=1e-12)
    assert compiled.traces == 1


def test_one_tensor_for_two_arguments_is_part_of_the_guard():
    f = static.compile(lambda x, y: x * 2 - y)
    x = sg.tensor([1.0, 2.0], dtype="float64")
    np.testing.assert_allclose(f(x, x).numpy(), [1.0, 2.0])
    np.testing.assert_allclose(f(x, sg.tensor([10.0, 20.0], dtype="float64")).numpy(),
                               [-8.0, -16.0])
    assert f.traces == 2


def test_detach_is_recorded_not_frozen():
    f = static.compile(lambda x: x.detach() * 2)
    f(sg.tensor([1.0, 2.0], dtype="float64"))
    np.testing.assert_allclose(f(sg.tensor([5.0, 7.0], dtype="float64")).numpy(), [10.0, 14.0])
    g = static.compile(lambda x: float(x.detach().sum()))
    with pytest.raises(CaptureError):
        g(sg.tensor([1.0, 2.0]))


def test_a_grad_assigned_after_zero_grad_and_an_inputs_grad_replay():
    p = sg.nn.Parameter(sg.tensor([1.0, 1.0], dtype="float64"))
    one = sg.tensor([100.0, 100.0], dtype="float64")
    opt = sg.optim.SGD([p], lr=1.0)

    def step(x):
        opt.zero_grad()
        p.grad = one  # kept: only zero_grad's own writes are part of its effect
        (p * x).sum().backward()
        g = p.grad
        opt.step()
        return g

    runs = {}
    for compiled in (False, True):
        p.data, p.grad = sg.tensor([1.0, 1.0], dtype="float64"), None
        fn = static.compile(step) if compiled else step
        grads = [fn(sg.tensor(v, dtype="float64")).numpy() for v in ([1.0, 1.0], [2.0, 3.0])]
        runs[compiled] = grads + [p.detach().numpy().copy()]
    for a, b in zip(runs[True], runs[False], strict=True):
        np.testing.assert_allclose(a, b)

    def square_grad(x):
        x.grad = None
        (x * x).sum().backward()
        return x.grad

    h = static.compile(square_grad)
    for v in ([1.0, 2.0], [3.0, 4.0]):
        t = sg.tensor(v, dtype="float64", requires_grad=True)
        np.testing.assert_allclose(h(t).numpy(), 2 * np.array(v))


def test_an_in_place_write_through_a_view_with_history_is_refused():
    """The base's CopySlices history has no static form: refused, never a graph whose backward
    misses the write (a write without autograd is captured as usual)."""
    p = sg.nn.Parameter(sg.tensor([1.0, 2.0, 3.0], dtype="float64"))

    def f(x):
        y = p * 1
        y[1:].mul_(x)
        y.sum().backward()
        return y

    with pytest.raises(CaptureError, match="writing through a view"):
        static.compile(f)(sg.tensor([2.0, 3.0], dtype="float64"))

    def g(x):
        z = x * 1
        z[0] = 5.0
        return z

    cg = static.compile(g)
    cg(sg.tensor([1.0, 2.0]))
    np.testing.assert_allclose(cg(sg.tensor([3.0, 4.0])).numpy(), [5.0, 4.0])
