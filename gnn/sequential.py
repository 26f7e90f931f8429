"""`Sequential`: PyG's sequential GNN container, whose entries read and write named values
(``'x, edge_index -> x1'``), so layers with several inputs and branching models (jumping
knowledge, readouts) are written as one list."""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from sparsegraph.nn import Module

__all__ = ["Sequential"]


class _Entry(NamedTuple):
    name: str  # the attribute / state_dict prefix ("module_0", or the dict key)
    in_names: tuple[str, ...]
    out_names: tuple[str, ...]


def _split_top(text: str) -> list[str]:
    """Split ``text`` at commas outside brackets (``Tuple[Tensor, Tensor]`` stays whole)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    if len(parts) > 1 and not parts[-1]:  # a trailing comma, as Python allows in a def
        parts.pop()
    return parts


def _is_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def _parse_input_args(input_args) -> tuple[str, ...]:
    """``'x: Tensor, edge_index -> Tensor'`` -> ``('x', 'edge_index')`` (hints ignored)."""
    if not isinstance(input_args, str):
        raise TypeError(f"Sequential: expected `input_args` to be a str such as "
                        f"'x, edge_index' (got {type(input_args).__name__})")
    args_repr, arrow, return_repr = input_args.partition("->")
    if "->" in return_repr or (arrow and not return_repr.strip()):
        raise ValueError(f"Sequential: cannot parse `input_args` {input_args!r}: expected "
                         f"'x, edge_index' with an optional '-> ReturnType'")
    names = []
    for arg in _split_top(args_repr):
        name, colon, hint = (s.strip() for s in arg.partition(":"))
        if "=" in arg:
            raise ValueError(f"Sequential: cannot parse `input_args` {input_args!r}: default "
                             f"values are not supported (got {arg!r}); pass every argument")
        if not _is_name(name) or (colon and not hint):
            raise ValueError(f"Sequential: cannot parse `input_args` {input_args!r}: expected "
                             f"an argument name with an optional ': type' (got {arg!r})")
        if name in names:
            raise ValueError(f"Sequential: duplicate argument {name!r} in `input_args` "
                             f"{input_args!r}")
        names.append(name)
    return tuple(names)


def _parse_desc(i: int, desc: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``'x, edge_index -> x1'`` -> ``(('x', 'edge_index'), ('x1',))``."""
    sides = desc.split("->")
    parsed = [_split_top(side) for side in sides]
    if len(sides) != 2 or not all(_is_name(n) for side in parsed for n in side):
        raise ValueError(f"Sequential: cannot parse the signature of entry {i} ({desc!r}): "
                         f"expected 'in_1, in_2, ... -> out_1, ...' with plain names, e.g. "
                         f"'x, edge_index -> x'")
    in_names, out_names = parsed
    if len(set(out_names)) != len(out_names):
        raise ValueError(f"Sequential: entry {i} ({desc!r}) names an output twice")
    return tuple(in_names), tuple(out_names)


def _callable_name(fn) -> str:
    return getattr(fn, "__name__", None) or repr(fn)  # a partial or callable object: its repr


class Sequential(Module):
    r"""PyG's ``torch_geometric.nn.Sequential``: ``torch.nn.Sequential`` for GNNs, whose
    entries take and give named values.

    ``input_args`` names the model's arguments (``'x, edge_index, batch'``; type hints such
    as ``'x: Tensor'`` and a ``'-> ReturnType'`` are accepted and ignored). Each entry of
    ``modules`` is a callable (a Module, a function, a lambda) or a pair ``(callable,
    'in_1, in_2 -> out')``: it is called with the named values and its result stored under
    the output name(s); ``'-> a, b'`` unpacks a returned tuple. An entry without a signature
    reads and writes the previous entry's outputs (the first entry: the first argument).
    ``forward`` binds its arguments by name as a Python function does and returns the last
    entry's result.

    Module entries are registered as ``module_0``, ``module_1``, ... (PyG's names; the keys when
    ``modules`` is a dict), so ``parameters()`` / ``state_dict()`` (``module_1.lin.weight``)
    see them; functions are kept as plain attributes. ``len``, ``model[i]``, iteration and
    ``reset_parameters()`` cover every entry.

    Args:
        input_args: the forward's argument names.
        modules: a list of entries, or a dict of name -> entry.

    Raises:
        TypeError: ``input_args`` is not a str, ``modules`` is not a list or dict.
        ValueError: an unparseable signature, a value read before any argument or earlier
            entry defines it, a non-callable entry (each naming the entry's index).

    Example::

        model = Sequential("x, edge_index", [
            (GCNConv(7, 16), "x, edge_index -> x"), ReLU(),
            (GCNConv(16, 3), "x, edge_index -> x"),
        ])
        out = model(x, edge_index)  # (N, 3)
    """

    def __init__(self, input_args: str, modules: list | tuple | Mapping) -> None:
        super().__init__()
        self.input_args = _parse_input_args(input_args)
        if isinstance(modules, Mapping):
            items = list(modules.items())
        elif isinstance(modules, list | tuple):
            items = [(f"module_{i}", m) for i, m in enumerate(modules)]
        else:
            raise TypeError(f"Sequential: expected `modules` to be a list of entries or a dict "
                            f"of name -> entry (got {type(modules).__name__})")
        if not items:
            raise ValueError("Sequential: expected a non-empty `modules` (got no entries)")
        self._entries: tuple[_Entry, ...] = ()  # set first: a key "_entries" is then refused
        defined = set(self.input_args)
        entries: list[_Entry] = []
        for i, (name, entry) in enumerate(items):
            fn, desc = self._unpack(i, entry)
            self._check_key(i, name)
            if desc is None:
                in_names = out_names = entries[-1].out_names if entries else self.input_args[:1]
            else:
                in_names, out_names = _parse_desc(i, desc)
                missing = [n for n in in_names if n not in defined]
                if missing:
                    raise ValueError(
                        f"Sequential: entry {i} ({desc!r}) reads {missing[0]!r} before it is "
                        f"defined: expected one of the arguments or an earlier entry's "
                        f"outputs ({', '.join(sorted(defined))})")
            defined.update(out_names)
            if isinstance(fn, Module):
                self.add_module(name, fn)
            else:
                object.__setattr__(self, name, fn)  # as PyG: reachable as model.module_5
            entries.append(_Entry(name, in_names, out_names))
        self._entries = tuple(entries)

    @staticmethod
    def _unpack(i: int, entry) -> tuple[Callable, str | None]:
        desc = None
        if isinstance(entry, tuple | list):
            if len(entry) == 2:
                entry, desc = entry
            elif len(entry) == 1:
                (entry,) = entry
            else:
                raise ValueError(f"Sequential: expected entry {i} to be a callable or a "
                                 f"(callable, 'in -> out') pair (got a {type(entry).__name__} "
                                 f"of length {len(entry)})")
        if desc is not None and not isinstance(desc, str):
            raise ValueError(f"Sequential: expected the signature of entry {i} to be a str "
                             f"such as 'x, edge_index -> x' (got {type(desc).__name__} "
                             f"{desc!r})")
        if isinstance(entry, type) and issubclass(entry, Module):
            raise ValueError(f"Sequential: expected entry {i} to be a module instance (got the "
                             f"class {entry.__name__}; write {entry.__name__}(...))")
        if not callable(entry):
            raise ValueError(f"Sequential: expected entry {i} to be callable (got "
                             f"{type(entry).__name__} {entry!r})")
        return entry, desc

    def _check_key(self, i: int, name) -> None:
        if not isinstance(name, str):
            raise TypeError(f"Sequential: expected the `modules` key of entry {i} to be a str "
                            f"(got {type(name).__name__} {name!r})")
        if not name or "." in name or name in self.__dict__ or hasattr(type(self), name) \
                or name in self._modules:
            raise ValueError(f"Sequential: cannot use {name!r} as the name of entry {i}: "
                             f"expected a new non-empty name without '.' (attribute names "
                             f"of Sequential are taken)")

    # ---- the entries ----------------------------------------------------------------------
    def _fn(self, entry: _Entry) -> Callable:
        module = self._modules.get(entry.name)
        return self.__dict__[entry.name] if module is None else module

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, idx: int) -> Callable:
        if isinstance(idx, bool) or not isinstance(idx, int):
            raise TypeError(f"Sequential: expected an int index (got {type(idx).__name__})")
        n = len(self._entries)
        if not -n <= idx < n:
            raise IndexError(f"Sequential: index {idx} is out of range (length {n})")
        return self._fn(self._entries[idx])

    def __iter__(self) -> Iterator[Callable]:
        return (self._fn(e) for e in self._entries)

    def reset_parameters(self) -> None:
        """Call ``reset_parameters()`` of every entry that has one."""
        for fn in self:
            if hasattr(fn, "reset_parameters"):
                fn.reset_parameters()

    # ---- forward --------------------------------------------------------------------------
    def _bind(self, args: tuple, kwargs: dict) -> dict:
        names = self.input_args
        if len(args) > len(names):
            raise TypeError(f"Sequential: forward takes {len(names)} argument(s) "
                            f"({', '.join(names)}) but {len(args)} were given")
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"Sequential: forward got an unexpected keyword argument "
                                f"{key!r} (its arguments: {', '.join(names)})")
            if key in values:
                raise TypeError(f"Sequential: forward got multiple values for argument {key!r}")
            values[key] = value
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"Sequential: forward is missing {len(missing)} required "
                            f"argument(s): {', '.join(map(repr, missing))}")
        return values

    def forward(self, *args, **kwargs):
        values = self._bind(args, kwargs)
        out = None
        for i, entry in enumerate(self._entries):
            out = self._fn(entry)(*[values[n] for n in entry.in_names])
            if len(entry.out_names) == 1:
                values[entry.out_names[0]] = out
                continue
            want = len(entry.out_names)
            sig = self._signature(entry)
            if not isinstance(out, tuple | list):
                raise TypeError(f"Sequential: entry {i} ({sig!r}) returned a "
                                f"{type(out).__name__}: expected a tuple of {want} values")
            if len(out) != want:
                raise ValueError(f"Sequential: entry {i} ({sig!r}) returned {len(out)} "
                                 f"values: expected {want}")
            values.update(zip(entry.out_names, out, strict=True))
        return out

    # ---- repr -----------------------------------------------------------------------------
    @staticmethod
    def _signature(entry: _Entry) -> str:
        return f"{', '.join(entry.in_names)} -> {', '.join(entry.out_names)}"

    def __repr__(self) -> str:
        lines = []
        for i, entry in enumerate(self._entries):
            fn = self._fn(entry)
            text = repr(fn) if isinstance(fn, Module) else _callable_name(fn)
            text = text.replace("\n", "\n  ")
            lines.append(f"  ({i}) - {text}: {self._signature(entry)}")
        return "Sequential(\n" + "\n".join(lines) + "\n)"
