"""Reverse-mode execution: an iterative walk over recorded nodes in dependency order.

Each node runs once, after every node that feeds it a gradient has run (dependency counting, as
HIPS autograd and PyTorch do), so deep graphs never recurse and shared subgraphs get their
summed gradient. Pending gradients live in a dict and are dropped as soon as their node runs.
"""

from __future__ import annotations

from sparsegraph.autograd.function import AccumulateGrad, Node, grad_edge
from sparsegraph.autograd.grad_mode import MODE
from sparsegraph.tensor import TRACE, Tensor, wrap


def _dependencies(roots) -> dict:
    """How many recorded edges point at each node reachable from ``roots``."""
    deps: dict = {}
    seen = set()
    # NOTE: several roots may be outputs of one node (split); count its edges only once
    stack = list(dict.fromkeys(node for node, _ in roots))
    for node in stack:
        seen.add(node)
    while stack:
        node = stack.pop()
        for child, _ in node.next_functions:
            if child is None:
                continue
            deps[child] = deps.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return deps


def _check(node: Node, i: int, g):
    shape, dtype = node.input_meta[i]
    if isinstance(g, Tensor):
        g = g.array
    elif not hasattr(g, "shape") or not hasattr(g, "dtype"):
        raise TypeError(
            f"{node.name()}: backward returned a {type(g).__name__} for input {i}; expected a "
            "Tensor (or array) of the input's shape, or None")
    if g.shape == shape and g.dtype != dtype and g.dtype.kind == "f" and dtype.kind == "f":
        # PyTorch's engine casts too: an op computing in a wider float (a float64 operand of a
        # float32 tensor's in-place op) hands each input a gradient of its own dtype
        return g.astype(dtype)
    if g.shape != shape or g.dtype != dtype:
        raise RuntimeError(
            f"{node.name()}: backward returned a gradient of shape {tuple(g.shape)} and dtype "
            f"{g.dtype} for input {i}, which has shape {tuple(shape)} and dtype {dtype}"
        )
    return g


def _call_hooks(hooks, g):
    for hook in list(hooks.values()):
        out = hook(wrap(g))
        if out is not None:
            new = out.array if isinstance(out, Tensor) else out
            if getattr(new, "shape", None) != g.shape or getattr(new, "dtype", None) != g.dtype:
                name = getattr(hook, "__name__", repr(hook))
                raise RuntimeError(
                    f"hook {name}: expected it to return None or a gradient of shape "
                    f"{tuple(g.shape)} and dtype {g.dtype} (got "
                    f"{type(new).__name__} of shape {getattr(new, 'shape', None)} and dtype "
                    f"{getattr(new, 'dtype', None)})")
            g = new
    return g


def _accumulate(acc: AccumulateGrad, g) -> None:
    if acc.hooks:
        g = _call_hooks(acc.hooks, g)
    leaf = acc.leaf
    # NOTE: `g` may be shared with another leaf's gradient, the caller's `gradient` or a
    # read-only broadcast view, so a first .grad is a copy the user may change in place; later
    # ones are fresh sums (never added in place: the old .grad may be referenced elsewhere)
    leaf._grad = wrap(g.copy()) if leaf._grad is None else wrap(leaf._grad.array + g)


def run_backward(roots, grads, *, retain_graph: bool, capture=None) -> dict | None:
    """Backpropagate ``grads`` (arrays) from ``roots`` (``(node, output_nr)`` edges).

    With ``capture`` (a set of edges), gradients reaching those edges are returned in a dict
    instead of being accumulated into leaves (`sparsegraph.autograd.grad`).
    """
    deps = _dependencies(roots)
    pending: dict = {}
    for (node, nr), g in zip(roots, grads, strict=True):
        slot = pending.setdefault(node, [None] * node.n_outputs)
        slot[nr] = g if slot[nr] is None else slot[nr] + g
    captured = {} if capture is not None else None
    ready = [node for node in pending if deps.get(node, 0) == 0]
    prev_mode, MODE.enabled = MODE.enabled, False
    try:
        while ready:
            node = ready.pop()
            node_grads = pending.pop(node)
            if captured is not None:
                for nr, g in enumerate(node_grads):
                    if (node, nr) in capture and g is not None:
                        captured[node, nr] = g
            if type(node) is AccumulateGrad:
                if capture is None and node_grads[0] is not None:
                    _accumulate(node, node_grads[0])
                continue
            if node.pre_hooks:
                for nr, hooks in node.pre_hooks.items():
                    if node_grads[nr] is not None:
                        node_grads[nr] = _call_hooks(hooks, node_grads[nr])
            if any(g is not None for g in node_grads):
                input_grads = node.run(node_grads)
                if len(input_grads) != len(node.next_functions):
                    raise RuntimeError(
                        f"{node.name()}: backward returned {len(input_grads)} gradients for "
                        f"{len(node.next_functions)} inputs"
                    )
                if not retain_graph:
                    node.ctx._free()
            else:
                input_grads = (None,) * len(node.next_functions)
            for i, ((child, nr), g) in enumerate(
                zip(node.next_functions, input_grads, strict=True)
            ):
                if child is None:
                    continue
                if g is not None:
                    g = _check(node, i, g)
                    slot = pending.setdefault(child, [None] * child.n_outputs)
                    slot[nr] = g if slot[nr] is None else slot[nr] + g
                else:
                    pending.setdefault(child, [None] * child.n_outputs)
                deps[child] -= 1
                if deps[child] == 0:
                    ready.append(child)
    finally:
        MODE.enabled = prev_mode
    return captured


def _root_grad(t: Tensor, gradient, what: str):
    if gradient is None:
        if t.array.size != 1:
            raise RuntimeError(
                f"{what}: grad can be implicitly created only for a scalar output (got shape "
                f"{t.shape}); pass `gradient` with the output's shape"
            )
        return t.xp.ones(t.shape, dtype=t.dtype)
    g = gradient.array if isinstance(gradient, Tensor) else t.xp.asarray(gradient, dtype=t.dtype)
    if g.shape != t.shape:
        raise ValueError(
            f"{what}: expected `gradient` of shape {t.shape} to match the output (got {g.shape})"
        )
    if g.dtype != t.dtype:
        g = g.astype(t.dtype)
    return g


def backward(tensor: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d tensor / d leaf into every leaf's ``.grad`` (see `Tensor.backward`)."""
    if tensor._view is not None:
        grad_edge(tensor)  # a view whose base changed in place: refresh its history first
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: the tensor does not require grad and has no grad_fn; set "
            "requires_grad=True on the inputs you want gradients for"
        )
    g = _root_grad(tensor, gradient, "backward")
    tracer = TRACE.tracer
    if tracer is not None:
        tracer.record_backward(tensor, g, gradient)  # the tensor, to follow a traced one
        tracer.depth += 1  # the eager backward's own op calls are not part of the trace
    try:
        run_backward([grad_edge(tensor)], [g], retain_graph=retain_graph)
    finally:
        if tracer is not None:
            tracer.depth -= 1


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated.

    Args:
        outputs: a Tensor or a sequence of Tensors.
        inputs: a Tensor or a sequence of Tensors that require grad.
        grad_outputs: one gradient per output (None entries mean ones for scalars).
        retain_graph: keep saved buffers for another backward. (default: False)
        allow_unused: return None for an input the outputs do not depend on instead of raising.

    Returns:
        A tuple with one gradient Tensor (or None) per input.
    """
    if TRACE.tracer is not None:
        TRACE.tracer.escape(None, "sparsegraph.autograd.grad()")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: expected {len(outputs)} grad_outputs to match the outputs "
            f"(got {len(grad_outputs)})"
        )
    for i, t in enumerate(inputs + outputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            kind = "inputs" if i < len(inputs) else "outputs"
            idx = i if i < len(inputs) else i - len(inputs)
            raise RuntimeError(f"grad: {kind}[{idx}] does not require grad")
    edges = [grad_edge(t) for t in inputs]
    roots = [grad_edge(t) for t in outputs]
    gs = [_root_grad(t, g, "grad") for t, g in zip(outputs, grad_outputs, strict=True)]
    captured = run_backward(roots, gs, retain_graph=bool(retain_graph), capture=set(edges))
    result = []
    for i, edge in enumerate(edges):
        g = captured.get(edge)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: inputs[{i}] was not used to compute the outputs; pass allow_unused=True"
            )
        result.append(None if g is None else wrap(g))
    return tuple(result)


def zero_grads(owner, params, set_to_none: bool = True) -> None:
    """Drop (or zero) the ``.grad`` of ``params``: `Module.zero_grad` and `Optimizer.zero_grad`.

    A static trace records it as one effect of ``owner``, replayed on every call; the ``.grad``
    writes it makes itself are not recorded again.
    """
    tracer = TRACE.tracer
    if tracer is not None:
        tracer.record_effect("zero_grad", owner, set_to_none=set_to_none)
        tracer.depth += 1
    try:
        for p in params:
            if p.grad is not None:
                # NOTE: never zero in place: the engine may share a gradient array between
                # several leaves.
                p.grad = None if set_to_none else wrap(p.grad.xp.zeros_like(p.grad.array))
    finally:
        if tracer is not None:
            tracer.depth -= 1
