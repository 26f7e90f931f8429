"""Graph normalisation layers (PyG's torch_geometric.nn.norm): BatchNorm, LayerNorm,
GraphNorm, InstanceNorm, PairNorm, MeanSubtractionNorm against numpy references of PyG's
formulas in float64 on a batch of three graphs (one of a single node), train / eval and
running statistics over several steps, float64 gradchecks, PyG's state-dict keys and repr,
errors, and a GIN + GraphNorm training run on MUTAG."""

import re

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import (
    BatchNorm,
    GraphNorm,
    InstanceNorm,
    LayerNorm,
    MeanSubtractionNorm,
    PairNorm,
)
from sparsegraph.testing import gradcheck
from tests.conv_cases import fit_graphs

SIZES = (4, 1, 5)  # three graphs of different sizes, the middle one a single node
F = 3
BATCH = np.repeat(np.arange(len(SIZES)), SIZES)


def _x(seed=0, shift=2.0, grad=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((sum(SIZES), F)) * rng.uniform(0.5, 3.0, F) + shift
    return sg.tensor(x, dtype=sg.float64, requires_grad=grad)


def _np(t):
    return t.detach().numpy()


def _randomise(layer, seed=1):
    """Non-trivial parameter values, so a formula that ignores one cannot pass."""
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.array[...] = rng.uniform(0.5, 1.5, p.shape)
    return layer


def _graphs(x, batch):
    return [np.flatnonzero(batch == g) for g in range(batch.max() + 1)]


# ---- numpy references of PyG's forward (loops over graphs are fine here) -------------------
def ref_layer_graph(x, batch, w, b, eps=1e-5):
    out = np.empty_like(x)
    for ids in _graphs(x, batch):
        xc = x[ids] - x[ids].mean()
        out[ids] = xc / np.sqrt((xc ** 2).mean() + eps)
    return out * w + b


def ref_layer_no_batch(x, w, b, eps=1e-5):
    xc = x - x.mean()
    return xc / (xc.std() + eps) * w + b  # PyG: eps added to the (biased) std here


def ref_layer_node(x, w, b, eps=1e-5):
    xc = x - x.mean(1, keepdims=True)
    return xc / np.sqrt(xc.var(1, keepdims=True) + eps) * w + b


def ref_graph_norm(x, batch, w, b, alpha, eps=1e-5):
    out = np.empty_like(x)
    for ids in _graphs(x, batch):
        o = x[ids] - x[ids].mean(0) * alpha
        out[ids] = w * o / np.sqrt((o ** 2).mean(0) + eps) + b
    return out


def ref_instance(x, batch, eps=1e-5):
    """``(out, means, unbiased variances)`` per graph."""
    out, means, uvars = np.empty_like(x), [], []
    for ids in _graphs(x, batch):
        m = x[ids].mean(0)
        xc = x[ids] - m
        out[ids] = xc / np.sqrt((xc ** 2).mean(0) + eps)
        means.append(m)
        uvars.append((xc ** 2).sum(0) / max(ids.size - 1, 1))
    return out, np.array(means), np.array(uvars)


def ref_pair(x, batch, scale, individually, eps=1e-5):
    out = np.empty_like(x)
    for ids in _graphs(x, batch):
        xc = x[ids] - x[ids].mean(0)
        if individually:
            out[ids] = scale * xc / (eps + np.linalg.norm(xc, axis=1, keepdims=True))
        else:
            out[ids] = scale * xc / np.sqrt(eps + (xc ** 2).sum(1).mean())
    return out


def ref_mean_sub(x, batch):
    out = np.empty_like(x)
    for ids in _graphs(x, batch):
        out[ids] = x[ids] - x[ids].mean(0)
    return out


def _params(layer):
    return {k: _np(v) for k, v in layer.state_dict().items()}


# ---- values -----------------------------------------------------------------------------------
def test_graph_norm_matches_pyg_formula():
    x = _x()
    layer = _randomise(GraphNorm(F).double())
    p = _params(layer)
    out = layer(x, sg.tensor(BATCH))
    expected = ref_graph_norm(_np(x), BATCH, p["weight"], p["bias"], p["mean_scale"])
    np.testing.assert_allclose(_np(out), expected, rtol=1e-10, atol=1e-12)
    # the single-node graph is not zeroed: mean_scale != 1 leaves c = (1 - alpha) * x there
    c = (1 - p["mean_scale"]) * _np(x)[4]
    np.testing.assert_allclose((_np(out)[4] - p["bias"]) / p["weight"],
                               c / np.sqrt(c * c + 1e-5), rtol=1e-10)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_graph_mode_matches_pyg_formula(affine):
    x = _x()
    layer = _randomise(LayerNorm(F, affine=affine).double())
    w, b = (_np(layer.weight), _np(layer.bias)) if affine else (1.0, 0.0)
    np.testing.assert_allclose(_np(layer(x, BATCH)), ref_layer_graph(_np(x), BATCH, w, b),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_np(layer(x)), ref_layer_no_batch(_np(x), w, b), rtol=1e-10)


def test_layer_norm_node_mode_is_per_node_and_ignores_batch():
    x = _x()
    layer = _randomise(LayerNorm(F, mode="node").double())
    expected = ref_layer_node(_np(x), _np(layer.weight), _np(layer.bias))
    np.testing.assert_allclose(_np(layer(x, BATCH)), expected, rtol=1e-10)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-10)


@pytest.mark.parametrize("individually", [False, True])
def test_pair_norm_matches_pyg_formula(individually):
    x = _x()
    layer = PairNorm(scale=2.5, scale_individually=individually)
    np.testing.assert_allclose(_np(layer(x, BATCH)),
                               ref_pair(_np(x), BATCH, 2.5, individually), rtol=1e-10)
    one = np.zeros(x.shape[0], dtype=np.int64)
    np.testing.assert_allclose(_np(layer(x)), ref_pair(_np(x), one, 2.5, individually),
                               rtol=1e-10)


def test_mean_subtraction_norm_matches_pyg_formula():
    x = _x()
    layer = MeanSubtractionNorm()
    np.testing.assert_allclose(_np(layer(x, BATCH)), ref_mean_sub(_np(x), BATCH), rtol=1e-12)
    np.testing.assert_allclose(_np(layer(x)), _np(x) - _np(x).mean(0), rtol=1e-12)
    # PyG's keyword is dim_size; batch_size is accepted too
    np.testing.assert_allclose(_np(layer(x, BATCH, dim_size=5)), _np(layer(x, BATCH)))
    np.testing.assert_allclose(_np(layer(x, BATCH, batch_size=5)), _np(layer(x, BATCH)))


@pytest.mark.parametrize("make", [lambda: GraphNorm(F), lambda: PairNorm(),
                                  lambda: MeanSubtractionNorm(), lambda: InstanceNorm(F),
                                  lambda: LayerNorm(F, mode="node")],
                         ids=["GraphNorm", "PairNorm", "MeanSubtractionNorm", "InstanceNorm",
                              "LayerNorm-node"])
def test_batch_none_is_one_graph_and_unsorted_batch_is_a_permutation(make):
    layer = _randomise(make().double())
    x = _x()
    zeros = np.zeros(x.shape[0], dtype=np.int64)
    np.testing.assert_allclose(_np(layer(x)), _np(layer(x, zeros)), rtol=1e-12)
    perm = np.random.default_rng(3).permutation(x.shape[0])
    out = _np(layer(x, BATCH))
    np.testing.assert_allclose(_np(layer(x[perm], BATCH[perm])), out[perm], rtol=1e-12)
    # a larger batch_size adds graphs without nodes: the nodes' values do not change
    np.testing.assert_allclose(_np(layer(x, BATCH, 6)), out, rtol=1e-12)


def test_float32_in_float32_out():
    x = _x().float()
    for layer in (GraphNorm(F), LayerNorm(F), InstanceNorm(F, affine=True), PairNorm(),
                  MeanSubtractionNorm()):
        out = layer(x, BATCH)
        assert out.dtype == sg.float32 and out.shape == x.shape
    assert BatchNorm(F)(x).dtype == sg.float32


# ---- running statistics, train vs eval ----------------------------------------------------------
def test_instance_norm_running_stats_over_steps_and_eval():
    layer = _randomise(InstanceNorm(F, momentum=0.3, affine=True, track_running_stats=True)
                       .double())
    w, b = _np(layer.weight), _np(layer.bias)
    rm, rv = np.zeros(F), np.ones(F)
    for step in range(3):
        x = _x(seed=step, shift=step)
        out, means, uvars = ref_instance(_np(x), BATCH)
        np.testing.assert_allclose(_np(layer(x, BATCH)), out * w + b, rtol=1e-10, atol=1e-12)
        rm = 0.7 * rm + 0.3 * means.mean(0)  # PyG: the mean over the graphs of the batch
        rv = 0.7 * rv + 0.3 * uvars.mean(0)  # of the unbiased per-graph variances
        np.testing.assert_allclose(_np(layer.running_mean), rm, rtol=1e-12)
        np.testing.assert_allclose(_np(layer.running_var), rv, rtol=1e-12)
    assert int(layer.num_batches_tracked) == 0  # PyG never counts
    layer.eval()
    x = _x(seed=9)
    expected = (_np(x) - rm) / np.sqrt(rv + 1e-5) * w + b
    np.testing.assert_allclose(_np(layer(x, BATCH)), expected, rtol=1e-10)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-10)
    np.testing.assert_allclose(_np(layer.running_mean), rm)  # eval does not update


def test_instance_norm_running_mean_counts_empty_graph_ids_as_zeros():
    layer = InstanceNorm(F, momentum=1.0, track_running_stats=True).double()
    x = _x()
    layer(x, BATCH, batch_size=5)  # graphs 3 and 4 have no nodes
    _, means, _ = ref_instance(_np(x), BATCH)
    np.testing.assert_allclose(_np(layer.running_mean), means.sum(0) / 5, rtol=1e-12)


def test_instance_norm_without_running_stats_uses_graph_statistics_in_eval():
    layer = InstanceNorm(F).double()
    x = _x()
    train = _np(layer(x, BATCH))
    np.testing.assert_allclose(_np(layer.eval()(x, BATCH)), train)
    np.testing.assert_allclose(train, ref_instance(_np(x), BATCH)[0], rtol=1e-10, atol=1e-12)
    assert layer.running_mean is None and list(layer.state_dict()) == []


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_running_stats_over_steps_and_eval(momentum):
    layer = _randomise(BatchNorm(F, momentum=momentum).double())
    w, b = _np(layer.module.weight), _np(layer.module.bias)
    rm, rv = np.zeros(F), np.ones(F)
    for step in range(3):
        x = _np(_x(seed=step, shift=step))
        expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * w + b  # biased variance
        np.testing.assert_allclose(_np(layer(sg.tensor(x))), expected, rtol=1e-10)
        m = 1 / (step + 1) if momentum is None else momentum  # None: cumulative average
        rm = (1 - m) * rm + m * x.mean(0)
        rv = (1 - m) * rv + m * x.var(0, ddof=1)  # running stats: unbiased
        np.testing.assert_allclose(_np(layer.module.running_mean), rm, rtol=1e-12)
        np.testing.assert_allclose(_np(layer.module.running_var), rv, rtol=1e-12)
    assert int(layer.module.num_batches_tracked) == 3
    layer.eval()
    x = _np(_x(seed=7))
    np.testing.assert_allclose(_np(layer(sg.tensor(x))),
                               (x - rm) / np.sqrt(rv + 1e-5) * w + b, rtol=1e-10)


def test_batch_norm_single_element():
    x = sg.tensor([[1.0, -2.0, 0.5]], dtype=sg.float64)
    with pytest.raises(ValueError, match="BatchNorm: expected more than one value per channel"):
        BatchNorm(F).double()(x)
    layer = _randomise(BatchNorm(F, allow_single_element=True).double())
    bn = layer.module
    bn.running_mean.array[...] = [0.5, 1.0, -1.0]
    bn.running_var.array[...] = [2.0, 0.5, 1.5]
    expected = ((_np(x) - _np(bn.running_mean)) / np.sqrt(_np(bn.running_var) + 1e-5)
                * _np(bn.weight) + _np(bn.bias))
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-12)  # training mode too
    np.testing.assert_array_equal(_np(bn.running_mean), [0.5, 1.0, -1.0])  # not updated
    assert int(bn.num_batches_tracked) == 0
    with pytest.raises(ValueError, match="allow_single_element=True requires "
                                         "track_running_stats=True"):
        BatchNorm(F, track_running_stats=False, allow_single_element=True)


# ---- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("make, batch", [
    (lambda: GraphNorm(F), BATCH),
    (lambda: GraphNorm(F), None),
    (lambda: LayerNorm(F), BATCH),
    (lambda: LayerNorm(F), None),
    (lambda: LayerNorm(F, mode="node"), None),
    (lambda: InstanceNorm(F, affine=True), BATCH),
    (lambda: InstanceNorm(F, affine=True, track_running_stats=True), None),
    (lambda: InstanceNorm(F, affine=True, track_running_stats=True).eval(), BATCH),
    (lambda: PairNorm(1.5), BATCH),
    (lambda: PairNorm(1.5, scale_individually=True), BATCH),
    (lambda: PairNorm(), None),
    (lambda: MeanSubtractionNorm(), BATCH),
    (lambda: BatchNorm(F), None),
    (lambda: BatchNorm(F).eval(), None),
], ids=["graph", "graph-none", "layer", "layer-none", "layer-node", "instance",
        "instance-none", "instance-eval", "pair", "pair-individual", "pair-none", "meansub",
        "batch", "batch-eval"])
def test_gradcheck_x_and_parameters(make, batch):
    layer = _randomise(make().double())
    x = _x(grad=True)
    params = list(layer.parameters())

    def fn(x, *params):
        return layer(x) if batch is None else layer(x, batch)

    assert gradcheck(fn, [x, *params], rtol=1e-5, atol=1e-7)


# ---- PyG's state dict, repr, reset ------------------------------------------------------------
def test_state_dict_keys_and_repr_as_pyg():
    cases = [
        (BatchNorm(16), ["module.weight", "module.bias", "module.running_mean",
                         "module.running_var", "module.num_batches_tracked"], "BatchNorm(16)"),
        (LayerNorm(16), ["weight", "bias"], "LayerNorm(16, affine=True, mode=graph)"),
        (LayerNorm(16, affine=False, mode="node"), [],
         "LayerNorm(16, affine=False, mode=node)"),
        (GraphNorm(16), ["weight", "bias", "mean_scale"], "GraphNorm(16)"),
        (InstanceNorm(16), [], "InstanceNorm(16)"),
        (InstanceNorm(16, affine=True, track_running_stats=True),
         ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
         "InstanceNorm(16)"),
        (PairNorm(), [], "PairNorm()"),
        (MeanSubtractionNorm(), [], "MeanSubtractionNorm()"),
    ]
    for layer, keys, text in cases:
        assert list(layer.state_dict()) == keys, text
        assert repr(layer) == text


def test_reset_parameters_restores_the_initial_values():
    layers = [BatchNorm(F), LayerNorm(F), GraphNorm(F),
              InstanceNorm(F, affine=True, track_running_stats=True)]
    for layer in layers:
        fresh = {k: _np(v).copy() for k, v in layer.state_dict().items()}
        _randomise(layer)
        layer(_x().float(), *(() if isinstance(layer, BatchNorm) else (BATCH,)))
        layer.reset_parameters()
        for k, v in layer.state_dict().items():
            np.testing.assert_array_equal(_np(v), fresh[k], err_msg=f"{layer!r} {k}")
    assert fresh["running_var"].tolist() == [1.0] * F


# ---- errors -----------------------------------------------------------------------------------
LAYERS = {"BatchNorm": lambda: BatchNorm(F), "LayerNorm": lambda: LayerNorm(F),
          "GraphNorm": lambda: GraphNorm(F), "InstanceNorm": lambda: InstanceNorm(F),
          "PairNorm": lambda: PairNorm(), "MeanSubtractionNorm": lambda: MeanSubtractionNorm()}


@pytest.mark.parametrize("name", list(LAYERS))
def test_x_errors(name):
    layer = LAYERS[name]()
    shape = "(N, F)" if name in ("PairNorm", "MeanSubtractionNorm") else f"(N, {F})"
    with pytest.raises(ValueError, match=re.escape(f"{name}: expected `x` of shape {shape}")):
        layer(sg.randn(4))
    with pytest.raises(TypeError, match=f"{name}: expected `x` to be a Tensor"):
        layer(np.ones((4, F)))
    with pytest.raises(TypeError, match=f"{name}: expected a floating `x`"):
        layer(sg.ones(4, F, dtype=sg.int64))
    if name not in ("PairNorm", "MeanSubtractionNorm"):
        with pytest.raises(ValueError, match=rf"{name}: expected `x` of shape .*\(got \(4, 5\)"):
            layer(sg.randn(4, 5))


@pytest.mark.parametrize("name", [n for n in LAYERS if n != "BatchNorm"])
def test_batch_errors(name):
    layer, x = LAYERS[name](), sg.randn(sum(SIZES), F)
    size = "dim_size" if name == "MeanSubtractionNorm" else "batch_size"
    with pytest.raises(ValueError, match=rf"{name}: expected `batch` with 10 entries, one "
                                         r"graph id per row of `x` of shape \(10, 3\) "
                                         r"\(got shape \(9,\)\)"):
        layer(x, BATCH[:-1])
    with pytest.raises(TypeError, match=f"{name}: expected integer graph ids in `batch`"):
        layer(x, BATCH.astype(np.float32))
    with pytest.raises(ValueError, match=f"{name}: expected graph ids >= 0"):
        layer(x, BATCH - 1)
    with pytest.raises(ValueError, match=rf"{name}: expected `{size}` to be an int >= 3, "
                                         r"the number of graphs `batch` refers to \(got 2\)"):
        layer(x, BATCH, 2)
    with pytest.raises(ValueError, match=f"{name}: with batch=None every node is in one graph"):
        layer(x, None, 2)


def test_dtype_mismatch_and_instance_norm_single_node():
    with pytest.raises(TypeError, match=r"GraphNorm: expected `x` of dtype float32 .*got "
                                        r"float64\); convert x, or the layer with \.double\(\)"):
        GraphNorm(F)(_x(), BATCH)
    with pytest.raises(TypeError, match="BatchNorm: expected `x` of dtype float32"):
        BatchNorm(F)(_x())
    with pytest.raises(ValueError, match="InstanceNorm: expected more than one node per "
                                         "feature"):
        InstanceNorm(F)(sg.randn(1, F))
    # in a batch a single-node graph normalises to 0, as PyG
    out = InstanceNorm(F).double()(_x(), BATCH)
    np.testing.assert_array_equal(_np(out)[4], 0.0)


@pytest.mark.parametrize("make, error, message", [
    (lambda: LayerNorm(F, mode="edge"), ValueError,
     "LayerNorm: expected `mode` to be 'graph' or 'node' (got 'edge')"),
    (lambda: GraphNorm(0), ValueError, "GraphNorm: expected in_channels >= 1 (got 0)"),
    (lambda: GraphNorm(2.0), TypeError, "GraphNorm: expected an int in_channels"),
    (lambda: InstanceNorm(F, momentum=None), TypeError,
     "InstanceNorm: expected momentum to be a number"),
    (lambda: BatchNorm(F, eps="1e-5"), TypeError, "BatchNorm: expected eps to be a number"),
    (lambda: PairNorm(scale_individually=1), TypeError,
     "PairNorm: expected a bool scale_individually"),
])
def test_constructor_errors(make, error, message):
    with pytest.raises(error) as err:
        make()
    assert message in str(err.value)


# ---- training ---------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["graph", "batch"])
def test_gin_with_norm_learns_mutag(data_root, norm):
    """A two-layer GIN with GraphNorm (or BatchNorm) after each conv: the training loss falls
    and the train accuracy rises well above the majority class (66.5 %) in 10 epochs."""
    from sparsegraph.datasets import TUDataset
    from sparsegraph.gnn import GINConv, global_add_pool
    from sparsegraph.nn import Linear, ReLU, Sequential

    sg.manual_seed(0)
    ds = TUDataset("MUTAG", root=data_root, download=False)
    graphs = [ds[i] for i in range(len(ds))]
    hidden = 32
    convs = [GINConv(Sequential(Linear(c, hidden), ReLU(), Linear(hidden, hidden)))
             for c in (ds.num_features, hidden)]
    norms = [GraphNorm(hidden) if norm == "graph" else BatchNorm(hidden) for _ in convs]
    head = Linear(hidden, 2)
    opt = sg.optim.Adam([p for m in (*convs, *norms, head) for p in m.parameters()], lr=0.01)

    def forward(g):
        x = g.x
        for conv, n in zip(convs, norms, strict=True):
            h = conv(x, g.edge_index)
            x = (n(h, g.batch) if norm == "graph" else n(h)).relu()
        return head(global_add_pool(x, g.batch))

    # GraphNorm has no running statistics (eval = train); BatchNorm's, after a few dozen
    # steps at momentum 0.1, still lag, so the accuracy is of all graphs in one batch
    before, losses, after = fit_graphs(forward, opt, graphs, 10)
    assert losses[-1] < 0.6 * losses[0], losses
    assert after >= 0.8 and after > before + 0.1, (before, after)
