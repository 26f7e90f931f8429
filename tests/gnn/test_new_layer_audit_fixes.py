"""Findings of the porting audit of the session's new layers: per-edge rows checked on the
caller's edge_attr (not after a Linear), GINEConv's bipartite pair without target features,
GCN2Conv's x_0 cut to x's rows as PyG's x_0[:x.size(0)], and InstanceNorm's running statistics
untouched by a batch without graphs."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn, nn

EI = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])


@pytest.mark.parametrize("layer", [
    lambda: gnn.GINEConv(nn.Linear(4, 3), edge_dim=2),
    lambda: gnn.ResGatedGraphConv(4, 3, edge_dim=2),
])
@pytest.mark.parametrize("edges", [lambda: sg.tensor(EI), lambda: EI,
                                   lambda: sg.Graph(edge_index=EI, num_nodes=5)])
def test_edge_attr_rows_are_checked_as_given(layer, edges):
    conv = layer()
    with pytest.raises(ValueError, match=rf"^{type(conv).__name__}: expected `edge_attr` with 4 "
                                         r"rows, one per edge \(got shape \(5, 2\)\)"):
        conv(sg.randn(5, 4), edges(), sg.rand(5, 2))


def test_gine_pair_without_target_features_drops_the_root_term():
    sg.manual_seed(0)
    conv = gnn.GINEConv(nn.Linear(4, 3), edge_dim=2, eps=0.5).double()
    x, e = sg.randn(5, 4, dtype="float64"), sg.rand(4, 2, dtype="float64")
    out = conv((x, None), sg.tensor(EI), e, size=(5, 5)).detach().numpy()
    # PyG: nn(sum_j relu(x_j + lin(e_ji))) without (1 + eps) x_i
    msg = np.maximum(x.numpy()[EI[0]] + conv.lin(e).detach().numpy(), 0)
    agg = np.zeros((5, 4))
    np.add.at(agg, EI[1], msg)
    np.testing.assert_allclose(out, conv.nn(sg.tensor(agg)).detach().numpy(), rtol=1e-12)


def test_gcn2_cuts_x0_to_the_rows_of_x():
    sg.manual_seed(1)
    conv = gnn.GCN2Conv(4, 0.1).double()
    x, x0 = sg.randn(5, 4, dtype="float64"), sg.randn(7, 4, dtype="float64")
    np.testing.assert_array_equal(conv(x, x0, sg.tensor(EI)).detach().numpy(),
                                  conv(x, x0[:5], sg.tensor(EI)).detach().numpy())
    with pytest.raises(ValueError, match=r"GCN2Conv: expected `x_0` with at least 5 rows"):
        conv(x, x0[:3], sg.tensor(EI))


def test_instance_norm_running_stats_ignore_a_batch_without_graphs():
    norm = gnn.InstanceNorm(3, track_running_stats=True)
    out = norm(sg.zeros((0, 3)), sg.tensor(np.zeros(0, dtype=np.int64)))
    assert out.shape == (0, 3)
    np.testing.assert_array_equal(norm.running_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(norm.running_var.numpy(), np.ones(3))


def test_sage_conv_takes_pygs_positional_order():
    # PyG: SAGEConv(in, out, aggr='mean', normalize=False, root_weight=True, project, bias)
    conv = gnn.SAGEConv(4, 3, "mean", True, False)
    assert conv.normalize is True and conv.root_weight is False


def test_graph_conv_takes_aggr_kwargs_as_pyg():
    conv = gnn.GraphConv(3, 5, aggr="softmax", aggr_kwargs=dict(learn=True))
    assert "aggr_module.t" in conv.state_dict()


def test_pygs_aggr_namespace_holds_every_aggregation():
    from sparsegraph.gnn.aggr import (  # torch_geometric.nn.aggr's names
        AttentionalAggregation,
        MulAggregation,
        PowerMeanAggregation,
        Set2Set,
        SoftmaxAggregation,
        SortAggregation,
        aggregation_resolver,
    )
    assert SoftmaxAggregation is gnn.SoftmaxAggregation and Set2Set is gnn.Set2Set
    assert {AttentionalAggregation, PowerMeanAggregation, SortAggregation} <= {
        getattr(gnn, n) for n in ("AttentionalAggregation", "PowerMeanAggregation",
                                  "SortAggregation")}
    assert isinstance(aggregation_resolver("mul"), MulAggregation)
    x = sg.tensor([[2.0, 3.0], [4.0, 5.0]])
    out = gnn.MultiAggregation(["sum", "mul"])(x, sg.tensor([0, 0]))
    np.testing.assert_array_equal(out.numpy(), [[6.0, 8.0, 8.0, 15.0]])


def test_an_unknown_aggregation_lists_the_names():
    with pytest.raises(ValueError, match=r"\(got 'lstm'\), or another aggregation name of "
                                         r"sparsegraph.gnn.aggr.aggregation_resolver \(.*set2set"):
        gnn.SAGEConv(3, 5, aggr="lstm")


def test_label_propagation_names_the_labels_for_the_node_count():
    with pytest.raises(ValueError, match=r"^LabelPropagation: expected `edge_index\[0\]` entries "
                                         r"in \[0, 3\) to match the 3 rows of the labels"):
        gnn.LabelPropagation(2, 0.5)(sg.tensor(np.array([0, 1, 2])),
                                     sg.tensor(np.array([[0, 9], [1, 2]])))


def test_degree_scaler_aggregation_needs_an_index_as_pygs():
    agg = gnn.DegreeScalerAggregation("mean", "identity", sg.tensor(np.array([3, 0, 2])))
    with pytest.raises(ValueError, match=r"DegreeScalerAggregation: expected `index` or `ptr`"):
        agg(sg.randn(4, 3))


def test_pna_refuses_a_degree_histogram_of_only_zeros_for_log_scalers():
    with pytest.raises(ValueError, match=r"expected `deg` with a node of in-degree >= 1"):
        gnn.PNAConv(4, 4, ["mean"], ["amplification"], sg.tensor(np.array([5])))
    gnn.PNAConv(4, 4, ["mean"], ["identity"], sg.tensor(np.array([5])))  # nothing divides
