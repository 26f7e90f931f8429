"""SparseAdam (torch's lazy Adam) against a numpy transcription of torch's ``sparse_adam``,
driven by the row sets of ``Embedding(sparse=True)`` lookups; the sparse flag of Embedding;
PyG's node2vec example with SparseAdam."""

import math

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import nn, optim
from sparsegraph.gnn import Node2Vec
from sparsegraph.testing import gradcheck

N, D = 12, 3


def _torch_sparse_adam(p, m, v, t, rows, values, lr, b1, b2, eps, maximize=False):
    """One step of torch's ``_functional.sparse_adam`` on the coalesced sparse gradient
    ``(rows, values)`` (unique rows), in place on float64 copies; ``t`` is the step count."""
    g = -values if maximize else values
    if rows.size == 0:
        return
    old_m, old_v = m[rows].copy(), v[rows].copy()
    upd_m = (g - old_m) * (1 - b1)
    upd_v = (g**2 - old_v) * (1 - b2)
    m[rows] += upd_m
    v[rows] += upd_v
    numer, denom = upd_m + old_m, np.sqrt(upd_v + old_v) + eps
    p[rows] += -(lr * math.sqrt(1 - b2**t) / (1 - b1**t)) * (numer / denom)


def _lookups(rng, steps):
    """Per step: 7 indices with repeats drawn from the first k rows (k random), or every fifth
    step 1-3 distinct rows, so each step touches a different subset of rows."""
    return [rng.choice(rng.integers(1, N + 1), size=7) if s % 5
            else rng.choice(N, size=rng.integers(1, 4), replace=False) for s in range(steps)]


def test_the_lookups_touch_different_row_sets():
    sets = {tuple(np.unique(i)) for i in _lookups(np.random.default_rng(1), 20)}
    assert len(sets) >= 15 and min(map(len, sets)) < N


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-12), ("float32", 2e-5)])
def test_matches_torchs_algorithm_over_20_steps_with_different_rows(maximize, dtype, rtol):
    rng = np.random.default_rng(1)
    emb = nn.Embedding(N, D, sparse=True, dtype=getattr(sg, dtype))
    lr, (b1, b2), eps = 0.1, (0.8, 0.95), 1e-6
    opt = optim.SparseAdam(emb.parameters(), lr=lr, betas=(b1, b2), eps=eps,
                           maximize=maximize)
    p = emb.weight.detach().numpy().astype(np.float64)
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, idx in enumerate(_lookups(rng, 20), start=1):
        up = rng.standard_normal((idx.shape[0], D))
        opt.zero_grad()
        (emb(sg.tensor(idx)) * sg.tensor(up, dtype=emb.weight.dtype)).sum().backward()
        rows = np.unique(idx)  # torch's coalesced sparse gradient: the looked-up rows
        values = np.zeros((N, D))
        np.add.at(values, idx, up)
        before = emb.weight.detach().numpy().copy()
        opt.step()
        _torch_sparse_adam(p, m, v, t, rows, values[rows], lr, b1, b2, eps, maximize)
        state = opt.state[emb.weight]
        assert state["step"] == t
        np.testing.assert_allclose(emb.weight.detach().numpy(), p, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(state["exp_avg"], m, rtol=rtol, atol=rtol * 1e-3)
        np.testing.assert_allclose(state["exp_avg_sq"], v, rtol=rtol, atol=rtol * 1e-3)
        untouched = np.setdiff1d(np.arange(N), rows)  # bit for bit as they were
        np.testing.assert_array_equal(emb.weight.detach().numpy()[untouched], before[untouched])
        assert (emb.weight.detach().numpy()[rows] != before[rows]).all()


def test_unlike_dense_adam_rows_left_out_of_a_step_do_not_move():
    """Dense Adam moves every row with momentum; SparseAdam leaves the rows out of the batch."""
    w0 = np.random.default_rng(0).standard_normal((N, D))
    out = {}
    for name, make in (("sparse", optim.SparseAdam), ("dense", optim.Adam)):
        w = nn.Parameter(sg.tensor(w0))
        opt = make([w], lr=0.1)
        out[name] = []
        for idx in ([0, 1, 2], [3]):
            opt.zero_grad()
            F.embedding(sg.tensor(idx), w, sparse=True).sum().backward()
            opt.step()
            out[name].append(w.detach().numpy().copy())
    (s1, s2), (d1, d2) = out["sparse"], out["dense"]
    np.testing.assert_array_equal(s2[:3], s1[:3])  # not in the second batch: kept
    assert (d2[:3] != d1[:3]).all()  # dense Adam: moved by their momentum
    np.testing.assert_array_equal(s2[4:], w0[4:])
    np.testing.assert_array_equal(d2[4:], w0[4:])
    # both bias-correct with the parameter's step count (2 for row 3's first gradient)
    np.testing.assert_allclose(s2[3], d2[3], rtol=1e-6)
    assert (s2[3] != w0[3]).all()


def test_zero_gradient_counts_a_step_but_moves_nothing_and_none_is_skipped():
    w = nn.Parameter(sg.tensor(np.arange(6.0).reshape(3, 2)))
    opt = optim.SparseAdam([w])
    w.grad = sg.zeros(3, 2, dtype=sg.float64)
    opt.step()
    assert opt.state[w]["step"] == 1  # torch: counted, then the empty gradient is skipped
    np.testing.assert_array_equal(w.detach().numpy(), np.arange(6.0).reshape(3, 2))
    w.grad = None
    opt.step()
    assert opt.state[w]["step"] == 1


def test_dense_parameters_are_accepted_row_by_row():
    """A 1-D parameter (e.g. a bias) is updated element by element, a 0-d one as a whole."""
    b = nn.Parameter(sg.tensor([1.0, 2.0, 3.0]))
    s = nn.Parameter(sg.tensor(5.0))
    opt = optim.SparseAdam([b, s], lr=0.5)
    b.grad, s.grad = sg.tensor([0.0, 4.0, 0.0]), sg.tensor(-2.0)
    opt.step()
    step = 0.5 * math.sqrt(1 - 0.999) / (1 - 0.9)  # lr sqrt(1 - b2^1) / (1 - b1^1)
    m, v = 0.1 * 4.0, 0.001 * 16.0
    np.testing.assert_allclose(b.detach().numpy(), [1.0, 2.0 - step * m / (math.sqrt(v) + 1e-8),
                                                    3.0], rtol=1e-6)
    m, v = 0.1 * -2.0, 0.001 * 4.0
    np.testing.assert_allclose(s.detach().numpy(), 5.0 - step * m / (math.sqrt(v) + 1e-8),
                               rtol=1e-6)
    assert b.detach().numpy()[0] == 1.0 and b.detach().numpy()[2] == 3.0


def _train(opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs, strict=True):
            p.grad = sg.tensor(g)
        opt.step()


def _grads(rng, shapes, steps):
    out = []
    for _ in range(steps):
        gs = []
        for shape in shapes:
            g = rng.standard_normal(shape)
            g[rng.random(shape[0]) < 0.5] = 0  # about half the rows absent each step
            gs.append(g)
        out.append(gs)
    return out


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((N, D))
    grads = _grads(rng, [(N, D)], 10)
    a = nn.Parameter(sg.tensor(w0))
    opt_a = optim.SparseAdam([a], lr=0.05, betas=(0.5, 0.9))
    _train(opt_a, [a], grads[:5])
    saved = opt_a.state_dict()
    assert saved["state"][0]["step"] == 5 and saved["param_groups"][0]["betas"] == (0.5, 0.9)
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    b = nn.Parameter(sg.tensor(a.detach().numpy().copy()))
    opt_b = optim.SparseAdam([b])  # defaults replaced by the loaded options
    opt_b.load_state_dict(saved)
    assert opt_b.param_groups[0]["lr"] == 0.05
    _train(opt_a, [a], grads[5:])
    _train(opt_b, [b], grads[5:])
    np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy())
    assert opt_b.state[b]["step"] == 10
    fresh = nn.Parameter(sg.tensor(w0))
    _train(optim.SparseAdam([fresh]), [fresh], grads[5:])  # without the state: different
    assert not np.allclose(fresh.detach().numpy(), a.detach().numpy())


def test_parameter_groups_use_their_own_options():
    rng = np.random.default_rng(4)
    x, y = nn.Parameter(sg.tensor(rng.standard_normal((5, 2)))), nn.Parameter(
        sg.tensor(rng.standard_normal((4, 3))))
    opt = optim.SparseAdam([{"params": [x]}, {"params": [y], "lr": 0.3, "betas": (0.5, 0.6)}],
                           lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.3]
    assert opt.param_groups[0]["betas"] == (0.9, 0.999) and opt.param_groups[1]["eps"] == 1e-8
    grads = _grads(rng, [(5, 2), (4, 3)], 6)
    refs = []
    for p, k, (lr, b1, b2) in ((x, 0, (0.01, 0.9, 0.999)), (y, 1, (0.3, 0.5, 0.6))):
        q = p.detach().numpy().copy()
        m, v = np.zeros_like(q), np.zeros_like(q)
        for t, gs in enumerate(grads, start=1):
            rows = np.flatnonzero(gs[k].any(axis=1))
            _torch_sparse_adam(q, m, v, t, rows, gs[k][rows], lr, b1, b2, 1e-8)
        refs.append(q)
    _train(opt, [x, y], grads)
    np.testing.assert_allclose(x.detach().numpy(), refs[0], rtol=1e-12)
    np.testing.assert_allclose(y.detach().numpy(), refs[1], rtol=1e-12)
    z = nn.Parameter(sg.zeros(2, 2))
    opt.add_param_group({"params": z, "maximize": True})
    assert opt.param_groups[2]["lr"] == 0.01 and opt.param_groups[2]["maximize"] is True
    assert "SparseAdam (" in repr(opt)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(lr=0.0), ValueError, r"SparseAdam: expected lr > 0 \(got 0.0\)"),
    (dict(lr=-1e-3), ValueError, r"SparseAdam: expected lr > 0 \(got -0.001\)"),
    (dict(eps=0.0), ValueError, r"SparseAdam: expected eps > 0 \(got 0.0\)"),
    (dict(eps=-1e-8), ValueError, r"SparseAdam: expected eps > 0"),
    (dict(betas=(1.0, 0.999)), ValueError, r"SparseAdam: expected betas in \[0, 1\)"),
    (dict(betas=(0.9, -0.1)), ValueError, r"SparseAdam: expected betas in \[0, 1\)"),
    (dict(betas=0.9), TypeError, r"SparseAdam: expected betas to be a pair of numbers"),
    (dict(lr="0.1"), TypeError, r"SparseAdam: expected a number for lr \(got str"),
    (dict(maximize="no"), TypeError, r"SparseAdam: expected a bool for maximize"),
])
def test_bad_options_are_refused_as_torch_does(kwargs, error, match):
    with pytest.raises(error, match=match):
        optim.SparseAdam([nn.Parameter(sg.zeros(2, 2))], **kwargs)


def test_bad_groups_and_params_are_refused():
    w = nn.Parameter(sg.zeros(2, 2))
    opt = optim.SparseAdam([w])
    with pytest.raises(ValueError, match=r"SparseAdam: expected lr > 0 \(got 0\)"):
        opt.add_param_group({"params": [nn.Parameter(sg.zeros(1))], "lr": 0})
    with pytest.raises(ValueError, match=r"SparseAdam: got an empty parameter list"):
        optim.SparseAdam([])
    with pytest.raises(ValueError, match=r"not from a SparseAdam"):
        opt.load_state_dict(optim.SGD([w], lr=0.1).state_dict())


def test_exported_under_torchs_name_with_torchs_signature():
    assert "SparseAdam" in optim.__all__ and optim.SparseAdam is sg.optim.SparseAdam
    opt = optim.SparseAdam([nn.Parameter(sg.zeros(1))], 0.02, (0.8, 0.9), 1e-7, True)
    assert {k: v for k, v in opt.defaults.items()} == dict(lr=0.02, betas=(0.8, 0.9), eps=1e-7,
                                                          maximize=True)


# ---- Embedding(sparse=True) ----------------------------------------------------------------
@pytest.mark.parametrize("padding_idx,scale", [(None, False), (2, True)])
def test_sparse_embedding_forward_and_gradient_equal_the_dense_ones(padding_idx, scale):
    idx = sg.tensor([[0, 2, 2], [5, 0, 1]])
    up = sg.tensor(np.random.default_rng(5).standard_normal((2, 3, 4)).astype(np.float32))
    out = {}
    for sparse in (False, True):
        sg.manual_seed(7)
        emb = nn.Embedding(6, 4, padding_idx=padding_idx, scale_grad_by_freq=scale,
                           sparse=sparse)
        y = emb(idx)
        (y * up).sum().backward()
        out[sparse] = (y.detach().numpy(), emb.weight.grad.numpy())
        assert emb.sparse is sparse
    np.testing.assert_array_equal(out[True][0], out[False][0])
    np.testing.assert_array_equal(out[True][1], out[False][1])
    absent = [3, 4] + ([] if padding_idx is None else [padding_idx])
    assert not out[True][1][absent].any() and out[True][1][[0, 1, 5]].all()


def test_sparse_embedding_gradcheck(float64_default):
    w = sg.tensor(np.random.default_rng(6).standard_normal((5, 3)), requires_grad=True)
    gradcheck(lambda w: F.embedding(sg.tensor([[4, 0], [4, 2]]), w, sparse=True), [w])


def test_sparse_flag_repr_from_pretrained_and_type_check():
    emb = nn.Embedding(4, 2, sparse=True)
    assert repr(emb) == "Embedding(4, 2, sparse=True)" and repr(nn.Embedding(4, 2)) == \
        "Embedding(4, 2)"
    assert nn.Embedding.from_pretrained(sg.ones(3, 2), sparse=True).sparse is True
    with pytest.raises(TypeError, match=r"Embedding: expected .*sparse"):
        nn.Embedding(4, 2, sparse="yes")
    with pytest.raises(TypeError, match=r"embedding: expected .*sparse"):
        F.embedding(sg.tensor([0]), emb.weight, sparse=1)


def test_sparse_embedding_bag_is_accepted_with_the_dense_gradient():
    idx, off = sg.tensor([0, 2, 2, 3]), sg.tensor([0, 1])
    grads = []
    for sparse in (False, True):
        sg.manual_seed(8)
        bag = nn.EmbeddingBag(5, 3, mode="sum", sparse=sparse)
        bag(idx, off).sum().backward()
        grads.append(bag.weight.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    assert not grads[1][[1, 4]].any()


# ---- PyG's examples/node2vec.py ---------------------------------------------------------------
def test_node2vec_step_moves_only_the_rows_in_the_batchs_walks():
    ei = np.array([[0, 1, 1, 2, 2, 3, 4, 5, 5, 6], [1, 0, 2, 1, 3, 2, 5, 4, 6, 5]])
    model = Node2Vec(ei, 4, walk_length=3, context_size=2, num_nodes=9, sparse=True)
    opt = optim.SparseAdam(list(model.parameters()), lr=0.01)
    sg.manual_seed(2)
    pos, neg = model.sample([0])
    seen = np.unique(np.concatenate([pos.numpy().ravel(), neg.numpy().ravel()]))
    before = model().detach().numpy().copy()
    opt.zero_grad()
    model.loss(pos, neg).backward()
    opt.step()
    after = model().detach().numpy()
    moved = np.flatnonzero((after != before).any(axis=1))
    np.testing.assert_array_equal(moved, seen)
    assert 7 not in seen and 8 not in seen  # nodes 7, 8 have no edges and are never drawn


@pytest.mark.dataset
def test_pyg_node2vec_example_with_sparse_adam_on_cora(data_root):
    """PyG's examples/node2vec.py (SparseAdam at lr 0.01) for two epochs: the loss falls."""
    from sparsegraph.datasets import Planetoid

    data = Planetoid("cora", root=data_root, download=False)[0]
    model = Node2Vec(data.edge_index, embedding_dim=128, walk_length=20, context_size=10,
                     walks_per_node=10, num_negative_samples=1, p=1.0, q=1.0, sparse=True)
    opt = optim.SparseAdam(list(model.parameters()), lr=0.01)
    epochs = []
    for _ in range(2):
        total = 0.0
        for pos_rw, neg_rw in model.loader(batch_size=128, shuffle=True):
            opt.zero_grad()
            loss = model.loss(pos_rw, neg_rw)
            loss.backward()
            opt.step()
            total += loss.item()
        epochs.append(total / len(model.loader(batch_size=128)))
    assert opt.state[model.embedding.weight]["step"] == 2 * 22  # ceil(2708 / 128) per epoch
    assert epochs[1] < 0.9 * epochs[0], epochs


def _embedding_run(device, steps=8, compiled=False):
    """SparseAdam on an ``Embedding(sparse=True)`` fed different rows each step."""
    from sparsegraph import static

    sg.manual_seed(9)
    emb = nn.Embedding(N, D, sparse=True, dtype=sg.float64).to(device)
    opt = optim.SparseAdam(emb.parameters(), lr=0.05)
    up = sg.tensor(np.linspace(-1.0, 1.0, 7 * D).reshape(7, D)).to(device)

    def step(idx):
        opt.zero_grad()
        loss = (emb(idx) * up).sum()
        loss.backward()
        opt.step()
        return loss

    run = static.compile(step) if compiled else step
    for idx in _lookups(np.random.default_rng(10), steps):
        run(sg.tensor(np.resize(idx, 7)).to(device))
    assert emb.weight.device.startswith(device) and opt.state[emb.weight]["exp_avg"].__class__ \
        is emb.weight.array.__class__
    return emb.weight.detach().to("cpu").numpy(), opt.state[emb.weight]["step"]


def test_a_compiled_step_replays_the_lazy_update():
    eager, t = _embedding_run("cpu")
    compiled, t2 = _embedding_run("cpu", compiled=True)
    np.testing.assert_array_equal(compiled, eager)
    assert t == t2 == 8


def test_runs_on_emulated_cuda_as_on_the_cpu(emulated_cuda):
    cpu, _ = _embedding_run("cpu")
    cuda, _ = _embedding_run("cuda")
    np.testing.assert_allclose(cuda, cpu, rtol=1e-12)
