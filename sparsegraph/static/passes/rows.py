"""Layer 1: compute only the rows a step reads.

`prune_rows`: a sparse product whose output is read only through a constant row index - the
loss on the training nodes, ``logits[train]`` - is computed on those rows alone: ``(A X)[idx]``
becomes ``A[idx] X``, with ``A[idx]`` (the selected rows of a constant sparse matrix) built
once, when the pass runs. On Cora's GCN the output layer then works on the 140 training rows
of 2708, forward and backward, and the index's (N, C) zero-filled gradient is gone. An eager
step cannot do this: it does not know, when it multiplies, which rows will be read.

Applies to SpMM and to SpMMBiasAct without dropout (a dropout mask is drawn per element of the
full output, so selecting rows would draw a different one), with constant sparse values.
"""

from __future__ import annotations

import numpy as np

import sparsegraph as sg
from sparsegraph.ops.fused import SpMMBiasAct
from sparsegraph.ops.index import GetItem
from sparsegraph.ops.sparse_products import SpMM
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.ir import Node, Ref, SparseRef, Value
from sparsegraph.static.passes.fusion import _produce, _replace, _Uses

__all__ = ["prune_rows", "select_rows"]


def select_rows(a: sg.SparseTensor, idx: np.ndarray) -> sg.SparseTensor:
    """``a[idx]`` for a CSR sparse tensor and an integer row index (repeats allowed): the
    rows' entries in order, as a new constant CSR tensor of shape ``(len(idx), M)``."""
    s = a.structure
    indptr = np.asarray(s.indptr, dtype=np.int64)
    start, counts = indptr[idx], indptr[idx + 1] - indptr[idx]
    new_indptr = np.zeros(idx.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=new_indptr[1:])
    pos = np.repeat(start - new_indptr[:-1], counts) + np.arange(new_indptr[-1])
    values = a.values.detach().array
    return sg.sparse_csr(new_indptr.astype(s.indptr.dtype), np.asarray(s.indices)[pos],
                         values[pos], shape=(idx.shape[0], a.shape[1]))


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
    if node.fn is SpMM:
        return len(node.args) == 2
    return node.fn is SpMMBiasAct and node.args[4] == 0.0  # no dropout in the epilogue


def prune_rows(graph: StaticGraph) -> StaticGraph:
    """``(A X)[idx]`` -> ``A[idx] X`` for a constant row index and constant sparse ``A``."""
    g = graph.copy()
    pruned = []
    for node in list(g.nodes):
        if node.kind != "forward" or not _prunable(node):
            continue
        a = node.args[0]
        if not isinstance(a, SparseRef) or a.values.kind != "const" or a.structure.layout != (
                "csr"):
            continue
        out = node.outputs[0]
        user = _Uses(g).only(out)
        if user is None or user.fn is not GetItem or user.args[0] != Ref(out):
            continue
        idx = _row_index(user.args[1], out.shape[0])
        if idx is None:
            continue
        rows = select_rows(sg.SparseTensor(a.structure, a.values.tensor), idx)
        values = Value("const", tuple(rows.values.shape), rows.values.dtype, a.values.device,
                       tensor=rows.values, name=f"folded:{idx.shape[0]} rows")
        new = Node("forward", node.op, node.fn, (SparseRef(rows.structure, values),
                                                 *node.args[1:]), dict(node.kwargs), [],
                   dict(node.attrs))
        new.attrs["fused_from"] = node.attrs.get("fused_from", [node.op]) + ["GetItem"]
        new.attrs["reason"] = (f"rows pruned: {idx.shape[0]} of {out.shape[0]} read by "
                               "GetItem")
        if "saved" in new.attrs:
            new.attrs["saved"] = [values if v is a.values else v for v in new.attrs["saved"]]
        _produce(new, [user.outputs[0]])
        _replace(g, [node, user], [new], user)
        pruned.append(f"{idx.shape[0]}/{out.shape[0]}")
    g.notes.append(f"row pruning: {len(pruned)} products computed on the rows read"
                   + (f" ({', '.join(pruned)})" if pruned else ""))
    return g
