"""``g.num_nodes = N`` (PyG's idiom for trailing isolated nodes) and ``g.adj = A`` keep a Graph
consistent; `Graph.batch` never trusts a count its adjacency contradicts; ``g.clone()`` and
``g(*keys)`` as PyG's ``Data``. References are dense numpy adjacencies built from edge lists."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.graph import Graph


def dense(edges, n, weights=None):
    """Target-major dense adjacency: ``a[dst, src] += w``."""
    a = np.zeros((n, n))
    np.add.at(a, (edges[1], edges[0]), 1.0 if weights is None else weights)
    return a


def block_diagonal(*blocks):
    n = sum(b.shape[0] for b in blocks)
    out, o = np.zeros((n, n)), 0
    for b in blocks:
        out[o:o + b.shape[0], o:o + b.shape[0]] = b
        o += b.shape[0]
    return out


EI = np.array([[0, 1], [1, 0]])


def test_setting_num_nodes_pads_the_adjacency_with_isolated_nodes():
    g = Graph(edge_index=sg.tensor(EI))
    values = g.adj.values
    g.num_nodes = 3
    g.validate()
    assert g.num_nodes == 3 and g.adj.shape == (3, 3) and g.has_isolated_nodes()
    assert g.adj.values is values  # the same values (and gradient path)
    np.testing.assert_array_equal(g.adj.to_dense().numpy(), dense(EI, 3))
    b = Graph.batch([g, g])
    expected = block_diagonal(dense(EI, 3), dense(EI, 3))
    np.testing.assert_array_equal(b.adj.to_dense().numpy(), expected)
    np.testing.assert_array_equal((b.adj @ sg.ones(6, 1)).numpy(), expected @ np.ones((6, 1)))
    np.testing.assert_array_equal(b.edge_index, [[1, 0, 4, 3], [0, 1, 3, 4]])
    assert b.batch.tolist() == [0, 0, 0, 1, 1, 1]
    # subgraphs, to_undirected and unbatch see the isolated node too
    assert g.subgraph([1, 2]).num_edges == 0 and g.subgraph(np.array([0, 1, 2])).num_nodes == 3
    assert [p.num_nodes for p in b.unbatch()] == [3, 3]


def test_padding_stays_on_the_device(emulated_cuda):
    g = Graph(edge_index=EI).to("cuda")
    g.num_nodes = 4
    assert g.adj.device == g.adj.structure.device != "cpu"
    np.testing.assert_array_equal(g.adj.to("cpu").to_dense().numpy(), dense(EI, 4))


def test_num_nodes_may_drop_isolated_trailing_nodes_only():
    g = Graph(edge_index=EI, num_nodes=4)
    g["num_nodes"] = 2  # as g.num_nodes = 2, PyG's data["num_nodes"] = 2
    np.testing.assert_array_equal(g.adj.to_dense().numpy(), dense(EI, 2))
    with pytest.raises(ValueError, match=r"Graph: expected `num_nodes` >= 2, one more than the "
                                         r"largest node id of the edges \(got 1\)"):
        g.num_nodes = 1
    h = Graph(edge_index=EI, label_index=np.array([0, 3]), num_nodes=5)
    with pytest.raises(ValueError, match=r">= 4, one more than the largest node id of "
                                         r"`label_index` \(got 3\)"):
        h.num_nodes = 3
    assert g.num_nodes == 2 and h.num_nodes == 5  # a refused count changes nothing
    e = Graph(edge_index=EI, label_index=sg.tensor(np.zeros((2, 0), np.int64)), num_nodes=3)
    e.num_nodes = 2  # an empty node-id Tensor bounds nothing
    assert e.adj.shape == (2, 2)


@pytest.mark.parametrize("value, error, text", [
    ("3", TypeError, r"expected `num_nodes` to be an int \(got '3'\)"),
    (3.0, TypeError, r"expected `num_nodes` to be an int \(got 3.0\)"),
    (True, TypeError, r"expected `num_nodes` to be an int \(got True\)"),
    (-1, ValueError, r"expected `num_nodes` >= 0 \(got -1\)"),
])
def test_num_nodes_of_the_wrong_kind_is_refused_by_name(value, error, text):
    g = Graph(edge_index=EI)
    with pytest.raises(error, match=text):
        g.num_nodes = value
    assert g.num_nodes == 2 and g.adj.shape == (2, 2)


@pytest.mark.parametrize("key, value", [
    ("x", np.ones((2, 3), np.float32)),
    ("y", np.array([0, 1])),
    ("train_mask", np.array([True, False])),
    ("pos", sg.zeros(2, 3)),
])
def test_num_nodes_is_refused_while_a_per_node_attribute_has_the_old_count(key, value):
    g = Graph(edge_index=EI, **{key: value})
    with pytest.raises(ValueError, match=rf"cannot set `num_nodes` to 3: `{key}` holds one row "
                                         rf"for each of the 2 nodes .*del g.{key}"):
        g.num_nodes = 3
    assert g.num_nodes == 2
    delattr(g, key)  # the remedy the message names
    g.num_nodes = 3
    setattr(g, key, np.concatenate([np.asarray(value), np.asarray(value)[:1]]))
    g.validate()


def test_a_graph_level_label_does_not_block_num_nodes():
    g = Graph(edge_index=EI, y=np.array([1]))
    g.num_nodes = 4
    assert g.y.tolist() == [1] and g.num_nodes == 4


def test_setting_adj_is_checked_as_the_constructor_does():
    g = Graph(edge_index=EI)
    with pytest.raises(ValueError, match=r"expected `adj` of shape \(2, 2\) for num_nodes=2 "
                                         r"\(got \(5, 5\)\)"):
        g.adj = sg.from_edge_index([[0, 4], [4, 0]], 5)
    with pytest.raises(TypeError, match=r"expected `adj` to be a square SparseTensor"):
        g.adj = np.eye(2)
    assert g.adj.shape == (2, 2)
    g.num_nodes = 5  # the order that works: the count, then the structure
    g.adj = sg.from_edge_index([[0, 4], [4, 0]], 5)
    g.validate()
    b = Graph.batch([g, g])
    np.testing.assert_array_equal(b.adj.to_dense().numpy(),
                                  block_diagonal(*[dense(np.array([[0, 4], [4, 0]]), 5)] * 2))


def test_setting_a_coo_adj_stores_csr_and_keeps_edge_fields_with_their_entries():
    g = Graph(edge_index=np.array([[0, 1, 1], [1, 0, 1]]), edge_attr=np.array([[1.], [2.], [3.]]))
    # entries (row=target, col=source) in a non-CSR order, each with its own weight and, by
    # the constructor's rule, the edge_attr row of the same position
    rows, cols = np.array([1, 0, 1]), np.array([1, 1, 0])
    a = sg.sparse_coo(np.stack([rows, cols]), sg.tensor([5.0, 6.0, 7.0]), (2, 2))
    attr = g.edge_attr.numpy().copy()
    g.adj = a
    g.validate()
    assert g.adj.layout == "csr"
    order = np.lexsort((cols, rows))  # CSR order: by target, then source
    np.testing.assert_array_equal(g.edge_index, np.stack([cols[order], rows[order]]))
    np.testing.assert_array_equal(g.edge_weight.numpy(), np.array([5.0, 6.0, 7.0])[order])
    np.testing.assert_array_equal(g.edge_attr.numpy(), attr[order])
    assert "edge_weight" in g  # given weights: a weighted graph
    with pytest.raises(ValueError, match=r"expected `adj` with 3 stored entries, one per row of "
                                         r"`edge_attr` \(got 1\); delete `edge_attr`"):
        g.adj = sg.from_edge_index([[0], [1]], 2)


def test_validate_and_batch_refuse_a_count_the_adjacency_contradicts():
    g = Graph(edge_index=EI)
    g.__dict__["num_nodes"] = 3  # written past the checks
    with pytest.raises(ValueError, match=r"expected `adj` of shape \(3, 3\) for num_nodes=3"):
        g.validate()
    with pytest.raises(ValueError, match=r"Graph.batch: expected graph 1's `adj` of shape "
                                         r"\(3, 3\) in CSR layout, as its num_nodes=3 \(got csr "
                                         r"\(2, 2\)\)"):
        Graph.batch([Graph(edge_index=EI), g])


def test_del_num_nodes_stays_refused():
    g = Graph(edge_index=EI)
    with pytest.raises(TypeError, match="which Graph reserves"):
        del g.num_nodes


# ---- PyG's Data.clone() and data(*keys) ----------------------------------------------------
def test_clone_copies_tensors_so_in_place_changes_stay_apart():
    g = Graph(x=np.ones((2, 2), np.float32), edge_index=EI, edge_weight=np.array([2.0, 3.0]),
              label_index=np.array([0, 1]), name="a")
    weights = g.edge_weight.tolist()
    c = g.clone()
    c.x[0, 0] = 5.0
    c.adj.values[0] = 9.0
    c.label_index[0] = 7
    assert g.x.numpy()[0, 0] == 1.0 and g.edge_weight.tolist() == weights
    assert g.label_index.tolist() == [0, 1] and c.name == "a"
    assert c.adj.structure is g.adj.structure  # immutable: shared
    only_x = g.clone("x")
    assert only_x.x is not g.x and only_x.adj is g.adj


def test_clone_is_differentiable():
    x = sg.tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
    g = Graph(x=x, edge_index=EI)
    (g.clone().x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 3.0))


def test_calling_a_graph_yields_the_named_pairs_as_pyg():
    masks = {k: np.array([i == 0, i == 1]) for i, k in enumerate(["train_mask", "val_mask"])}
    g = Graph(x=np.ones((2, 1), np.float32), edge_index=EI, **masks)
    pairs = list(g("train_mask", "val_mask", "test_mask"))  # test_mask unset: skipped
    assert [k for k, _ in pairs] == ["train_mask", "val_mask"]
    for k, v in pairs:
        np.testing.assert_array_equal(v.numpy(), masks[k])
    assert [k for k, _ in g()] == g.keys()
    with pytest.raises(TypeError, match=r"expected attribute names \(str\) as keys \(got int 0\)"):
        g(0)
