"""The Graph container: construction, validation, transforms, batching."""

import numpy as np
import pytest

import sparsegraph as sg
from tests.pyg_reference import pyg_add_remaining_self_loops


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


# ---- regressions ----------------------------------------------------------------------------
def test_plain_graph_has_no_batch_and_one_graph():
    g = small()
    assert g.batch is None and g.num_graphs == 1 and "batch" not in g.keys()
    b = sg.Graph.batch([g, g])
    assert b.num_graphs == 2 and sg.Graph.batch_graphs([g]).num_graphs == 1
    assert all(p.batch is None and p.num_graphs == 1 for p in b.unbatch())


def masks_2d(n, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.random((3, n)) < 0.5 for k in ("train_mask", "val_mask", "test_mask")}


def test_two_dimensional_split_masks_follow_subgraph_and_batch():
    ei = np.array([[0, 1, 2], [1, 2, 3]])
    g = sg.Graph(edge_index=ei, num_nodes=4, y=np.arange(4) % 2, **masks_2d(4, 0))
    h = sg.Graph(edge_index=ei[:, :1], num_nodes=2, y=np.array([1, 0]), **masks_2d(2, 1))
    sub = g.subgraph(np.array([3, 1]))
    assert sub.train_mask.shape == (3, 2)
    np.testing.assert_array_equal(sub.train_mask.numpy(), g.train_mask.numpy()[:, [3, 1]])
    sub.validate()
    b = sg.Graph.batch([g, h])
    assert b.val_mask.shape == (3, 6)
    np.testing.assert_array_equal(b.val_mask.numpy(), np.concatenate(
        [g.val_mask.numpy(), h.val_mask.numpy()], axis=1))
    parts = b.unbatch()
    np.testing.assert_array_equal(parts[1].test_mask.numpy(), h.test_mask.numpy())


def test_subgraph_of_a_batch_recomputes_ptr():
    gs = [sg.Graph(edge_index=np.array([[0], [1]]), num_nodes=n, y=np.array([i]))
          for i, n in enumerate((3, 4, 2))]
    b = sg.Graph.batch(gs)
    s = b.subgraph(np.arange(2, 8))  # graph 0 keeps 1 node, graph 1 all 4, graph 2 one
    assert s.ptr.tolist() == [0, 1, 5, 6] and s.num_graphs == 3
    assert [p.num_nodes for p in s.unbatch()] == [1, 4, 1]
    assert [p.y.tolist() for p in s.unbatch()] == [[0], [1], [2]]
    interleaved = b.subgraph(np.array([5, 0]))
    with pytest.raises(ValueError, match="no `ptr`"):
        interleaved.unbatch()


def test_unbatch_keeps_graph_label_shape():
    gs = [sg.Graph(edge_index=np.array([[0], [1]]), num_nodes=2, y=np.array([i])) for i in (0, 1)]
    assert [p.y.shape for p in sg.Graph.batch(gs).unbatch()] == [(1,), (1,)]


def test_batch_rejects_fields_present_on_only_some_graphs():
    with_attr = sg.Graph(edge_index=np.array([[0], [1]]), edge_attr=np.ones((1, 2)))
    plain = sg.Graph(edge_index=np.array([[0], [1]]))
    with pytest.raises(ValueError, match="`edge_attr` on every graph or on none"):
        sg.Graph.batch([with_attr, plain])
    with_x = sg.Graph(x=np.ones((2, 3)), edge_index=np.array([[0], [1]]))
    with pytest.raises(ValueError, match="`x` on every graph or on none"):
        sg.Graph.batch([plain, with_x])


@pytest.mark.parametrize("y, match", [
    (np.array([0, 1, 2]), "expected `y` with 4 rows"),
    (np.array([0.5, np.nan, 2.0, 3.0]), "NaN labels"),
    (np.array(["a", "b", "c", "d"]), "numeric labels"),
    (np.array([0, 1, -5, 3]), ">= 0"),
])
def test_label_validation(y, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sg.Graph(edge_index=np.array([[0, 1, 2], [1, 2, 3]]), y=y)


def test_labels_accept_graph_level_and_float_targets():
    ei = np.array([[0, 1, 2], [1, 2, 3]])
    assert sg.Graph(edge_index=ei, y=np.array([3])).y.shape == (1,)
    assert sg.Graph(edge_index=ei, y=np.array([0.0, 1.0, 2.0, 1.0])).y.shape == (4,)
    assert sg.Graph(edge_index=ei, y=np.full((4, 2), 0.25)).y.shape == (4, 2)
    assert sg.Graph(edge_index=ei, y=np.array([0.37])).y.shape == (1,)  # a regression target
    assert sg.Graph(edge_index=ei, y=np.array([-0.5, 1.2, 2.0, 3.0])).y.shape == (4,)


def test_num_nodes_and_x_messages():
    with pytest.raises(ValueError, match=r"expected `num_nodes` >= 0 \(got -2\)"):
        sg.Graph(num_nodes=-2)
    with pytest.raises(TypeError, match=r"expected `num_nodes` to be an int \(got 4.7\)"):
        sg.Graph(edge_index=np.array([[0], [1]]), num_nodes=4.7)
    with pytest.raises(ValueError, match="expected `x` with at least 4 rows.*refers to node 3"):
        sg.Graph(x=np.ones((3, 2)), edge_index=np.array([[0, 1], [1, 3]]))


def test_subgraph_of_an_empty_list_and_private_fields_hidden():
    g = small()
    assert g.subgraph([]).num_nodes == 0
    b = sg.Graph.batch([g, g])
    assert "_graph_keys" not in repr(b) and "_graph_keys" not in b.keys()


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_to_undirected_with_integer_edge_values(reduce):
    g = sg.Graph(edge_index=np.array([[0, 1, 1], [1, 0, 2]]), edge_attr=np.array([[2], [5], [7]]),
                 edge_weight=np.array([1, 4, 3], np.int32))
    u = g.to_undirected(reduce)
    merged = {"sum": 7, "mean": 3.5, "max": 5, "min": 2}[reduce]
    ei = np.asarray(u.edge_index).T.tolist()
    attr = dict(zip(map(tuple, ei), u.edge_attr.numpy()[:, 0].tolist(), strict=True))
    assert attr[(0, 1)] == attr[(1, 0)] == merged and attr[(2, 1)] == 7


def test_to_undirected_default_matches_sg_to_undirected():
    g = sg.Graph(edge_index=np.array([[0, 1, 2], [1, 0, 2]]), edge_weight=np.array([1., 2., 3.]))
    np.testing.assert_array_equal(g.to_undirected().adj.to_dense().numpy(),
                                  sg.to_undirected(g.adj).to_dense().numpy())


def test_to_undirected_keeps_an_unweighted_graph_unweighted():
    g = sg.Graph(edge_index=np.array([[0, 1, 1], [1, 0, 2]]), num_nodes=3)
    u = g.to_undirected()
    dense = np.zeros((3, 3))
    dense[[1, 0, 2, 1], [0, 1, 1, 2]] = 1.0  # one-way 1 -> 2 gets its reverse; weights stay 1
    np.testing.assert_array_equal(u.adj.to_dense().numpy(), dense)
    # an undirected unweighted graph comes back unchanged, also after batching
    from sparsegraph.datasets import KarateClub

    karate = KarateClub()[0]
    for graph in (karate, sg.Graph.batch([karate, karate])):
        np.testing.assert_array_equal(graph.to_undirected().adj.to_dense().numpy(),
                                      graph.adj.to_dense().numpy())


def test_to_undirected_still_merges_given_weights_even_when_they_are_ones():
    g = sg.Graph(edge_index=np.array([[0, 1], [1, 0]]), edge_weight=np.ones(2))
    assert g.to_undirected().adj.values.numpy().tolist() == [2.0, 2.0]  # PyG's "add"
    loops = sg.Graph(edge_index=np.array([[0, 1], [1, 0]]), num_nodes=2).add_self_loops(2.0)
    assert sorted(loops.to_undirected().adj.values.numpy().tolist()) == [2.0, 2.0, 4.0, 4.0]


@pytest.mark.parametrize("fill, error, match", [
    ([1.0], TypeError, r"Graph.add_self_loops: expected `fill_value` to be a number, a Tensor, "
                       r"None or one of \('add', 'sum', 'mean', 'max', 'min'\).*\(got \[1.0\]\)"),
    (True, TypeError, r"Graph.add_self_loops: expected `fill_value` to be a number"),
    ("median", ValueError, r"Graph.add_self_loops: expected `fill_value` in \('add', 'sum', "
                           r"'mean', 'max', 'min'\) \(got 'median'\)"),
    (np.ones(3), TypeError, r"Graph.add_self_loops: expected `fill_value` to be a number"),
], ids=["list", "bool", "median", "ndarray"])
def test_add_self_loops_names_a_bad_fill_value(fill, error, match):
    with pytest.raises(error, match=match):
        small().add_self_loops(fill)


def test_add_self_loops_names_the_fields_when_a_tensor_fill_value_fits_none():
    # weights (5,), edge_attr (5, 1), 4 nodes: a (3,) Tensor fits neither
    with pytest.raises(ValueError, match=r"Graph.add_self_loops: expected a Tensor `fill_value` "
                                         r"that fits the edge weights or a per-edge field \(the "
                                         r"edge weights of shape \(5,\): \(\), \(1,\) or \(4,\); "
                                         r"`edge_attr` of shape \(5, 1\): \(\), \(1,\), \(1, 1\) "
                                         r"or \(4, 1\)\) \(got shape \(3,\)\)"):
        small().add_self_loops(sg.tensor(np.ones(3, np.float32)))


# ---- add_self_loops against PyG's add_remaining_self_loops (tests/pyg_reference.py) ----
N_LOOPS = 6


def looped_edges(seed=0):
    """Edges on 6 nodes in shuffled order: node 0 has three self loops and node 3 two (in
    the tests each with its own weight and attributes), node 5 one; repeated non-loop edges;
    node 4 has no in-edges."""
    rng = np.random.default_rng(seed)
    src = np.concatenate([rng.integers(0, N_LOOPS, 12), [0, 0, 0, 3, 3, 5, 1, 1]])
    dst = np.concatenate([rng.integers(0, N_LOOPS, 12), [0, 0, 0, 3, 3, 5, 2, 2]])
    keep = ((dst != 4) | (src == dst)) & ((src != dst) | np.isin(src, [0, 3, 5]))
    keep[-8:] = True
    order = rng.permutation(np.flatnonzero(keep))
    return np.stack([src[order], dst[order]])


def edge_rows(edge_index, *arrays):
    """The edges as sorted tuples (source, target, then every per-edge array's row): the
    multiset of edges with their fields, whatever their order."""
    cols = [edge_index[0], edge_index[1]] + [np.asarray(a, np.float64).reshape(len(a), -1)
                                             for a in arrays]
    rows = [tuple(float(v) for c in cols for v in np.atleast_1d(c[i]))
            for i in range(edge_index.shape[1])]
    return np.array(sorted(rows))


@pytest.mark.parametrize("fill", [1.0, 0.5, 3, None, "add", "sum", "mean", "max", "min"],
                         ids=str)
def test_add_self_loops_is_pygs_add_remaining_self_loops(fill):
    ei = looped_edges()
    e = ei.shape[1]
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 2.0, e).astype(np.float32)
    attr = rng.uniform(-1, 1, (e, 2)).astype(np.float32)
    etype = rng.integers(0, 4, e)  # integer edge types hold every fill but 0.5 exactly
    etype = etype.astype(np.float32) if fill == 0.5 else etype
    g = sg.Graph(edge_index=ei, num_nodes=N_LOOPS, edge_weight=w, edge_attr=attr,
                 edge_type=etype)
    out = g.add_self_loops(fill)
    # PyG on the edges as given (the last loop of a node is the last in this order), once per
    # per-edge array; the calls share one edge_index, so their rows zip into the same edges
    refs = [pyg_add_remaining_self_loops(ei, a, fill, N_LOOPS) for a in (w, attr, etype)]
    assert out.num_edges == refs[0][0].shape[1]
    np.testing.assert_allclose(
        edge_rows(np.asarray(out.edge_index), out.adj.values.numpy(), out.edge_attr.numpy(),
                  out.edge_type.numpy()),
        edge_rows(refs[0][0], *(r[1] for r in refs)), rtol=1e-6)
    assert out.edge_type.dtype == refs[2][1].dtype  # int64 stays, but "mean" is float32
    s = out.adj.structure
    rows, cols = np.asarray(s.rows()), np.asarray(s.cols())
    assert np.array_equal(np.sort(rows[rows == cols]), np.arange(N_LOOPS))  # one per node
    # the graph's adjacency is ops.add_self_loops of its own
    np.testing.assert_array_equal(out.adj.to_dense().numpy(),
                                  sg.ops.add_self_loops(g.adj, fill).to_dense().numpy())


@pytest.mark.parametrize("shape", [(), (1,), (N_LOOPS,)], ids=["scalar", "one", "per_node"])
def test_add_self_loops_with_a_tensor_fill_value(shape):
    ei = looped_edges(seed=2)
    rng = np.random.default_rng(3)
    w, attr = rng.uniform(0.5, 2, (2, ei.shape[1]))
    fill = rng.uniform(2, 3, shape)
    g = sg.Graph(edge_index=ei, num_nodes=N_LOOPS, edge_weight=w, edge_attr=attr)
    out = g.add_self_loops(sg.tensor(fill))
    refs = [pyg_add_remaining_self_loops(ei, a, fill, N_LOOPS) for a in (w, attr)]
    np.testing.assert_allclose(
        edge_rows(np.asarray(out.edge_index), out.adj.values.numpy(), out.edge_attr.numpy()),
        edge_rows(refs[0][0], refs[0][1], refs[1][1]))


@pytest.mark.parametrize("fill", ["add", "sum", "mean", "max", "min"])
def test_a_reduce_fill_value_leaves_an_unweighted_graphs_loops_at_weight_one(fill):
    from sparsegraph.graph_ops import is_weighted

    # PyG's AddRemainingSelfLoops(attr="edge_attr", fill_value=fill) fills edge_attr only:
    # the implicit weights are no attribute, so every loop weighs 1 and GCN keeps each node's
    # own term (node 3 has no in-edge: the reduce of its weights would be 0)
    ei = looped_edges()
    attr = np.random.default_rng(5).uniform(-1, 1, (ei.shape[1], 2)).astype(np.float32)
    plain = sg.Graph(edge_index=ei, num_nodes=N_LOOPS, edge_attr=attr)
    out = plain.add_self_loops(fill)
    ref_ei, ref_attr = pyg_add_remaining_self_loops(ei, attr, fill, N_LOOPS)
    np.testing.assert_allclose(
        edge_rows(np.asarray(out.edge_index), out.adj.values.numpy(), out.edge_attr.numpy()),
        edge_rows(ref_ei, np.ones(ref_ei.shape[1]), ref_attr), rtol=1e-6)
    assert not is_weighted(out)
    # given weights get the reduce, as every per-edge field does
    w = np.random.default_rng(6).uniform(0.5, 2, ei.shape[1]).astype(np.float32)
    weighted = sg.Graph(edge_index=ei, num_nodes=N_LOOPS, edge_weight=w).add_self_loops(fill)
    ref_ei, ref_w = pyg_add_remaining_self_loops(ei, w, fill, N_LOOPS)
    np.testing.assert_allclose(edge_rows(np.asarray(weighted.edge_index),
                                         weighted.adj.values.numpy()),
                               edge_rows(ref_ei, ref_w), rtol=1e-6)


def test_add_self_loops_keeps_unweighted_graphs_unweighted_while_loops_weigh_one():
    from sparsegraph.graph_ops import is_weighted

    # target-major: node 0 has two loops and an in-edge from 1; 1 one from 2; 2 and 3 none
    plain = sg.Graph(edge_index=np.array([[0, 0, 1, 2], [0, 0, 0, 1]]), num_nodes=4)
    out = plain.add_self_loops("max")  # every loop weighs 1, the implicit weight
    np.testing.assert_array_equal(out.adj.to_dense().numpy(),
                                  [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    assert out.num_edges == 6 and not is_weighted(out)
    assert not is_weighted(plain.add_self_loops()) and plain.add_self_loops().num_edges == 6
    assert is_weighted(plain.add_self_loops(2.0))  # a number is a weight
    # in a batch, the weighted graph's loops get the reduce, the unweighted one's weigh 1
    w = sg.Graph(edge_index=np.array([[1, 0], [0, 1]]), num_nodes=3,
                 edge_weight=np.array([3.0, 5.0], np.float32))
    batch = sg.Graph.batch([plain, w]).add_self_loops("max")
    parts = batch.unbatch()
    assert [is_weighted(p) for p in parts] == [False, True]
    for part, graph in zip(parts, (plain, w), strict=True):
        np.testing.assert_array_equal(part.adj.to_dense().numpy(),
                                      graph.add_self_loops("max").adj.to_dense().numpy())
    np.testing.assert_array_equal(np.diag(parts[1].adj.to_dense().numpy()), [3, 5, 0])


@pytest.mark.parametrize("shape", [(2,), (1, 2), (N_LOOPS, 2)], ids=["row", "one_row", "per_node"])
def test_a_tensor_fill_value_fills_each_field_it_fits(shape):
    # PyG's AddRemainingSelfLoops(attr="edge_attr", fill_value=t): the (E, 2) edge_attr takes
    # the Tensor; the weights and the int edge_type, which it does not fit, get 1
    ei = looped_edges(seed=4)
    rng = np.random.default_rng(7)
    w = rng.uniform(0.5, 2, ei.shape[1]).astype(np.float32)
    attr = rng.uniform(-1, 1, (ei.shape[1], 2)).astype(np.float32)
    etype = rng.integers(0, 4, ei.shape[1])
    fill = rng.uniform(2, 3, shape).astype(np.float32)
    g = sg.Graph(edge_index=ei, num_nodes=N_LOOPS, edge_weight=w, edge_attr=attr,
                 edge_type=etype)
    out = g.add_self_loops(sg.tensor(fill))
    ref_ei, ref_attr = pyg_add_remaining_self_loops(ei, attr, fill, N_LOOPS)
    refs = [pyg_add_remaining_self_loops(ei, a, 1.0, N_LOOPS)[1] for a in (w, etype)]
    np.testing.assert_allclose(
        edge_rows(np.asarray(out.edge_index), out.adj.values.numpy(), out.edge_attr.numpy(),
                  out.edge_type.numpy()),
        edge_rows(ref_ei, refs[0], ref_attr, refs[1]), rtol=1e-6)
    assert out.edge_type.dtype == np.int64


def test_a_0d_tensor_fill_value_fills_every_field_as_a_number():
    g = sg.Graph(edge_index=np.array([[0, 1, 2], [1, 2, 0]]), num_nodes=4,
                 edge_attr=np.arange(6.0).reshape(3, 2), edge_type=np.array([1, 2, 3]))
    by_tensor, by_number = g.add_self_loops(sg.tensor(3.0)), g.add_self_loops(3.0)
    for key in ("edge_attr", "edge_type"):
        np.testing.assert_array_equal(getattr(by_tensor, key).numpy(),
                                      getattr(by_number, key).numpy())
    np.testing.assert_array_equal(by_tensor.adj.to_dense().numpy(),
                                  by_number.adj.to_dense().numpy())
    assert by_tensor.edge_type.dtype == np.int64


def test_graph_from_adj_validates_edge_attr_and_applies_edge_weight():
    base = sg.Graph(edge_index=np.array([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=3)
    with pytest.raises(ValueError, match=r"Graph: expected `edge_attr` with 4 rows, one per "
                                         r"edge \(got shape \(7, 2\)\)"):
        sg.Graph(adj=base.adj, edge_attr=np.zeros((7, 2)))
    with pytest.raises(ValueError, match=r"Graph: expected `edge_weight` of shape \(4,\)"):
        sg.Graph(adj=base.adj, edge_weight=np.ones(3))
    # a COO adj: weights and edge_attr follow its stored entries into CSR order
    coo = sg.sparse_coo(np.array([[2, 0, 1], [1, 1, 0]]), np.ones(3), (3, 3))
    g = sg.Graph(adj=coo, edge_weight=np.array([5.0, 6.0, 7.0]), edge_attr=np.array([[5.0],
                                                                                     [6.0], [7.0]]))
    dense = np.zeros((3, 3))
    dense[[2, 0, 1], [1, 1, 0]] = [5.0, 6.0, 7.0]
    np.testing.assert_array_equal(g.adj.to_dense().numpy(), dense)
    np.testing.assert_array_equal(g.edge_attr.numpy()[:, 0], g.adj.values.numpy())


def _weighted_and_unweighted():
    ei = np.array([[0, 1, 1, 2], [1, 0, 2, 1]])
    plain = sg.Graph(edge_index=ei, num_nodes=3)
    weighted = sg.Graph(edge_index=ei, num_nodes=3,
                        edge_weight=np.array([.5, .5, 2., 2.], np.float32))
    return plain, weighted


def test_unbatch_keeps_each_graph_weighted_or_not():
    plain, weighted = _weighted_and_unweighted()
    p1, p2 = sg.Graph.batch([plain, weighted]).unbatch()
    for part, graph in ((p1, plain), (p2, weighted)):  # "sum" doubles real weights only
        np.testing.assert_array_equal(part.to_undirected().adj.to_dense().numpy(),
                                      graph.to_undirected().adj.to_dense().numpy())
    np.testing.assert_array_equal(p1.to_undirected().adj.values.numpy(), [1, 1, 1, 1])


def test_to_undirected_of_a_mixed_batch_merges_only_the_weighted_graphs():
    plain, weighted = _weighted_and_unweighted()
    batch = sg.Graph.batch([plain, weighted]).to_undirected()
    dense = batch.adj.to_dense().numpy()
    np.testing.assert_array_equal(dense[:3, :3], plain.to_undirected().adj.to_dense().numpy())
    np.testing.assert_array_equal(dense[3:, 3:], weighted.to_undirected().adj.to_dense().numpy())
    # loops of weight 2 make the plain graph weighted too: its edges then merge as well
    loops = sg.Graph.batch([plain, plain]).add_self_loops(2.0).to_undirected().unbatch()
    np.testing.assert_array_equal(loops[1].adj.to_dense().numpy(),
                                  plain.add_self_loops(2.0).to_undirected().adj.to_dense().numpy())


def test_add_self_loops_refuses_a_fill_value_integer_weights_cannot_hold():
    g = sg.Graph(edge_index=np.array([[0, 1], [1, 0]]), edge_weight=np.array([2, 3]), num_nodes=2)
    with pytest.raises(ValueError, match=r"add_self_loops: expected a `fill_value` that the edge "
                                         r"weights of dtype int64 can hold exactly \(got 0.5\)"):
        g.add_self_loops(fill_value=0.5)
    np.testing.assert_array_equal(g.add_self_loops(fill_value=4).adj.to_dense().numpy(),
                                  [[4, 3], [2, 4]])  # an integral fill keeps the int weights
    attr = sg.Graph(edge_index=np.array([[0], [1]]), edge_attr=np.array([[1], [0]])[:1])
    with pytest.raises(ValueError, match=r"`edge_attr` of dtype int64 .*\(got 1.5\)"):
        attr.add_self_loops(fill_value=1.5)


@pytest.mark.parametrize("fill", [0.5, sg.tensor(0.5), sg.tensor([1.0, 0.5, 2.0])],
                         ids=["number", "tensor", "per_node"])
def test_add_self_loops_names_the_integer_field_to_convert(fill):
    # the advice names the field that cannot hold the fill, not the weights; a Tensor is
    # refused as a number is, not truncated
    g = sg.Graph(edge_index=np.array([[0, 1], [1, 0]]), num_nodes=3,
                 edge_type=np.array([2, 3]))
    with pytest.raises(ValueError, match=r"Graph.add_self_loops: expected a `fill_value` that "
                                         r"`edge_type` of dtype int64 can hold exactly \(got "
                                         r"0.5\); convert `edge_type` to float first, e.g. "
                                         r"Graph\(..., edge_type=edge_type.astype\(np.float32\)\)"):
        g.add_self_loops(fill)


EI3 = np.array([[0, 1, 2], [1, 2, 0]])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(edge_index=EI3, edge_weight=np.array(["a", "b", "c"])), TypeError,
     r"Graph: expected numeric `edge_weight` \(got dtype <U1\)"),
    (dict(edge_index=EI3, edge_weight=np.array([1.0, np.nan, 2.0])), ValueError,
     r"Graph: expected `edge_weight` without NaN"),
    (dict(edge_index=EI3, train_mask=np.bool_(True)), ValueError,
     r"Graph: expected `train_mask` of length 3: shape \(3,\), or \(S, 3\) for S splits \(got "
     r"shape \(\)\)"),
    (dict(edge_index=EI3, val_mask=np.ones((2, 2, 3), bool)), ValueError,
     r"expected `val_mask` of length 3.*\(got shape \(2, 2, 3\)\)"),
    (dict(x=np.float32(1), edge_index=EI3), ValueError,
     r"Graph: expected `x` with one row per node, shape \(N, F\) or \(N,\) \(got shape \(\)\)"),
    (dict(x=np.array([["a"], ["b"], ["c"]]), edge_index=EI3), TypeError,
     r"Graph: expected numeric `x` \(got dtype <U1\)"),
    (dict(edge_index=[[0, 1], [1]]), ValueError,
     r"Graph: expected `edge_index` to be a rectangular array of integers \(got a ragged "
     r"list: rows of different lengths\)"),
    (dict(edge_index=EI3, batch=np.array([0, 0])), ValueError,
     r"Graph: expected `batch` of shape \(3,\), one graph id per node \(got shape \(2,\)\)"),
    (dict(edge_index=EI3, batch=np.zeros(3)), TypeError,
     r"Graph: expected integer graph ids in `batch` \(got dtype float"),
])
def test_malformed_inputs_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        sg.Graph(**kwargs)


def test_batch_names_a_non_graph_and_split_masks_stay_accepted():
    with pytest.raises(TypeError, match=r"Graph.batch: expected `graphs` to hold Graphs \(got "
                                        r"int at position 1\)"):
        sg.Graph.batch([small(), 1])
    g = sg.Graph(edge_index=EI3, train_mask=np.ones((1, 3), bool), batch=np.zeros(3, np.int64))
    assert tuple(g.train_mask.shape) == (1, 3) and g.num_graphs == 1


def test_batch_names_the_field_and_graphs_whose_features_differ():
    a = sg.Graph(x=np.ones((3, 4), np.float32), edge_index=[[0, 1], [1, 2]])
    b = sg.Graph(x=np.ones((2, 21), np.float32), edge_index=[[0], [1]])
    with pytest.raises(ValueError, match=r"Graph.batch: expected `x` of the same shape on every "
                                         r"graph .*graph 0 has shape \(3, 4\), graph 1 has "
                                         r"\(2, 21\)"):
        sg.Graph.batch([a, b])
    import scipy.sparse as sp

    c = sg.Graph(x=sp.csr_matrix(np.ones((2, 4), np.float32)), edge_index=[[0], [1]])
    with pytest.raises(ValueError, match=r"Graph.batch: expected `x` of one kind on every graph "
                                         r"\(graph 0 has a dense `x`, graph 1 a sparse one\)"):
        sg.Graph.batch([a, c])
    from sparsegraph.datasets import GraphLoader

    with pytest.raises(ValueError, match=r"Graph.batch: expected `x` of the same shape"):
        next(iter(GraphLoader([a, b], batch_size=2)))


def test_batch_promotes_dtypes_as_torch_cat():
    a = sg.Graph(x=np.ones((2, 2), np.int64), edge_index=[[0], [1]], edge_weight=[2])
    b = sg.Graph(x=np.ones((2, 2), np.float32), edge_index=[[0], [1]],
                 edge_weight=np.array([0.5], np.float32))
    batch = sg.Graph.batch([a, b])
    assert batch.x.dtype == np.float32 and batch.adj.values.dtype == np.float32
    np.testing.assert_array_equal(batch.x.numpy(), np.ones((4, 2), np.float32))
    assert batch.adj.values.numpy().tolist() == [2.0, 0.5]
    m = sg.Graph.batch([sg.Graph(x=np.ones((2, 2), np.int32), edge_index=[[0], [1]]),
                        sg.Graph(x=np.ones((1, 2), np.int64), num_nodes=1)])
    assert m.x.dtype == np.int64


def test_extra_masks_are_checked_like_the_split_masks():
    with pytest.raises(ValueError, match=r"expected `my_mask` of length 3"):
        sg.Graph(x=np.ones((3, 2)), my_mask=[True, False])
    with pytest.raises(TypeError, match=r"expected `my_mask` to be boolean \(got int64\)"):
        sg.Graph(x=np.ones((3, 2)), my_mask=[1, 0, 1])
    g = sg.Graph(x=np.ones((3, 2)), my_mask=[True, False, True], edge_index=[[0], [1]],
                 edge_mask=[1])  # edge_* fields are per edge, not node masks
    assert g.my_mask.dtype == np.bool_ and g.edge_mask.shape == (1,)


def test_from_scipy_and_to_scipy_use_the_source_row_convention():
    import networkx as nx

    G = nx.DiGraph()
    G.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 3.0), (2, 2, 1.0)])
    A = nx.to_scipy_sparse_array(G, dtype=np.float32)
    g = sg.Graph.from_scipy(A, x=np.ones((3, 2), np.float32))
    edges = {(int(s), int(d)) for s, d in np.asarray(g.edge_index).T}
    assert edges == set(G.edges) and g.num_features == 2
    dense = g.adj.to_dense().numpy()  # target-major: adj[target, source]
    assert dense[1, 0] == 2.0 and dense[2, 1] == 3.0 and dense[2, 2] == 1.0
    np.testing.assert_array_equal(g.to_scipy().toarray(), A.toarray())
    np.testing.assert_array_equal(g.to_scipy().toarray(), nx.to_numpy_array(G))
    u = sg.Graph.from_scipy(nx.to_scipy_sparse_array(nx.path_graph(3)))
    assert u.is_undirected() and not u.__dict__["_weighted"]  # all ones: unweighted
    with pytest.raises(ValueError, match="square adjacency"):
        sg.Graph.from_scipy(A[:2])
    with pytest.raises(TypeError, match="`edge_index` comes from the matrix"):
        sg.Graph.from_scipy(A, edge_index=[[0], [1]])
    assert "A[source, target]" in sg.Graph.__doc__ and "target-major" in sg.Graph.__doc__
