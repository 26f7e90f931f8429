"""Training loops and the `sparsegraph train` command (short runs: learning well above chance)."""

import json

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.cli import main
from sparsegraph.datasets import KarateClub
from sparsegraph.gnn import models
from sparsegraph.gnn.train import accuracy, macro_f1, train_node_classifier


def test_gcn_learns_karate_deterministically():
    g = KarateClub()[0]
    accs = []
    for seed in (0, 0, 1, 2):
        sg.manual_seed(seed)
        model = models.GCN(g.num_features, 16, 2, 2)
        res = train_node_classifier(model, g, epochs=60, lr=0.01)
        assert res["train_acc"] == 1.0
        accs.append(res["test_acc"])
    assert accs[0] == accs[1]  # the same seed gives the same run
    assert np.mean(accs[1:]) >= 0.7  # two classes: chance is 0.5


@pytest.mark.parametrize("name", ["gat", "sage", "sgc", "appnp", "mlp"])
def test_every_node_model_trains_on_karate(name):
    from sparsegraph.cli.train import build_model

    g = KarateClub()[0]
    cfg = {"model": name, "hidden": 8, "heads": 2, "dropout": 0.1, "K": 2, "alpha": 0.1}
    sg.manual_seed(0)
    res = train_node_classifier(build_model(cfg, g.num_features, 2), g, epochs=60, lr=0.05)
    assert res["train_acc"] >= 0.75


def test_metrics():
    assert accuracy([0, 1, 1], [0, 1, 0]) == pytest.approx(2 / 3)
    assert macro_f1([0, 0, 1, 1], [0, 0, 1, 1]) == 1.0
    assert macro_f1([0, 0, 0, 0], [0, 0, 1, 1]) == pytest.approx((2 / 3 + 0) / 2)


def test_cli_train_on_karate_writes_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train", "--dataset", "karate", "--model", "gcn", "--runs", "2", "--epochs",
                 "40", "--quiet", "--json", str(out)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("test accuracy: ") and line.endswith("% (mean ± sample std over 2 runs)")
    result = json.loads(out.read_text())
    for key in ("test_acc_mean", "test_acc_std", "val_acc_mean", "epoch_time_median_s",
                "peak_rss_mb", "config"):
        assert key in result
    assert result["config"]["model"] == "gcn" and result["test_acc_mean"] > 60


def test_cli_train_without_files_says_how_to_get_them(tmp_path, capsys):
    assert main(["train", "--dataset", "cora", "--root", str(tmp_path), "--no-download",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ind.cora" in err and str(tmp_path) in err


@pytest.mark.dataset
def test_gcn_on_cora_smoke(data_root):
    from sparsegraph.datasets import Planetoid

    g = Planetoid("cora", root=data_root, download=False, normalize_features=True)[0]
    sg.manual_seed(0)
    res = train_node_classifier(models.GCN(g.num_features, 16, 2, 7), g, epochs=50)
    assert res["test_acc"] > 0.70  # chance is ~0.3


def test_models_accept_sparse_features_with_input_dropout():
    g = KarateClub()[0]
    x = g.x.to_sparse()
    model = models.GCN(g.num_features, 4, 2, 2)
    out = model(x, g.adj)
    assert out.shape == (34, 2)
    out.sum().backward()
    assert np.isfinite(model.convs[0].lin.weight.grad.numpy()).all()


def test_graph_classifier_applies_weight_decay():
    from sparsegraph.gnn.train import train_graph_classifier
    from sparsegraph.graph import Graph

    rng = np.random.default_rng(0)
    graphs = [Graph(x=rng.standard_normal((4, 3)), edge_index=np.array([[0, 1, 2], [1, 2, 3]]),
                    y=np.array([i % 2])) for i in range(8)]
    folds = [(np.arange(4), np.arange(4, 8))]
    trained = {}
    for wd in (0.0, 10.0):
        built = []

        def make(built=built):
            built.append(models.GIN(3, 4, 1, 2))
            return built[-1]

        res = train_graph_classifier(make, graphs, folds, epochs=3, batch_size=4,
                                     weight_decay=wd)
        assert len(res["epoch_times_s"]) == 3
        trained[wd] = np.concatenate([p.detach().numpy().ravel()
                                      for p in built[0].parameters()])
    # same seed, same data: only the L2 penalty differs, and it shrinks the weights
    assert np.linalg.norm(trained[10.0]) < np.linalg.norm(trained[0.0])


def test_graph_classifier_std_is_the_sample_std_over_folds():
    from sparsegraph.gnn.train import train_graph_classifier
    from sparsegraph.graph import Graph

    rng = np.random.default_rng(1)
    graphs = [Graph(x=rng.standard_normal((4, 3)), edge_index=np.array([[0, 1, 2], [1, 2, 3]]),
                    y=rng.integers(0, 2, 1)) for i in range(15)]
    folds = [(np.setdiff1d(np.arange(15), t), t) for t in np.split(rng.permutation(15), [3, 7])]
    res = train_graph_classifier(lambda: models.GIN(3, 4, 1, 2), graphs, folds,
                                 epochs=4, batch_size=4)
    accs = np.array(res["fold_accs"])
    assert np.ptp(accs) > 0  # folds of 3, 4 and 8 graphs: the spread is not 0
    assert res["test_acc_std"] == pytest.approx(np.std(accs, ddof=1))
    one = train_graph_classifier(lambda: models.GIN(3, 4, 1, 2), graphs, folds[:1],
                                 epochs=2, batch_size=4)
    assert one["test_acc_std"] == 0.0


SEEDED_MODELS = {
    "gcn": lambda f, c: models.GCN(f, 8, 2, c),
    "gat": lambda f, c: models.GAT(f, 4, 2, c, heads=2),
    "appnp": lambda f, c: models.APPNP(f, 8, 2, c, dropout=0.5, K=3),
    "mlp": lambda f, c: models.MLP(f, 8, 2, c),
    "sgc": lambda f, c: models.SGC(f, c),
    "sage": lambda f, c: models.GraphSAGE(f, 8, 2, c),
}


@pytest.mark.parametrize("name", sorted(SEEDED_MODELS))
def test_seed_makes_training_repeatable_from_any_generator_state(name):
    """seed=s re-draws every parameter: the generator's state when the model was built (here
    two different ones) must not matter."""
    g = KarateClub()[0]
    runs = []
    for state in (1, 2):
        sg.manual_seed(state)
        sg.randn(17)  # advance the global stream differently too
        model = SEEDED_MODELS[name](g.num_features, 4)
        res = train_node_classifier(model, g, epochs=15, lr=0.05, seed=0)
        params = [p.detach().numpy().copy() for p in model.parameters()]
        runs.append(({k: res[k] for k in ("test_acc", "val_acc", "train_acc", "best_epoch",
                                          "epochs_run")}, params))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_seed_resets_a_user_model_without_reset_parameters():
    from sparsegraph.gnn import GCNConv
    from sparsegraph.nn import Module

    class Net(Module):  # no reset_parameters: the helper resets its layers
        def __init__(self):
            super().__init__()
            self.conv = GCNConv(34, 4)

        def forward(self, x, adj):
            return self.conv(x, adj)

    g = KarateClub()[0]
    weights = []
    for state in (1, 2):
        sg.manual_seed(state)
        net = Net()
        train_node_classifier(net, g, epochs=3, seed=0)
        weights.append(net.conv.lin.weight.detach().numpy().copy())
    np.testing.assert_array_equal(weights[0], weights[1])


def test_patience_zero_stops_at_the_first_epoch_without_improvement():
    g = KarateClub()[0]
    history = []
    sg.manual_seed(0)
    res = train_node_classifier(models.GCN(34, 16, 2, 4), g, epochs=200, lr=0.5, patience=0,
                                on_epoch=lambda e, m: history.append(m))
    best_loss, best_acc, first_bad = np.inf, -1.0, None
    for epoch, m in enumerate(history):
        if m["val_loss"] < best_loss or m["val_acc"] > best_acc:
            best_loss, best_acc = min(best_loss, m["val_loss"]), max(best_acc, m["val_acc"])
        else:
            first_bad = epoch
            break
    assert first_bad is not None and first_bad >= 1  # epoch 0 always improves
    assert res["epochs_run"] == first_bad + 1


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": -3}, r"train_node_classifier: expected `epochs` to be an int >= 1 \(got -3\)"),
    ({"epochs": 2.5}, r"expected `epochs` to be an int >= 1 \(got 2.5\)"),
    ({"patience": -1}, r"expected `patience` to be None or an int >= 0 \(got -1\)"),
    ({"split": 5}, r"`split`=5 needs masks with several splits.*`train_mask` of shape \(34,\)"),
])
def test_train_node_classifier_validates_arguments(kwargs, match):
    g = KarateClub()[0]
    with pytest.raises(ValueError, match=match):
        train_node_classifier(models.GCN(34, 4, 2, 4), g, **kwargs)


def test_split_out_of_range_for_stored_splits():
    g = KarateClub()[0]
    for name in ("train_mask", "val_mask", "test_mask"):
        m = np.asarray(getattr(g, name).array if hasattr(getattr(g, name), "array")
                       else getattr(g, name))
        setattr(g, name, np.stack([m, m]))
    with pytest.raises(ValueError, match=r"expected `split` in \[0, 2\).*\(got 2\)"):
        train_node_classifier(models.GCN(34, 4, 2, 4), g, epochs=2, split=2)
    assert train_node_classifier(models.GCN(34, 4, 2, 4), g, epochs=2, split=1)["epochs_run"] == 2


def test_empty_val_mask_is_an_error_naming_it():
    g = KarateClub()[0]
    g.val_mask = np.zeros(34, bool)
    with pytest.raises(ValueError, match=r"train_node_classifier: `val_mask` selects no nodes"):
        train_node_classifier(models.GCN(34, 4, 2, 4), g, epochs=5, patience=3)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_gat_and_appnp_models_take_num_layers(num_layers):
    from sparsegraph.gnn import GATConv

    gat = models.GAT(10, 4, num_layers, 3, heads=2, out_heads=2)
    assert len(gat.convs) == num_layers
    assert all(c.heads == 2 and c.concat for c in gat.convs[:-1])
    assert gat.convs[0].in_channels == 10 and all(
        c.in_channels == 8 for c in gat.convs[1:])  # hidden x heads, concatenated
    last = gat.convs[-1]
    assert isinstance(last, GATConv) and last.heads == 2 and not last.concat
    appnp = models.APPNP(10, 6, num_layers, 3)
    assert len(appnp.mlp.lins) == num_layers
    x = sg.randn(7, 10)
    ei = np.array([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6]])
    assert gat(x, ei).shape == (7, 3) and appnp(x, ei).shape == (7, 3)
