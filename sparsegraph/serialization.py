"""`save` / `load` for state dicts and other nested containers of tensors, never via pickle.

A checkpoint is one ``.npz`` file: every Tensor / numpy array is a member, and the member
``__manifest__`` (JSON text stored as a uint8 array) describes the structure — dicts (str or int
keys, order kept), lists, tuples, numbers, strings, booleans and None — and points at the arrays.
Arrays are read with ``allow_pickle=False``. `save` writes a temporary file in the target
directory, fsyncs it and renames it over the target, so a crash or an unsupported object never
leaves a partial checkpoint nor clobbers an existing one.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import zipfile

import numpy as np

from sparsegraph import backend
from sparsegraph.tensor import Tensor, wrap

__all__ = ["save", "load"]

FORMAT = "sparsegraph-checkpoint-1"
MANIFEST = "__manifest__"


def _encode(obj, arrays: dict, where: str, path: dict | None = None):
    """The manifest node of ``obj``; ``path`` maps id -> key path of the containers being
    encoded right now, so a container inside itself is named instead of recursing forever."""
    if isinstance(obj, dict | list | tuple):
        path = {} if path is None else path
        if id(obj) in path:
            raise TypeError(f"save: {where} is the {type(obj).__name__} at {path[id(obj)]} "
                            "again (a self-referencing structure cannot be stored)")
        path[id(obj)] = where
        try:
            return _encode_container(obj, arrays, where, path)
        finally:
            del path[id(obj)]  # the same object twice side by side is fine (it is copied)
    if isinstance(obj, Tensor):
        arrays[key := f"a{len(arrays)}"] = np.asarray(obj.detach().__array__())
        return {"tensor": key}
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(f"save: cannot store an array of Python objects at {where} "
                            f"(dtype {obj.dtype}); only pickle could")
        arrays[key := f"a{len(arrays)}"] = obj
        return {"array": key}
    if isinstance(obj, np.generic) and not obj.dtype.hasobject:
        obj = obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return {"value": obj}
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {where} (supported: Tensor, "
                    "numpy array, dict, list, tuple, int, float, str, bool, None)")


def _encode_container(obj, arrays: dict, where: str, path: dict):
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, str | int):
                raise TypeError(f"save: dict keys must be str or int (got {type(k).__name__} "
                                f"key {k!r} at {where})")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]", path)])
        return {"dict": items}
    kind = "list" if isinstance(obj, list) else "tuple"
    return {kind: [_encode(v, arrays, f"{where}[{i}]", path) for i, v in enumerate(obj)]}


def _decode(node, arrays: dict):
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"malformed manifest node {node!r:.80}")
    (kind, body), = node.items()
    if kind == "tensor":
        return wrap(arrays[body])
    if kind == "array":
        return arrays[body]
    if kind == "dict":
        return {k: _decode(v, arrays) for k, v in body}
    if kind == "list":
        return [_decode(v, arrays) for v in body]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in body)
    if kind == "value":
        return body
    raise ValueError(f"unknown manifest node kind {kind!r}")


def _write(f, arrays: dict) -> None:
    np.savez(f, **arrays)


def save(obj, f) -> None:
    """Write ``obj`` — a state dict, an optimizer or scheduler state, or any nesting of
    dicts / lists / tuples of Tensors, numpy arrays and JSON scalars — to ``f``.

    Args:
        obj: what to store.
        f: a path (str or os.PathLike; written atomically) or a writable binary file object.

    Raises:
        TypeError: naming the key path of an object that cannot be stored without pickle
            (nothing is written then).
    """
    arrays: dict = {}
    root = _encode(obj, arrays, "obj")
    text = json.dumps({"format": FORMAT, "root": root})
    arrays[MANIFEST] = np.frombuffer(text.encode(), dtype=np.uint8)
    if hasattr(f, "write"):
        _write(f, arrays)
        return
    path = os.fspath(f)
    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never reuse another writer's file; mode 0o666 lets the umask apply, as open() does
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            _write(out, arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    """Make the rename durable (POSIX); best effort where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(f, map_location=None):
    """Read what `save` wrote: Tensors come back as Tensors (on the CPU, or on
    ``map_location``), numpy arrays as arrays, containers and scalars as themselves.

    Args:
        f: a path (str or os.PathLike) or a readable binary file object.
        map_location: a device ("cpu", "cuda", ...) for the Tensors. (default: CPU)

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a sparsegraph checkpoint (not an npz, no manifest, an
            unknown format), or it is truncated or corrupt.
    """
    if map_location is not None:  # before reading: a bad device must not pass as a dtype later
        try:
            map_location = backend.normalize_device(map_location)
        except ValueError:
            raise ValueError(f"load: expected `map_location` to be a device ('cpu', 'cuda' or "
                             f"'cuda:N') or None (got {map_location!r})") from None
    name = getattr(f, "name", "<file object>") if hasattr(f, "read") else os.fspath(f)
    if hasattr(f, "read"):
        obj = _read(f, name)
    else:
        with open(name, "rb") as fh:  # FileNotFoundError / PermissionError pass through
            obj = _read(fh, name)
    return obj if map_location is None else _to(obj, map_location)


def _read(fh, name: str):
    try:
        data = np.load(fh, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with data:
            if MANIFEST not in data.files:
                raise ValueError(f"no {MANIFEST} member")
            arrays = {k: data[k] for k in data.files}
        manifest = json.loads(arrays.pop(MANIFEST).tobytes().decode("utf-8"))
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if fmt != FORMAT:
            raise ValueError(f"unknown format {fmt!r}")
        return _decode(manifest["root"], arrays)
    except (ValueError, KeyError, TypeError, EOFError, OSError, zipfile.BadZipFile,
            io.UnsupportedOperation, RecursionError, NotImplementedError, RuntimeError) as exc:
        # (zipfile raises NotImplementedError / RuntimeError for damaged flags and methods)
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ValueError(f"load: {name} is not a sparsegraph checkpoint ({reason})") from None


def _to(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to(v, device) for v in obj)
    return obj
