"""Shape ops: reshape, transpose/permute, flatten, squeeze/unsqueeze, expand, cat/stack,
split/chunk/unbind, flip, repeat.

Views where numpy gives views (no copies; a view shares its input's version counter, see
`Function.apply`); every backward is the inverse rearrangement.
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import result_type, xp_of
from sparsegraph.creation import as_array
from sparsegraph.kernels import dispatch, register
from sparsegraph.numpy_compat import numpy_args
from sparsegraph.ops._util import check_tensor, norm_dim, norm_dims, same_device, unbroadcast
from sparsegraph.tensor import Tensor, wrap

__all__ = ["reshape", "view", "transpose", "permute", "flatten", "ravel", "squeeze", "unsqueeze",
           "expand", "broadcast_to", "cat", "concat", "stack", "split", "chunk", "unbind",
           "flip", "repeat"]


register("reshape", "cpu", "cuda")(lambda x, shape: x.reshape(shape))
register("permute", "cpu", "cuda")(lambda x, dims: x.transpose(dims))
register("broadcast_to", "cpu", "cuda")(lambda x, shape: xp_of(x).broadcast_to(x, shape))
register("unbroadcast", "cpu", "cuda")(unbroadcast)
register("concatenate", "cpu", "cuda")(
    lambda arrays, dim: xp_of(arrays[0]).concatenate(arrays, axis=dim))
register("stack", "cpu", "cuda")(lambda arrays, dim: xp_of(arrays[0]).stack(arrays, axis=dim))
register("flip", "cpu", "cuda")(lambda x, dims: xp_of(x).flip(x, dims))
register("tile", "cpu", "cuda")(lambda x, reps: xp_of(x).tile(x, reps))


@register("split", "cpu", "cuda")
def _split_kernel(x, bounds, dim):
    """Views of ``x`` between consecutive ``bounds`` along ``dim``."""
    lead = (slice(None),) * dim
    return tuple(x[lead + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:],
                                                                 strict=True))


@register("split_backward", "cpu", "cuda")
def _split_backward_kernel(grads, shapes, dtype, dim):
    """Concatenate the pieces' gradients; a piece that got none contributes zeros."""
    xp = next(xp_of(g) for g in grads if g is not None)
    return xp.concatenate([xp.zeros(s, dtype) if g is None else g
                           for g, s in zip(grads, shapes, strict=True)], axis=dim)


@register("repeat_backward", "cpu", "cuda")
def _repeat_backward_kernel(g, shape, reps):
    """Sum the tiles: view each dim ``n * r`` as ``(r, n)`` and sum over the ``r`` axes."""
    split = []
    for n, r in zip(shape, reps[len(reps) - len(shape):], strict=True):
        split += [r, n]
    lead = tuple(range(len(reps) - len(shape)))
    g = g.reshape(tuple(reps[:len(lead)]) + tuple(split))
    return g.sum(axis=lead + tuple(len(lead) + 2 * i for i in range(len(shape))))


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return dispatch("reshape", ctx.device)(x.array, shape)

    @staticmethod
    def backward(ctx, g):
        return dispatch("reshape", ctx.device)(g.array, ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return dispatch("permute", ctx.device)(x.array, dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return dispatch("permute", ctx.device)(g.array, tuple(inverse)), None


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        if math.prod(shape) == x.array.size:
            # nothing repeats (only size-1 dims added): a plain view, writable in place as in
            # PyTorch (numpy's broadcast_to would be read-only)
            return dispatch("reshape", ctx.device)(x.array, shape)
        return dispatch("broadcast_to", ctx.device)(x.array, shape)

    @staticmethod
    def backward(ctx, g):
        return dispatch("unbroadcast", ctx.device)(g.array, ctx.shape), None


class Cat(Function):
    """Concatenate along ``dim``; each input's gradient is its slice of the output's."""

    @staticmethod
    def forward(ctx, dim, *xs):
        bounds = [0]
        for x in xs:
            bounds.append(bounds[-1] + x.array.shape[dim])
        ctx.dim, ctx.bounds = dim, bounds
        return dispatch("concatenate", ctx.device)([x.array for x in xs], dim)

    @staticmethod
    def backward(ctx, g):
        pieces = dispatch("split", ctx.device)(g.array, ctx.bounds, ctx.dim)
        return (None,) + tuple(p if n else None
                               for p, n in zip(pieces, ctx.needs_input_grad[1:], strict=True))


class Stack(Function):
    """Join along a new ``dim``; input ``i``'s gradient is the output's slice ``i``."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        return dispatch("stack", ctx.device)([x.array for x in xs], dim)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        return (None,) + tuple(g.array[lead + (i,)] if n else None
                               for i, n in enumerate(ctx.needs_input_grad[1:]))


class Split(Function):
    """Pieces along ``dim`` as views: one node with several outputs, so the gradients of all
    pieces meet in one backward (a single concatenation, no per-piece zero-filled copies)."""

    @staticmethod
    def forward(ctx, x, bounds, dim):
        ctx.bounds, ctx.dim = bounds, dim
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return dispatch("split", ctx.device)(x.array, bounds, dim)

    @staticmethod
    def backward(ctx, *grads):
        shapes = [ctx.shape[:ctx.dim] + (hi - lo,) + ctx.shape[ctx.dim + 1:]
                  for lo, hi in zip(ctx.bounds[:-1], ctx.bounds[1:], strict=True)]
        gx = dispatch("split_backward", ctx.device)(
            [None if g is None else g.array for g in grads], shapes, ctx.dtype, ctx.dim)
        return gx, None, None


class Flip(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        # a copy, as torch.flip's: numpy's flip is a view, and writing into the result must
        # not change the input (`.copy()`, not ascontiguousarray: flip over no dims is x itself)
        return dispatch("flip", ctx.device)(x.array, dims).copy()

    @staticmethod
    def backward(ctx, g):
        return dispatch("flip", ctx.device)(g.array, ctx.dims), None


class Repeat(Function):
    @staticmethod
    def forward(ctx, x, reps):
        ctx.shape, ctx.reps = x.shape, reps
        return dispatch("tile", ctx.device)(x.array, reps)

    @staticmethod
    def backward(ctx, g):
        return dispatch("repeat_backward", ctx.device)(g.array, ctx.shape, ctx.reps), None


def _sizes(op: str, shape) -> tuple:
    """A shape argument (an int, or a sequence of ints) as a tuple of Python ints."""
    if isinstance(shape, int | np.integer):
        return (int(shape),)
    try:
        out = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: expected a sequence of ints (got {shape!r})") from None
    if any(not isinstance(s, int | np.integer) for s in shape):
        raise TypeError(f"{op}: expected a sequence of ints (got {shape!r})")
    return out


def _new_shape(op: str, input: Tensor, shape) -> tuple:
    """``shape`` as a tuple, checked against ``input``'s element count (-1 kept)."""
    check_tensor(op, "input", input)
    shape = _sizes(op, shape)
    size = input.array.size
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        ok = shape.count(-1) == 1 and min(shape) == -1 and known and size % known == 0
    else:
        ok = min(shape, default=0) >= 0 and math.prod(shape) == size
    if not ok:
        raise ValueError(f"{op}: cannot reshape a tensor of shape {input.shape} "
                         f"({size} elements) to {shape}")
    return shape


def reshape(input: Tensor, shape) -> Tensor:
    """Same elements in a new shape; one dim may be -1 (inferred). A view when possible, else
    a copy.

    Raises:
        ValueError: if the element counts differ, or more than one dim is -1 (or one < -1).
    """
    return Reshape.apply(input, _new_shape("reshape", input, shape))


def _viewable(old_shape, old_strides, new_shape) -> bool:
    """Whether memory laid out as ``old_shape`` / ``old_strides`` can be read as ``new_shape``
    without a copy (PyTorch's computeStride): every run of old dims that is contiguous in
    memory must be split or merged as a whole."""
    if math.prod(old_shape) == 0 or not old_shape:
        return True
    dims = [(n, st) for n, st in zip(old_shape, old_strides, strict=True) if n != 1]
    new = [n for n in new_shape if n != 1]
    i = len(new)
    # walk the old dims from the last, grouping those that form one contiguous chunk
    chunk = 1
    for k in range(len(dims) - 1, -1, -1):
        chunk *= dims[k][0]
        if k == 0 or dims[k - 1][1] != dims[k][0] * dims[k][1]:
            view = 1
            while i > 0 and view < chunk:
                i -= 1
                view *= new[i]
            if view != chunk:
                return False
            chunk = 1
    return i == 0


def view(input: Tensor, shape) -> Tensor:
    """Same elements in a new shape, always sharing ``input``'s memory (PyTorch's view): a
    write through either is seen by the other. One dim may be -1.

    Raises:
        ValueError: if the element counts differ.
        RuntimeError: if the memory layout (after transpose(), permute() or a strided slice)
            cannot be read in the new shape without a copy; reshape() copies then.
    """
    shape = _new_shape("view", input, shape)
    a = input.array
    if -1 in shape:
        shape = tuple(a.size // -math.prod(shape) if s == -1 else s for s in shape)
    if not _viewable(a.shape, a.strides, shape):
        strides = tuple(st // a.itemsize for st in a.strides)
        raise RuntimeError(
            f"view: cannot view a tensor of shape {input.shape} with strides {strides} (in "
            f"elements) as {shape} without copying: its elements are not laid out in that "
            "order in memory (as after transpose(), expand() or a strided slice); use "
            "reshape(), which copies when it must, or .clone() first")
    return Reshape.apply(input, shape)


def permute(input: Tensor, dims) -> Tensor:
    """Reorder the dims: output dim ``i`` is input dim ``dims[i]`` (a view)."""
    check_tensor("permute", "input", input)
    n = input.ndim
    if isinstance(dims, int | np.integer):
        dims = (dims,)
    dims = tuple(norm_dim("permute", d, n) for d in dims)
    if len(dims) != n or len(set(dims)) != n:
        raise ValueError(f"permute: expected a permutation of {n} dims (got {dims})")
    return Permute.apply(input, dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    check_tensor("transpose", "input", input)
    n = input.ndim
    dims = list(range(n))
    a, b = norm_dim("transpose", dim0, n), norm_dim("transpose", dim1, n)
    if n:
        dims[a], dims[b] = dims[b], dims[a]
    return Permute.apply(input, tuple(dims))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a 0-d tensor becomes shape ``(1,)``)."""
    check_tensor("flatten", "input", input)
    if input.ndim == 0:
        return Reshape.apply(input, (1,))
    s, e = norm_dim("flatten", start_dim, input.ndim), norm_dim("flatten", end_dim, input.ndim)
    if s > e:
        raise ValueError(f"flatten: expected start_dim <= end_dim (got {start_dim}, {end_dim})")
    shape = input.shape
    return Reshape.apply(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def ravel(input: Tensor) -> Tensor:
    """The elements as a 1-D tensor, ``torch.ravel``: `flatten` of every dim (a view when the
    memory allows, else a copy)."""
    check_tensor("ravel", "input", input)
    return Reshape.apply(input, (input.numel(),))


@numpy_args
def squeeze(input: Tensor, dim=None) -> Tensor:
    """Drop size-1 dims: all of them, or those listed in ``dim`` (an int or a tuple); a listed
    dim whose size is not 1 is left alone, as in PyTorch."""
    check_tensor("squeeze", "input", input)
    shape = input.shape
    if dim is None:
        dims = [i for i, s in enumerate(shape) if s == 1]
    else:
        dims = [d for d in norm_dims("squeeze", dim, input.ndim) or () if d < len(shape)
                and shape[d] == 1]
    return Reshape.apply(input, tuple(s for i, s in enumerate(shape) if i not in dims))


@numpy_args
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (in ``[-ndim - 1, ndim]``)."""
    check_tensor("unsqueeze", "input", input)
    d = norm_dim("unsqueeze", dim, input.ndim + 1)
    return Reshape.apply(input, input.shape[:d] + (1,) + input.shape[d:])


def expand(input: Tensor, sizes) -> Tensor:
    """Broadcast to ``sizes`` without copying (-1 keeps a dim); backward sums.

    Raises:
        ValueError: if a non-1 dim would change, or -1 is given for a new leading dim.
    """
    check_tensor("expand", "input", input)
    sizes = _sizes("expand", sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise ValueError(f"expand: expected at least {input.ndim} sizes for a tensor of shape "
                         f"{input.shape} (got {sizes})")
    shape = []
    for i, s in enumerate(sizes):
        old = input.shape[i - lead] if i >= lead else None
        if s == -1 and old is not None:
            s = old
        if s < 0 or (old is not None and old != 1 and old != s):
            why = " (-1 is only allowed for existing dims)" if i < lead and s == -1 else ""
            raise ValueError(f"expand: cannot expand shape {input.shape} to {sizes} at dim "
                             f"{i}{why}")
        shape.append(s)
    return Expand.apply(input, tuple(shape))


broadcast_to = expand


def _tensor_list(op, tensors) -> list:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a sequence of Tensors (got a Tensor); wrap it in a list")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    ref = next((t for t in tensors if isinstance(t, Tensor)), None)
    if ref is not None:  # numpy arrays beside Tensors are operands, as in the binary ops
        # (a Graph's edge_index is one: cat([g.edge_label_index, negatives]) as in PyG)
        tensors = [wrap(as_array(t, device=ref.device)) if isinstance(t, np.ndarray) else t
                   for t in tensors]
    for i, t in enumerate(tensors):
        check_tensor(op, f"tensors[{i}]", t)
    same_device(op, *tensors)
    dtype = tensors[0].dtype
    if any(t.dtype != dtype for t in tensors):
        # PyTorch promotes (float32 with int64 is float32, with float64 float64); the casts
        # are differentiable, so each input gets its gradient in its own dtype
        dtype = result_type(*(t.array for t in tensors))
        tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    return tensors


@numpy_args
def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dim; the other dims must agree.

    Raises:
        ValueError: on 0-d tensors, differing numbers of dims or mismatched shapes, or
            tensors on different devices. Differing dtypes are promoted, as in PyTorch.
    """
    tensors = _tensor_list("cat", tensors)
    ref = tensors[0].shape
    if not ref:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = norm_dim("cat", dim, len(ref))
    for i, t in enumerate(tensors):
        s = t.shape
        if len(s) != len(ref) or s[:d] != ref[:d] or s[d + 1:] != ref[d + 1:]:
            raise ValueError(f"cat: expected tensors[{i}] of shape {s} to match {ref} in "
                             f"every dim but {d}")
    return Cat.apply(d, *tensors)


concat = cat


@numpy_args
def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dim ``dim`` (in ``[-ndim - 1, ndim]``)."""
    tensors = _tensor_list("stack", tensors)
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != ref:
            raise ValueError(f"stack: expected tensors[{i}] of shape {t.shape} to match {ref}")
    return Stack.apply(norm_dim("stack", dim, len(ref) + 1), *tensors)


@numpy_args
def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of ``split_size`` along ``dim`` (the last may be smaller), or of the given sizes.

    Raises:
        ValueError: on a split size <= 0 (0 only for an empty dim), negative sections or
            sections that do not sum to the dim's size.
    """
    check_tensor("split", "input", input)
    if input.ndim == 0:
        raise ValueError("split: expected a tensor with at least one dim (got a 0-d tensor)")
    d = norm_dim("split", dim, input.ndim)
    n = input.shape[d]
    if isinstance(split_size_or_sections, int | np.integer):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n):
            raise ValueError(f"split: expected a positive split size (got {size})")
        bounds = list(range(0, n, size)) + [n] if n else [0, 0]
    else:
        sizes = _sizes("split", split_size_or_sections)
        if min(sizes, default=0) < 0 or sum(sizes) != n:
            raise ValueError(f"split: expected non-negative sections summing to {n} (the size "
                             f"of dim {d}) (got {list(sizes)})")
        bounds = [0]
        for s in sizes:
            bounds.append(bounds[-1] + s)
    out = Split.apply(input, bounds, d)
    return out if isinstance(out, tuple) else (out,)


@numpy_args
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into at most ``chunks`` pieces of ``ceil(size / chunks)`` (PyTorch's rule)."""
    check_tensor("chunk", "input", input)
    if not isinstance(chunks, int | np.integer) or chunks <= 0:
        raise ValueError(f"chunk: expected a positive number of chunks (got {chunks!r})")
    if input.ndim == 0:
        raise ValueError("chunk: expected a tensor with at least one dim (got a 0-d tensor)")
    n = input.shape[norm_dim("chunk", dim, input.ndim)]
    return split(input, -(-n // int(chunks)), dim)


@numpy_args
def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices of ``input`` along ``dim``, that dim removed (torch's unbind; views).

    One `split` node plus a reshape per slice, so the gradients of all slices meet in one
    backward.

    Raises:
        ValueError: on a 0-d tensor or ``dim`` out of range.
    """
    check_tensor("unbind", "input", input)
    if input.ndim == 0:
        raise ValueError("unbind: expected a tensor with at least one dim (got a 0-d tensor)")
    d = norm_dim("unbind", dim, input.ndim)
    if input.shape[d] == 0:
        return ()
    shape = input.shape[:d] + input.shape[d + 1:]
    return tuple(reshape(piece, shape) for piece in split(input, 1, d))


def flip(input: Tensor, dims) -> Tensor:
    """Reverse the order of elements along ``dims`` (an int or a tuple)."""
    check_tensor("flip", "input", input)
    return Flip.apply(input, norm_dims("flip", dims, input.ndim))


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile ``input``: dim ``i`` repeated ``sizes[i]`` times (PyTorch's ``Tensor.repeat``).

    Raises:
        ValueError: if fewer sizes than dims are given, or a size is negative.
    """
    check_tensor("repeat", "input", input)
    reps = _sizes("repeat", sizes[0] if len(sizes) == 1 and not isinstance(
        sizes[0], int | np.integer) else sizes)
    if len(reps) < input.ndim or min(reps, default=0) < 0:
        raise ValueError(f"repeat: expected at least {input.ndim} non-negative sizes for a "
                         f"tensor of shape {input.shape} (got {reps})")
    return Repeat.apply(input, reps)
