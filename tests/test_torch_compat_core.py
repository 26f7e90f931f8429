"""PyTorch-porting gaps in the core: setup_context Functions, once_differentiable, anomaly mode,
grad(materialize_grads=), softmax's implicit dim, einsum's list form, is_contiguous,
from_numpy / as_tensor / is_tensor."""

import warnings

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn as nn
import sparsegraph.nn.functional as F
from sparsegraph import static
from sparsegraph.testing import assert_close

# ---- setup_context-style Functions (PyTorch >= 2.0) --------------------------------------


class Mul(sg.autograd.Function):
    @staticmethod
    def forward(x, w):
        return x * w

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return g * w, g * x


def test_setup_context_function_gives_values_and_gradients():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    w = sg.tensor([3.0, 4.0], requires_grad=True)
    y = Mul.apply(x, w)
    assert y.tolist() == [3.0, 8.0] and y.grad_fn.name() == "MulBackward"
    (y * sg.tensor([1.0, 10.0])).sum().backward()
    assert x.grad.tolist() == [3.0, 40.0] and w.grad.tolist() == [1.0, 20.0]


def test_setup_context_function_passes_gradcheck():
    x = sg.randn(3, 4, dtype="float64", requires_grad=True)
    w = sg.randn(3, 4, dtype="float64", requires_grad=True)
    assert sg.autograd.gradcheck(Mul.apply, (x, w)) is True


def test_setup_context_gets_inputs_bound_with_defaults_as_torch():
    seen = []

    class Scale(sg.autograd.Function):
        @staticmethod
        def forward(x, scale=2.0):
            return x * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            seen.append((len(inputs), inputs[1], output.tolist()))
            ctx.scale = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.scale, None

    x = sg.tensor([1.0, 2.0], requires_grad=True)
    Scale.apply(x).sum().backward()
    Scale.apply(x, scale=3.0).sum().backward()
    assert seen == [(2, 2.0, [2.0, 4.0]), (2, 3.0, [3.0, 6.0])]
    assert x.grad.tolist() == [5.0, 5.0]
    with pytest.raises(TypeError, match=r"Scale.apply: the arguments do not fit forward"):
        Scale.apply(x, 1.0, 2.0)


def test_setup_context_offers_every_ctx_feature():
    log = {}

    class SortLike(sg.autograd.Function):
        @staticmethod
        def forward(x, y):
            return x * 2, sg.tensor([1, 0]), y * 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            log["needs"] = ctx.needs_input_grad
            ctx.mark_non_differentiable(output[1])
            ctx.set_materialize_grads(False)

        @staticmethod
        def backward(ctx, g0, g1, g2):
            log["grads"] = (g0 is None, g1 is None, g2 is None)
            return g0 * 2, None

    x = sg.tensor([1.0, 2.0], requires_grad=True)
    a, idx, c = SortLike.apply(x, sg.tensor([1.0, 1.0]))
    assert log["needs"] == (True, False) and not idx.requires_grad and c.requires_grad
    a.sum().backward()
    assert log["grads"] == (False, True, True)  # not materialized: None, not zeros
    assert x.grad.tolist() == [2.0, 2.0]

    class Double(sg.autograd.Function):
        @staticmethod
        def forward(x):
            x.array *= 2
            return x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.mark_dirty(inputs[0])

        @staticmethod
        def backward(ctx, g):
            return g * 2

    leaf = sg.tensor([1.0, 3.0], requires_grad=True)
    t = leaf.clone()
    version = t._version[0]
    out = Double.apply(t)
    assert out is t and t._version[0] == version + 1 and t.grad_fn.name() == "DoubleBackward"
    t.sum().backward()
    assert leaf.grad.tolist() == [2.0, 2.0] and t.tolist() == [2.0, 6.0]


class _SumAndProd(sg.autograd.Function):
    @staticmethod
    def forward(x, y):
        return x + y, x * y

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, g_sum, g_prod):  # materialized: the unused output's gradient is zeros
        x, y = ctx.saved_tensors
        return g_sum + g_prod * y, g_sum + g_prod * x


def test_setup_context_function_replays_in_a_static_graph():
    def train(compiled):
        x = sg.tensor([1.0, 2.0], requires_grad=True)
        y = sg.tensor([3.0, 4.0], requires_grad=True)
        opt = sg.optim.SGD([x, y], lr=0.1)

        def step():
            opt.zero_grad()
            _, prod = _SumAndProd.apply(x, y)
            loss = prod.sum()
            loss.backward()
            opt.step()
            return loss

        run = static.compile(step) if compiled else step
        return [float(run().item()) for _ in range(3)], x.tolist(), y.tolist()

    eager = train(False)
    assert eager[0][0] == 11.0 and eager[0][1] < eager[0][0]  # 1*3 + 2*4, then descending
    assert train(True) == eager


# ---- once_differentiable, gradcheck ----------------------------------------------------------


def test_once_differentiable_runs_backward_without_recording():
    from sparsegraph.autograd.function import once_differentiable

    class Cube(sg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = sg.tensor([1.0, 2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    assert x.grad.tolist() == [3.0, 12.0]
    assert Cube.backward.__name__ == "backward"
    ctx = sg.autograd.Context()
    ctx.save_for_backward(x)
    direct = Cube.backward(ctx, sg.ones(2, requires_grad=True))  # grad mode is on here
    assert direct.grad_fn is None and not direct.requires_grad and sg.is_grad_enabled()


def test_autograd_gradcheck_has_torchs_interface():
    from sparsegraph.testing import torch_gradcheck

    assert sg.autograd.gradcheck is torch_gradcheck
    assert "gradcheck" in sg.autograd.__all__
    x = sg.randn(3, dtype=sg.float64, requires_grad=True)
    assert sg.autograd.gradcheck(lambda t: (t * t).sum(), (x,), raise_exception=True,
                                 nondet_tol=0.0, fast_mode=True)
    wrong = lambda t: _WrongGrad.apply(t)  # noqa: E731
    assert sg.autograd.gradcheck(wrong, (x,), raise_exception=False) is False
    with pytest.raises(RuntimeError) as info:  # torch's GradcheckError is a RuntimeError
        sg.autograd.gradcheck(wrong, (x,))
    assert isinstance(info.value, sg.autograd.GradcheckError)
    with pytest.raises(NotImplementedError, match="gradgradcheck: second derivatives"):
        sg.autograd.gradgradcheck(wrong, (x,))
    with pytest.raises(NotImplementedError, match="check_forward_ad"):
        sg.autograd.gradcheck(wrong, (x,), check_forward_ad=True)


class _WrongGrad(sg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 3


# ---- anomaly mode --------------------------------------------------------------------------


def _nan_backward():
    a = sg.tensor([0.0, 1.0], requires_grad=True)
    (a.sqrt() * sg.tensor([1.0, 1.0])).sum().backward()  # d sqrt(0) = inf; * 1 ... no nan
    b = sg.tensor([0.0, 1.0], requires_grad=True)
    (b.sqrt() * 0).sum().backward()  # 0 / (2 sqrt(0)) = nan in SqrtBackward
    return b


def test_detect_anomaly_names_the_node_that_returned_nan():
    assert not sg.autograd.is_anomaly_enabled()
    assert np.isnan(_nan_backward().grad.numpy()[0])  # off by default: no error
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = sg.autograd.detect_anomaly()
    with mode:
        assert sg.autograd.is_anomaly_enabled()
        with pytest.raises(RuntimeError, match=r"^Function 'SqrtBackward' returned nan values "
                                               r"in its 0th output\.$"):
            _nan_backward()
    assert not sg.autograd.is_anomaly_enabled()


def test_set_detect_anomaly_switches_now_and_as_a_context_manager():
    try:
        sg.autograd.set_detect_anomaly(True)
        assert sg.autograd.is_anomaly_enabled()
        x = sg.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match=r"'MulBackward' returned nan values in its 1th"):
            (sg.tensor([np.nan, 1.0]) * x).sum().backward()
        with sg.autograd.set_detect_anomaly(False):
            assert not sg.autograd.is_anomaly_enabled()
            _nan_backward()
        assert sg.autograd.is_anomaly_enabled()
        with sg.autograd.set_detect_anomaly(True, check_nan=False):
            _nan_backward()  # anomaly mode on without the nan check
    finally:
        sg.autograd.set_detect_anomaly(False)
    with pytest.raises(TypeError, match=r"set_detect_anomaly: expected `mode` to be a bool "
                                        r"\(got str 'yes'\)"):
        sg.autograd.set_detect_anomaly("yes")
    assert not sg.autograd.is_anomaly_enabled()


# ---- grad(materialize_grads=) ----------------------------------------------------------------


def test_grad_materialize_grads_gives_zeros_for_unused_inputs():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    w = sg.zeros(2, 3, dtype="float64", requires_grad=True)
    gx, gw = sg.autograd.grad((x * 2).sum(), [x, w], materialize_grads=True)
    assert gx.tolist() == [2.0, 2.0]
    assert gw.shape == (2, 3) and gw.dtype == np.float64 and not gw.numpy().any()
    assert sg.autograd.grad((x * 2).sum(), [x, w], allow_unused=True)[1] is None
    with pytest.raises(ValueError, match=r"grad: expected allow_unused to be True or not passed "
                                         r"when materialize_grads=True \(got "
                                         r"allow_unused=False\)"):
        sg.autograd.grad((x * 2).sum(), [x, w], allow_unused=False, materialize_grads=True)
    with pytest.raises(RuntimeError, match=r"inputs\[1\] was not used"):
        sg.autograd.grad((x * 2).sum(), [x, w])


# ---- softmax's implicit dim ------------------------------------------------------------------


@pytest.mark.parametrize("shape, dim", [((), 0), ((5,), 0), ((2, 3), 1), ((2, 3, 4), 0),
                                        ((2, 3, 4, 5), 1)], ids=["0d", "1d", "2d", "3d", "4d"])
@pytest.mark.parametrize("form", ["F.softmax", "F.log_softmax", "nn.Softmax", "nn.LogSoftmax"])
def test_softmax_without_dim_takes_torchs_implicit_dim(shape, dim, form):
    x = sg.randn(*shape, dtype="float64")
    fn = {"F.softmax": F.softmax, "F.log_softmax": F.log_softmax,
          "nn.Softmax": nn.Softmax(), "nn.LogSoftmax": nn.LogSoftmax()}[form]
    name = "log_softmax" if "Log" in form or "log" in form else "softmax"
    with pytest.warns(UserWarning, match=rf"^Implicit dimension choice for {name} has been "
                                         r"deprecated\. Change the call to include dim=X as an "
                                         r"argument\.$") as record:
        out = fn(x)
    assert record[0].filename == __file__  # the warning points at the caller
    e = np.exp(x.numpy() - x.numpy().max(axis=dim, keepdims=True))
    ref = e / e.sum(axis=dim, keepdims=True)
    assert_close(out, np.log(ref) if name == "log_softmax" else ref)


def test_softmax_with_dim_is_unchanged_and_silent():
    x = sg.randn(2, 3, 4, dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for d in (0, 1, 2, -1):
            e = np.exp(x.numpy())
            assert_close(F.softmax(x, d), e / e.sum(axis=d, keepdims=True))
            assert_close(nn.LogSoftmax(dim=d)(x), np.log(e / e.sum(axis=d, keepdims=True)))
            assert_close(F.softmax(x, dim=d, dtype="float32"),
                         (e / e.sum(axis=d, keepdims=True)).astype(np.float32), atol=1e-6)
    with pytest.raises(TypeError, match=r"softmax: expected a floating tensor \(got int64\)"):
        F.softmax(sg.tensor([[1, 2]]))  # checked before the implicit dim is chosen


# ---- einsum's list form, is_contiguous -------------------------------------------------------


@pytest.mark.parametrize("pack", [list, tuple])
def test_einsum_takes_the_operands_as_one_sequence(pack):
    a = sg.randn(2, 3, dtype="float64", requires_grad=True)
    b = sg.randn(3, 4, dtype="float64")
    assert_close(sg.einsum("ij,ij->i", pack([a, a])), (a.detach().numpy() ** 2).sum(1))
    out = sg.einsum("ij,jk->ik", pack((a, b)))
    assert_close(out, a.detach().numpy() @ b.numpy())
    out.sum().backward()
    assert_close(a.grad, np.broadcast_to(b.numpy().sum(1), (2, 3)))
    with pytest.raises(ValueError, match="einsum: expected at least one operand"):
        sg.einsum("ij->i", pack([]))


def test_is_contiguous_follows_the_memory_order():
    a = sg.randn(3, 4)
    assert a.is_contiguous() and not a.t().is_contiguous()
    assert a.t().contiguous().is_contiguous()
    assert not a[:, ::2].is_contiguous() and a[1].is_contiguous()
    assert sg.zeros(4, 1).t().is_contiguous()  # size-1 dims do not matter, as in torch
    assert sg.zeros(0, 3).t().is_contiguous()
    assert a.is_contiguous(memory_format="contiguous_format")
    with pytest.raises(ValueError, match=r"is_contiguous: expected `memory_format` to be the "
                                         r"default contiguous_format \(got 'channels_last'\)"):
        a.is_contiguous(memory_format="channels_last")


# ---- from_numpy, as_tensor, is_tensor ----------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int64", "uint8", "bool"])
def test_from_numpy_shares_memory_and_keeps_the_dtype(dtype):
    n = np.zeros((2, 3), dtype=dtype)
    t = sg.from_numpy(n)
    assert t.dtype == np.dtype(dtype) and t.shape == (2, 3)
    t[0, 1] = 1
    assert n[0, 1] == 1
    n[1, 2] = 1
    assert t.tolist()[1][2] == 1
    view = n.T  # a strided view stays a view
    assert sg.from_numpy(view).array.base is not None and not sg.from_numpy(view).is_contiguous()


def test_from_numpy_refuses_what_it_cannot_share():
    with pytest.raises(TypeError, match=r"from_numpy: expected `ndarray` to be a numpy.ndarray "
                                        r"\(got list\)"):
        sg.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match=r"from_numpy: expected `ndarray` of a bool, integer or "
                                        r"floating dtype \(got dtype complex128"):
        sg.from_numpy(np.zeros(2, dtype=complex))
    with pytest.raises(TypeError, match=r"from_numpy: expected `ndarray` of a dtype tensors "
                                        r"hold .*got uint16\)"):
        sg.from_numpy(np.zeros(2, dtype=np.uint16))
    with pytest.raises(ValueError, match=r"from_numpy: expected `ndarray` in the machine's byte "
                                         r"order \(got dtype >f8\)"):
        sg.from_numpy(np.zeros(2, dtype=">f8"))


def test_as_tensor_copies_only_when_it_must():
    n = np.arange(3.0)
    t = sg.as_tensor(n)
    assert t.array is n and t.dtype == np.float64
    c = sg.as_tensor(n, dtype="float32")
    assert c.dtype == np.float32 and not np.shares_memory(c.array, n)
    assert sg.as_tensor(n, dtype=sg.float64, device="cpu").array is n
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    assert sg.as_tensor(x) is x and sg.as_tensor(x, dtype="float32", device="cpu") is x
    d = sg.as_tensor(x, dtype="float64")
    assert d.dtype == np.float64 and d.requires_grad  # `to`: the history is kept
    d.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    assert sg.as_tensor([1, 2]).dtype == np.int64 and sg.as_tensor(2.5).dtype == np.float32


def test_is_tensor():
    assert sg.is_tensor(sg.zeros(2)) and sg.is_tensor(nn.Parameter(sg.zeros(2)))
    assert sg.is_tensor(sg.sparse_coo(np.array([[0], [1]]), sg.tensor([1.0]), (2, 2)))
    assert not any(map(sg.is_tensor, (np.zeros(2), [1.0], 1.0, None)))
    assert {"from_numpy", "as_tensor", "is_tensor"} <= set(sg.__all__)
