"""Index checks on replay (audit "static", F2): the scatter / segment kernels do not check
bounds, so a compiled graph runs each op's range and indptr checks on every call's index, and
gives the eager result (or the eager ValueError), never a write out of bounds."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static


def scatter_sum(x, index, n):
    out = np.zeros((n,) + x.shape[1:], x.dtype)
    np.add.at(out, index, x)
    return out


def test_scatter_with_an_inferred_size_follows_a_new_index():
    x = sg.randn(1000, 16)
    f = static.compile(lambda x, index: ops.scatter(x, index, dim=0))
    with sg.no_grad():
        assert f(x, sg.tensor(np.zeros(1000, np.int64))).shape == (1, 16)
        index = np.arange(1000)[::-1].copy()  # a valid index of another size: traced again
        np.testing.assert_allclose(f(x, sg.tensor(index)).numpy(),
                                   scatter_sum(x.numpy(), index, 1000), rtol=1e-6)
    assert f.traces == 2


OUT_OF_RANGE = {  # the replay gets an index past the given size
    "scatter_sum": lambda x, i: ops.scatter(x, i, 4),
    "scatter_mean": lambda x, i: ops.scatter(x, i, 4, "mean"),
    "scatter_max": lambda x, i: ops.scatter(x, i, 4, "max"),
    "scatter_dim1": lambda x, i: ops.scatter(x.t(), i, 4, dim=1),
    "segment_softmax": lambda x, i: ops.segment_softmax(x[:, 0], index=i, num_segments=4),
}


@pytest.mark.parametrize("name", list(OUT_OF_RANGE))
def test_an_index_out_of_range_on_replay_raises_the_eager_error(name):
    fn, x = OUT_OF_RANGE[name], sg.randn(1000, 16)
    f = static.compile(fn)
    bad = sg.tensor(np.full(1000, 10**5, np.int64))
    with pytest.raises(ValueError) as eager:
        fn(x, bad)
    with sg.no_grad():
        f(x, sg.tensor(np.zeros(1000, np.int64)))
        with pytest.raises(ValueError) as replay:
            f(x, bad)
    assert str(replay.value) == str(eager.value)
    assert "values in [0, 4) (got 100000)" in str(replay.value)
    assert f.traces == 1


def test_segment_softmax_with_inferred_segments_follows_a_new_index():
    x = sg.randn(6)
    f = static.compile(lambda x, i: ops.segment_softmax(x, index=i))
    with sg.no_grad():
        f(x, sg.tensor([0, 0, 0, 0, 0, 0]))
        index = np.array([0, 2, 2, 5, 5, 5])
        e = np.exp(x.numpy().astype(np.float64))
        want = e / np.bincount(index, e)[index]
        np.testing.assert_allclose(f(x, sg.tensor(index)).numpy(), want, rtol=1e-5)


def test_gather_rows_checks_a_negative_index_on_replay():
    # numpy's take would wrap -1 to the last row silently
    x = sg.randn(10, 3)
    f = static.compile(lambda x, i: ops.gather_rows(x, i))
    with sg.no_grad():
        f(x, sg.tensor([0, 1]))
        with pytest.raises(ValueError, match=r"gather_rows: expected `index` values in "
                           r"\[0, 10\) \(got -1\)"):
            f(x, sg.tensor([0, -1]))


@pytest.mark.parametrize("op", ["segment", "segment_softmax"])
def test_a_bad_indptr_on_replay_raises_the_eager_error(op):
    fn = {"segment": lambda x, p: ops.segment(x, p),
          "segment_softmax": lambda x, p: ops.segment_softmax(x, indptr=p)}[op]
    x = sg.randn(6)
    f = static.compile(fn)
    with sg.no_grad():
        f(x, sg.tensor([0, 2, 6]))
        for bad, what in (([0, 2, 9], "end at 6"), ([0, 7, 6], "non-decreasing")):
            with pytest.raises(ValueError, match=what):  # the kernels would read past `x`
                f(x, sg.tensor(bad))
