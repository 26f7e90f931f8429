"""Layer 1, clean-up passes: dead-code elimination, common-subexpression elimination and
constant folding. Each is a pure ``StaticGraph -> StaticGraph`` function (it transforms a copy)
and appends what it did to ``graph.notes``."""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Context
from sparsegraph.autograd.grad_mode import no_grad
from sparsegraph.backend import device_type
from sparsegraph.ops.index import GetItem
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.ir import Node, Ref, SparseRef, Value, iter_leaves, substitute
from sparsegraph.static.runtime import _as_tensor, _getter


def replace_uses(graph: StaticGraph, mapping: dict[int, Value]) -> None:
    """Make every reader of value ``k`` read ``mapping[k]`` instead (in place, on a copy)."""
    for node in graph.nodes:
        node.args = substitute(node.args, mapping)
        node.kwargs = substitute(node.kwargs, mapping)
        for key in ("extra_inputs", "saved"):
            if key in node.attrs:
                node.attrs[key] = [mapping.get(v.id, v) for v in node.attrs[key]]
    graph.outputs = substitute(graph.outputs, mapping)


def _is_root(node: Node) -> bool:
    # NOTE: random ops stay even when unused: dropping one would shift the random stream that
    # every later dropout draws from, and the graph would no longer match eager mode
    return node.kind in ("effect", "accumulate", "backward_root") or bool(
        node.attrs.get("inplace")) or getattr(node.fn, "random", False)


def eliminate_dead_code(graph: StaticGraph) -> StaticGraph:
    """Drop nodes none of whose outputs reach an output or a side effect."""
    g = graph.copy()
    used = {v.id for v in g.output_values()}
    keep = []
    for node in reversed(g.nodes):
        if _is_root(node) or any(v is not None and v.id in used for v in node.outputs):
            keep.append(node)
            used.update(v.id for v in node.inputs())
            if node.forward is not None:
                used.update(v.id for v in node.forward.outputs if v is not None)
    removed = len(g.nodes) - len(keep)
    alive = {n.id for n in keep}
    g.nodes = [n for n in g.nodes if n.id in alive]
    for n in g.nodes:  # a forward node whose backward node died keeps no context
        if n.attrs.get("has_backward") and not any(
                m.forward is n for m in g.nodes if m.kind == "backward"):
            n.attrs["has_backward"] = False
    g.notes.append(f"dead-code elimination: removed {removed} nodes")
    return g


def _key(obj):
    """A hashable key for a template, or raise TypeError when it has none."""
    if isinstance(obj, Ref):  # a Ref, an ArrayRef (raw array) or a GradRef are different reads
        return (type(obj).__name__, obj.value.id)
    if isinstance(obj, SparseRef):
        return ("sparse", id(obj.structure), obj.values.id)
    if isinstance(obj, tuple | list):
        return (type(obj).__name__, *(_key(o) for o in obj))
    if isinstance(obj, dict):
        return ("dict", *sorted((k, _key(o)) for k, o in obj.items()))
    if isinstance(obj, np.ndarray):
        return ("array", id(obj))
    hash(obj)
    return ("lit", type(obj).__name__, obj)


def eliminate_common_subexpressions(graph: StaticGraph) -> StaticGraph:
    """Merge pure nodes that call the same op on the same arguments.

    A bound tensor (parameter, input, constant) keeps one Value across an effect that writes
    it in place (``optimizer.step()``, ``w.data = ...``, a scheduler or module effect), so two
    reads of it are the same computation only between the same two effects: the key of a node
    that reads a bound tensor carries the number of effects before it. Nodes reading op outputs
    only need no such number (an op output is never written after it is made: an in-place op
    gives its target a new Value)."""
    g = graph.copy()
    seen: dict = {}
    mapping: dict[int, Value] = {}
    keep = []
    effects = 0
    for node in g.nodes:
        node.args = substitute(node.args, mapping)
        node.kwargs = substitute(node.kwargs, mapping)
        if node.kind == "effect":
            effects += 1
        elif node.kind == "forward" and node.pure:
            try:
                era = effects if any(v.kind != "op" for v in node.inputs()) else -1
                key = (node.fn, era, _key(node.args), _key(node.kwargs))
            except TypeError:
                key = None
            if key is not None:
                first = seen.get(key)
                if first is not None:
                    for old, new in zip(node.outputs, first.outputs, strict=True):
                        if old is not None:
                            mapping[old.id] = new
                    continue
                seen[key] = node
        keep.append(node)
    merged = len(g.nodes) - len(keep)
    g.nodes = keep
    replace_uses(g, mapping)
    g.notes.append(f"common-subexpression elimination: merged {merged} nodes")
    return g


def fold_constants(graph: StaticGraph) -> StaticGraph:
    """Run, once and now, every pure node whose inputs are all constants (structure-only work
    such as normalising a fixed adjacency's values, transposes, degrees): its outputs become
    constants, so the step no longer computes them. A mutable constant (a module buffer, a
    tensor the step writes in place) is read on every call instead: its values may change."""
    g = graph.copy()
    const = {v.id for v in g.values() if v.fixed}
    mapping: dict[int, Value] = {}
    keep, folded = [], []
    for node in g.nodes:
        node.args = substitute(node.args, mapping)
        node.kwargs = substitute(node.kwargs, mapping)
        inputs = node.inputs()
        if node.kind == "forward" and node.pure and inputs and all(v.id in const
                                                                   for v in inputs):
            env = {v.id: v.tensor for v in inputs}
            # an index or mask (a numpy array, or an index tensor's array: `y[idx]`) is read
            # now, once: compile guards its values. Other ops given raw arrays read a sparse
            # structure's index plans (gcn_norm's gathers), constants by contract: comparing
            # them on every call would cost more than the step saves
            if node.fn is GetItem:
                g.assumed.extend(iter_leaves(node.args, np.ndarray))
            dev = device_type(node.outputs[0].device) if node.outputs[0] else "cpu"
            with no_grad():
                result = node.fn.forward(Context((False,) * len(node.args), dev),
                                         *_getter(node.args)(env), **_getter(node.kwargs)(env))
            result = result if isinstance(result, tuple) else (result,)
            for v, r in zip(node.outputs, result, strict=True):
                if v is not None:
                    t = _as_tensor(r)
                    new = Value("const", v.shape, v.dtype, v.device, tensor=t,
                                name=f"folded:{node.op}")
                    mapping[v.id] = new
                    const.add(new.id)
            folded.append(node.op)
            continue
        keep.append(node)
    g.nodes = keep
    replace_uses(g, mapping)
    g.notes.append(f"constant folding: computed {len(folded)} nodes once"
                   + (f" ({', '.join(dict.fromkeys(folded))})" if folded else ""))
    return g
