"""CuPy emulated on numpy - strict where CuPy is strict - so the "cuda" code paths run here.

Device arrays are `DeviceArray`, a numpy subclass. Like ``cupy.ndarray`` they refuse

- implicit conversion to the host: ``np.asarray`` / ``np.array`` / ``np.ascontiguousarray`` of a
  device array (CuPy: "TypeError: Implicit conversion to a NumPy array is not allowed");
- host ndarrays mixed with device arrays in a ufunc or a numpy function (CuPy: TypeError);
- ufunc methods CuPy lacks (``reduceat`` other than ``add.reduceat``), and, when the real cupy
  package is installed (it imports without a GPU), numpy functions cupy does not have.

Reductions and integer indexing return 0-d device arrays, as CuPy's do; ``cupy.asarray`` of a
device array that needs no conversion returns that array itself (the static tracer follows
arrays by identity), and creation functions copy host data (never sharing it, as a transfer
does not). A function's result that views a device argument's memory (``cupy.transpose``,
``einsum("ij->ji")``, ...) has that argument's owner as its ``base``, as numpy's and CuPy's
views do (sparsegraph's view tracking reads ``base``); an argument returned as it is comes
back as itself. ``cupy.lib.stride_tricks.as_strided`` is CuPy's: a header on the argument's
memory that is no view of it by ``base`` (as numpy's is not either). ``flags`` is CuPy's
(``c_contiguous``, ``f_contiguous``, ``owndata``, no ``writeable``): device arrays are always
writable, and code that freezes numpy arrays by an ``isinstance(a, np.ndarray)`` test, which
device arrays pass here and CuPy's do not, freezes nothing (the assignment is lost, as the
branch never runs on CuPy). ``cupyx.scipy.special`` is scipy.special behind the same
refusals. `install` makes `sparsegraph.backend` treat
device arrays as CuPy's on "cuda:0"; the CUDA-specific kernels (RawKernel, cuSPARSE) are not
emulated, so callers force the generic kernels (``sparsegraph.kernels.use("generic")``).
"""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np

_HOST = {"asarray": np.asarray, "array": np.array, "ascontiguousarray": np.ascontiguousarray}
# the real cupy, when installed, says which numpy functions exist on the device
_REAL = importlib.import_module("cupy") if importlib.util.find_spec("cupy") else None
_CREATION = {"asarray", "array", "ascontiguousarray", "asanyarray"}  # may take host input


def _walk(obj, fn):
    if isinstance(obj, list | tuple):
        return type(obj)(_walk(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: _walk(v, fn) for k, v in obj.items()}
    return fn(obj)


def _to_host_views(obj):
    return _walk(obj, lambda a: a.view(np.ndarray) if isinstance(a, DeviceArray) else a)


def _to_device(obj, hosts=(), host_args=()):
    """Host results -> device arrays. ``hosts``: ``(host view, device argument)`` pairs of the
    call (see `_host_call`); ``host_args``: a creation function's host arrays, whose memory a
    result must not share."""
    def wrap(a):
        if type(a) is np.ndarray:
            return _device_result(a, hosts, host_args)
        if isinstance(a, np.number | np.bool_):  # cupy's reductions give 0-d arrays
            return np.asarray(a).view(DeviceArray)
        return a

    return _walk(obj, wrap)


def _owner(d):
    """The device array whose memory ``d`` views (numpy collapses view chains to it)."""
    return d.base if isinstance(d.base, DeviceArray) else d


def _device_result(r, hosts, host_args):
    """``r`` as a device array: a device argument itself when ``r`` is its host view; a view
    whose ``base`` is the argument's owner when ``r`` views its memory (numpy's own base
    chain, through the host views, says so); else a new device array (a copy when ``r``
    would share a host argument's memory)."""
    for hv, d in hosts:
        if r is hv:
            return d
    link = r.base
    while isinstance(link, np.ndarray):
        for hv, d in hosts:
            if link is hv or link is hv.base:
                return _view_of(_owner(d), r)
        link = link.base
    if any(np.may_share_memory(r, h) for h in host_args):
        r = r.copy()  # host data: a transfer copies it
    return r.view(DeviceArray)


def _view_of(owner, r):
    """A DeviceArray with ``r``'s shape, strides and memory, ``base`` ``owner`` (whose memory
    ``r`` views). Built on the owner's bytes, so numpy links it to the owner; a result
    outside those bytes is a gap in the emulation, an AssertionError (never a silent
    non-view, which would change the view semantics the device tests check).

    One known gap stays: an owner whose memory is no dense block (a strided header such as
    the operand of the einsum-diagonal view tests) exports no buffer to build on, so its
    views are wrapped as new arrays. Those tests pass through here and still compare both
    devices: sparsegraph's diagonal of one operand is a copy either way."""
    if not r.size:
        return r.view(DeviceArray)
    order = sorted(range(owner.ndim), key=lambda i: -abs(owner.strides[i]))
    dense = owner.transpose(order)
    if not dense.flags.c_contiguous:
        return r.view(DeviceArray)
    flat = dense.reshape(-1).view(np.uint8)  # a view of owner: its base is owner
    offset = r.__array_interface__["data"][0] - flat.__array_interface__["data"][0]
    try:
        return np.ndarray.__new__(DeviceArray, r.shape, r.dtype, buffer=flat, offset=offset,
                                  strides=r.strides)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"emulation: a result that numpy links to a device array lies "
                             f"outside its bytes ({exc})") from None


def _host_call(fn, args, kwargs, creation=False):
    """``fn`` (numpy's) on host views of the device arguments, results back on the device."""
    hosts, host_args = [], []

    def host_view(a):
        if not isinstance(a, DeviceArray):
            if creation and isinstance(a, np.ndarray):
                host_args.append(a)
            return a
        hv = a.view(np.ndarray)
        hosts.append((hv, a))
        return hv

    result = fn(*_walk(args, host_view), **_walk(kwargs, host_view))
    return _to_device(result, hosts, host_args)


def _refuse_host(where: str, args) -> None:
    found = []
    _walk(args, lambda a: found.append(a) if type(a) is np.ndarray else None)
    if found:
        raise TypeError(f"{where}: a host numpy array (shape {found[0].shape}) mixed with "
                        "device arrays (CuPy raises TypeError)")


def _check_exists(name: str, module=None, error=TypeError) -> None:
    real = _REAL if module is None or _REAL is None else getattr(_REAL, module, None)
    if real is not None and not hasattr(real, name):
        raise error(f"cupy{'.' + module if module else ''} has no {name!r}")


class DeviceArray(np.ndarray):
    """A "device" array: numpy storage with CuPy's refusals (see the module docstring)."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        _refuse_host(f"{ufunc.__name__}.{method}", (inputs, out or ()))
        if method == "reduceat" and ufunc is not np.add:
            raise TypeError(f"cupy.{ufunc.__name__}.reduceat is not supported")
        if out is not None:
            kwargs["out"] = _to_host_views(out)
        result = getattr(ufunc, method)(*_to_host_views(inputs), **kwargs)
        if method == "at":
            return None
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _to_device(result)

    def __array_function__(self, func, types_, args, kwargs):
        module = func.__module__.split(".")[1] if func.__module__.count(".") else None
        _check_exists(func.__name__, module if module in ("linalg", "random", "fft") else None)
        _refuse_host(f"numpy.{func.__name__}", (args, kwargs))
        return _host_call(func, args, kwargs)

    def __getitem__(self, key):
        out = super().__getitem__(key)
        # cupy's integer indexing gives a 0-d device array, never a host scalar
        return np.asarray(out).view(DeviceArray) if isinstance(out, np.generic) else out

    @property
    def flags(self):
        """CuPy's flags: a new object on every access, so ``a.flags.writeable = False`` is
        lost (real CuPy arrays cannot be made read-only, cupy/cupy#2616)."""
        return _Flags(np.ndarray.flags.__get__(self))

    def get(self):
        """A host copy (``cupy.ndarray.get``)."""
        return self.view(np.ndarray).copy()

    @property
    def device(self):
        return types.SimpleNamespace(id=0)


class _Flags:
    """``cupy.ndarray.flags``: three read-only facts, no ``writeable``."""

    _NAMES = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
              "OWNDATA": "owndata"}

    def __init__(self, host_flags):
        self.c_contiguous = host_flags.c_contiguous
        self.f_contiguous = host_flags.f_contiguous
        self.owndata = host_flags.owndata

    def __getitem__(self, name):
        return getattr(self, self._NAMES[name])


class _Ufunc:
    def __init__(self, ufunc):
        self._ufunc, self.__name__ = ufunc, ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _DeviceFunction(self.__name__, self._ufunc)(*args, **kwargs)

    def __getattr__(self, method):  # at, reduce, reduceat, outer, accumulate
        if method == "reduceat" and self._ufunc is not np.add:
            raise AttributeError(f"cupy.{self.__name__} has no attribute 'reduceat'")
        return _DeviceFunction(f"{self.__name__}.{method}", getattr(self._ufunc, method))


class _DeviceFunction:
    """A numpy function called as cupy's: device arguments only (creation functions may take
    host data), device results."""

    def __init__(self, name: str, fn, module: str | None = None):
        self.__name__, self._fn, self._module = name, fn, module

    def __call__(self, *args, **kwargs):
        name = self.__name__
        if name not in _CREATION:
            _refuse_host(f"cupy.{name}", (args, kwargs))
        result = _host_call(self._fn, args, kwargs, creation=name in _CREATION)
        return None if name.endswith(".at") else result


class _Namespace(types.SimpleNamespace):
    pass


class FakeCupy(types.ModuleType):
    """The ``cupy`` module as far as sparsegraph uses it."""

    ndarray = DeviceArray
    __version__ = "emulated"

    def __init__(self):
        super().__init__("cupy")
        runtime = _Namespace(getDeviceCount=lambda: 1, runtimeGetVersion=lambda: 12000,
                             getDeviceProperties=lambda i: {"name": b"emulated",
                                                            "totalGlobalMem": 1 << 34})
        self.cuda = _Namespace(Device=_Device, runtime=runtime)
        self.random = self._submodule("random", np.random)
        self.linalg = self._submodule("linalg", np.linalg)
        self.lib = _Namespace(stride_tricks=_Namespace(as_strided=_as_strided))

    def _submodule(self, name, numpy_module):
        class Sub(types.ModuleType):
            def __getattr__(sub, attr):
                _check_exists(attr, name, AttributeError)
                value = getattr(numpy_module, attr)
                return _DeviceFunction(attr, value, name) if callable(value) else value

        return Sub(f"cupy.{name}")

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        _check_exists(name, error=AttributeError)
        value = getattr(np, name)
        if isinstance(value, np.ufunc):
            return _Ufunc(value)
        if isinstance(value, type) or not callable(value):
            return value  # dtypes, scalar types, constants
        return _DeviceFunction(name, _HOST.get(name, value))

    def asarray(self, a, dtype=None, order=None, **kwargs):
        """``cupy.asarray``: a device array of the asked dtype comes back itself, not a copy
        or a new view (the static tracer follows index arrays by identity)."""
        if isinstance(a, DeviceArray) and (dtype is None or np.dtype(dtype) == a.dtype) and (
                order is None and not kwargs):
            return a
        return _DeviceFunction("asarray", _HOST["asarray"])(a, dtype, order, **kwargs)

    def get_array_module(self, *arrays):
        return self if any(isinstance(a, DeviceArray) for a in arrays) else np

    def asnumpy(self, a):
        return a.get() if isinstance(a, DeviceArray) else np.asarray(a)

    def get_default_memory_pool(self):
        return _Namespace(total_bytes=lambda: 0, used_bytes=lambda: 0,
                          free_all_blocks=lambda: None)


def _as_strided(x, shape=None, strides=None):
    """``cupy.lib.stride_tricks.as_strided``: ``x``'s memory under a new shape and strides."""
    if not isinstance(x, DeviceArray):
        raise TypeError(f"cupy.lib.stride_tricks.as_strided: expected a device array (got "
                        f"{type(x).__name__})")
    return np.lib.stride_tricks.as_strided(x.view(np.ndarray), shape, strides).view(DeviceArray)


class _Device:
    def __init__(self, index: int = 0):
        if index != 0:
            raise RuntimeError(f"emulated cupy: one device (got cuda:{index})")
        self.id = index

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


def _refusing(name: str):
    host = _HOST[name]

    def convert(a, *args, **kwargs):
        if isinstance(a, DeviceArray) or (isinstance(a, list | tuple) and any(
                isinstance(x, DeviceArray) for x in a)):
            raise TypeError(f"np.{name} of a device array: implicit conversion to a NumPy array "
                            "is not allowed (CuPy); use .get() or backend.to_device(a, 'cpu')")
        return host(a, *args, **kwargs)

    return convert


# sparsegraph.backend's array-ownership tests, for device arrays that are numpy subclasses (the
# originals take any np.ndarray for the host); compiled here, run with backend's globals
def _xp_of(array):
    if _cupy is not None and isinstance(array, _cupy.ndarray):  # noqa: F821
        return _cupy  # noqa: F821
    return np


def _device_of(array) -> str:
    # runs as backend.device_of's code: _cuda / CPU are backend's Device makers
    if _cupy is not None and isinstance(array, _cupy.ndarray):  # noqa: F821
        return _cuda(array.device.id)  # noqa: F821
    return CPU  # noqa: F821


def _to_device_fn(array, device: str):
    cuda_array = _cupy is not None and isinstance(array, _cupy.ndarray)  # noqa: F821
    if device == "cpu":
        return array.get() if cuda_array else np.asarray(array)
    cp = cupy_module()  # noqa: F821
    with cp.cuda.Device(int(device.split(":")[1])):
        return array if cuda_array else cp.asarray(array)


def _fake_cupyx(monkeypatch) -> None:
    """``cupyx.scipy.special`` (the activations' special functions) over scipy.special."""
    import scipy.special

    class Special(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            return _DeviceFunction(name, getattr(scipy.special, name))

    cupyx, cupyx_scipy = types.ModuleType("cupyx"), types.ModuleType("cupyx.scipy")
    cupyx.scipy, cupyx_scipy.special = cupyx_scipy, Special("cupyx.scipy.special")
    for name, module in (("cupyx", cupyx), ("cupyx.scipy", cupyx_scipy),
                         ("cupyx.scipy.special", cupyx_scipy.special)):
        monkeypatch.setitem(sys.modules, name, module)


def host(t) -> np.ndarray:
    """A Tensor's array on the host, moved as the backend moves it (a device array through the
    emulated transfer): what the device tests compare with the CPU results."""
    from sparsegraph import backend

    return backend.to_device(t.array, "cpu")


def install(monkeypatch) -> FakeCupy:
    """Make "cuda" usable through the emulation for the duration of a test."""
    from sparsegraph import backend
    from sparsegraph.ops import activation

    fake = FakeCupy()
    _fake_cupyx(monkeypatch)
    monkeypatch.setattr(activation, "_SPECIAL", {})  # no special function cached for cupy
    monkeypatch.setattr(backend, "_cupy", fake)
    monkeypatch.setattr(backend, "_cupy_error", None)
    for fn, emulated in ((backend.xp_of, _xp_of), (backend.device_of, _device_of),
                         (backend.to_device, _to_device_fn)):
        monkeypatch.setattr(fn, "__code__", emulated.__code__)
    for name in _HOST:
        monkeypatch.setattr(np, name, _refusing(name))
    return fake
