"""Matrix products: `matmul` (numpy semantics: 1-D operands, batched, broadcast batch dims);
vector norms: `norm` (its own gradient, zero where the norm is 0) and `normalize`.

``matmul`` with a sparse operand dispatches to the sparse products (spmm / dense @ sparse /
spgemm) in `sparsegraph.ops.sparse_products`.
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import (
    QUIET_FP,
    broadcasts_to,
    check_float,
    check_floating_input,
    check_tensor,
    expand_reduced,
    norm_dim,
    numpy_args,
    reduce_dims,
    same_device,
    unbroadcast,
)
from sparsegraph.tensor import Tensor

__all__ = ["matmul", "mm", "bmm", "dot", "outer", "linear", "addmm", "norm", "normalize"]


@register("matmul", "cpu", "cuda")
def _matmul_kernel(a, b):
    return a @ b


@register("matmul_backward", "cpu", "cuda")
def _matmul_backward_kernel(a, b, g, needs, shapes):
    """Gradients of ``a @ b`` for operands of at least 2 dims (1-D ones are promoted first).

    ``shapes`` are the operands' shapes, to which broadcast batch dims are summed back.
    """
    xp = xp_of(g)
    ga = gb = None
    if needs[0]:
        ga = unbroadcast(g @ (b.T if b.ndim == 2 else xp.swapaxes(b, -1, -2)), shapes[0])
    if needs[1]:
        gb = unbroadcast((a.T if a.ndim == 2 else xp.swapaxes(a, -1, -2)) @ g, shapes[1])
    return ga, gb


class MatMul(Function):
    """``a @ b``; 1-D operands are promoted to matrices for the gradient and squeezed back."""

    @staticmethod
    def forward(ctx, a, b):
        # NOTE: only what the needed gradients read (PyTorch's rule): d/da reads b and d/db
        # reads a. An in-place change to a saved operand (an optimizer step on a weight that a
        # retained graph still needs) is caught at backward; one to an operand no gradient
        # reads (`(y @ w).backward()` after `y.add_(1)`, w a constant) is not an error.
        need_a, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if need_a or need_b:
            ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.shapes = a.shape, b.shape
        return dispatch("matmul", ctx.device)(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        a, b = (None if t is None else t.array for t in ctx.saved_tensors)
        g = g.array
        sa, sb = ctx.shapes
        a_vec, b_vec = len(sa) == 1, len(sb) == 1
        if not (a_vec or b_vec):  # the common case, without the 1-D promotions
            return dispatch("matmul_backward", ctx.device)(a, b, g, ctx.needs_input_grad,
                                                           ctx.shapes)
        if a_vec:  # numpy promotes a 1-D `input` to a row and a 1-D `other` to a column
            sa, a = (1, *sa), None if a is None else a[None, :]
        if b_vec:
            sb, b = (*sb, 1), None if b is None else b[:, None]
        if a_vec and b_vec:
            g = g.reshape(1, 1)
        elif a_vec:
            g = xp_of(g).expand_dims(g, -2)
        elif b_vec:
            g = xp_of(g).expand_dims(g, -1)
        ga, gb = dispatch("matmul_backward", ctx.device)(a, b, g, ctx.needs_input_grad,
                                                         (sa, sb))
        if ga is not None and a_vec:
            ga = ga.reshape(-1)
        if gb is not None and b_vec:
            gb = gb.reshape(-1)
        return ga, gb



def _is_sparse(x) -> bool:
    """A sparse tensor (it has a ``layout`` and a ``structure``) rather than a dense Tensor."""
    return not isinstance(x, Tensor) and hasattr(x, "layout") and hasattr(x, "structure")


def matmul(input, other):
    """Matrix product with numpy's rules, differentiable in both operands.

    1-D operands are promoted (``input`` to a row, ``other`` to a column) and the added dim is
    removed from the result; operands of more than 2 dims are stacks of matrices whose batch
    dims broadcast. A sparse operand runs the sparse products instead (spmm for
    ``sparse @ dense``, dense @ sparse, spgemm for ``sparse @ sparse``), or densifies it when
    the cost model predicts that faster and it fits (`sparsegraph.ops.spmm_mode` forces).

    Args:
        input: tensor of shape ``(..., N, K)`` or ``(K,)``, or a sparse tensor.
        other: tensor of shape ``(..., K, M)`` or ``(K,)``, or a sparse tensor.

    Returns:
        Tensor of shape ``(broadcast(...), N, M)`` without the promoted dims.

    Raises:
        TypeError: on non-tensor operands or different dtypes (no silent promotion, as torch).
        ValueError: on 0-d operands, mismatched inner dims or batch dims that do not broadcast.
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        if _is_sparse(input) or _is_sparse(other):
            # sparse or dense execution, by the cost model (sparsegraph.ops.cost_model)
            from sparsegraph.ops.cost_model import sparse_matmul_auto

            return sparse_matmul_auto(input, other)
        for name, t in (("input", input), ("other", other)):
            if not isinstance(t, Tensor):
                raise TypeError(f"matmul: expected `{name}` to be a Tensor (got "
                                f"{type(t).__name__})")
    sa, sb = input.array.shape, other.array.shape
    if not sa or not sb:
        name = "input" if not sa else "other"
        raise ValueError(f"matmul: expected `{name}` with at least 1 dim (got a 0-d tensor); "
                         "use mul for a scalar product")
    if input.array.dtype != other.array.dtype:
        raise TypeError(f"matmul: expected operands of the same dtype (got {input.dtype} and "
                        f"{other.dtype}); convert one with .to(dtype)")
    if input.device != other.device:
        same_device("matmul", input, other)
    k_other = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != k_other:
        raise ValueError(f"matmul: expected `other` with {sa[-1]} rows to match `input` of shape "
                         f"{input.shape} (got {k_other})")
    if len(sa) > 2 or len(sb) > 2:
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dims of {input.shape} and {other.shape} cannot be "
                             "broadcast together") from None
    return MatMul.apply(input, other)


def _check_ndim(op: str, name: str, t, ndim: int) -> None:
    if not (isinstance(t, Tensor) or _is_sparse(t)):
        raise TypeError(f"{op}: expected `{name}` to be a Tensor (got {type(t).__name__})")
    if len(t.shape) != ndim:
        raise ValueError(f"{op}: expected `{name}` with {ndim} dims (got shape {t.shape})")


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices, ``(N, K) @ (K, M) -> (N, M)``; either may be sparse.

    Raises:
        ValueError: if an operand is not 2-D or the inner dims differ.
    """
    _check_ndim("mm", "input", input, 2)
    _check_ndim("mm", "mat2", mat2, 2)
    return matmul(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product ``(B, N, K) @ (B, K, M) -> (B, N, M)`` (no batch broadcasting).

    Raises:
        ValueError: if an operand is not 3-D, or the batch or inner dims differ.
    """
    _check_ndim("bmm", "input", input, 3)
    _check_ndim("bmm", "mat2", mat2, 3)
    if input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: expected `mat2` with batch size {input.shape[0]} to match "
                         f"`input` of shape {input.shape} (got {mat2.shape[0]})")
    return matmul(input, mat2)


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length (a 0-d tensor).

    Raises:
        ValueError: if an operand is not 1-D or the lengths differ.
    """
    _check_ndim("dot", "input", input, 1)
    _check_ndim("dot", "other", other, 1)
    if input.shape[0] != other.shape[0]:
        raise ValueError(f"dot: expected `other` of length {input.shape[0]} to match `input` "
                         f"(got {other.shape[0]})")
    return matmul(input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product ``(N,) x (M,) -> (N, M)`` of two 1-D tensors (a composite).

    Raises:
        ValueError: if an operand is not 1-D.
    """
    _check_ndim("outer", "input", input, 1)
    _check_ndim("outer", "vec2", vec2, 1)
    return input.reshape((-1, 1)) * vec2.reshape((1, -1))


def linear(input, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (PyTorch's F.linear); ``input`` may be sparse CSR.

    Raises:
        ValueError: ``weight`` not 2-D, or its ``in_features`` differ from ``input``'s last dim.
    """
    _check_ndim("linear", "weight", weight, 2)
    if not hasattr(input, "shape") or not hasattr(input, "requires_grad"):  # Tensor or sparse
        raise TypeError(f"linear: expected `input` to be a Tensor (got {type(input).__name__}"
                        "); wrap an array with sparsegraph.tensor()")
    if not input.shape or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: expected `input` with last dim {weight.shape[1]} to match "
                         f"`weight` of shape {weight.shape} (got input of shape {input.shape})")
    if bias is not None and tuple(getattr(bias, "shape", ())) not in ((), (weight.shape[0],)):
        raise ValueError(f"linear: expected `bias` of shape ({weight.shape[0]},) to match "
                         f"`weight` of shape {weight.shape} (got {tuple(bias.shape)})")
    out = matmul(input, weight.T)
    return out if bias is None else out + bias


@register("addmm", "cpu", "cuda")
def _addmm_kernel(c, a, b, beta, alpha):
    """``beta c + alpha (a @ b)``; ``beta = 0`` ignores ``c`` (its nan and inf too, as torch)."""
    out = a @ b
    if alpha != 1:
        out *= out.dtype.type(alpha)
    if beta == 0:  # c broadcasts to out's shape (checked): only its values are ignored
        return out
    return out + (c if beta == 1 else c * c.dtype.type(beta))


class Addmm(Function):
    """``beta * input + alpha * (mat1 @ mat2)``, with ``input`` broadcast to ``(N, M)``."""

    @staticmethod
    def forward(ctx, c, a, b, beta, alpha):
        need = ctx.needs_input_grad
        if any(need):
            ctx.save_for_backward(a if need[2] else None, b if need[1] else None)
            ctx.c_shape, ctx.beta, ctx.alpha = c.shape, beta, alpha
        return dispatch("addmm", ctx.device)(c.array, a.array, b.array, beta, alpha)

    @staticmethod
    def backward(ctx, g):
        a, b = (None if t is None else t.array for t in ctx.saved_tensors)
        g, need = g.array, ctx.needs_input_grad
        gc = unbroadcast(g * g.dtype.type(ctx.beta), ctx.c_shape) if need[0] else None
        ga = (g @ b.T) * g.dtype.type(ctx.alpha) if need[1] else None
        gb = (a.T @ g) * g.dtype.type(ctx.alpha) if need[2] else None
        return gc, ga, gb, None, None


def _scale(name: str, value, input: Tensor):
    """``beta`` / ``alpha`` as a Python number; an integer ``input`` takes integers only."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"addmm: expected a number `{name}` (got {type(value).__name__} "
                        f"{value!r})")
    value = value.item() if isinstance(value, np.generic) else value
    if input.dtype.kind != "f" and isinstance(value, float):
        raise TypeError(f"addmm: expected an int `{name}` for integer operands ({input.dtype}) "
                        f"(got {value!r})")
    return value


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` (torch.addmm), differentiable in all three.

    With ``beta = 0``, ``input`` is ignored (nan and inf in it do not propagate) and gets a
    zero gradient, as torch.

    Args:
        input: a tensor broadcastable to ``(N, M)``.
        mat1: a dense ``(N, K)`` tensor.
        mat2: a dense ``(K, M)`` tensor; all three of one dtype and device.
        beta: the factor of ``input``. (default: 1)
        alpha: the factor of the product. (default: 1)

    Raises:
        TypeError: an operand not a Tensor, different dtypes, or ``beta`` / ``alpha`` not a
            number.
        ValueError: ``mat1`` / ``mat2`` not 2-D, inner dims that differ, ``input`` not
            broadcastable to ``(N, M)``, or operands on different devices.
    """
    for name, t, ndim in (("input", input, None), ("mat1", mat1, 2), ("mat2", mat2, 2)):
        check_tensor("addmm", name, t)
        if ndim is not None and t.ndim != ndim:
            raise ValueError(f"addmm: expected `{name}` with 2 dims (got shape {t.shape})")
        if t.dtype != input.dtype:
            raise TypeError(f"addmm: expected `{name}` with the dtype of `input`, {input.dtype} "
                            f"(got {t.dtype}); convert one with .to()")
    same_device("addmm", input, mat1, mat2)
    if mat1.shape[1] != mat2.shape[0]:
        raise ValueError(f"addmm: expected `mat2` with {mat1.shape[1]} rows to match `mat1` of "
                         f"shape {mat1.shape} (got {mat2.shape[0]})")
    out = (mat1.shape[0], mat2.shape[1])
    if not broadcasts_to(input.shape, out):
        raise ValueError(f"addmm: expected `input` broadcastable to {out} (got shape "
                         f"{input.shape})")
    return Addmm.apply(input, mat1, mat2, _scale("beta", beta, input),
                       _scale("alpha", alpha, input))


# ---- vector norms -----------------------------------------------------------------------------
@register("norm", "cpu", "cuda")
def _norm_kernel(x, p, dims):
    """The ``p``-norm over ``dims`` (None: all), the reduced dims kept."""
    xp = xp_of(x)
    if p == 0:  # the count of nonzeros
        return (x != 0).sum(axis=dims, keepdims=True, dtype=x.dtype)
    a = xp.abs(x)
    if p == math.inf:
        return a.max(axis=dims, keepdims=True)
    if p == -math.inf:
        return a.min(axis=dims, keepdims=True)
    if p == 1:
        return a.sum(axis=dims, keepdims=True)
    if p == 2:
        return xp.sqrt((a * a).sum(axis=dims, keepdims=True))
    return (a ** p).sum(axis=dims, keepdims=True) ** (1.0 / p)


@register("norm_backward", "cpu", "cuda")
def _norm_backward_kernel(x, n, g, p, dims):
    """torch's norm backward; ``n`` and ``g`` have the reduced dims kept. Where the norm is
    0 the gradient is 0 (the subgradient torch picks), never ``0 / 0``."""
    xp = xp_of(x)
    if p == 0:  # a step function of x: zero almost everywhere, as torch's
        return xp.zeros_like(x)
    zero = n == 0
    safe = xp.where(zero, 1, n)
    if math.isinf(p):  # tied extrema share the gradient evenly (as amax / amin)
        hit = xp.abs(x) == n
        return xp.sign(x) * hit * (g / hit.sum(axis=dims, keepdims=True, dtype=x.dtype))
    if p == 1:
        return xp.sign(x) * g
    if p == 2:
        return x * xp.where(zero, 0, g / safe)
    a = xp.abs(x)
    with np.errstate(**QUIET_FP):  # |x|^(p-1) at x == 0 for p < 1
        scaled = xp.sign(x) * xp.where(a == 0, 0, a ** (p - 1))
    return scaled * xp.where(zero, 0, g / safe ** (p - 1))


class Norm(Function):
    """The ``p``-norm over ``dims``; backward reads the input and the (kept-dims) norm."""

    @staticmethod
    def forward(ctx, x, p, dims, keepdim):
        n = dispatch("norm", ctx.device)(x.array, p, dims)
        if not keepdim:
            n = n.reshape(() if dims is None else tuple(
                s for i, s in enumerate(x.shape) if i not in dims))
        if not ctx.needs_input_grad[0]:
            return n
        ctx.save_for_backward(x)
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        return ctx.save_output(n)  # version-checked: changing the norm in place then raises

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        n = expand_reduced(ctx.saved_output, x.ndim, ctx.dims, ctx.keepdim)
        g = expand_reduced(g.array, x.ndim, ctx.dims, ctx.keepdim)
        return dispatch("norm_backward", ctx.device)(
            x.array, n, g, ctx.p, ctx.dims), None, None, None


@numpy_args
def norm(input: Tensor, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """The vector ``p``-norm ``(sum |x|^p)^(1/p)`` over ``dim`` (all elements when None).

    As torch's, the gradient is 0 where the norm is 0 (a zero row gives no nan); for
    ``p = inf`` / ``-inf`` (the largest / smallest magnitude) tied extrema share the gradient
    evenly; ``p = 0`` counts the nonzeros (in the input's dtype) and has a zero gradient.

    Args:
        input: a floating tensor.
        p: a positive number, 0, ``inf``, ``-inf``, or ``"fro"`` (the 2-norm of all the
            elements of ``dim``). (default: 2)
        dim: an int, a tuple of ints, or None for every dim. (default: None)
        keepdim: keep the reduced dims with size 1. (default: False)

    Raises:
        TypeError: ``input`` not a floating Tensor.
        ValueError: ``p`` not a positive number, 0, inf, -inf or "fro"; a dim out of range;
            an empty reduction with ``p = inf`` or ``-inf``.
    """
    if p == "fro":
        p = 2
    if isinstance(p, bool) or not isinstance(p, int | float | np.number) or not (
            p >= 0 or p == -math.inf):
        raise ValueError(f"norm: expected a number >= 0, inf or -inf `p` (or 'fro') (got "
                         f"{p!r})")
    dims = reduce_dims("norm", input, dim)
    check_floating_input("norm", input)
    if math.isinf(p) and input.array.size == 0 and (
            dims is None or any(input.shape[d] == 0 for d in dims)):
        raise ValueError(f"norm: expected a non-empty tensor for p={p} (got shape "
                         f"{input.shape})")
    return Norm.apply(input, float(p), dims, keepdim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim`` (PyTorch's F.normalize; a composite).

    ``p`` may be any positive number, ``inf`` / ``-inf`` (largest / smallest magnitude) or 0
    (the count of nonzeros). The norm is taken of ``x / max|x|`` and scaled back, so float32
    rows such as ``[3e20, 4e20]`` neither overflow nor underflow; an all-zero row gets a zero
    norm with a finite (zero) gradient.

    Raises:
        TypeError: ``input`` not a floating Tensor, or ``p`` not a number.
        ValueError: ``dim`` out of range, or a negative finite ``p``.
    """
    from sparsegraph.autograd.grad_mode import no_grad
    from sparsegraph.ops.elementwise import ne, pow
    from sparsegraph.ops.extrema import amax, amin
    from sparsegraph.ops.reduce import sum
    from sparsegraph.ops.ternary import clamp, where

    check_tensor("normalize", "input", input)
    check_float("normalize", "input", input)
    if isinstance(p, bool) or not isinstance(p, int | float | np.number):
        raise TypeError(f"normalize: expected `p` to be a number (got {type(p).__name__})")
    if p < 0 and not math.isinf(p):
        raise ValueError(f"normalize: expected `p` >= 0 or -inf (got {p})")
    dim = norm_dim("normalize", dim, input.ndim)
    magnitude = input.abs()
    if math.isinf(p):
        norm = (amax if p > 0 else amin)(magnitude, dim, keepdim=True)
    elif p == 0:
        norm = sum(ne(input, 0).to(input.dtype), dim, keepdim=True)
    else:
        with no_grad():  # a constant scale: the p-norm is homogeneous, so its gradient is exact
            scale = amax(magnitude, dim, keepdim=True)
            scale = where(scale == 0, 1.0, scale)
        total = sum(pow(magnitude / scale, p), dim, keepdim=True)
        zero = total == 0  # all-zero rows: keep pow(., 1/p) away from its infinite slope at 0
        norm = where(zero, 0.0, pow(where(zero, 1.0, total), 1.0 / p)) * scale
    return input / clamp(norm, min=eps)
