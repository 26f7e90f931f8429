"""Zachary's karate club: the dataset that needs no files."""

from __future__ import annotations

import networkx as nx
import numpy as np

from sparsegraph.datasets.base import SingleGraph, pre_transformed, set_transforms
from sparsegraph.graph import Graph


class KarateClub(SingleGraph):
    """Zachary, "An Information Flow Model for Conflict and Fission in Small Groups" (1977),
    from networkx: 34 members, 78 friendships (156 directed edges), 2 classes (the club each
    member joined after the split), identity features.

    Splits (fixed): 4 training nodes per class (the lowest ids), 9 validation nodes (every
    third of the other 26), the rest test.

    Args:
        transform / pre_transform: PyG's, callables run on each ``ds[0]`` / once (see
            `sparsegraph.datasets.base.Dataset`).
    """

    def __init__(self, transform=None, pre_transform=None):
        set_transforms(self, transform, pre_transform)
        g = nx.karate_club_graph()
        n = g.number_of_nodes()
        edges = np.array(list(g.edges()), dtype=np.int64).T
        edge_index = np.concatenate([edges, edges[::-1]], axis=1)
        y = np.array([0 if g.nodes[i]["club"] == "Mr. Hi" else 1 for i in range(n)], np.int64)
        train = np.zeros(n, bool)
        for c in (0, 1):
            train[np.flatnonzero(y == c)[:4]] = True
        rest = np.flatnonzero(~train)
        val = np.zeros(n, bool)
        val[rest[::3][:10]] = True
        test = ~(train | val)
        self.graph = pre_transformed(self, Graph(
            x=np.eye(n, dtype=np.float32), edge_index=edge_index, y=y, train_mask=train,
            val_mask=val, test_mask=test))

    def __repr__(self) -> str:
        return "KarateClub()"
