"""Elementwise work on the stored values of sparse tensors: products with scalars or dense
tensors (sampled at the stored entries), sums of sparse tensors (union of patterns), unary ops,
dropout, reductions and degrees. Zeros stay implicit: nothing here densifies."""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import xp_of
from sparsegraph.ops.gather_scatter import scatter, segment
from sparsegraph.ops.index import getitem
from sparsegraph.ops.shape import cat
from sparsegraph.ops.stochastic import dropout
from sparsegraph.sparse import SparseTensor, Structure
from sparsegraph.tensor import Tensor, wrap

__all__ = ["sparse_mul", "sparse_add", "sparse_apply", "sparse_relu", "sparse_exp",
           "sparse_dropout", "sparse_sum", "degree"]


def _check(op, a):
    if not isinstance(a, SparseTensor):
        raise TypeError(f"{op}: expected a SparseTensor (got {type(a).__name__})")


def _sample_dense(a: SparseTensor, other: Tensor) -> Tensor:
    """``other`` broadcast to a's shape, read at a's stored entries only (differentiable)."""
    shape = a.shape
    if other.ndim > len(shape):
        raise ValueError(f"sparse_mul: `other` of shape {other.shape} has more dims than the "
                         f"sparse tensor {shape}")
    full = (1,) * (len(shape) - other.ndim) + tuple(other.shape)
    try:
        np.broadcast_shapes(full, shape)
    except ValueError:
        raise ValueError(f"sparse_mul: `other` of shape {other.shape} cannot be broadcast to "
                         f"{shape}") from None
    o = other.reshape(full)
    s = a.structure
    key = (s.rows() if full[0] != 1 else 0, s.cols() if full[1] != 1 else 0)
    sampled = getitem(o, key + (slice(None),) * (len(full) - 2))
    if full[0] == 1 and full[1] == 1:
        sampled = sampled.reshape((1,) + tuple(full[2:]))
    return sampled


def sparse_mul(a: SparseTensor, other) -> SparseTensor:
    """``a * other`` for a scalar or a dense tensor broadcastable to ``a.shape``.

    The result keeps a's structure (zeros stay zeros); gradients reach both a's values and the
    dense operand (at the stored entries).
    """
    _check("sparse_mul", a)
    if isinstance(other, SparseTensor):
        raise NotImplementedError("sparse_mul: sparse * sparse is not supported; use "
                                  "sparse_add for unions or spgemm for products")
    if isinstance(other, Tensor):
        if other.dtype != a.dtype:
            raise TypeError(f"sparse_mul: expected `other` of dtype {a.dtype} (got "
                            f"{other.dtype})")
        return a.with_values(a.values * _sample_dense(a, other))
    if not isinstance(other, int | float | np.number):
        raise TypeError(f"sparse_mul: expected a number or Tensor (got {type(other).__name__})")
    return a.with_values(a.values * other)


def sparse_add(a: SparseTensor, b) -> SparseTensor | Tensor:
    """``a + b``: the union of two sparse patterns (duplicates summed), or dense if ``b`` is
    dense. Adding a non-zero scalar would fill every zero, so it is refused."""
    _check("sparse_add", a)
    if isinstance(b, Tensor):
        return a.to_dense() + b
    if not isinstance(b, SparseTensor):
        raise TypeError(f"sparse_add: expected a SparseTensor or dense Tensor (got "
                        f"{type(b).__name__}); adding a scalar would densify, use "
                        "a.to_dense() + value")
    if a.shape != b.shape:
        raise ValueError(f"sparse_add: expected operands of one shape (got {a.shape} and "
                         f"{b.shape})")
    if a.dtype != b.dtype:
        raise TypeError(f"sparse_add: expected operands of one dtype (got {a.dtype} and "
                        f"{b.dtype})")
    sa, sb = a.structure, b.structure
    xp = xp_of(sa.cols())
    rows = xp.concatenate([sa.rows(), sb.rows()])
    cols = xp.concatenate([sa.cols(), sb.cols()])
    union = SparseTensor(Structure.coo(rows, cols, sa.shape, validate=False),
                         cat([a.values, b.values]))
    from sparsegraph.ops.sparse_conversion import coalesce

    return coalesce(union)


def sparse_apply(a: SparseTensor, fn) -> SparseTensor:
    """``fn`` applied to the stored values (use for ops with ``fn(0) == 0``)."""
    _check("sparse_apply", a)
    return a.with_values(fn(a.values))


def sparse_relu(a: SparseTensor) -> SparseTensor:
    from sparsegraph.ops.activation import relu

    return sparse_apply(a, relu)


def sparse_exp(a: SparseTensor) -> SparseTensor:
    """exp of the stored values (implicit zeros stay zero: a masked exp, as in attention)."""
    from sparsegraph.ops.elementwise import exp

    return sparse_apply(a, exp)


def sparse_dropout(a: SparseTensor, p: float = 0.5, training: bool = True,
                   generator=None) -> SparseTensor:
    """Dropout on the stored values only (e.g. Cora's 1.3 %-dense features)."""
    _check("sparse_dropout", a)
    if not training or p == 0.0:
        return a
    return a.with_values(dropout(a.values, p, training, generator))


def sparse_sum(a: SparseTensor, dim=None):
    """Sum of all stored values (``dim=None``), per row (``dim=1``) or per column (``dim=0``).

    Returns a dense Tensor: ``()``, ``(N, *dense)`` or ``(M, *dense)``.
    """
    _check("sparse_sum", a)
    if dim is None:
        return a.values.sum(dim=0) if a.values.ndim > 1 else a.values.sum()
    if dim == 1 and a.layout == "csr":
        return segment(a.values, a.structure.indptr, "sum")
    if dim not in (0, 1):
        raise ValueError(f"sparse_sum: expected `dim` in (None, 0, 1) (got {dim!r})")
    s = a.structure
    return scatter(a.values, s.cols() if dim == 0 else s.rows(), s.shape[1 - dim], "sum")


def degree(a: SparseTensor, dim: int = 1, dtype="float32") -> Tensor:
    """Stored entries per row (``dim=1``, in-degree of a target-major adjacency) or column."""
    _check("degree", a)
    return wrap(a.structure.degree(dim).astype(np.dtype(dtype)))


