"""Structure transforms: `ToUndirected`, `AddSelfLoops`, `RemoveSelfLoops`, `GCNNorm`,
`LargestConnectedComponents` (PyG's), on Graph's own methods.

Every per-edge field (the weights, ``edge_attr``, each ``edge_<name>``) follows the edges
through these, where PyG updates the attributes it is told about and leaves the others stale.
There is no ``ToSparseTensor``: a Graph always holds its adjacency as a target-major CSR
SparseTensor, ``g.adj``, which is PyG's ``adj_t``.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.sparse import csgraph

from sparsegraph import backend
from sparsegraph.graph import Graph
from sparsegraph.ops import gather_rows, segment
from sparsegraph.ops.graph_norm import inv_degree
from sparsegraph.tensor import Tensor, wrap
from sparsegraph.transforms.base import BaseTransform, check_bool, check_int, check_str

REDUCES = ("add", "sum", "mean", "min", "max")


class ToUndirected(BaseTransform):
    """Every edge in both directions (PyG's ``ToUndirected``), by `Graph.to_undirected`: an
    edge stored both ways (and a self loop) is merged, its weight and per-edge fields by
    ``reduce``. A graph without weights stays unweighted, as in PyG.

    Args:
        reduce: ``"add"`` (PyG's default; ``"sum"``), ``"mean"``, ``"min"`` or ``"max"``.
        merge: PyG's switch for heterogeneous graphs; a Graph has one node and edge type, so
            it changes nothing. (default: True)
    """

    def __init__(self, reduce: str = "add", merge: bool = True):
        self.reduce = check_str("ToUndirected", "reduce", reduce, REDUCES)
        self.merge = check_bool("ToUndirected", "merge", merge)

    def forward(self, data):
        return data.to_undirected(reduce="sum" if self.reduce == "add" else self.reduce)


def _check_fill(op: str, fill_value):
    if isinstance(fill_value, str):
        return check_str(op, "fill_value", fill_value, REDUCES)
    if fill_value is None or isinstance(fill_value, Tensor):
        return fill_value
    if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Number):
        raise TypeError(f"{op}: expected `fill_value` to be None, a number, a Tensor or one "
                        f"of {REDUCES} (got {type(fill_value).__name__} {fill_value!r})")
    return fill_value


class AddSelfLoops(BaseTransform):
    """One self loop per node (`Graph.add_self_loops`: PyG's ``add_remaining_self_loops``).

    PyG's transform appends a loop to every node, so a node that had one gets a second;
    here a node keeps its one loop (and its weight), which is what message passing expects.
    The attribute ``attr`` gets ``fill_value`` on the new loops, as in PyG; every other
    per-edge field, which PyG would leave one row short, gets 1 (an unweighted graph stays
    unweighted unless ``attr`` is its weights and it has real ones).

    Args:
        attr: ``"edge_weight"`` or a per-edge field (``"edge_attr"``, ``"edge_<name>"``).
            An attribute the graph does not have is not created, as in PyG.
        fill_value: None (1), a number, a Tensor (``(N, ...)`` per node, or one row for
            all) or ``"add"`` / ``"mean"`` / ``"min"`` / ``"max"``: that reduce of the node's
            incoming edges' values.
    """

    def __init__(self, attr: str = "edge_weight", fill_value=None):
        op = type(self).__name__  # AddRemainingSelfLoops too
        if not isinstance(attr, str) or not attr.startswith("edge_") or attr == "edge_index":
            raise ValueError(f"{op}: expected `attr` to be 'edge_weight' or a per-edge field "
                             f"'edge_<name>' (got {attr!r})")
        self.attr = attr
        self.fill_value = _check_fill(op, fill_value)

    def forward(self, data):
        out = data.add_self_loops(1.0)  # the loops, every field 1 on the new ones
        fill, attr = self.fill_value, self.attr
        if attr not in data or fill is None or (not isinstance(fill, Tensor | str)
                                                and fill == 1):
            return out
        # `attr` alone on the same structure (the same loops, in the same order), filled: the
        # other fields keep their 1s (an integer edge_type cannot take a fill of 2.5)
        adj, n = data.adj, data.num_nodes
        if attr == "edge_weight":
            out.adj = out.adj.with_values(Graph(adj=adj, num_nodes=n).add_self_loops(
                fill).adj.values)
            return out
        ones = wrap(np.ones(adj.nnz, backend.DEFAULT_FLOAT))
        ones = ones if adj.device == "cpu" else ones.to(adj.device)
        bare = Graph(adj=adj.with_values(ones), num_nodes=n, **{attr: getattr(data, attr)})
        setattr(out, attr, getattr(bare.add_self_loops(fill), attr))
        return out


class RemoveSelfLoops(BaseTransform):
    """Drop every self loop (PyG's ``RemoveSelfLoops``), with its weight and per-edge fields.

    Args:
        attr: PyG's name of the edge attribute to filter; here every per-edge field is
            filtered with the edges, so it only has to name one. (default: "edge_weight")
    """

    def __init__(self, attr: str = "edge_weight"):
        if not isinstance(attr, str):
            raise TypeError(f"RemoveSelfLoops: expected `attr` to be a str (got {attr!r})")
        self.attr = attr

    def forward(self, data):
        return data.remove_self_loops()


class GCNNorm(BaseTransform):
    """The GCN normalisation of Kipf & Welling (ICLR 2017) as edge weights (PyG's
    ``GCNNorm``): ``D^-1/2 (A + I) D^-1/2``, ``D`` the weighted in-degree of ``A + I``.
    The loops are `Graph.add_self_loops`'s (a node's own loop keeps its weight; per-edge
    fields get 1 there). A node of degree 0 gets 0, not inf. Differentiable w.r.t. the
    weights.

    Args:
        add_self_loops: add the loops first. (default: True)
    """

    def __init__(self, add_self_loops: bool = True):
        self.add_self_loops = check_bool("GCNNorm", "add_self_loops", add_self_loops)

    def forward(self, data):
        out = data.add_self_loops(1.0) if self.add_self_loops else data
        s, w = out.adj.structure, out.adj.values
        if w.dtype.kind != "f":
            raise TypeError(f"GCNNorm: expected floating edge weights (got {w.dtype}); "
                            "convert them to float first")
        dinv = inv_degree(segment(w, s.indptr, "sum"), -0.5)  # rows are targets: in-degree
        out.adj = out.adj.with_values(gather_rows(dinv, s.rows()) * w
                                      * gather_rows(dinv, s.indices))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(add_self_loops={self.add_self_loops})"


class LargestConnectedComponents(BaseTransform):
    """The subgraph of the ``num_components`` largest connected components (PyG's
    ``LargestConnectedComponents``, by ``scipy.sparse.csgraph.connected_components``), its
    nodes kept in their order (`Graph.subgraph` with a mask: masks, labels and per-edge
    fields follow). Equal sizes are broken towards the component found last, as PyG's.

    Args:
        num_components: how many components to keep. (default: 1)
        connection: ``"weak"`` or ``"strong"`` connectivity of the directed edges.
    """

    def __init__(self, num_components: int = 1, connection: str = "weak"):
        self.num_components = check_int("LargestConnectedComponents", "num_components",
                                        num_components, low=1)
        self.connection = check_str("LargestConnectedComponents", "connection", connection,
                                    ("weak", "strong"))

    def forward(self, data):
        if self.num_components >= data.num_nodes:
            return data
        count, component = csgraph.connected_components(data.to_scipy(),
                                                        connection=self.connection)
        if count <= self.num_components:
            return data
        sizes = np.bincount(component)
        keep = np.argsort(sizes, kind="stable")[-self.num_components:]
        return data.subgraph(np.isin(component, keep))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_components})"
