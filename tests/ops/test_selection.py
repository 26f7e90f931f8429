"""Selection by pattern (ops/selection.py): repeat_interleave, masked_select, tril / triu,
diagonal, diag. Values as numpy's (torch's conventions where they differ), float64 gradients,
edge inputs (empty, zero counts, negative dims), errors by name."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3, 4))
M = RNG.standard_normal((3, 5))

CASES = {  # name: (call on a Tensor, numpy reference, input array)
    "repeat_interleave_int_flat": (lambda t: sg.repeat_interleave(t, 2),
                                   lambda a: np.repeat(a.reshape(-1), 2), A),
    "repeat_interleave_dim": (lambda t: t.repeat_interleave(sg.tensor([2, 0, 1]), dim=1),
                              lambda a: np.repeat(a, [2, 0, 1], axis=1), A),
    "repeat_interleave_neg_dim": (lambda t: t.repeat_interleave(3, dim=-1),
                                  lambda a: np.repeat(a, 3, axis=-1), A),
    "repeat_interleave_one_count": (lambda t: t.repeat_interleave(sg.tensor([2]), dim=0),
                                    lambda a: np.repeat(a, 2, axis=0), M),
    "repeat_interleave_zero": (lambda t: sg.repeat_interleave(t, 0, dim=0),
                               lambda a: a[:0], M),
    "masked_select": (lambda t: t.masked_select(sg.tensor(M > 0).to(t.device)),
                      lambda a: a[M > 0], M),
    "masked_select_broadcast_mask": (
        lambda t: sg.masked_select(t, sg.tensor([True, False, False, True]).to(t.device)),
        lambda a: a[:, :, [True, False, False, True]].reshape(-1), A),
    "masked_select_broadcast_input": (
        lambda t: sg.masked_select(t[0, 0], sg.tensor(A > 0).to(t.device)),
        lambda a: np.broadcast_to(a[0, 0], A.shape)[A > 0], A),
    "masked_select_none": (lambda t: t.masked_select(sg.tensor(M > 99).to(t.device)),
                           lambda a: a[M > 99], M),
    "tril": (lambda t: t.tril(), np.tril, M),
    "tril_batched_negative": (lambda t: sg.tril(t, -1), lambda a: np.tril(a, -1), A),
    "triu": (lambda t: t.triu(), np.triu, M),
    "triu_batched_positive": (lambda t: sg.triu(t, 2), lambda a: np.triu(a, 2), A),
    "triu_past_the_end": (lambda t: t.triu(9), lambda a: np.triu(a, 9), M),
    "diagonal": (lambda t: t.diagonal(), np.diagonal, M),
    "diagonal_offset": (lambda t: sg.diagonal(t, 2), lambda a: np.diagonal(a, 2), M),
    "diagonal_below": (lambda t: t.diagonal(-1), lambda a: np.diagonal(a, -1), M),
    "diagonal_empty": (lambda t: t.diagonal(7), lambda a: np.diagonal(a, 7), M),
    "diagonal_dims": (lambda t: t.diagonal(1, -1, 0), lambda a: np.diagonal(a, 1, -1, 0), A),
    "diagonal_swapped_dims": (lambda t: sg.diagonal(t, 0, 2, 1),
                              lambda a: np.diagonal(a, 0, 2, 1), A),
    "diag_of_matrix": (lambda t: t.diag(1), lambda a: np.diag(a, 1), M),
    "diag_of_vector": (lambda t: t[0].diag(), lambda a: np.diag(a[0]), M),
    "diag_of_vector_above": (lambda t: sg.diag(t[1], 2), lambda a: np.diag(a[1], 2), M),
    "diag_of_vector_below": (lambda t: t[2].diag(-1), lambda a: np.diag(a[2], -1), M),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients(name):
    call, reference, a = CASES[name]
    out = call(sg.tensor(a.copy()))
    expected = reference(a)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)
    x = sg.tensor(a.copy(), requires_grad=True)
    if out.numel():
        assert gradcheck(lambda v: call(v) * 1, [x])


def test_repeat_interleave_gradient_sums_the_copies():
    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    sg.repeat_interleave(x, sg.tensor([3, 0, 2])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 2.0])


def test_repeat_interleave_of_counts_alone_repeats_the_positions():
    out = sg.repeat_interleave(sg.tensor([2, 0, 3]))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), [0, 0, 2, 2, 2])


def test_repeat_interleave_keeps_dtype_and_flattens_a_scalar():
    out = sg.tensor(7).repeat_interleave(3)
    assert out.dtype == np.int64 and out.shape == (3,)
    np.testing.assert_array_equal(out.numpy(), [7, 7, 7])


def test_tril_triu_keep_bool_and_int_dtypes():
    b = sg.tensor(np.ones((3, 3), dtype=bool))
    assert b.tril().dtype == np.bool_
    np.testing.assert_array_equal(b.triu(1).numpy(), np.triu(np.ones((3, 3), bool), 1))
    i = sg.tensor(np.arange(9).reshape(3, 3))
    np.testing.assert_array_equal(sg.tril(i).numpy(), np.tril(np.arange(9).reshape(3, 3)))


def test_diag_of_an_empty_vector_is_a_zero_matrix_of_the_offset():
    out = sg.diag(sg.zeros(0), 2)
    assert out.shape == (2, 2) and not out.numpy().any()


def test_diagonal_is_a_copy():
    t = sg.tensor(M.copy())
    d = t.diagonal()
    d.array[...] = 0.0
    np.testing.assert_array_equal(t.numpy(), M)


@pytest.mark.parametrize("call, error, match", [
    (lambda: sg.repeat_interleave(sg.ones(3), sg.tensor([1, 2])), ValueError,
     r"repeat_interleave: expected `repeats` with 3 entries, the size of the flattened input "
     r"\(got 2\)"),
    (lambda: sg.repeat_interleave(sg.ones(2, 3), sg.tensor([1, 2]), dim=1), ValueError,
     r"repeat_interleave: expected `repeats` with 3 entries, the size of dim 1 \(got 2\)"),
    (lambda: sg.repeat_interleave(sg.ones(3), -1), ValueError,
     r"repeat_interleave: expected non-negative `repeats` \(got -1\)"),
    (lambda: sg.repeat_interleave(sg.ones(3), sg.tensor([1.0, 2.0, 1.0])), TypeError,
     r"repeat_interleave: expected an integer `repeats` \(got float32\)"),
    (lambda: sg.repeat_interleave(sg.ones(3), 1.5), TypeError,
     r"repeat_interleave: expected `repeats` to be an int or a 1-D integer Tensor"),
    (lambda: sg.repeat_interleave(sg.ones(3), 2, dim=1), ValueError,
     r"repeat_interleave: expected `dim` in \[-1, 0\] \(got 1\)"),
    (lambda: sg.masked_select(sg.ones(3), sg.tensor([1, 0, 1])), TypeError,
     r"masked_select: expected a bool `mask` \(got int64\)"),
    (lambda: sg.masked_select(sg.ones(3), sg.tensor([True, False])), ValueError,
     r"masked_select: `mask` of shape \(2,\) and `input` of shape \(3,\) do not broadcast"),
    (lambda: sg.tril(sg.ones(3)), ValueError,
     r"tril: expected a tensor with at least 2 dims \(got 1\)"),
    (lambda: sg.triu(sg.ones(2, 2), 1.0), TypeError, r"triu: expected an int `diagonal`"),
    (lambda: sg.diagonal(sg.ones(2, 2), 0, 1, -1), ValueError,
     r"diagonal: expected `dim1` and `dim2` to be different dims \(got 1 and -1\)"),
    (lambda: sg.diagonal(sg.ones(2, 2), 0, 0, 2), ValueError,
     r"diagonal: expected `dim` in \[-2, 1\] \(got 2\)"),
    (lambda: sg.diag(sg.ones(2, 2, 2)), ValueError,
     r"diag: expected a 1-D or 2-D tensor \(got 3 dims\)"),
])
def test_errors_name_the_op_and_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_on_emulated_cuda_results_and_gradients_stay_on_the_device(emulated_cuda):
    from tests.cupy_emulation import DeviceArray, host

    for name in sorted(CASES):
        call, reference, a = CASES[name]
        x = sg.tensor(a.copy()).to("cuda").requires_grad_(True)
        out = call(x)
        assert isinstance(out.array, DeviceArray), f"{name}: the result left the device"
        np.testing.assert_array_equal(host(out), reference(a))
        if out.numel():
            (out * 1).sum().backward()
            assert isinstance(x.grad.array, DeviceArray), f"{name}: the gradient left it"
    counts = sg.repeat_interleave(sg.tensor([1, 2]).to("cuda"))
    assert isinstance(counts.array, DeviceArray)
    np.testing.assert_array_equal(host(counts), [0, 1, 1])


def test_diag_of_an_empty_vector_stays_in_the_graph():
    v = sg.tensor(np.zeros(0), requires_grad=True)
    out = v.diag(1)
    assert out.requires_grad and out.shape == (1, 1)
    out.sum().backward()
    assert v.grad.shape == (0,)
