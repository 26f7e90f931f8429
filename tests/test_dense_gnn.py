"""PyG's dense GNN pieces (torch_geometric.nn.dense): DenseGCNConv, DenseSAGEConv,
DenseGraphConv, DenseGINConv, dense_diff_pool and dense_mincut_pool. Values against numpy
references of PyG's formulas (float64), masks, 2-D promotion, agreement with the sparse layers,
float64 gradchecks, errors naming the argument, and a DiffPool model trained on MUTAG."""


import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph.gnn import (
    DenseGCNConv,
    DenseGINConv,
    DenseGraphConv,
    DenseSAGEConv,
    GCNConv,
    GINConv,
    GraphConv,
    SAGEConv,
    dense_diff_pool,
    dense_mincut_pool,
    to_dense_adj,
    to_dense_batch,
)
from sparsegraph.nn import Linear, Module
from sparsegraph.testing import gradcheck

B, N, F = 3, 5, 4
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)


def _data(seed=0, c=3, weighted=True, symmetric=False):
    """A batch: features, a sparse-ish non-negative adjacency (self-loops included), scores."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, N, F))
    adj = (rng.random((B, N, N)) < 0.5) * (rng.uniform(0.5, 2.0, (B, N, N)) if weighted else 1)
    if symmetric:
        adj = np.triu(adj, 1) + np.triu(adj, 1).transpose(0, 2, 1)
    return x, adj.astype(np.float64), rng.standard_normal((B, N, c))


def _t(a, grad=False):
    return sg.tensor(a, dtype=sg.float64, requires_grad=grad)


def _np(t):
    return t.detach().numpy()


def _params(module):
    return {k: _np(v) for k, v in module.state_dict().items()}


# ---- numpy references of PyG's formulas -------------------------------------------------
def ref_gcn(x, adj, p, improved=False, add_loop=True, mask=None):
    adj = adj.copy()
    if add_loop:
        idx = np.arange(adj.shape[-1])
        adj[:, idx, idx] = 2.0 if improved else 1.0
    d = np.clip(adj.sum(-1), 1, None) ** -0.5
    out = (d[:, :, None] * adj * d[:, None, :]) @ (x @ p["lin.weight"].T)
    out = out + p.get("bias", 0.0)
    return out if mask is None else out * mask[:, :, None]


def ref_sage(x, adj, p, normalize=False, mask=None):
    agg = (adj @ x) / np.clip(adj.sum(-1, keepdims=True), 1, None)
    out = agg @ p["lin_rel.weight"].T + x @ p["lin_root.weight"].T + p.get("lin_root.bias", 0)
    if normalize:
        out = out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)
    return out if mask is None else out * mask[:, :, None]


def ref_graph_conv(x, adj, p, aggr, mask=None):
    if aggr == "max":  # PyG: node i takes the max over the j with adj[b, j, i] != 0
        agg = np.zeros_like(x)
        for b in range(x.shape[0]):
            for i in range(x.shape[1]):
                src = np.flatnonzero(adj[b, :, i])
                if src.size:
                    agg[b, i] = x[b, src].max(axis=0)
    else:
        agg = adj @ x
        if aggr == "mean":
            agg = agg / np.clip(adj.sum(-1, keepdims=True), 1, None)
    out = agg @ p["lin_rel.weight"].T + p.get("lin_rel.bias", 0) + x @ p["lin_root.weight"].T
    return out if mask is None else out * mask[:, :, None]


def ref_gin(x, adj, p, add_loop=True, mask=None):
    h = adj @ x + ((1 + p["eps"][0]) * x if add_loop else 0)
    out = h @ p["nn.weight"].T + p["nn.bias"]
    return out if mask is None else out * mask[:, :, None]


def _softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def ref_diff_pool(x, adj, s, mask=None, normalize=True):
    s = _softmax(s)
    if mask is not None:
        x, s = x * mask[:, :, None], s * mask[:, :, None]
    st = s.transpose(0, 2, 1)
    link = np.sqrt(((adj - s @ st) ** 2).sum())
    link = link / adj.size if normalize else link
    ent = (-s * np.log(s + 1e-15)).sum(-1).mean()
    return st @ x, st @ adj @ s, link, ent


def ref_mincut_pool(x, adj, s, mask=None, temp=1.0):
    s = _softmax(s / temp)
    if mask is not None:
        x, s = x * mask[:, :, None], s * mask[:, :, None]
    st = s.transpose(0, 2, 1)
    out_adj = st @ adj @ s
    degree = np.stack([np.diag(a.sum(-1)) for a in adj])  # PyG's _rank3_diag
    mincut = -(np.trace(out_adj, axis1=1, axis2=2)
               / np.trace(st @ degree @ s, axis1=1, axis2=2)).mean()
    ss = st @ s
    k = s.shape[-1]
    ortho = np.linalg.norm(ss / np.linalg.norm(ss, axis=(1, 2), keepdims=True)
                           - np.eye(k) / np.sqrt(k), axis=(1, 2)).mean()
    out_adj = out_adj.copy()
    out_adj[:, np.arange(k), np.arange(k)] = 0
    d = np.sqrt(out_adj.sum(-1))[:, None, :] + 1e-15
    return st @ x, out_adj / d / d.transpose(0, 2, 1), mincut, ortho


# ---- values ------------------------------------------------------------------------------
@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("add_loop", [True, False])
@pytest.mark.parametrize("use_mask", [False, True])
def test_dense_gcn_matches_pyg_formula(improved, add_loop, use_mask):
    x, adj, _ = _data(1)
    adj[:, 0, 0] = 3.0  # an existing self-loop: add_loop replaces it, as PyG's adj[:, i, i] = 1
    conv = DenseGCNConv(F, 6, improved=improved).double()
    sg.nn.init.normal_(conv.bias)
    mask = MASK if use_mask else None
    out = conv(_t(x), _t(adj), None if mask is None else sg.tensor(mask), add_loop=add_loop)
    np.testing.assert_allclose(_np(out), ref_gcn(x, adj, _params(conv), improved, add_loop,
                                                 mask), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_dense_sage_matches_pyg_formula(normalize, bias):
    x, adj, _ = _data(2, weighted=False)
    conv = DenseSAGEConv(F, 6, normalize=normalize, bias=bias).double()
    out = conv(_t(x), _t(adj), sg.tensor(MASK))
    np.testing.assert_allclose(_np(out), ref_sage(x, adj, _params(conv), normalize, MASK),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("aggr", ["add", "mean", "max"])
def test_dense_graph_conv_matches_pyg_formula(aggr):
    x, adj, _ = _data(3)  # not symmetric: max reads adj by column, add / mean by row (PyG)
    adj[0, :, 2] = 0  # a node without in-edges: its max aggregation is 0
    conv = DenseGraphConv(F, 6, aggr=aggr).double()
    out = conv(_t(x), _t(adj), sg.tensor(MASK))
    np.testing.assert_allclose(_np(out), ref_graph_conv(x, adj, _params(conv), aggr, MASK),
                               rtol=1e-12, atol=1e-12)
    assert "lin_rel.bias" in _params(conv) and "lin_root.bias" not in _params(conv)


@pytest.mark.parametrize("eps, train_eps, add_loop", [(0.0, False, True), (0.3, True, True),
                                                      (0.3, False, False)])
def test_dense_gin_matches_pyg_formula(eps, train_eps, add_loop):
    x, adj, _ = _data(4)
    conv = DenseGINConv(Linear(F, 6), eps=eps, train_eps=train_eps).double()
    assert ("eps" in dict(conv.named_parameters())) == train_eps
    out = conv(_t(x), _t(adj), sg.tensor(MASK), add_loop=add_loop)
    np.testing.assert_allclose(_np(out), ref_gin(x, adj, _params(conv), add_loop, MASK),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_dense_diff_pool_matches_pyg_formula(use_mask, normalize):
    x, adj, s = _data(5)
    mask = MASK if use_mask else None
    got = dense_diff_pool(_t(x), _t(adj), _t(s), None if mask is None else sg.tensor(mask),
                          normalize=normalize)
    want = ref_diff_pool(x, adj, s, mask, normalize)
    assert [tuple(t.shape) for t in got] == [(B, 3, F), (B, 3, 3), (), ()]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(_np(g), w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("temp", [1.0, 0.4])
def test_dense_mincut_pool_matches_pyg_formula(use_mask, temp):
    x, adj, s = _data(6, c=4, symmetric=True)
    mask = MASK if use_mask else None
    got = dense_mincut_pool(_t(x), _t(adj), _t(s), None if mask is None else sg.tensor(mask),
                            temp=temp)
    want = ref_mincut_pool(x, adj, s, mask, temp)
    assert [tuple(t.shape) for t in got] == [(B, 4, F), (B, 4, 4), (), ()]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(_np(g), w, rtol=1e-12, atol=1e-14)
    assert np.all(np.diagonal(_np(got[1]), axis1=1, axis2=2) == 0)


def _layers():
    return [DenseGCNConv(F, 6), DenseSAGEConv(F, 6, normalize=True), DenseGraphConv(F, 6),
            DenseGraphConv(F, 6, aggr="max"), DenseGINConv(Linear(F, 6), train_eps=True)]


@pytest.mark.parametrize("conv", _layers(), ids=repr)
def test_two_dim_inputs_are_a_batch_of_one_and_adj_broadcasts(conv):
    conv = conv.double()
    x, adj, _ = _data(7)
    out = conv(_t(x[1]), _t(adj[1]))
    assert out.shape == (1, N, 6)  # not squeezed, as PyG
    np.testing.assert_allclose(_np(out), _np(conv(_t(x[1:2]), _t(adj[1:2]))), rtol=1e-12)
    np.testing.assert_allclose(_np(conv(_t(x[1]), _t(adj[1]), sg.tensor(MASK[1]))), _np(out))
    shared = _np(conv(_t(x), _t(adj[1])))  # one (N, N) adjacency for the whole batch
    for b in range(B):
        np.testing.assert_allclose(shared[b], _np(conv(_t(x[b]), _t(adj[1])))[0], rtol=1e-12)


def test_pools_promote_two_dim_inputs():
    x, adj, s = _data(8)
    for pool in (dense_diff_pool, dense_mincut_pool):
        one = pool(_t(x[0]), _t(adj[0]), _t(s[0]))
        batched = pool(_t(x[:1]), _t(adj[:1]), _t(s[:1]))
        assert one[0].shape == (1, 3, F) and one[1].shape == (1, 3, 3)
        for a, b in zip(one, batched, strict=True):
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12)


def _ring_batch(sizes=(4, 6, 3), seed=9):
    """Undirected graphs (a ring plus a chord each), batched as PyG: x, edge_index, batch."""
    rng = np.random.default_rng(seed)
    src, dst, start = [], [], 0
    for n in sizes:
        ids = np.arange(start, start + n)
        src += [*ids, ids[0]]
        dst += [*np.roll(ids, -1), ids[n // 2]]
        start += n
    ei = np.array([src + dst, dst + src])
    return rng.standard_normal((start, F)), ei, np.repeat(np.arange(len(sizes)), sizes)


@pytest.mark.parametrize("dense, sparse", [
    (lambda: DenseGCNConv(F, 6), lambda: GCNConv(F, 6)),
    (lambda: DenseSAGEConv(F, 6), lambda: SAGEConv(F, 6)),
    (lambda: DenseGraphConv(F, 6), lambda: GraphConv(F, 6)),
    (lambda: DenseGraphConv(F, 6, aggr="mean"), lambda: GraphConv(F, 6, aggr="mean")),
    (lambda: DenseGraphConv(F, 6, aggr="max"), lambda: GraphConv(F, 6, aggr="max")),
    (lambda: DenseGINConv(Linear(F, 6), eps=0.2), lambda: GINConv(Linear(F, 6), eps=0.2)),
], ids=["gcn", "sage", "graph-add", "graph-mean", "graph-max", "gin"])
def test_padded_batch_agrees_with_the_sparse_layer(dense, sparse):
    """to_dense_batch / to_dense_adj of a batch, through the dense layer with the mask, gives
    the sparse layer's output on the real nodes and zeros on the padding."""
    x, ei, batch = _ring_batch()
    d, s = dense().double(), sparse().double()
    state = s.state_dict()
    if isinstance(d, DenseSAGEConv):  # PyG's names; the dense layer's bias is lin_root's
        state = {"lin_rel.weight": state["lin_l.weight"], "lin_root.bias": state["lin_l.bias"],
                 "lin_root.weight": state["lin_r.weight"]}
    d.load_state_dict(state)
    xd, mask = to_dense_batch(_t(x), sg.tensor(batch))
    adj = to_dense_adj(sg.tensor(ei), sg.tensor(batch)).double()
    out = _np(d(xd, adj, mask))
    m = mask.numpy()
    np.testing.assert_allclose(out[m], _np(s(_t(x), sg.tensor(ei))), rtol=1e-10, atol=1e-12)
    assert np.all(out[~m] == 0)


def test_masked_pool_equals_pooling_each_graph_alone():
    x, ei, batch = _ring_batch(seed=10)
    s = np.random.default_rng(11).standard_normal((x.shape[0], 2))
    xd, mask = to_dense_batch(_t(x), sg.tensor(batch))
    sd, _ = to_dense_batch(_t(s), sg.tensor(batch))
    adj = to_dense_adj(sg.tensor(ei), sg.tensor(batch)).double()
    for pool in (dense_diff_pool, dense_mincut_pool):
        out, out_adj = pool(xd, adj, sd, mask)[:2]
        for g in range(3):
            n = int(mask.numpy()[g].sum())
            alone = pool(xd[g, :n], adj[g, :n, :n], sd[g, :n])
            np.testing.assert_allclose(_np(out[g]), _np(alone[0])[0], rtol=1e-12)
            np.testing.assert_allclose(_np(out_adj[g]), _np(alone[1])[0], rtol=1e-12)


# ---- gradients ---------------------------------------------------------------------------
@pytest.mark.parametrize("conv", _layers(), ids=repr)
def test_gradcheck_layers_in_x_adj_and_parameters(conv):
    conv = conv.double()
    x, adj, _ = _data(12)
    adj = adj + 0.5 * (adj > 0)  # row sums away from the clamp at 1
    for p in conv.parameters():  # a nonzero bias / eps, so their gradients are exercised
        sg.nn.init.normal_(p)
    mask = sg.tensor(MASK)
    differentiable_adj = not (isinstance(conv, DenseGraphConv) and conv.aggr == "max")
    xt, at = _t(x, True), _t(adj, differentiable_adj)
    params = list(conv.parameters())
    assert gradcheck(lambda x_, a_, *_: conv(x_, a_, mask), [xt, at, *params])


@pytest.mark.parametrize("use_mask", [False, True])
def test_gradcheck_pools_in_x_adj_and_s(use_mask):
    x, adj, s = _data(13, symmetric=True)
    mask = sg.tensor(MASK) if use_mask else None
    for pool, kw in ((dense_diff_pool, {}), (dense_diff_pool, {"normalize": False}),
                     (dense_mincut_pool, {}), (dense_mincut_pool, {"temp": 0.5})):
        def run(x_, a_, s_, pool=pool, kw=kw):
            return pool(x_, a_, s_, mask, **kw)

        assert gradcheck(run, [_t(x, True), _t(adj, True), _t(s, True)])


# ---- errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("conv", _layers(), ids=repr)
def test_layer_errors_name_the_argument(conv):
    name = type(conv).__name__
    x, adj = sg.randn(B, N, F), sg.tensor(np.ones((B, N, N), np.float32))
    with pytest.raises(ValueError, match=rf"{name}: expected `adj` of shape \(B, 5, 5\), "
                                         rf"square with the N = 5 nodes of `x` \(got shape "
                                         rf"\(3, 4, 4\)\)"):
        conv(x, adj[:, :4, :4])
    with pytest.raises(ValueError, match=rf"{name}: expected `adj` with batch size 1 or 3"):
        conv(x, sg.tensor(np.ones((2, N, N), np.float32)))
    with pytest.raises(ValueError, match=rf"{name}: expected `x` of shape \(B, N, F\) or "
                                         rf"\(N, F\) \(got shape \(4,\)\)"):
        conv(sg.randn(F), adj)
    with pytest.raises(ValueError, match=rf"{name}: expected `mask` of shape \(B, N\) = "
                                         rf"\(3, 5\) \(got shape \(3, 4\)\)"):
        conv(x, adj, sg.tensor(MASK[:, :4]))
    with pytest.raises(TypeError, match=rf"{name}: expected `adj` to be a Tensor \(got "
                                        rf"ndarray\)"):
        conv(x, np.ones((B, N, N)))
    with pytest.raises(TypeError, match=rf"{name}: expected `adj` of dtype float32 like `x` "
                                        rf"\(got float64\)"):
        conv(x, adj.double())
    with pytest.raises(TypeError, match=rf"{name}: expected floating `x`"):
        conv(sg.tensor(np.ones((B, N, F), np.int64)), adj)
    if name != "DenseGINConv":
        with pytest.raises(ValueError, match=rf"{name}: expected `x` with 4 features, as "
                                             rf"`in_channels` says \(got shape \(3, 5, 3\)\)"):
            conv(x[:, :, :3], adj)


def test_constructor_errors():
    with pytest.raises(ValueError, match="DenseGraphConv: expected `aggr` to be 'add', 'mean' "
                                         "or 'max' \\(got 'sum'\\)"):
        DenseGraphConv(F, 2, aggr="sum")
    with pytest.raises(ValueError, match="DenseGCNConv: expected `out_channels` to be a "
                                         "positive int \\(got 0\\)"):
        DenseGCNConv(F, 0)
    with pytest.raises(TypeError, match="DenseSAGEConv: expected `in_channels` to be a "
                                        "positive int"):
        DenseSAGEConv(4.0, 2)
    with pytest.raises(TypeError, match="DenseGINConv: expected `nn` to be a callable Module "
                                        "\\(got NoneType\\)"):
        DenseGINConv(None)


@pytest.mark.parametrize("pool", [dense_diff_pool, dense_mincut_pool])
def test_pool_errors_name_the_argument(pool):
    name = pool.__name__
    x, adj, s = (_t(a) for a in _data(14))
    with pytest.raises(ValueError, match=rf"{name}: expected `s` of shape \(3, 5, C\), one row "
                                         rf"per node of `x` \(got shape \(3, 4, 3\)\)"):
        pool(x, adj, s[:, :4])
    with pytest.raises(ValueError, match=rf"{name}: expected `s` with batch size 1 or 3, that "
                                         rf"of `x` \(got shape \(2, 5, 3\)\)"):
        pool(x, adj, s[:2])
    with pytest.raises(ValueError, match=rf"{name}: expected `adj` of shape \(B, 5, 5\)"):
        pool(x, adj[:, :, :4], s)
    with pytest.raises(ValueError, match=rf"{name}: expected `adj` with batch size 1 or 3"):
        pool(x, adj[:2], s)
    with pytest.raises(ValueError, match=rf"{name}: expected `s` of shape \(B, N, C\) or "
                                         rf"\(N, C\) \(got shape \(3, 5, 3, 1\)\)"):
        pool(x, adj, s.unsqueeze(-1))
    with pytest.raises(ValueError, match=rf"{name}: expected `mask` of shape \(B, N\) = "
                                         rf"\(3, 5\) \(got shape \(5,\)\)"):
        pool(x, adj, s, sg.tensor(MASK[0]))
    with pytest.raises(TypeError, match=rf"{name}: expected `s` of dtype float64 like `x`"):
        pool(x, adj, s.float())
    with pytest.raises(TypeError, match=rf"{name}: expected `x` to be a Tensor"):
        pool(None, adj, s)
    with pytest.raises(TypeError, match=rf"{name}: expected `mask` to be a \(B, N\) bool "
                                        rf"Tensor \(got list\)"):
        pool(x, adj, s, MASK.tolist())


@pytest.mark.parametrize("temp", [0, -1.0, float("inf"), True, "1"])
def test_mincut_temp_must_be_positive(temp):
    x, adj, s = (_t(a) for a in _data(15))
    error = ValueError if type(temp) in (int, float) else TypeError  # not a number at all
    with pytest.raises(error, match=rf"dense_mincut_pool: expected `temp` to be a positive "
                                    rf"number \(got (\w+ )?{temp!r}\)"):
        dense_mincut_pool(x, adj, s, temp=temp)


def test_repr_and_parameter_names_as_pyg():
    assert repr(DenseGCNConv(3, 4)) == "DenseGCNConv(3, 4)"
    assert repr(DenseSAGEConv(3, 4)) == "DenseSAGEConv(3, 4)"
    assert repr(DenseGraphConv(3, 4)) == "DenseGraphConv(3, 4)"
    assert set(DenseGCNConv(3, 4).state_dict()) == {"lin.weight", "bias"}
    assert set(DenseSAGEConv(3, 4).state_dict()) == {"lin_rel.weight", "lin_root.weight",
                                                     "lin_root.bias"}
    assert "bias" not in DenseGCNConv(3, 4, bias=False).state_dict()
    import sparsegraph.gnn as gnn

    assert {"DenseGCNConv", "DenseGINConv", "DenseGraphConv", "DenseSAGEConv",
            "dense_diff_pool", "dense_mincut_pool"} <= set(gnn.__all__)


def test_numpy_mask_is_accepted():
    x, adj, s = _data(16)
    conv = DenseGCNConv(F, 2).double()
    np.testing.assert_array_equal(_np(conv(_t(x), _t(adj), MASK)),
                                  _np(conv(_t(x), _t(adj), sg.tensor(MASK))))
    got = dense_diff_pool(_t(x), _t(adj), _t(s), MASK)
    for a, b in zip(got, dense_diff_pool(_t(x), _t(adj), _t(s), sg.tensor(MASK)), strict=True):
        np.testing.assert_array_equal(_np(a), _np(b))


# ---- DiffPool on MUTAG (PyG's examples/proteins_diff_pool.py, one pooling level) ----------
class _GNN(Module):
    def __init__(self, in_channels, hidden, out_channels):
        super().__init__()
        self.conv1 = DenseSAGEConv(in_channels, hidden)
        self.conv2 = DenseSAGEConv(hidden, out_channels)

    def forward(self, x, adj, mask=None):
        x = ops.relu(self.conv1(x, adj, mask))
        return ops.relu(self.conv2(x, adj, mask))


class _DiffPoolNet(Module):
    def __init__(self, clusters=7, hidden=32):
        super().__init__()
        self.gnn1_pool = _GNN(7, hidden, clusters)
        self.gnn1_embed = _GNN(7, hidden, hidden)
        self.gnn2_embed = _GNN(hidden, hidden, hidden)
        self.lin1, self.lin2 = Linear(hidden, hidden), Linear(hidden, 2)

    def forward(self, x, adj, mask):
        s = self.gnn1_pool(x, adj, mask)
        x = self.gnn1_embed(x, adj, mask)
        x, adj, link_loss, ent_loss = dense_diff_pool(x, adj, s, mask)
        x = self.gnn2_embed(x, adj).mean(dim=1)
        return self.lin2(ops.relu(self.lin1(x))), link_loss + ent_loss


def test_diffpool_trains_on_mutag(data_root):
    from sparsegraph.datasets import GraphLoader, TUDataset

    ds = TUDataset("MUTAG", root=data_root, download=False)
    full = next(iter(GraphLoader(ds, batch_size=len(ds))))
    x, mask = to_dense_batch(full.x, full.batch)
    adj = to_dense_adj(full.edge_index, full.batch)
    y = full.y
    assert x.shape == (188, 28, 7) and adj.shape == (188, 28, 28)
    sg.manual_seed(0)
    model = _DiffPoolNet()
    opt = sg.optim.Adam(model.parameters(), lr=0.005)
    rng = np.random.default_rng(0)
    for _ in range(30):
        perm = rng.permutation(len(ds))
        for i in range(0, len(ds), 32):
            idx = perm[i:i + 32]
            out, aux = model(x[idx], adj[idx], mask[idx])
            loss = ops.cross_entropy(out, y[idx]) + aux
            opt.zero_grad()
            loss.backward()
            opt.step()
    with sg.no_grad():
        pred = model(x, adj, mask)[0].argmax(dim=1).numpy()
    accuracy = float((pred == y.numpy()).mean())
    assert accuracy > 0.70, accuracy  # the majority class is 66.5 %
