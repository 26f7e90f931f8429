"""Graph transforms, PyG's ``torch_geometric.transforms``: callables that take a `Graph` and
return a new one (`RandomLinkSplit`: three), for ``transform=`` / ``pre_transform=`` of the
datasets or to call directly.

    >>> import sparsegraph.transforms as T
    >>> g = T.Compose([T.NormalizeFeatures(), T.RandomNodeSplit(num_val=500, num_test=1000)])(g)
"""

from sparsegraph.transforms.base import BaseTransform, Compose, ToDevice
from sparsegraph.transforms.degree_features import SIGN, LocalDegreeProfile, TargetIndegree
from sparsegraph.transforms.diffusion import GDC
from sparsegraph.transforms.edge_ops import (
    AddRemainingSelfLoops,
    RemoveDuplicatedEdges,
    RemoveIsolatedNodes,
    ToSparseTensor,
    VirtualNode,
)
from sparsegraph.transforms.features import Constant, NormalizeFeatures, OneHotDegree
from sparsegraph.transforms.link_split import RandomLinkSplit
from sparsegraph.transforms.node_split import RandomNodeSplit
from sparsegraph.transforms.positional import AddLaplacianEigenvectorPE, AddRandomWalkPE
from sparsegraph.transforms.point_graphs import KNNGraph, RadiusGraph
from sparsegraph.transforms.structure import (
    AddSelfLoops,
    GCNNorm,
    LargestConnectedComponents,
    RemoveSelfLoops,
    ToUndirected,
)
from sparsegraph.transforms.to_dense import DenseGraph, ToDense

__all__ = [
    "AddSelfLoops", "BaseTransform", "Compose", "Constant", "DenseGraph", "GCNNorm",
    "LargestConnectedComponents", "NormalizeFeatures", "OneHotDegree", "RandomLinkSplit",
    "RandomNodeSplit", "RemoveSelfLoops", "ToDense", "ToDevice", "ToUndirected",
    "KNNGraph", "RadiusGraph",
    "AddLaplacianEigenvectorPE", "AddRandomWalkPE", "AddRemainingSelfLoops", "LocalDegreeProfile",
    "RemoveDuplicatedEdges", "RemoveIsolatedNodes", "SIGN", "TargetIndegree", "ToSparseTensor",
    "VirtualNode", "GDC",
]
