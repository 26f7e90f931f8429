"""GraphLoader takes PyG DataLoader's follow_batch / exclude_keys and torch's worker
arguments."""

import numpy as np
import pytest

from sparsegraph.datasets import GraphLoader
from sparsegraph.graph import Graph


def pair(n_s, n_t):
    """PyG's "pairs of graphs" pattern: a second node set x_t beside x."""
    return Graph(x=np.ones((n_s, 2), np.float32), edge_index=np.array([[0], [1]]),
                 x_t=np.full((n_t, 3), n_t, np.float32), label=np.array([n_t]))


def test_follow_batch_gives_a_row_to_graph_vector_and_exclude_keys_drops():
    graphs = [pair(2, 3), pair(4, 1), pair(3, 2)]
    batch = next(iter(GraphLoader(graphs, batch_size=3, follow_batch=["x_t"],
                                  exclude_keys=["label"])))
    assert batch["x_t_batch"].tolist() == [0, 0, 0, 1, 2, 2]
    assert batch.x_t.shape == (6, 3) and "label" not in batch
    assert all("label" in g for g in graphs)  # the loader's graphs keep it


def test_worker_arguments_are_accepted_and_checked():
    loader = GraphLoader([pair(2, 1)] * 4, batch_size=2, num_workers=4, pin_memory=True,
                         persistent_workers=True)
    assert len(list(loader)) == 2
    with pytest.raises(ValueError, match="expected num_workers >= 0"):
        GraphLoader([pair(2, 1)], num_workers=-1)
    with pytest.raises(TypeError, match="expected `follow_batch` to be a list of attribute"):
        GraphLoader([pair(2, 1)], follow_batch="x_t")


def test_follow_batch_skips_absent_and_excluded_keys():
    graphs = [pair(2, 3), pair(4, 1)]
    batch = next(iter(GraphLoader(graphs, batch_size=2, follow_batch=["pos", "x_t"],
                                  exclude_keys=["x_t"])))
    assert "pos_batch" not in batch and "x_t_batch" not in batch and "x_t" not in batch
