"""What the tracer records besides op calls: random creation ops (as graph nodes that draw
again on every run), assignments to ``.grad`` of traced values, and the check that refuses a
``.backward()`` whose autograd graph has hooks (the static backward does not run them)."""

from __future__ import annotations

import functools

from sparsegraph.autograd.function import AccumulateGrad, Function, grad_edge


class CaptureError(RuntimeError):
    """The traced function does something a static graph cannot represent."""


@functools.cache
def draw_op(fn) -> type:
    """A Function running creation function ``fn`` (``randn``, ``randint``, ...) as an op.

    ``random`` marks it like dropout: never folded, merged or dropped, and kept in trace order
    among random ops, so each run draws from the generator exactly as the eager call does."""

    def forward(ctx, *args, **kwargs):
        return fn(*args, **kwargs).array

    doc = f"``{fn.__name__}`` recorded by a static trace: draws anew on every run."
    return type(fn.__name__, (Function,), {"random": True, "forward": staticmethod(forward),
                                           "__doc__": doc})


def set_data(tensor, value) -> None:
    """``tensor.data = value`` replayed: a copy, as this run's ``value`` may be a buffer the
    runtime reuses (eager mode shares it, but nothing else holds it there)."""
    array = value.array if hasattr(value, "array") else value
    tensor.data = array.copy()


def check_unrecorded_writes(graph, written: set) -> None:
    """Refuse a trace during which a bound tensor's version moved without a recorded op or
    effect writing it (``Module.load_state_dict``, an in-place numpy write): a replay would
    skip the change. ``written``: ids of the version counters recorded writes touched."""
    for v in graph.values():
        t = v.tensor
        if v.kind in ("param", "const") and v.version is not None and (
                t._version[0] != v.version and id(t._version) not in written):
            raise CaptureError(
                f"static.trace: the {v.kind} {v.label()} (shape {tuple(t.shape)}) was changed "
                "in place during the trace by code a static graph does not record (e.g. "
                "Module.load_state_dict or a write to .array); a replay would skip the change. "
                "Write it with ops (p.copy_(q) under no_grad), or do it outside the compiled "
                "function")


def set_grad(tensor, value) -> None:
    """``tensor.grad = value`` with ``value`` computed by the step (an effect node's call)."""
    tensor.grad = value


def check_no_hooks(tensor, label) -> None:
    """Refuse a ``.backward()`` from ``tensor`` that would run a gradient hook
    (``register_hook`` / ``retain_grad``): the graph's backward applies op rules only, so a
    replay would silently skip the hook. ``label(t)`` names a leaf for the message."""
    stack, seen = [grad_edge(tensor)[0]], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if type(node) is AccumulateGrad:
            if node.hooks:
                where = f"the leaf {label(node.leaf)}"
                break
            continue
        if node.pre_hooks and any(node.pre_hooks.values()):
            where = f"an output of {node.name()[:-len('Backward')]}"
            break
        stack.extend(child for child, _ in node.next_functions)
    else:
        return
    raise CaptureError(
        f"static.trace: .backward() reaches a gradient hook (register_hook or retain_grad) on "
        f"{where}; a static graph's backward does not run hooks, so a replay would skip it. "
        "Remove the hook and change the gradient after backward instead (e.g. "
        "p.grad.mul_(0.5)), or run this step eagerly")
