"""`CosineSimilarity` and `PairwiseDistance`: the layers of `sparsegraph.ops.cosine_similarity`
and `sparsegraph.ops.pairwise_distance` (``torch.nn``'s distance modules)."""

from __future__ import annotations

import sparsegraph.ops as ops
from sparsegraph.nn._checks import check_bool, check_int, check_number
from sparsegraph.nn.module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """``x1 . x2 / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (see
    `sparsegraph.ops.cosine_similarity`).

    Args:
        dim: the dim of the vectors. (default: 1)
        eps: the smallest norm divided by. (default: 1e-8)

    Shapes:
        inputs broadcasting to ``(*1, D, *2)``, ``D`` at ``dim``; output ``(*1, *2)``.
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = check_int("CosineSimilarity", "dim", dim, None)
        self.eps = check_number("CosineSimilarity", "eps", eps)

    def forward(self, x1, x2):
        return ops.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


class PairwiseDistance(Module):
    """``||x1 - x2 + eps||_p`` over the last dim (see `sparsegraph.ops.pairwise_distance`).

    Args:
        p: the norm's order. (default: 2.0)
        eps: added to the differences, as torch. (default: 1e-6)
        keepdim: keep the reduced dim. (default: False)

    Shapes:
        inputs broadcasting to ``(N, D)`` or ``(D,)``; output ``(N,)`` or ``()`` (``(N, 1)`` /
        ``(1,)`` with ``keepdim``).
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = check_number("PairwiseDistance", "p", p)
        self.eps = check_number("PairwiseDistance", "eps", eps)
        self.keepdim = check_bool("PairwiseDistance", "keepdim", keepdim)

    def forward(self, x1, x2):
        return ops.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def extra_repr(self) -> str:
        return f"p={self.norm}, eps={self.eps}, keepdim={self.keepdim}"
