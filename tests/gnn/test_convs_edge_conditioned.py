"""NNConv (ECConv), CGConv, GENConv (+ MessageNorm), LEConv and SimpleConv against numpy
transcriptions of PyG's forward passes (float64, a random directed graph with self loops, a
repeated edge and an isolated node), across edge_index / SparseTensor / Graph inputs, with
gradient checks, PyG's state_dict keys and reprs, named errors, and an NNConv model on MUTAG's
edge labels."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn, nn
from sparsegraph.testing import check_conv, gradcheck
from tests.conv_cases import adjacency_forms, arr, fit_graphs, lin_np, random_edges
from tests.pyg_reference import pyg_scatter

N, F, D = 8, 3, 2

EI = random_edges()
E = EI.shape[1]


def forms(values=None):
    return adjacency_forms(EI, N, values)




def rand(*shape, seed=0, grad=False):
    t = sg.tensor(np.random.default_rng(seed).standard_normal(shape))
    return t.requires_grad_(True) if grad else t


def randomize(module, seed=5):
    """Random values in every parameter (biases too, which start at 0)."""
    rng = np.random.default_rng(seed)
    for p in module.parameters():
        p.array[...] = rng.standard_normal(p.shape) * 0.5


def gradcheck_layer(conv, call, tensors):
    params = [p for p in conv.parameters() if p.requires_grad]
    assert gradcheck(lambda *ts: call(*ts[:len(tensors)]), [*tensors, *params])


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def batch_norm_np(x, eps=1e-5):  # training mode, weight 1, bias 0, biased variance
    return (x - x.mean(0)) / np.sqrt(x.var(0) + eps)


# ---- NNConv ----------------------------------------------------------------------------------
def edge_net(out):
    return nn.Sequential(nn.Linear(D, 5), nn.Tanh(), nn.Linear(5, out))


def nnconv_np(conv, x_src, x_dst, ei, e, n_dst, aggr):
    """PyG's NNConv.forward: message x_j @ nn(e).view(-1, in, out), aggr, + lin(x_r) + bias."""
    w = lin_np(conv.nn[2], np.tanh(lin_np(conv.nn[0], e)))
    w = w.reshape(len(e), x_src.shape[1], conv.out_channels)
    msg = np.einsum("ei,eio->eo", x_src[ei[0]], w)
    out = pyg_scatter(msg, ei[1], n_dst, aggr)
    if conv.lin is not None and x_dst is not None:
        out = out + x_dst @ arr(conv.lin.weight).T
    return out if conv.bias is None else out + arr(conv.bias)


@pytest.mark.parametrize("aggr", ["add", "mean", "max"])
def test_nnconv_matches_pyg_on_every_input_form(aggr):
    sg.manual_seed(0)
    conv = gnn.NNConv(F, 4, edge_net(F * 4), aggr=aggr).to("float64")
    randomize(conv)
    x = rand(N, F)
    attr = np.random.default_rng(1).standard_normal((E, D))
    want = nnconv_np(conv, arr(x), arr(x), EI, attr, N, aggr)
    assert np.abs(want[7] - arr(conv.bias) - arr(x)[7] @ arr(conv.lin.weight).T).max() < 1e-12
    for name, adj, e in forms(attr):
        np.testing.assert_allclose(arr(conv(x, adj, e)), want, atol=1e-12, err_msg=name)
    # without edge_attr: a SparseTensor's (E, D) values, a Graph's edge_attr
    sp = sg.sparse_coo(EI[::-1].copy(), attr, (N, N), dtype="float64")
    np.testing.assert_allclose(arr(conv(x, sp)), want, atol=1e-12)
    np.testing.assert_allclose(arr(conv(x, forms(attr)[2][1])), want, atol=1e-12)


def test_nnconv_bipartite_gradcheck_state_dict_and_repr():
    sg.manual_seed(0)
    conv = gnn.NNConv((F, 2), 4, edge_net(F * 4), root_weight=True).to("float64")
    randomize(conv)
    assert list(conv.state_dict()) == ["bias", "nn.0.weight", "nn.0.bias", "nn.2.weight",
                                       "nn.2.bias", "lin.weight"]
    assert conv.lin.weight.shape == (4, 2) and conv.lin.bias is None
    keep = EI[1] < 5
    x_src, x_dst = rand(N, F, grad=True), rand(5, 2, seed=2, grad=True)
    e = rand(int(keep.sum()), D, seed=1, grad=True)
    got = conv((x_src, x_dst), EI[:, keep], e, size=(N, 5))
    want = nnconv_np(conv, arr(x_src), arr(x_dst), EI[:, keep], arr(e), 5, "add")
    np.testing.assert_allclose(arr(got), want, atol=1e-12)
    gradcheck_layer(conv, lambda a, b, c: conv((a, b), EI[:, keep], c, size=(N, 5)),
                    [x_src, x_dst, e])
    plain = gnn.ECConv(F, 2, nn.Linear(D, F * 2), root_weight=False, bias=False)
    assert gnn.ECConv is gnn.NNConv and list(plain.state_dict()) == ["nn.weight", "nn.bias"]
    assert repr(plain) == ("NNConv(3, 2, aggr=add, nn=Linear(in_features=2, out_features=6, "
                           "bias=True))")


def test_nnconv_errors():
    conv = gnn.NNConv(F, 4, nn.Linear(D, F * 4)).to("float64")
    x = rand(N, F)
    with pytest.raises(ValueError, match=r"NNConv: expected `edge_attr` \(E, D\)"):
        conv(x, EI)
    with pytest.raises(ValueError, match=rf"NNConv: expected `edge_attr` with {E} rows"):
        conv(x, EI, rand(E - 1, D))
    with pytest.raises(ValueError, match=r"NNConv: expected `nn` to map `edge_attr` to shape "
                                         r"\(E, 12\)"):
        gnn.NNConv(F, 4, nn.Linear(D, 5)).to("float64")(x, EI, rand(E, D))
    with pytest.raises(ValueError, match="NNConv: expected `x` with 3 features"):
        conv(rand(N, 2), EI, rand(E, D))
    with pytest.raises(TypeError, match="NNConv: expected `nn` to be a callable"):
        gnn.NNConv(F, 4, None)
    with pytest.raises(TypeError, match="NNConv: expected floating `edge_attr`"):
        conv(x, EI, np.ones((E, D), dtype=np.int64))


# ---- CGConv ----------------------------------------------------------------------------------
def cgconv_np(conv, x_src, x_dst, ei, e, n_dst, aggr="add", bn=False):
    parts = [x_dst[ei[1]], x_src[ei[0]]] + ([] if e is None else [e])
    z = np.concatenate(parts, axis=1)
    msg = sigmoid(lin_np(conv.lin_f, z)) * np.logaddexp(0, lin_np(conv.lin_s, z))
    out = pyg_scatter(msg, ei[1], n_dst, aggr)
    return (batch_norm_np(out) if bn else out) + x_dst


@pytest.mark.parametrize("dim, aggr, bn", [(0, "add", False), (D, "add", False),
                                           (D, "mean", True)])
def test_cgconv_matches_pyg_on_every_input_form(dim, aggr, bn):
    sg.manual_seed(0)
    conv = gnn.CGConv(F, dim=dim, aggr=aggr, batch_norm=bn).to("float64")
    x = rand(N, F)
    attr = np.random.default_rng(1).standard_normal((E, D)) if dim else None
    want = cgconv_np(conv, arr(x), arr(x), EI, attr, N, aggr, bn)
    for name, adj, e in forms(attr):
        np.testing.assert_allclose(arr(conv(x, adj, e)), want, atol=1e-10, err_msg=name)


def test_cgconv_bipartite_gradcheck_state_dict_repr_and_errors():
    sg.manual_seed(0)
    conv = gnn.CGConv((F, 2), dim=D, batch_norm=True).to("float64")
    assert list(conv.state_dict()) == ["lin_f.weight", "lin_f.bias", "lin_s.weight",
                                       "lin_s.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                       "bn.running_var", "bn.num_batches_tracked"]
    assert conv.lin_f.weight.shape == (2, F + 2 + D)
    assert repr(conv) == "CGConv((3, 2), dim=2)"
    keep = EI[1] < 5
    x_src, x_dst = rand(N, F, grad=True), rand(5, 2, seed=2, grad=True)
    e = rand(int(keep.sum()), D, seed=1, grad=True)
    want = cgconv_np(conv, arr(x_src), arr(x_dst), EI[:, keep], arr(e), 5, bn=True)
    np.testing.assert_allclose(arr(conv((x_src, x_dst), EI[:, keep], e)), want, atol=1e-10)
    gradcheck_layer(conv, lambda a, b, c: conv((a, b), EI[:, keep], c), [x_src, x_dst, e])
    plain = gnn.CGConv(F, bias=False)
    assert list(plain.state_dict()) == ["lin_f.weight", "lin_s.weight"]
    x = rand(N, F)
    with pytest.raises(ValueError, match=r"CGConv: expected `edge_attr` \(E, D\).*dim=2"):
        gnn.CGConv(F, dim=D).to("float64")(x, EI)
    with pytest.raises(ValueError, match=r"CGConv: expected `edge_attr` of shape \(E, 2\)"):
        gnn.CGConv(F, dim=D).to("float64")(x, EI, rand(E, 3))
    with pytest.raises(ValueError, match="CGConv: got `edge_attr` but the layer was built "
                                         "with dim=0"):
        plain.to("float64")(x, EI, rand(E, D))
    with pytest.raises(ValueError, match="CGConv: expected `x` with 3 features, as "
                                         "`channels` says"):
        plain(rand(N, 4), EI)
    with pytest.raises(ValueError, match="CGConv: expected `dim` to be an int >= 0"):
        gnn.CGConv(F, dim=-1)


# ---- GENConv ---------------------------------------------------------------------------------
def seg_softmax_np(v, index, n):
    m = np.full((n,) + v.shape[1:], -np.inf)
    np.maximum.at(m, index, v)
    ex = np.exp(v - m[index])
    return ex / (pyg_scatter(ex, index, n, "sum")[index] + 1e-16)


def genconv_np(conv, x_src, x_dst, ei, e, n_dst, aggr, norm):
    """PyG's GENConv.forward with its MLP (Linear, norm, ReLU, Linear) transcribed."""
    h = lin_np(conv.lin_src, x_src) if conv.lin_src is not None else x_src
    if e is not None and conv.lin_edge is not None:
        e = lin_np(conv.lin_edge, e)
    msg = np.maximum(h[ei[0]] + (0 if e is None else e), 0) + conv.eps
    if aggr == "softmax":
        t = conv.aggr_module.t
        t = float(arr(t)[0]) if isinstance(t, sg.Tensor) else t
        out = pyg_scatter(msg * seg_softmax_np(msg * t, ei[1], n_dst), ei[1], n_dst, "sum")
    elif aggr == "powermean":
        p = conv.aggr_module.p
        out = pyg_scatter(np.clip(msg, 0, 100) ** p, ei[1], n_dst, "mean")
        out = np.clip(out, 0, 100) ** (1.0 / p)
    else:  # a list: concatenated, then lin_aggr_out
        out = np.concatenate([pyg_scatter(msg, ei[1], n_dst, a) for a in aggr], axis=1)
        out = lin_np(conv.lin_aggr_out, out)
    if conv.msg_norm is not None:
        unit = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        out = unit * np.linalg.norm(x_dst, axis=1, keepdims=True) * arr(conv.msg_norm.scale)
    out = out + (lin_np(conv.lin_dst, x_dst) if conv.lin_dst is not None else x_dst)
    lins = conv.mlp.lins
    out = lin_np(lins[0], out)
    if norm == "batch":
        out = batch_norm_np(out)
    elif norm == "layer":  # PyG's LayerNorm, mode="graph", batch None
        c = out - out.mean()
        out = c / (c.std() + 1e-5)
    return lin_np(lins[1], np.maximum(out, 0))


CASES = [  # in_channels, aggr, kwargs, edge_dim
    (4, "softmax", dict(t=0.7, learn_t=True, norm=None), None),
    (F, "softmax", dict(msg_norm=True, learn_msg_scale=True, bias=True), D),
    (F, "powermean", dict(p=2.0, norm="layer"), 4),
    (4, ["mean", "max"], dict(norm="batch"), None),
]


@pytest.mark.parametrize("in_ch, aggr, kwargs, edge_dim", CASES)
def test_genconv_matches_pyg_on_every_input_form(in_ch, aggr, kwargs, edge_dim):
    sg.manual_seed(0)
    conv = gnn.GENConv(in_ch, 4, aggr=aggr, edge_dim=edge_dim, **kwargs).to("float64")
    if conv.msg_norm is not None:
        conv.msg_norm.scale.array[...] = 1.7
    x = rand(N, in_ch)
    attr = (None if edge_dim is None else
            np.random.default_rng(1).standard_normal((E, edge_dim)))
    want = genconv_np(conv, arr(x), arr(x), EI, attr, N, aggr, kwargs.get("norm", "batch"))
    for name, adj, e in forms(attr):
        np.testing.assert_allclose(arr(conv(x, adj, e)), want, atol=1e-10, err_msg=name)


def test_genconv_gradcheck_state_dict_repr_and_bipartite():
    sg.manual_seed(0)
    conv = gnn.GENConv((F, 2), 4, learn_t=True, msg_norm=True, learn_msg_scale=True,
                       edge_dim=D, norm=None).to("float64")
    assert list(conv.state_dict()) == [
        "aggr_module.t", "lin_src.weight", "lin_edge.weight", "lin_dst.weight",
        "mlp.lins.0.weight", "mlp.lins.1.weight", "msg_norm.scale"]
    assert repr(conv) == "GENConv((3, 2), 4, aggr=softmax)" and repr(conv.mlp) == "MLP(4, 8, 4)"
    keep = EI[1] < 5
    x_src, x_dst = rand(N, F, grad=True), rand(5, 2, seed=2, grad=True)
    e = rand(int(keep.sum()), D, seed=1, grad=True)
    got = conv((x_src, x_dst), EI[:, keep], e, size=(N, 5))
    want = genconv_np(conv, arr(x_src), arr(x_dst), EI[:, keep], arr(e), 5, "softmax", None)
    np.testing.assert_allclose(arr(got), want, atol=1e-10)
    gradcheck_layer(conv, lambda a, b, c: conv((a, b), EI[:, keep], c, size=(N, 5)),
                    [x_src, x_dst, e])
    # defaults: in == out, no edge_dim: only the MLP with PyG's BatchNorm (module.*)
    assert list(gnn.GENConv(4, 4).state_dict()) == [
        "mlp.lins.0.weight", "mlp.lins.1.weight", "mlp.norms.0.module.weight",
        "mlp.norms.0.module.bias", "mlp.norms.0.module.running_mean",
        "mlp.norms.0.module.running_var", "mlp.norms.0.module.num_batches_tracked"]
    # MessageNorm's scale is kept without learn_scale, not learned
    assert repr(gnn.MessageNorm()) == "MessageNorm(learn_scale=False)"
    assert not gnn.MessageNorm().scale.requires_grad
    # "softmax_sg": the semi-gradient softmax
    assert gnn.GENConv(4, 4, aggr="softmax_sg").aggr_module.semi_grad


def test_genconv_errors():
    conv = gnn.GENConv(F, F, norm=None).to("float64")
    x = rand(N, F)
    with pytest.raises(ValueError, match=r"GENConv: expected `edge_attr` with 3 features.*"
                                         r"edge_dim=2"):
        conv(x, EI, rand(E, D))
    with pytest.raises(ValueError, match=r"GENConv: expected `edge_attr` of shape \(E, 2\)"):
        gnn.GENConv(F, F, edge_dim=D).to("float64")(x, EI, rand(E, 3))
    with pytest.raises(ValueError, match="GENConv: expected `norm` in"):
        gnn.GENConv(F, F, norm="nope")
    with pytest.raises(ValueError, match="GENConv: expected `num_layers` to be an int >= 1"):
        gnn.GENConv(F, F, num_layers=0)
    with pytest.raises(ValueError, match="GENConv: expected `x` with 3 features"):
        conv(rand(N, 4), EI)


# ---- LEConv ----------------------------------------------------------------------------------
def leconv_np(conv, x_src, x_dst, ei, w, n_dst):
    a, b = lin_np(conv.lin1, x_src), lin_np(conv.lin2, x_dst)
    msg = (a[ei[0]] - b[ei[1]]) * w[:, None]
    return pyg_scatter(msg, ei[1], n_dst, "sum") + lin_np(conv.lin3, x_dst)


@pytest.mark.parametrize("weighted", [False, True])
def test_leconv_matches_pyg_on_every_input_form(weighted):
    sg.manual_seed(0)
    conv = gnn.LEConv(F, 4).to("float64")
    randomize(conv)
    x = rand(N, F)
    w = np.random.default_rng(1).uniform(0.5, 2.0, E) if weighted else None
    want = leconv_np(conv, arr(x), arr(x), EI, np.ones(E) if w is None else w, N)
    for name, adj, ew in forms(w):
        np.testing.assert_allclose(arr(conv(x, adj, ew)), want, atol=1e-12, err_msg=name)


def test_leconv_bipartite_gradcheck_state_dict_repr_and_errors():
    sg.manual_seed(0)
    conv = gnn.LEConv((F, 2), 4).to("float64")
    assert list(conv.state_dict()) == ["lin1.weight", "lin1.bias", "lin2.weight",
                                       "lin3.weight", "lin3.bias"]
    assert repr(conv) == "LEConv((3, 2), 4)"
    keep = EI[1] < 5
    x_src, x_dst = rand(N, F, grad=True), rand(5, 2, seed=2, grad=True)
    w = sg.tensor(np.linspace(0.5, 2, int(keep.sum()))).requires_grad_(True)
    want = leconv_np(conv, arr(x_src), arr(x_dst), EI[:, keep], arr(w), 5)
    np.testing.assert_allclose(arr(conv((x_src, x_dst), EI[:, keep], w)), want, atol=1e-12)
    gradcheck_layer(conv, lambda a, b, c: conv((a, b), EI[:, keep], c), [x_src, x_dst, w])
    assert list(gnn.LEConv(F, 2, bias=False).state_dict()) == ["lin1.weight", "lin2.weight",
                                                               "lin3.weight"]
    with pytest.raises(ValueError, match="LEConv: expected `x_dst` with 2 features"):
        conv((x_src, rand(5, 3)), EI[:, keep])
    with pytest.raises(ValueError, match=r"LEConv: expected target features `x_dst`"):
        conv((x_src, None), EI[:, keep])
    with pytest.raises(ValueError, match=rf"LEConv: expected `edge_weight` with {E} rows"):
        gnn.LEConv(F, 4).to("float64")(rand(N, F), EI, sg.tensor(np.ones(E + 1)))


# ---- SimpleConv ------------------------------------------------------------------------------
def simple_np(x, ei, w, aggr, combine_root):
    out = pyg_scatter(x[ei[0]] * w[:, None], ei[1], x.shape[0], aggr)
    if combine_root == "sum":
        return out + x
    return np.concatenate([x, out], axis=1) if combine_root == "cat" else out


@pytest.mark.parametrize("aggr", ["sum", "mean", "max"])
@pytest.mark.parametrize("combine_root", [None, "sum", "cat"])
def test_simpleconv_matches_pyg_on_every_input_form(aggr, combine_root):
    conv = gnn.SimpleConv(aggr, combine_root)
    x = rand(N, F)
    w = np.random.default_rng(1).uniform(0.5, 2.0, E)
    want = simple_np(arr(x), EI, w, aggr, combine_root)
    for name, adj, ew in forms(w):
        np.testing.assert_allclose(arr(conv(x, adj, ew)), want, atol=1e-12, err_msg=name)
    unweighted = simple_np(arr(x), EI, np.ones(E), aggr, combine_root)
    for name, adj, _ in forms():
        np.testing.assert_allclose(arr(conv(x, adj)), unweighted, atol=1e-12, err_msg=name)


def test_simpleconv_self_loop_as_pyg_per_input_form():
    conv = gnn.SimpleConv(combine_root="self_loop")
    x = rand(N, F, grad=True)
    w = np.random.default_rng(1).uniform(0.5, 2.0, E)
    loops = np.tile(np.arange(N), (2, 1))
    # edge_index: PyG's add_self_loops appends a loop of weight 1 to every node (1 and 4 keep
    # their own loop too)
    want = simple_np(arr(x), np.concatenate([EI, loops], 1), np.concatenate([w, np.ones(N)]),
                     "sum", None)
    np.testing.assert_allclose(arr(conv(x, EI, sg.tensor(w))), want, atol=1e-12)
    # SparseTensor / Graph: PyG's set_diag replaces the loops by one of weight 1
    keep = EI[0] != EI[1]
    want = simple_np(arr(x), np.concatenate([EI[:, keep], loops], 1),
                     np.concatenate([w[keep], np.ones(N)]), "sum", None)
    for name, adj, ew in forms(w)[1:]:
        np.testing.assert_allclose(arr(conv(x, adj, ew)), want, atol=1e-12, err_msg=name)
    wt = sg.tensor(w).requires_grad_(True)
    assert gradcheck(lambda a, b: conv(a, EI, b), [x, wt])
    assert gradcheck(lambda a, b: gnn.SimpleConv("mean", "cat")(a, EI, b), [x, wt])


def test_simpleconv_state_dict_repr_and_errors():
    assert list(gnn.SimpleConv().state_dict()) == [] and repr(gnn.SimpleConv()) == "SimpleConv()"
    with pytest.raises(ValueError, match="SimpleConv: expected `combine_root` in"):
        gnn.SimpleConv(combine_root="max")
    x = rand(N, F)
    with pytest.raises(ValueError, match="SimpleConv: cannot use combine_root='self_loop' for "
                                         "bipartite"):
        gnn.SimpleConv(combine_root="self_loop")((x, rand(5, F)), EI[:, EI[1] < 5])
    with pytest.raises(TypeError, match="SimpleConv: expected floating `x`"):
        gnn.SimpleConv()(sg.tensor(np.ones((N, F), dtype=np.int64)), EI)


# ---- an NNConv model on MUTAG's edge labels (PyG's examples/mnist_nn_conv.py, small) --------
def test_nnconv_model_learns_mutag(data_root):
    """Two NNConv layers whose weights come from MUTAG's one-hot bond types, sum readout, a
    linear head: the training loss falls and the accuracy rises above the majority class."""
    from sparsegraph.datasets import TUDataset

    sg.manual_seed(0)
    ds = TUDataset("MUTAG", root=data_root, download=False)
    graphs = [ds[i] for i in range(len(ds))]
    hidden, d = 16, ds.num_edge_features
    assert d == 4
    convs = [gnn.NNConv(c, hidden, nn.Sequential(nn.Linear(d, 16), nn.ReLU(),
                                                 nn.Linear(16, c * hidden)), aggr="add")
             for c in (ds.num_features, hidden)]
    head = nn.Linear(hidden, 2)
    opt = sg.optim.Adam([p for m in (*convs, head) for p in m.parameters()], lr=0.01)

    def forward(g):
        x = g.x
        for conv in convs:
            x = sg.ops.elu(conv(x, g.edge_index, g.edge_attr))
        return head(gnn.global_add_pool(x, g.batch))

    before, losses, after = fit_graphs(forward, opt, graphs, 15)
    # the first epoch starts far off (sum readout): compare with the second
    assert losses[-1] < 0.5 * losses[1], losses  # the majority class is 66.5 %:
    assert after >= 0.78 and after > before + 0.1, (before, after)


# ---- shared invariants -----------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: gnn.LEConv(F, 4), lambda: gnn.SimpleConv("mean", "cat"),
    lambda: gnn.GENConv(F, 4, learn_t=True), lambda: gnn.CGConv(F, batch_norm=True),
], ids=["LEConv", "SimpleConv", "GENConv", "CGConv"])
def test_layers_are_order_invariant_and_permutation_equivariant(make):
    """check_conv: edge_index / CSR / COO agree, edge order and node numbering do not matter,
    float64 gradcheck over the features and every parameter."""
    x = sg.tensor(np.random.default_rng(3).standard_normal((N, F)).astype(np.float32))
    check_conv(make, x, EI)


def test_float64_features_for_float32_layers_are_refused_by_name():
    x = rand(N, F)  # float64
    for conv, args in ((gnn.NNConv(F, 2, nn.Linear(D, F * 2)), (EI, rand(E, D))),
                       (gnn.CGConv(F), (EI,)), (gnn.GENConv(F, 2), (EI,)),
                       (gnn.LEConv(F, 2), (EI,))):
        name = type(conv).__name__
        with pytest.raises(TypeError, match=f"{name}: expected `x` of dtype float32"):
            conv(x, *args)
