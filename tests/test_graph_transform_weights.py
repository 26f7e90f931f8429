"""Graph transforms keep the edge weights' dtype and gradient, as PyG's transforms on torch
tensors: float64 weights stay float64 (a library array is no user input to narrow), and a
Parameter ``edge_weight`` gets its gradient through subgraph, self loops and to_undirected."""

import numpy as np
import pytest

import sparsegraph as sg

EI = np.array([[0, 1, 2, 1, 2], [1, 2, 0, 1, 2]])  # a triangle plus loops at 1 and 2
W64 = np.array([1 + 1e-12, 2.0, 3.0 + 1e-13, 4.0, 5.0])


def _graph(weight):
    return sg.Graph(edge_index=EI, edge_weight=weight, num_nodes=3)


def _coef(adj):
    """A distinct coefficient per (target, source) entry, independent of the entry order."""
    s = adj.structure
    return (10 * s.rows() + s.cols() + 1).astype(np.float64)


def _edge_coef(pairs):
    """`_coef` of edges given as (source, target) pairs."""
    return np.array([10 * t + s + 1 for s, t in pairs], np.float64)


TRANSFORMS = {
    "to_undirected sum": (lambda g: g.to_undirected(),
                          lambda a: sg.to_undirected(a, "sum")),
    "to_undirected mean": (lambda g: g.to_undirected("mean"),
                           lambda a: sg.to_undirected(a, "mean")),
    "to_undirected max": (lambda g: g.to_undirected("max"),
                          lambda a: sg.to_undirected(a, "max")),
    "add_self_loops": (lambda g: g.add_self_loops(), lambda a: sg.add_self_loops(a)),
    "add_self_loops 2.5": (lambda g: g.add_self_loops(2.5),
                           lambda a: sg.add_self_loops(a, 2.5)),
    "add_self_loops sum": (lambda g: g.add_self_loops("sum"),
                           lambda a: sg.add_self_loops(a, "sum")),
    "remove_self_loops": (lambda g: g.remove_self_loops(), lambda a: sg.remove_self_loops(a)),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_float64_weights_keep_dtype_and_values_through_transforms(name):
    method, functional = TRANSFORMS[name]
    g = _graph(sg.tensor(W64))
    assert g.adj.values.dtype == np.float64
    got, want = method(g).adj, functional(g.adj)
    assert got.values.dtype == np.float64
    np.testing.assert_array_equal(got.structure.indptr, want.structure.indptr)
    np.testing.assert_array_equal(got.structure.indices, want.structure.indices)
    np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())  # 1e-12 kept


def test_float64_weights_keep_dtype_and_values_through_subgraph():
    g = _graph(sg.tensor(W64))
    sub = g.subgraph(np.array([2, 0]))  # node 2 -> 0, node 0 -> 1: edges 2->0 and loop 2
    assert sub.adj.values.dtype == np.float64
    got = dict(zip(map(tuple, sub.edge_index.T.tolist()), sub.adj.values.numpy().tolist(),
                   strict=True))
    assert got == {(0, 1): 3.0 + 1e-13, (0, 0): 5.0}
    full = g.subgraph(np.arange(3))
    assert full.adj.values.dtype == np.float64
    np.testing.assert_array_equal(full.adj.values.numpy(), g.adj.values.numpy())


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_parameter_weights_get_the_functional_ops_gradient(name):
    method, functional = TRANSFORMS[name]
    p = sg.nn.Parameter(sg.tensor(W64))
    g = _graph(p)
    out = method(g).adj
    assert out.values.requires_grad
    (out.values * sg.tensor(_coef(out))).sum().backward()
    got = p.grad.numpy().copy()
    p.grad = None
    ref = functional(_graph(p).adj)  # a fresh graph: g's backward graph is spent
    (ref.values * sg.tensor(_coef(ref))).sum().backward()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, p.grad.numpy(), rtol=0, atol=0)
    assert np.abs(got).sum() > 0


def _grad(p, graph):
    out = graph.adj
    (out.values * sg.tensor(_coef(out))).sum().backward()
    return p.grad.numpy()


def test_parameter_weights_gradient_by_hand():
    pairs = list(map(tuple, EI.T.tolist()))  # (source, target) per given edge
    reverse = [(t, s) for s, t in pairs]

    def fresh():
        p = sg.nn.Parameter(sg.ones(5))
        return p, _graph(p)

    # the gradients are in the given edge order (g.adj holds them in CSR order: a gather)
    p, g = fresh()  # sum: each edge counts for itself and for its reverse
    np.testing.assert_array_equal(_grad(p, g.to_undirected()),
                                  _edge_coef(pairs) + _edge_coef(reverse))
    p, g = fresh()  # a gather of the kept, non-loop entries
    np.testing.assert_array_equal(_grad(p, g.remove_self_loops()),
                                  _edge_coef(pairs) * [1, 1, 1, 0, 0])
    p, g = fresh()  # the stored loops are kept; node 0's new loop is the fill, no gradient
    np.testing.assert_array_equal(_grad(p, g.add_self_loops(7.0)), _edge_coef(pairs))
    p, g = fresh()  # "sum": node 0's loop is its in-edge 2 -> 0 once more
    np.testing.assert_array_equal(_grad(p, g.add_self_loops("sum")),
                                  _edge_coef(pairs) + [0, 0, _edge_coef([(0, 0)])[0], 0, 0])
    p, g = fresh()  # nodes [2, 0] relabelled 0, 1: edge 2 -> 0 becomes 0 -> 1, loop 2 -> 0 0
    np.testing.assert_array_equal(_grad(p, g.subgraph(np.array([2, 0]))),
                                  [0, 0, _edge_coef([(0, 1)])[0], 0, _edge_coef([(0, 0)])[0]])


def test_tensor_fill_value_gets_a_gradient_through_add_self_loops():
    p = sg.nn.Parameter(sg.ones(5))
    fill = sg.nn.Parameter(sg.tensor(np.array([0.5, 1.5, 2.5], np.float32)))
    out = _graph(p).add_self_loops(fill).adj
    (out.values * sg.tensor(_coef(out).astype(np.float32))).sum().backward()
    # only node 0 lacks a loop: its fill row gets the (0, 0) coefficient, the others none
    np.testing.assert_array_equal(fill.grad.numpy(), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(p.grad.numpy(), _edge_coef(map(tuple, EI.T.tolist())))


def test_float32_weights_unchanged():
    w = np.array([0.1, 0.2, 0.3, 0.4, 0.5], np.float32)
    g = _graph(w)
    und = g.to_undirected()
    assert und.adj.values.dtype == np.float32
    got = dict(zip(map(tuple, und.edge_index.T.tolist()), und.adj.values.numpy().tolist(),
                   strict=True))
    f = np.float32
    assert got == {(0, 1): f(0.1), (1, 0): f(0.1), (1, 2): f(0.2), (2, 1): f(0.2),
                   (2, 0): f(0.3), (0, 2): f(0.3), (1, 1): f(0.4) + f(0.4),
                   (2, 2): f(0.5) + f(0.5)}
    loops = g.add_self_loops(2.0).adj.values
    assert loops.dtype == np.float32
    np.testing.assert_array_equal(loops.numpy(), np.array([2.0, 0.3, 0.1, 0.4, 0.2, 0.5], f))
    for h in (g.remove_self_loops(), g.subgraph(np.array([2, 0]))):
        assert h.adj.values.dtype == np.float32
    # numpy float64 user input is still narrowed to float32 by the constructor
    assert _graph(W64).to_undirected().adj.values.dtype == np.float32


def test_mixed_batch_keeps_float64_and_the_unweighted_graphs_ones():
    weighted = _graph(sg.tensor(W64))
    plain = sg.Graph(edge_index=np.array([[0], [1]]), num_nodes=2)
    batch = sg.Graph.batch([weighted, plain])
    assert batch.adj.values.dtype == np.float64
    for out in (batch.to_undirected("sum"), batch.add_self_loops("sum")):
        values = out.adj.values
        assert values.dtype == np.float64
        rows = out.adj.structure.rows()
        np.testing.assert_array_equal(values.numpy()[rows >= 3], 1.0)  # the plain graph
    first, second = batch.to_undirected("sum").unbatch()
    np.testing.assert_array_equal(first.adj.values.detach().numpy(),
                                  sg.to_undirected(weighted.adj).values.detach().numpy())
    assert second.adj.values.numpy().tolist() == [1.0, 1.0]
    # Graph.batch itself detaches; a Parameter set as the batch's values (CSR order: the
    # weighted graph's 5 entries, then the plain one's) reaches the 1s-keeping merge
    p = sg.nn.Parameter(sg.tensor(np.concatenate([W64[[2, 0, 3, 1, 4]], [1.0]])))
    out = batch._replace(adj=batch.adj.with_values(p)).to_undirected("sum").adj
    (out.values * sg.tensor(_coef(out))).sum().backward()
    pairs = list(map(tuple, EI.T.tolist()))
    want = _edge_coef(pairs) + _edge_coef([(t, s) for s, t in pairs])
    np.testing.assert_array_equal(p.grad.numpy(), np.concatenate([want[[2, 0, 3, 1, 4]], [0]]))
