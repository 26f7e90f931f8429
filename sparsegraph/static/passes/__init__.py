"""Layer 1, graph passes: each a pure ``StaticGraph -> StaticGraph`` function.

`optimize` runs them in order: passes that rewrite forward ops first, then the backward graph
is built (each fused op brings its own backward), then dead code is removed again.
"""

from __future__ import annotations

from sparsegraph.static.passes.fusion import (
    choose_dense, fold_attention_scores, fold_scale, fuse_attention, fuse_spmm_bias_act,
    reorder_linear,
)
from sparsegraph.static.passes.memory import recompute_dropout
from sparsegraph.static.passes.rows import prune_rows
from sparsegraph.static.passes.simplify import (
    eliminate_common_subexpressions, eliminate_dead_code, fold_constants, replace_uses,
)
from sparsegraph.static.runtime import eager_peak

FORWARD_PASSES = {
    "dce": eliminate_dead_code,
    "cse": eliminate_common_subexpressions,
    "fold": fold_constants,
    "scale": fold_scale,
    "reorder": reorder_linear,
    "dense": choose_dense,
    "fuse": fuse_spmm_bias_act,
    "attention": fuse_attention,
    "scores": fold_attention_scores,
    "rows": prune_rows,
    "recompute": recompute_dropout,
}
# order matters: folding exposes constant values to `scale`, which exposes (A X) W to
# `reorder`; `dense` decides on the final products; `fuse` works on what is left sparse;
# `rows` prunes the fused products whose output is read only at some rows; `recompute` pairs
# the dropouts left (on inputs) with the matmuls after `reorder` placed them
DEFAULT_PASSES = ("dce", "cse", "fold", "scale", "reorder", "dense", "fuse", "attention",
                  "scores", "rows", "recompute")


def optimize(graph, passes=None):
    """Run ``passes`` (a name or a sequence of names, default `DEFAULT_PASSES`), build the
    backward graph when the trace recorded a ``.backward()``, and remove dead code. The result
    carries eager mode's estimated peak for ``graph`` (``eager_peak_bytes``, see
    `runtime.eager_peak`), the reference of its `memory_plan`."""
    if isinstance(passes, str):  # one pass: "dce" is not the passes "d", "c", "e"
        passes = (passes,)
    names = DEFAULT_PASSES if passes is None else tuple(passes)
    unknown = [n for n in names if n not in FORWARD_PASSES]
    if unknown:
        raise ValueError(f"optimize: unknown passes {unknown} (expected some of "
                         f"{sorted(FORWARD_PASSES)})")
    # the graph as traced (or as given) is what eager mode runs: the plan's reference
    eager = graph.eager_peak_bytes if graph.eager_peak_bytes is not None else eager_peak(graph)
    given = graph
    for name in names:
        graph = FORWARD_PASSES[name](graph)
    if graph.count(kind="backward_root"):
        graph = graph.backward_graph()
        graph = eliminate_dead_code(graph)
    if graph is given:  # no pass ran: the result is a copy all the same (passes are pure)
        graph = graph.copy()
    graph.eager_peak_bytes = eager
    return graph


__all__ = ["DEFAULT_PASSES", "FORWARD_PASSES", "choose_dense",
           "eliminate_common_subexpressions", "eliminate_dead_code", "fold_constants",
           "fold_attention_scores", "fold_scale", "fuse_attention", "fuse_spmm_bias_act",
           "optimize", "prune_rows", "recompute_dropout", "reorder_linear", "replace_uses"]
