"""edge_sum, the per-edge score primitive: values in adj's own entry order (so that
``adj.with_values(edge_sum(adj, ...))`` scores the right edges) for CSR and COO, gradients, and
named errors."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck, random_sparse

LAYOUTS = {"csr": dict(layout="csr"), "coo": dict(layout="coo"),
           "coo_duplicates": dict(layout="coo", duplicates=True),
           "empty_rows": dict(layout="coo", empty_rows=True)}


def reference(a, src, dst):
    """``src[col] + dst[row]`` entry by entry, in a's own order."""
    s = a.structure
    return src.detach().numpy()[s.cols()] + dst.detach().numpy()[s.rows()]


@pytest.mark.parametrize("spec", LAYOUTS.values(), ids=LAYOUTS.keys())
@pytest.mark.parametrize("heads", [None, 3])
def test_edge_sum_follows_adjs_own_entry_order(spec, heads):
    a = random_sparse(6, 5, 0.5, seed=1, **spec)
    trailing = () if heads is None else (heads,)
    src = sg.randn(5, *trailing, dtype="float64", requires_grad=True)
    dst = sg.randn(6, *trailing, dtype="float64", requires_grad=True)
    out = ops.edge_sum(a, src, dst)
    assert out.shape == (a.nnz,) + trailing
    assert_close(out, reference(a, src, dst))
    # with_values puts every score on its own edge: the dense sum of the scores agrees
    dense = np.zeros((6, 5) + trailing)
    s = a.structure
    np.add.at(dense, (s.rows(), s.cols()), reference(a, src, dst))
    assert_close(a.with_values(out).to_dense(), dense)
    gradcheck(lambda u, v: ops.edge_sum(a, u, v), [src, dst])


def test_edge_sum_on_coo_matches_the_audit_example_and_sddmm_order():
    a = sg.sparse_coo([[2, 0, 1], [0, 1, 2]], None, (3, 3))  # COO order != CSR order
    src, dst = sg.tensor([1.0, 2.0, 3.0]), sg.tensor([10.0, 20.0, 30.0])
    assert ops.edge_sum(a, src, dst).tolist() == [31.0, 12.0, 23.0]
    assert a.with_values(ops.edge_sum(a, src, dst)).to_dense().tolist() == [
        [0.0, 12.0, 0.0], [0.0, 0.0, 23.0], [31.0, 0.0, 0.0]]
    ones = sg.ones(3, 1)
    assert_close(ops.edge_sum(a, src, dst),  # sddmm lines up with a.values the same way
                 ops.sddmm(a, dst.reshape(3, 1), ones).values + ops.sddmm(
                     a, ones, src.reshape(3, 1)).values)


def test_edge_sum_on_csr_is_the_one_op_it_was():
    """The CSR path (GATConv's) stays a single EdgeSum node: no permutation added."""
    a = random_sparse(5, 5, 0.5, seed=2, requires_grad=False)
    src = sg.randn(5, 2, requires_grad=True)
    out = ops.edge_sum(a, src, sg.randn(5, 2))
    assert out.grad_fn.name() == "EdgeSumBackward"


def test_edge_sum_errors_name_the_argument():
    a = sg.sparse_coo([[0], [1]], None, (2, 2))
    with pytest.raises(ValueError, match=r"edge_sum: expected `src_term` with at least 1 dim"):
        ops.edge_sum(a, sg.tensor(1.0), sg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"edge_sum: expected `dst_term` with at least 1 dim"):
        ops.edge_sum(a, sg.tensor([1.0, 2.0]), sg.tensor(1.0))
    with pytest.raises(ValueError, match=r"edge_sum: expected `src_term` with 2 rows"):
        ops.edge_sum(a, sg.ones(3), sg.ones(2))
    with pytest.raises(TypeError, match=r"edge_sum: expected a SparseTensor"):
        ops.edge_sum(np.eye(2), sg.ones(2), sg.ones(2))
