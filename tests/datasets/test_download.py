"""The real download path against a local HTTP server on 127.0.0.1 (no other network)."""

import functools
import http.server
import shutil
import threading

import pytest

from sparsegraph.datasets import DatasetUnavailable, Planetoid
from sparsegraph.graph import Graph


@pytest.fixture
def serve():
    """Serve a folder on 127.0.0.1 for the duration of a test; yields its base URL."""
    servers = []

    def start(folder):
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *a, **k: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.dataset
def test_download_from_mirror_verifies_and_parses(data_root, tmp_path, serve, monkeypatch):
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", serve(data_root))
    root = tmp_path / "root"
    g = Planetoid("cora", root=root, download=True, cache_dir=tmp_path / "cache")[0]
    assert g.num_nodes == 2708 and g.num_edges == 10556
    names = sorted(p.name for p in (root / "planetoid").iterdir())
    assert names == sorted(f"ind.cora.{s}" for s in ("x", "y", "tx", "ty", "allx", "ally",
                                                      "graph", "test.index"))


@pytest.mark.dataset
def test_checksum_mismatch_rejects_the_file_and_leaves_nothing(data_root, tmp_path, serve,
                                                               monkeypatch):
    mirror = tmp_path / "mirror" / "planetoid"
    shutil.copytree(data_root / "planetoid", mirror)
    (mirror / "ind.cora.x").write_bytes(b"tampered")
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", serve(tmp_path / "mirror"))
    root = tmp_path / "root"
    with pytest.raises(ValueError, match="checksum mismatch for ind.cora.x"):
        Planetoid("cora", root=root, download=True, cache_dir=tmp_path / "cache")
    folder = root / "planetoid"  # removed again when the failed download left it empty
    leftovers = [p.name for p in folder.iterdir()] if folder.exists() else []
    assert "ind.cora.x" not in leftovers and not any(n.endswith(".part") for n in leftovers)


def test_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(DatasetUnavailable, match=r"could not download http://127\.0\.0\.1:9/"
                                                 r"planetoid/ind\.cora"):
        Planetoid("cora", root=tmp_path, download=True, cache_dir=tmp_path / "c")
    assert not (tmp_path / "planetoid").exists()  # no partial file, no empty folder left


@pytest.mark.dataset
def test_tu_zip_download_extracts_verified_members(data_root, tmp_path, serve, monkeypatch):
    import zipfile

    from sparsegraph.datasets import TUDataset

    mirror = tmp_path / "mirror" / "TU"
    mirror.mkdir(parents=True)
    with zipfile.ZipFile(mirror / "MUTAG.zip", "w") as z:
        for f in (data_root / "TU" / "MUTAG").iterdir():
            z.write(f, f"MUTAG/{f.name}")
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", serve(tmp_path / "mirror"))
    ds = TUDataset("MUTAG", root=tmp_path / "root", download=True, cache_dir=tmp_path / "c")
    assert len(ds) == 188
    with zipfile.ZipFile(mirror / "MUTAG.zip", "w") as z:  # now a tampered archive
        z.writestr("MUTAG/MUTAG_A.txt", "1, 2\n")
        for f in (data_root / "TU" / "MUTAG").iterdir():
            if f.name != "MUTAG_A.txt":
                z.write(f, f"MUTAG/{f.name}")
    with pytest.raises(ValueError, match="checksum mismatch for MUTAG_A.txt"):
        TUDataset("MUTAG", root=tmp_path / "root2", download=True, cache_dir=tmp_path / "c2")
    assert not (tmp_path / "root2" / "TU" / "MUTAG" / "MUTAG_A.txt").exists()


TINY_TU = {  # two graphs (3 and 2 nodes), every optional file of the TU format
    "A": "1, 2\n2, 1\n2, 3\n3, 2\n4, 5\n5, 4\n", "graph_indicator": "1\n1\n1\n2\n2\n",
    "graph_labels": "1\n-1\n", "node_labels": "0\n1\n2\n0\n1\n",
    "node_attributes": "0.5, 1.5\n1, 2\n3, 4\n5, 6\n7, 8\n",
    "edge_labels": "0\n1\n1\n0\n2\n2\n", "edge_attributes": "1\n2\n3\n4\n5\n6\n",
    "graph_attributes": "3.0\n4.0\n",
}


def test_any_tu_name_downloads_every_optional_file_of_its_zip(tmp_path, serve, monkeypatch):
    import zipfile

    from sparsegraph.datasets import TUDataset

    (tmp_path / "mirror" / "TU").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "mirror" / "TU" / "MYTU.zip", "w") as z:
        for kind, text in TINY_TU.items():
            z.writestr(f"MYTU/MYTU_{kind}.txt", text)
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", serve(tmp_path / "mirror"))
    ds = TUDataset("MYTU", root=tmp_path / "root", cache_dir=tmp_path / "c")
    installed = sorted(p.name for p in (tmp_path / "root" / "TU" / "MYTU").iterdir())
    assert installed == sorted(f"MYTU_{kind}.txt" for kind in TINY_TU)
    g = ds[0]
    assert g.x.shape == (3, 5)  # 3 one-hot node labels, then 2 node attributes
    assert g.x.numpy()[0].tolist() == [1, 0, 0, 0.5, 1.5]
    assert g.edge_attr.shape == (4, 4)  # 3 one-hot edge labels, then 1 edge attribute
    assert ds[1].graph_attr.numpy().tolist() == [[4.0]]
    assert ds[0].y.numpy().tolist() == [1] and ds[1].y.numpy().tolist() == [0]
    batch = Graph.batch(ds[:])
    assert batch.graph_attr.numpy().tolist() == [[3.0], [4.0]]


def test_tu_download_error_names_the_dataset_folder_not_a_temp_path(tmp_path, serve,
                                                                   monkeypatch):
    from sparsegraph.datasets import TUDataset

    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv("SPARSEGRAPH_MIRROR", serve(tmp_path / "mirror"))  # 404 for every file
    root = tmp_path / "root"
    with pytest.raises(DatasetUnavailable, match=r"404") as info:
        TUDataset("MYTU", root=root, cache_dir=tmp_path / "c")
    message = str(info.value)
    assert f"to {root / 'TU' / 'MYTU'} (" in message and ".download." not in message
