"""Devices and array modules: which of numpy / cupy holds an array, and the dtypes we support.

Everything above this module talks about devices as strings: ``"cpu"`` or ``"cuda"`` /
``"cuda:N"``; the canonical ones are `Device` strings, which also answer ``.type`` / ``.index``
as ``torch.device``. CuPy is optional; it is imported the first time a CUDA device is asked for.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as _scipy_sparse

DTYPES = {
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "float16": np.dtype(np.float16),
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "int16": np.dtype(np.int16),  # torch.short: what PyTorch gives uint8 with int8
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "bool": np.dtype(np.bool_),
}
DEFAULT_FLOAT = DTYPES["float32"]  # `set_default_float` changes it: read backend.DEFAULT_FLOAT
FLOAT_DTYPES = frozenset((DTYPES["float16"], DTYPES["float32"], DTYPES["float64"]))

_cupy = None
_cupy_error: str | None = None


def cupy_module():
    """Return the cupy module, or raise a RuntimeError saying why it is unusable."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception as exc:  # ImportError, CUDARuntimeError, missing driver ...
            _cupy_error = f"{type(exc).__name__}: {exc}"
    if _cupy is None:
        raise RuntimeError(
            f"device 'cuda' is not usable ({_cupy_error}); install the `gpu` extra "
            "(pip install 'sparsegraph[gpu]') on a machine with an NVIDIA GPU"
        )
    return _cupy


def cuda_available() -> bool:
    try:
        cupy_module()
    except RuntimeError:
        return False
    return True


def cuda_status() -> str:
    """One line for `sparsegraph info`: usable, or why not."""
    try:
        cp = cupy_module()
    except RuntimeError as exc:
        return str(exc)
    return f"usable: cupy {cp.__version__}, {cp.cuda.runtime.getDeviceCount()} device(s)"


class Device(str):
    """A canonical device name, ``"cpu"`` or ``"cuda:N"``, that also answers as a
    ``torch.device``: ``.type`` (``"cpu"`` / ``"cuda"``) and ``.index`` (None / N). A str
    subclass, so comparisons with plain strings, dict keys, f-strings and pickles behave as the
    plain names do; ``sparsegraph.device(...)`` makes one."""

    __slots__ = ()

    @property
    def type(self) -> str:
        return self.partition(":")[0]

    @property
    def index(self) -> int | None:
        return int(self[5:]) if self.startswith("cuda:") else None


CPU = Device("cpu")
_CUDA: dict[int, Device] = {}


def _cuda(index: int) -> Device:
    d = _CUDA.get(index)
    if d is None:
        d = _CUDA[index] = Device(f"cuda:{index}")
    return d


def normalize_device(device) -> Device:
    """The canonical `Device`: ``"cpu"`` or ``"cuda:N"`` (``"cuda"`` and an int N as
    PyTorch's ``device=0`` are CUDA devices)."""
    if device is None:
        return CPU
    if type(device) is Device and device != "cuda":  # canonical; device("cuda") has no index
        return device
    if isinstance(device, int | np.integer) and not isinstance(device, bool) and device >= 0:
        return _cuda(int(device))
    name = str(device)
    if name == "cpu":
        return CPU
    if name == "cuda":
        return _cuda(0)
    if name.startswith("cuda:") and name[5:].isdigit():
        return _cuda(int(name[5:]))
    raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N' (got {device!r})")


def device(type: str, index: int | None = None) -> Device:  # noqa: A002  (torch.device's names)
    """``torch.device``: ``device("cuda", 1)``, ``device("cuda:1")``, ``device("cpu")``. As in
    PyTorch, ``device("cuda")`` has index None (it means the current device, cuda:0 here, and
    is not equal to ``"cuda:0"``); a CPU index is accepted and dropped."""
    if type == "cuda" and index is None:
        return Device("cuda")
    if index is None:
        return normalize_device(type)
    if (type not in ("cpu", "cuda") or not isinstance(index, int) or isinstance(index, bool)
            or index < 0):
        raise ValueError(f"device: expected type 'cpu' or 'cuda' with a non-negative int "
                         f"index (got type={type!r}, index={index!r})")
    return CPU if type == "cpu" else _cuda(index)


def device_type(device: str) -> str:
    """``"cuda:1"`` -> ``"cuda"``; the registry keys kernels by device type."""
    return "cpu" if device == "cpu" else "cuda"


def array_module(device: str):
    """numpy for ``"cpu"``, cupy for a CUDA device."""
    return np if device == "cpu" else cupy_module()


def sparse_module(device: str):
    """scipy.sparse for ``"cpu"``, cupyx.scipy.sparse for a CUDA device."""
    if device == "cpu":
        return _scipy_sparse
    cupy_module()
    import cupyx.scipy.sparse

    return cupyx.scipy.sparse


def xp_of(array):
    """The array module (numpy or cupy) that owns ``array`` (Chainer's get_array_module)."""
    if isinstance(array, np.ndarray) or _cupy is None:
        return np
    return _cupy.get_array_module(array)


def device_of(array) -> Device:
    if isinstance(array, np.ndarray) or _cupy is None or not isinstance(array, _cupy.ndarray):
        return CPU
    return _cuda(array.device.id)


def to_device(array, device: str):
    """Move an array to ``device`` (a no-op when it is already there)."""
    if device == "cpu":
        if isinstance(array, np.ndarray):
            return array
        return array.get() if hasattr(array, "get") else np.asarray(array)
    cp = cupy_module()
    with cp.cuda.Device(int(device.split(":")[1])):
        return cp.asarray(array)


def as_dtype(dtype) -> np.dtype:
    """Accept a name ("float32"), a numpy dtype or a numpy scalar type; reject anything else."""
    if isinstance(dtype, str):
        try:
            return DTYPES[dtype]
        except KeyError:
            raise TypeError(
                f"dtype: expected one of {sorted(DTYPES)} (got {dtype!r})"
            ) from None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a dtype name or numpy dtype (got {dtype!r})") from None
    if dt not in DTYPES.values():
        raise TypeError(f"dtype: unsupported dtype {dt} (expected one of {sorted(DTYPES)})")
    return dt


_SUPPORTED = frozenset(DTYPES.values())


def supported_dtype(dt: np.dtype, op: str = "", what: str = "operands") -> np.dtype:
    """The supported dtype `sparsegraph.tensor` gives data of numpy dtype ``dt``: ``dt``
    itself, else float32 for other floats (float128) and int64 for other integers (uint16,
    uint32, uint64), as PyTorch has no such tensors; complex, object, datetime, string ... data
    is a TypeError (a KeyError or a silently dropped imaginary part otherwise)."""
    if dt in _SUPPORTED:
        return dt
    if dt.kind not in "biuf":
        raise TypeError(f"{op + ': ' if op else ''}expected {what} of a bool, integer or "
                        f"floating dtype (got dtype {dt}; complex, object and datetime data are "
                        "not supported)")
    if not dt.isnative:  # '>f8' is float64 all the same: the machine's byte order
        native = dt.newbyteorder("=")
        if native in _SUPPORTED:
            return native
    return DEFAULT_FLOAT if dt.kind == "f" else DTYPES["int64"]


def set_default_float(dtype) -> None:
    """Make ``dtype`` (float32 or float64) the default floating dtype: what Python floats,
    ``zeros`` / ``randn`` ... without ``dtype``, new layers' parameters and true division of
    integers give (``torch.set_default_dtype``)."""
    global DEFAULT_FLOAT
    try:
        dt = None if dtype is None else as_dtype(dtype)  # np.dtype(None) is float64
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f" or dt.itemsize < 4:
        raise TypeError(f"set_default_dtype: expected `d` float32 or float64 (got {dtype!r})")
    DEFAULT_FLOAT = _WEAK_DEFAULT[float] = dt
    _CASTS.clear()  # cached casts of int / float operand pairs name the old default


def is_float(dtype) -> bool:
    return dtype in FLOAT_DTYPES


# ---- type promotion (PyTorch's rules) ------------------------------------------------------
# Categories bool < integer < float. A higher category wins; within one category numpy widens
# (float32 + float64 -> float64). Python and numpy scalars are "weak": they lift the category
# (to its default dtype) but never the width, so `x_f32 * np.float64(.5)` stays float32 and
# `x_f32 / deg_int64` is float32, not numpy's float64 (which would then fail the next Linear).
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_WEAK_DEFAULT = {bool: DTYPES["bool"], int: DTYPES["int64"], float: DEFAULT_FLOAT}
_WEAK = {bool: bool, int: int, float: float, np.bool_: bool}
_WEAK.update({t: int for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                               np.uint32, np.uint64)})
_WEAK.update({t: float for t in (np.float16, np.float32, np.float64)})
_CATEGORY_OF_WEAK = {bool: 0, int: 1, float: 2}


class _ZeroDim(tuple):
    """The key of a 0-d tensor: between a tensor with dims and a scalar. As in PyTorch, it
    sets the width only when no tensor with dims of its category is there
    (``x_f32 * loss.detach()`` stays float32; ``ints * tensor(2.5, float64)`` is float64)."""


def _level(k) -> tuple[int, int]:
    """(category, strength): strength 2 a tensor with dims, 1 a 0-d tensor, 0 a scalar."""
    if isinstance(k, np.dtype):
        return _CATEGORY[k.kind], 2
    if isinstance(k, _ZeroDim):
        return _CATEGORY[k[0].kind], 1
    return _CATEGORY_OF_WEAK[k], 0


def _supported_key(k, op: str = ""):
    """A dtype key with the dtype `sparsegraph.tensor` would give the operand (a uint32 array
    counts as int64, a float128 one as float32), so that no op makes a Tensor of a dtype
    outside DTYPES; a complex / object / datetime operand is a TypeError here."""
    if isinstance(k, np.dtype):
        return k if k in _SUPPORTED else supported_dtype(k, op)
    if isinstance(k, _ZeroDim) and k[0] not in _SUPPORTED:
        return _ZeroDim((supported_dtype(k[0], op),))
    return k


def _dtype_of_key(k) -> np.dtype:
    return k if isinstance(k, np.dtype) else k[0] if isinstance(k, _ZeroDim) else _WEAK_DEFAULT[k]


def _promote_keys(ka, kb):
    """The result of two operand keys (a dtype: a tensor with dims; `_ZeroDim`: a 0-d tensor;
    bool/int/float: a weak scalar): the higher category wins, within it the stronger operand,
    and between equals numpy's widening. A scalar of a higher category gives its default dtype
    (ints * 2.5 is float32)."""
    ka, kb = _supported_key(ka), _supported_key(kb)
    (ca, la), (cb, lb) = _level(ka), _level(kb)
    if ca != cb:
        hi = ka if ca > cb else kb
        return _WEAK_DEFAULT[hi] if _level(hi)[1] == 0 else hi
    if la != lb:
        return ka if la > lb else kb
    if la == 0:
        return ka
    wide = np.promote_types(_dtype_of_key(ka), _dtype_of_key(kb))
    return wide if la == 2 else _ZeroDim((wide,))


_CASTS: dict = {}


def _casts(ka, kb, floating: bool) -> tuple:
    """``(dtype to cast a to or None, same for b)``: None where numpy already gets it right."""
    dt = _dtype_of_key(_promote_keys(ka, kb))
    if floating and dt.kind != "f":
        dt = DEFAULT_FLOAT
    # numpy's own result (Python scalars are weak in numpy too, NEP 50; 0-d arrays are not):
    # no copy when it agrees
    natural = np.result_type(*(k(0) if isinstance(k, type) else _dtype_of_key(k)
                               for k in (ka, kb)))
    if natural == dt:
        return None, None
    return tuple(None if isinstance(k, type) or _dtype_of_key(k) == dt else dt
                 for k in (ka, kb))


def operand_key(x):
    """A strong dtype for an array with dims, `_ZeroDim` for a 0-d one, or bool/int/float for
    a Python / numpy scalar (weak)."""
    w = _WEAK.get(type(x))
    if w is not None:
        return w
    return x.dtype if x.ndim else _ZeroDim((x.dtype,))


def result_type(*operands, floating: bool = False, op: str = "") -> np.dtype:
    """The PyTorch result dtype of elementwise operands (arrays, Tensors or scalars); with
    ``floating``, an integer / bool result becomes the default float (true division, sqrt).
    ``op`` names the caller in the TypeError for an unsupported (complex ...) operand."""
    key = _supported_key(operand_key(operands[0]), op)
    for x in operands[1:]:
        key = _promote_keys(key, _supported_key(operand_key(x), op))
    dt = _dtype_of_key(key)
    return DEFAULT_FLOAT if floating and dt.kind != "f" else dt


def promote(a, b, floating: bool = False) -> tuple:
    """Operands of an elementwise op, cast so that numpy computes PyTorch's result dtype.

    Cheap on the hot path: one dict lookup per dtype pair (the casts are cached), no cast when
    numpy's own rule already agrees. Numpy scalars become Python scalars (numpy treats those as
    weak, NEP 50)."""
    # the common case first: two float arrays of one dtype, nothing to decide
    if type(a) is type(b) and type(a) not in _WEAK and a.dtype == b.dtype and (
            not floating or a.dtype.kind == "f"):
        return a, b
    ka, kb = operand_key(a), operand_key(b)
    casts = _CASTS.get((ka, kb, floating))
    if casts is None:
        casts = _CASTS[ka, kb, floating] = _casts(ka, kb, floating)
    ca, cb = casts
    if ca is not None:
        a = a.astype(ca)
    elif isinstance(a, np.generic):
        a = a.item()
    if cb is not None:
        b = b.astype(cb)
    elif isinstance(b, np.generic):
        b = b.item()
    return a, b


def as_floating(array):
    """``array``, or a default-float copy of an integer / bool one (sqrt, exp, ... of ints)."""
    return array if array.dtype.kind == "f" else array.astype(DEFAULT_FLOAT)


def check_fits(op: str, name: str, value, dtype):
    """PyTorch's overflow check for a number written into a tensor of ``dtype`` (`full`,
    `fill_`, `masked_fill`, ``t[i] = v``, `index_fill`); returns the value to write. A
    ValueError naming ``op`` and the argument ``name`` when ``dtype`` cannot hold ``value`` (a
    Python or numpy int or float): an integer dtype outside its range (a float is truncated,
    so only its range counts; nan and inf never fit), except that a negative int down to
    ``-max`` wraps into an unsigned dtype as in PyTorch (-1 is 255 in uint8); bool from nan or
    inf; a float dtype from a finite value beyond its range (float16 and 1e6), where numpy
    would give inf. Anything else (bools, Tensors) passes unchecked."""
    dtype = np.dtype(dtype)
    if isinstance(value, bool | np.bool_) or not isinstance(
            value, int | float | np.integer | np.floating):
        return value
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if dtype.kind == "u" and isinstance(value, int | np.integer) and -info.max <= value < 0:
            return int(value) + info.max + 1  # two's complement, as PyTorch's check allows
        if info.min <= value <= info.max:  # nan compares False: refused too
            return value
        limits = f"[{info.min}, {info.max}]"
    elif dtype.kind == "b":
        if not isinstance(value, float | np.floating) or np.isfinite(value):
            return value
        limits = "finite values"
    else:
        top = float(np.finfo(dtype).max)
        if not np.isfinite(value) or -top <= value <= top:
            return value
        limits = f"[{-top:g}, {top:g}]"
    raise ValueError(f"{op}: `{name}` {value!r} cannot be converted to {dtype} without "
                     f"overflow (its range is {limits})")
