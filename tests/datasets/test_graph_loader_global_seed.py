"""GraphLoader(shuffle=True) without a seed draws from sparsegraph's global generator, as
PyG's DataLoader draws from torch's (so ``sg.manual_seed`` varies and repeats the batch
order); an explicit seed stays reproducible; ``loader.dataset`` is PyG's name for the data."""

import numpy as np

import sparsegraph as sg
from sparsegraph.datasets import GraphLoader
from sparsegraph.graph import Graph


def graphs(n=20):
    """``n`` one-node graphs whose label is their position."""
    return [Graph(x=np.ones((1, 2), np.float32), edge_index=np.zeros((2, 0), np.int64),
                  y=np.array([i])) for i in range(n)]


def first_epoch(loader):
    return [int(v) for b in loader for v in b.y.numpy()]


def test_without_a_seed_the_order_follows_manual_seed():
    data = graphs()
    orders = {}
    for seed in (1, 2, 1):
        sg.manual_seed(seed)
        orders.setdefault(seed, []).append(first_epoch(GraphLoader(data, 4, shuffle=True)))
    assert orders[1][0] == orders[1][1]  # the same global seed: the same order
    assert orders[1][0] != orders[2][0]  # another seed: another order (20! of them)
    assert sorted(orders[2][0]) == list(range(20))


def test_without_a_seed_each_epoch_draws_a_new_order():
    sg.manual_seed(0)
    loader = GraphLoader(graphs(), 5, shuffle=True)
    assert first_epoch(loader) != first_epoch(loader)


def test_an_explicit_seed_ignores_the_global_generator():
    runs = []
    for seed in (1, 2):
        sg.manual_seed(seed)
        runs.append(first_epoch(GraphLoader(graphs(), 4, shuffle=True, seed=3)))
    assert runs[0] == runs[1]
    assert first_epoch(GraphLoader(graphs(), 4)) == list(range(20))  # no shuffle: in order


def test_loader_dataset_is_what_was_passed():
    data = graphs(6)
    loader = GraphLoader(data, 4)
    assert loader.dataset is data and len(loader.dataset) == 6
    once = GraphLoader(iter(data), 4)  # a one-pass iterable: the list of its graphs
    assert isinstance(once.dataset, list) and len(once.dataset) == 6
