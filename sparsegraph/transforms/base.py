"""`BaseTransform` and `Compose`, PyG's ``torch_geometric.transforms`` base, plus the argument
checks and host helpers the transforms share.

A transform is a callable ``Graph -> Graph`` (`RandomLinkSplit`: a tuple of three). As PyG's
``BaseTransform.__call__`` does, the graph is shallow-copied (``copy.copy``) before
``forward`` sees it, and every transform here builds its result from Graph's own methods,
which return new graphs: the caller's graph is never changed.
"""

from __future__ import annotations

import copy

import numpy as np

from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.graph import Graph
from sparsegraph.tensor import Tensor, wrap


class BaseTransform:
    """Base class of the graph transforms (PyG's ``BaseTransform``): subclasses implement
    ``forward(data) -> data``; calling the transform runs ``forward`` on a shallow copy of
    the graph, so setting an attribute there never reaches the caller's graph.

    Example:
        >>> class AddOnes(BaseTransform):
        ...     def forward(self, data):
        ...         data.ones = sg.ones(data.num_nodes)
        ...         return data
        >>> AddOnes()
        AddOnes()

    Raises:
        TypeError: a call with anything but a `sparsegraph.Graph`, naming the transform.
    """

    def __call__(self, data):
        check_graph(type(self).__name__, data)
        return self.forward(copy.copy(data))

    def forward(self, data):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of BaseTransform "
                                  "implement forward(data)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose(BaseTransform):
    """Several transforms in order (PyG's ``Compose``): ``Compose([A(), B()])(g)`` is
    ``B()(A()(g))``. When a transform returns a tuple or list of graphs (`RandomLinkSplit`),
    the later ones are applied to each, as in PyG.

    Args:
        transforms: a list (or tuple) of callables.

    Raises:
        TypeError: ``transforms`` that is not a list / tuple, or an element that is not
            callable (naming its position).
    """

    def __init__(self, transforms):
        if not isinstance(transforms, list | tuple):
            raise TypeError(f"Compose: expected `transforms` to be a list of transforms (got "
                            f"{type(transforms).__name__} {transforms!r})")
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: expected callable transforms (got "
                                f"{type(t).__name__} {t!r} at position {i})")
        self.transforms = list(transforms)

    def __call__(self, data):
        return self.forward(data)  # each transform copies for itself

    def forward(self, data):
        for transform in self.transforms:
            if isinstance(data, list | tuple):
                data = [transform(d) for d in data]
            else:
                data = transform(data)
        return data

    def __repr__(self) -> str:
        args = ",\n".join(f"  {t}" for t in self.transforms)
        return f"{type(self).__name__}([\n{args}\n])"


# ---- shared checks and helpers ------------------------------------------------------------------
class ToDevice(BaseTransform):
    """Move the graph's tensors to ``device`` (PyG's ``ToDevice``): all of them, or the
    attributes named in ``attrs`` (`Graph.to`).

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a `sparsegraph.device` or an int.
        attrs: attribute names to move (default: every one).
        non_blocking: accepted for PyG's signature (copies complete before `to` returns).
    """

    def __init__(self, device, attrs=None, non_blocking: bool = False):
        from sparsegraph import backend

        self.device = backend.normalize_device(device)
        self.attrs = list(attrs or [])
        if not all(isinstance(a, str) for a in self.attrs):
            raise TypeError(f"ToDevice: expected `attrs` to be attribute names (got {attrs!r})")
        self.non_blocking = check_bool("ToDevice", "non_blocking", non_blocking)

    def forward(self, data):
        return data.to(self.device, *self.attrs, non_blocking=self.non_blocking)

    def __repr__(self) -> str:
        return f"ToDevice({self.device})"


def check_graph(op: str, data) -> Graph:
    if not isinstance(data, Graph):
        raise TypeError(f"{op}: expected a sparsegraph Graph (got {type(data).__name__})")
    return data


def check_bool(op: str, name: str, value) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{op}: expected `{name}` to be True or False (got "
                        f"{type(value).__name__} {value!r})")
    return bool(value)


def check_int(op: str, name: str, value, low: int = 0) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{op}: expected `{name}` to be an int (got {type(value).__name__} "
                        f"{value!r})")
    if value < low:
        raise ValueError(f"{op}: expected `{name}` >= {low} (got {value})")
    return int(value)


def check_count(op: str, name: str, value):
    """An int >= 0 (a count) or a float in [0, 1] (a fraction), as PyG's ``num_val``."""
    if isinstance(value, float | np.floating):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{op}: expected `{name}` as a fraction in [0, 1] or an int count "
                             f"(got {value})")
        return float(value)
    return check_int(op, name, value)


def check_str(op: str, name: str, value, allowed) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{op}: expected `{name}` in {tuple(allowed)} (got {value!r})")
    return value


def random_state(op: str, seed, generator) -> np.random.Generator:
    """The numpy generator a random transform draws from: a fresh one seeded with ``seed``
    (the same draw every call), else ``generator``'s (a `sparsegraph.Generator`), else the
    global one of `sparsegraph.manual_seed`, as PyG draws from torch's."""
    if seed is not None:
        if generator is not None:
            raise TypeError(f"{op}: expected `seed` or `generator`, not both")
        return np.random.default_rng(check_int(op, "seed", seed))
    try:
        return rng_of(generator)
    except TypeError as exc:
        raise TypeError(f"{op}: {exc}") from None


def host_edge_index(g: Graph) -> np.ndarray:
    """``g.edge_index`` as a host int64 array (row 0 source, row 1 target, CSR order)."""
    return np.asarray(backend.to_device(g.edge_index, "cpu")).astype(np.int64)


def on_graph(array: np.ndarray, g: Graph) -> Tensor:
    """A host array as a Tensor on the device of ``g``'s adjacency."""
    t = wrap(array)
    device = g.adj.device
    return t if device == "cpu" else t.to(device)
