"""The operator library: each op is a `Function` (forward + backward) plus registered kernels.

Functional forms live here (``sg.ops.spmm``, ``sg.ops.relu``, ...) and are re-exported at the
top level (``sg.exp``); `sparsegraph.nn.functional` re-exports the neural-network subset under
PyTorch's familiar names. Each module lists its public functions in ``__all__``.
"""

if __name__ != "sparsegraph.ops":
    raise ImportError(f"import this package as sparsegraph.ops (it was imported as {__name__!r})")

from sparsegraph.ops import sparse_kernels  # noqa: E402,F401  (registers the sparse kernels)
from sparsegraph.ops import (  # noqa: E402
    activation, comparison, contraction, convert, cost_model, counting, cumulative, dim_views,
    distance, edge_softmax, elementwise, extrema, gather_scatter, graph_norm, index,
    index_update, inplace, inplace_math, linalg, loss, nonfinite, padding, probability,
    rearrange, reduce, robust_loss, rounding, selection, shape, similarity, sorting,
    sparse_conversion, sparse_products, sparse_values, stochastic, ternary,
)
# the fused ops are reached by name (sg.ops.fused.gat_attention) and by the static passes; their
# generic kernels register here, beside the numba ones `sparse_kernels` registered above
from sparsegraph.ops import fused, gat_scores  # noqa: E402,F401

# NOTE: modules are named by category, never after a function they export, so the re-export
# below never shadows a submodule (`sparsegraph.ops.softmax` is the function).
_MODULES = (activation, comparison, contraction, convert, cost_model, counting, cumulative,
            dim_views, distance, edge_softmax, elementwise, extrema, gather_scatter, graph_norm,
            index, index_update, inplace, inplace_math, linalg, loss, nonfinite, padding,
            probability, rearrange, reduce, robust_loss, rounding, selection, shape, similarity,
            sorting, sparse_conversion, sparse_products, sparse_values, stochastic, ternary)
__all__ = [name for module in _MODULES for name in module.__all__]
globals().update({name: getattr(module, name) for module in _MODULES for name in module.__all__})
