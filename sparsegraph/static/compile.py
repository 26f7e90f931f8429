"""`compile(step_fn)`: capture a whole training step once, optimise it, run the plan after."""

from __future__ import annotations

from sparsegraph.sparse import SparseTensor
from sparsegraph.static.capture import trace_with_result
from sparsegraph.static.runtime import Executor
from sparsegraph.tensor import Tensor


def _detach(result):
    if isinstance(result, Tensor):
        return result.detach()
    if isinstance(result, tuple | list):
        return type(result)(_detach(r) for r in result)
    if isinstance(result, dict):
        return {k: _detach(r) for k, r in result.items()}
    return result


def _guard(inputs) -> tuple:
    """What a captured graph assumes of its inputs: a change re-traces."""
    key = []
    for x in inputs:
        t = x.values if isinstance(x, SparseTensor) else x
        key.append((tuple(t.shape), str(t.dtype), t.device, t.requires_grad)
                   if isinstance(t, Tensor) else ("literal", repr(x)))
    return tuple(key)


class CompiledFunction:
    """A captured function: the first call (per input signature) runs eagerly while tracing;
    later calls run the optimised static graph. ``graph`` is the last graph built; ``plan`` its
    memory plan."""

    def __init__(self, fn, passes=None):
        self.fn = fn
        self.passes = passes
        self._executors: dict[tuple, Executor] = {}
        self.graph = None
        self.traces = 0

    def __call__(self, *inputs):
        key = _guard(inputs)
        executor = self._executors.get(key)
        if executor is not None:
            return executor.run(*inputs)
        graph, result = trace_with_result(self.fn, *inputs)
        self.traces += 1
        from sparsegraph.static.passes import optimize

        self.graph = optimize(graph, self.passes)
        self._executors[key] = Executor(self.graph)
        return _detach(result)

    def plan(self):
        from sparsegraph.static.runtime import memory_plan

        return memory_plan(self.graph)


def compile(fn, passes=None) -> CompiledFunction:  # noqa: A001  (the name the issue asks for)
    """Capture ``fn`` (a training step: forward + loss + ``backward()`` + optimizer step, or any
    function of tensors) as a static graph, optimise it and run that from the second call on.

    Args:
        fn: the function; its tensor arguments are the graph's inputs; parameters and every
            other tensor it reads are bound by reference (constants must not change).
        passes: names of the graph passes to run, in order (default: all, see
            `sparsegraph.static.passes.DEFAULT_PASSES`); ``[]`` runs the captured graph as is.

    Returns:
        A `CompiledFunction` whose calls return what ``fn`` returns (detached). A call with
        inputs of another shape, dtype or device traces again.
    """
    return CompiledFunction(fn, passes)
