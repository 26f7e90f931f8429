"""TopKPooling (Gao & Ji 2019) and SAGPooling (Lee et al. 2019), PyG's: values against a numpy
reference of PyG's topk / filter_adj on a batch of graphs of different sizes, float / int
ratio and min_score, float64 gradchecks, a MUTAG training loop, errors."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph.gnn import GraphConv, SAGPooling, TopKPooling, global_max_pool, global_mean_pool
from sparsegraph.nn import Linear
from sparsegraph.testing import gradcheck

SIZES = (4, 6, 3)  # three graphs of different sizes


def _batch_graph(sizes=SIZES, seed=0, f=3):
    """A batch: a ring in every graph plus one chord, random features and edge_attr."""
    rng = np.random.default_rng(seed)
    src, dst, start = [], [], 0
    for n in sizes:
        ids = np.arange(start, start + n)
        src += [*ids, ids[0]]
        dst += [*np.roll(ids, -1), ids[n // 2]]
        start += n
    ei = np.stack([src + dst, dst + src])
    batch = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.standard_normal((start, f))
    return x, ei, rng.standard_normal((ei.shape[1], 2)), batch


def ref_topk(score, ratio, batch, min_score=None, dtype=np.float64):
    """PyG's topk, graph by graph (a reference, loops allowed)."""
    perm = []
    if min_score is not None:
        top = {g: score[batch == g].max() for g in np.unique(batch)}
        return np.array([i for i in range(score.size)
                         if score[i] > min(top[batch[i]] - 1e-7, min_score)], dtype=np.int64)
    for g in range(batch.max() + 1):
        ids = np.flatnonzero(batch == g)
        k = (min(ratio, ids.size) if isinstance(ratio, int)
             else int(np.ceil(dtype(ratio) * dtype(ids.size))))
        perm += list(ids[np.argsort(-score[ids], kind="stable")][:k])
    return np.array(perm, dtype=np.int64)


def ref_filter_adj(ei, edge_attr, perm):
    new = {int(p): i for i, p in enumerate(perm)}
    keep = [e for e in range(ei.shape[1]) if ei[0, e] in new and ei[1, e] in new]
    out = np.array([[new[ei[0, e]] for e in keep], [new[ei[1, e]] for e in keep]]).reshape(2, -1)
    return out, edge_attr[keep]


def ref_softmax(s, batch):
    out = np.empty_like(s)
    for g in np.unique(batch):
        m = batch == g
        e = np.exp(s[m] - s[m].max())
        out[m] = e / e.sum()
    return out


def ref_pool(x, ei, edge_attr, batch, raw, ratio, min_score=None, act=np.tanh, mult=1.0):
    score = act(raw) if min_score is None else ref_softmax(raw, batch)
    perm = ref_topk(score, ratio, batch, min_score)
    new_ei, new_attr = ref_filter_adj(ei, edge_attr, perm)
    return (x[perm] * score[perm][:, None] * mult, new_ei, new_attr, batch[perm], perm,
            score[perm])


def _t(a, grad=False):
    return sg.tensor(a, dtype=sg.float64, requires_grad=grad)


def _check(out, expected):
    assert len(out) == 6
    x, ei, attr, batch, perm, score = out
    ex, eei, eattr, ebatch, eperm, escore = expected
    np.testing.assert_array_equal(perm.numpy(), eperm)
    assert perm.dtype == np.int64
    np.testing.assert_allclose(x.detach().numpy(), ex, rtol=1e-12)
    np.testing.assert_array_equal(ei.numpy(), eei)
    np.testing.assert_allclose(attr.detach().numpy(), eattr)
    np.testing.assert_array_equal(batch.numpy(), ebatch)
    np.testing.assert_allclose(score.detach().numpy(), escore, rtol=1e-12)


@pytest.mark.parametrize("ratio, min_score", [(0.5, None), (0.8, None), (1.0, None),
                                              (2, None), (5, None), (0.5, 0.3)])
def test_topk_pooling_matches_pyg_reference(ratio, min_score):
    x, ei, attr, batch = _batch_graph()
    pool = TopKPooling(3, ratio=ratio, min_score=min_score).double()
    w = pool.weight.detach().numpy()[0]
    raw = x @ w if min_score is not None else x @ w / np.linalg.norm(w)
    out = pool(_t(x), sg.tensor(ei), _t(attr), sg.tensor(batch))
    expected = ref_pool(x, ei, attr, batch, raw, ratio, min_score)
    _check(out, expected)
    if min_score is None and isinstance(ratio, float):
        counts = np.bincount(out[3].numpy(), minlength=3)
        np.testing.assert_array_equal(counts, np.ceil(ratio * np.array(SIZES)))
    if isinstance(ratio, int):
        np.testing.assert_array_equal(np.bincount(out[3].numpy()), np.minimum(ratio, SIZES))


def test_min_score_keeps_at_least_the_best_node_of_every_graph():
    x, ei, attr, batch = _batch_graph()
    out = TopKPooling(3, min_score=10.0).double()(_t(x), ei, _t(attr), batch)
    # a softmax score is never above 10: only each graph's best node survives (the tol rule)
    np.testing.assert_array_equal(out[3].numpy(), [0, 1, 2])


def test_float_ratio_is_ceiled_in_the_score_dtype_as_pyg():
    # PyG: (float(ratio) * num_nodes.to(x.dtype)).ceil(): 0.6 * 25 rounds to just above 15
    # in float32 (16 nodes kept) and is 15 in float64
    rng = np.random.default_rng(1)
    x = rng.standard_normal((25, 2))
    ei = np.zeros((2, 0), dtype=np.int64)
    assert np.ceil(np.float32(0.6) * np.float32(25)) == 16 and np.ceil(0.6 * 25) == 15
    assert TopKPooling(2, 0.6)(sg.tensor(x, dtype=sg.float32), ei)[4].shape == (16,)
    assert TopKPooling(2, 0.6).double()(_t(x), ei)[4].shape == (15,)


def test_sag_pooling_matches_graphconv_score_reference():
    x, ei, attr, batch = _batch_graph(seed=3)
    pool = SAGPooling(3, ratio=0.5).double()
    sd = {k: v.detach().numpy() for k, v in pool.state_dict().items()}
    agg = np.zeros_like(x)
    np.add.at(agg, ei[1], x[ei[0]])
    raw = (agg @ sd["gnn.lin_rel.weight"].T + sd["gnn.lin_rel.bias"]
           + x @ sd["gnn.lin_root.weight"].T)[:, 0]
    _check(pool(_t(x), ei, _t(attr), batch), ref_pool(x, ei, attr, batch, raw, 0.5))
    pool = SAGPooling(3, min_score=0.2, multiplier=2.0).double()
    pool.load_state_dict({k: sg.tensor(v) for k, v in sd.items()})
    _check(pool(_t(x), ei, _t(attr), batch),
           ref_pool(x, ei, attr, batch, raw, None, 0.2, mult=2.0))


def test_multiplier_nonlinearity_attn_and_no_batch():
    x, ei, attr, _ = _batch_graph(sizes=(7,), seed=4)
    rng = np.random.default_rng(5)
    attn = rng.standard_normal((7, 2))
    pool = TopKPooling(2, ratio=3, multiplier=0.5, nonlinearity="sigmoid").double()
    w = pool.weight.detach().numpy()[0]
    out = pool(_t(x), ei, _t(attr), attn=_t(attn))  # batch=None: one graph
    expected = ref_pool(x, ei, attr, np.zeros(7, np.int64), attn @ w / np.linalg.norm(w), 3,
                        act=lambda v: 1 / (1 + np.exp(-v)), mult=0.5)
    _check(out, expected)
    custom = TopKPooling(2, ratio=3, nonlinearity=lambda t: t * 2.0).double()
    custom.load_state_dict(pool.state_dict())
    score = custom(_t(x), ei, attn=_t(attn))[5].detach().numpy()
    np.testing.assert_allclose(np.sort(score)[::-1], np.sort(2 * attn @ w / np.linalg.norm(w))
                               [::-1][:3])


def test_edge_index_dtype_and_numpy_inputs_are_kept():
    x, ei, _, batch = _batch_graph()
    out = TopKPooling(3).double()(_t(x), ei.astype(np.int32), None, batch)
    assert out[1].dtype == np.int32 and out[2] is None
    assert isinstance(out[1], sg.Tensor) and out[1].shape[0] == 2


def test_gradcheck_topk_pooling_x_and_edge_attr():
    x, ei, attr, batch = _batch_graph(seed=6)
    for min_score in (None, 0.2):
        pool = TopKPooling(3, ratio=0.6, min_score=min_score).double()

        def run(x_, a_, pool=pool):
            out = pool(x_, ei, a_, batch)
            return out[0], out[2], out[5]

        assert gradcheck(run, [_t(x, True), _t(attr, True)])


@pytest.mark.parametrize("min_score", [None, 0.2])
def test_gradcheck_topk_pooling_projection_weight(min_score):
    # the projection weight learns through the score: perturb the module's own parameter
    x, ei, _, batch = _batch_graph(seed=7)
    pool = TopKPooling(3, ratio=0.5, min_score=min_score).double()
    w0 = pool.weight.detach().numpy().copy()

    def run(w_):
        pool._parameters["weight"] = w_
        try:
            out = pool(_t(x), ei, None, batch)
            return out[0], out[5]
        finally:
            pool._parameters["weight"] = sg.nn.Parameter(sg.tensor(w0, dtype=sg.float64))

    assert gradcheck(run, [_t(w0, True)])


def test_gradcheck_sag_pooling():
    x, ei, attr, batch = _batch_graph(seed=8)
    pool = SAGPooling(3, ratio=0.5).double()

    def run(x_, a_):
        out = pool(x_, ei, a_, batch)
        return out[0], out[2], out[5]

    assert gradcheck(run, [_t(x, True), _t(attr, True)])
    out = pool(_t(x), ei, None, batch)
    out[0].sum().backward()
    assert all(np.abs(p.grad.numpy()).sum() > 0 for p in pool.parameters())


def test_mutag_training_loss_decreases():
    from sparsegraph.datasets import GraphLoader, TUDataset

    ds = TUDataset("MUTAG")
    graphs = [ds[i] for i in range(64)]
    conv1, pool1 = GraphConv(7, 32), TopKPooling(32, ratio=0.8)
    conv2, pool2 = GraphConv(32, 32), SAGPooling(32, ratio=0.8)
    lin = Linear(64, 2)
    mods = [conv1, pool1, conv2, pool2, lin]
    params = [p for m in mods for p in m.parameters()]
    opt = sg.optim.Adam(params, lr=0.01)
    sg.manual_seed(0)

    def epoch():
        total = 0.0
        for g in GraphLoader(graphs, batch_size=16):
            x = ops.relu(conv1(g.x, g.edge_index))
            x, ei, _, b, _, _ = pool1(x, g.edge_index, None, g.batch)
            x = ops.relu(conv2(x, ei))
            x, ei, _, b, _, _ = pool2(x, ei, None, b)
            h = ops.cat([global_max_pool(x, b), global_mean_pool(x, b)], dim=1)
            loss = ops.cross_entropy(lin(h), g.y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.item())
        return total

    losses = [epoch() for _ in range(6)]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.9 * losses[0]


@pytest.mark.parametrize("kwargs, message", [
    ({"ratio": 0.0}, "TopKPooling: expected `ratio` to be a float in (0, 1]"),
    ({"ratio": 1.5}, "TopKPooling: expected `ratio` to be a float in (0, 1]"),
    ({"ratio": True}, "TopKPooling: expected `ratio` to be a float in (0, 1]"),
    ({"ratio": 0}, "TopKPooling: expected an int `ratio` (k nodes per graph) >= 1 (got 0)"),
    ({"ratio": None}, "TopKPooling: at least one of `ratio` and `min_score`"),
    ({"min_score": float("nan")}, "TopKPooling: expected `min_score` to be a finite float"),
    ({"nonlinearity": "nope"}, "TopKPooling: expected `nonlinearity` to name an activation"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        TopKPooling(3, **kwargs)
    assert message in str(err.value)


def test_forward_errors():
    x, ei, attr, batch = _batch_graph()
    pool, sag = TopKPooling(3), SAGPooling(3)
    xt = sg.tensor(x, dtype=sg.float32)
    with pytest.raises(ValueError, match=r"TopKPooling: expected `batch` of shape \(13,\)"):
        pool(xt, ei, None, batch[:-1])
    with pytest.raises(ValueError, match=r"SAGPooling: expected `batch` of shape \(13,\)"):
        sag(xt, ei, None, batch[1:])
    with pytest.raises(ValueError, match="TopKPooling: expected graph ids >= 0 in `batch`"):
        pool(xt, ei, None, batch - 1)
    with pytest.raises(ValueError, match="TopKPooling: expected `edge_attr` with 32 rows"):
        pool(xt, ei, sg.tensor(attr[:3]), batch)
    with pytest.raises(ValueError, match=r"TopKPooling: expected `edge_index` node ids below "
                       r"12, the rows of `x` \(got 12\)"):
        pool(xt[:12], ei, None, batch[:12])
    with pytest.raises(ValueError, match="TopKPooling: expected `attn` .* with in_channels=3"):
        pool(xt, ei, None, batch, attn=xt[:, :2])
    with pytest.raises(TypeError, match="TopKPooling: expected `x`"):
        pool(None, ei)
    with pytest.raises(TypeError, match="SAGPooling: expected `nonlinearity` to be a str"):
        SAGPooling(3, nonlinearity=3)


def test_repr_as_pyg():
    assert repr(TopKPooling(16, 0.5)) == "TopKPooling(16, ratio=0.5, multiplier=1.0)"
    assert repr(SAGPooling(16, min_score=0.1)) == \
        "SAGPooling(GraphConv, 16, min_score=0.1, multiplier=1.0)"
