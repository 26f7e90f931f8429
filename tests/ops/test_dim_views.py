"""torch's other names for views along dims (ops/dim_views.py): values as numpy's slicing /
moveaxis / reshape, memory shared with the input, float64 gradients, errors by name."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

A = np.arange(24.0).reshape(2, 3, 4)

CASES = {  # name: (call on a Tensor, numpy reference)
    "narrow": (lambda t: t.narrow(2, 1, 2), lambda a: a[:, :, 1:3]),
    "narrow_negative_start": (lambda t: sg.narrow(t, 1, -2, 2), lambda a: a[:, 1:3]),
    "narrow_empty": (lambda t: t.narrow(0, 2, 0), lambda a: a[2:2]),
    "select": (lambda t: t.select(1, -1), lambda a: a[:, -1]),
    "movedim": (lambda t: t.movedim(0, -1), lambda a: np.moveaxis(a, 0, -1)),
    "movedim_many": (lambda t: sg.movedim(t, (0, 1), (2, 0)),
                     lambda a: np.moveaxis(a, (0, 1), (2, 0))),
    "moveaxis": (lambda t: t.moveaxis(2, 0), lambda a: np.moveaxis(a, 2, 0)),
    "swapaxes": (lambda t: t.swapaxes(0, 2), lambda a: np.swapaxes(a, 0, 2)),
    "swapdims": (lambda t: sg.swapdims(t, -1, 1), lambda a: np.swapaxes(a, -1, 1)),
    "unflatten": (lambda t: t.unflatten(2, (2, -1)), lambda a: a.reshape(2, 3, 2, 2)),
    "mT": (lambda t: t.mT, lambda a: np.swapaxes(a, -2, -1)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_views_and_gradients(name):
    call, reference = CASES[name]
    t = sg.tensor(A.copy())
    out = call(t)
    np.testing.assert_array_equal(out.numpy(), reference(A))
    if out.numel():  # a view: writing the input shows through
        t.array[...] += 100.0
        np.testing.assert_array_equal(out.numpy(), reference(A + 100.0))
    x = sg.tensor(A.copy(), requires_grad=True)
    assert gradcheck(lambda v: call(v) * 1, [x])


@pytest.mark.parametrize("call, message", [
    (lambda t: t.narrow(2, 3, 2), r"^narrow: expected 0 <= length <= 1 from start 3"),
    (lambda t: t.narrow(2, 5, 0), r"^narrow: expected `start` in \[-4, 4\]"),
    (lambda t: t.narrow(2, 1.0, 1), r"^narrow: expected an int `start`"),
    (lambda t: t.select(0, 2), r"^select: expected `index` in \[-2, 2\) for dim 0 of size 2"),
    (lambda t: t.movedim((0, 1), 2), r"^movedim: expected `source` and `destination` of equal"),
    (lambda t: t.movedim((0, 0), (1, 2)), r"^movedim: expected distinct dims"),
    (lambda t: t.unflatten(2, (3, -1)), r"^unflatten: expected `sizes` whose product is 4"),
    (lambda t: t.unflatten(2, (-1, -1)), r"^unflatten: expected `sizes` whose product is 4"),
    (lambda t: sg.tensor(1.0).mT, r"^mT: expected a tensor with at least 2 dims"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(sg.tensor(A))


def test_unflatten_names_sizes_that_are_not_a_sequence():
    with pytest.raises(TypeError, match=r"^unflatten: expected `sizes` as a tuple or list"):
        sg.ones(2, 6).unflatten(1, 3)
