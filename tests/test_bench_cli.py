"""`sparsegraph bench` on tiny sizes: sparse-vs-dense (JSON, Markdown, plots, crossover, the
fitted table the cost model loads), spmm, models, and the errors it reports."""

import builtins
import json
import re

import pytest

import sparsegraph as sg
from sparsegraph.cli import bench_plots, bench_sparse_dense, main
from tests.cli_help import help_text as _help
from tests.cli_help import options as _options

TINY_SWEEP = ["bench", "sparse-vs-dense", "--nodes", "40", "120", "--density-sweep", "0.02",
              "0.2", "0.9", "--features", "4", "--repeat", "1", "--quiet"]


@pytest.fixture(autouse=True)
def _restore_table():
    table = sg.ops.cost_table()
    yield
    sg.ops.set_cost_table(table)


def test_sparse_vs_dense_writes_results_plots_and_a_loadable_table(tmp_path, capsys):
    assert main(TINY_SWEEP + ["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Crossover density" in out and "wrote" in out
    r = json.loads((tmp_path / "results.json").read_text())
    assert {p["n_rows"] for p in r["points"]} == {40, 120}
    assert {p["op"] for p in r["points"]} == {"spmm", "gcn"}
    assert len(r["points"]) == 2 * 3 * 2  # N x densities x ops
    for p in r["points"]:
        assert p["sparse_s"] > 0 and p["dense_s"] > 0
        assert p["dense_memory_bytes"] >= p["n_rows"] ** 2 * 4  # the dense matrix itself
        assert p["nnz"] >= 1 and p["density"] == pytest.approx(p["nnz"] / p["n_rows"] ** 2)
    assert len(r["crossovers"]) == 4 and all("model_crossover_density" in c
                                             for c in r["crossovers"])
    for name in ("results.md", "time_vs_density.png", "memory_vs_density.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "time_vs_density.png").read_bytes()[:4] == b"\x89PNG"
    # the reported model crossover is the one the auto-selection then uses
    table = sg.ops.load_cost_table(tmp_path / "results.json")
    assert table["sparse"] == pytest.approx(r["cost_table"]["sparse"])
    for c in r["crossovers"]:
        if c["model_crossover_density"] is not None:
            assert sg.ops.crossover_density(c["nodes"], c["nodes"], c["features"]) == \
                pytest.approx(c["model_crossover_density"])


def test_crossover_interpolates_where_dense_starts_winning():
    def pts(ratios):
        return [{"density": d, "sparse_s": 1.0, "dense_s": r}
                for d, r in zip([0.01, 0.1, 1.0], ratios, strict=True)]

    assert bench_sparse_dense.crossover(pts([4.0, 2.0, 0.5])) == pytest.approx(0.1 * 10 ** 0.5)
    assert bench_sparse_dense.crossover(pts([4.0, 2.0, 1.5])) is None  # sparse always faster
    assert bench_sparse_dense.crossover(pts([0.5, 0.4, 0.1])) == 0.0  # dense always faster
    # a noisy dip at low density does not count: dense must stay faster above the crossover
    assert bench_sparse_dense.crossover(pts([0.9, 2.0, 0.5])) == pytest.approx(0.1 * 10 ** 0.5)


def test_sparse_vs_dense_says_what_did_not_fit(tmp_path, capsys):
    args = ["bench", "sparse-vs-dense", "--nodes", "30", "200", "--density-sweep", "0.05",
            "0.5", "--features", "2", "--ops", "spmm", "--repeat", "1", "--quiet",
            "--dense-budget-mb", "0.01", "--max-nnz", "10000", "--no-plots",
            "--out", str(tmp_path)]
    assert main(args) == 0
    r = json.loads((tmp_path / "results.json").read_text())
    assert any("N=200: dense skipped at every density" in s and "> budget" in s
               for s in r["skipped"])
    assert any("N=200, density 0.5: skipped: 20000 entries > --max-nnz 10000" in s
               for s in r["skipped"])
    big = [p for p in r["points"] if p["n_rows"] == 200]
    assert len(big) == 1 and big[0]["dense_s"] is None and big[0]["sparse_s"] > 0
    assert "dense not measured (does not fit the budget)" in (tmp_path / "results.md").read_text()
    assert not (tmp_path / "time_vs_density.png").exists()


def _without(monkeypatch, module: str) -> None:
    """Imports of ``module`` (and its submodules) fail, as when it is not installed."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named {module!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


SMALL_SWEEP = ["bench", "sparse-vs-dense", "--nodes", "30", "--density-sweep", "0.1", "0.6",
               "--features", "2", "--ops", "spmm", "--repeat", "1", "--quiet"]


def test_sparse_vs_dense_without_matplotlib_fails_before_the_sweep(tmp_path, capsys,
                                                                  monkeypatch):
    _without(monkeypatch, "matplotlib")
    monkeypatch.setattr(bench_sparse_dense, "sweep", lambda args: pytest.fail("swept"))
    out = tmp_path / "o"
    assert main(SMALL_SWEEP + ["--out", str(out)]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sparsegraph bench sparse-vs-dense: plots need matplotlib, which is not "
                   "installed: pip install 'sparsegraph[plot]' (or pass --no-plots); nothing "
                   "was run"]
    assert not out.exists()
    monkeypatch.undo()
    _without(monkeypatch, "matplotlib")  # --no-plots needs no matplotlib
    assert main(SMALL_SWEEP + ["--out", str(out), "--no-plots"]) == 0
    assert (out / "results.json").exists()


def test_sparse_vs_dense_when_plotting_fails_after_the_sweep(tmp_path, capsys, monkeypatch):
    checks = []
    real = bench_plots.pyplot

    def pyplot_once():  # the check before the sweep passes; the plot itself then fails
        checks.append(1)
        if len(checks) > 1:
            raise ImportError("No module named 'matplotlib.backends.backend_agg'")
        return real()

    monkeypatch.setattr(bench_plots, "pyplot", pyplot_once)
    assert main(SMALL_SWEEP + ["--out", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "plots need matplotlib" in err and "the JSON and Markdown results were written" in err
    assert (tmp_path / "results.json").exists()  # the numbers are kept


@pytest.mark.parametrize("bad, match", [
    (["--density-sweep", "0", "0.5"], r"--density-sweep values in \(0, 1\]"),
    (["--nodes", "0"], r"expected --nodes >= 1 \(got \[0\]\)"),
    (["--repeat", "0"], r"expected --repeat >= 1 \(got 0\)"),
    (["--max-nnz", "0"], r"expected --max-nnz >= 1"),
])
def test_sparse_vs_dense_rejects_bad_arguments(tmp_path, capsys, bad, match):
    import re

    assert main(["bench", "sparse-vs-dense", "--out", str(tmp_path), *bad]) == 2
    assert re.search(match, capsys.readouterr().err)


def test_spmm_bench_writes_json_and_markdown(tmp_path, capsys):
    args = ["bench", "spmm", "--nodes", "300", "--edges", "2000", "--features", "4", "8",
            "--repeat", "1", "--copy-gb", "0.001", "--kernels", "numba", "generic", "--quiet",
            "--out", str(tmp_path)]
    assert main(args) == 0
    r = json.loads((tmp_path / "results.json").read_text())
    assert [(row["features"], row["kernel"]) for row in r["rows"]] == [
        (4, "numba"), (4, "generic"), (8, "numba"), (8, "generic")]
    for row in r["rows"]:
        assert row["forward_ms"] > 0 and row["backward_ms"] == pytest.approx(
            row["grad_x_ms"] + row["grad_values_ms"])
        assert row["floor_bytes"] == 2000 * 8 + (2000 + 300) * row["features"] * 4
    md = (tmp_path / "results.md").read_text()
    assert "| F | kernel | forward ms |" in md and "| 8 | generic |" in md
    assert main(["bench", "spmm", "--kernels", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown kernel(s) ['nope']" in capsys.readouterr().err


def test_models_bench_runs_each_row_in_a_fresh_process(tmp_path, capsys):
    empty = tmp_path / "no-data"
    empty.mkdir()
    args = ["bench", "models", "--models", "gcn", "--datasets", "karate", "cora", "--epochs",
            "2", "--root", str(empty), "--quiet", "--out", str(tmp_path)]
    assert main(args) == 1  # one row failed (cora's files are missing), and says why
    r = json.loads((tmp_path / "results.json").read_text())
    ok, bad = r["rows"]
    assert ok["model"] == "gcn" and ok["dataset"] == "karate" and ok["nodes"] == 34
    assert ok["epoch_ms_median"] > 0 and ok["peak_rss_mb"] > 50
    assert "DatasetUnavailable" in bad["error"] and "ind.cora.x" in bad["error"]
    md = (tmp_path / "results.md").read_text()
    assert "| gcn | karate | 34 |" in md and "failed: " in md
    # a name that is no dataset at all is refused before anything runs
    assert main(["bench", "models", "--datasets", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ---- --device: the same code path on the CPU and a GPU ----------------------------------------
KINDS = ["sparse-vs-dense", "spmm", "models"]


@pytest.mark.parametrize("kind", KINDS)
def test_cuda_without_a_gpu_fails_clearly(tmp_path, capsys, monkeypatch, kind):
    monkeypatch.setattr(sg.backend, "cuda_status",
                        lambda: "device 'cuda' is not usable (no driver)")
    assert main(["bench", kind, "--device", "cuda", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"sparsegraph bench {kind}: --device cuda needs a usable GPU" in err
    assert "no driver" in err
    assert not (tmp_path / "results.json").exists()


@pytest.mark.skipif(sg.cuda_available(), reason="a GPU is usable here: --device cuda would run")
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_on_this_machine_names_the_reason(tmp_path, capsys, kind):
    assert main(["bench", kind, "--device", "cuda:0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"sparsegraph bench {kind}: --device cuda:0 needs a usable GPU: "
                   f"{sg.backend.cuda_status()}")


class _FakeCupy:
    """Just enough of cupy for the device plumbing: a device count, and devices that record
    being synchronised or made current."""

    def __init__(self, count=1):
        self.calls = []
        fake = self

        class Device:
            def __init__(self, index):
                self.index = index

            def synchronize(self):
                fake.calls.append(("synchronize", self.index))

            def __enter__(self):
                fake.calls.append(("enter", self.index))

            def __exit__(self, *exc):
                fake.calls.append(("exit", self.index))

        runtime = type("runtime", (), {"getDeviceCount": staticmethod(lambda: count)})
        self.cuda = type("cuda", (), {"Device": Device, "runtime": runtime})


@pytest.fixture
def fake_gpu(monkeypatch):
    """cuda_status says usable; cupy_module is a fake with one device."""
    cp = _FakeCupy(count=1)
    monkeypatch.setattr(sg.backend, "cuda_status", lambda: "usable: cupy 14, 1 device(s)")
    monkeypatch.setattr(sg.backend, "cupy_module", lambda: cp)
    return cp


def test_check_device_lets_a_usable_gpu_through(fake_gpu, capsys, tmp_path):
    from sparsegraph.cli.bench import check_device

    assert check_device("cpu") is None
    assert check_device("cuda") is None and check_device("cuda:0") is None
    assert check_device("cuda:3") == ("--device cuda:3: expected a GPU index below 1 (this "
                                      "machine has 1 CUDA device(s): cuda:0 to cuda:0)")
    assert main(["bench", "spmm", "--device", "cuda:3", "--out", str(tmp_path)]) == 2
    assert "sparsegraph bench spmm: --device cuda:3: expected a GPU index below 1" in \
        capsys.readouterr().err
    assert main(["bench", "spmm", "--device", "tpu", "--out", str(tmp_path)]) == 2
    assert "device: expected 'cpu', 'cuda' or 'cuda:N' (got 'tpu')" in capsys.readouterr().err


def test_synchronize_is_a_no_op_on_the_cpu_and_waits_for_the_gpu(fake_gpu, monkeypatch):
    from sparsegraph.cli import bench

    assert bench.synchronize("cpu") is None and bench.synchronize() is None
    assert bench.gpu_pool_bytes("cpu") is None
    with bench.on_device("cpu"):
        pass
    assert fake_gpu.calls == []  # the CPU never touches cupy
    bench.synchronize("cuda")
    bench.synchronize("cuda:0")
    with bench.on_device("cuda:0"):
        pass
    assert fake_gpu.calls == [("synchronize", 0), ("synchronize", 0), ("enter", 0),
                              ("exit", 0)]


def test_best_ms_reads_the_clock_after_synchronising(monkeypatch):
    from sparsegraph.cli import bench

    events = []
    monkeypatch.setattr(bench, "synchronize", lambda device="cpu": events.append(device))
    ms = bench.best_ms(lambda: events.append("call"), 3, device="cuda:0")
    assert ms >= 0
    assert events == ["call", "cuda:0"] * 4  # the warm-up, then each timed call, waited for
    assert bench.copy_bandwidth(0.001, repeat=2, device="cpu") > 0


def test_spmm_timing_takes_a_device_and_runs_on_the_cpu():
    from sparsegraph.cli import bench

    kernels = bench.spmm_kernels("cpu")
    assert set(kernels) == {"spmm", "sddmm", "csr_transpose", "spmm_backward", "take"}
    assert "numba" in kernels["spmm"] and "generic" in kernels["spmm"]
    assert "cupy" in bench.spmm_kernels("cuda")["spmm"]  # what --device cuda times
    out = bench.spmm_rows(200, 1000, [4], ["generic"], repeat=1, copy_gb=0.001, device="cpu")
    assert out["copy_bandwidth_gb_s"] > 0 and set(out["csr_transpose_ms"]) == {"generic"}
    (row,) = out["rows"]
    assert row["kernel"] == "generic" and row["forward_ms"] > 0
    assert row["forward_copy_fraction"] > 0 and row["backward_fused_ms"] > 0
    assert row["backward_ms"] == row["grad_x_ms"] + row["grad_values_ms"]
    # numpy places arrays on 16-byte boundaries: 0, 16, 32 or 48 bytes into a cache line
    assert all(off in (0, 16, 32, 48) for off in row["x_g_line_offsets"])


def test_best_ms_alternating_calls_each_pass_once_per_round(monkeypatch):
    from sparsegraph.cli import bench

    calls = []
    monkeypatch.setattr(bench, "synchronize", lambda device="cpu": calls.append("sync"))
    ms = bench.best_ms_alternating({"a": lambda: calls.append("a"),
                                    "b": lambda: calls.append("b")}, 2)
    assert set(ms) == {"a", "b"} and min(ms.values()) >= 0
    # the warm-ups, then rounds of one call each: a load change falls on both passes alike
    assert calls == ["a", "sync", "b", "sync"] * 3


def test_epoch_times_takes_a_device_and_synchronises_each_epoch(monkeypatch):
    from sparsegraph.cli import bench_models

    waits = []
    monkeypatch.setattr(bench_models, "synchronize", lambda device="cpu": waits.append(device))
    row = bench_models.epoch_times("gcn", "karate", None, 2, device="cpu")
    assert waits == ["cpu"] * 4  # two warm-up and two timed epochs, each waited for
    assert row["device"] == "cpu" and row["nodes"] == 34 and row["epoch_ms_median"] > 0
    assert row["peak_gpu_mb"] is None and row["peak_rss_mb"] > 0


def test_sparse_vs_dense_measure_takes_a_device(monkeypatch):
    import numpy as np

    rng = np.random.default_rng(0)
    a = bench_sparse_dense.random_adjacency(30, 0.2, np.float32, rng)
    waits = []
    monkeypatch.setattr(bench_sparse_dense, "synchronize",
                        lambda device="cpu": waits.append(device))
    res = bench_sparse_dense.measure("gcn", a, 3, 2, rng, device="cpu")
    assert set(res) == {"sparse", "dense"} and res["dense"]["peak_alloc_bytes"] >= 30 * 30 * 4
    assert waits and set(waits) == {"cpu"}  # every timed step waits for its device


def test_models_on_a_gpu_passes_the_device_and_reports_gpu_memory(fake_gpu, monkeypatch,
                                                                   tmp_path, capsys):
    import subprocess

    from sparsegraph.cli import bench_models

    children = []

    def child(cmd, **kwargs):
        children.append(cmd)
        row = {"model": "gcn", "dataset": "karate", "device": "cuda:0", "nodes": 34,
               "edges": 156, "epoch_ms_median": 2.0, "epoch_ms_min": 1.5, "peak_rss_mb": 300.0,
               "peak_gpu_mb": 12.4}
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(row) + "\n", stderr="")

    monkeypatch.setattr(bench_models.subprocess, "run", child)
    monkeypatch.setattr(bench_models, "machine", lambda device="cpu": {"device": device})
    monkeypatch.setattr(bench_models, "device_label", lambda device: f"{device} (fake GPU)")
    args = ["bench", "models", "--device", "cuda", "--models", "gcn", "--datasets", "karate",
            "--epochs", "1", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 0
    (cmd,) = children
    assert cmd[cmd.index("--device") + 1] == "cuda" and cmd[cmd.index("--single") + 1:][:2] == [
        "gcn", "karate"]
    r = json.loads((tmp_path / "results.json").read_text())
    assert r["config"]["device"] == "cuda:0" and r["rows"][0]["peak_gpu_mb"] == 12.4
    md = (tmp_path / "results.md").read_text()
    assert "Device cuda:0 (fake GPU)" in md and "| peak RSS | peak GPU |" in md
    assert "| 300 MB | 12 MB |" in md


def test_device_help_no_longer_says_unsupported(capsys):
    for kind in KINDS:
        with pytest.raises(SystemExit):
            main(["bench", kind, "--help"])
        out = capsys.readouterr().out
        assert "not supported" not in out and "cuda:N" in out


# ---- regressions ----------------------------------------------------------------------------
def test_crossover_ignores_points_without_entries():
    pts = [{"density": 0.0, "sparse_s": 1.0, "dense_s": 2.0},
           {"density": 1.0, "sparse_s": 1.0, "dense_s": 0.5}]
    assert bench_sparse_dense.crossover(pts) == 0.0


def test_sparse_vs_dense_with_nothing_to_measure_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["bench", "sparse-vs-dense", "--nodes", "300", "--density-sweep", "0.1", "0.5",
            "--max-nnz", "100", "--quiet", "--out", str(out)]
    assert main(args) == 2
    assert "more than --max-nnz 100" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("bench", [
    ["sparse-vs-dense", "--nodes", "20", "--density-sweep", "0.5", "--features", "2"],
    ["spmm", "--nodes", "20", "--edges", "10", "--features", "2", "--copy-gb", "0.001"],
    ["models", "--models", "gcn", "--datasets", "karate", "--epochs", "1"],
])
def test_out_that_is_a_file_is_refused_before_running(tmp_path, capsys, monkeypatch, bench):
    ran = []
    monkeypatch.setattr(bench_sparse_dense, "sweep", lambda *a: ran.append(1))
    monkeypatch.setattr("sparsegraph.cli.bench.spmm_rows", lambda *a, **k: ran.append(1))
    monkeypatch.setattr("sparsegraph.cli.bench_models._one_in_child",
                        lambda *a, **k: ran.append(1))
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert main(["bench", *bench, "--quiet", "--out", str(afile)]) == 2
    assert f"--out {afile} is a file, not a folder; pass a folder" in capsys.readouterr().err
    assert not ran and afile.read_text() == "keep me"


@pytest.mark.parametrize("bad, match", [
    (["--nodes", "10", "--edges", "200"], r"expected --edges <= --nodes\^2 = 100 \(got 200\)"),
    (["--copy-gb", "0"], r"expected a finite --copy-gb > 0 \(got 0.0\)"),
    (["--copy-gb", "inf"], r"expected a finite --copy-gb > 0 \(got inf\)"),
    (["--copy-gb", "nan"], r"expected a finite --copy-gb > 0 \(got nan\)"),
])
def test_spmm_rejects_impossible_sizes(tmp_path, capsys, bad, match):
    import re

    assert main(["bench", "spmm", "--quiet", "--out", str(tmp_path / "o"), *bad]) == 2
    assert re.search(match, capsys.readouterr().err) and not (tmp_path / "o").exists()


def test_models_bench_refuses_a_dataset_without_a_split_before_running(tmp_path, capsys):
    args = ["bench", "models", "--models", "gcn", "--datasets", "karate", "cora_ml",
            "--epochs", "1", "--quiet", "--out", str(tmp_path / "x")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sparsegraph bench models: cora_ml has no stored train/val/test split to "
                   "train on; drop it from --datasets"]
    assert not (tmp_path / "x").exists()


def test_dense_budget_sizes_are_printed_in_a_readable_unit():
    from sparsegraph.cli.bench_sparse_dense import size_text

    assert size_text(0) == "0 bytes" and size_text(30 * 30 * 8) == "7.03 KiB"
    assert size_text(3 * 2**20) == "3.00 MiB" and size_text(2**31) == "2.00 GiB"


# ---- sparse-vs-dense: every point measured alike; --repeat; a bad budget variable ------------
@pytest.mark.parametrize("op", ["spmm", "gcn"])
def test_memory_of_a_point_does_not_depend_on_what_ran_before(op):
    import numpy as np

    fresh = bench_sparse_dense.random_adjacency(200, 0.2, np.float32, np.random.default_rng(0))
    reused = bench_sparse_dense.random_adjacency(200, 0.2, np.float32, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    bench_sparse_dense.measure(op, reused, 8, 1, rng)  # its one-time caches exist now
    first = bench_sparse_dense.measure(op, fresh, 8, 1, rng)
    again = bench_sparse_dense.measure(op, reused, 8, 1, rng)
    for side in ("sparse", "dense"):  # a cache counted once is nnz x 4 B = 32 KB here
        a, b = first[side]["peak_alloc_bytes"], again[side]["peak_alloc_bytes"]
        assert abs(a - b) <= 1024, (side, a, b)
    # the gathered transposed values are counted once, by _transposed_bytes, not in the peak
    assert first["sparse"]["peak_alloc_bytes"] < fresh.nnz * 4


def test_repeat_is_the_fewest_runs_for_fast_and_slow_steps(monkeypatch):
    import numpy as np

    a = bench_sparse_dense.random_adjacency(30, 0.2, np.float32, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    assert bench_sparse_dense.measure("spmm", a, 2, 50, rng)["sparse"]["runs"] == 50
    # a step that looks slow (1.5 s a side) still runs --repeat times
    monkeypatch.setattr(bench_sparse_dense, "_traced", lambda fn, device="cpu": (1.5, 0))
    assert bench_sparse_dense.measure("spmm", a, 2, 3, rng)["dense"]["runs"] == 3


def test_a_bad_budget_variable_breaks_neither_info_nor_help(monkeypatch, tmp_path, capsys):
    from sparsegraph.ops import cost_model

    monkeypatch.setenv("SPARSEGRAPH_DENSE_BUDGET_MB", "inf")
    monkeypatch.setattr(cost_model, "_default_budget", None)
    assert main(["info"]) == 0
    for argv in (["train", "--help"], ["bench", "sparse-vs-dense", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
    capsys.readouterr()
    assert main(TINY_SWEEP + ["--out", str(tmp_path / "r")]) == 2
    assert ("sparsegraph bench sparse-vs-dense: SPARSEGRAPH_DENSE_BUDGET_MB: expected a finite "
            "number of MB >= 0 (got 'inf')") in capsys.readouterr().err
    assert main(TINY_SWEEP + ["--out", str(tmp_path / "r"), "--dense-budget-mb", "inf"]) == 2
    assert "expected a finite --dense-budget-mb (got inf)" in capsys.readouterr().err


# ---- audit_large3 #5-#8 and notes -----------------------------------------------------------
TINY = {"sparse-vs-dense": ["--nodes", "10", "--density-sweep", "0.5", "--features", "2",
                            "--repeat", "1", "--no-plots"],
        "spmm": ["--nodes", "5", "--edges", "3", "--features", "2", "--repeat", "1",
                 "--copy-gb", "0.001"],
        "models": ["--models", "gcn", "--datasets", "karate", "--epochs", "1"]}


@pytest.mark.parametrize("kind", KINDS)
def test_a_negative_seed_is_refused_in_one_line(tmp_path, capsys, kind):
    # argparse's refusal, by the --seed type every command shares (readme_cli audit F4)
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as exc:
        main(["bench", kind, *TINY[kind], "--quiet", "--out", str(out), "--seed", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"sparsegraph bench {kind}: error: argument --seed: expected an int "
                       ">= 0 (got -1)")
    assert "Traceback" not in "\n".join(err)
    assert not out.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_an_empty_out_is_refused(tmp_path, capsys, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)  # argparse's refusal, by the type every folder flag shares
    with pytest.raises(SystemExit) as exc:
        main(["bench", kind, *TINY[kind], "--quiet", "--out", ""])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"sparsegraph bench {kind}: error: argument --out: expected a folder path (got '')")
    assert list(tmp_path.iterdir()) == []  # nothing written into the current directory


def test_models_seed_reaches_the_child_and_the_results(tmp_path, monkeypatch, capsys):
    from sparsegraph.cli import bench_models

    commands = []

    def run(cmd, **kwargs):
        commands.append(cmd)
        row = {"model": "gcn", "dataset": "karate", "nodes": 34, "edges": 156,
               "epoch_ms_median": 1.0, "epoch_ms_min": 1.0, "peak_rss_mb": 100.0}
        return type("Done", (), {"returncode": 0, "stdout": json.dumps(row), "stderr": ""})

    monkeypatch.setattr(bench_models.subprocess, "run", run)
    args = ["bench", "models", *TINY["models"], "--seed", "123", "--quiet", "--out",
            str(tmp_path)]
    assert main(args) == 0
    (cmd,) = commands
    assert cmd[cmd.index("--seed") + 1] == "123"
    config = json.loads((tmp_path / "results.json").read_text())["config"]
    assert config["seed"] == 123
    assert "(seed 123)" in (tmp_path / "results.md").read_text()


def test_epoch_times_seeds_the_model(monkeypatch):
    from sparsegraph.cli import bench_models

    seeds = []
    real = sg.manual_seed
    monkeypatch.setattr(sg, "manual_seed", lambda s: seeds.append(s) or real(s))
    row = bench_models.epoch_times("gcn", "karate", None, 1, seed=7)
    assert seeds == [7] and row["epoch_ms_median"] > 0


def test_a_run_without_plots_removes_an_earlier_runs_plots(tmp_path, capsys):
    base = ["bench", "sparse-vs-dense", "--features", "2", "--repeat", "1", "--quiet",
            "--out", str(tmp_path)]
    assert main(base + ["--nodes", "30", "--density-sweep", "0.1", "0.5", "--ops", "spmm"]) == 0
    assert all((tmp_path / name).exists() for name in bench_sparse_dense.PLOTS)
    capsys.readouterr()
    assert main(base + ["--nodes", "40", "--density-sweep", "0.2", "--no-plots"]) == 0
    out = capsys.readouterr().out
    for name in bench_sparse_dense.PLOTS:
        assert not (tmp_path / name).exists()
        assert f"removed {tmp_path / name} (a plot of an earlier run)" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]


def test_a_run_that_cannot_plot_removes_an_earlier_runs_plots(tmp_path, capsys, monkeypatch):
    for name in bench_sparse_dense.PLOTS:
        (tmp_path / name).write_bytes(b"\x89PNG old")

    def no_matplotlib(*args):
        raise ImportError("No module named 'matplotlib'")

    monkeypatch.setattr(bench_plots, "plot", no_matplotlib)  # fails after the sweep
    args = ["bench", "sparse-vs-dense", "--nodes", "30", "--density-sweep", "0.3",
            "--features", "2", "--ops", "spmm", "--repeat", "1", "--quiet", "--out",
            str(tmp_path)]
    assert main(args) == 3
    assert not any((tmp_path / name).exists() for name in bench_sparse_dense.PLOTS)


def test_the_cost_table_is_fitted_on_spmm_points_only(tmp_path, capsys, monkeypatch):
    fitted = []
    real = bench_sparse_dense.sweep

    def sweep(args):
        points, skipped = real(args)
        fitted.append({p["op"] for p in points})
        return points, skipped

    monkeypatch.setattr(bench_sparse_dense, "sweep", sweep)
    from sparsegraph.ops import cost_model

    base = ["bench", "sparse-vs-dense", "--nodes", "30", "60", "--density-sweep", "0.1", "0.6",
            "--features", "2", "--repeat", "1", "--quiet", "--no-plots"]
    assert main(base + ["--out", str(tmp_path / "both")]) == 0
    assert fitted == [{"spmm", "gcn"}]
    r = json.loads((tmp_path / "both" / "results.json").read_text())
    spmm = [p for p in r["points"] if p["op"] == "spmm"]
    alone = cost_model.fit_cost_table(spmm)
    assert all(r["cost_table"][k] == pytest.approx(alone[k]) for k in ("sparse", "dense"))
    assert main(base + ["--ops", "gcn", "--out", str(tmp_path / "gcn")]) == 0
    r = json.loads((tmp_path / "gcn" / "results.json").read_text())
    assert r["cost_table"] is None  # nothing fitted on GCN layers
    want = "no cost table fitted: fit_cost_table: no spmm points"
    assert any(s.startswith(want) for s in r["skipped"])
    assert want in (tmp_path / "gcn" / "results.md").read_text()
    # nor when the table is loaded from the results' points
    before = sg.ops.cost_table()
    with pytest.raises(ValueError, match="holds no fitted table .*no spmm points"):
        sg.ops.load_cost_table(tmp_path / "gcn" / "results.json")
    assert sg.ops.cost_table() == before


def test_bench_sampling_refuses_zero_and_negative_batches(capsys):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sampling.py"
    spec = importlib.util.spec_from_file_location("bench_sampling", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for bad in ("0", "-1", "x"):
        with pytest.raises(SystemExit) as exc:  # never "0 means the whole epoch"
            module.main(["--batches", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "argument --batches: expected an int >= 1 (got" in err


# ---- audit_readme3 F4, F6 -------------------------------------------------------------------
def test_sparse_vs_dense_help_names_the_plot_extra_and_exit_status_3(capsys, monkeypatch):
    text = " ".join(_help(["bench", "sparse-vs-dense", "--help"], capsys, monkeypatch).split())
    assert "pip install 'sparsegraph[plot]'" in text
    assert "3 plots wanted but matplotlib (the `plot` extra) is missing: checked before the " \
           "sweep" in text


@pytest.mark.parametrize("kind, out", [("sparse-vs-dense", "bench-sparse-vs-dense"),
                                       ("spmm", "bench-spmm"), ("models", "bench-models")])
def test_bench_help_shows_the_out_and_seed_defaults(capsys, monkeypatch, kind, out):
    option = _options(_help(["bench", kind, "--help"], capsys, monkeypatch))
    assert option["--out"].endswith(f"(default: {out})")
    assert re.fullmatch(r"--seed SEED +seed of .* \(default: 0\)", option["--seed"])
    if kind == "sparse-vs-dense":
        assert option["--ops"].endswith("(default: ['spmm', 'gcn'])")
