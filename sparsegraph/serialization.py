"""`save` / `load` for state dicts: one .npz (arrays + a JSON manifest), never pickle.

The manifest describes the nested structure (dicts, lists, tuples, numbers, strings, None) and
points at the arrays by key; files are written to a temporary name and renamed, so a crash or
an unsupported object never leaves a partial file or clobbers an existing one.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from sparsegraph.tensor import Tensor, wrap

FORMAT = "sparsegraph-checkpoint-1"


def _encode(obj, arrays: dict, path: str):
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(obj.detach().__array__())
        return {"tensor": key}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "O":
            raise TypeError(f"save: object arrays are not supported (at {path or 'root'})")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"array": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, str | int):
                raise TypeError(f"save: dict keys must be str or int (got {type(k).__name__} "
                                f"at {path or 'root'})")
            items.append([k, _encode(v, arrays, f"{path}.{k}" if path else str(k))])
        return {"dict": items}
    if isinstance(obj, list | tuple):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, np.generic):
        return {"value": obj.item()}
    if obj is None or isinstance(obj, bool | int | float | str):
        return {"value": obj}
    raise TypeError(f"save: cannot store {type(obj).__name__} at {path or 'root'} (supported: "
                    "Tensor, numpy array, dict, list, tuple, number, str, None)")


def _decode(node, arrays, as_tensor: bool):
    if "tensor" in node:
        return wrap(np.array(arrays[node["tensor"]]))
    if "array" in node:
        return np.array(arrays[node["array"]])
    if "dict" in node:
        return {k: _decode(v, arrays, as_tensor) for k, v in node["dict"]}
    if "list" in node:
        return [_decode(v, arrays, as_tensor) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, arrays, as_tensor) for v in node["tuple"])
    return node["value"]


def save(obj, path) -> None:
    """Write ``obj`` (a state dict, optimizer state, nested containers of tensors) to ``path``.

    Raises:
        TypeError: for an object that cannot be stored without pickle (nothing is written).
    """
    path = os.fspath(path)
    arrays: dict = {}
    manifest = {"format": FORMAT, "root": _encode(obj, arrays, "")}
    arrays["__manifest__"] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, map_location=None):
    """Read what `save` wrote. Tensors come back on the CPU (or ``map_location``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a sparsegraph checkpoint, or it is corrupt or truncated.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        manifest = json.loads(bytes(arrays.pop("__manifest__")).decode())
        if manifest.get("format") != FORMAT:
            raise ValueError(f"unknown format {manifest.get('format')!r}")
        obj = _decode(manifest["root"], arrays, True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError,
            json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"load: {path} is not a sparsegraph checkpoint or is corrupt "
                         f"({type(exc).__name__}: {exc})") from None
    if map_location is not None:
        obj = _to(obj, map_location)
    return obj


def _to(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to(v, device) for v in obj)
    return obj
