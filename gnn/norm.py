"""Normalisation layers for node features of a batch of graphs (PyG's
``torch_geometric.nn.norm``): `BatchNorm`, `LayerNorm`, `GraphNorm`, `InstanceNorm`,
`PairNorm` and `MeanSubtractionNorm`.

Per-graph statistics are segment reductions over ``batch`` (contiguous rows when ``batch`` is
sorted, as `Graph.batch` makes it; a scatter otherwise) and are spread back to the nodes with a
row gather: no Python loop over graphs. ``batch=None`` means one graph holding every row.
Formulas, biased / unbiased variances and running-statistic updates follow PyG's source.
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.autograd import no_grad
from sparsegraph.creation import ones, zeros
from sparsegraph.gnn.pool import graphs_needed
from sparsegraph.nn import BatchNorm1d, Module, Parameter, init
from sparsegraph.nn._checks import check_bool, check_int, check_number
from sparsegraph.nn.normalization import add_affine_and_stats, layer_norm
from sparsegraph.tensor import Tensor, host_values, wrap

__all__ = ["BatchNorm", "GraphNorm", "InstanceNorm", "LayerNorm", "MeanSubtractionNorm",
           "PairNorm"]

_CONVERT = {"float16": "half", "float32": "float", "float64": "double"}


# ---- input checks and per-graph reductions --------------------------------------------------
def _check_x(op: str, x, channels: int | None = None, ref: Tensor | None = None,
             shapes: tuple = (2,)) -> None:
    """``x`` a floating ``(N, channels)`` Tensor of the dtype of ``ref`` (the layer's
    parameters or running statistics, None when it has neither)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected `x` to be a Tensor (got {type(x).__name__}); wrap an "
                        "array with sparsegraph.tensor()")
    c = "F" if channels is None else channels
    if x.ndim not in shapes or (channels is not None and x.shape[1] != channels):
        want = f"(N, {c})" + (f" or (N, {c}, L)" if 3 in shapes else "")
        raise ValueError(f"{op}: expected `x` of shape {want}, one row per node (got "
                         f"{x.shape})")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating `x` (got {x.dtype}); convert it with "
                        ".float() or .double() first")
    if ref is not None and x.dtype != ref.dtype:
        fix = _CONVERT.get(str(x.dtype), "to")
        raise TypeError(f"{op}: expected `x` of dtype {ref.dtype} like the layer's "
                        f"parameters / running statistics (got {x.dtype}); convert x, or the "
                        f"layer with .{fix}()")


class _Groups:
    """The graph of every row of ``x``: ``index`` ``(N,)`` on x's device, ``size`` graphs,
    ``indptr`` ``(size + 1,)`` when the rows are grouped (sorted ``batch``, else None),
    ``counts`` the nodes per graph; ``single`` when all rows form one graph (statistics of
    shape ``(1, ...)`` then broadcast instead of being gathered)."""

    __slots__ = ("index", "size", "indptr", "counts", "single")

    def __init__(self, index, size, indptr, counts):
        self.index, self.size, self.indptr, self.counts = index, size, indptr, counts
        self.single = size == 1

    def sum(self, x: Tensor) -> Tensor:
        return self.reduce(x, "sum")

    def mean(self, x: Tensor) -> Tensor:
        return self.reduce(x, "mean")

    def reduce(self, x: Tensor, how: str) -> Tensor:
        """``(size, ...)`` per-graph sums / means (empty graphs give 0, as PyG's scatter)."""
        if self.indptr is not None:
            return ops.segment(x, self.indptr, how)
        return ops.scatter(x, self.index, self.size, how)

    def spread(self, stat: Tensor) -> Tensor:
        """A per-graph statistic back on the nodes: ``stat[batch]``."""
        return stat if self.single else ops.gather_rows(stat, self.index)

    def count(self, x: Tensor) -> Tensor:
        """Nodes per graph as a ``(size, 1)`` tensor of x's dtype (PyG's ``degree(batch)``)."""
        return wrap(self.counts.astype(x.dtype).reshape(-1, 1))


def _is_size(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def _groups(op: str, x: Tensor, batch, batch_size, size_name: str = "batch_size") -> _Groups:
    """Check ``batch`` / ``batch_size`` against ``x`` and group the rows by graph."""
    n, xp = x.shape[0], x.xp
    if batch is None:
        if batch_size is not None and (not _is_size(batch_size) or batch_size != 1):
            raise ValueError(f"{op}: with batch=None every node is in one graph, so "
                             f"`{size_name}` must be 1 or None (got {batch_size!r}); pass "
                             "`batch` for more graphs")
        indptr = xp.asarray([0, n], dtype=np.int64)
        return _Groups(xp.zeros(n, dtype=np.int64), 1, indptr, xp.asarray([n]))
    b = host_values(batch, f"{op}: the graphs grouped by `batch`")
    b = xp.asarray(b)
    if b.shape != (n,):
        raise ValueError(f"{op}: expected `batch` with {n} entries, one graph id per row of "
                         f"`x` of shape {x.shape} (got shape {b.shape})")
    needed = graphs_needed(op, b)
    if batch_size is None:
        size = needed
    elif not _is_size(batch_size) or batch_size < needed:
        raise ValueError(f"{op}: expected `{size_name}` to be an int >= {needed}, the "
                         f"number of graphs `batch` refers to (got {batch_size!r})")
    else:
        size = int(batch_size)
    b = b.astype(np.int64, copy=False)
    if bool((b[1:] >= b[:-1]).all()):  # Graph.batch: contiguous graphs, segment reductions
        indptr = b.searchsorted(xp.arange(size + 1)).astype(np.int64)
        return _Groups(b, size, indptr, xp.diff(indptr))
    return _Groups(b, size, None, xp.bincount(b, minlength=size))


def _affine(out: Tensor, weight, bias) -> Tensor:
    if weight is not None and bias is not None:
        out = out * weight + bias
    return out


# ---- the layers -----------------------------------------------------------------------------
class BatchNorm(Module):
    r"""Ioffe & Szegedy, "Batch Normalization" (2015) over all nodes of a mini-batch, PyG's
    ``BatchNorm``: ``(x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`` per feature.

    A wrapper of `sparsegraph.nn.BatchNorm1d` held as ``self.module`` (so the state dict keys
    are ``module.weight``, ``module.bias``, ``module.running_mean``, ``module.running_var``,
    ``module.num_batches_tracked``, as PyG's): training normalises with the biased batch
    variance and updates the running estimates with the unbiased one
    (``running = (1 - momentum) * running + momentum * batch``; ``momentum=None``: the
    cumulative average); ``eval()`` uses the running estimates.

    Args:
        in_channels: ``F``, the size of each node's features.
        eps: added to the variance. (default: 1e-5)
        momentum: weight of a new batch in the running estimates, or None. (default: 0.1)
        affine: learn ``gamma`` (ones) and ``beta`` (zeros). (default: True)
        track_running_stats: keep running estimates; without them batch statistics are used
            in eval too. (default: True)
        allow_single_element: a batch of one node is normalised with the running estimates
            (as in eval, without updating them) instead of raising; needs
            ``track_running_stats``. (default: False)

    Shapes:
        x ``(N, F)`` (or ``(N, F, L)``, as BatchNorm1d) -> the same shape. ``forward(x)`` takes
        no ``batch``, as PyG's: the statistics are over all nodes.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 allow_single_element: bool = False):
        super().__init__()
        for name, value in (("affine", affine), ("track_running_stats", track_running_stats),
                            ("allow_single_element", allow_single_element)):
            check_bool("BatchNorm", name, value)
        if allow_single_element and not track_running_stats:
            raise ValueError("BatchNorm: allow_single_element=True requires "
                             "track_running_stats=True (a single node is normalised with the "
                             "running statistics)")
        check_int("BatchNorm", "in_channels", in_channels, minimum=1)
        check_number("BatchNorm", "eps", eps)
        check_number("BatchNorm", "momentum", momentum, none_ok=True)
        self.module = BatchNorm1d(in_channels, eps, momentum, affine, track_running_stats)
        self.in_channels = int(in_channels)
        self.allow_single_element = allow_single_element

    def reset_running_stats(self) -> None:
        self.module.reset_running_stats()

    def reset_parameters(self) -> None:
        self.module.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        bn = self.module
        ref = bn.weight if bn.weight is not None else bn.running_mean
        _check_x("BatchNorm", x, self.in_channels, ref, shapes=(2, 3))
        if self.allow_single_element and x.shape[0] <= 1:
            # torch's batch_norm(training=False, momentum=0): the running estimates, no update
            shape = (1, -1) if x.ndim == 2 else (1, -1, 1)
            out = (x - bn.running_mean.reshape(shape)) * ops.rsqrt(
                bn.running_var.reshape(shape) + bn.eps)
            if bn.affine:
                out = out * bn.weight.reshape(shape) + bn.bias.reshape(shape)
            return out
        if self.training and x.numel() // self.in_channels < 2:
            raise ValueError("BatchNorm: expected more than one value per channel in training "
                             f"(got x of shape {x.shape}); pass allow_single_element=True to "
                             "normalise a single node with the running statistics")
        return bn(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels})"


class LayerNorm(Module):
    r"""Ba et al., "Layer Normalization" (2016) for graphs, PyG's ``LayerNorm``.

    ``mode="graph"``: the mean and variance are taken over all nodes and all features of each
    graph, ``x' = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`` (biased variance, graphs
    given by ``batch``). With ``batch=None`` PyG's other form is kept:
    ``(x - E[x]) / (Std[x] + eps)`` over the whole ``x`` (eps added to the standard deviation).
    ``mode="node"``: every node on its own, ``layer_norm`` over its ``F`` features.

    Args:
        in_channels: ``F``.
        eps: for numerical stability. (default: 1e-5)
        affine: learn a per-feature ``gamma`` (ones) and ``beta`` (zeros). (default: True)
        mode: ``"graph"`` or ``"node"``. (default: ``"graph"``)

    Shapes:
        x ``(N, F)``, batch ``(N,)`` graph ids or None -> ``(N, F)``.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, affine: bool = True,
                 mode: str = "graph"):
        super().__init__()
        check_int("LayerNorm", "in_channels", in_channels, minimum=1)
        check_number("LayerNorm", "eps", eps)
        check_bool("LayerNorm", "affine", affine)
        if mode not in ("graph", "node"):
            raise ValueError(f"LayerNorm: expected `mode` to be 'graph' or 'node' (got "
                             f"{mode!r})")
        self.in_channels, self.eps, self.affine, self.mode = int(in_channels), eps, affine, mode
        if affine:
            self.weight = Parameter(ones(in_channels))
            self.bias = Parameter(zeros(in_channels))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, x: Tensor, batch=None, batch_size: int | None = None) -> Tensor:
        op = "LayerNorm"
        _check_x(op, x, self.in_channels, self.weight)
        if self.mode == "node":
            return layer_norm(x, (self.in_channels,), self.weight, self.bias, self.eps)
        if batch is None:
            _groups(op, x, None, batch_size)  # batch_size checked
            x = x - x.mean()
            return _affine(x / (ops.std(x, unbiased=False) + self.eps), self.weight, self.bias)
        g = _groups(op, x, batch, batch_size)
        norm = ops.clamp(g.count(x), min=1) * x.shape[1]
        mean = g.sum(x).sum(dim=-1, keepdim=True) / norm
        x = x - g.spread(mean)
        var = g.sum(x * x).sum(dim=-1, keepdim=True) / norm
        return _affine(x * g.spread(ops.rsqrt(var + self.eps)), self.weight, self.bias)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, affine={self.affine}, "
                f"mode={self.mode})")


class GraphNorm(Module):
    r"""Cai et al., "GraphNorm: A Principled Approach to Accelerating Graph Neural Network
    Training" (ICML 2021), PyG's ``GraphNorm``, per graph:
    ``x' = (x - alpha * E[x]) / sqrt(Var[x - alpha * E[x]] + eps) * gamma + beta`` with a
    learnable per-feature ``alpha`` (``mean_scale``, ones), ``gamma`` (``weight``, ones) and
    ``beta`` (``bias``, zeros); the variance is the biased mean of squares of the shifted
    features.

    Args:
        in_channels: ``F``.
        eps: added to the variance. (default: 1e-5)

    Shapes:
        x ``(N, F)``, batch ``(N,)`` graph ids or None (one graph) -> ``(N, F)``.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5):
        super().__init__()
        check_int("GraphNorm", "in_channels", in_channels, minimum=1)
        check_number("GraphNorm", "eps", eps)
        self.in_channels, self.eps = int(in_channels), eps
        self.weight = Parameter(ones(in_channels))
        self.bias = Parameter(zeros(in_channels))
        self.mean_scale = Parameter(ones(in_channels))

    def reset_parameters(self) -> None:
        init.ones_(self.weight)
        init.zeros_(self.bias)
        init.ones_(self.mean_scale)

    def forward(self, x: Tensor, batch=None, batch_size: int | None = None) -> Tensor:
        _check_x("GraphNorm", x, self.in_channels, self.weight)
        g = _groups("GraphNorm", x, batch, batch_size)
        out = x - g.spread(g.mean(x)) * self.mean_scale
        var = g.mean(out * out)
        return self.weight * out * g.spread(ops.rsqrt(var + self.eps)) + self.bias

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels})"


class InstanceNorm(Module):
    r"""Ulyanov et al., "Instance Normalization" (2016) for graphs, PyG's ``InstanceNorm``:
    every feature of every graph is normalised on its own,
    ``x' = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`` (biased variance over the graph's
    nodes).

    With ``track_running_stats`` training also updates ``running_mean`` / ``running_var``
    with the means over the graphs of the batch (graph ids without nodes count as zeros, as
    in PyG) of the per-graph mean and the per-graph unbiased variance (divided by
    ``max(n - 1, 1)``): ``running = (1 - momentum) * running + momentum * stat``; ``eval()``
    then normalises with them. Without it (the default) graph statistics are used in eval too.
    ``num_batches_tracked`` is kept for torch's state-dict layout and, as in PyG, not counted.
    With ``batch=None`` and graph statistics a single node is a ValueError, as torch's
    ``instance_norm`` ("more than 1 spatial element"); in a batch it normalises to 0 (PyG).

    Args:
        in_channels: ``F``.
        eps: added to the variance. (default: 1e-5)
        momentum: weight of a new batch in the running estimates. (default: 0.1)
        affine: learn ``gamma`` (ones) and ``beta`` (zeros). (default: False)
        track_running_stats: keep running estimates. (default: False)

    Shapes:
        x ``(N, F)``, batch ``(N,)`` graph ids or None (one graph) -> ``(N, F)``.
    """

    def __init__(self, in_channels: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False):
        super().__init__()
        op = "InstanceNorm"
        check_int(op, "in_channels", in_channels, minimum=1)
        check_number(op, "eps", eps)
        check_number(op, "momentum", momentum)
        check_bool(op, "affine", affine)
        check_bool(op, "track_running_stats", track_running_stats)
        self.num_features = self.in_channels = int(in_channels)
        self.eps, self.momentum = eps, momentum
        add_affine_and_stats(self, self.in_channels, affine, track_running_stats)

    reset_running_stats = BatchNorm1d.reset_running_stats
    reset_parameters = BatchNorm1d.reset_parameters

    def forward(self, x: Tensor, batch=None, batch_size: int | None = None) -> Tensor:
        op = "InstanceNorm"
        _check_x(op, x, self.in_channels,
                 self.weight if self.weight is not None else self.running_mean)
        g = _groups(op, x, batch, batch_size)
        if self.training or not self.track_running_stats:
            if batch is None and x.shape[0] <= 1:
                raise ValueError(f"{op}: expected more than one node per feature to normalise "
                                 f"with graph statistics (got x of shape {x.shape}), as "
                                 "torch's instance_norm; pass `batch` or use the running "
                                 "statistics in eval()")
            count = g.count(x)
            mean = g.sum(x) / ops.clamp(count, min=1)
            x = x - g.spread(mean)
            squares = g.sum(x * x)
            var = squares / ops.clamp(count, min=1)
            if self.running_mean is not None and mean.shape[0]:  # no graphs: nothing to average
                with no_grad():
                    m = self.momentum
                    unbiased = squares / ops.clamp(count - 1, min=1)
                    self.running_mean.mul_(1 - m).add_(mean.mean(0), alpha=m)
                    self.running_var.mul_(1 - m).add_(unbiased.mean(0), alpha=m)
            out = x * g.spread(ops.rsqrt(var + self.eps))
        else:
            out = (x - self.running_mean) * ops.rsqrt(self.running_var + self.eps)
        return _affine(out, self.weight, self.bias)

    def extra_repr(self) -> str:
        return str(self.num_features)


class PairNorm(Module):
    r"""Zhao & Akoglu, "PairNorm: Tackling Oversmoothing in GNNs" (ICLR 2020), PyG's
    ``PairNorm``, per graph: centre, ``x^c = x - E[x]``, then scale,
    ``x' = s * x^c / sqrt(eps + mean_i ||x^c_i||^2)``; with ``scale_individually`` every node
    on its own, ``x' = s * x^c / (eps + ||x^c_i||)`` (eps added to the norm, as PyG; a zero
    row has a zero gradient, as torch's norm).

    Args:
        scale: ``s``. (default: 1.)
        scale_individually: scale each node by its own norm. (default: False)
        eps: for numerical stability. (default: 1e-5)

    Shapes:
        x ``(N, F)``, batch ``(N,)`` graph ids or None (one graph) -> ``(N, F)``.
    """

    def __init__(self, scale: float = 1.0, scale_individually: bool = False,
                 eps: float = 1e-5):
        super().__init__()
        check_number("PairNorm", "scale", scale)
        check_bool("PairNorm", "scale_individually", scale_individually)
        check_number("PairNorm", "eps", eps)
        self.scale, self.scale_individually, self.eps = scale, scale_individually, eps

    def reset_parameters(self) -> None:
        """No parameters (PyG's has the method too)."""

    def forward(self, x: Tensor, batch=None, batch_size: int | None = None) -> Tensor:
        _check_x("PairNorm", x)
        g = _groups("PairNorm", x, batch, batch_size)
        x = x - g.spread(g.mean(x))
        if self.scale_individually:
            return self.scale * x / (ops.norm(x, 2, dim=-1, keepdim=True) + self.eps)
        mean_square = g.mean((x * x).sum(dim=-1, keepdim=True))
        return self.scale * x * g.spread(ops.rsqrt(mean_square + self.eps))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSubtractionNorm(Module):
    r"""Yang et al., "Revisiting 'Over-smoothing' in Deep GCNs" (2020), PyG's
    ``MeanSubtractionNorm``: ``x'_i = x_i - mean_{j in graph(i)} x_j``.

    ``forward(x, batch=None, dim_size=None)`` as PyG's (``dim_size`` the number of graphs);
    ``batch_size=`` is accepted for it too, as the other norms name it.

    Shapes:
        x ``(N, F)``, batch ``(N,)`` graph ids or None (one graph) -> ``(N, F)``.
    """

    def reset_parameters(self) -> None:
        """No parameters (PyG's has the method too)."""

    def forward(self, x: Tensor, batch=None, dim_size: int | None = None, *,
                batch_size: int | None = None) -> Tensor:
        op = "MeanSubtractionNorm"
        if batch_size is not None and dim_size is not None and batch_size != dim_size:
            raise ValueError(f"{op}: `dim_size` ({dim_size!r}) and `batch_size` "
                             f"({batch_size!r}) name the same number of graphs; pass one")
        name = "dim_size" if batch_size is None else "batch_size"
        size = dim_size if batch_size is None else batch_size
        _check_x(op, x)
        g = _groups(op, x, batch, size, name)
        return x - g.spread(g.mean(x))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
