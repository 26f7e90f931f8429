"""Graph neural networks: message passing, convolution layers, pooling, models, training,
neighbour sampling for mini-batches, negative edges for link prediction."""

if __name__ != "sparsegraph.gnn":
    raise ImportError(f"import this package as sparsegraph.gnn (it was imported as {__name__!r})")

from sparsegraph.gnn.appnp import APPNP  # noqa: E402
from sparsegraph.gnn.cheb import ChebConv  # noqa: E402
from sparsegraph.gnn.gat import GATConv  # noqa: E402
from sparsegraph.gnn.gcn import GCNConv, SGConv  # noqa: E402
from sparsegraph.gnn.gin import GINConv, GraphConv  # noqa: E402
from sparsegraph.gnn.inputs import as_adjacency  # noqa: E402
from sparsegraph.gnn.jumping_knowledge import JumpingKnowledge  # noqa: E402
from sparsegraph.gnn.link import negative_sampling  # noqa: E402
from sparsegraph.gnn.message_passing import MessagePassing  # noqa: E402
from sparsegraph.gnn.pyg_utils import (  # noqa: E402
    dense_to_sparse, dropout_edge, homophily, index_to_mask, k_hop_subgraph, mask_to_index,
    to_dense_adj, to_dense_batch,
)
from sparsegraph.gnn.pool import global_add_pool, global_max_pool, global_mean_pool  # noqa: E402
from sparsegraph.gnn.sage import SAGEConv  # noqa: E402
from sparsegraph.gnn.sampling import NeighborLoader, NeighborSampler, SampledBlocks  # noqa: E402
from sparsegraph.gnn.sequential import Sequential  # noqa: E402
from sparsegraph.gnn import models  # noqa: E402
from sparsegraph.gnn.minibatch import train_minibatch  # noqa: E402
from sparsegraph.gnn.train import train_graph_classifier, train_node_classifier  # noqa: E402

__all__ = [
    "APPNP", "ChebConv", "GATConv", "GCNConv", "GINConv", "GraphConv", "JumpingKnowledge",
    "MessagePassing", "NeighborLoader", "NeighborSampler", "SAGEConv", "SGConv", "SampledBlocks",
    "Sequential", "as_adjacency",
    "dense_to_sparse", "dropout_edge", "global_add_pool", "global_max_pool", "global_mean_pool",
    "homophily", "index_to_mask", "k_hop_subgraph", "mask_to_index", "models",
    "negative_sampling", "to_dense_adj", "to_dense_batch", "train_graph_classifier",
    "train_minibatch", "train_node_classifier",
]
