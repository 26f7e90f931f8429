"""Selecting parts of a tensor by pattern: `repeat_interleave`, `masked_select`, `tril` / `triu`,
`diagonal`, `diag`. Each is a composite of differentiable ops (`index_select`, `getitem`,
`masked_fill`, `expand`), so its gradient is theirs; the index or mask is built on the input's
device with its array module.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import to_device
from sparsegraph.ops._util import check_int_arg, check_tensor, norm_dim, operand_array
from sparsegraph.ops.index import getitem, index_select, masked_fill
from sparsegraph.ops.shape import expand, permute, reshape
from sparsegraph.tensor import Tensor, host_values, wrap

__all__ = ["repeat_interleave", "masked_select", "tril", "triu", "diagonal", "diag"]


def _repeats(repeats, size: int, dim) -> np.ndarray:
    """``repeats`` (an int or a 1-D integer Tensor / array / list) as a host int64 array of
    ``size`` counts, each >= 0 (a length-1 one broadcasts, as torch's)."""
    op = "repeat_interleave"
    if isinstance(repeats, int | np.integer) and not isinstance(repeats, bool):
        reps = np.full(size, int(repeats), dtype=np.int64)
    else:
        if not isinstance(repeats, Tensor | list | tuple) and not hasattr(repeats, "dtype"):
            raise TypeError(f"{op}: expected `repeats` to be an int or a 1-D integer Tensor "
                            f"(got {type(repeats).__name__})")
        # the output's length is the sum of the counts: a static trace guards their values
        reps = np.asarray(to_device(host_values(repeats, f"{op}: `repeats`"), "cpu"))
        if reps.size == 0 and reps.dtype.kind == "f":
            reps = reps.astype(np.int64)
        if reps.dtype.kind not in "iu":
            raise TypeError(f"{op}: expected an integer `repeats` (got {reps.dtype})")
        if reps.ndim > 1:
            raise ValueError(f"{op}: expected `repeats` to be 0-d or 1-D (got shape "
                             f"{reps.shape})")
        reps = reps.reshape(-1).astype(np.int64)
        if reps.size == 1:
            reps = np.full(size, reps[0], dtype=np.int64)
        elif reps.size != size:
            where = "the flattened input" if dim is None else f"dim {dim}"
            raise ValueError(f"{op}: expected `repeats` with {size} entries, the size of "
                             f"{where} (got {reps.size})")
    if reps.size and reps.min() < 0:
        raise ValueError(f"{op}: expected non-negative `repeats` (got {int(reps.min())})")
    return reps


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None) -> Tensor:
    """Each element (``dim=None``: of the flattened ``input``) or each slice along ``dim``
    repeated ``repeats`` times in place: ``[a, b]`` with repeats 2 is ``[a, a, b, b]``.

    Args:
        input: any tensor; shape ``(..., n, ...)`` with ``n`` along ``dim``.
        repeats: an int, or a 1-D integer Tensor of ``n`` counts (or of one, broadcast).
            ``repeat_interleave(counts)`` alone (torch's form) repeats ``i`` ``counts[i]``
            times: ``[2, 1]`` gives ``[0, 0, 1]``.
        dim: the dim to repeat along; None flattens ``input`` first.

    Returns:
        ``input``'s shape with ``dim`` of size ``sum(repeats)`` (1-D for ``dim=None``),
        differentiable (an `index_select`).

    Raises:
        TypeError: for a non-integer ``repeats`` or ``dim``.
        ValueError: for negative counts or a ``repeats`` of the wrong length.
    """
    check_tensor("repeat_interleave", "input", input)
    if repeats is None:  # torch.repeat_interleave(repeats): the indices repeated
        if input.dtype.kind not in "iu" or input.ndim > 1:
            raise ValueError(f"repeat_interleave: expected `repeats` alone to be a 1-D integer "
                             f"Tensor (got {input.dtype} of shape {input.shape})")
        reps = _repeats(input, input.numel(), None)
        return wrap(input.xp.asarray(np.repeat(np.arange(reps.size, dtype=np.int64), reps)))
    if dim is None:
        input, d = reshape(input, (-1,)), 0
    else:
        if input.ndim == 0:
            input = reshape(input, (1,))
        d = norm_dim("repeat_interleave", dim, input.ndim)
    reps = _repeats(repeats, input.shape[d], dim)
    index = np.repeat(np.arange(reps.size, dtype=np.int64), reps)
    return index_select(input, d, index)


def masked_select(input: Tensor, mask) -> Tensor:
    """The elements of ``input`` where the bool ``mask`` is true, as a 1-D tensor in row-major
    order; ``input`` and ``mask`` broadcast against each other (torch's rule).

    Raises:
        TypeError: for a non-bool ``mask``.
        ValueError: for shapes that do not broadcast, or a mask on another device.
    """
    check_tensor("masked_select", "input", input)
    m = operand_array("masked_select", "mask", mask, "input", input)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: expected a bool `mask` (got {m.dtype})")
    try:
        shape = np.broadcast_shapes(input.shape, m.shape)
    except ValueError:
        raise ValueError(f"masked_select: `mask` of shape {m.shape} and `input` of shape "
                         f"{input.shape} do not broadcast") from None
    x = input if input.shape == shape else expand(input, shape)
    m = m if m.shape == shape else input.xp.broadcast_to(m, shape)
    return reshape(getitem(x, m), (-1,))


def _triangle(op: str, input: Tensor, diagonal, lower: bool) -> Tensor:
    check_tensor(op, "input", input)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected a tensor with at least 2 dims (got {input.ndim})")
    k = check_int_arg(op, "diagonal", diagonal)
    n, m = input.shape[-2:]
    xp = input.xp
    # keep[i, j]: j - i <= k (tril) or j - i >= k (triu), broadcast over the leading dims
    drop = ~xp.tri(n, m, k, dtype=bool) if lower else xp.tri(n, m, k - 1, dtype=bool)
    return masked_fill(input, drop, 0)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims of ``input`` (shape ``(..., n, m)``): entries
    with ``j - i <= diagonal`` kept, the rest zero (a new tensor; differentiable)."""
    return _triangle("tril", input, diagonal, lower=True)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims of ``input`` (shape ``(..., n, m)``): entries
    with ``j - i >= diagonal`` kept, the rest zero (a new tensor; differentiable)."""
    return _triangle("triu", input, diagonal, lower=False)


def _diagonal_index(n: int, m: int, offset: int):
    """Row and column indices of diagonal ``offset`` of an ``n x m`` matrix."""
    r0, c0 = max(-offset, 0), max(offset, 0)
    length = max(0, min(n - r0, m - c0))
    steps = np.arange(length, dtype=np.int64)
    return steps + r0, steps + c0


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """Diagonal ``offset`` (> 0 above the main one) of the matrices in dims ``dim1``, ``dim2``:
    those dims removed and the diagonal appended as the last dim, as torch's.

    Shape ``(..., n, ..., m, ...)`` gives ``(..., L)``, ``L`` the diagonal's length. Unlike
    torch's (a view), the result is a copy (an integer-array `getitem`): writing it does not
    change ``input``. Differentiable.

    Raises:
        ValueError: for fewer than 2 dims, or ``dim1`` and ``dim2`` the same dim.
    """
    check_tensor("diagonal", "input", input)
    if input.ndim < 2:
        raise ValueError(f"diagonal: expected a tensor with at least 2 dims (got {input.ndim})")
    return _take_diagonal(input, check_int_arg("diagonal", "offset", offset), dim1, dim2)


def _take_diagonal(input: Tensor, offset: int, dim1, dim2) -> Tensor:
    d1, d2 = norm_dim("diagonal", dim1, input.ndim), norm_dim("diagonal", dim2, input.ndim)
    if d1 == d2:
        raise ValueError(f"diagonal: expected `dim1` and `dim2` to be different dims (got "
                         f"{dim1} and {dim2})")
    rest = tuple(d for d in range(input.ndim) if d not in (d1, d2))
    x = permute(input, rest + (d1, d2)) if rest + (d1, d2) != tuple(range(input.ndim)) else input
    rows, cols = _diagonal_index(input.shape[d1], input.shape[d2], offset)
    return getitem(x, (Ellipsis, rows, cols))


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """torch's ``diag``: a 1-D ``input`` of length ``n`` becomes the square matrix (size
    ``n + |diagonal|``) with ``input`` on diagonal ``diagonal``, zeros elsewhere; a 2-D
    ``input`` gives its diagonal ``diagonal`` as a 1-D tensor (see `diagonal`, a copy).
    Differentiable.

    Raises:
        ValueError: for an ``input`` that is not 1-D or 2-D.
    """
    check_tensor("diag", "input", input)
    k = check_int_arg("diag", "diagonal", diagonal)
    if input.ndim == 2:
        return _take_diagonal(input, k, 0, 1)
    if input.ndim != 1:
        raise ValueError(f"diag: expected a 1-D or 2-D tensor (got {input.ndim} dims)")
    length = input.shape[0]
    size = length + abs(k)
    rows, cols = _diagonal_index(size, size, k)
    # entry (i, j) reads input[pick[i, j]] (0 off the diagonal), then off-diagonal ones are zeroed
    pick = np.zeros((size, size), dtype=np.int64)
    pick[rows, cols] = np.arange(length, dtype=np.int64)
    on = np.zeros((size, size), dtype=bool)
    on[rows, cols] = True
    if length == 0:  # nothing to read: the all-zero matrix, still attached to input's graph
        return expand(reshape(input.sum(), (1, 1)) * 0, (size, size))
    return masked_fill(getitem(input, pick), ~on, 0)
