"""Real datasets (Planetoid, TU, npz graphs), the karate club, synthetic graphs, networkx I/O,
memory-mapped graphs on disk."""

if __name__ != "sparsegraph.datasets":
    raise ImportError(
        f"import this package as sparsegraph.datasets (it was imported as {__name__!r})")

from sparsegraph.datasets import synthetic  # noqa: E402
from sparsegraph.datasets.karate import KarateClub  # noqa: E402
from sparsegraph.datasets.networkx_io import from_networkx, to_networkx  # noqa: E402
from sparsegraph.datasets.npz import NpzGraph  # noqa: E402
from sparsegraph.datasets.ondisk import load_on_disk, save_on_disk  # noqa: E402
from sparsegraph.datasets.planetoid import Planetoid  # noqa: E402
from sparsegraph.datasets.registry import load_for_training  # noqa: E402
from sparsegraph.datasets.root import DatasetUnavailable, cache_dir, data_root  # noqa: E402
from sparsegraph.datasets.graph_loader import GraphLoader  # noqa: E402

DataLoader = GraphLoader  # PyG's name (torch_geometric.loader.DataLoader)
from sparsegraph.datasets.dense_loader import DenseDataLoader  # noqa: E402
from sparsegraph.datasets.in_memory import InMemoryDataset, download_url  # noqa: E402
from sparsegraph.datasets.tu import TUDataset, stratified_kfold  # noqa: E402

__all__ = ["DataLoader", "DatasetUnavailable", "DenseDataLoader", "GraphLoader", "InMemoryDataset",
           "KarateClub", "NpzGraph", "Planetoid", "TUDataset", "from_networkx", "to_networkx",
           "cache_dir", "data_root", "download_url", "load_for_training", "load_on_disk",
           "save_on_disk", "stratified_kfold", "synthetic"]
