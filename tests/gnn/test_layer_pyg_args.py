"""PyG arguments of the layers: SGConv / APPNP ``edge_weight``, GATConv ``fill_value``,
``residual`` and PyG's ``return_attention_weights`` form; arrays as ``x`` refused by name.
Values against numpy references of PyG's formulas, gradients in float64."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.nn import Linear
from sparsegraph.sparse import sparse_coo
from sparsegraph.testing import gradcheck

N, F_IN = 5, 3
# unsorted, a self loop (2 -> 2), a duplicate (1 -> 0 twice), node 4 without in-edges
EI = np.array([[1, 0, 2, 3, 1, 2, 4, 0], [0, 1, 2, 1, 0, 3, 3, 3]])
W = np.array([0.5, 2.0, 1.5, 1.0, 0.7, 2.5, 0.3, 1.2])
REDUCE = {"add": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


def arr(t):
    return t.detach().numpy()


def features(n=N, f=F_IN, seed=0, grad=False):
    x = np.random.default_rng(seed).standard_normal((n, f))
    return sg.tensor(x, requires_grad=grad)


# ---- SGConv / APPNP edge_weight -----------------------------------------------------------------
def gcn_norm(ei, w, n, add_self_loops=True):
    """PyG's gcn_norm (add_remaining_self_loops: an existing loop keeps its weight) as a dense
    (N, N) target-major matrix."""
    src, dst, w = ei[0], ei[1], np.asarray(w, float)
    if add_self_loops:
        loop_w = np.ones(n)
        loop_w[src[src == dst]] = w[src == dst]
        keep = src != dst
        src = np.concatenate([src[keep], np.arange(n)])
        dst = np.concatenate([dst[keep], np.arange(n)])
        w = np.concatenate([w[keep], loop_w])
    deg = np.zeros(n)
    np.add.at(deg, dst, w)
    dis = np.zeros(n)
    dis[deg > 0] = deg[deg > 0] ** -0.5
    a = np.zeros((n, n))
    np.add.at(a, (dst, src), dis[src] * w * dis[dst])
    return a


@pytest.mark.parametrize("add_self_loops", [True, False])
def test_sgconv_edge_weight_matches_pyg(add_self_loops):
    x, w = features(grad=True), sg.tensor(W, requires_grad=True)
    conv = gnn.SGConv(F_IN, 2, K=2, add_self_loops=add_self_loops).to("float64")
    a = gcn_norm(EI, W, N, add_self_loops)
    want = a @ a @ arr(x) @ arr(conv.lin.weight).T + arr(conv.lin.bias)
    np.testing.assert_allclose(arr(conv(x, EI, w)), want, rtol=1e-12)
    np.testing.assert_allclose(arr(conv(x, EI, edge_weight=W)), want, rtol=1e-12)
    gradcheck(lambda a_, b_, *ps: conv(a_, EI, b_), [x, w, *conv.parameters()])


@pytest.mark.parametrize("normalize", [True, False])
def test_appnp_edge_weight_matches_pyg(normalize):
    x, w = features(grad=True), sg.tensor(W, requires_grad=True)
    if normalize:
        a = gcn_norm(EI, W, N)
    else:
        a = np.zeros((N, N))
        np.add.at(a, (EI[1], EI[0]), W)
    h = arr(x)
    for _ in range(3):
        h = 0.9 * a @ h + 0.1 * arr(x)
    conv = gnn.APPNP(3, 0.1, normalize=normalize)
    np.testing.assert_allclose(arr(conv(x, EI, w)), h, rtol=1e-12)
    gradcheck(lambda a_, b_: conv(a_, EI, b_), [x, w])


def test_edge_weight_of_the_wrong_shape_is_named():
    for make in (lambda: gnn.SGConv(F_IN, 2), lambda: gnn.APPNP(2, 0.1)):
        conv = make()
        with pytest.raises(ValueError, match=rf"{type(conv).__name__}: expected `edge_weight` "
                                             rf"of shape \(8,\)"):
            conv(features().float(), EI, sg.ones(3))


# ---- GATConv ------------------------------------------------------------------------------------
def gat_reference(conv, x, ei, edge_attr=None, x_dst=None):
    """PyG's GATConv: remove_self_loops, add_self_loops(fill_value), per-head softmax over
    each target's in-edges; returns ``(out, edge_index, alpha)`` in PyG's edge order."""
    H, C = conv.heads, conv.out_channels
    xd = x if x_dst is None else x_dst
    hs = (x @ arr(conv.lin.weight).T).reshape(-1, H, C)
    hd = hs if x_dst is None else (xd @ arr(conv.lin_dst.weight).T).reshape(-1, H, C)
    src, dst = ei
    ea = None if edge_attr is None else np.asarray(edge_attr, float)
    if conv.add_self_loops:
        keep, n = src != dst, min(x.shape[0], xd.shape[0])
        src, dst = src[keep], dst[keep]
        if ea is not None:
            ea, fill = ea[keep], conv.fill_value
            if isinstance(fill, str):
                loop = np.stack([REDUCE[fill](ea[dst == i], 0) if (dst == i).any()
                                 else np.zeros(ea.shape[1]) for i in range(n)])
            else:
                loop = np.zeros((n, ea.shape[1])) + (arr(fill) if hasattr(fill, "numpy")
                                                     else fill)
            ea = np.concatenate([ea, loop])
        src, dst = np.concatenate([src, np.arange(n)]), np.concatenate([dst, np.arange(n)])
    score = (hs * arr(conv.att_src)).sum(-1)[src] + (hd * arr(conv.att_dst)).sum(-1)[dst]
    if ea is not None:
        e = (ea @ arr(conv.lin_edge.weight).T).reshape(-1, H, C)
        score = score + (e * arr(conv.att_edge)).sum(-1)
    score = np.where(score > 0, score, conv.negative_slope * score)
    alpha = np.zeros_like(score)
    for i in np.unique(dst):
        s = score[dst == i]
        alpha[dst == i] = np.exp(s - s.max(0)) / np.exp(s - s.max(0)).sum(0)
    out = np.zeros((xd.shape[0], H, C))
    np.add.at(out, dst, alpha[:, :, None] * hs[src])
    out = out.reshape(-1, H * C) if conv.concat else out.mean(1)
    if conv.res is not None:
        out = out + xd @ arr(conv.res.weight).T
    if conv.bias is not None:
        out = out + arr(conv.bias)
    return out, np.stack([src, dst]), alpha


FILLS = ["mean", "add", "max", "min", 0.5, np.array([1.0, -2.0])]


@pytest.mark.parametrize("fill_value", FILLS, ids=[str(f) for f in FILLS])
def test_gat_fill_value_matches_pyg(fill_value):
    x, attr = features(), np.random.default_rng(1).standard_normal((EI.shape[1], 2))
    conv = gnn.GATConv(F_IN, 2, heads=2, edge_dim=2, fill_value=fill_value).to("float64")
    want, want_ei, want_alpha = gat_reference(conv, arr(x), EI, attr)
    out, (ei, alpha) = conv(x, EI, sg.tensor(attr), return_attention_weights=True)
    np.testing.assert_allclose(arr(out), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(arr(ei), want_ei)
    np.testing.assert_allclose(arr(alpha), want_alpha, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(arr(conv(x, EI, sg.tensor(attr))), want, rtol=1e-10, atol=1e-12)


def test_gat_fill_value_is_checked_when_built():
    for bad in ("mul", True, [[1.0]]):
        with pytest.raises(ValueError, match=r"GATConv: expected `fill_value`"):
            gnn.GATConv(F_IN, 2, fill_value=bad)


@pytest.mark.parametrize("values", [[1.0, 2.0, 3.0], [[1.0, 2.0]]], ids=["three", "2d"])
def test_gat_fill_tensor_of_the_wrong_length_is_refused_when_built(values):
    # not at the first forward with an elementwise broadcast error naming neither
    with pytest.raises(ValueError, match=r"GATConv: expected `fill_value`"):
        gnn.GATConv(F_IN, 2, edge_dim=2, fill_value=sg.tensor(values))
    with pytest.raises(ValueError, match=r"GATConv: expected `fill_value` with edge_dim=2 "
                                         r"values, one per edge feature \(got a Tensor of shape "
                                         r"\(3,\)\)"):
        gnn.GATConv(F_IN, 2, edge_dim=2, fill_value=sg.tensor([1.0, 2.0, 3.0]))
    x, attr = features(), sg.tensor(np.random.default_rng(1).standard_normal((EI.shape[1], 2)))
    for ok in (sg.tensor([1.0, -2.0]), sg.tensor(0.5), sg.tensor([0.5])):  # (D,) or broadcast
        conv = gnn.GATConv(F_IN, 2, edge_dim=2, fill_value=ok).to("float64")
        assert conv(x, EI, attr).shape == (x.shape[0], 2)


@pytest.mark.parametrize("concat", [True, False])
def test_gat_residual_matches_pyg_and_gradcheck(concat):
    x, attr = features(grad=True), sg.tensor(np.random.default_rng(2).standard_normal((8, 2)))
    conv = gnn.GATConv(F_IN, 3, heads=2, concat=concat, edge_dim=2, residual=True)
    conv = conv.to("float64")
    assert conv.res.weight.shape == ((6 if concat else 3), F_IN)
    want = gat_reference(conv, arr(x), EI, arr(attr))[0]
    np.testing.assert_allclose(arr(conv(x, EI, attr)), want, rtol=1e-10, atol=1e-12)
    gradcheck(lambda a, *ps: conv(a, EI, attr), [x, *conv.parameters()])
    fused = gnn.GATConv(F_IN, 3, heads=2, concat=concat, residual=True).to("float64")
    np.testing.assert_allclose(arr(fused(x, EI)), gat_reference(fused, arr(x), EI)[0],
                               rtol=1e-10, atol=1e-12)  # no edge_attr: the fused attention op


def test_gat_residual_on_a_bipartite_pair_uses_x_dst():
    ei = np.array([[0, 1, 3, 2, 4], [0, 0, 1, 1, 2]])
    xs, xd = features(5, 3, seed=3), features(3, 4, seed=4)
    conv = gnn.GATConv((3, 4), 2, heads=2, residual=True).to("float64")
    assert conv.res.weight.shape == (4, 4)
    want = gat_reference(conv, arr(xs), ei, x_dst=arr(xd))[0]
    np.testing.assert_allclose(arr(conv((xs, xd), ei)), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("add_self_loops", [True, False])
def test_gat_attention_weights_are_pygs_edge_index_and_alpha(add_self_loops):
    x = features(grad=True)
    conv = gnn.GATConv(F_IN, 2, heads=3, add_self_loops=add_self_loops).to("float64")
    out, (ei, alpha) = conv(x, EI, return_attention_weights=True)
    want, want_ei, want_alpha = gat_reference(conv, arr(x), EI)
    assert ei.dtype == np.int64 and alpha.shape == (want_ei.shape[1], 3)
    np.testing.assert_array_equal(arr(ei), want_ei)
    if not add_self_loops:
        np.testing.assert_array_equal(arr(ei), EI)  # the edges as given
    np.testing.assert_allclose(arr(alpha), want_alpha, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(arr(out), want, rtol=1e-10, atol=1e-12)
    gradcheck(lambda a: conv(a, EI, return_attention_weights=True)[1][1], [x])


def test_gat_attention_weights_of_a_sparse_input_are_a_sparse_tensor():
    ei = np.array([[1, 0, 2, 3, 2, 4], [0, 1, 2, 1, 3, 3]])  # no duplicates
    x = features()
    conv = gnn.GATConv(F_IN, 2, heads=2).to("float64")
    out, adj_alpha = conv(x, sparse_coo(ei[::-1].copy(), None, (N, N), dtype="float64"),
                          return_attention_weights=True)
    want, want_ei, want_alpha = gat_reference(conv, arr(x), ei)
    np.testing.assert_allclose(arr(out), want, rtol=1e-10, atol=1e-12)
    assert isinstance(adj_alpha, sg.SparseTensor) and adj_alpha.nnz == want_ei.shape[1]
    rows, cols = adj_alpha.structure.rows(), adj_alpha.structure.cols()
    where = {(int(s), int(d)): k for k, (s, d) in enumerate(want_ei.T)}
    got = arr(adj_alpha.values)
    for k, (r, c) in enumerate(zip(rows, cols, strict=True)):
        np.testing.assert_allclose(got[k], want_alpha[where[int(c), int(r)]], rtol=1e-10)


# ---- arrays as x --------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: gnn.GCNConv(F_IN, 2), lambda: gnn.SAGEConv(F_IN, 2), lambda: gnn.GATConv(F_IN, 2),
    lambda: gnn.GINConv(Linear(F_IN, 2)), lambda: gnn.GraphConv(F_IN, 2),
    lambda: gnn.SGConv(F_IN, 2), lambda: gnn.APPNP(2, 0.1), lambda: gnn.ChebConv(F_IN, 2, K=2),
])
def test_an_array_as_x_is_refused_naming_the_layer_and_x(make):
    conv = make()
    name = type(conv).__name__
    with pytest.raises(TypeError, match=rf"{name}: expected `x` to be a Tensor or a sparse CSR "
                                        r"SparseTensor \(got ndarray\)"):
        conv(np.ones((N, F_IN), np.float32), EI)
