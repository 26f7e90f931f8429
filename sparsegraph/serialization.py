"""`save` / `load` for state dicts and other nested containers of tensors, never via pickle.

A checkpoint is one ``.npz`` file: every Tensor / numpy array is a member, and the member
``__manifest__`` (JSON text stored as a uint8 array) describes the structure — dicts (str or int
keys, order kept), lists, tuples, numbers, strings, booleans and None — and points at the arrays.
A Tensor node records ``requires_grad`` and ``parameter`` when they are set (as torch.save
keeps them), a numpy scalar is a 0-d array marked ``scalar``; a manifest without these fields
(older checkpoints) loads as plain Tensors / arrays. Arrays are read with
``allow_pickle=False``, each after its header's shape x itemsize is checked against the bytes
stored, so a damaged header is a ValueError rather than a giant allocation. `save` writes a
temporary file in the target directory, fsyncs it and renames it over the target, so a crash or
an unsupported object never leaves a partial checkpoint nor clobbers an existing one.

`CORRUPT_DATA`, `read_npz` and `load_npy` are shared with the dataset caches and
`load_on_disk`, so every reader of .npy / .npz files treats damage the same way.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import secrets
import tokenize
import zipfile

import numpy as np

from sparsegraph import backend
from sparsegraph.tensor import Tensor, wrap

__all__ = ["save", "load"]

FORMAT = "sparsegraph-checkpoint-1"
MANIFEST = "__manifest__"
NAME_MAX = 255  # bytes in one file name (Linux, macOS, Windows): the temp name must fit too
# What a damaged .npy / .npz makes numpy and zipfile raise: numpy's header parser lets
# tokenize.TokenError / SyntaxError out, zipfile raises NotImplementedError (unknown method)
# and RuntimeError (encrypted member). Every reader catches this tuple and reports the file.
CORRUPT_DATA = (ValueError, OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile,
                tokenize.TokenError, SyntaxError, NotImplementedError, RuntimeError)
# optional node fields and their types (written only when set, so old files lack them)
FLAGS = {"tensor": {"requires_grad": bool, "parameter": bool}, "array": {"scalar": bool},
         "value": {"dtype": str}}
SCALAR_KINDS = "biuf"  # numpy scalars kept as a JSON value + dtype (floats <= 64 bits: exact)


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
        node = {"tensor": _store(arrays, np.asarray(obj.detach().__array__()))}
        from sparsegraph.nn.parameter import Parameter  # nn is not below serialization

        if isinstance(obj, Parameter):
            node.update(parameter=True, requires_grad=bool(obj.requires_grad))
        elif obj.requires_grad:  # written only when set: plain tensors stay readable by old code
            node["requires_grad"] = True
        return node
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(f"save: cannot store an array of Python objects at {where} "
                            f"(dtype {obj.dtype}); only pickle could")
        return {"array": _store(arrays, obj)}
    if isinstance(obj, np.generic) and not obj.dtype.hasobject:  # keeps its dtype (torch.save)
        if obj.dtype.kind in SCALAR_KINDS and obj.dtype.itemsize <= 8 or obj.dtype.kind == "U":
            return {"value": obj.item(), "dtype": obj.dtype.str}  # exact in JSON
        return {"array": _store(arrays, np.asarray(obj)),  # complex, longdouble, bytes, ...
                "scalar": True}
    if obj is None or isinstance(obj, bool | int | float | str):
        return {"value": obj}
    raise TypeError(f"save: cannot store a {type(obj).__name__} at {where} (supported: Tensor, "
                    "numpy array, dict, list, tuple, int, float, str, bool, None)")


def _store(arrays: dict, a: np.ndarray) -> str:
    """The member name of array ``a``: a new one, or the one ``a`` already has when the same
    array object comes again (tied weights: a state dict holds two tensors over one array),
    so it is stored once and loads as one array the tensors share, as torch.save keeps one
    storage. ``arrays`` holds every stored array, so no id is reused while saving."""
    key = arrays.by_id.get(id(a))
    if key is None:
        key = arrays.by_id[id(a)] = f"a{len(arrays)}"
        arrays[key] = a
    return key


class _Arrays(dict):
    """Member name -> array, with the names by array identity (`_store`)."""

    def __init__(self):
        super().__init__()
        self.by_id: dict = {}


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


def _decode(node, arrays: dict, device=None):
    """The object of a manifest node; Tensors are moved to ``device`` (when given) before
    requires_grad / Parameter are restored, so they come back as leaves there."""
    if not isinstance(node, dict) or not node:
        raise ValueError(f"malformed manifest node {node!r:.80}")
    kind, *extra = node  # the kind first, then its optional flags (JSON keeps the order)
    body = node[kind]
    flags = FLAGS.get(kind, {})
    if not all(k in flags and isinstance(node[k], flags[k]) for k in extra):
        raise ValueError(f"malformed manifest node {node!r:.80}")
    if kind == "tensor":
        t = wrap(arrays[body])
        t = t if device is None else t.to(device)
        if node.get("parameter"):
            from sparsegraph.nn.parameter import Parameter  # nn is not below serialization

            return Parameter(t, requires_grad=node.get("requires_grad", True))
        return t.requires_grad_(True) if node.get("requires_grad") else t
    if kind == "array":
        return arrays[body][()] if node.get("scalar") else arrays[body]
    if kind == "dict":
        return {k: _decode(v, arrays, device) for k, v in body}
    if kind == "list":
        return [_decode(v, arrays, device) for v in body]
    if kind == "tuple":
        return tuple(_decode(v, arrays, device) for v in body)
    if kind == "value":
        return body if "dtype" not in node else _scalar(body, node["dtype"])
    raise ValueError(f"unknown manifest node kind {kind!r}")


def _scalar(value, dtype: str):
    dtype = np.dtype(dtype)  # a bad name: TypeError, reported as a corrupt file
    if dtype.kind not in SCALAR_KINDS + "U" or isinstance(value, dict | list):
        raise ValueError(f"malformed numpy scalar {value!r:.40} of dtype {dtype}")
    return dtype.type(value)


def _write(f, arrays: dict) -> None:
    np.savez(f, **arrays)


def save(obj, f) -> None:
    """Write ``obj`` — a state dict, an optimizer or scheduler state, or any nesting of
    dicts / lists / tuples of Tensors, numpy arrays and scalars and JSON scalars — to ``f``.

    Tensors keep ``requires_grad`` and `nn.Parameter` stays a Parameter (``.grad`` is not
    stored), as with torch.save; numpy scalars keep their dtype. A path is replaced atomically:
    a symlink there is replaced by a regular file (its target is untouched).

    Args:
        obj: what to store.
        f: a path (str or os.PathLike; written atomically) or a writable binary file object.

    Raises:
        TypeError: naming the key path of an object that cannot be stored without pickle
            (nothing is written then), or a text-mode file object.
        FileNotFoundError: the parent directory of ``f`` does not exist.
        IsADirectoryError: ``f`` is a directory.
    """
    if isinstance(f, io.TextIOBase):  # checked first: nothing useful could be written
        raise TypeError(f"save: expected a binary file object (open(..., 'wb')) or a path "
                        f"(got the text-mode {type(f).__name__} {getattr(f, 'name', '')!r})")
    arrays = _Arrays()
    root = _encode(obj, arrays, "obj")
    text = json.dumps({"format": FORMAT, "root": root})
    arrays[MANIFEST] = np.frombuffer(text.encode(), dtype=np.uint8)
    if hasattr(f, "write"):
        _write(f, arrays)
        return
    path = os.fspath(f)
    directory, base = os.path.split(os.path.abspath(path))
    # errors name `path`, not the hidden temp file the user never asked for (torch's wording)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"save: parent directory {directory} does not "
                                "exist", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "save: expected a file path, got a directory",
                                path)
    tmp = os.path.join(directory, _temp_name(base))
    try:
        # O_EXCL: never reuse another writer's file; mode 0o666 lets the umask apply, as open()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, "wb") as out:
            _write(out, arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _naming(exc, path) from None
        raise
    _fsync_dir(directory)


def _temp_name(base: str) -> str:
    """``.BASE.HEX.tmp`` beside the target, its stem cut so the name fits in NAME_MAX bytes
    (a valid 250-byte target name must not fail for the 18 bytes the temp name adds)."""
    suffix = f".{secrets.token_hex(6)}.tmp"
    while base and len(os.fsencode(f".{base}{suffix}")) > NAME_MAX:
        base = base[:-1]  # by characters: a multi-byte character is never cut in half
    return f".{base}{suffix}"


def _naming(exc: OSError, path: str) -> OSError:
    """``exc`` (same type and errno) naming ``path`` instead of the temp file."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, f"save: cannot write the checkpoint ({exc.strerror})", path)


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


def load(f, map_location=None, *, weights_only=None):
    """Read what `save` wrote: Tensors come back as Tensors (on the CPU, or on
    ``map_location``) with their ``requires_grad`` and Parameters as `nn.Parameter`, numpy
    arrays and scalars as themselves, containers and scalars as themselves.

    `load` never unpickles: a checkpoint holds only arrays and a JSON manifest, so it is
    always as safe as ``torch.load(..., weights_only=True)``.

    Args:
        f: a path (str or os.PathLike) or a readable, seekable binary file object (read a
            pipe or socket into ``io.BytesIO`` first).
        map_location: a device ("cpu", "cuda", ...) for the Tensors (a RuntimeError, before
            reading, when it is not usable here, as torch.load's). (default: CPU)
        weights_only: accepted for torch compatibility (True, False or None); either way
            nothing is unpickled, so False does not allow arbitrary objects.

    Raises:
        FileNotFoundError: no such file.
        io.UnsupportedOperation: ``f`` is an unseekable file object (also a ValueError).
        ValueError: the file is not a sparsegraph checkpoint (not an npz, no manifest, an
            unknown format), or it is truncated or corrupt (the message names it).
    """
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"load: expected `weights_only` to be True, False or None (got "
                        f"{type(weights_only).__name__} {weights_only!r})")
    if map_location is not None:  # before reading: a bad device must not pass as a dtype later
        try:
            map_location = backend.normalize_device(map_location)
        except ValueError:
            raise ValueError(f"load: expected `map_location` to be a device ('cpu', 'cuda' or "
                             f"'cuda:N') or None (got {map_location!r})") from None
        if map_location != "cpu" and not backend.cuda_available():  # not the file's fault
            raise RuntimeError(f"load: map_location={str(map_location)!r} but no CUDA device is "
                               f"usable here ({backend.cuda_status()}); load with "
                               "map_location='cpu'")
    if not hasattr(f, "read"):
        name = os.fspath(f)
        with open(name, "rb") as fh:  # FileNotFoundError / PermissionError pass through
            return _read(fh, name, map_location)
    name = getattr(f, "name", None)  # os.fdopen's name is the descriptor, an int
    name = (name if isinstance(name, str) else f"<file descriptor {name}>"
            if isinstance(name, int) else f"<{type(f).__name__}>")
    if not (getattr(f, "seekable", lambda: False))():  # an npz is read from its end
        raise io.UnsupportedOperation(
            f"load: {name} is not seekable, and a checkpoint can only be read from a "
            "seekable file; read it into a buffer first: sg.load(io.BytesIO(f.read()))")
    return _read(f, name, map_location)


def _read(fh, name: str, device=None):
    try:
        arrays = read_npz(fh, required=MANIFEST)
        manifest = json.loads(arrays.pop(MANIFEST).tobytes().decode("utf-8"))
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if fmt != FORMAT:
            raise ValueError(f"unknown format {fmt!r}")
        return _decode(manifest["root"], arrays, device)
    except (*CORRUPT_DATA, KeyError, TypeError, io.UnsupportedOperation) as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ValueError(f"load: {name} is not a sparsegraph checkpoint ({reason})") from None


def check_npy_size(fh, size: int) -> None:
    """Refuse (ValueError) an .npy whose header declares more data than the ``size`` bytes
    stored (the header included); ``fh`` is at the start of the .npy and is left past its
    header. numpy would otherwise try to allocate whatever a damaged header says (petabytes).
    The header parser's own errors (ValueError, tokenize.TokenError, ...) pass through."""
    start = fh.tell()
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        return  # (3, 0): utf-8 field names, no public header reader; numpy checks the version
    stored = size - (fh.tell() - start)
    need = math.prod(shape) * dtype.itemsize
    if any(d < 0 for d in shape) or need > stored:
        raise ValueError(f"the .npy header declares shape {shape} of {dtype} ({need} bytes) "
                         f"but only {stored} bytes of data are stored")


def read_npz(fh, required: str | None = None) -> dict:
    """Every array of the .npz archive in the seekable binary file ``fh``, each checked with
    `check_npy_size` before it is read; ``required`` names a member that must be there.
    Raises one of `CORRUPT_DATA` for anything else (an .npy, a pickle, a damaged archive)."""
    magic = fh.read(6)
    fh.seek(-len(magic), io.SEEK_CUR)
    if magic.startswith(np.lib.format.MAGIC_PREFIX):
        raise ValueError("a single .npy array, not an .npz archive")
    if not magic.startswith(b"PK"):  # (numpy's own message would talk of allow_pickle)
        raise ValueError(f"not an .npz (zip) archive (starts with {magic!r})")
    data = np.load(fh, allow_pickle=False)
    with data:
        if required is not None and required not in data.files:
            raise ValueError(f"no {required} member")
        out = {}
        for key in data.files:
            member = f"{key}.npy" if f"{key}.npy" in data._files else key
            with data.zip.open(member) as m:
                check_npy_size(m, data.zip.getinfo(member).file_size)
            out[key] = data[key]
    return out


def load_npy(path, mmap_mode=None) -> np.ndarray:
    """``np.load(path, mmap_mode, allow_pickle=False)`` after `check_npy_size` against the
    file's size. Raises one of `CORRUPT_DATA` for a damaged file (FileNotFoundError too)."""
    with open(path, "rb") as fh:
        check_npy_size(fh, os.fstat(fh.fileno()).st_size)
        if mmap_mode is None:
            fh.seek(0)
            return np.load(fh, allow_pickle=False)
    return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)  # a map needs the path
