"""The scatter / segment family takes the index arrays users have: narrow or unsigned integer
types, another byte order (arrays read from files), bool sources to gather; numpy scalars as
probabilities; and says what is wrong in the caller's own terms."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close

KERNELS = ["generic", "numba"]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("dtype, n_segments", [(np.int8, 200), (np.int16, 40_000)])
def test_segment_gradient_with_a_narrow_indptr_reaches_the_right_segment(kernel, reduce, dtype,
                                                                         n_segments):
    ptr = np.zeros(n_segments + 1, dtype=dtype)
    ptr[-1] = 1  # one row, in the last segment: its id does not fit the indptr's dtype
    x = sg.tensor([1.0], dtype="float64", requires_grad=True)
    with sg.kernels.use(kernel):
        (ops.segment(x, ptr, reduce) * sg.tensor(np.arange(n_segments, dtype=np.float64))
         ).sum().backward()
    assert x.grad.tolist() == [n_segments - 1.0]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [">i8", ">i4", "<u8"])
def test_index_arrays_of_any_byte_order_or_unsigned_type(kernel, dtype):
    src = sg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    index = np.array([0, 2, 0], dtype=dtype)
    indptr = np.array([0, 1, 1, 3], dtype=dtype)
    with sg.kernels.use(kernel):
        assert ops.scatter(src, index, 3).tolist() == [4.0, 0.0, 2.0]
        out = ops.segment(src, indptr, "sum")
        assert out.tolist() == [1.0, 0.0, 5.0]
        (out * sg.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
        assert src.grad.tolist() == [1.0, 3.0, 3.0]
        soft = ops.segment_softmax(src.detach(), index=index, num_segments=3)
        assert_close(soft, [1 / (1 + np.e ** 2), 1.0, np.e ** 2 / (1 + np.e ** 2)])
        assert ops.gather_rows(src, index).tolist() == [1.0, 3.0, 1.0]


def test_uint64_ids_past_int64_are_refused_by_name():
    with pytest.raises(ValueError, match=r"scatter: expected `index` values below 2\^63"):
        ops.scatter(sg.tensor([1.0]), np.array([2**63], np.uint64), 3)


def test_a_big_endian_float64_array_stays_float64():
    v = np.array([0.1, 1 + 1e-10], dtype=">f8")
    t = sg.tensor(v)
    assert t.dtype == np.float64 and t.tolist() == [0.1, 1 + 1e-10]
    a = sg.sparse_coo([[0, 1], [1, 0]], v, (2, 2))
    assert a.dtype == np.float64 and a.values.tolist() == [0.1, 1 + 1e-10]


def test_gather_rows_of_a_bool_mask():
    mask = sg.tensor([True, False, True])
    assert ops.gather(mask, [2, 1, 0]).tolist() == [True, False, True]


def test_sparse_dropout_takes_numpy_scalars_like_dropout():
    a = sg.sparse_coo([[0, 1], [1, 0]], [1.0, 2.0], (2, 2))
    assert ops.sparse_dropout(a, np.int64(0)).values.tolist() == [1.0, 2.0]
    assert ops.sparse_dropout(a, np.float32(1.0)).values.tolist() == [0.0, 0.0]


def test_scatter_messages_name_the_callers_shape_and_size():
    with pytest.raises(ValueError, match=r"scatter: expected `index` with 4 entries to match "
                                         r"`src` of shape \(3, 4, 5\) along dim 1 \(got 2\)"):
        ops.scatter(sg.ones(3, 4, 5), [0, 1], 2, dim=1)
    with pytest.raises(ValueError, match=r"scatter: 4611686018427387904 output rows of 4 bytes "
                                         r"cannot be allocated; pass a smaller `dim_size`"):
        ops.scatter(sg.ones(2), [0, 1], 2**62)


@pytest.mark.parametrize("reduce", [np.array(["sum", "max"]), np.array("sum"), ["sum"], 0, None],
                         ids=["ndarray", "0d_ndarray", "list", "int", "none"])
@pytest.mark.parametrize("call", [
    lambda src, r: ops.scatter(src, [0, 1, 0], 2, r),
    lambda src, r: ops.scatter(src, [0, 1, 0], 2, r, dim=0),
    lambda src, r: ops.segment(src, [0, 2, 3], r),
], ids=["scatter", "scatter_dim", "segment"])
def test_a_non_str_reduce_is_a_type_error_naming_reduce(call, reduce):
    # not numpy's "truth value of an array is ambiguous" from `reduce in (...)`
    src = sg.tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"(scatter|segment): expected `reduce` to be a str in "
                                        r"\('sum', 'mean', 'max', 'min'\) \(got "):
        call(src, reduce)


def test_a_numpy_str_reduce_is_taken():
    src = sg.tensor([1.0, 2.0, 3.0])
    assert ops.scatter(src, [0, 1, 0], 2, np.str_("max")).tolist() == [3.0, 2.0]
    assert ops.segment(src, [0, 2, 3], np.array(["mean"])[0]).tolist() == [1.5, 3.0]
