"""ToSparseTensor, RemoveIsolatedNodes, RemoveDuplicatedEdges, AddRemainingSelfLoops,
VirtualNode, LocalDegreeProfile, TargetIndegree, SIGN, AddRandomWalkPE,
AddLaplacianEigenvectorPE: values against numpy / scipy references of PyG's formulas on a
graph with an isolated node, self loops and repeated edges; repr; the caller's graph kept."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.transforms as T
from sparsegraph import Graph
from sparsegraph.datasets import GraphLoader, TUDataset
from sparsegraph.testing import gradcheck

N = 8  # node 6 has only a self loop, node 7 no edge at all
SRC = np.array([0, 0, 1, 2, 3, 3, 3, 4, 5, 1, 0, 6, 2, 5])
DST = np.array([1, 1, 2, 0, 0, 1, 2, 5, 4, 1, 1, 6, 4, 5])  # 0->1 three times; loops 1, 6, 5
E = SRC.size


def make_graph(weighted=True):
    rng = np.random.default_rng(0)
    return Graph(x=rng.normal(size=(N, 3)).astype(np.float32),
                 edge_index=np.stack([SRC, DST]),
                 edge_weight=rng.uniform(0.5, 2.0, E).astype(np.float32) if weighted else None,
                 edge_attr=rng.normal(size=(E, 2)).astype(np.float32),
                 edge_type=np.arange(E) % 3, y=np.array([1]),
                 train_mask=np.arange(N) % 2 == 0)


def edges_of(g):
    """(src, dst, weight, edge_attr) of ``g`` as host arrays, in its edge order."""
    ei = np.asarray(g.edge_index).astype(np.int64)
    return ei[0], ei[1], g.edge_weight.numpy(), g.edge_attr.numpy()


def dense(src, dst, w, n=N):
    """PyG's ``A[source, target]`` with repeated edges added up."""
    a = np.zeros((n, n))
    np.add.at(a, (src, dst), w)
    return a


def snapshot(g):
    return {k: (v.numpy().copy() if hasattr(v, "numpy") else v) for k, v in vars(g).items()
            if k != "adj"}, g.adj.to_dense().numpy().copy(), g.num_nodes


def assert_unchanged(g, snap):
    fields, adj, n = snap
    assert g.num_nodes == n
    np.testing.assert_array_equal(g.adj.to_dense().numpy(), adj)
    for k, v in fields.items():
        now = vars(g)[k]
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(now.numpy() if hasattr(now, "numpy") else now, v)


def test_reprs_match_pyg():
    assert repr(T.ToSparseTensor()) == "ToSparseTensor(attr=edge_weight, layout=None)"
    assert repr(T.RemoveIsolatedNodes()) == "RemoveIsolatedNodes()"
    assert repr(T.RemoveDuplicatedEdges()) == "RemoveDuplicatedEdges()"
    assert repr(T.AddRemainingSelfLoops()) == "AddRemainingSelfLoops()"
    assert repr(T.VirtualNode()) == "VirtualNode()"
    assert repr(T.LocalDegreeProfile()) == "LocalDegreeProfile()"
    assert repr(T.TargetIndegree()) == "TargetIndegree(norm=True, max_value=None)"
    assert repr(T.SIGN(3)) == "SIGN(K=3)"
    assert repr(T.AddRandomWalkPE(4)) == "AddRandomWalkPE()"
    assert repr(T.AddLaplacianEigenvectorPE(2)) == "AddLaplacianEigenvectorPE()"


@pytest.mark.parametrize("transform", [
    T.ToSparseTensor(attr="edge_attr"), T.RemoveIsolatedNodes(), T.RemoveDuplicatedEdges(),
    T.AddRemainingSelfLoops(), T.VirtualNode(), T.LocalDegreeProfile(), T.TargetIndegree(),
    T.SIGN(2), T.AddRandomWalkPE(3, attr_name=None), T.AddLaplacianEigenvectorPE(2)],
    ids=repr)
def test_caller_graph_is_not_changed(transform):
    g = make_graph()
    snap = snapshot(g)
    out = transform(g)
    assert out is not g
    assert_unchanged(g, snap)
    assert out.validate()


# ---- ToSparseTensor -------------------------------------------------------------------------
def test_to_sparse_tensor_adj_t_is_pygs_transposed_matrix():
    g = make_graph()
    out = T.ToSparseTensor()(g)
    src, dst, w, _ = edges_of(g)
    np.testing.assert_allclose(out.adj_t.to_dense().numpy(), dense(src, dst, w).T, rtol=1e-6)
    assert out.adj_t.layout == "csr" and "edge_weight" in out  # a view of adj: kept
    coo = T.ToSparseTensor(attr=None, layout="coo")(g).adj_t
    assert coo.layout == "coo"
    np.testing.assert_array_equal(coo.to_dense().numpy(), dense(src, dst, np.ones(E)).T)


def test_to_sparse_tensor_edge_attr_values_and_removal():
    g = make_graph()
    out = T.ToSparseTensor(attr="edge_attr")(g)
    np.testing.assert_array_equal(out.adj_t.values.numpy(), g.edge_attr.numpy())
    assert out.edge_attr is None and g.edge_attr is not None
    kept = T.ToSparseTensor(attr="edge_attr", remove_edge_index=False)(g)
    assert kept.edge_attr is not None


def test_to_sparse_tensor_errors():
    with pytest.raises(ValueError, match="ToSparseTensor: expected `layout`"):
        T.ToSparseTensor(layout="csc")
    with pytest.raises(TypeError, match="ToSparseTensor: expected `fill_cache`"):
        T.ToSparseTensor(fill_cache=1)
    with pytest.raises(ValueError, match="ToSparseTensor: expected `attr` to name"):
        T.ToSparseTensor(attr="x")(make_graph())


# ---- RemoveIsolatedNodes ----------------------------------------------------------------------
def test_remove_isolated_nodes_keeps_self_loop_nodes_and_relabels():
    g = make_graph()
    out = T.RemoveIsolatedNodes()(g)
    used = np.unique(np.concatenate([SRC, DST]))  # PyG: every node in an edge, loops too
    assert out.num_nodes == used.size == N - 1
    np.testing.assert_array_equal(out.x.numpy(), g.x.numpy()[used])
    np.testing.assert_array_equal(out.train_mask.numpy(), g.train_mask.numpy()[used])
    new = np.full(N, -1)
    new[used] = np.arange(used.size)
    src, dst, w, _ = edges_of(g)
    osrc, odst, ow, _ = edges_of(out)
    np.testing.assert_allclose(dense(osrc, odst, ow, used.size),
                               dense(new[src], new[dst], w, used.size), rtol=1e-6)
    full = Graph(edge_index=[[0, 1], [1, 0]])
    assert T.RemoveIsolatedNodes()(full).num_nodes == 2


# ---- RemoveDuplicatedEdges --------------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["add", "mean", "max", "min", "mul"])
def test_remove_duplicated_edges_matches_coalesce(reduce):
    g = make_graph()
    src, dst, w, attr = edges_of(g)
    etype = g.edge_type.numpy()
    out = T.RemoveDuplicatedEdges(reduce=reduce)(g)
    op = {"add": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "mul": np.prod}[reduce]
    keys = sorted(set(zip(src.tolist(), dst.tolist(), strict=True)))
    osrc, odst, ow, oattr = edges_of(out)
    assert sorted(zip(osrc.tolist(), odst.tolist(), strict=True)) == keys
    assert out.num_edges == len(keys)
    for i, (s, t) in enumerate(zip(osrc, odst, strict=True)):
        copies = np.flatnonzero((src == s) & (dst == t))
        np.testing.assert_allclose(ow[i], op(w[copies]), rtol=1e-5)
        np.testing.assert_allclose(oattr[i], op(attr[copies], axis=0), rtol=1e-5)
        assert out.edge_type.numpy()[i] == etype[copies[0]]  # not named: the first copy


def test_remove_duplicated_edges_key_selects_and_unweighted_stays_unweighted():
    g = make_graph(weighted=False)
    out = T.RemoveDuplicatedEdges(key="edge_weight")(g)
    assert "edge_weight" not in out and (out.edge_weight.numpy() == 1).all()
    src, dst, _, attr = edges_of(g)
    i = np.flatnonzero((np.asarray(out.edge_index[0]) == 0) & (np.asarray(out.edge_index[1]) == 1))
    first = np.flatnonzero((src == 0) & (dst == 1))[0]
    np.testing.assert_array_equal(out.edge_attr.numpy()[i[0]], attr[first])
    with pytest.raises(ValueError, match="RemoveDuplicatedEdges: expected `reduce`"):
        T.RemoveDuplicatedEdges(reduce="prod")


def test_remove_duplicated_edges_gradcheck():
    src, dst = SRC, DST
    w = sg.tensor(np.random.default_rng(2).uniform(0.5, 2, E), dtype=sg.float64,
                  requires_grad=True)

    def run(w):
        return T.RemoveDuplicatedEdges(reduce="mean")(
            Graph(edge_index=np.stack([src, dst]), edge_weight=w, num_nodes=N)).edge_weight

    gradcheck(run, [w])


# ---- AddRemainingSelfLoops --------------------------------------------------------------------
@pytest.mark.parametrize("fill", [1.0, 2.5, "add"])
def test_add_remaining_self_loops_keeps_own_loops(fill):
    g = make_graph()
    src, dst, w, _ = edges_of(g)
    out = T.AddRemainingSelfLoops(fill_value=fill)(g)
    ref = dense(src, dst, w)
    own = np.diag(ref).copy()
    np.fill_diagonal(ref, 0)
    loop = (ref.sum(0) if fill == "add" else np.full(N, fill))  # "add": incoming weights
    has = np.zeros(N, bool)
    has[src[src == dst]] = True
    np.fill_diagonal(ref, np.where(has, own, loop))
    osrc, odst, ow, _ = edges_of(out)
    np.testing.assert_allclose(dense(osrc, odst, ow), ref, rtol=1e-5)
    assert out.num_edges == (src != dst).sum() + N
    loops = osrc == odst
    new = loops & ~has[osrc]
    assert (out.edge_type.numpy()[new] == 1).all()  # the other fields: 1, as AddSelfLoops
    assert (out.edge_attr.numpy()[new] == 1).all()


def test_add_remaining_self_loops_fills_a_named_edge_attr():
    g = make_graph()
    src, dst, _, attr = edges_of(g)
    out = T.AddRemainingSelfLoops(attr="edge_attr", fill_value=-3.0)(g)
    osrc, odst, ow, oattr = edges_of(out)
    has = np.zeros(N, bool)
    has[src[src == dst]] = True
    new = (osrc == odst) & ~has[osrc]
    assert new.sum() == N - has.sum()
    assert (oattr[new] == -3).all() and (ow[new] == 1).all()
    kept = (osrc == odst) & has[osrc]
    for i in np.flatnonzero(kept):  # a node's own loop keeps its row
        np.testing.assert_array_equal(oattr[i], attr[(src == osrc[i]) & (dst == osrc[i])][-1])
    # PyG: no edge_weight to fill, none created: an unweighted graph stays unweighted
    none = T.AddRemainingSelfLoops(fill_value=4.0)(make_graph(weighted=False))
    assert (none.edge_weight.numpy() == 1).all() and "edge_weight" not in none


# ---- VirtualNode ----------------------------------------------------------------------------
def test_virtual_node_matches_pyg():
    g = make_graph()
    src, dst, w, attr = edges_of(g)
    etype = g.edge_type.numpy()
    out = T.VirtualNode()(g)
    assert out.num_nodes == N + 1 and out.num_edges == E + 2 * N
    osrc, odst, ow, oattr = edges_of(out)
    oty = out.edge_type.numpy()
    got = sorted(zip(osrc.tolist(), odst.tolist(), oty.tolist(), ow.round(5).tolist(), strict=True))
    top = int(etype.max())
    ref = sorted([*zip(src.tolist(), dst.tolist(), etype.tolist(), w.round(5).tolist(),
                       strict=True),
                  *[(i, N, top + 1, 1.0) for i in range(N)],
                  *[(N, i, top + 2, 1.0) for i in range(N)]])
    assert got == ref
    new = (osrc == N) | (odst == N)
    assert (oattr[new] == 0).all() and np.allclose(np.sort(oattr[~new], 0), np.sort(attr, 0))
    np.testing.assert_array_equal(out.x.numpy(), np.vstack([g.x.numpy(), np.zeros((1, 3))]))
    assert out.train_mask.numpy().tolist() == g.train_mask.numpy().tolist() + [False]
    assert out.y.numpy().tolist() == [1]  # a graph label is not a node attribute


def test_virtual_node_without_edge_type_gives_types_one_and_two():
    out = T.VirtualNode()(Graph(edge_index=[[0, 1], [1, 2]]))
    ty = dict(zip(zip(*[np.asarray(r).tolist() for r in out.edge_index], strict=True),
                  out.edge_type.numpy().tolist(), strict=True))
    assert ty[(0, 1)] == 0 and ty[(0, 3)] == 1 and ty[(3, 0)] == 2
    assert "edge_weight" not in out


# ---- LocalDegreeProfile / TargetIndegree / SIGN -----------------------------------------------
def ldp_reference(src, dst, n):
    deg = np.bincount(src, minlength=n).astype(float)
    cols = np.zeros((n, 5))
    cols[:, 0] = deg
    for i in range(n):  # a reference, on 8 nodes
        d = deg[dst[src == i]]
        if d.size:
            cols[i, 1:] = [d.min(), d.max(), d.mean(), np.sqrt(max(d.var(), 1e-5))]
        else:
            cols[i, 4] = np.sqrt(1e-5)
    return cols


def test_local_degree_profile_matches_formula():
    g = make_graph()
    out = T.LocalDegreeProfile()(g)
    src, dst, _, _ = edges_of(g)
    assert out.x.shape == (N, 8) and out.x.dtype == np.float32
    np.testing.assert_array_equal(out.x.numpy()[:, :3], g.x.numpy())
    np.testing.assert_allclose(out.x.numpy()[:, 3:], ldp_reference(src, dst, N), rtol=1e-5)
    bare = T.LocalDegreeProfile()(Graph(edge_index=np.stack([SRC, DST]), num_nodes=N))
    np.testing.assert_allclose(bare.x.numpy(), ldp_reference(SRC, DST, N), rtol=1e-5)


@pytest.mark.parametrize("norm, max_value, cat", [(True, None, True), (True, 10.0, True),
                                                  (False, None, False)])
def test_target_indegree(norm, max_value, cat):
    g = make_graph()
    src, dst, _, attr = edges_of(g)
    out = T.TargetIndegree(norm=norm, max_value=max_value, cat=cat)(g)
    deg = np.bincount(dst, minlength=N).astype(float)
    col = deg[dst] / ((deg.max() if max_value is None else max_value) if norm else 1)
    ref = np.column_stack([attr, col]) if cat else col[:, None]
    np.testing.assert_allclose(out.edge_attr.numpy(), ref, rtol=1e-6)


def test_sign_matches_dense_formula_and_gradcheck():
    g = make_graph()
    src, dst, w, _ = edges_of(g)
    out = T.SIGN(3)(g)
    a_t = dense(src, dst, w).T  # PyG's adj_t: [target, source]
    deg = a_t.sum(1)
    dinv = np.divide(1, np.sqrt(deg), out=np.zeros(N), where=deg > 0)
    hat = dinv[:, None] * a_t * dinv[None, :]
    x = g.x.numpy().astype(float)
    for k in range(1, 4):
        x = hat @ x
        np.testing.assert_allclose(getattr(out, f"x{k}").numpy(), x, rtol=1e-4, atol=1e-6)
    xs = sg.tensor(np.random.default_rng(3).normal(size=(N, 2)), dtype=sg.float64,
                   requires_grad=True)

    def run(x):
        return T.SIGN(2)(Graph(x=x, edge_index=np.stack([SRC, DST]))).x2

    gradcheck(run, [xs])
    with pytest.raises(ValueError, match="SIGN: expected a graph with node features"):
        T.SIGN(1)(Graph(edge_index=[[0], [1]]))
    with pytest.raises(ValueError, match="SIGN: expected `K` >= 1"):
        T.SIGN(0)


# ---- positional encodings ---------------------------------------------------------------------
def rw_reference(src, dst, w, n, steps):
    deg = np.maximum(np.bincount(src, w, minlength=n), 1)
    p = dense(src, dst, 1 / deg[src], n)
    return np.stack([np.diag(np.linalg.matrix_power(p, k)) for k in range(1, steps + 1)], 1)


@pytest.mark.parametrize("dense_path", [True, False])
def test_random_walk_pe_matches_formula(dense_path):
    g = make_graph()
    t = T.AddRandomWalkPE(5)
    if not dense_path:
        t.DENSE_THRESHOLD = 0
    out = t(g)
    src, dst, w, _ = edges_of(g)
    np.testing.assert_allclose(out.random_walk_pe.numpy(), rw_reference(src, dst, w, N, 5),
                               rtol=1e-5, atol=1e-7)
    cat = T.AddRandomWalkPE(2, attr_name=None)(g)
    assert cat.x.shape == (N, 5)
    with pytest.raises(ValueError, match="AddRandomWalkPE: expected `walk_length` >= 1"):
        T.AddRandomWalkPE(0)


def ring(n):
    i = np.arange(n)
    return Graph(edge_index=np.stack([np.r_[i, (i + 1) % n], np.r_[(i + 1) % n, i]]))


@pytest.mark.parametrize("n, undirected", [(8, True), (8, False), (120, True), (120, False)])
def test_laplacian_pe_are_eigenvectors_of_the_sym_laplacian(n, undirected):
    g = ring(n)
    if n == 8:  # chords make the spectrum less regular
        g = Graph(edge_index=np.concatenate([np.asarray(g.edge_index), [[0, 4], [4, 0]]], 1))
    k = 3
    pe = T.AddLaplacianEigenvectorPE(k, is_undirected=undirected)(g).laplacian_eigenvector_pe
    src, dst, w, = np.asarray(g.edge_index[0]), np.asarray(g.edge_index[1]), np.ones(g.num_edges)
    a = dense(src, dst, w, n)
    deg = a.sum(1)
    lap = np.eye(n) - a / np.sqrt(np.outer(deg, deg))
    lam = np.sort(np.linalg.eigvalsh(lap))[1:k + 1]
    v = pe.numpy().astype(float)
    assert v.shape == (n, k)
    np.testing.assert_allclose(np.linalg.norm(v, axis=0), 1, rtol=1e-4)
    rayleigh = np.einsum("ik,ij,jk->k", v, lap, v)
    np.testing.assert_allclose(np.sort(rayleigh), lam, atol=1e-4)
    np.testing.assert_allclose(lap @ v, v * rayleigh, atol=2e-4)


def test_laplacian_pe_signs_follow_the_global_seed():
    g = make_graph()
    t = T.AddLaplacianEigenvectorPE(3, attr_name=None, is_undirected=False)
    sg.manual_seed(0)
    a = t(g).x.numpy()
    sg.manual_seed(0)
    b = t(g).x.numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (N, 6)
    draws = {tuple(np.sign(t(g).x.numpy()[:, 3:].sum(0)).tolist()) for _ in range(12)}
    assert len(draws) > 1  # the signs are random
    with pytest.raises(ValueError, match="AddLaplacianEigenvectorPE: expected `k` below"):
        T.AddLaplacianEigenvectorPE(N)(g)


# ---- MUTAG through the dataset and the loader -------------------------------------------------
@pytest.mark.dataset
@pytest.mark.parametrize("transform, width", [(T.LocalDegreeProfile(), 5),
                                              (T.AddRandomWalkPE(4, attr_name=None), 4)])
def test_mutag_transform_batches(data_root, tmp_path, transform, width):
    plain = TUDataset("MUTAG", root=data_root, download=False, cache_dir=tmp_path)
    ds = TUDataset("MUTAG", root=data_root, download=False, cache_dir=tmp_path,
                   transform=transform)
    batch = next(iter(GraphLoader(ds, batch_size=16)))
    graphs = list(plain)[:16]
    assert batch.num_graphs == 16
    assert batch.x.shape == (sum(g.num_nodes for g in graphs), plain[0].x.shape[1] + width)
    one = transform(graphs[3])
    lo = sum(g.num_nodes for g in graphs[:3])
    np.testing.assert_allclose(batch.x.numpy()[lo:lo + one.num_nodes], one.x.numpy())


@pytest.mark.dataset
def test_mutag_random_walk_pe_attribute_batches(data_root, tmp_path):
    ds = TUDataset("MUTAG", root=data_root, download=False, cache_dir=tmp_path,
                   transform=T.AddRandomWalkPE(6))
    batch = next(iter(GraphLoader(ds, batch_size=8)))
    assert batch.random_walk_pe.shape == (batch.num_nodes, 6)
    assert (batch.random_walk_pe.numpy()[:, 0] == 0).all()  # no self loops in MUTAG


# ---- GDC --------------------------------------------------------------------------------------
def gdc_reference(a, diffusion, keep, loop=1.0):
    """PyG's exact GDC on the dense ``A[source, target]``: sym in, ``keep`` (a function of
    the dense diffusion giving a boolean mask), col out."""
    n = a.shape[0]
    a = a + loop * np.eye(n)
    deg = a.sum(0)  # weighted in-degree
    dinv = np.divide(1, np.sqrt(deg), out=np.zeros(n), where=deg > 0)
    t = dinv[:, None] * a * dinv[None, :]
    s = diffusion(t)
    mask = keep(s)
    kept = np.where(mask, s, 0)
    col = kept.sum(0)
    return np.divide(kept, col[None, :], out=np.zeros_like(kept), where=col[None, :] != 0), mask


def test_gdc_ppr_threshold_matches_dense_formula():
    g = make_graph()
    src, dst, w, _ = edges_of(g)
    g.edge_attr = None  # no 1-D edge_attr: ones, as PyG's GDC (the edge weights are not read)
    alpha, eps = 0.2, 0.02
    snap = snapshot(g)
    out = T.GDC(diffusion_kwargs=dict(method="ppr", alpha=alpha),
                sparsification_kwargs=dict(method="threshold", eps=eps))(g)
    ref, mask = gdc_reference(
        dense(src, dst, np.ones_like(w)),
        lambda t: alpha * np.linalg.inv(np.eye(N) - (1 - alpha) * t),
        lambda s: s >= eps)
    assert out.num_edges == mask.sum()
    np.testing.assert_allclose(out.to_scipy().toarray(), ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(out.edge_attr.numpy(), out.edge_weight.numpy())
    assert "edge_weight" in out and "edge_type" not in out and out.validate()
    assert_unchanged(g, snap)


def test_gdc_heat_topk_and_avg_degree():
    from scipy.linalg import expm

    g = ring(10)
    a = dense(np.asarray(g.edge_index[0]), np.asarray(g.edge_index[1]), np.ones(20), 10)
    heat = T.GDC(diffusion_kwargs=dict(method="heat", t=3.0),
                 sparsification_kwargs=dict(method="topk", k=3, dim=0))(g)
    n = 10

    def top3(s):
        mask = np.zeros_like(s, bool)
        np.put_along_axis(mask, np.argsort(-s, axis=0, kind="stable")[:3], True, axis=0)
        return mask

    ref, _ = gdc_reference(a, lambda t: expm(3.0 * (t - np.eye(n))), top3)
    np.testing.assert_allclose(heat.to_scipy().toarray(), ref, rtol=1e-4, atol=1e-6)
    assert (np.bincount(np.asarray(heat.edge_index[1]), minlength=n) == 3).all()
    coeff = T.GDC(diffusion_kwargs=dict(method="coeff", coeffs=[0.5, 0.3, 0.2]),
                  sparsification_kwargs=dict(method="threshold", avg_degree=1))(g)
    assert coeff.num_edges == n  # the diagonal (2/3) is the largest entry of each column
    ref, _ = gdc_reference(a, lambda t: 0.5 * np.eye(n) + 0.3 * t + 0.2 * t @ t,
                           lambda s: s >= np.sort(s.ravel())[::-1][n - 1])
    np.testing.assert_allclose(coeff.to_scipy().toarray(), ref, rtol=1e-5, atol=1e-7)


def test_gdc_errors_and_repr():
    assert repr(T.GDC()) == "GDC()"
    with pytest.raises(NotImplementedError, match="GDC: exact=False"):
        T.GDC(exact=False)
    with pytest.raises(ValueError, match="GDC: expected `normalization_in`"):
        T.GDC(normalization_in="left")
    with pytest.raises(ValueError, match=r"GDC: expected diffusion_kwargs\['method'\]"):
        T.GDC(diffusion_kwargs=dict(method="pagerank"))(ring(4))
    with pytest.raises(ValueError, match="GDC: expected `diffusion_kwargs` to hold 'alpha'"):
        T.GDC(diffusion_kwargs=dict(method="ppr"))(ring(4))
    with pytest.raises(ValueError, match="GDC: expected a 1-D `edge_attr`"):
        T.GDC()(make_graph())


def test_add_self_loops_fills_only_attr_whatever_the_other_fields():
    # the fill went into every per-edge field: an integer edge_type could not take 2.5
    g = sg.Graph(edge_index=np.array([[0, 1], [1, 2]]), num_nodes=3, edge_attr=sg.ones(2, 2),
                 edge_type=np.array([0, 1]))
    out = T.AddSelfLoops(attr="edge_attr", fill_value=2.5)(g)
    ei = np.asarray(out.edge_index)
    loops = ei[0] == ei[1]
    np.testing.assert_array_equal(out.edge_attr.numpy()[loops], 2.5)
    np.testing.assert_array_equal(out.edge_attr.numpy()[~loops], 1.0)
    assert np.asarray(out.edge_type).dtype.kind == "i"
    np.testing.assert_array_equal(np.asarray(out.edge_type)[loops], 1)  # the other fields: 1


def test_gdc_reads_a_1d_edge_attr_or_ones_never_the_edge_weights():
    ei = np.array([[0, 1, 2], [1, 2, 0]])
    kw = dict(sparsification_kwargs=dict(method="threshold", eps=0.0))
    weighted = T.GDC(**kw)(Graph(edge_index=sg.tensor(ei),
                                 edge_weight=sg.tensor(np.array([1.0, 10.0, 100.0]))))
    plain = T.GDC(**kw)(Graph(edge_index=sg.tensor(ei)))
    np.testing.assert_array_equal(weighted.edge_attr.numpy(), plain.edge_attr.numpy())  # PyG
    with pytest.raises(TypeError, match=r"GDC: expected `self_loop_weight` to be a number"):
        T.GDC(self_loop_weight="a")


def test_add_remaining_self_loops_names_itself():
    with pytest.raises(ValueError, match=r"^AddRemainingSelfLoops: expected `attr`"):
        T.AddRemainingSelfLoops(attr="x")
    with pytest.raises(ValueError, match=r"^AddRemainingSelfLoops: expected `fill_value`"):
        T.AddRemainingSelfLoops(fill_value="median")


def test_laplacian_pe_sparse_path_is_reproducible_and_unit_length():
    # a ring has repeated eigenvalues: ARPACK's unseeded start vector gave different vectors
    # (and eigs' real parts of norm below 1) from run to run
    t = T.AddLaplacianEigenvectorPE(3, is_undirected=False)
    runs = []
    for _ in range(2):
        sg.manual_seed(3)
        runs.append(t(ring(120)).laplacian_eigenvector_pe.numpy())
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_allclose(np.linalg.norm(runs[0], axis=0), 1, rtol=1e-5)
