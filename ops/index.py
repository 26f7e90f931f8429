"""Indexing: `getitem` / `setitem` (basic slices, ints, None, Ellipsis, integer arrays, boolean
masks), `index_select`, `gather`, `take_along_dim`, `masked_fill`, `nonzero`.

Gradients of integer indexing accumulate over repeated indices (a scatter-add kernel), so
``x[[0, 0]]`` sends twice the gradient to row 0. `setitem` is an in-place update
(`Function.apply_inplace`): it bumps the version counter and is differentiable with respect to
both the old values of the target and the written value.
"""

from __future__ import annotations

import warnings

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import check_fits, device_of, to_device, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.numpy_compat import numpy_args
from sparsegraph.ops._util import (
    arr,
    broadcasts_to,
    check_saved,
    check_tensor,
    kept_array,
    norm_dim,
    same_device,
    shape_of,
    source_of,
    unbroadcast,
)
from sparsegraph.tensor import TRACE, Tensor, host_values, wrap

__all__ = ["getitem", "setitem", "index_select", "gather", "take_along_dim", "masked_fill",
           "nonzero"]


@register("index_add", "cpu", "cuda")
def _index_add(out, key, values):
    """``out[key] += values`` in place, repeated indices accumulating (``ufunc.at``)."""
    at = getattr(xp_of(out).add, "at", None)
    if at is not None:
        at(out, key, values)
    else:  # pragma: no cover - CuPy before ufunc.at
        import cupyx

        cupyx.scatter_add(out, key, values)
    return out


@register("getitem", "cpu", "cuda")
def _getitem_kernel(x, key):
    out = x[key]
    if not hasattr(out, "shape") or (out.ndim == 0 and out.base is None and x.ndim):
        # NOTE: numpy gives a scalar copy for a full integer index; with a trailing Ellipsis it
        # gives a 0-d VIEW, so `y[1].add_(1)` reaches y as in PyTorch
        out = x[(*key, Ellipsis) if isinstance(key, tuple) else (key, Ellipsis)]
    return out


@register("getitem_backward", "cpu", "cuda")
def _getitem_backward_kernel(g, shape, key, accumulate):
    gx = xp_of(g).zeros(shape, dtype=g.dtype)
    if accumulate:
        _index_add(gx, key, g)
    else:  # slices, ints and masks reach each element at most once: plain assignment
        gx[key] = g
    return gx


@register("setitem", "cpu", "cuda")
def _setitem_kernel(x, key, value):
    x[key] = value
    return x


@register("setitem_backward", "cpu", "cuda")
def _setitem_backward_kernel(g, key, value_shape, need_x, need_value):
    gx = gv = None
    if need_x:  # the old values at the written positions no longer reach the output
        gx = g.copy()
        gx[key] = 0
    if need_value:
        gv = g[key]
        if gv.ndim < len(value_shape):  # the value had extra leading 1s
            gv = gv.reshape((1,) * (len(value_shape) - gv.ndim) + gv.shape)
        gv = unbroadcast(gv, value_shape)
    return gx, gv


@register("index_select", "cpu", "cuda")
def _index_select_kernel(x, dim, index):
    return xp_of(x).take(x, index, axis=dim)


@register("index_select_backward", "cpu", "cuda")
def _index_select_backward_kernel(g, shape, dim, index):
    gx = xp_of(g).zeros(shape, dtype=g.dtype)
    _index_add(gx, (slice(None),) * dim + (index,), g)
    return gx


@register("gather", "cpu", "cuda")
def _gather_kernel(x, dim, index, narrow):
    """Values of ``x`` at ``index`` along ``dim``. Outside ``dim``, ``narrow`` first cuts ``x``
    down to ``index``'s sizes (PyTorch's gather); otherwise the two broadcast (take_along_dim)."""
    if narrow:
        x = x[tuple(slice(None) if i == dim else slice(0, n) for i, n in enumerate(index.shape))]
    return xp_of(x).take_along_axis(x, index, dim)


@register("gather_backward", "cpu", "cuda")
def _gather_backward_kernel(g, shape, dim, index):
    """Scatter-add ``g`` back: position ``j`` in a non-``dim`` axis maps to ``j``, or to 0 where
    ``x`` was broadcast (size 1)."""
    xp = xp_of(g)
    gx = xp.zeros(shape, dtype=g.dtype)
    key = []
    for i in range(g.ndim):
        if i == dim:
            key.append(index)
        else:
            n = 1 if shape[i] == 1 else g.shape[i]
            key.append(xp.arange(n).reshape((n,) + (1,) * (g.ndim - 1 - i)))
    _index_add(gx, tuple(key), g)
    return gx


@register("masked_fill", "cpu", "cuda")
def _masked_fill_kernel(x, mask, value):
    return xp_of(x).where(mask, value, x)


@register("masked_fill_backward", "cpu", "cuda")
def _masked_fill_backward_kernel(g, mask, need_x, need_value):
    xp = xp_of(g)
    gx = xp.where(mask, g.dtype.type(0), g) if need_x else None
    gv = xp.where(mask, g, g.dtype.type(0)).sum() if need_value else None
    return gx, gv


class GetItem(Function):
    """``x[key]``; ``sources`` are the Tensors the key's index arrays came from (see
    `_kept_key`)."""

    @staticmethod
    def forward(ctx, x, key, sources=()):
        if ctx.needs_input_grad[0]:
            ctx.shape, ctx.key = x.shape, _kept_key(key, sources)
            ctx.save_for_backward(*sources)
        return dispatch("getitem", ctx.device)(x.array, key)

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        key = ctx.key
        parts = key if isinstance(key, tuple) else (key,)
        # NOTE: any integer array may repeat an index; bool masks and slices never do
        accumulate = any(getattr(k, "ndim", 0) and k.dtype.kind in "iu" for k in parts)
        return dispatch("getitem_backward", ctx.device)(g.array, ctx.shape, key,
                                                        accumulate), None, None


class SetItem(Function):
    """``x[key] = value`` in place; the old ``x`` gets the gradient except where written, the
    value gets the gradient at the written positions (summed over broadcasting)."""

    op_name = "setitem"  # in errors: what the user wrote was x[key] = value

    @staticmethod
    def forward(ctx, x, key, value, sources=()):
        if any(ctx.needs_input_grad):
            ctx.key, ctx.value_shape = _kept_key(key, sources), shape_of(value)
            ctx.save_for_backward(*sources)
        return dispatch("setitem", ctx.device)(x.array, key, arr(value))

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        need = ctx.needs_input_grad
        gx, gv = dispatch("setitem_backward", ctx.device)(g.array, ctx.key, ctx.value_shape,
                                                          need[0], need[2])
        return gx, None, gv, None


def _kept_key(key, sources: tuple):
    """``key`` as backward keeps it: the arrays of ``sources`` (the index Tensors the caller
    gave, saved by forward: an in-place change raises in backward) as they are, any other
    writeable array copied (`kept_array`), so ``idx[0] = 2`` after ``y = x[idx]`` cannot
    change the gradient. Copied here, not by the caller: a static graph records the key as
    given and follows a traced tensor's array by identity."""
    if not isinstance(key, tuple):
        return key if type(key) is int or type(key) is slice else _kept_part(key, sources)
    return tuple(_kept_part(k, sources) for k in key)


def _kept_part(k, sources: tuple):
    for t in sources:
        if k is t.array:
            return k
    return kept_array(k)


# The range checks of IndexSelect and Gather run inside their forwards: a static graph's replay
# runs them on each call's index too (numpy's take wraps a negative index silently).
class IndexSelect(Function):
    """Slices of ``x`` along ``dim``; ``source`` is the Tensor ``index`` came from, or None."""

    @staticmethod
    def forward(ctx, x, dim, index, source=None):
        _check_range("index_select", index, x.shape[dim], dim)
        if ctx.needs_input_grad[0]:
            ctx.shape, ctx.dim, ctx.index = x.shape, dim, kept_array(index, source)
            ctx.save_for_backward(source)
        return dispatch("index_select", ctx.device)(x.array, dim, index)

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        return dispatch("index_select_backward", ctx.device)(
            g.array, ctx.shape, ctx.dim, ctx.index), None, None, None


class Gather(Function):
    """PyTorch's gather / take_along_dim (``op`` names it); ``source`` is the Tensor ``index``
    came from."""

    @staticmethod
    def forward(ctx, x, dim, index, narrow, source, op):
        _check_range(op, index, x.shape[dim] if x.ndim else 1, dim)
        if ctx.needs_input_grad[0]:
            ctx.shape, ctx.dim, ctx.index = x.shape, dim, kept_array(index, source)
            ctx.save_for_backward(source)
        return dispatch("gather", ctx.device)(x.array, dim, index, narrow)

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        return dispatch("gather_backward", ctx.device)(g.array, ctx.shape, ctx.dim,
                                                       ctx.index), None, None, None, None, None


class MaskedFill(Function):
    """``value`` where ``mask``; ``source`` is the Tensor ``mask`` came from, or None."""

    @staticmethod
    def forward(ctx, x, mask, value, source=None):
        if any(ctx.needs_input_grad):
            ctx.mask, ctx.value_shape = kept_array(mask, source), shape_of(value)
            ctx.save_for_backward(source)
        return dispatch("masked_fill", ctx.device)(x.array, mask, arr(value))

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        need = ctx.needs_input_grad
        gx, gv = dispatch("masked_fill_backward", ctx.device)(g.array, ctx.mask, need[0],
                                                              need[2])
        return gx, None, None if gv is None else gv.reshape(ctx.value_shape), None


# ---- public functions ------------------------------------------------------------------------
def _key_part(op: str, k, input: Tensor):
    """``(one part of an index as numpy/cupy understands it, the Tensor backward saves for it
    or None)``: Tensors and lists become arrays on ``input``'s device (`_on_device`)."""
    if type(k) is int or type(k) is slice or k is None or k is Ellipsis:
        return k, None
    if isinstance(k, list | range):
        k = input.xp.asarray(k)
        if k.size == 0:  # `[]` is an empty integer index, not a float one
            k = k.astype(np.int64)
        return k, None
    if isinstance(k, float):
        raise TypeError(f"{op}: expected integer, slice or boolean indices (got float {k!r})")
    kind = k.dtype.kind if isinstance(k, Tensor) or hasattr(k, "dtype") else None
    if kind is not None and kind not in "iub":
        raise TypeError(f"{op}: expected integer or boolean index arrays (got {k.dtype})")
    if kind is None or isinstance(k, np.generic):  # a scalar: numpy / cupy take it as it is
        return k, None
    if k.dtype == np.uint8 and k.ndim:
        # PyTorch's rule for a uint8 index tensor or numpy array (older PyG datasets stored
        # masks so): a mask, with its deprecation warning; gathering rows 0 and 1 instead
        # would be silent
        warnings.warn(f"{op}: indexing with a uint8 Tensor or array is a mask (as in PyTorch, "
                      "where it is deprecated): use a bool one", UserWarning, stacklevel=6)
        k = k != 0
    return _on_device(op, "index", k, input)


def check_index_shape(op: str, idx, input: Tensor, d: int) -> None:
    """torch's shape rule for ``gather`` / ``scatter_``'s index: ``input``'s number of dims,
    no larger than ``input`` outside dim ``d``."""
    if idx.ndim != input.ndim:
        raise ValueError(f"{op}: expected `index` with {input.ndim} dims like `input` "
                         f"(got shape {idx.shape})")
    if any(i != d and n > m for i, (n, m) in enumerate(zip(idx.shape, input.shape,
                                                            strict=True))):
        raise ValueError(f"{op}: expected `index` of shape {idx.shape} to be no larger than "
                         f"`input` of shape {input.shape} outside dim {d}")


def _on_device(op: str, name: str, index, input: Tensor):
    """``(index's array on input's device, the Tensor backward saves or None)`` for an index
    Tensor or array. As PyTorch, a host index may index a device tensor, never the reverse.
    A host Tensor moves by a traced `to` (a static graph follows its values on every call),
    a host array through `host_values` (a trace guards its values): a copy made out of the
    tracer's sight would be baked into the graph as a constant."""
    where = index.device if isinstance(index, Tensor) else device_of(index)
    if where == input.device:
        return (index.array, index) if isinstance(index, Tensor) else (index, None)
    if where != "cpu":
        raise ValueError(f"{op}: expected `{name}` on {input.device}, like `input`, or on the "
                         f"cpu (got one on {where}); move it with .to({input.device!r})")
    if isinstance(index, Tensor):
        from sparsegraph.ops.convert import to

        moved = to(index, input.device)
        return moved.array, moved
    host_values(index, f"{op}: `{name}` copied to {input.device}")
    return to_device(index, input.device), None


def _key(op: str, key, input: Tensor) -> tuple:
    """``(key as numpy/cupy understands it, the Tensors backward saves for its parts)``."""
    parts = [_key_part(op, k, input) for k in (key if isinstance(key, tuple) else (key,))]
    sources = tuple(t for _, t in parts if t is not None)
    return (tuple(k for k, _ in parts) if isinstance(key, tuple) else parts[0][0]), sources


def getitem(input: Tensor, key) -> Tensor:
    """``input[key]`` with gradients: ints, slices, None, Ellipsis, integer arrays (lists,
    numpy arrays, integer Tensors), boolean masks, and mixtures, with numpy's semantics.

    Basic indexing returns a view (sharing the version counter); repeated integer indices
    accumulate their gradients.

    Raises:
        TypeError: for float indices.
        IndexError: for out-of-range indices or too many indices.
    """
    check_tensor("getitem", "input", input)
    if type(key) is int or type(key) is slice:  # the common case, kept cheap
        sources = ()
    else:
        key, sources = _key("getitem", key, input)
    try:
        return GetItem.apply(input, key, sources)
    except IndexError as exc:
        raise IndexError(f"getitem: {exc} (tensor of shape {input.shape})") from None


def setitem(input: Tensor, key, value) -> None:
    """``input[key] = value`` in place (bumps the version counter; differentiable).

    Raises:
        RuntimeError: for a leaf that requires grad, in grad mode (use ``sg.no_grad()``).
        TypeError: for float indices.
        IndexError: for out-of-range indices.
        ValueError: if ``value`` cannot be broadcast to ``input[key]``, or is on another device.
    """
    check_tensor("setitem", "input", input)
    value = check_fits("setitem", "value", value, input.dtype)  # numpy would wrap 300.0
    key, sources = _key("setitem", key, input)
    if isinstance(value, Tensor):
        if value.device != input.device:
            raise ValueError(f"setitem: `value` is on {value.device} but the tensor is on "
                             f"{input.device}; move it with .to()")
        if value.dtype != input.dtype:
            value = value.to(input.dtype)
    elif isinstance(value, str | bytes) or value is None:
        raise TypeError(f"setitem: expected `value` to be a number, a Tensor or an array (got "
                        f"{type(value).__name__} {value!r})")
    elif not isinstance(value, int | float | bool):
        try:
            value = wrap(input.xp.asarray(value, dtype=input.dtype))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"setitem: cannot convert `value` of type {type(value).__name__} to "
                            f"{input.dtype}: {exc}") from None
    try:
        SetItem.apply_inplace(input, key, value, sources)
    except OverflowError:
        raise ValueError(f"setitem: `value` {value!r} cannot be converted to {input.dtype} "
                         "without overflow") from None
    except (IndexError, ValueError) as exc:
        if "could not broadcast" in str(exc):
            shape, target = tuple(np.shape(arr(value))), input.array[key].shape
            raise ValueError(f"setitem: expected `value` of shape {shape} to broadcast to the "
                             f"indexed shape {target}") from None
        raise type(exc)(f"setitem: {exc} (tensor of shape {input.shape})") from None


def _index_array(op: str, name: str, index, input: Tensor):
    """``(index as an integer array on input's device, the Tensor backward saves or None)``;
    lists, host and device arrays and Tensors accepted (`_on_device`)."""
    if not isinstance(index, Tensor) and not hasattr(index, "dtype"):
        index = np.asarray(index)
        if index.size == 0 and index.dtype.kind == "f":
            index = index.astype(np.int64)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an integer `{name}` (got {index.dtype})")
    return _on_device(op, name, index, input)


def _check_range(op: str, idx, size: int, dim: int) -> None:
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            got = f"max {hi}" if hi >= size else f"min {lo}"
            raise ValueError(f"{op}: expected indices in [0, {size}) for dim {dim} of size "
                             f"{size} (got {got})")


@numpy_args
def index_select(input: Tensor, dim: int, index) -> Tensor:
    """Slices of ``input`` along ``dim`` at the positions in the 1-D ``index`` (repeats allowed).

    Raises:
        TypeError: for a non-integer ``index``.
        ValueError: for an index that is not 1-D or out of ``[0, size)``.
    """
    check_tensor("index_select", "input", input)
    d = norm_dim("index_select", dim, input.ndim)
    idx, source = _index_array("index_select", "index", index, input)
    if idx.ndim > 1:
        raise ValueError(f"index_select: expected a 1-D `index` (got shape {idx.shape})")
    if input.ndim == 0:  # a scalar acts as a vector of one element
        from sparsegraph.ops.shape import reshape

        input = reshape(input, (1,))
    # the index itself when it is 1-D already: static capture follows a traced index by identity
    return IndexSelect.apply(input, d, idx if idx.ndim == 1 else idx.reshape(-1), source)


@numpy_args
def gather(input: Tensor, dim, index=None) -> Tensor:
    """Two forms. ``gather(input, index)``: the rows of ``input`` at a 1-D ``index``, message
    passing's gather (`gather_rows`: PyG's ``x[edge_index[0]]``). ``gather(input, dim, index)``:
    PyTorch's gather, ``out[i][j] = input[index[i][j]][j]`` for ``dim=0`` (and alike), where
    ``index`` has ``input``'s number of dims, is no larger than ``input`` in the other dims, and
    gives the output its shape.

    Raises:
        TypeError: for a non-integer ``index``.
        ValueError: for mismatched dims or sizes, or indices out of ``[0, size)``.
    """
    if index is None:
        if isinstance(dim, int | np.integer):
            raise TypeError(f"gather: expected `index` after `dim`={dim} (or call "
                            "gather(input, index) to gather rows)")
        from sparsegraph.ops.gather_scatter import gather_rows

        return gather_rows(input, dim)
    check_tensor("gather", "input", input)
    d = norm_dim("gather", dim, input.ndim)
    idx, source = _index_array("gather", "index", index, input)
    check_index_shape("gather", idx, input, d)
    narrow = idx.shape != input.shape and any(
        i != d and n != m for i, (n, m) in enumerate(zip(idx.shape, input.shape, strict=True)))
    return Gather.apply(input, d, idx, narrow, source, "gather")


def take_along_dim(input: Tensor, indices, dim: int | None = None) -> Tensor:
    """Pick values along ``dim`` at ``indices`` (``numpy.take_along_axis``): ``input`` and
    ``indices`` broadcast in the other dims. With ``dim=None`` both are flattened first.

    Raises:
        TypeError: for non-integer ``indices``.
        ValueError: for mismatched dims, shapes that do not broadcast, or indices out of range.
    """
    check_tensor("take_along_dim", "input", input)
    idx, source = _index_array("take_along_dim", "indices", indices, input)
    if dim is None:
        from sparsegraph.ops.shape import reshape

        input, idx, d = reshape(input, (-1,)), idx.reshape(-1), 0
    else:
        d = norm_dim("take_along_dim", dim, input.ndim)
    if idx.ndim != input.ndim:
        raise ValueError(f"take_along_dim: expected `indices` with {input.ndim} dims like "
                         f"`input` (got {idx.ndim})")
    others = [(n, m) for i, (n, m) in enumerate(zip(idx.shape, input.shape, strict=True))
              if i != d]
    if any(n != m and 1 not in (n, m) for n, m in others):
        raise ValueError(f"take_along_dim: `indices` of shape {idx.shape} and `input` of "
                         f"shape {input.shape} do not broadcast outside dim {d}")
    return Gather.apply(input, d, idx, False, source, "take_along_dim")


def masked_fill(input: Tensor, mask, value) -> Tensor:
    """``value`` where the bool ``mask`` (broadcast to ``input``'s shape) is true, else ``input``.

    Args:
        input: any tensor.
        mask: bool Tensor on ``input``'s device, or a host array or nested list (moved to
            it), broadcastable to ``input.shape``.
        value: a number or a 0-d Tensor (differentiable). As in PyTorch, a 0-d CPU Tensor
            may fill a GPU ``input`` (it is moved).

    Raises:
        TypeError: for a non-bool mask or a value that is not a number / 0-d Tensor.
        ValueError: for a mask that does not broadcast to ``input.shape``, or a mask or
            value on another device.
    """
    check_tensor("masked_fill", "input", input)
    if isinstance(mask, Tensor):
        same_device("masked_fill", input, mask)
        m = mask.array
    else:
        where = device_of(mask)
        if where not in ("cpu", input.device):  # a device array for another device
            raise ValueError(f"masked_fill: inputs are on different devices "
                             f"({', '.join(sorted((input.device, where)))}); move them with "
                             ".to() first")
        m = input.xp.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: expected a bool `mask` (got {m.dtype})")
    if not broadcasts_to(m.shape, input.shape):
        raise ValueError(f"masked_fill: expected `mask` of shape {m.shape} to broadcast to "
                         f"`input` of shape {input.shape}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise TypeError(f"masked_fill: expected `value` to be a number or a 0-d Tensor "
                            f"(got a Tensor of shape {value.shape})")
        if value.device != input.device:
            if value.device != "cpu":  # PyTorch moves only a CPU scalar tensor
                same_device("masked_fill", input, value)
            value = value.to(input.device)
        if value.dtype != input.dtype:
            value = value.to(input.dtype)
    elif isinstance(value, int | float | bool | np.number | np.bool_):
        value = check_fits("masked_fill", "value", value, input.dtype)  # numpy ints would wrap
        try:
            value = input.dtype.type(value)
        except (OverflowError, ValueError):  # inf or nan into an integer tensor
            raise ValueError(f"masked_fill: `value` {value!r} cannot be converted to "
                             f"{input.dtype} without overflow") from None
    else:
        raise TypeError(f"masked_fill: expected `value` to be a number or a 0-d Tensor "
                        f"(got {type(value).__name__})")
    return MaskedFill.apply(input, m, value, source_of(mask))


def nonzero(input: Tensor, as_tuple: bool = False):
    """Indices of the non-zero elements (no gradient).

    Returns:
        An int64 tensor of shape ``(n, ndim)``, or with ``as_tuple`` one 1-D tensor per dim.
    """
    check_tensor("nonzero", "input", input)
    if TRACE.tracer is not None:  # the output's shape depends on the data
        TRACE.tracer.escape(input, "nonzero()")
    a = input.array
    xp = xp_of(a)
    if a.ndim == 0:  # PyTorch: shape (1, 0) or (0, 0); as a tuple, like a 1-element vector
        if as_tuple:
            return (wrap(xp.zeros(int(a != 0), dtype=np.int64)),)
        return wrap(xp.zeros((int(a != 0), 0), dtype=np.int64))
    idx = xp.nonzero(a)
    if as_tuple:
        return tuple(wrap(i.astype(np.int64, copy=False)) for i in idx)
    return wrap(xp.stack(idx, axis=1).astype(np.int64, copy=False))
