"""`TensorMethods`: Tensor's Python operators and its math, indexing and in-place methods;
the shape and view methods come from `sparsegraph.tensor_shape_methods.ShapeMethods`.

Each is a one-line delegation to `sparsegraph.ops` (imported lazily: the core sits below the op
library, and this is the one sanctioned upward edge). Kept apart from `sparsegraph.tensor`,
which holds the data and the autograd state.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.numpy_compat import numpy_args
from sparsegraph.tensor_inplace_methods import InplaceMathMethods
from sparsegraph.tensor_shape_methods import ShapeMethods, _ops

__all__ = ["TensorMethods", "_ops"]  # tensor.py takes `_ops` from here


class TensorMethods(InplaceMathMethods, ShapeMethods):
    """Mixed into `sparsegraph.Tensor` (no state of its own)."""

    __slots__ = ()

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

    def __floordiv__(self, other):
        return _ops().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops().floor_divide(other, self)

    def __mod__(self, other):
        return _ops().remainder(self, other)

    def __rmod__(self, other):
        return _ops().remainder(other, self)

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

    # None, a str, a list ... is no operand of == / !=: Python's identity comparison answers,
    # as torch's (``t == None`` is False, ``t in (None, "mean")`` works)
    def __eq__(self, other):
        if other is None or isinstance(other, str | list | tuple | dict):
            return NotImplemented
        return _ops().eq(self, other)

    def __ne__(self, other):
        if other is None or isinstance(other, str | list | tuple | dict):
            return NotImplemented
        return _ops().ne(self, other)

    def __contains__(self, element):
        """``element in t``: whether any element equals it (torch's ``__contains__``)."""
        if not isinstance(element, TensorMethods | bool | int | float | np.number | np.bool_):
            raise TypeError(f"in: expected a Tensor or a number to look for (got "
                            f"{type(element).__name__})")
        return bool((self == element).any())

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

    def bitwise_and(self, other):
        return _ops().bitwise_and(self, other)

    def bitwise_or(self, other):
        return _ops().bitwise_or(self, other)

    def bitwise_xor(self, other):
        return _ops().bitwise_xor(self, other)

    def bitwise_not(self):
        return _ops().bitwise_not(self)

    def logical_and(self, other):
        return _ops().logical_and(self, other)

    def logical_or(self, other):
        return _ops().logical_or(self, other)

    def logical_xor(self, other):
        return _ops().logical_xor(self, other)

    def logical_not(self):
        return _ops().logical_not(self)

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

    # NOTE: so are &= |= ^= //= %= **= (without them Python would rebind the name to a new
    # tensor, and a stored mask or the base of a view would not change)
    def __iand__(self, other):
        return _ops().inplace.bitwise_and_(self, other)

    def __ior__(self, other):
        return _ops().inplace.bitwise_or_(self, other)

    def __ixor__(self, other):
        return _ops().inplace.bitwise_xor_(self, other)

    def __ifloordiv__(self, other):
        return _ops().inplace.floor_divide_(self, other)

    def __imod__(self, other):
        return _ops().inplace.remainder_(self, other)

    def __ipow__(self, other):
        return _ops().inplace.pow_(self, other)

    def bitwise_and_(self, other):
        return _ops().inplace.bitwise_and_(self, other)

    def bitwise_or_(self, other):
        return _ops().inplace.bitwise_or_(self, other)

    def bitwise_xor_(self, other):
        return _ops().inplace.bitwise_xor_(self, other)

    def bitwise_not_(self):
        return _ops().inplace.bitwise_not_(self)

    def zero_(self):
        return _ops().fill_(self, 0)

    def fill_(self, value):
        return _ops().fill_(self, value)

    def copy_(self, src):
        return _ops().copy_(self, src)

    def clamp_(self, min=None, max=None):
        return _ops().clamp_(self, min, max)

    def relu_(self):
        return _ops().relu_(self)

    def sigmoid_(self):
        return _ops().sigmoid_(self)

    def tanh_(self):
        return _ops().tanh_(self)

    def lerp_(self, end, weight):
        return _ops().inplace.lerp_(self, end, weight)

    # NOTE: torch's scatter_ / scatter_add_ (methods only: sg.scatter is PyG's functional)
    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return _ops().inplace.tensor_scatter_(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add_(self, dim, index, src):
        return _ops().inplace.tensor_scatter_add_(self, dim, index, src)

    # ---- PyTorch's comparison methods and factories "like this tensor" --------------------
    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def type_as(self, other):
        return _ops().to(self, other.dtype)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        from sparsegraph.creation import zeros

        return zeros(*size, dtype=dtype or self.dtype, device=self.device,
                     requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        from sparsegraph.creation import ones

        return ones(*size, dtype=dtype or self.dtype, device=self.device,
                    requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False):
        from sparsegraph.creation import full

        return full(size, fill_value, dtype=dtype or self.dtype, device=self.device,
                    requires_grad=requires_grad)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        from sparsegraph.creation import tensor

        return tensor(data, dtype=dtype or self.dtype, device=self.device,
                      requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False):
        from sparsegraph.creation import empty

        return empty(*size, dtype=dtype or self.dtype, device=self.device,
                     requires_grad=requires_grad)

    # NOTE: torch's in-place samplers; nn.init's fills (a lazy import: the core sits below nn)
    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        from sparsegraph.nn.init import uniform_

        return uniform_(self, a, b, generator)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        from sparsegraph.nn.init import normal_

        return normal_(self, mean, std, generator)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops().isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _ops().allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other):
        return _ops().equal(self, other)

    @numpy_args
    def norm(self, p=2, dim=None, keepdim=False):
        return _ops().norm(self, p, dim, keepdim)

    # ---- math methods -----------------------------------------------------------------------
    # NOTE: `alpha` as torch's Tensor.add / sub (`x.add(y, alpha=2)` is x + 2 y)
    def add(self, other, *, alpha=1):
        return _ops().add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return _ops().sub(self, other, alpha=alpha)

    def mul(self, other):
        return _ops().mul(self, other)

    def neg(self):
        return _ops().neg(self)

    def square(self):
        return _ops().square(self)

    def log1p(self):
        return _ops().log1p(self)

    def sin(self):
        return _ops().sin(self)

    def cos(self):
        return _ops().cos(self)

    def isnan(self):
        return _ops().isnan(self)

    def isinf(self):
        return _ops().isinf(self)

    def isfinite(self):
        return _ops().isfinite(self)

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

    def div(self, other, *, rounding_mode=None):
        return _ops().div(self, other, rounding_mode=rounding_mode)

    def floor_divide(self, other):
        return _ops().floor_divide(self, other)

    def remainder(self, other):
        return _ops().remainder(self, other)

    def fmod(self, other):
        return _ops().fmod(self, other)

    def floor(self):
        return _ops().floor(self)

    def ceil(self):
        return _ops().ceil(self)

    def trunc(self):
        return _ops().trunc(self)

    def round(self, decimals=0):
        return _ops().round(self, decimals)

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

    # NOTE: the reductions take numpy's names too (`numpy_args`: axis, keepdims, out=None), so
    # np.sum(t) / np.mean(t) / np.max(t), which call the method, return a Tensor with its graph
    @numpy_args
    def sum(self, dim=None, keepdim=False, *, dtype=None):
        if dtype is None:
            return _ops().sum(self, dim, keepdim)
        return _ops().sum(self, dim, keepdim, dtype=dtype)

    @numpy_args
    def mean(self, dim=None, keepdim=False, *, dtype=None):
        return _ops().mean(self, dim, keepdim, dtype=dtype)

    @numpy_args
    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return _ops().prod(self, dim, keepdim, dtype=dtype)

    # NOTE: each method takes its functional form's arguments (tests/test_tensor.py compares
    # the signatures), so `x.var(correction=0)` works as `ops.var(x, correction=0)` does;
    # positionally (dim, unbiased, keepdim), torch's order
    @numpy_args
    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        return _ops().var(self, dim, unbiased, keepdim, correction=correction)

    @numpy_args
    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        return _ops().std(self, dim, unbiased, keepdim, correction=correction)

    @numpy_args
    def logsumexp(self, dim, keepdim=False):
        return _ops().logsumexp(self, dim, keepdim)

    @numpy_args
    def amax(self, dim=None, keepdim=False):
        return _ops().amax(self, dim, keepdim)

    @numpy_args
    def amin(self, dim=None, keepdim=False):
        return _ops().amin(self, dim, keepdim)

    @numpy_args
    def cumsum(self, dim, *, dtype=None):
        return _ops().cumsum(self, dim, dtype=dtype)

    @numpy_args
    def cumprod(self, dim, *, dtype=None):
        return _ops().cumprod(self, dim, dtype=dtype)

    @numpy_args
    def sort(self, dim=-1, descending=False, stable=False):
        return _ops().sort(self, dim, descending, stable)

    @numpy_args
    def argsort(self, dim=-1, descending=False, stable=False):
        return _ops().argsort(self, dim, descending, stable)

    @numpy_args
    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002
        return _ops().topk(self, k, dim, largest, sorted)

    @numpy_args
    def max(self, dim=None, keepdim=False):
        return _ops().max(self, dim, keepdim)

    @numpy_args
    def median(self, dim=None, keepdim=False):
        return _ops().median(self, dim, keepdim)

    @numpy_args
    def kthvalue(self, k, dim=-1, keepdim=False):
        return _ops().kthvalue(self, k, dim, keepdim)

    @numpy_args
    def min(self, dim=None, keepdim=False):
        return _ops().min(self, dim, keepdim)

    @numpy_args
    def argmax(self, dim=None, keepdim=False):
        return _ops().argmax(self, dim, keepdim)

    @numpy_args
    def argmin(self, dim=None, keepdim=False):
        return _ops().argmin(self, dim, keepdim)

    @numpy_args
    def any(self, dim=None, keepdim=False):
        return _ops().any(self, dim, keepdim)

    @numpy_args
    def all(self, dim=None, keepdim=False):
        return _ops().all(self, dim, keepdim)

    def matmul(self, other):
        return _ops().matmul(self, other)

    def mm(self, mat2):
        return _ops().mm(self, mat2)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return _ops().addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def lerp(self, end, weight):
        return _ops().lerp(self, end, weight)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return _ops().multinomial(self, num_samples, replacement, generator=generator)

    def dot(self, other):
        return _ops().dot(self, other)

    @numpy_args
    def softmax(self, dim=None, *, dtype=None):
        if dim is None:  # the implicit dim's warning points at the method's caller
            dim = _ops().probability.implicit_dim("softmax", self.ndim, 4)
        return _ops().softmax(self, dim, dtype=dtype)

    @numpy_args
    def log_softmax(self, dim=None, *, dtype=None):
        if dim is None:
            dim = _ops().probability.implicit_dim("log_softmax", self.ndim, 4)
        return _ops().log_softmax(self, dim, dtype=dtype)


    # ---- indexing methods ------------------------------------------------------------------
    def index_add(self, dim, index, source, *, alpha=1):
        return _ops().index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        return _ops().index_add_(self, dim, index, source, alpha=alpha)

    def index_copy(self, dim, index, source):
        return _ops().index_copy(self, dim, index, source)

    def index_copy_(self, dim, index, source):
        return _ops().index_copy_(self, dim, index, source)

    def index_fill(self, dim, index, value):
        return _ops().index_fill(self, dim, index, value)

    def index_fill_(self, dim, index, value):
        return _ops().index_fill_(self, dim, index, value)

    def nonzero(self, as_tuple=False):
        return _ops().nonzero(self, as_tuple)

    def masked_select(self, mask):
        return _ops().masked_select(self, mask)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        return _ops().unique(self, sorted, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        return _ops().bincount(self, weights, minlength)

    @numpy_args
    def index_select(self, dim, index):
        return _ops().index_select(self, dim, index)

    @numpy_args
    def gather(self, dim, index=None):
        return _ops().gather(self, dim, index)

    def masked_fill(self, mask, value):
        return _ops().masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        """`masked_fill` written back in place (``mask`` broadcast to this tensor's shape)."""
        return _ops().copy_(self, _ops().masked_fill(self, mask, value))

    def where(self, condition, other):
        return _ops().where(condition, self, other)

    def to_sparse(self, layout: str = "csr"):
        return _ops().to_sparse(self, layout)
