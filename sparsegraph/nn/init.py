"""Parameter initialisation, in place, as ``torch.nn.init``.

Every function writes the tensor's array directly (no graph is recorded, as under ``no_grad``)
and bumps its version counter. Random ones draw from ``generator`` (a `sparsegraph.Generator`)
or the default generator, so ``sg.manual_seed`` makes model construction deterministic.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.nn._checks import check_number
from sparsegraph.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


def _fills(fn):
    """Check that ``fn``'s first argument is a Tensor (torch's init functions take tensors only;
    a numpy array would fail deep inside with an AttributeError)."""

    @functools.wraps(fn)
    def wrapper(t, *args, **kwargs):
        if not isinstance(t, Tensor):
            raise TypeError(f"init.{fn.__name__}: expected a Tensor to fill (got "
                            f"{type(t).__name__}); wrap an array with sparsegraph.tensor()")
        return fn(t, *args, **kwargs)

    return wrapper


def _write(t: Tensor, values) -> Tensor:
    if isinstance(values, np.ndarray):
        values = backend.to_device(values.astype(t.dtype, copy=False), t.device)
    t.array[...] = values
    t._version[0] += 1
    return t


_UNIT_GAIN = ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d",
              "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gains: relu sqrt(2), tanh 5/3, leaky_relu sqrt(2/(1+a^2)), selu 3/4,
    linear / conv / sigmoid 1.

    Raises:
        ValueError: for an unknown nonlinearity or a non-numeric leaky_relu slope.
    """
    if nonlinearity in _UNIT_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is not None and (isinstance(param, bool) or not isinstance(param, int | float)):
            raise ValueError(f"calculate_gain: expected a number as the negative slope "
                             f"(got {param!r})")
        a = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + a * a))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(t: Tensor) -> tuple[int, int]:
    if t.ndim < 2:
        raise ValueError(f"init: fan in/out need at least 2 dims (got shape {t.shape})")
    receptive = int(np.prod(t.shape[2:])) if t.ndim > 2 else 1
    return t.shape[1] * receptive, t.shape[0] * receptive


@_fills
def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of ``U(a, b)``."""
    a, b = check_number("init.uniform_", "a", a), check_number("init.uniform_", "b", b)
    if not a <= b:
        raise ValueError(f"init.uniform_: expected a <= b (got a={a}, b={b})")
    return _write(t, rng_of(generator).uniform(a, b, t.shape))


@_fills
def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of ``N(mean, std^2)``."""
    mean, std = check_number("init.normal_", "mean", mean), check_number("init.normal_", "std",
                                                                         std)
    if not std >= 0:
        raise ValueError(f"init.normal_: expected std >= 0 (got {std})")
    return _write(t, rng_of(generator).normal(mean, std, t.shape))


@_fills
def constant_(t: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _write(t, check_number("init.constant_", "value", value))


@_fills
def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


@_fills
def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


@_fills
def xavier_uniform_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    For tensors with more than 2 dims (e.g. GAT's (1, H, F) attention vectors) the last two
    dims are used as (fan_out, fan_in) when the leading dims are 1, as PyG does.
    """
    shape = t.shape
    if t.ndim > 2 and int(np.prod(shape[:-2])) == 1:
        fan_in, fan_out = shape[-1], shape[-2]
    else:
        fan_in, fan_out = _fans(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, generator)


@_fills
def xavier_normal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: expected mode 'fan_in' or 'fan_out' (got {mode!r})")
    fan_in, fan_out = _fans(t)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


@_fills
def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): U(-b, b) with b = gain * sqrt(3 / fan); a no-op on empty tensors."""
    if t.numel() == 0:
        return t
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, generator)


@_fills
def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): N(0, std^2) with std = gain / sqrt(fan); a no-op on empty tensors."""
    if t.numel() == 0:
        return t
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)
