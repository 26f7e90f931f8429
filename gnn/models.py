"""Ready-made models: the papers' architectures and sizes, PyG's arguments and dropout default.

Node classification models take ``(x, adj)`` and return logits ``(N, C)``; `GIN` takes
``(x, adj, batch)`` and returns graph logits ``(G, C)``. ``x`` may be dense or sparse CSR (Cora's
bag-of-words features stay sparse: the first layer's ``x @ W`` runs as spmm and input dropout
acts on the stored values).

`GCN`, `GAT`, `GraphSAGE`, `GIN` and `MLP` take PyG's positional order and meaning
(``torch_geometric.nn.models``): ``(in_channels, hidden_channels, num_layers,
out_channels=None, dropout, ...)``, ``num_layers`` counting the message-passing layers (the
Linear layers of an MLP), and ``out_channels=None`` giving ``hidden_channels`` outputs; so
PyG's ``GCN(1433, 16, 2, 7)`` is 2 layers with 7 outputs here too. Their other options are
keywords. `APPNP`, which PyG has as a layer only, takes the same order (``num_layers``: its
MLP's Linear layers), with the propagation's ``K`` and ``alpha`` as keywords.

Dropout, where it differs from PyG's ``BasicGNN`` / ``MLP``: the default is PyG's, 0.0 (the
papers' rates are passed explicitly: ``sparsegraph train`` passes 0.5, GAT's 0.6). A nonzero
``dropout`` acts, as in the papers, on every layer's input: between layers that is where
PyG applies it (after the activation), but here the input features are dropped too (on
sparse features, their stored values), which PyG leaves intact; neither drops the last
layer's output. So with ``dropout > 0`` the same weights give the same outputs in eval mode
but train differently. `GAT` also drops attention weights (GATConv's ``dropout``, as PyG's
GAT) and `GIN` drops each readout's logits (the paper's graph classifier; PyG's ``GIN`` is a
node-level model). PyG's ``act`` / ``norm`` options are not taken, except `MLP`'s ``norm``.

`GCN`, `GAT` and `GraphSAGE` take PyG ``BasicGNN``'s ``jk`` (keyword): None, or ``"cat"`` /
``"max"`` / ``"lstm"`` (a `JumpingKnowledge` over every layer's output) or ``"last"`` (the
last layer's output alone). With ``jk`` set, as in PyG, every layer (the last included) keeps
the hidden width and is followed by the activation and dropout, and a final ``lin``
(``Linear``) maps the combined features to ``out_channels``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.creation import zeros
from sparsegraph.gnn.appnp import APPNP as APPNPProp
from sparsegraph.gnn.gat import GATConv
from sparsegraph.gnn.gatv2 import GATv2Conv
from sparsegraph.gnn.gcn import GCNConv, SGConv
from sparsegraph.gnn.gin import GINConv
from sparsegraph.gnn.jumping_knowledge import JumpingKnowledge
from sparsegraph.gnn.pool import global_add_pool, global_mean_pool
from sparsegraph.gnn.sage import SAGEConv
from sparsegraph.gnn.utils import (
    check_channels,
    check_int,
    check_probability,
    reset_submodules,
)
from sparsegraph.nn import BatchNorm1d, Linear, Module, ModuleList, ReLU, Sequential
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import wrap


def feature_dropout(x, p: float, training: bool):
    """Dropout on dense features, or on the stored values of sparse features."""
    if p == 0.0 or not training:
        return x
    if isinstance(x, SparseTensor):
        return ops.sparse_dropout(x, p, training)
    return ops.dropout(x, p, training)


def layer_sizes(op: str, in_channels: int, hidden_channels: int, out_channels: int | None,
                num_layers) -> list[int]:
    """Feature sizes of a ``num_layers`` stack: in, hidden x (num_layers - 1), out (None:
    hidden, as PyG); each checked here so a bad size is named by the model, not by a layer
    or Linear inside it."""
    if isinstance(num_layers, bool) or not isinstance(num_layers, Integral) or num_layers < 1:
        raise ValueError(f"{op}: expected `num_layers` to be an int >= 1 (got {num_layers!r})")
    in_channels = check_channels(op, "in_channels", in_channels)
    hidden_channels = check_channels(op, "hidden_channels", hidden_channels)
    out_channels = check_channels(op, "out_channels", (
        hidden_channels if out_channels is None else out_channels))
    return [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]


JK_MODES = (None, "cat", "max", "last", "lstm")


def check_jk(op: str, jk) -> None:
    if not any(jk is m or (isinstance(jk, str) and jk == m) for m in JK_MODES):
        raise ValueError(f"{op}: expected `jk` None, 'cat', 'max', 'last' or 'lstm' (got "
                         f"{jk!r})")


class Model(Module):
    """Base of the ready-made models: PyG's ``reset_parameters()`` over every layer."""

    jk_mode = None

    def reset_parameters(self) -> None:
        # every layer re-draws its parameters from the global generator, so after
        # manual_seed(s) the model's initial weights depend on s alone
        reset_submodules(self)

    def _add_jk(self, jk: str | None, width: int, num_layers: int, out_channels: int) -> None:
        """PyG BasicGNN's ``jk`` head: ``self.jk`` (a `JumpingKnowledge` over ``num_layers``
        outputs of ``width`` features; not for ``"last"``) and ``self.lin`` to
        ``out_channels``; nothing for ``jk=None`` (the state_dict keeps its keys)."""
        self.jk_mode = jk
        if jk is None:
            return
        if jk != "last":
            self.jk = JumpingKnowledge(jk, width, num_layers)
        self.lin = Linear(width * num_layers if jk == "cat" else width, out_channels)

    def _stack(self, x, adj, act, blocks=None, **edge_args):
        """Run ``self.convs``: dropout on the input, then after each layer (but the last
        unless ``jk``) ``act`` and dropout; then the ``jk`` head. ``blocks``: one adjacency
        per layer (GraphSAGE's mini-batch), else ``adj`` for every layer, with ``edge_args``
        (PyG's edge_weight / edge_attr, those given) passed to each."""
        x, xs, last = feature_dropout(x, self.dropout, self.training), [], len(self.convs) - 1
        edge_args = {k: v for k, v in edge_args.items() if v is not None}
        for i, conv in enumerate(self.convs):
            x = (conv(x, adj, **edge_args) if blocks is None
                 else self._block_conv(conv, x, blocks[i]))
            if i < last or self.jk_mode is not None:
                x = feature_dropout(act(x), self.dropout, self.training)
                xs.append(x)
        return self._jk_readout(xs, x)

    def _jk_readout(self, xs: list, x):
        """``lin(jk(xs))`` (``lin(x)`` for ``"last"``), or ``x`` without ``jk``; layers of
        a mini-batch are cut to the last one's rows (the targets come first in each)."""
        if self.jk_mode is None:
            return x
        if self.jk_mode == "last":
            return self.lin(x)
        return self.lin(self.jk([h[:x.shape[0]] for h in xs]))


def _channel_list(channel_list, *others) -> list[int]:
    """PyG MLP's ``channel_list``: at least two sizes >= 1, alone (no other sizes given)."""
    sizes = list(channel_list)
    if len(sizes) < 2 or not all(isinstance(c, int | np.integer) and not isinstance(c, bool)
                                 and c >= 1 for c in sizes):
        raise ValueError(f"MLP: expected `channel_list` of at least two sizes >= 1, e.g. "
                         f"[16, 32, 7] (got {channel_list!r})")
    if any(o is not None for o in others):
        raise TypeError("MLP: pass either `channel_list` or in_channels / hidden_channels / "
                        "out_channels, not both")
    return [int(c) for c in sizes]


class MLP(Model):
    """A multi-layer perceptron baseline that ignores the graph: Linear-BatchNorm-ReLU blocks
    and a plain last Linear, as PyG's ``MLP`` (``plain_last=True``, ``act_first=False``).

    Args:
        in_channels, hidden_channels: input and hidden sizes.
        num_layers: Linear layers. (default: 2)
        out_channels: output size (None: ``hidden_channels``, as PyG's).
        dropout: on every Linear's input, the input features included (PyG: on each hidden
            block's output only; see the module docstring). (default: 0.0, as PyG's)
        norm: ``"batch_norm"`` (a `BatchNorm1d` after each hidden Linear, before its ReLU)
            or None (no normalization), keyword. (default: "batch_norm", as PyG's)

    PyG's keyword form ``MLP(in_channels=16, hidden_channels=32, out_channels=7,
    num_layers=3)`` builds PyG's network here too, and so does its ``channel_list`` form,
    ``MLP([16, 32, 7])`` or ``MLP(channel_list=[...])`` (every size given, the hidden ones may
    differ); its other options (``act``, ``plain_last``, ...) are not taken.
    ``sparsegraph train --model mlp`` runs the Linear-ReLU baseline (``norm=None``,
    ``dropout=0.5``).
    """

    def __init__(self, in_channels=None, hidden_channels: int | None = None,
                 num_layers: int = 2, out_channels: int | None = None, dropout: float = 0.0, *,
                 norm: str | None = "batch_norm", channel_list=None):
        super().__init__()
        if isinstance(in_channels, list | tuple):  # PyG's positional channel_list
            in_channels, channel_list = None, in_channels
        if channel_list is not None:
            sizes = _channel_list(channel_list, in_channels, hidden_channels, out_channels)
        else:
            if in_channels is None or hidden_channels is None:
                raise TypeError("MLP: expected `in_channels` and `hidden_channels`, or a "
                                "`channel_list` such as [16, 32, 7] (got neither)")
            sizes = layer_sizes("MLP", in_channels, hidden_channels, out_channels, num_layers)
        check_probability("MLP", "dropout", dropout)
        if norm is not None and not (isinstance(norm, str) and norm == "batch_norm"):
            raise ValueError(f"MLP: expected `norm` to be 'batch_norm' or None (got {norm!r})")
        self.lins = ModuleList([Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        # PyG's names: the state_dict keys are lins.i.* and norms.i.*
        self.norms = ModuleList([BatchNorm1d(b) for b in sizes[1:-1]] if norm else [])
        self.dropout = dropout

    def forward(self, x, adj=None):
        for i, lin in enumerate(self.lins):
            x = lin(feature_dropout(x, self.dropout, self.training))
            if i < len(self.lins) - 1:
                if len(self.norms):
                    x = self.norms[i](x)
                x = ops.relu(x)
        return x


class GCN(Model):
    """Kipf & Welling (ICLR 2017): a GCNConv-ReLU stack (paper: 2 layers x 16, dropout=0.5).

    Args:
        in_channels, hidden_channels: input and hidden sizes. (hidden default: 16)
        num_layers: GCNConv layers. (default: 2)
        out_channels: output size (None: ``hidden_channels``, as PyG's).
        dropout: on every layer's input, the input features included (PyG: between layers
            only; see the module docstring). (default: 0.0, as PyG's; the paper's is 0.5)
        jk: PyG's jumping knowledge (keyword; see the module docstring). (default: None)
        **kwargs: passed to every GCNConv, as PyG's BasicGNN does (``improved``,
            ``add_self_loops``, ``normalize``, ``bias``, ...).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 16, num_layers: int = 2,
                 out_channels: int | None = None, dropout: float = 0.0, *,
                 jk: str | None = None, **kwargs):
        super().__init__()
        sizes = layer_sizes("GCN", in_channels, hidden_channels, out_channels, num_layers)
        check_probability("GCN", "dropout", dropout)
        check_jk("GCN", jk)
        convs = sizes[:-1] + [sizes[1] if jk else sizes[-1]]  # jk: the last keeps hidden
        self.convs = ModuleList([GCNConv(a, b, **kwargs) for a, b in zip(convs[:-1], convs[1:],
                                                                           strict=True)])
        self.dropout = dropout
        self._add_jk(jk, sizes[1], num_layers, sizes[-1])

    def forward(self, x, adj, edge_weight=None):
        """``adj``: a Graph, SparseTensor or edge_index; ``edge_weight``: (E,) weights of an
        edge_index (PyG's)."""
        return self._stack(x, adj, ops.relu, edge_weight=edge_weight)


class GAT(Model):
    """Veličković et al. (ICLR 2018): 8 heads x 8 hidden, ELU, 1 output head (dropout=0.6).

    ``num_layers`` GATConv layers: ``num_layers - 1`` hidden ones (``heads`` heads of
    ``hidden_channels``, concatenated, then ELU: the paper's, where PyG's ``models.GAT``
    defaults to ReLU), then an output GATConv with ``out_heads`` heads averaged (PyG's
    examples/gat.py: dropout on every layer's input and on the attention weights).

    Args:
        in_channels: input size.
        hidden_channels: size of each head of the hidden layers (the paper's 8): the hidden
            width is ``heads * hidden_channels``. (PyG's ``models.GAT`` splits its
            ``hidden_channels`` over the heads instead: its hidden layers with ``64, heads=8``
            are ``8, heads=8`` here; its output layer averages ``heads`` heads, this one's
            ``out_heads``.)
        num_layers: GATConv layers. (default: 2)
        out_channels: output size (None: ``hidden_channels``).
        dropout: on every layer's input, the input features included (PyG: between layers
            only), and on the attention weights of every layer (as PyG's). (default: 0.0, as
            PyG's; the paper's is 0.6)
        heads, out_heads: heads of the hidden and output layers (keywords). (default: 8, 1)
        v2: GATv2Conv layers (Brody et al., ICLR 2022) instead of GATConv, as PyG's
            ``GAT(v2=True)`` (keyword). (default: False)
        jk: PyG's jumping knowledge (keyword; see the module docstring): every layer is a
            hidden one (``heads`` heads, concatenated), the output GATConv is replaced by
            ``lin``. (default: None)
        **kwargs: passed to every GATConv / GATv2Conv, as PyG's BasicGNN does
            (``negative_slope``, ``add_self_loops``, ``edge_dim``, ``fill_value``, ``bias``,
            GATv2's ``share_weights``, ...).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 8, num_layers: int = 2,
                 out_channels: int | None = None, dropout: float = 0.0, *, heads: int = 8,
                 out_heads: int = 1, jk: str | None = None, v2: bool = False, **kwargs):
        super().__init__()
        if out_channels is None:  # PyG: the hidden size (here a head's)
            out_channels = check_channels("GAT", "hidden_channels", hidden_channels)
        # before the product hidden_channels * heads, whose error would name neither
        check_channels("GAT", "hidden_channels", hidden_channels)
        check_int("GAT", "heads", heads, 1)
        check_int("GAT", "out_heads", out_heads, 1)
        sizes = layer_sizes("GAT", in_channels, hidden_channels * heads, out_channels,
                            num_layers)
        check_probability("GAT", "dropout", dropout)
        check_jk("GAT", jk)
        if not isinstance(v2, bool | np.bool_):
            raise TypeError(f"GAT: expected a bool `v2` (got {type(v2).__name__} {v2!r})")
        conv = GATv2Conv if v2 else GATConv  # PyG's GAT(v2=True): Brody et al.'s attention
        self.convs = ModuleList([conv(a, hidden_channels, heads=heads, dropout=dropout,
                                      **kwargs)
                                 for a in (sizes[:-1] if jk else sizes[:-2])])
        if not jk:
            self.convs.append(conv(sizes[-2], out_channels, heads=out_heads, concat=False,
                                   dropout=dropout, **kwargs))
        self.dropout = dropout
        self._add_jk(jk, hidden_channels * heads, num_layers, out_channels)

    def forward(self, x, adj, edge_attr=None):
        """``adj``: a Graph, SparseTensor or edge_index; ``edge_attr``: (E, D) edge features
        for layers built with ``edge_dim`` (PyG's)."""
        return self._stack(x, adj, ops.elu, edge_attr=edge_attr)


class GraphSAGE(Model):
    """Hamilton et al. (NeurIPS 2017): a SAGEConv-ReLU stack with mean aggregation.

    ``forward(x, adj)`` runs on the full graph; ``forward(x, blocks)`` on a mini-batch from
    neighbour sampling (`sparsegraph.gnn.NeighborLoader`): ``blocks`` holds one bipartite
    ``(N_dst, N_src)`` block per layer, outermost first, and layer l maps the ``N_src`` rows of
    its input to its first ``N_dst`` rows (the target nodes). ``inference(x, adj)`` evaluates
    the full graph layer by layer in chunks of target nodes (no neighbour explosion).
    SAGEConv ignores the adjacency's values (PyG), so on a weighted graph all three give the
    unweighted mean (``aggr``) of the neighbours: the blocks' edge weights are not used.

    Args:
        in_channels, hidden_channels: input and hidden sizes. (hidden default: 64)
        num_layers: SAGEConv layers (one block each in a mini-batch). (default: 2)
        out_channels: output size (None: ``hidden_channels``, as PyG's).
        dropout: on every layer's input, the input features included (PyG: between layers
            only; see the module docstring). (default: 0.0, as PyG's; PyG's example and
            ``sparsegraph train`` use 0.5)
        aggr: SAGEConv's aggregation (keyword). (default: "mean")
        **kwargs: passed to every SAGEConv, as PyG's BasicGNN does (``normalize``,
            ``root_weight``, ``project``, ``bias``, ...).
        jk: PyG's jumping knowledge (keyword; see the module docstring); in a mini-batch each
            layer's output is cut to the target nodes. (default: None)

    Shapes:
        x: ``(N, F_in)`` (or ``(N_src of blocks[0], F_in)``); out: ``(N, C)`` (or
        ``(N_dst of blocks[-1], C)``).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 out_channels: int | None = None, dropout: float = 0.0, *, aggr="mean",
                 jk: str | None = None, **kwargs):
        super().__init__()
        sizes = layer_sizes("GraphSAGE", in_channels, hidden_channels, out_channels, num_layers)
        check_probability("GraphSAGE", "dropout", dropout)
        check_jk("GraphSAGE", jk)
        convs = sizes[:-1] + [sizes[1] if jk else sizes[-1]]  # jk: the last keeps hidden
        self.convs = ModuleList([SAGEConv(a, b, aggr=aggr, **kwargs)
                                 for a, b in zip(convs[:-1], convs[1:], strict=True)])
        self.dropout = dropout
        self._add_jk(jk, sizes[1], num_layers, sizes[-1])

    takes_blocks = True  # forward(x, blocks) with one sampled block per layer (NeighborLoader)

    def forward(self, x, adj):
        if isinstance(adj, list | tuple) and len(adj) != len(self.convs):
            raise ValueError(f"GraphSAGE: expected one block per layer ({len(self.convs)}) "
                             f"(got {len(adj)} blocks)")
        blocks = adj if isinstance(adj, list | tuple) else [adj] * len(self.convs)
        return self._stack(x, None, ops.relu, blocks)

    @staticmethod
    def _block_conv(conv, x, block):
        if isinstance(block, SparseTensor) and block.shape[0] != block.shape[1]:
            return conv((x, x[:block.shape[0]]), block)  # its targets: the first rows
        return conv(x, block)

    def inference(self, x, adj, batch_size: int = 4096):
        """Full-graph output, one layer at a time over chunks of ``batch_size`` target nodes.

        Each chunk aggregates its rows of the adjacency over the whole previous layer, so the
        work is one pass over the edges per layer (sampling would revisit each node's
        neighbourhood once per batch and layer). Runs without autograd, in eval mode; equal to
        ``forward(x, adj)`` of the model in eval mode. With ``jk`` every layer's full output
        is kept for the final `JumpingKnowledge` and ``lin``, run over all nodes at once.

        Args:
            x: ``(N, F_in)`` dense (may be memory-mapped) or sparse CSR features.
            adj: ``(N, N)`` target-major SparseTensor or a Graph.
            batch_size: target nodes per chunk.

        Returns:
            ``(N, C)`` Tensor.
        """
        from sparsegraph.autograd import no_grad
        from sparsegraph.gnn.inputs import as_adjacency

        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or (
                batch_size <= 0):
            raise ValueError(f"GraphSAGE.inference: expected an int `batch_size` > 0 "
                             f"(got {batch_size!r})")
        batch_size = int(batch_size)
        if isinstance(x, np.ndarray):  # a (memory-mapped) array: read chunk by chunk as is
            x = wrap(x)
        n = x.shape[0]
        adj = as_adjacency(adj, n, op="GraphSAGE.inference")
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                h, hs = x, []
                for i, conv in enumerate(self.convs):
                    out = None
                    for lo in range(0, n, batch_size):
                        hi = min(lo + batch_size, n)
                        o = conv((h, h[lo:hi]), adj[lo:hi])  # the chunk's targets, their CSR rows
                        o = ops.relu(o) if i < len(self.convs) - 1 or self.jk_mode else o
                        if out is None:  # on the chunks' device (cupy's never land in numpy)
                            out = o.xp.empty((n,) + o.shape[1:], o.dtype)
                        out[lo:hi] = o.array
                    h = wrap(out) if out is not None else zeros(0, conv.out_channels,
                                                                device=adj.device)
                    hs.append(h)
                h = self._jk_readout(hs, h)
        finally:
            self.train(was_training)
        return h


class SGC(Model):
    """Wu et al. (ICML 2019): logistic regression on ``Â^K x`` (K=2), propagation cached."""

    def __init__(self, in_channels: int, out_channels: int = 2, K: int = 2):
        super().__init__()
        check_channels("SGC", "in_channels", in_channels)  # named by the model, not SGConv
        check_channels("SGC", "out_channels", out_channels)
        check_int("SGC", "K", K, 0)
        self.conv = SGConv(in_channels, out_channels, K=K, cached=True)

    def forward(self, x, adj):
        if isinstance(x, SparseTensor):
            x = x.to_dense()
        return self.conv(x, adj)


class APPNP(Model):
    """Gasteiger et al. (ICLR 2019): an MLP (Linear-ReLU, no normalization), then ``K`` steps
    of personalised-PageRank propagation with teleport ``alpha`` (`sparsegraph.gnn.APPNP`).

    PyG has no APPNP model (only the propagation layer); this one takes the other models'
    order, ``APPNP(1433, 64, 2, 7)`` as ``GCN(1433, 16, 2, 7)``, so the propagation's ``K`` and
    ``alpha`` are keywords.

    Args:
        in_channels, hidden_channels: input and hidden sizes. (hidden default: 64)
        num_layers: the MLP's Linear layers. (default: 2)
        out_channels: output size (None: ``hidden_channels``, as the other models).
        dropout: on every Linear's input, the input features included (see the module
            docstring). (default: 0.0, as the other models; the paper's is 0.5)
        K, alpha: propagation steps and teleport probability (keywords). (default: 10, 0.1,
            the paper's)
    """

    def __init__(self, in_channels: int, hidden_channels: int = 64, num_layers: int = 2,
                 out_channels: int | None = None, dropout: float = 0.0, *, K: int = 10,
                 alpha: float = 0.1):
        super().__init__()
        layer_sizes("APPNP", in_channels, hidden_channels, out_channels, num_layers)
        check_probability("APPNP", "dropout", dropout)
        self.mlp = MLP(in_channels, hidden_channels, num_layers, out_channels, dropout=dropout,
                       norm=None)
        self.prop = APPNPProp(K, alpha)

    def forward(self, x, adj):
        return self.prop(self.mlp(x), adj)


class GIN(Model):
    """Xu et al. (ICLR 2019) for graph classification: GINConv layers with 2-layer MLPs and
    batch norm, sum readout of the input and of every layer's output, then a linear
    classifier per depth (the paper's readout over all depths), summed.

    Args:
        in_channels, hidden_channels: input and hidden sizes. (hidden default: 32)
        num_layers: GINConv layers, PyG's meaning; the paper's "5 layers" count the input as
            one, so its setting is 4 (the default). ``num_layers + 1`` readouts.
        out_channels: classes (None: ``hidden_channels``, as PyG's).
        dropout: on each readout's logits (in training). (default: 0.0, as PyG's; the
            paper's is 0.5)
        readout: ``"sum"`` or ``"mean"`` pooling (keyword). (default: "sum")
        train_eps: GINConv's learnable epsilon (keyword). (default: False)

    Unlike PyG's node-level ``models.GIN``, ``forward(x, adj, batch, num_graphs=None)`` returns
    one row of logits per graph.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_layers: int = 4,
                 out_channels: int | None = None, dropout: float = 0.0, *,
                 readout: str = "sum", train_eps: bool = False):
        super().__init__()
        if readout not in ("sum", "mean"):
            raise ValueError(f"GIN: expected readout 'sum' or 'mean' (got {readout!r})")
        sizes = layer_sizes("GIN", in_channels, hidden_channels, out_channels, num_layers)
        out_channels = sizes[-1]
        check_probability("GIN", "dropout", dropout)
        self.convs = ModuleList()
        for a in [in_channels] + [hidden_channels] * (num_layers - 1):
            mlp = Sequential(Linear(a, hidden_channels), BatchNorm1d(hidden_channels), ReLU(),
                             Linear(hidden_channels, hidden_channels), BatchNorm1d(
                                 hidden_channels), ReLU())
            self.convs.append(GINConv(mlp, train_eps=train_eps))
        self.heads = ModuleList([Linear(a, out_channels) for a in
                                 [in_channels] + [hidden_channels] * num_layers])
        self.dropout, self.readout = dropout, readout

    def forward(self, x, adj, batch=None, num_graphs: int | None = None):
        """``(G, C)`` logits; ``num_graphs`` (a batch's ``num_graphs``) keeps the rows of
        graphs without nodes at the end of a batch, which ``batch.max() + 1`` cannot count."""
        pool = global_add_pool if self.readout == "sum" else global_mean_pool
        hs = [x]
        for conv in self.convs:
            hs.append(conv(hs[-1], adj))
        out = None
        for h, head in zip(hs, self.heads, strict=True):
            term = ops.dropout(head(pool(h, batch, num_graphs)), self.dropout, self.training)
            out = term if out is None else out + term
        return out


# PyG's torch_geometric.nn.models also holds these (each lives with its own concept here)
from sparsegraph.gnn.autoencoder import (  # noqa: E402,F401
    ARGA,
    ARGVA,
    GAE,
    VGAE,
    InnerProductDecoder,
)
from sparsegraph.gnn.label_prop import CorrectAndSmooth, LabelPropagation  # noqa: E402,F401
from sparsegraph.gnn.node2vec import Node2Vec  # noqa: E402,F401
