"""Parameter initialisation (in place, seeded by `sparsegraph.manual_seed` or a generator)."""

from __future__ import annotations

import math

import numpy as np

from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


def _write(t: Tensor, values: np.ndarray) -> Tensor:
    t.array[...] = backend.to_device(values.astype(t.dtype, copy=False), t.device)
    t._version[0] += 1
    return t


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """PyTorch's recommended gains: relu sqrt(2), tanh 5/3, leaky_relu sqrt(2/(1+a^2)), ..."""
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
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


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    return _write(t, rng_of(generator).uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    return _write(t, rng_of(generator).normal(mean, std, t.shape))


def constant_(t: Tensor, value: float) -> Tensor:
    return _write(t, np.full(t.shape, value))


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


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


def xavier_normal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t, a, mode, nonlinearity):
    fan_in, fan_out = _fans(t)
    fan = fan_in if mode == "fan_in" else fan_out
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: expected mode 'fan_in' or 'fan_out' (got {mode!r})")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): U(-b, b) with b = gain * sqrt(3 / fan)."""
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)
