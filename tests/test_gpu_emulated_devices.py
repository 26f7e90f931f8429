"""Device rules on emulated CuPy (tests/cupy_emulation.py) where the GPU differs from the CPU:
arrays that cannot be read-only (the gcn_norm cache, the index views), the sparse-vs-dense
guard of compiled steps, inputs on another device (masked_fill, layers' per-edge tensors),
and the emulation's own fidelity (``cupy.asarray`` identity, CuPy's flags)."""

import numpy as np
import pytest
import scipy.sparse

import sparsegraph as sg
from sparsegraph import gnn, static
from sparsegraph.gnn import models
from tests.cupy_emulation import DeviceArray, host


def _path_adjacency(device):
    ei = sg.tensor(np.array([[0, 1, 1, 2], [1, 0, 2, 1]]), device=device)
    return sg.from_edge_index(ei, 3, dtype="float64")


# ---- the emulation behaves as CuPy -----------------------------------------------------------
def test_the_emulation_has_cupys_flags_and_asarray(emulated_cuda):
    cp = sg.backend.cupy_module()
    x = sg.randn(4, 3).to("cuda").array
    assert cp.asarray(x) is x and cp.asarray(x, dtype=x.dtype) is x  # as cupy.asarray
    assert cp.asarray(x, dtype="float64").dtype == np.float64
    assert isinstance(cp.asarray(np.ones(2)), DeviceArray)
    assert x.flags.c_contiguous and x.flags["C_CONTIGUOUS"] and not hasattr(x.flags, "writeable")
    x.flags.writeable = False  # CuPy arrays cannot be made read-only: the write is lost
    x[0, 0] = 1.0
    assert float(x[0, 0]) == 1.0


# ---- 1. the gcn_norm / row_normalize cache on a GPU ------------------------------------------
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_a_parameter_from_cached_gcn_norm_values_leaves_the_cache_alone(device, emulated_cuda):
    """The README's learnable edge weights: an optimizer step on them never reaches later calls
    (on the CPU the Parameter copies the read-only values; on a GPU it shares them and the
    cache entry's version counter, so the step makes the next call rebuild)."""
    adj = _path_adjacency(device)
    before = host(sg.ops.gcn_norm(adj).values)
    w = sg.Parameter(sg.ops.gcn_norm(adj).values)
    opt = sg.optim.SGD([w], lr=1.0)
    ones = sg.ones((3, 2), dtype="float64", device=device)
    (sg.ops.gcn_norm(adj).with_values(w) @ ones).sum().backward()
    opt.step()
    assert not np.allclose(host(w), before)  # the step did change the parameter
    np.testing.assert_array_equal(host(sg.ops.gcn_norm(adj).values), before)
    sg.manual_seed(0)
    conv = gnn.GCNConv(2, 2).to("float64").to(device)
    x = sg.ones((3, 2), dtype="float64", device=device)
    out = host(conv(x, adj))
    with sg.no_grad():
        sg.Parameter(sg.ops.gcn_norm(adj).values).mul_(3.0)
    np.testing.assert_array_equal(host(conv(x, adj)), out)


@pytest.mark.parametrize("op", ["gcn_norm", "row_normalize"])
def test_cached_normalisation_on_a_gpu_shares_its_values_and_rebuilds_after_a_change(
        op, emulated_cuda):
    """No (E, ...) copy per call: every call shares the cached values array, and an in-place
    change through any result (or a view of one, or its .data) makes the next call rebuild."""
    fn = getattr(sg.ops, op)
    adj = _path_adjacency("cpu")
    want = fn(adj).values.numpy()
    with pytest.raises(RuntimeError, match="read-only"):  # the CPU: one shared frozen array
        fn(adj).values.mul_(0.0)
    assert fn(adj).values.array is fn(adj).values.array
    adj = adj.to("cuda")
    first, second = fn(adj), fn(adj)
    assert first.structure is second.structure
    assert first.values.array is second.values.array  # shared, not copied per call
    first.values.mul_(0.0)  # allowed on a GPU; the earlier results alias it, as torch's do
    third = fn(adj)
    assert third.values.array is not first.values.array  # rebuilt
    np.testing.assert_array_equal(host(third.values), want)
    assert fn(adj).values.array is third.values.array  # and cached again
    with sg.no_grad():
        third.values.reshape(-1, 1).mul_(2.0)  # through a view
    np.testing.assert_array_equal(host(fn(adj).values), want)
    fn(adj).values.data.mul_(5.0)  # through .data
    np.testing.assert_array_equal(host(fn(adj).values), want)


# ---- 2. a forced spmm_mode re-traces a compiled step on a GPU too ----------------------------
def _gcn_steps(device, compiled):
    """Losses of a models.GCN training step run under "auto", then under forced "dense"."""
    a = scipy.sparse.random(30, 30, density=0.3, random_state=0, format="csr")
    adj = sg.from_scipy(a, dtype="float64").to(device)
    x = sg.tensor(np.random.default_rng(1).standard_normal((30, 5))).to(device)
    sg.manual_seed(0)
    model = models.GCN(5, 8, 2, 3, dropout=0.0).to("float64").to(device)
    opt = sg.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (model(x, adj) ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    fn = static.compile(step) if compiled else step
    losses = [float(fn(x).item())]
    with sg.ops.spmm_mode("dense"):
        losses.append(float(fn(x).item()))
    return losses, fn


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_a_step_compiled_under_auto_traces_again_under_a_forced_dense_mode(device,
                                                                          emulated_cuda):
    """The cpu-measured cost table keeps cuda products sparse under "auto": a choice that a
    forced mode changes, so the cuda trace is guarded by the sparse-vs-dense state too."""
    want, _ = _gcn_steps(device, compiled=False)
    got, fn = _gcn_steps(device, compiled=True)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert fn.traces == 2
    products = [n for n in fn.graph.nodes if n.op in ("MatMul", "SpMM", "SpMMBiasAct")]
    dense = [n for n in products if n.attrs.get("reason", "").startswith("dense: forced")]
    assert len(dense) == 2 and not any(n.op != "MatMul" for n in dense), [
        (n.op, n.attrs.get("reason")) for n in products]
    assert not any(n.op in ("SpMM", "SpMMBiasAct") for n in products)


# ---- 3. masked_fill with a mask or value on another device -----------------------------------
@pytest.mark.parametrize("call", ["masked_fill", "masked_fill_"])
def test_masked_fill_refuses_a_mask_on_another_device(call, emulated_cuda):
    mask = [True, False, True, False]
    x = sg.randn(3, 4, dtype="float64")
    message = r"^masked_fill: inputs are on different devices \(cpu, cuda:0\); move them"
    for inp, m in ((x.to("cuda"), sg.tensor(mask)), (x, sg.tensor(mask).to("cuda")),
                   (x, sg.tensor(mask).to("cuda").array)):
        with pytest.raises(ValueError, match=message):
            getattr(inp.clone(), call)(m, 0.0)
    # host data (a list, a numpy array) is moved to the device, as before
    want = x.masked_fill(sg.tensor(mask), 0.0).numpy()
    for m in (mask, np.array(mask)):
        got = getattr(x.to("cuda").clone(), call)(m, 0.0)
        assert isinstance(got.array, DeviceArray)
        np.testing.assert_array_equal(host(got), want)


def test_masked_fill_moves_a_cpu_scalar_value_as_pytorch(emulated_cuda):
    """PyTorch fills a cuda tensor from a 0-d CPU value tensor (the gradient reaches it on
    the CPU); a 0-d cuda value for a CPU tensor is refused."""
    mask = sg.tensor([[True, False], [False, True]])
    results = {}
    for device in ("cpu", "cuda"):
        x = sg.tensor([[1.0, 2.0], [3.0, 4.0]]).to(device).requires_grad_()
        value = sg.tensor(7.0, dtype="float64", requires_grad=True)
        out = x.masked_fill(mask.to(device), value)
        (out * out).sum().backward()
        assert out.device == x.device and value.grad.device == "cpu"
        results[device] = (host(out), host(x.grad), value.grad.numpy())
    for got, want in zip(results["cuda"], results["cpu"], strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"^masked_fill: inputs are on different devices"):
        sg.zeros(2, 2).masked_fill(mask, sg.tensor(1.0).to("cuda"))


# ---- 4. the index views on a GPU ------------------------------------------------------------
def test_index_views_on_a_gpu_are_the_structures_arrays_not_copies(emulated_cuda):
    """As documented: read-only on the CPU; on a GPU (no read-only arrays) no per-access copy,
    so they are writable and must not be written."""
    a = sg.sparse_coo(sg.tensor([[0, 1], [1, 2]]), sg.tensor([1.0, 2.0]), (3, 3))
    assert not a.col.flags.writeable
    a = a.to("cuda")
    assert a.col is a.col and a.row is a.row and a.indptr is a.indptr
    assert getattr(a.col.flags, "writeable", True)  # CuPy's arrays: no writeable flag
    assert np.shares_memory(a.col.view(np.ndarray),
                            a.structure.cols().view(np.ndarray))


# ---- 5. per-edge tensors on another device than the layer's adjacency ------------------------
def _ring(device):
    x = sg.tensor(np.random.default_rng(0).standard_normal((4, 3))).to(device)
    return x, sg.tensor(np.array([[0, 1, 2, 3], [1, 2, 3, 0]])).to(device)


LAYERS = {
    "GCNConv": lambda: gnn.GCNConv(3, 2),
    "SGConv": lambda: gnn.SGConv(3, 2, K=2),
    "APPNP": lambda: gnn.APPNP(K=2, alpha=0.1),
    "ChebConv": lambda: gnn.ChebConv(3, 2, K=2),
    "GraphConv": lambda: gnn.GraphConv(3, 2),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_host_edge_weight_for_a_cuda_layer_is_refused_naming_both(name, emulated_cuda):
    sg.manual_seed(0)
    layer = LAYERS[name]().to("float64")
    x, ei = _ring("cpu")
    w = np.array([0.5, 1.0, 2.0, 1.5])
    want = host(layer(x, ei, sg.tensor(w)))
    layer = layer.to("cuda")
    x, ei = _ring("cuda")
    with pytest.raises(ValueError, match=rf"^{name}: expected `edge_weight` on cuda:0, the "
                       r"device of `adj` \(got cpu\); move it with \.to\('cuda:0'\)"):
        layer(x, ei, sg.tensor(w))
    for given in (w, sg.tensor(w).to("cuda")):  # host data is moved; a device tensor is used
        np.testing.assert_allclose(host(layer(x, ei, given)), want, rtol=1e-12)


def test_a_host_edge_attr_for_a_cuda_gat_is_refused_naming_both(emulated_cuda):
    sg.manual_seed(0)
    layer = gnn.GATConv(3, 2, edge_dim=1).to("float64")
    x, ei = _ring("cpu")
    attr = np.array([[0.5], [1.0], [2.0], [1.5]])
    want = host(layer(x, ei, sg.tensor(attr)))
    layer = layer.to("cuda")
    x, ei = _ring("cuda")
    with pytest.raises(ValueError, match=r"^GATConv: expected `edge_attr` on cuda:0, the "
                       r"device of `adj` \(got cpu\)"):
        layer(x, ei, sg.tensor(attr))
    for given in (attr, sg.tensor(attr).to("cuda")):
        np.testing.assert_allclose(host(layer(x, ei, given)), want, rtol=1e-12)


def test_a_cuda_edge_weight_for_a_cpu_layer_is_refused(emulated_cuda):
    x, ei = _ring("cpu")
    with pytest.raises(ValueError, match=r"^GCNConv: expected `edge_weight` on cpu, the device "
                       r"of `adj` \(got cuda:0\)"):
        gnn.GCNConv(3, 2).to("float64")(x, ei, sg.ones(4, dtype="float64").to("cuda"))
    with pytest.raises(ValueError, match=r"^GCNConv: expected `edge_weight` on cpu"):
        gnn.GCNConv(3, 2).to("float64")(x, ei, sg.ones(4, dtype="float64").to("cuda").array)


# ---- 6. a compiled step indexing with device index arrays -----------------------------------
def _index_steps(device, variant, compiled):
    w = sg.Parameter(sg.tensor(np.random.default_rng(2).standard_normal((4, 4))).to(device))
    opt = sg.optim.SGD([w], lr=0.1)
    x = sg.tensor(np.random.default_rng(0).standard_normal((8, 4))).to(device)

    def step(x):
        opt.zero_grad()
        h = x @ w
        if variant == "argsort":
            h = h[sg.ops.argsort(h.sum(1))] * 0.1 + h
        else:
            h = h[sg.ops.topk(h.sum(1), 3).indices].sum(0, keepdim=True) + h
        loss = (h * h).sum()
        loss.backward()
        opt.step()
        return loss

    fn = static.compile(step) if compiled else step
    return [float(fn(x).item()) for _ in range(4)]


@pytest.mark.parametrize("variant", ["argsort", "topk"])
def test_compiled_indexing_by_a_computed_index_matches_eager_on_cuda(variant, emulated_cuda):
    """The index is a traced value on every run (it was once taken for a constant because the
    emulated cupy.asarray copied a device array that real CuPy returns as it is)."""
    want = _index_steps("cuda", variant, compiled=False)
    assert len(set(want)) > 1  # the order changes between steps
    np.testing.assert_allclose(_index_steps("cuda", variant, compiled=True), want, rtol=1e-10)
    np.testing.assert_allclose(_index_steps("cpu", variant, compiled=True), want, rtol=1e-10)


# ---- 7. sg.tensor keeps a device argument's device, as torch.tensor -------------------------
def test_tensor_of_a_device_tensor_or_array_is_a_copy_on_that_device(emulated_cuda):
    src = sg.tensor([[1.0, 2.0], [3.0, 4.0]]).to("cuda")
    for data in (src, src.array):
        t = sg.tensor(data)
        assert t.device == "cuda:0" and isinstance(t.array, DeviceArray)
        t.array[0, 0] = 9.0  # a copy, as torch.tensor's
        assert float(src.array[0, 0]) == 1.0
    t = sg.tensor(src, dtype="float64", requires_grad=True)
    assert t.device == "cuda:0" and t.dtype == np.float64 and t.requires_grad
    assert sg.tensor(src, device="cpu").device == "cpu"  # an explicit device wins
    np.testing.assert_array_equal(sg.tensor(src, device="cpu").numpy(), host(src))
    assert sg.tensor(np.ones(2)).device == "cpu" and sg.tensor([1.0]).device == "cpu"
    assert sg.tensor(np.ones(2), device="cuda").device == "cuda:0"
    assert sg.Parameter(src.array).device == "cuda:0"  # nn.Parameter of a device array too
