"""Positional encodings: `AddRandomWalkPE` and `AddLaplacianEigenvectorPE` (PyG's), on
scipy.sparse / numpy on the host; the result goes to the graph's device."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sparsegraph import backend
from sparsegraph.transforms.base import (
    BaseTransform,
    check_bool,
    check_int,
    on_graph,
    random_state,
)
from sparsegraph.transforms.degree_features import append_columns


def _check_attr_name(op: str, attr_name):
    if attr_name is not None and not isinstance(attr_name, str):
        raise TypeError(f"{op}: expected `attr_name` to be an attribute name or None (got "
                        f"{type(attr_name).__name__} {attr_name!r})")
    return attr_name


def _add_node_attr(data, pe: np.ndarray, attr_name):
    """PyG's ``add_node_attr``: ``data[attr_name] = pe``, or appended to ``x`` (None)."""
    pe = on_graph(pe.astype(backend.DEFAULT_FLOAT), data)
    if attr_name is None:
        return append_columns(data, pe)
    setattr(data, attr_name, pe)
    return data


def _host_edges(data):
    """Sources, targets and weights (float64) of ``data``'s edges on the host."""
    s = data.adj.structure.to("cpu")
    w = np.asarray(data.adj.values.detach().to("cpu").numpy(), np.float64)
    return s.cols().astype(np.int64), s.rows().astype(np.int64), w


class AddRandomWalkPE(BaseTransform):
    """The random walk positional encoding of Dwivedi et al., "Graph Neural Networks with
    Learnable Structural and Positional Representations" (ICLR 2022) (PyG's
    ``AddRandomWalkPE``): ``pe[i, k-1] = (P^k)[i, i]`` for ``k = 1..walk_length``, the
    probability of returning to ``i`` after ``k`` steps.

    PyG's matrix: ``P[i, j] = 1 / max(sum of the weights of the edges out of i, 1)`` for
    each edge ``i -> j`` (the weights enter only through that degree, as in PyG); repeated
    edges add up (PyG's sparse path; its dense path for up to 2000 nodes would count one
    copy). Computed densely up to 2000 nodes, else with scipy.sparse products.

    Args:
        walk_length: the number of steps, an int >= 1.
        attr_name: the attribute to store the ``(N, walk_length)`` encoding in, or None to
            append it to ``x``. (default: "random_walk_pe")
    """

    DENSE_THRESHOLD = 2000

    def __init__(self, walk_length: int, attr_name: str | None = "random_walk_pe"):
        self.walk_length = check_int("AddRandomWalkPE", "walk_length", walk_length, low=1)
        self.attr_name = _check_attr_name("AddRandomWalkPE", attr_name)

    def forward(self, data):
        n = data.num_nodes
        src, dst, w = _host_edges(data)
        deg = np.maximum(np.bincount(src, w, minlength=n), 1.0)
        p = sp.csr_matrix((1.0 / deg[src], (src, dst)), shape=(n, n))  # sums repeated edges
        if n <= self.DENSE_THRESHOLD:
            p = p.toarray()
        pe = np.empty((n, self.walk_length))
        out = p
        for k in range(self.walk_length):  # steps, not nodes
            if k:
                out = out @ p
            pe[:, k] = out.diagonal()
        return _add_node_attr(data, pe, self.attr_name)


def sym_laplacian(data) -> sp.csr_matrix:
    """PyG's ``get_laplacian(normalization="sym")`` as a scipy matrix in PyG's convention
    ``L[source, target]``: ``I - D^-1/2 A D^-1/2`` with the self loops removed first, ``D``
    the weighted out-degree (0 for a node without edges, whose diagonal stays 1); repeated
    edges add up, as in ``to_scipy_sparse_matrix``."""
    n = data.num_nodes
    src, dst, w = _host_edges(data)
    off = src != dst
    src, dst, w = src[off], dst[off], w[off]
    deg = np.bincount(src, w, minlength=n)
    with np.errstate(divide="ignore"):
        dinv = np.where(deg > 0, deg ** -0.5, 0.0)
    loops = np.arange(n)
    return sp.csr_matrix((np.concatenate([-dinv[src] * w * dinv[dst], np.ones(n)]),
                          (np.concatenate([src, loops]), np.concatenate([dst, loops]))),
                         shape=(n, n))


class AddLaplacianEigenvectorPE(BaseTransform):
    """The Laplacian eigenvector positional encoding of Dwivedi et al., "Benchmarking Graph
    Neural Networks" (2020) (PyG's ``AddLaplacianEigenvectorPE``): the eigenvectors of the
    ``k`` smallest non-trivial eigenvalues of the symmetric normalised Laplacian
    (`sym_laplacian`), the smallest one's dropped, each with a random sign.

    As PyG: below 100 nodes ``numpy.linalg.eig`` (``eigh`` when ``is_undirected``) of the
    dense matrix; else ``scipy.sparse.linalg.eigs`` (``which="SR"``; ``eigsh``,
    ``which="SA"``) with ``k + 1`` eigenpairs and ``**kwargs``. The real parts are kept,
    ordered by eigenvalue, each scaled back to unit length (PyG leaves the real part of a
    complex vector of a repeated eigenvalue shorter). The signs (+1 / -1 per column) and
    ARPACK's start vector ``v0`` (unless given) are drawn from sparsegraph's global generator
    (`sparsegraph.manual_seed`), so a seed gives the same encoding every time.

    Args:
        k: the number of eigenvectors, an int >= 1 below ``num_nodes``.
        attr_name: the attribute for the ``(N, k)`` encoding, or None to append it to
            ``x``. (default: "laplacian_eigenvector_pe")
        is_undirected: the graph is undirected: use the symmetric solvers. (default: False)
        **kwargs: passed to ``eigs`` / ``eigsh`` (``tol``, ``ncv``, ``v0``, ...).

    Raises:
        ValueError: ``k`` >= the graph's number of nodes.
    """

    SPARSE_THRESHOLD = 100

    def __init__(self, k: int, attr_name: str | None = "laplacian_eigenvector_pe",
                 is_undirected: bool = False, **kwargs):
        self.k = check_int("AddLaplacianEigenvectorPE", "k", k, low=1)
        self.attr_name = _check_attr_name("AddLaplacianEigenvectorPE", attr_name)
        self.is_undirected = check_bool("AddLaplacianEigenvectorPE", "is_undirected",
                                        is_undirected)
        self.kwargs = kwargs

    def forward(self, data):
        n = data.num_nodes
        if self.k >= n:
            raise ValueError(f"AddLaplacianEigenvectorPE: expected `k` below the number of "
                             f"nodes, {n} (got k={self.k})")
        lap = sym_laplacian(data)
        rng = random_state("AddLaplacianEigenvectorPE", None, None)
        if n < self.SPARSE_THRESHOLD:
            eig = np.linalg.eigh if self.is_undirected else np.linalg.eig
            vals, vecs = eig(lap.toarray())
        else:
            from scipy.sparse.linalg import eigs, eigsh

            solve = eigsh if self.is_undirected else eigs
            # ARPACK's own start vector is unseeded: the same graph gave different vectors
            # of a repeated eigenvalue from run to run
            kwargs = {"v0": rng.random(n), **self.kwargs}
            vals, vecs = solve(lap, k=self.k + 1, which="SA" if self.is_undirected else "SR",
                               return_eigenvectors=True, **kwargs)
        vecs = np.real(vecs[:, np.argsort(np.real(vals), kind="stable")])[:, 1:self.k + 1]
        # the real part of a complex eigenvector of a repeated eigenvalue (eig / eigs on a
        # non-symmetric solver) is an eigenvector of norm below 1: back to unit length
        norms = np.linalg.norm(vecs, axis=0)
        vecs = vecs / np.where(norms > 0, norms, 1)
        sign = 2 * rng.integers(0, 2, self.k) - 1
        return _add_node_attr(data, vecs * sign, self.attr_name)
