"""`einsum`: numpy's Einstein summation, with a gradient for every operand.

The gradient of an operand is itself an einsum: the output's gradient contracted with the other
operands, onto the operand's indices. Indices only that operand has (summed away in the
forward) come back by broadcasting, and size-1 dimensions broadcast against larger ones are
summed back. An index repeated within one operand (``"ii->"``, ``"bii->bi"``) reads that
operand's diagonal, a strided view; its gradient is written back onto the diagonal, zeros
elsewhere. A diagonal result is a copy, never memory shared with the operand: numpy (and CuPy)
return a view of the strided diagonal for one operand without a sum, which autograd's view
tracking (by ``base``) cannot see, so an in-place change through it would change the operand
behind autograd's back (PyTorch returns a tracked view; the diagonal is small, so a copy).

GATConv's attention coefficients, ``einsum("nhf,hf->nh", h, att)``, are the hot use: one pass
over ``h`` where ``(h * att).sum(-1)`` writes and re-reads an (N, H, F) temporary.
"""

from __future__ import annotations

import string
from collections import Counter

from sparsegraph.autograd.function import Function
from sparsegraph.backend import result_type, xp_of
from sparsegraph.kernels import dispatch, register
from sparsegraph.ops._util import check_tensor, same_device
from sparsegraph.tensor import Tensor

__all__ = ["einsum"]


@register("einsum", "cpu", "cuda")
def _einsum_kernel(spec: str, *arrays):
    # optimize: a contraction order (and BLAS) pays off from three operands on; for one or two
    # the planning costs more than it saves
    return xp_of(arrays[0]).einsum(spec, *arrays, optimize=len(arrays) > 2)


def parse(subscripts: str, shapes: list[tuple]) -> tuple[list[str], str]:
    """Per-operand index strings with any ``...`` spelled out as letters, and the output's
    (numpy's implicit output when there is no ``->``: the ellipsis, then the indices that occur
    once, in alphabetical order).

    Raises:
        ValueError: for malformed subscripts, a count of terms other than the operands', a
            term whose length is not its operand's number of dimensions, a repeated index in
            the output, or an output index no operand has.
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: expected `subscripts` to be a str (got "
                        f"{type(subscripts).__name__})")
    s = subscripts.replace(" ", "")
    if s.count("->") > 1:
        raise ValueError(f"einsum: expected at most one '->' in `subscripts` (got {subscripts!r})")
    lhs, out = s.split("->") if "->" in s else (s, None)
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: `subscripts` {subscripts!r} names {len(terms)} operands "
                         f"(got {len(shapes)})")
    for term in terms + ([out] if out is not None else []):
        bad = set(term.replace("...", "")) - set(string.ascii_letters)
        if bad or term.count("...") > 1:
            raise ValueError(f"einsum: expected letters and at most one '...' per term in "
                             f"`subscripts` (got {term!r} in {subscripts!r})")
    free = [c for c in string.ascii_letters if c not in s]
    ell_dims = []
    for i, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        named = len(term.replace("...", ""))
        extra = len(shape) - named
        if extra < 0 or (extra and "..." not in term):
            raise ValueError(f"einsum: term {term!r} of `subscripts` does not fit operand {i} "
                             f"of shape {tuple(shape)}")
        ell_dims.append(extra if "..." in term else 0)
    ell = "".join(free[:max(ell_dims, default=0)])
    terms = [t.replace("...", ell[len(ell) - d:] if d else "") for t, d in
             zip(terms, ell_dims, strict=True)]
    if out is None:
        counts = Counter("".join(terms))
        out = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    if len(set(out)) != len(out) or not set(out) <= set("".join(terms)):
        raise ValueError(f"einsum: expected output indices that are distinct and appear in "
                         f"an operand (got {subscripts!r})")
    return terms, out


def _gradient(k: int, terms: list[str], out: str, g, arrays, shape):
    """d(output)/d(operand k) contracted with ``g``: an einsum onto operand k's indices."""
    xp = xp_of(g)
    target = terms[k]
    others = [j for j in range(len(terms)) if j != k]
    present = set(out).union(*(terms[j] for j in others))
    kept = "".join(c for c in target if c in present)
    spec = ",".join([out] + [terms[j] for j in others]) + "->" + kept
    grad = xp.einsum(spec, g, *(arrays[j] for j in others), optimize=len(others) > 1)
    if kept != target:  # indices only this operand had were summed: broadcast back along them
        grad = grad.reshape([grad.shape[kept.index(c)] if c in kept else 1 for c in target])
    sizes = grad.shape
    summed = tuple(a for a, (n, m) in enumerate(zip(shape, sizes, strict=True))
                   if n == 1 and m != 1)  # size 1 here, broadcast against a larger one
    if summed:
        grad = grad.sum(axis=summed, keepdims=True)
    return xp.ascontiguousarray(xp.broadcast_to(grad, shape))


def _diagonal(a, term: str):
    """``(view, indices)``: ``a`` itself when ``term`` names each index once, else the strided
    view of its diagonal over each repeated index (``"bii"`` -> ``a[b, i, i]`` indexed
    ``"bi"``), which shares ``a``'s memory: one axis per distinct index, whose stride is the sum
    of the strides of the axes it names."""
    if len(set(term)) == len(term):
        return a, term
    xp = xp_of(a)
    indices = "".join(dict.fromkeys(term))
    shape = tuple(a.shape[term.index(c)] for c in indices)
    strides = tuple(sum(s for d, s in zip(term, a.strides, strict=True) if d == c)
                    for c in indices)
    return xp.lib.stride_tricks.as_strided(a, shape, strides), indices


def _undiagonal(g, term: str, shape):
    """The gradient of `_diagonal`: ``g`` written onto the diagonal of a zero array of the
    operand's ``shape`` (the diagonal's elements are distinct, so a plain assignment)."""
    full = xp_of(g).zeros(shape, g.dtype)
    _diagonal(full, term)[0][...] = g
    return full


class Einsum(Function):
    @staticmethod
    def forward(ctx, terms, out, *operands):
        # PyTorch's result dtype (float32 with an int operand stays float32), every operand
        # cast to it; the engine hands each input its gradient in its own dtype
        ctx.dtype = result_type(*(t.array for t in operands))
        views = [_diagonal(_as(t.array, ctx.dtype), term)
                 for t, term in zip(operands, terms, strict=True)]
        ctx.terms, ctx.out = terms, out
        ctx.indices, ctx.shapes = [i for _, i in views], [v.shape for v, _ in views]
        ctx.operand_shapes = [t.shape for t in operands]
        # an operand's values only enter the other operands' gradients: a lone operand (a
        # transpose, a diagonal, a sum) saves nothing, so changing it in place afterwards
        # (e.g. through the transposed view) is no error, as in PyTorch
        ctx.save_for_backward(*(operands if len(operands) > 1 else ()))
        result = dispatch("einsum", ctx.device)(",".join(ctx.indices) + "->" + out,
                                                *(v for v, _ in views))
        if len(views) == 1 and ctx.indices[0] != terms[0] and xp_of(result).may_share_memory(
                result, views[0][0]):
            result = result.copy()  # a view of the diagonal: see the module docstring
        return result

    @staticmethod
    def backward(ctx, g):
        saved = ctx.saved_tensors  # empty for one operand, whose gradient needs no values
        views = [_diagonal(_as(t.array, ctx.dtype), term)[0]
                 for t, term in zip(saved, ctx.terms, strict=True)] if saved else [None]
        grads = [None, None]
        for k, need in enumerate(ctx.needs_input_grad[2:]):
            gk = None
            if need:
                gk = _gradient(k, ctx.indices, ctx.out, g.array, views, ctx.shapes[k])
                if ctx.indices[k] != ctx.terms[k]:
                    gk = _undiagonal(gk, ctx.terms[k], ctx.operand_shapes[k])
            grads.append(gk)
        return tuple(grads)


def _as(a, dtype):
    return a if a.dtype == dtype else a.astype(dtype)


def einsum(subscripts: str, *operands: Tensor) -> Tensor:
    """Einstein summation over ``operands`` as in ``numpy.einsum`` (explicit ``->`` output or
    numpy's implicit one, ``...`` for leading dimensions, size-1 dimensions broadcast);
    differentiable in every operand.

    >>> a, b = sg.ones(2, 3), sg.ones(3, 4)
    >>> einsum("ij,jk->ik", a, b).shape
    (2, 4)

    As in PyTorch, the operands may also come as one list or tuple
    (``einsum("ij,jk->ik", [a, b])``).

    Raises:
        TypeError: for a non-Tensor operand.
        ValueError: for subscripts that do not fit the operands (see `parse`), mismatched
            sizes of one index (sizes of an index repeated within one operand must be
            equal), or operands on different devices.
    """
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])  # torch's older form: the operands in one sequence
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    for i, t in enumerate(operands):
        check_tensor("einsum", f"operands[{i}]", t)
    same_device("einsum", *operands)
    terms, out = parse(subscripts, [t.shape for t in operands])
    sizes: dict[str, int] = {}
    for i, (term, t) in enumerate(zip(terms, operands, strict=True)):
        own: dict[str, int] = {}
        for c, n in zip(term, t.shape, strict=True):
            if own.setdefault(c, n) != n:  # a diagonal needs equal sizes (no broadcasting)
                raise ValueError(f"einsum: index {c!r} repeats within operands[{i}] of shape "
                                 f"{tuple(t.shape)} with sizes {own[c]} and {n}; a diagonal "
                                 "needs equal sizes")
            m = sizes.setdefault(c, n)
            if n != m and 1 not in (n, m):
                raise ValueError(f"einsum: index {c!r} has size {m} in an earlier operand and "
                                 f"{n} in operands[{i}] of shape {tuple(t.shape)}")
            sizes[c] = max(n, m)
    return Einsum.apply(terms, out, *operands)
