"""EdgeConv and DynamicEdgeConv of Wang et al., "Dynamic Graph CNN for Learning on Point
Clouds" (ACM TOG 2019), as PyG's."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.gnn.inputs import check_features, split_features
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.point_graphs import knn
from sparsegraph.gnn.utils import reset_submodules
from sparsegraph.tensor import Tensor
from sparsegraph.transforms.base import check_int


def _check_nn(op: str, nn) -> None:
    if not callable(nn):  # caught here, not as "'NoneType' object is not callable" later
        raise TypeError(f"{op}: expected `nn` to be a callable Module (got "
                        f"{type(nn).__name__})")


def _pair(op: str, x):
    """``x`` or ``(x_src, x_dst)`` as two dense float ``(N, F)`` Tensors with equal F."""
    is_pair = isinstance(x, tuple | list)
    x_src, x_dst = split_features(x)
    check_features(op, "x_src" if is_pair else "x", x_src)
    check_features(op, "x_dst", x_dst)
    for name, t in (("x_src", x_src), ("x_dst", x_dst)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a dense Tensor `{name}` (got "
                            f"{type(t).__name__}): x_j - x_i needs dense features")
    if x_src.shape[1] != x_dst.shape[1]:
        raise ValueError(f"{op}: expected `x_dst` with {x_src.shape[1]} features to match "
                         f"`x_src` of shape {tuple(x_src.shape)} (got {x_dst.shape[1]})")
    return x_src, x_dst


class EdgeConv(MessagePassing):
    r"""The edge convolution: ``x'_i = aggr_{j -> i} nn(cat[x_i, x_j - x_i])`` (PyG's
    ``EdgeConv``).

    Args:
        nn: the module applied to every edge's ``(E, 2F)`` input (usually an MLP).
        aggr: ``"max"``, ``"mean"``, ``"sum"``/``"add"``, or any aggregation
            `MessagePassing` takes. (default: "max")

    A target without in-edges gets 0 (PyG's scatter). ``forward(x, edge_index)``: ``x``
    ``(N, F)`` or a pair ``(x_src, x_dst)`` with the same F; edge_index ``(2, E)`` or an
    ``(N_dst, N_src)`` SparseTensor / Graph (its values are ignored).

    Shapes:
        x: ``(N, F)``; out: ``(N_dst, F_out)`` of ``nn``.
    """

    def __init__(self, nn, aggr="max", **kwargs):
        super().__init__(aggr=aggr, **kwargs)
        _check_nn(type(self).__name__, nn)
        self.nn = nn

    def reset_parameters(self) -> None:
        if hasattr(self.nn, "reset_parameters"):
            self.nn.reset_parameters()
        else:
            reset_submodules(self.nn)

    def forward(self, x, edge_index):
        x_src, x_dst = _pair(type(self).__name__, x)
        return self.propagate(edge_index, x=(x_src, x_dst))

    def message(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        return self.nn(ops.cat([x_i, x_j - x_i], dim=-1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nn={self.nn})"


class DynamicEdgeConv(EdgeConv):
    r"""EdgeConv on the k-nearest-neighbour graph of its input features, rebuilt at every
    forward (PyG's ``DynamicEdgeConv``): for every target ``i`` its ``k`` nearest source
    points in feature space, the point itself included (PyG's ``knn(x, x, k)``), within its
    graph of the batch.

    Args:
        nn: the module applied to every edge's ``(E, 2F)`` input.
        k: neighbours per point.
        aggr: as `EdgeConv`'s. (default: "max")

    ``forward(x, batch=None)``: ``x`` ``(N, F)`` or a pair ``(x_src, x_dst)``; ``batch``
    ``(N,)`` graph ids or a pair ``(batch_src, batch_dst)``. The graph is piecewise constant
    in ``x``: the gradient flows through the messages, not through the choice of neighbours.
    """

    def __init__(self, nn, k: int, aggr="max", **kwargs):
        super().__init__(nn, aggr=aggr, **kwargs)
        self.k = check_int("DynamicEdgeConv", "k", k, low=1)

    def forward(self, x, batch=None):
        x_src, x_dst = _pair("DynamicEdgeConv", x)
        b_src, b_dst = batch if isinstance(batch, tuple | list) else (batch, batch)
        edge_index = knn(x_src, x_dst, self.k, b_src, b_dst)[[1, 0]]  # PyG's .flip([0])
        return self.propagate(edge_index, x=(x_src, x_dst))

    def __repr__(self) -> str:
        return f"DynamicEdgeConv(nn={self.nn}, k={self.k})"
