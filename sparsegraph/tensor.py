"""`Tensor`: one numpy / cupy array plus its place in the autograd graph.

Operators and math / shape methods are one-line delegations to `sparsegraph.ops`, inherited
from `sparsegraph.tensor_methods.TensorMethods`.
"""

from __future__ import annotations

import copy

import numpy as np

from sparsegraph import backend
from sparsegraph.tensor_methods import TensorMethods, _ops


class _Trace:
    """The active static-graph tracer, or None. `sparsegraph.static` installs one while it
    captures a function; the core only calls its hooks (the core never imports static)."""

    tracer = None


TRACE = _Trace()


def host_values(t, what: str, hint: str = ""):
    """The array of ``t`` (a Tensor; an array or list is returned as is) for Python code that
    reads its values on the host to build something it keeps: a CSR structure from an
    edge_index, a size inferred as ``max + 1``. Every such read goes through here, so a static
    trace guards it (another input's values trace again) or refuses it with ``what`` (and
    ``hint``) in the message (`sparsegraph.static.capture.Tracer.read_values`)."""
    if TRACE.tracer is not None:
        TRACE.tracer.read_values(t, what, hint)
    return t.array if isinstance(t, Tensor) else t


def wrap(array) -> Tensor:
    """A Tensor around ``array`` with no graph and no copy (the fast internal constructor)."""
    t = Tensor.__new__(Tensor)
    if type(array) is np.ndarray:
        t.device = backend.CPU
    elif isinstance(array, np.generic | float | int | bool):
        # numpy returns scalars, not 0-d arrays, from ops on 0-d arrays
        array, t.device = np.asarray(array), backend.CPU
    else:
        t.device = backend.device_of(array)
    t.array = array
    t._requires_grad = False
    t._grad = None
    t.grad_fn = None
    t._output_nr = 0
    t._version = [0]
    t._accumulator = None
    t._name = None
    t._view = None
    return t


class Tensor(TensorMethods):
    """An n-dimensional array that can record the operations applied to it.

    Build one with :func:`sparsegraph.tensor` (or ``zeros``, ``randn``, ...). ``Tensor(x)`` also
    accepts an array or nested list.

    Attributes:
        array: the underlying numpy / cupy array (no copy, no graph).
        requires_grad: whether ops on this tensor are recorded for backward.
        grad: accumulated gradient of a leaf (a Tensor) or None.
        grad_fn: the node that produced this tensor, or None for leaves.
    """

    __slots__ = ("array", "device", "_requires_grad", "_grad", "grad_fn", "_output_nr",
                 "_version", "_accumulator", "_name", "_view", "__weakref__")
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    def __init__(self, data, dtype=None, requires_grad: bool = False, device="cpu"):
        from sparsegraph.creation import as_array

        if isinstance(data, int | np.integer) and not isinstance(data, bool | np.bool_):
            # torch.Tensor(16) / torch.Tensor(3, 4) is PyTorch's legacy constructor of an
            # uninitialised float32 tensor of that shape; here it would be a 0-d int
            raise TypeError(f"Tensor: expected data (an array, a list, a number as a float), not "
                            f"sizes (got {data!r}); for PyTorch's Tensor(*sizes) use "
                            f"sparsegraph.empty(...) or zeros(...), for a 0-d tensor "
                            f"sparsegraph.tensor({data!r})")
        array = as_array(data, dtype, backend.normalize_device(device))
        other = wrap(array)
        for slot in Tensor.__slots__[:-1]:
            setattr(self, slot, getattr(other, slot))
        if requires_grad:
            self.requires_grad_(True)

    # ---- metadata -------------------------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def is_cuda(self) -> bool:
        return self.device != "cpu"

    def get_device(self) -> int:
        """The CUDA device index, -1 on the CPU (``torch.Tensor.get_device``)."""
        return -1 if self.device == "cpu" else backend.normalize_device(self.device).index

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating one (float16 / float32 / float64), as PyTorch's."""
        return self.array.dtype.kind == "f"

    def is_complex(self) -> bool:
        """Always False: there are no complex tensors (PyTorch code asks before ``.real``)."""
        return False

    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None):
        if dim is None:
            return self.array.shape
        n = self.array.ndim
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer):
            raise TypeError(f"size: expected an int `dim` (got {type(dim).__name__} {dim!r})")
        if not -n <= dim < n:
            raise ValueError(f"size: expected `dim` in [{-n}, {n - 1}] (got {dim})")
        return self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def is_contiguous(self, memory_format=None) -> bool:
        """Whether the memory is in row-major (C) order, as PyTorch's: strides of size-1 dims
        do not matter and an empty tensor is contiguous. ``memory_format`` may only be the
        default (None or "contiguous_format"): there are no channels-last layouts here."""
        if memory_format is not None and str(memory_format).removeprefix("torch.") != (
                "contiguous_format"):
            raise ValueError(f"is_contiguous: expected `memory_format` to be the default "
                             f"contiguous_format (got {memory_format!r}); channels-last "
                             "layouts are not supported")
        return bool(self.array.flags.c_contiguous)

    @property
    def xp(self):
        return np if self.device == "cpu" else backend.array_module(self.device)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if self.grad_fn is not None and not flag:
            raise RuntimeError(
                "requires_grad_: cannot turn off requires_grad of a non-leaf tensor; use .detach()"
            )
        if flag and self.array.dtype.kind != "f":
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require grad (got {self.dtype})"
            )
        if flag and not self._requires_grad and TRACE.tracer is not None:
            TRACE.tracer.new_leaf(self)  # a new leaf in a compiled step: refused (not replayed)
        self._requires_grad = bool(flag)
        return self

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad: expected a Tensor or None (got {type(value).__name__})")
            if value.shape != self.shape:
                raise ValueError(f"grad: expected a gradient of shape {self.shape} to match the "
                                 f"tensor (got {value.shape})")
            if value.dtype != self.dtype or value.device != self.device:
                raise TypeError(
                    f"grad: expected a gradient of dtype {self.dtype} on {self.device} to match "
                    f"the tensor (got {value.dtype} on {value.device})")
        if TRACE.tracer is not None:  # `p.grad = None` in a compiled step is replayed
            TRACE.tracer.record_grad(self, value)
        self._grad = value

    @property
    def data(self) -> Tensor:
        """The same values as a tensor with no graph (shares memory and version counter)."""
        t = wrap(self.array)
        t._version = self._version
        return t

    @data.setter
    def data(self, other) -> None:
        if TRACE.tracer is not None:  # `w.data = w.data - lr * w.grad` is replayed
            TRACE.tracer.record_data(self, other)
        self.array = (other.array if isinstance(other, Tensor) else other
                      if hasattr(other, "__cuda_array_interface__") or isinstance(other, np.ndarray)
                      else np.asarray(other))
        self.device = backend.device_of(self.array)

    # ---- conversion -----------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        if TRACE.tracer is not None:
            TRACE.tracer.escape(self, "numpy()")
        if self._requires_grad:
            raise RuntimeError(
                "numpy: can't call numpy() on a tensor that requires grad; use "
                ".detach().numpy()"
            )
        return backend.to_device(self.array, "cpu")

    def __array__(self, dtype=None, copy=None):
        """numpy's view of the values (``np.asarray(t)`` shares them, as ``t.numpy()``);
        ``copy=True`` (``np.array(t)``, ``np.copy(t)``) copies, ``copy=False`` refuses a
        conversion. Refused for a tensor that requires grad, as PyTorch's: a write into the
        array would go around autograd."""
        if TRACE.tracer is not None:
            TRACE.tracer.escape(self, "np.asarray()")
        if self._requires_grad:
            raise RuntimeError("np.asarray: can't convert a tensor that requires grad to a "
                               "numpy array; use .detach() first (as t.numpy())")
        a = backend.to_device(self.array, "cpu")
        converted = a if dtype is None else a.astype(dtype, copy=False)
        if copy is False and converted is not a:
            raise ValueError(f"np.asarray: the {a.dtype} tensor cannot become {dtype} "
                             "without a copy (copy=False)")
        return converted.copy() if copy and converted is a else converted

    def __array_wrap__(self, array, context=None, return_scalar=False):
        """A numpy ufunc's result on this tensor as a Tensor (``np.exp(t)``, ``np.abs(t)``,
        ``np.greater(t, 0)``), as torch's ``from_numpy(array)``: on the CPU, with no graph
        (numpy computed it from `__array__`, which a tensor that requires grad refuses). A 0-d
        result stays a 0-d tensor whatever ``return_scalar`` says (torch's ``np.exp(tensor(1.))``
        is ``tensor(2.7183)``); a bool result stays bool (torch's uint8 dates from before bool
        tensors). An array that views other memory (numpy's fallback ``np.squeeze(t)``) is
        copied, so the new tensor never aliases this one's values under another version."""
        array = np.asarray(array)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"__array_wrap__: numpy returned a {array.dtype} array, which is no "
                            "tensor dtype (bool, integer or floating); convert it yourself")
        return wrap(array if array.flags.owndata else array.copy())

    def item(self):
        if TRACE.tracer is not None:
            TRACE.tracer.escape(self, "item()")
        if self.array.size != 1:
            raise ValueError(
                f"item: expected a tensor with one element (got shape {self.shape})"
            )
        return self.array.reshape(()).item()

    def tolist(self):
        if TRACE.tracer is not None:
            TRACE.tracer.escape(self, "tolist()")
        return backend.to_device(self.array, "cpu").tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """A 0-d integer tensor as a Python int (``lst[t]``, ``range(t)``).

        Only 0-d: torch also takes a 1-element tensor, but then numpy's ``a[t]`` with ``t`` of
        shape (1,) would become a scalar lookup instead of an array index.
        """
        if self.array.dtype.kind not in "iub" or self.array.ndim != 0:
            raise TypeError("only 0-d integer tensors can be converted to an index (got "
                            f"{self.dtype} of shape {self.shape})")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its value (``f"{loss:.4f}"``), as in PyTorch; any other
        tensor only with an empty spec (its repr)."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __round__(self, ndigits=None):
        """``round(t)`` / ``round(t, n)``: a tensor rounded half to even (PyTorch's)."""
        return _ops().round(self, 0 if ndigits is None else ndigits)

    def __bool__(self):
        if TRACE.tracer is not None:
            TRACE.tracer.escape(self, "bool()")
        if self.array.size != 1:
            raise ValueError(
                f"bool: the truth value of a tensor with {self.array.size} elements is "
                "ambiguous; use .any() or .all()"
            )
        return bool(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __hash__(self):
        return id(self)

    def __repr__(self) -> str:
        body = np.array2string(
            backend.to_device(self.array, "cpu"), separator=", ", prefix="tensor(", precision=4
        )
        extra = []
        if self.array.size == 0 and self.ndim != 1:  # torch: tensor([], size=(0, 3))
            extra.append(f"size={self.shape}")
        # torch names int64 and bool only where the body cannot show them: an empty tensor
        shown = (backend.DEFAULT_FLOAT,) + ((np.dtype(np.int64), np.dtype(np.bool_))
                                            if self.array.size else ())
        if self.dtype not in shown:
            extra.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extra.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extra.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extra)})"

    # ---- autograd -------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf it uses.

        Args:
            gradient: d(something)/d(self), same shape; may be omitted for a scalar.
            retain_graph: keep saved buffers so backward can run through them again.
            create_graph: False only (no double backward; True raises), for PyTorch code.
            inputs: only these tensors' ``.grad`` is filled, only the graph leading to them runs.

        Raises:
            RuntimeError: non-scalar output without ``gradient``; a second backward through
                freed buffers; a tensor that does not require grad.
        """
        from sparsegraph.autograd.engine import backward

        backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        from sparsegraph.autograd.function import grad_edge

        if not self._requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad")
        node, nr = grad_edge(self)
        if self.grad_fn is None:
            hooks = node.hooks = node.hooks or {}
        else:
            node.pre_hooks = node.pre_hooks or {}
            hooks = node.pre_hooks.setdefault(nr, {})
        key = object()
        hooks[key] = hook
        for k in [k for k, h in hooks.items() if isinstance(h, _RetainGrad)]:
            hooks[k] = hooks.pop(k)  # PyTorch 2: .grad is what flows on, after every hook
        return _HookHandle(hooks, key)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for a non-leaf tensor too: the gradient after the tensor's hooks,
        the one that flows on to its inputs (PyTorch 2's rule). Calling it again is a no-op."""
        if self.grad_fn is None:
            return
        hooks = (self.grad_fn.pre_hooks or {}).get(self._output_nr, {})
        if not any(isinstance(h, _RetainGrad) and h.tensor is self for h in hooks.values()):
            self.register_hook(_RetainGrad(self))

    def detach(self) -> Tensor:
        """Same values and memory, cut from the graph."""
        if TRACE.tracer is not None:  # recorded, or the trace would freeze this run's values
            return _ops().convert.traced_detach(self)
        return self.data

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place. Not for a view: its history is rebuilt from
        its base's after an in-place change (`autograd.views`), as PyTorch refuses the same."""
        if self._view is not None and self.array.dtype.kind == "f":
            raise RuntimeError("detach_: can't detach views in-place (the tensor shares memory "
                               "with a base tensor); use detach() instead")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def clone(self) -> Tensor:
        return _ops().clone(self)

    def __deepcopy__(self, memo) -> Tensor:
        """A copy with its own memory (``copy.deepcopy`` of modules, optimizer states, best
        weights). Only graph leaves, as in PyTorch: a copy of a non-leaf would copy its whole
        graph, leaves included, and backward through it would fill the hidden copies' ``.grad``.
        The copy keeps the class (a `Parameter` stays one), ``requires_grad`` and a deep copy of
        ``.grad``; tensors sharing one array (tied weights) share one copy and version counter.
        """
        if TRACE.tracer is not None:  # a copy made outside the recorded ops would be frozen
            TRACE.tracer.unsupported("copy.deepcopy of a tensor", "copy with .detach().clone() "
                                     "inside the compiled function, or deep-copy outside it")
        if self.grad_fn is not None:
            raise RuntimeError(
                "deepcopy: only tensors created explicitly by the user (graph leaves) support the "
                f"deepcopy protocol; this one (shape {self.shape}) has grad_fn "
                f"<{self.grad_fn.name()}>; deep-copy .detach() instead")
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        other = wrap(copy.deepcopy(self.array, memo))
        for slot in Tensor.__slots__[:-1]:  # every slot but __weakref__
            setattr(new, slot, getattr(other, slot))
        key = ("sparsegraph.Tensor._version", id(self._version), id(self.array))
        new._version = memo.setdefault(key, [0])
        new._requires_grad = self._requires_grad
        new._name = self._name
        new._grad = copy.deepcopy(self._grad, memo)
        if hasattr(self, "__dict__"):  # a subclass without __slots__
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    def __getstate__(self):
        """pickle's state: every slot, with a tensor computed by an op (``loss``, a layer's
        output) saved as PyTorch saves it - its values and ``requires_grad``, as a leaf: the
        graph behind it (its grad_fn, the inputs it holds) is not part of the value, and its
        ops cannot be pickled. One tensor pickled twice loads as one; views of one array load
        as separate copies (numpy's pickle: `sparsegraph.save` keeps a state dict)."""
        state = {slot: getattr(self, slot) for slot in Tensor.__slots__[:-1]}
        if self.grad_fn is not None:
            state.update(grad_fn=None, _output_nr=0, _accumulator=None, _view=None, _grad=None)
        return getattr(self, "__dict__", None) or None, state

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or keywords; differentiable.

        With ``copy=True`` the result is always a new tensor with its own memory, as PyTorch's,
        even when neither dtype nor device changes (then a differentiable `clone`)."""
        if kwargs.get("copy") is True:
            kwargs = {k: v for k, v in kwargs.items() if k != "copy"}
            out = _ops().to(self, *args, **kwargs)
            # a cast or a move already copied; a no-op `to` returned self itself
            return _ops().clone(out) if out is self else out
        return _ops().to(self, *args, **kwargs)

    def float(self) -> Tensor:
        return self.to("float32")

    def double(self) -> Tensor:
        return self.to("float64")

    def half(self) -> Tensor:
        return self.to("float16")

    def long(self) -> Tensor:
        return self.to("int64")

    def int(self) -> Tensor:
        return self.to("int32")

    def bool(self) -> Tensor:
        return self.to("bool")

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        """``to("cuda")``, or to CUDA device ``device`` (an int N or "cuda:N"), as torch's."""
        return self.to("cuda" if device is None else device, non_blocking=non_blocking)


class _RetainGrad:
    """The hook `retain_grad` registers; a class, so that `register_hook` can keep it last."""

    __slots__ = ("tensor",)

    def __init__(self, tensor: Tensor):
        self.tensor = tensor

    def __call__(self, g: Tensor) -> None:
        t = self.tensor
        # NOTE: a copy: `g` is the engine's array, possibly shared with other gradients
        t._grad = wrap(g.array.copy() if t._grad is None else t._grad.array + g.array)


class _HookHandle:
    def __init__(self, hooks: dict, key):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)
