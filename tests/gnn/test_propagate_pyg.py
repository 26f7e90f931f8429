"""MessagePassing written the PyG way: ``size``, node tensors under any keyword, PyG's extra
message arguments (index, ptr, size_i, ...), PyG's ``aggregate`` signature, ``flow`` and
``aggr=None``; every value against a numpy reference of PyG's formula."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph import gnn
from sparsegraph.sparse import sparse_coo
from sparsegraph.testing import gradcheck

N_SRC, N_DST, F = 5, 3, 2
# 5 sources -> 3 targets, not sorted by target (the caller's order differs from CSR order);
# 1 -> 2 twice (a duplicate edge)
EI = np.array([[4, 0, 1, 3, 1, 2, 1], [2, 0, 2, 1, 0, 2, 2]])


def feats(n, f=F, seed=0, grad=False):
    x = np.random.default_rng(seed).standard_normal((n, f))
    return sg.tensor(x, dtype=sg.float64, requires_grad=grad)


def arr(t):
    return t.detach().numpy()


def scatter(values, index, n, reduce="sum"):
    """PyG's scatter: empty outputs are 0."""
    out = np.zeros((n,) + values.shape[1:])
    for i in range(n):
        rows = values[index == i]
        if rows.size:
            out[i] = {"sum": np.sum, "max": np.max, "mean": np.mean}[reduce](rows, axis=0)
    return out


class Copy(gnn.MessagePassing):
    """No hook overridden: the fused spmm path."""

    def forward(self, x, edge_index, size=None):
        return self.propagate(edge_index, x=x, size=size)


class CopyMessage(Copy):
    def message(self, x_j):
        return x_j


# ---- size ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, reduce", [(Copy, "sum"), (CopyMessage, "sum"),
                                          (lambda: CopyMessage(aggr="max"), "max"),
                                          (lambda: Copy(aggr="mean"), "mean")])
def test_size_gives_n_dst_output_rows_from_x_src_alone(make, reduce):
    x = feats(N_SRC)
    out = make()(x, EI, size=(N_SRC, N_DST))
    assert out.shape == (N_DST, F)
    np.testing.assert_allclose(arr(out), scatter(arr(x)[EI[0]], EI[1], N_DST, reduce),
                               rtol=1e-12)


def test_size_path_gradcheck():
    x = feats(N_SRC, grad=True)
    gradcheck(lambda t: CopyMessage(aggr="max")(t, EI, size=(N_SRC, N_DST)), [x])
    gradcheck(lambda t: Copy(aggr="mean")(t, EI, size=(N_SRC, N_DST)), [x])


def test_size_refuses_indices_out_of_range_and_mismatched_features():
    x = feats(4)
    with pytest.raises(ValueError, match=r"Copy: expected `edge_index\[0\]` entries in \[0, 4\) "
                                         r"to match `size\[0\]` = 4 \(got 4\)"):
        Copy()(x, EI, size=(4, N_DST))
    with pytest.raises(ValueError, match=r"CopyMessage: expected `edge_index\[1\]` entries in "
                                         r"\[0, 2\) to match `size\[1\]` = 2 \(got 2\)"):
        CopyMessage()(feats(N_SRC), EI, size=(N_SRC, 2))
    with pytest.raises(ValueError, match=r"Copy: expected `x` with 4 rows, one per source node, "
                                         r"to match `size\[0\]` = 4 \(got 5\)"):
        Copy()(feats(N_SRC), EI, size=(4, N_DST))
    with pytest.raises(ValueError, match=r"Copy: expected `size` as \(N_src, N_dst\)"):
        Copy()(feats(N_SRC), EI, size=(N_SRC,))


def test_size_must_match_a_sparse_adjacency():
    adj = sparse_coo(EI[::-1].copy(), None, (N_DST, N_SRC), dtype="float64")
    x = feats(N_SRC)
    np.testing.assert_allclose(arr(Copy()(x, adj, size=(N_SRC, N_DST))),
                               scatter(arr(x)[EI[0]], EI[1], N_DST), rtol=1e-12)
    np.testing.assert_allclose(arr(Copy()(x, adj)),  # one x: sources, as PyG
                               scatter(arr(x)[EI[0]], EI[1], N_DST), rtol=1e-12)
    with pytest.raises(ValueError, match=r"Copy: expected `size` \(N_src, N_dst\) to match "
                                         r"`adj` of shape \(3, 5\)"):
        Copy()(x, adj, size=(N_SRC, 4))


def test_size_lets_a_message_without_node_features_run_on_an_edge_index():
    class EdgeSum(gnn.MessagePassing):
        def message(self, edge_attr):
            return edge_attr

    attr = np.arange(14.0).reshape(7, 2)
    out = EdgeSum().propagate(EI, edge_attr=sg.tensor(attr), size=(N_SRC, N_DST))
    np.testing.assert_allclose(arr(out), scatter(attr, EI[1], N_DST), rtol=1e-12)


# ---- node features under any keyword ------------------------------------------------------------
def test_node_features_under_another_name():
    class H(gnn.MessagePassing):
        def forward(self, h, edge_index):
            return self.propagate(edge_index, h=h)

        def message(self, h_i, h_j):
            return h_j - 0.5 * h_i

    ei = np.array([[0, 1, 2, 3, 4, 0], [1, 2, 1, 0, 3, 4]])
    h = feats(5, grad=True)
    hn = arr(h)
    want = scatter(hn[ei[0]] - 0.5 * hn[ei[1]], ei[1], 5)
    np.testing.assert_allclose(arr(H()(h, ei)), want, rtol=1e-12)
    gradcheck(lambda t: H()(t, ei), [h])


def test_a_pair_under_another_name_gives_both_counts():
    class Bipartite(gnn.MessagePassing):
        def message(self, h_i, h_j):
            return h_j * h_i

    h_src, h_dst = feats(N_SRC, seed=1), feats(N_DST, seed=2)
    out = Bipartite().propagate(EI, h=(h_src, h_dst))
    want = scatter(arr(h_src)[EI[0]] * arr(h_dst)[EI[1]], EI[1], N_DST)
    np.testing.assert_allclose(arr(out), want, rtol=1e-12)
    with pytest.raises(ValueError, match=r"Bipartite: expected `h\[1\]` with 3 rows, one per "
                                         r"target node, to match `size\[1\]` = 3 \(got 4\)"):
        Bipartite().propagate(EI, h=(h_src, feats(4)), size=(N_SRC, N_DST))


# ---- PyG's message arguments --------------------------------------------------------------------
class Attention(gnn.MessagePassing):
    """PyG's custom-attention pattern: softmax(alpha, index, ptr, size_i) in ``message``,
    alpha kept on the layer to be returned with the edge_index as given."""

    def __init__(self):
        super().__init__(aggr="sum")
        self.seen = {}

    def forward(self, x, edge_index, att):
        return self.propagate(edge_index, x=x, att=att)

    def message(self, x_j, x_i, att, index, ptr, size_i, size_j, edge_index_i, edge_index_j):
        score = ((x_j + x_i) * att).sum(dim=1)
        alpha = ops.segment_softmax(score, index=index, indptr=ptr, num_segments=size_i)
        self.seen = dict(alpha=alpha, index=index, ptr=ptr, size_i=size_i, size_j=size_j,
                         edge_index_i=edge_index_i, edge_index_j=edge_index_j)
        return x_j * alpha.reshape((-1, 1))


def attention_reference(x, ei, att, n):
    score = ((x[ei[0]] + x[ei[1]]) * att).sum(1)
    alpha = np.exp(score - scatter(score, ei[1], n, "max")[ei[1]])
    alpha /= scatter(alpha, ei[1], n)[ei[1]]
    return scatter(x[ei[0]] * alpha[:, None], ei[1], n), alpha


def test_message_gets_index_ptr_and_sizes_in_the_given_edge_order():
    ei = np.array([[0, 1, 2, 3, 4, 0, 2], [1, 2, 1, 0, 3, 4, 2]])  # unsorted, a self loop
    x, att = feats(5, grad=True), feats(1, seed=5, grad=True)
    conv = Attention()
    out = conv(x, ei, att)
    want, alpha = attention_reference(arr(x), ei, arr(att), 5)
    np.testing.assert_allclose(arr(out), want, rtol=1e-12)
    seen = conv.seen
    np.testing.assert_allclose(arr(seen["alpha"]), alpha, rtol=1e-12)  # edge order
    np.testing.assert_array_equal(arr(seen["index"]), ei[1])
    np.testing.assert_array_equal(arr(seen["edge_index_i"]), ei[1])
    np.testing.assert_array_equal(arr(seen["edge_index_j"]), ei[0])
    assert seen["ptr"] is None and seen["size_i"] == 5 and seen["size_j"] == 5
    gradcheck(lambda a, b: conv(a, ei, b), [x, att])


def test_a_csr_adjacency_gives_ptr_and_sorted_index():
    ei = np.array([[0, 1, 2, 3, 4, 0, 2], [1, 2, 1, 0, 3, 4, 2]])
    adj = sg.from_edge_index(ei, 5)  # CSR
    x, att = feats(5), feats(1, seed=5)
    conv = Attention()
    want, _ = attention_reference(arr(x), ei, arr(att), 5)
    np.testing.assert_allclose(arr(conv(x, adj, att)), want, rtol=1e-12)
    np.testing.assert_array_equal(arr(conv.seen["ptr"]), adj.structure.indptr)
    np.testing.assert_array_equal(arr(conv.seen["index"]), np.sort(ei[1]))


def test_message_overrides_see_per_edge_keywords_in_the_given_order():
    class Weighted(gnn.MessagePassing):
        def message(self, x_j, edge_attr, edge_index):
            self.edge_index = edge_index
            return x_j * edge_attr

    attr = np.random.default_rng(3).standard_normal((7, F))
    x = feats(N_SRC)
    conv = Weighted(aggr=["sum", "max"])
    out = conv.propagate(EI, x, edge_attr=sg.tensor(attr), size=(N_SRC, N_DST))
    msg = arr(x)[EI[0]] * attr
    want = np.concatenate([scatter(msg, EI[1], N_DST), scatter(msg, EI[1], N_DST, "max")], 1)
    np.testing.assert_allclose(arr(out), want, rtol=1e-12)
    np.testing.assert_array_equal(arr(conv.edge_index), EI)


# ---- aggregate ----------------------------------------------------------------------------------
def test_an_aggregate_with_pygs_signature_gets_index_and_dim_size():
    class TwiceMax(gnn.MessagePassing):
        def message(self, x_j):
            return x_j

        def aggregate(self, inputs, index, ptr=None, dim_size=None):
            self.got = (index, ptr, dim_size)
            return ops.scatter(inputs, index, dim_size, "max") * 2

    x = feats(N_SRC, grad=True)
    conv = TwiceMax()
    out = conv.propagate(EI, x, size=(N_SRC, N_DST))
    np.testing.assert_allclose(arr(out),
                               2 * scatter(arr(x)[EI[0]], EI[1], N_DST, "max"), rtol=1e-12)
    index, ptr, dim_size = conv.got
    np.testing.assert_array_equal(arr(index), EI[1])
    assert ptr is None and dim_size == N_DST
    gradcheck(lambda t: conv.propagate(EI, t, size=(N_SRC, N_DST)), [x])


def test_super_aggregate_with_pygs_arguments_reduces_by_aggr():
    class Super(gnn.MessagePassing):
        def message(self, x_j):
            return x_j

        def aggregate(self, inputs, index, ptr=None, dim_size=None):
            return super().aggregate(inputs, index, ptr=ptr, dim_size=dim_size) + 1.0

    x = feats(N_SRC)
    out = Super(aggr=["mean", "max"]).propagate(EI, x, size=(N_SRC, N_DST))
    xj = arr(x)[EI[0]]
    want = np.concatenate([scatter(xj, EI[1], N_DST, "mean"),
                           scatter(xj, EI[1], N_DST, "max")], 1) + 1.0
    np.testing.assert_allclose(arr(out), want, rtol=1e-12)


def test_an_aggregate_over_adj_gets_the_messages_in_csr_order():
    class SegmentMax(gnn.MessagePassing):
        def message(self, x_j, edge_attr):
            return x_j * edge_attr

        def aggregate(self, messages, adj):
            return ops.segment(messages, adj.structure.indptr, "max")

    attr = np.random.default_rng(4).standard_normal((7, F))
    x = feats(N_SRC, grad=True)
    a = sg.tensor(attr, requires_grad=True)
    out = SegmentMax().propagate(EI, x, edge_attr=a, size=(N_SRC, N_DST))
    want = scatter(arr(x)[EI[0]] * attr, EI[1], N_DST, "max")
    np.testing.assert_allclose(arr(out), want, rtol=1e-12)
    gradcheck(lambda t, e: SegmentMax().propagate(EI, t, edge_attr=e, size=(N_SRC, N_DST)),
              [x, a])


# ---- flow ---------------------------------------------------------------------------------------
def test_flow_target_to_source_sends_messages_from_row_1_to_row_0():
    class Diff(gnn.MessagePassing):
        def __init__(self):
            super().__init__(aggr="sum", flow="target_to_source")

        def message(self, x_i, x_j, index, edge_index_j):
            self.index, self.j = index, edge_index_j
            return x_j - 2 * x_i

    ei = np.array([[0, 1, 2, 3, 4, 0], [1, 2, 1, 0, 3, 4]])
    x = feats(5, grad=True)
    conv = Diff()
    out = conv.propagate(ei, x)
    xn = arr(x)
    np.testing.assert_allclose(arr(out), scatter(xn[ei[1]] - 2 * xn[ei[0]], ei[0], 5),
                               rtol=1e-12)
    np.testing.assert_array_equal(arr(conv.index), ei[0])
    np.testing.assert_array_equal(arr(conv.j), ei[1])
    gradcheck(lambda t: conv.propagate(ei, t), [x])


def test_flow_target_to_source_fused_with_size_and_a_pair():
    class Fused(gnn.MessagePassing):
        def __init__(self, aggr="sum"):
            super().__init__(aggr=aggr, flow="target_to_source")

    rev = EI[::-1].copy()  # row 0: the 3 targets, row 1: the 5 sources
    x = feats(N_SRC)
    want = scatter(arr(x)[EI[0]], EI[1], N_DST, "mean")
    np.testing.assert_allclose(arr(Fused("mean").propagate(rev, x, size=(N_DST, N_SRC))), want,
                               rtol=1e-12)
    np.testing.assert_allclose(arr(Fused("mean").propagate(rev, (feats(N_DST), x))), want,
                               rtol=1e-12)
    with pytest.raises(ValueError, match=r"Fused: expected `edge_index\[1\]` entries in \[0, 4\)"
                                         r" to match `size\[1\]` = 4 \(got 4\)"):
        Fused().propagate(rev, feats(4), size=(N_DST, 4))


def test_flow_is_checked_and_refused_with_a_sparse_adjacency():
    with pytest.raises(ValueError, match=r"MessagePassing: expected `flow` in"):
        gnn.MessagePassing(flow="sideways")
    conv = gnn.MessagePassing(flow="target_to_source")
    with pytest.raises(ValueError, match=r"flow='target_to_source' takes an edge_index"):
        conv.propagate(sg.from_edge_index(EI, N_SRC), feats(N_SRC))


# ---- aggr=None ----------------------------------------------------------------------------------
def test_aggr_none_needs_the_layer_to_aggregate():
    with pytest.raises(ValueError, match=r"MessagePassing: `aggr=None` leaves the aggregation"):
        gnn.MessagePassing(aggr=None)
    with pytest.raises(ValueError, match=r"MessagePassing: expected `aggr` in .* \(got 3\)"):
        gnn.MessagePassing(aggr=3)

    class OwnSpmm(gnn.MessagePassing):
        def __init__(self):
            super().__init__(aggr=None)

        def message_and_aggregate(self, adj_t, x):
            return ops.spmm(adj_t, x) * 3

    x = feats(N_SRC)
    out = OwnSpmm().propagate(EI, x, size=(N_SRC, N_DST))
    np.testing.assert_allclose(arr(out), 3 * scatter(arr(x)[EI[0]], EI[1], N_DST),
                               rtol=1e-12)


def test_an_array_as_x_is_refused_by_name():
    with pytest.raises(TypeError, match=r"Copy: expected `x` to be a Tensor or a sparse CSR "
                                        r"SparseTensor \(got ndarray\)"):
        Copy()(np.ones((N_SRC, F)), EI)
