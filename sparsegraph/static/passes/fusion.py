"""Layer 1, rewriting passes on forward ops: fusion and placement.

- `fuse_spmm_bias_act`: SpMM -> Add(bias) -> ReLU -> Dropout chains become one fused node.
- `fuse_attention`: GAT's EdgeSum -> LeakyReLU -> edge softmax -> [Dropout] -> SpMM (or the
  eval-mode SoftmaxSpMM) becomes one `GATAttention` node.
- `fold_attention_scores`: the two per-head score einsums feeding a `GATAttention` from its own
  features go into it (`GATFeatureAttention`).
- `fold_scale`: a constant row scale or scalar after an SpMM with constant values is folded
  into the values (mean aggregation = sum spmm * 1/deg becomes one spmm).
- `reorder_linear`: ``(A X) W`` becomes ``A (X W)`` when that is cheaper (W shrinks F).
- `choose_dense`: an SpMM with a constant matrix runs as a dense matmul when the cost model
  (`sparsegraph.ops.cost_model`) predicts that faster and it fits; the node says why.

Each is a pure ``StaticGraph -> StaticGraph`` function; a rewritten node keeps the Value objects
of the chain's final output, so downstream readers need no change.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.backend import device_type
from sparsegraph.ops.activation import LeakyReLU, ReLU
from sparsegraph.ops.contraction import Einsum
from sparsegraph.ops.edge_softmax import EdgeSum, RowSoftmax, SoftmaxSpMM
from sparsegraph.ops.elementwise import FUNCTIONS as ELEMENTWISE
from sparsegraph.ops.fused import GATAttention, SpMMBiasAct
from sparsegraph.ops.gat_scores import GATFeatureAttention
from sparsegraph.ops.linalg import MatMul
from sparsegraph.ops.sparse_products import SpMM
from sparsegraph.ops.stochastic import Dropout
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.ir import Node, Ref, SparseRef, Value
from sparsegraph.tensor import wrap

Add, Mul = ELEMENTWISE["add"], ELEMENTWISE["mul"]


class _Uses:
    """Who reads each Value (graph outputs count as a reader)."""

    def __init__(self, graph: StaticGraph):
        self.users = graph.consumers()
        self.outputs = {v.id for v in graph.output_values()}

    def only(self, v: Value | None):
        """The single node reading ``v``, or None if ``v`` has several readers or is an output."""
        if v is None or v.id in self.outputs:
            return None
        users = self.users.get(v.id, [])
        return users[0] if len(users) == 1 else None


def _spmm_operands(node: Node):
    """``(SparseRef, Ref)`` of a plain SpMM with (E,) values and 2-D features, else None."""
    if node.fn is not SpMM or len(node.args) != 2:
        return None
    a, x = node.args
    if not (isinstance(a, SparseRef) and isinstance(x, Ref)) or len(a.values.shape) != 1 or len(
            x.value.shape) != 2:
        return None
    return a, x


def _needs(node: Node) -> tuple:
    return tuple(node.attrs.get("needs_input_grad", ())) or (False,) * len(node.args)


def _replace(graph: StaticGraph, removed: list[Node], new_nodes: list[Node], at: Node) -> None:
    """Put ``new_nodes`` where ``at`` was and drop ``removed``."""
    gone = {n.id for n in removed}
    out = []
    for n in graph.nodes:
        if n is at:
            out.extend(new_nodes)
        elif n.id not in gone:
            out.append(n)
    graph.nodes = out


def _produce(node: Node, values: list[Value]) -> None:
    node.outputs = values
    for i, v in enumerate(values):
        if v is not None:
            v.producer, v.index = node, i


def fuse_spmm_bias_act(graph: StaticGraph) -> StaticGraph:
    """SpMM -> [+ bias] -> [ReLU] -> [Dropout] into one `SpMMBiasAct` node (at least one of
    bias / ReLU): one output buffer instead of up to four, and a backward that keeps only the
    output instead of the pre-activation and the mask."""
    g = graph.copy()
    fused = 0
    for node in list(g.nodes):
        operands = _spmm_operands(node)
        if operands is None:
            continue
        uses = _Uses(g)
        chain, current = [node], node.outputs[0]
        bias, relu, p, generator, bias_need = None, False, 0.0, None, False
        user = uses.only(current)
        if user is not None and user.fn is Add and len(user.args) == 2:
            k = 1 if user.args[0] == Ref(current) else 0
            other = user.args[k]
            if isinstance(other, Ref) and other.value.shape == current.shape[-1:] and (
                    user.args[1 - k] == Ref(current)):
                bias, bias_need = other, _needs(user)[k]
                chain.append(user)
                current = user.outputs[0]
                user = uses.only(current)
        if user is not None and user.fn is ReLU:
            relu = True
            chain.append(user)
            current = user.outputs[0]
            user = uses.only(current)
        if user is not None and user.fn is Dropout and (bias is not None or relu):
            _, p, generator = user.args
            chain.append(user)
            current = user.outputs[0]
        if len(chain) == 1 or (bias is None and not relu):
            continue
        a, x = operands
        needs = _needs(node)
        new = Node("forward", "SpMMBiasAct", SpMMBiasAct,
                   (a, x, bias, relu, float(p), generator), {}, [],
                   {"needs_input_grad": (needs[0], needs[1], bias_need, False, False, False),
                    # what SpMMBiasAct's forward saves: x only for the values' gradient
                    "saved": [a.values] + ([x.value] if needs[0] else [])
                    + ([current] if relu else []),
                    "fused_from": [n.op for n in chain],
                    "kernel": "spmm_bias_act", "reason": node.attrs.get("reason", "")})
        _produce(new, [current])
        _replace(g, chain, [new], chain[-1])
        fused += 1
    g.notes.append(f"fusion: {fused} spmm + bias + activation chains fused")
    return g


def _row_scale(arg, n_rows: int):
    """The factor an elementwise Mul applies to an (N, F) product: a Python number (every row)
    or an (N,) array on the product's device; None when it is neither."""
    if isinstance(arg, int | float) and not isinstance(arg, bool):
        return arg
    if isinstance(arg, Ref) and arg.value.fixed:
        a = arg.value.tensor.array
        if a.ndim == 0:
            return a.item()
        if a.ndim == 2 and a.shape == (n_rows, 1):
            return a[:, 0]
    return None


def fold_scale(graph: StaticGraph) -> StaticGraph:
    """``(A @ X) * c`` with constant A values and a constant row scale (or scalar) c becomes
    ``A' @ X`` with ``A'.values = A.values * c[row]`` computed once."""
    g = graph.copy()
    folded = 0
    # (structure, values, scale) -> the scaled values Value: APPNP's K propagations scale one
    # adjacency by one factor K times, and K identical constants would each be kept
    made: dict[tuple, Value] = {}
    for node in list(g.nodes):
        operands = _spmm_operands(node)
        if operands is None or not operands[0].values.fixed:
            continue
        a, x = operands
        out = node.outputs[0]
        user = _Uses(g).only(out)
        if user is None or user.fn is not Mul or len(user.args) != 2:
            continue
        k = 1 if user.args[0] == Ref(out) else 0
        if user.args[1 - k] != Ref(out):
            continue
        scale = _row_scale(user.args[k], out.shape[0])
        if scale is None:
            continue
        key = (id(a.structure), a.values.id, ("scalar", type(scale), scale) if isinstance(
            scale, int | float) else ("rows", user.args[k].value.id))
        v = made.get(key)
        if v is None:
            values = a.values.tensor.array
            if not isinstance(scale, int | float):  # per row: each entry takes its row's factor
                scale = scale[a.structure.rows()].astype(values.dtype)
            new_values = (values * scale).astype(values.dtype)
            v = made[key] = Value("const", a.values.shape, a.values.dtype, a.values.device,
                                  tensor=wrap(new_values), name="folded:scaled values")
        node.args = (SparseRef(a.structure, v), x)
        node.attrs["fused_from"] = [node.op, user.op]
        node.attrs["reason"] = "row scale folded into the sparse values"
        _produce(node, [user.outputs[0]])
        _replace(g, [user], [], user)
        folded += 1
    g.notes.append(f"scale folding: {folded} scales folded into sparse values")
    return g


def reorder_linear(graph: StaticGraph) -> StaticGraph:
    """``MatMul(A @ X, W)`` -> ``A @ MatMul(X, W)`` when the flop count drops (W: (F_in, F_out)
    with F_out < F_in: the sparse product then moves F_out columns instead of F_in)."""
    g = graph.copy()
    moved = 0
    for node in list(g.nodes):
        operands = _spmm_operands(node)
        if operands is None:
            continue
        a, x = operands
        out = node.outputs[0]
        user = _Uses(g).only(out)
        if user is None or user.fn is not MatMul or user.args[0] != Ref(out) or not isinstance(
                user.args[1], Ref) or len(user.args[1].value.shape) != 2:
            continue
        w = user.args[1].value
        n_dst, n_src, nnz = out.shape[0], x.value.shape[0], a.values.shape[0]
        f_in, f_out = w.shape
        before = nnz * f_in + n_dst * f_in * f_out
        after = n_src * f_in * f_out + nnz * f_out
        if after >= before:
            continue
        needs_spmm, needs_mm = _needs(node), _needs(user)
        xw = Value("op", (n_src, f_out), np.result_type(x.value.dtype, w.dtype), out.device)
        mm = Node("forward", "MatMul", MatMul, (x, Ref(w)), {}, [],
                  {"needs_input_grad": (needs_spmm[1], needs_mm[1]), "saved": [x.value, w],
                   "kernel": user.attrs.get("kernel", ""),
                   "reason": f"linear moved before propagation ({before:.3g} -> {after:.3g} "
                             "flops)"})
        _produce(mm, [xw])
        sp = Node("forward", "SpMM", SpMM, (a, Ref(xw)), {}, [],
                  {"needs_input_grad": (needs_spmm[0], needs_spmm[1] or needs_mm[1]),
                   "saved": [a.values, xw], "kernel": node.attrs.get("kernel", "")})
        _produce(sp, [user.outputs[0]])
        _replace(g, [node, user], [mm, sp], user)
        moved += 1
    g.notes.append(f"linear reordering: {moved} products moved before propagation")
    return g


def choose_dense(graph: StaticGraph, decide=None) -> StaticGraph:
    """Run an SpMM with a constant matrix as a dense matmul when the cost model says so.

    Args:
        decide: ``decide(n_rows, n_cols, nnz, n_features, dtype) -> decision`` with ``.dense``
            and ``.reason`` (default: `sparsegraph.ops.cost_model.decide_spmm`).
    """
    g = graph.copy()
    measured_on = None  # any device: a caller's own `decide` knows what it was made for
    own = first = decide is None  # our cost model (its state decides) / no product seen yet
    if own:
        try:
            from sparsegraph.ops.cost_model import cost_table, get_spmm_mode
            from sparsegraph.ops.cost_model import decide_spmm as decide
        except ImportError:
            g.notes.append("sparse-vs-dense: skipped (no cost model)")
            return g
    dense = 0
    for node in list(g.nodes):
        operands = _spmm_operands(node)
        if operands is None or not operands[0].values.fixed:
            continue
        a, x = operands
        if first:  # the mode is read when a product needs it ($SPARSEGRAPH_SPMM_MODE may be bad)
            first = False
            if get_spmm_mode() == "auto":  # a forced mode holds on every device
                measured_on = cost_table()["device"]
        # as in eager `sparse_matmul_auto`: timings of one device type say nothing of another
        if measured_on is not None and device_type(a.values.device) != measured_on:
            node.attrs["reason"] = f"sparse: the cost table was measured on {measured_on}"
            # still a choice of "auto" that a forced mode would change (as eager
            # `sparse_matmul_auto`'s): `compile` guards the sparse-vs-dense state, so a call
            # under spmm_mode("dense") traces again
            g.decided = True
            continue
        (n, m) = a.structure.shape
        nnz = min(a.values.shape[0], n * m)  # duplicates can outnumber the positions
        decision = decide(n, m, nnz, x.value.shape[1], str(a.values.dtype))
        g.decided = g.decided or own  # chosen by the model's mode, table and budget
        node.attrs["reason"] = decision.reason
        if not decision.dense:
            continue
        from sparsegraph.sparse import SparseTensor

        matrix = SparseTensor(a.structure, a.values.tensor).to_dense().detach()
        v = Value("const", tuple(matrix.shape), matrix.dtype, matrix.device, tensor=matrix,
                  name="folded:dense adjacency")
        mm = Node("forward", "MatMul", MatMul, (Ref(v), x), {}, [],
                  {"needs_input_grad": (False, _needs(node)[1]), "saved": [v],
                   "reason": f"dense: {decision.reason}"})
        _produce(mm, [node.outputs[0]])
        _replace(g, [node], [mm], node)
        dense += 1
    g.notes.append(f"sparse-vs-dense: {dense} products run dense")
    return g


def fuse_attention(graph: StaticGraph) -> StaticGraph:
    """GAT's score gather + leaky_relu + edge softmax + [dropout] + aggregation into one
    `GATAttention` node (one kernel pass per target row; backward keeps alpha and the mask
    instead of four E x H arrays)."""
    g = graph.copy()
    fused = 0
    for node in list(g.nodes):
        if node.fn is not EdgeSum or len(node.args) != 3:
            continue
        s, src, dst = node.args
        if not (isinstance(src, Ref) and isinstance(dst, Ref)) or len(src.value.shape) != 2:
            continue
        uses = _Uses(g)
        leaky = uses.only(node.outputs[0])
        if leaky is None or leaky.fn is not LeakyReLU:
            continue
        scored = leaky.outputs[0]
        chain, p, generator = [node, leaky], 0.0, None
        soft = uses.only(scored)
        if soft is None or soft.args[0] != SparseRef(s, scored):
            continue
        if soft.fn is SoftmaxSpMM:
            chain.append(soft)
        elif soft.fn is RowSoftmax and soft.args[1] is False:
            chain.append(soft)
            nxt = uses.only(soft.outputs[0])
            weights = soft.outputs[0]
            if nxt is not None and nxt.fn is Dropout:
                _, p, generator = nxt.args
                chain.append(nxt)
                weights = nxt.outputs[0]
                nxt = uses.only(weights)
            if nxt is None or nxt.fn is not SpMM or nxt.args[0] != SparseRef(s, weights):
                continue
            chain.append(nxt)
        else:
            continue
        last = chain[-1]
        h = last.args[1]
        edge_needs, h_need = _needs(node), _needs(last)[1]
        new = Node("forward", "GATAttention", GATAttention,
                   (s, src, dst, h, leaky.args[1], float(p), generator, None, 0), {}, [],
                   {"needs_input_grad": (False, edge_needs[1], edge_needs[2], h_need)
                    + (False,) * 5,
                    "saved": [h.value],
                    "fused_from": [n.op for n in chain], "kernel": "gat_attention"})
        _produce(new, [last.outputs[0]])
        _replace(g, chain, [new], last)
        fused += 1
    g.notes.append(f"fusion: {fused} attention chains fused")
    return g


def _head_score(node: Node | None):
    """``(h Ref, att Ref)`` when ``node`` is ``einsum("nhf,ohf->nh", h, att)`` (a per-head dot
    with a (1, H, F) vector, any index letters), else None."""
    if node is None or node.fn is not Einsum or len(node.args) != 4:
        return None
    terms, out, h, att = node.args
    if not (isinstance(h, Ref) and isinstance(att, Ref)) or len(terms) != 2 or len(
            terms[0]) != 3:
        return None
    (n, k, f), t1 = terms[0], terms[1]
    if len({n, k, f}) != 3 or len(t1) != 3 or t1[1:] != k + f or t1[0] in (n, k, f) or (
            out != n + k) or att.value.shape[0] != 1:
        return None
    return h, att


def fold_attention_scores(graph: StaticGraph) -> StaticGraph:
    """`GATAttention` whose two score inputs are per-head dots of its own features ``h`` with
    (1, H, F) vectors (GATConv's ``einsum("nhf,ohf->nh", h, att)``), read by nothing else,
    into one `GATFeatureAttention` node: both scores from one pass over ``h``, and one (N, H, F)
    gradient for ``h`` instead of three summed."""
    g = graph.copy()
    folded = 0
    for node in list(g.nodes):
        if node.fn is not GATAttention:
            continue
        s, src, dst, h, slope, p, generator, entries, _ = node.args
        if entries is not None:  # rows already pruned
            continue
        uses = _Uses(g)
        einsums = [src.value.producer, dst.value.producer]
        scores = [_head_score(e) for e in einsums]
        if None in scores or any(ref != h for ref, _ in scores) or any(
                uses.only(e.outputs[0]) is not node for e in einsums):
            continue
        needs = _needs(node)
        new = Node("forward", "GATFeatureAttention", GATFeatureAttention,
                   (s, h, scores[0][1], scores[1][1], slope, p, generator, None, None, 0), {},
                   [], {"needs_input_grad": (False, any(_needs(e)[2] for e in einsums)
                                             or needs[3], _needs(einsums[0])[3],
                                             _needs(einsums[1])[3]) + (False,) * 6,
                    "saved": [h.value, scores[0][1].value, scores[1][1].value],
                    "fused_from": [e.op for e in einsums] + node.attrs.get("fused_from",
                                                                           [node.op]),
                    "kernel": "head_scores, gat_attention"})
        _produce(new, node.outputs)
        _replace(g, einsums + [node], [new], node)
        folded += 1
    g.notes.append(f"fusion: {folded} attention score pairs folded into the attention")
    return g
