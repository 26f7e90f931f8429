"""SparseTensor row selection, ``size`` and ``sum(keepdim=)`` against numpy on the dense
matrix: what PyG code does to Planetoid's CSR features (``x[train_mask]``, ``x[:n]``,
``x.size(0)``, ``x / x.sum(-1, keepdim=True)``)."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.testing import gradcheck, random_sparse

N, M = 7, 5
MASK = np.array([True, False, True, True, False, False, True])
KEYS = {
    "int": 3, "negative int": -2, "np int": np.int64(6),
    "slice": slice(1, 4), "open slice": slice(4, None), "empty slice": slice(5, 2),
    "step": slice(None, None, -2), "step 3": slice(1, 7, 3),
    "ids": [4, 0, 4, -1], "np ids": np.array([6, 2], np.int32), "tensor ids": sg.tensor([1, 5]),
    "empty ids": [], "mask": MASK, "tensor mask": sg.tensor(MASK),
    "rows and columns": (slice(2, 5), slice(None)), "ellipsis": (MASK, Ellipsis),
}


def dense_rows(d, key):
    """numpy's answer, an int giving one row of a 2-D result (scipy's csr_matrix rule)."""
    key = key[0] if isinstance(key, tuple) else key
    key = key.numpy() if isinstance(key, sg.Tensor) else key
    if isinstance(key, int | np.integer):
        return d[[key]]
    return d[np.asarray(key, np.int64) if isinstance(key, list) else key]


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
@pytest.mark.parametrize("layout", ["csr", "coo"])
@pytest.mark.parametrize("heads", [None, 2])
def test_rows_match_the_dense_rows(key, layout, heads):
    a = random_sparse(N, M, 0.4, layout=layout, heads=heads, duplicates=True, empty_rows=True)
    out = a[key]
    assert isinstance(out, sg.SparseTensor) and out.layout == "csr"
    expected = dense_rows(a.to_dense().detach().numpy(), key)
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.to_dense().detach().numpy(), expected)


@pytest.mark.parametrize("key", ["int", "step", "ids", "mask", "slice"])
@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_rows_are_differentiable_through_the_values(key, layout):
    a = random_sparse(N, M, 0.5, layout=layout, duplicates=True)
    gradcheck(lambda t: t[KEYS[key]].to_dense(), [a])


def test_rows_of_features_that_need_no_grad_need_none():
    a = random_sparse(N, M, 0.5, requires_grad=False)
    assert not a[MASK].requires_grad and not a[1:3].requires_grad


@pytest.mark.parametrize("key, error, text", [
    (1.0, TypeError, r"expected an int, a slice, integer row ids or a boolean mask \(got float"),
    (True, TypeError, r"expected an int, .* \(got bool True\)"),
    ([[1]], TypeError, r"expected .* 1-D integer row ids .*\(got int64 of shape \(1, 1\)\)"),
    ((0, 1), TypeError, r"expected a row selection, x\[rows\] or x\[rows, :\].*to_dense"),
    (7, IndexError, r"expected row ids in \[-7, 7\) \(got 7\)"),
    ([0, -8], IndexError, r"expected row ids in \[-7, 7\) \(got -8\)"),
    (MASK[:3], IndexError, r"expected the rows as a boolean mask of length 7, one entry per row "
                           r"\(got shape \(3,\)\)"),
])
def test_keys_that_select_no_rows_are_refused_by_name(key, error, text):
    with pytest.raises(error, match=r"SparseTensor\[\]: " + text):
        random_sparse(N, M, 0.5)[key]


def test_size_as_torch():
    a = random_sparse(N, M, 0.5, heads=3)
    assert a.size() == (N, M, 3) and a.size(0) == N and a.size(-1) == 3 and a.size(-3) == N
    with pytest.raises(IndexError, match=r"SparseTensor.size: expected `dim` in \[-3, 2\] "
                                         r"\(got 3\)"):
        a.size(3)
    with pytest.raises(TypeError, match=r"expected an int `dim` \(got 0.0\)"):
        a.size(0.0)


@pytest.mark.parametrize("dim", [None, 0, 1, -1, -2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_keepdim_matches_the_dense_sum(dim, keepdim):
    a = random_sparse(N, M, 0.5, duplicates=True)
    d = a.to_dense().detach().numpy()
    out = a.sum(dim, keepdim=keepdim)
    np.testing.assert_allclose(out.detach().numpy(), d.sum(axis=dim, keepdims=keepdim),
                               rtol=1e-12)
    with pytest.raises(TypeError, match=r"expected a bool `keepdim` \(got 1\)"):
        a.sum(dim, keepdim=1)


def test_row_normalisation_idiom_matches_dense():
    a = random_sparse(N, M, 0.6, requires_grad=False)
    a = a.with_values(a.values.abs() + 0.5)  # positive rows, as bag-of-words counts
    d = a.to_dense().numpy()
    rows = d.sum(-1, keepdims=True)
    out = (a / a.sum(-1, keepdim=True)).to_dense().numpy()
    np.testing.assert_allclose(out, np.divide(d, rows, out=np.zeros_like(d), where=rows > 0),
                               rtol=1e-12)



def test_rows_stay_on_the_device(emulated_cuda):
    from tests.cupy_emulation import DeviceArray

    a = random_sparse(N, M, 0.5).to("cuda")
    for key in (MASK, slice(1, 4), [3, 3, 0]):
        out = a[key]
        assert out.device == a.device and out.structure.device == a.device
        assert isinstance(out.values.array, DeviceArray)
        np.testing.assert_array_equal(out.to("cpu").to_dense().detach().numpy(),
                                      dense_rows(a.to("cpu").to_dense().detach().numpy(), key))
