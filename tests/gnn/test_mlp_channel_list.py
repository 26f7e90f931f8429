"""models.MLP takes PyG's channel_list form (mutag_gin.py's MLP([7, 32, 32]))."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import models


@pytest.mark.parametrize("make", [lambda: models.MLP([5, 8, 6, 3]),
                                  lambda: models.MLP(channel_list=[5, 8, 6, 3], norm=None)],
                         ids=["positional", "keyword"])
def test_channel_list_gives_one_linear_per_consecutive_pair(make):
    mlp = make()
    assert [(lin.in_features, lin.out_features) for lin in mlp.lins] == [(5, 8), (8, 6), (6, 3)]
    x = sg.randn(4, 5)
    mlp.eval()
    h = x
    for i, lin in enumerate(mlp.lins):  # PyG's order: Linear, norm, ReLU; plain last
        h = lin(h)
        if i < 2:
            h = (mlp.norms[i](h) if len(mlp.norms) else h).relu()
    np.testing.assert_allclose(mlp(x).detach().numpy(), h.detach().numpy(), rtol=1e-6)


def test_keyword_form_is_unchanged_and_bad_lists_are_named():
    assert len(models.MLP(in_channels=4, hidden_channels=8, out_channels=2,
                          num_layers=3).lins) == 3
    with pytest.raises(ValueError, match="MLP: expected `channel_list` of at least two sizes"):
        models.MLP([7])
    with pytest.raises(TypeError, match="pass either `channel_list` or"):
        models.MLP([7, 3], hidden_channels=4)
    with pytest.raises(TypeError, match="expected `in_channels` and `hidden_channels`"):
        models.MLP()


def test_pygs_model_names_are_in_sparsegraph_gnn():
    from sparsegraph import gnn

    assert (gnn.GCN, gnn.GAT, gnn.GraphSAGE, gnn.MLP) == (models.GCN, models.GAT,
                                                          models.GraphSAGE, models.MLP)
    assert gnn.APPNP is not models.APPNP  # the layer, as PyG's torch_geometric.nn.APPNP


def test_gat_v2_builds_gatv2_layers_and_trains_a_step():
    from sparsegraph import gnn

    model = models.GAT(5, 4, 2, 3, heads=2, v2=True)
    assert all(isinstance(c, gnn.GATv2Conv) for c in model.convs)
    assert all(isinstance(c, gnn.GATConv) for c in models.GAT(5, 4, 2, 3).convs)
    x = sg.randn(6, 5)
    ei = np.array([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    out = model(x, ei)
    assert out.shape == (6, 3)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(TypeError, match="GAT: expected a bool `v2`"):
        models.GAT(5, 4, v2="yes")
