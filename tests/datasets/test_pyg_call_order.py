"""PyG's dataset call with the root positional and the name as a keyword loads the dataset
(Python refused it: "got multiple values for argument 'name'")."""

import os

import pytest

from sparsegraph.datasets import NpzGraph, Planetoid, TUDataset


@pytest.fixture
def root():
    path = os.environ.get("SPARSEGRAPH_DATA")
    if not path:
        pytest.skip("needs SPARSEGRAPH_DATA")
    return path


@pytest.mark.parametrize("cls, name, nodes", [(Planetoid, "Cora", 2708),
                                              (NpzGraph, "cora_ml", 2995)])
def test_root_positional_name_keyword_single_graph(root, cls, name, nodes):
    assert cls(root, name=name)[0].num_nodes == nodes
    assert cls(name=name, root=root)[0].num_nodes == nodes  # both keywords, as before


def test_root_positional_name_keyword_tu(root):
    ds = TUDataset(root, name="MUTAG")
    assert len(ds) == 188 and ds.num_classes == 2
    assert len(TUDataset("MUTAG", root)) == 188  # sparsegraph's own order still works
