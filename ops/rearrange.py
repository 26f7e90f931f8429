"""Rearranging elements: `roll` (a cyclic shift), `tensor_split` (views, torch's sizes for an
uneven split) and `meshgrid` (coordinate grids as expanded views), with torch's arguments.

`roll`'s gradient is the opposite roll; `tensor_split`'s pieces are one node whose backward adds
each piece's gradient into its slice; `meshgrid` is a composite of reshape and expand.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import to_device, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_choice, check_int_arg, check_tensor, norm_dim
from sparsegraph.ops.shape import expand, reshape
from sparsegraph.tensor import Tensor, host_values

__all__ = ["roll", "tensor_split", "meshgrid"]


# ---- roll --------------------------------------------------------------------------------------
register("roll", "cpu", "cuda")(lambda x, shifts, dims: xp_of(x).roll(x, shifts, dims))


class Roll(Function):
    """``x`` shifted cyclically by ``shifts`` along ``dims``; the gradient rolls back."""

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return dispatch("roll", ctx.device)(x.array, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        back = tuple(-s for s in ctx.shifts)
        return dispatch("roll", ctx.device)(g.array, back, ctx.dims), None, None


def _int_tuple(op: str, name: str, value) -> tuple:
    """An int or a sequence of ints as a tuple of Python ints (a TypeError naming ``name``)."""
    if isinstance(value, list | tuple):
        return tuple(check_int_arg(op, name, v) for v in value)
    return (check_int_arg(op, name, value),)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift the elements of ``input`` cyclically along ``dims`` (torch.roll): an element
    pushed past the last position comes back at the first.

    Args:
        input: any tensor.
        shifts: an int or a tuple of ints, one per entry of ``dims``; negative shifts move
            towards the start.
        dims: an int, a tuple of ints, or None: roll the flattened tensor, then restore the
            shape. (default: None)

    Raises:
        TypeError: ``input`` not a Tensor, or a shift / dim not an int.
        ValueError: ``shifts`` and ``dims`` of different lengths (or several shifts with
            ``dims=None``), or a dim out of range.
    """
    check_tensor("roll", "input", input)
    shifts = _int_tuple("roll", "shifts", shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: expected one shift for `dims`=None (the flattened tensor) "
                             f"(got {len(shifts)} shifts: {shifts})")
        return reshape(Roll.apply(reshape(input, (-1,)), shifts, (0,)), input.shape)
    dims = _int_tuple("roll", "dims", dims)
    if len(shifts) != len(dims) or not dims:
        raise ValueError(f"roll: expected as many `shifts` as `dims` (got {len(shifts)} shifts "
                         f"and {len(dims)} dims)")
    dims = tuple(norm_dim("roll", d, input.ndim) for d in dims)
    if input.ndim == 0:  # torch: a 0-d tensor rolls as one element (dim 0 or -1)
        return reshape(Roll.apply(reshape(input, (1,)), shifts, dims), ())
    return Roll.apply(input, shifts, dims)


# ---- tensor_split ------------------------------------------------------------------------------
register("slices", "cpu", "cuda")(
    lambda x, bounds, dim: tuple(x[(slice(None),) * dim + (slice(lo, hi),)] for lo, hi in bounds))


@register("slices_backward", "cpu", "cuda")
def _slices_backward_kernel(grads, bounds, shape, dtype, dim):
    """Each piece's gradient added into its slice of zeros (pieces may overlap)."""
    xp = next(xp_of(g) for g in grads if g is not None)
    gx = xp.zeros(shape, dtype=dtype)
    for g, (lo, hi) in zip(grads, bounds, strict=True):
        if g is not None:
            gx[(slice(None),) * dim + (slice(lo, hi),)] += g
    return gx


class Slices(Function):
    """Views of ``x[lo:hi]`` along ``dim``, one per ``(lo, hi)`` of ``bounds``: one node, so the
    gradients of all pieces meet in one backward."""

    @staticmethod
    def forward(ctx, x, bounds, dim):
        ctx.bounds, ctx.dim, ctx.shape, ctx.dtype = bounds, dim, x.shape, x.dtype
        return dispatch("slices", ctx.device)(x.array, bounds, dim)

    @staticmethod
    def backward(ctx, *grads):
        gx = dispatch("slices_backward", ctx.device)(
            [None if g is None else g.array for g in grads], ctx.bounds, ctx.shape, ctx.dtype,
            ctx.dim)
        return gx, None, None


def _split_points(indices_or_sections):
    """``(sections, None)`` for an int (or a 0-d integer Tensor), ``(None, indices)`` for a list
    / tuple of ints (or a 1-D integer Tensor)."""
    op = "tensor_split"
    value = indices_or_sections
    if isinstance(value, Tensor) or hasattr(value, "dtype") and hasattr(value, "shape"):
        a = to_device(host_values(value, "tensor_split's `indices_or_sections`"), "cpu")
        if a.dtype.kind not in "iu" or a.ndim > 1:
            raise TypeError(f"{op}: expected `indices_or_sections` to be an int, a 0-d or 1-D "
                            f"integer tensor, or a sequence of ints (got a {a.dtype} tensor "
                            f"of shape {a.shape})")
        value = int(a) if a.ndim == 0 else [int(v) for v in a]
    if isinstance(value, list | tuple):
        return None, [check_int_arg(op, "indices_or_sections", v) for v in value]
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{op}: expected `indices_or_sections` to be an int or a sequence of "
                        f"ints (got {type(value).__name__} {value!r})")
    return int(value), None


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Split ``input`` along ``dim`` into views (torch.tensor_split).

    An int ``n`` gives ``n`` pieces; a size ``s`` not divisible by ``n`` gives the first
    ``s % n`` pieces ``s // n + 1`` elements and the rest ``s // n`` (some pieces are empty when
    ``n > s``). A list of indices ``[i, j, ...]`` gives ``input[:i], input[i:j], ...,
    input[k:]`` along ``dim``, with Python's slice rules (negative indices count from the end,
    indices past the end are clamped, a decreasing pair gives an empty piece). Gradients of all
    pieces flow back to ``input``.

    Args:
        input: a tensor with at least one dim.
        indices_or_sections: an int, a list / tuple of ints, or a 0-d / 1-D integer tensor.
        dim: the dim to split. (default: 0)

    Returns:
        A tuple of tensors viewing ``input``.

    Raises:
        TypeError: ``input`` not a Tensor, ``indices_or_sections`` not ints, ``dim`` not an int.
        ValueError: a 0-d ``input``, ``sections`` < 1, or ``dim`` out of range.
    """
    check_tensor("tensor_split", "input", input)
    if input.ndim == 0:
        raise ValueError("tensor_split: expected a tensor with at least one dim (got a 0-d "
                         "tensor)")
    d = norm_dim("tensor_split", dim, input.ndim)
    n = input.shape[d]
    sections, indices = _split_points(indices_or_sections)
    if sections is not None:
        if sections < 1:
            raise ValueError(f"tensor_split: expected `indices_or_sections` (the number of "
                             f"sections) to be at least 1 (got {sections})")
        size, extra = divmod(n, sections)
        starts = [i * size + min(i, extra) for i in range(sections + 1)]
        bounds = list(zip(starts[:-1], starts[1:], strict=True))
    else:
        bounds, start = [], 0
        for end in [*indices, n]:
            lo, hi, _ = slice(start, end).indices(n)
            bounds.append((lo, max(lo, hi)))
            start = end
    out = Slices.apply(input, bounds, d)
    return out if isinstance(out, tuple) else (out,)


# ---- meshgrid ----------------------------------------------------------------------------------
def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors (torch.meshgrid), as expanded views.

    With ``indexing="ij"`` output ``k`` has shape ``(len(t0), len(t1), ...)`` and varies along
    dim ``k``; ``"xy"`` (numpy's default) swaps the first two dims, ``(len(t1), len(t0),
    ...)``. NOTE: torch warns when ``indexing`` is omitted and then uses ``"ij"``; here
    ``"ij"`` is the silent default. Gradients flow back to every input (summed over the grid).

    Args:
        tensors: 0-D or 1-D tensors of one dtype and device, given one by one or as a list.
        indexing: ``"ij"`` or ``"xy"``. (default: ``"ij"``)

    Raises:
        TypeError: an input that is not a Tensor, or inputs of different dtypes.
        ValueError: no inputs, an input with more than one dim, inputs on different devices,
            or another ``indexing``.
    """
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    indexing = check_choice("meshgrid", "indexing", indexing, ("ij", "xy"))
    if not tensors:
        raise ValueError("meshgrid: expected at least one tensor (got none)")
    for i, t in enumerate(tensors):
        check_tensor("meshgrid", f"tensors[{i}]", t)
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-D or 1-D tensors (got tensors[{i}] of "
                             f"shape {t.shape})")
        if t.dtype != tensors[0].dtype:
            raise TypeError(f"meshgrid: expected tensors of one dtype (got {tensors[0].dtype} "
                            f"and {t.dtype} for tensors[{i}])")
        if t.device != tensors[0].device:
            raise ValueError(f"meshgrid: expected tensors on one device (got "
                             f"{tensors[0].device} and {t.device} for tensors[{i}])")
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) > 1:
        axes[0], axes[1] = 1, 0  # tensor 0 varies along dim 1, tensor 1 along dim 0
    shape = [0] * len(tensors)
    for t, a in zip(tensors, axes, strict=True):
        shape[a] = t.numel()
    out = []
    for t, a in zip(tensors, axes, strict=True):
        column = [1] * len(tensors)
        column[a] = -1
        out.append(expand(reshape(t, tuple(column)), tuple(shape)))
    return tuple(out)
