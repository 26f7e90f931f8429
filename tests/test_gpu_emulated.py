"""The "cuda" code paths on emulated CuPy (tests/cupy_emulation.py: numpy storage, CuPy's
refusals): eager models, static compilation, `backward_graph` and `sparsegraph train --device
cuda` give the CPU's numbers without a host array ever mixed with a device one.

The generic kernels run on both sides (the CUDA-specific kernels have their own CPU simulation
in test_gpu.py), so CPU and "cuda" results agree to rounding.
"""

import json

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import kernels, static
from sparsegraph.datasets import load_for_training
from sparsegraph.gnn import models
from tests.cupy_emulation import DeviceArray, install

MODELS = {"gcn": lambda f, c: models.GCN(f, 16, c, dropout=0.5),
          "gat": lambda f, c: models.GAT(f, 8, c, heads=4, dropout=0.6),
          "sage": lambda f, c: models.GraphSAGE(f, 16, c, dropout=0.5),
          "sgc": lambda f, c: models.SGC(f, c),
          "appnp": lambda f, c: models.APPNP(f, 16, c, dropout=0.5),
          "mlp": lambda f, c: models.MLP(f, 16, c, dropout=0.5)}


@pytest.fixture
def emulated_cuda(monkeypatch):
    install(monkeypatch)
    with kernels.use("generic"):
        yield


def karate(device, dtype="float64"):
    graph = load_for_training("karate")[1]
    graph.x = graph.x.to(dtype)
    return graph.to(device)


def train(name, device, compiled=False, steps=4):
    graph = karate(device)
    sg.manual_seed(0)
    n_classes = int(graph.y.array.max()) + 1
    model = MODELS[name](graph.num_features, n_classes).to("float64").to(device)
    opt = sg.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    step = static.node_classification_step(model, graph, opt)
    fn = static.compile(step) if compiled else step
    losses = [float(fn().item()) for _ in range(steps)]
    return losses, [p.detach() for p in model.parameters()], fn


def host(t):
    return sg.backend.to_device(t.array, "cpu")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_eager_training_on_emulated_cuda_matches_the_cpu(name, emulated_cuda):
    cpu_losses, cpu_params, _ = train(name, "cpu")
    losses, params, _ = train(name, "cuda")
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-10)
    for p, q in zip(params, cpu_params, strict=True):
        assert isinstance(p.array, DeviceArray) and p.device == "cuda:0"
        np.testing.assert_allclose(host(p), q.numpy(), rtol=1e-9, atol=1e-12)
    assert cpu_losses[-1] < cpu_losses[0]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_static_step_on_emulated_cuda_matches_eager(name, emulated_cuda):
    eager_losses, eager_params, _ = train(name, "cuda")
    losses, params, fn = train(name, "cuda", compiled=True)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-10)
    for p, q in zip(params, eager_params, strict=True):
        assert isinstance(p.array, DeviceArray)
        np.testing.assert_allclose(host(p), host(q), rtol=1e-9, atol=1e-12)
    assert fn.traces == 1


def test_scale_folding_runs_on_emulated_cuda(emulated_cuda):
    """APPNP's scalar and SAGE's per-row scale fold into the adjacency's values on the device."""
    for name in ("appnp", "sage"):
        _, _, fn = train(name, "cuda", compiled=True, steps=1)
        folded = [n for n in fn.graph.nodes
                  if any(getattr(a, "values", None) is not None
                         and a.values.name == "folded:scaled values" for a in n.args)]
        assert folded, name
        assert all(isinstance(a.values.tensor.array, DeviceArray)
                   for n in folded for a in n.args if hasattr(a, "values"))


def test_the_cpu_cost_table_never_densifies_a_cuda_product(emulated_cuda):
    """As in eager `sparse_matmul_auto`: a table measured on one device type decides nothing
    on another (a forced `spmm_mode` still applies everywhere)."""
    from sparsegraph.ops import cost_model

    def dense_products(device):
        _, _, fn = train("gcn", device, compiled=True, steps=1)
        return [n for n in fn.graph.nodes if n.op == "MatMul" and any(
            getattr(a, "value", None) is not None and a.value.name == "folded:dense adjacency"
            for a in n.args)], fn.graph

    # karate's first layer: dense predicted 1.01x faster, so dense once any speedup will do
    previous = cost_model.set_cost_table({**cost_model.cost_table(), "min_speedup": 1.0})
    try:
        cpu_dense, _ = dense_products("cpu")
        cuda_dense, graph = dense_products("cuda")
        with sg.ops.spmm_mode("dense"):
            forced_dense, _ = dense_products("cuda")
    finally:
        cost_model.set_cost_table(previous)
    assert cpu_dense and forced_dense and not cuda_dense
    reasons = [n.attrs.get("reason", "") for n in graph.nodes if n.op in ("SpMM", "SpMMBiasAct")]
    assert any("measured on cpu" in r for r in reasons), reasons


def test_backward_graph_seeds_on_the_outputs_device(emulated_cuda):
    def grads(device):
        graph = karate(device)
        sg.manual_seed(0)
        model = models.GCN(graph.num_features, 8, 4).to("float64").to(device)
        model.eval()
        g = static.trace(lambda x: model(x, graph.adj).sum(), graph.x)
        out = static.Executor(g.backward_graph()).run(graph.x)
        return [host(t) for t in _tensors(out)]

    for a, b in zip(grads("cuda"), grads("cpu"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def _tensors(obj):
    if isinstance(obj, list | tuple):
        return [t for o in obj for t in _tensors(o)]
    return [] if obj is None else [obj]


@pytest.mark.parametrize("flags", [["--model", "gcn"], ["--model", "gat", "--static"],
                                   ["--model", "appnp", "--static"]])
def test_cli_train_on_emulated_cuda_matches_the_cpu(flags, emulated_cuda, tmp_path):
    from sparsegraph.cli import main

    results = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / f"{device}.json"
        assert main(["train", "--dataset", "karate", *flags, "--epochs", "5", "--runs", "1",
                     "--device", device, "--quiet", "--json", str(out)]) == 0
        results[device] = json.loads(out.read_text())
    assert results["cuda"]["test_accs"] == results["cpu"]["test_accs"]
    assert results["cuda"]["config"]["device"] != results["cpu"]["config"]["device"]


def test_the_emulation_refuses_what_cupy_refuses(emulated_cuda):
    """The emulation is only worth its tests if it fails where CuPy would."""
    x = sg.randn(4, 3).to("cuda").array
    with pytest.raises(TypeError, match="implicit conversion"):
        np.asarray(x)
    with pytest.raises(TypeError, match="host numpy array"):
        x + np.ones((4, 3))
    with pytest.raises(TypeError, match="host numpy array"):
        np.concatenate([x, np.ones((1, 3))])
    with pytest.raises(TypeError, match="reduceat"):
        np.maximum.reduceat(x, [0, 2])
    assert isinstance(x.sum(), DeviceArray) and x.sum().ndim == 0  # as cupy's reductions
    assert sg.backend.xp_of(x) is sg.backend.cupy_module()
    assert isinstance(sg.backend.to_device(x, "cpu"), np.ndarray)


def test_minibatch_evaluation_on_emulated_cuda_matches_the_cpu(emulated_cuda):
    from sparsegraph.gnn.minibatch import evaluate

    accs = {}
    for device in ("cpu", "cuda"):
        graph = karate(device)
        sg.manual_seed(0)
        model = models.GraphSAGE(graph.num_features, 16, 4).to("float64").to(device)
        model.eval()
        accs[device] = evaluate(model, graph, batch_size=10)
    assert accs["cuda"] == accs["cpu"] and accs["cpu"]


@pytest.mark.parametrize("batch", [None, [0, 0, 1, 1, 1], [1, 0, 1, 0, 2]])
def test_global_pooling_on_emulated_cuda_matches_the_cpu(batch, emulated_cuda):
    from sparsegraph.gnn import global_add_pool, global_max_pool, global_mean_pool

    x = sg.randn(5, 3, dtype="float64")
    for pool in (global_add_pool, global_mean_pool, global_max_pool):
        on_device = pool(x.to("cuda"), None if batch is None else sg.tensor(batch).to("cuda"))
        assert isinstance(on_device.array, DeviceArray)
        np.testing.assert_allclose(host(on_device), pool(x, batch).numpy(), rtol=1e-12)


def _sparse_op_cases():
    """``name -> fn(a, x, b) -> Tensor`` over a (30, 20) sparse ``a`` (COO with duplicates),
    ``x`` (20, 4) and a (20, 30) sparse ``b``: the sparse ops and the scatter family."""
    o = sg.ops
    idx = sg.tensor(np.arange(30) % 7)
    return {
        "spmm": lambda a, x, b: o.spmm(a.coalesce(), x),
        "dense @ sparse": lambda a, x, b: x.T @ b.coalesce(),
        "sddmm": lambda a, x, b: o.sddmm(a.coalesce(), a.coalesce() @ x, x).values,
        "softmax": lambda a, x, b: o.sparse_softmax(a.coalesce()).values,
        "log_softmax": lambda a, x, b: o.sparse_log_softmax(a.coalesce()).values,
        "spgemm": lambda a, x, b: o.spgemm(a.coalesce(), b.coalesce()).to_dense(),
        "transpose": lambda a, x, b: a.coalesce().T.to_dense(),
        "to_csr": lambda a, x, b: a.to_csr().to_dense(),
        "add": lambda a, x, b: o.sparse_add(a.coalesce(), b.coalesce().T).to_dense(),
        "mul dense": lambda a, x, b: (a.coalesce() * ((a.coalesce() @ x) @ x.T)).values,
        "sum": lambda a, x, b: o.sparse_sum(a.coalesce(), 1),
        "gcn_norm": lambda a, x, b: o.gcn_norm(o.spgemm(b, a.coalesce())).values,
        "scatter max": lambda a, x, b: o.scatter(a.coalesce() @ x, idx, 7, reduce="max"),
        "scatter mean": lambda a, x, b: o.scatter(a.coalesce() @ x, idx, 7, reduce="mean"),
        "segment_softmax": lambda a, x, b: o.segment_softmax(a.coalesce() @ x, idx,
                                                             num_segments=7),
        "gather": lambda a, x, b: o.gather_rows(a.coalesce() @ x, idx),
    }


@pytest.mark.parametrize("name", sorted(_sparse_op_cases()))
def test_sparse_ops_on_emulated_cuda_match_the_cpu(name, emulated_cuda):
    from sparsegraph.testing import random_sparse

    fn = _sparse_op_cases()[name]
    rng = np.random.default_rng(3)
    results = {}
    for device in ("cpu", "cuda"):
        row, col = rng.integers(0, 30, 90), rng.integers(0, 20, 90)  # duplicates included
        a = sg.sparse_coo(np.stack([row, col]), rng.standard_normal(90), (30, 20))
        b = random_sparse(20, 30, 0.2, dtype="float64", seed=4, requires_grad=False)
        x = sg.tensor(rng.standard_normal((20, 4)))
        a, b, x = a.to(device), b.to(device), x.to(device)
        for t in (a.values, b.values, x):
            t.requires_grad = True
        out = fn(a, x, b)
        (out * out).sum().backward()
        assert out.device == a.device
        results[device] = [host(t) for t in (out, a.values.grad, b.values.grad, x.grad)
                           if t is not None]
        rng = np.random.default_rng(3)
    for got, want in zip(results["cuda"], results["cpu"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
