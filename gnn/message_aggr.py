"""`MessagePassing`'s aggregation: resolving PyG's ``aggr`` / ``aggr_kwargs`` into a module,
PyG's `MulAggregation`, and the built-in reductions the message-passing paths share.

PyG's ``MessagePassing(aggr, *, aggr_kwargs=None)`` builds ``aggr_module`` with
``aggregation_resolver(aggr, **aggr_kwargs)``: a name (``"sum"``, ``"softmax"``, ...) is
built with the keywords, an `Aggregation` instance is taken as is, and a list (names and
instances mixed) becomes a `MultiAggregation` with the keywords (``aggrs_kwargs``, ``mode``,
``mode_kwargs``). `resolve_aggr` does the same, and also splits the module into the entries
the layer reduces one by one: the plain reductions (sum, mean, max, min, mul, as names or as
instances of exactly those classes) become names, so sum and mean keep the fused spmm path
and share one pass; any other aggregation stays a module, called PyG's way on the messages.
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import ones
from sparsegraph.gnn.aggr import (
    Aggregation,
    MaxAggregation,
    MeanAggregation,
    MinAggregation,
    MultiAggregation,
    SumAggregation,
    _classes,
    aggregation_resolver,
)
from sparsegraph.tensor import Tensor

__all__ = ["MulAggregation", "resolve_aggr"]

AGGRS = ("sum", "mean", "max", "min", "mul")


class MulAggregation(Aggregation):
    r"""The feature-wise product of each group, :math:`\prod_{x_i \in \mathcal{X}} x_i`
    (PyG's ``MulAggregation``); 1 for an empty group, as PyG's ``scatter(reduce="mul")``.
    Unlike PyG's it also takes a CSR ``ptr``. Its gradient is exact with zeros among the
    factors (the product of the other members)."""

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        dim = dim % x.ndim
        moved = ops.movedim(x, dim, 0) if dim else x
        out = product(moved, ptr, index, dim_size)
        return ops.movedim(out, 0, dim) if dim else out


# the plain reductions, by exact class: a subclass may compute something else
_NAMES = {SumAggregation: "sum", MeanAggregation: "mean", MaxAggregation: "max",
          MinAggregation: "min", MulAggregation: "mul"}


def _normal(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def _bad_aggr(op: str, got) -> ValueError:
    others = sorted(k for k in _classes()
                    if not k.endswith("aggregation") and k not in (*AGGRS, "add"))
    return ValueError(f"{op}: expected `aggr` in {AGGRS} (got {got!r}), or another aggregation "
                      f"name of sparsegraph.gnn.aggr.aggregation_resolver ({', '.join(others)}), "
                      f"an Aggregation, a list of them, or None")


def _resolve_one(op: str, query, kwargs: dict) -> Aggregation:
    """One entry of ``aggr``: an Aggregation as is (PyG ignores the keywords then), or a name
    built with ``kwargs``."""
    if isinstance(query, Aggregation):
        return query
    if not isinstance(query, str):
        raise _bad_aggr(op, query)
    try:
        if _normal(query) in ("mul", "mulaggregation"):
            return MulAggregation(**kwargs)
        return aggregation_resolver(query, **kwargs)
    except ValueError as exc:
        if str(exc).startswith("aggregation_resolver:"):
            raise _bad_aggr(op, query) from None
        raise
    except TypeError as exc:
        raise TypeError(f"{op}: `aggr_kwargs` {sorted(kwargs)} do not fit aggregation "
                        f"{query!r}: {exc}") from None


def resolve_aggr(op: str, aggr, aggr_kwargs) -> tuple:
    """``(aggr_str, aggr_module, entries)`` for ``MessagePassing(aggr, aggr_kwargs=...)``.

    ``aggr_str`` is PyG's ``self.aggr``: a name as given (``"add"`` stays ``"add"``), an
    instance's ``str``, a list (or tuple) as the list of its entries' ``str``.
    ``aggr_module`` is PyG's: the resolved Aggregation, a `MultiAggregation` for a list.
    ``entries``: what the layer reduces, in order, a name from `AGGRS` for a plain reduction
    and the module otherwise (the members of a `MultiAggregation`, whose ``combine`` joins
    their outputs).

    Raises:
        ValueError: an unknown name, an entry neither a name nor an Aggregation, an empty
            list, ``aggrs_kwargs`` of another length than the list.
        TypeError: ``aggr_kwargs`` not a dict, or keywords the aggregation does not take.
    """
    if aggr_kwargs is None:
        aggr_kwargs = {}
    if not isinstance(aggr_kwargs, dict):
        raise TypeError(f"{op}: expected `aggr_kwargs` to be a dict or None (got "
                        f"{type(aggr_kwargs).__name__})")
    if isinstance(aggr, str | Aggregation):
        text, module = str(aggr), _resolve_one(op, aggr, aggr_kwargs)
    elif isinstance(aggr, list | tuple):
        if not aggr:
            raise ValueError(f"{op}: expected at least one aggregation in `aggr`")
        text, kwargs = [str(a) for a in aggr], dict(aggr_kwargs)
        per = kwargs.pop("aggrs_kwargs", None) or [{}] * len(aggr)
        if not isinstance(per, list | tuple) or len(per) != len(aggr):
            raise ValueError(f"{op}: expected `aggr_kwargs['aggrs_kwargs']` with one dict per "
                             f"aggregation in `aggr` ({len(aggr)}) (got {per!r})")
        members = [_resolve_one(op, a, dict(kw or {})) for a, kw in zip(aggr, per, strict=True)]
        try:
            module = MultiAggregation(members, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{op}: `aggr_kwargs` {sorted(kwargs)} do not fit "
                            f"MultiAggregation (aggrs_kwargs, mode, mode_kwargs): {exc}") from None
    else:
        raise _bad_aggr(op, aggr)
    members = list(module.aggrs) if type(module) is MultiAggregation else [module]
    return text, module, [_NAMES.get(type(m), m) for m in members]


def combine(module, outs: list) -> Tensor:
    """The outputs of the entries joined as ``module`` joins them: a `MultiAggregation`'s
    ``combine`` (``mode``), else concatenated on the feature axis."""
    if type(module) is MultiAggregation:
        return module.combine(outs)
    return outs[0] if len(outs) == 1 else ops.cat(outs, dim=-1)


def reduce_by(messages: Tensor, aggr, ptr=None, index=None, dim_size=None) -> Tensor:
    """One entry of the aggregation over ``messages`` (axis 0): by the CSR row pointer
    ``ptr`` (messages sorted by target), else by the target ``index`` into ``dim_size``
    rows. A module is called PyG's way, ``aggr(messages, index, ptr=ptr,
    dim_size=dim_size, dim=0)``."""
    if isinstance(aggr, Aggregation):
        return aggr(messages, index, ptr=ptr, dim_size=dim_size, dim=0)
    if aggr == "mul":
        return product(messages, ptr, index, dim_size)
    if ptr is not None:
        return ops.segment(messages, ptr, aggr)
    return ops.scatter(messages, index, dim_size, aggr)


def product(messages: Tensor, ptr, index, dim_size) -> Tensor:
    """PyG's MulAggregation: the product of each target's messages, 1 for a target without
    any (PyG's ``scatter(reduce="mul")``). After grouping by target (a stable sort when only
    ``index`` is given), ``ceil(log2(max in-degree))`` rounds multiply every message by the
    partial product ``step`` places on within its target's run, so each target's first
    message ends up holding the product: O(E log d) work, and every step is a product with
    its exact gradient (zeros included)."""
    xp = backend.xp_of(messages.array)
    if ptr is None:
        idx = index.array if isinstance(index, Tensor) else xp.asarray(index)
        n = (int(idx.max()) + 1 if idx.size else 0) if dim_size is None else int(dim_size)
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
            raise ValueError(f"aggregate(aggr='mul'): expected `index` entries in [0, {n}) "
                             f"(got {int(idx.min()) if int(idx.min()) < 0 else int(idx.max())})")
        order = xp.argsort(idx, kind="stable") if xp is np else xp.argsort(idx)
        messages = ops.gather_rows(messages, order)
        ptr = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(xp.bincount(idx, minlength=n))])
    else:
        ptr = ptr.array if isinstance(ptr, Tensor) else xp.asarray(ptr)
    e, counts = messages.shape[0], xp.diff(ptr)
    pos = xp.arange(e, dtype=ptr.dtype)
    end = ptr[xp.searchsorted(ptr, pos, side="right")]  # one past each edge's target run
    one = ones((1,) + tuple(messages.shape[1:]), dtype=messages.dtype, device=messages.device)
    step, longest = 1, int(counts.max()) if counts.size else 0
    while step < longest:
        partner = pos + step
        messages = messages * ops.gather_rows(ops.cat([messages, one]),
                                              xp.where(partner < end, partner, e))
        step *= 2
    return ops.gather_rows(ops.cat([messages, one]), xp.where(counts > 0, ptr[:-1], e))
