"""`LayerNorm` and `BatchNorm1d`, composed from ops (no gradient code of their own)."""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.autograd import no_grad
from sparsegraph.creation import ones, tensor, zeros
from sparsegraph.nn import init
from sparsegraph.nn._checks import check_int, check_number
from sparsegraph.nn.module import Module
from sparsegraph.nn.parameter import Parameter
from sparsegraph.tensor import Tensor

__all__ = ["LayerNorm", "BatchNorm1d", "layer_norm"]

_CONVERT = {"float16": "half", "float32": "float", "float64": "double"}


def _check_dtype(layer: str, x, ref, what: str) -> None:
    """Refuse an input whose dtype differs from the layer's parameters / running stats ``ref``
    (None: the layer has neither, so any floating input is fine), as torch's CPU batch_norm /
    layer_norm and as `Linear` do: mixing would silently promote the output (and the running
    stats' updates) to the wider dtype. torch's one mixed case is kept: half input with float32
    parameters (the statistics are accumulated in float64 either way)."""
    if ref is None or x.dtype == ref.dtype or (x.dtype == np.float16
                                                and ref.dtype == np.float32):
        return
    fix = f"x.{_CONVERT[str(ref.dtype)]}()" if str(ref.dtype) in _CONVERT else \
        f"x.to({str(ref.dtype)!r})"
    if str(x.dtype) in _CONVERT:
        fix += f" or the layer with .{_CONVERT[str(x.dtype)]}()"
    raise TypeError(f"{layer}: expected `input` of dtype {ref.dtype} like the layer's {what} "
                    f"(got {x.dtype}); convert with {fix}")


def _check_floating(op: str, x: Tensor) -> None:
    """Refuse a non-floating input by the caller's name (the statistics would otherwise fail
    inside `ops.var_mean`, under its name)."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating `input` (got {x.dtype}); convert it with "
                        ".float() or .double() first")


def _normalized_shape(op: str, normalized_shape) -> tuple:
    if isinstance(normalized_shape, int | np.integer):
        return (int(normalized_shape),)
    if not isinstance(normalized_shape, list | tuple):
        raise TypeError(f"{op}: expected an int or a sequence of ints normalized_shape "
                        f"(got {type(normalized_shape).__name__} {normalized_shape!r})")
    return tuple(check_int(op, "normalized_shape", n) for n in normalized_shape)


def _layer_norm(op: str, x, shape: tuple, weight, bias, eps: float):
    """The computation of `LayerNorm` and `layer_norm` (one code path: equal values)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected `input` to be a Tensor (got {type(x).__name__})")
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"{op}: expected input ending in {shape} (got {x.shape})")
    _check_floating(op, x)
    _check_dtype(op, x, weight if weight is not None else bias, "parameters")
    dims = tuple(range(x.ndim - k, x.ndim))
    var, mean = ops.var_mean(x, dims, unbiased=False, keepdim=True)  # float64-accumulated
    out = (x - mean) * ops.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the trailing
    ``normalized_shape`` dims (biased variance), as ``torch.nn.functional.layer_norm``; the
    computation of `LayerNorm`, so both give the same values.

    Args:
        input: ``(*, *normalized_shape)``.
        normalized_shape: an int or a sequence of ints.
        weight / bias: ``normalized_shape``-shaped scale / shift, or None. (default: None)
        eps: added to the variance. (default: 1e-5)

    Raises:
        TypeError: a non-Tensor or non-floating input, a bad ``normalized_shape`` or ``eps``,
            a ``weight`` / ``bias`` that is not a Tensor or of another dtype than ``input``.
        ValueError: an input not ending in ``normalized_shape``, a ``weight`` / ``bias`` of
            another shape.
    """
    op = "layer_norm"
    shape = _normalized_shape(op, normalized_shape)
    eps = check_number(op, "eps", eps)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected `{name}` to be a Tensor or None (got "
                            f"{type(t).__name__})")
        if t.shape != shape:
            raise ValueError(f"{op}: expected `{name}` of shape {shape}, the "
                             f"normalized_shape (got {t.shape})")
    return _layer_norm(op, input, shape, weight, bias, eps)


class LayerNorm(Module):
    """Ba et al., "Layer Normalization" (2016): normalise over the trailing dims,
    ``(x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance.

    Args:
        normalized_shape: the trailing shape to normalise over (an int or a tuple).
        eps: added to the variance. (default: 1e-5)
        elementwise_affine: learn a per-element scale (ones) and shift (zeros). (default: True)
        bias: learn the shift too (with ``elementwise_affine``). (default: True)

    Shapes:
        input ``(*, *normalized_shape)``; output of the same shape.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True):
        super().__init__()
        shape = _normalized_shape("LayerNorm", normalized_shape)
        check_number("LayerNorm", "eps", eps)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(*shape))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(zeros(*shape))
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        return _layer_norm("LayerNorm", x, self.normalized_shape, self.weight, self.bias,
                           self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


def add_affine_and_stats(module: Module, num_features: int, affine: bool,
                         track_running_stats: bool) -> None:
    """torch's ``weight`` / ``bias`` (ones / zeros, or None without ``affine``) and
    ``running_mean`` / ``running_var`` / ``num_batches_tracked`` buffers (None without
    ``track_running_stats``) on a batch- or instance-norm ``module``."""
    module.affine, module.track_running_stats = affine, track_running_stats
    if affine:
        module.weight = Parameter(ones(num_features))
        module.bias = Parameter(zeros(num_features))
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)
    if track_running_stats:
        module.register_buffer("running_mean", zeros(num_features))
        module.register_buffer("running_var", ones(num_features))
        module.register_buffer("num_batches_tracked", tensor(0))
    else:
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            module.register_buffer(name, None)


class BatchNorm1d(Module):
    """Ioffe & Szegedy, "Batch Normalization" (2015), over the batch (and length) dims.

    In training the input is normalised with the batch statistics (biased variance) and the
    running estimates are updated with the unbiased variance:
    ``running = (1 - momentum) * running + momentum * batch``; ``momentum=None`` gives the
    cumulative average. In ``eval()`` the running estimates are used (unless
    ``track_running_stats`` is False: then batch statistics always).

    Args:
        num_features: ``C``.
        eps: added to the variance. (default: 1e-5)
        momentum: weight of the new batch in the running estimates, or None. (default: 0.1)
        affine: learn a per-channel scale (ones) and shift (zeros). (default: True)
        track_running_stats: keep ``running_mean`` / ``running_var`` /
            ``num_batches_tracked`` buffers. (default: True)

    Shapes:
        input ``(N, C)`` or ``(N, C, L)``; output of the same shape.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        check_int("BatchNorm1d", "num_features", num_features)
        check_number("BatchNorm1d", "eps", eps)
        check_number("BatchNorm1d", "momentum", momentum, none_ok=True)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        add_affine_and_stats(self, num_features, affine, track_running_stats)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"BatchNorm1d: expected `input` to be a Tensor (got "
                            f"{type(x).__name__}); wrap an array with sparsegraph.tensor()")
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected input of shape (N, {self.num_features}) "
                             f"or (N, {self.num_features}, L) (got {x.shape})")
        _check_floating("BatchNorm1d", x)
        # the parameters, else the running stats: eval() normalises with them, and training
        # would update float32 running stats from float64 batch statistics
        ref, what = (self.weight, "parameters") if self.weight is not None else (
            self.running_mean, "running stats")
        _check_dtype("BatchNorm1d", x, ref, what)
        dims, shape = ((0,), (1, -1)) if x.ndim == 2 else ((0, 2), (1, -1, 1))
        use_batch = self.training or self.running_mean is None
        if use_batch:
            n = x.numel() // self.num_features
            if self.training and n < 2:
                raise ValueError("BatchNorm1d: expected more than one value per channel in "
                                 f"training (got input of shape {x.shape})")
            # float64-accumulated (as torch's CPU kernel): a float32 mean of many rows, summed
            # row after row, drifts far enough to swamp the variance of features with a large
            # mean against their spread
            var, mean = ops.var_mean(x, dims, unbiased=False, keepdim=True)
            centered = x - mean
            if self.training and self.running_mean is not None:
                self._update_running_stats(mean, var, n)
        else:
            centered = x - self.running_mean.reshape(shape)
            var = self.running_var.reshape(shape)
        out = centered * ops.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out

    def _update_running_stats(self, mean, var, n: int) -> None:
        with no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum
            if m is None:  # cumulative moving average
                # a tensor, not .item(): a compiled step then reads the live count every run
                m = 1.0 / self.num_batches_tracked.to(self.running_mean.dtype)
                self.running_mean.mul_(1 - m).add_(mean.reshape(-1) * m)
                self.running_var.mul_(1 - m).add_(var.reshape(-1) * (m * (n / (n - 1))))
                return
            self.running_mean.mul_(1 - m).add_(mean.reshape(-1), alpha=m)
            self.running_var.mul_(1 - m).add_(var.reshape(-1), alpha=m * n / (n - 1))

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")
