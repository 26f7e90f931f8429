"""In-place updates: `add_`, `mul_`, `div_`, `fill_`, `copy_`, `clamp_`, the activations
`relu_` / `sigmoid_` / `tanh_`, and torch's ``Tensor.scatter_`` / ``Tensor.scatter_add_``
(`tensor_scatter_`, `tensor_scatter_add_`: methods only, as ``sg.scatter`` is PyG's).

Each bumps the tensor's version counter, so a backward that saved the old values raises. When
the graph is recorded, the tensor's history is rebased onto the update (`Function.apply_inplace`).
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.autograd.grad_mode import is_grad_enabled
from sparsegraph.backend import device_type, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import (
    QUIET_FP,
    arr,
    broadcasts_to,
    check_choice,
    check_saved,
    kept_array,
    norm_dim,
    shape_of,
    unbroadcast,
)
from sparsegraph.ops.activation import relu, sigmoid, tanh
from sparsegraph.ops.elementwise import (
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    fit_int_scalar,
)
from sparsegraph.ops.elementwise import pow as power
from sparsegraph.ops.index import _check_range, _index_array, check_index_shape
from sparsegraph.ops.rounding import floor_divide, remainder
from sparsegraph.ops.ternary import clamp_bounds, clamp_grads, lerp
from sparsegraph.tensor import Tensor

# NOTE: lerp_, tensor_scatter_ and tensor_scatter_add_ stay out: Tensor methods only, as torch's
__all__ = ["add_", "mul_", "div_", "fill_", "copy_", "clamp_", "relu_", "sigmoid_", "tanh_"]


@register("add_", "cpu", "cuda")
def _add_kernel(x, other, alpha):
    if alpha == 1:
        x += other
    else:
        x += alpha * other
    return x


@register("mul_", "cpu", "cuda")
def _mul_kernel(x, other):
    x *= other
    return x


@register("div_", "cpu", "cuda")
def _div_kernel(x, other):
    x /= other
    return x


@register("fill_", "cpu", "cuda")
def _fill_kernel(x, value):
    x[...] = value
    return x


class AddInplace(Function):
    op_name = "add_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, other, alpha):
        ctx.alpha, ctx.other_shape = alpha, shape_of(other)
        return dispatch("add_", ctx.device)(x.array, arr(other), alpha)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        go = unbroadcast(g.array * ctx.alpha, ctx.other_shape) if need[1] else None
        return (g if need[0] else None), go, None


def _save_operand(ctx, x: Tensor, other, keep: bool):
    """Keep ``other`` for backward when ``keep`` (a needed gradient reads it; else nothing is
    kept, so changing it in place later is no error, as in PyTorch): a Tensor through
    save_for_backward (so changing it in place before backward raises), or a private copy when
    it shares memory with ``x`` (the write would change it: ``y.mul_(y)``); a host array the
    caller may still write is copied (`kept_array`). Returns the array forward should use."""
    if not isinstance(other, Tensor):  # a number or an array
        ctx.other = kept_array(other) if keep else other
        return other
    o = other.array
    if not keep:
        return o
    if x.xp.may_share_memory(x.array, o):
        ctx.other = o = o.copy()
    else:
        ctx.other = None
        ctx.save_for_backward(other)
    return o


def _operand(ctx):
    return ctx.other if ctx.other is not None else ctx.saved_tensors[0].array


class MulInplace(Function):
    op_name = "mul_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, other):
        ctx.old = x.array.copy() if ctx.needs_input_grad[1] else None
        ctx.other_shape = shape_of(other)
        # d/dx reads other; d/dother reads x's old values
        o = _save_operand(ctx, x, other, ctx.needs_input_grad[0])
        return dispatch("mul_", ctx.device)(x.array, o)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gx = g.array * _operand(ctx) if need[0] else None
        go = unbroadcast(g.array * ctx.old, ctx.other_shape) if need[1] else None
        return gx, go


class DivInplace(Function):
    op_name = "div_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, other):
        ctx.old = x.array.copy() if ctx.needs_input_grad[1] else None
        ctx.other_shape = shape_of(other)
        o = _save_operand(ctx, x, other, any(ctx.needs_input_grad))  # both gradients read it
        with np.errstate(**QUIET_FP):  # x / 0 is inf or nan, as x / 0
            return dispatch("div_", ctx.device)(x.array, o)

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        o = _operand(ctx)
        gx = g.array / o if need[0] else None
        go = unbroadcast(-g.array * ctx.old / (o * o), ctx.other_shape) if need[1] else None
        return gx, go


class ClampInplace(Function):
    op_name = "clamp_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, lo, hi):
        lo, hi = arr(lo), arr(hi)
        if any(ctx.needs_input_grad):  # masks from the values before they are overwritten
            ctx.masks = dispatch("clamp_masks", ctx.device)(x.array, lo, hi, ctx.needs_input_grad)
            ctx.shapes = x.shape, np.shape(lo), np.shape(hi)
            ctx.dtypes = x.dtype, getattr(lo, "dtype", None), getattr(hi, "dtype", None)
        x.array[...] = dispatch("clamp", ctx.device)(x.array, lo, hi)
        return x.array

    backward = staticmethod(clamp_grads)


class Fill(Function):
    op_name = "fill_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, value):
        return dispatch("fill_", ctx.device)(x.array, arr(value))

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        # the overwritten input's gradient is 0, not None: as torch, whatever made it still
        # gets a (zero) .grad, so optimizers apply weight decay / momentum to it
        return (_zeros_like(g.array) if need[0] else None,
                g.array.sum().reshape(()) if need[1] else None)


class Copy(Function):
    op_name = "copy_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, src):
        ctx.src_shape, ctx.src_device, ctx.src_dtype = src.shape, src.device, src.dtype
        # a copy may cross devices and dtypes (as torch's copy_); the gradient goes back to
        # src's device in src's dtype
        x.array[...] = backend.to_device(src.array, x.device)
        return x.array

    @staticmethod
    def backward(ctx, g):
        gx = _zeros_like(g.array) if ctx.needs_input_grad[0] else None  # overwritten: 0
        if not ctx.needs_input_grad[1]:
            return gx, None
        gs = unbroadcast(g.array, ctx.src_shape)
        if gs.dtype != ctx.src_dtype:
            gs = gs.astype(ctx.src_dtype)
        return gx, backend.to_device(gs, ctx.src_device)


def _zeros_like(a):
    return backend.xp_of(a).zeros_like(a)


def _check(op, x, other=None, *, cross_device=False, divide=False):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor (got {type(x).__name__})")
    if isinstance(other, Tensor) and not cross_device and other.device != x.device:
        raise ValueError(f"{op}: `other` is on {other.device} but the tensor is on {x.device}; "
                         "move it with .to()")
    if hasattr(other, "shape") and not broadcasts_to(other.shape, x.shape):
        raise ValueError(f"{op}: `other` of shape {other.shape} cannot be broadcast to the "
                         f"tensor's shape {x.shape}")
    if other is None or cross_device:
        return
    o = other.array if isinstance(other, Tensor) else other
    if not isinstance(o, bool | int | float | np.generic) and not hasattr(o, "dtype"):
        raise TypeError(f"{op}: expected `other` to be a Tensor or a number "
                        f"(got {type(other).__name__})")
    _check_cast(op, x, backend.result_type(x.array, o, floating=divide, op=op))


def _check_cast(op: str, x: Tensor, result) -> None:
    """PyTorch's in-place rule: the result dtype must cast to the tensor's within its kind."""
    if not np.can_cast(result, x.dtype, "same_kind"):
        raise TypeError(f"{op}: the result type {result} can't be cast to the tensor's dtype "
                        f"{x.dtype} in place; use the out-of-place op or convert with .to()")


def _as_operand(input: Tensor, other):
    """A raw array operand moved to input's device (host data moves, as in `copy_`); it stays an
    array, which the Function copies only if a gradient reads it (`_save_operand`)."""
    if isinstance(other, Tensor) or isinstance(other, np.generic) or not hasattr(other, "shape"):
        return other
    return backend.to_device(other, input.device)


def add_(input: Tensor, other, alpha=1) -> Tensor:
    """``input += alpha * other`` in place."""
    other = fit_int_scalar("add_", _as_operand(input, other), input)
    _check("add_", input, other)
    return AddInplace.apply_inplace(input, other, alpha)


def mul_(input: Tensor, other) -> Tensor:
    """``input *= other`` in place."""
    other = fit_int_scalar("mul_", _as_operand(input, other), input)
    _check("mul_", input, other)
    return MulInplace.apply_inplace(input, other)


def div_(input: Tensor, other) -> Tensor:
    """``input /= other`` in place (a floating tensor; ``x / 0`` gives inf or nan)."""
    other = _as_operand(input, other)
    _check("div_", input, other, divide=True)
    return DivInplace.apply_inplace(input, other)


def clamp_(input: Tensor, min=None, max=None) -> Tensor:
    """Clip ``input`` to ``[min, max]`` in place (bounds as `clamp`'s)."""
    lo, hi = clamp_bounds("clamp_", input, min, max)
    bounds = [b for b in (lo, hi) if b is not None]
    # an int tensor clamped to 2.5 would be float: refused, as `add_(2.5)` is (and PyTorch)
    _check_cast("clamp_", input, backend.result_type(input, *bounds, op="clamp_"))
    lo, hi = (b.to(input.dtype) if isinstance(b, Tensor) and b.dtype != input.dtype else b
              for b in (lo, hi))
    return ClampInplace.apply_inplace(input, lo, hi)


def fill_(input: Tensor, value) -> Tensor:
    """Set every element to ``value`` in place."""
    _check("fill_", input)
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"fill_: expected `value` to be a number or a 0-d Tensor (got a "
                             f"Tensor of shape {value.shape})")
    elif isinstance(value, str | bytes) or not isinstance(value, int | float | np.number):
        raise TypeError(f"fill_: expected `value` to be a number or a 0-d Tensor (got "
                        f"{type(value).__name__} {value!r})")
    else:
        value = backend.check_fits("fill_", "value", value, input.dtype)
    return Fill.apply_inplace(input, value)


def copy_(input: Tensor, src: Tensor) -> Tensor:
    """Copy ``src`` (broadcast to ``input``'s shape) into ``input`` in place."""
    if not isinstance(src, Tensor):
        from sparsegraph.creation import tensor

        src = tensor(src, dtype=input.dtype)
    _check("copy_", input, src, cross_device=True)
    return Copy.apply_inplace(input, src)


# ---- activations in place ------------------------------------------------------------------
def _activated(op: str, input: Tensor, fn) -> Tensor:
    """``fn(input)`` written back into ``input`` through `copy_` (recorded, version bumped; a
    backward that saved ``input`` raises), as ``relu(input, inplace=True)`` does."""
    _check(op, input)
    if op != "relu_" and input.dtype.kind != "f":  # sigmoid / tanh of an int tensor are float
        _check_cast(op, input, np.dtype(np.float32))
    return Copy.apply_inplace(input, fn(input), inplace_name=op)


def relu_(input: Tensor) -> Tensor:
    """`relu` in place (torch.relu_)."""
    return _activated("relu_", input, relu)


def sigmoid_(input: Tensor) -> Tensor:
    """`sigmoid` in place (torch.sigmoid_); a floating tensor."""
    return _activated("sigmoid_", input, sigmoid)


def tanh_(input: Tensor) -> Tensor:
    """`tanh` in place (torch.tanh_); a floating tensor."""
    return _activated("tanh_", input, tanh)


def lerp_(input: Tensor, end: Tensor, weight) -> Tensor:
    """torch's ``Tensor.lerp_`` (a method only, as there): `lerp` written back into ``input``,
    whose shape the result must keep."""
    out = lerp(input, end, weight)
    if out.shape != input.shape:
        raise ValueError(f"lerp_: expected `end` {shape_of(end)} and `weight` "
                         f"{shape_of(weight)} broadcastable to the tensor's shape {input.shape} "
                         f"(the result has shape {out.shape})")
    return Copy.apply_inplace(input, out, inplace_name="lerp_")


# ---- torch's x &= y, |=, ^=, //=, %=, **= (and bitwise_and_, ...: methods only) -----------
def _rewritten(op: str, fn, input: Tensor, *other) -> Tensor:
    """``fn(input, *other)`` written back into ``input`` through `Copy` (recorded, version
    bumped, a view's base changed too), as PyTorch's in-place operators: the result must keep
    ``input``'s shape and cast to its dtype within its kind. When a gradient is recorded ``fn``
    reads a copy of ``input``, so what it saves for backward (``pow`` saves its base) is not
    the array the write overwrites: the gradient is ``fn``'s, exactly (``x **= 2`` gives
    ``2 x``)."""
    other = tuple(_as_operand(input, o) for o in other)
    _check(op, input, *other)
    recorded = is_grad_enabled() and any(getattr(t, "requires_grad", False)
                                         for t in (input, *other))
    out = fn(input.clone() if recorded else input, *other)
    if out.shape != input.shape:  # a 0-d input with a 1-element operand
        raise ValueError(f"{op}: the result of shape {out.shape} does not fit the tensor's "
                         f"shape {input.shape}")
    _check_cast(op, input, out.dtype)
    return Copy.apply_inplace(input, out, inplace_name=op)


def bitwise_and_(input: Tensor, other) -> Tensor:
    """``input &= other`` in place (integer or bool tensors; an int scalar wraps, as `&`)."""
    return _rewritten("bitwise_and_", bitwise_and, input, other)


def bitwise_or_(input: Tensor, other) -> Tensor:
    """``input |= other`` in place."""
    return _rewritten("bitwise_or_", bitwise_or, input, other)


def bitwise_xor_(input: Tensor, other) -> Tensor:
    """``input ^= other`` in place."""
    return _rewritten("bitwise_xor_", bitwise_xor, input, other)


def bitwise_not_(input: Tensor) -> Tensor:
    """``~input`` written into ``input``."""
    return _rewritten("bitwise_not_", bitwise_not, input)


def floor_divide_(input: Tensor, other) -> Tensor:
    """``input //= other`` in place (rounded toward -inf; an int scalar wraps, as `//`)."""
    return _rewritten("floor_divide_", floor_divide, input, other)


def remainder_(input: Tensor, other) -> Tensor:
    """``input %= other`` in place (Python's ``%``; differentiable, as `remainder`)."""
    return _rewritten("remainder_", remainder, input, other)


def pow_(input: Tensor, exponent) -> Tensor:
    """``input **= exponent`` in place; differentiable, with `pow`'s gradient."""
    return _rewritten("pow_", power, input, exponent)


# ---- torch's Tensor.scatter_ / scatter_add_ -------------------------------------------------
@register("tensor_scatter_", "cpu", "cuda")
def _tensor_scatter_kernel(x, key, values, reduce):
    """``x[key] = values`` (None), ``+=`` (add) or ``*=`` (multiply), repeated positions
    accumulating for add / multiply."""
    if reduce is None:
        x[key] = values
        return x
    ufunc = xp_of(x).add if reduce == "add" else xp_of(x).multiply
    if getattr(ufunc, "at", None) is None:  # pragma: no cover - CuPy without ufunc.at
        if reduce == "multiply":
            raise NotImplementedError("scatter_: reduce='multiply' needs ufunc.at, which this "
                                      "CuPy lacks")
        return dispatch("index_add", device_type(backend.device_of(x)))(x, key, values)
    ufunc.at(x, key, values)
    return x


def _scatter_key(idx, dim: int) -> tuple:
    """torch's scatter positions: ``idx`` along ``dim``, each element's own position in the
    other dims."""
    xp = xp_of(idx)
    return tuple(idx if i == dim else xp.arange(n).reshape((n,) + (1,) * (idx.ndim - 1 - i))
                 for i, n in enumerate(idx.shape))


class ScatterInplace(Function):
    """torch's ``x.scatter_(dim, index, src | value, reduce=...)``: ``src`` (its leading part
    of ``index``'s shape) or a number written, added or multiplied at ``index`` along ``dim``.
    Gradients: the overwritten positions of ``x`` get 0 (all of ``g`` passes for add);
    ``src`` gets ``g`` gathered at ``index``. ``source`` is the Tensor ``index`` came from."""

    op_name = "scatter_"  # in errors: the name the user called

    @staticmethod
    def forward(ctx, x, dim, idx, src, reduce, source, op):
        _check_range(op, idx, x.shape[dim], dim)
        part = tuple(slice(0, n) for n in idx.shape)  # src's elements that are written
        values = src.array[part] if isinstance(src, Tensor) else x.dtype.type(src)
        key = _scatter_key(kept_array(idx, source) if any(ctx.needs_input_grad) else idx, dim)
        if any(ctx.needs_input_grad):
            ctx.key, ctx.part, ctx.reduce = key, part, reduce
            ctx.src_shape = src.shape if isinstance(src, Tensor) else None
            ctx.save_for_backward(source)
        return dispatch("tensor_scatter_", ctx.device)(x.array, key, values, reduce)

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        if ctx.reduce == "multiply":  # torch: no derivative for the reduce overloads but add
            raise RuntimeError("scatter_: the gradient of reduce='multiply' is not implemented "
                               "(as in torch); use reduce=None or 'add', or no gradient")
        g, need = g.array, ctx.needs_input_grad
        gx = gs = None
        if need[0]:
            gx = g
            if ctx.reduce is None:  # the written positions no longer reach the output
                gx = g.copy()
                gx[ctx.key] = 0
        if need[3]:
            gs = xp_of(g).zeros(ctx.src_shape, dtype=g.dtype)
            gs[ctx.part] = g[ctx.key]
        return gx, None, None, gs, None, None, None


def tensor_scatter_(input: Tensor, dim: int, index, src=None, *, value=None,
                    reduce=None) -> Tensor:
    """torch's ``Tensor.scatter_``: for ``dim = 0``, ``input[index[i][j]][j] = src[i][j]`` (and
    alike for other dims), or ``= value`` for a number; ``reduce='add'`` / ``'multiply'``
    accumulate instead. A Tensor method only (``x.scatter_(...)``): ``sg.scatter`` is PyG's
    reduction, with another signature.

    Args:
        input: the tensor written in place.
        dim: the dim ``index`` indexes.
        index: an integer tensor with ``input``'s number of dims, no larger than ``input``
            outside ``dim`` and no larger than ``src`` in any dim; values in
            ``[0, input.shape[dim])``.
        src: a Tensor of ``input``'s dtype and number of dims, or a number (as ``value``).
        value: a number written where ``src`` is not given.
        reduce: None, ``'add'`` or ``'multiply'``. (default: None)

    Raises:
        TypeError: a non-integer ``index``, a ``src`` of another dtype, neither or both of
            ``src`` and ``value``, or a ``value`` that is not a number.
        ValueError: ``index`` / ``src`` with another number of dims or too large, indices out
            of range, a 0-d ``input``, ``dim`` out of range, or another ``reduce``.
    """
    _check("scatter_", input)
    if src is None and value is None or src is not None and value is not None:
        raise TypeError("scatter_: expected one of `src` (a Tensor) and `value` (a number) "
                        f"(got {'neither' if src is None else 'both'})")
    if src is None or not isinstance(src, Tensor):
        src = value if src is None else src
        if not isinstance(src, bool | int | float | np.number | np.bool_):
            raise TypeError(f"scatter_: expected `value` to be a number (got "
                            f"{type(src).__name__} {src!r})")
    return _scatter("scatter_", input, dim, index, src, reduce)


def _scatter(op: str, input: Tensor, dim, index, src, reduce) -> Tensor:
    """`tensor_scatter_` once ``src`` is a Tensor or a number: the checks, then the write."""
    if reduce is not None:
        reduce = check_choice(op, "reduce", reduce, ("add", "multiply"))
    if input.ndim == 0:
        raise ValueError(f"{op}: expected `input` with at least one dim (got a 0-d tensor)")
    d = norm_dim(op, dim, input.ndim)
    idx, source = _index_array(op, "index", index, input)
    check_index_shape(op, idx, input, d)
    if isinstance(src, Tensor):
        if src.dtype != input.dtype:
            raise TypeError(f"{op}: expected `src` with the dtype of `input`, "
                            f"{input.dtype} (got {src.dtype}); convert it with .to()")
        if src.device != input.device:
            raise ValueError(f"{op}: `src` is on {src.device} but `input` is on "
                             f"{input.device}; move it with .to()")
        if src.ndim != idx.ndim or any(n > m for n, m in zip(idx.shape, src.shape,
                                                              strict=True)):
            raise ValueError(f"{op}: expected `src` with {idx.ndim} dims, no smaller "
                             f"than `index` of shape {idx.shape} (got shape {src.shape})")
    return ScatterInplace.apply_inplace(input, d, idx, src, reduce, source, op,
                                        inplace_name=op)


def tensor_scatter_add_(input: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """torch's ``Tensor.scatter_add_``: ``input[index[i][j]][j] += src[i][j]`` for ``dim = 0``
    (and alike), repeated indices summing; `tensor_scatter_` with ``reduce='add'``. The
    gradient of ``input`` passes through; ``src`` gets it gathered at ``index``."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add_: expected `src` to be a Tensor (got "
                        f"{type(src).__name__})")
    _check("scatter_add_", input)
    return _scatter("scatter_add_", input, dim, index, src, "add")
