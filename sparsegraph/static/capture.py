"""Capture: run a function once, eagerly, and record every op it calls into a `StaticGraph`.

The core calls the active tracer's hooks (`sparsegraph.tensor.TRACE`): ``record`` after each
`Function.apply`, ``rebind`` after an in-place op, ``record_backward`` when ``.backward()`` is
called, ``record_effect`` for optimizer ``zero_grad`` / ``step``, LR-scheduler ``step``,
``Module.zero_grad`` and ``Generator.manual_seed`` (``sparsegraph.manual_seed``),
``record_grad`` for an assignment to a tensor's ``.grad``, ``record_draw`` after a random
creation op (``randn``, ``randint``, ...), ``record_data`` for ``w.data = ...`` (replayed as an
effect), ``new_leaf`` when a tensor starts requiring grad (a leaf made inside the step is
refused once read),
``record_module`` when a module is called (its train / eval mode is guarded by `compile`, its
parameters and buffers are named by their path in it), and
``escape`` when Python reads a tensor's value (``.item()``, ``bool(t)``, ``.numpy()``,
``np.asarray(t)``, ``nonzero``, ``sparsegraph.tensor(t)``), which a static graph cannot capture,
and ``read_values`` when library code reads an index tensor's values to build a structure it
keeps (`sparsegraph.tensor.host_values`: guarded, or refused for a tensor the step computed).

A tensor the trace has not seen is not always a constant: a parameter's ``.grad`` (made by the
eager backward) becomes a ``read_grad`` node that reads the live ``.grad`` at that point of every
run, and a new tensor on a traced tensor's memory (``x.data``) reads that tensor's Value.
"""

from __future__ import annotations

import functools
import weakref

import numpy as np

from sparsegraph import kernels
from sparsegraph.autograd.grad_mode import is_grad_enabled
from sparsegraph.ops.index import GetItem
from sparsegraph.sparse import SparseTensor
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.host_reads import HostReads
from sparsegraph.static.ir import ArrayRef, GradRef, Node, Ref, SparseRef, Value, iter_refs
from sparsegraph.static.recorded import (
    CaptureError,
    check_no_hooks,
    check_unrecorded_writes,
    draw_op,
    set_data,
    set_grad,
)
from sparsegraph.tensor import TRACE, Tensor

__all__ = ["CaptureError", "Tracer", "trace", "trace_with_result"]


class Tracer(HostReads):
    def __init__(self):
        self.nodes: list[Node] = []
        self._depth = 0  # > 0 inside an op's forward or an eager backward (see `depth`)
        # id(tensor) -> (weak reference, Value): weak, so the traced eager run frees what it
        # would free untraced; the reference also tells a reused id from the original tensor
        self._values: dict[int, tuple[weakref.ref, Value]] = {}
        self._kernels: list[str] = []
        self._known: set[int] = set()  # ids of op outputs computed from constants only
        # id(array) -> (weak reference to the array or its tensor, Value) for inputs and op
        # outputs: an op given such an array (an index, a mask) reads a traced value
        self._arrays: dict[int, tuple[weakref.ref, bool, Value]] = {}
        # id -> (Module, its training flag when first called): `compile` guards the modes
        self.modules: dict[int, tuple] = {}
        self._op = ""  # the op being recorded (for error messages)
        # set by `cost_model.note_decision`: the function chose sparse or dense for a product
        self.decided = False
        self._owners: list[Value] = []  # inputs and parameters: a step may read their .grad
        self._aliased: set[int] = set()  # ids of Values several tensors share (`x.data`)
        # leaves made inside the function (`zeros(requires_grad=True)`): refused when read
        self._fresh: dict[int, weakref.ref] = {}
        # ids of the version counters of tensors written by recorded ops or effects; any other
        # bound tensor whose version moves during the trace was changed by unrecorded code
        self._written: set[int] = set()
        # values Python read on the host (`host_reads`): value id -> HostRead for inputs and
        # constants, and the raw arrays read (guarded by value, `StaticGraph.assumed`)
        self.reads: dict = {}
        self.read_arrays: list = []
        self.positions: dict[int, int] = {}  # input value id -> its position among the inputs
        self._names: dict[int, str] = {}  # id(parameter or buffer) -> its path in a module
        # value id -> what it is, for tensors with autograd history made outside the function
        # (`emb * 2` passed in): the graph binds them as they are, so a replayed backward stops
        # there; refused once an op reads them with grad enabled (`_check_outside`)
        self._outside: dict[int, str] = {}

    @property
    def depth(self) -> int:
        """> 0 inside an op's forward or an eager backward: nothing is recorded there."""
        return self._depth

    @depth.setter
    def depth(self, value: int) -> None:
        if value == 1 and self._depth == 0:
            # an op's forward starts (or an eager backward, or an effect): the kernels
            # dispatched before it (by a backward, an optimizer step) are not this op's
            self._kernels.clear()
        self._depth = value

    # ---- values -------------------------------------------------------------------------
    def bind(self, t: Tensor, kind: str, name: str = "") -> Value:
        v = Value(kind, tuple(t.shape), t.dtype, t.device, name=name)
        self._values[id(t)] = (weakref.ref(t), v)
        if kind != "op":
            v.tensor = t  # inputs, parameters and constants are bound (kept) by the graph
        if kind in ("op", "input"):
            self._bind_array(t, v)
        if kind in ("param", "input"):
            self._owners.append(v)
        if kind in ("param", "const"):
            v.version = t._version[0]
        if kind in ("input", "const") and t.requires_grad and t.grad_fn is not None:
            self._outside[v.id] = (f"argument {name[len('input'):]}" if kind == "input" else
                                   "a tensor read through a closure or global name") + (
                f" (made by {t.grad_fn.name()} outside the function)")
        return v

    def _bind_array(self, t: Tensor, v: Value) -> None:
        try:  # numpy arrays take weak references; otherwise watch the tensor holding it
            self._arrays[id(t.array)] = (weakref.ref(t.array), True, v)
        except TypeError:
            self._arrays[id(t.array)] = (weakref.ref(t), False, v)

    def _array_value(self, obj) -> Value | None:
        entry = self._arrays.get(id(obj))
        if entry is None:
            return None
        ref, is_array, v = entry
        held = ref()
        return v if (held is obj if is_array else held is not None and held.array is obj) else None

    def _entry(self, t):
        entry = self._values.get(id(t))
        return entry if entry is not None and entry[0]() is t else None

    def value_of(self, t: Tensor) -> Value:
        entry = self._entry(t)
        if entry is not None:
            return entry[1]
        v = self._alias_of(t)
        if v is not None:  # `x.data`: the same memory, so the same Value (not a frozen copy)
            self._values[id(t)] = (weakref.ref(t), v)
            self._aliased.add(v.id)
            return v
        if t.grad_fn is None and not t.requires_grad:
            owner = next((o for o in self._owners if o.tensor.grad is t), None)
            if owner is not None:  # a .grad the eager backward made: another one on each run
                return self._read_grad(t, owner)
        kind = "param" if (t.grad_fn is None and t.requires_grad) else "const"
        fresh = self._fresh.get(id(t))
        if kind == "param" and fresh is not None and fresh() is t:
            self._refuse_leaf(f"{self._op or 'the function'} reads a leaf made inside the "
                              "function with requires_grad=True (zeros(..., requires_grad=True))")
        return self.bind(t, kind, self._names.get(id(t)) or getattr(t, "_name", None) or "")

    def new_leaf(self, t: Tensor) -> None:
        """``t.requires_grad_(True)`` (also ``requires_grad=True`` at creation) in the step:
        refused at once for a traced tensor (``x.detach().clone()``), else when first read (a
        leaf made and never used is harmless)."""
        if self.depth:
            return
        if self._entry(t) is not None and self._entry(t)[1].kind == "op":
            self._refuse_leaf("requires_grad_(True) on a tensor computed in the step "
                              "(x.detach().clone().requires_grad_()) makes a new leaf")
        self._fresh[id(t)] = weakref.ref(t)

    @staticmethod
    def _refuse_leaf(where: str):
        raise CaptureError(
            f"static.trace: {where}; eager mode makes a fresh leaf with a fresh .grad on every "
            "call, a static graph would bind one leaf for good. Make it outside and pass it as "
            "an argument (its .grad is read on every call), or run this step eagerly")

    def record_data(self, tensor: Tensor, other) -> None:
        """``tensor.data = other``: an effect that assigns a copy of this run's ``other``."""
        if self.depth:
            return
        self._op = ".data ="
        target = self.value_of(tensor)  # before the assignment: afterwards it aliases `other`
        if target.kind not in ("param", "const"):
            what = "an input" if target.kind == "input" else f"the output of {target.producer.op}"
            raise CaptureError(
                f"static.trace: `.data =` on {what} cannot be captured (each run has its own "
                "tensor there); assign to a parameter, or use an op instead")
        target.mutable = True  # never folded: its values change on every call
        self._written.add(id(tensor._version))
        value = self.template(other)
        self.nodes.append(Node("effect", "set_data", functools.partial(set_data, tensor), (),
                               {"value": value}, [], {"owner": tensor, "target": target}))
        new = other.array if isinstance(other, Tensor) else other
        if hasattr(new, "shape"):  # `tensor.data` read later is the target, not `other`
            try:
                self._arrays[id(new)] = (weakref.ref(new), True, target)
            except TypeError:
                pass

    def _alias_of(self, t: Tensor) -> Value | None:
        """The Value of the traced tensor whose array ``t`` holds (``t`` = ``x.data``), if any."""
        v = self._array_value(t.array)
        if v is not None:
            return v
        for o in self._owners:  # a parameter's array is not indexed: look it up by identity
            if o.kind == "param" and o.tensor.array is t.array:
                entry = self._entry(o.tensor)  # its latest Value (after in-place updates)
                return entry[1] if entry is not None else o
        return None

    def _read_grad(self, t: Tensor, owner: Value) -> Value:
        v = self.bind(t, "op", f"{owner.label()}.grad")
        node = Node("read_grad", "grad", None, (Ref(owner),), {}, [v])
        v.producer = node
        self.nodes.append(node)
        return v

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
        if hasattr(obj, "shape") and hasattr(obj, "dtype"):
            v = self._array_value(obj)
            if v is not None:
                return ArrayRef(v)
            self._check_not_a_view(obj)
        return obj

    def _check_not_a_view(self, array) -> None:
        """A view of a traced array (``idx.reshape(-1)``) cannot be followed: refuse it rather
        than freeze the traced run's values into the graph."""
        base = getattr(array, "base", None)
        while base is not None:
            v = self._array_value(base)
            if v is not None and v.id not in self._known:
                raise CaptureError(
                    f"static.trace: {self._op} was given a view of the raw array of a traced "
                    f"tensor ({v.label()}); a static graph can only follow the tensor's own "
                    "array. Pass the tensor itself (or make the reshape an op before the call)")
            base = getattr(base, "base", None)

    def output_template(self, result):
        """`template` for the function's result; a parameter's ``.grad`` (made by the eager
        backward, unknown to the trace) becomes a `GradRef`, read anew after each run."""
        if isinstance(result, Tensor) and self._entry(result) is None:
            for _, v in self._values.values():
                if v.kind in ("param", "input") and v.tensor.grad is result:
                    return GradRef(v)
        if isinstance(result, tuple | list):
            items = [self.output_template(o) for o in result]
            return tuple(items) if isinstance(result, tuple) else items
        if isinstance(result, dict):
            return {k: self.output_template(o) for k, o in result.items()}
        return self.template(result)

    # ---- hooks called by the core --------------------------------------------------------
    def record(self, cls, args, kwargs, outs, ctx) -> None:
        if self.depth:
            return
        self._op = cls.__name__
        node = Node("forward", cls.__name__, cls, self.template(tuple(args)),
                    self.template(dict(kwargs)), [])
        if cls is GetItem:
            self._check_mask(node)
        if self._outside:
            self._check_outside(node.op, node.inputs())
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

    def _check_mask(self, node: Node) -> None:
        for ref in iter_refs(node.args):
            v = ref.value if isinstance(ref, ArrayRef) else None
            if v is not None and np.dtype(v.dtype) == np.bool_ and v.id not in self._known:
                raise CaptureError(
                    "static.trace: indexing with a boolean mask computed from traced tensors "
                    f"(the output of {v.producer.op if v.producer else v.label()}) selects a "
                    "data-dependent number of elements; a static graph has fixed shapes. Use "
                    "ops.where / masked_fill, or multiply by the mask")

    def _check_outside(self, op: str, values) -> None:
        if not is_grad_enabled():  # an inference step: no gradient is lost
            return
        for v in values:
            what = self._outside.get(v.id)
            if what is not None:
                raise CaptureError(
                    f"static.trace: {op} reads {what}, which requires grad and has "
                    "autograd history; its gradient cannot flow out of a compiled step (a "
                    "replayed backward stops at it). Compute it inside the compiled function, "
                    "or pass it .detach()ed if no gradient should reach what made it")

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
        old = self._entry(target)
        if old is not None and old[1].kind == "const":
            old[1].mutable = True  # the step writes it: its values differ on the next call
        if old is not None and old[1].id in self._aliased:  # `x.data.add_(1)` writes x too
            for key, (ref, u) in list(self._values.items()):
                if u is old[1] and ref() is not None:
                    self._values[key] = (ref, v)
        self._values[id(target)] = (weakref.ref(target), v)
        self._bind_array(target, v)
        self._written.add(id(target._version))

    def record_backward(self, tensor: Tensor, gradient, given=None) -> None:
        """``tensor.backward(given)``; ``gradient`` is ``given`` as the engine's array. A
        ``given`` tensor computed from traced values becomes a second argument (the seed, read
        on every run); any other gradient is a constant."""
        if self.depth:
            return
        check_no_hooks(tensor, lambda t: f"{self.value_of(t).label()} of shape {t.shape}")
        root = self.value_of(tensor)
        self._check_outside("backward", [root])
        args, attrs = (Ref(root),), {}
        seed = self.value_of(given) if isinstance(given, Tensor) else None
        if seed is not None and not seed.fixed and seed.id not in self._known:
            if given.dtype != tensor.dtype or tuple(given.shape) != tuple(tensor.shape):
                raise CaptureError(
                    f"static.trace: backward(gradient) expected `gradient` with the output's "
                    f"shape {tuple(tensor.shape)} and dtype {tensor.dtype} (got "
                    f"{tuple(given.shape)} and {given.dtype}); cast it with .to() first")
            args += (Ref(seed),)
        else:
            attrs["gradient"] = gradient.copy()
        self.nodes.append(Node("backward_root", "backward", None, args, {}, [], attrs))

    def record_effect(self, name: str, owner, closure=None, **kwargs) -> None:
        """``owner.name(**kwargs)`` (an optimizer's, a Module's or a Generator's reseeding)
        runs again on every call, in trace order with the random draws."""
        if self.depth:
            return
        if closure is not None:
            raise CaptureError(f"static.trace: {type(owner).__name__}.{name}(closure) "
                               "cannot be captured; call the closure's code in the step instead")
        fn = getattr(owner, name)
        for group in getattr(owner, "param_groups", ()) if name == "step" else ():
            self._written.update(id(p._version) for p in group["params"])
        self.nodes.append(Node("effect", f"{type(owner).__name__}.{name}", fn, (), kwargs,
                               [], {"owner": owner}))

    def record_grad(self, tensor: Tensor, value) -> None:
        """``tensor.grad = value`` (e.g. ``p.grad = None``) runs again on every call."""
        if self.depth:
            return  # the engine's accumulation, or a recorded zero_grad doing its work
        v = None if value is None else self.value_of(value)
        target = self.value_of(tensor)  # for the listing: set_grad(%3, None)
        if target.kind == "input":  # each run's own input tensor, looked up when it runs
            given = value if v is None or v.kind == "const" else Ref(v)
            node = Node("effect", "set_grad", set_grad, (),
                        {"tensor": Ref(target), "value": given}, [],
                        {"target": target, "value": v})
        elif v is None or v.kind == "const":  # None or a constant: the same object every run
            node = Node("effect", "set_grad", functools.partial(setattr, tensor, "grad", value),
                        (), {}, [], {"owner": tensor, "target": target, "value": v})
        else:  # computed by the step (`p.grad = p.grad * 0.5`): this run's value
            node = Node("effect", "set_grad", functools.partial(set_grad, tensor), (),
                        {"value": Ref(v)}, [], {"owner": tensor, "target": target})
        self.nodes.append(node)

    def record_draw(self, fn, args, kwargs, out: Tensor) -> None:
        """``out = fn(*args, **kwargs)``, a random creation op: a node that draws again on each
        run from the same generator, in trace order, as eager mode would."""
        if self.depth:
            return
        if out.requires_grad:
            raise CaptureError(
                f"static.trace: {fn.__name__}(requires_grad=True) makes a new leaf tensor on "
                "every call, which a static graph cannot update or differentiate; create it "
                "outside the function (a parameter) or draw it without requires_grad")
        self._op = fn.__name__
        node = Node("forward", fn.__name__, draw_op(fn), self.template(tuple(args)),
                    self.template(dict(kwargs)), [],
                    {"needs_input_grad": (), "kernel": "", "saved": []})
        v = self.bind(out, "op")
        v.producer = node
        node.outputs.append(v)
        self.nodes.append(node)

    def record_module(self, module) -> None:
        if id(module) in self.modules:
            return
        self.modules[id(module)] = (module, module.training)
        # parameters and buffers are named by their path in the first module called that holds
        # them: the outermost (called before its children), as torch.fx names get_attr nodes
        for name, t in (*module.named_parameters(), *module.named_buffers()):
            if self._names.setdefault(id(t), name) == name:
                entry = self._entry(t)  # already bound (read before the module was called)
                if entry is not None and entry[1].kind != "op" and not entry[1].name:
                    entry[1].name = name

    def unsupported(self, what: str, hint: str = "run it eagerly, or write it without "
                    "in-place ops (ops.where, index ops, clone first)") -> None:
        """CaptureError for a construct a static graph cannot represent (called by the core
        and by what changes state the graph does not record, with ``hint``)."""
        if self.depth:
            return
        raise CaptureError(f"static.trace: {what} cannot be captured; {hint}")

    def escape(self, t, what: str, hint: str = "") -> None:
        """Python reads ``t``'s value (``what``); ``t`` None: ``what`` computes gradients
        outside ``.backward()`` (``autograd.grad``), which a static graph does not record."""
        if self.depth:
            return
        if t is None:
            raise CaptureError(
                f"static.trace: {what} is not supported in a captured function: a static graph "
                "records gradients only through .backward(). Call loss.backward() and read "
                "p.grad (the compiled step reads the live .grad), or run this step eagerly")
        entry = self._entry(t)
        v = entry[1] if entry is not None else self._alias_of(t)
        if v is None or v.kind == "const" or v.id in self._known:
            return  # a constant's value (or one computed from constants) is known now
        source = f" (the output of {v.producer.op})" if v.producer is not None else ""
        raise CaptureError(
            f"static.trace: {what} reads the value of a traced tensor{source}; a static graph "
            "cannot capture Python control flow or values that depend on tensor data. "
            + (hint or "Move it out of the traced function, or compute it with tensor ops "
                       "(e.g. ops.where)"))

    def on_dispatch(self, op, device, fmt, fn) -> None:
        if self.depth == 1:  # the kernel of the op being recorded, not of nested helpers
            name = next((k.name for k in kernels.kernels(op, device, fmt) if k.fn is fn), "?")
            self._kernels.append(f"{op}:{name}")


def trace(fn, *example_inputs, **kwargs) -> StaticGraph:
    """Run ``fn(*example_inputs, **kwargs)`` once and record every op it calls.

    Tensor positional inputs become placeholders (so the graph can be run on new inputs of the
    same shape); parameters (leaves that require grad) are bound by reference, so optimizer
    updates are seen; any other tensor ``fn`` reads is a constant. ``.backward()`` calls and
    optimizer ``zero_grad()`` / ``step()`` are recorded too, so a whole training step can be
    captured (see `compile`): a parameter's ``.grad`` read after a backward is read live on
    every run, ``backward(gradient)`` with a traced gradient follows it, random creation ops
    (``randn``, ``rand``, ``randint``, ``randperm``) draw anew, module buffers are never folded.
    A ``.backward()`` reaching a gradient hook and ``autograd.grad`` are refused.

    Only op calls are recorded. A traced tensor given to an op as its raw array (an index
    tensor, a mask) is followed by identity; a view of such an array is refused. Other work
    done on raw arrays (``t.array`` read or written directly, tensors built from numpy results
    inside ``fn``) is not seen: what it produced during the trace is frozen into the graph as a
    constant. Write such steps with ops. The library's own reads of index values on the host
    (`sparsegraph.tensor.host_values`: a layer building a CSR structure from an edge_index
    input, a pool's ``batch``, a size inferred from an index) are recorded in
    `StaticGraph.reads`: the graph refuses other values of such an input (`compile` traces
    again), and such a tensor computed inside ``fn`` is refused with a CaptureError. A sparse
    input's structure is a constant of the graph: the graph refuses a SparseTensor with
    another structure.

    Returns:
        A `StaticGraph`; calling it runs the graph on new inputs.

    The sparse-vs-dense choices (`sparsegraph.ops.spmm_mode`, the cost table, the memory
    budget) are those in force while tracing; the graph keeps them (`compile` traces again
    under another setting).

    Raises:
        TypeError: ``fn`` is not callable, or an example input is not a (sparse) tensor.
        CaptureError: ``fn`` reads a traced tensor's value in Python (``.item()``, ``if t:``,
            ``np.asarray(t)``), or computes something whose shape depends on traced data
            (``nonzero``, indexing with a boolean mask computed from traced tensors), or
            builds a structure from the values of a tensor it computed (an edge_index given
            to a layer, a ``batch`` to a pool, an index whose size is inferred), or, with grad
            enabled, reads an argument or closure tensor with autograd history made outside
            ``fn`` (``emb * 2``): a replayed backward would stop at it.
    """
    return trace_with_result(fn, *example_inputs, **kwargs)[0]


def trace_with_result(fn, *example_inputs, **kwargs):
    """`trace`, also returning what the eager run of ``fn`` returned and the Modules it
    called, as ``(module, training flag when called)`` pairs."""
    if not callable(fn):
        raise TypeError(f"static.trace: expected `fn` to be callable, the function to trace "
                        f"(got {type(fn).__name__} {fn!r:.60})")
    if TRACE.tracer is not None:
        raise CaptureError("static.trace: already tracing (nested traces are not supported)")
    tracer = Tracer()
    inputs = []
    for i, x in enumerate(example_inputs):
        structure = None
        if isinstance(x, SparseTensor):
            x, structure = x.values, x.structure
        if not isinstance(x, Tensor):
            raise TypeError(f"static.trace: expected Tensor or SparseTensor example inputs "
                            f"(got {type(x).__name__} for input {i}); bind other arguments "
                            "with a closure or functools.partial")
        inputs.append(tracer.bind(x, "input", f"input{i}"))
        inputs[-1].structure = structure
        tracer.positions[inputs[-1].id] = i
    TRACE.tracer = tracer
    try:
        with kernels.listen(tracer.on_dispatch):
            result = fn(*example_inputs, **kwargs)
    finally:
        TRACE.tracer = None
    outputs = tracer.output_template(result)
    graph = StaticGraph(tracer.nodes, inputs, outputs, assumed=tracer.read_arrays,
                        decided=tracer.decided, reads=tracer.checked_reads())
    check_unrecorded_writes(graph, tracer._written)
    # module buffers (BatchNorm's running statistics) change between calls: never folded
    buffers = {id(b) for m, _ in tracer.modules.values() for b in m.buffers(recurse=False)}
    for v in graph.values():
        if v.kind == "const" and id(v.tensor) in buffers:
            v.mutable = True
    return graph, result, list(tracer.modules.values())
