"""Fetching raw files: canonical URL, sha256 check, atomic write, clear offline errors."""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys
import tempfile
import urllib.error
import urllib.request

from sparsegraph.datasets.root import DatasetUnavailable


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, dest: pathlib.Path, sha256: str | None, *, progress: bool = True,
          where: str | None = None) -> None:
    """Download ``url`` to ``dest`` through a temp file in the same folder; verify, then rename.

    ``where`` is what the offline error tells the user to do (default: put the file in the
    folder of ``dest``).

    Raises:
        DatasetUnavailable: the server could not be reached (offline): names URL and folder.
        ValueError: the checksum does not match (the download is deleted).
    """
    from tqdm import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=30)  # noqa: S310
            except (urllib.error.URLError, OSError) as exc:
                raise DatasetUnavailable(
                    f"could not download {url} ({exc}); "
                    + (where or f"put the file in {dest.parent}")) from None
            total = int(response.headers.get("Content-Length") or 0) or None
            h = hashlib.sha256()
            with response, tqdm(total=total, unit="B", unit_scale=True, desc=dest.name,
                                disable=not progress, file=sys.stderr, leave=False) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    h.update(block)
                    bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None and h.hexdigest() != sha256:
            raise ValueError(f"download: checksum mismatch for {dest.name} from {url}: expected "
                             f"sha256 {sha256}, got {h.hexdigest()}; the file was discarded")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def base_url(default: str, folder: str) -> str:
    """The download base: ``default``, or ``$SPARSEGRAPH_MIRROR/<folder>/`` when that is set
    (a local mirror of the data folder layout; the tests serve one on 127.0.0.1)."""
    mirror = os.environ.get("SPARSEGRAPH_MIRROR")
    return f"{mirror.rstrip('/')}/{folder}/" if mirror else default


# the Python remedy; the command line swaps it for its own flag (see cli/train.py)
DOWNLOAD_HINT = "(or pass download=True)"


def missing_error(folder: pathlib.Path, missing: list, url: str) -> DatasetUnavailable:
    return DatasetUnavailable(
        f"missing {', '.join(missing)} in {folder}; download from {url} and put the files "
        f"there {DOWNLOAD_HINT}, or set SPARSEGRAPH_DATA to a folder that has them")


def write_atomic(dest: pathlib.Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` through a temp file in the same folder and a rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
