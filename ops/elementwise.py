"""Elementwise arithmetic with numpy broadcasting; backward un-broadcasts.

The ops are tables, as in HIPS autograd: one row per op holds its forward and the gradient for
each input, written against the array module ``xp``. A helper turns each row into a generic
kernel pair (``name`` and ``name_backward``) in the registry and a `Function` class; the public
functions validate and call ``Function.apply``.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import as_floating, promote, result_type, xp_of
from sparsegraph.creation import ones_like
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import arr, kept_operand, same_device, shape_of, silenced, unbroadcast
from sparsegraph.tensor import Tensor, wrap

__all__ = [
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "neg", "exp", "log", "log1p",
    "expm1", "sqrt", "rsqrt", "abs", "square", "reciprocal", "sin", "cos", "eq", "ne", "lt", "le",
    "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not", "sign", "true_divide",
    "divide", "multiply", "subtract", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
]


def _xp(a, b):
    if type(a) is np.ndarray or type(b) is np.ndarray:
        return np
    return xp_of(a if hasattr(a, "dtype") and hasattr(a, "shape") else b)


# name: (forward(xp, a, b), d/da (xp, a, b, y, g), d/db (xp, a, b, y, g))
BINARY = {
    "add": (lambda xp, a, b: a + b, lambda xp, a, b, y, g: g, lambda xp, a, b, y, g: g),
    "sub": (lambda xp, a, b: a - b, lambda xp, a, b, y, g: g, lambda xp, a, b, y, g: -g),
    "mul": (lambda xp, a, b: a * b, lambda xp, a, b, y, g: g * b, lambda xp, a, b, y, g: g * a),
    "div": (lambda xp, a, b: a / b, lambda xp, a, b, y, g: g / b,
            lambda xp, a, b, y, g: -g * y / b),
    "pow": (lambda xp, a, b: a ** b,
            lambda xp, a, b, y, g: _pow_grad_base(xp, a, b, g),
            # d(a^b)/db = a^b log a; defined as 0 where a == 0 (the limit for b > 0)
            lambda xp, a, b, y, g: g * y * _log_base(xp, a)),
    # torch's rule: tied operands share the gradient evenly
    "maximum": (lambda xp, a, b: xp.maximum(a, b),
                lambda xp, a, b, y, g: _pick(xp, a > b, a == b, g),
                lambda xp, a, b, y, g: _pick(xp, a < b, a == b, g)),
    "minimum": (lambda xp, a, b: xp.minimum(a, b),
                lambda xp, a, b, y, g: _pick(xp, a < b, a == b, g),
                lambda xp, a, b, y, g: _pick(xp, a > b, a == b, g)),
}


def _pow_grad_base(xp, a, b, g):
    """``b a^(b-1)``, and 0 where ``b == 0`` (torch's value: ``a^0`` is constant, even at
    ``a == 0`` where ``0 * 0^-1`` would be nan)."""
    if np.ndim(b) == 0 and b != 0:
        return g * b * a ** (b - 1)
    return xp.where(b == 0, 0, g * b * a ** (b - 1))


def _log_base(xp, a):
    """``log a`` for the exponent's gradient: nan (torch's value) for a < 0 (pow's kernels run
    `silenced`: no RuntimeWarning)."""
    return xp.log(xp.where(a == 0, 1, a))


def _pick(xp, wins, ties, g):
    """``g`` where this operand wins, ``g / 2`` where the operands tie, else 0."""
    return xp.where(ties, g * g.dtype.type(0.5), g * wins)


# name: (forward(xp, x), gradient(xp, x, y, g), what the gradient reads: the input "x", the
# output "y", or nothing ""). Forward saves only that (PyTorch's rule), so ``y = x.exp();
# x.add_(1)`` and ``logp = p.log(); logp[p == 0] = 0`` are no error, and one array less is kept
# alive per op. The reads sit next to the gradient they describe: change them together.
UNARY = {
    "neg": (lambda xp, x: -x, lambda xp, x, y, g: -g, ""),
    "exp": (lambda xp, x: xp.exp(x), lambda xp, x, y, g: g * y, "y"),
    "log": (lambda xp, x: xp.log(x), lambda xp, x, y, g: g / x, "x"),
    "log1p": (lambda xp, x: xp.log1p(x), lambda xp, x, y, g: g / (1 + x), "x"),
    "expm1": (lambda xp, x: xp.expm1(x), lambda xp, x, y, g: g * (y + 1), "y"),
    "sqrt": (lambda xp, x: xp.sqrt(x), lambda xp, x, y, g: g / (2 * y), "y"),
    "rsqrt": (lambda xp, x: 1 / xp.sqrt(x), lambda xp, x, y, g: -0.5 * g * y * y * y, "y"),
    "abs": (lambda xp, x: xp.abs(x), lambda xp, x, y, g: g * xp.sign(x), "x"),
    "square": (lambda xp, x: x * x, lambda xp, x, y, g: 2 * g * x, "x"),
    "reciprocal": (lambda xp, x: 1 / x, lambda xp, x, y, g: -g * y * y, "y"),
    "sin": (lambda xp, x: xp.sin(x), lambda xp, x, y, g: g * xp.cos(x), "x"),
    "cos": (lambda xp, x: xp.cos(x), lambda xp, x, y, g: -g * xp.sin(x), "x"),
}
UNARY_READS = {name: row[2] for name, row in UNARY.items()}  # derived from UNARY, read-only use

# unary ops whose value is a float for any input (the others keep an int input's dtype)
FLOAT_VALUED = frozenset(("exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "reciprocal", "sin",
                          "cos"))

# The ops whose ordinary inputs reach a pole, leave the domain or overflow (x / 0, 0 ** -1,
# log 0, log1p(-2), sqrt(-1), rsqrt(0), 1 / 0, exp(89) in float32), and whose gradients divide
# by an input or output (sqrt's at 0) or multiply an inf output (exp's): their kernels give the
# IEEE value (inf, nan), as PyTorch, without numpy's RuntimeWarning (`silenced`). The others
# warn only past the dtype's range or on inf / nan operands (add, mul, sin(inf)): they are the
# hot path, left unwrapped.
SILENT = frozenset(("div", "pow", "log", "log1p", "sqrt", "rsqrt", "reciprocal", "exp", "expm1"))


# no gradient: results are bool or piecewise constant
COMPARE = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "logical_and": lambda a, b: _xp(a, b).logical_and(a, b),
    "logical_or": lambda a, b: _xp(a, b).logical_or(a, b),
    "logical_xor": lambda a, b: _xp(a, b).logical_xor(a, b),
}


# What each input's gradient reads, of "a", "b" (the operands) and "y" (the output): forward
# saves only what the NEEDED gradients read (PyTorch's rule), so an in-place change to a value
# no gradient reads (``z = y * 3; y.add_(1)``) is no error, and nothing is kept alive for nothing.
READS = {
    "add": ("", ""), "sub": ("", ""), "mul": ("b", "a"), "div": ("b", "by"),
    "pow": ("ab", "ay"), "maximum": ("ab", "ab"), "minimum": ("ab", "ab"),
}


def _saves(name: str) -> dict:
    """``needs_input_grad -> (save a, save b, save y)``, precomputed: forward is a hot path."""
    table = {}
    for need_a in (False, True):
        for need_b in (False, True):
            reads = (READS[name][0] if need_a else "") + (READS[name][1] if need_b else "")
            table[need_a, need_b] = ("a" in reads, "b" in reads, "y" in reads)
    return table


def _register_kernels(name, forward_kernel, backward_kernel):
    if name in SILENT:
        forward_kernel, backward_kernel = silenced(forward_kernel), silenced(backward_kernel)
    register(name, "cpu", "cuda")(forward_kernel)
    register(name + "_backward", "cpu", "cuda")(backward_kernel)


def _register_binary(name, fwd, grad_a, grad_b):
    def forward_kernel(a, b):
        return fwd(_xp(a, b), a, b)

    def backward_kernel(a, b, y, g, needs, shapes):
        xp = xp_of(g)
        ga = unbroadcast(grad_a(xp, a, b, y, g), shapes[0]) if needs[0] else None
        gb = unbroadcast(grad_b(xp, a, b, y, g), shapes[1]) if needs[1] else None
        return ga, gb

    _register_kernels(name, forward_kernel, backward_kernel)
    saves = _saves(name)
    floating = name == "div"  # true division of integers gives the default float

    def forward(ctx, a, b):
        ctx.shapes = shape_of(a), shape_of(b)
        ctx.dtypes = getattr(a, "dtype", None), getattr(b, "dtype", None)
        n = ctx.needs_input_grad
        save_a, save_b, save_y = ctx.saves = saves[n[0], n[1]]
        if save_a or save_b:  # a Tensor version-checked; a numpy array copied if writeable
            ctx.save_for_backward(kept_operand(a) if save_a else None,
                                  kept_operand(b) if save_b else None)
        # PyTorch's result dtype (backend.promote); each gradient is cast back to its input's
        y = dispatch(name, ctx.device)(*promote(arr(a), arr(b), floating))
        ctx.result_dtype = y.dtype
        return ctx.save_output(y) if save_y else y

    def backward(ctx, g):
        save_a, save_b, save_y = ctx.saves
        a, b = ((_in_result(arr(t), ctx.result_dtype) for t in ctx.saved_tensors)
                if save_a or save_b else (None, None))
        ga, gb = dispatch(name + "_backward", ctx.device)(
            a, b, ctx.saved_output if save_y else None, g.array, ctx.needs_input_grad, ctx.shapes)
        return _cast(ga, ctx.dtypes[0]), _cast(gb, ctx.dtypes[1])

    return type(name.capitalize(), (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__doc__": f"Elementwise ``{name}`` with broadcasting."})


def _in_result(x, dtype):
    """A saved operand as forward computed with it: in the result dtype, so a float64 numpy
    scalar or an int64 array does not run a float32 gradient in float64."""
    if isinstance(x, np.generic):  # before float: np.float64 is a float subclass
        return x.item()  # weak, as promote made it
    if x is None or isinstance(x, int | float | bool):
        return x
    return x if x.dtype == dtype else x.astype(dtype)


def _cast(g, dtype):
    """Gradients take the input's dtype (a float64 scalar must not upcast a float32 grad)."""
    if g is None or dtype is None:
        return None
    return g if g.dtype == dtype else g.astype(dtype)


def _register_unary(name, fwd, grad, reads):
    def forward_kernel(x):
        return fwd(xp_of(x), x)

    def backward_kernel(x, y, g):
        return grad(xp_of(g), x, y, g)

    _register_kernels(name, forward_kernel, backward_kernel)
    floating = name in FLOAT_VALUED  # sqrt of an int tensor is float32, as in PyTorch
    save_x, save_y = "x" in reads, "y" in reads

    def forward(ctx, x):
        y = dispatch(name, ctx.device)(as_floating(x.array) if floating else x.array)
        if ctx.needs_input_grad[0]:
            ctx.dtype = x.dtype
            if save_x:
                ctx.save_for_backward(x)
            elif save_y:
                return ctx.save_output(y)
        return y

    def backward(ctx, g):
        gx = dispatch(name + "_backward", ctx.device)(
            ctx.saved_tensors[0].array if save_x else None,
            ctx.saved_output if save_y else None, g.array)
        return _cast(gx, ctx.dtype)

    return type(name.capitalize(), (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__doc__": f"Elementwise ``{name}``."})


FUNCTIONS = {name: _register_binary(name, *row) for name, row in BINARY.items()}
FUNCTIONS.update({name: _register_unary(name, *row) for name, row in UNARY.items()})
for _name, _fn in COMPARE.items():
    register(_name, "cpu", "cuda")(_fn)


def _binary_args(op: str, a, b):
    """``(a, b)`` checked: a Tensor and a Tensor or a number or a numpy array (which stays an
    array: the Function copies it only if a gradient reads it), on one device, broadcastable."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):  # the common case, checked cheaply
        if a.device != b.device:
            same_device(op, a, b)
        if a.array.shape != b.array.shape:
            try:
                np.broadcast_shapes(a.array.shape, b.array.shape)
            except ValueError:
                raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast "
                                 "together") from None
        return a, b
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected at least one Tensor (got {type(a).__name__} and "
                        f"{type(b).__name__})")
    for name, v in (("input", a), ("other", b)):
        if not isinstance(v, Tensor | int | float | bool | np.number | np.bool_ | np.ndarray):
            raise TypeError(f"{op}: expected `{name}` to be a Tensor or a number "
                            f"(got {type(v).__name__})")
    ta, tb = _as_tensor(a), _as_tensor(b)
    if isinstance(ta, Tensor) and isinstance(tb, Tensor):
        same_device(op, ta, tb)
        try:
            np.broadcast_shapes(ta.shape, tb.shape)
        except ValueError:
            raise ValueError(f"{op}: shapes {ta.shape} and {tb.shape} cannot be broadcast "
                             "together") from None
    return a, b


def _as_tensor(v):
    """A numpy array operand as a Tensor (no copy); anything else as it is."""
    return wrap(v) if isinstance(v, np.ndarray) else v


_MESSAGES = {  # numpy's wording -> torch's advice
    "boolean subtract": "subtraction of two bool tensors is not supported; use the `^` "
                        "operator or logical_xor() instead",
    "boolean negative": "negation of a bool tensor is not supported; to invert a mask use the "
                        "`~` operator or logical_not() instead",
    "negative integer powers": "integers to negative integer powers are not allowed; convert "
                               "the base with .float() first",
}


def _dtype_message(op: str, exc: Exception) -> str:
    text = str(exc)
    return f"{op}: " + next((m for k, m in _MESSAGES.items() if k in text), text)


# Functions whose numpy ufunc has no bool loop (power, floor_divide, remainder, fmod): numpy
# would run bool operands in int8, a dtype PyTorch never gives them (`_bool_operands`)
_NO_BOOL_LOOP = frozenset(("Pow", "FloorDivide", "TruncDivide", "Remainder", "Fmod"))


def _is_bool(v) -> bool:
    return isinstance(v, bool | np.bool_) or (isinstance(v, Tensor | np.ndarray)
                                              and v.dtype == np.bool_)


def _bool_operands(name: str, a, b):
    """``(a, b, None)`` for an op without a bool loop when an operand is bool: bool operands
    cast to PyTorch's result dtype (``bool_tensor ** 2`` is int64). PyTorch has no such kernel
    for two bools: a TypeError, except ``x ** True`` (x) and ``x ** False`` (ones), which
    PyTorch answers without one; those come back as ``(None, None, result)``."""
    a, b = _as_tensor(a), _as_tensor(b)  # a bool array is cast (copied) as a bool Tensor is
    dt = result_type(a, b)
    if dt != np.bool_:
        return (*(v.to(dt) if isinstance(v, Tensor) and v.dtype == np.bool_
                  else int(v) if isinstance(v, bool | np.bool_) else v for v in (a, b)), None)
    if name == "pow" and isinstance(a, Tensor) and isinstance(b, bool | np.bool_):
        return None, None, a.clone() if b else ones_like(a)
    raise TypeError(
        f"{name}: not implemented for two bool operands (got {_describe(a)} and "
        f"{_describe(b)}); convert them with .long() or .float() first")


_WRAPPING = ("add", "sub", "mul", "floor_divide", "remainder", "fmod", "add_", "mul_",
             "bitwise_and", "bitwise_or", "bitwise_xor")


def _int_scalars_in_range(op: str, a, b, wraps: bool | None = None) -> tuple:
    """``(a, b)`` with an int operand (Python or numpy) of an integer tensor's op in that
    tensor's range: PyTorch casts the scalar to the tensor's dtype, so the arithmetic ops wrap
    it (``u8 * -1`` is ``u8 * 255``, ``[255, 254]``); numpy 2 raises a bare OverflowError,
    which the other ops name here instead. ``wraps`` (default: ``op in _WRAPPING``) says
    which."""
    return fit_int_scalar(op, a, b, wraps), fit_int_scalar(op, b, a, wraps)


def fit_int_scalar(op: str, scalar, tensor, wraps: bool | None = None):
    """``scalar`` as `_int_scalars_in_range` takes it for an op with ``tensor`` (the in-place
    ops too); anything else is returned as it is."""
    if (not isinstance(tensor, Tensor) or tensor.dtype.kind not in "iu"
            or not isinstance(scalar, int | np.integer) or isinstance(scalar, bool | np.bool_)):
        return scalar
    info = np.iinfo(tensor.dtype)
    if info.min <= scalar <= info.max:
        return scalar
    if not (op in _WRAPPING if wraps is None else wraps) or not -2**63 <= scalar < 2**64:
        raise ValueError(f"{op}: the integer {int(scalar)} is out of range for the "
                         f"{tensor.dtype} tensor ([{info.min}, {info.max}])")
    span = 1 << info.bits
    wrapped = int(scalar) % span
    return tensor.dtype.type(wrapped - span if wrapped > info.max else wrapped)


def _describe(v) -> str:
    return f"a {v.dtype} Tensor" if isinstance(v, Tensor) else f"{type(v).__name__} {v!r}"


def binary_op(name: str, cls=None, doc: str | None = None):
    """The public function of the binary Function ``cls`` (default: ``FUNCTIONS[name]``):
    operands checked, numpy's dtype errors named after ``name``."""
    cls = FUNCTIONS[name] if cls is None else cls
    no_bool_loop = cls.__name__ in _NO_BOOL_LOOP
    # true division computes in float with the int scalar's true value (``i8 / 300`` is
    # ``[.., 0.0033, ..]``, as PyTorch's); trunc division casts it to the tensor's dtype, as
    # floor division (``//``) and PyTorch's kernels do
    true_division = cls is FUNCTIONS["div"]
    wraps = name in _WRAPPING or cls.__name__ == "TruncDivide"

    def op(input, other):
        a, b = _binary_args(name, input, other)
        if no_bool_loop and (_is_bool(a) or _is_bool(b)):
            a, b, out = _bool_operands(name, a, b)
            if out is not None:
                return out
        if not true_division:
            a, b = _int_scalars_in_range(name, a, b, wraps)
        try:
            return cls.apply(a, b)
        except (TypeError, ValueError) as exc:  # numpy's dtype rules, named after the op
            raise type(exc)(_dtype_message(name, exc)) from None

    if name in ("add", "sub"):  # PyTorch's `alpha`: input + alpha * other
        plain = op

        def op(input, other, *, alpha=1):
            if type(alpha) is not int or alpha != 1:
                input, other = _binary_args(name, input, other)
                other = _scaled(name, input, other, alpha)
            return plain(input, other)

    op.__name__ = name
    op.__doc__ = doc or (f"Elementwise ``{name}(input, other)`` with numpy broadcasting; "
                         "differentiable.")
    return op


def _scaled(op: str, input, other, alpha):
    """``alpha * other`` for add / sub's ``alpha``, checked as PyTorch checks it: a number, not
    a float for an integer result, nor a bool for a non-bool one."""
    other = _as_tensor(other)  # alpha * a numpy array: PyTorch's dtype rule, as for a Tensor
    if isinstance(alpha, np.generic):
        alpha = alpha.item()
    if not isinstance(alpha, int | float):  # bool is an int
        raise TypeError(f"{op}: expected `alpha` to be a number (got {type(alpha).__name__})")
    kind = result_type(input, other).kind
    if isinstance(alpha, float) and kind in "biu":
        raise TypeError(f"{op}: expected an integer `alpha` for integer or bool inputs (got "
                        f"{alpha!r})")
    if isinstance(alpha, bool) and kind != "b":
        raise TypeError(f"{op}: a bool `alpha` is only supported for bool inputs (got "
                        f"{alpha!r}); pass an int")
    return mul(other, alpha) if isinstance(other, Tensor) else other * alpha


def _unary(name):
    cls = FUNCTIONS[name]

    def op(input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor (got {type(input).__name__})")
        try:
            return cls.apply(input)
        except (TypeError, ValueError) as exc:
            raise type(exc)(_dtype_message(name, exc)) from None

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}(input)``; differentiable."
    return op


def _no_grad_function(name: str, n_inputs: int, float_output: bool = False):
    """A Function for a piecewise-constant op (comparisons, logical and bitwise ops, sign): a
    Function only so that static-graph capture sees it like any other op. A bool or integer
    output takes no part in autograd; a ``float_output`` one (sign) gives its inputs a zero
    gradient, as PyTorch does, so that an optimizer still applies weight decay / momentum to
    them: only that op records the input shapes the zeros need (a comparison never runs
    backward, so ``x > 0`` pays nothing for it)."""

    def forward(ctx, *args):
        if float_output and any(ctx.needs_input_grad):
            ctx.inputs = tuple((shape_of(a), getattr(a, "dtype", None)) for a in args)
        return dispatch(name, ctx.device)(*(arr(a) for a in args))

    def backward(ctx, g):
        xp = xp_of(g.array)
        return tuple(xp.zeros(shape, dtype) if need else None
                     for need, (shape, dtype) in zip(ctx.needs_input_grad, ctx.inputs,
                                                     strict=True))

    return type(name.capitalize(), (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__doc__": f"Elementwise ``{name}`` (no gradient)."})


def _compare(name):
    cls = _no_grad_function(name, 2)

    def op(input, other):
        return cls.apply(*_binary_args(name, input, other))

    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}``; returns a bool tensor (no gradient)."
    return op


add, sub, mul, true_divide, pow, maximum, minimum = map(binary_op, BINARY)
(neg, exp, log, log1p, expm1, sqrt, rsqrt, abs, _square, reciprocal, sin, cos) = map(_unary, UNARY)
eq, ne, lt, le, gt, ge, logical_and, logical_or, logical_xor = map(_compare, COMPARE)


def square(input: Tensor) -> Tensor:
    """Elementwise ``input * input``; differentiable. As PyTorch's (``pow(input, 2)``), a bool
    tensor gives int64."""
    if isinstance(input, Tensor) and input.dtype == np.bool_:
        input = input.to(np.int64)
    return _square(input)


def div(input, other, *, rounding_mode=None):
    """``input / other`` (true division: integers give the default float); with
    ``rounding_mode`` "trunc" or "floor", the quotient rounded toward 0 or -inf (zero
    gradient), as PyTorch's."""
    if rounding_mode is None:
        return true_divide(input, other)
    from sparsegraph.ops.rounding import divide_rounded  # rounding builds on this module

    return divide_rounded(input, other, rounding_mode)


divide = div
multiply = mul
subtract = sub


@register("logical_not", "cpu", "cuda")
def _logical_not_kernel(x):
    return xp_of(x).logical_not(x)


_LogicalNot = _no_grad_function("logical_not", 1)


def logical_not(input: Tensor) -> Tensor:
    return _LogicalNot.apply(input)


# ---- bitwise: integers and bools (on bools they are the logical ops), as torch's & | ^ ~ --------
BITWISE = {
    "bitwise_and": lambda a, b: _xp(a, b).bitwise_and(a, b),
    "bitwise_or": lambda a, b: _xp(a, b).bitwise_or(a, b),
    "bitwise_xor": lambda a, b: _xp(a, b).bitwise_xor(a, b),
    "bitwise_not": lambda x: xp_of(x).invert(x),
}
for _name, _fn in BITWISE.items():
    register(_name, "cpu", "cuda")(_fn)


def _check_bitwise(op: str, *args) -> None:
    for name, v in zip(("input", "other"), args, strict=False):
        # numpy arrays are operands here too, as in the arithmetic ops
        kind = (v.dtype.kind if isinstance(v, Tensor | np.ndarray) else "b" if isinstance(
            v, bool | np.bool_) else "i" if isinstance(v, int | np.integer) else "?")
        if kind not in "biu":
            got = v.dtype if isinstance(v, Tensor | np.ndarray) else type(v).__name__
            raise TypeError(f"{op}: expected `{name}` to be an integer or bool Tensor or "
                            f"number (got {got})")


def _bitwise(name, n_inputs):
    cls = _no_grad_function(name, n_inputs)

    def binary(input, other):
        _check_bitwise(name, input, other)
        return cls.apply(*_int_scalars_in_range(name, *_binary_args(name, input, other)))

    def unary(input):
        _check_bitwise(name, input)
        return cls.apply(input)

    op = binary if n_inputs == 2 else unary  # torch's signatures: (input, other), (input)
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` of integer or bool tensors (no gradient)."
    return op


bitwise_and, bitwise_or, bitwise_xor = (_bitwise(n, 2) for n in list(BITWISE)[:3])
bitwise_not = _bitwise("bitwise_not", 1)


@register("sign", "cpu", "cuda")
def _sign_kernel(x):
    if x.dtype == np.bool_:  # numpy has no bool loop; PyTorch's kernel returns x for bools
        return x.copy()
    return xp_of(x).sign(x)


_Sign = _no_grad_function("sign", 1, float_output=True)


def sign(input: Tensor) -> Tensor:
    """Sign of each element; its gradient is zero (as PyTorch's: zero almost everywhere)."""
    return _Sign.apply(input)
