"""`setitem` with a Tensor value on another device is refused, a 0-d CPU value included
(review A4: unlike masked_fill, setitem does not move a CPU scalar; the unreachable move that
followed the refusal was removed)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.ops.index import setitem


def x_dev(t) -> str:
    return str(t.device)


@pytest.mark.parametrize("value_device", ["cpu", "cuda"])
def test_setitem_refuses_a_value_on_another_device_even_a_cpu_scalar(emulated_cuda,
                                                                      value_device):
    target = "cuda" if value_device == "cpu" else "cpu"
    x = sg.zeros(2, 2).to(target)
    value = sg.tensor(7.0, dtype="float32").to(value_device)
    with pytest.raises(ValueError, match=rf"^setitem: `value` is on {x_dev(value)} but the "
                                         rf"tensor is on {x_dev(x)}; move it with \.to\(\)"):
        setitem(x, 0, value)
    setitem(x, 0, value.to(target))
    np.testing.assert_array_equal(sg.backend.to_device(x.array, "cpu")[0], [7.0, 7.0])
