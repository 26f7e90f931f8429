"""Capture (sparsegraph.static.trace), the executor, autodiff on the graph, and the exports."""

import networkx as nx
import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.testing import assert_close, random_sparse


def t(shape, seed, requires_grad=False, dtype="float64"):
    rng = np.random.default_rng(seed)
    return sg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=requires_grad)


def small_net(w, b):
    a = random_sparse(5, 4, 0.6, seed=2, requires_grad=False)

    def fn(x):
        h = ops.relu(ops.spmm(a, x @ w) + b)
        return ops.softmax(h, dim=1).sum() + (h * h).mean()

    return fn


def test_trace_records_ops_and_reruns_on_new_inputs():
    w, b = t((3, 2), 1, True), t((2,), 2, True)
    fn = small_net(w, b)
    x = t((4, 3), 3)
    graph = static.trace(fn, x)
    ops_seen = [n.op for n in graph.nodes]
    assert ops_seen[:4] == ["MatMul", "SpMM", "Add", "ReLU"]
    assert [v.kind for v in graph.inputs] == ["input"]
    assert {v.tensor for v in graph.params()} == {w, b}
    assert any("spmm:" in n.attrs["kernel"] for n in graph.nodes if n.op == "SpMM")
    x2 = t((4, 3), 4)
    assert_close(graph(x2), fn(x2), rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="expected input 0 to be a Tensor float64\\[4, 3\\]"):
        graph(t((5, 3), 4))


def test_parameters_are_bound_by_reference():
    w, b = t((3, 2), 1, True), t((2,), 2, True)
    fn = small_net(w, b)
    x = t((4, 3), 3)
    graph = static.trace(fn, x)
    with sg.no_grad():
        w.mul_(2.0) if hasattr(w, "mul_") else w.array.__imul__(2.0)
    assert_close(graph(x), fn(x), rtol=1e-13, atol=1e-13)


def test_python_reads_of_traced_values_raise_naming_the_op():
    def branchy(x):
        y = ops.exp(x)
        if y.sum() > 1:  # data-dependent control flow
            return y
        return -y

    with pytest.raises(static.CaptureError, match="bool\\(\\) .*output of Gt"):
        static.trace(branchy, t((3,), 0))
    with pytest.raises(static.CaptureError, match="item\\(\\) .*output of Sum"):
        static.trace(lambda x: x * x.sum().item(), t((3,), 0))
    # a constant's value is known when tracing: reading it is fine
    c = t((3,), 5)
    graph = static.trace(lambda x: x * float(c.sum().item()), t((3,), 0))
    assert graph.count(op="Mul") == 1


def test_nested_trace_is_refused():
    with pytest.raises(static.CaptureError, match="already tracing"):
        static.trace(lambda x: static.trace(lambda y: y * 2, x), t((2,), 0))


def test_backward_graph_of_a_scalar_function_matches_eager_gradients():
    w, b = t((3, 2), 1, True), t((2,), 2, True)
    fn = small_net(w, b)
    x = t((4, 3), 3)
    graph = static.trace(fn, x)
    bwd = graph.backward_graph()
    assert bwd.count(kind="backward") >= 4 and graph.count(kind="backward") == 0
    out, grads = bwd(x)
    loss = fn(x)
    loss.backward()
    assert_close(out, loss.detach(), rtol=1e-13, atol=1e-13)
    by_param = dict(zip([v.tensor for v in bwd.params()], grads, strict=True))
    assert_close(by_param[w], w.grad, rtol=1e-12, atol=1e-12)
    assert_close(by_param[b], b.grad, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="one scalar output"):
        static.trace(lambda x: x * 2, t((3,), 0, True)).backward_graph()


def test_exports_listing_networkx_and_dot():
    w, b = t((3, 2), 1, True), t((2,), 2, True)
    graph = static.trace(small_net(w, b), t((4, 3), 3))
    text = str(graph)
    assert "SpMM(" in text and "float64[5, 2]" in text and "input0" in text
    g = graph.to_networkx()
    assert isinstance(g, nx.MultiDiGraph) and nx.is_directed_acyclic_graph(g)
    ops_in_g = [d["op"] for _, d in g.nodes(data=True)]
    assert ops_in_g.count("SpMM") == 1 and "param" in ops_in_g
    spmm = next(k for k, d in g.nodes(data=True) if d["op"] == "SpMM")
    assert {d["layout"] for _, _, d in g.in_edges(spmm, data=True)} == {"sparse values", "dense"}
    dot = graph.to_dot()
    assert dot.startswith("digraph StaticGraph {") and dot.rstrip().endswith("}")
    assert dot.count("->") == g.number_of_edges()


def test_dynamic_graph_exports_the_eager_autograd_graph():
    w, b = t((3, 2), 1, True), t((2,), 2, True)
    loss = small_net(w, b)(t((4, 3), 3))
    dyn = static.dynamic_graph(loss)
    labels = [label for _, label, _ in dyn.nodes]
    assert any(label.startswith("SpMMBackward") for label in labels)
    assert sum(kind == "leaf" for _, _, kind in dyn.nodes) == 2  # w and b
    g = dyn.to_networkx()
    assert nx.is_directed_acyclic_graph(g) and g.number_of_edges() == len(dyn.edges)
    assert "digraph DynamicGraph" in dyn.to_dot()
    with pytest.raises(ValueError, match="grad_fn"):
        static.dynamic_graph(t((2,), 0))


def test_schedule_keeps_random_ops_in_trace_order_and_memory_plan_bounds():
    x = t((50, 8), 0, True)

    def fn(x):
        a = ops.dropout(x, 0.5)
        b = ops.dropout(x * 2, 0.5)
        return (a * b).sum()

    graph = static.trace(fn, x)
    order = static.schedule(graph)
    drops = [n.id for n in order if n.op == "Dropout"]
    assert drops == [n.id for n in graph.nodes if n.op == "Dropout"]
    plan = static.memory_plan(graph.backward_graph())
    assert 0 < plan.peak_bytes <= plan.buffer_bytes <= plan.total_bytes
    assert "planned peak" in str(plan)
