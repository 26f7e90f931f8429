"""Bad input named by the function that got it (an audit of the public API as a new user
calls it): numpy arrays or None into nn layers and init functions, out-of-range dropout
probabilities and dataset ids."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn


@pytest.mark.parametrize("value", [None, np.ones((2, 3)), [[1.0, 2.0, 3.0]]])
def test_linear_names_a_non_tensor_input(value):
    with pytest.raises(TypeError, match=r"^linear: expected `input` to be a Tensor"):
        nn.Linear(3, 2)(value)


def test_batch_norm_names_a_numpy_input():
    with pytest.raises(TypeError, match=r"^BatchNorm1d: expected `input` to be a Tensor"):
        nn.BatchNorm1d(3)(np.ones((4, 3)))


@pytest.mark.parametrize("fill", ["uniform_", "normal_", "zeros_", "ones_", "xavier_uniform_",
                                  "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_init_functions_name_a_numpy_target(fill):
    with pytest.raises(TypeError, match=rf"^init\.{fill}: expected a Tensor to fill"):
        getattr(nn.init, fill)(np.ones((3, 3)))


def test_init_arguments_are_checked_by_name():
    t = sg.ones(3, 3)
    with pytest.raises(ValueError, match=r"^init\.normal_: expected std >= 0 \(got -1\.0\)"):
        nn.init.normal_(t, std=-1)
    with pytest.raises(ValueError, match=r"^init\.uniform_: expected a <= b"):
        nn.init.uniform_(t, a=1, b=0)
    with pytest.raises(TypeError, match=r"^init\.constant_: expected value to be a number"):
        nn.init.constant_(t, "a")
    assert nn.init.constant_(t, 2).tolist() == [[2.0] * 3] * 3  # valid calls still fill
    assert nn.init.uniform_(t, a=0.5, b=0.5).tolist() == [[0.5] * 3] * 3


@pytest.mark.parametrize("p", [2.0, -1.0, float("nan"), True])
def test_dropout_mask_checks_p_like_dropout(p):
    with pytest.raises(ValueError, match=r"^dropout_mask: expected `p` in \[0, 1\]"):
        sg.dropout_mask((8,), p)


def test_dropout_mask_edge_probabilities():
    assert sg.dropout_mask((8,), 0.0).all()  # an array, as the kernels take it
    assert not sg.dropout_mask((8,), 1.0).any()


def test_tu_dataset_ids_out_of_range_are_named(data_root):
    from sparsegraph.datasets import TUDataset

    ds = TUDataset("MUTAG", root=data_root, download=False)
    n = len(ds)
    for i in (n, -n - 1, np.int64(n), sg.tensor(n)):
        with pytest.raises(IndexError, match=rf"^TUDataset: expected a graph id in \[{-n}, {n}\)"):
            ds[i]
    assert ds[-1].num_nodes == ds[n - 1].num_nodes and len(list(ds)) == n


def test_train_node_classifier_names_a_missing_model_graph_or_labels():
    from sparsegraph.gnn import models
    from sparsegraph.gnn.train import train_node_classifier

    mask = np.zeros(4, bool)
    mask[:2] = True
    g = sg.Graph(x=sg.randn(4, 3), edge_index=np.array([[0, 1], [1, 2]]), train_mask=mask,
                 val_mask=mask, test_mask=mask)
    model = models.GCN(3, 8, 2, 2)
    op = "train_node_classifier"
    with pytest.raises(ValueError, match=rf"^{op}: expected a graph with `y`"):
        train_node_classifier(model, g, epochs=1)
    for bad_model, bad_graph, what in ((model, None, "graph"), (None, g, "model"),
                                       (model, [g], "graph")):
        with pytest.raises(TypeError, match=rf"^{op}: expected `{what}` to be a"):
            train_node_classifier(bad_model, bad_graph, epochs=1)
    g.y = sg.tensor(np.array([0, 1, 0, 1]))
    assert train_node_classifier(model, g, epochs=1)["best_epoch"] == 0


def test_a_uint8_index_tensor_is_a_mask_as_in_pytorch():
    t = sg.tensor(np.arange(4.0), requires_grad=True)
    mask = sg.tensor(np.array([1, 0, 3, 0], np.uint8))  # nonzero is True
    with pytest.warns(UserWarning, match=r"^getitem: indexing with a uint8 Tensor or array"):
        y = t[mask]
    assert y.tolist() == [0.0, 2.0]
    y.sum().backward()
    assert t.grad.tolist() == [1.0, 0.0, 1.0, 0.0]
    u = sg.tensor(np.arange(4.0))
    with pytest.warns(UserWarning, match=r"^setitem: indexing with a uint8 Tensor or array"):
        u[mask] = 9.0
    assert u.tolist() == [9.0, 1.0, 9.0, 3.0]


@pytest.mark.parametrize("batch", [None, np.array([0, 0])])
def test_global_mean_pool_of_integer_features_is_a_float_mean(batch):
    from sparsegraph.gnn import global_mean_pool

    out = global_mean_pool(sg.tensor(np.array([[1], [2]])), batch)
    assert out.dtype == np.float32 and out.tolist() == [[1.5]]


@pytest.mark.parametrize("call, op, name", [
    (lambda x: sg.nn.functional.leaky_relu(x, "a"), "leaky_relu", "negative_slope"),
    (lambda x: sg.nn.functional.elu(x, alpha="a"), "elu", "alpha"),
    (lambda x: sg.ops.softplus(x, beta=None), "softplus", "beta"),
    (lambda x: sg.ops.hardtanh(x, "a", 1.0), "hardtanh", "min_val"),
])
def test_activation_parameters_are_named_when_not_numbers(call, op, name):
    with pytest.raises(TypeError, match=rf"^{op}: expected a number `{name}`"):
        call(sg.randn(3))


def test_accuracy_refuses_logits_against_class_ids():
    from sparsegraph.gnn.train import accuracy

    with pytest.raises(ValueError, match=r"^accuracy: .* \(got \(4, 3\)\); pass class ids"):
        accuracy(np.zeros((4, 3)), np.zeros(4))
    assert accuracy([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5


def test_stratified_kfold_of_no_samples_says_so():
    from sparsegraph.datasets import stratified_kfold

    with pytest.raises(ValueError, match=r"^stratified_kfold: expected at least 2 samples"):
        stratified_kfold(np.zeros(0, int))


def test_linear_checks_the_bias_shape():
    with pytest.raises(ValueError, match=r"^linear: expected `bias` of shape \(4,\)"):
        sg.nn.functional.linear(sg.ones(2, 3), sg.ones(4, 3), sg.ones(3))
    out = sg.nn.functional.linear(sg.ones(2, 3), sg.ones(4, 3), sg.ones(4))
    assert out.tolist() == [[4.0] * 4] * 2
