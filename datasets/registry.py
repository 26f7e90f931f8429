"""Dataset names for the command line: one function that loads any of them for training."""

from __future__ import annotations

from sparsegraph.datasets import synthetic
from sparsegraph.datasets.karate import KarateClub
from sparsegraph.datasets.npz import NpzGraph
from sparsegraph.datasets.planetoid import Planetoid
from sparsegraph.datasets.root import DatasetUnavailable, check_bool
from sparsegraph.datasets.tu import TUDataset, stratified_kfold


def load_for_training(name: str, root=None, download: bool = True):
    """``(task, data, folds_fn)``: ``task`` is "node" (data: a Graph) or "graph" (data: a list
    of Graphs; folds_fn(labels, k, seed) gives stratified folds).

    Raises:
        DatasetUnavailable: files missing and not downloadable; says where to put them.
        ValueError: an unknown name (the message lists the known ones).
    """
    check_bool("load_for_training", "download", download)
    key = name.lower()
    if key == "karate":
        return "node", KarateClub()[0], None
    if key in Planetoid.names:
        return "node", Planetoid(key, root, download=download, normalize_features=True)[0], None
    if key.startswith("synthetic:"):
        preset = key.split(":", 1)[1]
        return "node", synthetic.to_graph(synthetic.load_synthetic(preset, root)), None
    if key in NpzGraph.names and key not in Planetoid.names:
        return "node", NpzGraph(key, root, download=download)[0], None
    if key.upper() in TUDataset.names:
        return "graph", TUDataset(key, root, download=download).graphs, stratified_kfold
    raise ValueError(f"unknown dataset {name!r} (expected one of {', '.join(known_datasets())})")


def without_split(name: str) -> bool:
    """Whether node dataset ``name`` comes without a stored train/val/test split (the
    SparseGraph-format npz graphs such as cora_ml), so training on it needs a split first."""
    from sparsegraph.datasets.npz import SOURCES

    key = name.lower()
    return (key in NpzGraph.names and key not in Planetoid.names
            and SOURCES[key][0] != "heterophilous")


def known_datasets() -> list[str]:
    """Every name `load_for_training` accepts (lower case)."""
    npz_only = [n for n in NpzGraph.names if n not in Planetoid.names]
    return ["karate", *Planetoid.names, *npz_only, *(n.lower() for n in TUDataset.names),
            *(f"synthetic:{p}" for p in synthetic.PRESETS)]


__all__ = ["DatasetUnavailable", "known_datasets", "load_for_training", "without_split"]
