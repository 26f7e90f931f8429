"""Input contracts refused by name: x=None, a list of sampled blocks as the adjacency, float64
features into float32 weights, a Python list as x, and to_networkx's `to_undirected`."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.datasets import to_networkx
from sparsegraph.graph import Graph

EI = np.array([[0, 1, 2], [1, 2, 0]])


def features(n=3, f=3, dtype=np.float32):
    return sg.tensor(np.arange(n * f, dtype=dtype).reshape(n, f) / 10)


def adjacency():
    return Graph(x=features(), edge_index=EI).adj


# ---- 1: x=None (a Graph without node features) ------------------------------------------------
NONE_X = [
    ("GCNConv", lambda: gnn.GCNConv(3, 2)),
    ("SGConv", lambda: gnn.SGConv(3, 2, K=2)),
    ("APPNP", lambda: gnn.APPNP(K=2, alpha=0.1)),
    ("ChebConv", lambda: gnn.ChebConv(3, 2, K=2)),
    ("GATConv", lambda: gnn.GATConv(3, 2)),
    ("SAGEConv", lambda: gnn.SAGEConv(3, 2)),
    ("GINConv", lambda: gnn.GINConv(lambda h: h)),
    ("GraphConv", lambda: gnn.GraphConv(3, 2)),
]


@pytest.mark.parametrize("name, make", NONE_X)
def test_x_none_is_refused_naming_the_layer_and_x(name, make):
    with pytest.raises(TypeError, match=rf"^{name}: expected `x` as a Tensor of node features "
                                        r"\(got None\)$"):
        make()(None, EI)


def test_graph_without_features_gives_the_same_error():
    g = Graph(edge_index=EI, num_nodes=3)
    assert g.x is None
    with pytest.raises(TypeError, match=r"^GCNConv: expected `x` .*\(got None\)$"):
        gnn.GCNConv(3, 2)(g.x, g)


# ---- 2: a list of SparseTensors (NeighborLoader's blocks) as `adj` -----------------------------
@pytest.mark.parametrize("name, call", [
    ("GCNConv", lambda x, a: gnn.GCNConv(3, 2)(x, a)),
    ("ChebConv", lambda x, a: gnn.ChebConv(3, 2, K=2)(x, a)),
    ("SAGEConv", lambda x, a: gnn.SAGEConv(3, 2)(x, a)),
    ("GATConv", lambda x, a: gnn.GATConv(3, 2)(x, a)),
])
@pytest.mark.parametrize("container", [list, tuple])
def test_list_of_sparse_tensors_as_adj_is_refused(name, call, container):
    A = adjacency()
    with pytest.raises(TypeError, match=rf"^{name}: expected `adj` / `edge_index` as one "
                                        r"SparseTensor or a \(2, E\) edge_index \(got a "
                                        rf"{container.__name__} of 2 SparseTensors; sampled "
                                        r"blocks go to a model that takes them, as "
                                        r"models.GraphSAGE\)$"):
        call(features(), container([A, A]))


def test_plain_list_edge_index_still_accepted():
    out = gnn.GCNConv(3, 2)(features(), EI.tolist())
    assert out.shape == (3, 2)


# ---- 3: float64 x into float32 weights ---------------------------------------------------------
@pytest.mark.parametrize("name, make", [
    ("GCNConv", lambda: gnn.GCNConv(3, 2)),
    ("SGConv", lambda: gnn.SGConv(3, 2)),
    ("ChebConv", lambda: gnn.ChebConv(3, 2, K=2)),
])
def test_float64_x_into_float32_layer_is_refused(name, make):
    with pytest.raises(TypeError, match=rf"^{name}: expected `x` of dtype float32 like the "
                                        r"layer's weights \(got float64\); convert with "
                                        r"x\.float\(\) or the layer with \.double\(\)$"):
        make()(features(dtype=np.float64), EI)


@pytest.mark.parametrize("make", [lambda: gnn.GCNConv(3, 2), lambda: gnn.SGConv(3, 2),
                                  lambda: gnn.ChebConv(3, 2, K=2)])
def test_matching_dtypes_still_work(make):
    assert make()(features(), EI).shape == (3, 2)
    assert make().double()(features(dtype=np.float64), EI).shape == (3, 2)


# ---- 4: a Python list as x -------------------------------------------------------------------
ROWS = [[0.1, 0.2, 0.3]] * 4  # 4 nodes' features as nested lists


@pytest.mark.parametrize("name, make", [
    ("GATConv", lambda: gnn.GATConv(3, 2)),
    ("SAGEConv", lambda: gnn.SAGEConv(3, 2)),
    ("GINConv", lambda: gnn.GINConv(lambda h: h)),
    ("GraphConv", lambda: gnn.GraphConv(3, 2)),
])
@pytest.mark.parametrize("x", [ROWS, ROWS[:2]])  # 2 rows: no pair of tensors either
def test_python_list_as_x_is_refused_naming_the_layer(name, make, x):
    with pytest.raises(TypeError, match=rf"^{name}: expected `x` as a Tensor or a pair "
                                        r"\(x_src, x_dst\) of Tensors \(got a list of "
                                        rf"{len(x)} items\); wrap an array with "
                                        r"sparsegraph\.tensor\(\)$"):
        make()(x, EI)


def test_three_tensors_as_x_are_refused_naming_the_layer():
    x = features()
    with pytest.raises(TypeError, match=r"^SAGEConv: expected `x` as a Tensor or a pair "
                                        r"\(x_src, x_dst\) \(got a list of 3 tensors\)$"):
        gnn.SAGEConv(3, 2)([x, x, x], EI)


def test_pair_of_tensors_still_accepted():
    x = features()
    assert gnn.SAGEConv(3, 2)([x, x], EI).shape == (3, 2)
    assert gnn.GraphConv(3, 2)((x, x), EI).shape == (3, 2)


# ---- 5: to_networkx(to_undirected=...) and to_networkx(None) -----------------------------------
def _weighted_graph():
    # edges 0->1, 1->0, 1->2, 2->1 (asymmetric weights), a self loop at 2, one-way 0->2
    ei = np.array([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 2, 2]])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=np.float32)
    return Graph(edge_index=ei, edge_weight=sg.tensor(w), num_nodes=3)


@pytest.mark.parametrize("which, kept", [
    ("upper", {(0, 1): 1.0, (1, 2): 3.0, (2, 2): 5.0, (0, 2): 6.0}),
    ("lower", {(0, 1): 2.0, (1, 2): 4.0, (2, 2): 5.0}),
])
def test_to_undirected_upper_lower_keep_that_triangle(which, kept):
    G = to_networkx(_weighted_graph(), edge_attrs=["edge_weight"], to_undirected=which)
    assert not G.is_directed()
    got = {tuple(sorted((u, v))): d["weight"] for u, v, d in G.edges(data=True)}
    assert got == kept


def test_to_undirected_true_still_merges_both_directions():
    G = to_networkx(_weighted_graph(), to_undirected=True)
    assert not G.is_directed() and G.number_of_edges() == 4


@pytest.mark.parametrize("bad", ["yes", 1, "UPPER", [True]])
def test_to_undirected_other_values_are_refused(bad):
    with pytest.raises(ValueError, match=r"^to_networkx: expected `to_undirected` as True, "
                                         r"False, 'upper' or 'lower' \(got "):
        to_networkx(_weighted_graph(), to_undirected=bad)


def test_to_networkx_none_is_refused_naming_graph():
    with pytest.raises(TypeError, match=r"^to_networkx: expected `graph` as a Graph "
                                        r"\(got NoneType\)$"):
        to_networkx(None)


@pytest.mark.parametrize("make", [lambda: gnn.GATConv(4, 2), lambda: gnn.SAGEConv(4, 2),
                                  lambda: gnn.GraphConv(4, 2)])
def test_float64_x_into_float32_layers_with_pairs_is_refused(make):
    layer = make()
    with pytest.raises(TypeError, match=rf"^{type(layer).__name__}: expected `x` of dtype "
                                        r"float32 like the layer's weights \(got float64\)"):
        layer(sg.randn(3, 4).double(), np.array([[0, 1], [1, 2]]))


def test_a_propagate_keyword_list_of_three_tensors_is_refused_by_name():
    from sparsegraph.gnn import MessagePassing

    class Custom(MessagePassing):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x, h=[x, x, x])

        def message(self, x_j, h_j):
            return x_j

    x = sg.randn(3, 4)
    with pytest.raises(TypeError, match=r"^Custom: expected `h` as a Tensor or a pair "
                                        r"\(source, target\) \(got a list of 3 tensors\)"):
        Custom()(x, np.array([[0, 1], [1, 2]]))
