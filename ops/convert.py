"""Copies and conversions: `clone`, `to` (dtype and/or device). Both are differentiable."""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.kernels import dispatch, register
from sparsegraph.tensor import Tensor

__all__ = ["clone", "to"]


@register("clone", "cpu", "cuda")
def _clone_kernel(x):
    return x.copy()


@register("astype", "cpu", "cuda")
def _astype_kernel(x, dtype):
    return x.astype(dtype)


class Clone(Function):
    """A copy with its own memory; the gradient passes through unchanged."""

    @staticmethod
    def forward(ctx, x):
        return dispatch("clone", ctx.device)(x.array)

    @staticmethod
    def backward(ctx, g):
        return g


class Detach(Function):
    """The same array with no history: what `Tensor.detach` records while a static graph is
    traced (the graph then re-reads the value each run instead of freezing the traced one)."""

    @staticmethod
    def forward(ctx, x):
        return x.array

    @staticmethod
    def backward(ctx, g):
        return None


def traced_detach(input: Tensor) -> Tensor:
    """`Tensor.detach` inside a static trace: a recorded node whose output needs no grad."""
    from sparsegraph.autograd.grad_mode import no_grad

    with no_grad():
        out = Detach.apply(input)
    out._view = None  # no history to rebase: in-place writes to it are plain writes
    return out


class ToDtype(Function):
    """Cast; between float types the gradient is cast back."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.src = x.dtype
        return dispatch("astype", ctx.device)(x.array, dtype)

    @staticmethod
    def backward(ctx, g):
        return dispatch("astype", ctx.device)(g.array, ctx.src), None


class ToDevice(Function):
    """Move between devices; the gradient moves back."""

    @staticmethod
    def forward(ctx, x, device):
        ctx.src = x.device
        return backend.to_device(x.array, device)

    @staticmethod
    def backward(ctx, g):
        return backend.to_device(g.array, ctx.src), None


def clone(input: Tensor) -> Tensor:
    """A copy of ``input`` with its own memory (differentiable)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"clone: expected a Tensor (got {type(input).__name__})")
    return Clone.apply(input)


def _show(value) -> str:
    return str(value) if isinstance(value, np.dtype) else repr(value)


def _parse_to(args, kwargs):
    """``(device or None, dtype or None)`` from ``to``'s arguments; a string is a device
    ('cpu', 'cuda', 'cuda:N') or a dtype name, and each may be given once."""
    found = {"device": kwargs.pop("device", None), "dtype": kwargs.pop("dtype", None)}
    # PyTorch's keywords for asynchronous / pinned copies: every copy here is complete when
    # `to` returns, so they change nothing, but a wrong type is still an error
    for flag in ("non_blocking", "copy"):
        value = kwargs.pop(flag, False)
        if not isinstance(value, bool):
            raise TypeError(f"to: expected a bool for {flag} (got {type(value).__name__} "
                            f"{value!r})")
        if flag == "copy" and value:
            raise TypeError("to: copy=True is not supported (use .clone() after .to())")
    if kwargs:
        raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            pairs = (("device", a.device), ("dtype", a.dtype))
        elif isinstance(a, str) and (a == "cpu" or a.startswith("cuda")) or (
                isinstance(a, int | np.integer) and not isinstance(a, bool)):  # to(0): cuda:0
            pairs = (("device", a),)
        elif isinstance(a, str) and a not in backend.DTYPES:
            raise TypeError(f"to: expected a device ('cpu', 'cuda' or 'cuda:N') or a dtype "
                            f"name {sorted(backend.DTYPES)} (got {a!r})")
        else:
            pairs = (("dtype", a),)
        for what, value in pairs:
            if found[what] is not None:  # torch refuses `to(float32, float64)` too
                raise TypeError(f"to: expected one {what} (got {_show(found[what])} and "
                                f"{_show(value)})")
            found[what] = value
    return found["device"], found["dtype"]


def to(input: Tensor, *args, **kwargs) -> Tensor:
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)``.

    Returns ``input`` itself when nothing changes, as PyTorch does. ``non_blocking`` (a bool)
    is accepted for PyTorch code and has no effect: the copy is complete when ``to`` returns.
    """
    device, dtype = _parse_to(args, dict(kwargs))
    out = input
    if dtype is not None:
        dt = backend.as_dtype(dtype)
        if dt != out.dtype:
            if out.requires_grad and dt.kind != "f":
                out = out.detach()
            out = ToDtype.apply(out, dt)
    if device is not None:
        dev = backend.normalize_device(device)
        if dev != out.device:
            out = ToDevice.apply(out, dev)
    return out
