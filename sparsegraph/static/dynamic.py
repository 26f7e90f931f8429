"""`dynamic_graph(loss)`: the eager (define-by-run) autograd graph behind a tensor, exported like
a static graph — the reference texts' picture of a backward graph: one node per recorded op's
backward, edges along ``next_functions``, leaves where gradients accumulate."""

from __future__ import annotations

from sparsegraph.autograd.function import AccumulateGrad
from sparsegraph.tensor import Tensor


class DynamicGraph:
    """The recorded graph reachable from a tensor's ``grad_fn``.

    Attributes:
        nodes: ``(key, label, kind)`` per node; kind is "op" or "leaf".
        edges: ``(src, dst)``: the gradient flows from ``src`` to ``dst``.
    """

    def __init__(self, tensor: Tensor, params=None):
        if not isinstance(tensor, Tensor) or tensor.grad_fn is None:
            raise ValueError("dynamic_graph: expected a Tensor with a grad_fn (the result of "
                             "ops on tensors that require grad)")
        if hasattr(params, "named_parameters"):  # a Module
            params = dict(params.named_parameters())
        names = {id(t): name for name, t in (params or {}).items()}
        self.nodes: list[tuple[str, str, str]] = []
        self.edges: list[tuple[str, str]] = []
        keys: dict[int, str] = {}
        stack = [tensor.grad_fn]
        keys[id(tensor.grad_fn)] = "n0"
        while stack:
            node = stack.pop()
            key = keys[id(node)]
            if type(node) is AccumulateGrad:
                leaf = node.leaf
                name = names.get(id(leaf)) or leaf._name or "leaf"
                self.nodes.append((key, f"{name}\n{list(leaf.shape)}", "leaf"))
                continue
            shapes = [list(m[0]) for m in node.input_meta if m is not None]
            self.nodes.append((key, f"{node.name()}\n{shapes}", "op"))
            for child, _ in node.next_functions:
                if child is None:
                    continue
                if id(child) not in keys:
                    keys[id(child)] = f"n{len(keys)}"
                    stack.append(child)
                self.edges.append((key, keys[id(child)]))

    def __str__(self) -> str:
        labels = {k: label.replace("\n", " ") for k, label, _ in self.nodes}
        lines = [f"DynamicGraph({len(self.nodes)} nodes, {len(self.edges)} edges)"]
        for a, b in self.edges:
            lines.append(f"  {labels[a]} -> {labels[b]}")
        return "\n".join(lines)

    def to_networkx(self):
        import networkx as nx

        g = nx.MultiDiGraph()  # x * x: two edges between the same nodes
        for key, label, kind in self.nodes:
            g.add_node(key, label=label, kind=kind)
        g.add_edges_from(self.edges)
        return g

    def to_dot(self) -> str:
        out = ["digraph DynamicGraph {", "  node [fontname=Helvetica];"]
        for key, label, kind in self.nodes:
            shape = "ellipse" if kind == "leaf" else "box"
            out.append(f'  {key} [label="{label.replace(chr(10), chr(92) + "n")}", '
                       f"shape={shape}];")
        out.extend(f"  {a} -> {b};" for a, b in self.edges)
        out.append("}")
        return "\n".join(out) + "\n"


def dynamic_graph(tensor: Tensor, params=None) -> DynamicGraph:
    """The eager autograd graph behind ``tensor`` (e.g. a loss), before ``backward()`` runs.

    ``params``: a Module, or a ``{name: tensor}`` dict (torchviz's ``make_dot(params=...)``),
    naming the leaves (``conv1.lin.weight``); other leaves are labelled "leaf"."""
    return DynamicGraph(tensor, params)
