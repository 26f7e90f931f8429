"""Hooks of a `Module` (PyTorch's ``register_forward_pre_hook`` / ``register_forward_hook`` /
``register_full_backward_pre_hook`` / ``register_full_backward_hook``): the handle that
removes one, and the call that runs them.

A module without hooks never reaches this file: `Module.__call__` tests its hook dicts and
calls ``forward`` directly.
"""

from __future__ import annotations

import itertools

from sparsegraph.autograd.function import Function
from sparsegraph.autograd.grad_mode import is_grad_enabled
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import TRACE, Tensor

_IDS = itertools.count()


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods: ``remove()`` unregisters the hook (a second
    call does nothing); as a context manager it removes the hook on exit, as PyTorch's."""

    def __init__(self, hooks: dict):
        self.hooks_dict = hooks
        self.id = next(_IDS)

    def remove(self) -> None:
        self.hooks_dict.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def add_hook(op: str, hooks: dict, hook, prepend: bool, with_kwargs: bool) -> RemovableHandle:
    """Store ``hook`` in ``hooks`` (first with ``prepend``) and return its handle."""
    if not callable(hook):
        raise TypeError(f"{op}: expected a callable `hook` (got {type(hook).__name__})")
    handle = RemovableHandle(hooks)
    hooks[handle.id] = (hook, bool(with_kwargs))
    if prepend:
        for key in [k for k in hooks if k != handle.id]:
            hooks[key] = hooks.pop(key)  # move every other hook after the new one
    return handle


def call_with_hooks(module, args: tuple, kwargs: dict):
    """``module.forward(*args, **kwargs)`` with the forward pre-hooks before and the forward
    hooks after, PyTorch's rules: a pre-hook may return new args (a non-tuple becomes a
    1-tuple), or ``(args, kwargs)`` when registered ``with_kwargs``; a hook may return a new
    output. With backward hooks, the positional tensor inputs (after the pre-hooks) and the
    output (after the hooks) pass through `_BackwardHookIdentity`, as PyTorch's BackwardHook
    does. A static trace refuses hooks: they are Python code a replay would not run."""
    pre, post = module._forward_pre_hooks, module._forward_hooks
    if TRACE.tracer is not None:
        kind, names = (("forward", "register_forward_hook / register_forward_pre_hook")
                       if pre or post else ("backward", "register_full_backward_hook / "
                                            "register_full_backward_pre_hook"))
        TRACE.tracer.unsupported(
            f"a {kind} hook on {type(module).__name__} ({names})",
            "a static graph replays only the tensor ops, so the hook's Python code would run "
            "once, at trace time. Remove the hook (handle.remove()) while compiling, or run "
            "this step eagerly")
    for hook, with_kwargs in list(pre.values()):
        if with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        f"forward pre-hook {getattr(hook, '__name__', hook)!r} registered with "
                        "with_kwargs=True must return None or a tuple (args, kwargs) (got "
                        f"{type(result).__name__})")
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    backward = None
    if (module._backward_hooks or module._backward_pre_hooks) and is_grad_enabled():
        backward = _BackwardHooks(module, len(args))
        args = backward.wrap_inputs(args)
    output = module.forward(*args, **kwargs)
    for hook, with_kwargs in list(post.values()):
        result = hook(module, args, kwargs, output) if with_kwargs else hook(
            module, args, output)
        if result is not None:
            output = result
    return output if backward is None else backward.wrap_output(output)


class _BackwardHookIdentity(Function):
    """Returns its tensors unchanged; in backward, ``on_backward(grads)`` sees (and may
    replace) the gradients passing through. Unused outputs get None, not zeros."""

    @staticmethod
    def forward(ctx, on_backward, *tensors):
        ctx.on_backward = on_backward
        ctx.set_materialize_grads(False)
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        return (None, *ctx.on_backward(grads))


def _through_identity(values, on_backward):
    """``values`` with the tensors that require grad (a SparseTensor: its values) replaced by
    `_BackwardHookIdentity`'s outputs; returns ``(values, positions, hooked)``, ``hooked`` the
    SparseTensor at each position (None for a dense one); positions None when nothing
    requires grad."""
    where, hooked = [], []
    for i, v in enumerate(values):
        t = v.values if isinstance(v, SparseTensor) else v
        if isinstance(t, Tensor) and t.requires_grad:
            where.append(i)
            hooked.append(v if isinstance(v, SparseTensor) else None)
    if not where:
        return values, None, None
    outs = _BackwardHookIdentity.apply(on_backward, *(
        values[i] if a is None else a.values for i, a in zip(where, hooked, strict=True)))
    values = list(values)
    for i, a, o in zip(where, hooked, outs, strict=True):
        values[i] = o if a is None else a.with_values(o)
    return values, where, hooked


def _pack(grads, where, hooked, n: int) -> tuple:
    """One entry per position of ``n``: the gradient at the ``where`` positions (a SparseTensor
    with the argument's structure for a sparse one, as its ``.grad``), else None."""
    packed = [None] * n
    for i, a, g in zip(where, hooked, grads, strict=True):
        packed[i] = g if a is None or g is None else a.with_values(g)
    return tuple(packed)


def _unpack(grads: tuple, where) -> tuple:
    """The gradients at the ``where`` positions, a SparseTensor's as its values."""
    return tuple(grads[i].values if isinstance(grads[i], SparseTensor) else grads[i]
                 for i in where)


class _BackwardHooks:
    """One forward call's backward hooks: the output's gradients reach the pre-hooks
    (``hook(module, grad_output)``, may return new ones), then the inputs' gradients reach the
    hooks with them (``hook(module, grad_input, grad_output)``, may return new grad_input).
    grad_input has one entry per positional argument, None for those that are not tensors
    requiring grad (a SparseTensor whose values require grad gets a SparseTensor of its
    structure); grad_output one per output tensor (PyTorch's packing)."""

    def __init__(self, module, n_inputs: int):
        self.module, self.n_inputs = module, n_inputs
        self.input_where = None
        self.grad_output = None

    def wrap_inputs(self, args: tuple) -> tuple:
        if not self.module._backward_hooks:
            return args
        args, self.input_where, self.input_hooked = _through_identity(args, self._on_inputs)
        return tuple(args)

    def wrap_output(self, output):
        single = isinstance(output, Tensor | SparseTensor)
        values = [output] if single else list(output) if isinstance(output, tuple | list) \
            else None
        if values is None:
            return output  # not tensors: nothing to hook, as PyTorch
        self.n_outputs = len(values)
        values, self.output_where, self.output_hooked = _through_identity(values,
                                                                          self._on_output)
        if single:
            return values[0]
        return type(output)(values)

    def _on_output(self, grads):
        grad_output = _pack(grads, self.output_where, self.output_hooked, self.n_outputs)
        for hook, _ in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, grad_output)
            if result is not None:
                grad_output = _checked("backward pre-hook", hook, result, self.n_outputs)
        self.grad_output = grad_output
        if self.input_where is None:  # no input needs a gradient: the hooks run now
            none = (None,) * self.n_inputs
            for hook, _ in list(self.module._backward_hooks.values()):
                result = hook(self.module, none, grad_output)
                if result is not None and any(r is not None for r in result):
                    raise RuntimeError(
                        f"backward hook {_name(hook)}: no input of "
                        f"{type(self.module).__name__} requires a gradient, so the hook must "
                        "return None or only Nones")
        return _unpack(grad_output, self.output_where)

    def _on_inputs(self, grads):
        grad_input = _pack(grads, self.input_where, self.input_hooked, self.n_inputs)
        for hook, _ in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                grad_input = _checked("backward hook", hook, result, self.n_inputs)
        return _unpack(grad_input, self.input_where)


def _name(hook) -> str:
    return repr(getattr(hook, "__name__", hook))


def _checked(what: str, hook, result, n: int) -> tuple:
    """A hook's replacement gradients: a tuple or list of ``n`` (a lone Tensor when n is 1)."""
    if isinstance(result, Tensor | SparseTensor) and n == 1:
        return (result,)
    if not isinstance(result, tuple | list) or len(result) != n:
        got = (f"{len(result)} values" if isinstance(result, tuple | list)
               else type(result).__name__)
        raise RuntimeError(f"{what} {_name(hook)} returned {got}; expected None or a tuple of "
                           f"{n} gradients (one per entry of what it received)")
    return tuple(result)
