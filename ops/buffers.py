"""Memory-frugal evaluation of elementwise kernels: `blockwise` runs a kernel a block of rows at
a time (its temporaries take a block's bytes, never the whole array's), and `unshared` says
whether an array may be overwritten (the static runtime's in-place execution; see
sparsegraph/static/runtime.py)."""

from __future__ import annotations

import sys

import numpy as np

from sparsegraph.backend import xp_of

BLOCK = 1 << 18  # elements: 1 MiB per float32 temporary (Cora GAT ELU: 2^16 cost 260 us, 2^18 226)


def row_slices(a):
    """Slices of ``a``'s leading dim, each about `BLOCK` elements (one slice for small arrays)."""
    n = a.shape[0] if a.ndim else 0
    if n < 2 or a.size <= BLOCK:
        return [slice(None)]
    rows = max(1, BLOCK // (a.size // n))
    return [slice(lo, lo + rows) for lo in range(0, n, rows)]


def blockwise(fn, *arrays, out=None):
    """``fn(*arrays)`` for an elementwise ``fn`` of same-shape arrays, evaluated over
    `row_slices` into ``out`` (a new array when None; it may be one of ``arrays``: each block
    is read before it is written). Small arrays go through in one call."""
    slices = row_slices(arrays[0])
    if len(slices) == 1:
        result = fn(*arrays)
        if out is None:
            return result
        out[...] = result
        return out
    for sl in slices:
        part = fn(*(a[sl] for a in arrays))
        if out is None:
            out = xp_of(part).empty(arrays[0].shape[:1] + part.shape[1:], dtype=part.dtype)
        out[sl] = part
        part = None  # one block's temporaries alive at a time
    return out


def unshared(a) -> bool:
    """Whether ``a`` owns its memory and nothing holds it but the caller's local and one other
    reference (the context's saved output, or the incoming gradient's Tensor) - no view either
    (a view keeps its base alive, so it counts). Checked before writing over a buffer the static
    runtime marked reusable: liveness over Values cannot see that, say, a returned reshape
    shares the buffer. The count is taken relative to a probe held the same way, so it does not
    depend on how the interpreter counts arguments."""
    probe = np.empty(0)
    return getattr(a, "base", None) is None and sys.getrefcount(a) - sys.getrefcount(probe) <= 2


def reusable_grad(ctx, g):
    """``g`` (an incoming gradient array the backward holds in one local) when the static
    runtime says it dies at this node (``ctx.grad_reusable``) and, as in `unshared`, nothing
    else holds it but its Tensor: the buffer the backward may write its result into. Else
    None."""
    if not getattr(ctx, "grad_reusable", False):
        return None
    probe = np.empty(0)  # the same count as `unshared`, taken here (a call deeper adds one)
    owned = getattr(g, "base", None) is None and sys.getrefcount(g) - sys.getrefcount(probe) <= 2
    return g if owned else None


def last_backward(ctx) -> bool:
    """Whether this is the context's only backward (the static runtime runs each once), so
    buffers only the context holds may be overwritten; eager mode may run it again
    (``retain_graph``) and never says so."""
    return getattr(ctx, "last_backward", False)
