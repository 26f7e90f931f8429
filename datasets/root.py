"""Where datasets live: the ``root`` argument, else ``$SPARSEGRAPH_DATA``, else the user cache."""

from __future__ import annotations

import os
import pathlib

import numpy as np


class DatasetUnavailable(FileNotFoundError):
    """A dataset's files are missing and could not be downloaded; the message says how to get
    them (the URL and the folder to put them in)."""


def check_bool(op: str, name: str, value) -> None:
    """Refuse a non-bool option: truthiness would flip its meaning ("no" is true)."""
    if not isinstance(value, bool):
        raise TypeError(f"{op}: expected `{name}` to be True or False (got "
                        f"{type(value).__name__} {value!r})")


def check_int(op: str, name: str, value) -> None:
    """Refuse a non-int (a bool too) where a count or index is expected."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{op}: expected an int `{name}` (got {type(value).__name__} "
                        f"{value!r})")


def folder_arg(op: str, name: str, value) -> pathlib.Path:
    """``value`` as a folder path, ``~`` expanded (as PyG's ``osp.expanduser(root)``); anything
    but a str or os.PathLike is named, with its type."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{op}: expected `{name}` to be a folder path, a str or os.PathLike "
                        f"(got {type(value).__name__} {value!r})")
    return pathlib.Path(value).expanduser()


def data_root(root=None, op: str = "data_root") -> pathlib.Path:
    """``root``, else ``$SPARSEGRAPH_DATA``, else ``cache_dir() / "data"`` (``~`` expanded in
    each: a quoted ``SPARSEGRAPH_DATA="~/data"`` means the home folder, not ``./~``)."""
    if root is not None:
        return folder_arg(op, "root", root)
    env = os.environ.get("SPARSEGRAPH_DATA")
    if env:
        return pathlib.Path(env).expanduser()
    return cache_dir() / "data"


def cache_dir() -> pathlib.Path:
    """The user cache dir (``$XDG_CACHE_HOME/sparsegraph`` or ``~/.cache/sparsegraph``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return pathlib.Path(base).expanduser() / "sparsegraph"


def check_folder_path(op: str, name: str, given, folder: pathlib.Path) -> None:
    """Refuse a ``folder`` that cannot be a directory because it, or a folder above it, is a
    file (mkdir would fail later with a bare NotADirectoryError naming no argument)."""
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                raise NotADirectoryError(
                    f"{op}: expected `{name}` to be a folder, but {p} is a file (`{name}`="
                    f"{str(given)!r}); pass a folder path, or move the file")
            return


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; set straight back (at import, one thread)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def as_created(path, directory: bool = False) -> None:
    """Give a temp file or folder (mkstemp / mkdtemp make them owner-only) the mode a plain
    open() / mkdir would have given, 0666 / 0777 less the umask, before it is renamed into
    place: results and saved graphs are readable by whoever could read a normal file."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_UMASK)


def path_like(s) -> bool:
    """A path, not a dataset name: no dataset name has a path separator or starts with ``~`` /
    ``.`` (how the datasets read PyG's ``(root, name)`` argument order)."""
    return isinstance(s, pathlib.PurePath) or isinstance(s, str) and (
        "/" in s or "\\" in s or s.startswith(("~", ".")))
