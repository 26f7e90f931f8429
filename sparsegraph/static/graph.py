"""`StaticGraph`: the captured program — nodes in a valid execution order, its inputs and outputs
— plus the ways to look at it (a listing, networkx, DOT)."""

from __future__ import annotations

from sparsegraph.static.ir import Node, Ref, SparseRef, Value, iter_refs, substitute


class StaticGraph:
    """A captured computation.

    Attributes:
        nodes: the op calls in a valid execution order (trace order until a pass reorders).
        inputs: one placeholder Value per traced positional input.
        outputs: the function's result as a template (Refs in nested tuples / lists / dicts).
        notes: what each pass did, in order (shown by ``print(graph)``).
    """

    def __init__(self, nodes: list[Node], inputs: list[Value], outputs, notes=None):
        self.nodes = list(nodes)
        self.inputs = list(inputs)
        self.outputs = outputs
        self.notes: list[str] = list(notes or [])

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
                                   v.name, v.structure)
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
        return StaticGraph(nodes, inputs, substitute(self.outputs, vmap), self.notes)

    # ---- running -------------------------------------------------------------------------
    def __call__(self, *inputs):
        from sparsegraph.static.runtime import Executor

        return Executor(self).run(*inputs)

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
        for node in self.nodes:
            outs = ", ".join(repr(v) for v in node.outputs if v is not None) or "-"
            args = ", ".join(v.label() for v in node.inputs())
            extra = ""
            if node.attrs.get("kernel"):
                extra += f"  [{node.attrs['kernel']}]"
            if node.attrs.get("fused_from"):
                extra += f"  fused({' + '.join(node.attrs['fused_from'])})"
            if node.attrs.get("reason"):
                extra += f"  # {node.attrs['reason']}"
            lines.append(f"  {outs} = {node.op}({args}){extra}")
        lines.append("  return " + ", ".join(v.label() for v in self.output_values()))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    __repr__ = __str__

    def to_networkx(self):
        """A networkx MultiDiGraph: one node per op and per graph input (attributes: op, kind,
        kernel, fused, label), one edge per tensor read (attributes: shape, dtype, layout)."""
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
            g.add_node(key, op=node.op, kind=node.kind, kernel=node.attrs.get("kernel", ""),
                       fused=fused, label=f"{node.op}\n{shapes}" + (
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
        for v in self.output_values():
            g.add_node("out", op="output", kind="output", kernel="", fused=False, label="output")
            g.add_edge(producers[v.id], "out", shape=tuple(v.shape), dtype=str(v.dtype),
                       layout="dense")
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
            out.append(f'  {a} -> {b} [label="{list(d["shape"])} {d["dtype"]}"];')
        out.append("}")
        return "\n".join(out) + "\n"
