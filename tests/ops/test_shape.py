"""Shape ops (ops/shape.py): values against numpy, float64 gradient checks with negative dims,
views sharing memory and version counters, split's single multi-output node, error messages."""

import re

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import gradcheck


def r(*shape, seed=0, device="cpu"):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal(shape), dtype="float64", requires_grad=True,
                     device=device)


# (name, sparsegraph fn, numpy reference, input shape)
CASES = [
    ("reshape", lambda t: ops.reshape(t, (4, -1)), lambda a: a.reshape(4, -1), (2, 3, 4)),
    ("reshape-scalar", lambda t: ops.reshape(t, ()), lambda a: a.reshape(()), (1, 1)),
    ("view", lambda t: ops.view(t, (6, 4)), lambda a: a.reshape(6, 4), (2, 3, 4)),
    ("transpose-neg", lambda t: ops.transpose(t, -1, 0), lambda a: a.swapaxes(-1, 0), (2, 3, 4)),
    ("permute-neg", lambda t: ops.permute(t, (-1, 0, 1)), lambda a: a.transpose(2, 0, 1),
     (2, 3, 4)),
    ("T", lambda t: t.T, lambda a: a.T, (2, 3, 4)),
    ("flatten", lambda t: ops.flatten(t), lambda a: a.reshape(-1), (2, 3, 4)),
    ("flatten-mid", lambda t: ops.flatten(t, 1, -1), lambda a: a.reshape(2, -1), (2, 3, 4)),
    ("flatten-neg", lambda t: ops.flatten(t, -3, -2), lambda a: a.reshape(6, 4), (2, 3, 4)),
    ("squeeze-all", lambda t: ops.squeeze(t), lambda a: a.squeeze(), (1, 3, 1, 2)),
    ("squeeze-neg", lambda t: ops.squeeze(t, -2), lambda a: a.squeeze(-2), (1, 3, 1, 2)),
    ("squeeze-tuple", lambda t: ops.squeeze(t, (0, 2)), lambda a: a.squeeze((0, 2)),
     (1, 3, 1, 2)),
    ("squeeze-non1", lambda t: ops.squeeze(t, 1), lambda a: a, (1, 3, 1, 2)),
    ("unsqueeze-neg", lambda t: ops.unsqueeze(t, -1), lambda a: a[..., None], (2, 3)),
    ("unsqueeze-0", lambda t: ops.unsqueeze(t, 0), lambda a: a[None], (2, 3)),
    ("expand", lambda t: ops.expand(t, (4, -1, 3)), lambda a: np.broadcast_to(a, (4, 2, 3)),
     (2, 1)),
    ("expand-same", lambda t: ops.expand(t, (2, 3)), lambda a: a, (2, 3)),
    ("broadcast_to", lambda t: ops.broadcast_to(t, (3, 2, 5)),
     lambda a: np.broadcast_to(a, (3, 2, 5)), (1, 5)),
    ("flip", lambda t: ops.flip(t, (0, -1)), lambda a: a[::-1, :, ::-1], (2, 3, 4)),
    ("repeat", lambda t: ops.repeat(t, 2, 1, 3), lambda a: np.tile(a, (2, 1, 3)), (2, 3)),
    ("repeat-lead", lambda t: ops.repeat(t, (3, 2)), lambda a: np.tile(a, (3, 2)), (4,)),
]


@pytest.mark.parametrize("name, fn, ref, shape", CASES, ids=[c[0] for c in CASES])
def test_shape_op_values_and_gradcheck(name, fn, ref, shape):
    x = r(*shape, seed=len(name))
    out = fn(x)
    expected = ref(x.detach().numpy())
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    gradcheck(fn, [x])


@pytest.mark.parametrize("dim", [0, 1, -1, -3])
def test_cat_values_and_gradcheck(dim):
    shapes = [[2, 3, 4], [2, 3, 4], [2, 3, 4]]
    for i, s in enumerate(shapes):
        s[dim] = i + 1  # differing sizes along the cat dim
    xs = [r(*s, seed=i) for i, s in enumerate(shapes)]
    out = ops.cat(xs, dim)
    np.testing.assert_array_equal(out.detach().numpy(),
                                  np.concatenate([x.detach().numpy() for x in xs], dim))
    assert ops.concat is ops.cat
    gradcheck(lambda *ts: ops.cat(ts, dim), xs)


def test_cat_sends_each_input_its_own_slice():
    a, b = r(2, 3, seed=1), r(1, 3, seed=2)
    c = sg.tensor(np.ones((2, 3)))  # needs no grad: gets no gradient
    out = ops.cat([a, c, b])
    g = np.arange(15.0).reshape(5, 3)
    out.backward(sg.tensor(g))
    np.testing.assert_array_equal(a.grad.numpy(), g[:2])
    np.testing.assert_array_equal(b.grad.numpy(), g[4:])
    assert c.grad is None


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack_values_and_gradcheck(dim):
    xs = [r(2, 3, seed=i) for i in range(3)]
    out = ops.stack(xs, dim)
    np.testing.assert_array_equal(out.detach().numpy(),
                                  np.stack([x.detach().numpy() for x in xs], dim))
    gradcheck(lambda *ts: ops.stack(ts, dim), xs)


@pytest.mark.parametrize("split_size, dim, sizes", [
    (2, 0, [2, 2, 1]), (3, -1, [3, 1]), ([1, 0, 3], 1, [1, 0, 3]), (10, 0, [5]),
], ids=["int-uneven", "int-neg-dim", "sections-with-empty", "one-piece"])
def test_split_values_and_gradcheck(split_size, dim, sizes):
    x = r(5, 4, seed=3)
    pieces = ops.split(x, split_size, dim)
    assert isinstance(pieces, tuple) and [p.shape[dim] for p in pieces] == sizes
    ref = np.split(x.detach().numpy(), np.cumsum(sizes)[:-1], axis=dim)
    for p, e in zip(pieces, ref, strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), e)
    gradcheck(lambda t: ops.split(t, split_size, dim), [x])  # every piece at once


def test_split_is_one_node_and_piece_gradients_accumulate(device):
    x = r(4, 3, seed=9, device=device)
    a, b = x.split(2)  # the Tensor method's call site
    assert a.grad_fn is b.grad_fn
    (a.sum() + 2 * b.sum() + 3 * a[0].sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.repeat([[4.0], [1.0], [2.0], [2.0]], 3, 1))


def test_split_piece_without_gradient_gets_zeros():
    x = r(5, 2, seed=4)
    _, b, _ = ops.split(x, [1, 2, 2])
    (b * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [3, 3], [3, 3], [0, 0], [0, 0]])


@pytest.mark.parametrize("n, chunks, sizes", [(5, 3, [2, 2, 1]), (6, 3, [2, 2, 2]),
                                              (2, 4, [1, 1]), (0, 2, [0])])
def test_chunk_follows_pytorch_sizes(n, chunks, sizes):
    x = sg.zeros(n, 2)
    assert [p.shape[0] for p in ops.chunk(x, chunks)] == sizes


def test_chunk_gradcheck():
    gradcheck(lambda t: ops.chunk(t, 2, dim=-1), [r(3, 5, seed=5)])


def test_views_share_memory_and_version_counter():
    x = sg.tensor(np.arange(6.0))
    y = x.reshape(2, 3)
    z = y.T
    a, b = ops.split(x, 3)
    with sg.no_grad():
        z[0, 1] = 100.0  # writes through the view into x
    assert x.tolist()[3] == 100.0 and a.tolist() == [0.0, 1.0, 2.0] and b.tolist()[0] == 100.0
    assert x._version is y._version is z._version is a._version


def test_in_place_change_through_a_view_is_caught_in_backward():
    w = r(2, 3, seed=6)
    x = w * 1.0
    y = x * w  # saves x
    with sg.no_grad():
        x.reshape(-1)[0] = 5.0
    with pytest.raises(RuntimeError, match=r"MulBackward.*in-place"):
        y.sum().backward()


def test_tensor_method_call_sites():
    t = r(2, 3, 4, seed=7)
    a = t.detach().numpy()
    assert t.reshape(4, -1).shape == (4, 6) and t.reshape((4, 6)).shape == (4, 6)
    assert t.view(24).shape == (24,)
    assert t.permute(2, 0, 1).shape == (4, 2, 3) and t.permute((2, 0, 1)).shape == (4, 2, 3)
    np.testing.assert_array_equal(t.transpose(0, 1).detach().numpy(), a.swapaxes(0, 1))
    assert t.flatten().shape == (24,) and t.flatten(1).shape == (2, 12)
    assert t.unsqueeze(1).squeeze().shape == (2, 3, 4) and t.unsqueeze(0).squeeze(0).shape == (
        2, 3, 4)
    assert t[:, :1].expand(2, 5, 4).shape == (2, 5, 4)
    assert t[:, :1].expand((-1, 2, -1)).shape == (2, 2, 4)
    assert [p.shape for p in t.split(3, 2)] == [(2, 3, 3), (2, 3, 1)]
    x2 = r(2, 3)
    np.testing.assert_array_equal(x2.t().detach().numpy(), x2.detach().numpy().T)


def test_float32_dtype_is_kept_and_zero_dim_cases():
    x = sg.randn(2, 3)
    for out in (ops.reshape(x, -1), ops.cat([x, x]), ops.stack([x, x]), ops.split(x, 1)[0],
                ops.expand(x[:1], (4, 3)), ops.repeat(x, 2, 2), ops.flip(x, 0)):
        assert out.dtype == np.float32
    s = sg.tensor(2.0)
    assert ops.squeeze(s, 0).shape == () and ops.flatten(s).shape == (1,)
    assert ops.unsqueeze(s, -1).shape == (1,) and ops.transpose(s, 0, -1).shape == ()


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: ops.reshape(x, (5, -1)), ValueError,
     r"reshape: cannot reshape a tensor of shape \(2, 3, 4\) \(24 elements\) to \(5, -1\)"),
    (lambda x: ops.reshape(x, (7, 3)), ValueError, r"\(24 elements\) to \(7, 3\)"),
    (lambda x: ops.reshape(x, (-1, -1)), ValueError, r"to \(-1, -1\)"),
    (lambda x: ops.reshape(x, (-2, -12)), ValueError, r"to \(-2, -12\)"),
    (lambda x: ops.reshape(x, (2.5, 4)), TypeError, "reshape: expected a sequence of ints"),
    (lambda x: ops.permute(x, (0, 1)), ValueError, r"permute: expected a permutation of 3 dims"),
    (lambda x: ops.permute(x, (0, 1, 1)), ValueError, "permute: expected a permutation"),
    (lambda x: ops.transpose(x, 0, 3), ValueError, r"transpose: expected `dim` in \[-3, 2\]"),
    (lambda x: ops.flatten(x, 2, 0), ValueError, "flatten: expected start_dim <= end_dim"),
    (lambda x: ops.squeeze(x, 5), ValueError, r"squeeze: expected `dim` in \[-3, 2\]"),
    (lambda x: ops.unsqueeze(x, 4), ValueError, r"unsqueeze: expected `dim` in \[-4, 3\]"),
    (lambda x: ops.expand(x, (2, 5, 4)), ValueError,
     r"expand: cannot expand shape \(2, 3, 4\) to \(2, 5, 4\) at dim 1"),
    (lambda x: ops.expand(x, (3, 4)), ValueError, "expand: expected at least 3 sizes"),
    (lambda x: ops.expand(x, (-1, 2, 3, 4)), ValueError, "-1 is only allowed for existing"),
    (lambda x: ops.cat([x, x[:, :1, :2]], 1), ValueError,
     r"cat: expected tensors\[1\] of shape \(2, 1, 2\) to match \(2, 3, 4\) in every dim but 1"),
    (lambda x: ops.cat([x, x[0]]), ValueError, r"cat: expected tensors\[1\]"),
    (lambda x: ops.cat([]), ValueError, "cat: expected a non-empty sequence"),
    (lambda x: ops.cat(x), TypeError, "wrap it in a list"),
    (lambda x: ops.cat([x, [1.0]]), TypeError,  # numpy arrays are taken, lists are not
     r"cat: expected `tensors\[1\]` to be a Tensor"),
    (lambda x: ops.cat([sg.tensor(1.0), sg.tensor(2.0)]), ValueError,
     "zero-dimensional tensors cannot be concatenated"),
    (lambda x: ops.stack([x, x[:1]]), ValueError, r"stack: expected tensors\[1\] of shape"),
    (lambda x: ops.split(x, [1, 1], 1), ValueError,
     r"split: expected non-negative sections summing to 3 \(the size of dim 1\)"),
    (lambda x: ops.split(x, [4, -1], 1), ValueError, "non-negative sections"),
    (lambda x: ops.split(x, 0), ValueError, r"split: expected a positive split size \(got 0\)"),
    (lambda x: ops.chunk(x, 0), ValueError, r"chunk: expected a positive number of chunks"),
    (lambda x: ops.repeat(x, 2, 2), ValueError, "repeat: expected at least 3 non-negative"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(r(2, 3, 4))


def test_backward_from_several_outputs_of_one_node():
    # regression: the engine counted a node's edges once per root, so gradients from two
    # pieces of one split passed together as roots never reached the input
    from sparsegraph.autograd import grad

    x = r(4, seed=8)
    a, b = ops.split(x, 2)
    (gx,) = grad([a, b], [x], [sg.ones(2, dtype="float64"), sg.full((2,), 2.0, dtype="float64")])
    np.testing.assert_array_equal(gx.numpy(), [1, 1, 2, 2])


@pytest.mark.parametrize("make,shape", [
    (lambda x: x, (6, 4)),
    (lambda x: x, (-1,)),
    (lambda x: x[1:], (3, 4)),  # a slice along the first dim stays contiguous
    (lambda x: x.permute(0, 2, 1), (2, 4, 3)),  # only splitting / adding size-1 dims
    (lambda x: x.permute(0, 2, 1), (2, 2, 2, 1, 3)),
    (lambda x: x.transpose(0, 1), (3, 1, 2, 4)),
    (lambda x: x[:, ::2], (2, 2, 2, 2)),  # strided slice: its last dim stays whole
    (lambda x: x.unsqueeze(0).expand(2, 2, 3, 4), (2, 6, 4)),  # expanded dim kept whole
], ids=["contiguous", "flat", "row-slice", "permuted-split", "permuted-unit-dims",
        "transposed-kept", "strided-slice", "expanded-kept"])
def test_view_shares_memory_whenever_no_copy_is_needed(make, shape):
    x = sg.tensor(np.arange(24.0).reshape(2, 3, 4))
    src = make(x)
    v = src.view(shape)
    ref = src.numpy().reshape(shape)
    np.testing.assert_array_equal(v.numpy(), ref)
    assert np.shares_memory(v.array, x.array)
    assert v._version is x._version  # an in-place change through it is seen by backward


def test_write_through_a_view_reaches_the_tensor():
    x = sg.tensor(np.arange(6.0).reshape(2, 3))
    v = x.view(-1)
    v[0] = 100.0
    assert x.tolist()[0][0] == 100.0


@pytest.mark.parametrize("make,shape,strides", [
    (lambda x: x.t(), (-1,), "(1, 3)"),
    (lambda x: x.t(), (2, 3), "(1, 3)"),
    (lambda x: x[:, ::2], (4,), "(3, 2)"),
    (lambda x: x[:, 1:], (4,), "(3, 1)"),
    (lambda x: x[:1].expand(2, 3), (6,), "(0, 1)"),
], ids=["transposed-flat", "transposed-2d", "strided-slice", "column-slice", "expanded"])
def test_view_that_would_copy_raises_and_points_to_reshape(make, shape, strides):
    """PyTorch raises rather than silently handing back a copy that writes do not reach."""
    x = sg.tensor(np.arange(6.0).reshape(2, 3))
    src = make(x)
    with pytest.raises(RuntimeError, match=rf"^view: cannot view a tensor of shape "
                       rf"{re.escape(str(src.shape))} with strides {re.escape(strides)} .* "
                       r"without copying.*use reshape\(\)"):
        src.view(shape)
    np.testing.assert_array_equal(ops.reshape(src, shape).numpy(),
                                  src.numpy().reshape(shape))


def test_view_gradcheck_on_a_permuted_tensor():
    gradcheck(lambda t: t.permute(0, 2, 1).view(2, 2, 2, 3), [r(2, 3, 4, seed=9)])


def test_view_rejects_a_size_mismatch_by_its_own_name():
    with pytest.raises(ValueError, match=r"^view: cannot reshape a tensor of shape \(2, 3\) "
                       r"\(6 elements\) to \(4,\)"):
        sg.zeros(2, 3).view(4)


# ---- unbind (audit core3 #11) -------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind_matches_numpy_views_and_gradchecks(dim):
    x = r(2, 3, 4, seed=9)
    pieces = ops.unbind(x, dim)
    a = x.detach().numpy()
    assert len(pieces) == a.shape[dim]
    for i, p in enumerate(pieces):
        np.testing.assert_array_equal(p.detach().numpy(), np.take(a, i, axis=dim))
        assert np.shares_memory(p.array, x.array)
    gradcheck(lambda t: ops.unbind(t, dim), [x])
    assert [p.shape for p in x.unbind(dim)] == [p.shape for p in pieces]


def test_unbind_one_piece_used_gets_zeros_elsewhere_and_errors():
    x = r(3, 2, seed=10)
    ops.unbind(x)[1].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [1, 1], [0, 0]])
    assert ops.unbind(sg.zeros(0, 3)) == ()
    with pytest.raises(ValueError, match=r"unbind: expected a tensor with at least one dim"):
        ops.unbind(sg.tensor(1.0))
    with pytest.raises(ValueError, match=r"unbind: expected `dim` in \[-2, 1\] \(got 2\)"):
        ops.unbind(x, 2)
