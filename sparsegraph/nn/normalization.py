"""LayerNorm and BatchNorm1d, composed from ops (no gradient code of their own)."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.autograd import no_grad
from sparsegraph.creation import ones, zeros
from sparsegraph.nn.module import Module, Parameter


class LayerNorm(Module):
    """Ba et al., "Layer Normalization" (2016): normalise over the last dims.

    Args:
        normalized_shape: trailing shape to normalise over (int or tuple).
        eps: added to the variance. (default: 1e-5)
        elementwise_affine: learn a scale and shift. (default: True)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
            normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(ones(*shape)) if elementwise_affine else None
        self.bias = Parameter(zeros(*shape)) if elementwise_affine else None

    def forward(self, x):
        if tuple(x.shape[-len(self.normalized_shape):]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected input ending in {self.normalized_shape} "
                             f"(got {x.shape})")
        dims = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))
        mean = x.mean(dim=dims, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(dim=dims, keepdim=True)
        out = centered * ops.rsqrt(var + self.eps)
        if self.weight is not None:
            out = out * self.weight + self.bias
        return out

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class BatchNorm1d(Module):
    """Ioffe & Szegedy (2015) over the batch dim of ``(N, C)`` (or ``(N, C, L)``) inputs.

    Training normalises with the batch statistics and updates running estimates (unbiased
    variance, ``momentum``); evaluation uses the running estimates.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(ones(num_features)) if affine else None
        self.bias = Parameter(zeros(num_features)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features))
            self.register_buffer("running_var", ones(num_features))
        else:
            self.running_mean = self.running_var = None

    def reset_parameters(self) -> None:
        if self.affine:
            self.weight.array[...] = 1
            self.bias.array[...] = 0
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1

    def forward(self, x):
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected input of shape (N, {self.num_features}"
                             f"[, L]) (got {x.shape})")
        dims = (0,) if x.ndim == 2 else (0, 2)
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1)
        if self.training or not self.track_running_stats:
            n = x.numel() // self.num_features
            if self.training and n < 2:
                raise ValueError("BatchNorm1d: expected more than one value per channel in "
                                 f"training (got input of shape {x.shape})")
            mean = x.mean(dim=dims, keepdim=True)
            centered = x - mean
            var = (centered * centered).mean(dim=dims, keepdim=True)
            if self.training and self.track_running_stats:
                with no_grad():
                    m = self.momentum
                    self.running_mean.mul_(1 - m).add_(mean.reshape(-1).detach() * m)
                    unbiased = var.reshape(-1).detach() * (n / max(n - 1, 1))
                    self.running_var.mul_(1 - m).add_(unbiased * m)
        else:
            centered = x - self.running_mean.reshape(shape)
            var = self.running_var.reshape(shape)
        out = centered * ops.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
