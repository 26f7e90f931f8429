"""Reverse-mode execution: an iterative walk over recorded nodes in dependency order.

Each node runs once, after every node that feeds it a gradient has run (dependency counting, as
HIPS autograd and PyTorch do), so deep graphs never recurse and shared subgraphs get their
summed gradient. Pending gradients live in a dict and are dropped as soon as their node runs.
"""

from __future__ import annotations

from sparsegraph.autograd.anomaly import ANOMALY, check_nan
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


def _grad_subgraph(roots, capture) -> tuple[set, dict]:
    """For ``grad()``: the nodes with a path to a captured edge (the only ones run, as
    PyTorch's ``exec_info``) and the dependency counts of the subgraph they and the captured
    nodes form. Nodes below the inputs are neither run nor freed, and their hooks do not fire."""
    targets = {node for node, _ in capture}
    deps = _dependencies(roots)
    # children before parents: reverse a topological order (Kahn's, over the reachable graph)
    order = []
    ready = [node for node in dict.fromkeys(node for node, _ in roots) if not deps.get(node)]
    while ready:
        node = ready.pop()
        order.append(node)
        for child, _ in node.next_functions:
            if child is not None:
                deps[child] -= 1
                if deps[child] == 0:
                    ready.append(child)
    needed: set = set()
    for node in reversed(order):
        for child, _ in node.next_functions:
            if child is not None and (child in needed or child in targets):
                needed.add(node)
                break
    sub_deps: dict = {}
    for node in needed:
        for child, _ in node.next_functions:
            if child is not None and (child in needed or child in targets):
                sub_deps[child] = sub_deps.get(child, 0) + 1
    return needed, sub_deps


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
                    f"{tuple(g.shape)} and dtype {g.dtype} (got {type(out).__name__} of shape "
                    f"{tuple(getattr(new, 'shape', ()))} and dtype {getattr(new, 'dtype', None)})")
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

    With ``capture`` (a set of edges), gradients reaching those edges (after the hooks of the
    tensors they belong to) are returned in a dict instead of being accumulated into leaves
    (`sparsegraph.autograd.grad`); only the nodes on a path from the roots to a captured edge
    run.
    """
    if capture is None:
        needed = None
        deps = _dependencies(roots)
    else:
        needed, deps = _grad_subgraph(roots, capture)
        targets = {node for node, _ in capture}
    pending: dict = {}
    for (node, nr), g in zip(roots, grads, strict=True):
        slot = pending.setdefault(node, [None] * node.n_outputs)
        slot[nr] = g if slot[nr] is None else slot[nr] + g
    captured = {} if capture is not None else None
    ready = [node for node in pending if deps.get(node, 0) == 0]
    nan_check = ANOMALY.enabled and ANOMALY.check_nan  # `detect_anomaly`: read once
    prev_mode, MODE.enabled = MODE.enabled, False
    try:
        while ready:
            node = ready.pop()
            node_grads = pending.pop(node)
            if needed is not None and node not in needed and node not in targets:
                continue  # a root that leads to no input of grad()
            if type(node) is AccumulateGrad:
                g = node_grads[0]
                if g is None:
                    continue
                if needed is None:
                    _accumulate(node, g)
                else:  # a leaf that grad() asked for: its hooks run, then it is captured
                    captured[node, 0] = _call_hooks(node.hooks, g) if node.hooks else g
                continue
            if node.pre_hooks:
                for nr, hooks in node.pre_hooks.items():
                    if node_grads[nr] is not None:
                        node_grads[nr] = _call_hooks(hooks, node_grads[nr])
            if needed is not None:
                for nr, g in enumerate(node_grads):
                    if g is not None and (node, nr) in capture:
                        captured[node, nr] = g
                if node not in needed:
                    continue  # nothing asked for lies below: neither run nor freed
            if any(g is not None for g in node_grads):
                input_grads = node.run(node_grads)
                if nan_check:
                    check_nan(node, input_grads)
                n_inputs = len(node.next_functions)
                if len(input_grads) != n_inputs:
                    input_grads = _trim(node, input_grads, n_inputs)
                if not retain_graph:
                    node.ctx._free()
            else:
                input_grads = (None,) * len(node.next_functions)
            for i, ((child, nr), g) in enumerate(
                zip(node.next_functions, input_grads, strict=True)
            ):
                if child is None or needed is not None and child not in deps:
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


def _trim(node, input_grads, n_inputs: int) -> tuple:
    """``input_grads`` cut to ``n_inputs``: PyTorch drops extra trailing results that are
    all None (a backward written for an optional argument) and rejects any other count."""
    if len(input_grads) > n_inputs and all(g is None for g in input_grads[n_inputs:]):
        return input_grads[:n_inputs]
    raise RuntimeError(
        f"{node.name()}: backward returned an incorrect number of gradients (expected "
        f"{n_inputs}, one per input of forward, got {len(input_grads)})")


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


def _no_double_backward(create_graph, what: str) -> None:
    if create_graph:
        raise NotImplementedError(
            f"{what}: create_graph=True is not supported: backward is first order only (double "
            "backward, gradients of gradients, is not implemented); pass create_graph=False")


def _as_list(tensors, what: str, name: str) -> list:
    """``tensors`` (a Tensor or a sequence of them) as a list, checked to be Tensors."""
    items = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}: expected `{name}` to be Tensors (got "
                            f"{type(t).__name__} at {i})")
    return items


def _grads_for(outputs: list, grads, what: str, name: str) -> list:
    """One gradient (or None) per output, from None, a single gradient or a sequence."""
    if grads is None:
        return [None] * len(outputs)
    if isinstance(grads, Tensor) or hasattr(grads, "shape"):
        grads = [grads]  # one gradient, a Tensor or an array (not a sequence of its rows)
    grads = list(grads)
    if len(grads) != len(outputs):
        raise ValueError(f"{what}: expected {len(outputs)} {name} to match the outputs "
                         f"(got {len(grads)})")
    return grads


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None, *, gradient=None) -> None:
    """Accumulate the gradient of ``tensors`` into the ``.grad`` of the leaves they use.

    Args:
        tensors: a Tensor or a sequence of Tensors; their gradients are summed.
        grad_tensors: one gradient per tensor (None: ones, for a one-element tensor).
            ``gradient`` is accepted as an alias (`Tensor.backward`'s name).
        retain_graph: keep saved buffers for another backward. (default: False)
        create_graph: must be False (double backward is not supported).
        inputs: Tensors (leaves or not) whose ``.grad`` receives the gradient; no other
            ``.grad`` changes and only the nodes leading to them run. (default: every leaf)
    """
    _no_double_backward(create_graph, "backward")
    if gradient is not None:
        if grad_tensors is not None:
            raise TypeError("backward: pass the gradient as `grad_tensors` or as `gradient`, "
                            "not both")
        grad_tensors = gradient
    tensors = _as_list(tensors, "backward", "tensors")
    if not tensors:
        raise RuntimeError("backward: expected at least one tensor to backpropagate from")
    given = _grads_for(tensors, grad_tensors, "backward", "grad_tensors")
    if inputs is not None:
        inputs = _as_list(inputs, "backward", "inputs")
        if not inputs:
            raise RuntimeError("backward: `inputs` was given but is empty; pass None to "
                               "accumulate into every leaf")
    for t in tensors:
        if t._view is not None:
            grad_edge(t)  # a view whose base changed in place: refresh its history first
        if not t.requires_grad:
            raise RuntimeError(
                "backward: the tensor does not require grad and has no grad_fn; set "
                "requires_grad=True on the inputs you want gradients for"
            )
    gs = [_root_grad(t, g, "backward") for t, g in zip(tensors, given, strict=True)]
    tracer = TRACE.tracer
    if tracer is not None:
        if len(tensors) > 1 or inputs is not None:
            tracer.escape(None, "sparsegraph.autograd.backward() with several tensors or "
                          "`inputs`")
        tracer.record_backward(tensors[0], gs[0], given[0])  # the tensor, to follow it
        tracer.depth += 1  # the eager backward's own op calls are not part of the trace
    try:
        roots = [grad_edge(t) for t in tensors]
        if inputs is None:
            run_backward(roots, gs, retain_graph=bool(retain_graph))
            return
        _backward_into(roots, gs, inputs, retain_graph=bool(retain_graph))
    finally:
        if tracer is not None:
            tracer.depth -= 1


def _backward_into(roots, gs, inputs, *, retain_graph: bool) -> None:
    """``backward(..., inputs=inputs)``: the graph walk of `grad`, then each leaf's gradient
    (after its hooks) added to its ``.grad``; a non-leaf input retains its gradient
    (`Tensor.retain_grad`, as PyTorch does for one)."""
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"backward: inputs[{i}] does not require grad")
        t.retain_grad()  # a no-op for a leaf
    inputs = list({id(t): t for t in inputs}.values())
    edges = [grad_edge(t) for t in inputs]
    captured = run_backward(roots, gs, retain_graph=retain_graph, capture=set(edges))
    for t, edge in zip(inputs, edges, strict=True):
        g = captured.get(edge)
        if g is not None and t.grad_fn is None:  # a copy first, later a fresh sum (`_accumulate`)
            t._grad = wrap(g.copy()) if t._grad is None else wrap(t._grad.array + g)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, *, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated.

    Only the nodes on a path from ``outputs`` to ``inputs`` run (the graph below the inputs
    is left alone, as in PyTorch); hooks registered on an input run before its gradient is
    taken.

    Args:
        outputs: a Tensor or a sequence of Tensors.
        inputs: a Tensor or a non-empty sequence of Tensors that require grad.
        grad_outputs: one gradient per output (None entries mean ones for scalars).
        retain_graph: keep saved buffers for another backward. (default: False)
        create_graph: must be False (double backward is not supported).
        allow_unused: return None for an input the outputs do not depend on instead of
            raising. (default: False, or True with ``materialize_grads``)
        materialize_grads: zeros (shaped like the input) instead of None for an unused
            input; it implies ``allow_unused``, and ``allow_unused=False`` with it is a
            ValueError, as in PyTorch. (default: False)

    Returns:
        A tuple with one gradient Tensor (or None) per input.
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("grad: expected allow_unused to be True or not passed when "
                         "materialize_grads=True (got allow_unused=False)")
    if allow_unused is None:
        allow_unused = materialize_grads
    if TRACE.tracer is not None:
        TRACE.tracer.escape(None, "sparsegraph.autograd.grad()")
    _no_double_backward(create_graph, "grad")
    outputs = _as_list(outputs, "grad", "outputs")
    inputs = _as_list(inputs, "grad", "inputs")
    if not inputs:
        raise RuntimeError("grad requires non-empty inputs")
    grad_outputs = _grads_for(outputs, grad_outputs, "grad", "grad_outputs")
    for i, t in enumerate(inputs + outputs):
        if not t.requires_grad:
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
        if g is None and materialize_grads:
            g = inputs[i].xp.zeros(inputs[i].shape, inputs[i].dtype)
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
