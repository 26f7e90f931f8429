"""Checks and views for `sparsegraph.sparse`: index-argument validation (dtype, shape, range,
the dimension a largest index implies), the index dtype rule, the values contract (one row per
stored entry, a dtype the kernels support), and the read-only views that SparseTensor hands out
of its shared structure."""

from __future__ import annotations

import weakref

import numpy as np

from sparsegraph import backend
from sparsegraph.tensor import Tensor, wrap

INT32_MAX = np.iinfo(np.int32).max
INT64_MAX = np.iinfo(np.int64).max  # the largest dimension int64 indices can address


def index_dtype(n_rows: int, n_cols: int, nnz: int) -> np.dtype:
    """int32 unless a dimension or the entry count needs int64."""
    return np.dtype(np.int64 if max(n_rows, n_cols, nnz) > INT32_MAX else np.int32)


def as_index_array(op: str, name: str, a):
    """``np.asarray(a)`` for a list-like index argument (a nested list or tuple), refusing
    ragged nesting by name. A list without any number (``[]``, ``[[], []]``) is int64:
    numpy makes it float64, but it holds no index that could be a float (an array given as
    float64 is not converted here, and stays refused)."""
    try:
        array = np.asarray(a)
    except ValueError:  # numpy: "setting an array element with a sequence ... inhomogeneous"
        raise ValueError(f"{op}: expected `{name}` to be a rectangular array of integers (got "
                         f"a ragged {type(a).__name__}: rows of different lengths)") from None
    return array.astype(np.int64) if array.size == 0 and array.dtype.kind == "f" else array


def index_array(op: str, name: str, a, dtype=None):
    """Validate an index argument: integral, 1-D, no NaN; returns a numpy/cupy array."""
    if isinstance(a, Tensor):
        a = a.array
    elif not hasattr(a, "dtype"):
        a = as_index_array(op, name, a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected `{name}` with an integer dtype (got {a.dtype})")
    if a.ndim != 1:
        raise ValueError(f"{op}: expected `{name}` to be 1-D (got shape {a.shape})")
    if not a.dtype.isnative:  # '>i8' from a file: the kernels read the machine's byte order
        a = a.astype(a.dtype.newbyteorder("="))
    return a if dtype is None else a.astype(dtype, copy=False)


def check_range(op: str, name: str, a, bound: int) -> None:
    if a.size and (int(a.min()) < 0 or int(a.max()) >= bound):
        lo, hi = int(a.min()), int(a.max())
        bad = lo if lo < 0 else hi
        raise ValueError(f"{op}: expected `{name}` in [0, {bound}) (got {bad})")


def check_shape(op: str, shape) -> tuple[int, int]:
    if (not isinstance(shape, tuple | list) or len(shape) != 2 or not all(
            isinstance(s, int | np.integer) and not isinstance(s, bool) and s >= 0
            for s in shape)):
        raise ValueError(f"{op}: expected `shape` to be two non-negative ints (got {shape!r})")
    if max(int(shape[0]), int(shape[1])) > INT64_MAX:  # e.g. uint64: int64 indices would wrap
        raise ValueError(f"{op}: expected `shape` dims below 2^63, which int64 indices can "
                         f"address (got {shape!r})")
    return int(shape[0]), int(shape[1])


def inferred_dim(op: str, name: str, largest: int) -> int:
    """``largest + 1``, the dimension a largest index implies; refused past int64."""
    if largest >= INT64_MAX:
        raise ValueError(f"{op}: expected `{name}` values below 2^63 - 1, which int64 indices "
                         f"can address (got {largest})")
    return largest + 1


def check_values_dtype(op: str, dtype) -> None:
    """The value dtypes every sparse kernel supports: bool, integers, float32 and float64."""
    if dtype.kind not in "fbiu":
        raise TypeError(f"{op}: expected real numeric `values` (got {dtype})")
    if dtype == np.float16:
        raise TypeError(f"{op}: float16 values are not supported by the sparse kernels; use "
                        "float32 (the default) or float64")


def check_values(op: str, values, nnz: int, device: str, dtype=None) -> Tensor:
    """``values`` for ``nnz`` stored entries on ``device`` as a Tensor ``(nnz, *dense_dims)``.

    None gives ones (float32 unless ``dtype``); an array-like is copied into a new Tensor; a
    Tensor is converted to ``dtype`` and moved to ``device`` (differentiably) when they differ.
    """
    if values is None:
        dt = backend.DEFAULT_FLOAT if dtype is None else backend.as_dtype(dtype)
        check_values_dtype(op, dt)  # here, naming `op`, not the SparseTensor built from them
        return wrap(backend.array_module(device).ones(nnz, dtype=dt))
    if not isinstance(values, Tensor):
        from sparsegraph.creation import tensor

        try:
            values = tensor(values, dtype=dtype, device=device)
        except TypeError as exc:  # "tensor: ..." names no argument of ours
            raise TypeError(f"{op}: `values`: {str(exc).removeprefix('tensor: ')}") from None
    else:
        if dtype is not None:
            values = values.to(dtype)
        if values.device != device:
            values = values.to(device)
    if values.ndim < 1 or values.shape[0] != nnz:
        raise ValueError(f"{op}: expected `values` with {nnz} entries, one per stored index "
                         f"(got shape {values.shape})")
    check_values_dtype(op, values.dtype)
    return values


def frozen(array):
    """A read-only view on the CPU; a GPU array is returned as it is (CuPy has no read-only
    arrays), so it must not be written."""
    if isinstance(array, np.ndarray):
        array = array.view()
        array.flags.writeable = False
    return array


def read_only(s, name: str, array):
    """A view of one of structure ``s``'s index arrays, made once: read-only on the CPU, and
    on a GPU the array itself, which must not be written (CuPy has no read-only flag, and a
    per-access copy would cost a copy per read). The structure is immutable and shared, and
    the kernels trust it."""
    return s._cached(("read_only", name), lambda: frozen(array))


# The index arrays structures hold and derive (indptr, indices, COO rows, permutations): never
# written once built, so an op keeping one for backward keeps it without a copy
# (`sparsegraph.ops._util.kept_array`). By id, with a weak reference telling a reused id apart.
_STRUCTURE_ARRAYS: dict[int, weakref.ref] = {}


def as_structure_arrays(value):
    """``value`` (an array, a Structure or a tuple of them), its arrays registered as a
    structure's (`is_structure_array`)."""
    if isinstance(value, tuple):
        for item in value:
            as_structure_arrays(item)
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        key = id(value)
        try:
            _STRUCTURE_ARRAYS[key] = weakref.ref(value, lambda _, key=key: _STRUCTURE_ARRAYS.pop(
                key, None))
        except TypeError:  # an array type without weak references: treated as the caller's
            pass
    return value


def is_structure_array(array) -> bool:
    """Whether ``array`` is one of a structure's index arrays, or a read-only view of one (what
    `SparseTensor.indptr` / ``.row`` / ``.col`` hand out): nothing writes it."""
    while True:
        ref = _STRUCTURE_ARRAYS.get(id(array))
        if ref is not None and ref() is array:
            return True
        base = getattr(array, "base", None)
        # (a base without flags, as_strided's, is no array of ours)
        if base is None or not hasattr(base, "flags") or getattr(array.flags, "writeable", True):
            return False
        array = base
