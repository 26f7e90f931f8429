"""Fused ops the static-graph passes put in place of chains of eager ops.

``spmm_bias_act``: ``dropout(relu(A @ X + b))`` in one pass over the output — the product, the
bias, the activation and the dropout scaling happen while each output row is still in cache, in
one output buffer; and its backward needs only the output (``y > 0`` marks where the gradient
flows), where the eager chain keeps the product, the pre-activation and the mask.
Kernels: ``spmm_bias_act`` generic (the spmm kernel then in-place epilogue) and numba (the
epilogue fused into the row loop, ops/sparse_kernels/numba_fused.py).
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops.sparse_products import _contiguous, _spmm, transposed_values
from sparsegraph.ops.stochastic import dropout_mask
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor

try:  # registers the numba kernel beside the generic one
    from sparsegraph.ops.sparse_kernels import numba_fused  # noqa: F401
except ImportError:  # numba missing: the generic kernel still runs
    pass

__all__ = ["spmm_bias_act"]


def epilogue(out, bias, relu: bool, keep, scale: float):
    """In place: ``out = dropout(relu(out + bias))`` with the eager ops' rounding."""
    xp = xp_of(out)
    if bias is not None:
        out += bias
    if relu:
        xp.maximum(out, 0, out=out)
    if keep is not None:
        out *= keep
        out *= out.dtype.type(scale)
    return out


@register("spmm_bias_act", "cpu", "cuda", name="generic", fmt="csr")
def _spmm_bias_act_generic(indptr, indices, values, x, n_rows, bias, relu, keep, scale):
    """(N, F) = dropout(relu(A @ x + bias)); ``keep`` is a bool (N, F) mask or None."""
    out = dispatch("spmm", "cpu" if xp_of(x) is np else "cuda", "csr")(
        indptr, indices, values, x, n_rows)
    return epilogue(out, bias, relu, keep, scale)


class SpMMBiasAct(Function):
    """``dropout(relu(a @ x + bias), p)``; any of bias / relu / dropout may be off."""

    random = True  # with p > 0 it draws a dropout mask

    @staticmethod
    def forward(ctx, a, x, bias, relu, p, generator):
        s, xa = a.structure, _contiguous(x.array)
        keep = None
        if p > 0.0:
            keep = dropout_mask((s.shape[0],) + xa.shape[1:], p, generator, x.device)
        scale = 1.0 / (1.0 - p)
        out = dispatch("spmm_bias_act", ctx.device, "csr")(
            s.indptr, s.indices, a.values.array, xa, s.shape[0],
            None if bias is None else bias.array, relu, keep, scale)
        ctx.s, ctx.relu, ctx.scale = s, relu, scale
        ctx.keep = None if relu else keep  # with relu, y > 0 already says where keep is True
        ctx.x = xa if ctx.needs_input_grad[0] else None
        ctx.save_for_backward(a.values)
        return ctx.save_output(out) if relu else out

    @staticmethod
    def backward(ctx, g):
        (values,) = ctx.saved_tensors
        g = g.array
        if ctx.relu:
            y = ctx.saved_output
            gz = g * g.dtype.type(ctx.scale) if ctx.scale != 1.0 else g
            gz = xp_of(g).where(y > 0, gz, g.dtype.type(0))
        elif ctx.keep is not None:
            gz = g * ctx.keep
            gz *= g.dtype.type(ctx.scale)
        else:
            gz = g
        gz = _contiguous(gz)
        s = ctx.s
        ga = gx = gb = None
        if ctx.needs_input_grad[0]:
            ga = dispatch("sddmm", ctx.device, "csr")(s.indptr, s.indices, gz, ctx.x)
        if ctx.needs_input_grad[1]:
            t, tv = transposed_values(s, values)
            gx = _spmm(ctx.device, t, tv, gz)
        if ctx.needs_input_grad[2]:
            gb = gz.sum(axis=tuple(range(gz.ndim - 1)))
        return ga, gx, gb, None, None, None


def spmm_bias_act(a: SparseTensor, x: Tensor, bias: Tensor | None = None, relu: bool = False,
                  p: float = 0.0, generator=None) -> Tensor:
    """``dropout(relu(a @ x + bias), p)`` fused (what the static spmm + bias + activation
    fusion runs).

    Args:
        a: ``(N, M)`` CSR SparseTensor with ``(E,)`` values.
        x: ``(M, F)`` dense features.
        bias: ``(F,)`` or None.
        relu: apply ReLU after the bias.
        p: dropout probability after the activation (0: none), drawn from ``generator``.

    Returns:
        ``(N, F)``.
    """
    if not isinstance(a, SparseTensor) or a.values.ndim != 1:
        raise TypeError("spmm_bias_act: expected `a` to be a SparseTensor with (E,) values "
                        f"(got {type(a).__name__})")
    if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[0] != a.shape[1]:
        raise ValueError(f"spmm_bias_act: expected `x` of shape ({a.shape[1]}, F) to match `a` "
                         f"of shape {a.shape} (got {getattr(x, 'shape', type(x).__name__)})")
    if bias is not None and tuple(bias.shape) != (x.shape[1],):
        raise ValueError(f"spmm_bias_act: expected `bias` of shape ({x.shape[1]},) "
                         f"(got {tuple(bias.shape)})")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"spmm_bias_act: expected `p` in [0, 1) (got {p!r})")
    return SpMMBiasAct.apply(a.to_csr(), x, bias, bool(relu), float(p), generator)
