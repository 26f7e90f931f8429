"""Elementwise work on the stored values of sparse tensors: products with scalars or dense
tensors (sampled at the stored entries), sums of sparse tensors (union of patterns), any dense op
mapped over the values, dropout, reductions and degrees. Zeros stay implicit: nothing here
densifies. These are composites of dense ops on ``values`` (no gradient code of their own)."""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.backend import as_dtype, result_type, xp_of
from sparsegraph.ops._util import broadcasts_to
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


def _merged(a: SparseTensor, nonlinear: bool = False) -> SparseTensor:
    """``a`` coalesced when its duplicates would otherwise disagree with ``to_dense``: always
    for ``nonlinear`` maps (relu(2) + relu(-3) is not relu(-1); PyTorch coalesces too), and for
    bool values, whose duplicates OR together, before anything that counts or scales them.
    The layout is kept either way (`coalesce` keeps it), so it never depends on the data."""
    from sparsegraph.ops.sparse_conversion import coalesce, has_duplicates

    if (nonlinear or a.dtype == np.bool_) and has_duplicates(a):
        return coalesce(a)
    return a


def _sample_dense(a: SparseTensor, other: Tensor) -> Tensor:
    """``other`` broadcast to a's shape, read at a's stored entries only (differentiable)."""
    shape = a.shape
    if other.ndim > len(shape):
        raise ValueError(f"sparse_mul: expected `other` with at most {len(shape)} dims to "
                         f"broadcast to {shape} (got shape {other.shape})")
    full = (1,) * (len(shape) - other.ndim) + tuple(other.shape)
    if not broadcasts_to(full, shape):
        raise ValueError(f"sparse_mul: expected `other` broadcastable to {shape} (got shape "
                         f"{other.shape})")
    o = other.reshape(full)
    s = a.structure
    key = (s.rows() if full[0] != 1 else 0, s.cols() if full[1] != 1 else 0)
    sampled = getitem(o, key + (slice(None),) * (len(full) - 2))
    if full[0] == 1 and full[1] == 1:  # no index array: one value for every entry
        sampled = sampled.reshape((1,) + tuple(full[2:]))
    return sampled


def sparse_mul(a: SparseTensor, other) -> SparseTensor:
    """``a * other`` for a scalar or a dense tensor broadcastable to ``a.shape``.

    The result keeps a's structure (zeros stay zeros); a dense ``other`` is read only at the
    stored entries, and gradients reach both a's values and ``other`` (at those entries).

    Dtypes promote as in ``dense * dense`` (PyTorch's rule, `sparsegraph.backend.result_type`):
    float32 values times an int64 tensor stay float32, float32 times float64 gives float64.

    Raises:
        TypeError: a sparse or non-numeric ``other``.
        ValueError: a shape that does not broadcast to ``a.shape``, or another device.

    Example:
        >>> a = sg.sparse_coo([[0, 1], [1, 0]], [2.0, 3.0], (2, 2))
        >>> sparse_mul(a, sg.tensor([[10.0], [100.0]])).values.tolist()
        [20.0, 300.0]
    """
    _check("sparse_mul", a)
    if isinstance(other, SparseTensor):
        raise TypeError("sparse_mul: expected a number or dense Tensor `other` (got a "
                        "SparseTensor); use sparse_add for unions or spgemm for products")
    if isinstance(other, Tensor):
        if other.device != a.device:
            raise ValueError(f"sparse_mul: `a` is on {a.device} but `other` is on "
                             f"{other.device}; use .to()")
        a = _merged(a)
        # the dtype of a.to_dense() * other (a 0-d other is weak there, but not once sampled)
        dt = result_type(a.values, other)
        values = a.values if a.dtype == dt else a.values.to(dt)
        return a.with_values(values * _sample_dense(a, other if other.dtype == dt
                                                    else other.to(dt)))
    if not isinstance(other, int | float | np.number | np.bool_) or isinstance(other, complex):
        raise TypeError(f"sparse_mul: expected a number or Tensor (got {type(other).__name__} "
                        f"{other!r})")
    a = _merged(a)
    # a Python scalar keeps the values' dtype (a numpy float64 scalar would upcast float32)
    return a.with_values(a.values * (other.item() if isinstance(other, np.generic) else other))


def sparse_add(a: SparseTensor, b) -> SparseTensor | Tensor:
    """``a + b``: the union of two sparse patterns (coalesced, CSR), or dense if ``b`` is dense.

    Gradients reach both value sets. The union structure is built once per pair of structures
    (cached on a's); two tensors sharing one structure just add their values. Adding a scalar
    would fill every zero, so it is refused. Dtypes promote as in ``dense + dense``.

    Raises:
        TypeError: a scalar or non-tensor ``b``. ValueError: shapes or devices.
    """
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
    if a.device != b.device:
        raise ValueError(f"sparse_add: operands are on different devices ({a.device} and "
                         f"{b.device}); use .to()")
    if a.dtype != b.dtype:  # the dense rule: float32 + float64 -> float64, int + float -> float
        dt = result_type(a.values, b.values)
        a, b = (t if t.dtype == dt else t.with_values(t.values.to(dt)) for t in (a, b))
    from sparsegraph.ops.sparse_conversion import coalesce

    sa, sb = a.structure, b.structure
    if sa is sb:  # the values add entry by entry; the result is coalesced CSR all the same
        return coalesce(a.with_values(a.values + b.values)).to_csr()

    def build():
        xp = xp_of(sa.cols())
        return Structure.coo(xp.concatenate([sa.rows(), sb.rows()]),
                             xp.concatenate([sa.cols(), sb.cols()]), sa.shape, validate=False)

    # the union structure is cached, and with it its coalesced forms (the COO one's CSR form
    # is the coalesced CSR in the same order: to_csr moves nothing)
    union = SparseTensor(sa._cached_with("union", sb, build), cat([a.values, b.values]))
    return coalesce(union).to_csr()


def sparse_apply(a: SparseTensor, fn) -> SparseTensor:
    """``fn`` mapped over the stored values (any dense op; meant for ``fn(0) == 0``, since
    implicit zeros are not visited). Differentiable through ``fn``. Duplicate entries are
    summed first, so ``fn`` sees the value ``to_dense`` has at each position: the result then
    has ``a.coalesce()``'s structure (sorted, unique; a COO input stays COO, a CSR input CSR),
    else ``a``'s. Either way the layout is ``a``'s.

    Example:
        >>> a = sg.sparse_coo([[0, 1], [1, 0]], [-2.0, 3.0], (2, 2))
        >>> sparse_apply(a, sg.ops.relu).values.tolist()
        [0.0, 3.0]
    """
    _check("sparse_apply", a)
    if not callable(fn):
        raise TypeError(f"sparse_apply: expected a callable `fn` mapping the values Tensor to a "
                        f"Tensor (got {type(fn).__name__})")
    a = _merged(a, nonlinear=True)
    out = fn(a.values)
    if not isinstance(out, Tensor) or out.shape[:1] != a.values.shape[:1]:
        raise ValueError(f"sparse_apply: expected `fn` to return a Tensor with {a.nnz} rows, "
                         f"one per stored entry (got {getattr(out, 'shape', type(out).__name__)})")
    return a.with_values(out)


def sparse_relu(a: SparseTensor) -> SparseTensor:
    """ReLU of the stored values."""
    from sparsegraph.ops.activation import relu

    return sparse_apply(a, relu)


def sparse_exp(a: SparseTensor) -> SparseTensor:
    """exp of the stored values (implicit zeros stay zero: a masked exp, as in attention)."""
    from sparsegraph.ops.elementwise import exp

    return sparse_apply(a, exp)


def sparse_dropout(a: SparseTensor, p: float = 0.5, training: bool = True,
                   generator=None) -> SparseTensor:
    """Inverted dropout on the stored values only (e.g. Cora's 1.3 %-dense features), keeping
    the structure: a dropped entry stays stored, as 0. Identity when not ``training``.

    Raises:
        ValueError: ``p`` outside [0, 1].
    """
    _check("sparse_dropout", a)
    if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating) or (
            not 0.0 <= p <= 1.0):
        raise ValueError(f"sparse_dropout: expected `p` in [0, 1] (got {p!r})")
    values = dropout(a.values, p, training, generator)
    return a if values is a.values else a.with_values(values)


def _sparse_dim(op: str, a: SparseTensor, dim) -> int:
    nd = a.ndim
    if not isinstance(dim, int | np.integer) or not -nd <= dim < nd or int(dim) % nd > 1:
        allowed = "0 or 1" if op == "degree" else "None, 0 or 1"  # degree has no total
        raise ValueError(f"{op}: expected `dim` {allowed} (a sparse dim of a tensor of shape "
                         f"{a.shape}) (got {dim!r})")
    return int(dim) % nd


def sparse_sum(a: SparseTensor, dim=None):
    """Sum of the stored values: all of them (``dim=None``, like the dense sum), per row
    (``dim=1``) or per column (``dim=0``). Duplicates count, as in ``to_dense``.

    Returns:
        A dense Tensor: ``()``, ``(N, *dense)`` or ``(M, *dense)``.

    Example:
        >>> a = sg.sparse_coo([[0, 0, 1], [0, 1, 1]], [1.0, 2.0, 3.0], (2, 2))
        >>> sparse_sum(a, 1).tolist(), sparse_sum(a, 0).tolist(), sparse_sum(a).item()
        ([3.0, 3.0], [1.0, 5.0], 6.0)
    """
    _check("sparse_sum", a)
    a = _merged(a)
    if dim is None:
        return a.values.sum()
    dim = _sparse_dim("sparse_sum", a, dim)
    s = a.structure
    # the dense sum's rule (torch's): integer and bool values sum to int64
    values = a.values if a.dtype.kind == "f" or a.dtype == np.int64 else a.values.to("int64")
    if dim == 1 and a.layout == "csr":
        return segment(values, s.indptr, "sum")
    return scatter(values, s.cols() if dim == 0 else s.rows(), s.shape[1 - dim], "sum")


def degree(a, dim: int | None = None, dtype=None, *, num_nodes: int | None = None) -> Tensor:
    """Stored entries per row (``dim=1``, the default: the in-degree of a target-major
    adjacency) or per column (``dim=0``: out-degree) of a SparseTensor ``a``; cached on the
    structure, no gradient. PyG's form ``degree(index, num_nodes=None, dtype=None)`` works too:
    for a 1-D integer Tensor or array ``a`` (``edge_index[1]``), the count of each value, the
    second argument (or ``num_nodes=``) being the number of nodes (default: ``max + 1``).
    ``dtype``: the default float type unless given.

    Example:
        >>> degree(sg.sparse_coo([[0, 0, 1], [0, 1, 1]], None, (2, 2))).tolist()
        [2.0, 1.0]
        >>> degree(sg.tensor([1, 0, 1]), 3).tolist()
        [1.0, 2.0, 0.0]
    """
    dt = as_dtype(backend.DEFAULT_FLOAT if dtype is None else dtype)  # names a bad `dtype`
    if not isinstance(a, SparseTensor) and getattr(a, "ndim", None) == 1 and getattr(
            a, "dtype", np.dtype(np.float64)).kind in "iu":
        if dim is not None and num_nodes is not None:
            raise TypeError(f"degree: expected the number of nodes once, as the second "
                            f"argument or num_nodes= (got {dim} and num_nodes={num_nodes})")
        index = a if isinstance(a, Tensor) else wrap(a)
        size = num_nodes if dim is None else dim  # PyG's degree(index, num_nodes)
        ones = wrap(index.xp.ones(index.shape[0], dt))
        return scatter(ones, index, size, "sum")
    if num_nodes is not None:
        raise TypeError("degree: num_nodes= is for PyG's degree(index, num_nodes); a "
                        "SparseTensor knows its size")
    _check("degree", a)
    return wrap(a.structure.degree(_sparse_dim("degree", a, 1 if dim is None else dim))
                .astype(dt))
