"""einsum (ops/contraction.py): numpy's values, float64 gradients for every operand (broadcast
and summed-away indices included), dtype, validation."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import gradcheck

CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("nhf,hf->nh", [(5, 2, 3), (2, 3)]),  # GAT's attention coefficients
    ("nh,nhf->hf", [(5, 2), (5, 2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij", [(2, 3)]),  # implicit output
    ("ij,jk", [(2, 3), (3, 4)]),
    ("ij,k->ik", [(2, 3), (4,)]),  # j only in the first operand: its gradient broadcasts
    ("...ij,jk->...ik", [(5, 2, 3), (3, 4)]),
    ("...ij,...jk", [(2, 1, 2, 3), (4, 3, 2)]),  # ellipses of different ranks broadcast
    ("nhf,nhf->nh", [(5, 2, 3), (1, 2, 3)]),  # a size-1 index broadcast against 5
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("b i j , b j k -> b i k", [(2, 3, 4), (2, 4, 5)]),  # spaces are ignored
]


def _operands(shapes, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    return [sg.tensor(rng.standard_normal(s), dtype=dtype, requires_grad=True) for s in shapes]


@pytest.mark.parametrize("spec, shapes", CASES)
def test_values_match_numpy_and_gradients_pass_gradcheck(spec, shapes):
    xs = _operands(shapes)
    out = ops.einsum(spec, *xs)
    np.testing.assert_allclose(out.detach().numpy(),
                               np.einsum(spec, *(x.detach().numpy() for x in xs)), rtol=1e-12)
    gradcheck(lambda *a: ops.einsum(spec, *a), xs)


def test_gradient_matches_the_mul_sum_composite_in_float32():
    h, att = _operands([(40, 4, 8), (4, 8)], dtype="float32", seed=1)
    g = sg.tensor(np.random.default_rng(2).standard_normal((40, 4)).astype(np.float32))
    out = ops.einsum("nhf,hf->nh", h, att)
    assert out.dtype == np.float32
    out.backward(g)
    gh, ga = h.grad.numpy(), att.grad.numpy()
    h.grad = att.grad = None
    (h * att.reshape(1, 4, 8)).sum(-1).backward(g)
    np.testing.assert_allclose(gh, h.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ga, att.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_only_operands_that_need_it_get_a_gradient():
    a = sg.tensor(np.ones((2, 3)), requires_grad=True)
    b = sg.tensor(np.ones((3, 4)))
    ops.einsum("ij,jk->ik", a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 3), 4.0))
    assert b.grad is None


@pytest.mark.parametrize("spec, shapes, match", [
    ("ij,jk->ik", [(2, 3)], r"names 2 operands \(got 1\)"),
    ("ij->i->j", [(2, 3)], r"at most one '->'"),
    ("i1,j->ij", [(2, 3), (3,)], r"expected letters"),
    ("ijk", [(2, 3)], r"does not fit operand 0 of shape \(2, 3\)"),
    ("ii->i", [(3, 2)], r"index 'i' repeats within operands\[0\] of shape \(3, 2\) with "
                        r"sizes 3 and 2"),
    ("ij->ik", [(2, 3)], r"output indices that are distinct and appear in an operand"),
    ("ij,jk->ik", [(2, 3), (4, 5)], r"index 'j' has size 3 in an earlier operand and 4"),
])
def test_bad_subscripts_raise_a_clear_value_error(spec, shapes, match):
    with pytest.raises(ValueError, match=match):
        ops.einsum(spec, *_operands(shapes))


def test_type_errors():
    with pytest.raises(TypeError, match=r"einsum: expected `operands\[1\]` to be a Tensor"):
        ops.einsum("i,i->", sg.ones(3), np.ones(3))
    with pytest.raises(TypeError, match=r"einsum: expected `subscripts` to be a str"):
        ops.einsum(3, sg.ones(3))
