"""models.GCN / GAT / GraphSAGE pass extra keyword arguments to every conv, as PyG's BasicGNN
does, and forward PyG's edge_weight / edge_attr to each layer."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.gnn import models


def _graph(seed=0, n=12, e=40):
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, n, (2, e))
    ei = ei[:, ei[0] != ei[1]]
    return sg.randn(n, 5, dtype="float64"), sg.tensor(ei), rng


def _chain(model, x, ei, act, **edge):
    """The stack by hand: the convs with ``edge`` and ``act`` between them (eval: no
    dropout)."""
    for i, conv in enumerate(model.convs):
        x = conv(x, ei, **edge)
        if i < len(model.convs) - 1:
            x = act(x)
    return x


def test_gcn_passes_conv_options_and_edge_weight():
    x, ei, rng = _graph()
    m = models.GCN(5, 8, 3, 4, improved=True, add_self_loops=False).double().eval()
    assert all(c.improved and not c.add_self_loops for c in m.convs)
    w = sg.tensor(rng.random(ei.shape[1]))
    out = m(x, ei, edge_weight=w)
    want = _chain(m, x, ei, ops.relu, edge_weight=w)
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy())
    assert not np.allclose(out.detach().numpy(), m(x, ei).detach().numpy())  # the weights were used


@pytest.mark.parametrize("v2", [False, True])
def test_gat_passes_conv_options_and_edge_attr(v2):
    x, ei, rng = _graph(1)
    m = models.GAT(5, 4, 2, 3, heads=2, v2=v2, edge_dim=3, negative_slope=0.1).double().eval()
    assert all(c.negative_slope == 0.1 for c in m.convs)
    ea = sg.tensor(rng.standard_normal((ei.shape[1], 3)))
    out = m(x, ei, edge_attr=ea)
    want = _chain(m, x, ei, ops.elu, edge_attr=ea)
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy())
    other = m(x, ei, edge_attr=sg.tensor(rng.standard_normal((ei.shape[1], 3))))
    assert not np.allclose(out.detach().numpy(), other.detach().numpy())


def test_gatv2_share_weights_reaches_every_layer():
    m = models.GAT(5, 4, 2, 3, heads=2, v2=True, share_weights=True)
    assert all(c.lin_l is c.lin_r for c in m.convs)


def test_graphsage_passes_conv_options():
    x, ei, _ = _graph(2)
    m = models.GraphSAGE(5, 8, 2, 4, normalize=True, root_weight=False).double().eval()
    out = m(x, ei).detach().numpy()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0)  # the last layer normalises
    assert all(not c.root_weight for c in m.convs)


@pytest.mark.parametrize("model", [models.GCN, models.GAT, models.GraphSAGE])
def test_an_unknown_conv_option_is_named(model):
    with pytest.raises(TypeError, match="unexpected keyword argument 'no_such_option'"):
        model(5, 8, 2, 3, no_such_option=1)
