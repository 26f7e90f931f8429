"""Creation functions take torch's other spellings: ``size=`` as a keyword and 0-d Tensors as
arange / linspace bounds; a hook's wrong-shaped gradient is named by its own type."""

import numpy as np
import pytest

import sparsegraph as sg


@pytest.mark.parametrize("fn", [sg.zeros, sg.ones, sg.empty, sg.rand, sg.randn])
def test_size_keyword(fn):
    assert fn(size=(2, 3)).shape == (2, 3)
    assert fn(size=[4]).shape == (4,)
    assert fn(2, 3).shape == (2, 3) and fn((2, 3)).shape == (2, 3)
    with pytest.raises(TypeError, match=r"size as positional ints or as `size=`, not both"):
        fn(2, size=(2,))


def test_zero_dim_tensors_as_bounds():
    assert sg.arange(sg.tensor(3)).tolist() == [0, 1, 2]
    assert sg.arange(sg.tensor(3)).dtype == np.int64
    r = sg.arange(sg.tensor(0.0), sg.tensor(1.0), sg.tensor(0.5))
    assert r.tolist() == [0.0, 0.5] and r.dtype == np.float32
    assert sg.linspace(sg.tensor(0.0), sg.tensor(1.0), sg.tensor(3)).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(TypeError, match="arange: expected `end` to be a number"):
        sg.arange(sg.tensor([3]))  # a 1-D tensor is not a bound


def test_hook_returning_a_wrong_shape_is_named_by_its_type():
    x = sg.tensor([1.0, 2.0], requires_grad=True)
    z = x * 2
    z.register_hook(lambda g: g[:1])
    with pytest.raises(RuntimeError, match=r"\(got Tensor of shape \(1,\) and dtype float32\)"):
        z.sum().backward()
