"""What a captured graph assumes of the tensors and modules it binds (beyond its arguments,
which `compile` keys on): checked before every replay, so a change traces again instead of
running a graph that no longer says what the function does.

- each bound leaf keeps its ``requires_grad`` (a frozen parameter gets no gradient, a constant
  that starts requiring grad gets one) and has no gradient hook (the replay would skip it);
- each bound parameter, buffer and constant keeps its dtype, shape and device
  (``Module.double()`` / ``.to()`` keep the Parameter objects and swap their arrays: the
  new trace then runs the ops eagerly, with their checks);
- the sparse-vs-dense setting (`sparsegraph.ops.spmm_mode` in the calling thread, the memory
  budget, the cost table) stays what it was when the trace (eager ``A @ X`` or the dense pass)
  chose between sparse and dense: under another the choice may differ;
- each Module called during the trace keeps its train / eval mode and the very objects it
  holds as parameters, buffers and child modules (``m.weight = Parameter(...)`` replaces the
  tensor the graph reads);
- each fixed constant (a pass may have computed with its values once: folding, scaling,
  densifying) keeps its version and its array, i.e. nothing changed it in place and no
  ``t.data = ...`` gave it new values (that swaps the array without moving the version, as
  in PyTorch, so the array is compared by identity); and each raw array a pass
  read once (`StaticGraph.assumed`: a row index or mask given to ``x[idx]`` as a numpy array
  or an index tensor, which reaches the op as its array) keeps its values, compared with a copy
  (a numpy array has no version counter); so does each raw array whose values Python read on
  the host while tracing (`sparsegraph.tensor.host_values`), and each constant tensor read so
  keeps its version and array;
- each input whose values Python read on the host (an edge_index built into a CSR structure)
  holds the values read, in every call: the traced tensor unchanged, or equal values.
"""

from __future__ import annotations

import functools
from operator import is_

import numpy as np

from sparsegraph.ops.cost_model import decision_state
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor

# the hook stores too: a forward hook registered after the trace re-traces (and is refused by
# the tracer) instead of being skipped by the replay
_STORES = ("_parameters", "_buffers", "_modules", "_forward_pre_hooks", "_forward_hooks",
           "_backward_pre_hooks", "_backward_hooks")


def _guarded(obj) -> bool:
    """Objects a step reads through a global or closure name whose identity is guarded: the
    tensors and containers of tensors a graph binds by reference (a cheap `is` per call)."""
    from sparsegraph.graph import Graph
    from sparsegraph.nn.module import Module

    return isinstance(obj, Tensor | SparseTensor | np.ndarray | Module | Graph) or hasattr(
        obj, "param_groups")  # an optimizer


def free_names(fn) -> list[tuple]:
    """``(namespace, name)`` for each global and closure variable ``fn``'s own code reads
    (a dict and a key, or a closure cell and its name); helpers it calls are not inspected."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    fn = getattr(fn, "__func__", fn)  # a bound method
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    namespace = fn.__globals__
    names = [(namespace, n) for n in code.co_names if n in namespace]
    return names + list(zip(fn.__closure__ or (), code.co_freevars, strict=True))


def _read(namespace, name):
    if isinstance(namespace, dict):
        return namespace.get(name)
    try:
        return namespace.cell_contents
    except ValueError:  # an empty cell (a name assigned later)
        return None


def bound_objects(names: list[tuple]) -> list[tuple]:
    """``(namespace, name, object)`` for the guarded objects ``names`` hold now."""
    return [(ns, n, obj) for ns, n in names if _guarded(obj := _read(ns, n))]


def entry_modes(bound: list[tuple], known: dict) -> dict:
    """id -> training flag, at call entry, of the modules reachable from the bound objects and
    of ``known`` (modules earlier traces called): the modes a replay will start from."""
    from sparsegraph.nn.module import Module

    modes = {k: m.training for k, m in known.items()}
    for _, _, obj in bound:
        if isinstance(obj, Module):
            modes.update((id(m), m.training) for m in obj.modules())
    return modes


class Assumptions:
    def __init__(self, graph, modes: list, entry: dict | None = None, bound=()):
        """``graph``: the traced graph (before passes); ``modes``: (module, training flag when
        first called); ``entry``: module id -> flag at call entry where known (`entry_modes`);
        ``bound``: `bound_objects` at call entry."""
        entry = entry or {}
        # the mode a replay must start from: the entry mode where known (a step may call
        # m.train() itself, then the mode at first use says nothing of the entry), else the
        # mode at first use
        self.modes = [(m, entry.get(id(m), flag)) for m, flag in modes]
        # what the step leaves behind (m.eval() at its end): set again after each replay
        self.restore = [(m, m.training) for m, flag in self.modes if m.training != flag]
        self.bound = list(bound)
        # `cost_model.decision_state()` when the trace chose sparse or dense (else None)
        self.decisions: tuple | None = None
        bound = [v for v in graph.values()
                 if v.kind in ("param", "const") and isinstance(v.tensor, Tensor)]
        self.leaves = [(v.tensor, v.tensor.requires_grad) for v in bound
                       if v.tensor.grad_fn is None]
        # `Module.to()` / `.double()` keep the Parameter objects and swap their arrays: the
        # dtype, shape and device the graph was traced with (the array itself: a fast path)
        self.layouts = [(v.tensor, v.tensor.array, v.tensor.dtype, tuple(v.tensor.shape),
                         v.tensor.device) for v in bound]
        # the array too: `t.data = other` swaps it without moving the version (as in PyTorch)
        self.versions = [(v.tensor, v.tensor._version[0], v.tensor.array) for v in bound
                         if v.fixed]
        self.arrays: list = []
        # values read on the host while tracing (`StaticGraph.reads`): an input's must hold in
        # each call (else another variant); a constant's version and array, as a fixed one's
        self.inputs = [r for r in graph.reads if r.position is not None]
        self.versions += [(r.tensor, r.version, r.array) for r in graph.reads
                          if r.position is None]
        # (store dict, its objects in order): compared by identity, in order (a key removed
        # and added again re-traces, harmlessly)
        self.members = [(m.__dict__[store], tuple(m.__dict__[store].values()))
                        for m, _ in modes for store in _STORES]

    def assume_arrays(self, arrays) -> None:
        """Guard the values of ``arrays`` (the optimised graph's `StaticGraph.assumed`)."""
        unique = {id(a): a for a in arrays}.values()
        self.arrays = [(a, a.copy()) for a in unique]

    def current(self) -> bool:
        """False once a fixed constant changed in place or was given another array
        (``t.data = ...``), or an assumed array changed in place: this graph is stale for
        good."""
        for t, version, array in self.versions:
            if t._version[0] != version or t.array is not array:
                return False
        for a, copy in self.arrays:
            if a.shape != copy.shape or not (a == copy).all():
                return False
        return True

    def inputs_hold(self, tensors: list) -> bool:
        """Whether the call's ``tensors`` hold the values the trace read on the host."""
        for read in self.inputs:
            x = tensors[read.position]
            if not read.holds(x.values if isinstance(x, SparseTensor) else x):
                return False
        return True

    def hold(self) -> bool:
        """Whether the modes, sparse-vs-dense setting, members and leaves (their
        requires_grad, hooks, dtype, shape and device) are as traced (they may switch back)."""
        if self.decisions is not None and decision_state() != self.decisions:
            return False
        if not all(m.training == mode for m, mode in self.modes):
            return False
        for namespace, name, obj in self.bound:  # a global or closure name rebound
            if _read(namespace, name) is not obj:
                return False
        for store, objects in self.members:
            if len(store) != len(objects) or not all(map(is_, store.values(), objects)):
                return False
        for t, array, dtype, shape, device in self.layouts:
            if t.array is not array and (t.dtype != dtype or t.shape != shape
                                         or t.device != device):
                return False
        for t, flag in self.leaves:
            acc = t._accumulator
            if t.requires_grad != flag or (acc is not None and acc.hooks):
                return False
        return True
