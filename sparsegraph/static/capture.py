"""Capture: run a function once, eagerly, and record every op it calls into a `StaticGraph`.

The core calls the active tracer's hooks (`sparsegraph.tensor.TRACE`): ``record`` after each
`Function.apply`, ``rebind`` after an in-place op, ``record_backward`` when ``.backward()`` is
called, ``record_effect`` for optimizer ``zero_grad`` / ``step``, and ``escape`` when Python
reads a tensor's value (``.item()``, ``bool(t)``, ``.numpy()``), which a static graph cannot
capture.
"""

from __future__ import annotations

import weakref

from sparsegraph import kernels
from sparsegraph.sparse import SparseTensor
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.ir import Node, Ref, SparseRef, Value
from sparsegraph.tensor import TRACE, Tensor


class CaptureError(RuntimeError):
    """The traced function does something a static graph cannot represent."""


class Tracer:
    def __init__(self):
        self.nodes: list[Node] = []
        self.depth = 0  # > 0 inside an op's forward or an eager backward: nothing is recorded
        # id(tensor) -> (weak reference, Value): weak, so the traced eager run frees what it
        # would free untraced; the reference also tells a reused id from the original tensor
        self._values: dict[int, tuple[weakref.ref, Value]] = {}
        self._kernels: list[str] = []
        self._known: set[int] = set()  # ids of op outputs computed from constants only

    # ---- values -------------------------------------------------------------------------
    def bind(self, t: Tensor, kind: str, name: str = "") -> Value:
        v = Value(kind, tuple(t.shape), t.dtype, t.device, name=name)
        self._values[id(t)] = (weakref.ref(t), v)
        if kind != "op":
            v.tensor = t  # inputs, parameters and constants are bound (kept) by the graph
        return v

    def _entry(self, t):
        entry = self._values.get(id(t))
        return entry if entry is not None and entry[0]() is t else None

    def value_of(self, t: Tensor) -> Value:
        entry = self._entry(t)
        if entry is not None:
            return entry[1]
        kind = "param" if (t.grad_fn is None and t.requires_grad) else "const"
        return self.bind(t, kind, getattr(t, "_name", None) or "")

    def template(self, obj):
        if isinstance(obj, Tensor):
            return Ref(self.value_of(obj))
        if isinstance(obj, SparseTensor):
            return SparseRef(obj.structure, self.value_of(obj.values))
        if isinstance(obj, tuple | list):
            items = [self.template(o) for o in obj]
            return tuple(items) if isinstance(obj, tuple) else items
        if isinstance(obj, dict):
            return {k: self.template(o) for k, o in obj.items()}
        return obj

    # ---- hooks called by the core --------------------------------------------------------
    def record(self, cls, args, kwargs, outs, ctx) -> None:
        if self.depth:
            return
        node = Node("forward", cls.__name__, cls, self.template(tuple(args)),
                    self.template(dict(kwargs)), [])
        known = not getattr(cls, "random", False) and all(
            v.kind == "const" or v.id in self._known for v in node.inputs())
        for i, o in enumerate(outs):
            if o is None:
                node.outputs.append(None)
                continue
            v = self.bind(o, "op")
            v.producer, v.index = node, i
            node.outputs.append(v)
            if known:
                self._known.add(v.id)
        node.attrs["needs_input_grad"] = tuple(ctx.needs_input_grad)
        node.attrs["kernel"] = ", ".join(dict.fromkeys(self._kernels))
        node.attrs["saved"] = self._saved_values(ctx, outs)
        self._kernels.clear()
        self.nodes.append(node)

    def _saved_values(self, ctx, outs) -> list[Value]:
        """The Values an op's backward reads (for liveness): its saved tensors and output."""
        saved = []
        for t in ctx._saved:
            entry = self._entry(t) if isinstance(t, Tensor) else None
            if entry is not None:
                saved.append(entry[1])
        output = ctx.__dict__.get("_output")
        for o in outs:
            if o is not None and output is not None and o.array is output:
                saved.append(self._entry(o)[1])
        return saved

    def rebind(self, target: Tensor, result: Tensor) -> None:
        entry = None if self.depth else self._entry(result)
        if entry is None:
            return
        v = entry[1]
        v.producer.attrs["inplace"] = True
        self._values[id(target)] = (weakref.ref(target), v)

    def record_backward(self, tensor: Tensor, gradient) -> None:
        if self.depth:
            return
        root = self.value_of(tensor)
        self.nodes.append(Node("backward_root", "backward", None, (Ref(root),), {}, [],
                               {"gradient": gradient.copy()}))

    def record_effect(self, name: str, optimizer, closure=None, **kwargs) -> None:
        if self.depth:
            return
        if closure is not None:
            raise CaptureError(f"static.trace: {type(optimizer).__name__}.{name}(closure) "
                               "cannot be captured; call the closure's code in the step instead")
        fn = getattr(optimizer, name)
        self.nodes.append(Node("effect", f"{type(optimizer).__name__}.{name}", fn, (), kwargs,
                               [], {"optimizer": optimizer}))

    def escape(self, t, what: str) -> None:
        if self.depth:
            return
        entry = None if t is None else self._entry(t)
        if t is not None and (entry is None or entry[1].kind == "const"
                              or entry[1].id in self._known):
            return  # a constant's value (or one computed from constants) is known now
        source = ""
        if entry is not None and entry[1].producer is not None:
            source = f" (the output of {entry[1].producer.op})"
        raise CaptureError(
            f"static.trace: {what} reads the value of a traced tensor{source}; a static graph "
            "cannot capture Python control flow or values that depend on tensor data. Move it "
            "out of the traced function, or compute it with tensor ops (e.g. ops.where)")

    def on_dispatch(self, op, device, fmt, fn) -> None:
        if self.depth <= 1:  # the kernel of the op being recorded, not of nested helpers
            name = next((k.name for k in kernels.kernels(op, device, fmt) if k.fn is fn), "?")
            self._kernels.append(f"{op}:{name}")


def trace(fn, *example_inputs, **kwargs) -> StaticGraph:
    """Run ``fn(*example_inputs, **kwargs)`` once and record every op it calls.

    Tensor positional inputs become placeholders (so the graph can be run on new inputs of the
    same shape); parameters (leaves that require grad) are bound by reference, so optimizer
    updates are seen; any other tensor ``fn`` reads is a constant. ``.backward()`` calls and
    optimizer ``zero_grad()`` / ``step()`` are recorded too, so a whole training step can be
    captured (see `compile`).

    Only op calls are recorded. Work done on raw arrays (``t.array`` read or written directly,
    tensors built from numpy results inside ``fn``) is not seen: what it produced during the
    trace is frozen into the graph as a constant. Write such steps with ops.

    Returns:
        A `StaticGraph`; calling it runs the graph on new inputs.

    Raises:
        CaptureError: ``fn`` reads a traced tensor's value in Python (``.item()``, ``if t:``).
    """
    return trace_with_result(fn, *example_inputs, **kwargs)[0]


def trace_with_result(fn, *example_inputs, **kwargs):
    """`trace`, also returning what the eager run of ``fn`` returned."""
    if TRACE.tracer is not None:
        raise CaptureError("static.trace: already tracing (nested traces are not supported)")
    tracer = Tracer()
    inputs = []
    for i, x in enumerate(example_inputs):
        if isinstance(x, SparseTensor):
            x = x.values
        if not isinstance(x, Tensor):
            raise TypeError(f"static.trace: expected Tensor or SparseTensor example inputs "
                            f"(got {type(x).__name__} for input {i}); bind other arguments "
                            "with a closure or functools.partial")
        inputs.append(tracer.bind(x, "input", f"input{i}"))
    TRACE.tracer = tracer
    try:
        with kernels.listen(tracer.on_dispatch):
            result = fn(*example_inputs, **kwargs)
    finally:
        TRACE.tracer = None
    outputs = tracer.template(result)
    return StaticGraph(tracer.nodes, inputs, outputs), result
