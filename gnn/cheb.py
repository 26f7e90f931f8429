"""Chebyshev spectral convolution (ChebConv), normalised exactly as PyG's."""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.backend import to_device
from sparsegraph.creation import tensor, zeros
from sparsegraph.gnn.inputs import check_in_channels, weighted_adjacency
from sparsegraph.gnn.message_passing import MessagePassing
from sparsegraph.gnn.utils import check_channels, check_int
from sparsegraph.nn import Linear, ModuleList, Parameter, init
from sparsegraph.ops.graph_norm import inv_degree
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, host_values

NORMALIZATIONS = ("sym", "rw", None)


class ChebConv(MessagePassing):
    r"""Chebyshev spectral convolution of Defferrard et al., "Convolutional Neural Networks on
    Graphs with Fast Localized Spectral Filtering" (NeurIPS 2016):
    ``out = Σ_{k<K} T_k(L̂) x W_k + b`` with ``L̂ = 2 L / λ_max - I``,
    ``T_0 = x``, ``T_1 = L̂ x``, ``T_k = 2 L̂ T_{k-1} - T_{k-2}``.

    The Laplacian is PyG's ``get_laplacian`` (self loops removed first), with ``deg`` the
    weighted **out-degree of the source** nodes (``scatter(w, edge_index[0])``), messages
    flowing source -> target:

    - ``"sym"``: ``L = I - D^-1/2 A D^-1/2``: edge ``j -> i`` weighs ``deg_j^-1/2 w deg_i^-1/2``;
    - ``"rw"``: ``L = I - D^-1 A``: edge ``j -> i`` weighs ``w / deg_j``;
    - ``None``: ``L = D - A``.

    Nodes of degree 0 get ``deg^-1/2 = deg^-1 = 0`` (PyG's ``masked_fill(inf, 0)``); a NaN
    degree (a NaN edge weight) stays NaN, as in PyG. Unlike PyG, a negative degree (negative
    weights) gets 0 too, as in `gcn_norm` (PyG: NaN with "sym", ``1 / deg`` with "rw").

    Args:
        in_channels, out_channels: feature sizes (positive ints; no lazy ``-1``).
        K: Chebyshev filter size (number of terms, an int >= 1).
        normalization: ``"sym"``, ``"rw"`` or None. (default: "sym")
        bias: learn an additive bias. (default: True)

    ``forward(x, edge_index, edge_weight=None, batch=None, lambda_max=None)``:
    ``edge_weight`` ``(E,)`` replaces the adjacency's values (edge order as GCNConv's);
    ``lambda_max`` is a number, or one value per graph ``(G,)`` together with ``batch``
    ``(N,)``; default 2.0 (PyG's for "sym"; PyG insists on it for "rw" and None, here 2.0 is
    used, which bounds the spectrum of the "rw" Laplacian too).

    Shapes:
        x: ``(N, F_in)``; edge_index: ``(2, E)`` or ``(N, N)`` SparseTensor; out: ``(N, F_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, K: int, normalization="sym",
                 bias: bool = True):
        super().__init__(aggr="sum")
        check_int("ChebConv", "K", K, 1)
        in_channels = check_channels("ChebConv", "in_channels", in_channels)
        out_channels = check_channels("ChebConv", "out_channels", out_channels)
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"ChebConv: expected `normalization` 'sym', 'rw' or None "
                             f"(got {normalization!r})")
        self.in_channels, self.out_channels, self.K = in_channels, out_channels, K
        self.normalization = normalization
        self.lins = ModuleList([Linear(in_channels, out_channels, bias=False) for _ in range(K)])
        self.bias = Parameter(zeros(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyG: Linear(..., weight_initializer='glorot') and zeros(bias)
        for lin in self.lins:
            init.xavier_uniform_(lin.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _scale(self, lambda_max, batch, n: int, dtype) -> np.ndarray | float:
        """``2 / λ_max``: a number, or per node ``(N, 1)`` (the node's graph's λ_max)."""
        if lambda_max is None:
            return 1.0
        lam = host_values(lambda_max, "ChebConv: the Laplacian scaled by `lambda_max`")
        lam = np.asarray(to_device(lam, "cpu") if hasattr(lam, "device") else lam,
                         dtype=np.float64)
        if lam.dtype.kind not in "f" or not np.all(np.isfinite(lam)) or np.any(lam <= 0):
            raise ValueError(f"ChebConv: expected `lambda_max` > 0 (got {lambda_max!r})")
        if lam.size == 1:
            return 2.0 / float(lam.reshape(()))
        if batch is None:
            raise ValueError(f"ChebConv: `lambda_max` holds {lam.size} values, one per graph: "
                             f"expected `batch` to say each node's graph (got None)")
        b = host_values(batch, "ChebConv: `lambda_max` per node by `batch`")
        b = np.asarray(to_device(b, "cpu") if hasattr(b, "device") else b)
        if b.shape != (n,) or b.dtype.kind not in "iu" or (n and (b.min() < 0 or
                                                                    b.max() >= lam.size)):
            raise ValueError(f"ChebConv: expected `batch` of shape ({n},) with graph ids in "
                             f"[0, {lam.size}) to index `lambda_max` (got {b.dtype} array of "
                             f"shape {b.shape})")
        return (2.0 / lam.reshape(-1)[b]).astype(dtype).reshape(n, 1)

    def scaled_laplacian(self, adj, num_nodes: int, dtype=None, edge_weight=None, batch=None,
                         lambda_max=None, device=None) -> tuple[SparseTensor, Tensor | None]:
        """``L̂ = 2 L / λ_max - I`` as its off-diagonal part (a target-major SparseTensor)
        and its diagonal ``(N, 1)`` (None where it is 0: λ_max = 2 with "sym" / "rw")."""
        adj = weighted_adjacency(adj, num_nodes, edge_weight, op="ChebConv", dtype=dtype,
                                 device=device)
        adj = ops.remove_self_loops(adj)
        src, dst = adj.structure.indices, adj.structure.rows()
        w = adj.values
        deg = ops.scatter(w, src, num_nodes)  # out-degree of each source, as PyG's get_laplacian
        if self.normalization == "sym":
            dis = inv_degree(deg, -0.5)
            w = ops.gather_rows(dis, src) * w * ops.gather_rows(dis, dst)
        elif self.normalization == "rw":
            w = ops.gather_rows(inv_degree(deg, -1), src) * w
        scale = self._scale(lambda_max, batch, num_nodes, dtype or w.dtype)
        if isinstance(scale, float):
            off = w * (-scale)
            loop = None if self.normalization is not None else deg * scale
            if loop is None and scale != 1.0:
                loop = tensor(np.full((num_nodes,), scale, dtype=w.dtype.str), device=w.device)
        else:
            c = tensor(scale.reshape(-1), device=w.device)
            off = -(ops.gather_rows(c, src) * w)  # PyG scales each edge by its source's graph
            loop = c * deg if self.normalization is None else c
        diag = None if loop is None else (loop - 1.0).reshape((num_nodes, 1))
        return adj.with_values(off), diag

    def forward(self, x, edge_index, edge_weight=None, batch=None, lambda_max=None):
        check_in_channels("ChebConv", "x", x, self.in_channels, self.lins[0].weight)
        lap, diag = self.scaled_laplacian(edge_index, x.shape[0], x.dtype, edge_weight, batch,
                                          lambda_max, x.device)

        def apply(h):  # L̂ h = off-diagonal part (one spmm) + diagonal * h
            out = self.propagate(lap, h)
            if diag is None:
                return out
            return out + diag * (h.to_dense() if isinstance(h, SparseTensor) else h)

        t_prev, out = x, self.lins[0](x)
        if self.K > 1:
            t_cur = apply(x)
            out = out + self.lins[1](t_cur)
            for lin in self.lins[2:]:
                t_next = apply(t_cur) * 2 - t_prev
                out = out + lin(t_next)
                t_prev, t_cur = t_cur, t_next
        if self.bias is not None:
            out = out + self.bias
        return out

    def __repr__(self) -> str:
        return (f"ChebConv({self.in_channels}, {self.out_channels}, K={self.K}, "
                f"normalization={self.normalization})")
