"""Audit fixes (nn, second round): errors name the function the user called (embedding_bag,
layer_norm / LayerNorm / BatchNorm1d, clip_grad_norm_, its refusal in a compiled step), and
the random init functions refuse non-floating tensors instead of truncating their draws."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn, static
from sparsegraph.nn import init

# ---- 1a. embedding_bag names itself for indices out of range -------------------------------


@pytest.mark.parametrize("call, got", [
    (lambda: nn.EmbeddingBag(5, 2)(sg.tensor([0, 7]), sg.tensor([0])), "max 7"),
    (lambda: nn.EmbeddingBag(5, 2, mode="sum")(sg.tensor([[0, -1], [2, 3]])), "min -1"),
    (lambda: nn.functional.embedding_bag(sg.tensor([1, 5, 2]), sg.randn(5, 2),
                                         sg.tensor([0, 2])), "max 5"),
    (lambda: nn.EmbeddingBag(5, 2, padding_idx=0)(sg.tensor([0, 9]), sg.tensor([0])), "max 9"),
])
def test_embedding_bag_out_of_range_names_embedding_bag(call, got):
    with pytest.raises(ValueError, match=r"^embedding_bag: expected indices in \[0, 5\) for a "
                                         rf"weight of 5 rows \(got {got}\)$"):
        call()


def test_embedding_bag_in_range_still_matches_numpy():
    bag = nn.EmbeddingBag(5, 3, mode="sum")
    w = bag.weight.detach().numpy()
    out = bag(sg.tensor([0, 4, 4, 1, 2]), sg.tensor([0, 3]))
    np.testing.assert_allclose(out.detach().numpy(),
                               np.stack([w[0] + 2 * w[4], w[1] + w[2]]), rtol=1e-6)


# ---- 1b. layer_norm / LayerNorm / BatchNorm1d name themselves for a non-floating input -----


@pytest.mark.parametrize("call, name, dtype", [
    (lambda: nn.functional.layer_norm(sg.tensor([[1, 2]]), (2,)), "layer_norm", "int64"),
    (lambda: nn.functional.layer_norm(sg.tensor([[True, False]]), 2), "layer_norm", "bool"),
    (lambda: nn.LayerNorm(2)(sg.tensor([[1, 2]])), "LayerNorm", "int64"),
    (lambda: nn.LayerNorm(2, elementwise_affine=False)(sg.tensor([[1, 2]], dtype=sg.int32)),
     "LayerNorm", "int32"),
    (lambda: nn.BatchNorm1d(2, affine=False, track_running_stats=False)(
        sg.tensor([[1, 2], [3, 5]])), "BatchNorm1d", "int64"),
    (lambda: nn.BatchNorm1d(2)(sg.tensor([[1, 2], [3, 5]])), "BatchNorm1d", "int64"),
])
def test_norm_layers_refuse_integer_input_under_their_name(call, name, dtype):
    with pytest.raises(TypeError, match=rf"^{name}: expected a floating `input` \(got "
                                        rf"{dtype}\); convert it with \.float\(\)"):
        call()


def test_layer_norm_of_float_input_still_matches_numpy():
    x = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    y = nn.functional.layer_norm(sg.tensor(x), (3,)).numpy()
    ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, ref, rtol=1e-10)


# ---- 1c. clip_grad_norm_ names itself for a non-finite norm -------------------------------


def _nan_grad_params():
    p = sg.zeros(2, requires_grad=True)
    (p * sg.tensor([np.nan, 1.0])).sum().backward()
    return [p]


def test_clip_grad_norm_nonfinite_names_clip_grad_norm_and_leaves_grads():
    ps = _nan_grad_params()
    before = ps[0].grad.numpy().copy()
    with pytest.raises(RuntimeError, match=r"^clip_grad_norm_: the total norm of order 2\.0 of "
                                           r"the gradients is non-finite.*"
                                           r"error_if_nonfinite=False"):
        nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(ps[0].grad.numpy(), before)
    # get_total_norm, called directly, still names itself
    with pytest.raises(RuntimeError, match=r"^get_total_norm: the total norm"):
        nn.utils.get_total_norm([ps[0].grad], error_if_nonfinite=True)


def test_clip_grad_norm_error_if_nonfinite_with_finite_norm_clips():
    p = sg.zeros(2, requires_grad=True)
    p.grad = sg.tensor([3.0, 4.0])
    total = nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-6)


# ---- 1d. in a compiled step, error_if_nonfinite=True is refused with its own reason -------


def _step_fn(error_if_nonfinite):
    sg.manual_seed(0)
    m = nn.Linear(3, 1)
    o = sg.optim.SGD(m.parameters(), lr=0.1)
    x = sg.randn(4, 3)

    def step():
        o.zero_grad()
        loss = (m(x) * 10).sum()
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=error_if_nonfinite)
        o.step()
        return loss

    return m, step


def test_compiled_clip_grad_norm_error_if_nonfinite_is_refused_with_the_reason():
    _, step = _step_fn(True)
    with pytest.raises(static.CaptureError) as info:
        static.compile(step)()
    msg = str(info.value)
    assert "clip_grad_norm_(error_if_nonfinite=True) checks the total norm" in msg
    assert "Pass error_if_nonfinite=False in a compiled step" in msg
    assert "item() reads" not in msg  # not item()'s generic refusal


def test_compiled_clip_grad_norm_without_the_check_matches_eager():
    m_eager, step_eager = _step_fn(False)
    m_comp, step_comp = _step_fn(False)
    compiled = static.compile(step_comp)
    for _ in range(3):
        step_eager()
        compiled()
    for a, b in zip(m_eager.parameters(), m_comp.parameters(), strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5)


# ---- 2. random init functions refuse non-floating tensors ---------------------------------

RANDOM_INITS = [
    ("uniform_", lambda t: init.uniform_(t, -5.0, 5.0)),
    ("normal_", lambda t: init.normal_(t, 0.0, 5.0)),
    ("xavier_uniform_", lambda t: init.xavier_uniform_(t, gain=10.0)),
    ("xavier_normal_", lambda t: init.xavier_normal_(t, gain=10.0)),
    ("kaiming_uniform_", lambda t: init.kaiming_uniform_(t, a=0.0)),
    ("kaiming_normal_", lambda t: init.kaiming_normal_(t)),
    ("orthogonal_", lambda t: init.orthogonal_(t, gain=3.0)),
    ("trunc_normal_", lambda t: init.trunc_normal_(t, std=5.0, a=-10, b=10)),
]


@pytest.mark.parametrize("name, fill", RANDOM_INITS, ids=[n for n, _ in RANDOM_INITS])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_random_inits_refuse_non_floating_tensors(name, fill, dtype):
    t = sg.zeros(3, 3, dtype=dtype)
    version = t._version[0]
    with pytest.raises(TypeError, match=rf"^init\.{name}: expected a floating tensor to fill "
                                        rf"with random values \(got {dtype}\)"):
        fill(t)
    np.testing.assert_array_equal(t.numpy(), np.zeros((3, 3), dtype))
    assert t._version[0] == version


@pytest.mark.parametrize("name, fill", RANDOM_INITS, ids=[n for n, _ in RANDOM_INITS])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_random_inits_still_fill_floating_tensors(name, fill, dtype):
    t = sg.zeros(4, 3, dtype=dtype)
    fill(t)
    assert t.dtype == np.dtype(dtype) and np.isfinite(t.numpy()).all()
    assert np.abs(t.numpy()).max() > 0


def test_orthogonal_of_float_is_still_orthogonal():
    t = sg.zeros(5, 3, dtype="float64")
    init.orthogonal_(t, gain=3.0)
    q = t.numpy()
    np.testing.assert_allclose(q.T @ q, 9.0 * np.eye(3), atol=1e-10)


def test_deterministic_inits_fill_integer_tensors_as_torch():
    t = sg.zeros(2, 3, dtype="int64")
    np.testing.assert_array_equal(init.constant_(t, 7).numpy(), np.full((2, 3), 7))
    np.testing.assert_array_equal(init.ones_(t).numpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(init.zeros_(t).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.eye_(t).numpy(), np.eye(2, 3))
    d = init.dirac_(sg.zeros(2, 2, 3, dtype="int32")).numpy()
    assert d.dtype == np.int32 and d[0, 0, 1] == 1 and d[1, 1, 1] == 1 and d.sum() == 2


def test_non_tensor_is_still_refused_first():
    with pytest.raises(TypeError, match=r"^init\.normal_: expected a Tensor to fill"):
        init.normal_(np.zeros(3))
