"""PyTorch's ``torch.nn.utils`` helpers: gradient clipping and flattening parameters.

Clipping scales the ``.grad`` tensors in place with recorded ops (no autograd history, but a
compiled step replays it); the vector helpers are differentiable like PyTorch's (cat of views /
copies into params).
"""

from __future__ import annotations

import math
import types
import warnings

import numpy as np

from sparsegraph.autograd import no_grad
from sparsegraph.tensor import Tensor, host_values

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters"]


def _tensors(op: str, parameters) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected Tensors in `parameters` (got {type(p).__name__})")
    return params


def _norm_type(op: str, norm_type) -> float:
    """``norm_type`` as a float: a number or a string such as ``"inf"`` (torch documents
    ``float | str`` and applies ``float()``)."""
    if isinstance(norm_type, bool) or not isinstance(norm_type, int | float | np.number | str):
        raise TypeError(f"{op}: expected `norm_type` to be a number or a str such as 'inf' "
                        f"(got {type(norm_type).__name__} {norm_type!r})")
    try:
        value = float(norm_type)
    except ValueError:
        raise ValueError(f"{op}: expected `norm_type` to be a number or a str such as 'inf' "
                         f"(got {norm_type!r})") from None
    if math.isnan(value) or value < 0 and value != -math.inf:
        raise ValueError(f"{op}: expected `norm_type` >= 0, inf or -inf (got {norm_type!r})")
    return value


def _check_foreach(op: str, foreach) -> None:
    if foreach is not None and not isinstance(foreach, bool):
        raise TypeError(f"{op}: expected `foreach` to be None or a bool (got "
                        f"{type(foreach).__name__} {foreach!r})")


def _max_norm(op: str, max_norm) -> float:
    if isinstance(max_norm, bool) or not isinstance(max_norm, int | float | np.number):
        raise TypeError(f"{op}: expected a number `max_norm` (got {type(max_norm).__name__} "
                        f"{max_norm!r})")
    return float(max_norm)


def get_total_norm(tensors, norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of the norms of ``tensors`` (the norm of all their elements
    together), as torch 2.6's ``torch.nn.utils.get_total_norm``: usually the gradients,
    ``[p.grad for p in params if p.grad is not None]``.

    Computed with tensor ops outside autograd (no value read back to Python unless
    ``error_if_nonfinite``), so a compiled step replays it. Empty tensors are skipped.

    Args:
        tensors: a Tensor or an iterable of Tensors.
        norm_type: a number >= 0, ``inf`` / ``-inf``, or a str such as ``"inf"``.
            (default: 2.0)
        error_if_nonfinite: raise when the total is nan or inf. (default: False)
        foreach: accepted for torch code and ignored: there is no fused multi-tensor
            kernel to pick. (default: None)

    Returns:
        a 0-d Tensor on the first tensor's device (``0.`` on the CPU for no tensors).

    Raises:
        TypeError: a non-Tensor in ``tensors``, a bad ``norm_type`` or ``foreach``.
        ValueError: a negative or unparsable ``norm_type``.
        RuntimeError: with ``error_if_nonfinite``, a nan or inf total.
    """
    op = "get_total_norm"
    tensors = _tensors(op, tensors)
    norm_type = _norm_type(op, norm_type)
    _check_foreach(op, foreach)
    return _total_norm(op, tensors, norm_type, error_if_nonfinite)


def _total_norm(op: str, tensors: list[Tensor], norm_type: float,
                error_if_nonfinite: bool) -> Tensor:
    """`get_total_norm` of checked arguments; errors name ``op``, the function called."""
    import sparsegraph.ops as ops
    from sparsegraph.creation import zeros

    if not tensors:
        return zeros(())
    device = tensors[0].device
    with no_grad():
        nonempty = [t for t in tensors if t.numel() > 0]
        if not nonempty:
            return zeros((), dtype=tensors[0].dtype, device=device)
        norms = [ops.norm(t, norm_type) for t in nonempty]
        norms = [n if n.device == device else n.to(device) for n in norms]
        total = ops.norm(ops.stack(norms), norm_type)
    if error_if_nonfinite:
        # a host read: a static trace refuses it with this reason rather than item()'s
        host_values(total, f"{op}(error_if_nonfinite=True) checks the total norm, so it",
                    "Pass error_if_nonfinite=False in a compiled step (and check the returned "
                    "norm outside it, e.g. with math.isfinite(norm.item()))")
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"{op}: the total norm of order {norm_type} of the gradients is "
                           "non-finite, so it cannot be clipped; pass error_if_nonfinite=False "
                           "to scale the gradients by the non-finite norm anyway")
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm,
                          foreach: bool | None = None) -> None:
    """Scale every ``.grad`` of ``parameters`` in place by ``min(1, max_norm / (total_norm +
    1e-6))``, as torch 2.6's ``torch.nn.utils.clip_grads_with_norm_`` (``total_norm`` from
    `get_total_norm`, a 0-d Tensor or a number). A recorded op: a compiled step replays it.
    ``foreach`` is accepted and ignored.

    Raises:
        TypeError: a non-Tensor parameter, a non-number ``max_norm``, a bad ``foreach``.
    """
    op = "clip_grads_with_norm_"
    params = _tensors(op, parameters)
    max_norm = _max_norm(op, max_norm)
    _check_foreach(op, foreach)
    if isinstance(total_norm, bool) or not isinstance(total_norm, Tensor | int | float |
                                                      np.number):
        raise TypeError(f"{op}: expected `total_norm` to be a Tensor or a number (got "
                        f"{type(total_norm).__name__})")
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    with no_grad():
        # min(coef, 1) applied always: a factor of 1 leaves the gradients as they are
        coef = max_norm / (total_norm + 1e-6)
        coef = coef.clamp(max=1.0) if isinstance(coef, Tensor) else min(coef, 1.0)
        for g in grads:
            g.mul_(coef.to(g.device) if isinstance(coef, Tensor) and coef.device != g.device
                   else coef)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float | str = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale every ``.grad`` in place so that their joint ``norm_type``-norm is at most
    ``max_norm`` (PyTorch's factor ``max_norm / (total + 1e-6)``, applied only when it is
    below 1): `get_total_norm` of the gradients, then `clip_grads_with_norm_`, as torch 2.6.
    Returns the total norm before clipping as a 0-d Tensor on the gradients' device.

    Written with tensor ops, as PyTorch's: no value is read back to Python, so a compiled
    training step records the clipping and replays it with each call's gradients.

    Args:
        parameters: a Tensor or an iterable of Tensors (an empty generator warns, as torch).
        max_norm: the largest total norm kept.
        norm_type: a number >= 0, ``inf`` / ``-inf``, or a str such as ``"inf"``.
            (default: 2.0)
        error_if_nonfinite: raise when the total norm is nan or inf. (default: False)
        foreach: accepted for torch code and ignored (no fused multi-tensor kernels).
            (default: None)

    Raises:
        TypeError: a non-Tensor parameter, non-number ``max_norm``, bad ``norm_type``.
        RuntimeError: with ``error_if_nonfinite`` when the total norm is nan or inf.
        sparsegraph.static.CaptureError: ``error_if_nonfinite=True`` in a compiled step (the
            check reads the norm on the host); pass False there.
    """
    from sparsegraph.creation import zeros

    op = "clip_grad_norm_"
    is_generator = isinstance(parameters, types.GeneratorType)
    params = _tensors(op, parameters)
    if is_generator and not params:
        warnings.warn(f"{op}: `parameters` is an empty generator, no gradient clipping will "
                      "occur", UserWarning, stacklevel=2)
    _max_norm(op, max_norm)
    norm_type = _norm_type(op, norm_type)
    _check_foreach(op, foreach)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return zeros((), device=params[0].device if params else "cpu")
    total = _total_norm(op, grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total, foreach)
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
