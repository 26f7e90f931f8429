"""`static.compile` of whole training steps (forward + loss + backward + Adam) gives the same
losses and parameters as eager mode over 20 steps, with every pass on."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import static
from sparsegraph.datasets import load_for_training
from sparsegraph.gnn import models

# compiles a forward only, on purpose: its detached outputs are what the test reads
FORWARD_ONLY = pytest.mark.filterwarnings("ignore:static.compile.*detached:UserWarning")

TOL = {"float64": 1e-10, "float32": 1e-5}


def build(name, graph, dtype):
    sg.manual_seed(0)
    f, c = graph.num_features, int(np.asarray(graph.y.array).max()) + 1
    model = {"gcn": lambda: models.GCN(f, 16, 2, c, dropout=0.5),
             "gat": lambda: models.GAT(f, 8, 2, c, dropout=0.6, heads=4),
             "sage": lambda: models.GraphSAGE(f, 16, 2, c, dropout=0.5)}[name]().to(dtype)
    opt = sg.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    return model, static.node_classification_step(model, graph, opt)


def run(name, graph, dtype, compiled, steps=20):
    model, step = build(name, graph, dtype)
    fn = static.compile(step) if compiled else step
    losses = [float(fn().item()) for _ in range(steps)]
    return losses, [p.detach().numpy().copy() for p in model.parameters()], fn


def check_same(name, graph, dtype):
    eager_losses, eager_params, _ = run(name, graph, dtype, compiled=False)
    static_losses, static_params, fn = run(name, graph, dtype, compiled=True)
    np.testing.assert_allclose(static_losses, eager_losses, rtol=TOL[dtype], atol=TOL[dtype])
    for a, b in zip(static_params, eager_params, strict=True):
        np.testing.assert_allclose(a, b, rtol=TOL[dtype], atol=TOL[dtype])
    assert eager_losses[-1] < eager_losses[0]  # it trained
    assert fn.traces == 1
    return fn.graph


def graph_in(dtype, data_root=None):
    name = "cora" if data_root else "karate"
    graph = load_for_training(name, root=data_root)[1]
    if dtype == "float64":
        graph.x = graph.x.to("float64") if hasattr(graph.x, "to") else graph.x
    return graph


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["gcn", "gat", "sage"])
def test_compiled_step_matches_eager_on_karate(name, dtype):
    graph = check_same(name, graph_in(dtype), dtype)
    fused = {n.op for n in graph.nodes if n.attrs.get("fused_from") or n.op == "GATAttention"}
    assert fused, f"{name}: no fused op in the optimised step"


@pytest.mark.dataset
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["gcn", "gat", "sage"])
def test_compiled_step_matches_eager_on_cora(name, dtype, data_root):
    check_same(name, graph_in(dtype, data_root), dtype)


@FORWARD_ONLY
def test_compile_retraces_when_input_shapes_change():
    w = sg.tensor(np.ones((3, 2)), requires_grad=True)
    f = static.compile(lambda x: (x @ w).sum())
    for rows in (4, 4, 5, 4):
        out = f(sg.tensor(np.ones((rows, 3))))
        assert float(out.item()) == rows * 6
    assert f.traces == 2


def test_compile_rejects_unknown_passes():
    f = static.compile(lambda x: x * 2, passes=["fuse", "nope"])
    with pytest.raises(ValueError, match="unknown passes \\['nope'\\]"):
        f(sg.tensor([1.0]))


@pytest.mark.parametrize("name", ["gcn", "gat"])
def test_train_node_classifier_with_a_compiled_step_gives_the_eager_results(name):
    from sparsegraph.cli.train import build_model
    from sparsegraph.gnn.train import train_node_classifier

    g = load_for_training("karate")[1]
    cfg = {"model": name, "hidden": 8, "heads": 2, "dropout": 0.5}
    results = []
    for compile_step in (None, static.compile):
        sg.manual_seed(0)
        model = build_model(cfg, g.num_features, 2)
        results.append(train_node_classifier(model, g, epochs=30, lr=0.05,
                                             compile_step=compile_step))
    for key in ("test_acc", "val_acc", "train_acc", "best_epoch", "test_macro_f1"):
        assert results[0][key] == results[1][key], key


def test_cli_train_static_flag(tmp_path, capsys):
    import json

    from sparsegraph.cli import main

    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "karate", "--runs", "1", "--epochs", "30", "--static",
                 "--quiet", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["static"] is True and result["test_acc_mean"] > 60
    assert main(["train", "--dataset", "mutag", "--model", "gin", "--static", "--quiet",
                 "--root", str(tmp_path), "--no-download"]) == 2


def test_in_place_buffer_updates_are_captured_batchnorm_running_stats():
    from sparsegraph import nn, ops

    def run(compiled):
        sg.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
        opt = sg.optim.SGD(model.parameters(), lr=0.1)
        x, y = sg.randn(20, 5), sg.tensor(np.arange(20) % 3)

        def step():
            opt.zero_grad()
            loss = ops.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        fn = static.compile(step) if compiled else step
        losses = [float(fn().item()) for _ in range(5)]
        bn = model[1]
        return losses, bn.running_mean.numpy().copy(), int(bn.num_batches_tracked.item())

    eager, compiled = run(False), run(True)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-6)
    np.testing.assert_allclose(compiled[1], eager[1], rtol=1e-6, atol=1e-7)
    assert compiled[2] == eager[2] == 5


def test_backward_reuses_a_dead_activation_buffer_but_never_an_output():
    """The runtime's in-place execution: the fused spmm + bias + ReLU backward writes its masked
    gradient over its saved output when nothing reads that output any more - but not when the
    step returns it."""
    graph = graph_in("float64")
    model, step = build("gcn", graph, "float64")
    fn = static.compile(step)
    fn()
    executor = fn.executors[0]
    reused = [n for n in executor.order if n.id in executor.reusable]
    assert "SpMMBiasActBackward" in [n.op for n in reused]

    conv, opt = model.convs[0], sg.optim.SGD(model.parameters(), lr=0.1)

    def step_returning(shape):
        def step():
            opt.zero_grad()
            out = sg.ops.relu(conv(graph.x, graph.adj))
            out = out if shape is None else out.reshape(shape)  # a view of the activation
            (out * -1.0).sum().backward()  # raises the activations: they stay positive
            opt.step()
            return out  # a graph output: its buffer must survive the backward
        return step

    for shape in [None, (-1,)]:
        compiled = static.compile(step_returning(shape))
        compiled()  # traces
        executor = compiled.executors[0]
        fused = [n for n in executor.order if n.op == "SpMMBiasActBackward"]
        assert fused
        if shape is None:  # the returned Value itself: the runtime never marks it
            assert not any(n.id in executor.reusable for n in fused)
        with sg.no_grad():
            expected = sg.ops.relu(conv(graph.x, graph.adj)).numpy().reshape(shape or (34, 16))
        assert (expected > 0).mean() > 0.2
        np.testing.assert_allclose(compiled().numpy(), expected, rtol=1e-12)  # not a gradient


class _SumAndProd(sg.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x + y, x * y

    @staticmethod
    def backward(ctx, g_sum, g_prod):  # reads both: an unused output's gradient must be zeros
        x, y = ctx.saved_tensors
        return g_sum + g_prod * y, g_sum + g_prod * x


def test_a_replayed_custom_function_gets_zeros_for_an_unused_outputs_gradient():
    def train(compiled):
        x = sg.tensor([1.0, 2.0], requires_grad=True)
        y = sg.tensor([3.0, 4.0], requires_grad=True)
        opt = sg.optim.SGD([x, y], lr=0.1)

        def step():
            opt.zero_grad()
            _, prod = _SumAndProd.apply(x, y)
            loss = prod.sum()
            loss.backward()
            opt.step()
            return loss

        run = static.compile(step) if compiled else step
        losses = [float(run().item()) for _ in range(3)]
        return losses, x.tolist(), y.tolist()

    assert train(True) == train(False)
