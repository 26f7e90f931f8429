"""Containers: `Sequential`, `ModuleList`, `ModuleDict` (PyTorch's semantics)."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from sparsegraph.nn.module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


class _Indexed(Module):
    """Shared integer indexing over ``_modules`` (keys are the positions, except for a
    `Sequential` built from an OrderedDict)."""

    def _key(self, idx) -> str:
        idx = operator.index(idx)
        n = len(self._modules)
        if not -n <= idx < n:
            raise IndexError(f"{type(self).__name__}: index {idx} is out of range "
                             f"(length {n})")
        return list(self._modules)[idx % n]

    def _renumber(self) -> None:
        self.__dict__["_modules"] = dict(zip(map(str, range(len(self._modules))),
                                             self._modules.values(), strict=True))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(self._key(idx), module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)[idx] if isinstance(idx, slice) else [self._key(idx)]
        for k in keys:
            del self._modules[k]
        self._renumber()

    def pop(self, idx: int = -1) -> Module:
        """Remove the module at ``idx`` and return it (the rest are renumbered)."""
        module = self._modules[self._key(idx)]
        del self[idx]
        return module

    def append(self, module: Module):
        """Add ``module`` at the end."""
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        items = list(self._modules.values())
        n = len(items)
        index = max(0, min(n, index + n if index < 0 else index))
        items.insert(index, module)
        self.__dict__["_modules"] = {}
        for i, m in enumerate(items):
            self.add_module(str(i), m)


class Sequential(_Indexed):
    """Modules applied in order: ``Sequential(a, b)(x) == b(a(x))``.

    Built from modules (named "0", "1", ...) or from one OrderedDict of named modules.
    Supports indexing (slices give a new Sequential), ``len``, iteration, ``append``.

    Example::

        net = sg.nn.Sequential(sg.nn.Linear(4, 8), sg.nn.ReLU(), sg.nn.Linear(8, 2))
        y = net(sg.randn(3, 4))  # (3, 2)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def __add__(self, other: Sequential) -> Sequential:
        """A new Sequential running both operands' modules (the same objects, not copies)."""
        if not isinstance(other, Sequential):
            return NotImplemented
        return Sequential(*self, *other)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]


class ModuleList(_Indexed):
    """A list of modules whose parameters are registered (it has no ``forward``)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        """A new ModuleList of both operands' modules (the same objects, not copies)."""
        if isinstance(other, Module) and not isinstance(other, ModuleList) or not isinstance(
                other, Iterable):
            return NotImplemented
        return ModuleList([*self, *other])

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)


class ModuleDict(Module):
    """A dict of modules whose parameters are registered (insertion-ordered)."""

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable) -> None:
        """Add (or replace) modules from a mapping (a dict, OrderedDict or ModuleDict) or an
        iterable of ``(key, module)`` pairs."""
        if isinstance(modules, Mapping | ModuleDict):  # a ModuleDict iterates its keys
            pairs = list(modules.items())
        elif isinstance(modules, str | Module) or not isinstance(modules, Iterable):
            raise TypeError(f"ModuleDict.update: expected a mapping or an iterable of (key, "
                            f"module) pairs (got {type(modules).__name__})")
        else:
            pairs = []
            for i, pair in enumerate(modules):
                if isinstance(pair, str) or not isinstance(pair, Iterable) or len(
                        pair := tuple(pair)) != 2:
                    raise TypeError(f"ModuleDict.update: expected element {i} to be a (key, "
                                    f"module) pair (got {type(pair).__name__} {pair!r})")
                pairs.append(pair)
        for key, m in pairs:
            self[key] = m
