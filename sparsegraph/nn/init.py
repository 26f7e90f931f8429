"""Parameter initialisation, in place, as ``torch.nn.init``.

Every function writes the tensor's array directly (no graph is recorded, as under ``no_grad``)
and bumps its version counter. Random ones draw from ``generator`` (a `sparsegraph.Generator`)
or the default generator, so ``sg.manual_seed`` makes model construction deterministic; they
refuse a non-floating tensor with a TypeError (as torch's ``normal_`` / ``uniform_``), while
``constant_``, ``zeros_``, ``ones_``, ``eye_`` and ``dirac_`` fill any dtype.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.nn._checks import check_int, check_number
from sparsegraph.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "orthogonal_", "trunc_normal_", "eye_", "dirac_"]


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


def _draws(fn):
    """`_fills`, and a TypeError unless the tensor is floating: random draws written into an
    integer (or bool) tensor would be silently truncated (torch's ``normal_`` / ``uniform_``,
    on which every random init is built, refuse integer dtypes)."""

    @functools.wraps(fn)
    def wrapper(t, *args, **kwargs):
        if isinstance(t, Tensor) and t.dtype.kind != "f":
            raise TypeError(f"init.{fn.__name__}: expected a floating tensor to fill with random "
                            f"values (got {t.dtype}); the draws would be truncated. Create it "
                            "with a float dtype or convert it with .float() first")
        return fn(t, *args, **kwargs)

    return _fills(wrapper)


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


@_draws
def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of ``U(a, b)``."""
    a, b = check_number("init.uniform_", "a", a), check_number("init.uniform_", "b", b)
    if not a <= b:
        raise ValueError(f"init.uniform_: expected a <= b (got a={a}, b={b})")
    return _write(t, rng_of(generator).uniform(a, b, t.shape))


@_draws
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


@_draws
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


@_draws
def xavier_normal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: expected mode 'fan_in' or 'fan_out' (got {mode!r})")
    fan_in, fan_out = _fans(t)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


@_draws
def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): U(-b, b) with b = gain * sqrt(3 / fan); a no-op on empty tensors."""
    if t.numel() == 0:
        return t
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, generator)


@_draws
def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He et al. (2015): N(0, std^2) with std = gain / sqrt(fan); a no-op on empty tensors."""
    if t.numel() == 0:
        return t
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)


@_draws
def orthogonal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix times ``gain``, as torch's.

    The tensor is viewed as ``(rows, cols)`` with ``rows = t.shape[0]`` and ``cols`` the
    product of the other dims; a ``(rows, cols)`` standard normal matrix (transposed when
    ``rows < cols``) is QR-factorised and ``Q`` is multiplied by the signs of ``R``'s diagonal
    (so the result is uniformly distributed), transposed back, reshaped and scaled: the rows
    are orthonormal when ``rows <= cols``, the columns when ``rows >= cols``. A no-op on
    empty tensors.

    Raises:
        ValueError: a tensor with fewer than 2 dims.
    """
    if t.ndim < 2:
        raise ValueError(f"init.orthogonal_: expected a tensor with 2 or more dims (got shape "
                         f"{t.shape})")
    gain = check_number("init.orthogonal_", "gain", gain)
    if t.numel() == 0:
        return t
    rows = t.shape[0]
    cols = t.numel() // rows
    flat = rng_of(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(t, (gain * q).reshape(t.shape))


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


@_draws
def trunc_normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with samples of ``N(mean, std^2)`` truncated to ``[a, b]``, as torch's: uniform
    samples mapped through the inverse normal CDF between ``a`` and ``b`` (then clamped to
    ``[a, b]`` against rounding). ``a`` and ``b`` are absolute bounds, not multiples of
    ``std``; as torch, a ``mean`` more than 2 std outside ``[a, b]`` warns (the method loses
    accuracy there).

    Raises:
        ValueError: ``std <= 0`` or ``a >= b`` (torch would return nan or a constant).
    """
    from scipy.special import erfinv

    op = "init.trunc_normal_"
    mean, std = check_number(op, "mean", mean), check_number(op, "std", std)
    a, b = check_number(op, "a", a), check_number(op, "b", b)
    if not std > 0:
        raise ValueError(f"{op}: expected std > 0 (got {std})")
    if not a < b:
        raise ValueError(f"{op}: expected a < b (got a={a}, b={b})")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(f"{op}: mean is more than 2 std from [a, b]; the distribution of the "
                      "values may be incorrect", UserWarning, stacklevel=3)
    lo, hi = _norm_cdf((a - mean) / std), _norm_cdf((b - mean) / std)
    u = rng_of(generator).uniform(2 * lo - 1, 2 * hi - 1, t.shape)
    return _write(t, np.clip(erfinv(u) * (std * math.sqrt(2.0)) + mean, a, b))


@_fills
def eye_(t: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the main diagonal of a
    rectangular one), as torch's; no random draw.

    Raises:
        ValueError: a tensor that is not 2-D.
    """
    if t.ndim != 2:
        raise ValueError(f"init.eye_: expected a 2-D tensor (got shape {t.shape})")
    return _write(t, np.eye(*t.shape))


@_fills
def dirac_(t: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D (convolution) weight with the Dirac delta, as torch's: the
    output channel ``g * (out / groups) + d`` picks input channel ``d`` at the kernel's
    centre (``size // 2`` in each spatial dim), for ``d < min(out / groups, in)``; zero
    elsewhere. A convolution with it preserves its input (per group).

    Raises:
        ValueError: a tensor that is not 3-, 4- or 5-D, or ``t.shape[0]`` not divisible by
            ``groups``.
    """
    if t.ndim not in (3, 4, 5):
        raise ValueError(f"init.dirac_: expected a 3-, 4- or 5-D tensor (got shape {t.shape})")
    groups = check_int("init.dirac_", "groups", groups, 1)
    if t.shape[0] % groups:
        raise ValueError(f"init.dirac_: expected dim 0 ({t.shape[0]}) divisible by groups "
                         f"(got groups={groups})")
    per_group = t.shape[0] // groups
    values = np.zeros(t.shape)
    centre = tuple(s // 2 for s in t.shape[2:])
    for g in range(groups):
        for d in range(min(per_group, t.shape[1])):
            values[(g * per_group + d, d, *centre)] = 1
    return _write(t, values)
