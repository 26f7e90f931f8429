"""Aggregations as modules, PyG's ``torch_geometric.nn.aggr``: the `Aggregation` base class
with PyG's calling convention, the plain reductions (`SumAggregation`, `MeanAggregation`,
`MaxAggregation`, `MinAggregation`, `VarAggregation`, `StdAggregation`) and
`MultiAggregation`, which runs several and combines their outputs.

``aggr(x, index=None, ptr=None, dim_size=None, dim=-2)`` reduces the slices of ``x`` along
``dim`` grouped by ``index`` (any order; for a graph readout, the batch vector) or by a CSR
``ptr`` (slices already grouped: the fast segment path), into ``dim_size`` groups; a group
without members gives 0, as PyG's scatter. The learnable readouts are in
gnn/aggr_learned.py (softmax, power mean, attention, Set2Set), DGCNN's sort pooling in
gnn/aggr_sort.py.
"""

from __future__ import annotations

import copy
import importlib
import math
from numbers import Integral

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.autograd import no_grad
from sparsegraph.gnn.edge_args import host_array
from sparsegraph.gnn.pyg_scatter import scatter
from sparsegraph.nn import Linear, Module, ModuleList
from sparsegraph.tensor import Tensor, wrap

__all__ = ["Aggregation", "MaxAggregation", "MeanAggregation", "MinAggregation",
           "MultiAggregation", "StdAggregation", "SumAggregation", "VarAggregation",
           "aggregation_resolver"]


def _size(op: str, dim_size):
    if dim_size is None:
        return None
    if isinstance(dim_size, bool) or not isinstance(dim_size, Integral) or dim_size < 0:
        raise ValueError(f"{op}: expected `dim_size` to be an int >= 0 or None (got "
                         f"{dim_size!r})")
    return int(dim_size)


def _on(array, x: Tensor) -> Tensor:
    """A host int array as an int64 Tensor on ``x``'s device (no graph)."""
    return wrap(backend.to_device(np.ascontiguousarray(array, dtype=np.int64), x.device))


class Aggregation(Module):
    r"""Base class of the aggregations (PyG's ``Aggregation``): subclasses define
    ``forward(x, index, ptr, dim_size, dim)``; calling the module checks and completes the
    arguments first.

    Call:
        ``aggr(x, index=None, ptr=None, dim_size=None, dim=-2)``

        - **x**: the values, ``(*, N, F)`` with ``N`` along ``dim``.
        - **index**: ``(N,)`` group of every slice (the batch vector for a graph readout),
          in any order.
        - **ptr**: ``(B + 1,)`` CSR offsets of slices already grouped; used over ``index`` for
          the reductions when both are given (PyG's rule); aggregations that need a group per
          slice (Set2Set, sort pooling) expand it to one.
        - **dim_size**: ``B``, the number of groups (default ``len(ptr) - 1``, else
          ``max(index) + 1``; groups past the last id come out as 0).
        - **dim**: the axis reduced (default -2, the rows of a 2-D ``x``).

        With neither ``index`` nor ``ptr`` every slice is in one group (``B = 1``, or 0 for
        an empty ``x``, as PyG). Returns ``(*, B, F_out)``.

    Raises:
        TypeError: ``x`` not a Tensor, a non-integer ``index`` / ``ptr``.
        ValueError: ``dim`` out of range, ``index`` of another length than ``x`` along
            ``dim`` or with negative ids, ``dim_size`` too small for ``index`` or other than
            ``len(ptr) - 1``, a ``ptr`` not from 0 to ``N`` non-decreasing.
    """

    def __call__(self, x: Tensor, index=None, ptr=None, dim_size: int | None = None,
                 dim: int = -2, **kwargs) -> Tensor:
        x, index, ptr, dim_size, dim = self._arguments(x, index, ptr, dim_size, dim)
        return super().__call__(x, index, ptr, dim_size, dim, **kwargs)

    def forward(self, x: Tensor, index=None, ptr=None, dim_size: int | None = None,
                dim: int = -2) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__}: subclasses must define forward()")

    def reset_parameters(self) -> None:
        """Redraw the learnable parameters (none here)."""

    def _arguments(self, x, index, ptr, dim_size, dim):
        op = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected `x` to be a Tensor (got {type(x).__name__})")
        if isinstance(dim, bool) or not isinstance(dim, Integral) or not (
                -x.ndim <= dim < x.ndim):
            raise ValueError(f"{op}: expected `dim` an int in [{-x.ndim}, {x.ndim - 1}] for "
                             f"`x` of shape {tuple(x.shape)} (got {dim!r})")
        dim, size = int(dim) % x.ndim, _size(op, dim_size)
        n = x.shape[dim]
        if ptr is not None:
            p, _ = host_array(op, "ptr", ptr)
            if p.ndim != 1 or p.size < 1:
                raise ValueError(f"{op}: expected a 1-D `ptr` of at least one entry (got "
                                 f"shape {p.shape})")
            if int(p[0]) != 0 or int(p[-1]) != n or bool((p[1:] < p[:-1]).any()):
                raise ValueError(f"{op}: expected `ptr` non-decreasing from 0 to {n}, the size "
                                 f"of `x` along dim {dim} (got {p[0]} ... {p[-1]})")
            if size is not None and size != p.size - 1:
                raise ValueError(f"{op}: expected `dim_size` = len(ptr) - 1 = {p.size - 1} "
                                 f"(got dim_size={size})")
            size, ptr = p.size - 1, _on(p, x)
        elif index is None:
            index = _on(np.zeros(n, np.int64), x)
        if index is not None:
            b, _ = host_array(op, "index", index)
            if b.shape != (n,):
                raise ValueError(f"{op}: expected a 1-D `index` with {n} entries to match `x` "
                                 f"of shape {tuple(x.shape)} along dim {dim} (got shape "
                                 f"{b.shape})")
            if b.size and int(b.min()) < 0:
                raise ValueError(f"{op}: expected group ids >= 0 in `index` (got "
                                 f"{int(b.min())})")
            needed = int(b.max()) + 1 if b.size else 0
            if size is None:
                size = needed
            elif size < needed:
                raise ValueError(f"{op}: `index` holds ids up to {needed - 1}, which needs "
                                 f"`dim_size` >= {needed} (got dim_size={size})")
            if not (isinstance(index, Tensor) and index.device == x.device):
                index = _on(b, x)
        return x, index, ptr, size, dim

    # ---- helpers for subclasses (PyG's) ----------------------------------------------------
    def reduce(self, x: Tensor, index=None, ptr=None, dim_size: int | None = None,
               dim: int = -2, reduce: str = "sum") -> Tensor:
        """``reduce`` ("sum", "mean", "max", "min") of the groups: by ``ptr`` when given (a
        segment reduction), else by ``index``; empty groups give 0."""
        dim = dim % x.ndim
        if ptr is None:
            return scatter(x, index, dim, dim_size, reduce)
        if reduce == "mean" and x.dtype.kind in "biu":
            x = x.float()  # PyG's mean of integers is a true division
        moved = ops.movedim(x, dim, 0) if dim else x
        out = ops.segment(moved, ptr, reduce)
        return ops.movedim(out, 0, dim) if dim else out

    def group_index(self, index, ptr, n: int):
        """``index``, or the group of every slice expanded from ``ptr`` (on ptr's device)."""
        if index is not None or ptr is None:
            return index
        p = backend.to_device(ptr.array, "cpu")
        return wrap(backend.to_device(np.repeat(np.arange(p.size - 1), np.diff(p)),
                                      ptr.device))

    def assert_two_dimensional_input(self, x: Tensor, dim: int) -> None:
        """ValueError unless ``x`` is 2-D and reduced along its rows (PyG's check)."""
        if x.ndim != 2 or dim not in (-2, 0):
            raise ValueError(f"{type(self).__name__}: expected a 2-D `x` (N, F) reduced along "
                             f"dim 0 or -2 (got shape {tuple(x.shape)}, dim={dim})")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SumAggregation(Aggregation):
    r"""The sum of each group, :math:`\sum_{x_i \in \mathcal{X}} x_i` (0 when empty)."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        return self.reduce(x, index, ptr, dim_size, dim, reduce="sum")


class MeanAggregation(Aggregation):
    r"""The mean of each group, :math:`\frac{1}{|\mathcal{X}|}\sum_{x_i \in \mathcal{X}} x_i`
    (0 when empty; integers give floats)."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        return self.reduce(x, index, ptr, dim_size, dim, reduce="mean")


class MaxAggregation(Aggregation):
    """The feature-wise maximum of each group (0 when empty); the gradient goes to the first
    arg-max, as torch_scatter."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        return self.reduce(x, index, ptr, dim_size, dim, reduce="max")


class MinAggregation(Aggregation):
    """The feature-wise minimum of each group (0 when empty), as `MaxAggregation`."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        return self.reduce(x, index, ptr, dim_size, dim, reduce="min")


class VarAggregation(Aggregation):
    r"""The feature-wise (biased) variance of each group, PyG's formula
    :math:`\mathrm{mean}(x^2) - \mathrm{mean}(x)^2`, not clamped (rounding can make it a tiny
    negative number); 0 for an empty group.

    Args:
        semi_grad: compute :math:`E[x^2]` without a gradient (PyG's semi-gradient, to save
            memory). (default: False)
    """

    def __init__(self, semi_grad: bool = False):
        super().__init__()
        self.semi_grad = bool(semi_grad)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        mean = self.reduce(x, index, ptr, dim_size, dim, reduce="mean")
        if self.semi_grad:
            with no_grad():
                mean2 = self.reduce(x * x, index, ptr, dim_size, dim, reduce="mean")
        else:
            mean2 = self.reduce(x * x, index, ptr, dim_size, dim, reduce="mean")
        return mean2 - mean * mean


class StdAggregation(Aggregation):
    r"""The feature-wise standard deviation of each group, PyG's
    :math:`\sqrt{\max(\mathrm{var}, 10^{-5})}` set to 0 where it is at most
    :math:`\sqrt{10^{-5}}` (so a constant or empty group gives 0 with a zero gradient instead
    of sqrt's infinite one); ``var`` as `VarAggregation`.

    Args:
        semi_grad: as `VarAggregation`. (default: False)
    """

    def __init__(self, semi_grad: bool = False):
        super().__init__()
        self.var_aggr = VarAggregation(semi_grad)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        var = self.var_aggr(x, index, ptr, dim_size, dim)
        out = var.clamp(min=1e-5).sqrt()
        return out.masked_fill(out <= math.sqrt(1e-5), 0.0)


# ---- several aggregations at once ---------------------------------------------------------
def _normal(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def _classes() -> dict:
    """Every aggregation of sparsegraph.gnn by its lower-case name with and without the
    ``aggregation`` suffix (PyG's resolver), plus ``"add"``."""
    from sparsegraph.gnn import aggr_learned, aggr_sort, message_aggr  # noqa: F401  (built on this)

    found, todo = {"add": SumAggregation}, list(Aggregation.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith(("sparsegraph.gnn.aggr", "sparsegraph.gnn.message_aggr")):
            name = cls.__name__.lower()
            found.setdefault(name, cls)
            found.setdefault(name.removesuffix("aggregation") or name, cls)
    return found


def aggregation_resolver(query, **kwargs) -> Aggregation:
    """PyG's ``aggregation_resolver``: an Aggregation as is, or a name (``"sum"``, ``"add"``,
    ``"std"``, ``"softmax"``, ``"PowerMeanAggregation"``, any case, ``_`` / ``-`` ignored)
    built with ``kwargs``."""
    if isinstance(query, Aggregation):
        return query
    classes = _classes()
    if isinstance(query, str) and _normal(query) in classes:
        return classes[_normal(query)](**kwargs)
    short = sorted(k for k in classes if not k.endswith("aggregation"))
    raise ValueError(f"aggregation_resolver: expected an Aggregation or one of {short} (got "
                     f"{query!r})")


DENSE_MODES = ("sum", "mean", "max", "min", "logsumexp", "std", "var")


class MultiAggregation(Aggregation):
    """Several aggregations of the same input, combined (PyG's ``MultiAggregation``).

    Args:
        aggrs: a non-empty list of Aggregations or names (`aggregation_resolver`).
        aggrs_kwargs: one dict of constructor arguments per entry of ``aggrs``.
        mode: how the outputs combine: ``"cat"`` (along the last axis), ``"proj"`` (cat,
            then a ``Linear(sum(in_channels), out_channels, **mode_kwargs)`` named ``lin``),
            or one of ``"sum"``, ``"mean"``, ``"max"``, ``"min"``, ``"logsumexp"``, ``"std"``
            (torch's unbiased), ``"var"`` over the stacked outputs. PyG's ``"attn"``
            (multi-head attention) is not supported. (default: ``"cat"``)
        mode_kwargs: ``in_channels`` (an int for every aggregation, or a list) and
            ``out_channels`` for ``"proj"``; the rest goes to the Linear.

    Raises:
        ValueError: an empty or non-list ``aggrs``, ``aggrs_kwargs`` of another length, an
            unknown ``mode``, ``"proj"`` with one aggregation or without the channels.
        NotImplementedError: ``mode="attn"``.
    """

    def __init__(self, aggrs, aggrs_kwargs=None, mode: str = "cat", mode_kwargs=None):
        super().__init__()
        op = "MultiAggregation"
        if not isinstance(aggrs, list | tuple) or not aggrs:
            raise ValueError(f"{op}: expected `aggrs` to be a non-empty list or tuple (got "
                             f"{aggrs!r})")
        if aggrs_kwargs is None:
            aggrs_kwargs = [{}] * len(aggrs)
        elif len(aggrs_kwargs) != len(aggrs):
            raise ValueError(f"{op}: expected `aggrs_kwargs` with one dict per aggregation "
                             f"({len(aggrs)}) (got {len(aggrs_kwargs)})")
        self.aggrs = ModuleList([aggregation_resolver(a, **kw)
                                 for a, kw in zip(aggrs, aggrs_kwargs, strict=True)])
        if mode == "attn":
            raise NotImplementedError(f"{op}: mode='attn' (PyG's multi-head attention "
                                      "combine) is not supported; use 'cat', 'proj' or one of "
                                      f"{DENSE_MODES}")
        if mode not in ("cat", "proj") + DENSE_MODES:
            raise ValueError(f"{op}: expected `mode` 'cat', 'proj' or one of {DENSE_MODES} "
                             f"(got {mode!r})")
        self.mode = mode
        mode_kwargs = copy.copy(mode_kwargs) or {}
        self.in_channels = mode_kwargs.pop("in_channels", None)
        self.out_channels = mode_kwargs.pop("out_channels", None)
        if mode == "proj":
            if len(self.aggrs) == 1:
                raise ValueError(f"{op}: mode 'proj' combines several aggregations (got one)")
            if self.in_channels is None or self.out_channels is None:
                raise ValueError(f"{op}: mode 'proj' needs `in_channels` and `out_channels` "
                                 f"in `mode_kwargs` (got {self.in_channels!r} and "
                                 f"{self.out_channels!r})")
            if isinstance(self.in_channels, Integral):
                self.in_channels = [int(self.in_channels)] * len(self.aggrs)
            self.lin = Linear(sum(self.in_channels), self.out_channels, **mode_kwargs)

    def reset_parameters(self) -> None:
        """Reset every aggregation and the projection."""
        for aggr in self.aggrs:
            aggr.reset_parameters()
        if self.mode == "proj":
            self.lin.reset_parameters()

    def get_out_channels(self, in_channels: int) -> int:
        """The output width for ``in_channels`` input features (PyG's)."""
        if self.out_channels is not None:
            return self.out_channels
        return in_channels * len(self.aggrs) if self.mode == "cat" else in_channels

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        return self.combine([aggr(x, index, ptr, dim_size, dim) for aggr in self.aggrs])

    def combine(self, inputs: list) -> Tensor:
        """The outputs of ``aggrs`` combined by ``mode``."""
        if len(inputs) == 1:
            return inputs[0]
        if self.mode == "cat":
            return ops.cat(inputs, dim=-1)
        if self.mode == "proj":
            return self.lin(ops.cat(inputs, dim=-1))
        stacked = ops.stack(inputs, dim=0)
        if self.mode in ("max", "min"):
            return getattr(ops, self.mode)(stacked, dim=0)[0]
        return getattr(ops, self.mode)(stacked, dim=0)

    def __repr__(self) -> str:
        aggrs = ",\n".join(f"  {aggr}" for aggr in self.aggrs) + ",\n"
        return f"{type(self).__name__}([\n{aggrs}], mode={self.mode})"


# PyG's namespace torch_geometric.nn.aggr: the aggregations built on this module (which import
# it) are read from here too, on first use
_ELSEWHERE = {"AttentionalAggregation": "aggr_learned", "GlobalAttention": "aggr_learned",
              "PowerMeanAggregation": "aggr_learned", "Set2Set": "aggr_learned",
              "SoftmaxAggregation": "aggr_learned", "SortAggregation": "aggr_sort",
              "MulAggregation": "message_aggr"}


def __getattr__(name: str):
    if name not in _ELSEWHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"sparsegraph.gnn.{_ELSEWHERE[name]}"), name)
