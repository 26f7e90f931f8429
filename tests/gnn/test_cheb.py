"""ChebConv against a numpy transcription of PyG's get_laplacian + ChebConv.__norm__."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.testing import gradcheck

N = 6
# directed, with a duplicate edge (0->1 twice), a self loop (2->2) and an isolated node (5)
DIRECTED = np.array([[0, 0, 1, 1, 2, 3, 0, 4], [1, 2, 2, 3, 2, 4, 1, 0]])
UNDIRECTED = np.array([[0, 1, 1, 2, 2, 3, 0, 4], [1, 0, 2, 1, 3, 2, 4, 0]])


def pyg_laplacian_hat(ei, w, n, normalization, lam_node):
    """Dense ``L̂`` of PyG: get_laplacian (deg = scatter(w, edge_index[0]), the source's
    out-degree), then ``2 L / λ_max`` with λ_max of the source's graph, loops minus 1; ``M[i, j]``
    is the weight of the message j -> i (PyG propagates source -> target)."""
    keep = ei[0] != ei[1]
    src, dst, w = ei[0][keep], ei[1][keep], w[keep]
    deg = np.bincount(src, w, n)
    with np.errstate(divide="ignore"):
        dis = np.where(deg > 0, deg ** -0.5, 0.0)
        dinv = np.where(deg > 0, 1.0 / deg, 0.0)
    if normalization == "sym":
        off, loop = -dis[src] * w * dis[dst], np.ones(n)
    elif normalization == "rw":
        off, loop = -dinv[src] * w, np.ones(n)
    else:
        off, loop = -w, deg
    m = np.zeros((n, n))
    np.add.at(m, (dst, src), 2.0 * off / lam_node[src])
    m[np.arange(n), np.arange(n)] += 2.0 * loop / lam_node - 1.0
    return m


def pyg_cheb(conv, x, ei, w, normalization, lam_node):
    m = pyg_laplacian_hat(ei, w, x.shape[0], normalization, lam_node)
    ws = [lin.weight.detach().numpy() for lin in conv.lins]
    t0, out = x, x @ ws[0].T
    if len(ws) > 1:
        t1 = m @ x
        out = out + t1 @ ws[1].T
        for wk in ws[2:]:
            t2 = 2 * (m @ t1) - t0
            out, t0, t1 = out + t2 @ wk.T, t1, t2
    return out + conv.bias.detach().numpy()


@pytest.mark.parametrize("edges", [DIRECTED, UNDIRECTED], ids=["directed", "undirected"])
@pytest.mark.parametrize("normalization", ["sym", "rw", None])
@pytest.mark.parametrize("weighted", [False, True])
def test_cheb_matches_pyg_formula(edges, normalization, weighted):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 4))
    w = rng.uniform(0.5, 2.0, edges.shape[1]) if weighted else np.ones(edges.shape[1])
    conv = gnn.ChebConv(4, 3, K=3, normalization=normalization).to("float64")
    conv.bias.array[...] = rng.standard_normal(3)
    got = conv(sg.tensor(x), edges, edge_weight=sg.tensor(w) if weighted else None)
    want = pyg_cheb(conv, x, edges, w, normalization, np.full(N, 2.0))
    np.testing.assert_allclose(got.detach().numpy(), want, atol=1e-12)
    # lambda_max as a number, and one per graph with a batch vector
    got = conv(sg.tensor(x), edges, edge_weight=sg.tensor(w), lambda_max=1.5)
    want = pyg_cheb(conv, x, edges, w, normalization, np.full(N, 1.5))
    np.testing.assert_allclose(got.detach().numpy(), want, atol=1e-12)
    batch = np.array([0, 0, 0, 0, 0, 1])
    got = conv(sg.tensor(x), edges, edge_weight=sg.tensor(w), batch=sg.tensor(batch),
               lambda_max=sg.tensor([1.5, 3.0]))
    want = pyg_cheb(conv, x, edges, w, normalization, np.array([1.5, 3.0])[batch])
    np.testing.assert_allclose(got.detach().numpy(), want, atol=1e-12)


def test_cheb_sparse_tensor_input_equals_edge_index():
    x = sg.randn(N, 4, dtype="float64")
    conv = gnn.ChebConv(4, 3, K=3, normalization="rw").to("float64")
    adj = sg.from_edge_index(DIRECTED, N, dtype="float64")
    np.testing.assert_allclose(conv(x, adj, lambda_max=1.7).detach().numpy(),
                               conv(x, DIRECTED, lambda_max=1.7).detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("normalization", ["sym", "rw", None])
def test_cheb_gradcheck_edge_weight(normalization):
    conv = gnn.ChebConv(4, 3, K=3, normalization=normalization).to("float64")
    x = sg.randn(N, 4, dtype="float64", requires_grad=True)
    w = sg.tensor(np.random.default_rng(1).uniform(0.5, 2.0, DIRECTED.shape[1]),
                  requires_grad=True)
    gradcheck(lambda a, b, *ps: conv(a, DIRECTED, edge_weight=b, lambda_max=1.5),
              [x, w, *conv.parameters()])


def test_cheb_reset_parameters_glorot_and_zero_bias():
    conv = gnn.ChebConv(40, 30, K=2)
    conv.bias.array[...] = 5.0
    for lin in conv.lins:
        lin.weight.array[...] = 9.0
    conv.reset_parameters()
    assert np.all(conv.bias.detach().numpy() == 0.0)
    bound = np.sqrt(6.0 / (40 + 30))  # Glorot; PyTorch's default bound 1/sqrt(40) is 0.158
    for lin in conv.lins:
        w = lin.weight.detach().numpy()
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound


@pytest.mark.parametrize("kwargs, match", [
    ({"K": 2.5}, r"ChebConv: expected `K` to be an int >= 1 \(got 2.5\)"),
    ({"K": 0}, r"ChebConv: expected `K` to be an int >= 1 \(got 0\)"),
    ({"K": 2, "normalization": "x"}, r"ChebConv: expected `normalization`"),
])
def test_cheb_constructor_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gnn.ChebConv(3, 2, **kwargs)


def test_cheb_lambda_max_errors():
    conv = gnn.ChebConv(4, 3, K=2)
    x = sg.randn(N, 4)
    with pytest.raises(ValueError, match=r"ChebConv: expected `lambda_max` > 0"):
        conv(x, DIRECTED, lambda_max=0.0)
    with pytest.raises(ValueError, match=r"ChebConv: `lambda_max` holds 2 values.*`batch`"):
        conv(x, DIRECTED, lambda_max=sg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"ChebConv: expected `batch` of shape \(6,\)"):
        conv(x, DIRECTED, batch=sg.tensor([0, 1]), lambda_max=sg.tensor([1.0, 2.0]))


def test_cheb_sparse_features_with_a_diagonal_term():
    """λ_max != 2 (or normalization=None) adds ``diag(L̂) x``: sparse CSR x is densified there."""
    rng = np.random.default_rng(0)
    x = sg.tensor(rng.standard_normal((N, 4)) * (rng.random((N, 4)) > 0.5))
    conv = gnn.ChebConv(4, 3, K=3, normalization=None).to("float64")
    np.testing.assert_allclose(conv(x.to_sparse(), DIRECTED, lambda_max=1.5).detach().numpy(),
                               conv(x, DIRECTED, lambda_max=1.5).detach().numpy(), atol=1e-12)
