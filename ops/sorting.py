"""Sorting and selection: `sort`, `argsort`, `topk`, `median`, `kthvalue` (torch's arguments
and return types).

One kernel sorts (always stably, so ``stable=True`` costs nothing extra and ties keep their
order); ``descending`` sorts the reversed slice and reverses the result, so ties still keep
their order and nan sorts as the largest value, as in torch. The gradient of the values is
scattered back to the positions they came from; indices have no gradient.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from sparsegraph.backend import xp_of
from sparsegraph.creation import full
from sparsegraph.kernels import register
from sparsegraph.numpy_compat import numpy_args
from sparsegraph.ops._util import check_bool, check_tensor, norm_dim
from sparsegraph.ops.extrema import SelectAll, SelectDim
from sparsegraph.tensor import Tensor

__all__ = ["sort", "argsort", "topk", "median", "kthvalue"]

SortResult = namedtuple("sort", ["values", "indices"])
SortResult.__doc__ = "``(values, indices)`` returned by `sort` (as torch.return_types.sort)."
TopKResult = namedtuple("topk", ["values", "indices"])
TopKResult.__doc__ = "``(values, indices)`` returned by `topk` (as torch.return_types.topk)."
MedianResult = namedtuple("median", ["values", "indices"])
MedianResult.__doc__ = ("``(values, indices)`` returned by `median` with a ``dim`` (as "
                        "torch.return_types.median).")
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
KthvalueResult.__doc__ = ("``(values, indices)`` returned by `kthvalue` (as "
                          "torch.return_types.kthvalue).")


# ---- kernels ---------------------------------------------------------------------------------
@register("sort", "cpu", "cuda")
def _sort_kernel(x, dim, descending, k):
    """``(values, int64 indices)`` of the first ``k`` (None: all) of ``x`` sorted along
    ``dim``; stable in both directions."""
    xp = xp_of(x)
    if descending:
        n = x.shape[dim]
        rev = xp.flip(x, dim)
        idx = xp.flip(xp.argsort(rev, axis=dim, kind="stable"), dim)
        idx = (n - 1) - idx  # positions in the reversed slice -> positions in x
    else:
        idx = xp.argsort(x, axis=dim, kind="stable")
    if k is not None:
        idx = idx[(slice(None),) * dim + (slice(0, k),)]
    idx = idx.astype(np.int64, copy=False)
    return xp.take_along_axis(x, idx, dim), idx


@register("median_dim", "cpu", "cuda")
def _median_dim_kernel(x, dim):
    """``(values, int64 indices)``, ``dim`` kept, of the lower median along ``dim``: the element
    at position ``(n - 1) // 2`` of the stable sort; in a slice holding a nan, its first nan
    (torch's median propagates nan)."""
    xp = xp_of(x)
    order = xp.argsort(x, axis=dim, kind="stable")  # nan sorts last
    idx = xp.take(order, [(x.shape[dim] - 1) // 2], axis=dim)
    if x.dtype.kind == "f":
        nan = xp.isnan(x)
        has_nan = nan.any(axis=dim, keepdims=True)
        if has_nan.any():
            idx = xp.where(has_nan, nan.argmax(axis=dim, keepdims=True), idx)
    idx = idx.astype(np.int64, copy=False)
    return xp.take_along_axis(x, idx, dim), idx


@register("kthvalue", "cpu", "cuda")
def _kthvalue_kernel(x, dim, k):
    """``(values, int64 indices)``, ``dim`` kept, of the ``k``-th smallest (1-based) along
    ``dim``: position ``k - 1`` of the stable sort (nan sorts as the largest value)."""
    xp = xp_of(x)
    idx = xp.take(xp.argsort(x, axis=dim, kind="stable"), [k - 1], axis=dim)
    idx = idx.astype(np.int64, copy=False)
    return xp.take_along_axis(x, idx, dim), idx


# ---- Functions: elements selected (ops/extrema.py), by the kernels above -----------------------
class Sort(SelectDim):
    """Sorted values and their indices along ``dim`` (the first ``k`` when ``k`` is given)."""


class MedianDim(SelectDim):
    """The lower median along ``dim`` and its index; the gradient goes to that index (torch's
    rule for the overload with a dim)."""


class Kthvalue(SelectDim):
    """The ``k``-th smallest along ``dim`` and its index; the gradient goes to that index."""


class MedianAll(SelectAll):
    """The lower median of all elements; tied elements share the gradient evenly (torch's
    ``evenly_distribute_backward``, as `max()` without a dim)."""


# ---- public functions --------------------------------------------------------------------------
def _sorted(input, dim, descending: bool, k):
    """Run `Sort`; a 0-d tensor is sorted as a 1-element vector and reshaped back."""
    if input.ndim == 0:
        values, idx = Sort.apply(input.reshape((1,)), "sort", 0, True, (descending, k))
        return (values, idx) if k == 0 else (values.reshape(()), idx.reshape(()))
    return Sort.apply(input, "sort", dim, True, (descending, k))


@numpy_args
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sort ``input`` along ``dim``; a ``(values, indices)`` namedtuple, as torch's.

    Args:
        input: any tensor (floating tensors get a gradient through ``values``).
        dim: the dim to sort along. (default: -1)
        descending: largest first. (default: False)
        stable: keep the order of equal elements (always done here). (default: False)

    Returns:
        ``values`` (input's shape and dtype) and int64 ``indices`` with
        ``values == input.gather(dim, indices)``. nan sorts as the largest value.

    Raises:
        TypeError: ``input`` not a Tensor, ``dim`` not an int, or a flag not a bool.
        ValueError: ``dim`` out of range.
    """
    check_tensor("sort", "input", input)
    d = norm_dim("sort", dim, input.ndim)
    check_bool("sort", "stable", stable)
    values, indices = _sorted(input, d, check_bool("sort", "descending", descending), None)
    return SortResult(values, indices)


@numpy_args
def argsort(input: Tensor, dim: int = -1, descending: bool = False,
            stable: bool = False) -> Tensor:
    """int64 indices that sort ``input`` along ``dim`` (`sort`'s ``indices``; no gradient)."""
    check_tensor("argsort", "input", input)
    d = norm_dim("argsort", dim, input.ndim)
    check_bool("argsort", "stable", stable)
    return _sorted(input, d, check_bool("argsort", "descending", descending), None)[1]



def _check_k(op: str, k, lowest: int, input: Tensor, d: int) -> None:
    """``k`` an int in ``[lowest, input.shape[d]]`` (a 0-d tensor has one element)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"{op}: expected `k` to be an int (got {type(k).__name__} {k!r})")
    n = input.shape[d] if input.ndim else 1
    if not lowest <= k <= n:
        raise ValueError(f"{op}: expected `k` in [{lowest}, {n}] for dim {d} of a tensor of "
                         f"shape {input.shape} (got {k})")

@numpy_args
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim``; ``(values, indices)``.

    The values come sorted (largest first, or smallest first with ``largest=False``) whatever
    ``sorted`` says (torch leaves the order unspecified when False); among equal values the
    first one wins. The gradient of ``values`` goes back to the picked positions.

    Raises:
        TypeError: ``input`` not a Tensor, ``k`` not an int, or a flag not a bool.
        ValueError: ``dim`` out of range, or ``k`` not in ``[0, input.shape[dim]]``.
    """
    check_tensor("topk", "input", input)
    d = norm_dim("topk", dim, input.ndim)
    check_bool("topk", "sorted", sorted)
    largest = check_bool("topk", "largest", largest)
    _check_k("topk", k, 0, input, d)
    values, indices = _sorted(input, d, largest, int(k))
    return TopKResult(values, indices)


@numpy_args
def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The median, as torch's: for an even count the LOWER of the two middle values (no
    average); a nan anywhere in the reduced elements makes it nan.

    Without ``dim``: a 0-d tensor over all elements; tied elements share the gradient evenly
    (nan for an empty floating tensor, as torch). With an int ``dim``: a ``(values, indices)``
    namedtuple; the gradient goes to ``indices`` (among ties, the first in sorted order; in a
    slice with nan, its first nan).

    Raises:
        TypeError: ``input`` not a Tensor, ``dim`` not an int, or ``keepdim`` not a bool.
        ValueError: ``dim`` out of range or of size 0, or an empty integer tensor.
    """
    check_tensor("median", "input", input)
    keepdim = check_bool("median", "keepdim", keepdim)
    if dim is None:
        if input.array.size == 0:
            if input.dtype.kind != "f":
                raise ValueError(f"median: expected a non-empty tensor (got shape "
                                 f"{input.shape} of {input.dtype})")
            return full((), np.nan, dtype=input.dtype, device=input.device)
        return MedianAll.apply(input, "median_dim")
    d = norm_dim("median", dim, input.ndim)
    if input.ndim == 0:  # torch: the value itself and index 0
        return MedianResult(*MedianDim.apply(input.reshape((1,)), "median_dim", 0, False))
    if input.shape[d] == 0:
        raise ValueError(f"median: expected a non-empty dim {d} (got shape {input.shape})")
    return MedianResult(*MedianDim.apply(input, "median_dim", d, keepdim))


@numpy_args
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest element along ``dim`` (``k`` counts from 1) and its index, a
    ``(values, indices)`` namedtuple, as torch.kthvalue. Among equal values the first in
    ``input``'s order wins; nan counts as the largest value. The gradient of ``values`` goes
    to ``indices``.

    Args:
        input: any tensor (a 0-d tensor takes ``k = 1``).
        k: the rank, in ``[1, input.shape[dim]]``.
        dim: the dim to select along. (default: -1)
        keepdim: keep ``dim`` with size 1. (default: False)

    Raises:
        TypeError: ``input`` not a Tensor, ``k`` / ``dim`` not ints, ``keepdim`` not a bool.
        ValueError: ``dim`` out of range, or ``k`` out of ``[1, input.shape[dim]]``.
    """
    check_tensor("kthvalue", "input", input)
    d = norm_dim("kthvalue", dim, input.ndim)
    keepdim = check_bool("kthvalue", "keepdim", keepdim)
    _check_k("kthvalue", k, 1, input, d)
    if input.ndim == 0:  # torch: the value itself and index 0
        return KthvalueResult(*Kthvalue.apply(input.reshape((1,)), "kthvalue", 0, False, (1,)))
    return KthvalueResult(*Kthvalue.apply(input, "kthvalue", d, keepdim, (int(k),)))
