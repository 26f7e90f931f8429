"""Layer invariants (PyG style) and gradient checks for every conv layer."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.nn import Linear, ReLU, Sequential
from sparsegraph.testing import check_conv, gradcheck, random_graph

N, F_IN, F_OUT = 6, 5, 3
EDGES = random_graph(N, 14, seed=1)

LAYERS = {
    "gcn": lambda: gnn.GCNConv(F_IN, F_OUT),
    "gcn_improved": lambda: gnn.GCNConv(F_IN, F_OUT, improved=True),
    "gcn_no_norm": lambda: gnn.GCNConv(F_IN, F_OUT, normalize=False, add_self_loops=False),
    "sage_mean": lambda: gnn.SAGEConv(F_IN, F_OUT),
    "sage_max": lambda: gnn.SAGEConv(F_IN, F_OUT, aggr="max"),
    "sage_sum_norm": lambda: gnn.SAGEConv(F_IN, F_OUT, aggr="sum", normalize=True),
    "sage_multi": lambda: gnn.SAGEConv(F_IN, F_OUT, aggr=["mean", "max"]),
    "gat": lambda: gnn.GATConv(F_IN, F_OUT, heads=2),
    "gat_mean_heads": lambda: gnn.GATConv(F_IN, F_OUT, heads=3, concat=False),
    "gin": lambda: gnn.GINConv(Sequential(Linear(F_IN, 4), ReLU(), Linear(4, F_OUT)),
                               train_eps=True),
    "graph_conv": lambda: gnn.GraphConv(F_IN, F_OUT),
    "graph_conv_mean": lambda: gnn.GraphConv(F_IN, F_OUT, aggr="mean"),
    "sgc": lambda: gnn.SGConv(F_IN, F_OUT, K=2),
    "cheb": lambda: gnn.ChebConv(F_IN, F_OUT, K=3),
    "cheb_rw": lambda: gnn.ChebConv(F_IN, F_OUT, K=2, normalization="rw"),
    "appnp": lambda: gnn.APPNP(K=3, alpha=0.2),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_invariants_and_gradcheck(name):
    x = sg.randn(N, F_IN)
    check_conv(LAYERS[name], x, EDGES)


def test_gat_with_edge_features_and_attention_weights():
    x = sg.randn(N, F_IN)
    edge_attr = sg.randn(EDGES.shape[1], 2)
    conv = gnn.GATConv(F_IN, F_OUT, heads=2, edge_dim=2)
    adj = sg.from_edge_index(EDGES, N)
    out, alpha = conv(x, adj, edge_attr=edge_attr, return_attention_weights=True)
    assert out.shape == (N, 2 * F_OUT)
    sums = np.asarray(alpha.sum(dim=1).detach())  # each target's attention sums to 1
    np.testing.assert_allclose(sums, np.ones((N, 2)), rtol=1e-5)
    conv64 = gnn.GATConv(F_IN, F_OUT, heads=2, edge_dim=2).to("float64")
    x64 = sg.randn(N, F_IN, dtype="float64", requires_grad=True)
    e64 = sg.randn(EDGES.shape[1], 2, dtype="float64", requires_grad=True)
    gradcheck(lambda a, b, *ps: conv64(a, adj, edge_attr=b), [x64, e64, *conv64.parameters()])


def test_gat_dropout_path_matches_fused_path_in_eval():
    x = sg.randn(N, F_IN)
    conv = gnn.GATConv(F_IN, F_OUT, heads=2, dropout=0.5)
    conv.eval()
    fused = conv(x, EDGES)
    explicit, _ = conv(x, EDGES, return_attention_weights=True)
    np.testing.assert_allclose(fused.detach().numpy(), explicit.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_gcn_matches_dense_formula():
    x = sg.randn(N, F_IN)
    conv = gnn.GCNConv(F_IN, F_OUT)
    a = np.zeros((N, N))
    a[EDGES[1], EDGES[0]] = 1
    a += np.eye(N)
    d = a.sum(1) ** -0.5
    expected = (d[:, None] * a * d[None, :]) @ (x.numpy() @ conv.lin.weight.detach().numpy().T)
    np.testing.assert_allclose(conv(x, EDGES).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_sparse_features_give_the_same_output_as_dense():
    dense = (sg.rand(N, F_IN) > 0.6).float()
    sparse = dense.to_sparse()
    conv = gnn.GCNConv(F_IN, F_OUT)
    np.testing.assert_allclose(conv(sparse, EDGES).detach().numpy(),
                               conv(dense, EDGES).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_bad_inputs_name_the_layer():
    conv = gnn.GCNConv(F_IN, F_OUT)
    with pytest.raises(ValueError, match="GCNConv: expected `x` with 5 features"):
        conv(sg.randn(N, 4), EDGES)
    with pytest.raises(ValueError, match=r"expected `edge_index\[0\]` entries in \[0, 3\)"):
        gnn.SAGEConv(F_IN, F_OUT)(sg.randn(3, F_IN), EDGES)
    with pytest.raises(ValueError, match="aggr"):
        gnn.SAGEConv(F_IN, F_OUT, aggr="median")


def test_pooling_matches_numpy():
    x = sg.randn(7, 3)
    batch = np.array([0, 0, 1, 1, 1, 2, 2])
    xn = x.numpy()
    for pool, ref in ((gnn.global_add_pool, np.sum), (gnn.global_mean_pool, np.mean),
                      (gnn.global_max_pool, np.max)):
        out = pool(x, sg.tensor(batch)).numpy()
        expected = np.stack([ref(xn[batch == g], axis=0) for g in range(3)])
        np.testing.assert_allclose(out, expected, rtol=1e-6)
    xg = sg.randn(7, 3, dtype="float64", requires_grad=True)
    for pool in (gnn.global_add_pool, gnn.global_mean_pool, gnn.global_max_pool):
        gradcheck(lambda t, pool=pool: pool(t, batch), [xg])
