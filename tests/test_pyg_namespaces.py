"""PyG's ``torch_geometric.loader`` names: ``sparsegraph.loader`` holds every loader (the
graph-list ones live in sparsegraph.datasets, the samplers in sparsegraph.gnn), and
``DataLoader`` is GraphLoader, as PyG's examples import it."""

import numpy as np

import sparsegraph as sg
from sparsegraph import datasets, gnn, loader


def test_every_loader_is_importable_under_pygs_names():
    from sparsegraph.loader import (  # noqa: F401  (PyG's torch_geometric.loader imports)
        DataLoader,
        DenseDataLoader,
        GraphSAINTRandomWalkSampler,
        LinkNeighborLoader,
        NeighborLoader,
        RandomNodeLoader,
    )
    assert DataLoader is datasets.GraphLoader is datasets.DataLoader
    assert NeighborLoader is gnn.NeighborLoader and DenseDataLoader is datasets.DenseDataLoader
    assert set(loader.__all__) <= set(dir(loader))


def test_dataloader_batches_graphs_as_graph_loader():
    graphs = [sg.Graph(x=sg.ones(n, 2), edge_index=np.array([[0], [n - 1]]), num_nodes=n,
                       y=sg.tensor([i])) for i, n in enumerate((2, 3, 4))]
    batch = next(iter(loader.DataLoader(graphs, batch_size=3)))
    assert batch.num_graphs == 3 and batch.num_nodes == 9
    np.testing.assert_array_equal(batch.y.numpy(), [0, 1, 2])


def test_pygs_nn_models_namespace_holds_its_models():
    from sparsegraph.gnn.models import (  # torch_geometric.nn.models' names
        GAE,
        VGAE,
        CorrectAndSmooth,
        LabelPropagation,
        Node2Vec,
    )
    assert GAE is gnn.GAE and VGAE is gnn.VGAE and Node2Vec is gnn.Node2Vec
    assert CorrectAndSmooth is gnn.CorrectAndSmooth and LabelPropagation is gnn.LabelPropagation


def test_torch_backends_device_block_runs():
    # PyG's examples: `elif torch.backends.mps.is_available():` (evaluated, not guarded)
    device = "cuda" if sg.cuda.is_available() else (
        "mps" if sg.backends.mps.is_available() else "cpu")
    assert device in ("cuda", "cpu") and sg.backends.cudnn.deterministic is False


def test_datasets_have_pygs_processed_dir(data_root, tmp_path):
    ds = datasets.Planetoid(data_root, "Cora", cache_dir=tmp_path)
    assert ds.processed_dir == tmp_path  # where its parsed files are kept
