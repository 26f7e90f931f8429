"""Transfers that fail half way (short body, reset, stall) and corrupt TU zips, against a
local misbehaving HTTP server on 127.0.0.1: a clear error naming URL and folder, nothing left."""

import re
import socket
import struct
import threading
import time

import pytest

from sparsegraph.datasets import DatasetUnavailable, Planetoid, TUDataset, download

BODY = b"x" * 200_000


def serve(mode: str, body: bytes = BODY):
    """A one-thread server answering every request per ``mode``: "truncate" (promise the full
    Content-Length, send half, close), "reset" (half, then RST), "stall" (100 bytes, then
    silence), "ok" (the whole body)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def run():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(body))
            if mode == "ok":
                conn.sendall(body)
            elif mode == "stall":
                conn.sendall(body[:100])
                stop.wait(2)
            else:
                conn.sendall(body[:len(body) // 2])
                if mode == "reset":  # linger 0: close sends RST
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    time.sleep(0.1)
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", lambda: (stop.set(), thread.join(),
                                                                  sock.close())


@pytest.fixture
def bad_server(monkeypatch):
    stops = []

    def start(mode, body=BODY):
        url, stop = serve(mode, body)
        stops.append(stop)
        monkeypatch.setenv("SPARSEGRAPH_MIRROR", url)
        return url

    yield start
    for stop in stops:
        stop()


def leftovers(folder):
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("mode, why", [
    ("truncate", r"the transfer ended after 100000 of 200000 bytes \(Content-Length\)"),
    ("reset", r"ConnectionResetError after \d+ bytes|ended after \d+ of 200000 bytes"),
    ("stall", r"TimeoutError after \d+ bytes: timed out"),
])
def test_failed_transfer_names_url_and_folder_and_leaves_nothing(tmp_path, bad_server,
                                                                 monkeypatch, mode, why):
    monkeypatch.setattr(download, "TIMEOUT", 1)
    url = bad_server(mode)
    root = tmp_path / "R"
    with pytest.raises(DatasetUnavailable) as info:
        Planetoid("pubmed", root=root, cache_dir=tmp_path / "c")
    msg = str(info.value)
    assert f"could not download {url}/planetoid/ind.pubmed." in msg
    assert str(root / "planetoid") in msg

    assert re.search(why, msg), msg
    assert leftovers(root) == []  # no partial file installed, no .part, no empty folder


def test_short_body_is_not_installed_and_a_good_server_then_works(tmp_path, bad_server):
    root = tmp_path / "R"
    dest = root / "f.bin"
    url = bad_server("truncate")
    with pytest.raises(DatasetUnavailable, match="ended after 100000 of 200000"):
        download.fetch(url + "/f.bin", dest, None, progress=False)
    assert leftovers(root) == []
    url = bad_server("ok")
    download.fetch(url + "/f.bin", dest, None, progress=False)
    assert dest.read_bytes() == BODY


def test_corrupt_stored_pickle_says_which_file_to_delete(tmp_path, data_root):
    import shutil

    folder = tmp_path / "planetoid"
    shutil.copytree(data_root / "planetoid", folder)
    # no sha256 is known for pubmed, so the parser is the check: pretend cora's graph is one
    path = folder / "ind.cora.graph"
    path.write_bytes(path.read_bytes()[:1000])
    from sparsegraph.datasets import planetoid
    with pytest.raises(ValueError, match=rf"{path} is corrupt or truncated .*delete {path} "
                                         "and load again"):
        planetoid.restricted_load(path)


@pytest.mark.parametrize("body", [b"garbage" * 100, b"PK\x03\x04" + b"\0" * 100])
def test_corrupt_tu_zip_names_dataset_url_and_remedy(tmp_path, bad_server, body):
    url = bad_server("ok", body)
    root = tmp_path / "R"
    with pytest.raises(ValueError, match=rf"TUDataset: the MUTAG download from {url}/TU/"
                                         r"MUTAG\.zip is not a valid zip archive .*nothing was "
                                         rf"written; .*{root / 'TU' / 'MUTAG'}"):
        TUDataset("MUTAG", root=root, cache_dir=tmp_path / "c")
    assert leftovers(root) == []
