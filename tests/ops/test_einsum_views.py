"""einsum results and the operands' memory (ops/contraction.py): a diagonal (an index repeated
within the one operand) is a copy, so an in-place change of it leaves the operand alone and
gradients stay right; a transpose is a view autograd tracks, and an in-place change through it
reaches the operand's gradient (PyTorch's answer, not an error)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck

DIAGONALS = [("ii->i", (3, 3)), ("bii->bi", (2, 3, 3)), ("...ii->...i", (2, 3, 3)),
             ("iii->i", (3, 3, 3)), ("ijj->ij", (2, 3, 3)), ("ii", (3, 3))]


def _x(shape, seed=0, **kw):
    return sg.tensor(np.random.default_rng(seed).standard_normal(shape), dtype="float64", **kw)


@pytest.mark.parametrize("spec, shape", DIAGONALS)
def test_an_in_place_change_of_a_diagonal_leaves_the_operand_unchanged(spec, shape):
    h = _x(shape)
    before = h.numpy().copy()
    d = sg.einsum(spec, h)
    np.testing.assert_array_equal(d.numpy(), np.einsum(spec, before))
    d.mul_(10.0)
    np.testing.assert_array_equal(h.numpy(), before)
    np.testing.assert_array_equal(d.numpy(), 10.0 * np.einsum(spec, before))


@pytest.mark.parametrize("spec, shape", DIAGONALS)
def test_gradients_through_an_in_place_changed_diagonal_match_central_differences(spec, shape):
    def f(x):
        h = x * 1.0
        d = sg.einsum(spec, h)
        d.mul_(10.0)
        return (h * h).sum() + (d * d).sum()

    gradcheck(f, [_x(shape, requires_grad=True)])


def test_the_audits_diagonal_case_gives_the_copy_semantics_gradient():
    x = sg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64", requires_grad=True)
    h = x * 1.0
    sg.einsum("ii->i", h).mul_(10.0)
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.detach().numpy(), [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 4.0], [6.0, 8.0]])


def test_a_diagonal_of_a_leaf_that_requires_grad_can_change_without_touching_the_leaf():
    leaf = sg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    sg.einsum("ii->i", leaf).mul_(10.0)
    np.testing.assert_array_equal(leaf.detach().numpy(), [[1.0, 2.0], [3.0, 4.0]])


def test_an_in_place_change_through_a_transposing_einsum_reaches_the_gradient():
    """'ij->ji' is a view of h (numpy returns one; autograd tracks it): the in-place change is
    h's too, and the gradient includes it (einsum of one operand saves no values to be
    invalidated)."""
    def f(x):
        h = x * 1.0
        t = sg.einsum("ij->ji", h)
        t.mul_(2.0)
        return h * h

    x = _x((2, 3), requires_grad=True)
    h = x * 1.0
    sg.einsum("ij->ji", h).mul_(2.0)
    np.testing.assert_allclose(h.detach().numpy(), 2.0 * x.detach().numpy())
    gradcheck(f, [x])
    f(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 8.0 * x.detach().numpy(), rtol=1e-12)
