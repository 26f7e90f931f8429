"""`Module`: the container of learnable state (parameters, buffers, submodules), as in PyTorch."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator

import numpy as np

from sparsegraph import backend
from sparsegraph.autograd.engine import zero_grads
from sparsegraph.nn.module_hooks import RemovableHandle, add_hook, call_with_hooks
from sparsegraph.nn.parameter import Parameter
from sparsegraph.tensor import TRACE, Tensor

__all__ = ["Module", "Parameter", "StateDictError"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _indent(text: str, spaces: int = 2) -> str:
    return text.replace("\n", "\n" + " " * spaces)


class StateDictError(RuntimeError, KeyError, ValueError):
    """`Module.load_state_dict`'s error: a RuntimeError, as PyTorch raises, that is also the
    KeyError (keys) and ValueError (shapes) this library raised before."""

    __str__ = RuntimeError.__str__  # KeyError's would print the message in quotes


class Module:
    """Base class of layers and models.

    Assigning a `Parameter` or a `Module` as an attribute registers it; ``register_buffer``
    registers non-learned state (saved in ``state_dict``). Subclasses define ``forward``;
    calling the module calls it. ``state_dict`` / ``load_state_dict`` (strict key and shape
    checks), ``train`` / ``eval``, ``to`` and a readable ``repr`` tree work as in PyTorch.

    Example::

        class MLP(sg.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = sg.nn.Linear(4, 2)

            def forward(self, x):
                return self.lin(x).relu()
    """

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = {}  # handle id -> (hook, with_kwargs)
        d["_forward_hooks"] = {}
        d["_backward_pre_hooks"] = {}
        d["_backward_hooks"] = {}

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: subclasses must define forward()")

    def __call__(self, *args, **kwargs):
        if TRACE.tracer is not None:  # static.compile guards the train / eval mode it saw
            TRACE.tracer.record_module(self)
        d = self.__dict__
        if (d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"]
                or d["_backward_pre_hooks"]):
            return call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ---- forward hooks (sparsegraph/nn/module_hooks.py) -------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``; it may return new args (a
        non-tuple is wrapped in a 1-tuple). With ``with_kwargs``: ``hook(module, args,
        kwargs)`` returning None or ``(args, kwargs)``. ``prepend`` runs it before the others.

        Returns a handle whose ``remove()`` unregisters the hook. A static trace refuses a
        module with hooks (a replay would not run their Python code).
        """
        return add_hook("register_forward_pre_hook", self._forward_pre_hooks, hook, prepend,
                        with_kwargs)

    def register_forward_hook(self, hook, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward``; a non-None return
        replaces the output. With ``with_kwargs``: ``hook(module, args, kwargs, output)``.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        return add_hook("register_forward_hook", self._forward_hooks, hook, prepend,
                        with_kwargs)

    def register_full_backward_pre_hook(self, hook, *, prepend: bool = False
                                        ) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients of the output are computed,
        before the module's backward; it may return new ``grad_output`` (a tuple, one per
        output tensor, None where the output got none). Returns the removing handle."""
        return add_hook("register_full_backward_pre_hook", self._backward_pre_hooks, hook,
                        prepend, False)

    def register_full_backward_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients of the module's
        inputs are computed; it may return a new ``grad_input``. grad_input has one entry per
        positional argument of the call (None for those that are not tensors requiring grad:
        keyword arguments are not seen), grad_output one per output tensor, as PyTorch's.
        Gradients of parameters are not among them (use ``Tensor.register_hook``).
        Returns the removing handle."""
        return add_hook("register_full_backward_hook", self._backward_hooks, hook, prepend,
                        False)

    def __setstate__(self, state: dict) -> None:
        """Unpickling: a module pickled before backward hooks existed gets their stores."""
        self.__dict__.update(state)
        for store in ("_backward_pre_hooks", "_backward_hooks"):
            self.__dict__.setdefault(store, {})

    # ---- registration ---------------------------------------------------------------------
    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from every store but ``keep`` (reassigning there keeps its position)."""
        d = self.__dict__
        d.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                d[store].pop(name, None)
        if keep != "_buffers":
            d["_non_persistent_buffers"].discard(name)

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter | Module):
            if params is None:
                raise AttributeError(f"{type(self).__name__}: cannot assign {name!r} before "
                                     "Module.__init__(); call super().__init__() first")
            store = "_parameters" if isinstance(value, Parameter) else "_modules"
            self._forget(name, store)
            d[store][name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} "
                                f"as parameter {name!r} (expected a Parameter or None)")
            params[name] = None
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} "
                                f"as child module {name!r} (expected a Module or None)")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} "
                                f"as buffer {name!r} (expected a Tensor or None)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # NOTE: only reached when normal lookup fails; kept short (it runs on every self.weight).
        d = self.__dict__
        if "_parameters" in d:
            for store in (d["_parameters"], d["_buffers"], d["_modules"]):
                if name in store:
                    return store[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if name in d[key]:
                del d[key][name]
                d["_non_persistent_buffers"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def _check_name(self, what: str, name, store: str) -> None:
        """Refuse a bad ``name`` for ``store`` ("_parameters", "_buffers" or "_modules")."""
        d = self.__dict__
        if "_parameters" not in d:  # the stores are read only after this (else AttributeError)
            raise AttributeError(f"{what}: cannot register {name!r} before Module.__init__(); "
                                 "call super().__init__() first")
        if not isinstance(name, str):
            raise TypeError(f"{what}: expected a str name (got {type(name).__name__})")
        if not name or "." in name:
            raise KeyError(f"{what}: expected a non-empty name without '.' (got {name!r})")
        # PyTorch's rule (`hasattr(self, name) and name not in store`): a member of another kind
        # (a buffer named like a parameter would drop it from parameters()), an instance
        # attribute, or a class attribute: `md["forward"] = m` would register a child that
        # `md.forward` never reaches, the method winning
        others = [d[s] for s in ("_parameters", "_buffers", "_modules") if s != store]
        if name not in d[store] and (name in d or hasattr(type(self), name)
                                     or any(name in other for other in others)):
            raise KeyError(f"{what}: attribute {name!r} already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None: an absent optional parameter) under ``name``."""
        self._check_name("register_parameter", name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: expected a Parameter or None for {name!r} "
                            f"(got {type(param).__name__})")
        self._forget(name, "_parameters")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register non-learned state (e.g. running means); ``persistent`` ones are saved in
        ``state_dict``."""
        self._check_name("register_buffer", name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: expected a Tensor or None for {name!r} "
                            f"(got {type(tensor).__name__})")
        self._forget(name, "_buffers")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` (or None) as a child under ``name``."""
        self._check_name("add_module", name, "_modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: expected a Module or None for {name!r} "
                            f"(got {type(module).__name__})")
        self._forget(name, "_modules")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` ("" is the module itself)."""
        mod = self
        for part in target.split(".") if target else ():
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"get_submodule: {type(mod).__name__} has no submodule "
                                     f"{part!r} (in {target!r})")
            mod = child
        return mod

    # ---- traversal ------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module and every descendant, pre-order."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, _join(prefix, name), remove_duplicate)

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def _named_members(self, store: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        seen = set()
        for mod_prefix, m in mods:
            for name, t in m.__dict__[store].items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield _join(mod_prefix, name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; a shared parameter is listed once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse=recurse))

    # ---- modes and gradients ----------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and (through their own ``train``) its children."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: expected a bool mode (got {mode!r})")
        self.__dict__["training"] = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero) every parameter's ``.grad``."""
        zero_grads(self, self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn: Callable[[Module], object]) -> Module:
        """Call ``fn`` on every submodule (children first) and on this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> Module:
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``: move / cast in place.

        Floating parameters and buffers are cast (integer buffers keep their dtype); every
        Parameter object is kept, so optimizers built before ``to`` still hold them. A changed
        tensor's version counter is bumped and its ``.grad`` is converted with it (the same
        grad object, as torch's ``_apply``), so ``loss.backward(); model.double();
        opt.step()`` still steps. ``non_blocking`` is accepted for PyTorch code and has no
        effect (every copy completes before ``to`` returns).
        """
        from sparsegraph.ops.convert import _parse_to

        device, dtype = _parse_to(args, dict(kwargs))
        dtype = None if dtype is None else backend.as_dtype(dtype)
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to: expected a floating dtype (got {dtype})")
        device = None if device is None else backend.normalize_device(device)
        def convert(t: Tensor) -> bool:
            a = t.array
            if dtype is not None and a.dtype.kind == "f" and a.dtype != dtype:
                a = a.astype(dtype)
            if device is not None and t.device != device:
                a = backend.to_device(a, device)
            if a is t.array:
                return False
            t.array, t.device = a, backend.device_of(a)
            t._version[0] += 1
            return True

        for t in list(self.parameters()) + list(self.buffers()):
            grad = t.grad
            if convert(t) and grad is not None:
                convert(grad)  # in place, as torch's `param.grad.data = fn(param.grad)`
        return self

    def float(self) -> Module:
        return self.to("float32")

    def double(self) -> Module:
        return self.to("float64")

    def half(self) -> Module:
        return self.to("float16")

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        """``to("cuda")``, or to CUDA device ``device`` (an int N or "cuda:N"), as torch's."""
        return self.to("cuda" if device is None else device)

    # ---- state ----------------------------------------------------------------------------
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter and persistent buffer, shared modules under each of their names."""
        d = self.__dict__
        for name, t in d["_parameters"].items():
            if t is not None:
                yield prefix + name, t
        for name, t in d["_buffers"].items():
            if t is not None and name not in d["_non_persistent_buffers"]:
                yield prefix + name, t
        for name, m in d["_modules"].items():
            if m is not None:
                yield from m._state_items(prefix + name + ".")

    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Dotted name -> Tensor for every parameter and persistent buffer.

        The tensors share memory with the module (detached unless ``keep_vars``).
        """
        return OrderedDict((k, t if keep_vars else t.detach())
                           for k, t in self._state_items(prefix))

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters and buffers (in place).

        Every key and shape is checked before anything is copied, so a failed load changes
        nothing. As PyTorch, a missing ``num_batches_tracked`` (a checkpoint of an older
        BatchNorm) keeps the module's own count.

        Returns:
            ``(missing_keys, unexpected_keys)``.

        Raises:
            StateDictError: a RuntimeError, as PyTorch's, listing every problem: with
                ``strict`` the missing and unexpected keys, and every shape mismatch (it is also
                a KeyError and a ValueError, the types raised before).
        """
        from collections.abc import Mapping

        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: {type(self).__name__}: expected a dict-like "
                            f"state_dict (got {type(state_dict).__name__})")
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict
                   and k.rsplit(".", 1)[-1] != "num_batches_tracked"]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
        updates = []
        for key, dst in own.items():
            if key not in state_dict:
                continue
            src = state_dict[key]
            if not isinstance(src, Tensor | np.ndarray | np.generic | int | float) or isinstance(
                    src, bool):
                raise TypeError(f"load_state_dict: the value for {key!r} is a "
                                f"{type(src).__name__}, not a Tensor or array")
            array = src.array if isinstance(src, Tensor) else np.asarray(src)
            if tuple(array.shape) != dst.shape:
                errors.append(f"size mismatch for {key!r}: copying a value of shape "
                              f"{tuple(array.shape)} from the state_dict, the shape in the "
                              f"module is {dst.shape}")
            updates.append((dst, array))
        if errors:
            raise StateDictError(f"load_state_dict: error(s) in loading state_dict for "
                                 f"{type(self).__name__}:\n\t" + "\n\t".join(errors))
        for dst, array in updates:
            dst.array[...] = backend.to_device(array, dst.device).astype(dst.dtype, copy=False)
            dst._version[0] += 1
        return IncompatibleKeys(missing, unexpected)

    # ---- repr -----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr``; override in layers."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): {_indent(repr(m))}" for name, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"
