"""Static graphs: capture the dynamic graph, optimise it in three layers, execute it, show it.

``trace(fn, *inputs)`` records a `StaticGraph`; ``compile(step_fn)`` captures a whole training
step and runs the optimised graph; ``dynamic_graph(loss)`` exports the eager autograd graph.
Layer 1 (graph passes) is `sparsegraph.static.passes`, layer 2 (schedule, memory plan,
executor) `sparsegraph.static.runtime`, layer 3 the kernel registry shared with eager mode.
"""

from sparsegraph.static.ir import Node, Ref, SparseRef, Value
from sparsegraph.static.graph import StaticGraph
from sparsegraph.static.capture import CaptureError, trace
from sparsegraph.static.runtime import Executor, MemoryPlan, memory_plan, schedule
from sparsegraph.static import passes
from sparsegraph.static.passes import optimize
from sparsegraph.static.compile import CompiledFunction, compile
from sparsegraph.static.dynamic import DynamicGraph, dynamic_graph
# the step the CLI and benchmarks capture (re-exported: it is a plain training step)
from sparsegraph.gnn.train import node_classification_step

__all__ = [
    "CaptureError", "CompiledFunction", "DynamicGraph", "Executor", "MemoryPlan", "Node", "Ref",
    "SparseRef", "StaticGraph", "Value", "compile", "dynamic_graph", "memory_plan",
    "node_classification_step", "optimize", "passes", "schedule", "trace",
]
