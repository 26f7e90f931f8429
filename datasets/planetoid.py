"""Planetoid citation graphs (Cora, CiteSeer, PubMed)."""

from __future__ import annotations

import collections
import pickle

import numpy as np
import scipy.sparse as sp

from sparsegraph.datasets.base import Dataset, SingleGraph
from sparsegraph.datasets.root import check_bool, path_like
from sparsegraph.graph import Graph
from sparsegraph.sparse import from_scipy
from sparsegraph.transforms import RandomNodeSplit

try:  # numpy >= 2 moved the pickle helper; old pickles name numpy.core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct

# The only classes the Planetoid pickles need; anything else (os.system, eval, ...) is refused.
ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,
    ("scipy.sparse._csr", "csr_matrix"): sp.csr_matrix,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class RefusedPickle(pickle.UnpicklingError):
    """A pickle asked for a class outside the allowed set (possibly malicious)."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that admits only the numpy / scipy / collections classes in ``ALLOWED``."""

    def find_class(self, module, name):
        try:
            return ALLOWED[module, name]
        except KeyError:
            raise RefusedPickle(
                f"Planetoid: refusing to load {module}.{name} from a pickle (only numpy arrays, "
                "scipy CSR matrices and dict-of-lists graphs are allowed)") from None


def restricted_load(path):
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, encoding="latin1").load()
        except RefusedPickle:
            raise
        except Exception as exc:  # truncated / corrupt pickles raise many types
            raise ValueError(f"Planetoid: {path} is corrupt or truncated "
                             f"({type(exc).__name__}: {exc}); delete {path} and load again "
                             "to download it afresh (or replace it)") from None


def _check_parts(raw, parts, test_index, padded: bool) -> None:
    """Types and shapes the assembly relies on; a clear error naming the file otherwise."""
    def bad(s, what):
        raise ValueError(f"Planetoid: {raw[s]} {what}")

    for s in ("x", "tx", "allx"):
        if not sp.issparse(parts[s]):
            bad(s, f"is not a sparse feature matrix (got {type(parts[s]).__name__})")
    for s in ("y", "ty", "ally"):
        if not isinstance(parts[s], np.ndarray) or parts[s].ndim != 2:
            bad(s, f"is not a 2-D one-hot label array (got {type(parts[s]).__name__})")
    graph = parts["graph"]
    if not isinstance(graph, dict) or not all(isinstance(v, list | tuple)
                                              for v in graph.values()):
        bad("graph", f"is not a dict of neighbour lists (got {type(graph).__name__})")
    for feats, labels in (("x", "y"), ("tx", "ty"), ("allx", "ally")):
        if parts[feats].shape[0] != parts[labels].shape[0]:
            bad(labels, f"has {parts[labels].shape[0]} rows but {raw[feats].name} has "
                        f"{parts[feats].shape[0]}")
    width, classes = parts["allx"].shape[1], parts["ally"].shape[1]
    for s, got, want in (("x", parts["x"].shape[1], width), ("tx", parts["tx"].shape[1], width),
                         ("y", parts["y"].shape[1], classes),
                         ("ty", parts["ty"].shape[1], classes)):
        if got != want:
            bad(s, f"has {got} columns, expected {want} like {raw['all' + s[-1]].name}")
    n_all, n_test = parts["allx"].shape[0], parts["tx"].shape[0]
    if test_index.size != n_test or np.unique(test_index).size != n_test:
        bad("test.index", f"has {test_index.size} ids ({np.unique(test_index).size} distinct), "
                          f"expected {n_test} distinct ones (the rows of {raw['tx'].name})")
    top = n_all + (10 * n_test if padded else n_test)
    if test_index.size and (test_index.min() < n_all or test_index.max() >= top):
        bad("test.index", f"has ids outside [{n_all}, {top}) (got {test_index.min()}.."
                          f"{test_index.max()})")


SHA256 = {
    "cora": {"x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
             "y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
             "tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
             "ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
             "allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
             "ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
             "graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
             "test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875"},
    "citeseer": {"x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
                 "y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
                 "tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
                 "ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
                 "allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
                 "ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
                 "graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
                 "test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4"},
}
SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")


class Planetoid(SingleGraph, Dataset):
    """Citation graphs Cora, CiteSeer and PubMed of Yang et al., "Revisiting Semi-Supervised
    Learning with Graph Embeddings" (ICML 2016), assembled as in Kipf & Welling's GCN code.

    Test rows are reordered by ``test.index``; CiteSeer's 15 test ids without features are
    padded with zero rows (label -1) so it has 3327 nodes; the graph is symmetrised with
    duplicates and self loops removed.

    Features: ``data.x`` is a CSR SparseTensor (float32), where PyG's is dense; the layers
    and models take it as it is (the first ``x @ W`` runs as spmm). It has ``x.size(0)``,
    row selection (``x[data.train_mask]``, ``x[:n]``, ``x[ids]``, giving CSR SparseTensors)
    and ``x.sum(-1, keepdim=True)``; ``x.to_dense()`` gives a dense Tensor for anything else
    (``data.x = data.x.to_dense()`` for PyG code that needs one).

    Stats (nodes / directed edges / features / classes):
        Cora 2708 / 10556 / 1433 / 7;  CiteSeer 3327 / 9104 / 3703 / 6;
        PubMed 19717 / 88648 / 500 / 3.

    Args:
        name: "cora", "citeseer" or "pubmed" (any case).
        root: data root; files are read from ``<root>/planetoid/``.
        split: "public" (140/120/60 train per class set, 500 val, 1000 test), "full" (every
            labelled node outside val and test trains) or "random" (PyG's: a fresh draw of
            ``num_train_per_class`` training nodes per class, then ``num_val`` and
            ``num_test`` among the rest, from `sparsegraph.manual_seed`'s generator).
            Unlabelled nodes (y = -1) are in no mask.
        num_train_per_class, num_val, num_test: the "random" split's sizes (PyG's).
            (default: 20, 500, 1000)
        download: fetch missing files from the Planetoid repository.
        normalize_features: divide each feature row by its sum.
        transform / pre_transform: PyG's (see `Dataset`): e.g.
            ``transform=sparsegraph.transforms.NormalizeFeatures()``, run on each ``ds[0]``.
    """

    names = ("cora", "citeseer", "pubmed")
    folder = "planetoid"
    base_url = "https://github.com/kimiyoung/planetoid/raw/master/data/"

    def __init__(self, name: str = "cora", root=None, split: str = "public", *,
                 num_train_per_class: int = 20, num_val: int = 500, num_test: int = 1000,
                 download: bool = True, normalize_features: bool = False, cache_dir=None,
                 transform=None, pre_transform=None, force_reload: bool = False):
        if not isinstance(name, str) or name.lower() not in self.names:
            if isinstance(root, str) and (root.lower() in self.names or path_like(name)):
                # PyG's order, Planetoid(root, name) (its examples' call): the only reading
                # in which the call names a dataset (or, with a path first, names a wrong one)
                name, root = root, name
        if path_like(name) and root is None:
            raise ValueError(f"Planetoid: expected a dataset name as `name`, the first argument "
                             f"(got the path {str(name)!r}); sparsegraph's order is "
                             f"Planetoid(name, root), PyG's is Planetoid(root, name)")
        if not isinstance(name, str) or name.lower() not in self.names:
            raise ValueError(f"Planetoid: unknown name {name!r} (expected one of {self.names})")
        if split == "geom-gcn":
            raise ValueError("Planetoid: split='geom-gcn' needs Geom-GCN's ten split files, "
                             "which this loader does not read; use 'public', 'full' or "
                             "'random'")
        if split not in ("public", "full", "random"):
            raise ValueError(f"Planetoid: expected split 'public', 'full' or 'random' (got "
                             f"{split!r})")
        check_bool("Planetoid", "normalize_features", normalize_features)
        self.name, self.split, self.normalize_features = name.lower(), split, normalize_features
        sums = SHA256.get(self.name, {})
        self.files = {f"ind.{self.name}.{s}": sums.get(s) for s in SUFFIXES}
        # checked before any file is read; drawn after the graph is built, as PyG's
        random_split = RandomNodeSplit("random", 1, num_train_per_class, num_val, num_test)
        super().__init__(root, download=download, cache_dir=cache_dir, transform=transform,
                         pre_transform=pre_transform, force_reload=force_reload)
        self.graph = random_split(self._data) if split == "random" else self._data

    def parse(self) -> dict:
        raw = {s: self.raw_dir / f"ind.{self.name}.{s}" for s in SUFFIXES}
        x, y, tx, ty, allx, ally, graph = (restricted_load(raw[s]) for s in SUFFIXES[:7])
        try:
            test_index = np.loadtxt(raw["test.index"], dtype=np.int64, ndmin=1)
        except ValueError as exc:
            raise ValueError(f"Planetoid: {raw['test.index']} is not a list of integers "
                             f"({exc})") from None
        _check_parts(raw, dict(x=x, y=y, tx=tx, ty=ty, allx=allx, ally=ally, graph=graph),
                     test_index, padded=self.name == "citeseer")
        test_range = np.sort(test_index)
        if self.name == "citeseer":  # pad the isolated test ids that have no row in tx/ty
            full = np.arange(test_range.min(), test_range.max() + 1)
            tx_ext = sp.lil_matrix((full.size, tx.shape[1]), dtype=np.float32)
            tx_ext[test_range - full[0], :] = tx
            ty_ext = np.zeros((full.size, ty.shape[1]), dtype=ty.dtype)
            ty_ext[test_range - full[0], :] = ty
            tx, ty = tx_ext.tocsr(), ty_ext
        features = sp.vstack([allx, tx]).tocsr().astype(np.float32)
        order = np.arange(features.shape[0])
        order[test_index] = test_range
        features = features[order]
        onehot = np.vstack([ally, ty])[order]
        labels = np.where(onehot.any(1), onehot.argmax(1), -1).astype(np.int64)
        n = features.shape[0]
        src = np.repeat(np.fromiter(graph.keys(), np.int64, len(graph)),
                        [len(v) for v in graph.values()])
        dst = np.fromiter((d for v in graph.values() for d in v), np.int64, src.size)
        edges = np.concatenate([np.stack([src, dst]), np.stack([dst, src])], axis=1)
        edges = edges[:, edges[0] != edges[1]]
        edges = np.unique(edges[1] * n + edges[0])
        edge_index = np.stack([edges % n, edges // n])
        return {"x_data": features.data, "x_indices": features.indices,
                "x_indptr": features.indptr, "x_shape": np.array(features.shape),
                "y": labels, "edge_index": edge_index, "n_train": np.array(y.shape[0]),
                "test_index": test_range}

    def _build(self) -> Graph:
        a = self._arrays
        x = sp.csr_matrix((a["x_data"], a["x_indices"], a["x_indptr"]),
                          shape=tuple(a["x_shape"]))
        if self.normalize_features:
            rowsum = np.asarray(x.sum(1)).ravel()
            x = sp.diags(np.where(rowsum > 0, 1.0 / np.where(rowsum > 0, rowsum, 1), 0)) @ x
            x = x.astype(np.float32).tocsr()
        n, n_train = x.shape[0], int(a["n_train"])
        train, val, test = (np.zeros(n, bool) for _ in range(3))
        val[n_train:n_train + 500] = True
        test[a["test_index"]] = True
        if self.split in ("public", "random"):  # random: drawn over this one afterwards
            train[:n_train] = True
        else:
            train[:] = True
            train[val | test] = False
        labelled = np.asarray(a["y"]) >= 0  # CiteSeer's padded test ids (y = -1) are in no split
        train, val, test = train & labelled, val & labelled, test & labelled
        return Graph(x=from_scipy(x), edge_index=a["edge_index"], y=a["y"], num_nodes=n,
                     train_mask=train, val_mask=val, test_mask=test)

    def __repr__(self) -> str:
        return {"cora": "Cora()", "citeseer": "CiteSeer()", "pubmed": "PubMed()"}[self.name]
