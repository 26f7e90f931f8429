"""Layer 1: compute only the rows a step reads.

`prune_rows`: a sparse product whose output is read only through a constant row index - the
loss on the training nodes, ``logits[train]`` - is computed on those rows alone: ``(A X)[idx]``
becomes ``A[idx] X``, with ``A[idx]`` (the selected rows of a constant sparse matrix) built
once, when the pass runs. Row-wise ops between the product and the index (a mean over heads, a
bias) move after the selection. On Cora's GCN the output layer then works on the 140 training
rows of 2708, forward and backward, and the index's (N, C) zero-filled gradient is gone; on its
GAT the output layer's attention does. An eager step cannot do this: it does not know, when it
multiplies, which rows will be read.

Applies to SpMM and SpMMBiasAct without dropout (a dropout mask is drawn per element of the
full output, so selecting rows would draw a different one) with constant sparse values, and to
`GATFeatureAttention`, dropout included: its mask is drawn per edge of the full structure and
read at the selected rows' edges. Graphs on the CPU (the selected structure is built with numpy
when the pass runs); on a GPU the products stay whole.
"""

from __future__ import annotations

import numpy as np

import sparsegraph as sg
from sparsegraph.ops.elementwise import FUNCTIONS as ELEMENTWISE
from sparsegraph.ops.fused import SpMMBiasAct
from sparsegraph.ops.gat_scores import GATFeatureAttention
from sparsegraph.ops.index import GetItem
from sparsegraph.ops.reduce import Mean
from sparsegraph.ops.sparse_products import SpMM
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.ir import Node, Ref, SparseRef, Value, substitute
from sparsegraph.static.passes.fusion import _produce, _replace, _Uses

__all__ = ["prune_rows", "select_rows"]

Add = ELEMENTWISE["add"]


def _select(s, idx: np.ndarray):
    """The CSR structure of rows ``idx`` of structure ``s`` (repeats allowed) and, for each of
    its entries, the entry of ``s`` it copies (int64)."""
    indptr = np.asarray(s.indptr, dtype=np.int64)
    start, counts = indptr[idx], indptr[idx + 1] - indptr[idx]
    new_indptr = np.zeros(idx.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=new_indptr[1:])
    pos = np.repeat(start - new_indptr[:-1], counts) + np.arange(new_indptr[-1])
    return (sg.sparse_csr(new_indptr.astype(s.indptr.dtype), np.asarray(s.indices)[pos],
                          shape=(idx.shape[0], s.shape[1])).structure, pos)


def select_rows(a: sg.SparseTensor, idx: np.ndarray) -> sg.SparseTensor:
    """``a[idx]`` for a CSR sparse tensor and an integer row index (repeats allowed): the
    rows' entries in order, as a new constant CSR tensor of shape ``(len(idx), M)``."""
    structure, pos = _select(a.structure, idx)
    return sg.SparseTensor(structure, sg.tensor(a.values.detach().array[pos]))


def _row_index(key, n_rows: int):
    """The int64 rows a GetItem key selects when it is a constant 1-D row index or row mask."""
    if not isinstance(key, np.ndarray) or key.ndim != 1:
        return None
    if key.dtype == np.bool_:
        return np.flatnonzero(key) if key.shape[0] == n_rows else None
    if key.dtype.kind not in "iu" or (key.size and (key.min() < -n_rows or key.max() >= n_rows)):
        return None
    idx = key.astype(np.int64)
    return np.where(idx < 0, idx + n_rows, idx)


def _prunable(node: Node) -> bool:
    # the selected structure is built with numpy, once, when the pass runs
    if node.kind != "forward" or not str(node.outputs[0].device).startswith("cpu"):
        return False
    if node.fn is SpMM:
        return len(node.args) == 2 and _constant_csr(node.args[0])
    if node.fn is SpMMBiasAct:
        return node.args[4] == 0.0 and _constant_csr(node.args[0])  # no dropout epilogue
    return node.fn is GATFeatureAttention and node.args[7] is None  # not pruned yet


def _constant_csr(a) -> bool:
    return isinstance(a, SparseRef) and a.values.fixed and (
        a.structure.layout == "csr")


def _rowwise(node: Node, v: Value) -> bool:
    """Whether ``node`` computes each row of its output from the same row of ``v`` alone: a
    mean over other dims, or adding a term that broadcasts along the rows."""
    if node.fn is Mean and len(node.args) == 3:
        x, dims, _ = node.args
        return x == Ref(v) and isinstance(dims, tuple) and bool(dims) and all(
            d % len(v.shape) != 0 for d in dims)
    if node.fn is Add and len(node.args) == 2 and Ref(v) in node.args:
        other = node.args[1] if node.args[0] == Ref(v) else node.args[0]
        return isinstance(other, int | float) and not isinstance(other, bool) or (
            isinstance(other, Ref) and other != Ref(v) and len(other.value.shape) < len(v.shape))
    return False


def _row_chain(uses: _Uses, v: Value):
    """``(row-wise nodes, GetItem)`` reading ``v`` one after the other, or None."""
    chain = []
    while True:
        user = uses.only(v)
        if user is None or user.kind != "forward":
            return None
        if user.fn is GetItem and user.args[0] == Ref(v):
            return chain, user
        if not _rowwise(user, v):
            return None
        chain.append(user)
        v = user.outputs[0]


def _pruned(node: Node, idx: np.ndarray, out: Value) -> Node:
    """``node`` computing rows ``idx`` of its output only, into ``out``."""
    attrs = dict(node.attrs)
    attrs["fused_from"] = node.attrs.get("fused_from", [node.op]) + ["GetItem"]
    attrs["reason"] = f"rows pruned: {idx.shape[0]} of {node.outputs[0].shape[0]} read by GetItem"
    if node.fn is GATFeatureAttention:
        s = node.args[0]
        structure, pos = _select(s, idx)
        args = (structure, *node.args[1:7], idx, pos, s.nnz)
    else:
        a = node.args[0]
        rows = select_rows(sg.SparseTensor(a.structure, a.values.tensor), idx)
        values = Value("const", tuple(rows.values.shape), rows.values.dtype, a.values.device,
                       tensor=rows.values, name=f"folded:{idx.shape[0]} rows")
        args = (SparseRef(rows.structure, values), *node.args[1:])
        if "saved" in attrs:
            attrs["saved"] = [values if v is a.values else v for v in attrs["saved"]]
    new = Node("forward", node.op, node.fn, args, dict(node.kwargs), [], attrs)
    _produce(new, [out])
    return new


def prune_rows(graph: StaticGraph) -> StaticGraph:
    """``(A X)[idx]`` -> ``A[idx] X`` for a constant row index (through row-wise ops)."""
    g = graph.copy()
    pruned = []
    for node in list(g.nodes):
        if not _prunable(node):
            continue
        out = node.outputs[0]
        found = _row_chain(_Uses(g), out)
        if found is None:
            continue
        chain, getitem = found
        idx = _row_index(getitem.args[1], out.shape[0])
        if idx is None:
            continue
        g.assumed.append(getitem.args[1])  # A[idx] is built from its values now
        # every Value from the product to the selection now has len(idx) rows
        steps = [node] + chain
        values = [Value("op", (idx.shape[0],) + n.outputs[0].shape[1:], n.outputs[0].dtype,
                        n.outputs[0].device) for n in steps[:-1]] + [getitem.outputs[0]]
        renamed = {n.outputs[0].id: v for n, v in zip(steps, values, strict=True)}
        new_nodes = [_pruned(node, idx, values[0])]
        for n, v in zip(chain, values[1:], strict=True):
            moved = Node("forward", n.op, n.fn, substitute(n.args, renamed),
                         substitute(n.kwargs, renamed), [], dict(n.attrs))
            _produce(moved, [v])
            new_nodes.append(moved)
        for n in new_nodes:
            if "saved" in n.attrs:
                n.attrs["saved"] = [renamed.get(v.id, v) for v in n.attrs["saved"]]
        _replace(g, [node] + chain + [getitem], new_nodes, getitem)
        pruned.append(f"{idx.shape[0]}/{out.shape[0]}")
    g.notes.append(f"row pruning: {len(pruned)} products computed on the rows read"
                   + (f" ({', '.join(pruned)})" if pruned else ""))
    return g
