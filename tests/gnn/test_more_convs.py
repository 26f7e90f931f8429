"""GINEConv, TAGConv, ResGatedGraphConv, GatedGraphConv and GCN2Conv against numpy
transcriptions of PyG's forward passes (float64, a random directed graph with self loops, a
repeated edge and an isolated node), across edge_index / SparseTensor / Graph inputs, with
gradient checks, PyG's state_dict keys and the errors for wrong inputs; a GCNII stack on Cora."""

import math

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn, nn
from sparsegraph.testing import check_conv, gradcheck
from tests.conv_cases import adjacency_forms, arr, lin_np, random_edges
from tests.pyg_reference import pyg_add_remaining_self_loops, pyg_scatter

N, F = 8, 4

EI = random_edges()
E = EI.shape[1]


def forms(values=None):
    return adjacency_forms(EI, N, values)




def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def pyg_gcn_norm(edge_index, edge_weight, num_nodes, add_self_loops):
    """PyG's gcn_norm (nn/conv/gcn_conv.py), transcribed: remaining self loops of weight 1,
    deg = scatter(w, col), norm = deg^-1/2[row] * w * deg^-1/2[col]."""
    if add_self_loops:
        edge_index, edge_weight = pyg_add_remaining_self_loops(edge_index, edge_weight, 1.0,
                                                               num_nodes)
    row, col = edge_index
    deg = pyg_scatter(edge_weight, col, num_nodes, "sum")
    with np.errstate(divide="ignore"):
        dis = deg ** -0.5
    dis[np.isinf(dis)] = 0
    return edge_index, dis[row] * edge_weight * dis[col]


def propagate_np(ei, w, h, n, reduce="sum"):
    """PyG's propagate with ``message = w * x_j``: scatter of the weighted messages."""
    return pyg_scatter(w[:, None] * h[ei[0]], ei[1], n, reduce)


def gradcheck_layer(conv, call, tensors):
    params = [p for p in conv.parameters() if p.requires_grad]
    assert gradcheck(lambda *ts: call(*ts[:len(tensors)]), [*tensors, *params])


def rand(*shape, seed=0, grad=False):
    t = sg.tensor(np.random.default_rng(seed).standard_normal(shape))
    return t.requires_grad_(True) if grad else t


# ---- GINEConv --------------------------------------------------------------------------------
def gine_np(conv, x, ei, e):
    eps = float(arr(conv.eps)[0])  # 0.3 stored as float32, as PyG's torch.Tensor([eps])
    if conv.lin is not None:
        e = lin_np(conv.lin, e)
    agg = pyg_scatter(np.maximum(x[ei[0]] + e, 0), ei[1], x.shape[0], "sum")
    return lin_np(conv.nn[0], (1 + eps) * x + agg)


@pytest.mark.parametrize("edge_dim", [None, 3])
def test_gine_matches_pyg_on_every_input_form(edge_dim):
    sg.manual_seed(0)
    conv = gnn.GINEConv(nn.Sequential(nn.Linear(F, 5)), eps=0.3, train_eps=True,
                        edge_dim=edge_dim).to("float64")
    x = rand(N, F)
    attr = np.random.default_rng(1).standard_normal((E, edge_dim or F))
    want = gine_np(conv, arr(x), EI, attr)
    for name, adj, e in forms(attr):
        np.testing.assert_allclose(arr(conv(x, adj, e)), want, atol=1e-12, err_msg=name)
    # PyG reads a SparseTensor's (E, D) values as edge_attr when none is given, a Graph here
    # its edge_attr
    sp = sg.sparse_coo(EI[::-1].copy(), attr, (N, N), dtype="float64")
    np.testing.assert_allclose(arr(conv(x, sp)), want, atol=1e-12)
    np.testing.assert_allclose(arr(conv(x, forms(attr)[2][1])), want, atol=1e-12)


def test_gine_gradcheck_bipartite_and_state_dict():
    sg.manual_seed(0)
    conv = gnn.GINEConv(nn.Linear(F, 3), train_eps=True, edge_dim=2).to("float64")
    assert list(conv.state_dict()) == ["eps", "nn.weight", "nn.bias", "lin.weight", "lin.bias"]
    x, e = rand(N, F, grad=True), rand(E, 2, seed=1, grad=True)
    gradcheck_layer(conv, lambda a, b: conv(a, EI, b), [x, e])
    # bipartite: 8 sources to the first 5 targets
    keep = EI[1] < 5
    x_dst = rand(5, F, seed=2)
    got = conv((x, x_dst), EI[:, keep], e[keep], size=(N, 5))
    agg = pyg_scatter(np.maximum(arr(x)[EI[0, keep]] + lin_np(conv.lin, arr(e)[keep]), 0),
                      EI[1, keep], 5, "sum")
    np.testing.assert_allclose(arr(got), lin_np(conv.nn, arr(x_dst) + agg), atol=1e-12)
    # train_eps=False: eps a buffer, as PyG's
    assert list(gnn.GINEConv(nn.Sequential(nn.Linear(F, 2), nn.ReLU())).state_dict()) == [
        "eps", "nn.0.weight", "nn.0.bias"]
    assert repr(gnn.GINEConv(nn.ReLU())) == "GINEConv(nn=ReLU())"


def test_gine_errors():
    conv = gnn.GINEConv(nn.Linear(F, 3)).to("float64")
    x = rand(N, F)
    with pytest.raises(ValueError, match=r"GINEConv: expected `edge_attr` \(E, D\)"):
        conv(x, EI)
    with pytest.raises(ValueError, match=r"GINEConv: expected `edge_attr` with 4 features.*"
                                         r"edge_dim=3"):
        conv(x, EI, rand(E, 3))
    with pytest.raises(ValueError, match=rf"GINEConv: expected `edge_attr` with {E} rows"):
        conv(x, EI, rand(E - 1, F))
    with pytest.raises(ValueError, match="GINEConv: could not infer the input channels"):
        gnn.GINEConv(nn.ReLU(), edge_dim=2)
    with pytest.raises(ValueError, match=r"GINEConv: expected `edge_attr` with 2 features, "
                                         r"as `edge_dim`"):
        gnn.GINEConv(nn.Linear(F, 3), edge_dim=2).to("float64")(x, EI, rand(E, 3))
    with pytest.raises(TypeError, match="GINEConv: expected `nn` to be a callable"):
        gnn.GINEConv(None)


# ---- TAGConv ---------------------------------------------------------------------------------
def tag_np(conv, x, w, normalize):
    ei, w = pyg_gcn_norm(EI, w, N, False) if normalize else (EI, w)
    out, h = lin_np(conv.lins[0], x), x
    for lin in conv.lins[1:]:
        h = propagate_np(ei, w, h, N)
        out = out + lin_np(lin, h)
    return out + arr(conv.bias)


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_tag_matches_pyg_on_every_input_form(normalize, weighted):
    sg.manual_seed(0)
    conv = gnn.TAGConv(F, 3, K=3, normalize=normalize).to("float64")
    conv.bias.array[...] = np.random.default_rng(2).standard_normal(3)
    x = rand(N, F)
    w = np.random.default_rng(1).uniform(0.5, 2.0, E) if weighted else None
    want = tag_np(conv, arr(x), np.ones(E) if w is None else w, normalize)
    for name, adj, ew in forms(w):
        np.testing.assert_allclose(arr(conv(x, adj, ew)), want, atol=1e-12, err_msg=name)


def test_tag_gradcheck_state_dict_repr_and_errors():
    sg.manual_seed(0)
    conv = gnn.TAGConv(F, 3, K=2).to("float64")
    assert list(conv.state_dict()) == ["bias", "lins.0.weight", "lins.1.weight",
                                       "lins.2.weight"]
    assert repr(conv) == "TAGConv(4, 3, K=2)"
    x, w = rand(N, F, grad=True), sg.tensor(np.linspace(0.5, 2, E)).requires_grad_(True)
    gradcheck_layer(conv, lambda a, b: conv(a, EI, b), [x, w])
    # K=0: a linear layer of x alone, no bias
    c0 = gnn.TAGConv(F, 3, K=0, bias=False).to("float64")
    np.testing.assert_allclose(arr(c0(x, EI)), arr(x) @ arr(c0.lins[0].weight).T, atol=1e-12)
    with pytest.raises(ValueError, match="TAGConv: expected `K` to be an int >= 0"):
        gnn.TAGConv(F, 3, K=-1)
    with pytest.raises(ValueError, match="TAGConv: expected `x` with 4 features"):
        conv(rand(N, 5), EI)
    with pytest.raises(ValueError, match=rf"TAGConv: expected `edge_weight` of shape \({E},\)"):
        conv(rand(N, F), EI, sg.tensor(np.ones(E + 1)))


# ---- ResGatedGraphConv -----------------------------------------------------------------------
def res_gated_np(conv, x_src, x_dst, ei, e=None):
    if e is None:
        k, q, v = lin_np(conv.lin_key, x_dst)[ei[1]], lin_np(conv.lin_query, x_src)[ei[0]], \
            lin_np(conv.lin_value, x_src)[ei[0]]
    else:  # PyG >= 2.3: the Linear over [x, e] per edge
        k = lin_np(conv.lin_key, np.concatenate([x_dst[ei[1]], e], 1))
        q = lin_np(conv.lin_query, np.concatenate([x_src[ei[0]], e], 1))
        v = lin_np(conv.lin_value, np.concatenate([x_src[ei[0]], e], 1))
    out = pyg_scatter(sigmoid(k + q) * v, ei[1], x_dst.shape[0], "sum")
    if conv.lin_skip is not None:
        out = out + lin_np(conv.lin_skip, x_dst)
    return out if conv.bias is None else out + arr(conv.bias)


@pytest.mark.parametrize("edge_dim", [None, 2])
def test_res_gated_matches_pyg_on_every_input_form(edge_dim):
    sg.manual_seed(0)
    conv = gnn.ResGatedGraphConv(F, 3, edge_dim=edge_dim).to("float64")
    conv.bias.array[...] = np.random.default_rng(2).standard_normal(3)
    x = rand(N, F)
    attr = None if edge_dim is None else np.random.default_rng(1).standard_normal((E, 2))
    want = res_gated_np(conv, arr(x), arr(x), EI, attr)
    for name, adj, e in forms(attr):
        np.testing.assert_allclose(arr(conv(x, adj, e)), want, atol=1e-12, err_msg=name)


def test_res_gated_bipartite_gradcheck_and_state_dict():
    sg.manual_seed(0)
    conv = gnn.ResGatedGraphConv((F, 2), 3, edge_dim=2).to("float64")
    assert list(conv.state_dict()) == [
        "bias", "lin_key.weight", "lin_key.bias", "lin_query.weight", "lin_query.bias",
        "lin_value.weight", "lin_value.bias", "lin_skip.weight"]
    assert repr(conv) == "ResGatedGraphConv((4, 2), 3)"
    keep = EI[1] < 5
    ei = EI[:, keep]
    x_src, x_dst = rand(N, F, grad=True), rand(5, 2, seed=1, grad=True)
    e = rand(ei.shape[1], 2, seed=3, grad=True)
    want = res_gated_np(conv, arr(x_src), arr(x_dst), ei, arr(e))
    np.testing.assert_allclose(arr(conv((x_src, x_dst), ei, e)), want, atol=1e-12)
    gradcheck_layer(conv, lambda a, b, c: conv((a, b), ei, c), [x_src, x_dst, e])
    plain = gnn.ResGatedGraphConv(F, 3, act=nn.Tanh(), root_weight=False,
                                  bias=False).to("float64")
    assert list(plain.state_dict()) == ["lin_key.weight", "lin_key.bias", "lin_query.weight",
                                        "lin_query.bias", "lin_value.weight", "lin_value.bias"]
    x = rand(N, F, grad=True)
    k, q, v = (lin_np(lin, arr(x)) for lin in (plain.lin_key, plain.lin_query, plain.lin_value))
    want = pyg_scatter(np.tanh(k[EI[1]] + q[EI[0]]) * v[EI[0]], EI[1], N, "sum")
    np.testing.assert_allclose(arr(plain(x, EI)), want, atol=1e-12)
    gradcheck_layer(plain, lambda a: plain(a, EI), [x])


def test_res_gated_errors():
    conv = gnn.ResGatedGraphConv(F, 3).to("float64")
    with pytest.raises(ValueError, match="ResGatedGraphConv: got `edge_attr` but the layer "
                                         "was built with edge_dim=None"):
        conv(rand(N, F), EI, rand(E, 2))
    with pytest.raises(ValueError, match=r"ResGatedGraphConv: expected `edge_attr` \(E, 2\)"):
        gnn.ResGatedGraphConv(F, 3, edge_dim=2).to("float64")(rand(N, F), EI)
    with pytest.raises(ValueError, match=r"ResGatedGraphConv: expected `edge_attr` of shape "
                                         r"\(E, 2\)"):
        gnn.ResGatedGraphConv(F, 3, edge_dim=2).to("float64")(rand(N, F), EI, rand(E, 3))
    with pytest.raises(ValueError, match="ResGatedGraphConv: expected `x` with 4 features"):
        conv(rand(N, 3), EI)
    with pytest.raises(TypeError, match="ResGatedGraphConv: expected `act` to be callable"):
        gnn.ResGatedGraphConv(F, 3, act="sigmoid")


# ---- GatedGraphConv --------------------------------------------------------------------------
def gru_np(cell, inp, h):
    """torch's GRUCell: gates r, z, n stacked in weight_ih / weight_hh."""
    gi, gh = lin_np_named(cell, "ih", inp), lin_np_named(cell, "hh", h)
    H = h.shape[1]
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h


def lin_np_named(cell, which, v):
    out = v @ arr(getattr(cell, f"weight_{which}")).T
    bias = getattr(cell, f"bias_{which}", None)
    return out if bias is None else out + arr(bias)


def gated_np(conv, x, w, aggr):
    h = np.concatenate([x, np.zeros((x.shape[0], conv.out_channels - x.shape[1]))], 1)
    for i in range(conv.num_layers):
        m = propagate_np(EI, w, h @ arr(conv.weight)[i], N, aggr)
        h = gru_np(conv.rnn, m, h)
    return h


@pytest.mark.parametrize("aggr", ["add", "mean", "max"])
@pytest.mark.parametrize("weighted", [False, True])
def test_gated_graph_matches_pyg_on_every_input_form(aggr, weighted):
    sg.manual_seed(0)
    conv = gnn.GatedGraphConv(6, num_layers=3, aggr=aggr).to("float64")
    x = rand(N, F)
    w = np.random.default_rng(1).uniform(0.5, 2.0, E) if weighted else None
    want = gated_np(conv, arr(x), np.ones(E) if w is None else w, aggr)
    for name, adj, ew in forms(w):
        np.testing.assert_allclose(arr(conv(x, adj, ew)), want, atol=1e-12, err_msg=name)


def test_gated_graph_gradcheck_state_dict_and_errors():
    sg.manual_seed(0)
    conv = gnn.GatedGraphConv(5, num_layers=2).to("float64")
    assert list(conv.state_dict()) == ["weight", "rnn.weight_ih", "rnn.weight_hh",
                                       "rnn.bias_ih", "rnn.bias_hh"]
    assert tuple(conv.weight.shape) == (2, 5, 5)
    bound = 1 / math.sqrt(5)
    assert np.abs(arr(conv.weight)).max() <= bound and np.abs(arr(conv.weight)).std() > 0
    assert repr(conv) == "GatedGraphConv(5, num_layers=2)"
    x, w = rand(N, 3, grad=True), sg.tensor(np.linspace(0.5, 2, E)).requires_grad_(True)
    gradcheck_layer(conv, lambda a, b: conv(a, EI, b), [x, w])
    assert list(gnn.GatedGraphConv(5, 1, bias=False).state_dict()) == [
        "weight", "rnn.weight_ih", "rnn.weight_hh"]
    with pytest.raises(ValueError, match="GatedGraphConv: expected `x` with at most "
                                         "out_channels=5 features"):
        conv(rand(N, 6), EI)
    with pytest.raises(ValueError, match="GatedGraphConv: expected one aggregation"):
        gnn.GatedGraphConv(5, 2, aggr=["sum", "max"])
    with pytest.raises(ValueError, match="GatedGraphConv: expected `num_layers` to be an int"):
        gnn.GatedGraphConv(5, -1)


# ---- GCN2Conv --------------------------------------------------------------------------------
def gcn2_np(conv, x, x0, w, normalize=True, add_self_loops=True):
    ei, w = pyg_gcn_norm(EI, w, N, add_self_loops) if normalize else (EI, w)
    h = propagate_np(ei, w, x, N)
    a, b, w1 = conv.alpha, conv.beta, arr(conv.weight1)
    if conv.weight2 is None:
        out = (1 - a) * h + a * x0
        return (1 - b) * out + b * (out @ w1)
    out1, out2 = (1 - a) * h, a * x0
    return ((1 - b) * out1 + b * (out1 @ w1)) + ((1 - b) * out2 + b * (out2 @ arr(conv.weight2)))


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("norm", [(True, True), (True, False), (False, True)])
def test_gcn2_matches_pyg_on_every_input_form(shared, weighted, norm):
    sg.manual_seed(0)
    conv = gnn.GCN2Conv(F, alpha=0.2, theta=0.5, layer=2, shared_weights=shared,
                        normalize=norm[0], add_self_loops=norm[1]).to("float64")
    assert conv.beta == pytest.approx(math.log(0.5 / 2 + 1))
    x, x0 = rand(N, F), rand(N, F, seed=1)
    w = np.random.default_rng(1).uniform(0.5, 2.0, E) if weighted else None
    want = gcn2_np(conv, arr(x), arr(x0), np.ones(E) if w is None else w, *norm)
    for name, adj, ew in forms(w):
        np.testing.assert_allclose(arr(conv(x, x0, adj, ew)), want, atol=1e-12, err_msg=name)


def test_gcn2_gradcheck_cache_state_dict_and_errors():
    sg.manual_seed(0)
    conv = gnn.GCN2Conv(F, alpha=0.1, shared_weights=False).to("float64")
    assert conv.beta == 1.0  # PyG's without theta and layer
    assert list(conv.state_dict()) == ["weight1", "weight2"]
    assert list(gnn.GCN2Conv(F, 0.1).state_dict()) == ["weight1"]
    assert repr(conv) == "GCN2Conv(4, alpha=0.1, beta=1.0)"
    x, x0 = rand(N, F, grad=True), rand(N, F, seed=1, grad=True)
    w = sg.tensor(np.linspace(0.5, 2, E)).requires_grad_(True)
    gradcheck_layer(conv, lambda a, b, c: conv(a, b, EI, c), [x, x0, w])
    cached = gnn.GCN2Conv(F, 0.1, cached=True).to("float64")
    first = arr(cached(x, x0, EI))
    other = random_edges(seed=5)  # ignored once cached (PyG's transductive cache)
    np.testing.assert_allclose(arr(cached(x, x0, other)), first, atol=1e-12)
    cached.reset_parameters()
    assert cached._cached_adj is None
    with pytest.raises(ValueError, match="GCN2Conv: expected both `theta` and `layer`"):
        gnn.GCN2Conv(F, 0.1, theta=0.5)
    with pytest.raises(ValueError, match=r"GCN2Conv: expected `x_0` with at least 8 rows"):
        conv(rand(N, F), rand(N - 1, F), EI)
    with pytest.raises(ValueError, match="GCN2Conv: expected `x_0` with 4 features"):
        conv(rand(N, F), rand(N, 3), EI)
    with pytest.raises(TypeError, match="GCN2Conv: expected `x` of dtype float64"):
        conv(rand(N, F).float(), rand(N, F), EI)


# ---- PyG's layer invariants: edge order, node permutation, COO / CSR inputs ---------------
@pytest.mark.parametrize("make, call", [
    (lambda: gnn.TAGConv(F, 3, K=2), None),
    (lambda: gnn.ResGatedGraphConv(F, 3), None),
    (lambda: gnn.GatedGraphConv(5, 2, aggr="mean"), None),
    (lambda: gnn.GCN2Conv(F, 0.1, 0.5, 1), lambda conv, x, adj: conv(x, x * 0.5, adj)),
], ids=["tag", "res_gated", "gated_graph", "gcn2"])
def test_layer_invariants(make, call):
    check_conv(make, sg.tensor(np.random.default_rng(3).standard_normal((N, F)),
                               dtype="float32"), EI, call=call)


@pytest.mark.dataset
def test_gcn2_stack_learns_cora(data_root):
    """PyG's examples/gcn2_cora.py, shorter: 8 GCNII layers (alpha 0.1, theta 0.5), 64 hidden,
    dropout 0.6, the adjacency normalised once (normalize=False in the layers)."""
    import sparsegraph.nn.functional as Fn
    from sparsegraph.datasets import Planetoid

    g = Planetoid("cora", root=data_root, download=False, normalize_features=True)[0]
    adj = sg.ops.gcn_norm(g.adj)
    sg.manual_seed(0)

    class Net(nn.Module):
        def __init__(self, hidden=64, layers=8, alpha=0.1, theta=0.5, dropout=0.6):
            super().__init__()
            self.lins = nn.ModuleList([nn.Linear(g.num_features, hidden),
                                       nn.Linear(hidden, int(g.y.max()) + 1)])
            self.convs = nn.ModuleList([gnn.GCN2Conv(hidden, alpha, theta, i + 1,
                                                     normalize=False) for i in range(layers)])
            self.dropout = dropout

        def forward(self, x, a):
            x = Fn.dropout(x, self.dropout, training=self.training)
            x = x0 = self.lins[0](x).relu()
            for conv in self.convs:
                x = Fn.dropout(x, self.dropout, training=self.training)
                x = conv(x, x0, a).relu()
            x = Fn.dropout(x, self.dropout, training=self.training)
            return self.lins[1](x).log_softmax(dim=-1)

    model = Net()
    opt = sg.optim.Adam([dict(params=model.convs.parameters(), weight_decay=0.01),
                         dict(params=model.lins.parameters(), weight_decay=5e-4)], lr=0.01)
    y, masks = g.y.numpy(), [g.train_mask.numpy(), g.val_mask.numpy(), g.test_mask.numpy()]
    best_val, test_at_best = 0.0, 0.0
    for _ in range(100):
        model.train()
        opt.zero_grad()
        out = model(g.x, adj)
        Fn.nll_loss(out[g.train_mask], g.y[g.train_mask]).backward()
        opt.step()
        model.eval()
        with sg.no_grad():
            pred = model(g.x, adj).numpy().argmax(1)
        val, test = ((pred[m] == y[m]).mean() for m in masks[1:])
        if val > best_val:
            best_val, test_at_best = val, test
    assert test_at_best > 0.75, (test_at_best, best_val)
