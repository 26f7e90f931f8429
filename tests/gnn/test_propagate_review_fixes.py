"""Review fixes in propagate: a custom message reduced in the caller's order (no E x F
permutation), ``adj_t``, the fillable names in the error, ``x_dst`` named, and
``flow="target_to_source"`` swapping a keyword pair only where it is read as NAME_i / NAME_j."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph import gnn
from sparsegraph.gnn.edge_call import FILLABLE
from sparsegraph.sparse import SparseTensor

N = 5
# unsorted by target, with duplicate edges (1 -> 2 three times, 3 -> 1 twice); E = 9 != N
EI = np.array([[4, 1, 0, 3, 1, 2, 1, 3, 0], [2, 2, 0, 1, 0, 2, 2, 1, 4]])
ORDER = np.argsort(EI[1], kind="stable")


def feats(n=N, f=3, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, f))
    return sg.tensor(x, dtype=sg.float64, requires_grad=True)


def arr(t):
    return t.detach().numpy()


def reference(msg, index, n, aggr):
    out = np.zeros((n,) + msg.shape[1:])
    for i in range(n):
        rows = msg[index == i]
        if rows.size:
            out[i] = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[aggr](rows, 0)
    return out


class Scaled(gnn.MessagePassing):
    def message(self, x_j, x_i):
        return x_j * 2.0 - x_i


AGGRS = ["sum", "mean", "max", "min", ["sum", "mean", "max", "min"], ["max", "mean"]]


@pytest.mark.parametrize("aggr", AGGRS, ids=str)
def test_a_custom_message_on_unsorted_edges_matches_values_and_gradients(aggr):
    x_np = arr(feats())
    msg = x_np[EI[0]] * 2.0 - x_np[EI[1]]
    aggrs = [aggr] if isinstance(aggr, str) else aggr
    want = np.concatenate([reference(msg, EI[1], N, a) for a in aggrs], axis=1)
    grads = []
    for ei in (EI, EI[:, ORDER].copy()):  # the caller's order, and already sorted (CSR path)
        x = feats()
        out = Scaled(aggr=aggr).propagate(ei, x)
        np.testing.assert_allclose(arr(out), want, rtol=1e-12)
        (out * sg.tensor(np.arange(out.numel()).reshape(out.shape) + 1.0)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


@pytest.mark.parametrize("aggr", AGGRS, ids=str)
def test_a_custom_message_on_unsorted_edges_gathers_no_messages(aggr, monkeypatch):
    gathered = []
    gather = ops.gather_rows

    def spy(src, index):
        gathered.append(tuple(src.shape))
        return gather(src, index)

    monkeypatch.setattr(ops, "gather_rows", spy)
    out = Scaled(aggr=aggr).propagate(EI, feats())
    out.sum().backward()
    assert gathered and all(shape[0] == N for shape in gathered), gathered  # x rows only


@pytest.mark.parametrize("kind", ["edge_index", "sparse", "graph"])
def test_message_gets_adj_t(kind):
    class WithAdj(gnn.MessagePassing):
        def message(self, x_j, adj_t):
            self.adj_t = adj_t
            return x_j

    adj = sg.from_edge_index(EI, N)
    given = {"edge_index": EI, "sparse": adj, "graph": sg.Graph(edge_index=EI, num_nodes=N)}
    conv = WithAdj()
    conv.propagate(given[kind], feats())
    if kind == "edge_index":
        assert conv.adj_t is None
    else:
        assert isinstance(conv.adj_t, SparseTensor) and conv.adj_t.layout == "csr"
        np.testing.assert_array_equal(conv.adj_t.to_dense().numpy(), adj.to_dense().numpy())


def test_the_cannot_fill_error_lists_every_fillable_name():
    class Bad(gnn.MessagePassing):
        def message(self, x_j, nonsense):
            return x_j

    with pytest.raises(TypeError, match="cannot fill parameter `nonsense`") as info:
        Bad().propagate(EI, feats())
    for name in FILLABLE:
        assert name in str(info.value)
    assert {"adj_t", "dim_size", "size", "edge_index"} <= set(FILLABLE)


def test_a_bad_x_dst_is_named_x_dst():
    with pytest.raises(TypeError, match="expected `x_dst` to be a Tensor"):
        Scaled().propagate(EI, (feats(), np.zeros((N, 3))))


def test_target_to_source_swaps_a_keyword_pair_only_for_its_i_j_reads():
    class Pair(gnn.MessagePassing):
        def __init__(self):
            super().__init__(aggr="sum", flow="target_to_source")

        def message(self, h_j, h_i, h):
            self.h = h
            return h_j - h_i

        def update(self, aggr_out, h):
            self.h_update = h
            return aggr_out

    h0, h1 = feats(4, seed=1), feats(N, seed=2)  # h[0] indexed by row 0, h[1] by row 1
    ei = np.array([[0, 1, 3, 2, 0], [4, 0, 1, 1, 2]])
    conv = Pair()
    out = conv.propagate(ei, h=(h0, h1), size=(4, N))
    assert conv.h[0] is h0 and conv.h[1] is h1  # as the caller passed it
    assert conv.h_update[0] is h0
    want = reference(arr(h1)[ei[1]] - arr(h0)[ei[0]], ei[0], 4, "sum")
    np.testing.assert_allclose(arr(out), want, rtol=1e-12)


# ---- GATConv's Tensor fill_value, the cached unit values, lazy error words -------------------
def test_gat_tensor_fill_value_is_a_non_persistent_buffer():
    fill = sg.tensor(np.array([1.0, -2.0]), dtype=sg.float32)
    conv = gnn.GATConv(4, 2, edge_dim=2, fill_value=fill)
    assert dict(conv.named_buffers())["fill_value"] is conv.fill_value
    assert "fill_value" not in conv.state_dict()
    conv.to("float64")  # moved / cast with the module, as .to(device) moves it
    assert conv.fill_value.dtype == sg.float64
    np.testing.assert_array_equal(conv.fill_value.numpy(), [1.0, -2.0])
    assert gnn.GATConv(4, 2, edge_dim=2, fill_value=0.5).fill_value == 0.5


def test_unweighted_adjacency_values_are_read_only_on_the_cpu():
    from sparsegraph.gnn.inputs import unweighted_adjacency

    adj = unweighted_adjacency(EI, feats(), op="Test")
    values = adj.values.numpy()
    assert not values.flags.writeable
    with pytest.raises(ValueError):
        values[0] = 5.0
    again = unweighted_adjacency(EI, feats(), op="Test").values.numpy()
    np.testing.assert_array_equal(again, np.ones(EI.shape[1]))


def test_propagate_formats_count_labels_only_when_raising(monkeypatch):
    from sparsegraph.gnn import edge_call

    formatted = []
    words_str = edge_call._Words.__str__
    monkeypatch.setattr(edge_call._Words, "__str__",
                        lambda self: formatted.append(self.fmt) or words_str(self))
    x_src, x_dst = feats(), feats(3, seed=1)
    ei = np.array([[0, 4, 1], [2, 0, 1]])
    Scaled().propagate(ei, (x_src, x_dst), size=(N, 3))
    assert formatted == []
    with pytest.raises(ValueError, match=r"to match `size\[1\]` = 3 \(got 2\)"):
        Scaled().propagate(ei, (x_src, feats(2)), size=(N, 3))
    assert formatted
