"""Sparse or dense? A cost model for ``A @ X`` with sparse ``A``, fed by the measured crossover.

``sparsegraph bench sparse-vs-dense`` times ``A @ X`` (forward + backward w.r.t. ``X``) both
ways over a sweep of sizes and densities and fits the per-unit costs below; the density where
the two predictions meet is the crossover. `decide_spmm` answers from that table; `matmul` with
a sparse operand (``A @ X``, ``X @ A``) asks it in the default "auto" mode and runs dense only
when dense is predicted faster (by ``min_speedup``, 1.25x) AND the dense ``(N, M)`` matrix fits
the memory budget. `spmm_mode` forces either way in a block, for the current thread (or
asyncio task) only (grad mode and tracing, unlike it, are process-wide); `set_spmm_mode`
sets the process-wide default (initially ``$SPARSEGRAPH_SPMM_MODE``, read when a product
first needs it). The static graph's sparse-vs-dense pass asks `decide_spmm` too, and a
compiled function traces again when called under another mode, budget or table.
`sparsegraph.ops.spmm` itself always runs sparse.

Model (seconds; ``n, m`` = rows, cols of ``A``, ``nnz`` stored entries, ``F`` = columns of X):

    sparse = overhead + per_nnz * nnz + per_nnz_feature * nnz * F + per_row_feature * (n + m) F
    dense  = overhead + per_element * n m + per_nnz * nnz + per_mac * n m F
                      + per_row_feature * (n + m) F

(dense: zero-fill + scatter of the (n, m) matrix, then two GEMMs, forward and backward.)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np

from sparsegraph.kernels import register
from sparsegraph.sparse import SparseTensor
from sparsegraph.tensor import TRACE, Tensor

__all__ = ["Decision", "decide_spmm", "spmm_mode", "set_spmm_mode", "get_spmm_mode",
           "cost_table", "set_cost_table", "load_cost_table", "fit_cost_table",
           "crossover_density", "memory_budget", "set_memory_budget"]

SPARSE_TERMS = ("overhead", "per_nnz", "per_nnz_feature", "per_row_feature")
DENSE_TERMS = ("overhead", "per_element", "per_nnz", "per_mac", "per_row_feature")
MODES = ("auto", "sparse", "dense")
# dense must be predicted at least this much faster: the fit is good to ~20-30 % on a shared
# machine, tiny products cost the same both ways (Python overhead), and sparse is the
# memory-safe default
MIN_SPEEDUP = 1.25

# Measured on the project's 2-core AMD EPYC VM (numpy 2.4 / OpenBLAS, scipy 1.17, numba 0.68,
# float32; shared with other jobs, load average ~3) by the default sweep
#   sparsegraph bench sparse-vs-dense --out DIR
# (the run, its crossovers and this fit are in benchmarks/RESULTS.md). On another machine run
# the bench and use its table: load_cost_table("DIR/results.json").
DEFAULT_TABLE = {
    "source": "sparsegraph bench sparse-vs-dense (default sweep) on the project's 2-core VM; "
              "see benchmarks/RESULTS.md",
    "device": "cpu",
    "dtype": "float32",
    "min_speedup": MIN_SPEEDUP,
    "sparse": {"overhead": 7.83e-05, "per_nnz": 5.36e-09, "per_nnz_feature": 2.25e-10,
               "per_row_feature": 1.35e-09},
    "dense": {"overhead": 7.83e-05, "per_element": 8.75e-10, "per_nnz": 3.45e-09,
              "per_mac": 4.47e-11, "per_row_feature": 0.0},
}


@dataclass(frozen=True)
class Decision:
    """What `decide_spmm` chose and why; costs are predicted seconds of forward + backward."""

    dense: bool
    reason: str
    sparse_cost_s: float
    dense_cost_s: float


_table: dict = {}
_table_key = ""  # the table as canonical JSON: part of `decision_state()`
# the process default (set_spmm_mode), else None until $SPARSEGRAPH_SPMM_MODE is first read:
# a bad value must not break `import sparsegraph`, `sparsegraph info` or `--help`
_default_mode: str | None = None
# the mode of the innermost `spmm_mode` block of this thread / task (None: the default); a
# ContextVar, so a block in one thread is never seen by, nor restores over, another's
_block_mode: ContextVar[str | None] = ContextVar("sparsegraph_spmm_mode", default=None)
_budget: int | None = None
_default_budget: int | None = None
# (generation, n_rows, n_cols, nnz, F, dtype, mode) -> Decision. The generation is bumped by
# set_cost_table / set_memory_budget: a decide_spmm running in another thread under the old
# table or budget stores its result under the old generation, never read again (clear() only
# frees memory)
_decisions: dict = {}
_generation = 0


def _number(v) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(
        v, bool | np.bool_)


def _table_device(device) -> str:
    """The device type a table was measured on: "cpu" or "cuda" (any "cuda:N", any case), so
    that the type `sparse_matmul_auto` compares with is the one `decide_spmm` reports on."""
    name = device.strip().lower() if isinstance(device, str) else device
    if name == "cpu":
        return "cpu"
    if isinstance(name, str) and (name == "cuda" or name.startswith("cuda:")
                                  and name[5:].isdigit()):
        return "cuda"
    raise ValueError(f"set_cost_table: expected `device` 'cpu', 'cuda' or 'cuda:N', the device "
                     f"the table was measured on (got {device!r})")


def _table_dtype(dtype) -> str:
    """The float dtype the costs were measured in (decide_spmm scales by its item size)."""
    try:  # None would quietly mean float64
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise ValueError(f"set_cost_table: expected `dtype` a float dtype name such as "
                         f"'float32', the dtype the table was measured in (got {dtype!r})")
    return dt.name


def _check_table(table) -> dict:
    if not isinstance(table, dict):
        raise TypeError(f"set_cost_table: expected a dict (got {type(table).__name__})")
    for part, terms in (("sparse", SPARSE_TERMS), ("dense", DENSE_TERMS)):
        coef = table.get(part)
        if not isinstance(coef, dict):
            raise ValueError(f"set_cost_table: expected a {part!r} dict of per-unit costs with "
                             f"keys {terms} (got {coef!r})")
        for k in terms:
            v = coef.get(k)
            if not _number(v) or not np.isfinite(v) or v < 0:
                raise ValueError(f"set_cost_table: expected {part}.{k} to be a finite number "
                                 f">= 0 seconds (got {v!r})")
    speedup = table.get("min_speedup", MIN_SPEEDUP)
    if not _number(speedup) or not np.isfinite(speedup) or not speedup >= 1:
        raise ValueError(f"set_cost_table: expected `min_speedup` to be a finite number >= 1, "
                         f"how much faster dense must be predicted (got {speedup!r})")
    return {"source": str(table.get("source", "user table")),
            "device": _table_device(table.get("device", "cpu")),
            "dtype": _table_dtype(table.get("dtype", "float32")),
            "min_speedup": float(speedup),
            "sparse": {k: float(table["sparse"][k]) for k in SPARSE_TERMS},
            "dense": {k: float(table["dense"][k]) for k in DENSE_TERMS}}


def set_cost_table(table: dict | None) -> dict:
    """Use ``table`` (a dict like `cost_table()`'s) from now on; None restores the built-in one.

    Returns the previous table. Raises ValueError/TypeError on a malformed table. A compiled
    function whose sparse products were chosen under another table traces again.
    """
    global _table, _table_key, _generation
    previous = _table
    _table = _check_table(DEFAULT_TABLE if table is None else table)
    _table_key = json.dumps(_table, sort_keys=True)
    _generation += 1
    _decisions.clear()
    return previous


def cost_table() -> dict:
    """The table in use (a copy): ``source``, ``device``, ``dtype``, ``min_speedup``, and the
    ``sparse`` and ``dense`` per-unit costs in seconds (see the module docstring)."""
    return json.loads(json.dumps(_table))


def load_cost_table(path) -> dict:
    """Use the cost table of a ``results.json`` written by ``sparsegraph bench sparse-vs-dense``
    (its ``cost_table`` entry, or a fit of its ``A @ X`` (op "spmm") ``points``), or of a bare
    table JSON file.

    Raises:
        ValueError: not JSON, or a results file whose run fitted no table and has no spmm
            points.
    """
    with open(path) as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"load_cost_table: expected a JSON file written by sparsegraph "
                             f"bench sparse-vs-dense (got {path}: {exc})") from None
    if isinstance(data, dict) and data.get("cost_table") is not None:
        table = data["cost_table"]
    elif isinstance(data, dict) and ("cost_table" in data or "points" in data):
        try:  # None would quietly mean "the built-in table": say that nothing was fitted
            table = fit_cost_table(data.get("points") or ())
        except ValueError as exc:
            raise ValueError(f"load_cost_table: {path} holds no fitted table (its run fitted "
                             f"none, and {exc})") from None
    else:
        table = data
    if isinstance(table, dict):
        table = {"source": str(path), **table}
    set_cost_table(table)
    return cost_table()


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 16 << 30


def memory_budget() -> int:
    """Bytes the dense ``(N, M)`` matrix may take: set_memory_budget's value, else
    ``$SPARSEGRAPH_DENSE_BUDGET_MB`` (read once), else min(2 GiB, physical memory / 8)."""
    global _default_budget
    if _budget is not None:
        return _budget
    if _default_budget is None:
        env = os.environ.get("SPARSEGRAPH_DENSE_BUDGET_MB")
        try:
            mb = float(env) if env else None
        except ValueError:
            mb = float("nan")
        if mb is not None and not (np.isfinite(mb) and mb >= 0):  # int(inf) would overflow
            raise ValueError(f"SPARSEGRAPH_DENSE_BUDGET_MB: expected a finite number of MB >= 0 "
                             f"(got {env!r})")
        _default_budget = (int(mb * 2**20) if mb is not None
                           else min(2 << 30, _physical_memory() // 8))
    return _default_budget


def set_memory_budget(nbytes: int | None) -> int | None:
    """Set the dense matrix budget in bytes (None: the default); returns the previous setting.
    A compiled function whose sparse products were chosen under another budget traces again."""
    global _budget, _generation
    if nbytes is not None and (not _number(nbytes) or not np.isfinite(nbytes) or nbytes < 0):
        raise ValueError(f"set_memory_budget: expected `nbytes` a finite number >= 0 or None "
                         f"(got {nbytes!r})")
    previous, _budget = _budget, None if nbytes is None else int(nbytes)
    _generation += 1
    _decisions.clear()
    return previous


def _env_mode() -> str:
    """The process default: set_spmm_mode's, else ``$SPARSEGRAPH_SPMM_MODE`` (read once)."""
    global _default_mode
    if _default_mode is None:
        env = os.environ.get("SPARSEGRAPH_SPMM_MODE") or "auto"
        if env not in MODES:
            raise ValueError(f"SPARSEGRAPH_SPMM_MODE: expected one of {MODES} (got {env!r})")
        _default_mode = env
    return _default_mode


def get_spmm_mode() -> str:
    """The mode in force here: the innermost `spmm_mode` block of this thread, else the process
    default (`set_spmm_mode`, else ``$SPARSEGRAPH_SPMM_MODE``, else "auto"): "auto" (cost
    model), "sparse" or "dense" (forced).

    Raises:
        ValueError: ``$SPARSEGRAPH_SPMM_MODE`` is needed and is not a mode.
    """
    return _block_mode.get() or _default_mode or _env_mode()


def _check_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"spmm_mode: expected `mode` in {MODES} (got {mode!r})")
    return mode


def set_spmm_mode(mode: str) -> str:
    """Set the process-wide default mode (every thread; it replaces ``$SPARSEGRAPH_SPMM_MODE``);
    returns the previous default. An `spmm_mode` block in force in a thread still takes
    precedence there."""
    global _default_mode
    _check_mode(mode)
    # set first: this is the escape hatch from a bad $SPARSEGRAPH_SPMM_MODE, so the previous
    # value is reported as it was, never validated
    previous, _default_mode = (
        _default_mode or os.environ.get("SPARSEGRAPH_SPMM_MODE") or "auto"), mode
    return previous


@contextlib.contextmanager
def spmm_mode(mode: str) -> Iterator[None]:
    """Force ``A @ X`` with sparse ``A`` to run "dense" or "sparse" (or "auto") in a block::

        with sg.ops.spmm_mode("dense"):
            out = adj @ x        # to_dense(adj) @ x, same values and gradients

    The block is local to the thread (or asyncio task) that enters it: other threads keep
    their mode, and leaving it restores this thread's previous one. Unlike PyTorch, grad mode
    (``sg.no_grad``) and static tracing (``sparsegraph.static``) stay process-wide in
    sparsegraph: a ``no_grad`` block or a trace in one thread also covers the others'
    operations.
    `decide_spmm` (hence the static graph's sparse-vs-dense pass) follows it too, and a
    `sparsegraph.static.compile` function called inside it traces again for this mode (the
    graph replayed is one traced under the mode in force at the call). Forced "dense" ignores
    the memory budget.
    """
    token = _block_mode.set(_check_mode(mode))
    try:
        yield
    finally:
        _block_mode.reset(token)


def decision_state() -> tuple:
    """What decides sparse or dense in this thread now: (mode, cost table, budget setting).
    `sparsegraph.static.compile` replays a graph whose trace asked the model only under an
    equal state."""
    return get_spmm_mode(), _table_key, _budget


def note_decision() -> None:
    """Tell the active trace, if any, that a sparse-or-dense choice was made (`decide_spmm`,
    ``A @ X`` with a sparse operand): `sparsegraph.static.compile` then replays that trace only
    under an equal `decision_state()`. Outside a trace it does nothing."""
    tracer = TRACE.tracer
    if tracer is not None:
        tracer.decided = True


def _check_count(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
        raise ValueError(f"decide_spmm: expected `{name}` to be an int >= 0 (got {v!r})")
    return int(v)


def _costs(t: dict, n: int, m: int, nnz: int, f: int) -> tuple[float, float]:
    s, d = t["sparse"], t["dense"]
    rows = (n + m) * f
    sparse = (s["overhead"] + s["per_nnz"] * nnz + s["per_nnz_feature"] * nnz * f
              + s["per_row_feature"] * rows)
    dense = (d["overhead"] + d["per_element"] * n * m + d["per_nnz"] * nnz
             + d["per_mac"] * n * m * f + d["per_row_feature"] * rows)
    return sparse, dense


def crossover_density(n_rows: int, n_cols: int, n_features: int, *,
                      table: dict | None = None) -> float:
    """The density at which ``table`` (default: `cost_table()`) predicts equal sparse and dense
    cost: dense is predicted faster above it (``inf``: never; 0.0: always)."""
    return _crossover(_table if table is None else _check_table(table),
                      n_rows, n_cols, n_features)


def _crossover(t: dict, n: int, m: int, f: int) -> float:
    if n * m == 0:
        return float("inf")
    s, d = t["sparse"], t["dense"]
    slope = s["per_nnz"] + s["per_nnz_feature"] * f - d["per_nnz"]  # extra sparse s per entry
    gap = (d["overhead"] - s["overhead"] + d["per_element"] * n * m + d["per_mac"] * n * m * f
           + (d["per_row_feature"] - s["per_row_feature"]) * (n + m) * f)
    if gap <= 0:
        return 0.0
    return gap / slope / (n * m) if slope > 0 else float("inf")


def decide_spmm(n_rows: int, n_cols: int, nnz: int, n_features: int,
                dtype="float32") -> Decision:
    """Run ``A @ X`` (``A``: ``(n_rows, n_cols)`` with ``nnz`` entries, ``X``: ``(n_cols,
    n_features)``) dense or sparse? Dense only when predicted faster (by the table's
    ``min_speedup``, default 1.25) and the dense matrix fits `memory_budget()`; `spmm_mode`
    "dense"/"sparse" overrides both (budget included).

    Costs come from `cost_table()` (its dtype; other dtypes scale by item size).

    Raises:
        ValueError: negative or non-integer sizes, or ``nnz > n_rows * n_cols``.
    """
    n, m = _check_count("n_rows", n_rows), _check_count("n_cols", n_cols)
    nnz, f = _check_count("nnz", nnz), _check_count("n_features", n_features)
    if nnz > n * m:
        raise ValueError(f"decide_spmm: expected `nnz` <= n_rows * n_cols = {n * m} (got {nnz})")
    dt = np.dtype(dtype)
    note_decision()
    mode = get_spmm_mode()
    # read the generation first, then the table and budget: a setter running meanwhile bumps
    # it, so what is computed from a mix of old and new is stored under a dead key
    generation = _generation
    key = (generation, n, m, nnz, f, dt, mode)
    hit = _decisions.get(key)
    if hit is not None:
        return hit
    table, budget = _table, memory_budget()
    scale = dt.itemsize / np.dtype(table["dtype"]).itemsize
    sparse, dense = (c * scale for c in _costs(table, n, m, nnz, f))
    density = nnz / (n * m) if n * m else 0.0
    cross = _crossover(table, n, m, f)
    cross_s = "none (sparse faster at any density)" if cross > 1 else f"{cross:.3g}"
    need = n * m * dt.itemsize
    if mode != "auto":
        out = Decision(mode == "dense", f"forced by spmm_mode({mode!r})", sparse, dense)
    elif dense * table["min_speedup"] <= sparse and need > budget:
        out = Decision(False, f"density {density:.3g} >= crossover {cross_s} at F={f}, but the "
                       f"dense ({n}, {m}) {dt.name} matrix needs {need / 2**30:.3g} GiB > "
                       f"budget {budget / 2**30:.3g} GiB", sparse, dense)
    elif dense * table["min_speedup"] <= sparse:
        out = Decision(True, f"density {density:.3g} >= crossover {cross_s} at F={f}: dense "
                       f"predicted {sparse / dense:.1f}x faster", sparse, dense)
    elif dense < sparse:
        out = Decision(False, f"density {density:.3g} >= crossover {cross_s} at F={f}, but dense "
                       f"is predicted only {sparse / dense:.2f}x faster (< min_speedup "
                       f"{table['min_speedup']:g})", sparse, dense)
    else:
        out = Decision(False, f"density {density:.3g} < crossover {cross_s} at F={f}: sparse "
                       f"predicted {dense / max(sparse, 1e-12):.1f}x faster", sparse, dense)
    if len(_decisions) > 4096:  # shapes seen by one program are few; never grow without bound
        _decisions.clear()
    _decisions[key] = out
    return out


def _nnls_relative(rows: list, times: list, floor: float = 0.0) -> np.ndarray:
    """Non-negative ``c`` minimising the relative error of ``rows @ c + floor`` against
    ``times``; columns are scaled first (the units span ten decades)."""
    from scipy.optimize import nnls

    a = np.asarray(rows, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    norm = np.maximum(a.max(axis=0), 1e-300)
    coef, _ = nnls(a / norm / t[:, None], 1.0 - floor / t)
    return coef / norm


def fit_cost_table(points, *, source: str = "fit", device: str = "cpu",
                   dtype: str = "float32") -> dict:
    """Fit the per-unit costs to measured points by non-negative least squares on relative
    error. Each point: ``n_rows, n_cols, nnz, features`` and ``sparse_s`` / ``dense_s``
    (seconds of forward + backward; None where not measured).

    The dense overhead is fitted as the sparse one plus a non-negative extra: the dense path
    runs the sparse path's op count plus to_dense, and on tiny products (where only overhead
    counts) a free fit would otherwise turn noise into a predicted dense win.

    Only ``A @ X`` points (``op`` "spmm", the default) are used: the table models that product
    alone, and a GCN layer's points (op "gcn") also time its GEMM, bias and ReLU.

    Raises:
        ValueError: no spmm points, or fewer than 2 measured points for a side.
    """
    given = [p for p in points if isinstance(p, dict)]
    points = [p for p in given if p.get("op", "spmm") == "spmm"]
    if not points:
        ops = sorted({str(p.get("op")) for p in given})
        raise ValueError(f"fit_cost_table: no spmm points among the {len(given)} given (ops "
                         f"{ops}); the table models A @ X alone, fitted on op 'spmm' timings")
    table = {"source": source, "device": device, "dtype": dtype, "min_speedup": MIN_SPEEDUP}
    overhead = 0.0
    for part, terms in (("sparse", SPARSE_TERMS), ("dense", DENSE_TERMS)):
        rows, times = [], []
        for p in points:
            t = p.get(f"{part}_s")
            if t is None or t <= 0:
                continue
            n, m, nnz, f = p["n_rows"], p["n_cols"], p["nnz"], p["features"]
            units = {"overhead": 1.0, "per_nnz": nnz, "per_nnz_feature": nnz * f,
                     "per_row_feature": (n + m) * f, "per_element": n * m, "per_mac": n * m * f}
            rows.append([units[k] for k in terms])
            times.append(t)
        if len(rows) < 2:
            raise ValueError(f"fit_cost_table: expected at least 2 measured {part} points (got "
                             f"{len(rows)})")
        coef = _nnls_relative(rows, times, floor=overhead)
        table[part] = {k: float(c) for k, c in zip(terms, coef, strict=True)}
        table[part]["overhead"] += overhead
        overhead = table["sparse"]["overhead"]
    return table


# ---- the dense path of matmul ---------------------------------------------------------------
@register("sparse_to_dense", "cpu", name="scipy", priority=10)
def _to_dense_scipy(rows, cols, values, shape):
    """scipy's compiled COO -> dense (duplicates add up): ~10x faster than ``np.add.at``, which
    made densifying cost more than the GEMM it feeds."""
    if values.ndim != 1 or values.dtype.kind not in "fc" or values.dtype.itemsize < 4:
        out = np.zeros(tuple(shape) + values.shape[1:], dtype=values.dtype)
        np.add.at(out, (rows, cols), values)  # hybrid values / float16: the generic way
        return out
    import scipy.sparse as sp

    return sp.coo_matrix((values, (rows, cols)), shape=tuple(shape)).toarray()


def _operands(input, other):
    """``(a, x, flip)`` for ``a @ x`` (flip False) or ``x @ a`` (flip True) with a 2-D sparse
    ``a`` of 1-D values and a matching dense 1-D/2-D ``x``; None when the dense path does not
    apply (the sparse path then runs, or raises its error)."""
    if isinstance(input, SparseTensor) and isinstance(other, Tensor):
        a, x, flip = input, other, False
    elif isinstance(other, SparseTensor) and isinstance(input, Tensor):
        a, x, flip = other, input, True
    else:
        return None
    if a.values.ndim != 1 or x.ndim not in (1, 2) or x.dtype != a.dtype or x.device != a.device:
        return None
    inner = a.shape[0] if flip else a.shape[1]
    if (x.shape[-1] if flip else x.shape[0]) != inner:
        return None
    return a, x, flip


def sparse_matmul_auto(input, other):
    """`matmul` with a sparse operand: dense (to_dense + GEMM) when `decide_spmm` says so, else
    `sparse_products.sparse_matmul`. Values and gradients agree either way."""
    from sparsegraph.ops.sparse_products import sparse_matmul

    note_decision()
    mode = get_spmm_mode()
    if mode == "sparse":
        return sparse_matmul(input, other)
    ops = _operands(input, other)
    if ops is None:
        return sparse_matmul(input, other)
    a, x, flip = ops
    if mode == "auto":
        # the table was measured on one device type and says nothing about another
        if ("cpu" if a.device == "cpu" else "cuda") != _table["device"]:
            return sparse_matmul(input, other)
        n, m = (a.shape[1], a.shape[0]) if flip else a.shape
        f = 1 if x.ndim == 1 else (x.shape[0] if flip else x.shape[1])
        # duplicates (an uncoalesced COO) can store more entries than there are positions
        if not decide_spmm(n, m, min(a.nnz, n * m), f, a.dtype).dense:
            return sparse_matmul(input, other)
    from sparsegraph.ops.linalg import matmul
    from sparsegraph.ops.sparse_conversion import sparse_to_dense

    d = sparse_to_dense(a)
    return matmul(x, d) if flip else matmul(d, x)


set_cost_table(None)
