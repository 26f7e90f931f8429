"""Mini-batching as PyG users expect it (loader audit): a GIN readout keeps graphs without
nodes, neighbour sampling of a graph with a graph-level label, TUDataset.x / .y, and the
trainers exported from sparsegraph.gnn."""

import numpy as np

import sparsegraph as sg
from sparsegraph import Graph
from sparsegraph.datasets import TUDataset
from sparsegraph.gnn import NeighborLoader, models


def _with_an_empty_graph_last():
    g = Graph(x=np.ones((3, 2), np.float32), edge_index=np.array([[0, 1, 2], [1, 2, 0]]),
              y=np.array([1]))
    empty = Graph(x=np.zeros((0, 2), np.float32), edge_index=np.zeros((2, 0), np.int64),
                  y=np.array([0]))
    return Graph.batch([g, empty])


def test_gin_keeps_a_row_for_a_graph_without_nodes_given_num_graphs():
    b = _with_an_empty_graph_last()
    model = models.GIN(2, 8, 2, 2)
    assert model(b.x, b.adj, b.batch).shape == (1, 2)  # batch.max() + 1 cannot count it
    out = model(b.x, b.adj, b.batch, b.num_graphs)
    assert out.shape == (2, 2)
    # the empty graph's row is the readouts' biases alone (sums over no nodes are 0)
    bias = sum(head.bias.detach().numpy() for head in model.heads)
    np.testing.assert_allclose(out.detach().numpy()[1], bias, rtol=1e-6)


def test_train_graph_classifier_passes_num_graphs_to_a_model_taking_it():
    from sparsegraph.gnn import train_graph_classifier

    seen = []

    class Spy(models.GIN):
        def forward(self, x, adj, batch=None, num_graphs=None):
            seen.append(num_graphs)
            return super().forward(x, adj, batch, num_graphs)

    g = Graph(x=np.ones((3, 2), np.float32), edge_index=np.array([[0, 1, 2], [1, 2, 0]]),
              y=np.array([1]))
    graphs = [g, g, g, g]
    train_graph_classifier(lambda: Spy(2, 4, 1, 2), graphs, [(np.arange(2), np.arange(2, 4))],
                           epochs=1, batch_size=2)
    assert seen and all(n == 2 for n in seen)


def test_neighbor_loader_leaves_a_graph_level_label_out(data_root):
    g = TUDataset("MUTAG", root=data_root, download=False)[0]
    batch = next(iter(NeighborLoader(g, [2], 4)))
    assert batch.y is None and batch.x.shape[1] == g.x.shape[1]
    node_labelled = Graph(x=g.x, edge_index=g.edge_index, y=np.arange(g.num_nodes))
    batch = next(iter(NeighborLoader(node_labelled, [2], 4)))
    assert batch.y.tolist() == batch.n_id[:4].tolist()


def test_tu_dataset_y_and_x_follow_its_graphs(data_root):
    ds = TUDataset("MUTAG", root=data_root, download=False)
    assert ds.y.shape == (len(ds),) and ds.x.shape == (sum(g.num_nodes for g in ds), 7)
    subset = ds[[3, 1]]
    assert subset.y.tolist() == [int(ds[3].y.item()), int(ds[1].y.item())]
    np.testing.assert_array_equal(subset.x.numpy(), np.concatenate([ds[3].x.numpy(),
                                                                    ds[1].x.numpy()]))


def test_trainers_are_exported_from_gnn():
    import sparsegraph.gnn as gnn
    from sparsegraph.gnn.train import train_graph_classifier, train_node_classifier

    assert gnn.train_graph_classifier is train_graph_classifier
    assert gnn.train_node_classifier is train_node_classifier
    assert {"train_graph_classifier", "train_node_classifier"} <= set(gnn.__all__)
    assert sg.gnn is gnn
