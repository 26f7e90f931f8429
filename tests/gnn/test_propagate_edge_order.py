"""Which edge order each MessagePassing hook sees, and the fused path on features of any rank.

Per-edge keywords (PyG's ``norm``) must pair with their edges whatever E is; a test of this
needs E == N (a node count), where a per-edge tensor cannot be told from a per-node one by
its rows, and edges not sorted by target (the caller's order differs from CSR order)."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph import gnn
from sparsegraph.testing import gradcheck

N = 5
EDGES = {  # not sorted by target
    "e_ne_n": np.array([[0, 1, 2, 3, 4, 0], [4, 3, 2, 1, 0, 0]]),  # E = 6
    "e_eq_n": np.array([[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]]),  # E = N = 5
    "e_eq_n_dup": np.array([[3, 0, 4, 1, 3], [1, 4, 0, 1, 1]]),  # E = N, repeated targets
}


def features(n=N, f=2, seed=0, grad=False):
    x = np.random.default_rng(seed).standard_normal((n, f))
    return sg.tensor(x, dtype=sg.float64, requires_grad=grad)


def coo(ei, n=N):
    """The edges of ``ei`` as a target-major COO SparseTensor whose stored entries follow the
    columns of ``ei`` (the caller's order): the input that takes an overridden
    message_and_aggregate (PyG's rule: an edge_index takes message / aggregate)."""
    return sg.sparse_coo(np.asarray(ei)[::-1].copy(), None, (n, n), dtype="float64")


def weighted_sum(x, ei, norm, n_dst=N):
    """``out_i = sum_{k: ei[1, k] = i} norm[k] x[ei[0, k]]`` (PyG's pairing)."""
    out = np.zeros((n_dst,) + x.shape[1:])
    np.add.at(out, ei[1], norm.reshape((-1,) + (1,) * (x.ndim - 1)) * x[ei[0]])
    return out


class Aggregate(gnn.MessagePassing):
    """The default message; PyG's aggregate with a per-edge keyword."""

    def forward(self, x, ei, norm):
        return self.propagate(ei, x=x, norm=norm)

    def aggregate(self, inputs, index, norm, ptr=None, dim_size=None):
        self.index = index
        return ops.scatter(inputs * norm.reshape((-1, 1)), index, dim_size, "sum")


class MessageAggregate(Aggregate):
    """A message of its own, and the same aggregate."""

    def message(self, x_j):
        return x_j * 1.0


class Message(gnn.MessagePassing):
    def forward(self, x, ei, norm):
        return self.propagate(ei, x=x, norm=norm)

    def message(self, x_j, norm):
        return x_j * norm.reshape((-1, 1))


class Fused(gnn.MessagePassing):
    """message_and_aggregate with a declared (``edge_*``) per-edge keyword (run for a
    SparseTensor adjacency)."""

    def forward(self, x, ei, norm):
        return self.propagate(ei, x=x, edge_norm=norm)

    def message_and_aggregate(self, adj, x, edge_norm):
        return ops.spmm(adj.with_values(edge_norm), x)


class FusedNorm(gnn.MessagePassing):
    """message_and_aggregate with PyG's plain name ``norm``."""

    def forward(self, x, ei, norm):
        return self.propagate(ei, x=x, norm=norm)

    def message_and_aggregate(self, adj, x, norm):
        return ops.spmm(adj.with_values(norm), x)


@pytest.mark.parametrize("edges", EDGES, ids=EDGES.keys())
@pytest.mark.parametrize("cls", [Aggregate, MessageAggregate, Message, Fused])
def test_a_per_edge_keyword_pairs_with_its_edge_whatever_e_is(cls, edges):
    ei = EDGES[edges]
    given = coo(ei) if cls is Fused else ei
    x = features(grad=True)
    norm = sg.tensor(np.arange(1.0, ei.shape[1] + 1), dtype=sg.float64, requires_grad=True)
    conv = cls()
    np.testing.assert_allclose(conv(x, given, norm).detach().numpy(),
                               weighted_sum(x.detach().numpy(), ei, norm.detach().numpy()),
                               rtol=1e-12)
    gradcheck(lambda t, n: cls()(t, given, n), [x, norm])
    if isinstance(conv, Aggregate):  # PyG: inputs, index and norm all in the caller's order
        np.testing.assert_array_equal(conv.index.numpy(), ei[1])


@pytest.mark.parametrize("edges", ["e_ne_n"])
def test_message_and_aggregate_reorders_a_keyword_of_e_rows_that_no_node_count_has(edges):
    ei = EDGES[edges]
    x, norm = features(), sg.tensor(np.arange(1.0, ei.shape[1] + 1), dtype=sg.float64)
    np.testing.assert_allclose(FusedNorm()(x, coo(ei), norm).numpy(),
                               weighted_sum(x.numpy(), ei, norm.numpy()), rtol=1e-12)


def test_message_and_aggregate_refuses_a_keyword_that_may_be_per_node_while_orders_differ():
    ei = EDGES["e_eq_n"]
    x, norm = features(), sg.tensor(np.arange(1.0, N + 1), dtype=sg.float64)
    with pytest.raises(ValueError, match=r"FusedNorm.message_and_aggregate: cannot tell whether "
                                         r"`norm` of shape \(5,\) holds one row per edge or per "
                                         r"node \(5 edges, 5 source and 5 target nodes\).*name it "
                                         r"`edge_norm`"):
        FusedNorm()(x, coo(ei), norm)
    # the edges sorted by target (a CSR SparseTensor, or such an edge_index): both orders
    # agree, nothing to guess; an empty graph neither
    order = np.lexsort((ei[0], ei[1]))
    adj = sg.from_edge_index(ei[:, order], N, dtype="float64")
    assert adj.layout == "csr"
    for given in (adj, coo(ei[:, order])):
        np.testing.assert_allclose(FusedNorm()(x, given, norm[order]).numpy(),
                                   weighted_sum(x.numpy(), ei, norm.numpy()), rtol=1e-12)
    empty = FusedNorm()(features(0), coo(np.zeros((2, 0), np.int64), 0),
                        sg.zeros(0, dtype=sg.float64))
    assert empty.shape == (0, 2)


def test_message_and_aggregate_gets_node_keywords_unchanged():
    class Scaled(gnn.MessagePassing):
        def forward(self, x, ei, scale):
            return self.propagate(ei, x=x, scale=scale)

        def message_and_aggregate(self, adj, x, scale):
            return ops.spmm(adj, x) * scale.reshape((-1, 1))

    ei = EDGES["e_ne_n"]  # E = 6, a (5,) keyword is one per node
    x, scale = features(), sg.tensor(np.arange(2.0, N + 2), dtype=sg.float64)
    np.testing.assert_allclose(Scaled()(x, coo(ei), scale).numpy(),
                               weighted_sum(x.numpy(), ei, np.ones(6)) * scale.numpy()[:, None],
                               rtol=1e-12)


def test_a_per_edge_keyword_pairs_with_its_edge_under_target_to_source():
    class Reversed(Aggregate):
        def __init__(self):
            super().__init__(flow="target_to_source")

    ei = EDGES["e_eq_n_dup"]  # messages go from row 1 to row 0
    x, norm = features(), sg.tensor(np.arange(1.0, N + 1), dtype=sg.float64)
    np.testing.assert_allclose(Reversed()(x, ei, norm).numpy(),
                               weighted_sum(x.numpy(), ei[::-1], norm.numpy()), rtol=1e-12)


# ---- PyG's rule: message_and_aggregate for a SparseTensor, message / aggregate otherwise ----
class BothHooks(gnn.MessagePassing):
    """PyG's GCN tutorial layer: ``message(x_j, norm)`` for an edge_index, and a fused
    ``message_and_aggregate`` (the unweighted sum: no ``norm``) for a SparseTensor."""

    def forward(self, x, adj, norm):
        return self.propagate(adj, x=x, norm=norm)

    def message(self, x_j, norm):
        return norm.reshape((-1, 1)) * x_j

    def message_and_aggregate(self, adj_t, x):
        return ops.spmm(adj_t, x)


@pytest.mark.parametrize("edges", EDGES, ids=EDGES.keys())
def test_an_edge_index_takes_message_even_with_message_and_aggregate(edges):
    ei = EDGES[edges]
    x = features(grad=True)
    norm = sg.tensor(np.arange(1.0, ei.shape[1] + 1), dtype=sg.float64, requires_grad=True)
    np.testing.assert_allclose(BothHooks()(x, ei, norm).detach().numpy(),
                               weighted_sum(x.detach().numpy(), ei, norm.detach().numpy()),
                               rtol=1e-12)
    gradcheck(lambda t, n: BothHooks()(t, ei, n), [x, norm])
    for sparse in (coo(ei), sg.Graph(edge_index=ei, num_nodes=N)):  # the fused hook
        np.testing.assert_allclose(BothHooks()(x, sparse, norm).detach().numpy(),
                                   weighted_sum(x.detach().numpy(), ei, np.ones(ei.shape[1])),
                                   rtol=1e-6)


@pytest.mark.parametrize("flow", ["source_to_target", "target_to_source"])
def test_an_edge_index_refuses_a_keyword_only_message_and_aggregate_reads(flow):
    class FusedOnly(Fused):
        def __init__(self):
            super().__init__(flow=flow)

    ei, x = EDGES["e_ne_n"], features()
    norm = sg.tensor(np.arange(1.0, 7.0), dtype=sg.float64)
    with pytest.raises(ValueError, match=r"FusedOnly: `message_and_aggregate` reads "
                                         r"`edge_norm`, which message, aggregate and update "
                                         r"do not; .* pass sg.from_edge_index"):
        FusedOnly()(x, ei, norm)


def test_a_layer_without_an_aggregation_of_its_own_fuses_an_edge_index_too():
    class OwnSum(gnn.MessagePassing):  # aggr=None: only message_and_aggregate can aggregate
        def __init__(self):
            super().__init__(aggr=None)

        def message_and_aggregate(self, adj_t, x):
            return ops.spmm(adj_t, x) * 3

    ei, x = EDGES["e_ne_n"], features()
    assert OwnSum().uses_fused_path(ei)
    np.testing.assert_allclose(OwnSum().propagate(ei, x).numpy(),
                               3 * weighted_sum(x.numpy(), ei, np.ones(6)), rtol=1e-12)


def test_an_aggregate_with_edge_weights_gets_them_in_the_callers_order():
    class Ratio(gnn.MessagePassing):  # default message: x_j * w; aggregate undoes w
        def forward(self, x, ei, w, norm):
            return self.propagate(ei, x=x, edge_weight=w, norm=norm)

        def aggregate(self, inputs, index, edge_weight, norm, dim_size=None):
            return ops.scatter(inputs * (norm / edge_weight).reshape((-1, 1)), index, dim_size,
                               "sum")

    ei = EDGES["e_eq_n"]
    x = features()
    w, norm = (sg.tensor(np.arange(k, k + N, dtype=np.float64)) for k in (2.0, 1.0))
    np.testing.assert_allclose(Ratio()(x, ei, w, norm).numpy(),
                               weighted_sum(x.numpy(), ei, norm.numpy()), rtol=1e-12)


# ---- the default message on features of any rank (the fused spmm path) ----------------------
class Copy(gnn.MessagePassing):
    def forward(self, x, ei, w=None):
        return self.propagate(ei, x=x, edge_weight=w)


class CopyMessage(Copy):
    def message(self, x_j, edge_weight):
        if edge_weight is None:
            return x_j
        return x_j * edge_weight.reshape(edge_weight.shape + (1,) * (x_j.ndim - 1))


@pytest.mark.parametrize("shape", [(N, 2, 3), (N,), (N, 1, 2, 2)], ids=str)
@pytest.mark.parametrize("aggr", ["sum", "mean", "max", "min", ["sum", "mean", "max"]],
                         ids=str)
@pytest.mark.parametrize("weighted", [False, True])
def test_the_default_message_takes_features_of_any_rank(shape, aggr, weighted):
    ei = EDGES["e_ne_n"]
    x = sg.tensor(np.random.default_rng(1).standard_normal(shape), dtype=sg.float64)
    w = sg.tensor(np.arange(1.0, 7.0), dtype=sg.float64) if weighted else None
    out = Copy(aggr)(x, ei, w)
    np.testing.assert_allclose(out.numpy(), CopyMessage(aggr)(x, ei, w).numpy(), rtol=1e-12)
    if aggr == "sum":
        norm = w.numpy() if weighted else np.ones(6)
        np.testing.assert_allclose(out.numpy(), weighted_sum(x.numpy(), ei, norm), rtol=1e-12)


@pytest.mark.parametrize("aggr", ["sum", "mean", "max"])
def test_the_default_message_on_heads_gradcheck(aggr):
    ei = EDGES["e_ne_n"]
    x = sg.tensor(np.random.default_rng(2).standard_normal((N, 2, 3)), dtype=sg.float64,
                  requires_grad=True)
    w = sg.tensor(np.arange(1.0, 7.0), dtype=sg.float64, requires_grad=True)
    assert Copy(aggr).uses_fused_path() == (aggr != "max")  # one spmm, no (E, H, F) messages
    gradcheck(lambda t, u: Copy(aggr)(t, ei, u), [x, w])
    gradcheck(lambda t: Copy(aggr)(t, ei), [x])
