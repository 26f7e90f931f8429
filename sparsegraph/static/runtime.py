"""Layer 2, the runtime: a schedule, a memory plan from liveness analysis, and the executor.

The executor walks the schedule once per call. It keeps each Value only until its last reader
has run (a backward node reads what its forward saved, so those live until then) and each
forward node's context only until its backward node has run; so the peak is the plan's peak,
not the sum of all intermediates. Kernels come from the same registry as eager mode: a node runs
its op's own ``forward`` / ``backward``.

In-place execution where safe: when nothing reads a forward node's output after its backward
(not a graph output; every reader's own backward, which may have saved it, already ran), the
executor sets ``ctx.output_reusable`` and the op's backward may write its result into that
buffer. Likewise ``ctx.grad_reusable`` when the incoming gradient dies at this node and no other
Value holds the same tensor: the backward may overwrite it (`SpMMBiasAct` puts its masked
gradient there and lets go of the dead activation, so the next buffer reuses its memory).
And ``ctx.last_backward`` at a context's last backward node: the context is dropped after
it, so what only it holds (GAT's attention coefficients) may be overwritten. Eager mode never
sets these - a user may still hold the output or the gradient, or run the backward again
(retain_graph). A step with two ``.backward()`` calls through one forward node (retain_graph,
or two losses sharing a node after CSE) runs its backward twice on one context: only the last
run is told so, and the output is never reused.

A gradient a backward rule returns as None (``copy_``'s for the tensor an in-place activation
overwrites, a custom Function's for an input it does not differentiate) means "no
contribution", as in eager mode: a ``sum`` node skips it, a backward node all of whose incoming
gradients are None is skipped (its inputs get None), and an ``accumulate`` node leaves ``.grad``
as it is.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from sparsegraph.autograd.function import Context, materialize_grads
from sparsegraph.autograd.grad_mode import MODE
from sparsegraph.backend import array_module, device_type
from sparsegraph.sparse import SparseTensor
from sparsegraph.static.ir import ArrayRef, GradRef, Node, Ref, SparseRef, iter_refs
from sparsegraph.tensor import Tensor, wrap


def schedule(graph) -> list[Node]:
    """A topological order of the nodes that keeps side effects and random ops in trace order.

    Kahn's algorithm over data dependencies plus a chain through every side-effecting or random
    node (their relative order is the program's meaning: zero_grad, accumulate, step; the
    random draws of dropout masks). Among ready nodes the earliest in trace order goes first,
    so an already valid order is kept.
    """
    position = {n.id: i for i, n in enumerate(graph.nodes)}
    producer = {v.id: v.producer for n in graph.nodes for v in n.outputs if v is not None}
    deps: dict[int, set[int]] = {n.id: set() for n in graph.nodes}
    last_ordered = last_effect = None
    readers: dict[int, list[int]] = {}
    for n in graph.nodes:
        for v in n.inputs():
            p = producer.get(v.id)
            if p is not None and p.id in deps:
                deps[n.id].add(p.id)
            elif last_effect is not None and v.kind != "op":
                # a bound tensor keeps its Value across an effect that writes it (an
                # optimizer step): a read after the effect must stay after it
                deps[n.id].add(last_effect.id)
            readers.setdefault(v.id, []).append(n.id)
        if n.kind == "effect":
            last_effect = n
        if n.forward is not None and n.forward.id in deps:
            deps[n.id].add(n.forward.id)
        if not n.pure:
            if last_ordered is not None:
                deps[n.id].add(last_ordered.id)
            last_ordered = n
            if n.kind == "effect" or n.attrs.get("inplace"):
                for nid in {r for ids in readers.values() for r in ids}:  # writes after reads
                    if nid != n.id and position[nid] < position[n.id]:
                        deps[n.id].add(nid)
    import heapq

    users: dict[int, list[int]] = {}
    for nid, ds in deps.items():
        for d in ds:
            users.setdefault(d, []).append(nid)
    missing = {nid: len(ds) for nid, ds in deps.items()}
    ready = [position[nid] for nid, k in missing.items() if k == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = graph.nodes[heapq.heappop(ready)]
        order.append(node)
        for u in users.get(node.id, ()):
            missing[u] -= 1
            if missing[u] == 0:
                heapq.heappush(ready, position[u])
    if len(order) != len(graph.nodes):
        raise RuntimeError("schedule: the graph has a cycle")
    return order


def last_uses(order: list[Node], keep: set[int]) -> dict[int, list[int]]:
    """node position -> ids of the Values whose last reader is that node (never ``keep``)."""
    last: dict[int, int] = {}
    for i, node in enumerate(order):
        for v in node.inputs():
            last[v.id] = i
        for v in node.outputs:
            if v is not None:
                last.setdefault(v.id, i)  # never read: dies where it is made
    out: dict[int, list[int]] = {}
    for vid, i in last.items():
        if vid not in keep:
            out.setdefault(i, []).append(vid)
    return out


def reusable_outputs(order: list[Node], keep: set[int]) -> set[int]:
    """Ids of the backward nodes whose forward's (first) output nobody reads afterwards: not
    kept, every node reading it comes earlier, and so does the backward of every forward
    reader (whose context may hold it)."""
    position = {n.id: i for i, n in enumerate(order)}
    backward_of = {n.forward.id: position[n.id] for n in order if n.kind == "backward"}
    readers: dict[int, list[Node]] = {}
    for node in order:
        for v in node.inputs():
            readers.setdefault(v.id, []).append(node)
    out = set()
    for node in order:
        if node.kind != "backward" or not node.forward.outputs:
            continue
        v, here = node.forward.outputs[0], position[node.id]
        if v is None or v.id in keep:
            continue
        if all(position[r.id] <= here and backward_of.get(r.id, -1) < here
               for r in readers.get(v.id, ()) if r is not node):
            out.add(node.id)
    return out


@dataclass
class MemoryPlan:
    """Bytes of intermediates under the schedule. ``peak_bytes``: the most alive at once when
    each is freed after its last reader; ``total_bytes``: all of them (nothing freed);
    ``buffers`` / ``buffer_bytes``: a size-matched reuse assignment (a freed buffer of the
    same size is taken before a new one is allocated); ``eager_peak_bytes``: eager mode's
    peak for the same step, estimated from the traced graph (`eager_peak`; None when the graph
    was not built by `passes.optimize`); ``folded_bytes``: the constants the passes computed
    once (``folded:...``), held between calls on top of the peak."""

    peak_bytes: int
    total_bytes: int
    buffers: int
    buffer_bytes: int
    eager_peak_bytes: int | None = None
    folded_bytes: int = 0

    def __str__(self) -> str:
        # both peaks are liveness estimates over whole results: a buffer an op overwrites in
        # place (a fused backward writing its gradient over the dead activation) counts twice
        if self.eager_peak_bytes is None:  # no trace to compare with: all intermediates
            versus = (f"vs {size_text(self.total_bytes)} if none were freed (the sum of all "
                      "intermediates)")
        else:
            versus = (f"vs {size_text(self.eager_peak_bytes)} for eager mode (the traced ops "
                      "in eager order)")
        return (f"planned peak {size_text(self.peak_bytes)} of intermediates {versus}; "
                "liveness estimates: each result freed after its last use, saved tensors "
                "after their backward, in-place reuse inside ops not counted; "
                f"{self.buffers} buffers ({size_text(self.buffer_bytes)}) with reuse; "
                f"{size_text(self.folded_bytes)} of constants computed once")


def size_text(nbytes: int) -> str:
    """``nbytes`` readable at any size: bytes, KiB, MiB or GiB (three significant digits)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes} bytes"


def _liveness(order: list[Node], keep: set[int]) -> tuple[int, int, int, int]:
    """``(peak, total, buffers, buffer_bytes)`` of the op outputs when ``order`` runs and each
    output is freed after its last reader (`MemoryPlan`)."""
    dying = last_uses(order, keep)
    live = peak = total = 0
    pool: dict[int, int] = {}  # nbytes -> free buffers of that size
    buffers = buffer_bytes = 0
    sizes: dict[int, int] = {}
    for i, node in enumerate(order):
        for v in node.outputs:
            if v is None or v.kind != "op":
                continue
            n = sizes[v.id] = v.nbytes
            live += n
            total += n
            if pool.get(n):
                pool[n] -= 1
            else:
                buffers += 1
                buffer_bytes += n
        peak = max(peak, live)
        for vid in dying.get(i, ()):
            n = sizes.pop(vid, None)
            if n is not None:
                live -= n
                pool[n] = pool.get(n, 0) + 1
    return peak, total, buffers, buffer_bytes


def eager_peak(graph) -> int:
    """Eager mode's peak bytes of intermediates for a traced ``graph`` (before any pass),
    estimated as eager runs it: the nodes in trace order, each recorded ``.backward()``
    expanded into the backward nodes the engine runs there, each op output alive from its
    producer to its last use and a tensor saved for backward until its backward node (eager
    frees a context's saved tensors then). An estimate: Python names that keep a result
    alive longer, and in-place ops writing their input's memory, are not modelled (the
    planned peak does not model the latter either)."""
    if graph.count(kind="backward_root"):
        graph = graph.backward_graph()
    return _liveness(graph.nodes, {v.id for v in graph.output_values()})[0]


def memory_plan(graph, order: list[Node] | None = None) -> MemoryPlan:
    """The `MemoryPlan` of ``graph`` under ``order`` (default: `schedule`); the eager
    estimate is the one `passes.optimize` left on the graph (``graph.eager_peak_bytes``)."""
    order = schedule(graph) if order is None else order
    keep = {v.id for v in graph.output_values()}
    folded = sum(v.nbytes for v in graph.values()
                 if v.kind == "const" and v.name.startswith("folded:"))
    return MemoryPlan(*_liveness(order, keep), graph.eager_peak_bytes, folded)


def _getter(template):
    """A function env -> the argument ``template`` describes (built once per node)."""
    if isinstance(template, ArrayRef):
        vid = template.value.id
        return lambda env: env[vid].array
    if isinstance(template, GradRef):
        vid = template.value.id
        return lambda env: env[vid].grad
    if isinstance(template, Ref):
        vid = template.value.id
        return lambda env: env[vid]
    if isinstance(template, SparseRef):
        vid, structure = template.values.id, template.structure
        return lambda env: SparseTensor(structure, env[vid])
    if isinstance(template, tuple | list):
        parts = [_getter(t) for t in template]
        kind = type(template)
        return lambda env: kind(p(env) for p in parts)
    if isinstance(template, dict):
        parts = {k: _getter(t) for k, t in template.items()}
        return lambda env: {k: p(env) for k, p in parts.items()}
    return lambda env: template


def _sole_holder(t) -> bool:
    """Whether the backward's argument tuple (once) and this call are all that hold tensor
    ``t``: no other Value of the env is the same tensor. Counted against a probe held the same
    way, so it does not depend on how the interpreter counts arguments."""
    probe = object()
    held = (probe,)  # noqa: F841  (the probe held as t is: by one tuple and one name)
    return sys.getrefcount(t) <= sys.getrefcount(probe)


def _as_tensor(out):
    return out if isinstance(out, Tensor) or out is None else wrap(out)


def _check_sparsity(i: int, v, x) -> None:
    """A sparse input's structure is baked into the graph (kernels, folded normalisations):
    the graph runs only with that very structure object."""
    if v.structure is None:
        if isinstance(x, SparseTensor):
            raise ValueError(f"StaticGraph: expected input {i} to be a dense Tensor like the "
                             "traced one (got a SparseTensor); trace again")
    elif not isinstance(x, SparseTensor) or x.structure is not v.structure:
        got = "another sparsity structure" if isinstance(x, SparseTensor) else (
            type(x).__name__)
        raise ValueError(f"StaticGraph: expected input {i} to be a SparseTensor with the traced "
                         f"structure (got {got}); the structure is a constant of the graph, "
                         "trace again for a new one (static.compile does)")


def _missing_grad_meta(fn, forward: Node):
    """``(shape, dtype, xp)`` per output of a custom Function with several outputs, whose
    backward gets zeros for the outputs the loss misses, as in eager
    (`Context.set_materialize_grads`); None for built-in ops (they take None)."""
    if len(forward.outputs) < 2 or getattr(fn, "_builtin", True):
        return None
    return [None if v is None else (v.shape, v.dtype, array_module(device_type(v.device)))
            for v in forward.outputs]


class Executor:
    """Runs a StaticGraph: ``Executor(graph).run(*inputs)`` -> the outputs (detached)."""

    def __init__(self, graph):
        self.graph = graph
        self.order = schedule(graph)
        keep = {v.id for v in graph.output_values()}
        self.dying = last_uses(self.order, keep)
        self.bound = [v for v in graph.values() if v.kind in ("param", "const")]
        self.reusable = reusable_outputs(self.order, keep)
        # forward node id -> its backward nodes in schedule order (more than one: two roots)
        self.backwards: dict[int, list[int]] = {}
        for node in self.order:
            if node.kind == "backward":
                self.backwards.setdefault(node.forward.id, []).append(node.id)
        self.steps = [self._step(node, set(self.dying.get(i, ()))) for i, node in
                      enumerate(self.order)]
        self.outputs = _getter(graph.outputs)

    def _step(self, node: Node, dies_here: set[int]):
        args, kwargs = _getter(node.args), _getter(node.kwargs)
        outs = [None if v is None else v.id for v in node.outputs]
        if node.kind == "forward":
            fn, needs = node.fn, node.attrs.get("needs_input_grad", ())
            keep_ctx = node.attrs.get("has_backward", False)
            if not keep_ctx:
                needs = (False,) * len(needs)
            first = next((v for v in node.outputs if v is not None), None)
            dev = "cpu" if first is None else device_type(first.device)

            def run(env, ctxs):
                ctx = Context(needs, dev)
                result = fn.forward(ctx, *args(env), **kwargs(env))
                if keep_ctx:
                    ctxs[node.id] = ctx
                return result
        elif node.kind == "backward":
            fn, fid, n_in = node.fn, node.forward.id, len(node.outputs)
            runs = self.backwards[fid]
            last = runs[-1] == node.id  # a later backward node reads this context again
            reusable = node.id in self.reusable and len(runs) == 1
            # nobody reads the output again: let go of the env's reference now, so that the
            # op's own check sees the context as its only holder
            drop = node.forward.outputs[0].id if reusable else None
            if drop is not None and any(r.value.id == drop for r in iter_refs(
                    (node.args, node.kwargs)) if isinstance(r, Ref)):
                drop = None

            # the incoming gradient, when this node is its last reader
            grads = [r.value.id for r in iter_refs(node.args) if isinstance(r, Ref)]
            zeros_for = _missing_grad_meta(fn, node.forward)
            none_in = (None,) * n_in
            last_grad = grads[0] if len(grads) == 1 and grads[0] in dies_here else None

            def run(env, ctxs):
                ctx = ctxs.pop(fid) if last else ctxs[fid]
                ctx.last_backward = last  # popped: nothing runs this backward again
                if reusable:
                    ctx.output_reusable = True
                    env.pop(drop, None)
                a = args(env)
                if last_grad is not None:
                    ctx.grad_reusable = _sole_holder(env.pop(last_grad, None))
                elif len(runs) > 1:  # an earlier run's word must not reach this gradient
                    ctx.grad_reusable = False
                if all(g is None for g in a):
                    # no gradient reached the outputs (a rule returned None for them, as
                    # copy_'s does for the tensor an in-place activation overwrites): eager
                    # mode skips the node, so its inputs get None, "no contribution"
                    return none_in
                if zeros_for is not None and ctx._materialize is not False:
                    # the eager rule (Tensors pass through; None becomes a zeros array)
                    a = [g if g is None or isinstance(g, Tensor) else wrap(g)
                         for g in materialize_grads(a, zeros_for)]
                result = fn.backward(ctx, *a)
                result = result if isinstance(result, tuple) else (result,)
                return result[:n_in]
        elif node.kind == "sum":
            def run(env, ctxs):
                total = None
                for t in args(env):
                    if t is not None:  # a backward rule's None adds nothing (as in eager)
                        total = t.array if total is None else total + t.array
                return total
        elif node.kind == "accumulate":
            target = node.attrs["target"]

            def run(env, ctxs):
                (g,) = args(env)
                if g is None:  # no gradient reached the leaf on this run: .grad unchanged
                    return
                t = env[target.id]
                # a first .grad is a copy, as in eager mode: the total may be shared with
                # another leaf's (Add's backward hands both the same array), be the caller's
                # `gradient` or a read-only broadcast view, and the step may change .grad in
                # place (`p.grad.mul_(0.5)`)
                t.grad = wrap(g.array.copy()) if t.grad is None else wrap(t.grad.array + g.array)
        elif node.kind == "read_grad":
            owner = node.args[0].value

            def run(env, ctxs):
                g = env[owner.id].grad
                if g is None:
                    raise RuntimeError(
                        f"compiled step: {owner.label()}.grad was a tensor when the step was "
                        "traced and is None now; the graph reads it at the same place, so it "
                        "must exist there (call the step as traced, or trace again)")
                return g
        elif node.kind == "effect":
            fn = node.fn

            def run(env, ctxs):
                fn(**kwargs(env))
        else:
            raise RuntimeError(f"Executor: cannot run a {node.kind!r} node ({node.op}); build "
                               "the backward graph first (graph.backward_graph())")
        return run, outs

    def run(self, *inputs):
        graph = self.graph
        if len(inputs) != len(graph.inputs):
            raise TypeError(f"StaticGraph: expected {len(graph.inputs)} inputs "
                            f"(got {len(inputs)})")
        env: dict[int, Tensor] = {}
        for i, (v, x) in enumerate(zip(graph.inputs, inputs, strict=True)):
            _check_sparsity(i, v, x)
            t = x.values if isinstance(x, SparseTensor) else x
            if not isinstance(t, Tensor) or tuple(t.shape) != v.shape or t.dtype != v.dtype:
                got = (f"{t.dtype}{list(t.shape)}" if isinstance(t, Tensor)
                       else type(t).__name__)
                raise ValueError(f"StaticGraph: expected input {i} to be a Tensor "
                                 f"{v.dtype}{list(v.shape)} like the traced one (got {got}); "
                                 "trace again for new shapes")
            env[v.id] = t
        for v in self.bound:
            env[v.id] = v.tensor
        ctxs: dict = {}
        dying = self.dying
        prev, MODE.enabled = MODE.enabled, False
        try:
            for i, (run, outs) in enumerate(self.steps):
                result = run(env, ctxs)
                if outs:
                    if len(outs) == 1:
                        if not isinstance(result, tuple):
                            result = (result,)
                    for vid, r in zip(outs, result, strict=False):
                        if vid is not None:
                            env[vid] = _as_tensor(r)
                    result = r = None  # the env holds the outputs alone (see _sole_holder)
                for vid in dying.get(i, ()):
                    env.pop(vid, None)
            return self.outputs(env)
        finally:
            MODE.enabled = prev
