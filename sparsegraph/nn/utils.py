"""PyTorch's ``torch.nn.utils`` helpers: gradient clipping and flattening parameters.

Clipping scales the ``.grad`` tensors in place with recorded ops (no autograd history, but a
compiled step replays it); the vector helpers are differentiable like PyTorch's (cat of views /
copies into params).
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.autograd import no_grad
from sparsegraph.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _tensors(op: str, parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected Tensors in `parameters` (got {type(p).__name__})")
    return params


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale every ``.grad`` in place so that their joint ``norm_type``-norm is at most
    ``max_norm`` (PyTorch's factor ``max_norm / (total + 1e-6)``, applied only when it is
    below 1). Returns the total norm before clipping as a 0-d Tensor on the gradients' device.

    Written with tensor ops, as PyTorch's: no value is read back to Python, so a compiled
    training step records the clipping and replays it with each call's gradients.

    Raises:
        RuntimeError: with ``error_if_nonfinite`` when the total norm is nan or inf.
    """
    import sparsegraph.ops as ops
    from sparsegraph.creation import zeros

    params = _tensors("clip_grad_norm_", parameters)
    grads = [p.grad for p in params if p.grad is not None]
    for name, v in (("max_norm", max_norm), ("norm_type", norm_type)):
        if isinstance(v, bool) or not isinstance(v, int | float | np.number):
            raise TypeError(f"clip_grad_norm_: expected a number `{name}` (got "
                            f"{type(v).__name__} {v!r})")
    norm_type = float(norm_type)
    if not grads:
        return zeros((), device=params[0].device if params else "cpu")
    with no_grad():
        grads = [g for g in grads if g.numel() > 0] or grads[:1]
        if norm_type == math.inf:
            total = ops.stack([g.abs().max() if g.numel() else g.sum() for g in grads]).max()
        else:
            total = ops.stack([(g.abs() ** norm_type).sum() for g in grads]).sum() ** (
                1.0 / norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                               "gradients is non-finite; pass error_if_nonfinite=False to clip "
                               "anyway")
        # min(coef, 1) applied always: a factor of 1 leaves the gradients as they are
        coef = (float(max_norm) / (total + 1e-6)).clamp(max=1.0)
        for p in params:
            if p.grad is not None:
                p.grad.mul_(coef)
    return total


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every ``.grad`` elementwise to ``[-clip_value, clip_value]`` in place (a
    recorded op: a compiled step replays it)."""
    if isinstance(clip_value, bool) or not isinstance(clip_value, int | float | np.number):
        raise TypeError(f"clip_grad_value_: expected a number `clip_value` (got "
                        f"{type(clip_value).__name__} {clip_value!r})")
    c = float(clip_value)
    with no_grad():
        for p in _tensors("clip_grad_value_", parameters):
            if p.grad is not None:
                p.grad.clamp_(-c, c)


def parameters_to_vector(parameters) -> Tensor:
    """One 1-d tensor of every parameter, flattened and concatenated in order."""
    import sparsegraph.ops as ops

    params = _tensors("parameters_to_vector", parameters)
    if not params:
        raise ValueError("parameters_to_vector: expected at least one parameter (got none)")
    return ops.cat([ops.reshape(p, (-1,)) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-d ``vec`` into the parameters' data (in place, no
    graph, as PyTorch's ``param.data = ...``)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor `vec` (got "
                        f"{type(vec).__name__})")
    params = _tensors("vector_to_parameters", parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: expected a 1-d `vec` of {total} elements, the "
                         f"parameters' total (got shape {vec.shape})")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.array[...] = vec.array[offset:offset + n].reshape(p.shape)
            p._version[0] += 1
            offset += n
