"""Layer 1: trade recomputation for memory.

`recompute_dropout`: ``dropout(x) @ W`` where ``x`` is held until after the matmul's backward
anyway (an input, a parameter or a constant such as the node features; or an activation its
producer saves for its own backward, as ELU keeps its output) becomes one `DropoutMatMul` node,
which keeps ``x`` and the mask's counter key instead of the dropped-out copy and draws the mask
again in backward. On the arxiv preset's GCN that is the (N, 128) dropped-out feature matrix
(83 MB) no longer alive from the first layer's forward to its backward, on its GAT also the
(N, 64) dropped-out hidden layer, at the cost of one more dropout pass. Eager mode cannot tell
that ``x`` outlives the step.
"""

from __future__ import annotations

from sparsegraph.ops.fused import DropoutMatMul
from sparsegraph.ops.linalg import MatMul
from sparsegraph.ops.stochastic import Dropout
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.ir import Node, Ref, Value
from sparsegraph.static.passes.fusion import _needs, _produce, _replace, _Uses

__all__ = ["recompute_dropout"]

_HELD = ("input", "param", "const")  # Values bound for the whole step


def _held_anyway(v: Value) -> bool:
    """Whether ``v`` lives past a reader's backward without this pass: bound for the step, or
    saved by its producer for a backward (which runs after those of ``v``'s readers)."""
    p = v.producer
    return v.kind in _HELD or (p is not None and p.kind == "forward" and any(_needs(p)) and any(
        s.id == v.id for s in p.attrs.get("saved", ())))


def recompute_dropout(graph: StaticGraph) -> StaticGraph:
    """Dropout of a 2-D tensor held anyway (`_held_anyway`), read only by a MatMul as its left
    operand (with a 2-D right operand), into one `DropoutMatMul` node; the same numbers, one
    (N, F) array less kept for backward."""
    g = graph.copy()
    fused = 0
    for node in list(g.nodes):
        if node.fn is not Dropout or node.kwargs or len(node.args) != 3:
            continue
        x, p, generator = node.args
        if not isinstance(x, Ref) or not _held_anyway(x.value) or len(x.value.shape) != 2:
            continue
        user = _Uses(g).only(node.outputs[0])
        if user is None or user.fn is not MatMul or user.kwargs or len(user.args) != 2:
            continue
        left, w = user.args
        if left != Ref(node.outputs[0]) or not isinstance(w, Ref) or len(w.value.shape) != 2:
            continue
        need_x, need_w = _needs(node)[0], _needs(user)[1]
        new = Node("forward", "DropoutMatMul", DropoutMatMul, (x, w, float(p), generator), {}, [],
                   {"needs_input_grad": (need_x, need_w, False, False),
                    "saved": [x.value, w.value],
                    "fused_from": [node.op, user.op], "kernel": "dropout, matmul"})
        _produce(new, [user.outputs[0]])
        _replace(g, [node, user], [new], user)
        fused += 1
    g.notes.append(f"recompute: {fused} dropout + matmul pairs keep their input, not its "
                   "dropped-out copy")
    return g
