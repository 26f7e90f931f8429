"""Indexing (ops/index.py): getitem for every key kind against numpy in value and in gradient
(scatter-add over repeated indices), in-place setitem and the version-counter contract,
index_select / gather / take_along_dim / masked_fill / nonzero, errors, and property tests."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck


def r(*shape, seed=0, device="cpu"):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal(shape), dtype="float64", requires_grad=True,
                     device=device)


def scatter_reference(shape, key, g):
    out = np.zeros(shape)
    np.add.at(out, key, g)
    return out


MASK = np.array([True, False, True, True])
KEYS = {
    "int": 2,
    "neg-int": -1,
    "slice-step": slice(3, 0, -2),
    "ellipsis": (Ellipsis, 1),
    "newaxis": (None, slice(1, 3), None),
    "int-list-repeats": [0, 2, 2, 1, 0],
    "int-array-2d": np.array([[3, 0], [0, 0]]),
    "int-tensor": sg.tensor([1, 1, 3]),
    "bool-mask": MASK,
    "bool-tensor": sg.tensor(MASK),
    "bool-mask-full": np.arange(12).reshape(4, 3) % 5 == 0,
    "slice+array": (slice(None), np.array([2, 2, 0])),
    "array-pairs": (np.array([0, 3, 0]), np.array([1, 2, 1])),
    "array+int": (np.array([3, 3]), -1),
    "mask+array": (MASK, np.array([1, 1, 0])),
    "empty-list": [],
    "tensor-0d": sg.tensor(2),
}


def _np_key(key):
    if isinstance(key, tuple):
        return tuple(_np_key(k) for k in key)
    return key.numpy() if isinstance(key, sg.Tensor) else key


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_getitem_values_and_gradient(key):
    x = r(4, 3, seed=1)
    xn, kn = x.detach().numpy(), _np_key(key)
    out = x[key]
    np.testing.assert_array_equal(out.detach().numpy(), xn[kn])
    g = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(sg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), scatter_reference(xn.shape, kn, g))
    x.grad = None
    gradcheck(lambda t: t[key], [x])


def test_repeated_integer_indices_accumulate(device):
    x = r(3, 2, device=device)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 3], [0, 0], [1, 1]])
    x.grad = None
    x[sg.tensor([0, 0, 2, 0], device=device)].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 3], [0, 0], [1, 1]])


def test_basic_indexing_is_a_view_sharing_the_version_counter():
    x = sg.tensor(np.arange(6.0).reshape(2, 3))
    row = x[1]
    col = x[:, 1:]
    assert row._version is x._version is col._version
    with sg.no_grad():
        row[0] = -1.0
    assert x.tolist()[1][0] == -1.0 and x._version[0] == 1
    fancy = x[[0, 1]]  # advanced indexing copies: its own counter
    assert fancy._version is not x._version


# ---- setitem ---------------------------------------------------------------------------------
SET_CASES = {
    "slice-block": ((slice(1, 3),), (2, 3)),
    "slice-broadcast-row": ((slice(1, 3),), (3,)),
    "int-scalar-value": ((0, 1), ()),
    "int-array": ((np.array([3, 0]),), (2, 3)),
    "bool-mask": ((np.array([True, False, False, True]),), (1, 3)),
    "leading-ones": ((0,), (1, 3)),
    "column": ((Ellipsis, -1), (4,)),
}


@pytest.mark.parametrize("key, vshape", SET_CASES.values(), ids=SET_CASES.keys())
def test_setitem_gradcheck_for_target_and_value(key, vshape):
    def f(x, v):
        y = x * 1.0  # setitem on a non-leaf
        y[key] = v
        return y * y

    x, v = r(4, 3, seed=3), r(*vshape, seed=4)
    gradcheck(f, [x, v])
    out = f(x, v)
    xn, vn = x.detach().numpy(), v.detach().numpy()
    expected = xn.copy()
    expected[key] = vn
    assert_close(out, expected * expected)


def test_setitem_gradients_are_zero_at_written_positions():
    x, v = r(3, 2), r(2)
    y = x.clone()
    y[1] = v
    y.backward(sg.ones(3, 2, dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1], [0, 0], [1, 1]])
    np.testing.assert_array_equal(v.grad.numpy(), [1, 1])


def test_setitem_of_value_requiring_grad_into_plain_tensor_records_the_graph():
    v = r(2)
    y = sg.zeros(4, dtype="float64")
    y[sg.tensor([0, 3])] = v
    assert y.requires_grad and y.grad_fn is not None
    (y * sg.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64")).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [1.0, 4.0])


def test_setitem_casts_the_value_and_accepts_lists_and_arrays():
    x = sg.zeros(2, 3)
    x[0] = sg.tensor([1.0, 2.0, 3.0], dtype="float64")
    x[1] = [4, 5, 6]
    x[:, 0] = np.array([7.5, 8.5])
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), [[7.5, 2, 3], [8.5, 5, 6]])


def test_setitem_bumps_the_version_so_a_saved_input_raises():
    a, b = r(3, seed=5), r(3, seed=6)
    y = a * b  # Mul saves both inputs
    with sg.no_grad():
        a[0] = 5.0
    assert a._version[0] == 1
    with pytest.raises(RuntimeError, match=r"MulBackward.*modified by an in-place operation"):
        y.sum().backward()


def test_setitem_on_a_leaf_that_requires_grad_raises_in_grad_mode_only():
    w = r(3)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w[0] = 1.0
    with sg.no_grad():
        w[0] = 1.0
    assert w.detach().numpy()[0] == 1.0 and w.grad_fn is None


def test_setitem_inside_a_custom_backward():
    class MyReLU(sg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            gx = g.clone()
            gx[x < 0] = 0  # the reference texts' custom ReLU
            return gx

    x = r(5, 4, seed=7)
    MyReLU.apply(x).backward(sg.ones(5, 4, dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), (x.detach().numpy() >= 0).astype(float))


# ---- index_select / gather / take_along_dim / masked_fill / nonzero --------------------------
@pytest.mark.parametrize("dim", [0, 1, -1, -3])
def test_index_select(dim):
    x = r(3, 4, 5, seed=8)
    idx = np.array([2, 0, 2, 1])
    out = ops.index_select(x, dim, idx)
    np.testing.assert_array_equal(out.detach().numpy(), np.take(x.detach().numpy(), idx, dim))
    gradcheck(lambda t: ops.index_select(t, dim, idx), [x])
    out.backward(sg.ones(out.shape, dtype="float64"))
    counts = np.bincount(idx, minlength=x.shape[dim]).astype(float)
    shape = [1] * 3
    shape[dim] = -1
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(counts.reshape(shape),
                                                                  x.shape))


def test_index_select_accepts_lists_and_tensors():
    x = r(4, 2)
    a = ops.index_select(x, 0, [3, 1])
    b = x.index_select(0, sg.tensor([3, 1]))
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert ops.index_select(x, 0, []).shape == (0, 2)


def gather_reference(x, dim, index):
    out = np.empty(index.shape)
    for pos in np.ndindex(*index.shape):
        src = list(pos)
        src[dim] = index[pos]
        out[pos] = x[tuple(src)]
    return out


@pytest.mark.parametrize("dim, index", [
    (0, np.array([[0, 1, 1], [3, 2, 0]])),
    (1, np.array([[2, 2], [0, 1], [1, 1], [0, 0]])),
    (-1, np.array([[2], [0], [1]])),  # smaller than input outside dim: PyTorch's rule
    (0, np.array([[3, 3, 3, 0]]).T[:1, :1]),
], ids=["dim0", "dim1", "dim-1-smaller", "single"])
def test_gather(dim, index):
    x = r(4, 3, seed=9)
    out = ops.gather(x, dim, index)
    np.testing.assert_array_equal(out.detach().numpy(),
                                  gather_reference(x.detach().numpy(), dim % 2, index))
    assert x.gather(dim, sg.tensor(index)).shape == index.shape
    gradcheck(lambda t: ops.gather(t, dim, index), [x])


def test_take_along_dim_matches_numpy():
    x = r(3, 4, seed=10)
    xn = x.detach().numpy()
    idx = np.argsort(xn, axis=1)[:, ::-1].copy()
    assert_close(ops.take_along_dim(x, idx, 1), np.take_along_axis(xn, idx, 1))
    col = np.array([[1], [0], [3]])
    assert_close(ops.take_along_dim(x, col, -1), np.take_along_axis(xn, col, -1))
    row = np.array([[0, 2, 2, 1]])  # broadcasts over dim 0's other dims
    assert_close(ops.take_along_dim(x, row, 0), np.take_along_axis(xn, row, 0))
    flat = np.array([11, 0, 5])
    assert_close(ops.take_along_dim(x, flat), np.take_along_axis(xn.reshape(-1), flat, 0))
    gradcheck(lambda t: ops.take_along_dim(t, idx, 1), [x])
    gradcheck(lambda t: ops.take_along_dim(t, flat), [x])
    y = r(1, 4, seed=11)  # input broadcast against the indices: gradients sum
    gradcheck(lambda t: ops.take_along_dim(t, np.array([[0], [3], [3]]), 1), [y])


def test_masked_fill():
    x = r(3, 4, seed=12)
    mask = np.array([True, False, False, True])  # broadcast over rows
    out = ops.masked_fill(x, sg.tensor(mask), -np.inf)
    expected = np.where(mask, -np.inf, x.detach().numpy())
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    gradcheck(lambda t: ops.masked_fill(t, mask, 0.5), [x])
    v = sg.tensor(2.0, dtype="float64", requires_grad=True)
    gradcheck(lambda t, val: ops.masked_fill(t, mask, val), [x, v])
    ops.masked_fill(x, mask, v).sum().backward()
    assert v.grad.item() == 6.0  # 3 rows x 2 masked columns
    f32 = sg.randn(2, 2)
    assert x.masked_fill([[True], [False], [True]], 1).dtype == np.float64
    assert ops.masked_fill(f32, f32 > 0, 0.5).dtype == np.float32


def test_nonzero():
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    x = sg.tensor(a)
    np.testing.assert_array_equal(ops.nonzero(x).numpy(), np.argwhere(a))
    assert ops.nonzero(x).dtype == np.int64
    rows, cols = ops.nonzero(x, as_tuple=True)
    np.testing.assert_array_equal(rows.numpy(), np.nonzero(a)[0])
    np.testing.assert_array_equal(cols.numpy(), np.nonzero(a)[1])
    assert ops.nonzero(sg.tensor(3.0)).shape == (1, 0)
    assert ops.nonzero(sg.tensor(0.0)).shape == (0, 0)


# ---- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, match", [
    (lambda x: x[np.array([0.0, 1.0])], TypeError,
     r"getitem: expected integer or boolean index arrays \(got float64\)"),
    (lambda x: x[1.0], TypeError, "getitem: expected integer, slice or boolean indices"),
    (lambda x: x[sg.tensor([0.5])], TypeError, "getitem: expected integer or boolean"),
    (lambda x: x[5], IndexError, r"getitem: .*out of bounds.*\(tensor of shape \(5, 3\)\)"),
    (lambda x: x[[0, 7]], IndexError, "getitem: .*out of bounds"),
    (lambda x: x[0, 0, 0], IndexError, "getitem: too many indices"),
    (lambda x: x.__setitem__(np.array([0.5]), 1.0), TypeError, "setitem: expected integer"),
    (lambda x: x.detach().__setitem__(slice(0, 2), sg.zeros(3, 2)), ValueError,
     r"setitem: expected `value` of shape \(3, 2\) to broadcast to the indexed shape "
     r"\(2, 3\)"),
    (lambda x: ops.index_select(x, 0, np.array([1, 7])), ValueError,
     r"index_select: expected indices in \[0, 5\) for dim 0 of size 5 \(got max 7\)"),
    (lambda x: ops.index_select(x, 1, [-1]), ValueError,
     r"index_select: expected indices in \[0, 3\) for dim 1 of size 3 \(got min -1\)"),
    (lambda x: ops.index_select(x, 0, np.array([1.0])), TypeError,
     r"index_select: expected an integer `index` \(got float64\)"),
    (lambda x: ops.index_select(x, 0, np.array([[1]])), ValueError,
     r"index_select: expected a 1-D `index` \(got shape \(1, 1\)\)"),
    (lambda x: ops.index_select(x, 2, [0]), ValueError, r"index_select: expected `dim` in"),
    (lambda x: ops.gather(x, 1, np.array([[3]])), ValueError,
     r"gather: expected indices in \[0, 3\) for dim 1 of size 3 \(got max 3\)"),
    (lambda x: ops.gather(x, 0, np.array([0])), ValueError,
     "gather: expected `index` with 2 dims like `input` \\(got shape \\(1,\\)\\)"),
    (lambda x: ops.gather(x, 0, np.zeros((2, 4), int)), ValueError,
     r"gather: expected `index` of shape \(2, 4\) to be no larger than `input`"),
    (lambda x: ops.take_along_dim(x, np.zeros((2, 2), int), 0), ValueError,
     "take_along_dim: `indices` of shape \\(2, 2\\) and `input` of shape \\(5, 3\\) do not"),
    (lambda x: ops.masked_fill(x, np.ones((5, 3)), 0.0), TypeError,
     r"masked_fill: expected a bool `mask` \(got float64\)"),
    (lambda x: ops.masked_fill(x, np.ones((2, 3), bool), 0.0), ValueError,
     r"masked_fill: expected `mask` of shape \(2, 3\) to broadcast"),
    (lambda x: ops.masked_fill(x, np.ones(3, bool), sg.zeros(3)), TypeError,
     "masked_fill: expected `value` to be a number or a 0-d Tensor"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(r(5, 3))


# ---- properties ------------------------------------------------------------------------------
@st.composite
def array_and_key(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    kind = draw(st.sampled_from(["basic", "int", "int-2d", "bool", "bool-full", "mixed",
                                 "int-pairs"]))
    ints = lambda n, size: hnp.arrays(np.int64, size, elements=st.integers(-n, n - 1))
    if kind == "basic":
        key = draw(hnp.basic_indices(shape, allow_newaxis=True))
    elif kind == "int":  # 1-D, repeats likely
        key = draw(ints(shape[0], draw(st.integers(0, 8))))
    elif kind == "int-2d":
        key = draw(ints(shape[0], (2, draw(st.integers(1, 3)))))
    elif kind == "bool":
        key = draw(hnp.arrays(np.bool_, shape[:1]))
    elif kind == "bool-full":
        key = draw(hnp.arrays(np.bool_, shape))
    elif kind == "mixed" and len(shape) > 1:
        key = (slice(None, None, draw(st.sampled_from([1, -1, 2]))),
               draw(ints(shape[1], draw(st.integers(1, 5)))))
    else:
        n = draw(st.integers(1, 5))
        key = tuple(draw(ints(s, n)) for s in shape)
    return shape, key


@settings(max_examples=50, deadline=None)
@given(array_and_key(), st.integers(0, 2**32 - 1))
def test_getitem_property_matches_numpy_and_add_at(shape_key, seed):
    shape, key = shape_key
    rng = np.random.default_rng(seed)
    xn = rng.standard_normal(shape)
    x = sg.tensor(xn, requires_grad=True)
    out = x[key]
    np.testing.assert_array_equal(out.detach().numpy(), xn[key])
    g = rng.standard_normal(out.shape)
    out.backward(sg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), scatter_reference(shape, key, g))


def test_gather_with_two_arguments_gathers_rows():
    x = sg.randn(4, 3, dtype="float64", requires_grad=True)
    idx = [2, 0, 2]
    np.testing.assert_array_equal(ops.gather(x, idx).detach().numpy(), x.detach().numpy()[idx])
    ops.gather(x, sg.tensor(idx)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], [1.0, 0.0, 2.0, 0.0])
    torch_style = ops.gather(x, 1, sg.tensor([[0], [2], [1], [0]]))
    assert torch_style.shape == (4, 1)
    with pytest.raises(TypeError, match=r"gather: expected `index` after `dim`=1"):
        ops.gather(x, 1)


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: x.__setitem__(0, "a"), TypeError,
     r"setitem: expected `value` to be a number, a Tensor or an array \(got str 'a'\)"),
    (lambda x: x.__setitem__(0, None), TypeError,
     r"setitem: expected `value` to be a number, a Tensor or an array \(got NoneType None\)"),
    (lambda x: sg.tensor([1, 2]).__setitem__(0, float("inf")), ValueError,
     r"setitem: `value` inf cannot be converted to int64 without overflow"),
    (lambda x: ops.masked_fill(sg.tensor([1, 2]), sg.tensor([True, False]), float("inf")),
     ValueError, r"masked_fill: `value` inf cannot be converted to int64 without overflow"),
    (lambda x: x.fill_("a"), TypeError,
     r"fill_: expected `value` to be a number or a 0-d Tensor \(got str 'a'\)"),
    (lambda x: sg.tensor([1, 2]).fill_(float("nan")), ValueError,
     r"fill_: `value` nan cannot be converted to int64"),
], ids=["setitem-str", "setitem-none", "setitem-int-inf", "masked-fill-int-inf", "fill-str",
        "fill-int-nan"])
def test_written_values_are_validated(call, exc, match):
    x = sg.ones(2, 3)
    with pytest.raises(exc, match=match):
        call(x)
    assert x.tolist() == [[1.0] * 3] * 2  # nothing was written
