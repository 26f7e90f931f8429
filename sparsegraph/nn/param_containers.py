"""`ParameterList` and `ParameterDict`: containers whose parameters are registered on the
module (PyTorch's semantics: ``parameters()``, ``named_parameters()`` with the keys "0", "1", ...
or the dict's keys, ``state_dict``, ``to``)."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from sparsegraph.nn.module import Module
from sparsegraph.nn.parameter import Parameter
from sparsegraph.tensor import Tensor

__all__ = ["ParameterList", "ParameterDict", "ParameterKeyError"]


class ParameterKeyError(KeyError, AttributeError):
    """A missing `ParameterDict` key: a KeyError, and the AttributeError torch raises (its
    ``__getitem__`` is a ``getattr``)."""

    __str__ = AttributeError.__str__  # KeyError's would print the message in quotes


def _as_parameter(value):
    """A plain Tensor becomes a `Parameter` (requires_grad=True), as torch's containers do;
    a Parameter, a Module or any other object is stored as it is."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _store(module: Module, op: str, name: str, value, replace: bool) -> None:
    """Register ``value`` under ``name``: a Parameter as a parameter, a Module as a child,
    anything else (None included) as a plain attribute. ``replace``: ``name`` is an entry of
    the container, dropped first; otherwise the name is checked as `register_parameter` does
    (a KeyError for a name the module already uses, such as "training" or "forward")."""
    if replace:
        module._forget(name, "")
    else:
        module._check_name(op, name, "_parameters")
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    elif isinstance(value, Module):
        module.add_module(name, value)
    else:
        object.__setattr__(module, name, value)


def _describe(p) -> str:
    """torch's line for one entry: ``Parameter containing: [float32 of size 2x3]``."""
    if isinstance(p, Tensor):
        size = "x".join(map(str, p.shape))
        device = f" ({p.device})" if p.device != "cpu" else ""
        kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
        return f"{kind} containing: [{p.dtype} of size {size}{device}]"
    return f"Object of type: {type(p).__name__}"


class ParameterList(Module):
    """A list of parameters registered on the module, as ``torch.nn.ParameterList``.

    Entry ``i`` is registered under the name ``str(i)`` (``named_parameters()`` gives "0",
    "1", ...; a parent sees "plist.0"). A plain Tensor inserted (constructor, ``append``,
    ``extend``, ``l[i] = t``) becomes a `Parameter` that requires grad; a Parameter is kept as
    the same object. As torch, there is no ``pop`` / ``insert`` / ``del``; it cannot be called.

    Example::

        ws = sg.nn.ParameterList([sg.randn(3, 3) for _ in range(2)])
        ws.append(sg.zeros(3))
        [name for name, _ in ws.named_parameters()]  # ['0', '1', '2']
    """

    def __init__(self, values: Iterable | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def _index(self, idx) -> int:
        try:
            idx = operator.index(idx)
        except TypeError:
            raise TypeError(f"ParameterList: expected an int index or a slice (got "
                            f"{type(idx).__name__} {idx!r})") from None
        if not -self._size <= idx < self._size:
            raise IndexError(f"ParameterList: index {idx} is out of range (length "
                             f"{self._size})")
        return idx % self._size

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(*idx.indices(self._size))])
        return getattr(self, str(self._index(idx)))

    def __setitem__(self, idx: int, param) -> None:
        _store(self, "ParameterList", str(self._index(idx)), _as_parameter(param), True)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator:
        return (self[i] for i in range(self._size))

    def __iadd__(self, parameters: Iterable) -> ParameterList:
        return self.extend(parameters)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, value) -> ParameterList:
        """Add ``value`` at the end (a plain Tensor becomes a Parameter)."""
        index = self._size
        object.__setattr__(self, "_size", index + 1)
        try:
            self[index] = value
        except BaseException:
            object.__setattr__(self, "_size", index)
            raise
        return self

    def extend(self, values: Iterable) -> ParameterList:
        """Append each of ``values`` (an iterable, not a Tensor)."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend: expected an iterable of parameters (got "
                            f"{type(values).__name__})")
        for value in values:
            self.append(value)
        return self

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called")

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): {_describe(p)}" for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters registered on the module, as ``torch.nn.ParameterDict``.

    Keys are strings without ".", each registered under its own name (``named_parameters()``
    gives the keys; a parent sees "pdict.key"). A plain Tensor inserted becomes a `Parameter`
    that requires grad. Insertion-ordered, except as in torch: ``update`` (and the
    constructor) given a plain ``dict`` (not an ``OrderedDict`` or ``ParameterDict``) adds its
    items in sorted key order. A missing key raises `ParameterKeyError`, both the KeyError of
    a dict and the AttributeError torch raises.

    Example::

        pd = sg.nn.ParameterDict({"scale": sg.ones(3), "shift": sg.zeros(3)})
        pd["extra"] = sg.randn(2)
        list(pd.keys())  # ['scale', 'shift', 'extra']
    """

    def __init__(self, parameters=None) -> None:
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _check_key(key) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: expected a str key (got {type(key).__name__} "
                            f"{key!r})")
        return key

    def _missing(self, key) -> ParameterKeyError:
        return ParameterKeyError(f"ParameterDict: no key {key!r} (keys: {list(self._keys)})")

    def __getitem__(self, key: str):
        if self._check_key(key) not in self._keys:
            raise self._missing(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        self._check_key(key)
        # stored first: a key the module already uses raises before it is listed
        _store(self, "ParameterDict", key, _as_parameter(value), key in self._keys)
        self._keys[key] = None

    def __delitem__(self, key: str) -> None:
        if self._check_key(key) not in self._keys:
            raise self._missing(key)
        del self._keys[key]
        self._forget(key, "")

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._keys))

    def __contains__(self, key) -> bool:
        return key in self._keys

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterDict should not be called")

    def keys(self):
        return self._keys.keys()

    def items(self):
        return ((k, self[k]) for k in self._keys)

    def values(self):
        return (self[k] for k in self._keys)

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def setdefault(self, key: str, default=None):
        """``self[key]``, first set to ``default`` when missing."""
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str):
        """Remove ``key`` and return its value."""
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple:
        """Remove and return the last inserted ``(key, value)``."""
        if not self._keys:
            raise ParameterKeyError("ParameterDict.popitem: the dict is empty")
        key = next(reversed(list(self._keys)))
        return key, self.pop(key)

    def clear(self) -> None:
        for key in list(self._keys):
            del self[key]

    def copy(self) -> ParameterDict:
        """A new ParameterDict holding the same parameter objects, in the same order."""
        return ParameterDict(OrderedDict((k, self[k]) for k in self._keys))

    @classmethod
    def fromkeys(cls, keys: Iterable[str], default=None) -> ParameterDict:
        return cls((k, default) for k in keys)

    def __or__(self, other: ParameterDict) -> ParameterDict:
        out = self.copy()
        out.update(other)
        return out

    def __ror__(self, other: ParameterDict) -> ParameterDict:
        out = other.copy()
        out.update(self)
        return out

    def __ior__(self, other) -> ParameterDict:
        self.update(other)
        return self

    def update(self, parameters) -> None:
        """Add (or replace) entries from a mapping or an iterable of ``(key, value)`` pairs;
        a plain ``dict`` is added in sorted key order, as torch does."""
        if isinstance(parameters, OrderedDict | ParameterDict):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        elif isinstance(parameters, str | Tensor | Module) or not isinstance(parameters,
                                                                              Iterable):
            raise TypeError(f"ParameterDict.update: expected a mapping or an iterable of "
                            f"(key, value) pairs (got {type(parameters).__name__})")
        else:
            pairs = []
            for i, pair in enumerate(parameters):
                if isinstance(pair, str) or not isinstance(pair, Iterable):
                    raise TypeError(f"ParameterDict.update: expected element {i} to be a "
                                    f"(key, value) pair (got {type(pair).__name__})")
                if len(pair := tuple(pair)) != 2:
                    raise ValueError(f"ParameterDict.update: expected element {i} to be a "
                                     f"(key, value) pair (got length {len(pair)})")
                pairs.append(pair)
        for key, value in pairs:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): {_describe(p)}" for k, p in self.items())
