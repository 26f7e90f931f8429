"""Seeded synthetic graphs at real sizes: a degree-corrected planted-partition model.

Nodes get a class and a power-law (Zipf) degree weight. A fraction ``homophily`` of the
undirected edges (exactly ``round(homophily * num_edges / 2)``) joins two nodes of the same
class, the rest join nodes of different classes, so labels are predictable from the graph;
each edge picks its first end by weight and its second by weight among the allowed class(es).
Features are a class mean plus Gaussian noise, so they are informative too. Everything is
vectorised and generated in chunks of edges (memory O(E), never O(N^2)); the edge count is
exact (duplicates and self loops are dropped and refilled; near-complete graphs on at most
``ENUMERATE_PAIRS`` node pairs are drawn exactly, by weight without replacement), and an
edge count the classes cannot hold raises ValueError. Presets match the sizes of real
benchmarks.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import time

import numpy as np

from sparsegraph.datasets import store
from sparsegraph.datasets.base import NOT_WRITABLE
from sparsegraph.datasets.root import (
    DatasetUnavailable,
    cache_dir,
    check_folder_path,
    folder_arg,
)
from sparsegraph.serialization import CORRUPT_DATA, load_npy

PRESETS = {  # nodes, directed edges, features, classes (the real datasets' sizes)
    "pubmed": (19_717, 88_648, 500, 3),
    "arxiv": (169_343, 2_315_598, 128, 40),
    "products": (2_449_029, 123_718_280, 100, 47),
}
CHUNK = 1 << 22  # edges drawn per vectorised step


def array_dtypes(num_nodes: int) -> dict:
    """The dtype of each array `generate` returns for a graph on ``num_nodes`` nodes: the one
    table `generate` casts to and a preset cache is checked against (`_preset_spec`)."""
    return {"indptr": np.dtype(np.int64),
            "indices": np.dtype(np.int32 if num_nodes < 2**31 else np.int64),
            "x": np.dtype(np.float32), "y": np.dtype(np.int64),
            **{k: np.dtype(np.bool_) for k in ("train_mask", "val_mask", "test_mask")}}


ENUMERATE_PAIRS = 1 << 22  # graphs with at most this many node pairs can be sampled exactly
STALL_ROUNDS = 3  # rounds of rejection sampling that place < 1% of their draws before giving up


def _class_tables(y, weights, num_classes):
    """Per class: its nodes sorted, and the cumulative weights for inverse-CDF sampling."""
    order = np.argsort(y, kind="stable")
    bounds = np.searchsorted(y[order], np.arange(num_classes + 1))
    cdf = np.cumsum(weights[order])
    return order, bounds, cdf


def _partner(rng, classes, same: bool, order, bounds, cdf):
    """One node per entry of ``classes``, by weight: inside that class (``same``) or outside
    it (a draw over the weight of the other classes, skipping the class's segment)."""
    first, last = bounds[classes], bounds[classes + 1]
    lo = np.where(first > 0, cdf[np.maximum(first - 1, 0)], 0.0)
    hi = np.where(last > 0, cdf[np.maximum(last - 1, 0)], 0.0)
    if same:
        u = lo + rng.random(classes.size) * (hi - lo)
    else:
        u = rng.random(classes.size) * (cdf[-1] - (hi - lo))
        u = np.where(u >= lo, u + (hi - lo), u)
    pos = np.searchsorted(cdf, u, side="right")
    if same:
        pos = np.clip(pos, first, np.maximum(last - 1, first))
    return order[np.minimum(pos, cdf.size - 1)]


def _rejection_keys(rng, n, target, y, weights, same, tables):
    """Up to ``target`` distinct keys ``u * n + v`` (u < v) of same-class (``same``) or
    cross-class pairs: the first end by weight, the second by weight among the allowed class(es);
    duplicates and loops are redrawn. Stops early when the draws stop finding new pairs."""
    all_cdf = np.cumsum(weights)
    keys, stalled = np.empty(0, np.int64), 0
    while keys.size < target and stalled < STALL_ROUNDS:
        before = keys.size
        total = int((target - keys.size) * 1.15) + 16  # extra for duplicates and loops
        batches = []
        for start in range(0, total, CHUNK):
            m = min(CHUNK, total - start)
            u = np.minimum(np.searchsorted(all_cdf, rng.random(m) * all_cdf[-1], "right"), n - 1)
            v = _partner(rng, y[u], same, *tables)
            ok = (u != v) & ((y[u] == y[v]) == same)  # float rounding may cross a class edge
            a, b = np.minimum(u[ok], v[ok]), np.maximum(u[ok], v[ok])
            batches.append(a.astype(np.int64) * n + b)
        keys = np.unique(np.concatenate([keys, *batches]))
        stalled = stalled + 1 if (keys.size - before) * 100 < total else 0
    if keys.size > target:  # drop a random surplus so the count is exact
        keys = np.sort(rng.choice(keys, target, replace=False))
    return keys


def _exact_keys(rng, n, target, y, log_weights, same, placed):
    """``target`` keys drawn by weight without replacement from every allowed pair, keeping
    the ``placed`` ones (Efraimidis-Spirakis race in log space: the pair weight w_u * w_v
    never underflows, whatever ``power``)."""
    u, v = np.triu_indices(n, 1)
    allowed = (y[u] == y[v]) == same
    u, v = u[allowed], v[allowed]
    keys = u * n + v
    score = np.log(np.maximum(rng.standard_exponential(keys.size), 1e-300))
    score -= log_weights[u] + log_weights[v]
    score[np.isin(keys, placed)] = -np.inf
    if target < keys.size:
        keys = keys[np.argpartition(score, target - 1)[:target]]
    return np.sort(keys)


def _pool_keys(rng, n, target, y, power, ranks, same, tables, pool):
    """``target`` distinct keys of one pool (same- or cross-class pairs holding ``pool``)."""
    if target == 0:
        return np.empty(0, np.int64)
    small = n * (n - 1) // 2 <= ENUMERATE_PAIRS
    dense = small and 2 * target > pool  # rejection would hunt for the last free pairs
    keys = np.empty(0, np.int64) if dense else _rejection_keys(
        rng, n, target, y, ranks ** -power, same, tables)
    if keys.size == target:
        return keys
    if not small:
        kind = "same-class" if same else "cross-class"
        raise ValueError(f"synthetic.generate: could place only {keys.size} of {target} "
                         f"{kind} undirected edges by weighted sampling on {n} nodes: "
                         f"`num_edges` is too close to the {pool} {kind} pairs, or `power`="
                         f"{power} leaves too little weight on most nodes; lower either")
    return _exact_keys(rng, n, target, y, -power * np.log(ranks), same, keys)


def _undirected_keys(rng, n, target, y, ranks, args):
    """``target`` distinct keys ``u * n + v`` (u < v); exactly round(homophily * target) of
    them join two nodes of the same class, the others two of different classes."""
    h, num_classes, power = args["homophily"], args["num_classes"], args["power"]
    sizes = np.bincount(y, minlength=num_classes).astype(np.int64)
    same_pool = int((sizes * (sizes - 1) // 2).sum())
    cross_pool = n * (n - 1) // 2 - same_pool
    n_same = int(round(h * target))
    for count, pool, what in ((n_same, same_pool, "inside a class"),
                              (target - n_same, cross_pool, "between classes")):
        if count > pool:
            raise ValueError(
                f"synthetic.generate: {2 * target} edges do not fit with homophily={h}: "
                f"{2 * count} directed edges must run {what}, and the {num_classes} classes "
                f"(sizes {sizes.tolist()[:10]}{'...' if num_classes > 10 else ''}) allow at "
                f"most {2 * pool}; change homophily or num_edges")
    tables = _class_tables(y, ranks ** -power, num_classes)
    keys = [_pool_keys(rng, n, count, y, power, ranks, same, tables, pool)
            for count, same, pool in ((n_same, True, same_pool),
                                      (target - n_same, False, cross_pool))]
    return np.sort(np.concatenate(keys))


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
        v = args[key]  # the type first: comparing a str or None with a float raises TypeError
        number = isinstance(v, int | float | np.integer | np.floating) and not isinstance(
            v, bool | np.bool_)
        if not number or not (lo <= v <= hi if closed else lo < v < hi):
            raise (ValueError if number else TypeError)(
                f"synthetic.generate: expected `{key}` in "
                             f"{'[' if closed else '('}{lo}, {hi}{']' if closed else ')'} "
                             f"(got {v!r})")
    if args["train_frac"] + args["val_frac"] > 1:
        raise ValueError(f"synthetic.generate: expected train_frac + val_frac <= 1 (got "
                         f"{args['train_frac']} + {args['val_frac']})")
    for key in ("power", "noise"):
        v = args[key]
        if (isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer
                                                              | np.floating)
                or not np.isfinite(v) or not v >= 0):
            raise ValueError(f"synthetic.generate: expected a finite number `{key}` >= 0 "
                             f"(got {v!r})")  # (a bool is refused: True is no exponent)


def generate(num_nodes: int, num_edges: int, num_features: int, num_classes: int, *,
             seed: int = 0, homophily: float = 0.7, power: float = 0.5, noise: float = 1.0,
             train_frac: float = 0.1, val_frac: float = 0.1) -> dict:
    """Arrays of a synthetic graph: CSR (target-major, symmetric), features, labels, masks.

    Args:
        num_edges: directed edge count (even: each undirected edge is stored both ways).
        homophily: the fraction of edges that join two nodes of the same class (exact up to
            rounding to whole edges; the others join two different classes).
        power: Zipf exponent of the degree weights (0 = uniform).
        noise: standard deviation of the feature noise around the class means.

    Returns:
        dict with ``indptr`` (int64), ``indices`` (int32 when it fits), ``x`` (float32),
        ``y`` (int64), ``train_mask`` / ``val_mask`` / ``test_mask``.
    """
    _check_args(num_nodes=num_nodes, num_edges=num_edges, num_features=num_features,
                num_classes=num_classes, homophily=homophily, train_frac=train_frac,
                val_frac=val_frac, power=power, noise=noise)
    dtypes = array_dtypes(num_nodes)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_nodes)
    ranks = rng.permutation(num_nodes) + 1.0  # Zipf degree weight of a node: rank ** -power
    keys = _undirected_keys(rng, num_nodes, num_edges // 2, y, ranks,
                            dict(homophily=homophily, num_classes=num_classes, power=power))
    # both directions, sorted by (target, source): CSR rows are targets
    u, v = np.divmod(keys, num_nodes)
    del keys
    dst = np.concatenate([v, u])
    src = np.concatenate([u, v])
    del u, v
    order = np.argsort(dst * num_nodes + src, kind="stable")
    indices = src[order].astype(dtypes["indices"])
    counts = np.bincount(dst, minlength=num_nodes)
    del src, dst, order
    indptr = np.zeros(num_nodes + 1, dtypes["indptr"])
    np.cumsum(counts, out=indptr[1:])
    means = rng.standard_normal((num_classes, num_features)).astype(dtypes["x"])
    x = np.empty((num_nodes, num_features), dtypes["x"])
    for lo in range(0, num_nodes, 1 << 18):
        hi = min(lo + (1 << 18), num_nodes)
        x[lo:hi] = means[y[lo:hi]] + noise * rng.standard_normal((hi - lo, num_features),
                                                                 dtype=np.float32)
    split = rng.random(num_nodes)
    arrays = {"indptr": indptr, "indices": indices, "x": x, "y": y,
              "train_mask": split < train_frac,
              "val_mask": (split >= train_frac) & (split < train_frac + val_frac),
              "test_mask": split >= train_frac + val_frac}
    return {k: a.astype(dtypes[k], copy=False) for k, a in arrays.items()}


def save(arrays: dict, folder, *, _cache: bool = False) -> pathlib.Path:
    """Write ``arrays`` as .npy files in ``folder`` (memory-mappable), atomically.

    As `save_on_disk`: written to a temp folder beside ``folder`` and renamed into place; an
    earlier save there (its meta.json says so) is renamed aside and removed afterwards, an
    empty folder is replaced, anything else is refused (ValueError naming ``folder``).
    """
    done = (lambda f: _cached(f, _spec(arrays)) is not None) if _cache else None
    with store.writing("synthetic.save", folder, cache=_cache, done=done) as (tmp, folder):
        for name, a in arrays.items():
            np.save(tmp / f"{name}.npy", a)
        (tmp / "meta.json").write_text(json.dumps({"format": store.ARRAYS, "version": 1,
                                                   "arrays": sorted(arrays)}))
    return folder


def load_arrays(folder, mmap: bool = True) -> dict:
    """Read arrays written by `save` (memory-mapped by default)."""
    folder = folder_arg("synthetic.load_arrays", "folder", folder)
    meta = json.loads((folder / "meta.json").read_text())
    # load_npy: a header declaring more than the file holds is a ValueError, not an allocation
    return {n: load_npy(folder / f"{n}.npy", mmap_mode="r" if mmap else None)
            for n in meta["arrays"]}


def _spec(arrays: dict) -> dict:
    return {k: (a.shape, np.dtype(a.dtype)) for k, a in arrays.items()}


def _cached(folder: pathlib.Path, spec: dict, mmap: bool = True) -> dict | None:
    """The arrays of a complete cache in ``folder``, or None when it is missing or damaged
    (unreadable meta.json, a missing or truncated .npy, another set of arrays, or shapes and
    dtypes other than ``spec``'s, a dict name -> (shape, dtype))."""
    try:
        arrays = load_arrays(folder, mmap=mmap)
    except (*CORRUPT_DATA, KeyError, TypeError):  # (UnicodeDecodeError is a ValueError)
        return None
    return arrays if _spec(arrays) == spec else None


def _preset_spec(preset: str) -> dict:
    """The shapes and dtypes of `generate`'s arrays for ``preset`` (dtypes: `array_dtypes`)."""
    n, e, f, _ = PRESETS[preset]
    shapes = {"indptr": (n + 1,), "indices": (e,), "x": (n, f), "y": (n,),
              **{k: (n,) for k in ("train_mask", "val_mask", "test_mask")}}
    dtypes = array_dtypes(n)
    return {k: (shape, dtypes[k]) for k, shape in shapes.items()}


def load_synthetic(preset: str, root=None, seed: int = 0, mmap: bool = True) -> dict:
    """The arrays of a preset ("pubmed", "arxiv", "products"), generated once and cached.

    Cached under ``root`` (default: the user cache dir; ``~`` is expanded) as
    ``synthetic/<preset>-seed<seed>-v2``. A damaged cache (unreadable meta.json, a missing or
    truncated array) is generated again. Safe when several processes ask for the same preset
    at once: each that finds no cache generates one, and the first to finish installs it (an
    existing complete cache is never replaced, so a reader never sees it disappear).
    """
    if preset not in PRESETS:
        raise ValueError(f"synthetic: unknown preset {preset!r} (expected one of "
                         f"{sorted(PRESETS)})")
    base = folder_arg("load_synthetic", "root", root) if root is not None else cache_dir()
    # v2: exact homophily; caches of the earlier sampler hold other graphs, so are not reused
    folder = base / "synthetic" / f"{preset}-seed{seed}-v2"
    check_folder_path("load_synthetic", "root", root if root is not None else base, folder)
    spec = _preset_spec(preset)
    for attempt in range(3):
        arrays = _cached(folder, spec, mmap)
        if arrays is None and folder.exists():
            time.sleep(0.2)  # maybe another process swapping a repaired copy in: look again
            arrays = _cached(folder, spec, mmap)
        if arrays is not None:
            return arrays
        if attempt < 2:
            with _cache_writes(preset, folder, root):
                if attempt == 0:  # a folder nobody can write to: said before generating
                    store.temp_folder(folder).rmdir()
                save(generate(*PRESETS[preset], seed=seed), folder, _cache=True)
    raise ValueError(f"synthetic: the {preset} cache in {folder} is still unreadable after "
                     "generating it again; delete that folder and try again")


@contextlib.contextmanager
def _cache_writes(preset: str, folder: pathlib.Path, root):
    """A cache that cannot be written (read-only or foreign root, an immutable folder) raises
    DatasetUnavailable naming the folder and what to do, as a dataset download does."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NOT_WRITABLE:
            raise
        remedy = ("point `root` at a writable folder" if root is not None else
                  "set XDG_CACHE_HOME to a writable folder (the cache is its sparsegraph "
                  "folder), or pass another root")
        raise DatasetUnavailable(
            f"load_synthetic: cannot write the generated {preset} arrays to {folder} "
            f"({exc.strerror}); make it writable, or {remedy}") from None


def to_graph(arrays: dict):
    """A `Graph` over the arrays (no copy of memory-mapped index arrays)."""
    from sparsegraph.datasets.ondisk import check_csr
    from sparsegraph.graph import Graph
    from sparsegraph.sparse import SparseTensor, Structure
    from sparsegraph.tensor import wrap

    n = arrays["indptr"].shape[0] - 1
    # built with validate=False (no copy of a memmap): a corrupt cache must not reach kernels
    check_csr(np.asarray(arrays["indptr"]), np.asarray(arrays["indices"]), max(n, 0),
              "synthetic arrays", op="synthetic.to_graph")
    s = Structure.csr(np.asarray(arrays["indptr"]), np.asarray(arrays["indices"]), (n, n),
                      validate=False)
    adj = SparseTensor(s, wrap(np.ones(s.nnz, np.float32)))
    return Graph(x=np.asarray(arrays["x"]), adj=adj, y=np.asarray(arrays["y"]),
                 train_mask=np.asarray(arrays["train_mask"]),
                 val_mask=np.asarray(arrays["val_mask"]),
                 test_mask=np.asarray(arrays["test_mask"]))
