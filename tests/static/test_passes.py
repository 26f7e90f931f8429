"""Each graph pass: the numbers still equal eager mode (values and gradients), and the pass had
its structural effect."""

from types import SimpleNamespace

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops, static
from sparsegraph.gnn import GCNConv, SAGEConv
from sparsegraph.ops import gat_scores
from sparsegraph.static import passes
from sparsegraph.testing import assert_close, random_graph


def t(shape, seed, requires_grad=False):
    return sg.tensor(np.random.default_rng(seed).standard_normal(shape),
                     requires_grad=requires_grad)


def adjacency(n=12, e=40, seed=0):
    ei = random_graph(n, e, seed=seed)
    return sg.from_edge_index(ei, n).with_values(sg.tensor(np.ones(e)))


def check(fn, pass_fn, x, params):
    """Trace ``fn(x)`` (a scalar), apply the pass to the forward graph, build the backward graph
    and compare output and parameter gradients with eager mode. Returns the passed graph."""
    graph = static.trace(fn, x)
    after = pass_fn(graph)
    sg.manual_seed(3)  # random ops (dropout) draw the same masks in both runs
    out, grads = after.backward_graph(wrt=params)(x)
    sg.manual_seed(3)
    loss = fn(x)
    expected = sg.autograd.grad(loss, params)
    assert_close(out, loss.detach(), rtol=1e-10, atol=1e-12)
    for got, want in zip(grads, expected, strict=True):
        assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert graph.notes == []  # the pass worked on a copy
    return graph, after


def test_dead_code_elimination_drops_unused_work_but_keeps_random_ops():
    w = t((4, 3), 1, True)

    def fn(x):
        _unused = ops.exp(x @ w)
        _dropped = ops.dropout(x, 0.5)  # random: kept, so later masks match eager
        return (x @ w).sum()

    graph, after = check(fn, passes.eliminate_dead_code, t((5, 4), 2), [w])
    assert graph.count(op="Exp") == 1 and after.count(op="Exp") == 0
    assert after.count(op="Dropout") == 1
    assert "removed" in after.notes[-1]


def test_common_subexpression_elimination_merges_repeated_work():
    w = t((4, 3), 1, True)
    fn = lambda x: (ops.tanh(x @ w) + ops.tanh(x @ w)).sum()  # noqa: E731
    graph, after = check(fn, passes.eliminate_common_subexpressions, t((5, 4), 2), [w])
    assert graph.count(op="MatMul") == 2 and after.count(op="MatMul") == 1
    assert after.count(op="Tanh") == 1


def test_constant_folding_hoists_structure_only_work_out_of_the_step():
    adj = adjacency()
    w = t((4, 3), 1, True)

    def fn(x):  # gcn_norm of a fixed adjacency in float64: computed per call in eager mode
        a = ops.gcn_norm(adj)
        return ops.relu(ops.spmm(a, x @ w)).sum()

    graph, after = check(fn, passes.fold_constants, t((12, 4), 2), [w])
    assert len(after.nodes) < len(graph.nodes)
    assert {n.op for n in after.nodes} == {"MatMul", "SpMM", "ReLU", "Sum"}
    assert "computed" in after.notes[-1]


def test_spmm_bias_relu_dropout_fusion():
    conv = GCNConv(4, 3).to("float64")
    adj = adjacency()
    fn = lambda x: ops.dropout(ops.relu(conv(x, adj)), 0.3).sum()  # noqa: E731
    graph, after = check(fn, passes.fuse_spmm_bias_act, t((12, 4), 2),
                         list(conv.parameters()))
    fused = [n for n in after.nodes if n.op == "SpMMBiasAct"]
    assert len(fused) == 1 and fused[0].attrs["fused_from"] == ["SpMM", "Add", "ReLU", "Dropout"]
    assert after.count(op="ReLU") == 0 and after.count(op="Dropout") == 0


def test_fused_spmm_lists_x_as_saved_only_for_learned_values():
    """The memory plan reads `saved`: the fused op keeps x exactly when the values need a
    gradient (its backward's sddmm reads x), as SpMMBiasAct's forward does."""
    w = t((4, 3), 1, True)
    bias = t((3,), 4, True)
    fixed = adjacency()
    learned = fixed.with_values(t((40,), 5, True))
    for adj, params, keeps_x in ((fixed, [w, bias], False), (learned, [w, bias], True)):
        fn = lambda x, adj=adj: ops.relu(ops.spmm(adj, x @ w) + bias).sum()  # noqa: E731
        params = params + ([adj.values] if keeps_x else [])
        _, after = check(fn, passes.fuse_spmm_bias_act, t((12, 4), 2), params)
        node = next(n for n in after.nodes if n.op == "SpMMBiasAct")
        x_value = node.args[1].value
        assert (x_value.id in {v.id for v in node.attrs["saved"]}) is keeps_x


def test_scale_folding_turns_mean_aggregation_into_one_spmm():
    conv = SAGEConv(4, 3, aggr="mean").to("float64")
    adj = adjacency()
    graph, after = check(lambda x: conv(x, adj).sum(), passes.fold_scale, t((12, 4), 2),
                         list(conv.parameters()))
    assert graph.count(op="Mul") == 1 and after.count(op="Mul") == 0
    spmm = next(n for n in after.nodes if n.op == "SpMM")
    assert spmm.args[0].values.kind == "const" and "folded" in spmm.args[0].values.name


def test_linear_reordering_moves_the_weight_before_propagation_when_it_shrinks_f():
    adj = adjacency()
    w_small, w_big = t((8, 2), 1, True), t((8, 16), 3, True)

    def fn(x):
        return (ops.spmm(adj, x) @ w_small).sum() + (ops.spmm(adj, x) @ w_big).sum()

    graph, after = check(fn, passes.reorder_linear, t((12, 8), 2), [w_small, w_big])
    kinds = [(n.op, n.outputs[0].shape) for n in after.nodes if n.op in ("SpMM", "MatMul")]
    assert ("SpMM", (12, 2)) in kinds and ("MatMul", (12, 2)) in kinds  # moved: 8 -> 2
    assert ("SpMM", (12, 8)) in kinds and ("MatMul", (12, 16)) in kinds  # kept: 8 -> 16
    assert "1 products moved" in after.notes[-1]


@pytest.mark.parametrize("dense", [True, False])
def test_sparse_vs_dense_choice_follows_the_cost_model_and_says_why(dense):
    adj = adjacency()
    w = t((4, 3), 1, True)
    decide = lambda n, m, nnz, f, dtype: SimpleNamespace(  # noqa: E731
        dense=dense, reason=f"test table: density {nnz / (n * m):.2f}")
    fn = lambda x: ops.relu(ops.spmm(adj, x @ w)).sum()  # noqa: E731
    graph, after = check(fn, lambda g: passes.choose_dense(g, decide), t((12, 4), 2), [w])
    assert after.count(op="SpMM") == (0 if dense else 1)
    node = next(n for n in after.nodes if n.op in ("SpMM", "MatMul") and "reason" in n.attrs)
    assert "density 0.28" in node.attrs["reason"]
    if dense:
        assert node.args[0].value.shape == (12, 12)
        assert node.attrs["reason"].startswith("dense:")


@pytest.mark.parametrize("training", [True, False])
def test_attention_fusion(training):
    adj = adjacency()
    adj = ops.add_self_loops(adj)  # every row has an entry
    lin, att_src, att_dst = t((4, 6), 1, True), t((2, 3), 3, True), t((2, 3), 4, True)

    def gat_layer(x):  # GAT's attention written out op by op (GATConv calls the fused op)
        h = (x @ lin).reshape((12, 2, 3))
        score = ops.leaky_relu(ops.edge_sum(adj, (h * att_src).sum(-1), (h * att_dst).sum(-1)),
                               0.2)
        if not training:
            return ops.edge_softmax_spmm(adj.with_values(score), h).sum()
        alpha = ops.sparse_softmax(adj.with_values(score))
        return ops.spmm(alpha.with_values(ops.dropout(alpha.values, 0.5)), h).sum()

    graph, after = check(gat_layer, passes.fuse_attention, t((12, 4), 2),
                         [lin, att_src, att_dst])
    node = next(n for n in after.nodes if n.op == "GATAttention")
    expected = ["EdgeSum", "LeakyReLU", "RowSoftmax", "Dropout", "SpMM"] if training else [
        "EdgeSum", "LeakyReLU", "SoftmaxSpMM"]
    assert node.attrs["fused_from"] == expected
    assert after.count(op="EdgeSum") == 0


@pytest.mark.parametrize("shared_h", [True, False])
def test_attention_score_folding(shared_h):
    adj = ops.add_self_loops(adjacency())
    lin, att_src, att_dst = t((4, 6), 1, True), t((1, 2, 3), 3, True), t((1, 2, 3), 4, True)

    def gat_layer(x):  # GATConv's einsum scores, then the fused attention
        h = (x @ lin).reshape((12, 2, 3))
        h_dst = h if shared_h else h * 2.0  # scores from other features: left alone
        dst = ops.einsum("nhf,ohf->nh", h_dst, att_dst) if shared_h else ops.einsum(
            "nf,kf->nk", h_dst.reshape((12, 6)), att_dst.reshape((1, 6)).expand((2, 6)))
        out = ops.fused.gat_attention(adj, ops.einsum("nhf,ohf->nh", h, att_src), dst, h, 0.2,
                                      0.5)
        return (out * out).sum()

    graph, after = check(gat_layer, passes.fold_attention_scores, t((12, 4), 2),
                         [lin, att_src, att_dst])
    assert graph.count(op="Einsum") == 2
    if shared_h:
        assert after.count(op="Einsum") == 0 and after.count(op="GATAttention") == 0
        (node,) = [n for n in after.nodes if n.op == "GATFeatureAttention"]
        assert node.attrs["fused_from"] == ["Einsum", "Einsum", "GATAttention"]
    else:
        assert after.count(op="Einsum") == 2 and "0 attention score pairs" in after.notes[-1]


@pytest.mark.parametrize("index", ["int", "repeats", "negative", "mask"])
@pytest.mark.parametrize("fused", [False, True])
def test_row_pruning_computes_only_the_rows_read(index, fused):
    conv = GCNConv(4, 3, bias=fused).to("float64")  # with a bias: the fused spmm + bias node
    adj = adjacency()
    key = {"int": np.array([7, 2, 9]), "repeats": np.array([3, 3, 0, 11]),
           "negative": np.array([-1, 4]), "mask": np.arange(12) % 3 == 0}[index]
    fn = lambda x: ops.tanh(conv(x, adj)[key]).sum()  # noqa: E731
    pass_fn = lambda gr: passes.prune_rows(  # noqa: E731
        passes.fuse_spmm_bias_act(passes.fold_constants(gr)))
    graph, after = check(fn, pass_fn, t((12, 4), 2), list(conv.parameters()))
    n_rows = int(key.sum()) if key.dtype == bool else key.shape[0]
    product = next(n for n in after.nodes if n.op in ("SpMM", "SpMMBiasAct"))
    assert product.outputs[0].shape == (n_rows, 3)
    assert product.attrs["fused_from"][-1] == "GetItem" and after.count(op="GetItem") == 0
    assert graph.count(op="GetItem") == 1


@pytest.mark.parametrize("index", ["int", "repeats", "mask"])
@pytest.mark.parametrize("p", [0.0, 0.5])
def test_row_pruning_moves_through_head_mean_and_bias_to_gat_attention(index, p):
    """GAT's output layer: attention -> mean over heads -> + bias -> [train rows]; the
    attention runs on the selected rows' edges, its dropout mask still the full graph's."""
    adj = ops.add_self_loops(adjacency())
    lin, bias = t((4, 6), 1, True), t((3,), 5, True)
    att_src, att_dst = t((1, 2, 3), 3, True), t((1, 2, 3), 4, True)
    key = {"int": np.array([7, 2, 9]), "repeats": np.array([3, 3, 0, 11]),
           "mask": np.arange(12) % 3 == 0}[index]

    def fn(x):
        h = (x @ lin).reshape((12, 2, 3))
        out = gat_scores.gat_feature_attention(adj, h, att_src, att_dst, 0.2, p)
        return ops.tanh((out.mean(1) + bias)[key]).sum()

    graph, after = check(fn, passes.prune_rows, t((12, 4), 2), [lin, bias, att_src, att_dst])
    n_rows = int(key.sum()) if key.dtype == bool else key.shape[0]
    attention = next(n for n in after.nodes if n.op == "GATFeatureAttention")
    assert attention.outputs[0].shape == (n_rows, 2, 3)
    assert after.count(op="GetItem") == 0 and graph.count(op="GetItem") == 1
    assert [n.outputs[0].shape for n in after.nodes if n.op in ("Mean", "Add")] == [
        (n_rows, 3), (n_rows, 3)]


def test_row_pruning_stops_at_ops_that_mix_rows():
    adj = ops.add_self_loops(adjacency())
    lin, att = t((4, 6), 1, True), t((1, 2, 3), 3, True)
    key = np.array([1, 5])

    def fn(x):  # a softmax over the rows mixes them: every row of the attention is needed
        out = gat_scores.gat_feature_attention(adj, (x @ lin).reshape((12, 2, 3)), att, att)
        return ops.softmax(out.mean(1), 0)[key].sum()

    _, after = check(fn, passes.prune_rows, t((12, 4), 2), [lin, att])
    assert after.count(op="GetItem") == 1 and "row pruning: 0" in after.notes[-1]


def test_row_pruning_leaves_products_read_elsewhere_or_with_dropout_or_learned_values():
    conv = GCNConv(4, 3).to("float64")
    adj = adjacency()
    key = np.array([1, 5])
    w = t((adj.nnz,), 5, True)
    params = list(conv.parameters())
    cases = [  # each keeps its full product: pruning would change what else reads it
        (lambda x: (lambda y: y[key].sum() + y.sum())(conv(x, adj)), params),  # read twice
        (lambda x: ops.dropout(ops.relu(conv(x, adj)), 0.5)[key].sum(), params),  # masks
        (lambda x: (adj.with_values(w) @ x)[key].sum(), [w]),  # learned values
    ]
    for fn, wrt in cases:
        pass_fn = lambda gr: passes.prune_rows(  # noqa: E731
            passes.fuse_spmm_bias_act(passes.fold_constants(gr)))
        _, after = check(fn, pass_fn, t((12, 4), 2), wrt)
        assert after.count(op="GetItem") >= 1 and "row pruning: 0" in after.notes[-1]


@pytest.mark.parametrize("source", ["input", "param", "saved activation"])
def test_recompute_dropout_keeps_the_input_not_its_dropped_out_copy(source):
    w, v = t((4, 3), 1, True), t((5, 4), 3, True)
    fn = {"input": lambda x: ops.tanh(ops.dropout(x, 0.4) @ w).sum(),
          "param": lambda x: ops.tanh(ops.dropout(v, 0.4) @ w).sum() + x.sum(),
          # ELU keeps its output for its own backward: the dropped-out copy is the extra array
          "saved activation": lambda x: ops.tanh(ops.dropout(ops.elu(x * v), 0.4) @ w).sum(),
          }[source]
    graph, after = check(fn, passes.recompute_dropout, t((5, 4), 2),
                         [w] if source == "input" else [w, v])  # dx through the mask
    assert graph.count(op="Dropout") == 1 and after.count(op="Dropout") == 0
    (node,) = [n for n in after.nodes if n.op == "DropoutMatMul"]
    dropped = next(n for n in graph.nodes if n.op == "Dropout").outputs[0]
    assert dropped.id not in {val.id for val in node.attrs["saved"]}
    assert "recompute: 1" in after.notes[-1]


def test_recompute_dropout_leaves_dropouts_of_intermediates_or_read_twice():
    w, w0 = t((4, 3), 1, True), t((4, 4), 4, True)
    cases = [
        (lambda x: (ops.dropout(ops.relu(x @ w0), 0.4) @ w).sum(), [w, w0]),  # relu: a mask
        (lambda x: (lambda d: (d @ w).sum() + d.sum())(ops.dropout(x, 0.4)), [w]),  # read twice
        (lambda x: (w.T @ ops.dropout(x, 0.4).T).sum(), [w]),  # the right operand
    ]
    for fn, wrt in cases:
        _, after = check(fn, passes.recompute_dropout, t((5, 4), 2), wrt)
        assert after.count(op="Dropout") == 1 and "recompute: 0" in after.notes[-1]


def test_select_rows_matches_dense_rows():
    adj = adjacency()
    idx = np.array([4, 0, 4, 11])
    np.testing.assert_array_equal(passes.rows.select_rows(adj, idx).to_dense().numpy(),
                                  adj.to_dense().numpy()[idx])


def test_optimize_runs_every_pass_and_builds_the_backward_graph():
    conv = GCNConv(4, 3).to("float64")
    adj = adjacency()
    opt = sg.optim.SGD(conv.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = ops.relu(conv(x, adj)).sum()
        loss.backward()
        opt.step()
        return loss

    graph = static.optimize(static.trace(step, t((12, 4), 2)))
    assert graph.count(kind="backward") > 0 and graph.count(kind="accumulate") == 2
    assert graph.count(op="SpMMBiasAct") == 1
    assert [n.kind for n in graph.nodes if n.kind == "effect"] == ["effect", "effect"]
    assert len(graph.notes) >= len(passes.DEFAULT_PASSES)
