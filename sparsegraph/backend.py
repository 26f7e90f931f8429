"""Devices and array modules: which of numpy / cupy holds an array, and the dtypes we support.

Everything above this module talks about devices as strings: ``"cpu"`` or ``"cuda"`` /
``"cuda:N"``. CuPy is optional; it is imported the first time a CUDA device is asked for.
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
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "bool": np.dtype(np.bool_),
}
DEFAULT_FLOAT = DTYPES["float32"]
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


def normalize_device(device) -> str:
    """Canonical device string: ``"cpu"`` or ``"cuda:N"``."""
    if device is None:
        return "cpu"
    name = str(device)
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        return "cuda:0"
    if name.startswith("cuda:") and name[5:].isdigit():
        return name
    raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N' (got {device!r})")


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


def device_of(array) -> str:
    if isinstance(array, np.ndarray) or _cupy is None or not isinstance(array, _cupy.ndarray):
        return "cpu"
    return f"cuda:{array.device.id}"


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


def is_float(dtype) -> bool:
    return dtype in FLOAT_DTYPES
