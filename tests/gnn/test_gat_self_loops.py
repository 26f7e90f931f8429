"""GATConv's self loops with edge features follow PyG: existing loops are removed, then node i
gets one loop whose features are the mean of the features of the edges pointing to i."""

import numpy as np

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.testing import gradcheck

# edge k: EDGES[0, k] -> EDGES[1, k]; unsorted, with a self loop (2 -> 2) and node 3 that
# has no in-edges (its loop features are 0, PyG's scatter mean of nothing)
EDGES = np.array([[0, 1, 2, 1, 3, 0, 3], [1, 0, 2, 2, 1, 2, 0]])
N = 4


def reference(conv, x, ea):
    """Dense numpy GAT (one head) with PyG's remove_self_loops + add_self_loops('mean')."""
    keep = EDGES[0] != EDGES[1]
    src, dst, attrs = list(EDGES[0, keep]), list(EDGES[1, keep]), list(ea[keep])
    for i in range(N):
        into = ea[keep][EDGES[1, keep] == i]
        attrs.append(into.mean(0) if len(into) else np.zeros(ea.shape[1]))
        src.append(i)
        dst.append(i)
    W, We = conv.lin.weight.detach().numpy(), conv.lin_edge.weight.detach().numpy()
    a_s, a_d, a_e = (p.detach().numpy()[0, 0] for p in (conv.att_src, conv.att_dst,
                                                         conv.att_edge))
    h = x @ W.T
    s = np.array([h[j] @ a_s + h[i] @ a_d + (e @ We.T) @ a_e
                  for j, i, e in zip(src, dst, attrs, strict=True)])
    s = np.where(s > 0, s, 0.2 * s)
    out = np.zeros((N, W.shape[0]))
    for i in range(N):
        k = [n for n in range(len(dst)) if dst[n] == i]
        a = np.exp(s[k] - s[k].max())
        a /= a.sum()
        out[i] = sum(ak * h[src[n]] for ak, n in zip(a, k, strict=True))
    return out + conv.bias.detach().numpy()


def test_gat_loop_features_are_the_per_target_mean_as_in_pyg():
    rng = np.random.default_rng(0)
    x, ea = rng.standard_normal((N, 3)), rng.random((EDGES.shape[1], 2))
    conv = gnn.GATConv(3, 2, edge_dim=2).double()
    got = conv(sg.tensor(x), EDGES, sg.tensor(ea)).detach().numpy()
    np.testing.assert_allclose(got, reference(conv, x, ea), rtol=1e-10, atol=1e-12)


def test_gat_loop_features_pass_gradients_to_edge_attr():
    rng = np.random.default_rng(1)
    conv = gnn.GATConv(3, 2, edge_dim=2).double()
    x = sg.tensor(rng.standard_normal((N, 3)), requires_grad=True)
    ea = sg.tensor(rng.random((EDGES.shape[1], 2)), requires_grad=True)
    gradcheck(lambda a, b: conv(a, EDGES, b), [x, ea])
