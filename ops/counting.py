"""Counting and locating values: `unique`, `bincount`, `searchsorted`, `bucketize`.

Their outputs are integer positions or counts (no gradient), computed with the input's array
module (numpy or cupy) and returned on its device. `bincount` with ``weights`` is a scatter-sum,
so it is differentiable with respect to the weights.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.ops._util import (
    check_bool,
    check_choice,
    check_device_of,
    check_tensor,
    computed_on_arrays,
    norm_dim,
    operand_array,
)
from sparsegraph.tensor import Tensor, host_values, wrap

__all__ = ["unique", "bincount", "searchsorted", "bucketize"]


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None):
    """The distinct values of ``input`` (flattened for ``dim=None``), or its distinct slices
    along ``dim``, in ascending order (torch sorts whatever ``sorted`` says on the CPU; so
    does this). NaNs compare equal here (numpy's rule; torch keeps each NaN apart).

    Returns:
        The unique values (1-D for ``dim=None``); with ``return_inverse`` and/or
        ``return_counts`` a tuple ``(values, inverse, counts)`` holding the requested ones:
        ``inverse`` (int64, ``input``'s shape for ``dim=None``, else ``(input.shape[dim],)``)
        maps each element / slice to its position in ``values``; ``counts`` (int64) says how
        often each occurs. No gradient.
    """
    check_tensor("unique", "input", input)
    for name, flag in (("sorted", sorted), ("return_inverse", return_inverse),
                       ("return_counts", return_counts)):
        check_bool("unique", name, flag)
    computed_on_arrays("unique", input)  # the output's shape depends on the data
    a, xp = input.array, input.xp
    if dim is None:
        values, inverse, counts = xp.unique(a.reshape(-1), return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(a.shape)
    else:
        if a.ndim == 0:
            raise ValueError("unique: expected a tensor with at least one dim for `dim` (got a "
                             "0-d one)")
        d = norm_dim("unique", dim, a.ndim)
        values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True,
                                            axis=d)
        inverse = inverse.reshape(-1)
    out = (wrap(values),)
    if return_inverse:
        out += (wrap(inverse.astype(np.int64, copy=False)),)
    if return_counts:
        out += (wrap(counts.astype(np.int64, copy=False)),)
    return out[0] if len(out) == 1 else out


def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """How often each value ``0 .. max(input)`` occurs in the 1-D non-negative integer
    ``input``; with ``weights`` (``input``'s shape) the sum of the weights of each value.

    Returns:
        A 1-D tensor of length ``max(max(input) + 1, minlength)``: int64 without weights;
        with them float32 for float32 weights and float64 for any other dtype (torch's rule).
        Differentiable with respect to float ``weights`` (a `scatter` sum).

    Raises:
        TypeError: for a non-integer ``input`` or ``minlength``.
        ValueError: for an ``input`` that is not 1-D, negative values or ``minlength``, or
            ``weights`` of another shape or device.
    """
    check_tensor("bincount", "input", input)
    if input.dtype.kind not in "iu":
        raise TypeError(f"bincount: expected an integer `input` (got {input.dtype})")
    if input.ndim != 1:
        raise ValueError(f"bincount: expected a 1-D `input` (got shape {input.shape})")
    if isinstance(minlength, bool) or not isinstance(minlength, int | np.integer):
        raise TypeError(f"bincount: expected an int `minlength` (got "
                        f"{type(minlength).__name__})")
    if minlength < 0:
        raise ValueError(f"bincount: expected `minlength` >= 0 (got {minlength})")
    # the output's length is max + 1: a static trace guards the values
    a = host_values(input, "bincount: the output length max(input) + 1")
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, -1)
    if lo < 0:
        raise ValueError(f"bincount: expected non-negative values in `input` (got min {lo})")
    size = max(hi + 1, int(minlength))
    if weights is None:
        return wrap(input.xp.bincount(a, minlength=size).astype(np.int64, copy=False))
    check_tensor("bincount", "weights", weights)
    if weights.shape != input.shape:
        raise ValueError(f"bincount: expected `weights` of shape {input.shape} like `input` "
                         f"(got {weights.shape})")
    check_device_of("bincount", "weights", weights, "input", input)
    from sparsegraph.ops.convert import to
    from sparsegraph.ops.gather_scatter import scatter

    if weights.dtype != np.float32:
        weights = to(weights, np.float64)
    return scatter(weights, input, dim_size=size, reduce="sum")


def _side(op: str, right, side) -> str:
    right = check_bool(op, "right", right)
    if side is None:
        return "right" if right else "left"
    side = check_choice(op, "side", side, ("left", "right"))
    if right and side == "left":
        raise ValueError(f"{op}: `side`='left' contradicts `right`=True (give one of them)")
    return side


def searchsorted(sorted_sequence: Tensor, values, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None) -> Tensor:
    """Where ``values`` would be inserted into ``sorted_sequence`` to keep it sorted.

    ``right=False`` (``side='left'``) gives the first index ``i`` with
    ``values <= sorted_sequence[i]``; ``right=True`` the first with ``values <
    sorted_sequence[i]``.

    Args:
        sorted_sequence: shape ``(m,)``, or ``(*batch, m)`` with ``values`` of shape
            ``(*batch, k)``: each row searched on its own. Ascending along the last dim.
        values: a Tensor (any shape for a 1-D sequence) or a number (a 0-d result).
        out_int32: int32 positions instead of int64.
        right, side: which of equal values to insert after (``side`` 'left' / 'right'
            overrides ``right``; the two must not contradict).

    Returns:
        Positions of ``values``' shape (int64, no gradient).

    Raises:
        ValueError: for a 0-d sequence, batch dims that differ, or operands on two devices.
    """
    op = "searchsorted"
    check_tensor(op, "sorted_sequence", sorted_sequence)
    side = _side(op, right, side)
    out_int32 = check_bool(op, "out_int32", out_int32)
    computed_on_arrays(op, sorted_sequence, values)
    seq, v = sorted_sequence.array, operand_array(op, "values", values, "sorted_sequence",
                                                       sorted_sequence)
    xp = sorted_sequence.xp
    if seq.ndim == 0:
        raise ValueError(f"{op}: expected a `sorted_sequence` with at least one dim (got a "
                         "0-d one)")
    if seq.ndim == 1:
        out = xp.searchsorted(seq, v, side=side)
    else:
        if v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]:
            raise ValueError(f"{op}: expected `values` of shape {seq.shape[:-1]} + (k,) to "
                             f"match the batch dims of `sorted_sequence` of shape {seq.shape} "
                             f"(got {v.shape})")
        if 0 in v.shape or 0 in seq.shape[:-1]:  # nothing to search (reshape(-1, 0) fails)
            return wrap(xp.zeros(v.shape, dtype=np.int32 if out_int32 else np.int64))
        rows, vrows = seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1])
        out = xp.empty(vrows.shape, dtype=np.int64)
        for i in range(rows.shape[0]):  # one search per row (batched sequences are rare)
            out[i] = xp.searchsorted(rows[i], vrows[i], side=side)
        out = out.reshape(v.shape)
    return wrap(xp.asarray(out).astype(np.int32 if out_int32 else np.int64, copy=False))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each value of ``input`` among the 1-D ascending ``boundaries``:
    ``right=False`` gives ``i`` with ``boundaries[i-1] < x <= boundaries[i]``, ``right=True``
    ``boundaries[i-1] <= x < boundaries[i]`` (torch's rule). Positions of ``input``'s shape,
    int64 (int32 with ``out_int32``), no gradient.

    Raises:
        ValueError: for ``boundaries`` that are not 1-D, or operands on two devices.
    """
    check_tensor("bucketize", "boundaries", boundaries)
    if boundaries.ndim != 1:
        raise ValueError(f"bucketize: expected 1-D `boundaries` (got shape "
                         f"{boundaries.shape})")
    right = check_bool("bucketize", "right", right)
    if isinstance(input, Tensor):
        check_device_of("bucketize", "input", input, "boundaries", boundaries)
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
