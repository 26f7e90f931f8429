"""ARMAConv, MixHopConv, ClusterGCNConv, FiLMConv and RGCNConv against float64 numpy
transcriptions of PyG's forwards (torch_geometric/nn/conv/{arma,mixhop,cluster_gcn,film,
rgcn}_conv.py)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.testing import gradcheck

N = 6
# a duplicate edge (0->1 twice), a self loop (2->2), an isolated node (5)
EI = np.array([[0, 0, 1, 1, 2, 3, 0, 4, 3], [1, 2, 2, 3, 2, 4, 1, 0, 1]])
# four relations, relation 3 without edges
ET = np.array([0, 1, 0, 2, 1, 0, 0, 1, 2])
R = 4


def npy(t):
    return t.detach().numpy()


def dense(src, dst, w, n=N):
    m = np.zeros((n, n))
    np.add.at(m, (dst, src), w)
    return m


def pyg_gcn_norm(ei, w, add_loops):
    """PyG's gcn_norm: add_remaining_self_loops (an existing loop keeps its weight), then
    D^-1/2 over the target in-degree."""
    src, dst = ei
    if add_loops:
        loop_w = np.ones(N)
        is_loop = src == dst
        loop_w[src[is_loop]] = w[is_loop]
        src = np.concatenate([src[~is_loop], np.arange(N)])
        dst = np.concatenate([dst[~is_loop], np.arange(N)])
        w = np.concatenate([w[~is_loop], loop_w])
    deg = np.bincount(dst, w, N)
    with np.errstate(divide="ignore"):
        dis = np.where(deg > 0, deg ** -0.5, 0.0)
    return dense(src, dst, dis[src] * w * dis[dst])


def edge_forms(ei=EI, values=None):
    """The same edges as an edge_index, a COO SparseTensor in edge order and a Graph."""
    coo = sg.sparse_coo(np.stack([ei[1], ei[0]]), None if values is None else sg.tensor(values),
                        (N, N), dtype="float64" if values is None else None)
    return ei, coo, sg.Graph(edge_index=ei, num_nodes=N)


# ---- ARMA -----------------------------------------------------------------------------------

def pyg_arma(conv, x, w):
    m = pyg_gcn_norm(EI, w, add_loops=False)
    W0, Ws, Vs = npy(conv.init_weight), npy(conv.weight), npy(conv.root_weight)
    bs = None if conv.bias is None else npy(conv.bias)
    out = np.einsum("nf,kfo->kno", x, W0)
    for t in range(conv.num_layers):
        if t:
            out = out @ Ws[0 if conv.shared_weights else t - 1]
        out = np.einsum("ij,kjo->kio", m, out) + x[None] @ Vs[0 if conv.shared_weights else t]
        if bs is not None:
            out = out + bs[0 if conv.shared_weights else t]
        out = np.maximum(out, 0)
    return out.mean(0)


@pytest.mark.parametrize("K, T, shared", [(1, 1, False), (3, 2, False), (2, 3, True)])
@pytest.mark.parametrize("weighted", [False, True])
def test_arma_matches_pyg(K, T, shared, weighted):
    rng = np.random.default_rng(K + T)
    x = rng.standard_normal((N, 4))
    w = rng.uniform(0.5, 2.0, EI.shape[1]) if weighted else np.ones(EI.shape[1])
    conv = gnn.ARMAConv(4, 3, num_stacks=K, num_layers=T, shared_weights=shared).double()
    conv.bias.array[...] = rng.standard_normal(conv.bias.shape)
    T_ = 1 if shared else T
    assert conv.weight.shape == (max(1, T_ - 1), K, 3, 3)
    assert conv.root_weight.shape == (T_, K, 4, 3) and conv.bias.shape == (T_, K, 1, 3)
    got = conv(sg.tensor(x), EI, edge_weight=sg.tensor(w) if weighted else None)
    np.testing.assert_allclose(got.detach().numpy(), pyg_arma(conv, x, w), rtol=1e-10, atol=1e-12)


def test_arma_inputs_agree_gradcheck_and_repr():
    conv = gnn.ARMAConv(4, 3, num_stacks=2, num_layers=2).double()
    x = sg.randn(N, 4, dtype="float64", requires_grad=True)
    outs = [conv(x, e).detach().numpy() for e in edge_forms()]
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-12)
    np.testing.assert_allclose(outs[2], outs[0], atol=1e-12)
    gradcheck(lambda a, *ps: conv(a, EI), [x, *conv.parameters()])
    assert repr(conv) == "ARMAConv(4, 3, num_stacks=2, num_layers=2)"
    assert sorted(conv.state_dict()) == ["bias", "init_weight", "root_weight", "weight"]
    assert "bias" not in gnn.ARMAConv(4, 3, bias=False).state_dict()


def test_arma_dropout_only_in_training_and_errors():
    conv = gnn.ARMAConv(4, 3, dropout=0.5).double()
    x = sg.randn(N, 4, dtype="float64")
    conv.eval()
    np.testing.assert_array_equal(conv(x, EI).detach().numpy(), conv(x, EI).detach().numpy())
    conv.train()
    assert not np.allclose(conv(x, EI).detach().numpy(), conv(x, EI).detach().numpy())
    with pytest.raises(ValueError, match="ARMAConv: expected `num_stacks`"):
        gnn.ARMAConv(4, 3, num_stacks=0)
    with pytest.raises(ValueError, match="ARMAConv: expected `x` with 4 features"):
        gnn.ARMAConv(4, 3)(sg.randn(N, 5), EI)


# ---- MixHop ---------------------------------------------------------------------------------

@pytest.mark.parametrize("powers", [None, [0, 2], [3, 1]])
@pytest.mark.parametrize("loops", [True, False])
def test_mixhop_matches_pyg(powers, loops):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, 4))
    w = rng.uniform(0.5, 2.0, EI.shape[1])
    conv = gnn.MixHopConv(4, 3, powers=powers, add_self_loops=loops).double()
    p = powers or [0, 1, 2]
    conv.bias.array[...] = rng.standard_normal(3 * len(p))
    m = pyg_gcn_norm(EI, w, loops)
    want = np.concatenate([np.linalg.matrix_power(m, q) @ x @ npy(conv.lins[q].weight).T
                           for q in p], axis=1) + npy(conv.bias)
    got = conv(sg.tensor(x), EI, sg.tensor(w))
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    assert sorted(conv.state_dict()) == sorted(["bias"] + [f"lins.{q}.weight" for q in p])
    assert repr(conv) == f"MixHopConv(4, 3, powers={p})"


def test_mixhop_inputs_agree_gradcheck_and_errors():
    conv = gnn.MixHopConv(4, 2, powers=[0, 1, 2]).double()
    x = sg.randn(N, 4, dtype="float64", requires_grad=True)
    w = sg.tensor(np.random.default_rng(2).uniform(0.5, 2, EI.shape[1]), requires_grad=True)
    outs = [conv(x, e).detach().numpy() for e in edge_forms()]
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-12)
    np.testing.assert_allclose(outs[2], outs[0], atol=1e-12)
    gradcheck(lambda a, b, *ps: conv(a, EI, b), [x, w, *conv.parameters()])
    with pytest.raises(ValueError, match="MixHopConv: expected `powers`"):
        gnn.MixHopConv(4, 2, powers=[])
    with pytest.raises(ValueError, match="MixHopConv: expected `edge_weight` of shape"):
        conv(x, EI, sg.ones(3, dtype="float64"))


# ---- ClusterGCN -----------------------------------------------------------------------------

def pyg_cluster_gcn(conv, x, lam, loops):
    src, dst = EI
    if loops:
        keep = src != dst
        src = np.concatenate([src[keep], np.arange(N)])
        dst = np.concatenate([dst[keep], np.arange(N)])
    deg_inv = 1.0 / np.maximum(np.bincount(dst, minlength=N), 1)
    w = deg_inv[dst]
    w[src == dst] += lam * deg_inv[dst[src == dst]]
    h = dense(src, dst, w) @ x
    return (h @ npy(conv.lin_out.weight).T + npy(conv.lin_out.bias)
            + x @ npy(conv.lin_root.weight).T)


@pytest.mark.parametrize("lam", [0.0, 0.7])
@pytest.mark.parametrize("loops", [True, False])
def test_cluster_gcn_matches_pyg(lam, loops):
    x = np.random.default_rng(3).standard_normal((N, 4))
    conv = gnn.ClusterGCNConv(4, 3, diag_lambda=lam, add_self_loops=loops).double()
    for e in edge_forms():
        np.testing.assert_allclose(conv(sg.tensor(x), e).detach().numpy(),
                                   pyg_cluster_gcn(conv, x, lam, loops), rtol=1e-10,
                                   atol=1e-12)


def test_cluster_gcn_gradcheck_keys_repr():
    conv = gnn.ClusterGCNConv(4, 3, diag_lambda=0.5).double()
    x = sg.randn(N, 4, dtype="float64", requires_grad=True)
    gradcheck(lambda a, *ps: conv(a, EI), [x, *conv.parameters()])
    assert sorted(conv.state_dict()) == ["lin_out.bias", "lin_out.weight", "lin_root.weight"]
    assert repr(conv) == "ClusterGCNConv(4, 3, diag_lambda=0.5)"
    with pytest.raises(TypeError, match="ClusterGCNConv: expected `diag_lambda`"):
        gnn.ClusterGCNConv(4, 3, diag_lambda="1")


# ---- FiLM -----------------------------------------------------------------------------------

def pyg_film(conv, x, ei, et, aggr="mean"):
    F = conv.out_channels
    bg = x @ npy(conv.film_skip.weight).T
    out = np.maximum(bg[:, F:] * (x @ npy(conv.lin_skip.weight).T) + bg[:, :F], 0)
    for r in range(conv.num_relations):
        mask = et == r if conv.num_relations > 1 else np.ones(ei.shape[1], bool)
        src, dst = ei[:, mask]
        bg = x @ npy(conv.films[r].weight).T + npy(conv.films[r].bias)
        h = x @ npy(conv.lins[r].weight).T
        msg = np.maximum(bg[dst, F:] * h[src] + bg[dst, :F], 0)
        agg = np.zeros((N, F))
        np.add.at(agg, dst, msg)
        if aggr == "mean":
            agg /= np.maximum(np.bincount(dst, minlength=N), 1)[:, None]
        out = out + agg
    return out


@pytest.mark.parametrize("num_relations", [1, R])
@pytest.mark.parametrize("aggr", ["mean", "add"])
def test_film_matches_pyg(num_relations, aggr):
    x = np.random.default_rng(4).standard_normal((N, 4))
    conv = gnn.FiLMConv(4, 3, num_relations=num_relations, aggr=aggr).double()
    got = conv(sg.tensor(x), EI, ET if num_relations > 1 else None)
    np.testing.assert_allclose(got.detach().numpy(), pyg_film(conv, x, EI, ET, aggr), rtol=1e-10,
                               atol=1e-12)


def test_film_inputs_agree_gradcheck_keys():
    conv = gnn.FiLMConv(4, 3, num_relations=R).double()
    x = sg.randn(N, 4, dtype="float64", requires_grad=True)
    ei, coo, _ = edge_forms(values=ET)
    g = sg.Graph(edge_index=EI, num_nodes=N, edge_type=ET)
    want = conv(x, ei, ET).detach().numpy()
    np.testing.assert_allclose(conv(x, coo).detach().numpy(), want, atol=1e-12)
    np.testing.assert_allclose(conv(x, g).detach().numpy(), want, atol=1e-12)
    gradcheck(lambda a, *ps: conv(a, EI, ET), [x, *conv.parameters()])
    keys = set(conv.state_dict())
    assert {"lin_skip.weight", "film_skip.weight", "lins.3.weight", "films.3.weight",
            "films.3.bias"} <= keys and "film_skip.bias" not in keys
    assert repr(conv) == f"FiLMConv(4, 3, num_relations={R})"


def test_film_custom_nn_is_copied_per_relation():
    nn = sg.nn.Sequential(sg.nn.Linear(4, 6))
    conv = gnn.FiLMConv(4, 3, num_relations=2, nn=nn)
    assert conv.films[0] is not nn and conv.films[0][0].weight is not conv.films[1][0].weight
    assert conv(sg.randn(N, 4), EI, ET % 2).shape == (N, 3)


# ---- RGCN -----------------------------------------------------------------------------------

def pyg_rgcn(conv, x, ei, et, aggr="mean"):
    """PyG aggregates the raw features of a relation, then applies its weight."""
    W = npy(conv.relation_weights())
    out = x @ npy(conv.root) + npy(conv.bias)
    for r in range(conv.num_relations):
        src, dst = ei[:, et == r]
        agg = np.zeros((N, x.shape[1]))
        if aggr == "max":
            agg[:] = -np.inf
            np.maximum.at(agg, dst, x[src])
            agg[np.isinf(agg)] = 0
        else:
            np.add.at(agg, dst, x[src])
            if aggr == "mean":
                agg /= np.maximum(np.bincount(dst, minlength=N), 1)[:, None]
        if conv.num_blocks is not None:
            nb, fi, fo = W.shape[1:]
            out = out + np.einsum("abc,bcd->abd", agg.reshape(N, nb, fi), W[r]).reshape(N, -1)
        else:
            out = out + agg @ W[r]
    return out


@pytest.mark.parametrize("kw", [{}, {"num_bases": 2}, {"num_blocks": 2}],
                         ids=["plain", "bases", "blocks"])
@pytest.mark.parametrize("aggr", ["mean", "add", "max"])
def test_rgcn_matches_pyg(kw, aggr):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, 4))
    conv = gnn.RGCNConv(4, 6, R, aggr=aggr, **kw).double()
    conv.bias.array[...] = rng.standard_normal(6)
    np.testing.assert_allclose(conv(sg.tensor(x), EI, ET).detach().numpy(),
                               pyg_rgcn(conv, x, EI, ET, aggr), rtol=1e-10, atol=1e-12)


def test_rgcn_parameter_shapes_and_keys():
    assert gnn.RGCNConv(4, 6, R).weight.shape == (R, 4, 6)
    c = gnn.RGCNConv(4, 6, R, num_bases=3)
    assert c.weight.shape == (3, 4, 6) and c.comp.shape == (R, 3)
    c = gnn.RGCNConv(4, 6, R, num_blocks=2)
    assert c.weight.shape == (R, 2, 2, 3) and c.comp is None
    assert sorted(gnn.RGCNConv(4, 6, R, num_bases=3).state_dict()) == [
        "bias", "comp", "root", "weight"]
    assert sorted(gnn.RGCNConv((4, 5), 6, R, root_weight=False, bias=False).state_dict()) == [
        "weight"]
    assert gnn.RGCNConv((4, 5), 6, R).root.shape == (5, 6)
    assert repr(gnn.RGCNConv(4, 6, R)) == f"RGCNConv(4, 6, num_relations={R})"


def test_rgcn_featureless_is_identity_features_and_inputs_agree():
    conv = gnn.RGCNConv(N, 3, R).double()
    eye = sg.tensor(np.eye(N))
    want = conv(eye, EI, ET).detach().numpy()
    np.testing.assert_allclose(conv(None, EI, ET).detach().numpy(), want, atol=1e-12)
    np.testing.assert_allclose(conv(sg.arange(N), EI, ET).detach().numpy(), want, atol=1e-12)
    ei, coo, _ = edge_forms(values=ET)
    np.testing.assert_allclose(conv(eye, coo).detach().numpy(), want, atol=1e-12)
    g = sg.Graph(edge_index=EI, num_nodes=N, edge_type=ET)
    np.testing.assert_allclose(conv(eye, g).detach().numpy(), want, atol=1e-12)


def test_rgcn_gradcheck():
    x = sg.randn(N, 4, dtype="float64", requires_grad=True)
    for kw in ({}, {"num_bases": 2}, {"num_blocks": 2}):
        conv = gnn.RGCNConv(4, 2, R, **kw).double()
        gradcheck(lambda a, *ps, c=conv: c(a, EI, ET), [x, *conv.parameters()])
    conv = gnn.RGCNConv(N, 2, R).double()
    gradcheck(lambda *ps: conv(None, EI, ET), list(conv.parameters()))


@pytest.mark.parametrize("layer", ["rgcn", "film"])
def test_relational_errors(layer):
    conv = (gnn.RGCNConv(4, 3, R) if layer == "rgcn" else gnn.FiLMConv(4, 3, R))
    name = type(conv).__name__
    x = sg.randn(N, 4)
    with pytest.raises(ValueError, match=rf"{name}: expected `edge_type` entries in \[0, 4\)"):
        conv(x, EI, np.where(ET == 3, 0, ET) + (ET == 2) * 2)
    with pytest.raises(ValueError, match=rf"{name}: expected `edge_type` entries .* \(got -1\)"):
        conv(x, EI, ET - 1)
    with pytest.raises(ValueError, match=rf"{name}: expected `edge_type` of shape \(9,\)"):
        conv(x, EI, ET[:5])
    with pytest.raises(TypeError, match=rf"{name}: expected integer `edge_type`"):
        conv(x, EI, ET.astype(float))
    with pytest.raises(ValueError, match=rf"{name}: expected `edge_type` \(9,\)"):
        conv(x, EI)
    with pytest.raises(ValueError, match=rf"{name}: expected `edge_index\[1\]` entries"):
        conv(x, np.array([[0], [N]]), np.array([0]))


def test_rgcn_construction_errors():
    with pytest.raises(ValueError, match="RGCNConv: can not apply both"):
        gnn.RGCNConv(4, 6, R, num_bases=2, num_blocks=2)
    with pytest.raises(ValueError, match="RGCNConv: expected `num_blocks` to divide"):
        gnn.RGCNConv(4, 6, R, num_blocks=4)
    with pytest.raises(ValueError, match="RGCNConv: block-diagonal decomposition not"):
        gnn.RGCNConv(N, 6, R, num_blocks=2)(None, EI, ET)
    with pytest.raises(ValueError, match=r"RGCNConv: expected index `x` entries in \[0, 6\)"):
        gnn.RGCNConv(N, 6, R)(sg.tensor([0, 7]), EI, ET)


def test_rgcn_trains_on_a_typed_graph():
    """Two RGCN layers on featureless nodes: the label is whether a node has more in-edges of
    relation 0 than of relation 1 (a relational fact), fitted on the training nodes."""
    rng = np.random.default_rng(0)
    n, e = 60, 400
    ei = rng.integers(0, n, (2, e))
    et = rng.integers(0, 3, e)
    c0 = np.bincount(ei[1][et == 0], minlength=n)
    c1 = np.bincount(ei[1][et == 1], minlength=n)
    y = sg.tensor((c0 > c1).astype(np.int64))
    sg.manual_seed(0)
    l1, l2 = gnn.RGCNConv(n, 16, 3), gnn.RGCNConv(16, 2, 3)
    opt = sg.optim.Adam([*l1.parameters(), *l2.parameters()], lr=0.01)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        out = l2(sg.relu(l1(None, ei, et)), ei, et)
        loss = sg.nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    acc = (out.argmax(dim=1).numpy() == y.numpy()).mean()
    assert losses[-1] < 0.25 * losses[0] and acc > 0.9


def test_relational_pair_inputs():
    """A pair (x, x) is x; a bipartite pair maps N_src sources onto N_dst targets."""
    x = sg.randn(N, 4, dtype="float64")
    for conv in (gnn.RGCNConv(4, 3, R).double(), gnn.FiLMConv(4, 3, R).double()):
        np.testing.assert_allclose(conv((x, x), EI, ET).detach().numpy(),
                                   conv(x, EI, ET).detach().numpy(), atol=1e-12)
    ei, et = np.array([[0, 1, 2, 3], [0, 1, 1, 0]]), np.array([0, 1, 1, 0])
    xs, xd = np.random.default_rng(6).standard_normal((4, 5)), np.ones((2, 3))
    conv = gnn.RGCNConv((5, 3), 2, 2, aggr="add").double()
    w = npy(conv.weight)
    want = (np.stack([xs[0] @ w[0] + xs[3] @ w[0], xs[1] @ w[1] + xs[2] @ w[1]])
            + xd @ npy(conv.root) + npy(conv.bias))
    got = conv((sg.tensor(xs), sg.tensor(xd)), ei, et).detach().numpy()
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert gnn.FiLMConv((5, 3), 2, 2)((sg.randn(4, 5), sg.randn(2, 3)), ei, et).shape == (2, 2)
