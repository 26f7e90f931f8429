"""SAGEConv and GINConv ignore the adjacency's values, as PyG's (``adj_t.set_value(None)``): a
weighted SparseTensor, a weighted Graph and the plain edge_index give the same result, the
unweighted formula; mini-batch blocks and layer-wise inference agree with it."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.gnn import NeighborLoader, models
from sparsegraph.graph import Graph
from sparsegraph.nn import Linear
from sparsegraph.sparse import sparse_coo
from sparsegraph.testing import random_graph
from tests.pyg_reference import pyg_aggregate

N, F_IN, F_OUT = 6, 3, 2
EI = np.array([[0, 1, 2, 3, 3, 4, 5, 5], [1, 2, 1, 0, 2, 1, 4, 4]])  # 5 -> 4 twice
W = np.array([0.5, 2.0, 3.0, 1.0, 0.7, 2.5, 4.0, 0.1])


def arr(t):
    return t.detach().numpy()


def aggregate(x, reduce):
    return pyg_aggregate(x, EI, N, reduce)


def weighted_inputs():
    """The same weighted graph as a COO SparseTensor, a CSR one and a Graph."""
    coo = sparse_coo(EI[::-1].copy(), sg.tensor(W), (N, N))
    graph = Graph(x=sg.zeros(N, F_IN, dtype=sg.float64), edge_index=EI, edge_weight=W)
    return {"coo": coo, "csr": coo.to_csr(), "graph": graph}


@pytest.mark.parametrize("aggr", ["mean", "sum", "max", ["mean", "sum"]])
def test_sage_ignores_edge_weights_like_pyg(aggr):
    x = sg.tensor(np.random.default_rng(0).standard_normal((N, F_IN)))
    conv = gnn.SAGEConv(F_IN, F_OUT, aggr=aggr).to("float64")
    aggrs = [aggr] if isinstance(aggr, str) else aggr
    agg = np.concatenate([aggregate(arr(x), a) for a in aggrs], axis=1)
    want = (agg @ arr(conv.lin_l.weight).T + arr(conv.lin_l.bias)
            + arr(x) @ arr(conv.lin_r.weight).T)
    np.testing.assert_allclose(arr(conv(x, EI)), want, rtol=1e-12)
    for name, adj in weighted_inputs().items():
        np.testing.assert_allclose(arr(conv(x, adj)), want, rtol=1e-12, err_msg=name)


def test_gin_ignores_edge_weights_like_pyg():
    x = sg.tensor(np.random.default_rng(1).standard_normal((N, F_IN)))
    conv = gnn.GINConv(Linear(F_IN, F_OUT), eps=0.25).to("float64")
    h = aggregate(arr(x), "sum") + 1.25 * arr(x)
    want = h @ arr(conv.nn.weight).T + arr(conv.nn.bias)
    np.testing.assert_allclose(arr(conv(x, EI)), want, rtol=1e-12)
    for name, adj in weighted_inputs().items():
        np.testing.assert_allclose(arr(conv(x, adj)), want, rtol=1e-12, err_msg=name)


def test_weights_that_require_grad_get_none_from_sage_and_gin():
    x = sg.tensor(np.random.default_rng(2).standard_normal((N, F_IN)))
    w = sg.tensor(W, requires_grad=True)
    adj = sparse_coo(EI[::-1].copy(), w, (N, N))
    for conv in (gnn.SAGEConv(F_IN, F_OUT).to("float64"),
                 gnn.GINConv(Linear(F_IN, F_OUT)).to("float64")):
        conv(x, adj).sum().backward()
        assert w.grad is None


def test_graph_conv_still_weights_its_messages():
    x = sg.tensor(np.random.default_rng(3).standard_normal((N, F_IN)))
    conv = gnn.GraphConv(F_IN, F_OUT).to("float64")
    assert not np.allclose(arr(conv(x, weighted_inputs()["coo"])), arr(conv(x, EI)))


@pytest.mark.parametrize("aggr", ["mean", "sum"])
def test_graphsage_on_a_weighted_graph_full_blocks_and_inference_agree(aggr):
    rng = np.random.default_rng(1)
    ei = random_graph(80, 400, seed=2)
    x = rng.standard_normal((80, 5)).astype(np.float32)
    weighted = Graph(x=x, edge_index=ei, edge_weight=rng.random(ei.shape[1]) * 3)
    plain = Graph(x=x, edge_index=ei)
    model = models.GraphSAGE(5, 8, 2, 3, aggr=aggr).eval()
    full = arr(model(plain.x, plain.adj))
    np.testing.assert_allclose(arr(model(weighted.x, weighted.adj)), full, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(arr(model.inference(weighted.x, weighted.adj, 16)), full,
                               rtol=1e-5, atol=1e-6)
    for batch in NeighborLoader(weighted, [-1, -1], 20, seed=0):
        np.testing.assert_allclose(arr(model(batch.x, batch.blocks)),
                                   full[batch.n_id[:batch.batch_size]], rtol=1e-5, atol=1e-6)
