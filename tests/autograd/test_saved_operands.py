"""What ops keep for backward and what in-place writes may do: binary ops save only what the
needed gradients read (an in-place change to anything else is no error), copy_ across dtypes,
and in-place writes into expanded (memory-sharing) tensors."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import gradcheck

A = np.array([1.0, 2.0])


def _leaf():
    return sg.tensor(A, dtype=sg.float64, requires_grad=True)


# (expression of y, whose value its gradient must not read; d(sum expr)/dy at y = A)
NOT_READ = [
    ("y * 3", lambda y: y * 3, np.full(2, 3.0)),
    ("3 * y", lambda y: 3 * y, np.full(2, 3.0)),
    ("y / 2", lambda y: y / 2, np.full(2, 0.5)),
    ("y * c", lambda y: y * sg.tensor([2.0, 5.0], dtype=sg.float64), np.array([2.0, 5.0])),
    ("y @ W", lambda y: ops.matmul(y.reshape(1, 2), sg.tensor(
        [[1.0, 2.0], [3.0, 4.0]], dtype=sg.float64)), np.array([3.0, 7.0])),
    ("v @ W (1-D)", lambda y: ops.matmul(y, sg.tensor(
        [[1.0, 2.0], [3.0, 4.0]], dtype=sg.float64)), np.array([3.0, 7.0])),
    ("W @ v (1-D)", lambda y: ops.matmul(sg.tensor(
        [[1.0, 2.0], [3.0, 4.0]], dtype=sg.float64), y), np.array([4.0, 6.0])),
]


@pytest.mark.parametrize("expr,fn,grad", NOT_READ, ids=[c[0] for c in NOT_READ])
def test_inplace_change_to_an_operand_no_gradient_reads_is_no_error(expr, fn, grad):
    """PyTorch saves only what the needed gradients read: ``z = y * 3; y.add_(1)`` is valid."""
    a = _leaf()
    y = a * 1
    z = fn(y)
    y.add_(1)  # y's value is read by no gradient of z
    z.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), grad)


@pytest.mark.parametrize("expr,fn", [
    ("y * w", lambda y, w: y * w),
    ("w / y", lambda y, w: w / y),
    ("y ** w", lambda y, w: y ** w),
    ("w ** y", lambda y, w: w ** y),
    ("y @ W", lambda y, w: ops.matmul(y.reshape(2, 1), w.reshape(1, 2))),
    ("maximum", lambda y, w: ops.maximum(y, w)),
], ids=["mul", "div", "pow-base", "pow-exponent", "matmul", "maximum"])
def test_inplace_change_to_an_operand_a_needed_gradient_reads_still_raises(expr, fn):
    a = _leaf()
    w = sg.tensor([1.5, 0.5], dtype=sg.float64, requires_grad=True)
    y = a * 1
    z = fn(y, w)
    y.add_(1)  # the gradient of w (or of y itself) reads y's old value
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()


@pytest.mark.parametrize("name,fn", [
    ("mul", ops.mul), ("div", ops.div), ("pow", ops.pow), ("maximum", ops.maximum),
    ("matmul-2d", lambda a, b: ops.matmul(a.reshape(2, 3), b.reshape(3, 2))),
    ("matmul-vec-mat", lambda a, b: ops.matmul(a[:3], b.reshape(3, 2))),
    ("matmul-mat-vec", lambda a, b: ops.matmul(a.reshape(2, 3), b[:3])),
    ("matmul-vec-vec", lambda a, b: ops.matmul(a, b)),
])
@pytest.mark.parametrize("which", [0, 1])
def test_gradient_of_one_operand_only_matches_finite_differences(name, fn, which):
    """With one operand constant, forward saves only what the other's gradient reads; the
    gradient must still be right (float64 central differences)."""
    rng = np.random.default_rng(1)
    xs = [sg.tensor(rng.uniform(0.5, 2.0, 6), dtype=sg.float64, requires_grad=i == which)
          for i in range(2)]
    assert gradcheck(fn, xs)


def test_nothing_is_saved_when_no_input_needs_a_gradient():
    """Under no_grad the forward keeps no operand alive."""
    from sparsegraph.autograd.function import Context
    from sparsegraph.ops.elementwise import FUNCTIONS
    from sparsegraph.ops.linalg import MatMul

    x, w = sg.ones(2, 2), sg.ones(2, 2)
    for cls in (FUNCTIONS["mul"], FUNCTIONS["div"], FUNCTIONS["pow"], MatMul):
        ctx = Context((False, False))
        cls.forward(ctx, x, w)
        assert ctx._saved == () and "_output" not in ctx.__dict__, cls.__name__
    ctx = Context((True, False))
    FUNCTIONS["mul"].forward(ctx, x, w)
    assert ctx._saved == (None, w)  # d/dx reads w only


def test_inplace_mul_keeps_its_operand_only_when_the_targets_gradient_reads_it():
    """``y.mul_(w)`` with y constant: w's gradient reads y's old values, not w."""
    w = sg.tensor([2.0, 3.0], dtype=sg.float64, requires_grad=True)
    u = w * 1
    y = sg.tensor([5.0, 7.0], dtype=sg.float64)
    y.mul_(u)
    u.add_(1)  # read by no gradient of y
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 7.0])
    y = (w * 1).mul_(u)  # now the target needs a gradient, which reads u
    u.add_(1)
    with pytest.raises(RuntimeError, match="MulInplaceBackward.*modified by an in-place"):
        y.sum().backward()


@pytest.mark.parametrize("op", ["mul_", "div_"])
def test_inplace_mul_div_by_itself_under_no_grad(op):
    y = sg.tensor([2.0, 4.0])
    with sg.no_grad():
        getattr(y, op)(y)
    np.testing.assert_array_equal(y.numpy(), [4.0, 16.0] if op == "mul_" else [1.0, 1.0])


# ---- copy_ across dtypes --------------------------------------------------------------------
def test_copy_from_another_dtype_gives_the_source_a_gradient_of_its_own_dtype():
    a = sg.tensor([1.0, 2.0], dtype=sg.float64, requires_grad=True)
    b = sg.tensor([3.0, 5.0], dtype=sg.float32, requires_grad=True)
    y = a * 1
    y.copy_(b)
    (y * sg.tensor([2.0, 7.0], dtype=sg.float64)).sum().backward()
    assert b.grad.dtype == np.float32
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 7.0])


def test_copy_from_another_dtype_with_broadcasting():
    b = sg.tensor([[3.0, 5.0]], dtype=sg.float64, requires_grad=True)
    y = sg.zeros(3, 2) * 1  # float32 target
    y.copy_(b)
    (y * sg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    assert b.grad.dtype == np.float64
    np.testing.assert_array_equal(b.grad.numpy(), [[9.0, 12.0]])


# ---- in-place writes into expanded tensors ----------------------------------------------------
@pytest.mark.parametrize("op,write", [
    ("add_", lambda t: t.add_(1)),
    ("add_", lambda t: t.sub_(1)),
    ("mul_", lambda t: t.mul_(2)),
    ("div_", lambda t: t.div_(2)),
    ("fill_", lambda t: t.fill_(0)),
    ("fill_", lambda t: t.zero_()),
    ("clamp_", lambda t: t.clamp_(min=0)),
    ("copy_", lambda t: t.copy_(sg.zeros(3, 2))),
    ("setitem", lambda t: t.__setitem__(0, 5.0)),
], ids=["add_", "sub_", "mul_", "div_", "fill_", "zero_", "clamp_", "copy_", "setitem"])
def test_inplace_write_into_an_expanded_tensor_names_the_op(op, write):
    base = sg.tensor([1.0, 2.0])
    t = base.expand(3, 2)
    with pytest.raises(RuntimeError, match=rf"^{op}: cannot write in place into a tensor of "
                       r"shape \(3, 2\) whose elements share memory .*expand.*\.clone\(\)"):
        write(t)
    np.testing.assert_array_equal(base.numpy(), [1.0, 2.0])  # nothing was written


def test_inplace_write_into_a_read_only_array_names_the_op():
    from sparsegraph.tensor import wrap

    a = np.arange(3.0)
    a.flags.writeable = False
    t = wrap(a)
    with pytest.raises(RuntimeError, match=r"^mul_: .*memory is read-only"):
        t.mul_(2)


def test_an_expand_that_repeats_nothing_is_a_writable_view():
    """Adding size-1 dims aliases no element: writing through it changes the base (PyTorch)."""
    base = sg.tensor([1.0, 2.0])
    base.expand(1, 2).add_(1)
    base.expand(2).mul_(2)
    np.testing.assert_array_equal(base.numpy(), [4.0, 6.0])
