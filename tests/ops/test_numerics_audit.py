"""Regressions from the numerics audit: std's gradient on constant slices, NaN degrees in
gcn_norm / ChebConv, binary_cross_entropy's clamped gradient, float32 var / std / BatchNorm /
LayerNorm with a mean large against the spread, and numpy warnings from ops on inf / 0.

Every reference is a numpy transcription of PyTorch's (or PyG's) formula, in float64."""

import warnings

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import ops
from sparsegraph.gnn import ChebConv, GCNConv
from sparsegraph.testing import assert_close, gradcheck


def torch_var_backward(x, g, axis, correction):
    """PyTorch's ``var_backward``: ``(2 / (n - correction)) * g * (x - mean)``, g kept-dims."""
    n = x.size if axis is None else np.prod([x.shape[a] for a in np.atleast_1d(axis)])
    return 2.0 / (n - correction) * g * (x - x.mean(axis=axis, keepdims=True))


def torch_std_backward(x, g, axis, correction):
    """PyTorch's ``std_backward``: ``var_backward((g / (2 std)).masked_fill_(std == 0, 0))``."""
    std = np.sqrt(x.var(axis=axis, keepdims=True, ddof=correction))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(std == 0, 0.0, g / (2 * std))
    return torch_var_backward(x, g, axis, correction)


# ---- 1. std of a constant slice has a zero gradient ------------------------------------------
STD_FORMS = [  # (kwargs of ops.std, numpy axis, correction)
    (dict(dim=1), 1, 1),
    (dict(dim=1, keepdim=True), 1, 1),
    (dict(dim=-1, unbiased=False), 1, 0),
    (dict(dim=1, correction=2), 1, 2),
    (dict(dim=(0, 1)), None, 1),
    (dict(), None, 1),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs, axis, correction", STD_FORMS, ids=lambda v: str(v))
def test_std_gradient_is_zero_on_a_constant_slice_as_torch(kwargs, axis, correction, dtype):
    a = np.array([[3.0, 3.0, 3.0, 3.0], [1.0, 2.0, 3.0, 5.0]])
    if axis is None:
        a = np.full((2, 4), 0.1)  # every element in the one slice: constant (mean not exact)
    x = sg.tensor(a, dtype=dtype, requires_grad=True)
    out = ops.std(x, **kwargs)
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(sg.tensor(g, dtype=dtype))
    got = x.grad.numpy()
    assert np.isfinite(got).all()
    kept = g.reshape(np.var(a, axis=axis, keepdims=True).shape)
    want = torch_std_backward(a.astype(dtype).astype(np.float64), kept, axis, correction)
    assert_close(got, want.astype(dtype), atol=1e-6)


def test_tensor_std_method_of_a_constant_vector_has_a_zero_gradient():
    x = sg.tensor([5.0, 5.0], requires_grad=True)
    x.std().backward()
    assert x.grad.numpy().tolist() == [0.0, 0.0]


def test_std_and_var_mean_gradients_pass_gradcheck():
    a = np.random.default_rng(1).standard_normal((3, 5))
    x = sg.tensor(a, dtype="float64", requires_grad=True)
    assert gradcheck(lambda t: ops.std(t, 1, correction=0), [x])
    assert gradcheck(lambda t: ops.var_mean(t, 0, keepdim=True), [x])
    assert gradcheck(lambda t: ops.var_mean(t, (0, 1))[1], [x])  # the mean alone


def test_var_mean_matches_var_and_mean():
    a = np.random.default_rng(2).standard_normal((4, 6))
    var, mean = ops.var_mean(sg.tensor(a, dtype="float64"), 1, unbiased=False)
    assert_close(var, a.var(axis=1))
    assert_close(mean, a.mean(axis=1))


# ---- 2. a NaN degree propagates NaN (PyG), a non-positive one still gives 0 ------------------
def pyg_gcn_norm(rows, cols, w, n):
    """PyG's gcn_norm (self loops of weight 1 added) of target-major edges, as a dense matrix:
    ``deg^-1/2`` with only inf masked to 0, the edge values ``dinv[row] w dinv[col]``."""
    rows, cols = np.r_[rows, np.arange(n)], np.r_[cols, np.arange(n)]
    w = np.r_[w, np.ones(n)]
    deg = np.bincount(rows, weights=w, minlength=n)
    with np.errstate(divide="ignore"):
        dinv = deg ** -0.5
    dinv[np.isinf(dinv)] = 0.0
    dense = np.zeros((n, n))
    dense[rows, cols] = dinv[rows] * w * dinv[cols]
    return dense


def test_gcn_norm_propagates_a_nan_degree_as_pyg():
    rows, cols, w = [0, 1, 1], [1, 0, 2], [np.nan, 1.0, 1.0]  # adj[target, source]
    a = sg.sparse_coo([rows, cols], sg.tensor(w, dtype="float64"), (3, 3))
    got = ops.gcn_norm(a).to_dense().numpy()
    np.testing.assert_allclose(got, pyg_gcn_norm(rows, cols, w, 3), rtol=1e-12, equal_nan=True)
    assert np.isnan(got[1, 0]) and np.isnan(got[0, 0])  # the NaN node's column and self loop


def test_gcn_norm_still_zeroes_non_positive_degrees():
    a = sg.sparse_coo([[0, 1], [1, 0]], sg.tensor([-3.0, 1.0], dtype="float64"), (2, 2))
    got = ops.gcn_norm(a).to_dense().numpy()  # deg = [-2, 2]: node 0's row and column are 0
    assert got[0].tolist() == [0.0, 0.0] and got[1, 0] == 0.0
    assert got[1, 1] == pytest.approx(0.5)


def test_gcnconv_neighbour_of_a_nan_edge_is_nan_as_pyg():
    ei = np.array([[1, 0, 2], [0, 1, 1]])  # source -> target
    sg.manual_seed(0)
    conv = GCNConv(2, 2, bias=False)
    out = conv(sg.ones(3, 2), ei, sg.tensor([np.nan, 1.0, 1.0])).detach().numpy()
    # PyG: edge 0 -> 1 weighs dis[0] * dis[1] with dis[0] = NaN, so node 1 is NaN too
    assert np.isnan(out[:2]).all() and np.isfinite(out[2]).all()


@pytest.mark.parametrize("normalization", ["sym", "rw"])
def test_cheb_laplacian_propagates_a_nan_degree_as_pygs_get_laplacian(normalization):
    src, dst = np.array([1, 0, 2, 1]), np.array([0, 1, 1, 2])
    w = np.array([np.nan, 1.0, 2.0, 0.5])
    deg = np.bincount(src, weights=w, minlength=3)  # PyG: scatter(w, edge_index[0])
    with np.errstate(divide="ignore"):
        if normalization == "sym":
            dis = deg ** -0.5
            dis[np.isinf(dis)] = 0.0
            want = -(dis[src] * w * dis[dst])
        else:
            inv = 1.0 / deg
            inv[np.isinf(inv)] = 0.0
            want = -(inv[src] * w)
    conv = ChebConv(2, 2, K=2, normalization=normalization)
    lap, diag = conv.scaled_laplacian(np.stack([src, dst]), 3, np.float64,
                                      sg.tensor(w, dtype="float64"))
    assert diag is None  # lambda_max = 2: the diagonal of 2 L / 2 - I is 0
    dense = lap.to_dense().numpy()
    np.testing.assert_allclose(dense[dst, src], want, rtol=1e-12, equal_nan=True)


# ---- 3. binary_cross_entropy's gradient is PyTorch's clamped formula --------------------------
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_gradient_is_pytorchs_at_and_near_certain_probabilities(dtype, reduction):
    p = np.array([0.0, 1.0, 1e-20, 1e-13, 0.5, 1.0 - 1e-7, 0.0, 1.0])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.3, 0.0, 1.0])
    w = np.array([1.0, 2.0, 1.0, 0.5, 1.0, 1.0, 3.0, 1.0])
    pt = sg.tensor(p, dtype=dtype, requires_grad=True)
    yt = sg.tensor(y, dtype=dtype, requires_grad=True)
    F.binary_cross_entropy(pt, yt, weight=sg.tensor(w, dtype=dtype),
                           reduction=reduction).backward()
    P = p.astype(dtype)  # what the kernel sees, rounded to the dtype
    Q, eps = P.astype(np.float64), float(np.asarray(1e-12, dtype=dtype))
    scale = w / (len(p) if reduction == "mean" else 1)
    # aten/src/ATen/native/Loss.cpp: grad * (input - target) / max((1 - input) * input, EPSILON)
    want_p = scale * (Q - y) / np.maximum((1 - Q) * Q, eps)
    with np.errstate(divide="ignore"):  # FunctionsManual: grad_target = -logit(input) * grad
        want_y = -scale * (np.log(Q) - np.log1p(-Q))
    assert_close(pt.grad.numpy(), want_p.astype(dtype), rtol=1e-5)
    assert np.isinf(pt.grad.numpy()).sum() == 0 and abs(pt.grad.numpy()[0]) > 1e11
    assert_close(yt.grad.numpy(), want_y.astype(dtype), rtol=1e-5)


# ---- 4. float32 var / std / BatchNorm / LayerNorm with a large mean --------------------------
def offset_data(shape, offset, seed=0):
    rng = np.random.default_rng(seed)
    return (np.float32(offset) + rng.random(shape)).astype(np.float32)


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_float32_var_and_std_are_accurate_with_a_large_mean(dim):
    # a mean about 0.2 off the float32 grid (ulp 1/16): rounding it biased the two-pass variance
    x = offset_data((20000, 3) if dim != 1 else (3, 20000), 1e6 + 0.2)
    exact = x.astype(np.float64).var(axis=dim, ddof=1)  # torch's CPU kernel: double Welford
    t = sg.tensor(x)
    var, std = ops.var(t, dim), ops.std(t, dim)
    assert var.dtype == std.dtype == np.float32
    assert_close(var, exact.astype(np.float32), rtol=1e-6, atol=0)
    assert_close(std, np.sqrt(exact).astype(np.float32), rtol=1e-6, atol=0)
    var2, mean = ops.var_mean(t, dim)
    assert mean.dtype == np.float32
    assert_close(var2, var, rtol=0, atol=0)
    assert_close(mean, x.astype(np.float64).mean(axis=dim).astype(np.float32), rtol=1e-7)


def test_float32_var_gradient_uses_the_exact_mean():
    x = offset_data((5000, 2), 1e6)
    t = sg.tensor(x, requires_grad=True)
    ops.var(t, 0).sum().backward()
    x64 = x.astype(np.float64)
    want = 2.0 / (len(x) - 1) * (x64 - x64.mean(axis=0))
    # the deviations are exact to float32 rounding of the data: no ulp-of-the-mean offset
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=0, atol=1e-9)


def test_batchnorm_statistics_are_accurate_with_a_large_mean():
    x = offset_data((20000, 4), 1e4)
    x64 = x.astype(np.float64)
    bn = sg.nn.BatchNorm1d(4, momentum=1.0)
    out = bn(sg.tensor(x)).detach().numpy()
    assert_close(bn.running_mean, x64.mean(axis=0).astype(np.float32), rtol=1e-7)
    assert_close(bn.running_var, x64.var(axis=0, ddof=1).astype(np.float32), rtol=1e-5, atol=0)
    want = (x64 - x64.mean(axis=0)) / np.sqrt(x64.var(axis=0) + 1e-5)
    # x - mean in float32 is off by at most half an ulp of the mean (1e4: 5e-4) / std (0.29)
    np.testing.assert_allclose(out, want, atol=3e-3)


def test_layernorm_statistics_are_accurate_with_a_large_mean():
    x = offset_data((4, 256), 1e6)
    x64 = x.astype(np.float64)
    ln = sg.nn.LayerNorm(256, elementwise_affine=False)
    xt = sg.tensor(x, requires_grad=True)
    out = ln(xt)
    var = x64.var(axis=1, keepdims=True)
    want = (x64 - x64.mean(axis=1, keepdims=True)) / np.sqrt(var + 1e-5)
    # half an ulp of 1e6 (0.031) over the std (0.29): the float32 data cannot say more
    np.testing.assert_allclose(out.detach().numpy(), want, atol=0.11)
    # the scale is the exact variance's: the normalised rows have unit variance
    assert_close(out.detach().numpy().astype(np.float64).var(axis=1),
                 (var / (var + 1e-5)).ravel(), rtol=1e-3)
    out.sum().backward()
    assert np.isfinite(xt.grad.numpy()).all()


def test_batchnorm_and_layernorm_gradients_pass_gradcheck():
    a = np.random.default_rng(3).standard_normal((6, 3)) + 5.0
    x = sg.tensor(a, dtype="float64", requires_grad=True)
    bn = sg.nn.BatchNorm1d(3).to(dtype="float64")
    ln = sg.nn.LayerNorm(3).to(dtype="float64")
    assert gradcheck(bn, [x])
    assert gradcheck(ln, [x])


# ---- 5. ops on inf / 0 give PyTorch's inf / nan without numpy warnings -----------------------
@pytest.fixture
def warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.usefixtures("warnings_are_errors")
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_fully_masked_row_is_nan_without_warnings(name):
    a = np.array([[0.0, 1.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    x = sg.tensor(a, requires_grad=True)
    out = getattr(F, name)(x, dim=1)
    row = a[0] - a[0].max()
    want0 = np.exp(row) / np.exp(row).sum() if name == "softmax" else row - np.log(
        np.exp(row).sum())
    assert_close(out[0], want0.astype(np.float32))
    assert np.isnan(out.detach().numpy()[1]).all()  # torch: nan for the masked row
    out.backward(sg.ones(2, 3))
    assert np.isfinite(x.grad.numpy()[0]).all()


@pytest.mark.usefixtures("warnings_are_errors")
def test_division_log_sqrt_pow_at_zero_give_torchs_values_without_warnings():
    assert (sg.tensor([1.0, -1.0]) / sg.tensor([0.0, 0.0])).numpy().tolist() == [np.inf, -np.inf]
    assert np.isnan((sg.tensor([0.0]) / sg.tensor([0.0])).numpy()).all()
    assert sg.log(sg.tensor([0.0])).item() == -np.inf
    assert np.isnan(sg.sqrt(sg.tensor([-1.0])).numpy()).all()
    for fn in (sg.sqrt, lambda t: t ** 0.5, sg.log, sg.rsqrt, sg.reciprocal):
        x = sg.tensor([0.0, 4.0], requires_grad=True)
        fn(x).backward(sg.ones(2))
        assert np.isinf(x.grad.numpy()[0])  # torch: d sqrt(x) / dx = inf at 0, and so on


@pytest.mark.usefixtures("warnings_are_errors")
def test_bce_with_logits_of_infinite_logits_without_warnings():
    x = sg.tensor([np.inf, np.inf, -np.inf, -np.inf], requires_grad=True)
    y = sg.tensor([1.0, 0.0, 1.0, 0.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    # torch: (1 - y) * x - log_sigmoid(x)
    got = loss.detach().numpy()
    assert np.isnan(got[[0, 2, 3]]).all() and got[1] == np.inf
    loss.backward(sg.ones(4))
    F.binary_cross_entropy_with_logits(x, y, pos_weight=sg.tensor([2.0] * 4)).backward()


@pytest.mark.usefixtures("warnings_are_errors")
def test_var_std_of_non_finite_or_empty_input_without_warnings():
    x = sg.tensor([[1.0, np.inf], [2.0, 3.0]], requires_grad=True)
    out = ops.std(x, 1)
    assert np.isnan(out.detach().numpy()[0]) and out.detach().numpy()[1] > 0
    out.backward(sg.ones(2))
    e = sg.zeros(0, 3, requires_grad=True)
    ops.var(e, 0).backward(sg.ones(3))
    assert e.grad.shape == (0, 3)


@pytest.mark.usefixtures("warnings_are_errors")
@pytest.mark.parametrize("name", ["sparse_softmax", "sparse_log_softmax"])
def test_generic_sparse_softmax_of_an_all_masked_row_without_warnings(name):
    # row 1 holds only -inf scores: nan there (as the numba kernel and torch), row 0 finite
    a = sg.sparse_csr([0, 2, 4], [0, 1, 0, 1],
                      sg.tensor([0.0, 1.0, -np.inf, -np.inf], requires_grad=True), (2, 2))
    with sg.kernels.use("generic"):
        out = getattr(ops, name)(a)
        out.values.backward(sg.ones(4))
    got = out.values.detach().numpy()
    assert np.isfinite(got[:2]).all() and np.isnan(got[2:]).all()
