"""`models.APPNP` takes the other models' order, ``(in, hidden, num_layers, out=None,
dropout)`` with ``K`` / ``alpha`` keywords, and computes the paper's model: checked against a
numpy transcription of "predict then propagate"; ``sparsegraph train`` builds the paper's
configuration with it."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.cli.train import DEFAULTS, build_model
from sparsegraph.gnn import models

N, F = 6, 5
EI = np.array([[0, 1, 1, 2, 3, 4, 5, 2], [1, 0, 2, 1, 4, 3, 0, 5]])  # source row, target row


def reference(model, x, K, alpha):
    """Linear-ReLU-...-Linear, then ``h <- (1 - alpha) Â h + alpha h0`` K times, with
    ``Â = D^-1/2 (A + I) D^-1/2`` (row = target) and D the in-degree with the self loop."""
    h = x
    lins = list(model.mlp.lins)
    for i, lin in enumerate(lins):
        h = h @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
        h = np.maximum(h, 0) if i < len(lins) - 1 else h
    a = np.eye(N)
    np.add.at(a, (EI[1], EI[0]), 1.0)
    d = a.sum(1) ** -0.5
    a_hat = d[:, None] * a * d[None, :]
    h0 = h
    for _ in range(K):
        h = (1 - alpha) * a_hat @ h + alpha * h0
    return h


def test_gcn_like_positional_arguments_give_layers_and_outputs():
    sg.manual_seed(0)
    m = models.APPNP(F, 16, 2, 7)  # GCN(F, 16, 2, 7)'s form: 2 layers, 7 outputs
    assert [tuple(lin.weight.shape) for lin in m.mlp.lins] == [(16, F), (7, 16)]
    assert (m.prop.K, m.prop.alpha, m.mlp.dropout) == (10, 0.1, 0.0)
    assert [tuple(lin.weight.shape) for lin in models.APPNP(F, 4, 3).mlp.lins] == [
        (4, F), (4, 4), (4, 4)]  # out_channels None: hidden_channels, as the other models
    x = np.random.default_rng(0).standard_normal((N, F))
    m = models.APPNP(F, 4, 3, 2, K=3, alpha=0.2).to("float64")
    np.testing.assert_allclose(m(sg.tensor(x), EI).detach().numpy(),
                               reference(m, x, 3, 0.2), rtol=1e-10, atol=1e-12)


def test_k_and_alpha_are_keywords():
    # the old order (in, hidden, out, K, alpha, ...) must not build a different model silently
    with pytest.raises(TypeError, match="positional"):
        models.APPNP(F, 16, 2, 7, 0.5, 10)


def test_train_builds_the_papers_appnp():
    cfg = dict(DEFAULTS["appnp"], model="appnp")
    m = build_model(cfg, F, 3)
    assert [tuple(lin.weight.shape) for lin in m.mlp.lins] == [(64, F), (3, 64)]
    assert (m.prop.K, m.prop.alpha, m.mlp.dropout) == (10, 0.1, 0.5)
