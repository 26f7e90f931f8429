"""The fused ops the static passes insert (ops/fused.py): each equals the chain of eager ops it
replaces in value and gradient, passes gradcheck in float64, and its numba kernel matches the
generic one (including the dropout mask, empty rows and an empty matrix)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.ops import fused, gat_scores
from sparsegraph.testing import assert_close, gradcheck, random_sparse

KERNELS = sorted(k.name for k in sg.kernels.kernels("spmm_bias_act", "cpu", "csr"))
GAT_KERNELS = sorted(k.name for k in sg.kernels.kernels("gat_attention", "cpu", "csr"))
assert GAT_KERNELS == sorted(k.name for k in sg.kernels.kernels("gat_attention_backward", "cpu",
                                                                 "csr"))


def leaf(shape, seed, dtype="float64"):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


def eager_chain(a, x, bias, relu, p, seed):
    out = ops.spmm(a, x)
    if bias is not None:
        out = out + bias
    if relu:
        out = ops.relu(out)
    return ops.dropout(out, p, True, sg.Generator(seed)) if p else out


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("bias, relu, p", [(True, True, 0.0), (True, True, 0.4),
                                           (False, True, 0.3), (True, False, 0.5),
                                           (True, False, 0.0)])
@pytest.mark.parametrize("case", ["plain", "empty_rows"])
def test_spmm_bias_act_equals_the_eager_chain(kernel, bias, relu, p, case):
    a = random_sparse(7, 6, 0.5, empty_rows=case == "empty_rows", seed=1)
    x, b = leaf((6, 5), 2), leaf((5,), 3) if bias else None
    with sg.kernels.use(spmm_bias_act=kernel):
        out = fused.spmm_bias_act(a, x, b, relu, p, sg.Generator(7))
    expected = eager_chain(a, x, b, relu, p, 7)
    assert_close(out, expected, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(4).standard_normal(out.shape)
    grads = sg.autograd.grad(out, [a.values, x] + ([b] if bias else []), sg.tensor(g))
    want = sg.autograd.grad(expected, [a.values, x] + ([b] if bias else []), sg.tensor(g))
    for got, ref in zip(grads, want, strict=True):
        assert_close(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_spmm_bias_act_gradcheck(p):
    a = random_sparse(6, 5, 0.5, seed=3)
    x, b = leaf((5, 4), 5), leaf((4,), 6)
    # a fresh generator per call: the same mask for every finite-difference evaluation
    assert gradcheck(lambda a, x, b: fused.spmm_bias_act(a, x, b, True, p, sg.Generator(1)),
                     [a, x, b])


def test_spmm_bias_act_numba_matches_generic_float32_bitwise():
    if len(KERNELS) < 2:
        pytest.skip("numba is not installed: only the generic kernel is registered")
    a = random_sparse(300, 200, 0.05, dtype="float32", seed=8)
    x, b = leaf((200, 33), 9, "float32"), leaf((33,), 10, "float32")
    outs = []
    for kernel in ("generic", "numba"):
        with sg.kernels.use(spmm_bias_act=kernel):
            outs.append(fused.spmm_bias_act(a, x, b, True, 0.5, sg.Generator(3)).detach().numpy())
    np.testing.assert_array_equal(outs[0], outs[1])


def test_spmm_bias_act_empty_matrix_and_validation():
    a = random_sparse(3, 4, 0.0)
    out = fused.spmm_bias_act(a, leaf((4, 2), 1), leaf((2,), 2), relu=True)
    assert_close(out, np.zeros((3, 2)) + np.maximum(out.detach().numpy(), 0))
    with pytest.raises(ValueError, match="expected `x` of shape \\(4, F\\)"):
        fused.spmm_bias_act(a, leaf((5, 2), 1))
    with pytest.raises(ValueError, match="`bias` of shape \\(2,\\)"):
        fused.spmm_bias_act(a, leaf((4, 2), 1), leaf((3,), 1))
    with pytest.raises(ValueError, match="`p` in \\[0, 1\\)"):
        fused.spmm_bias_act(a, leaf((4, 2), 1), p=1.0)
    with pytest.raises(TypeError, match="SparseTensor"):
        fused.spmm_bias_act(leaf((3, 4), 1), leaf((4, 2), 1))


@pytest.mark.parametrize("p", [0.0, 0.5])
@pytest.mark.parametrize("x_grad", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dropout_matmul_equals_dropout_then_matmul(p, x_grad, dtype):
    x, w = leaf((7, 5), 1, dtype), leaf((5, 3), 2, dtype)
    x.requires_grad = x_grad
    out = fused.dropout_matmul(x, w, p, sg.Generator(5))
    expected = ops.dropout(x, p, True, sg.Generator(5)) @ w
    np.testing.assert_array_equal(out.detach().numpy(), expected.detach().numpy())
    g = sg.tensor(np.random.default_rng(3).standard_normal((7, 3)).astype(dtype))
    wrt = [x, w] if x_grad else [w]
    grads = sg.autograd.grad(out, wrt, g)
    for got, want in zip(grads, sg.autograd.grad(expected, wrt, g), strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    if p and x_grad:  # dropped elements get no gradient
        dropped = ops.dropout(sg.ones(7, 5, dtype=dtype), p, True, sg.Generator(5)).numpy() == 0
        assert dropped.any() and not grads[0].numpy()[dropped].any()


def test_dropout_matmul_gradcheck_and_validation():
    # a fresh generator per call: the same mask for every finite-difference evaluation
    assert gradcheck(lambda x, w: fused.dropout_matmul(x, w, 0.3, sg.Generator(2)),
                     [leaf((6, 4), 1), leaf((4, 3), 2)])
    with pytest.raises(ValueError, match="`w` with 4 rows to match `x` of shape \\(6, 4\\)"):
        fused.dropout_matmul(leaf((6, 4), 1), leaf((5, 3), 2), 0.3)
    with pytest.raises(TypeError, match="2-D Tensors"):
        fused.dropout_matmul(leaf((6,), 1), leaf((6, 3), 2), 0.3)
    with pytest.raises(ValueError, match="`p` in \\[0, 1\\)"):
        fused.dropout_matmul(leaf((6, 4), 1), leaf((4, 3), 2), 1.0)


def gat_inputs(n=9, heads=3, f=4, dtype="float64", empty_rows=False, seed=0):
    a = random_sparse(n, n, 0.35, dtype=dtype, empty_rows=empty_rows, seed=seed,
                      requires_grad=False)
    return (a, leaf((n, heads), seed + 1, dtype), leaf((n, heads), seed + 2, dtype),
            leaf((n, heads, f), seed + 3, dtype))


def eager_attention(a, a_src, a_dst, h, slope, p, seed):
    score = ops.leaky_relu(ops.edge_sum(a, a_src, a_dst), slope)
    alpha = ops.sparse_softmax(a.with_values(score))
    if p:
        alpha = alpha.with_values(ops.dropout(alpha.values, p, True, sg.Generator(seed)))
    return ops.spmm(alpha, h)


@pytest.mark.parametrize("kernel", GAT_KERNELS)
@pytest.mark.parametrize("p", [0.0, 0.5])
@pytest.mark.parametrize("empty_rows", [False, True])
def test_gat_attention_equals_the_eager_chain(kernel, p, empty_rows):
    a, a_src, a_dst, h = gat_inputs(empty_rows=empty_rows)
    g = sg.tensor(np.random.default_rng(1).standard_normal((9, 3, 4)))
    with sg.kernels.use(gat_attention=kernel, gat_attention_backward=kernel):
        out = fused.gat_attention(a, a_src, a_dst, h, 0.2, p, sg.Generator(5))
        grads = sg.autograd.grad(out, [a_src, a_dst, h], g)
    expected = eager_attention(a, a_src, a_dst, h, 0.2, p, 5)
    assert_close(out, expected, rtol=1e-12, atol=1e-12)
    for got, ref in zip(grads, sg.autograd.grad(expected, [a_src, a_dst, h], g), strict=True):
        assert_close(got, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.4])
def test_gat_attention_gradcheck(p):
    a, a_src, a_dst, h = gat_inputs(n=6, heads=2, f=3)
    assert gradcheck(lambda s, d, h: fused.gat_attention(a, s, d, h, 0.2, p, sg.Generator(2)),
                     [a_src, a_dst, h])


def test_gat_attention_numba_matches_generic_float32():
    if len(GAT_KERNELS) < 2:
        pytest.skip("numba is not installed: only the generic kernel is registered")
    a, a_src, a_dst, h = gat_inputs(n=400, heads=4, f=8, dtype="float32", seed=3)
    g = sg.tensor(np.random.default_rng(2).standard_normal((400, 4, 8)).astype("float32"))
    results = []
    for kernel in ("generic", "numba"):
        with sg.kernels.use(gat_attention=kernel, gat_attention_backward=kernel):
            out = fused.gat_attention(a, a_src, a_dst, h, 0.2, 0.5, sg.Generator(4))
            results.append([out.detach()] + list(sg.autograd.grad(out, [a_src, a_dst, h], g)))
    for numba_result, generic_result in zip(results[1], results[0], strict=True):
        assert_close(numba_result, generic_result, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel", GAT_KERNELS)
@pytest.mark.parametrize("needs", [(True, True, True), (True, False, True), (True, True, False),
                                   (False, False, True)])
def test_gat_attention_backward_may_overwrite_alpha_when_told(kernel, needs, monkeypatch):
    """``alpha_reusable`` (the static runtime's one backward per context): the same gradients,
    with alpha's buffer as the only scratch (for any size of alpha here)."""
    if kernel == "numba":
        from sparsegraph.ops.sparse_kernels import numba_fused

        monkeypatch.setattr(numba_fused, "IN_PLACE_MIN_BYTES", 0)
    a, *dense = gat_inputs(n=30, heads=3, f=4, empty_rows=True)
    a_src, a_dst, h = (x.detach().numpy() for x in dense)
    s = a.structure
    t, perm = s.transpose()
    keep = np.random.default_rng(6).random((s.nnz, 3)) > 0.4
    fwd = {k.name: k.fn for k in sg.kernels.kernels("gat_attention", "cpu", "csr")}[kernel]
    bwd = {k.name: k.fn for k in sg.kernels.kernels("gat_attention_backward", "cpu", "csr")}
    _, alpha, positive = fwd(s.indptr, s.indices, s.rows(), a_src, a_dst, h, 0.2, keep, 2.5)
    g = np.random.default_rng(7).standard_normal(h.shape)
    args = (s.indptr, s.indices, t.indptr, t.indices, perm)
    rest = (keep, positive, 2.5, 0.2, g, h) + needs
    want = bwd["generic"](*args, alpha.copy(), *rest)
    scratch = alpha.copy()
    got = bwd[kernel](*args, scratch, *rest, alpha_reusable=True)
    for x, y in zip(got, want, strict=True):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
    if kernel == "numba" and needs[0]:
        assert not np.array_equal(scratch, alpha)  # it did take the buffer


def test_gat_attention_validation():
    a, a_src, a_dst, h = gat_inputs()
    with pytest.raises(ValueError, match="`h` \\(M, H, F\\)"):
        fused.gat_attention(a, a_src, a_dst, h.reshape((9, 12)))
    with pytest.raises(ValueError, match="`p` in \\[0, 1\\)"):
        fused.gat_attention(a, a_src, a_dst, h, p=1.5)
    with pytest.raises(TypeError, match="SparseTensor"):
        fused.gat_attention(h, a_src, a_dst, h)


SCORE_KERNELS = sorted(k.name for k in sg.kernels.kernels("head_scores", "cpu"))
assert SCORE_KERNELS == sorted(k.name for k in sg.kernels.kernels("head_scores_backward", "cpu"))


@pytest.mark.parametrize("kernel", SCORE_KERNELS)
@pytest.mark.parametrize("p", [0.0, 0.4])
@pytest.mark.parametrize("need_h", [True, False])
def test_gat_feature_attention_equals_einsum_scores_then_attention(kernel, p, need_h):
    a, _, _, h = gat_inputs(n=11, heads=2, f=3, empty_rows=True)
    h.requires_grad = need_h
    att_src, att_dst = leaf((1, 2, 3), 7), leaf((1, 2, 3), 8)
    with sg.kernels.use(head_scores=kernel, head_scores_backward=kernel):
        out = gat_scores.gat_feature_attention(a, h, att_src, att_dst, 0.2, p, sg.Generator(4))
    expected = fused.gat_attention(a, ops.einsum("nhf,ohf->nh", h, att_src),
                                   ops.einsum("nhf,ohf->nh", h, att_dst), h, 0.2, p,
                                   sg.Generator(4))
    assert_close(out, expected, rtol=1e-12, atol=1e-12)
    g = sg.tensor(np.random.default_rng(5).standard_normal(out.shape))
    wrt = [att_src, att_dst] + ([h] if need_h else [])
    with sg.kernels.use(head_scores=kernel, head_scores_backward=kernel):
        grads = sg.autograd.grad(out, wrt, g)
    for got, want in zip(grads, sg.autograd.grad(expected, wrt, g), strict=True):
        assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_gat_feature_attention_gradcheck_kernel_parity_and_validation():
    a, _, _, h = gat_inputs(n=7, heads=2, f=3)
    att_src, att_dst = leaf((1, 2, 3), 7), leaf((1, 2, 3), 8)
    assert gradcheck(lambda h, s, d: gat_scores.gat_feature_attention(
        a, h, s, d, 0.2, 0.3, sg.Generator(1)), [h, att_src, att_dst])
    rng = np.random.default_rng(0)  # numba against generic on more rows than one block
    h32 = rng.standard_normal((1500, 4, 5)).astype(np.float32)
    att = rng.standard_normal((2, 4, 5)).astype(np.float32)
    g = rng.standard_normal((2, 1500, 4)).astype(np.float32)
    outs = {k.name: k.fn(h32, att[0], att[1]) for k in sg.kernels.kernels("head_scores", "cpu")}
    backs = {k.name: k.fn(h32, att[0], att[1], g[0], g[1], np.ones_like(h32), (True,) * 3)
             for k in sg.kernels.kernels("head_scores_backward", "cpu")}
    for name in SCORE_KERNELS:
        for got, want in zip(outs[name], outs["generic"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        for got, want in zip(backs[name], backs["generic"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="`att_dst` of shape \\(1, 2, 3\\)"):
        gat_scores.gat_feature_attention(a, h, att_src, leaf((1, 2, 4), 1))
    with pytest.raises(ValueError, match="square `adj` of shape \\(7, 7\\)"):
        gat_scores.gat_feature_attention(random_sparse(7, 5, 0.3), h, att_src, att_dst)
    with pytest.raises(TypeError, match="`h` to be an \\(N, H, F\\) Tensor"):
        gat_scores.gat_feature_attention(a, h[:, 0], att_src, att_dst)
    with pytest.raises(ValueError, match="`p` in \\[0, 1\\)"):
        gat_scores.gat_feature_attention(a, h, att_src, att_dst, p=1.0)


def test_fused_ops_refuse_mixed_dtypes_and_non_tensors_by_name():
    """A mixed pair would upcast the forward and fail only in backward; say so at the call."""
    v = sg.tensor(np.array([1.0, 2.0, 3.0, 4.0], np.float32), requires_grad=True)
    a = sg.sparse_csr([0, 1, 2, 4], [1, 0, 2, 0], v, (3, 3))
    x32, x64 = sg.randn(3, 2), sg.randn(3, 2, dtype="float64")
    with pytest.raises(TypeError, match=r"spmm_bias_act: expected `x` with the dtype of `a`"):
        fused.spmm_bias_act(a, x64)
    with pytest.raises(TypeError, match=r"spmm_bias_act: expected `bias` with the dtype"):
        fused.spmm_bias_act(a, x32, sg.ones(2, dtype="float64"))
    with pytest.raises(TypeError, match=r"spmm_bias_act: expected `bias` to be a Tensor"):
        fused.spmm_bias_act(a, x32, np.ones(2, np.float32))
    with pytest.raises(TypeError, match=r"spmm_bias_act: expected a number `p`"):
        fused.spmm_bias_act(a, x32, p="0.1")
    with pytest.raises(TypeError, match=r"values of shape \(4, 2\)"):
        fused.spmm_bias_act(a.with_values(sg.ones(4, 2)), x32)
    h = sg.randn(3, 1, 2)
    with pytest.raises(TypeError, match=r"gat_attention: expected `a_dst` with the dtype of `h`"):
        fused.gat_attention(a, sg.randn(3, 1), sg.randn(3, 1, dtype="float64"), h)
    with pytest.raises(TypeError, match=r"gat_attention: expected `h` to be a Tensor"):
        fused.gat_attention(a, sg.randn(3, 1), sg.randn(3, 1), np.ones((3, 1, 2)))
    with pytest.raises(TypeError, match=r"gat_feature_attention: expected `att_src` with"):
        gat_scores.gat_feature_attention(a, h, sg.randn(1, 1, 2, dtype="float64"),
                                         sg.randn(1, 1, 2))
    with pytest.raises(TypeError, match=r"edge_sum: expected `src_term` to be a Tensor"):
        ops.edge_sum(a, np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match=r"dropout_matmul: expected `w` with the dtype of `x`"):
        fused.dropout_matmul(x32, sg.randn(2, 2, dtype="float64"), 0.5)
