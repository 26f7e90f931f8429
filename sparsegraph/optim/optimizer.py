"""`Optimizer`: parameter groups, per-parameter state, ``zero_grad``, ``state_dict`` (PyTorch's)."""

from __future__ import annotations

import copy
import itertools
from collections import defaultdict

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd import enable_grad
from sparsegraph.autograd.engine import zero_grads
from sparsegraph.tensor import TRACE, Tensor, wrap

__all__ = ["Optimizer"]


def _is_array(v) -> bool:
    return isinstance(v, np.ndarray) or hasattr(v, "__cuda_array_interface__")


# torch's implementation switches, accepted (and stored in each group, as torch) for torch code:
# there is one implementation of each optimizer here, so they select nothing; the values that
# ask for a feature it lacks are refused
IMPLEMENTATION_FLAGS = {"foreach": None, "capturable": False, "differentiable": False,
                        "fused": None}
_UNSUPPORTED = {
    "capturable": "CUDA-graph capture of the step is not supported (sg.static.compile "
                  "captures a whole training step instead)",
    "differentiable": "differentiating through the update is not supported (it runs in place, "
                      "outside the autograd graph)",
    "fused": "there is no fused kernel (one implementation of each optimizer)",
}


def check_flag(who: str, key: str, value) -> None:
    """``foreach`` / ``fused``: None or a bool; ``capturable`` / ``differentiable``: a bool;
    ``capturable`` / ``differentiable`` / ``fused`` True: NotImplementedError."""
    optional = IMPLEMENTATION_FLAGS[key] is None
    if not (isinstance(value, bool | np.bool_) or (optional and value is None)):
        raise TypeError(f"{who}: expected {'None or ' if optional else ''}a bool for {key} "
                        f"(got {type(value).__name__} {value!r})")
    if value and key in _UNSUPPORTED:
        raise NotImplementedError(f"{who}: {key}=True is not supported: {_UNSUPPORTED[key]}; "
                                  f"pass {key}={IMPLEMENTATION_FLAGS[key]} or leave it out")


class Optimizer:
    """Base class of the optimizers.

    Subclasses pass their defaults to ``__init__``, validate a group in ``_check`` and update one
    parameter in ``_update(p, g, state, group)``, where ``p`` and ``g`` are the raw arrays of the
    parameter and its gradient. Updates run in place, outside any graph, and bump each updated
    parameter's version counter, so a graph that saved the old values raises at backward.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups with a ``"params"`` entry
            and per-group options overriding the defaults).
        defaults: the options of groups that do not set them. Those of torch's
            implementation switches a subclass takes (``foreach``, ``capturable``,
            ``differentiable``, ``fused``: IMPLEMENTATION_FLAGS) are checked by `check_flag`.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` and its options (``"lr"``, ...).
        state: parameter -> dict of that parameter's state (raw arrays and numbers); a
            ``defaultdict(dict)`` as in PyTorch, so ``state[p]`` of a parameter not yet
            stepped is an empty dict.
    """

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor) or isinstance(params, set | dict):
            raise TypeError(f"{type(self).__name__}: expected an iterable of Tensors or of dicts "
                            f"as params (got {type(params).__name__})")
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: defaultdict = defaultdict(dict)
        self._scratch: dict = {}  # reusable work arrays, keyed by (shape, dtype, device)
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (defaults fill the rest).

        Raises:
            KeyError: a group without a ``"params"`` entry (PyTorch's error; e.g. ``"param"``).
            TypeError: a parameter that is not a Tensor, or params given as a set or None.
            ValueError: a non-leaf tensor, a parameter already in another group, or an invalid
                option value.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: expected a dict as a parameter group "
                            f"(got {type(param_group).__name__})")
        group = dict(param_group)
        if "params" not in group:  # a typo such as "param" would otherwise train nothing
            raise KeyError(f"{name}: expected a 'params' entry in the parameter group (got "
                           f"keys {sorted(map(str, group))})")
        params = group["params"]
        if isinstance(params, set):
            raise TypeError(f"{name}: parameters must be an ordered collection (got a set)")
        if params is None or not (isinstance(params, Tensor) or hasattr(params, "__iter__")):
            raise TypeError(f"{name}: expected a Tensor or an iterable of Tensors as 'params' "
                            f"(got {type(params).__name__})")
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        held = {id(p) for g in self.param_groups for p in g["params"]}
        mine: set = set()
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: expected Tensors as parameters (got "
                                f"{type(p).__name__})")
            if p.grad_fn is not None:
                raise ValueError(f"{name}: can't optimize a non-leaf tensor (shape {p.shape}); "
                                 "pass the leaf (e.g. a Parameter)")
            if id(p) in mine:  # torch warns and would update it twice per step
                raise ValueError(f"{name}: a parameter (shape {p.shape}) is listed twice in the "
                                 "same parameter group")
            if id(p) in held:
                raise ValueError(f"{name}: a parameter (shape {p.shape}) appears in more than "
                                 "one parameter group")
            mine.add(id(p))
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group: dict) -> None:
        """Validate one group's options (subclasses extend this)."""
        name = type(self).__name__
        for key in ("lr", "weight_decay"):
            self._check_number(group, key)
        if not group.get("lr", 0.0) >= 0:
            raise ValueError(f"{name}: expected lr >= 0 (got {group['lr']})")
        if not group.get("weight_decay", 0.0) >= 0:
            raise ValueError(f"{name}: expected weight_decay >= 0 (got {group['weight_decay']})")
        for key in IMPLEMENTATION_FLAGS:
            if key in self.defaults and key in group:  # the switches of torch's signature
                check_flag(name, key, group[key])

    def _check_number(self, group: dict, key: str) -> None:
        """A real number option (a str or a bool would fail later, in a comparison or step)."""
        v = group.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
            raise TypeError(f"{type(self).__name__}: expected a number for {key} (got "
                            f"{type(v).__name__} {v!r})")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) the ``.grad`` of every parameter."""
        zero_grads(self, (p for group in self.param_groups for p in group["params"]),
                   set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient (those with ``grad`` None are skipped).

        Args:
            closure: optional function that re-evaluates the model and returns the loss; it
                runs (with grad enabled) before the update.

        Returns:
            The closure's loss, or None.
        """
        if TRACE.tracer is not None:
            TRACE.tracer.record_effect("step", self, closure=closure)
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        state = self.state
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                self._update(p.array, p.grad.array, state[p], group)
                p._version[0] += 1
        return loss

    def _update(self, p, g, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__}: subclasses must define _update")

    def _work(self, p, k: int = 0):
        """A reusable uninitialised array like ``p`` (slot ``k``); shared between parameters of
        the same shape, so an update allocates nothing after the first step."""
        key = (p.shape, p.dtype, k) if type(p) is np.ndarray else (
            p.shape, p.dtype, k, backend.device_of(p))
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = backend.xp_of(p).empty_like(p)
        return buf

    def _decayed(self, p, g, wd: float, maximize: bool):
        """``(-g if maximize else g) + wd * p`` in a work array; ``g`` (the parameter's .grad)
        is never written."""
        if wd:
            d = np.multiply(p, wd, out=self._work(p, 1))
            if maximize:
                d -= g
            else:
                d += g
            return d
        return np.negative(g, out=self._work(p, 1)) if maximize else g

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A snapshot: ``{"state": {index: {name: Tensor | number}}, "param_groups": [...]}``.

        Parameters are referred to by their position across the groups (as torch does), so the
        state loads into an optimizer built the same way over another model instance.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            saved = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            saved["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(saved)
        params = [p for group in self.param_groups for p in group["params"]]
        state = {}
        for p in params:
            if p in self.state:
                state[index[id(p)]] = {k: wrap(v.copy()) if _is_array(v) else copy.deepcopy(v)
                                       for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by `state_dict` (from an optimizer built the same
        way). Array state is copied and cast to each parameter's dtype and device.

        Raises:
            ValueError: when the groups or the state shapes do not match this optimizer's.
        """
        if TRACE.tracer is not None:  # it replaces options and state the graph reads
            TRACE.tracer.unsupported(f"{type(self).__name__}.load_state_dict()",
                                     "load the state before calling the compiled step")
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            got = (f"a dict with keys {sorted(map(str, state_dict))}"
                   if isinstance(state_dict, dict) else type(state_dict).__name__)
            raise TypeError(f"{name}.load_state_dict: expected a dict with 'state' and "
                            f"'param_groups', as state_dict() returns (got {got})")
        saved_groups = state_dict["param_groups"]
        self._check_options(saved_groups)
        if len(saved_groups) != len(self.param_groups) or any(
                len(s["params"]) != len(g["params"])
                for s, g in zip(saved_groups, self.param_groups, strict=True)):
            raise ValueError(f"{name}.load_state_dict: the saved parameter groups (sizes "
                             f"{[len(s['params']) for s in saved_groups]}) do not match this "
                             f"optimizer's (sizes {[len(g['params']) for g in self.param_groups]})")
        by_index = dict(zip(itertools.chain.from_iterable(s["params"] for s in saved_groups),
                            itertools.chain.from_iterable(g["params"] for g in self.param_groups),
                            strict=True))
        state: defaultdict = defaultdict(dict)
        for i, saved in state_dict["state"].items():
            p = by_index.get(int(i))
            if p is None:
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, which no "
                                 "group lists")
            state[p] = {k: self._restore(v, p, f"state[{i}][{k!r}]") for k, v in saved.items()}
        groups = []
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            if isinstance(new.get("betas"), list):
                new["betas"] = tuple(new["betas"])
            new["params"] = group["params"]
            for key in IMPLEMENTATION_FLAGS.keys() & self.defaults.keys():
                # a state saved before they existed: torch's __setstate__ defaults
                new.setdefault(key, IMPLEMENTATION_FLAGS[key])
            self._check(new)
            groups.append(new)
        self.param_groups, self.state = groups, state

    def _check_options(self, saved_groups) -> None:
        """The saved groups carry this optimizer's options (else the state is another type's,
        e.g. Adam's loaded into an SGD)."""
        name = type(self).__name__
        if not isinstance(saved_groups, list) or not all(
                isinstance(g, dict) and "params" in g for g in saved_groups):
            raise TypeError(f"{name}.load_state_dict: expected 'param_groups' to be a list of "
                            f"dicts with 'params' (got {saved_groups!r:.80})")
        want = set(self.defaults) - set(IMPLEMENTATION_FLAGS)  # filled in when missing
        for g in saved_groups:
            # only missing options count: schedulers add keys of their own (initial_lr)
            missing = sorted(want - g.keys())
            if missing:
                extra = sorted(map(str, g.keys() - set(self.defaults) - {"params", "initial_lr"}))
                raise ValueError(f"{name}.load_state_dict: the saved state is not from a {name} "
                                 f"(its parameter groups lack the options {missing}"
                                 + (f" and have {extra}" if extra else "") + ")")

    def _restore(self, value, p: Tensor, where: str):
        if isinstance(value, Tensor):
            value = value.array
        if isinstance(value, np.generic):
            return value.item()
        if not _is_array(value):
            return copy.deepcopy(value)
        if tuple(value.shape) != p.shape:
            raise ValueError(f"{type(self).__name__}.load_state_dict: {where} has shape "
                             f"{tuple(value.shape)} but the parameter has shape {p.shape}")
        return backend.to_device(value, p.device).astype(p.dtype, copy=True)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
