"""Recurrent cells `RNNCell`, `LSTMCell`, `GRUCell` (one time step), and the step equations
that the sequence layers in `sparsegraph.nn.rnn` share.

PyTorch's parameters (names, shapes, gate order, ``U(-1/sqrt(H), 1/sqrt(H))`` init) and
equations, built from differentiable ops (``linear``, ``sigmoid``, ``tanh``, ``split``), so
autograd differentiates them and a state_dict exported from torch as arrays loads as it is.
"""

from __future__ import annotations

import math

import sparsegraph.ops as ops
from sparsegraph.creation import empty, zeros
from sparsegraph.nn import init
from sparsegraph.nn._checks import check_bool, check_int
from sparsegraph.nn.module import Module
from sparsegraph.nn.parameter import Parameter
from sparsegraph.tensor import Tensor

__all__ = ["RNNCell", "LSTMCell", "GRUCell"]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def step(mode: str, hidden: int, gi: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor,
         b_hh: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """One recurrent step as torch documents it, from ``gi = x W_ih^T + b_ih`` ``(N, G*H)``
    and the state ``h`` (and ``c``) ``(N, H)``; returns the new ``(h, c)`` (``c`` None but
    for LSTM). Gate order: LSTM ``i, f, g, o``; GRU ``r, z, n``.

    - RNN: ``h' = act(gi + h W_hh^T + b_hh)``
    - LSTM: ``c' = f * c + i * g``, ``h' = o * tanh(c')`` with ``i, f, o`` sigmoid and ``g``
      tanh of ``gi + h W_hh^T + b_hh``
    - GRU: ``r, z = sigmoid(gi_rz + gh_rz)``, ``n = tanh(gi_n + r * gh_n)``,
      ``h' = (1 - z) * n + z * h`` with ``gh = h W_hh^T + b_hh``
    """
    gh = ops.linear(h, w_hh, b_hh)
    if mode == "LSTM":
        i, f, g, o = ops.split(gi + gh, hidden, dim=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        return ops.sigmoid(o) * ops.tanh(c), c
    if mode == "GRU":
        i_r, i_z, i_n = ops.split(gi, hidden, dim=-1)
        h_r, h_z, h_n = ops.split(gh, hidden, dim=-1)
        z = ops.sigmoid(i_z + h_z)
        n = ops.tanh(i_n + ops.sigmoid(i_r + h_r) * h_n)
        return n + z * (h - n), None  # (1 - z) * n + z * h
    act = ops.tanh if mode == "RNN_TANH" else ops.relu
    return act(gi + gh), None


def check_nonlinearity(op: str, nonlinearity) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{op}: expected `nonlinearity` 'tanh' or 'relu' (got "
                         f"{nonlinearity!r})")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


def _check_dtype(op: str, name: str, t: Tensor, dtype) -> None:
    """torch's rule: inputs and states in the parameters' dtype (no silent promotion)."""
    if t.dtype != dtype:
        raise TypeError(f"{op}: expected `{name}` of dtype {dtype}, the layer's parameters' "
                        f"(got {t.dtype}); convert it with .to({str(dtype)!r}), or the layer "
                        "with .to() / .double()")


def check_input(op: str, input, input_size: int, batched_ndim: int, dtype) -> bool:
    """A Tensor ``input`` of the parameters' ``dtype`` with ``batched_ndim`` dims (or one
    fewer: unbatched) and ``input_size`` features last; returns whether it is batched."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected `input` to be a Tensor (got {type(input).__name__}); "
                        "packed sequences are not supported")
    _check_dtype(op, "input", input, dtype)
    if input.ndim not in (batched_ndim - 1, batched_ndim):
        raise ValueError(f"{op}: expected a {batched_ndim - 1}-D (unbatched) or "
                         f"{batched_ndim}-D (batched) `input` (got shape {tuple(input.shape)})")
    if input.shape[-1] != input_size:
        raise ValueError(f"{op}: expected `input` of size {input_size} in its last dim "
                         f"(input_size) (got shape {tuple(input.shape)})")
    return input.ndim == batched_ndim


def check_state(op: str, name: str, state, shape: tuple, dtype) -> Tensor:
    """``state`` must be a Tensor of ``shape`` (torch: "Expected hidden size ...") and the
    parameters' ``dtype``."""
    if not isinstance(state, Tensor):
        raise TypeError(f"{op}: expected `{name}` to be a Tensor (got {type(state).__name__})")
    _check_dtype(op, name, state, dtype)
    if tuple(state.shape) != shape:
        raise ValueError(f"{op}: expected `{name}` of shape {shape} (got {tuple(state.shape)})")
    return state


def uniform_init(module: Module, hidden_size: int) -> None:
    """torch's RNN init: every parameter from ``U(-1/sqrt(H), 1/sqrt(H))``."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class _CellBase(Module):
    """``weight_ih (G*H, F_in)``, ``weight_hh (G*H, H)``, ``bias_ih`` / ``bias_hh (G*H,)``."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool, device,
                 dtype):
        super().__init__()
        op = type(self).__name__
        self.input_size = check_int(op, "input_size", input_size, 0)
        self.hidden_size = check_int(op, "hidden_size", hidden_size, 1)
        self.bias = check_bool(op, "bias", bias)
        self._mode = mode
        kw = {"dtype": dtype, "device": device or "cpu"}
        g = GATES[mode] * hidden_size
        self.weight_ih = Parameter(empty(g, input_size, **kw))
        self.weight_hh = Parameter(empty(g, hidden_size, **kw))
        if bias:
            self.bias_ih = Parameter(empty(g, **kw))
            self.bias_hh = Parameter(empty(g, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw every parameter from ``U(-1/sqrt(H), 1/sqrt(H))`` (torch's)."""
        uniform_init(self, self.hidden_size)

    def _run(self, input, states: tuple):
        """Check ``input`` ``(N, F_in)`` / ``(F_in,)`` and the ``states`` (None: zeros),
        run one step; returns the new ``(h, c)`` with the input's batch dims."""
        op = type(self).__name__
        batched = check_input(op, input, self.input_size, 2, self.weight_ih.dtype)
        x = input if batched else input.unsqueeze(0)
        shape = (x.shape[0], self.hidden_size)
        full = []
        for name, s in states:
            if s is None:
                full.append(zeros(*shape, dtype=x.dtype, device=x.device))
            else:
                check_state(op, name, s, shape if batched else shape[1:], x.dtype)
                full.append(s if batched else s.unsqueeze(0))
        gi = ops.linear(x, self.weight_ih, self.bias_ih)
        c0 = full[1] if len(full) > 1 else None
        h, c = step(self._mode, self.hidden_size, gi, full[0], c0, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), None if c is None else c.squeeze(0))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self._mode == "RNN_RELU":
            s += ", nonlinearity=relu"
        return s


class RNNCell(_CellBase):
    """An Elman RNN cell, torch's ``nn.RNNCell``: ``h' = act(x W_ih^T + b_ih + h W_hh^T +
    b_hh)`` with ``act`` tanh or ReLU.

    Args:
        input_size: ``F_in``.
        hidden_size: ``H``.
        bias: learn ``bias_ih`` and ``bias_hh``. (default: True)
        nonlinearity: ``"tanh"`` or ``"relu"``. (default: "tanh")
        device, dtype: of the parameters. (default: "cpu", float32)

    Shapes:
        ``input`` ``(N, F_in)`` or ``(F_in,)``; ``hx`` ``(N, H)`` or ``(H,)`` (default: zeros);
        output ``(N, H)`` or ``(H,)``; ``weight_ih`` ``(H, F_in)``, ``weight_hh`` ``(H, H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        mode = check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(mode, input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, (("hx", hx),))[0]


class LSTMCell(_CellBase):
    """Hochreiter & Schmidhuber (1997), torch's ``nn.LSTMCell``: gates ``i, f, g, o`` (in that
    order in ``weight_ih`` / ``weight_hh`` rows), ``c' = f * c + i * g``, ``h' = o * tanh(c')``.

    Args:
        input_size: ``F_in``.
        hidden_size: ``H``.
        bias: learn ``bias_ih`` and ``bias_hh``. (default: True)
        device, dtype: of the parameters. (default: "cpu", float32)

    Shapes:
        ``input`` ``(N, F_in)`` or ``(F_in,)``; ``hx`` a pair ``(h, c)``, each ``(N, H)`` or
        ``(H,)`` (default: zeros); returns ``(h', c')`` of the same shapes; ``weight_ih``
        ``(4H, F_in)``, ``weight_hh`` ``(4H, H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, tuple | list) or len(hx) != 2):
            raise TypeError(f"LSTMCell: expected `hx` to be a pair (h, c) (got "
                            f"{type(hx).__name__})")
        h, c = (None, None) if hx is None else hx
        return self._run(input, (("hx[0]", h), ("hx[1]", c)))


class GRUCell(_CellBase):
    """Cho et al. (2014), torch's ``nn.GRUCell``: gates ``r, z, n`` (in that order),
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Args:
        input_size: ``F_in``.
        hidden_size: ``H``.
        bias: learn ``bias_ih`` and ``bias_hh``. (default: True)
        device, dtype: of the parameters. (default: "cpu", float32)

    Shapes:
        ``input`` ``(N, F_in)`` or ``(F_in,)``; ``hx`` ``(N, H)`` or ``(H,)`` (default: zeros);
        output ``(N, H)`` or ``(H,)``; ``weight_ih`` ``(3H, F_in)``, ``weight_hh`` ``(3H, H)``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._run(input, (("hx", hx),))[0]
