"""Layer inputs against dense numpy references: per-edge tensors in edge_index order, sparse
CSR features, and the errors a wrong input gets."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.gnn import models

N, F_IN = 5, 3
# not sorted by target (the CSR order): edge k is EDGES[0, k] -> EDGES[1, k]
EDGES = np.array([[0, 1, 2, 3, 4], [1, 0, 1, 4, 2]])
WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


def features(n=N, f=F_IN, seed=0):
    return sg.tensor(np.random.default_rng(seed).standard_normal((n, f)), dtype=sg.float64)


def array(t):
    return t.detach().numpy()


def weighted_adjacency():
    a = np.zeros((N, N))
    a[EDGES[1], EDGES[0]] = WEIGHTS  # row = target, column = source
    return a


def sparse_features(seed=0):
    dense = np.random.default_rng(seed).standard_normal((N, F_IN))
    dense[np.random.default_rng(seed + 1).random((N, F_IN)) < 0.5] = 0.0
    dense_t = sg.tensor(dense, dtype=sg.float64)
    return dense_t, dense_t.to_sparse()


# ---- per-edge tensors follow edge_index's column order --------------------------------------
def test_gcn_edge_weight_follows_edge_index_order():
    x = features()
    conv = gnn.GCNConv(F_IN, 2).double()
    a = weighted_adjacency() + np.eye(N)
    d = a.sum(axis=1) ** -0.5
    expected = (d[:, None] * a * d[None, :]) @ array(x) @ array(conv.lin.weight).T
    out = conv(x, EDGES, edge_weight=sg.tensor(WEIGHTS, dtype=sg.float64))
    np.testing.assert_allclose(array(out), expected + array(conv.bias), rtol=1e-10)


def test_graph_conv_edge_weight_follows_edge_index_order():
    x = features()
    conv = gnn.GraphConv(F_IN, 2).double()
    expected = array(conv.lin_rel(sg.tensor(weighted_adjacency() @ array(x))))
    expected = expected + array(x) @ array(conv.lin_root.weight).T
    out = conv(x, EDGES, edge_weight=sg.tensor(WEIGHTS, dtype=sg.float64))
    np.testing.assert_allclose(array(out), expected, rtol=1e-10)


def gat_reference(conv, x, edge_attr, heads, f_out):
    """Dense GAT with edge features: self loops filled with the mean edge feature."""
    h = (x @ array(conv.lin.weight).T).reshape(N, heads, f_out)
    a_src = (h * array(conv.att_src)).sum(-1)
    a_dst = (h * array(conv.att_dst)).sum(-1)
    src = np.concatenate([EDGES[0], np.arange(N)])
    dst = np.concatenate([EDGES[1], np.arange(N)])
    attr = np.concatenate([edge_attr, np.repeat(edge_attr.mean(0, keepdims=True), N, 0)])
    e = (attr @ array(conv.lin_edge.weight).T).reshape(-1, heads, f_out)
    score = a_src[src] + a_dst[dst] + (e * array(conv.att_edge)).sum(-1)
    score = np.where(score > 0, score, 0.2 * score)
    out = np.zeros((N, heads, f_out))
    for i in range(N):
        into = np.flatnonzero(dst == i)
        alpha = np.exp(score[into] - score[into].max(0))
        alpha /= alpha.sum(0)
        out[i] = (alpha[:, :, None] * h[src[into]]).sum(0)
    return out.reshape(N, heads * f_out) + array(conv.bias)


def test_gat_edge_attr_follows_edge_index_order():
    x = features()
    edge_attr = np.random.default_rng(1).standard_normal((EDGES.shape[1], 2))
    conv = gnn.GATConv(F_IN, 2, heads=2, edge_dim=2).double()
    out = conv(x, EDGES, edge_attr=sg.tensor(edge_attr, dtype=sg.float64))
    np.testing.assert_allclose(array(out), gat_reference(conv, array(x), edge_attr, 2, 2),
                               rtol=1e-10)


# ---- sparse CSR features --------------------------------------------------------------------
@pytest.mark.parametrize("aggr", ["max", "min", ["mean", "max"]])
def test_sage_with_sparse_features_equals_dense(aggr):
    dense, sparse = sparse_features()
    conv = gnn.SAGEConv(F_IN, 2, aggr=aggr).double()
    np.testing.assert_allclose(array(conv(sparse, EDGES)), array(conv(dense, EDGES)),
                               rtol=1e-10)


def test_gin_model_with_sparse_features_equals_dense():
    dense, sparse = sparse_features()
    batch = np.array([0, 0, 0, 1, 1])
    model = models.GIN(F_IN, 4, 2, num_layers=3).double()
    model.eval()
    np.testing.assert_allclose(array(model(sparse, EDGES, batch)),
                               array(model(dense, EDGES, batch)), rtol=1e-10)


@pytest.mark.parametrize("pool", [gnn.global_add_pool, gnn.global_mean_pool,
                                  gnn.global_max_pool])
def test_pooling_sparse_features_equals_dense(pool):
    dense, sparse = sparse_features()
    batch = np.array([0, 1, 0, 1, 1])
    np.testing.assert_allclose(array(pool(sparse, batch)), array(pool(dense, batch)),
                               rtol=1e-12)


# ---- GATConv's dropout and heads ------------------------------------------------------------
def test_gat_dropout_one_drops_every_attention_weight():
    conv = gnn.GATConv(F_IN, 2, heads=2, dropout=1.0).double()
    conv.bias.array[...] = [1.0, 2.0, 3.0, 4.0]
    conv.train()
    out = conv(features(), EDGES)  # nothing left to aggregate: the bias alone
    np.testing.assert_allclose(array(out), np.tile([1.0, 2.0, 3.0, 4.0], (N, 1)))


@pytest.mark.parametrize("dropout", [1.5, -0.1])
def test_gat_rejects_a_dropout_outside_0_1(dropout):
    with pytest.raises(ValueError, match=r"GATConv: expected `dropout` in \[0, 1\]"):
        gnn.GATConv(F_IN, 2, dropout=dropout)


def test_gat_rejects_zero_heads():
    with pytest.raises(ValueError, match="GATConv: expected `heads` to be an int >= 1"):
        gnn.GATConv(F_IN, 2, heads=0)


# ---- errors name the layer, the argument, what was expected and what was given -------------
@pytest.mark.parametrize("make", [
    lambda: gnn.GATConv(4, 2), lambda: gnn.SAGEConv(4, 2), lambda: gnn.ChebConv(4, 2, K=2),
    lambda: gnn.GraphConv(4, 2), lambda: gnn.SGConv(4, 2)])
def test_a_wrong_in_channels_is_named_by_the_layer(make):
    conv = make()
    name = type(conv).__name__
    with pytest.raises(ValueError, match=rf"{name}: expected `x` with 4 features.*\(got shape "
                                         rf"\(5, 3\)\)"):
        conv(features().float(), EDGES)


def test_sage_names_x_dst_when_the_pair_does_not_match_adj():
    adj = sg.from_edge_index(EDGES, N)
    with pytest.raises(ValueError, match=r"SAGEConv: expected `x_dst` .* with 5 rows to match "
                                         r"`adj` of shape \(5, 5\) \(got 2\)"):
        gnn.SAGEConv(F_IN, 2)((features().float(), features(2).float()), adj)


def test_a_bipartite_adj_with_one_x_asks_for_a_pair():
    adj = sg.sparse_csr([0, 1, 2], [0, 3], None, (2, N))
    with pytest.raises(ValueError, match=r"GINConv: .* pass the features as a pair"):
        gnn.GINConv(lambda h: h)(features().float(), adj)


def test_pool_names_size_and_batch():
    with pytest.raises(ValueError, match=r"global_add_pool: `batch` holds graph ids up to 3, "
                                         r"which needs `size` >= 4 \(got size=2\)"):
        gnn.global_add_pool(features(), np.array([0, 1, 2, 3, 3]), size=2)
    with pytest.raises(ValueError, match=r"global_mean_pool: expected graph ids >= 0"):
        gnn.global_mean_pool(features(), np.array([0, -1, 0, 1, 1]))
