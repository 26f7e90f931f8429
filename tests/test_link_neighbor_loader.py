"""LinkNeighborLoader: seed edges and negatives in local ids, fan-outs, determinism, PyG's
label rules, argument errors, and a mini-batched link-prediction run on Cora."""

import math

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph.gnn import LinkNeighborLoader, LinkSampledBlocks, NegativeSampling, models
from sparsegraph.graph import Graph


def random_graph(n=300, e=1500, seed=0, edge_attr=False):
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(0, n * n, e))
    src, dst = np.divmod(keys, n)
    keep = src != dst
    ei = np.stack([src[keep], dst[keep]])
    extra = {"edge_attr": rng.standard_normal((ei.shape[1], 3)).astype(np.float32)} \
        if edge_attr else {}
    return Graph(x=rng.standard_normal((n, 5)).astype(np.float32), edge_index=ei,
                 y=rng.integers(0, 4, n), **extra)


G = random_graph()
EI = np.asarray(G.edge_index, np.int64)  # (source, target), CSR order
EDGE_KEYS = set((EI[0] * G.num_nodes + EI[1]).tolist())
IN_NBRS = [set() for _ in range(G.num_nodes)]
for s, t in EI.T:
    IN_NBRS[t].add(s)


def labels_index(batch):
    return np.asarray(batch.edge_label_index.numpy())


def test_seed_edges_map_back_through_n_id_and_cover_every_edge_once():
    loader = LinkNeighborLoader(G, [4, 3], batch_size=64, shuffle=True, seed=1)
    seen = []
    for batch in loader:
        assert isinstance(batch, LinkSampledBlocks)
        eli = labels_index(batch)
        assert eli.shape == (2, batch.input_id.shape[0])
        assert np.array_equal(batch.n_id[eli], EI[:, batch.input_id])
        # the seeds are the sorted distinct endpoints, first in n_id (PyG's torch.unique)
        assert np.array_equal(batch.n_id[:batch.batch_size], np.unique(EI[:, batch.input_id]))
        assert batch.edge_label is None  # no labels given, no negatives: PyG adds none
        seen.append(batch.input_id)
    seen = np.concatenate(seen)
    assert np.array_equal(np.sort(seen), np.arange(EI.shape[1]))
    assert not np.array_equal(seen, np.arange(EI.shape[1]))  # shuffled
    plain = np.concatenate([b.input_id for b in LinkNeighborLoader(G, [2], batch_size=500)])
    assert np.array_equal(plain, np.arange(EI.shape[1]))


@pytest.mark.parametrize("fanouts", [[3, 2], [0, 5], [-1]])
def test_every_sampled_node_respects_num_neighbors(fanouts):
    loader = LinkNeighborLoader(G, fanouts, batch_size=100, seed=2, neg_sampling="binary")
    batch = next(iter(loader))
    adj = G.adj.structure
    for block, e_id, k in zip(batch.blocks[::-1], batch.e_id[::-1], fanouts, strict=True):
        s = block.structure
        indptr, col = np.asarray(s.indptr), np.asarray(s.indices)
        targets = batch.n_id[:block.shape[0]]
        deg = np.array([len(IN_NBRS[t]) for t in targets])
        assert np.array_equal(np.diff(indptr), deg if k < 0 else np.minimum(deg, k))
        for row, t in enumerate(targets):
            src = batch.n_id[col[indptr[row]:indptr[row + 1]]]
            assert len(set(src.tolist())) == src.size and set(src.tolist()) <= IN_NBRS[t]
        # e_id names the sampled edges of the graph's adjacency
        assert np.array_equal(np.asarray(adj.indices)[e_id], batch.n_id[col])


def test_binary_negatives_are_non_edges_labelled_zero_after_the_positives():
    loader = LinkNeighborLoader(G, [3], batch_size=70, neg_sampling_ratio=1.5, seed=3)
    for batch in loader:
        b = batch.input_id.shape[0]
        eli = labels_index(batch)
        num_neg = math.ceil(1.5 * b)
        assert eli.shape == (2, b + num_neg)
        pairs = batch.n_id[eli]
        assert np.array_equal(pairs[:, :b], EI[:, batch.input_id])
        neg = pairs[:, b:]
        assert (neg[0] != neg[1]).all()
        neg_keys = (neg[0] * G.num_nodes + neg[1]).tolist()
        assert not EDGE_KEYS & set(neg_keys) and len(set(neg_keys)) == num_neg
        label = batch.edge_label.numpy()
        assert label.dtype == np.float32  # PyG: float for binary cross-entropy
        assert np.array_equal(label, np.r_[np.ones(b), np.zeros(num_neg)])
        # the negatives' endpoints are seeds too: their embeddings are rows of the output
        assert eli.max() < batch.batch_size


def test_given_labels_follow_pyg_shift_rule():
    rng = np.random.default_rng(0)
    eli = EI[:, rng.choice(EI.shape[1], 50, replace=False)]
    classes = np.arange(50) % 3  # min 0: shifted to 1..3 so that 0 means "negative"
    batch = next(iter(LinkNeighborLoader(G, [2], eli, classes, neg_sampling="binary",
                                         batch_size=50, seed=0)))
    assert np.array_equal(batch.edge_label.numpy(), np.r_[classes + 1, np.zeros(50)])
    assert batch.edge_label.numpy().dtype == classes.dtype
    # min already 1: unchanged; without negatives: passed through as given
    batch = next(iter(LinkNeighborLoader(G, [2], eli, classes + 1, neg_sampling="binary",
                                         batch_size=50, seed=0)))
    assert np.array_equal(batch.edge_label.numpy()[:50], classes + 1)
    plain = LinkNeighborLoader(G, [2], eli, sg.tensor(classes), batch_size=20, shuffle=True,
                               seed=4)
    for batch in plain:
        assert np.array_equal(batch.edge_label.numpy(), classes[batch.input_id])
        assert np.array_equal(batch.n_id[labels_index(batch)], eli[:, batch.input_id])


def test_non_edge_negatives_stop_at_the_free_pairs():
    # 4 nodes, every ordered pair an edge but 0 -> 3 and 2 -> 1: only those can be negatives
    pairs = [(u, v) for u in range(4) for v in range(4) if u != v and (u, v) not in
             ((0, 3), (2, 1))]
    g = Graph(x=np.eye(4, dtype=np.float32), edge_index=np.array(pairs).T)
    batch = next(iter(LinkNeighborLoader(g, [-1], batch_size=10, neg_sampling_ratio=3.0,
                                         seed=0)))
    neg = batch.n_id[labels_index(batch)[:, 10:]]
    assert sorted(map(tuple, neg.T.tolist())) == [(0, 3), (2, 1)]
    assert np.array_equal(batch.edge_label.numpy(), np.r_[np.ones(10), np.zeros(2)])


@pytest.mark.parametrize("amount", [1, 3])
def test_triplet_indices(amount):
    loader = LinkNeighborLoader(G, [2, 2], batch_size=40, seed=5,
                                neg_sampling=dict(mode="triplet", amount=amount))
    for batch in loader:
        b = batch.input_id.shape[0]
        src, pos = batch.src_index.numpy(), batch.dst_pos_index.numpy()
        neg = batch.dst_neg_index.numpy()
        assert neg.shape == ((b,) if amount == 1 else (b, amount))
        assert np.array_equal(np.stack([batch.n_id[src], batch.n_id[pos]]),
                              EI[:, batch.input_id])
        u = np.repeat(batch.n_id[src], amount)
        v = batch.n_id[neg.reshape(-1)]
        assert (u != v).all() and not EDGE_KEYS & set((u * G.num_nodes + v).tolist())
        assert batch.edge_label_index is None and batch.edge_label is None
        assert max(src.max(), pos.max(), neg.max()) < batch.batch_size


def test_reproducible_under_manual_seed_and_new_each_epoch():
    def run(loader):
        return [(b.n_id, labels_index(b), b.edge_label.numpy()) for b in loader]

    def make():
        return LinkNeighborLoader(G, [3, 2], batch_size=128, shuffle=True,
                                  neg_sampling="binary")

    sg.manual_seed(11)
    a, a2 = make(), make()
    sg.manual_seed(11)
    b = make()
    ea, eb = run(a), run(b)
    assert len(ea) == len(eb) == len(a)
    for x, y in zip(ea, eb, strict=True):
        for u, v in zip(x, y, strict=True):
            assert np.array_equal(u, v)
    assert not np.array_equal(ea[0][0], run(a)[0][0])  # epoch 2: another order and sample
    assert a2.seed != a.seed


def test_batch_fields_match_a_neighbor_loader_batch():
    g = random_graph(edge_attr=True)
    loader = LinkNeighborLoader(g, [3, 2], batch_size=64, neg_sampling="binary", seed=0,
                                transform=lambda batch: (batch, "seen"))
    batch, tag = next(iter(loader))
    assert tag == "seen"
    assert np.array_equal(batch.x.numpy(), g.x.numpy()[batch.n_id])
    assert np.array_equal(batch.y.numpy(), g.y.numpy()[batch.n_id[:batch.batch_size]])
    for attr, e_id in zip(batch.edge_attr, batch.e_id, strict=True):
        assert np.array_equal(attr.numpy(), g.edge_attr.numpy()[e_id])
    model = models.GraphSAGE(5, 8, 2, 4)
    assert model(batch.x, batch.blocks).shape == (batch.batch_size, 4)
    full = model(batch.x, batch.edge_index)[:batch.batch_size]  # PyG's form runs too
    assert full.shape == (batch.batch_size, 4)
    assert batch.to("cpu") is batch
    assert "LinkSampledBlocks(edges=64" in repr(batch)
    assert len(LinkNeighborLoader(g, [1], batch_size=100, drop_last=True)) == \
        g.num_edges // 100


@pytest.mark.parametrize("form", ["binary", ("binary", 2), {"mode": "binary", "amount": 2},
                                  NegativeSampling("binary", 2)])
def test_neg_sampling_forms(form):
    loader = LinkNeighborLoader(G, [1], neg_sampling=form, batch_size=10, seed=0)
    amount = 1 if form == "binary" else 2
    assert loader.neg_sampling == NegativeSampling("binary", amount)
    assert labels_index(next(iter(loader))).shape == (2, 10 * (1 + amount))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(edge_label_index=EI[:, :5][None]), ValueError, r"shape \(2, E\) \(got shape"),
    (dict(edge_label_index=np.zeros((3, 4), np.int64)), ValueError, "shape"),
    (dict(edge_label_index=np.array([[0, 1], [2, 300]])), ValueError, r"\[0, 300\).*got 300"),
    (dict(edge_label_index=np.array([[0, -1], [2, 3]])), ValueError, "got -1"),
    (dict(edge_label_index=np.zeros((2, 3))), TypeError, "integer node ids"),
    (dict(edge_label_index=EI[:, :5], edge_label=np.ones(4)), ValueError,
     r"`edge_label` with one row per seed edge .*\(5\).*\(4,\)"),
    (dict(neg_sampling="ternary"), ValueError, "mode 'binary' or 'triplet'.*'ternary'"),
    (dict(neg_sampling=3), TypeError, "`neg_sampling`"),
    (dict(neg_sampling=("binary", 0)), ValueError, "positive `neg_sampling` amount"),
    (dict(neg_sampling=("triplet", 1.5)), ValueError, "integer `neg_sampling` amount"),
    (dict(neg_sampling="triplet", edge_label=np.ones(EI.shape[1])), ValueError,
     "`edge_label` needs to be None for 'triplet'"),
    (dict(neg_sampling="binary", neg_sampling_ratio=2.0), ValueError, "not both"),
    (dict(neg_sampling_ratio=-1.0), ValueError, "`neg_sampling_ratio` >= 0"),
    (dict(edge_label_time=np.zeros(5)), NotImplementedError, "`edge_label_time`"),
    (dict(replace=True), ValueError, "LinkNeighborLoader: replace=True is not supported"),
    (dict(disjoint=True), ValueError, "LinkNeighborLoader: disjoint=True"),
    (dict(batch_size=0), ValueError, "`batch_size` > 0"),
    (dict(shuffle=1), TypeError, "bool `shuffle`"),
    (dict(neg_sampling={"mode": "binary", "src_weight": np.ones(3)}), NotImplementedError,
     "weighted"),
])
def test_bad_arguments_are_named(kwargs, exc, match):
    with pytest.raises(exc, match="LinkNeighborLoader: .*" + match if "Link" not in match
                       else match):
        LinkNeighborLoader(G, [2], **kwargs)


@pytest.mark.parametrize("form, given", [
    (dict(mode="binary", amonut=2), r"unknown key 'amonut'; got keys \['amonut', 'mode'\]"),
    (dict(amount=2), r"no 'mode' key; got keys \['amount'\]"),
    (("binary", 1, None, 0), r"got 4 items: \('binary', 1, None, 0\)"),
    ((), r"got 0 items"),
])
def test_malformed_neg_sampling_is_named_with_pyg_fields(form, given):
    fields = r"NegativeSampling\(mode, amount=1, weight=None\)"
    with pytest.raises(TypeError, match=rf"^LinkNeighborLoader: expected a `neg_sampling` "
                       rf"(dict|tuple).*{fields}.*{given}"):
        LinkNeighborLoader(G, [1], neg_sampling=form)


def test_only_weight_keys_are_not_implemented():
    for key in ("weight", "src_weight", "dst_weight"):
        with pytest.raises(NotImplementedError, match=rf"LinkNeighborLoader: weighted negative "
                           rf"sampling is not implemented \(got `neg_sampling` keys \['{key}'"):
            LinkNeighborLoader(G, [1], neg_sampling={"mode": "binary", key: np.ones(3)})
    loader = LinkNeighborLoader(G, [1], neg_sampling={"mode": "triplet", "weight": None})
    assert loader.neg_sampling == NegativeSampling("triplet", 1)  # None: PyG's default
    loader = LinkNeighborLoader(G, [1], neg_sampling=("binary", 2, None))  # PyG's positions
    assert loader.neg_sampling == NegativeSampling("binary", 2)
    with pytest.raises(NotImplementedError, match="weighted negative sampling"):
        LinkNeighborLoader(G, [1], neg_sampling=("binary", 1, np.ones(3)))


@pytest.mark.parametrize("neg", [None, "binary", "triplet"])
def test_input_id_is_an_int64_tensor_like_pyg(neg):
    loader = LinkNeighborLoader(G, [2], batch_size=50, shuffle=True, seed=4, neg_sampling=neg)
    seen = []
    for batch in loader:
        assert isinstance(batch.input_id, sg.Tensor)
        assert batch.input_id.dtype == np.int64 and batch.input_id.ndim == 1
        ids = batch.input_id.numpy()
        src = batch.n_id[batch.src_index.numpy() if neg == "triplet"
                         else batch.edge_label_index.numpy()[0, :ids.size]]
        assert np.array_equal(src, EI[0, ids])  # the seed edges' sources, by position
        assert batch.to("cpu") is batch
        seen.append(ids)
    assert np.array_equal(np.sort(np.concatenate(seen)), np.arange(EI.shape[1]))
    assert "LinkSampledBlocks(edges=50" in repr(next(iter(loader)))


def test_bad_data_and_num_neighbors():
    with pytest.raises(TypeError, match="LinkNeighborLoader: expected a Graph"):
        LinkNeighborLoader(EI, [2])
    with pytest.raises(TypeError, match="LinkNeighborLoader: expected `num_neighbors`"):
        LinkNeighborLoader(G, 2)


def auc(score, label):
    """Mann-Whitney AUC (ties averaged): P(score of a positive > score of a negative)."""
    order = np.argsort(score, kind="stable")
    ranks = np.empty(score.size)
    ranks[order] = np.arange(1, score.size + 1)
    for v in np.unique(score[np.r_[False, np.diff(score[order]) == 0]]):
        ranks[score == v] = ranks[score == v].mean()
    pos = label == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def test_auc_reference():
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert auc(np.array([1.0, 1.0]), np.array([0, 1])) == 0.5


@pytest.mark.dataset
def test_cora_link_prediction_minibatched(data_root):
    """PyG's examples/link_pred.py, mini-batched: SAGE encoder, dot-product decoder, BCE."""
    from sparsegraph.datasets import Planetoid
    from sparsegraph.transforms import RandomLinkSplit

    sg.manual_seed(0)
    g = Planetoid("cora", root=data_root, download=False, normalize_features=True)[0]
    train, _, test = RandomLinkSplit(num_val=0.05, num_test=0.1, is_undirected=True,
                                     add_negative_train_samples=False, seed=0)(g)
    model = models.GraphSAGE(g.num_features, 64, 2, 32)
    opt = sg.optim.Adam(model.parameters(), lr=0.02)
    loader = LinkNeighborLoader(train, [5, 5], edge_label_index=train.edge_label_index,
                                edge_label=train.edge_label, neg_sampling_ratio=1.0,
                                batch_size=256, shuffle=True)
    for _ in range(8):  # ~0.81 to 0.89 over manual_seed 0..3; ~5 s unloaded
        for batch in loader:
            opt.zero_grad()
            z = model(batch.x, batch.blocks)
            eli = batch.edge_label_index
            loss = ops.binary_cross_entropy_with_logits((z[eli[0]] * z[eli[1]]).sum(-1),
                                                        batch.edge_label)
            loss.backward()
            opt.step()
    model.eval()
    with sg.no_grad():
        z = model(test.x, test.adj)
        eli = test.edge_label_index
        score = (z[eli[0]] * z[eli[1]]).sum(-1).numpy()
        label = test.edge_label.numpy()
        assert auc(score, label) > 0.8
        # with every neighbour sampled, the loader's batches give the full graph's scores
        full = LinkNeighborLoader(test, [-1, -1], edge_label_index=eli, edge_label=label,
                                  batch_size=400)
        for batch in full:
            zb = model(batch.x, batch.blocks)
            e = batch.edge_label_index
            assert np.array_equal(batch.edge_label.numpy(), label[batch.input_id])
            np.testing.assert_allclose((zb[e[0]] * zb[e[1]]).sum(-1).numpy(),
                                       score[batch.input_id], rtol=1e-4, atol=1e-4)
