"""Anomaly detection, as PyTorch's: `detect_anomaly()` and `set_detect_anomaly(mode)`.

With it on, the engine checks every gradient a backward node returns and raises
``RuntimeError("Function 'MulBackward' returned nan values in its 0th output.")`` at the first
nan, naming the node and the position of the input that gradient belongs to. Off by default;
when off, the engine pays one test of a local flag per node.
"""

from __future__ import annotations

import warnings

import numpy as np

from sparsegraph.backend import xp_of
from sparsegraph.tensor import Tensor


class _AnomalyMode:
    enabled = False
    check_nan = True


ANOMALY = _AnomalyMode()


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on (`detect_anomaly`, `set_detect_anomaly`)."""
    return ANOMALY.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection, when on, checks backward's results for nan."""
    return ANOMALY.check_nan


def _flag(op: str, name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{op}: expected `{name}` to be a bool (got {type(value).__name__} "
                        f"{value!r})")
    return bool(value)


class detect_anomaly:
    """Context manager that turns anomaly detection on inside its block (and back to what it
    was on the way out). As PyTorch's, creating one warns that it slows backward down.

    Args:
        check_nan: raise when a backward node returns a gradient holding nan. (default: True)

    Example::

        with sg.autograd.detect_anomaly():
            loss.backward()  # RuntimeError: Function 'DivBackward' returned nan values ...
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = _flag("detect_anomaly", "check_nan", check_nan)
        self.prev: list[tuple[bool, bool]] = []
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev.append((ANOMALY.enabled, ANOMALY.check_nan))
        ANOMALY.enabled, ANOMALY.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        ANOMALY.enabled, ANOMALY.check_nan = self.prev.pop()
        return False


class set_detect_anomaly:
    """Turn anomaly detection on or off: at once when called (``set_detect_anomaly(True)``
    leaves it on until switched off), and as a context manager for a block, restoring the
    previous mode afterwards, as PyTorch's.

    Args:
        mode: anomaly detection on (True) or off (False).
        check_nan: with ``mode``, raise when a backward node returns nan. (default: True)
    """

    def __init__(self, mode: bool, check_nan: bool = True):
        mode = _flag("set_detect_anomaly", "mode", mode)
        check_nan = _flag("set_detect_anomaly", "check_nan", check_nan)
        self.prev = (ANOMALY.enabled, ANOMALY.check_nan)
        ANOMALY.enabled, ANOMALY.check_nan = mode, check_nan

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        ANOMALY.enabled, ANOMALY.check_nan = self.prev
        return False


def check_nan(node, grads) -> None:
    """Raise PyTorch's RuntimeError when a gradient in ``grads`` (what ``node``'s backward
    returned, one per input) holds nan."""
    for i, g in enumerate(grads):
        if not isinstance(g, Tensor) and isinstance(getattr(g, "values", None), Tensor):
            g = g.values  # a sparse gradient: its stored values
        a = g.array if isinstance(g, Tensor) else g
        dtype = getattr(a, "dtype", None)
        if dtype is not None and dtype.kind == "f" and bool(xp_of(a).isnan(a).any()):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               "output.")
