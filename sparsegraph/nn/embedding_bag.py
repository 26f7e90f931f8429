"""`EmbeddingBag` and its functional form `embedding_bag` (``torch.nn.EmbeddingBag``): the sum,
mean or max of the embedding rows of each bag of indices, without materialising the ``(*, D)``
lookup per bag in Python.

Composed of differentiable ops (the row lookup of `embedding`, a product with the per-sample
weights, a CSR `segment` reduction), so the weight and ``per_sample_weights`` get gradients.
The bag boundaries are read on the host (a static trace guards the indices and offsets).
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import empty, tensor
from sparsegraph.nn._checks import check_bool, check_int
from sparsegraph.nn.embedding import (
    Embedding,
    _check_indices,
    _check_max_norm,
    _check_sparse,
    _padding_idx,
    _renorm_rows,
    embedding,
)
from sparsegraph.nn.module import Module
from sparsegraph.nn.parameter import Parameter
from sparsegraph.tensor import Tensor, host_values, wrap

__all__ = ["EmbeddingBag", "embedding_bag", "PerSampleWeightsError"]

MODES = ("sum", "mean", "max")


class PerSampleWeightsError(ValueError, NotImplementedError):
    """``per_sample_weights`` with a mode other than "sum": the NotImplementedError torch
    raises, also a ValueError (a bad combination of arguments)."""


def _indices(op: str, name: str, value, device: str) -> Tensor:
    """An integer index Tensor on ``device`` (an array is wrapped, a list converted)."""
    if isinstance(value, Tensor):
        t = value
    elif isinstance(value, np.ndarray | list | tuple):
        t = wrap(backend.to_device(np.asarray(value), device))
    else:
        raise TypeError(f"{op}: expected `{name}` to be an integer Tensor or array (got "
                        f"{type(value).__name__})")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer `{name}` (got {t.dtype}); convert with "
                        ".long()")
    if t.device != device:
        raise ValueError(f"{op}: `{name}` is on {t.device} and `weight` on {device}; move "
                         "them with .to() first")
    return t


def _bag_pointers(op: str, input: Tensor, offsets, include_last_offset: bool, device: str):
    """The flat indices (host-guarded array) and the bags' CSR pointers ``(B + 1,)``."""
    what = f"{op}: the bags are read on the host"
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: expected `offsets` None for a 2-D `input` (each row is a "
                             f"bag) (got {type(offsets).__name__})")
        flat = host_values(input, what).reshape(-1)
        starts = np.arange(input.shape[0], dtype=np.int64) * input.shape[1]
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError(f"{op}: expected 1-D `offsets` (the start of each bag) with a 1-D "
                             "`input` (got None)")
        off = _indices(op, "offsets", offsets, device)
        if off.ndim != 1:
            raise ValueError(f"{op}: expected 1-D `offsets` (got shape {off.shape})")
        flat = host_values(input, what)
        starts = np.asarray(backend.to_device(host_values(off, what), "cpu"), np.int64)
    else:
        raise ValueError(f"{op}: expected a 1-D or 2-D `input` (got shape {input.shape})")
    n = flat.shape[0]
    if include_last_offset:
        if starts.shape[0] < 1:
            raise ValueError(f"{op}: expected at least one offset with include_last_offset=True "
                             "(got none)")
        indptr = starts
    else:
        indptr = np.append(starts, n) if starts.shape[0] else np.zeros(1, np.int64)
    if indptr[0] != 0:
        raise ValueError(f"{op}: expected `offsets[0]` to be 0, the first bag starting at "
                         f"position 0 (got {int(indptr[0])})")
    if (np.diff(indptr) < 0).any() or indptr[-1] > n:
        raise ValueError(f"{op}: expected non-decreasing `offsets` not greater than the "
                         f"{n} indices of `input` (got {starts.tolist()})")
    return flat, indptr


def embedding_bag(input, weight: Tensor, offsets=None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean",
                  sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """The sum, mean or max of the rows of ``weight`` in each bag of indices, as
    ``torch.nn.functional.embedding_bag``.

    Bags: the rows of a 2-D ``input`` ``(B, L)``, or, for a 1-D ``input``, the slices that
    start at ``offsets`` (``offsets[0]`` must be 0; with ``include_last_offset`` the last
    offset ends the last bag, so there are ``len(offsets) - 1`` bags). An empty bag gives
    zeros (in every mode). Indices equal to ``padding_idx`` are left out of their bag: they
    count neither in the sum nor in the mean's divisor, and that row gets no gradient.

    Args:
        input: integer indices in ``[0, N)``, ``(B, L)`` or ``(E,)``.
        weight: ``(N, D)``.
        offsets: ``(B,)`` starts of the bags for a 1-D ``input``; None for a 2-D one.
        max_norm / norm_type: rows looked up whose norm exceeds ``max_norm`` are rescaled in
            place first (see `embedding`). (default: None / 2)
        scale_grad_by_freq: divide each row's gradient by its count in the bags. (default:
            False)
        mode: ``"sum"``, ``"mean"`` or ``"max"``. (default: "mean")
        sparse: torch's flag for a sparse row gradient (``optim.SparseAdam``): accepted;
            the gradient stays dense. (default: False)
        per_sample_weights: ``input``-shaped weights multiplying each row before the sum
            (``mode="sum"`` only); differentiable. (default: None)
        include_last_offset: ``offsets`` has ``B + 1`` entries. (default: False)
        padding_idx: the index left out of the bags. (default: None)

    Returns:
        ``(B, D)``, differentiable in ``weight`` (and ``per_sample_weights``). In "max"
        mode each bag's gradient goes to its maximal row per column (the first on ties).

    Raises:
        TypeError: a non-Tensor ``weight``, non-integer ``input`` / ``offsets``, a
            ``per_sample_weights`` that is not a Tensor of ``weight``'s dtype.
        ValueError: a ``weight`` not 2-D, an ``input`` not 1-D / 2-D, offsets given with a
            2-D input or missing with a 1-D one, bad offsets, an unknown ``mode``, indices or
            ``padding_idx`` out of range, a ``per_sample_weights`` of another shape.
        PerSampleWeightsError: ``per_sample_weights`` with a mode other than "sum" (a
            ValueError and the NotImplementedError torch raises).
    """
    op = "embedding_bag"
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: expected `weight` to be a Tensor (got {type(weight).__name__})")
    if weight.ndim != 2:
        raise ValueError(f"{op}: expected a 2-D `weight` (num_embeddings, embedding_dim) (got "
                         f"shape {weight.shape})")
    if mode not in MODES:
        raise ValueError(f"{op}: expected `mode` in {MODES} (got {mode!r})")
    input = _indices(op, "input", input, weight.device)
    check_bool(op, "scale_grad_by_freq", scale_grad_by_freq)
    check_bool(op, "include_last_offset", include_last_offset)
    _check_sparse(op, sparse)
    psw = per_sample_weights
    if psw is not None:
        if not isinstance(psw, Tensor):
            raise TypeError(f"{op}: expected `per_sample_weights` to be a Tensor or None (got "
                            f"{type(psw).__name__})")
        if mode != "sum":
            raise PerSampleWeightsError(f"{op}: `per_sample_weights` is only supported for "
                                        f"mode='sum' (got mode={mode!r})")
        if psw.shape != input.shape:
            raise ValueError(f"{op}: expected `per_sample_weights` of shape {input.shape} "
                             f"like `input` (got {psw.shape})")
        if psw.dtype != weight.dtype or psw.device != weight.device:
            raise TypeError(f"{op}: expected `per_sample_weights` of `weight`'s dtype "
                            f"{weight.dtype} on {weight.device} (got {psw.dtype} on "
                            f"{psw.device})")
    pad = _padding_idx(op, padding_idx, weight.shape[0])
    flat, indptr = _bag_pointers(op, input, offsets, include_last_offset, weight.device)
    n_used = int(indptr[-1])  # with include_last_offset, indices after the last bag are unused
    # here, so the message names embedding_bag (the lookup checks again, as `embedding`)
    _check_indices(op, flat[:n_used], weight.shape[0])
    if max_norm is not None:
        _renorm_rows(op, weight, wrap(flat), max_norm, norm_type)
    xp = backend.xp_of(flat)
    used, sel = flat[:n_used], None  # sel: the positions kept when padding is left out
    if pad is not None:
        keep = np.asarray(backend.to_device(used != pad, "cpu"))
        if not keep.all():
            indptr = np.concatenate([[0], np.cumsum(keep)])[indptr]
            sel = np.flatnonzero(keep)
            used = used[backend.to_device(sel, weight.device)]
    rows = embedding(wrap(xp.ascontiguousarray(used)), weight,
                     scale_grad_by_freq=bool(scale_grad_by_freq))
    if psw is not None:
        w = ops.reshape(psw, (-1,))
        if sel is not None:
            w = ops.gather_rows(w, backend.to_device(sel, weight.device))
        elif n_used != w.shape[0]:
            w = w[:n_used]
        rows = rows * ops.unsqueeze(w, 1)
    return ops.segment(rows, indptr, mode)


class EmbeddingBag(Module):
    """A table of ``num_embeddings`` learnable vectors of size ``embedding_dim``; each bag of
    indices gives the sum, mean or max of its rows (``torch.nn.EmbeddingBag``; see
    `embedding_bag` for the bags, padding and per-sample weights).

    Args:
        num_embeddings: ``N``. embedding_dim: ``D``.
        max_norm / norm_type / scale_grad_by_freq / sparse: as `Embedding`.
        mode: ``"sum"``, ``"mean"`` or ``"max"``. (default: "mean")
        include_last_offset: ``offsets`` has ``B + 1`` entries. (default: False)
        padding_idx: an index left out of the bags; its row starts at zero. (default: None)
        device / dtype: of the weight. (default: "cpu" / float32)

    Shapes:
        ``forward(input, offsets=None, per_sample_weights=None)``: input ``(B, L)`` or
        ``(E,)`` with offsets ``(B,)``; output ``(B, D)``; ``weight`` ``(N, D)`` drawn from
        ``N(0, 1)`` with the default generator.

    Example::

        bag = sg.nn.EmbeddingBag(10, 3, mode="sum")
        out = bag(sg.tensor([1, 2, 4, 5, 4, 3, 2, 9]), sg.tensor([0, 4]))  # (2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight=None, include_last_offset: bool = False,
                 padding_idx: int | None = None, device=None, dtype=None):
        super().__init__()
        op = "EmbeddingBag"
        self.num_embeddings = check_int(op, "num_embeddings", num_embeddings)
        self.embedding_dim = check_int(op, "embedding_dim", embedding_dim)
        _check_max_norm(op, max_norm, norm_type)
        _check_sparse(op, sparse)
        if mode not in MODES:
            raise ValueError(f"{op}: expected `mode` in {MODES} (got {mode!r})")
        self.max_norm, self.norm_type, self.mode, self.sparse = max_norm, float(norm_type), \
            mode, bool(sparse)
        self.scale_grad_by_freq = check_bool(op, "scale_grad_by_freq", scale_grad_by_freq)
        self.include_last_offset = check_bool(op, "include_last_offset", include_last_offset)
        self.padding_idx = _padding_idx(op, padding_idx, self.num_embeddings)
        if _weight is None:
            self.weight = Parameter(empty(self.num_embeddings, self.embedding_dim, dtype=dtype,
                                          device=device or "cpu"))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"{op}: expected `_weight` of shape ({num_embeddings}, "
                                 f"{embedding_dim}) (got {tuple(_weight.shape)})")
            self.weight = Parameter(_weight)

    reset_parameters = Embedding.reset_parameters  # N(0, 1), the padding row zeroed

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An `EmbeddingBag` whose weight is ``embeddings`` ``(N, D)`` (a Tensor is shared);
        ``freeze`` keeps it out of training."""
        op = "EmbeddingBag.from_pretrained"
        check_bool(op, "freeze", freeze)
        if not isinstance(embeddings, Tensor):
            embeddings = tensor(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"{op}: expected 2-D embeddings (got shape {embeddings.shape})")
        bag = cls(embeddings.shape[0], embeddings.shape[1], max_norm, norm_type,
                  scale_grad_by_freq, mode, sparse, embeddings, include_last_offset,
                  padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def forward(self, input, offsets=None, per_sample_weights=None) -> Tensor:
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                             self.scale_grad_by_freq, self.mode, False, per_sample_weights,
                             self.include_last_offset, self.padding_idx)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        return text
