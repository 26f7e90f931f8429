"""Graph normalisation against numpy transcriptions of PyG's own code (not of its formulas):
``add_remaining_self_loops`` with repeated self loops and every kind of ``fill_value``,
``gcn_norm`` on such graphs, and the structure-only ops on integer and bool edge attributes."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.testing import assert_close, gradcheck
from tests.pyg_reference import pyg_add_remaining_self_loops, pyg_scatter

N = 6


# ---- PyG, transcribed (nn/conv/gcn_conv.py; loop.py and scatter.py in tests/pyg_reference.py)
def pyg_gcn_norm(edge_index, edge_weight, num_nodes, improved=False, add_self_loops=True):
    if add_self_loops:
        edge_index, edge_weight = pyg_add_remaining_self_loops(
            edge_index, edge_weight, 2.0 if improved else 1.0, num_nodes)
    row, col = edge_index
    deg = pyg_scatter(edge_weight, col, num_nodes, "sum")
    with np.errstate(divide="ignore"):
        dis = deg ** -0.5
    dis[np.isinf(dis)] = 0
    return edge_index, dis[row] * edge_weight * dis[col]


def edges_of(a):
    """``(edge_index, edge_attr)`` of a target-major adjacency, in a's own entry order."""
    s = a.structure
    return np.stack([s.cols(), s.rows()]).astype(np.int64), a.values.detach().numpy()


def dense_target_major(edge_index, edge_attr, n):
    out = np.zeros((n, n) + edge_attr.shape[1:], edge_attr.dtype)
    np.add.at(out, (edge_index[1], edge_index[0]), edge_attr)
    return out


# ---- graphs with repeated self loops ---------------------------------------------------------
def multigraph(layout, seed=0, heads=None, requires_grad=False):
    """Random weighted multigraph on N nodes: node 0 has three self loops, node 3 two (with
    different weights), node 5 one; repeated non-loop edges; node 4 has no in-edges. Layouts:
    "coo" (shuffled), "csr" (via from_edge_index), "csr_unsorted" (rows grouped, columns and
    duplicates in shuffled order)."""
    rng = np.random.default_rng(seed)
    src = np.concatenate([rng.integers(0, N, 14), [0, 0, 0, 3, 3, 5, 1, 1]])
    dst = np.concatenate([rng.integers(0, N, 14), [0, 0, 0, 3, 3, 5, 2, 2]])
    keep = (dst != 4) | (src == dst)
    src, dst = src[keep], dst[keep]
    keep = ~((src == dst) & ~np.isin(src, [0, 3, 5]))  # no other loops
    src, dst = src[keep], dst[keep]
    order = rng.permutation(src.size)
    src, dst = src[order], dst[order]
    w = rng.uniform(0.5, 2.0, (src.size,) if heads is None else (src.size, heads))
    if layout == "coo":
        a = sg.sparse_coo([dst, src], w, (N, N), dtype="float64")
    elif layout == "csr":
        a = sg.from_edge_index([src, dst], N, w, dtype="float64")
    else:
        by_row = np.argsort(dst, kind="stable")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=N))])
        a = sg.sparse_csr(indptr, src[by_row], w[by_row], (N, N), dtype="float64")
    return a.requires_grad_(requires_grad)


LAYOUTS = ["coo", "csr", "csr_unsorted"]
FILLS = {"one": 1.0, "half": 0.5, "int": 3, "none": None, "add": "add", "sum": "sum",
         "mean": "mean", "max": "max", "min": "min"}


def check_against_pyg(out, a, fill_value):
    ei, attr = pyg_add_remaining_self_loops(*edges_of(a), fill_value, N)
    assert out.nnz == ei.shape[1]
    assert_close(out.to_dense(), dense_target_major(ei, attr, N))
    s = out.structure
    loops = s.rows() == s.cols()
    assert np.array_equal(np.sort(s.rows()[loops]), np.arange(N))  # exactly one per node


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fill", FILLS.values(), ids=FILLS.keys())
@pytest.mark.parametrize("heads", [None, 2])
def test_add_self_loops_is_pygs_add_remaining_self_loops(layout, fill, heads):
    a = multigraph(layout, seed=1, heads=heads)
    check_against_pyg(ops.add_self_loops(a, fill), a, fill)


def test_repeated_loops_keep_the_last_ones_weight_not_their_sum():
    ei, w = np.array([[0, 0, 1], [0, 0, 0]]), np.array([1.0, 2.0, 1.0])
    assert ops.add_self_loops(sg.from_edge_index(ei, 2, w)).to_dense().tolist() == [
        [2.0, 1.0], [0.0, 1.0]]
    assert ops.add_self_loops(sg.from_edge_index([[0, 0], [0, 0]], 1)).to_dense().tolist() == [
        [1.0]]
    norm = ops.gcn_norm(sg.from_edge_index(ei, 2, w, dtype="float64")).to_dense().numpy()
    assert_close(norm, [[2 / 3, 1 / np.sqrt(3)], [0.0, 1.0]])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", ["broadcast", "broadcast_1", "per_node", "scalar"])
@pytest.mark.parametrize("heads", [None, 2])
def test_tensor_fill_value_broadcast_or_per_node(layout, shape, heads):
    a = multigraph(layout, seed=2, heads=heads, requires_grad=True)
    trailing = () if heads is None or shape == "scalar" else (heads,)
    lead = {"broadcast": (), "broadcast_1": (1,), "per_node": (N,), "scalar": ()}[shape]
    fill = sg.tensor(np.random.default_rng(3).uniform(1, 2, lead + trailing),
                     requires_grad=True)
    # a 0-d Tensor broadcasts to hybrid values as a number does (PyG wants it of their width)
    want = np.broadcast_to(fill.detach().numpy(), (heads,)) if heads and shape == "scalar" \
        else fill.detach().numpy()
    check_against_pyg(ops.add_self_loops(a, fill), a, want)
    gradcheck(lambda t, f: ops.add_self_loops(t, f).values, [a, fill])


def test_a_fill_tensor_takes_the_values_dtype_and_device():
    a = multigraph("csr", seed=4)
    out = ops.add_self_loops(a, sg.tensor(np.arange(N), dtype="int64"))  # per node
    assert out.dtype == np.float64
    check_against_pyg(out, a, np.arange(N))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fill", [2.0, sg.tensor(1.5, dtype="float64"), "add", "mean", "max",
                                  "min"], ids=["number", "tensor", "add", "mean", "max", "min"])
def test_add_self_loops_gradients_with_repeated_loops(layout, fill):
    a = multigraph(layout, seed=5, requires_grad=True)
    gradcheck(lambda t: ops.add_self_loops(t, fill).values, [a])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("add_loops", [True, False])
@pytest.mark.parametrize("heads", [None, 2])
def test_gcn_norm_is_pygs_gcn_norm_with_repeated_loops(layout, improved, add_loops, heads):
    a = multigraph(layout, seed=6, heads=heads)
    ei, w = pyg_gcn_norm(*edges_of(a), N, improved, add_loops)
    out = ops.gcn_norm(a, add_self_loops=add_loops, improved=improved)
    assert out.nnz == ei.shape[1]
    assert_close(out.to_dense(), dense_target_major(ei, w, N))
    grad = multigraph(layout, seed=6, heads=heads, requires_grad=True)
    gradcheck(lambda t: ops.gcn_norm(t, add_self_loops=add_loops, improved=improved).values,
              [grad])


def test_the_plan_is_built_once_and_constant_results_stay_cached():
    a = multigraph("coo", seed=7)
    first = ops.add_self_loops(a, "mean")
    again = ops.add_self_loops(a.with_values(a.values * 2), "mean")
    assert again.structure is first.structure
    assert_close(again.to_dense(), 2 * first.to_dense().numpy())
    norm = ops.gcn_norm(a)
    assert ops.gcn_norm(a).values.array is norm.values.array
    assert not norm.values.array.flags.writeable


# ---- integer and bool edge attributes --------------------------------------------------------
ATTR_DTYPES = ["int64", "int32", "uint8", "bool"]


def attributed(dtype, layout="coo", seed=8):
    a = multigraph(layout, seed=seed)
    v = np.random.default_rng(seed).integers(0, 5, a.nnz)
    return a.with_values(sg.tensor(v > 2 if dtype == "bool" else v.astype(dtype)))


def entries(a):
    """``[(row, col, value), ...]`` in a's entry order."""
    s = a.structure
    return list(zip(s.rows().tolist(), s.cols().tolist(), a.values.numpy().tolist(),
                    strict=True))


@pytest.mark.parametrize("dtype", ATTR_DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_remove_self_loops_keeps_any_attribute_dtype(dtype, layout):
    a = attributed(dtype, layout)
    out = ops.remove_self_loops(a)
    assert out.dtype == a.dtype
    s = a.structure
    rows, cols, v = s.rows(), s.cols(), a.values.numpy()
    keep = rows != cols
    order = np.lexsort((cols[keep], rows[keep]))  # stable: duplicates in entry order
    assert entries(out) == list(zip(rows[keep][order].tolist(), cols[keep][order].tolist(),
                                    v[keep][order].tolist(), strict=True))


def ref_undirected(a, reduce):
    """PyG's to_undirected on a's entries: ``[A; A^T]`` merged per (row, col) by ``reduce``
    (bool: sum / max are or, min is and; integer and bool means are float32)."""
    s = a.structure
    rows = np.concatenate([s.rows(), s.cols()])
    cols = np.concatenate([s.cols(), s.rows()])
    v = np.concatenate([a.values.numpy()] * 2)
    keys = sorted(set(zip(rows.tolist(), cols.tolist(), strict=True)))
    out = []
    for r, c in keys:
        group = v[(rows == r) & (cols == c)]
        if reduce == "mean":
            value = np.float32(group.astype(np.float64).mean())
        elif v.dtype == np.bool_:
            value = group.all() if reduce == "min" else group.any()
        else:
            value = {"sum": group.sum, "max": group.max, "min": group.min}[reduce]()
        out.append((r, c, value.item()))
    return out


@pytest.mark.parametrize("dtype", ATTR_DTYPES)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_to_undirected_merges_integer_and_bool_attributes(dtype, reduce):
    a = attributed(dtype)
    out = ops.to_undirected(a, reduce)
    want = ref_undirected(a, reduce)
    if reduce == "mean":
        assert out.dtype == np.float32
        got = entries(out)
        assert [e[:2] for e in got] == [e[:2] for e in want]
        assert_close(np.array([e[2] for e in got]), np.array([e[2] for e in want]))
    else:
        assert out.dtype == a.dtype
        assert entries(out) == want


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
@pytest.mark.parametrize("fill", [1, "add", "mean", "max", "min"])
def test_add_self_loops_on_integer_and_bool_attributes(dtype, fill):
    a = attributed(dtype, "csr")
    out = ops.add_self_loops(a, fill)
    ei, attr = edges_of(a)
    if fill == "mean":  # PyG's mean divides truly, and its cat makes the rest float32 too
        attr = attr.astype(np.float32)
    elif dtype == "bool" and isinstance(fill, str):  # or (add, max) / and (min) of 0/1
        fill = pyg_scatter(attr.astype(np.int64), ei[1], N, fill) != 0
    ref_ei, ref_attr = pyg_add_remaining_self_loops(ei, attr, fill, N)
    assert out.dtype == ref_attr.dtype and out.nnz == ref_ei.shape[1]
    assert_close(out.with_values(out.values.to("float64")).to_dense(),
                 dense_target_major(ref_ei, ref_attr.astype(np.float64), N))


@pytest.mark.parametrize("dtype", ATTR_DTYPES)
@pytest.mark.parametrize("value", [0, 1, 2, -1, 2.5, 300, float("nan")], ids=str)
def test_integer_values_take_a_tensor_fill_as_they_take_a_number(dtype, value):
    # one rule: a Tensor the values cannot hold exactly is refused as the number is, not
    # truncated (PyG's .to(dtype) truncates both)
    a = attributed(dtype, "csr")
    try:
        want = ops.add_self_loops(a, value)
    except ValueError as e:
        assert "can hold exactly" in str(e)
        for fill in (sg.tensor(value, dtype="float64"), sg.tensor(np.full(N, float(value)))):
            with pytest.raises(ValueError, match=rf"add_self_loops: expected a Tensor "
                                                 rf"`fill_value` that {dtype} values can hold "
                                                 rf"exactly \(got float64 holding "
                                                 rf"{float(value)!r}\)"):
                ops.add_self_loops(a, fill)
        return
    got = ops.add_self_loops(a, sg.tensor(value, dtype="float64"))
    assert got.dtype == a.dtype and entries(got) == entries(want)


def test_every_dtype_refuses_some_fill_and_takes_others():
    # the test above compares both paths; here each dtype is seen to do both
    for dtype in ATTR_DTYPES:
        a = attributed(dtype, "csr")
        with pytest.raises(ValueError):
            ops.add_self_loops(a, sg.tensor(2.5))
        assert ops.add_self_loops(a, sg.tensor(1.0)).dtype == a.dtype


@pytest.mark.parametrize("fill", [True, False, np.bool_(True)], ids=str)
def test_bool_values_take_a_bool_fill(fill):
    a = attributed("bool", "csr")
    out = ops.add_self_loops(a, fill)
    ref_ei, ref_attr = pyg_add_remaining_self_loops(*edges_of(a), int(fill), N)
    assert out.dtype == np.bool_
    assert_close(out.with_values(out.values.to("float64")).to_dense(),
                 dense_target_major(ref_ei, ref_attr.astype(np.float64), N))
    with pytest.raises(TypeError, match=r"add_self_loops: expected `fill_value` to be a number, "
                                        r".* for float64 values \(got bool: True / False fill "
                                        r"bool values only\)"):
        ops.add_self_loops(multigraph("csr"), fill)


def test_structure_ops_on_integer_attributes_match_their_float_results():
    a = attributed("int64", "csr_unsorted")
    f = a.with_values(a.values.to("float64"))
    for op in (ops.remove_self_loops, lambda t: ops.to_undirected(t, "max"),
               lambda t: ops.add_self_loops(t, 2)):
        assert_close(op(a).to_dense().numpy().astype(np.float64), op(f).to_dense())
