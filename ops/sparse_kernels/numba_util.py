"""Shared pieces of the numba kernels: balanced row blocks, a software prefetch, reshaping.

Gathering rows ``x[indices[e]]`` in random order is bound by memory latency, not bandwidth: the
next rows' addresses are known (``indices`` is read sequentially) but the hardware prefetchers
cannot guess them. `prefetch_row` asks for row ``indices[e + distance]`` a few entries ahead,
which roughly doubles spmm / sddmm throughput on graphs whose features do not fit in cache.
"""

from __future__ import annotations

import contextlib
import functools

import numba
import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

JIT = dict(cache=True, fastmath=False)
# NOTE: below this many array elements a kernel runs on one numba thread. Waking the thread
# team costs tens of microseconds on a quiet machine and milliseconds on a loaded one (the
# team and OpenBLAS's threads then fight for the cores), far more than small graphs' work.
SERIAL_BELOW = 1 << 17
# blocks per thread: enough slack to even out rows of very different cost
_BLOCKS_PER_THREAD = 8
_CACHE_LINE = 64
# NOTE: LLVM >= 17 has only opaque pointers, and the intrinsic's name mangles the pointer type
_PREFETCH = "llvm.prefetch.p0" if _llvm.llvm_version_info >= (17,) else "llvm.prefetch.p0i8"


def serial_when_small(fn):
    """Run ``fn`` with one numba thread when its array arguments hold few elements."""

    @functools.wraps(fn)
    def wrapper(*args):
        with one_thread_if_small(*args):
            return fn(*args)

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


@intrinsic
def _prefetch(typingctx, arr, row, offset):
    """Prefetch (for reading, into all cache levels) the byte ``offset`` of ``arr[row]``."""
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
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return sig, codegen


@njit(inline="always", **JIT)
def prefetch_row(arr, row, row_bytes):
    """Prefetch every cache line of ``arr[row]`` (a C-contiguous row of ``row_bytes``)."""
    for off in range(0, row_bytes, _CACHE_LINE):
        _prefetch(arr, row, off)


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
    """Entries to look ahead: about 2 KiB in flight per thread, 8 to 16 rows (tuned on
    benchmarks/bench_spmm_kernels.py: shorter arrives late, longer evicts before use)."""
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
