"""Propagation returns a dense Tensor whatever the path, so sparse CSR features work with every
aggregation list (the fused sum/mean path used to return a SparseTensor that ops.cat refused)."""

import numpy as np
import pytest
import scipy.sparse as ssp

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.gnn import models
from sparsegraph.sparse import SparseTensor
from sparsegraph.testing import gradcheck
from tests.pyg_reference import pyg_aggregate

N, F_IN, F_OUT = 6, 4, 3
EI = np.array([[0, 1, 1, 2, 3, 0, 4, 5, 5], [1, 0, 2, 1, 1, 1, 1, 4, 4]])  # 5 -> 4 twice


def arr(t):
    return t.detach().numpy()


def sparse_features(dtype=np.float64, requires_grad=False, seed=0):
    c = ssp.random(N, F_IN, density=0.4, format="csr", dtype=dtype, random_state=seed)
    values = sg.tensor(c.data, requires_grad=requires_grad)
    return sg.sparse_csr(c.indptr, c.indices, values, (N, F_IN)), c.toarray()


def aggregate(x, reduce):
    return pyg_aggregate(x, EI, N, reduce)


def sage_reference(conv, x, aggrs):
    agg = np.concatenate([aggregate(x, a) for a in aggrs], axis=1)
    w_l, b_l, w_r = (arr(p) for p in (conv.lin_l.weight, conv.lin_l.bias, conv.lin_r.weight))
    return agg @ w_l.T + b_l + x @ w_r.T


@pytest.mark.parametrize("aggr", [["mean", "sum"], ["sum"], "mean", ["mean", "max"]])
def test_sage_aggregation_lists_with_sparse_features_match_numpy(aggr):
    xs, xd = sparse_features()
    conv = gnn.SAGEConv(F_IN, F_OUT, aggr=aggr).to("float64")
    out = conv(xs, EI)
    assert type(out) is sg.Tensor
    want = sage_reference(conv, xd, [aggr] if isinstance(aggr, str) else aggr)
    np.testing.assert_allclose(arr(out), want, rtol=1e-10, atol=1e-12)


def test_sparse_feature_values_get_gradients_through_the_fused_path():
    xs, _ = sparse_features(requires_grad=True)
    conv = gnn.SAGEConv(F_IN, F_OUT, aggr=["mean", "sum"]).to("float64")

    def run(values, *params):
        return conv(SparseTensor(xs.structure, values), EI)

    gradcheck(run, [xs.values, *conv.parameters()])


class Fused(gnn.MessagePassing):
    def forward(self, x, edge_index):
        return self.propagate(edge_index, x)


class Message(Fused):
    def message(self, x_j):
        return x_j


@pytest.mark.parametrize("make", [Fused, Message, lambda: Fused(aggr=["sum", "mean"]),
                                  lambda: gnn.APPNP(2, 0.1), lambda: gnn.APPNP(0, 0.1),
                                  lambda: gnn.GINConv(lambda h: h),
                                  lambda: gnn.GraphConv(F_IN, F_OUT).to("float64")],
                         ids=["fused", "message", "fused_list", "appnp", "appnp_k0", "gin",
                              "graph_conv"])
def test_propagation_of_sparse_features_is_dense_and_equals_dense_features(make):
    xs, xd = sparse_features()
    sg.manual_seed(0)
    out_sparse = make()(xs, EI)
    sg.manual_seed(0)
    out_dense = make()(sg.tensor(xd), EI)
    assert type(out_sparse) is sg.Tensor and type(out_dense) is sg.Tensor
    np.testing.assert_allclose(arr(out_sparse), arr(out_dense), rtol=1e-10, atol=1e-12)


def test_fused_sum_of_sparse_features_matches_numpy():
    xs, xd = sparse_features()
    np.testing.assert_allclose(arr(Fused(aggr=["sum", "mean"])(xs, EI)),
                               np.concatenate([aggregate(xd, "sum"), aggregate(xd, "mean")], 1),
                               rtol=1e-12)


def test_appnp_with_sparse_features_matches_numpy_and_gradcheck():
    xs, xd = sparse_features(requires_grad=True)
    a = np.zeros((N, N))
    np.add.at(a, (EI[1], EI[0]), 1.0)
    a += np.eye(N)
    d = a.sum(1) ** -0.5
    a_hat = d[:, None] * a * d[None, :]
    h = xd
    for _ in range(3):
        h = 0.8 * a_hat @ h + 0.2 * xd
    np.testing.assert_allclose(arr(gnn.APPNP(3, 0.2)(xs, EI)), h, rtol=1e-10, atol=1e-12)
    gradcheck(lambda v: gnn.APPNP(3, 0.2)(SparseTensor(xs.structure, v), EI), [xs.values])


def test_graphsage_model_with_a_sum_mean_list_on_cora_sparse_features(data_root):
    from sparsegraph.datasets import Planetoid

    g = Planetoid("cora", root=data_root, download=False)[0]
    assert isinstance(g.x, SparseTensor)
    model = models.GraphSAGE(g.num_features, 16, 2, 7, aggr=["mean", "sum"]).eval()
    out = model(g.x, g.adj)
    assert type(out) is sg.Tensor and out.shape == (g.num_nodes, 7)
    np.testing.assert_allclose(arr(out), arr(model(g.x.to_dense(), g.adj)), rtol=1e-4,
                               atol=1e-4)
