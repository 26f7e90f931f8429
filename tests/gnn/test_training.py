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
        model = models.GCN(g.num_features, 16, 2)
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
    assert line.startswith("test accuracy: ") and line.endswith("% over 2 runs")
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
    res = train_node_classifier(models.GCN(g.num_features, 16, 7), g, epochs=50)
    assert res["test_acc"] > 0.70  # chance is ~0.3


def test_models_accept_sparse_features_with_input_dropout():
    g = KarateClub()[0]
    x = g.x.to_sparse()
    model = models.GCN(g.num_features, 4, 2)
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
            built.append(models.GIN(3, 4, 2, num_layers=1))
            return built[-1]

        res = train_graph_classifier(make, graphs, folds, epochs=3, batch_size=4,
                                     weight_decay=wd)
        assert len(res["epoch_times_s"]) == 3
        trained[wd] = np.concatenate([p.detach().numpy().ravel()
                                      for p in built[0].parameters()])
    # same seed, same data: only the L2 penalty differs, and it shrinks the weights
    assert np.linalg.norm(trained[10.0]) < np.linalg.norm(trained[0.0])
