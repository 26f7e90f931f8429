"""Sparse products: spmm (sparse @ dense), dense @ sparse, sddmm, spgemm (sparse @ sparse).

Backward never densifies: for ``out = A @ X``, ``dX = A^T @ G`` runs spmm on the cached
transposed structure and ``dA.values = SDDMM(G, X)`` samples ``G X^T`` at A's stored entries.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import sparse_module, xp_of
from sparsegraph.kernels import dispatch
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor

__all__ = ["spmm", "sddmm", "spgemm", "sparse_matmul"]


def _contiguous(a):
    return a if a.flags.c_contiguous else xp_of(a).ascontiguousarray(a)


def transposed_values(structure: Structure, values):
    """``values[perm]`` for the transposed structure; cached while ``values`` is the same array.

    A constant adjacency (GCN's normalised one) then pays the gather once, not every backward.
    """
    t, perm = structure.transpose()
    cache = structure._cache.get("transposed_values")
    if cache is not None and cache[0] is values:
        return t, cache[1]
    tv = values[perm]
    structure._cache["transposed_values"] = (values, tv)
    return t, tv


def _spmm(device, s: Structure, values, x):
    return dispatch("spmm", device, "csr")(s.indptr, s.indices, values, x, s.shape[0])


class SpMM(Function):
    """``a @ x`` for CSR ``a``; gradients for a's values (SDDMM) and for x (A^T @ G)."""

    @staticmethod
    def forward(ctx, a, x):
        s, v, xa = a.structure, a.values.array, _contiguous(x.array)
        ctx.s, ctx.v = s, v
        ctx.x = xa if ctx.needs_input_grad[0] else None
        ctx.save_for_backward(a.values, x)
        return _spmm(ctx.device, s, v, xa)

    @staticmethod
    def backward(ctx, g):
        _ = ctx.saved_tensors  # version check: values or x changed in place since forward
        g = _contiguous(g.array)
        s = ctx.s
        ga = gx = None
        if ctx.needs_input_grad[0]:
            ga = dispatch("sddmm", ctx.device, "csr")(s.indptr, s.indices, g, ctx.x)
        if ctx.needs_input_grad[1]:
            t, tv = transposed_values(s, ctx.v)
            gx = _spmm(ctx.device, t, tv, g)
        return ga, gx


class SDDMM(Function):
    """Values of ``X @ Y^T`` at a's stored entries (a's own values are not used)."""

    @staticmethod
    def forward(ctx, s, x, y):
        xa, ya = _contiguous(x.array), _contiguous(y.array)
        ctx.s, ctx.x, ctx.y = s, xa, ya
        return dispatch("sddmm", ctx.device, "csr")(s.indptr, s.indices, xa, ya)

    @staticmethod
    def backward(ctx, g):
        s, g = ctx.s, _contiguous(g.array)
        gx = gy = None
        if ctx.needs_input_grad[1]:
            gx = _spmm(ctx.device, s, g, ctx.y)
        if ctx.needs_input_grad[2]:
            t, perm = s.transpose()
            gy = _spmm(ctx.device, t, g[perm], ctx.x)
        return None, gx, gy


def _sample(m, rows, cols):
    """Values of a scipy/cupyx sparse matrix at (rows, cols) (0 where not stored)."""
    if rows.size == 0:
        return np.zeros(0, m.dtype)
    return xp_of(rows).asarray(m[rows, cols]).reshape(-1)


def _scipy_csr(xsp, t: SparseTensor):
    return xsp.csr_matrix((t.values.array, t.structure.indices, t.structure.indptr),
                          shape=t.structure.shape)


def _spgemm_structure(xsp, a: SparseTensor, b: SparseTensor) -> Structure:
    """The structural product pattern (from ones, so cancelling values keep their entry)."""
    ones = lambda t: xsp.csr_matrix((xp_of(t.values.array).ones(t.nnz, np.float32),
                                     t.structure.indices, t.structure.indptr),
                                    shape=t.structure.shape)
    pattern = (ones(a) @ ones(b)).tocsr()
    pattern.sort_indices()
    return Structure.csr(pattern.indptr, pattern.indices, pattern.shape, validate=False)


class SpGEMM(Function):
    """Values of ``a @ b`` on the precomputed output structure; value gradients of both
    operands are computed at their own stored entries."""

    @staticmethod
    def forward(ctx, a, b, out_s, xsp):
        ma, mb = _scipy_csr(xsp, a), _scipy_csr(xsp, b)
        ctx.ma, ctx.mb, ctx.xsp, ctx.out_s = ma, mb, xsp, out_s
        ctx.a_rc = (a.structure.rows(), a.structure.indices)
        ctx.b_rc = (b.structure.rows(), b.structure.indices)
        return _sample((ma @ mb).tocsr(), out_s.rows(), out_s.indices).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        gm = ctx.xsp.csr_matrix((g.array, ctx.out_s.indices, ctx.out_s.indptr),
                                shape=ctx.out_s.shape)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = _sample((gm @ ctx.mb.T).tocsr(), *ctx.a_rc).astype(g.dtype)
        if ctx.needs_input_grad[1]:
            gb = _sample((ctx.ma.T @ gm).tocsr(), *ctx.b_rc).astype(g.dtype)
        return ga, gb, None, None


def _check_pair(op: str, a: SparseTensor, x, x_name: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected `{x_name}` to be a Tensor (got {type(x).__name__})")
    if a.device != x.device:
        raise ValueError(f"{op}: inputs are on different devices ({a.device} vs {x.device}); "
                         "use .to() on one")
    if a.dtype != x.dtype:
        raise TypeError(f"{op}: expected `a` values and `{x_name}` of the same dtype (got "
                        f"{a.dtype} and {x.dtype})")


def spmm(a: SparseTensor, x: Tensor) -> Tensor:
    """Sparse @ dense: ``(N, M)`` @ ``(M, F)`` -> ``(N, F)``.

    Hybrid values ``(nnz, H)`` with ``x`` of shape ``(M, H, F)`` give ``(N, H, F)`` (one weight
    per head). A COO ``a`` is converted to CSR (cached structure, values permuted).

    Raises:
        TypeError: non-sparse ``a``, mixed dtypes. ValueError: shape or device mismatch.
    """
    if not isinstance(a, SparseTensor):
        raise TypeError(f"spmm: expected `a` to be a SparseTensor (got {type(a).__name__})")
    if isinstance(x, SparseTensor):
        return spgemm(a, x)
    _check_pair("spmm", a, x)
    hybrid = a.values.ndim == 2
    want = 3 if hybrid else 2
    if x.ndim != want and not (not hybrid and x.ndim == 1):
        raise ValueError(f"spmm: expected `x` with {want} dims for values of shape "
                         f"{a.values.shape} (got shape {x.shape})")
    if a.shape[1] != x.shape[0]:
        raise ValueError(f"spmm: expected `x` with {a.shape[1]} rows to match `a` of shape "
                         f"{a.shape[:2]} (got {x.shape[0]})")
    if hybrid and x.shape[1] != a.values.shape[1]:
        raise ValueError(f"spmm: expected `x` with {a.values.shape[1]} heads to match the "
                         f"values (got shape {x.shape})")
    if a.values.ndim > 2:
        raise NotImplementedError("spmm: values with more than one dense dim are not supported")
    if a.layout != "csr":
        a = a.to_csr()
    if x.ndim == 1:
        return SpMM.apply(a, x.reshape((-1, 1))).reshape((-1,))
    return SpMM.apply(a, x)


def sddmm(a: SparseTensor, x: Tensor, y: Tensor) -> SparseTensor:
    """``(X @ Y^T)`` sampled at a's stored entries, as a SparseTensor with a's structure.

    ``x`` ``(N, F)`` and ``y`` ``(M, F)`` give values ``(nnz,)``; ``(N, H, F)`` and
    ``(M, H, F)`` give ``(nnz, H)``. Differentiable w.r.t. ``x`` and ``y``.
    """
    if not isinstance(a, SparseTensor):
        raise TypeError(f"sddmm: expected `a` to be a SparseTensor (got {type(a).__name__})")
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor):
            raise TypeError(f"sddmm: expected `{name}` to be a Tensor (got {type(t).__name__})")
    if x.dtype != y.dtype:
        raise TypeError(f"sddmm: expected `x` and `y` of the same dtype (got {x.dtype} and "
                        f"{y.dtype})")
    if x.shape[0] != a.shape[0] or y.shape[0] != a.shape[1] or x.shape[1:] != y.shape[1:]:
        raise ValueError(f"sddmm: expected `x` ({a.shape[0]}, ...) and `y` ({a.shape[1]}, ...) "
                         f"with equal trailing dims for `a` of shape {a.shape[:2]} (got "
                         f"{x.shape} and {y.shape})")
    if x.ndim not in (2, 3):
        raise ValueError(f"sddmm: expected 2-D or 3-D `x` and `y` (got {x.ndim} dims)")
    if a.layout != "csr":
        a = a.to_csr()
    return SparseTensor(a.structure, SDDMM.apply(a.structure, x, y))


def spgemm(a: SparseTensor, b: SparseTensor) -> SparseTensor:
    """Sparse @ sparse -> sparse CSR; gradients for both operands' values (at their entries)."""
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, SparseTensor):
            raise TypeError(f"spgemm: expected `{name}` to be a SparseTensor "
                            f"(got {type(t).__name__})")
        if t.values.ndim != 1:
            raise NotImplementedError("spgemm: hybrid values are not supported")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"spgemm: expected `b` with {a.shape[1]} rows to match `a` of shape "
                         f"{a.shape} (got {b.shape[0]})")
    if a.dtype != b.dtype:
        raise TypeError(f"spgemm: expected operands of the same dtype (got {a.dtype} and "
                        f"{b.dtype})")
    a, b = (t if t.layout == "csr" else t.to_csr() for t in (a, b))
    xsp = sparse_module(a.device)
    out_s = _spgemm_structure(xsp, a, b)
    return SparseTensor(out_s, SpGEMM.apply(a, b, out_s, xsp))


def sparse_matmul(input, other):
    """``input @ other`` when either side is sparse: spmm, dense @ sparse, or spgemm."""
    if isinstance(input, SparseTensor):
        return spgemm(input, other) if isinstance(other, SparseTensor) else spmm(input, other)
    if not isinstance(input, Tensor):
        raise TypeError(f"matmul: expected a Tensor or SparseTensor (got {type(input).__name__})")
    if input.ndim != 2:
        raise ValueError(f"matmul: dense @ sparse expects a 2-D dense operand "
                         f"(got {input.shape})")
    if input.shape[1] != other.shape[0]:
        raise ValueError(f"matmul: expected `other` with {input.shape[1]} rows to match "
                         f"`input` of shape {input.shape} (got {other.shape[0]})")
    # X @ A = (A^T @ X^T)^T, through the cached transposed structure
    return spmm(other.T, input.T).T
