"""Graph.validate as PyG's Data.validate: True, or raise / warn-and-False."""

import numpy as np
import pytest

from sparsegraph.graph import Graph


def broken():
    g = Graph(edge_index=np.array([[0, 1], [1, 2]]), x=np.ones((3, 2), np.float32))
    g.__dict__["x"] = np.ones((5, 2), np.float32)  # bypasses the assignment check
    return g


def test_a_valid_graph_validates_true():
    g = Graph(edge_index=np.array([[0, 1], [1, 2]]), x=np.ones((3, 2), np.float32))
    assert g.validate() is True and g.validate(raise_on_error=False) is True


def test_an_invalid_graph_raises_or_warns_and_returns_false():
    with pytest.raises(ValueError, match="Graph: expected `x` with 3 rows"):
        broken().validate()
    with pytest.warns(UserWarning, match="expected `x` with 3 rows"):
        assert broken().validate(raise_on_error=False) is False
    with pytest.raises(TypeError, match="expected a bool `raise_on_error`"):
        broken().validate(raise_on_error="yes")
