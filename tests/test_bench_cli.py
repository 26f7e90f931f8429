"""`sparsegraph bench` on tiny sizes: sparse-vs-dense (JSON, Markdown, plots, crossover, the
fitted table the cost model loads), spmm, models, and the errors it reports."""

import builtins
import json

import pytest

import sparsegraph as sg
from sparsegraph.cli import bench_sparse_dense, main

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


def test_sparse_vs_dense_without_matplotlib(tmp_path, capsys, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    args = ["bench", "sparse-vs-dense", "--nodes", "30", "--density-sweep", "0.1", "0.6",
            "--features", "2", "--ops", "spmm", "--repeat", "1", "--quiet", "--out",
            str(tmp_path)]
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "plots need matplotlib" in err and "pip install 'sparsegraph[plot]'" in err
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
    args = ["bench", "models", "--models", "gcn", "--datasets", "karate", "nope", "--epochs",
            "2", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 1  # one row failed, and says why
    r = json.loads((tmp_path / "results.json").read_text())
    ok, bad = r["rows"]
    assert ok["model"] == "gcn" and ok["dataset"] == "karate" and ok["nodes"] == 34
    assert ok["epoch_ms_median"] > 0 and ok["peak_rss_mb"] > 50
    assert "unknown dataset 'nope'" in bad["error"]
    md = (tmp_path / "results.md").read_text()
    assert "| gcn | karate | 34 |" in md and "failed: " in md


@pytest.mark.parametrize("kind", ["sparse-vs-dense", "spmm", "models"])
def test_cuda_without_a_gpu_fails_clearly(tmp_path, capsys, monkeypatch, kind):
    monkeypatch.setattr(sg.backend, "cuda_status",
                        lambda: "device 'cuda' is not usable (no driver)")
    assert main(["bench", kind, "--device", "cuda", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"sparsegraph bench {kind}: --device cuda needs a usable GPU" in err
    assert "no driver" in err
    assert not (tmp_path / "results.json").exists()


def test_cuda_with_a_gpu_says_the_benchmarks_are_cpu_only(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sg.backend, "cuda_status", lambda: "usable: cupy 13, 1 device(s)")
    assert main(["bench", "spmm", "--device", "cuda:0", "--out", str(tmp_path)]) == 2
    assert "--device cuda:0: the benchmarks time CPU kernels only" in capsys.readouterr().err
    assert main(["bench", "spmm", "--device", "tpu", "--out", str(tmp_path)]) == 2
    assert "device: expected 'cpu', 'cuda' or 'cuda:N' (got 'tpu')" in capsys.readouterr().err

