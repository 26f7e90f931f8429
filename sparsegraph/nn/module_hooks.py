"""Forward hooks of a `Module` (PyTorch's ``register_forward_pre_hook`` /
``register_forward_hook``): the handle that removes one, and the call that runs them.

A module without hooks never reaches this file: `Module.__call__` tests two dicts and calls
``forward`` directly.
"""

from __future__ import annotations

import itertools

from sparsegraph.tensor import TRACE

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
    output. A static trace refuses hooks: they are Python code a replay would not run."""
    pre, post = module._forward_pre_hooks, module._forward_hooks
    if TRACE.tracer is not None:
        TRACE.tracer.unsupported(
            f"a forward hook on {type(module).__name__} (register_forward_hook / "
            "register_forward_pre_hook)",
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
    output = module.forward(*args, **kwargs)
    for hook, with_kwargs in list(post.values()):
        result = hook(module, args, kwargs, output) if with_kwargs else hook(
            module, args, output)
        if result is not None:
            output = result
    return output
