"""The kernel registry: (op, device type, format) -> named kernels with priorities.

Every computation on tensor data goes through here. An op registers a *generic* kernel written
against the array module (numpy or cupy, Chainer's ``xp``), named ``"generic"``; faster kernels
("scipy", "numba", "cupy") register beside it with a higher priority. :func:`dispatch` returns the
best available kernel, remembering the choice per key so the hot path is one dict lookup.

A choice can be forced for parity tests and benchmarks::

    with sg.kernels.use("generic"):       # every op that has a "generic" kernel uses it
        ...
    with sg.kernels.use(spmm="numba"):    # one op only

or for a whole process with ``SPARSEGRAPH_KERNELS="numba"`` / ``"spmm=numba,sddmm=generic"``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

ALIASES = {"numpy": "generic"}  # the generic kernel is plain numpy on the CPU
DEVICES = ("cpu", "cuda")  # device TYPES: "cuda:1" dispatches as "cuda"


@dataclass(frozen=True)
class Kernel:
    op: str
    device: str
    fmt: str | None
    name: str
    priority: int
    fn: Callable


_TABLE: dict[tuple[str, str, str | None], list[Kernel]] = {}
_CHOSEN: dict[tuple[str, str, str | None], Callable] = {}
_forced_all: tuple[str, ...] = ()
_forced_op: dict[str, str] = {}
_listeners: list[Callable] = []  # called as listener(op, device, fmt, kernel) on every dispatch


def register(
    op: str, *devices: str, name: str = "generic", priority: int = 0, fmt: str | None = None
) -> Callable[[Callable], Callable]:
    """Decorator: register ``fn`` as kernel ``name`` of ``op`` on each device type.

    Args:
        op: operator name, e.g. ``"spmm"``.
        devices: device types, ``"cpu"`` and/or ``"cuda"``.
        name: kernel name (``"generic"``, ``"scipy"``, ``"numba"``, ``"cupy"``, ...).
        priority: higher wins when nothing is forced. (default: 0)
        fmt: sparse format the kernel expects (``"csr"``, ``"coo"``) or None for dense.
    """
    if not devices:
        raise ValueError(f"register: expected at least one device for op {op!r}")
    bad = [d for d in devices if d not in DEVICES]
    if bad:
        raise ValueError(f"register: expected device types from {DEVICES} for op {op!r} (got "
                         f"{bad[0]!r})")

    def add(fn: Callable) -> Callable:
        if not callable(fn):
            raise TypeError(f"register: expected a callable kernel for op {op!r} (got "
                            f"{type(fn).__name__})")
        for device in devices:
            entries = _TABLE.setdefault((op, device, fmt), [])
            if any(k.name == name for k in entries):  # also trips if a package is imported twice
                raise ValueError(
                    f"register: kernel {name!r} for op {op!r} on {device!r} is already registered"
                )
            entries.append(Kernel(op, device, fmt, name, priority, fn))
            entries.sort(key=lambda k: -k.priority)
        _CHOSEN.clear()
        return fn

    return add


def _check_forced(names, per_op: dict, where: str) -> None:
    """Raise for a forced kernel name no op has, or an op / op kernel that does not exist."""
    import difflib

    known = sorted({k.name for entries in _TABLE.values() for k in entries})
    for name in names:
        if name not in known:
            raise ValueError(f"{where}: no kernel is named {name!r} (registered kernel names: "
                             f"{', '.join(known)}; alias: numpy = generic)")
    ops = {o for o, _, _ in _TABLE}
    for op, name in per_op.items():
        if op not in ops:
            near = difflib.get_close_matches(op, ops, n=3)
            raise ValueError(f"{where}: no op is named {op!r}"
                             + (f" (did you mean {', '.join(map(repr, near))}?)" if near else "")
                             + "; `sparsegraph info` lists every op and its kernels")
        have = sorted({k.name for (o, _, _), ks in _TABLE.items() if o == op for k in ks})
        if name not in have:
            raise ValueError(f"{where}: op {op!r} has no kernel {name!r} (it has: "
                             f"{', '.join(have)})")


# Packages that register kernels when they are imported, after the op library: an op named in
# SPARSEGRAPH_KERNELS that is still unknown is looked for there before it counts as a typo.
LATE_PACKAGES = ("sparsegraph.gnn",)


def check_environment() -> None:
    """Validate SPARSEGRAPH_KERNELS once the op library is loaded (the first dispatch does).

    Raises:
        ValueError: a malformed entry, a kernel name nobody has, or an op that does not exist
            (with "did you mean"), as `use` says it.
    """
    global _env_pending
    if not _env_pending:
        return
    import importlib

    importlib.import_module("sparsegraph.ops")  # every op library kernel is registered
    if _env_error:
        raise ValueError(f"SPARSEGRAPH_KERNELS: {_env_error}")
    if any(op not in {o for o, _, _ in _TABLE} for op in _forced_op):
        for package in LATE_PACKAGES:
            importlib.import_module(package)
    _check_forced(_forced_all, _forced_op, "SPARSEGRAPH_KERNELS")
    _env_pending = False


def _pick(op: str, device: str, fmt: str | None) -> Kernel:
    if _env_pending:
        check_environment()
    entries = _TABLE.get((op, device, fmt))
    if not entries:
        have = sorted({f"{d}/{f}" if f else d for (o, d, f) in _TABLE if o == op})
        raise NotImplementedError(
            f"{op}: no kernel for device {device!r}{f' and format {fmt!r}' if fmt else ''} "
            f"(available: {', '.join(have) or 'none'})"
        )
    wanted = _forced_op.get(op)
    if wanted is not None:
        for k in entries:
            if k.name == wanted:
                return k
        raise NotImplementedError(
            f"{op}: kernel {wanted!r} was forced but {device!r} has only "
            f"{[k.name for k in entries]}"
        )
    for wanted in _forced_all:
        for k in entries:
            if k.name == wanted:
                return k
    return entries[0]


def dispatch(op: str, device: str, fmt: str | None = None) -> Callable:
    """The kernel function to run ``op`` on ``device`` (a device type: "cpu" / "cuda")."""
    key = (op, device, fmt)
    fn = _CHOSEN.get(key)
    if fn is None:
        fn = _CHOSEN[key] = _pick(op, device, fmt).fn
    if _listeners:
        for listener in _listeners:
            listener(op, device, fmt, fn)
    return fn


def chosen(op: str, device: str = "cpu", fmt: str | None = None) -> str:
    """Name of the kernel :func:`dispatch` would pick now."""
    return _pick(op, device, fmt).name


def kernels(op: str, device: str = "cpu", fmt: str | None = None) -> list[Kernel]:
    """All kernels registered for a key, best first."""
    return list(_TABLE.get((op, device, fmt), ()))


def table() -> dict[str, list[Kernel]]:
    """Every registered kernel, grouped by op (for `sparsegraph info`)."""
    out: dict[str, list[Kernel]] = {}
    for entries in _TABLE.values():
        for k in entries:
            out.setdefault(k.op, []).append(k)
    return dict(sorted(out.items()))


def _parse(spec: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """``"numba"`` / ``"spmm=numba,sddmm=generic"`` -> (names, per-op names); ValueError for a
    malformed entry."""
    names, per_op = [], {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if "=" in part:
            op, _, name = (x.strip() for x in part.partition("="))
            if not op or not name or "=" in name:
                raise ValueError(f"expected entries 'kernel' or 'op=kernel' separated by commas "
                                 f"(got {part!r})")
            per_op[op] = ALIASES.get(name, name)
        else:
            names.append(ALIASES.get(part, part))
    return tuple(names), per_op


@contextlib.contextmanager
def use(*names: str, **per_op: str) -> Iterator[None]:
    """Force kernel choices inside a ``with`` block.

    Positional names are preferences tried in order for every op (an op without such a kernel
    keeps its default); keyword arguments force one op's kernel.

    A keyword forces that registry op only, and backward passes dispatch registry ops of their
    own: ``spmm``'s backward is ``spmm_backward`` (its generic form runs ``sddmm`` and
    ``spmm``), a softmax's is ``csr_softmax_backward`` (``sparsegraph info`` lists every op).
    To pin a forward and its backward, force both, e.g.
    ``use(spmm="generic", spmm_backward="generic", sddmm="generic")``; ``use("generic")``
    prefers the generic kernel for every op, forward and backward.

    Raises:
        ValueError: a name that no kernel has, an unknown op, or an op without that kernel
            (the message lists what exists).
    """
    global _forced_all, _forced_op
    names = tuple(ALIASES.get(n, n) for n in names)
    per_op = {op: ALIASES.get(n, n) for op, n in per_op.items()}
    _check_forced(names, per_op, "kernels.use")
    saved = _forced_all, _forced_op
    _forced_all = names + _forced_all
    _forced_op = {**_forced_op, **per_op}
    _CHOSEN.clear()
    try:
        yield
    finally:
        _forced_all, _forced_op = saved
        _CHOSEN.clear()


@contextlib.contextmanager
def listen(listener: Callable) -> Iterator[None]:
    """Call ``listener(op, device, fmt, fn)`` on every dispatch in the block (used by tracing)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


# NOTE: a bad value is reported at the first dispatch (or by `check_environment`), not here:
# an error at import would make even `sparsegraph info` unusable
try:
    _forced_all, _forced_op = _parse(os.environ.get("SPARSEGRAPH_KERNELS", ""))
    _env_error = None
except ValueError as _exc:
    _env_error = str(_exc)
_env_pending = bool(_forced_all or _forced_op or _env_error)


def forced_description() -> str:
    """The forced choices now, as SPARSEGRAPH_KERNELS spells them ("" when none)."""
    return ",".join([*_forced_all, *(f"{op}={name}" for op, name in _forced_op.items())])
