"""sg.tensor refuses integers outside int64, as torch.tensor does ("Overflow when unpacking
long"), instead of wrapping them to negative int64 values; those that fit stay int64."""

import numpy as np
import pytest

import sparsegraph as sg

TOP = 2**63 - 1


@pytest.mark.parametrize("data", [
    [2**63], 2**63, [1, 2**63], [[1], [2**63]], [2**64], 2**64, [-2**63 - 1], [[0, 2**70]],
    np.array([2**64 - 1], np.uint64), np.array([0, 2**63], np.uint64), np.uint64(2**63),
])
def test_integers_beyond_int64_are_refused_not_wrapped(data):
    with pytest.raises(OverflowError, match=r"tensor: expected integers in the int64 range"):
        sg.tensor(data)


@pytest.mark.parametrize("data, expected", [
    ([TOP], [TOP]), ([-TOP - 1, 0], [-TOP - 1, 0]), (np.array([5, TOP], np.uint64), [5, TOP]),
    ([[1, 2], [3, TOP]], [[1, 2], [3, TOP]]),
])
def test_integers_that_fit_stay_exact_int64(data, expected):
    t = sg.tensor(data)
    assert t.dtype == np.int64 and t.numpy().tolist() == expected


def test_a_float_dtype_takes_large_integers_approximately():
    assert sg.tensor([2**63], dtype="float64").numpy().tolist() == [2.0**63]
    assert sg.tensor(np.array([2**64 - 1], np.uint64), dtype="float32").dtype == np.float32
    assert sg.tensor([1, 2.5]).dtype == np.float32  # a float in the list: floats, as before
