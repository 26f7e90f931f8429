"""The sparse-vs-dense cost model: the selection logic on a tiny fixed table, the memory budget,
forced modes, table loading and fitting, and matmul's auto path (same values and gradients
either way; usual GNN inputs stay sparse)."""

import json

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import ops
from sparsegraph.ops import cost_model
from sparsegraph.testing import assert_close, gradcheck, random_sparse

# sparse: 1 ns per stored entry and feature; dense: 0.1 ns per multiply-add -> both cost the
# same at density 0.1 for every F: the crossover is 0.1
TINY = {"source": "test", "min_speedup": 1.0,
        "sparse": {"overhead": 0.0, "per_nnz": 0.0, "per_nnz_feature": 1e-9,
                   "per_row_feature": 0.0},
        "dense": {"overhead": 0.0, "per_element": 0.0, "per_nnz": 0.0, "per_mac": 1e-10,
                  "per_row_feature": 0.0}}
# dense always predicted 1000x faster: shows which path matmul took
DENSE_WINS = {**TINY, "sparse": {**TINY["sparse"], "overhead": 1.0}}


@pytest.fixture(autouse=True)
def _restore():
    """Each test starts in "auto" (whatever $SPARSEGRAPH_SPMM_MODE says) and may change the
    table, the budget and the mode; put them back."""
    table, mode = ops.cost_table(), ops.set_spmm_mode("auto")
    budget = cost_model.set_memory_budget(None)
    cost_model.set_memory_budget(budget)
    yield
    ops.set_cost_table(table)
    cost_model.set_memory_budget(budget)
    ops.set_spmm_mode(mode)


def dispatched(fn):
    """The ops dispatched while ``fn()`` runs (forward and backward)."""
    seen = []
    with sg.kernels.listen(lambda op, device, fmt, k: seen.append(op)):
        fn()
    return seen


# ---- selection logic on the tiny fixed table --------------------------------------------------
@pytest.mark.parametrize("nnz, dense", [(999, False), (1000, True), (5000, True), (10, False)])
def test_decision_follows_the_crossover_of_a_fixed_table(nnz, dense):
    ops.set_cost_table(TINY)
    d = ops.decide_spmm(100, 100, nnz, 8)
    assert d.dense is dense
    assert d.sparse_cost_s == pytest.approx(1e-9 * nnz * 8)
    assert d.dense_cost_s == pytest.approx(1e-10 * 100 * 100 * 8)
    assert "crossover 0.1 at F=8" in d.reason
    if nnz == 5000:
        assert d.reason == "density 0.5 >= crossover 0.1 at F=8: dense predicted 5.0x faster"
    if nnz == 10:
        assert d.reason == "density 0.001 < crossover 0.1 at F=8: sparse predicted 100.0x faster"


def test_crossover_density_of_a_fixed_table():
    ops.set_cost_table(TINY)
    assert ops.crossover_density(100, 300, 64) == pytest.approx(0.1)
    assert ops.crossover_density(100, 300, 64, table=DENSE_WINS) == 0.0
    never = {**TINY, "dense": {**TINY["dense"], "per_nnz": 1.0}}  # dense dearer per entry
    assert ops.crossover_density(100, 300, 64, table=never) == float("inf")
    ops.set_cost_table(never)
    assert "crossover none (sparse faster at any density)" in ops.decide_spmm(10, 10, 100, 4).reason


def test_min_speedup_keeps_near_ties_sparse():
    ops.set_cost_table({**TINY, "min_speedup": 1.5})
    near = ops.decide_spmm(100, 100, 1200, 8)  # dense 1.2x faster: not enough
    assert not near.dense
    assert "only 1.20x faster (< min_speedup 1.5)" in near.reason
    assert ops.decide_spmm(100, 100, 1500, 8).dense


def test_dense_must_fit_the_memory_budget():
    ops.set_cost_table(TINY)
    assert ops.decide_spmm(100, 100, 5000, 8).dense
    cost_model.set_memory_budget(100 * 100 * 4 - 1)  # one byte short of the float32 matrix
    d = ops.decide_spmm(100, 100, 5000, 8)
    assert not d.dense
    assert "dense (100, 100) float32 matrix needs" in d.reason and "> budget" in d.reason
    assert ops.decide_spmm(100, 100, 5000, 8, dtype="float16").dense  # 2 bytes per entry fit
    cost_model.set_memory_budget(None)
    assert cost_model.memory_budget() <= 2 << 30


def test_dtype_scales_the_costs():
    ops.set_cost_table(TINY)
    d32, d64 = ops.decide_spmm(100, 100, 500, 8), ops.decide_spmm(100, 100, 500, 8, "float64")
    assert d64.sparse_cost_s == pytest.approx(2 * d32.sparse_cost_s)
    assert d64.dense_cost_s == pytest.approx(2 * d32.dense_cost_s)


def test_forced_modes_override_the_model_and_nest():
    ops.set_cost_table(TINY)
    assert ops.get_spmm_mode() == "auto"
    with ops.spmm_mode("dense"):
        d = ops.decide_spmm(100, 100, 1, 8)
        assert d.dense and d.reason == "forced by spmm_mode('dense')"
        with ops.spmm_mode("sparse"):
            assert not ops.decide_spmm(100, 100, 9000, 8).dense
        assert ops.get_spmm_mode() == "dense"
    assert ops.get_spmm_mode() == "auto"
    assert ops.set_spmm_mode("sparse") == "auto"
    assert not ops.decide_spmm(100, 100, 9000, 8).dense


@pytest.mark.parametrize("args, match", [
    ((-1, 4, 2, 3), r"decide_spmm: expected `n_rows` to be an int >= 0 \(got -1\)"),
    ((4, 4.0, 2, 3), r"`n_cols` to be an int >= 0 \(got 4.0\)"),
    ((4, 4, True, 3), r"`nnz` to be an int >= 0 \(got True\)"),
    ((4, 4, 17, 3), r"expected `nnz` <= n_rows \* n_cols = 16 \(got 17\)"),
    ((4, 4, 2, -3), r"`n_features` to be an int >= 0"),
])
def test_decide_rejects_bad_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        ops.decide_spmm(*args)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match=r"spmm_mode: expected `mode` in .* \(got 'fast'\)"):
        with ops.spmm_mode("fast"):
            pass
    with pytest.raises(ValueError, match=r"expected sparse.per_mac|expected a 'sparse' dict"):
        ops.set_cost_table({"dense": TINY["dense"]})
    with pytest.raises(ValueError, match=r"expected dense.per_mac to be a finite number >= 0"):
        ops.set_cost_table({**TINY, "dense": {**TINY["dense"], "per_mac": -1.0}})
    with pytest.raises(ValueError, match=r"`min_speedup` to be a finite number >= 1, .*\(got "
                                         r"0.5\)"):
        ops.set_cost_table({**TINY, "min_speedup": 0.5})
    with pytest.raises(TypeError, match=r"set_cost_table: expected a dict \(got list\)"):
        ops.set_cost_table([])
    with pytest.raises(ValueError, match=r"set_memory_budget: expected `nbytes` a finite number "
                                         r">= 0 or None \(got -5\)"):
        cost_model.set_memory_budget(-5)


# ---- tables: built-in, set, load, fit ----------------------------------------------------------
def test_set_returns_previous_and_none_restores_the_builtin_table():
    builtin = ops.cost_table()
    assert builtin["source"] == cost_model.DEFAULT_TABLE["source"]
    previous = ops.set_cost_table(TINY)
    assert previous["sparse"] == builtin["sparse"]
    assert ops.cost_table()["source"] == "test"
    ops.set_cost_table(None)
    assert ops.cost_table() == builtin


def synthetic_points(table):
    """Exact times from ``table``'s model over a small sweep."""
    pts = []
    for n in (50, 400, 2000):
        for f in (4, 64):
            for density in (1e-3, 0.05, 0.5):
                nnz = max(1, int(density * n * n))
                s, d = cost_model._costs(cost_model._check_table(table), n, n, nnz, f)
                pts.append({"n_rows": n, "n_cols": n, "nnz": nnz, "features": f,
                            "sparse_s": s, "dense_s": d})
    return pts


def test_fit_recovers_the_model_it_was_given():
    truth = {"sparse": {"overhead": 5e-5, "per_nnz": 3e-9, "per_nnz_feature": 2e-10,
                        "per_row_feature": 1e-9},
             "dense": {"overhead": 8e-5, "per_element": 1e-9, "per_nnz": 2e-9, "per_mac": 3e-11,
                       "per_row_feature": 5e-10}}
    fit = ops.fit_cost_table(synthetic_points(truth), source="synthetic")
    for part in ("sparse", "dense"):
        for k, v in truth[part].items():
            assert fit[part][k] == pytest.approx(v, rel=1e-3), (part, k)
    with pytest.raises(ValueError, match="at least 2 measured dense points"):
        ops.fit_cost_table([{**p, "dense_s": None} for p in synthetic_points(truth)])


def test_fit_uses_the_spmm_points_only_and_refuses_none():
    # review C4: the rule lives in fit_cost_table, so no caller can fit on GCN layer timings
    truth = {"sparse": {"overhead": 5e-5, "per_nnz": 3e-9, "per_nnz_feature": 2e-10,
                        "per_row_feature": 1e-9},
             "dense": {"overhead": 8e-5, "per_element": 1e-9, "per_nnz": 2e-9, "per_mac": 3e-11,
                       "per_row_feature": 5e-10}}
    spmm = synthetic_points(truth)
    gcn = [{**p, "op": "gcn", "sparse_s": 10 * p["sparse_s"], "dense_s": 3 * p["dense_s"]}
           for p in spmm]
    mixed = ops.fit_cost_table(spmm + gcn)
    alone = ops.fit_cost_table(spmm)
    assert mixed == alone
    with pytest.raises(ValueError, match=r"fit_cost_table: no spmm points among the \d+ given "
                                         r"\(ops \['gcn'\]\)"):
        ops.fit_cost_table(gcn)


def test_load_cost_table_from_bench_results_points_or_a_bare_table(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"points": [], "cost_table": {**TINY, "source": "bench"}}))
    assert ops.load_cost_table(results)["source"] == "bench"
    assert ops.decide_spmm(100, 100, 1000, 8).dense
    bare = tmp_path / "table.json"
    bare.write_text(json.dumps({k: v for k, v in DENSE_WINS.items() if k != "source"}))
    assert ops.load_cost_table(bare)["source"] == str(bare)
    assert ops.crossover_density(10, 10, 3) == 0.0
    fitted = tmp_path / "points.json"
    fitted.write_text(json.dumps({"points": synthetic_points(TINY)}))
    assert ops.load_cost_table(fitted)["dense"]["per_mac"] == pytest.approx(1e-10, rel=1e-3)
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    with pytest.raises(TypeError, match=r"set_cost_table: expected a dict \(got list\)"):
        ops.load_cost_table(junk)


def test_load_cost_table_refuses_files_without_a_table(tmp_path):
    before = ops.cost_table()
    text = tmp_path / "notes.txt"
    text.write_text("not json")
    with pytest.raises(ValueError, match=r"load_cost_table: expected a JSON file written by "
                                         r"sparsegraph bench sparse-vs-dense \(got .*notes"):
        ops.load_cost_table(text)
    unfitted = tmp_path / "results.json"
    unfitted.write_text(json.dumps({"points": [], "cost_table": None}))
    with pytest.raises(ValueError, match=r"results.json holds no fitted table"):
        ops.load_cost_table(unfitted)
    assert ops.cost_table() == before  # not quietly reset to the built-in table


# ---- the built-in table on usual inputs -------------------------------------------------------
@pytest.mark.parametrize("n, m, nnz, f", [
    (2708, 1433, 49_216, 16),        # Cora's bag-of-words features @ W (1.3 % dense)
    (2708, 2708, 13_264, 16),        # Cora's normalised adjacency
    (19_717, 19_717, 108_365, 64),   # PubMed
    (169_343, 169_343, 2_484_941, 256),  # ogbn-arxiv: 115 GB dense
    (5, 7, 14, 3),                   # tiny: overhead-bound either way
])
def test_builtin_table_keeps_usual_graphs_sparse(n, m, nnz, f):
    assert not ops.decide_spmm(n, m, nnz, f).dense


def test_builtin_table_picks_dense_for_a_dense_enough_product():
    cross = ops.crossover_density(2000, 2000, 64)
    assert 0.01 < cross < 1  # measured: dense wins somewhere below full density
    d = ops.decide_spmm(2000, 2000, int(0.9 * 2000 * 2000), 64)
    assert d.dense, d.reason


# ---- matmul's auto path -------------------------------------------------------------------------
def test_matmul_runs_dense_only_when_the_model_says_so():
    a = random_sparse(6, 5, 0.5, seed=1, requires_grad=False)
    x = sg.randn(5, 3, dtype="float64")
    ops.set_cost_table(DENSE_WINS)
    assert "sparse_to_dense" in dispatched(lambda: a @ x)
    assert "spmm" not in dispatched(lambda: a @ x)
    ops.set_cost_table({**TINY, "dense": {**TINY["dense"], "per_mac": 1.0}})  # sparse wins
    assert "spmm" in dispatched(lambda: a @ x)
    with ops.spmm_mode("dense"):
        assert "sparse_to_dense" in dispatched(lambda: a @ x)
    ops.set_cost_table(DENSE_WINS)
    with ops.spmm_mode("sparse"):
        assert "sparse_to_dense" not in dispatched(lambda: a @ x)
    assert "spmm" in dispatched(lambda: ops.spmm(a, x))  # spmm itself never densifies


@pytest.mark.parametrize("side", ["sparse @ dense", "dense @ sparse", "sparse @ vector"])
@pytest.mark.parametrize("layout", ["csr", "coo"])
def test_dense_and_sparse_paths_agree_in_value_and_gradient(side, layout):
    a = random_sparse(7, 5, 0.4, layout=layout, duplicates=layout == "coo", seed=3)
    shape = {"sparse @ dense": (5, 3), "dense @ sparse": (4, 7), "sparse @ vector": (5,)}[side]
    x = sg.randn(*shape, dtype="float64", requires_grad=True)
    results = {}
    for mode in ("sparse", "dense"):
        with ops.spmm_mode(mode):
            out = x @ a if side == "dense @ sparse" else a @ x
            g = np.random.default_rng(0).standard_normal(out.shape)
            out.backward(sg.tensor(g))
        results[mode] = (out.detach().numpy(), x.grad.numpy(), a.values.grad.numpy())
        x.grad = a.values.grad = None
    for s, d in zip(results["sparse"], results["dense"], strict=True):
        assert_close(d, s, rtol=1e-12, atol=1e-12)


def test_auto_ignores_a_table_measured_on_another_device():
    a = random_sparse(6, 5, 0.9, seed=2, requires_grad=False)
    ops.set_cost_table({**DENSE_WINS, "device": "cuda"})
    assert "spmm" in dispatched(lambda: a @ sg.randn(5, 3, dtype="float64"))


def test_dense_path_gradcheck():
    a = random_sparse(6, 5, 0.5, seed=4)
    x = sg.randn(5, 2, dtype="float64", requires_grad=True)
    with ops.spmm_mode("dense"):
        gradcheck(lambda s, t: s @ t, [a, x])
        gradcheck(lambda t, s: t.T @ s, [x, a.T.detach().requires_grad_()])


def test_dense_mode_falls_back_to_sparse_where_dense_does_not_apply():
    hybrid = random_sparse(4, 5, 0.6, heads=2, seed=5, requires_grad=False)
    x3 = sg.randn(5, 2, 3, dtype="float64")
    with ops.spmm_mode("dense"):
        assert_close(hybrid @ x3, ops.spmm(hybrid, x3))
        with pytest.raises(TypeError, match="same dtype"):  # the sparse path's own error
            random_sparse(4, 5, 0.5, seed=6) @ sg.randn(5, 2)
        with pytest.raises(ValueError, match="matmul: expected `input` with 4 columns"):
            sg.randn(2, 3, dtype="float64") @ random_sparse(4, 5, 0.5, seed=6)


def test_gcn_on_sparse_features_is_equal_in_every_mode():
    from sparsegraph.gnn.models import GCN

    rng = np.random.default_rng(0)
    n, f = 30, 12
    adj = sg.from_edge_index(rng.integers(0, n, (2, 90)), n, dtype="float64")
    x = random_sparse(n, f, 0.2, seed=7, requires_grad=False)
    outs = {}
    for mode in ("sparse", "dense", "auto"):
        sg.manual_seed(0)
        net = GCN(f, 8, 2, 3, dropout=0.0).to(dtype=sg.float64)
        with ops.spmm_mode(mode):
            loss = (net(x, adj) ** 2).sum()
            loss.backward()
        outs[mode] = [loss.item()] + [p.grad.numpy() for p in net.parameters()]
    for mode in ("dense", "auto"):
        for got, want in zip(outs[mode], outs["sparse"], strict=True):
            assert_close(got, want, rtol=1e-10, atol=1e-12)


# ---- the scipy densify kernel -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("heads", [None, 2])
def test_scipy_to_dense_matches_the_generic_kernel(dtype, heads):
    a = random_sparse(9, 6, 0.5, layout="coo", duplicates=True, dtype=dtype, heads=heads,
                      seed=8, requires_grad=False)
    with sg.kernels.use(sparse_to_dense="scipy"):
        fast = a.to_dense().numpy()
    with sg.kernels.use(sparse_to_dense="generic"):
        ref = a.to_dense().numpy()
    assert fast.dtype == ref.dtype == np.dtype(dtype)
    assert_close(fast, ref, rtol=1e-6 if dtype == "float32" else 1e-12, atol=1e-6)
    assert sg.kernels.chosen("sparse_to_dense", "cpu") == "scipy"


# ---- malformed tables and budgets are refused where they are given -----------------------------
@pytest.mark.parametrize("spelling", ["CPU", " cpu ", "Cpu"])
def test_a_table_for_the_cpu_spelled_otherwise_runs_what_decide_reports(spelling):
    a = random_sparse(6, 5, 0.9, seed=2, requires_grad=False)
    ops.set_cost_table({**DENSE_WINS, "device": spelling})
    assert ops.cost_table()["device"] == "cpu"
    assert ops.decide_spmm(6, 5, a.nnz, 3, "float64").dense
    seen = dispatched(lambda: a @ sg.randn(5, 3, dtype="float64"))
    assert "sparse_to_dense" in seen and "spmm" not in seen  # was: sparse, silently
    ops.set_cost_table({**DENSE_WINS, "device": "cuda:0"})
    assert ops.cost_table()["device"] == "cuda"


@pytest.mark.parametrize("table, match", [
    ({**TINY, "device": "gpu"}, r"expected `device` 'cpu', 'cuda' or 'cuda:N'.*\(got 'gpu'\)"),
    ({**TINY, "device": 0}, r"expected `device` .*\(got 0\)"),
    ({**TINY, "dtype": "banana"}, r"expected `dtype` a float dtype name .*\(got 'banana'\)"),
    ({**TINY, "dtype": "int32"}, r"expected `dtype` a float dtype name .*\(got 'int32'\)"),
    ({**TINY, "dtype": None}, r"expected `dtype` a float dtype name .*\(got None\)"),
    ({**TINY, "min_speedup": True}, r"`min_speedup` to be a finite number >= 1.*\(got True\)"),
    ({**TINY, "min_speedup": float("inf")}, r"`min_speedup` .*\(got inf\)"),
    ({**TINY, "sparse": {**TINY["sparse"], "per_nnz": True}}, r"sparse.per_nnz .*\(got True\)"),
])
def test_set_cost_table_names_the_malformed_entry(table, match):
    before = ops.cost_table()
    with pytest.raises(ValueError, match="set_cost_table: .*" + match):
        ops.set_cost_table(table)
    assert ops.cost_table() == before  # refused: the table in use is unchanged
    a = random_sparse(6, 5, 0.9, seed=2, requires_grad=False)
    assert (a @ sg.randn(5, 3, dtype="float64")).shape == (6, 3)


def test_a_loaded_table_file_is_checked_too(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({**TINY, "dtype": "banana"}))
    with pytest.raises(ValueError, match=r"expected `dtype` .*\(got 'banana'\)"):
        ops.load_cost_table(path)


@pytest.mark.parametrize("env", ["inf", "-inf", "nan", "-5", "lots"])
def test_a_bad_budget_variable_is_a_clear_error(env, monkeypatch):
    monkeypatch.setenv("SPARSEGRAPH_DENSE_BUDGET_MB", env)
    monkeypatch.setattr(cost_model, "_default_budget", None)  # read it afresh
    match = (r"SPARSEGRAPH_DENSE_BUDGET_MB: expected a finite number of MB >= 0 \(got "
             + repr(env) + r"\)")
    with pytest.raises(ValueError, match=match):
        cost_model.memory_budget()
    a = sg.sparse_csr([0, 1, 2], [1, 0], np.ones(2, np.float32), (2, 2))
    with pytest.raises(ValueError, match=match):  # was a bare OverflowError for inf
        a @ sg.tensor(np.ones((2, 3), np.float32))


def test_a_good_budget_variable_is_read_in_mb(monkeypatch):
    monkeypatch.setenv("SPARSEGRAPH_DENSE_BUDGET_MB", "1.5")
    monkeypatch.setattr(cost_model, "_default_budget", None)
    assert cost_model.memory_budget() == int(1.5 * 2**20)


def test_a_decision_made_across_a_settings_change_is_not_memoised(monkeypatch):
    """Review A5: a decide_spmm that read the old table or budget while another thread set a
    new one must not store its answer where later calls find it."""
    from sparsegraph.ops import cost_model

    never = {"device": "cpu", "dtype": "float32",
             "sparse": {"overhead": 0.0, "per_nnz": 0.0, "per_nnz_feature": 0.0,
                        "per_row_feature": 0.0},
             "dense": {"overhead": 1.0, "per_element": 1.0, "per_nnz": 0.0, "per_mac": 0.0,
                       "per_row_feature": 0.0}}
    always = {**never, "sparse": {**never["sparse"], "overhead": 1.0},
              "dense": {**never["dense"], "overhead": 1e-6, "per_element": 0.0}}
    previous, budget = ops.set_cost_table(never), ops.set_memory_budget(None)
    try:
        real = cost_model.memory_budget
        raced = []

        def racing_budget():  # another thread changes the table mid-decision
            if not raced:
                raced.append(True)
                ops.set_cost_table(always)
            return real()

        monkeypatch.setattr(cost_model, "memory_budget", racing_budget)
        assert not ops.decide_spmm(10, 10, 50, 4).dense  # computed under `never`
        assert ops.decide_spmm(10, 10, 50, 4).dense  # under `always`: not the stale answer
    finally:
        ops.set_cost_table(previous)
        ops.set_memory_budget(budget)
