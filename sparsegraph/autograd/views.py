"""Views and in-place writes through them (PyTorch's CopySlices, in small).

An op output whose array is a view of an input's memory (basic indexing, reshape, permute, ...)
remembers its ROOT base (the tensor that is not itself a view) in ``t._view``. An in-place op on
such a view changes the base's values too, so `Function.apply_inplace` then rebases the BASE
onto a :class:`CopySlices` node: ``new_base = old_base`` with the view's region replaced by the
op's output. Every other view of that base sees its values change as well; it notices through the
shared version counter the next time it is used and is regenerated as an :class:`AsStrided`
view of the base's new history (`refresh`).

The region of a view inside its base is found from the arrays' data pointers and strides, so
views of views, negative strides and reshapes all map the same way.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import device_type, xp_of
from sparsegraph.tensor import Tensor, _RetainGrad


class ViewInfo:
    """``base``: the root tensor whose memory a view shares; ``version``: the shared version
    counter's value when the view's ``grad_fn`` was last set; ``grad``: whether the view was
    made in grad mode (a view made under ``no_grad`` may not be written in grad mode);
    ``custom``: for an output of a custom Function that is a view (or a view of one),
    ``"Output i of NameBackward"`` (`tag_custom_views`), else None."""

    __slots__ = ("base", "version", "grad", "custom")

    def __init__(self, base, version: int, grad: bool, custom: str | None = None):
        self.base, self.version, self.grad, self.custom = base, version, grad, custom


_CUSTOM_HINT = (
    " This view was created inside a custom Function (or because an input was returned as-is) "
    "and the autograd logic to handle view+inplace would override the custom backward "
    "associated with the custom Function, leading to incorrect gradients. This behavior is "
    "forbidden. You can fix this by cloning the output of the custom Function.")


def tag_custom_views(name: str, outs: tuple, node, skip=()) -> None:
    """Mark the outputs of custom Function ``name`` that alias memory (a view made inside
    forward, or an input returned as is) and were recorded as ``node``'s: regenerating their
    history after an in-place change (`refresh`, `check_inplace`) would replace the custom
    backward by `AsStrided` / `CopySlices`, so PyTorch refuses it, and so do we. ``skip``:
    positions of inputs marked dirty (they are the inputs themselves, not new views)."""
    for i, o in enumerate(outs):
        if o is not None and o._view is not None and o.grad_fn is node and i not in skip:
            o._view.custom = f"Output {i} of {name}Backward"
            o._view.version = o._version[0]  # after `_commit_dirty` bumped a shared counter


def _ptr(a) -> int:
    return a.__array_interface__["data"][0] if isinstance(a, np.ndarray) else a.data.ptr


def _span(a) -> tuple:
    """Byte bounds ``[lo, hi)`` of the memory an array addresses."""
    lo = hi = _ptr(a)
    if a.size == 0:
        return lo, lo
    for n, s in zip(a.shape, a.strides, strict=True):
        if s > 0:
            hi += s * (n - 1)
        else:
            lo += s * (n - 1)
    return lo, hi + a.itemsize


class Region:
    """Where a view's elements sit inside its base's memory, as element offsets and byte
    strides into one flat buffer that spans the base."""

    __slots__ = ("size", "base_off", "base_shape", "base_strides", "view_off", "view_shape",
                 "view_strides", "bcast")

    @classmethod
    def of(cls, base, view) -> Region | None:
        """The region of ``view`` in ``base``, or None if it no longer lies inside it."""
        if view.dtype != base.dtype:
            return None
        lo, hi = _span(base)
        vlo, vhi = _span(view)
        if view.size and not (lo <= vlo and vhi <= hi):
            return None
        r = cls.__new__(cls)
        isz = base.itemsize
        r.size = (hi - lo) // isz
        r.base_off = (_ptr(base) - lo) // isz
        r.base_shape, r.base_strides = base.shape, base.strides
        r.view_off = (_ptr(view) - lo) // isz if view.size else 0
        # NOTE: a broadcast (expanded) view has stride-0 axes; its gradient is summed over them
        r.bcast = tuple(i for i, (n, s) in enumerate(zip(view.shape, view.strides, strict=True))
                        if s == 0 and n > 1)
        r.view_shape = tuple(1 if i in r.bcast else n for i, n in enumerate(view.shape))
        r.view_strides = view.strides
        return r

    def _buffers(self, xp, dtype):
        buf = xp.zeros(self.size, dtype)
        strided = xp.lib.stride_tricks.as_strided
        gb = strided(buf[self.base_off:], self.base_shape, self.base_strides)
        gv = strided(buf[self.view_off:], self.view_shape, self.view_strides)
        return gb, gv

    def scatter(self, g):
        """A base-shaped gradient: ``g`` (view-shaped) at the view's elements, 0 elsewhere."""
        xp = xp_of(g)
        gb, gv = self._buffers(xp, g.dtype)
        if self.view_shape:
            gv[...] = g.sum(axis=self.bcast, keepdims=True) if self.bcast else g
        return xp.ascontiguousarray(gb)

    def split(self, g):
        """``(g with the view's elements zeroed, g at the view's elements)`` for a base-shaped
        ``g``: the two halves of CopySlices' backward."""
        xp = xp_of(g)
        gb, gv = self._buffers(xp, g.dtype)
        gb[...] = g
        part = gv.copy()
        gv[...] = 0
        return xp.ascontiguousarray(gb), part


# ---- the two graph nodes -----------------------------------------------------------------------
# NOTE: plain classes, not Functions: they are only ever recorded by hand (`_node`), and a Node
# needs no more than ``backward`` and ``__name__``.
class CopySlices:
    """``new_base = old_base`` with a view's region replaced by an in-place op's output.

    Inputs: the old base and the op's output; the base's gradient splits into the part outside
    the region (to the old base) and the part inside it (to the op, which routes it on to the
    view's old values and the op's other operands)."""

    @staticmethod
    def backward(ctx, g):
        need = ctx.needs_input_grad
        gb, part = ctx.region.split(g.array)
        return (gb if need[0] else None), (part if need[1] else None)


class AsStrided:
    """A view read again from its base after the base changed in place."""

    @staticmethod
    def backward(ctx, g):
        return ctx.region.scatter(g.array)


def _node(fn, base, inputs: tuple, region):
    from sparsegraph.autograd.function import Context, Node, grad_edge  # function imports us

    needs = tuple(t is not None and t._requires_grad for t in inputs)
    ctx = Context(needs, device_type(base.device))
    ctx.region = region
    pairs = tuple(zip(inputs, needs, strict=True))
    node = Node(fn, ctx, tuple(grad_edge(t) if n else (None, 0) for t, n in pairs),
                tuple((t.shape, t.dtype) if n else None for t, n in pairs), 1)
    ctx._node = node
    return node


def _set_history(t, node) -> None:
    old_fn, old_nr = t.grad_fn, t._output_nr
    t.grad_fn, t._output_nr, t._requires_grad = node, 0, True
    move_retain_grad(t, old_fn, old_nr)


def move_retain_grad(t, old_fn, old_nr: int) -> None:
    """After ``t`` got a new ``grad_fn`` (an in-place op, or a view regenerated after one),
    move the hook of `Tensor.retain_grad` from ``(old_fn, old_nr)`` to it: ``t.grad`` is then
    the gradient of the new version, as in PyTorch 2 (``update_tensor_hooks_on_new_gradfn``).
    Hooks from `Tensor.register_hook` stay with the old version, as there."""
    hooks = (old_fn.pre_hooks or {}).get(old_nr) if old_fn is not None else None
    if not hooks or old_fn is t.grad_fn:
        return
    for key, hook in list(hooks.items()):
        if isinstance(hook, _RetainGrad) and hook.tensor is t:
            del hooks[key]
            node = t.grad_fn
            node.pre_hooks = node.pre_hooks or {}
            node.pre_hooks.setdefault(t._output_nr, {})[key] = hook  # last: a fresh node


def refresh(t) -> None:
    """Regenerate the history of view ``t`` after its memory was changed in place (through the
    base or another view): ``t`` becomes an `AsStrided` view of the base's current history."""
    info = t._view
    if info.custom is not None:
        raise RuntimeError(f"{info.custom} is a view and its base or another view of its base "
                           "has been modified inplace." + _CUSTOM_HINT)
    info.version = t._version[0]
    base = info.base
    if not info.grad or not base._requires_grad:
        return
    region = Region.of(base.array, t.array)
    if region is not None:
        _set_history(t, _node(AsStrided, base, (base,), region))


def rebase(target, op_out) -> None:
    """After an in-place op recorded as ``op_out`` (a Tensor whose ``grad_fn`` is the op's node)
    changed view ``target``, make the root base's history a `CopySlices` of it."""
    base = target._view.base
    region = Region.of(base.array, target.array)
    if region is None:  # the base's array was replaced (`base.data = ...`): no longer a view
        target._view = None
        return
    _set_history(base, _node(CopySlices, base, (base if base._requires_grad else None, op_out),
                             region))


def check_inplace(name: str, target, args) -> None:
    """The in-place writes autograd cannot record (PyTorch raises the same ones)."""
    info = target._view
    if info is not None and info.custom is not None:
        raise RuntimeError(f"{name}: {info.custom} is a view and is being modified inplace."
                           + _CUSTOM_HINT)
    base = target if info is None else info.base
    # NOTE: a view can be a leaf itself (``w = a[1:]; w.requires_grad_()``), not only its base
    leaf = next((t for t in (base, target) if t._requires_grad and t.grad_fn is None), None)
    if leaf is not None:
        what = "a leaf tensor" if leaf is target else "a view of a leaf tensor"
        raise RuntimeError(
            f"{name}: {what} that requires grad is used in an in-place operation; wrap the "
            "update in sg.no_grad() or change a .clone()")
    if info is not None and not info.grad and (base._requires_grad or any(
            isinstance(a, Tensor) and a._requires_grad for a in args)):
        raise RuntimeError(
            f"{name}: a view made under no_grad is modified in place in grad mode, so autograd "
            "cannot track the change to its base; make the view in grad mode or write into "
            "the base itself")


def check_writable(name: str, a) -> None:
    """An in-place op may not write into memory that several elements share (an expand()ed or
    broadcast view: numpy marks it read-only, cupy would silently write each element once per
    alias) or that is read-only; PyTorch refuses the same writes. A tensor with no elements
    shares nothing (numpy gives its axes zero strides all the same): the write is a no-op."""
    if a.size and any(s == 0 and n > 1 for n, s in zip(a.shape, a.strides, strict=True)):
        raise RuntimeError(
            f"{name}: cannot write in place into a tensor of shape {tuple(a.shape)} whose "
            f"elements share memory (an expand()ed or broadcast view, strides {a.strides}); "
            "write into a copy made with .clone() instead")
    if not getattr(a.flags, "writeable", True):
        raise RuntimeError(
            f"{name}: cannot write in place into a tensor of shape {tuple(a.shape)} whose "
            "memory is read-only (it wraps a read-only array); write into a .clone() instead")
