"""PyTorch names users missed: roll, tensor_split, meshgrid (ops/rearrange.py), cdist
(ops/distance.py), lerp (ops/ternary.py), addmm (ops/linalg.py), kthvalue (ops/sorting.py),
multinomial (ops/stochastic.py), the in-place activations and torch's Tensor.scatter_ /
scatter_add_ (ops/inplace.py): values against numpy, float64 gradchecks, top-level exports,
Tensor methods and named errors."""

import math

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck


def leaf(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return sg.tensor(a, dtype="float64", requires_grad=True)


def npy(t):
    return t.detach().numpy()


@pytest.mark.parametrize("name", ["roll", "tensor_split", "meshgrid", "cdist", "lerp", "addmm",
                                  "kthvalue", "multinomial", "relu_", "sigmoid_", "tanh_"])
def test_new_names_are_exported_at_the_top_level(name):
    assert getattr(sg, name) is getattr(ops, name)


@pytest.mark.parametrize("name", ["roll", "tensor_split", "lerp", "lerp_", "addmm", "kthvalue",
                                  "multinomial", "relu_", "sigmoid_", "tanh_", "scatter_",
                                  "scatter_add_"])
def test_new_tensor_methods_exist(name):
    assert callable(getattr(sg.Tensor, name))


def test_no_tensor_method_shadows_pyg_scatter():
    assert "scatter" not in vars(sg.Tensor) and not hasattr(sg.Tensor, "scatter")
    assert not hasattr(sg.Tensor, "scatter_add")


# ---- roll --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shifts, dims", [(2, 0), (-1, 1), ((1, -2), (0, 2)), (7, -1), (3, None),
                                          (-5, None)])
def test_roll_matches_numpy_and_gradchecks(shifts, dims):
    x = leaf((3, 4, 5), seed=1)
    assert_close(ops.roll(x, shifts, dims), np.roll(npy(x), shifts, dims))
    assert_close(x.roll(shifts, dims), np.roll(npy(x), shifts, dims))
    gradcheck(lambda t: ops.roll(t, shifts, dims), [x])


def test_roll_zero_d_and_errors():
    assert ops.roll(sg.tensor(3.0), 1, 0).item() == 3.0
    x = sg.ones(2, 3)
    with pytest.raises(ValueError, match=r"roll: expected as many `shifts` as `dims`"):
        ops.roll(x, (1, 2), 0)
    with pytest.raises(ValueError, match=r"roll: expected one shift for `dims`=None"):
        ops.roll(x, (1, 2))
    with pytest.raises(TypeError, match=r"roll: expected an int `shifts`"):
        ops.roll(x, 1.5, 0)
    with pytest.raises(ValueError, match=r"roll: expected `dim` in \[-2, 1\]"):
        ops.roll(x, 1, 2)


# ---- tensor_split -------------------------------------------------------------------------------
@pytest.mark.parametrize("arg, sizes", [(3, [3, 2, 2]), (2, [4, 3]), (7, [1] * 7),
                                        (9, [1] * 7 + [0, 0]), (1, [7])])
def test_tensor_split_sections_have_torchs_sizes(arg, sizes):
    x = leaf((7, 2), seed=2)
    pieces = ops.tensor_split(x, arg)
    assert [p.shape[0] for p in pieces] == sizes
    assert_close(ops.cat(pieces, 0), npy(x))
    gradcheck(lambda t: ops.tensor_split(t, arg), [x])


@pytest.mark.parametrize("indices", [[1, 4], [2], [0, 0, 3], [4, 2], [-2], [1, 10], (3,)])
def test_tensor_split_indices_are_python_slices(indices):
    x = leaf((2, 6), seed=3)
    pieces = ops.tensor_split(x, list(indices), dim=1)
    bounds = [0, *indices, 6]
    want = [npy(x)[:, lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    assert len(pieces) == len(want)
    for p, w in zip(pieces, want, strict=True):
        assert_close(p, w)
    gradcheck(lambda t: ops.tensor_split(t, list(indices), dim=1), [x])


def test_tensor_split_gives_views_a_tensor_argument_and_a_method():
    x = sg.arange(6.0)
    a, b = x.tensor_split(sg.tensor([2]))
    a.add_(10)  # a view: the write reaches x
    assert x.tolist() == [10.0, 11.0, 2.0, 3.0, 4.0, 5.0]
    assert [p.shape for p in x.tensor_split(sg.tensor(4))] == [(2,), (2,), (1,), (1,)]


def test_tensor_split_errors_are_named():
    with pytest.raises(ValueError, match=r"tensor_split: expected `indices_or_sections` \(the "
                                         r"number of sections\) to be at least 1 \(got 0\)"):
        ops.tensor_split(sg.ones(4), 0)
    with pytest.raises(TypeError, match=r"tensor_split: expected `indices_or_sections`"):
        ops.tensor_split(sg.ones(4), 1.5)
    with pytest.raises(ValueError, match=r"tensor_split: expected a tensor with at least one"):
        ops.tensor_split(sg.tensor(1.0), 1)


# ---- meshgrid ---------------------------------------------------------------------------------
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_numpy_and_gradchecks(indexing):
    a, b, c = leaf(3, 1), leaf(4, 2), leaf(2, 3)
    got = ops.meshgrid(a, b, c, indexing=indexing)
    want = np.meshgrid(npy(a), npy(b), npy(c), indexing=indexing)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        assert_close(g, w)
    gradcheck(lambda *t: ops.meshgrid(*t, indexing=indexing), [a, b, c])
    assert [g.shape for g in ops.meshgrid([a, b])] == [(3, 4), (3, 4)]  # a list; "ij" default


def test_meshgrid_errors_are_named():
    with pytest.raises(ValueError, match=r"meshgrid: expected `indexing` in \('ij', 'xy'\)"):
        ops.meshgrid(sg.ones(2), indexing="ji")
    with pytest.raises(ValueError, match=r"meshgrid: expected 0-D or 1-D tensors \(got "
                                         r"tensors\[1\] of shape \(2, 2\)\)"):
        ops.meshgrid(sg.ones(2), sg.ones(2, 2))
    with pytest.raises(TypeError, match=r"meshgrid: expected tensors of one dtype"):
        ops.meshgrid(sg.ones(2), sg.ones(2, dtype="float64"))


# ---- cdist ---------------------------------------------------------------------------------------
def _cdist_ref(x1, x2, p):
    diff = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return (diff != 0).sum(-1).astype(x1.dtype)
    if p == math.inf:
        return diff.max(-1)
    return (diff ** p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("p", [0.5, 1.0, 1.5, 2.0, 3.0, math.inf])
@pytest.mark.parametrize("shapes", [((4, 3), (5, 3)), ((2, 4, 3), (2, 5, 3))])
def test_cdist_matches_numpy_and_gradchecks(p, shapes):
    x1, x2 = leaf(shapes[0], 4), leaf(shapes[1], 5)
    assert_close(ops.cdist(x1, x2, p), _cdist_ref(npy(x1), npy(x2), p), rtol=1e-10)
    gradcheck(lambda a, b: ops.cdist(a, b, p), [x1, x2], rtol=1e-4)


def test_cdist_p0_counts_differences_without_gradient():
    x1 = sg.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]], requires_grad=True)
    x2 = sg.tensor([[0.0, 1.0, 5.0]])
    d = ops.cdist(x1, x2, 0)
    assert d.tolist() == [[1.0], [2.0]]
    d.sum().backward()
    assert x1.grad.tolist() == [[0.0] * 3] * 2


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.0, math.inf])
def test_cdist_gradient_at_zero_distance_is_zero(p):
    x1 = sg.tensor([[1.0, 2.0], [0.0, 0.0]], dtype="float64", requires_grad=True)
    x2 = sg.tensor([[1.0, 2.0]], dtype="float64", requires_grad=True)
    ops.cdist(x1, x2, p).sum().backward()
    assert np.isfinite(x1.grad.numpy()).all() and np.isfinite(x2.grad.numpy()).all()
    assert x1.grad.numpy()[0].tolist() == [0.0, 0.0]


def test_cdist_errors_are_named():
    with pytest.raises(ValueError, match=r"cdist: expected a non-negative `p` \(got -1\)"):
        ops.cdist(sg.ones(2, 3), sg.ones(2, 3), -1)
    with pytest.raises(ValueError, match=r"cdist: expected `x2` with 3 columns"):
        ops.cdist(sg.ones(2, 3), sg.ones(2, 4))
    with pytest.raises(ValueError, match=r"cdist: expected `x1` with at least 2 dims"):
        ops.cdist(sg.ones(3), sg.ones(2, 3))
    with pytest.raises(TypeError, match=r"cdist: expected `x1` with a floating dtype"):
        ops.cdist(sg.ones(2, 3, dtype="int64"), sg.ones(2, 3, dtype="int64"))
    with pytest.raises(ValueError, match=r"cdist: batch dims of `x1`"):
        ops.cdist(sg.ones(2, 2, 3), sg.ones(3, 2, 3))


# ---- lerp ----------------------------------------------------------------------------------------
def test_lerp_matches_the_formula_and_gradchecks_all_three():
    x, end, w = leaf((3, 4), 6), leaf((4,), 7), leaf((3, 1), 8)
    assert_close(ops.lerp(x, end, w), npy(x) + npy(w) * (npy(end) - npy(x)))
    assert_close(x.lerp(end, 0.75), npy(x) + 0.75 * (npy(end) - npy(x)))
    gradcheck(ops.lerp, [x, end, w])
    gradcheck(lambda a, b: ops.lerp(a, b, 0.3), [x, end])


def test_lerp_is_exact_at_the_ends_and_in_place():
    x, end = sg.tensor([0.1, 1e8]), sg.tensor([0.7, -3.0])
    assert ops.lerp(x, end, 1.0).tolist() == end.tolist()
    assert ops.lerp(x, end, 0.0).tolist() == x.tolist()
    y = sg.tensor([0.0, 2.0], dtype="float64", requires_grad=True)
    h = y * 1.0
    assert h.lerp_(sg.tensor([4.0, 4.0], dtype="float64"), 0.25) is h
    assert h.tolist() == [1.0, 2.5]
    h.sum().backward()
    assert y.grad.tolist() == [0.75, 0.75]


def test_lerp_errors_are_named():
    with pytest.raises(TypeError, match=r"lerp: expected `end` with the dtype of `input`"):
        ops.lerp(sg.ones(2), sg.ones(2, dtype="float64"), 0.5)
    with pytest.raises(TypeError, match=r"lerp: expected `weight` to be a number or a Tensor"):
        ops.lerp(sg.ones(2), sg.ones(2), "0.5")
    with pytest.raises(ValueError, match=r"lerp: shapes \(2,\) \(input\), \(3,\) \(end\)"):
        ops.lerp(sg.ones(2), sg.ones(3), 0.5)
    with pytest.raises(ValueError, match=r"lerp_: expected `end` \(2, 2\)"):
        sg.ones(2).lerp_(sg.ones(2, 2), 0.5)


# ---- addmm ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("c_shape", [(3, 5), (5,), (1, 5), (3, 1), ()])
def test_addmm_matches_numpy_and_gradchecks(c_shape):
    c, a, b = leaf(c_shape, 9), leaf((3, 4), 10), leaf((4, 5), 11)
    want = 0.5 * npy(c) + 2.0 * npy(a) @ npy(b)
    assert_close(ops.addmm(c, a, b, beta=0.5, alpha=2.0), want)
    assert_close(c.addmm(a, b, beta=0.5, alpha=2.0), want)
    gradcheck(lambda *t: ops.addmm(*t, beta=0.5, alpha=2.0), [c, a, b])
    gradcheck(ops.addmm, [c, a, b])


def test_addmm_beta_zero_ignores_nan_in_input():
    c = sg.tensor([[np.nan, np.inf]], dtype="float64", requires_grad=True)
    a, b = sg.tensor([[1.0], [2.0]], dtype="float64"), sg.tensor([[3.0, 4.0]], dtype="float64")
    out = ops.addmm(c, a, b, beta=0)
    assert out.tolist() == [[3.0, 4.0], [6.0, 8.0]]
    out.sum().backward()
    assert c.grad.tolist() == [[0.0, 0.0]]


def test_addmm_errors_are_named():
    with pytest.raises(ValueError, match=r"addmm: expected `mat2` with 4 rows"):
        ops.addmm(sg.ones(3, 5), sg.ones(3, 4), sg.ones(3, 5))
    with pytest.raises(ValueError, match=r"addmm: expected `input` broadcastable to \(3, 5\)"):
        ops.addmm(sg.ones(4, 5), sg.ones(3, 4), sg.ones(4, 5))
    with pytest.raises(ValueError, match=r"addmm: expected `mat1` with 2 dims"):
        ops.addmm(sg.ones(3, 5), sg.ones(4), sg.ones(4, 5))
    with pytest.raises(TypeError, match=r"addmm: expected `mat1` with the dtype of `input`"):
        ops.addmm(sg.ones(3, 5), sg.ones(3, 4, dtype="float64"), sg.ones(4, 5))
    with pytest.raises(TypeError, match=r"addmm: expected a number `alpha`"):
        ops.addmm(sg.ones(3, 5), sg.ones(3, 4), sg.ones(4, 5), alpha="2")


# ---- kthvalue ------------------------------------------------------------------------------------
@pytest.mark.parametrize("k, dim, keepdim", [(1, -1, False), (3, 0, True), (5, 2, False),
                                             (2, 1, True)])
def test_kthvalue_matches_numpy_and_gradchecks(k, dim, keepdim):
    x = leaf((3, 4, 5), 12)
    res = ops.kthvalue(x, k, dim, keepdim)
    assert type(res).__name__ == "kthvalue" and res._fields == ("values", "indices")
    want = np.take(np.sort(npy(x), axis=dim), [k - 1], axis=dim)
    want_idx = np.take(np.argsort(npy(x), axis=dim, kind="stable"), [k - 1], axis=dim)
    if not keepdim:
        want, want_idx = want.squeeze(dim), want_idx.squeeze(dim)
    assert_close(res.values, want)
    assert res.indices.dtype == np.int64
    np.testing.assert_array_equal(res.indices.numpy(), want_idx)
    assert_close(x.kthvalue(k, dim, keepdim).values, want)
    gradcheck(lambda t: ops.kthvalue(t, k, dim, keepdim).values, [x])


def test_kthvalue_gradient_goes_to_its_index_and_nan_is_largest():
    x = sg.tensor([3.0, 1.0, 2.0], requires_grad=True)
    v, i = x.kthvalue(2)
    v.backward()
    assert (v.item(), i.item()) == (2.0, 2) and x.grad.tolist() == [0.0, 0.0, 1.0]
    assert ops.kthvalue(sg.tensor([np.nan, 1.0, 0.0]), 3).indices.item() == 0
    assert ops.kthvalue(sg.tensor(5.0), 1).values.item() == 5.0


def test_kthvalue_errors_are_named():
    with pytest.raises(ValueError, match=r"kthvalue: expected `k` in \[1, 3\] for dim 0"):
        ops.kthvalue(sg.ones(3), 4)
    with pytest.raises(ValueError, match=r"kthvalue: expected `k` in \[1, 3\]"):
        ops.kthvalue(sg.ones(3), 0)
    with pytest.raises(TypeError, match=r"kthvalue: expected `k` to be an int"):
        ops.kthvalue(sg.ones(3), 1.0)


# ---- multinomial ---------------------------------------------------------------------------------
def test_multinomial_with_replacement_follows_the_weights():
    sg.manual_seed(0)
    w = sg.tensor([1.0, 0.0, 3.0, 4.0])  # not normalised; category 1 never drawn
    s = ops.multinomial(w, 40000, replacement=True)
    assert s.shape == (40000,) and s.dtype == np.int64
    freq = np.bincount(s.numpy(), minlength=4) / 40000
    np.testing.assert_allclose(freq, [0.125, 0.0, 0.375, 0.5], atol=0.01)
    assert freq[1] == 0


def test_multinomial_without_replacement_draws_distinct_categories_in_draw_order():
    g = sg.Generator(1)
    w = sg.tensor([[1.0, 2.0, 0.0, 5.0], [0.0, 0.0, 1.0, 1.0]])
    s = w.multinomial(2, generator=g)
    assert s.shape == (2, 2)
    for row, picked in zip(w.numpy(), s.numpy(), strict=True):
        assert len(set(picked)) == 2 and (row[picked] > 0).all()
    # the first draw of a row is proportional to the weights, as with replacement
    firsts = ops.multinomial(sg.tensor([[1.0, 3.0]] * 20000), 2, generator=g).numpy()[:, 0]
    assert abs(firsts.mean() - 0.75) < 0.015


def test_multinomial_is_reproducible_from_the_seed():
    w = sg.tensor([0.2, 0.3, 0.5])
    a = ops.multinomial(w, 10, True, generator=sg.Generator(5)).tolist()
    assert ops.multinomial(w, 10, True, generator=sg.Generator(5)).tolist() == a
    sg.manual_seed(3)
    b = ops.multinomial(w, 3).tolist()
    sg.manual_seed(3)
    assert ops.multinomial(w, 3).tolist() == b


@pytest.mark.parametrize("w, n, replacement, err, msg", [
    ([1.0, -1.0], 1, True, ValueError, r"multinomial: expected `input` of finite non-negative"),
    ([[1.0, 1.0], [0.0, 0.0]], 1, True, ValueError, r"row 1 sums to 0"),
    ([1.0, 2.0], 3, False, ValueError, r"cannot draw `num_samples`=3 without replacement from 2"),
    ([1.0, 0.0, 0.0], 2, False, ValueError, r"from row 0 of `input`, which has 1 nonzero"),
    ([1.0, 2.0], 0, True, ValueError, r"multinomial: expected `num_samples` >= 1"),
    ([[[1.0]]], 1, True, ValueError, r"multinomial: expected a 1-D or 2-D `input`"),
    ([1.0, np.nan], 1, True, ValueError, r"multinomial: expected `input` of finite"),
])
def test_multinomial_errors_are_named(w, n, replacement, err, msg):
    with pytest.raises(err, match=msg):
        ops.multinomial(sg.tensor(w), n, replacement)


def test_multinomial_refuses_integer_weights_and_bad_generators():
    with pytest.raises(TypeError, match=r"multinomial: expected `input` with a floating dtype"):
        ops.multinomial(sg.tensor([1, 2]), 1)
    with pytest.raises(TypeError, match=r"expected `generator` to be a sparsegraph.Generator"):
        ops.multinomial(sg.tensor([1.0, 2.0]), 1, generator=np.random.default_rng(0))


# ---- in-place activations ------------------------------------------------------------------------
@pytest.mark.parametrize("name, fn", [("relu_", lambda a: np.maximum(a, 0)),
                                      ("sigmoid_", lambda a: 1 / (1 + np.exp(-a))),
                                      ("tanh_", np.tanh)])
def test_inplace_activations_write_back_and_keep_autograd(name, fn):
    x = leaf((3, 4), 13)
    h = x * 1.0
    version = h._version[0]
    assert getattr(h, name)() is h
    assert h._version[0] > version
    assert_close(h, fn(npy(x)))
    gradcheck(lambda t: getattr(ops, name)(t * 1.0), [x])


def test_inplace_activation_of_a_saved_tensor_raises_at_backward():
    x = sg.tensor([1.0, -2.0], requires_grad=True)
    h = x * 1.0
    y = h * h  # saves h
    h.tanh_()
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation"):
        y.sum().backward()


def test_inplace_sigmoid_of_an_int_tensor_is_refused():
    with pytest.raises(TypeError, match=r"sigmoid_: the result type float32 can't be cast"):
        sg.tensor([1, 2]).sigmoid_()
    assert sg.tensor([-1, 2]).relu_().tolist() == [0, 2]


# ---- Tensor.scatter_ / scatter_add_ -------------------------------------------------------------
def test_scatter_matches_torchs_documented_example():
    src = sg.arange(1, 11).reshape(2, 5)
    index = sg.tensor([[0, 1, 2, 0]])
    out = sg.zeros(3, 5, dtype=src.dtype).scatter_(0, index, src)
    assert out.tolist() == [[1, 0, 0, 4, 0], [0, 2, 0, 0, 0], [0, 0, 3, 0, 0]]
    index = sg.tensor([[0, 1, 2], [0, 1, 4]])
    out = sg.zeros(3, 5, dtype=src.dtype).scatter_(1, index, src)
    assert out.tolist() == [[1, 2, 3, 0, 0], [6, 7, 0, 0, 8], [0, 0, 0, 0, 0]]
    full = sg.full((2, 4), 2.0).scatter_(1, sg.tensor([[2], [3]]), 1.23, reduce="multiply")
    assert_close(full, [[2, 2, 2.46, 2], [2, 2, 2, 2.46]])
    added = sg.full((2, 4), 2.0).scatter_(1, sg.tensor([[2], [3]]), value=1.23, reduce="add")
    assert_close(added, [[2, 2, 3.23, 2], [2, 2, 2, 3.23]])


def test_scatter_add_sums_repeated_indices():
    out = sg.ones(3, 2).scatter_add_(0, sg.tensor([[0, 1], [0, 2], [0, 1]]), sg.ones(3, 2))
    assert out.tolist() == [[4.0, 1.0], [1.0, 3.0], [1.0, 2.0]]


def test_scatter_gradients_are_torchs():
    x, src = leaf((3, 4), 14), leaf((2, 5), 15)  # src larger than index: its tail gets 0
    index = sg.tensor([[2, 0, 1, 1], [0, 2, 0, 2]])  # unique per column

    def scattered(a, b):
        return (a * 1.0).scatter_(0, index, b)

    gradcheck(scattered, [x, src])
    scattered(x, src).sum().backward()
    assert x.grad.numpy().sum() == 12 - 8  # the 8 written positions get 0
    assert src.grad.tolist() == [[1.0] * 4 + [0.0], [1.0] * 4 + [0.0]]
    gradcheck(lambda a, b: (a * 1.0).scatter_add_(1, sg.tensor([[0, 0], [3, 1], [2, 2]]), b),
              [x, leaf((3, 2), 16)])
    gradcheck(lambda a: (a * 1.0).scatter_(1, sg.tensor([[0], [3], [2]]), value=2.5), [x])


def test_scatter_add_gradient_passes_through_and_gathers():
    x = sg.zeros(2, 3, dtype="float64", requires_grad=True)
    src = sg.ones(2, 2, dtype="float64", requires_grad=True)
    out = (x * 1.0).scatter_add_(1, sg.tensor([[0, 0], [2, 1]]), src)
    (out * sg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype="float64")).sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert src.grad.tolist() == [[1.0, 1.0], [6.0, 5.0]]


def test_scatter_multiply_has_no_gradient_as_torch():
    x = leaf((2, 2), 17)
    out = (x * 1.0).scatter_(0, sg.tensor([[1, 0]]), 2.0, reduce="multiply")
    with pytest.raises(RuntimeError, match=r"scatter_: the gradient of reduce='multiply'"):
        out.sum().backward()


@pytest.mark.parametrize("call, err, msg", [
    (lambda x: x.scatter_(0, sg.tensor([[0.0]]), 1.0), TypeError,
     r"scatter_: expected an integer `index` \(got float32\)"),
    (lambda x: x.scatter_(0, sg.tensor([0]), 1.0), ValueError,
     r"scatter_: expected `index` with 2 dims like `input` \(got shape \(1,\)\)"),
    (lambda x: x.scatter_(0, sg.tensor([[0, 0, 0, 0]]), 1.0), ValueError,
     r"scatter_: expected `index` of shape \(1, 4\) to be no larger than `input` of shape "
     r"\(2, 3\) outside dim 0"),
    (lambda x: x.scatter_(0, sg.tensor([[2]]), 1.0), ValueError,
     r"scatter_: expected indices in \[0, 2\) for dim 0 of size 2 \(got max 2\)"),
    (lambda x: x.scatter_(0, sg.tensor([[0, 1]]), sg.ones(1, 1)), ValueError,
     r"scatter_: expected `src` with 2 dims, no smaller than `index` of shape \(1, 2\)"),
    (lambda x: x.scatter_(0, sg.tensor([[0]]), sg.ones(1, 1, dtype="float64")), TypeError,
     r"scatter_: expected `src` with the dtype of `input`"),
    (lambda x: x.scatter_(0, sg.tensor([[0]])), TypeError,
     r"scatter_: expected one of `src` \(a Tensor\) and `value` \(a number\) \(got neither\)"),
    (lambda x: x.scatter_(0, sg.tensor([[0]]), 1.0, reduce="max"), ValueError,
     r"scatter_: expected `reduce` in \('add', 'multiply'\)"),
    (lambda x: x.scatter_add_(0, sg.tensor([[0]]), 1.0), TypeError,
     r"scatter_add_: expected `src` to be a Tensor"),
    (lambda x: x.scatter_add_(0, sg.tensor([[5]]), sg.ones(1, 1)), ValueError,
     r"scatter_add_: expected indices in \[0, 2\)"),
])
def test_scatter_errors_are_named(call, err, msg):
    with pytest.raises(err, match=msg):
        call(sg.zeros(2, 3))


# ---- static graphs and devices -------------------------------------------------------------------
def test_a_compiled_step_draws_multinomial_anew_as_eager_calls_do():
    from sparsegraph import static

    w = sg.tensor([1.0, 2.0, 3.0, 4.0])

    def step(x):
        return ops.multinomial(ops.softmax(x, 0), 3)

    compiled = static.compile(step)
    sg.manual_seed(0)
    got = [compiled(w).tolist() for _ in range(5)]
    sg.manual_seed(0)
    assert got == [step(w).tolist() for _ in range(5)] and compiled.traces == 1
    assert len({tuple(g) for g in got}) > 1


def test_the_new_ops_run_on_emulated_cuda(emulated_cuda):
    rng = np.random.default_rng(18)
    a = rng.standard_normal((3, 4))
    x = sg.tensor(a, dtype="float64", device="cuda", requires_grad=True)
    y = sg.tensor(rng.standard_normal((5, 4)), dtype="float64", device="cuda")
    out = (ops.roll(x, 1, 0).sum() + ops.tensor_split(x, 2, 1)[1].sum()
           + ops.cdist(x, y).sum() + ops.lerp(x, x * 2, 0.25).sum()
           + ops.addmm(x, x, sg.ones(4, 4, dtype="float64", device="cuda")).sum()
           + ops.kthvalue(x, 2).values.sum() + ops.meshgrid(x[0], x[1])[0].sum())
    out.backward()
    assert x.grad.device.startswith("cuda") and np.isfinite(x.grad.numpy()).all()
    s = ops.multinomial(sg.ones(2, 4, device="cuda"), 3, generator=sg.Generator(0))
    assert s.device.startswith("cuda") and s.shape == (2, 3)
    z = sg.zeros(2, 3, device="cuda").scatter_add_(1, sg.tensor([[0, 0]], device="cuda"),
                                                   sg.ones(1, 2, device="cuda"))
    assert z.tolist() == [[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    assert sg.ones(2, device="cuda").sigmoid_().device.startswith("cuda")
