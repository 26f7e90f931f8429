"""knn / knn_graph / radius / radius_graph against brute-force numpy distance matrices (sets of
neighbours per point: random continuous points have no ties), batches that never cross graphs,
loops and flow; EdgeConv against a numpy transcription of PyG's message (max, mean, sum);
DynamicEdgeConv's graph and float64 gradients; the KNNGraph / RadiusGraph transforms; the
errors; a small point-cloud classifier that trains."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.transforms as T
from sparsegraph import gnn, nn
from sparsegraph.testing import gradcheck
from tests.pyg_reference import pyg_scatter


def points(n, d=3, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def pairs(edge_index, first=0):
    """The set of (row ``first``, other row) pairs of a (2, M) Tensor (a Graph's
    edge_index: an int32 array)."""
    ei = edge_index if isinstance(edge_index, np.ndarray) else edge_index.numpy()
    assert ei.dtype.kind == "i" and ei.shape[0] == 2
    return set(zip(ei[first].tolist(), ei[1 - first].tolist(), strict=True))


def masked_dist(x, y, bx, by, cosine=False):
    """Distances (M, N) from every y to every x; inf across graphs."""
    if cosine:
        nx = x / np.linalg.norm(x, axis=1, keepdims=True)
        ny = y / np.linalg.norm(y, axis=1, keepdims=True)
        d = 1.0 - ny @ nx.T
    else:
        d = np.linalg.norm(y[:, None, :] - x[None, :, :], axis=-1)
    d[by[:, None] != bx[None, :]] = np.inf
    return d


def brute_knn(d, k):
    out = set()
    order = np.argsort(d, axis=1)
    for i in range(d.shape[0]):  # reference only
        out |= {(i, int(j)) for j in order[i, :k] if np.isfinite(d[i, j])}
    return out


def brute_radius(d, r, cap):
    out = set()
    order = np.argsort(d, axis=1)
    for i in range(d.shape[0]):
        near = [int(j) for j in order[i] if d[i, j] < r][:cap]
        out |= {(i, j) for j in near}
    return out


BX = np.array([0, 1, 0, 2, 1, 0, 2, 2, 0, 1, 0, 0, 1, 2, 0, 0, 1, 0])  # unsorted; graph sizes 9/5/4
BY = np.array([1, 0, 2, 0, 1, 2, 0])


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("k", [1, 3, 5, 12])
def test_knn_matches_brute_force_within_graphs(k, cosine):
    x, y = points(18, seed=1), points(7, seed=2)
    out = gnn.knn(sg.tensor(x), sg.tensor(y), k, sg.tensor(BX), sg.tensor(BY), cosine=cosine)
    got = pairs(out)
    assert got == brute_knn(masked_dist(x, y, BX, BY, cosine), k)
    assert all(BY[i] == BX[j] for i, j in got)  # never across graphs
    ei = out.detach().numpy()
    assert (np.diff(ei[0]) >= 0).all()  # grouped by y, nearest first
    d = masked_dist(x, y, BX, BY, cosine)[ei[0], ei[1]]
    same = ei[0][1:] == ei[0][:-1]
    assert (d[1:][same] >= d[:-1][same] - 1e-12).all()


@pytest.mark.parametrize("flow", ["source_to_target", "target_to_source"])
@pytest.mark.parametrize("loop", [False, True])
def test_knn_graph_loop_and_flow(loop, flow):
    x = points(18, seed=3)
    ei = gnn.knn_graph(sg.tensor(x), 4, batch=BX, loop=loop, flow=flow)
    centre = 1 if flow == "source_to_target" else 0
    d = masked_dist(x, x, BX, BX)
    if not loop:
        np.fill_diagonal(d, np.inf)
    assert pairs(ei, first=centre) == brute_knn(d, 4)
    counts = np.bincount(ei.numpy()[centre], minlength=18)
    available = np.bincount(BX)[BX] - (0 if loop else 1)  # graph 2 has 4 points
    assert (counts == np.minimum(4, available)).all()
    assert (ei.numpy()[0] == ei.numpy()[1]).sum() == (18 if loop else 0)


def test_knn_graph_duplicate_points_keep_k_without_self_loops():
    x = np.repeat(points(5, seed=4), 2, axis=0)  # every point twice: the self ties
    ei = gnn.knn_graph(sg.tensor(x), 3).numpy()
    assert (ei[0] != ei[1]).all()
    assert (np.bincount(ei[1], minlength=10) == 3).all()
    twin = np.arange(10) ^ 1  # each point's duplicate is among its neighbours
    assert {(int(t), i) for i, t in enumerate(twin)} <= pairs(ei)


@pytest.mark.parametrize("cap", [2, 32])
def test_radius_matches_brute_force(cap):
    x, y = points(18, seed=5), points(7, seed=6)
    out = gnn.radius(sg.tensor(x), sg.tensor(y), 1.3, BX, BY, max_num_neighbors=cap)
    assert pairs(out) == brute_radius(masked_dist(x, y, BX, BY), 1.3, cap)
    assert np.bincount(out.numpy()[0], minlength=7).max() <= cap


def test_radius_is_strict():
    x = np.array([[0.0], [1.0], [2.5]])
    assert pairs(gnn.radius(x, x, 1.0)) == {(0, 0), (1, 1), (2, 2)}
    assert pairs(gnn.radius(x, x, 1.0 + 1e-9)) == {(0, 0), (1, 1), (2, 2), (0, 1), (1, 0)}


@pytest.mark.parametrize("flow", ["source_to_target", "target_to_source"])
@pytest.mark.parametrize("loop", [False, True])
def test_radius_graph_loop_flow_and_cap(loop, flow):
    x = points(18, seed=7)
    ei = gnn.radius_graph(sg.tensor(x), 1.5, BX, loop=loop, max_num_neighbors=3, flow=flow)
    d = masked_dist(x, x, BX, BX)
    if not loop:
        np.fill_diagonal(d, np.inf)
    centre = 1 if flow == "source_to_target" else 0
    assert pairs(ei, first=centre) == brute_radius(d, 1.5, 3)


def test_one_dimensional_points_and_empty_inputs():
    x = np.array([0.0, 0.1, 5.0, 5.2])
    assert pairs(gnn.knn_graph(x, 1), first=1) == {(0, 1), (1, 0), (2, 3), (3, 2)}
    assert gnn.knn(np.zeros((0, 2)), points(3, 2), 2).shape == (2, 0)
    assert gnn.radius_graph(np.zeros((0, 2)), 1.0).shape == (2, 0)


@pytest.mark.parametrize("call, match", [
    (lambda: gnn.knn(points(4), points(3), 0), r"knn: expected `k` >= 1 \(got 0\)"),
    (lambda: gnn.knn(points(4), points(3, 2), 2), r"knn: expected `y` with 3 columns"),
    (lambda: gnn.knn_graph(points(4), 2, flow="up"), r"knn_graph: expected `flow` in"),
    (lambda: gnn.knn_graph(points(4), 2, batch=[0, 0]), r"knn_graph: expected `batch` with 4"),
    (lambda: gnn.knn_graph(points(4), 2, batch=[0, -1, 0, 0]), r"graph ids >= 0 in `batch`"),
    (lambda: gnn.radius(points(4), points(2), -1.0), r"radius: expected a finite `r` >= 0"),
    (lambda: gnn.radius_graph(np.full((3, 2), np.nan), 1.0),
     r"radius_graph: expected finite `x`"),
    (lambda: gnn.radius_graph(points(3), 1.0, max_num_neighbors=-2),
     r"radius_graph: expected `max_num_neighbors` >= 0"),
])
def test_errors_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_errors_type():
    with pytest.raises(TypeError, match=r"knn: expected `k` to be an int \(got float"):
        gnn.knn(points(4), points(3), 2.0)
    with pytest.raises(TypeError, match=r"radius: expected `r` to be a number \(got str"):
        gnn.radius(points(4), points(3), "1")
    with pytest.raises(TypeError, match=r"knn_graph: expected integer graph ids in `batch`"):
        gnn.knn_graph(points(4), 1, batch=np.zeros(4))
    with pytest.raises(TypeError, match=r"EdgeConv: expected `nn` to be a callable Module"):
        gnn.EdgeConv(None)
    with pytest.raises(TypeError, match=r"DynamicEdgeConv: expected `k` to be an int"):
        gnn.DynamicEdgeConv(nn.Linear(4, 2), k=None)


# ---- EdgeConv ---------------------------------------------------------------------------------
N, F = 7, 3
EI = np.array([[0, 1, 2, 3, 4, 5, 1, 2, 0, 3], [1, 0, 1, 2, 2, 2, 3, 4, 4, 0]])  # node 6 isolated


def edge_conv_np(lin, x, ei, aggr):
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    xi, xj = x[ei[1]], x[ei[0]]
    msg = np.concatenate([xi, xj - xi], axis=1) @ w.T + b
    return pyg_scatter(msg, ei[1], x.shape[0], aggr)


@pytest.mark.parametrize("aggr", ["max", "mean", "add"])
def test_edge_conv_matches_numpy(aggr):
    sg.manual_seed(0)
    lin = nn.Linear(2 * F, 4).to("float64")
    conv = gnn.EdgeConv(lin, aggr=aggr)
    x = points(N, F, seed=8)
    out = conv(sg.tensor(x), EI)
    np.testing.assert_allclose(out.detach().numpy(), edge_conv_np(lin, x, EI, aggr), rtol=1e-12)
    assert (out.detach().numpy()[6] == 0).all()  # no in-edges: 0, as PyG's scatter
    xt = sg.tensor(x).requires_grad_(True)
    params = list(conv.parameters())
    assert gradcheck(lambda a, *p: conv(a, EI), [xt, *params])


def test_edge_conv_bipartite_pair():
    lin = nn.Linear(2 * F, 2).to("float64")
    xs, xd = points(5, F, seed=9), points(3, F, seed=10)
    ei = np.array([[0, 1, 4, 2], [0, 0, 2, 1]])
    out = gnn.EdgeConv(lin)((sg.tensor(xs), sg.tensor(xd)), ei).detach().numpy()
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    msg = np.concatenate([xd[ei[1]], xs[ei[0]] - xd[ei[1]]], axis=1) @ w.T + b
    np.testing.assert_allclose(out, pyg_scatter(msg, ei[1], 3, "max"), rtol=1e-12)
    with pytest.raises(ValueError, match=r"EdgeConv: expected `x_dst` with 3 features"):
        gnn.EdgeConv(lin)((sg.tensor(xs), sg.tensor(points(3, 2))), ei)


def test_dynamic_edge_conv_is_edge_conv_on_the_feature_knn_graph_and_gradchecks():
    x = points(12, F, seed=11)
    batch = np.repeat([0, 1], 6)
    lin = nn.Linear(2 * F, 4).to("float64")
    conv = gnn.DynamicEdgeConv(lin, k=3)
    out = conv(sg.tensor(x), sg.tensor(batch))
    d = masked_dist(x, x, batch, batch)  # the point itself included, as PyG's knn(x, x, k)
    ei = np.array(sorted(brute_knn(d, 3))).T[::-1]  # neighbour -> point
    np.testing.assert_allclose(out.detach().numpy(), edge_conv_np(lin, x, ei, "max"), rtol=1e-12)
    xt = sg.tensor(x).requires_grad_(True)
    assert gradcheck(lambda a, *p: conv(a, batch), [xt, *conv.parameters()])


# ---- transforms -------------------------------------------------------------------------------
def test_knn_graph_transform_on_pos():
    pos = points(10, 2, seed=12)
    g = sg.Graph(x=sg.randn(10, 2), edge_index=[[0, 1], [1, 2]], edge_attr=np.ones((2, 3)),
                 pos=pos)
    out = T.KNNGraph(k=2)(g)
    assert pairs(g.edge_index) == {(0, 1), (1, 2)}  # the caller's graph is unchanged
    assert out.edge_attr is None and out.num_edges == 20
    d = masked_dist(pos, pos, np.zeros(10, int), np.zeros(10, int))
    np.fill_diagonal(d, np.inf)
    assert pairs(out.edge_index, first=1) == brute_knn(d, 2)
    und = T.KNNGraph(k=2, force_undirected=True)(g)
    e = pairs(und.edge_index)
    assert e == {(b, a) for a, b in e} and e >= pairs(out.edge_index)


def test_radius_graph_transform_keeps_graphs_apart():
    pos = points(12, 3, seed=13)
    batch = np.repeat([0, 1, 2], 4)
    g = sg.Graph(num_nodes=12, pos=pos, batch=batch)
    out = T.RadiusGraph(r=2.0, loop=True)(g)
    assert pairs(out.edge_index, first=1) == brute_radius(
        masked_dist(pos, pos, batch, batch), 2.0, 32)
    with pytest.raises(ValueError, match=r"RadiusGraph: expected the graph to have node "
                                         r"positions `pos`"):
        T.RadiusGraph(1.0)(sg.Graph(num_nodes=3))
    with pytest.raises(ValueError, match=r"KNNGraph: expected `flow` in"):
        T.KNNGraph(flow="sideways")


# ---- a point-cloud classifier -----------------------------------------------------------------
def test_dynamic_edge_conv_classifies_point_clouds():
    """Class 0: clouds stretched along a line; class 1: round blobs (random rotations)."""
    rng = np.random.default_rng(0)
    n_graphs, n_pts = 40, 16
    y = np.arange(n_graphs) % 2
    scale = np.where(y[:, None] == 0, [3.0, 0.3, 0.3], [1.0, 1.0, 1.0])
    q = np.linalg.qr(rng.standard_normal((n_graphs, 3, 3)))[0]
    pts = np.einsum("gnd,gde->gne", rng.standard_normal((n_graphs, n_pts, 3)) * scale[:, None],
                    q).reshape(-1, 3).astype(np.float32)
    batch = np.repeat(np.arange(n_graphs), n_pts)
    sg.manual_seed(0)
    conv = gnn.DynamicEdgeConv(nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32)),
                               k=6)
    head = nn.Linear(32, 2)
    opt = sg.optim.Adam([*conv.parameters(), *head.parameters()], lr=0.01)
    x, target = sg.tensor(pts), sg.tensor(y)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        logits = head(gnn.global_max_pool(conv(x, batch), sg.tensor(batch)))
        loss = sg.ops.cross_entropy(logits, target)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    acc = (logits.detach().numpy().argmax(1) == y).mean()
    assert losses[-1] < 0.5 * losses[0] and acc >= 0.9
