"""`GDC`, the graph diffusion convolution preprocessing of Gasteiger et al., "Diffusion
Improves Graph Learning" (NeurIPS 2019) (PyG's ``GDC``), exact (dense) variant, on numpy /
scipy on the host."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from sparsegraph import backend
from sparsegraph.transforms.base import BaseTransform, check_bool, on_graph

NORMALIZATIONS = ("sym", "col", "row", None)


def _transition(src, dst, w, n, normalization):
    """PyG's ``GDC.transition_matrix`` on the edges ``src -> dst`` of weights ``w``: "sym"
    ``D^-1/2 A D^-1/2``, "col" ``A D^-1`` (``D`` the weighted in-degree), "row" ``D^-1 A``
    (out-degree), None as it is; a degree 0 gives 0."""
    if normalization is None:
        return w
    deg = np.bincount(src if normalization == "row" else dst, w, minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(deg != 0, deg ** (-0.5 if normalization == "sym" else -1.0), 0.0)
    if normalization == "sym":
        return inv[src] * w * inv[dst]
    return w * inv[src if normalization == "row" else dst]


def _need(kwargs: dict, key: str, what: str):
    if key not in kwargs:
        raise ValueError(f"GDC: expected `{what}` to hold {key!r} for method "
                         f"{kwargs.get('method')!r} (got {sorted(kwargs)})")
    return kwargs[key]


def _diffusion(t: np.ndarray, kwargs: dict) -> np.ndarray:
    """PyG's ``diffusion_matrix_exact`` of the dense transition matrix ``t``."""
    method, n = kwargs.get("method"), t.shape[0]
    if method == "ppr":  # alpha (I + (alpha - 1) T)^-1
        alpha = _need(kwargs, "alpha", "diffusion_kwargs")
        return alpha * np.linalg.inv(np.eye(n) + (alpha - 1) * t)
    if method == "heat":  # exp(t (T - I))
        mat = _need(kwargs, "t", "diffusion_kwargs") * (t - np.eye(n))
        if np.array_equal(mat, mat.T):
            e, v = np.linalg.eigh(mat, UPLO="U")
            return (v * np.exp(e)) @ v.T
        return scipy.linalg.expm(mat)
    if method == "coeff":  # sum_k theta_k T^k
        coeffs = list(_need(kwargs, "coeffs", "diffusion_kwargs"))
        power, out = np.eye(n), coeffs[0] * np.eye(n)
        for c in coeffs[1:]:  # powers, not nodes
            power = power @ t
            out = out + c * power
        return out
    raise ValueError(f"GDC: expected diffusion_kwargs['method'] in ('ppr', 'heat', 'coeff') "
                     f"(got {method!r})")


def _sparsified(m: np.ndarray, kwargs: dict):
    """PyG's ``sparsify_dense``: (source, target, weight) of the entries kept."""
    method, n = kwargs.get("method"), m.shape[0]
    if method == "threshold":
        eps = kwargs.get("eps")
        if eps is None:
            need = _need(kwargs, "avg_degree", "sparsification_kwargs") * n
            flat = np.sort(m.ravel())[::-1]
            eps = -np.inf if need >= flat.size else (flat[need - 1] + flat[need]) / 2.0
        src, dst = np.nonzero(m >= eps)
        return src, dst, m[src, dst]
    if method == "topk":
        k = min(n, _need(kwargs, "k", "sparsification_kwargs"))
        dim = _need(kwargs, "dim", "sparsification_kwargs")
        if dim not in (0, 1):
            raise ValueError(f"GDC: expected sparsification_kwargs['dim'] in (0, 1) (got "
                             f"{dim!r})")
        order = np.argsort(-m, axis=dim, kind="stable")
        if dim == 0:  # the k largest of each column
            top = order[:k]
            return top.ravel(), np.tile(np.arange(n), k), np.take_along_axis(m, top, 0).ravel()
        top = order[:, :k]
        return np.repeat(np.arange(n), k), top.ravel(), np.take_along_axis(m, top, 1).ravel()
    raise ValueError(f"GDC: expected sparsification_kwargs['method'] in ('threshold', 'topk') "
                     f"(got {method!r})")


class GDC(BaseTransform):
    """Graph diffusion convolution (PyG's ``GDC``, ``exact=True``): the graph's edges are
    replaced by those of a sparsified diffusion matrix ``S = sum_k theta_k T^k``.

    As PyG: the input weights are a 1-D ``edge_attr`` when there is one, else ones (the
    edge weights are not read, as PyG's GDC reads none); ``self_loop_weight`` is added to
    every node's loop
    (summed with one it has); then ``T`` (``normalization_in``), the dense diffusion
    (``"ppr"``: ``alpha (I - (1 - alpha) T)^-1``; ``"heat"``: ``exp(t (T - I))``;
    ``"coeff"``: the ``coeffs``), sparsification (``"threshold"`` at ``eps``, or at the
    ``eps`` giving ``avg_degree`` edges per node; ``"topk"``: the ``k`` largest per column
    ``dim=0`` or row ``dim=1``) and ``normalization_out`` of what is kept. The result's
    weights are the edge weights and, as PyG stores them, a 1-D ``edge_attr`` (float32);
    the other per-edge fields cannot follow a diffusion and are dropped. Dense: O(N^2)
    memory, O(N^3) time, as PyG's exact variant.

    Args:
        self_loop_weight: the loops' weight (0 or None: none added). (default: 1.0)
        normalization_in / normalization_out: ``"sym"``, ``"col"``, ``"row"`` or None.
            (defaults: "sym", "col")
        diffusion_kwargs: ``dict(method="ppr", alpha=...)``, ``dict(method="heat", t=...)``
            or ``dict(method="coeff", coeffs=[...])``. (default: ppr, alpha=0.15)
        sparsification_kwargs: ``dict(method="threshold", eps=...)`` or ``avg_degree=...``,
            or ``dict(method="topk", k=..., dim=0 or 1)``. (default: threshold,
            avg_degree=64)
        exact: only True: PyG's approximate push-based PPR (``exact=False``) is not
            implemented.

    Raises:
        NotImplementedError: ``exact=False``. ValueError: an unknown normalization or
            method, a missing method parameter, an ``edge_attr`` that is not 1-D.
    """

    def __init__(self, self_loop_weight: float = 1.0, normalization_in: str = "sym",
                 normalization_out: str | None = "col", diffusion_kwargs=None,
                 sparsification_kwargs=None, exact: bool = True):
        for name, value in (("normalization_in", normalization_in),
                            ("normalization_out", normalization_out)):
            if value not in NORMALIZATIONS:
                raise ValueError(f"GDC: expected `{name}` in {NORMALIZATIONS} (got {value!r})")
        if self_loop_weight is not None and (isinstance(self_loop_weight, bool) or not
                                             isinstance(self_loop_weight, numbers.Real)):
            raise TypeError(f"GDC: expected `self_loop_weight` to be a number or None (got "
                            f"{type(self_loop_weight).__name__} {self_loop_weight!r})")
        self.self_loop_weight = self_loop_weight
        self.normalization_in, self.normalization_out = normalization_in, normalization_out
        self.diffusion_kwargs = dict(diffusion_kwargs or {"method": "ppr", "alpha": 0.15})
        self.sparsification_kwargs = dict(sparsification_kwargs
                                          or {"method": "threshold", "avg_degree": 64})
        if not check_bool("GDC", "exact", exact):
            raise NotImplementedError("GDC: exact=False (PyG's approximate push-based PPR) is "
                                      "not implemented; use exact=True")
        self.exact = True

    def forward(self, data):
        n = data.num_nodes
        s = data.adj.structure.to("cpu")
        src, dst = s.cols().astype(np.int64), s.rows().astype(np.int64)
        if data.edge_attr is None:
            w = np.ones(src.size)
        else:
            weights = data.edge_attr
            if len(weights.shape) != 1:
                raise ValueError(f"GDC: expected a 1-D `edge_attr` as the edge weights (got "
                                 f"shape {tuple(weights.shape)})")
            w = np.asarray(weights.detach().to("cpu").numpy(), np.float64)
        if self.self_loop_weight:
            loops = np.arange(n)
            src, dst = np.concatenate([src, loops]), np.concatenate([dst, loops])
            w = np.concatenate([w, np.full(n, float(self.self_loop_weight))])
        a = sp.coo_matrix((w, (src, dst)), shape=(n, n)).tocsr().tocoo()  # coalesced
        t = np.zeros((n, n))
        t[a.row, a.col] = _transition(a.row, a.col, a.data, n, self.normalization_in)
        src, dst, w = _sparsified(_diffusion(t, self.diffusion_kwargs),
                                  self.sparsification_kwargs)
        w = _transition(src, dst, w, n, self.normalization_out)
        for key in list(data._edge_fields()):
            delattr(data, key)
        w = on_graph(w.astype(backend.DEFAULT_FLOAT), data)
        out = data._with_edges(np.stack([src, dst]), w)
        out._weighted = True
        out.edge_attr = out.adj.values
        return out
