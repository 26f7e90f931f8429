"""Small helpers shared by the op modules: argument unwrapping, un-broadcasting, dims."""

from __future__ import annotations

import functools

import numpy as np

from sparsegraph.backend import device_of, to_device, xp_of
from sparsegraph.numpy_compat import numpy_args  # noqa: F401  (the ops' decorator)
from sparsegraph.sparse_checks import is_structure_array
from sparsegraph.tensor import TRACE, Tensor


def arr(x):
    """The raw array of a Tensor; anything else (Python scalar, array) unchanged."""
    return x.array if isinstance(x, Tensor) else x


def shape_of(x) -> tuple:
    return x.array.shape if isinstance(x, Tensor) else np.shape(x)


def kept_array(array, source=None):
    """An index, mask, target or weight array that backward reads, made safe from later writes.

    ``source`` is the Tensor the caller gave (``array`` is its memory, or a conversion of it):
    forward saves ``source`` with ``save_for_backward``, whose version check makes an in-place
    change raise in backward (PyTorch's saved indices), so ``array`` is kept as it is. Without
    one, an array whose memory anyone may still write is copied (PyTorch copies a numpy
    index); one that nothing can change (`immutable`: a numpy scalar, a read-only array owning
    its memory; or a sparse structure's own index array, `is_structure_array`, on any device)
    is kept.
    """
    if source is not None or not hasattr(array, "shape"):
        return array
    return array if immutable(array) or is_structure_array(array) else array.copy()


def immutable(array) -> bool:
    """Whether nothing can change the values of ``array``: it and every array it views, down
    to the owner of the memory (numpy's ``base`` chain), are read-only, and an owner that is not
    an array (``np.frombuffer``'s bytes, a read-only memory map) is a read-only buffer. A
    read-only view of writeable memory (``np.broadcast_to(buf)``, ``a.view()`` made read-only)
    is not: whoever holds ``buf`` or ``a`` can still write it. A CuPy array never is (it has
    no read-only flag)."""
    while True:
        if getattr(array.flags, "writeable", True):
            return False
        base = array.base
        if base is None:
            return True
        if not isinstance(base, np.ndarray):
            try:
                return memoryview(base).readonly
            except TypeError:  # no buffer to ask (as_strided's DummyArray): assume writeable
                return False
        array = base


def check_saved(ctx) -> None:
    """Raise as reading ``ctx.saved_tensors`` does when a saved tensor changed in place: for a
    backward that reads only arrays kept beside its saved Tensors (`kept_array`)."""
    ctx.saved_tensors  # noqa: B018  (the property checks the versions)


def check_tensor(op: str, name: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected `{name}` to be a Tensor (got {type(x).__name__})")
    return x


def broadcasts_to(shape, target) -> bool:
    """Whether ``shape`` broadcasts to ``target`` without growing it (an operand that an
    in-place or masked op applies to a tensor of shape ``target``)."""
    try:
        return np.broadcast_shapes(tuple(shape), tuple(target)) == tuple(target)
    except ValueError:
        return False


def check_operands(op: str, ref_name: str, ref, **operands) -> None:
    """Each operand (None allowed) is a Tensor on ``ref``'s device with ``ref``'s dtype: the
    fused kernels compute in one dtype, and a mixed pair would fail only in backward."""
    for name, t in operands.items():
        if t is None:
            continue
        check_tensor(op, name, t)
        if t.device != ref.device:
            raise ValueError(f"{op}: `{ref_name}` is on {ref.device} but `{name}` is on "
                             f"{t.device}; use .to()")
        if t.dtype != ref.dtype:
            raise TypeError(f"{op}: expected `{name}` with the dtype of `{ref_name}`, "
                            f"{ref.dtype} (got {t.dtype}); convert one with .to()")


def _shown(value) -> str:
    """A bad argument as an error message shows it: a scalar's repr, else its type's name."""
    if value is None or isinstance(value, str | int | float | complex | np.generic):
        return repr(value)
    return type(value).__name__


def check_bool(op: str, name: str, value, hint: str = "") -> bool:
    """``value`` (a bool or numpy bool) as a bool; ``hint`` is appended to the error."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{op}: expected `{name}` to be a bool (got {_shown(value)}){hint}")
    return bool(value)


def check_choice(op: str, name: str, value, allowed) -> str:
    """``value``, a str in ``allowed``, as a plain str (a numpy str_ becomes one)."""
    if not isinstance(value, str):  # `in` on an ndarray would raise numpy's truth-value error
        raise TypeError(f"{op}: expected `{name}` to be a str in {tuple(allowed)} (got "
                        f"{type(value).__name__})")
    if value not in allowed:
        raise ValueError(f"{op}: expected `{name}` in {tuple(allowed)} (got {value!r})")
    return str(value)


def check_reduce(op: str, reduce, allowed) -> str:
    """A reduce name in ``allowed``; ``"add"``, PyG's and torch_scatter's synonym of
    ``"sum"``, is taken as ``"sum"``."""
    if isinstance(reduce, str) and reduce == "add":
        return "sum"
    return check_choice(op, "reduce", reduce, allowed)


def check_probability(op: str, p) -> float:
    """A dropout probability in [0, 1) as a float."""
    if isinstance(p, bool) or not isinstance(p, int | float | np.integer | np.floating):
        raise TypeError(f"{op}: expected a number `p` (got {type(p).__name__} {p!r})")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{op}: expected `p` in [0, 1) (got {p!r})")
    return float(p)


def check_float(op: str, name: str, x: Tensor) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected `{name}` with a floating dtype (got {x.dtype})")


def same_device(op: str, *tensors) -> None:
    devices = {t.device for t in tensors if isinstance(t, Tensor)}
    if len(devices) > 1:
        raise ValueError(
            f"{op}: inputs are on different devices ({', '.join(sorted(devices))}); "
            "move them with .to() first"
        )


def computed_on_arrays(op: str, *tensors) -> None:
    """For an op computed on the arrays, not recorded as a Function (unique, searchsorted,
    isclose): a static trace would freeze its result, so a traced tensor among ``tensors`` is
    refused naming ``op`` (constants are fine)."""
    if TRACE.tracer is not None:
        for t in tensors:
            if isinstance(t, Tensor):
                TRACE.tracer.escape(t, f"{op}()")


def check_int_arg(op: str, name: str, value) -> int:
    """An int argument (not a bool) as a Python int, else a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{op}: expected an int `{name}` (got {type(value).__name__} "
                        f"{value!r})")
    return int(value)


def check_device_of(op: str, name: str, t: Tensor, ref_name: str, ref: Tensor) -> None:
    """ValueError naming both when Tensor ``t`` is not on ``ref``'s device."""
    if t.device != ref.device:
        raise ValueError(f"{op}: `{name}` is on {t.device} but `{ref_name}` is on "
                         f"{ref.device}; move it with .to()")


def operand_array(op: str, name: str, x, ref_name: str, ref: Tensor):
    """``x`` (a Tensor, an array or a number) as an array on ``ref``'s device, for ops that
    compute on arrays: a Tensor or a device array elsewhere is refused by name, a host array or
    a number moves."""
    if isinstance(x, Tensor):
        check_device_of(op, name, x, ref_name, ref)
        return x.array
    if x is None or isinstance(x, str | bytes):
        raise TypeError(f"{op}: expected `{name}` to be a Tensor or a number (got "
                        f"{type(x).__name__})")
    if hasattr(x, "shape") and device_of(x) not in ("cpu", ref.device):
        raise ValueError(f"{op}: `{name}` is on {device_of(x)} but `{ref_name}` is on "
                         f"{ref.device}; move it with .to()")
    return ref.xp.asarray(x)


def unbroadcast(g, shape: tuple):
    """Sum ``g`` down to ``shape``: the adjoint of numpy broadcasting (autograd's unbroadcast)."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (n, m) in enumerate(zip(shape, g.shape, strict=True))
                 if n == 1 and m != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def norm_dim(op: str, dim: int, ndim: int) -> int:
    """Map a possibly negative ``dim`` into ``range(ndim)`` or raise naming the op."""
    lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
        raise TypeError(f"{op}: expected `dim` to be an int (got {type(dim).__name__} {dim!r})")
    if not lo <= dim <= hi:
        raise ValueError(f"{op}: expected `dim` in [{lo}, {hi}] (got {dim!r})")
    return int(dim) % max(ndim, 1)


def norm_dims(op: str, dim, ndim: int) -> tuple | None:
    """None (all dims) or a sorted tuple of non-negative dims."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    out = tuple(sorted({norm_dim(op, d, ndim) for d in dims}))
    if len(out) != len(dims):
        raise ValueError(f"{op}: `dim` lists a dimension twice (got {dim!r})")
    return out


# ---- reductions (ops/reduce.py, ops/extrema.py, linalg's norm) --------------------------------
def reduce_dims(op: str, input, dim):
    """Validate ``input`` and ``dim``; None (every dim) or a sorted tuple of dims."""
    check_tensor(op, "input", input)
    if dim is None:
        return None
    try:
        dims = norm_dims(op, dim, input.ndim)
    except TypeError:
        raise TypeError(f"{op}: expected `dim` to be an int, a tuple of ints or None (got "
                        f"{dim!r})") from None
    return None if input.ndim == 0 else dims  # a 0-d tensor's dim 0 / -1 reduces nothing


def expand_reduced(g, ndim: int, dims, keepdim: bool):
    """Reshape a reduced gradient so it broadcasts against the input (its dims kept)."""
    if dims is None:
        return g.reshape((1,) * ndim) if g.ndim != ndim else g
    return g if keepdim else xp_of(g).expand_dims(g, dims)


def check_floating_input(op: str, input: Tensor) -> None:
    """A reduction that is defined for floating tensors only (var, norm, ...)."""
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor (got {input.dtype}); use .float() or "
                        ".double() first")


# ---- floating-point warnings -------------------------------------------------------------------
# x / 0, log 0, sqrt(-1), exp(1000), 0 * inf: PyTorch gives the IEEE value (inf, nan) silently;
# numpy warns (an error under pytest's -W error). Kernels whose ordinary inputs reach a pole, an
# invalid region or an overflow run with these warnings off; plain arithmetic, which warns only
# past the dtype's range or on inf operands, is the hot path and runs without (numpy's errstate
# costs about a microsecond per call).
QUIET_FP = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}


def silenced(kernel):
    """``kernel`` run with numpy's floating-point warnings off (`QUIET_FP`)."""

    @functools.wraps(kernel)
    def run(*args):
        with np.errstate(**QUIET_FP):
            return kernel(*args)

    return run


# ---- operands that backward keeps (losses, index ops) ------------------------------------------
def source_of(value) -> Tensor | None:
    """``value`` if it is a Tensor, else None: the Tensor an index, target or weight came from,
    which forward saves (version-checked) beside the array it reads (`kept_array`)."""
    return value if isinstance(value, Tensor) else None


def kept_operand(operand):
    """An elementwise operand a gradient reads, safe from later writes: a Tensor as it is (the
    Function saves it, version-checked), a numpy array copied if writeable (`kept_array`, as
    PyTorch copies a numpy operand into a new tensor), a number as it is."""
    return operand if isinstance(operand, Tensor) else kept_array(operand)


def operand_like(value, x: Tensor):
    """A weight or target (a Tensor, an array or None) as an array in ``x``'s dtype on its
    device (no copy when it is one already)."""
    if value is None:
        return None
    a = arr(value)
    a = a if a.dtype == x.dtype else a.astype(x.dtype)
    return a if x.device == "cpu" else to_device(a, x.device)
