"""static.compile takes tensors inside tuple / list / dict / namedtuple arguments, as
torch.compile does: each becomes a graph input, the container's shape is part of the guard."""

from collections import namedtuple

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.static import compile as sg_compile

Pair = namedtuple("Pair", "x y")


def test_tuple_of_tensors_is_an_input_not_a_constant():
    f = sg_compile(lambda xs: xs[0] * xs[1])
    a, b = sg.ones(2), sg.full((2,), 2.0)
    assert f((a, b)).tolist() == [2.0, 2.0]
    assert f((a, b * 3)).tolist() == [6.0, 6.0]  # new values replayed, not the first call's
    assert f.traces == 1
    assert f([a, b]).tolist() == [2.0, 2.0] and f.traces == 2  # a list is another signature


def test_namedtuple_dict_and_literal_list():
    g = sg_compile(lambda p, d, k=(1, 2): p.x * p.y + d["w"] * k[1])
    a, b, w = sg.ones(2), sg.full((2,), 2.0), sg.full((2,), 3.0)
    assert g(Pair(a, b), {"w": w}).tolist() == [8.0, 8.0]
    assert g(Pair(a, b * 2), {"w": w}).tolist() == [10.0, 10.0] and g.traces == 1
    assert g(Pair(a, b), {"w": w}, k=[1, 3]).tolist() == [11.0, 11.0] and g.traces == 2


def test_training_step_on_a_batch_tuple_matches_eager():
    def run(compiled):
        sg.manual_seed(0)
        lin = sg.nn.Linear(3, 1)
        opt = sg.optim.SGD(lin.parameters(), lr=0.1)

        def step(batch):
            x, y = batch
            opt.zero_grad()
            loss = ((lin(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        fn = sg_compile(step) if compiled else step
        rng = np.random.default_rng(1)
        batches = [(sg.tensor(rng.standard_normal((8, 3)).astype(np.float32)),
                    sg.tensor(rng.standard_normal((8, 1)).astype(np.float32))) for _ in range(5)]
        return [float(fn(b)) for b in batches]

    np.testing.assert_allclose(run(True), run(False), rtol=1e-6)


def test_other_objects_are_refused_by_name():
    with pytest.raises(TypeError, match=r"argument 0\[1\] to be a Tensor.*got object"):
        sg_compile(lambda xs: xs[0])((sg.ones(1), object()))
