"""Static-graph audit: Graph.subgraph's node ids are guarded (a new id Tensor traced again; the
first call's edges were replayed), and copy.deepcopy of a tensor inside a compiled function
is refused (it was frozen at the traced values)."""

import copy

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import static
from sparsegraph.static import CaptureError


def test_subgraph_with_new_node_ids_matches_eager():
    rs = np.random.RandomState(0)
    n = 12
    g = sg.Graph(x=rs.randn(n, 3).astype(np.float32), num_nodes=n,
                 edge_index=np.stack([rs.randint(0, n, 40), rs.randint(0, n, 40)]))

    def fn(nodes):
        sub = g.subgraph(nodes)
        return sub.adj @ sub.x

    compiled = static.compile(fn)
    for ids in ([0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11], [0, 2, 4, 6, 8, 10]):
        nodes = sg.tensor(np.array(ids))
        np.testing.assert_array_equal(compiled(nodes).numpy(), fn(nodes).numpy())


def test_subgraph_of_ids_computed_inside_a_compiled_step_is_refused():
    g = sg.Graph(x=np.ones((4, 2), np.float32), edge_index=np.array([[0, 1, 2], [1, 2, 3]]))
    compiled = static.compile(lambda nodes: g.subgraph(nodes + 0).x.sum())
    with pytest.raises(CaptureError, match=r"Graph.subgraph: the node ids `nodes`"):
        compiled(sg.tensor(np.array([0, 1])))


def test_deepcopy_inside_a_compiled_function_is_refused():
    compiled = static.compile(lambda x: copy.deepcopy(x) * 2)
    with pytest.raises(CaptureError, match=r"copy.deepcopy of a tensor cannot be captured"):
        compiled(sg.tensor(np.ones(3, np.float32)))
    assert (copy.deepcopy(sg.ones(3)) * 2).tolist() == [2.0] * 3  # eager is unchanged


@pytest.mark.parametrize("call", [
    lambda x: sg.bucketize(x, sg.tensor(np.array([1.0, 2.0]))) * 1,
    lambda x: sg.searchsorted(x, sg.tensor(np.array([1.5]))) * 1,
    lambda x: sg.isclose(x, x * 1).float(),
    lambda x: sg.unique(x) * 1,
])
def test_value_computations_outside_the_ops_are_refused_in_a_compiled_step(call):
    """searchsorted / bucketize / isclose / unique compute on the arrays: a static graph
    would freeze the first call's answer."""
    with pytest.raises(CaptureError, match=r"reads the value of a traced tensor"):
        static.compile(call)(sg.tensor(np.array([0.5, 2.5])))


def test_graph_batch_of_traced_features_matches_eager():
    ei = np.array([[0, 1, 2], [1, 2, 0]])

    def fn(x):
        return sg.Graph.batch([sg.Graph(x=x, edge_index=ei, num_nodes=3)] * 2).x.sum(0)

    compiled = static.compile(fn)
    for v in (1.0, 2.0, -3.0):
        x = sg.full((3, 2), v)
        np.testing.assert_array_equal(compiled(x).numpy(), fn(x).numpy())


def test_graph_of_edge_weights_computed_in_the_step_names_the_graph_check():
    w = sg.nn.Parameter(sg.ones(3))
    compiled = static.compile(lambda x: sg.Graph(edge_index=np.array([[0, 1, 2], [1, 2, 0]]),
                                                 edge_weight=w * 1, num_nodes=3).adj @ x)
    with pytest.raises(CaptureError, match=r"Graph: the NaN check of `edge_weight`.*sg.ops "
                                           r"functions"):
        compiled(sg.ones(3, 2))
