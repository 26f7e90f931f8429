"""The `sparsegraph` command line."""

import subprocess
import sys

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
