"""`numpy_args`: numpy's argument names (``axis``, ``keepdims``, ...) on torch-named functions,
for the op library and the Tensor methods alike, as PyTorch's argument parser takes them."""

from __future__ import annotations

import functools
import inspect

__all__ = ["NUMPY_ALIASES", "numpy_args"]

# numpy's name -> torch's: PyTorch's Python argument parser takes ``axis`` for any ``dim`` and
# ``keepdims`` for any ``keepdim`` (``numpy_compatibility_arg_names``); ``ddof`` is what numpy's
# np.std / np.var pass for torch 2's ``correction`` (the same number)
NUMPY_ALIASES = {"axis": "dim", "keepdims": "keepdim", "ddof": "correction"}
_NUMPY_EXTRAS = ("out", "dtype")  # passed as None by numpy's reductions; only None is taken


def numpy_args(fn):
    """``fn`` (an op or a Tensor method with torch's argument names) also taking numpy's.

    ``axis`` for ``dim`` and ``keepdims`` for ``keepdim``, as PyTorch's functions and methods
    take them (``torch.sum(t, axis=0)``); ``ddof`` for ``correction``; and ``out=None`` (plus
    ``dtype=None`` where ``fn`` has no ``dtype``), which numpy's reductions pass when they call
    the method of an object that is not an ndarray: ``np.sum(t)`` is ``t.sum(axis=None,
    out=None)``, so it returns a Tensor and keeps the graph. A name given with its alias, a
    non-None ``out`` (results are new tensors) or a ``dtype`` that ``fn`` does not take is a
    TypeError naming them. `inspect.signature` still shows ``fn``'s (through ``__wrapped__``),
    and a call without keywords costs one extra call.
    """
    params = inspect.signature(fn).parameters
    positional = [n for n, p in params.items() if p.kind in (p.POSITIONAL_ONLY,
                                                              p.POSITIONAL_OR_KEYWORD)]
    aliases = {alias: (name, positional.index(name) if name in positional else len(params))
               for alias, name in NUMPY_ALIASES.items() if name in params}
    extras = tuple(n for n in _NUMPY_EXTRAS if n not in params)
    op = fn.__name__

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if kwargs:
            _translate(op, kwargs, len(args), aliases, extras)
        return fn(*args, **kwargs)

    return call


def _translate(op: str, kwargs: dict, nargs: int, aliases: dict, extras: tuple) -> None:
    """Rename numpy's keywords in ``kwargs`` (this call's own dict) to torch's, in place."""
    for alias, (name, index) in aliases.items():
        if alias in kwargs:
            if name in kwargs or nargs > index:
                raise TypeError(f"{op}: got both `{name}` and its numpy alias `{alias}`; pass "
                                "one of them")
            kwargs[name] = kwargs.pop(alias)
    for name in extras:
        value = kwargs.pop(name, None)
        if value is None:
            continue
        if name == "out":
            raise TypeError(f"{op}: `out` is not supported (got {type(value).__name__}): "
                            "sparsegraph returns a new tensor; assign the result instead")
        raise TypeError(f"{op}: takes no `dtype` (got {value!r}); convert the input with "
                        ".to(dtype) first")
