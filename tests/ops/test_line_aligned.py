"""Gathered operands start on a cache line (numba_util.line_aligned): the copy is made exactly
when rows of 32 / 64 / 128 bytes start mid-line, and every row-gathering numba kernel gives the
same bits wherever its operand happens to start."""

import numpy as np
import pytest

import sparsegraph.ops.sparse_kernels  # noqa: F401  (registers the kernels)
from sparsegraph.kernels import kernels
from sparsegraph.ops.sparse_kernels import numba_util
from sparsegraph.ops.sparse_kernels.numba_util import line_aligned

LINE = 64


def at_offset(a, offset):
    """A C-contiguous copy of ``a`` starting ``offset`` bytes past a cache line."""
    buf = np.empty(a.nbytes + 2 * LINE, dtype=np.uint8)
    start = -buf.ctypes.data % LINE + offset
    out = buf[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def numba_kernel(op):
    return {k.name: k.fn for k in kernels(op, "cpu", "csr")}["numba"]


@pytest.fixture
def any_size(monkeypatch):
    monkeypatch.setattr(numba_util, "SERIAL_BELOW", 0)  # small test arrays count as large


@pytest.mark.parametrize("row_floats", [8, 16, 32])
@pytest.mark.parametrize("offset", [16, 32, 48])
def test_rows_starting_mid_line_are_copied_onto_a_line(any_size, row_floats, offset):
    a = at_offset(np.arange(40 * row_floats, dtype=np.float32).reshape(40, row_floats), offset)
    out = line_aligned(a)
    row_bytes = 4 * row_floats
    if offset % min(row_bytes, LINE) == 0:  # 32-byte rows at 32: no row crosses a line
        assert out is a
    else:
        assert out is not a and out.ctypes.data % LINE == 0
        assert out.flags.c_contiguous and out.dtype == a.dtype
        np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("shape, offset", [
    ((40, 16), 0),  # already on a line
    ((40, 64), 16),  # 256-byte rows: the copy would cost what it saves
    ((40, 3), 16),  # 12-byte rows cross lines wherever the array starts
])
def test_other_arrays_are_left_as_they_are(any_size, shape, offset):
    a = at_offset(np.ones(shape, dtype=np.float32), offset)
    assert line_aligned(a) is a


def test_small_arrays_are_left_as_they_are():
    a = at_offset(np.ones((40, 16), dtype=np.float32), 16)
    assert a.size < numba_util.SERIAL_BELOW and line_aligned(a) is a


def structure(n, nnz, rng):
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(rng.integers(0, n, nnz), minlength=n), out=indptr[1:])
    return indptr, rng.integers(0, n, nnz).astype(np.int32)


def test_gathering_kernels_give_the_same_bits_wherever_the_operand_starts(any_size,
                                                                          monkeypatch):
    copied = []

    def spy(a):
        out = line_aligned(a)
        if out is not a:
            copied.append(out.ctypes.data % LINE)
        return out

    for module in ("numba_kernels", "numba_fused", "numba_segment"):
        monkeypatch.setattr(f"sparsegraph.ops.sparse_kernels.{module}.line_aligned", spy)
    rng = np.random.default_rng(0)
    n, nnz, f = 60, 400, 16
    indptr, indices = structure(n, nnz, rng)
    t_indptr, t_indices, perm = numba_kernel("csr_transpose")(indptr, indices, n)
    values = rng.standard_normal(nnz).astype(np.float32)
    x, g = (rng.standard_normal((n, f)).astype(np.float32) for _ in range(2))
    h = rng.standard_normal((n, 2, 8)).astype(np.float32)  # 2 heads of 8: 64-byte rows
    a_src, a_dst = (rng.standard_normal((n, 2)).astype(np.float32) for _ in range(2))
    rows = np.repeat(np.arange(n), np.diff(indptr)).astype(np.int32)
    _, alpha, positive = numba_kernel("gat_attention")(indptr, indices, rows, a_src, a_dst, h,
                                                       0.2, None, 1.0)
    calls = {  # op: (call with the gathered operand at `off`)
        "spmm": lambda off: numba_kernel("spmm")(indptr, indices, values, at_offset(x, off), n),
        "sddmm": lambda off: numba_kernel("sddmm")(indptr, indices, g, at_offset(x, off)),
        "csr_softmax_spmm": lambda off: numba_kernel("csr_softmax_spmm")(
            indptr, indices, values, at_offset(x, off)),
        "spmm_bias_act": lambda off: numba_kernel("spmm_bias_act")(
            indptr, indices, values, at_offset(x, off), n, np.ones(f, np.float32), True, None,
            0, 1.0),
        "spmm_backward": lambda off: numba_kernel("spmm_backward")(
            t_indptr, t_indices, perm, values, at_offset(g, off), x, True, True),
        "scatter_reduce": lambda off: numba_kernel("scatter_reduce")(
            indices, at_offset(x[rows], off), n, "sum"),
        "gat_attention": lambda off: numba_kernel("gat_attention")(
            indptr, indices, rows, a_src, a_dst, at_offset(h, off), 0.2, None, 1.0),
        "gat_attention_backward": lambda off: numba_kernel("gat_attention_backward")(
            indptr, indices, t_indptr, t_indices, perm, alpha.copy(), None, positive, 1.0, 0.2,
            at_offset(h, off), at_offset(h, off), True, True, True),
    }
    for op, call in calls.items():
        want = call(0)
        for off in (16, 32, 48):
            copied.clear()
            result = call(off)
            assert copied and not any(copied), f"{op} gathered rows starting mid-line"
            for got, ref in zip(*(r if isinstance(r, tuple) else (r,) for r in (result, want)),
                                strict=True):
                np.testing.assert_array_equal(got, ref, err_msg=f"{op} at offset {off}")


@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("a", [np.arange(300, dtype=np.float32),
                               np.arange(600, dtype=np.int64).reshape(20, 30),
                               np.arange(1200, dtype=np.float64).reshape(40, 30)[:, ::2]])
def test_parallel_copy_is_a_contiguous_copy(monkeypatch, small, a):
    if not small:
        monkeypatch.setattr(numba_util, "SERIAL_BELOW", 0)  # the numba threads' copy
    out = numba_util.parallel_copy(a)
    np.testing.assert_array_equal(out, a)
    assert out.dtype == a.dtype and out.flags.c_contiguous and not np.shares_memory(out, a)
    out[...] = 0  # its own memory: the source is untouched
    assert a.any()
