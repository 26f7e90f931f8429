"""The index a gather / scatter / segment op keeps for backward: a Tensor is saved (changing it
in place before backward raises, as in PyTorch), a caller's numpy array is copied (changing it
leaves the gradient as it was); and PyG's positional ``scatter(src, index, dim)`` is told
that the third argument is ``dim_size``."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops

INDEX = [2, 0, 2, 1, 2]
INDPTR = [0, 2, 2, 5]


def _weights(shape):
    return sg.tensor(np.random.default_rng(0).standard_normal(shape))


def _gather_grad(index, n):
    """d sum(w * x[index]) / dx: the weights w summed into the rows they came from."""
    w = _weights((len(index), 3)).numpy()
    out = np.zeros((n, 3))
    np.add.at(out, np.asarray(index), w)
    return out


OPS = {  # name -> (run(x, index), reference gradient of sum(w * run) w.r.t. x, x rows)
    "gather_rows": (lambda x, i: ops.gather_rows(x, i), lambda i: _gather_grad(i, 3), 3),
    "scatter_sum": (lambda x, i: ops.scatter(x, i, 3),
                    lambda i: _weights((3, 3)).numpy()[np.asarray(i)], 5),
    "scatter_mean": (lambda x, i: ops.scatter(x, i, 3, "mean"),
                     lambda i: (_weights((3, 3)).numpy() / np.bincount(i, minlength=3)[:, None]
                                )[np.asarray(i)], 5),
    "segment": (lambda x, p: ops.segment(x, p),
                lambda p: _weights((3, 3)).numpy()[np.repeat(np.arange(3), np.diff(p))], 5),
}


def _run(name, index):
    run, _, rows = OPS[name]
    x = sg.tensor(np.ones((rows, 3)), requires_grad=True)
    out = run(x, index)
    loss = (out * _weights(out.shape)).sum()
    return x, loss


def _index_for(name):
    return INDPTR if name == "segment" else ([0, 1, 2, 2, 0] if name == "gather_rows" else INDEX)


@pytest.mark.parametrize("name", list(OPS))
def test_a_tensor_index_changed_in_place_before_backward_raises(name):
    index = sg.tensor(_index_for(name))
    _, loss = _run(name, index)
    index.copy_(sg.tensor(np.zeros(index.shape, np.int64)))
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


@pytest.mark.parametrize("name", list(OPS))
def test_a_numpy_index_changed_in_place_before_backward_keeps_the_gradient(name):
    given = np.array(_index_for(name))
    original = given.copy()
    x, loss = _run(name, given)
    given[...] = 0 if name != "segment" else [0, 0, 0, 5]
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), OPS[name][1](original), rtol=1e-12)


def test_segment_softmax_keeps_its_indptr_for_backward():
    given = np.array(INDPTR)
    x = sg.tensor(np.random.default_rng(1).standard_normal(5), requires_grad=True)
    g = np.random.default_rng(2).standard_normal(5)
    y = ops.segment_softmax(x, indptr=given)
    given[...] = [0, 0, 0, 5]
    (y * sg.tensor(g)).sum().backward()
    ys, want = y.detach().numpy(), np.empty(5)
    for lo, hi in zip(INDPTR[:-1], INDPTR[1:], strict=True):  # y * (g - sum(g * y)) per segment
        want[lo:hi] = ys[lo:hi] * (g[lo:hi] - (g[lo:hi] * ys[lo:hi]).sum())
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("dim_size", [0, 1, -1])
def test_a_pyg_style_positional_dim_is_told_apart_from_dim_size(dim_size):
    x = sg.randn(4, 3)
    with pytest.raises(ValueError, match=r"`dim_size` is scatter's third argument \(PyG's "
                       r"scatter takes `dim` there\): pass `dim` by keyword"):
        ops.scatter(x, [0, 1, 2, 1], dim_size)


def test_a_large_dim_size_out_of_range_gets_no_dim_hint():
    with pytest.raises(ValueError) as err:
        ops.scatter(sg.randn(4, 3), [0, 1, 5, 1], 3)
    assert str(err.value) == "scatter: expected `index` values in [0, 3) (got 5)"
