"""PyG BasicGNN's ``jk`` option on GCN / GAT / GraphSAGE: layer widths, the final ``lin``,
the output as PyG computes it from the model's own layers, mini-batch and layer-wise
inference, errors."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph.gnn import JumpingKnowledge, NeighborLoader, models
from sparsegraph.graph import Graph
from sparsegraph.testing import assert_close, gradcheck, random_graph


def small_graph(n=40, e=200, f=5, seed=0):
    rng = np.random.default_rng(seed)
    return Graph(x=rng.standard_normal((n, f)).astype(np.float32),
                 edge_index=random_graph(n, e, seed=seed))


MODELS = [(models.GCN, ops.relu, {}), (models.GraphSAGE, ops.relu, {}),
          (models.GAT, ops.elu, {"heads": 2})]
IDS = ["GCN", "GraphSAGE", "GAT"]


@pytest.mark.parametrize("cls, act, extra", MODELS, ids=IDS)
@pytest.mark.parametrize("jk", ["cat", "max", "last", "lstm"])
def test_jk_output_is_lin_of_jk_over_every_activated_layer(cls, act, extra, jk):
    g = small_graph()
    sg.manual_seed(0)
    model = cls(5, 4, 3, 3, **extra, jk=jk).eval()
    width = 4 * extra.get("heads", 1)
    assert model.lin.weight.shape == (3, width * 3 if jk == "cat" else width)
    assert (jk == "last") != hasattr(model, "jk") or jk == "last" and not hasattr(model, "jk")
    if jk in ("cat", "max", "lstm"):
        assert isinstance(model.jk, JumpingKnowledge) and model.jk.mode == jk
    # PyG: every layer (the last included) keeps the hidden width and is activated
    xs, h = [], g.x
    for conv in model.convs:
        h = act(conv(h, g.adj))
        xs.append(h)
    assert all(x.shape == (40, width) for x in xs)
    combined = xs[-1] if jk == "last" else model.jk(xs)
    out = model(g.x, g.adj)
    assert out.shape == (40, 3)
    assert_close(out, model.lin(combined))


@pytest.mark.parametrize("cls, act, extra", MODELS, ids=IDS)
def test_without_jk_the_model_is_unchanged(cls, act, extra):
    model = cls(5, 4, 2, 3, **extra)
    assert not any(k.startswith(("lin.", "jk.")) for k in model.state_dict())
    assert model.jk_mode is None


def test_jk_lstm_model_gradcheck_float64():
    g = small_graph(n=8, e=20)
    sg.manual_seed(1)
    model = models.GCN(5, 2, 2, 2, jk="lstm").double()
    for conv in model.convs:  # GCNConv's zero bias puts an all-zero row on ReLU's kink
        sg.nn.init.normal_(conv.bias)
    x = sg.tensor(g.x.numpy().astype(np.float64), requires_grad=True)
    gradcheck(lambda x, *_: model(x, g.adj), [x, *model.parameters()], directions=3)


@pytest.mark.parametrize("jk", ["cat", "lstm"])
def test_graphsage_jk_blocks_and_inference_match_the_full_forward(jk):
    g = small_graph(n=60, e=300)
    sg.manual_seed(2)
    model = models.GraphSAGE(5, 4, 2, 3, jk=jk).eval()
    full = model(g.x, g.adj)
    seeds = np.array([3, 50, 7, 0])
    batch = next(iter(NeighborLoader(g, [-1, -1], 4, input_nodes=seeds, seed=0)))
    assert_close(model(batch.x, batch.blocks), full[seeds])
    assert_close(model.inference(g.x, g.adj, batch_size=16), full)


def test_dropout_with_jk_acts_in_training_only():
    g = small_graph()
    model = models.GCN(5, 4, 2, 3, dropout=0.5, jk="max")
    model.eval()
    a = model(g.x, g.adj).detach().numpy()
    np.testing.assert_array_equal(a, model(g.x, g.adj).detach().numpy())
    model.train()
    assert not np.allclose(a, model(g.x, g.adj).detach().numpy())


@pytest.mark.parametrize("cls", [models.GCN, models.GAT, models.GraphSAGE],
                         ids=lambda c: c.__name__)
def test_unknown_jk_is_refused_by_name(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: expected `jk` None, 'cat', 'max', "
                                         r"'last' or 'lstm' \(got 'sum'\)"):
        cls(5, 4, 2, 3, jk="sum")
