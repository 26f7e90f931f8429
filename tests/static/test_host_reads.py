"""Values Python reads on the host while tracing (audit "static", F1, F3, F6): an edge_index
built into a CSR structure, a batch vector, an inferred size, negative samples and grad mode
are guarded (another value traces again), recorded (drawn anew) or refused, never frozen."""

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import ops, static
from sparsegraph.gnn import (
    ChebConv,
    GCNConv,
    MessagePassing,
    global_mean_pool,
    negative_sampling,
)
from sparsegraph.static import CaptureError

N = 5
EI1 = [[0, 1, 2, 3], [1, 2, 3, 4]]
EI2 = [[4, 3, 2, 1], [0, 0, 0, 0]]


def dense_gcn(conv, x, edge_index):
    """GCNConv by its formula in numpy: D^-1/2 (A + I) D^-1/2 X W^T + b, A[dst, src] = 1."""
    ei = np.asarray(edge_index)
    a = np.eye(N)
    np.add.at(a, (ei[1], ei[0]), 1.0)
    d = a.sum(axis=1) ** -0.5
    h = x.numpy().astype(np.float64) @ conv.lin.weight.detach().numpy().T
    return (d[:, None] * a * d[None, :]) @ h + conv.bias.detach().numpy()


@pytest.fixture
def conv_and_x():
    sg.manual_seed(0)
    return GCNConv(4, 2), sg.randn(N, 4)


# ---- F1: an index input's values build a structure: another value traces again --------------
def test_edge_index_input_with_other_values_traces_again(conv_and_x):
    conv, x = conv_and_x
    f = static.compile(lambda x, ei: conv(x, ei))
    ei1, ei2 = sg.tensor(EI1), sg.tensor(EI2)
    with sg.no_grad():
        f(x, ei1)
        np.testing.assert_allclose(f(x, ei2).numpy(), dense_gcn(conv, x, EI2), rtol=1e-5,
                                   atol=1e-6)
        assert f.traces == 2
        # equal values in a new tensor, and the very tensor again: the traced variants hold
        np.testing.assert_allclose(f(x, sg.tensor(EI1)).numpy(), dense_gcn(conv, x, EI1),
                                   rtol=1e-5, atol=1e-6)
        f(x, ei2)
        assert f.traces == 2
        ei1.copy_(sg.tensor(EI2))  # the traced tensor itself, changed in place
        np.testing.assert_allclose(f(x, ei1).numpy(), dense_gcn(conv, x, EI2), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("kind", ["tensor", "numpy"])
def test_closure_edge_index_changed_in_place_traces_again(conv_and_x, kind):
    conv, x = conv_and_x
    ei = sg.tensor(EI1) if kind == "tensor" else np.array(EI1)
    f = static.compile(lambda: conv(x, ei))
    with sg.no_grad():
        f()
        if kind == "tensor":
            ei.copy_(sg.tensor(EI2))
        else:
            ei[...] = EI2
        np.testing.assert_allclose(f().numpy(), dense_gcn(conv, x, EI2), rtol=1e-5, atol=1e-6)
    assert f.traces == 2


def test_flipped_edge_index_of_a_target_to_source_layer_is_guarded():
    class Flow(MessagePassing):  # reads a reversed view of the edge_index's array
        def __init__(self):
            super().__init__(aggr="sum", flow="target_to_source")

        def forward(self, x, ei):
            return self.propagate(ei, x=x)

    layer, x = Flow(), sg.randn(N, 3)
    f = static.compile(lambda x, ei: layer(x, ei))

    def reference(edges):  # target_to_source: node i sums x[j] over its edges (i, j)
        src, dst = np.asarray(edges)
        out = np.zeros((N, 3), np.float32)
        np.add.at(out, src, x.numpy()[dst])
        return out

    with sg.no_grad():
        f(x, sg.tensor(EI1))
        np.testing.assert_allclose(f(x, sg.tensor(EI2)).numpy(), reference(EI2), rtol=1e-6)
    assert f.traces == 2


def test_pool_batch_and_inferred_one_hot_classes_are_guarded():
    x = sg.randn(N, 3)
    pool = static.compile(lambda x, b: global_mean_pool(x, b, size=2))
    hot = static.compile(lambda y: F.one_hot(y))
    with sg.no_grad():
        pool(x, sg.tensor([0, 0, 0, 1, 1]))
        b = np.array([0, 1, 1, 1, 1])
        want = np.stack([x.numpy()[b == g].mean(axis=0) for g in (0, 1)])
        np.testing.assert_allclose(pool(x, sg.tensor(b)).numpy(), want, rtol=1e-6)
        hot(sg.tensor([0, 1, 1]))
        np.testing.assert_array_equal(hot(sg.tensor([2, 0, 3])).numpy(), np.eye(4)[[2, 0, 3]])
    assert pool.traces == 2 and hot.traces == 2


def test_one_hot_with_num_classes_is_an_op_run_on_every_call():
    f = static.compile(lambda y: F.one_hot(y, 3))
    f(sg.tensor([0, 1, 2]))
    np.testing.assert_array_equal(f(sg.tensor([2, 2, 0])).numpy(), np.eye(3)[[2, 2, 0]])
    assert f.traces == 1  # its values shape nothing: the op reads them on each replay
    with pytest.raises(ValueError, match=r"one_hot: expected class indices in \[0, 3\)"):
        f(sg.tensor([0, 3, 1]))


def test_an_edge_index_computed_in_the_step_is_refused_naming_the_op(conv_and_x):
    conv, x = conv_and_x
    with pytest.raises(CaptureError, match=r"GCNConv: the CSR adjacency built from "
                       r"`edge_index` reads on the host .* computed in the step \(the output "
                       r"of GetItem\).* pass it as an argument"):
        static.trace(lambda x, ei: conv(x, ei[[1, 0]]), x, sg.tensor(EI1))
    closure = sg.tensor(EI1)  # computed from constants only: its values are known now
    static.trace(lambda x: conv(x, closure[[1, 0]]), x)


def test_a_closure_edge_index_the_step_changes_after_reading_it_is_refused(conv_and_x):
    conv, x = conv_and_x
    ei = sg.tensor(EI1)

    def step(x):
        out = conv(x, ei)
        ei.mul_(1)  # an op the graph replays: the next call's CSR would be built from new values
        return out

    with sg.no_grad(), pytest.raises(CaptureError, match=r"GCNConv: the CSR adjacency built "
                                     r"from `edge_index` read .* then the step changed it"):
        static.trace(step, x)


def test_an_inferred_scatter_size_of_a_computed_index_is_refused():
    x, index = sg.randn(4, 2), sg.tensor([0, 1, 1, 2])
    with pytest.raises(CaptureError, match=r"scatter: `dim_size` inferred as max\(index\) "
                       r"\+ 1 .* \(the output of Add\).* Pass `dim_size`"):
        static.trace(lambda x, i: ops.scatter(x, i + 1), x, index)
    g = static.trace(lambda x, i: ops.scatter(x, i + 1, 4), x, index)  # given: nothing read
    assert not g.reads


def test_a_traced_graph_refuses_other_values_of_an_input_it_read(conv_and_x):
    conv, x = conv_and_x
    with sg.no_grad():
        g = static.trace(lambda x, ei: conv(x, ei), x, sg.tensor(EI1))
        g(x, sg.tensor(EI1))
        with pytest.raises(ValueError, match=r"input 1 holds other values .* \(GCNConv: the "
                           r"CSR adjacency built from `edge_index`\).* trace again"):
            g(x, sg.tensor(EI2))


@pytest.mark.parametrize("build", ["sparse_coo", "from_edge_index"])
def test_a_sparse_tensor_built_from_an_edge_index_input_is_guarded(build):
    x = sg.randn(N, 3)
    f = static.compile({  # entry (row 0, row 1) / target-major (row 1, row 0)
        "sparse_coo": lambda x, ei: sg.sparse_coo(ei, shape=(N, N)) @ x,
        "from_edge_index": lambda x, ei: sg.from_edge_index(ei, N) @ x}[build])
    with sg.no_grad():
        f(x, sg.tensor(EI1))
        rows, cols = np.asarray(EI2) if build == "sparse_coo" else np.asarray(EI2)[::-1]
        a = np.zeros((N, N), np.float32)
        np.add.at(a, (rows, cols), 1.0)
        np.testing.assert_allclose(f(x, sg.tensor(EI2)).numpy(), a @ x.numpy(), rtol=1e-6)
    assert f.traces == 2


def test_sparse_csr_of_index_inputs_is_guarded():
    x = sg.randn(4, 3)
    f = static.compile(lambda x, ip, ind: sg.sparse_csr(ip, ind, shape=(3, 4)) @ x)
    with sg.no_grad():
        f(x, sg.tensor([0, 1, 2, 3]), sg.tensor([0, 1, 2]))
        got = f(x, sg.tensor([0, 0, 1, 3]), sg.tensor([3, 0, 1])).numpy()
    want = np.stack([np.zeros(3), x.numpy()[3], x.numpy()[0] + x.numpy()[1]])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert f.traces == 2


def test_cheb_lambda_max_input_is_guarded():
    sg.manual_seed(0)
    conv, x, ei = ChebConv(3, 2, K=2), sg.randn(N, 3), sg.tensor(EI1)
    f = static.compile(lambda x, lam: conv(x, ei, lambda_max=lam))
    with sg.no_grad():
        f(x, sg.tensor([2.0]))
        got = f(x, sg.tensor([1.5])).numpy()
        np.testing.assert_allclose(got, conv(x, ei, lambda_max=sg.tensor([1.5])).numpy(),
                                   rtol=1e-6)  # eager: the Laplacian scaled by 2 / 1.5
    assert f.traces == 2


# ---- F3: negative samples are drawn anew on every call, as in eager mode ----------------------
def test_negative_sampling_in_a_compiled_step_draws_anew_like_eager():
    ei, z = sg.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]), sg.randn(6, 3)

    def step():
        neg = negative_sampling(ei, num_nodes=6, num_neg_samples=4)
        return (z[neg[0]] * z[neg[1]]).sum(dim=1), neg  # a Tensor, as ei is

    sg.manual_seed(0)
    eager = [step() for _ in range(3)] + [sg.randn(2)]
    sg.manual_seed(0)
    f = static.compile(step)
    fast = [f() for _ in range(3)] + [sg.randn(2)]
    for (score, neg), (want_score, want_neg) in zip(fast[:3], eager[:3], strict=True):
        np.testing.assert_array_equal(neg.numpy(), want_neg)
        np.testing.assert_allclose(score.numpy(), want_score.numpy(), rtol=1e-6)
    assert len({n.numpy().tobytes() for _, n in fast[:3]}) > 1  # not the trace's pairs again
    np.testing.assert_array_equal(fast[3].numpy(), eager[3].numpy())  # the generator moved
    assert f.traces == 1 and f.graph.count(op="negative_sampling") == 1


# ---- F6: grad mode is part of the guard -------------------------------------------------------
def test_a_training_step_called_under_no_grad_raises_as_eager():
    sg.manual_seed(0)
    m, x = sg.nn.Linear(3, 1), sg.randn(4, 3)
    opt = sg.optim.SGD(m.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        loss = m(x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    f = static.compile(step)
    f()
    before = m.weight.detach().numpy().copy()
    with sg.no_grad(), pytest.raises(RuntimeError, match="does not require grad"):
        f()
    np.testing.assert_array_equal(m.weight.detach().numpy(), before)
    f()  # grad mode back on: the traced variant replays (the refused trace kept nothing)
    assert f.traces == 1 and (m.weight.detach().numpy() != before).any()
