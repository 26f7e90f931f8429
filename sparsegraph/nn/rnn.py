"""Multi-layer recurrent layers `RNN`, `LSTM`, `GRU` over whole sequences, as torch's.

Each layer and direction projects the whole sequence at once (``x W_ih^T + b_ih``, one matmul
over ``(L, N, F)``), then loops over the ``L`` time steps only (never over batch elements),
running the cell equations of `sparsegraph.nn.rnn_cell.step`. Parameters carry torch's names
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), shapes, gate order and init, so a torch
state_dict exported as arrays loads with ``load_state_dict``.
"""

from __future__ import annotations

import warnings

import sparsegraph.ops as ops
from sparsegraph.creation import empty, zeros
from sparsegraph.nn._checks import check_bool, check_int, check_number
from sparsegraph.nn.module import Module
from sparsegraph.nn.parameter import Parameter
from sparsegraph.nn.rnn_cell import (
    GATES,
    check_input,
    check_nonlinearity,
    check_state,
    step,
    uniform_init,
)
from sparsegraph.tensor import Tensor

__all__ = ["RNN", "LSTM", "GRU"]


class _RNNBase(Module):
    """The shared sequence loop; ``mode`` is ``"RNN_TANH"``, ``"RNN_RELU"``, ``"LSTM"`` or
    ``"GRU"`` (torch's ``RNNBase.mode``)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int,
                 bias: bool, batch_first: bool, dropout: float, bidirectional: bool,
                 proj_size: int, device, dtype):
        super().__init__()
        op = type(self).__name__
        self.mode = mode
        self.input_size = check_int(op, "input_size", input_size, 0)
        self.hidden_size = check_int(op, "hidden_size", hidden_size, 1)
        self.num_layers = check_int(op, "num_layers", num_layers, 1)
        self.bias = check_bool(op, "bias", bias)
        self.batch_first = check_bool(op, "batch_first", batch_first)
        self.bidirectional = check_bool(op, "bidirectional", bidirectional)
        self.dropout = check_number(op, "dropout", dropout)
        if not 0.0 <= self.dropout <= 1.0:
            raise ValueError(f"{op}: expected `dropout` in [0, 1] (got {dropout})")
        if self.dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=3)
        self.proj_size = check_int(op, "proj_size", proj_size, 0)
        if self.proj_size:
            raise NotImplementedError(f"{op}: `proj_size` > 0 (LSTM with projections) is not "
                                      f"supported (got proj_size={proj_size})")
        kw = {"dtype": dtype, "device": device or "cpu"}
        gates, d = GATES[mode] * hidden_size, 2 if bidirectional else 1
        self._all_weights = []
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * d
            for suffix in ("", "_reverse")[:d]:
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                setattr(self, names[0], Parameter(empty(gates, width, **kw)))
                setattr(self, names[1], Parameter(empty(gates, hidden_size, **kw)))
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    for name in names[2:]:
                        setattr(self, name, Parameter(empty(gates, **kw)))
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights_names(self) -> list[str]:
        return [n for names in self._all_weights for n in names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer and direction: ``[w_ih, w_hh(, b_ih, b_hh)]`` each."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """torch's cuDNN weight compaction; nothing to do here (accepted for compatibility)."""

    def reset_parameters(self) -> None:
        """Redraw every parameter from ``U(-1/sqrt(H), 1/sqrt(H))`` (torch's)."""
        uniform_init(self, self.hidden_size)

    def _check_input(self, input) -> tuple[Tensor, bool]:
        """``input`` as a time-major ``(L, N, F_in)`` Tensor, and whether it was batched."""
        op = type(self).__name__
        batched = check_input(op, input, self.input_size, 3, self.weight_ih_l0.dtype)
        x = input.transpose(0, 1) if batched and self.batch_first else input
        x = x if batched else x.unsqueeze(1)
        if x.shape[0] == 0:
            raise ValueError(f"{op}: expected a sequence length > 0 in `input` (got shape "
                             f"{tuple(input.shape)})")
        return x, batched

    def _initial(self, name: str, state, x: Tensor, batched: bool) -> list:
        """The initial state per layer and direction, ``(N, H)`` each (None: zeros)."""
        k, n = self.num_layers * (2 if self.bidirectional else 1), x.shape[1]
        if state is None:
            return [zeros(n, self.hidden_size, dtype=x.dtype, device=x.device)] * k
        shape = (k, n, self.hidden_size) if batched else (k, self.hidden_size)
        state = check_state(type(self).__name__, name, state, shape, x.dtype)
        return list(ops.unbind(state if batched else state.unsqueeze(1), 0))

    def _run(self, input, h0, c0):
        """``(output, h_n, c_n)`` (``c_n`` None but for LSTM), in the input's layout."""
        x, batched = self._check_input(input)
        names = ("hx[0]", "hx[1]") if self.mode == "LSTM" else ("hx", None)
        hs = self._initial(names[0], h0, x, batched)
        cs = self._initial(names[1], c0, x, batched) if self.mode == "LSTM" else [None] * len(hs)
        length, h_n, c_n = x.shape[0], [], []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:  # between layers, training only
                x = ops.dropout(x, self.dropout, True)
            outs = []
            for direction, (w_ih, w_hh, b_ih, b_hh) in enumerate(self._layer_weights(layer)):
                k = len(h_n)  # layer * D + direction
                gis = ops.unbind(ops.linear(x, w_ih, b_ih), 0)  # L tensors (N, G*H)
                h, c, seq = hs[k], cs[k], [None] * length
                for t in (range(length) if direction == 0 else range(length - 1, -1, -1)):
                    h, c = step(self.mode, self.hidden_size, gis[t], h, c, w_hh, b_hh)
                    seq[t] = h
                outs.append(ops.stack(seq, 0))
                h_n.append(h)
                c_n.append(c)
            x = outs[0] if len(outs) == 1 else ops.cat(outs, dim=2)
        h_n = ops.stack(h_n, 0)
        c_n = ops.stack(c_n, 0) if self.mode == "LSTM" else None
        if not batched:
            return x.squeeze(1), h_n.squeeze(1), None if c_n is None else c_n.squeeze(1)
        return (x.transpose(0, 1) if self.batch_first else x), h_n, c_n

    def _layer_weights(self, layer: int) -> list[tuple]:
        """``(w_ih, w_hh, b_ih, b_hh)`` per direction of ``layer`` (biases None without)."""
        d = 2 if self.bidirectional else 1
        p = self._parameters
        return [tuple(p.get(n) for n in names) if len(names) == 4 else (*map(p.get, names),
                                                                         None, None)
                for names in self._all_weights[layer * d:(layer + 1) * d]]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


_ARGS = """
    Args:
        input_size: ``F_in``, the features of each time step.
        hidden_size: ``H``.
        num_layers: stacked recurrent layers, each reading the previous one's output.
            (default: 1)
{extra}        bias: learn ``bias_ih_l{{k}}`` and ``bias_hh_l{{k}}``. (default: True)
        batch_first: ``input`` and ``output`` as ``(N, L, F)`` instead of ``(L, N, F)``
            (the states keep ``(D * num_layers, N, H)``). (default: False)
        dropout: dropout on each layer's output but the last, in training mode only.
            (default: 0.0)
        bidirectional: add a layer reading the sequence backwards (``..._reverse``
            parameters); the output concatenates both directions. (default: False)
        device, dtype: of the parameters. (default: "cpu", float32)

    Shapes (``D`` = 2 if bidirectional else 1; unbatched: drop the ``N`` dim):
        ``input`` ``(L, N, F_in)`` (``(N, L, F_in)`` with ``batch_first``) or ``(L, F_in)``;
        ``output`` ``(L, N, D * H)``: the last layer's ``h_t`` for every ``t``;
        ``h_0`` / ``h_n`` (and ``c_0`` / ``c_n``) ``(D * num_layers, N, H)``, ordered layer 0
        forward, layer 0 reverse, layer 1 forward, ...; ``weight_ih_l0`` ``(G * H, F_in)``,
        ``weight_ih_l{{k>0}}`` ``(G * H, D * H)``, ``weight_hh_l{{k}}`` ``(G * H, H)`` with
        ``G`` = {gates}.

    Raises:
        ValueError: for an ``input`` that is not 2-D / 3-D or whose last dim is not
            ``input_size``, or an initial state of the wrong shape.
        TypeError: for a non-floating ``input`` (or a PackedSequence).
"""


class RNN(_RNNBase):
    """An Elman RNN, torch's ``nn.RNN``: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T +
    b_hh)`` per layer, ``act`` tanh or ReLU. ``forward(input, hx=None) -> (output, h_n)``.
    """

    __doc__ += _ARGS.format(gates="1", extra="        nonlinearity: ``\"tanh\"`` or "
                            "``\"relu\"``. (default: \"tanh\")\n")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        mode = check_nonlinearity("RNN", nonlinearity)
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n


class LSTM(_RNNBase):
    """Hochreiter & Schmidhuber (1997), torch's ``nn.LSTM``: per layer and step, gates
    ``i, f, g, o`` (that row order in the weights) from ``x_t W_ih^T + b_ih + h_{t-1} W_hh^T +
    b_hh``, ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.
    ``forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n))``.

    ``proj_size`` > 0 (torch's projected LSTM) raises NotImplementedError.
    """

    __doc__ += _ARGS.format(gates="4", extra="")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None):
        if hx is not None and (not isinstance(hx, tuple | list) or len(hx) != 2):
            raise TypeError(f"LSTM: expected `hx` to be a pair (h_0, c_0) (got "
                            f"{type(hx).__name__})")
        h0, c0 = (None, None) if hx is None else hx
        if (h0 is None) != (c0 is None):
            raise ValueError("LSTM: expected both h_0 and c_0 in `hx`, or hx=None")
        output, h_n, c_n = self._run(input, h0, c0)
        return output, (h_n, c_n)


class GRU(_RNNBase):
    """Cho et al. (2014), torch's ``nn.GRU``: per layer and step, gates ``r, z, n`` (that row
    order), ``n_t = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))``,
    ``h_t = (1 - z) * n_t + z * h_{t-1}``. ``forward(input, hx=None) -> (output, h_n)``.
    """

    __doc__ += _ARGS.format(gates="3", extra="")

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n
