"""Folders of .npy arrays written whole: built in a temp folder beside the destination, then
renamed into place. Only a folder such a save wrote (or an empty one) is ever replaced."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pathlib
import shutil
import tempfile

from sparsegraph.datasets.root import as_created, check_folder_path, folder_arg

ONDISK = "sparsegraph-ondisk"  # save_on_disk: a graph
ARRAYS = "sparsegraph-arrays"  # synthetic.save: a dict of arrays (a preset is a graph too)
MARKERS = (ONDISK, ARRAYS)
INSTALL_ATTEMPTS = 5  # concurrent saves of one folder: each retry follows another's rename


def _meta(folder: pathlib.Path):
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def written_here(folder: pathlib.Path, *, cache: bool = False) -> bool:
    """Whether replacing ``folder`` loses nothing a user made: it is empty, or it holds only
    meta.json and .npy files and its meta.json has a save's format marker or (a save from
    before the marker) lists exactly those .npy files. ``cache``: a folder at a path only
    this package uses (a preset cache) also counts with a damaged or missing meta.json."""
    try:
        entries = list(folder.iterdir())
    except OSError:  # not a folder (a file), or gone meanwhile
        return False
    if not entries:
        return True
    if not all(p.is_file() and (p.name == "meta.json" or p.suffix == ".npy") for p in entries):
        return False  # anything else may be the user's
    if cache:
        return True
    meta = _meta(folder)
    if not isinstance(meta, dict):
        return False
    listed = meta.get("arrays")
    return meta.get("format") in MARKERS or (
        isinstance(listed, list) and {p.name for p in entries}
        == {"meta.json", *(f"{a}.npy" for a in listed)})


def _identity(path: pathlib.Path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def check_replaceable(op: str, folder: pathlib.Path, *, cache: bool = False) -> None:
    """Refuse a ``folder`` that exists and is not a save (user files, or a regular file).

    Another process's save may swap the folder while it is read; only a verdict on one and
    the same folder (its inode unchanged across the reading) refuses."""
    for _ in range(INSTALL_ATTEMPTS):
        before = _identity(folder)
        if before is None or written_here(folder, cache=cache):
            return  # (absent: nothing to lose)
        if _identity(folder) == before:
            break
    what = "a file" if not folder.is_dir() else (
        "a folder with files other than the meta.json and .npy arrays that save_on_disk / "
        "synthetic.save write")
    raise ValueError(f"{op}: {folder} exists and is not a saved graph ({what}); remove it or "
                     "choose another folder")


def temp_folder(folder: pathlib.Path) -> pathlib.Path:
    """A new temp folder beside ``folder`` (same file system: the final rename is atomic),
    with the mode a plain mkdir would give."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    as_created(tmp, directory=True)
    return tmp


def install(op: str, tmp: pathlib.Path, folder: pathlib.Path, *, done=None,
            cache: bool = False) -> None:
    """Move the complete ``tmp`` to ``folder``. An earlier save there is renamed aside first
    and removed only after the rename succeeds, so it is never deleted before its replacement
    is in place: when the rename fails, it is moved back and the error raised; anything else
    there is refused (`check_replaceable`). ``done(folder)`` true: another process has already
    put a good copy there, so ``tmp`` is dropped instead (a cache)."""
    for _ in range(INSTALL_ATTEMPTS):
        if done is not None and done(folder):
            shutil.rmtree(tmp, ignore_errors=True)
            return
        old = None
        try:
            if folder.exists() or folder.is_symlink():
                check_replaceable(op, folder, cache=cache)
                old = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.",
                                                    dir=folder.parent))
                try:
                    os.replace(folder, old / "saved")
                except FileNotFoundError:
                    pass  # another process moved it aside first
            os.replace(tmp, folder)
        except OSError as exc:
            if old is not None:
                _restore(old, folder)
                old = None
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            continue  # another process renamed its own copy into place between our renames
        except BaseException:
            if old is not None:
                _restore(old, folder)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return
    raise OSError(errno.EBUSY, f"{op}: {folder} kept being replaced by other processes; try "
                  "again")


def _restore(old: pathlib.Path, folder: pathlib.Path) -> None:
    """Put the earlier save that `install` moved aside (``old/saved``) back at ``folder``.
    When ``folder`` is taken again (another process installed its copy meanwhile) the earlier
    save is stale and dropped; when it cannot be moved back otherwise, it stays in ``old``."""
    saved = old / "saved"
    for _ in range(INSTALL_ATTEMPTS):
        if not (saved.exists() or saved.is_symlink()):
            break
        try:
            os.replace(saved, folder)
            break
        except OSError:
            if folder.exists() or folder.is_symlink():
                break  # another process's copy is in place: ours is stale
            # taken when we tried, moved aside by yet another process since: try again (a
            # return here left `old` behind for good)
    else:
        return  # kept aside in `old`: never delete the only copy
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def writing(op: str, folder, *, cache: bool = False, done=None):
    """Write a save into ``folder`` (str or os.PathLike; ``~`` expanded): checks the path and
    that ``folder`` is replaceable before anything is written, yields ``(tmp, folder)`` — a
    temp folder beside it to write into, and the resolved destination — and, on a clean exit
    only, installs ``tmp`` as ``folder`` (`install`, with ``cache`` / ``done``). The temp
    folder is always removed."""
    path = folder_arg(op, "folder", folder)
    check_folder_path(op, "folder", folder, path.parent)
    check_replaceable(op, path, cache=cache)
    tmp = temp_folder(path)
    try:
        yield tmp, path
        install(op, tmp, path, done=done, cache=cache)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
