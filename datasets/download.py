"""Fetching raw files: canonical URL, sha256 check, atomic write, clear offline errors."""

from __future__ import annotations

import hashlib
import http.client
import os
import pathlib
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request

from sparsegraph.datasets.root import DatasetUnavailable, as_created

# a temp file / folder untouched this long belongs to a killed process (a live download
# writes every few seconds and times out after 30 s without data), so it is safe to remove
STALE_SECONDS = 600
TIMEOUT = 30  # seconds without data before a transfer is given up
NETWORK_ERRORS = (urllib.error.URLError, OSError, http.client.HTTPException)


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def clean_stale(folder: pathlib.Path, pattern: str) -> None:
    """Remove ``pattern`` temp files / folders in ``folder`` left by a killed download."""
    if not folder.is_dir():
        return
    now = time.time()
    for p in folder.glob(pattern):
        try:
            if now - p.stat().st_mtime < STALE_SECONDS:
                continue  # maybe another process's download in progress
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: the new download does not need it


def fetch(url: str, dest: pathlib.Path, sha256: str | None, *, progress: bool = True,
          where: str | None = None, shown: pathlib.Path | None = None) -> None:
    """Download ``url`` to ``dest`` through a temp file in the same folder; verify, then rename.

    ``where`` is what the network error tells the user to do (default: put the file in the
    folder of ``dest``); ``shown`` is the destination the error names instead of ``dest``
    (when ``dest`` lies in a temp folder that is gone by the time the user reads it). A body
    shorter than its Content-Length is refused (urllib does not
    raise on one), so a truncated file is never installed, with or without a checksum.

    Raises:
        DatasetUnavailable: the server could not be reached, or the connection failed during
            the transfer (reset, timeout, short body): names URL and folder.
        ValueError: the checksum does not match (the download is deleted).
    """
    from tqdm import tqdm

    def unavailable(why) -> DatasetUnavailable:
        return DatasetUnavailable(f"could not download {url} to {shown or dest} ({why}); "
                                  "nothing was written; "
                                  + (where or f"put the file in {dest.parent}"))

    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(dest.parent, f".{dest.name}.*.part")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    as_created(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=TIMEOUT)  # noqa: S310
            except NETWORK_ERRORS as exc:
                if isinstance(exc, urllib.error.HTTPError):
                    exc.close()  # it holds the error page's open connection
                raise unavailable(exc) from None
            total = int(response.headers.get("Content-Length") or 0) or None
            h, received = hashlib.sha256(), 0
            with response, tqdm(total=total, unit="B", unit_scale=True, desc=dest.name,
                                disable=not progress, file=sys.stderr, leave=False) as bar:
                while True:
                    try:  # only the network read: a local write error is not "offline"
                        block = response.read(1 << 16)
                    except NETWORK_ERRORS as exc:
                        raise unavailable(f"{type(exc).__name__} after {received} bytes: "
                                          f"{exc}") from None
                    if not block:
                        break
                    out.write(block)
                    h.update(block)
                    received += len(block)
                    bar.update(len(block))
            if total is not None and received != total:
                raise unavailable(f"the transfer ended after {received} of {total} bytes "
                                  "(Content-Length)")
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
    as_created(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
