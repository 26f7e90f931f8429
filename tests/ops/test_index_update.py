"""index_add / index_copy / index_fill and their in-place forms (ops/index_update.py): values
as numpy's add.at / assignment, float64 gradients, errors by name."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3))
IDX = np.array([2, 0, 2])  # a repeat: index_add sums it


def test_index_add_sums_repeated_indices_along_any_dim():
    src = RNG.standard_normal((3, 3))
    want = X.copy()
    np.add.at(want, IDX, 2.0 * src)
    np.testing.assert_allclose(sg.tensor(X).index_add(0, sg.tensor(IDX), sg.tensor(src),
                                                      alpha=2.0).numpy(), want)
    src1 = RNG.standard_normal((4, 3))
    want1 = X.copy()
    np.add.at(want1, (slice(None), IDX), src1)
    np.testing.assert_allclose(sg.index_add(sg.tensor(X), -1, IDX, sg.tensor(src1)).numpy(),
                               want1)
    x = sg.tensor(X.copy(), requires_grad=True)
    s = sg.tensor(src, requires_grad=True)
    assert gradcheck(lambda a, b: a.index_add(0, IDX, b, alpha=3.0), [x, s])


def test_in_place_forms_change_the_tensor():
    src = RNG.standard_normal((3, 3))
    t = sg.tensor(X.copy())
    assert t.index_add_(0, IDX, sg.tensor(src)) is t
    want = X.copy()
    np.add.at(want, IDX, src)
    np.testing.assert_allclose(t.numpy(), want)
    t = sg.tensor(X.copy())
    t.index_fill_(1, [0, 2], -1.0)
    assert (t.numpy()[:, [0, 2]] == -1.0).all() and (t.numpy()[:, 1] == X[:, 1]).all()
    t = sg.tensor(X.copy())
    t.index_copy_(0, [3, 1], sg.tensor(src[:2]))
    np.testing.assert_array_equal(t.numpy()[[3, 1]], src[:2])


def test_index_copy_and_fill_gradients():
    x = sg.tensor(X.copy(), requires_grad=True)
    s = sg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    assert gradcheck(lambda a, b: a.index_copy(0, [3, 1], b), [x, s])
    v = sg.tensor(np.array(0.5), requires_grad=True)
    assert gradcheck(lambda a, b: a.index_fill(0, [1, 2], b), [x, v])
    out = sg.tensor(X).index_fill(0, sg.tensor([-1]), 7.0)  # negative ids count from the end
    assert (out.numpy()[3] == 7.0).all()


@pytest.mark.parametrize("call, message", [
    (lambda x: x.index_add(0, [4], sg.ones(1, 3)), r"^index_add: expected `index` values in "
                                                   r"\[-4, 4\)"),
    (lambda x: x.index_add(0, [0, 1], sg.ones(3, 3, dtype="float64")),
     r"^index_add: expected `source` of shape \(2, 3\)"),
    (lambda x: x.index_copy(0, [[0]], sg.ones(1, 3)), r"^index_copy: expected `index` to be "
                                                      r"1-D"),
    (lambda x: x.index_fill(2, [0], 1.0), r"^index_fill: expected `dim` in \[-2, 1\]"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(sg.tensor(X))


def test_index_fill_keeps_the_dtype_and_refuses_a_value_that_is_not_0d():
    ints = sg.tensor(np.arange(6).reshape(2, 3))
    assert ints.index_fill(1, [0], 2.5).dtype == np.int64  # torch: self's dtype
    assert ints.clone().index_fill_(1, [0], 2.5).numpy()[:, 0].tolist() == [2, 2]
    assert sg.tensor([True, False]).index_fill(0, [1], 1).dtype == np.bool_
    with pytest.raises(ValueError, match=r"^index_fill: expected a number or a 0-d Tensor"):
        sg.tensor(X).index_fill(0, [0], sg.tensor([1.0, 2.0, 3.0]))


def test_index_fill_in_place_with_repeated_ids_sends_the_value_one_gradient_per_element():
    v = sg.tensor(np.float64(2.0), requires_grad=True)
    b = sg.tensor(np.zeros((2, 3)), requires_grad=True) * 1
    b.index_fill_(1, [0, 0, -3], v).sum().backward()
    assert v.grad.item() == 2.0  # two elements filled, not one per repeated id


def test_index_add_requires_source_of_the_input_dtype_and_an_int_alpha_for_ints():
    with pytest.raises(TypeError, match=r"^index_add: expected `source` of `input`'s dtype"):
        sg.tensor(X.astype(np.float32)).index_add(0, [1], sg.tensor(np.ones((1, 3))))
    ints = sg.tensor(np.arange(6).reshape(2, 3))
    with pytest.raises(TypeError, match=r"^index_add: expected an int `alpha`"):
        ints.index_add(0, [1], sg.tensor([[0, 1, 2]]), alpha=0.5)
    assert ints.index_add(0, [1], sg.tensor([[0, 1, 2]]), alpha=2).tolist() == [[0, 1, 2],
                                                                                [3, 6, 9]]


def test_index_fill_on_emulated_cuda_stays_on_the_device(emulated_cuda):
    from tests.cupy_emulation import DeviceArray

    x = sg.tensor(np.zeros((2, 3))).to("cuda")
    out = x.index_fill(1, [0], 2.0)
    assert isinstance(out.array, DeviceArray) and out.device == x.device
