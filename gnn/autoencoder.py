"""Graph autoencoders for link prediction, as PyG's ``torch_geometric.nn`` ``GAE``, ``VGAE``,
``ARGA``, ``ARGVA`` and ``InnerProductDecoder``: Kipf & Welling, "Variational Graph
Auto-Encoders" (NIPS Bayesian Deep Learning workshop, 2016) and Pan et al., "Adversarially
Regularized Graph Autoencoder for Graph Embedding" (IJCAI 2018).

An encoder (any Module, e.g. two GCNConv layers) maps the nodes to embeddings ``z`` ``(N, D)``;
a decoder scores node pairs, by default ``sigmoid(z_u · z_v)``. The reconstruction loss is
the binary cross entropy of the positive edges against negative ones (drawn with
`negative_sampling` when not given), with PyG's ``EPS`` inside the logarithms.
"""

from __future__ import annotations

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.autograd import no_grad
from sparsegraph.creation import randn_like
from sparsegraph.gnn.autoencoder_metrics import average_precision, check_labels_scores, roc_auc
from sparsegraph.gnn.edge_args import flag, host_array
from sparsegraph.gnn.link import negative_sampling
from sparsegraph.nn import Module
from sparsegraph.tensor import Tensor

__all__ = ["ARGA", "ARGVA", "GAE", "VGAE", "InnerProductDecoder"]

EPS = 1e-15  # PyG's: keeps log(p + EPS) finite where a sigmoid saturates to 0 or 1
MAX_LOGSTD = 10  # PyG's clamp of the encoder's log standard deviation


def check_z(op: str, z, name: str = "z") -> None:
    """TypeError unless ``z`` is a floating Tensor; ValueError unless it is ``(N, D)``."""
    if not isinstance(z, Tensor):
        raise TypeError(f"{op}: expected `{name}` to be a Tensor of node embeddings (got "
                        f"{type(z).__name__})")
    if z.dtype.kind != "f":
        raise TypeError(f"{op}: expected floating `{name}` (got dtype {z.dtype})")
    if z.ndim != 2:
        raise ValueError(f"{op}: expected `{name}` of shape (N, D), one row per node (got shape "
                         f"{tuple(z.shape)})")


def node_pairs(op: str, name: str, edge_index, num_nodes: int) -> np.ndarray:
    """``edge_index`` as a host ``(2, E)`` integer array with every id in ``[0, num_nodes)``:
    the rows of ``z``."""
    ei, _ = host_array(op, name, edge_index)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"{op}: expected `{name}` of shape (2, E) (got {ei.shape})")
    if ei.size and (int(ei.min()) < 0 or int(ei.max()) >= num_nodes):
        bad = int(ei.min()) if int(ei.min()) < 0 else int(ei.max())
        raise ValueError(f"{op}: expected node ids in `{name}` in [0, {num_nodes}), the rows "
                         f"of `z` (got {bad})")
    return ei


def _reset(module) -> None:
    """PyG's ``inits.reset``: the module's ``reset_parameters()``, else its children's."""
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
    else:
        for child in module.children() if hasattr(module, "children") else ():
            _reset(child)


def _check_module(op: str, name: str, value, optional: bool = False) -> None:
    if not (isinstance(value, Module) or (optional and value is None)):
        raise TypeError(f"{op}: expected `{name}` to be a sparsegraph.nn.Module"
                        f"{' or None' if optional else ''} (got {type(value).__name__})")


class InnerProductDecoder(Module):
    r"""The inner-product decoder of the GAE paper: :math:`\sigma(z_u^\top z_v)` per node pair
    (PyG's ``InnerProductDecoder``; no parameters).

    Shapes:
        ``forward(z, edge_index, sigmoid=True)``: ``z`` ``(N, D)``, ``edge_index`` ``(2, E)``
        node pairs (a Tensor or an array); output ``(E,)``, probabilities, or the inner
        products themselves with ``sigmoid=False``.
        ``forward_all(z, sigmoid=True)``: the dense ``(N, N)`` matrix
        :math:`\sigma(Z Z^\top)`.

    Raises:
        TypeError: ``z`` not a floating Tensor, ``edge_index`` not integer, ``sigmoid`` not
            a bool. ValueError: ``z`` not 2-D, ``edge_index`` not ``(2, E)`` or with ids
            outside ``[0, N)``.
    """

    def forward(self, z, edge_index, sigmoid: bool = True) -> Tensor:
        op = "InnerProductDecoder"
        check_z(op, z)
        ei = node_pairs(op, "edge_index", edge_index, z.shape[0])
        value = ops.sum(ops.gather_rows(z, ei[0]) * ops.gather_rows(z, ei[1]), dim=1)
        return ops.sigmoid(value) if flag(op, "sigmoid", sigmoid) else value

    def forward_all(self, z, sigmoid: bool = True) -> Tensor:
        op = "InnerProductDecoder.forward_all"
        check_z(op, z)
        adj = ops.matmul(z, z.t())
        return ops.sigmoid(adj) if flag(op, "sigmoid", sigmoid) else adj


class GAE(Module):
    """Graph autoencoder (PyG's ``GAE``): ``encoder`` gives the node embeddings ``z``,
    ``decoder`` (default `InnerProductDecoder`) the probability of an edge between two nodes.

    Args:
        encoder: a Module; ``encode`` / ``forward`` pass their arguments to it.
        decoder: a Module called as ``decoder(z, edge_index, sigmoid=True)``. (default:
            `InnerProductDecoder`)

    Both are reset (``reset_parameters()``) on construction, as in PyG.

    Methods:
        ``encode(*args)`` / ``forward(*args)``: ``encoder(*args)``. ``decode(*args)``:
        ``decoder(*args)``.
        ``recon_loss(z, pos_edge_index, neg_edge_index=None)``: the binary cross entropy
        ``-mean(log(p_pos + EPS)) - mean(log(1 - p_neg + EPS))`` (``EPS = 1e-15``); without
        ``neg_edge_index``, ``negative_sampling(pos_edge_index, N)`` draws as many negatives
        as positives (global generator: `sparsegraph.manual_seed`).
        ``test(z, pos_edge_index, neg_edge_index)``: ``(auc, ap)``, Python floats, the ROC AUC
        and average precision of the decoder's scores, as scikit-learn's ``roc_auc_score``
        and ``average_precision_score`` (ties as sklearn's: see gnn/autoencoder_metrics.py);
        computed without a graph.

    Raises:
        TypeError / ValueError: a non-Module encoder or decoder; in the losses and ``test``, a
            ``z`` that is not a floating ``(N, D)`` Tensor, an edge_index that is not
            ``(2, E)`` integers in ``[0, N)``; no positive edges, or no negative ones (none
            given or none left to draw), where PyG returns NaN; ``test`` with non-finite
            scores.

    Example::

        model = GAE(GCNEncoder(in_channels, 16))
        z = model.encode(data.x, data.edge_index)
        loss = model.recon_loss(z, data.pos_edge_label_index)
        auc, ap = model.test(z, data.pos_edge_label_index, data.neg_edge_label_index)
    """

    def __init__(self, encoder: Module, decoder: Module | None = None):
        super().__init__()
        _check_module(type(self).__name__, "encoder", encoder)
        _check_module(type(self).__name__, "decoder", decoder, optional=True)
        self.encoder = encoder
        self.decoder = InnerProductDecoder() if decoder is None else decoder
        GAE.reset_parameters(self)

    def reset_parameters(self) -> None:
        """Reset the encoder's and the decoder's parameters."""
        _reset(self.encoder)
        _reset(self.decoder)

    def forward(self, *args, **kwargs):
        return self.encoder(*args, **kwargs)

    def encode(self, *args, **kwargs):
        return self.encoder(*args, **kwargs)

    def decode(self, *args, **kwargs):
        return self.decoder(*args, **kwargs)

    def _edges(self, op: str, z, pos_edge_index, neg_edge_index):
        """``(pos, neg, neg_edge_index)``: the host pairs of both edge sets, checked against
        ``z``, and ``neg_edge_index`` as given or, when None, as drawn."""
        check_z(op, z)
        pos = node_pairs(op, "pos_edge_index", pos_edge_index, z.shape[0])
        if neg_edge_index is None:
            neg_edge_index = negative_sampling(pos_edge_index, z.shape[0])
        return pos, node_pairs(op, "neg_edge_index", neg_edge_index, z.shape[0]), neg_edge_index

    def recon_loss(self, z, pos_edge_index, neg_edge_index=None) -> Tensor:
        """Binary cross entropy of the positive edges against the negative ones (0-d)."""
        op = "GAE.recon_loss"
        drawn = neg_edge_index is None
        pos, neg, neg_edge_index = self._edges(op, z, pos_edge_index, neg_edge_index)
        for name, pairs in (("pos_edge_index", pos), ("neg_edge_index", neg)):
            if pairs.shape[1] == 0 and drawn and name == "neg_edge_index":
                n, e = z.shape[0], pos.shape[1]
                raise ValueError(f"{op}: no negative edges could be drawn for "
                                 f"neg_edge_index=None: the graph of `pos_edge_index` ({e} "
                                 f"edge{'s' * (e != 1)} on the {n} node{'s' * (n != 1)} of "
                                 f"`z`) has no node pair u != v that is not an edge (a mean "
                                 f"over no negatives is NaN); pass `neg_edge_index`")
            if pairs.shape[1] == 0:  # PyG: a mean over no edges, NaN
                raise ValueError(f"{op}: expected at least one edge in `{name}` (got shape "
                                 f"{pairs.shape}); a mean over no edges is NaN")
        pos_loss = -ops.mean(ops.log(self.decoder(z, pos_edge_index, sigmoid=True) + EPS))
        neg_loss = -ops.mean(ops.log(1 - self.decoder(z, neg_edge_index, sigmoid=True) + EPS))
        return pos_loss + neg_loss

    def test(self, z, pos_edge_index, neg_edge_index) -> tuple[float, float]:
        """``(auc, ap)`` of the decoder's scores: positives labelled 1, negatives 0."""
        op = "GAE.test"
        if neg_edge_index is None:
            raise TypeError(f"{op}: expected `neg_edge_index`, the negative edges to score "
                            f"(got None)")
        self._edges(op, z, pos_edge_index, neg_edge_index)  # one class only: refused below
        with no_grad():
            pos = self.decoder(z, pos_edge_index, sigmoid=True).detach().cpu().numpy()
            neg = self.decoder(z, neg_edge_index, sigmoid=True).detach().cpu().numpy()
        y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
        y, pred = check_labels_scores(op, y, np.r_[pos.ravel(), neg.ravel()])
        return roc_auc(y, pred), average_precision(y, pred)


class VGAE(GAE):
    r"""Variational graph autoencoder (PyG's ``VGAE``): the encoder returns ``(mu, logstd)``,
    each ``(N, D)``; ``encode`` clamps ``logstd`` at ``MAX_LOGSTD = 10``, keeps both (as
    ``__mu__`` / ``__logstd__``, for `kl_loss`) and returns
    :math:`z = \mu + \epsilon \cdot e^{\log\sigma}`, :math:`\epsilon \sim N(0, 1)`, in
    training mode, ``mu`` in eval mode (``reparametrize``). ``forward`` is the encoder's,
    the pair.

    ``kl_loss(mu=None, logstd=None)``: the KL divergence to ``N(0, I)``, PyG's
    :math:`-\tfrac12 \operatorname{mean}_i \sum_d (1 + 2\log\sigma_{id} - \mu_{id}^2 -
    \sigma_{id}^2)`, from the last ``encode`` unless given (a given ``logstd`` is clamped
    too). PyG's example adds ``kl_loss() / N`` to `recon_loss`.

    Raises:
        TypeError: ``encode`` when the encoder returns no pair of Tensors.
        ValueError: ``mu`` and ``logstd`` of different shapes, or not 2-D.
        RuntimeError: ``kl_loss`` without ``mu`` / ``logstd`` before any ``encode``.
    """

    def reparametrize(self, mu: Tensor, logstd: Tensor) -> Tensor:
        if self.training:
            return mu + randn_like(logstd) * ops.exp(logstd)
        return mu

    def encode(self, *args, **kwargs) -> Tensor:
        out = self.encoder(*args, **kwargs)
        if not (isinstance(out, tuple | list) and len(out) == 2
                and all(isinstance(t, Tensor) for t in out)):
            got = (f"a {type(out).__name__} of {len(out)} items" if isinstance(out, tuple | list)
                   else type(out).__name__)
            raise TypeError(f"{type(self).__name__}.encode: expected the encoder to return a "
                            f"(mu, logstd) pair of Tensors (got {got})")
        mu, logstd = out
        _check_pair(f"{type(self).__name__}.encode", mu, logstd)
        self.__mu__, self.__logstd__ = mu, ops.clamp(logstd, max=MAX_LOGSTD)
        return self.reparametrize(self.__mu__, self.__logstd__)

    def kl_loss(self, mu: Tensor | None = None, logstd: Tensor | None = None) -> Tensor:
        op = "VGAE.kl_loss"
        mu = self.__dict__.get("__mu__") if mu is None else mu
        logstd = (self.__dict__.get("__logstd__") if logstd is None
                  else ops.clamp(logstd, max=MAX_LOGSTD) if isinstance(logstd, Tensor) else logstd)
        if mu is None or logstd is None:
            raise RuntimeError(f"{op}: no `mu` / `logstd` given and none kept: call encode() "
                               f"first or pass them")
        _check_pair(op, mu, logstd)
        return -0.5 * ops.mean(ops.sum(1 + 2 * logstd - mu ** 2 - ops.exp(logstd) ** 2, dim=1))


def _check_pair(op: str, mu, logstd) -> None:
    check_z(op, mu, "mu")
    check_z(op, logstd, "logstd")
    if tuple(mu.shape) != tuple(logstd.shape):
        raise ValueError(f"{op}: expected `mu` and `logstd` of one shape (got "
                         f"{tuple(mu.shape)} and {tuple(logstd.shape)})")


class ARGA(GAE):
    r"""Adversarially regularized graph autoencoder (PyG's ``ARGA``): a ``discriminator``
    (a Module giving one logit per node, ``(N, 1)``) tells the embeddings ``z`` from draws
    of ``N(0, I)``; the encoder is trained to fool it.

    Args:
        encoder, decoder: as `GAE`.
        discriminator: a Module, reset on construction.

    ``reg_loss(z)``: the encoder's regulariser, :math:`-\operatorname{mean}\log(\sigma(D(z))
    + EPS)`. ``discriminator_loss(z)``: :math:`-\operatorname{mean}\log(\sigma(D(\epsilon)) +
    EPS) - \operatorname{mean}\log(1 - \sigma(D(z)) + EPS)` with ``epsilon = randn_like(z)``
    and ``z`` detached (only the discriminator learns from it).
    """

    def __init__(self, encoder: Module, discriminator: Module, decoder: Module | None = None):
        super().__init__(encoder, decoder)
        _check_module(type(self).__name__, "discriminator", discriminator)
        self.discriminator = discriminator
        _reset(self.discriminator)

    def reset_parameters(self) -> None:
        """Reset the encoder's, the decoder's and the discriminator's parameters."""
        super().reset_parameters()
        _reset(self.discriminator)

    def reg_loss(self, z) -> Tensor:
        check_z("ARGA.reg_loss", z)
        real = ops.sigmoid(self.discriminator(z))
        return -ops.mean(ops.log(real + EPS))

    def discriminator_loss(self, z) -> Tensor:
        check_z("ARGA.discriminator_loss", z)
        real = ops.sigmoid(self.discriminator(randn_like(z)))
        fake = ops.sigmoid(self.discriminator(z.detach()))
        return -ops.mean(ops.log(real + EPS)) - ops.mean(ops.log(1 - fake + EPS))


class ARGVA(ARGA):
    """Adversarially regularized variational graph autoencoder (PyG's ``ARGVA``): `ARGA`
    whose ``encode``, ``reparametrize`` and ``kl_loss`` are those of a `VGAE` over the same
    encoder (kept as ``self.VGAE``, as PyG; the encoder returns ``(mu, logstd)``)."""

    def __init__(self, encoder: Module, discriminator: Module, decoder: Module | None = None):
        super().__init__(encoder, discriminator, decoder)
        self.VGAE = VGAE(encoder, decoder)

    @property
    def __mu__(self):
        return self.VGAE.__dict__.get("__mu__")

    @property
    def __logstd__(self):
        return self.VGAE.__dict__.get("__logstd__")

    def reparametrize(self, mu: Tensor, logstd: Tensor) -> Tensor:
        return self.VGAE.reparametrize(mu, logstd)

    def encode(self, *args, **kwargs) -> Tensor:
        return self.VGAE.encode(*args, **kwargs)

    def kl_loss(self, mu: Tensor | None = None, logstd: Tensor | None = None) -> Tensor:
        return self.VGAE.kl_loss(mu, logstd)
