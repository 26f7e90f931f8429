"""PyG's initialisation and reset_parameters() of every layer and model, and construction /
input errors that name the layer and argument."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.gnn import models
from sparsegraph.nn import BatchNorm1d, Linear, ReLU, Sequential

LAYERS = {
    "gcn": lambda: gnn.GCNConv(6, 4),
    "sgc": lambda: gnn.SGConv(6, 4, K=2),
    "cheb": lambda: gnn.ChebConv(6, 4, K=3),
    "gat": lambda: gnn.GATConv(6, 4, heads=2, edge_dim=3),
    "gin": lambda: gnn.GINConv(Sequential(Linear(6, 5), BatchNorm1d(5), ReLU(),
                                          Linear(5, 4)), train_eps=True),
    "graph_conv": lambda: gnn.GraphConv((6, 5), 4),
    "sage": lambda: gnn.SAGEConv(6, 4, project=True),
}
MODELS = {
    "gcn": lambda: models.GCN(6, 5, 3, 3),
    "gat": lambda: models.GAT(6, 4, 3, 3, heads=2),
    "sage": lambda: models.GraphSAGE(6, 5, 2, 3),
    "sgc": lambda: models.SGC(6, 3),
    "appnp": lambda: models.APPNP(6, 5, 3, 3),
    "mlp": lambda: models.MLP(6, 5, 2, 3),
    "gin": lambda: models.GIN(6, 5, 2, 3, train_eps=True),
}


def _params(module):
    return [p.detach().numpy().copy() for p in module.parameters()]


@pytest.mark.parametrize("make", [*LAYERS.values(), *MODELS.values()],
                         ids=[*(f"layer-{k}" for k in LAYERS), *(f"model-{k}" for k in MODELS)])
def test_reset_parameters_redraws_everything_from_the_seed(make):
    """After manual_seed(s), reset_parameters() gives the same parameters whatever the
    generator's state at construction, and it undoes any change to them."""
    sg.manual_seed(1)
    a = make()
    sg.manual_seed(2)
    b = make()
    for p in b.parameters():  # as after training
        p.array[...] = 7.0
    for m in (a, b):
        sg.manual_seed(0)
        m.reset_parameters()
    for pa, pb in zip(_params(a), _params(b), strict=True):
        np.testing.assert_array_equal(pa, pb)
    # nothing survives a reset (biases, eps, batch-norm affine back to their defaults)
    assert not any(np.all(p == 7.0) for p in _params(b))


@pytest.mark.parametrize("make, lins", [
    (lambda: gnn.GCNConv(40, 30), lambda c: [c.lin.weight]),
    (lambda: gnn.ChebConv(40, 30, K=3), lambda c: [lin.weight for lin in c.lins]),
    (lambda: gnn.GATConv(40, 15, heads=2), lambda c: [c.lin.weight]),
])
def test_glorot_weights_and_zero_bias_as_pyg(make, lins):
    conv = make()
    conv.bias.array[...] = 5.0
    conv.reset_parameters()
    assert np.all(conv.bias.detach().numpy() == 0.0)
    for w in lins(conv):
        fan_out, fan_in = w.shape
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        w = np.abs(w.detach().numpy())
        assert w.max() <= bound and w.max() > 0.8 * bound


def test_gat_attention_vectors_glorot_over_heads_and_channels():
    conv = gnn.GATConv(40, 8, heads=4)
    bound = np.sqrt(6.0 / (4 + 8))  # PyG's glorot on (1, H, F): the last two dims
    for att in (conv.att_src, conv.att_dst):
        a = np.abs(att.detach().numpy())
        assert a.max() <= bound and a.max() > 0.7 * bound


@pytest.mark.parametrize("build, exc, match", [
    (lambda: gnn.SGConv(3, 2, K=1.5), ValueError, r"SGConv: expected `K` to be an int >= 0 "
                                                  r"\(got 1.5\)"),
    (lambda: gnn.APPNP(K=1.5, alpha=0.1), ValueError, r"APPNP: expected `K` to be an int >= 0"),
    (lambda: gnn.APPNP(K=2, alpha=1.5), ValueError, r"APPNP: expected `alpha` in \[0, 1\] "
                                                    r"\(got 1.5\)"),
    (lambda: gnn.ChebConv(3, 2, K=True), ValueError, r"ChebConv: expected `K` to be an int"),
    (lambda: gnn.GINConv(None), TypeError, r"GINConv: expected `nn` to be a callable Module "
                                           r"\(got NoneType\)"),
    (lambda: gnn.GATConv(3, 2, negative_slope="a"), TypeError,
     r"GATConv: expected `negative_slope` to be a number \(got 'a'\)"),
    (lambda: models.GIN(3, 16, 2.5, 2), ValueError,
     r"GIN: expected `num_layers` to be an int >= 1 \(got 2.5\)"),
    (lambda: models.GIN(3, 16, True, 2), ValueError,
     r"GIN: expected `num_layers` to be an int >= 1 \(got True\)"),
    (lambda: models.GAT(3, 4, 0, 2), ValueError,
     r"GAT: expected `num_layers` to be an int >= 1 \(got 0\)"),
    (lambda: models.GCN(3, 16, 2, 2, dropout=1.5), ValueError,
     r"GCN: expected `dropout` in \[0, 1\] \(got 1.5\)"),
    (lambda: models.GraphSAGE(3, 16, 2, 2, dropout=-0.1), ValueError,
     r"GraphSAGE: expected `dropout` in \[0, 1\]"),
    (lambda: models.MLP(3, 16, 2, 2, dropout=1.5), ValueError, r"MLP: expected `dropout`"),
    (lambda: models.GIN(3, 16, 4, 2, dropout=1.5), ValueError, r"GIN: expected `dropout`"),
    (lambda: models.APPNP(3, 16, 2, dropout=1.5), ValueError, r"APPNP: expected `dropout`"),
    (lambda: models.GAT(3, 4, 2, 2, dropout=2.0), ValueError, r"GAT: expected `dropout`"),
])
def test_construction_errors_name_layer_and_argument(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


EI = np.array([[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])


def test_integer_features_blame_x_not_the_edge_weights():
    with pytest.raises(TypeError, match=r"APPNP: expected floating `x` features \(got dtype "
                                        r"int64\)"):
        gnn.APPNP(2, 0.1)(sg.tensor(np.ones((5, 3), dtype=np.int64)), EI)


@pytest.mark.parametrize("make", [lambda: gnn.GCNConv(3, 2), lambda: gnn.GATConv(3, 2),
                                  lambda: gnn.SAGEConv(3, 2), lambda: gnn.ChebConv(3, 2, K=2),
                                  lambda: gnn.SGConv(3, 2), lambda: gnn.GraphConv(3, 2)])
def test_three_dim_features_are_refused_by_name(make):
    conv = make()
    name = type(conv).__name__
    with pytest.raises(ValueError, match=rf"{name}: expected `x` of shape \(num_nodes, "
                                         rf"num_features\) \(got shape \(5, 2, 3\)\)"):
        conv(sg.randn(5, 2, 3), EI)
