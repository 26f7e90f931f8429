"""Attributes set on a Graph after construction follow the constructor's rule (per-edge
``edge_<name>`` fields, node rows of x / y / masks / batch), ``del g.x`` / ``del g["y"]`` as in
PyG, and PyG's node-id shift of ``*_index`` / ``face`` attributes in Graph.batch / unbatch."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import Graph
from sparsegraph.datasets import load_on_disk, save_on_disk

EI = np.array([[0, 1, 2, 2], [1, 2, 0, 3]])


def _arr(t):
    return np.asarray(t.numpy() if isinstance(t, sg.Tensor) else t)


# ---- F1: an edge_<name> set later is the per-edge field the constructor makes ------------------
@pytest.mark.parametrize("how", ["attr", "item"])
def test_edge_field_set_later_behaves_as_one_given_to_the_constructor(how, tmp_path):
    later = Graph(edge_index=EI, num_nodes=4)
    types = np.array([3, 1, 4, 1])  # in the order of later.edge_index (CSR order)
    if how == "attr":
        later.edge_type = types
    else:
        later["edge_type"] = types
    given = Graph(edge_index=later.edge_index, num_nodes=4, edge_type=types)
    assert isinstance(later.edge_type, sg.Tensor)
    for op in (lambda g: g.to_undirected(), lambda g: g.subgraph([0, 2, 3]),
               lambda g: g.add_self_loops(), lambda g: Graph.batch([g, g])):
        a, b = op(later), op(given)
        assert a.num_edges == b.num_edges == a.edge_type.shape[0]
        np.testing.assert_array_equal(_arr(a.edge_type), _arr(b.edge_type))
        np.testing.assert_array_equal(a.edge_index, b.edge_index)
    part = Graph.batch([later, later]).unbatch()[1]
    np.testing.assert_array_equal(_arr(part.edge_type), types)
    back = load_on_disk(save_on_disk(later, tmp_path / "g"))
    np.testing.assert_array_equal(_arr(back.edge_type), types)


@pytest.mark.parametrize("key, value, match", [
    ("edge_type", np.zeros(3), r"`edge_type` with 4 rows, one per edge \(got shape \(3,\)\)"),
    ("edge_label_index", np.array([[0, 2], [2, 1]]),
     r"`edge_label_index` with 4 rows.*name without the `edge_` prefix"),
    ("edge_attr", np.ones((5, 2)), r"`edge_attr` with 4 rows"),
    ("x", np.ones((5, 2)), r"`x` with 4 rows for num_nodes=4 \(got 5\)"),
    ("y", np.zeros(6, np.int64), r"`y` with 4 rows"),
    ("train_mask", np.ones(3, bool), r"`train_mask` of length 4"),
    ("val_mask", np.ones(4), r"`val_mask` to be boolean"),
    ("batch", np.zeros(2, np.int64), r"`batch` of shape \(4,\)"),
])
def test_a_value_the_constructor_refuses_is_refused_when_set(key, value, match):
    g = Graph(edge_index=EI, num_nodes=4)
    with pytest.raises((ValueError, TypeError), match=match) as given:
        Graph(edge_index=EI, num_nodes=4, **{key: value})
    for assign in (lambda: setattr(g, key, value), lambda: g.__setitem__(key, value)):
        with pytest.raises(type(given.value), match=match):
            assign()
    assert key not in g  # nothing was stored


def test_node_fields_set_later_are_converted_as_the_constructor_does():
    g = Graph(edge_index=EI, num_nodes=4)
    g.x = np.ones((4, 3))  # float64 -> float32 Tensor, as Graph(x=...) makes it
    g["train_mask"] = np.array([True, False, True, False])
    assert isinstance(g.x, sg.Tensor) and g.x.dtype == np.float32
    assert isinstance(g.train_mask, sg.Tensor)
    assert Graph.batch([g, g]).x.shape == (8, 3)  # node rows, not one stacked per graph
    g.x = None
    assert "x" not in g


def test_batch_keeps_an_edge_array_written_past_the_checks():
    # an edge_* numpy array put into __dict__ directly (old pickles, hand-made graphs) is
    # concatenated like the Tensors, not dropped
    gs = [Graph(edge_index=EI, num_nodes=4) for _ in range(2)]
    for i, g in enumerate(gs):
        g.__dict__["edge_type"] = np.arange(4) + 10 * i
    b = Graph.batch(gs)
    np.testing.assert_array_equal(_arr(b.edge_type), [0, 1, 2, 3, 10, 11, 12, 13])
    assert b.to_undirected().edge_type.shape[0] == b.to_undirected().num_edges


def test_batch_refuses_an_attribute_only_a_later_graph_has():
    a, b = Graph(edge_index=EI, num_nodes=4), Graph(edge_index=EI, num_nodes=4)
    b.edge_type = np.arange(4)
    with pytest.raises(ValueError, match=r"`edge_type` on every graph or on none"):
        Graph.batch([a, b])
    del b.edge_type
    b.pos = sg.randn(4, 2)
    with pytest.raises(ValueError, match="`pos` on every graph or on none"):
        Graph.batch([a, b])


# ---- F5: del g.x, del g["y"] -----------------------------------------------------------------
def test_delete_attributes_as_pyg_data(tmp_path):
    g = Graph(edge_index=EI, x=sg.randn(4, 2), y=sg.tensor([0, 1, 0, 1]), num_nodes=4,
              name="g0", edge_attr=np.ones((4, 3)))
    del g.x
    del g["y"]
    del g["name"]
    del g.edge_attr
    assert g.x is None and g.y is None and g.edge_attr is None
    assert (g.num_features, g.num_node_features, g.num_edge_features) == (0, 0, 0)
    assert "x" not in g and "y" not in g and "name" not in g and not hasattr(g, "name")
    assert g.keys() == ["edge_index"]
    del g["name"]  # not set: no error, as in PyG
    back = load_on_disk(save_on_disk(g, tmp_path / "g"))
    assert back.x is None and back.y is None and back.num_edges == 4
    for key in ("edge_index", "edge_weight", "num_nodes", "adj", "subgraph"):
        with pytest.raises(TypeError, match=f"`{key}`|{key!r}"):
            delattr(g, key)
    with pytest.raises(TypeError, match="attribute name"):
        del g[0]


# ---- F3: *_index and face are node ids: shifted in Graph.batch, unshifted by unbatch ---------
def test_batch_shifts_index_and_face_attributes_by_the_node_offsets(tmp_path):
    g = Graph(edge_index=np.array([[0, 1, 2], [1, 2, 0]]), num_nodes=3,
              node_index=np.array([2, 0, 1]), label_index=np.array([[0, 2], [1, 0]]),
              face=np.array([[0], [1], [2]]), centre_index=sg.tensor(1))
    h = Graph(edge_index=np.array([[0], [1]]), num_nodes=2, node_index=np.array([1, 0]),
              label_index=np.array([[1], [0]]), face=np.array([[0, 1], [1, 0], [0, 1]]),
              centre_index=sg.tensor(0))
    b = Graph.batch([g, h])
    # PyG's Batch: + each graph's node offset, concatenated on the last axis
    np.testing.assert_array_equal(_arr(b.node_index), [2, 0, 1, 4, 3])
    np.testing.assert_array_equal(_arr(b.label_index), [[0, 2, 4], [1, 0, 3]])
    np.testing.assert_array_equal(_arr(b.face), [[0, 3, 4], [1, 4, 3], [2, 3, 4]])
    np.testing.assert_array_equal(_arr(b.centre_index), [1, 3])
    for batch in (b, load_on_disk(save_on_disk(b, tmp_path / "b"))):
        for orig, part in zip((g, h), batch.unbatch(), strict=True):
            for key in ("node_index", "label_index", "face"):
                np.testing.assert_array_equal(_arr(part[key]), _arr(orig[key]))
            assert _arr(part.centre_index).tolist() == [_arr(orig.centre_index).item()]


def test_batch_of_an_index_of_num_nodes_columns_is_not_taken_for_node_rows():
    # (2, k) with k == num_nodes looked like a node field before; PyG: [[0, 2], [1, 3]]
    h = Graph(edge_index=np.array([[0], [1]]), num_nodes=2, pair_index=np.array([[0], [1]]))
    np.testing.assert_array_equal(_arr(Graph.batch([h, h]).pair_index), [[0, 2], [1, 3]])


def test_a_graph_level_networkx_entry_named_like_a_mask_saves_and_loads(tmp_path):
    # it used to be set past the checks as graph_train_mask, which load_on_disk then read as
    # a node mask and refused
    import networkx as nx

    from sparsegraph.datasets import from_networkx

    G = nx.path_graph(4)
    G.graph["train_mask"] = [1, 0]
    g = from_networkx(G)
    back = load_on_disk(save_on_disk(g, tmp_path / "g"))
    assert _arr(back.graph_train_mask_value).tolist() == [1, 0] and back.train_mask is None


def test_edge_weight_assignment_sets_the_weights_as_pygs():
    # PyG's examples: data.edge_weight = 1. / degree(col, N)[col] (one per edge_index column)
    g = sg.Graph(edge_index=np.array([[2, 0, 1], [3, 1, 2]]), num_nodes=4, x=sg.ones(4, 2))
    ei = np.asarray(g.edge_index)
    w = (ei[0] + 10 * ei[1]).astype(np.float32)  # distinct per edge, in edge_index's order
    g.edge_weight = sg.tensor(w)
    np.testing.assert_array_equal(g.edge_weight.numpy(), w)
    np.testing.assert_array_equal(g.to_scipy().toarray()[ei[0], ei[1]], w)  # on its edges
    assert "edge_weight" in g.keys()
    g["edge_weight"] = w * 2  # numpy, through __setitem__ too
    np.testing.assert_array_equal(g.edge_weight.numpy(), w * 2)
    g.edge_weight = None  # unweighted again
    np.testing.assert_array_equal(g.edge_weight.numpy(), np.ones(3))
    assert "edge_weight" not in g.keys()
    with pytest.raises(ValueError, match=r"Graph: expected `edge_weight` of shape \(3,\), one "
                                         r"weight per edge in the order of `edge_index`"):
        g.edge_weight = sg.ones(2)
    with pytest.raises(ValueError, match=r"without NaN"):
        g.edge_weight = sg.tensor([1.0, float("nan"), 1.0])
    with pytest.raises(TypeError, match=r"'edge_index', which Graph reserves"):
        g.edge_index = np.array([[0], [1]])
