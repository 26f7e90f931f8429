"""`ShapeMethods`: Tensor's shape and view methods (reshape, transpose, split, roll, ...).

One-line delegations to `sparsegraph.ops`, as `sparsegraph.tensor_methods.TensorMethods`' (which
inherits these); ``_ops`` is the lazy import of the op library both use (the core sits below the
op library, and this is the one sanctioned upward edge).
"""

from __future__ import annotations

from sparsegraph.numpy_compat import numpy_args

_OPS = None


def _ops():
    global _OPS
    if _OPS is None:
        import sparsegraph.ops as ops

        _OPS = ops
    return _OPS


class ShapeMethods:
    """Mixed into `sparsegraph.Tensor` through `TensorMethods` (no state of its own)."""

    __slots__ = ()

    @property
    def T(self):
        return _ops().permute(self, tuple(range(self.ndim - 1, -1, -1)))

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expected a tensor with at most 2 dims (got {self.ndim})")
        return self.T

    def transpose(self, dim0, dim1):
        return _ops().transpose(self, dim0, dim1)

    def permute(self, *dims):
        return _ops().permute(self, dims[0] if len(dims) == 1 and not isinstance(
            dims[0], int) else dims)

    def reshape(self, *shape):
        return _ops().reshape(self, shape[0] if len(shape) == 1 and not isinstance(
            shape[0], int) else shape)

    def view(self, *shape):
        return _ops().view(self, shape[0] if len(shape) == 1 and not isinstance(
            shape[0], int) else shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops().flatten(self, start_dim, end_dim)

    def ravel(self):
        return _ops().ravel(self)

    def unflatten(self, dim, sizes):
        return _ops().unflatten(self, dim, sizes)

    def narrow(self, dim, start, length):
        return _ops().narrow(self, dim, start, length)

    def select(self, dim, index):
        return _ops().select(self, dim, index)

    def movedim(self, source, destination):
        return _ops().movedim(self, source, destination)

    moveaxis = movedim

    def swapaxes(self, axis0, axis1):
        return _ops().swapaxes(self, axis0, axis1)

    def swapdims(self, dim0, dim1):
        return _ops().swapdims(self, dim0, dim1)

    @property
    def mT(self):  # noqa: N802  (torch's name: the last two dims swapped)
        if self.ndim < 2:
            raise ValueError(f"mT: expected a tensor with at least 2 dims (got {self.ndim})")
        return _ops().transpose(self, -2, -1)

    @numpy_args
    def squeeze(self, dim=None):
        return _ops().squeeze(self, dim)

    @numpy_args
    def unsqueeze(self, dim):
        return _ops().unsqueeze(self, dim)

    def expand(self, *sizes):
        return _ops().expand(self, sizes[0] if len(sizes) == 1 and not isinstance(
            sizes[0], int) else sizes)

    def expand_as(self, other):
        return _ops().expand(self, other.shape)

    def view_as(self, other):
        return _ops().view(self, other.shape)

    def contiguous(self):
        """``self`` when its memory is already in row-major order, else a copy that is."""
        return self if self.array.flags.c_contiguous else _ops().clone(self)

    @numpy_args
    def split(self, split_size_or_sections, dim=0):
        return _ops().split(self, split_size_or_sections, dim)

    @numpy_args
    def chunk(self, chunks, dim=0):
        return _ops().chunk(self, chunks, dim)

    @numpy_args
    def unbind(self, dim=0):
        return _ops().unbind(self, dim)

    def flip(self, *dims):
        if not dims:  # as torch (numpy would flip every axis; doing nothing matches neither)
            raise TypeError("flip: expected `dims` (ints or a tuple of ints), got none")
        return _ops().flip(self, dims[0] if len(dims) == 1 and not isinstance(
            dims[0], int) else dims)

    def repeat(self, *sizes):
        return _ops().repeat(self, *sizes)

    def repeat_interleave(self, repeats=None, dim=None):
        return _ops().repeat_interleave(self, repeats, dim)

    def tril(self, diagonal=0):
        return _ops().tril(self, diagonal)

    def triu(self, diagonal=0):
        return _ops().triu(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return _ops().diagonal(self, offset, dim1, dim2)

    def diag(self, diagonal=0):
        return _ops().diag(self, diagonal)

    def roll(self, shifts, dims=None):
        return _ops().roll(self, shifts, dims)

    def tensor_split(self, indices_or_sections, dim=0):
        return _ops().tensor_split(self, indices_or_sections, dim)
