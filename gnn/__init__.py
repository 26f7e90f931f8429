"""Graph neural networks: message passing, convolution layers, pooling, models, training,
neighbour sampling for mini-batches, negative edges for link prediction."""

if __name__ != "sparsegraph.gnn":
    raise ImportError(f"import this package as sparsegraph.gnn (it was imported as {__name__!r})")

from sparsegraph.gnn.aggr import (  # noqa: E402
    Aggregation, MaxAggregation, MeanAggregation, MinAggregation, MultiAggregation,
    StdAggregation, SumAggregation, VarAggregation,
)
from sparsegraph.gnn.message_aggr import MulAggregation  # noqa: E402
from sparsegraph.gnn.aggr_learned import (  # noqa: E402
    AttentionalAggregation, GlobalAttention, PowerMeanAggregation, Set2Set, SoftmaxAggregation,
)
from sparsegraph.gnn.aggr_sort import SortAggregation, global_sort_pool  # noqa: E402
from sparsegraph.gnn.appnp import APPNP  # noqa: E402
from sparsegraph.gnn.autoencoder import ARGA, ARGVA, GAE, VGAE, InnerProductDecoder  # noqa: E402
from sparsegraph.gnn.cheb import ChebConv  # noqa: E402
from sparsegraph.gnn.edge_conv import DynamicEdgeConv, EdgeConv  # noqa: E402
from sparsegraph.gnn.point_graphs import knn, knn_graph, radius, radius_graph  # noqa: E402
from sparsegraph.gnn.dense_conv import (  # noqa: E402
    DenseGCNConv, DenseGINConv, DenseGraphConv, DenseSAGEConv,
)
from sparsegraph.gnn.dense_pool import dense_diff_pool, dense_mincut_pool  # noqa: E402
from sparsegraph.gnn.gat import GATConv  # noqa: E402
from sparsegraph.gnn.gatv2 import GATv2Conv  # noqa: E402
from sparsegraph.gnn.gcn import GCNConv, SGConv  # noqa: E402
from sparsegraph.gnn.gin import GINConv, GraphConv  # noqa: E402
from sparsegraph.gnn.gine import GINEConv  # noqa: E402
from sparsegraph.gnn.nn_conv import CGConv, ECConv, NNConv  # noqa: E402
from sparsegraph.gnn.gen_conv import GENConv, MessageNorm  # noqa: E402
from sparsegraph.gnn.simple_convs import LEConv, SimpleConv  # noqa: E402
from sparsegraph.gnn.tag import TAGConv  # noqa: E402
from sparsegraph.gnn.res_gated import ResGatedGraphConv  # noqa: E402
from sparsegraph.gnn.gated_graph import GatedGraphConv  # noqa: E402
from sparsegraph.gnn.gcn2 import GCN2Conv  # noqa: E402
from sparsegraph.gnn.arma import ARMAConv  # noqa: E402
from sparsegraph.gnn.mixhop import ClusterGCNConv, MixHopConv  # noqa: E402
from sparsegraph.gnn.film import FiLMConv  # noqa: E402
from sparsegraph.gnn.rgcn import RGCNConv  # noqa: E402
from sparsegraph.gnn.inputs import as_adjacency  # noqa: E402
from sparsegraph.gnn.jumping_knowledge import JumpingKnowledge  # noqa: E402
from sparsegraph.gnn.link import negative_sampling  # noqa: E402
from sparsegraph.gnn.graph_predicates import (  # noqa: E402
    contains_isolated_nodes, contains_self_loops, is_undirected,
)
from sparsegraph.gnn.edge_index_utils import (  # noqa: E402
    add_remaining_self_loops, bipartite_subgraph, get_laplacian, remove_isolated_nodes,
    sort_edge_index, subgraph,
)
from sparsegraph.gnn.edge_conversion import (  # noqa: E402
    from_scipy_sparse_matrix, to_edge_index, to_scipy_sparse_matrix, unbatch,
    unbatch_edge_index,
)
from sparsegraph.gnn.edge_random import (  # noqa: E402
    add_random_edge, batched_negative_sampling, dropout_node, structured_negative_sampling,
    structured_negative_sampling_feasible,
)
from sparsegraph.gnn.graph_generators import (  # noqa: E402
    barabasi_albert_graph, erdos_renyi_graph, grid, stochastic_blockmodel_graph,
)
from sparsegraph.gnn.message_passing import MessagePassing  # noqa: E402
from sparsegraph.gnn.node2vec import Node2Vec  # noqa: E402
from sparsegraph.gnn.norm import (  # noqa: E402
    BatchNorm, GraphNorm, InstanceNorm, LayerNorm, MeanSubtractionNorm, PairNorm,
)
from sparsegraph.gnn.pyg_edge_forms import (  # noqa: E402
    add_self_loops, coalesce, remove_self_loops, to_undirected,
)
from sparsegraph.gnn.pyg_scatter import degree, one_hot, scatter, softmax  # noqa: E402
from sparsegraph.gnn.pyg_utils import (  # noqa: E402
    dense_to_sparse, dropout_edge, homophily, index_to_mask, k_hop_subgraph, mask_to_index,
    to_dense_adj, to_dense_batch,
)
from sparsegraph.gnn.pool import global_add_pool, global_max_pool, global_mean_pool  # noqa: E402
from sparsegraph.gnn.sage import SAGEConv  # noqa: E402
from sparsegraph.gnn.topk_pool import SAGPooling, TopKPooling  # noqa: E402
from sparsegraph.gnn.sampling import NeighborLoader, NeighborSampler, SampledBlocks  # noqa: E402
from sparsegraph.gnn.graph_saint import (  # noqa: E402
    GraphSAINTEdgeSampler, GraphSAINTNodeSampler, GraphSAINTRandomWalkSampler, GraphSAINTSampler,
    RandomNodeLoader,
)
from sparsegraph.gnn.link_loader import (  # noqa: E402
    LinkNeighborLoader, LinkSampledBlocks, NegativeSampling,
)
from sparsegraph.gnn.sequential import Sequential  # noqa: E402
from sparsegraph.gnn.transformer_conv import TransformerConv  # noqa: E402
from sparsegraph.gnn.pna import DegreeScalerAggregation, PNAConv  # noqa: E402
from sparsegraph.gnn.label_prop import CorrectAndSmooth, LabelPropagation  # noqa: E402
from sparsegraph.gnn import models  # noqa: E402
# PyG exports its BasicGNN models beside the layers (torch_geometric.nn.GCN, ...)
from sparsegraph.gnn.models import GAT, GCN, MLP, GraphSAGE  # noqa: E402
from sparsegraph.gnn.minibatch import train_minibatch  # noqa: E402
from sparsegraph.gnn.train import train_graph_classifier, train_node_classifier  # noqa: E402

__all__ = [
    # PyG's torch_geometric.nn.aggr readouts (and the older GlobalAttention / global_sort_pool)
    "Aggregation", "AttentionalAggregation", "GlobalAttention", "MaxAggregation",
    "MeanAggregation", "MinAggregation", "MulAggregation", "MultiAggregation",
    "PowerMeanAggregation", "Set2Set",
    "SoftmaxAggregation", "SortAggregation", "StdAggregation", "SumAggregation",
    "VarAggregation", "global_sort_pool",
    "ARGA", "ARGVA", "GAE", "VGAE", "InnerProductDecoder",  # graph autoencoders
    "APPNP", "GAT", "GCN", "GraphSAGE", "MLP", "ChebConv", "GATConv", "GATv2Conv", "GCNConv",
    "GINConv", "TransformerConv",
    "GINEConv", "TAGConv", "ResGatedGraphConv", "GatedGraphConv", "GCN2Conv",
    "ARMAConv", "ClusterGCNConv", "FiLMConv", "MixHopConv", "RGCNConv",
    "CGConv", "ECConv", "GENConv", "LEConv", "MessageNorm", "NNConv", "SimpleConv",
    "GraphConv", "JumpingKnowledge",
    "DenseGCNConv", "DenseGINConv", "DenseGraphConv", "DenseSAGEConv", "dense_diff_pool",
    "dense_mincut_pool",
    "LinkNeighborLoader", "LinkSampledBlocks", "NegativeSampling",
    # GraphSAINT and PyG's RandomNodeLoader: induced subgraphs for full-graph models
    "GraphSAINTEdgeSampler", "GraphSAINTNodeSampler", "GraphSAINTRandomWalkSampler",
    "GraphSAINTSampler", "RandomNodeLoader",
    "MessagePassing", "NeighborLoader", "NeighborSampler", "SAGEConv", "SAGPooling", "SGConv",
    "SampledBlocks", "Sequential", "TopKPooling", "as_adjacency",
    "Node2Vec",  # shallow embeddings from random walks
    "dense_to_sparse", "dropout_edge", "global_add_pool", "global_max_pool", "global_mean_pool",
    "homophily", "index_to_mask", "k_hop_subgraph", "mask_to_index", "models",
    "negative_sampling", "to_dense_adj", "to_dense_batch", "train_graph_classifier",
    "train_minibatch", "train_node_classifier",
    # PyG's torch_geometric.utils in functional form (edge_index, edge_attr, num_nodes)
    "add_random_edge", "add_remaining_self_loops", "barabasi_albert_graph",
    "batched_negative_sampling", "bipartite_subgraph", "contains_isolated_nodes",
    "contains_self_loops", "dropout_node", "erdos_renyi_graph", "from_scipy_sparse_matrix",
    "get_laplacian", "grid", "is_undirected", "remove_isolated_nodes", "sort_edge_index",
    "stochastic_blockmodel_graph", "structured_negative_sampling",
    "structured_negative_sampling_feasible", "subgraph", "to_edge_index",
    "to_scipy_sparse_matrix", "unbatch", "unbatch_edge_index",
    "add_self_loops", "coalesce", "degree", "one_hot", "remove_self_loops", "scatter",
    "softmax", "to_undirected",
    # point clouds: PyG's EdgeConv family and torch_cluster's graph construction
    "DynamicEdgeConv", "EdgeConv", "knn", "knn_graph", "radius", "radius_graph",
    "DegreeScalerAggregation", "PNAConv",  # PNA (torch_geometric.nn.aggr / conv)
    "CorrectAndSmooth", "LabelPropagation",  # torch_geometric.nn.models
    # PyG's torch_geometric.nn.norm
    "BatchNorm", "GraphNorm", "InstanceNorm", "LayerNorm", "MeanSubtractionNorm", "PairNorm",
]
