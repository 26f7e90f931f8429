"""What a captured graph assumes of the tensors and modules it binds (beyond its arguments,
which `compile` keys on): checked before every replay, so a change traces again instead of
running a graph that no longer says what the function does.

- each bound leaf keeps its ``requires_grad`` (a frozen parameter gets no gradient, a constant
  that starts requiring grad gets one) and has no gradient hook (the replay would skip it);
- each Module called during the trace keeps its train / eval mode and the very objects it
  holds as parameters, buffers and child modules (``m.weight = Parameter(...)`` replaces the
  tensor the graph reads);
- each fixed constant (a pass may have computed with its values once: folding, scaling,
  densifying) keeps its version, i.e. nothing changed it in place.
"""

from __future__ import annotations

from sparsegraph.tensor import Tensor

_STORES = ("_parameters", "_buffers", "_modules")


class Assumptions:
    def __init__(self, graph, modes: list):
        """``graph``: the traced graph (before passes); ``modes``: (module, training flag)."""
        self.modes = modes
        bound = [v for v in graph.values()
                 if v.kind in ("param", "const") and isinstance(v.tensor, Tensor)]
        self.leaves = [(v.tensor, v.tensor.requires_grad) for v in bound
                       if v.tensor.grad_fn is None]
        self.versions = [(v.tensor, v.tensor._version[0]) for v in bound if v.fixed]
        self.members = [(m.__dict__[store], tuple(m.__dict__[store].items()))
                        for m, _ in modes for store in _STORES]

    def current(self) -> bool:
        """False once a fixed constant changed in place: this graph is stale for good."""
        return all(t._version[0] == version for t, version in self.versions)

    def hold(self) -> bool:
        """Whether the modes, members and leaves are as traced (they may switch back)."""
        if not all(m.training == mode for m, mode in self.modes):
            return False
        for store, items in self.members:
            if len(store) != len(items) or any(store.get(k) is not o for k, o in items):
                return False
        for t, flag in self.leaves:
            acc = t._accumulator
            if t.requires_grad != flag or (acc is not None and acc.hooks):
                return False
        return True
