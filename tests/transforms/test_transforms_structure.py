"""ToUndirected, AddSelfLoops, RemoveSelfLoops, GCNNorm, LargestConnectedComponents against
scipy / numpy references; Compose and BaseTransform."""

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
import sparsegraph.transforms as T
from sparsegraph import Graph
from sparsegraph.testing import gradcheck

EDGES = np.array([[0, 0, 1, 2, 3, 3, 2], [1, 2, 2, 0, 0, 1, 2]])  # (2, 2) is a self loop
W = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], np.float32)


def dense(g):
    """A[source, target] with summed duplicates, from the graph's edges and weights."""
    ei, w = np.asarray(g.edge_index), g.edge_weight.numpy()
    return sp.coo_matrix((w, (ei[0], ei[1])), shape=(g.num_nodes,) * 2).toarray()


def test_to_undirected_adds_reverse_edges_summing_weights():
    g = Graph(edge_index=EDGES, edge_weight=W, edge_attr=W[:, None] * 10)
    out = T.ToUndirected()(g)
    a = dense(g)
    expected = a + a.T
    np.fill_diagonal(expected, 2 * np.diag(a))  # PyG's coalesce: a loop meets its own copy
    np.testing.assert_allclose(dense(out), expected)
    assert out.is_undirected() and out.edge_attr.shape == (out.num_edges, 1)
    assert out.num_edges == 11  # 5 node pairs both ways, and the loop once
    np.testing.assert_allclose(dense(T.ToUndirected(reduce="max")(g)),
                               np.maximum(a, a.T))
    assert not g.is_undirected()  # the caller's graph is unchanged


def test_to_undirected_keeps_an_unweighted_graph_unweighted():
    out = T.ToUndirected()(Graph(edge_index=EDGES))
    assert "edge_weight" not in out and out.is_undirected()
    with pytest.raises(ValueError, match="ToUndirected: expected `reduce` in"):
        T.ToUndirected(reduce="mul")


def test_add_self_loops_one_per_node_with_fill_on_the_named_attribute():
    g = Graph(edge_index=EDGES, edge_weight=W, edge_attr=np.ones((7, 2), np.float32) * 3)
    out = T.AddSelfLoops(fill_value=0.5)(g)
    a = dense(out)
    np.testing.assert_allclose(np.diag(a), [0.5, 0.5, 7.0, 0.5])  # node 2 keeps its loop
    np.testing.assert_allclose(a - np.diag(np.diag(a)), dense(g) - np.diag(np.diag(dense(g))))
    ei = np.asarray(out.edge_index)
    loops = ei[0] == ei[1]
    assert loops.sum() == 4
    attr = out.edge_attr.numpy()
    np.testing.assert_array_equal(attr[loops & (ei[0] != 2)], 1.0)  # other fields: 1
    on_attr = T.AddSelfLoops(attr="edge_attr", fill_value=-2.0)(g)
    ei2 = np.asarray(on_attr.edge_index)
    new = (ei2[0] == ei2[1]) & (ei2[0] != 2)
    np.testing.assert_array_equal(on_attr.edge_attr.numpy()[new], -2.0)
    np.testing.assert_array_equal(on_attr.edge_weight.numpy()[new], 1.0)


def test_add_self_loops_on_an_unweighted_graph_stays_unweighted_as_pyg():
    out = T.AddSelfLoops(fill_value=2.0)(Graph(edge_index=EDGES))
    assert "edge_weight" not in out and out.num_edges == 6 + 4
    with pytest.raises(ValueError, match="AddSelfLoops: expected `attr`"):
        T.AddSelfLoops(attr="weight")
    with pytest.raises(ValueError, match="AddSelfLoops: expected `fill_value` in"):
        T.AddSelfLoops(fill_value="median")
    with pytest.raises(TypeError, match="AddSelfLoops: expected `fill_value`"):
        T.AddSelfLoops(fill_value=[1.0])


def test_remove_self_loops_drops_them_with_their_fields():
    g = Graph(edge_index=EDGES, edge_weight=W, edge_attr=W[:, None])
    out = T.RemoveSelfLoops()(g)
    assert not out.has_self_loops() and out.num_edges == 6
    np.testing.assert_array_equal(out.edge_attr.numpy()[:, 0], out.edge_weight.numpy())


def gcn_reference(a):
    """D^-1/2 (A + I) D^-1/2 on the target-major matrix (rows = targets), as PyG's gcn_norm;
    a node's own loop keeps its weight (add_remaining_self_loops)."""
    at = a.T.copy()
    d = np.diag(at).copy()
    np.fill_diagonal(at, np.where(d != 0, d, 1.0))
    deg = at.sum(1)
    dinv = np.where(deg > 0, deg ** -0.5, 0.0)
    return dinv[:, None] * at * dinv[None, :]


def test_gcn_norm_matches_the_dense_formula():
    g = Graph(edge_index=EDGES, edge_weight=W)
    out = T.GCNNorm()(g)
    adj = out.adj.to_dense().numpy()  # target-major
    np.testing.assert_allclose(adj, gcn_reference(dense(g)), rtol=1e-5)
    assert repr(T.GCNNorm()) == "GCNNorm(add_self_loops=True)"
    plain = T.GCNNorm(add_self_loops=False)(Graph(edge_index=[[0, 1], [1, 0]]))
    np.testing.assert_allclose(plain.edge_weight.numpy(), [1.0, 1.0])


def test_gcn_norm_gradcheck_through_the_edge_weights():
    w = sg.tensor(W.astype(np.float64) + 0.5, requires_grad=True)
    gradcheck(lambda w: T.GCNNorm()(Graph(edge_index=EDGES, edge_weight=w)).edge_weight, [w])


def test_largest_connected_components_keeps_the_biggest_in_node_order():
    # components {0, 1, 2} (3 nodes), {3, 4} (2), {5} (1)
    ei = np.array([[0, 1, 3], [1, 2, 4]])
    g = Graph(x=np.arange(6, dtype=np.float32)[:, None], edge_index=ei,
              train_mask=np.array([1, 0, 1, 0, 1, 0], bool))
    out = T.LargestConnectedComponents()(g)
    assert out.num_nodes == 3 and out.x.numpy()[:, 0].tolist() == [0, 1, 2]
    assert out.train_mask.numpy().tolist() == [True, False, True]
    two = T.LargestConnectedComponents(num_components=2)(g)
    assert two.x.numpy()[:, 0].tolist() == [0, 1, 2, 3, 4] and two.num_edges == 3
    strong = T.LargestConnectedComponents(connection="strong")(g)
    assert strong.num_nodes == 1  # a directed path has singletons only
    assert T.LargestConnectedComponents(10)(g).num_nodes == 6
    with pytest.raises(ValueError, match="expected `connection` in"):
        T.LargestConnectedComponents(connection="both")


def test_compose_applies_in_order_and_reprs_as_pyg():
    g = Graph(x=np.array([[1.0, 3.0], [2.0, 2.0]], np.float32), edge_index=[[0], [1]])
    calls = []

    def record(name):
        def t(d):
            calls.append(name)
            return d
        return t

    out = T.Compose([T.Constant(2.0), T.NormalizeFeatures(), record("a"), record("b")])(g)
    # Constant first, then the normalisation: the column of 2 is normalised with the rest
    np.testing.assert_allclose(out.x.numpy()[0], np.array([0.0, 2.0, 1.0]) / 3, rtol=1e-6)
    assert calls == ["a", "b"]
    assert repr(T.Compose([T.NormalizeFeatures(), T.ToUndirected()])) == (
        "Compose([\n  NormalizeFeatures(),\n  ToUndirected()\n])")
    with pytest.raises(TypeError, match="Compose: expected callable transforms"):
        T.Compose([T.NormalizeFeatures(), 3])
    with pytest.raises(TypeError, match="Compose: expected `transforms` to be a list"):
        T.Compose(T.NormalizeFeatures())


def test_base_transform_copies_and_refuses_non_graphs():
    class Tag(T.BaseTransform):
        def forward(self, data):
            data.tag = 1
            return data

    g = Graph(edge_index=[[0], [1]])
    out = Tag()(g)
    assert out.tag == 1 and "tag" not in g
    assert repr(Tag()) == "Tag()" and repr(T.NormalizeFeatures()) == "NormalizeFeatures()"
    with pytest.raises(TypeError, match="NormalizeFeatures: expected a sparsegraph Graph"):
        T.NormalizeFeatures()({"x": 1})


def test_to_device_moves_the_graph_as_graph_to_and_names_bad_arguments():
    import numpy as np

    g = Graph(x=np.ones((3, 2), np.float32), edge_index=np.array([[0, 1], [1, 2]]))
    moved = T.ToDevice("cpu")(g)
    assert moved is not g and moved.x.device == "cpu"
    np.testing.assert_array_equal(moved.x.numpy(), g.x.numpy())
    assert repr(T.ToDevice("cpu", attrs=["x"])) == "ToDevice(cpu)"
    with pytest.raises(TypeError, match="ToDevice: expected `attrs` to be attribute names"):
        T.ToDevice("cpu", attrs=[1])
    with pytest.raises(TypeError, match="ToDevice: expected `non_blocking` to be True or False"):
        T.ToDevice("cpu", non_blocking="no")
