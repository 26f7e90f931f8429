"""PyG features users reach for when porting layers: ``edge_updater`` / ``edge_update``
(per-edge values such as GAT's attention, without aggregation), ``aggr="mul"`` (PyG's
MulAggregation) and PyG's forward signatures (``size=`` of SAGEConv / GINConv / GraphConv,
``edge_index`` by name); values against numpy references of PyG's formulas."""

import inspect

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph import gnn
from sparsegraph.sparse import sparse_coo
from sparsegraph.testing import gradcheck, random_graph

N, H, F_IN, F = 7, 2, 4, 3


def arr(t):
    return t.detach().numpy()


def feats(n, f, seed=0, grad=False):
    x = np.random.default_rng(seed).standard_normal((n, f))
    return sg.tensor(x, dtype=sg.float64, requires_grad=grad)


def shuffled_graph(n=N, e=18, seed=0):
    """A random edge_index without self loops, its columns in random order (not by target)."""
    ei = random_graph(n, e, seed=seed)
    return ei[:, np.random.default_rng(seed + 1).permutation(ei.shape[1])]


def with_loops(ei, n):
    return np.concatenate([ei, np.stack([np.arange(n), np.arange(n)])], axis=1)


# ---- a GAT written with edge_updater, PyG's GATConv pattern --------------------------------
class EdgeUpdaterGAT(gnn.MessagePassing):
    """PyG's GATConv body: alpha = edge_updater(edge_index, alpha=(a_src, a_dst)), then
    propagate(edge_index, x=h, alpha=alpha); it borrows a GATConv's parameters."""

    def __init__(self, conv):
        super().__init__(aggr="sum", node_dim=0)
        self.conv = conv
        self.seen = {}

    def forward(self, x, edge_index):
        c = self.conv
        h = c.lin(x).reshape((x.shape[0], c.heads, c.out_channels))
        a_src = ops.einsum("nhf,ohf->nh", h, c.att_src)
        a_dst = ops.einsum("nhf,ohf->nh", h, c.att_dst)
        alpha = self.edge_updater(edge_index, alpha=(a_src, a_dst))
        out = self.propagate(edge_index, x=h, alpha=alpha)
        return out.reshape((x.shape[0], c.heads * c.out_channels)) + c.bias

    def edge_update(self, alpha_j, alpha_i, index, ptr, size_i):
        self.seen.update(ptr=ptr, size_i=size_i, index=arr(index))
        alpha = alpha_j if alpha_i is None else alpha_j + alpha_i
        alpha = ops.leaky_relu(alpha, self.conv.negative_slope)
        return ops.segment_softmax(alpha, index=index, indptr=ptr, num_segments=size_i)

    def message(self, x_j, alpha):
        return x_j * alpha.reshape(alpha.shape + (1,))


def gat_pair(seed=0):
    conv = gnn.GATConv(F_IN, F, heads=H).to("float64")
    rng = np.random.default_rng(seed)
    conv.bias.array[...] = rng.standard_normal(conv.bias.shape)  # not the zeros of init
    return conv, EdgeUpdaterGAT(conv)


def test_edge_updater_gat_equals_gatconv_on_an_edge_index():
    conv, mine = gat_pair()
    ei, x = shuffled_graph(), feats(N, F_IN)
    want = arr(conv(x, ei))  # GATConv adds one self loop per node (the graph has none)
    got = mine(x, with_loops(ei, N))
    np.testing.assert_allclose(arr(got), want, rtol=1e-10, atol=1e-12)
    # an edge_index: index is its targets in the caller's order, ptr None, size_i N
    np.testing.assert_array_equal(mine.seen["index"], with_loops(ei, N)[1])
    assert mine.seen["ptr"] is None and mine.seen["size_i"] == N


def test_edge_updater_gat_equals_gatconv_on_a_sparse_tensor():
    conv, mine = gat_pair(1)
    ei, x = shuffled_graph(seed=3), feats(N, F_IN, seed=3)
    adj = sg.from_edge_index(with_loops(ei, N), N).to_csr()
    np.testing.assert_allclose(arr(mine(x, adj)), arr(conv(x, ei)), rtol=1e-10, atol=1e-12)
    # a CSR SparseTensor is sorted by target: ptr is its row pointer (PyG's rowptr)
    np.testing.assert_array_equal(arr(mine.seen["ptr"]), adj.structure.indptr)
    np.testing.assert_array_equal(mine.seen["index"], np.repeat(np.arange(N),
                                                                np.diff(adj.structure.indptr)))


def test_edge_updater_attention_matches_return_attention_weights():
    conv, mine = gat_pair(2)
    ei, x = shuffled_graph(seed=5), feats(N, F_IN, seed=5)
    _, (ei_out, alpha_want) = conv(x, ei, return_attention_weights=True)
    c = conv
    h = c.lin(x).reshape((N, H, F))
    a = (ops.einsum("nhf,ohf->nh", h, c.att_src), ops.einsum("nhf,ohf->nh", h, c.att_dst))
    alpha = mine.edge_updater(arr(ei_out), alpha=a)  # per edge, in ei_out's column order
    np.testing.assert_allclose(arr(alpha), arr(alpha_want), rtol=1e-10, atol=1e-12)


def test_edge_updater_gradcheck_float64():
    conv, mine = gat_pair(3)
    ei = with_loops(shuffled_graph(seed=7), N)
    a_src, a_dst = feats(N, H, seed=8, grad=True), feats(N, H, seed=9, grad=True)
    gradcheck(lambda s, d: mine.edge_updater(ei, alpha=(s, d)), [a_src, a_dst])
    x = feats(N, F_IN, seed=10, grad=True)
    gradcheck(lambda x_, *ps: mine(x_, ei), [x, *conv.parameters()])


# ---- edge_updater's arguments --------------------------------------------------------------
class EdgeTerms(gnn.MessagePassing):
    """Per-edge values built from every kind of argument edge_updater fills."""

    def edge_update(self, x_i, x_j, h_j, edge_attr, edge_index_j, index, size_j):
        assert size_j == self.expect_size_j
        self.edge_index_j = arr(edge_index_j)
        return (x_i * 2.0 - x_j + h_j * edge_attr.reshape((-1, 1))
                + index.to(x_i.dtype).reshape((-1, 1)))


def edge_terms_reference(x_dst, x_src, h_src, attr, src, dst):
    return (2.0 * x_dst[dst] - x_src[src] + h_src[src] * attr[:, None]
            + dst[:, None].astype(float))


def test_edge_updater_fills_node_pairs_and_per_edge_keywords_in_caller_order():
    ei = shuffled_graph(seed=11)
    x, h, attr = feats(N, 2, seed=1), feats(N, 2, seed=2), feats(ei.shape[1], 1, seed=3)
    layer = EdgeTerms()
    layer.expect_size_j = N
    got = layer.edge_updater(ei, x=x, h=h, edge_attr=attr.reshape((-1,)))
    want = edge_terms_reference(arr(x), arr(x), arr(h), arr(attr)[:, 0], ei[0], ei[1])
    np.testing.assert_allclose(arr(got), want, rtol=1e-12)
    np.testing.assert_array_equal(layer.edge_index_j, ei[0])


def test_edge_updater_bipartite_with_size_and_pairs():
    n_src, n_dst = 6, 3
    ei = np.array([[5, 0, 3, 1, 4], [2, 0, 1, 2, 0]])
    xs, xd, h = feats(n_src, 2, seed=4), feats(n_dst, 2, seed=5), feats(n_src, 2, seed=6)
    attr = feats(5, 1, seed=7).reshape((-1,))
    layer = EdgeTerms()
    layer.expect_size_j = n_src
    got = layer.edge_updater(ei, size=(n_src, n_dst), x=(xs, xd), h=(h, None), edge_attr=attr)
    want = edge_terms_reference(arr(xd), arr(xs), arr(h), arr(attr), ei[0], ei[1])
    np.testing.assert_allclose(arr(got), want, rtol=1e-12)
    with pytest.raises(ValueError, match=r"EdgeTerms: expected `x_src` with 5 rows, one per "
                                         r"source node, to match `size\[0\]` = 5 \(got 6\)"):
        layer.edge_updater(ei, size=(5, n_dst), x=(xs, xd), h=(h, None), edge_attr=attr)


class Direction(gnn.MessagePassing):
    def edge_update(self, a_i, a_j, index, size_i):
        return a_i * 10.0 + a_j + 0.0 * size_i


def test_edge_updater_target_to_source_follows_pyg():
    # PyG: flow="target_to_source" reads i from edge_index[0], j from edge_index[1]; a pair
    # (a0, a1) gives a_i = a0[edge_index[0]], a_j = a1[edge_index[1]], size (N_0, N_1)
    n0, n1 = 4, 6
    ei = np.array([[3, 0, 1, 3, 2], [5, 0, 4, 1, 1]])
    a0, a1 = feats(n0, 1, seed=1), feats(n1, 1, seed=2)
    layer = Direction(flow="target_to_source")
    got = layer.edge_updater(ei, a=(a0, a1), size=(n0, n1))
    want = arr(a0)[ei[0]] * 10.0 + arr(a1)[ei[1]]
    np.testing.assert_allclose(arr(got), want, rtol=1e-12)
    # homogeneous: the same as the default flow on the reversed edges
    a = feats(N, 1, seed=3)
    ei = shuffled_graph(seed=4)
    np.testing.assert_allclose(arr(Direction(flow="target_to_source").edge_updater(ei, a=a)),
                               arr(Direction().edge_updater(ei[::-1].copy(), a=a)), rtol=1e-12)
    with pytest.raises(ValueError, match=r"Direction: flow='target_to_source' takes an "
                                         r"edge_index"):
        layer.edge_updater(sg.from_edge_index(ei, N), a=a)


class OnlyEdges(gnn.MessagePassing):
    def edge_update(self, edge_attr, index, size_i):
        self.size_i = size_i
        return edge_attr * 3.0


def test_edge_updater_without_node_tensors_infers_the_node_count():
    ei = shuffled_graph(seed=12)
    attr = feats(ei.shape[1], 2, seed=1)
    layer = OnlyEdges()
    np.testing.assert_allclose(arr(layer.edge_updater(ei, edge_attr=attr)), 3.0 * arr(attr))
    assert layer.size_i == int(ei.max()) + 1  # PyG's maybe_num_nodes
    layer.edge_updater(ei, size=(N + 2, N + 3), edge_attr=attr)
    assert layer.size_i == N + 3
    with pytest.raises(ValueError, match=r"OnlyEdges: expected `edge_attr` with "
                                         rf"{ei.shape[1]} rows"):
        layer.edge_updater(ei, edge_attr=attr[:3])


def test_edge_updater_errors_name_the_layer_and_hook():
    ei = shuffled_graph()
    with pytest.raises(NotImplementedError, match=r"MessagePassing: edge_updater calls "
                                                  r"edge_update, which the layer does not "
                                                  r"override"):
        gnn.MessagePassing().edge_updater(ei)

    class Unfillable(gnn.MessagePassing):
        def edge_update(self, beta_j):
            return beta_j

    with pytest.raises(TypeError, match=r"Unfillable.edge_update: cannot fill parameter "
                                        r"`beta_j`"):
        Unfillable().edge_updater(ei, alpha=feats(N, 1))
    with pytest.raises(ValueError, match=r"Direction: expected `size` as \(N_src, N_dst\)"):
        Direction().edge_updater(ei, size=(N,), a=feats(N, 1))
    with pytest.raises(ValueError, match=r"Direction: expected `edge_index\[1\]` entries in "
                                         r"\[0, 3\)"):
        Direction().edge_updater(ei, a=(feats(N, 1), feats(3, 1)))


# ---- aggr="mul" ------------------------------------------------------------------------------
def product_reference(values, src, dst, n_dst):
    """PyG's scatter(reduce="mul"): the product per target, 1 where none arrives."""
    out = np.ones((n_dst,) + values.shape[1:])
    np.multiply.at(out, dst, values[src])
    return out


@pytest.mark.parametrize("form", ["edge_index", "coo", "csr"])
def test_mul_aggregation_matches_numpy(form):
    n_src, n_dst = 9, 6  # target 5 gets no edge: 1, as PyG
    rng = np.random.default_rng(0)
    ei = np.stack([rng.integers(0, n_src, 40), rng.integers(0, 5, 40)])  # degrees up to ~12
    x = feats(n_src, 3, seed=1)
    adj = ei
    if form != "edge_index":  # a COO keeps the caller's (unsorted) entry order
        adj = sparse_coo(ei[::-1].copy(), np.ones(ei.shape[1]), (n_dst, n_src))
        adj = adj.to_csr() if form == "csr" else adj
    got = gnn.MessagePassing(aggr="mul").propagate(adj, (x, None), size=(n_src, n_dst))
    np.testing.assert_allclose(arr(got), product_reference(arr(x), ei[0], ei[1], n_dst),
                               rtol=1e-12)


def test_mul_aggregation_in_a_list_and_a_pyg_aggregate_override():
    ei, x = shuffled_graph(seed=2, e=25), feats(N, 2, seed=2)
    want = product_reference(arr(x), ei[0], ei[1], N)
    summed = np.zeros_like(want)
    np.add.at(summed, ei[1], arr(x)[ei[0]])
    got = gnn.MessagePassing(aggr=["sum", "mul"]).propagate(ei, x)
    np.testing.assert_allclose(arr(got), np.concatenate([summed, want], axis=1), rtol=1e-12)

    class Halved(gnn.MessagePassing):  # PyG's aggregate(inputs, index, ptr, dim_size)
        def message(self, x_j):
            return x_j * 0.5

        def aggregate(self, inputs, index, ptr=None, dim_size=None):
            return super().aggregate(inputs, index, ptr, dim_size)

    np.testing.assert_allclose(arr(Halved(aggr="mul").propagate(ei, x)),
                               product_reference(0.5 * arr(x), ei[0], ei[1], N), rtol=1e-12)


def test_mul_aggregation_gradient_with_zeros():
    # d prod / d x_e = product of the other messages: exact with one zero, 0 with two
    ei = np.array([[0, 1, 2, 3, 4, 5, 1], [0, 0, 0, 1, 1, 2, 2]])
    values = np.array([[2.0, 0.0], [0.0, 3.0], [-1.5, 0.0], [4.0, 1.0], [0.5, -2.0],
                       [3.0, 0.0]])
    x = sg.tensor(values, dtype=sg.float64, requires_grad=True)
    out = gnn.MessagePassing(aggr="mul").propagate(ei, x, size=(6, 4))
    out.sum().backward()
    want = np.zeros_like(values)
    for e, (s, t) in enumerate(ei.T):
        others = [k for k in range(ei.shape[1]) if ei[1, k] == t and k != e]
        want[s] += np.prod(values[ei[0, others]], axis=0)
    np.testing.assert_allclose(arr(x.grad), want, rtol=1e-12)
    gradcheck(lambda t: gnn.MessagePassing(aggr="mul").propagate(ei, t, size=(6, 4)),
              [feats(6, 2, seed=3, grad=True)])


def test_unknown_aggregation_names_the_supported_ones():
    with pytest.raises(ValueError, match=r"MessagePassing: expected `aggr` in \('sum', 'mean', "
                                         r"'max', 'min', 'mul'\) \(got 'prod'\)"):
        gnn.MessagePassing(aggr="prod")


# ---- PyG's forward signatures ----------------------------------------------------------------
PYG_FORWARDS = {
    gnn.GCNConv: ["x", "edge_index", "edge_weight"],
    gnn.SGConv: ["x", "edge_index", "edge_weight"],
    gnn.SAGEConv: ["x", "edge_index", "size"],
    gnn.GINConv: ["x", "edge_index", "size"],
    gnn.GraphConv: ["x", "edge_index", "edge_weight", "size"],
    gnn.ChebConv: ["x", "edge_index", "edge_weight", "batch", "lambda_max"],
    gnn.GATConv: ["x", "edge_index", "edge_attr", "size", "return_attention_weights"],
    gnn.APPNP: ["x", "edge_index", "edge_weight"],
}


@pytest.mark.parametrize("cls", list(PYG_FORWARDS), ids=lambda c: c.__name__)
def test_forward_arguments_are_pygs(cls):
    params = list(inspect.signature(cls.forward).parameters)[1:]
    assert params == PYG_FORWARDS[cls]


def bipartite_block(n_src=8, n_dst=3, seed=0):
    """A sampled block: targets 0..n_dst-1 are the first sources (NeighborLoader's order)."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, n_src, 14), rng.integers(0, n_dst, 14)])


def mean_reference(x, src, dst, n_dst):
    out, deg = np.zeros((n_dst, x.shape[1])), np.zeros(n_dst)
    np.add.at(out, dst, x[src])
    np.add.at(deg, dst, 1.0)
    return out / np.maximum(deg, 1.0)[:, None]


def test_sage_size_propagates_to_the_target_count():
    n_src, n_dst = 8, 3
    ei, x = bipartite_block(n_src, n_dst), feats(n_src, F_IN, seed=1)
    conv = gnn.SAGEConv(F_IN, F, root_weight=False).to("float64")
    lin = conv.lin_l
    want = mean_reference(arr(x), ei[0], ei[1], n_dst) @ arr(lin.weight).T + arr(lin.bias)
    np.testing.assert_allclose(arr(conv(x, ei, size=(n_src, n_dst))), want, rtol=1e-10)
    # with the root weight: the pair (x, x[:n_dst]) gives the same as size with that pair
    conv = gnn.SAGEConv(F_IN, F).to("float64")
    pair = (x, x[:n_dst])
    np.testing.assert_allclose(arr(conv(x=pair, edge_index=ei, size=(n_src, n_dst))),
                               arr(conv(pair, ei)), rtol=1e-12)
    gradcheck(lambda t: conv((t, t[:n_dst]), ei, (n_src, n_dst)),
              [feats(n_src, F_IN, seed=2, grad=True)])


def test_sage_gin_graphconv_size_errors_name_the_layer():
    n_src, n_dst = 8, 3
    ei, x = bipartite_block(n_src, n_dst), feats(n_src, F_IN, seed=1)
    with pytest.raises(ValueError, match=r"SAGEConv: `size` gives 3 target nodes but `x` has "
                                         r"8 rows: the root weight .* pass x as a pair"):
        gnn.SAGEConv(F_IN, F).to("float64")(x, ei, size=(n_src, n_dst))
    with pytest.raises(ValueError, match=r"SAGEConv: expected `x` with 9 rows, one per source "
                                         r"node, to match `size\[0\]` = 9 \(got 8\)"):
        gnn.SAGEConv(F_IN, F, root_weight=False).to("float64")(x, ei, size=(9, n_dst))
    with pytest.raises(ValueError, match=r"SAGEConv: expected `size` as \(N_src, N_dst\)"):
        gnn.SAGEConv(F_IN, F).to("float64")(x, ei, size=3)
    gin = gnn.GINConv(sg.nn.Linear(F_IN, F).to("float64"))
    with pytest.raises(ValueError, match=r"GINConv: `size` gives 3 target nodes .* the "
                                         r"\(1 \+ eps\) \* x_i term"):
        gin(x, ei, size=(n_src, n_dst))
    with pytest.raises(ValueError, match=r"GraphConv: `size` gives 3 target nodes .* the root "
                                         r"term W_1 x_i"):
        gnn.GraphConv(F_IN, F).to("float64")(x, ei, size=(n_src, n_dst))


def test_gin_and_graphconv_take_size_as_pyg():
    n_src, n_dst = 8, 3
    ei, x = bipartite_block(n_src, n_dst, seed=4), feats(n_src, F_IN, seed=5)
    pair = (x, x[:n_dst])
    gin = gnn.GINConv(sg.nn.Linear(F_IN, F).to("float64"), eps=0.25)
    summed = np.zeros((n_dst, F_IN))
    np.add.at(summed, ei[1], arr(x)[ei[0]])
    lin = gin.nn
    want = (summed + 1.25 * arr(x)[:n_dst]) @ arr(lin.weight).T + arr(lin.bias)
    np.testing.assert_allclose(arr(gin(pair, ei, size=(n_src, n_dst))), want, rtol=1e-10)
    conv = gnn.GraphConv(F_IN, F).to("float64")
    w = np.random.default_rng(6).random(ei.shape[1])
    weighted = np.zeros((n_dst, F_IN))
    np.add.at(weighted, ei[1], arr(x)[ei[0]] * w[:, None])
    want = (weighted @ arr(conv.lin_rel.weight).T + arr(conv.lin_rel.bias)
            + arr(x)[:n_dst] @ arr(conv.lin_root.weight).T)
    got = conv(pair, ei, sg.tensor(w), (n_src, n_dst))
    np.testing.assert_allclose(arr(got), want, rtol=1e-10)
    # homogeneous size: as without it
    ei = shuffled_graph(seed=6)
    x = feats(N, F_IN, seed=7)
    np.testing.assert_allclose(arr(gin(x, ei, size=(N, N))), arr(gin(x, ei)), rtol=1e-12)
    np.testing.assert_allclose(arr(conv(x, ei, size=(N, None))), arr(conv(x, ei)), rtol=1e-12)


def test_edge_updater_pair_with_none_gives_none_as_pyg():
    # PyG's GATConv: alpha = (alpha_src, None) without target features -> alpha_i is None
    conv, mine = gat_pair(4)
    n_src, n_dst = 6, 3
    ei = np.array([[5, 0, 3, 1, 4, 2], [2, 0, 1, 2, 0, 2]])
    a_src = feats(n_src, H, seed=11)
    got = arr(mine.edge_updater(ei, size=(n_src, n_dst), alpha=(a_src, None)))
    score = arr(a_src)[ei[0]]
    score = np.where(score > 0, score, conv.negative_slope * score)
    want = np.exp(score)
    total = np.zeros((n_dst, H))
    np.add.at(total, ei[1], want)
    np.testing.assert_allclose(got, want / total[ei[1]], rtol=1e-12)
    assert mine.seen["size_i"] == n_dst


def test_gat_size_must_match_the_node_features():
    conv = gnn.GATConv(4, 2, heads=2)
    x = sg.randn(5, 4)
    ei = np.array([[0, 1, 2], [1, 2, 3]])
    np.testing.assert_allclose(conv(x, ei, None, (5, 5)).detach().numpy(),
                               conv(x, ei).detach().numpy())
    out, (_, alpha) = conv(x, ei, return_attention_weights=True)
    assert alpha.shape[1] == 2
    with pytest.raises(ValueError, match=r"GATConv: `size` \(5, 3\) does not match the node "
                                         r"features: 5 source and 5 target rows"):
        conv(x, ei, size=(5, 3))
