"""Audit fixes of the dense GNN pieces: DenseGCNConv's add_loop replaces an inf / nan diagonal
(PyG's ``adj[:, i, i] = 1``), DenseGraphConv(aggr="max") on N = 0 nodes, the pools' batch
broadcasting (PyG's matmuls) and a Tensor ``temp``, DenseGINConv's named dtype error."""

import warnings

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import (
    DenseGCNConv,
    DenseGINConv,
    DenseGraphConv,
    GINConv,
    dense_diff_pool,
    dense_mincut_pool,
)
from sparsegraph.nn import Linear, ReLU
from sparsegraph.testing import gradcheck
from tests.test_dense_gnn import ref_diff_pool, ref_gcn, ref_mincut_pool

B, N, F, C = 3, 5, 4, 2


def _t(a, grad=False):
    return sg.tensor(np.asarray(a, np.float64), dtype=sg.float64, requires_grad=grad)


def _np(t):
    return t.detach().numpy()


def _data(seed=0):
    rng = np.random.default_rng(seed)
    adj = (rng.random((B, N, N)) < 0.5) * rng.uniform(0.5, 2.0, (B, N, N))
    return rng.standard_normal((B, N, F)), adj, rng.standard_normal((B, N, C))


# ---- (a) DenseGCNConv: the diagonal is replaced, not blended -----------------------------
@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("diag", [np.inf, np.nan, -np.inf])
def test_gcn_add_loop_replaces_a_non_finite_diagonal(improved, diag):
    x, adj, _ = _data(1)
    bad = adj.copy()
    bad[:, np.arange(N), np.arange(N)] = diag
    bad[0, 1, 1] = 3.0  # an ordinary self-loop weight is replaced too
    conv = DenseGCNConv(F, 3, improved=improved).double()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning (inf * 0) on the way
        out = conv(_t(x), _t(bad))
    p = {k: _np(v) for k, v in conv.state_dict().items()}
    np.testing.assert_allclose(_np(out), ref_gcn(x, adj, p, improved=improved), atol=1e-12)
    # add_loop=False keeps adj as it is: the non-finite diagonal reaches the output, as PyG's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert not np.isfinite(_np(conv(_t(x), _t(bad), add_loop=False))).all()


def test_gcn_add_loop_gradient_skips_the_replaced_diagonal():
    x, adj, _ = _data(2)
    adj = adj + 0.1  # every degree > 1: clear of clamp(min=1)'s kink
    conv = DenseGCNConv(F, 3).double()
    gradcheck(lambda a: conv(_t(x), a), [_t(adj, grad=True)])  # finite diagonal: d/d a_ii = 0
    grads = []
    for diag in (0.0, np.inf):
        a = adj.copy()
        a[:, np.arange(N), np.arange(N)] = diag
        a = _t(a, grad=True)
        conv(_t(x), a).sum().backward()
        grads.append(_np(a.grad))
    np.testing.assert_array_equal(grads[1], grads[0])  # finite, whatever the diagonal held
    assert (grads[1][:, np.arange(N), np.arange(N)] == 0).all()
    assert np.abs(grads[1]).sum() > 0


# ---- (b) DenseGraphConv(aggr="max") on no nodes ------------------------------------------
@pytest.mark.parametrize("two_dim", [False, True])
def test_graph_conv_max_with_no_nodes_is_empty_like_add_and_mean(two_dim):
    x, adj = sg.zeros(2, 0, 3), sg.zeros(2, 0, 0)
    if two_dim:
        x, adj = x[0], adj[0]
    want = (1 if two_dim else 2, 0, 4)
    for aggr in ("add", "mean", "max"):
        out = DenseGraphConv(3, 4, aggr=aggr)(x, adj)
        assert tuple(out.shape) == want and out.dtype == sg.float32, aggr
    conv = DenseGraphConv(3, 4, aggr="max")
    out = conv(x, adj, sg.zeros(*want[:2], dtype=sg.bool))
    out.sum().backward()
    assert tuple(out.shape) == want
    assert not np.abs(conv.lin_root.weight.grad.numpy()).any()


# ---- (c) pools: PyG's broadcasting of the batch sizes, temp ------------------------------
@pytest.mark.parametrize("pool, ref", [(dense_diff_pool, ref_diff_pool),
                                       (dense_mincut_pool, ref_mincut_pool)])
def test_pools_broadcast_the_batch_sizes_as_pyg(pool, ref):
    x, adj, s = _data(3)
    # x of batch 1 with adj of batch B (the audit's repro: "batch size 1 or 1")
    got = pool(_t(x[:1]), _t(adj), _t(s))
    want = ref(np.repeat(x[:1], B, 0), adj, s)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(_np(g), w, atol=1e-12)
    # s of batch 1 too: out = S^T X keeps batch 1, out_adj = S^T A S gets B (PyG's shapes)
    got = pool(_t(x[:1]), _t(adj), _t(s[:1]))
    assert tuple(got[0].shape) == (1, C, F) and tuple(got[1].shape) == (B, C, C)
    want = ref(np.repeat(x[:1], B, 0), adj, np.repeat(s[:1], B, 0))
    np.testing.assert_allclose(_np(got[0])[0], want[0][0], atol=1e-12)
    np.testing.assert_allclose(_np(got[1]), want[1], atol=1e-12)
    # a shared 2-D s with a batched x and adj: PyG's s.unsqueeze(0), then broadcasting
    got = pool(_t(x), _t(adj), _t(s[0]))
    want = ref(x, adj, np.repeat(s[:1], B, 0))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(_np(g), w, atol=1e-12)
    # ... and with a mask of x's batch (PyG's mask.view(B, N, 1))
    mask = np.ones((B, N), bool)
    mask[1, 3:] = False
    got = pool(_t(x), _t(adj), _t(s[0]), sg.tensor(mask))
    want = ref(x, adj, np.repeat(s[:1], B, 0), mask=mask)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(_np(g), w, atol=1e-12)


@pytest.mark.parametrize("pool", [dense_diff_pool, dense_mincut_pool])
def test_pool_batch_mismatch_names_the_batch(pool):
    x, adj, s = (_t(a) for a in _data(4))
    name = pool.__name__
    with pytest.raises(ValueError, match=rf"{name}: expected `s` with batch size 1 or 3, that "
                                         rf"of `adj` \(got shape \(2, 5, 2\)\)"):
        pool(x[:1], adj, s[:2])
    with pytest.raises(ValueError, match=rf"{name}: expected `adj` with batch size 1 or 3, "
                                         rf"that of `x` \(got shape \(2, 5, 5\)\)"):
        pool(x, adj[:2], s)


def test_mincut_temp_as_a_tensor():
    x, adj, s = _data(5)
    want = ref_mincut_pool(x, adj, s, temp=0.5)
    for temp in (sg.tensor(0.5), sg.tensor(0.5, dtype=sg.float64), sg.tensor([0.5])):
        got = dense_mincut_pool(_t(x).float(), _t(adj).float(), _t(s).float(), temp=temp)
        assert got[0].dtype == sg.float32
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(_np(g), w, rtol=1e-4, atol=1e-5)
    # the gradient reaches a Tensor temp (finite differences)
    gradcheck(lambda t: dense_mincut_pool(_t(x), _t(adj), _t(s), temp=t),
              [_t(0.7, grad=True)])


@pytest.mark.parametrize("temp, error, says", [
    (lambda: "1", TypeError, "positive number \\(got str '1'\\)"),
    (lambda: None, TypeError, "positive number \\(got NoneType None\\)"),
    (lambda: True, TypeError, "positive number \\(got bool True\\)"),
    (lambda: sg.tensor(True), TypeError,
     "positive number or a real Tensor \\(got a Tensor of dtype bool\\)"),
    (lambda: sg.tensor([0.5, 1.0]), ValueError,
     "positive number or a one-element Tensor \\(got a Tensor of shape \\(2,\\)\\)"),
    (lambda: sg.tensor(-0.5), ValueError, "positive number \\(got tensor"),
    (lambda: 0, ValueError, "positive number \\(got 0\\)"),
])
def test_mincut_temp_errors(temp, error, says):
    x, adj, s = (_t(a) for a in _data(6))
    with pytest.raises(error, match=rf"dense_mincut_pool: expected `temp` to be a {says}"):
        dense_mincut_pool(x, adj, s, temp=temp())


# ---- (d) DenseGINConv: x's dtype against nn's parameters ---------------------------------
def test_dense_gin_names_a_dtype_mismatch_with_nn():
    x, adj, _ = _data(7)
    conv = DenseGINConv(Linear(F, 3))  # float32 parameters
    with pytest.raises(TypeError, match=r"DenseGINConv: expected `x` of dtype float32 like the "
                                        r"layer's weights \(got float64\)"):
        conv(_t(x), _t(adj))
    assert tuple(conv(_t(x).float(), _t(adj).float()).shape) == (B, N, 3)
    # an nn without parameters takes any floating dtype
    out = DenseGINConv(ReLU())(_t(x), _t(adj))
    assert out.dtype == sg.float64 and tuple(out.shape) == (B, N, F)


def test_dense_gin_eps_error_is_gin_convs():
    for cls in (GINConv, DenseGINConv):  # a str is the wrong type: TypeError, as torch's
        with pytest.raises(TypeError, match=rf"^{cls.__name__}: expected `eps` to be a number"):
            cls(Linear(F, 3), eps="a")
