"""Audit "newfeat" fixes: sparse row selection in a compiled step (F1), numpy indices copied
for backward (F2, F3), Graph.to(non_blocking=) (F4), the models' PyG defaults (F5), and index
range checks that run on a static graph's replay (static-graph leftovers)."""

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import ops, static
from sparsegraph.gnn import models
from sparsegraph.ops._util import immutable, kept_array
from sparsegraph.static import CaptureError

ROWS = sp.random(6, 5, density=0.5, random_state=0, format="csr", dtype=np.float64)


# ---- F1: SparseTensor rows in a compiled step -----------------------------------------------
def test_compiled_sparse_row_ids_follow_each_call():
    x = sg.from_scipy(ROWS)
    f = static.compile(lambda ids: x[ids].sum(-1))
    dense = ROWS.toarray()
    with sg.no_grad():
        for ids in ([0, 1], [4, 5], [0, 1]):
            np.testing.assert_allclose(f(sg.tensor(ids)).numpy(), dense[ids].sum(-1))
    assert f.traces == 2  # other ids trace again; the first ids again reuse their graph


def test_compiled_sparse_row_mask_follows_each_call():
    x = sg.from_scipy(ROWS)
    f = static.compile(lambda mask: x[mask].sum(-1))
    dense = ROWS.toarray()
    with sg.no_grad():
        for mask in ([1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1]):
            mask = np.array(mask, bool)
            np.testing.assert_allclose(f(sg.tensor(mask)).numpy(), dense[mask].sum(-1))


def test_compiled_sparse_rows_follow_a_closure_array_changed_between_calls():
    x, ids = sg.from_scipy(ROWS), np.array([0, 1])
    f = static.compile(lambda: x[ids].sum(-1))
    with sg.no_grad():
        f()
        ids[:] = [4, 5]
        np.testing.assert_allclose(f().numpy(), ROWS.toarray()[[4, 5]].sum(-1))


def test_compiled_sparse_rows_refuse_a_mask_computed_in_the_step():
    x = sg.from_scipy(ROWS)
    f = static.compile(lambda y: x[y == 1].sum(-1))
    with sg.no_grad(), pytest.raises(CaptureError, match=r"SparseTensor row indexing x\[rows\] "
                                     r"reads on the host the values of a tensor computed in "
                                     r"the step .*Pass the row ids or mask as an argument"):
        f(sg.tensor([0, 1, 1, 0, 0, 1]))


# ---- F2 / F3: index arrays the caller may still write are copied ---------------------------
def expected_row_grad(n: int, rows) -> list:
    """d sum(w[rows]) / dw for a (n, 2) table: each row counted as often as it is used."""
    g = np.zeros((n, 2))
    np.add.at(g, np.asarray(rows), 1.0)
    return g.tolist()


def table():
    return sg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=sg.float64).requires_grad_()


def test_embedding_copies_a_writeable_numpy_index():
    w = table()
    emb = sg.nn.Embedding(2, 2, _weight=sg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    idx = np.array([1, 1])
    outs = F.embedding(idx, w), emb(idx)
    idx[:] = 0  # the caller reuses its buffer before backward
    for out, weight in zip(outs, (w, emb.weight), strict=True):
        out.sum().backward()
        assert weight.grad.numpy().tolist() == expected_row_grad(2, [1, 1])


def read_only_view(a):
    v = a.view()
    v.flags.writeable = False
    return v


VIEWS = {  # read-only views of memory the caller still writes through `buf`
    "broadcast_to": lambda buf: np.broadcast_to(buf[:1], (2,)),
    "read_only_view": lambda buf: read_only_view(buf),
}
USES = {
    "getitem": lambda w, i: w[i],
    "index_select": lambda w, i: ops.index_select(w, 0, i),
    "gather": lambda w, i: ops.gather(w, 0, i[:, None]),  # w[i[r], 0]
    "nll_loss": lambda w, i: -ops.nll_loss(w, i, reduction="none"),  # -w[r, i[r]]
}


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("use", list(USES))
def test_a_read_only_view_of_writeable_memory_is_copied(view, use):
    w, buf = table(), np.array([1, 1])
    out = USES[use](w, VIEWS[view](buf))
    buf[:] = 0  # written through the owner after the forward
    out.sum().backward()
    expected = {"nll_loss": [[0.0, 1.0], [0.0, 1.0]],  # row r picks column 1
                "gather": [[0.0, 0.0], [2.0, 0.0]]}  # column 0 of row 1, twice
    assert w.grad.numpy().tolist() == expected.get(use, expected_row_grad(2, [1, 1]))


def test_immutable_follows_the_memory_to_its_owner():
    owner = np.arange(3)
    owner.flags.writeable = False
    assert immutable(owner) and kept_array(owner) is owner  # kept, not copied
    assert immutable(owner[1:]) and immutable(np.int64(3))
    assert immutable(np.frombuffer(b"\0" * 16, np.int64))  # bytes: read-only memory
    buf = np.arange(3)
    for view in (np.broadcast_to(buf, (2, 3)), read_only_view(buf),
                 np.lib.stride_tricks.as_strided(buf, (2,), (0,), writeable=False),
                 np.frombuffer(bytearray(16), np.int64)):
        assert not immutable(view)
        kept = kept_array(view)
        assert not np.shares_memory(kept, buf) and np.array_equal(kept, view)


# ---- F4: Graph.to(non_blocking=) --------------------------------------------------------------
def test_graph_to_accepts_non_blocking_as_pyg():
    g = sg.Graph(x=sg.randn(3, 2), edge_index=np.array([[0, 1], [1, 2]]))
    for flag in (True, False):
        out = g.to("cpu", non_blocking=flag)
        assert out.x.device == "cpu" and out.adj.device == "cpu"
        np.testing.assert_array_equal(out.x.numpy(), g.x.numpy())
        np.testing.assert_array_equal(out.edge_index, g.edge_index)
    with pytest.raises(TypeError, match=r"Graph.to: expected a bool for non_blocking \(got "
                                        r"int 1\)"):
        g.to("cpu", non_blocking=1)


# ---- F5: models' dropout default and MLP's norm, as PyG ---------------------------------------
def graph(n=6, f=5):
    sg.manual_seed(0)
    ei = np.array([[0, 1, 2, 3, 4, 5, 1], [1, 2, 3, 4, 5, 0, 3]])
    return sg.randn(n, f), sg.Graph(x=sg.randn(n, f), edge_index=ei).adj


@pytest.mark.parametrize("make", [
    lambda: models.GCN(5, 8, 2, 3), lambda: models.GAT(5, 4, 2, 3, heads=2),
    lambda: models.GraphSAGE(5, 8, 2, 3), lambda: models.MLP(5, 8, 2, 3),
    lambda: models.GIN(5, 8, 2, 2)], ids=["GCN", "GAT", "GraphSAGE", "MLP", "GIN"])
def test_models_drop_nothing_by_default_as_pyg(make):
    x, adj = graph()
    model = make().train()
    args = (x, adj, sg.tensor([0, 0, 0, 1, 1, 1])) if isinstance(model, models.GIN) else (x, adj)
    outs = []
    for seed in (1, 2):  # other dropout masks would give other outputs
        sg.manual_seed(seed)
        outs.append(model(*args).detach().numpy())
    np.testing.assert_array_equal(outs[0], outs[1])
    sg.manual_seed(1)
    model.dropout = 0.5  # the same check sees a nonzero rate
    assert not np.array_equal(model(*args).detach().numpy(), outs[0])


def test_mlp_keyword_form_builds_pygs_network():
    sg.manual_seed(0)
    mlp = models.MLP(in_channels=4, hidden_channels=6, out_channels=3, num_layers=3).train()
    x = sg.randn(10, 4, dtype=sg.float64)
    mlp.double()
    # PyG's MLP by its formula: (Linear -> BatchNorm (batch statistics, biased variance,
    # eps 1e-5, weight 1, bias 0 at init) -> ReLU) x 2 -> Linear
    h = x.numpy()
    for i, lin in enumerate(mlp.lins):
        h = h @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
        if i < 2:
            h = np.maximum((h - h.mean(0)) / np.sqrt(h.var(0) + 1e-5), 0)
    np.testing.assert_allclose(mlp(x).detach().numpy(), h, rtol=1e-10, atol=1e-12)
    assert sorted(k for k in mlp.state_dict() if k.startswith("norms.")) == sorted(
        f"norms.{i}.{name}" for i in range(2)
        for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"))
    assert len(models.MLP(4, 6, 3, 3, norm=None).norms) == 0


def test_mlp_refuses_an_unknown_norm():
    with pytest.raises(ValueError, match=r"MLP: expected `norm` to be 'batch_norm' or None "
                                         r"\(got 'layer_norm'\)"):
        models.MLP(4, 6, 2, 3, norm="layer_norm")


def test_cli_models_keep_the_papers_dropout():
    from sparsegraph.cli import bench_models, train

    for name in ("gcn", "gat", "sage", "appnp", "mlp", "gin"):
        cfg = dict(train.DEFAULTS[name], model=name)
        model = train.build_model(cfg, 7, 3)
        inner = model.mlp if name == "appnp" else model
        assert inner.dropout == cfg["dropout"] > 0
        if name in ("appnp", "mlp"):  # the papers' Linear-ReLU MLP
            assert len(inner.norms) == 0
    g = sg.Graph(x=sg.randn(4, 7), edge_index=np.array([[0, 1], [1, 2]]))
    for name, p in (("gcn", 0.5), ("gcn3x256", 0.5), ("gat", 0.6), ("sage", 0.5)):
        assert bench_models.build_model(name, g, 3).dropout == p


# ---- static replay: index range checks run in the ops' forwards -------------------------------
X = sg.randn(4, 3)
W = sg.randn(4, 3)
REPLAYED = {  # fn(index) with a valid trace index and invalid replay indices
    "index_select": (lambda i: ops.index_select(X, 0, i), [0, 3], ([0, 4], [-1, 0])),
    "gather": (lambda i: ops.gather(X, 0, i), [[0, 1, 2]], ([[0, 1, 4]], [[0, -1, 2]])),
    "take_along_dim": (lambda i: ops.take_along_dim(X, i, 1), [[0], [1], [2], [0]],
                       ([[0], [1], [2], [3]], [[0], [-2], [2], [0]])),
    "embedding": (lambda i: F.embedding(i, W), [[0, 3]], ([[0, 4]], [[-1, 0]])),
    "nll_loss": (lambda t: ops.nll_loss(X, t), [0, 2, 1, 2], ([0, 3, 1, 2], [0, -1, 1, 2])),
    "cross_entropy": (lambda t: ops.cross_entropy(X, t), [0, 2, 1, 2],
                      ([0, 3, 1, 2], [-5, 0, 1, 2])),
}


@pytest.mark.parametrize("name", list(REPLAYED))
def test_an_index_out_of_range_on_replay_raises_the_eager_error(name):
    fn, good, bads = REPLAYED[name]
    f = static.compile(fn)
    with sg.no_grad():
        f(sg.tensor(good))
        for bad in bads:
            with pytest.raises(ValueError) as eager:
                fn(sg.tensor(bad))
            with pytest.raises(ValueError) as replay:
                f(sg.tensor(bad))
            assert str(replay.value) == str(eager.value)
    assert f.traces == 1


def test_embedding_replay_in_a_training_step_raises_the_eager_error():
    sg.manual_seed(0)
    emb = sg.nn.Embedding(4, 2)
    opt = sg.optim.SGD(emb.parameters(), lr=0.1)

    def step(i):
        opt.zero_grad()
        loss = emb(i).sum()
        loss.backward()
        opt.step()
        return loss.detach()

    f = static.compile(step)
    f(sg.tensor([0, 3]))
    before = emb.weight.detach().numpy().copy()
    with pytest.raises(ValueError, match=r"embedding: expected indices in \[0, 4\) for a "
                                         r"weight of 4 rows \(got min -1\)"):
        f(sg.tensor([-1, 2]))
    np.testing.assert_array_equal(emb.weight.detach().numpy(), before)  # nothing written


def test_on_emulated_cuda(emulated_cuda):
    """The GPU paths: a numpy index moved to the device (a copy already), the range checks on
    device arrays, device row ids read on the host, Graph.to("cuda", non_blocking=True)."""
    w = sg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=sg.float64, device="cuda").requires_grad_()
    idx = np.array([1, 1])
    out = F.embedding(idx, w)
    idx[:] = 0
    out.sum().backward()
    assert w.grad.to("cpu").numpy().tolist() == expected_row_grad(2, [1, 1])
    x = sg.randn(3, 4, device="cuda")
    for fn, bad, got in ((lambda i: F.embedding(i, w), [-1], "min -1"),
                         (lambda i: ops.index_select(x, 0, i), [3], "max 3"),
                         (lambda t: ops.cross_entropy(x, t), [0, -1, 2], "got -1")):
        with pytest.raises(ValueError, match=got):
            fn(sg.tensor(bad, device="cuda"))
    rows = sg.from_scipy(ROWS).to("cuda")
    f = static.compile(lambda ids: rows[ids].sum(-1))
    with sg.no_grad():
        for ids in ([0, 1], [4, 5]):
            np.testing.assert_allclose(f(sg.tensor(ids, device="cuda")).to("cpu").numpy(),
                                       ROWS.toarray()[ids].sum(-1))
    g = sg.Graph(x=sg.randn(3, 2), edge_index=np.array([[0, 1], [1, 2]]))
    assert g.to("cuda", non_blocking=True).x.device == sg.randn(1, device="cuda").device
