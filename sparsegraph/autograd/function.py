"""`Function` (the user-facing op contract), its `Context`, and the graph nodes it records.

A Function subclass defines static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``, or,
as PyTorch >= 2.0 allows, ``forward(*args)`` without ctx plus
``setup_context(ctx, inputs, output)``.
``Function.apply(*args)`` runs forward with grad mode off and, when some input requires grad,
records a :class:`Node` as the ``grad_fn`` of every output. Backward is first order only: it
receives gradient Tensors that record no graph.

Forward receives the arguments as given (Tensors stay Tensors). Forward and backward may return
Tensors or raw arrays (ops that need speed work on ``t.array`` inside); arrays are wrapped. An
argument that is a sparse tensor takes part through its differentiable ``values`` Tensor: its
gradient is shaped like ``values``.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from sparsegraph.autograd.grad_mode import MODE
from sparsegraph.autograd.views import (
    ViewInfo,
    check_inplace,
    check_writable,
    move_retain_grad,
    rebase,
    refresh,
    tag_custom_views,
)
from sparsegraph.backend import device_type
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import TRACE, Tensor, wrap


class Context:
    """What forward leaves for backward: saved tensors plus any attributes it sets.

    After a backward without ``retain_graph`` the saved tensors (and a built-in op's saved
    arrays) are freed; reading one again raises. Attributes that are not tensors or arrays
    (shapes, dtypes, flags) stay, so a backward that reads nothing else may run again, as in
    PyTorch (``(x + 1).sum()`` backpropagates twice).
    """

    # class-level defaults: set on the instance only by the ops that use them (hot path)
    _marks = None  # {"dirty": tensors, "non_differentiable": tensors} from mark_*
    _materialize = None  # set_materialize_grads; None: the Function's default
    _output_meta = None  # (shape, dtype, xp) per output, where unused ones get zeros

    def __init__(self, needs_input_grad=(), device="cpu"):
        self.needs_input_grad = needs_input_grad
        self.device = device  # device type ("cpu" / "cuda") for kernel dispatch
        self._saved = ()
        self._versions = ()
        self._freed = False
        self._node = None

    def save_for_backward(self, *tensors) -> None:
        """Keep ``tensors`` for backward; an in-place change to one of them is caught there."""
        self._saved = tensors
        self._versions = tuple(t._version[0] if isinstance(t, Tensor) else None for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise self._freed_error()
        for i, (t, v) in enumerate(zip(self._saved, self._versions, strict=True)):
            if v is not None and t._version[0] != v:
                raise RuntimeError(
                    f"{self._name()}: saved tensor {i} of shape {t.shape} was modified by an "
                    f"in-place operation (it is at version {t._version[0]}; expected version "
                    f"{v}); use .clone() before changing it in place"
                )
        return self._saved

    def save_output(self, array) -> Tensor:
        """Keep forward's result (an array) for backward and return it wrapped as the output.

        Backward reads it back with :attr:`saved_output`, which raises if the output was
        changed in place in between (``y = x.exp(); y[0] = 1``), as for saved inputs.
        """
        out = wrap(array)
        self._output, self._output_version = array, out._version
        return out

    def release_output(self) -> None:
        """Let go of the saved output (a backward done with it, freeing its memory early)."""
        self._output = None

    @property
    def saved_output(self):
        output = self._output  # after freeing: the retain_graph error (__getattr__)
        if self._output_version[0]:
            raise RuntimeError(
                f"{self._name()}: its output of shape {output.shape}, which backward "
                f"reads, was modified by an in-place operation (it is at version "
                f"{self._output_version[0]}; expected version 0); use .clone() before changing "
                "it in place")
        return output

    def set_materialize_grads(self, value: bool) -> None:
        """Whether backward gets zeros (True, the default for custom Functions, as in
        PyTorch) or None (False) as the gradient of an output that did not reach the loss."""
        self._materialize = bool(value)

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs of forward that get no gradient (indices, masks): they do not require grad,
        and their gradient in backward is zeros (or None, see `set_materialize_grads`)."""
        self._mark("non_differentiable", tensors)

    def mark_dirty(self, *tensors) -> None:
        """Inputs that forward changed in place; forward must return them. Their version is
        bumped (a backward that saved them raises) and their history becomes this call."""
        self._mark("dirty", tensors)

    def _mark(self, kind: str, tensors) -> None:
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"mark_{kind}: expected Tensors (got {type(t).__name__})")
        marks = self.__dict__.setdefault("_marks", {})
        marks[kind] = marks.get(kind, ()) + tensors

    def _freed_error(self) -> RuntimeError:
        return RuntimeError(
            f"{self._name()}: trying to backward through the graph a second time (or to read "
            "saved tensors after they were freed); pass retain_graph=True to the first "
            "backward() if you need to backward twice"
        )

    def _name(self) -> str:
        return self._node.name() if self._node is not None else "backward"

    def _free(self) -> None:
        """Drop saved state after backward: the tensors saved with `save_for_backward` (numbers
        saved beside no tensor stay), the saved output, and a built-in op's attributes other
        than plain metadata (shapes, dtypes, flags: `_is_metadata`); a custom Function's own
        attributes stay, as in PyTorch. Reading a dropped one again raises."""
        # NOTE: runs for every node of every backward: plain loops, no generators
        d = self.__dict__
        for t in self._saved:
            if type(t) not in _PLAIN:  # tensors, not only numbers
                self._saved = self._versions = ()
                self._freed = True
                break
        freed = None
        if "_output" in d:
            del d["_output"]
            freed = ["_output"]
        node = self._node
        if node is None or getattr(node.fn, "_builtin", True):
            for k, v in d.items():
                if k[0] != "_" and k not in _KEEP and not _is_metadata(v):
                    freed = [k] if freed is None else freed + [k]
            if freed is not None:
                for k in freed:
                    d.pop(k, None)
        if freed is not None:
            d["_freed_names"] = d.get("_freed_names", ()) + tuple(freed)
            # NOTE: a __getattr__ on Context itself would slow every ctx attribute access
            self.__class__ = _FreedContext


class _FreedContext(Context):
    """A Context after `Context._free` dropped some attributes: reading one raises the
    retain_graph error instead of an AttributeError."""

    def __getattr__(self, name):  # only for attributes that are missing
        if name in self.__dict__.get("_freed_names", ()):
            raise self._freed_error()
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


# types of plain metadata; grows with the dtype and numpy scalar classes seen (a set lookup is
# the fast path of `_is_metadata`, which runs for every attribute of every node in backward)
_PLAIN = {type(None), bool, int, float, str}
_KEEP = frozenset(("needs_input_grad", "device"))


def _is_metadata(v) -> bool:
    """Whether ``v`` is plain metadata (numbers, strings, dtypes, slices and tuples or lists of
    them) that `Context._free` keeps; anything else (arrays, tensors, other objects) goes."""
    t = type(v)
    if t in _PLAIN:
        return True
    if t is tuple or t is list:
        for x in v:
            if type(x) not in _PLAIN and not _is_metadata(x):
                return False
        return True
    if isinstance(v, np.dtype | np.generic | type | slice):
        _PLAIN.add(t)
        return True
    return False


class Node:
    """A recorded call: the Function's backward plus edges to the inputs' nodes.

    ``next_functions[i]`` is ``(node, output_nr)`` for input i, or ``(None, 0)`` when input i
    needs no gradient. Leaves are represented by their :class:`AccumulateGrad` node.
    """

    __slots__ = ("fn", "ctx", "next_functions", "input_meta", "pre_hooks", "n_outputs",
                 "__weakref__")

    def __init__(self, fn, ctx, next_functions, input_meta, n_outputs):
        self.fn = fn
        self.ctx = ctx
        self.next_functions = next_functions
        self.input_meta = input_meta  # (shape, dtype) per input: the engine checks gradients
        self.pre_hooks = None  # {output_nr: [hook, ...]} from Tensor.register_hook
        self.n_outputs = n_outputs

    def name(self) -> str:
        return f"{self.fn.__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"

    def run(self, grads: list) -> tuple:
        """Call the Function's backward with gradient Tensors; return one entry per input.

        The gradient of an output that did not reach the loss is None for built-in ops and,
        as in PyTorch, zeros for custom Functions (`Context.set_materialize_grads`)."""
        ctx = self.ctx
        if self.n_outputs > 1 and ctx._output_meta is not None:
            grads = materialize_grads(grads, ctx._output_meta)
        out = self.fn.backward(ctx, *[None if g is None else wrap(g) for g in grads])
        return out if isinstance(out, tuple) else (out,)


def materialize_grads(grads, meta) -> list:
    """``grads`` (arrays or None, one per output) with zeros in place of None, shaped like
    ``meta``'s entries ``(shape, dtype, xp)`` (None: an output forward returned as None)."""
    return [m[2].zeros(m[0], m[1]) if g is None and m is not None else g
            for g, m in zip(grads, meta, strict=True)]


class AccumulateGrad:
    """The node of a leaf tensor: adds the incoming gradient into ``leaf.grad``."""

    __slots__ = ("leaf", "hooks", "__weakref__")
    next_functions = ()
    n_outputs = 1

    def __init__(self, leaf):
        self.leaf = leaf
        self.hooks = None

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"


def grad_edge(t: Tensor) -> tuple:
    """``(node, output_nr)`` through which gradient reaches ``t``."""
    if t._view is not None and t._view.version != t._version[0]:
        refresh(t)
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    acc = t._accumulator
    if acc is None:
        acc = t._accumulator = AccumulateGrad(t)
    return (acc, 0)


def _grad_tensor(a):
    """The Tensor through which ``a`` takes part in autograd, or None."""
    if isinstance(a, Tensor):
        return a
    values = getattr(a, "values", None)  # sparse tensors: gradients flow through values
    return values if isinstance(values, Tensor) else None


def _wrap_output(array, inputs, grad_mode: bool) -> Tensor:
    """Wrap a forward result; a view of an input shares that input's version counter, so an
    in-place change through either is seen by backward, and remembers the input's root base,
    so an in-place change through the view is recorded on the base (as PyTorch's views do)."""
    t = wrap(array)
    base = t.array.base
    for inp in inputs:
        if inp is not None and (t.array is inp.array or base is not None and (
                base is inp.array or base is inp.array.base)):
            t._version = inp._version
            info = inp._view
            # a view (in grad mode) of a custom Function's view output inherits its tag: its
            # history passes through the custom backward too (torch's creation meta)
            t._view = (ViewInfo(inp, t._version[0], grad_mode) if info is None else
                       ViewInfo(info.base, t._version[0], grad_mode,
                                info.custom if grad_mode else None))
            break
    return t


def _tensor_output(o: Tensor, inputs, grad_mode: bool) -> Tensor:
    """A Tensor that forward returned; an input returned as is becomes a new Tensor viewing
    it, so that recording the output's history never takes over the input (a leaf)."""
    for inp in inputs:
        if o is inp:
            return _wrap_output(o.array, inputs, grad_mode)
    return o


class Function:
    """Base class of differentiable ops; subclass and define ``forward`` / ``backward``.

    Example::

        class MyReLU(sg.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.clamp(min=0)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                gx = g.clone()
                gx[x < 0] = 0
                return gx

    As in PyTorch, backward receives one gradient per output: zeros for an output that did
    not reach the loss (``ctx.set_materialize_grads(False)`` passes None instead);
    ``ctx.mark_non_differentiable(*outputs)`` and ``ctx.mark_dirty(*inputs)`` work as there.
    PyTorch >= 2.0's split form works too: a static ``forward(*args)`` without ctx and a static
    ``setup_context(ctx, inputs, output)`` that fills ctx (see `Function.setup_context`).
    """

    # A Function whose forward draws random numbers (dropout): a static graph never folds,
    # merges or reorders it relative to other random ops.
    random = False

    # The library's own ops (defined in sparsegraph.*) get None for an unused output's
    # gradient, and their array attributes on ctx are freed after backward; custom Functions
    # follow PyTorch: zeros, and only save_for_backward's tensors are freed.
    _builtin = True

    # PyTorch >= 2.0's split form (a class that overrides `setup_context`): the Function whose
    # forward(ctx, *args) runs forward(*args) then setup_context (`_with_ctx`); None otherwise
    _split = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_builtin" not in cls.__dict__:
            cls._builtin = cls.__module__.startswith("sparsegraph.")
        cls._split = (_with_ctx(cls) if cls.setup_context is not Function.setup_context
                      else None)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must define a static forward(ctx, ...)")

    @staticmethod
    def setup_context(ctx, inputs: tuple, output) -> None:
        """Override it (PyTorch >= 2.0's form) to write ``forward(*args)`` without ``ctx``:
        ``apply`` then calls ``forward(*args)`` and ``setup_context(ctx, inputs, output)``,
        ``inputs`` being the arguments (keywords and defaults bound in order, as PyTorch binds
        them) and ``output`` what forward returned. Everything ``ctx`` offers in forward
        (``save_for_backward``, ``needs_input_grad``, ``mark_*``, ``set_materialize_grads``)
        works here the same way."""
        raise NotImplementedError("Function.setup_context: override it, as a staticmethod, "
                                  "to use forward(*args) without ctx")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("Function subclasses must define a static backward(ctx, ...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        # NOTE: the hot path of every op; kept to one pass over the arguments.
        split = cls._split
        if split is not None:
            args, kwargs = _bind(cls, args, kwargs), {}
        enabled = MODE.enabled
        tensors, needs = [], []
        record, device = False, None
        for a in args:
            if isinstance(a, Tensor):
                t = a
            elif isinstance(a, SparseTensor):
                t = a.values  # sparse tensors take part through their values
            else:
                tensors.append(None)
                needs.append(False)
                continue
            if device is None:
                device = t.device
            if t._view is not None and enabled and t._view.version != t._version[0]:
                refresh(t)  # its memory changed in place since its history was recorded
            n = enabled and t._requires_grad
            record = record or n
            tensors.append(t)
            needs.append(n)
        ctx = Context(tuple(needs), "cpu" if device is None or device == "cpu"
                      else device_type(device))
        MODE.enabled = False
        tracer = TRACE.tracer
        if tracer is not None:
            tracer.depth += 1  # ops called inside this forward are part of it, not recorded
        try:
            out = (cls if split is None else split).forward(ctx, *args, **kwargs)
        finally:
            MODE.enabled = enabled
            if tracer is not None:
                tracer.depth -= 1
        single = not isinstance(out, tuple)
        raw = (out,) if single else out
        outs = tuple(o if o is None else _tensor_output(o, tensors, enabled)
                     if isinstance(o, Tensor) else _wrap_output(o, tensors, enabled)
                     for o in raw)
        marks = ctx._marks
        if marks is not None:
            del ctx._marks  # keeps no tensor alive
            non_diff, dirty = _resolve_marks(cls, marks, raw, tensors, args, enabled)
        if record:
            node = Node(
                cls,
                ctx,
                tuple(grad_edge(t) if n else (None, 0)
                      for t, n in zip(tensors, needs, strict=True)),
                tuple((t.shape, t.dtype) if n else None
                      for t, n in zip(tensors, needs, strict=True)),
                len(outs),
            )
            ctx._node = node
            for i, o in enumerate(outs):
                if o is not None and o.array.dtype.kind == "f" and (
                        marks is None or i not in non_diff):
                    o.grad_fn = node
                    o._output_nr = i
                    o._requires_grad = True
            if len(outs) > 1 and (not cls._builtin if ctx._materialize is None
                                  else ctx._materialize):
                # backward gets zeros for the outputs the loss misses (`Node.run`)
                ctx._output_meta = tuple(None if o is None else (o.shape, o.dtype, o.xp)
                                         for o in outs)
        if tracer is not None:
            tracer.record(cls if split is None else split, args, kwargs, outs, ctx)
        if marks is not None and dirty:
            outs = _commit_dirty(ctx, outs, dirty)
        if record and not cls._builtin:
            tag_custom_views(cls.__name__, outs, node,
                             () if marks is None else {i for i, _ in dirty})
        return outs[0] if single else outs

    @classmethod
    def apply_inplace(cls, target: Tensor, *args, inplace_name: str | None = None,
                      **kwargs) -> Tensor:
        """Run ``forward(ctx, target, *args)``, which changes ``target.array`` in place;
        ``inplace_name`` is what errors call it (default: the class's ``op_name`` or name), the
        method the user called where one Function serves several (``relu_`` through `Copy`).

        The target's version counter is bumped (so a backward that saved it raises), and when
        the graph is recorded the target's history is rebased onto the new node, whose input 0
        is the target as it was before the change. When the target is a view, its root base is
        rebased too (`views.CopySlices`), and the base's other views follow it on their next
        use (`views.refresh`).
        """
        a = target.array
        name = inplace_name or getattr(cls, "op_name", cls.__name__)
        if 0 in a.strides or not getattr(a.flags, "writeable", True):  # cheap test first
            check_writable(name, a)
        if MODE.enabled:
            check_inplace(name, target, args)
            if TRACE.tracer is not None and target._view is not None and (
                    target._requires_grad or target._view.base._requires_grad
                    or any(isinstance(a, Tensor) and a._requires_grad for a in args)):
                # the base's CopySlices history has no static-graph form yet: refuse, never
                # run a graph whose backward misses the write
                TRACE.tracer.unsupported(f"{cls.__name__} writing through a view of a tensor "
                                         "that takes part in autograd")
        result = cls.apply(target, *args, **kwargs)
        if TRACE.tracer is not None:
            TRACE.tracer.rebind(target, result)
        target._version[0] += 1
        if isinstance(result, Tensor) and result.grad_fn is not None:
            old_fn, old_nr = target.grad_fn, target._output_nr
            target.grad_fn, target._output_nr = result.grad_fn, 0
            target._requires_grad = True
            move_retain_grad(target, old_fn, old_nr)
            if target._view is not None:
                result._view = None  # it is the op's output itself, not a view to refresh
                rebase(target, result)  # the write changed the base too: CopySlices
        if target._view is not None:
            target._view.version = target._version[0]
        return target


def once_differentiable(fn):
    """Decorator for a Function's ``backward`` (below ``@staticmethod``), as PyTorch's: the
    backward runs with grad mode off, so the ops inside it record no graph. Backward here is
    first order only (the engine records nothing either), so it changes nothing else."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev, MODE.enabled = MODE.enabled, False
        try:
            return fn(ctx, *args)
        finally:
            MODE.enabled = prev

    return wrapper


def _with_ctx(cls) -> type:
    """For a Function in PyTorch's split form: a Function of the same name whose
    ``forward(ctx, *args)`` runs ``cls.forward(*args)`` and then ``cls.setup_context(ctx, args,
    output)`` (both in `apply`'s no-grad forward, as PyTorch runs them), and whose backward is
    ``cls``'s; `apply` runs it, and a static graph records and replays it."""

    def forward(ctx, *args):
        output = cls.forward(*args)
        cls.setup_context(ctx, args, output)
        return output

    def backward(ctx, *grads):
        return cls.backward(ctx, *grads)

    return type(cls.__name__, (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "_builtin": cls._builtin, "random": cls.random, "__module__": cls.__module__,
        "__qualname__": cls.__qualname__})


def _bind(cls, args: tuple, kwargs: dict) -> tuple:
    """``args`` and ``kwargs`` bound to ``cls.forward``'s parameters, defaults applied, as one
    positional tuple: the ``inputs`` of `Function.setup_context` (PyTorch binds them so)."""
    sig = cls.__dict__.get("_signature")
    if sig is None:
        sig = cls._signature = inspect.signature(cls.forward)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{cls.__name__}.apply: the arguments do not fit "
                        f"forward{sig}: {exc}") from None
    if bound.kwargs:  # keyword-only or **kwargs given: PyTorch's apply passes positions only
        raise TypeError(f"{cls.__name__}.apply: forward{sig} takes keyword-only arguments "
                        f"{sorted(bound.kwargs)}, which apply cannot pass (as in PyTorch); "
                        "make them positional parameters of forward")
    bound.apply_defaults()  # keyword-only defaults stay forward's own
    return bound.args


def _resolve_marks(cls, marks: dict, raw: tuple, tensors: list, args: tuple, enabled: bool):
    """The output positions marked non-differentiable, and ``(position, input)`` for each
    input marked dirty (checked as an in-place op's target is, `Function.apply_inplace`)."""

    def position(t) -> int | None:
        return next((i for i, o in enumerate(raw) if o is t or o is t.array), None)

    non_diff = {i for i in map(position, marks.get("non_differentiable", ())) if i is not None}
    dirty = []
    for t in marks.get("dirty", ()):
        if not any(t is inp for inp in tensors):
            raise RuntimeError(f"{cls.__name__}: mark_dirty() got a tensor that is not an "
                               "input of forward; only inputs changed in place are dirty")
        i = position(t)
        if i is None:
            raise RuntimeError(f"{cls.__name__}: an input marked dirty was not returned by "
                               "forward; return every input it changes in place")
        if enabled:
            check_inplace(cls.__name__, t, args)
        if TRACE.tracer is not None:  # the static graph has no form for it yet
            TRACE.tracer.unsupported(f"{cls.__name__} with ctx.mark_dirty()",
                                     "run it eagerly, or return a new tensor from forward")
        dirty.append((i, t))
    return non_diff, dirty


def _commit_dirty(ctx, outs: tuple, dirty: list) -> tuple:
    """Each dirty input takes its output's place: version bumped, history rebased onto the
    call (through its base when it is a view), as after `Function.apply_inplace`."""
    outs = list(outs)
    for i, target in dirty:
        result = outs[i]
        target._version[0] += 1
        ctx._versions = tuple(target._version[0] if t is target else v
                              for t, v in zip(ctx._saved, ctx._versions, strict=True))
        if result.grad_fn is not None:
            old_fn, old_nr = target.grad_fn, target._output_nr
            target.grad_fn, target._output_nr = result.grad_fn, i
            target._requires_grad = True
            move_retain_grad(target, old_fn, old_nr)
            if target._view is not None:
                result._view = None
                rebase(target, result)
        if target._view is not None:
            target._view.version = target._version[0]
        outs[i] = target
    return tuple(outs)
