"""Creating tensors: `tensor`, `zeros`, `ones`, `full`, `empty`, `arange`, `eye`, random ones.

Python floats become float32 (the default float type), Python ints int64 and bools bool, as in
PyTorch; numpy arrays keep their dtype. Random tensors draw from a `Generator` (numpy's PCG64);
``manual_seed`` reseeds the default one.
"""

from __future__ import annotations

import functools
import warnings
from itertools import chain

import numpy as np

from sparsegraph import backend
from sparsegraph.sparse_checks import INT64_MAX
from sparsegraph.tensor import TRACE, Tensor, wrap


def _base_ndarray(a):
    """A numpy subclass as a plain ndarray: ``np.matrix`` (what scipy's ``todense`` returns)
    would make ``*`` a matrix product and keep rows 2-D; a masked array gives its data, as
    ``torch.tensor`` takes it."""
    if isinstance(a, np.ma.MaskedArray):
        return np.ma.getdata(a).view(np.ndarray)
    return a.view(np.ndarray) if isinstance(a, np.matrix) else a


def as_array(data, dtype=None, device: str | None = None):
    """Convert ``data`` (Tensor, array, scalar, nested list) to an array on ``device``
    (``None``: where ``data`` is, a Tensor's or a GPU array's device, else the CPU; an
    implicit copy to the host in GPU code is what PyTorch's ``device=None`` avoids too)."""
    dt = None if dtype is None else backend.as_dtype(dtype)
    # Python numbers and lists: checked against an integer dtype's range (arrays convert
    # with wrap-around, as PyTorch's .to() does)
    python_data = not isinstance(data, Tensor | np.ndarray | np.generic) and not hasattr(
        data, "__cuda_array_interface__")
    if isinstance(data, Tensor):
        array = data.array
        device = data.device if device is None else device
    elif isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        array = _base_ndarray(data)
        device = backend.device_of(data) if device is None else device
    elif isinstance(data, list | tuple):
        array, innermost = _sequence_array(data)
        # numpy's float32 / float64 may come from Python floats (PyTorch's float32) or from
        # elements whose own dtype PyTorch promotes otherwise (np.float16 with np.int16);
        # a float16 result can only come from float16 and 8-bit ints, where both agree
        if dt is None and array.dtype.kind == "f" and array.dtype.itemsize >= 4:
            dt = _list_dtype(innermost)
            if dt.kind == "i":  # only ints, yet numpy made floats: some do not fit int64
                _out_of_int64(array.flat[int(np.argmax(np.abs(array)))])
    else:
        array = _converted(data)
        if dt is None and array.dtype == np.float64 and not isinstance(data, np.generic):
            dt = backend.DEFAULT_FLOAT  # Python floats -> the default float type
    if array.dtype.kind == "O":  # numpy's type for Python ints beyond 64 bits
        for v in array.flat:
            if isinstance(v, int) and not -INT64_MAX - 1 <= v <= INT64_MAX:
                _out_of_int64(v)
    if array.dtype.kind in "OUSV":
        raise TypeError(f"tensor: expected numeric data (got dtype {array.dtype})")
    if array.dtype == np.uint64 and (dt is None or dt == np.int64) and array.size:
        # numpy's type for Python ints in [2**63, 2**64) too: int64 would wrap them negative
        top = int(array.max())
        if top > INT64_MAX:
            _out_of_int64(top)
    if array.dtype.kind == "c":  # never cast silently: the imaginary part would be lost
        raise TypeError(f"tensor: complex data is not supported (got dtype {array.dtype})")
    if not array.dtype.isnative:  # '>f8' is float64 all the same: the machine's byte order
        array = array.astype(array.dtype.newbyteorder("="))
    if dt is None:  # float128 -> float32, uint16 / uint32 / uint64 -> int64 (as ops do)
        dt = backend.supported_dtype(array.dtype, "tensor", "data")
    elif python_data:
        _check_int_range(array, dt)
    if dt is not None and array.dtype != dt:
        array = array.astype(dt)
    return backend.to_device(array, "cpu" if device is None else device)


def _check_int_range(array, dt) -> None:
    """PyTorch's rule for Python integers given an integer dtype: a value outside it is
    refused ("value cannot be converted to type int8_t without overflow"), not wrapped."""
    if dt.kind not in "iu" or array.dtype.kind not in "iu" or not array.size:
        return
    info = np.iinfo(dt)
    for v in (array.min(), array.max()):
        if not info.min <= v <= info.max:
            raise ValueError(f"tensor: value {int(v)} cannot be converted to {dt} without "
                             f"overflow (range [{info.min}, {info.max}])")


def _out_of_int64(value):
    """PyTorch's integer tensors hold int64 at most: a larger integer is refused (torch raises
    "Overflow when unpacking long"), never wrapped around to a negative one."""
    raise OverflowError(f"tensor: expected integers in the int64 range [-2**63, 2**63 - 1] "
                        f"(got {int(value)}); pass dtype=\"float64\" to store it approximately")


def _converted(data):
    """``np.asarray(data)``; what numpy cannot convert is refused naming `tensor`."""
    try:
        return np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"tensor: cannot convert {type(data).__name__} to a tensor: {exc}") from None


_SEQUENCES = (list, tuple)


def _sequence_array(data: list | tuple) -> tuple:
    """``(np.asarray(data), innermost)`` for a nested list / tuple: flattened level by level
    in C (``chain.from_iterable``) while every element of a level is a list or tuple of one
    length, numpy converts the flat ``innermost`` level, which costs less than its own nested
    discovery and pays for the walk; `_list_dtype` then reads the element types from
    ``innermost`` in one more C-level pass, without walking the nest again (500,000
    ``[a, b]`` pairs: ``sg.tensor`` about 0.9x ``np.asarray`` for ints, 1.15x for floats).
    Anything else (ragged, arrays or Tensors inside) goes to numpy as given (``innermost`` is
    ``data``), for its own result and error."""
    level, inner = data, []
    while level and type(level[0]) in _SEQUENCES:
        if not set(map(type, level)) <= set(_SEQUENCES):
            break  # mixed: numpy decides (arrays of that length, or a ragged error)
        lengths = set(map(len, level))
        if len(lengths) != 1:
            return _converted(data), data  # ragged: numpy's error names the shapes
        inner.append(lengths.pop())
        level = list(chain.from_iterable(level))
    if level is data:
        return _converted(data), data
    try:
        array = np.asarray(level)
    except (ValueError, TypeError):
        return _converted(data), data  # numpy's error about the nested input, not the flat one
    return array.reshape(len(data), *inner, *array.shape[1:]), level


_PYTHON_SCALARS = {int: np.dtype(np.int64), bool: np.dtype(np.bool_)}  # float: the default
_FLOAT64 = np.dtype(np.float64)


def _list_dtype(data) -> np.dtype:
    """PyTorch's dtype for a nested list / tuple that numpy made float32 / float64: each
    element's own dtype (a Python float the default float32, an int int64, a bool bool; a
    numpy scalar, array or Tensor its dtype), promoted as tensors' dtypes
    (``[np.float64(2.), 1.]`` is float64, ``[np.float32(1.), 2]`` float32). The walk goes
    level by level: per level one C-level ``map(type, ...)`` pass over its elements and one
    ``chain.from_iterable`` flattening of its lists, so a nested list costs about two passes
    over its elements (`as_array` hands it the innermost level: one pass); it stops at the
    first level holding a float64 element, which nothing can widen."""
    dtypes, level = set(), data
    while level:
        types = set(map(type, level))
        nested = [tp for tp in types if issubclass(tp, _SEQUENCES)]
        for tp in types.difference(nested):
            if tp is float:
                dtypes.add(backend.DEFAULT_FLOAT)
            elif tp in _PYTHON_SCALARS:
                dtypes.add(_PYTHON_SCALARS[tp])
            elif issubclass(tp, np.generic):
                dtypes.add(np.dtype(tp))
            else:  # arrays, Tensors, and anything else numpy converted
                dtypes.update(np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype
                              for x in level if type(x) is tp)
        if _FLOAT64 in dtypes or not nested:
            break
        if len(nested) == len(types):  # only lists and tuples: flattened in C
            level = list(chain.from_iterable(level))
        else:
            level = list(chain.from_iterable(x for x in level if type(x) in nested))
    if _FLOAT64 in dtypes:
        return _FLOAT64
    if dtypes and dtypes <= _INT_DTYPES:  # ints only: numpy's float means they overflowed
        return np.dtype(np.int64)
    if dtypes <= {*_PYTHON_SCALARS.values(), backend.DEFAULT_FLOAT}:  # from a Python float
        return backend.DEFAULT_FLOAT
    # strong dtypes (arrays with dims) promote as PyTorch's promoteTypes
    dt = backend.result_type(*(np.empty(0, d) for d in dtypes))
    return dt if dt.kind == "f" else backend.DEFAULT_FLOAT


_INT_DTYPES = {np.dtype(np.int64), np.dtype(np.bool_)}


def tensor(data, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A new tensor holding a copy of ``data``.

    Args:
        data: a scalar, nested list, numpy array, GPU (CuPy) array or Tensor.
        dtype: "float32", "float64", "int32", "int64", "bool", ... (default: inferred;
            Python floats give float32).
        requires_grad: record operations for backward (floating dtypes only).
        device: "cpu" or "cuda[:N]" (default: as ``torch.tensor``, the device of a Tensor
            or GPU array ``data``, else "cpu").
    """
    if TRACE.tracer is not None and isinstance(data, Tensor):  # a copy the graph cannot follow
        TRACE.tracer.escape(data, "sparsegraph.tensor(t)", "Use t.detach().clone() (and .to() "
                            "for another dtype or device), which the graph records")
    device = None if device is None else backend.normalize_device(device)
    array = as_array(data, dtype, device)
    if array is data or (isinstance(data, Tensor) and array is data.array):
        array = array.copy()
    t = wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_numpy(ndarray) -> Tensor:
    """A tensor sharing memory with the numpy array ``ndarray``, as ``torch.from_numpy``:
    writes through either show in both, and the dtype is kept (float64 stays float64).

    Raises:
        TypeError: for anything but a numpy array, or a dtype tensors cannot hold without a
            copy (complex, object, uint16 / uint32 / uint64, float128, ...).
        ValueError: for an array in the other byte order (a copy would be needed).
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected `ndarray` to be a numpy.ndarray (got "
                        f"{type(ndarray).__name__})")
    dt = ndarray.dtype
    if backend.supported_dtype(dt, "from_numpy", "`ndarray`") != dt:
        if not dt.isnative and dt.kind in "biuf":
            raise ValueError(f"from_numpy: expected `ndarray` in the machine's byte order (got "
                             f"dtype {dt.str}); convert it with ndarray.astype(ndarray.dtype"
                             ".newbyteorder('='))")
        raise TypeError(f"from_numpy: expected `ndarray` of a dtype tensors hold (float64, "
                        f"float32, float16, int64, int32, int16, int8, uint8, bool; got "
                        f"{dt}); use sparsegraph.tensor(ndarray), which converts a copy")
    if not ndarray.flags.writeable:
        # torch warns and shares it, leaving writes undefined; an optimizer step or init_
        # would then fail half-way, so the warned-about array is copied here
        warnings.warn("from_numpy: the given NumPy array is not writable; the tensor gets a "
                      "writable copy of it (PyTorch shares it, and writing to it is undefined)",
                      UserWarning, stacklevel=2)
        return wrap(np.array(ndarray))
    return wrap(ndarray if type(ndarray) is np.ndarray else ndarray.view(np.ndarray))


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory where it can, as ``torch.as_tensor``: a Tensor
    with the asked dtype and device is returned as is (else ``data.to(...)``, which keeps its
    history), an array with them (numpy, or CuPy on that device) is wrapped without a copy;
    anything else is converted as by `tensor`.

    Args:
        data: a Tensor, array, scalar or nested list.
        dtype: the dtype (default: ``data``'s, else inferred as by `tensor`).
        device: "cpu" or "cuda[:N]" (default: ``data``'s for a Tensor or array, else "cpu").
    """
    device = None if device is None else backend.normalize_device(device)
    if isinstance(data, Tensor):
        dt = None if dtype is None else backend.as_dtype(dtype)
        move = {k: v for k, v in (("device", device), ("dtype", dt)) if v is not None and v != (
            data.device if k == "device" else data.dtype)}
        return data.to(**move) if move else data
    return wrap(as_array(data, dtype, device))


def is_tensor(obj) -> bool:
    """Whether ``obj`` is a tensor, as ``torch.is_tensor``: a `Tensor` or a `SparseTensor`
    (torch's sparse tensors are tensors too); arrays, lists and numbers are not."""
    if isinstance(obj, Tensor):
        return True
    from sparsegraph.sparse import SparseTensor  # the layer above: imported on use

    return isinstance(obj, SparseTensor)


def _make(array, requires_grad: bool) -> Tensor:
    t = wrap(array)
    return t.requires_grad_(True) if requires_grad else t


def _int(op: str, name: str, v) -> int:
    """``v`` as an int: ints (and integer numpy scalars) only, never a float truncated."""
    if isinstance(v, bool) or not isinstance(v, int | np.integer):
        raise TypeError(f"{op}: expected `{name}` to be an int (got {type(v).__name__} {v!r})")
    return int(v)


def _shape(size, op: str = "size", keyword=None) -> tuple:
    """The shape from ``*size`` (ints or one sequence) or torch's ``size=`` keyword."""
    if keyword is not None:
        if size:
            raise TypeError(f"{op}: expected the size as positional ints or as `size=`, not "
                            f"both (got {size} and size={keyword!r})")
        size = (keyword,)
    if len(size) == 1 and not isinstance(size[0], int | np.integer):
        if not isinstance(size[0], tuple | list | np.ndarray) and not hasattr(size[0], "__len__"):
            raise TypeError(f"{op}: expected the size as ints or one sequence of ints (got "
                            f"{type(size[0]).__name__} {size[0]!r})")
        size = tuple(size[0])
    shape = tuple(_int(op, "size", s) for s in size)
    if any(s < 0 for s in shape):
        raise ValueError(f"{op}: expected non-negative dimensions (got {shape})")
    return shape


def _dtype(dtype):
    return backend.DEFAULT_FLOAT if dtype is None else backend.as_dtype(dtype)


def _filled(fill, size, dtype, device, requires_grad, op="full", keyword=None):
    device = backend.normalize_device(device)
    xp = backend.array_module(device)
    if isinstance(fill, Tensor):
        fill = fill.item()
    if not isinstance(fill, bool | np.bool_ | int | float | np.number):
        raise TypeError(f"{op}: expected `fill_value` to be a number (got "
                        f"{type(fill).__name__} {fill!r})")
    dtype = _dtype(dtype)
    fill = backend.check_fits(op, "fill_value", fill, dtype)  # numpy's ints would wrap
    try:
        array = xp.full(_shape(size, op, keyword), fill, dtype=dtype)
    except OverflowError:  # numpy's bare "out of bounds" (PyTorch: cannot be converted)
        raise ValueError(f"{op}: `fill_value` {fill!r} cannot be converted to {dtype} without "
                         "overflow") from None
    return _make(array, requires_grad)


def zeros(*sizes, size=None, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    return _filled(0, sizes, dtype, device, requires_grad, "zeros", size)


def ones(*sizes, size=None, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    return _filled(1, sizes, dtype, device, requires_grad, "ones", size)


def empty(*sizes, size=None, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    device = backend.normalize_device(device)
    xp = backend.array_module(device)
    return _make(xp.empty(_shape(sizes, "empty", size), dtype=_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    if dtype is None and isinstance(fill_value, bool | np.bool_):
        dtype = "bool"
    elif dtype is None and isinstance(fill_value, int | np.integer):  # numpy's ints as ints
        dtype = "int64"
    return _filled(fill_value, (size,) if isinstance(size, int) else tuple(size), dtype,
                   device, requires_grad)


def _number(v):
    """A 0-d Tensor's value (torch takes ``arange(t)``, ``linspace(t0, t1, n)``)."""
    return v.item() if isinstance(v, Tensor) and v.ndim == 0 else v


def arange(start, end=None, step=1, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    start, end, step = _number(start), _number(end), _number(step)
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, int | np.integer) for v in (start, end, step))
        dtype = "int64" if ints else None
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, int | float | np.number):
            raise TypeError(f"arange: expected `{name}` to be a number (got "
                            f"{type(v).__name__} {v!r})")
    if step == 0:
        raise ValueError("arange: expected a nonzero `step` (got 0)")
    xp = backend.array_module(backend.normalize_device(device))
    return _make(xp.arange(start, end, step, dtype=_dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (PyTorch's
    signature; the default float dtype, float32, unless ``dtype`` says otherwise)."""
    start, end, steps = _number(start), _number(end), _number(steps)
    for name, v in (("start", start), ("end", end)):
        if isinstance(v, bool) or not isinstance(v, int | float | np.number):
            raise TypeError(f"linspace: expected `{name}` to be a number (got "
                            f"{type(v).__name__} {v!r})")
    steps = _int("linspace", "steps", steps)
    if steps < 0:
        raise ValueError(f"linspace: expected `steps` >= 0 (got {steps})")
    xp = backend.array_module(backend.normalize_device(device))
    # computed in float64 and rounded once, so the endpoints are exact in any dtype
    array = xp.linspace(float(start), float(end), steps).astype(_dtype(dtype))
    return _make(array, requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False) -> Tensor:
    n = _int("eye", "n", n)
    m = n if m is None else _int("eye", "m", m)
    if n < 0 or m < 0:
        raise ValueError(f"eye: expected non-negative `n` and `m` (got n={n}, m={m})")
    xp = backend.array_module(backend.normalize_device(device))
    return _make(xp.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def get_default_dtype() -> np.dtype:
    """The default floating dtype, float32 unless `set_default_dtype` changed it
    (``torch.get_default_dtype``): what Python floats, ``zeros`` / ``randn`` ... without
    ``dtype``, new layers' parameters and true division of integers give."""
    return backend.DEFAULT_FLOAT


def set_default_dtype(d) -> None:
    """``torch.set_default_dtype``: float32 (the default) or float64. Tensors, layers and
    datasets made before keep their dtypes; datasets load float32 features whatever the
    default, as PyG's."""
    backend.set_default_float(d)


def _like(fn, t: Tensor, dtype, device, requires_grad, *args):
    dtype = t.dtype if dtype is None else dtype
    device = t.device if device is None else device
    return fn(*args, t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(ones, t, dtype, device, requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(empty, t, dtype, device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype = t.dtype if dtype is None else dtype
    return _filled(fill_value, tuple(t.shape), dtype, t.device if device is None else device,
                   requires_grad, "full_like")


# ---- random -----------------------------------------------------------------------------------
class Generator:
    """A seeded source of random numbers (numpy's PCG64), as ``torch.Generator``.

    Seeding inside a function `sparsegraph.static.compile` captures (``manual_seed`` here or
    `sparsegraph.manual_seed`, and the seeding a ``Generator(seed)`` made in the step does) is
    replayed on every call, in order with the random draws, so a compiled call draws what the
    eager call would."""

    def __init__(self, seed: int | None = None):
        self.manual_seed(seed)

    def manual_seed(self, seed: int | None) -> Generator:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        if TRACE.tracer is not None:  # replayed as an effect, kept in order with the draws
            TRACE.tracer.record_effect("manual_seed", self, seed=seed)
        return self

    def initial_seed(self):
        return self.seed


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Reseed the default generator (every random op without ``generator=`` uses it); in a
    compiled function the reseeding is replayed on every call (`Generator.manual_seed`)."""
    if not isinstance(seed, int | np.integer):
        raise TypeError(f"manual_seed: expected an int seed (got {type(seed).__name__})")
    return default_generator.manual_seed(int(seed))


def rng_of(generator: Generator | None) -> np.random.Generator:
    """The numpy generator behind ``generator`` (None: the default one).

    Raises:
        TypeError: anything else, named (a falsy ``0`` / ``False`` is not taken for None).
    """
    if generator is None:
        return default_generator.rng
    if isinstance(generator, Generator):
        return generator.rng
    hint = (" (a bool: PyTorch's positional `inplace`? pass generator= by keyword)"
            if isinstance(generator, bool) else
            " (a numpy Generator: wrap a seed with sparsegraph.Generator(seed))"
            if isinstance(generator, np.random.Generator) else "")
    raise TypeError(f"expected `generator` to be a sparsegraph.Generator or None (got "
                    f"{type(generator).__name__} {generator!r}){hint}")


def _random(draw, size, dtype, device, requires_grad, generator, op, keyword):
    dt = _dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{op}: expected a floating dtype (got {dt})")
    array = draw(rng_of(generator), _shape(size, op, keyword), dt)
    return _make(backend.to_device(array, backend.normalize_device(device)), requires_grad)


def _native(dt):
    """numpy draws float32 / float64 directly; other float types are drawn as float32."""
    return dt if dt in (np.float32, np.float64) else np.dtype(np.float32)


def _traced(fn):
    """A static trace records the draw as a node that draws again on every run (else the
    graph would replay the trace's numbers); ``rand_like`` / ``randn_like`` go through these."""

    @functools.wraps(fn)
    def draw(*args, **kwargs):
        out = fn(*args, **kwargs)
        if TRACE.tracer is not None:
            TRACE.tracer.record_draw(fn, args, kwargs, out)
        return out

    return draw


@_traced
def rand(*sizes, size=None, dtype=None, device="cpu", requires_grad=False,
         generator=None) -> Tensor:
    """Uniform samples in [0, 1)."""
    draw = lambda rng, shape, dt: rng.random(shape, dtype=_native(dt)).astype(dt, copy=False)
    return _random(draw, sizes, dtype, device, requires_grad, generator, "rand", size)


@_traced
def randn(*sizes, size=None, dtype=None, device="cpu", requires_grad=False,
          generator=None) -> Tensor:
    """Standard normal samples."""
    draw = lambda rng, shape, dt: rng.standard_normal(shape, dtype=_native(dt)).astype(
        dt, copy=False)
    return _random(draw, sizes, dtype, device, requires_grad, generator, "randn", size)


@_traced
def randint(low, high=None, size=(), dtype="int64", device="cpu", generator=None) -> Tensor:
    """Integers drawn uniformly from ``[low, high)``: ``randint(low, high, size)``, or
    torch's ``randint(high, size)`` (a sequence second), or ``randint(high)`` (0-d)."""
    if isinstance(high, tuple | list) and size == ():  # torch's randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    low, high = _int("randint", "low", low), _int("randint", "high", high)
    if low >= high:
        raise ValueError(f"randint: expected `low` < `high` (got low={low}, high={high})")
    array = rng_of(generator).integers(
        low, high, size=_shape((size,) if isinstance(size, int) else tuple(size), "randint"))
    return wrap(backend.to_device(array.astype(backend.as_dtype(dtype)),
                                  backend.normalize_device(device)))


@_traced
def randperm(n, dtype="int64", device="cpu", generator=None) -> Tensor:
    if _int("randperm", "n", n) < 0:
        raise ValueError(f"randperm: expected a non-negative `n` (got {n})")
    array = rng_of(generator).permutation(n).astype(backend.as_dtype(dtype))
    return wrap(backend.to_device(array, backend.normalize_device(device)))


def rand_like(t, dtype=None, generator=None) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, device=t.device, generator=generator)


def randn_like(t, dtype=None, generator=None) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, device=t.device, generator=generator)
