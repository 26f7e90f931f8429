"""`Tensor`: one numpy / cupy array plus its place in the autograd graph.

Math methods are one-line delegations to `sparsegraph.ops` (imported lazily: the core sits below
the op library, and this is the one sanctioned upward edge).
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend

_OPS = None


class _Trace:
    """The active static-graph tracer, or None. `sparsegraph.static` installs one while it
    captures a function; the core only calls its hooks (the core never imports static)."""

    tracer = None


TRACE = _Trace()


def _ops():
    global _OPS
    if _OPS is None:
        import sparsegraph.ops as ops

        _OPS = ops
    return _OPS


def wrap(array) -> Tensor:
    """A Tensor around ``array`` with no graph and no copy (the fast internal constructor)."""
    t = Tensor.__new__(Tensor)
    if type(array) is np.ndarray:
        t.device = "cpu"
    elif isinstance(array, np.generic | float | int | bool):
        # numpy returns scalars, not 0-d arrays, from ops on 0-d arrays
        array, t.device = np.asarray(array), "cpu"
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


class Tensor:
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
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None):
        return self.array.shape if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

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
        self.array = other.array if isinstance(other, Tensor) else np.asarray(other)
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
        if TRACE.tracer is not None:
            TRACE.tracer.escape(self, "np.asarray()")
        a = backend.to_device(self.array, "cpu")
        return a if dtype is None else a.astype(dtype, copy=False)

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
            np.asarray(self.__array__()), separator=", ", prefix="tensor(", precision=4
        )
        extra = []
        if self.dtype not in (backend.DEFAULT_FLOAT, np.dtype(np.int64), np.dtype(np.bool_)):
            extra.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extra.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extra.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extra)})"

    # ---- autograd -------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf it uses.

        Args:
            gradient: d(something)/d(self), same shape; may be omitted for a scalar.
            retain_graph: keep saved buffers so backward can run through them again.

        Raises:
            RuntimeError: non-scalar output without ``gradient``; a second backward through
                freed buffers; a tensor that does not require grad.
        """
        from sparsegraph.autograd.engine import backward

        backward(self, gradient, retain_graph)

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
        return _HookHandle(hooks, key)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for a non-leaf tensor too."""
        if self.grad_fn is None:
            return

        def keep(g):
            # NOTE: a copy: `g` is the engine's array, possibly shared with other gradients
            self._grad = wrap(g.array.copy() if self._grad is None
                              else self._grad.array + g.array)

        self.register_hook(keep)

    def detach(self) -> Tensor:
        """Same values and memory, cut from the graph."""
        return self.data

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def clone(self) -> Tensor:
        return _ops().clone(self)

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or keywords; differentiable."""
        return _ops().to(self, *args, **kwargs)

    def float(self) -> Tensor:
        return self.to("float32")

    def double(self) -> Tensor:
        return self.to("float64")

    def long(self) -> Tensor:
        return self.to("int64")

    def int(self) -> Tensor:
        return self.to("int32")

    def bool(self) -> Tensor:
        return self.to("bool")

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    # ---- arithmetic (delegations to sparsegraph.ops) ---------------------------------------
    # NOTE: a SparseTensor operand answers itself (its reflected method: `dense * A` is A's
    # sampled product, `dense + A` the dense sum), as numpy defers to scipy.sparse
    def __add__(self, other):
        if getattr(other, "_sparse_operand", False):
            return NotImplemented
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        if getattr(other, "_sparse_operand", False):
            return NotImplemented
        return _ops().sub(self, other)

    def __rsub__(self, other):
        return _ops().sub(other, self)

    def __mul__(self, other):
        if getattr(other, "_sparse_operand", False):
            return NotImplemented
        return _ops().mul(self, other)

    def __rmul__(self, other):
        return _ops().mul(other, self)

    def __truediv__(self, other):
        return _ops().div(self, other)

    def __rtruediv__(self, other):
        return _ops().div(other, self)

    def __pow__(self, other):
        return _ops().pow(self, other)

    def __rpow__(self, other):
        return _ops().pow(other, self)

    def __neg__(self):
        return _ops().neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops().abs(self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __lt__(self, other):
        return _ops().lt(self, other)

    def __le__(self, other):
        return _ops().le(self, other)

    def __gt__(self, other):
        return _ops().gt(self, other)

    def __ge__(self, other):
        return _ops().ge(self, other)

    def __eq__(self, other):
        return _ops().eq(self, other)

    def __ne__(self, other):
        return _ops().ne(self, other)

    # NOTE: bitwise on integers, logical on bools (numpy's and torch's meaning of ~ & | ^)
    def __invert__(self):
        return _ops().bitwise_not(self)

    def __and__(self, other):
        return _ops().bitwise_and(self, other)

    def __rand__(self, other):
        return _ops().bitwise_and(other, self)

    def __or__(self, other):
        return _ops().bitwise_or(self, other)

    def __ror__(self, other):
        return _ops().bitwise_or(other, self)

    def __xor__(self, other):
        return _ops().bitwise_xor(self, other)

    def __rxor__(self, other):
        return _ops().bitwise_xor(other, self)

    def __getitem__(self, key):
        return _ops().getitem(self, key)

    def __setitem__(self, key, value):
        _ops().setitem(self, key, value)

    # ---- in-place updates -------------------------------------------------------------------
    def add_(self, other, alpha=1):
        return _ops().add_(self, other, alpha=alpha)

    def sub_(self, other, alpha=1):
        return _ops().add_(self, other, alpha=-alpha)

    def mul_(self, other):
        return _ops().mul_(self, other)

    def div_(self, other):
        return _ops().div_(self, other)

    # NOTE: `x += y` updates x in place (torch's meaning), so `w -= lr * w.grad` changes the
    # parameter itself instead of rebinding the name to a new tensor
    def __iadd__(self, other):
        return _ops().add_(self, other)

    def __isub__(self, other):
        return _ops().add_(self, other, alpha=-1)

    def __imul__(self, other):
        return _ops().mul_(self, other)

    def __itruediv__(self, other):
        return _ops().div_(self, other)

    def zero_(self):
        return _ops().fill_(self, 0)

    def fill_(self, value):
        return _ops().fill_(self, value)

    def copy_(self, src):
        return _ops().copy_(self, src)

    def clamp_(self, min=None, max=None):
        return _ops().clamp_(self, min, max)

    # ---- math methods -----------------------------------------------------------------------
    def exp(self):
        return _ops().exp(self)

    def log(self):
        return _ops().log(self)

    def sqrt(self):
        return _ops().sqrt(self)

    def abs(self):
        return _ops().abs(self)

    def sign(self):
        return _ops().sign(self)

    def relu(self):
        return _ops().relu(self)

    def sigmoid(self):
        return _ops().sigmoid(self)

    def tanh(self):
        return _ops().tanh(self)

    def pow(self, exponent):
        return _ops().pow(self, exponent)

    def clamp(self, min=None, max=None):
        return _ops().clamp(self, min, max)

    clip = clamp

    def sum(self, dim=None, keepdim=False):
        return _ops().sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return _ops().mean(self, dim, keepdim)

    def var(self, dim=None, keepdim=False, unbiased=True):
        return _ops().var(self, dim, keepdim, unbiased=unbiased)

    def std(self, dim=None, keepdim=False, unbiased=True):
        return _ops().std(self, dim, keepdim, unbiased=unbiased)

    def max(self, dim=None, keepdim=False):
        return _ops().max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return _ops().min(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return _ops().argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return _ops().argmin(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return _ops().any(self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        return _ops().all(self, dim, keepdim)

    def matmul(self, other):
        return _ops().matmul(self, other)

    def softmax(self, dim=-1):
        return _ops().softmax(self, dim)

    def log_softmax(self, dim=-1):
        return _ops().log_softmax(self, dim)

    # ---- shape methods ----------------------------------------------------------------------
    @property
    def T(self):
        return _ops().permute(self, tuple(range(self.ndim - 1, -1, -1)))

    def t(self):
        if self.ndim > 2:
            raise ValueError(f"t: expected a tensor with at most 2 dims (got {self.ndim})")
        return self.T

    def transpose(self, dim0, dim1):
        return _ops().transpose(self, dim0, dim1)

    def permute(self, *dims):
        return _ops().permute(self, dims[0] if len(dims) == 1 and not isinstance(
            dims[0], int) else dims)

    def reshape(self, *shape):
        return _ops().reshape(self, shape[0] if len(shape) == 1 and not isinstance(
            shape[0], int) else shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops().flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return _ops().squeeze(self, dim)

    def unsqueeze(self, dim):
        return _ops().unsqueeze(self, dim)

    def expand(self, *sizes):
        return _ops().expand(self, sizes[0] if len(sizes) == 1 and not isinstance(
            sizes[0], int) else sizes)

    def split(self, split_size_or_sections, dim=0):
        return _ops().split(self, split_size_or_sections, dim)

    def index_select(self, dim, index):
        return _ops().index_select(self, dim, index)

    def gather(self, dim, index):
        return _ops().gather(self, dim, index)

    def masked_fill(self, mask, value):
        return _ops().masked_fill(self, mask, value)

    def where(self, condition, other):
        return _ops().where(condition, self, other)

    def to_sparse(self, layout: str = "csr"):
        return _ops().to_sparse(self, layout)


class _HookHandle:
    def __init__(self, hooks: dict, key):
        self.hooks, self.key = hooks, key

    def remove(self) -> None:
        self.hooks.pop(self.key, None)
