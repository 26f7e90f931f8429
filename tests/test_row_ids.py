"""`sparsegraph.row_ids.row_ids`, the one check behind ``x[ids]`` of a SparseTensor,
``TUDataset[ids]`` and ``Graph.subgraph(nodes)``: the ids it returns against numpy's own
indexing, and the same refusals, in the same words, from all three callers."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import Graph
from sparsegraph.datasets import TUDataset
from sparsegraph.row_ids import row_ids
from sparsegraph.testing import random_sparse

N = 4


@pytest.mark.parametrize("key", [
    [2, 0, 2], [-1, 0], np.array([3, 1], np.uint8), np.array([1], np.int32), range(1, 4), (0,),
    np.array([True, False, True, True]), [False] * N, [],
], ids=["list", "negative", "uint8", "int32", "range", "tuple", "mask", "empty mask", "empty"])
def test_the_ids_are_the_rows_numpy_indexing_takes(key):
    want = np.arange(N)[np.asarray(key) if len(key) else np.array([], np.int64)]
    got = row_ids("op", "`key`", key, N)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


def test_a_uint64_id_past_int64_is_out_of_range_not_wrapped():
    big = np.array([2**63 + 1], np.uint64)  # as int64 it would be negative, then counted back
    with pytest.raises(IndexError, match=rf"op: expected row ids in \[-4, 4\) \(got {2**63 + 1}\)"):
        row_ids("op", "`key`", big, N)


@pytest.mark.parametrize("key, error, text", [
    ([-1], ValueError, r"op: expected node ids in \[0, 4\) \(got -1\)"),
    ([1, 3, 1], ValueError, r"op: expected distinct node ids \(got node 1 2 times\)"),
    ([True], ValueError, r"op: expected `nodes` as a boolean mask of length 4, one entry per "
                         r"node \(got shape \(1,\)\)"),
    ([[1, 2], [3]], TypeError, r"op: expected `nodes` as 1-D integer node ids or a boolean mask "
                               r"\(got a ragged list\)"),
    ([0.5], TypeError, r"op: expected `nodes` as 1-D integer node ids or a boolean mask \(got "
                       r"float64 of shape \(1,\)\)"),
])
def test_the_options_name_what_they_refuse(key, error, text):
    with pytest.raises(error, match=text):
        row_ids("op", "`nodes`", key, N, unit="node", negative=False, unique=True,
                error=ValueError)


# ---- the three callers --------------------------------------------------------------------
def _tu(tmp_path):
    folder = tmp_path / "TU" / "TOY"
    folder.mkdir(parents=True)
    files = {"A": "1, 2\n2, 1\n3, 4\n4, 3\n5, 6\n6, 5\n7, 8\n8, 7\n",
             "graph_indicator": "1\n1\n2\n2\n3\n3\n4\n4\n", "graph_labels": "0\n1\n0\n1\n"}
    for kind, text in files.items():
        (folder / f"TOY_{kind}.txt").write_text(text)
    return TUDataset("TOY", root=tmp_path, download=False, cache_dir=tmp_path / "c")


def _callers(tmp_path):
    """Each caller's selection by ``key`` over 4 rows: (op, what, unit, select)."""
    x = random_sparse(N, 3, 0.5)
    g = Graph(edge_index=np.array([[0, 1, 2], [1, 2, 3]]), num_nodes=N)
    ds = _tu(tmp_path)
    return {
        "sparse rows": (r"SparseTensor\[\]", "the rows", "row", lambda k: x[k]),
        "TUDataset": ("TUDataset", "the index", "graph", lambda k: ds[k]),
        "subgraph": ("Graph.subgraph", "`nodes`", "node", g.subgraph),
    }


@pytest.mark.parametrize("caller", ["sparse rows", "TUDataset", "subgraph"])
def test_the_three_callers_refuse_bad_ids_in_the_same_words(caller, tmp_path):
    op, what, unit, select = _callers(tmp_path)[caller]
    low = 0 if caller == "subgraph" else -N
    with pytest.raises((IndexError, ValueError),
                       match=rf"{op}: expected {unit} ids in \[{low}, {N}\) \(got {N}\)"):
        select([0, N])
    with pytest.raises((IndexError, ValueError),
                       match=rf"{op}: expected {what} as a boolean mask of length {N}, one entry "
                             rf"per {unit} \(got shape \(3,\)\)"):
        select(np.array([True, False, True]))
    with pytest.raises(TypeError, match=rf"{op}: expected {what} as 1-D integer {unit} ids or a "
                                        rf"boolean mask \(got int64 of shape \(1, 1\)\)"):
        select(sg.tensor([[1]]))


@pytest.mark.parametrize("caller", ["sparse rows", "TUDataset", "subgraph"])
def test_the_three_callers_take_the_same_ids(caller, tmp_path):
    *_, select = _callers(tmp_path)[caller]
    mask = np.array([False, True, True, False])
    # an empty list, a mask and a Tensor of ids select what numpy's indexing does
    sizes = [len(s) if caller == "TUDataset" else s.shape[0] if caller == "sparse rows"
             else s.num_nodes for s in (select([]), select(mask), select(sg.tensor([3, 0])))]
    assert sizes == [0, 2, 2]
