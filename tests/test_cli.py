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


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "sparsegraph", "info"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert "kernels (" in proc.stdout


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "nosuch"], "unknown dataset 'nosuch'"),
    (["--lr", "-1"], "argument --lr: expected a number > 0"),
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
