"""sg.nn.Embedding and sg.nn.functional.embedding, against torch.nn.Embedding's behaviour:
shapes, N(0, 1) initialisation, padding_idx, gradients accumulated over repeated indices
(float64 central differences), from_pretrained, and the refused inputs."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph.testing import gradcheck


def table(n=6, d=3, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal((n, d)), requires_grad=requires_grad)


@pytest.mark.parametrize("idx_shape", [(), (5,), (2, 3), (2, 0, 4), (3, 2, 2)], ids=str)
def test_any_index_shape_gives_rows_of_the_weight(idx_shape):
    emb = sg.nn.Embedding(7, 4)
    idx = np.random.default_rng(1).integers(0, 7, idx_shape)
    for index in (sg.tensor(idx), idx.astype(np.int32)):
        out = emb(index)
        assert out.shape == (*idx_shape, 4) and out.dtype == np.float32
        np.testing.assert_array_equal(out.detach().numpy(), emb.weight.detach().numpy()[idx])


def test_weight_is_drawn_from_a_standard_normal_with_the_default_generator():
    sg.manual_seed(3)
    a = sg.nn.Embedding(400, 50)
    sg.manual_seed(3)
    b = sg.nn.Embedding(400, 50)
    w = a.weight.detach().numpy()
    np.testing.assert_array_equal(w, b.weight.detach().numpy())
    assert a.weight.shape == (400, 50) and a.weight.requires_grad
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1.0) < 0.02  # 20,000 draws: N(0, 1)
    assert not np.array_equal(w, sg.nn.Embedding(400, 50).weight.detach().numpy())


def test_repeated_indices_accumulate_their_gradients():
    w = table(5, 3)
    idx = sg.tensor([[0, 2, 2], [4, 2, 0]])
    g = np.random.default_rng(2).standard_normal((2, 3, 3))
    F.embedding(idx, w).backward(sg.tensor(g))
    expected = np.zeros((5, 3))
    np.add.at(expected, idx.numpy(), g)
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("scale", [False, True])
def test_gradients_match_central_differences(padding_idx, scale):
    w = table(5, 3)
    idx = sg.tensor([[0, 2, 2], [4, 2, 1]])
    if padding_idx is None and not scale:
        assert gradcheck(lambda t: F.embedding(idx, t), [w])
        return
    # padding_idx and scale_grad_by_freq change the gradient on purpose (as in PyTorch): the
    # check is against the plain gradient, scaled or masked
    u = np.random.default_rng(3).standard_normal((2, 3, 3))
    F.embedding(idx, w, padding_idx=padding_idx, scale_grad_by_freq=scale).backward(sg.tensor(u))
    plain = np.zeros((5, 3))
    np.add.at(plain, idx.numpy(), u)
    if scale:
        plain /= np.maximum(np.bincount(idx.numpy().ravel(), minlength=5), 1)[:, None]
    if padding_idx is not None:
        plain[padding_idx] = 0
    np.testing.assert_allclose(w.grad.numpy(), plain, rtol=1e-12)


def test_padding_row_starts_at_zero_and_receives_no_gradient():
    sg.manual_seed(0)
    emb = sg.nn.Embedding(5, 3, padding_idx=1)
    np.testing.assert_array_equal(emb.weight.detach().numpy()[1], 0)
    out = emb(sg.tensor([1, 0, 1, 3]))
    np.testing.assert_array_equal(out.detach().numpy()[[0, 2]], 0)
    (out * 2).sum().backward()
    grad = emb.weight.grad.numpy()
    np.testing.assert_array_equal(grad[1], 0)
    np.testing.assert_array_equal(grad[0], 2)
    np.testing.assert_array_equal(grad[3], 2)
    assert sg.nn.Embedding(5, 3, padding_idx=-2).padding_idx == 3
    assert "padding_idx=1" in repr(emb)


def test_from_pretrained_shares_the_weight_and_freezes_it_by_default():
    w = sg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    emb = sg.nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    assert (emb.num_embeddings, emb.embedding_dim) == (3, 2)
    np.testing.assert_array_equal(emb(sg.tensor([2, 0])).numpy(), [[5, 6], [1, 2]])
    w.array[0, 0] = 10.0  # shared memory, as torch.nn.Parameter
    assert emb.weight.numpy()[0, 0] == 10.0
    trained = sg.nn.Embedding.from_pretrained(np.ones((3, 2)), freeze=False, padding_idx=0)
    assert trained.weight.requires_grad and trained.weight.dtype == np.float64
    np.testing.assert_array_equal(trained.weight.detach().numpy()[0], 1.0)  # kept as given
    trained(sg.tensor([0, 1])).sum().backward()
    np.testing.assert_array_equal(trained.weight.grad.numpy(), [[0, 0], [1, 1], [0, 0]])


def test_state_dict_round_trip():
    a, b = sg.nn.Embedding(4, 2), sg.nn.Embedding(4, 2)
    b.load_state_dict(a.state_dict())
    assert list(a.state_dict()) == ["weight"]
    np.testing.assert_array_equal(a.weight.detach().numpy(), b.weight.detach().numpy())


def test_changing_the_indices_in_place_before_backward_raises():
    w = table(4, 2)
    idx = sg.tensor([0, 1])
    out = F.embedding(idx, w)
    idx.add_(1)
    with pytest.raises(RuntimeError, match="in-place"):
        out.sum().backward()


@pytest.mark.parametrize("index, error, match", [
    (sg.tensor([0, 6]), ValueError, r"embedding: expected indices in \[0, 6\).*max 6"),
    (sg.tensor([-1, 0]), ValueError, r"embedding: expected indices in \[0, 6\).*min -1"),
    (sg.tensor([0.0, 1.0]), TypeError, r"embedding: expected integer indices .*float32"),
    (sg.tensor([True, False]), TypeError, r"embedding: expected integer indices .*bool"),
    ([0, 1], TypeError, r"embedding: expected `input` to be an integer Tensor or array"),
])
def test_bad_indices_are_refused_by_name(index, error, match):
    with pytest.raises(error, match=match):
        sg.nn.Embedding(6, 2)(index)


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match=r"Embedding: expected padding_idx in \[-4, 4\)"):
        sg.nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(TypeError, match=r"Embedding: expected an int num_embeddings"):
        sg.nn.Embedding(4.0, 2)
    with pytest.raises(ValueError, match=r"Embedding: expected embedding_dim >= 0"):
        sg.nn.Embedding(4, -1)
    with pytest.raises(ValueError, match=r"from_pretrained: expected 2-D embeddings"):
        sg.nn.Embedding.from_pretrained(sg.ones(3))
    with pytest.raises(ValueError, match=r"embedding: expected a 2-D `weight`"):
        F.embedding(sg.tensor([0]), sg.ones(3))
    with pytest.raises(TypeError, match=r"embedding: expected `weight` to be a Tensor"):
        F.embedding(sg.tensor([0]), np.ones((3, 2)))


def test_exported_names():
    assert "Embedding" in sg.nn.__all__ and "embedding" in F.__all__
    assert sg.nn.Embedding(3, 2, dtype="float64").weight.dtype == np.float64


def test_max_norm_renormalises_the_looked_up_rows_in_place_as_torch():
    w = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0], [1.0, 0.0]])
    emb = sg.nn.Embedding.from_pretrained(sg.tensor(w.copy()), freeze=False, max_norm=1.0)
    out = emb(sg.tensor([0, 1, 0])).detach().numpy()
    # torch: rows with norm > max_norm scaled by max_norm / (norm + 1e-7), only rows looked up
    want = w.copy()
    want[0] *= 1.0 / (5.0 + 1e-7)
    np.testing.assert_allclose(out, want[[0, 1, 0]], rtol=1e-12)
    np.testing.assert_allclose(emb.weight.detach().numpy(), want, rtol=1e-12)  # row 2 untouched
    l1 = sg.nn.Embedding.from_pretrained(sg.tensor(w.copy()), max_norm=2.0, norm_type=1.0)
    np.testing.assert_allclose(l1(sg.tensor([2])).numpy(), [w[2] * 2.0 / (14.0 + 1e-7)])
    assert "max_norm=2.0, norm_type=1.0" in repr(l1)


def test_torchs_positional_order_and_sparse_flag():
    emb = sg.nn.Embedding(5, 3, None, 1.5)  # torch's 4th positional argument is max_norm
    assert emb.max_norm == 1.5 and emb.scale_grad_by_freq is False
    assert sg.nn.Embedding(5, 3, sparse=True).sparse is True  # for optim.SparseAdam
    with pytest.raises(ValueError, match="`max_norm` to be a positive number"):
        sg.nn.Embedding(5, 3, max_norm=-1)


def test_from_pretrained_takes_lists_and_names_itself_for_int_weights():
    emb = sg.nn.Embedding.from_pretrained([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(emb(sg.tensor([1])).numpy(), [[3.0, 4.0]])
    with pytest.raises(TypeError, match=r"from_pretrained: expected floating-point embeddings"):
        sg.nn.Embedding.from_pretrained(np.array([[1, 2]]), freeze=False)


def test_max_norm_inside_a_compiled_step_is_refused():
    from sparsegraph import static

    emb = sg.nn.Embedding(4, 2, max_norm=1.0)

    def step(i):
        emb.zero_grad()
        emb(i).sum().backward()

    with pytest.raises(static.CaptureError, match=r"max_norm"):
        static.trace(step, sg.tensor([0, 1]))
