"""Tensor basics and creation functions."""

import numpy as np
import pytest

import sparsegraph as sg


def test_default_dtypes_follow_pytorch():
    assert sg.tensor([1.0, 2.0]).dtype == np.float32
    assert sg.tensor([1, 2]).dtype == np.int64
    assert sg.tensor([True, False]).dtype == np.bool_
    assert sg.tensor(np.arange(3, dtype=np.float64)).dtype == np.float64
    assert sg.tensor([1, 2], dtype="float64").dtype == np.float64
    assert sg.tensor([1.0], dtype=sg.float64).dtype == sg.float64
    assert sg.zeros(2, 3).dtype == np.float32 and sg.zeros(2, 3).shape == (2, 3)
    assert sg.arange(5).dtype == np.int64 and sg.arange(0.0, 1.0, 0.25).shape == (4,)


def test_tensor_copies_its_input():
    a = np.ones(3, np.float32)
    t = sg.tensor(a)
    a[0] = 5
    assert t.numpy()[0] == 1


def test_metadata_and_conversions():
    t = sg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.dim() == 2 and t.numel() == 6
    assert t.size() == (2, 3) and t.size(1) == 3 and len(t) == 2
    assert t.device == "cpu"
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert np.asarray(t).shape == (2, 3)
    assert sg.tensor([3.5]).item() == 3.5
    with pytest.raises(ValueError, match="one element"):
        t.item()
    assert t.to("float64").dtype == np.float64 and t.double().dtype == np.float64
    assert t.long().dtype == np.int64 and t.to(sg.int32).dtype == np.int32
    assert t.to("cpu") is t


def test_repr_like_torch():
    assert repr(sg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "dtype=float64" in repr(sg.tensor([1.0], dtype="float64"))
    assert repr(sg.tensor([1.0], requires_grad=True)).endswith("requires_grad=True)")


def test_clone_is_differentiable_and_independent():
    x = sg.randn(3, requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.array, x.array)
    c.backward(sg.ones(3))
    np.testing.assert_allclose(x.grad.numpy(), np.ones(3))


def test_cast_to_float64_is_differentiable():
    x = sg.randn(3, requires_grad=True)
    y = x.to("float64")
    assert y.dtype == np.float64
    y.backward(sg.ones(3, dtype="float64"))
    assert x.grad.dtype == np.float32


def test_seeded_random_is_reproducible_and_generators_are_independent():
    sg.manual_seed(3)
    a = sg.randn(4, 2)
    sg.manual_seed(3)
    b = sg.randn(4, 2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    g1, g2 = sg.Generator(7), sg.Generator(7)
    np.testing.assert_array_equal(sg.rand(5, generator=g1).numpy(),
                                  sg.rand(5, generator=g2).numpy())
    assert sg.randn(3, dtype="float64").dtype == np.float64
    r = sg.rand(1000).numpy()
    assert r.min() >= 0 and r.max() < 1
    assert sorted(sg.randperm(6).tolist()) == list(range(6))


def test_like_functions():
    t = sg.randn(2, 3, dtype="float64")
    assert sg.zeros_like(t).dtype == np.float64 and sg.ones_like(t).shape == (2, 3)
    assert sg.full_like(t, 7).numpy()[0, 0] == 7
    assert sg.randn_like(t).shape == (2, 3)
    assert sg.eye(3).numpy().trace() == 3
    assert sg.full((2,), 1).dtype == np.int64


def test_bad_inputs():
    with pytest.raises(TypeError, match="dtype"):
        sg.tensor([1.0], dtype="complex128")
    with pytest.raises(TypeError, match="numeric"):
        sg.tensor(["a"])
    with pytest.raises(ValueError, match="non-negative"):
        sg.zeros(-1)
    with pytest.raises(ValueError, match="device"):
        sg.tensor([1.0], device="tpu")
    with pytest.raises(TypeError, match="floating"):
        sg.randn(2, dtype="int64")


@pytest.mark.parametrize("call, exc, match", [
    (lambda: sg.zeros(2, 2.5), TypeError, r"zeros: expected `size` to be an int \(got float 2.5\)"),
    (lambda: sg.zeros(2.5), TypeError, r"zeros: expected the size as ints or one sequence of "
                                       r"ints \(got float 2.5\)"),
    (lambda: sg.ones(-1), ValueError, r"ones: expected non-negative dimensions \(got \(-1,\)\)"),
    (lambda: sg.full(2, "a"), TypeError, r"full: expected `fill_value` to be a number \(got str"),
    (lambda: sg.arange(0, 1, 0), ValueError, r"arange: expected a nonzero `step` \(got 0\)"),
    (lambda: sg.eye(-1), ValueError, r"eye: expected non-negative `n` and `m` \(got n=-1"),
    (lambda: sg.eye(2.5), TypeError, r"eye: expected `n` to be an int \(got float 2.5\)"),
    (lambda: sg.randperm(-1), ValueError, r"randperm: expected a non-negative `n` \(got -1\)"),
    (lambda: sg.randint(5, 5, size=(3,)), ValueError,
     r"randint: expected `low` < `high` \(got low=5, high=5\)"),
], ids=["zeros-float-dim", "zeros-float", "ones-negative", "full-str", "arange-step-0",
        "eye-negative", "eye-float", "randperm-negative", "randint-empty-range"])
def test_creation_rejects_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_non_int_dim_is_a_type_error():
    with pytest.raises(TypeError, match=r"softmax: expected `dim` to be an int \(got float"):
        sg.softmax(sg.ones(2, 3), 1.5)


def test_sg_testing_is_reachable_without_importing_it_first():
    """Issue 2 spells it `sg.testing.gradcheck` after `import sparsegraph as sg`; a fresh
    interpreter, since this test session has imported sparsegraph.testing already."""
    import subprocess
    import sys

    code = ("import sys, sparsegraph as sg; assert 'sparsegraph.testing' not in sys.modules; "
            "print(sg.testing.gradcheck.__name__, sg.testing.assert_close.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["gradcheck", "assert_close"]


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("correction", [0, 1, 2.5])
def test_var_std_methods_take_correction_like_the_functional_forms(name, correction):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 5))
    x = sg.tensor(a, dtype=sg.float64)
    ref = ((a - a.mean(axis=0)) ** 2).sum(axis=0) / (4 - correction)
    ref = ref if name == "var" else np.sqrt(ref)
    np.testing.assert_allclose(getattr(x, name)(dim=0, correction=correction).numpy(), ref)
    np.testing.assert_allclose(getattr(x, name)(0, keepdim=True, correction=correction).numpy(),
                               ref[None])
    np.testing.assert_allclose(getattr(x, name)(0, unbiased=False).numpy(),
                               getattr(sg.ops, name)(x, 0, correction=0).numpy())


def test_gather_method_takes_the_rows_form_like_the_functional_form():
    x = sg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    idx = sg.tensor([2, 0, 2])
    np.testing.assert_array_equal(x.gather(idx).numpy(), [[5, 6], [1, 2], [5, 6]])
    np.testing.assert_array_equal(x.gather(1, sg.tensor([[1], [0], [1]])).numpy(),
                                  [[2], [3], [6]])


# Tensor methods whose parameters differ from their functional form's on purpose: the shape
# methods also take the sizes spread out (`x.reshape(2, 3)`), `pow` names its operand
# `exponent` and `where` takes the condition first, both as PyTorch's methods do; `relu` has no
# `inplace` (PyTorch's Tensor.relu has none either: the functional form's is F.relu's); `flip`
# also takes the dims spread out and `add` / `sub` take PyTorch's keyword `alpha`.
_METHOD_SIGNATURE_EXCEPTIONS = {"reshape", "view", "permute", "expand", "pow", "where", "relu",
                                "flip", "add", "sub"}


def test_tensor_methods_take_the_arguments_of_their_functional_forms():
    import inspect

    drift = []
    for name in dir(sg.Tensor):
        method, fn = getattr(sg.Tensor, name, None), getattr(sg.ops, name, None)
        if name.startswith("_") or name in _METHOD_SIGNATURE_EXCEPTIONS or not (
                inspect.isfunction(method) and inspect.isfunction(fn)):
            continue
        params = [(p.name, p.default, p.kind) for p in
                  list(inspect.signature(method).parameters.values())[1:]]
        expected = [(p.name, p.default, p.kind) for p in
                    list(inspect.signature(fn).parameters.values())[1:]]
        if params != expected:
            drift.append(f"Tensor.{name}{params} vs ops.{name}{expected}")
    assert not drift, "\n".join(drift)


# ---- to(): device vs dtype strings (audit item 6) ----------------------------------------------
def test_to_with_an_unknown_string_says_device_or_dtype():
    msg = r"to: expected a device \('cpu', 'cuda' or 'cuda:N'\) or a dtype name .* \(got 'tpu'\)"
    with pytest.raises(TypeError, match=msg):
        sg.ones(2).to("tpu")
    with pytest.raises(TypeError, match=msg):
        sg.nn.Linear(1, 1).to("tpu")


@pytest.mark.parametrize("args, kwargs, what", [
    (("float32", "float64"), {}, "dtype"), ((np.float32,), {"dtype": "float64"}, "dtype"),
    (("cpu", "cpu"), {}, "device"), (("cpu",), {"device": "cpu"}, "device"),
])
def test_to_refuses_two_dtypes_or_two_devices(args, kwargs, what):
    with pytest.raises(TypeError, match=f"to: expected one {what} "):
        sg.ones(2).to(*args, **kwargs)


def test_to_device_and_dtype_together_still_work():
    assert sg.ones(2).to("cpu", "float64").dtype == np.float64
    assert sg.ones(2).to(dtype="float16", device="cpu").dtype == np.float16


# ---- generator= validation (audit item 8) -------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda g: sg.randn(2, generator=g), lambda g: sg.rand(2, generator=g),
    lambda g: sg.randint(0, 3, (2,), generator=g), lambda g: sg.randperm(3, generator=g),
    lambda g: sg.nn.init.uniform_(sg.empty(2), generator=g),
    lambda g: sg.nn.functional.dropout(sg.ones(4), 0.5, True, g),
])
@pytest.mark.parametrize("bad", [np.random.default_rng(0), 1, 0, False, True, "g"])
def test_generator_must_be_a_sparsegraph_generator_or_none(call, bad):
    with pytest.raises(TypeError, match=r"expected `generator` to be a sparsegraph.Generator or "
                                        rf"None \(got {type(bad).__name__} "):
        call(bad)


def test_a_falsy_generator_is_not_replaced_by_the_default_and_none_still_is():
    sg.manual_seed(3)
    a = sg.randn(3)
    sg.manual_seed(3)
    assert sg.randn(3, generator=None).tolist() == a.tolist()
    assert sg.randn(3, generator=sg.Generator(3)).tolist() == a.tolist()


# ---- linspace, half (audit item 12) -------------------------------------------------------------
@pytest.mark.parametrize("start, end, steps, dtype", [
    (0, 1, 5, None), (-2.5, 3, 7, "float64"), (1, 1, 1, None), (0, 1, 0, None), (3, -3, 4, None),
])
def test_linspace_matches_numpy_in_the_default_float(start, end, steps, dtype):
    t = sg.linspace(start, end, steps, dtype=dtype)
    assert t.dtype == np.dtype(dtype or "float32") and t.shape == (steps,)
    np.testing.assert_allclose(t.numpy(), np.linspace(start, end, steps), rtol=1e-6)


def test_linspace_argument_errors():
    with pytest.raises(TypeError, match="linspace: expected `steps` to be an int"):
        sg.linspace(0, 1, 2.0)
    with pytest.raises(ValueError, match="linspace: expected `steps` >= 0"):
        sg.linspace(0, 1, -1)


def test_pytorch_comparison_methods_factories_and_norm():
    t = sg.tensor([[3.0, -4.0], [1.0, 2.0]], requires_grad=True)
    assert t.eq(3.0).tolist() == [[True, False], [False, False]]
    assert t.ne(3.0).tolist() == [[False, True], [True, True]]
    assert t.lt(2.0).sum().item() == 2 and t.ge(2.0).sum().item() == 2
    assert t.type_as(sg.tensor([1.0], dtype="float64")).dtype == np.float64
    z = t.new_zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == np.float32 and not z.requires_grad
    assert t.new_full((2,), 7).tolist() == [7.0, 7.0] and t.new_ones(1).tolist() == [1.0]
    assert t.new_tensor([1, 2]).dtype == np.float32 and t.half().dtype == np.float16
    a = t.detach().numpy()
    assert t.norm().item() == pytest.approx(np.linalg.norm(a))
    assert t.norm(1, dim=1).tolist() == [7.0, 3.0]
    assert t.norm(float("inf")).item() == 4.0 and t.norm(float("inf"), dim=0).tolist() == [3, 4]
    t.norm().backward()
    np.testing.assert_allclose(t.grad.numpy(), a / np.linalg.norm(a), rtol=1e-6)
    assert t.norm(0).item() == np.count_nonzero(a)  # torch's p=0: the count of nonzeros
    with pytest.raises(ValueError, match=r"norm: expected a number >= 0, inf or -inf `p`"):
        t.norm(-1)


def test_dropout_of_sparse_features_drops_their_stored_values():
    a = sg.sparse_coo([[0, 1, 1], [1, 0, 1]], [1.0, 2.0, 3.0], (2, 2))
    sg.manual_seed(0)
    out = sg.ops.dropout(a, 0.5)
    assert isinstance(out, sg.SparseTensor) and out.structure is a.structure
    kept = out.values.numpy() != 0
    np.testing.assert_allclose(out.values.numpy()[kept], a.values.numpy()[kept] * 2)
    assert sg.ops.dropout(a, 0.5, training=False) is a


# ---- format / round / index on 0-d tensors (audit core3 #7) --------------------------------------
def test_zero_dim_tensors_format_like_their_value():
    loss = sg.tensor(0.123456, requires_grad=True)
    assert f"loss {loss:.4f}" == "loss 0.1235"
    assert f"{sg.tensor(3):>3d}" == "  3" and format(sg.tensor(0.5)) == "0.5"
    assert f"{sg.tensor([1.0, 2.0])}" == repr(sg.tensor([1.0, 2.0]))  # empty spec: the repr
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        f"{sg.tensor([1.0, 2.0]):.2f}"


def test_round_builtin_rounds_half_to_even_as_a_tensor():
    r = round(sg.tensor(2.5))
    assert isinstance(r, sg.Tensor) and r.item() == 2.0
    assert round(sg.tensor(1.23456), 2).item() == pytest.approx(1.23)
    assert round(sg.tensor([0.5, 1.5, 2.6])).tolist() == [0.0, 2.0, 3.0]


def test_index_takes_zero_dim_integer_tensors_only():
    i = sg.tensor(2)
    assert [10, 20, 30][i] == 30 and list(range(i)) == [0, 1] and "abc"[sg.tensor(1)] == "b"
    assert np.arange(5)[sg.tensor([1, 3])].tolist() == [1, 3]  # still an array index
    assert np.arange(5)[sg.tensor([1])].tolist() == [1]
    for bad in (sg.tensor(1.0), sg.tensor([1]), sg.tensor([1, 2])):
        with pytest.raises(TypeError, match="only 0-d integer tensors can be converted to an "
                                            "index"):
            [1, 2][bad]


# ---- PyTorch's daily Tensor methods (audit core3 #11) --------------------------------------------
def test_pytorch_daily_methods_delegate_to_the_ops():
    rng = np.random.default_rng(3)
    x = sg.tensor(rng.uniform(0.5, 2.0, (3, 4)), dtype=sg.float64)
    a = x.numpy()
    close = np.testing.assert_allclose
    close(x.add(1).numpy(), a + 1)
    close(x.add(x, alpha=2).numpy(), 3 * a)
    close(x.sub(x, alpha=0.5).numpy(), 0.5 * a)
    close(x.mul(2).numpy(), 2 * a)
    close(x.neg().numpy(), -a)
    close(x.prod(1).numpy(), a.prod(1))
    close(x.logsumexp(1).numpy(), np.log(np.exp(a).sum(1)))
    close(x.amax(0).numpy(), a.max(0))
    close(x.amin((0, 1)).numpy(), a.min())
    assert [c.shape for c in x.chunk(2, 1)] == [(3, 2), (3, 2)]
    assert x.repeat(2, 1).shape == (6, 4)
    close(x.flip(0).numpy(), a[::-1])
    close(x.flip(0, 1).numpy(), a[::-1, ::-1])
    close(x.flip((1,)).numpy(), a[:, ::-1])
    with pytest.raises(TypeError, match="flip: expected `dims`"):
        x.flip()  # as torch: no silent no-op
    close(x.square().numpy(), a ** 2)
    close(x.log1p().numpy(), np.log1p(a))
    close(x.sin().numpy(), np.sin(a))
    close(x.cos().numpy(), np.cos(a))
    close(x.mm(x.T).numpy(), a @ a.T)
    close(x[0].dot(x[1]).numpy(), a[0] @ a[1])
    np.testing.assert_array_equal((x > 1).nonzero().numpy(), np.argwhere(a > 1))
    assert len((x > 1).nonzero(as_tuple=True)) == 2
    assert x[:, :1].expand_as(x).shape == (3, 4)
    assert x.view_as(sg.zeros(4, 3)).shape == (4, 3)
    assert [u.shape for u in x.unbind(1)] == [(3,)] * 4
    assert x.isnan().dtype == np.bool_ and not x.isinf().any() and x.isfinite().all()


def test_contiguous_returns_self_or_a_row_major_copy():
    x = sg.randn(3, 4, requires_grad=True)
    assert x.contiguous() is x
    t = x.T.contiguous()
    assert t.array.flags.c_contiguous and t.shape == (4, 3)
    t.sum().backward()
    assert x.grad.tolist() == [[1.0] * 4] * 3


def test_masked_fill_in_place_keeps_the_gradient_of_the_rest():
    w = sg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 2
    out = y.masked_fill_(sg.tensor([True, False, False]), 0.0)
    assert out is y and y.tolist() == [0.0, 4.0, 6.0]
    (y * sg.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert w.grad.tolist() == [0.0, 20.0, 200.0]
    z = sg.zeros(2, 3)
    z.masked_fill_(sg.tensor([[True], [False]]), 5.0)  # the mask broadcasts over the rows
    assert z.tolist() == [[5.0] * 3, [0.0] * 3]
    with pytest.raises(RuntimeError, match="leaf"):
        w.masked_fill_(sg.tensor([True, False, False]), 0.0)


def test_randint_takes_pytorchs_high_size_form():
    sg.manual_seed(0)
    t = sg.randint(3, (5,))
    assert t.shape == (5,) and t.dtype == np.int64 and 0 <= t.min().item() <= t.max().item() < 3
    assert sg.randint(3, [2, 2]).shape == (2, 2) and sg.randint(2, 4, (3,)).shape == (3,)
    assert sg.randint(10, size=(4,)).shape == (4,) and sg.randint(5).shape == ()
    g1, g2 = sg.Generator().manual_seed(7), sg.Generator().manual_seed(7)
    assert sg.randint(9, (6,), generator=g1).tolist() == sg.randint(
        0, 9, (6,), generator=g2).tolist()
