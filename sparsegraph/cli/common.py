"""What the commands share: one argparse type per kind of value (so every ``--seed`` is
refused alike), the check of a folder flag (``--root``, ``--out``), the no-split refusal, the
rewrite of the datasets' Python advice into the command line's, and Ctrl-C: `sigint_handling`
(one "interrupted" line and status 130, even where numba swallows the KeyboardInterrupt) and
the `progress` bars that end a command at their next tick after such a Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pathlib
import sys


def checked(kind, ok, expected: str):
    """An argparse ``type``: ``kind(text)``, refused unless ``ok(value)`` (argparse then prints
    one line naming the flag and exits with status 2); a float must also be finite (``inf``
    passes ``> 0`` but trains on NaNs)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected} (got {text!r})") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {expected} (got {text}, which is not "
                                             f"a finite number)")
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected} (got {text})")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


SEED = checked(int, lambda v: v >= 0, "an int >= 0")  # numpy refuses negative seeds
POSITIVE_INT = checked(int, lambda v: v >= 1, "an int >= 1")


def path_type(what: str):
    """An argparse ``type`` for a path flag: an empty (or blank) path is refused, naming the
    flag (``Path("")`` is the current folder, and ``if args.json:`` skips ``''``: either way
    the user's ``''`` would be ignored, or written to a place they did not name). A leading
    ``~`` is expanded here, once (``--out=~/x`` reaches us unexpanded: the shell expands
    ``~`` only at the start of a word), so the checks and the writes see the same path."""

    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"expected {what} (got {text!r})")
        return os.path.expanduser(text)

    parse.__name__ = "path"
    return parse


FILE_PATH = path_type("a file path")
FOLDER_PATH = path_type("a folder path")


def folder_problem(flag: str, path: str, remedy: str = "pass a folder", *,
                   writable: bool = False) -> str | None:
    """Why ``path``, which ``flag`` names (``--root``, ``--out``, ``$SPARSEGRAPH_DATA``),
    cannot be a folder, in one line ending with ``remedy``: it, or a folder above it, is a
    file; with ``writable`` (an output folder) also: nothing can be written in it, or, when
    it is missing, in the folder it would be created in. None when it can be (a missing
    folder is fine: the command creates it). ``path`` is used as given (the flags' argparse
    type has expanded ``~``)."""
    folder = pathlib.Path(path)
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                what = "a file" if p == folder else f"inside {p}, a file"
                return f"{flag} {path} is {what}, not a folder; {remedy}"
            reason = unwritable(p) if writable else None
            if reason is None:
                return None
            if p == folder:
                return f"{flag}: {path} is not writable ({reason})"
            return f"{flag}: {path} cannot be created: {p} is not writable ({reason})"
    return None


def unwritable(folder) -> str | None:
    """Why no file can be created in the existing ``folder`` (None when one can): a file is
    created there and removed. ``os.access`` is not enough: root passes it for a read-only
    file system, /proc, or an immutable (``chattr +i``) folder."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=".sparsegraph-write-check.", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(name)
    return None


def file_problem(flag: str, path: str | None) -> str | None:
    """Why the file ``path``, which ``flag`` names (``--json``, ``--out``), cannot be written,
    in one line (None when it can, or for no path): said before the work, not as a traceback
    after it."""
    if path is None:  # (an empty path is refused by FILE_PATH, argparse's type)
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"{flag}: {path} is a directory; name a file in it"
    if not os.path.isdir(folder):
        return f"{flag}: the folder of {path} does not exist"
    reason = unwritable(folder)
    if reason is not None:
        return f"{flag}: the folder of {path} is not writable ({reason})"
    return None


def root_problem(root: str | None) -> str | None:
    """`folder_problem` of the data root, naming ``--root`` or ``$SPARSEGRAPH_DATA``
    (whichever supplies it, as `sparsegraph.datasets.root.data_root` picks it)."""
    if root is not None:
        return folder_problem("--root", root)
    given = os.environ.get("SPARSEGRAPH_DATA")  # unset or empty: the user cache, no flag's
    return folder_problem("$SPARSEGRAPH_DATA", os.path.expanduser(given), "point it at a "
                          "folder (or pass --root)") if given else None


def no_split_message(dataset: str, command: str = "train") -> str:
    """The refusal of a node dataset without a stored train/val/test split (cora_ml)."""
    return (f"sparsegraph {command}: {dataset} has no stored train/val/test split; pick a "
            "dataset that has one (cora, citeseer, pubmed, actor, texas, ...)")


def split_problem(dataset: str, command: str) -> str | None:
    """`no_split_message` when the registry says ``dataset`` has no stored split (the check
    `train --help`'s dataset list comes from), said before its files are read; else None."""
    from sparsegraph.datasets.registry import without_split

    return no_split_message(dataset, command) if without_split(dataset) else None


def node_dataset_problem(name: str) -> str | None:
    """Why ``name`` cannot be trained on as a node-classification dataset with a stored split
    (the benchmarks' full-batch epochs), in one line, said before any file is read: an
    unknown name, a graph-classification (TU) dataset, no stored split. None when it can."""
    from sparsegraph.datasets import TUDataset
    from sparsegraph.datasets.registry import known_datasets, without_split

    known = known_datasets()
    if name.lower() not in known:
        return f"unknown dataset {name!r} (expected one of {', '.join(known)})"
    if name.upper() in TUDataset.names:
        return (f"{name} is a graph-classification dataset; the benchmarked models "
                "classify nodes (cora, citeseer, synthetic:..., ...)")
    if without_split(name):
        return f"{name} has no stored train/val/test split to train on"
    return None


def dataset_message(exc: Exception, root: str | None, download_hint: str) -> str:
    """A dataset loader's error as the command line says it: the datasets' Python remedy
    ``(or pass download=True)`` becomes ``download_hint`` (the command's own flag, or ``""``),
    and the keyword `` `root` `` becomes the flag or variable that gave the root."""
    from sparsegraph.datasets.download import DOWNLOAD_HINT

    message = str(exc).replace(" " + DOWNLOAD_HINT, download_hint)
    return message.replace("`root`", "--root" if root is not None else "$SPARSEGRAPH_DATA")


def fetch_hint(dataset: str, root: str | None) -> str:
    """The download hint of commands that never download (`graph`, `bench models`): `train`
    is the command that fetches a dataset's files."""
    where = "" if root is None else f" --root {root}"
    return f" (or run `sparsegraph train --dataset {dataset}{where}` once, which downloads them)"


# ---- Ctrl-C ---------------------------------------------------------------------------------
class _Sigint:
    """Whether Ctrl-C came during this command. Python raises KeyboardInterrupt wherever the
    main thread is, and where that is a callback whose errors are only reported (llvmlite's
    ctypes callback while numba compiles a kernel, a ``__del__``), it is swallowed: the
    command would carry on, or fail later on the half-done compilation. The flag outlives
    that: `progress` bars raise again on their next tick, and `main` reports a failure that
    follows a Ctrl-C as the interruption it is."""

    seen = False


def _on_sigint(signum, frame):
    _Sigint.seen = True
    raise KeyboardInterrupt


def interrupted() -> bool:
    return _Sigint.seen


def raise_if_interrupted() -> None:
    """KeyboardInterrupt when Ctrl-C came and was swallowed (see `_Sigint`)."""
    if _Sigint.seen:
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigint_handling():
    """While a command runs: Ctrl-C sets the `_Sigint` flag as it raises, and a swallowed
    KeyboardInterrupt prints no "Exception ignored" traceback (the flag reports it). Left
    alone where Python's own handler is not the one installed (SIGINT ignored, as for a
    shell's background job, or a program's own handler) or off the main thread."""
    import signal
    import threading

    _Sigint.seen = False
    try:
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            yield
            return
        previous_handler, previous_hook = signal.getsignal(signal.SIGINT), sys.unraisablehook

        def hook(unraisable):
            if not isinstance(unraisable.exc_value, KeyboardInterrupt):
                previous_hook(unraisable)

        signal.signal(signal.SIGINT, _on_sigint)
        sys.unraisablehook = hook
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous_handler)
            sys.unraisablehook = previous_hook
    finally:
        # the Ctrl-C belonged to this command (`main` reads the flag inside the block): a
        # later command, progress bar or write in the same process (a notebook, the tests)
        # must not raise it again
        _Sigint.seen = False


def progress(total: int, desc: str, quiet: bool):
    """A tqdm bar on stderr that is gone when closed (use it in a ``with``: Ctrl-C then
    clears it before "interrupted" is printed), and whose every tick ends the command if a
    Ctrl-C was swallowed (`raise_if_interrupted`)."""
    from tqdm import tqdm

    class Bar(tqdm):
        def update(self, n=1):
            raise_if_interrupted()
            return super().update(n)

    return Bar(total=total, desc=desc, disable=quiet, file=sys.stderr, leave=False)
