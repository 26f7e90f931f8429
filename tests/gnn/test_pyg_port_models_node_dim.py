"""PyG code ported unchanged: the ready-made models take PyG's positional order and meaning
of ``num_layers`` (``torch_geometric.nn.models``), and ``MessagePassing(node_dim=...)`` takes
PyG's values that name the edge axis 0 of the messages."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph import gnn
from sparsegraph.gnn import models

EI = np.array([[0, 1, 2, 3, 0], [1, 2, 3, 0, 2]])


def layers(model, cls):
    return [m for _, m in model.named_modules() if type(m) is cls]


# ---- models: (in_channels, hidden_channels, num_layers, out_channels=None, dropout, ...) ---
@pytest.mark.parametrize("make, conv", [
    (models.GCN, gnn.GCNConv), (models.GraphSAGE, gnn.SAGEConv), (models.GAT, gnn.GATConv)])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_pyg_positional_order_builds_num_layers_layers_with_out_channels(make, conv,
                                                                         num_layers):
    model = make(6, 4, num_layers, 7)  # PyG: GCN(in, hidden, num_layers, out)
    assert len(layers(model, conv)) == num_layers
    assert model(sg.randn(4, 6), EI).shape == (4, 7)


@pytest.mark.parametrize("make", [models.GCN, models.GraphSAGE, models.GAT, models.MLP])
def test_out_channels_none_gives_hidden_channels_outputs(make):
    assert make(6, 5, 2)(sg.randn(4, 6), EI).shape == (4, 5)


def test_gin_num_layers_counts_gin_convolutions_only():
    m = models.GIN(7, 32, 5, 2)  # PyG's mutag example: 5 GINConv layers, 2 classes
    assert len(layers(m, gnn.GINConv)) == 5 and len(m.heads) == 6  # a readout per depth
    out = m.eval()(sg.randn(4, 7), EI[:, :3], sg.tensor([0, 0, 1, 1]))
    assert out.shape == (2, 2)
    assert models.GIN(7, 8, 2).eval()(sg.randn(4, 7), EI, sg.tensor([0, 0, 1, 1])).shape == (2, 8)
    assert len(layers(models.GIN(7), gnn.GINConv)) == 4  # the paper's "5 layers" with the input


def test_mlp_takes_pygs_keywords_and_counts_linear_layers():
    m = models.MLP(in_channels=16, hidden_channels=32, out_channels=7, num_layers=3)
    assert [(lin.in_features, lin.out_features) for lin in m.lins] == [(16, 32), (32, 32),
                                                                       (32, 7)]


def test_model_options_after_dropout_are_keywords():
    with pytest.raises(TypeError):
        models.GAT(6, 4, 2, 3, 0.6, 2)  # heads only by keyword, as PyG's **kwargs
    gat = models.GAT(6, 4, 2, 3, heads=2, out_heads=3)
    assert [c.heads for c in gat.convs] == [2, 3]


# ---- MessagePassing(node_dim=...) ------------------------------------------------------------
class Heads(gnn.MessagePassing):
    """(E, H, F) messages, as PyG's attention layers (which pass node_dim=0)."""

    def forward(self, x, ei):
        return self.propagate(ei, x=x)

    def message(self, x_j):
        return x_j * 2.0


def heads_reference(x, ei, n=4):
    out = np.zeros((n,) + x.shape[1:])
    np.add.at(out, ei[1], 2.0 * x[ei[0]])
    return out


@pytest.mark.parametrize("node_dim", [0, -3])  # both name axis 0 of (E, H, F) messages
def test_node_dim_naming_the_edge_axis_is_taken(node_dim):
    x = sg.tensor(np.random.default_rng(0).standard_normal((4, 2, 3)))
    conv = Heads(aggr="add", node_dim=node_dim)
    assert conv.node_dim == node_dim
    np.testing.assert_allclose(conv(x, EI).numpy(), heads_reference(x.numpy(), EI), rtol=1e-6)


def test_pygs_default_node_dim_is_the_edge_axis_of_2d_messages():
    class Scaled(Heads):
        def __init__(self):
            super().__init__(aggr="add", flow="source_to_target", node_dim=-2)  # PyG's default

    x = sg.tensor(np.random.default_rng(1).standard_normal((4, 3)))
    np.testing.assert_allclose(Scaled()(x, EI).numpy(), heads_reference(x.numpy(), EI),
                               rtol=1e-6)
    with pytest.raises(ValueError, match=r"Scaled: `node_dim=-2` is axis 1 of the messages of "
                                         r"shape \(5, 2, 3\), not axis 0.*pass node_dim=0"):
        Scaled()(sg.randn(4, 2, 3), EI)


def test_node_dim_is_checked_on_the_fused_path_too():
    class Sum(gnn.MessagePassing):
        def __init__(self):
            super().__init__(node_dim=-2)

    x = sg.randn(4, 2, 3)
    assert Sum().uses_fused_path(EI)
    with pytest.raises(ValueError, match=r"Sum: `node_dim=-2` is axis 1 of the node features "
                                         r"`x` of shape \(4, 2, 3\)"):
        Sum().propagate(EI, x)
    np.testing.assert_allclose(Sum().propagate(EI, x[:, 0]).numpy(),
                               ops.scatter(x[:, 0][EI[0]], EI[1], 4, "sum").numpy(), rtol=1e-6)


@pytest.mark.parametrize("node_dim, error, text", [
    (1, ValueError, r"expected `node_dim` 0, or a negative axis that is axis 0 of the messages "
                    r".*\(got 1\)"),
    (True, TypeError, r"expected an int `node_dim` \(got True\)"),
    ("0", TypeError, r"expected an int `node_dim` \(got '0'\)"),
])
def test_node_dims_sparsegraph_cannot_honour_are_refused_by_name(node_dim, error, text):
    with pytest.raises(error, match=rf"Heads: {text}"):
        Heads(node_dim=node_dim)
