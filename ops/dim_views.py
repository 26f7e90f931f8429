"""PyTorch's other names for views along dims: `narrow`, `select`, `movedim` / `moveaxis`,
`swapaxes` / `swapdims`, `unflatten`. Each is a composite of a view op (`getitem`, `permute`,
`reshape`), so it shares memory with its input and its gradient is that op's.
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.ops._util import check_int_arg, check_tensor, norm_dim
from sparsegraph.ops.index import getitem
from sparsegraph.ops.shape import permute, reshape, transpose
from sparsegraph.tensor import Tensor

__all__ = ["narrow", "select", "movedim", "moveaxis", "swapaxes", "swapdims", "unflatten"]


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``input`` restricted to ``start:start + length`` along ``dim`` (a view; a negative
    ``start`` counts from the end, as torch's)."""
    check_tensor("narrow", "input", input)
    if input.ndim == 0:
        raise ValueError("narrow: expected a tensor with at least one dim (got a 0-d one)")
    d = norm_dim("narrow", dim, input.ndim)
    size = input.shape[d]
    start = check_int_arg("narrow", "start", start)
    length = check_int_arg("narrow", "length", length)
    if not -size <= start <= size:
        raise ValueError(f"narrow: expected `start` in [{-size}, {size}] for dim {dim} of size "
                         f"{size} (got {start})")
    start = start + size if start < 0 else start
    if length < 0 or start + length > size:
        raise ValueError(f"narrow: expected 0 <= length <= {size - start} from start {start} "
                         f"(dim {dim} has size {size}; got length {length})")
    return getitem(input, (slice(None),) * d + (slice(start, start + length),))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, that dim removed (a view): ``x.select(0, i)`` is
    ``x[i]``."""
    check_tensor("select", "input", input)
    if input.ndim == 0:
        raise ValueError("select: expected a tensor with at least one dim (got a 0-d one)")
    d = norm_dim("select", dim, input.ndim)
    size, index = input.shape[d], check_int_arg("select", "index", index)
    if not -size <= index < size:
        raise ValueError(f"select: expected `index` in [{-size}, {size}) for dim {dim} of size "
                         f"{size} (got {index})")
    return getitem(input, (slice(None),) * d + (index,))


def _dims(op: str, dims, ndim: int) -> tuple:
    dims = (dims,) if isinstance(dims, int | np.integer) else tuple(dims)
    out = tuple(norm_dim(op, d, ndim) for d in dims)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: expected distinct dims (got {dims})")
    return out


def movedim(input: Tensor, source, destination) -> Tensor:
    """Dims ``source`` moved to positions ``destination`` (ints or sequences of equal length),
    the others keeping their order (a view, as torch's / numpy's ``moveaxis``)."""
    check_tensor("movedim", "input", input)
    n = input.ndim
    src, dst = _dims("movedim", source, n), _dims("movedim", destination, n)
    if len(src) != len(dst):
        raise ValueError(f"movedim: expected `source` and `destination` of equal length (got "
                         f"{len(src)} and {len(dst)})")
    rest = iter(d for d in range(n) if d not in src)
    placed = dict(zip(dst, src, strict=True))
    return permute(input, tuple(placed[i] if i in placed else next(rest) for i in range(n)))


def moveaxis(input: Tensor, source, destination) -> Tensor:
    """numpy's name for `movedim`."""
    return movedim(input, source, destination)


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """numpy's name for `transpose` of two dims (a view)."""
    return transpose(input, axis0, axis1)


def swapdims(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Another name for `transpose` of two dims (a view)."""
    return transpose(input, dim0, dim1)


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Dim ``dim`` split into ``sizes`` (one of them may be -1), the inverse of `flatten`."""
    check_tensor("unflatten", "input", input)
    if input.ndim == 0:
        raise ValueError("unflatten: expected a tensor with at least one dim (got a 0-d one)")
    d = norm_dim("unflatten", dim, input.ndim)
    if not isinstance(sizes, list | tuple):
        raise TypeError(f"unflatten: expected `sizes` as a tuple or list of ints (got "
                        f"{type(sizes).__name__} {sizes!r})")
    sizes = tuple(check_int_arg("unflatten", "sizes", s) for s in sizes)
    known = math.prod(s for s in sizes if s != -1)
    if not sizes or sizes.count(-1) > 1 or any(s < -1 for s in sizes) or (
            -1 not in sizes and known != input.shape[d]) or (
            -1 in sizes and (known == 0 or input.shape[d] % known)):
        raise ValueError(f"unflatten: expected `sizes` whose product is {input.shape[d]}, the "
                         f"size of dim {dim} (at most one -1; got {sizes})")
    return reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])
