r"""Dense (batched-adjacency) convolutions, PyG's ``torch_geometric.nn.dense``: DenseGCNConv,
DenseSAGEConv, DenseGraphConv and DenseGINConv on padded batches.

Every layer takes ``x`` of shape ``(B, N, F)`` and ``adj`` of shape ``(B, N, N)`` (as
`to_dense_batch` and `to_dense_adj` make them), multiplies ``adj @ x`` batch by batch, and
zeroes the output rows of the padding nodes when given the ``(B, N)`` bool ``mask``. As in
PyG, 2-D inputs ``(N, F)`` / ``(N, N)`` are a batch of one (the output is ``(1, N, F_out)``),
and an ``adj`` of batch size 1 is shared by the whole batch of ``x``. ``adj[b, i, j]`` is
the weight of the edge read into node ``i`` from ``j`` (row ``i`` of ``adj @ x``).
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.creation import eye, tensor, zeros
from sparsegraph.gnn.gin import init_nn_and_eps, reset_nn_and_eps
from sparsegraph.gnn.inputs import check_in_channels
from sparsegraph.gnn.utils import check_channels
from sparsegraph.nn import Linear, Module, Parameter, init
from sparsegraph.tensor import Tensor

__all__ = ["DenseGCNConv", "DenseSAGEConv", "DenseGraphConv", "DenseGINConv"]


def as_batched(op: str, name: str, t, last: str):
    """``t`` checked as a floating Tensor of 2 or 3 dims and promoted to 3 (PyG's
    ``unsqueeze(0)``); ``last`` names the last dim in the message."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected `{name}` to be a Tensor (got {type(t).__name__}); "
                        f"wrap an array with sparsegraph.tensor()")
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating `{name}` (got dtype {t.dtype}); convert "
                        f"with {name}.float()")
    if t.ndim not in (2, 3):
        raise ValueError(f"{op}: expected `{name}` of shape (B, N, {last}) or (N, {last}) (got "
                         f"shape {tuple(t.shape)})")
    return t.unsqueeze(0) if t.ndim == 2 else t


def dense_adjacency(op: str, adj, x: Tensor) -> Tensor:
    """``adj`` checked against the promoted ``(B, N, F)`` ``x`` and promoted to 3 dims: square
    ``(B', N, N)`` with ``x``'s ``N``, of ``x``'s dtype, ``B'`` 1 or ``B`` (any ``B'`` when
    ``B`` is 1: PyG's ``adj @ x`` broadcasts both ways)."""
    adj = as_batched(op, "adj", adj, "N")
    n, b = x.shape[1], x.shape[0]
    if adj.shape[1:] != (n, n):
        raise ValueError(f"{op}: expected `adj` of shape (B, {n}, {n}), square with the N = {n} "
                         f"nodes of `x` (got shape {tuple(adj.shape)})")
    if adj.dtype != x.dtype:
        raise TypeError(f"{op}: expected `adj` of dtype {x.dtype} like `x` (got {adj.dtype}); "
                        f"convert with adj.to({str(x.dtype)!r})")
    if adj.shape[0] not in (1, b) and b != 1:
        raise ValueError(f"{op}: expected `adj` with batch size 1 or {b}, that of `x` (got "
                         f"shape {tuple(adj.shape)})")
    return adj


def dense_mask(op: str, mask, batch: int, n: int, like: Tensor) -> Tensor | None:
    """PyG's ``mask.view(B, N, 1).to(x.dtype)``: the ``(B, N)`` mask (``(N,)`` too for a
    batch of one) as a ``(B, N, 1)`` Tensor of ``like``'s dtype (a numpy mask on its
    device), or None."""
    if mask is None:
        return None
    if isinstance(mask, np.ndarray):
        mask = tensor(mask, device=like.device)
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}: expected `mask` to be a (B, N) bool Tensor (got "
                        f"{type(mask).__name__})")
    if tuple(mask.shape) != (batch, n) and not (batch == 1 and tuple(mask.shape) == (n,)):
        raise ValueError(f"{op}: expected `mask` of shape (B, N) = ({batch}, {n}) (got shape "
                         f"{tuple(mask.shape)})")
    return mask.reshape(batch, n, 1).to(like.dtype)


def _dense_inputs(op: str, x, adj, mask, in_channels: int, weight):
    """The promoted ``x`` (checked against ``in_channels`` and the layer's dtype), ``adj``
    and ``(B, N, 1)`` mask of a dense layer; ``B`` is the batch of ``x`` and ``adj``
    broadcast."""
    x = as_batched(op, "x", x, "F")
    if x.shape[-1] != in_channels:
        raise ValueError(f"{op}: expected `x` with {in_channels} features, as `in_channels` "
                         f"says (got shape {tuple(x.shape)})")
    check_in_channels(op, "x", x.reshape(-1, in_channels), in_channels, weight)  # the dtype
    return _adj_and_mask(op, x, adj, mask)


def _adj_and_mask(op: str, x: Tensor, adj, mask):
    adj = dense_adjacency(op, adj, x)
    return x, adj, dense_mask(op, mask, max(x.shape[0], adj.shape[0]), x.shape[1], x)


def _masked(out: Tensor, mask: Tensor | None) -> Tensor:
    return out if mask is None else out * mask


class DenseGCNConv(Module):
    r"""GCN of Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional
    Networks" (ICLR 2017), on dense adjacencies, PyG's ``DenseGCNConv``:
    ``out = D^{-1/2} Â D^{-1/2} X W + b``, ``Â`` the adjacency with its diagonal set to 1
    (2 with ``improved``), ``D`` its row sums clamped to at least 1.

    Args:
        in_channels: ``F_in``.
        out_channels: ``F_out``.
        improved: self-loops of weight 2. (default: False)
        bias: learn an additive bias. (default: True)

    ``forward(x, adj, mask=None, add_loop=True)``: as PyG's, ``add_loop`` replaces the
    diagonal (existing self-loop weights included); ``add_loop=False`` keeps ``adj`` as it is.

    Shapes:
        x: ``(B, N, F_in)`` or ``(N, F_in)``; adj: ``(B, N, N)`` or ``(N, N)``; mask:
        ``(B, N)`` bool; out: ``(B, N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 bias: bool = True):
        super().__init__()
        self.in_channels = check_channels("DenseGCNConv", "in_channels", in_channels)
        self.out_channels = check_channels("DenseGCNConv", "out_channels", out_channels)
        self.improved = improved
        self.lin = Linear(self.in_channels, self.out_channels, bias=False)
        self.bias = Parameter(zeros(self.out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.xavier_uniform_(self.lin.weight)  # Glorot, as PyG
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x, adj, mask=None, add_loop: bool = True):
        x, adj, mask = _dense_inputs("DenseGCNConv", x, adj, mask, self.in_channels,
                                     self.lin.weight)
        if add_loop:  # PyG's adj[:, i, i] = 1 (2): the diagonal replaced, inf / nan included
            loops = eye(x.shape[1], dtype=np.bool_, device=adj.device)
            adj = ops.where(loops, 2.0 if self.improved else 1.0, adj)
        dinv = ops.pow(ops.clamp(adj.sum(dim=-1), min=1), -0.5).unsqueeze(-1)  # (B, N, 1)
        out = dinv * ops.matmul(adj, dinv * self.lin(x))  # D^-1/2 Â D^-1/2 (X W)
        if self.bias is not None:
            out = out + self.bias
        return _masked(out, mask)

    def __repr__(self) -> str:
        return f"DenseGCNConv({self.in_channels}, {self.out_channels})"


class DenseSAGEConv(Module):
    r"""GraphSAGE of Hamilton et al., "Inductive Representation Learning on Large Graphs"
    (NeurIPS 2017) on dense adjacencies, PyG's ``DenseSAGEConv``:
    ``out = W_rel · (A X / clamp(rowsum(A), 1)) + W_root X + b``, then the row L2
    normalisation with ``normalize``.

    Args:
        in_channels: ``F_in``.
        out_channels: ``F_out``.
        normalize: L2-normalise the output rows. (default: False)
        bias: bias of ``lin_root``. (default: True)

    As PyG notes, the mean expects a binary ``adj``; for weighted adjacencies use
    `DenseGraphConv`. ``forward(x, adj, mask=None)``.

    Shapes:
        x: ``(B, N, F_in)`` or ``(N, F_in)``; adj: ``(B, N, N)`` or ``(N, N)``; mask:
        ``(B, N)`` bool; out: ``(B, N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, normalize: bool = False,
                 bias: bool = True):
        super().__init__()
        self.in_channels = check_channels("DenseSAGEConv", "in_channels", in_channels)
        self.out_channels = check_channels("DenseSAGEConv", "out_channels", out_channels)
        self.normalize = normalize
        self.lin_rel = Linear(self.in_channels, self.out_channels, bias=False)
        self.lin_root = Linear(self.in_channels, self.out_channels, bias=bias)

    def reset_parameters(self) -> None:
        self.lin_rel.reset_parameters()
        self.lin_root.reset_parameters()

    def forward(self, x, adj, mask=None):
        x, adj, mask = _dense_inputs("DenseSAGEConv", x, adj, mask, self.in_channels,
                                     self.lin_rel.weight)
        out = ops.matmul(adj, x) / ops.clamp(adj.sum(dim=-1, keepdim=True), min=1)
        out = self.lin_rel(out) + self.lin_root(x)
        if self.normalize:
            out = ops.normalize(out, p=2.0, dim=-1)
        return _masked(out, mask)

    def __repr__(self) -> str:
        return f"DenseSAGEConv({self.in_channels}, {self.out_channels})"


class DenseGraphConv(Module):
    r"""The graph convolution of Morris et al., "Weisfeiler and Leman Go Neural: Higher-order
    Graph Neural Networks" (AAAI 2019) on dense adjacencies, PyG's ``DenseGraphConv``:
    ``out_i = W_rel · aggr_j (a_ij x_j) + W_root x_i``.

    Args:
        in_channels: ``F_in``.
        out_channels: ``F_out``.
        aggr: ``"add"`` (``A X``), ``"mean"`` (``A X / clamp(rowsum(A), 1)``) or ``"max"``.
            (default: "add")
        bias: bias of ``lin_rel``. (default: True)

    As PyG's, ``"max"`` ignores the weights and reads ``adj`` by column: node ``i`` takes the
    elementwise max of the ``x_j`` with ``adj[b, j, i] != 0`` (0 without any), where ``"add"``
    and ``"mean"`` read row ``i`` (``adj @ x``); the two agree for a symmetric ``adj``. Its
    gradient goes to one maximal ``x_j`` per feature. ``forward(x, adj, mask=None)``.

    Shapes:
        x: ``(B, N, F_in)`` or ``(N, F_in)``; adj: ``(B, N, N)`` or ``(N, N)``; mask:
        ``(B, N)`` bool; out: ``(B, N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "add",
                 bias: bool = True):
        super().__init__()
        if aggr not in ("add", "mean", "max"):
            raise ValueError(f"DenseGraphConv: expected `aggr` to be 'add', 'mean' or 'max' "
                             f"(got {aggr!r})")
        self.in_channels = check_channels("DenseGraphConv", "in_channels", in_channels)
        self.out_channels = check_channels("DenseGraphConv", "out_channels", out_channels)
        self.aggr = aggr
        self.lin_rel = Linear(self.in_channels, self.out_channels, bias=bias)
        self.lin_root = Linear(self.in_channels, self.out_channels, bias=False)

    def reset_parameters(self) -> None:
        self.lin_rel.reset_parameters()
        self.lin_root.reset_parameters()

    def forward(self, x, adj, mask=None):
        x, adj, mask = _dense_inputs("DenseGraphConv", x, adj, mask, self.in_channels,
                                     self.lin_rel.weight)
        if self.aggr == "max" and x.shape[1] > 0:  # N = 0: no max to take, (B, 0, F) below
            # (B, N_j, N_i, F): x_j where j -> i is an edge, -inf elsewhere; max over j
            neg = float("-inf")
            cand = ops.where((adj != 0).unsqueeze(-1), x.unsqueeze(-2), neg)
            out = cand.max(dim=-3)[0]
            out = ops.where(out == neg, 0.0, out)
        else:
            out = ops.matmul(adj, x)
            if self.aggr == "mean":
                out = out / ops.clamp(adj.sum(dim=-1, keepdim=True), min=1)
        return _masked(self.lin_rel(out) + self.lin_root(x), mask)

    def __repr__(self) -> str:
        return f"DenseGraphConv({self.in_channels}, {self.out_channels})"


class DenseGINConv(Module):
    r"""Graph isomorphism convolution of Xu et al., "How Powerful are Graph Neural Networks?"
    (ICLR 2019) on dense adjacencies, PyG's ``DenseGINConv``:
    ``out = nn((1 + eps) · X + A X)``.

    Args:
        nn: the module applied after aggregation (usually an MLP); it gets ``(B, N, F)``.
        eps: initial ``eps``. (default: 0.0)
        train_eps: learn ``eps``. (default: False)

    ``forward(x, adj, mask=None, add_loop=True)``: ``add_loop=False`` drops the
    ``(1 + eps) · X`` term (``nn(A X)``), as PyG's. Unlike `GINConv`, ``adj``'s values weigh
    the sum.

    Shapes:
        x: ``(B, N, F)`` or ``(N, F)``; adj: ``(B, N, N)`` or ``(N, N)``; mask: ``(B, N)``
        bool; out: ``(B, N, F_out)`` of ``nn``.
    """

    def __init__(self, nn, eps: float = 0.0, train_eps: bool = False):
        super().__init__()
        init_nn_and_eps(self, "DenseGINConv", nn, eps, train_eps)

    def reset_parameters(self) -> None:
        reset_nn_and_eps(self)

    def forward(self, x, adj, mask=None, add_loop: bool = True):
        op = "DenseGINConv"
        x = as_batched(op, "x", x, "F")
        weight = next(iter(self.nn.parameters()), None) if isinstance(self.nn, Module) else None
        if weight is not None:  # the dtype, named as the other dense layers do
            flat = x.reshape(x.shape[0] * x.shape[1], x.shape[-1])
            check_in_channels(op, "x", flat, x.shape[-1], weight)
        x, adj, mask = _adj_and_mask(op, x, adj, mask)
        out = ops.matmul(adj, x)
        if add_loop:
            out = (1 + self.eps.to(x.dtype)) * x + out
        return _masked(self.nn(out), mask)

    def __repr__(self) -> str:
        return f"DenseGINConv(nn={self.nn})"
