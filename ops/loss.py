"""Losses with PyTorch's arguments and reductions: `cross_entropy` (log-softmax and NLL fused
in one Function, backward ``softmax - onehot``), `nll_loss`, `mse_loss`, `l1_loss`,
`binary_cross_entropy_with_logits` (stable log-sum-exp form).

Every loss is one Function with its own kernels: one graph node per loss call, and backward
keeps only what it reads. The exception is `cross_entropy` with class-probability targets, a
composite of log_softmax, products and sums (differentiable in the target too).
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.autograd.function import Function
from sparsegraph.backend import to_device, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import (
    QUIET_FP,
    arr,
    broadcasts_to,
    check_saved,
    check_tensor,
    kept_array,
    operand_like,
    source_of,
)
from sparsegraph.tensor import Tensor, wrap

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss",
           "binary_cross_entropy_with_logits"]

REDUCTIONS = ("mean", "sum", "none")


def _reduce(xp, losses, reduction):
    if reduction == "none":
        return losses
    if not losses.size:  # PyTorch: the mean of nothing is nan, the sum 0
        return xp.asarray(math.nan if reduction == "mean" else 0, dtype=losses.dtype)
    total = losses.sum()
    return total / losses.size if reduction == "mean" else total


def _coef(g, reduction, n):
    """d reduced / d per-element loss, times the incoming gradient."""
    return g / n if reduction == "mean" and n else g


# ---- class-index losses ----------------------------------------------------------------------
@register("nll", "cpu", "cuda")
def _nll_kernel(logp, target, valid, weight, smoothing, reduction):
    """Loss from log-probabilities ``(N, C)``; returns ``(loss, w, inv)``: ``w`` the weight of
    each sample's target (None when every weight is 1) and ``inv`` the mean's 1 / sum(w)."""
    xp = xp_of(logp)
    n, c = logp.shape
    w = weight[target] if weight is not None else None
    if valid is not None:
        w = valid.astype(logp.dtype) if w is None else w * valid
    picked = logp[xp.arange(n), target]
    if valid is not None:  # where, not a product: an ignored row's log-prob may be -inf
        picked = xp.where(valid, picked, 0)
    losses = -picked if w is None else -(picked * w)
    if smoothing:  # PyTorch: (1 - s) nll + (s / C) sum_c -w_c logp_c, ignored rows excluded
        smooth = -(logp.sum(1) if weight is None else logp @ weight)
        if valid is not None:
            smooth = xp.where(valid, smooth, 0)
        losses = (1 - smoothing) * losses + (smoothing / c) * smooth
    if reduction != "mean" or w is None:
        return _reduce(xp, losses, reduction), w, None
    denom = w.sum()
    zero = denom == 0  # every target ignored (or zero weight): nan, as PyTorch, no warning
    inv = 1 / xp.where(zero, 1, denom)
    return xp.where(zero, math.nan, losses.sum() * inv), w, xp.where(zero, 0, inv)


@register("nll_backward", "cpu", "cuda")
def _nll_backward_kernel(g, logp, shape, target, valid, w, inv, weight, smoothing, reduction):
    """Gradient w.r.t. the log-probabilities of ``shape``, or w.r.t. the logits when their
    ``logp`` is given (cross entropy: through the softmax)."""
    xp = xp_of(g)
    n, c = shape
    coef = g * inv if inv is not None else _coef(g, reduction, n)
    a = coef if w is None else coef * w  # per-row coefficient of -onehot
    rows = xp.arange(n)
    if smoothing:
        b = coef * (smoothing / c)
        if valid is not None:
            b = b * valid
        wrow = weight if weight is not None else xp.ones(c, dtype=g.dtype)
        a = (1 - smoothing) * a
    if logp is not None:  # d/dx = dlogp - softmax * rowsum(dlogp)
        gx = xp.exp(logp)
        total = a if not smoothing else a + b * wrow.sum()
        gx *= total[:, None] if getattr(total, "ndim", 0) else total
    else:
        gx = xp.zeros((n, c), dtype=g.dtype)
    gx[rows, target] -= a
    if smoothing:
        gx -= (b[:, None] if getattr(b, "ndim", 0) else b) * wrow
    return gx


class NLLLoss(Function):
    """NLL of class indices; with ``fused`` the input is logits and log-softmax is applied
    first (cross entropy). Backward keeps the log-probabilities only when fused."""

    @staticmethod
    def forward(ctx, x, target, ignore_index, weight, reduction, smoothing, fused):
        # NOTE: the target arrives as the caller gave it (a Tensor or an array) and its range
        # is checked and the ignored rows found here, not by the caller: a static graph re-runs
        # forward on each call's labels, and follows a traced tensor's array by identity
        t = to_device(arr(target).reshape(-1), x.device)
        _check_class_range("cross_entropy" if fused else "nll_loss", t, x.shape[1],
                           ignore_index)
        valid = t != ignore_index
        if bool(valid.all()):
            valid = None
        else:
            t = t * valid  # ignored rows point at class 0 (their weight is 0)
        class_weight = operand_like(weight, x)
        logp = dispatch("log_softmax", ctx.device)(x.array, 1) if fused else x.array
        loss, w, inv = dispatch("nll", ctx.device)(logp, t, valid, class_weight, smoothing,
                                                   reduction)
        if ctx.needs_input_grad[0]:  # unfused, backward never reads the input's values
            # the target and weight Tensors are saved: an in-place change then raises in
            # backward; arrays the caller gave are copied (`kept_array`)
            sources = source_of(target), source_of(weight)
            ctx.save_for_backward(*sources)
            ctx.args = (logp if fused else None, logp.shape,
                        t if valid is not None else kept_array(t, sources[0]), valid, w, inv,
                        kept_array(class_weight, sources[1]), smoothing, reduction)
        return loss

    @staticmethod
    def backward(ctx, g):
        check_saved(ctx)
        gx = dispatch("nll_backward", ctx.device)(g.array, *ctx.args)
        return gx, None, None, None, None, None, None


def _check_targets(op, target, ignore_index):
    """Validate the class indices' dtype and ``ignore_index`` (their range is checked by
    `NLLLoss`'s forward, which moves them to the input's device); returns a Tensor or an array
    as it is and anything else as a numpy array (`NLLLoss` copies a writeable one it keeps)."""
    if not isinstance(target, Tensor) and not hasattr(target, "dtype"):
        target = np.asarray(target)  # a list; arrays (host or device) stay as they are
    t = arr(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices in `target` (got {t.dtype}); "
                        "use .long()")
    if not isinstance(ignore_index, int | np.integer):
        raise TypeError(f"{op}: expected an int `ignore_index` (got {ignore_index!r})")
    return target


def _check_class_range(op, t, c: int, ignore_index) -> None:
    """ValueError unless every class index in ``t`` is in ``[0, c)`` or ``ignore_index``
    (numpy would wrap a negative one)."""
    if t.size:
        lo, hi = int(t.min()), int(t.max())
        if not (0 <= lo and hi < c):
            bad = (t != ignore_index) & ((t < 0) | (t >= c))
            if bool(bad.any()):
                raise ValueError(f"{op}: expected class indices in [0, {c}) or ignore_index="
                                 f"{ignore_index} (got {int(t[bad][0])})")


def _class_weight(op, weight, input):
    """Validated class weights: a Tensor as it is (`NLLLoss` saves it), else an array."""
    if weight is None:
        return None
    w = weight.array if isinstance(weight, Tensor) else input.xp.asarray(weight)
    if w.shape != (input.shape[1],):
        raise ValueError(f"{op}: expected `weight` of shape ({input.shape[1]},) for "
                         f"{input.shape[1]} classes (got {tuple(w.shape)})")
    if isinstance(weight, Tensor) and weight.requires_grad:
        raise NotImplementedError(f"{op}: the gradient w.r.t. `weight` is not implemented; "
                                  "pass weight.detach()")
    return weight if isinstance(weight, Tensor) else w


def _class_loss(op, input, target, weight, ignore_index, reduction, smoothing, fused):
    check_tensor(op, "input", input)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: expected `reduction` in {REDUCTIONS} (got {reduction!r})")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating `input` (got {input.dtype})")
    tshape = target.shape if isinstance(target, Tensor) else np.shape(target)
    if input.ndim == 2 and tshape == input.shape[:1]:
        x = input
    elif input.ndim >= 1 and tshape == input.shape[:1] * (input.ndim > 1) + input.shape[2:]:
        # (C,) with a 0-d target, or (N, C, d1, ...) with (N, d1, ...): classes moved last
        from sparsegraph.ops.shape import permute, reshape

        c = input.shape[0 if input.ndim == 1 else 1]
        x = input if input.ndim == 1 else permute(input, (0, *range(2, input.ndim), 1))
        x = reshape(x, (-1, c))
    else:
        raise ValueError(f"{op}: expected `input` of shape (N, C) (or (C,), (N, C, d1, ...)) "
                         f"and `target` of shape (N,) (or (), (N, d1, ...)) (got {input.shape} "
                         f"and {tuple(tshape)})")
    target = _check_targets(op, target, ignore_index)
    loss = NLLLoss.apply(x, target, ignore_index, _class_weight(op, weight, x), reduction,
                         smoothing, fused)
    if reduction == "none" and x is not input:
        from sparsegraph.ops.shape import reshape

        loss = reshape(loss, tshape)
    return loss


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices.

    Args:
        input: log-probabilities ``(N, C)`` (also ``(C,)`` or ``(N, C, d1, ...)``).
        target: integer class indices ``(N,)`` in ``[0, C)`` (or ``ignore_index``).
        weight: per-class weights ``(C,)``. (default: None)
        ignore_index: target value that contributes nothing. (default: -100)
        reduction: ``"mean"`` (divided by the summed weights of non-ignored targets; nan when
            all are ignored, as PyTorch), ``"sum"`` or ``"none"``. (default: "mean")

    Raises:
        TypeError: for a non-integer target.
        ValueError: for a class index out of range, mismatched shapes or an unknown reduction.
    """
    return _class_loss("nll_loss", input, target, weight, ignore_index, reduction, 0.0, False)


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits and class indices: ``nll_loss(log_softmax(input, 1))``
    computed in one Function whose backward is ``softmax - onehot`` (scaled).

    Args:
        input: logits ``(N, C)`` (also ``(C,)`` or ``(N, C, d1, ...)``).
        target: integer class indices ``(N,)`` in ``[0, C)`` (or ``ignore_index``); or class
            probabilities of ``input``'s shape (floating; PyTorch >= 1.10), then the loss is
            ``-sum_c w_c y_c log_softmax(x)_c`` per sample and "mean" divides by the number of
            samples.
        weight: per-class weights ``(C,)``. (default: None)
        ignore_index: target value that contributes nothing (class indices only).
            (default: -100)
        reduction: ``"mean"``, ``"sum"`` or ``"none"``, as in `nll_loss`. (default: "mean")
        label_smoothing: mix ``s`` of the uniform distribution into the target (PyTorch's
            formula). (default: 0.0)

    Raises:
        TypeError: for a non-integer target.
        ValueError: for a class index out of range, mismatched shapes, an unknown reduction
            or ``label_smoothing`` outside [0, 1].
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: expected `label_smoothing` in [0, 1] "
                         f"(got {label_smoothing})")
    if isinstance(input, Tensor) and input.ndim and (
            target.shape if isinstance(target, Tensor) else np.shape(target)) == input.shape:
        return _soft_cross_entropy(input, target, weight, ignore_index, reduction,
                                   float(label_smoothing))
    return _class_loss("cross_entropy", input, target, weight, ignore_index, reduction,
                       float(label_smoothing), True)


def _soft_cross_entropy(input, target, weight, ignore_index, reduction, smoothing):
    """Cross entropy against class probabilities of ``input``'s shape (PyTorch's formula,
    label smoothing mixing ``s / C`` into the target); a composite."""
    from sparsegraph.ops.probability import log_softmax
    from sparsegraph.ops.reduce import mean, sum

    op = "cross_entropy"
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: expected `reduction` in {REDUCTIONS} (got {reduction!r})")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating `input` (got {input.dtype})")
    if not isinstance(target, Tensor):
        target = wrap(input.xp.asarray(target))
    if target.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating class probabilities in `target` of `input`'s "
                        f"shape {input.shape} (got {target.dtype}); class indices have shape "
                        "(N,)")
    if ignore_index >= 0:
        raise ValueError(f"{op}: `ignore_index` is not supported with class-probability "
                         f"targets (got ignore_index={ignore_index})")
    if target.device != input.device:
        raise ValueError(f"{op}: `target` is on {target.device} but `input` is on "
                         f"{input.device}; move one with .to()")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    dim = 0 if input.ndim == 1 else 1
    c = input.shape[dim]
    if smoothing:
        target = target * (1.0 - smoothing) + smoothing / c
    product = log_softmax(input, dim) * target
    if weight is not None:
        w = weight if isinstance(weight, Tensor) else wrap(input.xp.asarray(weight))
        if w.shape != (c,):
            raise ValueError(f"{op}: expected `weight` of shape ({c},) for {c} classes (got "
                             f"{tuple(w.shape)})")
        w = w if w.dtype == input.dtype else w.to(input.dtype)
        product = product * w.reshape((c,) + (1,) * (input.ndim - dim - 1))
    losses = -sum(product, dim)
    if reduction == "none":
        return losses
    return mean(losses) if reduction == "mean" else sum(losses)


# ---- pointwise losses ------------------------------------------------------------------------
@register("pair_loss", "cpu", "cuda")
def _pair_loss_kernel(x, y, kind, reduction):
    d = x - y
    losses = d * d if kind == "mse" else xp_of(d).abs(d)
    return _reduce(xp_of(d), losses, reduction)


@register("pair_loss_backward", "cpu", "cuda")
def _pair_loss_backward_kernel(g, x, y, kind, reduction):
    d = x - y
    coef = _coef(g, reduction, d.size)
    return 2 * coef * d if kind == "mse" else coef * xp_of(d).sign(d)


@register("bce_logits", "cpu", "cuda")
def _bce_logits_kernel(x, y, weight, pos_weight, reduction):
    xp = xp_of(x)
    # softplus(-x) = log(1 + e^-x), stably;  loss = (1 - y) x + (1 + (pw - 1) y) softplus(-x)
    sp = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
    with np.errstate(**QUIET_FP):  # x = +-inf: 0 * inf and inf - inf are nan, as torch's
        losses = (1 - y) * x + (sp if pos_weight is None else (1 + (pos_weight - 1) * y) * sp)
        if weight is not None:
            losses = losses * weight
        return _reduce(xp, losses, reduction)


@register("bce_logits_backward", "cpu", "cuda")
def _bce_logits_backward_kernel(g, x, y, weight, pos_weight, reduction, need_x, need_y):
    xp = xp_of(x)
    coef = _coef(g, reduction, x.size)
    if weight is not None:
        coef = coef * weight
    e = xp.exp(-xp.abs(x))
    sig_neg = xp.where(x >= 0, e / (1 + e), 1 / (1 + e))  # sigmoid(-x), stably
    gx = gy = None
    if need_x:
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        gx = coef * ((1 - y) - lw * sig_neg)
    if need_y:
        with np.errstate(**QUIET_FP):  # x = +-inf: nan where torch's is, silently
            gy = -x if pos_weight is None else (
                (pos_weight - 1) * (xp.log1p(e) + xp.maximum(-x, 0)) - x)
            gy = coef * gy
    return gx, gy


class PairLoss(Function):
    """``(x - y)^2`` or ``|x - y|``, reduced; differentiable in both."""

    @staticmethod
    def forward(ctx, x, y, kind, reduction):
        ctx.save_for_backward(x, y)
        ctx.kind, ctx.reduction = kind, reduction
        return dispatch("pair_loss", ctx.device)(x.array, y.array, kind, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = dispatch("pair_loss_backward", ctx.device)(g.array, x.array, y.array, ctx.kind,
                                                        ctx.reduction)
        need = ctx.needs_input_grad
        return (gx if need[0] else None), (-gx if need[1] else None), None, None


class BCEWithLogits(Function):
    """``weight`` / ``pos_weight``: a Tensor (saved: an in-place change to it raises in
    backward), an array (copied when backward keeps it) or None."""

    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        w, pw = operand_like(weight, x), operand_like(pos_weight, x)
        if any(ctx.needs_input_grad):
            w_source, pw_source = source_of(weight), source_of(pos_weight)
            ctx.save_for_backward(x, y, w_source, pw_source)
            ctx.args = kept_array(w, w_source), kept_array(pw, pw_source), reduction
        return dispatch("bce_logits", ctx.device)(x.array, y.array, w, pw, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors[:2]
        need = ctx.needs_input_grad
        gx, gy = dispatch("bce_logits_backward", ctx.device)(g.array, x.array, y.array,
                                                             *ctx.args, need[0], need[1])
        return gx, gy, None, None, None


def _pair(op, input, target, reduction) -> Tensor:
    """Validate a pointwise loss's input and target; the target takes the input's dtype."""
    check_tensor(op, "input", input)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: expected `reduction` in {REDUCTIONS} (got {reduction!r})")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating `input` (got {input.dtype})")
    if not isinstance(target, Tensor):
        target = wrap(input.xp.asarray(target, dtype=input.dtype))
    elif target.dtype != input.dtype:
        target = target.to(input.dtype)
    if target.shape != input.shape:
        raise ValueError(f"{op}: expected `target` of shape {input.shape} like `input` "
                         f"(got {target.shape})")
    if target.device != input.device:
        raise ValueError(f"{op}: `target` is on {target.device} but `input` is on "
                         f"{input.device}; move one with .to()")
    return target


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)^2``, reduced (``"mean"``, ``"sum"`` or ``"none"``).

    Raises:
        ValueError: for mismatched shapes or an unknown reduction.
    """
    return PairLoss.apply(input, _pair("mse_loss", input, target, reduction), "mse", reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Absolute error ``|input - target|``, reduced (``"mean"``, ``"sum"`` or ``"none"``).

    Raises:
        ValueError: for mismatched shapes or an unknown reduction.
    """
    return PairLoss.apply(input, _pair("l1_loss", input, target, reduction), "l1", reduction)


def _elementwise_weight(op, name, w, input):
    if w is None:
        return None
    if isinstance(w, Tensor):
        if w.requires_grad:
            raise NotImplementedError(f"{op}: the gradient w.r.t. `{name}` is not implemented; "
                                      f"pass {name}.detach()")
        a = w.array
    else:
        a = input.xp.asarray(w)
    if not broadcasts_to(a.shape, input.shape):
        raise ValueError(f"{op}: expected `{name}` of shape {tuple(a.shape)} to broadcast to "
                         f"`input` of shape {input.shape}")
    return w if isinstance(w, Tensor) else a  # a Tensor as it is: `BCEWithLogits` saves it


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """``-w [p y log σ(x) + (1 - y) log(1 - σ(x))]`` from logits, without overflow.

    Args:
        input: logits of any shape.
        target: probabilities in [0, 1], ``input``'s shape (differentiable).
        weight: per-element weights broadcast to ``input``'s shape. (default: None)
        reduction: ``"mean"``, ``"sum"`` or ``"none"``. (default: "mean")
        pos_weight: weight ``p`` of the positive term, broadcast (e.g. ``(C,)``). (default: None)

    Raises:
        ValueError: for mismatched shapes or an unknown reduction.
    """
    op = "binary_cross_entropy_with_logits"
    target = _pair(op, input, target, reduction)
    return BCEWithLogits.apply(input, target, _elementwise_weight(op, "weight", weight, input),
                               _elementwise_weight(op, "pos_weight", pos_weight, input),
                               reduction)
