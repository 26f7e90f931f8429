"""A sparse structure's own index arrays (never written once built) are kept for backward
without a copy, where a caller's writeable index array is copied (`ops._util.kept_array`)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.gnn import GATConv, MessagePassing, SAGEConv
from sparsegraph.ops import _util
from sparsegraph.sparse_checks import is_structure_array


class _Product(MessagePassing):
    def __init__(self):
        super().__init__(aggr="mean")

    def forward(self, x, adj):
        return self.propagate(adj, x=x)

    def message(self, x_j, x_i):
        return x_j * x_i


@pytest.fixture
def copies(monkeypatch):
    """The index arrays `kept_array` copies, by shape."""
    import sparsegraph.ops.gather_scatter as gather_scatter
    import sparsegraph.ops.index as index

    seen, keep = [], _util.kept_array

    def spy(array, source=None):
        out = keep(array, source)
        if out is not array:
            seen.append(array.shape)
        return out

    monkeypatch.setattr(gather_scatter, "kept_array", spy)
    monkeypatch.setattr(index, "kept_array", spy)
    return seen


@pytest.mark.parametrize("layer", [_Product, lambda: GATConv(4, 3, heads=2),
                                   lambda: SAGEConv(4, 3, aggr="max")])
@pytest.mark.parametrize("form", ["edge_index", "csr", "coo"])
def test_message_passing_keeps_the_structures_indices_without_copies(copies, layer, form):
    ei = sg.tensor(np.random.default_rng(0).integers(0, 30, (2, 200)))
    adj = {"edge_index": ei, "csr": sg.from_edge_index(ei, 30),
           "coo": sg.from_edge_index(ei, 30).to_coo()}[form]
    x = sg.randn(30, 4, requires_grad=True)
    layer()(x, adj).sum().backward()
    assert copies == []  # an (E,) copy per gather / segment before


def test_structure_arrays_and_their_read_only_views_are_known_a_callers_array_is_not(copies):
    a = sg.from_edge_index([[0, 1, 2], [1, 2, 0]], 3)
    s = a.structure
    for array in (s.indptr, s.indices, s.rows(), s.transpose()[1], a.indptr, a.row, a.col):
        assert is_structure_array(array)
    mine = np.array([0, 1, 2])
    assert not is_structure_array(mine) and not is_structure_array(s.indices.copy())
    x = sg.randn(3, 2, requires_grad=True)
    y = sg.ops.gather_rows(x, mine)
    mine[:] = 0  # the caller's writeable index was copied: the gradient is the original one's
    y.backward(sg.ones(3, 2))
    assert copies == [(3,)] and np.array_equal(x.grad.numpy(), np.ones((3, 2)))
