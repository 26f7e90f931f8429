"""Counting and locating (ops/counting.py): unique, bincount, searchsorted, bucketize. Values
as numpy's, torch's return conventions and dtypes, edge inputs (empty, ties), errors by name."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

RNG = np.random.default_rng(1)
INTS = RNG.integers(0, 6, size=20)


# ---- unique ---------------------------------------------------------------------------------
def test_unique_returns_a_tensor_alone_and_a_tuple_with_extras():
    t = sg.tensor(INTS.reshape(4, 5))
    values, inverse, counts = np.unique(INTS, return_inverse=True, return_counts=True)
    out = sg.unique(t)
    assert isinstance(out, sg.Tensor)
    np.testing.assert_array_equal(out.numpy(), values)
    u, inv = t.unique(return_inverse=True)
    np.testing.assert_array_equal(u.numpy(), values)
    assert inv.dtype == np.int64 and inv.shape == (4, 5)  # torch: the input's shape
    np.testing.assert_array_equal(inv.numpy(), inverse.reshape(4, 5))
    np.testing.assert_array_equal(u.numpy()[inv.numpy()], INTS.reshape(4, 5))
    u, c = sg.unique(t, return_counts=True)
    assert c.dtype == np.int64
    np.testing.assert_array_equal(c.numpy(), counts)
    assert len(sg.unique(t, True, True, True)) == 3


def test_unique_along_a_dim_keeps_distinct_slices():
    a = np.array([[1, 2], [0, 5], [1, 2], [0, 5], [3, 3]])
    u, inv, c = sg.unique(sg.tensor(a), return_inverse=True, return_counts=True, dim=0)
    np.testing.assert_array_equal(u.numpy(), [[0, 5], [1, 2], [3, 3]])
    np.testing.assert_array_equal(inv.numpy(), [1, 0, 1, 0, 2])
    np.testing.assert_array_equal(c.numpy(), [2, 2, 1])
    u = sg.unique(sg.tensor(a.T), dim=-1)
    np.testing.assert_array_equal(u.numpy(), [[0, 1, 3], [5, 2, 3]])


def test_unique_of_empty_and_scalar_inputs():
    u, inv, c = sg.unique(sg.zeros(0), return_inverse=True, return_counts=True)
    assert u.shape == (0,) and inv.shape == (0,) and c.shape == (0,)
    assert sg.unique(sg.tensor(2.5)).shape == (1,)
    assert sg.unique(sg.tensor([1.0, 1.0])).dtype == np.float32


def test_unique_errors():
    with pytest.raises(TypeError, match=r"unique: expected `return_inverse` to be a bool"):
        sg.unique(sg.ones(2), return_inverse=1)
    with pytest.raises(ValueError, match=r"unique: expected `dim` in \[-1, 0\] \(got 1\)"):
        sg.unique(sg.ones(2), dim=1)


# ---- bincount -------------------------------------------------------------------------------
def test_bincount_counts_as_numpy_in_int64():
    out = sg.tensor(INTS).bincount()
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), np.bincount(INTS))
    np.testing.assert_array_equal(sg.bincount(sg.tensor(INTS), minlength=10).numpy(),
                                  np.bincount(INTS, minlength=10))
    empty = sg.bincount(sg.tensor(np.zeros(0, np.int64)), minlength=3)
    assert empty.dtype == np.int64
    np.testing.assert_array_equal(empty.numpy(), [0, 0, 0])
    assert sg.bincount(sg.tensor(np.zeros(0, np.int64))).shape == (0,)


@pytest.mark.parametrize("wdtype, out_dtype", [
    (np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64),
    (np.float16, np.float64),
])
def test_bincount_weights_follow_torchs_dtype_rule(wdtype, out_dtype):
    w = RNG.integers(0, 4, size=INTS.size).astype(wdtype)
    out = sg.bincount(sg.tensor(INTS), sg.tensor(w))
    assert out.dtype == out_dtype
    np.testing.assert_allclose(out.numpy(), np.bincount(INTS, w.astype(np.float64)))


def test_bincount_is_differentiable_in_the_weights():
    w = sg.tensor(RNG.standard_normal(INTS.size), requires_grad=True)
    idx = sg.tensor(INTS)
    assert gradcheck(lambda v: sg.bincount(idx, v, minlength=8), [w])


@pytest.mark.parametrize("call, error, match", [
    (lambda: sg.bincount(sg.tensor([1.0, 2.0])), TypeError,
     r"bincount: expected an integer `input` \(got float32\)"),
    (lambda: sg.bincount(sg.tensor([[1, 2]])), ValueError,
     r"bincount: expected a 1-D `input` \(got shape \(1, 2\)\)"),
    (lambda: sg.bincount(sg.tensor([1, -2])), ValueError,
     r"bincount: expected non-negative values in `input` \(got min -2\)"),
    (lambda: sg.bincount(sg.tensor([1, 2]), minlength=-1), ValueError,
     r"bincount: expected `minlength` >= 0 \(got -1\)"),
    (lambda: sg.bincount(sg.tensor([1, 2]), sg.ones(3)), ValueError,
     r"bincount: expected `weights` of shape \(2,\) like `input` \(got \(3,\)\)"),
])
def test_bincount_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---- searchsorted / bucketize ---------------------------------------------------------------
SEQ = np.array([1.0, 2.0, 2.0, 2.0, 5.0, 7.0])
VALS = np.array([[0.0, 2.0, 5.0], [7.0, 8.0, 3.0]])


@pytest.mark.parametrize("right, side", [(False, None), (True, None), (False, "right"),
                                         (False, "left")])
def test_searchsorted_matches_numpy_on_ties(right, side):
    expected = np.searchsorted(SEQ, VALS, side=side or ("right" if right else "left"))
    out = sg.searchsorted(sg.tensor(SEQ), sg.tensor(VALS), right=right, side=side)
    assert out.dtype == np.int64 and out.shape == VALS.shape
    np.testing.assert_array_equal(out.numpy(), expected)


def test_searchsorted_scalar_batched_int32_and_empty():
    out = sg.searchsorted(sg.tensor(SEQ), 2.0)
    assert out.shape == () and int(out.item()) == 1
    seqs = np.sort(RNG.standard_normal((2, 3, 5)), axis=-1)
    vals = RNG.standard_normal((2, 3, 4))
    out = sg.searchsorted(sg.tensor(seqs), sg.tensor(vals), right=True)
    expected = np.stack([[np.searchsorted(s, v, side="right")
                          for s, v in zip(sr, vr, strict=True)]
                         for sr, vr in zip(seqs, vals, strict=True)])
    np.testing.assert_array_equal(out.numpy(), expected)
    assert sg.searchsorted(sg.tensor(SEQ), sg.tensor(VALS), out_int32=True).dtype == np.int32
    empty = sg.searchsorted(sg.zeros(0), sg.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(empty.numpy(), [0, 0])
    assert sg.searchsorted(sg.tensor(SEQ), sg.zeros(0)).shape == (0,)


@pytest.mark.parametrize("right", [False, True])
def test_bucketize_follows_torchs_interval_rule(right):
    # torch: right=False gives i with b[i-1] < x <= b[i]; right=True b[i-1] <= x < b[i]
    b = np.array([1.0, 3.0, 5.0, 7.0])
    x = np.array([[0.0, 1.0, 3.0], [4.0, 7.0, 9.0]])
    out = sg.bucketize(sg.tensor(x), sg.tensor(b), right=right)
    expected = [[0, 1, 2], [2, 4, 4]] if right else [[0, 0, 1], [2, 3, 4]]
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("call, error, match", [
    (lambda: sg.searchsorted(sg.tensor(SEQ), 1.0, right=True, side="left"), ValueError,
     r"searchsorted: `side`='left' contradicts `right`=True"),
    (lambda: sg.searchsorted(sg.tensor(SEQ), 1.0, side="middle"), ValueError,
     r"searchsorted: expected `side` in \('left', 'right'\) \(got 'middle'\)"),
    (lambda: sg.searchsorted(sg.ones(2, 3), sg.ones(3, 1)), ValueError,
     r"searchsorted: expected `values` of shape \(2,\) \+ \(k,\) to match the batch dims"),
    (lambda: sg.searchsorted(sg.tensor(1.0), 1.0), ValueError,
     r"searchsorted: expected a `sorted_sequence` with at least one dim"),
    (lambda: sg.searchsorted(sg.tensor(SEQ), "a"), TypeError,
     r"searchsorted: expected `values` to be a Tensor or a number \(got str\)"),
    (lambda: sg.bucketize(sg.ones(3), sg.ones(2, 2)), ValueError,
     r"bucketize: expected 1-D `boundaries` \(got shape \(2, 2\)\)"),
])
def test_searchsorted_bucketize_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_on_emulated_cuda_results_stay_on_the_device(emulated_cuda):
    from tests.cupy_emulation import DeviceArray, host

    t, w = sg.tensor(INTS).to("cuda"), sg.tensor(INTS * 0.5).to("cuda")
    seq, vals = sg.tensor(SEQ).to("cuda"), sg.tensor(VALS).to("cuda")
    outs = {
        "unique": (sg.unique(t, return_inverse=True, return_counts=True),
                   np.unique(INTS, return_inverse=True, return_counts=True)),
        "bincount": ((sg.bincount(t, minlength=9),), (np.bincount(INTS, minlength=9),)),
        "bincount_weights": ((sg.bincount(t, w),), (np.bincount(INTS, INTS * 0.5),)),
        "searchsorted": ((sg.searchsorted(seq, vals, right=True),),
                         (np.searchsorted(SEQ, VALS, side="right"),)),
        "bucketize": ((sg.bucketize(vals, seq),), (np.searchsorted(SEQ, VALS),)),
    }
    for name, (got, want) in outs.items():
        for g, e in zip(got, want, strict=True):
            assert isinstance(g.array, DeviceArray), f"{name}: the result left the device"
            np.testing.assert_array_equal(host(g), np.asarray(e).reshape(g.shape))


def test_searchsorted_of_empty_batched_values_is_empty():
    out = sg.searchsorted(sg.tensor([[1.0, 2.0], [3.0, 4.0]]), sg.tensor(np.zeros((2, 0))))
    assert out.shape == (2, 0) and out.dtype == np.int64
