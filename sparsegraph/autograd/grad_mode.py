"""Whether ops record the graph: `no_grad()` / `enable_grad()` / `set_grad_enabled(flag)`."""

from __future__ import annotations

import functools


class _GradMode:
    enabled = True


MODE = _GradMode()


def is_grad_enabled() -> bool:
    return MODE.enabled


class set_grad_enabled:
    """Context manager (and decorator) that sets grad mode to ``mode`` inside its block."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self.prev: list[bool] = []

    def __enter__(self):
        self.prev.append(MODE.enabled)
        MODE.enabled = self.mode
        return self

    def __exit__(self, *exc):
        MODE.enabled = self.prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(set_grad_enabled):
    """Ops inside the block record no graph (evaluation, optimizer updates)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Re-enable graph recording inside a `no_grad` block."""

    def __init__(self):
        super().__init__(True)
