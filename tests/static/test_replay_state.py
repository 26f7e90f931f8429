"""State a compiled step must read anew on every call, never freeze from the trace: live
``.grad`` tensors, random draws, module buffers, parameters (replaced, frozen, hooked),
``x.data``, a traced ``backward(gradient)``; several backward calls in one step; and what is
refused instead, with a message that says what to do."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.static import CaptureError

# compiles a forward only, on purpose: its detached outputs are what the test reads
FORWARD_ONLY = pytest.mark.filterwarnings("ignore:static.compile.*detached:UserWarning")


def t(shape, seed, dtype="float32"):
    return sg.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def same_over_calls(make, inputs):
    """Run an eager and a compiled copy of ``make()``'s step on each of ``inputs``."""
    eager, compiled = make(), static.compile(make())
    for args in inputs:
        want, got = eager(*args), compiled(*args)
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-6)
    return compiled


# ---- item 1: p.grad read after backward --------------------------------------------------------
def test_manual_sgd_reads_the_live_grad_on_every_call():
    x, y = t((10, 2), 0, "float64"), t((10, 1), 1, "float64")

    def make():
        w = sg.tensor([[3.0, 1.0]], requires_grad=True, dtype=sg.float64)

        def step(x, y):
            loss = ((x @ w.t() - y) ** 2).mean()
            loss.backward()
            with sg.no_grad():
                w.sub_(0.1 * w.grad)
                w.grad.zero_()
            return loss
        return step

    assert same_over_calls(make, [(x, y)] * 4).traces == 1


@pytest.mark.parametrize("scale", ["mul_", "assign"])
def test_grad_scaled_with_ops_reaches_the_optimizer(scale):
    def make():
        w = sg.nn.Parameter(sg.tensor([1.0, 1.0]))
        opt = sg.optim.SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            (x * w).sum().backward()
            if scale == "mul_":
                w.grad.mul_(0.5)
            else:
                w.grad = w.grad * 0.5
            opt.step()
            return w * 1
        return step

    same_over_calls(make, [(sg.tensor([1.0, 2.0]),), (sg.tensor([4.0, 6.0]),),
                           (sg.tensor([-1.0, 3.0]),)])


# ---- item 2: random creation ops ---------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda x: x + sg.randn(3),
    lambda x: x + sg.rand_like(x),
    lambda x: x + sg.randint(0, 100, (3,)).float(),
    lambda x: x[sg.randperm(3)],
    lambda x: x * sg.rand(3, generator=GEN),
], ids=["randn", "rand_like", "randint", "randperm", "generator"])
def test_random_creation_ops_draw_anew_like_eager(fn):
    x = sg.tensor([10.0, 20.0, 30.0])
    compiled = static.compile(fn)
    sg.manual_seed(0)
    GEN.manual_seed(1)
    got = [compiled(x).tolist() for _ in range(3)]
    sg.manual_seed(0)
    GEN.manual_seed(1)
    want = [fn(x).tolist() for _ in range(3)]
    np.testing.assert_array_equal(got, want)
    assert got[1] != got[2]


GEN = sg.Generator(1)


def test_random_leaf_with_requires_grad_is_refused():
    with pytest.raises(CaptureError, match=r"randn\(requires_grad=True\)"):
        static.trace(lambda x: x * sg.randn(3, requires_grad=True), t((3,), 0))


# ---- item 3: gradient hooks --------------------------------------------------------------------
def test_backward_through_a_hook_is_refused_at_trace_time():
    w = sg.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: g * 0)

    def step(x):
        w.grad = None
        (x * w).sum().backward()
        return w.grad

    with pytest.raises(CaptureError, match="gradient hook.*leaf.*shape"):
        static.compile(step)(sg.tensor([3.0, 4.0]))
    y_hook = lambda x: (lambda y: (y.retain_grad(), (y * 2).sum().backward()))(x * w)  # noqa
    with pytest.raises(CaptureError, match="gradient hook.*output of Mul"):
        static.trace(y_hook, sg.tensor([3.0, 4.0]))


def test_a_hook_registered_after_compiling_is_not_skipped():
    w = sg.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        w.grad = None
        (x * w).sum().backward()
        return w.grad

    compiled = static.compile(step)
    compiled(sg.tensor([3.0, 4.0]))
    handle = w.register_hook(lambda g: g * 0)
    with pytest.raises(CaptureError, match="gradient hook"):
        compiled(sg.tensor([3.0, 4.0]))
    handle.remove()
    np.testing.assert_array_equal(compiled(sg.tensor([3.0, 4.0])).numpy(), [3.0, 4.0])


# ---- item 4 and 8: parameters frozen or replaced -----------------------------------------------
def test_freezing_a_parameter_traces_again():
    w, b = sg.nn.Parameter(sg.tensor([1.0, 2.0])), sg.nn.Parameter(sg.tensor([0.5, 0.5]))
    opt = sg.optim.SGD([w, b], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = ((x * w + b) ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    compiled, x = static.compile(step), sg.tensor([1.0, 1.0])
    compiled(x)
    compiled(x)
    w.requires_grad_(False)
    before = w.detach().numpy().copy()
    compiled(x)
    np.testing.assert_array_equal(w.detach().numpy(), before)
    assert compiled.traces == 2


@FORWARD_ONLY
def test_replacing_a_module_parameter_traces_again():
    sg.manual_seed(0)
    model = sg.nn.Sequential(sg.nn.Linear(5, 4), sg.nn.ReLU(), sg.nn.Linear(4, 3))
    x = t((6, 5), 0)
    compiled = static.compile(lambda x: model(x).sum())
    compiled(x)
    compiled(x)
    model[2].weight = sg.nn.Parameter(sg.ones(3, 4))
    np.testing.assert_allclose(compiled(x).numpy(), model(x).sum().detach().numpy(), rtol=1e-6)
    assert compiled.traces == 2


def test_a_constant_changed_in_place_after_folding_traces_again():
    a = sg.sparse_csr([0, 2, 3, 4], [0, 1, 2, 0], np.ones(4, np.float32), (3, 3))
    f = lambda x: (ops.spmm(a, x) * 2.0).sum()  # noqa: E731  (scale folded into a's values)
    compiled, x = static.compile(f), t((3, 2), 0)
    compiled(x)
    compiled(x)
    with sg.no_grad():
        a.values.mul_(3.0)
    np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
    assert compiled.traces == 2


# ---- item 5: module buffers --------------------------------------------------------------------
@FORWARD_ONLY
def test_batchnorm_running_statistics_are_read_on_every_call():
    x = t((8, 4), 0)
    bn = sg.nn.BatchNorm1d(4)
    bn.eval()
    compiled = static.compile(lambda x: bn(x))
    compiled(x)
    compiled(x)
    bn.train()
    with sg.no_grad():
        bn(x * 3 + 1)  # updates the running statistics in place
    bn.eval()
    with sg.no_grad():
        want = bn(x).numpy()
    np.testing.assert_allclose(compiled(x).numpy(), want, rtol=1e-6, atol=1e-6)
    # read by reference: no second trace needed
    assert "(mutable)" in str(compiled.graph) and compiled.traces == 1


@FORWARD_ONLY
def test_batchnorm_cumulative_average_counts_batches_on_every_call():
    # momentum=None averages over the batches seen: the count is a buffer the step changes
    eager, captured = sg.nn.BatchNorm1d(3, momentum=None), sg.nn.BatchNorm1d(3, momentum=None)
    compiled = static.compile(lambda x: captured(x).sum())
    xs = [t((6, 3), seed) for seed in range(4)]
    for x in xs:
        eager(x)
        compiled(x)
    np.testing.assert_allclose(captured.running_mean.numpy(), eager.running_mean.numpy())
    np.testing.assert_allclose(captured.running_var.numpy(), eager.running_var.numpy())
    np.testing.assert_allclose(eager.running_mean.numpy(),
                               np.mean([x.numpy().mean(0) for x in xs], 0), rtol=1e-5)
    assert captured.num_batches_tracked.item() == 4


# ---- item 6: x.data and sg.tensor(x) -----------------------------------------------------------
@FORWARD_ONLY
def test_data_of_a_traced_tensor_follows_each_input():
    w = sg.nn.Parameter(sg.ones(3))
    f = lambda x: (x.data * w).sum()  # noqa: E731
    compiled = static.compile(f)
    compiled(sg.tensor([1.0, -2.0, 3.0]))
    assert compiled(sg.tensor([10.0, 20.0, 30.0])).item() == 60.0


def test_tensor_of_a_traced_tensor_is_refused_with_the_fix():
    with pytest.raises(CaptureError, match=r"sparsegraph.tensor\(t\).*detach\(\).clone\(\)"):
        static.trace(lambda x: sg.tensor(x) * 2, t((3,), 0))
    c = sg.tensor([1.0, 2.0, 3.0])
    graph = static.trace(lambda x: sg.tensor(c) * x, t((3,), 0))  # a constant: fine
    np.testing.assert_array_equal(graph(sg.ones(3)).numpy(), [1.0, 2.0, 3.0])


# ---- item 7: backward(gradient) ----------------------------------------------------------------
def test_backward_with_a_traced_gradient_uses_each_calls_gradient():
    w = sg.nn.Parameter(sg.tensor([1.0, 2.0]))

    def step(x, gw):
        w.grad = None
        (x * w).backward(gw)
        return w.grad

    compiled, x = static.compile(step), sg.tensor([1.0, 1.0])
    compiled(x, sg.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(compiled(x, sg.tensor([5.0, 7.0])).numpy(), [5.0, 7.0])
    with pytest.raises(CaptureError, match=r"backward\(gradient\) expected .*float32"):
        static.trace(step, x, sg.tensor([1.0, 1.0], dtype="float64"))


# ---- item 9: several backward calls ------------------------------------------------------------
def test_two_backward_calls_through_one_forward():
    def make():
        w = sg.tensor([1.0, 2.0], requires_grad=True)

        def step(x):
            w.grad = None
            y = x * w
            y.sum().backward(retain_graph=True)
            (y * y).sum().backward()
            return w.grad
        return step

    same_over_calls(make, [(sg.tensor([3.0, 4.0]),), (sg.tensor([1.0, -2.0]),)] * 2)


def test_gradient_accumulation_over_micro_batches():
    def make():
        sg.manual_seed(0)
        lin = sg.nn.Linear(3, 2)

        def step(x):
            lin.zero_grad()
            ops.mse_loss(lin(x[0:2]), sg.zeros(2, 2)).backward()
            ops.mse_loss(lin(x[2:4]), sg.zeros(2, 2)).backward()  # CSE merges weight.t()
            return lin.weight.grad
        return step

    same_over_calls(make, [(t((4, 3), seed),) for seed in range(3)])


# ---- item 13 and 18: messages and listings -----------------------------------------------------
def test_autograd_grad_is_refused_with_what_to_use_instead():
    w = sg.nn.Parameter(sg.ones(3))
    with pytest.raises(CaptureError, match=r"autograd.grad\(\) is not supported.*\.backward"):
        static.trace(lambda x: sg.autograd.grad((x * w).sum(), [w]), t((3,), 0))


def test_listing_and_dot_show_op_attributes_and_declare_parameters():
    w = sg.nn.Parameter(sg.ones(3))
    graph = static.trace(lambda x: ((x ** 3).sum(dim=1) * 2.5) * w.sum(), t((2, 3), 0))
    text = str(graph)
    assert "Pow(input0, b=3)" in text and "dims=(1,)" in text and "b=2.5" in text
    assert "  param  %" in text and "float32[3]" in text
    dot = graph.to_dot()
    assert "Pow(b=3)" in dot and "Sum(dims=(1,), keepdim=False)" in dot


@FORWARD_ONLY
def test_a_layers_cached_normalisation_is_read_as_eager_reads_it():
    # GCNConv(cached=True) keeps its first normalisation (PyG's transductive cache): a compiled
    # step must not recompute it from later edge weights
    from sparsegraph.gnn import GCNConv, SGConv

    ei = np.array([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    x = t((4, 3), 0)
    weights = [sg.tensor(np.full(6, w, np.float32)) for w in (1.0, 1.0, 3.0)]

    def run(compile_it):
        sg.manual_seed(0)
        conv = GCNConv(3, 2, cached=True)
        fn = (lambda x, w: conv(x, ei, edge_weight=w).sum())  # noqa: E731
        fn = static.compile(fn) if compile_it else fn
        return [fn(x, w).item() for w in weights]

    np.testing.assert_allclose(run(True), run(False), rtol=1e-6)

    def run_sgc(compile_it):
        sg.manual_seed(0)
        conv = SGConv(3, 2, K=2, cached=True)
        fn = (lambda x: conv(x, ei).sum())  # noqa: E731
        fn = static.compile(fn) if compile_it else fn
        return [fn(x * s).item() for s in (1.0, 1.0, 2.0)]  # eager keeps the first A^K x

    np.testing.assert_allclose(run_sgc(True), run_sgc(False), rtol=1e-6)
