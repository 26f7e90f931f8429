"""Autodiff on the graph: build the backward (dual) graph from the forward one.

Each forward node that needs an input gradient gets a backward node that runs the op's own
``backward`` rule with the context its forward run left (so saved tensors are the forward's),
reading the gradients of the node's outputs and writing the gradients of its inputs. A Value
used by several nodes gets a ``sum`` node; a parameter's total gradient goes into its ``.grad``
through an ``accumulate`` node, as eager mode's AccumulateGrad does.
"""

from __future__ import annotations

from sparsegraph.backend import array_module
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.ir import Node, Ref, SparseRef, Value
from sparsegraph.tensor import wrap


def _input_value(arg) -> Value | None:
    if isinstance(arg, Ref):
        return arg.value
    if isinstance(arg, SparseRef):
        return arg.values
    return None


def _total(contributions: list[Value], emit) -> Value:
    if len(contributions) == 1:
        return contributions[0]
    first = contributions[0]
    out = Value("op", first.shape, first.dtype, first.device)
    node = Node("sum", "add_grads", None, tuple(Ref(v) for v in contributions), {}, [out])
    out.producer = node
    emit(node)
    return out


def differentiate(forward_nodes: list[Node], root: Value, seed) -> tuple[list[Node], dict]:
    """Backward nodes for d root / d everything, seeded with ``seed``: an array (a constant)
    or a Value of the graph (``backward(gradient)`` with a traced gradient).

    Returns:
        The new nodes in execution order, and value id -> total gradient Value for every
        Value a gradient reached (parameters and inputs included).
    """
    seed_value = seed if isinstance(seed, Value) else Value(
        "const", tuple(seed.shape), seed.dtype, root.device, tensor=wrap(seed), name="seed")
    grads: dict[int, list[Value]] = {root.id: [seed_value]}
    totals: dict[int, Value] = {}
    nodes: list[Node] = []
    for fwd in reversed(forward_nodes):
        if fwd.kind != "forward":
            continue
        needs = fwd.attrs.get("needs_input_grad", ())
        outs = []
        for v in fwd.outputs:
            if v is not None and v.id in grads and v.id not in totals:
                totals[v.id] = _total(grads[v.id], nodes.append)
            outs.append(totals.get(v.id) if v is not None else None)
        if not any(needs) or all(g is None for g in outs):
            continue
        fwd.attrs["has_backward"] = True
        in_grads = []
        for arg, need in zip(fwd.args, needs, strict=False):
            src = _input_value(arg) if need else None
            if src is None:
                in_grads.append(None)
                continue
            g = Value("op", src.shape, src.dtype, src.device)
            grads.setdefault(src.id, []).append(g)
            in_grads.append(g)
        bwd = Node("backward", f"{fwd.op}Backward", fwd.fn,
                   tuple(None if g is None else Ref(g) for g in outs), {}, in_grads,
                   {"extra_inputs": list(fwd.attrs.get("saved", ()))}, forward=fwd)
        for i, g in enumerate(in_grads):
            if g is not None:
                g.producer, g.index = bwd, i
        nodes.append(bwd)
    for vid, contributions in grads.items():
        if vid not in totals:
            totals[vid] = _total(contributions, nodes.append)
    return nodes, totals


def backward_graph(graph: StaticGraph, wrt=None) -> StaticGraph:
    """The gradient graph of ``graph`` (a pure function of it: the input is not changed).

    If the trace recorded ``.backward()`` calls (a training step), each is replaced by the
    backward nodes plus one ``accumulate`` node per parameter (into ``.grad``, as eager does).
    Otherwise the graph's single output must be a scalar: the result's outputs become
    ``(output, grads)`` with ``grads`` the gradients with respect to ``wrt`` (a list of
    Values; default: every parameter), None where no gradient flows.
    """
    g = graph.copy()
    nodes: list[Node] = []
    roots = [n for n in g.nodes if n.kind == "backward_root"]
    if not roots:
        outs = g.output_values()
        if len(outs) != 1 or outs[0].nbytes != outs[0].dtype.itemsize:
            raise ValueError("backward_graph: expected a graph with one scalar output or a "
                             f"recorded .backward() call (got outputs {outs})")
        seed = array_module(outs[0].device).ones(outs[0].shape, dtype=outs[0].dtype)
        bwd, totals = differentiate(g.nodes, outs[0], seed)
        wanted = g.params() if wrt is None else [_find(g, v) for v in wrt]
        grads = tuple(Ref(totals[v.id]) if v.id in totals else None for v in wanted)
        result = StaticGraph(g.nodes + bwd, g.inputs, (g.outputs, grads), g.notes, g.assumed,
                             g.decided, g.reads)
        result.notes.append(f"backward_graph: {len(bwd)} backward nodes")
        return result
    for node in g.nodes:
        if node.kind != "backward_root":
            nodes.append(node)
            continue
        root = node.args[0].value
        seed = node.args[1].value if len(node.args) > 1 else node.attrs["gradient"]
        bwd, totals = differentiate(nodes, root, seed)
        nodes.extend(bwd)
        for v in g.values():
            if v.kind in ("param", "input") and v.id in totals:
                nodes.append(Node("accumulate", "accumulate_grad", None, (Ref(totals[v.id]),),
                                  {}, [], {"target": v, "extra_inputs": [v]}))
    result = StaticGraph(nodes, g.inputs, g.outputs, g.notes, g.assumed, g.decided, g.reads)
    result.notes.append(f"backward_graph: {result.count(kind='backward')} backward nodes")
    return result


def _find(graph: StaticGraph, value) -> Value:
    for v in graph.values():
        if v.id == getattr(value, "id", None) or (v.tensor is not None and v.tensor is value):
            return v
    raise ValueError(f"backward_graph: `wrt` entry {value!r} is not a value of this graph")
