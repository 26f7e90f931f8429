"""The Graph container: construction, validation, transforms, batching."""

import numpy as np
import pytest

import sparsegraph as sg


def small():
    ei = np.array([[0, 1, 2, 2, 3], [1, 0, 1, 3, 3]])
    return sg.Graph(x=np.arange(8, dtype=np.float32).reshape(4, 2), edge_index=ei,
                    edge_attr=np.arange(5, dtype=np.float32)[:, None], y=np.array([0, 1, 1, 0]),
                    train_mask=np.array([True, False, True, False]))


def test_adjacency_is_target_major_and_edge_attr_follows_edges():
    g = small()
    dense = g.adj.to_dense().numpy()
    assert dense[1, 0] == 1 and dense[0, 1] == 1 and dense[3, 2] == 1 and dense[3, 3] == 1
    ei = np.asarray(g.edge_index)
    attr = g.edge_attr.numpy()[:, 0]
    original = {(0, 1): 0, (1, 0): 1, (2, 1): 2, (2, 3): 3, (3, 3): 4}
    for (s, d), a in zip(ei.T, attr, strict=True):
        assert original[int(s), int(d)] == a
    x = sg.randn(4, 3)
    np.testing.assert_allclose((g.adj @ x).numpy(), dense @ x.numpy(), rtol=1e-6)


def test_counts_flags_and_repr():
    g = small()
    assert g.num_nodes == 4 and g.num_edges == 5 and g.num_features == 2
    assert g.has_self_loops() and not g.is_undirected() and not g.has_isolated_nodes()
    assert repr(g).startswith("Graph(num_nodes=4, num_edges=5, edge_attr=[5, 1], x=[4, 2], "
                              "y=[4], train_mask=[4]")


def test_validation_messages():
    with pytest.raises(ValueError, match=r"expected `edge_index` entries in \[0, 3\)"):
        sg.Graph(edge_index=np.array([[0, 5], [1, 2]]), num_nodes=3)
    with pytest.raises(ValueError, match="expected `x` with 3 rows"):
        sg.Graph(x=np.zeros((4, 2)), edge_index=np.array([[0], [1]]), num_nodes=3)
    with pytest.raises(TypeError, match="integer `edge_index`"):
        sg.Graph(edge_index=np.array([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        sg.Graph(edge_index=np.array([[0], [1]]), y=np.array([0.0, np.nan]))
    with pytest.raises(TypeError, match="`train_mask` to be boolean"):
        sg.Graph(edge_index=np.array([[0], [1]]), train_mask=np.array([1, 0]))
    with pytest.raises(ValueError, match="`val_mask` of length 2"):
        sg.Graph(edge_index=np.array([[0], [1]]), val_mask=np.array([True]))
    with pytest.raises(ValueError, match=r"expected `edge_attr` with 1 rows"):
        sg.Graph(edge_index=np.array([[0], [1]]), edge_attr=np.zeros((3, 1)))


def test_undirected_self_loops_and_subgraph():
    g = small()
    u = g.to_undirected()
    assert u.is_undirected() and u.num_edges == 7  # (2,1),(1,2),(2,3),(3,2) added/merged
    assert not g.remove_self_loops().has_self_loops()
    loops = g.add_self_loops()
    assert loops.num_edges == 5 + 3 and loops.has_self_loops()
    sub = g.subgraph(np.array([1, 2, 3]))
    assert sub.num_nodes == 3 and sub.x.numpy().tolist() == [[2, 3], [4, 5], [6, 7]]
    assert sorted(map(tuple, np.asarray(sub.edge_index).T.tolist())) == [(1, 0), (1, 2), (2, 2)]
    assert sub.train_mask.numpy().tolist() == [False, True, False]
    mask_sub = g.subgraph(np.array([True, True, False, False]))
    assert mask_sub.num_edges == 2


def test_batch_and_unbatch_round_trip():
    graphs = [small(), sg.Graph(x=np.ones((2, 2), np.float32), edge_index=np.array([[0], [1]]),
                                edge_attr=np.ones((1, 1), np.float32), y=np.array([1, 0]),
                                train_mask=np.array([True, True]))]
    b = sg.Graph.batch(graphs)
    assert b.num_nodes == 6 and b.num_edges == 6 and b.num_graphs == 2
    assert b.batch.tolist() == [0, 0, 0, 0, 1, 1]
    dense = b.adj.to_dense().numpy()
    assert dense[5, 4] == 1 and dense[:4, 4:].sum() == 0  # block diagonal
    parts = b.unbatch()
    for part, g in zip(parts, graphs, strict=True):
        np.testing.assert_array_equal(part.adj.to_dense().numpy(), g.adj.to_dense().numpy())
        np.testing.assert_array_equal(part.x.numpy(), g.x.numpy())
        np.testing.assert_array_equal(part.edge_attr.numpy(), g.edge_attr.numpy())


def test_graph_level_labels_are_stacked():
    gs = [sg.Graph(edge_index=np.array([[0], [1]]), num_nodes=2, y=np.array([i]))
          for i in range(3)]
    b = sg.Graph.batch(gs)
    assert b.y.tolist() == [0, 1, 2]
    assert [p.y.item() for p in b.unbatch()] == [0, 1, 2]


def test_to_moves_every_tensor():
    g = small().to("cpu")
    assert g.x.device == "cpu" and g.adj.device == "cpu"
