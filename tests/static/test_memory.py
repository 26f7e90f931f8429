"""The static runtime's memory optimisations against eager mode: in-place backward over dead
gradients, recomputed input dropout - the same numbers, a lower peak, and never a buffer that
another Value still holds."""

import tracemalloc

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import static
from sparsegraph.gnn import GCNConv, models
from sparsegraph.ops import buffers, fused
from sparsegraph.testing import random_graph

try:
    from sparsegraph.ops.sparse_kernels import numba_fused
except ImportError:  # numba missing: the generic kernels never work in place
    numba_fused = None

N, E, F, C = 8000, 110000, 128, 40  # the arxiv preset's degree, features, classes


def dense_feature_graph():
    rng = np.random.default_rng(0)
    x = sg.tensor(rng.standard_normal((N, F)).astype("float32"))
    adj = sg.ops.gcn_norm(sg.from_edge_index(random_graph(N, E, seed=0), N))
    return x, adj, sg.tensor(rng.integers(0, C, N))


def step_peak(model_name: str, compiled: bool):
    """(bytes numpy held at most during one step above what it held before, the loss)."""
    x, adj, y = dense_feature_graph()
    sg.manual_seed(0)
    model = {"gcn": lambda: models.GCN(F, F, 3, C, dropout=0.5),
             "gat": lambda: models.GAT(F, 8, 2, C, dropout=0.6, heads=8)}[model_name]()
    opt = sg.optim.Adam(model.parameters(), lr=0.01)
    train = np.arange(0, N, 10)  # the loss on a tenth of the nodes, as on arxiv

    def step():
        opt.zero_grad()
        loss = sg.ops.cross_entropy(model(x, adj)[train], y[train])
        loss.backward()
        opt.step()
        return loss

    fn = static.compile(step) if compiled else step
    fn()
    fn()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        loss = fn()
        return tracemalloc.get_traced_memory()[1] - base, float(loss.item())
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("model", ["gcn", "gat"])
def test_static_step_peaks_at_least_30_percent_below_eager(model, monkeypatch):
    # a graph ~20x smaller than the arxiv preset: the sizes from which kernels work blockwise
    # or in place shrink with it
    monkeypatch.setattr(buffers, "BLOCK", buffers.BLOCK // 16)
    if numba_fused is not None:
        monkeypatch.setattr(numba_fused, "IN_PLACE_MIN_BYTES", numba_fused.IN_PLACE_MIN_BYTES // 16)
    (eager, eager_loss), (static_, static_loss) = step_peak(model, False), step_peak(model, True)
    assert static_loss == pytest.approx(eager_loss, rel=1e-6)
    assert static_ <= 0.7 * eager, f"static step peak {static_} vs eager {eager} bytes"


def test_backward_overwrites_a_dead_gradient_but_never_a_shared_one(monkeypatch):
    """Two fused spmm + ReLU nodes whose outputs are added: Add's backward hands both the same
    gradient array, so the first to run may not mask it in place (the second may: by then it
    is the only holder). In a plain chain every such gradient is dead after its reader."""
    x, adj, _ = dense_feature_graph()
    seen = []
    real = fused._relu_grad
    monkeypatch.setattr(fused, "_relu_grad",
                        lambda g, y, out=None: (seen.append(out is g), real(g, y, out))[1])

    def run(shared: bool, compiled: bool):
        sg.manual_seed(0)
        convs = [GCNConv(F, 16), GCNConv(F if shared else 16, 16)]
        params = [p for c in convs for p in c.parameters()]
        opt = sg.optim.SGD(params, lr=0.1)
        weight = sg.tensor(np.linspace(-1, 1, 16).astype("float32"))

        def step():
            opt.zero_grad()
            h = sg.ops.relu(convs[0](x, adj))
            h = h + sg.ops.relu(convs[1](x, adj)) if shared else sg.ops.relu(convs[1](h, adj))
            loss = (h * weight).mean()  # small steps: the two ReLU masks stay different
            loss.backward()
            opt.step()
            return loss

        fn = static.compile(step) if compiled else step
        losses = [float(fn().item()) for _ in range(4)]
        return losses, [p.detach().numpy().copy() for p in params]

    for shared in (True, False):
        eager = run(shared, compiled=False)
        seen.clear()
        compiled = run(shared, compiled=True)
        np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-5)
        for a, b in zip(compiled[1], eager[1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert seen == ([False, True] if shared else [True, True]) * 3  # 3 static steps
