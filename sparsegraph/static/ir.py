"""The static-graph IR: `Value` (a tensor edge), `Node` (an op call) and `StaticGraph`.

A node's arguments are kept as a *template*: the call's positional and keyword arguments with
every tensor replaced by a `Ref` to a Value and every sparse tensor by a `SparseRef` (its
structure is a constant, its values a Value). Running a node rebuilds the arguments from the
template and calls the op's own ``forward`` (or ``backward``), so the kernels are the registry's,
exactly as in eager mode.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

_ids = itertools.count()


@dataclass(eq=False)
class Value:
    """A tensor flowing along the graph: shape, dtype, device, and where it comes from.

    ``kind``: "input" (a traced positional input), "param" (a leaf that requires grad, bound by
    reference so optimizer updates are seen), "const" (any other tensor read, bound by
    reference) or "op" (the output of a node). ``mutable``: a const whose values may change
    between calls (a module buffer such as BatchNorm's running statistics, or a tensor the
    graph itself writes in place): read by reference on every call, never folded by a pass.
    """

    kind: str
    shape: tuple
    dtype: np.dtype
    device: str = "cpu"
    producer: Node | None = None
    index: int = 0  # which output of the producer
    tensor: object = None  # the bound Tensor of an input / param / const
    name: str = ""
    structure: object = None  # a sparse input's structure: the graph is only valid for it
    mutable: bool = False
    version: int | None = None  # a bound tensor's version when the trace bound it
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def label(self) -> str:
        return self.name or f"%{self.id}"

    @property
    def fixed(self) -> bool:
        """A constant whose values a pass may compute with once (fold, scale, prune)."""
        return self.kind == "const" and not self.mutable

    def __repr__(self) -> str:
        return f"{self.label()}: {self.dtype}{list(self.shape)}"


@dataclass(eq=False)
class HostRead:
    """Python read a bound tensor's values on the host during the trace (``what``: e.g. an
    edge_index turned into a CSR structure), so the graph holds what was built from them.

    ``position``: which graph input it is (None for a constant); ``version`` and ``array``:
    the tensor's when read; ``copy``: an input's values when read (a call with other values
    needs another trace)."""

    what: str
    tensor: object
    version: int
    array: object
    position: int | None = None
    copy: object = None

    def holds(self, t) -> bool:
        """Whether tensor ``t`` (this input's slot in a call) holds the values read: the very
        tensor, unchanged (no compare), or an array equal to the copy."""
        if t is self.tensor and t._version[0] == self.version and t.array is self.array:
            return True
        a, copy = t.array, self.copy
        return a.shape == copy.shape and a.dtype == copy.dtype and bool((a == copy).all())


@dataclass(frozen=True)
class Ref:
    """A dense tensor argument."""

    value: Value


@dataclass(frozen=True)
class ArrayRef(Ref):
    """A traced tensor passed to an op as its raw array (an index, a mask): the op reads the
    Value's array, so a new input's index is used, not the traced one's."""


@dataclass(frozen=True)
class GradRef(Ref):
    """A graph output that is ``value.grad`` (a parameter's gradient), read after the run."""


@dataclass(frozen=True)
class SparseRef:
    """A sparse tensor argument: its (constant) structure plus its values Value."""

    structure: object
    values: Value


@dataclass(eq=False)
class Node:
    """One op call. ``kind``: "forward" (an op's forward), "backward" (the backward of
    ``forward``, its dual), "sum" (adds gradient contributions), "accumulate" (adds a gradient
    into ``.grad``), "effect" (optimizer zero_grad / step), "read_grad" (reads the live
    ``.grad`` of its argument at its place in the step) or "backward_root" (a recorded
    ``.backward()``, expanded by `backward_graph`). ``fn`` is the Function class (forward and
    backward nodes), a bound method (effects) or None; ``attrs`` holds what the passes and the
    display need."""

    kind: str
    op: str
    fn: object
    args: tuple
    kwargs: dict
    outputs: list
    attrs: dict = field(default_factory=dict)
    forward: Node | None = None  # the forward node of a backward node
    id: int = field(default_factory=lambda: next(_ids))

    def inputs(self) -> list[Value]:
        """The Values this node reads, in argument order (each once)."""
        seen: dict[int, Value] = {}
        for item in iter_refs((self.args, self.kwargs)):
            v = item.value if isinstance(item, Ref) else item.values
            seen.setdefault(v.id, v)
        for v in self.attrs.get("extra_inputs", ()):
            seen.setdefault(v.id, v)
        return list(seen.values())

    @property
    def pure(self) -> bool:
        """Free of side effects and randomness: may be merged, folded or removed."""
        return self.kind in ("forward", "sum") and not getattr(self.fn, "random", False) and (
            not self.attrs.get("inplace"))

    def __repr__(self) -> str:
        return f"<Node {self.op} #{self.id}>"


def iter_leaves(template, kinds):
    """Every instance of ``kinds`` inside a template (nested tuples, lists, dicts)."""
    if isinstance(template, kinds):
        yield template
    elif isinstance(template, tuple | list):
        for item in template:
            yield from iter_leaves(item, kinds)
    elif isinstance(template, dict):
        for item in template.values():
            yield from iter_leaves(item, kinds)


def iter_refs(template):
    """Every `Ref` / `SparseRef` inside a template (nested tuples, lists, dicts)."""
    return iter_leaves(template, Ref | SparseRef)


def map_refs(template, fn):
    """A copy of ``template`` with every `Ref` / `SparseRef` replaced by ``fn(ref)``."""
    if isinstance(template, Ref | SparseRef):
        return fn(template)
    if isinstance(template, tuple):
        return tuple(map_refs(item, fn) for item in template)
    if isinstance(template, list):
        return [map_refs(item, fn) for item in template]
    if isinstance(template, dict):
        return {k: map_refs(item, fn) for k, item in template.items()}
    return template


def substitute(template, mapping: dict):
    """Replace Values in a template: ``mapping`` is value id -> Value."""

    def swap(ref):
        if isinstance(ref, Ref):  # ArrayRef / GradRef stay what they are
            return type(ref)(mapping.get(ref.value.id, ref.value))
        return SparseRef(ref.structure, mapping.get(ref.values.id, ref.values))

    return map_refs(template, swap)
