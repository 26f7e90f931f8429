"""ops/sorting.py: sort / argsort / topk against numpy in value, float64 gradcheck of the values,
stable ties in both directions, nan as the largest value, 0-d inputs, the Tensor methods, error
messages, and static capture."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.testing import assert_close, gradcheck


def leaf(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return sg.tensor(a, dtype="float64", requires_grad=True)


def npy(t):
    return t.detach().numpy()


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_matches_numpy_and_gradchecks(dim, descending):
    x = leaf((3, 5, 4), seed=1)
    values, indices = ops.sort(x, dim, descending)
    ref_idx = np.argsort(-npy(x) if descending else npy(x), axis=dim, kind="stable")
    np.testing.assert_array_equal(indices.numpy(), ref_idx)
    assert indices.dtype == np.int64 and values.dtype == np.float64
    assert_close(values, np.take_along_axis(npy(x), ref_idx, dim))
    assert_close(values, ops.gather(x, dim % 3, indices))
    gradcheck(lambda t: ops.sort(t, dim, descending).values, [x])
    np.testing.assert_array_equal(ops.argsort(x, dim, descending).numpy(), ref_idx)


def test_sort_gradient_goes_back_to_the_source_positions():
    x = sg.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, _ = x.sort()
    (values * sg.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]


@pytest.mark.parametrize("descending", [False, True])
def test_sort_is_stable_in_both_directions(descending):
    x = sg.tensor([1.0, 2.0, 1.0, 2.0, 1.0])
    idx = ops.sort(x, descending=descending, stable=True).indices.tolist()
    assert idx == ([1, 3, 0, 2, 4] if descending else [0, 2, 4, 1, 3])


def test_nan_sorts_as_the_largest_value():
    x = sg.tensor([1.0, np.nan, -1.0])
    assert ops.sort(x).indices.tolist() == [2, 0, 1]
    assert ops.sort(x, descending=True).indices.tolist() == [1, 0, 2]
    assert ops.topk(x, 1).indices.tolist() == [1]
    assert ops.topk(x, 1, largest=False).indices.tolist() == [2]


def test_sort_of_integers_and_bools_has_no_gradient():
    values, idx = ops.sort(sg.tensor([[3, 1, 2]]), dim=1, descending=True)
    assert values.tolist() == [[3, 2, 1]] and idx.tolist() == [[0, 2, 1]]
    assert values.dtype == np.int64 and values.grad_fn is None
    assert ops.sort(sg.tensor([True, False])).values.tolist() == [False, True]


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dim", [0, 1])
def test_topk_matches_numpy_and_gradchecks(dim, largest):
    x = leaf((6, 5), seed=2)
    for k in (0, 1, 3, x.shape[dim]):
        values, indices = ops.topk(x, k, dim, largest)
        order = np.argsort(-npy(x) if largest else npy(x), axis=dim, kind="stable")
        ref_idx = np.take(order, np.arange(k), axis=dim)
        np.testing.assert_array_equal(indices.numpy(), ref_idx)
        assert_close(values, np.take_along_axis(npy(x), ref_idx, dim))
    gradcheck(lambda t: ops.topk(t, 2, dim, largest).values, [x])


def test_topk_ties_pick_the_first_and_gradient_reaches_only_the_picked():
    x = sg.tensor([1.0, 5.0, 5.0, 0.0], requires_grad=True)
    values, indices = x.topk(2)
    assert values.tolist() == [5.0, 5.0] and indices.tolist() == [1, 2]
    values, indices = x.topk(1)
    values.sum().backward()
    assert indices.tolist() == [1] and x.grad.tolist() == [0.0, 1.0, 0.0, 0.0]


def test_zero_dim_inputs():
    x = sg.tensor(2.5, dtype="float64", requires_grad=True)
    values, indices = ops.sort(x)
    assert values.shape == () and indices.shape == () and indices.item() == 0
    values.backward()
    assert x.grad.item() == 1.0
    assert ops.topk(x, 1).values.item() == 2.5 and ops.argsort(x).item() == 0
    assert ops.topk(x, 0).values.shape == (0,)


def test_methods_and_namedtuples():
    x = leaf((2, 4), seed=3)
    s = x.sort(0, True)
    assert type(s).__name__ == "sort" and s._fields == ("values", "indices")
    assert_close(s.values, ops.sort(x, 0, descending=True).values)
    t = x.topk(2, largest=False)
    assert type(t).__name__ == "topk"
    np.testing.assert_array_equal(x.argsort(dim=1).numpy(), np.argsort(npy(x), axis=1))


@pytest.mark.parametrize("call, error, match", [
    (lambda x: ops.sort(x.numpy()), TypeError, r"sort: expected `input` to be a Tensor"),
    (lambda x: ops.sort(x, 2), ValueError, r"sort: expected `dim` in \[-2, 1\] \(got 2\)"),
    (lambda x: ops.sort(x, 0.5), TypeError, r"sort: expected `dim` to be an int"),
    (lambda x: ops.sort(x, descending="yes"), TypeError,
     r"sort: expected `descending` to be a bool \(got 'yes'\)"),
    (lambda x: ops.argsort(x, stable=1), TypeError, r"argsort: expected `stable` to be a bool"),
    (lambda x: ops.topk(x, 5), ValueError,
     r"topk: expected `k` in \[0, 4\] for dim 1 of a tensor of shape \(2, 4\) \(got 5\)"),
    (lambda x: ops.topk(x, -1), ValueError, r"topk: expected `k` in \[0, 4\]"),
    (lambda x: ops.topk(x, 2.0), TypeError, r"topk: expected `k` to be an int \(got float"),
    (lambda x: ops.topk(x, 1, largest=None), TypeError, r"topk: expected `largest` to be a bool"),
], ids=["not-tensor", "dim-range", "dim-float", "descending", "stable", "k-big", "k-negative",
        "k-float", "largest"])
def test_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(sg.randn(2, 4))


def test_static_trace_records_sort_and_topk():
    w = leaf((3, 4), seed=4)

    def fn(x):
        top = ops.topk(x * w, 2, dim=1).values
        return ops.sort(top, dim=1, descending=True).values.sum() + ops.argsort(x).sum()

    graph = static.trace(fn, leaf((3, 4), seed=5).detach())
    assert graph.count(op="Sort") == 3
    x2 = leaf((3, 4), seed=6).detach()
    assert_close(graph(x2), fn(x2), rtol=1e-13, atol=1e-13)


def test_compiled_training_step_with_the_new_ops_matches_eager():
    """sort / topk / cumprod / cumsum / norm / var(dim, unbiased) and a probability-target
    cross entropy, forward and backward, replayed by static.compile: the same numbers."""

    def make():
        sg.manual_seed(0)
        model = sg.nn.Linear(5, 4).double()
        return model, sg.optim.SGD(model.parameters(), lr=0.1)

    def step_fn(model, opt):
        def step(x, y):
            opt.zero_grad()
            h = model(x)
            loss = ops.cross_entropy(h, y, label_smoothing=0.1)
            loss = loss + ops.topk(h, 2, dim=1).values.sum() * 0.01
            loss = loss + ops.sort(h, dim=0, descending=True).values[0].sum() * 0.01
            loss = loss + ops.cumprod(h, 1).sum() * 0.001 + ops.cumsum(h, 0).mean() * 0.01
            loss = loss + h.norm(dim=1).sum() * 0.01 + h.var(1, False).sum() * 0.01
            loss.backward()
            opt.step()
            return loss

        return step

    rng = np.random.default_rng(0)
    (m1, o1), (m2, o2) = make(), make()
    eager, compiled = step_fn(m1, o1), static.compile(step_fn(m2, o2))
    for _ in range(3):
        x = sg.tensor(rng.standard_normal((6, 5)))
        y = sg.tensor(rng.dirichlet(np.ones(4), 6))
        assert_close(compiled(x, y), eager(x, y), rtol=1e-13, atol=1e-13)
    assert_close(m2.weight, m1.weight, rtol=1e-13, atol=1e-13)
