"""Graph.batch / unbatch audit fixes: PyG's __cat_dim__ (shapes independent of node counts,
exact round trip), gradients through batching, PyG's __inc__ for *index* / *batch* keys."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import Graph

EI = np.array([[0, 1, 2], [1, 2, 0]])


def _g(n, **attrs):
    return Graph(edge_index=np.array([[0], [n - 1]]), num_nodes=n, **attrs)


# ---- F1: every array attribute concatenated on axis 0, whatever the node counts -------------
@pytest.mark.parametrize("counts", [(16, 16), (16, 3), (1, 1), (3, 5, 16)])
def test_a_per_graph_vector_batches_the_same_whatever_the_node_counts(counts):
    gs = [_g(n, fp=sg.tensor(np.full(16, i, np.float32))) for i, n in enumerate(counts)]
    b = Graph.batch(gs)
    assert b.fp.shape == (16 * len(counts),)  # PyG: torch.cat on dim 0, never stacked
    for i, part in enumerate(b.unbatch()):
        assert part.fp.shape == (16,) and part.fp.numpy().tolist() == [float(i)] * 16


def test_graph_loader_of_one_graph_keeps_the_descriptor_shape():
    from sparsegraph.datasets import GraphLoader

    gs = [_g(n, fp=sg.tensor(np.ones(16, np.float32))) for n in (16, 3, 16, 7)]
    assert {tuple(b.fp.shape) for b in GraphLoader(gs, batch_size=1)} == {(16,)}


def test_unbatch_restores_variable_lengths_zero_d_and_graph_labels_exactly():
    gs = [_g(2, seq=np.arange(3.0), s=sg.tensor(np.float32(1.5)), y=np.array([0]),
             t=sg.tensor(np.ones((1, 4), np.float32))),
          _g(5, seq=np.arange(5.0), s=sg.tensor(np.float32(2.5)), y=np.array([1]),
             t=sg.tensor(np.zeros((1, 4), np.float32)))]
    b = Graph.batch(gs)
    assert b.seq.shape == (8,) and b.s.shape == (2,) and b.y.shape == (2,)
    assert b.t.shape == (2, 4)
    for g, part in zip(gs, b.unbatch(), strict=True):
        for key in ("seq", "s", "y", "t"):
            assert tuple(part[key].shape) == tuple(np.shape(g[key])), key
            np.testing.assert_array_equal(np.asarray(part[key]), np.asarray(g[key]))
    assert b.batch_size == b.num_graphs == 2


def test_node_fields_and_split_masks_still_follow_the_nodes():
    gs = [_g(n, x=np.arange(n * 2, dtype=np.float32).reshape(n, 2), y=np.arange(n) % 2,
             train_mask=np.ones((3, n), bool)) for n in (3, 4)]
    b = Graph.batch(gs)
    assert b.x.shape == (7, 2) and b.y.shape == (7,) and b.train_mask.shape == (3, 7)
    sub = b.subgraph(np.arange(1, 6))
    assert sub.x.shape == (5, 2) and [p.num_nodes for p in sub.unbatch()] == [2, 3]
    for g, part in zip(gs, b.unbatch(), strict=True):
        np.testing.assert_array_equal(part.x.numpy(), g.x.numpy())
        assert part.train_mask.shape == (3, g.num_nodes)


# ---- F2: gradients through Graph.batch and unbatch ------------------------------------------
def test_batch_keeps_the_gradient_of_x_the_edge_weights_and_edge_attr():
    x = sg.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    w = sg.tensor(np.array([1., 2., 3.], np.float32), requires_grad=True)
    a = sg.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    g = Graph(x=x, edge_index=EI, edge_weight=w, edge_attr=a)
    b = Graph.batch([g, g])
    assert b.x.requires_grad and b.adj.values.requires_grad and b.edge_attr.requires_grad
    ((b.adj @ b.x).sum() + (b.edge_attr * 3).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [[2, 2], [4, 4], [6, 6]])
    np.testing.assert_allclose(w.grad.numpy(), [4, 4, 4])
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 2), 6.0))


def test_unbatch_keeps_the_gradient_and_batch_promotes_as_torch_cat():
    x = sg.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    w = sg.tensor(np.array([1., 2., 3.], np.float32), requires_grad=True)
    g = Graph(x=x, edge_index=EI, edge_weight=w)
    h = Graph(x=np.ones((2, 2), np.int64), edge_index=np.array([[0], [1]]))
    b = Graph.batch([g, h])
    assert b.x.dtype == np.float32 and b.x.requires_grad
    part = b.unbatch()[0]
    assert part.x.requires_grad and part.adj.values.requires_grad
    (part.adj @ part.x).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2, 2, 2])
    np.testing.assert_allclose(x.grad.numpy(), [[1, 1], [2, 2], [3, 3]])


# ---- F6: PyG's __inc__ ------------------------------------------------------------------------
def test_any_index_key_is_shifted_and_batch_keys_by_their_max_plus_one():
    gs = [_g(3, index_map=np.array([2, 0]), sub_batch=np.array([0, 0, 1])),
          _g(2, index_map=np.array([1]), sub_batch=np.array([0, 1, 1]))]
    b = Graph.batch(gs)
    assert np.asarray(b.index_map).tolist() == [2, 0, 4]
    assert np.asarray(b.sub_batch).tolist() == [0, 0, 1, 2, 3, 3]
    for g, part in zip(gs, b.unbatch(), strict=True):
        np.testing.assert_array_equal(np.asarray(part.index_map), g.index_map)
        np.testing.assert_array_equal(np.asarray(part.sub_batch), g.sub_batch)
    assert Graph.batch([gs[0], gs[0]]).sub_batch.numpy().tolist() == [0, 0, 1, 2, 2, 3]


def test_batch_size_is_the_graph_count_and_a_set_value_wins():
    b = Graph.batch([_g(2), _g(3), _g(1)])
    assert b.batch_size == 3 and _g(2).batch_size == 1
    g = _g(2, batch_size=7)
    assert g.batch_size == 7


def test_save_on_disk_keeps_the_batch_records_unbatch_needs(tmp_path):
    from sparsegraph.datasets import load_on_disk, save_on_disk

    graphs = []
    for n, length in ((3, 2), (2, 5)):
        g = Graph(x=np.ones((n, 2), np.float32), edge_index=np.array([[0, 1], [1, 0]]),
                  y=np.array([1]))
        g.desc = sg.tensor(np.arange(length, dtype=np.float32))  # per graph, own length
        g.label0 = sg.tensor(np.float32(7))  # 0-d
        g.sub_batch = np.array([0, 0, 1][:n])  # shifted by the max + 1 before it
        graphs.append(g)
    save_on_disk(Graph.batch(graphs), tmp_path / "b")
    for orig, part in zip(graphs, load_on_disk(tmp_path / "b").unbatch(), strict=True):
        assert part.desc.tolist() == orig.desc.tolist() and part.label0.shape == ()
        assert np.asarray(part.sub_batch).tolist() == orig.sub_batch.tolist()
