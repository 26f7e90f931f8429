"""Planetoid(split="random") as PyG's: per-class training nodes, then val / test at random."""

import os

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.datasets import Planetoid

pytestmark = pytest.mark.skipif(not os.environ.get("SPARSEGRAPH_DATA"),
                                reason="needs SPARSEGRAPH_DATA")


def masks(ds):
    g = ds[0]
    return g.y.numpy(), [m.numpy() for m in (g.train_mask, g.val_mask, g.test_mask)]


@pytest.mark.parametrize("name, classes", [("cora", 7), ("citeseer", 6)])
def test_random_split_sizes_disjoint_labelled(name, classes):
    sg.manual_seed(3)
    y, (train, val, test) = masks(Planetoid(name, split="random", num_train_per_class=10,
                                            num_val=300, num_test=700))
    assert np.bincount(y[train], minlength=classes).tolist() == [10] * classes
    assert (val.sum(), test.sum()) == (300, 700)
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert (y[train | val | test] >= 0).all()  # CiteSeer's unlabelled padding in no mask


def test_random_split_follows_the_global_seed_and_differs_from_public():
    sg.manual_seed(5)
    _, a = masks(Planetoid("cora", split="random"))
    sg.manual_seed(5)
    _, b = masks(Planetoid("cora", split="random"))
    _, public = masks(Planetoid("cora"))
    assert all(np.array_equal(m, n) for m, n in zip(a, b, strict=True))
    assert not np.array_equal(a[0], public[0])


def test_geom_gcn_split_is_named():
    with pytest.raises(ValueError, match="split='geom-gcn' needs Geom-GCN's ten split files"):
        Planetoid("cora", split="geom-gcn")
