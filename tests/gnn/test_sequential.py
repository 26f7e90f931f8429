"""`sparsegraph.gnn.sequential.Sequential`: PyG's string-signature container, against the same
layers called by hand, its state, its errors and its gradients."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import static
from sparsegraph.gnn import GATConv, GCNConv, SAGEConv, global_mean_pool
from sparsegraph.gnn.sequential import Sequential
from sparsegraph.gnn.train import node_classification_step
from sparsegraph.graph import Graph
from sparsegraph.nn import Dropout, Linear, Module, ReLU
from sparsegraph.testing import gradcheck, random_graph

N, F, H, C = 8, 5, 4, 3
EDGES = random_graph(N, 20, seed=3)


def jk_model(f_in=F, hidden=H, classes=C, dropout=0.0):
    """PyG's documented JumpingKnowledge example, the JK "cat" mode written as a lambda."""
    return Sequential("x, edge_index, batch", [
        (Dropout(p=dropout), "x -> x"),
        (GCNConv(f_in, hidden), "x, edge_index -> x1"),
        ReLU(inplace=True),
        (GCNConv(hidden, hidden), "x1, edge_index -> x2"),
        ReLU(inplace=True),
        (lambda x1, x2: [x1, x2], "x1, x2 -> xs"),
        (lambda xs: sg.cat(xs, dim=1), "xs -> x"),
        (global_mean_pool, "x, batch -> x"),
        Linear(2 * hidden, classes),
    ])


def small_batch(dtype="float32"):
    rng = np.random.default_rng(0)
    graphs = [Graph(x=rng.standard_normal((n, F)).astype(dtype),
                    edge_index=random_graph(n, 2 * n, seed=n)) for n in (4, 6, 5)]
    return Graph.batch(graphs)


def test_docstring_example():
    x = sg.randn(N, 7)
    model = Sequential("x, edge_index", [
        (GCNConv(7, 16), "x, edge_index -> x"), ReLU(),
        (GCNConv(16, 3), "x, edge_index -> x"),
    ])
    assert model(x, EDGES).shape == (N, 3)


@pytest.mark.dataset
def test_gcn_on_cora_matches_the_layers_called_by_hand(data_root):
    from sparsegraph.datasets import Planetoid

    g = Planetoid("cora", root=data_root, download=False)[0]
    conv1, relu, conv2 = GCNConv(g.num_features, 16), ReLU(), GCNConv(16, 7)
    model = Sequential("x, edge_index", [
        (conv1, "x, edge_index -> x"), relu, (conv2, "x, edge_index -> x")])
    expected = conv2(relu(conv1(g.x, g.edge_index)), g.edge_index).detach().numpy()
    np.testing.assert_array_equal(model(g.x, g.edge_index).detach().numpy(), expected)
    by_hand = conv2(relu(conv1(g.x, g.adj)), g.adj)
    np.testing.assert_array_equal(model(g.x, g.adj).detach().numpy(), by_hand.detach().numpy())
    assert model(edge_index=g.edge_index, x=g.x).shape == (g.num_nodes, 7)


def test_jumping_knowledge_list_and_readout_match_the_hand_computation():
    b = small_batch()
    model = jk_model()
    _, conv1, _, conv2, *_, lin = list(model)
    x1 = conv1(b.x, b.edge_index).relu()
    x2 = conv2(x1, b.edge_index).relu()
    h = np.concatenate([x1.detach().numpy(), x2.detach().numpy()], axis=1)
    batch = b.batch.detach().numpy()
    pooled = np.stack([h[batch == k].mean(axis=0) for k in range(3)])  # numpy readout
    expected = pooled @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    np.testing.assert_allclose(model(b.x, b.edge_index, b.batch).detach().numpy(), expected,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.dataset
def test_graph_classification_on_a_mutag_batch(data_root):
    from sparsegraph.datasets import TUDataset

    ds = TUDataset("MUTAG", root=data_root, download=False)
    b = Graph.batch([ds[i] for i in range(6)])
    model = jk_model(ds.num_features, 32, 2, dropout=0.5)
    model.eval()  # dropout off: the same numbers as the hand computation
    out = model(b.x, b.edge_index, b.batch)
    assert out.shape == (6, 2)
    _, conv1, _, conv2, *_, lin = list(model)
    x1 = conv1(b.x, b.edge_index).relu()
    x2 = conv2(x1, b.edge_index).relu()
    expected = lin(global_mean_pool(sg.cat([x1, x2], dim=1), b.batch))
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-6,
                               atol=1e-7)
    model.train()
    assert all(m.training for m in model.modules())


def test_multiple_outputs_unpack_a_tuple_and_the_last_entry_gives_them_all():
    x = sg.randn(N, F)
    lin = Linear(F, 2 * H)
    model = Sequential("x", [
        (lin, "x -> h"),
        (lambda h: (h[:, :H], h[:, H:]), "h -> a, b"),
        (lambda a, b: (a + b, a * b), "a, b -> s, p"),
    ])
    s, p = model(x)
    h = lin(x).detach().numpy()
    np.testing.assert_allclose(s.detach().numpy(), h[:, :H] + h[:, H:], rtol=1e-6)
    np.testing.assert_allclose(p.detach().numpy(), h[:, :H] * h[:, H:], rtol=1e-6)


def test_entries_without_a_signature_chain_on_the_previous_outputs():
    x = sg.randn(N, F)
    lin = Linear(F, H)
    model = Sequential("x, edge_index", [lin, ReLU(), (GCNConv(H, C), "x, edge_index -> y"),
                                         (lambda y: y * 2,)])  # a 1-tuple has no signature
    assert [(e.in_names, e.out_names) for e in model._entries] == [
        (("x",), ("x",)), (("x",), ("x",)), (("x", "edge_index"), ("y",)), (("y",), ("y",))]
    expected = model[2](lin(x).relu(), EDGES).detach().numpy() * 2
    np.testing.assert_allclose(model(x, EDGES).detach().numpy(), expected, rtol=1e-6)
    two = Sequential("x", [(lambda x: (x, -x), "x -> a, b"), lambda a, b: (a + 1, b + 1)])
    a, b = two(x)
    np.testing.assert_allclose((a + b).detach().numpy(), np.full((N, F), 2.0), atol=1e-6)


def test_type_hints_and_a_return_type_in_input_args_are_ignored():
    model = Sequential("x: Tensor, edge_index: Optional[Tensor], pair: Tuple[Tensor, Tensor], "
                       "-> Tensor", [(lambda x, pair: x + pair[0], "x, pair -> x")])
    assert model.input_args == ("x", "edge_index", "pair")
    x = sg.ones(2, 2)
    np.testing.assert_array_equal(model(x, None, (x, x)).detach().numpy(), np.full((2, 2), 2.0))


def test_state_dict_uses_pyg_names_and_round_trips(tmp_path):
    model = jk_model()
    keys = ["module_1.bias", "module_1.lin.weight", "module_3.bias", "module_3.lin.weight",
            "module_8.weight", "module_8.bias"]
    assert sorted(model.state_dict()) == sorted(keys)
    assert len(list(model.parameters())) == 6
    assert model.module_1 is model[1] and model.module_5 is model[5]  # a lambda, as in PyG
    sg.save(model.state_dict(), tmp_path / "seq.pt")
    sg.manual_seed(123)
    twin = jk_model()
    b = small_batch()
    assert not np.allclose(twin(b.x, b.edge_index, b.batch).detach().numpy(),
                           model(b.x, b.edge_index, b.batch).detach().numpy())
    twin.load_state_dict(sg.load(tmp_path / "seq.pt"))
    np.testing.assert_array_equal(twin(b.x, b.edge_index, b.batch).detach().numpy(),
                                  model(b.x, b.edge_index, b.batch).detach().numpy())


def test_dict_modules_are_named_by_their_keys():
    conv = GCNConv(F, H)
    model = Sequential("x, edge_index", {
        "conv": (conv, "x, edge_index -> x"), "act": ReLU(), "scale": lambda x: 2 * x,
        "head": Linear(H, C)})
    assert sorted(model.state_dict()) == ["conv.bias", "conv.lin.weight", "head.bias",
                                          "head.weight"]
    assert model.conv is conv and model[0] is conv and dict(model.named_children()).keys() == {
        "conv", "act", "head"}
    x = sg.randn(N, F)
    expected = model.head(2 * conv(x, EDGES).relu())
    np.testing.assert_allclose(model(x, EDGES).detach().numpy(), expected.detach().numpy(),
                               rtol=1e-6)


def test_a_module_used_twice_shares_its_parameters():
    lin = Linear(F, F)
    model = Sequential("x", [lin, ReLU(), lin])
    assert len(list(model.parameters())) == 2
    x = sg.randn(N, F)
    np.testing.assert_allclose(model(x).detach().numpy(), lin(lin(x).relu()).detach().numpy(),
                               rtol=1e-6)


def test_len_indexing_iteration_and_repr():
    model = jk_model()
    assert len(model) == 9
    entries = list(model)
    assert entries[-1] is model[-1] is model[8] and isinstance(entries[1], GCNConv)
    assert entries[7] is global_mean_pool and not isinstance(entries[5], Module)
    with pytest.raises(IndexError, match=r"Sequential: index 9 is out of range \(length 9\)"):
        model[9]
    with pytest.raises(TypeError, match=r"Sequential: expected an int index \(got slice\)"):
        model[1:3]
    lines = repr(model).splitlines()
    assert lines[0] == "Sequential(" and lines[-1] == ")" and len(lines) == 11
    assert lines[2] == f"  (1) - {GCNConv(F, H)!r}: x, edge_index -> x1"
    assert lines[3] == "  (2) - ReLU(inplace=True): x1 -> x1"
    assert lines[6] == "  (5) - <lambda>: x1, x2 -> xs"
    assert lines[8] == "  (7) - global_mean_pool: x, batch -> x"


def test_reset_parameters_resets_every_child_that_has_it():
    calls = []

    class Spy(Module):
        def reset_parameters(self):
            calls.append(self)

        def forward(self, x):
            return x

    spy = Spy()
    model = Sequential("x, edge_index", [(GCNConv(F, H), "x, edge_index -> x"), spy, ReLU(),
                                         lambda x: x])
    before = model[0].lin.weight.detach().numpy().copy()
    model.reset_parameters()
    assert calls == [spy]
    assert not np.allclose(model[0].lin.weight.detach().numpy(), before)


@pytest.mark.parametrize("conv", ["gcn", "sage", "gat"])
def test_gradient_flows_to_every_parameter_and_passes_gradcheck(conv, float64_default):
    make = {"gcn": lambda: GCNConv(F, H), "sage": lambda: SAGEConv(F, H),
            "gat": lambda: GATConv(F, H // 2, heads=2)}[conv]
    b = small_batch("float64")
    model = Sequential("x, edge_index, batch", [
        (make(), "x, edge_index -> x1"), ReLU(),
        (GCNConv(H, H), "x1, edge_index -> x2"),
        (lambda x1, x2: [x1, x2], "x1, x2 -> xs"),
        (lambda xs: sg.cat(xs, dim=1), "xs -> x"),
        (global_mean_pool, "x, batch -> x"), Linear(2 * H, C)])
    x = b.x.detach().requires_grad_()
    model(x, b.edge_index, b.batch).square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.detach().numpy()).sum() > 0, name
    assert np.abs(x.grad.detach().numpy()).sum() > 0
    gradcheck(lambda x, *ps: model(x, b.edge_index, b.batch), [x, *model.parameters()])


def test_a_compiled_training_step_matches_eager_mode():
    rng = np.random.default_rng(0)
    g = Graph(x=rng.standard_normal((30, F)).astype(np.float32),
              edge_index=random_graph(30, 90, seed=4), y=rng.integers(0, C, 30),
              train_mask=np.arange(30) < 20)

    losses, steps, models = {}, {}, {}
    for mode in ("eager", "static"):
        sg.manual_seed(1)
        models[mode] = model = Sequential("x, edge_index", [
            (Dropout(0.5), "x -> x"), (GCNConv(F, 16), "x, edge_index -> x"), ReLU(),
            (GCNConv(16, C), "x, edge_index -> x")])
        initial = model[1].lin.weight.detach().numpy().copy()
        step = node_classification_step(model, g, sg.optim.Adam(model.parameters(), lr=0.01))
        steps[mode] = static.compile(step) if mode == "static" else step
        sg.manual_seed(5)  # the same dropout masks in both modes
        losses[mode] = [float(steps[mode]().item()) for _ in range(4)]
    np.testing.assert_allclose(losses["static"], losses["eager"], rtol=1e-5)
    trained = models["eager"].state_dict()
    assert not np.allclose(trained["module_1.lin.weight"].numpy(), initial, atol=1e-4)
    for key, value in models["static"].state_dict().items():  # the same four Adam steps
        np.testing.assert_allclose(value.numpy(), trained[key].numpy(), rtol=1e-5, atol=1e-7)
    assert steps["static"].traces == 1  # the later calls replayed the captured graph


# ---- errors ---------------------------------------------------------------------------------
def test_input_args_must_be_a_str():
    with pytest.raises(TypeError, match=r"Sequential: expected `input_args` to be a str .*"
                                        r"\(got list\)"):
        Sequential(["x", "edge_index"], [(ReLU(), "x -> x")])


@pytest.mark.parametrize("input_args, message", [
    ("x, 1y", r"cannot parse `input_args` 'x, 1y': expected an argument name .* \(got '1y'\)"),
    ("x, , y", r"cannot parse `input_args` 'x, , y'.* \(got ''\)"),
    ("", r"cannot parse `input_args` ''"),
    ("x:", r"cannot parse `input_args` 'x:'"),
    ("x -> a -> b", r"cannot parse `input_args` 'x -> a -> b'"),
    ("x, batch=None", r"cannot parse .* default values are not supported \(got 'batch=None'\)"),
    ("x, x", r"duplicate argument 'x' in `input_args` 'x, x'"),
])
def test_bad_input_args_are_refused(input_args, message):
    with pytest.raises(ValueError, match="Sequential: " + message):
        Sequential(input_args, [(ReLU(), "x -> x")])


@pytest.mark.parametrize("entry, message", [
    ((ReLU(), "x, edge_index x"), r"cannot parse the signature of entry 1 \('x, edge_index x'\)"),
    ((ReLU(), "x ->"), r"cannot parse the signature of entry 1 \('x ->'\)"),
    ((ReLU(), "x -> a -> b"), r"cannot parse the signature of entry 1 \('x -> a -> b'\)"),
    ((ReLU(), "x: Tensor -> x"), r"cannot parse the signature of entry 1 \('x: Tensor -> x'\)"),
    ((ReLU(), "x -> a, a"), r"entry 1 \('x -> a, a'\) names an output twice"),
    ((ReLU(), "x, h -> x"), r"entry 1 \('x, h -> x'\) reads 'h' before it is defined: "
                            r"expected one of .* \(edge_index, x\)"),
    ((ReLU(), 3), r"expected the signature of entry 1 to be a str .* \(got int 3\)"),
    ((ReLU(), "x -> x", "extra"), r"expected entry 1 to be a callable or a \(callable, "
                                  r"'in -> out'\) pair \(got a tuple of length 3\)"),
    ((), r"expected entry 1 to be a callable .* \(got a tuple of length 0\)"),
    ((42, "x -> x"), r"expected entry 1 to be callable \(got int 42\)"),
    ("relu", r"expected entry 1 to be callable \(got str 'relu'\)"),
    (ReLU, r"expected entry 1 to be a module instance \(got the class ReLU; write ReLU\(...\)\)"),
])
def test_bad_entries_are_refused_naming_their_index(entry, message):
    with pytest.raises(ValueError, match="Sequential: " + message):
        Sequential("x, edge_index", [(Linear(F, F), "x -> x"), entry])


def test_an_output_read_by_a_later_entry_before_it_is_written_is_refused():
    with pytest.raises(ValueError, match=r"Sequential: entry 0 \('x2 -> x1'\) reads 'x2'"):
        Sequential("x", [(ReLU(), "x2 -> x1"), (ReLU(), "x1 -> x2")])


@pytest.mark.parametrize("modules, error, message", [
    ([], ValueError, r"expected a non-empty `modules` \(got no entries\)"),
    (ReLU(), TypeError, r"expected `modules` to be a list of entries or a dict .* \(got ReLU\)"),
    ({"forward": ReLU()}, ValueError, r"cannot use 'forward' as the name of entry 0"),
    ({"a.b": ReLU()}, ValueError, r"cannot use 'a.b' as the name of entry 0"),
    ({"input_args": lambda x: x}, ValueError, r"cannot use 'input_args' as the name of entry 0"),
    ({"_entries": ReLU()}, ValueError, r"cannot use '_entries' as the name of entry 0"),
    ({0: ReLU()}, TypeError, r"expected the `modules` key of entry 0 to be a str \(got int 0\)"),
])
def test_bad_modules_are_refused(modules, error, message):
    with pytest.raises(error, match="Sequential: " + message):
        Sequential("x", modules)


def test_forward_binds_arguments_as_a_python_function():
    model = Sequential("x, edge_index, batch", [(lambda x, batch: x, "x, batch -> x")])
    x = sg.randn(N, F)
    assert model(x, EDGES, None) is x and model(x, batch=None, edge_index=EDGES) is x
    with pytest.raises(TypeError, match=r"Sequential: forward is missing 1 required "
                                        r"argument\(s\): 'batch'"):
        model(x, EDGES)
    with pytest.raises(TypeError, match=r"missing 2 required argument\(s\): 'x', 'edge_index'"):
        model(batch=None)
    with pytest.raises(TypeError, match=r"forward takes 3 argument\(s\) \(x, edge_index, batch\) "
                                        r"but 4 were given"):
        model(x, EDGES, None, None)
    with pytest.raises(TypeError, match=r"forward got an unexpected keyword argument 'edge_attr'"):
        model(x, EDGES, None, edge_attr=None)
    with pytest.raises(TypeError, match=r"forward got multiple values for argument 'x'"):
        model(x, EDGES, None, x=x)


def test_a_multi_output_entry_must_return_that_many_values():
    x = sg.randn(N, F)
    one = Sequential("x", [(lambda x: x, "x -> a, b")])
    with pytest.raises(TypeError, match=r"Sequential: entry 0 \('x -> a, b'\) returned a Tensor: "
                                        r"expected a tuple of 2 values"):
        one(x)
    three = Sequential("x", [(lambda x: (x, x, x), "x -> a, b")])
    with pytest.raises(ValueError, match=r"Sequential: entry 0 \('x -> a, b'\) returned 3 "
                                         r"values: expected 2"):
        three(x)
