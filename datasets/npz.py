"""Graphs stored as .npz: the SparseGraph format (gnn-benchmark, ppnp) and the heterophilous
benchmark format. Arrays only: ``allow_pickle=False`` always, object entries are never read."""

from __future__ import annotations

import zipfile

import numpy as np
import scipy.sparse as sp

from sparsegraph.datasets.base import Dataset, SingleGraph
from sparsegraph.datasets.root import check_bool
from sparsegraph.graph import Graph
from sparsegraph.sparse import from_scipy

# name -> (folder, file, sha256, base URL)
SOURCES = {
    "cora": ("gnn-benchmark", "cora.npz",
             "068e22d90c3849b4057dfb05851741428992af058efcd4e7ebb4186f3d581de2",
             "https://github.com/shchur/gnn-benchmark/raw/master/data/npz/"),
    "citeseer": ("gnn-benchmark", "citeseer.npz",
                 "280278b21b434c047922e8389518861416fb3ad39389c27865ff0e6bbb0aaab7",
                 "https://github.com/shchur/gnn-benchmark/raw/master/data/npz/"),
    "cora_ml": ("ppnp", "cora_ml.npz",
                "e3439bfd32c4a962d5c56a4f313793baee39181c208c90a3915b61183d3e1cda",
                "https://github.com/gasteigerjo/ppnp/raw/master/ppnp/data/"),
}
HETEROPHILOUS = {
    "actor": "c350eef06b2c2a9bf8218be2b57cac6d4003d0922eb597a039e9123f75817816",
    "chameleon": "4c640bd2877fc4f9f101531e2f977bc16445a54e09a5cb01178df608e552f3fd",
    "chameleon_filtered": "bf46f07e1fb5249280447e5fe3100f3e82fc4b93ad1e13ffcfdec924b6ac0bb5",
    "cornell": "684c54ba3daa13b0ba1f04a3d6dd1b1175c1ae9bdeb982851fd4ff96d3aac298",
    "squirrel": "d436e3b42c0546b105241c0ab0766097074e68e55f67b133eeb9b0162e55cbd9",
    "squirrel_filtered": "f06370ffb3116c5de8b7a600005400b2293c025e0ce2f6916d8201a825505ac7",
    "texas": "b164b99e6c3d43e4ab07488ec59bd8c815f90cbc1bd4cf425ce587d2b534d844",
    "tolokers": "dacf3ac94cec53d03cd2adb5255c08b33dee1656c33ca8164a464bd9450a1667",
    "wisconsin": "2543c89838cfc75f737f7c4664cc1d097f8268602c20b2d1bd4f21407df9c074",
}
for _name, _sha in HETEROPHILOUS.items():
    SOURCES[_name] = ("heterophilous", f"{_name}.npz", _sha,
                      "https://github.com/yandex-research/heterophilous-graphs/raw/main/data/")


def _csr(data, prefix: str, sep: str) -> sp.csr_matrix:
    get = lambda k: data[f"{prefix}{sep}{k}"]
    return sp.csr_matrix((get("data"), get("indices"), get("indptr")), shape=tuple(get("shape")))


class NpzGraph(SingleGraph, Dataset):
    """Node-classification graphs stored as .npz.

    * SparseGraph format (Shchur et al., "Pitfalls of Graph Neural Network Evaluation", 2018;
      Cora-ML from Bojchevski & Günnemann, ICLR 2018): CSR adjacency and features, labels.
      The stored adjacency is directed (citations); like PyG we symmetrise it and drop self
      loops (``undirected=False`` keeps the stored direction). No split is stored.
    * Heterophilous format (Platonov et al., ICLR 2023): dense features, an edge list stored
      once per undirected edge (symmetrised here), and 10 fixed splits as ``(10, N)`` masks.

    Stats (nodes / directed edges after symmetrising / features / classes): cora 2708 / 10556
    / 1433 / 7; citeseer 3312 / 9072 / 3703 / 6; cora_ml 2995 / 16316 / 2879 / 7; actor 7600
    / 53318 / 932 / 5; tolokers 11758 / 1038000 / 10 / 2; ...

    Args:
        name: one of ``NpzGraph.names``. root: data root. download: fetch when missing.
        undirected: symmetrise a SparseGraph file (default); ``False`` is refused for the
            heterophilous files, which have no edge direction.
        transform / pre_transform: PyG's, callables run on each ``ds[0]`` / once (see
            `Dataset`).
    """

    names = tuple(SOURCES)

    def __init__(self, name: str, root=None, *, undirected: bool = True,
                 download: bool = True, cache_dir=None, transform=None, pre_transform=None,
                 force_reload: bool = False):
        key = name.lower() if isinstance(name, str) else name
        if key not in SOURCES:
            raise ValueError(f"NpzGraph: unknown name {name!r} (expected one of "
                             f"{', '.join(self.names)})")
        check_bool("NpzGraph", "undirected", undirected)
        self.name, self.undirected = key, undirected
        self.folder, self.filename, sha, self.base_url = SOURCES[key]
        if not undirected and self.folder == "heterophilous":
            raise ValueError(f"NpzGraph: undirected=False is not available for {key!r}: the "
                             "heterophilous files store each undirected edge once, without a "
                             "direction")
        self.files = {self.filename: sha}
        super().__init__(root, download=download, cache_dir=cache_dir, transform=transform,
                         pre_transform=pre_transform, force_reload=force_reload)
        self.graph = self._data

    def cache_tag(self) -> str:
        return f"{self.name}:{self.undirected}"

    def parse(self) -> dict:
        path = self.raw_dir / self.filename
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                files = set(data.files)
                if "edges" in files:
                    return self._parse_heterophilous(data)
                sep = "_" if "adj_data" in files else "."
                prefix = ("adj", "attr") if sep == "_" else ("adj_matrix", "attr_matrix")
                adj = _csr(data, prefix[0], sep).tocoo()
                x = _csr(data, prefix[1], sep).astype(np.float32)
                labels = np.asarray(data["labels"]).astype(np.int64)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"NpzGraph: {path} is not a valid graph .npz "
                             f"({type(exc).__name__}: {exc})") from None
        edge_index = np.stack([adj.row, adj.col]).astype(np.int64)
        return {"edge_index": edge_index, "x_data": x.data, "x_indices": x.indices,
                "x_indptr": x.indptr, "x_shape": np.array(x.shape), "y": labels}

    def _parse_heterophilous(self, data) -> dict:
        edges = np.asarray(data["edges"]).astype(np.int64).T
        return {"edge_index": edges, "x": np.asarray(data["node_features"], np.float32),
                "y": np.asarray(data["node_labels"]).astype(np.int64),
                **{k: np.asarray(data[f"{k}s"]) for k in ("train_mask", "val_mask",
                                                         "test_mask")}}

    def _build(self) -> Graph:
        a = self._arrays
        if "x" in a:
            x = a["x"]
        else:
            x = from_scipy(sp.csr_matrix((a["x_data"], a["x_indices"], a["x_indptr"]),
                                         shape=tuple(a["x_shape"])))
        ei = a["edge_index"]
        if self.undirected or "train_mask" in a:  # heterophilous edges are stored once
            both = np.concatenate([ei, ei[::-1]], axis=1)
            both = both[:, both[0] != both[1]]
            n = x.shape[0]
            keys = np.unique(both[1] * n + both[0])
            ei = np.stack([keys % n, keys // n])
        masks = {k: a[k] for k in ("train_mask", "val_mask", "test_mask") if k in a}
        return Graph(x=x, edge_index=ei, y=a["y"], num_nodes=x.shape[0], **masks)

    def __repr__(self) -> str:
        return f"NpzGraph({self.name!r})"
