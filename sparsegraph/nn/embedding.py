"""`Embedding`: a lookup table of learnable rows, and its functional form `embedding`.

As ``torch.nn.Embedding``: ``weight`` ``(N, D)`` drawn from ``N(0, 1)``; an index tensor of
any shape ``(*)`` gives ``(*, D)``; the ``padding_idx`` row starts at zero and never receives a
gradient. The gradient of a row used several times is the sum of its uses, accumulated in one
scatter-add (no Python loop over the indices).

``sparse=True`` is accepted for torch code that pairs it with ``optim.SparseAdam``: the
weight's gradient stays a dense ``(N, D)`` array (equal to the ``sparse=False`` one), zero on
the rows no lookup gathered; `sparsegraph.optim.SparseAdam` updates only the rows whose
gradient is nonzero, which are those rows.
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops  # noqa: F401  (registers the index_select kernels used below)
from sparsegraph import backend
from sparsegraph.autograd.function import Function
from sparsegraph.creation import empty, tensor
from sparsegraph.kernels import dispatch
from sparsegraph.nn import init
from sparsegraph.nn._checks import check_bool, check_int
from sparsegraph.nn.module import Module
from sparsegraph.nn.parameter import Parameter
from sparsegraph.ops._util import kept_array
from sparsegraph.tensor import TRACE, Tensor, wrap

__all__ = ["Embedding", "embedding"]


class EmbeddingLookup(Function):
    """``weight[indices]``; the weight's gradient scatter-adds the output's rows back onto the
    rows they came from, with the ``padding_idx`` row zeroed and, with ``scale_grad_by_freq``,
    each row divided by the number of times its index occurs in ``indices``. ``caller_array``:
    ``indices`` wraps the caller's numpy array (no version counter of theirs to check)."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq, caller_array=False):
        flat = indices.array.reshape(-1)
        # here, not in `embedding`: a static graph's replay runs it on each call's indices
        _check_indices("embedding", flat, weight.shape[0])
        if ctx.needs_input_grad[0]:
            if caller_array:  # PyTorch copies a numpy index: later writes to it change nothing
                ctx.flat = kept_array(flat)
            else:  # saved: an in-place change to the indices then raises in backward
                ctx.save_for_backward(indices)
            ctx.shape, ctx.padding_idx, ctx.scale = weight.shape, padding_idx, scale_grad_by_freq
        rows = dispatch("index_select", ctx.device)(weight.array, 0, flat)
        return rows.reshape(*indices.shape, weight.shape[1])

    @staticmethod
    def backward(ctx, g):
        saved = ctx.saved_tensors
        flat = saved[0].array.reshape(-1) if saved else ctx.flat
        g = g.array.reshape(-1, ctx.shape[1])
        if ctx.scale:
            counts = backend.xp_of(g).bincount(flat, minlength=ctx.shape[0])
            g = g / counts[flat].astype(g.dtype)[:, None]
        gw = dispatch("index_select_backward", ctx.device)(g, ctx.shape, 0, flat)
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None, None, None


def _check_indices(op: str, flat, n: int) -> None:
    """ValueError unless every index in ``flat`` is in ``[0, n)`` (PyTorch's "index out of
    range"; numpy would wrap a negative one)."""
    if flat.size:
        lo, hi = int(flat.min()), int(flat.max())
        if lo < 0 or hi >= n:
            raise ValueError(f"{op}: expected indices in [0, {n}) for a weight of {n} rows "
                             f"(got {'max ' + str(hi) if hi >= n else 'min ' + str(lo)})")


def _padding_idx(op: str, padding_idx, num_embeddings: int) -> int | None:
    """``padding_idx`` in ``[-N, N)`` as a row number in ``[0, N)``, or None."""
    if padding_idx is None:
        return None
    check_int(op, "padding_idx", padding_idx, None)
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{op}: expected padding_idx in [{-num_embeddings}, {num_embeddings}) "
                         f"for {num_embeddings} embeddings (got {padding_idx})")
    return int(padding_idx) % num_embeddings


def embedding(input, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` at the indices in ``input``, as ``torch.nn.functional.embedding``.

    Args:
        input: integer indices (a Tensor or numpy array of any shape ``(*)``) in ``[0, N)``.
        weight: the table, ``(N, D)``.
        padding_idx: a row (negative counts from the end) whose gradient stays zero; its
            value is returned as it is. (default: None)
        max_norm: each looked-up row whose ``norm_type``-norm exceeds it is first rescaled
            IN PLACE in ``weight`` to that norm (PyTorch's renorm, outside autograd).
            (default: None)
        norm_type: the p of the p-norm for ``max_norm``. (default: 2.0)
        scale_grad_by_freq: divide each row's gradient by the number of times its index
            occurs in ``input``. (default: False)
        sparse: torch's sparse row gradient, for ``optim.SparseAdam``: accepted, but the
            gradient is the same dense ``(N, D)`` array either way (zero on rows not looked
            up; `sparsegraph.optim.SparseAdam` updates only the nonzero rows). (default: False)

    Returns:
        ``(*, D)``, differentiable in ``weight``.

    Raises:
        TypeError: for a non-Tensor ``weight``, an ``input`` that is not an integer
            Tensor or array (floats and bools are refused, as in PyTorch), or a non-bool
            ``sparse`` / ``scale_grad_by_freq``.
        ValueError: for a ``weight`` that is not 2-D, indices outside ``[0, N)``, a
            ``padding_idx`` outside ``[-N, N)``, or inputs on different devices.
    """
    if not isinstance(weight, Tensor):
        raise TypeError(f"embedding: expected `weight` to be a Tensor (got "
                        f"{type(weight).__name__})")
    if weight.ndim != 2:
        raise ValueError(f"embedding: expected a 2-D `weight` (num_embeddings, embedding_dim) "
                         f"(got shape {weight.shape})")
    caller_array = False
    if isinstance(input, np.ndarray):
        array = backend.to_device(input, weight.device)
        caller_array = array is input  # on the host it is the caller's memory; a GPU copy not
        input = wrap(array)
    elif not isinstance(input, Tensor):
        raise TypeError(f"embedding: expected `input` to be an integer Tensor or array of "
                        f"indices (got {type(input).__name__})")
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected integer indices in `input` (got {input.dtype}); "
                        "convert them with .long()")
    if input.device != weight.device:
        raise ValueError(f"embedding: `input` is on {input.device} and `weight` on "
                         f"{weight.device}; move them with .to() first")
    n = weight.shape[0]
    check_bool("embedding", "scale_grad_by_freq", scale_grad_by_freq)
    _check_sparse("embedding", sparse)
    if max_norm is not None:
        _renorm_rows("embedding", weight, input, max_norm, norm_type)
    return EmbeddingLookup.apply(weight, input, _padding_idx("embedding", padding_idx, n),
                                 bool(scale_grad_by_freq), caller_array)


def _check_sparse(op: str, sparse) -> None:
    """``sparse`` a bool; either value gives the same dense gradient (see the module doc)."""
    check_bool(op, "sparse", sparse)


def _check_max_norm(op: str, max_norm, norm_type) -> None:
    for name, value in (("max_norm", max_norm), ("norm_type", norm_type)):
        if name == "max_norm" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer |
                                                     np.floating) or not value > 0:
            raise ValueError(f"{op}: expected `{name}` to be a positive number (got "
                             f"{value!r})")


def _renorm_rows(op: str, weight: Tensor, input: Tensor, max_norm, norm_type) -> None:
    """PyTorch's ``embedding_renorm_``: rows of ``weight`` used by ``input`` whose
    ``norm_type``-norm exceeds ``max_norm`` are scaled in place to ``max_norm / (norm +
    1e-7)`` of themselves, outside autograd (the weight's version moves, as an in-place
    write)."""
    _check_max_norm(op, max_norm, norm_type)
    if TRACE.tracer is not None:  # an in-place write outside autograd: not recordable
        TRACE.tracer.unsupported(f"{op}(max_norm=...) (an in-place renorm of the weight)",
                                 "renormalise outside the compiled step, or pass max_norm=None")
    flat = input.array.reshape(-1)
    _check_indices(op, flat, weight.shape[0])  # before the write (the lookup checks again)
    xp = backend.xp_of(weight.array)
    rows = xp.unique(flat)
    w = weight.array[rows]
    norms = (xp.abs(w) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    over = norms > max_norm
    if bool(over.any()):
        scale = (max_norm / (norms[over] + 1e-7)).astype(w.dtype)
        weight.array[rows[over]] = w[over] * scale[:, None]
        weight._version[0] += 1


class Embedding(Module):
    """A table of ``num_embeddings`` learnable vectors of size ``embedding_dim``, looked up by
    index (``torch.nn.Embedding``).

    Args:
        num_embeddings: ``N``, the number of rows.
        embedding_dim: ``D``, the size of each row.
        padding_idx: a row (negative counts from the end) initialised to zeros that never
            receives a gradient, so it stays as it is in training. (default: None)
        max_norm / norm_type: rows looked up whose p-norm exceeds ``max_norm`` are rescaled
            in place to it (see `embedding`). (default: None / 2.0)
        scale_grad_by_freq: divide each row's gradient by the number of times its index
            occurs in the batch. (default: False)
        sparse: torch's flag for a sparse row gradient (``optim.SparseAdam``); the gradient
            is the same dense ``(N, D)`` array either way, zero on rows not looked up, and
            `sparsegraph.optim.SparseAdam` updates only its nonzero rows. (default: False)
        device: parameter device. (default: "cpu")
        dtype: parameter dtype. (default: float32)

    Shapes:
        input ``(*)`` integer indices in ``[0, N)``; output ``(*, D)``; ``weight`` ``(N, D)``,
        drawn from ``N(0, 1)`` with the default generator (seed with ``sg.manual_seed``).

    Example::

        emb = sg.nn.Embedding(10, 3, padding_idx=0)
        out = emb(sg.tensor([[1, 2, 0], [4, 4, 9]]))  # (2, 3, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        check_int("Embedding", "num_embeddings", num_embeddings)
        check_int("Embedding", "embedding_dim", embedding_dim)
        check_bool("Embedding", "scale_grad_by_freq", scale_grad_by_freq)
        _check_sparse("Embedding", sparse)
        _check_max_norm("Embedding", max_norm, norm_type)
        self.max_norm, self.norm_type, self.sparse = max_norm, float(norm_type), bool(sparse)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = _padding_idx("Embedding", padding_idx, self.num_embeddings)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        if _weight is None:
            self.weight = Parameter(empty(self.num_embeddings, self.embedding_dim,
                                          dtype=dtype, device=device or "cpu"),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:  # from_pretrained: the given values, shared as torch.nn.Parameter shares them
            shape = tuple(_weight.shape)
            if shape != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: expected `_weight` of shape ({num_embeddings}, "
                                 f"{embedding_dim}) (got {shape})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Redraw the weight from ``N(0, 1)`` (default generator); zero the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0
            self.weight._version[0] += 1

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> Embedding:
        """An `Embedding` whose weight is ``embeddings`` ``(N, D)`` (a Tensor, shared; an
        array or nested list is copied into one); ``freeze`` keeps it out of training
        (``requires_grad=False``). The padding row keeps its given values, as in PyTorch.

        Raises:
            ValueError: if ``embeddings`` is not 2-D.
            TypeError: for a non-bool ``freeze``, or integer embeddings that are not frozen.
        """
        op = "Embedding.from_pretrained"
        check_bool(op, "freeze", freeze)
        if not isinstance(embeddings, Tensor):
            embeddings = tensor(embeddings)
        if len(embeddings.shape) != 2:
            raise ValueError(f"{op}: expected 2-D embeddings (num_embeddings, embedding_dim) "
                             f"(got shape {tuple(embeddings.shape)})")
        if not freeze and embeddings.dtype.kind not in "fc":
            raise TypeError(f"{op}: expected floating-point embeddings to train (freeze=False) "
                            f"(got {embeddings.dtype}); convert them with .float() or pass "
                            "freeze=True")
        return cls(embeddings.shape[0], embeddings.shape[1], padding_idx=padding_idx,
                   max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings,
                   _freeze=freeze)

    def forward(self, input) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
            text += "" if self.norm_type == 2.0 else f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        if self.sparse:
            text += ", sparse=True"
        return text
