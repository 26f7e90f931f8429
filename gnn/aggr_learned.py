"""Learnable readouts, PyG's ``torch_geometric.nn.aggr``: `SoftmaxAggregation` and
`PowerMeanAggregation` (Li et al., "DeeperGCN: All You Need to Train Deeper GCNs", 2020),
`AttentionalAggregation` (Li et al., "Graph Matching Networks", ICML 2019; PyG's older name
`GlobalAttention`) and `Set2Set` (Vinyals et al., "Order Matters: Sequence to sequence for
Sets", ICLR 2016).

Each is an `Aggregation` (gnn/aggr.py), called as ``aggr(x, index=None, ptr=None,
dim_size=None, dim=-2)``; the group softmax is `sparsegraph.gnn.softmax` (PyG's) and the
weighted sums are scatter / segment reductions, so no Python loop runs over groups or nodes
(Set2Set loops over its ``processing_steps`` only).
"""

from __future__ import annotations

import warnings
from numbers import Real

import sparsegraph.ops as ops
from sparsegraph.autograd import no_grad
from sparsegraph.creation import empty, zeros
from sparsegraph.gnn.aggr import Aggregation
from sparsegraph.gnn.pyg_scatter import softmax
from sparsegraph.gnn.utils import check_channels, check_int, reset_submodules
from sparsegraph.nn import LSTM, Module, Parameter
from sparsegraph.tensor import Tensor

__all__ = ["AttentionalAggregation", "GlobalAttention", "PowerMeanAggregation", "Set2Set",
           "SoftmaxAggregation"]


def _number(op: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{op}: expected `{name}` to be a number (got {value!r})")
    return float(value)


def _learned(module, op: str, name: str, value, learn, channels) -> None:
    """The scalar ``name`` as a float, or with ``learn`` a Parameter of ``channels`` entries
    filled with it (PyG's ``t`` / ``p``)."""
    init = _number(op, name, value)
    check_int(op, "channels", channels, 1)
    if not isinstance(learn, bool):
        raise TypeError(f"{op}: expected `learn` to be a bool (got {learn!r})")
    if not learn and channels != 1:
        raise ValueError(f"{op}: `channels` > 1 learns one `{name}` per channel, so it needs "
                         f"learn=True (got channels={channels}, learn=False)")
    module.learn, module.channels = learn, int(channels)
    setattr(module, f"_init_{name}", init)
    setattr(module, name, Parameter(empty(int(channels))) if learn else init)
    module.reset_parameters()


def _per_channel(module, x: Tensor, dim: int, value):
    """``value`` shaped ``(1, C)`` against the 2-D ``x`` for ``channels`` > 1."""
    if module.channels == 1:
        return value
    module.assert_two_dimensional_input(x, dim)
    if x.shape[1] != module.channels:
        raise ValueError(f"{type(module).__name__}: expected `x` with channels="
                         f"{module.channels} features (got shape {tuple(x.shape)})")
    return value.reshape((1, module.channels))


def _is_one(value) -> bool:
    return not isinstance(value, Tensor) and value == 1


class SoftmaxAggregation(Aggregation):
    r"""Softmax aggregation (DeeperGCN):
    :math:`\sum_i \frac{\exp(t x_i)}{\sum_j \exp(t x_j)} x_i` per group and feature, a
    smooth interpolation from the mean (:math:`t = 0`) to the max (:math:`t \to \infty`).

    Args:
        t: the (initial) inverse temperature. (default: 1.0)
        learn: learn ``t`` (a Parameter ``t`` of ``channels`` entries). (default: False)
        semi_grad: compute the softmax weights without a gradient (PyG's semi-gradient);
            not with ``learn``. (default: False)
        channels: one ``t`` per feature channel (needs ``learn`` and a 2-D ``x`` of that
            width). (default: 1)

    Raises:
        ValueError: ``learn`` with ``semi_grad``; ``channels`` > 1 without ``learn``.
    """

    def __init__(self, t: float = 1.0, learn: bool = False, semi_grad: bool = False,
                 channels: int = 1):
        super().__init__()
        op = type(self).__name__
        if learn and semi_grad:
            raise ValueError(f"{op}: `semi_grad` cannot be enabled when the temperature `t` "
                             "is learned (learn=True)")
        self.semi_grad = bool(semi_grad)
        _learned(self, op, "t", t, learn, channels)

    def reset_parameters(self) -> None:
        """Fill the learned ``t`` with its initial value."""
        if isinstance(self.t, Tensor):
            with no_grad():
                self.t.fill_(self._init_t)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        t = _per_channel(self, x, dim, self.t)
        alpha = x if _is_one(t) else x * t
        if not self.learn and self.semi_grad:
            with no_grad():
                alpha = softmax(alpha, index, ptr, dim_size, dim)
        else:
            alpha = softmax(alpha, index, ptr, dim_size, dim)
        return self.reduce(x * alpha, index, ptr, dim_size, dim, reduce="sum")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learn={self.learn})"


class PowerMeanAggregation(Aggregation):
    r"""Power-mean aggregation (DeeperGCN):
    :math:`\left(\frac{1}{|\mathcal{X}|}\sum_i x_i^p\right)^{1/p}` per group and feature,
    with PyG's clamps: ``x`` and the mean are clamped to ``[0, 100]`` before each power
    (negative features count as 0), unless ``p`` is the number 1 (the plain mean).

    Args:
        p: the (initial) power. (default: 1.0)
        learn: learn ``p`` (a Parameter ``p`` of ``channels`` entries). (default: False)
        channels: one ``p`` per feature channel (needs ``learn``). (default: 1)

    Raises:
        ValueError: ``channels`` > 1 without ``learn``.
    """

    def __init__(self, p: float = 1.0, learn: bool = False, channels: int = 1):
        super().__init__()
        _learned(self, type(self).__name__, "p", p, learn, channels)

    def reset_parameters(self) -> None:
        """Fill the learned ``p`` with its initial value."""
        if isinstance(self.p, Tensor):
            with no_grad():
                self.p.fill_(self._init_p)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        p = _per_channel(self, x, dim, self.p)
        if not _is_one(p):
            x = x.clamp(min=0, max=100).pow(p)
        out = self.reduce(x, index, ptr, dim_size, dim, reduce="mean")
        if not _is_one(p):
            out = out.clamp(min=0, max=100).pow(1.0 / p)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learn={self.learn})"


def _reset(module) -> None:
    """PyG's ``reset``: the module's own ``reset_parameters``, else its children's."""
    if module is None:
        return
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
    else:
        reset_submodules(module)


class AttentionalAggregation(Aggregation):
    r"""Soft-attention readout (Graph Matching Networks):
    :math:`r = \sum_n \mathrm{softmax}(h_{\mathrm{gate}}(x_n)) \cdot h_\Theta(x_n)`, the
    softmax taken over each group's members.

    Args:
        gate_nn: a Module mapping ``x`` ``(N, F)`` to scores ``(N, 1)`` (one per node) or
            ``(N, F_out)`` (one per node and feature), e.g. a Sequential.
        nn: a Module mapping ``x`` to ``(N, F_out)`` before the weighting (default: None,
            ``x`` itself).

    Shapes:
        ``x`` ``(N, F)``, ``index`` ``(N,)`` -> ``(B, F_out)``.
    """

    def __init__(self, gate_nn: Module, nn: Module | None = None):
        super().__init__()
        op = type(self).__name__
        for name, m in (("gate_nn", gate_nn), ("nn", nn)):
            if not (m is None and name == "nn") and not isinstance(m, Module):
                raise TypeError(f"{op}: expected `{name}` to be a Module (got "
                                f"{type(m).__name__})")
        self.gate_nn = gate_nn
        self.nn = nn
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset ``gate_nn`` and ``nn`` (PyG's ``reset``)."""
        _reset(self.gate_nn)
        _reset(self.nn)

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        self.assert_two_dimensional_input(x, dim)
        gate = self.gate_nn(x)
        if self.nn is not None:
            x = self.nn(x)
        op = type(self).__name__
        if not isinstance(gate, Tensor) or gate.ndim != 2 or gate.shape[0] != x.shape[0] or (
                gate.shape[1] not in (1, x.shape[1])):
            what = tuple(gate.shape) if isinstance(gate, Tensor) else type(gate).__name__
            raise ValueError(f"{op}: expected `gate_nn` to give scores of shape "
                             f"({x.shape[0]}, 1) or ({x.shape[0]}, {x.shape[1]}) (got {what})")
        gate = softmax(gate, index, ptr, dim_size, dim)
        return self.reduce(gate * x, index, ptr, dim_size, dim, reduce="sum")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(gate_nn={self.gate_nn}, nn={self.nn})"


class GlobalAttention(AttentionalAggregation):
    """PyG's deprecated name of `AttentionalAggregation`, called the old way
    ``(x, batch=None, size=None)``; constructing one warns (UserWarning), as PyG."""

    def __init__(self, gate_nn: Module, nn: Module | None = None):
        warnings.warn("'GlobalAttention' is deprecated, use 'AttentionalAggregation' instead",
                      UserWarning, stacklevel=2)
        super().__init__(gate_nn, nn)

    def __call__(self, x, batch=None, size=None):
        return super().__call__(x, batch, dim_size=size)


class Set2Set(Aggregation):
    r"""Set2Set readout (Order Matters): ``processing_steps`` rounds of
    :math:`q_t = \mathrm{LSTM}(q^*_{t-1})`, :math:`\alpha_i = \mathrm{softmax}(x_i \cdot q_t)`
    over each group, :math:`r_t = \sum_i \alpha_i x_i`, :math:`q^*_t = q_t \Vert r_t`, from
    :math:`q^*_0 = 0`; the output is :math:`q^*_T`, twice the input width.

    Args:
        in_channels: ``F``, the input width.
        processing_steps: ``T``, an int >= 1 (0 returns zeros, as PyG).
        **kwargs: further `sparsegraph.nn.LSTM` arguments (``num_layers``, ``bias``,
            ``dropout``); the LSTM is ``LSTM(2F, F)``, named ``lstm`` (PyG's state_dict keys
            ``lstm.weight_ih_l0`` ...). ``bidirectional`` / ``batch_first`` are refused (the
            query must stay ``(B, F)``).

    Shapes:
        ``x`` ``(N, F)``, ``index`` ``(N,)`` -> ``(B, 2F)``.
    """

    def __init__(self, in_channels: int, processing_steps: int, **kwargs):
        super().__init__()
        op = type(self).__name__
        self.in_channels = check_channels(op, "in_channels", in_channels)
        self.out_channels = 2 * self.in_channels
        check_int(op, "processing_steps", processing_steps, 0)
        self.processing_steps = int(processing_steps)
        for name in ("bidirectional", "batch_first", "proj_size"):
            if kwargs.get(name):
                raise ValueError(f"{op}: the LSTM's `{name}` would reshape the (B, F) query "
                                 f"(got {name}={kwargs[name]!r})")
        self.lstm = LSTM(self.out_channels, self.in_channels, **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw the LSTM's parameters."""
        self.lstm.reset_parameters()

    def forward(self, x, index=None, ptr=None, dim_size=None, dim=-2):
        self.assert_two_dimensional_input(x, dim)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: expected `x` with in_channels="
                             f"{self.in_channels} features (got shape {tuple(x.shape)})")
        index = self.group_index(index, ptr, x.shape[0])
        b, f = dim_size, self.in_channels
        kw = {"dtype": x.dtype, "device": x.device}
        h = (zeros((self.lstm.num_layers, b, f), **kw),
             zeros((self.lstm.num_layers, b, f), **kw))
        q_star = zeros((b, self.out_channels), **kw)
        for _ in range(self.processing_steps):
            q, h = self.lstm(q_star.unsqueeze(0), h)
            q = q.reshape((b, f))
            e = (x * ops.gather_rows(q, index)).sum(dim=-1, keepdim=True)
            a = softmax(e, index, ptr, b, 0)
            r = self.reduce(a * x, index, ptr, b, 0, reduce="sum")
            q_star = ops.cat([q, r], dim=-1)
        return q_star

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"
