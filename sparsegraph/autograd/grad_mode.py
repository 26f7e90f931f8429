"""Whether ops record the graph: `no_grad()` / `enable_grad()` / `set_grad_enabled(flag)` /
`inference_mode()`.

As in PyTorch: `no_grad` and `enable_grad` are context managers and decorators, with or
without parentheses (``@sg.no_grad``); `set_grad_enabled(mode)` switches the mode when called,
so it also works as a plain function, and as a context manager it restores the previous mode
on exit.
"""

from __future__ import annotations

import functools
import inspect
import threading

import numpy as np


class _GradMode(threading.local):
    """Per thread, as PyTorch's grad mode: a ``no_grad`` block in one thread leaves the others
    recording (the class attributes are each new thread's defaults)."""

    enabled = True
    inference = False


MODE = _GradMode()


def is_grad_enabled() -> bool:
    return MODE.enabled


def is_inference_mode_enabled() -> bool:
    """Whether an `inference_mode` block is active (``torch.is_inference_mode_enabled``)."""
    return MODE.inference


class _GradModeContext:
    """Sets grad mode to ``mode`` inside a ``with`` block or a decorated function, and restores
    the previous mode on the way out (also after an exception)."""

    mode = True

    def __init__(self):
        self.prev: list[bool] = []

    def __enter__(self):
        self.prev.append(MODE.enabled)
        MODE.enabled = self.mode
        return self

    def __exit__(self, *exc):
        MODE.enabled = self.prev.pop()
        return False

    def _scope(self):
        """A fresh context manager for one call of a decorated function."""
        return set_grad_enabled(self.mode)

    def __call__(self, fn):
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: expected a function to decorate (got "
                            f"{type(fn).__name__})")
        scope = self._scope
        if inspect.isgeneratorfunction(fn):
            return _wrap_generator(fn, scope)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with scope():
                return fn(*args, **kwargs)

        return wrapper


def _wrap_generator(fn, scope):
    """A decorated generator function runs each step of its body inside ``scope()`` and the
    caller's code between steps in the caller's mode (PyTorch does the same)."""

    def step(call, *args):
        with scope():
            return call(*args)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            response = step(gen.send, None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    step(gen.close)
                    raise
                except BaseException as exc:
                    response = step(gen.throw, exc)
                else:
                    response = step(gen.send, request)
        except StopIteration as stop:
            return stop.value

    return wrapper


class _NoParamDecorator(_GradModeContext):
    """Also a bare decorator, ``@no_grad`` (PyTorch >= 2.0), besides ``@no_grad()``."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)  # not an instance: __init__ is not called again


class no_grad(_NoParamDecorator):
    """Ops inside the block record no graph (evaluation, optimizer updates)."""

    mode = False


class enable_grad(_NoParamDecorator):
    """Re-enable graph recording inside a `no_grad` block."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode to ``mode``: now, when called (``sg.set_grad_enabled(False)`` switches it
    off until switched on again), and as a context manager or decorator for a block or a
    function, restoring the previous mode afterwards.

    Args:
        mode: record the graph (True) or not (False).
    """

    def __init__(self, mode: bool):
        if not isinstance(mode, bool | np.bool_):
            raise TypeError(f"set_grad_enabled: expected `mode` to be a bool (got "
                            f"{type(mode).__name__} {mode!r})")
        self.mode = mode = bool(mode)
        self.prev = [MODE.enabled]
        MODE.enabled = mode  # a plain call takes effect at once, as in PyTorch

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        MODE.enabled = self.prev[0]
        return False

    def __call__(self, fn):
        MODE.enabled = self.prev[0]  # a decorator changes the mode only while fn runs
        return super().__call__(fn)


class inference_mode(_GradModeContext):
    """``torch.inference_mode(mode=True)``: a block or function with no graph recorded, as
    `no_grad`, and `is_inference_mode_enabled` true inside; ``inference_mode(False)`` turns it
    off inside an outer one, grad mode on (PyTorch's rule). A context manager and a decorator,
    also bare (``@sg.inference_mode``).

    PyTorch also marks tensors made inside as "inference tensors" that autograd later refuses,
    which buys it a little speed; here there is nothing to gain from that, so tensors made
    inside are ordinary tensors without history, as under `no_grad`.

    Args:
        mode: True to enter inference mode, False to leave it for the block.
    """

    def __new__(cls, mode=True):
        if isinstance(mode, bool | np.bool_):
            return super().__new__(cls)
        return cls()(mode)  # @inference_mode without parentheses: mode is the function

    def __init__(self, mode=True):
        super().__init__()
        self.inference = bool(mode)
        self.mode = not self.inference
        self.prev_inference: list[bool] = []

    def __enter__(self):
        self.prev_inference.append(MODE.inference)
        MODE.inference = self.inference
        return super().__enter__()

    def __exit__(self, *exc):
        MODE.inference = self.prev_inference.pop()
        return super().__exit__(*exc)

    def _scope(self):
        return inference_mode(self.inference)
