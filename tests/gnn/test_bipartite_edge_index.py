"""Bipartite inputs as PyG takes them: ``conv((x_src, x_dst), edge_index)`` with the node
counts from the pair, GraphConv's ``(F_src, F_dst)``, GATConv's self loops on a block."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.nn import Linear
from sparsegraph.sparse import sparse_coo

N_SRC, N_DST = 5, 3
# sources in [0, 5), targets in [0, 3); 0 -> 0 is a loop of the block, 4 -> 2 a duplicate
EI = np.array([[0, 1, 3, 2, 4, 4, 1], [0, 0, 1, 1, 2, 2, 2]])


def _x(f_src=4, f_dst=4):
    rng = np.random.default_rng(0)
    return rng.standard_normal((N_SRC, f_src)), rng.standard_normal((N_DST, f_dst))


def _lin(lin, x):
    out = x @ lin.weight.detach().numpy().T
    return out if lin.bias is None else out + lin.bias.detach().numpy()


def _block(edges):
    return sparse_coo(edges[::-1].copy(), None, (N_DST, N_SRC), dtype="float64")


def test_sage_pair_with_edge_index_matches_numpy():
    xs, xd = _x()
    conv = gnn.SAGEConv(4, 2).to("float64")
    got = conv((sg.tensor(xs), sg.tensor(xd)), EI).detach().numpy()
    agg = np.zeros((N_DST, 4))
    np.add.at(agg, EI[1], xs[EI[0]])
    agg /= np.maximum(np.bincount(EI[1], minlength=N_DST), 1)[:, None]
    np.testing.assert_allclose(got, _lin(conv.lin_l, agg) + _lin(conv.lin_r, xd), atol=1e-12)


def test_graph_conv_tuple_in_channels_with_edge_index_matches_numpy():
    xs, xd = _x(4, 6)
    conv = gnn.GraphConv((4, 6), 2).to("float64")
    assert conv.lin_rel.weight.shape == (2, 4) and conv.lin_root.weight.shape == (2, 6)
    w = np.linspace(0.5, 2.0, EI.shape[1])
    got = conv((sg.tensor(xs), sg.tensor(xd)), EI, edge_weight=sg.tensor(w)).detach().numpy()
    agg = np.zeros((N_DST, 4))
    np.add.at(agg, EI[1], w[:, None] * xs[EI[0]])
    np.testing.assert_allclose(got, _lin(conv.lin_rel, agg) + _lin(conv.lin_root, xd),
                               atol=1e-12)


def test_gin_pair_with_edge_index_matches_numpy():
    xs, xd = _x()
    conv = gnn.GINConv(Linear(4, 2), eps=0.3).to("float64")
    got = conv((sg.tensor(xs), sg.tensor(xd)), EI).detach().numpy()
    agg = np.zeros((N_DST, 4))
    np.add.at(agg, EI[1], xs[EI[0]])
    np.testing.assert_allclose(got, _lin(conv.nn, agg + 1.3 * xd), atol=1e-12)


@pytest.mark.parametrize("in_channels", [4, (4, 4)])
def test_gat_bipartite_self_loops_for_the_first_min_nodes(in_channels):
    """PyG: remove_self_loops, then loops i -> i for i < min(N_src, N_dst): the same as a
    block holding those loops explicitly with add_self_loops=False."""
    xs, xd = _x()
    x = (sg.tensor(xs), sg.tensor(xd))
    conv = gnn.GATConv(in_channels, 3, heads=2).to("float64")
    got_ei = conv(x, EI).detach().numpy()
    got_adj = conv(x, _block(EI)).detach().numpy()
    no_loops = EI[:, EI[0] != EI[1]]
    n = min(N_SRC, N_DST)
    explicit = np.concatenate([no_loops, np.stack([np.arange(n), np.arange(n)])], axis=1)
    conv.add_self_loops = False
    want = conv(x, _block(explicit)).detach().numpy()
    np.testing.assert_allclose(got_ei, want, atol=1e-12)
    np.testing.assert_allclose(got_adj, want, atol=1e-12)


def test_bipartite_edge_index_out_of_range_names_the_pair_member():
    xs, xd = _x()
    bad = np.array([[0, 1], [0, 3]])  # target 3 with only 3 target nodes
    with pytest.raises(ValueError, match=r"SAGEConv: expected `edge_index\[1\]` entries in "
                                         r"\[0, 3\) to match `x_dst` with 3 rows \(got 3\)"):
        gnn.SAGEConv(4, 2).to("float64")((sg.tensor(xs), sg.tensor(xd)), bad)
