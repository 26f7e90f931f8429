"""Test helpers shipped with the package: `gradcheck`, `assert_close`, random inputs.

Like ``chainer.testing`` and ``torch_geometric.testing``, these live in the package so tests (and
users writing their own ops) share one definition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sparsegraph.autograd.engine import run_backward
from sparsegraph.autograd.function import grad_edge
from sparsegraph.backend import to_device
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import Tensor, wrap


def _leaf_tensor(x):
    """The Tensor that carries gradients for ``x`` (sparse tensors: their values)."""
    if isinstance(x, Tensor):
        return x
    values = getattr(x, "values", None)
    return values if isinstance(values, Tensor) else None


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return np.asarray(x.detach().__array__())
    if hasattr(x, "to_dense") and not isinstance(x, np.ndarray):
        return _as_numpy(x.to_dense())
    return np.asarray(x)


def assert_close(actual, expected, *, rtol: float | None = None, atol: float | None = None,
                 msg: str = "") -> None:
    """Assert two tensors / arrays / sparse tensors are equal in shape and close in value.

    Tolerances default by dtype: float32 rtol 1.3e-6 atol 1e-5, float64 rtol 1e-7 atol 1e-7.
    """
    a, e = _as_numpy(actual), _as_numpy(expected)
    if a.shape != e.shape:
        raise AssertionError(f"assert_close: shapes differ: {a.shape} vs {e.shape}. {msg}")
    single = np.float32 in (a.dtype, e.dtype) or np.float16 in (a.dtype, e.dtype)
    rtol = (1.3e-6 if single else 1e-7) if rtol is None else rtol
    atol = (1e-5 if single else 1e-7) if atol is None else atol
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=msg)


def _outputs(out) -> tuple:
    """``fn``'s output(s) as a tuple of Tensors: a sparse output stands for its ``values``
    (the pattern is no variable; `_pattern` checks that finite differences keep it)."""
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(o.values if isinstance(o, SparseTensor) else o for o in outs)


def _pattern(out) -> tuple:
    """The sparsity patterns of ``fn``'s outputs (None for a dense one), as host arrays."""
    outs = out if isinstance(out, tuple) else (out,)
    return tuple((o.layout, o.shape, to_device(o.row, "cpu"), to_device(o.col, "cpu"))
                 if isinstance(o, SparseTensor) else None for o in outs)


def _same_pattern(p, q) -> bool:
    return p is None and q is None or (
        p is not None and q is not None and p[:2] == q[:2]
        and np.array_equal(p[2], q[2]) and np.array_equal(p[3], q[3]))


def _evaluate_shifted(fn, inputs, leaves, directions, step):
    """``fn(*inputs)`` with every leaf shifted in place by ``step * v`` (then restored).

    Shifting in place (rather than passing copies) also perturbs parameters that ``fn``
    reaches through a module instead of through its arguments.
    """
    saved = [t.array.copy() for t in leaves]
    try:
        for t, v in zip(leaves, directions, strict=True):
            t.array += (step * v).astype(t.dtype)
        from sparsegraph.autograd import no_grad

        with no_grad():
            out = fn(*inputs)
        # copies: an output may be a view of a leaf that is restored below
        return tuple(np.array(_as_numpy(o)) for o in _outputs(out)), _pattern(out)
    finally:
        for t, a in zip(leaves, saved, strict=True):
            t.array[...] = a


def gradcheck(fn: Callable, inputs: Sequence, *, eps: float = 1e-6, rtol: float = 1e-5,
              atol: float = 1e-8, seed: int = 0, directions: int = 2) -> bool:
    """Check backward against central differences in float64 (directional derivatives).

    For random directions ``v`` (one per differentiable input, shaped like the input, or like
    its ``values`` for sparse inputs) and a random output cotangent ``u``, compares
    ``<J^T u, v>`` from backward with ``<u, (f(x + eps v) - f(x - eps v)) / (2 eps)>``. Every
    differentiable input must be float64; it may be a non-leaf tensor, and its ``.grad`` is
    left as it was (gradients are taken as `autograd.grad` takes them). A lone Tensor may be
    passed as ``inputs``.

    ``fn`` returns a Tensor, a SparseTensor or a tuple of them. A sparse output is checked
    through its ``values`` (``u`` shaped like them, as torch's gradcheck does for sparse
    outputs); its sparsity pattern must not change under the ``eps`` shifts.

    Raises:
        AssertionError: naming ``fn`` and both numbers when they disagree, or when a sparse
            output's pattern changes between the evaluations.
        TypeError: if a differentiable input is not float64.
    """
    if isinstance(inputs, Tensor | SparseTensor):
        inputs = (inputs,)  # one input, not a sequence of its rows
    rng = np.random.default_rng(seed)
    leaves = list({id(t): t for t in map(_leaf_tensor, inputs)
                   if t is not None and t.requires_grad}.values())
    if not leaves:
        raise ValueError("gradcheck: expected at least one input with requires_grad=True")
    for t in leaves:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: expected float64 inputs (got {t.dtype}); finite "
                            "differences in float32 are too noisy")
    name = getattr(fn, "__name__", repr(fn))
    for _ in range(directions):
        out = fn(*inputs)
        outs, pattern = _outputs(out), _pattern(out)
        us = [rng.standard_normal(o.shape) for o in outs]
        pairs = [(grad_edge(o), u.astype(o.dtype)) for o, u in zip(outs, us, strict=True)
                 if o.requires_grad]
        if not pairs:
            raise AssertionError(f"gradcheck({name}): no output requires grad")
        # captured as `autograd.grad` does: the inputs' .grad stays the user's, and an input
        # that is no leaf (``h = x * 1``) gets its gradient too
        edges = [grad_edge(t) for t in leaves]
        captured = run_backward([e for e, _ in pairs], [u for _, u in pairs],
                                retain_graph=False, capture=set(edges))
        v = [rng.standard_normal(t.shape) for t in leaves]
        analytic = sum(float((captured[e] * vi).sum()) if e in captured else 0.0
                       for e, vi in zip(edges, v, strict=True))
        plus, p_plus = _evaluate_shifted(fn, inputs, leaves, v, eps)
        minus, p_minus = _evaluate_shifted(fn, inputs, leaves, v, -eps)
        if not all(_same_pattern(p, q) for shifted in (p_plus, p_minus)
                   for p, q in zip(pattern, shifted, strict=True)):
            raise AssertionError(f"gradcheck({name}): a sparse output's pattern changed when "
                                 "the inputs moved by eps; finite differences of its values "
                                 "are undefined (compare .to_dense() instead)")
        numeric = sum(float((u * (p - m)).sum())
                      for u, p, m in zip(us, plus, minus, strict=True)) / (2 * eps)
        if not abs(analytic - numeric) <= atol + rtol * max(abs(numeric), abs(analytic)):
            raise AssertionError(
                f"gradcheck({name}): analytic {analytic!r} != numeric {numeric!r}")
    return True


class GradcheckError(RuntimeError, AssertionError):
    """A gradient check that failed (``torch.autograd.gradcheck.GradcheckError`` is a
    RuntimeError; AssertionError too, as `gradcheck` raises)."""


_UNSUPPORTED_CHECKS = ("check_batched_grad", "check_batched_forward_grad", "check_forward_ad")


def torch_gradcheck(func: Callable, inputs, *, eps: float = 1e-6, atol: float = 1e-5,
                    rtol: float = 1e-3, raise_exception: bool = True, nondet_tol: float = 0.0,
                    check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                    check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
                    check_forward_ad: bool = False, check_backward_ad: bool = True,
                    fast_mode: bool = False, masked: bool | None = None) -> bool:
    """``torch.autograd.gradcheck``'s interface and tolerances over `gradcheck` (which is
    `sparsegraph.autograd.gradcheck`): a failure raises `GradcheckError`, or returns False
    with ``raise_exception=False``. ``nondet_tol``, ``check_undefined_grad``,
    ``check_grad_dtypes``, ``fast_mode`` and ``masked`` are accepted (one check here: random
    directional derivatives, the idea of torch's fast mode); the forward-mode and batched
    checks are not implemented (NotImplementedError when asked for)."""
    asked = [n for n, v in zip(_UNSUPPORTED_CHECKS, (check_batched_grad,
             check_batched_forward_grad, check_forward_ad), strict=True) if v]
    if asked:
        raise NotImplementedError(f"gradcheck: {asked} are not implemented (no forward-mode "
                                  "or batched autograd here)")
    if not check_backward_ad:
        return True
    try:
        return gradcheck(func, inputs, eps=eps, rtol=rtol, atol=atol)
    except AssertionError as exc:
        if raise_exception:
            raise GradcheckError(str(exc)) from None
        return False


def gradgradcheck(func: Callable, inputs, *args, **kwargs) -> bool:
    """``torch.autograd.gradgradcheck``: second derivatives need ``create_graph=True``, which
    this autograd does not support."""
    raise NotImplementedError("gradgradcheck: second derivatives are not supported (backward "
                              "with create_graph=True is not implemented)")


def random_graph(num_nodes: int, num_edges: int, *, seed: int = 0, self_loops: bool = False):
    """A random directed edge_index ``(2, E)`` without duplicate edges (numpy int64)."""
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < num_edges:
        s, d = (int(v) for v in rng.integers(0, num_nodes, 2))
        if self_loops or s != d:
            pairs.add((s, d))
    return np.array(sorted(pairs), dtype=np.int64).T.reshape(2, -1)


def random_sparse(n: int, m: int, density: float, *, layout: str = "csr", dtype="float64",
                  heads: int | None = None, seed: int = 0, duplicates: bool = False,
                  empty_rows: bool = False, index_dtype="int32", requires_grad: bool = True):
    """A random ``(n, m)`` sparse tensor whose values are a fresh leaf (so gradients land on
    ``a.values.grad``), for checking sparse ops against dense references.

    Args:
        density: probability that an entry is stored.
        layout: ``"csr"`` or ``"coo"``; a COO result keeps a shuffled entry order.
        heads: hybrid values ``(nnz, heads)`` instead of ``(nnz,)``.
        duplicates: repeat about a third of the entries (summed by ``to_dense``).
        empty_rows: no entries in every other row.
        index_dtype: dtype of the index arrays handed to the constructor.
    """
    from sparsegraph.sparse import sparse_coo

    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < density
    if empty_rows and n > 1:
        mask[::2] = False
    rows, cols = np.nonzero(mask)
    if duplicates and rows.size:
        pick = rng.integers(0, rows.size, max(1, rows.size // 3))
        rows, cols = np.concatenate([rows, rows[pick]]), np.concatenate([cols, cols[pick]])
    order = rng.permutation(rows.size)
    rows, cols = rows[order], cols[order]
    shape = (rows.size,) if heads is None else (rows.size, heads)
    values = rng.standard_normal(shape).astype(dtype)
    a = sparse_coo(np.stack([rows, cols]).astype(index_dtype), values, (n, m))
    if layout == "csr":
        a = a.to_csr()
    leaf = wrap(np.array(a.values.array))
    return a.with_values(leaf.requires_grad_(True) if requires_grad else leaf)


def check_conv(make_conv, x, edge_index, *, num_nodes: int | None = None, atol: float = 1e-5,
               call=None, gradcheck_conv: bool = True, seed: int = 0) -> None:
    """PyG-style layer invariants (``torch_geometric.testing``'s assert_module, in spirit).

    Asserts: the output has one row per node; results are equal for edge_index, COO and CSR
    adjacencies; invariance to the order in which edges are listed; equivariance under a
    random node permutation; and (in float64) a gradient check over input features and every
    parameter. ``make_conv()`` builds the layer (called with the same seed for each variant);
    ``call(conv, x, adj)`` runs it (default ``conv(x, adj)``).
    """
    from sparsegraph.creation import manual_seed
    from sparsegraph.sparse import from_edge_index, sparse_coo

    call = call or (lambda conv, x_, adj: conv(x_, adj))
    n = x.shape[0] if num_nodes is None else num_nodes
    ei = np.asarray(edge_index)

    def run(x_, adj, dtype="float32"):
        manual_seed(seed)
        conv = make_conv()
        conv.eval()
        if dtype == "float64":
            conv.to("float64")
        return conv, call(conv, x_, adj)

    _, out = run(x, ei)
    assert out.shape[0] == n, f"check_conv: expected {n} output rows (got {out.shape})"
    coo = sparse_coo(ei[::-1].copy(), None, (n, n))
    for variant in (from_edge_index(ei, n), coo):
        assert_close(run(x, variant)[1], out, atol=atol, msg="edge_index vs SparseTensor")
    rng = np.random.default_rng(seed)
    shuffled = ei[:, rng.permutation(ei.shape[1])]
    assert_close(run(x, shuffled)[1], out, atol=atol, msg="edge order changed the output")
    perm = rng.permutation(n)
    inv = np.argsort(perm)
    x_perm = x[perm]
    _, out_perm = run(x_perm, inv[ei])
    assert_close(out_perm, out[perm], atol=atol, msg="not permutation equivariant")
    if gradcheck_conv:
        x64 = wrap(np.asarray(x.detach().__array__(), dtype=np.float64)).requires_grad_(True)
        conv, _ = run(x64, ei, "float64")
        params = [p for p in conv.parameters() if p.requires_grad]
        gradcheck(lambda xx, *ps: call(conv, xx, ei), [x64, *params])
