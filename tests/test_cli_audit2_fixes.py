"""The `sparsegraph` command line and the benchmark scripts: fixes of the second CLI audit.
Output paths that cannot be written are refused before any work, ``~`` in a path option is
expanded once, a synthetic cache that cannot be written is a named error, graph-classification
datasets are refused by `bench models`, the scripts refuse bad values with argparse's one line
(and show a failing child's own message), and `train` says which sizes ran out of memory."""

import importlib.util
import os
import pathlib
import shutil
import subprocess

import pytest

from tests.cli_help import err_lines, run

ROOT = pathlib.Path(__file__).resolve().parents[1]
KARATE_ONLY = ["--epochs", "1", "--runs", "1", "--quiet"]
UNWRITABLE = "/proc"  # exists, and nobody (root included) can create a file in it
SPMM_TINY = ["bench", "spmm", "--nodes", "20", "--edges", "50", "--features", "4", "--repeat",
             "1", "--copy-gb", "0.0001", "--quiet"]




def script(name: str):
    """A benchmarks/ script, imported as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refused(fn, capsys) -> str:
    """The one argparse error line of ``fn()`` (which must exit with status 2)."""
    with pytest.raises(SystemExit) as exc:
        fn()
    assert exc.value.code == 2
    lines = err_lines(capsys)
    assert "error:" in lines[-1], lines
    return lines[-1]


def _never(*args, **kwargs):
    raise AssertionError("the work ran: the refusal must come first")


@pytest.fixture
def immutable(tmp_path):
    """A folder nobody can write to, root included (``chattr +i``); +i removed after."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


# ---- 1: output paths that cannot be written, refused before any work --------------------
def test_unwritable_tells_a_writable_folder_from_one_even_root_cannot_write(tmp_path):
    from sparsegraph.cli.common import unwritable

    assert unwritable(tmp_path) is None
    assert list(tmp_path.iterdir()) == []  # the check's file is gone
    assert unwritable(UNWRITABLE) is not None  # os.access says yes to root here


@pytest.mark.parametrize("kind", ["spmm", "models", "sparse-vs-dense"])
def test_bench_out_in_an_unwritable_folder_is_refused_before_the_measurement(
        kind, immutable, capsys, monkeypatch):
    from sparsegraph.cli import bench, bench_models, bench_sparse_dense

    monkeypatch.setattr(bench, "spmm_rows", _never)
    monkeypatch.setattr(bench_models, "_one_in_child", _never)
    monkeypatch.setattr(bench_sparse_dense, "sweep", _never)
    argv = {"spmm": SPMM_TINY,
            "models": ["bench", "models", "--models", "gcn", "--datasets", "karate",
                       "--epochs", "1", "--quiet"],
            "sparse-vs-dense": ["bench", "sparse-vs-dense", "--nodes", "10", "--density-sweep",
                                "0.5", "--features", "4", "--repeat", "1", "--no-plots",
                                "--quiet"]}[kind]
    for out in (immutable, immutable / "sub", pathlib.Path(UNWRITABLE) / "sub"):
        assert run([*argv, "--out", str(out)]) == 2
        (line,) = err_lines(capsys)
        assert line.startswith(f"sparsegraph bench {kind}: --out: {out} ")
        assert "not writable" in line
    assert not (immutable / "sub").exists()


def test_graph_out_and_train_json_in_an_unwritable_folder_are_refused_first(capsys,
                                                                           monkeypatch):
    import sparsegraph.datasets

    monkeypatch.setattr(sparsegraph.datasets, "load_for_training", _never)
    path = f"{UNWRITABLE}/r.json"
    assert run(["train", *KARATE_ONLY, "--json", path]) == 2
    assert err_lines(capsys) == [f"sparsegraph train: --json: the folder of {path} is not "
                                 "writable (No such file or directory)"]
    assert run(["graph", "--out", f"{UNWRITABLE}/g.dot"]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(f"sparsegraph graph: --out: the folder of {UNWRITABLE}/g.dot is "
                           "not writable")


def test_train_json_in_an_immutable_folder_is_refused_first(immutable, capsys, monkeypatch):
    import sparsegraph.datasets

    monkeypatch.setattr(sparsegraph.datasets, "load_for_training", _never)
    assert run(["train", *KARATE_ONLY, "--json", str(immutable / "r.json")]) == 2
    assert err_lines(capsys) == [f"sparsegraph train: --json: the folder of "
                                 f"{immutable / 'r.json'} is not writable (Operation not "
                                 "permitted)"]


def test_bench_results_that_cannot_be_written_after_the_run_are_one_line(tmp_path, capsys,
                                                                         monkeypatch):
    # the folder was fine when checked and changed during the run: one line, the table kept
    from sparsegraph.datasets import download

    def fail(path, data):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(download, "write_atomic", fail)
    assert run([*SPMM_TINY, "--out", str(tmp_path / "b")]) == 2
    out, err = capsys.readouterr()
    assert "| F | kernel |" in out and "Traceback" not in err
    assert err.strip() == (f"sparsegraph bench spmm: --out: cannot write "
                           f"{tmp_path / 'b' / 'results.json'}: Operation not permitted")


# ---- 2: a synthetic preset's cache that cannot be written --------------------------------
def test_synthetic_root_that_cannot_be_written_is_a_named_error_before_generating(
        immutable, capsys, monkeypatch):
    from sparsegraph.datasets import DatasetUnavailable, synthetic

    monkeypatch.setattr(synthetic, "generate", _never)
    with pytest.raises(DatasetUnavailable, match=r"load_synthetic: cannot write the generated "
                       r"pubmed arrays to .*ro/synthetic/pubmed-seed0-v2 \(Operation not "
                       r"permitted\); make it writable, or point `root` at a writable folder"):
        synthetic.load_synthetic("pubmed", immutable)
    assert run(["train", "--dataset", "synthetic:pubmed", "--root", str(immutable),
                *KARATE_ONLY]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith("sparsegraph train: load_synthetic: cannot write the generated "
                           f"pubmed arrays to {immutable}/synthetic/")
    assert line.endswith("point --root at a writable folder")


# ---- 3: `~` in path options --------------------------------------------------------------
def test_tilde_in_path_options_is_the_home_folder_for_the_check_and_the_write(
        tmp_path, capsys, monkeypatch):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(cwd)
    assert run([*SPMM_TINY, "--out=~/bench"]) == 0
    assert run(["train", *KARATE_ONLY, "--json=~/r.json"]) == 0
    assert run(["graph", "--out=~/g.dot"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in home.iterdir()) == ["bench", "g.dot", "r.json"]
    assert (home / "bench" / "results.json").is_file()
    assert list(cwd.iterdir()) == []  # no literal ./~


# ---- 4: `bench models` refuses graph-classification datasets up front ------------------
def test_bench_models_refuses_a_graph_classification_dataset_up_front(tmp_path, capsys,
                                                                       monkeypatch):
    from sparsegraph.cli import bench_models

    monkeypatch.setattr(bench_models, "_one_in_child", _never)
    assert run(["bench", "models", "--models", "gcn", "--datasets", "karate", "mutag",
                "--epochs", "1", "--out", str(tmp_path / "b"), "--quiet"]) == 2
    assert err_lines(capsys) == [
        "sparsegraph bench models: mutag is a graph-classification dataset; the benchmarked "
        "models classify nodes (cora, citeseer, synthetic:..., ...); drop it from --datasets"]
    assert not (tmp_path / "b").exists()


# ---- 5, 6: the benchmark scripts ---------------------------------------------------------
def test_bench_static_refuses_an_unknown_variant(capsys, monkeypatch):
    module = script("bench_static")
    monkeypatch.setattr(module.subprocess, "run", _never)
    line = refused(lambda: module.main(["--models", "gcn", "--datasets", "karate", "--steps",
                                        "1", "--variants", "static-no-fusee", "static"]), capsys)
    assert "argument --variants: unknown variant 'static-no-fusee' (did you mean " \
           "'static-no-fuse'?)" in line
    assert module.parse(["--variants", "eager", "static-none", "static-no-fuse"]).variants == [
        "eager", "static-none", "static-no-fuse"]


@pytest.mark.parametrize("name, argv, says", [
    ("bench_models", ["--models", "nosuch"], "argument --models: invalid choice: 'nosuch'"),
    ("bench_models", ["--epochs", "0"], "argument --epochs: expected an int >= 1 (got 0)"),
    ("bench_models", ["--datasets", "mutag"], "mutag is a graph-classification dataset"),
    ("bench_models", ["--datasets", "cora", "--json", "/nonexistent/x.json"],
     "--json: the folder of /nonexistent/x.json does not exist"),
    ("bench_static", ["--steps", "0"], "argument --steps: expected an int >= 1 (got 0)"),
    ("bench_static", ["--models", "nosuch"], "argument --models: invalid choice: 'nosuch'"),
    ("bench_spmm_kernels", ["--repeat", "0"], "argument --repeat: expected an int >= 1"),
    ("bench_spmm_kernels", ["--kernels", "nosuch"],
     "argument --kernels: unknown kernel(s) 'nosuch' (registered: "),
    ("bench_spmm_kernels", ["--nodes", "10", "--edges", "101"],
     "argument --edges: expected at most --nodes^2 = 100 (got 101)"),
    ("bench_negative_sampling", ["--nodes", "10", "--edges", "100"],
     "argument --edges: expected at most N (N - 1) / 2 = 45 for --nodes 10 (got 100)"),
    ("bench_sampling", ["--kernel", "nosuch"],
     "argument --kernel: kernels.use: op 'sample_neighbors' has no kernel 'nosuch'"),
    ("bench_sampling", ["--json", f"{UNWRITABLE}/s.json"],
     f"--json: the folder of {UNWRITABLE}/s.json is not writable"),
    ("bench_overhead", ["--json", f"{UNWRITABLE}/o.json"],
     f"--json: the folder of {UNWRITABLE}/o.json is not writable"),
    ("bench_synthetic", ["--out", f"{UNWRITABLE}/syn"],
     f"--out: {UNWRITABLE}/syn cannot be created: {UNWRITABLE} is not writable"),
])
def test_benchmark_scripts_refuse_bad_values_before_any_work(name, argv, says, capsys,
                                                            monkeypatch):
    module = script(name)
    if hasattr(module, "subprocess"):  # no child process
        monkeypatch.setattr(module.subprocess, "run", _never)
    if hasattr(module, "synthetic"):  # no preset generated or loaded
        monkeypatch.setattr(module.synthetic, "generate", _never)
        monkeypatch.setattr(module.synthetic, "load_synthetic", _never)
    if name == "bench_spmm_kernels":
        monkeypatch.setattr(module, "spmm_rows", _never)
    assert says in refused(lambda: module.main(argv), capsys)


def test_bench_negative_sampling_runs_at_the_densest_allowed_graph(capsys):
    script("bench_negative_sampling").main(["--nodes", "10", "--edges", "45", "--repeat", "1"])
    assert capsys.readouterr().out.startswith("N = 10, E = K = 45: negative_sampling")


@pytest.mark.parametrize("name, argv", [
    ("bench_models", ["--models", "gcn", "--datasets", "cora", "--epochs", "1"]),
    ("bench_static", ["--models", "gcn", "--datasets", "cora", "--steps", "1", "--variants",
                      "eager"]),
])
def test_benchmark_scripts_show_the_failing_child_s_own_message(name, argv, capsys,
                                                                monkeypatch):
    module = script(name)
    reason = "bench: missing ind.cora.x in /somewhere/planetoid; download it from ..."

    def child(cmd, **kwargs):
        assert "check" not in kwargs  # (check=True hid the child's stderr)
        return subprocess.CompletedProcess(cmd, 2, stdout="", stderr=reason + "\n")

    monkeypatch.setattr(module.subprocess, "run", child)
    assert module.main(argv) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[0] == reason and "failed (exit status 2)" in err
    assert "Traceback" not in err and "CalledProcessError" not in err


def test_bench_models_script_child_names_the_missing_files(tmp_path, capsys):
    # the real child, on a root without cora: its one line, not a traceback
    assert script("bench_models").main(["--single", "gcn", "cora", "--epochs", "1", "--root",
                                        str(tmp_path)]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith("bench_models.py: missing ind.cora.x")
    assert f"run `sparsegraph train --dataset cora --root {tmp_path}` once" in line


# ---- 7: out of memory in `train` -------------------------------------------------------
def test_train_out_of_memory_names_the_sizes_asked_for(capsys):
    # 10**13 x 34 float32 weights: more than any address space, refused at once by numpy
    assert run(["train", "--dataset", "karate", "--hidden", str(10**13), *KARATE_ONLY]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith("sparsegraph train: out of memory training --model gcn on karate "
                           "with --hidden 10000000000000 (Unable to allocate ")
    assert line.endswith("); pick smaller sizes")


def test_train_out_of_memory_of_a_gat_names_its_heads_too(capsys, monkeypatch):
    from sparsegraph.cli import train

    def oom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(train, "run_node_classification", oom)
    assert run(["train", "--dataset", "karate", "--model", "gat", "--heads", "3",
                *KARATE_ONLY]) == 2
    assert err_lines(capsys) == ["sparsegraph train: out of memory training --model gat on "
                                 "karate with --hidden 8, --heads 3 (MemoryError); pick "
                                 "smaller sizes"]


# ---- 8: --help descriptions are whole sentences ------------------------------------------
@pytest.mark.parametrize("name", ["bench_models", "bench_negative_sampling", "bench_static",
                                  "bench_spmm_kernels", "bench_sampling", "bench_overhead",
                                  "bench_products", "bench_synthetic"])
def test_script_help_description_is_a_complete_sentence(name, capsys):
    module = script(name)
    first = module.__doc__.splitlines()[0]
    assert first.endswith("."), first
    assert module.__doc__.splitlines()[1] == "", "the first line must not wrap"
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    out = "".join(capsys.readouterr().out.split())  # (argparse re-wraps it, at hyphens too)
    assert "".join(first.split()) in out


def test_no_write_check_file_is_left_behind(tmp_path, capsys):
    assert run([*SPMM_TINY, "--out", str(tmp_path / "b")]) == 0
    assert run(["train", *KARATE_ONLY, "--json", str(tmp_path / "r.json")]) == 0
    capsys.readouterr()
    leftovers = [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert leftovers == [] and os.listdir(tmp_path) != []
