"""Seeded synthetic graphs at real sizes: a degree-corrected planted-partition model.

Nodes get a class and a power-law (Zipf) degree weight; each undirected edge picks its first
end by weight and its second end by weight inside the same class with probability
``homophily`` (else anywhere), so labels are predictable from the graph; features are a class
mean plus Gaussian noise, so they are informative too. Everything is vectorised and generated
in chunks of edges (memory O(E), never O(N^2)); the edge count is exact (duplicates and self
loops are dropped and refilled). Presets match the sizes of real benchmarks.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile

import numpy as np

from sparsegraph.datasets.root import cache_dir

PRESETS = {  # nodes, directed edges, features, classes (the real datasets' sizes)
    "pubmed": (19_717, 88_648, 500, 3),
    "arxiv": (169_343, 2_315_598, 128, 40),
    "products": (2_449_029, 123_718_280, 100, 47),
}
CHUNK = 1 << 22  # edges drawn per vectorised step


def _class_tables(y, weights, num_classes):
    """Per class: its nodes sorted, and the cumulative weights for inverse-CDF sampling."""
    order = np.argsort(y, kind="stable")
    bounds = np.searchsorted(y[order], np.arange(num_classes + 1))
    cdf = np.cumsum(weights[order])
    return order, bounds, cdf


def _sample_in_classes(rng, classes, order, bounds, cdf):
    """One node per entry of ``classes``, by weight within that class."""
    first, last = bounds[classes], bounds[classes + 1] - 1
    lo = np.where(first > 0, cdf[np.maximum(first - 1, 0)], 0.0)
    hi = cdf[last]
    u = lo + rng.random(classes.size) * (hi - lo)
    pos = np.searchsorted(cdf, u, side="right")
    return order[np.clip(pos, first, last)]


def _undirected_keys(rng, n, target, y, weights, homophily, num_classes):
    """``target`` distinct keys ``u * n + v`` (u < v) of undirected edges."""
    order, bounds, cdf = _class_tables(y, weights, num_classes)
    all_cdf = np.cumsum(weights)
    keys = np.empty(0, np.int64)
    stalled = 0
    while keys.size < target:
        if stalled > 100:  # pragma: no cover - generate() checks the bounds it knows
            raise RuntimeError(f"synthetic: no new edges after 100 rounds ({keys.size} of "
                               f"{target} undirected edges placed)")
        before = keys.size
        total = int((target - keys.size) * 1.15) + 16  # extra for duplicates and loops
        batches = []
        for start in range(0, total, CHUNK):
            m = min(CHUNK, total - start)
            u = np.minimum(np.searchsorted(all_cdf, rng.random(m) * all_cdf[-1], "right"), n - 1)
            same = rng.random(m) < homophily
            v = np.empty(m, np.int64)
            v[same] = _sample_in_classes(rng, y[u[same]], order, bounds, cdf)
            k = int((~same).sum())
            v[~same] = np.minimum(np.searchsorted(all_cdf, rng.random(k) * all_cdf[-1],
                                                  "right"), n - 1)
            ok = u != v
            a, b = np.minimum(u[ok], v[ok]), np.maximum(u[ok], v[ok])
            batches.append(a.astype(np.int64) * n + b)
        keys = np.unique(np.concatenate([keys, *batches]))
        stalled = stalled + 1 if keys.size == before else 0
    if keys.size > target:  # drop a random surplus so the count is exact
        keys = np.sort(rng.choice(keys, target, replace=False))
    return keys


def _check_args(**args) -> None:
    """Integers where counts are meant, fractions inside their ranges; the edge count fits."""
    for key in ("num_nodes", "num_edges", "num_features", "num_classes"):
        v = args[key]
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise TypeError(f"synthetic.generate: expected an int `{key}` (got {v!r})")
        if v < (1 if key in ("num_nodes", "num_classes") else 0):
            raise ValueError(f"synthetic.generate: expected `{key}` >= "
                             f"{1 if key in ('num_nodes', 'num_classes') else 0} (got {v})")
    n, e = args["num_nodes"], args["num_edges"]
    if e % 2:
        raise ValueError(f"synthetic.generate: expected an even directed edge count `num_edges` "
                         f"(got {e})")
    if e > n * (n - 1):
        raise ValueError(f"synthetic.generate: {e} edges do not fit in a simple graph on {n} "
                         f"nodes (at most {n * (n - 1)})")
    for key, lo, hi, closed in (("homophily", 0.0, 1.0, True), ("train_frac", 0.0, 1.0, False),
                                ("val_frac", 0.0, 1.0, True)):
        v = args[key]
        inside = lo <= v <= hi if closed else lo < v < hi
        if not isinstance(v, int | float | np.floating) or not inside:
            raise ValueError(f"synthetic.generate: expected `{key}` in "
                             f"{'[' if closed else '('}{lo}, {hi}{']' if closed else ')'} "
                             f"(got {v!r})")
    if args["train_frac"] + args["val_frac"] > 1:
        raise ValueError(f"synthetic.generate: expected train_frac + val_frac <= 1 (got "
                         f"{args['train_frac']} + {args['val_frac']})")
    for key in ("power", "noise"):
        if not isinstance(args[key], int | float | np.floating) or not args[key] >= 0:
            raise ValueError(f"synthetic.generate: expected `{key}` >= 0 (got {args[key]!r})")


def generate(num_nodes: int, num_edges: int, num_features: int, num_classes: int, *,
             seed: int = 0, homophily: float = 0.7, power: float = 0.5, noise: float = 1.0,
             train_frac: float = 0.1, val_frac: float = 0.1) -> dict:
    """Arrays of a synthetic graph: CSR (target-major, symmetric), features, labels, masks.

    Args:
        num_edges: directed edge count (even: each undirected edge is stored both ways).
        homophily: probability that an edge joins two nodes of the same class.
        power: Zipf exponent of the degree weights (0 = uniform).
        noise: standard deviation of the feature noise around the class means.

    Returns:
        dict with ``indptr`` (int64), ``indices`` (int32 when it fits), ``x`` (float32),
        ``y`` (int64), ``train_mask`` / ``val_mask`` / ``test_mask``.
    """
    _check_args(num_nodes=num_nodes, num_edges=num_edges, num_features=num_features,
                num_classes=num_classes, homophily=homophily, train_frac=train_frac,
                val_frac=val_frac, power=power, noise=noise)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_nodes)
    if homophily == 1.0:  # every edge inside a class: the classes' sizes bound the count
        sizes = np.bincount(y, minlength=num_classes).astype(np.int64)
        inside = int((sizes * (sizes - 1)).sum())
        if num_edges > inside:
            raise ValueError(f"synthetic.generate: {num_edges} edges do not fit with "
                             f"homophily=1.0: the {num_classes} classes (sizes "
                             f"{sizes.tolist()[:10]}{'...' if num_classes > 10 else ''}) hold "
                             f"at most {inside} directed edges; lower homophily or num_edges")
    weights = (rng.permutation(num_nodes) + 1.0) ** -power
    keys = _undirected_keys(rng, num_nodes, num_edges // 2, y, weights, homophily, num_classes)
    # both directions, sorted by (target, source): CSR rows are targets
    u, v = np.divmod(keys, num_nodes)
    del keys
    dst = np.concatenate([v, u])
    src = np.concatenate([u, v])
    del u, v
    order = np.argsort(dst * num_nodes + src, kind="stable")
    indices = src[order].astype(np.int32 if num_nodes < 2**31 else np.int64)
    counts = np.bincount(dst, minlength=num_nodes)
    del src, dst, order
    indptr = np.zeros(num_nodes + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    means = rng.standard_normal((num_classes, num_features)).astype(np.float32)
    x = np.empty((num_nodes, num_features), np.float32)
    for lo in range(0, num_nodes, 1 << 18):
        hi = min(lo + (1 << 18), num_nodes)
        x[lo:hi] = means[y[lo:hi]] + noise * rng.standard_normal((hi - lo, num_features),
                                                                 dtype=np.float32)
    split = rng.random(num_nodes)
    return {"indptr": indptr, "indices": indices, "x": x, "y": y.astype(np.int64),
            "train_mask": split < train_frac,
            "val_mask": (split >= train_frac) & (split < train_frac + val_frac),
            "test_mask": split >= train_frac + val_frac}


def save(arrays: dict, folder) -> pathlib.Path:
    """Write ``arrays`` as .npy files in ``folder`` (memory-mappable), atomically."""
    folder = pathlib.Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for name, a in arrays.items():
            np.save(tmp / f"{name}.npy", a)
        (tmp / "meta.json").write_text(json.dumps({"arrays": sorted(arrays)}))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return folder


def load_arrays(folder, mmap: bool = True) -> dict:
    """Read arrays written by `save` (memory-mapped by default)."""
    folder = pathlib.Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    return {n: np.load(folder / f"{n}.npy", mmap_mode="r" if mmap else None,
                       allow_pickle=False) for n in meta["arrays"]}


def load_synthetic(preset: str, root=None, seed: int = 0, mmap: bool = True) -> dict:
    """The arrays of a preset ("pubmed", "arxiv", "products"), generated once and cached.

    Cached under ``root`` (default: the user cache dir) as ``synthetic/<preset>-seed<seed>``.
    """
    if preset not in PRESETS:
        raise ValueError(f"synthetic: unknown preset {preset!r} (expected one of "
                         f"{sorted(PRESETS)})")
    base = pathlib.Path(root) if root is not None else cache_dir()
    folder = base / "synthetic" / f"{preset}-seed{seed}"
    if not (folder / "meta.json").is_file():
        save(generate(*PRESETS[preset], seed=seed), folder)
    return load_arrays(folder, mmap=mmap)


def to_graph(arrays: dict):
    """A `Graph` over the arrays (no copy of memory-mapped index arrays)."""
    from sparsegraph.graph import Graph
    from sparsegraph.sparse import SparseTensor, Structure
    from sparsegraph.tensor import wrap

    n = arrays["indptr"].shape[0] - 1
    s = Structure.csr(np.asarray(arrays["indptr"]), np.asarray(arrays["indices"]), (n, n),
                      validate=False)
    adj = SparseTensor(s, wrap(np.ones(s.nnz, np.float32)))
    return Graph(x=np.asarray(arrays["x"]), adj=adj, y=np.asarray(arrays["y"]),
                 train_mask=np.asarray(arrays["train_mask"]),
                 val_mask=np.asarray(arrays["val_mask"]),
                 test_mask=np.asarray(arrays["test_mask"]))
