"""PyG's ``torch_geometric.loader`` in one place: every loader under PyG's name.

sparsegraph keeps the loaders beside what they load - the graph-list loaders with the datasets
(`sparsegraph.datasets`), the samplers with the layers (`sparsegraph.gnn`) - and those two
packages never import each other; this module sits above both so that PyG's
``from torch_geometric.loader import DataLoader, NeighborLoader`` ports as
``from sparsegraph.loader import DataLoader, NeighborLoader``.
"""

from __future__ import annotations

from sparsegraph.datasets import DenseDataLoader, GraphLoader
from sparsegraph.gnn import (
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    GraphSAINTSampler,
    LinkNeighborLoader,
    NeighborLoader,
    NeighborSampler,
    RandomNodeLoader,
)

DataLoader = GraphLoader  # PyG's name for the loader that batches a list of graphs

__all__ = ["DataLoader", "DenseDataLoader", "GraphLoader", "GraphSAINTEdgeSampler",
           "GraphSAINTNodeSampler", "GraphSAINTRandomWalkSampler", "GraphSAINTSampler",
           "LinkNeighborLoader", "NeighborLoader", "NeighborSampler", "RandomNodeLoader"]
