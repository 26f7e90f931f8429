"""A batch's graphs by position, as PyG's Batch: batch[i], get_example, to_data_list."""

import numpy as np
import pytest

from sparsegraph.graph import Graph


def graphs():
    return [Graph(x=np.full((n, 2), n, np.float32),
                  edge_index=np.array([[0, 1], [1, 0]]), y=np.array([n])) for n in (2, 3, 4)]


def test_examples_equal_the_batched_graphs():
    gs = graphs()
    batch = Graph.batch(gs)
    for i, g in enumerate(gs):
        for got in (batch[i], batch.get_example(i), batch.to_data_list()[i]):
            np.testing.assert_array_equal(got.x.numpy(), g.x.numpy())
            np.testing.assert_array_equal(np.asarray(got.edge_index), np.asarray(g.edge_index))
            assert got.y.tolist() == g.y.tolist()
    assert batch[-1].num_nodes == 4 and [g.num_nodes for g in batch[1:]] == [3, 4]
    assert batch["x"].shape == (9, 2)  # names still read attributes


def test_bad_positions_and_plain_graphs():
    batch = Graph.batch(graphs())
    with pytest.raises(IndexError, match=r"expected an index in \[-3, 3\) for a batch of 3"):
        batch[3]
    with pytest.raises(TypeError, match="Graph.get_example: expected an int index"):
        batch.get_example("0")
    with pytest.raises(TypeError, match="expected an attribute name"):
        graphs()[0][0]  # a plain graph has no graphs by position


def test_lists_arrays_tensors_and_masks_select_graphs():
    import sparsegraph as sg

    batch = Graph.batch(graphs())
    for index in ([0, 2], np.array([0, 2]), sg.tensor([0, 2]), np.array([True, False, True]),
                  (0, -1)):
        assert [g.num_nodes for g in batch[index]] == [2, 4]
    assert batch[np.int64(1)].num_nodes == 3 and batch[sg.tensor(1)].num_nodes == 3
    with pytest.raises(IndexError, match="expected a bool mask of 3 graphs"):
        batch[np.array([True, False])]
    with pytest.raises(TypeError, match="expected graph positions"):
        batch[np.array([0.5])]


def test_a_range_selects_graphs():
    assert [g.num_nodes for g in Graph.batch(graphs())[range(2)]] == [2, 3]
