"""`Optimizer`: parameter groups, per-parameter state, zero_grad, state_dict (PyTorch's)."""

from __future__ import annotations

import copy

import numpy as np

from sparsegraph.tensor import Tensor, wrap


class Optimizer:
    """Base class. Subclasses define ``defaults`` via ``__init__`` and ``_update``.

    Updates run on raw arrays in place, under no graph, and bump each parameter's version
    counter so a stale graph that saved the parameter raises at backward.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.param_groups: list[dict] = []
        self.state: dict = {}
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: expected Tensors as parameters "
                                f"(got {type(p).__name__})")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group: dict) -> None:
        if group.get("lr", 0.0) < 0:
            raise ValueError(f"{type(self).__name__}: expected lr >= 0 (got {group['lr']})")
        if group.get("weight_decay", 0.0) < 0:
            raise ValueError(f"{type(self).__name__}: expected weight_decay >= 0 "
                             f"(got {group['weight_decay']})")

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = wrap(p.grad.xp.zeros_like(p.grad.array))

    def step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(id(p), {})
                self._update(p.array, p.grad.array, state, group)
                p._version[0] += 1

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    # ---- state ----------------------------------------------------------------------------
    def _params(self) -> list:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: array | number}}, "param_groups": [...]}``."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[k]: {n: (v.copy() if isinstance(v, np.ndarray) else v)
                            for n, v in s.items()} for k, s in self.state.items() if k in index}
        groups, start = [], 0
        for group in self.param_groups:
            g = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            g["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(
                    groups, self.param_groups, strict=True)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved parameter "
                             "groups do not match this optimizer's")
        params = self._params()
        for saved, group in zip(groups, self.param_groups, strict=True):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[id(p)] = {n: (np.array(v, dtype=p.dtype) if np.ndim(v) else
                                     (v.item() if hasattr(v, "item") else v))
                                 for n, v in s.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
