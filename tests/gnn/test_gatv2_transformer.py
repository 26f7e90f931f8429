"""GATv2Conv and TransformerConv: values against dense numpy references of PyG's formulas,
attention normalisation, float64 gradients, a Cora run and the errors."""

import math

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.testing import check_conv, gradcheck, random_graph

N, F_IN, F_OUT, H = 6, 5, 3, 2
EDGES = random_graph(N, 14, seed=1)
EDGES_LOOP = np.concatenate([EDGES, [[2], [2]]], axis=1)  # one existing loop (replaced)


def _np(t):
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def _lin(lin, x):
    out = x @ _np(lin.weight).T
    return out if lin.bias is None else out + _np(lin.bias)


def _softmax_per_target(score, dst, n):
    """score (E, H) -> softmax over each target's edges."""
    out = np.zeros_like(score)
    for i in range(n):  # reference only: a loop over nodes is fine here
        m = dst == i
        if m.any():
            e = np.exp(score[m] - score[m].max(axis=0))
            out[m] = e / e.sum(axis=0)
    return out


def _aggregate(alpha, msg, dst, n):
    out = np.zeros((n,) + msg.shape[1:])
    np.add.at(out, dst, alpha[..., None] * msg)
    return out


def _gatv2_reference(conv, x, ei, ea=None):
    x_l = _lin(conv.lin_l, x).reshape(N, H, -1)
    x_r = _lin(conv.lin_r, x).reshape(N, H, -1)
    src, dst = ei
    if ea is not None:
        ea = ea.reshape(len(src), -1)
    if conv.add_self_loops:
        keep = src != dst
        src, dst = src[keep], dst[keep]
        if ea is not None:
            kept = ea[keep]
            fill = np.zeros((N, kept.shape[1]))
            for i in range(N):
                if (dst == i).any():
                    fill[i] = kept[dst == i].mean(axis=0)
            ea = np.concatenate([kept, fill])
        src, dst = np.concatenate([src, np.arange(N)]), np.concatenate([dst, np.arange(N)])
    z = x_l[src] + x_r[dst]
    if ea is not None:
        z = z + (ea @ _np(conv.lin_edge.weight).T).reshape(len(src), H, -1)
    z = np.where(z > 0, z, conv.negative_slope * z)
    alpha = _softmax_per_target((z * _np(conv.att)).sum(-1), dst, N)
    out = _aggregate(alpha, x_l[src], dst, N)
    out = out.reshape(N, -1) if conv.concat else out.mean(axis=1)
    if conv.res is not None:
        out = out + x @ _np(conv.res.weight).T
    return out + _np(conv.bias), alpha, np.stack([src, dst])


def _transformer_reference(conv, x, ei, ea=None):
    q = _lin(conv.lin_query, x).reshape(N, H, -1)
    k = _lin(conv.lin_key, x).reshape(N, H, -1)
    v = _lin(conv.lin_value, x).reshape(N, H, -1)
    src, dst = ei
    kj, vj = k[src], v[src]
    if ea is not None:
        e = (ea @ _np(conv.lin_edge.weight).T).reshape(len(src), H, -1)
        kj, vj = kj + e, vj + e
    alpha = _softmax_per_target((q[dst] * kj).sum(-1) / math.sqrt(q.shape[-1]), dst, N)
    out = _aggregate(alpha, vj, dst, N)
    out = out.reshape(N, -1) if conv.concat else out.mean(axis=1)
    if conv.root_weight:
        r = _lin(conv.lin_skip, x)
        if conv.lin_beta is not None:
            b = np.concatenate([out, r, out - r], axis=1) @ _np(conv.lin_beta.weight).T
            b = 1 / (1 + np.exp(-b))
            out = b * r + (1 - b) * out
        else:
            out = out + r
    return out, alpha


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("loops", [True, False])
@pytest.mark.parametrize("with_edges", [True, False])
def test_gatv2_matches_dense_reference(concat, loops, with_edges):
    sg.manual_seed(3)
    conv = gnn.GATv2Conv(F_IN, F_OUT, heads=H, concat=concat, add_self_loops=loops,
                         edge_dim=2 if with_edges else None, residual=True)
    sg.nn.init.normal_(conv.bias)
    x = np.random.default_rng(0).standard_normal((N, F_IN)).astype(np.float32)
    ea = (np.random.default_rng(1).standard_normal((EDGES_LOOP.shape[1], 2))
          .astype(np.float32) if with_edges else None)
    out, (ei, alpha) = conv(sg.tensor(x), EDGES_LOOP, edge_attr=None if ea is None
                            else sg.tensor(ea), return_attention_weights=True)
    want, want_alpha, want_ei = _gatv2_reference(conv, x.astype(np.float64), EDGES_LOOP, ea)
    np.testing.assert_allclose(_np(out), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(ei.numpy()), want_ei)  # PyG's edge order
    np.testing.assert_allclose(_np(alpha), want_alpha, rtol=1e-4, atol=1e-6)
    # the fused path (no attention output) gives the same result
    np.testing.assert_allclose(_np(conv(sg.tensor(x), EDGES_LOOP, edge_attr=None if ea is None
                                        else sg.tensor(ea))), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("concat", [True, False])
@pytest.mark.parametrize("beta", [True, False])
@pytest.mark.parametrize("with_edges", [True, False])
def test_transformer_matches_dense_reference(concat, beta, with_edges):
    sg.manual_seed(4)
    conv = gnn.TransformerConv(F_IN, F_OUT, heads=H, concat=concat, beta=beta,
                               edge_dim=3 if with_edges else None)
    x = np.random.default_rng(0).standard_normal((N, F_IN)).astype(np.float32)
    ea = (np.random.default_rng(1).standard_normal((EDGES.shape[1], 3)).astype(np.float32)
          if with_edges else None)
    kw = {} if ea is None else {"edge_attr": sg.tensor(ea)}
    out, (ei, alpha) = conv(sg.tensor(x), EDGES, return_attention_weights=True, **kw)
    want, want_alpha = _transformer_reference(conv, x.astype(np.float64), EDGES, ea)
    np.testing.assert_allclose(_np(out), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(ei.numpy()), EDGES)  # no loops: edges as given
    np.testing.assert_allclose(_np(alpha), want_alpha, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_np(conv(sg.tensor(x), EDGES, **kw)), want, rtol=1e-4,
                               atol=1e-5)


def test_transformer_without_root_weight_is_the_attention_sum():
    conv = gnn.TransformerConv(F_IN, F_OUT, heads=H, root_weight=False)
    x = np.random.default_rng(2).standard_normal((N, F_IN))
    want, _ = _transformer_reference(conv, x, EDGES)
    np.testing.assert_allclose(_np(conv(sg.tensor(x.astype(np.float32)), EDGES)), want,
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: gnn.GATv2Conv(F_IN, F_OUT, heads=3, edge_dim=2),
    lambda: gnn.TransformerConv(F_IN, F_OUT, heads=3, edge_dim=2),
])
def test_attention_sums_to_one_per_target(make):
    conv = make()
    x, ea = sg.randn(N, F_IN), sg.randn(EDGES.shape[1], 2)
    _, adj_alpha = conv(x, sg.from_edge_index(EDGES, N), edge_attr=ea,
                        return_attention_weights=True)
    sums = _np(adj_alpha.sum(dim=1))
    has_in = np.isin(np.arange(N), adj_alpha.structure.rows())
    np.testing.assert_allclose(sums[has_in], np.ones((has_in.sum(), 3)), rtol=1e-5)
    _, (ei, alpha) = conv(x, EDGES, edge_attr=ea, return_attention_weights=True)
    per_target = np.zeros((N, 3))
    np.add.at(per_target, np.asarray(ei.numpy())[1], _np(alpha))
    np.testing.assert_allclose(per_target[has_in], 1.0, rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: gnn.GATv2Conv(F_IN, F_OUT, heads=2),
    lambda: gnn.GATv2Conv(F_IN, F_OUT, heads=2, concat=False, share_weights=True),
    lambda: gnn.TransformerConv(F_IN, F_OUT, heads=2),
    lambda: gnn.TransformerConv(F_IN, F_OUT, heads=2, concat=False, beta=True),
])
def test_conv_invariants_and_gradcheck(make):
    check_conv(make, sg.randn(N, F_IN), EDGES)


@pytest.mark.parametrize("make", [
    lambda: gnn.GATv2Conv(F_IN, F_OUT, heads=2, edge_dim=2, residual=True),
    lambda: gnn.TransformerConv(F_IN, F_OUT, heads=2, edge_dim=2, beta=True),
])
def test_gradcheck_with_edge_features_float64(make):
    conv = make().to("float64")
    x = sg.randn(N, F_IN, dtype="float64", requires_grad=True)
    ea = sg.randn(EDGES.shape[1], 2, dtype="float64", requires_grad=True)
    assert gradcheck(lambda a, b, *ps: conv(a, EDGES, edge_attr=b),
                     [x, ea, *conv.parameters()])


@pytest.mark.parametrize("cls", [gnn.GATv2Conv, gnn.TransformerConv])
def test_bipartite_pair_matches_dense_rows(cls):
    sg.manual_seed(0)
    conv = cls((F_IN, 4), F_OUT, heads=2)
    x_src, x_dst = sg.randn(5, F_IN), sg.randn(3, 4)
    ei = np.array([[0, 1, 4, 2, 3], [0, 0, 1, 2, 2]])
    out = conv((x_src, x_dst), ei)
    assert out.shape == (3, 2 * F_OUT)
    adj = sg.sparse_coo(ei[::-1].copy(), None, (3, 5))  # (N_dst, N_src), target-major
    np.testing.assert_allclose(_np(conv((x_src, x_dst), adj)), _np(out), rtol=1e-5, atol=1e-6)


def test_share_weights_uses_one_linear():
    conv = gnn.GATv2Conv(F_IN, F_OUT, heads=2, share_weights=True)
    assert conv.lin_r is conv.lin_l
    assert len(list(conv.parameters())) == 4  # lin_l weight + bias, att, bias


def test_dropout_only_in_training():
    x = sg.randn(N, F_IN)
    for conv in (gnn.GATv2Conv(F_IN, F_OUT, heads=2, dropout=0.5),
                 gnn.TransformerConv(F_IN, F_OUT, heads=2, dropout=0.5)):
        conv.eval()
        a, b = conv(x, EDGES), conv(x, EDGES)
        np.testing.assert_array_equal(_np(a), _np(b))
        conv.train()
        sg.manual_seed(1)
        c = conv(x, EDGES)
        assert not np.allclose(_np(c), _np(a))


@pytest.mark.parametrize("cls", [gnn.GATv2Conv, gnn.TransformerConv])
def test_errors(cls):
    name = cls.__name__
    for heads in (0, 1.5, True):
        with pytest.raises(ValueError, match=f"{name}: expected `heads`"):
            cls(F_IN, F_OUT, heads=heads)
    with pytest.raises(ValueError, match=f"{name}: .*dropout"):
        cls(F_IN, F_OUT, dropout=1.5)
    conv = cls(F_IN, F_OUT)
    with pytest.raises(ValueError, match=f"{name}: got `edge_attr`.*edge_dim=None"):
        conv(sg.randn(N, F_IN), EDGES, edge_attr=sg.randn(EDGES.shape[1], 2))
    with pytest.raises(ValueError, match=f"{name}: expected `x` with {F_IN} features"):
        conv(sg.randn(N, F_IN + 1), EDGES)
    with pytest.raises(ValueError,
                       match=rf"{name}: expected `edge_index\[0\]` entries in \[0, 3\)"):
        conv(sg.randn(3, F_IN), EDGES)
    conv = cls(F_IN, F_OUT, edge_dim=2)
    with pytest.raises(ValueError, match=rf"{name}: expected `edge_attr` of shape \(E, 2\)"):
        conv(sg.randn(N, F_IN), EDGES, edge_attr=sg.randn(EDGES.shape[1], 3))
    with pytest.raises(ValueError, match=f"{name}: .*edge_attr"):
        conv(sg.randn(N, F_IN), EDGES, edge_attr=sg.randn(EDGES.shape[1] - 1, 2))


def test_gatv2_share_weights_needs_equal_channels():
    with pytest.raises(ValueError, match="GATv2Conv: share_weights=True needs equal"):
        gnn.GATv2Conv((4, 5), F_OUT, share_weights=True)


@pytest.mark.dataset
@pytest.mark.parametrize("cls", [gnn.GATv2Conv, gnn.TransformerConv])
def test_cora_training_beats_chance(cls, data_root):
    from sparsegraph.datasets import Planetoid

    g = Planetoid("cora", root=data_root, download=False, normalize_features=True)[0]
    sg.manual_seed(0)
    conv1, conv2 = cls(g.num_features, 8, heads=4), cls(32, 7, heads=1)
    params = list(conv1.parameters()) + list(conv2.parameters())
    opt = sg.optim.Adam(params, lr=0.01, weight_decay=5e-4)
    y = np.asarray(g.y.numpy())
    train, test = np.asarray(g.train_mask.numpy()), np.asarray(g.test_mask.numpy())
    for _ in range(30):
        opt.zero_grad()
        out = conv2(sg.ops.elu(conv1(g.x, g.adj)), g.adj)
        loss = sg.nn.functional.cross_entropy(out[sg.tensor(np.flatnonzero(train))],
                                              sg.tensor(y[train]))
        loss.backward()
        opt.step()
    pred = _np(out).argmax(axis=1)
    assert (pred[test] == y[test]).mean() > 0.6  # chance (majority class) is about 0.3


def test_transformer_with_edge_dim_needs_edge_attr_and_topk_names_a_dtype_mismatch():
    from sparsegraph.gnn import TopKPooling, TransformerConv

    ei = sg.tensor([[0, 1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match=r"TransformerConv: expected `edge_attr` \(E, 2\)"):
        TransformerConv(3, 2, edge_dim=2)(sg.randn(4, 3), ei)
    with pytest.raises(TypeError, match="TopKPooling: expected `attn` .* of dtype float32"):
        TopKPooling(3)(sg.randn(4, 3, dtype=sg.float64), ei)
