"""Matrix products: `matmul` (numpy semantics: 1-D operands, batched, broadcast batch dims).

``matmul`` with a sparse operand dispatches to the sparse products (spmm / dense @ sparse /
spgemm) in `sparsegraph.ops.sparse_products`.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import same_device, unbroadcast
from sparsegraph.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "dot", "outer", "linear", "normalize"]


@register("matmul", "cpu", "cuda")
def _matmul_kernel(a, b):
    return a @ b


@register("matmul_backward", "cpu", "cuda")
def _matmul_backward_kernel(a, b, g, needs):
    """Gradients of ``a @ b`` for operands of at least 2 dims (1-D ones are promoted first)."""
    xp = xp_of(g)
    ga = gb = None
    if needs[0]:
        ga = unbroadcast(g @ xp.swapaxes(b, -1, -2), a.shape)
    if needs[1]:
        gb = unbroadcast(xp.swapaxes(a, -1, -2) @ g, b.shape)
    return ga, gb


class MatMul(Function):
    """``a @ b``; 1-D operands are promoted to matrices for the gradient and squeezed back."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return dispatch("matmul", ctx.device)(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a, b, g = a.array, b.array, g.array
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g = g.reshape(1, 1)
        elif a.ndim == 1:
            g = xp_of(g).expand_dims(g, -2)
        elif b.ndim == 1:
            g = xp_of(g).expand_dims(g, -1)
        ga, gb = dispatch("matmul_backward", ctx.device)(a2, b2, g, ctx.needs_input_grad)
        if ga is not None and a.ndim == 1:
            ga = ga.reshape(a.shape)
        if gb is not None and b.ndim == 1:
            gb = gb.reshape(b.shape)
        return ga, gb


def _is_sparse(x) -> bool:
    return not isinstance(x, Tensor) and hasattr(x, "layout") and hasattr(x, "structure")


def matmul(input, other):
    """Matrix product with numpy's rules; a sparse operand runs a sparse kernel.

    Raises:
        ValueError: on mismatched inner dimensions, naming both shapes.
        TypeError: on mixed dtypes (no silent promotion) or non-tensor operands.
    """
    if _is_sparse(input) or _is_sparse(other):
        from sparsegraph.ops.sparse_products import sparse_matmul

        return sparse_matmul(input, other)
    for name, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise TypeError(f"matmul: expected `{name}` to be a Tensor (got "
                            f"{type(t).__name__})")
        if t.ndim == 0:
            raise ValueError(f"matmul: expected `{name}` with at least 1 dim (got a scalar)")
    if input.dtype != other.dtype:
        raise TypeError(f"matmul: expected operands of the same dtype (got {input.dtype} and "
                        f"{other.dtype})")
    same_device("matmul", input, other)
    k_in = input.shape[-1]
    k_other = other.shape[0] if other.ndim == 1 else other.shape[-2]
    if k_in != k_other:
        raise ValueError(f"matmul: expected `other` with {k_in} rows to match `input` of shape "
                         f"{input.shape} (got {k_other})")
    if input.ndim > 2 or other.ndim > 2:
        try:
            np.broadcast_shapes(input.shape[:-2], other.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dims of {input.shape} and {other.shape} cannot be "
                             "broadcast together") from None
    return MatMul.apply(input, other)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """2-D matrix product."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: expected 2-D operands (got {input.shape} and {mat2.shape})")
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product of ``(B, N, K)`` and ``(B, K, M)``."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: expected (B, N, K) and (B, K, M) operands (got {input.shape} "
                         f"and {mat2.shape})")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors."""
    if input.ndim != 1 or other.ndim != 1:
        raise ValueError(f"dot: expected 1-D operands (got {input.shape} and {other.shape})")
    return matmul(input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors (a composite)."""
    return input.reshape((-1, 1)) * vec2.reshape((1, -1))


def linear(input, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (PyTorch's F.linear); ``input`` may be sparse CSR."""
    out = matmul(input, weight.T)
    return out if bias is None else out + bias


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim`` (PyTorch's F.normalize; a composite)."""
    from sparsegraph.ops.elementwise import clamp, pow
    from sparsegraph.ops.reduce import sum

    norm = pow(sum(pow(input.abs(), p), dim, keepdim=True), 1.0 / p)
    return input / clamp(norm, min=eps)
