"""`compile(step_fn)`: capture a whole training step once, optimise it, run the plan after."""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.grad_mode import MODE
from sparsegraph.ops import cost_model
from sparsegraph.sparse import SparseTensor
from sparsegraph.static.capture import trace_with_result
from sparsegraph.static.guards import Assumptions, bound_objects, entry_modes, free_names
from sparsegraph.static.runtime import Executor
from sparsegraph.tensor import Tensor

# Python values a compiled function accepts besides tensors: baked into the graph as constants
# and part of the guard (another value traces again)
_LITERALS = (type(None), bool, int, float, complex, str, np.generic)


def _detach(result):
    if isinstance(result, Tensor):
        return result.detach()
    if isinstance(result, tuple | list):
        return type(result)(_detach(r) for r in result)
    if isinstance(result, dict):
        return {k: _detach(r) for k, r in result.items()}
    return result


def _requires_grad(result) -> bool:
    """Whether ``result`` (what the eager run returned) holds a tensor that requires grad."""
    if isinstance(result, Tensor):
        return result.requires_grad
    if isinstance(result, SparseTensor):
        return result.values.requires_grad
    if isinstance(result, tuple | list):
        return any(_requires_grad(r) for r in result)
    if isinstance(result, dict):
        return any(_requires_grad(r) for r in result.values())
    return False


def _literal_key(name: str, x):
    """A guard key for a Python literal argument, or TypeError for anything else."""
    if isinstance(x, tuple | list):
        return type(x).__name__, tuple(_literal_key(name, item) for item in x)
    if isinstance(x, dict):
        return "dict", tuple((repr(k), _literal_key(name, v)) for k, v in x.items())
    if isinstance(x, _LITERALS):
        return type(x).__name__, repr(x)  # repr: nan equals nan, 1 and 1.0 and True differ
    raise TypeError(f"CompiledFunction: expected argument {name} to be a Tensor, a "
                    "SparseTensor, a Python scalar / str / None, or a tuple / list / dict of "
                    f"them (got {type(x).__name__}); bind other arguments with a closure or "
                    "functools.partial")


def _hooked(t) -> bool:
    """Whether a gradient hook waits on tensor ``t`` (its leaf accumulator's or its grad_fn's)."""
    acc, fn = t._accumulator, t.grad_fn
    return bool(acc is not None and acc.hooks) or bool(
        fn is not None and fn.pre_hooks and any(fn.pre_hooks.values()))


def _guard(tensors: list, slots: list, literals: dict) -> tuple:
    """What a captured graph assumes of its inputs: a change re-traces. A sparse input's
    structure is keyed by identity (the cached graph holds it, so the id is not reused); the
    slots (which argument each tensor is) are part of the key, `f(x, b=t)` is not `f(x, c=t)`."""
    # which arguments were one tensor object: the trace binds them to one input
    # (None when all differ: the common case, without the quadratic search; runs per call)
    aliases = None if len({id(t) for t in tensors}) == len(tensors) else tuple(
        next(i for i, u in enumerate(tensors) if u is t) for t in tensors)
    # grad mode too (as TorchDynamo guards it): a step traced with gradients must not replay
    # its backward and update under no_grad(), where the eager call raises; and the default
    # dtype, which the trace's zeros(...), Python-float tensors and int divisions took
    key: list = [tuple(slots), aliases, MODE.enabled, backend.DEFAULT_FLOAT]
    for x in tensors:
        if isinstance(x, SparseTensor):
            t, structure = x.values, id(x.structure)
        else:
            t, structure = x, None
        a, grad = t.array, t._requires_grad
        hooked = grad and _hooked(t)  # a new hook re-traces (and is refused)
        key.append((a.shape, a.dtype, t.device, grad, hooked, structure))
    if literals:
        key.extend(sorted(literals.items(), key=lambda item: str(item[0])))
    return tuple(key)


def _holds_tensor(x) -> bool:
    if isinstance(x, Tensor | SparseTensor):
        return True
    if isinstance(x, tuple | list):
        return any(_holds_tensor(item) for item in x)
    if isinstance(x, dict):
        return any(_holds_tensor(item) for item in x.values())
    return False


def _split(args: tuple, kwargs: dict):
    """``(tensors, slots, literal keys)``: the tensor arguments (positional, then keyword; also
    inside tuples, lists and dicts, as torch.compile takes them) become the graph's inputs;
    ``slots`` says where each goes back: a path of argument name, then item keys."""
    tensors, slots, literals = [], [], {}

    def walk(path: tuple, x):
        if isinstance(x, Tensor | SparseTensor):
            tensors.append(x)
            slots.append(path)
        elif isinstance(x, tuple | list | dict) and _holds_tensor(x):
            keys = tuple(x) if isinstance(x, dict) else len(x)
            literals[path] = (type(x).__name__, keys)  # another shape of container traces again
            for k, item in (x.items() if isinstance(x, dict) else enumerate(x)):
                walk((*path, k), item)
        else:
            name = repr(path[0]) if isinstance(path[0], str) else str(path[0])
            literals[path] = _literal_key(name + "".join(f"[{k!r}]" for k in path[1:]), x)

    for name, x in [*enumerate(args), *kwargs.items()]:
        walk((name,), x)
    return tensors, slots, literals


def _rebuilt(x, path: tuple, traced: dict):
    """``x`` (an argument) with the tensor at each path of ``traced`` replaced by its traced
    counterpart; containers holding tensors are rebuilt (the caller's are not changed)."""
    if path in traced:
        return traced[path]
    if not (isinstance(x, tuple | list | dict) and _holds_tensor(x)):
        return x
    if isinstance(x, dict):  # a copy keeps a subclass's state (defaultdict's factory)
        out = copy.copy(x)
        out.update((k, _rebuilt(v, (*path, k), traced)) for k, v in x.items())
        return out
    items = [_rebuilt(v, (*path, i), traced) for i, v in enumerate(x)]
    return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)  # namedtuples too


class _Entry:
    """One traced variant: its executor and what it assumes of the tensors and Modules it
    binds (`static.guards`)."""

    def __init__(self, executor: Executor, assumptions: Assumptions, structures: list):
        self.executor = executor
        self.assumptions = assumptions
        self.structures = structures  # held, so the ids in the guard key stay unique


# variants kept at most, over all keys: each holds its graph, folded constants and sparse
# structures, so a stream of new structures (NeighborLoader mini-batches, each traced anew)
# must not keep them all; the least recently used goes first
MAX_VARIANTS = 8


class CompiledFunction:
    """A captured function: the first call (per input signature) runs eagerly while tracing;
    later calls run the optimised static graph. ``graph`` is the last graph built; ``plan()``
    its memory plan.

    A call traces again when a tensor's shape, dtype, device, requires_grad or gradient hooks,
    a sparse input's structure (by identity), a literal argument's value, the train / eval mode
    a Module called during the trace starts from, the object a global or closure name of
    ``fn`` holds (a tensor, sparse tensor, array, Module, Graph or optimizer), the
    sparse-vs-dense setting (`sparsegraph.ops.spmm_mode` in force in the calling thread,
    `set_memory_budget`, `set_cost_table`) when the trace chose between sparse and dense,
    grad mode (a call under ``no_grad()``), the values of an input the trace read on the host
    (an edge_index built into a CSR structure), or what `static.guards` checks (a parameter's
    requires_grad, hooks, dtype, shape or device (``Module.double()``), a Module's parameter /
    buffer / child objects, a constant or an index array changed in place or through
    ``.data =``) changed. At most
    `MAX_VARIANTS` traced variants are kept (least recently used dropped)."""

    def __init__(self, fn, passes=None):
        if not callable(fn):
            raise TypeError(f"static.compile: expected `fn` to be callable, the function to "
                            f"capture (got {type(fn).__name__} {fn!r:.60})")
        self.fn = fn
        self.passes = passes
        self._entries: OrderedDict[tuple, list[_Entry]] = OrderedDict()
        self._names = free_names(fn)
        self._modules: dict[int, object] = {}  # every Module a trace called: entry modes
        self.graph = None
        self.traces = 0

    def __call__(self, *args, **kwargs):
        tensors, slots, literals = _split(args, kwargs)
        key = _guard(tensors, slots, literals)
        variants = self._entries.get(key)
        if variants:
            # a constant changed in place: that graph may hold its old values, drop it
            if not all(e.assumptions.current() for e in variants):
                variants[:] = [e for e in variants if e.assumptions.current()]
            for entry in variants:
                a = entry.assumptions
                if a.hold() and a.inputs_hold(tensors):
                    self._entries.move_to_end(key)
                    result = entry.executor.run(*tensors)
                    for m, flag in a.restore:  # the modes the step leaves (m.eval() at its end)
                        m.__dict__["training"] = flag
                    return _detach(result)

        def bound(*traced):
            by_path = dict(zip(slots, traced, strict=True))
            positional = [_rebuilt(x, (i,), by_path) for i, x in enumerate(args)]
            named = {k: _rebuilt(x, (k,), by_path) for k, x in kwargs.items()}
            return self.fn(*positional, **named)

        objects = bound_objects(self._names)  # at entry: the step may rebind them itself
        entry_mode = entry_modes(objects, self._modules)
        graph, result, modes = trace_with_result(bound, *tensors)
        self.traces += 1
        self._modules.update((id(m), m) for m, _ in modes)
        if self.traces == 1 and not graph.count(kind="backward_root") and _requires_grad(result):
            self._warn_detached()
        # of the traced graph: passes add constants
        assumptions = Assumptions(graph, modes, entry_mode, objects)
        from sparsegraph.static.passes import optimize

        self.graph = optimize(graph, self.passes)
        assumptions.assume_arrays(self.graph.assumed)
        if self.graph.decided:  # the trace or a pass chose sparse or dense: by this state
            assumptions.decisions = cost_model.decision_state()
        structures = [x.structure for x in tensors if isinstance(x, SparseTensor)]
        # kept beside the other variants: switching back to a traced mode needs no new trace
        self._entries.setdefault(key, []).append(
            _Entry(Executor(self.graph), assumptions, structures))
        self._entries.move_to_end(key)
        self._evict()
        return _detach(result)

    def _warn_detached(self) -> None:
        name = getattr(self.fn, "__qualname__", None) or type(self.fn).__name__
        warnings.warn(
            f"static.compile: {name} returned a tensor that requires grad and ran no "
            ".backward(); the outputs of a compiled function are detached, so a .backward() "
            "on them reaches no parameter. Compile the whole training step (forward + loss + "
            ".backward() + optimizer step), or call the function eagerly", UserWarning,
            stacklevel=3)

    def _evict(self) -> None:
        total = sum(len(v) for v in self._entries.values())
        while total > MAX_VARIANTS:
            oldest_key = next(iter(self._entries))
            variants = self._entries[oldest_key]
            variants.pop(0)
            total -= 1
            if not variants:
                del self._entries[oldest_key]

    @property
    def executors(self) -> list[Executor]:
        """The executor of every traced variant kept, least recently used first."""
        return [e.executor for variants in self._entries.values() for e in variants]

    def plan(self):
        """The memory plan of the last graph built: its planned peak bytes of intermediates
        against eager mode's for the same step (`runtime.MemoryPlan`)."""
        if self.graph is None:
            raise RuntimeError("CompiledFunction.plan: nothing is compiled yet; call the "
                               "function once (the first call traces and builds the graph)")
        from sparsegraph.static.runtime import memory_plan

        return memory_plan(self.graph)


def compile(fn, passes=None) -> CompiledFunction:  # noqa: A001  (the name the issue asks for)
    """Capture ``fn`` (a training step: forward + loss + ``backward()`` + optimizer step, or any
    function of tensors) as a static graph, optimise it and run that from the second call on.

    Args:
        fn: the function; its tensor arguments (positional or keyword, Tensor or SparseTensor)
            are the graph's inputs; parameters and every other tensor it reads are bound by
            reference (a constant changed in place, e.g. through ``.mul_``, or given new
            values with ``.data = ...`` outside ``fn``, traces again;
            module buffers such as running statistics are read anew on every call). Python
            scalars, strings, None (and tuples of them) are accepted too: they are constants
            of the graph, and a call with another value traces again. Any other argument
            raises TypeError.
        passes: names of the graph passes to run, in order (default: all, see
            `sparsegraph.static.passes.DEFAULT_PASSES`); ``[]`` runs the captured graph as is.

    Returns:
        A `CompiledFunction` whose calls return what ``fn`` returns (detached: no gradient
        flows from them back into the parameters, so compiling only a model's forward and
        calling ``.backward()`` on its output outside does not train it; the first call warns
        when ``fn`` returns a tensor that requires grad without running ``.backward()``: an
        inference function runs its body under ``sparsegraph.no_grad()`` and is not warned). A
        call with inputs of another shape, dtype or device, another sparsity structure,
        another literal value, or after a Module ``fn`` called switched between train and
        eval, a parameter's requires_grad changed, a Module's parameter was replaced or a
        constant (or an index array) was changed in place, traces again; so does a call in
        another grad mode (under ``no_grad()`` a training step traces again, and raises as
        in eager mode), and a call under another sparse-vs-dense setting (the
        `sparsegraph.ops.spmm_mode` in force in the calling thread, `set_memory_budget`,
        `set_cost_table`) when ``fn``'s sparse products were chosen by it: the graph
        replayed is always one traced under the setting in force at the call.

    Raises:
        TypeError: ``fn`` is not callable.

    What a replay repeats: op calls, ``.backward()``, optimizer ``zero_grad()`` / ``step()``
    (which read each group's ``lr`` live), LR-scheduler ``step()``, ``p.grad = ...``,
    ``p.data = ...``, random draws, reseeding (``sparsegraph.manual_seed``,
    ``Generator.manual_seed``, a ``Generator(seed)`` made in ``fn``: in order with the draws),
    and the train / eval mode ``fn`` leaves its Modules in.
    What it does not: other Python-side work (``tracker.avg = ...``, counters, appending to
    a list) runs during the trace only. Code a trace cannot record that changes a bound tensor
    in place (``Module.load_state_dict``), a leaf made inside ``fn`` with requires_grad, and
    gradient hooks are refused with a CaptureError.

    Index tensors whose values build a structure: a layer given an ``edge_index`` builds a
    CSR adjacency from its values on the host (so do ``sparse_coo``, the ``global_*_pool``
    readouts from ``batch``, ``one_hot`` and ``scatter`` / ``segment_softmax`` inferring their
    output size from the index). That work is not an op: the graph keeps its result, and a
    call whose tensor in that slot holds other values traces again (a new variant under the
    same key; the very tensor, unchanged, is recognised without comparing its values). A
    step whose graph changes on every call therefore traces on every call: pass the
    adjacency as a SparseTensor (or a `Graph`) built once per graph instead, whose structure
    is followed by identity. Such a tensor computed inside ``fn`` from traced values is
    refused with a CaptureError naming the op that reads it.

    Names ``fn`` reads from globals or closure variables are bound when traced: the objects
    are held by reference. Rebinding such a name to another tensor, sparse tensor, array,
    Module, Graph or optimizer traces again (its identity is checked on every call); rebinding
    other values (numbers, lists), names read only inside helper functions ``fn`` calls, and
    attributes of objects (``data.adj = ...``) is not seen: pass what changes as an argument.
    """
    return CompiledFunction(fn, passes)
