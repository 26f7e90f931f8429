"""An edge_index on another device than the layer's features (gnn/inputs.py, on emulated CuPy):
host data (a numpy array, a list) is moved to the features' device, as host per-edge values
are; an edge_index Tensor or GPU array elsewhere is refused naming the layer, `edge_index` and
both devices; a GPU per-edge tensor for a host adjacency is not told to move to the host only."""

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import gnn
from sparsegraph.gnn.inputs import as_adjacency, edge_tensor, weighted_adjacency
from tests.cupy_emulation import DeviceArray, host

EDGES = np.array([[0, 1, 2, 3, 1], [1, 2, 3, 0, 3]])


def _x(device):
    return sg.tensor(np.random.default_rng(0).standard_normal((4, 3))).to(device)


class EdgeConvLike(gnn.MessagePassing):  # a PyG-style layer with its own message
    def forward(self, x, edge_index):
        return self.propagate(edge_index, x=x)

    def message(self, x_i, x_j):
        return x_j * 2.0 - x_i


# every layer: each passes the features' device when it builds its adjacency
LAYERS = {"SAGEConv mean": lambda: gnn.SAGEConv(3, 2),
          "SAGEConv max": lambda: gnn.SAGEConv(3, 2, aggr="max"),
          "GINConv": lambda: gnn.GINConv(sg.nn.Linear(3, 2)),
          "GCNConv": lambda: gnn.GCNConv(3, 2),
          "SGConv": lambda: gnn.SGConv(3, 2, K=2),
          "APPNP": lambda: gnn.APPNP(K=2, alpha=0.1),
          "ChebConv": lambda: gnn.ChebConv(3, 2, K=2),
          "GATConv": lambda: gnn.GATConv(3, 2, heads=2),
          "GraphConv": lambda: gnn.GraphConv(3, 2),
          "EdgeConvLike (a custom MessagePassing)": EdgeConvLike}


@pytest.mark.parametrize("given", ["numpy", "list"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_a_host_edge_index_is_moved_to_the_features_device(name, given, emulated_cuda):
    sg.manual_seed(0)
    layer = LAYERS[name]().to("float64")
    want = host(layer(_x("cpu"), sg.tensor(EDGES)))
    layer = layer.to("cuda")
    ei = EDGES if given == "numpy" else EDGES.tolist()
    got = layer(_x("cuda"), ei)
    assert isinstance(got.array, DeviceArray)
    np.testing.assert_allclose(host(got), want, rtol=1e-12)


def test_the_adjacency_builders_place_a_host_edge_index_on_the_given_device(emulated_cuda):
    adj = as_adjacency(EDGES, 4, op="X", device="cuda:0")
    assert adj.device == "cuda:0" and isinstance(adj.structure.indptr, DeviceArray)
    want = as_adjacency(EDGES, 4, op="X").to_dense().numpy()
    np.testing.assert_array_equal(host(adj.to_dense()), want)
    w = np.arange(1.0, 6.0)
    adj = weighted_adjacency(EDGES, 4, w, op="X", dtype=np.float64, device="cuda:0")
    assert adj.device == "cuda:0"
    np.testing.assert_array_equal(
        host(adj.to_dense()),
        weighted_adjacency(EDGES, 4, w, op="X", dtype=np.float64).to_dense().numpy())
    assert as_adjacency(EDGES, 4, op="X").device == "cpu"  # no device given: where it is


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_an_edge_index_tensor_on_another_device_is_refused_naming_both(name, emulated_cuda):
    layer = LAYERS[name]().to("float64").to("cuda")
    short = name.split()[0]
    with pytest.raises(ValueError, match=rf"^{short}: expected `edge_index` on cuda:0, the "
                       r"device of `x` \(got cpu\); move it with \.to\('cuda:0'\)"):
        layer(_x("cuda"), sg.tensor(EDGES))
    layer = LAYERS[name]().to("float64")
    for ei in (sg.tensor(EDGES).to("cuda"), sg.tensor(EDGES).to("cuda").array):
        with pytest.raises(ValueError, match=rf"^{short}: expected `edge_index` on cpu, the "
                           r"device of `x` \(got cuda:0\)"):
            layer(_x("cpu"), ei)


def test_a_pair_names_x_src(emulated_cuda):
    with pytest.raises(ValueError, match=r"^SAGEConv: expected `edge_index` on cuda:0, the "
                       r"device of `x_src` \(got cpu\)"):
        gnn.SAGEConv((3, 3), 2).to("float64").to("cuda")((_x("cuda"), _x("cuda")),
                                                         sg.tensor(EDGES))


def test_a_gpu_edge_attr_for_a_host_adjacency_is_not_told_to_move_to_the_host(emulated_cuda):
    """The adjacency is the misplaced one when the features and edge_attr are on the GPU."""
    layer = gnn.GATConv(3, 2, edge_dim=2).to("float64").to("cuda")
    adj = sg.from_edge_index(sg.tensor(EDGES), 4, dtype="float64")  # left on the host
    attr = sg.ones((5, 2), dtype="float64").to("cuda")
    with pytest.raises(ValueError, match=r"^GATConv: expected `edge_attr` on cpu, the device of "
                       r"`adj` \(got cuda:0\); move `adj` \(an edge_index or graph\) to cuda:0 "
                       r"with the features, or `edge_attr` with \.to\('cpu'\)$"):
        layer(_x("cuda"), adj, attr)
    with pytest.raises(ValueError, match=r"^X: expected `w` on cuda:0, the device of `adj` "
                       r"\(got cpu\); move it with \.to\('cuda:0'\)$"):
        edge_tensor(sg.ones(5), "cuda:0", op="X", name="w")  # a host Tensor: move it
