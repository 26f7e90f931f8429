"""Node-feature transforms: `NormalizeFeatures`, `OneHotDegree`, `Constant` (PyG's)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sparsegraph import backend
from sparsegraph.ops import cat, clamp, gather_rows, segment
from sparsegraph.sparse import SparseTensor, from_scipy
from sparsegraph.tensor import Tensor
from sparsegraph.transforms.base import BaseTransform, check_bool, check_int, on_graph


def _floating(t: Tensor) -> Tensor:
    return t if t.dtype.kind == "f" else t.to(backend.DEFAULT_FLOAT)


def _normalized_sparse(x: SparseTensor) -> SparseTensor:
    """PyG's formula on a CSR ``x``: its global minimum counts the implicit zeros, so only a
    ``x`` without negative values (min 0) keeps its sparsity, or a fully stored one."""
    x = x if x.layout == "csr" else x.to_csr()
    v = _floating(x.values)
    low = float(v.detach().min()) if v.shape[0] else 0.0
    full = x.nnz == x.shape[0] * x.shape[1]
    if low < 0 and not full:
        raise ValueError(f"NormalizeFeatures: a sparse `x` with negative values (min {low:g}) "
                         "would become dense (PyG subtracts the minimum from every entry, "
                         "its implicit zeros too); pass x.to_dense()")
    if full:  # no implicit zeros: the minimum is a stored value, and every entry shifts
        v = v - low
    s = x.structure
    rowsum = clamp(segment(v, s.indptr, "sum"), min=1.0)
    return SparseTensor(s, v / gather_rows(rowsum, s.rows()))


class NormalizeFeatures(BaseTransform):
    """Row-normalise the node features to sum up to one (PyG's ``NormalizeFeatures``).

    PyG's formula, ``x' = (x - min(x)) / clamp(rowsum(x - min(x)), min=1)`` with the minimum
    taken over the whole matrix: a row of zeros stays zero, and a row whose (shifted) sum is
    below 1 is left as it is, exactly as PyG computes it. For non-negative features (bag of
    words, one-hot) it is ``x / rowsum(x)``. A CSR ``x`` (Planetoid's) stays CSR; its values
    are differentiable, as are a dense ``x``'s. Integer features become the default float.

    Args:
        attrs: the names of the attributes to normalise (default: ``["x"]``); unset ones are
            skipped, as in PyG.

    Raises:
        ValueError: a sparse ``x`` with negative values (the shift would make it dense).
    """

    def __init__(self, attrs=None):
        attrs = ["x"] if attrs is None else attrs
        if not isinstance(attrs, list | tuple) or not all(isinstance(a, str) for a in attrs):
            raise TypeError(f"NormalizeFeatures: expected `attrs` to be a list of attribute "
                            f"names (got {attrs!r})")
        self.attrs = list(attrs)

    def forward(self, data):
        for key in self.attrs:
            value = getattr(data, key, None)
            if value is None or not int(np.prod(value.shape)):
                continue
            if isinstance(value, SparseTensor):
                value = _normalized_sparse(value)
            else:
                value = _floating(value)
                value = value - value.min()
                value = value / clamp(value.sum(dim=-1, keepdim=True), min=1.0)
            setattr(data, key, value)
        return data


def _with_columns(data, cols: np.ndarray, cat_: bool):
    """``data.x`` with the columns ``cols`` (N, k) appended (``cat_``), or replaced by them."""
    x = data.x
    if x is None or not cat_:
        data.x = on_graph(cols.astype(backend.DEFAULT_FLOAT), data)
        return data
    if isinstance(x, SparseTensor):  # stays CSR
        a = sp.hstack([x.to_scipy(), sp.csr_matrix(cols.astype(x.dtype))]).tocsr()
        data.x = from_scipy(a).to(x.device) if x.device != "cpu" else from_scipy(a)
        return data
    x = x.reshape((-1, 1)) if len(x.shape) == 1 else x
    data.x = cat([x, on_graph(cols.astype(x.dtype), data)], dim=1)
    return data


class OneHotDegree(BaseTransform):
    """The node degree as a one-hot feature (PyG's ``OneHotDegree``): the out-degree (edges
    leaving the node, row 0 of ``edge_index``), or the in-degree, in ``max_degree + 1``
    columns; repeated edges count each time, as PyG's ``degree``.

    Args:
        max_degree: the largest degree encoded.
        in_degree: count incoming edges instead. (default: False)
        cat: append the columns to ``x`` (in ``x``'s dtype; a CSR ``x`` stays CSR) rather
            than replace it. A graph without ``x`` gets them as float. (default: True)

    Raises:
        ValueError: a node whose degree passes ``max_degree`` (PyG's ``one_hot`` refuses it
            too), naming the node and its degree.
    """

    def __init__(self, max_degree: int, in_degree: bool = False, cat: bool = True):
        self.max_degree = check_int("OneHotDegree", "max_degree", max_degree)
        self.in_degree = check_bool("OneHotDegree", "in_degree", in_degree)
        self.cat = check_bool("OneHotDegree", "cat", cat)

    def forward(self, data):
        s = data.adj.structure.to("cpu")
        ids = s.rows() if self.in_degree else s.cols()  # adj is target-major: rows = targets
        deg = np.bincount(ids, minlength=data.num_nodes)
        if deg.size and int(deg.max()) > self.max_degree:
            node = int(deg.argmax())
            raise ValueError(f"OneHotDegree: expected degrees <= max_degree={self.max_degree} "
                             f"(got node {node} of degree {int(deg[node])}); raise max_degree")
        onehot = np.zeros((data.num_nodes, self.max_degree + 1), np.float32)
        onehot[np.arange(data.num_nodes), deg] = 1
        return _with_columns(data, onehot, self.cat)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.max_degree})"


class Constant(BaseTransform):
    """A constant node feature (PyG's ``Constant``): a column of ``value`` appended to ``x``
    (``cat=True``, in ``x``'s dtype) or as the whole ``x`` (float).

    Args:
        value: the constant. (default: 1.0)
        cat: append to ``x`` instead of replacing it. (default: True)
    """

    def __init__(self, value: float = 1.0, cat: bool = True):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise TypeError(f"Constant: expected a number as `value` (got "
                            f"{type(value).__name__} {value!r})")
        self.value = value
        self.cat = check_bool("Constant", "cat", cat)

    def forward(self, data):
        return _with_columns(data, np.full((data.num_nodes, 1), self.value, np.float64),
                             self.cat)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self.value})"
