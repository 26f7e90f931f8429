"""GraphLoader over a dataset with a transform runs it every epoch, as PyG's DataLoader."""

import numpy as np

import sparsegraph as sg
from sparsegraph.datasets import GraphLoader, TUDataset


class RandomFeature:
    """Appends one random column: a random transform (augmentation)."""

    def __call__(self, g):
        g.x = sg.cat([g.x, sg.rand(g.num_nodes, 1)], dim=1)
        return g


def test_a_random_transform_draws_again_every_epoch():
    ds = TUDataset("MUTAG", transform=RandomFeature())
    loader = GraphLoader(ds, batch_size=16)
    first, second = (next(iter(loader)).x.numpy() for _ in range(2))
    assert first.shape == second.shape == (first.shape[0], ds.num_features)
    np.testing.assert_array_equal(first[:, :-1], second[:, :-1])  # the data itself
    assert not np.array_equal(first[:, -1], second[:, -1])  # the transform ran again


def test_without_a_transform_the_batches_are_the_datasets_graphs():
    ds = TUDataset("MUTAG")
    batch = next(iter(GraphLoader(ds, batch_size=4)))
    want = np.concatenate([ds[i].x.numpy() for i in range(4)])
    np.testing.assert_array_equal(batch.x.numpy(), want)
