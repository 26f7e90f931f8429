"""degree takes PyG's form degree(index, num_nodes=None, dtype=None) besides a SparseTensor,
and its default dtype follows set_default_dtype."""

import numpy as np
import pytest

import sparsegraph as sg


@pytest.mark.parametrize("wrap", [sg.tensor, np.asarray], ids=["tensor", "ndarray"])
def test_degree_of_an_index_counts_each_node(wrap):
    rng = np.random.default_rng(0)
    ei = rng.integers(0, 7, (2, 30))
    got = sg.degree(wrap(ei[1]), 9)
    np.testing.assert_array_equal(got.numpy(), np.bincount(ei[1], minlength=9))
    assert got.dtype == np.float32 and got.shape == (9,)
    assert sg.degree(wrap(ei[1])).shape == (ei[1].max() + 1,)
    assert sg.degree(wrap(ei[1]), 9, dtype=sg.int64).dtype == np.int64
    # the same count as the adjacency's in-degree (target-major rows)
    adj = sg.from_edge_index(ei, 9)
    np.testing.assert_array_equal(sg.degree(adj).numpy(), got.numpy())


def test_degree_default_dtype_follows_set_default_dtype():
    sg.set_default_dtype(sg.float64)
    try:
        assert sg.degree(sg.tensor([0, 1, 1])).dtype == np.float64
        assert sg.degree(sg.from_edge_index(np.array([[0], [1]]), 2)).dtype == np.float64
    finally:
        sg.set_default_dtype(sg.float32)


def test_degree_takes_num_nodes_by_keyword_as_pyg_code_calls_it():
    idx = sg.tensor([0, 2, 2])
    assert sg.degree(idx, num_nodes=4).tolist() == [1.0, 0.0, 2.0, 0.0]
    with pytest.raises(TypeError, match="degree: expected the number of nodes once"):
        sg.degree(idx, 4, num_nodes=4)
    with pytest.raises(TypeError, match="degree: num_nodes= is for PyG's"):
        sg.degree(sg.from_edge_index(np.array([[0], [1]]), 2), num_nodes=2)
