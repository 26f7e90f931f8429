"""Values grouped by an index in PyG's functional form (``torch_geometric.utils``):
`scatter`, `softmax`, `degree` and `one_hot`.

PyG's signatures over the framework's ops (`sparsegraph.ops.scatter`,
`sparsegraph.ops.segment_softmax`, `sparsegraph.ops.degree`): the index stays where it is
(a Tensor on a device is used there), ``src`` keeps its gradient.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.creation import get_default_dtype, ones_like
from sparsegraph.gnn.edge_args import count, host_array
from sparsegraph.tensor import Tensor, host_values, wrap

__all__ = ["degree", "one_hot", "scatter", "softmax"]


def scatter(src: Tensor, index, dim: int = 0, dim_size: int | None = None,
            reduce: str = "sum") -> Tensor:
    """PyG's ``scatter``: reduce the slices of ``src`` along ``dim`` into ``dim_size`` outputs
    by the 1-D ``index`` (PyG's argument order: ``dim`` third, where
    `sparsegraph.ops.scatter` takes ``dim_size``).

    Args:
        src: ``(..., E, ...)`` values, ``E`` along ``dim``; differentiable.
        index: ``(E,)`` output position of every slice.
        dim: the axis reduced. (default: 0)
        dim_size: outputs along ``dim`` (default ``max(index) + 1``).
        reduce: ``"sum"`` (alias ``"add"``), ``"mean"``, ``"max"`` or ``"min"`` (PyG's
            ``"mul"`` / ``"any"`` are not supported); empty outputs are 0, as in PyG; the
            mean of integers is a float (PyG's true division by the count).

    Example:
        >>> scatter(sg.tensor([[1.0, 2.0], [3.0, 4.0]]), [1, 1], 1, 3).tolist()
        [[0.0, 3.0, 0.0], [0.0, 7.0, 0.0]]
    """
    if reduce == "mean" and isinstance(src, Tensor) and src.dtype.kind in "biu":
        # PyG's mean is the sum over the count, a true division: integers give floats
        total = ops.scatter(src, index, dim_size=dim_size, reduce="sum", dim=dim)
        members = ops.scatter(ones_like(src), index, dim_size=dim_size, reduce="sum",
                              dim=dim)
        return total / members.clamp(min=1)
    return ops.scatter(src, index, dim_size=dim_size, reduce=reduce, dim=dim)


def softmax(src: Tensor, index=None, ptr=None, num_nodes: int | None = None,
            dim: int = 0) -> Tensor:
    """PyG's ``softmax``: the softmax of ``src`` within each group of entries along ``dim``
    (GAT's attention over each target's in-edges), numerically stable.

    Args:
        src: floating values, ``E`` entries along ``dim``; differentiable.
        index: ``(E,)`` group of every entry (any order).
        ptr: ``(S + 1,)`` CSR offsets of entries already sorted by group (used over ``index``
            when both are given, as PyG).
        num_nodes: the number of groups for ``index`` (default ``max(index) + 1``).
        dim: the axis of the entries. (default: 0)

    Returns:
        ``src``'s shape; every group sums to 1 along ``dim`` (in each other position).

    Example:
        >>> softmax(sg.tensor([1.0, 1.0, 1.0, 1.0]), sg.tensor([0, 0, 1, 2])).tolist()
        [0.5, 0.5, 1.0, 1.0]
    """
    op = "softmax"
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}: expected `src` to be a Tensor (got {type(src).__name__})")
    if src.ndim < 1 or src.dtype.kind != "f":
        raise (ValueError if src.ndim < 1 else TypeError)(
            f"{op}: expected `src` of floating dtype with at least 1 dim (got "
            f"{src.dtype} of shape {tuple(src.shape)})")
    if isinstance(dim, bool) or not isinstance(dim, Integral) or not (
            -src.ndim <= dim < src.ndim):
        raise ValueError(f"{op}: expected `dim` an int in [{-src.ndim}, {src.ndim - 1}] for "
                         f"`src` of shape {tuple(src.shape)} (got {dim!r})")
    if index is None and ptr is None:
        raise ValueError(f"{op}: expected `index` or `ptr` to group the entries of `src` (got "
                         "neither)")
    dim = int(dim) % src.ndim
    moved = ops.movedim(src, dim, 0) if dim else src
    shape = tuple(moved.shape)
    flat = moved.reshape((shape[0], int(np.prod(shape[1:])))) if len(shape) > 2 else moved
    if ptr is not None:
        result = ops.segment_softmax(flat, indptr=ptr)
    else:
        result = ops.segment_softmax(flat, index=index,
                                     num_segments=count(op, "num_nodes", num_nodes))
    result = result.reshape(shape) if len(shape) > 2 else result
    return ops.movedim(result, 0, dim) if dim else result


def _index(op: str, index):
    """A 1-D integer index as a Tensor (an array or list wrapped on its device)."""
    if isinstance(index, Tensor):
        if index.dtype.kind not in "iu":
            raise TypeError(f"{op}: expected `index` with an integer dtype (got {index.dtype})")
    else:
        array, device = host_array(op, "index", index)
        index = wrap(backend.to_device(np.ascontiguousarray(array), device))
    if index.ndim != 1:
        raise ValueError(f"{op}: expected a 1-D `index` (got shape {tuple(index.shape)})")
    return index


def degree(index, num_nodes: int | None = None, dtype=None) -> Tensor:
    """PyG's ``degree``: how many times each node id occurs in the 1-D ``index``
    (``edge_index[1]``: the in-degree; ``edge_index[0]``: the out-degree).

    Args:
        index: ``(E,)`` node ids.
        num_nodes: ``N`` (default ``max(index) + 1``).
        dtype: the result's dtype (default: the default float, as PyG).

    Returns:
        ``(N,)`` counts on ``index``'s device (no gradient).

    Example:
        >>> degree(sg.tensor([0, 1, 0, 2, 0])).tolist()
        [3.0, 1.0, 1.0]
    """
    op = "degree"
    return ops.degree(_index(op, index), num_nodes=count(op, "num_nodes", num_nodes),
                      dtype=dtype)


class _OneHot(Function):
    """PyG's one-hot rows in ``dtype``, as an op so a static graph runs its range check on
    every call (no gradient: the index is integral)."""

    @staticmethod
    def forward(ctx, index, num_classes: int, dtype):
        idx = index.array
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
            raise ValueError(f"one_hot: expected `index` values in [0, {num_classes}) (got "
                             f"values in [{int(idx.min())}, {int(idx.max())}])")
        xp = backend.xp_of(idx)
        return (idx[:, None] == xp.arange(num_classes)).astype(dtype)


def one_hot(index, num_classes: int | None = None, dtype=None) -> Tensor:
    """PyG's ``one_hot``: the ``(E, C)`` one-hot rows of the 1-D class ids ``index``, built
    directly in ``dtype`` (default: the default float, as PyG; `nn.functional.one_hot` is
    torch's int64 form).

    Args:
        index: ``(E,)`` class ids in ``[0, C)``.
        num_classes: ``C`` (default ``max(index) + 1``).
        dtype: the result's dtype.

    Example:
        >>> one_hot(sg.tensor([0, 2]), 4).tolist()
        [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    """
    op = "one_hot"
    index = _index(op, index)
    dt = backend.as_dtype(get_default_dtype() if dtype is None else dtype)
    c = count(op, "num_classes", num_classes)
    if c is None:
        if index.shape[0] == 0:
            raise ValueError(f"{op}: cannot infer `num_classes` from an empty `index`; pass "
                             "num_classes")
        host_values(index, f"{op}: `num_classes` inferred as max(index) + 1",
                    "Pass `num_classes`")
        c = int(index.array.max()) + 1
    return _OneHot.apply(index, c, dt)
