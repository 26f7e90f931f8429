"""`Module` and `Parameter`: the containers of learnable state, as in PyTorch."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from sparsegraph import backend
from sparsegraph.tensor import Tensor, wrap


class Parameter(Tensor):
    """A Tensor that a `Module` registers as learnable when assigned as an attribute."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros(0, np.float32)
        array = data.array if isinstance(data, Tensor) else np.asarray(data)
        other = wrap(array)
        for slot in Tensor.__slots__[:-1]:
            setattr(self, slot, getattr(other, slot))
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __hash__ = Tensor.__hash__


class Module:
    """Base class of layers and models: registers parameters, buffers and submodules.

    Subclasses define ``forward``; calling the module calls it. ``state_dict`` /
    ``load_state_dict`` (strict key and shape checks), ``train`` / ``eval``, ``to`` and a
    readable ``repr`` tree work as in PyTorch.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- registration ---------------------------------------------------------------------
    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 "assigning attributes")
        for store in (self._parameters, self._buffers, self._modules):
            if name in store and not (store is self._buffers and isinstance(value, Tensor)):
                del store[name]
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: expected a Parameter for {name!r} "
                            f"(got {type(param).__name__})")
        else:
            self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """State that is saved in ``state_dict`` but not learned (e.g. running means)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: expected a Tensor for {name!r} "
                            f"(got {type(tensor).__name__})")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        self._modules[name] = module

    # ---- traversal ----------------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo=None) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def _named(self, store: str, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        seen = set()
        for mod_prefix, m in self.named_modules(prefix):
            for name, t in getattr(m, store).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        return self._named("_parameters", prefix)

    def parameters(self) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters())

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        return self._named("_buffers", prefix)

    def buffers(self) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers())

    # ---- modes and gradients ------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = wrap(p.grad.xp.zeros_like(p.grad.array))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn) -> Module:
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move / cast parameters and buffers in place (Parameter identity is kept)."""
        from sparsegraph.ops.convert import _parse_to

        device, dtype = _parse_to(args, dict(kwargs))
        for t in list(self.parameters()) + list(self.buffers()):
            a = t.array
            if dtype is not None and a.dtype.kind == "f":
                a = a.astype(backend.as_dtype(dtype))
            if device is not None:
                a = backend.to_device(a, backend.normalize_device(device))
            if a is not t.array:
                t.array, t.device = a, backend.device_of(a)
                t._version[0] += 1
                t.grad = None
        return self

    def float(self) -> Module:
        return self.to("float32")

    def double(self) -> Module:
        return self.to("float64")

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict:
        """Name -> Tensor for every parameter and buffer (sharing memory with the module)."""
        out = OrderedDict()
        for prefix, m in self.named_modules():
            for store in ("_parameters", "_buffers"):
                for name, t in getattr(m, store).items():
                    if t is not None:
                        out[f"{prefix}.{name}" if prefix else name] = t.detach()
        return out

    def load_state_dict(self, state: dict, strict: bool = True):
        """Copy values from ``state`` into the module's parameters and buffers.

        Raises:
            KeyError: with ``strict``, listing missing and unexpected keys.
            ValueError: naming a key whose shape differs.
        """
        own = {}
        for prefix, m in self.named_modules():
            for store in ("_parameters", "_buffers"):
                for name, t in getattr(m, store).items():
                    if t is not None:
                        own[f"{prefix}.{name}" if prefix else name] = t
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}; unexpected keys "
                           f"{unexpected}")
        for key in own.keys() & state.keys():
            src = state[key]
            array = src.array if isinstance(src, Tensor) else np.asarray(src)
            if tuple(array.shape) != tuple(own[key].shape):
                raise ValueError(f"load_state_dict: shape mismatch for {key!r}: expected "
                                 f"{tuple(own[key].shape)} (got {tuple(array.shape)})")
        for key in own.keys() & state.keys():
            src = state[key]
            array = src.array if isinstance(src, Tensor) else np.asarray(src)
            dst = own[key]
            dst.array[...] = backend.to_device(array, dst.device).astype(dst.dtype, copy=False)
            dst._version[0] += 1
        return missing, unexpected

    # ---- repr -----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        return head + "\n" + "\n".join(lines) + "\n)"
