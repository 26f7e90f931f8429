"""MessagePassing hooks against dense numpy references: overridden hooks run, `message`'s
parameters are matched by name (PyG's x_i / x_j), per-edge tensors follow the caller's order."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph import gnn

N, F = 5, 3
# not sorted by target (the CSR order): edge k is EDGES[0, k] -> EDGES[1, k]
EDGES = np.array([[0, 1, 2, 3, 4, 0], [1, 0, 1, 4, 2, 3]])
WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])


def features(n=N, seed=0):
    return sg.tensor(np.random.default_rng(seed).standard_normal((n, F)), dtype=sg.float64)


def dense_weighted_adjacency(edges=EDGES, weights=WEIGHTS, n=N):
    a = np.zeros((n, n))
    a[edges[1], edges[0]] = weights  # row = target, column = source
    return a


def in_neighbours(target, edges=EDGES):
    """Edge ids of ``target``'s in-edges, in edge_index order."""
    return np.flatnonzero(edges[1] == target)


class MaxByOverriddenAggregate(gnn.MessagePassing):
    """aggr stays "sum"; only the overridden aggregate makes it a max."""

    def aggregate(self, messages, adj):
        return ops.segment(messages, adj.structure.indptr, "max")

    def forward(self, x, adj):
        return self.propagate(adj, x)


class Propagate(gnn.MessagePassing):
    """The default hooks: ``forward`` is exactly ``propagate``."""

    def forward(self, x, adj, **kwargs):
        return self.propagate(adj, x, **kwargs)


def test_an_overridden_aggregate_runs_instead_of_the_fused_sum():
    x = features()
    conv = MaxByOverriddenAggregate()
    assert not conv.uses_fused_path()
    xn = x.numpy()
    expected = np.stack([xn[EDGES[0, in_neighbours(i)]].max(axis=0) if in_neighbours(i).size
                         else np.zeros(F) for i in range(N)])
    np.testing.assert_allclose(conv(x, EDGES).numpy(), expected, rtol=1e-12)


def test_an_overridden_message_and_aggregate_is_used_for_a_sparse_adjacency():
    class Doubled(Propagate):
        def message_and_aggregate(self, adj, x):
            return ops.spmm(adj, x) * 2

    x = features()
    plain = dense_weighted_adjacency(weights=np.ones(EDGES.shape[1])) @ x.numpy()
    for adj in (sg.from_edge_index(EDGES, N, dtype="float64"), sg.Graph(edge_index=EDGES)):
        assert Doubled().uses_fused_path(adj)
        np.testing.assert_allclose(Doubled()(x, adj).numpy(), 2 * plain, rtol=1e-12)
    # PyG's rule: an edge_index takes message() and aggregate() (here the defaults)
    assert not Doubled().uses_fused_path(EDGES)
    np.testing.assert_allclose(Doubled()(x, EDGES).numpy(), plain, rtol=1e-12)


@pytest.mark.parametrize("aggr", ["sum", "max"])  # the fused spmm and the explicit path
def test_propagate_edge_weight_follows_edge_index_order(aggr):
    x = features()
    w = sg.tensor(WEIGHTS, dtype=sg.float64)
    out = Propagate(aggr=aggr)(x, EDGES, edge_weight=w).numpy()
    xn = x.numpy()
    if aggr == "sum":
        expected = dense_weighted_adjacency() @ xn
    else:
        expected = np.stack([(WEIGHTS[in_neighbours(i), None] * xn[EDGES[0, in_neighbours(i)]])
                             .max(axis=0) if in_neighbours(i).size else np.zeros(F)
                             for i in range(N)])
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_propagate_edge_weight_follows_a_coo_adjacencys_entry_order():
    x = features()
    coo = sg.sparse_coo(EDGES[::-1].copy(), None, (N, N))
    out = Propagate()(x, coo, edge_weight=sg.tensor(WEIGHTS, dtype=sg.float64)).numpy()
    np.testing.assert_allclose(out, dense_weighted_adjacency() @ x.numpy(), rtol=1e-12)


def test_message_gets_target_features_as_x_i_and_source_features_as_x_j():
    class Difference(Propagate):
        def message(self, x_i, x_j):
            return x_i - x_j

    x = features()
    xn = x.numpy()
    a = dense_weighted_adjacency(weights=np.ones(EDGES.shape[1]))
    expected = a.sum(axis=1, keepdims=True) * xn - a @ xn  # sum_j (x_i - x_j)
    np.testing.assert_allclose(Difference()(x, EDGES).numpy(), expected, rtol=1e-12)


def test_x_i_comes_from_x_dst_of_a_pair():
    class Product(Propagate):
        def message(self, x_j, x_i):
            return x_i * x_j

    x_src, x_dst = features(4, seed=1), features(2, seed=2)
    a = np.array([[1.0, 0, 1, 1], [0, 1, 0, 0]])  # (N_dst, N_src)
    adj = sg.sparse_csr(*_csr(a), shape=a.shape, dtype=sg.float64)
    expected = x_dst.numpy() * (a @ x_src.numpy())
    np.testing.assert_allclose(Product()((x_src, x_dst), adj).numpy(), expected, rtol=1e-12)


def _csr(a):
    rows, cols = np.nonzero(a)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=a.shape[0]))])
    return indptr, cols, a[rows, cols]


def test_message_gets_edge_weight_kwargs_and_gathered_node_kwargs_by_name():
    class Custom(Propagate):
        def message(self, x_j, edge_weight, edge_attr, pos_i, pos_j, scale):
            shift = (pos_i - pos_j).sum(dim=1, keepdim=True)
            return (x_j * edge_weight.reshape((-1, 1)) + edge_attr + shift) * scale

    x, pos = features(), features(seed=3)
    edge_attr = np.random.default_rng(4).standard_normal((EDGES.shape[1], F))
    out = Custom()(x, EDGES, edge_weight=sg.tensor(WEIGHTS, dtype=sg.float64),
                   edge_attr=sg.tensor(edge_attr, dtype=sg.float64), pos=pos, scale=0.5)
    xn, pn = x.numpy(), pos.numpy()
    expected = np.zeros((N, F))
    for k, (j, i) in enumerate(EDGES.T):  # edge k: j -> i, in edge_index order
        expected[i] += (WEIGHTS[k] * xn[j] + edge_attr[k] + (pn[i] - pn[j]).sum()) * 0.5
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_an_unknown_message_parameter_is_named():
    class Unknown(Propagate):
        def message(self, x_j, mystery):
            return x_j

    with pytest.raises(TypeError, match="Unknown.message: cannot fill parameter `mystery`"):
        Unknown()(features(), EDGES)


def test_a_per_edge_tensor_of_the_wrong_length_is_named():
    with pytest.raises(ValueError, match=r"Propagate: expected `edge_weight` with 6 rows"):
        Propagate()(features(), EDGES, edge_weight=sg.ones(4, dtype=sg.float64))


def test_message_with_var_keywords_gets_every_propagate_keyword():
    class Collect(Propagate):
        def message(self, x_j, /, **extra):
            return x_j * extra["edge_scale"].reshape((-1, 1)) * extra["factor"]

    x = features()
    out = Collect()(x, EDGES, edge_scale=sg.tensor(WEIGHTS, dtype=sg.float64), factor=3.0)
    np.testing.assert_allclose(out.numpy(), 3.0 * dense_weighted_adjacency() @ x.numpy(),
                               rtol=1e-12)


def test_a_per_edge_keyword_without_the_edge_prefix_follows_edge_index_order():
    """PyG's GCN passes `norm` (one value per edge, in edge_index order) to message."""

    class Norm(gnn.MessagePassing):
        def forward(self, x, edge_index, norm):
            return self.propagate(edge_index, x, norm=norm)

        def message(self, x_j, norm):
            return x_j * norm.reshape(-1, 1)

    ei = np.array([[0, 1, 2, 3, 4, 0], [1, 0, 1, 4, 2, 3]])  # unsorted targets, E=6 > N=5
    norm = np.arange(1.0, 7.0)
    x = np.random.default_rng(0).standard_normal((5, 3))
    want = np.zeros((5, 3))
    np.add.at(want, ei[1], x[ei[0]] * norm[:, None])
    got = Norm()(sg.tensor(x), ei, norm=sg.tensor(norm))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


class ScaleTwice(gnn.MessagePassing):
    """`scale` reaches both hooks by name (PyG): out = scale^2 * A @ x."""

    def forward(self, x, adj):
        return self.propagate(adj, x, scale=2.0)

    def message(self, x_j, scale):
        return x_j * scale

    def update(self, aggr_out, scale):
        return aggr_out * scale


class DoubleUpdate(gnn.MessagePassing):
    """The plain PyG override: update(aggr_out) alone."""

    def forward(self, x, adj):
        return self.propagate(adj, x)

    def update(self, aggr_out):
        return aggr_out * 2


class AddRootInUpdate(gnn.MessagePassing):
    """update asks for `x` as given to propagate (PyG's `update(self, aggr_out, x)`)."""

    def forward(self, x, adj):
        return self.propagate(adj, x)

    def update(self, aggr_out, x):
        return aggr_out + x


def test_update_gets_propagate_keywords_by_name():
    x = features()
    a = dense_weighted_adjacency(weights=np.ones(EDGES.shape[1]))
    np.testing.assert_allclose(ScaleTwice()(x, EDGES).numpy(), 4 * a @ x.numpy(), rtol=1e-12)


def test_update_with_only_the_aggregate_works():
    x = features()
    a = dense_weighted_adjacency(weights=np.ones(EDGES.shape[1]))
    np.testing.assert_allclose(DoubleUpdate()(x, EDGES).numpy(), 2 * a @ x.numpy(), rtol=1e-12)


def test_update_gets_x_by_name():
    x = features()
    a = dense_weighted_adjacency(weights=np.ones(EDGES.shape[1]))
    np.testing.assert_allclose(AddRootInUpdate()(x, EDGES).numpy(), a @ x.numpy() + x.numpy(),
                               rtol=1e-12)


def test_an_unknown_update_parameter_is_named():
    class Bad(DoubleUpdate):
        def update(self, aggr_out, missing):
            return aggr_out

    with pytest.raises(TypeError, match=r"Bad.update: cannot fill parameter `missing`"):
        Bad()(features(), EDGES)
