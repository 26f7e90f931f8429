"""Graph as a PyG user meets it: unbatch of non-array attributes, is_undirected with edge
attributes and weights, Data's names (num_node_features, g["x"], "x" in g, ...), an empty
``[[], []]`` edge list, and the NeighborLoader batch's edge_attr."""


import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import Graph
from sparsegraph.gnn import NeighborLoader


# ---- unbatch: each graph gets its own str / int / object ---------------------------------------
def test_unbatch_gives_each_graph_its_own_non_array_attributes():
    objects = [{"id": i} for i in range(3)]
    gs = [Graph(num_nodes=2 + i, edge_index=np.array([[0], [1]]), y=np.array([i]),
                name=f"g{i}", idx=i, meta=objects[i], tag=None if i == 1 else "t",
                pair=np.array([i, -i])) for i in range(3)]
    b = Graph.batch(gs)
    assert b.name == ["g0", "g1", "g2"]  # the batch holds the list, as PyG's Batch
    parts = b.unbatch()
    for g, part in zip(gs, parts, strict=True):
        for key in ("name", "idx", "meta", "tag"):
            assert getattr(part, key) == getattr(g, key), key
        np.testing.assert_array_equal(part.pair, g.pair)
        assert part.y.numpy().tolist() == g.y.numpy().tolist()
    assert parts[0].meta is objects[0]  # the object itself, not a copy
    # a subgraph of the batch keeps the graphs, so unbatch still hands out their own values
    sub = b.subgraph(np.array([0, 1, 2, 4, 5, 6, 7]))
    assert [p.name for p in sub.unbatch()] == ["g0", "g1", "g2"]


# ---- is_undirected: PyG's is_undirected(edge_index, edge_attr), plus the weights --------------
def _pyg_is_undirected(ei, attrs, n):
    """PyG's algorithm: sort by (row, col) and by (col, row), both stable, and compare the
    index rows and the attribute rows of the two orders."""
    by_row = np.lexsort((ei[1], ei[0]))
    by_col = np.lexsort((ei[0], ei[1]))
    if not (np.array_equal(ei[0, by_row], ei[1, by_col])
            and np.array_equal(ei[1, by_row], ei[0, by_col])):
        return False
    return all(np.array_equal(a[by_row], a[by_col]) for a in attrs)


def test_is_undirected_compares_edge_attr_rows_and_weights():
    pair = np.array([[0, 1], [1, 0]])
    assert not Graph(edge_index=pair, edge_attr=np.array([[1.0], [5.0]])).is_undirected()
    assert Graph(edge_index=pair, edge_attr=np.array([[2.0], [2.0]])).is_undirected()
    assert not Graph(edge_index=pair, edge_weight=np.array([1.0, 5.0])).is_undirected()
    assert Graph(edge_index=pair, edge_weight=np.array([3.0, 3.0])).is_undirected()
    assert not Graph(edge_index=pair, edge_attr=np.array([1, 2])).is_undirected()  # 1-D
    one_way = Graph(edge_index=np.array([[0], [1]]))
    assert not one_way.is_undirected() and one_way.is_directed()
    assert Graph(edge_index=pair).is_undirected() and not Graph(edge_index=pair).is_directed()
    assert Graph(num_nodes=3).is_undirected()


@pytest.mark.parametrize("seed", range(24))
def test_is_undirected_matches_pygs_sorted_comparison(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 7))
    half = rng.integers(0, n, (2, int(rng.integers(1, 10))))
    ei = np.concatenate([half, half[::-1]], axis=1)  # every edge both ways, duplicates kept
    if seed % 3 == 0:  # a value per unordered pair: symmetric for sure
        lo, hi = np.minimum(ei[0], ei[1]), np.maximum(ei[0], ei[1])
        attr = np.stack([lo * 7 + hi, hi], axis=1).astype(np.float32)
        weight = (lo + hi + 1).astype(np.float32)
    elif seed % 3 == 1:  # each edge's values on its own reverse: symmetric but for repeats
        attr = np.tile(rng.integers(0, 3, (half.shape[1], 2)), (2, 1)).astype(np.float32)
        weight = np.tile(rng.integers(1, 3, half.shape[1]), 2).astype(np.float32)
    else:  # unrelated values: symmetric only by chance
        attr = rng.integers(0, 2, (ei.shape[1], 2)).astype(np.float32)
        weight = rng.integers(1, 3, ei.shape[1]).astype(np.float32)
    if seed % 4 == 1:  # drop one edge: structurally directed (unless repeated)
        ei, attr, weight = ei[:, 1:], attr[1:], weight[1:]
    g = Graph(edge_index=ei, num_nodes=n, edge_attr=attr, edge_weight=weight)
    assert g.is_undirected() == _pyg_is_undirected(ei, [attr, weight], n)
    assert Graph(edge_index=ei, num_nodes=n).is_undirected() == _pyg_is_undirected(ei, [], n)
    und = g.to_undirected()  # merged both ways: symmetric attributes and weights
    assert und.is_undirected()


# ---- PyG's Data names ---------------------------------------------------------------------------
def test_num_node_features_and_num_edge_features():
    ei = np.array([[0, 1], [1, 2]])
    g = Graph(x=np.ones((3, 2)), edge_index=ei, edge_attr=np.ones((2, 4)))
    assert (g.num_node_features, g.num_edge_features) == (2, 4)
    g1 = Graph(x=np.ones(3), edge_index=ei, edge_attr=np.ones(2))
    assert (g1.num_node_features, g1.num_edge_features) == (1, 1)
    g0 = Graph(edge_index=ei)
    assert (g0.num_node_features, g0.num_edge_features) == (0, 0)


def test_access_by_name_as_pyg_data():
    x = np.ones((3, 2), np.float32)
    g = Graph(x=x, edge_index=np.array([[0, 1], [1, 2]]))
    assert g["x"] is g.x and "x" in g and "adj" in g and "edge_index" in g
    np.testing.assert_array_equal(g["edge_index"], g.edge_index)
    assert g["num_nodes"] == 3
    assert "y" not in g and "foo" not in g and 0 not in g
    with pytest.raises(KeyError, match=r"Graph: no attribute 'y' \(it has: .*x"):
        g["y"]
    with pytest.raises(TypeError, match=r"Graph: expected an attribute name \(a str\) as key "
                                        r"\(got int 0\)"):
        g[0]
    score = sg.tensor(np.arange(3.0))
    g["score"] = score
    assert g.score is score and "score" in g and g["score"] is score
    g["y"] = sg.tensor(np.array([0, 1, 0]))
    assert "y" in g
    for key in ("edge_index", "_weighted", "subgraph"):
        with pytest.raises(TypeError, match="which Graph reserves"):
            g[key] = 1
    with pytest.raises(ValueError, match=r"expected `num_nodes` >= 3"):  # as g.num_nodes = 1
        g["num_nodes"] = 1
    # the implicit weights of an unweighted graph are no attribute PyG would store: `in`,
    # `[]`, keys() and iteration agree on that (g.edge_weight still reads them)
    assert "edge_weight" not in g and g.edge_weight.numpy().tolist() == [1.0, 1.0]
    with pytest.raises(KeyError, match=r"no attribute 'edge_weight': the graph is unweighted"):
        g["edge_weight"]
    w = Graph(edge_index=np.array([[0], [1]]), edge_weight=np.array([1.0]))
    assert "edge_weight" in w and w["edge_weight"] is w.edge_weight
    assert "edge_weight" in w.keys() and "edge_weight" not in g.keys()


def test_iteration_names_the_edges_as_pyg_does():
    x = np.ones((3, 2), np.float32)
    g = Graph(x=x, edge_index=np.array([[0, 1], [1, 2]]), y=np.array([0, 1, 0]))
    d = dict(g)
    assert list(d) == g.keys() == ["edge_index", "x", "y"] and d["x"] is g.x
    np.testing.assert_array_equal(d["edge_index"], g.edge_index)
    assert "adj" in g and "adj" not in d  # readable, but not a PyG attribute
    w = Graph(x=x, edge_index=np.array([[0, 1], [1, 2]]), edge_weight=np.array([2.0, 3.0]),
              edge_attr=np.ones((2, 4)))
    rebuilt = Graph(**dict(w))  # what PyG code does with a Data's items
    np.testing.assert_array_equal(rebuilt.adj.to_dense().numpy(), w.adj.to_dense().numpy())
    np.testing.assert_array_equal(rebuilt.edge_attr.numpy(), w.edge_attr.numpy())
    assert all(key in w for key, _ in w)


def test_apis_taking_several_graphs_refuse_one_graph_by_name():
    from sparsegraph.datasets import GraphLoader
    from sparsegraph.gnn.train import train_graph_classifier

    g = Graph(x=np.ones((2, 1)), edge_index=np.array([[0], [1]]), y=np.array([1]))
    calls = {"Graph.batch": lambda: Graph.batch(g),
             "GraphLoader": lambda: GraphLoader(g),
             "train_graph_classifier": lambda: train_graph_classifier(
                 lambda: None, g, [(np.array([0]), np.array([0]))], epochs=1)}
    for op, call in calls.items():
        with pytest.raises(TypeError, match=rf"^{op}: expected `graphs` to be a list or "
                                            r"dataset of Graphs \(got one Graph; pass \[g\]\)"):
            call()
    with pytest.raises(TypeError, match=r"^train_graph_classifier: expected `graphs` to hold "
                                        r"Graphs \(got int at position 1\)"):
        train_graph_classifier(lambda: None, [g, 3], [], epochs=1)


# ---- Graph(edge_index=[[], []]) -----------------------------------------------------------------
def test_an_empty_list_edge_index_is_no_edges():
    g = Graph(edge_index=[[], []])
    assert (g.num_nodes, g.num_edges) == (0, 0)
    h = Graph(edge_index=[[], []], num_nodes=3)
    assert (h.num_nodes, h.num_edges) == (3, 0) and h.edge_index.shape == (2, 0)
    # only a list says nothing about the dtype: a float array, even empty, is refused as
    # from_edge_index and the layers refuse it
    with pytest.raises(TypeError, match=r"expected an integer `edge_index` \(got float64\)"):
        Graph(edge_index=sg.tensor(np.zeros((2, 0))), num_nodes=2)
    with pytest.raises(TypeError, match=r"expected an integer `edge_index` \(got float64\)"):
        Graph(edge_index=[[0.0], [1.0]])


# ---- NeighborLoader: the sampled edges' edge_attr -----------------------------------------------
@pytest.mark.parametrize("width", [None, 3])
def test_neighbor_loader_batch_carries_the_sampled_edges_edge_attr(width):
    rng = np.random.default_rng(0)
    n = 30
    pairs = np.unique(rng.integers(0, n, (200, 2)), axis=0)
    ei = pairs.T[:, rng.permutation(pairs.shape[0])]  # not in CSR order
    shape = (ei.shape[1],) if width is None else (ei.shape[1], width)
    attr = rng.standard_normal(shape).astype(np.float32)
    row_of = {(s, d): k for k, (s, d) in enumerate(ei.T.tolist())}
    g = Graph(x=np.ones((n, 1), np.float32), edge_index=ei, edge_attr=attr)
    loader = NeighborLoader(g, [3, 2], batch_size=8, seed=0)
    for batch in loader:
        assert len(batch.edge_attr) == len(batch.blocks)
        for block, e_id, ea in zip(batch.blocks, batch.e_id, batch.edge_attr, strict=True):
            assert isinstance(ea, sg.Tensor) and ea.shape == (block.nnz,) + shape[1:]
            np.testing.assert_array_equal(ea.numpy(), g.edge_attr.numpy()[e_id])
            s = block.structure
            src, dst = batch.n_id[s.cols()], batch.n_id[s.rows()]
            want = attr[[row_of[(a, b)] for a, b in zip(src.tolist(), dst.tolist(),
                                                         strict=True)]]
            np.testing.assert_array_equal(ea.numpy(), want)  # the edge's own row
        assert batch.to("cpu").edge_attr is batch.edge_attr
    plain = Graph(x=np.ones((n, 1), np.float32), edge_index=ei)
    assert next(iter(NeighborLoader(plain, [2], batch_size=4, seed=0))).edge_attr is None


# ---- Graph.to_undirected checks `reduce` as ops.to_undirected does -----------------------------
@pytest.mark.parametrize("reduce, error, match", [
    (np.array(["sum", "max"]), TypeError, r"to_undirected: expected `reduce` to be a str in "
                                          r"\('sum', 'mean', 'max', 'min'\) \(got ndarray\)"),
    (None, TypeError, r"to_undirected: expected `reduce` to be a str"),
    ("prod", ValueError, r"to_undirected: expected `reduce` in \('sum', 'mean', 'max', 'min'\) "
                         r"\(got 'prod'\)"),
])
def test_graph_to_undirected_checks_reduce_as_the_op_does(reduce, error, match):
    g = Graph(edge_index=np.array([[0, 1], [1, 2]]), edge_weight=np.array([1.0, 2.0]))
    with pytest.raises(error, match=match):
        g.to_undirected(reduce)
    assert g.to_undirected("add").num_edges == 4  # PyG's name of "sum"
