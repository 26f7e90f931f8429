"""GIN and GraphConv: sum aggregation plus a transformed root."""

from __future__ import annotations

from sparsegraph.creation import tensor
from sparsegraph.gnn.edge_call import sized_adjacency
from sparsegraph.gnn.inputs import (
    check_features,
    check_in_channels,
    check_size,
    require_x_dst,
    split_features,
    unweighted_adjacency,
)
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_float, reset_submodules
from sparsegraph.nn import Linear, Module, Parameter


def init_nn_and_eps(module: Module, op: str, nn, eps, train_eps: bool) -> None:
    """GIN's ``nn`` and ``eps`` on ``module`` (GINConv, DenseGINConv): ``eps`` a Parameter
    with ``train_eps``, else a buffer, float32 whatever number type came in (PyG)."""
    if not callable(nn):  # caught here, not as "'NoneType' object is not callable" later
        raise TypeError(f"{op}: expected `nn` to be a callable Module (got "
                        f"{type(nn).__name__})")
    check_float(op, "eps", eps)
    module.nn = nn
    module.initial_eps = eps = float(eps)
    if train_eps:
        module.eps = Parameter(tensor([eps]))
    else:
        module.register_buffer("eps", tensor([eps]))


def reset_nn_and_eps(module: Module) -> None:
    """PyG's reset(nn) (a Sequential has no reset_parameters, its Linears do) and ``eps``
    back to its initial value."""
    if hasattr(module.nn, "reset_parameters"):
        module.nn.reset_parameters()
    elif isinstance(module.nn, Module):
        reset_submodules(module.nn)
    module.eps.array[...] = module.initial_eps


class GINConv(MessagePassing):
    r"""Graph isomorphism convolution of Xu et al., "How Powerful are Graph Neural Networks?"
    (ICLR 2019): ``out_i = nn((1 + eps) · x_i + Σ_{j -> i} x_j)``.

    Args:
        nn: the module applied after aggregation (usually an MLP).
        eps: initial ``eps``. (default: 0.0)
        train_eps: learn ``eps``. (default: False)

    As PyG's (``adj_t.set_value(None)``), the sum ignores the adjacency's values: a weighted
    SparseTensor or Graph gives the same result as its edge_index.

    ``forward(x, edge_index, size=None)`` as PyG's: ``size`` ``(N_src, N_dst)`` is checked
    against ``x`` and ``edge_index`` (the root term reads ``x_dst``, so ``N_dst`` targets other
    than ``x``'s rows need the pair ``(x_src, x_dst)``).

    Shapes:
        x: ``(N, F_in)`` or a pair ``((N_src, F), (N_dst, F))``; edge_index: ``(2, E)`` or
        ``(N_dst, N_src)``; out: ``(N_dst, F_out)`` of ``nn``.
    """

    def __init__(self, nn, eps: float = 0.0, train_eps: bool = False):
        super().__init__(aggr="sum")
        init_nn_and_eps(self, "GINConv", nn, eps, train_eps)

    def reset_parameters(self) -> None:
        reset_nn_and_eps(self)

    def forward(self, x, edge_index, size=None):
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_features("GINConv", "x_src" if is_pair else "x", x_src)
        require_x_dst("GINConv", x_dst, "the (1 + eps) * x_i term")
        check_features("GINConv", "x_dst", x_dst)
        adj = edge_index if size is None else sized_adjacency(
            "GINConv", edge_index, x, size, root="the (1 + eps) * x_i term")
        out = self.propagate(unweighted_adjacency(adj, x, op="GINConv"), x)
        return self.nn(out + (1 + self.eps.to(x_dst.dtype)) * x_dst)

    def __repr__(self) -> str:
        return f"GINConv(nn={self.nn})"


class GraphConv(MessagePassing):
    r"""The graph convolution of Morris et al., "Weisfeiler and Leman Go Neural: Higher-order
    Graph Neural Networks" (AAAI 2019): ``out_i = W_1 x_i + W_2 · aggr_{j -> i} w_ji x_j``.

    Args:
        in_channels: ``F_in``, or ``(F_src, F_dst)`` for bipartite inputs (PyG's lazy ``-1``
            is not supported).
        out_channels: ``F_out``.
        aggr: ``"add"``/``"sum"``, ``"mean"``, ``"max"``, or any of MessagePassing's forms (an
            aggregation name such as ``"softmax"``, an Aggregation, a list). (default: "add")
        aggr_kwargs: keywords for the aggregation built from a name (PyG's, through
            ``**kwargs``), e.g. ``dict(learn=True)``.
        bias: bias of ``W_2``. (default: True)

    ``forward(x, edge_index, edge_weight=None, size=None)`` as PyG's: ``edge_weight``
    (``(E,)``) replaces the adjacency's values, one weight per edge in the order of its edges
    (edge_index columns, or a SparseTensor's stored entries); ``size`` ``(N_src, N_dst)`` is
    `propagate`'s (the root term reads ``x_dst``: ``N_dst`` targets other than ``x``'s rows
    need the pair ``(x_src, x_dst)``).

    Shapes:
        x: ``(N, F_in)``; edge_index: ``(2, E)`` or ``(N, N)`` (values are edge weights);
        out: ``(N, F_out)``.
    """

    def __init__(self, in_channels, out_channels: int, aggr="add", bias: bool = True, *,
                 aggr_kwargs: dict | None = None):
        super().__init__(aggr=aggr, aggr_kwargs=aggr_kwargs)
        # checked here so the error names GraphConv, not the Linear inside it
        in_channels = check_channels("GraphConv", "in_channels", in_channels, pair=True)
        out_channels = check_channels("GraphConv", "out_channels", out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        # PyG: an int, or (F_src, F_dst) for bipartite inputs
        src_in, dst_in = (in_channels if isinstance(in_channels, tuple)
                          else (in_channels, in_channels))
        self.src_in, self.dst_in = src_in, dst_in
        self.lin_rel = Linear(src_in, out_channels, bias=bias)
        self.lin_root = Linear(dst_in, out_channels, bias=False)

    def reset_parameters(self) -> None:
        self.lin_rel.reset_parameters()
        self.lin_root.reset_parameters()

    def forward(self, x, edge_index, edge_weight=None, size=None):
        is_pair = isinstance(x, tuple | list)
        x_src, x_dst = split_features(x)
        check_in_channels("GraphConv", "x_src" if is_pair else "x", x_src, self.src_in,
                          self.lin_rel.weight)
        require_x_dst("GraphConv", x_dst, "the root term W_1 x_i")
        if edge_weight is not None and len(getattr(edge_weight, "shape", (0,))) != 1:
            raise ValueError(f"GraphConv: expected `edge_weight` of shape (E,), one weight per "
                             f"edge (got shape {tuple(edge_weight.shape)})")
        check_in_channels("GraphConv", "x_dst", x_dst, self.dst_in)
        if size is not None:
            check_size("GraphConv", size)
            if not is_pair and size[1] is not None and size[1] != x_src.shape[0]:
                sized_adjacency("GraphConv", edge_index, x, size, root="the root term W_1 x_i")
        out = self.lin_rel(self.propagate(edge_index, x, edge_weight=edge_weight, size=size))
        return out + self.lin_root(x_dst)

    def __repr__(self) -> str:
        return f"GraphConv({self.in_channels}, {self.out_channels})"
