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


# ---- unary ops: save the input, the output or nothing, as their gradient reads -------------------
from sparsegraph.ops.elementwise import UNARY, UNARY_READS  # noqa: E402

POSITIVE = np.array([0.5, 2.0])  # inside every unary op's domain (log, sqrt, rsqrt, ...)


def test_every_unary_op_says_what_its_gradient_reads():
    assert set(UNARY_READS) == set(UNARY)
    assert set(UNARY_READS.values()) <= {"", "x", "y"}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_saves_only_what_the_gradient_reads(name):
    from sparsegraph.autograd.function import Context
    from sparsegraph.ops.elementwise import FUNCTIONS

    x = sg.tensor(POSITIVE)
    ctx = Context((True,))
    FUNCTIONS[name].forward(ctx, x)
    reads = UNARY_READS[name]
    assert [t is x for t in ctx._saved] == ([True] if "x" in reads else [])
    assert ("_output" in ctx.__dict__) == ("y" in reads)
    ctx = Context((False,))  # no gradient needed: nothing kept
    FUNCTIONS[name].forward(ctx, x)
    assert ctx._saved == () and "_output" not in ctx.__dict__


def _expected_grad(name):
    a = sg.tensor(POSITIVE, dtype=sg.float64, requires_grad=True)
    getattr(ops, name)(a).sum().backward()
    return a.grad.numpy()


@pytest.mark.parametrize("changed", ["input", "output"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_inplace_change_raises_only_for_what_the_gradient_reads(name, changed):
    """``y = x.exp(); x.add_(1)`` is valid PyTorch (exp's backward reads y), as is
    ``y = x.log(); y.add_(1)`` (log's reads x); the message names what was read."""
    a = sg.tensor(POSITIVE, dtype=sg.float64, requires_grad=True)
    x = a * 1
    y = getattr(ops, name)(x)
    (x if changed == "input" else y).add_(1.0)
    read = ("x" if changed == "input" else "y") in UNARY_READS[name]
    if read:
        what = (r"saved tensor 0 of shape \(2,\)" if changed == "input" else
                "its output of shape .*, which backward reads,")
        with pytest.raises(RuntimeError, match=rf"^{name.capitalize()}Backward: {what} was "
                           "modified by an in-place operation"):
            y.sum().backward()
    else:
        y.sum().backward()  # the gradient at the values forward saw
        np.testing.assert_allclose(a.grad.numpy(), _expected_grad(name), rtol=1e-15)


def _entropy_of_large_probabilities(logits):
    """Entropy over the probabilities >= 0.1 (the ``logp[p == 0] = 0`` idiom, with a threshold
    no probability is near, so that the function is smooth around the test point)."""
    p = sg.softmax(logits, dim=1)
    logp = p.log()
    logp[p < 0.1] = 0.0
    return -(p * logp).sum()


def test_entropy_idiom_with_a_masked_log_gradchecks():
    logits = sg.tensor([[2.0, -3.0, 0.5], [0.1, 0.2, -4.0]], dtype=sg.float64,
                       requires_grad=True)
    assert gradcheck(_entropy_of_large_probabilities, [logits])
    p = np.exp(logits.detach().numpy())
    p /= p.sum(1, keepdims=True)
    value = _entropy_of_large_probabilities(logits).item()
    np.testing.assert_allclose(value, -(p * np.where(p < 0.1, 0, np.log(p))).sum())


def test_entropy_idiom_of_the_audit():
    logits = sg.tensor([[2.0, -1.0, 0.5]], requires_grad=True)
    p = sg.softmax(logits, dim=1)
    logp = p.log()
    logp[p < 1e-12] = 0.0
    (-(p * logp).sum()).backward()
    q = np.exp([2.0, -1.0, 0.5])
    q /= q.sum()
    h = -(q * np.log(q)).sum()
    np.testing.assert_allclose(logits.grad.numpy()[0], -q * (np.log(q) + h), rtol=1e-5)


# ---- a second backward through nodes that saved no tensors -----------------------------------
@pytest.mark.parametrize("expr,grad", [
    ("(x + 1).sum()", [2.0, 2.0]),
    ("(x * 2 - x / 4).sum()", [3.5, 3.5]),
    ("(-x).mean()", [-1.0, -1.0]),
    ("x.sum() * 3", [6.0, 6.0]),
    ("x[1:].sum()", [0.0, 2.0]),
    ("(x.reshape(1, 2).t() + 1).sum()", [2.0, 2.0]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_second_backward_through_nodes_that_saved_no_tensors_is_allowed(expr, grad):
    """As in PyTorch: AddBackward, SumBackward, NegBackward, MulBackward by a number, ... keep
    no tensors, so there is nothing freed to read."""
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    loss = eval(expr, {"sg": sg, "x": x})
    loss.backward()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), grad)
    (g,) = sg.autograd.grad(loss, [x])  # a third time, through the functional form
    np.testing.assert_allclose(g.numpy(), np.array(grad) / 2)


@pytest.mark.parametrize("expr,op", [
    ("x.exp().sum()", "ExpBackward"),  # reads its output
    ("x.log().sum()", "LogBackward"),  # reads its input
    ("(x * x).sum()", "MulBackward"),
    ("(x + 1).pow(2).sum()", "PowBackward"),
    ("(x * sg.tensor([1.0, 2.0])).sum()", "MulBackward"),  # a constant tensor is saved too
    ("sg.relu(x).sum()", "ReLUBackward"),  # an array kept as a ctx attribute (its mask)
])
def test_second_backward_through_freed_saved_tensors_still_raises(expr, op):
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    loss = eval(expr, {"sg": sg, "x": x})
    loss.backward()
    with pytest.raises(RuntimeError, match=rf"^{op}: trying to backward through the graph a "
                       r"second time .*retain_graph=True"):
        loss.backward()


def test_second_backward_of_a_custom_function_follows_pytorch():
    """Only what save_for_backward kept is freed; a Function's own attributes stay."""

    class Scale(sg.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.w = w  # an attribute, not saved: PyTorch keeps it
            return x * w

        @staticmethod
        def backward(ctx, g):
            return g * ctx.w, None

    class Saved(sg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 1

    x = sg.tensor([1.0, 2.0], requires_grad=True)
    loss = Scale.apply(x, sg.tensor([3.0, 5.0])).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 10.0])
    loss = Saved.apply(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="^SavedBackward: trying to backward through the "
                       "graph a second time"):
        loss.backward()
