"""Shared pieces of the numba kernels: balanced row blocks, a software prefetch, reshaping.

Gathering rows ``x[indices[e]]`` in random order is bound by memory latency, not bandwidth: the
next rows' addresses are known (``indices`` is read sequentially) but the hardware prefetchers
cannot guess them. `prefetch_row` asks for row ``indices[e + distance]`` a few entries ahead,
which roughly doubles spmm / sddmm throughput on graphs whose features do not fit in cache.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pathlib

import numba
import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic


def _use_user_cache_dir() -> None:
    """Keep numba's compiled kernels in the user cache dir, not beside the installed sources:
    pip does not know those files, so an upgrade or a switch to an editable install leaves a
    bare ``site-packages/sparsegraph/`` of cache files behind, which Python then imports as an
    empty namespace package. ``$NUMBA_CACHE_DIR`` still wins when set."""
    if numba.config.CACHE_DIR:
        return
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    path = pathlib.Path(base) / "sparsegraph" / "numba"
    try:  # an unwritable home keeps numba's own choice (it falls back on its own)
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    if os.access(path, os.W_OK):
        numba.config.CACHE_DIR = str(path)


_use_user_cache_dir()  # before any cache=True kernel below (and in the modules importing this)

JIT = dict(cache=True, fastmath=False)
# NOTE: below this many array elements a kernel runs on one numba thread. Waking the thread
# team costs tens of microseconds on a quiet machine and milliseconds on a loaded one (the
# team and OpenBLAS's threads then fight for the cores), far more than small graphs' work.
SERIAL_BELOW = 1 << 17
# blocks per thread: enough slack to even out rows of very different cost
_BLOCKS_PER_THREAD = 8
_CACHE_LINE = 64
# rows longer than this are prefetched into L2 rather than L1 (see `prefetch_row`)
L1_ROW_BYTES = 256
# NOTE: LLVM >= 17 has only opaque pointers, and the intrinsic's name mangles the pointer type
_PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info >= (17,) else "llvm.prefetch.p0i8"


def serial_when_small(fn):
    """Run ``fn`` with one numba thread when its array arguments hold few elements."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_thread_if_small(*args):
            return fn(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def one_thread_if_small(*arrays):
    """One numba thread inside the block when ``arrays`` (the inputs that measure the work;
    other arguments are ignored) hold fewer than `SERIAL_BELOW` elements."""
    prev = numba.get_num_threads()
    if prev == 1 or sum(a.size for a in arrays if isinstance(a, np.ndarray)) >= SERIAL_BELOW:
        yield
        return
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(prev)


# rows of these sizes (bytes) share lines with no other row when the array starts on a line
_SPLIT_ROW_BYTES = (32, _CACHE_LINE, 2 * _CACHE_LINE)


def line_aligned(a):
    """``a`` (C-contiguous), or a copy of it starting on a cache line when its rows are 32, 64
    or 128 bytes long and start mid-line - for the operand whose rows a kernel gathers in
    random order.

    A gathered row costs every cache line it touches: a 64-byte row (16 float32 features) that
    starts mid-line costs two. numpy aligns arrays to 16 bytes, so 3 in 4 of them start
    mid-line, and the same spmm ran at 7.3 or 10.4 ms depending on where ``x`` happened to be
    allocated. Forward spmm, arxiv-sized (169k rows, 2.3 M entries; benchmarks/RESULTS.md):
    F = 8 / 16 / 32 at a line 5.0 / 7.9 / 8.7 ms, mid-line 8.2 / 10.4 / 12.2-14.4 ms, the copy
    0.3 / 0.5 / 1.2 ms. From F = 64 (256-byte rows: 5 lines against 4) the copy costs as much
    as it saves, and small arrays stay in cache: both are left as they are.
    """
    row_bytes = a.strides[0] if a.ndim else 0
    if (row_bytes not in _SPLIT_ROW_BYTES or a.size < SERIAL_BELOW
            or a.ctypes.data % min(row_bytes, _CACHE_LINE) == 0):
        return a
    buf = np.empty(a.nbytes + _CACHE_LINE, dtype=np.uint8)
    start = -buf.ctypes.data % _CACHE_LINE
    out = buf[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    _copy(a.reshape(-1), out.reshape(-1))
    return out


def parallel_copy(a):
    """A C-contiguous copy of ``a`` written by every numba thread (numpy's copy runs on one:
    1.4 against 1.9 ms for a 10.8 MB operand plus 9.3 MB of values, arxiv F = 16)."""
    a = np.ascontiguousarray(a)
    if a.size < SERIAL_BELOW:
        return a.copy()
    out = np.empty_like(a)
    _copy(a.reshape(-1), out.reshape(-1))
    return out


@njit(parallel=True, **JIT)
def _copy(src, dst):
    for i in prange(src.shape[0]):
        dst[i] = src[i]


def _prefetch_intrinsic(locality: int):
    """An intrinsic ``(arr, row, offset)`` prefetching, for reading, the byte ``offset`` of
    ``arr[row]`` with LLVM's ``locality`` hint (3: into L1 and every level; 2: into L2)."""

    @intrinsic
    def prefetch(typingctx, arr, row, offset):
        if not isinstance(arr, types.Array):
            return None
        sig = types.void(arr, row, offset)

        def codegen(context, builder, signature, args):
            arr_t, row_t, off_t = signature.args
            array = context.make_array(arr_t)(context, builder, args[0])
            stride = cgutils.unpack_tuple(builder, array.strides, arr_t.ndim)[0]
            i = context.cast(builder, args[1], row_t, types.intp)
            off = context.cast(builder, args[2], off_t, types.intp)
            byte = builder.add(builder.mul(i, stride), off)
            i8p = ir.IntType(8).as_pointer()
            ptr = builder.gep(builder.bitcast(array.data, i8p), [byte])
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)
            builder.call(fn, [ptr, i32(0), i32(locality), i32(1)])  # read, data
            return context.get_dummy_value()

        return sig, codegen

    return prefetch


_prefetch_l1, _prefetch_l2 = _prefetch_intrinsic(3), _prefetch_intrinsic(2)


@njit(inline="always", **JIT)
def prefetch_row(arr, row, row_bytes):
    """Prefetch every cache line of ``arr[row]`` (a C-contiguous row of ``row_bytes``): into
    L1 for short rows, into L2 for rows longer than `L1_ROW_BYTES` - the L1 tracks too few
    misses for 8 such rows in flight (products' 400-byte rows: 12.2-12.9 GB/s into L2 against
    8.8-11.2 into L1; arxiv at F = 256: 18-19 against 12; at F = 64, L1 10 against 7)."""
    if row_bytes > L1_ROW_BYTES:
        for off in range(0, row_bytes, _CACHE_LINE):
            _prefetch_l2(arr, row, off)
    else:
        for off in range(0, row_bytes, _CACHE_LINE):
            _prefetch_l1(arr, row, off)


@njit(inline="always", **JIT)
def row_max(values, lo, hi, h):
    """Max of ``values[lo:hi, h]`` (``hi > lo``); NaN propagates, as in np.maximum."""
    m = values[lo, h]
    for e in range(lo + 1, hi):
        v = values[e, h]
        if v > m or v != v:
            m = v
    return m


def prefetch_distance(row_bytes: int) -> int:
    """Entries to look ahead: about 2 KiB in flight per thread into L1 (8 to 16 rows), 4 KiB
    into L2 (4 to 16 rows) - tuned on benchmarks/bench_spmm_kernels.py and a products-shaped
    matrix: shorter arrives late, longer evicts before use."""
    if row_bytes > L1_ROW_BYTES:
        return int(min(16, max(4, 4096 // row_bytes)))
    return int(min(16, max(8, 2048 // max(row_bytes, 1))))


@njit(**JIT)
def _row_blocks(indptr, n_blocks):
    n = indptr.shape[0] - 1
    total = indptr[n] + n
    bounds = np.empty(n_blocks + 1, dtype=np.int64)
    bounds[0] = 0
    lo = 0
    for b in range(1, n_blocks):
        target = total * b // n_blocks
        hi = n
        while lo < hi:  # first row r with indptr[r] + r >= target
            mid = (lo + hi) // 2
            if indptr[mid] + mid < target:
                lo = mid + 1
            else:
                hi = mid
        bounds[b] = lo
    bounds[n_blocks] = n
    return bounds


def row_blocks(indptr):
    """Row bounds splitting the rows into blocks of about equal (entries + rows) for ``prange``.

    Each block is processed in order by one thread, so results do not depend on the blocks.
    """
    n_blocks = max(1, min(indptr.shape[0] - 1, numba.get_num_threads() * _BLOCKS_PER_THREAD))
    return _row_blocks(indptr, n_blocks)


def merge_tail(a, lead: int):
    """View ``a`` with the axes after the first ``lead`` merged into one (sizes may be 0)."""
    return a.reshape(a.shape[:lead] + (int(np.prod(a.shape[lead:])),))
