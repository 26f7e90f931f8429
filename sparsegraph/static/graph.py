"""`StaticGraph`: the captured program — nodes in a valid execution order, its inputs and outputs
— plus the ways to look at it (a listing, networkx, DOT)."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from sparsegraph.static.ir import (
    ArrayRef,
    GradRef,
    HostRead,
    Node,
    Ref,
    SparseRef,
    Value,
    iter_refs,
    substitute,
)


def show(obj) -> str:
    """A short text for one argument of a node (its template): Values by label, literals by
    repr, arrays and other objects by type and shape."""
    if isinstance(obj, Ref):
        text = obj.value.label()
        return f"{text}.grad" if isinstance(obj, GradRef) else (
            f"{text}.array" if isinstance(obj, ArrayRef) else text)
    if isinstance(obj, SparseRef):
        return f"sparse({obj.values.label()})"
    if isinstance(obj, tuple | list):
        body = ", ".join(show(o) for o in obj)
        return f"({body},)" if isinstance(obj, tuple) and len(obj) == 1 else (
            f"({body})" if isinstance(obj, tuple) else f"[{body}]")
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{k!r}: {show(o)}" for k, o in obj.items()) + "}"
    if isinstance(obj, type(None) | bool | int | float | complex | str | slice | np.generic) or (
            obj is Ellipsis):
        text = repr(obj.item() if isinstance(obj, np.generic) else obj)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(obj, np.dtype):
        return str(obj)
    if hasattr(obj, "shape"):  # an array (an index) or a sparsity structure
        dtype = getattr(obj, "dtype", "")
        return f"{type(obj).__name__}({dtype}{list(obj.shape)})"
    return getattr(obj, "__name__", type(obj).__name__)


@functools.cache
def _parameter_names(fn) -> tuple:
    """The names of ``fn.forward``'s arguments after ``ctx`` (empty when it takes ``*args``)."""
    try:
        params = list(inspect.signature(fn.forward).parameters.values())[1:]
    except (TypeError, ValueError, AttributeError):
        return ()
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return ()
    return tuple(p.name for p in params)


# ops.activation's table-driven Functions take one generic parameter ``p`` (None where the
# activation has none: ReLU, Sigmoid, Tanh): shown under the public function's names, or not
_SLOT_NAMES = {"LeakyReLU": ("negative_slope",), "ELU": ("alpha",), "GELU": ("approximate",),
               "Softplus": ("beta", "threshold")}


@functools.cache
def _table_activations() -> frozenset:
    from sparsegraph.ops.activation import FUNCTIONS

    return frozenset(FUNCTIONS.values())


def _slot(node: Node) -> list[str]:
    """An activation's generic parameter as ``name=value`` text (nothing when it is None)."""
    p = node.args[1]
    if p is None:
        return []
    names = _SLOT_NAMES.get(node.op, ())
    values = p if len(names) > 1 and isinstance(p, tuple) and len(p) == len(names) else (p,)
    if len(names) != len(values):
        return [show(p)]
    return [f"{k}={show(v)}" for k, v in zip(names, values, strict=True)]


def node_arguments(node: Node, tensors: bool = True) -> list[str]:
    """The node's arguments as text: tensors by label, other positional arguments as
    ``name=value`` (named after the op's forward), keywords as ``key=value``; for a backward or
    accumulate node, also the saved Values it reads. ``tensors=False``: the attributes only."""
    names = _parameter_names(node.fn) if node.kind == "forward" else ()
    if node.kind == "forward" and len(node.args) == 2 and node.fn in _table_activations():
        return ([show(node.args[0])] if tensors else []) + _slot(node)
    parts = []
    if node.kind == "effect" and "target" in node.attrs and tensors:  # set_grad, set_data
        parts.append(node.attrs["target"].label())
        if "value" in node.attrs:  # a constant value (None): not among the kwargs
            value = node.attrs["value"]
            parts.append("None" if value is None else value.label())
    for i, a in enumerate(node.args):
        if isinstance(a, Ref | SparseRef):
            if tensors:
                parts.append(show(a))
        else:
            parts.append(f"{names[i]}={show(a)}" if i < len(names) else show(a))
    parts += [f"{k}={show(a)}" for k, a in node.kwargs.items()
              if tensors or not isinstance(a, Ref | SparseRef)]
    if tensors:
        shown = {(r.value if isinstance(r, Ref) else r.values).id
                 for r in iter_refs((node.args, node.kwargs))}
        parts += [v.label() for v in node.attrs.get("extra_inputs", ()) if v.id not in shown]
    return parts


class StaticGraph:
    """A captured computation.

    Attributes:
        nodes: the op calls in a valid execution order (trace order until a pass reorders).
        inputs: one placeholder Value per traced positional input.
        outputs: the function's result as a template (Refs in nested tuples / lists / dicts).
        notes: what each pass did, in order (shown by ``print(graph)``).
        assumed: the raw arrays (row indices, masks) whose values a pass computed with once:
            `compile` keeps a copy of each and traces again when one changes in place.
        reads: the `HostRead` of each bound tensor whose values Python read on the host while
            tracing (an edge_index built into a CSR structure, a batch vector, a size inferred
            from an index): the graph is only valid for those values. `compile` traces again
            for an input with other values (or a constant changed in place); calling the
            graph itself refuses such an input.
        decided: whether the traced function or a pass chose between sparse and dense for a
            product (`sparsegraph.ops.cost_model.note_decision`): `compile` then replays the
            graph only under the decision state it was made under.
        eager_peak_bytes: eager mode's peak bytes of intermediates for the traced step
            (`runtime.eager_peak`), set by `passes.optimize` on the graph it returns (None
            elsewhere): `memory_plan` reports the planned peak against it.
    """

    def __init__(self, nodes: list[Node], inputs: list[Value], outputs, notes=None,
                 assumed=None, decided: bool = False, reads=None):
        self.nodes = list(nodes)
        self.inputs = list(inputs)
        self.outputs = outputs
        self.notes: list[str] = list(notes or [])
        self.assumed: list = list(assumed or [])
        self.decided = decided
        self.reads: list[HostRead] = list(reads or [])
        self.eager_peak_bytes: int | None = None

    # ---- queries ------------------------------------------------------------------------
    def output_values(self) -> list[Value]:
        out = []
        for ref in iter_refs(self.outputs):
            out.append(ref.value if isinstance(ref, Ref) else ref.values)
        return out

    def values(self) -> list[Value]:
        """Every Value read or written, inputs first, then graph outputs no node reads (a
        parameter or constant returned as is)."""
        seen: dict[int, Value] = {v.id: v for v in self.inputs}
        for node in self.nodes:
            for v in node.inputs():
                seen.setdefault(v.id, v)
            for v in node.outputs:
                if v is not None:
                    seen.setdefault(v.id, v)
        for v in self.output_values():
            seen.setdefault(v.id, v)
        return list(seen.values())

    def params(self) -> list[Value]:
        return [v for v in self.values() if v.kind == "param"]

    def consumers(self) -> dict[int, list[Node]]:
        """value id -> nodes reading it (a backward node reads what its forward saved)."""
        users: dict[int, list[Node]] = {}
        for node in self.nodes:
            for v in node.inputs():
                users.setdefault(v.id, []).append(node)
        return users

    def count(self, op: str | None = None, kind: str | None = None) -> int:
        return sum(1 for n in self.nodes
                   if (op is None or n.op == op) and (kind is None or n.kind == kind))

    # ---- copying (passes are pure: they transform a copy) ---------------------------------
    def copy(self) -> StaticGraph:
        """A copy with fresh Nodes and Values; bound tensors and structures are shared."""
        vmap: dict[int, Value] = {}

        def new_value(v: Value) -> Value:
            if v.id not in vmap:
                vmap[v.id] = Value(v.kind, v.shape, v.dtype, v.device, None, v.index, v.tensor,
                                   v.name, v.structure, v.mutable)
            return vmap[v.id]

        nmap: dict[int, Node] = {}
        nodes = []
        for node in self.nodes:
            for v in node.inputs():
                new_value(v)
            outs = [None if v is None else new_value(v) for v in node.outputs]
            attrs = {k: new_value(a) if isinstance(a, Value) else
                     [new_value(v) for v in a] if k in ("extra_inputs", "saved") else a
                     for k, a in node.attrs.items()}
            new = Node(node.kind, node.op, node.fn, substitute(node.args, vmap),
                       substitute(node.kwargs, vmap), outs, attrs,
                       nmap.get(node.forward.id) if node.forward is not None else None)
            for i, v in enumerate(outs):
                if v is not None:
                    v.producer, v.index = new, i
            nmap[node.id] = new
            nodes.append(new)
        inputs = [new_value(v) for v in self.inputs]
        return StaticGraph(nodes, inputs, substitute(self.outputs, vmap), self.notes,
                           self.assumed, self.decided, self.reads)

    # ---- running -------------------------------------------------------------------------
    def __call__(self, *inputs):
        from sparsegraph.static.runtime import Executor

        self.check_reads(inputs)
        return Executor(self).run(*inputs)

    def check_reads(self, inputs) -> None:
        """ValueError unless each input whose values were read on the host while tracing
        (`reads`) holds the same values in ``inputs``."""
        for read in self.reads:
            if read.position is None or read.position >= len(inputs):
                continue  # a constant (`compile` guards it), or too few inputs (run says so)
            x = inputs[read.position]
            t = getattr(x, "values", x)  # a sparse input's values
            if hasattr(t, "array") and not read.holds(t):
                raise ValueError(
                    f"StaticGraph: input {read.position} holds other values than the traced "
                    f"one, which were read on the host while tracing ({read.what}) and are "
                    "built into the graph; trace again for new values (static.compile does)")

    def backward_graph(self, wrt=None) -> StaticGraph:
        """The gradient graph built from this forward graph (see `static.autodiff`)."""
        from sparsegraph.static.autodiff import backward_graph

        return backward_graph(self, wrt)

    # ---- showing -------------------------------------------------------------------------
    def __str__(self) -> str:
        lines = [f"StaticGraph({len(self.nodes)} nodes, {len(self.inputs)} inputs, "
                 f"{len(self.params())} params)"]
        for v in self.inputs:
            lines.append(f"  input  {v!r}")
        for v in self.values():  # bound by reference: parameters, then constants
            if v.kind == "param":
                lines.append(f"  param  {v!r}")
        for v in self.values():
            if v.kind == "const":
                lines.append(f"  const  {v!r}" + ("  (mutable)" if v.mutable else ""))
        for node in self.nodes:
            outs = ", ".join(repr(v) for v in node.outputs if v is not None) or "-"
            args = ", ".join(node_arguments(node))
            extra = ""
            if node.attrs.get("kernel"):
                extra += f"  [{node.attrs['kernel']}]"
            if node.attrs.get("fused_from"):
                extra += f"  fused({' + '.join(node.attrs['fused_from'])})"
            if node.attrs.get("reason"):
                extra += f"  # {node.attrs['reason']}"
            lines.append(f"  {outs} = {node.op}({args}){extra}")
        # the result's own shape: dict keys, and a returned p.grad told from p
        out = self.outputs
        lines.append("  return " + (show(out)[1:-1] if isinstance(out, tuple) and len(out) != 1
                                    else show(out)))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    __repr__ = __str__

    def to_networkx(self):
        """A networkx MultiDiGraph: one node per op and per graph input (attributes: op, kind,
        kernel, fused, attrs (the op's non-tensor arguments as text), label), one edge per
        tensor read (attributes: shape, dtype, layout)."""
        import networkx as nx

        g = nx.MultiDiGraph()
        producers: dict[int, str] = {}
        for v in self.values():
            if v.producer is None:
                key = f"v{v.id}"
                g.add_node(key, op=v.kind, kind=v.kind, kernel="", fused=False,
                           label=f"{v.kind} {v.label()}\n{list(v.shape)}")
                producers[v.id] = key
        for node in self.nodes:
            key = f"n{node.id}"
            fused = bool(node.attrs.get("fused_from"))
            shapes = ", ".join(str(list(v.shape)) for v in node.outputs if v is not None)
            # the op's attributes (exponent, dims, scalar operands); tensors are the edges
            attrs = ", ".join(node_arguments(node, tensors=False))
            g.add_node(key, op=node.op, kind=node.kind, kernel=node.attrs.get("kernel", ""),
                       fused=fused, attrs=attrs,
                       label=f"{node.op}" + (f"({attrs})" if attrs else "") + f"\n{shapes}" + (
                           f"\n[{node.attrs['kernel']}]" if node.attrs.get("kernel") else ""))
            for v in node.outputs:
                if v is not None:
                    producers[v.id] = key
        for node in self.nodes:
            for ref in iter_refs((node.args, node.kwargs)):
                v = ref.value if isinstance(ref, Ref) else ref.values
                layout = "sparse values" if isinstance(ref, SparseRef) else "dense"
                g.add_edge(producers[v.id], f"n{node.id}", shape=tuple(v.shape),
                           dtype=str(v.dtype), layout=layout)
            for v in node.attrs.get("extra_inputs", ()):
                g.add_edge(producers[v.id], f"n{node.id}", shape=tuple(v.shape),
                           dtype=str(v.dtype), layout="saved")
        for ref in iter_refs(self.outputs):
            v = ref.value if isinstance(ref, Ref) else ref.values
            g.add_node("out", op="output", kind="output", kernel="", fused=False, label="output")
            g.add_edge(producers[v.id], "out", shape=tuple(v.shape), dtype=str(v.dtype),
                       layout="grad" if isinstance(ref, GradRef) else "dense")
        return g

    def to_dot(self) -> str:
        """Graphviz DOT text: ops as boxes (fused ones filled), inputs as ellipses, backward
        nodes dashed; edges labelled with shape and dtype."""
        g = self.to_networkx()
        out = ["digraph StaticGraph {", "  rankdir=TB;", "  node [fontname=Helvetica];"]
        for key, d in g.nodes(data=True):
            label = d["label"].replace('"', "'").replace("\n", "\\n")
            if d["kind"] in ("input", "param", "const", "output"):
                style = "shape=ellipse"
            elif d["fused"]:
                style = 'shape=box, style=filled, fillcolor="#ffd27f"'
            elif d["kind"] == "backward":
                style = "shape=box, style=dashed"
            else:
                style = "shape=box"
            out.append(f'  {key} [label="{label}", {style}];')
        for a, b, d in g.edges(data=True):
            grad = ".grad " if d["layout"] == "grad" else ""  # a returned p.grad, not p
            out.append(f'  {a} -> {b} [label="{grad}{list(d["shape"])} {d["dtype"]}"];')
        out.append("}")
        return "\n".join(out) + "\n"
