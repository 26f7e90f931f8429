"""Fixes from the PyG-tutorials audit: feature sizes checked by the layer (PyG's lazy -1
refused by name), global pooling with batch=None as one graph, and PyG's layer reprs."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.gnn import models
from sparsegraph.nn import Linear, ReLU, Sequential
from tests.pyg_reference import pyg_scatter

LAZY = r"lazy sizing \(-1\) is not supported"


# ---- F3: sizes are checked, and named, by the layer ------------------------------------------
@pytest.mark.parametrize("name, make", [
    ("GCNConv", lambda: gnn.GCNConv(-1, 16)),
    ("SGConv", lambda: gnn.SGConv(-1, 16, K=2)),
    ("ChebConv", lambda: gnn.ChebConv(-1, 16, K=2)),
    ("GATConv", lambda: gnn.GATConv(-1, 4, heads=2)),
    ("GATConv", lambda: gnn.GATConv((-1, -1), 4)),
    ("GATConv", lambda: gnn.GATConv((3, -1), 4)),
    ("SAGEConv", lambda: gnn.SAGEConv(-1, 16)),
    ("SAGEConv", lambda: gnn.SAGEConv((-1, -1), 16)),
    ("GraphConv", lambda: gnn.GraphConv(-1, 16)),
    ("GraphConv", lambda: gnn.GraphConv((-1, 3), 16)),
])
def test_lazy_in_channels_is_refused_by_the_layer(name, make):
    with pytest.raises(ValueError, match=rf"^{name}: expected `in_channels` to be a positive "
                                         rf"int.*\(got .*-1.*; {LAZY}") as err:
        make()
    assert "Linear" not in str(err.value)


@pytest.mark.parametrize("make, message", [
    (lambda: gnn.GCNConv(16, -2), r"GCNConv: expected `out_channels` to be a positive int "
                                  r"\(got -2\)$"),
    (lambda: gnn.GCNConv(0, 2), r"GCNConv: expected `in_channels` to be a positive int "
                                r"\(got 0\)$"),
    (lambda: gnn.SGConv(2.5, 2), r"SGConv: expected `in_channels` .* \(got 2.5\)$"),
    (lambda: gnn.ChebConv(3, 0, K=2), r"ChebConv: expected `out_channels` .* \(got 0\)$"),
    (lambda: gnn.SAGEConv(True, 2), r"SAGEConv: expected `in_channels` to be a positive int "
                                    r"or a pair \(F_src, F_dst\) of them \(got True\)$"),
    (lambda: gnn.SAGEConv((3, 3, 3), 2), r"SAGEConv: expected `in_channels` .* "
                                         r"\(got \(3, 3, 3\)\)$"),
    (lambda: gnn.GraphConv(3, None), r"GraphConv: expected `out_channels` .* \(got None\)$"),
    (lambda: gnn.GATConv("16", 2), r"GATConv: expected `in_channels` .* \(got '16'\)$"),
    (lambda: gnn.GATConv(3, 2, edge_dim=0), r"GATConv: expected `edge_dim` to be a positive "
                                            r"int \(got 0\)$"),
    (lambda: gnn.GINConv(None), r"GINConv: expected `nn` to be a callable Module"),
    (lambda: gnn.APPNP(-1, 0.1), r"APPNP: expected `K` to be an int >= 0 \(got -1\)"),
    (lambda: gnn.APPNP(2, 1.5), r"APPNP: expected `alpha` in \[0, 1\] \(got 1.5\)"),
])
def test_an_invalid_size_is_named_by_the_layer(make, message):
    with pytest.raises((ValueError, TypeError), match=message) as err:
        make()
    assert "Linear" not in str(err.value) and "lazy" not in str(err.value)


@pytest.mark.parametrize("name, make, arg", [
    ("GCN", lambda: models.GCN(-1, 16, 2, 3), "in_channels"),
    ("GCN", lambda: models.GCN(5, 0, 2, 3), "hidden_channels"),
    ("GAT", lambda: models.GAT(-1, 8, 2, 3), "in_channels"),
    ("GAT", lambda: models.GAT(5, -1, 2, 3), "hidden_channels"),
    ("GAT", lambda: models.GAT(5, 8, 2, -3), "out_channels"),
    ("GraphSAGE", lambda: models.GraphSAGE(np.int64(-1), 16, 2, 3), "in_channels"),
    ("SGC", lambda: models.SGC(-1, 3), "in_channels"),
    ("SGC", lambda: models.SGC(5, 0), "out_channels"),
    ("APPNP", lambda: models.APPNP(-1, 16, 2, 3), "in_channels"),
    ("MLP", lambda: models.MLP(5, 16, 2, 0), "out_channels"),
    ("GIN", lambda: models.GIN(-1, 16, 4, 3), "in_channels"),
])
def test_an_invalid_size_is_named_by_the_model(name, make, arg):
    with pytest.raises(ValueError, match=rf"^{name}: expected `{arg}` to be a positive int"):
        make()


def test_gat_model_checks_heads_before_sizing_its_layers():
    with pytest.raises(ValueError, match=r"^GAT: expected `heads` to be an int >= 1 \(got 0\)"):
        models.GAT(5, 8, 2, 3, heads=0)
    with pytest.raises(ValueError, match=r"^GAT: expected `out_heads` to be an int >= 1"):
        models.GAT(5, 8, 2, 3, out_heads=0)


def test_valid_sizes_are_plain_ints_and_a_list_pair_acts_as_a_tuple():
    conv = gnn.GCNConv(np.int64(3), np.int32(2))
    assert type(conv.in_channels) is int and repr(conv) == "GCNConv(3, 2)"
    sg.manual_seed(0)
    from_list = gnn.SAGEConv([3, 4], 2).double()
    sg.manual_seed(0)
    from_tuple = gnn.SAGEConv((3, 4), 2).double()
    assert from_list.in_channels == (3, 4)
    x = (sg.randn(5, 3, dtype="float64"), sg.randn(2, 4, dtype="float64"))
    adj = sg.sparse_csr([0, 2, 3], [0, 4, 1], None, (2, 5))
    np.testing.assert_array_equal(from_list(x, adj).detach().numpy(),
                                  from_tuple(x, adj).detach().numpy())


# ---- F4: batch=None is one graph -------------------------------------------------------------
POOLS = {"sum": gnn.global_add_pool, "mean": gnn.global_mean_pool, "max": gnn.global_max_pool}


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_pool_without_batch_is_one_graph(reduce):
    x = sg.randn(6, 3, dtype="float64")
    out = POOLS[reduce](x)
    expected = getattr(np, reduce)(x.numpy(), axis=0, keepdims=True)
    assert out.shape == (1, 3)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    np.testing.assert_array_equal(POOLS[reduce](x, size=1).numpy(), out.numpy())


def test_pool_without_batch_of_an_empty_x_is_one_row_as_pyg():
    x = sg.zeros(0, 3, requires_grad=True)
    total = gnn.global_add_pool(x)  # PyG: x.sum(dim=0, keepdim=True)
    assert total.shape == (1, 3) and total.dtype == x.dtype
    np.testing.assert_array_equal(total.detach().numpy(), np.zeros((1, 3)))
    total.sum().backward()
    assert x.grad.shape == (0, 3)
    mean = gnn.global_mean_pool(sg.zeros(0, 3))  # PyG: x.mean(dim=0, keepdim=True), NaN
    assert mean.shape == (1, 3) and np.isnan(mean.numpy()).all()
    with pytest.raises(ValueError, match=r"global_max_pool: the max of an empty `x` "
                                         r"\(0 nodes, batch=None\) is undefined"):
        gnn.global_max_pool(sg.zeros(0, 3))


@pytest.mark.parametrize("size", [0, 2, 1.0, True])
def test_pool_without_batch_takes_size_one_only(size):
    with pytest.raises(ValueError, match=r"global_add_pool: with batch=None every node is in "
                                         r"one graph, so `size` must be 1 or None"):
        gnn.global_add_pool(sg.randn(4, 2), size=size)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("batch", [[0, 0, 2, 2, 2, 5], [5, 2, 0, 2, 0, 2], []])
def test_pool_with_batch_and_size_matches_pyg_scatter(reduce, batch):
    batch = np.array(batch, dtype=np.int64)
    x = sg.randn(len(batch), 3, dtype="float64")
    size = 8  # graphs 1, 3, 4, 6, 7 (all of them for the empty batch) have no nodes: 0
    out = POOLS[reduce](x, sg.tensor(batch), size=size)
    np.testing.assert_allclose(out.numpy(), pyg_scatter(x.numpy(), batch, size, reduce),
                               rtol=1e-12)
    if batch.size:
        np.testing.assert_allclose(POOLS[reduce](x, batch).numpy(),
                                   pyg_scatter(x.numpy(), batch, 6, reduce), rtol=1e-12)


# ---- F5: PyG's reprs -------------------------------------------------------------------------
@pytest.mark.parametrize("make, expected", [
    (lambda: gnn.SAGEConv(16, 32), "SAGEConv(16, 32, aggr=mean)"),
    (lambda: gnn.SAGEConv((16, 8), 32, aggr="max"), "SAGEConv((16, 8), 32, aggr=max)"),
    (lambda: gnn.SAGEConv(16, 32, aggr="add"), "SAGEConv(16, 32, aggr=add)"),
    (lambda: gnn.SAGEConv(16, 32, aggr=["mean", "max"]),
     "SAGEConv(16, 32, aggr=['mean', 'max'])"),
    (lambda: gnn.SAGEConv(16, 32, aggr=("mean", "max")),  # PyG keeps a list of names
     "SAGEConv(16, 32, aggr=['mean', 'max'])"),
    (lambda: gnn.GCNConv(16, 32), "GCNConv(16, 32)"),
    (lambda: gnn.SGConv(16, 32, K=2), "SGConv(16, 32, K=2)"),
    (lambda: gnn.GATConv(16, 8, heads=8), "GATConv(16, 8, heads=8)"),
    (lambda: gnn.GATConv((16, 4), 8), "GATConv((16, 4), 8, heads=1)"),
    (lambda: gnn.GraphConv(16, 32, aggr="mean"), "GraphConv(16, 32)"),
    (lambda: gnn.ChebConv(16, 32, K=3), "ChebConv(16, 32, K=3, normalization=sym)"),
    (lambda: gnn.ChebConv(16, 32, K=1, normalization=None),
     "ChebConv(16, 32, K=1, normalization=None)"),
    (lambda: gnn.APPNP(K=10, alpha=0.1), "APPNP(K=10, alpha=0.1)"),
])
def test_layer_reprs_are_pygs(make, expected):
    assert repr(make()) == expected


def test_gin_repr_shows_its_nn_and_models_nest_the_layer_reprs():
    mlp = Sequential(Linear(3, 4), ReLU())
    assert repr(gnn.GINConv(mlp)) == f"GINConv(nn={mlp!r})"
    assert "(0): SAGEConv(3, 16, aggr=mean)" in repr(models.GraphSAGE(3, 16, 2, 2))


def test_gin_eps_is_float32_whatever_number_type_is_given():
    """A numpy float64 eps must not make eps (and so the layer's output) float64."""
    for train_eps in (False, True):
        conv = gnn.GINConv(sg.nn.Linear(3, 2), eps=np.float64(0.1), train_eps=train_eps)
        assert conv.eps.dtype == np.float32
        out = conv(sg.ones(4, 3), np.array([[0, 1, 2], [1, 2, 3]]))
        assert out.dtype == np.float32


# ---- channel types: TypeError for a non-int, ValueError for an int out of range ----------------
@pytest.mark.parametrize("make, error", [
    (lambda: gnn.GCNConv(4.0, 4), TypeError),  # as Linear's own check did before the layer's
    (lambda: gnn.GCNConv(4, "4"), TypeError),
    (lambda: gnn.SAGEConv(True, 2), TypeError),
    (lambda: gnn.SAGEConv((3, 2.0), 2), TypeError),
    (lambda: models.GCN(4.0, 8, 2, 2), TypeError),
    (lambda: gnn.GCNConv(0, 4), ValueError),
    (lambda: gnn.SAGEConv((3, 3, 3), 2), ValueError),
    (lambda: gnn.SAGEConv((3, 0), 2), ValueError),
])
def test_a_channel_of_the_wrong_type_is_a_type_error_and_a_bad_int_a_value_error(make, error):
    with pytest.raises(error, match=r"expected `\w+_channels` to be a positive int"):
        make()


def test_numpy_int_channels_are_plain_ints():
    conv = gnn.SAGEConv((np.int64(3), np.int32(2)), np.int64(4))
    assert repr(conv) == "SAGEConv((3, 2), 4, aggr=mean)"


# ---- an empty-list edge_index: no edges, in every layer as in Graph -----------------------------
@pytest.mark.parametrize("make", [
    lambda: gnn.GCNConv(2, 3), lambda: gnn.GATConv(2, 3), lambda: gnn.SAGEConv(2, 3),
    lambda: gnn.GraphConv(2, 3), lambda: gnn.ChebConv(2, 3, K=2),
])
def test_a_layer_takes_an_empty_list_edge_index_as_graph_does(make):
    x = sg.tensor(np.random.default_rng(0).standard_normal((3, 2)), dtype="float32")
    conv = make()
    out = conv(x, [[], []])
    want = conv(x, np.zeros((2, 0), np.int64))
    assert out.shape == (3, 3) and sg.Graph(edge_index=[[], []], num_nodes=3).num_edges == 0
    np.testing.assert_array_equal(out.detach().numpy(), want.detach().numpy())


def test_an_empty_float_array_edge_index_is_still_refused():
    x = sg.ones(3, 2)
    with pytest.raises(ValueError, match=r"GCNConv: expected `edge_index` as a SparseTensor or an "
                                         r"integer edge_index of shape \(2, E\) \(got float64"):
        gnn.GCNConv(2, 3)(x, np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"GCNConv: expected `edge_index` to be a rectangular "
                                         r"array of integers \(got a ragged list"):
        gnn.GCNConv(2, 3)(x, [[0, 1], [1]])


def test_a_target_to_source_layer_takes_an_empty_list_edge_index():
    class Copy(gnn.MessagePassing):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

    out = Copy(flow="target_to_source")(sg.ones(3, 2), [[], []])
    assert out.numpy().tolist() == [[0.0, 0.0]] * 3
