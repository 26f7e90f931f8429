"""Indexing: `getitem` / `setitem` (basic slices, integer arrays, boolean masks), `index_select`,
`gather`, `masked_fill`, `nonzero`.

Gradients of integer indexing accumulate over repeated indices (a scatter-add kernel), so
``x[[0, 0]]`` sends twice the gradient to row 0.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import arr, check_tensor, norm_dim, shape_of, unbroadcast
from sparsegraph.tensor import Tensor, wrap

__all__ = ["getitem", "setitem", "index_select", "gather", "masked_fill", "nonzero",
           "take_along_dim"]


@register("index_add", "cpu", "cuda")
def _index_add_kernel(out, key, values):
    """``out[key] += values`` with repeated indices accumulating (numpy's ufunc.at)."""
    xp = xp_of(out)
    if xp is np:
        np.add.at(out, key, values)
    else:  # pragma: no cover - needs a GPU
        import cupyx

        cupyx.scatter_add(out, key, values)
    return out


register("getitem", "cpu", "cuda")(lambda x, key: x[key])


def _setitem_kernel(x, key, value):
    x[key] = value
    return x


register("setitem", "cpu", "cuda")(_setitem_kernel)


def _convert_key(key, xp):
    """Tensors and lists in an index become arrays; the result is a tuple-or-single key."""

    def one(k):
        if isinstance(k, Tensor):
            k = k.array
        elif isinstance(k, list):
            k = xp.asarray(k)
        if hasattr(k, "dtype") and k.dtype.kind == "f":
            raise TypeError(f"getitem: expected integer or boolean indices (got {k.dtype})")
        return k

    return tuple(one(k) for k in key) if isinstance(key, tuple) else one(key)


def _has_int_array(key) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return any(hasattr(k, "dtype") and k.dtype.kind in "iu" and k.ndim > 0 for k in parts)


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return dispatch("getitem", ctx.device)(x.array, key)

    @staticmethod
    def backward(ctx, g):
        g = g.array
        gx = xp_of(g).zeros(ctx.shape, dtype=g.dtype)
        if _has_int_array(ctx.key):
            dispatch("index_add", ctx.device)(gx, ctx.key, g)
        else:
            gx[ctx.key] = g
        return gx, None


class SetItem(Function):
    """``x[key] = value`` in place; gradient: zero at the written positions for the old x."""

    @staticmethod
    def forward(ctx, x, key, value):
        ctx.key, ctx.value_shape = key, shape_of(value)
        return dispatch("setitem", ctx.device)(x.array, key, arr(value))

    @staticmethod
    def backward(ctx, g):
        g = g.array
        gx = gv = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[ctx.key] = 0
        if ctx.needs_input_grad[2]:
            gv = unbroadcast(g[ctx.key], ctx.value_shape)
        return gx, None, gv


def getitem(input: Tensor, key) -> Tensor:
    """``input[key]`` with gradients (basic slices, ints, None, Ellipsis, int arrays, masks)."""
    key = _convert_key(key, input.xp)
    try:
        return GetItem.apply(input, key)
    except IndexError as exc:
        raise IndexError(f"getitem: {exc} (tensor of shape {input.shape})") from None


def setitem(input: Tensor, key, value) -> None:
    """``input[key] = value`` in place (bumps the version counter; differentiable)."""
    key = _convert_key(key, input.xp)
    if isinstance(value, Tensor) and value.dtype != input.dtype:
        value = value.to(input.dtype)
    elif not isinstance(value, Tensor) and not isinstance(value, int | float | bool):
        value = wrap(input.xp.asarray(value, dtype=input.dtype))
    try:
        SetItem.apply_inplace(input, key, value)
    except IndexError as exc:
        raise IndexError(f"setitem: {exc} (tensor of shape {input.shape})") from None


def _check_index(op: str, index, size: int, dim: int):
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an integer `index` (got {idx.dtype})")
    if idx.size and (int(idx.min()) < -size or int(idx.max()) >= size):
        bad = int(idx.max()) if int(idx.max()) >= size else int(idx.min())
        raise ValueError(f"{op}: expected indices in [0, {size}) for dim {dim} of size {size} "
                         f"(got {bad})")
    return idx


def index_select(input: Tensor, dim: int, index) -> Tensor:
    """Entries of ``input`` along ``dim`` at the 1-D ``index``."""
    check_tensor("index_select", "input", input)
    d = norm_dim("index_select", dim, input.ndim)
    idx = _check_index("index_select", index, input.shape[d], d)
    if idx.ndim != 1:
        raise ValueError(f"index_select: expected a 1-D `index` (got shape {idx.shape})")
    return GetItem.apply(input, (slice(None),) * d + (idx,))


class Gather(Function):
    """PyTorch's gather: ``out[i][j] = input[index[i][j]][j]`` for ``dim=0``."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return xp_of(x.array).take_along_axis(x.array, index, dim)

    @staticmethod
    def backward(ctx, g):
        g = g.array
        xp = xp_of(g)
        gx = xp.zeros(ctx.shape, dtype=g.dtype)
        grid = list(xp.ix_(*[xp.arange(s) for s in ctx.index.shape]))
        grid[ctx.dim] = ctx.index
        dispatch("index_add", ctx.device)(gx, tuple(grid), g)
        return gx, None, None


def gather(input: Tensor, dim: int, index) -> Tensor:
    """Gather values along ``dim`` (``index`` has ``input``'s number of dims)."""
    check_tensor("gather", "input", input)
    d = norm_dim("gather", dim, input.ndim)
    idx = _check_index("gather", index, input.shape[d], d)
    if idx.ndim != input.ndim:
        raise ValueError(f"gather: expected `index` with {input.ndim} dims (got {idx.ndim})")
    return Gather.apply(input, d, idx)


take_along_dim = gather


def masked_fill(input: Tensor, mask, value) -> Tensor:
    """``value`` where ``mask`` is true (broadcast), ``input`` elsewhere (a composite)."""
    from sparsegraph.ops.elementwise import where

    mask = mask if isinstance(mask, Tensor) else wrap(np.asarray(mask))
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_fill: expected a bool `mask` (got {mask.dtype})")
    return where(mask, value, input)


def nonzero(input: Tensor, as_tuple: bool = False):
    """Indices of non-zero elements: ``(n, ndim)`` int64, or one array per dim."""
    idx = xp_of(input.array).nonzero(input.array)
    if as_tuple:
        return tuple(wrap(i.astype(np.int64)) for i in idx)
    return wrap(xp_of(input.array).stack(idx, axis=1).astype(np.int64))
