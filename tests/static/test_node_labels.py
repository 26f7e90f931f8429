"""What a graph listing shows (audit "static", F4, F5): each node's own kernels only (not the
eager backward's or an optimizer step's), and parameters named by their module path."""

import numpy as np

import sparsegraph as sg
import sparsegraph.nn.functional as F
from sparsegraph import nn, static
from sparsegraph.gnn import GCNConv


def test_a_node_after_backward_and_step_lists_only_its_own_kernels():
    sg.manual_seed(0)
    m, x, y = nn.Linear(3, 2), sg.randn(4, 3), sg.tensor([0, 1, 1, 0])
    opt = sg.optim.SGD(m.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        out = m(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        return (out.argmax(1) == y).float().mean()  # after the backward and the update

    g = static.trace(step)
    after = g.nodes[[n.kind for n in g.nodes].index("backward_root") + 1:]
    argmax = next(n for n in after if n.op == "ArgExtremum")
    assert [k.split(":")[0] for k in argmax.attrs["kernel"].split(", ")] == ["argmax"]
    for node in after:
        assert "backward" not in node.attrs.get("kernel", ""), (node.op, node.attrs["kernel"])


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = GCNConv(4, 8), GCNConv(8, 2)

    def forward(self, x, ei):
        return self.conv2(self.conv1(x, ei).relu(), ei)


def test_parameters_are_named_by_their_module_path():
    sg.manual_seed(0)
    model, x, ei = TwoLayers(), sg.randn(5, 4), sg.tensor([[0, 1, 2], [1, 2, 3]])
    g = static.trace(lambda x: model(x, ei).sum(), x)
    names = sorted(v.name for v in g.params())
    assert names == sorted(n for n, _ in model.named_parameters())
    assert "param  conv1.lin.weight: float32[8, 4]" in str(g)
    assert 'label="param conv2.bias' in static.optimize(g).to_dot()
    # read before its module is called: named when the module is
    g = static.trace(lambda x: model.conv1.bias.sum() + model(x, ei).sum(), x)
    assert "conv1.bias" in {v.name for v in g.params()}


def test_dynamic_graph_names_leaves_after_a_module():
    sg.manual_seed(0)
    m, x = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), sg.randn(5, 3)
    leaves = {label.split("\n")[0] for _, label, kind in
              static.dynamic_graph(m(x).sum(), m).nodes if kind == "leaf"}
    assert leaves == {"0.weight", "0.bias", "1.weight", "1.bias"}
    named = static.dynamic_graph(m(x).sum(), {"w": m[0].weight}).nodes
    assert {label.split("\n")[0] for _, label, kind in named if kind == "leaf"} == {"w", "leaf"}
    np.testing.assert_equal(len(named), len(static.dynamic_graph(m(x).sum()).nodes))
