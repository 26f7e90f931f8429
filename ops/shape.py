"""Shape ops: reshape, transpose/permute, flatten, squeeze/unsqueeze, expand, cat/stack/split.

Views where numpy gives views (no copies); every backward is the inverse rearrangement.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor, norm_dim, same_device
from sparsegraph.tensor import Tensor

__all__ = ["reshape", "view", "transpose", "permute", "flatten", "squeeze", "unsqueeze",
           "expand", "cat", "concat", "stack", "split", "chunk", "broadcast_to"]


register("reshape", "cpu", "cuda")(lambda x, shape: x.reshape(shape))
register("permute", "cpu", "cuda")(lambda x, dims: x.transpose(dims))
register("broadcast_to", "cpu", "cuda")(lambda x, shape: xp_of(x).broadcast_to(x, shape))
register("concatenate", "cpu", "cuda")(lambda arrays, dim: xp_of(arrays[0]).concatenate(
    arrays, axis=dim))


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return dispatch("reshape", ctx.device)(x.array, shape)

    @staticmethod
    def backward(ctx, g):
        return g.array.reshape(ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(np.argsort(dims))
        return dispatch("permute", ctx.device)(x.array, dims)

    @staticmethod
    def backward(ctx, g):
        return g.array.transpose(ctx.inverse), None


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return dispatch("broadcast_to", ctx.device)(x.array, shape)

    @staticmethod
    def backward(ctx, g):
        from sparsegraph.ops._util import unbroadcast

        return unbroadcast(g.array, ctx.shape), None


class Cat(Function):
    """Concatenate along ``dim``; each input's gradient is its slice of the output's."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.bounds = np.cumsum([0] + [x.shape[dim] for x in xs])
        return dispatch("concatenate", ctx.device)([x.array for x in xs], dim)

    @staticmethod
    def backward(ctx, g):
        g = g.array
        index = [slice(None)] * g.ndim
        out = [None]
        for i, (lo, hi) in enumerate(zip(ctx.bounds[:-1], ctx.bounds[1:], strict=True)):
            if ctx.needs_input_grad[i + 1]:
                index[ctx.dim] = slice(int(lo), int(hi))
                out.append(g[tuple(index)])
            else:
                out.append(None)
        return tuple(out)


def _shape_arg(shape) -> tuple:
    if isinstance(shape, int | np.integer):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def reshape(input: Tensor, shape) -> Tensor:
    """Same elements, new shape (one dim may be -1)."""
    check_tensor("reshape", "input", input)
    shape = _shape_arg(shape)
    known = int(np.prod([s for s in shape if s != -1]))
    if shape.count(-1) > 1 or (-1 not in shape and known != input.array.size) or (
            -1 in shape and (known == 0 or input.array.size % known)):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {input.shape} "
                         f"({input.array.size} elements) to {shape}")
    return Reshape.apply(input, shape)


view = reshape


def permute(input: Tensor, dims) -> Tensor:
    check_tensor("permute", "input", input)
    dims = tuple(norm_dim("permute", d, input.ndim) for d in _shape_arg(dims))
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f"permute: expected a permutation of {input.ndim} dims (got {dims})")
    return Permute.apply(input, dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    check_tensor("transpose", "input", input)
    dims = list(range(input.ndim))
    a, b = norm_dim("transpose", dim0, input.ndim), norm_dim("transpose", dim1, input.ndim)
    dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(input, tuple(dims))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    check_tensor("flatten", "input", input)
    if input.ndim == 0:
        return reshape(input, (1,))
    s, e = norm_dim("flatten", start_dim, input.ndim), norm_dim("flatten", end_dim, input.ndim)
    if s > e:
        raise ValueError(f"flatten: expected start_dim <= end_dim (got {start_dim}, {end_dim})")
    shape = input.shape[:s] + (int(np.prod(input.shape[s:e + 1])),) + input.shape[e + 1:]
    return Reshape.apply(input, shape)


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Drop size-1 dims (all of them, or those in ``dim``; others are left alone)."""
    check_tensor("squeeze", "input", input)
    if dim is None:
        dims = {i for i, s in enumerate(input.shape) if s == 1}
    else:
        dims = {norm_dim("squeeze", d, input.ndim) for d in (
            (dim,) if isinstance(dim, int | np.integer) else dim)}
        dims = {d for d in dims if input.shape[d] == 1}
    return Reshape.apply(input, tuple(s for i, s in enumerate(input.shape) if i not in dims))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    check_tensor("unsqueeze", "input", input)
    d = norm_dim("unsqueeze", dim, input.ndim + 1)
    return Reshape.apply(input, input.shape[:d] + (1,) + input.shape[d:])


def expand(input: Tensor, sizes) -> Tensor:
    """Broadcast to ``sizes`` without copying (-1 keeps a dim); backward sums."""
    check_tensor("expand", "input", input)
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise ValueError(f"expand: expected at least {input.ndim} sizes (got {sizes})")
    shape = tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    try:
        np.broadcast_shapes(input.shape, shape)
        if np.broadcast_shapes(input.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {input.shape} to {sizes}") from None
    return Expand.apply(input, shape)


broadcast_to = expand


def _tensor_list(op, tensors):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        check_tensor(op, f"tensors[{i}]", t)
    same_device(op, *tensors)
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: expected tensors of one dtype (got {sorted(map(str, dtypes))})")
    return tensors


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dim; other dims must agree."""
    tensors = _tensor_list("cat", tensors)
    d = norm_dim("cat", dim, tensors[0].ndim)
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.ndim != len(ref) or t.shape[:d] + t.shape[d + 1:] != ref[:d] + ref[d + 1:]:
            raise ValueError(f"cat: expected tensors[{i}] of shape {t.shape} to match "
                             f"{ref} outside dim {d}")
    return Cat.apply(d, *tensors)


concat = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join along a new dim (a composite of unsqueeze + cat)."""
    tensors = _tensor_list("stack", tensors)
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: expected tensors of one shape (got {sorted(shapes)})")
    d = norm_dim("stack", dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of given sizes."""
    check_tensor("split", "input", input)
    d = norm_dim("split", dim, input.ndim)
    n = input.shape[d]
    if isinstance(split_size_or_sections, int | np.integer):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: expected a positive split size (got {size})")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise ValueError(f"split: expected sections summing to {n} (got {sizes})")
    from sparsegraph.ops.index import getitem

    out, start = [], 0
    for s in sizes:
        index = (slice(None),) * d + (slice(start, start + s),)
        out.append(getitem(input, index))
        start += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    n = input.shape[norm_dim("chunk", dim, input.ndim)]
    return split(input, max(1, -(-n // chunks)), dim)
