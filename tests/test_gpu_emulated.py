"""The "cuda" code paths on emulated CuPy (tests/cupy_emulation.py: numpy storage, CuPy's
refusals): eager models, static compilation, `backward_graph` and `sparsegraph train --device
cuda` give the CPU's numbers without a host array ever mixed with a device one.

The generic kernels run on both sides (the CUDA-specific kernels have their own CPU simulation
in test_gpu.py), so CPU and "cuda" results agree to rounding.
"""

import json

import numpy as np
import pytest
import scipy.sparse

import sparsegraph as sg
from sparsegraph import static
from sparsegraph.datasets import load_for_training
from sparsegraph.gnn import models
from tests.cupy_emulation import DeviceArray, host

MODELS = {"gcn": lambda f, c: models.GCN(f, 16, 2, c, dropout=0.5),
          "gat": lambda f, c: models.GAT(f, 8, 2, c, dropout=0.6, heads=4),
          "sage": lambda f, c: models.GraphSAGE(f, 16, 2, c, dropout=0.5),
          "sgc": lambda f, c: models.SGC(f, c),
          "appnp": lambda f, c: models.APPNP(f, 16, 2, c, dropout=0.5),
          "mlp": lambda f, c: models.MLP(f, 16, 2, c, dropout=0.5)}


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
        model = models.GCN(graph.num_features, 8, 2, 4).to("float64").to(device)
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
        model = models.GraphSAGE(graph.num_features, 16, 2, 4).to("float64").to(device)
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


# ---- Graph utilities and neighbour sampling with cuda-resident data --------------------------
def _small_graph(sparse_x=False):
    """6 nodes: a self loop (3), a reciprocal pair (0 <-> 1), an isolated node (5); weights,
    edge features, node labels, a mask, 2-D (num_splits, N) masks and a graph-level field."""
    rng = np.random.default_rng(0)
    ei = np.array([[0, 1, 2, 3, 3, 4, 1], [1, 2, 0, 3, 4, 0, 0]])
    x = rng.standard_normal((6, 3))
    x = sg.from_scipy(scipy.sparse.csr_matrix(x * (x > 0))) if sparse_x else sg.tensor(x)
    return sg.Graph(x=x, edge_index=ei, edge_weight=sg.tensor(rng.random(7)),
                    edge_attr=sg.tensor(rng.standard_normal((7, 2))),
                    y=np.array([0, 1, 0, 1, 1, 0]),
                    train_mask=np.array([True, False, True, True, False, True]),
                    val_mask=rng.random((2, 6)) < 0.5, label=sg.tensor([[0.5, 2.0]]))


def _assert_same_graph(got, want, device):
    """``got`` (from the device) holds ``want``'s (from the CPU) values, all of them on
    ``device``."""
    assert isinstance(got, sg.Graph) and got.num_nodes == want.num_nodes
    assert sorted(vars(got)) == sorted(vars(want))
    for key, w in vars(want).items():
        v = getattr(got, key)
        if isinstance(w, sg.SparseTensor):
            assert v.device == device and v.structure.device == device, key
            assert isinstance(v.structure.indices, DeviceArray), key
            for part in ("indptr", "indices"):
                np.testing.assert_array_equal(
                    sg.backend.to_device(getattr(v.structure, part), "cpu"),
                    getattr(w.structure, part), err_msg=f"{key}.{part}")
            v, w = v.values, w.values
        if isinstance(w, sg.Tensor):
            assert v.device == device and isinstance(v.array, DeviceArray), key
            assert v.dtype == w.dtype, key
            np.testing.assert_array_equal(host(v), w.numpy(), err_msg=key)
        elif key != "_graph_keys" or w:
            assert v == w, key


GRAPH_TRANSFORMS = {
    "add_self_loops": lambda g: g.add_self_loops(2.0),
    "to_undirected sum": lambda g: g.to_undirected(),
    "to_undirected max": lambda g: g.to_undirected("max"),
    "remove_self_loops": lambda g: g.remove_self_loops(),
    "subgraph ids": lambda g: g.subgraph([4, 0, 3, 1]),
    "subgraph device mask": lambda g: g.subgraph(g.train_mask),
    "subgraph raw device ids": lambda g: g.subgraph(g.train_mask.array),
    "batch": lambda g: sg.Graph.batch([g, g.subgraph([3, 4, 0])]),
    "batch, subgraph": lambda g: sg.Graph.batch([g, g]).subgraph([7, 6, 1, 0]),
    "batch, grouped subgraph": lambda g: sg.Graph.batch([g, g]).subgraph([0, 2, 7, 6]),
}


@pytest.mark.parametrize("sparse_x", [False, True], ids=["dense x", "sparse x"])
@pytest.mark.parametrize("name", sorted(GRAPH_TRANSFORMS))
def test_graph_transforms_on_emulated_cuda_match_the_cpu(name, sparse_x, emulated_cuda):
    fn = GRAPH_TRANSFORMS[name]
    g = _small_graph(sparse_x)
    got, want = fn(g.to("cuda")), fn(g)
    _assert_same_graph(got, want, "cuda:0")
    assert got.num_graphs == want.num_graphs


def test_graph_queries_and_unbatch_on_emulated_cuda_match_the_cpu(emulated_cuda):
    g = _small_graph()
    for graph in (g, g.to_undirected(), g.add_self_loops()):
        for query in ("is_undirected", "has_isolated_nodes", "has_self_loops"):
            assert getattr(graph.to("cuda"), query)() == getattr(graph, query)(), query
    cpu = sg.Graph.batch([g, g.subgraph([2, 1]), g.remove_self_loops()])
    cuda = sg.Graph.batch([h.to("cuda") for h in (g, g.subgraph([2, 1]),
                                                  g.remove_self_loops())])
    _assert_same_graph(cuda, cpu, "cuda:0")
    assert cuda.num_graphs == cpu.num_graphs == 3
    got, want = cuda.unbatch(), cpu.unbatch()
    assert len(got) == len(want) == 3
    for a, b in zip(got, want, strict=True):
        _assert_same_graph(a, b, "cuda:0")


def test_graph_from_cuda_edge_index_matches_the_cpu(emulated_cuda):
    rng = np.random.default_rng(1)
    fields = {"x": sg.tensor(rng.standard_normal((5, 3))),
              "edge_index": sg.tensor(np.array([[4, 0, 2, 1, 2], [0, 3, 1, 1, 0]])),
              "edge_weight": sg.tensor(rng.random(5)),
              "edge_attr": sg.tensor(rng.standard_normal((5, 2))),
              "y": sg.tensor(np.array([1, 0, -1, 2, 0]))}
    want = sg.Graph(**fields)
    got = sg.Graph(**{k: v.to("cuda") for k, v in fields.items()})
    _assert_same_graph(got, want, "cuda:0")
    # no num_nodes: taken from the largest index of a device edge_index
    ei = fields["edge_index"]
    assert sg.Graph(edge_index=ei.to("cuda")).num_nodes == sg.Graph(edge_index=ei).num_nodes
    # raw cupy arrays are taken as raw numpy ones are (float64 -> float32)
    raw = sg.Graph(**{k: v.to("cuda").array for k, v in fields.items()})
    _assert_same_graph(raw, sg.Graph(**{k: v.numpy() for k, v in fields.items()}), "cuda:0")
    with pytest.raises(ValueError, match="at least 5 rows"):
        sg.Graph(x=sg.randn(4, 2).to("cuda"), edge_index=ei.to("cuda"))


@pytest.mark.parametrize("sparse_x", [False, True])
def test_neighbor_loader_on_a_cuda_graph_matches_the_cpu(sparse_x, emulated_cuda):
    from sparsegraph.gnn.sampling import NeighborLoader

    graph = karate("cpu")
    if sparse_x:
        x = graph.x.numpy()
        x[x < np.median(x)] = 0  # a CSR SparseTensor of the features
        graph.x = sg.from_scipy(scipy.sparse.csr_matrix(x))
        assert isinstance(graph.x, sg.SparseTensor) and graph.x.nnz < x.size
    batches = {}
    for device in ("cpu", "cuda"):
        loader = NeighborLoader(graph.to(device), [3, 2], batch_size=8, shuffle=True, seed=5,
                                input_nodes=graph.train_mask.to(device))
        batches[device] = list(loader)
    assert len(batches["cuda"]) == len(batches["cpu"]) > 0
    for got, want in zip(batches["cuda"], batches["cpu"], strict=True):
        np.testing.assert_array_equal(got.n_id, want.n_id)
        assert got.x.device == got.y.device == "cuda:0"
        x, wx = (got.x.to_dense(), want.x.to_dense()) if sparse_x else (got.x, want.x)
        np.testing.assert_array_equal(host(x), wx.numpy())
        np.testing.assert_array_equal(host(got.y), want.y.numpy())
        moved = got.to("cuda")
        assert all(b.device == "cuda:0" and b.structure.device == "cuda:0"
                   for b in moved.blocks)
        for b, wb in zip(moved.blocks, want.blocks, strict=True):
            np.testing.assert_array_equal(host(b.to_dense()), wb.to_dense().numpy())


@pytest.mark.parametrize("devices", [("cuda", "cuda"), ("cpu", "cuda"), ("cuda", "cpu")],
                         ids=["cuda graph, cuda model", "host graph, cuda model",
                              "cuda graph, host model"])
def test_train_minibatch_on_emulated_cuda_matches_the_cpu(devices, emulated_cuda):
    from sparsegraph.gnn.minibatch import train_minibatch

    def run(graph_device, model_device):
        graph = karate(graph_device)
        model = models.GraphSAGE(graph.num_features, 8, 2, 4).to("float64").to(model_device)
        out = train_minibatch(model, graph, (3, 3), batch_size=10, epochs=2, seed=0)
        return out, list(model.parameters())

    want, want_params = run("cpu", "cpu")
    got, params = run(*devices)
    np.testing.assert_allclose(got["batch_losses"], want["batch_losses"], rtol=1e-10)
    assert {k: got[k] for k in ("train_acc", "val_acc", "test_acc", "best_epoch")} == \
        {k: want[k] for k in ("train_acc", "val_acc", "test_acc", "best_epoch")}
    for p, q in zip(params, want_params, strict=True):
        assert p.device == sg.backend.normalize_device(devices[1])
        np.testing.assert_allclose(host(p), q.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "silu", "gelu", "softplus", "elu", "tanh"])
def test_activations_and_full_reductions_on_emulated_cuda_match_the_cpu(name, emulated_cuda):
    """The special functions come from cupyx.scipy.special; a full max / min is a 0-d device
    array (cupy's integer indexing), so it multiplies device tensors."""
    x = sg.tensor(np.linspace(-3, 3, 12).reshape(3, 4))
    results = {}
    for device in ("cpu", "cuda"):
        t = x.to(device).detach().requires_grad_()
        out = getattr(sg.ops, name)(t) * t.max() + t.min()
        out.sum().backward()
        assert out.device == t.device and t.grad.device == t.device
        results[device] = (host(out), host(t.grad))
    for got, want in zip(results["cuda"], results["cpu"], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_small_device_paths_on_emulated_cuda(emulated_cuda):
    """dropout_mask takes "cuda"; an in-place op takes a host array operand (moved, as copy_);
    `.data` takes a device array; message passing takes a raw device edge_index; gat_attention
    names mismatched devices."""
    from sparsegraph.gnn import GCNConv
    from sparsegraph.ops import fused

    sg.manual_seed(3)
    on_cpu = sg.ops.dropout_mask((4, 5), 0.5)
    sg.manual_seed(3)
    on_cuda = sg.ops.dropout_mask((4, 5), 0.5, device="cuda")
    assert isinstance(on_cuda, DeviceArray)
    np.testing.assert_array_equal(on_cuda.get(), on_cpu)

    t = sg.ones(4, 5, dtype="float64").to("cuda")
    t.add_(np.full((4, 5), 2.0)).mul_(np.full((4, 5), 3.0)).div_(np.full((4, 5), 9.0))
    assert isinstance(t.array, DeviceArray)
    np.testing.assert_allclose(host(t), np.ones((4, 5)))
    t.data = sg.zeros(4, 5, dtype="float64").to("cuda").array
    assert t.device == "cuda:0" and float(host(t).sum()) == 0.0

    ei = np.array([[0, 1, 2, 3], [1, 2, 3, 0]])
    sg.manual_seed(0)
    conv = GCNConv(2, 3).to("float64")
    x = sg.tensor(np.arange(8.0).reshape(4, 2))
    want = conv(x, ei).detach().numpy()
    conv = conv.to("cuda")
    got = conv(x.to("cuda"), sg.tensor(ei).to("cuda").array)  # a raw device edge_index
    np.testing.assert_allclose(host(got), want, rtol=1e-12)

    adj = sg.from_edge_index(ei, 4)
    h = sg.randn(4, 1, 2, dtype="float64").to("cuda")
    with pytest.raises(ValueError, match=r"gat_attention: `adj` is on cpu but `h` is on cuda:0"):
        fused.gat_attention(adj, sg.randn(4, 1, dtype="float64").to("cuda"),
                            sg.randn(4, 1, dtype="float64").to("cuda"), h)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_returns_the_total_on_the_gradients_device(norm_type, emulated_cuda):
    p = sg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, device="cuda")
    (p * p).sum().backward()
    total = sg.nn.utils.clip_grad_norm_([p], 0.5, norm_type=norm_type)
    assert total.device == "cuda:0" and isinstance(total.array, DeviceArray)
    g = 2 * np.arange(6.0)
    want = np.linalg.norm(g, ord=norm_type)
    assert abs(float(total.item()) - want) < 1e-9
    np.testing.assert_allclose(np.asarray(p.grad.array.view(np.ndarray)).ravel(),
                               g * 0.5 / (want + 1e-6), rtol=1e-6)
    q = sg.tensor(np.arange(3.0), requires_grad=True, device="cuda")  # no gradient yet
    assert sg.nn.utils.clip_grad_norm_([q], 0.5).device == "cuda:0"
