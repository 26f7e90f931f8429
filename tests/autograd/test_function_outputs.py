"""Custom Functions with several outputs, as in PyTorch: the gradient of an output that does
not reach the loss is zeros (``ctx.set_materialize_grads(False)``: None), outputs marked
non-differentiable get no gradient, and inputs marked dirty take the call's history."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck


class SumAndProd(sg.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x + y, x * y

    @staticmethod
    def backward(ctx, g_sum, g_prod):
        x, y = ctx.saved_tensors
        return g_sum + g_prod * y, g_sum + g_prod * x


def _pair(dtype=sg.float32):
    return (sg.tensor([1.0, 2.0], dtype=dtype, requires_grad=True),
            sg.tensor([3.0, 4.0], dtype=dtype, requires_grad=True))


@pytest.mark.parametrize("used", [0, 1])
def test_the_gradient_of_an_unused_output_is_zeros(used):
    x, y = _pair()
    SumAndProd.apply(x, y)[used].sum().backward()
    if used == 1:
        np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
        np.testing.assert_array_equal(y.grad.numpy(), [1.0, 2.0])
    else:
        np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
        np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


@pytest.mark.parametrize("which", [0, 1])
def test_one_output_gradchecks(which):
    x, y = _pair(sg.float64)
    assert gradcheck(lambda a, b: SumAndProd.apply(a, b)[which], [x, y])


def test_materialized_zeros_have_each_outputs_shape_and_dtype():
    seen = []

    class Split(sg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.array[:2] * 1, (x.array[2:] * 1).astype(np.float64), (x.array > 0)

        @staticmethod
        def backward(ctx, g0, g1, g2):
            seen.extend((g0, g1, g2))
            return sg.cat([g0, g1.to(sg.float32)])

    x = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a, b, mask = Split.apply(x)
    assert not mask.requires_grad  # a bool output records no history
    a.sum().backward()
    assert [tuple(g.shape) for g in seen] == [(2,), (1,), (3,)]
    assert [g.dtype for g in seen] == [np.float32, np.float64, np.bool_]
    np.testing.assert_array_equal(seen[1].numpy(), [0.0])
    assert not seen[2].numpy().any()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 0.0])


def test_set_materialize_grads_false_passes_none():
    seen = []

    class Two(sg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g2, g3):
            seen.append((g2, g3))
            gx = sg.zeros_like(g2 if g2 is not None else g3)
            if g2 is not None:
                gx = gx + 2 * g2
            if g3 is not None:
                gx = gx + 3 * g3
            return gx

    x = sg.tensor([1.0, 2.0], requires_grad=True)
    Two.apply(x)[1].sum().backward()
    assert seen[0][0] is None and seen[0][1] is not None
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


class SortWithIndices(sg.Function):
    """Sorted values and the (float) permutation, marked non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        order = np.argsort(x.array, kind="stable")
        ctx.order = order
        idx = sg.tensor(order.astype(x.array.dtype))
        ctx.mark_non_differentiable(idx)
        return sg.tensor(x.array[order]), idx

    @staticmethod
    def backward(ctx, g, g_idx):
        ctx.seen = g_idx
        gx = np.zeros_like(g.array)
        gx[ctx.order] = g.array
        return gx


def test_mark_non_differentiable_output_requires_no_grad_and_gets_zeros():
    x = sg.tensor([3.0, 1.0, 2.0], dtype=sg.float64, requires_grad=True)
    values, idx = SortWithIndices.apply(x)
    assert values.requires_grad and values.grad_fn.name() == "SortWithIndicesBackward"
    assert not idx.requires_grad and idx.grad_fn is None and idx.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        idx.sum().backward()
    (values * sg.tensor([1.0, 10.0, 100.0], dtype=sg.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [100.0, 1.0, 10.0])
    ctx = values.grad_fn.ctx
    np.testing.assert_array_equal(ctx.seen.numpy(), [0.0, 0.0, 0.0])
    assert gradcheck(lambda t: SortWithIndices.apply(t)[0], [x])


def test_mark_non_differentiable_with_materialize_off_gives_none():
    class Marked(sg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            out, flag = x * 2, x * 0
            ctx.mark_non_differentiable(flag)
            return out, flag

        @staticmethod
        def backward(ctx, g, g_flag):
            assert g_flag is None
            return g * 2

    x = sg.tensor([1.0], requires_grad=True)
    out, flag = Marked.apply(x)
    assert not flag.requires_grad
    out.sum().backward()
    assert x.grad.tolist() == [2.0]


def test_mark_non_differentiable_wants_tensors():
    class Bad(sg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_non_differentiable(x.array)
            return x * 1

    with pytest.raises(TypeError, match="mark_non_differentiable: expected Tensors"):
        Bad.apply(sg.ones(1, requires_grad=True))


# ---- mark_dirty ------------------------------------------------------------------------------
class MulTwoInplace(sg.Function):
    @staticmethod
    def forward(ctx, x):
        x.array *= 2
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_mark_dirty_rebases_the_input_onto_the_call():
    a = sg.tensor([1.0, 2.0], dtype=sg.float64, requires_grad=True)
    y = a * 3
    version = y._version[0]
    out = MulTwoInplace.apply(y)
    assert out is y  # the changed input itself, as in PyTorch
    assert y.grad_fn.name() == "MulTwoInplaceBackward" and y._version[0] > version
    np.testing.assert_array_equal(y.detach().numpy(), [6.0, 12.0])
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [6.0, 6.0])
    assert gradcheck(lambda t: MulTwoInplace.apply(t * 1), [a])


def test_mark_dirty_bumps_the_version_so_an_earlier_saver_raises():
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    y = a * 1
    z = y * y  # saves y
    MulTwoInplace.apply(y)
    with pytest.raises(RuntimeError, match="MulBackward.*modified by an in-place operation"):
        z.sum().backward()


def test_mark_dirty_on_a_leaf_that_requires_grad_raises():
    a = sg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="MulTwoInplace: a leaf tensor that requires grad"):
        MulTwoInplace.apply(a)
    with sg.no_grad():
        MulTwoInplace.apply(a)  # allowed, as any in-place op on a leaf under no_grad
    assert a.is_leaf and a.grad_fn is None


def test_mark_dirty_through_a_view_reaches_the_base():
    a = sg.tensor([1.0, 2.0, 3.0], dtype=sg.float64, requires_grad=True)
    base = a * 1
    MulTwoInplace.apply(base[1:])
    np.testing.assert_array_equal(base.detach().numpy(), [1.0, 4.0, 6.0])
    (base * sg.tensor([1.0, 10.0, 100.0], dtype=sg.float64)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 20.0, 200.0])


def test_mark_dirty_without_returning_the_input_raises():
    class Forgot(sg.Function):
        @staticmethod
        def forward(ctx, x):
            x.array *= 2
            ctx.mark_dirty(x)
            return x * 1

    y = sg.tensor([1.0], requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="Forgot: an input marked dirty was not returned"):
        Forgot.apply(y)


def test_mark_dirty_with_a_saved_dirty_input():
    """The dirty input saved for backward is read at its new version: no error."""

    class Square(sg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.old = x.array.copy()
            x.array *= x.array
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors  # x ** 2 now
            return g * 2 * np.sqrt(x.array)

    a = sg.tensor([3.0], requires_grad=True)
    y = Square.apply(a * 1)
    y.sum().backward()
    assert a.grad.tolist() == [6.0]
