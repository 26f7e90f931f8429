"""The `sparsegraph` command line."""

import re
import subprocess
import sys

import pytest

from sparsegraph.cli import main
from tests.cli_help import help_text as _help
from tests.cli_help import options as _options


def test_info_lists_versions_devices_and_kernels(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "scipy" in out and "numba" in out
    assert "cpu" in out and "cuda" in out
    assert "add " in out and "generic" in out  # kernels per op


def _info(spec: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparsegraph", "info"], capture_output=True,
                          text=True, env={"SPARSEGRAPH_KERNELS": spec, "PATH": "/usr/bin:/bin"})


def test_info_with_a_cpu_only_kernel_forced_shows_the_choice_and_na_for_cuda():
    proc = _info("spmm=numba,sddmm=generic")  # the README's example; cuda has no numba kernel
    assert proc.returncode == 0, proc.stderr
    assert "forced: spmm=numba,sddmm=generic" in proc.stdout
    spmm = next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["spmm"])
    assert "cpu/csr: *numba" in spmm and "(forced kernel n/a here)" in spmm
    sddmm = next(line for line in proc.stdout.splitlines() if line.split()[:1] == ["sddmm"])
    assert "*generic" in sddmm


@pytest.mark.parametrize("spec, message", [
    ("bogus", "SPARSEGRAPH_KERNELS: no kernel is named 'bogus'"),
    ("spmmm=scipy", "SPARSEGRAPH_KERNELS: no op is named 'spmmm' (did you mean 'spmm'"),
    ("spmm=", "SPARSEGRAPH_KERNELS: expected entries 'kernel' or 'op=kernel' separated by "
              "commas (got 'spmm=')"),
    ("=numba", "(got '=numba')"),
])
def test_info_with_a_bad_kernels_variable_says_so_in_one_line_and_exits_2(spec, message):
    proc = _info(spec)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "sparsegraph", "info"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "kernels (" in proc.stdout


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "nosuch"], "unknown dataset 'nosuch'"),
    (["--lr", "-1"], "argument --lr: expected a number > 0"),
    (["--lr", "inf"], r"argument --lr: expected a number > 0 \(got inf, which is not a finite"),
    (["--weight-decay", "inf"], "argument --weight-decay: expected a number >= 0 .*not a finite"),
    (["--weight-decay=-inf"], "argument --weight-decay: expected a number >= 0"),
    (["--lr", "nan"], "argument --lr: expected a number > 0"),
    (["--dropout", "1.5"], r"argument --dropout: expected a probability in \[0, 1\)"),
    (["--epochs", "0"], "argument --epochs: expected an int >= 1"),
    (["--runs", "-1"], "argument --runs: expected an int >= 1"),
    (["--model", "gat", "--heads", "0"], "argument --heads: expected an int >= 1"),
    (["--model", "gin", "--folds", "1"], "argument --folds: expected an int >= 2"),
    (["--json", "/nonexistent-dir/x.json"], "--json: the folder of"),
])
def test_train_refuses_bad_values_in_one_line(flags, message, capsys):
    try:
        rc = main(["train", *flags, "--quiet"])
    except SystemExit as exc:  # argparse's own checks exit from inside
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.search(message, err[-1]), err
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize("flags, message", [
    (["--seed", "-1"], "argument --seed: expected an int >= 0"),
    (["--model", "gin", "--patience", "5"], r"--patience: not used by --model gin .*drop it"),
    (["--model", "sgc", "--dropout", "0.5", "--hidden", "8"],
     r"--hidden, --dropout: not used by --model sgc .*drop them"),
])
def test_train_refuses_flags_the_model_does_not_take(flags, message, capsys):
    try:
        rc = main(["train", *flags, "--quiet"])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.search(message, err[-1]), err


def test_train_refuses_a_json_directory_before_training(tmp_path, capsys):
    rc = main(["train", "--epochs", "1", "--runs", "1", "--quiet", "--json", str(tmp_path)])
    assert rc == 2
    captured = capsys.readouterr()
    assert re.search(r"--json: .* is a directory", captured.err.strip().splitlines()[-1])
    assert "test accuracy" not in captured.out  # refused before the training
    assert list(tmp_path.iterdir()) == []  # nothing half-written beside it either


def test_train_on_a_dataset_without_a_split_says_so(data_root, capsys):
    rc = main(["train", "--dataset", "cora_ml", "--epochs", "1", "--runs", "1", "--quiet",
               "--root", str(data_root), "--no-download"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sparsegraph train: cora_ml has no stored train/val/test split; pick a "
                   "dataset that has one (cora, citeseer, pubmed, actor, texas, ...)"]


def _gin_json(tmp_path, data_root, *flags):
    import json

    out = tmp_path / f"gin{len(list(tmp_path.iterdir()))}.json"
    rc = main(["train", "--dataset", "mutag", "--model", "gin", "--epochs", "2", "--runs", "1",
               "--folds", "2", "--hidden", "8", "--quiet", "--root", str(data_root),
               "--no-download", "--json", str(out), *flags])
    assert rc == 0
    return json.loads(out.read_text())


def test_gin_json_records_what_ran(tmp_path, data_root):
    res = _gin_json(tmp_path, data_root, "--weight-decay", "0.5")
    assert res["config"]["weight_decay"] == 0.5 and "patience" not in res["config"]
    assert res["epoch_time_median_s"] > 0 and res["val_acc_mean"] == res["test_acc_mean"]
    assert res["test_acc_std"] > 0  # the spread over the folds, not over the single run


def test_missing_data_with_no_download_names_the_flag(tmp_path, capsys):
    rc = main(["train", "--dataset", "cora", "--root", str(tmp_path), "--no-download",
               "--epochs", "1", "--runs", "1", "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "(or drop --no-download)" in err[0]
    assert "download=True" not in err[0]


# ---- audit_readme3 F2, F3, F5, F6 -----------------------------------------------------------
def test_train_help_lists_every_models_defaults_from_DEFAULTS(capsys, monkeypatch):
    from sparsegraph.cli import train

    monkeypatch.setitem(train.DEFAULTS, "gcn", {**train.DEFAULTS["gcn"], "lr": 0.0125})
    text = _help(["train", "--help"], capsys, monkeypatch)
    assert "paper's value for the model" not in text
    assert text.count("default: the model's (see below)") == len(train._FLAGS)
    table = text[text.index("\n  ", text.index("defaults per model")):].strip("\n")
    table = table.split("\n\n")[0].splitlines()  # the results paragraph follows the table
    cells = [re.split(r" {2,}", r.strip()) for r in table]
    header, rows = cells[0], {r[0]: r[1:] for r in cells[1:]}
    assert header == list(train.DEFAULTS)
    for model, cfg in train.DEFAULTS.items():
        for flag in train._FLAGS:
            cell = rows[f"--{flag}"][header.index(model)]
            key = flag.replace("-", "_")
            if key not in cfg:
                assert cell == "-", (model, flag)
            else:
                assert cell.rstrip("*") == train._value(cfg[key]), (model, flag)
                assert cell.endswith("*") == ((model, key) in train.PYG_VALUES)
    assert rows["--lr"][0] == "0.0125"  # generated, not written out
    assert rows["K (fixed)"][header.index("appnp")] == "10"  # settings that are not flags too
    assert rows["--weight-decay"][header.index("appnp")] == "0.0005*"  # PyG's, marked


def test_train_help_names_only_the_datasets_train_accepts(capsys, monkeypatch):
    from sparsegraph.datasets.registry import known_datasets, without_split

    text = _help(["train", "--help"], capsys, monkeypatch)
    line = _options(text)["--dataset"]
    accepted, _, refused = line.partition("; refused, no stored train/val/test split: ")
    names = accepted.removeprefix("--dataset DATASET").strip().split(", ")
    assert names == [n for n in known_datasets() if not without_split(n)]
    assert "cora_ml" not in names and refused.startswith("cora_ml (default: karate)")


def test_train_refuses_a_dataset_without_a_split_before_reading_it(tmp_path, capsys):
    # no files at all: the refusal comes from the same check as the help's list, not from
    # loading the graph and finding no masks
    rc = main(["train", "--dataset", "cora_ml", "--quiet", "--root", str(tmp_path),
               "--no-download"])
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "sparsegraph train: cora_ml has no stored train/val/test split; pick a dataset that "
        "has one (cora, citeseer, pubmed, actor, texas, ...)"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="F_SETPIPE_SZ is Linux's")
def test_output_into_a_closed_pipe_ends_quietly_with_the_sigpipe_status(capsys):
    # a 4 KiB pipe: `head -1` takes at most one pipe's worth and the pipe holds one more, so
    # info's output (over 8 KiB) cannot all be written before the reader is gone
    assert main(["info"]) == 0
    full = capsys.readouterr().out
    assert len(full.encode()) > 2 * 4096 + 1024
    code = ("import fcntl, sys; fcntl.fcntl(1, fcntl.F_SETPIPE_SZ, 4096); "
            "from sparsegraph.cli import main; sys.exit(main(['info']))")
    proc = subprocess.run(["bash", "-c", 'set -o pipefail; "$0" -c "$1" | head -1',
                           sys.executable, code], capture_output=True, text=True, timeout=120)
    assert proc.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert proc.stdout == full.splitlines(keepends=True)[0]
    assert proc.returncode == 141  # 128 + SIGPIPE, as git's status in `git log | head -1`


def test_graph_help_says_what_seed_seeds(capsys, monkeypatch):
    text = _help(["graph", "--help"], capsys, monkeypatch)
    assert re.fullmatch(r"--seed SEED +seed of the initial weights .*\(default: 0\)",
                        _options(text)["--seed"])
