"""Fixes from the emulated-GPU audit (tests/cupy_emulation.py): a CPU index inside a compiled
step on cuda, raw device indices and targets, sparse row selection copying its structure,
``Graph.to(device, *attrs)`` / ``.cuda()`` / ``.cpu()``, and ``where`` with a numpy
condition."""

import numpy as np
import pytest
import scipy.sparse

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import backend, static
from tests.cupy_emulation import DeviceArray, host

X = np.arange(20, dtype=np.float32).reshape(10, 2)
# the CPU index each call passes: the trace is made with the first
CALLS = ([1, 2], [7, 8], [9, 0])


def _ops_with_index():
    """Each indexing op as f(x, i) with a 1-D int64 index ``i``, and its numpy reference."""
    return {
        "getitem": (lambda x, i: x[i] * 1, lambda x, i: x[i]),
        "getitem_tuple": (lambda x, i: x[i, 0] * 1, lambda x, i: x[i, 0]),
        "index_select": (lambda x, i: sg.index_select(x, 0, i) * 1, lambda x, i: x[i]),
        "gather": (lambda x, i: sg.gather(x, 0, sg.stack([i, i], 1)) * 1,
                   lambda x, i: np.take_along_axis(x, np.stack([i, i], 1), 0)),
        "take_along_dim": (lambda x, i: sg.take_along_dim(x, i[:, None], 0) * 1,
                           lambda x, i: np.take_along_axis(x, i[:, None], 0)),
    }


# ---- 1. a CPU index in a compiled step on cuda follows each call's values --------------------
@pytest.mark.parametrize("op", sorted(_ops_with_index()))
def test_a_cpu_index_in_a_compiled_step_on_cuda_follows_each_call(op, emulated_cuda):
    fn, reference = _ops_with_index()[op]
    x = sg.tensor(X).to("cuda")
    compiled = static.compile(fn)
    for ids in CALLS:
        i = sg.tensor(np.array(ids, np.int64))  # on the CPU, as torch allows for a CUDA x
        np.testing.assert_array_equal(host(compiled(x, i)), reference(X, np.array(ids)))
        np.testing.assert_array_equal(host(fn(x, i)), reference(X, np.array(ids)))


def test_a_cpu_index_out_of_range_raises_on_replay_on_cuda(emulated_cuda):
    x = sg.tensor(X).to("cuda")
    compiled = static.compile(lambda x, i: sg.index_select(x, 0, i) * 1)
    compiled(x, sg.tensor([1, 2]))
    with pytest.raises(ValueError, match=r"index_select: expected indices in \[0, 10\)"):
        compiled(x, sg.tensor([0, 99]))


def test_setitem_with_a_cpu_index_in_a_compiled_step_on_cuda(emulated_cuda):
    def write(y, i):
        y = y * 1
        y[i] = -1.0
        return y

    x, compiled = sg.tensor(X).to("cuda"), static.compile(write)
    for ids in CALLS:
        expected = X.copy()
        expected[ids] = -1.0
        np.testing.assert_array_equal(host(compiled(x, sg.tensor(ids))), expected)


def test_a_compiled_training_step_on_cuda_updates_each_calls_rows(emulated_cuda):
    """``w[i].sum()``: the gradient reaches the rows of each call's CPU index."""
    def step(w, i):
        w.grad = None
        w[i].sum().backward()
        return w.grad

    w = sg.tensor(X).to("cuda").requires_grad_()
    compiled = static.compile(step)
    for ids in CALLS:
        expected = np.zeros_like(X)
        expected[ids] = 1.0
        np.testing.assert_array_equal(host(compiled(w, sg.tensor(ids))), expected)


def test_a_closures_numpy_index_in_a_compiled_step_on_cuda_is_guarded(emulated_cuda):
    """A numpy index the step reads from its closure: written between calls, it traces again."""
    x, ids = sg.tensor(X).to("cuda"), np.array(CALLS[0])
    compiled = static.compile(lambda x: sg.index_select(x, 0, ids) * 1)
    for call in CALLS:
        ids[:] = call
        np.testing.assert_array_equal(host(compiled(x)), X[call])


# ---- 3. a raw device index or target -----------------------------------------------------------
@pytest.mark.parametrize("op", ["index_select", "gather", "take_along_dim"])
def test_index_ops_take_a_raw_cupy_index(op, emulated_cuda):
    ids = np.array([[2], [0], [1]])
    x = sg.tensor(X).to("cuda").requires_grad_()
    raw = sg.tensor(ids).to("cuda").array
    out = {"index_select": lambda: sg.index_select(x, 0, raw[:, 0]),
           "gather": lambda: sg.gather(x, 0, raw),
           "take_along_dim": lambda: sg.take_along_dim(x, raw, 0)}[op]()
    grad = np.zeros_like(X)
    if op == "index_select":
        expected = X[ids[:, 0]]
        np.add.at(grad, ids[:, 0], 1.0)
    elif op == "gather":  # PyTorch's gather: x cut down to the index's (3, 1)
        expected = np.take_along_axis(X[:, :1], ids, 0)
        np.add.at(grad[:, 0], ids[:, 0], 1.0)
    else:  # take_along_dim: the index broadcast over x's 2 columns
        expected = np.take_along_axis(X, np.broadcast_to(ids, (3, 2)), 0)
        np.add.at(grad, ids[:, 0], 1.0)
    np.testing.assert_array_equal(host(out), expected)
    out.sum().backward()
    np.testing.assert_array_equal(host(x.grad), grad)


def test_a_cuda_index_on_a_cpu_tensor_is_refused_by_name(emulated_cuda):
    idx = sg.tensor([0, 1]).to("cuda")
    with pytest.raises(ValueError, match=r"index_select: expected `index` on cpu"):
        sg.index_select(sg.tensor(X), 0, idx)
    with pytest.raises(ValueError, match=r"getitem: expected `index` on cpu"):
        sg.tensor(X)[idx]


@pytest.mark.parametrize("loss", ["nll_loss", "cross_entropy"])
def test_class_losses_take_a_raw_cupy_target(loss, emulated_cuda):
    logits = np.random.default_rng(0).standard_normal((3, 4))
    target = np.array([2, 0, 3])
    x = sg.tensor(logits).to("cuda")
    raw = sg.tensor(target).to("cuda").array
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))  # log_softmax
    expected = -logp[np.arange(3), target].mean()
    inputs = sg.log_softmax(x, 1) if loss == "nll_loss" else x
    assert float(host(getattr(F, loss)(inputs, raw))) == pytest.approx(expected, rel=1e-12)


# ---- 2. sparse row selection on cuda keeps its structure on the device -----------------------
def test_sparse_row_selection_on_cuda_copies_only_the_row_pointer_once(emulated_cuda,
                                                                       monkeypatch):
    a = scipy.sparse.random(50, 30, density=0.2, format="csr", random_state=0)
    x = sg.from_scipy(a).to("cuda")
    to_host, counting = [], []  # device arrays copied to the host by the selections
    move = backend.to_device
    monkeypatch.setattr(backend, "to_device", lambda arr, d: (
        to_host.append(arr.nbytes) if counting and d == "cpu" and isinstance(arr, DeviceArray)
        else None) or move(arr, d))
    for key in ([3, 1, 3], slice(0, 9, 2), [4]):
        counting.append(True)
        rows = x[key]
        counting.clear()
        ids = np.arange(50)[key]
        np.testing.assert_allclose(host(rows.to_dense()), a.toarray()[ids])
        assert rows.device == x.device and rows.structure.device == x.structure.device
    # the first selection copied the row pointer; no selection copied `indices`
    assert to_host == [x.structure.indptr.nbytes]


def test_sparse_row_selection_keeps_gradients(emulated_cuda):
    a = scipy.sparse.random(6, 5, density=0.5, format="csr", random_state=1)
    x = sg.from_scipy(a).to("cuda")
    x.values.requires_grad_()
    x[[1, 1, 4]].to_dense().sum().backward()
    # each stored entry of a row gets one per selection of that row
    row_of = np.repeat(np.arange(6), np.diff(a.indptr))
    np.testing.assert_array_equal(host(x.values.grad), (row_of == 1) * 2.0 + (row_of == 4))


# ---- 4. Graph.to(device, *attrs), .cuda() / .cpu() -------------------------------------------
def _graph():
    ei = np.array([[0, 1, 1, 2], [1, 0, 2, 1]])
    return sg.Graph(x=sg.randn(3, 2), y=sg.tensor([0, 1, 0]), edge_index=sg.tensor(ei))


def test_graph_to_moves_only_the_named_attributes(emulated_cuda):
    g = _graph()
    moved = g.to("cuda", "x", non_blocking=True)  # PyG's ToDevice(device, attrs=["x"])
    assert moved.x.device.startswith("cuda") and moved.y is g.y and moved.adj is g.adj
    both = g.to("cuda", "y", "edge_index")
    assert both.x is g.x and both.y.device.startswith("cuda")
    assert both.adj.device.startswith("cuda")
    np.testing.assert_array_equal(both.adj.cpu().to_dense().numpy(), g.adj.to_dense().numpy())


def test_graph_to_refuses_unknown_attribute_names(emulated_cuda):
    with pytest.raises(ValueError, match=r"Graph.to: expected names of attributes.*'pos'"):
        _graph().to("cuda", "pos")
    with pytest.raises(TypeError, match=r"Graph.to: expected attribute names as str"):
        _graph().to("cuda", 0)


def test_graph_and_sparse_tensor_cuda_and_cpu(emulated_cuda):
    g = _graph().cuda()
    assert all(v.device.startswith("cuda") for v in (g.x, g.y, g.adj))
    assert g.cpu("x").x.device == "cpu" and g.cpu("x").y.device.startswith("cuda")
    assert g.cpu().y.device == "cpu" and _graph().cuda(0).x.device == "cuda:0"
    adj = g.adj.cpu()
    assert adj.device == "cpu" and adj.cuda().device.startswith("cuda")


# ---- 5. where with a numpy condition -----------------------------------------------------------
def test_where_takes_a_numpy_bool_condition():
    cond = np.array([True, False, True])
    a, b = sg.tensor([1.0, 2.0, 3.0], requires_grad=True), sg.tensor([4.0, 5.0, 6.0])
    out = sg.where(cond, a, b)
    expected = np.where(cond, [1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    cond[:] = False  # the caller's array written after forward: backward keeps its copy
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(sg.where(np.array([False, True]))[0].numpy(), [1])


def test_where_names_a_non_bool_or_non_array_condition():
    with pytest.raises(TypeError, match=r"where: expected `condition` to be a bool Tensor "
                                        r"\(got int64\)"):
        sg.where(np.array([1, 0]), sg.ones(2), sg.zeros(2))
    with pytest.raises(TypeError, match=r"where: expected `condition` to be a Tensor or an "
                                        r"array \(got list\)"):
        sg.where([True, False], sg.ones(2), sg.zeros(2))


def _gather_scatter_ops():
    """gather_rows / scatter / segment_softmax as f(x, i) with a CPU index ``i``, as given and
    as computed inside the step (``i + 0``), and their numpy references."""
    def scatter_ref(x, i):
        out = np.zeros((10, 2), x.dtype)
        np.add.at(out, i, x[: i.size])
        return out

    return {
        "gather_rows": (lambda x, i: sg.ops.gather_rows(x, i) * 1, lambda x, i: x[i]),
        "gather_rows_computed": (lambda x, i: sg.ops.gather_rows(x, i + 0) * 1,
                                 lambda x, i: x[i]),
        "scatter_computed": (lambda x, i: sg.ops.scatter(x[:2], i + 0, 10) * 1, scatter_ref),
    }


@pytest.mark.parametrize("op", sorted(_gather_scatter_ops()))
def test_gather_and_scatter_with_a_cpu_index_in_a_compiled_step_on_cuda(op, emulated_cuda):
    """The index moves by a traced to(), as the indexing ops' (a CaptureError before when the
    index was computed in the step)."""
    fn, reference = _gather_scatter_ops()[op]
    x = sg.tensor(X).to("cuda")
    compiled = static.compile(fn)
    for ids in CALLS:
        i = sg.tensor(np.array(ids, np.int64))
        np.testing.assert_array_equal(host(compiled(x, i)), reference(X, np.array(ids)))
        np.testing.assert_array_equal(host(fn(x, i)), reference(X, np.array(ids)))
