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
    """Dense GAT with edge features (EDGES has no self loops): node i's loop gets the mean
    feature of the edges pointing to i, 0 without any (PyG's fill_value="mean")."""
    h = (x @ array(conv.lin.weight).T).reshape(N, heads, f_out)
    a_src = (h * array(conv.att_src)).sum(-1)
    a_dst = (h * array(conv.att_dst)).sum(-1)
    src = np.concatenate([EDGES[0], np.arange(N)])
    dst = np.concatenate([EDGES[1], np.arange(N)])
    fill = np.stack([edge_attr[EDGES[1] == i].mean(0) if (EDGES[1] == i).any()
                     else np.zeros(edge_attr.shape[1]) for i in range(N)])
    attr = np.concatenate([edge_attr, fill])
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
    model = models.GIN(F_IN, 4, 2, 2).double()
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


# a bipartite block: 6 sources -> 3 targets (row = target)
BI_ROWS, BI_COLS = np.array([0, 0, 1, 2, 2]), np.array([0, 1, 2, 3, 4])


def bipartite():
    adj = sg.sparse_coo(np.stack([BI_ROWS, BI_COLS]), np.ones(5), (3, 6), dtype=sg.float64)
    dense = np.zeros((3, 6))
    dense[BI_ROWS, BI_COLS] = 1.0
    return adj, dense


def test_sage_accepts_a_pair_without_target_features_as_pyg():
    adj, dense = bipartite()
    x = features(6)
    conv = gnn.SAGEConv(F_IN, 2, aggr="sum", root_weight=False).double()
    lin = conv.lin_l
    expected = dense @ x.numpy() @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    np.testing.assert_allclose(conv((x, None), adj).detach().numpy(), expected, rtol=1e-12)


def test_a_custom_layer_with_x_j_only_accepts_a_pair_without_target_features():
    class SourceMax(gnn.MessagePassing):
        def message(self, x_j):
            return x_j

    adj, dense = bipartite()
    x = features(6).numpy()
    out = SourceMax(aggr="max").propagate(adj, (sg.tensor(x), None)).numpy()
    expected = np.stack([x[BI_COLS[BI_ROWS == i]].max(0) for i in range(3)])
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("make, what", [
    (lambda: gnn.SAGEConv(F_IN, 2), "the root weight"),
    (lambda: gnn.GraphConv(F_IN, 2), "the root term"),
    (lambda: gnn.GINConv(lambda h: h), r"the \(1 \+ eps\) \* x_i term"),
    (lambda: gnn.GATConv(F_IN, 2, add_self_loops=False), "the attention scores"),
])
def test_layers_that_need_target_features_say_x_dst_is_none(make, what):
    adj, _ = bipartite()
    with pytest.raises(ValueError, match=r"expected target features `x_dst` in the pair "
                                         rf"\(x_src, x_dst\) for {what}.*\(got None\)"):
        make().double()((features(6), None), adj)


def test_propagate_without_features_takes_node_counts_from_adj():
    class EdgeSum(gnn.MessagePassing):
        def message(self, edge_attr):
            return edge_attr

    adj, _ = bipartite()
    attr = np.arange(10.0).reshape(5, 2)  # in adj's (COO) entry order
    out = EdgeSum().propagate(adj, None, edge_attr=sg.tensor(attr)).numpy()
    expected = np.stack([attr[BI_ROWS == i].sum(0) for i in range(3)])
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(ValueError, match=r"EdgeSum: without node features \(`x` is None\) "
                                         r"expected `edge_index` as a SparseTensor or Graph"):
        EdgeSum().propagate(EDGES, None, edge_attr=sg.tensor(np.ones((5, 2))))


@pytest.mark.parametrize("requires_grad", [False, True])
def test_graph_conv_casts_edge_weights_to_the_features_dtype_like_gcn(requires_grad):
    x = features().float()
    w = sg.tensor(WEIGHTS, requires_grad=requires_grad)  # float64 weights, float32 features
    a = np.zeros((N, N))
    a[EDGES[1], EDGES[0]] = WEIGHTS
    conv = gnn.GraphConv(F_IN, 2)
    out = conv(x, EDGES, w)
    assert out.dtype == sg.float32
    w_rel, b_rel, w_root = (array(p) for p in (conv.lin_rel.weight, conv.lin_rel.bias,
                                               conv.lin_root.weight))
    expected = a @ x.numpy() @ w_rel.T + b_rel + x.numpy() @ w_root.T
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    gcn = gnn.GCNConv(F_IN, 2)
    assert gcn(x, EDGES, w).dtype == sg.float32
    if requires_grad:  # the cast is differentiable: the weights still get a gradient
        (out.sum() + gcn(x, EDGES, w).sum()).backward()
        assert w.grad is not None and w.grad.shape == (EDGES.shape[1],)


@pytest.mark.parametrize("make", [lambda: gnn.GCNConv(F_IN, 2), lambda: gnn.GraphConv(F_IN, 2)])
def test_edge_weight_and_x_errors_name_the_layer_and_argument(make):
    name = type(make()).__name__
    with pytest.raises(ValueError, match=rf"{name}: expected `edge_weight` of shape \(.*\), one "
                                         r"weight per edge \(got shape \(5, 2\)\)"):
        make()(features().float(), EDGES, sg.tensor(np.ones((5, 2), np.float32)))
    with pytest.raises(TypeError, match=rf"{name}: expected floating `x` features \(got dtype "
                                        r"int64\)"):
        make()(sg.tensor(np.ones((N, F_IN), np.int64)), EDGES)


@pytest.mark.parametrize("dropout", [-0.5, 2.0])
def test_appnp_refuses_a_dropout_outside_0_1_when_built(dropout):
    with pytest.raises(ValueError, match=rf"APPNP: expected `dropout` in \[0, 1\] \(got "
                                         rf"{dropout}\)"):
        gnn.APPNP(2, 0.1, dropout=dropout)


@pytest.mark.parametrize("model", [models.GCN, models.GraphSAGE, models.MLP])
@pytest.mark.parametrize("num_layers", [0, -1])
def test_models_refuse_fewer_than_one_layer(model, num_layers):
    with pytest.raises(ValueError, match=rf"{model.__name__}: expected `num_layers` to be an "
                                         rf"int >= 1 \(got {num_layers}\)"):
        model(4, 8, num_layers, 2)


def test_gat_takes_a_1d_edge_attr_as_one_feature_and_names_a_wrong_width():
    x = features()
    conv = gnn.GATConv(F_IN, 2, edge_dim=1).double()
    w = np.arange(1.0, 6.0)
    np.testing.assert_allclose(array(conv(x, EDGES, sg.tensor(w))),
                               array(conv(x, EDGES, sg.tensor(w[:, None]))), rtol=1e-12)
    with pytest.raises(ValueError, match=r"GATConv: expected `edge_attr` of shape \(E, 3\), "
                                         r"edge_dim features per edge \(got shape \(5, 2\)\)"):
        gnn.GATConv(F_IN, 2, edge_dim=3).double()(x, EDGES, sg.tensor(np.ones((5, 2))))
