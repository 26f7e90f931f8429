"""Sparse products: spmm (sparse @ dense), dense @ sparse, sddmm, spgemm (sparse @ sparse).

Backward never densifies: for ``out = A @ X``, ``dX = A^T @ G`` runs spmm on the cached
transposed structure and ``dA.values = SDDMM(G, X)`` samples ``G X^T`` at A's stored entries.
spgemm's value gradients are computed at each operand's own stored entries from the product's
(entry of A, entry of B) pairs, never through a dense or a wider sparse product.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops.sparse_conversion import in_own_order
from sparsegraph.ops.sparse_kernels.structure import (
    csr_row_ids,
    key_pairs,
    pair_key_space,
    pair_keys,
)
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor

__all__ = ["spmm", "sddmm", "spgemm", "sparse_matmul"]


def _contiguous(a):
    return a if a.flags.c_contiguous else xp_of(a).ascontiguousarray(a)


def transposed_values(structure: Structure, values: Tensor):
    """``(t, values[perm])`` for the transposed structure ``t``, cached per values *state*.

    A constant adjacency (GCN's normalised one) then pays the gather once, not every backward.
    """
    # NOTE: keyed on the array *and* its version: optimizers update edge weights in place (and
    # bump the version), which must not leave a stale transposed copy behind
    t, perm = structure.transpose()
    array, version = values.array, values._version[0]
    cache = structure._cache.get("transposed_values")
    if cache is not None and cache[0] is array and cache[1] == version:
        return t, cache[2]
    tv = dispatch("take", "cpu" if xp_of(array) is np else "cuda", "csr")(array, perm)
    structure._cache["transposed_values"] = (array, version, tv)
    return t, tv


@register("take", "cpu", "cuda", name="generic", fmt="csr")
def _take_generic(a, perm):
    """``a[perm]``: entry values gathered into another entry order (e.g. transposed)."""
    return a[perm]


def _spmm(device, s: Structure, values, x):
    return dispatch("spmm", device, "csr")(s.indptr, s.indices, values, x, s.shape[0])


@register("spmm_backward", "cpu", "cuda", name="generic", fmt="csr")
def _spmm_backward_generic(t_indptr, t_indices, perm, values, g, x, need_values, need_x):
    """Gradients of ``out = A @ x`` from the transposed structure (``t_indptr``, ``t_indices``,
    ``perm``: entry e of A^T is entry ``perm[e]`` of A) and A's ``values (E,)`` in A's order:
    ``dvalues (E,)`` in A's order and ``dx = A^T @ g (M, F)``.

    The reference for the fused kernels: sddmm over A^T, put back into A's order through
    ``perm``, and spmm. Returns ``(dvalues, dx)`` (None where not needed).
    """
    xp = xp_of(g)
    device = "cpu" if xp is np else "cuda"
    gv = gx = None
    if need_values:
        gv_t = dispatch("sddmm", device, "csr")(t_indptr, t_indices, x, g)
        gv = xp.empty_like(gv_t)
        gv[perm] = gv_t
    if need_x:
        t_values = dispatch("take", device, "csr")(values, perm)
        gx = dispatch("spmm", device, "csr")(t_indptr, t_indices, t_values, g, x.shape[0])
    return gv, gx


class SpMM(Function):
    """``a @ x`` for CSR ``a``; gradients for a's values (SDDMM) and for x (A^T @ G)."""

    @staticmethod
    def forward(ctx, a, x):
        s, xa = a.structure, _contiguous(x.array)
        ctx.s = s
        ctx.x = xa if ctx.needs_input_grad[0] else None
        # x only for the values' gradient: with constant values (GCN's normalised adjacency)
        # nothing of x's size outlives the forward
        ctx.save_for_backward(a.values, x if ctx.needs_input_grad[0] else None)
        return _spmm(ctx.device, s, a.values.array, xa)

    @staticmethod
    def backward(ctx, g):
        values, _ = ctx.saved_tensors  # also the version check: nothing changed in place
        return spmm_grads(ctx.device, ctx.s, values, _contiguous(g.array), ctx.x,
                          *ctx.needs_input_grad)


def spmm_grads(device, s: Structure, values: Tensor, g, x, need_values: bool, need_x: bool):
    """``(dvalues, dx)`` of ``out = A @ x`` for A = (``s``, ``values``) and the contiguous
    output gradient ``g``: both in one pass over A^T (`spmm_backward`) when both are needed,
    else SDDMM in A's order or A^T @ g with the values' cached transposed order (None where not
    needed)."""
    if need_values and need_x and values.ndim == 1 and g.ndim == 2:
        t, perm = s.transpose()
        return dispatch("spmm_backward", device, "csr")(t.indptr, t.indices, perm,
                                                        values.array, g, x, True, True)
    ga = gx = None
    if need_values:
        ga = dispatch("sddmm", device, "csr")(s.indptr, s.indices, g, x)
    if need_x:
        t, tv = transposed_values(s, values)
        gx = _spmm(device, t, tv, g)
    return ga, gx


class SDDMM(Function):
    """Values of ``X @ Y^T`` at the stored entries of structure ``s``; ``dX = S @ Y`` and
    ``dY = S^T @ X`` with ``S`` the incoming gradient on ``s``."""

    @staticmethod
    def forward(ctx, s, x, y):
        ctx.save_for_backward(x, y)
        ctx.s = s
        return dispatch("sddmm", ctx.device, "csr")(s.indptr, s.indices, _contiguous(x.array),
                                                    _contiguous(y.array))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        s, g = ctx.s, _contiguous(g.array)
        gx = gy = None
        if ctx.needs_input_grad[1]:
            gx = _spmm(ctx.device, s, g, _contiguous(y.array))
        if ctx.needs_input_grad[2]:
            t, perm = s.transpose()
            gy = _spmm(ctx.device, t, g[perm], _contiguous(x.array))
        return None, gx, gy


# ---- spgemm kernels: pairs (entry e of A, entry f of B) with col(e) == row(f) ----------------
def _pairs(a_indptr, a_indices, b_indptr):
    """Every product term of ``A @ B``: ``(ea, eb, row)`` with ``A[row, k] * B[k, col(eb)]``.

    Memory is O(number of product terms) — the flop count of the product, never N x M.
    """
    xp = xp_of(a_indices)
    starts = b_indptr[a_indices].astype(np.int64)
    counts = b_indptr[a_indices + 1].astype(np.int64) - starts
    ptr = xp.zeros(counts.shape[0] + 1, dtype=np.int64)
    xp.cumsum(counts, out=ptr[1:])
    total = int(ptr[-1])
    ea = csr_row_ids(ptr, total)
    eb = starts[ea] + (xp.arange(total, dtype=np.int64) - ptr[ea])
    return ea, eb, csr_row_ids(a_indptr, a_indices.shape[0])[ea]


def _key_space(a_indptr, b_indices, n_cols: int):
    """Keys of the product's (row, col) pairs; its columns are among B's."""
    return pair_key_space(b_indices, a_indptr.shape[0] - 1, n_cols)


def _pattern_keys(c_indptr, c_indices, space):
    return pair_keys(csr_row_ids(c_indptr, c_indices.shape[0]), c_indices, space)


@register("spgemm_symbolic", "cpu", "cuda", name="generic", fmt="csr")
def _spgemm_symbolic(a_indptr, a_indices, b_indptr, b_indices, n_cols: int):
    """The structural pattern ``(indptr, indices)`` of ``A @ B`` (sorted; cancelling terms keep
    their entry, so the pattern depends on the structures only)."""
    xp = xp_of(a_indices)
    ea, eb, rows = _pairs(a_indptr, a_indices, b_indptr)
    space = _key_space(a_indptr, b_indices, n_cols)
    u_rows, u_cols = key_pairs(xp.unique(pair_keys(rows, b_indices[eb], space)), space)
    indptr = xp.zeros(a_indptr.shape[0], dtype=np.int64)
    xp.cumsum(xp.bincount(u_rows, minlength=a_indptr.shape[0] - 1), out=indptr[1:])
    return indptr, u_cols


@register("spgemm", "cpu", "cuda", name="generic", fmt="csr")
def _spgemm_generic(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values, c_indptr,
                    c_indices, n_cols: int):
    """Values of ``A @ B`` on the pattern ``(c_indptr, c_indices)`` (from `spgemm_symbolic`)."""
    xp = xp_of(a_values)
    ea, eb, rows = _pairs(a_indptr, a_indices, b_indptr)
    space = _key_space(a_indptr, b_indices, n_cols)
    pos = xp.searchsorted(_pattern_keys(c_indptr, c_indices, space),
                          pair_keys(rows, b_indices[eb], space))
    terms = a_values[ea] * b_values[eb]
    return xp.bincount(pos, terms, minlength=c_indices.shape[0]).astype(terms.dtype)


# scipy's csr @ csr keeps dense (n_cols,) work arrays (~24 bytes a column, twice); past this
# many columns beyond the operands' own size the generic kernel's O(terms) memory is used
_SCIPY_SPARE_COLUMNS = 1 << 22


def _scipy_workspace_fits(a_indptr, a_indices, b_indices, n_cols: int) -> bool:
    operands = a_indptr.shape[0] + a_indices.shape[0] + b_indices.shape[0]
    return n_cols <= 4 * operands + _SCIPY_SPARE_COLUMNS


def _scipy_product(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values, n_cols: int):
    import scipy.sparse as sp

    n, k = a_indptr.shape[0] - 1, b_indptr.shape[0] - 1
    c = (sp.csr_matrix((a_values, a_indices, a_indptr), shape=(n, k))
         @ sp.csr_matrix((b_values, b_indices, b_indptr), shape=(k, n_cols))).tocsr()
    c.sort_indices()
    return c


@register("spgemm_symbolic", "cpu", name="scipy", priority=10, fmt="csr")
def _spgemm_symbolic_scipy(a_indptr, a_indices, b_indptr, b_indices, n_cols: int):
    """The pattern from scipy's product of all-ones matrices (positive sums never cancel);
    the generic kernel's for very wide products (scipy's work arrays grow with the columns)."""
    if not _scipy_workspace_fits(a_indptr, a_indices, b_indices, n_cols):
        return _spgemm_symbolic(a_indptr, a_indices, b_indptr, b_indices, n_cols)
    c = _scipy_product(a_indptr, a_indices, np.ones(a_indices.shape[0], np.float32), b_indptr,
                       b_indices, np.ones(b_indices.shape[0], np.float32), n_cols)
    return c.indptr, c.indices


@register("spgemm", "cpu", name="scipy", priority=10, fmt="csr")
def _spgemm_scipy(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values, c_indptr,
                  c_indices, n_cols: int):
    """scipy's compiled product on the pattern. scipy drops entries that sum to exactly zero;
    they stay stored in the pattern, as zeros. Very wide products run the generic kernel."""
    if not _scipy_workspace_fits(a_indptr, a_indices, b_indices, n_cols):
        return _spgemm_generic(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values,
                               c_indptr, c_indices, n_cols)
    c = _scipy_product(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values, n_cols)
    if c.nnz == c_indices.shape[0]:  # no cancellation: c's sorted entries are the pattern
        return c.data
    out = np.zeros(c_indices.shape[0], dtype=c.dtype)
    space = _key_space(a_indptr, b_indices, n_cols)
    out[np.searchsorted(_pattern_keys(c_indptr, c_indices, space),
                        _pattern_keys(c.indptr, c.indices, space))] = c.data
    return out


@register("spgemm_backward", "cpu", "cuda", name="generic", fmt="csr")
def _spgemm_backward(a_indptr, a_indices, a_values, b_indptr, b_indices, b_values, c_indptr,
                     c_indices, n_cols: int, g, needs):
    """``(dA_values, dB_values)``: ``dA[i,k] = sum_j G[i,j] B[k,j]`` at A's entries and
    ``dB[k,j] = sum_i A[i,k] G[i,j]`` at B's, summed over the product terms."""
    xp = xp_of(g)
    ea, eb, rows = _pairs(a_indptr, a_indices, b_indptr)
    space = _key_space(a_indptr, b_indices, n_cols)
    gp = g[xp.searchsorted(_pattern_keys(c_indptr, c_indices, space),
                           pair_keys(rows, b_indices[eb], space))]
    ga = gb = None
    if needs[0]:
        ga = xp.bincount(ea, gp * b_values[eb], minlength=a_values.shape[0]).astype(g.dtype)
    if needs[1]:
        gb = xp.bincount(eb, gp * a_values[ea], minlength=b_values.shape[0]).astype(g.dtype)
    return ga, gb


def _spgemm_args(a: SparseTensor, b: SparseTensor, c: Structure):
    sa, sb = a.structure, b.structure
    return (sa.indptr, sa.indices, _contiguous(a.values.array), sb.indptr, sb.indices,
            _contiguous(b.values.array), c.indptr, c.indices, c.shape[1])


class SpGEMM(Function):
    """Values of ``a @ b`` on the precomputed structural pattern ``c``."""

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a.values, b.values)
        ctx.a, ctx.b, ctx.c = a.structure, b.structure, c
        return dispatch("spgemm", ctx.device, "csr")(*_spgemm_args(a, b, c))

    @staticmethod
    def backward(ctx, g):
        va, vb = ctx.saved_tensors
        args = _spgemm_args(SparseTensor(ctx.a, va), SparseTensor(ctx.b, vb), ctx.c)
        ga, gb = dispatch("spgemm_backward", ctx.device, "csr")(
            *args, _contiguous(g.array), ctx.needs_input_grad)
        return ga, gb, None


def _spgemm_structure(device: str, sa: Structure, sb: Structure) -> Structure:
    """The product pattern, built once per pair of structures (cached on ``sa``)."""

    def build():
        indptr, indices = dispatch("spgemm_symbolic", device, "csr")(
            sa.indptr, sa.indices, sb.indptr, sb.indices, sb.shape[1])
        return Structure.csr(indptr, indices, (sa.shape[0], sb.shape[1]), validate=False)

    return sa._cached_with("spgemm", sb, build)


# ---- validation and the public functions -----------------------------------------------------
def _check_sparse(op: str, name: str, a) -> None:
    if not isinstance(a, SparseTensor):
        raise TypeError(f"{op}: expected `{name}` to be a SparseTensor (got {type(a).__name__})")


def _check_dense(op: str, name: str, x, ref, ref_name: str) -> None:
    """``x`` is a Tensor on ``ref``'s device with ``ref``'s dtype (no silent upcast)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected `{name}` to be a Tensor (got {type(x).__name__})")
    if ref.device != x.device:
        raise ValueError(f"{op}: `{ref_name}` is on {ref.device} but `{name}` is on {x.device}; "
                         "use .to() on one")
    if ref.dtype != x.dtype:
        raise TypeError(f"{op}: expected `{ref_name}` values and `{name}` of the same dtype "
                        f"(got {ref.dtype} and {x.dtype}); convert one with .to()")


def _check_values_ndim(op: str, a: SparseTensor) -> None:
    if a.values.ndim > 2:
        raise NotImplementedError(f"{op}: values with more than one dense dim (got shape "
                                  f"{a.values.shape}); use (nnz,) or (nnz, H)")


def spmm(a: SparseTensor, x: Tensor) -> Tensor:
    """Sparse @ dense: ``(N, M)`` @ ``(M, F)`` -> ``(N, F)`` (``x`` may also be ``(M,)``).

    Hybrid values ``(nnz, H)`` with ``x`` of shape ``(M, H, F)`` give ``(N, H, F)`` (one weight
    per head). A COO ``a`` is converted to CSR (cached structure, values permuted).

    Args:
        a: sparse ``(N, M)``; its values may require grad.
        x: dense, same dtype and device as ``a``'s values.

    Returns:
        Dense ``(N, F)``, ``(N,)`` or ``(N, H, F)``.

    Raises:
        TypeError: non-sparse ``a``, non-Tensor ``x``, mixed dtypes.
        ValueError: shape, head or device mismatch.

    Example:
        >>> a = sg.sparse_coo([[0, 1], [1, 0]], [2.0, 3.0], (2, 2))
        >>> spmm(a, sg.ones(2, 1)).tolist()
        [[2.0], [3.0]]
    """
    _check_sparse("spmm", "a", a)
    if isinstance(x, SparseTensor):
        return spgemm(a, x)
    _check_dense("spmm", "x", x, a, "a")
    _check_values_ndim("spmm", a)
    hybrid = a.values.ndim == 2
    if hybrid and x.ndim != 3 or not hybrid and x.ndim not in (1, 2):
        raise ValueError(f"spmm: expected `x` with {'3 dims (M, H, F)' if hybrid else '2 dims'} "
                         f"for values of shape {a.values.shape} (got shape {x.shape})")
    if a.shape[1] != x.shape[0]:
        raise ValueError(f"spmm: expected `x` with {a.shape[1]} rows to match `a` of shape "
                         f"{a.shape[:2]} (got {x.shape[0]})")
    if hybrid and x.shape[1] != a.values.shape[1]:
        raise ValueError(f"spmm: expected `x` with {a.values.shape[1]} heads to match the "
                         f"values of shape {a.values.shape} (got shape {x.shape})")
    if a.layout != "csr":
        a = a.to_csr()
    if x.ndim == 1:
        return SpMM.apply(a, x.reshape((-1, 1))).reshape((-1,))
    return SpMM.apply(a, x)


def sddmm(a: SparseTensor, x: Tensor, y: Tensor) -> SparseTensor:
    """``(X @ Y^T)`` sampled at a's stored entries (PyG/DGL: a's own values are not used).

    Args:
        a: sparse ``(N, M)``; only its structure is read.
        x: ``(N, F)`` or ``(N, H, F)``.
        y: ``(M, F)`` or ``(M, H, F)``.

    Returns:
        A SparseTensor with a's structure (layout and entry order: its values line up with
        ``a.values``), values ``(nnz,)`` or ``(nnz, H)``; differentiable w.r.t. ``x`` and ``y``.

    Raises:
        TypeError: non-sparse ``a``, non-Tensor or mixed-dtype ``x`` / ``y``.
        ValueError: shape or device mismatch.
    """
    _check_sparse("sddmm", "a", a)
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor):
            raise TypeError(f"sddmm: expected `{name}` to be a Tensor (got {type(t).__name__})")
        if t.device != a.device:
            raise ValueError(f"sddmm: `a` is on {a.device} but `{name}` is on {t.device}; "
                             "use .to()")
    if x.dtype != y.dtype:
        raise TypeError(f"sddmm: expected `x` and `y` of the same dtype (got {x.dtype} and "
                        f"{y.dtype}); convert one with .to()")
    if x.ndim not in (2, 3) or y.ndim != x.ndim:
        raise ValueError(f"sddmm: expected `x` and `y` both 2-D (N, F) or both 3-D (N, H, F) "
                         f"(got shapes {x.shape} and {y.shape})")
    if x.shape[0] != a.shape[0] or y.shape[0] != a.shape[1] or x.shape[1:] != y.shape[1:]:
        raise ValueError(f"sddmm: expected `x` with {a.shape[0]} rows and `y` with {a.shape[1]} "
                         f"rows, equal trailing dims, for `a` of shape {a.shape[:2]} (got "
                         f"{x.shape} and {y.shape})")
    csr = a.to_csr() if a.layout != "csr" else a
    return in_own_order(a, SDDMM.apply(csr.structure, x, y))


def spgemm(a: SparseTensor, b: SparseTensor) -> SparseTensor:
    """Sparse @ sparse -> sparse CSR on the structural product pattern.

    The pattern depends on the structures only (entries whose terms cancel stay stored, as
    zeros) and is cached on ``a``'s structure. Gradients reach both operands' values at their
    own stored entries.

    Raises:
        TypeError: non-sparse operands or mixed dtypes. ValueError: inner dims or devices.
        NotImplementedError: hybrid values.
    """
    _check_sparse("spgemm", "a", a)
    _check_sparse("spgemm", "b", b)
    for name, t in (("a", a), ("b", b)):
        if t.values.ndim != 1:
            raise NotImplementedError(f"spgemm: expected 1-D values for `{name}` (got shape "
                                      f"{t.values.shape}); hybrid values are not supported")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"spgemm: expected `b` with {a.shape[1]} rows to match `a` of shape "
                         f"{a.shape} (got {b.shape[0]})")
    if a.device != b.device:
        raise ValueError(f"spgemm: `a` is on {a.device} but `b` is on {b.device}; use .to()")
    if a.dtype != b.dtype:
        raise TypeError(f"spgemm: expected `a` and `b` values of the same dtype (got {a.dtype} "
                        f"and {b.dtype})")
    a, b = (t if t.layout == "csr" else t.to_csr() for t in (a, b))
    device = "cpu" if a.device == "cpu" else "cuda"
    c = _spgemm_structure(device, a.structure, b.structure)
    return SparseTensor(c, SpGEMM.apply(a, b, c))


def sparse_matmul(input, other):
    """``input @ other`` when either side is sparse: spmm, dense @ sparse, or spgemm.

    Dense @ sparse is ``(A^T @ X^T)^T`` through the cached transposed structure.
    """
    if isinstance(input, SparseTensor):
        return spgemm(input, other) if isinstance(other, SparseTensor) else spmm(input, other)
    _check_sparse("matmul", "other", other)
    _check_dense("matmul", "input", input, other, "other")
    if other.values.ndim != 1:
        raise NotImplementedError("matmul: dense @ sparse with hybrid values is not supported")
    if input.ndim not in (1, 2):
        raise ValueError(f"matmul: expected a 1-D or 2-D dense `input` for dense @ sparse (got "
                         f"shape {input.shape})")
    if input.shape[-1] != other.shape[0]:
        raise ValueError(f"matmul: expected `input` with {other.shape[0]} columns to match "
                         f"`other` of shape {other.shape} (got {input.shape[-1]})")
    if input.ndim == 1:
        return spmm(other.T, input)
    return spmm(other.T, input.T).T


try:  # registers the fused numba kernels (spmm_backward among them) when numba imports
    from sparsegraph.ops.sparse_kernels import numba_fused  # noqa: E402,F401
except ImportError:
    pass
