"""The `sparsegraph` command line."""

import re
import subprocess
import sys

import pytest

from sparsegraph.cli import main


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
