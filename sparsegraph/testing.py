"""Test helpers shipped with the package: `gradcheck`, `assert_close`, random inputs.

Like ``chainer.testing`` and ``torch_geometric.testing``, these live in the package so tests (and
users writing their own ops) share one definition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sparsegraph.autograd.engine import run_backward
from sparsegraph.autograd.function import grad_edge
from sparsegraph.tensor import Tensor, wrap


def _leaf_tensor(x):
    """The Tensor that carries gradients for ``x`` (sparse tensors: their values)."""
    if isinstance(x, Tensor):
        return x
    values = getattr(x, "values", None)
    return values if isinstance(values, Tensor) else None


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return np.asarray(x.detach().__array__())
    if hasattr(x, "to_dense") and not isinstance(x, np.ndarray):
        return _as_numpy(x.to_dense())
    return np.asarray(x)


def assert_close(actual, expected, *, rtol: float | None = None, atol: float | None = None,
                 msg: str = "") -> None:
    """Assert two tensors / arrays / sparse tensors are equal in shape and close in value.

    Tolerances default by dtype: float32 rtol 1.3e-6 atol 1e-5, float64 rtol 1e-7 atol 1e-7.
    """
    a, e = _as_numpy(actual), _as_numpy(expected)
    if a.shape != e.shape:
        raise AssertionError(f"assert_close: shapes differ: {a.shape} vs {e.shape}. {msg}")
    single = np.float32 in (a.dtype, e.dtype) or np.float16 in (a.dtype, e.dtype)
    rtol = (1.3e-6 if single else 1e-7) if rtol is None else rtol
    atol = (1e-5 if single else 1e-7) if atol is None else atol
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=msg)


def _perturbed(inputs, leaves, directions, step):
    out = []
    for x in inputs:
        t = _leaf_tensor(x)
        if t is None or not any(t is leaf for leaf in leaves):
            out.append(x)
            continue
        v = directions[next(i for i, leaf in enumerate(leaves) if leaf is t)]
        shifted = wrap(t.array + step * v)
        out.append(shifted if isinstance(x, Tensor) else x.with_values(shifted))
    return out


def gradcheck(fn: Callable, inputs: Sequence, *, eps: float = 1e-6, rtol: float = 1e-5,
              atol: float = 1e-8, seed: int = 0, directions: int = 2) -> bool:
    """Check backward against central differences in float64 (directional derivatives).

    For random directions ``v`` (one per differentiable input, shaped like the input, or like
    its ``values`` for sparse inputs) and a random output cotangent ``u``, compares
    ``<J^T u, v>`` from backward with ``<u, (f(x + eps v) - f(x - eps v)) / (2 eps)>``. Every
    differentiable input must be float64.

    Raises:
        AssertionError: naming ``fn`` and both numbers when they disagree.
        TypeError: if a differentiable input is not float64.
    """
    rng = np.random.default_rng(seed)
    leaves = [t for t in map(_leaf_tensor, inputs) if t is not None and t.requires_grad]
    if not leaves:
        raise ValueError("gradcheck: expected at least one input with requires_grad=True")
    for t in leaves:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: expected float64 inputs (got {t.dtype}); finite "
                            "differences in float32 are too noisy")
    name = getattr(fn, "__name__", repr(fn))
    for _ in range(directions):
        for t in leaves:
            t.grad = None
        out = fn(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        us = [rng.standard_normal(o.shape) for o in outs]
        pairs = [(grad_edge(o), u.astype(o.dtype)) for o, u in zip(outs, us, strict=True)
                 if o.requires_grad]
        if not pairs:
            raise AssertionError(f"gradcheck({name}): no output requires grad")
        run_backward([e for e, _ in pairs], [u for _, u in pairs], retain_graph=False)
        v = [rng.standard_normal(t.shape) for t in leaves]
        analytic = sum(float((t.grad.array * vi).sum()) if t.grad is not None else 0.0
                       for t, vi in zip(leaves, v, strict=True))
        plus = fn(*_perturbed(inputs, leaves, v, eps))
        minus = fn(*_perturbed(inputs, leaves, v, -eps))
        plus = plus if isinstance(plus, tuple) else (plus,)
        minus = minus if isinstance(minus, tuple) else (minus,)
        numeric = sum(float((u * (_as_numpy(p) - _as_numpy(m))).sum())
                      for u, p, m in zip(us, plus, minus, strict=True)) / (2 * eps)
        if not abs(analytic - numeric) <= atol + rtol * max(abs(numeric), abs(analytic)):
            raise AssertionError(
                f"gradcheck({name}): analytic {analytic!r} != numeric {numeric!r}")
    for t in leaves:
        t.grad = None
    return True
