"""PyG's ``ToDense`` transform and ``DenseDataLoader``: values against numpy references of
PyG's rules (``adj[src, dst]`` summed, zero padding, mask), batches against `to_dense_batch`
/ `to_dense_adj` of the same graphs, float64 gradchecks, the `DenseGraph` container, errors
naming the argument, and PyG's examples/proteins_diff_pool.py run with its imports swapped."""

from math import ceil

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
import sparsegraph.transforms as T
from sparsegraph.datasets import DenseDataLoader, GraphLoader, TUDataset
from sparsegraph.gnn import DenseSAGEConv, dense_diff_pool, to_dense_adj, to_dense_batch
from sparsegraph.testing import gradcheck
from sparsegraph.transforms import DenseGraph, ToDense

EI = np.array([[0, 1, 1, 2, 3, 3, 0], [1, 0, 2, 2, 0, 0, 3]])  # a self loop, a repeated edge


def _np(t):
    return t.detach().numpy() if isinstance(t, sg.Tensor) else np.asarray(t)


def _ref_adj(ei, values, n):
    """PyG's ``torch.sparse_coo_tensor(edge_index, values, (n, n, *)).to_dense()``."""
    out = np.zeros((n, n, *values.shape[1:]), values.dtype)
    np.add.at(out, (ei[0], ei[1]), values)
    return out


def _graph(rng, **kw):
    return sg.Graph(x=rng.standard_normal((4, 3)).astype(np.float32), edge_index=EI, **kw)


# ---- ToDense ------------------------------------------------------------------------------
def test_todense_pads_and_builds_adj_as_pyg():
    rng = np.random.default_rng(0)
    pos = rng.standard_normal((4, 2)).astype(np.float32)
    y = rng.standard_normal(4).astype(np.float32)  # node-level: padded
    g = _graph(rng, y=y, pos=pos, graph_attr=sg.tensor([[1.0, 2.0]]))
    d = ToDense(6)(g)
    assert isinstance(d, DenseGraph)
    assert d.keys() == ["x", "y", "pos", "graph_attr", "adj", "mask"]
    np.testing.assert_array_equal(_np(d.adj), _ref_adj(EI, np.ones(7, np.float32), 6))
    assert d.adj.dtype == np.float32 and _np(d.adj)[3, 0] == 2  # the repeated edge adds up
    np.testing.assert_array_equal(_np(d.mask), [True] * 4 + [False] * 2)
    assert d.mask.dtype == np.bool_
    np.testing.assert_array_equal(_np(d.x), np.vstack([_np(g.x), np.zeros((2, 3))]))
    np.testing.assert_array_equal(d.pos, np.vstack([pos, np.zeros((2, 2))]))
    np.testing.assert_array_equal(_np(d.y), np.r_[y, 0, 0])
    np.testing.assert_array_equal(_np(d.graph_attr), [[1.0, 2.0]])  # other attributes kept
    assert d.edge_index is None and d.edge_attr is None and "edge_index" not in d
    assert d.num_nodes == 6 and d.num_features == 3 and d.num_edge_features == 0


def test_todense_without_num_nodes_keeps_the_graph_size_and_graph_label():
    g = _graph(np.random.default_rng(1), y=np.array([1]))
    d = ToDense()(g)
    assert d.x.shape == (4, 3) and d.adj.shape == (4, 4) and bool(_np(d.mask).all())
    np.testing.assert_array_equal(_np(d.y), [1])  # graph-level (1,): kept
    assert ToDense(9)(g).y.shape == (1,)
    np.testing.assert_array_equal(_np(g.edge_index), _np(sg.Graph(edge_index=EI).edge_index))
    assert g.x.shape == (4, 3) and "edge_index" in g  # the input graph is unchanged


def test_todense_one_node_graph_keeps_its_label():
    """PyG would take a one-node graph's ``y`` of shape (1,) for node-level and pad it."""
    g = sg.Graph(x=np.ones((1, 2), np.float32), edge_index=[[0], [0]], y=np.array([3]))
    d = ToDense(3)(g)
    np.testing.assert_array_equal(_np(d.y), [3])
    np.testing.assert_array_equal(_np(d.adj), [[1, 0, 0], [0, 0, 0], [0, 0, 0]])


def test_todense_uses_edge_weights():
    w = np.array([0.5, 2.0, 3.0, -1.0, 4.0, 5.0, 6.0], np.float32)
    g = _graph(np.random.default_rng(2), edge_weight=w)
    d = ToDense(5)(g)
    np.testing.assert_allclose(_np(d.adj), _ref_adj(EI, w, 5))
    assert _np(d.adj)[3, 0] == 9.0 and _np(d.adj)[2, 2] == -1.0


@pytest.mark.parametrize("shape", [(7,), (7, 4)])
def test_todense_edge_attr_gives_the_values_and_trailing_dims(shape):
    ea = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    g = _graph(np.random.default_rng(3), edge_attr=ea, edge_weight=np.full(7, 9.0))
    d = ToDense(5)(g)  # edge_attr wins over the weights, as PyG reads edge_attr
    assert d.adj.shape == (5, 5, *shape[1:])
    np.testing.assert_allclose(_np(d.adj), _ref_adj(EI, ea, 5), rtol=1e-6)


def test_todense_sparse_x_and_empty_graph():
    x = sg.from_scipy(sp.csr_matrix(np.eye(3, dtype=np.float32)))
    d = ToDense(4)(sg.Graph(x=x, edge_index=[[], []]))
    np.testing.assert_array_equal(_np(d.x), np.eye(4, 3))
    np.testing.assert_array_equal(_np(d.adj), np.zeros((4, 4)))


def test_todense_gradcheck():
    rng = np.random.default_rng(4)
    x = sg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = sg.tensor(rng.uniform(0.5, 2, 7), requires_grad=True)
    ea = sg.tensor(rng.standard_normal((7, 2)), requires_grad=True)

    def weighted(x, w):
        d = ToDense(6)(sg.Graph(x=x, edge_index=EI, edge_weight=w))
        return d.x, d.adj

    def featured(ea):
        return ToDense(5)(sg.Graph(edge_index=EI, edge_attr=ea, num_nodes=4)).adj

    assert gradcheck(weighted, [x, w])
    assert gradcheck(featured, [ea])


@pytest.mark.parametrize("bad, exc, words", [
    (0, ValueError, "`num_nodes` >= 1 (got 0)"),
    (-3, ValueError, "`num_nodes` >= 1 (got -3)"),
    (2.5, TypeError, "`num_nodes` to be an int"),
    (True, TypeError, "`num_nodes` to be an int"),
])
def test_todense_bad_num_nodes(bad, exc, words):
    with pytest.raises(exc, match="ToDense: expected") as info:
        ToDense(bad)
    assert words in str(info.value)


def test_todense_graph_larger_than_num_nodes():
    with pytest.raises(ValueError, match=r"ToDense: expected graphs of at most num_nodes=3 "
                                         r"nodes \(got a graph of 4 nodes\).*pre_filter"):
        ToDense(3)(_graph(np.random.default_rng(5)))


def test_todense_refuses_a_non_graph():
    d = ToDense()(_graph(np.random.default_rng(6)))
    with pytest.raises(TypeError, match="ToDense: expected a sparsegraph Graph .got DenseGraph"):
        ToDense()(d)
    assert repr(ToDense()) == "ToDense()" and repr(ToDense(5)) == "ToDense(num_nodes=5)"


# ---- DenseGraph ---------------------------------------------------------------------------
def test_dense_graph_data_protocol():
    d = ToDense(5)(_graph(np.random.default_rng(7), y=np.array([1])))
    assert repr(d) == "DenseGraph(x=[5, 3], y=[1], adj=[5, 5], mask=[5])"
    assert d["adj"] is d.adj and "mask" in d and "pos" not in d and d.pos is None
    assert dict(d).keys() == {"x", "y", "adj", "mask"}
    assert [k for k, _ in d("y", "pos", "x")] == ["y", "x"]
    d["tag"] = 7
    assert d.tag == 7 and d.keys()[-1] == "tag"
    del d["tag"]
    del d.y
    assert d.keys() == ["x", "adj", "mask"]
    with pytest.raises(KeyError, match="DenseGraph: no attribute 'y' .it has: x, adj, mask"):
        d["y"]
    with pytest.raises(AttributeError, match="no attribute 'foo'"):
        _ = d.foo
    with pytest.raises(TypeError, match="DenseGraph: expected a data attribute name as key "
                                        ".got 'num_nodes', a reserved name"):
        d["num_nodes"] = 3
    with pytest.raises(TypeError, match="got 3, not a str"):
        d[3]


def test_dense_graph_to_and_clone():
    d = ToDense(5)(_graph(np.random.default_rng(8), y=np.array([1])))
    c = d.clone()
    c.x[0, 0] = 100.0
    assert _np(d.x)[0, 0] != 100.0 and c.adj is not d.adj
    moved = d.to("cpu", "x")
    assert moved is not d and moved.x is d.x  # already there: shared, as Tensor.to
    with pytest.raises(ValueError, match="DenseGraph.to: expected names of attributes set"):
        d.to("cpu", "pos")
    with pytest.raises(TypeError, match="`non_blocking` to be True or False"):
        d.to("cpu", non_blocking=1)


def test_dense_graph_on_cuda(emulated_cuda):
    g = _graph(np.random.default_rng(9), y=np.array([0])).to("cuda")
    d = ToDense(6)(g)
    assert d.adj.device == d.mask.device == d.x.device == g.x.device != "cpu"
    b = next(iter(DenseDataLoader([d, d], batch_size=2)))
    assert b.adj.device == g.x.device and b.adj.shape == (2, 6, 6)
    np.testing.assert_array_equal(_np(b.cpu().adj[1]), _np(ToDense(6)(g.cpu()).adj))
    assert b.cpu().adj.device == "cpu"


# ---- DenseDataLoader ----------------------------------------------------------------------
def _proteins(data_root, max_nodes=150, transform=True):
    return TUDataset("PROTEINS", root=data_root, download=False, use_node_attr=False,
                     transform=ToDense(max_nodes) if transform else None,
                     pre_filter=lambda g: g.num_nodes <= max_nodes)


def test_loader_batches_equal_to_dense_batch_and_adj(data_root):
    ds = _proteins(data_root)[:45]
    sparse = list(GraphLoader(_proteins(data_root, transform=False)[:45], batch_size=20))
    dense = list(DenseDataLoader(ds, batch_size=20))
    assert len(dense) == 3 and [b.x.shape[0] for b in dense] == [20, 20, 5]
    for b, s in zip(dense, sparse, strict=True):
        x, mask = to_dense_batch(s.x, s.batch, max_num_nodes=150)
        np.testing.assert_array_equal(_np(b.x), _np(x))
        np.testing.assert_array_equal(_np(b.mask), _np(mask))
        np.testing.assert_array_equal(_np(b.adj), _np(to_dense_adj(s.edge_index, s.batch,
                                                                    max_num_nodes=150)))
        assert b.adj.dtype == np.float32 and b.mask.dtype == np.bool_
        assert b.y.shape == (b.x.shape[0], 1)  # (1,) per graph, stacked as PyG's collate
        np.testing.assert_array_equal(_np(b.y).reshape(-1), _np(s.y))
    assert len(DenseDataLoader(ds, batch_size=20, drop_last=True)) == 2


def test_loader_mutag_edge_attr_adj(data_root):
    ds = TUDataset("MUTAG", root=data_root, download=False, transform=ToDense(28))[:10]
    b = next(iter(DenseDataLoader(ds, batch_size=10)))
    s = next(iter(GraphLoader(TUDataset("MUTAG", root=data_root, download=False)[:10],
                              batch_size=10)))
    assert b.adj.shape == (10, 28, 28, 4)  # PyG: edge_attr's dims trail adj's
    np.testing.assert_array_equal(_np(b.adj), _np(to_dense_adj(s.edge_index, s.batch,
                                                                s.edge_attr, 28)))


def test_loader_shuffle_seed_and_defaults():
    rng = np.random.default_rng(10)
    graphs = [ToDense(4)(_graph(rng, y=np.array([i]))) for i in range(7)]
    loader = DenseDataLoader(graphs)
    assert loader.batch_size == 1 and not loader.shuffle and len(loader) == 7  # PyG's defaults
    order = [int(_np(b.y)[0, 0]) for b in DenseDataLoader(graphs, 3, True, seed=1)]
    again = [int(_np(b.y)[0, 0]) for b in DenseDataLoader(graphs, 3, True, seed=1)]
    assert order == again
    ys = np.concatenate([_np(b.y)[:, 0] for b in DenseDataLoader(graphs, 3, True, seed=2)])
    assert sorted(ys.tolist()) == list(range(7))
    assert DenseDataLoader(graphs, collate_fn=print, num_workers=2).dataset is graphs


def test_loader_collates_numbers_and_strings_as_default_collate():
    graphs = [DenseGraph(x=sg.ones(2, 1), n=i, w=0.5 * i, name=f"g{i}") for i in range(3)]
    b = next(iter(DenseDataLoader(graphs, batch_size=3)))
    assert b.n.dtype == np.int64 and _np(b.n).tolist() == [0, 1, 2]
    assert b.w.dtype == np.float64 and b.name == ["g0", "g1", "g2"]


def test_loader_keeps_gradients():
    x = sg.tensor(np.random.default_rng(11).standard_normal((3, 2)), requires_grad=True)

    def batched(x):
        d = ToDense(4)(sg.Graph(x=x, edge_index=[[0, 1], [1, 2]]))
        return next(iter(DenseDataLoader([d, d], batch_size=2))).x

    assert gradcheck(batched, [x])


def test_loader_different_sizes_named(data_root):
    ds = TUDataset("MUTAG", root=data_root, download=False, transform=ToDense())
    with pytest.raises(ValueError, match=r"DenseDataLoader: expected `x` of one shape in every "
                                         r"graph of a batch .* \(got \(17, 7\) for graph 0 and "
                                         r"\(13, 7\) for graph 1\).*ToDense\(num_nodes\)"):
        next(iter(DenseDataLoader(ds, batch_size=2)))


def test_loader_refuses_sparse_graphs(data_root):
    ds = TUDataset("MUTAG", root=data_root, download=False)
    with pytest.raises(TypeError, match=r"DenseDataLoader: expected DenseGraphs.*got Graph for "
                                        r"graph 0.*transform=sparsegraph.transforms.ToDense"):
        next(iter(DenseDataLoader(ds, batch_size=2)))


def test_loader_argument_errors():
    d = ToDense(3)(sg.Graph(x=np.ones((3, 1), np.float32), edge_index=[[0], [1]]))
    with pytest.raises(TypeError, match="DenseDataLoader: unexpected keyword argument 'sampler'"):
        DenseDataLoader([d], sampler=None)
    with pytest.raises(ValueError, match=r"DenseDataLoader: expected batch_size >= 1 \(got 0\)"):
        DenseDataLoader([d], batch_size=0)
    with pytest.raises(TypeError, match="DenseDataLoader: expected an int `batch_size`"):
        DenseDataLoader([d], batch_size=2.0)
    with pytest.raises(TypeError, match="DenseDataLoader: expected a dataset or list of "
                                        "DenseGraphs .got DenseGraph"):
        DenseDataLoader(d)
    with pytest.raises(TypeError, match="DenseDataLoader: expected `seed` or `generator`"):
        DenseDataLoader([d], seed=1, generator=sg.Generator())
    other = DenseGraph(x=d.x, adj=d.adj, mask=d.mask, y=sg.tensor([1]))
    with pytest.raises(ValueError, match=r"the same attributes \(graph 0 has \['x', 'adj', "
                                         r"'mask'\], graph 1 has"):
        next(iter(DenseDataLoader([d, other], batch_size=2)))


# ---- PyG's examples/proteins_diff_pool.py, imports swapped (2 epochs on a subset) ---------
def test_proteins_diff_pool_example_trains(data_root):
    import sparsegraph as torch
    import sparsegraph.nn.functional as F

    max_nodes = 150

    class MyFilter:
        def __call__(self, data):
            return data.num_nodes <= max_nodes

    torch.manual_seed(0)
    dataset = TUDataset(str(data_root), name="PROTEINS", transform=T.ToDense(max_nodes),
                        pre_filter=MyFilter(), use_node_attr=False, download=False)
    dataset = dataset.shuffle()[:60]  # a subset, to keep the test short
    n = (len(dataset) + 9) // 10
    val_dataset, train_dataset = dataset[n:2 * n], dataset[2 * n:]
    val_loader = DenseDataLoader(val_dataset, batch_size=20)
    train_loader = DenseDataLoader(train_dataset, batch_size=20)

    class GNN(torch.nn.Module):
        def __init__(self, in_channels, hidden_channels, out_channels, normalize=False,
                     lin=True):
            super().__init__()
            self.conv1 = DenseSAGEConv(in_channels, hidden_channels, normalize)
            self.bn1 = torch.nn.BatchNorm1d(hidden_channels)
            self.conv2 = DenseSAGEConv(hidden_channels, hidden_channels, normalize)
            self.bn2 = torch.nn.BatchNorm1d(hidden_channels)
            self.conv3 = DenseSAGEConv(hidden_channels, out_channels, normalize)
            self.bn3 = torch.nn.BatchNorm1d(out_channels)
            self.lin = (torch.nn.Linear(2 * hidden_channels + out_channels, out_channels)
                        if lin is True else None)

        def bn(self, i, x):
            batch_size, num_nodes, num_channels = x.size()
            x = x.view(-1, num_channels)
            x = getattr(self, f"bn{i}")(x)
            return x.view(batch_size, num_nodes, num_channels)

        def forward(self, x, adj, mask=None):
            x1 = self.bn(1, self.conv1(x, adj, mask).relu())
            x2 = self.bn(2, self.conv2(x1, adj, mask).relu())
            x3 = self.bn(3, self.conv3(x2, adj, mask).relu())
            x = torch.cat([x1, x2, x3], dim=-1)
            return x if self.lin is None else self.lin(x).relu()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            num_nodes = ceil(0.25 * max_nodes)
            self.gnn1_pool = GNN(dataset.num_features, 64, num_nodes)
            self.gnn1_embed = GNN(dataset.num_features, 64, 64, lin=False)
            num_nodes = ceil(0.25 * num_nodes)
            self.gnn2_pool = GNN(3 * 64, 64, num_nodes)
            self.gnn2_embed = GNN(3 * 64, 64, 64, lin=False)
            self.gnn3_embed = GNN(3 * 64, 64, 64, lin=False)
            self.lin1 = torch.nn.Linear(3 * 64, 64)
            self.lin2 = torch.nn.Linear(64, dataset.num_classes)

        def forward(self, x, adj, mask=None):
            s = self.gnn1_pool(x, adj, mask)
            x = self.gnn1_embed(x, adj, mask)
            x, adj, l1, e1 = dense_diff_pool(x, adj, s, mask)
            s = self.gnn2_pool(x, adj)
            x = self.gnn2_embed(x, adj)
            x, adj, l2, e2 = dense_diff_pool(x, adj, s)
            x = self.gnn3_embed(x, adj)
            x = x.mean(dim=1)
            x = self.lin1(x).relu()
            x = self.lin2(x)
            return F.log_softmax(x, dim=-1), l1 + l2, e1 + e2

    device = "cpu"
    model = Net().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

    def train():
        model.train()
        loss_all = 0
        for data in train_loader:
            data = data.to(device)
            optimizer.zero_grad()
            output, _, _ = model(data.x, data.adj, data.mask)
            loss = F.nll_loss(output, data.y.view(-1))
            loss.backward()
            loss_all += data.y.size(0) * float(loss)
            optimizer.step()
        return loss_all / len(train_dataset)

    @torch.no_grad()
    def test(loader):
        model.eval()
        correct = 0
        for data in loader:
            data = data.to(device)
            pred = model(data.x, data.adj, data.mask)[0].max(dim=1)[1]
            correct += int(pred.eq(data.y.view(-1)).sum())
        return correct / len(loader.dataset)

    assert dataset.num_features == 3 and dataset.num_classes == 2
    losses = [train() for _ in range(2)]
    assert all(np.isfinite(losses)) and losses[1] < losses[0], losses
    assert all(p.grad is not None and np.isfinite(_np(p.grad)).all()
               for p in model.parameters())
    assert 0.0 <= test(val_loader) <= 1.0
